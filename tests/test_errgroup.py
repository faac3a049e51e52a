"""Tests for ``gopool.errgroup``: Group, with_context.

Ports of golang.org/x/sync's errgroup/errgroup_test.go (each names its Go
test; Go's ``return err`` is ``raise err`` here), the 2025 panic tests
adapted to Python's non-``Exception`` exceptions, then the rules of the
module (limits, cancellation, reuse), a stress run, and Ctrl-C reaching a
main thread blocked in ``Group.wait`` or ``Group.go`` (in a subprocess).
"""

from __future__ import annotations

import random
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import STRESS, sigint_child, stress_test, until

from gopool.chan import Chan, RecvOnlyChan, go
from gopool.context import Canceled, Context, background, cause
from gopool.errgroup import Group, with_context

pytestmark = [pytest.mark.timeout(30), pytest.mark.parallel_safe]

DEADLINE = 10.0
"""Seconds a test-side wait allows before declaring the library stuck."""


def returning(err: BaseException | None) -> Callable[[], None]:
    """Go's ``func() error { return err }``: raise ``err``, or return normally for None."""

    def fn() -> None:
        if err is not None:
            raise err

    return fn


def is_closed(ctx: Context) -> bool:
    done = ctx.done()
    assert isinstance(done, RecvOnlyChan)
    return done.closed


@pytest.fixture
def reported(monkeypatch: pytest.MonkeyPatch) -> Iterator[Chan[BaseException | None]]:
    """Exceptions reported through ``threading.excepthook`` while the test runs."""
    seen: Chan[BaseException | None] = Chan(100)
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.send(args.exc_value))
    yield seen


# -- ports of errgroup_test.go --


def fake_search(kind: str) -> Callable[[Context, str], str]:
    def search(ctx: Context, query: str) -> str:
        return f"{kind} result for {query!r}"

    return search


def test_example_group_just_errors() -> None:
    """Port of Go's ExampleGroup_justErrors in errgroup/errgroup_test.go (no network)."""
    g = Group()
    urls = ["http://www.golang.org/", "http://www.google.com/", "http://www.somestupidname.com/"]
    fetched: Chan[str] = Chan(len(urls))

    def fetch(url: str) -> None:
        if "somestupidname" in url:
            raise ConnectionError(f"no such host: {url}")
        fetched.send(url)

    for url in urls:
        # Launch a goroutine to fetch the URL.
        g.go(fetch, url)
    # Wait for all fetches to complete.
    with pytest.raises(ConnectionError, match="somestupidname"):
        g.wait()
    fetched.close()
    assert sorted(fetched) == urls[:2]


def test_example_group_parallel() -> None:
    """Port of Go's ExampleGroup_parallel in errgroup/errgroup_test.go."""
    web, image, video = fake_search("web"), fake_search("image"), fake_search("video")

    def google(ctx: Context, query: str) -> list[str]:
        g, ctx = with_context(ctx)
        searches = [web, image, video]
        results = [""] * len(searches)
        for i, search in enumerate(searches):

            def run(i: int = i, search: Callable[[Context, str], str] = search) -> None:
                results[i] = search(ctx, query)

            g.go(run)
        g.wait()
        return results

    assert google(background(), "golang") == [
        "web result for 'golang'",
        "image result for 'golang'",
        "video result for 'golang'",
    ]


def test_zero_group() -> None:
    """Port of Go's TestZeroGroup in errgroup/errgroup_test.go."""
    err1 = ValueError("errgroup_test: 1")
    err2 = ValueError("errgroup_test: 2")
    cases: list[list[BaseException | None]] = [
        [],
        [None],
        [err1],
        [err1, None],
        [err1, None, err2],
    ]
    for errs in cases:
        g = Group()
        first_err: BaseException | None = None
        for i, err in enumerate(errs):
            g.go(returning(err))
            if first_err is None and err is not None:
                first_err = err
            try:
                g.wait()
                got = None
            except ValueError as exc:
                got = exc
            assert got is first_err, f"after go() for err in {errs[: i + 1]}: wait() = {got!r}"


def test_with_context() -> None:
    """Port of Go's TestWithContext in errgroup/errgroup_test.go."""
    err_doom = ValueError("group_test: doomed")
    cases: list[tuple[list[BaseException | None], BaseException | None]] = [
        ([], None),
        ([None], None),
        ([err_doom], err_doom),
        ([err_doom, None], err_doom),
    ]
    for errs, want in cases:
        g, ctx = with_context(background())
        for err in errs:
            g.go(returning(err))
        try:
            g.wait()
            got = None
        except ValueError as exc:
            got = exc
        assert got is want, f"for err in {errs}: wait() = {got!r}; want {want!r}"
        assert is_closed(ctx), f"for err in {errs}: ctx.done() was not closed"


def test_try_go() -> None:
    """Port of Go's TestTryGo in errgroup/errgroup_test.go."""
    g = Group()
    n = 42
    g.set_limit(42)
    ch: Chan[None] = Chan()

    def fn() -> None:
        ch.send(None)

    def drain(k: int) -> None:
        for _ in range(k):
            ch.recv()

    for i in range(n):
        assert g.try_go(fn), f"try_go should succeed but got fail at {i}-th call."
    assert not g.try_go(fn), "try_go is expected to fail but succeeded."
    go(drain, n)
    g.wait()

    assert g.try_go(fn), "try_go should succeed but got fail after all goroutines."
    go(drain, 1)
    g.wait()

    # Switch limit.
    g.set_limit(1)
    assert g.try_go(fn), "try_go should succeed but got failed."
    assert not g.try_go(fn), "try_go should fail but succeeded."
    go(drain, 1)
    g.wait()

    # Block all calls.
    g.set_limit(0)
    for _ in range(1 << 10):
        assert not g.try_go(fn), "try_go should fail but got succeeded."
    g.wait()


def test_go_limit() -> None:
    """Port of Go's TestGoLimit in errgroup/errgroup_test.go."""
    limit = 10
    g = Group()
    g.set_limit(limit)
    lock = threading.Lock()
    active = [0, 0]  # now, most ever

    def fn() -> None:
        with lock:
            active[0] += 1
            n = active[0]
            active[1] = max(active[1], n)
        if n > limit:
            raise AssertionError(f"saw {n} active goroutines; want ≤ {limit}")
        time.sleep(1e-6)  # Give other goroutines a chance to increment active.
        with lock:
            active[0] -= 1

    for _ in range((1 << 10) + 1):
        g.go(fn)
    g.wait()
    assert 1 <= active[1] <= limit


def test_cancel_cause() -> None:
    """Port of Go's TestCancelCause in errgroup/errgroup_test.go."""
    err_doom = ValueError("group_test: doomed")
    cases: list[tuple[list[BaseException | None], BaseException | None]] = [
        ([], None),
        ([None], None),
        ([err_doom], err_doom),
        ([err_doom, None], err_doom),
    ]
    for errs, want in cases:
        g, ctx = with_context(background())
        for err in errs:
            g.try_go(returning(err))
        try:
            g.wait()
            got = None
        except ValueError as exc:
            got = exc
        assert got is want, f"for err in {errs}: wait() = {got!r}; want {want!r}"
        why = cause(ctx)
        if want is None:
            assert isinstance(why, Canceled) and why is ctx.err()
        else:
            assert why is want, f"for err in {errs}: cause(ctx) = {why!r}; want {want!r}"


# -- panics: adapted from the 2025 TestPanic and TestGoexit --
#
# x/sync added them when Wait began re-panicking a goroutine's panic, and
# removed them when that was reverted (June 2025). Python's counterpart of a
# panic is an exception that is not an Exception: it is reported at once
# and raised again by wait().


class Panic(BaseException):
    """A panic value that is not an error (Go's PanicValue case)."""


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, Panic])
def test_panic_is_reported_and_raised_by_wait(
    exc_type: type[BaseException], reported: Chan[BaseException | None]
) -> None:
    """Adapted from Go's TestPanic (2025, errgroup/errgroup_test.go, since reverted).

    The same exception comes out of wait(), with the goroutine's frame in
    its traceback; it was reported through threading.excepthook first, and
    it cancelled the context.
    """
    p = exc_type("oops")
    g, ctx = with_context(background())

    def panicking_goroutine() -> None:
        raise p

    g.go(panicking_goroutine)
    g.go(lambda: None)
    with pytest.raises(exc_type) as info:
        g.wait()
    assert info.value is p
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "panicking_goroutine" in frames, frames
    assert reported.recv(timeout=0) is p
    assert cause(ctx) is p


def test_goexit_is_raised_by_wait(reported: Chan[BaseException | None]) -> None:
    """Adapted from Go's TestGoexit (2025, errgroup/errgroup_test.go, since reverted).

    SystemExit is how a Python thread quits (Go's runtime.Goexit); wait()
    passes it on rather than report success.
    """
    g = Group()
    g.go(sys.exit, 3)
    with pytest.raises(SystemExit) as info:
        g.wait()
    assert info.value.code == 3
    assert reported.recv(timeout=0) is info.value


def test_panic_takes_precedence_over_error(reported: Chan[BaseException | None]) -> None:
    """A panic is never hidden behind an earlier error; the context keeps the first cause."""
    err = ValueError("first")
    p = Panic("second")
    g, ctx = with_context(background())
    g.go(returning(err))
    ctx.done().recv(timeout=DEADLINE)  # the error is recorded
    g.go(returning(p))
    with pytest.raises(Panic) as info:
        g.wait()
    assert info.value is p
    assert cause(ctx) is err
    assert reported.recv(timeout=0) is p
    assert len(reported) == 0, "an error is not a panic: only the panic is reported"


# -- the rules of the module --


def test_first_error_cancels_context_before_wait() -> None:
    """The derived context is cancelled as soon as a goroutine raises, with that cause."""
    err = RuntimeError("boom")
    g, ctx = with_context(background())
    seen: Chan[BaseException | None] = Chan(1)

    def watcher() -> None:
        ctx.done().recv()
        seen.send(cause(ctx))

    g.go(watcher)
    assert not is_closed(ctx)
    g.go(returning(err))
    assert seen.recv(timeout=DEADLINE) is err
    with pytest.raises(RuntimeError) as info:
        g.wait()
    assert info.value is err


def test_later_errors_are_dropped() -> None:
    """Only the first error is kept; the others are not reported either."""
    g, ctx = with_context(background())
    first = ValueError("first")
    g.go(returning(first))
    ctx.done().recv(timeout=DEADLINE)
    for i in range(5):
        g.go(returning(ValueError(f"later {i}")))
    with pytest.raises(ValueError) as info:
        g.wait()
    assert info.value is first


def test_go_blocks_while_limit_reached() -> None:
    """go() at the limit blocks until a running goroutine finishes (Go's Go)."""
    g = Group()
    g.set_limit(1)
    gate: Chan[None] = Chan()
    order: Chan[str] = Chan(10)

    def first() -> None:
        gate.recv()
        order.send("first done")

    def second() -> None:
        order.send("second started")

    def start_second() -> None:
        g.go(second)
        order.send("go returned")

    g.go(first)
    go(start_second)
    sem = g._sem
    assert sem is not None
    until(lambda: sem.statistics()["senders_waiting"] == 1, "go() blocked on the limit")
    assert g.statistics()["active"] == 1
    gate.send(None)
    g.wait()
    got = [order.recv(timeout=DEADLINE) for _ in range(3)]
    assert got[0] == "first done", got
    assert sorted(got[1:]) == ["go returned", "second started"]


def test_set_limit_while_active_raises() -> None:
    """Go's panic text, naming how many goroutines are active; a negative limit is always fine."""
    g = Group()
    gate: Chan[None] = Chan()
    g.go(gate.recv)
    g.go(gate.recv)
    with pytest.raises(
        RuntimeError,
        match=r"^errgroup: modify limit while 2 goroutines in the group are still active$",
    ):
        g.set_limit(1)
    assert g.statistics()["limit"] is None
    g.set_limit(-1)
    gate.close()
    g.wait()
    g.set_limit(3)
    assert g.statistics()["limit"] == 3
    g.set_limit(-5)
    assert g.statistics()["limit"] is None


def test_removing_limit_while_active_keeps_slots_straight() -> None:
    """Goroutines started under a limit give their slot back to that limit's channel."""
    g = Group()
    g.set_limit(1)
    gate: Chan[None] = Chan()
    g.go(gate.recv)
    g.set_limit(-1)  # allowed by Go while active
    g.go(gate.recv)  # no limit now: does not block
    gate.close()
    g.wait()
    g.set_limit(1)
    assert g.try_go(lambda: None)
    g.wait()


def test_arguments_and_thread_name() -> None:
    """go() passes positional and keyword arguments; the thread is named after fn."""
    g = Group()
    out: Chan[tuple[Any, ...]] = Chan(2)

    def record_call(a: int, *, b: int) -> int:
        out.send((a, b, threading.current_thread().name))
        return a + b  # a returned value is success, whatever it is

    g.go(record_call, 1, b=2)
    assert g.try_go(record_call, 3, b=4)
    g.wait()
    got = sorted([out.recv(timeout=0), out.recv(timeout=0)])
    assert [x[:2] for x in got] == [(1, 2), (3, 4)]
    assert all("record_call" in x[2] for x in got), got


def test_bad_arguments() -> None:
    g = Group()
    with pytest.raises(TypeError, match="not callable"):
        g.go(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not callable"):
        g.try_go(None)  # type: ignore[arg-type]
    assert g.statistics()["active"] == 0
    with pytest.raises(TypeError, match="limit must be an int"):
        g.set_limit(2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="limit must be an int"):
        g.set_limit(True)
    with pytest.raises(TypeError):
        with_context(None)  # type: ignore[arg-type]
    g.wait()


def test_repeated_wait_raises_same_error_without_growing_traceback() -> None:
    """wait() may be called again; it raises the same error, traceback reset each time."""
    err = KeyError("k")
    g = Group()
    g.go(returning(err))
    lengths = []
    for _ in range(3):
        with pytest.raises(KeyError) as info:
            g.wait()
        assert info.value is err
        lengths.append(len(traceback.extract_tb(info.value.__traceback__)))
    assert lengths[0] == lengths[1] == lengths[2]


def test_group_reuse_after_wait() -> None:
    """A group without errors can run a new round after wait()."""
    g = Group()
    results: Chan[int] = Chan(10)
    for round_ in range(3):
        for i in range(3):
            g.go(results.send, round_ * 10 + i)
        g.wait()
    results.close()
    assert sorted(results) == [0, 1, 2, 10, 11, 12, 20, 21, 22]


def test_repr_and_statistics() -> None:
    g = Group()
    assert repr(g).startswith("<Group active=0 limit=None error=None at 0x")
    g.set_limit(2)
    gate: Chan[None] = Chan()
    g.go(gate.recv)
    assert repr(g).startswith("<Group active=1 limit=2 error=None at 0x")
    err = OSError("x")
    g.go(returning(err))
    gate.close()
    with pytest.raises(OSError):
        g.wait()
    assert repr(g).startswith("<Group active=0 limit=2 error=OSError at 0x")
    assert g.statistics() == {"active": 0, "limit": 2, "error": err}


# -- stress --


def stress_trial(seed: int) -> None:
    rng = random.Random(seed)
    limit = rng.randint(1, 8)
    g, ctx = with_context(background())
    g.set_limit(limit)
    lock = threading.Lock()
    active = [0, 0]  # now, most ever
    raised: list[BaseException] = []

    def work(k: int, fail: bool) -> None:
        with lock:
            active[0] += 1
            active[1] = max(active[1], active[0])
        try:
            if k % 3 == 0:
                time.sleep(0)
            if fail:
                exc = ValueError(f"job {k}")
                with lock:
                    raised.append(exc)
                raise exc
        finally:
            with lock:
                active[0] -= 1

    for k in range(STRESS.threads(200)):
        fail = rng.random() < 0.05
        if k % 2:
            g.go(work, k, fail)
        elif not g.try_go(work, k, fail):
            g.go(work, k, False)
    try:
        g.wait()
        got = None
    except ValueError as exc:
        got = exc
    assert 1 <= active[1] <= limit
    if raised:
        assert any(got is e for e in raised)
        assert cause(ctx) is got
    else:
        assert got is None and isinstance(cause(ctx), Canceled)
    assert g.statistics()["active"] == 0


@stress_test(timeout=60)
def test_stress_limit_and_first_error() -> None:
    """Many goroutines under a limit, some failing: never over the limit, one error kept,
    and it is the context's cause."""
    for seed in range(5):
        stress_trial(seed)


# -- Ctrl-C --


def run_child(body: str) -> str:
    """Run ``body`` in a child; SIGINT it once it prints ready; its stdout on a clean exit."""
    return sigint_child(body)


PRELUDE = """
import signal, sys, threading, time
# A child started from a shell job may inherit SIGINT ignored: restore Python's handler.
signal.signal(signal.SIGINT, signal.default_int_handler)
from gopool.chan import Chan
from gopool.context import background, cause
from gopool.errgroup import Group, with_context

def check(ok, what):
    if not ok:
        print("FAILED:", what, flush=True)
        sys.exit(1)
"""


@pytest.mark.timeout(60)
@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
def test_ctrl_c_reaches_main_thread_blocked_in_wait() -> None:
    """SIGINT interrupts wait(); the context is cancelled with it as the cause, so
    goroutines watching the context end, and a later wait() returns."""
    out = run_child(
        PRELUDE
        + """
g, ctx = with_context(background())
g.go(lambda: ctx.done().recv())
g.go(lambda: ctx.done().recv())

def watch():
    while g._wg.statistics()["waiters"] < 1:
        time.sleep(0.001)
    print("ready", flush=True)

threading.Thread(target=watch, daemon=True).start()
try:
    g.wait()
except KeyboardInterrupt as exc:
    print("interrupted", flush=True)
    check(isinstance(cause(ctx), KeyboardInterrupt), f"cause: {cause(ctx)!r}")
    check(cause(ctx) is exc, "the cause is the interrupt itself")
else:
    check(False, "wait returned")
g.wait()  # the goroutines saw the context end
check(g.statistics()["active"] == 0, "goroutines still running")
print("intact", flush=True)
"""
    )
    assert out.split() == ["interrupted", "intact"], out


@pytest.mark.timeout(60)
@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
def test_ctrl_c_reaches_main_thread_blocked_in_go() -> None:
    """SIGINT interrupts a go() blocked at the limit; nothing is started."""
    out = run_child(
        PRELUDE
        + """
g = Group()
g.set_limit(1)
gate = Chan()
g.go(gate.recv)
started = Chan(1)

def watch():
    while g._sem.statistics()["senders_waiting"] < 1:
        time.sleep(0.001)
    print("ready", flush=True)

threading.Thread(target=watch, daemon=True).start()
try:
    g.go(started.send, "started")
except KeyboardInterrupt:
    print("interrupted", flush=True)
else:
    check(False, "go returned")
gate.send(None)
g.wait()
check(len(started) == 0, "the interrupted go() started its goroutine")
check(g.try_go(lambda: None), "the slot is free again")
g.wait()
print("intact", flush=True)
"""
    )
    assert out.split() == ["interrupted", "intact"], out
