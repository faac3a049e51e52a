"""Go's ``sync.Once`` and ``sync.OnceFunc``/``OnceValue``/``OnceValues``.

Written after Go's ``src/sync/once.go`` and ``oncefunc.go``. A thread
that finds the function running publishes a
:class:`~gopool._waiter.ThreadWaiter` and parks in
:func:`~gopool._waiter.block`; no lock is held while it is parked or
while the function runs, so a blocked main thread is interrupted by
``KeyboardInterrupt`` and withdraws cleanly.

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
from typing import Any, Generic, TypeVar

from .._checks import check_callable
from .._goroutines import callable_name
from .._waiter import ThreadWaiter, WaitQueue, block, refuse_in_loop, wake_all

__all__ = ["Once", "once_func", "once_value", "once_values"]

T = TypeVar("T")
T1 = TypeVar("T1")
T2 = TypeVar("T2")
R = TypeVar("R")


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
                state = f"running waiters={self._waiters.waiting()}"
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
