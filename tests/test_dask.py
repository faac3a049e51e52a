"""Tests for the pools over a real Dask cluster: ``Client(LocalCluster(...)).get_executor()``.

One ``LocalCluster`` with 2 worker processes (one thread each) on this
machine serves the whole module and is shut down at its end. The pools must
behave as on threads: every job completes with the same results, failures
are recorded with their notes, and a cancellation cancels the futures the
workers wait on (a Dask executor's futures can always be cancelled: the
cancellation reaches the cluster). Skipped where ``distributed`` is not
installed (``pip install 'gopool[dask]'``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

import pytest
from conftest import DEADLINE, until

from gopool.context import background, with_cancel
from gopool.pools import DynamicPool, Job, Pool, RateLimitedPool, Result, WorkerPool

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'gopool[dask]')"
)

pytestmark = [
    pytest.mark.timeout(90),
    # The scheduler's HTTP server falls back to a free port when another
    # cluster (a parallel test run) holds its default one, and says so.
    pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning"),
]


# -- job functions (module-level: the workers import this module to unpickle them) --


def square(x: int) -> int:
    return x * x


def square_payload(job: Job) -> int:
    return int(job.payload) ** 2


def pid_of(_: object) -> int:
    return os.getpid()


def fail_on_odd(x: int) -> int:
    if x % 2:
        exc = ValueError(f"odd {x}")
        exc.add_note(f"raised in process {os.getpid()}")
        raise exc
    return x


def fail_on_odd_payload(job: Job) -> int:
    return fail_on_odd(job.payload)


def slow(x: int) -> int:
    time.sleep(1.0)
    return x


def _task_keys(dask_scheduler: Any) -> set[str]:
    return {str(key) for key in dask_scheduler.tasks}


class Recording(Executor):
    """Wraps an executor and records every future submitted through it."""

    def __init__(self, inner: Executor) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = self._inner.submit(fn, *args, **kwargs)
        with self._lock:
            self._futures.append(future)
        return future

    @property
    def futures(self) -> list[Future[Any]]:
        with self._lock:
            return list(self._futures)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        with distributed.Client(cluster) as c:
            yield c
    finally:
        cluster.close()


@pytest.fixture
def dask_executor(client: Any) -> Executor:
    ex: Executor = client.get_executor()
    return ex


@pytest.fixture
def no_goroutine_left() -> Iterator[None]:
    """Fail if a pool thread (a goroutine) started during the test outlives it."""
    before = set(threading.enumerate())
    yield
    left = []
    for t in threading.enumerate():
        if t in before or not t.name.startswith("goroutine-"):
            continue
        t.join(5.0)
        if t.is_alive():
            left.append(t)
    assert not left, f"threads left running: {left}"


def test_every_job_completes_with_the_results_it_has_on_threads(
    dask_executor: Executor, no_goroutine_left: None
) -> None:
    """Pool over the cluster: same results as Pool on threads, run in the workers' processes."""
    jobs = list(range(200))
    on_threads = sorted(Pool(4, square).map(jobs))
    on_dask = sorted(Pool(4, square, executor=dask_executor).map(jobs))
    assert on_dask == on_threads == [x * x for x in jobs]
    pids = set(Pool(4, pid_of, executor=dask_executor).map(range(20)))
    assert pids and os.getpid() not in pids


@pytest.mark.parametrize("kind", ["WorkerPool", "DynamicPool", "RateLimitedPool"])
def test_every_pool_runs_on_the_cluster(kind: str, dask_executor: Executor) -> None:
    if kind == "WorkerPool":
        results = WorkerPool(3, 8, square_payload, executor=dask_executor).map(
            Job(i, i) for i in range(30)
        )
        assert sorted((r.job_id, r.output, r.error) for r in results) == [
            (i, i * i, None) for i in range(30)
        ]
        return
    if kind == "DynamicPool":
        pool: Any = DynamicPool(3, square, executor=dask_executor)
        pool.start()
        while pool.add_worker():
            pass
    else:
        pool = RateLimitedPool(3, square, rate=float("inf"), executor=dask_executor)
    assert sorted(pool.map(range(30))) == [i * i for i in range(30)]


def test_ordered_map(dask_executor: Executor) -> None:
    assert list(Pool(4, square, executor=dask_executor).map(range(40), ordered=True)) == [
        i * i for i in range(40)
    ]


def test_an_exception_on_the_cluster_is_recorded(
    dask_executor: Executor, no_goroutine_left: None
) -> None:
    """A job raising in a Dask worker is recorded with the worker's note and the pool's."""
    got: list[int] = []
    with pytest.raises(ExceptionGroup) as info:
        for r in Pool(3, fail_on_odd, executor=dask_executor).map(range(8)):
            got.append(r)
    assert sorted(got) == [0, 2, 4, 6]
    errors = info.value.exceptions
    assert sorted(str(e) for e in errors) == ["odd 1", "odd 3", "odd 5", "odd 7"]
    for e in errors:
        assert isinstance(e, ValueError)
        assert any(n.startswith("raised in process ") for n in e.__notes__), e.__notes__
        assert any(n.startswith("Pool job #") for n in e.__notes__), e.__notes__
        worker_pid = int(next(n for n in e.__notes__ if "process" in n).split()[-1])
        assert worker_pid != os.getpid()


def test_worker_pool_puts_a_cluster_exception_in_the_result(dask_executor: Executor) -> None:
    results = sorted(
        WorkerPool(2, 4, fail_on_odd_payload, executor=dask_executor).map(
            Job(i, i) for i in range(4)
        ),
        key=lambda r: r.job_id,
    )
    assert [(r.job_id, r.output) for r in results] == [(0, 0), (1, None), (2, 2), (3, None)]
    for r in results:
        assert isinstance(r, Result)
        assert (r.error is None) == (r.job_id % 2 == 0)
        if r.error is not None:
            assert isinstance(r.error, ValueError)


def test_cancellation_cancels_the_futures_on_the_cluster(
    client: Any, dask_executor: Executor, no_goroutine_left: None
) -> None:
    """Cancelling the context cancels every future a worker waits on; the pool stops at once.

    Two 1-second jobs run on the two cluster workers and two more wait there
    when the context is cancelled: all four futures are cancelled (Dask's can
    be, running or not), none is delivered, and the pool closes.
    """
    before = client.run_on_scheduler(_task_keys)  # what earlier tests may still hold
    ex = Recording(dask_executor)
    workers = 4
    pool: Pool[int, int] = Pool(workers, slow, buffer=10, executor=ex)
    ctx, cancel = with_cancel(background())
    pool.start(ctx)
    for i in range(10):
        pool.submit(i)
    until(lambda: len(ex.futures) == workers, "4 futures on the cluster", DEADLINE)
    cancel()
    assert list(pool.results()) == []
    pool.close()
    futures = ex.futures
    assert len(futures) == workers
    assert all(f.cancelled() for f in futures)
    assert pool.cancelled == 10
    # The cancellation reaches the cluster: although the futures recorded
    # here are still referenced, the scheduler forgets their tasks (had they
    # not been cancelled, it would keep their results for those references).
    until(lambda: client.run_on_scheduler(_task_keys) <= before, "the scheduler to drop the tasks")
    assert all(f.cancelled() for f in futures)
