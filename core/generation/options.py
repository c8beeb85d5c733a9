"""Decoding options, the named presets, and user presets saved in the config folder."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from core.durable import atomic_write_json

PRESETS_FILE = "decoding_presets.json"


class OptionsError(ValueError):
    """A decoding option out of range, or a presets file that cannot be read."""


@dataclass(frozen=True)
class DecodingOptions:
    """How titles are decoded (the arguments of `model.generate`, documented for users).

    num_beams: beams kept by beam search; 1 means greedy or pure sampling.
    num_return_sequences: titles returned per synopsis (≤ num_beams unless sampling).
    do_sample: draw tokens at random from the (filtered) distribution instead of argmax.
    temperature: divides the logits before sampling; < 1 sharper, > 1 flatter (sampling only).
    top_k: sample only among the k most likely tokens; 0 disables the filter.
    top_p: sample only from the smallest set whose probability reaches p (nucleus); 1 disables.
    no_repeat_ngram_size: forbid repeating any n-gram of this many tokens; 0 disables.
    repetition_penalty: > 1 makes tokens already in the title less likely; 1 disables.
    length_penalty: exponent on length when ranking beams; > 1 favours longer titles.
    min_new_tokens: the title has at least this many tokens before [SEP] may end it.
    max_new_tokens: hard cap on title tokens.
    seed: random seed applied before sampling so a sampled run can be repeated; None = fresh.
    """

    num_beams: int = 4
    num_return_sequences: int = 3
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 50
    top_p: float = 1.0
    no_repeat_ngram_size: int = 0
    repetition_penalty: float = 1.0
    length_penalty: float = 1.0
    min_new_tokens: int = 1
    max_new_tokens: int = 48
    seed: int | None = None

    def validate(self) -> DecodingOptions:
        """Return self, or raise OptionsError naming the field that is out of range."""
        problems = [f"{f.name} must be a finite number" for f in fields(self)
                    if isinstance(getattr(self, f.name), float) and not math.isfinite(getattr(self, f.name))]
        if problems:  # NaN compares false with every bound below
            raise OptionsError("; ".join(problems))
        if self.num_beams < 1:
            problems.append("num_beams must be ≥ 1")
        if self.num_return_sequences < 1:
            problems.append("num_return_sequences must be ≥ 1")
        if not self.do_sample and self.num_return_sequences > self.num_beams:
            problems.append(
                f"num_return_sequences ({self.num_return_sequences}) must be ≤ num_beams "
                f"({self.num_beams}) unless do_sample is on"
            )
        if self.temperature <= 0:
            problems.append("temperature must be > 0")
        if self.top_k < 0:
            problems.append("top_k must be ≥ 0")
        if not 0 < self.top_p <= 1:
            problems.append("top_p must be in (0, 1]")
        if self.no_repeat_ngram_size < 0:
            problems.append("no_repeat_ngram_size must be ≥ 0")
        if self.repetition_penalty <= 0:
            problems.append("repetition_penalty must be > 0")
        if self.min_new_tokens < 0 or self.max_new_tokens < 1:
            problems.append("min_new_tokens must be ≥ 0 and max_new_tokens ≥ 1")
        elif self.min_new_tokens > self.max_new_tokens:
            problems.append("min_new_tokens must be ≤ max_new_tokens")
        if problems:
            raise OptionsError("; ".join(problems))
        return self

    def generate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `model.generate` (sampling knobs only when sampling)."""
        kw: dict[str, Any] = {
            "num_beams": self.num_beams,
            "num_return_sequences": self.num_return_sequences,
            "do_sample": self.do_sample,
            "no_repeat_ngram_size": self.no_repeat_ngram_size,
            "repetition_penalty": self.repetition_penalty,
            "min_new_tokens": self.min_new_tokens,
            "max_new_tokens": self.max_new_tokens,
        }
        if self.num_beams > 1:
            kw["length_penalty"] = self.length_penalty
            kw["early_stopping"] = True
        if self.do_sample:
            kw.update(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)
        return kw

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "preset") -> DecodingOptions:
        """Build from a dict, rejecting unknown keys and wrong types with a clear message."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise OptionsError(f"{where}: unknown decoding option(s) {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        defaults = cls()
        for name, value in data.items():
            default = getattr(defaults, name)
            kwargs[name] = _coerce(name, value, default, where)
        return cls(**kwargs).validate()

    def with_changes(self, **changes: Any) -> DecodingOptions:
        return replace(self, **changes).validate()


def _coerce(name: str, value: Any, default: Any, where: str) -> Any:
    if name == "seed":
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise OptionsError(f"{where}: seed must be an integer or null, got {value!r}")
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float) and isinstance(value, (int, float)) and not isinstance(
        value, bool
    ):
        return float(value)
    raise OptionsError(f"{where}: {name} must be {type(default).__name__}, got {value!r}")


# Built-in presets. "beam" is the default; "creative" samples; "diverse" widens the beam and
# forbids repeats so the returned titles differ from each other.
BUILTIN_PRESETS: dict[str, DecodingOptions] = {
    "beam": DecodingOptions(num_beams=4, num_return_sequences=3),
    "greedy": DecodingOptions(num_beams=1, num_return_sequences=1),
    "creative": DecodingOptions(
        num_beams=1, num_return_sequences=5, do_sample=True, temperature=1.1, top_k=50,
        top_p=0.92, no_repeat_ngram_size=2, repetition_penalty=1.2,
    ),
    "diverse": DecodingOptions(
        num_beams=8, num_return_sequences=5, no_repeat_ngram_size=2, repetition_penalty=1.3,
        length_penalty=1.2,
    ),
}


def _presets_path(config_dir: Path) -> Path:
    return Path(config_dir) / PRESETS_FILE


def load_user_presets(config_dir: Path) -> dict[str, DecodingOptions]:
    """User presets from config_dir/decoding_presets.json ({} when the file is absent)."""
    path = _presets_path(config_dir)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise OptionsError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise OptionsError(f"{path}: expected an object of name → options")
    out = {}
    for name, data in raw.items():
        if not isinstance(data, dict):
            raise OptionsError(f"{path}: preset {name!r} is not an object")
        out[name] = DecodingOptions.from_json(data, where=f"{path}: preset {name!r}")
    return out


def all_presets(config_dir: Path) -> dict[str, DecodingOptions]:
    """Built-in presets, then the user's (a user preset may not shadow a built-in name)."""
    merged = dict(BUILTIN_PRESETS)
    for name, opts in load_user_presets(config_dir).items():
        if name not in BUILTIN_PRESETS:
            merged[name] = opts
    return merged


def save_user_preset(config_dir: Path, name: str, options: DecodingOptions) -> Path:
    """Add or replace one user preset; the file is replaced atomically."""
    name = name.strip()
    if not name:
        raise OptionsError("a preset needs a name")
    if name in BUILTIN_PRESETS:
        raise OptionsError(f"{name!r} is a built-in preset; choose another name")
    options.validate()
    path = _presets_path(config_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    current = {k: v.to_json() for k, v in load_user_presets(config_dir).items()}
    current[name] = options.to_json()
    atomic_write_json(path, current, indent=2)
    return path


def resolve_preset(config_dir: Path, name: str) -> DecodingOptions:
    presets = all_presets(config_dir)
    if name not in presets:
        raise OptionsError(f"unknown preset {name!r}; known: {', '.join(presets)}")
    return presets[name]
