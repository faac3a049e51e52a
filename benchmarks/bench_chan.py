"""gopool's channels against the standard library's ``queue.Queue``, in one table.

Every row's gopool figure and its anchor are measured in the same process,
interleaved (repetition 1 of every benchmark, then repetition 2, ...; every
other repetition runs the list backwards), and reported as medians, so a
change in machine load during the run hits both sides of a ratio alike.

Rows:

1. Buffered throughput: one producer thread, one consumer, capacity 1024.
   ``for v in ch`` and a plain ``ch.recv()`` loop against
   ``while (v := q.get()) is not None`` on ``queue.Queue(1024)``.
2. Unbuffered ping-pong: two threads bouncing an int over a ``Chan()`` pair
   against a pair of ``queue.Queue(1)``; unpinned, then with every thread of
   the process pinned to one CPU (cross-CPU wake-ups dominate the unpinned
   figure on a small VM).
3. ``select`` over 4 buffered channels, each fed by its own producer, against
   polling 4 queues (``get_nowait`` on each in turn, a 100 us sleep when all
   are empty: the pattern ``select`` exists to replace); and the cost of a
   selected item against a plain ``recv`` from one channel.
4. 50 threads blocked for 2 s in ``Chan.recv`` against 50 in ``Queue.get``:
   the process CPU time they cost, and how often they were switched in.

The polling loop and the "wait until all 50 are parked" loop live here, in
the harness, as baselines and set-up; gopool itself never polls.

Usage::

    python benchmarks/bench_chan.py                    # full run, about 2 minutes
    python benchmarks/bench_chan.py --quick            # fewer items and repetitions
    python benchmarks/bench_chan.py --json out.json    # the table, and raw data to a file
    python benchmarks/bench_chan.py --json             # JSON on stdout instead of the table
    python benchmarks/bench_chan.py --profile buffered_chan_for  # cProfile, per thread
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

try:
    from gopool import Chan, nilchan, select
except ImportError:  # run from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from gopool import Chan, nilchan, select

import _harness as h  # this folder
from _harness import Metrics
from _machine import machine as _machine_info

CAP = 1024
BLOCKED_THREADS = 50


# -- threads: every benchmark thread is started here, so --profile can see it --

_thread_profiles: list[tuple[str, cProfile.Profile]] | None = None
_thread_profiles_lock = threading.Lock()


def _spawn(target: Callable[..., object], *args: Any) -> threading.Thread:
    run = target
    if _thread_profiles is not None:
        profiles = _thread_profiles

        def run(*a: Any) -> object:
            prof = cProfile.Profile()
            with _thread_profiles_lock:
                profiles.append((threading.current_thread().name, prof))
            prof.enable()
            try:
                return target(*a)
            finally:
                prof.disable()

    thread = threading.Thread(target=run, args=args, name=f"bench-{target.__name__}")
    thread.start()
    return thread


def _check(what: str, got: int, expected: int) -> None:
    if got != expected:
        raise AssertionError(f"{what}: checksum {got}, expected {expected}")


def _sum_range(n: int) -> int:
    return n * (n - 1) // 2


# -- producers --


def _chan_producer(ch: Chan[int], n: int, start: threading.Event) -> None:
    start.wait()
    for i in range(n):
        ch.send(i)
    ch.close()


def _queue_producer(q: queue.Queue[int | None], n: int, start: threading.Event) -> None:
    start.wait()
    for i in range(n):
        q.put(i)
    q.put(None)


# -- 1. buffered throughput --


def buffered_chan_for(n: int) -> Metrics:
    ch = Chan[int](CAP)
    start = threading.Event()
    producer = _spawn(_chan_producer, ch, n, start)
    total = 0
    t0, c0 = time.perf_counter(), time.process_time()
    start.set()
    for v in ch:
        total += v
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    producer.join()
    _check("buffered chan for-loop", total, _sum_range(n))
    return {"seconds": elapsed, "cpu": cpu, "items": n}


def buffered_chan_recv(n: int) -> Metrics:
    ch = Chan[int](CAP)
    start = threading.Event()
    producer = _spawn(_chan_producer, ch, n, start)
    total = 0
    t0, c0 = time.perf_counter(), time.process_time()
    start.set()
    while (v := ch.recv()) is not None:
        total += v
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    producer.join()
    _check("buffered chan recv-loop", total, _sum_range(n))
    return {"seconds": elapsed, "cpu": cpu, "items": n}


def buffered_queue(n: int) -> Metrics:
    q: queue.Queue[int | None] = queue.Queue(CAP)
    start = threading.Event()
    producer = _spawn(_queue_producer, q, n, start)
    total = 0
    t0, c0 = time.perf_counter(), time.process_time()
    start.set()
    while (v := q.get()) is not None:
        total += v
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    producer.join()
    _check("buffered queue", total, _sum_range(n))
    return {"seconds": elapsed, "cpu": cpu, "items": n}


# -- 2. unbuffered ping-pong --


def _task_ids() -> list[int]:
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


@contextlib.contextmanager
def pinned(cpu: int) -> Iterator[None]:
    """Pin every thread of the process to ``cpu``; threads started inside inherit it."""
    saved: dict[int, set[int]] = {}
    for tid in _task_ids():
        try:
            saved[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, {cpu})
        except ProcessLookupError:
            pass
    try:
        yield
    finally:
        for tid, cpus in saved.items():
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(tid, cpus)


def _chan_echo(ping: Chan[int], pong: Chan[int]) -> None:
    for v in ping:
        pong.send(v)


def _queue_echo(ping: queue.Queue[int | None], pong: queue.Queue[int]) -> None:
    while (v := ping.get()) is not None:
        pong.put(v)


def pingpong_chan(n: int) -> Metrics:
    ping, pong = Chan[int](), Chan[int]()
    echo = _spawn(_chan_echo, ping, pong)
    total = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        ping.send(i)
        total += pong.recv() or 0
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    ping.close()
    echo.join()
    _check("ping-pong chan", total, _sum_range(n))
    return {"seconds": elapsed, "cpu": cpu, "items": n}


def pingpong_queue(n: int) -> Metrics:
    ping: queue.Queue[int | None] = queue.Queue(1)
    pong: queue.Queue[int] = queue.Queue(1)
    echo = _spawn(_queue_echo, ping, pong)
    total = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        ping.put(i)
        total += pong.get()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    ping.put(None)
    echo.join()
    _check("ping-pong queue", total, _sum_range(n))
    return {"seconds": elapsed, "cpu": cpu, "items": n}


def pinned_to(cpu: int, bench: Callable[[int], Metrics]) -> Callable[[int], Metrics]:
    def run(n: int) -> Metrics:
        with pinned(cpu):
            return bench(n)

    run.__name__ = f"{bench.__name__}_pinned"
    return run


# -- 3. select over 4 channels --


def select_chan(n: int) -> Metrics:
    per = n // 4
    chans = [Chan[int](CAP) for _ in range(4)]
    start = threading.Event()
    producers = [_spawn(_chan_producer, ch, per, start) for ch in chans]
    cases: list[Any] = [ch.recv_ok for ch in chans]
    still_open = len(cases)
    total = 0
    t0, c0 = time.perf_counter(), time.process_time()
    start.set()
    while still_open:
        i, (v, ok) = select(*cases)
        if ok:
            total += v
        else:
            # Go's idiom: a drained channel's case becomes a nil channel's,
            # which is never ready.
            cases[i] = nilchan.recv_ok
            still_open -= 1
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    for p in producers:
        p.join()
    _check("select over 4 chans", total, 4 * _sum_range(per))
    return {"seconds": elapsed, "cpu": cpu, "items": 4 * per}


def select_polling(n: int) -> Metrics:
    per = n // 4
    queues: list[queue.Queue[int | None]] = [queue.Queue(CAP) for _ in range(4)]
    start = threading.Event()
    producers = [_spawn(_queue_producer, q, per, start) for q in queues]
    live = list(queues)
    total = 0
    sleeps = 0
    t0, c0 = time.perf_counter(), time.process_time()
    start.set()
    while live:
        got = False
        for q in tuple(live):
            try:
                v = q.get_nowait()
            except queue.Empty:
                continue
            got = True
            if v is None:
                live.remove(q)
            else:
                total += v
        if not got:
            sleeps += 1
            time.sleep(100e-6)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    for p in producers:
        p.join()
    _check("polling 4 queues", total, 4 * _sum_range(per))
    return {"seconds": elapsed, "cpu": cpu, "items": 4 * per, "sleeps": sleeps}


def plain_recv(n: int) -> Metrics:
    """The anchor of a select's cost: as many items, one channel, one producer."""
    return buffered_chan_recv(4 * (n // 4))


# -- 4. blocked threads --


def _ctxt_switches(tid: int) -> int:
    """Voluntary plus involuntary context switches of thread ``tid`` so far."""
    total = 0
    with open(f"/proc/self/task/{tid}/status") as f:
        for line in f:
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def _wait_parked(parked: Callable[[], int], n: int) -> None:
    # Set-up only: wait until every thread is parked before measuring.
    deadline = time.monotonic() + 30.0
    while parked() < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {parked()} of {n} threads parked after 30 s")
        time.sleep(0.001)


def _measure_blocked(threads: list[threading.Thread], seconds: float) -> Metrics:
    tids = [t.native_id for t in threads if t.native_id is not None]
    can_count = os.path.exists("/proc/self/task")
    sw0 = sum(_ctxt_switches(t) for t in tids) if can_count else 0
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    sw1 = sum(_ctxt_switches(t) for t in tids) if can_count else 0
    return {
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "wakeups": float(sw1 - sw0) if can_count else float("nan"),
        "threads": float(len(threads)),
    }


def blocked_chan(seconds: float) -> Metrics:
    ch = Chan[int]()
    threads = [_spawn(ch.recv) for _ in range(BLOCKED_THREADS)]
    _wait_parked(lambda: int(ch.statistics()["receivers_waiting"]), BLOCKED_THREADS)
    metrics = _measure_blocked(threads, seconds)
    ch.close()
    for t in threads:
        t.join()
    return metrics


def blocked_queue(seconds: float) -> Metrics:
    q: queue.Queue[int | None] = queue.Queue()
    threads = [_spawn(q.get) for _ in range(BLOCKED_THREADS)]

    def parked() -> int:
        with q.mutex:
            return len(q.not_empty._waiters)  # type: ignore[attr-defined]

    _wait_parked(parked, BLOCKED_THREADS)
    metrics = _measure_blocked(threads, seconds)
    for _ in threads:
        q.put(None)
    for t in threads:
        t.join()
    return metrics


# -- the run --


class Config:
    def __init__(self, quick: bool, reps: int, cpu: int | None) -> None:
        self.quick = quick
        self.reps = reps
        self.items = 20_000 if quick else 200_000
        self.round_trips = 2_000 if quick else 20_000
        self.select_items = 20_000 if quick else 200_000
        self.blocked_seconds = 0.5 if quick else 2.0
        self.can_pin = hasattr(os, "sched_setaffinity")
        self.cpu = cpu
        if self.cpu is None and self.can_pin:
            self.cpu = max(os.sched_getaffinity(0))


def benchmarks(cfg: Config) -> dict[str, tuple[Callable[[Any], Metrics], Any]]:
    """Every benchmark by key: the function and its size argument."""
    benches: dict[str, tuple[Callable[[Any], Metrics], Any]] = {
        "buffered_chan_for": (buffered_chan_for, cfg.items),
        "buffered_chan_recv": (buffered_chan_recv, cfg.items),
        "buffered_queue": (buffered_queue, cfg.items),
        "pingpong_chan": (pingpong_chan, cfg.round_trips),
        "pingpong_queue": (pingpong_queue, cfg.round_trips),
    }
    if cfg.can_pin and cfg.cpu is not None:
        benches["pingpong_chan_pinned"] = (pinned_to(cfg.cpu, pingpong_chan), cfg.round_trips)
        benches["pingpong_queue_pinned"] = (pinned_to(cfg.cpu, pingpong_queue), cfg.round_trips)
    benches.update(
        {
            "select_chan": (select_chan, cfg.select_items),
            "select_polling": (select_polling, cfg.select_items),
            "plain_recv": (plain_recv, cfg.select_items),
            "blocked_chan": (blocked_chan, cfg.blocked_seconds),
            "blocked_queue": (blocked_queue, cfg.blocked_seconds),
        }
    )
    return benches


def _warm_up(benches: dict[str, tuple[Callable[[Any], Metrics], Any]]) -> None:
    for key, (fn, size) in benches.items():
        if key.startswith("blocked_"):
            continue
        fn(max(size // 20, 400))


def run_all(cfg: Config, progress: bool) -> dict[str, list[Metrics]]:
    benches = benchmarks(cfg)
    _warm_up(benches)
    cases = {key: partial(fn, size) for key, (fn, size) in benches.items()}
    return h.run_interleaved(cases, cfg.reps, progress=progress)


def _rate(raw: dict[str, list[Metrics]], key: str) -> float:
    return raw[key][0]["items"] / h.median_of(raw, key)


def _fmt_rate(rate: float, unit: str) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.2f} M {unit}/s"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f} k {unit}/s"
    return f"{rate:.0f} {unit}/s"


def build_rows(cfg: Config, raw: dict[str, list[Metrics]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def throughput_row(
        name: str,
        key: str,
        anchor: str,
        anchor_name: str,
        unit: str,
        target: str,
        threshold: float | None,
    ) -> None:
        mine, theirs = _rate(raw, key), _rate(raw, anchor)
        ratio = mine / theirs
        # Process CPU per item: less disturbed than wall time by other
        # processes competing for the CPUs.
        cpu_ratio = h.median_of(raw, anchor, "cpu") / h.median_of(raw, key, "cpu")
        extra = ""
        if unit == "round trips":
            extra = f" ({1e6 / mine:.1f} us each)"
            anchor_extra = f" ({1e6 / theirs:.1f} us each)"
        else:
            anchor_extra = ""
        rows.append(
            {
                "benchmark": name,
                "gopool": _fmt_rate(mine, unit) + extra + f" ±{h.spread_of(raw, key):.0%}",
                "anchor": f"{anchor_name}: "
                + _fmt_rate(theirs, unit)
                + anchor_extra
                + f" ±{h.spread_of(raw, anchor):.0%}",
                "ratio": f"{ratio:.2f}x (CPU {cpu_ratio:.2f}x)",
                "target": target,
                "met": "-" if threshold is None else ("yes" if ratio >= threshold else "NO"),
                "values": {
                    "gopool_per_s": mine,
                    "anchor_per_s": theirs,
                    "ratio": ratio,
                    "cpu_ratio": cpu_ratio,
                },
            }
        )

    n = f"{cfg.items:,}"
    throughput_row(
        f"1. buffered, cap {CAP}, {n} ints, 1 producer: `for v in ch`",
        "buffered_chan_for",
        "buffered_queue",
        f"`queue.Queue({CAP})`, `while (v := q.get()) is not None`",
        "items",
        ">= 2x (aim 3x)",
        2.0,
    )
    throughput_row(
        f"1. buffered, cap {CAP}, {n} ints, 1 producer: `while (v := ch.recv()) is not None`",
        "buffered_chan_recv",
        "buffered_queue",
        f"`queue.Queue({CAP})`, same loop",
        "items",
        ">= 2x (aim 3x)",
        2.0,
    )
    rt = f"{cfg.round_trips:,}"
    throughput_row(
        f"2. unbuffered ping-pong, `Chan()` pair, {rt} round trips, unpinned",
        "pingpong_chan",
        "pingpong_queue",
        "`queue.Queue(1)` pair",
        "round trips",
        "(cross-CPU wake-ups; informative)",
        None,
    )
    if "pingpong_chan_pinned" in raw:
        throughput_row(
            f"2. unbuffered ping-pong, {rt} round trips, all threads pinned to CPU {cfg.cpu}",
            "pingpong_chan_pinned",
            "pingpong_queue_pinned",
            "`queue.Queue(1)` pair",
            "round trips",
            ">= 1.2x",
            1.2,
        )
    s = f"{cfg.select_items:,}"
    throughput_row(
        f"3. `select` over 4 `Chan({CAP})`, 4 producers, {s} ints in all",
        "select_chan",
        "select_polling",
        "polling 4 `queue.Queue`s (`get_nowait` each in turn, 100 us sleep when all are"
        f" empty; slept {h.median_of(raw, 'select_polling', 'sleeps'):.0f} times per run)",
        "items",
        ">= 1.5x",
        1.5,
    )
    sel_cost = h.median_of(raw, "select_chan") / raw["select_chan"][0]["items"]
    plain_cost = h.median_of(raw, "plain_recv") / raw["plain_recv"][0]["items"]
    cost_ratio = sel_cost / plain_cost
    cpu_cost_ratio = h.median_of(raw, "select_chan", "cpu") / h.median_of(raw, "plain_recv", "cpu")
    if cost_ratio <= 3:
        met = "yes"
    elif cost_ratio <= 5:
        met = "no (within the 5x limit)"
    else:
        met = "NO (over the 5x limit)"
    rows.append(
        {
            "benchmark": "3. cost per item: `select` over 4 channels vs plain `recv()` from one",
            "gopool": f"select: {sel_cost * 1e6:.2f} us/item"
            f" ±{h.spread_of(raw, 'select_chan'):.0%}",
            "anchor": f"plain `recv()`, 1 producer: {plain_cost * 1e6:.2f} us/item"
            f" ±{h.spread_of(raw, 'plain_recv'):.0%}",
            "ratio": f"{cost_ratio:.2f}x (CPU {cpu_cost_ratio:.2f}x)",
            "target": "<= 3x (must be <= 5x)",
            "met": met,
            "values": {
                "select_s_per_item": sel_cost,
                "plain_s_per_item": plain_cost,
                "ratio": cost_ratio,
                "cpu_ratio": cpu_cost_ratio,
            },
        }
    )
    cpu_c = h.median_of(raw, "blocked_chan", "cpu_seconds")
    cpu_q = h.median_of(raw, "blocked_queue", "cpu_seconds")
    wk_c = h.median_of(raw, "blocked_chan", "wakeups")
    wk_q = h.median_of(raw, "blocked_queue", "wakeups")
    secs = f"{cfg.blocked_seconds:g}"
    rows.append(
        {
            "benchmark": f"4. {BLOCKED_THREADS} threads blocked {secs} s: `Chan.recv`",
            "gopool": f"process CPU {cpu_c * 1e3:.2f} ms, {wk_c:.0f} wake-ups",
            "anchor": f"`Queue.get`: process CPU {cpu_q * 1e3:.2f} ms, {wk_q:.0f} wake-ups",
            "ratio": "-",
            "target": "no CPU, no wake-ups",
            "met": "yes" if wk_c == 0 and cpu_c < 0.01 * cfg.blocked_seconds else "NO",
            "values": {
                "gopool_cpu_s": cpu_c,
                "anchor_cpu_s": cpu_q,
                "gopool_wakeups": wk_c,
                "anchor_wakeups": wk_q,
            },
        }
    )
    return rows


# -- the report --


def machine() -> dict[str, Any]:
    return _machine_info(["chan.py"])


def render(cfg: Config, command: str, info: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    method = [
        f"method: medians of {cfg.reps} interleaved repetitions, every figure and its"
        " anchor from this one run; ± is half the min-max range of the repetitions;"
        " (CPU x) is the same ratio on process CPU time, which other processes"
        " competing for the CPUs disturb less than wall time",
    ]
    lines = h.header("gopool channel benchmarks", command, info, method)
    return "\n".join([*lines, "", *h.rows_table(rows)])


def profile(cfg: Config, key: str) -> str:
    """cProfile one benchmark, each thread on its own, sorted by own time."""
    global _thread_profiles
    benches = benchmarks(cfg)
    if key not in benches:
        raise SystemExit(f"--profile: unknown benchmark {key!r}; one of {', '.join(benches)}")
    fn, size = benches[key]
    fn(max(size // 20, 400))
    _thread_profiles = []
    main_prof = cProfile.Profile()
    main_prof.enable()
    try:
        metrics = fn(size)
    finally:
        main_prof.disable()
    out = io.StringIO()
    out.write(f"{key}: {metrics} (under cProfile: absolute times are inflated)\n")
    for name, prof in [("main thread", main_prof), *_thread_profiles]:
        out.write(f"\n=== {name}\n")
        stats = pstats.Stats(prof, stream=out)
        stats.strip_dirs().sort_stats("tottime").print_stats(18)
    _thread_profiles = None
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    h.add_run_arguments(parser, "fewer items, 3 repetitions")
    parser.add_argument("--cpu", type=int, help="the CPU for the pinned ping-pong")
    h.add_json_argument(parser)
    parser.add_argument("--profile", metavar="BENCHMARK", help="cProfile one benchmark")
    args = parser.parse_args(argv)
    cfg = Config(args.quick, h.reps_of(parser, args), args.cpu)
    if args.profile:
        print(profile(cfg, args.profile))
        return
    command = h.command_line()
    info = machine()
    raw = run_all(cfg, progress=True)
    info["load_average_at_end"] = h.load_average()
    rows = build_rows(cfg, raw)
    report = {
        "command": command,
        "machine": info,
        "config": vars(cfg),
        "rows": rows,
        "raw": raw,
    }
    h.emit(render(cfg, command, info, rows), report, args.json)


if __name__ == "__main__":
    main()
