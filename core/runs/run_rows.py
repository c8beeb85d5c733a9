"""Text rows of a watched run: its latest events, its probe titles per evaluation, and what a
log tail gained since it was last shown."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from core.runs.history import RunHistory

EVENT_LINES = 12
PROBE_EVALS = 50  # evaluations whose probe titles are listed, newest first
# Events that mean the run is in trouble (shown as alarms).
ALARM_EVENTS = ("oom", "nan", "failed", "collapse")
# Fields every event line has: the rest are the event's details.
_EVENT_KEYS = ("t", "step", "event", "segment")


@dataclass(frozen=True)
class EventRow:
    """One event: local time (month-day hour:minute), step, name with its details, alarm."""

    stamp: str
    step: str
    text: str
    alarm: bool


@dataclass(frozen=True)
class ProbeBlock:
    """One evaluation's probe generations: its heading and (story id, title) pairs."""

    head: str
    titles: list[tuple[str, str]]


def event_rows(events: list[dict[str, Any]], limit: int = EVENT_LINES) -> list[EventRow]:
    """The last `limit` events, oldest first."""
    rows = []
    for e in events[-limit:] if limit else []:
        when = e.get("t")
        stamp = time.strftime("%m-%d %H:%M", time.localtime(when)) \
            if isinstance(when, int | float) else "—"
        detail = " ".join(f"{k}={v}" for k, v in e.items() if k not in _EVENT_KEYS)
        rows.append(EventRow(stamp, str(e.get("step", "?")), f"{e.get('event')} {detail}",
                             e.get("event") in ALARM_EVENTS))
    return rows


def probe_blocks(h: RunHistory, limit: int = PROBE_EVALS) -> list[ProbeBlock]:
    """The probe titles of the last `limit` evaluations, newest first, each headed by its step
    and that evaluation's loss when one was logged."""
    evals = {int(e.get("step", -1)): e for e in h.evals}
    blocks = []
    for p in reversed(h.probes[-limit:]):
        step = p.get("step")
        ev = evals.get(int(step)) if isinstance(step, int) else None
        loss = ev.get("eval_loss") if ev else None
        head = f"step {step:,}" if isinstance(step, int) else "step ?"
        if isinstance(loss, int | float):
            head += f"  eval loss {loss:.4f}"
        titles = [(str(item.get("story_id", "")), str(item.get("title", "")))
                  for item in p.get("probe") or [] if isinstance(item, dict)]
        blocks.append(ProbeBlock(head, titles))
    return blocks


def tail_growth(shown: list[str], tail: list[str]) -> list[str] | None:
    """The lines to append when `tail` only moved on from `shown` (the same start, more lines);
    None when it is another text, to be shown from scratch."""
    if shown and len(tail) >= len(shown) and tail[: len(shown)] == shown:
        return tail[len(shown):]
    return None
