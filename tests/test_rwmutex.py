"""Tests for ``gopool.sync.RWMutex`` and its ``rlocker()``.

Ports of Go's src/sync/rwmutex_test.go and of the RWMutex cases of
TestMutexMisuse in mutex_test.go (each names its Go test), then Go's
fairness rules, forced step by step: a blocked writer keeps new readers
out, the readers blocked behind a writer go before the next writer, and a
stream of overlapping readers cannot starve a writer. A test that must know
a thread is blocked waits for it through ``statistics()`` (``until`` polls,
test-side only).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from conftest import DEADLINE, STRESS, join_all, spawn, spawn_in_turn, stress_test, until

from gopool import Locker, RWMutex
from gopool.chan import Chan, default, go, select

pytestmark = pytest.mark.timeout(120)

IDLE = {"readers": 0, "writer": False, "readers_waiting": 0, "writers_waiting": 0}


def wait_state(rw: RWMutex, **want: int | bool) -> None:
    """Wait until ``rw.statistics()`` has the given values."""

    def reached() -> bool:
        s = rw.statistics()
        return all(s[k] == v for k, v in want.items())

    until(reached, f"{want} in {rw!r}")


class Activity:
    """Go's ``activity`` counter: readers add 1, writers 10,000; checked at every entry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._n = 0

    def add(self, delta: int) -> int:
        with self._lock:
            self._n += delta
            return self._n


# ---------------------------------------------------------------------------
# Ports of src/sync/rwmutex_test.go


def parallel_reader(
    m: RWMutex, clocked: Chan[bool], cunlock: threading.Event, cdone: Chan[bool]
) -> None:
    m.rlock()
    clocked.send(True)
    cunlock.wait(DEADLINE)
    m.runlock()
    cdone.send(True)


def do_test_parallel_readers(num_readers: int) -> None:
    m = RWMutex()
    clocked: Chan[bool] = Chan()
    cunlock = threading.Event()
    cdone: Chan[bool] = Chan()
    for _ in range(num_readers):
        go(parallel_reader, m, clocked, cunlock, cdone)
    # Wait for all parallel rlock()s to succeed.
    for _ in range(num_readers):
        clocked.recv(timeout=DEADLINE)
    assert m.statistics()["readers"] == num_readers
    cunlock.set()
    for _ in range(num_readers):
        cdone.recv(timeout=DEADLINE)
    assert m.statistics() == IDLE


@pytest.mark.parametrize("num_readers", [1, 3, 4])
def test_parallel_readers(num_readers: int) -> None:
    """Port of Go's TestParallelReaders: readers hold the lock together."""
    do_test_parallel_readers(num_readers)


def hammer_role(
    lock: Callable[[], None],
    unlock: Callable[[], None],
    weight: int,
    num_iterations: int,
    activity: Activity,
    cdone: Chan[bool],
) -> None:
    """Go's ``reader`` (weight 1) and ``writer`` (weight 10,000) in one: inside the lock,
    ``activity`` must show only readers, or this one writer."""
    for _ in range(num_iterations):
        lock()
        n = activity.add(weight)
        if not (1 <= n < 10000 if weight == 1 else n == 10000):
            unlock()
            raise AssertionError(f"wlock({n})")
        for _ in range(100):
            pass
        activity.add(-weight)
        unlock()
    cdone.send(True)


def reader(rwm: RWMutex, num_iterations: int, activity: Activity, cdone: Chan[bool]) -> None:
    hammer_role(rwm.rlock, rwm.runlock, 1, num_iterations, activity, cdone)


def writer(rwm: RWMutex, num_iterations: int, activity: Activity, cdone: Chan[bool]) -> None:
    hammer_role(rwm.lock, rwm.unlock, 10000, num_iterations, activity, cdone)


def hammer_rwmutex(num_readers: int, num_iterations: int) -> None:
    # Number of active readers + 10000 * number of active writers.
    activity = Activity()
    rwm = RWMutex()
    cdone: Chan[bool] = Chan()
    go(writer, rwm, num_iterations, activity, cdone)
    i = 0
    while i < num_readers // 2:
        go(reader, rwm, num_iterations, activity, cdone)
        i += 1
    go(writer, rwm, num_iterations, activity, cdone)
    while i < num_readers:
        go(reader, rwm, num_iterations, activity, cdone)
        i += 1
    # Wait for the 2 writers and all readers to finish.
    for _ in range(2 + num_readers):
        cdone.recv(timeout=60)
    assert rwm.statistics() == IDLE


def test_rwmutex_try_lock() -> None:
    """Port of the TryLock/TryRLock checks that open Go's TestRWMutex."""
    m = RWMutex()
    m.lock()
    assert not m.try_lock(), "TryLock succeeded with mutex locked"
    assert not m.try_rlock(), "TryRLock succeeded with mutex locked"
    m.unlock()

    assert m.try_lock(), "TryLock failed with mutex unlocked"
    m.unlock()

    assert m.try_rlock(), "TryRLock failed with mutex unlocked"
    assert m.try_rlock(), "TryRLock failed with mutex rlocked"
    assert not m.try_lock(), "TryLock succeeded with mutex rlocked"
    m.runlock()
    m.runlock()
    assert m.statistics() == IDLE


@pytest.mark.parametrize("num_readers", [1, 3, 10, 5])
def test_rwmutex(num_readers: int) -> None:
    """Port of Go's TestRWMutex: HammerRWMutex with 2 writers and 1, 3, 10 and 5 readers.

    Go repeats the runs for GOMAXPROCS 1, 4 and 10; threads here run as the
    interpreter schedules them, so each reader count runs once.
    """
    hammer_rwmutex(num_readers, STRESS.iterations(1000))


def test_rlocker() -> None:
    """Port of Go's TestRLocker: rlocker() read-locks, and respects the write lock."""
    wl = RWMutex()
    rl: Locker = wl.rlocker()
    wlocked: Chan[bool] = Chan(1)
    rlocked: Chan[bool] = Chan(1)
    n = 10

    def locker() -> None:
        for _ in range(n):
            rl.lock()
            rl.lock()
            rlocked.send(True)
            wl.lock()
            wlocked.send(True)

    go(locker)
    for _ in range(n):
        rlocked.recv(timeout=DEADLINE)
        rl.unlock()
        index, _ = select(wlocked.recv, default)
        assert index == 1, "RLocker() didn't read-lock it"
        rl.unlock()
        wlocked.recv(timeout=DEADLINE)
        index, _ = select(rlocked.recv, default)
        assert index == 1, "RLocker() didn't respect the write lock"
        wl.unlock()


MISUSE = {
    "RWMutex.Unlock": ("", "unlock", "sync: Unlock of unlocked RWMutex"),
    "RWMutex.Unlock2": ("rlock", "unlock", "sync: Unlock of unlocked RWMutex"),
    "RWMutex.Unlock3": ("lock unlock", "unlock", "sync: Unlock of unlocked RWMutex"),
    "RWMutex.RUnlock": ("", "runlock", "sync: RUnlock of unlocked RWMutex"),
    "RWMutex.RUnlock2": ("lock", "runlock", "sync: RUnlock of unlocked RWMutex"),
    "RWMutex.RUnlock3": ("rlock runlock", "runlock", "sync: RUnlock of unlocked RWMutex"),
}


@pytest.mark.parametrize("case", list(MISUSE))
def test_rwmutex_misuse(case: str) -> None:
    """Port of the RWMutex cases of Go's TestMutexMisuse: Go's texts, and nothing changed."""
    setup, call, message = MISUSE[case]
    rw = RWMutex()
    for step in setup.split():
        getattr(rw, step)()
    before = rw.statistics()
    with pytest.raises(RuntimeError) as info:
        getattr(rw, call)()
    assert str(info.value) == message
    assert rw.statistics() == before


def test_unlock_of_a_writer_still_waiting_for_readers_raises() -> None:
    """Go cannot tell this misuse apart (it corrupts the lock); here it raises."""
    rw = RWMutex()
    rw.rlock()
    w = spawn(rw.lock)
    wait_state(rw, writers_waiting=1)
    with pytest.raises(RuntimeError, match=r"^sync: Unlock of unlocked RWMutex$"):
        rw.unlock()
    rw.runlock()
    w.join()
    assert rw.statistics() == {**IDLE, "writer": True}
    rw.unlock()


# ---------------------------------------------------------------------------
# Go's rules for RWMutex


def test_with_statement_takes_the_write_lock() -> None:
    rw = RWMutex()
    with rw:
        assert rw.statistics()["writer"] is True
        assert not rw.try_rlock()
    assert rw.statistics() == IDLE
    with pytest.raises(KeyError), rw:
        raise KeyError("x")
    assert rw.statistics() == IDLE
    with rw.rlocker():
        assert rw.statistics()["readers"] == 1
    assert rw.statistics() == IDLE


def test_rlocker_is_bound_to_its_rwmutex() -> None:
    rw = RWMutex()
    rl = rw.rlocker()
    rl.lock()
    assert not rw.try_lock()
    rw.runlock()  # the same read lock, released through the RWMutex
    assert rw.try_lock()
    rw.unlock()
    assert "RWMutex" in repr(rl)


def test_blocked_writer_keeps_new_readers_out() -> None:
    """Go: a blocked Lock call excludes new readers, so writers are not starved."""
    rw = RWMutex()
    rw.rlock()
    w = spawn(rw.lock)
    wait_state(rw, writers_waiting=1)
    assert not rw.try_rlock(), "a new reader got in past a waiting writer"
    r = spawn(rw.rlock)
    wait_state(rw, readers_waiting=1)
    assert rw.statistics() == {
        "readers": 1,
        "writer": False,
        "readers_waiting": 1,
        "writers_waiting": 1,
    }
    rw.runlock()  # the last reader leaves: the writer goes first
    w.join()
    assert rw.statistics() == {
        "readers": 0,
        "writer": True,
        "readers_waiting": 1,
        "writers_waiting": 0,
    }
    rw.unlock()  # and the reader that waited behind it goes next
    r.join()
    assert rw.statistics() == {
        "readers": 1,
        "writer": False,
        "readers_waiting": 0,
        "writers_waiting": 0,
    }
    rw.runlock()


def test_readers_blocked_by_a_writer_go_before_the_next_writer() -> None:
    """Go: at a writer's unlock every reader waiting for it is let in before the next writer."""
    rw = RWMutex()
    rw.lock()
    readers = [spawn(rw.rlock) for _ in range(3)]
    wait_state(rw, readers_waiting=3)
    w2 = spawn(rw.lock)
    wait_state(rw, writers_waiting=1)
    rw.unlock()
    join_all(readers)
    # The three readers hold it; the second writer announced itself and waits for them.
    wait_state(rw, readers=3, writers_waiting=1)
    assert not rw.try_rlock(), "a new reader got in past the waiting writer"
    assert not w2.done
    for _ in range(3):
        rw.runlock()
    w2.join()
    assert rw.statistics() == {**IDLE, "writer": True}
    rw.unlock()
    assert rw.statistics() == IDLE


def test_writers_queue_in_order_behind_one_another() -> None:
    rw = RWMutex()
    rw.lock()
    order: list[int] = []

    def write(i: int) -> None:
        rw.lock()
        order.append(i)
        rw.unlock()

    tasks = spawn_in_turn(write, 4, lambda: rw.statistics()["writers_waiting"])
    rw.unlock()
    join_all(tasks)
    assert order == [0, 1, 2, 3]
    assert rw.statistics() == IDLE


def test_overlapping_readers_cannot_starve_a_writer() -> None:
    """Readers that keep the read lock held at every moment still let a writer in."""
    rw = RWMutex()
    stop = threading.Event()
    reads = [0, 0, 0, 0]

    def read(k: int) -> None:
        while not stop.is_set():
            rw.rlock()
            time.sleep(0.001)
            reads[k] += 1
            rw.runlock()

    readers = [spawn(read, k) for k in range(4)]
    until(lambda: min(reads) > 0, "every reader to read")
    try:
        for _ in range(20):
            w = spawn(rw.lock)
            w.join(deadline=DEADLINE)  # a starved writer fails here
            rw.unlock()
    finally:
        stop.set()
        join_all(readers)
    assert rw.statistics() == IDLE


def test_unlock_and_runlock_from_other_threads() -> None:
    """Go: one goroutine may RLock (Lock) an RWMutex and another RUnlock (Unlock) it."""
    rw = RWMutex()
    rw.lock()
    spawn(rw.unlock).join()
    rw.rlock()
    rw.rlock()
    spawn(rw.runlock).join()
    spawn(rw.runlock).join()
    assert rw.statistics() == IDLE


def test_try_rlock_fails_only_for_a_writer() -> None:
    rw = RWMutex()
    assert rw.try_rlock() and rw.try_rlock()
    assert rw.statistics()["readers"] == 2
    assert not rw.try_lock()
    rw.runlock()
    rw.runlock()
    assert rw.try_lock()
    assert not rw.try_rlock()
    assert not rw.try_lock()
    rw.unlock()


def test_repr_shows_the_state() -> None:
    rw = RWMutex()
    assert repr(rw).startswith("<RWMutex unlocked readers_waiting=0 writers_waiting=0 at 0x")
    rw.rlock()
    assert repr(rw).startswith("<RWMutex read-locked readers=1 ")
    rw.runlock()
    rw.lock()
    assert repr(rw).startswith("<RWMutex write-locked ")
    rw.unlock()


# ---------------------------------------------------------------------------
# Stress


@stress_test(120)
def test_stress_readers_and_writers_exact() -> None:
    """8 readers and 4 writers (times GOPOOL_STRESS), blocking and try_ forms mixed, with
    invariants checked inside every critical section and an exact count of the writes."""
    rw = RWMutex()
    activity = Activity()
    box = [0]
    per = 1500
    nreaders, nwriters = STRESS.threads(8), STRESS.threads(4)

    def read(k: int) -> int:
        seen = 0
        for i in range(per):
            if not (i % 4 == 0 and rw.try_rlock()):
                rw.rlock()
            n = activity.add(1)
            assert 1 <= n < 10000, f"reader saw activity {n}"
            seen = max(seen, box[0])
            activity.add(-1)
            rw.runlock()
        return seen

    def write(k: int) -> None:
        for i in range(per):
            if not (i % 4 == 0 and rw.try_lock()):
                rw.lock()
            n = activity.add(10000)
            assert n == 10000, f"writer saw activity {n}"
            v = box[0]
            if i % 3 == 0:
                time.sleep(0)
            box[0] = v + 1
            activity.add(-10000)
            rw.unlock()

    tasks = [spawn(read, k) for k in range(nreaders)] + [spawn(write, k) for k in range(nwriters)]
    results = join_all(tasks, deadline=STRESS.seconds(120))
    assert box[0] == nwriters * per
    assert all(0 <= r <= nwriters * per for r in results[:nreaders])
    assert rw.statistics() == IDLE
