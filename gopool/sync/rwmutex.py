"""Go's ``sync.RWMutex``: many readers or one writer.

Written after Go's ``src/sync/rwmutex.go``. Writers first take ``_w``, a
:class:`~gopool.sync.Mutex` (so they queue among themselves with its
fairness, starvation mode included), then announce themselves and wait for
the readers inside to leave. Go's ``readerCount``/``readerWait`` pair,
kept in one atomic word with a ``-rwmutexMaxReaders`` offset, becomes
plain fields guarded by ``_guard``:

* ``_readers``: read locks held (Go's ``readerCount`` less the readers
  blocked behind a writer);
* ``_writer``: ``_NONE``, ``_PENDING`` (a writer holding ``_w`` has
  announced itself and waits for ``_readers`` to reach 0: Go's negative
  ``readerCount`` with ``readerWait > 0``) or ``_HOLDING``;
* ``_readerq``: readers blocked because a writer is pending or holding
  (Go's ``readerSem``); ``_writerq``: the pending writer (``writerSem``).

Go's fairness follows: a pending writer keeps new readers out (they
queue), so readers cannot starve writers; and the writer's ``unlock``
admits every reader queued behind it (counting them in ``_readers``)
*before* it releases ``_w``, so the next writer waits for those readers,
and writers cannot starve readers either.

Invariants (each holds whenever ``_guard`` is free):

* ``_writer == _NONE`` implies ``_readerq`` and ``_writerq`` are empty;
  ``_writer != _NONE`` implies ``_w`` is locked (by the writer).
* ``_writer == _PENDING`` implies ``_readers > 0`` and the writer's waiter
  is in ``_writerq``: the ``runlock`` that takes ``_readers`` to 0 hands
  it the lock (``_HOLDING``).
* ``_writer == _HOLDING`` implies ``_readers == 0``.
* A call that raises (``KeyboardInterrupt``, a deadlock report) has
  withdrawn, leaving the lock as if it had never been called: a read lock
  granted to a withdrawing reader is released again; a withdrawing writer
  stops pending, admits the readers it held back, and unlocks ``_w``.

Lock order: ``_guard``, then ``_w``'s guard (only ``statistics()`` holds
both); a thread never blocks on ``_w`` while holding ``_guard``.
"""

from __future__ import annotations

import threading
from functools import partial

from .._waiter import ThreadWaiter, Waiter, WaitQueue, block, refuse_in_loop, wake_all
from .mutex import Locker, Mutex

__all__ = ["RWMutex"]

_NONE, _PENDING, _HOLDING = 0, 1, 2
"""The states of ``RWMutex._writer``: no writer, one waiting for readers, one holding."""


class RWMutex:
    """Go's ``sync.RWMutex``: held by any number of readers or by one writer.

    ``with rw:`` takes the write lock; ``with rw.rlocker():`` a read lock.
    Locks are not tied to threads: one thread may lock and another unlock
    (Go's rule). As in Go, a thread that holds a read lock must not expect
    to take another while a writer may be waiting: a blocked :meth:`lock`
    keeps new readers out, so recursive read locking can deadlock.

        >>> rw = RWMutex()
        >>> rw.rlock(); rw.rlock()
        >>> rw.try_lock()
        False
        >>> rw.runlock(); rw.runlock()
        >>> with rw:
        ...     rw.try_rlock()
        False
    """

    # _guard guards every field but _w, which has its own.
    __slots__ = ("__weakref__", "_guard", "_readerq", "_readers", "_w", "_writer", "_writerq")

    def __init__(self) -> None:
        self._w = Mutex()
        self._guard = threading.Lock()
        self._readers = 0
        self._writer = _NONE
        self._readerq = WaitQueue()
        self._writerq = WaitQueue()

    # -- readers --

    def rlock(self) -> None:
        """Lock for reading, blocking while a writer holds the lock or waits for it.

        Costs no CPU while blocked; ``KeyboardInterrupt`` reaches a main
        thread blocked here, and the call withdraws without a read lock.
        Raises ``RuntimeError`` instead of blocking the thread of a running
        asyncio event loop.
        """
        with self._guard:
            if self._writer == _NONE:
                self._readers += 1
                return
        refuse_in_loop("RWMutex.rlock", "await rw.async_rlock()")
        w = ThreadWaiter(("sync.RWMutex.RLock", self))
        block(w, self._guard, self._rlock_attempt, None, None, self._rlock_withdraw)

    async def async_rlock(self) -> None:
        """Lock for reading from a task, waiting without blocking the event loop.

        Returns at once unless a writer holds the lock or waits for it;
        tasks and threads are admitted by the same writer's unlock.
        Cancelling the task withdraws the call, without a read lock, and
        ``CancelledError`` propagates; if the task was admitted before the
        cancellation could withdraw it, the read lock stands: the call
        returns holding it, and the task's next ``await`` raises
        ``CancelledError``.
        """
        with self._guard:
            if self._writer == _NONE:
                self._readers += 1
                return
        from .._aio import TaskWaiter, block_task

        w = TaskWaiter(("sync.RWMutex.RLock", self))
        attempt = partial(self._rlock_attempt, w, None)
        await block_task(w, (self._guard,), attempt, partial(self._readerq.withdraw, w))

    def _rlock_attempt(self, w: Waiter, _: object) -> bool:
        """Read-lock now, or queue behind the writer; ``_guard`` held."""
        if self._writer == _NONE:
            self._readers += 1
            w.claim()
            return True
        self._readerq.publish(w)
        return False

    def _rlock_withdraw(self, w: Waiter) -> bool:
        """Leave as if :meth:`rlock` had never been called; ``_guard`` held; always True."""
        if not self._readerq.withdraw(w):
            # Admitted before the withdrawal: read-unlock again.
            writer = self._runlock_locked()
            if writer is not None:
                writer.wake()
        return True

    def try_rlock(self) -> bool:
        """Lock for reading unless a writer holds the lock or waits for it; never blocks."""
        with self._guard:
            if self._writer != _NONE:
                return False
            self._readers += 1
            return True

    def runlock(self) -> None:
        """Undo one :meth:`rlock`; the last reader to leave lets a waiting writer in.

        Any thread may call it. Never blocks. Raises ``RuntimeError("sync:
        RUnlock of unlocked RWMutex")`` if no read lock is held (a fatal
        error in Go), changing nothing.
        """
        with self._guard:
            writer = self._runlock_locked()
        if writer is not None:
            writer.wake()

    def _runlock_locked(self) -> Waiter | None:
        """:meth:`runlock`; ``_guard`` held. The writer to wake, if this was the last reader."""
        if self._readers == 0:
            raise RuntimeError("sync: RUnlock of unlocked RWMutex")
        self._readers -= 1
        if self._readers == 0 and self._writer == _PENDING:
            entry = self._writerq.hand_off()
            if entry is not None:
                self._writer = _HOLDING
                return entry[0]
        return None

    def rlocker(self) -> Locker:
        """A :class:`~gopool.sync.Locker` whose ``lock``/``unlock`` are ``rlock``/``runlock``."""
        return _RLocker(self)

    # -- writers --

    def lock(self) -> None:
        """Lock for writing, blocking until no reader or writer holds the lock.

        Once this call is the first writer, new readers are kept out while
        it waits for the readers inside. Costs no CPU while blocked;
        ``KeyboardInterrupt`` reaches a main thread blocked here, and the
        call withdraws: it holds nothing, and readers it held back are let
        in. Raises ``RuntimeError`` instead of blocking the thread of a
        running asyncio event loop.
        """
        self._w._lock_as(("sync.RWMutex.Lock", self), "RWMutex.lock", "await rw.async_lock()")
        try:
            with self._guard:
                if self._readers == 0:
                    self._writer = _HOLDING
                    return
            refuse_in_loop("RWMutex.lock", "await rw.async_lock()")
            w = ThreadWaiter(("sync.RWMutex.Lock", self))
            block(w, self._guard, self._lock_attempt, None, None, self._lock_withdraw)
        except BaseException:
            self._w.unlock()
            raise

    async def async_lock(self) -> None:
        """Lock for writing from a task, waiting without blocking the event loop.

        Writers of both kinds queue together on one :class:`~gopool.sync.Mutex`,
        and a pending writer keeps new readers (tasks and threads) out, as
        :meth:`lock`. Cancelling the task withdraws the call: it holds
        nothing, readers it held back are let in, and ``CancelledError``
        propagates; if the last reader handed it the lock before the
        cancellation could withdraw it, the lock stands: the call returns
        holding it, and the task's next ``await`` raises ``CancelledError``.
        """
        await self._w._async_lock_as(("sync.RWMutex.Lock", self))
        try:
            with self._guard:
                if self._readers == 0:
                    self._writer = _HOLDING
                    return
            from .._aio import TaskWaiter, block_task

            w = TaskWaiter(("sync.RWMutex.Lock", self))
            attempt = partial(self._lock_attempt, w, None)
            await block_task(w, (self._guard,), attempt, partial(self._lock_withdraw, w, True))
        except BaseException:
            self._w.unlock()
            raise

    def _lock_attempt(self, w: Waiter, _: object) -> bool:
        """Hold the lock if no reader does, else announce the writer and queue; ``_guard`` held."""
        if self._readers == 0:
            self._writer = _HOLDING
            w.claim()
            return True
        self._writer = _PENDING
        self._writerq.publish(w)
        return False

    def _lock_withdraw(self, w: Waiter, keep: bool = False) -> bool:
        """Stop being the writer (pending or, if just handed the lock, holding); True.

        ``_guard`` held; the caller unlocks ``_w``. With ``keep`` (a task's
        cancellation), a lock already handed over stands instead: False,
        and the caller holds it.
        """
        if not self._writerq.withdraw(w) and keep:
            return False
        wake_all(self._admit_readers())
        return True

    def _admit_readers(self) -> list[Waiter]:
        """End the writer's turn: every queued reader holds a read lock; ``_guard`` held.

        Returns the readers to wake (they hold the lock already).
        """
        self._writer = _NONE
        readers = self._readerq.complete_all(True)
        self._readers += len(readers)
        return readers

    def try_lock(self) -> bool:
        """Lock for writing if nobody holds the lock or waits to write; never blocks."""
        if not self._w.try_lock():
            return False
        with self._guard:
            if self._readers == 0:
                self._writer = _HOLDING
                return True
        self._w.unlock()
        return False

    def unlock(self) -> None:
        """Unlock for writing: readers queued meanwhile go in, then the next writer may.

        Any thread may call it. Never blocks. Raises ``RuntimeError("sync:
        Unlock of unlocked RWMutex")`` if no writer holds the lock (a fatal
        error in Go), changing nothing.
        """
        with self._guard:
            if self._writer != _HOLDING:
                raise RuntimeError("sync: Unlock of unlocked RWMutex")
            readers = self._admit_readers()
        wake_all(readers)
        self._w.unlock()

    __enter__ = lock

    def __exit__(self, *exc_info: object) -> None:
        self.unlock()

    # -- introspection --

    def statistics(self) -> dict[str, bool | int]:
        """A snapshot: read locks held, whether a writer holds it, and who waits.

        ``writers_waiting`` counts writers queued for ``_w`` and the one
        waiting for readers to leave.
        """
        with self._guard:
            readers = self._readers
            writer = self._writer
            readers_waiting = self._readerq.waiting()
            writers_waiting = self._w.statistics()["waiters"] + (writer == _PENDING)
        return {
            "readers": readers,
            "writer": writer == _HOLDING,
            "readers_waiting": readers_waiting,
            "writers_waiting": writers_waiting,
        }

    def __repr__(self) -> str:
        s = self.statistics()
        if s["writer"]:
            state = "write-locked"
        elif s["readers"]:
            state = f"read-locked readers={s['readers']}"
        else:
            state = "unlocked"
        return (
            f"<RWMutex {state} readers_waiting={s['readers_waiting']} "
            f"writers_waiting={s['writers_waiting']} at {id(self):#x}>"
        )


class _RLocker:
    """Go's ``rlocker``: an RWMutex's read lock as a :class:`~gopool.sync.Locker`."""

    __slots__ = ("_rw",)

    def __init__(self, rw: RWMutex) -> None:
        self._rw = rw

    def lock(self) -> None:
        self._rw.rlock()

    def unlock(self) -> None:
        self._rw.runlock()

    def __enter__(self) -> None:
        self._rw.rlock()

    def __exit__(self, *exc_info: object) -> None:
        self._rw.runlock()

    def __repr__(self) -> str:
        return f"<rlocker of {self._rw!r}>"
