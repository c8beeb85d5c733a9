"""Decoding controls: a preset picker and one field per generation option."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Checkbox, Input, Label, Select

from core.generation.options import DecodingOptions, OptionsError

# (field, short label) in display order; do_sample is the checkbox.
FIELDS: tuple[tuple[str, str], ...] = (
    ("num_beams", "beams"),
    ("num_return_sequences", "titles"),
    ("temperature", "temp"),
    ("top_k", "top-k"),
    ("top_p", "top-p"),
    ("no_repeat_ngram_size", "no-rep n"),
    ("repetition_penalty", "rep pen"),
    ("length_penalty", "len pen"),
    ("min_new_tokens", "min tok"),
    ("max_new_tokens", "max tok"),
)
_TYPES = {f.name: f.type for f in fields(DecodingOptions)}


def _field_help() -> dict[str, str]:
    # The dataclass docstring documents each field as "name: text"; reuse it as tooltips.
    out: dict[str, str] = {}
    for line in (DecodingOptions.__doc__ or "").splitlines():
        name, sep, text = line.strip().partition(": ")
        if sep and name in _TYPES:
            out[name] = text
    return out


_HELP = _field_help()


class DecodingForm(Vertical):
    """Edit DecodingOptions; `read()` validates and names the bad field."""

    DEFAULT_CSS = """
    DecodingForm { height: auto; }
    DecodingForm Grid { grid-size: 4; grid-columns: 9 1fr 9 1fr; height: auto; grid-rows: 1; }
    DecodingForm Grid Label { padding: 0 0; }
    DecodingForm Grid Input { border: none; height: 1; padding: 0 1; }
    DecodingForm #preset-row { height: 3; }
    DecodingForm #preset-row Select { width: 1fr; }
    DecodingForm #preset-row Input { width: 16; }
    DecodingForm Checkbox { border: none; height: 1; padding: 0 0; }
    """

    def __init__(self, presets: dict[str, DecodingOptions], current: str = "beam",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.presets = presets
        self.current = current

    def compose(self) -> ComposeResult:
        with Horizontal(id="preset-row"):
            yield Select([(n, n) for n in self.presets], value=self.current, allow_blank=False,
                         id="preset", tooltip="Named decoding presets (saved ones included)")
            yield Input(placeholder="save as…", id="preset-name",
                        tooltip="Name for f6: save these options as a preset")
        with Grid():
            for name, label in FIELDS:
                yield Label(label)
                yield Input(id=f"opt-{name}", tooltip=_HELP.get(name, name))
        yield Checkbox("sample (do_sample)", id="opt-do_sample")

    def on_mount(self) -> None:
        self.apply(self.presets[self.current])

    def apply(self, options: DecodingOptions) -> None:
        for name, _ in FIELDS:
            self.query_one(f"#opt-{name}", Input).value = str(getattr(options, name))
        self.query_one("#opt-do_sample", Checkbox).value = options.do_sample

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.value in self.presets:
            self.current = str(event.value)
            self.apply(self.presets[self.current])

    def set_presets(self, presets: dict[str, DecodingOptions], select: str) -> None:
        self.presets = presets
        sel = self.query_one("#preset", Select)
        sel.set_options([(n, n) for n in presets])
        sel.value = select

    def preset_name(self) -> str:
        return self.query_one("#preset-name", Input).value.strip()

    def read(self) -> DecodingOptions:
        """The options as typed; OptionsError names the field that is wrong."""
        values: dict[str, Any] = {}
        for name, label in FIELDS:
            text = self.query_one(f"#opt-{name}", Input).value.strip()
            kind = _TYPES[name]
            try:
                values[name] = int(text) if kind in (int, "int") else float(text)
            except ValueError:
                raise OptionsError(f"{label} ({name}): {text!r} is not a number") from None
        values["do_sample"] = self.query_one("#opt-do_sample", Checkbox).value
        base = self.presets.get(self.current, DecodingOptions())
        return DecodingOptions(**{**base.to_json(), **values}).validate()
