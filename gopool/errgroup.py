"""Go's ``golang.org/x/sync/errgroup``: goroutines working on subtasks of one task.

Written after ``errgroup/errgroup.go``: a :class:`~gopool.sync.WaitGroup`
counts the goroutines, an optional semaphore channel (a
:class:`~gopool.chan.Chan` of capacity ``limit``) bounds how many run at
once, and the first failure is kept for :meth:`Group.wait` and cancels the
context of :func:`with_context`.

Errors: a Go function reports failure by returning an error; here a
function fails by raising. An ``Exception`` is the goroutine's error. A
``BaseException`` that is not an ``Exception`` (``KeyboardInterrupt``,
``SystemExit``, ...) is Python's counterpart of a panic. Go's errgroup
does not recover panics (propagating them through ``Wait`` was added in
2025 and reverted in June 2025, golang/go#53757 and #74275, because a
panic surfacing only at ``Wait`` stays hidden until then), so a panic ends
a Go program at once. A
Python thread cannot end the program, so here the panic is reported at
once through ``threading.excepthook`` (as any exception escaping a
goroutine is), cancels the group's context, and is raised again by
:meth:`Group.wait`: the group never looks successful after one.

Invariants of a :class:`Group` (each holds whenever ``_lock`` is free):

* ``_err`` is the first error recorded and ``_panic`` the first panic; each
  is set at most once, before the goroutine that raised it is counted
  done, so a :meth:`~Group.wait` that returns sees it.
* The context of :func:`with_context` is cancelled right after the first
  failure is recorded, with that exception as its cause, and at the
  latest when :meth:`~Group.wait` returns (cause: the first error, or
  :class:`~gopool.context.Canceled` when there was none).
* A goroutine started under a limit holds one slot of the semaphore
  channel it was started under, from before it starts until after its
  outcome is recorded; so at most ``limit`` goroutines of the group run at
  once, and changing the limit never makes a goroutine give its slot back
  to the wrong channel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, ParamSpec

from ._checks import check_callable, check_int
from ._goroutines import callable_name
from ._report import report
from .chan import Chan, default, go, select
from .context import Context, with_cancel_cause
from .sync import WaitGroup

__all__ = ["Group", "with_context"]

P = ParamSpec("P")


class Group:
    """Go's ``errgroup.Group``: run functions in goroutines, wait, get the first error.

    A new ``Group()`` has no limit and no context (Go's zero ``Group``);
    :func:`with_context` makes one whose context is cancelled on the first
    error. Every method is thread-safe.

        >>> g = Group()
        >>> results = [0] * 3
        >>> def square(i: int) -> None:
        ...     results[i] = i * i
        >>> for i in range(3):
        ...     g.go(square, i)
        >>> g.wait()
        >>> results
        [0, 1, 4]
    """

    # _lock guards _sem, _err, _err_tb, _panic and _panic_tb; _wg and
    # _cancel have locks of their own or never change.
    __slots__ = (
        "__weakref__",
        "_cancel",
        "_err",
        "_err_tb",
        "_lock",
        "_panic",
        "_panic_tb",
        "_sem",
        "_wg",
    )

    def __init__(self) -> None:
        self._cancel: Callable[[BaseException | None], None] | None = None
        self._wg = WaitGroup()
        self._sem: Chan[None] | None = None
        self._lock = threading.Lock()
        self._err: Exception | None = None
        self._err_tb: TracebackType | None = None
        self._panic: BaseException | None = None
        self._panic_tb: TracebackType | None = None

    def go(self, fn: Callable[P, object], /, *args: P.args, **kwargs: P.kwargs) -> None:
        """Run ``fn(*args, **kwargs)`` in a new goroutine of the group.

        Blocks while the group has ``limit`` goroutines running (see
        :meth:`set_limit`), then starts the goroutine and returns. If
        ``fn`` raises, the first such exception is kept for :meth:`wait`
        and cancels the group's context; a normal return is success
        (whatever the value). Costs no CPU while blocked;
        ``KeyboardInterrupt`` reaches a main thread blocked here, and
        nothing is started then. Raises ``TypeError``, starting nothing,
        if ``fn`` is not callable.
        """
        check_callable(fn, "errgroup: Group.go")
        with self._lock:
            sem = self._sem
        if sem is not None:
            sem.send(None)
        self._start(sem, fn, args, kwargs)

    def try_go(self, fn: Callable[P, object], /, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Start ``fn(*args, **kwargs)`` as :meth:`go` does, only if under the limit now.

        Returns True if the goroutine was started, False (starting
        nothing) if the group already runs ``limit`` goroutines. Never
        blocks. Raises ``TypeError`` if ``fn`` is not callable.
        """
        check_callable(fn, "errgroup: Group.try_go")
        with self._lock:
            sem = self._sem
        # As in Go, this may take a slot ahead of a go() already blocked on it.
        if sem is not None and select((sem.send, None), default)[0] != 0:
            return False
        self._start(sem, fn, args, kwargs)
        return True

    def set_limit(self, n: int) -> None:
        """Allow at most ``n`` goroutines of the group to run at once; negative: no limit.

        Later :meth:`go` calls block while the limit is reached, and
        :meth:`try_go` calls return False. ``n == 0`` blocks every
        :meth:`go` (forever) and fails every :meth:`try_go`. Never blocks.
        Raises ``RuntimeError("errgroup: modify limit while N goroutines in
        the group are still active")`` if goroutines are running (Go
        panics), except for a negative ``n``, which Go always accepts;
        ``TypeError`` if ``n`` is not an ``int``.
        """
        check_int(n, "errgroup: limit")
        with self._lock:
            if n < 0:
                self._sem = None
                return
            active = self._active()
            if active:
                raise RuntimeError(
                    f"errgroup: modify limit while {active} goroutines in the group "
                    "are still active"
                )
            self._sem = Chan(n)

    def wait(self) -> None:
        """Block until every goroutine of the group has finished; raise the first failure.

        Returns None if no goroutine raised. Otherwise raises the first
        exception a goroutine raised (the same object, with its traceback
        into the goroutine), a panic (a ``BaseException`` that is not an
        ``Exception``) taking precedence over an error. Cancels the
        group's context before returning or raising, with the first
        error as its cause. May be called again, and raises the same again.

        Costs no CPU while blocked. ``KeyboardInterrupt`` reaches a main
        thread blocked here; the group's context is then cancelled with it
        as the cause, so that goroutines watching the context stop, and it
        propagates without waiting for them.
        """
        try:
            self._wg.wait()
        except BaseException as exc:
            if self._cancel is not None:
                self._cancel(exc)
            raise
        with self._lock:
            err, err_tb = self._err, self._err_tb
            panic, panic_tb = self._panic, self._panic_tb
        if self._cancel is not None:
            self._cancel(err)
        if panic is not None:
            # Raised from its own traceback every time, so repeated waits
            # do not keep extending it.
            raise panic.with_traceback(panic_tb)
        if err is not None:
            raise err.with_traceback(err_tb)

    # -- goroutines --

    def _start(
        self,
        sem: Chan[None] | None,
        fn: Callable[..., object],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        """Start ``fn`` as a goroutine of the group; its slot of ``sem`` is already taken."""
        self._wg.add(1)

        def run() -> None:
            try:
                fn(*args, **kwargs)
            except Exception as exc:
                self._fail(exc, is_panic=False)
            except BaseException as exc:
                report(exc)
                self._fail(exc, is_panic=True)
            finally:
                self._done(sem)

        # The goroutine's thread is named after fn, not after this wrapper.
        run.__qualname__ = callable_name(fn)
        try:
            go(run)
        except BaseException:
            self._done(sem)  # never started: it cannot give its slot back itself
            raise

    def _done(self, sem: Chan[None] | None) -> None:
        if sem is not None:
            sem.recv()
        self._wg.done()

    def _fail(self, exc: BaseException, *, is_panic: bool) -> None:
        """Record a goroutine's exception; the first failure cancels the context."""
        with self._lock:
            first = self._err is None and self._panic is None
            if is_panic:
                if self._panic is None:
                    self._panic, self._panic_tb = exc, exc.__traceback__
            elif self._err is None:
                assert isinstance(exc, Exception)
                self._err, self._err_tb = exc, exc.__traceback__
        if first and self._cancel is not None:
            self._cancel(exc)

    # -- introspection --

    def _active(self) -> int:
        return self._wg.statistics()["counter"]

    def statistics(self) -> dict[str, Any]:
        """A snapshot: goroutines running, the limit (None if none), the failure kept (or None)."""
        with self._lock:
            sem = self._sem
            failure = self._panic if self._panic is not None else self._err
        return {
            "active": self._active(),
            "limit": None if sem is None else sem.cap,
            "error": failure,
        }

    def __repr__(self) -> str:
        s = self.statistics()
        failure = s["error"]
        error = "None" if failure is None else type(failure).__name__
        return f"<Group active={s['active']} limit={s['limit']} error={error} at {id(self):#x}>"


def with_context(ctx: Context) -> tuple[Group, Context]:
    """A new :class:`Group` and a context derived from ``ctx`` that the group cancels.

    The derived context is cancelled the first time a goroutine of the
    group raises (with that exception as its :func:`~gopool.context.cause`)
    or the first time :meth:`Group.wait` returns, whichever comes first.
    Raises ``TypeError`` if ``ctx`` is None or not a context.
    """
    derived, cancel = with_cancel_cause(ctx)
    g = Group()
    g._cancel = cancel
    return g, derived
