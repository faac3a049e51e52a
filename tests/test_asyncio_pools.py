"""The pools' ``async_submit`` and ``async for r in pool.results()``, from asyncio tasks.

``async_submit`` keeps every rule of ``submit``: it waits (without blocking
the loop) while the job buffer is full, raises ``ClosedChannelError`` for a
closed pool and for one closed while it waits (the job not accepted), and
the context's ``err()`` for a cancelled one. A cancelled waiting submit
withdraws, the job not accepted; one that the pool accepted first stands.
Every accepted job yields one result.
"""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any

import pytest
from aio_support import run
from conftest import Gate

from gopool import (
    ClosedChannelError,
    DynamicPool,
    Job,
    Pool,
    RateLimitedPool,
    Result,
    WorkerPool,
    background,
    with_cancel,
)

pytestmark = pytest.mark.timeout(90)


def _double(x: int) -> int:
    return 2 * x


POOLS: dict[str, Any] = {
    "Pool": lambda: Pool(2, _double, buffer=2),
    "DynamicPool": lambda: DynamicPool(2, _double, buffer=2),
    "RateLimitedPool": lambda: RateLimitedPool(2, _double, rate=10_000, burst=100, buffer=2),
}


@pytest.mark.parametrize("kind", list(POOLS))
def test_async_submit_and_async_results(kind: str) -> None:
    pool = POOLS[kind]()

    async def main() -> list[int]:
        pool.start()
        consumer = asyncio.create_task(collect(pool))
        for i in range(100):
            await pool.async_submit(i)
        await asyncio.to_thread(pool.close)
        return await consumer

    assert sorted(run(main())) == [2 * i for i in range(100)]


def test_worker_pool_async_submit_takes_jobs() -> None:
    pool = WorkerPool(2, 2, lambda job: job.payload + 1)

    async def main() -> list[Result]:
        pool.start()

        async def consume() -> list[Result]:
            return [r async for r in pool.results()]

        consumer = asyncio.create_task(consume())
        for i in range(10):
            await pool.async_submit(Job(i, i))
        with pytest.raises(TypeError):
            await pool.async_submit(5)  # type: ignore[arg-type]
        await asyncio.to_thread(pool.close)
        return await consumer

    results = run(main())
    assert sorted((r.job_id, r.output) for r in results) == [(i, i + 1) for i in range(10)]


def test_async_submit_waits_for_room_without_blocking_the_loop() -> None:
    gate = Gate()
    pool: Pool[int, int] = Pool(1, gate, buffer=1)

    async def main() -> None:
        pool.start()
        results = asyncio.create_task(collect(pool))
        await pool.async_submit(1)  # the worker takes it and waits at the gate
        await asyncio.to_thread(_until, lambda: gate.started == 1)
        await pool.async_submit(2)  # fills the buffer
        blocked = asyncio.create_task(pool.async_submit(3))
        ticks = 0
        for _ in range(5):
            await asyncio.sleep(0.005)
            ticks += 1
        assert ticks == 5 and not blocked.done()
        gate.open()
        await blocked
        await asyncio.to_thread(pool.close)
        assert sorted(await results) == [1, 2, 3]

    run(main())


async def collect(pool: Pool[int, int]) -> list[int]:
    """Every result of ``pool``, read by a task until ``results()`` is closed."""
    return [r async for r in pool.results()]


def _until(pred: Any) -> None:
    import time

    end = time.monotonic() + 10
    while not pred():
        assert time.monotonic() < end
        time.sleep(0.001)


def test_async_submit_refusals() -> None:
    gate = Gate()

    async def main() -> None:
        closed: Pool[int, int] = Pool(1, _double)
        closed.start()
        await asyncio.to_thread(closed.close)
        with pytest.raises(ClosedChannelError):
            await closed.async_submit(1)
        ctx, cancel = with_cancel(background())
        cancelled: Pool[int, int] = Pool(1, _double)
        cancelled.start(ctx)
        cancel()
        with pytest.raises(Exception) as info:
            await cancelled.async_submit(1)
        assert info.value is ctx.err()
        await asyncio.to_thread(cancelled.close)
        # A submit waiting for room when the pool is closed: not accepted.
        full: Pool[int, int] = Pool(1, gate, buffer=1)
        full.start()
        results = asyncio.create_task(collect(full))
        await full.async_submit(1)
        await asyncio.to_thread(_until, lambda: gate.started == 1)
        await full.async_submit(2)
        waiting = asyncio.create_task(full.async_submit(3))
        await asyncio.sleep(0.01)
        closer = asyncio.create_task(asyncio.to_thread(full.close))
        with pytest.raises(ClosedChannelError):
            await waiting
        gate.open()
        await closer
        assert sorted(await results) == [1, 2]

    run(main())


def test_cancelled_submits_are_not_accepted_and_every_accepted_job_has_a_result() -> None:
    """Tasks submit to a full pool and are cancelled at random: results == accepted."""
    pool: Pool[int, int] = Pool(2, _double, buffer=2)
    accepted: list[int] = []
    lock = threading.Lock()

    async def submitter(base: int) -> None:
        for k in range(200):
            await pool.async_submit(base + k)
            with lock:
                accepted.append(base + k)
            await asyncio.sleep(0)

    async def main() -> list[int]:
        pool.start()
        consumer = asyncio.create_task(collect(pool))
        rng = random.Random(7)
        tasks = [asyncio.create_task(submitter(10_000 * j)) for j in range(8)]
        for _ in range(40):
            await asyncio.sleep(rng.random() * 0.003)
            rng.choice(tasks).cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(pool.close)
        return await consumer

    results = run(main())
    assert sorted(results) == sorted(2 * v for v in accepted)
    assert pool.cancelled == 0
