"""Where a run stands: step, epoch, elapsed time and the resume-aware ETA, for every reader.

`narou-tui status`/`runs` and the Train pane all call `progress_for`, so they cannot show
two different ETAs for one run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.runs.eta import SAVE_KEYS, TOTAL_KEYS, Eta, config_int, estimate
from core.runs.history import RunHistory, compile_activity, read_history
from core.runs.reader import read_config, read_status
from core.runs.rule import ignored_lines
from core.runs.schema import RunState, RunStatus


@dataclass
class ProgressInfo:
    """Everything a progress summary of one run holds (see `progress_for`)."""

    run_id: str = ""
    state: str = "unknown"
    step: int = 0
    total_steps: int | None = None
    epoch: float = 0.0
    elapsed_s: float | None = None
    eta: Eta | None = None
    last_loss: float | None = None
    best_eval: tuple[float, int] | None = None
    exit_reason: str | None = None
    lines: int = 0
    bad_lines: int = 0
    ignored: tuple[str, ...] = ()  # "n lines ignored: <reason>", one per reason
    segment: int = 0
    activity: str | None = None  # what a live job is busy with when steps do not move


def progress_for(run_id: str, h: RunHistory, st: RunStatus | None, config: dict[str, Any],
                 now: float) -> ProgressInfo:
    """The progress of a run from its metrics history, status and frozen config at `now`."""
    total = (st.total_steps if st and st.total_steps else None) or config_int(config, TOTAL_KEYS)
    last = h.last_train()
    step = max(int(last.get("step", 0)) if last else 0, st.step if st else 0)
    # The rate comes from the current segment's train lines only: a resumed run's ETA ignores
    # the old segment's speed and the gap while nothing ran.
    eta = estimate(h.train["t"], h.train["step"], h.segment_start, total,
                   config_int(config, SAVE_KEYS), st.step if st else None)
    # The earliest record: a compiled run's `started` event comes minutes before step 1.
    firsts = [float(h.train["t"][0])] if h.n_train else []
    firsts += [float(e["t"]) for e in h.events[:1] if isinstance(e.get("t"), int | float)]
    start = min(firsts) if firsts else (st.started_at if st else None)
    live = bool(st and RunState(st.state).live)
    end = now if live else (st.updated_at if st and st.updated_at else
                            (float(h.train["t"][-1]) if h.n_train else None))
    loss = last.get("loss") if last else None
    epoch = last.get("epoch", math.nan) if last else math.nan
    segs = h.train["segment"]
    return ProgressInfo(
        run_id=run_id, state=st.state if st else "unknown", step=step, total_steps=total,
        epoch=float(epoch) if math.isfinite(epoch) else (st.epoch if st else 0.0),
        elapsed_s=(end - start) if start is not None and end is not None else None,
        eta=eta, last_loss=loss if loss is not None and math.isfinite(loss) else None,
        best_eval=h.best_eval(), exit_reason=st.exit_reason if st else None,
        lines=h.lines, bad_lines=h.bad_lines, ignored=tuple(ignored_lines(h.ignored)),
        segment=int(segs[-1]) if len(segs) else 0,
        activity=compile_activity(h.events, now) if live else None,
    )


def read_progress(run_dir: Path, now: float | None = None,
                  history: RunHistory | None = None) -> ProgressInfo:
    """`progress_for` a run folder, read from disk (`history` when the caller has it already)."""
    h = history if history is not None else read_history(run_dir)
    return progress_for(run_dir.name, h, read_status(run_dir), read_config(run_dir),
                        time.time() if now is None else now)
