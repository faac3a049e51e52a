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
  earliest. It never polls.
* Callbacks run on the scheduler thread, outside ``lock``, in deadline
  order. A handle is marked fired under ``lock`` before its callback runs,
  so :meth:`TimerHandle.cancel` returns True exactly when it prevented the
  callback.
* Lock order: a timer's own lock, then the scheduler's ``lock``, then a
  channel's lock. The scheduler never takes a timer's lock while holding
  its ``lock``.
* ``os.fork()``: the child starts with a fresh scheduler (new lock, empty
  heap, no thread) and makes its own thread on its first timer. Timers
  pending in the parent at the fork do not fire in the child.

Invariants of a :class:`Timer` or :class:`Ticker` (Go >= 1.23 channel
semantics), kept under the timer's own lock:

* Its channel holds at most one value (a tick waiting to be received) and
  reports ``len == cap == 0``, as Go's synchronous timer channels do.
* Every ``stop()`` and ``reset()`` bumps a generation number and empties the
  channel; a firing delivers only if its generation is still current. So no
  value from before a ``stop()`` or ``reset()`` is received after it returns.
* ``active`` is True from arming until the firing delivers (one-shot) or a
  ``stop()``; ``stop()`` reports True if it found the timer active or took
  an unreceived value out of the channel.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from ._waiter import Waiter
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


def _duration(seconds: object) -> float:
    """``seconds`` (a real number or a ``timedelta``) as a float; NaN is refused."""
    if type(seconds) is float:
        d = seconds
    elif isinstance(seconds, timedelta):
        d = seconds.total_seconds()
    elif isinstance(seconds, int | float) and not isinstance(seconds, bool):
        d = float(seconds)
    else:
        raise TypeError(
            f"duration must be a number of seconds or a timedelta, not {type(seconds).__name__}"
        )
    if math.isnan(d):
        raise ValueError("duration is NaN")
    return d


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
            if self._state != _PENDING:
                return False
            self._state = _CANCELLED
            self._callback = None
            sched.cancelled += 1
            if sched.cancelled * 2 > len(sched.heap):
                sched.compact()
        return True

    @property
    def when(self) -> float:
        """The monotonic time the callback is (or was last) due."""
        with self._sched.lock:
            return self._when

    def __repr__(self) -> str:
        state = _STATE_NAMES[self._state]
        period = f" period={self._period:g}s" if self._period else ""
        return f"<TimerHandle {state} when={self._when:.6f}{period} at {id(self):#x}>"


class _Scheduler:
    """The heap and the thread serving it; one per process (a fresh one after fork)."""

    __slots__ = ("cancelled", "cond", "heap", "lock", "running", "seq", "thread")

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
        # Held while callbacks run, so that fork() waits for a batch to end
        # instead of copying a timer's lock held mid-delivery.
        self.running = threading.RLock()

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
    args = threading.ExceptHookArgs(
        (type(exc), exc, exc.__traceback__, threading.current_thread())
    )
    try:
        threading.excepthook(args)
    except Exception:  # a broken hook must not stop every timer of the process
        sys.__excepthook__(type(exc), exc, exc.__traceback__)


def _serve(sched: _Scheduler) -> None:
    """The scheduler thread: run callbacks as they come due; exit when none is left."""
    me = threading.current_thread()
    while True:
        with sched.lock:
            due = sched.collect_due(me)
        if due is None:
            return
        with sched.running:
            for callback in due:
                try:
                    callback()
                except BaseException as exc:
                    _report(exc)
            del callback
        del due


_sched = _Scheduler()


def schedule(
    when: float, callback: Callable[[], None], *, period: float = 0.0
) -> TimerHandle:
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
    global _sched
    old = _sched
    # The old scheduler's thread does not exist here; its handles stay valid
    # (cancel() still works on them) but will never fire.
    old.thread = None
    old.lock.release()
    old.running.release()
    _sched = _Scheduler()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_parent,
        after_in_child=_after_fork_child,
    )


# -- timer channels --


class _TimerChan(Chan[float]):
    """A timer's channel: receive-only, holding at most one undelivered tick.

    Reports ``len == cap == 0``: as of Go 1.23 a timer channel behaves as
    unbuffered, since ``stop()``/``reset()`` take back a tick not yet
    received.
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(1)

    def _offer(self, value: float) -> None:
        """Send without blocking; dropped if a tick is already waiting."""
        with self._lock:
            done = self._poll_send(value)
        if done is not True and done is not False:
            done.wake()

    def _drain(self) -> bool:
        """Take back an unreceived tick; True if there was one."""
        with self._lock:
            if self._buf:
                self._buf.clear()
                return True
            return False

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

    def __repr__(self) -> str:
        waiting = self.statistics()["receivers_waiting"]
        extra = f" receivers_waiting={waiting}" if waiting else ""
        return f"<timer Chan{extra} at {id(self):#x}>"


class _Core:
    """The state behind a Timer or Ticker; ``lock`` guards every field."""

    __slots__ = ("active", "chan", "fired", "fn", "gen", "handle", "lock", "period")

    def __init__(
        self, chan: _TimerChan | None, fn: Callable[[], object] | None, period: float
    ) -> None:
        self.lock = threading.Lock()
        self.chan = chan
        self.fn = fn
        self.period = period
        self.gen = 0
        self.handle: TimerHandle | None = None
        self.active = False
        self.fired = False

    def arm(self, when: float) -> None:
        """Schedule the next firing at ``when``; ``lock`` held, timer halted."""
        self.active = True
        self.fired = False
        self.handle = schedule(when, partial(self.fire, self.gen), period=self.period)

    def halt(self) -> bool:
        """Stop any firing and take back an unreceived tick; ``lock`` held.

        True if the timer was active or a tick was taken back.
        """
        self.gen += 1
        pending = self.active
        self.active = False
        self.fired = False
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        if self.chan is not None and self.chan._drain():
            pending = True
        return pending

    def fire(self, gen: int) -> None:
        """The scheduler's callback: deliver, unless stopped or reset since."""
        fn = None
        with self.lock:
            if gen != self.gen:
                return
            if not self.period:
                self.active = False
            self.fired = True
            if self.chan is not None:
                self.chan._offer(_monotonic())
            else:
                fn = self.fn
        if fn is not None:
            go(fn)

    def describe(self) -> str:
        """The state for a repr: active (and when it fires next), fired or stopped."""
        with self.lock:
            if self.active and self.handle is not None:
                left = max(self.handle.when - _monotonic(), 0.0)
                state = f"active next={left:.3f}s"
            elif self.fired:
                state = "fired"
            else:
                state = "stopped"
            period = f" period={self.period:g}s" if self.period else ""
            return f"{state}{period}"


class Timer:
    """A single event (Go's ``time.NewTimer``): the monotonic time is sent on ``c``.

    ``Timer(seconds)`` fires once, ``seconds`` (a float or a ``timedelta``)
    from now; a negative or zero duration fires at once. ``c`` follows Go >=
    1.23: after :meth:`stop` or :meth:`reset` returns, no value from before
    the call is received, and ``len(c) == c.cap == 0``. A timer made by
    :func:`after_func` has ``c`` set to :data:`nilchan` (Go's nil ``C``).

    Raises ``TypeError`` for a duration that is not a number or a
    ``timedelta``, ``ValueError`` for NaN.
    """

    c: RecvChan[float] = nilchan
    _core: _Core | None = None

    def __init__(self, seconds: float | timedelta) -> None:
        when = _deadline(seconds)
        chan = _TimerChan()
        core = _Core(chan, None, 0.0)
        self.c = chan
        self._core = core
        with core.lock:
            core.arm(when)

    @classmethod
    def _func(cls, seconds: float | timedelta, fn: Callable[[], object]) -> Timer:
        when = _deadline(seconds)
        t = cls.__new__(cls)
        core = _Core(None, fn, 0.0)
        t.c = nilchan
        t._core = core
        with core.lock:
            core.arm(when)
        return t

    def _checked(self, op: str) -> _Core:
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
        with core.lock:
            return core.halt()

    def reset(self, seconds: float | timedelta) -> bool:
        """Make the timer fire ``seconds`` from now; True if it was running.

        Like :meth:`stop` followed by a restart: the return value is what
        :meth:`stop` would have returned, and no value from before the call
        is received after it. For an :func:`after_func` timer, True means
        the call moved the pending ``fn``; False means it schedules ``fn`` to
        run again (possibly alongside the earlier run). Never blocks.
        Raises ``RuntimeError`` on a Timer never initialised, and the
        duration errors of the constructor.
        """
        core = self._checked("Reset")
        when = _deadline(seconds)
        with core.lock:
            pending = core.halt()
            core.arm(when)
        return pending

    def __repr__(self) -> str:
        core = self._core
        state = "uninitialized" if core is None else core.describe()
        kind = " func" if core is not None and core.fn is not None else ""
        return f"<Timer{kind} {state} at {id(self):#x}>"


class Ticker:
    """A channel of ticks every ``seconds`` (Go's ``time.NewTicker``).

    The first tick comes one period from now. A slow reader loses ticks
    instead of queueing them: ``c`` holds at most one, and the ticker skips
    the periods it missed. Channel semantics as :class:`Timer` (Go >= 1.23):
    after :meth:`stop` or :meth:`reset` returns, no tick from before the
    call is received. Stop a ticker that is no longer needed: a running
    ticker keeps the scheduler thread alive.

    Raises ``ValueError`` ("non-positive interval for NewTicker") if
    ``seconds <= 0``, ``TypeError`` for a duration of the wrong kind.
    """

    c: RecvChan[float] = nilchan
    _core: _Core | None = None

    def __init__(self, seconds: float | timedelta) -> None:
        d = _duration(seconds)
        if d <= 0:
            raise ValueError("non-positive interval for NewTicker")
        chan = _TimerChan()
        core = _Core(chan, None, d)
        self.c = chan
        self._core = core
        with core.lock:
            core.arm(_monotonic() + d)

    def stop(self) -> None:
        """Turn the ticker off: no tick is received after this returns.

        Does not close ``c``. Never blocks. A Ticker never initialised
        (Go's ``&Ticker{C: c}``) is left alone.
        """
        core = self._core
        if core is None:
            return
        with core.lock:
            core.halt()

    def reset(self, seconds: float | timedelta) -> None:
        """Restart the ticker (stopped or not) with period ``seconds``; next tick one period on.

        No tick from before the call is received after it. Raises
        ``ValueError`` ("non-positive interval for Ticker.Reset") if
        ``seconds <= 0``, ``RuntimeError`` on a Ticker never initialised.
        """
        d = _duration(seconds)
        if d <= 0:
            raise ValueError("non-positive interval for Ticker.Reset")
        core = self._core
        if core is None:
            raise RuntimeError("time: Reset called on uninitialized Ticker")
        with core.lock:
            core.halt()
            core.period = d
            core.arm(_monotonic() + d)

    def __repr__(self) -> str:
        core = self._core
        state = "uninitialized" if core is None else core.describe()
        return f"<Ticker {state} at {id(self):#x}>"


# -- the package-level functions --


def after(seconds: float | timedelta) -> RecvChan[float]:
    """A channel that receives the monotonic time once, ``seconds`` from now (Go's ``time.After``).

    Same as ``Timer(seconds).c``. A negative or zero duration fires at once.
    The timer cannot be stopped; use :class:`Timer` for that. Raises as
    :class:`Timer`.
    """
    return Timer(seconds).c


def after_func(seconds: float | timedelta, fn: Callable[[], object]) -> Timer:
    """Run ``fn()`` in its own goroutine ``seconds`` from now (Go's ``time.AfterFunc``).

    Returns a :class:`Timer` whose ``stop()`` cancels the call and whose
    ``reset()`` reschedules it; its ``c`` is :data:`nilchan`. An exception
    escaping ``fn`` goes to ``threading.excepthook``. Raises ``TypeError`` if
    ``fn`` is not callable, and the duration errors of :class:`Timer`.
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
    deadline = _monotonic() + d
    w = Waiter()  # published nowhere: only its timeout ends the park
    while True:
        left = deadline - _monotonic()
        if left <= 0:
            return
        w.park(min(left, _MAX_WAIT))


def tick(seconds: float | timedelta) -> RecvChan[float]:
    """The channel of a new :class:`Ticker` (Go's ``time.Tick``); nilchan if ``seconds <= 0``.

    The ticker can never be stopped: use :class:`Ticker` when it must be.
    """
    if _duration(seconds) <= 0:
        return nilchan
    return Ticker(seconds).c
