"""Tests for pool statistics, stall detection and heartbeats (``gopool.pools.stats``).

``pool.stats()`` on every pool: counts exact under load and at the end,
consistent at quiescent points, latency percentiles and throughput sane,
each worker's current job visible; ``stall_after=`` reports each stall
once (through the ``gopool`` logger or ``on_stall``), and ``heartbeat()``
holds it off. Go's pools have no statistics, so nothing here is a port.
Jobs that must stay running wait on an ``Event`` the test sets; the tests
wait for a reported stall on an ``Event`` too, and assert orderings and
counts, timings only with wide slack.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import DEADLINE, Gate, spawn, until
from test_pools import KINDS, Kind

from gopool.chan import ClosedChannelError, go
from gopool.context import background, with_cancel
from gopool.pools import (
    DynamicPool,
    Job,
    Pool,
    PoolStats,
    RateLimitedPool,
    WorkerPool,
    WorkerStats,
    heartbeat,
)
from gopool.pools.stats import LATENCY_WINDOW, percentiles, throughput
from gopool.rate import every

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> Kind:
    return Kind(request.param)


def build(name: str, process: Callable[[Any], Any], workers: int = 2, **kw: Any) -> Any:
    """A pool of kind ``name`` running ``process`` on plain values, with extra keywords."""
    buffer = kw.pop("buffer", 8)
    if name == "WorkerPool":
        return WorkerPool(workers, buffer, lambda job: process(job.payload), **kw)
    if name == "Pool":
        return Pool(workers, process, buffer=buffer, **kw)
    if name == "DynamicPool":
        return DynamicPool(workers, process, buffer=buffer, **kw)
    return RateLimitedPool(workers, process, rate=math.inf, buffer=buffer, **kw)


class Reports:
    """An ``on_stall`` callback that keeps what it gets and signals each arrival."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._got: list[WorkerStats] = []
        self._cond = threading.Condition(self._lock)

    def __call__(self, w: WorkerStats) -> None:
        with self._cond:
            self._got.append(w)
            self._cond.notify_all()

    @property
    def got(self) -> list[WorkerStats]:
        with self._lock:
            return list(self._got)

    def wait_for(self, n: int) -> list[WorkerStats]:
        """Block until ``n`` reports have arrived (fail after DEADLINE seconds)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._got) >= n, DEADLINE):
                raise AssertionError(f"{len(self._got)} stall reports, waited for {n}")
            return list(self._got)


# -- the snapshot itself --


def test_a_new_pool_reports_zeros_and_is_frozen() -> None:
    pool = Pool(3, abs)
    s = pool.stats()
    assert isinstance(s, PoolStats)
    assert (s.pool, s.state) == ("Pool", "new")
    assert (s.submitted, s.queued, s.in_flight, s.completed, s.failed, s.cancelled) == (
        0,
        0,
        0,
        0,
        0,
        0,
    )
    assert s.per_worker == () and s.workers == 0
    assert (s.latency_p50, s.latency_p95, s.latency_p99) == (None, None, None)
    assert s.throughput == 0.0 and s.elapsed == 0.0 and s.stall_after is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.completed = 5  # type: ignore[misc]
    pool.close()
    assert pool.stats().state == "closed"


def test_submitted_before_start_are_queued() -> None:
    pool = Pool(2, abs, buffer=8)
    for i in range(5):
        pool.submit(i)
    s = pool.stats()
    assert (s.submitted, s.queued, s.in_flight, s.finished) == (5, 5, 0, 0)
    pool.close()
    s = pool.stats()
    assert (s.submitted, s.queued, s.completed, s.state) == (5, 0, 5, "closed")


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("no_thread_left")
def test_counts_exact_under_load(kind: Kind) -> None:
    """Thousands of jobs, eight workers, failures, results read by another thread."""
    n, every_nth = 3000, 7

    def process(x: int) -> int:
        if x % every_nth == 0:
            raise ValueError(x)
        return x

    pool = build(kind.name, process, workers=8, buffer=16)
    kind.start(pool)
    got: list[Any] = []
    reader = spawn(lambda: got.extend(pool.results()))
    samples: list[PoolStats] = []
    for i in range(n):
        pool.submit(kind.job(i))
        if i % 500 == 0:
            samples.append(pool.stats())
    if kind.generic:
        with pytest.raises(ExceptionGroup) as info:
            pool.close()
        assert len(info.value.exceptions) == len(range(0, n, every_nth))
    else:
        pool.close()
    reader.join()
    s = pool.stats()
    failures = len(range(0, n, every_nth))
    assert s.state == "closed"
    assert s.submitted == n
    assert s.failed == failures
    assert s.completed == n - failures
    assert s.cancelled == 0
    assert s.completed + s.failed + s.cancelled == s.submitted
    assert s.queued == 0 and s.in_flight == 0 and s.per_worker == ()
    # WorkerPool delivers its failures as Results; the others deliver only successes.
    assert len(got) == (n if kind.name == "WorkerPool" else n - failures)
    for earlier, later in zip(samples, [*samples[1:], s], strict=True):
        assert earlier.finished <= later.finished
        assert earlier.submitted <= later.submitted
    for sample in samples:
        assert sample.finished + sample.in_flight + sample.queued <= sample.submitted


def test_counts_exact_after_cancellation(kind: Kind) -> None:
    """A cancellation mid-run: completed + failed + cancelled == submitted all the same."""
    gate = Gate()
    pool = build(kind.name, gate, workers=2, buffer=16)
    ctx, cancel = with_cancel(background())
    kind.start(pool, ctx)
    for i in range(10):
        pool.submit(kind.job(i))
    until(lambda: pool.stats().in_flight == pool.stats().workers, "every worker on a job")
    cancel()
    gate.open()
    for _ in pool.results():
        pass
    pool.close()
    s = pool.stats()
    assert s.state == "cancelled"
    assert s.cancelled == pool.cancelled > 0
    assert s.completed + s.failed + s.cancelled == s.submitted == 10


@pytest.mark.usefixtures("no_thread_left")
def test_a_submit_waiting_for_room_is_not_counted_until_accepted(kind: Kind) -> None:
    """``submitted`` is exact at every moment: a waiting submit is not a job yet.

    Before, it was counted from the moment it passed the closed check, and
    taken back if the pool then refused it: ``submitted`` could read one
    higher than a moment later.
    """
    gate = Gate()
    pool = build(kind.name, gate, workers=1, buffer=2)
    kind.start(pool)
    for i in range(3):
        pool.submit(kind.job(i))  # one running, two queued: the buffer is full
    until(lambda: pool.stats().in_flight == 1, "the first job running")
    waiting = spawn(pool.submit, kind.job(3))
    until(lambda: pool.stats().blocked_submits == 1, "the fourth submit waiting")
    s = pool.stats()
    assert (s.submitted, s.queued, s.in_flight, s.blocked_submits) == (3, 2, 1, 1)
    assert s.submitted == s.queued + s.in_flight + s.finished
    closer = spawn(pool.close)  # refuses the waiting submit
    with pytest.raises(ClosedChannelError):
        waiting.join()
    assert pool.stats().submitted == 3  # never 4, never back
    gate.open()
    assert len([pool.results().recv(timeout=DEADLINE) for _ in range(3)]) == 3
    closer.join()
    s = pool.stats()
    assert (s.submitted, s.finished, s.blocked_submits) == (3, 3, 0)


@pytest.mark.usefixtures("no_thread_left")
def test_leaving_map_stops_its_feeder_and_the_counts() -> None:
    """When map()'s iterator is closed, its feeder has stopped, and no count moves after.

    The source is made slow to give up: it is inside ``next()`` when the
    map is left, and returns only well after the pool is cancelled. Before,
    closing the iterator returned at once, the feeder still running.
    """
    release = threading.Event()
    pulled = 0

    def source() -> Any:
        nonlocal pulled
        for i in range(10**6):
            if i == 4:
                release.wait(DEADLINE)  # the feeder sits here when the map is left
            pulled += 1
            yield i

    gate = Gate()
    pool = Pool(1, lambda x: x if x == 0 else gate(x), buffer=8)
    jobs = source()
    it = pool.map(jobs)
    assert next(it) == 0  # the others wait for the gate

    def release_later() -> None:
        until(lambda: pool.stats().state == "cancelled", "the map left")
        gate.open()  # the running job may end: the map leaves no job behind
        time.sleep(0.3)  # the feeder still inside next(), long after that
        release.set()

    until(lambda: pulled == 4 and pool.stats().queued == 2, "the feeder inside next()")
    helper = spawn(release_later)
    it.close()
    assert inspect.getgeneratorstate(jobs) != inspect.GEN_RUNNING  # the feeder stopped
    before = pool.stats()
    time.sleep(0.05)
    after = pool.stats()
    assert pulled == 5  # the one job pulled after the release was refused
    assert (before.submitted, before.finished) == (after.submitted, after.finished) == (4, 4)
    assert (before.completed, before.cancelled) == (2, 2)
    assert before.state == after.state == "cancelled"
    helper.join()


@pytest.mark.usefixtures("no_thread_left")
def test_quiescent_pool_is_consistent_and_shows_each_workers_job() -> None:
    """Three workers blocked on an Event: three jobs in flight, the rest queued, each visible."""
    gate = Gate()
    pool = Pool(3, gate, buffer=16).start()
    for i in range(10):
        pool.submit(f"job-{i}")
    until(lambda: gate.started == 3, "three jobs running")
    until(lambda: pool.stats().in_flight == 3, "three jobs in flight")
    s = pool.stats()
    assert (s.submitted, s.queued, s.in_flight, s.finished, s.workers) == (10, 7, 3, 0, 3)
    assert s.busy == 3 and s.stalled == 0
    running = sorted(w.job for w in s.per_worker if w.job is not None)
    assert len(running) == 3
    assert set(running) <= {repr(f"job-{i}") for i in range(10)}
    assert [w.state for w in s.per_worker] == ["running"] * 3
    assert sorted(w.id for w in s.per_worker) == [1, 2, 3]
    assert all(w.name for w in s.per_worker)
    time.sleep(0.05)
    later = pool.stats()
    for before, after in zip(s.per_worker, later.per_worker, strict=True):
        assert after.busy_for >= before.busy_for + 0.04  # the same job, still running
        assert after.quiet_for == pytest.approx(after.busy_for)
    gate.open()
    for _ in range(10):
        pool.results().recv()
    pool.close()
    s = pool.stats()
    assert (s.completed, s.in_flight, s.queued) == (10, 0, 0)


def test_job_repr_is_truncated_and_a_broken_repr_is_survived() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    gate = Gate()
    pool = Pool(2, gate).start()
    pool.submit("x" * 500)
    pool.submit(Broken())
    until(lambda: pool.stats().in_flight == 2, "both jobs running")
    jobs = sorted(w.job or "" for w in pool.stats().per_worker)
    assert jobs[0].startswith("'xxx") and len(jobs[0]) < 80
    assert "Broken" in jobs[1]  # reprlib's stand-in for a repr that raises
    gate.open()
    pool.results().recv()
    pool.results().recv()
    pool.close()


def test_worker_pool_counts_error_results_as_failed() -> None:
    def handler(job: Job) -> int:
        if job.id % 2:
            raise KeyError(job.id)
        return int(job.id)

    with WorkerPool(2, 16, handler) as pool:
        results = list(pool.map(Job(i, None) for i in range(10)))
    assert sum(r.error is not None for r in results) == 5
    s = pool.stats()
    assert (s.completed, s.failed, s.submitted) == (5, 5, 10)


def test_latency_percentiles_follow_the_job_durations() -> None:
    """90 jobs of 10 ms and 10 of 150 ms: p50 short, p95 and p99 long (wide slack)."""
    short, long = 0.01, 0.15

    def job(d: float) -> None:
        time.sleep(d)

    durations = [short] * 90 + [long] * 10
    pool = Pool(10, job)
    list(pool.map(durations))
    s = pool.stats()
    assert s.latency_p50 is not None and s.latency_p95 is not None and s.latency_p99 is not None
    assert short <= s.latency_p50 < long / 2
    assert long <= s.latency_p95 <= s.latency_p99
    assert s.latency_p99 < 5.0


def test_throughput_of_a_closed_pool_is_its_rate_and_stays() -> None:
    """A run shorter than the rate window: every job over the pool's lifetime."""
    pool = Pool(4, lambda x: time.sleep(0.002))
    list(pool.map(range(200)))
    s = pool.stats()
    assert s.elapsed > 0
    assert s.throughput == pytest.approx(200 / s.elapsed, rel=0.05)
    time.sleep(0.05)
    again = pool.stats()
    assert again.throughput == s.throughput and again.elapsed == s.elapsed


def test_percentile_and_throughput_helpers() -> None:
    assert percentiles([], (50, 99)) == (None, None)
    assert percentiles([3.0, 1.0, 2.0], (0, 50, 100)) == (1.0, 2.0, 3.0)
    data = [float(i) for i in range(1, 101)]
    assert percentiles(data, (50, 95, 99)) == (50.0, 95.0, 99.0)
    # Within the window: n jobs over the window (or over the life of the pool).
    assert throughput([1.0, 2.0, 3.0], now=3.0, since=0.0, full=False) == 1.0
    assert throughput([9.0, 9.5, 10.0], now=10.0, since=0.0, full=False) == pytest.approx(3 / 5)
    assert throughput([], now=10.0, since=0.0, full=False) == 0.0
    # A full window that covers less than the span: the rate over what it covers.
    assert throughput([9.0, 9.5, 10.0], now=10.0, since=0.0, full=True) == pytest.approx(3.0)
    assert LATENCY_WINDOW == 1024


@pytest.mark.usefixtures("no_thread_left")
def test_stats_from_many_threads_while_the_pool_runs() -> None:
    """Readers hammering stats() see counts that only grow, and never break the pool."""
    pool = Pool(4, lambda x: x, buffer=64)
    stop = threading.Event()
    seen: list[list[int]] = [[] for _ in range(3)]

    def reader(out: list[int]) -> None:
        while not stop.is_set():
            s = pool.stats()
            assert s.finished <= s.submitted
            out.append(s.finished)

    readers = [spawn(reader, out) for out in seen]
    assert sum(1 for _ in pool.map(range(20_000))) == 20_000
    stop.set()
    for r in readers:
        r.join()
    for out in seen:
        assert out == sorted(out)
    assert pool.stats().completed == 20_000


@pytest.mark.usefixtures("no_thread_left")
def test_dynamic_pool_lists_its_workers_as_they_come_and_go() -> None:
    gate = Gate()
    pool = DynamicPool(4, gate, buffer=16)
    pool.start()
    assert pool.add_worker() and pool.add_worker()
    for i in range(3):
        pool.submit(i)
    until(lambda: pool.stats().in_flight == 3, "three jobs running")
    assert sorted(w.id for w in pool.stats().per_worker) == [1, 2, 3]
    assert pool.remove_worker()
    assert pool.stats().workers == 2
    gate.open()
    for _ in range(3):
        pool.results().recv()
    until(lambda: len(pool.stats().per_worker) == 2, "the leaver gone")
    assert pool.add_worker()
    until(lambda: len(pool.stats().per_worker) == 3, "the new worker listed")
    assert 4 in {w.id for w in pool.stats().per_worker}
    pool.stop()


def test_a_worker_waiting_for_its_token_is_waiting_not_stalled() -> None:
    """RateLimitedPool: the wait for the limiter is neither the job's time nor a stall."""
    reports = Reports()
    pool = RateLimitedPool(
        1, abs, rate=every(60), burst=1, buffer=8, stall_after=0.05, on_stall=reports
    )
    ctx, cancel = with_cancel(background())
    pool.start(ctx)
    pool.submit(-1)
    assert pool.results().recv() == 1  # the burst's token
    pool.submit(-2)  # waits a minute for the next
    until(lambda: pool.stats().per_worker[0].state == "waiting", "the worker waiting")
    time.sleep(0.2)  # four times stall_after
    w = pool.stats().per_worker[0]
    assert (w.state, w.job, w.stalled, w.quiet_for) == ("waiting", "-2", False, 0.0)
    assert w.busy_for >= 0.2
    assert pool.stats().in_flight == 1
    cancel()
    pool.close()
    assert reports.got == []
    assert pool.stats().cancelled == 1


def test_a_worker_waiting_for_a_reader_is_delivering_not_stalled() -> None:
    """A result that no one reads yet: the worker waits in "delivering", not stalled."""
    reports = Reports()
    pool = Pool(1, abs, buffer=0, stall_after=0.05, on_stall=reports).start()
    go(pool.submit, -3)
    until(lambda: pool.stats().per_worker[0].state == "delivering", "the worker delivering")
    time.sleep(0.2)
    s = pool.stats()
    assert s.per_worker[0].state == "delivering" and s.in_flight == 1 and s.stalled == 0
    assert pool.results().recv() == 3
    pool.close()
    assert reports.got == []


def test_jobs_run_by_an_executor_are_visible() -> None:
    gate = Gate()
    with ThreadPoolExecutor(2) as ex:
        pool = Pool(2, gate, executor=ex).start()
        pool.submit("a")
        pool.submit("b")
        until(lambda: pool.stats().in_flight == 2, "both jobs running")
        assert sorted(w.job or "" for w in pool.stats().per_worker) == ["'a'", "'b'"]
        gate.open()
        pool.results().recv()
        pool.results().recv()
        pool.close()
    assert pool.stats().completed == 2


# -- stalls and heartbeats --


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("1", TypeError),
        (True, TypeError),
        (0, ValueError),
        (-1.5, ValueError),
        (math.nan, ValueError),
    ],
)
def test_bad_stall_after_raises(kind: Kind, value: Any, error: type) -> None:
    with pytest.raises(error, match="stall_after"):
        build(kind.name, abs, stall_after=value)


def test_bad_on_stall_raises(kind: Kind) -> None:
    with pytest.raises(TypeError, match="on_stall"):
        build(kind.name, abs, stall_after=1, on_stall=42)


@pytest.mark.usefixtures("no_thread_left")
def test_a_stall_is_logged_once(kind: Kind, caplog: pytest.LogCaptureFixture) -> None:
    """A WARNING on the ``gopool`` logger names the pool, the worker, the job, how long."""
    gate = Gate()
    pool = build(kind.name, gate, workers=1, stall_after=0.05)
    arrived = threading.Event()

    class Signal(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            arrived.set()

    signal = Signal()
    logging.getLogger("gopool").addHandler(signal)
    try:
        with caplog.at_level(logging.WARNING, logger="gopool"):
            kind.start(pool)
            pool.submit(kind.job("slow-job"))
            assert arrived.wait(DEADLINE), "no stall logged"
            until(lambda: pool.stats().stalled == 1, "stats() to say stalled")
            w = pool.stats().per_worker[0]
            assert w.stalled and w.state == "stalled" and w.quiet_for >= 0.05
            time.sleep(0.25)  # five times stall_after: still one report
            gate.open()
            pool.results().recv()
            pool.close()
    finally:
        logging.getLogger("gopool").removeHandler(signal)
    records = [r for r in caplog.records if r.name == "gopool"]
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert records[0].levelno == logging.WARNING
    assert message.startswith(f"{kind.name}: worker 1 (")
    assert "'slow-job'" in message and "stalled" in message and "stall_after=0.05 s" in message
    assert pool._core.stalls.handle is None  # nothing left scheduled


def test_on_stall_gets_the_worker_and_replaces_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reports = Reports()
    gate = Gate()
    with caplog.at_level(logging.WARNING, logger="gopool"):
        pool = Pool(3, gate, stall_after=0.05, on_stall=reports).start()
        for i in range(3):
            pool.submit(i)
        got = reports.wait_for(3)
        time.sleep(0.2)
        gate.open()
        for _ in range(3):
            pool.results().recv()
        pool.close()
    assert len(reports.got) == 3  # one per stalled worker, each once
    assert sorted(w.id for w in got) == [1, 2, 3]
    assert sorted(w.job or "" for w in got) == ["0", "1", "2"]
    for w in got:
        assert w.stalled and w.state == "stalled" and w.busy_for >= 0.05
    assert [r for r in caplog.records if r.name == "gopool"] == []


def test_an_on_stall_that_raises_is_logged_and_the_others_still_come(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reports = Reports()
    calls = 0
    lock = threading.Lock()

    def on_stall(w: WorkerStats) -> None:
        nonlocal calls
        with lock:
            calls += 1
            first = calls == 1
        if first:
            raise RuntimeError("broken callback")
        reports(w)

    # The two stalls may be reported by two goroutines: the one whose
    # callback raised can still be logging after the other has reported.
    logged = threading.Event()

    class SignalOnError(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.set()

    signal = SignalOnError(logging.ERROR)
    gate = Gate()
    logging.getLogger("gopool").addHandler(signal)
    try:
        with caplog.at_level(logging.ERROR, logger="gopool"):
            pool = Pool(2, gate, stall_after=0.05, on_stall=on_stall).start()
            pool.submit(1)
            pool.submit(2)
            reports.wait_for(1)
            gate.open()
            pool.results().recv()
            pool.results().recv()
            pool.close()
            assert logged.wait(10), "the failing on_stall was never logged"
    finally:
        logging.getLogger("gopool").removeHandler(signal)
    errors = [r for r in caplog.records if r.name == "gopool" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and "on_stall" in errors[0].getMessage()
    assert errors[0].exc_info is not None and "broken callback" in str(errors[0].exc_info[1])


def test_heartbeat_holds_off_a_stall_and_silence_does_not() -> None:
    """Beating every 50 ms for 0.5 s with stall_after=0.2: never reported; silent: reported."""
    beating, silent = Reports(), Reports()

    def beats(_: Any) -> bool:
        ok = True
        for _ in range(10):
            time.sleep(0.05)
            ok = heartbeat() and ok
        return ok

    def quiet(_: Any) -> None:
        time.sleep(0.5)

    a = Pool(1, beats, stall_after=0.2, on_stall=beating).start()
    b = Pool(1, quiet, stall_after=0.2, on_stall=silent).start()
    a.submit(0)
    b.submit(0)
    assert a.results().recv() is True  # every heartbeat counted
    b.results().recv()
    a.close()
    b.close()
    assert len(silent.wait_for(1)) == 1
    assert beating.got == []


def test_a_heartbeat_ends_a_stall_and_the_next_silence_is_a_new_one() -> None:
    """Once per stall: stalled, beat, stalled again: two reports."""
    reports = Reports()
    go_on = [threading.Event(), threading.Event()]

    def job(_: Any) -> str:
        assert go_on[0].wait(DEADLINE)
        assert heartbeat()
        assert go_on[1].wait(DEADLINE)
        return "done"

    pool = Pool(1, job, stall_after=0.05, on_stall=reports).start()
    pool.submit("x")
    reports.wait_for(1)
    go_on[0].set()
    until(lambda: not pool.stats().per_worker[0].stalled or len(reports.got) > 1, "the beat")
    got = reports.wait_for(2)
    assert got[1].quiet_for < got[1].busy_for  # measured from the heartbeat
    go_on[1].set()
    assert pool.results().recv() == "done"
    pool.close()
    assert len(reports.got) == 2


def test_heartbeat_outside_a_job_does_nothing() -> None:
    assert heartbeat() is False
    t = spawn(heartbeat)
    assert t.join() is False


def test_heartbeat_in_a_job_run_by_an_executor_does_nothing() -> None:
    """The job runs in the executor's thread, not the worker's: its heartbeat is not seen."""
    with ThreadPoolExecutor(1) as ex:
        pool = Pool(1, lambda _: heartbeat(), executor=ex)
        assert list(pool.map([0])) == [False]
    assert list(Pool(1, lambda _: heartbeat()).map([0])) == [True]


@pytest.mark.usefixtures("no_thread_left")
def test_stall_after_without_stalls_schedules_nothing_once_idle() -> None:
    """Short jobs under stall_after: nothing reported, and no check left once the pool ends."""
    reports = Reports()
    pool = Pool(4, abs, stall_after=5.0, on_stall=reports)
    assert sum(pool.map(range(-500, 0))) == sum(range(1, 501))
    assert reports.got == []
    assert pool._core.stalls.handle is None
    assert pool.stats().stall_after == 5.0

