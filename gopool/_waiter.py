"""The one parking mechanism behind every blocking operation (Go's ``sudog``).

A wait has three parts, each written once here:

* a :class:`Waiter`: one wait of one thread (:class:`ThreadWaiter`) or one
  asyncio task (``gopool._aio.TaskWaiter``) for one operation, with the
  outcome fields a counterpart fills in;
* a :class:`WaitQueue`: where waiters are published for counterparts to
  find (a channel's senders, a WaitGroup's waiters...), guarded by the lock
  of the object that owns it;
* :func:`block`: the blocking protocol of a thread: ``attempt(w, arg)``
  under the owner's lock completes the operation at once or publishes
  ``w``; then park, and on timeout, ``KeyboardInterrupt`` or an abort
  ``withdraw(w)`` under the same lock; if a counterpart completed the
  waiter while it was being withdrawn, its outcome stands and an interrupt
  is delivered again. (``gopool._aio.block_task`` is a task's form of it,
  over the same attempt and withdraw verbs.)

Invariants:

* A waiter is claimed at most once. ``claim()`` is an atomic test-and-set on
  a lock of its own, so a waiter published in several queues at once (a
  ``select`` enqueued on many channels) is completed by exactly one of them,
  whichever gets there first; the others see the failed claim and drop the
  entry as stale.
* Only the claimer writes the outcome fields (``index``, ``value``, ``ok``),
  and it writes them before it calls ``wake()``, while still holding the
  lock of the place where it found the waiter. The owner reads them only
  after its park returned True, or after its own ``take_back()`` failed
  under (or was followed by taking) that same lock, so a lock's
  release/acquire always orders the writes before the reads, without
  leaning on the GIL.
* An owner that gives up (timeout, interrupt, abort) withdraws through
  ``take_back()`` with the owner's lock held: True means the waiter is its
  own again and it unpublishes it; False means a counterpart completed the
  operation first, which then stands (``take_back`` has settled the
  wake-up still on its way).
* :meth:`Waiter.abort` is the only way another thread ends a wait early: it
  claims the waiter (so no counterpart can complete it any more), records
  the exception, and wakes it; the owner's park raises that exception and
  the owner withdraws as after an interrupt (its ``take_back`` returns True
  for an aborted waiter). An abort that loses the claim does nothing.
* ``_abort_lock`` orders an abort's claim and its record, so an owner whose
  claim failed can tell an abort from a completion.

Extension points (the kinds of waiter and of queueing to come):

* A kind of waiter subclasses :class:`Waiter` and defines ``wake()`` (make
  the owner runnable; called once, by the claimer or an abort, after the
  outcome is written) and ``_settle()`` (forget a wake-up that is on its
  way or already delivered, without blocking). :class:`ThreadWaiter` parks
  on a lock; a task's waiter awaits a future, its ``wake()`` being
  ``loop.call_soon_threadsafe(...)`` that resolves it, its cancellation
  withdrawing through the same ``take_back`` (a counterpart that completed
  it first wins, and the result stands).
* :class:`WaitQueue` serves FIFO by default; ``publish(front=True)`` queues
  at the front, as Go's ``semacquire`` with ``lifo=true`` requeues a woken
  Mutex waiter in starvation mode. Counterparts take waiters with
  :meth:`WaitQueue.hand_off` (the first live one) or
  :meth:`WaitQueue.complete_all`, and wake them after unlocking.

Parking a thread is a plain ``Lock.acquire``: it costs no CPU while
blocked, is woken directly by the counterpart's ``release``, and on POSIX is
interrupted by signals, so ``KeyboardInterrupt`` reaches a main thread
parked here.

Every park is recorded in :mod:`gopool._goroutines` (the registry that
:mod:`gopool.debug` reads) while it blocks: a timed park, or any park while
deadlock detection is off, by one ``dict`` set and delete inline; an
untimed park with detection on through ``park_watched``, whose deadlock
check reports by :meth:`Waiter.abort` on the main thread's waiter. With
detection off the park path pays one read of ``detecting``.
"""

from __future__ import annotations

import _thread
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, TypeVar

from . import _goroutines, _panic

__all__ = [
    "Entry",
    "ThreadWaiter",
    "WaitQueue",
    "Waiter",
    "block",
    "redeliver_interrupt",
    "under_locks",
    "wake_all",
]

_allocate_lock = _thread.allocate_lock
_get_ident = _thread.get_ident
_monotonic = time.monotonic

_parked = _goroutines.parked  # one dict for good: after a fork it is cleared, not replaced

_abort_lock = threading.Lock()
"""Orders an abort's claim before its record of the exception (see the module docstring)."""


class Waiter:
    """One wait for one operation; the base of every kind of waiter.

    Fields written by the claimer before ``wake()``:

    ``index``
        which of the waiter's cases completed (a select's case index, 0 for
        a plain operation);
    ``value``
        the value handed over (to a receiver);
    ``ok``
        True for a real hand-off, False when the operation completed because
        a channel was closed (or a context ended).

    ``what`` describes the operation for :mod:`gopool.debug`: None, or a pair
    ``(reason, target)`` such as ``("chan receive", ch)``, rendered (with
    ``repr(target)``) only when a dump is made. ``since`` and ``timeout`` are
    set when the wait begins.
    """

    __slots__ = ("_abort", "_claim", "index", "ok", "since", "timeout", "value", "what")

    since: float
    timeout: float | None

    value: Any
    _abort: BaseException | None

    def __init__(self, what: object = None) -> None:
        self._claim = _allocate_lock()
        self.index, self.value, self.ok, self.what, self._abort = -1, None, False, what, None

    def claim(self) -> bool:
        """Take the right to complete this waiter; True for the first caller only."""
        return self._claim.acquire(False)

    @property
    def claimed(self) -> bool:
        """Whether someone (a counterpart, an abort, or the owner withdrawing) has claimed it."""
        return self._claim.locked()

    def wake(self) -> None:
        """Make the owner runnable. Called once, by the claimer, after the outcome is written."""
        raise NotImplementedError  # pragma: no cover

    def _settle(self) -> None:
        """Forget the wake-up of a completion that beat the owner's withdrawal; never blocks."""
        raise NotImplementedError  # pragma: no cover

    def take_back(self) -> bool:
        """The owner's claim, to withdraw: True if it may unpublish the waiter.

        Called by the owner with the lock guarding the places where the
        waiter is published held. True if this call claimed it, or an
        :meth:`abort` did (the owner withdraws either way); False if a
        counterpart completed it first: the outcome stands, and the wake-up
        on its way is settled.
        """
        if self._claim.acquire(False):
            return True
        with _abort_lock:
            aborted = self._abort is not None
        if not aborted:
            self._settle()
        return aborted

    def abort(self, exc: BaseException) -> bool:
        """End the owner's wait with ``exc``, from any thread; False if it was claimed already.

        The owner's park raises ``exc`` (at once, if it is not parked yet),
        and the owner withdraws the operation as after an interrupt, so
        nothing is sent or received. Never blocks.
        """
        with _abort_lock:
            if not self._claim.acquire(False):
                return False
            self._abort = exc
        self.wake()
        return True


W = TypeVar("W", bound="ThreadWaiter")


class ThreadWaiter(Waiter):
    """A thread's wait: it parks on a lock of its own, which ``wake()`` releases."""

    __slots__ = ("_park",)

    def __init__(self, what: object = None) -> None:
        # Waiter.__init__'s fields, written here: this is every park's path.
        self._claim = _allocate_lock()
        self._park = park = _allocate_lock()
        park.acquire()
        self.index = -1
        self.value = None
        self.ok = False
        self.what = what
        self._abort = None

    def wake(self) -> None:
        """Release the parked owner. Called once, by the claimer, after the writes."""
        self._park.release()

    def _settle(self) -> None:
        # Every claimer writes the outcome while holding the lock under which
        # the owner then fails its take_back, so the outcome is visible
        # already. Never waits for the wake-up: an interrupt that lands just
        # after park()'s acquire returned has consumed it, and waiting would
        # hang forever.
        self._park.acquire(False)

    def park(self, timeout: float | None = None) -> bool:
        """Block until woken; False if ``timeout`` seconds passed first.

        Raises whatever a signal handler raises (``KeyboardInterrupt``) while
        blocked, and the exception of an :meth:`abort` (such as
        :class:`gopool.DeadlockError`). Either way the caller must withdraw
        through ``take_back()``.
        """
        if timeout is not None and timeout <= 0:
            woke = self._park.acquire(False)
        else:
            self.since = _monotonic()
            self.timeout = timeout
            if timeout is None and _goroutines.detecting:
                held = _goroutines.park_watched(self, self._park.acquire)
                woke = True
                if held is not None:
                    redeliver_interrupt(held)
            else:
                parked = _parked
                parked[self] = _get_ident()
                try:
                    if _goroutines.panicking:
                        _panic.take_in_main()
                    if timeout is None:
                        woke = self._park.acquire()
                    else:
                        woke = self._park.acquire(True, timeout)
                finally:
                    del parked[self]
        if woke and self._abort is not None:
            raise self._abort
        return woke


Entry = tuple[Waiter, int, Any]
"""A queue entry: the waiter, its case index, and a value (a sender's value, a weight...)."""


class WaitQueue(deque[Entry]):
    """The waiters published on one object, in the order they are served.

    A ``deque`` of :data:`Entry`, so the owner's fast paths test it and peek
    at it with no extra frame; every operation is called with the owner's
    lock held. An entry whose waiter is already claimed is stale (its select
    completed elsewhere, it was aborted, or its owner withdrew it) and is
    dropped by whoever meets it first.

    Withdrawing is O(1) amortised: :meth:`discard` drops an entry at either
    end at once, and leaves one in the middle in place, stale (its waiter is
    claimed), to be dropped when it reaches an end or when stale entries
    may be half the queue (a compaction, paid for by the withdrawals since
    the last one). Invariant, whenever the owner's lock is free and the
    queue was last changed by these methods: the front entry is live, so a
    non-empty queue means someone waits (an owner popping the front itself
    calls :meth:`pop_front`).
    """

    __slots__ = ("_stale",)

    _COMPACT_AFTER = 64
    """Deferred withdrawals before a compaction is considered (small queues never need one)."""

    def __init__(self) -> None:
        super().__init__()
        self._stale = 0  # withdrawals deferred since the queue was last empty or compacted

    def publish(self, w: Waiter, index: int = 0, value: Any = None, *, front: bool = False) -> None:
        """Queue ``w`` at the back (FIFO), or at the ``front`` (Go's ``lifo`` requeue)."""
        if front:
            self.appendleft((w, index, value))
        else:
            self.append((w, index, value))

    def hand_off(self) -> Entry | None:
        """Dequeue and claim the first live entry (dropping stale ones); None if there is none.

        The caller writes the outcome into the waiter, and wakes it once it
        has released the lock.
        """
        while self:
            entry = self.popleft()
            if entry[0].claim():
                if self._stale:
                    self._trim()
                return entry
        self._stale = 0
        return None

    def pop_front(self) -> Entry:
        """Dequeue the first entry (live, by the invariant), dropping stale ones behind it."""
        entry = self.popleft()
        if self._stale:
            self._trim()
        return entry

    def complete_all(self, ok: bool, value: Any = None) -> list[Waiter]:
        """Claim every live waiter with outcome ``(value, ok)`` and empty the queue.

        Returns the waiters, for the caller to pass to :func:`wake_all` once
        it has released the lock.
        """
        woken = []
        for w, index, _ in self:
            if w.claim():
                w.index = index
                w.value = value
                w.ok = ok
                woken.append(w)
        self.clear()
        self._stale = 0
        return woken

    def withdraw(self, w: Waiter) -> bool:
        """The owner takes ``w`` back: True if withdrawn, False if a counterpart completed it.

        Tolerates a waiter that was never queued (interrupted before that).
        """
        mine = w.take_back()
        if mine:
            self.discard(w)
        return mine

    def discard(self, w: Waiter) -> None:
        """Drop the entries of ``w``, which is claimed (withdrawn): at once or later, in O(1).

        Stale entries at either end (an entry of ``w``'s there, and any it
        uncovers) go now, so both ends are live afterwards; an entry in the
        middle stays, stale, until it reaches an end or the queue is
        compacted. Tolerates a ``w`` that is not queued.
        """
        if not self:
            return
        self._stale += 1
        if self[0][0].claimed or self[-1][0].claimed:  # w's entry, or one it uncovered
            self._trim()
        elif self._stale > self._COMPACT_AFTER and 2 * self._stale > len(self):
            live = [e for e in self if not e[0].claimed]
            self.clear()
            self.extend(live)
            self._stale = 0

    def _trim(self) -> None:
        """Drop the stale entries at both ends."""
        while self and self[0][0].claimed:
            self.popleft()
        while self and self[-1][0].claimed:
            self.pop()
        if not self:
            self._stale = 0

    def waiting(self) -> int:
        """How many entries are live (their waiter unclaimed)."""
        return sum(1 for e in self if not e[0].claimed)


def wake_all(woken: list[Waiter]) -> None:
    """Wake the waiters of :meth:`WaitQueue.complete_all`, after the lock is released.

    Woken outside the lock, so a waiter that runs at once does not contend
    with the waker for it.
    """
    for w in woken:
        w.wake()


def under_locks(locks: Sequence[threading.Lock], fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with ``locks`` held, taken in list order; its result."""
    return _under_from(locks, 0, fn, args)


def _under_from(locks: Sequence[threading.Lock], i: int, fn: Callable[..., Any], args: Any) -> Any:
    # Nested ``with`` statements rather than a loop of ``acquire()`` calls: an
    # interrupt landing between two acquisitions must not leave a lock held.
    if i == len(locks):
        return fn(*args)
    with locks[i]:
        return _under_from(locks, i + 1, fn, args)


Locks: TypeAlias = "threading.Lock | list[threading.Lock]"
"""What :func:`block` holds: the owner's lock, or a list of locks taken in that order."""


def _under(lock: Locks, fn: Callable[..., Any], *args: Any) -> Any:
    if isinstance(lock, list):
        return under_locks(lock, fn, *args)
    with lock:
        return fn(*args)


def block(
    w: W,
    lock: Locks,
    attempt: Callable[[W, Any], Waiter | bool],
    arg: Any,
    timeout: float | None,
    withdraw: Callable[[W], bool],
) -> bool:
    """The blocking protocol of every thread that waits: True once ``w`` is complete.

    With ``lock`` held, ``attempt(w, arg)`` either completes the operation
    at once, having claimed ``w`` and written its outcome (returning True,
    or the counterpart's waiter to wake after unlocking), or publishes
    ``w`` and returns False; ``w`` then parks until a counterpart completes
    it. ``withdraw(w)``, also called with ``lock`` held, takes ``w`` back
    (True) or finds it completed (False), as :meth:`WaitQueue.withdraw`
    does.

    * Completed (at once, or by a counterpart): True; the outcome is in ``w``.
    * Timed out: False if withdrawn (nothing happened), True if a
      counterpart completed ``w`` in the meantime.
    * Interrupted (``KeyboardInterrupt`` or whatever a signal handler
      raises) or aborted: re-raises if withdrawn; if a counterpart completed
      ``w`` first, the outcome stands, True is returned and the interrupt is
      delivered again (see :func:`redeliver_interrupt`).

    The whole protocol sits inside one ``try``, from before publication,
    so an interrupt landing anywhere after ``w`` is published withdraws it.
    Callers pass bound methods rather than closures: this is every parking
    operation's path.
    """
    try:
        if isinstance(lock, list):
            done = under_locks(lock, attempt, w, arg)
        else:
            with lock:
                done = attempt(w, arg)
        if done is not False:
            if done is not True:
                done.wake()
            return True
        if w.park(timeout):
            return True
    except BaseException as exc:
        if _under(lock, withdraw, w):
            raise
        redeliver_interrupt(exc)
        return True
    return not _under(lock, withdraw, w)


def refuse_in_loop(call: str, use: str | None = None) -> None:
    """Raise ``RuntimeError`` if the calling thread is running an asyncio event loop.

    Called by a blocking operation that is about to park a thread (it could
    not complete at once, and its timeout is not 0): parking the thread of
    a running loop would freeze every task on it. ``call`` names the
    operation, ``use`` its async form. Looks only on that path, so a fast
    path pays nothing; and no loop can run in a process that has not
    imported asyncio, so gopool does not import it here.
    """
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and asyncio._get_running_loop() is not None:
        hint = f"; use {use} from a coroutine" if use else ""
        raise RuntimeError(
            f"{call} would block the thread of a running asyncio event loop{hint}, "
            "or call it from another thread (asyncio.to_thread)"
        )


def redeliver_interrupt(exc: BaseException) -> None:
    """Re-raise ``exc`` for an operation that completed while it was being raised.

    A ``KeyboardInterrupt`` in the main thread is delivered again through
    ``_thread.interrupt_main()``: the caller then gets the operation's result
    and the interrupt arrives at its next instruction, so no value is lost.
    Anything else is re-raised at once.
    """
    if isinstance(exc, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
        _thread.interrupt_main()
        return
    raise exc


def _after_fork_child() -> None:
    global _abort_lock
    # Only the forking thread exists in the child: the lock may have been
    # copied held by a thread that is gone.
    _parked = _goroutines.parked  # one dict for good: after a fork it is cleared, not replaced

_abort_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_child)
