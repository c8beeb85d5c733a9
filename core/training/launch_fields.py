"""The fields of a launch form: which TrainConfig fields a user sets, how typed text parses, and
the settings a form's values give (the Train pane's form and tests use them alike)."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any

from core.training.config import TrainConfig


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
    # Title quality at each evaluation, and what it decides.
    FormField("quality_samples", "quality samples", "int", "0: no title quality"),
    FormField("best_by", "best checkpoint by", "str", "eval_loss or chrf"),
    FormField("early_stop", "early stop: evals", "int", "0: never"),
    FormField("early_stop_metric", "early stop metric", "str", "eval_loss or chrf"),
    FormField("early_stop_min_delta", "early stop delta", "float"),
)
FIELDS: tuple[FormField, ...] = tuple(f for _, group in GROUPS for f in group) + ADVANCED
MODEL_KINDS: tuple[tuple[str, str], ...] = (
    ("scratch: tiny (CPU smoke test)", "scratch:tiny"),
    ("scratch: small", "scratch:small"),
    ("scratch: base", "scratch:base"),
    ("pretrained (hub id or local dir)", "pretrained"),
)
DEFAULT_PRETRAINED = "tohoku-nlp/bert-base-japanese-v3"


def config_defaults() -> dict[str, Any]:
    """TrainConfig's default value of every field that has one (the seed recipe)."""
    return {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}


def parse_field(field: FormField, raw: str) -> Any:
    """The typed value of a field's text (stripped); ValueError names the field."""
    raw = raw.strip()
    try:
        if field.kind == "int":
            return int(raw)
        if field.kind == "float":
            return float(raw)
        if field.kind == "opt_int":
            return int(raw) if raw else None
        if field.kind == "opt_str":
            return raw or None
        return raw
    except ValueError as exc:
        raise ValueError(f"{field.label}: {raw!r} is not a valid "
                         f"{field.kind.removeprefix('opt_')}") from exc


def model_values(kind: str, model: str) -> dict[str, Any]:
    """`scratch` and `model` for a MODEL_KINDS value and the pretrained id typed beside it."""
    if kind.startswith("scratch:"):
        return {"scratch": kind.split(":", 1)[1], "model": None}
    return {"scratch": None, "model": model.strip() or None}


def form_config(values: dict[str, Any]) -> TrainConfig:
    """A validated TrainConfig from a form's typed values (ConfigError names the field)."""
    cfg = TrainConfig.from_json(values, source="launch form")
    cfg.validate()
    return cfg


def refusal_findings(error: str) -> list[tuple[str, str]]:
    """A refused launch's message (one finding per line, as launch writes them) as findings."""
    return [("error", line.strip(" -")) for line in error.splitlines() if line.strip()]
