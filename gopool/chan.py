"""Go channels for Python threads: ``Chan``, ``nilchan`` and receive-only channels.

Written the way Go's runtime writes them (``src/runtime/chan.go``): one
lock per channel, a :class:`~gopool._waiter.WaitQueue` of parked senders
and one of parked receivers, and a direct hand-off to a parked partner.
``select`` (in :mod:`gopool._select`) and ``go()`` (in
:mod:`gopool._goroutines`) are re-exported here, where Go keeps them.

Invariants of a channel (each holds whenever ``_lock`` is free):

* At least one of ``_sendq`` and ``_recvq`` holds no live waiter, except
  while a ``select`` has both a send and a receive case on this channel
  enqueued (it is never matched with itself: its own entries are published
  only after its own non-blocking pass found nothing ready).
* Buffered: ``len(_buf) > 0`` implies ``_recvq`` has no live waiter, and
  ``len(_buf) < _cap`` implies ``_sendq`` has no live waiter.
  Unbuffered: ``_buf`` is always empty.
* Once ``_closed`` is set it stays set, and both queues are empty: closing
  completes every parked waiter (receivers get ``(None, False)``, senders
  fail with :class:`ClosedChannelError`).
* A queue entry is ``(waiter, case_index, value_to_send)``. An entry whose
  waiter is already claimed is stale (its select completed elsewhere) and is
  dropped by whoever dequeues it; its owner removes the rest of its entries.

Operations follow Go's order: closed checks, then the fast path (a parked
partner: hand off directly and wake it; room or items in the buffer: copy),
then the blocking path (:func:`~gopool._waiter.block`: poll once more and
publish a waiter under the lock, release it, park, and read the outcome
the partner wrote into the waiter). The partner, not the parked thread,
dequeues the waiter, so later operations find nobody waiting and skip the
wake-up.

Lock order: a ``select`` that must lock several channels at once locks them
in ascending ``id()`` order, each channel once, so two selects (or a select
and a ``close``) can never deadlock each other. A waiter's own locks are
only ever taken after a channel lock, or with no channel lock held.

A :class:`RecvOnlyChan` (a timer's channel, a context's done channel) is
the receiving end of a channel its owner alone sends on and closes; its
``recv``/``recv_ok`` are ``select`` cases on the channel behind it.

For :mod:`gopool.debug`: a parked operation's waiter says what it waits on
(``("chan receive", ch)``, ``("select", cases)``...); the fast paths, which
never park, pay nothing for it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Any, Generic, Protocol, TypeVar, cast, runtime_checkable

from ._checks import check_int
from ._duration import Timeout
from ._duration import optional_seconds as _seconds
from ._goroutines import go
from ._panic import GoroutineError, set_panic_mode
from ._waiter import ThreadWaiter, Waiter, WaitQueue, block, refuse_in_loop, wake_all

__all__ = [
    "Chan",
    "ClosedChannelError",
    "GoroutineError",
    "ReceiveOnlyError",
    "RecvChan",
    "RecvOnlyChan",
    "SendChan",
    "async_select",
    "default",
    "go",
    "nilchan",
    "select",
    "set_panic_mode",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
T_contra = TypeVar("T_contra", contravariant=True)



def _handed(got: tuple[T, bool, Waiter | None]) -> tuple[T, bool]:
    """A receive's ``(value, ok)`` from ``_poll_recv``, having woken the sender it took from."""
    sender = got[2]
    if sender is not None:
        sender.wake()
    return got[0], got[1]


class ClosedChannelError(RuntimeError):
    """Send on a closed channel, or close of a closed or nil channel (Go panics)."""


class Chan(Generic[T]):
    """A Go channel: ``make(chan T, size)``.

    ``size == 0`` (the default) makes an unbuffered channel: a ``send``
    returns only once a receiver has taken the value. A buffered channel
    blocks a sender only while its buffer is full and a receiver only while
    it is empty. Values are delivered in FIFO order. Any number of threads
    may send, receive and close concurrently.

    Every blocking operation takes ``timeout=`` (seconds or a ``timedelta``;
    not in Go, for scripts): on expiry it raises the built-in
    ``TimeoutError`` having sent or received nothing. ``timeout=0`` makes it
    non-blocking. A blocked operation costs no CPU and is interrupted by
    ``KeyboardInterrupt`` in the main thread, withdrawing cleanly.

    Raises ``ValueError`` for a negative size, ``TypeError`` for a size that
    is not an ``int``.
    """

    # _lock guards every other field.
    __slots__ = ("__weakref__", "_buf", "_cap", "_closed", "_lock", "_recvq", "_sendq")

    def __init__(self, size: int = 0) -> None:
        check_int(size, "makechan: size")
        if size < 0:
            raise ValueError(f"makechan: size out of range ({size})")
        self._lock = threading.Lock()
        self._cap = size
        self._buf: deque[T] = deque()
        self._closed = False
        self._recvq = WaitQueue()
        self._sendq = WaitQueue()

    # -- the fast paths, shared by the operations and select; _lock held --

    def _poll_send(self, value: Any) -> Waiter | bool:
        """Send without blocking: the woken receiver, True if buffered, False if not ready."""
        if self._closed:
            raise ClosedChannelError("send on closed channel")
        recvq = self._recvq
        while recvq:  # WaitQueue.hand_off, inlined: every hand-off's path
            w, index, _ = recvq.popleft()
            if w.claim():
                w.index = index
                w.value = value
                w.ok = True
                return w
        if len(self._buf) < self._cap:
            self._buf.append(value)
            return True
        return False

    def _poll_recv(self) -> tuple[T | None, bool, Waiter | None] | None:
        """Receive without blocking: ``(value, ok, sender to wake)``, or None if not ready."""
        sendq = self._sendq
        while sendq:  # WaitQueue.hand_off, inlined: every hand-off's path
            w, index, value = sendq.popleft()
            if not w.claim():
                continue  # stale: its select completed elsewhere
            w.ok = True
            w.index = index
            if self._cap:
                # The buffer is full: take its head, and the sender's value
                # goes to its tail, keeping FIFO order.
                buf = self._buf
                buf.append(value)
                value = buf.popleft()
            return value, True, w
        if self._buf:
            return self._buf.popleft(), True, None
        if self._closed:
            return None, False, None
        return None

    def _send_or_publish(self, w: Waiter, value: Any) -> Waiter | bool:
        """:func:`~gopool._waiter.block`'s attempt for a send; ``_lock`` held."""
        done = self._poll_send(value)
        if done is False:
            self._sendq.append((w, 0, value))  # WaitQueue.publish, inlined
            return False
        w.claim()
        w.ok = True
        return done

    def _recv_or_publish(self, w: Waiter, _: object) -> Waiter | bool:
        """:func:`~gopool._waiter.block`'s attempt for a receive; ``_lock`` held."""
        got = self._poll_recv()
        if got is None:
            self._recvq.append((w, 0, None))  # WaitQueue.publish, inlined
            return False
        w.claim()
        w.value, w.ok, sender = got
        return True if sender is None else sender

    # -- operations --

    # The fast paths below are inlined into each public method (a frame per
    # operation is a measurable share of its cost), and every lock is taken
    # with ``with``: a KeyboardInterrupt can land right after a bare
    # ``acquire()`` returns, and would leave the channel locked for good.
    # Past them, an operation that found nothing ready blocks through
    # gopool._waiter.block, which polls once more under the lock before
    # publishing its waiter.

    def send(self, value: T, *, timeout: Timeout = None) -> None:
        """Send ``value`` (Go's ``ch <- value``).

        Blocks until a receiver takes it (unbuffered) or until there is room
        in the buffer. Raises :class:`ClosedChannelError` if the channel is
        closed, or gets closed while this call is blocked (the value is then
        not sent), and ``TimeoutError`` if ``timeout`` passes first.
        """
        with self._lock:
            if not self._recvq and len(self._buf) < self._cap and not self._closed:
                self._buf.append(value)
                return
            done = self._poll_send(value)
        if done is not False:
            if done is not True:
                done.wake()
            return
        seconds = _seconds(timeout)
        if seconds is not None and seconds <= 0:
            raise TimeoutError("send timed out: channel not ready")
        refuse_in_loop("Chan.send", "await ch.async_send(value)")
        w = ThreadWaiter(("chan send", self))
        if not block(w, self._lock, self._send_or_publish, value, seconds, self._sendq.withdraw):
            raise TimeoutError("send timed out")
        if not w.ok:
            raise ClosedChannelError("send on closed channel")

    def recv_ok(self, *, timeout: Timeout = None) -> tuple[T | None, bool]:
        """Receive (Go's ``v, ok := <-ch``): ``(value, True)``, or ``(None, False)``.

        ``(None, False)`` means the channel is closed and drained; it is
        returned at once. Blocks while the channel is open and empty. Raises
        ``TimeoutError`` if ``timeout`` passes first, having taken nothing.
        """
        with self._lock:
            if self._buf and not self._sendq:
                return self._buf.popleft(), True
            got = self._poll_recv()
        if got is None:
            return self._park_recv(timeout, None)
        return _handed(got)

    def recv(self, *, timeout: Timeout = None) -> T | None:
        """Receive (Go's ``v := <-ch``): the value, or None once closed and drained.

        Blocking and errors as :meth:`recv_ok`.
        """
        with self._lock:
            if self._buf and not self._sendq:
                return self._buf.popleft()
            got = self._poll_recv()
        if got is None:
            return self._park_recv(timeout, None)[0]
        return _handed(got)[0]

    def _recv(self, timeout: Timeout, face: object) -> tuple[T | None, bool]:
        """A receive past the buffered fast path: hand-off, close, or park.

        ``face`` is what a dump shows as the channel received from (the
        receive-only channel in front of this one), None for this one.
        """
        with self._lock:
            got = self._poll_recv()
        if got is None:
            return self._park_recv(timeout, face)
        return _handed(got)

    def _park_recv(self, timeout: Timeout, face: object) -> tuple[T | None, bool]:
        """A receive that found nothing ready: block until a sender or ``close`` completes it."""
        seconds = _seconds(timeout)
        if seconds is not None and seconds <= 0:
            raise TimeoutError("receive timed out: channel empty")
        refuse_in_loop(
            "Chan.recv, recv_ok or iteration",
            "await ch.async_recv(), await ch.async_recv_ok() or async for",
        )
        w = ThreadWaiter(("chan receive", face or self))
        if not block(w, self._lock, self._recv_or_publish, None, seconds, self._recvq.withdraw):
            raise TimeoutError("receive timed out")
        return w.value, w.ok

    def close(self) -> None:
        """Close the channel (Go's ``close(ch)``).

        Values already buffered are still delivered. Every parked receiver
        wakes with ``(None, False)``; every parked sender fails with
        :class:`ClosedChannelError`. Raises :class:`ClosedChannelError` if the
        channel is already closed. Never blocks.
        """
        with self._lock:
            if self._closed:
                raise ClosedChannelError("close of closed channel")
            self._closed = True
            woken = self._recvq.complete_all(False) + self._sendq.complete_all(False)
        wake_all(woken)

    # -- the async forms: the same operations from asyncio tasks --

    # A task that finds nothing ready publishes a gopool._aio.TaskWaiter in the
    # same queues as a thread would, so threads and tasks on any loops are
    # each other's counterparts. The buffered fast paths are those of the
    # blocking forms; gopool._aio (and with it asyncio) is imported on the
    # first wait only.

    async def async_send(self, value: T) -> None:
        """Send ``value`` from a task (``await ch.async_send(v)``); as :meth:`send`.

        Waits, without blocking the event loop, until a receiver (a thread or
        a task, on any loop) takes the value or there is room in the buffer.
        Raises :class:`ClosedChannelError` as :meth:`send` does. Cancelling
        the task withdraws the send (the value is not sent) and
        ``CancelledError`` propagates; if a receiver took the value before
        the cancellation could withdraw it, the send stands: the call returns
        and the task's next ``await`` raises ``CancelledError``. So await it
        inside a task, not as the task's whole coroutine, whose result
        asyncio would discard (see docs/asyncio.md).
        """
        with self._lock:
            if not self._recvq and len(self._buf) < self._cap and not self._closed:
                self._buf.append(value)
                return
        from ._aio import TaskWaiter, block_task

        w = TaskWaiter(("chan send", self))
        attempt = partial(self._send_or_publish, w, value)
        await block_task(w, (self._lock,), attempt, partial(self._sendq.withdraw, w))
        if not w.ok:
            raise ClosedChannelError("send on closed channel")

    async def async_recv_ok(self) -> tuple[T | None, bool]:
        """Receive from a task: ``(value, True)``, or ``(None, False)``; as :meth:`recv_ok`.

        Waits, without blocking the event loop, while the channel is open and
        empty. Cancellation as :meth:`async_send`: withdrawn, nothing taken;
        or, if a sender completed the receive first, the value is returned
        and the task's next ``await`` raises ``CancelledError``.
        """
        with self._lock:
            if self._buf and not self._sendq:
                return self._buf.popleft(), True
        return await self._async_recv(None)

    async def async_recv(self) -> T | None:
        """Receive from a task: the value, or None once closed and drained; as :meth:`recv`.

        Waiting and cancellation as :meth:`async_recv_ok`.
        """
        with self._lock:
            if self._buf and not self._sendq:
                return self._buf.popleft()
        return (await self._async_recv(None))[0]

    async def _async_recv(self, face: object) -> tuple[T | None, bool]:
        """A task's receive past the buffered fast path: hand-off, close, or wait.

        ``face`` as for :meth:`_recv`.
        """
        from ._aio import TaskWaiter, block_task

        w = TaskWaiter(("chan receive", face or self))
        attempt = partial(self._recv_or_publish, w, None)
        await block_task(w, (self._lock,), attempt, partial(self._recvq.withdraw, w))
        return w.value, w.ok

    def __aiter__(self) -> AsyncIterator[T]:
        """Receive from a task until closed and drained: ``async for v in ch``."""
        return _AsyncRange(self, None)

    # -- the rest of the interface --

    def __iter__(self) -> Iterator[T]:
        """Receive until the channel is closed and drained (Go's ``for v := range ch``)."""
        return self._iterate(None)

    def _iterate(self, face: object) -> Iterator[T]:
        """``__iter__``, for this channel or the receive-only ``face`` in front of it."""
        lock, buf, sendq = self._lock, self._buf, self._sendq
        while True:
            with lock:
                ready = bool(buf) and not sendq
                if ready:
                    value = buf.popleft()
            if not ready:
                got, ok = self._recv(None, face)
                if not ok:
                    return
                value = cast(T, got)
            yield value

    def __len__(self) -> int:
        """The number of values buffered now (Go's ``len(ch)``)."""
        with self._lock:
            return len(self._buf)

    def __bool__(self) -> bool:
        return True

    @property
    def cap(self) -> int:
        """The buffer's capacity (Go's ``cap(ch)``); 0 for an unbuffered channel."""
        return self._cap

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has been called (for inspection; Go has no such query)."""
        with self._lock:
            return self._closed

    def statistics(self) -> dict[str, int | bool]:
        """A snapshot: capacity, buffered values, parked senders and receivers, closed."""
        with self._lock:
            return {
                "cap": self._cap,
                "len": len(self._buf),
                "senders_waiting": self._sendq.waiting(),
                "receivers_waiting": self._recvq.waiting(),
                "closed": self._closed,
            }

    def __repr__(self) -> str:
        s = self.statistics()
        state = "closed" if s["closed"] else "open"
        waiting = ""
        if s["senders_waiting"]:
            waiting += f" senders_waiting={s['senders_waiting']}"
        if s["receivers_waiting"]:
            waiting += f" receivers_waiting={s['receivers_waiting']}"
        return f"<Chan cap={s['cap']} len={s['len']} {state}{waiting} at {id(self):#x}>"


class _AsyncRange(Generic[T]):
    """``async for v in ch``: :meth:`Chan.async_recv` until closed and drained."""

    __slots__ = ("_ch", "_face")

    def __init__(self, ch: Chan[T], face: object) -> None:
        self._ch = ch
        self._face = face

    def __aiter__(self) -> _AsyncRange[T]:
        return self

    async def __anext__(self) -> T:
        ch = self._ch
        with ch._lock:
            if ch._buf and not ch._sendq:
                return ch._buf.popleft()
        value, ok = await ch._async_recv(self._face)
        if not ok:
            raise StopAsyncIteration
        return cast(T, value)


def _park_forever(timeout: Timeout, reason: str, call: str, use: str) -> None:
    """Block as a nil channel does: until ``timeout`` (TimeoutError), or forever.

    ``call`` and ``use`` name the operation and its async form for
    :func:`~gopool._waiter.refuse_in_loop`.
    """
    seconds = _seconds(timeout)
    if seconds is None or seconds > 0:
        refuse_in_loop(call, use)
    if not ThreadWaiter((reason, None)).park(seconds):
        raise TimeoutError("operation on nil channel timed out")
    raise AssertionError("a waiter nobody can see was woken")  # pragma: no cover


_NIL_SEND = "chan send (nil chan)"
_NIL_RECV = "chan receive (nil chan)"


class _NilChan(Chan[Any]):
    """Go's nil channel: sends and receives block forever; never ready in select."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(0)

    def send(self, value: Any, *, timeout: Timeout = None) -> None:
        """Block forever (or raise ``TimeoutError`` after ``timeout``)."""
        _park_forever(timeout, _NIL_SEND, "Chan.send", "await ch.async_send(value)")

    def recv_ok(self, *, timeout: Timeout = None) -> tuple[Any, bool]:
        """Block forever (or raise ``TimeoutError`` after ``timeout``)."""
        _park_forever(timeout, _NIL_RECV, "Chan.recv_ok", "await ch.async_recv_ok()")
        return None, False  # pragma: no cover

    def recv(self, *, timeout: Timeout = None) -> Any:
        """Block forever (or raise ``TimeoutError`` after ``timeout``)."""
        _park_forever(timeout, _NIL_RECV, "Chan.recv", "await ch.async_recv()")

    async def async_send(self, value: Any) -> None:
        """Wait until the task is cancelled."""
        from ._aio import wait_forever

        await wait_forever((_NIL_SEND, None))

    async def _async_recv(self, face: object) -> tuple[Any, bool]:
        """Wait until the task is cancelled (``async_recv``, ``async_recv_ok``, ``async for``)."""
        from ._aio import wait_forever

        await wait_forever((_NIL_RECV, None))
        return None, False  # pragma: no cover

    def close(self) -> None:
        """Raise :class:`ClosedChannelError`: a nil channel cannot be closed."""
        raise ClosedChannelError("close of nil channel")

    def __repr__(self) -> str:
        return "nilchan"


nilchan: Chan[Any] = _NilChan()
"""Go's nil channel: ``send``/``recv`` block forever; its select cases are never ready."""


# -- typing views: <-chan T and chan<- T --


@runtime_checkable
class RecvChan(Protocol[T_co]):
    """A receive-only view of a channel (Go's ``<-chan T``)."""

    def recv(self, *, timeout: Timeout = None) -> T_co | None: ...
    def recv_ok(self, *, timeout: Timeout = None) -> tuple[T_co | None, bool]: ...
    def __iter__(self) -> Iterator[T_co]: ...
    def __len__(self) -> int: ...
    @property
    def cap(self) -> int: ...
    async def async_recv(self) -> T_co | None: ...
    async def async_recv_ok(self) -> tuple[T_co | None, bool]: ...
    def __aiter__(self) -> AsyncIterator[T_co]: ...


@runtime_checkable
class SendChan(Protocol[T_contra]):
    """A send-only view of a channel (Go's ``chan<- T``)."""

    def send(self, value: T_contra, *, timeout: Timeout = None) -> None: ...
    async def async_send(self, value: T_contra) -> None: ...
    def close(self) -> None: ...
    def __len__(self) -> int: ...
    @property
    def cap(self) -> int: ...


# The receive-only type and select work on the types above; they are
# re-exported here, where Go keeps them.
from ._recvonly import ReceiveOnlyError, RecvOnlyChan  # noqa: E402
from ._select import async_select, default, select  # noqa: E402
