"""Go's ``time`` package timers: one scheduler thread for every timer of the process.

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

Invariants of a :class:`Timer` or :class:`Ticker` (Go >= 1.23 channel
semantics), kept under its channel's lock:

* The channel holds at most one value (a tick waiting to be received) and
  reports ``len == cap == 0``, as Go's synchronous timer channels do.
* Every ``stop()`` and ``reset()`` bumps a generation number and empties the
  channel; a firing delivers only if its generation is still current. So no
  value from before a ``stop()`` or ``reset()`` is received after it returns.
* ``active`` is True from arming until the firing delivers (one-shot) or a
  ``stop()``; ``stop()`` reports True if it found the timer active or took
  an unreceived value out of the channel, which is exactly "the value had
  not been received".
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
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from ._duration import seconds as _duration
from ._waiter import ThreadWaiter, refuse_in_loop
from .chan import Chan, RecvChan, go, nilchan

__all__ = [
    "Ticker",
    "Timer",
    "TimerHandle",
    "after",
    "after_func",
    "pending_count",
    "schedule",
    "scheduler_thread",
    "sleep",
    "tick",
]

_monotonic = time.monotonic

# Longest single wait: lock waits refuse timeouts above TIMEOUT_MAX. A
# deadline further away than this is simply waited for in several steps.
_MAX_WAIT = min(threading.TIMEOUT_MAX, 86400.0)

_PENDING, _FIRED, _CANCELLED = 0, 1, 2
_STATE_NAMES = ("pending", "fired", "cancelled")


def _deadline(seconds: object) -> float:
    """The monotonic time ``seconds`` from now; now for a negative or zero duration."""
    d = _duration(seconds)
    now = _monotonic()
    return now + d if d > 0 else now


# -- the scheduler --


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

    __slots__ = ("cancelled", "cond", "heap", "lock", "reaped", "running", "seq", "thread")

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
            self.cond.wait(min(delay, _MAX_WAIT))
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


def _next_tick(when: float, period: float, now: float) -> float:
    """The first ``when + k * period`` after ``now`` (k >= 1): late ticks are dropped."""
    nxt = when + period * (1 + math.floor((now - when) / period))
    if nxt <= now:  # rounding, or a period below the clock's resolution
        nxt = now + period
        if nxt <= now:
            nxt = math.nextafter(now, math.inf)
    return nxt


def _report(exc: BaseException) -> None:
    """Hand an exception escaping a callback to ``threading.excepthook``."""
    args = threading.ExceptHookArgs((type(exc), exc, exc.__traceback__, threading.current_thread()))
    try:
        threading.excepthook(args)
    except Exception:  # a broken hook must not stop every timer of the process
        sys.__excepthook__(type(exc), exc, exc.__traceback__)


def _run(due: list[Callable[[], None]]) -> None:
    for callback in due:
        try:
            callback()
        except BaseException as exc:
            _report(exc)


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
    if not callable(callback):
        raise TypeError(f"schedule: callback {callback!r} is not callable")
    if not isinstance(when, int | float) or isinstance(when, bool):
        raise TypeError(f"schedule: when must be a monotonic time, not {type(when).__name__}")
    when = float(when)
    if math.isnan(when):
        raise ValueError("schedule: when is NaN")
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
    _launcher.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_parent,
        after_in_child=_after_fork_child,
    )


# -- timers and tickers --


class _TimerLogic:
    """Arming, halting and firing, shared by channel timers and func timers.

    A subclass provides the fields below (as slots) and two hooks:
    ``_schedule(when)`` (put the next firing on the scheduler, with a
    callback that ends in the subclass's ``_fire(gen)``) and
    ``_take_back()`` (empty the channel). ``_lock`` guards every field.
    """

    if not TYPE_CHECKING:
        # Empty, so that Chan (which has slots) can be a co-base; hidden from
        # mypy, which would otherwise refuse the fields the subclasses hold.
        __slots__ = ()

    _lock: threading.Lock
    _gen: int
    _handle: TimerHandle | None
    _active: bool
    _fired: bool
    _period: float

    def _init_timer(self, period: float) -> None:
        self._gen = 0
        self._handle = None
        self._active = False
        self._fired = False
        self._period = period

    def _schedule(self, when: float) -> TimerHandle:
        raise NotImplementedError  # pragma: no cover

    def _take_back(self) -> bool:
        raise NotImplementedError  # pragma: no cover

    def _arm(self, when: float) -> None:
        """Schedule the next firing at ``when``; ``_lock`` held, timer halted."""
        self._active = True
        self._fired = False
        self._handle = self._schedule(when)

    def _halt(self) -> bool:
        """Stop any firing and take back an unreceived tick; ``_lock`` held.

        True if the timer was active or a tick was taken back. The new
        generation turns away a firing already under way.
        """
        self._gen += 1
        pending = self._active
        self._active = False
        self._fired = False
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._take_back():
            pending = True
        return pending

    def _describe(self) -> str:
        """The state for a repr: active (and when it fires next), fired or stopped."""
        with self._lock:
            if self._active and self._handle is not None:
                left = max(self._handle.when - _monotonic(), 0.0)
                state = f"active next={left:.3f}s"
            elif self._fired:
                state = "fired"
            else:
                state = "stopped"
            period = f" period={self._period:g}s" if self._period else ""
            return f"{state}{period}"


class _TimerRef(weakref.ref["_TimerChan"]):
    """The scheduler's weak reference to a timer channel, knowing its entry.

    The heap holds a timer channel only through this, so a channel that
    nobody can receive from any more is collected, and its entry reaped,
    as Go >= 1.23 collects unreferenced timers.
    """

    __slots__ = ("handle",)
    handle: TimerHandle | None


def _reap_ref(ref: weakref.ref[_TimerChan]) -> None:
    handle = ref.handle if isinstance(ref, _TimerRef) else None
    if handle is not None:
        handle._sched.reap(handle)


def _fire_ref(ref: _TimerRef, gen: int) -> None:
    chan = ref()
    if chan is not None:
        chan._fire(gen)


class _TimerChan(Chan[float], _TimerLogic):
    """The channel of a Timer or Ticker, and the timer itself.

    Receive-only; holds at most one undelivered tick. Reports ``len == cap
    == 0``: as of Go 1.23 a timer channel behaves as unbuffered, since
    ``stop()`` and ``reset()`` take back a tick not yet received. The
    channel's own ``_lock`` is the timer's lock.
    """

    __slots__ = ("_active", "_fired", "_gen", "_handle", "_period")

    def __init__(self, period: float) -> None:
        Chan.__init__(self, 1)
        self._init_timer(period)

    def _schedule(self, when: float) -> TimerHandle:
        ref = _TimerRef(self, _reap_ref)
        ref.handle = None
        handle = schedule(when, partial(_fire_ref, ref, self._gen), period=self._period)
        ref.handle = handle
        return handle

    def _take_back(self) -> bool:
        if self._buf:
            self._buf.clear()
            return True
        return False

    def _fire(self, gen: int) -> None:
        """Deliver the time without blocking, unless stopped or reset since.

        A tick still waiting in the channel makes this one dropped (a
        Ticker's slow reader).
        """
        with self._lock:
            if gen != self._gen:
                return
            if not self._period:
                self._active = False
            self._fired = True
            done = self._poll_send(_monotonic())
        if done is not True and done is not False:
            done.wake()

    def send(self, value: float, *, timeout: Any = None) -> None:
        """Raise ``TypeError``: a timer's channel is receive-only (Go's ``<-chan Time``)."""
        raise TypeError("send to receive-only timer channel")

    def close(self) -> None:
        """Raise ``TypeError``: a timer's channel is receive-only and never closed."""
        raise TypeError("close of receive-only timer channel")

    def __len__(self) -> int:
        return 0

    @property
    def cap(self) -> int:
        """0: a timer channel is synchronous (Go >= 1.23)."""
        return 0

    def statistics(self) -> dict[str, int | bool]:
        """As :meth:`Chan.statistics`, with ``len`` and ``cap`` as Go reports them (0)."""
        stats = super().statistics()
        stats["len"] = stats["cap"] = 0
        return stats

    def __repr__(self) -> str:
        waiting = self.statistics()["receivers_waiting"]
        extra = f" receivers_waiting={waiting}" if waiting else ""
        return f"<timer Chan {self._describe()}{extra} at {id(self):#x}>"


class _FuncTimer(_TimerLogic):
    """The timer of :func:`after_func`: runs ``fn`` in a goroutine when it fires."""

    __slots__ = ("_active", "_fired", "_fn", "_gen", "_handle", "_lock", "_period")

    def __init__(self, fn: Callable[[], object]) -> None:
        self._lock = threading.Lock()
        self._fn = fn
        self._init_timer(0.0)

    def _schedule(self, when: float) -> TimerHandle:
        # A strong reference: fn must run even if nobody holds the Timer.
        return schedule(when, partial(self._fire, self._gen))

    def _take_back(self) -> bool:
        return False

    def _fire(self, gen: int) -> None:
        with self._lock:
            if gen != self._gen:
                return
            self._active = False
            self._fired = True
        _launcher.launch(self._fn)


class _Launcher:
    """Starts the goroutines of fired :func:`after_func` timers, off the scheduler thread.

    Starting a thread takes about 0.1 ms (longer when a CPU-bound thread holds
    the GIL); on the scheduler thread, a burst of firings would make every
    other timer of the process late. The scheduler only queues the function;
    one launcher thread, alive while the queue is non-empty, starts the
    goroutines. ``lock`` guards ``queue`` and ``thread``.
    """

    __slots__ = ("lock", "queue", "thread")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queue: deque[Callable[[], object]] = deque()
        self.thread: threading.Thread | None = None

    def launch(self, fn: Callable[[], object]) -> None:
        start = None
        with self.lock:
            self.queue.append(fn)
            if self.thread is None:
                start = self.thread = threading.Thread(
                    target=self._run, name="gopool-timers-launcher", daemon=True
                )
        if start is not None:
            start.start()

    def _run(self) -> None:
        while True:
            with self.lock:
                if not self.queue:
                    self.thread = None
                    return
                fn = self.queue.popleft()
            go(fn)

    def after_fork_in_child(self) -> None:
        # The launcher thread did not survive the fork, and may have held lock.
        self.lock = threading.Lock()
        self.thread = None
        if self.queue:
            self.launch(self.queue.pop())  # re-queued by launch, which starts a thread


_launcher = _Launcher()


class Timer:
    """A single event (Go's ``time.NewTimer``): the monotonic time is sent on ``c``.

    ``Timer(seconds)`` fires once, ``seconds`` (a float or a ``timedelta``)
    from now; a negative or zero duration fires at once. ``c`` follows Go >=
    1.23: after :meth:`stop` or :meth:`reset` returns, no value from before
    the call is received, and ``len(c) == c.cap == 0``. A timer made by
    :func:`after_func` has ``c`` set to :data:`nilchan` (Go's nil ``C``).
    A timer that nobody references any more (neither the Timer nor ``c``)
    is dropped from the scheduler, as Go >= 1.23 collects it.

    Raises ``TypeError`` for a duration that is not a number or a
    ``timedelta``, ``ValueError`` for NaN.

        >>> t = Timer(0.01)
        >>> t.c.recv() > 0
        True
        >>> t.stop()                  # already received: nothing to stop
        False
    """

    c: RecvChan[float] = nilchan
    _core: _TimerLogic | None = None

    def __init__(self, seconds: float | timedelta) -> None:
        when = _deadline(seconds)
        chan = _TimerChan(0.0)
        self.c = chan
        self._core = chan
        with chan._lock:
            chan._arm(when)

    @classmethod
    def _func(cls, seconds: float | timedelta, fn: Callable[[], object]) -> Timer:
        when = _deadline(seconds)
        t = cls.__new__(cls)
        core = _FuncTimer(fn)
        t.c = nilchan
        t._core = core
        with core._lock:
            core._arm(when)
        return t

    def _checked(self, op: str) -> _TimerLogic:
        core = self._core
        if core is None:
            raise RuntimeError(f"time: {op} called on uninitialized Timer")
        return core

    def stop(self) -> bool:
        """Prevent the timer from firing; True if this call stopped it.

        True if the timer was running, or had fired but its value was not
        yet received (the value is taken back: a later receive on ``c``
        blocks). False if the value was already received, or the timer was
        already stopped. For an :func:`after_func` timer, False means ``fn``
        has been started in its own goroutine; ``stop`` does not wait for it.
        Never blocks. Raises ``RuntimeError`` on a Timer never initialised.
        """
        core = self._checked("Stop")
        with core._lock:
            return core._halt()

    def reset(self, seconds: float | timedelta) -> bool:
        """Make the timer fire ``seconds`` from now; True if it was running.

        Returns what :meth:`stop` would have: True if the timer was running
        or its value was not yet received. No value from before the call is
        received after it. For an :func:`after_func` timer, True means the
        call moved the pending ``fn``; False means it schedules ``fn`` to run
        again (possibly alongside the earlier run). Never blocks. Raises
        ``RuntimeError`` on a Timer never initialised, and the duration
        errors of the constructor.
        """
        core = self._checked("Reset")
        when = _deadline(seconds)
        with core._lock:
            pending = core._halt()
            core._arm(when)
        return pending

    def __repr__(self) -> str:
        core = self._core
        state = "uninitialized" if core is None else core._describe()
        kind = " func" if isinstance(core, _FuncTimer) else ""
        return f"<Timer{kind} {state} at {id(self):#x}>"


class Ticker:
    """A channel of ticks every ``seconds`` (Go's ``time.NewTicker``).

    The first tick comes one period from now. A slow reader loses ticks
    instead of queueing them: ``c`` holds at most one, and the ticker skips
    the periods it missed. Channel semantics as :class:`Timer` (Go >= 1.23):
    after :meth:`stop` or :meth:`reset` returns, no tick from before the
    call is received. A running ticker keeps the scheduler thread alive
    until it is stopped or nothing references it any more.

    Raises ``ValueError`` ("non-positive interval for NewTicker") if
    ``seconds <= 0``, ``TypeError`` for a duration of the wrong kind.
    """

    c: RecvChan[float] = nilchan
    _core: _TimerChan | None = None

    def __init__(self, seconds: float | timedelta) -> None:
        d = _duration(seconds)
        if d <= 0:
            raise ValueError("non-positive interval for NewTicker")
        chan = _TimerChan(d)
        self.c = chan
        self._core = chan
        with chan._lock:
            chan._arm(_monotonic() + d)

    def stop(self) -> None:
        """Turn the ticker off: no tick is received after this returns.

        Does not close ``c``. Never blocks. A Ticker never initialised
        (Go's ``&Ticker{C: c}``) is left alone.
        """
        core = self._core
        if core is None:
            return
        with core._lock:
            core._halt()

    def reset(self, seconds: float | timedelta) -> None:
        """Restart the ticker (stopped or not) with period ``seconds``; next tick one period on.

        No tick from before the call is received after it. Never blocks.
        Raises ``ValueError`` ("non-positive interval for Ticker.Reset") if
        ``seconds <= 0``, ``RuntimeError`` on a Ticker never initialised.
        """
        d = _duration(seconds)
        if d <= 0:
            raise ValueError("non-positive interval for Ticker.Reset")
        core = self._core
        if core is None:
            raise RuntimeError("time: Reset called on uninitialized Ticker")
        with core._lock:
            core._halt()
            core._period = d
            core._arm(_monotonic() + d)

    def __repr__(self) -> str:
        core = self._core
        state = "uninitialized" if core is None else core._describe()
        return f"<Ticker {state} at {id(self):#x}>"


# -- the package-level functions --


def after(seconds: float | timedelta) -> RecvChan[float]:
    """A channel that receives the monotonic time once, ``seconds`` from now (Go's ``time.After``).

    Same as ``Timer(seconds).c``; a negative or zero duration fires at once.
    Dropping the channel unreceived drops the timer. Raises as
    :class:`Timer`.
    """
    return Timer(seconds).c


def after_func(seconds: float | timedelta, fn: Callable[[], object]) -> Timer:
    """Run ``fn()`` in its own goroutine ``seconds`` from now (Go's ``time.AfterFunc``).

    Returns a :class:`Timer` whose ``stop()`` cancels the call and whose
    ``reset()`` reschedules it; its ``c`` is :data:`nilchan`. ``fn`` runs
    even if the Timer is dropped. An exception escaping ``fn`` goes to
    ``threading.excepthook``. Raises ``TypeError`` if ``fn`` is not
    callable, and the duration errors of :class:`Timer`.
    """
    if not callable(fn):
        raise TypeError(f"after_func: {fn!r} is not callable")
    return Timer._func(seconds, fn)


def sleep(seconds: float | timedelta) -> None:
    """Block the calling thread for at least ``seconds`` (Go's ``time.Sleep``).

    Returns at once for a negative or zero duration. Parks on a lock with a
    timeout (no polling, no scheduler entry), so ``KeyboardInterrupt``
    reaches a main thread sleeping here, and ``float('inf')`` sleeps until
    interrupted. Raises ``TypeError``/``ValueError`` for a bad duration.
    """
    d = _duration(seconds)
    if not d > 0:
        return
    refuse_in_loop("gopool.sleep", "await asyncio.sleep(seconds)")
    deadline = _monotonic() + d
    w = ThreadWaiter()  # published nowhere: only its timeout ends the park
    while True:
        left = deadline - _monotonic()
        if left <= 0:
            return
        w.park(min(left, _MAX_WAIT))


def tick(seconds: float | timedelta) -> RecvChan[float]:
    """The channel of a new :class:`Ticker` (Go's ``time.Tick``); nilchan if ``seconds <= 0``.

    The ticker cannot be stopped; it runs while the channel is referenced.
    Use :class:`Ticker` when it must be stopped.
    """
    if _duration(seconds) <= 0:
        return nilchan
    return Ticker(seconds).c
