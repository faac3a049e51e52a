"""The harness every benchmark script runs on: interleaved repetitions, medians, the
report's header, markdown tables and the JSON dump.

What it keeps, for every script alike:

* Every figure of a report and its anchor come from one process and one run.
  :func:`run_interleaved` runs repetition 1 of every case, then repetition 2,
  and so on, in an order that changes from one repetition to the next, so a
  slow spell on a shared machine spreads over all the cases instead of
  sinking one; a report shows medians.
* Every case runs after a ``gc.collect()``, so the garbage of one case is not
  collected on the clock of the next, and under a watchdog: a case stuck for
  ``watchdog`` seconds dumps every thread's stack and ends the process.
* The header says where and how a report was made: the command, the machine
  and its load at start and end, the Python (free-threaded or not), which
  gopool ran (``_machine.py``), and the method.

    import _harness as h   # from this folder, as _machine
    raw = h.run_interleaved({"ours": ours, "anchor": anchor}, reps=5)
    print("\n".join([*h.header(title, h.command_line(), info, method), "", *h.table(...)]))
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import json
import os
import shlex
import statistics
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

R = TypeVar("R")

Metrics = dict[str, float]
"""What one run of a case measured: seconds, items, CPU seconds, ... by name."""

WATCHDOG_SECONDS = 300.0


def run_interleaved(
    cases: Mapping[str, Callable[[], R]],
    reps: int,
    *,
    order: Literal["reverse", "rotate"] = "reverse",
    progress: bool = True,
    watchdog: float | None = WATCHDOG_SECONDS,
    before: Callable[[], None] | None = None,
    after: Callable[[int, str], None] | None = None,
) -> dict[str, list[R]]:
    """Run every case ``reps`` times, interleaved; each case's results in run order.

    ``order="reverse"`` runs every other repetition backwards; ``"rotate"``
    starts each repetition one case further on. Before each run:
    ``gc.collect()``, then ``before()``; after it, ``after(rep, key)`` (rep
    counted from 0). Progress goes to stderr.
    """
    keys = list(cases)
    out: dict[str, list[R]] = {key: [] for key in keys}
    for rep in range(reps):
        if order == "reverse":
            this = keys if rep % 2 == 0 else keys[::-1]
        else:
            shift = rep % len(keys)
            this = keys[shift:] + keys[:shift]
        for key in this:
            if progress:
                print(f"  rep {rep + 1}/{reps}: {key}", file=sys.stderr, flush=True)
            gc.collect()
            if before is not None:
                before()
            if watchdog is not None:
                faulthandler.dump_traceback_later(watchdog, exit=True)
            try:
                out[key].append(cases[key]())
            finally:
                if watchdog is not None:
                    faulthandler.cancel_dump_traceback_later()
            if after is not None:
                after(rep, key)
    return out


# -- summaries --


def median(values: Iterable[float]) -> float:
    return statistics.median(values)


def half_range(values: Sequence[float]) -> float:
    """Half the min-max range: the ``±`` of a median."""
    return (max(values) - min(values)) / 2


def relative_spread(values: Sequence[float]) -> float:
    """Half the min-max range relative to the median (0 for a zero median)."""
    med = statistics.median(values)
    return half_range(values) / med if med else 0.0


def metric(raw: Mapping[str, list[Metrics]], key: str, name: str = "seconds") -> list[float]:
    """One metric of every run of case ``key``."""
    return [m[name] for m in raw[key]]


def median_of(raw: Mapping[str, list[Metrics]], key: str, name: str = "seconds") -> float:
    """The median of one metric over the runs of case ``key``."""
    return statistics.median(metric(raw, key, name))


def spread_of(raw: Mapping[str, list[Metrics]], key: str, name: str = "seconds") -> float:
    """Half the min-max range of one metric of case ``key``, relative to its median."""
    return relative_spread(metric(raw, key, name))


# -- the report --


def command_line() -> str:
    return shlex.join([sys.executable, *sys.argv])


def load_average() -> tuple[float, float, float] | None:
    return os.getloadavg() if hasattr(os, "getloadavg") else None


def header(title: str, command: str, info: Mapping[str, Any], method: Sequence[str]) -> list[str]:
    """The lines above a report's table: title, command, machine, Python, gopool, method.

    ``info`` is :func:`_machine.machine`'s dict, with ``load_average_at_end``
    added once the run is over.
    """
    load = info.get("load_average_at_start")
    end = info.get("load_average_at_end")
    lines = [
        f"## {title}",
        "",
        f"- command: `{command}`",
        f"- machine: {info['platform']}, {info['cpu_model']}, {info['cpu_count']} CPUs"
        f" ({info['cpus_usable']} usable)"
        + (f", load average {load[0]:.2f} at start" if load else "")
        + (f", {end[0]:.2f} at end" if end else ""),
        f"- python: {info['python']}, switch interval {info['switch_interval_s'] * 1e3:g} ms",
        f"- gopool: {info['gopool']}",
    ]
    lines += [f"- {line}" for line in method]
    return lines


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numbers: bool = False,
    right: Sequence[bool] = (),
) -> list[str]:
    """A markdown table. ``numbers``: every column but the first is right-aligned;
    else ``right[i]`` right-aligns column ``i``."""
    if numbers:
        right = [False] + [True] * (len(columns) - 1)
    align = [("---:" if i < len(right) and right[i] else "---") for i in range(len(columns))]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


ROW_COLUMNS = ("benchmark", "gopool", "anchor (same run)", "ratio", "target", "met")


def rows_table(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The table of gopool against its anchors, one row dict per line (see ROW_COLUMNS)."""
    keys = ("benchmark", "gopool", "anchor", "ratio", "target", "met")
    return table(ROW_COLUMNS, ([r[k] for k in keys] for r in rows))


def add_run_arguments(parser: argparse.ArgumentParser, quick: str) -> None:
    """``--quick`` (what it does: ``quick``) and ``--reps`` (alias ``--repeat``)."""
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument(
        "--reps", "--repeat", type=int, help="repetitions (default 5, or 3 with --quick)"
    )


def reps_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """The repetitions asked for: ``--reps``, else 5, or 3 with ``--quick``."""
    if args.reps is None:
        return 3 if args.quick else 5
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return int(args.reps)


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help="write raw data and rows as JSON to PATH, or to stdout instead of the table",
    )


def emit(text: str, report: Mapping[str, Any], json_to: str | None) -> None:
    """Print ``text``; with ``--json PATH`` also write ``report`` there, with ``--json``
    alone print the report as JSON instead of ``text``."""
    if json_to == "-":
        json.dump(report, sys.stdout, indent=2)
        print()
        return
    print(text)
    if json_to:
        with open(json_to, "w") as f:
            json.dump(report, f, indent=2)
