"""gopool: Go's concurrency primitives, done right, for Python threads.

The public names, re-exported from the modules that define them. The
top-level ``after_func`` is time's (:func:`gopool.timers.after_func`);
context's is :func:`gopool.context.after_func`.
"""

from . import atomic, errgroup, semaphore, singleflight
from .chan import (
    Chan,
    ClosedChannelError,
    RecvChan,
    SendChan,
    async_select,
    default,
    go,
    nilchan,
    select,
)
from .context import (
    Canceled,
    Context,
    DeadlineExceeded,
    background,
    cause,
    todo,
    with_cancel,
    with_cancel_cause,
    with_deadline,
    with_deadline_cause,
    with_timeout,
    with_timeout_cause,
    with_value,
    without_cancel,
)
from .debug import DeadlockError, dump, install_dump_signal, set_deadlock_detection
from .pools import (
    DynamicPool,
    Job,
    Pool,
    PoolStats,
    RateLimitedPool,
    Result,
    WorkerPool,
    WorkerStats,
    heartbeat,
)
from .rate import Limiter, Reservation, Sometimes, every, inf
from .sync import Map, Once, WaitGroup, once_func, once_value, once_values
from .timers import Ticker, Timer, after, after_func, sleep, tick
from .watch import watch

__version__ = "0.1.0"

__all__ = [
    "Canceled",
    "Chan",
    "ClosedChannelError",
    "Context",
    "DeadlineExceeded",
    "DeadlockError",
    "DynamicPool",
    "Job",
    "Limiter",
    "Map",
    "Once",
    "Pool",
    "PoolStats",
    "RateLimitedPool",
    "RecvChan",
    "Reservation",
    "Result",
    "SendChan",
    "Sometimes",
    "Ticker",
    "Timer",
    "WaitGroup",
    "WorkerPool",
    "WorkerStats",
    "__version__",
    "after",
    "after_func",
    "async_select",
    "atomic",
    "background",
    "cause",
    "default",
    "dump",
    "errgroup",
    "every",
    "go",
    "heartbeat",
    "inf",
    "install_dump_signal",
    "nilchan",
    "once_func",
    "once_value",
    "once_values",
    "select",
    "semaphore",
    "set_deadlock_detection",
    "singleflight",
    "sleep",
    "tick",
    "todo",
    "watch",
    "with_cancel",
    "with_cancel_cause",
    "with_deadline",
    "with_deadline_cause",
    "with_timeout",
    "with_timeout_cause",
    "with_value",
    "without_cancel",
]
