r"""The receiving end of a channel that its owner alone sends on and closes (Go's ``<-chan T``).

A timer's channel and a context's done channel are :class:`RecvOnlyChan`\s:
a small type in front of a plain :class:`~gopool.chan.Chan` that the owner
(the timer, the context) keeps to itself. Receiving goes through the
channel's own paths, so blocking, timeouts, ``select``, the async forms and
every error are those of a ``Chan``; there is no ``send`` or ``close`` to
call. ``select`` takes ``ro.recv`` and ``ro.recv_ok`` as cases on the
channel behind (:mod:`gopool._select`), the one protocol for every
receive-only channel; a parked receive names the receive-only channel, not
the one behind it, to :mod:`gopool.debug`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._duration import Timeout
from .chan import Chan, _AsyncRange

__all__ = ["ReceiveOnlyError", "RecvOnlyChan"]

T = TypeVar("T")


class ReceiveOnlyError(TypeError, AttributeError):
    """``send`` or ``close`` asked of a receive-only channel (a compile error in Go).

    A ``TypeError`` (the operation does not fit the channel's kind) and an
    ``AttributeError`` (the channel has no such method: ``hasattr`` is
    False, so it is no :class:`SendChan`).
    """


class RecvOnlyChan(Generic[T]):
    """The receiving end of a channel that only its owner sends on and closes (``<-chan T``).

    A timer's channel and a context's done channel are of this kind: the
    receiving half of :class:`Chan`'s interface (``recv``, ``recv_ok``,
    iteration, ``len``, ``cap``, ``closed``, ``statistics``), with the same
    blocking, timeouts and errors, and no ``send`` or ``close`` at all
    (asking for them raises :class:`ReceiveOnlyError`). Its ``recv`` and
    ``recv_ok`` are ``select`` cases, performed on the channel behind it.

    A subclass may change what it reports (``len``, ``cap``, ``repr``) but
    not ``recv`` or ``recv_ok``, which ``select`` recognises. It sets
    ``_select_cache = False`` if it must be collectable as soon as it is
    dropped (``select`` then never keeps its cases).
    """

    __slots__ = ("__weakref__", "_chan")

    _select_cache = True

    def __init__(self, ch: Chan[T]) -> None:
        self._chan = ch

    # Receives take the channel's own fast path, and past it name this
    # channel (not the one behind it) as what a parked thread waits on.

    def recv(self, *, timeout: Timeout = None) -> T | None:
        """Receive, as :meth:`Chan.recv`: the value, or None once closed and drained."""
        ch = self._chan
        with ch._lock:
            if ch._buf and not ch._sendq:
                return ch._buf.popleft()
        return ch._recv(timeout, self)[0]

    def recv_ok(self, *, timeout: Timeout = None) -> tuple[T | None, bool]:
        """Receive, as :meth:`Chan.recv_ok`: ``(value, True)``, or ``(None, False)`` once closed."""
        ch = self._chan
        with ch._lock:
            if ch._buf and not ch._sendq:
                return ch._buf.popleft(), True
        return ch._recv(timeout, self)

    def __iter__(self) -> Iterator[T]:
        """Receive until closed and drained, as iterating a :class:`Chan` does."""
        return self._chan._iterate(self)

    async def async_recv(self) -> T | None:
        """Receive from a task, as :meth:`Chan.async_recv`."""
        return (await self.async_recv_ok())[0]

    async def async_recv_ok(self) -> tuple[T | None, bool]:
        """Receive from a task, as :meth:`Chan.async_recv_ok`."""
        ch = self._chan
        with ch._lock:
            if ch._buf and not ch._sendq:
                return ch._buf.popleft(), True
        return await ch._async_recv(self)

    def __aiter__(self) -> AsyncIterator[T]:
        """Receive from a task until closed and drained: ``async for v in ch``."""
        return _AsyncRange(self._chan, self)

    def __len__(self) -> int:
        return len(self._chan)

    def __bool__(self) -> bool:
        return True

    @property
    def cap(self) -> int:
        """The capacity of the channel behind it."""
        return self._chan.cap

    @property
    def closed(self) -> bool:
        """Whether its owner has closed it."""
        return self._chan.closed

    def statistics(self) -> dict[str, int | bool]:
        """A snapshot, as :meth:`Chan.statistics`, with ``len`` and ``cap`` as reported here."""
        stats = self._chan.statistics()
        stats["len"] = len(self)
        stats["cap"] = self.cap
        return stats

    if not TYPE_CHECKING:  # no such methods, for type checkers and static lookups alike

        def __getattr__(self, name: str) -> Any:
            if name in ("send", "close"):
                raise ReceiveOnlyError(f"{name} on a receive-only channel ({self!r})")
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    _label = "receive-only Chan"

    def __repr__(self) -> str:
        s = self._chan.statistics()
        waiting = f" receivers_waiting={s['receivers_waiting']}" if s["receivers_waiting"] else ""
        state = "closed" if s["closed"] else "open"
        return f"<{self._label} {state}{waiting} at {id(self):#x}>"
