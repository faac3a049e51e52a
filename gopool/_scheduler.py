"""The one scheduler thread behind every timer of the process.

Every timer, ticker, context deadline and rate limiter wait of the package
is an entry here; :func:`schedule` is the internal API they are built on.
:mod:`gopool.timers` builds Go's ``time`` package on it and re-exports
:func:`schedule`, :func:`pending_count` and :func:`scheduler_thread`.

Invariants of the scheduler (each holds whenever its ``lock`` is free):

* At most one scheduler thread runs per process. It exists exactly while the
  heap holds an entry: the first :func:`schedule` on an empty heap starts it,
  and it exits, clearing ``thread``, when it finds the heap empty. Ten
  thousand pending timers cost one thread, not ten thousand.
* The heap holds ``(when, seq, handle)`` entries, at most one per handle.
  Every handle in the heap is pending or cancelled, never fired; ``cancelled``
  counts the cancelled ones, and once they are more than half of the heap
  it is rebuilt without them, so timers that are created and stopped leave
  nothing behind. A heap holding only cancelled entries is emptied at once.
* The scheduler waits on a condition with a timeout until the earliest
  deadline; :func:`schedule` notifies it when a new entry becomes the
  earliest, and a heap emptied by cancellation notifies it so it can exit.
  It never polls.
* Callbacks run on the scheduler thread, outside ``lock``, in deadline
  order (ties in the order scheduled). A handle is marked fired under
  ``lock`` before its callback runs, so :meth:`TimerHandle.cancel` returns
  True exactly when it prevented the callback.
* The heap refers to a Timer's or Ticker's channel only weakly. A channel
  that nobody references any more is collected, and a weakref callback
  queues its entry on ``reaped``, to be cancelled under ``lock`` (at once
  if ``lock`` is free, else by the next holder): as Go >= 1.23 collects
  unreferenced timers, ``after()`` in a loop leaves nothing pending. The
  callback never blocks on ``lock``, since a collection can start in any
  thread, including one holding ``lock``.
* Lock order: a timer's lock (a Timer's or Ticker's channel lock), then the
  scheduler's ``lock``. The scheduler runs callbacks (which take timer
  locks) without holding ``lock``.
* ``os.fork()``: the child has no scheduler thread (only the forking thread
  survives a fork), so it gets fresh locks and, if timers were pending at
  the fork, a thread of its own serving the heap it inherited: a context
  deadline or a timer armed before the fork still fires in the child. The
  fork waits for a running batch of callbacks, so no timer lock is copied
  held by the scheduler thread.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from . import _goroutines
from ._checks import check_callable, check_number
from ._report import report

__all__ = ["MAX_WAIT", "ReapingRef", "TimerHandle", "pending_count", "schedule", "scheduler_thread"]

T = TypeVar("T")

_monotonic = time.monotonic

# Longest single wait: lock waits refuse timeouts above TIMEOUT_MAX. A
# deadline further away than this is simply waited for in several steps.
MAX_WAIT = min(threading.TIMEOUT_MAX, 86400.0)

_PENDING, _FIRED, _CANCELLED = 0, 1, 2
_STATE_NAMES = ("pending", "fired", "cancelled")


class TimerHandle:
    """One entry of the scheduler: a callback due at a monotonic time.

    Returned by :func:`schedule`. :meth:`cancel` is the only operation.
    """

    __slots__ = ("_callback", "_period", "_sched", "_state", "_when")

    def __init__(
        self, sched: _Scheduler, when: float, callback: Callable[[], None], period: float
    ) -> None:
        self._sched = sched
        self._when = when
        self._callback: Callable[[], None] | None = callback
        self._period = period
        self._state = _PENDING

    def cancel(self) -> bool:
        """Prevent the callback; True if this call did, False if it ran, runs or was cancelled.

        Never blocks beyond the scheduler's short critical section. The
        entry and its callback are released (not kept until its deadline).
        For a periodic entry, True means no further call will start.
        """
        sched = self._sched
        with sched.lock:
            return sched.cancel_locked(self)

    @property
    def when(self) -> float:
        """The monotonic time the callback is (or was last) due."""
        with self._sched.lock:
            return self._when

    def __repr__(self) -> str:
        with self._sched.lock:
            state = _STATE_NAMES[self._state]
            when = self._when
        period = f" period={self._period:g}s" if self._period else ""
        return f"<TimerHandle {state} when={when:.6f}{period} at {id(self):#x}>"


class _Scheduler:
    """The heap and the thread serving it; one per process (a fresh one after fork)."""

    __slots__ = (
        "_finalizing",
        "cancelled",
        "cond",
        "heap",
        "lock",
        "reaped",
        "running",
        "seq",
        "thread",
    )

    def __init__(self) -> None:
        # lock guards heap, cancelled, seq, thread and every handle's _state
        # and _callback; cond (on lock) is notified when the earliest entry
        # changes or the heap empties.
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.heap: list[tuple[float, int, TimerHandle]] = []
        self.cancelled = 0
        self.seq = itertools.count()
        self.thread: threading.Thread | None = None
        # Handles of timer channels collected by the garbage collector, to be
        # cancelled under lock. A deque: appending to it is thread-safe, and
        # a weakref callback (which may run in any thread, at any point,
        # even while that thread holds lock) must never block on lock.
        self.reaped: deque[TimerHandle] = deque()
        # Held while callbacks run, so that fork() waits for a batch to end
        # instead of copying a timer's lock held mid-delivery.
        self.running = threading.RLock()
        self._finalizing = sys.is_finalizing

    def cancel_locked(self, h: TimerHandle) -> bool:
        """:meth:`TimerHandle.cancel` with ``lock`` held."""
        if h._state != _PENDING:
            return False
        h._state = _CANCELLED
        h._callback = None
        self.cancelled += 1
        if self.cancelled * 2 > len(self.heap):
            self.compact()
        return True

    def reap_locked(self) -> None:
        """Cancel the entries of collected timer channels; ``lock`` held."""
        reaped = self.reaped
        while reaped:
            self.cancel_locked(reaped.popleft())

    def reap(self, h: TimerHandle) -> None:
        """Cancel ``h`` now if ``lock`` is free, else at the scheduler's next look.

        Called from a weakref callback: it must not block, and the calling
        thread may be inside ``lock`` already (a collection can start there).
        """
        self.reaped.append(h)
        if self.lock.acquire(False):
            try:
                self.reap_locked()
            finally:
                self.lock.release()

    def reap_ref(self, ref: Any) -> None:
        """The callback of a weak reference with a ``handle`` (None, or the entry to reap).

        Touches nothing but ``self`` and ``ref``, and does nothing once the
        interpreter is exiting: it may then run after the module globals it
        would need are gone, and no timer fires any more anyway.
        """
        if self._finalizing():
            return
        handle = ref.handle
        if handle is not None:
            self.reap(handle)

    def compact(self) -> None:
        """Rebuild the heap without its cancelled entries; ``lock`` held."""
        was_empty = not self.heap
        self.heap[:] = [e for e in self.heap if e[2]._state == _PENDING]
        heapq.heapify(self.heap)
        self.cancelled = 0
        if not self.heap and not was_empty:
            self.cond.notify()  # nothing left: let the thread exit now

    def collect_due(self, me: threading.Thread) -> list[Callable[[], None]] | None:
        """Wait for the earliest deadline; pop the due callbacks, or None to exit.

        Called by the scheduler thread with ``lock`` held (the wait releases it).
        """
        heap = self.heap
        while True:
            self.reap_locked()
            while heap and heap[0][2]._state != _PENDING:
                heapq.heappop(heap)
                self.cancelled -= 1
            if not heap:
                if self.thread is me:
                    self.thread = None
                return None
            now = _monotonic()
            delay = heap[0][0] - now
            if delay <= 0:
                break
            self.cond.wait(min(delay, MAX_WAIT))
        due: list[Callable[[], None]] = []
        while heap and heap[0][0] <= now:
            when, _, h = heapq.heappop(heap)
            if h._state != _PENDING:
                self.cancelled -= 1
                continue
            callback = h._callback
            assert callback is not None
            if h._period:
                h._when = _next_tick(when, h._period, now)
                heapq.heappush(heap, (h._when, next(self.seq), h))
            else:
                h._state = _FIRED
                h._callback = None
            due.append(callback)
        return due


class ReapingRef(weakref.ref[T]):
    """A weak reference whose referent's collection cancels ``handle`` (if set).

    The scheduler holds a timer's channel only through one of these, so a
    channel that nobody can receive from any more is collected, and its
    entry reaped, as Go >= 1.23 collects unreferenced timers.
    """

    __slots__ = ("handle",)

    handle: TimerHandle | None

    def __new__(cls, obj: T) -> ReapingRef[T]:
        self = super().__new__(cls, obj, _sched.reap_ref)
        self.handle = None
        return self


def _next_tick(when: float, period: float, now: float) -> float:
    """The first ``when + k * period`` after ``now`` (k >= 1): late ticks are dropped."""
    nxt = when + period * (1 + math.floor((now - when) / period))
    if nxt <= now:  # rounding, or a period below the clock's resolution
        nxt = now + period
        if nxt <= now:
            nxt = math.nextafter(now, math.inf)
    return nxt


def _run(due: list[Callable[[], None]]) -> None:
    for callback in due:
        try:
            callback()
        except BaseException as exc:
            report(exc)


def _serve(sched: _Scheduler) -> None:
    """The scheduler thread: run callbacks as they come due; exit when none is left."""
    me = threading.current_thread()
    try:
        while True:
            with sched.lock:
                due = sched.collect_due(me)
            if due is None:
                return
            with sched.running:
                _run(due)
            # Drop the batch before the next wait: a callback must not keep
            # its timer alive.
            due = None
    finally:
        # Normally collect_due has let go already; after an unexpected error
        # (MemoryError), this lets the next schedule() start a new thread.
        with sched.lock:
            if sched.thread is me:
                sched.thread = None


_sched = _Scheduler()


def schedule(when: float, callback: Callable[[], None], *, period: float = 0.0) -> TimerHandle:
    """Call ``callback()`` on the scheduler thread once ``time.monotonic()`` reaches ``when``.

    The internal API that every timer of the package is built on. The
    callback must be quick and must not block: it delays every other timer
    of the process. An exception it raises goes to ``threading.excepthook``.
    A ``when`` in the past runs the callback as soon as possible. With
    ``period > 0`` the callback runs again every ``period`` seconds after
    ``when`` (dropping the calls a late scheduler missed) until cancelled.

    Returns a :class:`TimerHandle`; ``handle.cancel()`` prevents the call.
    Starts the scheduler thread if none is running. Never blocks beyond a
    short critical section. Raises ``TypeError`` for a non-callable
    ``callback`` or a non-numeric ``when``, ``ValueError`` for a NaN
    ``when`` or a negative or NaN ``period``.
    """
    check_callable(callback, "schedule: callback")
    when = check_number(when, "schedule: when", "a monotonic time")
    if not period >= 0:
        raise ValueError(f"schedule: period must be >= 0, not {period!r}")
    sched = _sched
    h = TimerHandle(sched, when, callback, float(period))
    start = None
    with sched.lock:
        sched.reap_locked()
        heapq.heappush(sched.heap, (when, next(sched.seq), h))
        if sched.thread is None:
            start = sched.thread = threading.Thread(
                target=_serve, args=(sched,), name="gopool-timers", daemon=True
            )
        elif sched.heap[0][2] is h:
            sched.cond.notify()
    if start is not None:
        try:
            start.start()
        except BaseException:
            with sched.lock:
                if sched.thread is start:
                    sched.thread = None
            h.cancel()
            raise
    return h


def pending_count() -> int:
    """The number of scheduled entries neither fired nor cancelled (for tests)."""
    sched = _sched
    with sched.lock:
        sched.reap_locked()
        return len(sched.heap) - sched.cancelled


def scheduler_thread() -> threading.Thread | None:
    """The scheduler thread if one is running now, else None (for tests)."""
    sched = _sched
    with sched.lock:
        return sched.thread


def _before_fork() -> None:
    sched = _sched
    sched.running.acquire()
    sched.lock.acquire()


def _after_fork_parent() -> None:
    sched = _sched
    sched.lock.release()
    sched.running.release()


def _after_fork_child() -> None:
    sched = _sched
    # The forking thread holds both locks (taken in _before_fork) and is the
    # only thread here; the scheduler thread, and any waiter it had on cond,
    # did not survive the fork.
    sched.thread = None
    sched.cond = threading.Condition(sched.lock)
    sched.lock.release()
    sched.running.release()
    start = None
    with sched.lock:
        sched.reap_locked()
        if len(sched.heap) > sched.cancelled:
            start = sched.thread = threading.Thread(
                target=_serve, args=(sched,), name="gopool-timers", daemon=True
            )
    if start is not None:
        start.start()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_parent,
        after_in_child=_after_fork_child,
    )


# The deadlock check counts pending timers as a way out of a deadlock.
_goroutines.watch_timers(pending_count, scheduler_thread)
