"""The demo, ``python -m gopool``: all six programs, one by name, --help, --version,
--fast, a bad name, Ctrl-C, and the demo from a regular (non-editable) install, run
outside the checkout."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from test_examples import CHECKS, ROOT, checkout_env

import gopool
from gopool import demo
from gopool._examples import FAST, clock

pytestmark = pytest.mark.timeout(120)

HEADING = re.compile(r"== (\w+): .+")
SOURCE = re.compile(r"== (\w+): [^(]+ \((gopool/_examples/\w+\.py), (--fast|watched live)\)")
"""A heading names the file the example's code is in, in any install."""


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
    assert_headings_name_their_source(proc.stdout, ROOT)


def assert_headings_name_their_source(stdout: str, root: Path) -> None:
    """Every heading names its example's source file, which exists under ``root``."""
    headings = [line for line in stdout.splitlines() if HEADING.fullmatch(line)]
    assert headings
    for line in headings:
        m = SOURCE.fullmatch(line)
        assert m, f"heading {line!r} does not name its source"
        assert m.group(2) == f"gopool/_examples/{m.group(1)}.py"
        assert (root / m.group(2)).is_file(), f"{m.group(2)} is not in {root}"


def test_version() -> None:
    proc = run_demo("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"gopool {gopool.__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+", gopool.__version__)


def test_fast_is_accepted_and_speeds_up_live(capsys: pytest.CaptureFixture[str]) -> None:
    """``--fast`` is the default; with ``--live`` it makes the live run fast too."""
    proc = run_demo("--fast", "generic")
    assert proc.returncode == 0, proc.stderr
    CHECKS["generic"](sections(proc.stdout)["generic"])
    sigpipe = signal.getsignal(signal.SIGPIPE) if hasattr(signal, "SIGPIPE") else None
    try:
        assert demo.main(["--live", "--fast", "generic"]) == 0
        assert clock.second == FAST
        assert demo.main(["--live", "struct_pool"]) == 0
        assert clock.second == 1.0
    finally:
        clock.second = 1.0
    out = capsys.readouterr().out
    assert "Pool closed: completed 5/5" in out and "WorkerPool closed: completed 10/10" in out
    if sigpipe is not None:  # main() in-process changes no process-wide setting
        assert signal.getsignal(signal.SIGPIPE) == sigpipe


@pytest.mark.skipif(not hasattr(signal, "SIGPIPE"), reason="needs SIGPIPE")
@pytest.mark.parametrize(
    "command", [["-m", "gopool"], [str(ROOT / "examples" / "dynamic.py")]], ids=["demo", "example"]
)
def test_a_reader_that_goes_away_ends_it_quietly(command: list[str]) -> None:
    """``python -m gopool | head -1``: no BrokenPipeError traceback, as a Go program would."""
    with subprocess.Popen(
        [sys.executable, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=checkout_env(),
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline()
        proc.stdout.close()  # as head does after its line
        err = proc.stderr.read()
        status = proc.wait(timeout=60)
    assert err == b""
    assert status in (-signal.SIGPIPE, 0), status


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "gopool"],
        ["-m", "gopool", "dynamic", "--live"],
        [str(ROOT / "examples" / "basic.py")],
    ],
    ids=["demo", "demo-live", "example"],
)
def test_ctrl_c_ends_quietly_with_status_130(command: list[str]) -> None:
    """SIGINT (Ctrl-C) while the examples run: no traceback, nothing on stderr, exit 130."""
    with subprocess.Popen(
        [sys.executable, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=checkout_env(),
    ) as proc:
        try:
            assert proc.stdout is not None
            seen: list[str] = []
            while not re.match(r"Worker \d+ processing|Result: ", line := proc.stdout.readline()):
                assert line and len(seen) < 50, f"the examples never started: {seen}"
                seen.append(line)
            os.kill(proc.pid, signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        except BaseException:
            proc.kill()  # the with block then waits for it
            raise
    assert (proc.returncode, err) == (130, ""), (proc.returncode, err)
    assert "Traceback" not in out and "KeyboardInterrupt" not in out


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
        r"|No matching distribution found for hatchling",
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
    # The heading names a file this install has (a wheel has no examples/ folder).
    assert_headings_name_their_source(proc.stdout, Path(where.stdout.strip()).parent.parent)
