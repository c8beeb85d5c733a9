"""The narou-tui Textual app: one mode per pane, switched from the keyboard or the palette."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.worker import Worker, WorkerState

from core.cli.app_request import LaunchOptions
from core.failure_log import LOG_NAME, log_failure
from core.paths import Paths
from tui.commands import PaneCommands
from tui.workers import RecoversFromWorkerFailure, background, failure_line

if TYPE_CHECKING:
    from textual.message_pump import MessagePump

    from tui.messages.train import GpuSampled, RunPolled
    from tui.run_watch import RunWatch


# Terminal widths (cells) where the layouts change: below NORMAL_WIDTH side columns collapse
# to a key-toggled overlay (an 80×24 SSH terminal); from WIDE_WIDTH charts and text get more.
NORMAL_WIDTH = 100
WIDE_WIDTH = 160


class NarouApp(App[None]):
    """Workbench shell. Panes are screens created lazily so startup imports nothing heavy."""

    TITLE = "narou-tui"
    SUB_TITLE = "BERT2BERT title workbench"
    CSS_PATH = "app.tcss"
    # Width classes every screen (panes, the Fetch screen, dialogs) gets on resize; the panes'
    # CSS narrows or collapses side columns on -narrow and gives charts/text more on -wide.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [
        (0, "-narrow"), (NORMAL_WIDTH, "-normal"), (WIDE_WIDTH, "-wide")]
    COMMANDS = App.COMMANDS | {PaneCommands}
    MODES: ClassVar[dict[str, str]] = {
        "dataset": "tui.screens.dataset:DatasetScreen",
        "tokenizer": "tui.screens.tokenizer:TokenizerScreen",
        "train": "tui.screens.train:TrainScreen",
        "generate": "tui.screens.generate:GenerateScreen",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "pane('dataset')", "Data", id="pane.dataset", tooltip="Browse datasets"),
        Binding("2", "pane('tokenizer')", "Tokens", id="pane.tokenizer",
                tooltip="Inspect MeCab + WordPiece tokenization"),
        Binding("3", "pane('train')", "Train", id="pane.train",
                tooltip="Launch and watch training runs"),
        Binding("4", "pane('generate')", "Generate", id="pane.generate",
                tooltip="Generate titles from checkpoints"),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit (running jobs keep going)"),
        # Digits typed in a text field stay there; escape leaves the field so 1-4 switch panes.
        Binding("escape", "leave_field", show=False, id="app.leave_field",
                tooltip="Leave the focused field (then 1-4 switch panes)"),
    ]

    def __init__(self, paths: Paths | None = None, options: LaunchOptions | None = None) -> None:
        self.paths = paths or Paths.resolve()
        self.options = options or LaunchOptions()
        # Textual resolves "module:Class" strings? It does not; resolve lazily ourselves.
        self.MODES = {name: _lazy_screen(spec) for name, spec in type(self).MODES.items()}
        super().__init__()
        # Long-lived workers belong to the App, not a pane (they outlive pane switches): the
        # watched run's tailer and the GPU sampler. Each re-arms a timer only after its sample
        # was handled: never overlapping.
        self.run_watch: RunWatch | None = None
        self.run_listeners: list[MessagePump] = []
        self.selected_checkpoint: str | None = None
        self._watch_gen = 0
        self._run_polling = False
        self._gpu_started = False
        self._gpu_sampler: Any = None
        self.gpu_last: GpuSampled | None = None
        # When each failure line was last shown: a fault that repeats on every poll is shown
        # (and logged) once per FAILURE_REPEAT_S, not every second.
        self._failures_shown: dict[str, float] = {}
        self.failures_reported = 0

    @property
    def failure_log(self) -> Path:
        """Where worker failures' tracebacks are written."""
        return self.paths.config_dir / LOG_NAME

    # Seconds between polls of the watched run (twice that while it is quiet, see
    # RunWatch.next_poll_s) / between GPU samples; a factory for the
    # NVML sampler (tests pass one that reports a fixed state). Two seconds, not one: with
    # a line a second, polling every second cost twice the CPU (2.5% vs 1.3% of a core in
    # bench/reattach.py --only-watch-cost) for news two seconds sooner.
    RUN_POLL_S: ClassVar[float] = 2.0
    GPU_POLL_S: ClassVar[float] = 2.0
    gpu_sampler_factory: ClassVar[Callable[[], Any] | None] = None
    FAILURE_REPEAT_S: ClassVar[float] = 60.0

    def on_mount(self) -> None:
        from tui.keymap import load_keymap

        keymap, problems = load_keymap(self.paths.config_dir)
        if keymap:
            self.set_keymap(keymap)
        for line in problems:
            self.notify(line, severity="warning", timeout=15)
        if self.options.attach_run:
            self.watch_run(self.options.attach_run)
        self.switch_mode(self.options.initial_pane)

    def watch_run(self, run_id: str | None) -> None:
        """Follow `run_id` (None: none); the first poll loads its whole history."""
        from tui.run_watch import RunWatch

        self._watch_gen += 1
        self.run_watch = RunWatch(self.paths, run_id, self._watch_gen) if run_id else None
        self._poll_run()

    def _poll_run(self) -> None:
        watch = self.run_watch
        if watch is None or self._run_polling:
            return
        self._run_polling = True
        self._tail_run(watch)

    @background("run-tailer", subject=lambda watch: watch.run_id)
    def _tail_run(self, watch: RunWatch) -> None:
        polled, error = watch.poll()
        self.post_message(polled)  # what was read counts, even when a later read failed
        if error is not None:
            raise error

    def on_run_polled(self, message: RunPolled) -> None:
        from tui.messages.train import RunUpdated

        # A partial poll's worker is still failing: its handler ends the poll and re-arms.
        if message.complete:
            self._run_polling = False
        watch = self.run_watch
        if watch is None:
            return
        if message.generation != watch.generation:
            self._poll_run()  # a poll of the previously watched run: start the new one now
            return
        appended, alerts = watch.apply(message)
        for alert in alerts:
            if alert.bell:
                self.bell()
            self.notify(alert.message, title="narou-tui", severity=alert.severity,  # type: ignore[arg-type]
                        timeout=15)
        for listener in list(self.run_listeners):
            listener.post_message(RunUpdated(watch.run_id, appended, message.initial,
                                             watch.last_apply_ms))
        if message.complete:
            self.set_timer(watch.next_poll_s(self.RUN_POLL_S), self._poll_run)

    def start_gpu_sampler(self) -> None:
        """Start sampling NVML every GPU_POLL_S (idempotent; first call from the Train pane)."""
        if not self._gpu_started:
            self._gpu_started = True
            self._sample_gpu()

    @background("gpu-sampler")
    def _sample_gpu(self) -> None:
        from tui.messages.train import GpuSampled

        if self._gpu_sampler is None:
            factory = type(self).gpu_sampler_factory
            if factory is None:
                from core.telemetry.nvml import NvmlSampler as factory
            self._gpu_sampler = factory()
        s = self._gpu_sampler
        samples = s.sample()  # NVML can fail mid-run (driver reset): worker_failed re-arms
        self.post_message(GpuSampled(samples, bool(s.available), str(s.reason)))

    def on_gpu_sampled(self, message: GpuSampled) -> None:
        from tui.messages.train import GpuSampled

        self.gpu_last = message
        for listener in list(self.run_listeners):
            listener.post_message(GpuSampled(message.samples, message.available, message.reason))
        if message.available:
            self.set_timer(self.GPU_POLL_S, self._sample_gpu)

    # ------------------------------------------------------------------ worker failures
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.report_worker_failure(event.worker)

    def report_worker_failure(self, worker: Worker[Any]) -> None:
        """The one handler of every worker failure: notify in one line, log the traceback,
        and let the node that started the worker (a pane, or this App) carry on."""
        error = worker.error
        if error is None:
            return
        line = failure_line(worker)
        self.report_failure(worker.group, line, error)
        node = worker.node
        if isinstance(node, RecoversFromWorkerFailure) and not worker.is_cancelled and \
                (node is self or node.is_attached):
            node.worker_failed(worker, line)

    def report_failure(self, group: str, line: str, error: BaseException) -> None:
        """Notify `line` once per FAILURE_REPEAT_S and log `error`'s traceback under `group`.

        Workers reach it through report_worker_failure; the few reads a pane must make on the
        UI thread (listing what is on disk when it opens) call it directly."""
        now = time.monotonic()
        if now - self._failures_shown.get(line, -1e18) < self.FAILURE_REPEAT_S:
            return
        self._failures_shown[line] = now
        self.failures_reported += 1
        not_logged = log_failure(self.failure_log, f"[{group}] {line}", error)
        detail = f"details in {self.failure_log}" if not_logged is None else \
            f"log not written: {not_logged}"
        self.notify(f"{line} ({detail})", title="narou-tui", severity="error", timeout=15)

    def worker_failed(self, worker: Worker[Any], line: str) -> None:
        """The App's own long-lived workers re-arm after a failed sample."""
        from tui.messages.train import GpuSampled

        if worker.group == "run-tailer":
            self._run_polling = False
            self.set_timer(self.RUN_POLL_S, self._poll_run)
        elif worker.group == "gpu-sampler":
            failed = GpuSampled([], False, line)
            self.gpu_last = failed
            for listener in list(self.run_listeners):
                listener.post_message(GpuSampled(failed.samples, False, line))
            self.set_timer(self.GPU_POLL_S, self._sample_gpu)

    def action_leave_field(self) -> None:
        self.screen.set_focus(None)

    def action_pane(self, name: str) -> None:
        if name != self.current_mode:
            self.switch_mode(name)


def _lazy_screen(spec: str):  # type: ignore[no-untyped-def]
    """A zero-argument factory that imports the pane's module only when first shown."""

    def factory():  # type: ignore[no-untyped-def]
        import importlib

        module_name, _, cls_name = spec.partition(":")
        return getattr(importlib.import_module(module_name), cls_name)()

    return factory


def run_app(paths: Paths, options: LaunchOptions | None = None) -> int:
    """Run the workbench until the user quits (the `AppOpener` that `tui.entry` passes the CLI)."""
    NarouApp(paths, options).run()
    return 0
