"""EvalTable: scores a checkpoint on validation rows in a worker and shows them beside the baselines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.markup import escape
from textual.widgets import Static
from textual.worker import Worker

from tui.context import app_state
from tui.messages.generate import EvalDone, EvalProgress
from tui.workers import ForwardWorkerFailures, background


class EvalTable(ForwardWorkerFailures, Static):
    """Hidden until the first evaluation; then its progress, then the metrics table."""

    def evaluate(self, spec: str, limit: int, service: Callable[[], Any]) -> None:
        """Score checkpoint `spec` on up to `limit` rows; `service` gives the loaded models."""
        self.add_class("shown")
        self.update(f"evaluating {spec}…")
        self._eval_worker(spec, limit, service)

    @background("gen-eval", exclusive=True, subject=lambda spec, *_: spec)
    def _eval_worker(self, spec: str, limit: int, service: Callable[[], Any]) -> None:
        from core.evaluation.runner import EvalConfig, run_eval

        report = run_eval(app_state(self).paths, EvalConfig(spec, limit=limit), service(),
                          lambda m, f: self.post_message(EvalProgress(m, f)))
        self.post_message(EvalDone(report.to_json(), str(report.path)))

    def on_eval_progress(self, msg: EvalProgress) -> None:
        self.update(f"eval: {msg.text} ({msg.fraction:.0%})")

    def on_eval_done(self, msg: EvalDone) -> None:
        from core.evaluation.runner import format_table

        r = msg.report
        c = r["systems"]["model"]["collapse"]
        warn = (f"\n[b red]collapse: {c['n_distinct']} distinct titles for {c['n_inputs']} "
                f"synopses[/]" if c["collapsed"] else "")
        self.update(f"[b]{escape(r['checkpoint'])}[/b] on {escape(r['dataset'])}/{r['split']} "
                    f"(n={r['n']})\n{escape(format_table(r['systems']))}{warn}")
        self.notify(f"Evaluation written to {msg.path}")

    def worker_failed(self, worker: Worker[Any], line: str) -> None:
        """The evaluation failed (the App has notified): say so where the table would be."""
        self.update(line)
