"""Synthetic run directories for tests and the reattach benchmark: the job's own writers fed
with made-up readings, so the files have exactly the shapes a real run writes."""

from __future__ import annotations

import json
import math
import os
import random
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.durable import atomic_write_json
from core.runs.owner import identity_of
from core.runs.schema import (
    CONFIG_FILE,
    GPU_FILE,
    LOG_FILE,
    METRICS_FILE,
    STATUS_FILE,
    RunState,
    RunStatus,
)
from core.runs.writers import GpuLogger, JsonlWriter, MetricsWriter
from core.telemetry.nvml import GpuSample

PROBE_TITLES = (
    "転生したら最強の村人だった件", "追放された聖女は辺境で幸せになる",
    "悪役令嬢ですが、断罪を回避します", "異世界で喫茶店を開いたら",
)


def _line(rec: dict[str, Any]) -> str:
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n"


@dataclass
class FakeRun:
    """Writes one run dir the way the training job does.

    total_steps / save_every / eval_every: the plan frozen into config.json.
    step_s: seconds of (synthetic) wall time per step; t0: wall time of step 0.
    seed: makes the loss curve and GPU samples deterministic.
    """

    run_dir: Path
    total_steps: int = 1000
    save_every: int = 500
    eval_every: int = 200
    step_s: float = 0.2
    t0: float = 1_750_000_000.0
    seed: int = 0
    segment: int = 0
    step: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.rng = random.Random(self.seed)

    def create(self, state: str = RunState.RUNNING.value, pid: int | None = None) -> FakeRun:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        cfg = {"dataset": "sample", "scratch": "tiny", "max_steps": self.total_steps,
               "save_steps": self.save_every, "eval_steps": self.eval_every, "lr": 5e-5,
               "command": "narou-tui train --dataset sample --scratch tiny"}
        (self.run_dir / CONFIG_FILE).write_text(json.dumps(cfg, ensure_ascii=False))
        for name in (METRICS_FILE, GPU_FILE, LOG_FILE):
            (self.run_dir / name).touch()
        self.write_status(state, pid=pid)
        return self

    def now(self) -> float:
        return self.t0 + self.step * self.step_s

    def write_status(self, state: str, pid: int | None = None, updated_at: float | None = None,
                     exit_reason: str | None = None, host: str | None = None) -> None:
        pid = pid if pid is not None else os.getpid()
        st = RunStatus(
            state=state, pid=pid, **identity_of(pid),  # type: ignore[arg-type]
            host=host or socket.gethostname(), started_at=self.t0,
            updated_at=updated_at if updated_at is not None else time.time(),
            step=self.step, total_steps=self.total_steps,
            epoch=self.step / max(1, self.total_steps) * 3, exit_reason=exit_reason,
        )
        atomic_write_json(self.run_dir / STATUS_FILE, st.to_json())

    def train_line(self, step: int, loss: float | None = None) -> dict[str, Any]:
        frac = step / max(1, self.total_steps)
        if loss is None:
            loss = 2.0 + 6.0 * math.exp(-5 * frac) + self.rng.uniform(-0.15, 0.15)
        warm = min(1.0, step / max(1, 0.06 * self.total_steps))
        return {"t": round(self.t0 + step * self.step_s, 3), "step": step,
                "epoch": round(3 * frac, 4), "loss": loss,
                "lr": 5e-5 * warm * (1 - frac), "grad_norm": round(1 + self.rng.random(), 4),
                "samples_per_s": round(320 + self.rng.uniform(-20, 20), 1),
                "tokens_per_s": 42000.0, "mem_alloc": 9.1e9, "mem_reserved": 1.1e10,
                "segment": self.segment}

    def records_for(self, steps: int, nan_at: int | None = None) -> list[dict[str, Any]]:
        """The records for the next `steps` steps (train lines plus evals/probes/saves)."""
        out: list[dict[str, Any]] = []
        for _ in range(steps):
            self.step += 1
            s = self.step
            loss = math.nan if nan_at == s else None
            out.append(self.train_line(s, loss))
            t = round(self.t0 + s * self.step_s, 3)
            if s % self.eval_every == 0:
                out.append({"t": t, "step": s, "eval_loss": 2.0 + 5.0 * math.exp(-5 * s
                            / self.total_steps), "segment": self.segment})
                titles = [{"story_id": f"n{i:04d}", "title": PROBE_TITLES[(s // self.eval_every
                                                                           + i) % 4]}
                          for i in range(2)]
                out.append({"t": t, "step": s, "probe": titles, "segment": self.segment})
                out.append(self.quality_line(s, t))
            if s % self.save_every == 0:
                out.append({"t": t, "step": s, "event": "saved",
                            "checkpoint": f"checkpoint-{s}", "segment": self.segment})
        return out

    def quality_line(self, step: int, t: float) -> dict[str, Any]:
        """A quality line whose chrF climbs past the baseline (the baseline on the first)."""
        rise = 1 - math.exp(-4 * step / self.total_steps)
        figures = {"chrf": 8 + 22 * rise, "bleu": 2 + 10 * rise, "rouge_l": 10 + 20 * rise,
                   "distinct_1": 0.2 + 0.5 * rise, "distinct_2": 0.3 + 0.6 * rise,
                   "copy_rate": 0.3, "mean_len": 18.0}
        rec = {"t": t, "step": step, "epoch": round(step / self.total_steps, 4),
               "quality": figures, "quality_samples": 128, "quality_s": 1.5,
               "segment": self.segment}
        if step == self.eval_every:
            rec["baseline"] = {"chrf": 14.0, "bleu": 9.0, "rouge_l": 22.0, "distinct_1": 0.6,
                               "distinct_2": 0.9, "copy_rate": 1.0, "mean_len": 18.0}
        return rec

    def lines_for(self, steps: int, nan_at: int | None = None) -> str:
        """The text for the next `steps` steps (as `records_for`), for raw appends."""
        return "".join(_line(r) for r in self.records_for(steps, nan_at))

    def write_records(self, records: list[dict[str, Any]]) -> None:
        """Append through the job's own MetricsWriter (so metrics.bin is kept as a job does);
        a torn last line is left as it is, like the raw appends tests make."""
        w = MetricsWriter(self.run_dir, self.segment, heal=False)
        try:
            w.write_many(records)
        finally:
            w.close(sync=False)

    def append(self, text: str, name: str = METRICS_FILE) -> None:
        with open(self.run_dir / name, "a", encoding="utf-8") as fh:
            fh.write(text)

    def advance(self, steps: int, nan_at: int | None = None) -> None:
        self.write_records(self.records_for(steps, nan_at))

    def log(self, text: str) -> None:
        self.append(text.rstrip("\n") + "\n", LOG_FILE)

    def resume_from(self, step: int) -> None:
        """A new segment continuing from checkpoint `step` (lines after it get superseded)."""
        self.segment += 1
        self.step = step
        self.write_records([{"t": round(self.now(), 3), "step": step, "event": "resumed",
                             "segment": self.segment}])

    def gpu_lines(self, t_start: float, t_end: float, period: float = 2.0,
                  gpus: int = 1) -> str:
        """gpu.jsonl text as the job's GpuLogger writes it (raw samples when values move,
        minute aggregates), from made-up readings every `period` seconds.

        With `gpus` > 1 every card gets its own readings; card k uses 6 GiB less memory than
        card k - 1, so a chart of one card is told apart from another's.
        """
        rounds = [t_start + i * period for i in range(math.ceil((t_end - t_start) / period))]
        cards = [[self._reading(index, t) for t in rounds] for index in range(gpus)]
        logger = GpuLogger(self.run_dir, period_s=period)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "gpu.jsonl"
            logger.drive(JsonlWriter(out), t_start)
            for i, t in enumerate(rounds):
                logger.tick([card[i] for card in cards], t)
            logger.stop()
            return out.read_text(encoding="utf-8")

    def _reading(self, index: int, t: float) -> GpuSample:
        util = min(100.0, max(0.0, 92 + self.rng.gauss(0, 4)))
        return GpuSample(t=t, index=index, name="NVIDIA H100", util=float(round(util)),
                         mem_used_mib=61000.0 - 6144.0 * index + self.rng.choice((0.0, 0.0, 512.0)),
                         mem_total_mib=81559.0, temp_c=float(60 + self.rng.randint(0, 3)),
                         power_w=round(520 + self.rng.gauss(0, 20), 1))
