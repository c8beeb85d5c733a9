"""The App's view of the watched run: reader (worker thread side) and history (UI side)."""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.paths import Paths
from core.runs.alerts import Alert, AlertTracker
from core.runs.history import RunHistory
from core.runs.parse import GpuChunk, MetricChunk
from core.runs.reader import RunReader, read_config, read_status
from core.runs.schema import LOG_FILE, RunStatus
from core.runs.tail import tail_lines
from tui.messages.train import RunPolled

LOG_TAIL_LINES = 200
# After this many polls in a row that brought nothing new, the run is polled half as often.
QUIET_AFTER = 3
# Largest slice read per chunk; a 1M-line history arrives as a few chunks of this size.
CHUNK_BYTES = 32 << 20


class RunWatch:
    """One watched run. `poll()` runs on a worker thread and touches only the reader;
    `apply()` runs on the UI thread and owns the history, so no lock is needed."""

    def __init__(self, paths: Paths, run_id: str, generation: int) -> None:
        self.run_id = run_id
        self.run_dir: Path = paths.run(run_id)
        self.generation = generation
        self.reader = RunReader(self.run_dir)
        self.history = RunHistory()
        self.alerts = AlertTracker(run_id)
        self.status: RunStatus | None = None
        self.config: dict[str, Any] = {}
        self.log_tail: list[str] = []
        self.polls = 0
        self.last_poll_ms = 0.0
        # CPU time of the last poll on its worker thread: its own work, without the time it
        # waited for the GIL while the UI thread drew (which last_poll_ms includes).
        self.last_poll_cpu_ms = 0.0
        self.last_apply_ms = 0.0
        self.last_bytes = 0
        self.gpu_live: deque[Any] = deque(maxlen=600)
        self._log_stamp: tuple[int, int] | None = None
        self.quiet_polls = 0

    def _log_if_changed(self) -> list[str] | None:
        """train.log's tail, or None when the file is as it was at the last poll (size and
        mtime): a quiet run then costs one stat a second, not a 64 KiB read and split."""
        try:
            st = os.stat(self.run_dir / LOG_FILE)
            stamp = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            stamp = (-1, 0)
        if stamp == self._log_stamp:
            return None
        lines = tail_lines(self.run_dir / LOG_FILE, LOG_TAIL_LINES, max_bytes=64 << 10)
        self._log_stamp = stamp  # only once read: a failed read is tried again next poll
        return lines

    # ------------------------------------------------------------ worker thread
    def poll(self) -> tuple[RunPolled, Exception | None]:
        """Everything new in the run's files, and the error that stopped the reading if one
        did: what was read before it is still delivered (`complete` False), so a damaged
        train.log never hides, nor loses, the metrics history or the status."""
        t0 = time.perf_counter()
        c0 = time.thread_time()
        before = self.reader.metrics.bytes_read + self.reader.gpu.bytes_read
        chunks: list[MetricChunk] = []
        gpu: list[GpuChunk] = []
        status: RunStatus | None = None
        status_read = False
        config: dict[str, Any] | None = None
        log: list[str] | None = None
        error: Exception | None = None
        try:
            while True:
                chunk = self.reader.poll_metric_chunk(CHUNK_BYTES)
                if chunk.lines == 0:
                    break
                chunks.append(chunk)
            while True:
                g = self.reader.poll_gpu_chunk(CHUNK_BYTES)
                if g.lines == 0:
                    break
                gpu.append(g)
            status = read_status(self.run_dir)
            status_read = True
            config = read_config(self.run_dir) if self.polls == 0 or not self.config else None
            log = self._log_if_changed()
        except Exception as exc:  # raised by the worker after posting what was read
            error = exc
        used = self.reader.metrics.bytes_read + self.reader.gpu.bytes_read - before
        self.last_poll_cpu_ms = (time.thread_time() - c0) * 1000
        self.polls += 1
        return RunPolled(self.generation, self.run_id, chunks, gpu, status, config, log,
                         (time.perf_counter() - t0) * 1000, used, self.polls == 1,
                         complete=error is None, status_read=status_read), error

    # ------------------------------------------------------------ UI thread
    def apply(self, msg: RunPolled) -> tuple[int, list[Alert]]:
        """Fold a poll into the history; returns rows appended and the alerts it raised."""
        t0 = time.perf_counter()
        appended = 0
        alerts: list[Alert] = []
        nan_steps: list[int] = []
        events: list[dict] = []
        for chunk in msg.chunks:
            events += chunk.events
            res = self.history.apply(chunk)
            appended += res.appended
            nan_steps += res.non_finite_steps
        for g in msg.gpu:
            self.history.apply_gpu(g)
        news = bool(appended or msg.gpu or msg.log_tail is not None or msg.initial)
        # After a failed read, what was not read keeps its last value.
        if msg.status_read:
            news = news or _without_heartbeat(msg.status) != _without_heartbeat(self.status)
            self.status = msg.status
        self.quiet_polls = 0 if news else self.quiet_polls + 1
        if msg.config is not None:
            self.config = msg.config
        if msg.log_tail is not None:
            self.log_tail = msg.log_tail
        status = self.status
        state = status.state if status else None
        alerts += self.alerts.observe_state(state, status.exit_reason if status else None)
        if not msg.initial:
            alerts += self.alerts.observe_nan(nan_steps)
            alerts += self.alerts.observe_collapse(events)
        h = self.history
        alerts += self.alerts.observe_progress(
            h.train["t"], h.train["step"], h.segment_start, state,
            status.step if status else None,
        )
        self.last_poll_ms = msg.poll_ms
        self.last_bytes = msg.bytes_read
        self.last_apply_ms = (time.perf_counter() - t0) * 1000
        return appended, alerts

    def next_poll_s(self, base_s: float) -> float:
        """Seconds to the next poll: `base_s`, doubled while the run is quiet.

        A job heartbeats, logs and saves at its own pace; a run with nothing new for a few
        polls (stalled, between long log intervals, finished) costs half the wakeups, and the
        first new line brings the pace back.
        """
        return base_s * 2 if self.quiet_polls >= QUIET_AFTER else base_s


def _without_heartbeat(status: RunStatus | None) -> RunStatus | None:
    """The status less its heartbeat time: a rewrite that only moves `updated_at` is no news."""
    return None if status is None else replace(status, updated_at=None)
