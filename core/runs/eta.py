"""Resume-aware progress estimates: ETA to the end and to the next checkpoint.

The rate is measured over the current segment only (since the last resume), from its first
to its last train line, so eval and save pauses inside that span are part of the rate and
a restart's warm-up from an old segment does not skew it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# Config keys the training job may use for its save interval (first found wins).
SAVE_KEYS: tuple[str, ...] = ("save_steps", "save_every", "save_interval", "save_every_steps")
TOTAL_KEYS: tuple[str, ...] = ("total_steps", "max_steps")


@dataclass
class Eta:
    """Estimates for one run; None where there is not enough to say.

    steps_per_s: rate over the current segment. eta_end_s / eta_checkpoint_s: seconds until
    the last step / the next save. next_checkpoint_step: step of that save.
    segment_elapsed_s: wall time covered by the current segment's lines.
    """

    steps_per_s: float | None = None
    eta_end_s: float | None = None
    eta_checkpoint_s: float | None = None
    next_checkpoint_step: int | None = None
    segment_elapsed_s: float | None = None


def estimate(
    t: np.ndarray,
    steps: np.ndarray,
    segment_start: int,
    total_steps: int | None,
    save_every: int | None,
    step_now: int | None = None,
) -> Eta:
    """Estimate from train-line times/steps; `segment_start` is the first row after a resume."""
    out = Eta()
    n = len(steps)
    if n == 0:
        return out
    s0 = min(max(segment_start, 0), n - 1)
    t0, t1 = float(t[s0]), float(t[-1])
    d_step = int(steps[-1]) - int(steps[s0])
    out.segment_elapsed_s = t1 - t0 if math.isfinite(t1 - t0) else None
    if d_step <= 0 or not (t1 > t0):
        return out
    rate = d_step / (t1 - t0)
    out.steps_per_s = rate
    now_step = int(steps[-1]) if step_now is None else max(int(step_now), int(steps[-1]))
    if total_steps:
        out.eta_end_s = max(0.0, (total_steps - now_step) / rate)
    if save_every and save_every > 0:
        nxt = (now_step // save_every + 1) * save_every
        if total_steps:
            nxt = min(nxt, total_steps)
        if nxt > now_step:
            out.next_checkpoint_step = nxt
            out.eta_checkpoint_s = (nxt - now_step) / rate
    return out


def config_int(config: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    """First positive int under one of `keys`, at the top level or one level down."""
    scopes: list[dict[str, Any]] = [config]
    scopes += [v for v in config.values() if isinstance(v, dict)]
    for scope in scopes:
        for k in keys:
            v = scope.get(k)
            if isinstance(v, int) and not isinstance(v, bool) and v > 0:
                return v
    return None

