"""Stress tests for the timers: many threads arming, stopping, resetting and receiving
at once, every timer racing its own firing, with exact outcomes.

Go >= 1.23's rules make each race decidable afterwards: ``stop()`` returns True
exactly when the value had not been received, so for every timer "received"
and "stop() returned True" are never both true and never both false; no value
from before a ``stop()`` or ``reset()`` arrives after it returns; a fired
``after_func`` runs its function exactly once, and never after a ``stop()``
that returned True. Sized through ``conftest.STRESS`` (``GOPOOL_STRESS``).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest
from conftest import STRESS, CallbackLedger, join_all, spawn, stress_marks

from gopool import Ticker, Timer, after_func, default, select

pytestmark = stress_marks(timeout=60)

TINY = [0.0, 0.00001, 0.0001, 0.0005, 0.002]


def _race_one_timer(rng: random.Random) -> tuple[bool, bool]:
    """Arm a timer, maybe receive its value without blocking, then stop it."""
    t = Timer(rng.choice(TINY))
    if rng.random() < 0.5:
        time.sleep(rng.choice(TINY))
    received = select(t.c.recv, default)[0] == 0
    stopped = t.stop()
    assert received != stopped, f"received={received} but stop() returned {stopped}"
    if stopped:
        # Nothing from before stop() may arrive after it.
        assert select(t.c.recv, default)[0] == 1, "a value arrived after stop() returned True"
    return received, stopped


def test_stop_reports_exactly_whether_the_value_was_received() -> None:
    """Threads each race many timers against their firing: received xor stopped, always."""
    per_thread = 1000

    def racer(seed: int) -> Counter[str]:
        rng = random.Random(seed)
        outcome: Counter[str] = Counter()
        for _ in range(per_thread):
            received, _ = _race_one_timer(rng)
            outcome["received" if received else "stopped"] += 1
        return outcome

    seed = random.randrange(2**32)
    nthreads = STRESS.threads(8)
    results = join_all([spawn(racer, seed + k) for k in range(nthreads)], STRESS.seconds(40))
    total = sum(results, Counter())
    assert sum(total.values()) == nthreads * per_thread, f"seed {seed}"


def test_reset_never_lets_a_stale_value_through() -> None:
    """Threads reset their timers while they fire: a value received after ``reset()``
    returned carries a time no earlier than the start of that reset."""
    per_thread = 500

    def resetter(seed: int) -> int:
        rng = random.Random(seed)
        fresh = 0
        for _ in range(per_thread):
            t = Timer(rng.choice(TINY))
            time.sleep(rng.choice(TINY))
            reset_at = time.monotonic()
            t.reset(rng.choice(TINY))
            got = t.c.recv(timeout=STRESS.seconds(10))
            assert got is not None and got >= reset_at, (got, reset_at)
            fresh += 1
        return fresh

    nthreads = STRESS.threads(8)
    fresh = join_all([spawn(resetter, k) for k in range(nthreads)], STRESS.seconds(40))
    assert sum(fresh) == nthreads * per_thread


def test_after_func_runs_exactly_when_stop_did_not_prevent_it() -> None:
    """Threads arm after_func callbacks and race stop() against them: each callback runs
    once if its stop() returned False, never if it returned True."""
    per_thread = 1000
    ledger = CallbackLedger()

    def racer(k: int) -> None:
        rng = random.Random(k)
        for i in range(per_thread):
            timer = after_func(rng.choice(TINY), ledger.arm((k, i)))
            if rng.random() < 0.5:
                time.sleep(rng.choice(TINY))
            if timer.stop():
                ledger.prevent((k, i))

    join_all([spawn(racer, k) for k in range(STRESS.threads(8))], STRESS.seconds(20))
    ledger.check(STRESS.seconds(20))


@pytest.mark.parametrize("period", [0.0001, 0.001])
def test_ticker_reset_and_stop_from_many_threads(period: float) -> None:
    """Readers take ticks while other threads reset the shared ticker; once the last
    stop() returns, no tick arrives."""
    ticker = Ticker(period)
    stop_reading = threading.Event()
    rounds = 200

    ticked = threading.Event()

    def reader() -> int:
        got = 0
        while not stop_reading.is_set():
            try:
                ticker.c.recv(timeout=0.01)
            except TimeoutError:
                continue
            got += 1
            ticked.set()
        return got

    def resetter(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(rounds):
            ticker.reset(rng.choice([period, 2 * period, 5 * period]))
            if rng.random() < 0.3:
                time.sleep(period)

    readers = [spawn(reader) for _ in range(STRESS.threads(4))]
    join_all([spawn(resetter, k) for k in range(STRESS.threads(4))], STRESS.seconds(20))
    # On a loaded machine the resets can come faster than the period the whole
    # time, and no tick is due: once they end, the ticker must tick again.
    assert ticked.wait(STRESS.seconds(10)), "no tick after the last reset"
    ticker.stop()
    stop_reading.set()
    ticks = sum(join_all(readers))
    assert ticks > 0
    with pytest.raises(TimeoutError):
        ticker.c.recv(timeout=20 * period + 0.02)
