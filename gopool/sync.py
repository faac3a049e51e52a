"""Go's ``sync.WaitGroup``, ``sync.Once`` and ``sync.OnceFunc``/``OnceValue``/``OnceValues``.

Written after Go's ``src/sync/waitgroup.go``, ``once.go`` and
``oncefunc.go``, with one difference of mechanism: where Go parks on a
semaphore, a blocked :meth:`WaitGroup.wait` or :meth:`Once.do` publishes a
:class:`~gopool._waiter.ThreadWaiter` and parks in :func:`~gopool._waiter.block`,
like every blocking operation of the package. No lock is held while a
thread is parked or while ``Once``'s function runs, so a blocked main thread
is interrupted by ``KeyboardInterrupt`` and withdraws cleanly.

Invariants of a :class:`WaitGroup` (each holds whenever ``_lock`` is free):

* ``_count >= 0``. An ``add`` that would make it negative raises and
  changes nothing.
* ``_waiters`` is empty whenever ``_count == 0``: the ``add`` that brings the
  counter to zero claims and removes every waiter under the lock (waking
  them after releasing it), and a ``wait`` that finds the counter at zero
  returns without publishing a waiter. So Go's "Add called concurrently
  with Wait" state (waiters parked on a zero counter) cannot arise.
* Every waiter in ``_waiters`` is unclaimed: a waiter that gives up claims
  and removes itself in one hold of the lock.

Go's other misuse panic, "WaitGroup is reused before previous Wait has
returned", has no counterpart: a waiter is completed by the ``add`` that
reaches zero, at that moment, so a new round started before it returns
cannot confuse it, and telling such a round apart would only be
opportunistic (it depends on which thread runs first).

Invariants of a :class:`Once`:

* ``_done`` goes from False to True once, and only after the function has
  returned or raised; it is never reset.
* At most one thread runs the function: the one that found ``_done`` and
  ``_runner`` both unset. ``_runner`` holds its thread id while it runs, and
  ``_waiters`` is non-empty only then; finishing claims and wakes them all.

The ``once_*`` wrappers call their function through a private :class:`Once`
and drop their reference to it when the call starts, so the function (and
whatever it captured) is not kept alive by the wrapper afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any, Generic, TypeVar

from ._checks import check_callable, check_int
from ._duration import Timeout
from ._duration import optional_seconds as _seconds
from ._goroutines import callable_name
from ._report import report
from ._sync_map import Map
from ._waiter import ThreadWaiter, Waiter, WaitQueue, block, refuse_in_loop, wake_all
from .chan import go

__all__ = ["Map", "Once", "WaitGroup", "once_func", "once_value", "once_values"]

T = TypeVar("T")
T1 = TypeVar("T1")
T2 = TypeVar("T2")
R = TypeVar("R")


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
        from ._aio import TaskWaiter, block_task

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

    def go(self, fn: Callable[..., object], /, *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` in a new goroutine counted by the group (Go 1.25).

        Adds one to the counter before the goroutine starts and calls
        :meth:`done` when ``fn`` returns or raises. An exception escaping
        ``fn`` is reported through ``threading.excepthook`` before the
        counter drops, so a :meth:`wait` that returns has seen it reported.
        Never blocks. Raises ``TypeError``, before touching the counter, if
        ``fn`` is not callable.
        """
        check_callable(fn, "sync: WaitGroup.go")
        self.add(1)

        def run() -> None:
            try:
                fn(*args, **kwargs)
            except BaseException as exc:
                report(exc)
            finally:
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
            return {"counter": self._count, "waiters": len(self._waiters)}

    def __repr__(self) -> str:
        s = self.statistics()
        return f"<WaitGroup counter={s['counter']} waiters={s['waiters']} at {id(self):#x}>"


class Once:
    """Go's ``sync.Once``: an object that performs exactly one action.

    ``do(fn)`` calls ``fn`` only on the first ``do`` of this ``Once``, even
    when several threads call it at the same time; the others block until
    that call has finished. If ``fn`` raises, the exception propagates to
    the caller that ran it, and the ``Once`` still counts as done (as Go
    treats a panic): later ``do`` calls return without calling anything.

        >>> once = Once()
        >>> once.do(lambda: print("init"))
        init
        >>> once.do(lambda: print("init"))
    """

    # _lock guards _done, _runner and _waiters.
    __slots__ = ("__weakref__", "_done", "_lock", "_runner", "_waiters")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._runner: int | None = None
        self._waiters = WaitQueue()

    def do(self, fn: Callable[[], object]) -> None:
        """Call ``fn()`` if this is the first ``do`` of this ``Once``; return once it has run.

        Blocks while another thread runs the function, without CPU cost;
        ``KeyboardInterrupt`` reaches a main thread blocked here. Raises
        whatever ``fn`` raises (to the caller that ran it only),
        ``TypeError`` if ``fn`` is not callable, and ``RuntimeError`` if
        ``fn`` calls ``do`` on the same ``Once`` from its own thread (Go
        deadlocks there).
        """
        check_callable(fn, "sync: Once.do")
        me = threading.get_ident()
        with self._lock:
            if self._done:
                return
            running = self._runner is not None
            if not running:
                self._runner = me
            elif self._runner == me:
                raise RuntimeError(
                    "sync: Once.do called from the function it is running (a deadlock in Go)"
                )
        if running:
            refuse_in_loop("Once.do")
            w = ThreadWaiter(("Once.do", self))
            block(w, self._lock, self._done_or_publish, None, None, self._waiters.withdraw)
            return
        try:
            fn()
        finally:
            with self._lock:
                self._done = True
                self._runner = None
                woken = self._waiters.complete_all(True)
            wake_all(woken)

    def _done_or_publish(self, w: ThreadWaiter, _: object) -> bool:
        """``block``'s attempt for a :meth:`do` that waits for the runner; ``_lock`` held."""
        if self._done:
            w.claim()
            return True
        self._waiters.publish(w)
        return False

    def __repr__(self) -> str:
        with self._lock:
            if self._done:
                state = "done"
            elif self._runner is None:
                state = "not done"
            else:
                state = f"running waiters={len(self._waiters)}"
        return f"<Once {state} at {id(self):#x}>"


class _OnceCall(Generic[R]):
    """The engine of the ``once_*`` wrappers: call a function once, keep its outcome.

    ``_fn`` is dropped when the call starts. ``_result`` and ``_exc`` are
    written only by the one call, inside ``_once.do``, and read only after
    ``_once.do`` has returned, so ``_once``'s lock orders them.
    """

    __slots__ = ("_exc", "_fn", "_name", "_once", "_result")

    _kind = "once"

    def __init__(self, fn: Callable[[], Any]) -> None:
        check_callable(fn, f"sync: {self._kind}")
        self._fn: Callable[[], Any] | None = fn
        self._name = callable_name(fn)
        self._once = Once()
        self._exc: BaseException | None = None
        self._result: R | None = None

    def _invoke(self, fn: Callable[[], Any]) -> R:
        """Call ``fn`` and turn what it returns into the stored result."""
        result: R = fn()
        return result

    def _run(self) -> None:
        fn, self._fn = self._fn, None
        assert fn is not None
        try:
            self._result = self._invoke(fn)
        except BaseException as exc:
            self._exc = exc
            raise  # the first caller sees the full traceback into fn
        finally:
            del fn

    def _get(self) -> R:
        self._once.do(self._run)
        exc = self._exc
        if exc is not None:
            # Raised afresh, as Go re-panics from the wrapper: dropping the
            # traceback of the first failure also lets fn's frames (and fn)
            # be collected, and keeps the traceback from growing with every
            # call.
            raise exc.with_traceback(None)
        return self._result  # type: ignore[return-value]

    def __repr__(self) -> str:
        with self._once._lock:
            done = self._once._done
        if not done:
            state = "not called"
        elif self._exc is not None:
            state = f"raised {type(self._exc).__name__}"
        else:
            state = "done"
        return f"<{self._kind}({self._name}) {state} at {id(self):#x}>"


class _OnceFunc(_OnceCall[None]):
    __slots__ = ()
    _kind = "once_func"

    def _invoke(self, fn: Callable[[], Any]) -> None:
        fn()

    def __call__(self) -> None:
        self._get()


class _OnceValue(_OnceCall[T]):
    __slots__ = ()
    _kind = "once_value"

    def __call__(self) -> T:
        return self._get()


class _OnceValues(_OnceCall[tuple[T1, T2]]):
    __slots__ = ()
    _kind = "once_values"

    def _invoke(self, fn: Callable[[], Any]) -> tuple[T1, T2]:
        first, second = fn()
        return first, second

    def __call__(self) -> tuple[T1, T2]:
        return self._get()


def once_func(fn: Callable[[], object]) -> Callable[[], None]:
    """Go's ``sync.OnceFunc``: a function that calls ``fn`` only once.

    The returned function may be called from any number of threads; the
    first call runs ``fn`` and the others block until it has returned. If
    ``fn`` raises, that call and every later one raise the same exception
    instance (the first with the traceback into ``fn``). The wrapper drops
    its reference to ``fn`` when the call starts. Raises ``TypeError`` at
    once if ``fn`` is not callable.
    """
    return _OnceFunc(fn)


def once_value(fn: Callable[[], T]) -> Callable[[], T]:
    """Go's ``sync.OnceValue``: a function that calls ``fn`` once and returns its value.

    Every call returns the value of the one call of ``fn``; concurrency,
    exceptions and errors as :func:`once_func`.

        >>> config = once_value(lambda: {"debug": True})
        >>> config() is config()
        True
    """
    return _OnceValue[T](fn)


def once_values(fn: Callable[[], tuple[T1, T2]]) -> Callable[[], tuple[T1, T2]]:
    """Go's ``sync.OnceValues``: like :func:`once_value` for a function returning two values.

    ``fn`` returns a pair; every call returns that pair as a tuple. A
    result that does not unpack into two values raises (``ValueError`` or
    ``TypeError``) on every call, as an exception of ``fn`` would.
    """
    return _OnceValues[T1, T2](fn)
