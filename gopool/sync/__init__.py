"""Go's ``sync`` package: the names of ``gopool.sync``, re-exported from one module per type.

* :mod:`~gopool.sync.waitgroup`: ``WaitGroup``;
* :mod:`~gopool.sync.once`: ``Once``, ``once_func``, ``once_value``, ``once_values``;
* :mod:`~gopool.sync.mutex`: ``Locker``, ``Mutex``;
* :mod:`~gopool.sync.rwmutex`: ``RWMutex``;
* :mod:`~gopool.sync.cond`: ``Cond``;
* :mod:`gopool._sync_map`: ``Map``.

Go's ``sync.Pool`` (an object cache) is left out: the name is the worker
pool's here.
"""

from .._sync_map import Map
from .cond import Cond
from .mutex import Locker, Mutex
from .once import Once, once_func, once_value, once_values
from .rwmutex import RWMutex
from .waitgroup import WaitGroup

__all__ = [
    "Cond",
    "Locker",
    "Map",
    "Mutex",
    "Once",
    "RWMutex",
    "WaitGroup",
    "once_func",
    "once_value",
    "once_values",
]
