"""What one kind of pool changes in the machinery every pool shares.

A pool class describes its difference from the plain ``Pool`` with one
:class:`Variant`, which :class:`~gopool.pools._base.PoolBase` hands to the
pool's core: so the core, the worker loop and the submit side are written
once, and steered by these values, chosen once per pool. A variant is
frozen: it cannot change under a running pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..context import Context

__all__ = ["Variant"]


@dataclass(frozen=True, slots=True)
class Variant:
    """What one kind of pool changes in the machinery every pool shares; by default, nothing.

    ``initial_workers``: how many workers ``start()`` starts (None: all of
    them); given, the pool's workers can also be added and removed at
    runtime (``DynamicPool``). ``wrap_result(job, output)`` and
    ``wrap_error(job, exc)``: what goes into ``results()`` for a job (with
    ``wrap_error``, a failure is delivered rather than recorded for
    ``close()``). ``before_job(ctx)``: what a worker waits for before each
    job (raises if the context ends first). ``check_job(job)``: raises for a
    job the pool does not take, before it is queued.
    """

    initial_workers: int | None = None
    wrap_result: Callable[[Any, Any], Any] | None = None
    wrap_error: Callable[[Any, BaseException], Any] | None = None
    before_job: Callable[[Context], object] | None = None
    check_job: Callable[[Any], object] | None = None
