"""Tests for ``gopool.timers``: the one scheduler thread, ``schedule()``, Timer,
Ticker, after, after_func, sleep and tick.

Most tests are ports of Go's src/time/sleep_test.go and src/time/tick_test.go
(Go >= 1.23 semantics: synchronous timer channels, no stale values after
``stop()``/``reset()``). Timings are asserted as lower bounds, or with Go's
retry-with-longer-durations pattern; never as tight upper bounds.
"""

from __future__ import annotations

import gc
import math
import os
import random
import select as _select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import STRESS, stress_test, until

import gopool
import gopool._panic
from gopool import _scheduler, timers
from gopool.chan import Chan, ClosedChannelError, RecvChan, default, go, nilchan, select
from gopool.timers import (
    Ticker,
    Timer,
    after,
    after_func,
    pending_count,
    schedule,
    scheduler_thread,
    sleep,
    tick,
)

pytestmark = [pytest.mark.timeout(60), pytest.mark.parallel_safe]

REPO = Path(gopool.__file__).resolve().parent.parent
HOUR = 3600.0
NS = 1e-9


def new_timer_func(d: float) -> Timer:
    """Go's newTimerFunc: a Timer made by after_func, sending on a buffered channel."""
    c: Chan[float] = Chan(1)
    t = after_func(d, lambda: c.send(time.monotonic()))
    t.c = c
    return t


def ready(c: RecvChan[Any]) -> bool:
    """Receive from ``c`` without blocking; True if a value was taken."""
    return select(c.recv, default)[0] == 0


def settle() -> int:
    """Wait until no pending timer is due within a minute; return pending_count().

    Earlier tests leave short timers behind (Go's ports do); counting tests
    take their baseline once those have fired. White-box: reads the heap.
    """
    gc.collect()

    def quiet() -> bool:
        sched = _scheduler._sched
        with sched.lock:
            horizon = time.monotonic() + 60
            return all(e[0] > horizon for e in sched.heap if e[2]._state == _scheduler._PENDING)

    until(quiet, "earlier tests' timers to fire", deadline=20)
    return pending_count()


def run_python(code: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


# -- src/time/sleep_test.go --


def test_sleep() -> None:
    """Port of Go's TestSleep in src/time/sleep_test.go (without Interrupt)."""
    delay = 0.1
    start = time.monotonic()
    sleep(delay)
    assert time.monotonic() - start >= delay


def test_after_func() -> None:
    """Port of Go's TestAfterFunc in src/time/sleep_test.go.

    Each call starts the next with after_func(0, f) and then sleeps: the
    calls must run in goroutines of their own, not on the scheduler thread.
    """
    lock = threading.Lock()
    i = 10
    c: Chan[bool] = Chan()

    def f() -> None:
        nonlocal i
        with lock:
            i -= 1
            again = i >= 0
        if again:
            after_func(0, f)
            sleep(1)
        else:
            c.send(True)

    after_func(0, f)
    assert c.recv(timeout=10) is True


@stress_test(timeout=60)
def test_ticker_stress() -> None:
    """Port of Go's TestTickerStress in src/time/sleep_test.go."""
    ticker = Ticker(NS)
    for _ in range(STRESS.iterations(100)):
        ticker.c.recv(timeout=10)
    ticker.stop()


@stress_test(timeout=60)
def test_ticker_concurrent_stress() -> None:
    """Port of Go's TestTickerConcurrentStress in src/time/sleep_test.go."""
    ticker = Ticker(NS)

    def reader() -> None:
        for _ in range(100):
            ticker.c.recv(timeout=10)

    threads = [go(reader) for _ in range(STRESS.threads(10))]
    for th in threads:
        th.join(STRESS.seconds(20))
        assert not th.is_alive()
    ticker.stop()


def test_after_func_starvation() -> None:
    """Port of Go's TestAfterFuncStarvation in src/time/sleep_test.go.

    Two threads ping-pong on a channel; the after_func callback must still
    get to run and stop them.
    """
    stop = threading.Event()
    c: Chan[bool] = Chan(1)

    def sender() -> None:
        while not stop.is_set():
            c.send(True)
        c.close()

    def receiver() -> None:
        for _ in c:
            pass

    threads = [go(sender), go(receiver)]
    after_func(1e-6, stop.set)
    for th in threads:
        th.join(20)
        assert not th.is_alive()


def test_after() -> None:
    """Port of Go's TestAfter in src/time/sleep_test.go."""
    delay = 0.1
    start = time.monotonic()
    end = after(delay).recv(timeout=10)
    assert end is not None
    assert time.monotonic() - start >= delay
    assert end >= start + delay


def test_after_tick() -> None:
    """Port of Go's TestAfterTick in src/time/sleep_test.go (its -short durations).

    Only the lower bound: the upper one is left to the retrying tests.
    """
    count, delta = 10, 0.02
    t0 = time.monotonic()
    for _ in range(count):
        after(delta).recv(timeout=10)
    assert time.monotonic() - t0 >= delta * count * 9 / 10


@pytest.mark.parametrize("new_timer", [Timer, new_timer_func], ids=["chan", "func"])
def test_after_stop(new_timer: Callable[[float], Timer]) -> None:
    """Port of Go's TestAfterStop in src/time/sleep_test.go (impl=chan and impl=func)."""
    errs = []
    for _ in range(5):
        after_func(0.1, lambda: None)
        t0 = new_timer(0.05)
        c1: Chan[bool] = Chan(1)
        t1 = after_func(0.15, lambda c1=c1: c1.send(True))  # type: ignore[misc]
        c2 = after(0.2)
        if not t0.stop():
            errs.append("failed to stop event 0")
            continue
        if not t1.stop():
            errs.append("failed to stop event 1")
            continue
        c2.recv(timeout=10)
        i, _ = select(t0.c.recv, c1.recv, default)
        if i == 0:
            errs.append("event 0 was not stopped")
            continue
        if i == 1:
            errs.append("event 1 was not stopped")
            continue
        if t1.stop():
            errs.append("Stop returned true twice")
            continue
        return
    pytest.fail(f"saw {len(errs)} errors: {errs}")


SLOTS = [5, 3, 6, 6, 6, 1, 1, 2, 7, 9, 4, 8, 0]


def _after_queuing1(delta: float, after_: Callable[[float], RecvChan[float]]) -> str | None:
    result: Chan[tuple[int, float]] = Chan(len(SLOTS))

    def await_(slot: int, ac: RecvChan[float]) -> None:
        v = ac.recv()
        assert v is not None
        result.send((slot, v))

    t0 = time.monotonic()
    for slot in SLOTS:
        go(await_, slot, after_(slot * delta))
    order, times = [], []
    for _ in SLOTS:
        got = result.recv(timeout=20)
        assert got is not None
        order.append(got[0])
        times.append(got[1])
    if order != sorted(order):
        return f"after calls returned out of order: {order}"
    for slot, t in zip(order, times, strict=True):
        dt, target = t - t0, slot * delta
        if dt < target - delta / 2 or dt > target + delta * 10:
            lo, hi = target - delta / 2, target + delta * 10
            return f"after({target}) arrived at {dt}, expected [{lo},{hi}]"
    return None


@pytest.mark.parametrize("after_", [after, lambda d: new_timer_func(d).c], ids=["chan", "func"])
def test_after_queuing(after_: Callable[[float], RecvChan[float]]) -> None:
    """Port of Go's TestAfterQueuing in src/time/sleep_test.go (impl=chan and impl=func)."""
    err: str | None = "!=nil"
    for i in range(5):
        err = _after_queuing1((20 + i * 50) / 1000, after_)
        if err is None:
            return
    pytest.fail(err)


@stress_test(timeout=60)
def test_timer_stop_stress() -> None:
    """Port of Go's TestTimerStopStress in src/time/sleep_test.go (shorter durations;
    the scale grows the thread count only: each stops its timer 0.75 s before it is due)."""
    fired = []

    def stopper(i: int) -> None:
        timer = after_func(1.0, lambda: fired.append(i))
        sleep(0.25)
        timer.stop()

    threads = [go(stopper, i) for i in range(STRESS.threads(100))]
    sleep(1.3)
    for th in threads:
        th.join(10)
    assert fired == []


def test_sleep_zero() -> None:
    """After Go's TestSleepZeroDeadlock in src/time/sleep_test.go: sleep(0) returns."""
    for _ in range(100):
        sleep(0)
        tmp: Chan[bool] = Chan(1)
        tmp.send(True)
        tmp.recv()


def _test_reset(d: float) -> str | None:
    t0 = Timer(2 * d)
    sleep(d)
    if not t0.reset(3 * d):
        return "resetting unfired timer returned false"
    sleep(2 * d)
    if ready(t0.c):
        return "timer fired early"
    sleep(2 * d)
    if not ready(t0.c):
        return "reset timer did not fire"
    if t0.reset(0.05):
        return "resetting expired timer returned true"
    t0.stop()
    return None


def test_reset() -> None:
    """Port of Go's TestReset in src/time/sleep_test.go, doubling d until it passes."""
    d = 0.001
    while True:
        err = _test_reset(d)
        if err is None:
            return
        d *= 2
        if d > 2.0:
            pytest.fail(err)


def test_overflow_sleep() -> None:
    """Port of Go's TestOverflowSleep in src/time/sleep_test.go.

    Durations too big for any clock, and infinite ones, never fire; hugely
    negative ones fire at once.
    """
    big = float(2**63)
    slept = threading.Event()

    def sleeper() -> None:
        sleep(big)
        slept.set()

    go(sleeper)  # parks forever, at no cost, like Go's goroutine
    for huge in (big, math.inf, timedelta.max, 10**400):
        i, _ = select(after(huge).recv, after(0.025).recv)
        assert i == 1, f"big timeout {huge} fired"
    assert not slept.is_set(), "big sleep returned"
    for neg in (-big, -math.inf, timedelta.min, -(10**400)):
        sleep(neg)  # returns at once
        i, _ = select(after(neg).recv, after(1).recv)
        assert i == 0, f"negative timeout {neg} didn't fire"


def test_zero_timer_stop_and_reset_raise() -> None:
    """Port of Go's TestZeroTimerStopPanics and TestZeroTimerResetPanics.

    Both in src/time/sleep_test.go.
    """
    tr = Timer.__new__(Timer)
    with pytest.raises(RuntimeError, match="called on uninitialized Timer"):
        tr.stop()
    with pytest.raises(RuntimeError, match="called on uninitialized Timer"):
        tr.reset(1)
    assert "uninitialized" in repr(tr)


@pytest.mark.parametrize("impl", ["chan", "func", "cache"])
def test_zero_timer(impl: str) -> None:
    """Port of Go's TestZeroTimer in src/time/sleep_test.go (1,000 rounds, not 1,000,000)."""
    cached = new_timer_func(HOUR)

    def reuse(d: float) -> Timer:
        cached.reset(d)
        return cached

    new_timer: Callable[[float], Timer] = {"chan": Timer, "func": new_timer_func, "cache": reuse}[
        impl
    ]
    for _ in range(1000):
        ti = new_timer(0)
        ti.c.recv(timeout=10)
    cached.stop()


def test_timer_modified_earlier() -> None:
    """Port of Go's TestTimerModifiedEarlier in src/time/sleep_test.go (200 rounds)."""
    past = -time.monotonic()
    for _ in range(200):
        timer = new_timer_func(HOUR)
        for _ in range(10):
            if not timer.stop():
                timer.c.recv(timeout=10)
            timer.reset(past)
        deadline = Timer(10)
        i, _ = select(timer.c.recv, deadline.c.recv)
        deadline.stop()
        assert i == 0, "deadline expired"


def test_adjust_timers() -> None:
    """Port of Go's TestAdjustTimers in src/time/sleep_test.go.

    Rapidly moving timers earlier and later must not lose any of them.
    """
    rnd = random.Random()
    n = 100
    tms: list[Timer] = [Timer.__new__(Timer)] * n
    states = [0] * n
    indices = list(range(n))
    rnd.shuffle(indices)
    while indices:
        ii = rnd.randrange(len(indices))
        i = indices[ii]
        timer = tms[i]
        state = states[i]
        states[i] += 1
        if state == 0:
            tms[i] = new_timer_func(0)
        elif state == 1:
            timer.c.recv(timeout=10)  # the timer is now idle
        elif state in (2, 4, 6):
            assert not timer.reset({2: 60, 4: 180, 6: 120}[state]), "shouldn't be active"
        elif state in (3, 5, 7):
            if not timer.stop():
                timer.c.recv(timeout=10)
        elif state == 8:
            assert not timer.reset(0), "timer.reset returned true"
        elif state == 9:
            timer.c.recv(timeout=10)
        elif state == 10:
            indices[ii] = indices[-1]
            indices.pop()


# -- src/time/tick_test.go --


def test_ticker() -> None:
    """Port of Go's TestTicker in src/time/tick_test.go, retrying with longer durations."""
    errs = []
    for count, delta in [(10, 0.02), (10, 0.1), (8, 0.4)]:
        ticker = Ticker(delta)
        t0 = time.monotonic()
        for _ in range(count // 2):
            ticker.c.recv(timeout=30)
        ticker.reset(delta * 2)
        for _ in range(count - count // 2):
            ticker.c.recv(timeout=30)
        ticker.stop()
        dt = time.monotonic() - t0
        target = 3 * delta * (count // 2)
        slop = target * 3 / 10
        if not target - slop <= dt <= target + slop:
            errs.append(f"{count} ticks of {delta} then {delta * 2} took {dt}, expected {target}")
            if dt > target + slop:
                sleep(0.5)  # the machine may be overloaded: let it recover
            continue
        sleep(2 * delta)
        if ready(ticker.c):
            errs.append("Ticker did not shut down")
            continue
        return
    pytest.fail(f"saw {len(errs)} errors: {errs}")


def test_ticker_stop_with_direct_initialization() -> None:
    """Port of Go's TestTickerStopWithDirectInitialization and TestManualTicker.

    Both in src/time/tick_test.go: stop() on a Ticker never initialised is a no-op.
    """
    c: Chan[float] = Chan()
    tk = Ticker.__new__(Ticker)
    tk.c = c
    tk.stop()
    with pytest.raises(RuntimeError, match="called on uninitialized Ticker"):
        tk.reset(1)
    assert "uninitialized" in repr(tk)


def test_teardown() -> None:
    """Port of Go's TestTeardown in src/time/tick_test.go (its -short duration)."""
    for _ in range(3):
        ticker = Ticker(0.02)
        ticker.c.recv(timeout=10)
        ticker.stop()


def test_tick() -> None:
    """Port of Go's TestTick in src/time/tick_test.go: a non-positive period gives nilchan."""
    assert tick(-1) is nilchan
    assert tick(0) is nilchan
    assert tick(timedelta(seconds=-1)) is nilchan


def test_new_ticker_lt_zero_duration() -> None:
    """Port of Go's TestNewTickerLtZeroDuration in src/time/tick_test.go."""
    for d in (-1, 0, 0.0, timedelta(0)):
        with pytest.raises(ValueError, match="non-positive interval for NewTicker"):
            Ticker(d)


def test_ticker_reset_lt_zero_duration() -> None:
    """Port of Go's TestTickerResetLtZeroDuration in src/time/tick_test.go."""
    tk = Ticker(1)
    for d in (0, -1):
        with pytest.raises(ValueError, match=r"non-positive interval for Ticker\.Reset"):
            tk.reset(d)
    tk.stop()


@pytest.mark.thread_unsafe(reason="reads the process's one timer scheduler")
def test_long_adjust_timers() -> None:
    """After Go's TestLongAdjustTimers in src/time/tick_test.go (scaled down).

    A big heap of short timers, then a ping-pong through a queuing thread
    where every select also waits on a fresh after(5): the dropped timers
    must not pile up or slow the scheduler down.
    """
    base = settle()
    chans = [after(1e-5) for _ in range(5000)]
    for c in chans:
        c.recv(timeout=20)
    del chans

    done: Chan[None] = Chan()
    deadline = after_func(60, done.close)
    in_q: Chan[Callable[[], None]] = Chan()
    out_q: Chan[Callable[[], None]] = Chan()

    def queue() -> None:
        q: list[Callable[[], None]] = []
        try:
            while True:
                cases: list[Any] = [in_q.recv_ok, done.recv]
                if q:
                    cases.append((out_q.send, q[0]))
                i, v = select(*cases)
                if i == 0:
                    f, ok = v
                    if not ok:
                        return
                    q.append(f)
                elif i == 1:
                    return
                else:
                    q.pop(0)
        finally:
            out_q.close()

    th = go(queue)
    try:
        for i in range(400):
            for _ in range(5):
                in_q.send(lambda: None)
            for _ in range(5):
                j, v = select(out_q.recv_ok, after(5).recv, done.recv)
                assert j == 0, f"failed to read work, iteration {i}"
                assert v[1], "output channel is closed"
    finally:
        in_q.close()
        th.join(10)
        deadline.stop()
    gc.collect()
    assert pending_count() == base


@pytest.mark.thread_unsafe(reason="reads the process's one timer scheduler")
def test_timer_gc() -> None:
    """After Go's TestTimerGC in src/time/tick_test.go: unreferenced timers are dropped.

    Go >= 1.23 collects timers nobody references, stopped or not; here the
    scheduler drops their entries, so pending_count() returns to its base.
    """
    cases: dict[str, Callable[[], object]] = {
        "after": lambda: after(HOUR),
        "tick": lambda: tick(HOUR),
        "Timer": lambda: Timer(HOUR),
        "Ticker": lambda: Ticker(HOUR),
        "TimerStop": lambda: Timer(HOUR).stop(),
        "TickerStop": lambda: Ticker(HOUR).stop(),
    }
    for what, f in cases.items():
        base = settle()
        for _ in range(10_000):
            f()
        gc.collect()
        assert pending_count() == base, f"{what} did not get collected"
        assert len(_scheduler._sched.heap) <= 2 * pending_count() + 1, what


class TickerTimer:
    """Go's tickerTimer: a Ticker with Timer-like stop/reset returning bools."""

    def __init__(self, ticker: Ticker) -> None:
        self.ticker = ticker
        self.stopped = False

    def stop(self) -> bool:
        pending = not self.stopped
        self.stopped = True
        self.ticker.stop()
        return pending

    def reset(self, d: float) -> bool:
        pending = not self.stopped
        self.stopped = False
        self.ticker.reset(d)
        return pending


def _test_timer_chan(tim: Timer | TickerTimer, c: RecvChan[float]) -> None:
    """Go's testTimerChan in src/time/tick_test.go, for synchronous timer channels."""
    is_ticker = isinstance(tim, TickerTimer)
    sched, tries = 0.01, 100
    failures: list[str] = []

    def no_tick() -> None:
        assert not ready(c), "extra tick"

    def assert_tick() -> None:
        if ready(c):
            return
        for _ in range(tries):
            sleep(sched)
            if ready(c):
                return
        pytest.fail("missing tick")

    def not_done(done: Chan[bool]) -> None:
        assert not ready(done), "early done"

    def wait_done(done: Chan[bool]) -> None:
        for _ in range(tries):
            sleep(sched)
            if ready(done):
                return
        pytest.fail("never got done")

    # Simple stop; timer never in heap.
    tim.stop()
    no_tick()
    # Modify of timer not in heap.
    tim.reset(10000)
    no_tick()
    # Modify of timer in heap.
    tim.reset(NS)
    sleep(sched)
    assert (len(c), c.cap) == (0, 0)
    assert_tick()

    # Sleep long enough that a second tick must happen if this is a ticker:
    # reset must not let through the tick that happened before it.
    sleep(sched)
    tim.reset(10000)
    no_tick()

    # Stop while the timer is in the heap (a thread is blocked on c).
    tim.reset(10000)
    done: Chan[bool] = Chan()
    not_done(done)

    def recv_then_close() -> None:
        c.recv()
        done.close()

    go(recv_then_close)
    sleep(sched)
    not_done(done)
    # Reset far away while in heap.
    tim.reset(20000)
    sleep(sched)
    not_done(done)
    # Imminent reset while in heap.
    tim.reset(NS)
    wait_done(done)
    # A ticker has ticked again since (1ns apart); a timer has stopped.
    if is_ticker:
        assert_tick()
    else:
        no_tick()
    tim.stop()
    no_tick()

    # Again using select and with two threads waiting.
    tim.reset(10000)
    done = Chan(2)
    done1: Chan[bool] = Chan()
    done2: Chan[bool] = Chan()
    stop: Chan[bool] = Chan()

    def waiter(d: Chan[bool]) -> None:
        if select(c.recv, stop.recv)[0] == 0:
            done.send(True)
        d.close()

    go(waiter, done1)
    go(waiter, done2)
    sleep(sched)
    not_done(done)
    tim.reset(sched / 2)
    sleep(sched)
    wait_done(done)
    tim.stop()
    stop.close()
    wait_done(done1)
    wait_done(done2)
    if is_ticker:
        ready(done)  # an extra tick may have sent done again
        ready(c)  # and one after that may have filled c
    not_done(done)

    # enqueueTimerChan while the timer is stopped.
    stop = Chan()
    done = Chan(2)

    def stopped_waiter() -> None:
        if select(c.recv, stop.recv)[0] == 0:
            failures.append("unexpected data")
        done.send(True)

    for _ in range(2):
        go(stopped_waiter)
    sleep(sched)
    stop.close()
    wait_done(done)
    wait_done(done)
    assert failures == []

    # Stop and Reset block old values from being received (go.dev/issue/37196).
    tim.reset(NS)
    sleep(0.01)
    assert tim.stop() is True
    no_tick()

    tim.reset(HOUR)
    no_tick()
    assert tim.reset(NS) is True
    assert_tick()
    sleep(0.01)
    if is_ticker:
        assert_tick()
        sleep(0.01)
    else:
        no_tick()
    assert tim.reset(HOUR) is is_ticker
    no_tick()
    tim.stop()


def test_chan_timer() -> None:
    """Port of Go's TestChan/asynctimerchan=0/Timer in src/time/tick_test.go."""
    tim = Timer(10000)
    _test_timer_chan(tim, tim.c)


def test_chan_ticker() -> None:
    """Port of Go's TestChan/asynctimerchan=0/Ticker in src/time/tick_test.go."""
    tim = TickerTimer(Ticker(10000))
    _test_timer_chan(tim, tim.ticker.c)


def test_after_times() -> None:
    """Port of Go's TestAfterTimes in src/time/tick_test.go.

    after(10ms) read 500ms later delivers a time near start+10ms, not the
    time it was read.
    """
    for _ in range(10):
        start = time.monotonic()
        c = after(0.01)
        sleep(0.5)
        v = c.recv(timeout=10)
        assert v is not None
        if v - start < 0.4:
            return
    pytest.fail("after(10ms) time is not its firing time")


def test_tick_times() -> None:
    """Port of Go's TestTickTimes in src/time/tick_test.go."""
    for _ in range(10):
        start = time.monotonic()
        c = tick(0.01)
        sleep(0.5)
        v = c.recv(timeout=10)
        assert v is not None
        del c
        if v - start < 0.4:
            return
    pytest.fail("tick(10ms) time is not its firing time")


# -- Go >= 1.23 channel semantics, beyond the ports --


def test_stop_takes_back_an_unreceived_value() -> None:
    """A fired, unreceived timer: stop() returns True and c then blocks."""
    t = Timer(0)
    until(lambda: "fired" in repr(t), "the timer to fire")
    assert t.stop() is True
    assert not ready(t.c)
    assert t.stop() is False


def test_reset_takes_back_an_unreceived_value() -> None:
    """reset() on a fired, unreceived timer returns True; only the new value arrives."""
    t = Timer(0)
    until(lambda: "fired" in repr(t), "the timer to fire")
    t0 = time.monotonic()
    assert t.reset(0.05) is True
    v = t.c.recv(timeout=10)
    assert v is not None and v >= t0 + 0.05, "received the value from before reset()"
    assert t.reset(HOUR) is False  # received: nothing was pending
    assert t.stop() is True


def test_stop_after_receive_returns_false() -> None:
    t = Timer(0.01)
    t.c.recv(timeout=10)
    assert t.stop() is False
    assert t.reset(0.01) is False
    t.c.recv(timeout=10)


@pytest.mark.timeout(60)
def test_stop_unreceived_is_always_true_under_races() -> None:
    """Go 1.23: a running timer not yet received from always stops with True.

    The scheduler fires the timers at random moments around the stop() or
    reset(); whichever wins, the call returns True and no value gets out.
    """
    rnd = random.Random(1)
    for i in range(2000):
        t = Timer(rnd.choice([0, 1e-6, 1e-4, 1e-3]))
        if rnd.random() < 0.5:
            sleep(rnd.random() * 2e-4)
        if i % 2:
            assert t.stop() is True
        else:
            assert t.reset(HOUR) is True
            assert t.stop() is True
        assert not ready(t.c)


@pytest.mark.timeout(60)
def test_stop_races_a_blocked_receiver() -> None:
    """Exactly one of: the receiver got the value, or stop() returned True."""
    rnd = random.Random(2)
    for _ in range(300):
        t = Timer(rnd.random() * 1e-3)
        quit_: Chan[None] = Chan()
        got: Chan[int] = Chan(1)
        go(lambda t=t, quit_=quit_, got=got: got.send(select(t.c.recv, quit_.recv)[0]))  # type: ignore[misc]
        sleep(rnd.random() * 1e-3)
        stopped = t.stop()
        quit_.close()
        index = got.recv(timeout=10)
        assert (index == 0) is not stopped


def test_ticker_stop_and_reset_take_back_a_waiting_tick() -> None:
    tk = Ticker(0.001)
    sleep(0.02)  # a tick waits in c
    tk.reset(HOUR)
    assert not ready(tk.c)
    tk.reset(0.001)
    sleep(0.02)
    tk.stop()
    assert not ready(tk.c)
    sleep(0.01)
    assert not ready(tk.c)


def test_ticker_drops_ticks_for_a_slow_reader() -> None:
    """A reader away for 8 periods finds one tick waiting, not eight."""
    period = 0.05
    start = time.monotonic()
    tk = Ticker(period)
    sleep(8 * period)
    waiting = 0
    while ready(tk.c):
        waiting += 1
        if waiting > 5:
            break
    # One tick was waiting; at most one more can land while we drain.
    assert 1 <= waiting <= 2
    # The ticker keeps its phase and goes on ticking.
    v = tk.c.recv(timeout=10)
    assert v is not None and v >= start + 8 * period
    tk.stop()


def test_timer_channel_is_receive_only_and_synchronous() -> None:
    t = Timer(0)
    until(lambda: "fired" in repr(t), "the timer to fire")
    assert (len(t.c), t.c.cap) == (0, 0)  # as in Go 1.23, even with a value pending
    assert isinstance(t.c, RecvChan)
    c: Any = t.c
    with pytest.raises(TypeError, match="receive-only"):
        c.send(1.0)
    with pytest.raises(TypeError, match="receive-only"):
        c.close()
    with pytest.raises(TypeError):
        select((c.send, 1.0))
    assert ready(t.c)
    with pytest.raises(ClosedChannelError):
        nilchan.close()


def test_timer_c_can_be_replaced() -> None:
    """Go's newTimerFunc assigns t.C; stop() and reset() keep working on the timer."""
    t = new_timer_func(0.01)
    assert t.c.recv(timeout=10) is not None
    assert t.stop() is False


def test_timedelta_durations() -> None:
    start = time.monotonic()
    v = after(timedelta(milliseconds=30)).recv(timeout=10)
    assert v is not None and v >= start + 0.03
    t = Timer(timedelta(hours=1))
    assert t.reset(timedelta(0)) is True
    t.c.recv(timeout=10)
    tk = Ticker(timedelta(milliseconds=10))
    tk.c.recv(timeout=10)
    tk.reset(timedelta(milliseconds=5))
    tk.c.recv(timeout=10)
    tk.stop()
    start = time.monotonic()
    sleep(timedelta(milliseconds=20))
    assert time.monotonic() - start >= 0.02


@pytest.mark.parametrize("bad", ["1", None, True, [1], object()])
def test_bad_duration_types(bad: Any) -> None:
    for make in (Timer, Ticker, after, sleep, tick, lambda d: after_func(d, print)):
        with pytest.raises(TypeError, match="duration"):
            make(bad)


def test_top_level_names() -> None:
    """The spec's time names are importable from the top-level package."""
    for name in ("after", "after_func", "sleep", "tick", "Timer", "Ticker"):
        assert getattr(gopool, name) is getattr(timers, name)


def test_nan_duration() -> None:
    for make in (Timer, Ticker, after, sleep, tick):
        with pytest.raises(ValueError, match="NaN"):
            make(math.nan)


def test_after_func_not_callable() -> None:
    with pytest.raises(TypeError, match="not callable"):
        after_func(1, 42)  # type: ignore[arg-type]


# -- after_func --


def test_after_func_stop_and_reset_results() -> None:
    """Go's AfterFunc: reset True moves the pending call, False schedules another."""
    ran: Chan[str] = Chan(10)
    t = after_func(HOUR, lambda: ran.send(threading.current_thread().name))
    assert t.c is nilchan
    assert t.reset(0.01) is True
    name = ran.recv(timeout=10)
    assert name is not None and name.startswith("goroutine-")
    until(lambda: "fired" in repr(t), "the timer to be marked fired")
    assert t.stop() is False
    assert t.reset(0.01) is False
    ran.recv(timeout=10)

    t2 = after_func(HOUR, lambda: ran.send("no"))
    assert t2.stop() is True
    assert t2.stop() is False
    assert t2.reset(0.01) is False
    assert t2.stop() is True
    sleep(0.1)
    assert not ready(ran)


def test_after_func_runs_though_dropped() -> None:
    ev = threading.Event()
    after_func(0.02, ev.set)
    gc.collect()
    assert ev.wait(10)


def test_after_func_exception_goes_to_excepthook(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fired after_func that raises is a goroutine panic, reported in every mode.

    ("report" mode: in the default one the test's main thread would get the panic.)
    """
    monkeypatch.setattr(gopool._panic, "_mode", "report")
    seen: Chan[BaseException | None] = Chan(1)
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.send(args.exc_value))

    def boom() -> None:
        raise ZeroDivisionError("boom")

    after_func(0, boom)
    exc = seen.recv(timeout=10)
    assert isinstance(exc, ZeroDivisionError)


# -- the scheduler: schedule(), pending_count(), scheduler_thread() --


@pytest.mark.thread_unsafe(reason="reads the process's one timer scheduler")
def test_schedule_runs_callbacks_in_deadline_order_on_the_scheduler_thread() -> None:
    rnd = random.Random(3)
    # The first deadline comes after every entry is scheduled: an entry
    # scheduled once later deadlines have fired would run after them (its
    # time has passed: it runs as soon as possible), which is not what this
    # checks. Without the GIL the scheduler thread fires while we schedule.
    now = time.monotonic() + 1.0
    lock = threading.Lock()
    fired: list[tuple[float, int, float, threading.Thread]] = []
    all_fired = threading.Event()
    whens = [now + rnd.random() * 0.1 for _ in range(200)]
    whens[10] = whens[11] = whens[12]  # ties run in the order scheduled

    def make(i: int, when: float) -> Callable[[], None]:
        def callback() -> None:
            with lock:
                fired.append((when, i, time.monotonic(), threading.current_thread()))
                if len(fired) == len(whens):
                    all_fired.set()

        return callback

    for i, when in enumerate(whens):
        schedule(when, make(i, when))
    assert all_fired.wait(10)
    assert [(w, i) for w, i, _, _ in fired] == sorted((w, i) for i, w in enumerate(whens))
    assert all(actual >= when for when, _, actual, _ in fired)
    threads = {th for _, _, _, th in fired}
    assert len(threads) == 1 and threads.pop().name == "gopool-timers"


@pytest.mark.thread_unsafe(reason="reads the process's one timer scheduler")
def test_schedule_cancel() -> None:
    base = settle()
    ran = threading.Event()
    h = schedule(time.monotonic() + HOUR, ran.set)
    assert pending_count() == base + 1
    assert "pending" in repr(h)
    assert h.cancel() is True
    assert h.cancel() is False
    assert "cancelled" in repr(h)
    assert pending_count() == base

    done = threading.Event()
    h2 = schedule(time.monotonic(), done.set)
    assert done.wait(10)
    assert h2.cancel() is False  # it ran
    assert "fired" in repr(h2)


def test_schedule_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="not callable"):
        schedule(time.monotonic(), 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="monotonic time"):
        schedule("soon", lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN"):
        schedule(math.nan, lambda: None)


@pytest.mark.thread_unsafe(reason="reads the process's one timer scheduler")
def test_an_earlier_timer_wakes_the_waiting_scheduler() -> None:
    """The scheduler sleeps until the earliest deadline; a new earlier one wakes it."""
    far = Timer(HOUR)
    until(lambda: scheduler_thread() is not None, "a scheduler thread")
    start = time.monotonic()
    assert after(0.05).recv(timeout=10) is not None  # not an hour
    assert time.monotonic() - start >= 0.05
    far.stop()


def test_callback_exception_does_not_stop_the_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    now = time.monotonic()
    ok = threading.Event()

    def boom() -> None:
        raise RuntimeError("in a callback")

    schedule(now, boom)
    schedule(now + 0.01, ok.set)
    assert ok.wait(10)
    assert len(seen) == 1 and isinstance(seen[0], RuntimeError)


@pytest.mark.thread_unsafe(reason="reads the process's one timer scheduler")
def test_ten_thousand_timers_one_thread() -> None:
    """10,000 pending timers cost at most one extra thread, and all fire."""
    base = settle()
    before = threading.active_count()
    ts = [Timer(HOUR) for _ in range(10_000)]
    assert pending_count() == base + 10_000
    assert threading.active_count() <= before + 1
    for t in ts:
        t.reset(0.05)
    assert threading.active_count() <= before + 1
    for t in ts:
        assert t.c.recv(timeout=30) is not None
    assert pending_count() == base


@pytest.mark.thread_unsafe(reason="reads the process's one timer scheduler")
def test_stop_leaves_nothing_behind() -> None:
    """10,000 created-and-stopped timers: pending_count back to base, heap compacted."""
    base = settle()
    ts = [Timer(HOUR) for _ in range(10_000)]
    tks = [Ticker(HOUR) for _ in range(100)]
    assert pending_count() == base + 10_100
    for t in ts:
        assert t.stop() is True
    for tk in tks:
        tk.stop()
    assert pending_count() == base
    assert len(_scheduler._sched.heap) <= 2 * base + 1
    for _ in range(10_000):
        schedule(time.monotonic() + HOUR, lambda: None).cancel()
    assert pending_count() == base
    assert len(_scheduler._sched.heap) <= 2 * base + 1


@pytest.mark.thread_unsafe(reason="reads the process's one timer scheduler")
def test_scheduler_thread_exits_when_idle() -> None:
    """In a fresh process: the thread exists while timers are pending, and exits after.

    Both ways: 10,000 timers that fire, then 10,000 that are stopped.
    """
    out = run_python(
        """
        import threading
        from gopool import _scheduler, timers as T
        assert T.scheduler_thread() is None and T.pending_count() == 0
        base = threading.active_count()
        ts = [T.Timer(3600) for _ in range(10_000)]
        th = T.scheduler_thread()
        assert th is not None and th.is_alive() and th.daemon
        assert threading.active_count() <= base + 1
        for t in ts:
            t.reset(0.05)
        for t in ts:
            t.c.recv(timeout=30)
        th.join(10)
        assert not th.is_alive() and T.scheduler_thread() is None

        ts = [T.Timer(3600) for _ in range(10_000)]
        th = T.scheduler_thread()
        assert th is not None and threading.active_count() <= base + 1
        assert all(t.stop() for t in ts)
        assert T.pending_count() == 0
        th.join(10)
        assert not th.is_alive() and T.scheduler_thread() is None
        assert _scheduler._sched.heap == []

        # The next timer starts a new thread.
        assert T.after(0.01).recv(timeout=10) is not None
        print("ok")
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# -- Ctrl-C, fork, repr --


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery differs on Windows")
@pytest.mark.parametrize("duration", ["60", "float('inf')"])
def test_sleep_interrupted_by_sigint(duration: str) -> None:
    """sleep() parked in a main thread is interrupted by Ctrl-C (SIGINT)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    code = textwrap.dedent(
        f"""
        import sys, time
        from gopool.timers import sleep
        try:
            print("ready", flush=True)
            sleep({duration})
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
        print("slept", flush=True)
        """
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert p.stdout is not None
        assert p.stdout.readline() == "ready\n"
        time.sleep(0.3)  # let it park
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=20)
    finally:
        p.kill()
        p.wait()
    assert out == "interrupted\n"
    assert p.returncode == 0


@pytest.mark.thread_unsafe(reason="reads the process's one timer scheduler")
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fork_child_gets_a_working_scheduler() -> None:
    """A child made by os.fork() while the scheduler runs gets one of its own.

    Timers armed before the fork fire in the child too, served by the
    child's own thread.
    """
    keep = Timer(HOUR)  # the parent's scheduler thread is running at the fork
    inherited = Timer(0.2)
    parent_thread = scheduler_thread()
    assert parent_thread is not None
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 1
        try:
            child_thread = scheduler_thread()
            fresh = child_thread is not None and child_thread is not parent_thread
            fresh = fresh and inherited.c.recv(timeout=10) is not None
            v = after(0.01).recv(timeout=10)
            ev = threading.Event()
            after_func(0.01, ev.set)
            tk = Ticker(0.01)
            tk.c.recv(timeout=10)
            tk.stop()
            ok = fresh and v is not None and ev.wait(10) and scheduler_thread() is not parent_thread
            os.write(w, b"1" if ok else b"0")
            status = 0
        finally:
            os._exit(status)
    os.close(w)
    try:
        readable, _, _ = _select.select([r], [], [], 20)
        assert readable, "the child's timer never fired"
        assert os.read(r, 1) == b"1"
    finally:
        os.close(r)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's scheduler is untouched.
    assert inherited.c.recv(timeout=10) is not None
    assert keep.stop() is True
    assert after(0.01).recv(timeout=10) is not None


def test_reprs() -> None:
    t = Timer(HOUR)
    assert "active" in repr(t) and "Timer" in repr(t)
    t.stop()
    assert "stopped" in repr(t)
    t.reset(0)
    until(lambda: "fired" in repr(t), "the timer to fire")
    f = after_func(HOUR, lambda: None)
    assert "func" in repr(f) and "active" in repr(f)
    f.stop()
    tk = Ticker(HOUR)
    assert "active" in repr(tk) and "period=3600s" in repr(tk)
    assert "timer Chan" in repr(tk.c)
    tk.stop()
    assert "stopped" in repr(tk)


# -- dropped timers and interpreter exit --


def test_dropped_after_seen_by_select_is_collected() -> None:
    """A dropped ``after(d)`` that a ``select`` has seen leaves no timer pending after a collection.

    ``select`` keeps the parse of its last cases to skip parsing in a loop;
    it must not keep a timer's channel alive that way. In a child
    interpreter, so that no other test's timer is pending.
    """
    out = run_python(
        """
        import gc
        from gopool import Chan, after, default, select, tick
        from gopool.timers import pending_count
        c = after(10)
        assert select(c.recv, default)[0] == 1
        del c
        gc.collect()
        assert pending_count() == 0, pending_count()
        select(after(10).recv, tick(10).recv, Chan().recv, default)
        gc.collect()
        assert pending_count() == 0, pending_count()
        print("ok")
        """
    )
    assert out.returncode == 0 and out.stdout == "ok\n", out.stderr


@pytest.mark.parametrize(
    "program",
    [
        "from gopool import after, default, select\nselect(after(10).recv, default)\n",
        "import threading\nfrom gopool import after\nthreading.keep = after(10)\n",
        "import os\nfrom gopool import Ticker, Timer, after\n"
        "os.keep = [after(10), Ticker(1).c, Timer(5)]\n",
    ],
    ids=["seen-by-select", "kept-by-threading", "kept-by-os"],
)
def test_exit_with_timers_pending_prints_nothing(program: str) -> None:
    """A program that exits with timers pending prints nothing on stderr.

    The channels are collected while the interpreter tears its modules
    down; the scheduler's weak-reference callback must not fail then.
    """
    out = run_python(program)
    assert out.returncode == 0 and out.stderr == "", out.stderr
