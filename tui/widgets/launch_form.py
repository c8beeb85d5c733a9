"""LaunchForm: every TrainConfig field a user sets before a run, with preflight and CLI preview."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Collapsible, Input, Label, Select, Static

from core.training.launch_fields import (
    ADVANCED,
    DEFAULT_PRETRAINED,
    FIELDS,
    GROUPS,
    MODEL_KINDS,
    FormField,
    config_defaults,
    form_config,
    model_values,
    parse_field,
    refusal_findings,
)
from tui.context import app_state
from tui.messages.train import LaunchChecked, RunActionDone
from tui.workers import ForwardWorkerFailures, background

if TYPE_CHECKING:
    from textual.timer import Timer
    from textual.worker import Worker

    from core.training.config import TrainConfig

# Quiet time after the last keystroke in the form before the preflight runs again.
CHECK_DEBOUNCE_S = 0.4


def _row(label: str, field: Any) -> Horizontal:
    """Label and field on one line (a form of three-line bordered inputs does not fit 80×24)."""
    return Horizontal(Label(label, classes="launch-label"), field, classes="launch-row")


class LaunchForm(ForwardWorkerFailures, Vertical):
    """Fields default to the seed recipe (TrainConfig's defaults); `config()` builds the run,
    `check()` runs the preflight on it and `start()` launches (or queues) it.

    The fields scroll; the buttons, the preflight result and the equivalent command sit in a
    fixed area at the bottom, so they are on screen whatever the terminal's height."""

    DEFAULT_CSS = """
    LaunchForm { padding: 0 1; }
    LaunchForm #launch-fields { height: 1fr; }
    LaunchForm #launch-groups { layout: grid; grid-size: 1; grid-gutter: 0 2; height: auto; }
    LaunchForm .launch-group { height: auto; }
    LaunchForm .launch-group-title { color: $accent; text-style: bold; margin-top: 1; }
    LaunchForm .launch-row { height: 1; }
    LaunchForm .launch-label { width: 21; color: $text-muted; padding: 0 1 0 1; }
    LaunchForm .launch-row Input, LaunchForm .launch-row Select { width: 1fr; }
    LaunchForm #launch-advanced { margin-top: 1; padding-bottom: 0; }
    LaunchForm #launch-advanced Contents { padding: 0; }
    LaunchForm #launch-status {
        dock: bottom; height: auto; max-height: 60%; border-top: hkey $panel;
    }
    LaunchForm #launch-buttons { height: 1; }
    LaunchForm #launch-buttons Button { margin-right: 2; }
    LaunchForm #launch-findings { padding: 0 1; height: auto; }
    LaunchForm #launch-command { color: $accent; padding: 0 1; height: auto; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.datasets: list[str] = []
        self.defaults = config_defaults()
        self._check_timer: Timer | None = None

    def _dataset_names(self) -> list[str]:
        """The built datasets the form offers (none when the datasets folder cannot be read)."""
        try:
            from core.data.store import list_datasets
        except ImportError:
            return []
        try:
            return [d.name for d in list_datasets(app_state(self).paths) if d.built]
        except Exception:
            return []

    def compose(self) -> ComposeResult:
        self.datasets = self._dataset_names()
        yield Static("New run — Tab moves between fields; f6 checks, ctrl+s starts the run.",
                     classes="muted")
        with VerticalScroll(id="launch-fields"):
            with Container(id="launch-groups"):
                for title, group in GROUPS:
                    with Vertical(classes="launch-group"):
                        yield Static(title, classes="launch-group-title")
                        if title == GROUPS[0][0]:
                            yield from self._model_rows()
                        for field in group:
                            yield self._input_row(field)
            with Collapsible(title="advanced", id="launch-advanced"):
                for field in ADVANCED:
                    yield self._input_row(field)
        with Vertical(id="launch-status"):
            with Horizontal(id="launch-buttons"):
                yield Button("Check (f6)", id="launch-check", compact=True)
                yield Button("Start (ctrl+s)", id="launch-go", variant="primary", compact=True)
                yield Button("Queue", id="launch-queue", compact=True)
            yield Static("", id="launch-findings")
            yield Static("", id="launch-command")

    def _model_rows(self) -> ComposeResult:
        options = [(d, d) for d in self.datasets]
        yield _row("dataset", Select(options, id="f-dataset", allow_blank=not options,
                                     value=options[0][1] if options else Select.NULL,
                                     prompt="no dataset — import one first", compact=True))
        yield _row("model", Select(list(MODEL_KINDS), id="f-model-kind", allow_blank=False,
                                   value="scratch:tiny", compact=True))
        yield _row("pretrained id", Input(DEFAULT_PRETRAINED, id="f-model", disabled=True,
                                          placeholder="hub id or local directory",
                                          compact=True))

    def _input_row(self, field: FormField) -> Horizontal:
        value = self.defaults.get(field.name)
        return _row(field.label, Input("" if value is None else str(value), id=f"f-{field.name}",
                                       placeholder=field.hint, compact=True))

    def focus_fields(self) -> None:
        """Put the keyboard in the form (Tab then walks the fields)."""
        self.query_one("#launch-fields", VerticalScroll).focus()

    @property
    def readonly(self) -> bool:
        return app_state(self).options.readonly

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "f-model-kind":
            self.query_one("#f-model", Input).disabled = event.value != "pretrained"
        self._changed()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._changed()

    def values(self) -> dict[str, Any]:
        """Typed field values; ValueError names the field that does not parse."""
        ds = self.query_one("#f-dataset", Select).value
        data: dict[str, Any] = {"dataset": "" if ds is Select.NULL or ds is None else str(ds)}
        data |= model_values(str(self.query_one("#f-model-kind", Select).value),
                             self.query_one("#f-model", Input).value)
        for f in FIELDS:
            data[f.name] = parse_field(f, self.query_one(f"#f-{f.name}", Input).value)
        return data

    def config(self) -> TrainConfig:
        """A validated TrainConfig (ValueError/ConfigError with the field named)."""
        return form_config(self.values())

    def show_command(self, text: str) -> None:
        self.query_one("#launch-command", Static).update(text)

    def show_findings(self, findings: list[tuple[str, str]]) -> None:
        t = Text()
        if not findings:
            t.append("preflight: no findings", style="green")
        for i, (level, msg) in enumerate(findings):
            style = {"error": "bold red", "warning": "yellow"}.get(level, "")
            t.append(f"{level}: ", style=style)
            t.append(msg + ("\n" if i < len(findings) - 1 else ""))
        self.query_one("#launch-findings", Static).update(t)

    # ------------------------------------------------------------------ check and launch
    def open(self) -> None:
        """The form came into view: preview the command, check it, take the keyboard."""
        self._changed()
        self.focus_fields()

    def _changed(self) -> None:
        self._preview_command()
        self._check_soon()

    def _check_soon(self) -> None:
        """Run the preflight once typing pauses, so its result follows the fields."""
        if self._check_timer is not None:
            self._check_timer.stop()
        self._check_timer = self.set_timer(CHECK_DEBOUNCE_S, self._check_if_shown)

    def _check_if_shown(self) -> None:
        self._check_timer = None
        if self.display and not self.readonly:
            self.check()

    def _preview_command(self) -> None:
        try:
            self.show_command("$ " + self.config().cli_command())
        except Exception as exc:
            self.show_command(f"(not valid yet: {exc})")

    def _config_or_findings(self) -> TrainConfig | None:
        try:
            return self.config()
        except Exception as exc:
            self.show_findings([("error", str(exc))])
            return None

    def check(self) -> None:
        """Validate the fields with the preflight checks (on a worker)."""
        cfg = self._config_or_findings()
        if cfg is not None:
            self.show_findings([("info", "checking…")])
            self._preflight(cfg)

    def start(self, queued: bool = False) -> None:
        """Launch the run the fields describe (or queue it); returns at once."""
        cfg = self._config_or_findings()
        if cfg is not None:
            self.show_findings([("info", "preflight + queueing…" if queued
                                 else "preflight + launching…")])
            self._launch(cfg, queued)

    @background("preflight", exclusive=True)
    def _preflight(self, cfg: TrainConfig) -> None:
        from core.training.launch import preflight

        found = [(f.level, f.message) for f in preflight(app_state(self).paths, cfg)]
        self.post_message(LaunchChecked(found, cfg.cli_command()))

    def on_launch_checked(self, message: LaunchChecked) -> None:
        try:
            current = self.config().cli_command()
        except Exception:
            current = None
        if current != message.command:
            return  # the fields changed while it ran: the newer check's result is coming
        self.show_findings(message.findings)
        self.show_command("$ " + message.command)

    @background("launch", exclusive=True)
    def _launch(self, cfg: TrainConfig, queued: bool = False) -> None:
        from core.training.launch import LaunchError, launch
        from core.training.queue.store import queue_tables

        action = "queue" if queued else "launch"
        paths = app_state(self).paths
        try:
            run_id = launch(paths, cfg, queue=queue_tables() if queued else None)
        except LaunchError as exc:  # the preflight's findings: listed in the form
            self.post_message(RunActionDone(action, None, str(exc)))
            return
        self.post_message(RunActionDone(action, run_id))

    def on_run_action_done(self, message: RunActionDone) -> None:
        # The pane hears of it too (the message goes on up): it notifies and attaches.
        if message.error and message.action in ("launch", "queue"):
            self.show_findings(refusal_findings(message.error))

    def worker_failed(self, worker: Worker[Any], line: str) -> None:
        self.show_findings([("error", line)])

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "launch-check":
            self.check()
        elif event.button.id in ("launch-go", "launch-queue") and not self.readonly:
            self.start(queued=event.button.id == "launch-queue")
