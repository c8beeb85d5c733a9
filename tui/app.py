"""The narou-tui Textual app: one mode per pane, switched from the keyboard or the palette."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from core.paths import Paths
from tui.commands import PaneCommands

if TYPE_CHECKING:
    from textual.message_pump import MessagePump

    from tui.messages.train import GpuSampled, RunPolled
    from tui.run_watch import RunWatch


@dataclass
class LaunchOptions:
    """How the app was opened: which pane first, and an optional run to attach to.

    initial_pane: mode name to show first ("dataset", "tokenizer", "train", "generate").
    attach_run: run id to open straight into (used by `narou-tui attach`).
    readonly: hide actions that change runs (stop/resume/launch).
    """

    initial_pane: str = "dataset"
    attach_run: str | None = None
    readonly: bool = False


class NarouApp(App[None]):
    """Workbench shell. Panes are screens created lazily so startup imports nothing heavy."""

    TITLE = "narou-tui"
    SUB_TITLE = "BERT2BERT title workbench"
    CSS_PATH = "app.tcss"
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

    # Seconds between polls of the watched run / between GPU samples; a factory for the
    # NVML sampler (tests pass one that reports a fixed state).
    RUN_POLL_S: ClassVar[float] = 1.0
    GPU_POLL_S: ClassVar[float] = 2.0
    gpu_sampler_factory: ClassVar[Callable[[], Any] | None] = None

    def on_mount(self) -> None:
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
        self.run_worker(lambda: self.post_message(watch.safe_poll()), thread=True,
                        group="run-tailer", name=f"tail {watch.run_id}", exit_on_error=False)

    def on_run_polled(self, message: RunPolled) -> None:
        from tui.messages.train import RunUpdated

        self._run_polling = False
        watch = self.run_watch
        if watch is None:
            return
        if message.generation != watch.generation:
            self._poll_run()  # a poll of the previously watched run: start the new one now
            return
        if message.error:
            self.notify(f"Reading run {watch.run_id}: {message.error}", severity="error")
        appended, alerts = watch.apply(message)
        for alert in alerts:
            if alert.bell:
                self.bell()
            self.notify(alert.message, title="narou-tui", severity=alert.severity,  # type: ignore[arg-type]
                        timeout=15)
        for listener in list(self.run_listeners):
            listener.post_message(RunUpdated(watch.run_id, appended, message.initial,
                                             watch.last_apply_ms))
        self.set_timer(self.RUN_POLL_S, self._poll_run)

    def start_gpu_sampler(self) -> None:
        """Start sampling NVML every GPU_POLL_S (idempotent; first call from the Train pane)."""
        if not self._gpu_started:
            self._gpu_started = True
            self._sample_gpu()

    def _sample_gpu(self) -> None:
        def work() -> None:
            from tui.messages.train import GpuSampled

            if self._gpu_sampler is None:
                factory = type(self).gpu_sampler_factory
                if factory is None:
                    from core.telemetry.nvml import NvmlSampler as factory
                self._gpu_sampler = factory()
            s = self._gpu_sampler
            try:
                samples = s.sample()
            except Exception as exc:  # NVML can fail mid-run (driver reset): report, go on
                self.post_message(GpuSampled([], False, f"NVML error: {exc}"))
                return
            self.post_message(GpuSampled(samples, bool(s.available), str(s.reason)))

        self.run_worker(work, thread=True, group="gpu-sampler", name="gpu sampler",
                        exit_on_error=False)

    def on_gpu_sampled(self, message: GpuSampled) -> None:
        from tui.messages.train import GpuSampled

        self.gpu_last = message
        for listener in list(self.run_listeners):
            listener.post_message(GpuSampled(message.samples, message.available, message.reason))
        if message.available:
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
    NarouApp(paths, options).run()
    return 0
