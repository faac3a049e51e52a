"""``map()``: feed a pool from a goroutine, yield its results, and close it.

Invariants:

* The feeder pulls a job from the iterable only when it can submit it (and,
  ordered, only while the reorder window has room), so an endless iterable
  runs in bounded memory.
* The feeder closes the pool's intake when it stops, for whatever reason,
  and only then closes ``fed``: so once ``results()`` is closed, or once
  ``fed`` is, the feeder submits nothing more.
* ``map()``'s iterator does not finish, normally or not, before the feeder
  has stopped (it waits on ``fed``): leaving ``map()`` leaves no feeder
  running, and the pool's counts do not move after it. A feeder inside
  ``next(jobs)`` stops as soon as that returns.
* ``failure`` is written by the feeder before it closes ``fed`` and read by
  the iterator after it has seen ``fed`` closed: the channel orders them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..chan import Chan, ClosedChannelError, go
from ._worker import FAILED, Tagged, current

if TYPE_CHECKING:
    from ._core import Core

__all__ = ["map_results"]


def map_results(
    core: Core,
    it: Iterator[Any],
    ordered: bool,
    close: Callable[[], None],
    abandon: Callable[[], None],
) -> Iterator[Any]:
    """The iterator of ``pool.map(jobs)``: see :meth:`~gopool.pools._base.PoolBase.map`.

    ``close`` is the pool's ``close()`` (it raises the group of failures);
    ``abandon`` cancels what is left and waits for the running jobs.
    """
    to_spawn = core.begin_map()
    window: Chan[None] | None = None
    if ordered:
        window = Chan(2 * core.jobs.cap + core.initial_workers + 16)
    failure: list[BaseException] = []
    fed: Chan[None] = Chan()
    # The feeder first: it fills the buffer while the workers are starting,
    # and each worker starts working as soon as it is up.
    try:
        go(_feed, core, it, window, failure, fed)
    finally:
        core.spawn(to_spawn)

    finished = False
    try:
        if window is None:
            yield from core.results
        else:
            yield from _in_order(core.results, window)
        finished = True
    finally:
        if window is not None:
            window.close()  # a feeder waiting for room in the window stops
        if not finished:
            abandon()
        fed.recv()
    feed_error = failure[0] if failure else None
    try:
        close()
    except BaseExceptionGroup:
        if feed_error is not None:
            raise feed_error  # noqa: B904 - the group stays attached as its context
        raise
    if feed_error is not None:
        raise feed_error


def _in_order(results: Chan[Any], window: Chan[None]) -> Iterator[Any]:
    """The results of an ordered map, in input order (a failed job's slot yields nothing)."""
    pending: dict[int, Any] = {}
    next_index = 0
    for item in results:
        if type(item) is not Tagged:
            yield item  # submitted with submit(), not by this map()
            continue
        pending[item.index] = item.value
        while next_index in pending:
            value = pending.pop(next_index)
            next_index += 1
            window.recv()  # one more job may be fed
            if value is not FAILED:
                yield value
    # Gaps left are jobs cancelled before they delivered.
    for index in sorted(pending):
        value = pending[index]
        if value is not FAILED:
            yield value


def _feed(
    core: Core,
    it: Iterator[Any],
    window: Chan[None] | None,
    failure: list[BaseException],
    fed: Chan[None],
) -> None:
    """``map()``'s feeder goroutine: pull a job only when it can be submitted; close intake."""
    current.core = core
    check_job = core.check_job
    put = core.intake.put
    index = 0
    try:
        while True:
            try:
                job = next(it)
                if check_job is not None:
                    check_job(job)
            except StopIteration:
                return
            except BaseException as exc:
                failure.append(exc)
                return
            tag: int | None = None
            if window is not None:
                try:
                    window.send(None)
                except ClosedChannelError:
                    return  # the map() ended
                tag = index
                index += 1
            if put(job, tag) is not None:
                return  # closed or cancelled: nothing more is accepted
    finally:
        current.core = None
        try:
            core.close_intake()
        finally:
            fed.close()
