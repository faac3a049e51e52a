"""The asyncio forms of ``Chan``: one channel shared by threads and tasks on any loops.

Every hand-off across the two worlds (thread to task, task to thread, task
to task on one loop and on two loops in two threads), Go's channel rules
held by the async forms (FIFO, unbuffered rendezvous, close, nil channel),
``async for``, and the cost of a waiting task: no thread and no CPU.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

import pytest
from aio_support import loops, run, until_async, wait_parked_async
from conftest import join_all, spawn, wait_blocked

from gopool import Chan, ClosedChannelError, RecvChan, SendChan, nilchan

pytestmark = pytest.mark.timeout(60)


# -- hand-offs across the two worlds --


@pytest.mark.parametrize("size", [0, 1, 8])
def test_thread_send_completes_a_waiting_task(size: int) -> None:
    ch: Chan[int] = Chan(size)
    with loops(1) as (lt,):
        fut = lt.submit(ch.async_recv())
        wait_blocked(ch, receivers=1)
        ch.send(42)
        assert fut.result(10) == 42
    assert ch.statistics()["receivers_waiting"] == 0


@pytest.mark.parametrize("size", [0, 1])
def test_task_send_completes_a_blocked_thread(size: int) -> None:
    ch: Chan[str] = Chan(size)
    t = spawn(ch.recv_ok)
    wait_blocked(ch, receivers=1)
    with loops(1) as (lt,):
        lt.run(ch.async_send("x"))
    assert t.join() == ("x", True)


def test_thread_recv_completes_a_waiting_task_send() -> None:
    ch: Chan[int] = Chan()
    with loops(1) as (lt,):
        fut = lt.submit(ch.async_send(7))
        wait_blocked(ch, senders=1)
        assert not fut.done()  # unbuffered: not sent until received
        assert ch.recv() == 7
        assert fut.result(10) is None


def test_task_to_task_on_two_loops_in_two_threads() -> None:
    n = 2000
    ch: Chan[int] = Chan()

    async def produce() -> None:
        for i in range(n):
            await ch.async_send(i)
        ch.close()

    async def consume() -> list[int]:
        return [v async for v in ch]

    with loops(2) as (a, b):
        got = b.submit(consume())
        a.run(produce())
        assert got.result(30) == list(range(n))


def test_task_to_task_on_one_loop() -> None:
    ch: Chan[int] = Chan()

    async def main() -> list[int]:
        async def produce() -> None:
            for i in range(500):
                await ch.async_send(i)
            ch.close()

        producer = asyncio.create_task(produce())
        got = [v async for v in ch]
        await producer
        return got

    assert run(main()) == list(range(500))


@pytest.mark.parametrize("size", [0, 16])
def test_thread_to_task_stream_keeps_order(size: int) -> None:
    n = 20000
    ch: Chan[int] = Chan(size)

    def produce() -> None:
        for i in range(n):
            ch.send(i)
        ch.close()

    async def consume() -> list[int]:
        return [v async for v in ch]

    with loops(1) as (lt,):
        got = lt.submit(consume())
        producer = spawn(produce)
        assert got.result(30) == list(range(n))
        producer.join()


@pytest.mark.parametrize("size", [0, 16])
def test_task_to_thread_stream_keeps_order(size: int) -> None:
    n = 20000
    ch: Chan[int] = Chan(size)

    async def produce() -> None:
        for i in range(n):
            await ch.async_send(i)
        ch.close()

    consumer = spawn(lambda: list(ch))
    with loops(1) as (lt,):
        lt.run(produce(), 30)
    assert consumer.join(30) == list(range(n))


def test_many_threads_and_tasks_on_several_loops_lose_and_duplicate_nothing() -> None:
    """Senders and receivers of both kinds on one channel: every value arrives exactly once."""
    per, kinds = 400, 3
    ch: Chan[tuple[str, int]] = Chan(4)
    received: list[tuple[str, int]] = []
    lock = threading.Lock()

    def thread_send(tag: str) -> None:
        for i in range(per):
            ch.send((tag, i))

    def thread_recv(count: int) -> None:
        for _ in range(count):
            v = ch.recv()
            assert v is not None
            with lock:
                received.append(v)

    async def task_send(tag: str) -> None:
        for i in range(per):
            await ch.async_send((tag, i))

    async def task_recv(count: int) -> None:
        for _ in range(count):
            v = await ch.async_recv()
            assert v is not None
            with lock:
                received.append(v)

    with loops(2) as (a, b):
        futs = [lt.submit(task_send(f"t{lt is a}{k}")) for lt in (a, b) for k in range(kinds)]
        futs += [lt.submit(task_recv(per)) for lt in (a, b) for _ in range(kinds)]
        threads = [spawn(thread_send, f"th{k}") for k in range(kinds)]
        threads += [spawn(thread_recv, per) for _ in range(kinds)]
        for f in futs:
            f.result(60)
        join_all(threads, 60)
    expected = [(f"t{x}{k}", i) for x in (True, False) for k in range(kinds) for i in range(per)]
    expected += [(f"th{k}", i) for k in range(kinds) for i in range(per)]
    assert Counter(received) == Counter(expected)
    assert ch.statistics()["senders_waiting"] == ch.statistics()["receivers_waiting"] == 0


# -- Go's rules, held by the async forms --


def test_parked_receivers_of_both_kinds_are_served_in_arrival_order() -> None:
    ch: Chan[int] = Chan()
    with loops(1) as (lt,):
        first = lt.submit(ch.async_recv())
        wait_blocked(ch, receivers=1)
        second = spawn(ch.recv)
        wait_blocked(ch, receivers=2)
        third = lt.submit(ch.async_recv())
        wait_blocked(ch, receivers=3)
        for v in (1, 2, 3):
            ch.send(v)
        assert (first.result(10), second.join(), third.result(10)) == (1, 2, 3)


def test_parked_senders_of_both_kinds_are_served_in_arrival_order() -> None:
    ch: Chan[int] = Chan(1)
    ch.send(0)
    with loops(1) as (lt,):
        first = lt.submit(ch.async_send(1))
        wait_blocked(ch, senders=1)
        second = spawn(ch.send, 2)
        wait_blocked(ch, senders=2)
        third = lt.submit(ch.async_send(3))
        wait_blocked(ch, senders=3)
        assert [ch.recv() for _ in range(4)] == [0, 1, 2, 3]
        first.result(10)
        second.join()
        third.result(10)


def test_buffered_async_send_blocks_only_while_full() -> None:
    ch: Chan[int] = Chan(2)

    async def main() -> None:
        await ch.async_send(1)
        await ch.async_send(2)
        blocked = asyncio.create_task(ch.async_send(3))
        await wait_parked_async(ch, senders=1)
        assert not blocked.done()
        assert await ch.async_recv() == 1
        await blocked
        assert [await ch.async_recv() for _ in range(2)] == [2, 3]

    run(main())


def test_async_recv_of_closed_channel() -> None:
    ch: Chan[int] = Chan(2)
    ch.send(1)
    ch.close()

    async def main() -> list[Any]:
        return [await ch.async_recv_ok(), await ch.async_recv_ok(), await ch.async_recv()]

    # Buffered values are still delivered after close; then Go's zero value at once.
    assert run(main()) == [(1, True), (None, False), None]


def test_async_send_on_closed_channel_raises() -> None:
    ch: Chan[int] = Chan(5)
    ch.close()
    with pytest.raises(ClosedChannelError, match="send on closed channel"):
        run(ch.async_send(1))


def test_close_fails_a_parked_async_send_and_wakes_parked_async_receivers() -> None:
    full: Chan[int] = Chan(1)
    full.send(1)
    empty: Chan[int] = Chan()
    with loops(2) as (a, b):
        sender = a.submit(full.async_send(2))
        receivers = [lt.submit(empty.async_recv_ok()) for lt in (a, b, a)]
        wait_blocked(full, senders=1)
        wait_blocked(empty, receivers=3)
        full.close()
        empty.close()
        with pytest.raises(ClosedChannelError, match="send on closed channel"):
            sender.result(10)
        assert [r.result(10) for r in receivers] == [(None, False)] * 3
    assert full.recv_ok() == (1, True)  # the failed send's value was not buffered
    assert full.recv_ok() == (None, False)


def test_async_for_ends_when_closed_and_drained() -> None:
    ch: Chan[int] = Chan(3)
    for v in (1, 2, 3):
        ch.send(v)

    async def main() -> list[int]:
        out = []
        async for v in ch:
            out.append(v)
            if v == 3:
                ch.close()
        return out

    assert run(main()) == [1, 2, 3]


def test_async_for_waits_for_values_from_a_thread() -> None:
    ch: Chan[int] = Chan()

    def produce() -> None:
        for v in range(5):
            time.sleep(0.01)
            ch.send(v)
        ch.close()

    async def main() -> list[int]:
        producer = spawn(produce)
        out = [v async for v in ch]
        producer.join()
        return out

    assert run(main()) == list(range(5))


@pytest.mark.parametrize("op", ["async_recv", "async_recv_ok", "async_send"])
def test_nil_channel_async_ops_block_forever(op: str) -> None:
    async def main() -> None:
        call = nilchan.async_send(1) if op == "async_send" else getattr(nilchan, op)()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(call, 0.05)

    run(main())


def test_a_waiting_task_does_not_block_its_loop() -> None:
    ch: Chan[int] = Chan()

    async def main() -> int:
        waiting = asyncio.create_task(ch.async_recv())
        ticks = 0
        for _ in range(10):
            await asyncio.sleep(0.001)
            ticks += 1
        assert not waiting.done()
        await asyncio.to_thread(ch.send, 5)
        assert await waiting == 5
        return ticks

    assert run(main()) == 10


def test_the_channel_types_offer_the_async_forms() -> None:
    ch: Chan[int] = Chan()
    assert isinstance(ch, RecvChan) and isinstance(ch, SendChan)
    for name in ("async_recv", "async_recv_ok", "__aiter__"):
        assert name in RecvChan.__dict__, name
    assert "async_send" in SendChan.__dict__


# -- the cost of a waiting task --


def _thread_cpu(t: threading.Thread) -> float:
    assert t.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(t.ident))


def _switches(t: threading.Thread) -> int:
    status = f"/proc/self/task/{t.native_id}/status"
    with open(status) as f:
        return sum(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not os.path.exists("/proc/self/task"),
    reason="per-thread CPU time and context switches are read from Linux's /proc",
)
def test_waiting_tasks_hold_no_thread_and_cost_no_cpu() -> None:
    """2,000 tasks parked on one channel: no thread each, and their loop sleeps."""
    n = 2000
    ch: Chan[int] = Chan()
    with loops(1) as (lt,):
        before = threading.active_count()
        futs = [lt.submit(ch.async_recv()) for _ in range(n)]
        wait_blocked(ch, receivers=n)
        assert threading.active_count() == before
        # A round trip through the loop: every task has taken its parking
        # step (under load the loop can still be busy with them after every
        # waiter is published); then the loop goes back to sleep.
        lt.run(asyncio.sleep(0))
        time.sleep(0.2)
        cpu, switches = _thread_cpu(lt.thread), _switches(lt.thread)
        time.sleep(1.0)
        # A poll anywhere would wake the loop's thread: it stays asleep.
        assert _switches(lt.thread) == switches
        assert _thread_cpu(lt.thread) - cpu < 0.02
        for v in range(n):
            ch.send(v)
        assert sorted(f.result(10) for f in futs) == list(range(n))


async def _count_ready(ch: Chan[int]) -> int:
    await until_async(lambda: len(ch) == ch.cap, "buffer full")
    return len(ch)


def test_statistics_count_parked_tasks() -> None:
    ch: Chan[int] = Chan(1)
    with loops(1) as (lt,):
        senders = [lt.submit(ch.async_send(i)) for i in range(3)]
        assert lt.run(_count_ready(ch)) == 1
        wait_blocked(ch, senders=2)
        assert ch.statistics()["senders_waiting"] == 2
        assert "senders_waiting=2" in repr(ch)
        assert [ch.recv() for _ in range(3)] == [0, 1, 2]
        for f in senders:
            f.result(10)
