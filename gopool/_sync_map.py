"""Go's ``sync.Map``, re-exported as :class:`gopool.sync.Map`.

Written after Go's ``src/sync/map.go`` for its contract (Go 1.24 keeps the
same contract over ``internal/sync``'s hash-trie map). The mechanism is
simpler than Go's read-mostly split: one ``dict`` and one lock per map.

Invariants (each holds whenever ``_lock`` is free):

* Every change of the map's contents is made with ``_lock`` held, as one
  ``dict`` operation (a set, a delete, or replacing ``_d`` by an empty dict
  in ``clear``). Methods that must decide before they change anything
  (``load_or_store``, ``swap``, ``compare_and_*``) decide and change in one
  hold of the lock, so every method is atomic with respect to every other.
* Reads that are a single lookup (``load`` and the first look of the
  ``compare_and_*`` methods) take no lock: one ``dict`` lookup is atomic on
  every build (the GIL's; the free-threaded build's per-dict locking), and
  each change is one such operation, so a lookup sees the map before or
  after any change.
* No user code runs with ``_lock`` held except the keys' ``__hash__`` and
  ``__eq__``, which therefore must not call back into this map. Values are
  compared with ``==`` outside the lock; the change is then made only if the
  key still maps to the very object that was compared (Go's
  ``tryCompareAndSwap`` works the same way, on pointers), else the
  comparison is made again with the newer value.
* ``range`` copies the keys present at its start (one hold of the lock) and
  looks each one up again just before calling ``f``, with no lock held while
  ``f`` runs. So it visits each key at most once, skips keys deleted before
  their turn, shows each key's value from some moment during the call, and
  does not see keys added during it; ``f`` may call any method of the map.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Map"]

K = TypeVar("K")
V = TypeVar("V")

_MISSING: Any = object()
"""The result of a lookup of an absent key (``None`` may be a stored value)."""


class Map(Generic[K, V]):
    """Go's ``sync.Map``: a map safe for use by any number of threads without more locking.

    Keys are compared as a ``dict`` compares them (``__hash__`` and
    ``__eq__``, which must not use this map); values with ``==``. Every
    method is atomic with respect to every other, and none blocks except
    for the instant another thread holds the map's lock. The zero map is
    empty, as ``Map()`` is.

        >>> m = Map[str, int]()
        >>> m.load_or_store("a", 1)
        (1, False)
        >>> m.load_or_store("a", 2)
        (1, True)
        >>> m.compare_and_swap("a", 1, 3)
        True
        >>> m.load("a")
        (3, True)
        >>> m.load("b")
        (None, False)
    """

    # _lock guards every change of _d and of the dict it refers to.
    __slots__ = ("__weakref__", "_d", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._d: dict[K, V] = {}

    def load(self, key: K) -> tuple[V | None, bool]:
        """``(value, True)`` if ``key`` is present, else ``(None, False)``."""
        value = self._d.get(key, _MISSING)
        if value is _MISSING:
            return None, False
        return value, True

    def store(self, key: K, value: V) -> None:
        """Set the value for ``key``."""
        with self._lock:
            self._d[key] = value

    def load_or_store(self, key: K, value: V) -> tuple[V, bool]:
        """The value for ``key`` if present, else store ``value``: ``(actual, loaded)``.

        ``loaded`` is True if the value was already there, False if
        ``value`` was stored by this call. Of many threads calling it at once
        for an absent key, exactly one stores; all get the same ``actual``.
        """
        actual = self._d.get(key, _MISSING)
        if actual is not _MISSING:
            return actual, True
        with self._lock:
            d = self._d
            actual = d.get(key, _MISSING)
            if actual is _MISSING:
                d[key] = value
                return value, False
        return actual, True

    def load_and_delete(self, key: K) -> tuple[V | None, bool]:
        """Delete ``key``'s entry: ``(previous value, True)``, or ``(None, False)`` if absent."""
        with self._lock:
            value = self._d.pop(key, _MISSING)
        if value is _MISSING:
            return None, False
        return value, True

    def delete(self, key: K) -> None:
        """Delete ``key``'s entry, if any."""
        with self._lock:
            self._d.pop(key, None)

    def swap(self, key: K, value: V) -> tuple[V | None, bool]:
        """Set ``key``'s value: ``(previous, True)``, or ``(None, False)`` if it was absent."""
        with self._lock:
            d = self._d
            previous = d.get(key, _MISSING)
            d[key] = value
        if previous is _MISSING:
            return None, False
        return previous, True

    def compare_and_swap(self, key: K, old: V, new: V) -> bool:
        """Set ``key``'s value to ``new`` if it is present and ``== old``; whether it did.

        An absent key is never swapped, whatever ``old`` is (Go's rule).
        """
        return self._compare_and(key, old, new, delete=False)

    def compare_and_delete(self, key: K, old: V) -> bool:
        """Delete ``key``'s entry if it is present and its value ``== old``; whether it did.

        An absent key returns False, even for ``old=None``.
        """
        return self._compare_and(key, old, None, delete=True)

    def _compare_and(self, key: K, old: V, new: Any, *, delete: bool) -> bool:
        while True:
            current = self._d.get(key, _MISSING)
            if current is _MISSING or not current == old:
                return False
            with self._lock:
                d = self._d
                if d.get(key, _MISSING) is current:
                    if delete:
                        del d[key]
                    else:
                        d[key] = new
                    return True
            # The value changed while we compared: compare the newer one.

    def range(self, f: Callable[[K, V], bool]) -> None:
        """Call ``f(key, value)`` for each entry until ``f`` returns a false value.

        Not a snapshot (Go's rule): each key present when ``range`` starts is
        visited at most once, with its value at that moment, unless deleted
        first; keys added meanwhile are not visited. No lock is held while
        ``f`` runs, so ``f`` may call any method of the map. Raises
        ``TypeError`` if ``f`` is not callable, and whatever ``f`` raises.
        """
        if not callable(f):
            raise TypeError(f"sync: Map.range: {f!r} is not callable")
        with self._lock:
            keys = list(self._d)
        for key in keys:
            value = self._d.get(key, _MISSING)
            if value is not _MISSING and not f(key, value):
                return

    def clear(self) -> None:
        """Delete every entry (Go 1.23's ``Map.Clear``)."""
        with self._lock:
            if self._d:
                self._d = {}

    def __repr__(self) -> str:
        return f"<Map len={len(self._d)} at {id(self):#x}>"
