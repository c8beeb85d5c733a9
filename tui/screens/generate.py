"""Generate pane: titles from any checkpoint, A/B comparison, history, and evaluation."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, ProgressBar, Static, TextArea
from textual.worker import Worker

from core.evaluation.data import SplitRows
from core.failure_log import describe_error
from core.generation.checkpoints import list_checkpoints
from core.generation.options import OptionsError, all_presets, save_user_preset
from tui.context import app_state
from tui.messages.generate import (
    DatasetRowPicked,
    GenerationDone,
    ModelLoaded,
    ModelLoadProgress,
)
from tui.screens.generate_demo import EMPTY_HINT, DemoTraining
from tui.screens.generate_export import CheckpointExport
from tui.side_column import FoldingSideColumn
from tui.widgets.checkpoint_browser import CheckpointBrowser
from tui.widgets.decoding_form import DecodingForm
from tui.widgets.eval_table import EvalTable
from tui.widgets.generation_history import GenerationHistory, HistoryEntry
from tui.widgets.title_results import TitleResults
from tui.workers import ForwardWorkerFailures, background

EVAL_LIMIT = 200


class GenerateScreen(FoldingSideColumn, ForwardWorkerFailures, CheckpointExport, DemoTraining,
                     Screen[None]):
    """Type or pick a synopsis, choose checkpoints (A, optional B) and decoding, get titles."""

    CSS_PATH = "../styles/generate.tcss"
    SIDE_FOCUS = "#browser"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+g", "generate", "Generate", id="generate.run", priority=True,
                tooltip="Generate titles for the synopsis with A (and B)"),
        Binding("ctrl+n", "next_row", "Next row", id="generate.row", priority=True,
                tooltip="Use the next validation row of the run's dataset as input"),
        Binding("ctrl+e", "evaluate", "Evaluate", id="generate.eval", priority=True,
                tooltip=f"Score A on up to {EVAL_LIMIT} validation rows beside the baselines"),
        Binding("f6", "save_preset", "Save preset", id="generate.save_preset",
                priority=True, tooltip="Save the decoding options under the typed name"),
        Binding("f7", "clear_b", "Drop B", id="generate.clear_b", priority=True,
                tooltip="Stop comparing: only A generates"),
        Binding("f8", "train_demo", "Demo model", id="generate.demo", priority=True,
                tooltip="Train a tiny demo model on the bundled sample"),
        Binding("f2", "toggle_side", "Checkpoints", id="generate.side", priority=True,
                tooltip="Show or hide the checkpoint list (an overlay on narrow terminals)"),
        Binding("f5", "refresh", "Refresh", id="generate.refresh",
                tooltip="Re-read the run directories"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.service: Any = None
        self.specs: dict[str, str | None] = {"A": None, "B": None}
        self.loaded: dict[str, bool] = {"A": False, "B": False}
        self.reference: str | None = None
        self.rows = SplitRows("validation")
        self.history_entries: list[HistoryEntry] = []
        self.complete_count = 0
        self.demo_run: str | None = None
        self._demo_seen: tuple[str, int] | None = None
        # The newest checkpoint-loading worker of each slot (to tidy it up if it fails).
        self._load_workers: dict[str, Worker[None]] = {}

    # ----- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="gen-body", classes="with-side-column"):
            with Vertical(id="gen-left", classes="side-column"):
                yield Label("Checkpoints  (enter: A · b: B)", classes="section")
                yield CheckpointBrowser(id="browser")
                yield Static(EMPTY_HINT, id="empty-hint")
                yield Static("No model loaded.", id="load-status", classes="muted")
                yield ProgressBar(total=1.0, show_eta=False, id="load-progress")
            with Vertical(id="gen-mid"):
                yield Static("f2: checkpoint list", classes="muted narrow-only")
                yield Label("Synopsis (あらすじ)", classes="section")
                yield TextArea(id="synopsis", soft_wrap=True, show_line_numbers=False)
                yield Static("", id="source", classes="muted")
                yield Label("Decoding", classes="section")
                yield DecodingForm(self._presets(), id="decoding")
            with Vertical(id="gen-right"):
                with Horizontal(id="results"):
                    yield TitleResults("A", id="results-a")
                    yield TitleResults("B", id="results-b")
                yield Label("History", classes="section")
                yield GenerationHistory(id="history")
        # Full width: the metrics table is ~100 columns wide.
        yield EvalTable("", id="eval-table")
        yield Footer()

    def _presets(self) -> dict[str, Any]:
        paths = app_state(self).paths
        try:
            return all_presets(paths.config_dir)
        except OptionsError as exc:
            self.notify(f"Saved presets ignored: {exc}", severity="warning")
            from core.generation.options import BUILTIN_PRESETS

            return dict(BUILTIN_PRESETS)

    def on_mount(self) -> None:
        self.action_refresh()
        self._take_selected()

    def on_screen_resume(self) -> None:
        self.action_refresh()
        self._take_selected()

    def _take_selected(self) -> None:
        # The Train pane sets app.selected_checkpoint before switching here.
        spec = app_state(self).selected_checkpoint
        if spec and spec != self.specs["A"]:
            self._load("A", str(spec))

    # ----- checkpoints and loading --------------------------------------------------------
    def action_refresh(self) -> None:
        # On the UI thread (opening the pane, `r`): a run folder that cannot be read must cost
        # a notification, not the app.
        try:
            runs = list_checkpoints(app_state(self).paths)
        except Exception as exc:  # noqa: BLE001 - reported through the app's one failure path
            app_state(self).report_failure(
                "gen-list", f"Listing checkpoints failed: {describe_error(exc)}", exc)
            runs = []
        self.complete_count = self.query_one(CheckpointBrowser).show_runs(runs)
        hint = self.query_one("#empty-hint", Static)
        hint.set_class(self.complete_count == 0, "shown")

    @on(CheckpointBrowser.Picked)
    def _picked(self, event: CheckpointBrowser.Picked) -> None:
        self._load(event.slot, event.spec)
        self.close_side_overlay()

    def _load(self, slot: str, spec: str) -> None:
        self.specs[slot] = spec
        self.loaded[slot] = False
        if slot == "B":
            self.query_one("#results").add_class("ab")
        self.query_one(f"#results-{slot.lower()}", TitleResults).set_checkpoint(f"{spec} (loading)")
        self._load_workers[slot] = self._load_worker(slot, spec)

    def _ensure_service(self) -> Any:
        if self.service is None:
            from core.generation.service import GenerationService

            self.service = GenerationService(app_state(self).paths)
        return self.service

    @background("gen-load", subject=lambda slot, spec: spec)
    def _load_worker(self, slot: str, spec: str) -> None:
        service = self._ensure_service()
        loaded = service.load(
            spec, lambda m, f: self.post_message(ModelLoadProgress(slot, spec, m, f)))
        self.post_message(
            ModelLoaded(slot, loaded.spec, loaded.device.reason, loaded.load_s, spec))

    def on_model_load_progress(self, msg: ModelLoadProgress) -> None:
        self.query_one("#load-status", Static).update(f"{msg.slot} {msg.spec}: {msg.text}")
        self.query_one("#load-progress", ProgressBar).update(progress=msg.fraction)

    def on_model_loaded(self, msg: ModelLoaded) -> None:
        if self.specs[msg.slot] not in (msg.requested, msg.spec):
            return  # a newer pick replaced this one while it loaded
        self.specs[msg.slot] = msg.spec
        self.loaded[msg.slot] = True
        self.query_one("#load-status", Static).update(
            f"{msg.slot} {msg.spec} ready in {msg.load_s:.1f} s on {msg.device_reason}")
        self.query_one("#load-progress", ProgressBar).update(progress=1.0)
        self.query_one(f"#results-{msg.slot.lower()}", TitleResults).set_checkpoint(msg.spec)

    def worker_failed(self, worker: Worker[None], line: str) -> None:
        """Put the pane back in order after a failed worker (the App has notified)."""
        status = self.query_one("#load-status", Static)
        if worker.group == "gen-load":
            slot = next((s for s, w in self._load_workers.items() if w is worker), None)
            if slot is not None and self.specs[slot] == worker.name:
                self.specs[slot] = None
                self.query_one(f"#results-{slot.lower()}", TitleResults).set_checkpoint(
                    "no checkpoint")
            status.update(f"{slot or ''} {line}".strip())
        elif worker.group in ("gen-titles", "gen-row", "gen-export"):
            status.update(line)
        elif worker.group == "gen-demo":
            self.demo_failed(line)

    def action_clear_b(self) -> None:
        self.specs["B"] = None
        self.loaded["B"] = False
        self.query_one("#results").remove_class("ab")

    # ----- generation ---------------------------------------------------------------------
    def action_generate(self) -> None:
        synopsis = self.query_one("#synopsis", TextArea).text.strip()
        if not synopsis:
            self.notify("Type or paste a synopsis first (or ctrl+n for a dataset row).",
                        severity="warning")
            return
        if self.specs["A"] is None:
            self.notify("Pick a checkpoint first: highlight it and press enter.",
                        severity="warning")
            return
        try:
            options = self.query_one(DecodingForm).read()
        except OptionsError as exc:
            self.notify(str(exc), severity="error")
            return
        slots = {s: spec for s, spec in self.specs.items() if spec}
        # The real title belongs to the picked row only while its text is unedited.
        reference = self.reference if self.rows.shown_story_is(synopsis) else None
        self.query_one("#load-status", Static).update("generating…")
        self._generate_worker(synopsis, reference, options, slots)

    @background("gen-titles", exclusive=True)
    def _generate_worker(self, synopsis: str, reference: str | None, options: Any,
                         slots: dict[str, str]) -> None:
        service = self._ensure_service()
        results = {}
        for slot, spec in slots.items():
            loaded = service.load(spec, lambda m, f, s=slot, sp=spec: self.post_message(
                ModelLoadProgress(s, sp, m, f)))
            results[slot] = service.generate(loaded, [synopsis], options,
                                             references=[reference])[0]
        self.post_message(GenerationDone(synopsis, reference, results))

    def on_generation_done(self, msg: GenerationDone) -> None:
        entry = HistoryEntry(msg.synopsis, msg.reference, msg.results)
        self.history_entries.insert(0, entry)
        self.query_one(GenerationHistory).add(entry)
        self._show(entry)
        took = ", ".join(f"{s} {r.elapsed_s * 1000:.0f} ms" for s, r in sorted(msg.results.items()))
        self.query_one("#load-status", Static).update(f"generated ({took})")

    def _show(self, entry: HistoryEntry) -> None:
        for slot in ("A", "B"):
            panel = self.query_one(f"#results-{slot.lower()}", TitleResults)
            result = entry.results.get(slot)
            if result is not None:
                panel.set_checkpoint(result.checkpoint)
            panel.show(result, entry.reference)
        self.query_one("#results").set_class("B" in entry.results or bool(self.specs["B"]), "ab")

    @on(GenerationHistory.Recalled)
    def _recalled(self, event: GenerationHistory.Recalled) -> None:
        self.query_one("#synopsis", TextArea).text = event.entry.synopsis
        self._show(event.entry)

    # ----- dataset rows -------------------------------------------------------------------
    def action_next_row(self) -> None:
        self._row_worker(self.rows.index + 1)

    @background("gen-row", exclusive=True)
    def _row_worker(self, index: int) -> None:
        from core.evaluation.data import rows_dataset

        paths = app_state(self).paths
        name = rows_dataset(paths, self.specs["A"])
        if name is None:
            raise ValueError("no dataset yet: import one in the Dataset pane (1)")
        index, row = self.rows.row(paths, name, index)
        self.post_message(DatasetRowPicked(name, self.rows.split, index, len(self.rows.rows),
                                           row["story"], row["title"]))

    def on_dataset_row_picked(self, msg: DatasetRowPicked) -> None:
        self.rows.index = msg.index
        self.reference = msg.title
        self.query_one("#synopsis", TextArea).text = msg.story
        self.query_one("#source", Static).update(
            f"{msg.dataset}/{msg.split} row {msg.index + 1}/{msg.total} · real title: {msg.title}")

    # ----- presets ------------------------------------------------------------------------
    def action_save_preset(self) -> None:
        form = self.query_one(DecodingForm)
        name = form.preset_name()
        try:
            path = save_user_preset(app_state(self).paths.config_dir, name, form.read())
        except OptionsError as exc:
            self.notify(str(exc), severity="error")
            return
        form.set_presets(self._presets(), name)
        self.notify(f"Preset {name!r} saved to {path}")

    # ----- evaluation ---------------------------------------------------------------------
    def action_evaluate(self) -> None:
        if not self.specs["A"]:
            self.notify("Pick a checkpoint (A) to evaluate first.", severity="warning")
            return
        self.query_one(EvalTable).evaluate(str(self.specs["A"]), EVAL_LIMIT, self._ensure_service)
