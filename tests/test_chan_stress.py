"""Stress tests for ``Chan`` and ``select``: many senders, receivers and selectors on the
same channels, buffered and unbuffered, checking that every value arrives exactly once,
that each sender's order holds, that close and timeouts race cleanly with hand-offs (an
operation either happened or did not, never half), and that no queue entry is left behind.

Values are tagged ``(sender, channel, seq)``: a receiver must see each sender's values
on one channel in increasing ``seq`` (FIFO), and the multiset received must equal the
multiset whose send returned.

Every test is sized through ``conftest.STRESS`` (``GOPOOL_STRESS``).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Any

import pytest
from conftest import STRESS, idle, join_all, queued, spawn, stress_test, wait_blocked

from gopool import Chan, ClosedChannelError, nilchan, select

Tag = tuple[int, int, int]  # (sender, channel index, seq on that channel)


def assert_in_order(received: list[Tag]) -> None:
    """One receiver's values: per (sender, channel), strictly increasing seq."""
    last: dict[tuple[int, int], int] = {}
    for s, c, seq in received:
        assert seq > last.get((s, c), -1), f"sender {s} on channel {c}: {seq} after {last[(s, c)]}"
        last[(s, c)] = seq


def assert_each_sequence_complete(received: list[Tag]) -> None:
    """All receivers together: per (sender, channel), seqs 0..n-1, each exactly once."""
    seqs: dict[tuple[int, int], list[int]] = defaultdict(list)
    for s, c, seq in received:
        seqs[(s, c)].append(seq)
    for key, got in seqs.items():
        assert sorted(got) == list(range(len(got))), f"sender/channel {key}: {sorted(got)[:20]}"


@stress_test(timeout=120)
@pytest.mark.parametrize("size", [0, 1, 8])
def test_senders_receivers_and_selectors_exactly_once(size: int) -> None:
    """Plain and select senders, plain and select receivers, on two shared channels."""
    per_sender = 4000
    plain, selecting = STRESS.threads(4), STRESS.threads(3)
    chans = [Chan[Tag](size), Chan[Tag](size)]

    def plain_sender(sid: int, k: int) -> Counter[Tag]:
        for seq in range(per_sender):
            chans[k].send((sid, k, seq))
        return Counter((sid, k, seq) for seq in range(per_sender))

    def select_sender(sid: int) -> Counter[Tag]:
        seqs = [0, 0]
        sent: Counter[Tag] = Counter()
        for _ in range(per_sender):
            a, b = (sid, 0, seqs[0]), (sid, 1, seqs[1])
            i, _ = select((chans[0].send, a), (chans[1].send, b))
            sent[(a, b)[i]] += 1
            seqs[i] += 1
        return sent

    def plain_receiver(k: int) -> list[Tag]:
        return list(chans[k])

    def select_receiver() -> list[Tag]:
        got: list[Tag] = []
        live: list[Chan[Tag]] = list(chans)
        while live[0] is not nilchan or live[1] is not nilchan:
            i, (v, ok) = select(live[0].recv_ok, live[1].recv_ok)
            if ok:
                got.append(v)
            else:
                live[i] = nilchan  # closed: stop selecting on it, as in Go
        return got

    senders = [spawn(plain_sender, sid, sid % 2) for sid in range(plain)]
    senders += [spawn(select_sender, sid) for sid in range(plain, plain + selecting)]
    receivers = [spawn(plain_receiver, k % 2) for k in range(plain)]
    receivers += [spawn(select_receiver) for _ in range(selecting)]
    sent = sum(join_all(senders, deadline=STRESS.seconds(90)), Counter())
    for ch in chans:
        ch.close()
    results: list[list[Tag]] = join_all(receivers, deadline=STRESS.seconds(90))
    for got in results:
        assert_in_order(got)
    everything = [v for got in results for v in got]
    assert Counter(everything) == sent
    assert len(everything) == (plain + selecting) * per_sender
    assert_each_sequence_complete(everything)
    assert all(idle(ch) and len(ch) == 0 for ch in chans)


@stress_test(timeout=120)
def test_self_selectors_pair_up_and_never_match_themselves() -> None:
    """Threads each looping ``select((c.send, mine), c.recv)`` on one unbuffered channel."""
    nthreads, rounds = STRESS.threads(6), 3000
    c: Chan[tuple[int, int]] = Chan()
    stop: Chan[None] = Chan()
    finished: Chan[int] = Chan(nthreads)

    def selector(me: int) -> tuple[Counter[tuple[int, int]], Counter[tuple[int, int]]]:
        sent: Counter[tuple[int, int]] = Counter()
        got: Counter[tuple[int, int]] = Counter()
        for seq in range(rounds):
            i, v = select((c.send, (me, seq)), c.recv, stop.recv)
            if i == 0:
                sent[(me, seq)] += 1
            elif i == 1:
                assert v[0] != me, "a select received its own send"
                got[v] += 1
            else:
                break
        finished.send(me)
        return sent, got

    tasks = [spawn(selector, me) for me in range(nthreads)]
    # Once all but one are done, the last has nobody to pair with: release it.
    for _ in range(nthreads - 1):
        finished.recv(timeout=STRESS.seconds(60))
    stop.close()
    results = join_all(tasks, deadline=STRESS.seconds(60))
    sent = sum((s for s, _ in results), Counter())
    got = sum((g for _, g in results), Counter())
    assert sent == got
    assert sum(sent.values()) >= (nthreads - 1) * rounds // 2
    assert idle(c)


@stress_test(timeout=120)
@pytest.mark.parametrize("size", [0, 1, 8])
def test_close_races_with_sends(size: int) -> None:
    """A send either returned (and its value is received exactly once) or raised
    ClosedChannelError (and its value is never received); select senders likewise."""
    c: Chan[Tag] = Chan(size)
    other: Chan[Tag] = Chan()  # nobody ever receives here

    def plain_sender(sid: int) -> list[Tag]:
        ok: list[Tag] = []
        for seq in range(10**9):
            v = (sid, 0, seq)
            try:
                c.send(v)
            except ClosedChannelError:
                return ok
            ok.append(v)
        raise AssertionError("unreachable")

    def select_sender(sid: int) -> list[Tag]:
        ok: list[Tag] = []
        for seq in range(10**9):
            v = (sid, 0, seq)
            try:
                i, _ = select((other.send, v), (c.send, v))
            except ClosedChannelError:
                return ok
            assert i == 1
            ok.append(v)
        raise AssertionError("unreachable")

    plain, selecting = STRESS.threads(3), STRESS.threads(2)
    senders = [spawn(plain_sender, sid) for sid in range(plain)]
    senders += [spawn(select_sender, sid) for sid in range(plain, plain + selecting)]
    receivers = [spawn(lambda: list(c)) for _ in range(STRESS.threads(2))]
    mine = [c.recv() for _ in range(STRESS.iterations(500))]  # let the race run a while
    c.close()
    mine += list(c)
    sent = [v for ok in join_all(senders, STRESS.seconds(10)) for v in ok]
    got_by_receiver = [mine, *join_all(receivers, STRESS.seconds(10))]
    for got in got_by_receiver:
        assert_in_order(got)
    everything = [v for got in got_by_receiver for v in got]
    assert Counter(everything) == Counter(sent)
    assert_each_sequence_complete(everything)
    assert idle(c) and idle(other)


def random_timeout(rng: random.Random) -> float:
    return rng.choice([0, 0, 0.0001, 0.0003, 0.001])


@stress_test(timeout=120)
@pytest.mark.parametrize("size", [0, 1])
@pytest.mark.parametrize("via_select", [False, True])
def test_timeouts_race_with_hand_offs(size: int, via_select: bool) -> None:
    """Sends and receives with tiny timeouts on both sides: each value was either sent and
    received, or neither; counts match exactly and order holds (one sender, one receiver:
    the scale grows the iterations only)."""
    n = STRESS.iterations(5000)
    c: Chan[int] = Chan(size)

    def sender(seed: int) -> list[int]:
        rng = random.Random(seed)
        sent = []
        for i in range(n):
            try:
                if via_select:
                    select((c.send, i), timeout=random_timeout(rng))
                else:
                    c.send(i, timeout=random_timeout(rng))
            except TimeoutError:
                continue
            sent.append(i)
        return sent

    def receiver(seed: int) -> list[int]:
        rng = random.Random(seed)
        got = []
        while True:
            try:
                if via_select:
                    _, (v, ok) = select(c.recv_ok, timeout=random_timeout(rng))
                else:
                    v, ok = c.recv_ok(timeout=random_timeout(rng))
            except TimeoutError:
                continue
            if not ok:
                return got
            got.append(v)

    seed = random.randrange(2**32)
    r = spawn(receiver, seed)
    sent = sender(seed + 1)
    c.close()
    got = r.join(STRESS.seconds(60))
    assert got == sent, f"seed {seed}: sent {len(sent)}, received {len(got)}"
    assert 0 < len(sent) <= n
    assert idle(c)


@stress_test(timeout=120)
def test_timeouts_race_with_many_partners() -> None:
    """Several timed senders and receivers on one unbuffered channel: exactly once, FIFO."""
    n = 2500
    c: Chan[Tag] = Chan()

    def sender(sid: int) -> list[Tag]:
        rng = random.Random(sid)
        sent = []
        for _ in range(n):
            v = (sid, 0, len(sent))
            try:
                c.send(v, timeout=random_timeout(rng))
            except TimeoutError:
                continue
            sent.append(v)
        return sent

    def receiver(seed: int) -> list[Tag]:
        rng = random.Random(seed)
        got = []
        while True:
            try:
                _, res = select(c.recv_ok, timeout=random_timeout(rng))
            except TimeoutError:
                continue
            v, ok = res
            if not ok:
                return got
            got.append(v)

    receivers = [spawn(receiver, 100 + k) for k in range(STRESS.threads(3))]
    senders = [spawn(sender, sid) for sid in range(STRESS.threads(3))]
    sent = [v for s in join_all(senders, deadline=STRESS.seconds(60)) for v in s]
    c.close()
    results = join_all(receivers, deadline=STRESS.seconds(60))
    for got in results:
        assert_in_order(got)
    everything = [v for got in results for v in got]
    assert Counter(everything) == Counter(sent)
    assert_each_sequence_complete(everything)
    assert idle(c)


@stress_test(timeout=120)
def test_timed_selects_on_shared_channels_leave_no_entries() -> None:
    """Many threads in select loops with timeouts over channels only sometimes used:
    afterwards no channel holds a waiting entry, live or stale."""
    chans = [Chan[int](k % 2) for k in range(4)]
    unused: Chan[int] = Chan()

    def looper(seed: int) -> int:
        rng = random.Random(seed)
        done = 0
        for _ in range(1000):
            a, b = rng.sample(chans, 2)
            try:
                select(a.recv, (b.send, seed), unused.recv, (unused.send, 0), timeout=0.0005)
                done += 1
            except TimeoutError:
                pass
        return done

    loopers = [spawn(looper, s) for s in range(STRESS.threads(6))]
    results = join_all(loopers, deadline=STRESS.seconds(60))
    assert sum(results) > 0
    for ch in chans:  # drain what buffered sends left
        while len(ch):
            ch.recv()
    assert all(idle(ch) for ch in [*chans, unused])
    assert unused.statistics()["receivers_waiting"] == 0
    assert unused.statistics()["senders_waiting"] == 0


@stress_test(timeout=120)
def test_close_wakes_crowd_of_receivers_and_selectors() -> None:
    c: Chan[int] = Chan()
    other: Chan[int] = Chan()
    nobody: Chan[int] = Chan()
    crowd, few = STRESS.threads(30), STRESS.threads(10)
    tasks = [spawn(c.recv_ok) for _ in range(crowd)]
    tasks += [spawn(select, other.recv, c.recv_ok) for _ in range(crowd)]
    tasks += [spawn(select, (nobody.send, 1), c.recv) for _ in range(few)]
    wait_blocked(c, receivers=2 * crowd + few)
    c.close()
    results = join_all(tasks, STRESS.seconds(10))
    assert results == [(None, False)] * crowd + [(1, (None, False))] * crowd + [(1, None)] * few
    assert idle(c) and idle(other) and idle(nobody)


@stress_test(timeout=120)
@pytest.mark.parametrize("via_select", [False, True])
def test_token_ring_loses_no_wake_up(via_select: bool) -> None:
    """A token passed round a ring of threads over unbuffered channels many times."""
    nthreads, laps = STRESS.threads(12), 500
    ring = [Chan[int]() for _ in range(nthreads)]
    quit: Chan[None] = Chan()

    def node(k: int) -> int:
        inp, out = ring[k], ring[(k + 1) % nthreads]
        passed = 0
        while True:
            if via_select:
                # Once the ring is closed too, inp.recv may be chosen over quit.recv
                # (both ready, chosen at random) and give the closed channel's None.
                i, token = select(inp.recv, quit.recv)
                if i == 1 or token is None:
                    return passed
                select((out.send, token + 1), quit.recv)
            else:
                token = inp.recv()
                if token is None:
                    return passed
                out.send(token + 1)
            passed += 1

    nodes = [spawn(node, k) for k in range(1, nthreads)]
    token = 0
    for _ in range(laps):
        ring[1].send(token)
        token = ring[0].recv()
    assert token == laps * (nthreads - 1)
    quit.close()
    for ch in ring:
        ch.close()
    assert sum(join_all(nodes, STRESS.seconds(10))) == laps * (nthreads - 1)


@stress_test(timeout=120)
def test_fan_in_through_a_wide_select() -> None:
    """Eight producers, one consumer selecting over all eight channels (the shuffled path)."""
    n, width = 600, STRESS.threads(8)
    chans = [Chan[Tag](k % 3) for k in range(width)]

    def producer(k: int) -> None:
        for seq in range(n):
            chans[k].send((k, k, seq))
        chans[k].close()

    producers = [spawn(producer, k) for k in range(width)]
    live: list[Chan[Any]] = list(chans)
    got: list[Tag] = []
    while any(ch is not nilchan for ch in live):
        i, (v, ok) = select(*(ch.recv_ok for ch in live))
        if ok:
            got.append(v)
        else:
            live[i] = nilchan
    join_all(producers, STRESS.seconds(10))
    assert_in_order(got)
    assert sorted(got) == sorted((k, k, s) for k in range(width) for s in range(n))
    assert all(queued(ch) == 0 for ch in chans)
