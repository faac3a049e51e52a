"""What every benchmark prints about where it ran: the CPU, and which gopool."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def gopool_state(measured: Iterable[str] = ()) -> str:
    """Which gopool ran: its path, git commit, and a digest of the ``measured`` modules
    (files or folders of the package, such as ``"chan.py"`` or ``"pools"``)."""
    import gopool

    package = Path(gopool.__file__).resolve().parent
    state = f"{package}"
    names = list(measured)
    if names:
        h = hashlib.sha256()
        for name in names:
            path = package / name
            for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
                h.update(file.read_bytes())
        label = "/".join(n.removesuffix(".py") for n in names)
        state += f", {label} sha256 {h.hexdigest()[:12]}"
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=package,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "."],
            cwd=package,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return state + ", not in a git work tree"
    return state + f", commit {head}" + (" with uncommitted changes" if dirty else "")


def python_build() -> str:
    """The interpreter, and whether its GIL is off (a free-threaded build)."""
    name = f"{platform.python_implementation()} {platform.python_version()}"
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        return name
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return f"{name} free-threaded, GIL {'on' if gil else 'off'}"


def machine(measured: Iterable[str] = ()) -> dict[str, Any]:
    """Where a benchmark ran: platform, Python, CPUs, load, and which gopool (see gopool_state)."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "platform": platform.platform(),
        "python": python_build(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "cpu_model": cpu_model(),
        "switch_interval_s": sys.getswitchinterval(),
        "load_average_at_start": load,
        "gopool": gopool_state(measured),
    }
