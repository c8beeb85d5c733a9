"""Which config.json fields differ between runs: flattened to dotted keys, ids and paths left out."""

from __future__ import annotations

import math
from typing import Any

# Always different between runs, paths that say where rather than what, and queue/sweep
# bookkeeping (a sweep point restates train fields, which are compared themselves): never
# compared.
IGNORED_FIELDS: tuple[str, ...] = (
    "run_id", "created", "command", "train.run_name", "paths.*", "dataset.path",
    "tokenizer.path", "tokenizer.dictionary_path", "queue.*", "sweep.index", "sweep.point.*",
)


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted keys ('train.lr'); lists and scalars are leaves."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def ignored(key: str) -> bool:
    return any(key == pat or (pat.endswith(".*") and key.startswith(pat[:-1]))
               for pat in IGNORED_FIELDS)


def display_key(key: str) -> str:
    """'train.lr' → 'lr' (a TrainConfig field reads as its flag); other sections stay dotted."""
    return key[len("train."):] if key.startswith("train.") else key


def differing_fields(configs: list[dict[str, Any]]) -> tuple[dict[str, list[Any]], int]:
    """({display key: one value per run}, how many compared keys were the same in all)."""
    flat = [flatten(c) for c in configs]
    keys: list[str] = []
    for f in flat:
        keys += [k for k in f if k not in keys and not ignored(k)]
    diff: dict[str, list[Any]] = {}
    same = 0
    for k in keys:
        vals = [f.get(k) for f in flat]
        if all(_same(v, vals[0]) for v in vals[1:]):
            same += 1
        else:
            diff[display_key(k)] = vals
    return diff, same


def _same(a: Any, b: Any) -> bool:
    if is_number(a) and is_number(b):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b) and type(a) is type(b)


def is_number(v: Any) -> bool:
    """A JSON number (bools are not numbers here)."""
    return isinstance(v, int | float) and not isinstance(v, bool)
