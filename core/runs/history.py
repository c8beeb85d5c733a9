"""The whole history of one run in memory, grown incrementally from metrics/gpu chunks.

`RunHistory.apply(chunk)` costs O(chunk) (numpy appends, pyramid and EMA tails only).
Resumes are handled by step: when a train line's step is not after the last kept one, the
run went back to a checkpoint, so kept lines from that step on belong to a superseded
segment and are dropped (the latest segment's line wins, docs/RUN_DIRECTORY.md). Evals and probes
are de-duplicated by step the same way; events are all kept (they are the history).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.runs.parse import GPU_FIELDS, TRAIN_FIELDS, GpuChunk, MetricChunk
from core.runs.series import Columns, MinMaxPyramid, ema

# Series that get a min/max pyramid (what the charts plot).
PLOTTED: tuple[str, ...] = ("loss", "lr", "grad_norm", "samples_per_s", "ema")
GPU_PLOTTED: tuple[str, ...] = ("util", "mem_used_mib", "mem_total_mib", "temp_c", "power_w")
# gpu.jsonl minute aggregates carry <k>_min/<k>_max; raw samples only <k>.
GPU_SPREAD: tuple[str, ...] = ("util", "mem_used_mib", "temp_c", "power_w")
DEFAULT_SMOOTHING = 0.9


@dataclass
class ApplyResult:
    """What one apply changed: appended train rows, rows dropped by a resume, new NaNs."""

    appended: int = 0
    truncated: int = 0
    non_finite_steps: list[int] = field(default_factory=list)  # NaN/inf loss or grad norm


class RunHistory:
    """Train/eval/event/probe/GPU history of one run (single-threaded: apply on one thread)."""

    def __init__(self, smoothing: float = DEFAULT_SMOOTHING) -> None:
        dtypes: dict[str, Any] = {k: np.float64 for k in TRAIN_FIELDS}
        dtypes |= {"step": np.int64, "segment": np.int64, "ema": np.float64}
        self.train = Columns(dtypes)
        self.pyramids = {k: MinMaxPyramid() for k in PLOTTED}
        self.smoothing = smoothing
        self.evals: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.probes: list[dict[str, Any]] = []
        gdt: dict[str, Any] = {k: np.float64 for k in GPU_FIELDS} | {"index": np.int64}
        gdt |= {f"{k}_{e}": np.float64 for k in GPU_SPREAD for e in ("lo", "hi")}
        self.gpu = Columns(gdt)
        self.gpu_pyramids = {k: MinMaxPyramid() for k in GPU_PLOTTED}
        self.gpu_indices: set[int] = set()
        # Index of the first train row of the current segment (after the last resume).
        self.segment_start = 0
        # segment k -> step its resume continued from (from "resumed" events).
        self.resume_steps: dict[int, int] = {}
        self.gpu_unavailable: str | None = None
        self.lines = 0
        self.bad_lines = 0
        self.version = 0

    # ----------------------------------------------------------------- metrics
    def apply(self, chunk: MetricChunk) -> ApplyResult:
        res = ApplyResult()
        self.lines += chunk.lines
        self.bad_lines += chunk.bad_lines
        for rec in chunk.events:
            seg, step = rec.get("segment"), rec.get("step")
            if rec.get("event") == "resumed" and isinstance(seg, int) and isinstance(step, int):
                self.resume_steps[seg] = step
        cols = chunk.train
        steps, segs = cols["step"], cols["segment"]
        if len(steps):
            # Split where the step goes back or the segment changes (usually no split).
            cut = (steps[1:] <= steps[:-1]) | (segs[1:] != segs[:-1])
            bounds = [0, *(np.flatnonzero(cut) + 1).tolist(), len(steps)]
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                self._append_train({k: v[a:b] for k, v in cols.items()}, res)
        for rec in chunk.evals:
            if not self._superseded(rec):
                self._replace_by_step(self.evals, rec)
        for rec in chunk.probes:
            if not self._superseded(rec):
                self._replace_by_step(self.probes, rec)
        self.events.extend(chunk.events)
        res.non_finite_steps = list(chunk.non_finite_steps)
        self.version += 1
        return res

    def _superseded(self, rec: dict[str, Any]) -> bool:
        """The rundir rule: a line of segment j with step > S_k of a later resume k is stale."""
        seg, step = rec.get("segment", 0), _step(rec)
        if not isinstance(seg, int):
            return False
        return any(k > seg and step > s for k, s in self.resume_steps.items())

    def _append_train(self, part: dict[str, np.ndarray], res: ApplyResult) -> None:
        old_n = self.train.n
        first_step = int(part["step"][0])
        seg = int(part["segment"][0])
        keep = old_n
        new_segment = False
        if old_n:
            steps = self.train["step"]
            last_seg = int(self.train["segment"][-1])
            if seg != last_seg:
                new_segment = True
                if seg in self.resume_steps and seg > last_seg:
                    keep = int(np.searchsorted(steps, self.resume_steps[seg], "right"))
            if keep and first_step <= steps[keep - 1]:
                keep = int(np.searchsorted(steps[:keep], first_step, "left"))
                new_segment = True
        if keep < old_n:
            res.truncated += old_n - keep
            self.train.truncate(keep)
            self.evals = [e for e in self.evals if _step(e) < first_step]
            self.probes = [p for p in self.probes if _step(p) < first_step]
            old_n = keep
        if new_segment:
            self.segment_start = old_n
        self.train.append(part)
        loss = self.train["loss"]
        prev = loss_ema_at(self, old_n) if old_n else None
        self.train["ema"][old_n:] = ema(loss[old_n:], self.smoothing, start=prev)
        for name, pyr in self.pyramids.items():
            pyr.update(self.train[name], old_n)
        res.appended += len(part["step"])

    @staticmethod
    def _replace_by_step(items: list[dict[str, Any]], rec: dict[str, Any]) -> None:
        step = _step(rec)
        while items and _step(items[-1]) >= step:
            items.pop()
        items.append(rec)

    def set_smoothing(self, alpha: float) -> None:
        """Recompute the EMA line for a new smoothing weight (vectorised, ~0.1 s per 1M)."""
        self.smoothing = min(max(alpha, 0.0), 0.999)
        n = self.train.n
        if n:
            self.train["ema"][:] = ema(self.train["loss"], self.smoothing)
            self.pyramids["ema"] = MinMaxPyramid()
            self.pyramids["ema"].update(self.train["ema"], 0)
        self.version += 1

    # ----------------------------------------------------------------- gpu
    def apply_gpu(self, chunk: GpuChunk) -> None:
        if chunk.unavailable:
            self.gpu_unavailable = chunk.unavailable
        if chunk.n == 0:
            self.version += 1
            return
        old_n = self.gpu.n
        cols = dict(chunk.cols)
        if old_n and cols["t"][0] < self.gpu["t"][-1]:
            # Out-of-order sample (clock step): drop what would break the sorted time axis.
            keep = cols["t"] >= self.gpu["t"][-1]
            cols = {k: v[keep] for k, v in cols.items()}
        order = np.argsort(cols["t"], kind="stable")
        if len(order) > 1 and (np.diff(cols["t"]) < 0).any():
            cols = {k: v[order] for k, v in cols.items()}
        for k in GPU_SPREAD:
            with np.errstate(invalid="ignore"):
                cols[f"{k}_lo"] = np.fmin(cols[k], cols.get(f"{k}_min", cols[k]))
                cols[f"{k}_hi"] = np.fmax(cols[k], cols.get(f"{k}_max", cols[k]))
        self.gpu.append(cols)
        self.gpu_indices.update(int(i) for i in np.unique(cols["index"]))
        for name, pyr in self.gpu_pyramids.items():
            if name in GPU_SPREAD:
                pyr.update(self.gpu[f"{name}_lo"], old_n, self.gpu[f"{name}_hi"])
            else:
                pyr.update(self.gpu[name], old_n)
        self.version += 1

    # ----------------------------------------------------------------- views
    @property
    def n_train(self) -> int:
        return self.train.n

    def last_train(self) -> dict[str, float]:
        if not self.train.n:
            return {}
        return {k: float(self.train[k][-1]) for k in self.train.names()}

    def best_eval(self) -> tuple[float, int] | None:
        best: tuple[float, int] | None = None
        for e in self.evals:
            v = e.get("eval_loss")
            if isinstance(v, int | float) and math.isfinite(v) and (best is None or v < best[0]):
                best = (float(v), _step(e))
        return best

    def eval_series(self, key: str = "eval_loss") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(step, t, value) arrays of one eval metric."""
        rows = [(e.get("step"), e.get("t"), e.get(key)) for e in self.evals]
        rows = [r for r in rows if isinstance(r[2], int | float)]
        if not rows:
            z = np.empty(0)
            return z, z, z
        arr = np.array([[_num(a), _num(b), _num(c)] for a, b, c in rows], np.float64)
        return arr[:, 0], arr[:, 1], arr[:, 2]


def compile_activity(events: list[dict[str, Any]], now: float) -> str | None:
    """'compiling the model …' while the job's first compiled step is still running, else None.

    The job writes `compiling` before that step and `compiled` or `compile_failed` after it;
    a quiet minute or two at step 0 is then explained instead of looking stuck.
    """
    for e in reversed(events):
        name = e.get("event")
        if name in ("compiled", "compile_failed", "resumed", "started"):
            return None
        if name == "compiling":
            t = e.get("t")
            since = f" for {int(now - t) // 60}m{int(now - t) % 60:02d}s" if isinstance(t, int | float) else ""
            return f"compiling the model (torch.compile {e.get('mode', 'on')}, first step){since}…"
    return None


def loss_ema_at(h: RunHistory, n: int) -> float:
    """EMA value just before row n (the value an append continues from)."""
    return float(h.train["ema"][n - 1]) if n > 0 else math.nan


def _step(rec: dict[str, Any]) -> int:
    v = rec.get("step")
    try:
        return int(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return -1


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan
