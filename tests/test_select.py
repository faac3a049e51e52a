"""Tests for ``select`` and ``default`` in ``gopool.chan``: every rule of the spec's "select"
section, corners included (fairness, ``default``, nil cases, the same channel in several
cases, a select never matched with itself, timeouts, bad input, no stale queue entries).
"""

from __future__ import annotations

import gc
import math
import weakref
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from conftest import idle, join_all, queued, spawn, wait_blocked

from gopool import Chan, ClosedChannelError, default, nilchan, select

pytestmark = [pytest.mark.timeout(60), pytest.mark.parallel_safe]


def within_sigmas(count: int, trials: int, p: float, sigmas: float = 8.0) -> bool:
    """Whether ``count`` successes in ``trials`` is within ``sigmas`` deviations of ``p``."""
    return abs(count - trials * p) <= sigmas * math.sqrt(trials * p * (1 - p))


# -- what each kind of case returns --


def test_recv_case_returns_index_and_value() -> None:
    a: Chan[int] = Chan(1)
    b: Chan[str] = Chan(1)
    b.send("hi")
    assert select(a.recv, b.recv) == (1, "hi")


def test_recv_ok_case_returns_value_and_ok() -> None:
    a: Chan[int] = Chan(1)
    a.send(0)
    assert select(a.recv_ok) == (0, (0, True))
    a.close()
    assert select(a.recv_ok) == (0, (None, False))


def test_send_case_returns_none() -> None:
    a: Chan[int] = Chan(1)
    assert select((a.send, 3)) == (0, None)
    assert a.recv() == 3


def test_default_alone_and_in_any_position() -> None:
    a: Chan[int] = Chan()
    assert select(default) == (0, None)
    assert select(default, a.recv) == (0, None)
    assert select(a.recv, (a.send, 1), default) == (2, None)
    assert repr(default) == "default"


def test_send_case_value_is_the_one_delivered() -> None:
    a: Chan[Any] = Chan(1)
    obj = object()
    select((a.send, obj))
    assert a.recv() is obj


# -- default --


def test_default_when_nothing_ready() -> None:
    empty: Chan[int] = Chan(1)
    full: Chan[int] = Chan(1)
    full.send(1)
    unbuffered: Chan[int] = Chan()
    assert select(empty.recv, (full.send, 2), unbuffered.recv, (unbuffered.send, 3), default) == (
        4,
        None,
    )
    assert len(empty) == 0 and len(full) == 1
    assert idle(empty) and idle(full) and idle(unbuffered)


def test_default_never_chosen_when_a_case_is_ready() -> None:
    ready: Chan[int] = Chan(1000)
    for i in range(1000):
        ready.send(i)
    idle_chans = [Chan[int]() for _ in range(3)]
    got = [
        select(idle_chans[0].recv, default, ready.recv, idle_chans[1].recv, idle_chans[2].recv)
        for _ in range(1000)
    ]
    assert got == [(2, i) for i in range(1000)]


def test_default_not_chosen_for_closed_channel() -> None:
    closed: Chan[int] = Chan()
    closed.close()
    for _ in range(100):
        assert select(default, closed.recv) == (1, None)
        assert select(closed.recv_ok, default) == (0, (None, False))


def test_default_not_chosen_when_a_receiver_waits() -> None:
    ch: Chan[int] = Chan()
    r = spawn(ch.recv)
    wait_blocked(ch, receivers=1)
    assert select((ch.send, 5), default) == (0, None)
    assert r.join() == 5


def test_default_not_chosen_when_a_sender_waits() -> None:
    ch: Chan[int] = Chan()
    s = spawn(ch.send, 6)
    wait_blocked(ch, senders=1)
    assert select(default, ch.recv) == (1, 6)
    s.join()


def test_default_judged_at_one_instant_forced_interleaving() -> None:
    """White-box companion of Go's TestNonblockSelectRace: with c1 or c2 ready at every
    instant, a select with default must not take default even when the channels change
    between its looks at them. Holding c1's lock parks the select right before it looks
    at c1; meanwhile c2 becomes ready and c1 stops being ready (emptied under its lock)."""
    for _ in range(12):
        c1: Chan[int] = Chan(1)
        c2: Chan[int] = Chan(1)
        c1.send(0)
        with c1._lock:
            t = spawn(select, c1.recv, c2.recv, default)
            t.thread.join(0.03)  # let it look at c2 (if first) and block on c1's lock
            c2.send(1)
            c1._buf.popleft()
        assert t.join() == (1, 1), "default taken though a case was ready at every instant"


def test_multiple_defaults_rejected() -> None:
    with pytest.raises(TypeError):
        select(default, default)


# -- fairness --


@pytest.mark.parametrize("ncases", [2, 3, 5, 7])
def test_uniform_among_ready_recv_cases(ncases: int) -> None:
    """Every ready case is chosen about 1/n of the time, whatever its position."""
    trials = 700 * ncases
    chans = [Chan[int](trials) for _ in range(ncases)]
    for k, ch in enumerate(chans):
        for _ in range(trials):
            ch.send(k)
    cases = [ch.recv for ch in chans]
    counts = Counter()
    for _ in range(trials):
        i, v = select(*cases)
        assert v == i
        counts[i] += 1
    for k in range(ncases):
        assert within_sigmas(counts[k], trials, 1 / ncases), counts


def test_uniform_among_mixed_ready_cases() -> None:
    trials = 3000
    a: Chan[int] = Chan(trials)  # room to send into
    b: Chan[int] = Chan(trials)  # items to take
    closed: Chan[int] = Chan()
    closed.close()
    for i in range(trials):
        b.send(i)
    counts = Counter(select((a.send, 1), b.recv, closed.recv_ok)[0] for _ in range(trials))
    for k in range(3):
        assert within_sigmas(counts[k], trials, 1 / 3), counts
    assert len(a) == counts[0]
    assert len(b) == trials - counts[1]


def test_uniform_when_the_same_channel_is_in_several_ready_cases() -> None:
    trials = 2000
    ch: Chan[int] = Chan(trials)
    for i in range(trials):
        ch.send(i)
    counts: Counter[int] = Counter()
    received = []
    for _ in range(trials):
        i, v = select(ch.recv, ch.recv_ok, ch.recv)
        counts[i] += 1
        received.append(v[0] if i == 1 else v)
    assert received == list(range(trials))  # FIFO whichever case took it
    for k in range(3):
        assert within_sigmas(counts[k], trials, 1 / 3), counts


def test_random_among_blocked_send_cases_on_one_channel() -> None:
    """A select parked with two sends on one channel: the receiver takes either, at random."""
    ch: Chan[int] = Chan()
    counts: Counter[int] = Counter()
    for _ in range(100):
        t = spawn(select, (ch.send, 0), (ch.send, 1))
        wait_blocked(ch, senders=1)
        v = ch.recv()
        assert t.join() == (v, None)
        assert idle(ch)
        counts[v] += 1
    assert counts[0] > 10 and counts[1] > 10, counts


def test_random_among_blocked_recv_cases_on_one_channel() -> None:
    ch: Chan[int] = Chan()
    counts: Counter[int] = Counter()
    for n in range(100):
        t = spawn(select, ch.recv, ch.recv_ok)
        wait_blocked(ch, receivers=1)
        ch.send(n)
        i, v = t.join()
        assert v == (n if i == 0 else (n, True))
        assert idle(ch)
        counts[i] += 1
    assert counts[0] > 10 and counts[1] > 10, counts


# -- the same channel in several cases --


def test_two_sends_on_one_channel_perform_exactly_one() -> None:
    for _ in range(50):
        ch: Chan[str] = Chan(1)
        i, _ = select((ch.send, "a"), (ch.send, "b"))
        assert ch.recv(timeout=0) == "ab"[i]
        assert len(ch) == 0


def test_select_never_matches_itself() -> None:
    """A send and a receive on one unbuffered channel in one select: never a self-hand-off."""
    ch: Chan[int] = Chan()
    with pytest.raises(TimeoutError):
        select((ch.send, 1), ch.recv, timeout=0.05)
    with pytest.raises(TimeoutError):
        select(ch.recv, (ch.send, 1), timeout=0)
    assert select((ch.send, 1), ch.recv, default) == (2, None)
    assert idle(ch)
    with pytest.raises(TimeoutError):
        ch.recv(timeout=0)


def test_two_self_selects_pair_up() -> None:
    """Two threads each in ``select((c.send, x), c.recv)`` must hand off to each other."""
    ch: Chan[str] = Chan()
    for _ in range(200):
        a = spawn(select, (ch.send, "a"), ch.recv)
        b = spawn(select, ch.recv, (ch.send, "b"))
        ra, rb = join_all([a, b])
        # Either a sent and b received, or b sent and a received.
        assert (ra, rb) in (((0, None), (0, "a")), ((1, "b"), (1, None))), (ra, rb)
        assert idle(ch)


def test_self_select_pairs_with_plain_operations() -> None:
    ch: Chan[int] = Chan()
    t = spawn(select, (ch.send, 1), ch.recv)
    wait_blocked(ch, senders=1, receivers=1)
    assert ch.recv() == 1
    assert t.join() == (0, None)
    assert idle(ch)
    t = spawn(select, (ch.send, 1), ch.recv)
    wait_blocked(ch, senders=1, receivers=1)
    ch.send(2)
    assert t.join() == (1, 2)
    assert idle(ch)


# -- nil cases and empty selects --


def test_nil_cases_never_ready() -> None:
    assert select(nilchan.recv, default) == (1, None)
    assert select((nilchan.send, 1), nilchan.recv_ok, nilchan.recv, default) == (3, None)
    ch: Chan[int] = Chan(1)
    ch.send(9)
    for _ in range(100):
        assert select(nilchan.recv, (nilchan.send, 0), ch.recv, default) == (2, 9)
        ch.send(9)


def test_select_with_only_nil_cases_blocks() -> None:
    for cases in ([nilchan.recv], [(nilchan.send, 1)], [nilchan.recv, (nilchan.send, 1)]):
        with pytest.raises(TimeoutError):
            select(*cases, timeout=0.03)


def test_empty_select_blocks() -> None:
    with pytest.raises(TimeoutError):
        select(timeout=0.05)
    with pytest.raises(TimeoutError):
        select(timeout=0)
    t = spawn(lambda: select(timeout=0.3))
    wait_a_little = Chan[None]()
    with pytest.raises(TimeoutError):
        wait_a_little.recv(timeout=0.05)
    assert not t.done
    with pytest.raises(TimeoutError):
        t.join()


def test_blocked_select_with_nil_case_wakes_on_real_channel() -> None:
    ch: Chan[int] = Chan()
    t = spawn(select, nilchan.recv, (nilchan.send, 1), ch.recv)
    wait_blocked(ch, receivers=1)
    ch.send(4)
    assert t.join() == (2, 4)


# -- blocking --


@pytest.mark.parametrize("which", range(4))
def test_blocked_select_wakes_on_any_of_its_channels(which: int) -> None:
    chans = [Chan[int]() for _ in range(4)]
    t = spawn(select, chans[0].recv, chans[1].recv_ok, (chans[2].send, 20), (chans[3].send, 30))
    for ch in chans[:2]:
        wait_blocked(ch, receivers=1)
    for ch in chans[2:]:
        wait_blocked(ch, senders=1)
    if which == 0:
        chans[0].send(10)
        expected: Any = (0, 10)
    elif which == 1:
        chans[1].send(11)
        expected = (1, (11, True))
    else:
        assert chans[which].recv() == 10 * which
        expected = (which, None)
    assert t.join() == expected
    for k, ch in enumerate(chans):
        assert idle(ch), k
        with pytest.raises(TimeoutError):  # nothing parked is left to take or give a value
            ch.send(0, timeout=0)
        with pytest.raises(TimeoutError):
            ch.recv(timeout=0)


def test_blocked_select_completes_exactly_one_case() -> None:
    """Two partners arrive for one parked select: one is served, the other stays blocked."""
    for _ in range(100):
        a: Chan[int] = Chan()
        b: Chan[int] = Chan()
        t = spawn(select, a.recv, b.recv)
        wait_blocked(a, receivers=1)
        wait_blocked(b, receivers=1)
        sa = spawn(a.send, 0)
        sb = spawn(b.send, 1)
        i, v = t.join()
        assert v == i
        winner, loser = (sa, sb) if i == 0 else (sb, sa)
        winner.join()
        left = (b, a)[i]
        wait_blocked(left, senders=1)
        assert not loser.done
        assert left.recv() == 1 - i
        loser.join()
        assert idle(a) and idle(b)


def test_blocked_select_on_buffered_channels() -> None:
    a: Chan[int] = Chan(1)
    b: Chan[int] = Chan(1)
    b.send(0)
    t = spawn(select, a.recv, (b.send, 5))
    wait_blocked(a, receivers=1)
    a.send(7)
    assert t.join() == (0, 7)
    assert len(a) == 0 and b.recv() == 0 and len(b) == 0
    b.send(1)
    t = spawn(select, a.recv, (b.send, 5))
    wait_blocked(b, senders=1)
    assert b.recv() == 1  # frees the buffer, so the select's send goes in
    assert t.join() == (1, None)
    assert b.recv() == 5
    assert idle(a) and idle(b)


def test_blocked_select_with_many_cases() -> None:
    chans = [Chan[int]() for _ in range(9)]
    t = spawn(select, *(ch.recv for ch in chans))
    for ch in chans:
        wait_blocked(ch, receivers=1)
    chans[6].send(66)
    assert t.join() == (6, 66)
    assert all(idle(ch) for ch in chans)


# -- closed channels --


def test_closed_recv_case_is_ready() -> None:
    ch: Chan[int] = Chan()
    ch.close()
    assert select(ch.recv) == (0, None)
    assert select(ch.recv_ok) == (0, (None, False))


def test_send_case_on_closed_channel_raises_when_chosen() -> None:
    ch: Chan[int] = Chan(1)
    ch.close()
    with pytest.raises(ClosedChannelError, match="send on closed channel"):
        select((ch.send, 1))
    with pytest.raises(ClosedChannelError):
        select((ch.send, 1), default)
    with pytest.raises(ClosedChannelError):
        select((ch.send, 1), nilchan.recv)


def test_close_wakes_blocked_select() -> None:
    a: Chan[int] = Chan()
    b: Chan[int] = Chan()
    recv = spawn(select, a.recv, b.recv_ok)
    recv_ok = spawn(select, a.recv_ok, b.recv)
    wait_blocked(b, receivers=2)
    b.close()
    assert recv.join() == (1, (None, False))
    assert recv_ok.join() == (1, None)
    assert idle(a) and idle(b)


def test_close_fails_blocked_select_send() -> None:
    a: Chan[int] = Chan()
    b: Chan[int] = Chan()
    t = spawn(select, a.recv, (b.send, 1))
    wait_blocked(b, senders=1)
    b.close()
    with pytest.raises(ClosedChannelError, match="send on closed channel"):
        t.join()
    assert idle(a) and idle(b)
    with pytest.raises(TimeoutError):
        a.send(1, timeout=0)


# -- timeout= --


@pytest.mark.parametrize("timeout", [0, 0.03, timedelta(milliseconds=30)])
def test_select_timeout_performs_nothing(timeout: float | timedelta) -> None:
    a: Chan[int] = Chan()
    b: Chan[int] = Chan(1)
    b.send(0)
    with pytest.raises(TimeoutError):
        select(a.recv, (a.send, 1), (b.send, 2), timeout=timeout)
    assert idle(a) and idle(b)
    assert b.recv(timeout=0) == 0
    with pytest.raises(TimeoutError):
        b.recv(timeout=0)
    with pytest.raises(TimeoutError):
        a.recv(timeout=0)


def test_select_timeout_not_taken_when_ready() -> None:
    a: Chan[int] = Chan(1)
    a.send(1)
    assert select(a.recv, timeout=0) == (0, 1)
    t = spawn(lambda: select(a.recv, timeout=30))
    wait_blocked(a, receivers=1)
    a.send(2)
    assert t.join() == (0, 2)


# -- bad input --


@pytest.mark.parametrize(
    "make_case",
    [
        lambda ch: 42,
        lambda ch: None,
        lambda ch: ch,
        lambda ch: "default",
        lambda ch: ch.close,
        lambda ch: ch.send,
        lambda ch: (ch.recv, 1),
        lambda ch: (ch.send,),
        lambda ch: (ch.send, 1, 2),
        lambda ch: [ch.send, 1],
        lambda ch: (ch.close, 1),
        lambda ch: lambda: None,
        lambda ch: print,
        lambda ch: ch.statistics,
        lambda ch: (lambda v: None, 1),
    ],
)
def test_non_case_is_type_error(make_case: Any) -> None:
    ch: Chan[int] = Chan(1)
    ch.send(1)
    with pytest.raises(TypeError):
        select(ch.recv, make_case(ch))
    with pytest.raises(TypeError):
        select(make_case(ch), default)
    assert len(ch) == 1, "a case was performed before the bad one was rejected"
    assert idle(ch)


def test_bad_timeout_kind_leaves_no_entry_behind() -> None:
    """A select that would block, given a timeout of the wrong kind, raises TypeError and
    leaves no waiter queued that could swallow a later value."""
    c: Chan[int] = Chan()
    with pytest.raises(TypeError):
        select(c.recv, timeout="soon")
    with pytest.raises(TypeError):
        select((c.send, 1), timeout="soon")
    assert idle(c)
    with pytest.raises(TimeoutError):
        c.send(1, timeout=0.01)
    with pytest.raises(TimeoutError):
        c.recv(timeout=0.01)


def test_type_error_names_the_problem() -> None:
    with pytest.raises(TypeError, match="case"):
        select(42)


# -- no stale entries --


class Payload:
    """A value that can be weakly referenced, to see whether anything still holds it."""


def test_timed_out_selects_leave_no_entries() -> None:
    """A select loop with timeout on channels nobody uses leaves nothing queued behind."""
    a: Chan[int] = Chan()
    b: Chan[object] = Chan()
    payload = Payload()
    ref = weakref.ref(payload)
    for _ in range(300):
        with pytest.raises(TimeoutError):
            select(a.recv, (b.send, payload), a.recv_ok, timeout=0.0005)
    assert a.statistics()["receivers_waiting"] == 0
    assert b.statistics()["senders_waiting"] == 0
    assert queued(a) == 0 and queued(b) == 0
    del payload
    gc.collect()
    assert ref() is None, "a withdrawn send case still holds its value"


def test_completed_select_leaves_no_entries_on_its_other_channels() -> None:
    chans = [Chan[int]() for _ in range(3)]
    for n in range(100):
        t = spawn(select, *(ch.recv for ch in chans), chans[0].recv)
        for ch in chans:
            wait_blocked(ch, receivers=1)
        chans[n % 3].send(n)
        assert t.join()[1] == n
        assert all(queued(ch) == 0 for ch in chans)
