"""Quality lines of metrics.jsonl (title-quality figures at an eval), recognised by their
`quality` field: {"t", "step", ..., "quality": {"chrf", "bleu", ...}, ...}."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from core.runs.schema import METRICS_FILE

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


def best_quality(run_dir: Path, key: str = "chrf") -> float | None:
    """The highest `key` over a run's quality lines (None: no such line yet). Reads only the
    lines that mention "quality", so a long run's train lines cost a substring test each."""
    best = None
    try:
        with open(Path(run_dir) / METRICS_FILE, "rb") as fh:
            for raw in fh:
                if b'"quality"' not in raw:
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:  # a torn or damaged line
                    continue
                value = quality_value(record, key) if isinstance(record, dict) else None
                if value is not None and (best is None or value > best):
                    best = value
    except OSError:
        return None
    return best
