"""The demo: ``python -m gopool`` (see :mod:`gopool.demo`)."""

from __future__ import annotations

from ._examples import exit_on_closed_pipe, exit_with
from .demo import main

if __name__ == "__main__":
    exit_on_closed_pipe()
    exit_with(main())
