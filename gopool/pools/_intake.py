"""The submit side of a pool: jobs accepted into the job channel, and counted as they enter.

A job is *accepted* at the instant it enters the job channel, and
``accepted`` counts it in that same critical section of the pool's lock, so
``stats().submitted`` is exact at every moment: it never counts a job that
a closing or cancelled pool then refuses, and never lags one that a worker
has already taken. For that, every job enters the channel under the pool's
lock, by a send that cannot block:

* a submit that finds room in the buffer (or, for an unbuffered channel, a
  worker waiting) and no earlier submit waiting, sends at once;
* otherwise it joins ``waiting`` (FIFO) and parks on a channel of its own.
  A worker that frees a slot (takes a job) moves the first waiting job into
  the channel, counts it and wakes its submitter (:meth:`Intake.refill`);
  with an unbuffered channel an idle worker takes the first waiting job
  itself (:meth:`Intake.take_waiting`), woken by the pool's signal channel;
* closing or halting the pool refuses every waiting submit
  (:meth:`Intake.refuse_all_locked`): none of those jobs is accepted.

Invariants (each holds whenever the pool's lock is free):

* ``waiting`` holds exactly the submits parked for room, oldest first; a
  submit leaves it only by being accepted, refused, or withdrawn by its own
  interrupted thread. Once the pool refuses submits it stays empty.
* A slot freed while a submit waits is not lost: a submitter publishes
  itself in ``waiting`` and then retries the send, both under the lock; a
  worker frees a slot (a receive, under the channel's lock) and then reads
  the count of waiting submits. Whichever comes second in the channel's
  lock order sees the other: the retry finds the room, or the worker finds
  the submit (and takes the pool's lock to hand the slot over). Unbuffered:
  an idle worker is either parked on the job channel, where the retry hands
  the job to it, or about to park, and then the signal the submitter posts
  wakes it.
* No submit overtakes a waiting one: the fast path is taken only while
  ``waiting`` is empty, and refills serve ``waiting`` from its head.

Lock order: the pool's lock, then a channel's lock (the job channel, a
submitter's wake-up channel, the signal channel): sends made under the pool's
lock never block.
"""

from __future__ import annotations

import _thread
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from ..chan import Chan

__all__ = ["Intake"]


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


class _Waiting:
    """A submit parked for room: its job, and whether it was accepted once woken."""

    __slots__ = ("accepted", "item", "woken")

    def __init__(self, item: Any) -> None:
        self.item = item
        # Written under the pool's lock before ``woken`` is closed (accepted
        # or refused), read after: the channel's lock orders the two.
        self.accepted = False
        self.woken: Chan[None] = Chan()


class Intake:
    """The job channel's entrance: ``accepted``, ``seq`` and the submits waiting for room.

    Every field is guarded by ``lock`` (the pool's lock); ``waiting``, the
    number of submits queued, is also read without it by workers after each
    take (see the module docstring).
    """

    __slots__ = ("_queue", "_signal", "accepted", "jobs", "lock", "seq", "waiting")

    def __init__(self, lock: threading.Lock, jobs: Chan[Any], signal: Chan[None] | None) -> None:
        self.lock = lock
        self.jobs = jobs
        self._signal = signal  # wakes an idle worker, for an unbuffered job channel
        self._queue: deque[_Waiting] = deque()
        self.waiting = 0
        self.accepted = 0
        self.seq = 0

    def put_locked(self, job: Any, tag: int | None) -> _Waiting | None:
        """Accept ``job`` now if it fits, else queue it; ``lock`` held, never blocks.

        Returns None once accepted, or the queued entry for :meth:`wait`
        (to be called after releasing the lock).
        """
        item = (self.seq, job, tag)
        self.seq += 1
        if not self._queue and offer(self.jobs.send, item):
            self.accepted += 1
            return None
        entry = _Waiting(item)
        self._queue.append(entry)
        self.waiting += 1
        self._refill_locked()  # published first, then retried: see the module docstring
        if entry.accepted:
            return None
        if self._signal is not None:
            offer(self._signal.send, None)  # an idle worker about to park looks again
        return entry

    def wait(self, entry: _Waiting) -> bool:
        """Park until ``entry`` is accepted (True) or refused (False); ``lock`` not held.

        Interrupted (``KeyboardInterrupt``, or any exception raised in the
        wait): if the entry is still queued it is withdrawn, nothing is
        accepted, and the exception propagates. If a worker accepted it at
        that moment, the job stands: a ``KeyboardInterrupt`` in the main
        thread is delivered again at its next instruction and True is
        returned; any other exception propagates.
        """
        try:
            entry.woken.recv()
        except BaseException as exc:
            with self.lock:
                withdrawn = entry in self._queue
                if withdrawn:
                    self._queue.remove(entry)
                    self.waiting -= 1
                accepted = entry.accepted
            if withdrawn or not accepted:
                raise
            if isinstance(exc, KeyboardInterrupt) and (
                threading.current_thread() is threading.main_thread()
            ):
                _thread.interrupt_main()
                return True
            raise
        return entry.accepted

    def refill(self) -> None:
        """Move waiting jobs into the job channel while it has room (a worker freed a slot)."""
        with self.lock:
            self._refill_locked()

    def _refill_locked(self) -> None:
        queue, send = self._queue, self.jobs.send
        while queue and offer(send, queue[0].item):
            self._accept_first_locked()

    def _accept_first_locked(self) -> Any:
        entry = self._queue.popleft()
        self.waiting -= 1
        self.accepted += 1
        entry.accepted = True
        entry.woken.close()
        return entry.item

    def take_waiting(self) -> tuple[Any, bool] | None:
        """An idle worker of an unbuffered pool takes the first waiting job; None if none.

        The job is accepted and taken in one step, under the lock. If more
        submits wait, the signal is posted again for the next idle worker.
        """
        with self.lock:
            if not self._queue:
                return None
            item = self._accept_first_locked()
            if self._queue and self._signal is not None:
                offer(self._signal.send, None)
            return item, True

    def refuse_all_locked(self) -> None:
        """The pool accepts no more jobs: wake every waiting submit, refused."""
        for entry in self._queue:
            entry.woken.close()
        self._queue.clear()
        self.waiting = 0
