"""gopool: Go's concurrency primitives, done right, for Python threads.

The public names, re-exported from the modules that define them.
"""

from .chan import (
    Chan,
    ClosedChannelError,
    RecvChan,
    SendChan,
    default,
    go,
    nilchan,
    select,
)

__version__ = "0.1.0"

__all__ = [
    "Chan",
    "ClosedChannelError",
    "RecvChan",
    "SendChan",
    "__version__",
    "default",
    "go",
    "nilchan",
    "select",
]
