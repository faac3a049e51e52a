"""The submit side of a pool: jobs accepted into the job channel, and counted as they enter.

A job is *accepted* at the instant it enters the job channel, and
``accepted`` counts it in that same critical section of the pool's lock, so
``stats().submitted`` is exact at every moment: it never counts a job that
a closing or cancelled pool then refuses, and never lags one that a worker
has already taken. For that, every job enters the channel under the pool's
lock, by a send that cannot block:

* a submit that finds room in the buffer (or, for an unbuffered channel, a
  worker waiting) and no earlier submit waiting, sends at once;
* otherwise it publishes a waiter in ``queue`` (FIFO, the one wait queue of
  :mod:`gopool._waiter`) and parks. A worker that frees a slot (takes a
  job) moves the first waiting job into the channel, counts it and wakes
  its submitter (:meth:`Intake.refill_locked`); with an unbuffered channel
  an idle worker takes the first waiting job itself
  (:meth:`Intake.take_first_locked`), woken by the pool's signal channel;
* closing or halting the pool refuses every waiting submit
  (:meth:`Intake.close_locked`): none of those jobs is accepted.

Invariants (each holds whenever the pool's lock is free):

* ``queue`` holds the submits parked for room, oldest first, each entry's
  value being its job; a submit leaves it accepted, refused, or withdrawn by
  its own interrupted (or aborted) thread. Once the pool refuses submits it
  stays empty.
* A slot freed while a submit waits is not lost: a submitter publishes its
  waiter, raises every worker's ``submits_wait`` flag, and then retries the
  send, all under the lock; a worker frees a slot (a receive, under the
  channel's lock) and then reads its own flag. Whichever comes second in
  the channel's lock order sees the other: the retry finds the room, or the
  worker sees its flag (and takes the pool's lock to hand the slot over). A
  worker's flag is lowered only under the lock, when no submit waits.
  Unbuffered: an idle worker is either parked on the job channel, where the
  retry hands the job to it, or about to park, and then the signal the
  submitter posts wakes it (and its flag tells it why).
* No submit overtakes a waiting one: the fast path is taken only while
  ``queue`` is empty, and refills serve it from its head.
* A waiter is claimed before its job is sent: so an abort of its thread
  (which claims it too) either comes first, and the job is not sent, or
  finds it claimed, and the job stands.

Lock order: the pool's lock, then a channel's lock (the job channel, the
signal channel); sends made under the pool's lock never block.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from .._waiter import ThreadWaiter, Waiter, WaitQueue, block, refuse_in_loop, wake_all
from ..chan import Chan
from ..context import Context

__all__ = ["Intake", "offer"]


def offer(send: Callable[..., None], value: Any) -> bool:
    """Send ``value`` if that can be done without blocking; True if it was sent.

    Chan has no boolean try-send: ``timeout=0`` is its non-blocking send,
    which says "not ready" with a ``TimeoutError``.
    """
    try:
        send(value, timeout=0.0)
    except TimeoutError:
        return False
    return True


class _Wait:
    """One submit waiting for room: its job's item, and why it was refused, if it was."""

    __slots__ = ("item", "refused")

    def __init__(self, item: Any) -> None:
        self.item = item
        self.refused: BaseException | None = None


class Intake:
    """The job channel's entrance: ``accepted``, ``seq`` and the submits waiting for room.

    Every field is guarded by ``lock`` (the pool's lock), but ``queue`` is
    also looked at (is it empty?) without it by workers after each take: see
    the module docstring.
    """

    __slots__ = (
        "_refusal_locked",
        "_signal",
        "_submits_wait_locked",
        "accepted",
        "ctx",
        "jobs",
        "lock",
        "open",
        "queue",
        "seq",
    )

    def __init__(
        self,
        lock: threading.Lock,
        jobs: Chan[Any],
        signal: Chan[None] | None,
        submits_wait_locked: Callable[[bool], None],
        refusal_locked: Callable[[], BaseException | None],
    ) -> None:
        self.lock = lock
        self.jobs = jobs
        self._signal = signal if jobs.cap == 0 else None  # wakes an idle worker, unbuffered
        self._submits_wait_locked = submits_wait_locked  # raises every worker's flag
        self._refusal_locked = refusal_locked  # why the pool refuses a job (None: it does not)
        self.queue = WaitQueue()
        self.open = True  # False once the pool closes or halts: then every submit is refused
        self.ctx: Context | None = None  # the pool's context, once started
        self.accepted = 0
        self.seq = 0

    def put(self, job: Any, tag: int | None) -> BaseException | None:
        """Accept ``job`` into the job channel; None once accepted, else the exception to raise.

        Blocks while the buffer is full. The exception returned is the
        pool's refusal: a :class:`~gopool.chan.ClosedChannelError` for a
        closed pool (checked first), or the context's ``err()`` for a
        cancelled one. Interrupted (``KeyboardInterrupt``, or an abort of
        the wait): the submit withdraws, nothing is accepted, and the
        exception propagates; if a worker accepted the job at that moment,
        the job stands and the interrupt is delivered again (see
        :func:`gopool._waiter.block`). Called from a running event loop's
        thread when it would have to wait, raises ``RuntimeError`` (the
        loop must not block: ``async_submit``).
        """
        refused, item = self._put_now(job, tag)
        if item is None:
            return refused
        refuse_in_loop("a pool's submit", "await pool.async_submit(job)")
        w = ThreadWaiter(("pool submit", self.jobs))
        wait = _Wait(item)
        block(w, self.lock, self._attempt, wait, None, self.queue.withdraw)
        return self._outcome(w, wait)

    async def async_put(self, job: Any, tag: int | None) -> BaseException | None:
        """:meth:`put` for an asyncio task: waits for room without blocking its event loop.

        Cancelled, the submit withdraws (nothing accepted) and
        ``CancelledError`` propagates; if a worker accepted the job first,
        the job stands and the task's next ``await`` raises it (see
        :func:`gopool._aio.block_task`).
        """
        refused, item = self._put_now(job, tag)
        if item is None:
            return refused
        from .._aio import TaskWaiter, block_task

        w = TaskWaiter(("pool submit", self.jobs))
        wait = _Wait(item)
        attempt = partial(self._attempt, w, wait)
        await block_task(w, (self.lock,), attempt, partial(self.queue.withdraw, w))
        return self._outcome(w, wait)

    def _put_now(self, job: Any, tag: int | None) -> tuple[BaseException | None, Any]:
        """Refuse or accept ``job`` now: ``(refusal, None)``, ``(None, None)`` once accepted,
        or ``(None, item)`` for an item that must wait for room."""
        # The context is read outside the lock: a job accepted just as it ends
        # is counted cancelled by the halt, as one queued a moment earlier.
        ctx = self.ctx
        ended = ctx is not None and ctx.err() is not None
        with self.lock:
            if ended or not self.open:
                return self._refusal_locked(), None
            item = (self.seq, job, tag)
            self.seq += 1
            if not self.queue:
                try:
                    self.jobs.send(item, timeout=0.0)  # offer(), inline: once per job
                except TimeoutError:
                    return None, item
                self.accepted += 1
                return None, None
            return None, item

    def _outcome(self, w: Waiter, wait: _Wait) -> BaseException | None:
        """What a completed wait returns: None once accepted, else the refusal."""
        if wait.refused is not None:
            return wait.refused
        if w.ok:
            return None
        with self.lock:
            return self._refusal_locked()

    def bind_locked(self, ctx: Context) -> None:
        """The pool starts under ``ctx``: a submit made once it has ended is refused."""
        self.ctx = ctx

    def _attempt(self, w: Waiter, wait: _Wait) -> bool:
        """:meth:`wait`'s step under the lock: refused, accepted at once, or published."""
        err = self._refusal_locked()
        if err is not None:
            wait.refused = err
            return w.claim()
        item = wait.item
        signal = self._signal  # set for an unbuffered job channel only
        if signal is not None and not self.queue and offer(self.jobs.send, item):
            self.accepted += 1  # a worker became free since put_locked()
            w.ok = True
            return w.claim()
        self.queue.publish(w, 0, item)
        self._submits_wait_locked(True)
        if signal is not None:
            offer(signal.send, None)  # an idle worker about to park looks again
            return False
        # Published first, then retried: see the module docstring.
        wake_all(self.refill_locked())
        return w.claimed

    def refill_locked(self) -> list[Waiter]:
        """Move waiting jobs into the job channel while it has room; their waiters, to wake.

        Called by a worker that freed a slot, with ``lock`` held; the caller
        wakes the waiters once it has released it.
        """
        queue, jobs, cap = self.queue, self.jobs, self.jobs.cap
        woken = []
        # Room checked under the pool's lock: no other sender can take it, so
        # the send cannot block. (Unbuffered, idle workers take_first_locked().)
        while queue and len(jobs) < cap:
            entry = queue.hand_off()
            if entry is None:
                break
            w, _, item = entry
            jobs.send(item)
            self.accepted += 1
            w.ok = True
            woken.append(w)
        return woken

    def take_first_locked(self) -> tuple[Any, Waiter] | None:
        """An idle worker of an unbuffered pool takes the first waiting job: ``(item, waiter)``.

        The job is accepted and taken in one step, ``lock`` held; the caller
        wakes the waiter once it has released it. None if no submit waits.
        If more do, the signal is posted again for the next idle worker.
        """
        entry = self.queue.hand_off()
        if entry is None:
            return None
        self.accepted += 1
        entry[0].ok = True
        self.signal_again_locked()
        return entry[2], entry[0]

    def signal_again_locked(self) -> None:
        """Unbuffered: if submits still wait, wake one more idle worker for them."""
        if self.queue and self._signal is not None:
            offer(self._signal.send, None)

    def close_locked(self) -> list[Waiter]:
        """The pool accepts no more jobs: every waiting submit, refused, to wake after unlocking."""
        self.open = False
        return self.queue.complete_all(False)

    def blocked(self) -> int:
        """How many submits wait for room now (``lock`` held)."""
        return self.queue.waiting()
