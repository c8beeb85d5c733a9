"""What the Train pane's keys do to the watched run: stop it, resume it, open its checkpoint in
the Generate pane (each on a worker that posts RunActionDone)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.runs.reader import checkpoint_to_open
from tui.context import app_state
from tui.messages.train import RunActionDone
from tui.workers import background


class RunControls:
    """Mixed into a Screen; acts on the App's watched run (keys do nothing while none is)."""

    def action_generate(self) -> None:
        screen: Any = self
        app = app_state(screen)
        watch = app.run_watch
        if watch is None:
            return
        path = checkpoint_to_open(watch.run_dir, watch.status)
        if path is None:
            screen.notify(f"Run {watch.run_id} has no complete checkpoint yet", severity="warning")
            return
        app.selected_checkpoint = str(path)
        screen.notify(f"Generate: {path.parent.name}/{path.name}")
        app.switch_mode("generate")

    def action_stop(self) -> None:
        self._on_watched("Stop", self._stop_run)

    def action_resume(self) -> None:
        self._on_watched("Resume", self._resume_run)

    def _on_watched(self, verb: str, start: Callable[[str], object]) -> None:
        """Say what is asked of the watched run, then start the worker that asks it."""
        screen: Any = self
        watch = app_state(screen).run_watch
        if watch is not None:
            screen.notify(f"{verb} {watch.run_id}…")
            start(watch.run_id)

    @background("run-stop", subject=lambda run_id: run_id)
    def _stop_run(self, run_id: str) -> None:
        from core.training.stop import stop_run

        screen: Any = self
        stop_run(app_state(screen).paths, run_id)
        screen.post_message(RunActionDone("stop", run_id))

    @background("run-resume", subject=lambda run_id: run_id)
    def _resume_run(self, run_id: str) -> None:
        from core.training.launch import resume_run

        screen: Any = self
        resume_run(app_state(screen).paths, run_id)
        screen.post_message(RunActionDone("resume", run_id))
