"""Go's ``sync.Mutex`` and the ``sync.Locker`` interface.

Written after Go's ``src/internal/sync/mutex.go`` (``sync.Mutex`` since Go
1.24), with its two modes:

* Normal mode: waiters queue in FIFO order, but a woken waiter does not own
  the mutex; it competes with threads that are running and arriving, which
  usually win. A woken waiter that loses is queued again at the *front*
  (Go's ``queueLifo``). Unlock wakes at most one waiter at a time.
* Starvation mode, entered when a woken waiter loses after waiting more
  than 1 ms in all: unlock hands the mutex directly to the first waiter,
  newcomers (and ``try_lock``) never take it and queue at the back. The
  waiter handed the mutex switches back to normal mode if it is the last
  one queued or waited less than 1 ms.

Go keeps this state in one atomic word, whose fast paths are one
compare-and-swap. Here the "locked" bit is ``_held``, a plain lock held
exactly while the mutex is locked: an uncontended ``lock()`` or
``try_lock()`` is one non-blocking ``_held.acquire(False)``, and a thread
that is running takes a free mutex the same way even while others wait
(normal mode's barging). The rest lives in fields guarded by ``_guard``,
which is held only for a few statements and never while a thread is
parked. Blocked threads park on the package's one wait queue
(:class:`~gopool._waiter.WaitQueue`, through
:func:`~gopool._waiter.block`), so a blocked ``lock()`` costs no CPU, shows
in ``gopool.dump()`` and the deadlock report as ``sync.Mutex.Lock``, and
withdraws cleanly when interrupted.

Invariants (each holds whenever ``_guard`` is free):

* ``_held`` is released only by an unlock, with ``_guard`` held; a lock
  call queues only after failing to take it with ``_guard`` held. So an
  unlock, which looks at ``_waiters`` under ``_guard``, always sees a
  waiter that may need waking: no wake-up is lost.
* ``_waiters`` holds the lock calls that wait for their turn; each entry's
  value is its :class:`_LockCall`. An entry's waiter is unclaimed, except
  for an aborted one whose owner is about to withdraw it, or a withdrawn
  one left stale in the middle (the queue's front is always live).
* ``_woken`` is the lock call that an unlock woke to compete in normal
  mode, from that unlock until the call has competed (taken the mutex or
  queued again) or withdrawn; while it is set, unlock wakes nobody else.
* ``_starving`` implies ``_held`` is held and ``_woken is None``: in
  starvation mode ownership passes from unlock to the first waiter without
  ``_held`` ever being released (so neither newcomers nor ``try_lock`` can
  take it), and the mode is entered only by the woken call competing,
  which clears ``_woken`` at the same time.
* A lock call that gets the mutex returns holding it; one that raises
  (``KeyboardInterrupt``, a deadlock report) has withdrawn, leaving the
  mutex as if it had never been called: if the mutex was handed to it in
  the meantime it is unlocked again (handed on), and a turn to compete is
  passed on.

Go's mutex measures a waiter's wait when it wakes; here the unlock that
hands the mutex over in starvation mode decides whether the mode ends,
from the same wait measured at the hand-off, which saves the woken thread
a second trip through ``_guard``.
"""

from __future__ import annotations

import _thread
import threading
import time
from functools import partial
from typing import Protocol, runtime_checkable

from .._waiter import ThreadWaiter, Waiter, WaitQueue, block, refuse_in_loop

__all__ = ["Locker", "Mutex"]

_allocate_lock = _thread.allocate_lock
_monotonic = time.monotonic

_STARVATION_THRESHOLD = 1e-3
"""Seconds a waiter may wait before it switches the mutex to starvation mode (Go's 1 ms)."""


@runtime_checkable
class Locker(Protocol):
    """Go's ``sync.Locker``: an object that can be locked and unlocked.

    :class:`Mutex`, :class:`~gopool.sync.RWMutex` and
    :meth:`~gopool.sync.RWMutex.rlocker` are Lockers; so is any object with
    ``lock()`` and ``unlock()`` methods (checked by ``isinstance``).
    """

    def lock(self) -> None: ...

    def unlock(self) -> None: ...


class Mutex:
    """Go's ``sync.Mutex``: a mutual exclusion lock, also usable as ``with mu:``.

    The zero state is unlocked. A locked Mutex is not tied to a thread: one
    thread may lock it and another unlock it (Go's rule). It is not
    reentrant: a thread that locks a Mutex it holds blocks forever (with
    deadlock detection on, that is reported). No waiter starves: see the
    module docstring for Go's normal and starvation modes.

        >>> mu = Mutex()
        >>> with mu:
        ...     mu.try_lock()
        False
        >>> mu.try_lock()
        True
        >>> mu.unlock()
    """

    # _guard guards _starving, _waiters and _woken, and every release of _held.
    __slots__ = ("__weakref__", "_guard", "_held", "_starving", "_waiters", "_woken")

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = _allocate_lock()
        self._starving = False
        self._woken: _LockCall | None = None
        self._waiters = WaitQueue()

    def lock(self) -> None:
        """Lock the mutex, blocking until it is available.

        Costs no CPU while blocked. ``KeyboardInterrupt`` reaches a main
        thread blocked here, and the call then withdraws: the mutex is left
        as it was, not held by the caller. With deadlock detection on, a
        lock that no thread can ever free raises
        :class:`~gopool.DeadlockError` the same way. Raises
        ``RuntimeError`` instead of blocking the thread of a running asyncio
        event loop.
        """
        if self._held.acquire(False):
            return
        refuse_in_loop("Mutex.lock", "await mu.async_lock()")
        _LockCall(self, ("sync.Mutex.Lock", self)).run()

    async def async_lock(self) -> None:
        """Lock the mutex from a task, waiting without blocking the event loop.

        Returns at once if the mutex is free. Threads and tasks wait on one
        queue, with the same normal and starvation modes, and a waiting task
        holds no thread. Cancelling the task withdraws the call, leaving the
        mutex as it was, and ``CancelledError`` propagates; if the mutex was
        handed to the task (starvation mode) before the cancellation could
        withdraw it, the lock stands: the call returns holding it, and the
        task's next ``await`` raises ``CancelledError``.
        """
        if self._held.acquire(False):
            return
        await _LockCall(self, ("sync.Mutex.Lock", self)).async_run()

    async def _async_lock_as(self, what: tuple[str, object]) -> None:
        """:meth:`async_lock` for another type, its wait shown as ``what``."""
        if self._held.acquire(False):
            return
        await _LockCall(self, what).async_run()

    def _lock_as(self, what: tuple[str, object], call: str, use: str) -> None:
        """:meth:`lock` for another type's ``call`` (async: ``use``), its wait shown as ``what``."""
        if self._held.acquire(False):
            return
        refuse_in_loop(call, use)
        _LockCall(self, what).run()

    def try_lock(self) -> bool:
        """Lock the mutex if it is free, and say whether it did; never blocks.

        False while the mutex is held, and in starvation mode (where it
        passes straight from one holder to the next waiter), as Go's
        ``TryLock``.
        """
        return self._held.acquire(False)

    def unlock(self) -> None:
        """Unlock the mutex; any thread may unlock it.

        In normal mode the first waiter is woken to compete for it; in
        starvation mode it is handed to the first waiter. Never blocks.
        Raises ``RuntimeError("sync: unlock of unlocked mutex")`` if the
        mutex is not locked (a fatal error in Go), changing nothing.
        """
        with self._guard:
            if not self._waiters:
                try:
                    self._held.release()
                except RuntimeError:
                    raise RuntimeError("sync: unlock of unlocked mutex") from None
                return
            if not self._held.locked():
                raise RuntimeError("sync: unlock of unlocked mutex")
            w = self._release()
        if w is not None:
            w.wake()

    def _unlock_locked(self) -> Waiter | None:
        """:meth:`unlock` of a locked mutex; ``_guard`` held. The waiter to wake, if any."""
        if not self._waiters:
            self._held.release()
            return None
        return self._release()

    def _release(self) -> Waiter | None:
        """Unlock with waiters queued; ``_guard`` held. The waiter to wake, if any."""
        if self._starving:
            entry = self._waiters.hand_off()
            if entry is not None:
                w, _, call = entry
                # Ownership passes without the mutex being free: _held stays held.
                w.ok = True
                if (
                    not (call.starving or call.waited() > _STARVATION_THRESHOLD)
                    or not self._waiters
                ):
                    self._starving = False
                return w
            self._starving = False
        self._held.release()
        return self._wake_one()

    def _wake_one(self) -> Waiter | None:
        """Wake the first waiter to compete, unless one already is; ``_guard`` held, unlocked."""
        if self._woken is not None:
            return None
        entry = self._waiters.hand_off()
        if entry is None:
            return None
        w, _, call = entry
        w.ok = False
        self._woken = call
        return w

    def statistics(self) -> dict[str, bool | int]:
        """A snapshot: whether it is locked, in starvation mode, and how many threads wait."""
        with self._guard:
            return {
                "locked": self._held.locked(),
                "starving": self._starving,
                "waiters": self._waiters.waiting(),
            }

    def __repr__(self) -> str:
        s = self.statistics()
        state = "locked" if s["locked"] else "unlocked"
        if s["starving"]:
            state += " starving"
        return f"<Mutex {state} waiters={s['waiters']} at {id(self):#x}>"

    __enter__ = lock

    def __exit__(self, *exc_info: object) -> None:
        self.unlock()


class _LockCall:
    """One ``lock()`` that found the mutex held: its waits, requeues and starvation clock.

    Each turn publishes a fresh waiter through :func:`~gopool._waiter.block`
    with :meth:`attempt` and :meth:`withdraw`, both run with the mutex's
    ``_guard`` held and taking the waiter as an argument, so that a task's
    waiter can take the same turns; the waiter comes back either owning the
    mutex (``ok``, from a starvation-mode hand-off, or taken in
    ``attempt``) or woken to compete (not ``ok``), and then takes another
    turn.
    """

    __slots__ = ("mu", "since", "starving", "what")

    def __init__(self, mu: Mutex, what: tuple[str, object]) -> None:
        self.mu = mu
        self.what = what
        self.since: float | None = None
        self.starving = False

    def waited(self) -> float:
        """Seconds since this call first queued."""
        return 0.0 if self.since is None else _monotonic() - self.since

    def run(self) -> None:
        """Wait until the mutex is this call's; see :meth:`Mutex.lock`."""
        mu = self.mu
        try:
            while True:
                w = ThreadWaiter(self.what)
                block(w, mu._guard, self.attempt, None, None, self.withdraw)
                if w.ok:
                    return
        except BaseException:
            self._abandon()
            raise

    async def async_run(self) -> None:
        """:meth:`run` for a task; see :meth:`Mutex.async_lock`.

        Each turn goes through :func:`~gopool._aio.block_task` with the same
        :meth:`attempt`, and :meth:`withdraw` keeping a mutex handed over,
        so a cancellation that loses the race to a hand-off leaves the task
        holding the mutex (and the cancellation requested again).
        """
        from .._aio import TaskWaiter, block_task

        mu = self.mu
        try:
            while True:
                w = TaskWaiter(self.what)
                attempt = partial(self.attempt, w, None)
                await block_task(w, (mu._guard,), attempt, partial(self.withdraw, w, True))
                if w.ok:
                    return
        except BaseException:
            self._abandon()
            raise

    def _abandon(self) -> None:
        """Pass on the turn to compete of a call that raised between two turns."""
        # (Within a turn, withdraw() has done it.)
        with self.mu._guard:
            self._give_up_turn()

    def attempt(self, w: Waiter, _: object) -> bool:
        """Take the mutex if it is free, else queue ``w`` (at the front if this call waited)."""
        mu = self.mu
        if mu._woken is self:
            mu._woken = None
        if mu._held.acquire(False):
            w.claim()
            w.ok = True
            return True
        requeue = self.since is not None
        if requeue:
            # Woken, and beaten to the mutex by a running thread.
            self.starving = self.starving or self.waited() > _STARVATION_THRESHOLD
            if self.starving:
                mu._starving = True
        else:
            self.since = _monotonic()
        mu._waiters.publish(w, 0, self, front=requeue)
        return False

    def withdraw(self, w: Waiter, keep: bool = False) -> bool:
        """Leave the mutex as if this call had never been made; True (withdrawn).

        A turn to compete is passed on. A waiter already completed with the
        mutex (handed to it, or taken by :meth:`attempt` just before the
        interrupt) is undone, the mutex unlocked again; unless ``keep``
        (a task's cancellation, where the SPEC lets a completed operation
        stand): then False, and the caller holds the mutex.
        """
        mu = self.mu
        self._give_up_turn()
        if not mu._waiters.withdraw(w) and w.ok:
            if keep:
                return False
            woken = mu._unlock_locked()
            if woken is not None:
                woken.wake()
        if not mu._waiters:
            mu._starving = False
        return True

    def _give_up_turn(self) -> None:
        """If an unlock woke this call to compete, let the next waiter compete instead."""
        mu = self.mu
        if mu._woken is self:
            mu._woken = None
            if not mu._held.locked():
                w = mu._wake_one()
                if w is not None:
                    w.wake()
