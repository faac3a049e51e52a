"""Go's ``sync/atomic`` types (Go 1.23): ``Int32``, ``Int64``, ``Uint32``, ``Uint64``,
``Uintptr``, ``Bool``, ``Value`` and ``Pointer``.

Written after Go's ``src/sync/atomic/type.go`` and ``value.go``. Go's
function forms (``atomic.AddUint64(&n, 1)``) port to these types
(``n = atomic.Uint64()``, ``n.add(1)``); as Go 1.19 advises, the types are
the way to write new code.

Mechanism: each object has a lock of its own and one field, ``_v``, that
holds the current value. A lock per object was measured against a small
table of striped locks picked by ``id()``: the striped table saves ~60 bytes
per object but costs more per call (the ``id()`` and index), and these
methods run in hot loops.

Invariants of every type here (each holds whenever ``_lock`` is free):

* Every operation that writes ``_v`` (``store``, ``swap``,
  ``compare_and_swap``, ``add``, ``and_``, ``or_``) holds ``_lock`` across
  its whole read-modify-write, and writes ``_v`` with one assignment. So the
  operations on one object are atomic with respect to each other, with or
  without the GIL.
* ``load`` reads ``_v`` without the lock. A single attribute read returns
  the whole reference that some write stored, on every build (under the
  GIL trivially; on free-threaded CPython attribute reads and writes are
  atomic per object), and what it refers to (an ``int``, a ``bool``, or the
  object a ``Value``/``Pointer`` holds) is never changed in place by this
  module. So a load sees the value before or after any write, never a torn
  one: it is linearizable without taking the lock.
* An integer type's ``_v`` is always within the type's range: every ``int``
  argument is first taken modulo ``2**bits`` (two's complement for the
  signed types) and every result wraps as in Go.
* A ``Value``'s ``_v`` is ``None`` until the first store, and from then on
  always of exactly the type of the first value stored.

Validation (Go has no implicit conversions): an integer method's argument
must be an ``int``; ``bool`` is refused (``TypeError``), other ``int``
subclasses (``IntEnum``) are taken as their ``int`` value. ``Bool`` takes
only ``bool``.
"""

from __future__ import annotations

import operator
import struct
import threading
from collections.abc import Callable
from typing import ClassVar, Generic, TypeVar

__all__ = [
    "Bool",
    "Int32",
    "Int64",
    "Pointer",
    "Uint32",
    "Uint64",
    "Uintptr",
    "Value",
]

T = TypeVar("T")

_POINTER_BITS = struct.calcsize("P") * 8


class _Cell:
    """The lock and the value field shared by every type; ``load`` reads the field."""

    # _lock guards every write of _v; reads need no lock (see the module docstring).
    __slots__ = ("_lock", "_v")

    _lock: threading.Lock
    _v: object

    def __repr__(self) -> str:
        return f"<atomic.{type(self).__name__} {self._v!r}>"


class _Integer(_Cell):
    """A fixed-width integer with Go's wrap-around; the subclasses fix the width."""

    __slots__ = ()

    _v: int
    # The range of the type: _MIN <= _v <= _MAX, and _MASK == _MAX - _MIN.
    _MIN: ClassVar[int]
    _MAX: ClassVar[int]
    _MASK: ClassVar[int]

    def __init_subclass__(cls, *, bits: int, signed: bool, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._MIN = -(1 << (bits - 1)) if signed else 0
        cls._MAX = cls._MIN + (1 << bits) - 1
        cls._MASK = (1 << bits) - 1

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._v = 0

    def _arg(self, x: object, method: str) -> int:
        """``x`` as an ``int`` of this type's range (the slow path of every argument)."""
        if not isinstance(x, int) or isinstance(x, bool):
            raise TypeError(
                f"atomic: {type(self).__name__}.{method}: argument must be an int, "
                f"not {type(x).__name__}"
            )
        return ((int(x) - self._MIN) & self._MASK) + self._MIN

    def load(self) -> int:
        """The current value. Never blocks."""
        return self._v

    def store(self, val: int) -> None:
        """Set the value to ``val`` (taken modulo the type's width).

        Raises ``TypeError`` if ``val`` is not an ``int`` (``bool`` included).
        """
        if type(val) is not int or not self._MIN <= val <= self._MAX:
            val = self._arg(val, "store")
        with self._lock:
            self._v = val

    def swap(self, new: int) -> int:
        """Set the value to ``new`` and return the previous one, in one atomic step.

        Raises ``TypeError`` if ``new`` is not an ``int``.
        """
        if type(new) is not int or not self._MIN <= new <= self._MAX:
            new = self._arg(new, "swap")
        with self._lock:
            old = self._v
            self._v = new
        return old

    def compare_and_swap(self, old: int, new: int) -> bool:
        """Set the value to ``new`` if it equals ``old``; whether it did, in one atomic step.

        Both arguments are taken modulo the type's width, so
        ``Uint32().compare_and_swap(-2**32, 1)`` swaps. Raises ``TypeError``
        if either is not an ``int``.
        """
        if type(old) is not int or not self._MIN <= old <= self._MAX:
            old = self._arg(old, "compare_and_swap")
        if type(new) is not int or not self._MIN <= new <= self._MAX:
            new = self._arg(new, "compare_and_swap")
        with self._lock:
            if self._v != old:
                return False
            self._v = new
        return True

    def add(self, delta: int) -> int:
        """Add ``delta`` (which may be negative) and return the new value, wrapping as Go does.

        An ``Int32`` holding ``2**31 - 1`` gives ``-2**31`` after ``add(1)``;
        ``add(-1)`` on a zero ``Uint64`` gives ``2**64 - 1``. Raises
        ``TypeError`` if ``delta`` is not an ``int``.
        """
        if type(delta) is not int:
            delta = self._arg(delta, "add")
        with self._lock:
            v = self._v + delta
            if not self._MIN <= v <= self._MAX:
                v = ((v - self._MIN) & self._MASK) + self._MIN
            self._v = v
        return v

    def and_(self, mask: int) -> int:
        """Replace the value by its bitwise AND with ``mask``; return the old value (Go 1.23).

        ``mask`` is taken modulo the type's width. Raises ``TypeError`` if it
        is not an ``int``.
        """
        return self._apply(operator.and_, mask, "and_")

    def or_(self, mask: int) -> int:
        """Replace the value by its bitwise OR with ``mask``; return the old value (Go 1.23).

        ``mask`` is taken modulo the type's width. Raises ``TypeError`` if it
        is not an ``int``.
        """
        return self._apply(operator.or_, mask, "or_")

    def _apply(self, op: Callable[[int, int], int], mask: int, method: str) -> int:
        if type(mask) is not int or not self._MIN <= mask <= self._MAX:
            mask = self._arg(mask, method)
        with self._lock:
            old = self._v
            # Two's complement values of one range stay in it under & and |.
            self._v = op(old, mask)
        return old


class Int32(_Integer, bits=32, signed=True):
    """Go's ``atomic.Int32``: an atomic ``int32``, zero at first.

    >>> n = Int32()
    >>> n.store(2**31 - 1)
    >>> n.add(1)
    -2147483648
    """

    __slots__ = ()


class Int64(_Integer, bits=64, signed=True):
    """Go's ``atomic.Int64``: an atomic ``int64``, zero at first.

    >>> ops = Int64()
    >>> for _ in range(3):
    ...     _ = ops.add(1)
    >>> ops.load()
    3
    """

    __slots__ = ()


class Uint32(_Integer, bits=32, signed=False):
    """Go's ``atomic.Uint32``: an atomic ``uint32``, zero at first."""

    __slots__ = ()


class Uint64(_Integer, bits=64, signed=False):
    """Go's ``atomic.Uint64``: an atomic ``uint64``, zero at first.

    >>> Uint64().add(-1) == 2**64 - 1
    True
    """

    __slots__ = ()


class Uintptr(_Integer, bits=_POINTER_BITS, signed=False):
    """Go's ``atomic.Uintptr``: an atomic unsigned integer of the platform's pointer width."""

    __slots__ = ()


class _Ref(_Cell, Generic[T]):
    """A reference swapped and compared by identity: Pointer's methods, and Bool's."""

    __slots__ = ()

    _v: T

    def load(self) -> T:
        """The current value. Never blocks."""
        return self._v

    def store(self, val: T) -> None:
        """Make ``val`` the current value."""
        with self._lock:
            self._v = val

    def swap(self, new: T) -> T:
        """Make ``new`` the current value and return the previous one, in one atomic step."""
        with self._lock:
            old = self._v
            self._v = new
        return old

    def compare_and_swap(self, old: T, new: T) -> bool:
        """Make ``new`` current if the current value is ``old`` (identity); whether it did."""
        with self._lock:
            if self._v is not old:
                return False
            self._v = new
        return True


class Bool(_Ref[bool]):
    """Go's ``atomic.Bool``: an atomic boolean, False at first.

    Every argument must be a ``bool`` (``TypeError`` otherwise); ``True`` and
    ``False`` being the only ones, comparing by identity is comparing values.
    """

    __slots__ = ()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._v = False

    def store(self, val: bool) -> None:
        """Set the value to ``val``."""
        _check_bool(val, "store")
        super().store(val)

    def swap(self, new: bool) -> bool:
        """Set the value to ``new`` and return the previous one, in one atomic step."""
        _check_bool(new, "swap")
        return super().swap(new)

    def compare_and_swap(self, old: bool, new: bool) -> bool:
        """Set the value to ``new`` if it is ``old``; whether it did, in one atomic step."""
        _check_bool(old, "compare_and_swap")
        _check_bool(new, "compare_and_swap")
        return super().compare_and_swap(old, new)


def _check_bool(x: object, method: str) -> None:
    if type(x) is not bool:
        raise TypeError(f"atomic: Bool.{method}: argument must be a bool, not {type(x).__name__}")


class Pointer(_Ref[T | None]):
    """Go's ``atomic.Pointer[T]``: an atomic reference to an object, ``None`` (nil) at first.

    Compares by identity (``is``), as Go compares pointers: ``compare_and_swap``
    swaps only if the current object *is* ``old``. Any object, ``None``
    included, may be stored. ``load``, ``store``, ``swap`` and
    ``compare_and_swap`` as Go's; none blocks but for the instant another
    thread holds the object's lock.

        >>> config = Pointer[dict[str, int]]()
        >>> first = {"workers": 4}
        >>> config.compare_and_swap(None, first)
        True
        >>> config.compare_and_swap({"workers": 4}, {"workers": 8})   # equal, not the same
        False
    """

    __slots__ = ()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._v = None


class Value(_Cell, Generic[T]):
    """Go's ``atomic.Value``: atomic load and store of a consistently typed value.

    Empty at first: :meth:`load` returns ``None`` until the first store. Every
    value stored must have exactly the type (``type(v) is``) of the first
    one, and ``None`` can never be stored; both raise as Go panics, with
    Go's texts:

    * ``ValueError("sync/atomic: store of nil value into Value")`` (``swap of
      nil value``, ``compare and swap of nil value`` for those methods);
    * ``TypeError("sync/atomic: store of inconsistently typed value into
      Value")`` (``swap of ...``, ``compare and swap of ...``);
    * ``TypeError("sync/atomic: compare and swap of inconsistently typed
      values")`` when ``compare_and_swap``'s ``old`` (not ``None``) and
      ``new`` differ in type.

        >>> v = Value[int]()
        >>> v.store(42)
        >>> v.swap(84)
        42
        >>> v.store("84")
        Traceback (most recent call last):
        ...
        TypeError: sync/atomic: store of inconsistently typed value into Value
    """

    __slots__ = ()

    _v: T | None

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._v = None

    def _put(self, val: T, what: str) -> T | None:
        """Store ``val`` after Go's checks; return the previous value. ``_lock`` held."""
        old = self._v
        if old is not None and type(val) is not type(old):
            raise TypeError(f"sync/atomic: {what} of inconsistently typed value into Value")
        self._v = val
        return old

    def load(self) -> T | None:
        """The value of the most recent store, or ``None`` if there was none. Never blocks."""
        return self._v

    def store(self, val: T) -> None:
        """Set the value to ``val``. Raises as the class docstring says."""
        if val is None:
            raise ValueError("sync/atomic: store of nil value into Value")
        with self._lock:
            self._put(val, "store")

    def swap(self, new: T) -> T | None:
        """Set the value to ``new``; return the previous one (``None`` if empty).

        Raises as the class docstring says.
        """
        if new is None:
            raise ValueError("sync/atomic: swap of nil value into Value")
        with self._lock:
            return self._put(new, "swap")

    def compare_and_swap(self, old: T | None, new: T) -> bool:
        """Set the value to ``new`` if the current value ``== old``; whether it did.

        On an empty ``Value``, ``compare_and_swap(None, new)`` stores ``new``
        and returns True, and any other ``old`` returns False; on a set one,
        ``old=None`` returns False. The comparison is ``==``, as Go compares
        interface values, and runs without the lock held (``__eq__`` may take
        its time or use this ``Value``); the swap happens only if the value
        compared is still the current one, else the comparison is made again
        with the newer value. Raises as the class docstring says.
        """
        if new is None:
            raise ValueError("sync/atomic: compare and swap of nil value into Value")
        if old is not None and type(old) is not type(new):
            raise TypeError("sync/atomic: compare and swap of inconsistently typed values")
        while True:
            cur = self._v
            if cur is not None:
                if type(new) is not type(cur):
                    raise TypeError(
                        "sync/atomic: compare and swap of inconsistently typed value into Value"
                    )
                if old is None or not cur == old:
                    return False
            elif old is not None:
                return False
            with self._lock:
                if self._v is cur:
                    self._v = new
                    return True
            # Changed while we compared: compare the newer value.
