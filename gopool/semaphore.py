"""Go's ``golang.org/x/sync/semaphore``: a weighted semaphore with a FIFO queue.

Written after ``semaphore/semaphore.go``: a size, a count of tokens held
and a queue of waiters, all under one lock. A blocked :meth:`Weighted.acquire`
publishes a :class:`~gopool._waiter.ThreadWaiter` at the back of its
:class:`~gopool._waiter.WaitQueue` and parks in :func:`~gopool._waiter.block`,
like every blocking operation of the package; :func:`gopool.context.after_func`
wakes it if its context ends first. Nothing polls.

Invariants of a :class:`Weighted` (each holds whenever ``_lock`` is free):

* ``0 <= _cur <= _size``. A ``release`` that would take ``_cur`` below zero
  raises and changes nothing; tokens are only granted while they fit.
* The front waiter in ``_waiters`` is unclaimed (a withdrawn one in the
  middle may linger, stale, until it reaches the front and
  :meth:`~gopool._waiter.WaitQueue.pop_front` drops it), and a waiter is
  withdrawn in the same hold of the lock in which it is claimed: by the release that
  grants its tokens (adding them to ``_cur`` first), by the cancellation of
  its context, or by its own thread withdrawing (``KeyboardInterrupt``).
* Strict FIFO: tokens go only to the front waiter, and neither the fast
  path of ``acquire`` nor ``try_acquire`` takes tokens while anyone waits,
  so a large request is never starved by a stream of small ones.
* The front waiter, if any, wants more than ``_size - _cur`` tokens. Every
  operation that frees tokens or removes the front waiter hands tokens to
  the new front waiters while they fit (Go's ``notifyWaiters``), so no
  waiter stays parked while it could be served.

A request larger than the size can never be served: as in Go, it is not
queued (it would block everyone behind it) and waits for its context alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from ._checks import check_count
from ._waiter import ThreadWaiter, Waiter, WaitQueue, block, refuse_in_loop, wake_all
from .chan import Chan, RecvOnlyChan, nilchan
from .context import Canceled, Context, after_func

__all__ = ["Weighted"]


_Done = Chan[Any] | RecvOnlyChan[Any]


def _done_chan(ctx: Context | None) -> _Done | None:
    """``ctx.done()`` as a channel, or None when ``ctx`` can never be done."""
    if ctx is None:
        return None
    done_method = getattr(ctx, "done", None)
    if not callable(done_method):
        raise TypeError(
            f"semaphore: ctx must be a Context or None, not {type(ctx).__name__} "
            "(pass the weight as n=...)"
        )
    done = done_method()
    if done is None or done is nilchan:
        return None
    if not isinstance(done, Chan | RecvOnlyChan):
        raise TypeError(f"semaphore: {ctx!r}.done() returned {done!r}, not a gopool channel")
    return done


def _ctx_error(ctx: Context) -> Exception:
    err = ctx.err()
    return err if isinstance(err, Exception) else Canceled()


class Weighted:
    """Go's ``semaphore.Weighted``: bounds concurrent access to a resource by weight.

    ``Weighted(n)`` holds ``n`` tokens. :meth:`acquire` takes ``n`` of them,
    blocking while they are not available; :meth:`release` gives them
    back. Waiters are served strictly in arrival order. Every method is
    thread-safe.

        >>> sem = Weighted(3)
        >>> sem.acquire(n=2)
        >>> sem.try_acquire(2)
        False
        >>> sem.release(2)
        >>> sem.try_acquire(3)
        True

    Raises ``TypeError`` for a size that is not an ``int`` and
    ``ValueError`` for a negative one.
    """

    # _lock guards _cur and _waiters; _size never changes.
    __slots__ = ("__weakref__", "_cur", "_lock", "_size", "_waiters")

    def __init__(self, n: int) -> None:
        self._size = check_count(n, "semaphore: size")
        self._cur = 0
        self._lock = threading.Lock()
        # Entries (waiter, 0, tokens wanted), in arrival order.
        self._waiters = WaitQueue()

    def acquire(self, ctx: Context | None = None, n: int = 1) -> None:
        """Take ``n`` tokens, blocking until they are available or ``ctx`` is done.

        ``ctx`` is a :class:`~gopool.context.Context`, or None for one that
        is never done. Returns once the tokens are held. Raises
        ``ctx.err()`` (a :class:`~gopool.context.Canceled` or
        :class:`~gopool.context.DeadlineExceeded`), having taken nothing,
        if ``ctx`` is done before the tokens are granted, and also when it
        is already done at the call even if the tokens are free (Go's
        rule: a done context has "happened before" the acquire). Tokens
        granted to a waiter whose context ended meanwhile are given back.

        A request for more than the size is not queued (it would block
        every later request) and simply waits for ``ctx`` to be done; with
        no context that is forever, as in Go.

        Costs no CPU while blocked. ``KeyboardInterrupt`` reaches a main
        thread blocked here; the call then takes nothing and leaves the
        queue as if it had never waited. Raises ``TypeError`` for a ``ctx``
        that is not a context and for a non-``int`` weight, ``ValueError``
        for a negative one.
        """
        n = check_count(n, "semaphore: n")
        done = _done_chan(ctx)
        queued = self._take_now(n, done)
        if queued is None:
            return
        if queued or done is None or not done.closed:
            refuse_in_loop("Weighted.acquire", "await sem.async_acquire(ctx, n)")
        if queued:
            self._wait(n, ctx, done)
            return
        (done or nilchan).recv()  # returns at once if done is closed
        assert ctx is not None
        raise _ctx_error(ctx)

    async def async_acquire(self, ctx: Context | None = None, n: int = 1) -> None:
        """Take ``n`` tokens from a task, waiting until they are available or ``ctx`` is done.

        As :meth:`acquire`, in one FIFO queue with the threads that acquire:
        returns once the tokens are held; raises ``ctx.err()``, having taken
        nothing, if ``ctx`` is done first (or already at the call); a
        request over the size waits for ``ctx`` alone. Waits without
        blocking the event loop. Cancelling the task withdraws it from the
        queue, taking nothing (and lets the waiters behind it in), and
        ``CancelledError`` propagates; if the tokens were granted before the
        cancellation could withdraw it, the call returns holding them and
        the task's next ``await`` raises ``CancelledError``, so release them
        in a ``finally`` that follows the call.
        """
        n = check_count(n, "semaphore: n")
        done = _done_chan(ctx)
        queued = self._take_now(n, done)
        if queued is None:
            return
        if queued:
            await self._async_wait(n, ctx, done)
            return
        await (done or nilchan).async_recv()
        assert ctx is not None
        raise _ctx_error(ctx)

    def _take_now(self, n: int, done: _Done | None) -> bool | None:
        """Take ``n`` tokens at once (None), or say whether the call should queue for them."""
        with self._lock:
            if done is not None and done.closed:
                # Checked under the lock, as Go does: the context's end
                # happened before this acquire, so it fails even though it
                # need not block.
                return False
            if self._size - self._cur >= n and not self._waiters:
                self._cur += n
                return None
            # Don't make other acquire calls block on one that's doomed to fail.
            return n <= self._size

    def _wait(self, n: int, ctx: Context | None, done: _Done | None) -> None:
        """The blocking path of :meth:`acquire`: queue for ``n`` tokens, or take them now."""
        w = ThreadWaiter(("semaphore acquire", self))
        stop: Callable[[], bool] | None = None
        granted = False
        try:
            if ctx is not None and done is not None:
                # Before publishing: a context that ends first claims w, and
                # _grant_or_publish then leaves it unpublished.
                stop = after_func(ctx, partial(self._on_ctx_done, w))
            try:
                block(w, self._lock, self._grant_or_publish, n, None, self._withdraw)
                granted = w.ok
            finally:
                if stop is not None:
                    stop()
            if granted and done is not None and done.closed:
                # Granted, but the context ended too: as in Go, give the
                # tokens back rather than succeed on a done context.
                granted = False
                self.release(n)
            if not granted:
                assert ctx is not None
                raise _ctx_error(ctx)
        except BaseException:
            if granted:
                # An interrupt (delivered again after our grant) arrived
                # before we could return: the caller will not release.
                self.release(n)
            raise

    async def _async_wait(self, n: int, ctx: Context | None, done: _Done | None) -> None:
        """The waiting path of :meth:`async_acquire`, as :meth:`_wait` is for a thread."""
        from ._aio import TaskWaiter, block_task

        w = TaskWaiter(("semaphore acquire", self))
        stop: Callable[[], bool] | None = None
        if ctx is not None and done is not None:
            stop = after_func(ctx, partial(self._on_ctx_done, w))
        try:
            attempt = partial(self._grant_or_publish, w, n)
            await block_task(w, (self._lock,), attempt, partial(self._withdraw, w))
        finally:
            if stop is not None:
                stop()
        if w.ok and not (done is not None and done.closed):
            return
        if w.ok:
            self.release(n)  # granted, but the context ended too: given back, as in Go
        assert ctx is not None
        raise _ctx_error(ctx)

    def try_acquire(self, n: int = 1) -> bool:
        """Take ``n`` tokens if they are free and nobody waits; never blocks.

        Returns True if taken, False (having taken nothing) otherwise.
        Raises as :meth:`acquire` does for a bad weight.
        """
        n = check_count(n, "semaphore: n")
        with self._lock:
            if self._size - self._cur >= n and not self._waiters:
                self._cur += n
                return True
            return False

    def release(self, n: int = 1) -> None:
        """Give back ``n`` tokens, and grant waiters, front first, while their requests fit.

        Never blocks. Raises ``RuntimeError("semaphore: released more than
        held")`` if fewer than ``n`` tokens are held, leaving the count
        unchanged (Go panics, after changing it), and as :meth:`acquire`
        does for a bad weight.
        """
        n = check_count(n, "semaphore: n")
        with self._lock:
            if n > self._cur:
                raise RuntimeError("semaphore: released more than held")
            self._cur -= n
            woken = self._notify_waiters()
        for w in woken:
            w.wake()

    # -- the queue; _lock held unless said otherwise --

    def _notify_waiters(self) -> list[Waiter]:
        """Grant tokens to front waiters while they fit; the waiters to wake.

        Stops at the first waiter that does not fit rather than serving a
        smaller one behind it: under load that would starve large requests
        (a writer taking every token of a semaphore used as a read-write
        lock would never get in).
        """
        woken: list[Waiter] = []
        waiters = self._waiters
        while waiters:
            w, _, n = waiters[0]
            if self._size - self._cur < n:
                break
            waiters.pop_front()
            claimed = w.claim()
            assert claimed, "a queued waiter is never claimed"
            self._cur += n
            w.ok = True
            woken.append(w)
        return woken

    def _grant_or_publish(self, w: Waiter, n: int) -> bool:
        """``block``'s attempt for :meth:`acquire`: grant now, or queue ``w``."""
        if w.claimed:
            return True  # its context ended first: _on_ctx_done wrote the outcome
        if self._size - self._cur >= n and not self._waiters:
            w.claim()
            self._cur += n
            w.ok = True
            return True
        self._waiters.publish(w, 0, n)
        return False

    def _remove(self, w: Waiter) -> list[Waiter]:
        """Take the claimed, ungranted ``w`` out of the queue, if there; the waiters to wake.

        Removing the front waiter may let the next ones in. Go notifies
        only when tokens are left over (``size > cur``); notifying whenever
        the front leaves is the same for every non-zero weight, and does
        not strand a zero-weight waiter behind it.
        """
        waiters = self._waiters
        is_front = bool(waiters) and waiters[0][0] is w
        waiters.discard(w)
        return self._notify_waiters() if is_front else []

    def _on_ctx_done(self, w: Waiter) -> None:
        """``after_func`` callback: fail ``w`` unless it was granted or withdrawn first."""
        with self._lock:
            if not w.claim():
                return
            woken = self._remove(w)
            w.ok = False
        wake_all(woken)
        w.wake()

    def _withdraw(self, w: Waiter) -> bool:
        """``block``'s withdraw, ``_lock`` held: True if ``w`` was taken back ungranted.

        The waiters its leaving lets in are woken at once, under the lock.
        """
        mine = w.take_back()
        if mine:
            wake_all(self._remove(w))
        return mine

    # -- introspection --

    def statistics(self) -> dict[str, int]:
        """A snapshot: the size, the tokens held now, and the number of queued waiters."""
        with self._lock:
            return {"size": self._size, "current": self._cur, "waiters": self._waiters.waiting()}

    def __repr__(self) -> str:
        s = self.statistics()
        return (
            f"<Weighted size={s['size']} current={s['current']} "
            f"waiters={s['waiters']} at {id(self):#x}>"
        )
