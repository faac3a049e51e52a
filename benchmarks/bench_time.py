"""gopool's timers, contexts and rate limiter, measured in one run, in one table.

Every figure comes from this one process. The benchmarks are interleaved
(repetition 1 of every benchmark, then repetition 2, ...; every other
repetition runs the list backwards) and the table shows medians of the
repetitions, so a change in machine load during the run hits every row alike.

Rows:

1. Timer lateness as the *receiver* sees it: ``time.monotonic()`` when the
   receiving code runs, minus the deadline (not the value the timer sends).
   The deadline is the time of the call that armed the timer plus the
   duration it passed. Planned deadlines are spread evenly over 1 s,
   starting ``LEAD`` s after set-up began, timers created in shuffled order
   (a timer that set-up reaches after its planned deadline is armed with 0,
   and the table says when that happened):

   a. 2,000 ``after()`` channels, one receiver draining them in deadline order;
   b. the same, drained by 50 receiver threads (each takes every 50th);
   c. 300 threads, each blocked in its own ``after(d).recv()``;
   d. 2,000 ``after()`` channels, one receiver doing ``select`` over the
      next 8 of them at a time;
   e. 2,000 ``after_func`` callbacks: when ``fn`` starts, minus the deadline;
   f. 10,000 ``after()`` timers
      due evenly over 0.05-0.25 s after the first is created, created in
      deadline order and fed to one receiver thread that drains them in that
      order (creating them takes about as long, so the creating thread
      competes with the timer and receiver threads for the GIL);
   g. the same 10,000 timers all created first (all pending), due evenly
      over 0.2 s starting ``ACCEPT_LEAD`` s after creation began, drained
      by one receiver in deadline order;
   h. 1a, and 300 ``after_func`` callbacks, while one CPU-bound
      pure-Python thread runs throughout (each wake-up must win the GIL
      from it), against 300 ``threading.Timer``s under the same load.

   The anchor is ``threading.Timer`` (one thread per timer): 300 of them
   over the same 1 s, lateness = when the callback runs minus the deadline.
   Each figure is the median over the repetitions of that repetition's
   median / 99th percentile (nearest rank); ``max`` is the worst of all,
   shown with the share of the machine's CPUs that other processes used
   during that repetition (from ``/proc/stat``), since on a shared machine
   the worst cases are mostly other processes holding the CPUs.
2. Threads used by 10,000 pending timers (``threading.active_count()``
   delta while they are pending) and the time to create and to stop them,
   against 300 ``threading.Timer``s: their per-timer thread count and
   times, extrapolated to 10,000 (clearly labelled, not measured).
3. Contexts: a ``with_cancel`` tree of 10,000 nodes (a root with 100
   children, each with 99 children) and a chain 10,000 deep: creation time,
   and the time for the root's ``cancel()`` to close every ``done()`` (every
   done channel is made first, and one thread blocked in ``recv()`` on each in
   turn reports when it has seen them all closed); 10,000 ``with_timeout``
   children of one parent: creation, threads added, cancelling the parent.
4. ``Limiter.allow()`` calls per second from 1 thread and from 4 threads
   together, with a high rate (almost every call succeeds) and with rate 1
   (almost every call fails); the anchor is a lock-guarded counter, the
   floor for any thread-safe ``allow()``.

The harness waits (sleeping 1 ms at a time) for set-up conditions such as
"the scheduler thread has exited" or "the receiver is parked"; gopool
itself never polls.

Usage::

    python benchmarks/bench_time.py                    # full run, about 2 minutes
    python benchmarks/bench_time.py --quick            # smaller sizes, 3 repetitions
    python benchmarks/bench_time.py --json out.json    # the table, and raw data to a file
    python benchmarks/bench_time.py --json             # JSON on stdout instead of the table
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

try:
    import gopool  # noqa: F401  (only to find the package, or fall back to the checkout)
except ImportError:  # run from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _harness as h  # this folder
from _harness import Metrics
from _machine import machine as _machine_info

from gopool import (
    Chan,
    Context,
    Limiter,
    RecvChan,
    Timer,
    after,
    after_func,
    background,
    nilchan,
    select,
    with_cancel,
    with_timeout,
)
from gopool.chan import RecvOnlyChan
from gopool.timers import pending_count, scheduler_thread

LEAD = 0.2  # seconds from the start of set-up to the first deadline
SPREAD = 1.0  # deadlines spread evenly over this many seconds
ACCEPT_LEAD = 0.5  # row 1g: first deadline this long after creation began
THREADING_TIMERS = 300
RECEIVER_THREADS = 50
SELECT_WIDTH = 8

monotonic = time.monotonic


# -- helpers --


def _wait_until(cond: Callable[[], bool], what: str, limit: float = 10.0) -> bool:
    """Set-up only: wait (1 ms sleeps) until ``cond()``; False if ``limit`` s pass first."""
    deadline = monotonic() + limit
    while not cond():
        if monotonic() > deadline:
            print(f"  warning: not {what} after {limit:g} s", file=sys.stderr, flush=True)
            return False
        time.sleep(0.001)
    return True


def _settle() -> None:
    """Wait until no timer is pending and the scheduler thread has exited."""
    _wait_until(
        lambda: pending_count() == 0 and scheduler_thread() is None,
        "idle (timers pending or scheduler thread alive)",
    )


_NCPU = os.cpu_count() or 1
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (stolen by the hypervisor included)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / _TICK


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    k = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[k - 1]


def _lateness(late: list[float]) -> Metrics:
    s = sorted(late)
    return {
        "n": float(len(s)),
        "p50": statistics.median(s),
        "p99": _percentile(s, 99),
        "max": s[-1],
        "min": s[0],
        "over_10ms": float(sum(1 for x in s if x > 0.010)),
    }


def _dues(t0: float, n: int, lead: float = LEAD, spread: float = SPREAD) -> list[float]:
    return [t0 + lead + spread * i / (n - 1) for i in range(n)]


def _shuffled(n: int, seed: int) -> list[int]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


def _arm(planned: float) -> tuple[float, float]:
    """The duration to pass now for a deadline ``planned``, and the deadline it sets.

    A planned deadline that set-up has already overtaken is armed with 0:
    lateness then counts from the arming call, not from a moment at which
    the timer did not exist yet.
    """
    now = monotonic()
    d = max(planned - now, 0.0)
    return d, now + d


def _create_after(n: int, seed: int) -> tuple[list[RecvChan[float]], list[float], Metrics]:
    """``n`` ``after()`` channels due over SPREAD s, created in shuffled order."""
    before = threading.active_count()
    t0 = monotonic()
    dues = _dues(t0, n)
    chans: list[RecvChan[float]] = [nilchan] * n
    for i in _shuffled(n, seed):
        d, dues[i] = _arm(dues[i])
        chans[i] = after(d)
    setup = {
        "setup_s": monotonic() - t0,
        "threads_added": float(threading.active_count() - before),
    }
    return chans, dues, setup


# -- 1. lateness --


def late_after_one(n: int) -> Metrics:
    """1a: one receiver drains ``n`` ``after()`` channels in deadline order."""
    chans, dues, setup = _create_after(n, 1)
    late = []
    for ch, due in zip(chans, dues, strict=True):
        ch.recv()
        late.append(monotonic() - due)
    return {**_lateness(late), **setup}


def late_after_many(n: int) -> Metrics:
    """1b: RECEIVER_THREADS threads, each draining every k-th channel in deadline order."""
    chans, dues, setup = _create_after(n, 2)
    got: list[list[float]] = [[] for _ in range(RECEIVER_THREADS)]

    def drain(k: int) -> None:
        mine = got[k]  # only this thread writes it
        for i in range(k, n, RECEIVER_THREADS):
            chans[i].recv()
            mine.append(monotonic() - dues[i])

    threads = [threading.Thread(target=drain, args=(k,)) for k in range(RECEIVER_THREADS)]
    t0 = monotonic()
    for t in threads:
        t.start()
    setup["setup_s"] += monotonic() - t0
    for t in threads:
        t.join()
    return {**_lateness([x for g in got for x in g]), **setup}


def late_after_each(n: int) -> Metrics:
    """1c: ``n`` threads, each blocked in its own ``after(d).recv()``."""
    lock = threading.Lock()
    late: list[float] = []
    t0 = monotonic()
    dues = _dues(t0, n)

    def one(planned: float) -> None:
        d, due = _arm(planned)
        after(d).recv()
        t = monotonic()
        with lock:
            late.append(t - due)

    threads = [threading.Thread(target=one, args=(dues[i],)) for i in _shuffled(n, 3)]
    for t in threads:
        t.start()
    setup = {"setup_s": monotonic() - t0}
    for t in threads:
        t.join()
    return {**_lateness(late), **setup}


def late_select(n: int) -> Metrics:
    """1d: one receiver, ``select`` over the next SELECT_WIDTH channels in deadline order."""
    chans, dues, setup = _create_after(n, 4)
    late = []
    for start in range(0, n, SELECT_WIDTH):
        group = range(start, min(start + SELECT_WIDTH, n))
        cases: list[Any] = [chans[i].recv for i in group]
        for _ in group:
            k, _ = select(*cases)
            late.append(monotonic() - dues[group[k]])
            cases[k] = nilchan.recv
    return {**_lateness(late), **setup}


def late_after_func(n: int) -> Metrics:
    """1e: ``n`` ``after_func`` callbacks; lateness = when ``fn`` starts minus the deadline."""
    lock = threading.Lock()
    late: list[float] = []
    all_ran = threading.Event()
    before = threading.active_count()
    t0 = monotonic()
    dues = _dues(t0, n)

    def fn(due: float) -> None:
        t = monotonic()
        with lock:
            late.append(t - due)
            if len(late) == n:
                all_ran.set()

    for i in _shuffled(n, 5):
        d, due = _arm(dues[i])
        after_func(d, partial(fn, due))  # runs even if the Timer is dropped
    setup = {
        "setup_s": monotonic() - t0,
        "threads_added": float(threading.active_count() - before),
    }
    if not all_ran.wait(SPREAD + LEAD + 60):
        raise RuntimeError(f"after_func: only {len(late)} of {n} callbacks ran")
    return {**_lateness(late), **setup}


def late_threading_timer(n: int) -> Metrics:
    """1 anchor: ``n`` ``threading.Timer``s; lateness = callback start minus deadline."""
    lock = threading.Lock()
    late: list[float] = []
    before = threading.active_count()
    t0 = monotonic()
    dues = _dues(t0, n)

    def cb(due: float) -> None:
        t = monotonic()
        with lock:
            late.append(t - due)

    timers = []
    for i in _shuffled(n, 6):
        d, due = _arm(dues[i])
        tm = threading.Timer(d, cb, args=(due,))
        tm.start()
        timers.append(tm)
    setup = {
        "setup_s": monotonic() - t0,
        "threads_added": float(threading.active_count() - before),
    }
    for tm in timers:
        tm.join()
    return {**_lateness(late), **setup}


def late_acceptance(n: int) -> Metrics:
    """1f: ``n`` timers due over 0.05-0.25 s, created in deadline order, one receiver thread.

    The receiver gets each channel as soon as it exists (through a buffered
    Chan that never blocks the creator), so it is in place before any
    deadline, however long creating all ``n`` takes.
    """
    feed: Chan[tuple[RecvChan[float], float]] = Chan(n)
    late: list[float] = []  # written by the receiver only, read after join

    def receive() -> None:
        for _ in range(n):
            item = feed.recv()
            assert item is not None
            ch, due = item
            ch.recv()
            late.append(monotonic() - due)

    receiver = threading.Thread(target=receive)
    receiver.start()
    before = threading.active_count()
    t0 = monotonic()
    for planned in _dues(t0, n, lead=0.05, spread=0.20):
        d, due = _arm(planned)
        feed.send((after(d), due))
    setup = {
        "setup_s": monotonic() - t0,
        "threads_added": float(threading.active_count() - before),
    }
    receiver.join()
    return {**_lateness(late), **setup}


def late_pending(n: int) -> Metrics:
    """1g: ``n`` timers all created first, due evenly over 0.2 s from ACCEPT_LEAD s after.

    The receiver (this thread) starts draining once every timer is pending;
    ``setup_s`` above ACCEPT_LEAD would mean some were due before that.
    """
    before = threading.active_count()
    t0 = monotonic()
    dues = _dues(t0, n, lead=ACCEPT_LEAD, spread=0.20)
    chans: list[RecvChan[float]] = []
    for i, planned in enumerate(dues):
        d, dues[i] = _arm(planned)
        chans.append(after(d))
    setup = {
        "setup_s": monotonic() - t0,
        "threads_added": float(threading.active_count() - before),
        "pending": float(pending_count()),
    }
    late = []
    for ch, due in zip(chans, dues, strict=True):
        ch.recv()
        late.append(monotonic() - due)
    return {**_lateness(late), **setup}


def _spin(stop: threading.Event) -> None:
    x = 0
    while not stop.is_set():
        for i in range(1000):
            x += i


def with_spinner(bench: Callable[[int], Metrics]) -> Callable[[int], Metrics]:
    """``bench`` while one CPU-bound pure-Python thread runs (it competes for the GIL)."""

    def run(n: int) -> Metrics:
        stop = threading.Event()
        spinner = threading.Thread(target=_spin, args=(stop,), name="bench-spinner")
        spinner.start()
        try:
            return bench(n)
        finally:
            stop.set()
            spinner.join()

    run.__name__ = f"{bench.__name__}_spinning"
    return run


# -- 2. threads for pending timers --


def pending_after(n: int) -> Metrics:
    """2: ``n`` pending ``after(3600)`` channels: threads added, creation time; then dropped."""
    before = threading.active_count()
    t0 = time.perf_counter()
    chans = [after(3600) for _ in range(n)]
    create = time.perf_counter() - t0
    threads = threading.active_count() - before
    pending = pending_count()
    sched = scheduler_thread()
    t0 = time.perf_counter()
    del chans
    gc.collect()
    drop = time.perf_counter() - t0
    left = pending_count()
    exited = True
    if sched is not None:
        sched.join(10)
        exited = not sched.is_alive()
    return {
        "create_s": create,
        "threads_added": float(threads),
        "pending": float(pending),
        "drop_s": drop,
        "pending_after_drop": float(left),
        "scheduler_exited": float(exited),
    }


def pending_timer(n: int) -> Metrics:
    """2: ``n`` pending ``Timer(3600)``: threads added, creation time; then ``stop()`` each."""
    before = threading.active_count()
    t0 = time.perf_counter()
    ts = [Timer(3600) for _ in range(n)]
    create = time.perf_counter() - t0
    threads = threading.active_count() - before
    pending = pending_count()
    sched = scheduler_thread()
    t0 = time.perf_counter()
    stopped = sum(t.stop() for t in ts)
    stop = time.perf_counter() - t0
    left = pending_count()
    exited = True
    if sched is not None:
        sched.join(10)
        exited = not sched.is_alive()
    return {
        "create_s": create,
        "threads_added": float(threads),
        "pending": float(pending),
        "stop_s": stop,
        "stopped": float(stopped),
        "pending_after_stop": float(left),
        "scheduler_exited": float(exited),
    }


def pending_threading_timer(n: int) -> Metrics:
    """2 anchor: ``n`` started ``threading.Timer(3600)``: threads added, start time; cancel."""
    before = threading.active_count()
    t0 = time.perf_counter()
    ts = []
    for _ in range(n):
        tm = threading.Timer(3600, lambda: None)
        tm.start()
        ts.append(tm)
    create = time.perf_counter() - t0
    threads = threading.active_count() - before
    t0 = time.perf_counter()
    for tm in ts:
        tm.cancel()
    for tm in ts:
        tm.join()
    stop = time.perf_counter() - t0
    return {"create_s": create, "threads_added": float(threads), "stop_s": stop}


# -- 3. contexts --


def _cancel_seen(root_cancel: Callable[[], None], nodes: list[Context]) -> Metrics:
    """Make every done channel, park a thread on them in turn, cancel the root."""
    dones = [c.done() for c in nodes]
    seen_at: list[float] = []

    def watch() -> None:
        for d in dones:
            d.recv()
        seen_at.append(monotonic())

    first = dones[0]
    assert isinstance(first, RecvOnlyChan)
    watcher = threading.Thread(target=watch)
    watcher.start()
    _wait_until(lambda: first.statistics()["receivers_waiting"] == 1, "watcher parked")
    t0 = monotonic()
    root_cancel()
    cancel = monotonic() - t0
    still_open = sum(1 for d in dones if isinstance(d, RecvOnlyChan) and not d.closed)
    no_err = sum(1 for c in nodes if c.err() is None)
    watcher.join()
    return {
        "cancel_s": cancel,
        "seen_s": seen_at[0] - t0,
        "open_after_cancel": float(still_open + no_err),
    }


def ctx_tree(n: int) -> Metrics:
    """3: a root with ``k`` children of ``k - 1`` children each (``k * k`` nodes); cancel root."""
    k = math.isqrt(n)
    root, cancel = with_cancel(background())
    nodes: list[Context] = []
    t0 = time.perf_counter()
    for _ in range(k):
        child, _ = with_cancel(root)
        nodes.append(child)
        for _ in range(k - 1):
            nodes.append(with_cancel(child)[0])
    create = time.perf_counter() - t0
    return {"create_s": create, "nodes": float(len(nodes)), **_cancel_seen(cancel, nodes)}


def ctx_chain(n: int) -> Metrics:
    """3: a chain of ``n`` ``with_cancel`` contexts, each the child of the last; cancel root."""
    root, cancel = with_cancel(background())
    nodes: list[Context] = []
    c: Context = root
    t0 = time.perf_counter()
    for _ in range(n):
        c, _ = with_cancel(c)
        nodes.append(c)
    create = time.perf_counter() - t0
    return {"create_s": create, "nodes": float(len(nodes)), **_cancel_seen(cancel, nodes)}


def ctx_timeout(n: int) -> Metrics:
    """3: ``n`` ``with_timeout(parent, 3600)`` children: creation, threads; cancel the parent."""
    parent, cancel = with_cancel(background())
    before = threading.active_count()
    base = pending_count()
    t0 = time.perf_counter()
    kids = [with_timeout(parent, 3600)[0] for _ in range(n)]
    create = time.perf_counter() - t0
    threads = threading.active_count() - before
    pending = pending_count() - base
    sched = scheduler_thread()
    t0 = time.perf_counter()
    cancel()
    cancel_s = time.perf_counter() - t0
    left = pending_count() - base
    no_err = sum(1 for c in kids if c.err() is None)
    exited = True
    if sched is not None:
        sched.join(10)
        exited = not sched.is_alive()
    return {
        "create_s": create,
        "threads_added": float(threads),
        "pending": float(pending),
        "cancel_s": cancel_s,
        "pending_after_cancel": float(left),
        "open_after_cancel": float(no_err),
        "scheduler_exited": float(exited),
    }


# -- 4. Limiter.allow --


def _hammer(op: Callable[[], bool], calls: int, nthreads: int) -> Metrics:
    per = calls // nthreads
    ok = [0] * nthreads
    go_ahead = threading.Barrier(nthreads + 1)

    def run(k: int) -> None:
        go_ahead.wait()
        n = 0
        for _ in range(per):
            if op():
                n += 1
        ok[k] = n  # only this thread writes slot k; read after join

    threads = [threading.Thread(target=run, args=(k,)) for k in range(nthreads)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    go_ahead.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    total = per * nthreads
    return {"seconds": elapsed, "calls": float(total), "allowed": float(sum(ok))}


def _locked_counter() -> Callable[[], bool]:
    lock = threading.Lock()
    count = [0]

    def op() -> bool:
        with lock:
            count[0] += 1
        return True

    return op


def allow_bench(kind: str, nthreads: int) -> Callable[[int], Metrics]:
    def run(calls: int) -> Metrics:
        if kind == "high":
            op = Limiter(1e9, 1000).allow
        elif kind == "low":
            op = Limiter(1, 1).allow
        else:
            op = _locked_counter()
        return _hammer(op, calls, nthreads)

    run.__name__ = f"allow_{kind}_{nthreads}t"
    return run


# -- the run --


class Config:
    def __init__(self, quick: bool, reps: int) -> None:
        self.quick = quick
        self.reps = reps
        self.timers = 500 if quick else 2_000
        self.threading_timers = 100 if quick else THREADING_TIMERS
        self.acceptance_timers = 10_000
        self.pending = 10_000
        self.contexts = 10_000
        self.allow_calls = 20_000 if quick else 200_000


def benchmarks(cfg: Config) -> dict[str, tuple[Callable[[int], Metrics], int]]:
    """Every benchmark by key: the function and its size argument."""
    benches: dict[str, tuple[Callable[[int], Metrics], int]] = {
        "late_after_one": (late_after_one, cfg.timers),
        "late_after_many": (late_after_many, cfg.timers),
        "late_after_each": (late_after_each, cfg.threading_timers),
        "late_select": (late_select, cfg.timers),
        "late_after_func": (late_after_func, cfg.timers),
        "late_threading_timer": (late_threading_timer, cfg.threading_timers),
        "late_acceptance": (late_acceptance, cfg.acceptance_timers),
        "late_pending": (late_pending, cfg.acceptance_timers),
        "late_after_one_spinning": (with_spinner(late_after_one), cfg.timers),
        "late_after_func_spinning": (with_spinner(late_after_func), cfg.threading_timers),
        "late_threading_timer_spinning": (
            with_spinner(late_threading_timer),
            cfg.threading_timers,
        ),
        "pending_after": (pending_after, cfg.pending),
        "pending_timer": (pending_timer, cfg.pending),
        "pending_threading_timer": (pending_threading_timer, cfg.threading_timers),
        "ctx_tree": (ctx_tree, cfg.contexts),
        "ctx_chain": (ctx_chain, cfg.contexts),
        "ctx_timeout": (ctx_timeout, cfg.contexts),
    }
    for kind in ("high", "low", "lock"):
        for nthreads in (1, 4):
            fn = allow_bench(kind, nthreads)
            benches[fn.__name__] = (fn, cfg.allow_calls)
    return benches


def run_all(cfg: Config, progress: bool) -> tuple[dict[str, list[Metrics]], list[str]]:
    benches = benchmarks(cfg)
    # Warm-up: one small run of the quick benchmarks (not the 1 s lateness runs).
    for key, (fn, size) in benches.items():
        if not key.startswith("late_"):
            fn(max(size // 20, 100))
        _settle()
    baseline = threading.active_count()
    leaks: list[str] = []

    def measured(fn: Callable[[int], Metrics], size: int) -> Metrics:
        busy0, cpu0, wall0 = _machine_busy(), time.process_time(), monotonic()
        metrics = fn(size)
        wall = monotonic() - wall0
        others = _machine_busy() - busy0 - (time.process_time() - cpu0)
        metrics["others_cpu"] = max(0.0, others) / (wall * _NCPU) if wall > 0 else 0.0
        return metrics

    def check_threads(rep: int, key: str) -> None:
        # Every thread a benchmark started (timers' goroutines included)
        # must be gone once it returns and the scheduler is idle.
        gc.collect()
        _settle()
        if not _wait_until(lambda: threading.active_count() <= baseline, "back to baseline"):
            names = sorted(t.name for t in threading.enumerate())
            leaks.append(f"rep {rep + 1} {key}: {threading.active_count()} threads: {names}")

    cases = {key: partial(measured, fn, size) for key, (fn, size) in benches.items()}
    raw = h.run_interleaved(cases, cfg.reps, progress=progress, before=_settle, after=check_threads)
    return raw, leaks


def _worst(raw: dict[str, list[Metrics]], key: str, metric: str) -> float:
    return max(m[metric] for m in raw[key])


def _ms(seconds: float) -> str:
    if abs(seconds) < 0.001:
        return f"{seconds * 1e3:.3f} ms"
    if abs(seconds) < 0.1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e3:.0f} ms"


def _us_each(seconds: float, n: float) -> str:
    return f"{seconds / n * 1e6:.1f} us each"


def _rate(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.2f} M/s"
    if rate >= 1e3:
        return f"{rate / 1e3:.0f} k/s"
    return f"{rate:.0f}/s"


def build_rows(cfg: Config, raw: dict[str, list[Metrics]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def row(
        name: str,
        mine: str,
        anchor: str = "-",
        ratio: str = "-",
        target: str = "-",
        met: str = "-",
        values: dict[str, float] | None = None,
    ) -> None:
        rows.append(
            {
                "benchmark": name,
                "gopool": mine,
                "anchor": anchor,
                "ratio": ratio,
                "target": target,
                "met": met,
                "values": values or {},
            }
        )

    def late(key: str) -> tuple[str, dict[str, float]]:
        p50, p99 = h.median_of(raw, key, "p50"), h.median_of(raw, key, "p99")
        worst_rep = max(raw[key], key=lambda m: m["max"])
        worst = worst_rep["max"]
        over = h.median_of(raw, key, "over_10ms")
        text = (
            f"p50 {_ms(p50)}, p99 {_ms(p99)}, max {_ms(worst)}"
            f" (others used {worst_rep['others_cpu']:.0%} of the CPUs in that repetition)"
        )
        if over:
            text += f"; {over:.0f} of {h.median_of(raw, key, 'n'):.0f} over 10 ms"
        # Set-up that outlasts the lead moves deadlines: say so.
        lead = ACCEPT_LEAD if key == "late_pending" else LEAD
        slow = [m["setup_s"] for m in raw[key] if m["setup_s"] > lead]
        if key != "late_acceptance" and slow:
            text += (
                f"; set-up outlasted the {lead:g} s lead in {len(slow)} of {len(raw[key])}"
                f" repetitions (up to {_ms(max(slow))}): timers it reached after their"
                " planned deadline were armed with 0"
            )
        return text, {"p50_s": p50, "p99_s": p99, "max_s": worst, "over_10ms": over}

    tt, tt_values = late("late_threading_timer")
    anchor = f"`threading.Timer` x{cfg.threading_timers} over {SPREAD:g} s: {tt}"
    tt_p99 = tt_values["p99_s"]

    def p99_ratio(values: dict[str, float]) -> str:
        return f"p99 {tt_p99 / values['p99_s']:.2f}x" if values["p99_s"] > 0 else "-"

    n, span = f"{cfg.timers:,}", f"over {SPREAD:g} s"
    text, v = late("late_after_one")
    th = h.median_of(raw, "late_after_one", "threads_added")
    row(
        f"1a. lateness at receipt: {n} `after()` {span}, one receiver in deadline order",
        f"{text} (threads +{th:.0f})",
        anchor,
        p99_ratio(v),
        values={**v, "threads_added": th},
    )
    text, v = late("late_after_many")
    row(
        f"1b. lateness at receipt: {n} `after()` {span}, {RECEIVER_THREADS} receiver threads",
        text,
        anchor,
        p99_ratio(v),
        values=v,
    )
    text, v = late("late_after_each")
    row(
        f"1c. lateness at receipt: {cfg.threading_timers:,} threads each blocked in"
        f" `after(d).recv()`, {span}",
        text,
        anchor,
        p99_ratio(v),
        values=v,
    )
    text, v = late("late_select")
    row(
        f"1d. lateness at receipt: {n} `after()` {span}, one receiver, `select` over the"
        f" next {SELECT_WIDTH}",
        text,
        anchor,
        p99_ratio(v),
        values=v,
    )
    text, v = late("late_after_func")
    th = h.median_of(raw, "late_after_func", "threads_added")
    row(
        f"1e. lateness at `fn` start: {n} `after_func` {span}",
        f"{text} (threads +{th:.0f} while pending)",
        anchor,
        p99_ratio(v),
        values={**v, "threads_added": th},
    )
    for key, what in (
        (
            "late_acceptance",
            f"1f. lateness at receipt: {cfg.acceptance_timers:,} `after()` due evenly over"
            " 0.05-0.25 s after the first is created, created in deadline order while one"
            " receiver thread drains them (the creating thread competes for the GIL)",
        ),
        (
            "late_pending",
            f"1g. lateness at receipt: {cfg.acceptance_timers:,} `after()` all pending"
            f" (created first), due evenly over 0.2 s from {ACCEPT_LEAD:g} s after creation"
            " began, one receiver in deadline order",
        ),
    ):
        text, v = late(key)
        th = h.median_of(raw, key, "threads_added")
        setup = h.median_of(raw, key, "setup_s")
        row(
            what,
            f"{text}; threads +{th:.0f}; created in {_ms(setup)}",
            "-",
            "-",
            "+1 thread",
            "yes" if th <= 1 else "NO",
            values={
                **v,
                "threads_added": th,
                "setup_s": setup,
                "worst_rep_p99_s": _worst(raw, key, "p99"),
            },
        )

    tts, _ = late("late_threading_timer_spinning")
    spin_anchor = f"`threading.Timer` x{cfg.threading_timers}, same spinning thread: {tts}"
    tts_p99 = h.median_of(raw, "late_threading_timer_spinning", "p99")
    for key, what in (
        ("late_after_one_spinning", f"{n} `after()` {span}, one receiver in deadline order"),
        ("late_after_func_spinning", f"{cfg.threading_timers:,} `after_func` {span}"),
    ):
        text, v = late(key)
        row(
            f"1h. lateness at receipt / `fn` start, while one CPU-bound pure-Python thread"
            f" runs (GIL contention): {what}",
            text,
            spin_anchor,
            f"p99 {tts_p99 / v['p99_s']:.2f}x" if v["p99_s"] > 0 else "-",
            values=v,
        )

    # -- 2 --
    tn = cfg.threading_timers
    tt_threads = h.median_of(raw, "pending_threading_timer", "threads_added")
    tt_create = h.median_of(raw, "pending_threading_timer", "create_s")
    tt_stop = h.median_of(raw, "pending_threading_timer", "stop_s")
    per_timer = tt_threads / tn
    scale = cfg.pending / tn
    tt_anchor = (
        f"`threading.Timer` x{tn} (measured): +{tt_threads:.0f} threads"
        f" ({per_timer:.2f} per timer), started in {_ms(tt_create)}"
        f" ({_us_each(tt_create, tn)}), cancelled+joined in {_ms(tt_stop)};"
        f" EXTRAPOLATED to {cfg.pending:,}: +{per_timer * cfg.pending:,.0f} threads,"
        f" ~{_ms(tt_create * scale)} to start"
    )
    for key, what, verb in (
        ("pending_after", "`after(3600)`", "dropped (gc) in"),
        ("pending_timer", "`Timer(3600)`", "all `stop()`ped in"),
    ):
        th = h.median_of(raw, key, "threads_added")
        create = h.median_of(raw, key, "create_s")
        gone = h.median_of(raw, key, "drop_s" if key == "pending_after" else "stop_s")
        left = _worst(
            raw, key, "pending_after_drop" if key == "pending_after" else "pending_after_stop"
        )
        exited = min(m["scheduler_exited"] for m in raw[key])
        mine = (
            f"+{th:.0f} thread(s); created in {_ms(create)} ({_us_each(create, cfg.pending)});"
            f" {verb} {_ms(gone)}; pending after: {left:.0f};"
            f" scheduler thread exited: {'yes' if exited else 'NO'}"
        )
        row(
            f"2. threads for {cfg.pending:,} pending {what}",
            mine,
            tt_anchor,
            f"create {tt_create * scale / create:.1f}x (vs extrapolated)",
            "+1 thread, 0 left pending",
            "yes" if th <= 1 and left == 0 and exited else "NO",
            values={
                "threads_added": th,
                "create_s": create,
                "gone_s": gone,
                "pending_left": left,
                "threading_timer_threads_per_timer": per_timer,
                "threading_timer_create_s": tt_create,
                "threading_timer_create_s_extrapolated": tt_create * scale,
            },
        )

    # -- 3 --
    for key, what in (
        ("ctx_tree", "a tree (root, 100 children x 99 children each)"),
        ("ctx_chain", "a chain (each the child of the last)"),
    ):
        nodes = h.median_of(raw, key, "nodes")
        create = h.median_of(raw, key, "create_s")
        cancel = h.median_of(raw, key, "cancel_s")
        seen = h.median_of(raw, key, "seen_s")
        still = _worst(raw, key, "open_after_cancel")
        row(
            f"3. {nodes:,.0f} `with_cancel` contexts in {what}: create, then the root's `cancel()`",
            f"created in {_ms(create)} ({_us_each(create, nodes)}); `cancel()` returned in"
            f" {_ms(cancel)}; a receiver had seen every `done()` closed after {_ms(seen)}",
            "-",
            "-",
            "every `done()` closed when `cancel()` returns",
            "yes" if still == 0 else f"NO ({still:.0f} open)",
            values={"create_s": create, "cancel_s": cancel, "seen_s": seen, "still_open": still},
        )
    th = h.median_of(raw, "ctx_timeout", "threads_added")
    create = h.median_of(raw, "ctx_timeout", "create_s")
    cancel = h.median_of(raw, "ctx_timeout", "cancel_s")
    pend = h.median_of(raw, "ctx_timeout", "pending")
    left = _worst(raw, "ctx_timeout", "pending_after_cancel")
    still = _worst(raw, "ctx_timeout", "open_after_cancel")
    exited = min(m["scheduler_exited"] for m in raw["ctx_timeout"])
    row(
        f"3. {cfg.contexts:,} `with_timeout(parent, 3600)`: create, then cancel the parent",
        f"created in {_ms(create)} ({_us_each(create, cfg.contexts)}); +{th:.0f} thread(s),"
        f" {pend:,.0f} timers pending; parent's `cancel()` in {_ms(cancel)}; timers left:"
        f" {left:.0f}; scheduler thread exited: {'yes' if exited else 'NO'}",
        "-",
        "-",
        "+1 thread, 0 timers left",
        "yes" if th <= 1 and left == 0 and still == 0 and exited else "NO",
        values={"create_s": create, "threads_added": th, "cancel_s": cancel, "timers_left": left},
    )

    # -- 4 --
    for nthreads in (1, 4):
        lock_key = f"allow_lock_{nthreads}t"
        lock_rate = raw[lock_key][0]["calls"] / h.median_of(raw, lock_key, "seconds")
        for kind, what in (("high", "rate 1e9, burst 1000"), ("low", "rate 1, burst 1")):
            key = f"allow_{kind}_{nthreads}t"
            calls = raw[key][0]["calls"]
            rate = calls / h.median_of(raw, key, "seconds")
            allowed = h.median_of(raw, key, "allowed")
            row(
                f"4. `Limiter({what}).allow()`, {nthreads} thread(s), {calls:,.0f} calls in all",
                f"{_rate(rate)} ({1e6 / rate:.2f} us/call); {allowed / calls:.1%} allowed",
                f"lock-guarded counter, same threads: {_rate(lock_rate)}",
                f"{rate / lock_rate:.2f}x",
                values={
                    "calls_per_s": rate,
                    "allowed_fraction": allowed / calls,
                    "lock_counter_per_s": lock_rate,
                },
            )
    return rows


# -- the report --


def machine() -> dict[str, Any]:
    return _machine_info(["timers.py", "context.py", "rate.py", "chan.py"])


def render(
    cfg: Config, command: str, info: dict[str, Any], rows: list[dict[str, Any]], leaks: list[str]
) -> str:
    method = [
        f"method: medians of {cfg.reps} interleaved repetitions, all from this one run;"
        " lateness = `time.monotonic()` when the receiving code runs minus the deadline,"
        " p50/p99 the median over repetitions of each one's median/99th percentile"
        " (nearest rank), max the worst of all repetitions; ratio = anchor / gopool"
        " (above 1: gopool is better)",
        f"other processes' share of the {info['cpu_count']} CPUs while each benchmark ran"
        f" (from /proc/stat): median {info['others_cpu_median']:.0%},"
        f" worst {info['others_cpu_worst']:.0%}",
        "threads left over after a benchmark: "
        + ("none (back to the baseline after every one)" if not leaks else "; ".join(leaks)),
    ]
    lines = h.header("gopool timer, context and rate-limiter benchmarks", command, info, method)
    return "\n".join([*lines, "", *h.rows_table(rows)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    h.add_run_arguments(parser, "smaller sizes, 3 repetitions")
    h.add_json_argument(parser)
    args = parser.parse_args(argv)
    cfg = Config(args.quick, h.reps_of(parser, args))
    command = h.command_line()
    info = machine()
    raw, leaks = run_all(cfg, progress=True)
    info["load_average_at_end"] = h.load_average()
    others = [m["others_cpu"] for ms in raw.values() for m in ms]
    info["others_cpu_median"] = statistics.median(others)
    info["others_cpu_worst"] = max(others)
    rows = build_rows(cfg, raw)
    report = {
        "command": command,
        "machine": info,
        "config": vars(cfg),
        "thread_leaks": leaks,
        "rows": rows,
        "raw": raw,
    }
    h.emit(render(cfg, command, info, rows, leaks), report, args.json)


if __name__ == "__main__":
    main()
