"""asyncio tasks as waiters: the task kind of :mod:`gopool._waiter`, and how a task waits.

A task that must wait publishes a :class:`TaskWaiter` in the same wait
queues, under the same locks, as a thread's :class:`~gopool._waiter.ThreadWaiter`;
counterparts complete either kind through the same verbs (``hand_off``,
``complete_all``) and cannot tell them apart. Only parking and waking
differ: a task awaits a future of its own loop instead of blocking on a
lock, so a waiting task holds no thread and nothing polls.

Invariants:

* A ``TaskWaiter`` belongs to the task that made it, on that task's running
  loop. Its future is created, resolved and awaited on the loop's thread
  only; other threads reach it through ``loop.call_soon_threadsafe``.
* ``wake()`` is called once, by the claimer (or an abort), after the outcome
  is written, as for every waiter. On the loop's own thread it resolves the
  future at once; from any other thread it schedules the resolution with
  ``call_soon_threadsafe``, the only step that crosses threads. A closed
  loop has no task left to wake (``asyncio.run`` cancels every task before
  closing, and a cancelled task withdraws), so that call is dropped.
* Resolving is idempotent and tolerates a cancelled future: a wake-up still
  on its way when the task was cancelled finds the future done and does
  nothing. So ``_settle()`` has nothing to undo.
* :func:`block_task` is the task's form of :func:`~gopool._waiter.block`:
  attempt under the owner's locks (completing at once, or publishing the
  waiter), await the future, and on ``CancelledError`` (or any exception
  thrown into the coroutine) withdraw through the same ``withdraw`` verb,
  under the same locks. If the withdrawal finds the waiter completed, the
  operation stands: the call returns normally and the cancellation is
  requested again with the task's cancel count unchanged (``uncancel()``,
  then ``cancel()``), so the task's next ``await`` raises ``CancelledError``.
"""

from __future__ import annotations

import asyncio
from asyncio import CancelledError
from collections.abc import Callable, Sequence
from typing import Any

from ._waiter import Waiter, under_locks

__all__ = ["TaskWaiter", "block_task", "cancel_again", "wait_forever"]

_get_running_loop = asyncio._get_running_loop


class TaskWaiter(Waiter):
    """A task's wait: it awaits a future of its loop, which ``wake()`` resolves.

    Made by the waiting task itself, on its running loop's thread. Raises
    ``RuntimeError`` (asyncio's "no running event loop") anywhere else.
    """

    __slots__ = ("_future", "_loop")

    def __init__(self, what: object = None) -> None:
        Waiter.__init__(self, what)
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._future: asyncio.Future[None] = loop.create_future()

    def wake(self) -> None:
        """Make the task runnable: resolve its future on its loop's thread."""
        loop = self._loop
        if _get_running_loop() is loop:
            self._resolve()
            return
        try:
            loop.call_soon_threadsafe(self._resolve)
        except RuntimeError:
            # The loop is closed: its tasks are gone (asyncio.run cancelled
            # them first, and a cancelled task withdraws), nobody to wake.
            pass

    def _resolve(self) -> None:
        if not self._future.done():
            self._future.set_result(None)

    def _settle(self) -> None:
        # A wake-up still on its way finds the future done (cancelled) and
        # does nothing; the outcome is visible already (see Waiter.take_back).
        pass


async def block_task(
    w: TaskWaiter,
    locks: Sequence[Any],
    attempt: Callable[[], Waiter | bool],
    withdraw: Callable[[], bool],
) -> None:
    """The waiting protocol of a task: returns once ``w`` is complete; the outcome is in ``w``.

    ``attempt`` and ``withdraw`` are those of :func:`gopool._waiter.block`,
    called with ``locks`` held in their order: ``attempt()`` completes the
    operation at once (True, or the counterpart's waiter to wake) or
    publishes ``w`` (False); ``withdraw()`` takes ``w`` back (True) or finds
    it completed (False). Awaits without blocking the loop.

    Cancelled while waiting: withdraws, and ``CancelledError`` propagates,
    nothing having happened; or, if a counterpart completed ``w`` first,
    returns normally with the outcome in ``w`` and the cancellation
    requested again (see :func:`cancel_again`). Aborted (:meth:`Waiter.abort`):
    withdraws and raises the abort's exception.
    """
    try:
        done = under_locks(locks, attempt)
        if done is not False:
            if done is not True:
                done.wake()
            return
        await w._future
        if w._abort is not None:
            raise w._abort
    except BaseException as exc:
        if under_locks(locks, withdraw):
            raise
        if not isinstance(exc, CancelledError):
            # GeneratorExit (the coroutine is being closed with its task
            # destroyed) or an exception thrown in: nobody is left to take
            # the outcome.
            raise
        cancel_again(exc)


def cancel_again(exc: CancelledError) -> None:
    """Re-request the cancellation ``exc`` delivered, for an operation that completed anyway.

    ``uncancel()`` then ``cancel()``: the task's cancel count is unchanged,
    the cancel message is kept, and the task's next ``await`` raises
    ``CancelledError``. On Python 3.11 and 3.12 ``uncancel()`` leaves the
    pending cancel in place, so an ``asyncio.timeout()`` that expired in
    that window also ends in a cancelled task there (from 3.13 the timeout's
    own ``uncancel()`` clears it, and the task goes on).
    """
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - a coroutine awaited outside any task
        raise exc
    task.uncancel()
    task.cancel(exc.args[0] if exc.args else None)


async def wait_forever(what: object = None) -> None:
    """Wait until cancelled (Go's nil channel, or ``select {}``): nothing can complete it."""
    await TaskWaiter(what)._future
    raise AssertionError("a waiter nobody can see was woken")  # pragma: no cover
