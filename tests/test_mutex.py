"""Tests for ``gopool.sync.Mutex`` and the ``Locker`` protocol.

Ports of Go's src/sync/mutex_test.go (each names its Go test), then the
rules of the spec's "sync" section and of Go's mutex.go: the fast path, the
barging of normal mode, the 1 ms starvation threshold, the hand-off of
starvation mode, the front-of-queue requeue of a woken waiter that lost the
race, and the way back to normal mode. The interleavings are forced: a
test that must know a thread is blocked waits for it through the mutex's
``statistics()`` (``until`` polls, test-side only).

Left out of the ports: Go's TestSemaphore (the runtime semaphore has no
counterpart here) and TestMutexMisuse's subprocess (a misuse is a fatal
error in Go; here it raises, which the in-process port checks).
"""

from __future__ import annotations

import threading
import time

import pytest
from conftest import DEADLINE, STRESS, join_all, spawn, spawn_in_turn, stress_test, until

import gopool
from gopool import Locker, Mutex, RWMutex
from gopool.chan import Chan, default, go, select

pytestmark = pytest.mark.timeout(60)

UNLOCK_MESSAGE = "sync: unlock of unlocked mutex"


def waiters(mu: Mutex) -> int:
    return mu.statistics()["waiters"]


def wait_waiters(mu: Mutex, n: int) -> None:
    until(lambda: waiters(mu) >= n, f"{n} threads blocked in {mu!r}")


class Turns:
    """Threads that lock the mutex, note their name, and unlock: the order they got it in."""

    def __init__(self, mu: Mutex) -> None:
        self.mu = mu
        self.order: list[object] = []
        self._lock = threading.Lock()

    def take(self, name: object) -> None:
        self.mu.lock()
        with self._lock:
            self.order.append(name)
        self.mu.unlock()


# ---------------------------------------------------------------------------
# Ports of src/sync/mutex_test.go


def hammer_mutex(m: Mutex, loops: int, cdone: Chan[bool]) -> None:
    for i in range(loops):
        if i % 3 == 0:
            if m.try_lock():
                m.unlock()
            continue
        m.lock()
        m.unlock()
    cdone.send(True)


def test_mutex() -> None:
    """Port of Go's TestMutex: try_lock on a locked and an unlocked mutex, then 10 hammers."""
    m = Mutex()
    m.lock()
    assert not m.try_lock(), "TryLock succeeded with mutex locked"
    m.unlock()
    assert m.try_lock(), "TryLock failed with mutex unlocked"
    m.unlock()

    c: Chan[bool] = Chan()
    for _ in range(10):
        go(hammer_mutex, m, 1000, c)
    for _ in range(10):
        c.recv(timeout=DEADLINE)
    assert m.statistics() == {"locked": False, "starving": False, "waiters": 0}


@pytest.mark.parametrize("case", ["Mutex.Unlock", "Mutex.Unlock2"])
def test_mutex_misuse(case: str) -> None:
    """Port of Go's TestMutexMisuse (the Mutex cases): unlock of an unlocked mutex.

    Go dies with the message; here it raises, and the mutex is left as it was.
    """
    mu = Mutex()
    if case == "Mutex.Unlock2":
        mu.lock()
        mu.unlock()
    with pytest.raises(RuntimeError) as info:
        mu.unlock()
    assert str(info.value) == UNLOCK_MESSAGE
    assert mu.statistics() == {"locked": False, "starving": False, "waiters": 0}
    assert mu.try_lock()
    mu.unlock()


def test_mutex_fairness() -> None:
    """Port of Go's TestMutexFairness: a thread that keeps re-locking cannot starve another."""
    mu = Mutex()
    stop: Chan[bool] = Chan()

    def hog() -> None:
        while True:
            mu.lock()
            time.sleep(100e-6)
            mu.unlock()
            if select(stop.recv, default)[0] == 0:
                return

    done: Chan[bool] = Chan(1)

    def polite() -> None:
        for _ in range(10):
            time.sleep(100e-6)
            mu.lock()
            mu.unlock()
        done.send(True)

    hog_thread = go(hog)
    try:
        go(polite)
        try:
            done.recv(timeout=10.0)
        except TimeoutError:
            pytest.fail("can't acquire Mutex in 10 seconds")
    finally:
        stop.close()
        hog_thread.join(DEADLINE)


# ---------------------------------------------------------------------------
# The rules of the spec and of Go's mutex.go


def test_statistics_and_repr_follow_the_state() -> None:
    mu = Mutex()
    assert mu.statistics() == {"locked": False, "starving": False, "waiters": 0}
    assert repr(mu).startswith("<Mutex unlocked waiters=0 at 0x")
    mu.lock()
    assert mu.statistics() == {"locked": True, "starving": False, "waiters": 0}
    assert repr(mu).startswith("<Mutex locked waiters=0 at 0x")
    mu.unlock()


def test_with_statement_locks_and_unlocks_even_on_error() -> None:
    mu = Mutex()
    with mu as entered:
        assert entered is None  # Go's Lock returns nothing; `with mu:` is the idiom
        assert mu.statistics()["locked"]
        assert not mu.try_lock()
    assert not mu.statistics()["locked"]
    with pytest.raises(ZeroDivisionError), mu:
        _ = 1 / 0
    assert mu.try_lock(), "an exception in the body left the mutex locked"
    mu.unlock()


def test_unlock_from_another_thread() -> None:
    """Go: a locked Mutex is not tied to a goroutine; another one may unlock it."""
    mu = Mutex()
    mu.lock()
    spawn(mu.unlock).join()
    assert mu.try_lock()
    spawn(mu.unlock).join()
    assert mu.statistics()["locked"] is False


def test_unlock_from_another_thread_wakes_the_waiter() -> None:
    mu = Mutex()
    mu.lock()
    got = spawn(mu.lock)
    wait_waiters(mu, 1)
    spawn(mu.unlock).join()
    got.join()
    assert mu.statistics() == {"locked": True, "starving": False, "waiters": 0}
    mu.unlock()


def test_locker_protocol() -> None:
    """Mutex, RWMutex and rlocker() are Lockers; threading.Lock (acquire/release) is not."""
    assert isinstance(Mutex(), Locker)
    assert isinstance(RWMutex(), Locker)
    assert isinstance(RWMutex().rlocker(), Locker)
    assert not isinstance(threading.Lock(), Locker)
    assert gopool.sync.Locker is Locker and gopool.sync.Mutex is Mutex


def test_fifo_order_when_nobody_barges() -> None:
    """Waiters queue in arrival order; each unlock of a held mutex serves the first."""
    mu = Mutex()
    mu.lock()
    turns = Turns(mu)
    tasks = spawn_in_turn(turns.take, 5, lambda: waiters(mu))
    mu.unlock()
    join_all(tasks)
    assert turns.order == [0, 1, 2, 3, 4]
    assert mu.statistics() == {"locked": False, "starving": False, "waiters": 0}


def barge(mu: Mutex) -> None:
    """Unlock, and take the mutex straight back before the woken waiter competes.

    Go's normal mode lets a running thread win this race, and it usually
    does, but not always (without the GIL the woken thread may run first):
    doing both under the mutex's guard, as ``unlock(); try_lock()`` with no
    gap, makes the woken waiter lose every time.
    """
    with mu._guard:
        woken = mu._unlock_locked()
        assert mu._held.acquire(False), "unlock handed the mutex over instead of freeing it"
    assert woken is not None, "unlock woke no waiter"
    woken.wake()


def test_starvation_mode_hands_the_mutex_to_the_starved_waiter() -> None:
    """Go's starvation mode.

    A waiter woken in normal mode that finds the mutex taken again, after
    waiting more than 1 ms, switches the mutex to starvation mode; from then
    on unlock hands it over directly, and a running thread cannot take it.
    """
    mu = Mutex()
    mu.lock()
    acquired = threading.Event()
    release = threading.Event()

    def waiter() -> None:
        mu.lock()
        acquired.set()
        release.wait(DEADLINE)
        mu.unlock()

    w = spawn(waiter)
    wait_waiters(mu, 1)
    time.sleep(0.005)  # past the 1 ms starvation threshold
    barge(mu)
    until(lambda: mu.statistics()["starving"], "the woken waiter to switch to starvation mode")
    assert mu.statistics() == {"locked": True, "starving": True, "waiters": 1}
    mu.unlock()
    # Handed off: the mutex stays locked, now by the waiter.
    assert not mu.try_lock(), "a running thread took a mutex in starvation mode"
    assert acquired.wait(DEADLINE)
    # The waiter was the last one queued: back to normal mode.
    assert mu.statistics() == {"locked": True, "starving": False, "waiters": 0}
    release.set()
    w.join()
    assert mu.try_lock()
    mu.unlock()


def test_woken_waiter_that_loses_requeues_at_the_front() -> None:
    """Go's queueLifo: a waiter woken then beaten goes back to the front, ahead of later ones.

    Then in starvation mode newcomers queue at the back, and the mode ends
    when the last waiter takes the mutex.
    """
    mu = Mutex()
    mu.lock()
    turns = Turns(mu)
    first = spawn(turns.take, "first")
    wait_waiters(mu, 1)
    second = spawn(turns.take, "second")
    wait_waiters(mu, 2)
    time.sleep(0.005)  # both past the starvation threshold
    barge(mu)  # wakes "first", which loses and requeues
    until(lambda: mu.statistics()["starving"], "the beaten waiter to switch to starvation mode")
    assert waiters(mu) == 2
    late = spawn(turns.take, "late")
    wait_waiters(mu, 3)
    mu.unlock()
    join_all([first, second, late])
    assert turns.order == ["first", "second", "late"]
    assert mu.statistics() == {"locked": False, "starving": False, "waiters": 0}


def test_starvation_mode_ends_for_a_waiter_that_waited_less_than_the_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Go: a waiter handed the mutex after a short wait switches back to normal mode,
    even with others still queued behind it.

    The threshold is raised to 1 s so that "short" does not depend on how
    fast this machine schedules threads.
    """
    monkeypatch.setattr(gopool.sync.mutex, "_STARVATION_THRESHOLD", 1.0)
    mu = Mutex()
    mu.lock()
    events = {name: (threading.Event(), threading.Event()) for name in ("a", "b", "c")}

    def take(name: str) -> None:
        got, go_on = events[name]
        mu.lock()
        got.set()
        go_on.wait(DEADLINE)
        mu.unlock()

    ta = spawn(take, "a")
    wait_waiters(mu, 1)
    time.sleep(1.1)  # a is past the threshold
    barge(mu)
    until(lambda: mu.statistics()["starving"], "a to switch to starvation mode")
    tb = spawn(take, "b")
    wait_waiters(mu, 2)
    tc = spawn(take, "c")
    wait_waiters(mu, 3)
    mu.unlock()  # handed to a, which waited long and is not the last: still starving
    assert events["a"][0].wait(DEADLINE)
    assert mu.statistics() == {"locked": True, "starving": True, "waiters": 2}
    events["a"][1].set()  # a unlocks: handed to b, which waited well under 1 s
    assert events["b"][0].wait(DEADLINE)
    assert mu.statistics() == {"locked": True, "starving": False, "waiters": 1}
    events["b"][1].set()
    events["c"][1].set()
    join_all([ta, tb, tc])
    assert events["c"][0].is_set()
    assert mu.statistics() == {"locked": False, "starving": False, "waiters": 0}


def test_no_starvation_mode_for_waits_under_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """A woken waiter that loses the race after a short wait requeues in normal mode."""
    monkeypatch.setattr(gopool.sync.mutex, "_STARVATION_THRESHOLD", 60.0)
    mu = Mutex()
    mu.lock()
    t = spawn(mu.lock)
    wait_waiters(mu, 1)
    barge(mu)
    # The woken waiter lost: it is queued again, and the mode is still normal,
    # so the next unlock lets it compete (and, with nobody barging, win).
    until(lambda: waiters(mu) == 1, "the beaten waiter to requeue")
    assert mu.statistics()["starving"] is False
    mu.unlock()
    t.join()
    assert mu.statistics() == {"locked": True, "starving": False, "waiters": 0}
    mu.unlock()


def test_try_lock_of_a_mutex_locked_by_another_thread() -> None:
    mu = Mutex()
    mu.lock()
    results: list[bool] = []
    t = spawn(lambda: results.append(mu.try_lock()))
    t.join()
    assert results == [False]
    mu.unlock()


# ---------------------------------------------------------------------------
# Stress: exact counts under contention


@stress_test(120)
def test_stress_counter_exact() -> None:
    """16 threads each add 1 to a shared int N times under the mutex, with a yield
    between the read and the write: any overlap of two critical sections loses a count."""
    mu = Mutex()
    threads, per = STRESS.threads(16), 2000
    box = [0]

    def add() -> None:
        for i in range(per):
            if not (i % 5 == 0 and mu.try_lock()):
                mu.lock()
            v = box[0]
            if i % 7 == 0:
                time.sleep(0)
            box[0] = v + 1
            mu.unlock()

    join_all([spawn(add) for _ in range(threads)], deadline=STRESS.seconds(120))
    assert box[0] == threads * per
    assert mu.statistics() == {"locked": False, "starving": False, "waiters": 0}


@stress_test(120)
def test_stress_unlocked_by_other_threads() -> None:
    """Ownership passes through a channel: the thread that unlocks is never the one that locked."""
    mu = Mutex()
    handoff: Chan[int] = Chan(4)
    n = STRESS.iterations(2000)
    box = [0]

    def locker(k: int) -> None:
        for _ in range(n):
            mu.lock()
            box[0] += 1
            handoff.send(k)

    def unlocker() -> None:
        for _ in range(2 * n):
            handoff.recv()
            mu.unlock()

    join_all([spawn(locker, 0), spawn(locker, 1), spawn(unlocker)], STRESS.seconds(120))
    assert box[0] == 2 * n
    assert mu.statistics() == {"locked": False, "starving": False, "waiters": 0}
