"""Live view of one harvest: status, a records bar, request/rate/ETA figures and the log tail."""

from __future__ import annotations

import time
from collections import deque

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from core.fetch.launch import FetchSnapshot
from core.timefmt import format_duration


class FetchProgress(Vertical):
    """Shows a FetchSnapshot; rates come from the last ~60 s of snapshots, not the whole run."""

    DEFAULT_CSS = """
    FetchProgress { height: auto; }
    FetchProgress #fp-status { text-style: bold; }
    FetchProgress ProgressBar { margin: 1 0; }
    FetchProgress #fp-log { color: $text-muted; height: auto; max-height: 12; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._samples: deque[tuple[float, int, int]] = deque(maxlen=120)
        self.records = 0
        self.status = "idle"

    def compose(self) -> ComposeResult:
        yield Static("No harvest yet: fill the form and press ctrl+s.", id="fp-status")
        yield ProgressBar(total=100, show_eta=False, id="fp-bar")
        yield Static("", id="fp-figures")
        yield Static("", id="fp-message", markup=False)
        yield Static("", id="fp-log", markup=False)

    def show(self, snap: FetchSnapshot) -> None:
        state = snap.state or {}
        records = int(state.get("records", 0))
        target = int(state.get("target", 0) or 0)
        requests = int(state.get("requests", 0))
        status = "running" if snap.running else str(state.get("status", "idle"))
        if status == "running" and not snap.running:
            status = "died (rerun to resume)"
        self.records, self.status = records, status
        now = time.monotonic()
        if not snap.running:
            self._samples.clear()
        else:
            self._samples.append((now, records, requests))
            while self._samples and now - self._samples[0][0] > 60:
                self._samples.popleft()
        rate = req_rate = 0.0
        if len(self._samples) >= 2:
            t0, r0, q0 = self._samples[0]
            span = now - t0
            if span > 0:
                rate, req_rate = (records - r0) / span, (requests - q0) / span
        eta = (target - records) / rate if rate > 0 and target > records else None
        pid = f" · pid {snap.pid}" if snap.pid else ""
        dataset = f" · dataset {state['dataset']!r} built" if state.get("dataset") else ""
        self.query_one("#fp-status", Static).update(f"{snap.name}: {status}{pid}{dataset}")
        bar = self.query_one(ProgressBar)
        bar.update(total=max(target, 1), progress=min(records, max(target, 1)))
        self.query_one("#fp-figures", Static).update(
            f"records {records:,} / {target:,}   requests {requests:,}   "
            f"{int(state.get('bytes', 0)) / 2**20:.1f} MiB   retries {state.get('retries', 0)}\n"
            f"rate {rate:.1f} rec/s ({req_rate:.2f} req/s)   "
            f"ETA {format_duration(eta, 'compact') if snap.running else '-'}   "
            f"records file {snap.records_bytes / 2**20:.1f} MiB"
        )
        self.query_one("#fp-message", Static).update(str(state.get("message") or ""))
        lines = [ln for ln in snap.log_tail.replace("\r", "\n").splitlines() if ln.strip()]
        self.query_one("#fp-log", Static).update("\n".join(lines[-8:]))
