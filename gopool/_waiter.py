"""The one parking mechanism behind every blocking operation (Go's ``sudog``).

A thread that must wait creates a :class:`Waiter`, publishes it where its
counterpart will find it (a channel's queue, a WaitGroup's list), releases
the lock that guards that place, and parks on the waiter. Whoever completes
the operation *claims* the waiter, writes the outcome into it, and wakes it.

Invariants:

* A waiter is claimed at most once. ``claim()`` is an atomic test-and-set on
  a lock of its own, so a waiter published in several places at once (a
  ``select`` enqueued on many channels) is completed by exactly one of them,
  whichever gets there first; the others see the failed claim and drop it.
* Only the claimer writes the outcome fields, and it writes them before it
  calls ``wake()``. The parked thread reads them only after ``park()`` has
  returned True (or after ``settle()``), so the park lock's release/acquire
  orders the writes before the reads without leaning on the GIL.
* A parked thread that gives up (timeout, Ctrl-C) must claim its own waiter
  before it withdraws. If the claim fails, a counterpart has already
  completed the operation: the thread calls ``settle()`` to wait for the
  wake-up that is on its way and then treats the operation as done.

Parking is a plain ``Lock.acquire``: it costs no CPU while blocked, is woken
directly by the counterpart's ``release``, and on POSIX is interrupted by
signals, so ``KeyboardInterrupt`` reaches a main thread parked here.
"""

from __future__ import annotations

import _thread
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Waiter", "redeliver_interrupt", "wait_for"]

_allocate_lock = _thread.allocate_lock


class Waiter:
    """One parked thread waiting for one operation to be completed.

    Fields written by the claimer before ``wake()``:

    ``index``
        which of the waiter's cases completed (a select's case index, 0 for
        a plain operation);
    ``value``
        the value handed over (to a receiver);
    ``ok``
        True for a real hand-off, False when the operation completed because
        a channel was closed.
    """

    __slots__ = ("_claim", "_park", "index", "ok", "value")

    def __init__(self) -> None:
        self._claim = _allocate_lock()
        self._park = _allocate_lock()
        self._park.acquire()
        self.index = -1
        self.value: Any = None
        self.ok = False

    def claim(self) -> bool:
        """Take the right to complete this waiter; True for the first caller only."""
        return self._claim.acquire(False)

    @property
    def claimed(self) -> bool:
        """Whether someone (a counterpart, or the owner withdrawing) has claimed it."""
        return self._claim.locked()

    def wake(self) -> None:
        """Release the parked owner. Called once, by the claimer, after the writes."""
        self._park.release()

    def park(self, timeout: float | None = None) -> bool:
        """Block until woken; False if ``timeout`` seconds passed first.

        Raises whatever a signal handler raises (``KeyboardInterrupt``) while
        blocked. Either way the caller must withdraw through ``claim()``.
        """
        if timeout is None:
            return self._park.acquire()
        if timeout <= 0:
            return self._park.acquire(False)
        return self._park.acquire(True, timeout)

    def settle(self) -> None:
        """Wait for the wake-up of a claimer that beat us to ``claim()``.

        The claimer wakes us right after writing the outcome, so this wait is
        short. An interrupt arriving inside it is held back until the wake-up
        has come, then delivered again, so that an outcome the counterpart
        already committed is never half-observed.
        """
        held: BaseException | None = None
        while True:
            try:
                self._park.acquire()
                break
            except BaseException as exc:
                held = exc
        if held is not None:
            redeliver_interrupt(held)


def redeliver_interrupt(exc: BaseException) -> None:
    """Re-raise ``exc`` for an operation that completed while it was being raised.

    A ``KeyboardInterrupt`` in the main thread is delivered again through
    ``_thread.interrupt_main()``: the caller then gets the operation's result
    and the interrupt arrives at its next instruction, so no value is lost.
    Anything else is re-raised at once.
    """
    if isinstance(exc, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
        _thread.interrupt_main()
        return
    raise exc


def wait_for(w: Waiter, timeout: float | None, withdraw: Callable[[], bool]) -> bool:
    """Park ``w`` until a partner completes it; True once it has, False on timeout.

    The one blocking protocol of the package. ``withdraw()`` is called on
    timeout or interrupt: with the lock(s) guarding the places where ``w``
    is published held, it claims ``w`` and unpublishes it, returning True;
    if the claim fails, a partner completed ``w`` first, and ``withdraw``
    calls ``w.settle()`` and returns False.

    * Woken by a partner: returns True; the outcome is in ``w``.
    * Timed out: returns False if withdrawn (nothing happened), True if a
      partner completed ``w`` in the meantime.
    * Interrupted (``KeyboardInterrupt`` or whatever a signal handler
      raises): re-raises if withdrawn; if a partner completed ``w`` first,
      the outcome stands, True is returned and the interrupt is delivered
      again (see :func:`redeliver_interrupt`).
    """
    try:
        if w.park(timeout):
            return True
    except BaseException as exc:
        if withdraw():
            raise
        redeliver_interrupt(exc)
        return True
    return not withdraw()
