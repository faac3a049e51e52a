"""Tests for ``gopool.sync.Cond``.

Ports of Go's src/sync/cond_test.go (each names its Go test), then the
rules of the spec: a wait wakes only for a signal or a broadcast, a signal
wakes the longest waiter, a broadcast every wait that started before it and
none that started after, and the ``Locker`` may be any lock with
``lock``/``unlock`` (a ``Mutex``, an ``RWMutex``'s ``rlocker()``). A test
that must know a thread waits uses ``statistics()`` (``until`` polls,
test-side only).

Left out: Go's TestCondCopy (Python objects are shared, never copied, so a
copied Cond cannot arise).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from conftest import DEADLINE, STRESS, join_all, spawn, spawn_in_turn, stress_test, until

from gopool import Cond, Mutex, RWMutex
from gopool.chan import Chan, default, go, select

pytestmark = pytest.mark.timeout(120)


def cond_waiters(c: Cond) -> int:
    return c.statistics()["waiters"]


def rendezvous(n: int) -> tuple[Mutex, Cond, Chan[Any], Chan[Any]]:
    """The set-up of Go's Cond tests: a Mutex, its Cond, and channels ``running`` and
    ``awake`` with room for ``n``."""
    m = Mutex()
    return m, Cond(m), Chan(n), Chan(n)


def wait_once(c: Cond, awake: Chan[Any], token: Any, running: Chan[bool] | None = None) -> None:
    """The waiter of Go's Cond tests: lock ``c.l``, say so on ``running`` (if given),
    wait, send ``token`` on ``awake``, unlock."""
    c.l.lock()
    if running is not None:
        running.send(True)
    c.wait()
    awake.send(token)
    c.l.unlock()


# ---------------------------------------------------------------------------
# Ports of src/sync/cond_test.go


def test_cond_signal() -> None:
    """Port of Go's TestCondSignal: each signal wakes exactly one waiter."""
    n = 2
    m, c, running, awake = rendezvous(n)
    for _ in range(n):
        go(wait_once, c, awake, True, running)
    for _ in range(n):
        running.recv(timeout=DEADLINE)  # Wait for everyone to run.
    while n > 0:
        index, _ = select(awake.recv, default)
        assert index == 1, "goroutine not asleep"
        m.lock()
        c.signal()
        m.unlock()
        awake.recv(timeout=DEADLINE)  # Will deadlock if no goroutine wakes up
        index, _ = select(awake.recv, default)
        assert index == 1, "too many goroutines awake"
        n -= 1
    c.signal()


def test_cond_signal_generations() -> None:
    """Port of Go's TestCondSignalGenerations: a signal wakes the longest waiter."""
    n = 100
    m, c, running, awake = rendezvous(n)
    for i in range(n):
        go(wait_once, c, awake, i, running)
        if i > 0:
            a = awake.recv(timeout=DEADLINE)
            assert a == i - 1, f"wrong goroutine woke up: want {i - 1}, got {a}"
        running.recv(timeout=DEADLINE)
        m.lock()
        c.signal()
        m.unlock()
    assert awake.recv(timeout=DEADLINE) == n - 1


def test_cond_broadcast() -> None:
    """Port of Go's TestCondBroadcast: 200 waiters, 200 rounds, each woken once per round."""
    n = 200
    m, c, running, awake = rendezvous(n)
    exit_ = [False]

    def waiter(g: int) -> None:
        m.lock()
        while not exit_[0]:
            running.send(g)
            c.wait()
            awake.send(g)
        m.unlock()

    for i in range(n):
        go(waiter, i)
    for i in range(n):
        for _ in range(n):
            running.recv(timeout=DEADLINE)  # Will deadlock unless n are running.
        if i == n - 1:
            m.lock()
            exit_[0] = True
            m.unlock()
        index, _ = select(awake.recv, default)
        assert index == 1, "goroutine not asleep"
        m.lock()
        c.broadcast()
        m.unlock()
        seen = [False] * n
        for _ in range(n):
            g = awake.recv(timeout=DEADLINE)
            assert not seen[g], "goroutine woke up twice"
            seen[g] = True
    index, _ = select(running.recv, default)
    assert index == 1, "goroutine did not exit"
    c.broadcast()


def test_race() -> None:
    """Port of Go's TestRace: the lock orders what each side sees around wait and signal."""
    x = [0]
    c = Cond(Mutex())
    done: Chan[bool] = Chan()
    errors: list[str] = []

    def gosched_unlocked() -> None:
        c.l.unlock()
        time.sleep(0)  # Go's runtime.Gosched()
        c.l.lock()

    def first() -> None:
        c.l.lock()
        x[0] = 1
        c.wait()
        if x[0] != 2:
            errors.append("want 2")
        x[0] = 3
        c.signal()
        c.l.unlock()
        done.send(True)

    def second() -> None:
        c.l.lock()
        while True:
            if x[0] == 1:
                x[0] = 2
                c.signal()
                break
            gosched_unlocked()
        c.l.unlock()
        done.send(True)

    def third() -> None:
        c.l.lock()
        while True:
            if x[0] == 2:
                c.wait()
                if x[0] != 3:
                    errors.append("want 3")
                break
            if x[0] == 3:
                break
            gosched_unlocked()
        c.l.unlock()
        done.send(True)

    go(first)
    go(second)
    go(third)
    for _ in range(3):
        done.recv(timeout=DEADLINE)
    assert errors == []


def test_cond_signal_stealing() -> None:
    """Port of Go's TestCondSignalStealing: a broadcast racing a new wait still wakes
    the waiter that was already waiting."""
    for _ in range(STRESS.iterations(1000)):
        m = Mutex()
        cond = Cond(m)

        # Start a waiter.
        ch: Chan[None] = Chan()

        def first(m: Mutex = m, cond: Cond = cond, ch: Chan[None] = ch) -> None:
            m.lock()
            ch.send(None)
            cond.wait()
            m.unlock()
            ch.send(None)

        go(first)
        ch.recv(timeout=DEADLINE)
        m.lock()
        m.unlock()

        # The waiter is in cond.wait(): we synchronized with it, then took
        # and released the mutex it held when we did. Start two goroutines
        # that race: one broadcasts, the other waits. The new waiter may or
        # may not be woken, but the first one has to be.
        done = [False]
        go(cond.broadcast)

        def second(m: Mutex = m, cond: Cond = cond, done: list[bool] = done) -> None:
            m.lock()
            while not done[0]:
                cond.wait()
            m.unlock()

        go(second)

        try:
            ch.recv(timeout=2.0)
        except TimeoutError:
            pytest.fail("First waiter didn't get broadcast.")

        # Release the second waiter in case it didn't get the broadcast.
        m.lock()
        done[0] = True
        m.unlock()
        cond.broadcast()


@pytest.mark.parametrize("waiters", [1, 2, 4, 8, 16, 32])
def test_cond_rounds(waiters: int) -> None:
    """Go's benchmarkCond (BenchmarkCond1 ... BenchmarkCond32) as a test with exact counts.

    ``waiters + 1`` threads meet in rounds: each adds itself to ``id`` and
    waits, the last of a round resets it and broadcasts. Every thread does
    ``n`` rounds, so every round is complete and no wait is lost.
    """
    c = Cond(Mutex())
    done: Chan[bool] = Chan()
    state = {"id": 0, "rounds": 0}
    n = STRESS.iterations(200)

    def routine() -> None:
        for _ in range(n):
            c.l.lock()
            if state["id"] == -1:
                c.l.unlock()
                break
            state["id"] += 1
            if state["id"] == waiters + 1:
                state["id"] = 0
                state["rounds"] += 1
                c.broadcast()
            else:
                c.wait()
            c.l.unlock()
        c.l.lock()
        state["id"] = -1
        c.broadcast()
        c.l.unlock()
        done.send(True)

    for _ in range(waiters + 1):
        go(routine)
    for _ in range(waiters + 1):
        done.recv(timeout=60)
    # Every thread took part in every round: a wait that returned without its
    # broadcast would have made a thread run ahead and the count differ.
    assert state["rounds"] == n
    assert cond_waiters(c) == 0


# ---------------------------------------------------------------------------
# The rules of the spec


def test_constructor_takes_a_locker() -> None:
    m = Mutex()
    c = Cond(m)
    assert c.l is m
    rw = RWMutex()
    assert Cond(rw.rlocker()).l is not None
    with pytest.raises(TypeError, match="Locker"):
        Cond(threading.Lock())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Locker"):
        Cond(None)  # type: ignore[arg-type]


def test_wait_does_not_wake_without_signal_or_broadcast() -> None:
    """Go: unlike in other systems, Wait cannot return unless awoken by Broadcast or Signal."""
    m = Mutex()
    c = Cond(m)
    woke = threading.Event()

    def wait() -> None:
        m.lock()
        c.wait()
        woke.set()
        m.unlock()

    t = spawn(wait)
    until(lambda: cond_waiters(c) == 1, "the waiter")
    # The mutex is free and changes hands, yet nobody signals.
    for _ in range(50):
        m.lock()
        m.unlock()
    assert not woke.wait(0.3)
    c.signal()
    t.join()
    assert woke.is_set()


def test_wait_unlocks_and_relocks() -> None:
    m = Mutex()
    c = Cond(m)
    inside = threading.Event()
    locked_after: list[bool] = []

    def wait() -> None:
        m.lock()
        inside.set()
        c.wait()
        locked_after.append(m.statistics()["locked"])
        m.unlock()

    t = spawn(wait)
    until(lambda: cond_waiters(c) == 1, "the waiter")
    assert inside.is_set()
    assert m.try_lock(), "wait() did not unlock l"
    c.signal()
    # Woken, the waiter needs l back, which we hold.
    time.sleep(0.05)
    assert not t.done
    m.unlock()
    t.join()
    assert locked_after == [True]


def test_signal_wakes_the_longest_waiter_and_not_a_later_one() -> None:
    """Signals are tickets: one taken before a wait starts does not wake that wait."""
    m = Mutex()
    c = Cond(m)
    c.signal()  # nobody waits: no effect, not even on a later wait
    c.broadcast()
    woke: Chan[int] = Chan(3)
    tasks = spawn_in_turn(lambda i: wait_once(c, woke, i), 3, lambda: cond_waiters(c))
    index, _ = select(woke.recv, default)
    assert index == 1, "a wait returned without a signal"
    c.signal()
    assert woke.recv(timeout=DEADLINE) == 0
    c.signal()
    assert woke.recv(timeout=DEADLINE) == 1
    c.signal()
    assert woke.recv(timeout=DEADLINE) == 2
    join_all(tasks)


def test_broadcast_wakes_waits_started_before_it_only() -> None:
    m = Mutex()
    c = Cond(m)
    woke: Chan[str] = Chan(4)
    early = [spawn(wait_once, c, woke, "a"), spawn(wait_once, c, woke, "b")]
    until(lambda: cond_waiters(c) == 2, "two waiters")
    c.broadcast()
    assert sorted([woke.recv(timeout=DEADLINE), woke.recv(timeout=DEADLINE)]) == ["a", "b"]
    join_all(early)
    late = spawn(wait_once, c, woke, "late")
    until(lambda: cond_waiters(c) == 1, "the late waiter")
    index, _ = select(woke.recv, default)
    assert index == 1, "the earlier broadcast woke a later wait"
    c.broadcast()
    assert woke.recv(timeout=DEADLINE) == "late"
    late.join()


def test_cond_over_an_rlocker() -> None:
    """A Cond whose Locker is an RWMutex's read lock: waiters read-lock again on waking."""
    rw = RWMutex()
    c = Cond(rw.rlocker())
    got: Chan[int] = Chan(2)

    def wait(i: int) -> None:
        rw.rlock()
        c.wait()
        got.send(rw.statistics()["readers"])
        rw.runlock()

    tasks = [spawn(wait, 0), spawn(wait, 1)]
    until(lambda: cond_waiters(c) == 2, "two waiters")
    assert rw.statistics()["readers"] == 0  # wait() released the read locks
    rw.lock()
    c.broadcast()
    time.sleep(0.05)
    assert not any(t.done for t in tasks), "a reader re-locked past the writer"
    rw.unlock()
    join_all(tasks)
    assert {got.recv(timeout=DEADLINE), got.recv(timeout=DEADLINE)} <= {1, 2}
    assert rw.statistics()["readers"] == 0


def test_wait_with_l_not_locked_raises_and_is_not_queued() -> None:
    """Go's Wait calls L.Unlock first, which panics for an unlocked Mutex: here it raises."""
    m = Mutex()
    c = Cond(m)
    with pytest.raises(RuntimeError, match=r"^sync: unlock of unlocked mutex$"):
        c.wait()
    assert cond_waiters(c) == 0
    c.signal()


def test_statistics_and_repr() -> None:
    m = Mutex()
    c = Cond(m)
    assert c.statistics() == {"waiters": 0}
    assert repr(c).startswith("<Cond waiters=0 l=<Mutex unlocked")


# ---------------------------------------------------------------------------
# Stress


@stress_test(120)
def test_stress_bounded_buffer_exact() -> None:
    """A bounded buffer on one Mutex and two Conds: 6 producers, 6 consumers, every item
    delivered exactly once, with signal for single hand-offs and broadcast at the end."""
    m = Mutex()
    not_empty = Cond(m)
    not_full = Cond(m)
    buf: list[tuple[int, int]] = []
    cap = 4
    per = 1000
    producers = consumers = STRESS.threads(6)
    closed = [False]

    def produce(p: int) -> None:
        for seq in range(per):
            m.lock()
            while len(buf) >= cap:
                not_full.wait()
            buf.append((p, seq))
            not_empty.signal()
            m.unlock()

    def consume() -> list[tuple[int, int]]:
        got = []
        while True:
            m.lock()
            while not buf and not closed[0]:
                not_empty.wait()
            if not buf:
                m.unlock()
                return got
            got.append(buf.pop(0))
            not_full.signal()
            m.unlock()

    cons = [spawn(consume) for _ in range(consumers)]
    join_all([spawn(produce, p) for p in range(producers)], deadline=STRESS.seconds(120))
    m.lock()
    closed[0] = True
    not_empty.broadcast()
    m.unlock()
    received = [item for got in join_all(cons, deadline=60) for item in got]
    assert sorted(received) == [(p, s) for p in range(producers) for s in range(per)]
    for got in join_all(cons):
        last: dict[int, int] = {}
        for p, s in got:
            assert s > last.get(p, -1), "one consumer saw a producer's items out of order"
            last[p] = s
    assert cond_waiters(not_empty) == cond_waiters(not_full) == 0
