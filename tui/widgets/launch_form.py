"""LaunchForm: every TrainConfig field a user sets before a run, with preflight and CLI preview."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any

from textual.app import ComposeResult
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Collapsible, Input, Label, Select, Static


@dataclass(frozen=True)
class FormField:
    """One TrainConfig field on one row: its label, how it parses, and what blank means.

    kind: str|int|float|opt_int|opt_str (opt_*: blank gives None).
    hint: shown in the empty field (what a blank value means).
    """

    name: str
    label: str
    kind: str
    hint: str = ""


# Groups in display order; a new field goes into its group's tuple and nothing else changes.
# "data & model" starts with the dataset and model selectors, which are not plain inputs.
GROUPS: tuple[tuple[str, tuple[FormField, ...]], ...] = (
    ("data & model", (
        FormField("tokenizer", "tokenizer", "opt_str", "blank: the model's own / trained on data"),
    )),
    ("schedule", (
        FormField("epochs", "epochs", "float"),
        FormField("max_steps", "max steps", "opt_int", "blank: by epochs"),
        FormField("lr", "learning rate", "float"),
    )),
    ("batching", (
        FormField("batch_size", "micro-batch", "opt_int", "blank: from GPU memory"),
        FormField("grad_accum", "grad accumulation", "opt_int", "blank: auto, effective 64"),
    )),
    ("intervals", (
        FormField("log_steps", "log every (steps)", "int"),
        FormField("eval_steps", "eval every (steps)", "int"),
        FormField("save_steps", "save every (steps)", "int"),
    )),
    ("run", (
        FormField("run_name", "run name", "str", "blank: the date and time only"),
        FormField("gpus", "GPUs", "int"),
    )),
)
# Fields most runs leave at the seed recipe: folded under "advanced".
ADVANCED: tuple[FormField, ...] = (
    FormField("warmup", "warmup fraction", "float"),
    FormField("weight_decay", "weight decay", "float"),
    FormField("max_source_len", "max synopsis tokens", "int"),
    FormField("max_target_len", "max title tokens", "int"),
    FormField("seed", "seed", "int"),
)
FIELDS: tuple[FormField, ...] = tuple(f for _, group in GROUPS for f in group) + ADVANCED
MODEL_KINDS: tuple[tuple[str, str], ...] = (
    ("scratch: tiny (CPU smoke test)", "scratch:tiny"),
    ("scratch: small", "scratch:small"),
    ("scratch: base", "scratch:base"),
    ("pretrained (hub id or local dir)", "pretrained"),
)
DEFAULT_PRETRAINED = "tohoku-nlp/bert-base-japanese-v3"


def _defaults() -> dict[str, Any]:
    from core.training.config import TrainConfig

    out = {}
    for f in fields(TrainConfig):
        if f.default is not MISSING:
            out[f.name] = f.default
    return out


def _row(label: str, field: Any) -> Horizontal:
    """Label and field on one line (a form of three-line bordered inputs does not fit 80×24)."""
    return Horizontal(Label(label, classes="launch-label"), field, classes="launch-row")


class LaunchForm(Vertical):
    """Fields default to the seed recipe (TrainConfig's defaults); `config()` builds the run.

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

    class Changed(Message):
        """Any field changed; the screen refreshes the command preview."""

    def __init__(self, datasets: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.datasets = datasets
        self.defaults = _defaults()

    def compose(self) -> ComposeResult:
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

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "f-model-kind":
            self.query_one("#f-model", Input).disabled = event.value != "pretrained"
        self.post_message(self.Changed())

    def on_input_changed(self, event: Input.Changed) -> None:
        self.post_message(self.Changed())

    def values(self) -> dict[str, Any]:
        """Typed field values; ValueError names the field that does not parse."""
        data: dict[str, Any] = {}
        ds = self.query_one("#f-dataset", Select).value
        data["dataset"] = "" if ds is Select.NULL or ds is None else str(ds)
        kind = str(self.query_one("#f-model-kind", Select).value)
        if kind.startswith("scratch:"):
            data["scratch"], data["model"] = kind.split(":", 1)[1], None
        else:
            data["scratch"] = None
            data["model"] = self.query_one("#f-model", Input).value.strip() or None
        for f in FIELDS:
            raw = self.query_one(f"#f-{f.name}", Input).value.strip()
            try:
                if f.kind == "int":
                    data[f.name] = int(raw)
                elif f.kind == "float":
                    data[f.name] = float(raw)
                elif f.kind == "opt_int":
                    data[f.name] = int(raw) if raw else None
                elif f.kind == "opt_str":
                    data[f.name] = raw or None
                else:
                    data[f.name] = raw
            except ValueError as exc:
                raise ValueError(f"{f.label}: {raw!r} is not a valid "
                                 f"{f.kind.removeprefix('opt_')}") from exc
        return data

    def config(self) -> Any:
        """A validated TrainConfig (ValueError/ConfigError with the field named)."""
        from core.training.config import TrainConfig

        cfg = TrainConfig.from_json(self.values(), source="launch form")
        cfg.validate()
        return cfg

    def show_command(self, text: str) -> None:
        self.query_one("#launch-command", Static).update(text)

    def show_findings(self, findings: list[tuple[str, str]]) -> None:
        from rich.text import Text

        t = Text()
        if not findings:
            t.append("preflight: no findings", style="green")
        for i, (level, msg) in enumerate(findings):
            style = {"error": "bold red", "warning": "yellow"}.get(level, "")
            t.append(f"{level}: ", style=style)
            t.append(msg + ("\n" if i < len(findings) - 1 else ""))
        self.query_one("#launch-findings", Static).update(t)
