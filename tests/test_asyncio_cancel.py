"""Cancelling a task that waits in a channel operation, and the race with a hand-off.

A cancelled waiting task withdraws: nothing sent, received or taken, and
``CancelledError`` propagates. If a counterpart completed the operation
before the cancellation could withdraw it, the operation stands: the call
returns its result, and the cancellation is requested again (``uncancel()``
then ``cancel()``), so the task's next ``await`` raises. The tests force
both orders deterministically by holding the loop's thread in a callback
while the other side acts, then stress them with random cancellations and
count every value.
"""

from __future__ import annotations

import asyncio
import random
import sys
import threading
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from aio_support import LoopThread, drain, loops, run, wait_parked_async
from conftest import (
    DEADLINE,
    STRESS,
    idle,
    join_all,
    sigint_child,
    spawn,
    stress_test,
    wait_blocked,
)

from gopool import Chan, async_select, default

pytestmark = pytest.mark.timeout(120)


class Held:
    """Holds a loop's thread inside one callback until released, so what others do meanwhile
    lands in the loop's queues in a known order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        loop.call_soon_threadsafe(self._hold)

    def _hold(self) -> None:
        self.entered.set()
        assert self.release.wait(DEADLINE)

    def __enter__(self) -> Held:
        assert self.entered.wait(DEADLINE)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()


def start_task(lt: LoopThread, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    return lt.call(lambda: asyncio.get_running_loop().create_task(coro))


def outcome(lt: LoopThread, task: asyncio.Task[Any]) -> Any:
    """Wait for ``task`` from the test's thread: its result, or the type of its exception."""

    async def wait() -> Any:
        await asyncio.wait([task])
        if task.cancelled():
            return asyncio.CancelledError
        exc = task.exception()
        return task.result() if exc is None else type(exc)

    return lt.run(wait())


# -- a cancelled waiting task withdraws --


def test_cancelled_async_recv_withdraws() -> None:
    ch: Chan[int] = Chan()
    with loops(1) as (lt,):
        task = start_task(lt, ch.async_recv())
        wait_blocked(ch, receivers=1)
        lt.loop.call_soon_threadsafe(task.cancel)
        assert outcome(lt, task) is asyncio.CancelledError
    assert idle(ch)
    with pytest.raises(TimeoutError):
        ch.send(1, timeout=0)  # nobody is left to receive it


def test_cancelled_async_send_withdraws_its_value() -> None:
    for size in (0, 1):
        ch: Chan[int] = Chan(size)
        if size:
            ch.send(0)
        with loops(1) as (lt,):
            task = start_task(lt, ch.async_send(1))
            wait_blocked(ch, senders=1)
            lt.loop.call_soon_threadsafe(task.cancel)
            assert outcome(lt, task) is asyncio.CancelledError
        assert idle(ch)
        assert [ch.recv(timeout=0) for _ in range(size)] == [0] * size
        with pytest.raises(TimeoutError):
            ch.recv(timeout=0)


def test_cancelled_async_select_withdraws_from_every_channel() -> None:
    a: Chan[int] = Chan()
    b: Chan[int] = Chan()
    with loops(1) as (lt,):
        task = start_task(lt, async_select(a.recv, (b.send, 2), a.recv_ok))
        wait_blocked(a, receivers=1)
        wait_blocked(b, senders=1)
        lt.loop.call_soon_threadsafe(task.cancel)
        assert outcome(lt, task) is asyncio.CancelledError
    assert idle(a) and idle(b)


def test_asyncio_timeout_withdraws_and_takes_nothing() -> None:
    ch: Chan[int] = Chan()

    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02):
                await ch.async_recv()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02):
                await async_select(ch.recv, (ch.send, 1))
        assert idle(ch)
        assert await async_select((ch.send, 1), default) == (1, None)

    run(main())


def test_closing_a_loop_with_waiting_tasks_leaves_nothing_queued() -> None:
    a: Chan[int] = Chan()
    b: Chan[int] = Chan()
    with loops(2) as loop_threads:
        for lt in loop_threads:
            for _ in range(10):
                lt.submit(a.async_recv())
                lt.submit(async_select(a.recv, (b.send, 3)))
        wait_blocked(a, receivers=40)
        wait_blocked(b, senders=20)
    # LoopThread.close cancels every task, as asyncio.run does.
    assert idle(a) and idle(b)


# -- the race: the counterpart completed the operation first --


def _record(
    ops: Callable[[], Coroutine[Any, Any, Any]], log: list[Any]
) -> Coroutine[Any, Any, None]:
    """A task body: the call awaited inside the task (the safe form), then one more await."""

    async def body() -> None:
        log.append(await ops())
        log.append(asyncio.current_task().cancelling())  # type: ignore[union-attr]
        await asyncio.sleep(0)  # the re-requested cancellation lands here
        log.append("not cancelled")

    return body()


@pytest.mark.parametrize(
    "wake_first", [True, False], ids=["woken-then-cancelled", "cancelled-then-woken"]
)
def test_thread_completes_a_task_recv_before_its_cancellation(wake_first: bool) -> None:
    ch: Chan[int] = Chan()
    log: list[Any] = []
    with loops(1) as (lt,):
        task = start_task(lt, _record(ch.async_recv, log))
        wait_blocked(ch, receivers=1)
        with Held(lt.loop):
            if not wake_first:
                lt.loop.call_soon_threadsafe(task.cancel)
            ch.send(5)  # hands off to the parked task: the wake-up is queued behind Held
            if wake_first:
                lt.loop.call_soon_threadsafe(task.cancel)
        assert outcome(lt, task) is asyncio.CancelledError
    assert log == [5, 1]  # the value stood, and the cancel count was kept
    assert idle(ch)


def test_thread_completes_a_task_send_before_its_cancellation() -> None:
    ch: Chan[int] = Chan()
    log: list[Any] = []
    with loops(1) as (lt,):
        task = start_task(lt, _record(lambda: ch.async_send(6), log))
        wait_blocked(ch, senders=1)
        with Held(lt.loop):
            lt.loop.call_soon_threadsafe(task.cancel)
            assert ch.recv() == 6
        assert outcome(lt, task) is asyncio.CancelledError
    assert log == [None, 1]
    assert idle(ch)


def test_thread_completes_a_task_select_before_its_cancellation() -> None:
    a: Chan[int] = Chan()
    b: Chan[int] = Chan()
    log: list[Any] = []
    with loops(1) as (lt,):
        task = start_task(lt, _record(lambda: async_select(a.recv, b.recv_ok), log))
        wait_blocked(b, receivers=1)
        with Held(lt.loop):
            lt.loop.call_soon_threadsafe(task.cancel)
            b.send(7)
        assert outcome(lt, task) is asyncio.CancelledError
    assert log == [(1, (7, True)), 1]
    assert idle(a) and idle(b)


def test_task_on_the_same_loop_completes_before_the_cancellation() -> None:
    ch: Chan[int] = Chan()
    log: list[Any] = []

    async def main() -> None:
        task = asyncio.create_task(_record(ch.async_recv, log))
        await wait_parked_async(ch, receivers=1)
        # One step of the loop: the hand-off, then the cancel, before the task runs.
        ch.send(8, timeout=0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    assert log == [8, 1]


def test_task_on_another_loop_completes_before_the_cancellation() -> None:
    ch: Chan[int] = Chan()
    log: list[Any] = []
    with loops(2) as (x, y):
        task = start_task(x, _record(ch.async_recv, log))
        wait_blocked(ch, receivers=1)
        with Held(x.loop):
            y.run(ch.async_send(9))
            x.loop.call_soon_threadsafe(task.cancel)
        assert outcome(x, task) is asyncio.CancelledError
    assert log == [9, 1]


def test_cancel_message_is_kept_when_requested_again() -> None:
    ch: Chan[int] = Chan()
    seen: list[Any] = []

    async def body() -> None:
        await ch.async_recv()
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError as exc:
            seen.append(exc.args)
            raise

    with loops(1) as (lt,):
        task = start_task(lt, body())
        wait_blocked(ch, receivers=1)
        with Held(lt.loop):
            lt.loop.call_soon_threadsafe(task.cancel, "shutting down")
            ch.send(1)
        assert outcome(lt, task) is asyncio.CancelledError
    assert seen == [("shutting down",)]


def test_asyncio_timeout_expiring_after_the_hand_off() -> None:
    """The SPEC's 3.11-3.12 caveat: there ``uncancel()`` leaves the re-requested cancel in
    place, so a timeout expiring in the window cancels the task; from 3.13 the value stands
    and the task goes on."""
    ch: Chan[int] = Chan()
    log: list[Any] = []
    go_send = threading.Event()
    sent = threading.Event()

    def hold() -> None:
        go_send.set()
        assert sent.wait(DEADLINE)

    async def body() -> None:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(None) as cm:
            loop.call_soon(hold)  # runs once this task is parked
            cm.reschedule(loop.time())  # expires in the same step as hold: before the wake-up
            log.append(await ch.async_recv())
        log.append("after timeout block")
        await asyncio.sleep(0)
        log.append("not cancelled")

    with loops(1) as (lt,):
        task = start_task(lt, body())
        assert go_send.wait(DEADLINE)
        ch.send(4)
        sent.set()
        result = outcome(lt, task)
    if sys.version_info >= (3, 13):
        assert result is None
        assert log == [4, "after timeout block", "not cancelled"]
    else:
        assert result is asyncio.CancelledError
        assert log == [4, "after timeout block"]


# -- stress: random cancellations racing hand-offs, every value counted --


@stress_test(timeout=120)
def test_cancellations_racing_hand_offs_lose_and_duplicate_nothing() -> None:
    """Threads send and receive on an unbuffered channel; tasks on two loops receive and send,
    and are cancelled at random. Every value a sender saw accepted is received exactly once;
    nothing a withdrawn task offered is received."""
    n_per_thread, producers = STRESS.iterations(5000), 2
    ch: Chan[tuple[str, int]] = Chan()
    lock = threading.Lock()
    received: list[tuple[str, int]] = []
    accepted: list[tuple[str, int]] = []
    counts: Counter[str] = Counter()

    def produce(tag: int) -> None:
        for i in range(n_per_thread):
            ch.send((f"thread{tag}", i))
            with lock:
                accepted.append((f"thread{tag}", i))

    async def receiver(use_select: bool) -> None:
        while True:
            try:
                v = await (async_select(ch.recv) if use_select else ch.async_recv())
            except asyncio.CancelledError:
                with lock:
                    counts["withdrawn"] += 1
                raise
            if use_select:
                v = v[1]
            with lock:
                received.append(v)
                if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    counts["stood"] += 1
            # An operation that can complete at once does not yield to the
            # loop (as asyncio.Queue's do not): this is where a cancellation
            # requested again after a hand-off lands.
            await asyncio.sleep(0)

    async def sender(tag: str) -> None:
        i = 0
        while True:
            value = (tag, i)
            try:
                await ch.async_send(value)
            except asyncio.CancelledError:
                with lock:
                    counts["send withdrawn"] += 1
                raise
            with lock:
                accepted.append(value)
                if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    counts["send stood"] += 1
            i += 1
            await asyncio.sleep(0)

    async def churn(name: str, seed: int, done: threading.Event) -> None:
        rng = random.Random(seed)
        live: list[asyncio.Task[None]] = []
        k = 0
        while not done.is_set():
            while len(live) < 6:
                k += 1
                if k % 3 == 0:
                    live.append(asyncio.create_task(sender(f"{name}-{k}")))
                else:
                    live.append(asyncio.create_task(receiver(k % 2 == 0)))
            await asyncio.sleep(rng.random() * 0.002)
            victim = live.pop(rng.randrange(len(live)))
            victim.cancel()
            await asyncio.gather(victim, return_exceptions=True)
        for t in live:
            t.cancel()
        await asyncio.gather(*live, return_exceptions=True)

    done = threading.Event()
    stop_recv: Chan[None] = Chan()
    producers_t = [spawn(produce, k) for k in range(producers)]
    receivers_t = [spawn(drain, ch, stop_recv, received, lock)]
    with loops(2) as (x, y):
        churners = [x.submit(churn("x", 1, done)), y.submit(churn("y", 2, done))]
        join_all(producers_t, STRESS.seconds(90))
        done.set()
        for f in churners:
            f.result(30)
    stop_recv.close()
    join_all(receivers_t)
    assert idle(ch)
    assert Counter(received) == Counter(accepted), "a value was lost or duplicated"
    assert len(set(received)) == len(received)
    assert sum(1 for tag, _ in received if tag.startswith("thread")) == n_per_thread * producers
    # Both outcomes of the race happened: withdrawn, and completed first.
    assert counts["withdrawn"] + counts["send withdrawn"] > 0, counts
    assert counts["stood"] + counts["send stood"] > 0, counts


def test_sigint_cancels_asyncio_run_and_the_waiting_receive_withdraws() -> None:
    out = sigint_child(
        """
import asyncio
from gopool import Chan
ch = Chan()
async def main():
    print("ready", flush=True)
    await ch.async_recv()
try:
    asyncio.run(main())
except KeyboardInterrupt:
    s = ch.statistics()
    assert s["receivers_waiting"] == 0, s
    try:
        ch.send(1, timeout=0)
    except TimeoutError:
        print("withdrawn")
"""
    )
    assert out.split() == ["withdrawn"]
