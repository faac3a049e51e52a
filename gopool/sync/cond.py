"""Go's ``sync.Cond``: a rendezvous point for threads waiting for an event.

Written after Go's ``src/sync/cond.go`` and the notify list of
``runtime/sema.go``. Go's ``Wait`` takes a ticket (``notifyListAdd``)
*before* it unlocks ``L``, then sleeps until that ticket is notified;
``Signal`` notifies the oldest ticket not yet notified, ``Broadcast`` every
ticket handed out so far. Here the ticket is the waiter's place in a FIFO
:class:`~gopool._waiter.WaitQueue`, published before ``l.unlock()`` for the
same reason: a signal sent after ``wait`` released ``l`` always finds the
waiter. So a signal wakes the longest waiter, a broadcast every wait that
started before it, and neither wakes a wait that starts after it; no wait
returns without one (Go: "Wait cannot return unless awoken by Broadcast or
Signal").

Invariants (each holds whenever ``_guard`` is free):

* Every live (unclaimed) waiter in ``_waiters`` belongs to a ``wait`` that
  has published it and not yet withdrawn it; a withdrawn wait's entry may
  linger, stale, where :class:`~gopool._waiter.WaitQueue` drops it later.
* ``wait`` locks ``l`` again before it returns or raises, once it has
  unlocked it: an interrupted wait has withdrawn its waiter (it is no
  longer queued) and holds ``l`` when the exception propagates. A signal
  that completed the waiter before the interrupt could withdraw it stands:
  the wait returns, holding ``l``, and ``KeyboardInterrupt`` is delivered
  again just after (see :func:`~gopool._waiter.block`).

Lock order: ``_guard`` is never held while ``l`` is locked or unlocked.
"""

from __future__ import annotations

import threading
from functools import partial

from .._waiter import ThreadWaiter, Waiter, WaitQueue, block, refuse_in_loop, wake_all
from .mutex import Locker, Mutex
from .rwmutex import RWMutex

__all__ = ["Cond"]


class Cond:
    """Go's ``sync.Cond``: wait for, or announce, a change to state guarded by ``l``.

    ``l`` (any :class:`~gopool.sync.Locker`: a :class:`~gopool.sync.Mutex`,
    an ``RWMutex``'s :meth:`~gopool.sync.RWMutex.rlocker`...) is held while
    the condition is checked or changed, and when :meth:`wait` is called.
    :meth:`signal` and :meth:`broadcast` may be called with or without it.
    As in Go, wait in a loop::

        c.l.lock()
        while not condition():
            c.wait()
        ... use the condition ...
        c.l.unlock()
    """

    # _guard guards _waiters.
    __slots__ = ("__weakref__", "_guard", "_waiters", "l")

    l: Locker  # noqa: E741 -- Go's name
    """The Locker held while observing or changing the condition (Go's ``L``)."""

    def __init__(self, l: Locker) -> None:  # noqa: E741 -- Go's name
        """Go's ``sync.NewCond(l)``. Raises ``TypeError`` if ``l`` is not a Locker."""
        if not isinstance(l, Locker):
            raise TypeError(
                f"sync: Cond needs a Locker (with lock() and unlock()), not {type(l).__name__}"
            )
        self.l = l
        self._guard = threading.Lock()
        self._waiters = WaitQueue()

    def wait(self) -> None:
        """Unlock ``l``, wait for :meth:`signal` or :meth:`broadcast`, lock ``l`` again.

        The caller must hold ``l``; whatever ``l.unlock()`` raises (for a
        Mutex that is not locked, ``RuntimeError``) propagates, and the call
        is then not queued. Costs no CPU while blocked. ``KeyboardInterrupt``
        reaches a main thread blocked here (or in re-locking ``l``): the
        wait withdraws, and the exception propagates once ``l`` is locked
        again. Raises ``RuntimeError``, before unlocking ``l``, in the
        thread of a running asyncio event loop (whose tasks it would block).
        """
        refuse_in_loop("Cond.wait", "await c.async_wait()")
        w = ThreadWaiter(("sync.Cond.Wait", self))
        self._enqueue(w)
        try:
            block(w, self._guard, _published, None, None, self._waiters.withdraw)
        except BaseException:
            self._withdraw(w)
            raise
        finally:
            _relock(self.l)

    async def async_wait(self) -> None:
        """:meth:`wait` from a task: unlock ``l``, wait without blocking the loop, lock ``l``.

        Tasks and threads wait in one queue, in Go's order: a signal wakes
        the longest waiter of either kind. ``l`` is locked again through
        its async form if it is a :class:`~gopool.sync.Mutex` or
        :class:`~gopool.sync.RWMutex`, otherwise through its blocking
        ``lock()``. Cancelling the task withdraws the wait (it is no longer
        queued), and ``CancelledError`` propagates once ``l`` is locked
        again; if a signal completed the wait before the cancellation could
        withdraw it, the wait returns normally, holding ``l``, and the
        task's next ``await`` raises ``CancelledError``. A cancellation
        while re-locking ``l`` is held back until ``l`` is locked, then
        requested again.
        """
        from .._aio import TaskWaiter, block_task

        w = TaskWaiter(("sync.Cond.Wait", self))
        self._enqueue(w)
        try:
            withdraw = partial(self._waiters.withdraw, w)
            await block_task(w, (self._guard,), partial(_published, w, None), withdraw)
        except BaseException:
            self._withdraw(w)
            await _async_relock(self.l)
            raise
        await _async_relock(self.l)

    def _enqueue(self, w: Waiter) -> None:
        """Take a wait's ticket: publish ``w``, then unlock ``l`` (withdrawn if that raises)."""
        with self._guard:
            self._waiters.publish(w)
        try:
            self.l.unlock()
        except BaseException:
            self._withdraw(w)
            raise

    def _withdraw(self, w: Waiter) -> None:
        """Make sure ``w`` is no longer queued (it may have been withdrawn already)."""
        with self._guard:
            self._waiters.withdraw(w)

    def signal(self) -> None:
        """Wake the thread that has waited longest, if any; never blocks."""
        with self._guard:
            entry = self._waiters.hand_off()
            if entry is None:
                return
            w = entry[0]
            w.ok = True
        w.wake()

    def broadcast(self) -> None:
        """Wake every thread waiting now (not those that start waiting later); never blocks."""
        with self._guard:
            if not self._waiters:
                return
            woken = self._waiters.complete_all(True)
        wake_all(woken)

    def statistics(self) -> dict[str, int]:
        """A snapshot: how many threads wait."""
        with self._guard:
            return {"waiters": self._waiters.waiting()}

    def __repr__(self) -> str:
        return f"<Cond waiters={self.statistics()['waiters']} l={self.l!r} at {id(self):#x}>"


def _published(w: Waiter, _: object) -> bool:
    """``block``'s attempt for :meth:`Cond.wait`: the waiter is queued before ``l`` is free."""
    return False


async def _async_relock(l: Locker) -> None:  # noqa: E741 -- Go's name
    """Lock ``l`` again at the end of :meth:`Cond.async_wait`, even through cancellation.

    A Mutex or RWMutex is locked through its async form; a cancellation
    while it is contended is held back until ``l`` is locked, then
    requested again (see :func:`~gopool._aio.cancel_again`), so the task's
    next ``await`` raises ``CancelledError``. Any other Locker is locked
    through its blocking ``lock()``.
    """
    if not isinstance(l, (Mutex, RWMutex)):
        _relock(l)
        return
    from asyncio import CancelledError

    from .._aio import cancel_again

    held: CancelledError | None = None
    while True:
        try:
            await l.async_lock()
        except CancelledError as exc:
            held = held or exc
            continue
        break
    if held is not None:
        cancel_again(held)


def _relock(l: Locker) -> None:  # noqa: E741 -- Go's name
    """Lock ``l`` again at the end of :meth:`Cond.wait`, even through interrupts.

    An interrupt while ``l`` is contended is held back until ``l`` is
    locked, then raised. A ``RuntimeError`` (a lock's misuse or deadlock
    report: ``l`` can never be locked) is raised at once.
    """
    held: BaseException | None = None
    while True:
        try:
            l.lock()
        except RuntimeError:
            raise
        except BaseException as exc:
            held = held or exc
            continue
        break
    if held is not None:
        raise held
