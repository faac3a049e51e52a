"""Go's ``select``: wait on several channel operations, perform the first that can proceed.

Written after Go's ``src/runtime/select.go``: a first pass tries each case
alone in random order; if none is ready, a second pass locks every channel
at once and either performs a case that became ready, chooses ``default``,
or publishes one waiter on every case's queue and parks it
(:func:`gopool._waiter.block`). Whichever counterpart claims the waiter
completes the select; a third pass drops its other entries.

A case is ``ch.recv``, ``ch.recv_ok`` or ``(ch.send, value)`` on a
:class:`~gopool.chan.Chan`, ``ro.recv`` or ``ro.recv_ok`` on a
:class:`~gopool.chan.RecvOnlyChan` (performed on the channel behind it:
the one protocol for every receive-only channel), or ``default``.

Lock order: a select that must lock several channels at once locks them
in ascending ``id()`` order, each channel once, so two selects (or a
select and a ``close``) can never deadlock each other. A waiter's own
locks are only ever taken after a channel lock, or with no channel lock
held. (:mod:`gopool.chan` re-exports :func:`select` and :data:`default`.)
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

from ._duration import Timeout
from ._duration import optional_seconds as _seconds
from ._waiter import Entry, ThreadWaiter, Waiter, WaitQueue, block, refuse_in_loop, under_locks
from .chan import Chan, ClosedChannelError, RecvOnlyChan, _NilChan, _park_forever, nilchan

__all__ = ["SelectCases", "async_select", "default", "select"]


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
    RecvOnlyChan.recv: _RECV,
    RecvOnlyChan.recv_ok: _RECV_OK,
}

# Poll orders: a uniformly random permutation of the cases, drawn from a
# table for the common small selects (cheaper than shuffling every time).
_SMALL = 6
_PERMUTATIONS = [list(itertools.permutations(range(n))) for n in range(_SMALL)]
_PERMUTATION_COUNTS = [len(table) for table in _PERMUTATIONS]
_random = random.random


class SelectCases:
    """What a parked select waits on, for a dump: ``(verb, channel)`` per case.

    The channel is the one the case names (a receive-only channel, not the
    one behind it), or None for a case that can never proceed
    (``default``, or a case on :data:`~gopool.chan.nilchan`).
    """

    __slots__ = ("_cases", "_ops")

    def __init__(self, cases: tuple[Any, ...], ops: Sequence[_Op]) -> None:
        self._cases = cases
        self._ops = ops

    def __iter__(self) -> Iterator[tuple[str, object]]:
        for case, (kind, ch, _) in zip(self._cases, self._ops, strict=True):
            if kind == _SEND:
                yield "send to", (None if ch is nilchan else ch)
            else:
                yield "receive from", (None if ch is nilchan else case.__self__)


def _bad_case(i: int, case: object) -> TypeError:
    return TypeError(
        f"select: case {i} is {case!r}; a case is ch.recv, ch.recv_ok, "
        "(ch.send, value) or default"
    )


_Op = tuple[int, Chan[Any], Any]


def _parse(cases: tuple[Any, ...]) -> tuple[Sequence[_Op], int, bool]:
    """``[(kind, chan, value)]`` for every case, the index of ``default`` or -1, and cacheable.

    ``default`` is recorded as a case on ``nilchan``, which is never ready.
    A receive-only channel's case is recorded on the channel behind it.
    The parse is cacheable if it has no send case (a send's value compares
    by ``==``) and no channel that must be collectable once dropped (a
    timer's: see ``_last_parse``).
    """
    ops: list[_Op] = []
    append = ops.append
    kinds = _CASE_KINDS
    default_at = -1
    cacheable = True
    for case in cases:
        # The common cases first, at the cost of one lookup: ch.recv, ch.recv_ok.
        kind = kinds.get(getattr(case, "__func__", None), _SEND)
        if kind != _SEND:
            ch = case.__self__
            if isinstance(ch, Chan):
                append((kind, ch, None))
                continue
            if isinstance(ch, RecvOnlyChan):
                cacheable = cacheable and ch._select_cache
                append((kind, ch._chan, None))
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
                    cacheable = False
                    continue
        raise _bad_case(len(ops), case)
    return tuple(ops), default_at, cacheable


_last_parse: tuple[tuple[Any, ...], Sequence[_Op], int] = ((), (), -1)
"""The cases of the last cacheable select, and their parse.

Holding them keeps their channels alive until another cacheable select
replaces them, which is harmless for a plain channel or a context's done
channel, but not for a timer's: a dropped ``after(d)`` must be collected
(and its timer dropped from the scheduler) at once, so a select with a
timer's channel among its cases is never kept here.
"""


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


def _select_or_publish(
    w: Waiter, args: tuple[Sequence[_Op], Sequence[int], list[tuple[WaitQueue, Entry]]]
) -> Waiter | bool:
    """:func:`~gopool._waiter.block`'s attempt for a select; every channel locked.

    Records each entry it publishes in ``published``, for the withdrawal
    and for pass 3.
    """
    ops, order, published = args
    found = _poll_cases(ops, order)
    if found is None:
        for i in order:
            kind, ch, value = ops[i]
            if ch is not nilchan:
                queue = ch._sendq if kind == _SEND else ch._recvq
                entry = (w, i, value)
                published.append((queue, entry))
                queue.append(entry)  # WaitQueue.publish, inlined
        return False
    w.claim()
    w.index, (w.value, w.ok, wake) = found
    return True if wake is None else wake


def _withdraw_select(published: list[tuple[WaitQueue, Entry]], w: Waiter) -> bool:
    """Take back a parked select (every channel locked): True if withdrawn, False if completed."""
    mine = w.take_back()
    _unpublish(published)
    return mine


def _unpublish(published: list[tuple[WaitQueue, Entry]]) -> None:
    """Drop a select's entries from every queue that still holds them (every channel locked)."""
    for queue, entry in published:
        # w is claimed (withdrawn, or completed by a partner): its entries
        # are stale, dropped now or later (see WaitQueue.discard).
        queue.discard(entry[0])


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
    # by channel and method), so the last cacheable parse is kept in one
    # immutable slot (see _last_parse): a comparison instead of a parse.
    # (An object whose __eq__ claims equality with a bound method would pass
    # for the cached case; checking every case's type would cost a third of
    # what the cache saves.)
    global _last_parse
    last = _last_parse
    try:
        hit = last[0] == cases
    except Exception:  # a bad case whose __eq__ raises: _parse names it
        hit = False
    if hit:
        ops, default_at = last[1], last[2]
    else:
        ops, default_at, cacheable = _parse(cases)
        if cacheable:
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
        found = under_locks(locks, _poll_cases, ops, order)
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
    w = ThreadWaiter(("select", SelectCases(cases, ops)))
    published: list[tuple[WaitQueue, Entry]] = []
    withdraw = partial(_withdraw_select, published)
    if not block(w, locks, _select_or_publish, (ops, order, published), seconds, withdraw):
        raise TimeoutError("select timed out")
    return _selected(w, ops, locks, published)


_ASYNC_SELECT = "await async_select(...)"


def _selected(
    w: Waiter, ops: Sequence[_Op], locks: list[Any], published: list[tuple[WaitQueue, Entry]]
) -> tuple[int, Any]:
    """A parked select's outcome, once ``w`` is complete: ``(index, value)``."""
    if len(published) > 1:
        # Pass 3: the partner dequeued one entry; drop the others.
        under_locks(locks, _unpublish, published)
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

    ops, _, _ = _parse(cases)
    order = random.sample(range(len(ops)), len(ops))
    chans = {id(op[1]): op[1] for op in ops if op[1] is not nilchan}
    if not chans:
        await wait_forever(("select (no cases)", None))
    locks = [chans[k]._lock for k in sorted(chans)]
    w = TaskWaiter(("select", SelectCases(cases, ops)))
    published: list[tuple[WaitQueue, Entry]] = []
    attempt = partial(_select_or_publish, w, (ops, order, published))
    await block_task(w, locks, attempt, partial(_withdraw_select, published, w))
    return _selected(w, ops, locks, published)
