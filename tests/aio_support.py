"""Helpers for the asyncio tests: event loops running in their own threads.

A :class:`LoopThread` is an event loop served by a thread of its own, so a
test can have tasks on several loops at once beside plain threads, and hand
them coroutines from the test's thread. Each loop is closed (its remaining
tasks cancelled first, as ``asyncio.run`` does) and its thread joined when
the ``with`` block ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from conftest import DEADLINE

from gopool import Chan, select

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread until :meth:`close`."""

    def __init__(self, name: str = "loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()
        self._ready.wait(DEADLINE)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` as a task on this loop; its result arrives in the returned future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], deadline: float = DEADLINE) -> T:
        """Run ``coro`` as a task on this loop and wait for its result."""
        return self.submit(coro).result(deadline)

    def call(self, fn: Callable[[], T]) -> T:
        """Call ``fn()`` on the loop's thread, between its callbacks, and return its result."""

        async def call() -> T:
            return fn()

        return self.run(call())

    def close(self) -> None:
        async def cancel_all() -> None:
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self.loop.is_running():
            self.run(cancel_all())
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive(), "loop thread did not stop"
        self.loop.close()


@contextmanager
def loops(n: int) -> Iterator[list[LoopThread]]:
    """``n`` event loops, each in a thread of its own, closed at the end of the block."""
    started = [LoopThread(f"loop-{i}") for i in range(n)]
    try:
        yield started
    finally:
        for lt in started:
            lt.close()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a fresh loop in the calling thread (``asyncio.run``)."""
    return asyncio.run(coro)


async def until_async(predicate: Callable[[], bool], what: str = "condition") -> None:
    """Wait, yielding to the loop, until ``predicate()`` holds; fail after DEADLINE."""
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


def parked(ch: Chan[Any], *, senders: int = 0, receivers: int = 0) -> Callable[[], bool]:
    """A predicate: at least ``senders``/``receivers`` live entries are parked on ``ch``."""

    def check() -> bool:
        s = ch.statistics()
        return s["senders_waiting"] >= senders and s["receivers_waiting"] >= receivers

    return check


async def wait_parked_async(ch: Chan[Any], *, senders: int = 0, receivers: int = 0) -> None:
    """From a task: wait until ``senders``/``receivers`` entries are parked on ``ch``."""
    await until_async(parked(ch, senders=senders, receivers=receivers), f"waiters on {ch!r}")


def drain(ch: Chan[Any], stop: Chan[None], into: list[Any], lock: threading.Lock) -> None:
    """From a thread: receive from ``ch`` into ``into`` (under ``lock``) until ``stop`` closes."""
    while True:
        i, v = select(ch.recv, stop.recv)
        if i == 1:
            return
        with lock:
            into.append(v)
