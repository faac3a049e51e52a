"""gopool's locks against the standard library's and the ``readerwriterlock`` package's.

Rows (one table from one run; every figure and its anchors measured in the
same process, interleaved, medians of the repetitions):

1. Uncontended: one thread locking and unlocking ``Mutex`` (``mu.lock();
   mu.unlock()``, and ``with mu:``) against ``threading.Lock``
   (``acquire()/release()``, and ``with lk:``).
2. Contended: 4 threads each adding 1 to a shared int under the lock, a
   ``Mutex`` against a ``threading.Lock``.
3. Readers and a writer: 8 reader threads (read a shared dict entry under a
   read lock) and 1 writer thread (update it under the write lock), an
   ``RWMutex`` against one ``threading.Lock`` for everybody and against
   ``readerwriterlock``'s ``RWLockWrite`` (writer-preferring, as Go's) and
   ``RWLockFair``. Rate: lock operations per second of all 9 threads.
4. ``atomic.Int64.add(1)`` from 4 threads against ``+= 1`` on an int under a
   ``threading.Lock``.

Every contended row checks its final count. ``readerwriterlock`` is a
benchmark-only dependency, never gopool's; without it its columns say
"not installed"::

    python -m venv /tmp/bench-sync
    /tmp/bench-sync/bin/pip install readerwriterlock
    /tmp/bench-sync/bin/python benchmarks/bench_sync.py            # about 2 minutes
    /tmp/bench-sync/bin/python benchmarks/bench_sync.py --quick    # a tenth of the work
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import statistics
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

try:
    from gopool import Mutex, RWMutex, atomic
except ImportError:  # run from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from gopool import Mutex, RWMutex, atomic

from _machine import machine as _machine_info  # this folder

try:
    from readerwriterlock import rwlock
except ImportError:
    rwlock = None

Metrics = dict[str, float]

CONTENDERS = 4
READERS = 8


def _timed(bodies: list[Callable[[], object]]) -> float:
    """Run each body in a thread of its own, all released at once; seconds until the last ends."""
    barrier = threading.Barrier(len(bodies) + 1)

    def run(body: Callable[[], object]) -> None:
        barrier.wait()
        body()

    threads = [threading.Thread(target=run, args=(body,)) for body in bodies]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def _check(what: str, got: int, expected: int) -> None:
    if got != expected:
        raise AssertionError(f"{what}: count {got}, expected {expected}")


# -- 1. uncontended --


def uncontended_calls(make: Callable[[], Any], take: str, give: str) -> Callable[[int], Metrics]:
    """One thread calling the lock's methods named ``take`` and ``give`` ``n`` times."""

    def bench(n: int) -> Metrics:
        lk = make()
        lock, unlock = getattr(lk, take), getattr(lk, give)
        t0 = time.perf_counter()
        for _ in range(n):
            lock()
            unlock()
        return {"seconds": time.perf_counter() - t0, "ops": n}

    return bench


def uncontended_with(make: Callable[[], Any]) -> Callable[[int], Metrics]:
    def bench(n: int) -> Metrics:
        lk = make()
        t0 = time.perf_counter()
        for _ in range(n):
            with lk:
                pass
        return {"seconds": time.perf_counter() - t0, "ops": n}

    return bench


# -- 2. contended --


def contended(make: Callable[[], Any]) -> Callable[[int], Metrics]:
    """CONTENDERS threads each add 1 to one int ``n // CONTENDERS`` times under ``with lk:``."""

    def bench(n: int) -> Metrics:
        lk = make()
        per = n // CONTENDERS
        box = [0]

        def add() -> None:
            for _ in range(per):
                with lk:
                    box[0] += 1

        seconds = _timed([add] * CONTENDERS)
        _check("contended", box[0], per * CONTENDERS)
        return {"seconds": seconds, "ops": per * CONTENDERS}

    return bench


# -- 3. readers and a writer --

RWFactory = Callable[[], tuple[Callable[[], Any], Callable[[], Any]]]
"""Makes one lock; returns per-thread factories of its read and write context managers."""


def _rwmutex() -> tuple[Callable[[], Any], Callable[[], Any]]:
    rw = RWMutex()
    reader = rw.rlocker()
    return (lambda: reader), (lambda: rw)


def _one_lock() -> tuple[Callable[[], Any], Callable[[], Any]]:
    lk = threading.Lock()
    return (lambda: lk), (lambda: lk)


def _rwlock(kind: str) -> RWFactory:
    def make() -> tuple[Callable[[], Any], Callable[[], Any]]:
        lock = getattr(rwlock, kind)()
        # One reader or writer object per thread: each records its own state.
        return lock.gen_rlock, lock.gen_wlock

    return make


def readers_writer(make: RWFactory) -> Callable[[int], Metrics]:
    """READERS readers each read ``n // (READERS + 1)`` times; one writer writes as often."""

    def bench(n: int) -> Metrics:
        new_reader, new_writer = make()
        per = n // (READERS + 1)
        shared = {"v": 0}
        seen = [0] * READERS

        def read(k: int) -> None:
            lk = new_reader()
            total = 0
            for _ in range(per):
                with lk:
                    total += shared["v"]
            seen[k] = total

        def write() -> None:
            lk = new_writer()
            for _ in range(per):
                with lk:
                    shared["v"] += 1

        seconds = _timed([*(partial(read, k) for k in range(READERS)), write])
        _check("writes", shared["v"], per)
        if any(not 0 <= s <= per * per for s in seen):
            raise AssertionError(f"a reader saw values out of range: {seen}")
        return {"seconds": seconds, "ops": per * (READERS + 1)}

    return bench


# -- 4. atomic add --


def atomic_add(n: int) -> Metrics:
    counter = atomic.Int64()
    per = n // CONTENDERS

    def add() -> None:
        inc = counter.add
        for _ in range(per):
            inc(1)

    seconds = _timed([add] * CONTENDERS)
    _check("atomic.Int64", counter.load(), per * CONTENDERS)
    return {"seconds": seconds, "ops": per * CONTENDERS}


# -- the run --


def benchmarks(n: int) -> dict[str, tuple[Callable[[int], Metrics], int]]:
    """Every benchmark by key, with its amount of work."""
    benches: dict[str, tuple[Callable[[int], Metrics], int]] = {
        "uncontended_mutex": (uncontended_calls(Mutex, "lock", "unlock"), n),
        "uncontended_lock": (uncontended_calls(threading.Lock, "acquire", "release"), n),
        "uncontended_with_mutex": (uncontended_with(Mutex), n),
        "uncontended_with_lock": (uncontended_with(threading.Lock), n),
        "contended_mutex": (contended(Mutex), n // 4),
        "contended_lock": (contended(threading.Lock), n // 4),
        "rw_rwmutex": (readers_writer(_rwmutex), n // 4),
        "rw_lock": (readers_writer(_one_lock), n // 4),
        "atomic_add": (atomic_add, n // 4),
    }
    if rwlock is not None:
        benches["rw_rwlock_write"] = (readers_writer(_rwlock("RWLockWrite")), n // 4)
        benches["rw_rwlock_fair"] = (readers_writer(_rwlock("RWLockFair")), n // 4)
    return benches


def run_all(n: int, rounds: int) -> dict[str, list[Metrics]]:
    """Every benchmark ``rounds`` times, interleaved (every other round backwards)."""
    benches = benchmarks(n)
    for fn, work in benches.values():  # warm-up, outside the figures
        fn(max(CONTENDERS * (READERS + 1), work // 20))
    raw: dict[str, list[Metrics]] = {key: [] for key in benches}
    order = list(benches)
    for r in range(rounds):
        for key in order if r % 2 == 0 else order[::-1]:
            print(f"  round {r + 1}/{rounds}: {key}", file=sys.stderr, flush=True)
            gc.collect()
            fn, work = benches[key]
            raw[key].append(fn(work))
    return raw


def _rate(raw: dict[str, list[Metrics]], key: str) -> float | None:
    runs = raw.get(key)
    if not runs:
        return None
    return runs[0]["ops"] / statistics.median(m["seconds"] for m in runs)


def _cell(raw: dict[str, list[Metrics]], key: str) -> str:
    """The rate of ``key`` and, as ``±``, half the min-max range of its repetitions."""
    rate = _rate(raw, key)
    if rate is None:
        return "not installed"
    seconds = [m["seconds"] for m in raw[key]]
    spread = (max(seconds) - min(seconds)) / 2 / statistics.median(seconds)
    text = f"{rate / 1e6:.2f} M/s" if rate >= 1e6 else f"{rate / 1e3:,.0f} k/s"
    return f"{text} ±{spread:.0%}"


def _ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:.2f}x" if ours and theirs else ""


ROWS = [
    # (label, gopool key, [(anchor label, anchor key)])
    (
        "uncontended, `lock()`/`unlock()`",
        "uncontended_mutex",
        [("threading.Lock", "uncontended_lock")],
    ),
    (
        "uncontended, `with`",
        "uncontended_with_mutex",
        [("threading.Lock", "uncontended_with_lock")],
    ),
    ("4 threads contending", "contended_mutex", [("threading.Lock", "contended_lock")]),
    (
        "8 readers + 1 writer (RWMutex)",
        "rw_rwmutex",
        [
            ("threading.Lock", "rw_lock"),
            ("rwlock.RWLockWrite", "rw_rwlock_write"),
            ("rwlock.RWLockFair", "rw_rwlock_fair"),
        ],
    ),
    (
        "atomic.Int64.add, 4 threads",
        "atomic_add",
        [("threading.Lock-guarded int", "contended_lock")],
    ),
]


def render(command: str, info: dict[str, Any], rounds: int, raw: dict[str, list[Metrics]]) -> str:
    load = info["load_average_at_start"]
    version = getattr(sys.modules.get("readerwriterlock"), "__version__", None)
    lines = [
        "## gopool's locks",
        "",
        f"- command: `{command}`",
        f"- machine: {info['platform']}, {info['cpu_model']}, {info['cpu_count']} CPUs"
        + (f", load average {load[0]:.2f} at start" if load else "")
        + (
            f", {info['load_average_at_end'][0]:.2f} at end"
            if info.get("load_average_at_end")
            else ""
        ),
        f"- python: {info['python']}; readerwriterlock "
        + ("not installed" if rwlock is None else (version or "installed")),
        f"- gopool: {info['gopool']}",
        f"- method: lock operations per second (all threads together), medians of {rounds}"
        " interleaved repetitions, every figure from this one run; ± is half the min-max range"
        " of the repetitions; the ratio is gopool's rate over the anchor's",
        "",
        "| benchmark | gopool | anchor | anchor's rate | gopool / anchor |",
        "|---|---|---|---|---|",
    ]
    for label, key, anchors in ROWS:
        ours = _rate(raw, key)
        for i, (anchor, anchor_key) in enumerate(anchors):
            theirs = _rate(raw, anchor_key)
            first = [label, _cell(raw, key)] if i == 0 else ["", ""]
            cells = [*first, anchor, _cell(raw, anchor_key), _ratio(ours, theirs)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a tenth of the work, 3 rounds")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5; 3 if --quick)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 5)
    info = _machine_info(["sync/mutex.py", "sync/rwmutex.py", "atomic.py"])
    raw = run_all(200_000 if args.quick else 2_000_000, rounds)
    info["load_average_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(render(shlex.join([sys.executable, *sys.argv]), info, rounds, raw))


if __name__ == "__main__":
    main()
