"""A coroutine never blocks its loop: the blocking forms on a running loop's thread.

Called from the thread of a running event loop, a blocking call that cannot
complete at once raises ``RuntimeError`` naming its async form, whatever
its ``timeout`` but 0, and leaves nothing behind; a call that completes at
once, or one with ``timeout=0``, behaves exactly as outside a loop. Other
threads (``asyncio.to_thread``) block as usual.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest
from aio_support import run
from conftest import idle, spawn, wait_blocked

from gopool import (
    Chan,
    ClosedChannelError,
    Limiter,
    Pool,
    WaitGroup,
    after,
    background,
    default,
    nilchan,
    select,
    semaphore,
    sleep,
    with_cancel,
)

pytestmark = pytest.mark.timeout(60)


def in_loop(fn: Callable[[], Any]) -> Any:
    """Call ``fn()`` from a coroutine, on the running loop's thread."""

    async def main() -> Any:
        return fn()

    return run(main())


def raises_naming(form: str, fn: Callable[[], Any]) -> None:
    with pytest.raises(RuntimeError, match=re.escape(form)) as info:
        in_loop(fn)
    assert "event loop" in str(info.value)


# -- channels and select --


@pytest.mark.parametrize("timeout", [None, 5.0])
def test_channel_operations_that_would_block_raise(timeout: float | None) -> None:
    ch: Chan[int] = Chan()
    raises_naming("async_recv", lambda: ch.recv(timeout=timeout))
    raises_naming("async_recv_ok", lambda: ch.recv_ok(timeout=timeout))
    raises_naming("async_send", lambda: ch.send(1, timeout=timeout))
    raises_naming("async_select", lambda: select(ch.recv, (ch.send, 2), timeout=timeout))
    raises_naming("async for", lambda: next(iter(ch)))
    raises_naming("async_recv", lambda: nilchan.recv(timeout=timeout))
    raises_naming("async_send", lambda: nilchan.send(1, timeout=timeout))
    raises_naming("async_select", lambda: select(timeout=timeout))
    # Nothing was left queued: a send now finds no receiver.
    assert idle(ch)
    with pytest.raises(TimeoutError):
        ch.send(1, timeout=0)


def test_full_buffer_and_empty_buffer_raise() -> None:
    ch: Chan[int] = Chan(1)
    raises_naming("async_recv", ch.recv)
    ch.send(1)
    raises_naming("async_send", lambda: ch.send(2))
    assert in_loop(ch.recv) == 1  # the failed send left nothing in the buffer
    assert idle(ch) and len(ch) == 0


def test_timeout_zero_behaves_as_outside_a_loop() -> None:
    ch: Chan[int] = Chan()

    def calls() -> list[str]:
        seen = []
        for call in (
            lambda: ch.recv(timeout=0),
            lambda: ch.recv_ok(timeout=0),
            lambda: ch.send(1, timeout=0),
            lambda: select(ch.recv, timeout=0),
            lambda: nilchan.recv(timeout=0),
        ):
            try:
                call()
            except TimeoutError:
                seen.append("timeout")
        return seen

    assert in_loop(calls) == ["timeout"] * 5
    assert in_loop(lambda: select(ch.recv, default)) == (1, None)


def test_operations_that_complete_at_once_are_allowed() -> None:
    ch: Chan[int] = Chan(2)
    closed: Chan[int] = Chan()
    closed.close()
    unbuffered: Chan[int] = Chan()
    receiver = spawn(unbuffered.recv)
    wait_blocked(unbuffered, receivers=1)

    def calls() -> list[Any]:
        ch.send(1)
        ch.send(2)
        unbuffered.send(3)  # a thread is parked to take it
        return [ch.recv(), ch.recv_ok(), closed.recv_ok(), select(closed.recv), list(closed)]

    assert in_loop(calls) == [1, (2, True), (None, False), (0, None), []]
    assert receiver.join() == 3
    with pytest.raises(ClosedChannelError):
        in_loop(lambda: closed.send(1))


def test_a_callback_on_the_loop_thread_is_held_to_the_same_rule() -> None:
    ch: Chan[int] = Chan()

    async def main() -> BaseException | None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[BaseException | None] = loop.create_future()

        def callback() -> None:
            try:
                ch.recv()
            except RuntimeError as exc:
                done.set_result(exc)
            else:
                done.set_result(None)

        loop.call_soon(callback)
        return await done

    assert isinstance(run(main()), RuntimeError)


def test_other_threads_of_an_asyncio_program_block_as_usual() -> None:
    ch: Chan[int] = Chan()

    async def main() -> int | None:
        waiting = asyncio.create_task(asyncio.to_thread(ch.recv))
        await asyncio.sleep(0.02)
        await ch.async_send(4)
        return await waiting

    assert run(main()) == 4


# -- the other blocking objects --


def test_waitgroup_wait() -> None:
    wg = WaitGroup()
    assert in_loop(wg.wait) is True
    wg.add(1)
    raises_naming("async_wait", wg.wait)
    raises_naming("async_wait", lambda: wg.wait(timeout=1))
    assert in_loop(lambda: wg.wait(timeout=0)) is False
    wg.done()
    assert in_loop(wg.wait) is True


def test_weighted_acquire() -> None:
    sem = semaphore.Weighted(2)
    in_loop(lambda: sem.acquire(n=2))
    raises_naming("async_acquire", lambda: sem.acquire(n=1))
    assert sem.statistics() == {"size": 2, "current": 2, "waiters": 0}
    sem.release(2)


def test_limiter_wait() -> None:
    lim = Limiter(1.0, 1)
    in_loop(lim.wait)  # the burst's token: at once
    raises_naming("async_wait", lim.wait)
    raises_naming("async_wait_n", lambda: lim.wait_n(None, 1))
    assert lim.tokens() > -0.5  # the failed waits reserved nothing: no debt


def test_sleep_and_timer_channels_and_context_done() -> None:
    raises_naming("asyncio.sleep", lambda: sleep(0.5))
    in_loop(lambda: sleep(0))
    raises_naming("async_recv", lambda: after(5).recv())
    ctx, cancel = with_cancel(background())
    try:
        raises_naming("async_recv", lambda: ctx.done().recv())
    finally:
        cancel()
    assert in_loop(lambda: ctx.done().recv()) is None  # closed now: completes at once


def test_pool_submit_on_a_full_buffer() -> None:
    pool: Pool[int, int] = Pool(1, lambda x: x, buffer=1)
    in_loop(lambda: pool.submit(1))  # not started: queued in the buffer
    raises_naming("async_submit", lambda: pool.submit(2))
    pool.start()
    pool.close()
    assert sorted(pool.results()) == [1]
