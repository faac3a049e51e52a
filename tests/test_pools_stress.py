"""Every pool under load: thousands of jobs, many workers, producers and consumers in threads.

Each test checks counts, never timings: every result arrives exactly once,
every failure is recorded once, cancellation mid-run stops everything with
nothing lost (delivered + failed + cancelled == accepted) and no thread
left, ``DynamicPool`` scales up and down under load, and ``RateLimitedPool``
never starts more jobs than its rate allows. Sizes go through ``conftest.STRESS``
(``GOPOOL_STRESS``).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from conftest import STRESS, join_all, spawn, stress_marks, until

from gopool.chan import ClosedChannelError
from gopool.context import Canceled, background, with_cancel
from gopool.pools import DynamicPool, Job, Pool, RateLimitedPool, Result, WorkerPool

pytestmark = stress_marks(timeout=60)

KINDS = ["WorkerPool", "Pool", "DynamicPool", "RateLimitedPool"]
GENERIC = ["Pool", "DynamicPool", "RateLimitedPool"]


def _make(name: str, process: Callable[[Any], Any], *, workers: int, buffer: int) -> Any:
    if name == "WorkerPool":
        return WorkerPool(workers, buffer, lambda job: process(job.payload))
    if name == "Pool":
        return Pool(workers, process, buffer=buffer)
    if name == "DynamicPool":
        return DynamicPool(workers, process, buffer=buffer)
    return RateLimitedPool(workers, process, rate=math.inf, buffer=buffer)


def _start(pool: Any, ctx: Any = None) -> Any:
    pool.start(ctx)
    if isinstance(pool, DynamicPool):
        while pool.add_worker():
            pass
    return pool


def _job(name: str, x: int) -> Any:
    return Job(x, x) if name == "WorkerPool" else x


def _value(name: str, r: Any) -> Any:
    if name == "WorkerPool":
        assert isinstance(r, Result) and r.error is None, r
        return r.output
    return r


def _tiny_work(x: int) -> int:
    if x % 64 == 0:
        time.sleep(0)  # let another thread in now and then
    return x


@pytest.mark.parametrize("name", KINDS)
def test_many_producers_and_consumers_each_result_once(name: str, no_thread_left: None) -> None:
    producers, per_producer = STRESS.threads(4), 1500
    consumers = STRESS.threads(3)
    pool = _start(_make(name, _tiny_work, workers=STRESS.threads(8), buffer=16))

    def produce(p: int) -> None:
        for i in range(per_producer):
            pool.submit(_job(name, p * per_producer + i))

    def consume() -> list[int]:
        return [_value(name, r) for r in pool.results()]

    consumer_tasks = [spawn(consume) for _ in range(consumers)]
    join_all([spawn(produce, p) for p in range(producers)], STRESS.seconds(10))
    pool.close()
    counts = Counter(x for got in join_all(consumer_tasks, STRESS.seconds(10)) for x in got)
    assert counts == Counter(range(producers * per_producer))
    assert pool.cancelled == 0


@pytest.mark.parametrize("name", GENERIC)
def test_failures_recorded_exactly_once_under_load(name: str, no_thread_left: None) -> None:
    def process(x: int) -> int:
        if x % 7 == 3:
            raise ValueError(x)
        return x

    n, nproducers = STRESS.iterations(4000), STRESS.threads(2)
    pool = _start(_make(name, process, workers=STRESS.threads(6), buffer=32))
    producers = [
        spawn(lambda k=k: [pool.submit(i) for i in range(k, n, nproducers)])  # type: ignore[misc]
        for k in range(nproducers)
    ]
    consumer = spawn(lambda: list(pool.results()))
    join_all(producers, STRESS.seconds(10))
    with pytest.raises(ExceptionGroup) as info:
        pool.close()
    failed = sorted(e.args[0] for e in info.value.exceptions)
    assert failed == [x for x in range(n) if x % 7 == 3]
    for e in info.value.exceptions:
        assert len(e.__notes__) == 1 and e.__notes__[0].endswith(f": {e.args[0]}")
    assert sorted(consumer.join(STRESS.seconds(10))) == [x for x in range(n) if x % 7 != 3]


def test_worker_pool_error_results_under_load(no_thread_left: None) -> None:
    def handler(job: Job) -> int:
        if job.id % 5 == 0:
            raise KeyError(job.id)
        return int(job.payload) * 2

    n = STRESS.iterations(3000)
    with WorkerPool(STRESS.threads(8), 16, handler) as pool:
        consumer = spawn(lambda: list(pool.results()))
        for i in range(n):
            pool.submit(Job(i, str(i)))
    got = consumer.join(STRESS.seconds(10))
    assert Counter(r.job_id for r in got) == Counter(range(n))
    for r in got:
        if r.job_id % 5 == 0:
            assert isinstance(r.error, KeyError) and r.output is None
        else:
            assert r.error is None and r.output == r.job_id * 2


def _cancel_mid_run(name: str, stop_after: int) -> None:
    """One round: producers and consumers in threads, a consumer cancels after ``stop_after``."""
    ctx, cancel = with_cancel(background())

    def process(x: int) -> int:
        if x % 97 == 0:
            raise ValueError(x)
        if x % 16 == 0:
            time.sleep(0.0002)
        return x

    pool = _start(_make(name, process, workers=STRESS.threads(6), buffer=8), ctx)
    nproducers = STRESS.threads(4)
    lock = threading.Lock()
    seen = 0

    def produce(p: int) -> int:
        accepted = 0
        try:
            for i in range(10**6):
                pool.submit(_job(name, p + nproducers * i))
                accepted += 1
        except Canceled:
            return accepted
        raise AssertionError("never cancelled")

    def consume() -> tuple[int, int]:
        nonlocal seen
        ok = errors = 0
        for r in pool.results():
            if name == "WorkerPool" and r.error is not None:
                errors += 1
            else:
                ok += 1
            with lock:
                seen += 1
                if seen == stop_after:
                    cancel()
        return ok, errors

    producers = [spawn(produce, p) for p in range(nproducers)]
    consumers = [spawn(consume) for _ in range(STRESS.threads(2))]
    accepted = sum(join_all(producers, STRESS.seconds(10)))
    outcomes = join_all(consumers, STRESS.seconds(10))
    failed = sum(e for _, e in outcomes)
    try:
        pool.close()
    except ExceptionGroup as group:
        failed += len(group.exceptions)
    delivered = sum(ok for ok, _ in outcomes)
    assert delivered + failed + pool.cancelled == accepted, (delivered, failed, accepted)
    assert pool._core.threads == 0


@pytest.mark.parametrize("name", KINDS)
def test_cancellation_mid_run_loses_nothing_and_leaves_no_thread(
    name: str, no_thread_left: None
) -> None:
    rng = random.Random(5)
    for _round in range(3):
        _cancel_mid_run(name, rng.randrange(200, 1500))


def test_dynamic_pool_scales_up_and_down_under_load(no_thread_left: None) -> None:
    max_workers = STRESS.threads(8)
    running = 0
    most = 0
    lock = threading.Lock()

    def process(x: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        if x % 8 == 0:
            time.sleep(0.0002)
        with lock:
            running -= 1
        return x

    pool: DynamicPool[int, int] = DynamicPool(max_workers, process, buffer=16)
    pool.add_worker()
    producing = threading.Event()
    producing.set()
    samples: list[tuple[int, int]] = []
    changes = Counter[str]()

    def scale() -> None:
        rng = random.Random(11)
        while producing.is_set():
            if rng.random() < 0.55:
                changes["add"] += pool.add_worker()
            else:
                changes["remove"] += pool.remove_worker()
            with pool._core.lock:
                samples.append((pool._core.workers, pool._core.threads))
            if rng.random() < 0.3:
                time.sleep(0.0005)

    n, nproducers = STRESS.iterations(6000), STRESS.threads(3)
    scaler = spawn(scale)
    consumer = spawn(lambda: list(pool.results()))
    producers = [
        spawn(lambda k=k: [pool.submit(i) for i in range(k, n, nproducers)])  # type: ignore[misc]
        for k in range(nproducers)
    ]
    join_all(producers, STRESS.seconds(10))
    producing.clear()
    scaler.join()
    pool.stop()  # adds a worker if the scaler left none
    got = consumer.join(STRESS.seconds(10))
    assert Counter(got) == Counter(range(n))
    assert changes["add"] > 10 and changes["remove"] > 10
    assert [s for s in samples if not (0 <= s[0] <= max_workers and 0 <= s[1] <= max_workers)] == []
    assert most <= max_workers
    assert pool.worker_count == 0


def test_rate_limited_pool_never_exceeds_its_rate_under_load(no_thread_left: None) -> None:
    rate, burst = 200.0, 5
    stamps: list[float] = []
    lock = threading.Lock()

    def process(x: int) -> int:
        with lock:
            stamps.append(time.monotonic())
        return x

    t0 = time.monotonic()
    workers, nproducers, n = STRESS.threads(16), STRESS.threads(3), STRESS.iterations(90)
    pool: RateLimitedPool[int, int] = RateLimitedPool(workers, process, rate=rate, burst=burst)
    pool.start()
    consumer = spawn(lambda: list(pool.results()))
    producers = [
        spawn(lambda k=k: [pool.submit(i) for i in range(k, n, nproducers)])  # type: ignore[misc]
        for k in range(nproducers)
    ]
    join_all(producers, STRESS.seconds(10))
    pool.close()
    assert sorted(consumer.join(STRESS.seconds(10))) == list(range(n))
    stamps.sort()
    # The bucket starts with `burst` tokens and gains one every 1/rate seconds,
    # shared by all the workers: the k-th start comes no earlier than this.
    for k, t in enumerate(stamps):
        assert t - t0 >= (k + 1 - burst) / rate - 0.001, (k, t - t0)


@pytest.mark.parametrize("ordered", [False, True])
def test_map_under_load_with_failures(ordered: bool, no_thread_left: None) -> None:
    def process(x: int) -> int:
        if x % 1000 == 999:
            raise ValueError(x)
        return x * 3

    n = STRESS.iterations(20000)
    pool: Pool[int, int] = Pool(STRESS.threads(8), process)
    got: list[int] = []
    with pytest.raises(ExceptionGroup) as info:
        for r in pool.map(range(n), ordered=ordered):
            got.append(r)
    expected = [x * 3 for x in range(n) if x % 1000 != 999]
    assert (got if ordered else sorted(got)) == expected
    assert len(info.value.exceptions) == n // 1000


def _close_with_blocked_submitters() -> None:
    pool: Pool[int, int] = Pool(STRESS.threads(2), _tiny_work, buffer=4).start()

    def produce(p: int) -> int:
        accepted = 0
        try:
            for i in range(10**6):
                pool.submit(p * 10**6 + i)
                accepted += 1
        except ClosedChannelError:
            return accepted
        raise AssertionError("never refused")

    consumer = spawn(lambda: list(pool.results()))
    producers = [spawn(produce, p) for p in range(STRESS.threads(4))]
    until(lambda: pool.stats().completed > 300, "some progress")
    pool.close()
    accepted = sum(join_all(producers, STRESS.seconds(10)))
    got = consumer.join(STRESS.seconds(10))
    assert len(got) == accepted == len(set(got))
    assert pool.cancelled == 0


def test_close_races_blocked_submitters(no_thread_left: None) -> None:
    """Submits blocked on a full buffer when close() is called: each is accepted or refused."""
    for _round in range(5):
        _close_with_blocked_submitters()
