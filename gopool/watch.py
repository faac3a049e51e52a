"""A live view of a pool: progress, throughput, latency and each worker, as the pool runs.

``watch(pool)`` starts a goroutine that redraws the view every ``interval``
seconds, woken by a :class:`~gopool.timers.Ticker` (never a busy loop), and
returns a :class:`Watch`: stop it with ``stop()`` or use it as a context
manager. In a terminal (``file.isatty()``) the view is a block of lines
redrawn in place with ANSI escapes; anywhere else (a pipe, a log file) it
is one plain line per interval. Standard library only.

Invariants:

* Everything the view writes to ``file``, and everything written through
  :meth:`Watch.write`, is written under ``Watch._lock``, whole frames and
  whole lines at a time, so the view and other output never interleave.
* In a terminal, ``_height`` is the number of lines of the frame now on
  screen directly above the cursor (0: none). A redraw moves the cursor up
  that many lines, rewrites each line after clearing it, and erases what a
  taller previous frame left below. Every line is cut to the terminal's
  width, so none wraps and the count stays true.
* While a terminal view is live, the program's other output to the
  terminal (``print``, logging, tracebacks) comes through :meth:`Watch.write`
  too: :mod:`gopool._console` stands in for ``sys.stdout``, ``sys.stderr``
  and the logging handlers that write to them, from the view's first
  frame until its final one.
* The drawing goroutine draws a first frame at once, then one per tick,
  and a final frame when it stops, which is when :meth:`Watch.stop` is
  called or when the pool has finished (closed or cancelled, no worker
  left). After the final frame it writes nothing more; ``_done`` is closed
  then, whatever happened, so ``stop()`` never waits for nothing.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import threading
import time
from types import TracebackType
from typing import Any, Protocol, TextIO

from . import _console
from .chan import Chan, go, select
from .pools.stats import PoolStats, WorkerStats
from .timers import Ticker

__all__ = ["Watch", "render_frame", "render_line", "watch"]

_SHOWN_WORKERS = 16
"""At most this many workers get a line of their own in a terminal; the rest are summed up."""

_FRESH = 0.02
"""A frame redrawn below text from :meth:`Watch.write` is re-rendered if older than this (s)."""


class _Watchable(Protocol):
    def stats(self) -> PoolStats: ...


def _seconds(x: float | None) -> str:
    """A duration the way a person reads it: ``2.3 s``, ``0.10 s``, ``4.2 ms``, ``35 us``."""
    if x is None:
        return "-"
    if x >= 10:
        return f"{x:.0f} s"
    if x >= 1:
        return f"{x:.1f} s"
    if x >= 0.01:
        return f"{x:.2f} s"
    if x >= 0.001:
        return f"{x * 1000:.1f} ms"
    return f"{x * 1e6:.0f} us"


def _counts(s: PoolStats) -> str:
    """``completed 30/50`` and, when there are any, the failed, cancelled and stalled."""
    text = f"completed {s.completed}/{s.submitted}"
    if s.failed:
        text += f", failed {s.failed}"
    if s.cancelled:
        text += f", cancelled {s.cancelled}"
    return text


def render_line(s: PoolStats) -> str:
    """The plain one-line view (not a terminal), for example::

        DynamicPool running: completed 30/50, 12.0 jobs/s, p50 0.10 s, p99 0.12 s, 3/5 workers busy
    """
    text = (
        f"{s.pool} {s.state}: {_counts(s)}, {s.throughput:.1f} jobs/s, "
        f"p50 {_seconds(s.latency_p50)}, p99 {_seconds(s.latency_p99)}, "
        f"{s.busy}/{len(s.per_worker)} workers busy"
    )
    if s.stalled:
        text += f", {s.stalled} STALLED"
    return text


def _worker_line(w: WorkerStats) -> str:
    head = f"  worker {w.id:<3} "
    if w.state == "idle":
        return head + "idle"
    if w.state == "stalled":
        return head + (
            f"STALLED job {w.job} for {_seconds(w.busy_for)}"
            f" (no heartbeat for {_seconds(w.quiet_for)})"
        )
    if w.state == "waiting":
        return head + f"job {w.job} waiting for its turn ({_seconds(w.busy_for)})"
    if w.state == "delivering":
        return head + f"job {w.job} done, waiting for room in results()"
    return head + f"job {w.job} for {_seconds(w.busy_for)}"


def _bar(fraction: float, width: int, fill: str, empty: str) -> str:
    done = min(width, max(0, math.floor(fraction * width)))
    return fill * done + empty * (width - done)


def render_frame(
    s: PoolStats, *, width: int = 80, color: bool = False, unicode: bool = True
) -> list[str]:
    """The terminal view of ``s``: lines of at most ``width - 1`` visible characters.

    The first line is the pool, its state, a progress bar of the finished
    jobs (completed, failed or cancelled) out of the submitted ones, the
    counts and the time since it started; the second, throughput, latency
    percentiles and the queue; then a line per worker (at most 16; the
    others summed up in one more line). ``color`` marks a stalled worker in
    red; ``unicode=False`` draws the bar in ASCII.
    """
    fill, empty = ("\u2588", "\u2591") if unicode else ("#", "-")
    fraction = s.finished / s.submitted if s.submitted else 0.0
    counts = f"{_counts(s)}  {fraction:4.0%}"
    if s.state != "new":
        counts += f"  {_seconds(s.elapsed)}"
    head = f"{s.pool} {s.state}"
    room = width - 1 - len(head) - len(counts) - 4
    bar = f" [{_bar(fraction, min(40, room), fill, empty)}] " if room >= 10 else "  "
    lines = [head + bar + counts]
    second = (
        f"  {s.throughput:.1f} jobs/s | p50 {_seconds(s.latency_p50)} "
        f"p95 {_seconds(s.latency_p95)} p99 {_seconds(s.latency_p99)} | "
        f"queued {s.queued} | busy {s.busy}/{len(s.per_worker)}"
    )
    if s.stalled:
        second += f" | {s.stalled} STALLED"
    lines.append(second)
    workers = s.per_worker
    shown = workers if len(workers) <= _SHOWN_WORKERS else workers[: _SHOWN_WORKERS - 1]
    lines.extend(_worker_line(w) for w in shown)
    if len(shown) < len(workers):
        rest = workers[len(shown) :]
        states: dict[str, int] = {}
        for w in rest:
            states[w.state] = states.get(w.state, 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        lines.append(f"  ... {len(rest)} more workers: {summary}")
    lines = [line[: width - 1] for line in lines]
    if color:
        lines = [
            line.replace("STALLED job", "\x1b[1;31mSTALLED\x1b[0m job", 1)
            if line.startswith("  worker ")
            else line
            for line in lines
        ]
    return lines


def _finished(s: PoolStats) -> bool:
    return s.state in ("closed", "cancelled") and not s.per_worker


class Watch:
    """A running live view of one pool (what :func:`watch` returns).

    Draws until :meth:`stop` (or the end of a ``with`` block), or until the
    pool has finished, then draws a final frame. :meth:`write` prints text
    above the view without tearing it. Holds the pool until it stops.
    """

    def __init__(self, pool: _Watchable, file: TextIO, interval: float) -> None:
        self._pool = pool
        self._file = file
        self._interval = interval
        try:
            self._tty = bool(file.isatty())
        except (AttributeError, ValueError, OSError):
            self._tty = False
        encoding = getattr(file, "encoding", None) or "ascii"
        try:
            "\u2588\u2591".encode(encoding)
            self._unicode = True
        except (LookupError, UnicodeEncodeError):
            self._unicode = False
        self._lock = threading.Lock()
        # _lock guards: _height, _frame, _frame_at, _last_line, _partials, _final, _stopping.
        self._height = 0  # lines of the frame on screen above the cursor (terminal only)
        self._frame: list[str] = []
        self._frame_at = 0.0  # when _frame was rendered (time.monotonic())
        self._last_line = ""
        self._partials: dict[TextIO, str] = {}  # per stream, a last line awaiting its newline
        self._final: PoolStats | None = None
        self._stopping = False
        self._stop: Chan[None] = Chan()
        self._done: Chan[None] = Chan()
        self._ticker = Ticker(interval)
        if self._tty:
            _console.attach(self)
        try:
            self._thread = go(self._run)
        except BaseException:
            if self._tty:
                _console.detach(self)
            raise

    # -- the drawing goroutine --

    def _run(self) -> None:
        try:
            s = self._pool.stats()
            self._show(s, final=False)
            while not _finished(s):
                if select(self._ticker.c.recv, self._stop.recv)[0] == 1:
                    break
                s = self._pool.stats()
                if _finished(s):
                    break
                self._show(s, final=False)
            s = self._pool.stats()
            self._show(s, final=True)
        finally:
            self._ticker.stop()
            if self._tty:
                _console.detach(self)
            self._done.close()

    def _width(self) -> int:
        """The terminal's width, read at each frame (it may be resized): as ``shutil`` finds it,
        ``COLUMNS`` first, but asking ``file``'s own terminal, and 80 if none says."""
        try:
            columns = int(os.environ.get("COLUMNS", "0"))
        except ValueError:
            columns = 0
        if columns <= 0:
            try:
                columns = os.get_terminal_size(self._file.fileno()).columns
            except (AttributeError, ValueError, OSError):
                columns = 0
        if columns <= 0:
            columns = shutil.get_terminal_size((80, 24)).columns
        return columns if columns > 0 else 80

    def _show(self, s: PoolStats, *, final: bool) -> None:
        if self._tty:
            lines = render_frame(s, width=self._width(), color=True, unicode=self._unicode)
            rendered_at = time.monotonic()
            with self._lock:
                if final:
                    self._final = s
                self._file.write(self._erase_locked() + "".join(f"{line}\n" for line in lines))
                self._file.flush()
                self._frame = lines
                self._frame_at = rendered_at
                self._height = 0 if final else len(lines)
            return
        line = render_line(s)
        with self._lock:
            if final:
                self._final = s
            elif line == self._last_line:
                return  # nothing new to say; a pipe gets a line when something changes
            self._last_line = line
            self._file.write(line + "\n")
            self._file.flush()

    def _erase_locked(self) -> str:
        """The escapes that take the cursor back to the top of the frame on screen, and clear it."""
        if not self._height:
            return ""
        return f"\x1b[{self._height}A\r\x1b[J"

    # -- the public side --

    def write(self, text: str, *, stream: TextIO | None = None) -> int:
        """Print ``text`` above the view (as ``tqdm.write`` does); returns ``len(text)``.

        ``text`` goes to ``stream`` (the view's own file when None): in a
        terminal the view is cleared, the complete lines of ``text`` are
        written, and the view is drawn again below them (from fresh stats
        if its last frame is older than 20 ms); a last line without its
        newline waits for the rest of it (or for the view to stop).
        Elsewhere the text is written as it is. Safe from any thread;
        blocks only while the view is being drawn. While the view is live
        in a terminal, ``print()``, logging and tracebacks sent to the
        terminal come here by themselves.
        """
        out = self._file if stream is None else _console.unwrap(stream)
        fresh: list[str] | None = None
        if self._tty and "\n" in text:
            with self._lock:
                stale = self._height and time.monotonic() - self._frame_at >= _FRESH
            if stale:
                # The frame redrawn below the text should not lag behind it (the
                # text often reports what the pool just did): render it anew,
                # outside the lock, as the drawing goroutine does.
                fresh = render_frame(
                    self._pool.stats(), width=self._width(), color=True, unicode=self._unicode
                )
        with self._lock:
            pending = self._partials.pop(out, "") + text
            if not self._tty or self._final is not None:
                out.write(pending)
                out.flush()
                return len(text)
            # While the view is live, only whole lines go out, each time above
            # the frame, which is drawn again below them.
            cut = pending.rfind("\n") + 1
            if pending[cut:]:
                self._partials[out] = pending[cut:]
            if cut:
                erase = self._erase_locked()  # the frame now on screen
                frame = ""
                if self._height:
                    if fresh is not None:
                        self._frame = fresh
                        self._frame_at = time.monotonic()
                    self._height = len(self._frame)
                    frame = "".join(f"{line}\n" for line in self._frame)
                if out is not self._file:  # another stream to the same terminal: in order
                    self._file.write(erase)
                    self._file.flush()
                    out.write(pending[:cut])
                    out.flush()
                    erase = pending = ""
                self._file.write(erase + pending[:cut] + frame)
                self._file.flush()
        return len(text)

    def stop(self) -> PoolStats:
        """Stop the view after a final frame; return the stats that frame shows.

        Blocks until the final frame is written (interruptible by Ctrl-C).
        Idempotent: a later call returns the same stats at once. Raises
        ``RuntimeError`` if called from the drawing goroutine itself.
        """
        if threading.current_thread() is self._thread:
            raise RuntimeError("Watch.stop() called from the view's own thread")
        with self._lock:
            stopping, self._stopping = self._stopping, True
        if not stopping:
            self._stop.close()
        self._done.recv()
        with self._lock:
            final = self._final
            partials, self._partials = self._partials, {}
            for out, partial in partials.items():
                out.write(partial)
                out.flush()
        if final is None:  # the drawing goroutine failed before its final frame
            final = self._pool.stats()
        return final

    @property
    def stopped(self) -> bool:
        """Whether the final frame has been drawn (by :meth:`stop`, or because the pool ended)."""
        return self._done.closed

    def __enter__(self) -> Watch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        mode = "terminal" if self._tty else "lines"
        state = "stopped" if self.stopped else "running"
        return f"<Watch {state} {mode} every {self._interval:g}s of {self._pool!r}>"


def watch(pool: Any, *, file: TextIO | None = None, interval: float = 0.25) -> Watch:
    """Show a live view of ``pool`` on ``file`` (``sys.stdout`` when None) until stopped.

    Returns a running :class:`Watch`: call ``stop()``, or use it as a
    context manager (``with gopool.watch(pool): ...``); either draws a
    final frame and returns once it is written. The view also stops by
    itself, after a final frame, once the pool has finished (closed or
    cancelled, and every worker gone). In a terminal it is redrawn in place
    every ``interval`` seconds: a progress bar of the finished jobs out of
    the submitted ones, throughput, latency p50/p95/p99, and each worker's
    state (idle, its job and for how long, STALLED). Anywhere else it
    prints one line per interval, when the line has changed::

        Pool running: completed 30/50, 12.0 jobs/s, p50 0.10 s, p99 0.12 s, 3/4 workers busy

    While a terminal view is live, other output to the terminal (``print``,
    logging, a traceback) is printed above it, through :meth:`Watch.write`:
    ``sys.stdout`` and ``sys.stderr``, and the logging handlers of the root
    and ``gopool`` loggers that write to them, stand in until the final
    frame (a stall warning never tears the view). Two views live in one
    terminal at once would draw over each other. Runs in a thread of its
    own, woken by a ticker; costs one ``pool.stats()`` per interval. Raises
    ``TypeError`` if ``pool`` has no ``stats()`` or ``interval`` is not a
    number, ``ValueError`` if ``interval`` is not positive.
    """
    if not callable(getattr(pool, "stats", None)):
        raise TypeError(f"watch: {pool!r} is not a pool (it has no stats())")
    if not isinstance(interval, int | float) or isinstance(interval, bool):
        raise TypeError(f"watch: interval must be a number of seconds, not {interval!r}")
    if not interval > 0 or math.isinf(interval):
        raise ValueError(f"watch: interval must be > 0 seconds, not {interval!r}")
    if file is None:
        file = sys.stdout
    if not callable(getattr(file, "write", None)):
        raise TypeError(f"watch: file must be a text stream, not {file!r}")
    file = _console.unwrap(file)  # a view draws on the terminal itself, never above another
    return Watch(pool, file, float(interval))
