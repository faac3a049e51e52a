"""Who runs and who waits: the registry of goroutines and parked threads, and the deadlock check.

The small interface through which the rest of the package is observed:

* :func:`go` registers every goroutine (thread started by it) from before
  it starts until its function has ended;
* :mod:`gopool._waiter` records every thread parked with a timeout, or
  with none while detection is off, in :data:`parked` (waiter -> thread
  id), and parks through :func:`park_watched` when :data:`detecting` is
  True and there is no timeout;
* a thread that will never act again (a goroutine ending) says so through
  :func:`thread_exiting`;
* :mod:`gopool.timers` lends :func:`watch_timers` its two probes;
* :mod:`gopool.debug` reads :func:`snapshot`, marks its dump printers with
  :func:`helper`, and switches detection with :func:`set_deadlock_report`.

Invariants:

* ``_registry_lock`` guards ``_goroutine_ids``. An entry of
  ``_goroutines`` is added before its thread starts and removed when its
  function has ended, each by one ``dict`` operation (atomic, as for
  :data:`parked` below), and readers copy it: starting a goroutine takes
  one short lock hold (its number) and no frame is kept; what a dump says
  of its creator is formatted only when a dump is made.
* A recorded waiter belongs to a thread blocked (or about to block) on it;
  a claimed one, to a thread that is runnable: its claimer has completed
  it or is taking it back. :data:`parked` is changed by single ``dict``
  set, delete and copy operations, atomic on every CPython build (under
  the GIL, and under the dict's own lock on free-threaded builds), so the
  unwatched park takes no extra lock.
* ``_watch_lock`` guards ``_watched`` (thread id -> its waiters in watched
  parks, innermost last), ``_report``, ``_exiting``, ``_watching`` and
  ``_helpers``, so that the detector sees registrations and its own check
  in one order.

The deadlock check (Go's "all goroutines are asleep"):

* It reports only a state in which no thread can act again. It runs with
  ``_watch_lock`` held, so the registrations of parked threads cannot
  change under it, and takes its list of live threads under that lock too:
  a thread not yet registered when the lock was taken is running, so it is
  seen running (or was started by a thread seen running). It reports when
  the main thread's innermost waiter and that of every other live thread
  is registered, unclaimed and without timeout, and no timer is pending.
  Threads in ``_exiting`` (goroutines whose function has ended, and the
  check's own watcher threads) and in ``_helpers`` never act, and are left
  out. Any other thread, in any state, means no report.
* Each check is triggered by a change that could complete a deadlock: a
  thread about to park with no timeout (checked after it registered), a
  goroutine ending, or the end of a thread no hook sees (a plain thread,
  the timer thread): when such threads are the only obstacle left, a
  watcher thread joins each of them and checks again.
* The report is made at most once per blocked operation: the check builds
  the exception (``_report``, outside the lock), then aborts the main
  thread's waiter with it (``Waiter.abort`` claims it: a failed claim means
  the wait was completed or interrupted meanwhile, or reported already).
  Automatic garbage collection is off during the check, so no finalizer
  runs in its middle.

Lock order: ``_watch_lock``, then a timer's or threading's lock (each taken
briefly inside the check).

``os.fork()``: only the forking thread survives, and it is not parked: the
child starts with fresh locks and empty records, and forgets the parent's
goroutines, watchers and helpers.
"""

from __future__ import annotations

import _thread
import gc
import itertools
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import CodeType
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec

from ._checks import check_callable

if TYPE_CHECKING:
    from ._waiter import Waiter

__all__ = [
    "Snapshot",
    "callable_name",
    "detecting",
    "go",
    "helper",
    "park_watched",
    "parked",
    "set_deadlock_report",
    "snapshot",
    "thread_exiting",
    "waiters_of",
    "watch_timers",
]

_get_ident = _thread.get_ident

P = ParamSpec("P")


# -- goroutines --


class GoroutineInfo(NamedTuple):
    """What a dump says about a goroutine."""

    number: int
    name: str
    created_by: str


class _Record(NamedTuple):
    """A live goroutine as :func:`go` records it: the dump's text is made from it on demand."""

    number: int
    name: str
    code: CodeType
    """The code of the creating call outside gopool, and its line."""
    line: int | None
    parent: int
    """The creating thread: a goroutine's number, 0 for the main thread, else -(thread id)."""

    def info(self) -> GoroutineInfo:
        parent = self.parent
        if parent > 0:
            thread = f"goroutine {parent}"
        elif parent == 0:
            thread = "the main thread"
        else:
            thread = f"thread {-parent}"
        code = self.code
        where = f"{code.co_qualname} in {thread}\n    {code.co_filename}:{self.line}"
        return GoroutineInfo(self.number, self.name, where)


_registry_lock = threading.Lock()
_goroutine_ids = itertools.count(1)
_goroutines: dict[threading.Thread, _Record] = {}
_current_thread = threading.current_thread
_main_thread = threading.main_thread

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_EXAMPLES_DIR = os.path.join(_PACKAGE_DIR, "_examples") + os.sep


def callable_name(fn: object) -> str:
    """How a goroutine running ``fn`` is named: its qualified name, or its type's name."""
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _run_goroutine(fn: Callable[..., object], args: Any, kwargs: Any) -> None:
    """The body of a goroutine's thread: ``fn``, then leave the registry."""
    try:
        fn(*args, **kwargs)
    except BaseException as exc:
        # Before the exit check below, which may end the program with a
        # DeadlockError in the main thread: the panic comes first.
        _panic.panic(exc)
    finally:
        thread_exiting()
        _goroutines.pop(_current_thread(), None)


def go(fn: Callable[P, object], /, *args: P.args, **kwargs: P.kwargs) -> threading.Thread:
    """Run ``fn(*args, **kwargs)`` in a new daemon thread (Go's ``go fn(...)``).

    Returns the started thread. The program does not wait for it at exit,
    as Go does not wait for goroutines. An exception escaping ``fn`` is a
    goroutine panic (see :func:`gopool.set_panic_mode`): reported through
    ``threading.excepthook``, never swallowed. Raises ``TypeError`` if
    ``fn`` is not callable.
    """
    check_callable(fn, "go")
    # The creator, for dumps: the first caller outside gopool's own modules,
    # kept as a code object and a line (no frame is kept alive), formatted
    # only when a dump is made.
    f = sys._getframe(1)
    while f.f_back is not None:
        filename = f.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIR) or filename.startswith(_EXAMPLES_DIR):
            break
        f = f.f_back
    me = _current_thread()
    creator = _goroutines.get(me)
    if creator is not None:
        parent = creator.number
    elif me is _main_thread():
        parent = 0
    else:
        parent = -_get_ident()
    with _registry_lock:
        n = next(_goroutine_ids)
    name = callable_name(fn)
    thread = threading.Thread(
        target=_run_goroutine,
        args=(fn, args, kwargs),
        name=f"goroutine-{n} [{name}]",
        daemon=True,
    )
    _goroutines[thread] = _Record(n, name, f.f_code, f.f_lineno, parent)
    try:
        thread.start()
    except BaseException:
        _goroutines.pop(thread, None)
        raise
    return thread


# -- parked threads --

parked: dict[Waiter, int] = {}
"""Waiters blocked in an unwatched park -> their thread's id (see the module docstring)."""

detecting = False
"""Whether deadlock detection is on: parks with no timeout go through :func:`park_watched`."""

_watch_lock = threading.Lock()
_watched: dict[int, list[Waiter]] = {}


def park_watched(w: Waiter, wait: Callable[[], object]) -> BaseException | None:
    """Park ``w`` with detection on: register, check for a deadlock, ``wait()``, unregister.

    The check may abort ``w`` (the calling thread's own wait, when it is the
    main thread and the last to park); ``wait()`` then returns at once. An
    interrupt arriving while the record is removed is held back: raised
    once it is gone if ``wait()`` raised, else returned, for the caller to
    deliver again after its completed wait.
    """
    ident = _get_ident()
    try:
        with _watch_lock:
            stack = _watched.get(ident)
            if stack is None:
                _watched[ident] = [w]
            else:
                stack.append(w)
        if panicking:
            _panic.take_in_main()
        _detect(w)
        wait()
    except BaseException:
        held = _unwatch(w, ident)
        if held is not None:
            raise held  # noqa: B904 -- a second interrupt supersedes the first
        raise
    return _unwatch(w, ident)


def _unwatch(w: Waiter, ident: int) -> BaseException | None:
    """Unregister ``w``; an interrupt arriving meanwhile is held back and returned.

    A watched entry left behind would make the check count a running thread
    as asleep, so this retries until it has taken the lock.
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


panicking = False
"""Whether a goroutine panic waits to be taken by the main thread (see :mod:`gopool._panic`)."""


def waiters_of(ident: int) -> list[Waiter]:
    """The recorded waiters of thread ``ident``, innermost first."""
    found = [w for w, i in parked.copy().items() if i == ident]
    with _watch_lock:
        found.extend(_watched.get(ident, ()))
    found.sort(key=lambda w: w.since, reverse=True)
    return found


def thread_exiting() -> None:
    """Tell the deadlock check (if on) that the calling thread will not act again."""
    if detecting:
        _detect(None)


class Snapshot(NamedTuple):
    """The registry at one moment, by thread id, for a dump."""

    waiters: dict[int, list[Waiter]]
    """Every recorded waiter of each parked thread (the innermost has the latest ``since``)."""
    goroutines: dict[int, GoroutineInfo]
    """Every live goroutine."""
    omit: set[int]
    """Threads that never act, left out of a dump: ending goroutines, watchers, helpers."""


def snapshot() -> Snapshot:
    """The registry now: parked waiters, goroutines, and the threads a dump leaves out."""
    waiters: dict[int, list[Waiter]] = {}
    for w, ident in parked.copy().items():
        waiters.setdefault(ident, []).append(w)
    with _watch_lock:
        for ident, stack in _watched.items():
            waiters.setdefault(ident, []).extend(stack)
        # By thread, not id: an ended thread's id may be a new thread's.
        omit = set(_helpers) | {t.ident for t in _exiting if t.ident is not None and t.is_alive()}
    goroutines = {t.ident: r.info() for t, r in _goroutines.copy().items() if t.ident is not None}
    return Snapshot(waiters, goroutines, omit)


@contextmanager
def helper() -> Iterator[None]:
    """Mark the calling thread, for the ``with`` block, as one that never acts (a dump printer)."""
    ident = _get_ident()
    with _watch_lock:
        _helpers.add(ident)
    try:
        yield
    finally:
        with _watch_lock:
            _helpers.discard(ident)


# -- the deadlock check --

_report: Callable[[Waiter], BaseException] | None = None
"""Builds the exception for the main thread's deadlocked waiter while detection is on."""
_exiting: set[threading.Thread] = set()
"""Threads that will not act again: goroutines whose function ended, and watchers."""
_watching: set[threading.Thread] = set()
"""Threads a watcher is waiting for, to check again when they end."""
_helpers: set[int] = set()
"""Ids of threads that never act (dump printers)."""


def _no_timers() -> int:
    return 0


def _no_timer_thread() -> threading.Thread | None:
    return None


_timers_pending: Callable[[], int] = _no_timers
_timer_thread: Callable[[], threading.Thread | None] = _no_timer_thread


def watch_timers(pending: Callable[[], int], thread: Callable[[], threading.Thread | None]) -> None:
    """Let the check see the timers: how many are pending, and the thread that fires them."""
    global _timers_pending, _timer_thread
    _timers_pending = pending
    _timer_thread = thread


def set_deadlock_report(report: Callable[[Waiter], BaseException] | None) -> bool:
    """Turn detection on (with the function that builds the report) or off (None).

    Returns whether it was on. While on, a deadlock is reported by aborting
    the main thread's blocked operation with ``report(waiter)``.
    """
    global _report, detecting
    with _watch_lock:
        previous = _report is not None
        _report = report
        detecting = report is not None
    return previous


def _detect(w: Waiter | None) -> None:
    """Check for a deadlock: ``w`` is about to park, or (None) the calling thread is ending."""
    target: Waiter | None = None
    make: Callable[[Waiter], BaseException] | None = None
    blockers: list[threading.Thread] = []
    frames: object = None
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with _watch_lock:
            make = _report
            if make is None:
                return
            if w is None:
                _prune_exiting_locked()
                _exiting.add(threading.current_thread())
            main_stack = _watched.get(threading.main_thread().ident or 0)
            if not main_stack or main_stack[-1].claimed:
                return
            found, frames = _find_deadlock_locked(main_stack[-1])
            if isinstance(found, list):
                blockers = [t for t in found if t not in _watching]
                _watching.update(blockers)
            else:
                target = found
    finally:
        if gc_was_enabled:
            gc.enable()
    del frames  # dropped outside the lock: a frame kept alive by it may run finalizers
    if target is None:
        _watch_threads(blockers)
        return
    # Fails if the main thread's wait ended meanwhile (completed, or
    # interrupted), or another check reported it first: no report then.
    target.abort(make(target))


def _find_deadlock_locked(main_waiter: Waiter) -> tuple[Waiter | list[threading.Thread], object]:
    """The main thread's waiter if deadlocked, else the threads to watch; ``_watch_lock`` held.

    An empty list means no deadlock and nothing to watch (a running
    goroutine, or a thread that cannot be joined, will check again or
    never allow a report). Also returns the frames snapshot, for the caller
    to drop outside the lock.
    """
    _prune_exiting_locked()
    main = threading.main_thread()
    if main.ident in parked.copy().values():
        # Also in a park that is not watched: one with a timeout (made by a
        # signal handler that interrupted the watched one), or one begun
        # before detection was turned on.
        return [], None
    known: set[int] = set()
    joinable: list[threading.Thread] = []
    for t in threading.enumerate():
        ident = t.ident
        if ident is None:
            return [], None  # being started by a running thread
        known.add(ident)
        if t in _exiting or ident in _helpers:
            continue
        stack = _watched.get(ident)
        if stack:
            if stack[-1].claimed:
                return [], None
            continue
        if t in _goroutines or t is main or _is_foreign(t):
            # A goroutine checks again when it parks or ends; a foreign
            # thread cannot be joined: no report while it lives.
            return [], None
        joinable.append(t)
    if joinable:
        return joinable, None
    if _timers_pending():
        sched = _timer_thread()
        return ([sched] if sched is not None and sched.ident is not None else []), None
    # Last, as it is the costliest look (and, on CPython 3.12.1, one that
    # made frequent calls crash the garbage collector): threads started
    # without threading.
    frames = sys._current_frames()
    for ident in frames:
        if ident not in known and ident not in _helpers:
            return [], frames
    return main_waiter, frames


_DUMMY_THREAD: type | tuple[()] = getattr(threading, "_DummyThread", ())
"""threading's stand-in for a thread it did not start (it has no public name)."""


def _is_foreign(t: threading.Thread) -> bool:
    """Whether ``t`` was started outside ``threading`` (it cannot be joined)."""
    return isinstance(t, _DUMMY_THREAD)


def _prune_exiting_locked() -> None:
    """Forget the threads of ``_exiting`` that have ended; ``_watch_lock`` held."""
    for t in [t for t in _exiting if t.ident is not None and not t.is_alive()]:
        _exiting.discard(t)


def _watch_threads(threads: list[threading.Thread]) -> None:
    """Start a watcher per thread: when it ends, check for a deadlock again."""
    for t in threads:
        watcher = threading.Thread(
            target=_await_end, args=(t,), name=f"gopool-deadlock-watch [{t.name}]", daemon=True
        )
        with _watch_lock:
            _exiting.add(watcher)
        try:
            watcher.start()
        except RuntimeError:  # at interpreter shutdown: nothing left to report to
            with _watch_lock:
                _exiting.discard(watcher)
                _watching.discard(t)


def _await_end(t: threading.Thread) -> None:
    t.join()
    with _watch_lock:
        _watching.discard(t)
    _detect(None)


def _after_fork_child() -> None:
    global _registry_lock, _watch_lock
    # Only the forking thread survives: every other thread's record is
    # stale, and a lock may have been copied held by a thread that is gone.
    _registry_lock = threading.Lock()
    _watch_lock = threading.Lock()
    me = threading.current_thread()
    for thread in [t for t in _goroutines.copy() if t is not me]:
        del _goroutines[thread]
    _watched.clear()
    parked.clear()
    _exiting.clear()
    _watching.clear()
    _helpers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_child)

from . import _panic  # noqa: E402 -- it reads this module's records
