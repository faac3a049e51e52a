"""Stress tests for ``Once``, the ``once_*`` wrappers and ``WaitGroup.go``: many threads
on shared objects at once, with exact counts.

Each ``Once`` runs its function exactly once however many threads race to it, and no
caller returns before that run has finished; each ``once_*`` wrapper calls its
function once and hands every caller the same result (or raises the same exception
instance); ``WaitGroup.go`` from many threads at once runs every function, and
``wait()`` returns only after the last. (``WaitGroup``'s add/done/wait races are in
``test_sync.py``.) Sized through ``conftest.STRESS`` (``GOPOOL_STRESS``).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable

from conftest import STRESS, join_all, spawn, stress_marks

from gopool import Once, WaitGroup, once_func, once_value, once_values

pytestmark = stress_marks(timeout=60)


def test_once_runs_each_function_once_and_callers_wait_for_it() -> None:
    """After Go's TestOnce in src/sync/once_test.go, on many objects: threads call
    ``do`` on every Once in their own order; each function runs once, and every caller
    sees it finished when ``do`` returns."""
    nonces, nthreads = 2000, STRESS.threads(8)
    onces = [Once() for _ in range(nonces)]
    finished = [False] * nonces
    runs: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(nthreads)

    def make(i: int) -> Callable[[], None]:
        def fn() -> None:
            with lock:
                runs[i] += 1
            time.sleep(0)  # let the other callers pile up behind this run
            finished[i] = True

        return fn

    fns = [make(i) for i in range(nonces)]

    def caller(seed: int) -> int:
        order = list(range(nonces))
        random.Random(seed).shuffle(order)
        start.wait()
        for i in order:
            onces[i].do(fns[i])
            assert finished[i], f"do() returned before once {i}'s function finished"
        return len(order)

    assert sum(join_all([spawn(caller, s) for s in range(nthreads)], STRESS.seconds(30))) == (
        nthreads * nonces
    )
    assert runs == Counter(range(nonces))


def _once_wrappers_round(r: int, nthreads: int) -> None:
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def counted(name: str, result: object) -> Callable[[], object]:
        def fn() -> object:
            with lock:
                calls[name] += 1
            time.sleep(0)
            if isinstance(result, BaseException):
                raise result
            return result

        return fn

    value, pair, boom = object(), (object(), object()), ValueError(r)
    f = once_func(counted("func", None))
    v = once_value(counted("value", value))
    vs = once_values(counted("values", pair))  # type: ignore[arg-type]
    bad = once_value(counted("raises", boom))
    start = threading.Barrier(nthreads)

    def caller() -> tuple[object, object, BaseException | None]:
        start.wait()
        f()
        got_v, got_vs = v(), vs()
        try:
            bad()
        except ValueError as exc:
            return got_v, got_vs, exc
        return got_v, got_vs, None

    results = join_all([spawn(caller) for _ in range(nthreads)], STRESS.seconds(10))
    assert calls == Counter(["func", "value", "values", "raises"])
    for got_v, got_vs, exc in results:
        assert got_v is value and exc is boom
        assert isinstance(got_vs, tuple) and all(a is b for a, b in zip(got_vs, pair, strict=True))


def test_once_wrappers_share_one_call_among_racing_callers() -> None:
    """``once_func``, ``once_value`` and ``once_values`` called by many threads at once:
    one call each, the same value object for everyone, and for a raising function the
    same exception instance for everyone."""
    for r in range(100):
        _once_wrappers_round(r, STRESS.threads(8))


def test_wait_group_go_from_many_threads() -> None:
    """Threads start goroutines through one WaitGroup's ``go`` while the main thread
    waits: every function runs once, and ``wait()`` returns only after the last."""
    nthreads, per_thread = STRESS.threads(8), 250
    wg = WaitGroup()
    ran: Counter[tuple[int, int]] = Counter()
    lock = threading.Lock()

    def job(key: tuple[int, int]) -> None:
        with lock:
            ran[key] += 1

    def starter(k: int) -> None:
        for i in range(per_thread):
            wg.go(job, (k, i))

    wg.add(1)  # held until every starter is done, so wait() cannot end early
    join_all([spawn(starter, k) for k in range(nthreads)], STRESS.seconds(30))
    wg.done()
    assert wg.wait(timeout=STRESS.seconds(30))
    with lock:
        assert ran == Counter((k, i) for k in range(nthreads) for i in range(per_thread))
