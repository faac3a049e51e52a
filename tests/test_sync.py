"""Tests for ``gopool.sync``: WaitGroup, Once, once_func, once_value, once_values.

Ports of Go's src/sync/waitgroup_test.go, once_test.go and oncefunc_test.go
(each names its Go test), then the rules of the spec's "sync" section, stress
runs, and Ctrl-C reaching a main thread blocked in ``WaitGroup.wait`` or
``Once.do`` (in a subprocess).

A test that must know a thread is blocked before it acts uses the ``parked``
fixture: every wait announces itself on a channel after publishing its
waiter, which is the moment a completer can see it. No test sleeps to let a thread block.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from conftest import STRESS, announce_parks, stress_test

import gopool._panic
import gopool.sync.waitgroup
from gopool._waiter import Waiter
from gopool.chan import Chan, default, go, select
from gopool.sync import Once, WaitGroup, once_func, once_value, once_values

pytestmark = [pytest.mark.timeout(30), pytest.mark.parallel_safe]

DEADLINE = 10.0
"""Seconds a test-side wait allows before declaring the library stuck."""


@pytest.fixture
def parked(monkeypatch: pytest.MonkeyPatch) -> Iterator[Chan[Waiter]]:
    """A channel that receives each waiter of ``gopool.sync`` once it is published."""
    yield announce_parks(monkeypatch, "WaitGroup.wait", "Once.do")


def await_parked(published: Chan[Waiter], n: int) -> None:
    for _ in range(n):
        published.recv(timeout=DEADLINE)


class Counter:
    """An int guarded by a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._n = 0

    def incr(self) -> int:
        with self._lock:
            self._n += 1
            return self._n

    @property
    def value(self) -> int:
        with self._lock:
            return self._n


# ---------------------------------------------------------------------------
# Ports of src/sync/waitgroup_test.go


def _test_wait_group(wg1: WaitGroup, wg2: WaitGroup) -> None:
    n = 16
    wg1.add(n)
    wg2.add(n)
    exited: Chan[bool] = Chan(n)

    def worker() -> None:
        wg1.done()
        wg2.wait()
        exited.send(True)

    for _ in range(n):
        go(worker)
    wg1.wait()
    for _ in range(n):
        index, _ = select(exited.recv, default)
        assert index == 1, "WaitGroup released group too soon"
        wg2.done()
    for _ in range(n):
        exited.recv(timeout=DEADLINE)  # would block if the barrier failed to release someone


def test_wait_group() -> None:
    """Port of Go's TestWaitGroup in src/sync/waitgroup_test.go."""
    wg1 = WaitGroup()
    wg2 = WaitGroup()
    # The same groups a few times over: a barrier must be left in a proper state.
    for _ in range(8):
        _test_wait_group(wg1, wg2)
    assert wg1.statistics() == wg2.statistics() == {"counter": 0, "waiters": 0}


def test_wait_group_misuse() -> None:
    """Port of Go's TestWaitGroupMisuse in src/sync/waitgroup_test.go."""
    wg = WaitGroup()
    wg.add(1)
    wg.done()
    with pytest.raises(ValueError) as info:
        wg.done()
    assert str(info.value) == "sync: negative WaitGroup counter"


def test_wait_group_race() -> None:
    """Port of Go's TestWaitGroupRace in src/sync/waitgroup_test.go: no spurious wake-up."""
    for _ in range(1000):
        wg = WaitGroup()
        n = Counter()

        def goroutine(n: Counter = n, wg: WaitGroup = wg) -> None:
            n.incr()
            wg.done()

        wg.add(1)
        go(goroutine)
        wg.add(1)
        go(goroutine)
        assert wg.wait() is True
        assert n.value == 2, "Spurious wakeup from Wait"


def test_wait_group_align() -> None:
    """Port of Go's TestWaitGroupAlign in src/sync/waitgroup_test.go (a group inside an object)."""

    class X:
        def __init__(self) -> None:
            self.x = b"\x00"
            self.wg = WaitGroup()

    x = X()
    x.wg.add(1)
    go(lambda x: x.wg.done(), x)
    assert x.wg.wait(timeout=DEADLINE) is True


def test_wait_group_go() -> None:
    """Port of Go's TestWaitGroupGo in src/sync/waitgroup_test.go (Go 1.25)."""
    wg = WaitGroup()
    i = Counter()
    wg.go(i.incr)
    assert wg.wait(timeout=DEADLINE) is True
    assert i.value == 1


# ---------------------------------------------------------------------------
# WaitGroup: the rules of the spec


def test_wait_on_zero_counter_returns_true_at_once() -> None:
    wg = WaitGroup()
    assert wg.wait() is True
    assert wg.wait(0) is True
    assert wg.wait(timeout=-1) is True
    wg.add(3)
    wg.add(-3)
    assert wg.wait() is True


def test_add_default_delta_is_one_and_done_lowers() -> None:
    wg = WaitGroup()
    wg.add()
    wg.add(2)
    assert wg.statistics() == {"counter": 3, "waiters": 0}
    wg.done()
    assert wg.statistics()["counter"] == 2
    wg.add(-2)
    assert wg.statistics()["counter"] == 0


def test_negative_counter_raises_and_changes_nothing() -> None:
    wg = WaitGroup()
    wg.add(2)
    with pytest.raises(ValueError, match=r"^sync: negative WaitGroup counter$"):
        wg.add(-3)
    assert wg.statistics()["counter"] == 2
    with pytest.raises(ValueError, match=r"^sync: negative WaitGroup counter$"):
        WaitGroup().add(-1)


@pytest.mark.parametrize("delta", [1.0, "1", None, True])
def test_add_rejects_non_int(delta: Any) -> None:
    wg = WaitGroup()
    with pytest.raises(TypeError, match="delta must be an int"):
        wg.add(delta)
    assert wg.statistics()["counter"] == 0


def test_wait_timeout_returns_false_and_leaves_no_waiter() -> None:
    wg = WaitGroup()
    wg.add(1)
    assert wg.wait(0.05) is False
    assert wg.wait(timeout=timedelta(milliseconds=20)) is False
    assert wg.wait(0) is False
    assert wg.wait(-1.0) is False
    assert wg.statistics() == {"counter": 1, "waiters": 0}
    wg.done()
    assert wg.wait(0) is True
    assert wg.statistics() == {"counter": 0, "waiters": 0}


def test_wait_timeout_lasts_at_least_the_timeout() -> None:
    wg = WaitGroup()
    wg.add(1)
    start = time.monotonic()
    assert wg.wait(0.1) is False
    assert time.monotonic() - start >= 0.09


def test_wait_rejects_bad_timeout() -> None:
    wg = WaitGroup()
    wg.add(1)
    with pytest.raises(TypeError, match="timeout"):
        wg.wait("1")  # type: ignore[arg-type]
    assert wg.statistics() == {"counter": 1, "waiters": 0}


def test_timed_wait_racing_done_is_consistent() -> None:
    """A timed wait that loses the race to ``done`` returns True; else it withdraws cleanly."""
    outcomes = {True: 0, False: 0}
    for i in range(300):
        wg = WaitGroup()
        wg.add(1)
        called = threading.Event()

        def finish(wg: WaitGroup = wg, called: threading.Event = called) -> None:
            called.set()
            wg.done()

        t = go(finish)
        got = wg.wait(timeout=(i % 5) * 0.0002)
        if got:
            assert called.is_set(), "wait returned True before done() was called"
        outcomes[got] += 1
        t.join(DEADLINE)
        assert wg.statistics() == {"counter": 0, "waiters": 0}
        assert wg.wait(0) is True
    assert outcomes[True] > 0


def test_every_waiter_released_when_counter_reaches_zero(parked: Chan[Waiter]) -> None:
    wg = WaitGroup()
    wg.add(2)
    released: Chan[bool] = Chan(8)
    for _ in range(8):
        go(lambda: released.send(wg.wait()))
    await_parked(parked, 8)
    assert wg.statistics() == {"counter": 2, "waiters": 8}
    assert repr(wg).startswith("<WaitGroup counter=2 waiters=8 at 0x")
    wg.done()
    assert len(released) == 0, "a waiter was released while the counter was 1"
    wg.done()
    assert [released.recv(timeout=DEADLINE) for _ in range(8)] == [True] * 8
    assert wg.statistics() == {"counter": 0, "waiters": 0}


def test_timed_out_waiter_withdraws_while_others_stay(parked: Chan[Waiter]) -> None:
    wg = WaitGroup()
    wg.add(1)
    released: Chan[bool] = Chan(2)
    go(lambda: released.send(wg.wait()))
    await_parked(parked, 1)
    assert wg.wait(0.05) is False
    assert wg.statistics() == {"counter": 1, "waiters": 1}
    wg.done()
    assert released.recv(timeout=DEADLINE) is True


def test_group_is_reusable_after_wait_returns() -> None:
    wg = WaitGroup()
    for round_ in range(50):
        wg.add(3)
        hits = Counter()

        def job(hits: Counter = hits) -> None:
            hits.incr()
            wg.done()

        for _ in range(3):
            go(job)
        assert wg.wait(timeout=DEADLINE) is True, f"round {round_}"
        assert hits.value == 3


def test_repr() -> None:
    wg = WaitGroup()
    assert repr(wg).startswith("<WaitGroup counter=0 waiters=0 at 0x")
    wg.add(5)
    assert repr(wg).startswith("<WaitGroup counter=5 waiters=0 at 0x")


# -- WaitGroup.go --


def test_go_passes_args_and_kwargs_and_counts() -> None:
    wg = WaitGroup()
    got: Chan[tuple[int, int, str]] = Chan(3)
    gate: Chan[None] = Chan()

    def job(a: int, b: int, *, tag: str) -> None:
        gate.recv()
        got.send((a, b, tag))

    wg.go(job, 1, 2, tag="x")
    wg.go(job, 3, 4, tag="y")
    assert wg.statistics()["counter"] == 2, "go() must add before the goroutine runs"
    assert wg.wait(0) is False
    gate.send(None)
    gate.send(None)
    assert wg.wait(timeout=DEADLINE) is True
    got.close()
    assert sorted(got) == [(1, 2, "x"), (3, 4, "y")]


def test_go_nested() -> None:
    """A goroutine of the group may start more before it ends (the counter never hits zero)."""
    wg = WaitGroup()
    count = Counter()

    def outer() -> None:
        count.incr()
        wg.go(count.incr)
        wg.go(lambda: wg.go(count.incr))

    wg.go(outer)
    wg.go(count.incr)
    assert wg.wait(timeout=DEADLINE) is True
    assert count.value == 4


def test_go_rejects_non_callable_before_adding() -> None:
    wg = WaitGroup()
    with pytest.raises(TypeError, match="not callable"):
        wg.go(42)  # type: ignore[arg-type]
    assert wg.statistics() == {"counter": 0, "waiters": 0}


def test_go_reports_exception_and_skips_done(monkeypatch: pytest.MonkeyPatch) -> None:
    """Go 1.25's final WaitGroup.Go: a raising fn is reported and done() is not called.

    ("report" mode, so the exception reaches the hook and not the test's main thread.)
    """
    monkeypatch.setattr(gopool._panic, "_mode", "report")
    reported: Chan[threading.ExceptHookArgs] = Chan(1)
    monkeypatch.setattr(threading, "excepthook", reported.send)

    def boom() -> None:
        raise ValueError("boom")

    wg = WaitGroup()
    wg.go(boom)
    args = reported.recv()
    assert args.exc_type is ValueError
    assert str(args.exc_value) == "boom"
    assert args.thread is not None and "boom" in args.thread.name
    assert any(f.name == "boom" for f in traceback.extract_tb(args.exc_traceback))
    assert wg.wait(0.2) is False, "done() was called for a raising fn"
    assert wg.statistics() == {"counter": 1, "waiters": 0}
    wg.done()
    assert wg.wait(0) is True


def test_go_undoes_add_when_goroutine_cannot_start(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_threads(fn: Callable[..., object], /, *args: Any, **kwargs: Any) -> threading.Thread:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(gopool.sync.waitgroup, "go", no_threads)
    wg = WaitGroup()
    with pytest.raises(RuntimeError, match="can't start new thread"):
        wg.go(lambda: None)
    assert wg.statistics() == {"counter": 0, "waiters": 0}


# -- stress --


@stress_test(timeout=60)
def test_stress_many_threads_add_done_wait() -> None:
    """Threads add, done and wait on one group at once, 1000 times each."""
    wg = WaitGroup()
    threads = STRESS.threads(8)
    iterations = 1000
    waits = Counter()
    start: Chan[None] = Chan()

    def hammer() -> None:
        start.recv()
        for _ in range(iterations):
            wg.add(2)
            wg.done()
            wg.add(1)
            wg.done()
            wg.done()
            assert wg.wait() is True
            waits.incr()

    workers = [go(hammer) for _ in range(threads)]
    start.close()
    for t in workers:
        t.join(STRESS.seconds(50))
        assert not t.is_alive(), "a thread is stuck in the group"
    assert waits.value == threads * iterations
    assert wg.statistics() == {"counter": 0, "waiters": 0}


@stress_test(timeout=60)
def test_stress_rounds_never_wake_early() -> None:
    """1000 rounds of workers and two waiters; a wait never returns before the round's work."""
    wg = WaitGroup()
    per_round = STRESS.threads(4)
    rounds = 1000
    finished = Counter()
    jobs: Chan[int] = Chan(per_round)
    watch: Chan[int] = Chan()
    acks: Chan[int] = Chan()

    def worker() -> None:
        for _ in jobs:
            finished.incr()
            wg.done()

    def watcher() -> None:
        for r in watch:
            wg.wait()
            acks.send(finished.value - per_round * (r + 1))

    for _ in range(per_round):
        go(worker)
    go(watcher)
    try:
        for r in range(rounds):
            wg.add(per_round)
            watch.send(r)
            for j in range(per_round):
                jobs.send(j)
            assert wg.wait() is True
            assert finished.value == per_round * (r + 1), f"round {r}: main woke early"
            assert acks.recv(timeout=DEADLINE) == 0, f"round {r}: watcher woke early"
    finally:
        jobs.close()
        watch.close()
    assert wg.statistics() == {"counter": 0, "waiters": 0}


# ---------------------------------------------------------------------------
# Ports of src/sync/once_test.go


def test_once() -> None:
    """Port of Go's TestOnce in src/sync/once_test.go."""
    o = Counter()
    once = Once()
    c: Chan[bool] = Chan()
    errors: Chan[str] = Chan(10)

    def run() -> None:
        once.do(o.incr)
        if (v := o.value) != 1:
            errors.send(f"once failed inside run: {v} is not 1")
        c.send(True)

    n = 10
    for _ in range(n):
        go(run)
    for _ in range(n):
        c.recv(timeout=DEADLINE)
    assert len(errors) == 0, errors.recv()
    assert o.value == 1, f"once failed outside run: {o.value} is not 1"


def test_once_panic() -> None:
    """Port of Go's TestOncePanic in src/sync/once_test.go."""
    once = Once()

    def fail() -> None:
        raise RuntimeError("failed")

    with pytest.raises(RuntimeError, match="failed"):
        once.do(fail)
    once.do(fail)  # must not raise: the Once counts as done
    once.do(lambda: None)

    def twice() -> None:
        raise AssertionError("Once called twice")

    once.do(twice)


# -- Once: the rules of the spec --


def test_once_callers_block_until_fn_returns(parked: Chan[Waiter]) -> None:
    once = Once()
    calls = Counter()
    entered: Chan[None] = Chan()
    gate: Chan[None] = Chan()
    seen: Chan[int] = Chan(10)

    def init() -> None:
        calls.incr()
        entered.send(None)
        gate.recv()

    def caller() -> None:
        once.do(init)
        seen.send(calls.value)

    go(caller)
    entered.recv(timeout=DEADLINE)
    for _ in range(5):
        go(caller)
    await_parked(parked, 5)
    assert "running waiters=5" in repr(once)
    assert len(seen) == 0, "a caller returned before the function did"
    gate.send(None)
    assert [seen.recv(timeout=DEADLINE) for _ in range(6)] == [1] * 6
    assert calls.value == 1
    assert repr(once).startswith("<Once done at 0x")


def test_once_waiters_return_normally_when_fn_raises(parked: Chan[Waiter]) -> None:
    """Go: if f panics, Do considers it returned; only the caller that ran it panics."""
    once = Once()
    gate: Chan[None] = Chan()
    entered: Chan[None] = Chan()
    outcome: Chan[str] = Chan(4)

    def init() -> None:
        entered.send(None)
        gate.recv()
        raise KeyError("init failed")

    def caller() -> None:
        try:
            once.do(init)
        except KeyError:
            outcome.send("raised")
        else:
            outcome.send("returned")

    go(caller)
    entered.recv(timeout=DEADLINE)
    for _ in range(3):
        go(caller)
    await_parked(parked, 3)
    gate.send(None)
    got = sorted(outcome.recv(timeout=DEADLINE) or "" for _ in range(4))
    assert got == ["raised", "returned", "returned", "returned"]
    once.do(lambda: outcome.send("called again"))
    assert len(outcome) == 0


def test_once_reentrant_do_raises_instead_of_deadlocking() -> None:
    once = Once()
    inner_calls = Counter()

    def init() -> None:
        once.do(inner_calls.incr)

    with pytest.raises(RuntimeError, match=r"Once\.do called from the function it is running"):
        once.do(init)
    assert inner_calls.value == 0
    once.do(inner_calls.incr)  # done: the failed init counts as the one call
    assert inner_calls.value == 0


def test_once_nested_in_another_once_is_fine() -> None:
    outer, inner = Once(), Once()
    calls = Counter()
    outer.do(lambda: inner.do(calls.incr))
    inner.do(calls.incr)
    assert calls.value == 1


def test_once_do_in_another_thread_while_running_is_not_reentrant() -> None:
    """Only a call from the running thread is re-entrant; others wait and return."""
    once = Once()
    calls = Counter()
    outcome: Chan[str] = Chan(1)

    def other() -> None:
        try:
            once.do(calls.incr)  # blocks until init returns
        except RuntimeError as exc:
            outcome.send(f"raised {exc}")
        else:
            outcome.send("returned")

    def init() -> None:
        calls.incr()
        go(other)

    once.do(init)
    assert outcome.recv(timeout=DEADLINE) == "returned"
    assert calls.value == 1


def test_once_rejects_non_callable() -> None:
    once = Once()
    with pytest.raises(TypeError, match="not callable"):
        once.do(None)  # type: ignore[arg-type]
    calls = Counter()
    once.do(calls.incr)
    assert calls.value == 1


def test_once_repr() -> None:
    once = Once()
    assert repr(once).startswith("<Once not done at 0x")
    once.do(lambda: None)
    assert repr(once).startswith("<Once done at 0x")


# ---------------------------------------------------------------------------
# Ports of src/sync/oncefunc_test.go


def test_once_func() -> None:
    """Port of Go's TestOnceFunc in src/sync/oncefunc_test.go."""
    calls = Counter()
    f = once_func(calls.incr)
    results = [f() for _ in range(10)]
    assert calls.value == 1
    assert results == [None] * 10


def test_once_value() -> None:
    """Port of Go's TestOnceValue in src/sync/oncefunc_test.go."""
    calls = Counter()
    f = once_value(calls.incr)
    for _ in range(10):
        f()
    value = f()
    assert calls.value == 1
    assert value == 1


def test_once_values() -> None:
    """Port of Go's TestOnceValues in src/sync/oncefunc_test.go."""
    calls = Counter()

    def pair() -> tuple[int, int]:
        n = calls.incr()
        return n, n + 1

    f = once_values(pair)
    for _ in range(10):
        f()
    v1, v2 = f()
    assert calls.value == 1
    assert (v1, v2) == (1, 2)


def _test_once_panic_x(calls: Counter, f: Callable[[], object]) -> None:
    """Go's testOncePanicX: every call raises the same value; the function runs once."""
    raised = []
    for label in ("first time", "second time", "third time"):
        with pytest.raises(ValueError) as info:
            f()
        assert str(info.value) == "x", label
        raised.append(info.value)
    assert raised[0] is raised[1] is raised[2], "not the same exception instance"
    assert calls.value == 1


def test_once_func_panic() -> None:
    """Port of Go's TestOnceFuncPanic in src/sync/oncefunc_test.go."""
    calls = Counter()

    def fn() -> None:
        calls.incr()
        raise ValueError("x")

    _test_once_panic_x(calls, once_func(fn))


def test_once_value_panic() -> None:
    """Port of Go's TestOnceValuePanic in src/sync/oncefunc_test.go."""
    calls = Counter()

    def fn() -> int:
        calls.incr()
        raise ValueError("x")

    _test_once_panic_x(calls, once_value(fn))


def test_once_values_panic() -> None:
    """Port of Go's TestOnceValuesPanic in src/sync/oncefunc_test.go."""
    calls = Counter()

    def fn() -> tuple[int, int]:
        calls.incr()
        raise ValueError("x")

    _test_once_panic_x(calls, once_values(fn))


def test_once_func_goexit() -> None:
    """Port of Go's TestOnceFuncGoexit in src/sync/oncefunc_test.go.

    A Python thread's nearest to ``runtime.Goexit`` is ``SystemExit``: the
    function must still not be called twice.
    """
    calls = Counter()

    def fn() -> None:
        calls.incr()
        raise SystemExit

    f = once_func(fn)
    wg = WaitGroup()
    for _ in range(2):

        def call() -> None:
            try:
                f()
            except SystemExit:
                pass

        wg.go(call)
        assert wg.wait(timeout=DEADLINE) is True
    assert calls.value == 1


def once_func_panic() -> None:
    raise ValueError("x")


def test_once_func_panic_traceback() -> None:
    """Port of Go's TestOnceFuncPanicTraceback in src/sync/oncefunc_test.go.

    On the first call, the traceback reaches the origin of the exception.
    """
    f = once_func(once_func_panic)
    with pytest.raises(ValueError, match=r"^x$") as info:
        f()
    names = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "once_func_panic" in names


class _Buf:
    """What the wrapped function captures; weakly referenceable, unlike bytes."""

    x = 0


def _xgc_cases() -> dict[str, Callable[[_Buf], Callable[[], object]]]:
    def once_func_ok(buf: _Buf) -> Callable[[], object]:
        def fn() -> None:
            buf.x = 1

        return once_func(fn)

    def once_value_ok(buf: _Buf) -> Callable[[], object]:
        def fn() -> Any:
            buf.x = 1
            return None

        return once_value(fn)

    def once_values_ok(buf: _Buf) -> Callable[[], object]:
        def fn() -> tuple[Any, Any]:
            buf.x = 1
            return None, None

        return once_values(fn)

    def once_func_panic(buf: _Buf) -> Callable[[], object]:
        def fn() -> None:
            buf.x = 1
            raise ValueError("test panic")

        return once_func(fn)

    def once_value_panic(buf: _Buf) -> Callable[[], object]:
        def fn() -> Any:
            buf.x = 1
            raise ValueError("test panic")

        return once_value(fn)

    def once_values_panic(buf: _Buf) -> Callable[[], object]:
        def fn() -> tuple[Any, Any]:
            buf.x = 1
            raise ValueError("test panic")

        return once_values(fn)

    return {
        "OnceFunc": once_func_ok,
        "OnceValue": once_value_ok,
        "OnceValues": once_values_ok,
        "OnceFunc panic": once_func_panic,
        "OnceValue panic": once_value_panic,
        "OnceValues panic": once_values_panic,
    }


@pytest.mark.parametrize("name", list(_xgc_cases()))
def test_once_x_gc(name: str) -> None:
    """Port of Go's TestOnceXGC in src/sync/oncefunc_test.go.

    The wrapper does not keep the wrapped function alive after the call.
    One Python difference: the first exception's traceback holds the frames
    of the function, and a frame holds its function, for as long as that
    traceback lives; the next call raises the exception afresh, which drops
    it. So in the "panic" cases the function is released after the second
    call instead of the first.
    """
    make = _xgc_cases()[name]
    buf = _Buf()
    alive = weakref.ref(buf)
    f = make(buf)
    del buf
    gc.collect()
    assert alive() is not None, "wrapped function garbage collected too early"
    calls = 1 if "panic" not in name else 2
    for _ in range(calls):
        try:
            f()
        except ValueError:
            pass
    gc.collect()
    assert alive() is None, "wrapped function should be garbage collected, but still live"
    try:
        f()
    except ValueError:
        pass


# -- once_*: the rules of the spec --


def test_once_value_concurrent_callers_share_one_call(parked: Chan[Waiter]) -> None:
    calls = Counter()
    gate: Chan[None] = Chan()
    entered: Chan[None] = Chan()

    def load() -> object:
        calls.incr()
        entered.send(None)
        gate.recv()
        return object()

    f = once_value(load)
    got: Chan[object] = Chan(8)
    go(lambda: got.send(f()))
    entered.recv(timeout=DEADLINE)
    for _ in range(7):
        go(lambda: got.send(f()))
    await_parked(parked, 7)
    assert len(got) == 0
    gate.send(None)
    values = [got.recv(timeout=DEADLINE) for _ in range(8)]
    assert all(v is values[0] for v in values)
    assert f() is values[0]
    assert calls.value == 1


def test_once_exception_raised_to_concurrent_callers_too(parked: Chan[Waiter]) -> None:
    gate: Chan[None] = Chan()
    entered: Chan[None] = Chan()
    calls = Counter()

    def load() -> int:
        calls.incr()
        entered.send(None)
        gate.recv()
        raise LookupError("no config")

    f = once_value(load)
    got: Chan[BaseException] = Chan(4)

    def call() -> None:
        try:
            f()
        except LookupError as exc:
            got.send(exc)

    go(call)
    entered.recv(timeout=DEADLINE)
    for _ in range(3):
        go(call)
    await_parked(parked, 3)
    gate.send(None)
    raised = [got.recv(timeout=DEADLINE) for _ in range(4)]
    assert all(e is raised[0] for e in raised)
    assert calls.value == 1


def test_later_raises_do_not_grow_the_traceback() -> None:
    def fn() -> None:
        raise ValueError("x")

    f = once_func(fn)
    depths = []
    for _ in range(5):
        with pytest.raises(ValueError) as info:
            f()
        depths.append(len(traceback.extract_tb(info.value.__traceback__)))
    assert depths[1] == depths[2] == depths[3] == depths[4]


def test_once_values_result_must_be_a_pair() -> None:
    calls = Counter()

    def three() -> Any:
        calls.incr()
        return 1, 2, 3

    f = once_values(three)
    with pytest.raises(ValueError) as first:
        f()
    with pytest.raises(ValueError) as second:
        f()
    assert first.value is second.value
    assert calls.value == 1


def test_once_value_calling_itself_raises_every_time() -> None:
    f: Callable[[], int]

    def fn() -> int:
        return f() + 1

    f = once_value(fn)
    with pytest.raises(RuntimeError, match=r"Once\.do called from the function") as first:
        f()
    with pytest.raises(RuntimeError) as second:
        f()
    assert first.value is second.value


@pytest.mark.parametrize("wrap", [once_func, once_value, once_values])
def test_once_wrappers_reject_non_callable(wrap: Callable[[Any], object]) -> None:
    with pytest.raises(TypeError, match="not callable"):
        wrap(3)


def test_once_wrappers_repr() -> None:
    def load() -> int:
        return 7

    f = once_value(load)
    assert "once_value(test_once_wrappers_repr.<locals>.load) not called" in repr(f)
    assert f() == 7
    assert "done" in repr(f)

    def fail() -> None:
        raise OSError("down")

    g = once_func(fail)
    with pytest.raises(OSError):
        g()
    assert "raised OSError" in repr(g)


# ---------------------------------------------------------------------------
# Ctrl-C: a main thread blocked in wait/do gets KeyboardInterrupt (subprocess)

_CHILD_PRELUDE = """
import sys, traceback
from gopool.chan import Chan, go
from gopool.sync import Once, WaitGroup

def parked_in(exc):
    return "park" in [f.name for f in traceback.extract_tb(exc.__traceback__)]
"""

_WAITGROUP_CHILD = """
for attempt in range(6):
    wg = WaitGroup()
    wg.add(1)
    try:
        print("ready", flush=True)
        wg.wait()
        print("wait returned", flush=True)
        sys.exit(1)
    except KeyboardInterrupt as exc:
        if not parked_in(exc):
            print("early", flush=True)
            continue
    print("interrupted", wg.statistics(), flush=True)
    released = Chan(1)
    go(lambda: released.send(wg.wait()))
    wg.done()
    print("ok", wg.wait(), released.recv(), wg.statistics(), flush=True)
    break
"""

_ONCE_CHILD = """
for attempt in range(6):
    once = Once()
    entered, gate = Chan(), Chan()
    calls = []
    def init():
        calls.append(1)
        entered.send(None)
        gate.recv()
    go(once.do, init)
    entered.recv()
    try:
        print("ready", flush=True)
        once.do(init)
        print("do returned", flush=True)
        sys.exit(1)
    except KeyboardInterrupt as exc:
        if not parked_in(exc):
            print("early", flush=True)
            gate.send(None)
            continue
    print("interrupted", repr(once).split(" at ")[0], flush=True)
    gate.send(None)
    once.do(init)
    print("ok", len(calls), repr(once).split(" at ")[0], flush=True)
    break
"""


def _interrupt_child(body: str) -> list[str]:
    """Run ``body`` in a child; SIGINT it after each "ready", longer each try."""
    script = textwrap.dedent(_CHILD_PRELUDE) + textwrap.dedent(body)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for delay in (0.05, 0.2, 0.5, 1.0, 2.0, 4.0):
            line = proc.stdout.readline().strip()
            assert line == "ready", (line, proc.stderr.read() if proc.stderr else "")
            # Time for the child to go from printing to parking; if it has
            # not parked yet, it says "early" and we retry with a longer delay.
            time.sleep(delay)
            os.kill(proc.pid, signal.SIGINT)
            line = proc.stdout.readline().strip()
            if line != "early":
                lines.append(line)
                break
        lines.extend(line.strip() for line in proc.stdout)
        assert proc.wait(DEADLINE) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return lines


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.timeout(60)
def test_wait_interrupted_by_sigint_in_main_thread() -> None:
    lines = _interrupt_child(_WAITGROUP_CHILD)
    assert lines == [
        "interrupted {'counter': 1, 'waiters': 0}",
        "ok True True {'counter': 0, 'waiters': 0}",
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.timeout(60)
def test_once_do_interrupted_by_sigint_in_main_thread() -> None:
    lines = _interrupt_child(_ONCE_CHILD)
    assert lines == ["interrupted <Once running waiters=0", "ok 1 <Once done"]
