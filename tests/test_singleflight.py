"""Tests of gopool.singleflight, ported from golang.org/x/sync's singleflight/singleflight_test.go.

Each ported test names its Go original. Go's panics in the function are
Python exceptions here: ``TestPanicDo`` becomes "every ``do`` caller raises
the same exception", and ``TestPanicDoChan``/``TestPanicDoSharedByDoChan``
(a crash in Go) become "``do_chan`` delivers the exception as ``err``", as
the SPEC says. ``TestGoexitDo`` is left out: Python has no
``runtime.Goexit``.

The stress tests scale with ``GOPOOL_STRESS``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import doctest
import threading
import time
from typing import Any

import pytest
from conftest import DEADLINE, STRESS, Task, hammer, sigint_child, spawn, until

from gopool import Chan, WaitGroup, atomic, singleflight
from gopool.singleflight import Group, SingleflightResult

pytestmark = pytest.mark.timeout(120)


def in_flight(g: Group[Any], key: str) -> int:
    """How many callers wait for ``key``'s call besides its runner, or -1 with no call
    (white-box: the group offers no statistics)."""
    with g._lock:
        c = g._calls.get(key)
        return -1 if c is None else c.dups


def one_flight(g: Group[Any], key: str, exc: BaseException) -> list[Task]:
    """A runner and a waiter in one flight of ``key`` whose function raises ``exc`` when
    the runner and the waiter are both in; the two callers' tasks."""
    gate = threading.Event()

    def failing_function() -> None:
        gate.wait(DEADLINE)
        raise exc

    runner = spawn(g.do, key, failing_function)
    until(lambda: in_flight(g, key) == 0, "the runner in the flight")
    waiter = spawn(g.do, key, failing_function)
    until(lambda: in_flight(g, key) == 1, "the waiter in the flight")
    gate.set()
    return [runner, waiter]


def test_docstring_examples() -> None:
    """The examples in the module's docstrings run as shown."""
    assert doctest.testmod(singleflight).failed == 0


def test_do() -> None:
    """Go's TestDo."""
    g: Group[str] = Group()
    v, shared = g.do("key", lambda: "bar")
    assert (v, type(v), shared) == ("bar", str, False)


def test_do_err() -> None:
    """Go's TestDoErr: the function's exception is raised, the very instance."""
    g: Group[str] = Group()
    some_err = ValueError("Some error")

    def fn() -> str:
        raise some_err

    with pytest.raises(ValueError) as e:
        g.do("key", fn)
    assert e.value is some_err
    assert in_flight(g, "key") == -1  # the failed call is not kept


def test_do_dup_suppress() -> None:
    """Go's TestDoDupSuppress: of 10 concurrent callers of one key, fewer than 10 (and more
    than 0) run the function, and all get its value."""
    g: Group[str] = Group()
    wg1, wg2 = WaitGroup(), WaitGroup()
    c: Chan[str] = Chan(1)
    calls = atomic.Int32()

    def fn() -> str:
        if calls.add(1) == 1:
            wg1.done()  # first invocation
        v = c.recv()
        assert v is not None
        c.send(v)  # pump; make available for any future calls
        time.sleep(0.01)  # let more threads enter do
        return v

    n = 10
    wg1.add(1)
    results: list[Any] = []

    def caller() -> None:
        try:
            wg1.done()
            results.append(g.do("key", fn)[0])
        finally:
            wg2.done()

    for _ in range(n):
        wg1.add(1)
        wg2.add(1)
        spawn(caller)
    assert wg1.wait(DEADLINE)
    # At least one thread is in fn now and all of them have at least reached
    # the line before do.
    c.send("bar")
    assert wg2.wait(DEADLINE)
    assert results == ["bar"] * n
    assert 0 < calls.load() < n


def test_forget() -> None:
    """Go's TestForget (golang/go#31420): after forget, a new call runs, and the end of the
    forgotten call does not end the new one."""
    g: Group[int | None] = Group()
    first_started, unblock_first, first_finished = Chan[None](), Chan[None](), Chan[None]()

    def first() -> None:
        first_started.close()
        unblock_first.recv()
        first_finished.close()

    spawn(g.do, "key", first)
    first_started.recv()
    g.forget("key")

    unblock_second: Chan[None] = Chan()

    def second() -> int:
        unblock_second.recv()
        return 2

    second_result = g.do_chan("key", second)
    unblock_first.close()
    first_finished.recv()
    third_result = g.do_chan("key", lambda: 3)
    unblock_second.close()
    second_result.recv()
    r = third_result.recv()
    assert r is not None
    assert r.val == 2, "the third call should get the result of the second"
    assert r.shared


def test_do_chan() -> None:
    """Go's TestDoChan."""
    g: Group[str] = Group()
    ch = g.do_chan("key", lambda: "bar")
    res = ch.recv()
    assert isinstance(res, SingleflightResult)
    assert (res.val, type(res.val), res.err, res.shared) == ("bar", str, None, False)


def test_do_chan_result_is_frozen_and_channel_holds_it() -> None:
    """The result is a frozen dataclass; the channel has room for it, so nobody need read it,
    and it is not closed after it."""
    g: Group[int] = Group()
    ch = g.do_chan("key", lambda: 1)
    assert ch.cap == 1
    until(lambda: len(ch) == 1, "the result buffered")
    res = ch.recv()
    assert res is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.val = 2  # type: ignore[misc]
    with pytest.raises(TimeoutError):
        ch.recv(timeout=0)  # empty and open: Go's channel is never closed


def test_panic_do() -> None:
    """Go's TestPanicDo (golang/go#41133): when the function raises, every do caller of the
    flight raises that same exception, and nobody hangs."""
    g: Group[None] = Group()
    n = 5
    gate = threading.Event()
    boom = RuntimeError("invalid memory address or nil pointer dereference")

    def fn() -> None:
        gate.wait(DEADLINE)
        raise boom

    tasks = [spawn(g.do, "key", fn) for _ in range(n)]
    until(lambda: in_flight(g, "key") == n - 1, "every caller in the flight")
    gate.set()
    errors = []
    for t in tasks:
        with pytest.raises(RuntimeError) as e:
            t.join()
        errors.append(e.value)
    assert all(err is boom for err in errors)


def test_waiters_see_the_traceback_into_the_function() -> None:
    """A waiter's exception carries the traceback into the function that raised it."""
    for t in one_flight(Group(), "key", KeyError("gone")):
        with pytest.raises(KeyError) as e:
            t.join()
        assert any(tb.name == "failing_function" for tb in e.traceback)


def test_an_interrupt_of_the_function_is_the_outcome() -> None:
    """A KeyboardInterrupt raised in the function ends the flight with it, for the waiters
    too (the same instance), and the next call runs afresh."""
    g: Group[int] = Group()
    interrupt = KeyboardInterrupt()
    for t in one_flight(g, "k", interrupt):
        with pytest.raises(KeyboardInterrupt) as e:
            t.join()
        assert e.value is interrupt
    assert g.do("k", lambda: 1) == (1, False)


def test_panic_do_chan() -> None:
    """Go's TestPanicDoChan (a crash in Go): here the exception is the result's err, and is
    not reported as a goroutine panic."""
    g: Group[None] = Group()
    boom = RuntimeError("Panicking in DoChan")

    def fn() -> None:
        raise boom

    reported: list[Any] = []
    hook, threading.excepthook = threading.excepthook, reported.append
    try:
        res = g.do_chan("", fn).recv(timeout=DEADLINE)
    finally:
        threading.excepthook = hook
    assert res is not None
    assert (res.val, res.err, res.shared) == (None, boom, False)
    assert reported == []


def test_panic_do_shared_by_do_chan() -> None:
    """Go's TestPanicDoSharedByDoChan (a crash in Go): a do_chan call that joins a do whose
    function raises gets the exception as err, and its own function never runs."""
    g: Group[None] = Group()
    blocked, unblock = Chan[None](), Chan[None]()
    boom = RuntimeError("Panicking in Do")

    def fn() -> None:
        blocked.close()
        unblock.recv()
        raise boom

    def never() -> None:
        raise AssertionError("DoChan unexpectedly executed callback")

    runner = spawn(g.do, "", fn)
    blocked.recv()
    ch = g.do_chan("", never)
    unblock.close()
    res = ch.recv(timeout=DEADLINE)
    assert res is not None
    assert (res.err, res.shared) == (boom, True)
    with pytest.raises(RuntimeError) as e:
        runner.join()
    assert e.value is boom


def test_shared_flag() -> None:
    """shared is True for every caller when the result went to more than one, False when it
    went to one."""
    g: Group[int] = Group()
    gate = threading.Event()

    def fn() -> int:
        gate.wait(DEADLINE)
        return 7

    runner = spawn(g.do, "k", fn)
    until(lambda: in_flight(g, "k") == 0, "the runner in the flight")
    waiter = spawn(g.do, "k", fn)
    chan = g.do_chan("k", fn)
    until(lambda: in_flight(g, "k") == 2, "two more callers in the flight")
    gate.set()
    assert runner.join() == (7, True)
    assert waiter.join() == (7, True)
    assert chan.recv() == SingleflightResult(7, None, True)
    # A call after the flight ended runs on its own.
    assert g.do("k", lambda: 8) == (8, False)


def test_arguments_are_checked() -> None:
    """Keys are strings (Go's), functions callable: TypeError otherwise, nothing started."""
    g: Group[int] = Group()
    with pytest.raises(TypeError, match=r"Group\.do: key must be a str, not int"):
        g.do(1, lambda: 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Group\.do_chan: .* is not callable"):
        g.do_chan("k", 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Group\.forget: key must be a str"):
        g.forget(None)  # type: ignore[arg-type]
    assert in_flight(g, "k") == -1


def test_do_from_its_own_function_raises() -> None:
    """A function that calls do for its own key from its own thread would wait for itself
    (a deadlock in Go): RuntimeError instead, and the flight still ends."""
    g: Group[int] = Group()

    def fn() -> int:
        return g.do("k", lambda: 1)[0]

    with pytest.raises(RuntimeError, match="called from the function it is running"):
        g.do("k", fn)
    res = g.do_chan("k", fn).recv(timeout=DEADLINE)
    assert res is not None and isinstance(res.err, RuntimeError)
    assert g.do("k", lambda: 2) == (2, False)


def test_do_refuses_to_wait_in_an_event_loop() -> None:
    """A do that would wait for a flight in the thread of a running event loop raises
    RuntimeError naming Group.do, joins nothing, and the flight goes on; do_chan's channel
    can be awaited there."""
    g: Group[str] = Group()
    gate = threading.Event()
    runner = spawn(g.do, "k", lambda: "v" if gate.wait(DEADLINE) else "")

    async def main() -> SingleflightResult[str] | None:
        until(lambda: in_flight(g, "k") == 0, "the runner in the flight")
        with pytest.raises(RuntimeError, match=r"Group\.do\('k'\).*running asyncio event loop"):
            g.do("k", lambda: "not run")
        assert in_flight(g, "k") == 0
        ch = g.do_chan("k", lambda: "not run")
        gate.set()
        return await ch.async_recv()

    assert asyncio.run(main()) == SingleflightResult("v", None, True)
    assert runner.join() == ("v", True)


def test_keyboard_interrupt_withdraws_a_waiting_caller() -> None:
    """Ctrl-C reaches a main thread waiting in do and withdraws it: the flight goes on for
    the others, and its result no longer counts the main thread as sharing it."""
    out = sigint_child(
        """
import threading
import time
from gopool import go
from gopool.singleflight import Group

g = Group()
gate = threading.Event()
result = []
runner = go(lambda: result.append(g.do("k", lambda: gate.wait(30) and "v")))


def announce():
    # Once the main thread has joined the flight, it is about to park.
    while g._calls.get("k") is None or g._calls["k"].dups == 0:
        time.sleep(0.001)
    print("ready", flush=True)


go(announce)
try:
    g.do("k", lambda: "not run")
except KeyboardInterrupt:
    print("interrupted")
gate.set()
runner.join(30)
print(result)
"""
    )
    assert out.split("\n")[:2] == ["interrupted", "[('v', False)]"]


def test_each_flight_runs_once(fast_switch: None) -> None:
    """Stress: 16 threads call do for a few keys over and over. For each key no two calls of
    the function overlap, every value goes to the callers of one flight, and the shared flag
    is True exactly when a value went to more than one caller."""
    g: Group[tuple[str, int]] = Group()
    keys = ["a", "b"]
    running = {k: atomic.Int32() for k in keys}
    tokens = atomic.Int64()
    n = STRESS.iterations(300)

    def fn_for(key: str) -> Any:
        def fn() -> tuple[str, int]:
            assert running[key].add(1) == 1, f"two calls of {key} in flight at once"
            try:
                time.sleep(0)  # let other callers join the flight
                return key, tokens.add(1)
            finally:
                running[key].add(-1)

        return fn

    def body(tid: int) -> list[tuple[tuple[str, int], bool]]:
        return [g.do(keys[i % 2], fn_for(keys[i % 2])) for i in range(n)]

    got = hammer(16, body)
    receivers: dict[tuple[str, int], list[bool]] = {}
    for results in got:
        for value, shared in results:
            receivers.setdefault(value, []).append(shared)
    assert len(receivers) == tokens.load()  # every call of fn delivered its value
    for value, flags in receivers.items():
        assert flags == [len(flags) > 1] * len(flags), (value, flags)
    assert sum(len(f) for f in receivers.values()) == 16 * n
    assert len(receivers) < 16 * n  # some calls were shared
