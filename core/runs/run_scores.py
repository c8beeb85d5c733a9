"""One run's figures for the comparison table and the leaderboard, and the ranking by them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.runs.history import RunHistory
from core.runs.quality_lines import best_quality
from core.runs.run_axes import samplesvalue_at, segment_spans

# Leaderboard keys: (field of RunScores, larger is better).
SORT_KEYS: dict[str, tuple[str, bool]] = {
    "chrf": ("best_chrf", True), "eval_loss": ("best_eval_loss", False),
    "samples_per_s": ("samples_per_s", True), "wall": ("wall_s", False),
    "step": ("step", True),
}


@dataclass
class RunScores:
    """The figures of one run in the comparison table and the leaderboard (None: not known)."""

    run_id: str
    state: str
    step: int = 0
    samples_seen: int | None = None
    best_eval_loss: float | None = None
    best_eval_step: int | None = None
    best_chrf: float | None = None
    best_chrf_step: int | None = None
    samples_per_s: float | None = None
    wall_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: finite_or_none(v) for k, v in self.__dict__.items()}


def scores_of(run_id: str, history: RunHistory, state: str, spans: list[tuple[int, int, int]],
              hours: np.ndarray) -> RunScores:
    tr = history.train
    sc = RunScores(run_id, state)
    sc.step = int(tr["step"][-1]) if tr.n else 0
    best = history.best_eval()
    if best is not None:
        sc.best_eval_loss, sc.best_eval_step = best
    chrf = best_quality(history.qualities, "chrf")
    if chrf is not None:
        sc.best_chrf, sc.best_chrf_step = chrf
    if spans and tr.n:
        sc.samples_seen = int(samplesvalue_at(spans, np.array([sc.step]))[0])
    walls = [hi - lo for lo, hi in segment_spans(history).values()]
    sc.wall_s = sum(walls) if walls else None
    rates = tr["samples_per_s"]
    rates = rates[np.isfinite(rates)]
    # The median of the job's own measurements: warm-up and eval pauses do not pull it down.
    sc.samples_per_s = float(np.median(rates)) if len(rates) else None
    return sc

def leaderboard(scores: list[RunScores], key: str) -> list[RunScores]:
    """Runs ranked by SORT_KEYS[key], best first; runs without that figure last (stable)."""
    name, larger_better = SORT_KEYS[key]

    def rank(s: RunScores) -> tuple[int, float]:
        v = getattr(s, name)
        if v is None or not math.isfinite(v):
            return (1, 0.0)
        return (0, -v if larger_better else v)

    return sorted(scores, key=rank)


def finite_or_none(v: Any) -> Any:
    """`v`, or None for a NaN/inf float (JSON has neither)."""
    return None if isinstance(v, float) and not math.isfinite(v) else v
