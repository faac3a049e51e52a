"""Tests for the pools' ``executor=``: jobs run by a ``concurrent.futures.Executor``.

Every pool is run over a ``ThreadPoolExecutor`` and over a
``ProcessPoolExecutor(2)``, and must keep the rules of the spec's "Pools"
section unchanged: exact results, failures recorded with their notes (the
notes added in the child process survive the trip back), backpressure,
cancellation (which also cancels the futures the workers wait on), no
thread left. The process pool uses the ``forkserver`` start method: the test
process runs many threads, and ``fork()`` from a threaded process can
deadlock the child (Python 3.12 warns about it). Its job functions are
module-level, so that they pickle. Jobs that must stay running in a thread
executor wait on an ``Event`` the test sets; in a process, they sleep.
"""

from __future__ import annotations

import importlib.util
import math
import multiprocessing
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest
from conftest import DEADLINE, until

from gopool.chan import Chan, go
from gopool.context import Canceled, background, with_cancel
from gopool.pools import DynamicPool, Job, Pool, RateLimitedPool, Result, WorkerPool

pytestmark = pytest.mark.timeout(60)

KINDS = ["WorkerPool", "Pool", "DynamicPool", "RateLimitedPool"]
GENERIC = ["Pool", "DynamicPool", "RateLimitedPool"]


# -- job functions: module-level, so that a ProcessPoolExecutor can pickle them --


def square(x: int) -> int:
    return x * x


def square_payload(job: Job) -> int:
    return int(job.payload) ** 2


def fail_on_odd(x: int) -> int:
    if x % 2:
        exc = ValueError(f"odd {x}")
        exc.add_note(f"raised in process {os.getpid()}")
        raise exc
    return x


def fail_on_odd_payload(job: Job) -> int:
    return fail_on_odd(job.payload)


def pid_of(_: object) -> int:
    return os.getpid()


def nap(x: int) -> int:
    time.sleep(0.02)
    return x


def slow(x: int) -> int:
    time.sleep(0.5)
    return x


def die(x: int) -> int:
    if x == 3:
        os._exit(1)  # the worker process dies: the executor breaks
    return x


# -- executors that record what the pools hand them --


class Recording(Executor):
    """Records every future submitted, and the most futures outstanding at once."""

    def reset(self) -> None:
        self._rec_lock = threading.Lock()
        self.futures: list[Future[Any]] = []
        self.outstanding = 0
        self.max_outstanding = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._rec_lock:
            self.outstanding += 1
            self.max_outstanding = max(self.max_outstanding, self.outstanding)
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._finished(None)
            raise
        with self._rec_lock:
            self.futures.append(future)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: object) -> None:
        with self._rec_lock:
            self.outstanding -= 1

    def submitted(self) -> int:
        with self._rec_lock:
            return len(self.futures)


class RecordingThreads(Recording, ThreadPoolExecutor):
    def __init__(self, n: int) -> None:
        self.reset()
        super().__init__(n)


class RecordingProcesses(Recording, ProcessPoolExecutor):
    def __init__(self, n: int) -> None:
        self.reset()
        super().__init__(n, mp_context=multiprocessing.get_context("forkserver"))


@pytest.fixture(scope="module")
def processes() -> Iterator[RecordingProcesses]:
    """One ProcessPoolExecutor(2) for the module: its processes start once."""
    ex = RecordingProcesses(2)
    try:
        assert list(ex.map(square, range(4))) == [0, 1, 4, 9]  # warm up both processes
        yield ex
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(params=["threads", "processes"])
def executor(request: pytest.FixtureRequest) -> Iterator[Recording]:
    if request.param == "threads":
        ex: Recording = RecordingThreads(4)
        try:
            yield ex
        finally:
            ex.shutdown(wait=True)
    else:
        ex = request.getfixturevalue("processes")
        ex.reset()
        yield ex


def capacity(ex: Executor) -> int:
    return 2 if isinstance(ex, ProcessPoolExecutor) else 4


@pytest.fixture
def no_goroutine_left() -> Iterator[None]:
    """Fail if a pool thread (a goroutine) started during the test outlives it.

    The executors' own threads are theirs, not the pool's, and are left out.
    """
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


def make(
    kind: str, process: Callable[[Any], Any], ex: Executor, workers: int = 2, **kw: Any
) -> Any:
    if kind == "WorkerPool":
        return WorkerPool(workers, kw.get("buffer", 8), process, executor=ex)
    if kind == "Pool":
        return Pool(workers, process, executor=ex, **kw)
    if kind == "DynamicPool":
        return DynamicPool(workers, process, executor=ex, **kw)
    return RateLimitedPool(workers, process, rate=math.inf, executor=ex, **kw)


def grow(pool: Any) -> None:
    if isinstance(pool, DynamicPool):
        while pool.add_worker():
            pass


# -- results --


@pytest.mark.parametrize("kind", KINDS)
def test_results_are_exact(kind: str, executor: Recording, no_goroutine_left: None) -> None:
    """Every pool delivers exactly process(job) for every job, each run by the executor."""
    n = 60
    if kind == "WorkerPool":
        pool = make(kind, square_payload, executor, workers=3)
        got = {r.job_id: r.output for r in pool.map(Job(i, i) for i in range(n))}
        assert all(isinstance(r, int) for r in got.values())
    else:
        pool = make(kind, square, executor, workers=3)
        pool.start()
        grow(pool)
        got = dict(enumerate(sorted(pool.map(range(n)))))
    assert got == {i: i * i for i in range(n)}
    assert executor.submitted() == n
    assert pool.cancelled == 0


def test_jobs_run_in_other_processes(processes: RecordingProcesses) -> None:
    """With a ProcessPoolExecutor, process() runs in the executor's processes, not here."""
    processes.reset()
    pids = set(Pool(2, pid_of, executor=processes).map(range(20)))
    assert pids
    assert os.getpid() not in pids


def test_ordered_map_keeps_input_order(executor: Recording) -> None:
    """map(ordered=True) yields in input order with jobs finishing out of order elsewhere."""
    got = list(Pool(capacity(executor), nap, executor=executor).map(range(30), ordered=True))
    assert got == list(range(30))


def test_submit_and_results_from_a_producer(executor: Recording, no_goroutine_left: None) -> None:
    """The article's pattern (producer goroutine, consumer here) is unchanged."""
    pool: Pool[int, int] = Pool(3, square, buffer=2, executor=executor).start()

    def produce() -> None:
        for i in range(40):
            pool.submit(i)
        pool.close()

    go(produce)
    assert sorted(pool.results()) == [i * i for i in range(40)]


# -- failures --


@pytest.mark.parametrize("kind", GENERIC)
def test_exceptions_are_recorded_with_their_notes(
    kind: str, executor: Recording, no_goroutine_left: None
) -> None:
    """An exception raised in the executor is recorded with the child's note and the pool's."""
    pool = make(kind, fail_on_odd, executor)
    pool.start()
    grow(pool)
    got: list[int] = []
    with pytest.raises(ExceptionGroup) as info:
        for r in pool.map(range(10)):
            got.append(r)
    assert sorted(got) == [0, 2, 4, 6, 8]
    errors = info.value.exceptions
    assert sorted(str(e) for e in errors) == sorted(f"odd {i}" for i in (1, 3, 5, 7, 9))
    for e in errors:
        assert isinstance(e, ValueError)
        notes = e.__notes__
        assert any(n.startswith("raised in process ") for n in notes), notes
        assert any(f"{kind} job #" in n and n.endswith(str(e).split()[1]) for n in notes), notes
    if isinstance(executor, ProcessPoolExecutor):
        pids = {int(n.split()[-1]) for e in errors for n in e.__notes__ if "process" in n}
        assert os.getpid() not in pids
    pool.close()  # idempotent: the failures were raised once


def test_failures_and_results_are_all_accounted(executor: Recording) -> None:
    """Results delivered + failures recorded == jobs submitted, with submit() and results()."""
    pool: Pool[int, int] = Pool(2, fail_on_odd, executor=executor).start()
    got: list[int] = []
    consumer = go(lambda: got.extend(pool.results()))
    for i in range(20):
        pool.submit(i)
    with pytest.raises(ExceptionGroup) as info:
        pool.close()
    consumer.join(DEADLINE)
    assert sorted(got) == list(range(0, 20, 2))
    assert len(info.value.exceptions) == 10


def test_worker_pool_puts_the_exception_in_the_result(executor: Recording) -> None:
    """WorkerPool: an exception raised by the executor lands in Result.error, notes included."""
    results = sorted(
        WorkerPool(2, 4, fail_on_odd_payload, executor=executor).map(Job(i, i) for i in range(6)),
        key=lambda r: r.job_id,
    )
    assert [r.job_id for r in results] == list(range(6))
    for r in results:
        assert isinstance(r, Result)
        if r.job_id % 2:
            assert isinstance(r.error, ValueError)
            assert str(r.error) == f"odd {r.job_id}"
            assert any(n.startswith("raised in process ") for n in r.error.__notes__)
        else:
            assert (r.output, r.error) == (r.job_id, None)


def test_a_shut_down_executor_fails_each_job_loudly(no_goroutine_left: None) -> None:
    """Jobs the executor refuses are recorded failures, never lost or hung."""
    ex = ThreadPoolExecutor(2)
    ex.shutdown()
    with pytest.raises(ExceptionGroup) as info:
        list(Pool(2, square, executor=ex).map(range(5)))
    assert len(info.value.exceptions) == 5
    assert all(isinstance(e, RuntimeError) for e in info.value.exceptions)


def test_a_broken_process_pool_fails_the_jobs_instead_of_hanging(no_goroutine_left: None) -> None:
    """A worker process that dies breaks the executor: every job left fails, loudly, no hang."""
    ex = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver"))
    try:
        got: list[int] = []
        with pytest.raises(ExceptionGroup) as info:
            for r in Pool(2, die, executor=ex).map(range(20)):
                got.append(r)
    finally:
        ex.shutdown(wait=True)
    errors = info.value.exceptions
    assert len(got) + len(errors) == 20
    assert 3 not in got
    assert all(isinstance(e, BrokenProcessPool) for e in errors)


# -- flow control --


def test_workers_bound_the_jobs_in_flight(executor: Recording) -> None:
    """The executor never holds more of the pool's jobs than the pool has workers."""
    workers = capacity(executor) - 1
    assert sorted(Pool(workers, nap, executor=executor).map(range(40))) == list(range(40))
    assert 1 <= executor.max_outstanding <= workers


class Gate:
    """Jobs that block until the test opens the gate, counting how many started."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self._lock = threading.Lock()
        self._started = 0

    def __call__(self, x: int) -> int:
        with self._lock:
            self._started += 1
        assert self.opened.wait(DEADLINE)
        return x

    @property
    def started(self) -> int:
        with self._lock:
            return self._started


def test_backpressure_is_unchanged(no_goroutine_left: None) -> None:
    """submit() blocks when the workers are busy and the buffer full, though the executor is not."""
    gate = Gate()
    with ThreadPoolExecutor(8) as ex:
        pool: Pool[int, int] = Pool(2, gate, buffer=2, executor=ex).start()
        progress: Chan[int] = Chan(16)

        def produce() -> None:
            for i in range(10):
                pool.submit(i)
                progress.send(i)
            progress.close()
            pool.close()

        go(produce)
        until(lambda: gate.started == 2, "both workers running a job")
        assert [progress.recv(timeout=DEADLINE) for _ in range(4)] == [0, 1, 2, 3]
        # 2 running, 2 buffered: the fifth submit waits, and no third job starts.
        with pytest.raises(TimeoutError):
            progress.recv(timeout=0.2)
        assert gate.started == 2
        gate.opened.set()
        assert sorted(pool.results()) == list(range(10))
        assert sorted(progress) == list(range(4, 10))


# -- cancellation --


@pytest.mark.parametrize("kind", KINDS)
def test_cancellation_cancels_the_pending_futures(kind: str, no_goroutine_left: None) -> None:
    """Cancelling the context cancels the futures not yet running; the workers stop at once.

    One executor thread runs the first job (held by the gate); the other
    workers' futures wait in the executor's queue and get cancelled. The pool
    closes while the running job is still held: a worker waiting on a future
    wakes at the context's end.
    """
    gate = Gate()
    ex = RecordingThreads(1)
    futures: list[Future[Any]] = []
    try:
        workers = 4
        handler: Callable[[Any], Any] = (
            (lambda job: gate(job.payload)) if kind == "WorkerPool" else gate
        )
        pool = make(kind, handler, ex, workers=workers, buffer=10)
        ctx, cancel = with_cancel(background())
        pool.start(ctx)
        grow(pool)
        for i in range(10):
            pool.submit(Job(i, i) if kind == "WorkerPool" else i)
        until(lambda: gate.started == 1 and ex.submitted() == workers, "4 futures in flight")
        cancel()
        assert list(pool.results()) == []
        with pytest.raises(Canceled):
            pool.submit(Job(99, 99) if kind == "WorkerPool" else 99)
        pool.close()
        assert not gate.opened.is_set()
        futures = list(ex.futures)
        assert [f.cancelled() for f in futures].count(True) == workers - 1
        assert pool.cancelled == 10
    finally:
        gate.opened.set()
        ex.shutdown(wait=True)
    running = [f for f in futures if not f.cancelled()]
    assert len(running) == 1 and running[0].result() in range(10)  # finished, undelivered


def test_cancellation_with_processes(
    processes: RecordingProcesses, no_goroutine_left: None
) -> None:
    """Across processes too: pending futures are cancelled and every job is accounted for."""
    processes.reset()
    workers = 6
    pool: Pool[int, int] = Pool(workers, slow, buffer=20, executor=processes)
    ctx, cancel = with_cancel(background())
    pool.start(ctx)
    for i in range(12):
        pool.submit(i)
    until(lambda: processes.submitted() == workers, "6 futures in flight")
    cancel()
    delivered = list(pool.results())
    pool.close()
    futures = list(processes.futures)
    cancelled = [f for f in futures if f.cancelled()]
    # ProcessPoolExecutor(2) starts at most 3 calls ahead; the rest are pending.
    assert len(cancelled) >= 1
    assert len(delivered) + pool.cancelled == 12
    assert pool.cancelled >= 12 - workers + len(cancelled)
    _, not_done = wait(futures, timeout=DEADLINE)
    assert not not_done  # the ones already running finish in the executor


def test_cancel_from_a_map_break(executor: Recording, no_goroutine_left: None) -> None:
    """Leaving map() early cancels what is not yet run, with an executor as without."""
    pool: Pool[int, int] = Pool(2, nap, buffer=4, executor=executor)
    it = pool.map(range(100))
    assert next(it) in range(100)
    it.close()
    assert 0 < pool.cancelled < 100
    assert executor.submitted() < 100


# -- what the pool checks and what it leaves alone --


def _local_closure() -> Callable[[int], int]:
    k = 3

    def times_k(x: int) -> int:
        return x * k

    return times_k


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fn", [lambda x: x, _local_closure()], ids=["lambda", "closure"])
def test_unpicklable_process_raises_at_start(
    kind: str, fn: Callable[[Any], Any], processes: RecordingProcesses, no_goroutine_left: None
) -> None:
    """A process a ProcessPoolExecutor cannot pickle fails start() with TypeError, not a hang."""
    pool = make(kind, fn, processes)
    with pytest.raises(TypeError, match=r"cannot run in a ProcessPoolExecutor.*pickl") as info:
        pool.start()
    assert fn.__qualname__ in str(info.value)
    assert info.value.__cause__ is not None
    with pytest.raises(TypeError, match="pickl"):
        next(iter(pool.map([])))
    with pytest.raises(TypeError, match="pickl"), pool:
        pass
    if isinstance(pool, DynamicPool):
        with pytest.raises(TypeError, match="pickl"):
            pool.add_worker()
    pool.close()  # never started, nothing queued: nothing to do


def test_thread_executor_takes_any_callable(no_goroutine_left: None) -> None:
    """Only a ProcessPoolExecutor is checked for pickling: threads run a lambda."""
    with ThreadPoolExecutor(2) as ex:
        assert sorted(Pool(2, lambda x: -x, executor=ex).map(range(5))) == [-4, -3, -2, -1, 0]


@pytest.mark.parametrize("kind", KINDS)
def test_executor_must_be_an_executor(kind: str) -> None:
    with pytest.raises(TypeError, match=r"executor must be a concurrent\.futures\.Executor"):
        make(kind, square, object())  # type: ignore[arg-type]


def test_the_pool_never_shuts_the_executor_down(executor: Recording) -> None:
    """After close() and after a cancellation the executor still takes work."""
    assert sorted(Pool(2, square, executor=executor).map(range(5))) == [0, 1, 4, 9, 16]
    ctx, cancel = with_cancel(background())
    pool: Pool[int, int] = Pool(2, square, executor=executor).start(ctx)
    cancel()
    pool.close()
    assert executor.submit(square, 7).result(timeout=DEADLINE) == 49


# -- the example --


@pytest.mark.timeout(120)
def test_cpu_bound_example_runs() -> None:
    """examples/cpu_bound.py --fast: threads, processes and (if installed) Dask agree."""
    script = Path(__file__).resolve().parents[1] / "examples" / "cpu_bound.py"
    out = subprocess.run(
        [sys.executable, str(script), "--fast"],
        capture_output=True,
        text=True,
        timeout=110,
        check=True,
    ).stdout
    lines = out.splitlines()
    assert lines[0].startswith("40 jobs: count_primes(n)"), out
    assert re.match(r"threads +\d+\.\d\d s$", lines[1]), out
    assert re.match(r"ProcessPoolExecutor\(\d\) +\d+\.\d\d s$", lines[2]), out
    has_dask = importlib.util.find_spec("distributed") is not None
    assert out.count("same results: True") == (2 if has_dask else 1), out
    assert "same results: False" not in out
    assert ("Dask: skipped" in out) != has_dask, out
