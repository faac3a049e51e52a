"""The article's ``Job`` and ``Result``: what :class:`~gopool.pools.WorkerPool` takes and gives.

Both are frozen dataclasses: a job or result handed to another thread
cannot be changed under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Job", "Result"]


@dataclass(frozen=True)
class Job:
    """A unit of work (Go's ``type Job struct { ID int; Payload string }``)."""

    id: int
    payload: Any


@dataclass(frozen=True)
class Result:
    """The outcome of one :class:`Job` (Go's ``Result{JobID, Output, Error}``).

    ``error`` is the exception the handler raised, in which case ``output``
    is None; otherwise ``error`` is None and ``output`` is what it returned.
    """

    job_id: int
    output: Any = None
    error: BaseException | None = None
