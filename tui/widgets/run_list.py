"""RunList: every run directory with state, progress, best eval loss and age; runs can be
marked for comparison (each mark a letter in its run's colour)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from core.runs.reader import RunSummary, sweep_name
from core.timefmt import format_duration

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


COLUMNS = ("run", "state", "progress", "best", "age")


# One colour per marked run, in marking order: the same in the list, the charts and the table.
MARK_COLORS: tuple[str, ...] = ("bright_cyan", "bright_magenta", "bright_yellow", "bright_green",
                                "orange1", "bright_red", "bright_blue", "white")


def mark_style(index: int) -> tuple[str, str]:
    """(letter, colour) of the index-th marked run: A, B, … then 1-based numbers."""
    letter = chr(ord("A") + index) if index < 26 else str(index + 1)
    return letter, MARK_COLORS[index % len(MARK_COLORS)]


class RunList(DataTable[Any]):
    """Runs newest first; the highlighted row keeps its run across refreshes."""

    DEFAULT_CSS = "RunList { height: auto; max-height: 12; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space,m", "toggle_mark", "Mark", id="train.mark",
                tooltip="Mark the highlighted run for comparison (two or more overlay)"),
        Binding("M", "mark_sweep", "Mark sweep", id="train.mark_sweep", show=False,
                tooltip="Mark every run of the highlighted run's sweep (compared as one group)"),
        Binding("o", "cycle_order", "Order", id="train.order",
                tooltip="List the runs newest first, by best chrF, or by best eval loss"),
    ]
    # Orders of the list: newest first, then the leaderboard keys of core.runs.compare.
    ORDERS: ClassVar[tuple[str, ...]] = ("newest", "chrf", "eval_loss")

    @dataclass
    class MarksChanged(Message):
        """The marked runs changed; `marked` in marking order (letters A, B, … follow it)."""

        marked: list[str]

    @dataclass
    class OrderChanged(Message):
        """The list is to be ordered by `order` (one of ORDERS) from the next listing on."""

        order: str

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.runs: list[RunSummary] = []
        self._shown: dict[str, tuple[Text, Text, str, str, str]] = {}
        self.marked: list[str] = []
        self._watched: str | None = None
        self.order = self.ORDERS[0]

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        for key in COLUMNS:
            label = "chrF" if key == "best" and self.order == "chrf" else key
            self.add_column(label, key=key)
        self._shown = {}

    def action_cycle_order(self) -> None:
        self.order = self.ORDERS[(self.ORDERS.index(self.order) + 1) % len(self.ORDERS)]
        self.clear(columns=True)
        self._add_columns()
        self.notify(f"Runs ordered by {'best ' if self.order != 'newest' else ''}"
                    f"{self.order.replace('_', ' ')}")
        self.post_message(self.OrderChanged(self.order))

    @property
    def selected_run(self) -> str | None:
        if not self.runs or self.cursor_row < 0 or self.cursor_row >= len(self.runs):
            return None
        return self.runs[self.cursor_row].run_id

    def update_runs(self, runs: list[RunSummary], now: float | None = None,
                    watched: str | None = None, scores: dict[str, Any] | None = None) -> None:
        """Show `runs` in the order given; `scores` (RunScores by run id) fill the chrF column."""
        now = time.time() if now is None else now
        keep = self.selected_run or watched
        self.runs = runs
        self._watched = watched
        ids = {r.run_id for r in runs}
        if any(m not in ids for m in self.marked):  # a marked run was removed from disk
            self.marked = [m for m in self.marked if m in ids]
            self.post_message(self.MarksChanged(list(self.marked)))
        rows = [self._row(r, now, scores) for r in runs]
        if [r.run_id for r in runs] == list(self._shown) and self.row_count == len(rows):
            # The same runs in the same order (every few seconds while one is watched):
            # rewrite only the cells that changed, so the table is not rebuilt and relaid out.
            for run_id, row in zip(list(self._shown), rows, strict=True):
                for column, old, cell in zip(COLUMNS, self._shown[run_id], row, strict=True):
                    if old != cell:
                        # A wider cell widens its column; a narrower one leaves it (no relayout).
                        grow = len(str(cell)) > len(str(old))
                        self.update_cell(run_id, column, cell, update_width=grow)
                self._shown[run_id] = row
        else:
            self.clear()
            self._shown = {}
            for r, row in zip(runs, rows, strict=True):
                self.add_row(*row, key=r.run_id)
                self._shown[r.run_id] = row
        if keep is not None:
            for i, r in enumerate(runs):
                if r.run_id == keep:
                    self.move_cursor(row=i, animate=False)
                    break

    def _row(self, r: RunSummary, now: float,
             scores: dict[str, Any] | None) -> tuple[Text, Text, str, str, str]:
        st = r.status
        state = Text(r.state, style=STATE_STYLE.get(r.state, ""))
        if st and st.total_steps:
            prog = f"{100 * st.step / st.total_steps:.0f}% {st.step}/{st.total_steps}"
        elif st:
            prog = str(st.step)
        else:
            prog = "—"
        best = f"{st.best_eval_loss:.3f}" if st and st.best_eval_loss is not None else "—"
        if self.order == "chrf":
            chrf = getattr((scores or {}).get(r.run_id), "best_chrf", None)
            best = f"{chrf:.1f}" if chrf is not None else "—"
        ref = st.updated_at if st and st.updated_at else r.started_at
        return self._name_cell(r.run_id), state, prog, best, age_text(now - ref if ref else None)

    def _name_cell(self, run_id: str) -> Text:
        """'▶A run-id': watched marker, then the mark letter in the run's colour."""
        name = Text("▶" if run_id == self._watched else " ")
        if run_id in self.marked:
            letter, colour = mark_style(self.marked.index(run_id))
            name.append(letter, style=f"bold {colour}")
        else:
            name.append(" ")
        name.append(run_id)
        return name

    def action_toggle_mark(self) -> None:
        run_id = self.selected_run
        if run_id is None:
            return
        if run_id in self.marked:
            self.marked.remove(run_id)
        else:
            self.marked.append(run_id)
        self._marks_changed()

    def action_mark_sweep(self) -> None:
        run_id = self.selected_run
        run = next((r for r in self.runs if r.run_id == run_id), None)
        name = sweep_name(run.config) if run is not None else None
        if name is None:
            self.notify(f"{run_id} is not part of a sweep (mark runs one by one with m)")
            return
        members = sorted((r for r in self.runs if sweep_name(r.config) == name),
                         key=lambda r: (r.config["sweep"].get("index") or 0, r.run_id))
        self.marked += [r.run_id for r in members if r.run_id not in self.marked]
        self.notify(f"Marked the {len(members)} runs of sweep {name}")
        self._marks_changed()

    def _marks_changed(self) -> None:
        for r in self.runs:  # letters follow the marking order: later ones may move up
            cell = self._name_cell(r.run_id)
            self.update_cell(r.run_id, "run", cell)
            if r.run_id in self._shown:
                self._shown[r.run_id] = (cell, *self._shown[r.run_id][1:])
        self.post_message(self.MarksChanged(list(self.marked)))

    def describe(self) -> str:
        """Plain one-line-per-run text (for logs and tests)."""
        return "\n".join(f"{r.run_id} {r.state}" for r in self.runs) or format_duration(None)
