"""The whole history of one run in memory, grown incrementally from metrics/gpu chunks.

`RunHistory.apply(chunk)` costs O(chunk) (numpy appends, pyramid and EMA tails only).
Which lines count, and when a resume replaces kept lines, is core.runs.rule's decision:
the history only carries it out, so applying a file in any chunking gives one history.
Events are all kept (they are the history).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.runs.parse import GPU_FIELDS, TRAIN_FIELDS, GpuChunk, MetricChunk
from core.runs.quality_lines import quality_value
from core.runs.reader import RunReader
from core.runs.rule import HistoryRule, float_field, is_resume_event, marked_kind, step_of
from core.runs.series import Columns, MinMaxPyramid, ema

# Series that get a min/max pyramid (what the charts plot).
PLOTTED: tuple[str, ...] = ("loss", "lr", "grad_norm", "samples_per_s", "ema")
GPU_PLOTTED: tuple[str, ...] = ("util", "mem_used_mib", "mem_total_mib", "temp_c", "power_w")
# gpu.jsonl minute aggregates carry <k>_min/<k>_max; raw samples only <k>.
GPU_SPREAD: tuple[str, ...] = ("util", "mem_used_mib", "temp_c", "power_w")
DEFAULT_SMOOTHING = 0.9


@dataclass
class ApplyResult:
    """What one apply changed: appended train rows, rows dropped by a resume, lines the rule
    ignored, new NaNs."""

    appended: int = 0
    truncated: int = 0
    ignored: int = 0
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
        self.qualities: list[dict[str, Any]] = []  # title-quality lines, one per evaluation
        gdt: dict[str, Any] = {k: np.float64 for k in GPU_FIELDS} | {"index": np.int64}
        gdt |= {f"{k}_{e}": np.float64 for k in GPU_SPREAD for e in ("lo", "hi")}
        self.gpu = Columns(gdt)
        self.gpu_pyramids = {k: MinMaxPyramid() for k in GPU_PLOTTED}
        self.gpu_indices: set[int] = set()
        # Index of the first train row of the current segment (after the last resume).
        self.segment_start = 0
        self.rule = HistoryRule()
        self.gpu_unavailable: str | None = None
        self.lines = 0
        self.bad_lines = 0
        self.version = 0

    # ----------------------------------------------------------------- metrics
    @property
    def ignored(self) -> dict[str, int]:
        """Lines the rule ignored so far, by reason (core.runs.rule)."""
        return {k: v for k, v in self.rule.ignored.items() if v}

    def apply(self, chunk: MetricChunk) -> ApplyResult:
        res = ApplyResult()
        ignored_before = sum(self.rule.ignored.values())
        self.lines += chunk.lines
        self.bad_lines += chunk.bad_lines
        self._lowest = self.train.n  # first row whose EMA/pyramid blocks must be redone
        cols = chunk.train
        row = 0
        for rows, rec in zip(chunk.rare_rows, chunk.rare, strict=True):
            kind = marked_kind(rec)
            if kind == "event":
                if is_resume_event(rec):
                    self._train_rows(cols, row, rows, res)
                    row = rows
                    cut = self.rule.resume(rec)
                    if cut is not None:
                        self._cut(cut, res)
                        self.evals = [e for e in self.evals if step_of(e) <= cut]
                        self.probes = [p for p in self.probes if step_of(p) <= cut]
                        self.qualities = [q for q in self.qualities if step_of(q) <= cut]
                self.events.append(rec)
            elif kind == "eval":
                self.rule.admit_marked(rec, self.evals)
            elif kind == "probe":
                self.rule.admit_marked(rec, self.probes)
            elif kind == "quality":
                self.rule.admit_marked(rec, self.qualities)
        self._train_rows(cols, row, len(cols["step"]), res)
        self._refresh_derived(self._lowest)
        res.non_finite_steps = list(chunk.non_finite_steps)
        res.ignored = sum(self.rule.ignored.values()) - ignored_before
        self.version += 1
        return res

    def _train_rows(self, cols: dict[str, np.ndarray], a: int, b: int, res: ApplyResult) -> None:
        """Rows a:b of a chunk's train columns, as the rule decides (appends and cuts)."""
        if b <= a:
            return
        part = {k: v[a:b] for k, v in cols.items()}
        for cut, keep in self.rule.train(part["step"], part["segment"]):
            if cut is not None:
                self._cut(cut, res)
            else:
                rows = part if keep is None else {k: v[keep] for k, v in part.items()}
                self.train.append(rows)
                res.appended += len(rows["step"])

    def _cut(self, after_step: int, res: ApplyResult) -> None:
        """A resume: drop kept train rows after `after_step`; a new segment starts here."""
        keep = int(np.searchsorted(self.train["step"], after_step, "right"))
        res.truncated += self.train.n - keep
        self.train.truncate(keep)
        self.segment_start = keep
        self._lowest = min(self._lowest, keep)

    def _refresh_derived(self, old_n: int) -> None:
        """EMA and pyramids from row `old_n` on (what an append or a cut changed)."""
        if self.train.n > old_n:
            loss = self.train["loss"]
            prev = loss_ema_at(self, old_n) if old_n else None
            self.train["ema"][old_n:] = ema(loss[old_n:], self.smoothing, start=prev)
        for name, pyr in self.pyramids.items():
            pyr.update(self.train[name], old_n)

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
                best = (float(v), step_of(e))
        return best

    def eval_series(self, key: str = "eval_loss") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(step, t, value) arrays of one eval metric."""
        return _series([(e.get("step"), e.get("t"), e.get(key)) for e in self.evals])

    def quality_series(self, key: str = "chrf") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(step, t, value) arrays of one title-quality figure (chrf, distinct_1, …)."""
        return _series([(q.get("step"), q.get("t"), quality_value(q, key))
                        for q in self.qualities])

    def quality_baseline(self, key: str = "chrf") -> float | None:
        """The first-N-characters baseline of a quality figure (the latest one logged)."""
        for q in reversed(self.qualities):
            value = quality_value(q, key, "baseline")
            if value is not None:
                return value
        return None


def _series(rows: list[tuple[Any, Any, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = [r for r in rows if isinstance(r[2], int | float)]
    if not rows:
        z = np.empty(0)
        return z, z, z
    arr = np.array([[float_field(a), float_field(b), float_field(c)] for a, b, c in rows], np.float64)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def read_history(run_dir: Path, chunk_bytes: int = 32 << 20) -> RunHistory:
    """A run's whole metrics history as a fresh reattach builds it (metrics.bin first)."""
    reader, h = RunReader(run_dir), RunHistory()
    while True:
        chunk = reader.poll_metric_chunk(chunk_bytes)
        if chunk.lines == 0:
            return h
        h.apply(chunk)


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
