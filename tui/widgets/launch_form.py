"""LaunchForm: every TrainConfig field a user sets before a run, with preflight and CLI preview."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Select, Static

# (field, label, kind) in display order; kind: str|int|float|opt_int|opt_str.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("tokenizer", "tokenizer (blank = the model's own / trained on the data)", "opt_str"),
    ("epochs", "epochs", "float"),
    ("max_steps", "max steps (blank = by epochs)", "opt_int"),
    ("batch_size", "micro-batch (blank = from GPU memory)", "opt_int"),
    ("grad_accum", "gradient accumulation (blank = auto, effective 64)", "opt_int"),
    ("lr", "learning rate", "float"),
    ("warmup", "warmup fraction", "float"),
    ("weight_decay", "weight decay", "float"),
    ("max_source_len", "max synopsis tokens", "int"),
    ("max_target_len", "max title tokens", "int"),
    ("log_steps", "log every (steps)", "int"),
    ("eval_steps", "eval every (steps)", "int"),
    ("save_steps", "save every (steps)", "int"),
    ("seed", "seed", "int"),
    ("gpus", "GPUs", "int"),
    ("run_name", "run name", "str"),
)
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


class LaunchForm(VerticalScroll):
    """Fields default to the seed recipe (TrainConfig's defaults); `config()` builds the run."""

    DEFAULT_CSS = """
    LaunchForm { padding: 0 1; }
    LaunchForm .field { height: auto; }
    LaunchForm Label { color: $text-muted; padding: 0 0 0 1; }
    LaunchForm Input, LaunchForm Select { margin: 0 0 0 0; }
    LaunchForm #launch-command { color: $accent; padding: 1 1 0 1; }
    LaunchForm #launch-findings { padding: 0 1; height: auto; }
    LaunchForm Horizontal { height: auto; }
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
        yield Label("dataset")
        options = [(d, d) for d in self.datasets]
        yield Select(options, id="f-dataset", allow_blank=not options,
                     value=options[0][1] if options else Select.NULL,
                     prompt="no dataset — import one first")
        yield Label("model")
        yield Select(list(MODEL_KINDS), id="f-model-kind", allow_blank=False,
                     value="scratch:tiny")
        yield Input(DEFAULT_PRETRAINED, id="f-model", placeholder="hub id or local directory",
                    disabled=True)
        for name, label, _kind in FIELDS:
            value = self.defaults.get(name)
            yield Label(label)
            yield Input("" if value is None else str(value), id=f"f-{name}")
        with Horizontal():
            yield Button("Check (f6)", id="launch-check")
            yield Button("Start (ctrl+s)", id="launch-go", variant="primary")
        yield Static("", id="launch-command")
        yield Static("", id="launch-findings")

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
        for name, label, k in FIELDS:
            raw = self.query_one(f"#f-{name}", Input).value.strip()
            try:
                if k == "int":
                    data[name] = int(raw)
                elif k == "float":
                    data[name] = float(raw)
                elif k == "opt_int":
                    data[name] = int(raw) if raw else None
                elif k == "opt_str":
                    data[name] = raw or None
                else:
                    data[name] = raw
            except ValueError as exc:
                raise ValueError(f"{label}: {raw!r} is not a valid {k.removeprefix('opt_')}") \
                    from exc
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
        for level, msg in findings:
            style = {"error": "bold red", "warning": "yellow"}.get(level, "")
            t.append(f"{level}: ", style=style)
            t.append(msg + "\n")
        self.query_one("#launch-findings", Static).update(t)
