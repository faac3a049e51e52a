"""Tests for ``gopool.pools``: every rule of the spec's "Pools" section, for every pool.

The rules shared by all pools run against each of them (the ``kind``
fixture adapts the few differences: ``WorkerPool`` takes ``Job`` objects and
delivers ``Result`` objects, ``DynamicPool`` starts with one worker and is
grown with ``add_worker``). A test that needs a thread to be blocked waits
for it through the pool's ``stats()`` or the channel's ``statistics()``; jobs that
must stay running wait on an ``Event`` the test sets. The article's Go
programs have no tests of their own; the tests that port their behaviour
name the program they follow.
"""

from __future__ import annotations

import gc
import math
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Gate, spawn, until

from gopool.chan import ClosedChannelError, go
from gopool.context import Canceled, DeadlineExceeded, background, with_cancel, with_timeout
from gopool.pools import DynamicPool, Job, Pool, RateLimitedPool, Result, WorkerPool
from gopool.pools._base import PoolBase, default_buffer
from gopool.pools._core import Core
from gopool.rate import Limiter

pytestmark = pytest.mark.timeout(30)

REPO = Path(__file__).resolve().parents[1]


# -- helpers --


class Kind:
    """Builds one kind of pool and hides how its jobs and results are shaped."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.generic = name != "WorkerPool"

    def __repr__(self) -> str:
        return self.name

    def make(self, process: Callable[[Any], Any], *, workers: int = 2, buffer: int = 8) -> Any:
        if self.name == "WorkerPool":
            return WorkerPool(workers, buffer, lambda job: process(job.payload))
        if self.name == "Pool":
            return Pool(workers, process, buffer=buffer)
        if self.name == "DynamicPool":
            return DynamicPool(workers, process, buffer=buffer)
        return RateLimitedPool(workers, process, rate=math.inf, buffer=buffer)

    def start(self, pool: Any, ctx: Any = None) -> Any:
        """Start ``pool`` with all its workers (a DynamicPool is grown to its maximum)."""
        pool.start(ctx)
        if isinstance(pool, DynamicPool):
            while pool.add_worker():
                pass
        return pool

    def job(self, x: Any) -> Any:
        return Job(x, x) if self.name == "WorkerPool" else x

    def value(self, r: Any) -> Any:
        if self.name == "WorkerPool":
            assert isinstance(r, Result)
            assert r.error is None, r.error
            return r.output
        return r


KINDS = ["WorkerPool", "Pool", "DynamicPool", "RateLimitedPool"]
GENERIC = ["Pool", "DynamicPool", "RateLimitedPool"]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> Kind:
    return Kind(request.param)


@pytest.fixture(params=GENERIC)
def generic(request: pytest.FixtureRequest) -> Kind:
    return Kind(request.param)


def _identity(x: Any) -> Any:
    return x


def _worker_threads(pool: PoolBase[Any, Any]) -> int:
    core = pool._core
    with core.lock:
        return core.threads


def wait_submits_blocked(pool: PoolBase[Any, Any], n: int = 1) -> None:
    """Wait until ``n`` submits (or a map()'s feeder) wait for room in ``pool``'s job buffer."""
    until(lambda: pool.stats().blocked_submits >= n, f"{n} submits blocked on {pool!r}")


# -- Job and Result --


def test_job_and_result_are_frozen_dataclasses() -> None:
    job = Job(3, "data-3")
    assert (job.id, job.payload) == (3, "data-3")
    res = Result(3)
    assert (res.job_id, res.output, res.error) == (3, None, None)
    with pytest.raises(AttributeError):
        job.id = 4  # type: ignore[misc]
    with pytest.raises(AttributeError):
        res.output = "x"  # type: ignore[misc]
    assert Result(1, "a") == Result(1, "a")


# -- constructors --


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: Pool(0, _identity), ValueError),
        (lambda: Pool(-1, _identity), ValueError),
        (lambda: Pool(2.0, _identity), TypeError),
        (lambda: Pool(True, _identity), TypeError),
        (lambda: Pool(2, "not callable"), TypeError),
        (lambda: Pool(2, _identity, buffer=-1), ValueError),
        (lambda: WorkerPool(0, 1, _identity), ValueError),
        (lambda: WorkerPool(1, -1, _identity), ValueError),
        (lambda: WorkerPool(1, 1, None), TypeError),
        (lambda: DynamicPool(0, _identity), ValueError),
        (lambda: DynamicPool(1, _identity, buffer=-5), ValueError),
        (lambda: DynamicPool(1, 42), TypeError),
        (lambda: RateLimitedPool(2, _identity, rate=0), ValueError),
        (lambda: RateLimitedPool(2, _identity, rate=-1.0), ValueError),
        (lambda: RateLimitedPool(2, _identity, rate=math.nan), ValueError),
        (lambda: RateLimitedPool(2, _identity, rate="fast"), TypeError),
        (lambda: RateLimitedPool(2, _identity, rate=10, burst=0), ValueError),
        (lambda: RateLimitedPool(0, _identity, rate=10), ValueError),
    ],
)
def test_bad_arguments_raise_clear_errors(build: Callable[[], Any], error: type) -> None:
    with pytest.raises(error):
        build()


def test_start_with_a_non_context_raises_type_error() -> None:
    p = Pool(1, _identity)
    with pytest.raises(TypeError):
        p.start("not a context")  # type: ignore[arg-type]
    p.start()  # the failed start left it startable
    p.close()


def test_worker_pool_submit_takes_only_jobs() -> None:
    with WorkerPool(1, 1, _identity) as p, pytest.raises(TypeError, match="Job"):
        p.submit(42)  # type: ignore[arg-type]


def test_buffer_sizes() -> None:
    """The job and results channels have one capacity; the default is at least workers * 2."""
    for workers in (1, 3, 600):
        p: Pool[int, int] = Pool(workers, _identity)
        assert p.results().cap == p._core.jobs.cap == default_buffer(workers) >= workers * 2
    assert Pool(3, _identity, buffer=5).results().cap == 5
    assert Pool(3, _identity, buffer=0).results().cap == 0
    assert WorkerPool(2, 7, _identity).results().cap == 7
    assert DynamicPool(4, _identity).results().cap == 100
    assert DynamicPool(4, _identity, buffer=3).results().cap == 3
    assert RateLimitedPool(2, _identity, rate=5).results().cap == default_buffer(2)
    assert RateLimitedPool(2, _identity, rate=5, buffer=9).results().cap == 9


# -- the article's programs --


def test_worker_pool_article_program() -> None:
    """The article's "Worker Pool with Struct" main(): producer goroutine, consumer here."""
    pool = WorkerPool(3, 100, lambda job: f"Processed: {job.payload}")
    pool.start(background())

    def produce() -> None:
        for i in range(10):
            pool.submit(Job(i, f"data-{i}"))
        pool.close()

    go(produce)
    got = {r.job_id: r.output for r in pool.results()}
    assert got == {i: f"Processed: data-{i}" for i in range(10)}


def test_generic_pool_article_program() -> None:
    """The article's "Generic Worker Pool" main(): string lengths."""
    pool: Pool[str, int] = Pool(3, len)
    pool.start(background())
    words = ["hello", "world", "foo", "bar", "baz"]

    def produce() -> None:
        for w in words:
            pool.submit(w)
        pool.close()

    go(produce)
    assert sorted(pool.results()) == [3, 3, 3, 5, 5]


def test_results_arrive_exactly_once(kind: Kind, no_thread_left: None) -> None:
    pool = kind.start(kind.make(lambda x: x * 2, workers=3, buffer=4))

    def produce() -> None:
        for i in range(300):
            pool.submit(kind.job(i))
        pool.close()

    producer = spawn(produce)
    got = sorted(kind.value(r) for r in pool.results())
    producer.join()
    assert got == [i * 2 for i in range(300)]


# -- failures --


def test_handler_exception_never_kills_a_worker(generic: Kind, no_thread_left: None) -> None:
    def process(x: int) -> int:
        if x % 2:
            raise ValueError(f"odd {x}")
        return x

    pool = generic.start(generic.make(process, workers=1, buffer=16))
    for i in range(10):
        pool.submit(i)
    with pytest.raises(ExceptionGroup) as info:
        pool.close()
    assert sorted(pool.results()) == [0, 2, 4, 6, 8]
    group = info.value
    assert type(group) is ExceptionGroup
    assert sorted(str(e) for e in group.exceptions) == [f"odd {i}" for i in (1, 3, 5, 7, 9)]
    for e in group.exceptions:
        assert isinstance(e, ValueError)
        n = str(e).split()[1]
        # The note names the job: its position in the submissions and its value.
        assert len(e.__notes__) == 1
        assert f"#{n}" in e.__notes__[0] and e.__notes__[0].endswith(f": {n}")
        assert type(pool).__name__ in e.__notes__[0]


def test_worker_pool_puts_exceptions_in_results(no_thread_left: None) -> None:
    boom = KeyError("boom")

    def handler(job: Job) -> str:
        if job.id == 3:
            raise boom
        return f"ok {job.id}"

    with WorkerPool(1, 10, handler) as pool:
        for i in range(6):
            pool.submit(Job(i, None))
    got = {r.job_id: r for r in pool.results()}
    assert sorted(got) == list(range(6))
    assert got[3].error is boom and got[3].output is None
    assert all(got[i] == Result(i, f"ok {i}") for i in (0, 1, 2, 4, 5))


def test_base_exception_failure_gives_base_exception_group(generic: Kind) -> None:
    class Fatal(BaseException):
        pass

    def process(x: int) -> int:
        if x == 1:
            raise Fatal("not an Exception")
        if x == 2:
            raise ValueError("an Exception")
        return x

    pool = generic.start(generic.make(process, workers=1))
    for i in range(4):
        pool.submit(i)
    with pytest.raises(BaseExceptionGroup) as info:
        pool.close()
    assert not isinstance(info.value, ExceptionGroup)
    assert sorted(type(e).__name__ for e in info.value.exceptions) == ["Fatal", "ValueError"]
    assert sorted(pool.results()) == [0, 3]  # the worker survived the BaseException


def test_close_raises_only_after_every_worker_stopped(generic: Kind) -> None:
    seen: list[int] = []

    def process(x: int) -> int:
        if x == 0:
            raise ValueError("first job fails")
        time.sleep(0.002)
        return x

    pool = generic.start(generic.make(process, workers=2, buffer=64))
    for i in range(40):
        pool.submit(i)
    with pytest.raises(ExceptionGroup):
        pool.close()
    assert _worker_threads(pool) == 0
    seen.extend(pool.results())  # already closed: iterating ends by itself
    assert sorted(seen) == list(range(1, 40))


def test_close_from_a_worker_raises_instead_of_waiting_for_itself() -> None:
    holder: list[Pool[int, int]] = []

    def process(x: int) -> int:
        holder[0].close()
        return x

    pool: Pool[int, int] = Pool(1, process)
    holder.append(pool)
    pool.start()
    pool.submit(1)
    with pytest.raises(ExceptionGroup) as info:
        pool.close()
    (err,) = info.value.exceptions
    assert isinstance(err, RuntimeError) and "wait for itself" in str(err)


# -- submit --


def test_submit_blocks_while_the_buffer_is_full(kind: Kind, no_thread_left: None) -> None:
    pool = kind.make(_identity, workers=1, buffer=2)
    pool.submit(kind.job(0))
    pool.submit(kind.job(1))
    blocked = spawn(pool.submit, kind.job(2))
    wait_submits_blocked(pool)
    assert not blocked.done
    kind.start(pool)  # workers drain the buffer: the third job gets in
    blocked.join()
    # Three results and room for two: read them before close() waits for the workers.
    got = [pool.results().recv(timeout=10) for _ in range(3)]
    pool.close()
    assert sorted(r.job_id if not kind.generic else r for r in got) == [0, 1, 2]


def test_submit_before_start_queues(kind: Kind) -> None:
    pool = kind.make(lambda x: x + 100, buffer=4)
    for i in range(3):
        pool.submit(kind.job(i))
    assert pool.stats().queued == 3
    kind.start(pool)
    pool.close()
    assert sorted(kind.value(r) for r in pool.results()) == [100, 101, 102]


def test_submit_after_close_raises_closed_channel_error(kind: Kind) -> None:
    pool = kind.start(kind.make(_identity))
    pool.close()
    with pytest.raises(ClosedChannelError, match="send on closed channel"):
        pool.submit(kind.job(1))


def test_submit_blocked_when_close_is_called_raises(kind: Kind, no_thread_left: None) -> None:
    pool = kind.make(_identity, workers=1, buffer=1)
    pool.submit(kind.job(0))
    blocked = spawn(pool.submit, kind.job(1))
    wait_submits_blocked(pool)
    pool.close()  # starts the pool for the queued job, refuses the blocked one
    with pytest.raises(ClosedChannelError):
        blocked.join()
    assert [r.job_id if not kind.generic else r for r in pool.results()] == [0]
    assert pool.cancelled == 0


def test_submit_on_a_cancelled_pool_raises_the_context_error(kind: Kind) -> None:
    ctx, cancel = with_cancel(background())
    pool = kind.start(kind.make(_identity), ctx)
    cancel()
    with pytest.raises(Canceled) as info:
        pool.submit(kind.job(1))
    assert info.value is ctx.err()
    with pytest.raises(Canceled):
        pool.submit(kind.job(2))
    pool.close()
    # Closed and cancelled: the closed pool's error comes first.
    with pytest.raises(ClosedChannelError):
        pool.submit(kind.job(3))


def test_submit_on_an_expired_pool_raises_deadline_exceeded(kind: Kind) -> None:
    ctx, cancel = with_timeout(background(), 0.01)
    pool = kind.start(kind.make(_identity), ctx)
    until(lambda: ctx.err() is not None, "the deadline")
    with pytest.raises(DeadlineExceeded) as info:
        pool.submit(kind.job(1))
    assert info.value is ctx.err()
    cancel()
    pool.close()


# -- cancellation --


def two_busy_eight_queued(kind: Kind) -> tuple[Gate, Callable[[], None], Any]:
    """A started pool of two workers, each held in a job by the gate, eight jobs queued."""
    gate = Gate()
    ctx, cancel = with_cancel(background())
    pool = kind.start(kind.make(gate, workers=2, buffer=8), ctx)
    for i in range(10):
        pool.submit(kind.job(i))
    until(lambda: gate.started == 2, "both workers busy")
    return gate, cancel, pool


def test_cancellation_stops_workers_after_their_current_job(
    kind: Kind, no_thread_left: None
) -> None:
    gate, cancel, pool = two_busy_eight_queued(kind)
    cancel()
    gate.open()
    # results() closes once the workers stopped, without close().
    got = list(pool.results())
    assert len(got) == 2  # the two running jobs delivered: the buffer had room
    assert pool.cancelled == 8
    assert gate.started == 2
    pool.close()  # returns normally after a cancellation
    assert pool.cancelled == 8


def hold_back_the_halt(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Keep the goroutine that halts a cancelled pool waiting until the event is set."""
    release = threading.Event()
    halt = Core._halt_in_goroutine

    def late_halt(core: Core) -> None:
        release.wait(20)
        halt(core)

    monkeypatch.setattr(Core, "_halt_in_goroutine", late_halt)
    return release


def test_no_job_starts_once_cancel_has_returned(
    kind: Kind, monkeypatch: pytest.MonkeyPatch, no_thread_left: None
) -> None:
    """The pool's halt runs in a goroutine after the cancellation; held back here, a
    worker that finishes its job after ``cancel()`` returned still starts no other, and
    every job is accounted for once ``close()`` returns."""
    release = hold_back_the_halt(monkeypatch)
    try:
        gate, cancel, pool = two_busy_eight_queued(kind)
        cancel()
        assert pool.stats().state == "cancelled"  # at once, before the halt has run
        gate.open()
        pool.close()  # returns once both workers stopped, the halt's goroutine still held
        assert gate.started == 2
        assert pool.cancelled == 8  # the queued jobs, counted before close() returned
        got = list(pool.results())  # closed: the workers stopped
        assert len(got) == 2
    finally:
        release.set()


def test_close_counts_the_queue_of_a_cancelled_pool_no_worker_drained(
    monkeypatch: pytest.MonkeyPatch, no_thread_left: None
) -> None:
    """A cancelled DynamicPool whose last worker left without taking another job: its
    halt held back, ``close()`` itself counts the queued jobs cancelled."""
    release = hold_back_the_halt(monkeypatch)
    try:
        gate = Gate()
        ctx, cancel = with_cancel(background())
        pool: DynamicPool[int, int] = DynamicPool(2, gate, buffer=8)
        pool.start(ctx)
        for i in range(4):
            pool.submit(i)
        until(lambda: gate.started == 1, "the one worker busy")
        assert pool.remove_worker()  # it leaves after its job, taking no other
        cancel()
        gate.open()
        pool.close()
        assert gate.started == 1
        assert pool.cancelled == 3
        assert len(list(pool.results())) == 1
    finally:
        release.set()


def test_result_already_in_results_stays_delivered(kind: Kind) -> None:
    ctx, cancel = with_cancel(background())
    pool = kind.start(kind.make(_identity, workers=1, buffer=4), ctx)
    pool.submit(kind.job(1))
    pool.submit(kind.job(2))
    until(lambda: len(pool.results()) == 2, "two results buffered")
    cancel()
    got = [r.job_id if not kind.generic else r for r in pool.results()]
    assert got == [1, 2]
    pool.close()
    assert pool.cancelled == 0


def test_consumer_ends_on_cancellation_without_close(kind: Kind, no_thread_left: None) -> None:
    ctx, cancel = with_cancel(background())
    pool = kind.start(kind.make(_identity, workers=2, buffer=4), ctx)
    consumer = spawn(lambda: list(pool.results()))
    for i in range(20):
        pool.submit(kind.job(i))
    cancel()
    got = consumer.join()
    submitted = 20
    assert len(got) + pool.cancelled == submitted
    pool.close()


def test_close_after_cancellation_raises_only_the_failures(generic: Kind) -> None:
    ctx, cancel = with_cancel(background())

    def process(x: int) -> int:
        if x == 0:
            raise ValueError("zero")
        return x

    pool = generic.start(generic.make(process, workers=1), ctx)
    pool.submit(0)
    until(lambda: pool.stats().failed == 1, "the failure recorded")
    cancel()
    with pytest.raises(ExceptionGroup) as info:
        pool.close()
    assert [str(e) for e in info.value.exceptions] == ["zero"]
    assert pool.close() is None


def test_start_with_a_context_already_done_cancels_queued_jobs(kind: Kind) -> None:
    ctx, cancel = with_cancel(background())
    cancel()
    pool = kind.make(_identity)
    for i in range(5):
        pool.submit(kind.job(i))
    pool.start(ctx)
    assert list(pool.results()) == []
    assert pool.cancelled == 5
    pool.close()


# -- lifecycle --


def test_start_twice_raises_runtime_error(kind: Kind) -> None:
    pool = kind.make(_identity)
    assert pool.start() is pool
    with pytest.raises(RuntimeError):
        pool.start()
    pool.close()
    with pytest.raises(RuntimeError):
        pool.start()


def test_close_is_idempotent(generic: Kind) -> None:
    def process(x: int) -> int:
        raise ValueError(x)

    pool = generic.start(generic.make(process))
    pool.submit(1)
    with pytest.raises(ExceptionGroup):
        pool.close()
    assert pool.close() is None  # no second raise
    assert pool.close() is None


def test_close_before_start_runs_the_queued_jobs(kind: Kind, no_thread_left: None) -> None:
    pool = kind.make(lambda x: x * 3, buffer=4)
    for i in range(4):
        pool.submit(kind.job(i))
    pool.close()
    assert sorted(kind.value(r) for r in pool.results()) == [0, 3, 6, 9]


def test_close_of_an_unused_pool_starts_nothing(kind: Kind, no_thread_left: None) -> None:
    before = threading.active_count()
    pool = kind.make(_identity)
    pool.close()
    assert threading.active_count() == before
    assert list(pool.results()) == []


def test_with_block_starts_and_closes(kind: Kind, no_thread_left: None) -> None:
    with kind.make(lambda x: -x, buffer=16) as pool:
        assert "running" in repr(pool)
        for i in range(10):
            pool.submit(kind.job(i))
    assert "closed" in repr(pool)
    assert sorted(kind.value(r) for r in pool.results()) == sorted(-i for i in range(10))
    with pytest.raises(ClosedChannelError):
        pool.submit(kind.job(0))


def test_with_body_raising_cancels_the_rest_and_propagates(
    kind: Kind, no_thread_left: None
) -> None:
    gate = Gate()
    body_error = LookupError("from the body")
    pool = kind.make(gate, workers=1, buffer=8)
    with pytest.raises(LookupError) as info, pool:
        for i in range(5):
            pool.submit(kind.job(i))
        until(lambda: gate.started == 1, "the first job running")
        # The running job may finish only once __exit__ has cancelled the rest.
        spawn(lambda: (until(lambda: pool.stats().state == "cancelled"), gate.open()))
        raise body_error
    assert info.value is body_error
    assert not getattr(body_error, "__notes__", None)  # nothing of the pool's added
    assert pool.cancelled == 4  # the running job finished; the queued ones never ran
    assert gate.started == 1
    assert len(list(pool.results())) == 1
    assert "cancelled" in repr(pool)


def test_with_body_raising_keeps_failures_for_a_later_close() -> None:
    def process(x: int) -> int:
        raise ValueError("job failed")

    pool: Pool[int, int] = Pool(1, process)
    with pytest.raises(KeyError), pool:
        pool.submit(1)
        until(lambda: pool.stats().failed == 1, "the failure recorded")
        raise KeyError("body")
    with pytest.raises(ExceptionGroup):
        pool.close()  # the failure was not lost, nor raised in place of the body's error
    assert pool.close() is None


def test_with_accepts_a_pool_already_started(kind: Kind) -> None:
    ctx, cancel = with_cancel(background())
    with kind.make(_identity).start(ctx) as pool:
        pool.submit(kind.job(1))
    assert len(list(pool.results())) == 1
    cancel()


# -- map --


def test_map_yields_every_result_from_a_single_thread(kind: Kind, no_thread_left: None) -> None:
    """Many more jobs than both buffers hold, and no deadlock: map feeds from a goroutine."""
    pool = kind.make(lambda x: x + 1, workers=3, buffer=4)
    jobs = (kind.job(i) for i in range(3000))
    got = sorted(kind.value(r) for r in pool.map(jobs))
    assert got == list(range(1, 3001))
    with pytest.raises(ClosedChannelError):
        pool.submit(kind.job(0))  # map closed the pool


def test_map_ordered_keeps_input_order(kind: Kind) -> None:
    def process(x: int) -> int:
        time.sleep(0.0005 * (x % 4))  # later jobs often finish first
        return x

    pool = kind.make(process, workers=4, buffer=4)
    if isinstance(pool, DynamicPool):
        pool.start()
        while pool.add_worker():
            pass
    out = [kind.value(r) for r in pool.map((kind.job(i) for i in range(300)), ordered=True)]
    assert out == list(range(300))


def test_map_pulls_the_iterable_lazily(no_thread_left: None) -> None:
    """An endless generator: only as many jobs are pulled as the buffers take."""
    pulled = 0
    lock = threading.Lock()

    def endless() -> Iterator[int]:
        nonlocal pulled
        i = 0
        while True:
            with lock:
                pulled += 1
            yield i
            i += 1

    for ordered in (False, True):
        with lock:
            pulled = 0
        pool: Pool[int, int] = Pool(2, _identity, buffer=4)
        consumed = 0
        for _ in pool.map(endless(), ordered=ordered):
            consumed += 1
            if consumed == 200:
                break
        with lock:
            n = pulled
        # Unordered: consumed + results buffer + job buffer + one per worker +
        # one in the feeder's hand. Ordered: consumed + the reorder window
        # (two buffers + workers + 16) + one in the feeder's hand.
        ahead = 4 + 4 + 2 + 1 if not ordered else 2 * 4 + 2 + 16 + 1
        assert 200 <= n <= 200 + ahead, (ordered, n)
        assert "cancelled" in repr(pool)


def test_map_leaving_early_cancels_the_rest_and_closes(kind: Kind, no_thread_left: None) -> None:
    pool = kind.make(_identity, workers=1, buffer=4)
    it = pool.map(kind.job(i) for i in range(100))
    next(it)
    # With nobody reading, the buffers fill: jobs are queued and a worker waits.
    until(lambda: pool.stats().queued == 4, "the job buffer full")
    it.close()  # leaving the loop (what `break` does when the iterator is dropped)
    with pytest.raises(ClosedChannelError):
        pool.submit(kind.job(0))
    assert pool.cancelled > 0
    assert _worker_threads(pool) == 0
    assert pool.results().closed  # type: ignore[attr-defined]


def test_map_raises_failures_after_the_last_result(generic: Kind) -> None:
    def process(x: int) -> int:
        if x in (5, 13):
            raise ValueError(f"bad {x}")
        return x

    for ordered in (False, True):
        got: list[int] = []
        pool = generic.make(process, workers=3, buffer=4)
        with pytest.raises(ExceptionGroup) as info:
            for r in pool.map(range(20), ordered=ordered):
                got.append(r)
        expected = [x for x in range(20) if x not in (5, 13)]
        assert (got if ordered else sorted(got)) == expected
        assert sorted(str(e) for e in info.value.exceptions) == ["bad 13", "bad 5"]


def test_map_raises_the_iterables_exception_after_the_results(kind: Kind) -> None:
    def jobs() -> Iterator[Any]:
        for i in range(5):
            yield kind.job(i)
        raise OSError("source broke")

    got = []
    with pytest.raises(OSError, match="source broke"):
        for r in kind.make(_identity).map(jobs()):
            got.append(r)
    assert len(got) == 5


def test_map_on_a_closed_pool_raises(kind: Kind) -> None:
    pool = kind.make(_identity)
    pool.close()
    with pytest.raises(ClosedChannelError):
        next(pool.map([kind.job(1)]))
    with pytest.raises(TypeError):
        pool.map(42)


def test_map_consumes_its_pool_and_a_second_map_says_so(kind: Kind, no_thread_left: None) -> None:
    """The SPEC's rule: map() closes its pool. A second map() raises at the call, saying why."""
    pool = kind.make(_identity)
    first = pool.map([kind.job(1), kind.job(2)])
    with pytest.raises(RuntimeError, match=r"map\(\) called twice: map\(\) consumes its pool"):
        pool.map([kind.job(3)])  # raised at once, not at the first next()
    assert len(list(first)) == 2  # the first map() is unharmed
    assert "closed" in repr(pool)
    with pytest.raises(ClosedChannelError, match=r"make a new pool for each map\(\)"):
        pool.map([kind.job(4)])
    doc = " ".join((type(pool).map.__doc__ or "").split())
    assert "consumes the pool" in doc and "a pool maps once" in doc


def test_map_ends_when_the_context_is_cancelled(kind: Kind, no_thread_left: None) -> None:
    ctx, cancel = with_cancel(background())
    pool = kind.make(_identity, workers=2, buffer=4).start(ctx)
    got = 0
    for _ in pool.map(kind.job(i) for i in range(10**9)):
        got += 1
        if got == 50:
            cancel()
    assert got >= 50
    assert "cancelled" in repr(pool)
    with pytest.raises(ClosedChannelError):
        pool.submit(kind.job(0))


# -- a pool dropped, or open at exit --


def test_dropped_pool_with_queued_jobs_warns_how_many() -> None:
    pool: Pool[int, int] = Pool(1, _identity, buffer=4)
    for i in range(3):
        pool.submit(i)
    with pytest.warns(ResourceWarning, match="3 queued jobs never ran"):
        del pool
        gc.collect()


def test_dropped_running_pool_stops_its_workers(no_thread_left: None) -> None:
    gate = Gate()
    pool: Pool[int, int] = Pool(1, gate, buffer=4).start()
    for i in range(3):
        pool.submit(i)
    until(lambda: gate.started == 1, "the first job running")
    core = pool._core
    with pytest.warns(ResourceWarning, match="2 queued jobs never ran"):
        del pool
        gc.collect()
    gate.open()
    core.wg.wait(5.0)
    with core.lock:
        assert core.threads == 0 and core.cancelled == 2


def test_dropped_idle_pool_stops_without_a_warning(no_thread_left: None) -> None:
    pool: Pool[int, int] = Pool(2, _identity).start()
    core = pool._core
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del pool
        gc.collect()
    assert core.wg.wait(5.0)


def test_closed_pool_dropped_is_silent() -> None:
    pool: Pool[int, int] = Pool(2, _identity)
    pool.submit(1)
    pool.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del pool
        gc.collect()


def _run_child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run(
        [sys.executable, *args, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=20,
        env=env,
    )


def test_pool_open_at_exit_warns_on_stderr_and_does_not_block_exit() -> None:
    """An unclosed pool with jobs left: named on stderr at exit, whatever the warning filters.

    Workers are daemon threads: a job still running does not hold the
    interpreter, and the jobs queued behind it never run, so the warning
    counts both.
    """
    proc = _run_child(
        """
        import threading
        from gopool.pools import Job, Pool, WorkerPool
        never = threading.Event()
        started = threading.Event()
        def job(x):
            started.set()
            never.wait()
        p = Pool(1, job, buffer=10)
        p.start()
        for i in range(5):
            p.submit(i)
        started.wait()
        idle = Pool(2, abs).start()  # nothing left to do: no warning
        unstarted = WorkerPool(1, 4, abs)
        unstarted.submit(Job(1, -1))
        print("main done", flush=True)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "main done\n"
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, proc.stderr
    assert sorted(lines) == [
        "gopool: warning: Pool created at <string>:9 was never closed: at exit 4 queued"
        " jobs never ran and 1 job in flight never finished (close() it, or use `with`"
        " or map())",
        "gopool: warning: WorkerPool created at <string>:15 was never closed: at exit 1"
        " queued job never ran and 0 jobs in flight never finished (close() it, or use"
        " `with` or map())",
    ]


def test_pools_closed_or_dropped_before_exit_print_nothing_at_exit() -> None:
    """Closed, mapped, left by `with`, or dropped (its warning is a hidden ResourceWarning)."""
    proc = _run_child(
        """
        import gc
        from gopool.pools import Pool
        a = Pool(2, abs)
        a.submit(-1)
        a.close()
        b = Pool(2, abs)
        assert sorted(b.map(range(-3, 0))) == [1, 2, 3]
        with Pool(2, abs) as c:
            c.submit(-2)
        d = Pool(1, abs, buffer=4)
        d.submit(-3)
        del d
        gc.collect()
        print("main done", flush=True)
        """
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "main done\n", "")


def test_workers_are_daemon_threads() -> None:
    before = set(threading.enumerate())
    with Pool(3, _identity) as pool:
        new = [t for t in threading.enumerate() if t not in before]
        assert len(new) == 3
        assert all(t.daemon for t in new)
    assert pool.cancelled == 0


# -- introspection --


def test_cancelled_counts_jobs_that_never_delivered(kind: Kind) -> None:
    gate = Gate()
    ctx, cancel = with_cancel(background())
    pool = kind.start(kind.make(gate, workers=1, buffer=8), ctx)
    assert pool.cancelled == 0
    for i in range(6):
        pool.submit(kind.job(i))
    until(lambda: gate.started == 1, "one job running")
    cancel()
    gate.open()
    pool.close()
    assert pool.cancelled == 5


def test_repr_shows_the_state(kind: Kind) -> None:
    gate = Gate()
    pool = kind.make(gate, workers=1, buffer=8)
    r = repr(pool)
    assert r.startswith(f"<{kind.name} new ") and "queued=0" in r
    pool.submit(kind.job(0))
    pool.submit(kind.job(1))
    assert "queued=2" in repr(pool)
    pool.start()
    until(lambda: gate.started == 1, "one job running")
    r = repr(pool)
    assert "running" in r and "workers=1" in r and "queued=1" in r and "in_flight=1" in r
    gate.open()
    pool.close()
    r = repr(pool)
    assert "closed" in r and "completed=2" in r and "workers=0" in r and "cancelled=0" in r


# -- DynamicPool --


def test_dynamic_pool_article_program(no_thread_left: None) -> None:
    """The article's "Dynamic Worker Pool" main(), with the graceful stop: 50 of 50."""

    def process(job: int) -> int:
        time.sleep(0.001)
        return job * 2

    pool: DynamicPool[int, int] = DynamicPool(10, process)
    assert pool.add_worker() and pool.add_worker()
    assert pool.worker_count == 2
    added = []

    def produce() -> None:
        for i in range(50):
            pool.submit(i)
            if i % 10 == 0 and pool.add_worker():
                added.append(pool.worker_count)
        pool.stop()

    producer = spawn(produce)
    got = sorted(pool.results())
    producer.join()
    assert got == [i * 2 for i in range(50)]
    assert added == [3, 4, 5, 6, 7]
    assert pool.worker_count == 0


def test_dynamic_pool_add_and_remove_workers() -> None:
    pool: DynamicPool[int, int] = DynamicPool(3, _identity)
    assert pool.worker_count == 0
    assert pool.remove_worker() is False  # none yet
    assert pool.add_worker() is True  # starts the pool on background()
    with pytest.raises(RuntimeError):
        pool.start()
    assert pool.add_worker() and pool.add_worker()
    assert pool.add_worker() is False  # at max_workers
    assert pool.worker_count == 3 == pool.max_workers
    assert pool.remove_worker() is True
    assert pool.worker_count == 2
    until(lambda: _worker_threads(pool) == 2, "the idle worker to leave")
    assert pool.add_worker() is True
    assert pool.remove_worker() and pool.remove_worker() and pool.remove_worker()
    assert pool.remove_worker() is False
    until(lambda: _worker_threads(pool) == 0, "every worker to leave")
    pool.stop()
    assert pool.add_worker() is False and pool.remove_worker() is False


def test_dynamic_pool_start_adds_one_worker() -> None:
    ctx, cancel = with_cancel(background())
    pool: DynamicPool[int, int] = DynamicPool(4, _identity)
    pool.start(ctx)
    assert pool.worker_count == 1
    cancel()
    assert list(pool.results()) == []
    assert pool.worker_count == 0
    assert pool.add_worker() is False  # cancelled
    pool.stop()


def test_dynamic_pool_busy_worker_leaves_after_its_job(no_thread_left: None) -> None:
    gate = Gate()
    pool: DynamicPool[int, int] = DynamicPool(2, gate)
    pool.add_worker()
    pool.submit(7)
    until(lambda: gate.started == 1, "the job running")
    assert pool.remove_worker()
    assert pool.worker_count == 0
    gate.open()
    assert pool.results().recv(timeout=10) == 7  # it delivered first
    until(lambda: _worker_threads(pool) == 0, "the worker to leave")
    pool.stop()


def test_dynamic_pool_stop_with_no_worker_left_adds_one(no_thread_left: None) -> None:
    pool: DynamicPool[int, int] = DynamicPool(2, lambda x: x * 10)
    pool.add_worker()
    pool.remove_worker()
    until(lambda: _worker_threads(pool) == 0, "the worker to leave")
    for i in range(5):
        pool.submit(i)
    pool.stop()
    assert sorted(pool.results()) == [0, 10, 20, 30, 40]
    assert DynamicPool.close is DynamicPool.stop


def test_dynamic_pool_stop_raises_the_failures() -> None:
    def process(x: int) -> int:
        raise ArithmeticError(x)

    pool: DynamicPool[int, int] = DynamicPool(2, process)
    pool.add_worker()
    pool.submit(1)
    with pytest.raises(ExceptionGroup) as info:
        pool.stop()
    assert isinstance(info.value.exceptions[0], ArithmeticError)
    assert pool.stop() is None


# -- RateLimitedPool --


def test_rate_limited_pool_keeps_its_total_rate(no_thread_left: None) -> None:
    rate = 40.0
    stamps: list[float] = []
    lock = threading.Lock()

    def process(x: int) -> int:
        with lock:
            stamps.append(time.monotonic())
        return x

    t0 = time.monotonic()
    with RateLimitedPool(4, process, rate=rate, burst=1) as pool:
        got = sorted(pool.map(range(12)))
    assert got == list(range(12))
    stamps.sort()
    # One token to begin with, then one per 1/rate for the four workers together:
    # the i-th job cannot start before i / rate (per worker, 4x as many would).
    for i, t in enumerate(stamps):
        assert t - t0 >= i / rate - 0.001, (i, t - t0)


def test_rate_limited_pool_burst_allows_that_many_at_once() -> None:
    stamps: list[float] = []
    lock = threading.Lock()

    def process(x: int) -> int:
        with lock:
            stamps.append(time.monotonic())
        return x

    t0 = time.monotonic()
    pool: RateLimitedPool[int, int] = RateLimitedPool(4, process, rate=2.0, burst=3)
    assert isinstance(pool.limiter, Limiter)
    assert (pool.limiter.limit, pool.limiter.burst) == (2.0, 3)
    assert sorted(pool.map(range(4))) == [0, 1, 2, 3]
    stamps.sort()
    # Three tokens at once, the fourth half a second later.
    assert stamps[3] - t0 >= 0.5 - 0.001
    assert stamps[2] - t0 < 0.5  # the burst did not wait for a refill


# -- Ctrl-C --

_SIGINT_CHILD = """
import faulthandler, signal, sys, threading, time
from gopool.pools import Pool

faulthandler.dump_traceback_later(15, exit=True)  # a hang shows every thread's stack

main = threading.main_thread().ident

def interrupt_when(parked, then=None):
    # Test-side wait for the main thread to be parked, then SIGINT aimed at it.
    def run():
        while not parked():
            time.sleep(0.001)
        # Published is not yet parked: a signal landing inside lock.acquire() just
        # before it blocks is seen only at the next bytecode (a CPython window).
        time.sleep(0.1)
        signal.pthread_kill(main, signal.SIGINT)
        if then is not None:
            then()
    threading.Thread(target=run, daemon=True).start()

gate, started = threading.Event(), threading.Event()
def job(x):
    started.set()
    gate.wait()
    return x

# 1. A bare close() waiting for a busy worker, two jobs queued behind it: Ctrl-C
# cancels those two, as leaving a `with` block by an exception does, and raises at once.
p = Pool(1, job, buffer=4).start()
for i in (1, 2, 3):
    p.submit(i)
started.wait()
interrupt_when(lambda: p._core.wg.statistics()["waiters"] == 1)
try:
    p.close()
    sys.exit("close returned")
except KeyboardInterrupt:
    print("close interrupted", repr(p).split()[1], p.cancelled, started.is_set())
gate.set()
p.close()  # waits for the running job only
print("then closed", list(p.results()), p.cancelled)

# 2. submit() blocked on a full buffer: the job is not accepted.
q = Pool(1, abs, buffer=1)
q.submit(-1)
interrupt_when(lambda: q.stats().blocked_submits == 1)
try:
    q.submit(-2)
    sys.exit("submit returned")
except KeyboardInterrupt:
    print("submit interrupted", q.stats().queued, q.stats().submitted)
q.close()
print("then closed", list(q.results()))

# 3. map() waiting for a result: the pool is cancelled and closed.
gate.clear()
r = Pool(1, job, buffer=4)

def open_gate_once_cancelled():
    # The running job may end only once the interrupted map() has cancelled the rest.
    while r.stats().state != "cancelled":
        time.sleep(0.001)
    gate.set()

interrupt_when(
    lambda: r.results().statistics()["receivers_waiting"] == 1, open_gate_once_cancelled
)
try:
    for _ in r.map(range(10)):
        sys.exit("a result came")
except KeyboardInterrupt:
    print("map interrupted", repr(r).split()[1], r.cancelled > 0)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_reaches_a_main_thread_blocked_in_a_pool() -> None:
    """Ctrl-C interrupts close(), a blocked submit() and map(); the pool stays sound.

    Interrupted, a bare ``close()`` cancels the jobs not yet run (before, it
    left them queued for the next ``close()`` to run); a blocked ``submit()``
    withdraws, its job not accepted; ``map()`` cancels its pool and closes it.
    """
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", _SIGINT_CHILD], capture_output=True, text=True, timeout=25, env=env
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert proc.stdout.splitlines() == [
        "close interrupted cancelled 2 True",
        "then closed [1] 2",
        "submit interrupted 1 1",
        "then closed [1]",
        "map interrupted cancelled True",
    ]
