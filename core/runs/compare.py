"""Several runs side by side: curves on a common x axis, the config fields that differ, scores.

A run is read once through `read_history` (the one history rule), then:
  * x axes: optimizer step; samples seen (step × effective batch, per segment from the
    `started`/`resumed` events, so a resume with another micro-batch stays exact); training
    hours (the time each segment's kept history spans, added up: neither the wait between a
    death and its resume nor the steps the resume redid count);
  * the table: config.json flattened to dotted keys, only the keys whose values differ, with
    ids, paths and timestamps left out (IGNORED_FIELDS), then best eval loss, best chrF and
    their steps, samples/s, training time and state;
  * a leaderboard: runs ranked by one of SORT_KEYS.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.runs.config_diff import IGNORED_FIELDS, differing_fields, is_number
from core.runs.history import RunHistory, read_history
from core.runs.quality_lines import quality_value
from core.runs.reader import RunSummary, read_config, read_status_checked
from core.runs.rule import int_field, step_of
from core.runs.schema import CONFIG_FILE, METRICS_FILE, STATUS_FILE

X_AXES: tuple[str, ...] = ("step", "samples", "hours")
X_LABELS: dict[str, str] = {"step": "optimizer step", "samples": "samples seen",
                            "hours": "training hours"}
# Leaderboard keys: (field of RunScores, larger is better).
SORT_KEYS: dict[str, tuple[str, bool]] = {
    "chrf": ("best_chrf", True), "eval_loss": ("best_eval_loss", False),
    "samples_per_s": ("samples_per_s", True), "wall": ("wall_s", False),
    "step": ("step", True),
}
MISSING = "—"


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
        return {k: _finite_or_none(v) for k, v in self.__dict__.items()}


@dataclass
class ComparedRun:
    """One run's history with its axes: `x_of(name, steps)` maps steps onto any X_AXES axis."""

    run_id: str
    path: Path
    config: dict[str, Any]
    history: RunHistory
    scores: RunScores
    # Per segment, in order: (first step, samples seen at that step, effective batch).
    batch_spans: list[tuple[int, int, int]] = field(default_factory=list)
    hours: np.ndarray = field(default_factory=lambda: np.empty(0))  # per train row

    def x_of(self, axis: str, steps: np.ndarray) -> np.ndarray:
        """`steps` (optimizer steps) on the axis `axis` (one of X_AXES)."""
        steps = np.asarray(steps, np.float64)
        if axis == "samples":
            return samplesvalue_at(self.batch_spans, steps)
        if axis == "hours":
            tr = self.history.train
            if tr.n == 0:
                return np.full(len(steps), np.nan)
            return np.interp(steps, tr["step"].astype(np.float64), self.hours)
        return steps

    def train_x(self, axis: str) -> np.ndarray:
        """The x of every train row on `axis`."""
        if axis == "hours":
            return self.hours
        return self.x_of(axis, self.history.train["step"])

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of an eval key ('eval_loss') or a quality key ('chrf', 'distinct_1')."""
        if key.startswith("eval_"):
            s, _t, v = self.history.eval_series(key)
            return s, v
        rows = [(step_of(q), (q.get("quality") or {}).get(key)) for q in self.history.qualities
                if isinstance(q.get("quality"), dict)]
        rows = [(s, float(v)) for s, v in rows if is_number(v) and s >= 0]
        if not rows:
            return np.empty(0), np.empty(0)
        arr = np.array(rows, np.float64)
        return arr[:, 0], arr[:, 1]


@dataclass
class Comparison:
    """The comparison of several runs: which config fields differ, and each run's figures."""

    runs: list[ComparedRun]
    differing: dict[str, list[Any]]  # display key -> one value per run (None: absent)
    same_count: int
    ignored: tuple[str, ...] = IGNORED_FIELDS

    def rows(self) -> list[tuple[str, list[str]]]:
        """(label, one text per run): the differing fields, then the figures."""
        out = [(k, [fmt_config_value(v) for v in vals]) for k, vals in self.differing.items()]
        sc = [r.scores for r in self.runs]
        out.append(("best eval loss", [value_at(s.best_eval_loss, s.best_eval_step, "{:.4f}") for s in sc]))
        out.append(("best chrF", [value_at(s.best_chrf, s.best_chrf_step, "{:.1f}") for s in sc]))
        out.append(("samples/s", [_fmt(s.samples_per_s, "{:,.1f}") for s in sc]))
        out.append(("wall time", [format_hours(s.wall_s) for s in sc]))
        out.append(("state", [s.state for s in sc]))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": [r.run_id for r in self.runs],
            "differing": {k: [_json_value(v) for v in vals] for k, vals in self.differing.items()},
            "same_fields": self.same_count,
            "ignored_fields": list(self.ignored),
            "scores": [r.scores.to_json() for r in self.runs],
        }


# ---------------------------------------------------------------------- loading
def load_run(run_dir: Path) -> ComparedRun:
    """A run directory read for comparison (its whole history through the history rule)."""
    run_dir = Path(run_dir)
    history = read_history(run_dir)
    return compared_from(run_dir.name, run_dir, read_config(run_dir), history,
                         _state_of(run_dir))


def compared_from(run_id: str, path: Path, config: dict[str, Any], history: RunHistory,
                  state: str) -> ComparedRun:
    """A ComparedRun from a history already in memory (the Train pane's watched run)."""
    spans = batch_spans(history, config)
    hours = training_hours(history)
    return ComparedRun(run_id, path, config, history, scores_of(run_id, history, state, spans, hours),
                       spans, hours)


def _state_of(run_dir: Path) -> str:
    status, problem = read_status_checked(run_dir)
    if problem:
        return "unreadable"
    return status.state if status else "unknown"


# ---------------------------------------------------------------------- x axes
def effective_batch(config: dict[str, Any]) -> int | None:
    """Samples per optimizer step from config.json (micro-batch × accumulation × processes)."""
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    bs, ga = int_field(train.get("batch_size")), int_field(train.get("grad_accum"), 1)
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
        eb = effective_batch(config)
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


# ---------------------------------------------------------------------- scores
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


def best_quality(lines: Iterable[dict[str, Any]], key: str) -> tuple[float, int] | None:
    """(highest value of quality[key], its step) over quality lines; None when there is none."""
    best: tuple[float, int] | None = None
    for q in lines:
        v = quality_value(q, key)
        if v is not None and (best is None or v > best[0]):
            best = (v, step_of(q))
    return best


def compare(runs: list[ComparedRun]) -> Comparison:
    diff, same = differing_fields([r.config for r in runs])
    return Comparison(runs, diff, same)


def compare_dirs(run_dirs: list[Path]) -> Comparison:
    return compare([load_run(d) for d in run_dirs])


class RunCache:
    """Compared runs by folder, read again only when one of their files changed (a view that
    refreshes every few seconds re-reads only the runs still training)."""

    def __init__(self) -> None:
        self._runs: dict[Path, tuple[tuple[Any, ...], ComparedRun]] = {}

    def get(self, run_dir: Path) -> ComparedRun:
        run_dir = Path(run_dir)
        key = tuple(_stamp(run_dir / name) for name in (METRICS_FILE, STATUS_FILE, CONFIG_FILE))
        hit = self._runs.get(run_dir)
        if hit is not None and hit[0] == key:
            return hit[1]
        run = load_run(run_dir)
        self._runs[run_dir] = (key, run)
        return run


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


# ---------------------------------------------------------------------- leaderboard
def leaderboard(scores: list[RunScores], key: str) -> list[RunScores]:
    """Runs ranked by SORT_KEYS[key], best first; runs without that figure last (stable)."""
    name, larger_better = SORT_KEYS[key]

    def rank(s: RunScores) -> tuple[int, float]:
        v = getattr(s, name)
        if v is None or not math.isfinite(v):
            return (1, 0.0)
        return (0, -v if larger_better else v)

    return sorted(scores, key=rank)


def rank_runs(runs: list[RunSummary], key: str, cache: RunCache | None = None
              ) -> tuple[list[RunSummary], dict[str, RunScores]]:
    """`runs` in leaderboard order (unreadable ones last) and their scores by run id."""
    get = cache.get if cache is not None else load_run
    scores = {r.run_id: get(r.path).scores for r in runs if not r.problem}
    by_id = {r.run_id: r for r in runs}
    ranked = [by_id[s.run_id] for s in leaderboard(list(scores.values()), key)]
    return ranked + [r for r in runs if r.problem], scores


# ---------------------------------------------------------------------- text
def format_hours(seconds: float | None) -> str:
    """'1.25 h', '12.5 min', '42 s' or '—' (training time is compared, not read to the second)."""
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def fmt_config_value(v: Any) -> str:
    if v is None:
        return MISSING
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def table_text(cmp: Comparison, width: int | None = None) -> list[str]:
    """The comparison as text lines: one column per run, one row per differing field/figure."""
    rows = cmp.rows()
    label_w = max([len(label) for label, _ in rows] + [len("run")])
    cols = [r.run_id for r in cmp.runs]
    widths = [max([len(c)] + [len(vals[i]) for _, vals in rows]) for i, c in enumerate(cols)]
    lines = ["  ".join([f"{'run':<{label_w}}"] + [f"{c:<{w}}" for c, w in zip(cols, widths, strict=True)])]
    for label, vals in rows:
        lines.append("  ".join([f"{label:<{label_w}}"]
                               + [f"{v:<{w}}" for v, w in zip(vals, widths, strict=True)]))
    if not cmp.differing:
        lines.append("(no config field differs)")
    lines = [ln.rstrip() for ln in lines]
    return [ln[:width] for ln in lines] if width else lines


def value_at(v: float | None, step: int | None, fmt: str) -> str:
    """'7.8624 @6': a best figure and the step it was reached at ('—' when there is none)."""
    if v is None or not math.isfinite(v):
        return MISSING
    return fmt.format(v) + (f" @{step:,}" if step is not None and step >= 0 else "")


def _fmt(v: float | None, fmt: str) -> str:
    return MISSING if v is None or not math.isfinite(v) else fmt.format(v)


def _finite_or_none(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _json_value(v: Any) -> Any:
    return _finite_or_none(v) if not isinstance(v, list | dict) else v
