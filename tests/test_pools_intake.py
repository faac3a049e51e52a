"""Submits that wait for room: accepted in order, exactly once, and counted as they enter.

A submit that finds the job buffer full (or, unbuffered, no worker free)
waits on the pool's side until a worker frees a slot, and only then is its
job accepted and counted in ``stats().submitted``. These tests force that
path: tiny buffers (0 and 1), many producers, workers added and removed
while submits wait, and ``close()`` racing them. Go's pools have no such
tests: Go's channel does this work, and ``submitted`` is gopool's own.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections import Counter
from typing import Any

import pytest
from conftest import Gate, join_all, spawn, until
from test_pools import KINDS, Kind, wait_submits_blocked

from gopool.chan import ClosedChannelError
from gopool.pools import DynamicPool, PoolStats

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> Kind:
    return Kind(request.param)


def _check_sample(s: PoolStats, buffer: int) -> None:
    """What every snapshot of a running pool satisfies: nothing counted ahead of its time."""
    assert s.finished + s.in_flight + s.queued <= s.submitted
    assert s.queued <= buffer


@pytest.mark.parametrize("buffer", [0, 1])
@pytest.mark.usefixtures("no_thread_left")
def test_many_producers_on_a_tiny_buffer_each_job_once(kind: Kind, buffer: int) -> None:
    producers, per_producer = 6, 300
    pool = kind.start(kind.make(lambda x: x, workers=3, buffer=buffer))
    samples: list[PoolStats] = []
    done = threading.Event()

    def sample() -> None:
        # A short pause between samples: stats() takes the pool's lock, and a
        # sampler that never lets go of it starves the submits on a loaded
        # free-threaded run.
        while not done.wait(0.0002):
            samples.append(pool.stats())

    def produce(p: int) -> None:
        for i in range(per_producer):
            pool.submit(kind.job(p * per_producer + i))

    consumer = spawn(lambda: [kind.value(r) for r in pool.results()])
    sampler = spawn(sample)
    join_all([spawn(produce, p) for p in range(producers)], 40)
    pool.close()
    done.set()
    sampler.join()
    got = consumer.join()
    n = producers * per_producer
    assert Counter(got) == Counter(range(n))
    s = pool.stats()
    assert (s.submitted, s.completed, s.blocked_submits) == (n, n, 0)
    for sample_ in samples:
        _check_sample(sample_, buffer)
    for earlier, later in itertools.pairwise(samples):
        assert earlier.submitted <= later.submitted


@pytest.mark.parametrize("buffer", [0, 1])
@pytest.mark.usefixtures("no_thread_left")
def test_waiting_submits_are_accepted_in_the_order_they_waited(buffer: int) -> None:
    """FIFO: no submit overtakes one that waits, and none jumps ahead of the buffer."""
    gate = Gate()
    order: list[int] = []

    def process(x: int) -> int:
        if x == -1:
            gate(x)
        order.append(x)
        return x

    kind = Kind("Pool")
    pool = kind.start(kind.make(process, workers=1, buffer=buffer))
    pool.submit(-1)
    until(lambda: gate.started == 1, "the worker held")
    if buffer:
        pool.submit(0)  # fills the buffer
    waiting = []
    for k in range(1, 6):
        waiting.append(spawn(pool.submit, k))
        wait_submits_blocked(pool, k)
    assert pool.stats().submitted == 1 + buffer
    consumer = spawn(lambda: list(pool.results()))
    gate.open()
    join_all(waiting)
    pool.close()
    assert order == [-1, *range(1 - buffer, 6)]
    assert consumer.join() == [-1, *range(1 - buffer, 6)]


@pytest.mark.parametrize("buffer", [0, 1])
@pytest.mark.usefixtures("no_thread_left")
def test_close_refuses_every_waiting_submit_and_keeps_the_accepted(buffer: int) -> None:
    """Each submit racing close() is accepted (its result comes) or refused, never both."""
    for _round in range(5):
        pool = Kind("Pool").make(lambda x: x, workers=2, buffer=buffer).start()
        accepted: list[list[int]] = [[] for _ in range(4)]  # one list per producer thread

        def produce(mine: list[int], base: int, pool: Any = pool) -> None:
            with contextlib.suppress(ClosedChannelError):
                for i in itertools.count(base):
                    pool.submit(i)
                    mine.append(i)

        consumer = spawn(lambda pool=pool: list(pool.results()))
        producers = [spawn(produce, mine, p * 10**6) for p, mine in enumerate(accepted)]
        until(lambda pool=pool: pool.stats().completed > 200, "some progress")
        pool.close()
        join_all(producers)
        got = consumer.join()
        assert sorted(got) == sorted(i for mine in accepted for i in mine)
        assert len(got) == pool.stats().submitted
        assert pool.stats().blocked_submits == 0 and pool.cancelled == 0


@pytest.mark.usefixtures("no_thread_left")
def test_dynamic_pool_unbuffered_while_workers_come_and_go() -> None:
    """Removals and waiting submits share the idle workers' wake-up: neither is lost."""
    pool: DynamicPool[int, int] = DynamicPool(4, lambda x: x, buffer=0)
    pool.add_worker()
    stop = threading.Event()

    def scale() -> None:
        flip = 0
        while not stop.is_set():
            flip += 1
            if flip % 3:
                pool.add_worker()
            else:
                pool.remove_worker()

    n = 3000
    consumer = spawn(lambda: list(pool.results()))
    scaler = spawn(scale)
    join_all([spawn(lambda k=k: [pool.submit(i) for i in range(k, n, 3)]) for k in range(3)])  # type: ignore[misc]
    stop.set()
    scaler.join()
    pool.stop()
    assert Counter(consumer.join()) == Counter(range(n))
    assert pool.stats().submitted == n


@pytest.mark.usefixtures("no_thread_left")
def test_dynamic_pool_with_no_worker_holds_waiting_submits_until_one_is_added() -> None:
    pool: DynamicPool[int, int] = DynamicPool(2, lambda x: x * 2, buffer=0)
    pool.start()
    assert pool.remove_worker()
    until(lambda: pool.stats().per_worker == (), "the only worker gone")
    waiting = spawn(pool.submit, 21)
    wait_submits_blocked(pool)
    assert pool.stats().submitted == 0
    assert pool.add_worker()
    waiting.join()
    assert pool.results().recv(timeout=10) == 42
    pool.stop()
    assert pool.stats().submitted == 1
