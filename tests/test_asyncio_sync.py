"""The async forms of WaitGroup, semaphore.Weighted, Limiter, and awaiting contexts and timers.

Each async form returns what its blocking form returns and keeps its rules
(Go's, and the SPEC's): a WaitGroup wakes every waiter of both kinds at
zero; Weighted serves threads and tasks in one FIFO queue and a context's
end fails a waiting acquire having taken nothing; a Limiter's wait gives its
tokens back when its context ends or its task is cancelled; a context's
``done()`` and a timer's channel are channels a task can await.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pytest
from aio_support import loops, run
from conftest import join_all, spawn

from gopool import (
    Canceled,
    Chan,
    DeadlineExceeded,
    Limiter,
    Ticker,
    Timer,
    WaitGroup,
    after,
    async_select,
    background,
    semaphore,
    with_cancel,
    with_timeout,
)
from gopool.rate import inf

pytestmark = pytest.mark.timeout(90)


# -- WaitGroup --


def test_waitgroup_async_wait_returns_true_at_once_at_zero() -> None:
    assert run(WaitGroup().async_wait()) is True


def test_waitgroup_wakes_tasks_on_several_loops_and_threads_together() -> None:
    wg = WaitGroup()
    wg.add(2)
    with loops(2) as (a, b):
        futs = [lt.submit(wg.async_wait()) for lt in (a, b) for _ in range(50)]
        threads = [spawn(wg.wait) for _ in range(5)]
        time.sleep(0.02)
        assert not any(f.done() for f in futs)
        wg.done()
        a.run(_done_from_a_task(wg))
        assert [f.result(10) for f in futs] == [True] * 100
        assert join_all(threads) == [True] * 5


async def _done_from_a_task(wg: WaitGroup) -> None:
    wg.done()


def test_waitgroup_cancelled_async_wait_leaves_the_others_waiting() -> None:
    wg = WaitGroup()
    wg.add(1)

    async def main() -> None:
        first = asyncio.create_task(wg.async_wait())
        second = asyncio.create_task(wg.async_wait())
        await asyncio.sleep(0.01)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await asyncio.to_thread(wg.done)
        assert await second is True

    run(main())


def test_waitgroup_go_and_async_wait() -> None:
    """Go's TestWaitGroup shape: n goroutines done, then the waiters all return."""
    wg = WaitGroup()
    finished = []
    lock = threading.Lock()

    def work(i: int) -> None:
        time.sleep(0.001 * (i % 3))
        with lock:
            finished.append(i)

    async def main() -> None:
        for i in range(16):
            wg.go(work, i)
        assert await wg.async_wait() is True
        assert sorted(finished) == list(range(16))

    run(main())


# -- semaphore.Weighted --


def test_weighted_hammer_with_tasks_and_threads() -> None:
    """Go's TestWeighted (HammerWeighted), with half the hammers tasks on two loops."""
    n, iterations = 4, 300
    sem = semaphore.Weighted(n)
    held = [0]
    lock = threading.Lock()

    def check(k: int, delta: int) -> None:
        with lock:
            held[0] += delta
            assert 0 <= held[0] <= n, held[0]

    def hammer_thread(k: int) -> None:
        rng = random.Random(k)
        for _ in range(iterations):
            sem.acquire(n=k)
            check(k, k)
            time.sleep(rng.random() * 0.0002)
            check(k, -k)
            sem.release(k)

    async def hammer_task(k: int) -> None:
        rng = random.Random(k + 100)
        for _ in range(iterations):
            await sem.async_acquire(None, k)
            check(k, k)
            await asyncio.sleep(rng.random() * 0.0002)
            check(k, -k)
            sem.release(k)

    threads = [spawn(hammer_thread, k) for k in range(n + 1)]
    with loops(2) as (a, b):
        futs = [lt.submit(hammer_task(k)) for lt in (a, b) for k in range(n + 1)]
        for f in futs:
            f.result(60)
    join_all(threads, 60)
    assert sem.statistics() == {"size": n, "current": 0, "waiters": 0}


def test_weighted_async_acquire_with_context() -> None:
    """Go's TestWeightedAcquire: acquires bounded by short contexts, from a task."""
    sem = semaphore.Weighted(2)

    async def try_acquire(n: int) -> bool:
        # Go uses 10 ms; a loaded machine can spend that before the acquire looks.
        ctx, cancel = with_timeout(background(), 0.25)
        try:
            await sem.async_acquire(ctx, n)
            return True
        except DeadlineExceeded:
            return False
        finally:
            cancel()

    async def main() -> list[bool]:
        tries = []
        await sem.async_acquire(None, 1)
        tries.append(await try_acquire(1))
        tries.append(await try_acquire(1))
        sem.release(2)
        tries.append(await try_acquire(1))
        await sem.async_acquire(n=1)
        tries.append(await try_acquire(1))
        return tries

    assert run(main()) == [True, False, True, False]
    assert sem.statistics()["waiters"] == 0


def test_weighted_threads_and_tasks_share_one_fifo_queue() -> None:
    sem = semaphore.Weighted(1)
    sem.acquire()
    order: list[str] = []
    lock = threading.Lock()

    def thread_acquire(tag: str) -> None:
        sem.acquire()
        with lock:
            order.append(tag)
        sem.release()

    async def task_acquire(tag: str) -> None:
        await sem.async_acquire()
        with lock:
            order.append(tag)
        sem.release()

    with loops(1) as (lt,):
        t0 = lt.submit(task_acquire("t0"))
        _wait_waiters(sem, 1)
        th1 = spawn(thread_acquire, "th1")
        _wait_waiters(sem, 2)
        t2 = lt.submit(task_acquire("t2"))
        _wait_waiters(sem, 3)
        th3 = spawn(thread_acquire, "th3")
        _wait_waiters(sem, 4)
        sem.release()
        t0.result(10)
        t2.result(10)
        join_all([th1, th3])
    assert order == ["t0", "th1", "t2", "th3"]


def _wait_waiters(sem: semaphore.Weighted, n: int) -> None:
    end = time.monotonic() + 10
    while sem.statistics()["waiters"] < n:
        assert time.monotonic() < end, "waiter never queued"
        time.sleep(0.001)


def test_weighted_cancelled_large_request_lets_the_small_one_in() -> None:
    """Go's TestAllocCancelDoesntStarve, with the large request a cancelled task."""
    sem = semaphore.Weighted(10)
    sem.acquire(n=1)

    async def main() -> None:
        large = asyncio.create_task(sem.async_acquire(None, 10))
        await asyncio.sleep(0.01)
        small = asyncio.create_task(sem.async_acquire(None, 1))
        await asyncio.sleep(0.01)
        assert not small.done()
        large.cancel()
        with pytest.raises(asyncio.CancelledError):
            await large
        await asyncio.wait_for(small, 5)
        sem.release(1)

    run(main())
    sem.release(1)
    assert sem.statistics() == {"size": 10, "current": 0, "waiters": 0}


def test_weighted_context_ending_fails_a_waiting_task_having_taken_nothing() -> None:
    sem = semaphore.Weighted(1)
    sem.acquire()
    ctx, cancel = with_cancel(background())

    async def main() -> None:
        waiting = asyncio.create_task(sem.async_acquire(ctx, 1))
        await asyncio.sleep(0.01)
        threading.Thread(target=cancel).start()
        with pytest.raises(Canceled):
            await waiting

    run(main())
    assert sem.statistics() == {"size": 1, "current": 1, "waiters": 0}
    with pytest.raises(Canceled):
        run(sem.async_acquire(ctx, 0))  # a done context fails even a free acquire


def test_weighted_too_big_request_waits_for_its_context_only() -> None:
    """Go's TestWeightedDoesntBlockIfTooBig: a request over the size does not queue."""
    sem = semaphore.Weighted(2)
    ctx, cancel = with_cancel(background())

    async def main() -> None:
        too_big = asyncio.create_task(sem.async_acquire(ctx, 3))
        await asyncio.sleep(0.01)
        for _ in range(6):
            await sem.async_acquire(None, 1)
            sem.release(1)
        cancel()
        with pytest.raises(Canceled):
            await too_big

    run(main())


# -- rate.Limiter --


def test_limiter_async_wait_paces_tasks() -> None:
    lim = Limiter(100.0, 1)

    async def main() -> float:
        start = time.monotonic()
        for _ in range(6):
            await lim.async_wait()
        return time.monotonic() - start

    assert run(main()) >= 0.045  # the burst's token, then five more at 10 ms each


def test_limiter_async_wait_n_rules() -> None:
    lim = Limiter(10.0, 3)

    async def main() -> None:
        with pytest.raises(ValueError, match="exceeds limiter's burst"):
            await lim.async_wait_n(None, 4)
        ctx, cancel = with_timeout(background(), 0.05)
        try:
            await lim.async_wait_n(ctx, 3)  # the burst: at once
            with pytest.raises(DeadlineExceeded):
                await lim.async_wait_n(ctx, 3)  # would outlast the deadline: at once
        finally:
            cancel()
        with pytest.raises(Canceled):
            await lim.async_wait(ctx)  # done already
        await Limiter(inf, 0).async_wait_n(None, 100)

    run(main())


def test_limiter_gives_tokens_back_when_the_context_ends_or_the_task_is_cancelled() -> None:
    lim = Limiter(1.0, 1)

    async def main() -> None:
        await lim.async_wait()
        ctx, cancel = with_cancel(background())
        waiting = asyncio.create_task(lim.async_wait(ctx))
        await asyncio.sleep(0.02)
        assert lim.tokens() < -0.5  # reserved ahead
        cancel()
        with pytest.raises(Canceled):
            await waiting
        assert lim.tokens() > -0.5  # given back
        waiting = asyncio.create_task(lim.async_wait())
        await asyncio.sleep(0.02)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert lim.tokens() > -0.5

    run(main())


# -- contexts and timers, awaited --


def test_await_context_done_cancelled_from_a_thread() -> None:
    ctx, cancel = with_cancel(background())

    async def main() -> object:
        threading.Timer(0.02, cancel).start()
        got = await ctx.done().async_recv()
        return got, ctx.err()

    got, err = run(main())
    assert got is None and isinstance(err, Canceled)


def test_await_context_deadline_and_select_against_work() -> None:
    ctx, cancel = with_timeout(background(), 0.03)
    work: Chan[int] = Chan()
    try:

        async def main() -> tuple[int, object]:
            return await async_select(work.recv, ctx.done().recv)

        assert run(main()) == (1, None)
        assert isinstance(ctx.err(), DeadlineExceeded)
    finally:
        cancel()


def test_await_after_and_timer() -> None:
    async def main() -> None:
        start = time.monotonic()
        fired = await after(0.03).async_recv()
        assert fired is not None and fired >= start + 0.03
        t = Timer(0.02)
        v, ok = await t.c.async_recv_ok()
        assert ok and v is not None
        assert t.stop() is False  # received: stop reports it had fired

    run(main())


def test_stopped_timer_delivers_nothing_to_a_waiting_task() -> None:
    """Go 1.23: after stop() returns, no value from before is received."""
    t = Timer(0.03)

    async def main() -> None:
        waiting = asyncio.create_task(t.c.async_recv())
        await asyncio.sleep(0.001)
        assert t.stop() is True
        await asyncio.sleep(0.06)
        assert not waiting.done()
        t.reset(0.001)
        assert await asyncio.wait_for(waiting, 5) is not None

    run(main())


def test_ticker_with_async_for() -> None:
    ticker = Ticker(0.01)

    async def main() -> list[float]:
        ticks = []
        async for v in ticker.c:
            ticks.append(v)
            if len(ticks) == 3:
                break
        return ticks

    try:
        ticks = run(main())
    finally:
        ticker.stop()
    assert len(ticks) == 3 and ticks == sorted(ticks)
