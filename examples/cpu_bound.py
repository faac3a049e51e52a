"""CPU-bound jobs through the same pool: on threads, in processes, on a Dask cluster.

The generic pool, ``Pool(workers, count_primes)``, runs 200 jobs of pure-Python
CPU work (about 20 ms each) three times, changing nothing but ``executor=``:

1. on its worker threads (the GIL lets one run at a time: no speed-up);
2. with ``executor=ProcessPoolExecutor(n)``: each worker hands its job to a
   process and waits for the result, so the jobs run in parallel while the
   pool keeps its flow control (``workers`` bounds the jobs in flight,
   backpressure, ``results()``, failures, cancellation);
3. with ``executor=Client(LocalCluster(...)).get_executor()``: the same on a
   Dask cluster of ``n`` worker processes started here (skipped, with a
   message, if ``distributed`` is not installed: ``pip install 'gopool[dask]'``).

It prints the wall time of each (executors started and warmed up beforehand,
outside the timing) and checks that the three give the same results. The pool
never shuts an executor down: the ``with`` blocks here do. ``--fast`` runs 40
jobs of the same size instead (each job must stay large beside the cost of
handing it to a process, or processes lose their lead).

    python examples/cpu_bound.py [--fast]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

try:
    from gopool.pools import Pool
except ModuleNotFoundError:  # a checkout where gopool is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from gopool.pools import Pool


def count_primes(n: int) -> int:
    """The number of primes below ``n``, by trial division: pure-Python CPU work."""
    count = 0
    for k in range(2, n):
        d = 2
        while d * d <= k:
            if k % d == 0:
                break
            d += 1
        else:
            count += 1
    return count


def mp_context() -> multiprocessing.context.BaseContext:
    # fork() from a process running threads can deadlock the child: start
    # the worker processes from a clean server process instead.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


@contextmanager
def dask_executor(n: int) -> Iterator[Executor | None]:
    """A Dask executor on a local cluster of ``n`` worker processes; None without Dask."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        yield None
        return
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    try:
        with Client(cluster) as client:  # type: ignore[no-untyped-call]
            yield client.get_executor()
    finally:
        cluster.close()


def timed(
    label: str, workers: int, jobs: list[int], executor: Executor | None
) -> tuple[float, list[int]]:
    start = time.perf_counter()
    results = list(Pool(workers, count_primes, executor=executor).map(jobs, ordered=True))
    wall = time.perf_counter() - start
    print(f"{label:34} {wall:6.2f} s", flush=True)
    return wall, results


def warm(executor: Executor, n: int) -> None:
    """Run a few tiny jobs, so that every worker process is up before the timing."""
    for f in [executor.submit(count_primes, 10) for _ in range(4 * n)]:
        f.result()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--fast", action="store_true", help="40 jobs instead of 200, each as large")
    args = p.parse_args(argv)
    size, count = (20_000, 40) if args.fast else (20_000, 200)
    jobs = [size + i for i in range(count)]
    n = max(1, min(os.cpu_count() or 1, 4))
    workers = 2 * n  # a job waiting in each process while one runs: no idle gap
    print(f"{count} jobs: count_primes(n) for n in [{size}, {size + count}), {workers} workers")

    base, expected = timed("threads", workers, jobs, None)
    with ProcessPoolExecutor(n, mp_context=mp_context()) as processes:
        warm(processes, n)
        wall, got = timed(f"ProcessPoolExecutor({n})", workers, jobs, processes)
        print(f"{'':34} {base / wall:6.2f}x threads; same results: {got == expected}")
    with dask_executor(n) as dask:
        if dask is None:
            print("Dask: skipped (distributed is not installed: pip install 'gopool[dask]')")
        else:
            warm(dask, n)
            wall, got = timed(f"Dask LocalCluster({n} processes)", workers, jobs, dask)
            print(f"{'':34} {base / wall:6.2f}x threads; same results: {got == expected}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
