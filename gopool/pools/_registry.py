"""Pools as the process sees them: creation hooks, a pool dropped while open, pools open at exit.

Invariants:

* ``_open`` maps each pool's core to where the pool was created, from its
  creation until it is closed, dropped, or reported at exit. It holds
  cores, never pools, so it keeps no pool alive. It is used only through
  single ``dict`` operations (set, pop, copy), atomic on every CPython
  build, and takes no lock: a finalizer may run inside any allocation,
  also one made while a lock of this module is held.
* A pool dropped while open (collected) is cancelled; if jobs were still
  queued a ``ResourceWarning`` says how many never ran.
* At interpreter exit every pool still open is cancelled, and each one that
  still had jobs queued or running is named on ``sys.stderr`` with those
  counts: its worker threads are daemons, so those jobs never finish, and
  the warning is written whatever the warnings filters say.
* A garbage collection can run a pool's finalizer in any thread, in the
  middle of any allocation: in a thread of the pool's own (which may hold
  its locks) the finalizer hands its work to a new goroutine instead.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import warnings
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._checks import check_callable
from ..chan import go
from ._worker import current

if TYPE_CHECKING:
    from ._core import Core

__all__ = ["forget", "on_new_pool", "register"]

_open: dict[Core, str] = {}  # see the module docstring
_hooks_lock = threading.Lock()
_hooks: list[Callable[[Any], object]] = []  # guarded by _hooks_lock

_PACKAGE_DIR = os.path.dirname(__file__) + os.sep


def on_new_pool(hook: Callable[[Any], object]) -> Callable[[], None]:
    """Call ``hook(pool)`` for every pool created from now on; returns a function that stops it.

    For tools that watch pools they do not create (``python -m gopool
    --live`` watches each example's pool). The hook runs in the thread that
    creates the pool, at the end of its constructor; an exception from it
    propagates to that constructor's caller.
    """
    check_callable(hook, "on_new_pool: hook")
    with _hooks_lock:
        _hooks.append(hook)

    def remove() -> None:
        with _hooks_lock:
            if hook in _hooks:
                _hooks.remove(hook)

    return remove


def register(pool: object, core: Core) -> weakref.finalize[Any, Any]:
    """Track a new pool until it is closed; run the creation hooks. Returns its finalizer."""
    site = _creation_site()
    # The workers hold the core, not the pool: a dropped pool is collected,
    # and this cancels what it would never run (and warns about it).
    finalizer = weakref.finalize(pool, _dropped, core)
    finalizer.atexit = False  # _at_exit reports it instead
    _open[core] = site
    with _hooks_lock:
        hooks = list(_hooks)
    for hook in hooks:
        hook(pool)
    return finalizer


def forget(core: Core) -> None:
    """The pool is closed: nothing to report about it any more."""
    _open.pop(core, None)


def _creation_site() -> str:
    """``file:line`` of the code that created the pool (the first frame outside this package)."""
    frame = sys._getframe(2)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _dropped(core: Core) -> None:
    """The finalizer of a pool object: warn about and cancel what will never run."""
    forget(core)
    if getattr(current, "core", None) is not None:
        # A collection can run this inside a pool's own thread, in the middle
        # of a channel operation holding a lock we are about to take: hand
        # the work to a fresh thread instead (impossible only at exit).
        try:
            go(_cancel_dropped, core)
            return
        except RuntimeError:
            pass
    _cancel_dropped(core)


def _cancel_dropped(core: Core) -> None:
    left = core.dropped()
    if left is not None and left[0]:
        n = left[0]
        warnings.warn(
            f"{core.name} was never closed: {n} queued job{_s(n)} never ran",
            ResourceWarning,
            stacklevel=2,
        )


@atexit.register
def _at_exit() -> None:
    """Cancel every pool still open, and name on stderr those that leave jobs undone."""
    for core in _open.copy():
        site = _open.pop(core, None)
        if site is None:
            continue  # closed meanwhile
        left = core.dropped()
        if left is None or left == (0, 0):
            continue
        queued, in_flight = left
        print(
            f"gopool: warning: {core.name} created at {site} was never closed: at exit "
            f"{queued} queued job{_s(queued)} never ran and {in_flight} job{_s(in_flight)} "
            f"in flight never finished (close() it, or use `with` or map())",
            file=sys.stderr,
            flush=True,
        )


def _s(n: int) -> str:
    return "" if n == 1 else "s"
