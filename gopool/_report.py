"""Reporting an exception that no caller can receive, as an uncaught thread exception is.

A goroutine's function, a timer callback or a ``WaitGroup.go`` function
that raises has nobody to raise to: the exception goes to
``threading.excepthook``, exactly as ``threading.Thread`` reports one
escaping ``run()``, including its fallback when the hook itself fails. One
function, so every such exception is reported the same way and none is
dropped.
"""

from __future__ import annotations

import sys
import threading

__all__ = ["report"]


def report(exc: BaseException) -> None:
    """Hand ``exc`` to ``threading.excepthook`` for the calling thread; never raises.

    If the hook itself fails, its failure is printed to stderr through
    ``sys.excepthook``, as ``threading`` does.
    """
    args = threading.ExceptHookArgs((type(exc), exc, exc.__traceback__, threading.current_thread()))
    try:
        threading.excepthook(args)
    except Exception:
        print("Exception in threading.excepthook:", file=sys.stderr, flush=True)
        sys.excepthook(*sys.exc_info())
    finally:
        del args
