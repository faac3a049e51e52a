"""Ports of Go's own channel tests to ``gopool.chan``.

From ``src/runtime/chan_test.go``: TestChan, TestNonblockRecvRace,
TestNonblockSelectRace(2), TestSelfSelect, TestSelectStress, TestSelectFairness,
TestChanSendInterface, TestPseudoRandomSend, TestMultiConsumer,
TestSelectDuplicateChannel, and TestSelectStackAdjust without its stack part.
From ``test/chan/``: doubleselect.go, fifo.go, goroutines.go, nonblock.go,
select.go, select3.go, select4.go, select6.go, select7.go, sendstmt.go,
sieve1.go, sieve2.go, zerosize.go; and ``test/closedchan.go``.

Left out, being about Go's runtime or compiler rather than channel semantics:
TestShrinkStackDuringBlockedSend, TestNoShrinkStackWhileParking and the stack
half of TestSelectStackAdjust (goroutine stacks), the benchmarks, perm.go
(compile-time direction checks: here the RecvChan/SendChan protocols, checked
by mypy), select2.go (allocation counts), select5.go (a generator of
compile-time cases), select8.go (a compiler crash), powser1.go/powser2.go
(power-series arithmetic, large and not about channels beyond what sieve
covers) and the original sieve.go (sieve1.go is its checked form).

Iteration counts are scaled down from Go's so each test runs in about a
second on a loaded two-core machine; the structure of every test is kept.
Go's ``time.Sleep`` to "let a goroutine block" becomes a wait on the
channel's statistics where the point is that it blocked.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from conftest import STRESS, idle, join_all, spawn, stress_test, wait_blocked

from gopool import Chan, ClosedChannelError, RecvChan, SendChan, default, go, nilchan, select

pytestmark = [pytest.mark.timeout(120), pytest.mark.parallel_safe]


# -- src/runtime/chan_test.go --


@pytest.mark.parametrize("chan_cap", [0, 1, 2, 3, 5, 8, 13, 50])
def test_chan(chan_cap: int) -> None:
    """Port of Go's TestChan in src/runtime/chan_test.go (capacities sampled, L scaled)."""
    # Ensure that receive from empty chan blocks.
    c: Chan[int] = Chan(chan_cap)
    recv1 = spawn(c.recv)
    recv2 = spawn(c.recv_ok)
    wait_blocked(c, receivers=2)
    assert not recv1.done and not recv2.done, "receive from empty chan"
    # Ensure that non-blocking receive does not block.
    assert select(c.recv, default) == (1, None)
    assert select(c.recv_ok, default) == (1, None)
    c.send(0)
    c.send(0)
    assert sorted(map(str, join_all([recv1, recv2]))) == ["(0, True)", "0"]

    # Ensure that send to full chan blocks.
    c = Chan(chan_cap)
    for i in range(chan_cap):
        c.send(i)
    sender = spawn(c.send, 0)
    wait_blocked(c, senders=1)
    assert not sender.done, "send to full chan"
    # Ensure that non-blocking send does not block.
    assert select((c.send, 0), default) == (1, None)
    c.recv()
    sender.join()

    # Ensure that we receive 0 from closed chan.
    c = Chan(chan_cap)
    for i in range(chan_cap):
        c.send(i)
    c.close()
    for i in range(chan_cap):
        assert c.recv() == i
    assert c.recv() is None
    assert c.recv_ok() == (None, False)

    # Ensure that close unblocks receive.
    c = Chan(chan_cap)
    r = spawn(c.recv_ok)
    wait_blocked(c, receivers=1)
    c.close()
    assert r.join() == (None, False)

    # Send 100 integers, ensure that we receive them non-corrupted in FIFO order.
    c = Chan(chan_cap)
    s = spawn(lambda: [c.send(i) for i in range(100)])
    for i in range(100):
        assert c.recv() == i
    s.join()
    # Same, but using recv_ok.
    s = spawn(lambda: [c.send(i) for i in range(100)])
    for i in range(100):
        assert c.recv_ok() == (i, True)
    s.join()

    # Send L integers in P goroutines, ensure that we receive what we send.
    p_count, length = 4, 1000
    senders = [spawn(lambda: [c.send(i) for i in range(length)]) for _ in range(p_count)]
    done: Chan[Counter[int]] = Chan()

    def receiver() -> None:
        done.send(Counter(c.recv() for _ in range(length)))

    for _ in range(p_count):
        go(receiver)
    recv: Counter[int] = Counter()
    for _ in range(p_count):
        recv.update(done.recv(timeout=30))
    assert len(recv) == length
    assert set(recv.values()) == {p_count}
    join_all(senders)

    # Test len/cap.
    c = Chan(chan_cap)
    assert (len(c), c.cap) == (0, chan_cap)
    for i in range(chan_cap):
        c.send(i)
    assert (len(c), c.cap) == (chan_cap, chan_cap)


@stress_test(timeout=120)
def test_nonblock_recv_race() -> None:
    """Port of Go's TestNonblockRecvRace in src/runtime/chan_test.go (n scaled)."""
    for _ in range(STRESS.iterations(1000)):
        c: Chan[int] = Chan(1)
        c.send(1)
        t = spawn(select, c.recv, default)
        c.close()
        c.recv()
        assert t.join()[0] == 0, "chan is not ready"


@stress_test(timeout=120)
@pytest.mark.parametrize("close_c2", [False, True])
def test_nonblock_select_race(close_c2: bool) -> None:
    """Port of Go's TestNonblockSelectRace and TestNonblockSelectRace2 (close_c2) in
    src/runtime/chan_test.go: a select sees the channels at one instant, so with one of
    c1, c2 always ready it never takes default."""
    done: Chan[bool] = Chan(1)
    for _ in range(STRESS.iterations(1000)):
        c1: Chan[int] = Chan(1)
        c2: Chan[int] = Chan(0 if close_c2 else 1)
        c1.send(1)

        def racer(c1: Chan[int] = c1, c2: Chan[int] = c2) -> None:
            i, _ = select(c1.recv, c2.recv, default)
            done.send(i != 2)

        go(racer)
        if close_c2:
            c2.close()
        else:
            c2.send(1)
        select(c1.recv, default)
        assert done.recv(timeout=30), "no chan is ready"


@pytest.mark.parametrize("chan_cap", [0, 10])
def test_self_select(chan_cap: int) -> None:
    """Port of Go's TestSelfSelect in src/runtime/chan_test.go: send and receive on one
    channel in one select, from two goroutines; never a self receive on an unbuffered one."""
    c: Chan[int] = Chan(chan_cap)

    def run(p: int) -> None:
        for i in range(1000):
            if p == 0 or i % 2 == 0:
                k, v = select((c.send, p), c.recv)
                received = k == 1
            else:
                k, v = select(c.recv, (c.send, p))
                received = k == 0
            if received and chan_cap == 0:
                assert v != p, "self receive"

    join_all([spawn(run, 0), spawn(run, 1)], deadline=60)
    assert idle(c)


@stress_test(timeout=120)
def test_select_stress() -> None:
    """Port of Go's TestSelectStress in src/runtime/chan_test.go (N scaled from 1e5).

    4 goroutines send N values on each channel, 4 receive N from each, one sends N on
    each in a single select and one receives N from each in a single select, setting a
    channel's case to nil once its N are done. The whole must not deadlock.
    """
    n = STRESS.iterations(5000)
    c = [Chan[int](), Chan[int](), Chan[int](2), Chan[int](3)]
    tasks = []
    for k in range(4):
        tasks.append(spawn(lambda ch=c[k]: [ch.send(0) for _ in range(n)]))
        tasks.append(spawn(lambda ch=c[k]: [ch.recv() for _ in range(n)]))

    def select_sender() -> list[int]:
        counts = [0] * 4
        c1: list[Chan[int]] = list(c)
        for _ in range(4 * n):
            i, _ = select((c1[3].send, 0), (c1[2].send, 0), (c1[0].send, 0), (c1[1].send, 0))
            k = (3, 2, 0, 1)[i]
            counts[k] += 1
            if counts[k] == n:
                c1[k] = nilchan
        return counts

    def select_receiver() -> list[int]:
        counts = [0] * 4
        c1: list[Chan[int]] = list(c)
        for _ in range(4 * n):
            k, _ = select(c1[0].recv, c1[1].recv, c1[2].recv, c1[3].recv)
            counts[k] += 1
            if counts[k] == n:
                c1[k] = nilchan
        return counts

    tasks.append(spawn(select_sender))
    tasks.append(spawn(select_receiver))
    results = join_all(tasks, deadline=STRESS.seconds(90))
    assert results[-2] == [n] * 4 and results[-1] == [n] * 4
    assert all(idle(ch) and len(ch) == 0 for ch in c)


def test_select_fairness() -> None:
    """Port of Go's TestSelectFairness in src/runtime/chan_test.go (trials scaled):
    with c1 and c2 always ready, each is chosen about half the time (10 sigma)."""
    trials = 10_000
    c1: Chan[int] = Chan(trials + 1)
    c2: Chan[int] = Chan(trials + 1)
    for _ in range(trials + 1):
        c1.send(1)
        c2.send(2)
    c3: Chan[int] = Chan()
    c4: Chan[int] = Chan()
    out: Chan[int] = Chan()
    done: Chan[None] = Chan()

    def chooser() -> None:
        while True:
            _, b = select(c3.recv, c4.recv, c1.recv, c2.recv)
            i, _ = select((out.send, b), done.recv)
            if i == 1:
                return

    t = spawn(chooser)
    counts = Counter(out.recv(timeout=30) for _ in range(trials))
    assert set(counts) <= {1, 2}, f"unexpected value on channel: {counts}"
    mean = trials * 0.5
    stddev = math.sqrt(trials * 0.5 * 0.5)
    assert abs(counts[1] - mean) <= 10 * stddev, f"unfair select: {counts}"
    done.close()
    t.join()


def test_chan_send_interface() -> None:
    """Port of Go's TestChanSendInterface in src/runtime/chan_test.go."""

    class MT:
        pass

    m = MT()
    c: Chan[Any] = Chan(1)
    c.send(m)
    assert select((c.send, m), default) == (1, None)
    assert select((c.send, m), (c.send, MT()), default) == (2, None)
    assert c.recv() is m


@pytest.mark.parametrize("chan_cap", [0, 100])
def test_pseudo_random_send(chan_cap: int) -> None:
    """Port of Go's TestPseudoRandomSend in src/runtime/chan_test.go: a select with two
    sends on one channel picks either at random, whether it blocks or not."""
    n = 100
    c: Chan[int] = Chan(chan_cap)

    def receiver() -> list[int]:
        out = []
        for _ in range(n):
            time.sleep(0)  # runtime.Gosched()
            out.append(c.recv())
        return out

    r = spawn(receiver)
    for _ in range(n):
        select((c.send, 1), (c.send, 0))
    got = r.join()
    n1 = sum(got)
    n0 = n - n1
    assert n0 > n // 10 and n1 > n // 10, f"want pseudorandom, got {n0} zeros and {n1} ones"


@stress_test(timeout=120)
def test_multi_consumer() -> None:
    """Port of Go's TestMultiConsumer in src/runtime/chan_test.go (niter scaled)."""
    nwork, niter = STRESS.threads(23), STRESS.iterations(30_000)
    pn = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31]
    q: Chan[int] = Chan(nwork * 3)
    r: Chan[int] = Chan(nwork * 3)
    expect = 0
    workers_done = threading.Barrier(nwork + 1)

    def worker(w: int) -> None:
        for v in q:
            if pn[w % len(pn)] == v:
                time.sleep(0)  # mess with the fifo-ish nature of range
            r.send(v)
        workers_done.wait()

    for i in range(nwork):
        go(worker, i)

    def feeder() -> None:
        nonlocal expect
        for i in range(niter):
            v = pn[i % len(pn)]
            expect += v
            q.send(v)
        q.close()  # no more work
        workers_done.wait()  # workers done
        r.close()  # ... so there can be no more results

    f = spawn(feeder)
    n = s = 0
    for v in r:
        n += 1
        s += v
    f.join(STRESS.seconds(10))
    assert (n, s) == (niter, expect)


def test_select_duplicate_channel() -> None:
    """Port of Go's TestSelectDuplicateChannel in src/runtime/chan_test.go: a select
    queued twice on one channel, woken through another, leaves that channel's queue sound."""
    c: Chan[int] = Chan()
    d: Chan[int] = Chan()
    e: Chan[int] = Chan()

    def a() -> None:
        select(c.recv, c.recv, d.recv)
        e.send(9)

    go(a)
    wait_blocked(c, receivers=2)  # A is queued first on c
    b = spawn(c.recv)
    wait_blocked(c, receivers=3)  # B is queued on c before continuing
    d.send(7)  # wakes A, which dequeues itself from c
    assert e.recv(timeout=30) == 9
    c.send(8, timeout=30)  # must wake B, not the long-gone A
    assert b.join() == 8
    assert idle(c)


@pytest.mark.parametrize("dup", [False, True])
def test_select_stack_adjust_channel_part(dup: bool) -> None:
    """Port of the channel half of Go's TestSelectStackAdjust in src/runtime/chan_test.go:
    selects with and without duplicate cases, woken by close(d), receive d's zero value."""
    c: Chan[int] = Chan()
    d: Chan[int] = Chan()
    c2 = c if dup else nilchan
    d2 = d if dup else nilchan
    t = spawn(select, c.recv, c2.recv, d.recv, d2.recv)
    wait_blocked(d, receivers=2 if dup else 1)
    d.close()
    i, v = t.join()
    assert i in ((2, 3) if dup else (2,)) and v is None
    assert idle(c) and idle(d)


# -- test/chan/*.go --


@stress_test(timeout=120)
def test_doubleselect() -> None:
    """Port of Go's test/chan/doubleselect.go (iterations scaled): two cases of one
    select never both run, so no value arrives twice."""
    iterations = STRESS.iterations(10_000)
    c1, c2, c3, c4 = (Chan[int]() for _ in range(4))
    cmux: Chan[int] = Chan()

    def sender(n: int) -> None:
        for i in range(n):
            select((c1.send, i), (c2.send, i), (c3.send, i), (c4.send, i))
        for ch in (c1, c2, c3, c4):
            ch.close()

    def mux(out: SendChan[int], inp: RecvChan[int]) -> None:
        for v in inp:
            out.send(v)

    go(sender, iterations)
    muxes = [spawn(mux, cmux, ch) for ch in (c1, c2, c3, c4)]
    closer = spawn(lambda: (join_all(muxes, deadline=STRESS.seconds(60)), cmux.close()))
    seen: set[int] = set()
    for v in cmux:
        assert v not in seen, f"got duplicate value: {v}"
        seen.add(v)
    closer.join(STRESS.seconds(60))
    assert seen == set(range(iterations))


def test_fifo() -> None:
    """Port of Go's test/chan/fifo.go: AsynchFifo and SynchFifo."""
    n = 10
    # AsynchFifo
    ch: Chan[int] = Chan(n)
    for i in range(n):
        ch.send(i)
    for i in range(n):
        assert ch.recv() == i, "bad receive"

    # SynchFifo: thread together a daisy chain to read the elements in sequence.
    ch = Chan()
    failures: Chan[int] = Chan(n)

    def chain(ch: RecvChan[int], val: int, inp: RecvChan[int], out: SendChan[int]) -> None:
        inp.recv()
        if ch.recv() != val:
            failures.send(val)
        out.send(1)

    inp: Chan[int] = Chan()
    start = inp
    for i in range(n):
        out: Chan[int] = Chan()
        go(chain, ch, i, inp, out)
        inp = out
    start.send(0)
    for i in range(n):
        ch.send(i)
    inp.recv(timeout=30)
    assert len(failures) == 0


def test_goroutines() -> None:
    """Port of Go's test/chan/goroutines.go (n scaled from 10000): many goroutines
    threaded together by unbuffered channels, torn down cleanly."""
    n = 200
    leftmost: Chan[int] = Chan()
    left = right = leftmost
    threads = []
    for _ in range(n):
        right = Chan()
        threads.append(go(lambda left=left, right=right: left.send(right.recv())))
        left = right
    go(right.send, 1)
    assert leftmost.recv(timeout=30) == 1
    for t in threads:
        t.join(10)
        assert not t.is_alive()


@pytest.mark.parametrize("buffer", [0, 1])
def test_nonblock(buffer: int) -> None:
    """Port of Go's test/chan/nonblock.go: non-blocking sends and receives (select with
    default) succeed once the partner is there, for several value types."""
    sync: Chan[bool] = Chan()

    def nb_send(c: Chan[Any], v: Any) -> bool:
        return select((c.send, v), default)[0] == 0

    def nb_recv(c: Chan[Any]) -> tuple[Any, bool]:
        i, v = select(c.recv, default)
        return v, i == 0

    for sent_back, expected in (
        (234, 123),
        (234567, 123456),
        (True, True),
        ("hello again", "hello"),
    ):
        c: Chan[Any] = Chan(buffer)
        assert nb_recv(c) == (None, False), "blocked sender"

        def receiver(c: Chan[Any] = c, expected: Any = expected) -> None:
            assert c.recv() == expected
            sync.send(True)

        r = spawn(receiver)
        if buffer == 0:
            wait_blocked(c, receivers=1)
        assert nb_send(c, expected), f"receiver buffer={buffer}"
        sync.recv()
        r.join()

        def sender(c: Chan[Any] = c, v: Any = sent_back) -> None:
            c.send(v)
            sync.send(True)

        s = spawn(sender)
        if buffer > 0:
            sync.recv()
        else:
            wait_blocked(c, senders=1)
        assert nb_recv(c) == (sent_back, True), f"sender buffer={buffer}"
        if buffer == 0:
            sync.recv()
        s.join()


def test_select_send_values_evaluated_and_nil_cases() -> None:
    """Port of Go's test/chan/select.go: send values are all evaluated on entry (counter),
    a case set to nil is never chosen again, and default ends the loop."""
    counter = 0
    shift = 0

    def get_value() -> int:
        nonlocal counter
        counter += 1
        return 1 << shift

    def send(a: Chan[int], b: Chan[int]) -> int:
        nonlocal shift
        i = 0
        while True:
            k, _ = select((a.send, get_value()), (b.send, get_value()), default)
            if k == 2:
                return i
            i += 1
            if k == 0:
                a = nilchan
            else:
                b = nilchan
            shift += 1

    a: Chan[int] = Chan(1)
    b: Chan[int] = Chan(1)
    assert send(a, b) == 2
    assert a.recv() | b.recv() == 3
    assert send(a, nilchan) == 1
    assert counter == 10


def blocks(f: Callable[[], object], wait: float = 0.1) -> bool:
    """Go's testBlock in test/chan/select3.go: whether ``f`` is still blocked after ``wait``.

    A call found blocked stays parked in its daemon thread; every caller here
    gives it a way out (a timeout), so no thread is left behind for good.
    """
    t = spawn(f)
    t.thread.join(wait)
    if t.done:
        t.join()  # re-raises what f raised
        return False
    return True


def panics(f: Callable[[], object]) -> bool:
    """Go's testPanic in test/chan/select3.go, for ClosedChannelError."""
    try:
        f()
    except ClosedChannelError:
        return True
    return False


def test_select3() -> None:
    """Port of Go's test/chan/select3.go: which operations and selects block, which panic."""
    closedch: Chan[int] = Chan()
    closedch.close()
    t = 1.0  # long enough to be "forever" next to wait=0.1

    # sending/receiving from a nil channel blocks
    assert blocks(lambda: nilchan.send(7, timeout=t))
    assert blocks(lambda: nilchan.recv(timeout=t))
    # sending/receiving from a nil channel inside a select is never selected
    assert not panics(lambda: select((nilchan.send, 7), default))
    assert select((nilchan.send, 7), default)[0] == 1
    assert select(nilchan.recv, default)[0] == 1
    # sending to an async channel with free buffer space never blocks
    assert not blocks(lambda: Chan[int](1).send(7))

    # receiving from a closed channel never blocks
    def recv_closed() -> None:
        for _ in range(10):
            assert closedch.recv() is None
            assert closedch.recv_ok() == (None, False)

    assert not blocks(recv_closed)
    # sending to a closed channel panics
    assert panics(lambda: closedch.send(7))
    # receiving from a non-ready channel always blocks
    assert blocks(lambda: Chan[int]().recv(timeout=t))
    # empty selects always block
    assert blocks(lambda: select(timeout=t))
    # selects with only nil channels always block
    assert blocks(lambda: select(nilchan.recv, timeout=t))
    assert blocks(lambda: select((nilchan.send, 7), timeout=t))
    assert blocks(lambda: select(nilchan.recv, (nilchan.send, 7), timeout=t))
    # selects with non-ready non-nil channels always block
    assert blocks(lambda: select(Chan[int]().recv, timeout=t))
    # selects with default cases don't block
    assert not blocks(lambda: select(default))
    assert not blocks(lambda: select(nilchan.recv, default))
    assert not blocks(lambda: select((nilchan.send, 7), default))

    # selects with ready channels don't block
    def ready_send() -> None:
        ch: Chan[int] = Chan(1)
        assert select((ch.send, 7), default)[0] == 0

    def ready_recv() -> None:
        ch: Chan[int] = Chan(1)
        ch.send(7)
        assert select(ch.recv, default) == (0, 7)

    assert not blocks(ready_send)
    assert not blocks(ready_recv)
    # selects with closed channels behave like ordinary operations
    assert not blocks(lambda: select(closedch.recv))
    assert not blocks(lambda: select(closedch.recv_ok))
    assert panics(lambda: select((closedch.send, 7)))

    # select should not get confused if it sees itself
    def self_select() -> None:
        c: Chan[int] = Chan()
        select((c.send, 1), c.recv, timeout=t)

    assert blocks(self_select)


def test_select4() -> None:
    """Port of Go's test/chan/select4.go: the ready case's value reaches its case only."""
    c: Chan[int] = Chan(1)
    c1: Chan[int] = Chan()
    c.send(42)
    assert select(c1.recv, c.recv) == (1, 42)


def test_select6() -> None:
    """Port of Go's test/chan/select6.go (issue 2075): a select that loses on c1 must not
    corrupt c1's queue when other receivers wait there."""
    c1: Chan[bool] = Chan()
    c2: Chan[bool] = Chan()
    c3: Chan[bool] = Chan()
    first = spawn(c1.recv)

    def selector() -> None:
        i, _ = select(c1.recv, c2.recv)
        assert i == 1, "dummy"
        c3.send(True)
        c1.recv()

    second = spawn(selector)
    wait_blocked(c1, receivers=2)
    go(c2.send, True)
    assert c3.recv(timeout=30)
    c1.send(True, timeout=30)
    c1.send(True, timeout=30)
    join_all([first, second])


@pytest.mark.parametrize("recv_kind", [1, 2, 3])
@pytest.mark.parametrize("send_kind", [1, 2, 3])
def test_select7(send_kind: int, recv_kind: int) -> None:
    """Port of Go's test/chan/select7.go: select when discarding a value, every pairing of
    plain/select/two-case-select send with plain/select/two-case-select receive."""

    def recv(c: Chan[int]) -> Any:
        if recv_kind == 1:
            return c.recv()
        if recv_kind == 2:
            return select(c.recv)[1]
        return select(c.recv, Chan[int]().recv)[1]

    c: Chan[int] = Chan()
    r = spawn(recv, c)
    time.sleep(0)  # runtime.Gosched()
    if send_kind == 1:
        c.send(1)
    elif send_kind == 2:
        select((c.send, 1))
    else:
        select((c.send, 1), (Chan[int]().send, 1))
    assert r.join() == 1


def test_sendstmt() -> None:
    """Port of Go's test/chan/sendstmt.go: ``case <-cc <- 2`` sends on the channel
    received from cc; ``c <- false || true`` sends the expression's value."""
    cc: Chan[Chan[int]] = Chan(1)
    c: Chan[int] = Chan(1)
    cc.send(c)
    received = cc.recv()
    assert received is not None
    assert select((received.send, 2), default) == (0, None), "nonblock"
    assert c.recv() == 2, "bad receive"
    b: Chan[bool] = Chan(1)
    b.send(False or True)
    assert b.recv() is True, "sent false"


PRIMES_TO_100 = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73,
                 79, 83, 89, 97]  # fmt: skip


def test_sieve1() -> None:
    """Port of Go's test/chan/sieve1.go: primes up to 100 by a chain of filter goroutines.

    Go leaves the goroutines blocked when main returns; here a ``quit`` channel
    closed at the end lets each of them leave through a select.
    """
    quit: Chan[None] = Chan()

    def generate(ch: SendChan[int]) -> None:
        i = 2
        while select((ch.send, i), quit.recv)[0] == 0:
            i += 1

    def filter_(inp: Chan[int], out: SendChan[int], prime: int) -> None:
        while True:
            k, i = select(inp.recv, quit.recv)
            if k == 1:
                return
            if i % prime != 0 and select((out.send, i), quit.recv)[0] == 1:
                return

    def sieve(primes: SendChan[int]) -> None:
        ch: Chan[int] = Chan()
        go(generate, ch)
        while True:
            k, prime = select(ch.recv, quit.recv)
            if k == 1 or select((primes.send, prime), quit.recv)[0] == 1:
                return
            ch1: Chan[int] = Chan()
            go(filter_, ch, ch1, prime)
            ch = ch1

    primes: Chan[int] = Chan()
    go(sieve, primes)
    got = [primes.recv(timeout=30) for _ in PRIMES_TO_100]
    quit.close()
    assert got == PRIMES_TO_100


def test_sieve2() -> None:
    """Port of Go's test/chan/sieve2.go: an Eratosthenes sieve over odd numbers whose
    send proxy uses a nil channel in select to disable output while its buffer is empty.

    As in sieve1, a ``quit`` channel lets the goroutines leave at the end.
    """
    quit: Chan[None] = Chan()

    def put(ch: Chan[int], v: int) -> bool:
        return select((ch.send, v), quit.recv)[0] == 0

    def get(ch: Chan[int]) -> int | None:
        k, v = select(ch.recv, quit.recv)
        return v if k == 0 else None

    def odds() -> Chan[int]:
        out: Chan[int] = Chan(50)

        def run() -> None:
            n = 5
            while put(out, n):
                n += 2

        go(run)
        return out

    def multiples(p: int) -> Chan[int]:
        out: Chan[int] = Chan(10)

        def run() -> None:
            n = p * p
            while put(out, n):
                n += 2 * p

        go(run)
        return out

    def sendproxy(out: Chan[int]) -> Chan[int]:
        proxy: Chan[int] = Chan(10)

        def run() -> None:
            buffered: list[int] = []  # Go's expanding ring
            while True:
                c = nilchan if not buffered else out  # buffer empty: disable output
                e = buffered[0] if buffered else 0
                k, v = select(proxy.recv, (c.send, e), quit.recv)
                if k == 0:
                    buffered.append(v)
                elif k == 1:
                    buffered.pop(0)
                else:
                    return

        go(run)
        return proxy

    def sieve() -> Chan[int]:
        out: Chan[int] = Chan(10)
        out.send(2)
        out.send(3)
        composites: Chan[int] = Chan(50)  # all composites to eliminate, in increasing order
        primes: Chan[int] = Chan(10)  # the feedback loop
        primes.send(3)

        def merge() -> None:
            # Merge channels of multiples of 'primes' into 'composites'.
            h: list[tuple[int, int, Chan[int]]] = []  # (head, tiebreak, channel)
            tiebreak = 0
            lowest = 15
            while True:
                p = get(primes)
                if p is None:
                    return
                m = multiples(p)
                head = get(m)
                if head is None:
                    return
                while lowest < head or lowest == head:
                    if lowest < head and not put(composites, lowest):
                        return
                    lowest, _, minchan = heapq.heappop(h)
                    nxt = get(minchan)
                    if nxt is None:
                        return
                    tiebreak += 1
                    heapq.heappush(h, (nxt, tiebreak, minchan))
                if not put(composites, head):
                    return
                nxt = get(m)
                if nxt is None:
                    return
                tiebreak += 1
                heapq.heappush(h, (nxt, tiebreak, m))

        def sift() -> None:
            # Sieve out 'composites' from 'candidates'.
            proxied = sendproxy(primes)
            candidates = odds()
            p = get(candidates)
            while p is not None:
                c = get(composites)
                if c is None:
                    return
                while p is not None and p < c:
                    if not put(proxied, p) or not put(out, p):
                        return
                    p = get(candidates)
                if p == c:
                    p = get(candidates)

        go(merge)
        go(sift)
        return out

    primes = sieve()
    got = [primes.recv(timeout=30) for _ in PRIMES_TO_100]
    quit.close()
    assert got == PRIMES_TO_100


@pytest.mark.parametrize("size", [0, 1])
def test_zerosize(size: int) -> None:
    """Port of Go's test/chan/zerosize.go: channels of an empty value (``struct{}``,
    ``[0]byte``) are made, and here also carry their values."""
    for empty in ((), b""):
        ch: Chan[Any] = Chan(size)
        s = spawn(ch.send, empty)
        assert ch.recv() == empty
        s.join()


# -- test/closedchan.go --


class XChan:
    """Direct channel operations (closedchan.go's XChan)."""

    impl = "(<- operator)"

    def __init__(self, c: Chan[int]) -> None:
        self.c = c

    def send(self, x: int) -> None:
        self.c.send(x)

    def nbsend(self, x: int) -> bool:
        return select((self.c.send, x), default)[0] == 0

    def recv(self) -> int | None:
        return self.c.recv()

    def nbrecv(self) -> tuple[int | None, bool]:
        i, v = select(self.c.recv, default)
        return (v, True) if i == 0 else (0, False)

    def recv2(self) -> tuple[int | None, bool]:
        return self.c.recv_ok()

    def nbrecv2(self) -> tuple[int | None, bool, bool]:
        i, v = select(self.c.recv_ok, default)
        return (v[0], v[1], True) if i == 0 else (0, False, False)

    def close(self) -> None:
        self.c.close()


class SChan(XChan):
    """Operations through a select (closedchan.go's SChan), default first."""

    impl = "(select)"

    def send(self, x: int) -> None:
        select((self.c.send, x))

    def nbsend(self, x: int) -> bool:
        return select(default, (self.c.send, x))[0] == 1

    def recv(self) -> int | None:
        return select(self.c.recv)[1]

    def nbrecv(self) -> tuple[int | None, bool]:
        i, v = select(default, self.c.recv)
        return (v, True) if i == 1 else (0, False)

    def recv2(self) -> tuple[int | None, bool]:
        result: tuple[int | None, bool] = select(self.c.recv_ok)[1]
        return result

    def nbrecv2(self) -> tuple[int | None, bool, bool]:
        i, v = select(default, self.c.recv_ok)
        return (v[0], v[1], True) if i == 1 else (0, False, False)


DUMMY: Chan[bool] = Chan()


class SSChan(XChan):
    """Operations through larger selects with a never-ready dummy case (closedchan.go's
    SSChan)."""

    impl = "(select)"

    def send(self, x: int) -> None:
        select((self.c.send, x), DUMMY.recv)

    def nbsend(self, x: int) -> bool:
        i, _ = select(default, DUMMY.recv, (self.c.send, x))
        assert i != 1
        return i == 2

    def recv(self) -> int | None:
        i, v = select(DUMMY.recv, self.c.recv)
        assert i == 1
        return v

    def nbrecv(self) -> tuple[int | None, bool]:
        i, v = select(DUMMY.recv, default, self.c.recv)
        assert i != 0
        return (v, True) if i == 2 else (0, False)

    def recv2(self) -> tuple[int | None, bool]:
        i, v = select(DUMMY.recv, self.c.recv_ok)
        assert i == 1
        return v

    def nbrecv2(self) -> tuple[int | None, bool, bool]:
        i, v = select(DUMMY.recv, default, self.c.recv_ok)
        assert i != 0
        return (v[0], v[1], True) if i == 2 else (0, False, False)


MKS = [XChan, SChan, SSChan]


def closed_test1(c: XChan) -> None:
    """closedchan.go's test1: a closed, drained channel through every kind of operation."""
    for _ in range(3):
        # recv a close signal (a zero value)
        assert c.recv() is None, c.impl
        assert c.recv2() == (None, False), c.impl
        # should work with select: received a value without blocking, so selected
        assert c.nbrecv() == (None, True), c.impl
        assert c.nbrecv2() == (None, False, True), c.impl
    # send should panic, with and without blocking
    with pytest.raises(ClosedChannelError):
        c.nbsend(1)
    # the value should have been discarded
    assert c.recv() is None, c.impl
    with pytest.raises(ClosedChannelError):
        c.send(2)
    assert c.recv() is None, c.impl


def closedsync() -> Chan[int]:
    c: Chan[int] = Chan()
    c.close()
    return c


def closedasync() -> Chan[int]:
    c: Chan[int] = Chan(2)
    c.send(1)
    c.close()
    return c


@pytest.mark.parametrize("mk", MKS, ids=lambda m: m.__name__)
def test_closedchan_sync(mk: type[XChan]) -> None:
    """Port of Go's test/closedchan.go, test1 on a closed unbuffered channel."""
    closed_test1(mk(closedsync()))


@pytest.mark.parametrize("mk", MKS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("how", ["recv", "recv2", "nbrecv", "nbrecv2"])
def test_closedchan_async(mk: type[XChan], how: str) -> None:
    """Port of Go's test/closedchan.go, testasync1..4: the last buffered value is still
    delivered after close, through each kind of receive, then test1."""
    c = mk(closedasync())
    expected = {"recv": 1, "recv2": (1, True), "nbrecv": (1, True), "nbrecv2": (1, True, True)}
    assert getattr(c, how)() == expected[how], c.impl
    closed_test1(c)


def test_closedchan_close_panics() -> None:
    """Port of Go's test/closedchan.go: closing a nil or a closed channel panics."""
    with pytest.raises(ClosedChannelError):
        nilchan.close()
    ch: Chan[int] = Chan()
    ch.close()
    with pytest.raises(ClosedChannelError):
        ch.close()
