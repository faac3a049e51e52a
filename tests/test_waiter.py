"""Tests for ``gopool._waiter``: the waiter, the wait queue and the blocking protocol.

The verbs every blocking primitive is built on: publish (at the back or the
front), hand off to the first live waiter, complete them all, withdraw, and
abort a parked thread from another thread. Go has no test of its own for
``sudog``; its channel and select tests (ported in test_chan_go_ports.py)
exercise these verbs through the channels, and this file checks them
directly, with the interleavings that matter forced.
"""

from __future__ import annotations

import random
import threading

import pytest
from conftest import STRESS, idle, join_all, spawn, stress_test, until, wait_blocked

from gopool import Chan, WaitGroup, select
from gopool._waiter import ThreadWaiter, WaitQueue, block

pytestmark = pytest.mark.timeout(60)


class Aborted(Exception):
    """The exception the tests abort waits with."""


def test_hand_off_skips_stale_entries_and_serves_in_order() -> None:
    """``hand_off`` drops claimed waiters and claims the first live one, FIFO."""
    q = WaitQueue()
    a, b, c = ThreadWaiter(), ThreadWaiter(), ThreadWaiter()
    q.publish(a, 0, "a")
    q.publish(b, 1, "b")
    q.publish(c, 2, "c")
    assert a.claim()  # completed elsewhere: stale here
    assert q.waiting() == 2
    entry = q.hand_off()
    assert entry == (b, 1, "b") and b.claimed
    assert list(q) == [(c, 2, "c")]
    assert q.hand_off() == (c, 2, "c")
    assert q.hand_off() is None and not q


def test_publish_front_is_served_first() -> None:
    """``publish(front=True)`` queues ahead of everyone (Go's lifo requeue)."""
    q = WaitQueue()
    first, second, requeued = ThreadWaiter(), ThreadWaiter(), ThreadWaiter()
    q.publish(first)
    q.publish(second)
    q.publish(requeued, front=True)
    served = [q.hand_off(), q.hand_off(), q.hand_off()]
    assert [e[0] for e in served if e is not None] == [requeued, first, second]


def test_complete_all_claims_only_live_waiters() -> None:
    """``complete_all`` writes the outcome into each live waiter, empties the queue."""
    q = WaitQueue()
    live, stale = ThreadWaiter(), ThreadWaiter()
    q.publish(stale, 0)
    q.publish(live, 3)
    assert stale.claim()
    woken = q.complete_all(False, "closed")
    assert woken == [live] and not q
    assert (live.index, live.value, live.ok) == (3, "closed", False)
    assert stale.value is None  # not written: someone else's to complete


def test_withdraw_takes_back_or_finds_completed() -> None:
    """``withdraw``: True and the entries gone, or False when a counterpart claimed first."""
    q = WaitQueue()
    mine, taken = ThreadWaiter(), ThreadWaiter()
    q.publish(mine, 0)
    q.publish(mine, 1)  # a select with two cases on one queue
    q.publish(taken, 0)
    assert q.withdraw(mine)
    assert [e[0] for e in q] == [taken]
    assert taken.claim()
    taken.wake()
    assert not q.withdraw(taken)  # completed: the outcome stands, the wake-up settled
    assert taken.park(0) is False, "the wake-up was settled by the withdrawal"
    assert q.withdraw(ThreadWaiter())  # never queued: nothing to remove


def test_abort_before_park_raises_at_once() -> None:
    """An abort that comes before the park makes the park raise without blocking."""
    w = ThreadWaiter()
    exc = Aborted("early")
    assert w.abort(exc)
    with pytest.raises(Aborted) as info:
        w.park()
    assert info.value is exc
    assert w.take_back(), "an aborted waiter is its owner's to withdraw"


def test_abort_loses_to_a_completion() -> None:
    """A waiter completed first is not aborted: ``abort`` returns False, the park returns True."""
    w = ThreadWaiter()
    assert w.claim()
    w.ok = True
    w.wake()
    assert not w.abort(Aborted())
    assert w.park() is True and w.ok


def test_completion_loses_to_an_abort() -> None:
    """After an abort no counterpart can complete the waiter: its claim fails."""
    w = ThreadWaiter()
    assert w.abort(Aborted())
    assert not w.claim()


def test_abort_withdraws_a_parked_receive() -> None:
    """A receive aborted while parked raises the exception, leaving nothing queued."""
    ch: Chan[int] = Chan()
    task = spawn(ch.recv)
    wait_blocked(ch, receivers=1)
    with ch._lock:
        w = ch._recvq[0][0]
    assert w.abort(Aborted("stop"))
    with pytest.raises(Aborted, match="stop"):
        task.join()
    assert idle(ch)
    # The channel still works: the aborted receiver took nothing.
    sender = spawn(ch.send, 5)
    assert ch.recv() == 5
    sender.join()


def test_abort_withdraws_a_parked_select_from_every_channel() -> None:
    """An aborted select leaves no entry on any of its channels."""
    a: Chan[int] = Chan()
    b: Chan[int] = Chan(1)
    b.send(0)
    task = spawn(select, a.recv, (b.send, 1))
    wait_blocked(a, receivers=1)
    with a._lock:
        w = a._recvq[0][0]
    assert w.abort(Aborted())
    with pytest.raises(Aborted):
        task.join()
    assert idle(a) and idle(b)
    assert b.recv() == 0 and len(b) == 0


def test_abort_withdraws_a_waitgroup_wait() -> None:
    """An aborted ``WaitGroup.wait`` leaves the group without waiters."""
    wg = WaitGroup()
    wg.add(1)
    task = spawn(wg.wait)
    until(lambda: wg.statistics()["waiters"] == 1, "the wait to park")
    with wg._lock:
        w = wg._waiters[0][0]
    assert w.abort(Aborted())
    with pytest.raises(Aborted):
        task.join()
    assert wg.statistics() == {"counter": 1, "waiters": 0}
    wg.done()


def test_block_completes_at_once_without_parking() -> None:
    """``block``: an attempt that completes claims the waiter, and nothing is published."""
    lock = threading.Lock()
    q = WaitQueue()
    w = ThreadWaiter()

    def attempt(w: ThreadWaiter, arg: str) -> bool:
        w.claim()
        w.value = arg
        return True

    assert block(w, lock, attempt, "now", None, q.withdraw) is True
    assert w.value == "now" and not q and not lock.locked()


def test_block_times_out_and_withdraws() -> None:
    """``block``: a waiter nobody completes is withdrawn on timeout; False."""
    lock = threading.Lock()
    q = WaitQueue()
    w = ThreadWaiter()

    def attempt(w: ThreadWaiter, _: object) -> bool:
        q.publish(w)
        return False

    assert block(w, [lock, threading.Lock()], attempt, None, 0.01, q.withdraw) is False
    assert not q


@stress_test(timeout=60)
def test_stress_aborts_race_hand_offs() -> None:
    """Aborts racing senders: every value sent is received exactly once, none is lost.

    Receivers park on an unbuffered channel; one thread aborts parked
    receivers at random while senders hand values to them. A receiver
    either gets a value or raises the abort; a sender whose value was not
    taken before its timeout keeps it.
    """
    rounds = STRESS.iterations(200)
    ch: Chan[int] = Chan()
    received: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def receive() -> None:
        for _ in range(rounds):
            try:
                v = ch.recv()
            except Aborted:
                continue
            assert v is not None
            with lock:
                received.append(v)

    def send(base: int) -> list[int]:
        sent = []
        for i in range(rounds):
            try:
                ch.send(base + i, timeout=0.05)
            except TimeoutError:
                continue
            sent.append(base + i)
        return sent

    def abort() -> None:
        while not stop.is_set():
            with ch._lock:
                entries = list(ch._recvq)
            if entries:
                random.choice(entries)[0].abort(Aborted())
            else:
                stop.wait(0.0005)

    receivers = [spawn(receive) for _ in range(4)]
    aborter = spawn(abort)
    senders = [spawn(send, k * 1_000_000) for k in range(4)]
    sent = sorted(v for s in join_all(senders, STRESS.seconds(60)) for v in s)
    # Let the receivers finish their rounds: what they still wait for is
    # sent now, and counted as sent.
    extra = 0
    while not all(r.done for r in receivers):
        try:
            ch.send(-1 - extra, timeout=0.01)
        except TimeoutError:
            continue
        sent.append(-1 - extra)
        extra += 1
    stop.set()
    join_all([*receivers, aborter], STRESS.seconds(30))
    assert sorted(received) == sorted(sent)
    assert idle(ch)


@pytest.mark.timeout(120)
def test_withdrawing_100000_waiters_in_any_order_finishes() -> None:
    """Withdrawal is O(1) amortised: 100,000 waiters withdrawn in random order, with
    hand-offs in between; the live ones are served in FIFO order and none is left."""
    n = 100_000
    q = WaitQueue()
    waiters = [ThreadWaiter() for _ in range(n)]
    for i, w in enumerate(waiters):
        q.publish(w, 0, i)
    rnd = random.Random(7)
    order = list(range(n))
    rnd.shuffle(order)
    gone: set[int] = set()
    served: list[int] = []
    for k, i in enumerate(order[: n - 1000]):  # all but 1,000 give up
        # One served in the meantime finds itself completed.
        assert q.withdraw(waiters[i]) is (i not in gone)
        gone.add(i)
        if k % 997 == 0:  # a counterpart now and then takes the first live waiter
            entry = q.hand_off()
            assert entry is not None and entry[0] is not waiters[i]
            served.append(entry[2])
            gone.add(entry[2])
        assert not q or not q[0][0].claimed  # a non-empty queue has a live front
    assert served == sorted(served)
    assert q.waiting() == n - len(gone)
    rest = []
    while (entry := q.hand_off()) is not None:
        rest.append(entry[2])
    assert rest == sorted(set(range(n)) - gone)
    assert not q


def test_withdrawn_middle_entries_are_dropped_as_the_ends_leave() -> None:
    """A waiter withdrawn from the middle stays stale only until it reaches an end."""
    q = WaitQueue()
    a, b, c = ThreadWaiter(), ThreadWaiter(), ThreadWaiter()
    for w in (a, b, c):
        q.publish(w)
    assert q.withdraw(b)
    assert q.waiting() == 2
    assert q.withdraw(a)  # uncovers b: both gone
    assert list(q) == [(c, 0, None)]
    assert q.withdraw(c)
    assert not q


def test_a_withdrawal_drops_the_stale_entries_a_popped_front_uncovered() -> None:
    """After a counterpart pops the front by hand (Chan's inlined hand-off), leaving a
    stale entry there, the next withdrawal drops it: both ends are live again."""
    q = WaitQueue()
    a, b, c, d = (ThreadWaiter() for _ in range(4))
    for w in (a, b, c, d):
        q.publish(w)
    assert q.withdraw(b)  # middle: left stale
    assert a.claim()
    q.popleft()  # b, stale, is now the front
    assert q.withdraw(c)  # middle again, but the stale front goes with it
    assert list(q) == [(d, 0, None)]
    assert q.withdraw(d)
    assert not q
