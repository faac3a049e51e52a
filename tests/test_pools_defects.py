"""The Go article's defects, one test each, so that none carries over to gopool's pools.

Each test names the defect of the article's code it guards against, and
fails if that defect is reintroduced (issue 5, "the Go code's defects do not
carry over"). None of them sleeps to let a thread block: a thread known to
be blocked is waited for through its channel's ``statistics()``.
"""

from __future__ import annotations

import gc
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import Gate, join_all, spawn, until, wait_blocked
from test_pools import wait_submits_blocked

from gopool import timers
from gopool.chan import ClosedChannelError
from gopool.context import Canceled, background, with_cancel
from gopool.pools import DynamicPool, Job, Pool, RateLimitedPool, WorkerPool
from gopool.pools import _base as pools_base
from gopool.pools import rate_limited as rate_limited_module

pytestmark = pytest.mark.timeout(30)


def _identity(x: Any) -> Any:
    return x


def _make(name: str, process: Callable[[Any], Any], *, workers: int = 2, buffer: int = 4) -> Any:
    if name == "WorkerPool":
        return WorkerPool(workers, buffer, lambda job: process(job.payload))
    if name == "Pool":
        return Pool(workers, process, buffer=buffer)
    if name == "DynamicPool":
        return DynamicPool(workers, process, buffer=buffer)
    return RateLimitedPool(workers, process, rate=math.inf, buffer=buffer)


def _job(name: str, x: int) -> Any:
    return Job(x, x) if name == "WorkerPool" else x


KINDS = ["WorkerPool", "Pool", "DynamicPool", "RateLimitedPool"]


# -- DynamicPool.Stop closed the job channel and cancelled at once --


def test_dynamic_pool_stop_delivers_all_50_results(no_thread_left: None) -> None:
    """The article's dynamic program printed 5 to 15 of its 50 results: ours prints 50.

    Go's ``Stop`` did ``close(p.jobs); p.cancel()``, so workers saw
    ``ctx.Done()`` and dropped every job still queued. ``stop()`` is graceful.
    """

    def process(job: int) -> int:
        time.sleep(0.002)  # the article's 100 ms, shrunk
        return job * 2

    pool: DynamicPool[int, int] = DynamicPool(10, process)
    pool.add_worker()
    pool.add_worker()

    def produce() -> None:
        for i in range(50):
            pool.submit(i)
            if i % 10 == 0:
                pool.add_worker()
        pool.stop()  # with most of the 50 jobs still queued

    producer = spawn(produce)
    results = list(pool.results())
    producer.join()
    assert sorted(results) == [i * 2 for i in range(50)]
    assert pool.cancelled == 0


def test_dynamic_pool_stop_with_queued_jobs_and_no_consumer_yet(no_thread_left: None) -> None:
    """stop() processes every queued job even when it is called before anyone reads."""
    gate = Gate()
    pool: DynamicPool[int, int] = DynamicPool(3, gate, buffer=100)
    pool.add_worker()
    for i in range(60):
        pool.submit(i)
    stopper = spawn(pool.stop)
    until(lambda: pool._core.closed, "stop() to close the pool")
    gate.opened.set()
    got = sorted(pool.results())
    stopper.join()
    assert got == list(range(60))


# -- AddWorker checked, then incremented: two atomics, not one --


def test_add_worker_never_exceeds_max_workers_under_concurrent_callers(
    monkeypatch: pytest.MonkeyPatch, no_thread_left: None
) -> None:
    """Go's ``AddWorker`` loaded the count, compared, and only later added to it.

    Counting a new worker is made slow here, which widens the gap between
    the check and the increment: with a separate check, every caller would
    pass it during that time and the pool would overshoot ``max_workers``.
    """
    reserve_locked = pools_base._Core._reserve_locked

    def slow_reserve(core: pools_base._Core, n: int) -> int:
        time.sleep(0.002)
        return reserve_locked(core, n)

    monkeypatch.setattr(pools_base._Core, "_reserve_locked", slow_reserve)
    max_workers = 4
    pool: DynamicPool[int, int] = DynamicPool(max_workers, _identity)
    pool.start()  # one worker
    callers = 24

    def add(barrier: threading.Barrier) -> bool:
        barrier.wait()
        return pool.add_worker()

    for _round in range(3):
        barrier = threading.Barrier(callers)
        added = join_all([spawn(add, barrier) for _ in range(callers)])
        assert pool.worker_count == max_workers
        assert pool._core.threads <= max_workers
        assert sum(added) == max_workers - 1  # from one worker up to the maximum
        # Scale down to one worker for the next round.
        while pool.worker_count > 1:
            assert pool.remove_worker()
        until(lambda: pool._core.threads == 1, "the removed workers to leave")
    pool.stop()


def test_add_after_remove_never_runs_more_than_max_workers_jobs(no_thread_left: None) -> None:
    """A worker told to leave but still busy counts against max_workers until it leaves."""
    gate = Gate()
    pool: DynamicPool[int, int] = DynamicPool(2, gate)
    pool.add_worker()
    pool.add_worker()
    for i in range(6):
        pool.submit(i)
    until(lambda: gate.started == 2, "both workers busy")
    assert pool.remove_worker()
    assert pool.add_worker()  # keeps the leaver instead of starting a third thread
    assert pool.add_worker() is False
    assert pool._core.threads == 2
    gate.opened.set()
    pool.stop()
    assert sorted(pool.results()) == list(range(6))


# -- Submit after Close panicked; Submit blocked forever once cancelled --


@pytest.mark.parametrize("name", KINDS)
def test_submit_after_close_raises_instead_of_panicking(name: str) -> None:
    """Go: ``panic: send on closed channel``. Ours: ``ClosedChannelError``, pool intact."""
    pool = _make(name, _identity)
    pool.start()
    pool.submit(_job(name, 1))
    pool.close()
    with pytest.raises(ClosedChannelError, match="send on closed channel"):
        pool.submit(_job(name, 2))
    assert len(list(pool.results())) == 1
    assert pool.close() is None


@pytest.mark.parametrize("name", KINDS)
def test_submit_on_cancelled_context_with_full_buffer_raises_instead_of_blocking(
    name: str, no_thread_left: None
) -> None:
    """Go: ``Submit`` blocks forever once the workers returned on ``ctx.Done()``.

    Here the buffer is full and the workers are busy; a submit blocked before
    the cancellation, and one made after it, both raise the context's error.
    """
    gate = Gate()
    ctx, cancel = with_cancel(background())
    pool = _make(name, gate, workers=1, buffer=2)
    pool.start(ctx)
    pool.submit(_job(name, 0))
    until(lambda: gate.started == 1, "the worker busy")
    pool.submit(_job(name, 1))
    pool.submit(_job(name, 2))  # the buffer is full now
    blocked = spawn(pool.submit, _job(name, 3))
    wait_submits_blocked(pool)
    cancel()
    with pytest.raises(Canceled) as info:
        blocked.join()
    assert info.value is ctx.err()
    with pytest.raises(Canceled):
        pool.submit(_job(name, 4))  # the buffer was emptied, yet nothing is accepted
    gate.opened.set()
    pool.close()
    delivered = len(list(pool.results()))
    assert delivered + pool.cancelled == 3


# -- A worker that took a job and then saw ctx.Done() returned: the job vanished --


@pytest.mark.parametrize("name", KINDS)
def test_job_whose_result_cannot_be_delivered_is_counted_cancelled(
    name: str, no_thread_left: None
) -> None:
    """Go: ``select { case results <- r: case <-ctx.Done(): return }`` loses ``r``.

    The results channel is unbuffered and nobody reads it, so the worker
    holds a finished job when the context ends: it is counted, not lost.
    """
    ctx, cancel = with_cancel(background())
    pool = _make(name, _identity, workers=1, buffer=0)
    pool.start(ctx)
    submitter = spawn(pool.submit, _job(name, 7))
    wait_blocked(pool.results(), senders=1)  # job taken, processed, result waiting
    submitter.join()
    cancel()
    assert list(pool.results()) == []
    assert pool.cancelled == 1
    pool.close()
    assert pool.cancelled == 1


def test_job_waiting_for_the_rate_limiter_is_counted_cancelled(no_thread_left: None) -> None:
    """Go's rate-limited worker returned from its limiter select on ``ctx.Done()``, job lost."""
    started: list[int] = []
    baseline = timers.pending_count()
    ctx, cancel = with_cancel(background())
    pool: RateLimitedPool[int, int] = RateLimitedPool(2, started.append, rate=0.2, burst=1)
    pool.start(ctx)
    pool.submit(1)
    pool.submit(2)
    until(lambda: len(started) == 1, "the first job to run on the only token")
    until(lambda: timers.pending_count() > baseline, "the second worker waiting for a token")
    cancel()
    got = list(pool.results())  # ends without waiting the 5 s for the next token
    assert got == [None]
    assert len(started) == 1  # whichever worker won the only token
    assert pool.cancelled == 1
    pool.close()


# -- time.Tick never stopped; "per worker" said of a global rate --


def test_rate_limited_pool_stops_its_limiter_with_the_pool(no_thread_left: None) -> None:
    """Go's ``time.Tick`` ran for ever. Ours leaves no timer pending once the pool stops."""
    baseline = timers.pending_count()
    ctx, cancel = with_cancel(background())
    pool: RateLimitedPool[int, int] = RateLimitedPool(4, _identity, rate=0.5, burst=1)
    pool.start(ctx)
    for i in range(10):
        pool.submit(i)
    until(lambda: timers.pending_count() >= baseline + 3, "three workers waiting for tokens")
    cancel()
    got = list(pool.results())
    assert len(got) == 1 and got[0] in range(4)  # the one job that won the only token
    pool.close()
    assert timers.pending_count() == baseline
    assert pool.cancelled == 9

    # And after a graceful close: nothing left ticking either.
    with RateLimitedPool(2, _identity, rate=200.0) as pool2:
        for i in range(5):
            pool2.submit(i)
    assert sorted(pool2.results()) == list(range(5))
    assert timers.pending_count() == baseline


def test_rate_is_the_pools_total_not_per_worker(no_thread_left: None) -> None:
    """The article's comment said "1 job per 2 seconds per worker" of a single shared ticker.

    Eight workers share one rate here: eight times as many jobs would start
    if it applied per worker. And the documentation says so.
    """
    rate = 50.0
    stamps: list[float] = []
    lock = threading.Lock()

    def process(x: int) -> int:
        with lock:
            stamps.append(time.monotonic())
        return x

    t0 = time.monotonic()
    with RateLimitedPool(8, process, rate=rate, burst=2) as pool:
        for i in range(16):
            pool.submit(i)
    stamps.sort()
    assert len(stamps) == 16
    for k, t in enumerate(stamps):
        assert t - t0 >= (k + 1 - 2) / rate - 0.001, (k, t - t0)
    doc = (RateLimitedPool.__doc__ or "") + (rate_limited_module.__doc__ or "")
    assert "total" in doc and "per worker" in doc


# -- A worker sending with no consumer left blocked for ever --


@pytest.mark.parametrize("name", KINDS)
def test_no_thread_left_after_cancellation_without_a_consumer(
    name: str, no_thread_left: None
) -> None:
    """Go: workers blocked on ``results <- r`` with nobody reading stay blocked for ever."""
    ctx, cancel = with_cancel(background())
    pool = _make(name, _identity, workers=3, buffer=2)
    pool.start(ctx)
    if isinstance(pool, DynamicPool):
        while pool.add_worker():
            pass

    def produce() -> int:
        accepted = 0
        try:
            for i in range(10**6):
                pool.submit(_job(name, i))
                accepted += 1
        except Canceled:
            return accepted
        raise AssertionError("the producer was never stopped")

    producer = spawn(produce)
    # Nobody reads: results fill, the workers block sending, the buffer fills.
    wait_blocked(pool.results(), senders=3)
    wait_submits_blocked(pool)
    cancel()
    accepted = producer.join()
    pool.close()
    delivered = len(list(pool.results()))
    assert delivered == 2  # what was in the results buffer stays delivered
    assert delivered + pool.cancelled == accepted


@pytest.mark.parametrize("name", KINDS)
def test_no_thread_left_after_close_without_a_consumer(name: str, no_thread_left: None) -> None:
    """close() with results that fit in results(): returns, and every worker has stopped."""
    pool = _make(name, _identity, workers=3, buffer=8)
    pool.start()
    for i in range(8):
        pool.submit(_job(name, i))
    pool.close()
    assert pool._core.threads == 0
    assert len(pool.results()) == 8


def test_no_thread_left_after_map_is_abandoned(no_thread_left: None) -> None:
    """Leaving map() early stops the workers and the feeder goroutine, nobody reading."""

    def endless() -> Iterator[int]:
        i = 0
        while True:
            yield i
            i += 1

    pool: Pool[int, int] = Pool(4, _identity, buffer=8)
    it = pool.map(endless())
    assert next(it) >= 0
    until(lambda: pool.stats().queued == 8, "the job buffer full")
    del it  # dropped mid-iteration: the generator is closed
    gc.collect()
    assert pool._core.threads == 0
    assert pool.cancelled > 0
