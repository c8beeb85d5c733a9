"""The App's view of the watched run: reader (worker thread side) and history (UI side)."""

from __future__ import annotations

import time
from collections import deque
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
            log = tail_lines(self.run_dir / LOG_FILE, LOG_TAIL_LINES, max_bytes=64 << 10)
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
        # After a failed read, what was not read keeps its last value.
        if msg.status_read:
            self.status = msg.status
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
