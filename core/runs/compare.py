"""Several runs side by side: each run read once, and the config fields that differ.

A run is read through `read_history` (the one history rule); its x axes (step, samples seen,
training hours) come from run_axes, its figures and the leaderboard from run_scores, and the
table's text from compare_text. The config table holds config.json flattened to dotted keys,
only the keys whose values differ, with ids, paths and timestamps left out (IGNORED_FIELDS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.runs.compare_text import figure_text, fmt_config_value, value_at
from core.runs.config_diff import IGNORED_FIELDS, differing_fields
from core.runs.history import RunHistory, read_history
from core.runs.quality_lines import quality_value
from core.runs.reader import RunSummary, read_config, read_status_checked
from core.runs.rule import step_of
from core.runs.run_axes import batch_spans, samplesvalue_at, training_hours
from core.runs.run_scores import RunScores, finite_or_none, leaderboard, scores_of
from core.runs.schema import CONFIG_FILE, METRICS_FILE, STATUS_FILE
from core.timefmt import format_duration

X_AXES: tuple[str, ...] = ("step", "samples", "hours")
X_LABELS: dict[str, str] = {"step": "optimizer step", "samples": "samples seen",
                            "hours": "training hours"}


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
        rows = [(step_of(q), v) for q in self.history.qualities
                if (v := quality_value(q, key)) is not None and step_of(q) >= 0]
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
        out.append(("samples/s", [figure_text(s.samples_per_s, "{:,.1f}") for s in sc]))
        out.append(("wall time", [format_duration(s.wall_s, "hours") for s in sc]))
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


def rank_runs(runs: list[RunSummary], key: str, cache: RunCache | None = None
              ) -> tuple[list[RunSummary], dict[str, RunScores]]:
    """`runs` in leaderboard order (unreadable ones last) and their scores by run id."""
    get = cache.get if cache is not None else load_run
    scores = {r.run_id: get(r.path).scores for r in runs if not r.problem}
    by_id = {r.run_id: r for r in runs}
    ranked = [by_id[s.run_id] for s in leaderboard(list(scores.values()), key)]
    return ranked + [r for r in runs if r.problem], scores


def _json_value(v: Any) -> Any:
    return finite_or_none(v) if not isinstance(v, list | dict) else v
