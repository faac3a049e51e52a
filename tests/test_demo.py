"""The demo, ``python -m gopool``: all six programs, one by name, --help, a bad name,
and the demo from a regular (non-editable) install, run outside the checkout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from test_examples import CHECKS, ROOT, checkout_env

pytestmark = pytest.mark.timeout(120)

HEADING = re.compile(r"== (\w+): .+")


def run_demo(
    *args: str, cwd: Path = ROOT, python: str = sys.executable, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-m", "gopool", *args],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=cwd,
        env=checkout_env() if env is None else env,
    )


def sections(stdout: str) -> dict[str, list[str]]:
    """The demo's output split at its headings: example name -> its lines."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in stdout.splitlines():
        if m := HEADING.fullmatch(line):
            current = out.setdefault(m.group(1), [])
        elif current is None:
            pytest.fail(f"line {line!r} before the first heading")
        else:
            current.append(line)
    for lines in out.values():
        if lines and lines[-1] == "":
            lines.pop()  # the blank line that separates one section from the next
    return out


def test_demo_runs_all_six_in_order() -> None:
    """``python -m gopool`` runs the six examples one after another, a heading each, exit 0."""
    proc = run_demo()
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    found = sections(proc.stdout)
    assert list(found) == list(CHECKS)
    for name, lines in found.items():
        CHECKS[name](lines)


def test_demo_runs_one_by_name() -> None:
    """``python -m gopool dynamic`` runs that example only."""
    proc = run_demo("dynamic")
    assert proc.returncode == 0, proc.stderr
    found = sections(proc.stdout)
    assert list(found) == ["dynamic"]
    CHECKS["dynamic"](found["dynamic"])


def test_demo_help_lists_the_examples() -> None:
    proc = run_demo("--help")
    assert proc.returncode == 0, proc.stderr
    for name in CHECKS:
        assert re.search(rf"^\s+{name}\s+\S", proc.stdout, re.M), f"{name} not listed"


def test_demo_unknown_name_fails_clearly() -> None:
    proc = run_demo("basic", "nosuch")
    assert proc.returncode == 2
    assert proc.stdout == "", "nothing runs when a name is wrong"
    assert "no example named 'nosuch'" in proc.stderr
    assert "basic" in proc.stderr and "rate_limited" in proc.stderr


def _copy_checkout(dest: Path) -> Path:
    """The project's files as a fresh clone has them (no build leftovers, no caches)."""
    src = dest / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".venv*"
        ),
    )
    return src


@pytest.mark.timeout(600)
def test_demo_from_a_regular_install(tmp_path: Path) -> None:
    """``pip install <project>`` (not editable) into a fresh venv; the demo runs from elsewhere."""
    src = _copy_checkout(tmp_path)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True, symlinks=os.name != "nt")
    python = str(env_dir / ("Scripts" if os.name == "nt" else "bin") / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(src)],
        capture_output=True,
        text=True,
        timeout=500,
    )
    if install.returncode != 0 and re.search(
        r"NewConnectionError|Network is unreachable|Temporary failure in name resolution"
        r"|No matching distribution found for setuptools",
        install.stderr,
    ):
        pytest.skip(f"pip cannot reach a package index: {install.stderr.strip()[-300:]}")
    assert install.returncode == 0, install.stderr
    shutil.rmtree(src)  # nothing may come from the checkout's copy any more

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    where = subprocess.run(
        [python, "-c", "import gopool; print(gopool.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=elsewhere,
        env=env,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(env_dir)

    proc = run_demo("basic", cwd=elsewhere, python=python, env=env)
    assert proc.returncode == 0, proc.stderr
    found = sections(proc.stdout)
    assert list(found) == ["basic"]
    CHECKS["basic"](found["basic"])
