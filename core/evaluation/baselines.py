"""The two baselines every evaluation is computed beside: synopsis prefix and commonest title."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

from core.evaluation.metrics import normalize


def prefix_length(train_titles: Sequence[str], default: int = 10) -> int:
    """N for the prefix baseline: the median normalised training-title length (≥ 1)."""
    lengths = [len(normalize(t)) for t in train_titles if normalize(t)]
    return max(1, round(statistics.median(lengths))) if lengths else default


def first_chars(synopses: Sequence[str], n: int) -> list[str]:
    """"The first N characters of the synopsis" (whitespace skipped, as the metrics do)."""
    return [normalize(s)[:n] for s in synopses]


def most_common_title(train_titles: Sequence[str]) -> str:
    """The training title that occurs most often (ties → the one seen first)."""
    if not train_titles:
        return ""
    return Counter(train_titles).most_common(1)[0][0]
