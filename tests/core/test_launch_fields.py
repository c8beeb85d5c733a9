"""The launch form's fields without a terminal: defaults, typed parsing with the field named,
the model choice, the config they build and a refused launch as findings."""

from __future__ import annotations

from typing import Any

import pytest

from core.training.config import ConfigError, TrainConfig
from core.training.launch_fields import (
    FIELDS,
    MODEL_KINDS,
    config_defaults,
    form_config,
    model_values,
    parse_field,
    refusal_findings,
)


def _field(name: str) -> Any:
    return next(f for f in FIELDS if f.name == name)


def _typed(overrides: dict[str, str]) -> dict[str, Any]:
    """Every field's default typed in, as a fresh form holds it, with some fields retyped."""
    defaults = config_defaults()
    values: dict[str, Any] = {"dataset": "sample", **model_values("scratch:tiny", "")}
    for f in FIELDS:
        raw = overrides.get(f.name, "" if defaults.get(f.name) is None else str(defaults[f.name]))
        values[f.name] = parse_field(f, raw)
    return values


def test_every_field_is_a_config_field_with_its_default() -> None:
    defaults = config_defaults()
    names = [f.name for f in FIELDS]
    assert len(names) == len(set(names))
    assert set(names) <= set(defaults)
    assert defaults["lr"] == TrainConfig(dataset="x").lr


def test_typed_text_parses_by_kind_and_names_the_field() -> None:
    assert parse_field(_field("epochs"), " 2.5 ") == 2.5
    assert parse_field(_field("max_steps"), "") is None
    assert parse_field(_field("max_steps"), "60") == 60
    assert parse_field(_field("tokenizer"), "  ") is None
    assert parse_field(_field("run_name"), " demo ") == "demo"
    with pytest.raises(ValueError, match=r"^max steps: 'abc' is not a valid int$"):
        parse_field(_field("max_steps"), "abc")
    with pytest.raises(ValueError, match=r"^learning rate: '1e' is not a valid float$"):
        parse_field(_field("lr"), "1e")


def test_model_choice() -> None:
    assert [v for _, v in MODEL_KINDS][-1] == "pretrained"
    assert model_values("scratch:small", "ignored") == {"scratch": "small", "model": None}
    assert model_values("pretrained", " /models/bert ") == {"scratch": None,
                                                            "model": "/models/bert"}
    assert model_values("pretrained", "") == {"scratch": None, "model": None}


def test_a_fresh_form_builds_the_seed_recipe_and_bad_values_are_refused() -> None:
    assert form_config(_typed({})).to_json() == \
        TrainConfig(dataset="sample", scratch="tiny").to_json()
    assert form_config(_typed({"seed": "7"})).seed == 7
    with pytest.raises(ConfigError):
        form_config(_typed({"log_steps": "0"}))
    # Title quality, the best-checkpoint measure and early stopping are set from the form too,
    # and the equivalent command carries them.
    cfg = form_config(_typed({"best_by": "chrf", "early_stop": "3", "early_stop_metric": "chrf",
                              "quality_samples": "64"}))
    assert (cfg.best_by, cfg.early_stop, cfg.early_stop_metric, cfg.quality_samples) == \
        ("chrf", 3, "chrf", 64)
    assert cfg.cli_command().endswith("--quality-samples 64 --best-by chrf --early-stop 3 "
                                      "--early-stop-metric chrf")
    with pytest.raises(ConfigError, match="best_by"):
        form_config(_typed({"best_by": "bleu"}))


def test_a_refused_launch_lists_one_finding_per_line() -> None:
    error = "preflight refused:\n - dataset 'x' not found\n\n - no tokenizer\n"
    assert refusal_findings(error) == [("error", "preflight refused:"),
                                       ("error", "dataset 'x' not found"),
                                       ("error", "no tokenizer")]
