"""Go's ``sync.WaitGroup``: wait for a collection of goroutines to finish.

Written after Go's ``src/sync/waitgroup.go``, with one difference of
mechanism: where Go parks on a semaphore, a blocked :meth:`WaitGroup.wait`
publishes a :class:`~gopool._waiter.ThreadWaiter` and parks in
:func:`~gopool._waiter.block`, like every blocking operation of the
package. No lock is held while a thread is parked, so a blocked main
thread is interrupted by ``KeyboardInterrupt`` and withdraws cleanly.

Invariants of a :class:`WaitGroup` (each holds whenever ``_lock`` is free):

* ``_count >= 0``. An ``add`` that would make it negative raises and
  changes nothing.
* ``_waiters`` is empty whenever ``_count == 0``: the ``add`` that brings the
  counter to zero claims and removes every waiter under the lock (waking
  them after releasing it), and a ``wait`` that finds the counter at zero
  returns without publishing a waiter. So Go's "Add called concurrently
  with Wait" state (waiters parked on a zero counter) cannot arise.
* Every live waiter in ``_waiters`` is waiting: a waiter that gives up
  claims and withdraws itself in one hold of the lock (an entry in the
  middle may linger, stale, until :class:`~gopool._waiter.WaitQueue` drops it).

Go's other misuse panic, "WaitGroup is reused before previous Wait has
returned", has no counterpart: a waiter is completed by the ``add`` that
reaches zero, at that moment, so a new round started before it returns
cannot confuse it, and telling such a round apart would only be
opportunistic (it depends on which thread runs first).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import ParamSpec

from .._checks import check_callable, check_int
from .._duration import Timeout
from .._duration import optional_seconds as _seconds
from .._goroutines import callable_name
from .._waiter import ThreadWaiter, Waiter, WaitQueue, block, refuse_in_loop, wake_all
from ..chan import go

__all__ = ["WaitGroup"]

P = ParamSpec("P")


class WaitGroup:
    """Go's ``sync.WaitGroup``: wait for a collection of goroutines to finish.

    The counter starts at zero. :meth:`add` raises it before work starts,
    :meth:`done` lowers it when a piece of work ends, and :meth:`wait`
    blocks until it is zero; :meth:`go` does all three for one function.
    Every method is thread-safe.

    As in Go, an ``add`` with a positive delta that starts from a zero
    counter must happen before the ``wait`` that should see it; to reuse a
    group, start the next round only after every ``wait`` of the previous
    one has returned.

        >>> from gopool.chan import Chan
        >>> squares = Chan[int](3)
        >>> wg = WaitGroup()
        >>> for n in range(3):
        ...     wg.go(squares.send, n * n)
        >>> wg.wait()
        True
        >>> squares.close()
        >>> sorted(squares)
        [0, 1, 4]
    """

    # _lock guards _count and _waiters.
    __slots__ = ("__weakref__", "_count", "_lock", "_waiters")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._waiters = WaitQueue()

    def add(self, delta: int = 1) -> None:
        """Add ``delta`` (which may be negative) to the counter.

        When the counter reaches zero, every blocked :meth:`wait` returns.
        Never blocks. Raises ``TypeError`` if ``delta`` is not an ``int``,
        and ``ValueError("sync: negative WaitGroup counter")`` if the counter
        would drop below zero; the counter is then left unchanged.
        """
        check_int(delta, "sync: WaitGroup delta")
        with self._lock:
            count = self._count + delta
            if count < 0:
                raise ValueError("sync: negative WaitGroup counter")
            self._count = count
            if count or not self._waiters:
                return
            woken = self._waiters.complete_all(True)
        wake_all(woken)

    def done(self) -> None:
        """Lower the counter by one (Go's ``wg.Done()``); see :meth:`add`.

        Raises ``ValueError("sync: negative WaitGroup counter")`` if the
        counter is already zero.
        """
        self.add(-1)

    def wait(self, timeout: Timeout = None) -> bool:
        """Block until the counter is zero; True then, False if ``timeout`` passed first.

        Returns True at once if the counter is zero. ``timeout`` (seconds or
        a ``timedelta``; not in Go) bounds the wait; ``timeout <= 0`` only
        looks. A timed-out or interrupted wait leaves nothing behind in the
        group. Costs no CPU while blocked; ``KeyboardInterrupt`` reaches a
        main thread blocked here. Raises ``TypeError`` for a ``timeout`` that
        is not a number or a ``timedelta``.
        """
        seconds = _seconds(timeout)
        with self._lock:
            if self._count == 0:
                return True
        if seconds is not None and seconds <= 0:
            return False
        refuse_in_loop("WaitGroup.wait", "await wg.async_wait()")
        w = ThreadWaiter(("WaitGroup.wait", self))
        return block(w, self._lock, self._zero_or_publish, None, seconds, self._waiters.withdraw)

    async def async_wait(self) -> bool:
        """Wait from a task until the counter is zero; True (as :meth:`wait` returns).

        Returns True at once if the counter is zero; otherwise waits without
        blocking the event loop, woken by the ``add``/``done`` (from any
        thread or task) that brings the counter to zero. Cancelling the task
        withdraws the wait, leaving nothing behind, and ``CancelledError``
        propagates; if the counter reached zero first, True is returned and
        the task's next ``await`` raises ``CancelledError``.
        """
        with self._lock:
            if self._count == 0:
                return True
        from .._aio import TaskWaiter, block_task

        w = TaskWaiter(("WaitGroup.wait", self))
        attempt = partial(self._zero_or_publish, w, None)
        await block_task(w, (self._lock,), attempt, partial(self._waiters.withdraw, w))
        return True

    def _zero_or_publish(self, w: Waiter, _: object) -> bool:
        """``block``'s attempt for :meth:`wait`; ``_lock`` held."""
        if self._count == 0:
            w.claim()
            return True
        self._waiters.publish(w)
        return False

    def go(self, fn: Callable[P, object], /, *args: P.args, **kwargs: P.kwargs) -> None:
        """Run ``fn(*args, **kwargs)`` in a new goroutine counted by the group (Go 1.25).

        Adds one to the counter before the goroutine starts and calls
        :meth:`done` when ``fn`` returns. If ``fn`` raises, :meth:`done` is
        not called (Go 1.25's rule: the panic is seen before ``Wait``
        returns): the exception is a goroutine panic (see
        :func:`gopool.set_panic_mode`). Never blocks. Raises ``TypeError``,
        before touching the counter, if ``fn`` is not callable.
        """
        check_callable(fn, "sync: WaitGroup.go")
        self.add(1)

        def run() -> None:
            fn(*args, **kwargs)
            self.done()

        # The goroutine's thread is named after fn, not after this wrapper.
        run.__qualname__ = callable_name(fn)
        try:
            go(run)
        except BaseException:
            self.done()  # the goroutine never started: it cannot call done()
            raise

    def statistics(self) -> dict[str, int]:
        """A snapshot: the counter and the number of threads blocked in :meth:`wait`."""
        with self._lock:
            return {"counter": self._count, "waiters": self._waiters.waiting()}

    def __repr__(self) -> str:
        s = self.statistics()
        return f"<WaitGroup counter={s['counter']} waiters={s['waiters']} at {id(self):#x}>"
