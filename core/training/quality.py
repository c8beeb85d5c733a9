"""Title quality at each evaluation: greedy titles for fixed validation synopses, scored by
the same code as `narou-tui eval`, logged as one `quality` line of metrics.jsonl."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.evaluation.baselines import first_chars, prefix_length
from core.evaluation.data import load_split
from core.evaluation.metrics import TitleScores, score_titles
from core.evaluation.runner import generate_top1
from core.generation.checkpoints import CheckpointInfo
from core.generation.device import DeviceChoice
from core.generation.options import BUILTIN_PRESETS, DecodingOptions
from core.generation.service import LoadedModel, source_limit
from core.paths import Paths

# The figures of a quality line, in the order the docs list them.
QUALITY_KEYS: tuple[str, ...] = (
    "chrf", "bleu", "rouge_l", "distinct_1", "distinct_2", "copy_rate", "mean_len",
)
TIME_SHARE = 0.10  # quality passes stay under this share of the job's time
MIN_SAMPLES = 8  # shrinking never goes below this (a smaller set says little)
# `narou-tui eval`'s default --batch-size: the same batches give the same greedy titles.
QUALITY_BATCH = 16
# TrainerState.extra keys: the sample count in use and the count the baseline was logged for.
SAMPLES_KEY = "quality_samples"
BASELINE_KEY = "quality_baseline_samples"


def quality_options() -> DecodingOptions:
    """Greedy decoding, one title per synopsis (`narou-tui eval --preset greedy`)."""
    return BUILTIN_PRESETS["greedy"]


def figures(scores: TitleScores) -> dict[str, float]:
    """The quality line's figures out of an eval score set (chrF, BLEU, ROUGE-L on 0–100)."""
    return {k: float(getattr(scores, k)) for k in QUALITY_KEYS}


def next_sample_count(current: int, seconds: float, job_seconds: float,
                      share: float = TIME_SHARE, floor: int = MIN_SAMPLES) -> int:
    """Samples for the next pass: `current` while the last pass took at most `share` of the
    job's time since the pass before, else as many as fit at the measured cost per sample
    (never below `floor`, never more than `current`: the set only shrinks, so it stays a
    prefix of the same fixed rows and later figures compare with earlier ones)."""
    if current <= floor or seconds <= share * job_seconds:
        return current
    fit = int(share * job_seconds / (seconds / current))
    return max(floor, min(current, fit))


@dataclass
class QualitySet:
    """The fixed synopses scored at every evaluation: the first N validation rows.

    prefix_n: N of the first-N-characters baseline (median training-title length, as eval).
    """

    stories: list[str]
    titles: list[str]
    prefix_n: int


def load_quality_set(paths: Paths, dataset: str, n: int) -> QualitySet:
    """The first `n` validation rows, read the way `narou-tui eval --limit n` reads them."""
    rows = load_split(paths, dataset, "validation")[:n]
    train_titles = [r["title"] for r in load_split(paths, dataset, "train")]
    return QualitySet([r["story"] for r in rows], [r["title"] for r in rows],
                      prefix_length(train_titles))


class QualityMonitor:
    """Runs the quality pass for the main process and adapts its size to its cost."""

    def __init__(self, data: QualitySet, run_dir: Path, share: float = TIME_SHARE) -> None:
        self.data = data
        self.run_dir = run_dir
        self.share = share
        self.samples = len(data.stories)
        self._since = time.perf_counter()  # the job's clock since the previous pass
        self._collapsed = False
        self.off_reason: str | None = None  # set when a pass failed: no more passes

    @classmethod
    def for_run(cls, paths: Paths, run_dir: Path, dataset: str, samples: int) -> QualityMonitor | None:
        """A monitor for a run, or None when quality is off or there is no validation row."""
        if samples <= 0:
            return None
        data = load_quality_set(paths, dataset, samples)
        return cls(data, run_dir) if data.stories else None

    def measure(self, model: Any, tokenizer: Any, device: Any, state: Any, epoch: float,
                metrics: Any) -> float | None:
        """Title the current set with the in-memory model, write the quality line (and, the
        first time for this set, the baseline), and return chrF. `state` is the
        TrainerState: the sample count in use and the baseline's live in its `extra`.

        A pass that fails never ends the run: a `warning` event says why, later evaluations
        skip the pass, and None is returned."""
        if self.off_reason is not None:
            return None
        try:
            return self._measure(model, tokenizer, device, state, epoch, metrics)
        except Exception as exc:  # noqa: BLE001 - a metric must not cost a 50-hour run
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            self.off_reason = (f"title quality is off for the rest of this job: its pass at step "
                               f"{state.step} failed ({type(exc).__name__}: {first})")
            print(f"warning: {self.off_reason}", flush=True)
            if metrics is not None:
                metrics.event(state.step, "warning", reason=self.off_reason)
            return None

    def _measure(self, model: Any, tokenizer: Any, device: Any, state: Any, epoch: float,
                 metrics: Any) -> float:
        start = time.perf_counter()
        job_s = start - self._since
        n = min(self.samples, int(state.extra.get(SAMPLES_KEY) or self.samples))
        stories, titles = self.data.stories[:n], self.data.titles[:n]
        loaded = _as_loaded(model, tokenizer, str(device), self.run_dir, state.step)
        hyps = generate_top1(loaded, stories, quality_options(), QUALITY_BATCH)
        scores = score_titles(hyps, titles, stories)
        seconds = time.perf_counter() - start
        rec: dict[str, Any] = {
            "t": round(time.time(), 3), "step": state.step, "epoch": round(epoch, 4),
            "quality": figures(scores), "quality_samples": n, "quality_s": round(seconds, 3),
        }
        if state.extra.get(BASELINE_KEY) != n:
            base = score_titles(first_chars(stories, self.data.prefix_n), titles, stories)
            rec["baseline"] = figures(base)
            state.extra[BASELINE_KEY] = n
        if metrics is not None:
            metrics.write(rec)
            self._alerts(scores, state.step, metrics)
        smaller = next_sample_count(n, seconds, job_s, self.share)
        if smaller < n and metrics is not None:
            metrics.event(state.step, "quality_reduced", reason=(
                f"title quality: {n} → {smaller} samples, so each pass stays under "
                f"{self.share:.0%} of training time (this one took {seconds:.1f} s of "
                f"{job_s:.1f} s)"), samples=smaller, seconds=round(seconds, 3))
        state.extra[SAMPLES_KEY] = smaller
        self._since = time.perf_counter()
        return scores.chrf

    def _alerts(self, scores: TitleScores, step: int, metrics: Any) -> None:
        """A `collapse` event when the titles stop depending on the synopsis (once per spell)."""
        c = scores.collapse
        if c.collapsed and not self._collapsed:
            metrics.event(step, "collapse", reason=(
                f"title quality: {c.n_distinct} distinct title{'' if c.n_distinct == 1 else 's'} "
                f"for {c.n_inputs} synopses "
                f"(distinct-1 {scores.distinct_1:.2f}); 「{c.top_output}」 for "
                f"{c.top_share:.0%} of them"), title=c.top_output)
        self._collapsed = c.collapsed


def _as_loaded(model: Any, tokenizer: Any, device: str, run_dir: Path, step: int) -> LoadedModel:
    """The training model, in memory, as the generation service would hold it once loaded."""
    info = CheckpointInfo(run_dir.name, f"step-{step}", run_dir, step, True, None, time.time(), 0)
    return LoadedModel(info, model, tokenizer, DeviceChoice(device, "the training job's device"),
                       0.0, source_limit(model))
