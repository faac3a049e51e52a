"""gopool's channel between threads and asyncio tasks, against janus, culsans and aiologic.

Rows (one table from one run, every figure and its anchors measured in the
same process, interleaved, medians of the repetitions):

1. Thread to task: one producer thread, one consumer task, a buffer of 1024.
   ``ch.send(i)`` / ``async for v in ch`` against ``q.sync_q.put(i)`` /
   ``await q.async_q.get()`` (janus, culsans) and ``q.green_put(i)`` /
   ``await q.async_get()`` (aiologic).
2. Task to thread: the same, the other way round.
3. Task to task on one loop: ``await ch.async_send(i)`` / ``async for`` against
   ``asyncio.Queue(1024)``'s ``put``/``get``.

The comparison libraries are benchmark-only dependencies, never gopool's::

    python -m venv /tmp/bench-asyncio
    /tmp/bench-asyncio/bin/pip install janus culsans aiologic
    /tmp/bench-asyncio/bin/python benchmarks/bench_asyncio.py            # about 1 minute
    /tmp/bench-asyncio/bin/python benchmarks/bench_asyncio.py --quick    # fewer items
    /tmp/bench-asyncio/bin/python benchmarks/bench_asyncio.py --profile thread_to_task_gopool

A library that is not installed is left out of the table (its column says so).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import io
import pstats
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

try:
    from gopool import Chan
except ImportError:  # run from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from gopool import Chan

import _harness as h  # this folder
from _harness import Metrics
from _machine import machine as _machine_info

CAP = 1024


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


janus = _optional("janus")
culsans = _optional("culsans")
aiologic = _optional("aiologic")


# -- the two ends of each kind of queue: (put from a thread, get in a task) and back --


class Ends:
    """A queue's four operations, so every row runs the same loop over each library."""

    def __init__(
        self,
        sync_put: Callable[[Any], None],
        sync_get: Callable[[], Any],
        async_put: Callable[[Any], Awaitable[None]],
        async_get: Callable[[], Awaitable[Any]],
    ) -> None:
        self.sync_put, self.sync_get = sync_put, sync_get
        self.async_put, self.async_get = async_put, async_get


def gopool_ends() -> Ends:
    ch: Chan[int | None] = Chan(CAP)
    return Ends(ch.send, ch.recv, ch.async_send, ch.async_recv)


def janus_ends() -> Ends:
    q = janus.Queue(CAP)
    return Ends(q.sync_q.put, q.sync_q.get, q.async_q.put, q.async_q.get)


def culsans_ends() -> Ends:
    q = culsans.Queue(CAP)
    return Ends(q.sync_q.put, q.sync_q.get, q.async_q.put, q.async_q.get)


def aiologic_ends() -> Ends:
    q = aiologic.Queue(maxsize=CAP)
    return Ends(q.green_put, q.green_get, q.async_put, q.async_get)


def asyncio_ends() -> Ends:
    q: asyncio.Queue[int | None] = asyncio.Queue(CAP)
    return Ends(q.put_nowait, q.get_nowait, q.put, q.get)


LIBRARIES: dict[str, tuple[Callable[[], Ends], object]] = {
    "gopool": (gopool_ends, True),
    "janus": (janus_ends, janus),
    "culsans": (culsans_ends, culsans),
    "aiologic": (aiologic_ends, aiologic),
}


def _check(total: int, n: int) -> None:
    if total != n * (n - 1) // 2:
        raise AssertionError(f"checksum {total}, expected {n * (n - 1) // 2}")


async def thread_to_task(make: Callable[[], Ends], n: int) -> Metrics:
    ends = make()
    start = threading.Event()

    def produce() -> None:
        start.wait()
        for i in range(n):
            ends.sync_put(i)
        ends.sync_put(None)

    producer = threading.Thread(target=produce)
    producer.start()
    total = 0
    get = ends.async_get
    t0, c0 = time.perf_counter(), time.process_time()
    start.set()
    while (v := await get()) is not None:
        total += v
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    producer.join()
    _check(total, n)
    return {"seconds": elapsed, "cpu": cpu, "items": n}


async def thread_to_task_async_for(n: int) -> Metrics:
    """The gopool consumer as it would be written: ``async for v in ch``."""
    ch: Chan[int] = Chan(CAP)
    start = threading.Event()

    def produce() -> None:
        start.wait()
        for i in range(n):
            ch.send(i)
        ch.close()

    producer = threading.Thread(target=produce)
    producer.start()
    total = 0
    t0, c0 = time.perf_counter(), time.process_time()
    start.set()
    async for v in ch:
        total += v
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    producer.join()
    _check(total, n)
    return {"seconds": elapsed, "cpu": cpu, "items": n}


async def task_to_thread(make: Callable[[], Ends], n: int) -> Metrics:
    ends = make()
    result: list[int] = []

    def consume() -> None:
        total = 0
        get = ends.sync_get
        while (v := get()) is not None:
            total += v
        result.append(total)

    consumer = threading.Thread(target=consume)
    consumer.start()
    put = ends.async_put
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        await put(i)
    await put(None)
    # The consumer's thread is joined off the loop, which must stay free to
    # wake the producer when the buffer fills.
    await asyncio.to_thread(consumer.join)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    _check(result[0], n)
    return {"seconds": elapsed, "cpu": cpu, "items": n}


async def task_to_task(make: Callable[[], Ends], n: int) -> Metrics:
    ends = make()

    async def produce() -> None:
        for i in range(n):
            await ends.async_put(i)
        await ends.async_put(None)

    total = 0
    get = ends.async_get
    t0, c0 = time.perf_counter(), time.process_time()
    producer = asyncio.create_task(produce())
    while (v := await get()) is not None:
        total += v
    await producer
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    _check(total, n)
    return {"seconds": elapsed, "cpu": cpu, "items": n}


def benchmarks(items: int) -> dict[str, Callable[[], Metrics]]:
    """Every benchmark by key, each run on a fresh event loop in the calling thread."""
    benches: dict[str, Callable[[], Metrics]] = {}
    for name, (make, available) in LIBRARIES.items():
        if not available:
            continue
        benches[f"thread_to_task_{name}"] = _on_loop(thread_to_task, make, items)
        benches[f"task_to_thread_{name}"] = _on_loop(task_to_thread, make, items)
    benches["thread_to_task_gopool_async_for"] = lambda: asyncio.run(
        thread_to_task_async_for(items)
    )
    benches["task_to_task_gopool"] = _on_loop(task_to_task, gopool_ends, items)
    benches["task_to_task_asyncio"] = _on_loop(task_to_task, asyncio_ends, items)
    return benches


def _on_loop(
    bench: Callable[[Callable[[], Ends], int], Awaitable[Metrics]],
    make: Callable[[], Ends],
    n: int,
) -> Callable[[], Metrics]:
    async def main() -> Metrics:
        return await bench(make, n)

    return lambda: asyncio.run(main())


def profile(items: int, key: str) -> str:
    """cProfile one benchmark (the loop's thread; the other thread is not profiled)."""
    benches = benchmarks(items)
    if key not in benches:
        raise SystemExit(f"--profile: unknown benchmark {key!r}; one of {', '.join(benches)}")
    benches[key]()
    prof = cProfile.Profile()
    prof.enable()
    try:
        metrics = benches[key]()
    finally:
        prof.disable()
    out = io.StringIO()
    out.write(f"{key}: {metrics} (under cProfile: absolute times are inflated)\n")
    pstats.Stats(prof, stream=out).strip_dirs().sort_stats("tottime").print_stats(20)
    return out.getvalue()


def run_all(items: int, reps: int) -> dict[str, list[Metrics]]:
    """Every benchmark ``reps`` times, interleaved (every other round backwards)."""
    benches = benchmarks(items)
    for bench in benches.values():  # warm-up, outside the figures
        bench()
    return h.run_interleaved(benches, reps)


def _rate(raw: dict[str, list[Metrics]], key: str) -> float | None:
    if key not in raw:
        return None
    return raw[key][0]["items"] / h.median_of(raw, key)


def _cell(rate: float | None) -> str:
    if rate is None:
        return "not installed"
    return f"{rate / 1e3:,.0f} k/s"


def rows(raw: dict[str, list[Metrics]]) -> list[list[str]]:
    """One row per direction: gopool and every anchor, then gopool's ratio to each."""
    out = []
    for direction, label in (
        ("thread_to_task", "thread -> task"),
        ("task_to_thread", "task -> thread"),
    ):
        ours = _rate(raw, f"{direction}_gopool")
        cells = [label, _cell(ours)]
        for lib in ("janus", "culsans", "aiologic"):
            theirs = _rate(raw, f"{direction}_{lib}")
            ratio = f" ({ours / theirs:.2f}x)" if ours and theirs else ""
            cells.append(_cell(theirs) + ratio)
        cells.append("")
        out.append(cells)
    ours_for = _rate(raw, "thread_to_task_gopool_async_for")
    out.append(["thread -> task, `async for`", _cell(ours_for), "", "", "", ""])
    ours, theirs = _rate(raw, "task_to_task_gopool"), _rate(raw, "task_to_task_asyncio")
    ratio = f" ({ours / theirs:.2f}x)" if ours and theirs else ""
    out.append(["task -> task, one loop", _cell(ours), "", "", "", _cell(theirs) + ratio])
    return out


def render(command: str, info: dict[str, Any], reps: int, table: list[list[str]]) -> str:
    versions = ", ".join(
        f"{name} {getattr(mod, '__version__', '?')}"
        for name, mod in (("janus", janus), ("culsans", culsans), ("aiologic", aiologic))
        if mod is not None
    )
    method = [
        f"anchors: {versions or 'none installed'}",
        f"method: items per second through a buffer of {CAP}, medians of {reps} interleaved"
        " repetitions, every figure from this one run; (Nx) is gopool's rate over that column's",
    ]
    columns = ["direction", "gopool Chan", "janus", "culsans", "aiologic", "asyncio.Queue"]
    lines = h.header("gopool between threads and asyncio tasks", command, info, method)
    return "\n".join([*lines, "", *h.table(columns, table)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    h.add_run_arguments(parser, "fewer items, 3 repetitions")
    parser.add_argument("--profile", metavar="BENCHMARK", help="cProfile one benchmark")
    args = parser.parse_args(argv)
    items = 20_000 if args.quick else 200_000
    reps = h.reps_of(parser, args)
    if args.profile:
        print(profile(items, args.profile))
        return
    command = h.command_line()
    info = _machine_info(["chan.py", "_aio.py"])
    raw = run_all(items, reps)
    info["load_average_at_end"] = h.load_average()
    print(render(command, info, reps, rows(raw)))


if __name__ == "__main__":
    main()
