"""Go channels, ``select`` and ``go()`` for Python threads.

Written the way Go's runtime writes them (``src/runtime/chan.go`` and
``src/runtime/select.go``): one lock per channel, a queue of parked senders
and one of parked receivers, a direct hand-off to a parked partner, and a
``select`` that enqueues one waiter on every case and is completed by
whichever counterpart comes first.

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
then the blocking path (enqueue a waiter, release the lock, park, and read
the outcome the partner wrote into the waiter). The partner, not the parked
thread, dequeues the waiter, so later operations find nobody waiting and
skip the wake-up.

Lock order: a ``select`` that must lock several channels at once locks them
in ascending ``id()`` order, each channel once, so two selects (or a select
and a ``close``) can never deadlock each other. A waiter's own locks are
only ever taken after a channel lock, or with no channel lock held.

For :mod:`gopool.debug`: a parked operation's waiter says what it waits on
(``("chan receive", ch)``, ``("select", cases)``...), and every thread started
by :func:`go` is in ``_goroutines`` from before it starts until its function
has ended. Neither touches the fast paths, which never park.
"""

from __future__ import annotations

import _thread
import itertools
import os
import random
import sys
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from functools import partial
from typing import Any, Generic, Protocol, TypeVar, cast, runtime_checkable

from . import _waiter
from ._duration import Timeout
from ._duration import optional_seconds as _seconds
from ._waiter import (
    ThreadWaiter,
    Waiter,
    WaitQueue,
    block,
    refuse_in_loop,
    under_locks,
    wake_all,
)

__all__ = [
    "Chan",
    "ClosedChannelError",
    "RecvChan",
    "SendChan",
    "async_select",
    "default",
    "go",
    "nilchan",
    "select",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
T_contra = TypeVar("T_contra", contravariant=True)



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
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"makechan: size must be an int, not {type(size).__name__}")
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
        if recvq:
            entry = recvq.hand_off()
            if entry is not None:
                w = entry[0]
                w.index = entry[1]
                w.value = value
                w.ok = True
                return w
        if len(self._buf) < self._cap:
            self._buf.append(value)
            return True
        return False

    def _poll_recv(self) -> tuple[Any, bool, Waiter | None] | None:
        """Receive without blocking: ``(value, ok, sender to wake)``, or None if not ready."""
        sendq = self._sendq
        if sendq:
            entry = sendq.hand_off()
            if entry is not None:
                w, index, value = entry
                w.index = index
                w.ok = True
                if self._cap:
                    # The buffer is full: take its head, and the sender's
                    # value goes to its tail, keeping FIFO order.
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
            self._sendq.publish(w, 0, value)
            return False
        w.claim()
        w.ok = True
        return done

    def _recv_or_publish(self, w: Waiter) -> Waiter | bool:
        """:func:`~gopool._waiter.block`'s attempt for a receive; ``_lock`` held."""
        got = self._poll_recv()
        if got is None:
            self._recvq.publish(w)
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
        attempt = partial(self._send_or_publish, w, value)
        if not block(w, (self._lock,), attempt, seconds, partial(self._sendq.withdraw, w)):
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
        return self._recv(timeout)

    def recv(self, *, timeout: Timeout = None) -> T | None:
        """Receive (Go's ``v := <-ch``): the value, or None once closed and drained.

        Blocking and errors as :meth:`recv_ok`.
        """
        with self._lock:
            if self._buf and not self._sendq:
                return self._buf.popleft()
        return self._recv(timeout)[0]

    def _recv(self, timeout: Timeout) -> tuple[T | None, bool]:
        """A receive past the buffered fast path: hand-off, close, or park."""
        with self._lock:
            got = self._poll_recv()
        if got is not None:
            value, ok, sender = got
            if sender is not None:
                sender.wake()
            return value, ok
        seconds = _seconds(timeout)
        if seconds is not None and seconds <= 0:
            raise TimeoutError("receive timed out: channel empty")
        refuse_in_loop(
            "Chan.recv, recv_ok or iteration",
            "await ch.async_recv(), await ch.async_recv_ok() or async for",
        )
        w = ThreadWaiter(("chan receive", self))
        attempt = partial(self._recv_or_publish, w)
        if not block(w, (self._lock,), attempt, seconds, partial(self._recvq.withdraw, w)):
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
        return await self._async_recv()

    async def async_recv(self) -> T | None:
        """Receive from a task: the value, or None once closed and drained; as :meth:`recv`.

        Waiting and cancellation as :meth:`async_recv_ok`.
        """
        with self._lock:
            if self._buf and not self._sendq:
                return self._buf.popleft()
        return (await self._async_recv())[0]

    async def _async_recv(self) -> tuple[T | None, bool]:
        """A task's receive past the buffered fast path: hand-off, close, or wait."""
        from ._aio import TaskWaiter, block_task

        w = TaskWaiter(("chan receive", self))
        attempt = partial(self._recv_or_publish, w)
        await block_task(w, (self._lock,), attempt, partial(self._recvq.withdraw, w))
        return w.value, w.ok

    def __aiter__(self) -> AsyncIterator[T]:
        """Receive from a task until closed and drained: ``async for v in ch``."""
        return _AsyncRange(self)

    # -- the rest of the interface --

    def __iter__(self) -> Iterator[T]:
        """Receive until the channel is closed and drained (Go's ``for v := range ch``)."""
        lock, buf, sendq = self._lock, self._buf, self._sendq
        while True:
            with lock:
                ready = bool(buf) and not sendq
                if ready:
                    value = buf.popleft()
            if not ready:
                got, ok = self._recv(None)
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

    __slots__ = ("_ch",)

    def __init__(self, ch: Chan[T]) -> None:
        self._ch = ch

    def __aiter__(self) -> _AsyncRange[T]:
        return self

    async def __anext__(self) -> T:
        ch = self._ch
        with ch._lock:
            if ch._buf and not ch._sendq:
                return ch._buf.popleft()
        value, ok = await ch._async_recv()
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

    async def _async_recv(self) -> tuple[Any, bool]:
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
    async def async_recv(self) -> T_co | None: ...
    async def async_recv_ok(self) -> tuple[T_co | None, bool]: ...
    def __aiter__(self) -> AsyncIterator[T_co]: ...
    def __len__(self) -> int: ...
    @property
    def cap(self) -> int: ...


@runtime_checkable
class SendChan(Protocol[T_contra]):
    """A send-only view of a channel (Go's ``chan<- T``)."""

    def send(self, value: T_contra, *, timeout: Timeout = None) -> None: ...
    async def async_send(self, value: T_contra) -> None: ...
    def close(self) -> None: ...
    def __len__(self) -> int: ...
    @property
    def cap(self) -> int: ...


# -- select --


class _Default:
    __slots__ = ()

    def __repr__(self) -> str:
        return "default"


default: Any = _Default()
"""The ``default`` case of a ``select``: chosen only when no other case is ready."""

_RECV, _RECV_OK, _SEND = 0, 1, 2
_CASE_KINDS: dict[Any, int] = {
    Chan.recv: _RECV,
    Chan.recv_ok: _RECV_OK,
    Chan.send: _SEND,
    _NilChan.recv: _RECV,
    _NilChan.recv_ok: _RECV_OK,
    _NilChan.send: _SEND,
}

# Poll orders: a uniformly random permutation of the cases, drawn from a
# table for the common small selects (cheaper than shuffling every time).
_SMALL = 6
_PERMUTATIONS = [list(itertools.permutations(range(n))) for n in range(_SMALL)]
_PERMUTATION_COUNTS = [len(table) for table in _PERMUTATIONS]
_random = random.random


def _bad_case(i: int, case: object) -> TypeError:
    return TypeError(
        f"select: case {i} is {case!r}; a case is ch.recv, ch.recv_ok, "
        "(ch.send, value) or default"
    )


_Op = tuple[int, Chan[Any], Any]
_last_parse: tuple[tuple[Any, ...], Sequence[_Op], int] = ((), (), -1)


def _parse(cases: tuple[Any, ...]) -> tuple[Sequence[_Op], int]:
    """``[(kind, chan, value)]`` for every case, and the index of ``default`` or -1.

    ``default`` is recorded as a case on ``nilchan``, which is never ready.
    """
    ops: list[_Op] = []
    append = ops.append
    kinds = _CASE_KINDS
    default_at = -1
    for case in cases:
        # The common cases first, at the cost of one lookup: ch.recv, ch.recv_ok.
        kind = kinds.get(getattr(case, "__func__", None), _SEND)
        if kind != _SEND:
            ch = case.__self__
            if isinstance(ch, Chan):
                append((kind, ch, None))
                continue
        elif case is default:
            if default_at >= 0:
                raise TypeError("select: multiple defaults")
            default_at = len(ops)
            append((_RECV, nilchan, None))
            continue
        elif type(case) is tuple and len(case) == 2:
            method, value = case
            if kinds.get(getattr(method, "__func__", None)) == _SEND:
                ch = method.__self__
                if isinstance(ch, Chan):
                    append((_SEND, ch, value))
                    continue
        raise _bad_case(len(ops), case)
    return tuple(ops), default_at


def _case_result(kind: int, value: Any, ok: bool) -> Any:
    """What ``select`` returns for a completed case of ``kind``."""
    if kind == _RECV:
        return value
    if kind == _RECV_OK:
        return value, ok
    if not ok:
        raise ClosedChannelError("send on closed channel")
    return None


def _try_case(kind: int, ch: Chan[Any], value: Any) -> tuple[Any, bool, Waiter | None] | None:
    """Attempt one case with ``ch._lock`` held: ``(value, ok, waiter to wake)``, or None."""
    if kind == _SEND:
        sent = ch._poll_send(value)
        if sent is False:
            return None
        return None, True, (None if sent is True else sent)
    return ch._poll_recv()


def _poll_cases(
    ops: Sequence[_Op], order: Sequence[int]
) -> tuple[int, tuple[Any, bool, Waiter | None]] | None:
    """The first ready case in ``order``, performed, with every channel locked; or None."""
    for i in order:
        kind, ch, value = ops[i]
        if ch is not nilchan:
            got = _try_case(kind, ch, value)
            if got is not None:
                return i, got
    return None


def _select_or_publish(w: Waiter, ops: Sequence[_Op], order: Sequence[int]) -> Waiter | bool:
    """:func:`~gopool._waiter.block`'s attempt for a select; every channel locked."""
    found = _poll_cases(ops, order)
    if found is None:
        for i in order:
            kind, ch, value = ops[i]
            if ch is not nilchan:
                (ch._sendq if kind == _SEND else ch._recvq).publish(w, i, value)
        return False
    w.claim()
    w.index, (w.value, w.ok, wake) = found
    return True if wake is None else wake


def _case_queues(ops: Sequence[_Op]) -> list[WaitQueue]:
    """The queues a select publishes its waiter on, each once."""
    queues: dict[int, WaitQueue] = {}
    for kind, ch, _ in ops:
        if ch is not nilchan:
            queue = ch._sendq if kind == _SEND else ch._recvq
            queues[id(queue)] = queue
    return list(queues.values())


def _withdraw_select(w: Waiter, queues: Sequence[WaitQueue]) -> bool:
    """Take back a parked select (every channel locked): True if withdrawn, False if completed."""
    mine = w.take_back()
    _discard(w, queues)
    return mine


def _discard(w: Waiter, queues: Sequence[WaitQueue]) -> None:
    """Drop ``w``'s entries from ``queues`` (every channel locked)."""
    for queue in queues:
        queue.discard(w)


def select(*cases: Any, timeout: Timeout = None) -> tuple[int, Any]:
    """Go's ``select``: wait until one case can proceed, perform it, return ``(index, value)``.

    A case is ``ch.recv`` (value: the item, or None once closed),
    ``ch.recv_ok`` (value: ``(item, ok)``), ``(ch.send, value)`` (value:
    None) or :data:`default` (value: None). Among several ready cases one
    is chosen uniformly at random; ``default`` is chosen only when no other
    case is ready. Cases on :data:`nilchan` are never ready; with no cases,
    or only nil ones, ``select`` blocks forever. The same channel may appear
    in several cases, even a send and a receive on one unbuffered channel
    (a select is never matched with itself).

    Blocks without polling until a case is ready. Raises
    :class:`ClosedChannelError` if a send case on a closed channel is
    chosen, ``TypeError`` for an argument that is not a case, and
    ``TimeoutError`` if ``timeout`` (not in Go) passes first, with no case
    performed.

        >>> ch = Chan[int](1)
        >>> select(ch.recv, default)
        (1, None)
        >>> select((ch.send, 7), default)
        (0, None)
        >>> select(ch.recv, default)
        (0, 7)
    """
    # A select in a loop passes equal cases every time (bound methods compare
    # by channel and method), so the last parse of a select without send
    # cases is kept in one immutable slot: a comparison instead of a parse.
    # Send cases are never kept, as their values compare by ==. The slot
    # keeps the channels of that one select alive until another select
    # replaces it. (An object whose __eq__ claims equality with a bound
    # method would pass for the cached case; checking every case's type
    # would cost a third of what the cache saves.)
    global _last_parse
    last = _last_parse
    try:
        hit = last[0] == cases
    except Exception:  # a bad case whose __eq__ raises: _parse names it
        hit = False
    if hit:
        ops, default_at = last[1], last[2]
    else:
        ops, default_at = _parse(cases)
        if all(op[0] != _SEND for op in ops):
            _last_parse = (cases, ops, default_at)
    n = len(ops)
    if n < _SMALL:
        order: Sequence[int] = _PERMUTATIONS[n][int(_random() * _PERMUTATION_COUNTS[n])]
    else:
        order = random.sample(range(n), n)

    # Pass 1: each case on its own, in random order, with only its channel
    # locked. Taking the first ready one is a valid outcome at that instant.
    for i in order:
        kind, ch, value = ops[i]
        if ch is nilchan:
            continue
        with ch._lock:
            buf = ch._buf
            if buf and kind != _SEND and not ch._sendq:
                # The common ready receive, inlined as in Chan.recv.
                return i, ((buf.popleft(), True) if kind == _RECV_OK else buf.popleft())
            got = _try_case(kind, ch, value)
        if got is not None:
            if got[2] is not None:
                got[2].wake()
            return i, _case_result(kind, got[0], got[1])

    chans = {id(op[1]): op[1] for op in ops if op[1] is not nilchan}
    if default_at >= 0 and len(chans) <= 1:
        return default_at, None  # pass 1 saw the only channel not ready, atomically

    # Pass 2: every channel locked at once, in the global lock order, so that
    # "nothing ready" holds at a single instant before choosing default or
    # publishing a waiter on every case.
    locks = [chans[k]._lock for k in sorted(chans)]
    if default_at >= 0:
        found = under_locks(locks, partial(_poll_cases, ops, order))
        if found is None:
            return default_at, None
        i, (value, ok, wake) = found
        if wake is not None:
            wake.wake()
        return i, _case_result(ops[i][0], value, ok)
    seconds = _seconds(timeout)
    if not chans:
        _park_forever(seconds, "select (no cases)", "select", _ASYNC_SELECT)
    if seconds is None or seconds > 0:
        refuse_in_loop("select", _ASYNC_SELECT)
    w = ThreadWaiter(("select", ops))
    queues = _case_queues(ops)
    attempt = partial(_select_or_publish, w, ops, order)
    if not block(w, locks, attempt, seconds, partial(_withdraw_select, w, queues)):
        raise TimeoutError("select timed out")
    return _selected(w, ops, locks, queues)


_ASYNC_SELECT = "await async_select(...)"


def _selected(
    w: Waiter, ops: Sequence[_Op], locks: list[Any], queues: list[WaitQueue]
) -> tuple[int, Any]:
    """A parked select's outcome, once ``w`` is complete: ``(index, value)``."""
    if sum(1 for op in ops if op[1] is not nilchan) > 1:
        # Pass 3: the partner dequeued one entry; drop the others.
        under_locks(locks, partial(_discard, w, queues))
    i = w.index
    return i, _case_result(ops[i][0], w.value, w.ok)


async def async_select(*cases: Any) -> tuple[int, Any]:
    """Go's ``select`` from an asyncio task: ``await async_select(ch.recv, (out.send, v))``.

    The cases and the result are those of :func:`select`, and so are its
    rules: one ready case chosen uniformly at random and performed, exactly
    one; ``default`` only when no other case is ready at the call; a send
    case on a closed channel raises :class:`ClosedChannelError` when chosen;
    nil cases never ready, and no case at all waits until cancelled. The
    channels may be shared with threads and with tasks on other loops.

    Waits without blocking the event loop (a select with ``default`` never
    waits). Cancelling the task withdraws the select from every channel,
    no case performed, and ``CancelledError`` propagates; if a counterpart
    completed a case before the cancellation could withdraw it, that case
    stands: its result is returned and the task's next ``await`` raises
    ``CancelledError``. Raises ``TypeError`` for an argument that is not a
    case.
    """
    if any(case is default for case in cases):
        return select(*cases)
    # The ready cases first, chosen as select chooses them; default here
    # means that none was ready at that instant.
    i, value = select(*cases, default)
    if i < len(cases):
        return i, value
    from ._aio import TaskWaiter, block_task, wait_forever

    ops, _ = _parse(cases)
    order = random.sample(range(len(ops)), len(ops))
    chans = {id(op[1]): op[1] for op in ops if op[1] is not nilchan}
    if not chans:
        await wait_forever(("select (no cases)", None))
    locks = [chans[k]._lock for k in sorted(chans)]
    w = TaskWaiter(("select", ops))
    queues = _case_queues(ops)
    attempt = partial(_select_or_publish, w, ops, order)
    await block_task(w, locks, attempt, partial(_withdraw_select, w, queues))
    return _selected(w, ops, locks, queues)


# -- goroutines --

# _goroutine_ids_lock guards _goroutine_ids and _goroutines.
_goroutine_ids = itertools.count(1)
_goroutine_ids_lock = threading.Lock()
_goroutines: dict[threading.Thread, tuple[int, str, str]] = {}
"""Every live thread started by :func:`go` -> (number, function name, where it was created).

Read by :mod:`gopool.debug` for dumps and deadlock detection. An entry is
added before the thread starts and removed when its function has ended.
"""
_current = threading.local()  # .goroutine: the number of the goroutine running here

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_EXAMPLES_DIR = os.path.join(_PACKAGE_DIR, "_examples") + os.sep


def _created_by() -> str:
    """The caller of :func:`go` outside gopool's own modules, and its thread (for dumps)."""
    f = sys._getframe(2)
    while f.f_back is not None:
        filename = f.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIR) or filename.startswith(_EXAMPLES_DIR):
            break
        f = f.f_back
    parent = getattr(_current, "goroutine", None)
    if parent is not None:
        thread = f"goroutine {parent}"
    elif _thread.get_ident() == threading.main_thread().ident:
        thread = "the main thread"
    else:
        thread = f"thread {_thread.get_ident()}"
    return f"{f.f_code.co_qualname} in {thread}\n    {f.f_code.co_filename}:{f.f_lineno}"


def _report(exc: BaseException) -> None:
    """Hand ``exc`` to ``threading.excepthook``, as a thread does for an uncaught exception."""
    args = threading.ExceptHookArgs((type(exc), exc, exc.__traceback__, threading.current_thread()))
    try:
        threading.excepthook(args)
    except Exception:
        print("Exception in threading.excepthook:", file=sys.stderr, flush=True)
        sys.excepthook(*sys.exc_info())
    finally:
        del args


def _run_goroutine(n: int, fn: Callable[..., object], args: Any, kwargs: Any) -> None:
    """The body of a goroutine's thread: ``fn``, then leave the registry."""
    _current.goroutine = n
    try:
        fn(*args, **kwargs)
    except BaseException as exc:
        if _waiter._detector is None:
            raise
        # The exit check below may end the program with a DeadlockError in
        # the main thread: report what killed this goroutine first.
        _report(exc)
    finally:
        _waiter.thread_exiting()
        with _goroutine_ids_lock:
            del _goroutines[threading.current_thread()]


def _after_fork_child() -> None:
    global _goroutine_ids_lock
    # Only the forking thread survives: the others' entries are stale, and the
    # lock may have been copied held by one of them.
    _goroutine_ids_lock = threading.Lock()
    me = threading.current_thread()
    for thread in [t for t in _goroutines if t is not me]:
        del _goroutines[thread]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_child)


def go(fn: Callable[..., object], /, *args: Any, **kwargs: Any) -> threading.Thread:
    """Run ``fn(*args, **kwargs)`` in a new daemon thread (Go's ``go fn(...)``).

    Returns the started thread. The program does not wait for it at exit,
    as Go does not wait for goroutines. An exception escaping ``fn`` is
    reported through ``threading.excepthook``, never swallowed. Raises
    ``TypeError`` if ``fn`` is not callable.
    """
    if not callable(fn):
        raise TypeError(f"go: {fn!r} is not callable")
    created_by = _created_by()
    with _goroutine_ids_lock:
        n = next(_goroutine_ids)
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    thread = threading.Thread(
        target=_run_goroutine,
        args=(n, fn, args, kwargs),
        name=f"goroutine-{n} [{name}]",
        daemon=True,
    )
    info = (n, name, created_by)
    with _goroutine_ids_lock:
        _goroutines[thread] = info
    try:
        thread.start()
    except BaseException:
        with _goroutine_ids_lock:
            _goroutines.pop(thread, None)
        raise
    return thread
