"""The Generate pane's first-run demo: train a tiny model on the sample, then load it as A."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual.widgets import ProgressBar, Static

from tui.context import app_state
from tui.messages.generate import DemoFinished, DemoProgress
from tui.workers import background

if TYPE_CHECKING:
    from textual.screen import Screen

    _ScreenBase = Screen[None]
else:
    _ScreenBase = object

EMPTY_HINT = (
    "No checkpoints yet. Press [b]f8[/b] to train a tiny demo model on the bundled "
    "sample (a couple of minutes on the CPU, through the normal training job); it loads "
    "here when it finishes. Or start a real run in the Train pane (3)."
)


class DemoTraining(_ScreenBase):
    """Mixed into the Generate pane: f8 on a machine without checkpoints starts the demo job and
    follows it in the empty-list hint (#empty-hint) and the progress bar (#load-progress)."""

    complete_count: int
    demo_run: str | None  # the demo's run id, "starting", or None when none is under way
    _demo_seen: tuple[str, int] | None

    if TYPE_CHECKING:  # the pane defines these
        def action_refresh(self) -> None: ...
        def _load(self, slot: str, spec: str) -> None: ...

    def action_train_demo(self) -> None:
        if self.complete_count:
            self.notify("There are checkpoints already; the demo is for a fresh machine.",
                        severity="information")
            return
        if self.demo_run is not None:
            self.notify(f"Demo run {self.demo_run} is already training.")
            return
        self.demo_run = "starting"
        self.query_one("#empty-hint", Static).update("Starting the demo training job…")
        self._demo_worker()

    @background("gen-demo", exclusive=True)
    def _demo_worker(self) -> None:
        from core.training.demo import demo_state, start_demo

        run_id = start_demo(app_state(self).paths)
        worker_cancelled = False
        while not worker_cancelled:
            state, step, total, reason = demo_state(app_state(self).paths, run_id)
            self.post_message(DemoProgress(run_id, state, step, total))
            if state in ("finished", "failed", "stopped", "died"):
                self.post_message(DemoFinished(run_id, state == "finished", reason))
                return
            time.sleep(1.0)
            from textual.worker import get_current_worker

            worker_cancelled = get_current_worker().is_cancelled

    def on_demo_progress(self, msg: DemoProgress) -> None:
        if (self.demo_run, self._demo_seen) != (msg.run_id, (msg.state, msg.step // 25)):
            # the run and its checkpoints show in the browser as they appear
            self.demo_run, self._demo_seen = msg.run_id, (msg.state, msg.step // 25)
            self.action_refresh()
        total = f"/{msg.total}" if msg.total else ""
        self.query_one("#empty-hint", Static).update(
            f"Demo run {msg.run_id}: {msg.state}, step {msg.step}{total}")
        if msg.total:
            self.query_one("#load-progress", ProgressBar).update(progress=msg.step / msg.total)

    def on_demo_finished(self, msg: DemoFinished) -> None:
        hint = self.query_one("#empty-hint", Static)
        if not msg.ok:
            self.demo_run = None
            hint.update(f"Demo training did not finish: {msg.reason}\n\n{EMPTY_HINT}")
            self.notify(f"Demo training failed: {msg.reason}", severity="error")
            return
        self.demo_run = None
        self.action_refresh()
        self._load("A", msg.run_id)

    def demo_failed(self, line: str) -> None:
        """The demo job could not start or be followed (the App has notified)."""
        self.demo_run = None
        self.query_one("#empty-hint", Static).update(f"{line}\n\n{EMPTY_HINT}")
