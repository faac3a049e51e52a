"""CPU-bound jobs past the GIL: the generic pool on threads, over processes, over Dask,
and, with ``--free-threaded``, on the threads of a free-threaded CPython beside a GIL one.

The executors section (the default): 200 jobs of about 20 ms of pure-Python CPU
work each (an integer loop, its length calibrated on this machine at start) run
through:

* one thread, a plain loop: the baseline every speed-up is measured against;
* ``Pool(4, f)``: the pool on its own threads (the GIL: no speed-up);
* ``Pool(4, f, executor=ProcessPoolExecutor(2))``: each worker hands its job
  to a process and waits for it, so at most 4 jobs are in flight;
* ``ProcessPoolExecutor(2).map(f, jobs)``: the standard library's own way,
  every job submitted at once: what the pool's flow control may cost;
* ``Pool(4, f, executor=client.get_executor())`` on a Dask ``LocalCluster``
  of 2 worker processes with one thread each; the same with 8 workers
  (more jobs in flight hide the round trip through the scheduler); and
  ``client.map`` + ``client.gather`` on that same cluster as Dask's own
  baseline (all skipped if ``distributed`` is not installed).

The executors are created once, before any timing, and warmed up (every
worker process has run jobs). Every figure is the median of the
repetitions, interleaved (each repetition runs every case once, in a
rotated order), so a slow spell on a shared machine spreads over all cases;
``±`` is half the min-max range, and ``best`` the fastest run (load from
other processes only ever adds time). Every run's results are checked against
the one-thread results. The last lines check the issue's targets: the pool
over 2 processes at least 1.7x faster than on threads, and within 10% of
``ProcessPoolExecutor(2).map``; the Dask executor completes every job with
the same results.

The free-threaded section (``--free-threaded``) runs the same workloads in
several interpreters in one sitting, by default this one and the
free-threaded CPython at ``/opt/python-ft`` (with ``PYTHON_GIL=0``), each
repetition a child process per interpreter, the interpreters alternating:

* CPU-bound jobs through ``Pool(w, f)`` on threads, ``w`` = 1, 2 and 4:
  throughput, and the speed-up over one worker (the GIL allows none);
* a buffered ``Chan(1024)`` with 2 producer and 2 consumer threads, against
  the same over a minimal bounded buffer (a ``deque`` and two ``Condition``s
  on one lock, ``queue.Queue`` without its bookkeeping);
* ``select`` over 4 ``Chan(1024)``, one producer each, 2 consumer threads;
* ``Pool(4, f).map`` over 100,000 trivial jobs ``x + 1`` against
  ``ThreadPoolExecutor(4).map``;
* a park-and-wake ping-pong between two threads through a lock, a pipe
  and a ``queue.SimpleQueue``; and an unbuffered ``Pool(3, f, buffer=0)``
  fed by 6 producer threads, every job two hand-offs between parked
  threads.

``--busy N`` keeps N busy-looping processes running beside every
repetition (an oversubscribed machine, where 3.13t's locks spin).

Its last lines check the issue's targets: on the free-threaded interpreter,
CPU-bound jobs on 2 workers at least 1.8x one worker's throughput, and the
trivial jobs' ratio against the executor within 10% of the GIL
interpreter's.

    python benchmarks/bench_scale.py            # 200 jobs, 5 repetitions (about 2 minutes)
    python benchmarks/bench_scale.py --quick    # 50 jobs, 3 repetitions
    python benchmarks/bench_scale.py --free-threaded           # this Python and 3.13t
    python benchmarks/bench_scale.py --free-threaded --pythons A B ...
    python benchmarks/bench_scale.py --free-threaded --busy 2  # beside 2 busy processes
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import multiprocessing
import os
import subprocess
import sys
import sysconfig
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from queue import SimpleQueue
from typing import Any

try:
    from gopool import Chan, nilchan, select
    from gopool.pools import Pool
except ModuleNotFoundError:  # a checkout where gopool is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from gopool import Chan, nilchan, select
    from gopool.pools import Pool

import _harness as h  # this folder
from _harness import Metrics
from _machine import machine, python_build

JOB_SECONDS = 0.020
WORKERS = 4
PROCESSES = 2


def spin(job: tuple[int, int]) -> int:
    """``iterations`` steps of a linear congruential generator from ``seed``: pure CPU."""
    seed, iterations = job
    x = seed
    for _ in range(iterations):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def calibrate() -> int:
    """The iteration count that makes one ``spin`` take about JOB_SECONDS here."""
    n = 10_000
    while True:
        start = time.perf_counter()
        spin((1, n))
        if time.perf_counter() - start > 0.005:
            break
        n *= 2
    # Then about half a second of job-sized samples, keeping the fastest: the
    # speed of an unloaded CPU, which a burst of load elsewhere only slows.
    n = max(1, round(n * JOB_SECONDS / 0.005))
    per_iteration = min(_time_spin(n) for _ in range(25)) / n
    return max(1, round(JOB_SECONDS / per_iteration))


def _time_spin(n: int) -> float:
    start = time.perf_counter()
    spin((1, n))
    return time.perf_counter() - start


def mp_context() -> multiprocessing.context.BaseContext:
    # fork() from a process running threads can deadlock the child; a fork
    # server starts the processes from a clean, single-threaded one.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def warm(executor: Executor, iterations: int) -> None:
    """Run enough jobs that every worker process has started and run ``spin``."""
    futures = [executor.submit(spin, (i, iterations // 10)) for i in range(4 * PROCESSES)]
    for f in futures:
        f.result()


def timed_check(run: Callable[[], list[int]], reference: Callable[[], list[int]]) -> Metrics:
    """``run()``'s wall seconds, and ``wrong`` = 1 if its results differ from ``reference()``."""
    start = time.perf_counter()
    got = run()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "wrong": float(got != reference())}


# -- the executors section --


def executors_section(args: argparse.Namespace, repeat: int) -> int:
    n_jobs = args.jobs or (50 if args.quick else 200)
    command = h.command_line()
    info = machine()
    iterations = calibrate()
    jobs = [(seed, iterations) for seed in range(n_jobs)]
    reference = [spin(j) for j in jobs]  # and a warm-up of this process

    cases: dict[str, Callable[[], list[int]]] = {}
    labels: dict[str, str] = {}
    processes = ProcessPoolExecutor(PROCESSES, mp_context=mp_context())
    cluster: Any = None
    client: Any = None
    dask_note = ""
    try:
        warm(processes, iterations)
        labels["one"] = "one thread, a plain loop"
        cases["one"] = lambda: [spin(j) for j in jobs]
        labels["threads"] = f"Pool({WORKERS}, f) on threads"
        cases["threads"] = lambda: list(Pool(WORKERS, spin).map(jobs, ordered=True))
        labels["pool-ppe"] = f"Pool({WORKERS}, f, executor=ProcessPoolExecutor({PROCESSES}))"
        cases["pool-ppe"] = lambda: list(
            Pool(WORKERS, spin, executor=processes).map(jobs, ordered=True)
        )
        labels["ppe-map"] = f"ProcessPoolExecutor({PROCESSES}).map(f, jobs)"
        cases["ppe-map"] = lambda: list(processes.map(spin, jobs))
        if args.no_dask:
            dask_note = "Dask: left out (--no-dask)"
        else:
            try:
                from distributed import Client, LocalCluster
            except ImportError:
                dask_note = (
                    "Dask: skipped (distributed is not installed: pip install 'gopool[dask]')"
                )
            else:
                cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=PROCESSES,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
                client = Client(cluster)  # type: ignore[no-untyped-call]
                dask = client.get_executor()
                warm(dask, iterations)
                labels["pool-dask"] = (
                    f"Pool({WORKERS}, f, executor=client.get_executor()), "
                    f"LocalCluster({PROCESSES} processes)"
                )
                cases["pool-dask"] = lambda: list(
                    Pool(WORKERS, spin, executor=dask).map(jobs, ordered=True)
                )
                labels["pool8-dask"] = (
                    f"Pool({2 * WORKERS}, f, executor=client.get_executor()), same cluster"
                )
                cases["pool8-dask"] = lambda: list(
                    Pool(2 * WORKERS, spin, executor=dask).map(jobs, ordered=True)
                )
                labels["dask-map"] = "client.gather(client.map(f, jobs)), same cluster"
                # pure=False: a fresh task every time, as the pool's executor runs.
                cases["dask-map"] = lambda: list(client.gather(client.map(spin, jobs, pure=False)))
        raw = h.run_interleaved(
            {
                name: (lambda run=run: timed_check(run, lambda: reference))
                for name, run in cases.items()
            },  # type: ignore[misc]
            repeat,
            order="rotate",
        )
    finally:
        processes.shutdown(wait=True, cancel_futures=True)
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    info["load_average_at_end"] = h.load_average()

    names = list(cases)
    times = {name: [m["seconds"] for m in raw[name]] for name in names}
    wrong = {name: int(sum(m["wrong"] for m in raw[name])) for name in names}
    med = {name: h.median_of(raw, name) for name in names}
    base = med["one"]
    best = {name: min(ts) for name, ts in times.items()}
    rows = [
        [
            labels[name],
            f"{med[name]:.3f}",
            f"{h.half_range(times[name]):.3f}",
            f"{best[name]:.3f}",
            f"{base / med[name]:.2f}x",
            "all exact" if wrong[name] == 0 else f"WRONG in {wrong[name]} runs",
        ]
        for name in names
    ]
    method = [
        f"{n_jobs} jobs of spin({iterations:,} iterations), about {JOB_SECONDS * 1000:g} ms"
        f" each on one thread; medians of {repeat} interleaved repetitions (rotated order),"
        " executors made and warmed up outside the timing",
        f"one job on one thread, measured: {base / n_jobs * 1000:.1f} ms (median run)",
    ]
    lines = [
        *h.header("gopool CPU-bound jobs: threads, processes, Dask", command, info, method),
        "",
        *h.table(
            ["case", "median s", "± s", "best s", "speed-up over one thread", "results"],
            rows,
            right=[False, True, True, True, True, False],
        ),
    ]
    if dask_note:
        lines += ["", dask_note]
    lines += ["", "every run, in seconds, in order:"]
    lines += [f"  {labels[name]}: {', '.join(f'{t:.3f}' for t in times[name])}" for name in names]

    speedup = med["threads"] / med["pool-ppe"]
    gap = med["pool-ppe"] / med["ppe-map"] - 1
    checks = [
        (
            f"Pool over ProcessPoolExecutor({PROCESSES}) vs Pool on threads: "
            f"{speedup:.2f}x faster (target >= 1.7x)",
            speedup >= 1.7,
        ),
        (
            f"Pool over ProcessPoolExecutor({PROCESSES}) vs its .map: "
            f"{gap:+.1%} (target within 10%)",
            gap <= 0.10,
        ),
    ]
    if "pool-dask" in cases:
        checks.append(
            (
                f"Pool over Dask: every job completed, same results in all {repeat} runs",
                wrong["pool-dask"] == 0,
            )
        )
    lines.append("")
    lines += [f"{'PASS' if passed else 'FAIL'}  {text}" for text, passed in checks]
    # Load from other processes only ever adds time: the best runs show the
    # same ratios with the least of it (for reference; the checks use medians).
    lines.append(
        f"(best runs: {best['threads'] / best['pool-ppe']:.2f}x threads, "
        f"{best['pool-ppe'] / best['ppe-map'] - 1:+.1%} vs .map)"
    )
    print("\n".join(lines))
    failed = any(wrong.values()) or not all(passed for _, passed in checks)
    return 1 if failed else 0


# -- the free-threaded section: the workloads, run in a child per interpreter --

FT_WORKERS = (1, 2, 4)
CAP = 1024
TRIVIAL_JOBS = 100_000


class DequeBuffer:
    """The minimal bounded buffer, the channels' anchor: a ``deque`` and two Conditions
    on one lock (``queue.Queue`` without its task accounting), closable like a channel."""

    def __init__(self, cap: int) -> None:
        self._items: deque[int] = deque()
        self._cap = cap
        self._closed = False
        lock = threading.Lock()
        self._not_empty = threading.Condition(lock)
        self._not_full = threading.Condition(lock)

    def put(self, v: int) -> None:
        with self._not_full:
            while len(self._items) >= self._cap:
                self._not_full.wait()
            self._items.append(v)
            self._not_empty.notify()

    def get(self) -> int | None:
        """The next item; None once closed and drained."""
        with self._not_empty:
            while not self._items:
                if self._closed:
                    return None
                self._not_empty.wait()
            v = self._items.popleft()
            self._not_full.notify()
            return v

    def close(self) -> None:
        with self._not_empty:
            self._closed = True
            self._not_empty.notify_all()


def _run_threads(targets: list[Callable[[], int]]) -> list[int]:
    """Start every target in its own thread at once; their results once all have ended."""
    out = [0] * len(targets)

    def run(i: int) -> None:
        out[i] = targets[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _check_sum(total: int, n: int) -> float:
    return float(total != n * (n - 1) // 2)


def _two_by_two(
    n: int, put: Callable[[int], None], drain: Callable[[], int], close: Callable[[], None]
) -> Metrics:
    """2 producers ``put`` n ints in all; the last one done calls ``close``; 2 consumers
    ``drain`` (each returns the sum of what it took)."""
    done = threading.Barrier(2, action=close)

    def produce(first: int) -> int:
        for v in range(first, n, 2):
            put(v)
        done.wait()
        return 0

    start = time.perf_counter()
    sums = _run_threads([lambda: produce(0), lambda: produce(1), drain, drain])
    return {"seconds": time.perf_counter() - start, "items": n, "wrong": _check_sum(sum(sums), n)}


def chan_throughput(n: int) -> Metrics:
    """2 producers and 2 consumers over one ``Chan(1024)``: n ints in all."""
    ch: Chan[int] = Chan(CAP)
    return _two_by_two(n, ch.send, lambda: sum(ch), ch.close)


def deque_throughput(n: int) -> Metrics:
    """The same over :class:`DequeBuffer`."""
    buf = DequeBuffer(CAP)
    return _two_by_two(n, buf.put, lambda: sum(iter(buf.get, None)), buf.close)


def select_throughput(n: int) -> Metrics:
    """4 producers, each on its own ``Chan(1024)``; 2 consumers select over all 4."""
    chans = [Chan[int](CAP) for _ in range(4)]

    def produce(k: int) -> int:
        for v in range(k, n, 4):
            chans[k].send(v)
        chans[k].close()
        return 0

    def consume() -> int:
        live: list[Chan[Any]] = list(chans)
        total = 0
        while any(c is not nilchan for c in live):
            i, (v, ok) = select(*(c.recv_ok for c in live))
            if ok:
                total += v
            else:
                live[i] = nilchan  # closed and drained: stop selecting on it, as in Go
        return total

    start = time.perf_counter()
    producers: list[Callable[[], int]] = [lambda k=k: produce(k) for k in range(4)]  # type: ignore[misc]
    sums = _run_threads([*producers, consume, consume])
    return {"seconds": time.perf_counter() - start, "items": n, "wrong": _check_sum(sum(sums), n)}


def trivial(x: int) -> int:
    return x + 1


def _count(results: Any, n: int) -> float:
    return float(sum(1 for _ in results) != n)


def pool_trivial(n: int) -> Metrics:
    start = time.perf_counter()
    wrong = _count(Pool(4, trivial).map(range(n)), n)
    return {"seconds": time.perf_counter() - start, "items": n, "wrong": wrong}


def pool_unbuffered(per_producer: int) -> Metrics:
    """``Pool(3, f, buffer=0)`` fed by 6 producer threads and read by one consumer: every
    job is handed from a waiting submit to a worker, then from the worker to the reader."""
    producers = 6
    n = producers * per_producer
    pool: Pool[int, int] = Pool(3, trivial, buffer=0)
    pool.start()

    def produce(k: int) -> int:
        for v in range(k, n, producers):
            pool.submit(v)
        return 0

    def consume() -> int:
        return sum(pool.results())

    got: list[int] = []
    start = time.perf_counter()
    reader = threading.Thread(target=lambda: got.append(consume()))
    reader.start()
    _run_threads([lambda k=k: produce(k) for k in range(producers)])  # type: ignore[misc]
    pool.close()
    reader.join()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "items": n, "wrong": float(got != [n * (n + 1) // 2])}


def executor_trivial(n: int) -> Metrics:
    start = time.perf_counter()
    with ThreadPoolExecutor(4) as ex:
        wrong = _count(ex.map(trivial, range(n)), n)
    return {"seconds": time.perf_counter() - start, "items": n, "wrong": wrong}


def _ping_pong(
    n: int, make: Callable[[], tuple[Callable[[], object], Callable[[], object]]]
) -> Metrics:
    """Two threads hand a token back and forth ``n`` times through two one-way signals
    (``make()`` returns one's give and take): every take parks and is woken."""
    (give_a, take_a), (give_b, take_b) = make(), make()

    def other() -> None:
        for _ in range(n):
            take_a()
            give_b()

    t = threading.Thread(target=other)
    t.start()
    start = time.perf_counter()
    for _ in range(n):
        give_a()
        take_b()
    seconds = time.perf_counter() - start
    t.join()
    return {"seconds": seconds, "items": n, "wrong": 0.0}


def lock_signal() -> tuple[Callable[[], object], Callable[[], object]]:
    """A held ``threading.Lock``: the taker parks in ``acquire()`` until the giver releases
    it (as a gopool waiter parks)."""
    lock = threading.Lock()
    lock.acquire()
    return lock.release, lock.acquire


def queue_signal() -> tuple[Callable[[], object], Callable[[], object]]:
    """A ``queue.SimpleQueue``: the taker parks in ``get()`` until the giver puts."""
    q: SimpleQueue[None] = SimpleQueue()
    return (lambda: q.put(None)), q.get


def pipe_signal() -> tuple[Callable[[], object], Callable[[], object]]:
    """A pipe: the taker parks in ``os.read`` until the giver writes a byte."""
    r, w = os.pipe()
    return (lambda: os.write(w, b"x")), (lambda: os.read(r, 1))


def ft_cases(iterations: int, quick: bool) -> dict[str, Callable[[], Metrics]]:
    """The free-threaded section's workloads, by key, in this interpreter."""
    n_cpu = 16 if quick else 48
    jobs = [(seed, iterations) for seed in range(n_cpu)]
    reference = [spin(j) for j in jobs[:4]]
    n_items = 20_000 if quick else 200_000
    n_trivial = TRIVIAL_JOBS // 10 if quick else TRIVIAL_JOBS

    def cpu(workers: int) -> Metrics:
        start = time.perf_counter()
        got = list(Pool(workers, spin).map(jobs, ordered=True))
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "items": n_cpu, "wrong": float(got[:4] != reference)}

    cases: dict[str, Callable[[], Metrics]] = {
        f"cpu-{w}": (lambda w=w: cpu(w))
        for w in FT_WORKERS  # type: ignore[misc]
    }
    cases["chan"] = lambda: chan_throughput(n_items)
    cases["deque"] = lambda: deque_throughput(n_items)
    cases["select"] = lambda: select_throughput(n_items)
    cases["pool-trivial"] = lambda: pool_trivial(n_trivial)
    cases["executor-trivial"] = lambda: executor_trivial(n_trivial)
    n_trips = 2_000 if quick else 10_000
    cases["park-lock"] = lambda: _ping_pong(n_trips, lock_signal)
    cases["park-pipe"] = lambda: _ping_pong(n_trips, pipe_signal)
    cases["park-queue"] = lambda: _ping_pong(n_trips, queue_signal)
    cases["pool-unbuffered"] = lambda: pool_unbuffered(100 if quick else 300)
    return cases


def with_cpu(run: Callable[[], Metrics]) -> Metrics:
    """``run()``'s metrics and the process CPU seconds it took (``cpu``): on a shared
    machine CPU time is disturbed less by other processes than wall time."""
    started = time.process_time()
    metrics = run()
    metrics["cpu"] = time.process_time() - started
    return metrics


def ft_child(args: argparse.Namespace) -> int:
    """One repetition of every workload here; JSON on stdout: the build and the metrics."""
    if args.calibrate:
        json.dump({"iterations": calibrate()}, sys.stdout)
        return 0
    cases = ft_cases(args.iterations, args.quick)
    for run in cases.values():  # a warm-up: imports, caches, the first threads
        if args.warm:
            run()
    keys = list(cases)
    shift = args.rep % len(keys)
    order = keys[shift:] + keys[:shift]
    raw = h.run_interleaved(
        {k: (lambda run=cases[k]: with_cpu(run)) for k in order},  # type: ignore[misc]
        1,
        progress=False,
    )
    json.dump({"python": python_build(), "metrics": {k: v[0] for k, v in raw.items()}}, sys.stdout)
    return 0


# -- the free-threaded section: the driver --

FT_PYTHON = "/opt/python-ft/bin/python3.13t"


@functools.cache
def _free_threaded(python: str) -> bool:
    """Whether ``python`` is a free-threaded build (its children then run with the GIL off)."""
    out = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_config_var('Py_GIL_DISABLED'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return out == "1"


def _child(python: str, *flags: str) -> dict[str, Any]:
    """Run this script's child mode in ``python``; its JSON answer."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH")])
    )
    if _free_threaded(python):
        env["PYTHON_GIL"] = "0"
    proc = subprocess.run(
        [python, __file__, "--ft-child", *flags], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise SystemExit(f"{python} {' '.join(flags)} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def free_threaded_section(args: argparse.Namespace, repeat: int) -> int:
    pythons: list[str] = args.pythons or [sys.executable]
    if not args.pythons and not sysconfig.get_config_var("Py_GIL_DISABLED"):
        if not Path(FT_PYTHON).exists():
            raise SystemExit(f"no free-threaded Python at {FT_PYTHON}: name them with --pythons")
        pythons.append(FT_PYTHON)
    command = h.command_line()
    info = machine()
    quick = ["--quick"] if args.quick else []
    iterations = {py: _child(py, "--calibrate")["iterations"] for py in pythons}
    raw: dict[str, dict[str, list[Metrics]]] = {py: {} for py in pythons}
    builds: dict[str, str] = {}
    # Started after the calibration, which must see the machine's own speed.
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        for rep in range(repeat):
            for k in range(len(pythons)):
                py = pythons[(rep + k) % len(pythons)]
                print(f"  rep {rep + 1}/{repeat}: {py}", file=sys.stderr, flush=True)
                flags = ["--iterations", str(iterations[py]), "--rep", str(rep), *quick]
                out = _child(py, *flags, *(["--warm"] if rep == 0 else []))
                builds[py] = out["python"]
                for key, m in out["metrics"].items():
                    raw[py].setdefault(key, []).append(m)
        info["load_average_at_end"] = h.load_average()
    finally:
        for p in busy:
            p.kill()
            p.wait()
    text = render_free_threaded(command, info, pythons, builds, iterations, raw, repeat, args.busy)
    print(text)
    return (
        1
        if any(_wrong(raw[py]) for py in pythons) or not _ft_targets(pythons, builds, raw)[1]
        else 0
    )


def _wrong(raw: dict[str, list[Metrics]]) -> int:
    return int(sum(m["wrong"] for ms in raw.values() for m in ms))


def _rate(raw: dict[str, list[Metrics]], key: str) -> float:
    return raw[key][0]["items"] / h.median_of(raw, key)


def _ft_targets(
    pythons: list[str], builds: dict[str, str], raw: dict[str, dict[str, list[Metrics]]]
) -> tuple[list[str], bool]:
    """The issue's two targets, as PASS/FAIL lines, and whether both hold."""
    free = [py for py in pythons if "GIL off" in builds[py]]
    gil = [py for py in pythons if "free-threaded" not in builds[py]]
    if not free or not gil:
        return ["(the targets need one GIL and one free-threaded interpreter)"], True
    ft, base = raw[free[0]], raw[gil[0]]
    speedup = _rate(ft, "cpu-2") / _rate(ft, "cpu-1")
    ratio_ft = h.median_of(ft, "executor-trivial") / h.median_of(ft, "pool-trivial")
    ratio_gil = h.median_of(base, "executor-trivial") / h.median_of(base, "pool-trivial")
    checks = [
        (
            f"{builds[free[0]]}: CPU-bound jobs, Pool(2) {speedup:.2f}x Pool(1)'s throughput"
            " (target >= 1.8x)",
            speedup >= 1.8,
        ),
        (
            f"trivial jobs, Pool(4).map vs ThreadPoolExecutor(4).map: {ratio_ft:.2f}x on the"
            f" free-threaded build, {ratio_gil:.2f}x on {builds[gil[0]]}"
            f" ({ratio_ft / ratio_gil - 1:+.0%}; target within 10%)",
            ratio_ft >= 0.9 * ratio_gil,
        ),
    ]
    return [f"{'PASS' if ok else 'FAIL'}  {text}" for text, ok in checks], all(
        ok for _, ok in checks
    )


def render_free_threaded(
    command: str,
    info: dict[str, Any],
    pythons: list[str],
    builds: dict[str, str],
    iterations: dict[str, int],
    raw: dict[str, dict[str, list[Metrics]]],
    repeat: int,
    busy: int = 0,
) -> str:
    def row(label: str, cell: Callable[[dict[str, list[Metrics]]], str]) -> list[str]:
        return [label, *(cell(raw[py]) for py in pythons)]

    def rate(key: str, unit: str) -> Callable[[dict[str, list[Metrics]]], str]:
        return lambda r: f"{_rate(r, key):,.0f} {unit}/s"

    def ratio(top: str, bottom: str) -> Callable[[dict[str, list[Metrics]]], str]:
        return lambda r: f"{_rate(r, top) / _rate(r, bottom):.2f}x"

    def cpu_each(key: str, unit: str) -> Callable[[dict[str, list[Metrics]]], str]:
        return lambda r: f"{h.median_of(r, key, 'cpu') / r[key][0]['items'] * 1e6:.2f} us/{unit}"

    def trip(key: str) -> Callable[[dict[str, list[Metrics]]], str]:
        def cell(r: dict[str, list[Metrics]]) -> str:
            n = r[key][0]["items"]
            wall, cpu = h.median_of(r, key) / n * 1e6, h.median_of(r, key, "cpu") / n * 1e6
            return f"{wall:.1f} us (CPU {cpu:.1f} us)"

        return cell

    n_trivial = next(iter(raw.values()))["pool-trivial"][0]["items"]
    n_items = next(iter(raw.values()))["chan"][0]["items"]
    n_trips = next(iter(raw.values()))["park-lock"][0]["items"]
    n_unbuffered = next(iter(raw.values()))["pool-unbuffered"][0]["items"]
    rows = [
        [
            "one CPU-bound job: spin(iterations), calibrated to this many",
            *(f"{iterations[py]:,} ({JOB_SECONDS * 1000:g} ms)" for py in pythons),
        ],
        row("CPU-bound jobs, Pool(1, f) on threads", rate("cpu-1", "jobs")),
        *(
            row(
                f"CPU-bound jobs, Pool({w}, f): throughput over Pool(1, f)",
                ratio(f"cpu-{w}", "cpu-1"),
            )
            for w in FT_WORKERS[1:]
        ),
        row(f"Chan({CAP}), 2 producers + 2 consumers, {n_items:,} ints", rate("chan", "items")),
        row("the same over deque + 2 Conditions", rate("deque", "items")),
        row("Chan over deque + Conditions", ratio("chan", "deque")),
        row(
            f"select over 4 Chan({CAP}), 4 producers, 2 consumers, {n_items:,} ints",
            rate("select", "items"),
        ),
        row(f"Pool(4, f).map, {n_trivial:,} x (x + 1)", rate("pool-trivial", "jobs")),
        row("ThreadPoolExecutor(4).map, the same", rate("executor-trivial", "jobs")),
        row(
            "Pool(4).map over ThreadPoolExecutor(4).map", ratio("pool-trivial", "executor-trivial")
        ),
        row("the same, process CPU per job: Pool(4).map", cpu_each("pool-trivial", "job")),
        row(
            "the same, process CPU per job: ThreadPoolExecutor(4).map",
            cpu_each("executor-trivial", "job"),
        ),
        row("Chan(1024), 2 + 2 threads: process CPU per item", cpu_each("chan", "item")),
        row(f"park and wake through a threading.Lock, {n_trips:,} round trips", trip("park-lock")),
        row("the same through os.pipe (os.read parks in the kernel)", trip("park-pipe")),
        row("the same through queue.SimpleQueue", trip("park-queue")),
        row(
            f"Pool(3, f, buffer=0), 6 producers, 1 reader: {n_unbuffered:,} jobs",
            rate("pool-unbuffered", "jobs"),
        ),
        row("results", lambda r: "all exact" if not _wrong(r) else f"WRONG in {_wrong(r)} runs"),
    ]
    method = [
        f"medians of {repeat} repetitions; each repetition runs every workload once in a"
        " child process per interpreter, the interpreters alternating, so every column"
        " comes from the same sitting; throughputs are items (or jobs) per second of wall"
        " time, ratios are of those medians",
        *(f"{builds[py]}: `{py}`" for py in pythons),
    ]
    if busy:
        method.append(
            f"an oversubscribed machine: {busy} busy-looping processes"
            " (`python -c 'while True: pass'`) ran beside every repetition"
        )
    lines = [
        *h.header("gopool on free-threaded CPython: scaling on cores", command, info, method),
        "",
        *h.table(
            ["workload", *(builds[py] for py in pythons)],
            rows,
            right=[False, *(True for _ in pythons)],
        ),
        "",
        *_ft_targets(pythons, builds, raw)[0],
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    h.add_run_arguments(parser, "50 jobs (16 in the free-threaded section), 3 repetitions")
    parser.add_argument("--jobs", type=int, default=None, help="number of jobs (default 200)")
    parser.add_argument("--no-dask", action="store_true", help="leave the Dask rows out")
    parser.add_argument(
        "--free-threaded",
        action="store_true",
        help=f"the free-threaded section: this Python beside {FT_PYTHON}, or --pythons",
    )
    parser.add_argument("--pythons", nargs="+", help="the interpreters to compare")
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        metavar="N",
        help="free-threaded section: keep N busy-looping processes running meanwhile",
    )
    # The free-threaded section's child, one repetition in one interpreter.
    parser.add_argument("--ft-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--calibrate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--iterations", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--rep", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ft_child:
        return ft_child(args)
    repeat = h.reps_of(parser, args)
    if args.free_threaded or args.pythons:
        return free_threaded_section(args, repeat)
    return executors_section(args, repeat)


if __name__ == "__main__":
    sys.exit(main())
