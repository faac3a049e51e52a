"""What ``python -m gopool`` shows: the article's six worker pools, running.

Runs the six programs of "How to Implement Worker Pools in Go" (by
nawazdhandala), ported onto gopool, in ``--fast`` mode, one after another
under a heading each, or only the ones named on the command line. Their
code is in ``gopool/_examples/``; ``examples/*.py`` in the repository run
them one at a time.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Sequence

from ._examples import EXAMPLES, FAST, clock, exit_on_closed_pipe, fmt, main_of

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The demo's command line. Options are added here (one ``add_argument`` each)."""
    listing = "\n".join(f"  {name:<16}{title}" for name, title in EXAMPLES.items())
    parser = argparse.ArgumentParser(
        prog="python -m gopool",
        description=textwrap.fill(
            'Run the six worker pools of the article "How to Implement Worker Pools in Go" '
            f"(by nawazdhandala), ported onto gopool, with every duration scaled by {FAST}."
        ),
        epilog=f"examples (all of them when none is named):\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "examples",
        nargs="*",
        metavar="EXAMPLE",
        help="the examples to run, by name (listed below)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return the exit status (0). ``SystemExit(2)`` for a bad command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = [name for name in args.examples if name not in EXAMPLES]
    if unknown:
        parser.error(
            f"no example named {', '.join(map(repr, unknown))}; choose from {', '.join(EXAMPLES)}"
        )
    names = args.examples or list(EXAMPLES)
    exit_on_closed_pipe()
    clock.second = FAST
    for i, name in enumerate(names):
        fmt.printf(
            "%s== %s: %s (examples/%s.py --fast)\n", "\n" if i else "", name, EXAMPLES[name], name
        )
        main_of(name)()
    return 0
