"""Early stopping: after PATIENCE evaluations without improvement a run saves and ends finished.

`EarlyStopRule` is the rule alone (fed one value per evaluation). `EarlyStopper` feeds it from
the run's own metrics.jsonl (eval_loss lines, or the chrF of quality lines), which it tails by
byte offset: a resumed run therefore counts the evaluations made before it was interrupted,
and the rule needs nothing from the loop but the step that was just evaluated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.runs.quality_lines import quality_value
from core.runs.schema import METRICS_FILE, RunState
from core.runs.tail import JsonlTail
from core.training.config import TrainConfig


@dataclass
class EarlyStopRule:
    """Best value so far and evaluations since it improved; lower is better unless `higher`."""

    patience: int
    metric: str = "eval_loss"
    min_delta: float = 0.0
    higher: bool = False
    best: float | None = None
    best_step: int | None = None
    since: int = 0

    def observe(self, step: int, value: float) -> str | None:
        """Feed one evaluation; the reason to stop when PATIENCE evaluations have not improved."""
        if not math.isfinite(value):
            return None
        if self.best is None or (value > self.best + self.min_delta if self.higher
                                 else value < self.best - self.min_delta):
            self.best, self.best_step, self.since = value, step, 0
            return None
        self.since += 1
        if self.since < self.patience:
            return None
        by = f" by more than {self.min_delta:g}" if self.min_delta else ""
        evals = "evaluation" if self.since == 1 else "evaluations"
        return (f"early stop: {self.metric} has not improved{by} for {self.since} {evals} "
                f"(best {self.best:.4f} at step {self.best_step})")


class EarlyStopper:
    """Checks the rule after each evaluation of a run (`check(loop)`, called on every rank)."""

    def __init__(self, cfg: TrainConfig, metrics_path: Any) -> None:
        self.cfg = cfg
        self.tail = JsonlTail(metrics_path)
        self.values: dict[int, float] = {}  # step -> value (a resumed step's newer line wins)
        self.said_missing = False

    @classmethod
    def for_loop(cls, ctx: Any) -> EarlyStopper:
        return cls(ctx.cfg, ctx.run_dir / METRICS_FILE)

    def _read(self) -> None:
        key = self.cfg.early_stop_metric
        for rec in self.tail.poll():
            step = rec.get("step")
            if not isinstance(step, int) or isinstance(step, bool) or "event" in rec:
                continue
            if key == "chrf":
                value = quality_value(rec, "chrf")
            else:
                v = rec.get("eval_loss")
                value = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
            if value is not None:
                self.values[step] = value

    def reason_at(self, step: int) -> tuple[str | None, str | None]:
        """(reason to stop, note to record once) after the evaluation at `step` (main rank)."""
        self._read()
        cfg = self.cfg
        if step not in self.values and cfg.early_stop_metric == "chrf" and not self.said_missing:
            self.said_missing = True
            return None, (f"no quality figures (chrF) arrived with the evaluation at step {step}: "
                          "early stopping by chrf waits for them and does not stop the run")
        rule = EarlyStopRule(cfg.early_stop, cfg.early_stop_metric, cfg.early_stop_min_delta,
                             higher=cfg.early_stop_metric == "chrf")
        reason = None
        for s in sorted(k for k in self.values if k <= step):
            reason = rule.observe(s, self.values[s])
        return reason, None

    def check(self, loop: Any) -> None:
        """After an evaluation: save, record `early_stopped` and end the run as finished when the
        rule says so. Only the main rank reads metrics; the others follow its verdict."""
        if self.cfg.early_stop <= 0 or loop.state.step >= loop.total_steps:
            return  # the last evaluation ends the run anyway
        from core.training.context import StopTraining

        ctx, step = loop.ctx, loop.state.step
        reason = None
        if ctx.dist.main:
            reason, note = self.reason_at(step)
            if note is not None:
                loop._event("early_stop_waiting", reason=note, metric=self.cfg.early_stop_metric)
        if ctx.dist.world > 1:
            torch = loop.torch
            flag = torch.tensor([1 if reason else 0], device=loop.device)
            torch.distributed.broadcast(flag, 0)
            if flag.item() and reason is None:
                reason = "early stop (decided by rank 0)"
        if reason is None:
            return
        loop._event("early_stopped", reason=reason, metric=self.cfg.early_stop_metric,
                    patience=self.cfg.early_stop, min_delta=self.cfg.early_stop_min_delta)
        if loop.last_saved_step != step:
            loop.save("early_stop")
        # Train lines (which move the status' step) come every log_steps; the run ends here.
        loop._status(step=step, epoch=loop._epoch_float())
        raise StopTraining(RunState.FINISHED.value, reason, 0)
