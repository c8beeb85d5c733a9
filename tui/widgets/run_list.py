"""RunList: every run directory with state, progress, best eval loss and age."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from core.runs.eta import format_duration
from core.runs.reader import RunSummary

STATE_STYLE = {
    "running": "bold green", "starting": "green", "stopping": "yellow", "finished": "cyan",
    "stopped": "yellow", "failed": "bold red", "died": "bold red", "unknown": "dim",
    "unreadable": "bold red", "queued": "blue",
}


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s / size:.0f}{unit}"
    return f"{s:.0f}s"


class RunList(DataTable[Any]):
    """Runs newest first; the highlighted row keeps its run across refreshes."""

    DEFAULT_CSS = "RunList { height: auto; max-height: 12; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.runs: list[RunSummary] = []

    def on_mount(self) -> None:
        self.add_column("run", key="run")
        self.add_column("state", key="state")
        self.add_column("progress", key="progress")
        self.add_column("best", key="best")
        self.add_column("age", key="age")

    @property
    def selected_run(self) -> str | None:
        if not self.runs or self.cursor_row < 0 or self.cursor_row >= len(self.runs):
            return None
        return self.runs[self.cursor_row].run_id

    def update_runs(self, runs: list[RunSummary], now: float | None = None,
                    watched: str | None = None) -> None:
        now = time.time() if now is None else now
        keep = self.selected_run or watched
        self.runs = runs
        self.clear()
        for r in runs:
            st = r.status
            name = Text(("▶ " if r.run_id == watched else "  ") + r.run_id)
            state = Text(r.state, style=STATE_STYLE.get(r.state, ""))
            if st and st.total_steps:
                prog = f"{100 * st.step / st.total_steps:.0f}% {st.step}/{st.total_steps}"
            elif st:
                prog = str(st.step)
            else:
                prog = "—"
            best = f"{st.best_eval_loss:.3f}" if st and st.best_eval_loss is not None else "—"
            ref = st.updated_at if st and st.updated_at else r.started_at
            self.add_row(name, state, prog, best, age_text(now - ref if ref else None),
                         key=r.run_id)
        if keep is not None:
            for i, r in enumerate(runs):
                if r.run_id == keep:
                    self.move_cursor(row=i, animate=False)
                    break

    def describe(self) -> str:
        """Plain one-line-per-run text (for logs and tests)."""
        return "\n".join(f"{r.run_id} {r.state}" for r in self.runs) or format_duration(None)
