"""An asyncio service that hands blocking jobs to a gopool ``Pool`` and awaits the results.

Clients are asyncio tasks, each sending requests one after another. A
request hands its job to a pool of worker
threads with ``await pool.async_submit(job)`` (waiting, without blocking the
event loop, while the job buffer is full) and awaits its own result, which a
router task takes from ``async for r in pool.results()`` and hands to the
request's future. The jobs are blocking calls (here ``time.sleep``, standing
for a database driver or a CPU-bound library) that must not run on the loop.

Ctrl-C: ``asyncio.run`` cancels the main task. The service then cancels the
pool's context (workers stop after their current job; queued jobs are
counted as cancelled), waits for the pool in a thread (``Pool.close`` blocks,
so it is not called on the loop's thread), lets the router drain the results
already made, and reports. Every accepted job is accounted for: delivered +
cancelled == accepted. A request cancelled while its ``async_submit`` waited
was not accepted, unless the pool took the job first; then the submit
returned and the job is counted, and the cancellation lands at the
request's next ``await`` (gopool's rule for a cancellation that races a
hand-off).

Run it::

    python examples/asyncio_bridge.py                    # 200 requests, 32 clients, 8 workers
    python examples/asyncio_bridge.py --requests 50 --workers 4 --job-ms 5
    python examples/asyncio_bridge.py --requests 100000  # then press Ctrl-C

Prints ``serving N requests from C clients with W workers``, then one ``request I: RESULT``
line a request as each completes (with ``--quiet``, none), then ``done:`` or,
after Ctrl-C, ``interrupted:`` with the counts. Exits 0, or 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

try:
    import gopool
except ModuleNotFoundError:  # a checkout where gopool is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import gopool


def handle(job: tuple[int, str, float]) -> tuple[int, str]:
    """The blocking work, run on a pool thread: ``(request id, result)``."""
    request_id, text, seconds = job
    time.sleep(seconds)
    return request_id, text.upper()


@dataclass
class Counts:
    """What the service did; read once it has stopped."""

    accepted: int = 0
    delivered: int = 0
    answered: list[str] = field(default_factory=list)
    cancelled: int = 0


async def serve(
    counts: Counts, requests: int, clients: int, workers: int, job_seconds: float, quiet: bool
) -> None:
    """Serve ``requests`` requests from ``clients`` tasks on ``workers`` threads; see ``counts``."""
    ctx, cancel = gopool.with_cancel(gopool.background())
    pool: gopool.Pool[tuple[int, str, float], tuple[int, str]] = gopool.Pool(
        workers, handle, buffer=workers * 2
    )
    pool.start(ctx)
    loop = asyncio.get_running_loop()
    pending: dict[int, asyncio.Future[str]] = {}

    async def route() -> None:
        # Ends once the pool has stopped and results() is closed and drained.
        async for request_id, output in pool.results():
            counts.delivered += 1
            waiter = pending.pop(request_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(output)

    async def request(i: int) -> None:
        answer = loop.create_future()
        pending[i] = answer
        await pool.async_submit((i, f"request {i}", job_seconds))
        # Counted before the next await: a submit that won the race with a
        # cancellation returned, and its job is in the pool.
        counts.accepted += 1
        text = await answer
        counts.answered.append(text)
        if not quiet:
            print(f"request {i}: {text}", flush=True)

    router = asyncio.create_task(route())
    ids = iter(range(requests))  # shared by the clients: each request once

    async def client() -> None:
        for i in ids:
            await request(i)

    print(f"serving {requests} requests from {clients} clients with {workers} workers", flush=True)
    try:
        await asyncio.gather(*(client() for _ in range(clients)))
    except BaseException:
        cancel()  # Ctrl-C: the workers stop after their current job
        raise
    finally:
        # Either way: wait for the pool off the loop's thread (close blocks),
        # and let the router take every result already made.
        await asyncio.to_thread(pool.close)
        await router
        cancel()
        counts.cancelled = pool.cancelled


def report(word: str, counts: Counts) -> None:
    print(
        f"{word}: accepted {counts.accepted}, delivered {counts.delivered}, "
        f"answered {len(counts.answered)}, cancelled {counts.cancelled}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=32, help="requests in flight at once")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--job-ms", type=float, default=20.0, help="how long each job blocks")
    ap.add_argument("--quiet", action="store_true", help="no line per request")
    args = ap.parse_args(argv)
    counts = Counts()
    try:
        asyncio.run(
            serve(counts, args.requests, args.clients, args.workers, args.job_ms / 1000, args.quiet)
        )
    except KeyboardInterrupt:
        report("interrupted", counts)
        return 130
    report("done", counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
