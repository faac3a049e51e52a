"""Go's ``time`` package timers: one scheduler thread for every timer of the process.

The scheduler thread (one for the whole process) is in
:mod:`gopool._scheduler`; this module builds Go's timers on it.

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

A timer's or ticker's channel is a :class:`~gopool.chan.RecvOnlyChan` in
front of a one-slot :class:`~gopool.chan.Chan`, whose lock is the timer's
lock. The scheduler holds it only weakly, so a channel nobody can receive
from any more is collected and its entry reaped; ``select`` never keeps a
timer's cases for the same reason.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from ._checks import check_callable
from ._duration import seconds as _duration
from ._scheduler import (
    MAX_WAIT,
    ReapingRef,
    TimerHandle,
    pending_count,
    schedule,
    scheduler_thread,
)
from ._waiter import ThreadWaiter, refuse_in_loop
from .chan import Chan, RecvChan, RecvOnlyChan, go, nilchan

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


def _deadline(seconds: object) -> float:
    """The monotonic time ``seconds`` from now; now for a negative or zero duration."""
    d = _duration(seconds)
    now = _monotonic()
    return now + d if d > 0 else now


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


def _fire_ref(ref: ReapingRef[_TimerChan], gen: int) -> None:
    chan = ref()
    if chan is not None:
        chan._fire(gen)


class _TimerChan(RecvOnlyChan[float], _TimerLogic):
    """The channel of a Timer or Ticker, and the timer itself.

    Receive-only; the channel behind it holds at most one undelivered tick,
    and its lock is the timer's lock. Reports ``len == cap == 0``: as of Go
    1.23 a timer channel behaves as unbuffered, since ``stop()`` and
    ``reset()`` take back a tick not yet received.
    """

    __slots__ = ("_active", "_fired", "_gen", "_handle", "_lock", "_period")

    # A dropped timer channel must be collected at once: select never keeps it.
    _select_cache = False

    def __init__(self, period: float) -> None:
        ch: Chan[float] = Chan(1)
        RecvOnlyChan.__init__(self, ch)
        self._lock = ch._lock
        self._init_timer(period)

    def _schedule(self, when: float) -> TimerHandle:
        ref = ReapingRef(self)
        handle = schedule(when, partial(_fire_ref, ref, self._gen), period=self._period)
        ref.handle = handle
        return handle

    def _take_back(self) -> bool:
        buf = self._chan._buf
        if buf:
            buf.clear()
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
            done = self._chan._poll_send(_monotonic())
        if done is not True and done is not False:
            done.wake()

    def __len__(self) -> int:
        return 0

    @property
    def cap(self) -> int:
        """0: a timer channel is synchronous (Go >= 1.23)."""
        return 0

    def __repr__(self) -> str:
        waiting = self._chan.statistics()["receivers_waiting"]
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

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_launcher.after_fork_in_child)


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
    check_callable(fn, "after_func")
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
    w = ThreadWaiter(("sleep", None))  # published nowhere: only its timeout ends the park
    while True:
        left = deadline - _monotonic()
        if left <= 0:
            return
        w.park(min(left, MAX_WAIT))


def tick(seconds: float | timedelta) -> RecvChan[float]:
    """The channel of a new :class:`Ticker` (Go's ``time.Tick``); nilchan if ``seconds <= 0``.

    The ticker cannot be stopped; it runs while the channel is referenced.
    Use :class:`Ticker` when it must be stopped.
    """
    if _duration(seconds) <= 0:
        return nilchan
    return Ticker(seconds).c
