"""The async forms of Mutex, RWMutex and Cond, sharing one wait queue with threads.

``Mutex.async_lock``, ``RWMutex.async_lock``/``async_rlock`` and
``Cond.async_wait`` keep every rule of their blocking forms: mutual
exclusion with exact counts across tasks on several loops and threads, a
pending writer keeping readers of both kinds out, and a Cond's signals
waking waiters of both kinds in the order they queued. Cancelling a waiting
task withdraws it with nothing taken; a lock handed to it (or a signal
delivered) before the cancellation could withdraw it stands, and the
cancellation is requested again. The blocking forms refuse to park a
running loop's thread.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from asyncio import CancelledError
from collections.abc import Callable
from typing import Any

import pytest
from aio_support import loops, run, until_async
from conftest import STRESS, join_all, spawn, until

from gopool.sync import Cond, Mutex, RWMutex

pytestmark = pytest.mark.timeout(120)


def idle_mutex(mu: Mutex) -> bool:
    """Unlocked, in normal mode, nobody queued (stale entries included)."""
    return mu.statistics() == {"locked": False, "starving": False, "waiters": 0} and not (
        mu._waiters or mu._woken
    )


def idle_rwmutex(rw: RWMutex) -> bool:
    """Nobody holds or waits for ``rw`` (stale entries included)."""
    s = rw.statistics()
    empty = {"readers": 0, "writer": False, "readers_waiting": 0, "writers_waiting": 0}
    return s == empty and not (rw._readerq or rw._writerq) and idle_mutex(rw._w)


# -- Mutex --


def test_mutex_async_lock_free_and_held() -> None:
    """Go's TestMutexMisuse/TryLock shape: async_lock takes a free mutex without waiting."""
    mu = Mutex()

    async def main() -> None:
        await mu.async_lock()
        assert not mu.try_lock()
        mu.unlock()
        await mu.async_lock()
        mu.unlock()

    run(main())
    assert idle_mutex(mu)


def test_mutex_task_waits_for_a_thread_and_holds_no_thread() -> None:
    mu = Mutex()
    mu.lock()

    async def main() -> list[str]:
        order = []
        t = asyncio.ensure_future(mu.async_lock())
        await until_async(lambda: mu.statistics()["waiters"] == 1, "task queued")
        # The loop keeps running other callbacks while the task waits.
        await asyncio.sleep(0.01)
        order.append("loop ran")
        threading.Thread(target=mu.unlock).start()
        await t
        order.append("locked")
        assert not mu.try_lock()
        mu.unlock()
        return order

    assert run(main()) == ["loop ran", "locked"]
    assert idle_mutex(mu)


def test_mutex_tasks_on_two_loops_and_threads_exact_count() -> None:
    """Go's TestMutex (HammerMutex), with tasks on two loops beside threads."""
    mu = Mutex()
    box = [0]
    n = STRESS.iterations(300)

    async def task_side() -> int:
        for _ in range(n):
            await mu.async_lock()
            v = box[0]
            await asyncio.sleep(0)  # let the other tasks of this loop run and queue
            box[0] = v + 1
            mu.unlock()
        return n

    def thread_side() -> int:
        for _ in range(n):
            mu.lock()
            v = box[0]
            time.sleep(0)
            box[0] = v + 1
            mu.unlock()
        return n

    with loops(2) as (a, b):
        futs = [lt.submit(task_side()) for lt in (a, b) for _ in range(4)]
        threads = [spawn(thread_side) for _ in range(4)]
        done = [f.result(100) for f in futs] + join_all(threads, 100)
    assert box[0] == sum(done) == 12 * n
    assert idle_mutex(mu)


def test_mutex_cancelled_waiting_task_leaves_it_as_it_was() -> None:
    mu = Mutex()
    mu.lock()

    async def main() -> None:
        t = asyncio.ensure_future(mu.async_lock())
        await until_async(lambda: mu.statistics()["waiters"] == 1, "task queued")
        t.cancel()
        with pytest.raises(CancelledError):
            await t
        assert mu.statistics() == {"locked": True, "starving": False, "waiters": 0}

    run(main())
    mu.unlock()
    assert idle_mutex(mu)


def on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> None:
    """Run ``fn()`` as one callback of ``loop``: no task of the loop runs during it."""
    loop.call_soon(fn)


def test_mutex_starvation_hand_off_to_a_cancelled_task_stands() -> None:
    """Ownership handed over in starvation mode before the cancellation could withdraw stands."""
    mu = Mutex()
    mu.lock()
    log: list[str] = []

    async def taker() -> None:
        await mu.async_lock()
        log.append("locked")
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 1
        try:
            await asyncio.sleep(30)
        except CancelledError:
            log.append("cancelled at the next await")
            mu.unlock()
            raise

    async def main() -> None:
        t = asyncio.ensure_future(taker())
        await until_async(lambda: mu.statistics()["waiters"] == 1, "task queued")
        with mu._guard:
            mu._starving = True  # a held mutex in starvation mode, its waiter queued

        def unlock_then_cancel() -> None:
            mu.unlock()  # hands the mutex to the task (it stays held)
            assert mu.statistics()["locked"]
            t.cancel()

        on_loop(asyncio.get_running_loop(), unlock_then_cancel)
        with pytest.raises(CancelledError):
            await t

    run(main())
    assert log == ["locked", "cancelled at the next await"]
    assert idle_mutex(mu)


def test_mutex_woken_task_cancelled_passes_its_turn_on() -> None:
    """In normal mode a woken-to-compete task that is cancelled withdraws; the next waiter goes."""
    mu = Mutex()
    mu.lock()

    async def main() -> None:
        t = asyncio.ensure_future(mu.async_lock())
        await until_async(lambda: mu.statistics()["waiters"] == 1, "task queued")
        thread = spawn(mu.lock)
        await until_async(lambda: mu.statistics()["waiters"] == 2, "thread queued")

        def unlock_then_cancel() -> None:
            mu.unlock()  # wakes the task to compete
            t.cancel()

        on_loop(asyncio.get_running_loop(), unlock_then_cancel)
        with pytest.raises(CancelledError):
            await t
        await asyncio.to_thread(thread.join)
        assert mu.statistics()["locked"]

    run(main())
    mu.unlock()
    assert idle_mutex(mu)


@pytest.mark.timeout(240)
def test_stress_cancellation_racing_hand_offs() -> None:
    """Tasks on two loops lock under random cancellations beside threads; nothing leaks."""
    mu = Mutex()
    box = [0]
    n = STRESS.iterations(400)
    stop = threading.Event()

    async def worker() -> tuple[int, int]:
        task = asyncio.current_task()
        assert task is not None
        done = stood = 0
        while done < n:
            try:
                await mu.async_lock()
                stood += task.cancelling()  # a cancellation that lost to the lock
                try:
                    v = box[0]
                    await asyncio.sleep(0)
                    box[0] = v + 1
                    done += 1
                finally:
                    mu.unlock()
            except CancelledError:
                task.uncancel()
        return done, stood

    async def side(workers: int) -> list[tuple[int, int]]:
        tasks = [asyncio.ensure_future(worker()) for _ in range(workers)]
        rnd = random.Random()
        while not all(t.done() for t in tasks):
            await asyncio.sleep(rnd.random() * 0.002)
            rnd.choice(tasks).cancel()
        return [t.result() for t in tasks]

    def thread_side() -> int:
        done = 0
        while not stop.is_set():
            mu.lock()
            v = box[0]
            time.sleep(0.0002)  # long enough for woken waiters to starve at times
            box[0] = v + 1
            done += 1
            mu.unlock()
        return done

    with loops(2) as (a, b):
        threads = [spawn(thread_side) for _ in range(3)]
        results = [f.result(200) for f in [a.submit(side(4)), b.submit(side(4))]]
        stop.set()
        by_threads = sum(join_all(threads, 60))
    by_tasks = sum(d for r in results for d, _ in r)
    assert by_tasks == 8 * n
    assert box[0] == by_tasks + by_threads
    assert idle_mutex(mu)


# -- RWMutex --


def test_rwmutex_async_forms_free() -> None:
    rw = RWMutex()

    async def main() -> None:
        await rw.async_rlock()
        await rw.async_rlock()
        assert rw.statistics()["readers"] == 2
        rw.runlock()
        rw.runlock()
        await rw.async_lock()
        assert rw.statistics()["writer"]
        rw.unlock()

    run(main())
    assert idle_rwmutex(rw)


def test_rwmutex_pending_thread_writer_keeps_reader_tasks_out() -> None:
    """Go's TestRWMutex writer preference: a task reader queues behind a waiting thread writer."""
    rw = RWMutex()
    log: list[str] = []

    async def main() -> None:
        await rw.async_rlock()
        writer = spawn(lambda: (rw.lock(), log.append("writer"), rw.unlock()))
        await until_async(lambda: rw.statistics()["writers_waiting"] == 1, "writer pending")

        async def late_reader() -> None:
            await rw.async_rlock()
            log.append("late reader")
            rw.runlock()

        late = asyncio.ensure_future(late_reader())
        await until_async(lambda: rw.statistics()["readers_waiting"] == 1, "reader queued")
        assert not rw.try_rlock()
        log.append("first reader leaves")
        rw.runlock()
        await late
        await asyncio.to_thread(writer.join)

    run(main())
    assert log == ["first reader leaves", "writer", "late reader"]
    assert idle_rwmutex(rw)


def test_rwmutex_pending_task_writer_keeps_reader_threads_out() -> None:
    rw = RWMutex()
    log: list[str] = []
    rw.rlock()

    async def writer() -> None:
        await rw.async_lock()
        log.append("writer")
        rw.unlock()

    with loops(1) as (a,):
        w = a.submit(writer())
        until(lambda: rw.statistics()["writers_waiting"] == 1, "task writer pending")
        reader = spawn(lambda: (rw.rlock(), log.append("late reader"), rw.runlock()))
        until(lambda: rw.statistics()["readers_waiting"] == 1, "thread reader queued")
        log.append("first reader leaves")
        rw.runlock()
        w.result(30)
        reader.join()
    assert log == ["first reader leaves", "writer", "late reader"]
    assert idle_rwmutex(rw)


def test_rwmutex_cancelled_waiters_take_nothing() -> None:
    rw = RWMutex()

    async def main() -> None:
        await rw.async_rlock()
        wt = asyncio.ensure_future(rw.async_lock())
        await until_async(lambda: rw.statistics()["writers_waiting"] == 1, "writer pending")
        rt = asyncio.ensure_future(rw.async_rlock())
        await until_async(lambda: rw.statistics()["readers_waiting"] == 1, "reader queued")
        wt.cancel()
        with pytest.raises(CancelledError):
            await wt
        # The withdrawn writer let the reader it held back in.
        await rt
        assert rw.statistics()["readers"] == 2
        rw.runlock()
        rw.runlock()
        # A cancelled queued writer (behind a writer on _w) takes nothing either.
        await rw.async_lock()
        second = asyncio.ensure_future(rw.async_lock())
        await until_async(lambda: rw.statistics()["writers_waiting"] == 1, "second queued")
        second.cancel()
        with pytest.raises(CancelledError):
            await second
        rw.unlock()

    run(main())
    assert idle_rwmutex(rw)


def test_rwmutex_grant_racing_cancellation_stands() -> None:
    """A read or write lock granted before the cancellation could withdraw it stands."""
    rw = RWMutex()
    log: list[str] = []

    async def holder(lock: Callable[[], Any], unlock: Callable[[], None], name: str) -> None:
        await lock()
        log.append(name)
        try:
            await asyncio.sleep(30)
        except CancelledError:
            unlock()
            raise

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await rw.async_lock()
        r = asyncio.ensure_future(holder(rw.async_rlock, rw.runlock, "reader"))
        await until_async(lambda: rw.statistics()["readers_waiting"] == 1, "reader queued")
        on_loop(loop, lambda: (rw.unlock(), r.cancel()))  # admits the reader, then cancels
        with pytest.raises(CancelledError):
            await r
        await rw.async_rlock()
        w = asyncio.ensure_future(holder(rw.async_lock, rw.unlock, "writer"))
        await until_async(lambda: rw.statistics()["writers_waiting"] == 1, "writer pending")
        on_loop(loop, lambda: (rw.runlock(), w.cancel()))  # hands the writer the lock
        with pytest.raises(CancelledError):
            await w

    run(main())
    assert log == ["reader", "writer"]
    assert idle_rwmutex(rw)


# -- Cond --


def test_cond_signal_wakes_tasks_and_threads_in_queue_order() -> None:
    """Go's TestCondSignalGenerations, with waiters alternating between tasks and threads."""
    mu = Mutex()
    c = Cond(mu)
    woken: list[int] = []
    n = 8

    async def task_waiter(i: int) -> None:
        await mu.async_lock()
        await c.async_wait()
        woken.append(i)
        mu.unlock()

    def thread_waiter(i: int) -> None:
        mu.lock()
        c.wait()
        woken.append(i)
        mu.unlock()

    with loops(1) as (a,):
        futs = []
        threads = []
        for i in range(n):
            if i % 2:
                threads.append(spawn(thread_waiter, i))
            else:
                futs.append(a.submit(task_waiter(i)))
            until(lambda i=i: c.statistics()["waiters"] == i + 1, f"waiter {i} queued")
        for i in range(n):
            c.signal()
            until(lambda i=i: len(woken) == i + 1, f"signal {i} delivered")
        assert woken == list(range(n))
        [f.result(30) for f in futs]
        join_all(threads)
    assert c.statistics()["waiters"] == 0
    assert idle_mutex(mu)


def test_cond_broadcast_wakes_every_waiter_present_only() -> None:
    """Go's TestCondBroadcast: all waiters then, of both kinds; a later wait stays."""
    mu = Mutex()
    c = Cond(mu)
    woken: list[str] = []

    async def with_lock_and_wait(name: str) -> None:
        await mu.async_lock()
        await c.async_wait()
        woken.append(name)
        mu.unlock()

    def thread_waiter(name: str) -> None:
        with mu:
            c.wait()
            woken.append(name)

    with loops(2) as (a, b):
        futs = [a.submit(with_lock_and_wait("a")), b.submit(with_lock_and_wait("b"))]
        threads = [spawn(thread_waiter, "t1"), spawn(thread_waiter, "t2")]
        until(lambda: c.statistics()["waiters"] == 4, "4 waiters")
        c.broadcast()
        [f.result(30) for f in futs]
        join_all(threads)
        assert sorted(woken) == ["a", "b", "t1", "t2"]
        late = a.submit(with_lock_and_wait("late"))
        until(lambda: c.statistics()["waiters"] == 1, "late waiter")
        time.sleep(0.01)
        assert not late.done()
        c.signal()
        late.result(30)
    assert idle_mutex(mu)


def test_cond_cancelled_wait_relocks_and_is_no_longer_queued() -> None:
    mu = Mutex()
    c = Cond(mu)
    log: list[str] = []

    async def waiter() -> None:
        await mu.async_lock()
        try:
            await c.async_wait()
        except CancelledError:
            log.append(f"cancelled, locked={not mu.try_lock()}")
            mu.unlock()
            raise

    async def main() -> None:
        t = asyncio.ensure_future(waiter())
        await until_async(lambda: c.statistics()["waiters"] == 1, "waiter queued")
        # l is contended when the cancellation lands: it re-locks first.
        mu.lock()
        t.cancel()
        await asyncio.sleep(0.01)
        assert not t.done()
        assert c.statistics()["waiters"] == 0 and not c._waiters
        mu.unlock()
        with pytest.raises(CancelledError):
            await t

    run(main())
    assert log == ["cancelled, locked=True"]
    assert idle_mutex(mu)


def test_cond_signal_racing_cancellation_stands_and_is_not_lost() -> None:
    """A signal delivered before the cancellation could withdraw: the wait returns holding l."""
    mu = Mutex()
    c = Cond(mu)
    log: list[str] = []

    async def first() -> None:
        await mu.async_lock()
        await c.async_wait()
        log.append(f"first returned, locked={not mu.try_lock()}")
        mu.unlock()
        try:
            await asyncio.sleep(30)
        except CancelledError:
            log.append("first cancelled at the next await")
            raise

    def second() -> None:
        with mu:
            c.wait()
            log.append("second woken")

    async def main() -> None:
        t = asyncio.ensure_future(first())
        await until_async(lambda: c.statistics()["waiters"] == 1, "first queued")
        th = spawn(second)
        await until_async(lambda: c.statistics()["waiters"] == 2, "second queued")
        on_loop(asyncio.get_running_loop(), lambda: (c.signal(), t.cancel()))
        with pytest.raises(CancelledError):
            await t
        assert c.statistics()["waiters"] == 1  # the signal went to the first waiter only
        c.signal()
        await asyncio.to_thread(th.join)

    run(main())
    assert log == [
        "first returned, locked=True",
        "first cancelled at the next await",
        "second woken",
    ]
    assert idle_mutex(mu)


def test_cond_async_wait_on_rwmutex_and_plain_locker() -> None:
    """l is re-locked through RWMutex.async_lock, or a plain Locker's own lock()."""

    class Plain:
        def __init__(self) -> None:
            self.held = threading.Lock()

        def lock(self) -> None:
            self.held.acquire()

        def unlock(self) -> None:
            self.held.release()

    rw = RWMutex()
    plain = Plain()
    assert signalled_wait_returns_locked(rw, lambda: bool(rw.statistics()["writer"]))
    assert signalled_wait_returns_locked(plain, plain.held.locked)
    assert idle_rwmutex(rw)


def signalled_wait_returns_locked(lk: Any, locked: Callable[[], bool]) -> bool:
    """A task's async_wait on ``Cond(lk)``, signalled from a thread, returns with ``lk`` locked."""
    c = Cond(lk)

    async def waiter() -> bool:
        lk.lock()
        await c.async_wait()
        ok = locked()
        lk.unlock()
        return ok

    with loops(1) as (a,):
        f = a.submit(waiter())
        until(lambda: c.statistics()["waiters"] == 1, "waiter queued")
        c.signal()
        return f.result(30)


# -- the blocking forms on a loop's thread --


def refused(fn: Callable[[], Any], use: str) -> None:
    """``fn()`` from a coroutine raises RuntimeError naming ``use``."""

    async def main() -> None:
        with pytest.raises(RuntimeError, match=use):
            fn()

    run(main())


def test_blocking_lock_forms_refuse_a_loop_thread_only_when_they_would_block() -> None:
    mu = Mutex()
    run(_lock_unlock(mu))  # free: completes at once, as outside a loop
    mu.lock()
    refused(mu.lock, r"mu\.async_lock\(\)")
    mu.unlock()
    assert idle_mutex(mu)

    rw = RWMutex()
    rw.lock()
    refused(rw.rlock, r"rw\.async_rlock\(\)")
    rw.unlock()
    rw.rlock()
    refused(rw.lock, r"rw\.async_lock\(\)")
    rw.runlock()
    assert idle_rwmutex(rw)

    c = Cond(mu)
    mu.lock()
    refused(c.wait, r"c\.async_wait\(\)")
    assert mu.statistics()["locked"]  # refused before l was unlocked
    mu.unlock()
    assert c.statistics()["waiters"] == 0


async def _lock_unlock(mu: Mutex) -> None:
    mu.lock()
    mu.unlock()
