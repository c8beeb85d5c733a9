"""QueueList: the runs waiting to start, in order, with what each waits for and when it starts;
its keys reorder or unqueue them."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from core.timefmt import format_duration
from core.training.queue.estimate import QueueRow
from tui.context import app_state
from tui.messages.train import RunActionDone
from tui.workers import ForwardWorkerFailures, background


class QueueList(ForwardWorkerFailures, DataTable[Any]):
    """Queued runs, next to start first; keys move the highlighted run or drop it."""

    DEFAULT_CSS = "QueueList { height: auto; max-height: 8; }"
    # Not in the footer: the section title names these keys, and the footer is the pane's.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("shift+up", "move(-1)", "Queue earlier", id="queue.earlier", show=False,
                tooltip="Move the highlighted queued run one place earlier"),
        Binding("shift+down", "move(1)", "Queue later", id="queue.later", show=False,
                tooltip="Move the highlighted queued run one place later"),
        Binding("delete", "remove", "Unqueue", id="queue.remove", show=False,
                tooltip="Drop the highlighted run from the queue (kept, as stopped)"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.queued: list[QueueRow] = []
        # (run, position) just asked for: the cursor stays on that run until a listing shows it
        # there (a listing read before the move still has the old order).
        self._moving: tuple[str, int] | None = None

    def on_mount(self) -> None:
        # Fixed widths: auto widths follow the rows a refresh later, so the same queue could
        # be drawn two ways.
        self.add_column("#", key="pos", width=3)
        self.add_column("run", key="run", width=24)
        self.add_column("starts in", key="start", width=9)
        self.add_column("waits for", key="waits", width=40)

    @property
    def selected_run(self) -> str | None:
        if not self.queued or self.cursor_row < 0 or self.cursor_row >= len(self.queued):
            return None
        return self.queued[self.cursor_row].run_id

    def update_rows(self, rows: list[QueueRow]) -> None:
        keep = self._moving[0] if self._moving else self.selected_run
        if self._moving and any(r.run_id == self._moving[0] and r.position == self._moving[1] for r in rows):
            self._moving = None
        self.queued = rows
        self.clear()
        for r in rows:
            start = "?" if r.start_in_s is None else ("now" if r.start_in_s < 1 else format_duration(r.start_in_s))
            self.add_row(str(r.position), r.run_id, start, r.waits_for, key=r.run_id)
        if not rows:
            self.add_row("", "no queued runs", "", "", key="")
        ids = [r.run_id for r in rows]
        if keep in ids:
            self.move_cursor(row=ids.index(keep))

    def action_move(self, delta: int) -> None:
        run = self.selected_run
        if run is None:
            return
        pos = next(r.position for r in self.queued if r.run_id == run)
        to = min(len(self.queued), max(1, pos + delta))
        if to != pos:
            self._moving = (run, to)
            if not app_state(self).options.readonly:
                self.change(run, to)
            self.move_cursor(row=to - 1)

    def action_remove(self) -> None:
        run = self.selected_run
        if run is not None and not app_state(self).options.readonly:
            self.change(run, None)

    @background("queue", subject=lambda run_id, to: run_id)
    def change(self, run_id: str, to: int | None) -> None:
        """Put queued run `run_id` at 1-based position `to`, or (None) drop it from the queue."""
        from core.training.queue.store import move, remove

        if to is None:
            remove(app_state(self).paths, run_id)
        else:
            move(app_state(self).paths, run_id, to)
        self.post_message(RunActionDone("unqueue" if to is None else "move", run_id))
