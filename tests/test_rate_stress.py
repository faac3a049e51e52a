"""Stress tests for ``Limiter``: many threads taking tokens from one bucket at once,
with exact counts.

The ``*_n(now, ...)`` forms take the time as an argument, so with every thread
passing the same instants the outcome is decided by the bucket alone: at one
instant no more tokens exist than the burst, and each reservation's wait is the
debt ahead of it, whatever the interleaving. A lost update (two threads taking
the same token, or a reservation that does not see the one before it) shows as a
wrong count. Sized through ``conftest.STRESS`` (``GOPOOL_STRESS``).
"""

from __future__ import annotations

import random
from collections import Counter

from conftest import STRESS, join_all, spawn, stress_marks

from gopool import Limiter

pytestmark = stress_marks(timeout=60)

T0 = 1000.0  # a monotonic instant every thread passes as "now"


def test_allow_n_at_one_instant_grants_exactly_the_burst() -> None:
    """After Go's TestSimultaneousRequests, with the time fixed: threads asking for 1-3
    tokens at a time at one instant take exactly the burst between them; one second
    later exactly ``rate`` more exist."""
    rate, burst = 100, 5000
    lim = Limiter(rate, burst)
    nthreads = STRESS.threads(8)

    def taker(seed: int, now: float) -> int:
        rng = random.Random(seed)
        taken = 0
        refused = 0
        while refused < 50:  # a refusal at a fixed instant is final for that size
            n = rng.randint(1, 3)
            if lim.allow_n(now, n):
                taken += n
            else:
                refused += 1
        return taken

    taken = sum(join_all([spawn(taker, s, T0) for s in range(nthreads)], STRESS.seconds(30)))
    left = 0
    while lim.allow_n(T0, 1):
        left += 1
    assert taken + left == burst
    later = sum(join_all([spawn(taker, s, T0 + 1) for s in range(nthreads)], STRESS.seconds(30)))
    while lim.allow_n(T0 + 1, 1):
        later += 1
    assert later == rate


def test_reservations_at_one_instant_queue_up_exactly() -> None:
    """Threads reserve one token each, many times, at one instant: the waits are exactly
    0 for the burst, then 1/rate, 2/rate, ... (in Go's nanoseconds) each once, and the
    bucket's debt is the count beyond the burst."""
    rate, burst = 1000, 50
    lim = Limiter(rate, burst)
    nthreads, per_thread = STRESS.threads(8), 2000

    def reserver(_: int) -> list[int]:
        waits_ns = []
        for _ in range(per_thread):
            r = lim.reserve_n(T0, 1)
            assert r.ok
            waits_ns.append(round(r.delay_from(T0) * 1e9))
        return waits_ns

    waits = Counter(w for ws in join_all([spawn(reserver, k) for k in range(nthreads)]) for w in ws)
    total = nthreads * per_thread
    # Go's durationFromTokens: float seconds, then truncated to whole nanoseconds.
    debt = {int(1e9 * (k / rate)): 1 for k in range(1, total - burst + 1)}
    expected = Counter({0: burst} | debt)
    assert waits == expected
    assert round(lim.tokens_at(T0)) == burst - total
