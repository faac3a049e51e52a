"""Tests for ``gopool.semaphore``: the weighted semaphore.

Ports of golang.org/x/sync's semaphore/semaphore_test.go (each names its Go
test), then FIFO and cancellation rules, argument checks, a stress run, and
Ctrl-C reaching a main thread blocked in ``Weighted.acquire`` (in a
subprocess).

A test that must know a thread is queued before it acts uses the ``parked``
fixture: every blocked acquire announces its waiter on a channel once it
is queued. Go's tests
spin on ``TryAcquire`` for the same purpose.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from conftest import CHILD_HELPERS, STRESS, announce_parks, sigint_child, stress_test

from gopool import errgroup
from gopool._waiter import Waiter
from gopool.chan import Chan, go
from gopool.context import (
    Canceled,
    Context,
    DeadlineExceeded,
    background,
    with_cancel,
    with_timeout,
)
from gopool.semaphore import Weighted

pytestmark = [pytest.mark.timeout(30), pytest.mark.parallel_safe]

DEADLINE = 10.0
"""Seconds a test-side wait allows before declaring the library stuck."""


@pytest.fixture
def parked(monkeypatch: pytest.MonkeyPatch) -> Iterator[Chan[Waiter]]:
    """A channel that receives each waiter of ``gopool.semaphore`` once it is published."""
    yield announce_parks(monkeypatch, "semaphore acquire")


def await_parked(published: Chan[Waiter], n: int = 1) -> None:
    for _ in range(n):
        published.recv(timeout=DEADLINE)


def start(fn: Callable[[], object]) -> Chan[BaseException | None]:
    """Run ``fn`` in a goroutine; the channel gets None, or what it raised."""
    out: Chan[BaseException | None] = Chan(1)

    def run() -> None:
        try:
            fn()
        except BaseException as exc:
            out.send(exc)
        else:
            out.send(None)

    go(run)
    return out


def outcome(ch: Chan[BaseException | None]) -> BaseException | None:
    return ch.recv(timeout=DEADLINE)


def stats(sem: Weighted) -> tuple[int, int]:
    s = sem.statistics()
    return s["current"], s["waiters"]


# -- ports of semaphore_test.go --


def hammer_weighted(
    sem: Weighted, n: int, loops: int, held: list[int], lock: threading.Lock
) -> None:
    for _ in range(loops):
        sem.acquire(background(), n)
        with lock:
            held[0] += n
            held[1] = max(held[1], held[0])
        time.sleep(random.random() * 0.001)
        with lock:
            held[0] -= n
        sem.release(n)


@pytest.mark.timeout(60)
def test_weighted() -> None:
    """Port of Go's TestWeighted in semaphore/semaphore_test.go.

    Go only checks that the hammering ends; we also check that the tokens
    held never exceed the size.
    """
    n = 4
    loops = 1000
    sem = Weighted(n)
    held = [0, 0]  # now, most ever
    lock = threading.Lock()
    threads = [
        threading.Thread(target=hammer_weighted, args=(sem, i, loops, held, lock)) for i in range(n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE * 3)
        assert not t.is_alive()
    assert 0 < held[1] <= n
    assert stats(sem) == (0, 0)


def test_weighted_panic() -> None:
    """Port of Go's TestWeightedPanic in semaphore/semaphore_test.go.

    Go panics; we raise, and (unlike Go) leave the count unchanged.
    """
    w = Weighted(1)
    with pytest.raises(RuntimeError, match=r"^semaphore: released more than held$"):
        w.release(1)
    assert stats(w) == (0, 0)
    w.acquire()
    with pytest.raises(RuntimeError, match="released more than held"):
        w.release(2)
    assert stats(w) == (1, 0)
    w.release(1)


def test_weighted_try_acquire() -> None:
    """Port of Go's TestWeightedTryAcquire in semaphore/semaphore_test.go."""
    ctx = background()
    sem = Weighted(2)
    tries = []
    sem.acquire(ctx, 1)
    tries.append(sem.try_acquire(1))
    tries.append(sem.try_acquire(1))

    sem.release(2)

    tries.append(sem.try_acquire(1))
    sem.acquire(ctx, 1)
    tries.append(sem.try_acquire(1))

    assert tries == [True, False, True, False]


def test_weighted_acquire() -> None:
    """Port of Go's TestWeightedAcquire in semaphore/semaphore_test.go."""
    ctx = background()
    sem = Weighted(2)

    def try_acquire(n: int) -> bool:
        c, cancel = with_timeout(ctx, 0.2)  # Go: 10 ms; wider for loaded machines
        try:
            sem.acquire(c, n)
        except DeadlineExceeded:
            return False
        finally:
            cancel()
        return True

    tries = []
    sem.acquire(ctx, 1)
    tries.append(try_acquire(1))
    tries.append(try_acquire(1))

    sem.release(2)

    tries.append(try_acquire(1))
    sem.acquire(ctx, 1)
    tries.append(try_acquire(1))

    assert tries == [True, False, True, False]
    assert stats(sem) == (2, 0)


def test_weighted_doesnt_block_if_too_big() -> None:
    """Port of Go's TestWeightedDoesntBlockIfTooBig in semaphore/semaphore_test.go."""
    n = 2
    sem = Weighted(n)
    big_ctx, big_cancel = with_cancel(background())
    big = start(lambda: sem.acquire(big_ctx, n + 1))
    try:
        g, ctx = errgroup.with_context(background())
        for _ in range(n * 3):

            def work() -> None:
                sem.acquire(ctx, 1)
                time.sleep(0.001)
                sem.release(1)

            g.go(work)
        g.wait()  # raises if any acquire failed
        assert stats(sem) == (0, 0), "the doomed acquire must not be queued"
        assert len(big) == 0, "the too-big acquire returned before its context ended"
    finally:
        big_cancel()
    assert isinstance(outcome(big), Canceled)
    assert stats(sem) == (0, 0)


@pytest.mark.timeout(60)
def test_large_acquire_doesnt_starve() -> None:
    """Port of Go's TestLargeAcquireDoesntStarve in semaphore/semaphore_test.go.

    Times out if a large acquire starves behind a stream of small ones.
    """
    ctx = background()
    n = max(2, os.cpu_count() or 2)
    sem = Weighted(n)
    running = threading.Event()
    running.set()

    def churn() -> None:
        try:
            while running.is_set():
                time.sleep(0.001)
                sem.release(1)
                sem.acquire(ctx, 1)
        finally:
            sem.release(1)

    outs = []
    for _ in range(n):
        sem.acquire(ctx, 1)
        outs.append(start(churn))

    sem.acquire(ctx, n)
    running.clear()
    sem.release(n)
    for out in outs:
        assert outcome(out) is None
    assert stats(sem) == (0, 0)


def test_alloc_cancel_doesnt_starve(parked: Chan[Waiter]) -> None:
    """Port of Go's TestAllocCancelDoesntStarve in semaphore/semaphore_test.go.

    A waiter queued behind a large one that gives up must be served as
    soon as the large one leaves the queue. Go spins on TryAcquire until
    the large request is queued; we wait for its announcement.
    """
    sem = Weighted(10)

    # Block off a portion of the semaphore so that acquire(_, 10) can eventually succeed.
    sem.acquire(background(), 1)

    # In the background, acquire(_, 10).
    ctx, cancel = with_cancel(background())
    big = start(lambda: sem.acquire(ctx, 10))
    try:
        # Wait until the acquire(_, 10) call blocks.
        await_parked(parked)
        assert not sem.try_acquire(1), "nothing may barge past a queued waiter"

        # Now try to grab a read lock, and simultaneously unblock the acquire(_, 10) call.
        # Both acquire calls should unblock and return, in either order.
        go(cancel)
        sem.acquire(background(), 1)
        sem.release(1)
    finally:
        cancel()
    assert isinstance(outcome(big), Canceled)
    assert stats(sem) == (1, 0)


def test_weighted_acquire_canceled(parked: Chan[Waiter]) -> None:
    """Port of Go's TestWeightedAcquireCanceled in semaphore/semaphore_test.go (go.dev/issue/63615).

    Go's goroutine spins on TryAcquire until the acquire(2) is queued; ours
    waits for its announcement.
    """
    sem = Weighted(2)
    ctx, cancel = with_cancel(background())
    sem.acquire(background(), 1)
    finished: Chan[None] = Chan()

    def other() -> None:
        # Synchronize with the acquire(2) below.
        await_parked(parked)
        # Now cancel ctx, and then release the token.
        cancel()
        sem.release(1)
        finished.close()

    go(other)
    # Since the context closing happens before enough tokens become available,
    # this acquire must fail.
    with pytest.raises(Canceled):
        sem.acquire(ctx, 2)
    # There must always be two tokens in the semaphore after the other
    # goroutine releases the one we held at the start.
    finished.recv(timeout=DEADLINE)
    assert sem.try_acquire(2), "try_acquire after canceled acquire failed"
    # Additionally verify that we don't acquire with a done context even when
    # we wouldn't need to block to do so.
    sem.release(2)
    with pytest.raises(Canceled):
        sem.acquire(ctx, 1)
    assert stats(sem) == (0, 0)


# -- FIFO order and cancellation --


def test_fifo_order(parked: Chan[Waiter]) -> None:
    """Waiters are served in arrival order, each only once the tokens cover it."""
    sem = Weighted(3)
    sem.acquire(n=3)
    order: Chan[int] = Chan(10)
    outs = []
    for i, weight in enumerate([2, 1, 3, 1]):

        def take(i: int = i, weight: int = weight) -> None:
            sem.acquire(n=weight)
            order.send(i)

        outs.append(start(take))
        await_parked(parked)  # queue them one after another
    assert stats(sem) == (3, 4)

    sem.release(2)  # waiter 0 (2) fits; waiter 1 (1) does not fit yet
    assert order.recv(timeout=DEADLINE) == 0
    assert stats(sem) == (3, 3)
    sem.release(1)  # waiter 1 (1) fits; waiter 2 wants 3, only 0 left
    assert order.recv(timeout=DEADLINE) == 1
    assert stats(sem) == (3, 2)
    sem.release(3)  # 3 free: waiter 2 (3) takes all; waiter 3 waits
    assert order.recv(timeout=DEADLINE) == 2
    assert stats(sem) == (3, 1)
    sem.release(3)
    assert order.recv(timeout=DEADLINE) == 3
    for out in outs:
        assert outcome(out) is None
    assert stats(sem) == (1, 0)


def test_release_wakes_every_waiter_that_fits(parked: Chan[Waiter]) -> None:
    """One release grants as many front waiters as its tokens cover, in order."""
    sem = Weighted(4)
    sem.acquire(n=4)
    outs = []
    for _ in range(4):
        outs.append(start(lambda: sem.acquire(n=1)))
        await_parked(parked)
    sem.release(3)
    for out in outs[:3]:
        assert outcome(out) is None
    assert stats(sem) == (4, 1)
    sem.release(1)
    assert outcome(outs[3]) is None
    assert stats(sem) == (4, 0)


def test_no_barging_past_large_waiter(parked: Chan[Waiter]) -> None:
    """While a large request waits, small ones queue behind it though tokens are free."""
    sem = Weighted(4)
    sem.acquire(n=1)
    big = start(lambda: sem.acquire(n=4))
    await_parked(parked)
    assert not sem.try_acquire(1)
    small = start(lambda: sem.acquire(n=1))
    await_parked(parked)
    assert stats(sem) == (1, 2)
    sem.release(1)
    assert outcome(big) is None
    assert stats(sem) == (4, 1)
    sem.release(4)
    assert outcome(small) is None
    assert stats(sem) == (1, 0)


def test_cancel_front_waiter_serves_the_next(parked: Chan[Waiter]) -> None:
    """When the front waiter gives up, the waiters behind it that now fit are served."""
    sem = Weighted(3)
    sem.acquire(n=1)
    ctx, cancel = with_cancel(background())
    big = start(lambda: sem.acquire(ctx, 3))
    await_parked(parked)
    small = [start(lambda: sem.acquire(n=1)) for _ in range(2)]
    await_parked(parked, 2)
    assert stats(sem) == (1, 3)
    cancel()
    assert isinstance(outcome(big), Canceled)
    for out in small:
        assert outcome(out) is None
    assert stats(sem) == (3, 0)


class ManualContext(Context):
    """A custom context whose end is in the test's hands, callbacks included.

    ``gopool.context.after_func`` uses a custom parent's own ``after_func``
    hook; this one keeps the callbacks for the test to run when it likes.
    """

    def __init__(self) -> None:
        self.ch: Chan[None] = Chan()
        self.callbacks: list[Callable[[], object]] = []
        self._err: Exception | None = None

    def done(self) -> Chan[None]:
        return self.ch

    def err(self) -> Exception | None:
        return self._err

    def after_func(self, fn: Callable[[], object]) -> Callable[[], bool]:
        self.callbacks.append(fn)
        return lambda: True

    def end(self) -> None:
        self._err = Canceled()
        self.ch.close()


def test_granted_after_context_ended_gives_tokens_back(parked: Chan[Waiter]) -> None:
    """Go's "acquired the semaphore, check that ctx isn't already done" path.

    The context ends, then a release grants the waiter before the context's
    callback could withdraw it: the acquire must still fail, giving the
    tokens back.
    """
    sem = Weighted(1)
    sem.acquire()
    ctx = ManualContext()
    out = start(lambda: sem.acquire(ctx))
    await_parked(parked)
    ctx.end()  # done, but its callbacks do not run yet
    sem.release()  # grants the waiter
    exc = outcome(out)
    assert isinstance(exc, Canceled) and exc is ctx.err()
    assert stats(sem) == (0, 0)
    for fn in ctx.callbacks:
        fn()  # too late: a no-op
    assert sem.try_acquire(1)


def test_cancel_non_front_waiter(parked: Chan[Waiter]) -> None:
    """A cancelled waiter in the middle leaves; the others keep their places."""
    sem = Weighted(2)
    sem.acquire(n=2)
    first = start(lambda: sem.acquire(n=2))
    await_parked(parked)
    ctx, cancel = with_cancel(background())
    middle = start(lambda: sem.acquire(ctx, 1))
    await_parked(parked)
    last = start(lambda: sem.acquire(n=1))
    await_parked(parked)
    cancel()
    assert isinstance(outcome(middle), Canceled)
    assert stats(sem) == (2, 2)
    sem.release(2)
    assert outcome(first) is None
    sem.release(2)
    assert outcome(last) is None
    assert stats(sem) == (1, 0)


def test_deadline_raises_deadline_exceeded() -> None:
    """A queued acquire whose deadline passes raises DeadlineExceeded and leaves the queue."""
    sem = Weighted(1)
    sem.acquire()
    ctx, cancel = with_timeout(background(), 0.02)
    try:
        with pytest.raises(DeadlineExceeded) as info:
            sem.acquire(ctx)
        assert info.value is ctx.err()
    finally:
        cancel()
    assert stats(sem) == (1, 0)


def test_already_done_context_fails_even_when_free() -> None:
    """Go's rule: a context done before the call makes it fail, even with tokens free."""
    sem = Weighted(5)
    ctx, cancel = with_cancel(background())
    cancel()
    with pytest.raises(Canceled) as info:
        sem.acquire(ctx, 1)
    assert info.value is ctx.err()
    with pytest.raises(Canceled):
        sem.acquire(ctx, 6)  # too big: still the context's error, at once
    assert stats(sem) == (0, 0)


def test_too_big_waits_for_context_without_queueing(parked: Chan[Waiter]) -> None:
    """Go's "doomed" request waits for its context alone and never enters the queue."""
    sem = Weighted(2)
    ctx, cancel = with_cancel(background())
    big = start(lambda: sem.acquire(ctx, 3))
    with pytest.raises(TimeoutError):
        big.recv(timeout=0.05)  # still blocked: with wide slack, it did not return
    assert stats(sem) == (0, 0)
    assert sem.try_acquire(2)
    sem.release(2)
    assert len(parked) == 0, "the doomed request was queued"
    cancel()
    assert isinstance(outcome(big), Canceled)


def test_zero_weight() -> None:
    """acquire(n=0) succeeds when nobody waits, as in Go; a zero-size semaphore works."""
    sem = Weighted(0)
    sem.acquire(n=0)
    assert sem.try_acquire(0)
    assert not sem.try_acquire(1)
    sem.release(0)
    assert stats(sem) == (0, 0)


def test_zero_weight_waiter_behind_cancelled_front(parked: Chan[Waiter]) -> None:
    """A zero-weight waiter behind a front waiter that leaves is served at once."""
    sem = Weighted(1)
    sem.acquire()
    ctx, cancel = with_cancel(background())
    front = start(lambda: sem.acquire(ctx, 1))
    await_parked(parked)
    zero = start(lambda: sem.acquire(n=0))
    await_parked(parked)
    cancel()
    assert isinstance(outcome(front), Canceled)
    assert outcome(zero) is None
    assert stats(sem) == (1, 0)


def test_long_lived_context_keeps_nothing_of_finished_acquires(parked: Chan[Waiter]) -> None:
    """Each blocked acquire registers with its context only while it waits (white-box)."""
    sem = Weighted(1)
    ctx, cancel = with_cancel(background())
    try:
        for _ in range(20):
            sem.acquire(ctx)
            out = start(lambda: sem.acquire(ctx))
            await_parked(parked)
            sem.release()
            assert outcome(out) is None
            sem.release()
        assert ctx._children is None  # type: ignore[attr-defined]
    finally:
        cancel()


def test_custom_context_without_cancel_support() -> None:
    """A custom context whose done() is None never ends an acquire."""

    class Never(Context):
        def done(self) -> None:  # type: ignore[override]
            return None

    sem = Weighted(1)
    sem.acquire(Never())
    assert stats(sem) == (1, 0)
    sem.release()


# -- argument checks and introspection --


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="size must be an int"):
        Weighted(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="size must be an int"):
        Weighted(True)
    with pytest.raises(ValueError, match="size must be >= 0"):
        Weighted(-1)
    sem = Weighted(2)
    with pytest.raises(TypeError, match=r"ctx must be a Context or None, not int \(pass"):
        sem.acquire(2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must be >= 0"):
        sem.acquire(n=-1)
    with pytest.raises(TypeError, match="n must be an int"):
        sem.try_acquire("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must be >= 0"):
        sem.release(-1)
    assert stats(sem) == (0, 0)


def test_repr(parked: Chan[Waiter]) -> None:
    sem = Weighted(3)
    sem.acquire(n=2)
    assert repr(sem).startswith("<Weighted size=3 current=2 waiters=0 at 0x")
    out = start(lambda: sem.acquire(n=2))
    await_parked(parked)
    assert repr(sem).startswith("<Weighted size=3 current=2 waiters=1 at 0x")
    sem.release(2)
    assert outcome(out) is None
    assert sem.statistics() == {"size": 3, "current": 2, "waiters": 0}


# -- stress --


@stress_test(timeout=60)
def test_stress_random_weights_and_cancellations() -> None:
    """Many threads, random weights, timeouts and cancels: never over the size, nothing lost."""
    size = 5
    nthreads, iterations = STRESS.threads(8), 1000
    sem = Weighted(size)
    lock = threading.Lock()
    held = [0, 0]  # now, most ever
    counts = {"ok": 0, "canceled": 0}

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(iterations):
            n = rng.randint(0, size)
            kind = rng.random()
            cancel: Callable[[], None] | None = None
            ctx: Context | None = None
            if kind < 0.3:
                ctx, cancel = with_timeout(background(), rng.random() * 0.002)
            elif kind < 0.5:
                ctx, cancel = with_cancel(background())
                if rng.random() < 0.5:
                    go(cancel)
            try:
                sem.acquire(ctx, n)
            except (Canceled, DeadlineExceeded):
                with lock:
                    counts["canceled"] += 1
                continue
            finally:
                if cancel is not None:
                    cancel()
            with lock:
                counts["ok"] += 1
                held[0] += n
                held[1] = max(held[1], held[0])
                assert held[0] <= size
            if rng.random() < 0.5:
                time.sleep(0)
            with lock:
                held[0] -= n
            sem.release(n)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(STRESS.seconds(40))
        assert not t.is_alive(), "a worker is stuck"
    assert held == [0, held[1]] and held[1] <= size
    assert counts["ok"] > 0 and counts["canceled"] > 0
    assert counts["ok"] + counts["canceled"] == nthreads * iterations
    assert stats(sem) == (0, 0)


# -- Ctrl-C --


CHILD = (
    CHILD_HELPERS
    + """
from gopool.chan import Chan
from gopool.context import background, with_cancel
from gopool.semaphore import Weighted

sem = Weighted(2)
sem.acquire(n=1)
ctx, cancel = CTX
behind = Chan(1)

def later():
    # Queued behind the main thread's acquire(2): served once the main thread leaves.
    sem.acquire(n=1)
    behind.send("served")

def queue_later():
    while sem.statistics()["waiters"] < 1:
        time.sleep(0.001)
    threading.Thread(target=later, daemon=True).start()

threading.Thread(target=queue_later, daemon=True).start()
ready_when(lambda: sem.statistics()["waiters"] == 2)
try:
    sem.acquire(ctx, 2)
except KeyboardInterrupt:
    print("interrupted", flush=True)
else:
    check(False, "the acquire returned")
check(behind.recv(timeout=10) == "served", "the waiter behind was served")
s = sem.statistics()
check(s == {"size": 2, "current": 2, "waiters": 0}, f"state after the interrupt: {s}")
sem.release(2)
check(sem.try_acquire(2), "the semaphore still works")
print("intact", flush=True)
"""
)


def run_child(body: str) -> None:
    """Run ``body`` in a child; SIGINT it once it prints ready; require a clean exit."""
    out = sigint_child(body)
    assert out.split() == ["interrupted", "intact"], f"stdout:\n{out}"


@pytest.mark.timeout(60)
@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
@pytest.mark.parametrize(
    "ctx", ["(None, None)", "with_cancel(background())"], ids=["no-context", "cancellable"]
)
def test_ctrl_c_reaches_main_thread_blocked_in_acquire(ctx: str) -> None:
    """SIGINT interrupts a main thread queued in acquire: it takes nothing, and the
    waiter queued behind it is served as if it had never waited."""
    run_child(CHILD.replace("CTX", ctx))


@pytest.mark.timeout(60)
@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
def test_ctrl_c_reaches_main_thread_in_too_big_acquire() -> None:
    """SIGINT interrupts a main thread waiting, unqueued, in a too-big acquire."""
    run_child("""
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from gopool.semaphore import Weighted
sem = Weighted(1)
print("ready", flush=True)
try:
    sem.acquire(None, 2)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    ok = sem.statistics() == {"size": 1, "current": 0, "waiters": 0} and sem.try_acquire(1)
    print("intact" if ok else "FAILED", flush=True)
""")
