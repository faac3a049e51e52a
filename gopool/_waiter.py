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
  calls ``wake()``, while still holding the lock of the place where it found
  the waiter. The parked thread reads them only after ``park()`` has
  returned True, or after its own claim failed under (or was followed by
  taking) that same lock, so a lock's release/acquire always orders the
  writes before the reads, without leaning on the GIL.
* A parked thread that gives up (timeout, Ctrl-C) must claim its own waiter
  before it withdraws. If the claim fails, a counterpart has already
  completed the operation: the thread calls ``settle()`` and treats the
  operation as done.

Parking is a plain ``Lock.acquire``: it costs no CPU while blocked, is woken
directly by the counterpart's ``release``, and on POSIX is interrupted by
signals, so ``KeyboardInterrupt`` reaches a main thread parked here.

The registry of parked threads (read by :mod:`gopool.debug`):

* A thread that blocks in ``park()`` (with no timeout, or a positive one) is
  recorded, waiter -> thread id, from just before it blocks until ``park()``
  returns or raises; ``what`` (set by whoever made the waiter), ``since`` and
  ``timeout`` describe the wait. A non-blocking ``park(0)`` and ``settle()``
  are not recorded. A recorded waiter that is claimed belongs to a thread
  that is runnable: its claimer has completed it or is taking it back.
* Parks with no timeout while deadlock detection is on are recorded in
  ``_watched`` (thread id -> its waiters, innermost last), under
  ``_watch_lock``, so that the detector sees registrations and its own
  check in one order; every other park is recorded in ``_parked``, whose
  single ``dict`` set, delete and copy operations are atomic on every
  CPython build (under the GIL, and under the dict's own lock on
  free-threaded builds), so the blocking path takes no extra lock for it.
* After ``os.fork()`` the child starts with empty records and a fresh
  ``_watch_lock``: only the forking thread survives, and it is not parked.
* With detection off the park path pays one read of ``_detector``. With it
  on, ``_detector`` runs after the registration and before blocking. It may
  claim the main thread's innermost watched waiter to abort its park: under
  ``_watch_lock`` it takes the claim and marks ``_abort``, then (outside the
  lock) stores the exception and releases the park lock. The aborted thread
  gives the claim back and raises the exception, so its caller withdraws
  the operation exactly as after an interrupt. A thread leaving a watched
  park unregisters under ``_watch_lock`` before it looks at ``_abort``, so an
  abort is either seen and honoured, or never started.
"""

from __future__ import annotations

import _thread
import os
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Waiter", "redeliver_interrupt", "wait_for"]

_allocate_lock = _thread.allocate_lock
_get_ident = _thread.get_ident
_monotonic = time.monotonic


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

    ``what`` describes the operation for :mod:`gopool.debug`: None, or a pair
    ``(reason, target)`` such as ``("chan receive", ch)``, rendered (with
    ``repr(target)``) only when a dump is made. ``since`` and ``timeout`` are
    set by ``park()``.
    """

    __slots__ = ("_abort", "_claim", "_park", "index", "ok", "since", "timeout", "value", "what")

    since: float
    timeout: float | None

    def __init__(self, what: object = None) -> None:
        self._claim = _allocate_lock()
        self._park = _allocate_lock()
        self._park.acquire()
        self.index = -1
        self.value: Any = None
        self.ok = False
        self.what = what
        self._abort: object = None

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
        blocked, and :class:`gopool.DeadlockError` when deadlock detection
        finds every thread asleep. Either way the caller must withdraw
        through ``claim()``.
        """
        if timeout is not None and timeout <= 0:
            return self._park.acquire(False)
        self.since = _monotonic()
        self.timeout = timeout
        detect = _detector
        if timeout is None and detect is not None:
            return _park_watched(self, detect)
        parked = _parked
        parked[self] = _get_ident()
        try:
            if timeout is None:
                return self._park.acquire()
            return self._park.acquire(True, timeout)
        finally:
            del parked[self]

    def settle(self) -> None:
        """Accept that a claimer beat us to ``claim()``: the operation stands.

        Every claimer writes the outcome while holding the lock under which
        the owner then fails its own claim (a channel's, a WaitGroup's), so
        the outcome is already visible here; the wake-up still on its way
        will find nobody parked, which is harmless. Never waits for it: an
        interrupt that lands just after ``park()``'s acquire returned has
        consumed that wake-up already, and waiting would hang forever.
        """
        self._park.acquire(False)


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


# -- the registry of parked threads, and the deadlock detector's hooks --

_parked: dict[Waiter, int] = {}
"""Waiters blocked in an unwatched park -> their thread's id (see the module docstring)."""

_watch_lock = threading.Lock()
_watched: dict[int, list[Waiter]] = {}
"""Thread id -> its waiters in watched parks, innermost last; guarded by ``_watch_lock``."""

_detector: Callable[[Waiter | None], BaseException | None] | None = None
"""Set by :mod:`gopool.debug` while deadlock detection is on, else None.

Called with the waiter of a thread about to park with no timeout (already in
``_watched``), or with None by a thread that will never act again (a
goroutine ending). Returns an exception for the calling thread to raise
instead of parking (with its waiter claimed and ``_abort`` set to
``_SELF``), or None.
"""

_SELF = object()
"""``_abort`` mark: the waiter's own thread claimed it to report a deadlock."""
_ABORTING = object()
"""``_abort`` mark: another thread claimed the waiter and will wake it with an exception."""


def thread_exiting() -> None:
    """Tell the deadlock detector (if on) that the calling thread will not act again."""
    detect = _detector
    if detect is not None:
        detect(None)


def claim_for_abort(w: Waiter, *, own: bool) -> bool:
    """Claim ``w`` to abort its park; ``_watch_lock`` held. False if already claimed.

    ``own``: ``w`` belongs to the calling thread, which will raise without
    parking; otherwise the caller must finish with :func:`deliver_abort`.
    """
    if not w._claim.acquire(False):
        return False
    w._abort = _SELF if own else _ABORTING
    return True


def deliver_abort(w: Waiter, exc: BaseException) -> None:
    """Wake ``w``, claimed by :func:`claim_for_abort`, so that its park raises ``exc``."""
    w._abort = exc
    w._park.release()


def _watch(w: Waiter, ident: int) -> None:
    with _watch_lock:
        stack = _watched.get(ident)
        if stack is None:
            _watched[ident] = [w]
        else:
            stack.append(w)


def _unwatch(w: Waiter, ident: int) -> BaseException | None:
    """Unregister ``w``; an interrupt arriving meanwhile is held back and returned.

    A watched entry left behind would make the detector count a running
    thread as asleep, so this retries until it has taken the lock.
    """
    held: BaseException | None = None
    while True:
        try:
            with _watch_lock:
                stack = _watched.get(ident)
                if stack is not None and w in stack:
                    stack.remove(w)
                    if not stack:
                        del _watched[ident]
            return held
        except BaseException as exc:
            held = exc


def _give_back(w: Waiter) -> BaseException | None:
    """Undo an abort's claim on ``w`` so its caller can withdraw; an interrupt is held back.

    If another thread claimed ``w``, its wake-up is waited for first (it is
    on its way: the claim and the wake-up are one step of the detector).
    """
    held: BaseException | None = None
    if w._abort is not _SELF:
        while True:
            try:
                w._park.acquire()
                break
            except BaseException as exc:
                held = exc
    w._abort = None
    w._claim.release()
    return held


def _park_watched(w: Waiter, detect: Callable[[Waiter | None], BaseException | None]) -> bool:
    """``park(None)`` with deadlock detection on: register, check, block, honour an abort."""
    ident = _get_ident()
    own: BaseException | None = None
    try:
        _watch(w, ident)
        own = detect(w)
        if own is None:
            w._park.acquire()
    except BaseException:
        held = _unwatch(w, ident)
        if w._abort is not None:
            held = _give_back(w) or held
        if held is not None:
            raise held  # noqa: B904 -- a second interrupt supersedes the first
        raise
    held = _unwatch(w, ident)
    abort = w._abort
    if abort is not None:
        # Found deadlocked, by this thread (own) or by another one, whose
        # wake-up the park above has consumed: give the claim back so that
        # the caller's withdraw takes it, as after an interrupt.
        exc = own if own is not None else abort
        assert isinstance(exc, BaseException)
        w._abort = None
        w._claim.release()
        if held is not None:
            redeliver_interrupt(held)
        raise exc
    if held is not None:
        redeliver_interrupt(held)
    return True


def _after_fork_child() -> None:
    global _watch_lock
    # Only the forking thread exists in the child, and it is not parked: every
    # record is stale, and the lock may have been copied held by a thread
    # that is gone.
    _watch_lock = threading.Lock()
    _watched.clear()
    _parked.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_child)
