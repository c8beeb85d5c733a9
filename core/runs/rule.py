"""The one rule for which metrics.jsonl lines count, shared by every reader of a run's history.

The history of a run is superseded only by a resume the writer recorded: a `resumed` event
of a newer segment (everything after its step is replaced), or a train line carrying a
newer `segment` value (everything from its step on is replaced). Any other line that would
rewrite the past is ignored and counted under a reason; it never erases data:
  * a train line whose step is not after the last kept one, in the same segment or with no
    segment (hand-appended, or a second writer): BACKWARD;
  * a line of an older segment arriving after a newer one took over: STALE;
  * a train/eval/probe line without a usable step: NO_STEP.
Evals, probes and quality lines follow the same rule among themselves (a newer segment's
line replaces the older segment's lines from its step on), and resume events cut them like
the train lines.

The live view (RunHistory fed chunk by chunk), a fresh reattach (one big chunk, from the
JSONL or from metrics.bin) and `effective_history` (plain records) all run this class over
the lines in file order, so a file has exactly one history whenever it is read.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

BACKWARD = "step went back without a resume"
STALE = "line of a segment that a later resume replaced"
NO_STEP = "no usable step"
# Train lines: any of these fields with a value (a null counts as absent).
TRAIN_KEYS: tuple[str, ...] = ("loss", "lr", "grad_norm", "samples_per_s")
INT64_MAX = np.iinfo(np.int64).max


def is_train(rec: dict[str, Any]) -> bool:
    return any(rec.get(k) is not None for k in TRAIN_KEYS)


def marked_kind(rec: dict[str, Any]) -> str | None:
    """'probe', 'event', 'quality' or 'eval' for the rare line kinds (train lines are none)."""
    if is_train(rec):
        return None
    if "quality" in rec:
        return "quality"
    if "probe" in rec:
        return "probe"
    if "event" in rec:
        return "event"
    if any(isinstance(k, str) and k.startswith("eval_") for k in rec):
        return "eval"
    return None


def is_resume_event(rec: dict[str, Any]) -> bool:
    """A `resumed` event line (whether it really starts a newer segment is HistoryRule's call)."""
    return marked_kind(rec) == "event" and rec.get("event") == "resumed"


def int_field(v: Any, default: int = -1) -> int:
    """An int64 read of a JSON value (floats truncated); `default` for anything else."""
    if isinstance(v, bool) or v is None:
        return default
    try:
        out = int(v)
    except (TypeError, ValueError, OverflowError):
        return default
    return out if -INT64_MAX <= out <= INT64_MAX else default


def float_field(v: Any) -> float:
    """A float64 read of a JSON value; NaN for a missing, boolean or non-numeric one."""
    if isinstance(v, bool) or v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def ignored_lines(counts: Mapping[str, int]) -> list[str]:
    """One line per reason, e.g. '3 lines ignored: step went back without a resume'."""
    return [f"{n:,} line{'' if n == 1 else 's'} ignored: {reason}"
            for reason, n in counts.items() if n]


class HistoryRule:
    """Decides, line by line in file order, what a run's history keeps (see the module doc).

    It holds only the little state the rule needs; the caller holds the data and applies the
    cuts it is told about (drop kept lines whose step is after the cut).
    """

    def __init__(self) -> None:
        self.segment = -1  # segment of the train history being extended (-1: none yet)
        self.last_step = -1  # last kept train step (-1: none)
        self.resumed_segment = -1  # newest segment a resume event started
        self.ignored: Counter[str] = Counter()

    # ------------------------------------------------------------------ train lines
    def train(self, steps: np.ndarray, segs: np.ndarray) -> list[tuple[int | None, np.ndarray | None]]:
        """Decide a run of consecutive train lines (no event between them).

        Returns operations in order: `(cut, None)`: drop kept rows with step > cut;
        `(None, keep)`: append these rows of the run, `keep` a boolean mask over the whole
        run (None: every row of the run is appended).
        """
        ops: list[tuple[int | None, np.ndarray | None]] = []
        n = len(steps)
        keep = np.zeros(n, bool)
        i = 0
        while i < n:
            change = np.flatnonzero((segs[i:] >= 0) & (segs[i:] != self.segment))
            j = i + int(change[0]) if len(change) else n
            if j > i:
                keep[i:j] = self._same_segment(steps[i:j])
            if j == n:
                break
            seg, step = int(segs[j]), int(steps[j])
            if step < 0:
                self.ignored[NO_STEP] += 1
            elif seg < self.segment:  # with the older lines that follow it (one zombie writer)
                stale = (segs[j:] >= 0) & (segs[j:] < self.segment)
                run = len(stale) if stale.all() else int(np.argmin(stale))
                self.ignored[STALE] += run
                i = j + run
                continue
            else:
                if self.segment >= 0:  # a newer segment: the writer resumed before this step
                    if keep[:j].any():
                        ops.append((None, keep.copy()))
                        keep[:] = False
                    ops.append((step - 1, None))
                    self.last_step = min(self.last_step, step - 1)
                self.segment = seg  # (the first segment named: nothing to replace)
                i = j
                continue  # row j is now a line of the current segment
            i = j + 1
        if keep.any():
            ops.append((None, None if keep.all() and not ops else keep))
        return ops

    def _same_segment(self, steps: np.ndarray) -> np.ndarray:
        """Keep mask for lines of the current segment: each must come after every earlier one."""
        before = np.maximum.accumulate(np.concatenate(([self.last_step], steps[:-1])))
        ok = steps > before
        no_step = steps < 0
        self.ignored[NO_STEP] += int(no_step.sum())
        self.ignored[BACKWARD] += int((~ok & ~no_step).sum())
        self.last_step = max(self.last_step, int(steps.max()))
        return ok & ~no_step

    # ------------------------------------------------------------------ events
    def resume(self, rec: dict[str, Any]) -> int | None:
        """The cut step if `rec` is a resume the writer recorded (a newer segment), else None."""
        if not is_resume_event(rec):
            return None
        seg, step = rec.get("segment"), rec.get("step")
        if not (_is_int(seg) and _is_int(step)) or seg <= self.segment or step < 0:
            return None
        self.segment = self.resumed_segment = seg
        self.last_step = min(self.last_step, step)
        return step

    # ------------------------------------------------------------------ evals, probes
    def admit_marked(self, rec: dict[str, Any], kept: list[dict[str, Any]]) -> None:
        """Append an eval or probe line to `kept` (its kind's lines so far) if the rule keeps it;
        a newer segment's line first drops the older segment's lines from its step on."""
        step = int_field(rec.get("step"))
        seg = int_field(rec.get("segment"))
        if step < 0:
            self.ignored[NO_STEP] += 1
            return
        last_seg = int_field(kept[-1].get("segment")) if kept else -1
        if 0 <= seg < max(self.resumed_segment, last_seg):
            self.ignored[STALE] += 1
            return
        if kept and step <= step_of(kept[-1]):
            if seg <= last_seg:
                self.ignored[BACKWARD] += 1
                return
            while kept and step_of(kept[-1]) >= step:
                kept.pop()
        kept.append(rec)


def step_of(rec: dict[str, Any]) -> int:
    return int_field(rec.get("step"))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and abs(v) <= INT64_MAX


def effective_history(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records the rule keeps, in file order (train lines, evals, probes; every event).

    The plain-record form of what RunHistory builds from a run directory.
    """
    rule = HistoryRule()
    train: list[tuple[int, int]] = []  # (index, step) of kept train lines
    marked: dict[str, list[dict[str, Any]]] = {"eval": [], "probe": [], "quality": []}
    order: dict[int, int] = {}  # id(record) -> index, for evals/probes
    events: list[int] = []
    recs = [r for r in records if isinstance(r, dict)]

    def cut(at: int) -> None:
        while train and train[-1][1] > at:
            train.pop()

    for i, rec in enumerate(recs):
        if is_train(rec):
            steps = np.array([int_field(rec.get("step"))], np.int64)
            segs = np.array([int_field(rec.get("segment"))], np.int64)
            for at, keep in rule.train(steps, segs):
                if at is not None:
                    cut(at)
                elif keep is None or keep[0]:
                    train.append((i, int(steps[0])))
            continue
        kind = marked_kind(rec)
        if kind == "event":
            at = rule.resume(rec)
            if at is not None:
                cut(at)
                for kept in marked.values():
                    kept[:] = [r for r in kept if step_of(r) <= at]
            events.append(i)
        elif kind in marked:
            order[id(rec)] = i
            rule.admit_marked(rec, marked[kind])
    keep_idx = {i for i, _ in train} | set(events)
    keep_idx |= {order[id(r)] for kept in marked.values() for r in kept}
    return [recs[i] for i in sorted(keep_idx)]
