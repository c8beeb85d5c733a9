"""Quality lines of metrics.jsonl (title-quality figures at an eval), recognised by their
`quality` field: {"t", "step", ..., "quality": {"chrf", "bleu", ...}, ...}."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from core.runs.rule import step_of

# Figures where higher is better; for the others (copy_rate, mean_len) "best" means nothing.
HIGHER_IS_BETTER = ("chrf", "bleu", "rouge_l", "distinct_1", "distinct_2")


def quality_value(record: dict[str, Any], key: str, table_name: str = "quality") -> float | None:
    """`record[table_name][key]` (the model's figures, or `"baseline"`'s) when the record is a
    quality line holding a finite number there."""
    table = record.get(table_name)
    if not isinstance(table, dict):
        return None
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def best_quality(lines: Iterable[dict[str, Any]], key: str = "chrf") -> tuple[float, int] | None:
    """(highest `key`, its step) over quality lines, None when none holds it. Give it the lines
    a history kept (`RunHistory.qualities`): a resume's superseded lines must not count."""
    best: tuple[float, int] | None = None
    for q in lines:
        v = quality_value(q, key)
        if v is not None and (best is None or v > best[0]):
            best = (v, step_of(q))
    return best
