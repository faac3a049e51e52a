"""Stress tests for contexts: many threads deriving, cancelling and timing out contexts
of one tree at once, with exact outcomes.

After the races settle, every context below a cancelled one is done with the cause of
the first cancellation that reached it, ``err()`` is one instance however often and
from wherever it is read, each ``after_func`` ran exactly once unless its stop()
returned True first, and a cancelled child is no longer held by its parent. Sized
through ``conftest.STRESS`` (``GOPOOL_STRESS``).
"""

from __future__ import annotations

import gc
import random
import threading
import weakref
from collections import Counter
from collections.abc import Callable

from conftest import STRESS, CallbackLedger, join_all, spawn, stress_marks

from gopool.context import (
    Canceled,
    Context,
    DeadlineExceeded,
    after_func,
    background,
    cause,
    with_cancel,
    with_cancel_cause,
    with_timeout,
    with_value,
)

pytestmark = stress_marks(timeout=60)


class Boom(Exception):
    """A cancellation cause, told apart by ``k``."""

    def __init__(self, k: int) -> None:
        super().__init__(k)
        self.k = k


def test_concurrent_cancels_first_cause_wins_everywhere() -> None:
    """After Go's TestSimultaneousCancels: threads derive children from a shared parent
    while others cancel it with their own causes; every context ends with the one winning
    cause, children derived after the cancel included, and ``err()`` is one instance."""
    rounds = 100
    for _ in range(rounds):
        parent, cancel = with_cancel_cause(background())
        start = threading.Barrier(STRESS.threads(4) + STRESS.threads(4))

        def derive(
            seed: int, parent: Context = parent, start: threading.Barrier = start
        ) -> list[Context]:
            rng = random.Random(seed)
            start.wait()
            made = []
            for i in range(25):
                ctx = rng.choice(made) if made and rng.random() < 0.5 else parent
                if i % 3 == 0:
                    ctx = with_value(ctx, i, i)
                made.append(with_cancel(ctx)[0])
            return made

        def canceller(
            k: int, start: threading.Barrier = start, cancel: Callable[..., None] = cancel
        ) -> None:
            start.wait()
            cancel(Boom(k))

        derivers = [spawn(derive, s) for s in range(STRESS.threads(4))]
        cancellers = [spawn(canceller, k) for k in range(STRESS.threads(4))]
        join_all(cancellers, STRESS.seconds(10))
        children = [c for made in join_all(derivers, STRESS.seconds(10)) for c in made]
        winner = cause(parent)
        assert isinstance(winner, Boom)
        err = parent.err()
        assert isinstance(err, Canceled) and parent.err() is err
        for child in children:
            assert child.done().recv(timeout=STRESS.seconds(10)) is None
            first = child.err()
            assert first is err and child.err() is first, (first, err)
            assert cause(child) is winner


def test_after_func_exactly_once_unless_stopped() -> None:
    """Threads register ``after_func`` callbacks on a shared context and stop some of them
    while another thread cancels it: each runs once if its stop() returned False, else
    never."""
    nthreads, per_thread = STRESS.threads(8), 500
    ctx, cancel = with_cancel(background())
    ledger = CallbackLedger()
    start = threading.Barrier(nthreads + 1)

    def registrar(k: int) -> None:
        rng = random.Random(k)
        start.wait()
        for i in range(per_thread):
            stop = after_func(ctx, ledger.arm((k, i)))
            if rng.random() < 0.4 and stop():
                ledger.prevent((k, i))

    registrars = [spawn(registrar, k) for k in range(nthreads)]
    start.wait()
    cancel()
    join_all(registrars, STRESS.seconds(20))
    ledger.check(STRESS.seconds(20))


def test_deadlines_race_cancels() -> None:
    """Children with tiny timeouts, cancelled from other threads as they expire: each ends
    with exactly one of Canceled or DeadlineExceeded, the same instance on every read."""
    nthreads, per_thread = STRESS.threads(8), 300
    parent, cancel_parent = with_cancel(background())

    def racer(seed: int) -> Counter[str]:
        rng = random.Random(seed)
        seen: Counter[str] = Counter()
        for _ in range(per_thread):
            ctx, cancel = with_timeout(parent, rng.choice([0.0, 0.00001, 0.0001, 0.001]))
            if rng.random() < 0.5:
                spawn(cancel)
            else:
                cancel()
            assert ctx.done().recv(timeout=STRESS.seconds(10)) is None
            err = ctx.err()
            assert isinstance(err, (Canceled, DeadlineExceeded)), err
            assert ctx.err() is err and cause(ctx) is err
            seen[type(err).__name__] += 1
        return seen

    seen = sum(join_all([spawn(racer, s) for s in range(nthreads)], STRESS.seconds(30)), Counter())
    assert sum(seen.values()) == nthreads * per_thread
    assert parent.err() is None, "a child's end reached its parent"
    cancel_parent()


def test_cancelled_children_are_not_kept_by_their_parent() -> None:
    """Threads derive and cancel children of one long-lived parent: once they are
    cancelled and dropped, the parent holds none of them."""
    nthreads, per_thread = STRESS.threads(8), 1000
    parent, cancel_parent = with_cancel(background())

    def churn(seed: int) -> list[weakref.ref[Context]]:
        rng = random.Random(seed)
        refs = []
        for _ in range(per_thread):
            ctx, cancel = with_cancel(parent)
            if rng.random() < 0.3:
                grandchild, cancel_grandchild = with_timeout(ctx, 3600)
                refs.append(weakref.ref(grandchild))
                if rng.random() < 0.5:
                    cancel_grandchild()
            refs.append(weakref.ref(ctx))
            cancel()
        return refs

    refs = [r for rs in join_all([spawn(churn, s) for s in range(nthreads)]) for r in rs]
    gc.collect()
    alive = [r() for r in refs if r() is not None]
    assert alive == [], f"{len(alive)} cancelled contexts still referenced"
    assert parent.err() is None
    cancel_parent()
