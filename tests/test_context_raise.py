"""``Context.raise_if_done()``: the typed form of Go's ``return ctx.Err()``.

Not a port: Go returns the error; Python raises it, and ``raise ctx.err()``
does not type-check because ``err()`` may be None. The last test runs
``mypy --strict`` on the idiom the README shows.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gopool.context import (
    Canceled,
    Context,
    DeadlineExceeded,
    background,
    with_cancel,
    with_deadline,
    with_value,
    without_cancel,
)

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent


def test_returns_none_while_live() -> None:
    ctx, cancel = with_cancel(background())
    assert ctx.raise_if_done() is None
    assert background().raise_if_done() is None
    cancel()


def test_raises_the_same_instance_as_err() -> None:
    ctx, cancel = with_cancel(background())
    child = with_value(ctx, "k", 1)
    cancel()
    for c in (ctx, child):
        with pytest.raises(Canceled) as caught:
            c.raise_if_done()
        assert caught.value is c.err() is ctx.err()
    assert without_cancel(ctx).raise_if_done() is None


def test_raises_deadline_exceeded_once_expired() -> None:
    ctx, cancel = with_deadline(background(), 0.0)  # a deadline in the past: done at once
    try:
        with pytest.raises(DeadlineExceeded) as caught:
            ctx.raise_if_done()
        assert caught.value is ctx.err()
        assert isinstance(caught.value, TimeoutError)
    finally:
        cancel()


def test_works_on_a_custom_context() -> None:
    """A subclass that overrides only ``err`` gets the method for free."""

    class Failed(Context):
        def err(self) -> Exception | None:
            return self.error

        def __init__(self) -> None:
            self.error: Exception | None = None

    c = Failed()
    assert c.raise_if_done() is None
    c.error = Canceled("custom")
    with pytest.raises(Canceled, match="custom"):
        c.raise_if_done()


USER_FILE = ROOT / ".ci" / "user_code.py"
"""A user's module with the idiom (CI type-checks it over an editable install too)."""


@pytest.mark.timeout(300)
def test_mypy_strict_accepts_the_idiom(tmp_path: Path) -> None:
    """``mypy --strict`` passes on user code that uses it (and fails on ``raise ctx.err()``)."""
    if shutil.which("mypy") is None and not _has_module("mypy"):
        pytest.skip("mypy is not installed (pip install -e '.[dev]')")
    good = tmp_path / "good.py"
    good.write_text(USER_FILE.read_text(encoding="utf-8"))
    assert "ctx.raise_if_done()" in good.read_text()
    bad = tmp_path / "bad.py"
    bad.write_text(good.read_text().replace("ctx.raise_if_done()", "raise ctx.err()"))
    ok = _mypy(good, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    failed = _mypy(bad, tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "error: Exception must be derived from BaseException" in failed.stdout


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _mypy(path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(cache / ".mypy_cache"),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
