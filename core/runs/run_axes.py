"""A run's history on other x axes than the step: samples seen and training hours.

Samples seen count per segment from the job's `started`/`resumed` events (a resume with
another micro-batch stays exact); training hours add up the time each segment's kept history
spans, so neither the wait between a death and its resume nor the steps a resume redid count.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.runs.config_diff import is_number
from core.runs.history import RunHistory
from core.runs.rule import int_field, step_of


def effective_batch(train: dict[str, Any]) -> int | None:
    """Samples per optimizer step that a run's `train` settings give (micro-batch ×
    accumulation × processes); None while either is left to the job to choose ("auto")."""
    bs, ga = int_field(train.get("batch_size")), int_field(train.get("grad_accum"))
    world = int_field(train.get("gpus"), 1) * int_field(train.get("nnodes"), 1)
    return bs * ga * world if bs > 0 and ga > 0 and world > 0 else None


def batch_spans(history: RunHistory, config: dict[str, Any]) -> list[tuple[int, int, int]]:
    """(first step, samples seen before it, effective batch) per segment, from the job's own
    `started`/`resumed` events (they hold the batch it really used), config.json otherwise.

    A later segment starts at its resume step: what the older one logged after it was redone.
    """
    starts: list[tuple[int, int]] = []
    for e in history.events:
        if e.get("event") not in ("started", "resumed"):
            continue
        bs, ga, world = (int_field(e.get(k)) for k in ("batch_size", "grad_accum", "world_size"))
        if min(bs, ga, world) <= 0:
            continue
        step = max(step_of(e), 0)
        while starts and starts[-1][0] >= step:  # a resume replaces what followed its step
            starts.pop()
        starts.append((step, bs * ga * world))
    if not starts:
        train = config.get("train")
        eb = effective_batch(train) if isinstance(train, dict) else None
        if eb is None:
            return []
        starts = [(0, eb)]
    spans, seen = [], 0
    for i, (step, eb) in enumerate(starts):
        if i:
            prev_step, _, prev_eb = spans[-1]
            seen += (step - prev_step) * prev_eb
        spans.append((step, seen, eb))
    return spans


def samplesvalue_at(spans: list[tuple[int, int, int]], steps: np.ndarray) -> np.ndarray:
    """Samples seen after each of `steps` (NaN when the batch is not known)."""
    steps = np.asarray(steps, np.float64)
    if not spans:
        return np.full(len(steps), np.nan)
    first = np.array([s for s, _, _ in spans], np.float64)
    i = np.clip(np.searchsorted(first, steps, "right") - 1, 0, len(spans) - 1)
    seen = np.array([b for _, b, _ in spans], np.float64)[i]
    eb = np.array([e for _, _, e in spans], np.float64)[i]
    return seen + (steps - first[i]) * eb


def segment_spans(history: RunHistory) -> dict[int, tuple[float, float]]:
    """Per segment: (first, last) time of its kept train lines and all its events."""
    spans: dict[int, tuple[float, float]] = {}

    def add(seg: int, t: float) -> None:
        if math.isfinite(t):
            lo, hi = spans.get(seg, (t, t))
            spans[seg] = (min(lo, t), max(hi, t))

    tr = history.train
    segs = np.maximum(tr["segment"], 0)
    for seg in np.unique(segs).tolist():
        t = tr["t"][segs == seg]
        t = t[np.isfinite(t)]
        if len(t):
            add(int(seg), float(t.min()))
            add(int(seg), float(t.max()))
    for e in history.events:
        if is_number(e.get("t")):
            add(max(int_field(e.get("segment"), 0), 0), float(e["t"]))
    return spans


def training_hours(history: RunHistory) -> np.ndarray:
    """Training hours at each train row: time since its segment began plus the whole length
    of every earlier segment as kept (the wait between a death and its resume is not training,
    and the steps a resume redid are counted once)."""
    tr = history.train
    if tr.n == 0:
        return np.empty(0)
    spans = segment_spans(history)
    before, total = {}, 0.0
    for seg in sorted(spans):
        before[seg] = total
        total += spans[seg][1] - spans[seg][0]
    segs = np.maximum(tr["segment"], 0)
    start = np.array([spans.get(int(s), (math.nan, math.nan))[0] for s in segs.tolist()])
    offset = np.array([before.get(int(s), 0.0) for s in segs.tolist()])
    return (offset + tr["t"] - start) / 3600.0
