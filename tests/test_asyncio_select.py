"""``async_select``: Go's select from a task, across channels shared with threads and loops.

Every rule of ``select`` holds: the same cases, uniform choice among ready
ones, ``default`` only when nothing is ready at the call, exactly one case
performed, a send case on a closed channel raising when chosen, nil cases
never ready, a select never matched with itself.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import pytest
from aio_support import drain, loops, run, wait_parked_async
from conftest import STRESS, idle, join_all, spawn, stress_test, wait_blocked
from test_select import within_sigmas

import gopool
from gopool import Chan, ClosedChannelError, async_select, default, nilchan, select

pytestmark = pytest.mark.timeout(90)


def test_async_select_is_exported_beside_select() -> None:
    assert gopool.async_select is async_select
    assert "async_select" in gopool.__all__


def test_each_kind_of_case_returns_what_select_returns() -> None:
    a: Chan[int] = Chan(1)
    b: Chan[int] = Chan(1)

    async def main() -> list[Any]:
        return [
            await async_select((a.send, 5)),
            await async_select(a.recv_ok),
            await async_select(default),
            await async_select((b.send, 6), default),
            await async_select(b.recv),
        ]

    assert run(main()) == [(0, None), (0, (5, True)), (0, None), (0, None), (0, 6)]


@pytest.mark.parametrize("ncases", [2, 3, 7])
def test_uniform_among_ready_recv_cases(ncases: int) -> None:
    trials = 600 * ncases
    chans = [Chan[int](trials) for _ in range(ncases)]
    for k, ch in enumerate(chans):
        for _ in range(trials):
            ch.send(k)

    async def main() -> Counter[int]:
        counts: Counter[int] = Counter()
        for _ in range(trials):
            i, v = await async_select(*[ch.recv for ch in chans])
            assert v == i
            counts[i] += 1
        return counts

    counts = run(main())
    for k in range(ncases):
        assert within_sigmas(counts[k], trials, 1 / ncases), counts


def test_uniform_among_mixed_ready_cases() -> None:
    trials = 3000
    room: Chan[int] = Chan(trials)
    items: Chan[int] = Chan(trials)
    closed: Chan[int] = Chan()
    closed.close()
    for i in range(trials):
        items.send(i)

    async def main() -> Counter[int]:
        cases = [(room.send, 1), items.recv, closed.recv_ok]
        return Counter([(await async_select(*cases))[0] for _ in range(trials)])

    counts = run(main())
    for k in range(3):
        assert within_sigmas(counts[k], trials, 1 / 3), counts
    assert len(room) == counts[0]
    assert len(items) == trials - counts[1]


def test_default_only_when_nothing_is_ready() -> None:
    ch: Chan[int] = Chan(1)

    async def main() -> None:
        assert await async_select(ch.recv, default) == (1, None)
        await ch.async_send(3)
        for _ in range(100):
            assert await async_select(default, ch.recv) == (1, 3)
            await ch.async_send(3)
        assert await async_select((ch.send, 4), default) == (1, None)

    run(main())


def test_default_not_chosen_when_a_parked_thread_or_task_is_the_partner() -> None:
    ch: Chan[int] = Chan()
    sender = spawn(ch.send, 1)
    wait_blocked(ch, senders=1)

    async def main() -> None:
        assert await async_select(ch.recv, default) == (0, 1)
        task = asyncio.create_task(ch.async_recv())
        await wait_parked_async(ch, receivers=1)
        assert await async_select(default, (ch.send, 2)) == (1, None)
        assert await task == 2

    run(main())
    sender.join()


def test_multiple_defaults_and_bad_cases_are_type_errors() -> None:
    ch: Chan[int] = Chan()

    async def main() -> None:
        with pytest.raises(TypeError, match="multiple defaults"):
            await async_select(default, default)
        with pytest.raises(TypeError, match="case 1"):
            await async_select(ch.recv, 42)
        with pytest.raises(TypeError):
            await async_select(ch.send)  # a send case needs its value

    run(main())
    assert idle(ch)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_parked_select_is_completed_by_a_thread_on_any_of_its_channels(which: int) -> None:
    a: Chan[int] = Chan()
    b: Chan[int] = Chan()
    c: Chan[int] = Chan()
    with loops(1) as (lt,):
        fut = lt.submit(async_select(a.recv, b.recv_ok, (c.send, 9)))
        wait_blocked(a, receivers=1)
        wait_blocked(c, senders=1)
        if which == 0:
            a.send(1)
            expected: tuple[int, Any] = (0, 1)
        elif which == 1:
            b.send(2)
            expected = (1, (2, True))
        else:
            assert c.recv() == 9
            expected = (2, None)
        assert fut.result(10) == expected
    # Exactly one case ran, and the other entries were withdrawn.
    assert idle(a) and idle(b) and idle(c)


def test_parked_thread_select_is_completed_by_a_task() -> None:
    a: Chan[int] = Chan()
    b: Chan[int] = Chan()
    t = spawn(select, a.recv, (b.send, 4))
    wait_blocked(b, senders=1)

    async def main() -> Any:
        return await async_select(b.recv, default)

    assert run(main()) == (0, 4)
    assert t.join() == (1, None)
    assert idle(a) and idle(b)


def test_async_select_never_matches_itself() -> None:
    ch: Chan[int] = Chan()

    async def main() -> None:
        assert await async_select((ch.send, 1), ch.recv, default) == (2, None)
        task = asyncio.create_task(async_select((ch.send, 1), ch.recv))
        await wait_parked_async(ch, senders=1, receivers=1)
        await asyncio.sleep(0.02)
        assert not task.done()
        assert await ch.async_recv() == 1
        assert await task == (0, None)

    run(main())
    assert idle(ch)


def test_two_self_selects_on_two_loops_pair_up() -> None:
    ch: Chan[str] = Chan()
    with loops(2) as (x, y):
        for _ in range(200):
            fa = x.submit(async_select((ch.send, "a"), ch.recv))
            fb = y.submit(async_select(ch.recv, (ch.send, "b")))
            ra, rb = fa.result(10), fb.result(10)
            assert (ra, rb) in (((0, None), (0, "a")), ((1, "b"), (1, None))), (ra, rb)
            assert idle(ch)


def test_task_and_thread_self_selects_pair_up() -> None:
    ch: Chan[str] = Chan()
    with loops(1) as (lt,):
        for _ in range(200):
            fa = lt.submit(async_select((ch.send, "a"), ch.recv))
            b = spawn(select, ch.recv, (ch.send, "b"))
            ra, rb = fa.result(10), b.join()
            assert (ra, rb) in (((0, None), (0, "a")), ((1, "b"), (1, None))), (ra, rb)
            assert idle(ch)


def test_send_case_on_closed_channel_raises_when_chosen() -> None:
    ch: Chan[int] = Chan(1)
    ch.close()

    async def main() -> None:
        with pytest.raises(ClosedChannelError, match="send on closed channel"):
            await async_select((ch.send, 1))
        # The closed receive is ready too: either outcome, never a hang.
        for _ in range(50):
            try:
                assert await async_select((ch.send, 1), ch.recv_ok) == (1, (None, False))
            except ClosedChannelError:
                pass

    run(main())


def test_close_completes_a_parked_select() -> None:
    a: Chan[int] = Chan()
    b: Chan[int] = Chan()
    with loops(1) as (lt,):
        recv = lt.submit(async_select(a.recv_ok, nilchan.recv))
        send = lt.submit(async_select((b.send, 1), nilchan.recv))
        wait_blocked(a, receivers=1)
        wait_blocked(b, senders=1)
        a.close()
        b.close()
        assert recv.result(10) == (0, (None, False))
        with pytest.raises(ClosedChannelError):
            send.result(10)
    assert idle(a) and idle(b)


@pytest.mark.parametrize(
    "cases",
    [(), (nilchan.recv,), ((nilchan.send, 1),), (nilchan.recv_ok, (nilchan.send, 2))],
    ids=["empty", "nil-recv", "nil-send", "nil-both"],
)
def test_select_with_no_ready_case_ever_waits_forever(cases: tuple[Any, ...]) -> None:
    async def main() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(async_select(*cases), 0.05)
        assert await async_select(*cases, default) == (len(cases), None)

    run(main())


def test_random_among_parked_cases_on_one_channel() -> None:
    ch: Chan[int] = Chan()
    counts: Counter[int] = Counter()
    with loops(1) as (lt,):
        for n in range(120):
            fut = lt.submit(async_select(ch.recv, ch.recv_ok))
            wait_blocked(ch, receivers=1)
            ch.send(n)
            i, v = fut.result(10)
            assert v == (n if i == 0 else (n, True))
            counts[i] += 1
            assert idle(ch)
    assert counts[0] > 15 and counts[1] > 15, counts


@stress_test(timeout=90)
def test_exactly_one_case_per_select_under_stress() -> None:
    """Tasks on two loops select over two inputs and one output; threads feed and drain.

    Every select performs exactly one case: what the selects took from the
    inputs plus what they put into the output equals the number of selects,
    and no value is lost or duplicated.
    """
    per_task, tasks_per_loop = STRESS.iterations(300), 4
    selects = per_task * tasks_per_loop * 2
    a: Chan[int] = Chan()
    b: Chan[int] = Chan(2)
    out: Chan[int] = Chan()
    taken: list[int] = []
    sent_out: list[int] = []
    drained: list[int] = []
    lock = threading.Lock()
    stop = Chan[None]()

    async def selector(base: int) -> None:
        for k in range(per_task):
            value = base + k
            i, v = await async_select(a.recv, b.recv, (out.send, value))
            with lock:
                if i == 2:
                    sent_out.append(value)
                else:
                    taken.append(v)

    def feed(ch: Chan[int], start: int) -> None:
        n = start
        while select((ch.send, n), stop.recv)[0] == 0:
            n += 1

    feeders = [spawn(feed, a, 10**6), spawn(feed, b, 2 * 10**6)]
    drainer = spawn(drain, out, stop, drained, lock)
    with loops(2) as (x, y):
        futs = [
            lt.submit(selector(10**4 * (j + 1) + 10**8 * (lt is x)))
            for lt in (x, y)
            for j in range(tasks_per_loop)
        ]
        for f in futs:
            f.result(STRESS.seconds(60))
    stop.close()
    join_all([*feeders, drainer])
    # What a feeder had parked when stopped was withdrawn; b's buffer may hold the rest.
    leftover = [b.recv() for _ in range(len(b))]
    assert len(taken) + len(sent_out) == selects
    assert sorted(sent_out) == sorted(drained)
    assert len(set(taken)) == len(taken)  # nothing received twice
    from_a = sorted(v for v in taken if v < 2 * 10**6)
    from_b = sorted(v for v in taken + leftover if v >= 2 * 10**6)
    # Each feeder sends consecutive numbers: a gap would be a lost value.
    assert from_a == list(range(10**6, 10**6 + len(from_a)))
    assert from_b == list(range(2 * 10**6, 2 * 10**6 + len(from_b)))
    assert idle(a) and idle(out)
