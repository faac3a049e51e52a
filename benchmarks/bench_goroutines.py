"""The cost of a goroutine against a plain ``threading.Thread``, from one run.

Three pairs, each gopool case beside its anchor, interleaved repetitions,
medians:

* start: ``go(f)`` against ``threading.Thread(target=f, daemon=True).start()``
  for ``N`` threads whose ``f`` returns at once; the clock stops once every
  one has been started (then they are joined, off the clock). A second row
  times the same in one loop, in alternating batches of 250 (the order
  swapped each batch), so that a drift in the machine's speed, which moves
  two separate runs of ``N`` starts apart by more than 10%, hits both
  sides alike; its ratio is the median of the repetitions' ratios;
* short goroutines: ``wg.go(f, i)`` ``N`` times then ``wg.wait()``, against
  ``Thread(target=f, args=(i,))`` started and then all joined;
* Pike's daisy chain: ``N`` goroutines, each blocked receiving from the
  channel on its right and sending to the one on its left, started, then one
  value sent through all of them; against ``N`` plain threads doing the
  same over the same channels, so only the start differs.

The target (the issue "Real Go programs port whole", item 9): each ratio
within 10% of the plain thread (ratio <= 1.10).

    python benchmarks/bench_goroutines.py            # N = 20,000 / 10,000 (daisy), 5 repetitions
    python benchmarks/bench_goroutines.py --quick    # N = 5,000 / 2,000, 3 repetitions
    python benchmarks/bench_goroutines.py --profile  # cProfile of the gopool start path
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _harness as h
from _machine import machine

from gopool import Chan, WaitGroup, go

Metrics = h.Metrics


def _nothing(i: int = 0) -> None:
    pass


def start_go(n: int) -> Metrics:
    t0, c0 = time.perf_counter(), time.thread_time()
    threads = [go(_nothing) for _ in range(n)]
    elapsed, cpu = time.perf_counter() - t0, time.thread_time() - c0
    for t in threads:
        t.join()
    return {"seconds": elapsed, "cpu": cpu, "items": n}


def start_thread(n: int) -> Metrics:
    t0, c0 = time.perf_counter(), time.thread_time()
    threads = []
    for _ in range(n):
        t = threading.Thread(target=_nothing, daemon=True)
        t.start()
        threads.append(t)
    elapsed, cpu = time.perf_counter() - t0, time.thread_time() - c0
    for t in threads:
        t.join()
    return {"seconds": elapsed, "cpu": cpu, "items": n}


def _starts(n: int, start: Callable[[], threading.Thread]) -> tuple[float, float]:
    """Wall and CPU seconds to start ``n`` threads with ``start()``; joined after timing."""
    t0, c0 = time.perf_counter(), time.thread_time()
    threads = [start() for _ in range(n)]
    elapsed, cpu = time.perf_counter() - t0, time.thread_time() - c0
    for t in threads:
        t.join()
    return elapsed, cpu


def _plain_start() -> threading.Thread:
    t = threading.Thread(target=_nothing, daemon=True)
    t.start()
    return t


def start_alternating(n: int, batch: int = 250) -> Metrics:
    """``go(f)`` and a plain start in alternating batches of ``batch``, their order
    swapped each time: a drift of the machine's speed hits both alike."""
    ours = [0.0, 0.0]
    plain = [0.0, 0.0]
    for b in range(n // batch):
        order = [(ours, lambda: go(_nothing)), (plain, _plain_start)]
        for acc, start in order if b % 2 == 0 else order[::-1]:
            wall, cpu = _starts(batch, start)
            acc[0] += wall
            acc[1] += cpu
    return {
        "seconds": ours[0],
        "cpu": ours[1],
        "anchor_seconds": plain[0],
        "anchor_cpu": plain[1],
        "items": n // batch * batch,
    }


def short_wg_go(n: int) -> Metrics:
    t0, c0 = time.perf_counter(), time.thread_time()
    wg = WaitGroup()
    for i in range(n):
        wg.go(_nothing, i)
    wg.wait()
    return {"seconds": time.perf_counter() - t0, "cpu": time.thread_time() - c0, "items": n}


def short_thread(n: int) -> Metrics:
    t0, c0 = time.perf_counter(), time.thread_time()
    threads = []
    for i in range(n):
        t = threading.Thread(target=_nothing, args=(i,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return {"seconds": time.perf_counter() - t0, "cpu": time.thread_time() - c0, "items": n}


def _link(left: Chan[int], right: Chan[int]) -> None:
    left.send(1 + right.recv())


def _daisy(n: int, start: Callable[[Chan[int], Chan[int]], object]) -> Metrics:
    leftmost: Chan[int] = Chan()
    left = leftmost
    t0, c0 = time.perf_counter(), time.thread_time()
    for _ in range(n):
        right: Chan[int] = Chan()
        start(left, right)
        left = right
    started, cpu = time.perf_counter() - t0, time.thread_time() - c0
    left.send(1)
    got = leftmost.recv()
    total = time.perf_counter() - t0
    assert got == n + 1, got
    return {"seconds": started, "cpu": cpu, "total": total, "items": n}


def daisy_go(n: int) -> Metrics:
    return _daisy(n, lambda left, right: go(_link, left, right))


def daisy_thread(n: int) -> Metrics:
    def start(left: Chan[int], right: Chan[int]) -> None:
        threading.Thread(target=_link, args=(left, right), daemon=True).start()

    return _daisy(n, start)


PAIRS = [
    ("start: `go(f)` vs `Thread(target=f).start()`", "start_go", "start_thread", "n"),
    (
        "short goroutines: `wg.go(f, i)` + `wait()` vs Thread start + join",
        "short_wg_go",
        "short_thread",
        "n",
    ),
    (
        "Pike's daisy chain: start N blocked goroutines vs plain threads",
        "daisy_go",
        "daisy_thread",
        "daisy",
    ),
]


def _per_item(
    raw: dict[str, list[Metrics]], key: str, name: str = "seconds"
) -> tuple[float, float]:
    per = [m[name] / m["items"] for m in raw[key]]
    return h.median(per), h.half_range(per) / h.median(per)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    h.add_run_arguments(parser, "N = 5,000 (daisy 2,000), 3 repetitions")
    h.add_json_argument(parser)
    parser.add_argument("--profile", action="store_true", help="profile go()'s start path")
    args = parser.parse_args(argv)
    n, daisy = (5_000, 2_000) if args.quick else (20_000, 10_000)
    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(start_go, n)
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        return
    sizes = {"n": n, "daisy": daisy}
    cases = {}
    for _, ours, anchor, size in PAIRS:
        for key in (ours, anchor):
            cases[key] = (lambda f, k: lambda: f(k))(globals()[key], sizes[size])
    cases["start_alternating"] = lambda: start_alternating(n)
    command = h.command_line()
    info = machine(["_goroutines.py"])
    raw = h.run_interleaved(cases, h.reps_of(parser, args))
    info["load_average_at_end"] = h.load_average()
    rows = []
    for title, ours, anchor, size in PAIRS:
        mine, mine_spread = _per_item(raw, ours)
        theirs, their_spread = _per_item(raw, anchor)
        ratio = mine / theirs
        cpu_ratio = _per_item(raw, ours, "cpu")[0] / _per_item(raw, anchor, "cpu")[0]
        rows.append(
            {
                "benchmark": f"{title}, N = {sizes[size]:,}",
                "gopool": f"{mine * 1e6:.1f} us each ±{mine_spread:.0%}"
                + (f" ({mine * sizes[size]:.2f} s)" if size == "daisy" else ""),
                "anchor": f"{theirs * 1e6:.1f} us each ±{their_spread:.0%}"
                + (f" ({theirs * sizes[size]:.2f} s)" if size == "daisy" else ""),
                "ratio": f"{ratio:.2f}x (CPU {cpu_ratio:.2f}x)",
                "target": "<= 1.10x",
                "met": "yes" if ratio <= 1.10 else "no",
            }
        )
    per_rep = raw["start_alternating"]
    ratios = [m["seconds"] / m["anchor_seconds"] for m in per_rep]
    cpu_ratios = [m["cpu"] / m["anchor_cpu"] for m in per_rep]
    ratio = h.median(ratios)
    mine = h.median([m["seconds"] / m["items"] for m in per_rep])
    theirs = h.median([m["anchor_seconds"] / m["items"] for m in per_rep])
    rows.insert(
        1,
        {
            "benchmark": "start, alternating batches of 250 in one loop: `go(f)` vs "
            f"`Thread(target=f).start()`, N = {n:,} each",
            "gopool": f"{mine * 1e6:.1f} us each",
            "anchor": f"{theirs * 1e6:.1f} us each",
            "ratio": f"{ratio:.2f}x ±{h.half_range(ratios) / ratio:.0%} "
            f"(CPU {h.median(cpu_ratios):.2f}x)",
            "target": "<= 1.10x",
            "met": "yes" if ratio <= 1.10 else "no",
        },
    )
    method = [
        "method: medians of interleaved repetitions, each gopool figure and its anchor "
        "from this one run; ± is half the min-max range over the median; (CPU x) is "
        "the ratio of the starting thread's CPU time, which other processes disturb less",
    ]
    lines = h.header("gopool goroutine cost", command, info, method)
    text = "\n".join([*lines, "", *h.rows_table(rows)])
    h.emit(text, {"command": command, "machine": info, "rows": rows, "raw": raw}, args.json)


if __name__ == "__main__":
    main()
