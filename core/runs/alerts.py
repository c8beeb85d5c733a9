"""Alerts worth a terminal bell: finished, failed, died, stopped, NaN loss, stalled, collapse.

Only changes seen while watching alert: attaching to a run that finished last week is
silent, and so is the NaN history it may hold. A stall is "no step for 5x the median step
time", plus one log interval (steps are only seen when a line is logged) and never under
STALL_FLOOR_S, so eval/save pauses of a fast toy run do not cry wolf.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from core.runs.schema import RunState

STALL_FACTOR = 5.0
STALL_FLOOR_S = 10.0
# Repeated NaN lines alert again only after this many seconds.
NAN_REPEAT_S = 60.0
# A collapse lasts many evaluations: alert again only after this many seconds.
COLLAPSE_REPEAT_S = 600.0


@dataclass
class Alert:
    """One alert. kind: finished|failed|died|stopped|nan|stall|collapse; severity as
    Textual's notify."""

    kind: str
    message: str
    severity: str = "warning"
    bell: bool = True


class AlertTracker:
    """Turns successive observations of one run into alerts, each transition once."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self._state: str | None = None
        self._last_nan_alert = -1e18
        self._last_collapse_alert = -1e18
        self._progress_step = -1
        self._progress_t: float | None = None
        self._stalled = False

    def observe_state(self, state: str | None, exit_reason: str | None = None) -> list[Alert]:
        prev, self._state = self._state, state
        if prev is None or state is None or state == prev:
            return []
        try:
            was_live = RunState(prev).live
        except ValueError:
            was_live = False
        if not was_live:
            return []
        why = f": {exit_reason}" if exit_reason else ""
        rid = self.run_id
        if state == RunState.FINISHED:
            return [Alert("finished", f"Run {rid} finished", "information")]
        if state == RunState.FAILED:
            return [Alert("failed", f"Run {rid} failed{why}", "error")]
        if state == RunState.DIED:
            return [Alert("died", f"Run {rid} died (process gone or heartbeat stale){why}",
                          "error")]
        if state == RunState.STOPPED:
            return [Alert("stopped", f"Run {rid} stopped{why}", "information", bell=False)]
        return []

    def observe_nan(self, steps: list[int], now: float | None = None) -> list[Alert]:
        if not steps:
            return []
        now = time.time() if now is None else now
        if now - self._last_nan_alert < NAN_REPEAT_S:
            return []
        self._last_nan_alert = now
        where = f"step {steps[0]}" + (f" (+{len(steps) - 1} more)" if len(steps) > 1 else "")
        return [Alert("nan", f"Run {self.run_id}: NaN/inf loss at {where}", "error")]

    def observe_collapse(self, events: list[dict], now: float | None = None) -> list[Alert]:
        """An alert for newly seen `collapse` events (written from the probe titles or from
        the title-quality figures), at most once per COLLAPSE_REPEAT_S."""
        found = [e for e in events if e.get("event") == "collapse"]
        now = time.time() if now is None else now
        if not found or now - self._last_collapse_alert < COLLAPSE_REPEAT_S:
            return []
        self._last_collapse_alert = now
        e = found[-1]
        return [Alert("collapse", f"Run {self.run_id} collapsed at step {e.get('step')}: "
                                  f"{e.get('reason') or 'one title for every synopsis'}")]

    def observe_progress(
        self, t: np.ndarray, steps: np.ndarray, segment_start: int, state: str | None,
        status_step: int | None = None, now: float | None = None,
    ) -> list[Alert]:
        """Stall check from the current segment's train lines and the status step."""
        now = time.time() if now is None else now
        n = len(steps)
        last_step = int(steps[-1]) if n else -1
        if status_step is not None:
            last_step = max(last_step, status_step)
        if last_step > self._progress_step:
            self._progress_step = last_step
            ahead_of_log = not n or last_step > int(steps[-1])
            # Progress seen only via status.json (between log lines) is dated by our clock.
            self._progress_t = now if ahead_of_log else float(t[-1])
            self._stalled = False
            return []
        if state not in (RunState.RUNNING, RunState.STOPPING) or self._progress_t is None:
            return []
        limit = stall_limit_s(t, steps, segment_start)
        if limit is None or self._stalled:
            return []
        idle = now - self._progress_t
        if idle > limit:
            self._stalled = True
            return [Alert("stall", f"Run {self.run_id} stalled: no step for {idle:.0f} s "
                                   f"(limit {limit:.0f} s)")]
        return []


def stall_limit_s(t: np.ndarray, steps: np.ndarray, segment_start: int) -> float | None:
    """Seconds without a new step that count as a stall, from the recent step times."""
    s0 = max(segment_start, len(steps) - 200, 0)
    tt, ss = t[s0:], steps[s0:]
    if len(ss) < 3:
        return None
    dt, dstep = np.diff(tt), np.diff(ss)
    ok = (dstep > 0) & (dt >= 0)
    if not ok.any():
        return None
    per_step = float(np.median(dt[ok] / dstep[ok]))
    per_line = float(np.median(dt[ok]))
    return max(STALL_FACTOR * per_step + per_line, STALL_FLOOR_S)
