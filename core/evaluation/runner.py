"""Evaluate a checkpoint on a split, beside the two baselines (and reference predictions)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.durable import atomic_write_json
from core.evaluation.baselines import first_chars, most_common_title, prefix_length
from core.evaluation.data import (
    EvalDataError,
    References,
    load_references,
    load_split,
    run_dataset_name,
)
from core.evaluation.metrics import COLLAPSE_THRESHOLD, TitleScores, score_titles
from core.generation.checkpoints import resolve_checkpoint
from core.generation.options import BUILTIN_PRESETS, DecodingOptions
from core.generation.service import GenerationService, generate_batch
from core.paths import Paths
from core.runs.reader import read_config

EVAL_DIR = "eval"
SPLITS = ("validation", "test")
SAMPLES_KEPT = 20

Progress = Callable[[str, float], None]


def default_eval_options() -> DecodingOptions:
    """Beam search returning one title: what the metrics score."""
    return BUILTIN_PRESETS["beam"].with_changes(num_return_sequences=1)


@dataclass
class EvalConfig:
    """One evaluation.

    checkpoint: `RUN` or `RUN/checkpoint-N`.
    split: "validation" or "test".
    dataset: dataset name; None = the one the run was trained on (config.json).
    limit: evaluate only the first N rows of the split (None = all).
    references: JSONL with story/title/pred_title_t5 to score beside ours (evaluation only).
    options: decoding options; one title per synopsis is scored (the best).
    batch_size: synopses per generate call.
    collapse_threshold: distinct outputs ÷ inputs below which the model is flagged.
    """

    checkpoint: str
    split: str = "validation"
    dataset: str | None = None
    limit: int | None = None
    references: Path | None = None
    options: DecodingOptions = field(default_factory=default_eval_options)
    batch_size: int = 32
    collapse_threshold: float = COLLAPSE_THRESHOLD


@dataclass
class EvalReport:
    """What `narou-tui eval` prints and writes to `<run>/eval/<checkpoint>-<split>.json`."""

    checkpoint: str
    dataset: str
    split: str
    n: int
    device: str
    elapsed_s: float
    options: dict[str, Any]
    systems: dict[str, TitleScores]
    prefix_n: int
    common_title: str
    samples: list[dict[str, str]]
    references: dict[str, Any] | None = None
    limit: int | None = None  # only the first `limit` rows of the split (None: all of it)
    created: float = field(default_factory=time.time)
    path: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint,
            "dataset": self.dataset,
            "split": self.split,
            "n": self.n,
            "limit": self.limit,
            "device": self.device,
            "elapsed_s": round(self.elapsed_s, 3),
            "created": self.created,
            "options": self.options,
            "baselines": {"first_n_chars": self.prefix_n, "most_common_title": self.common_title},
            "systems": {k: v.to_json() for k, v in self.systems.items()},
            "samples": self.samples,
            "references": self.references,
        }


def _first(options: DecodingOptions) -> DecodingOptions:
    # Metrics score one title per synopsis; asking for more only costs time.
    return options.with_changes(num_return_sequences=1)


def run_eval(
    paths: Paths, config: EvalConfig, service: GenerationService | None = None,
    progress: Progress | None = None,
) -> EvalReport:
    """Generate for the split, score model + baselines (+ references), write the report."""
    report = progress or (lambda _m, _f: None)
    if config.split not in SPLITS:
        raise EvalDataError(f"split must be one of {', '.join(SPLITS)}, not {config.split!r}")
    if config.limit is not None and config.limit < 1:
        raise EvalDataError("--limit must be ≥ 1")
    info = resolve_checkpoint(paths, config.checkpoint)
    dataset = config.dataset or run_dataset_name(read_config(info.path.parent))
    if not dataset:
        raise EvalDataError(
            f"run {info.run_id!r} does not record its dataset; pass --dataset NAME"
        )
    t0 = time.perf_counter()
    report(f"reading {dataset}/{config.split}", 0.02)
    rows = load_split(paths, dataset, config.split)
    # A partial eval is a different measurement: it gets its own file, never the full report's.
    partial = config.limit if config.limit is not None and config.limit < len(rows) else None
    if partial is not None:
        rows = rows[:partial]
    if not rows:
        raise EvalDataError(f"dataset {dataset!r}/{config.split} is empty")
    train_titles = [r["title"] for r in load_split(paths, dataset, "train")]
    refs = load_references(config.references) if config.references else None

    service = service or GenerationService(paths)
    loaded = service.load(info, lambda m, f: report(m, 0.05 + 0.15 * f))
    options = _first(config.options)
    stories = [r["story"] for r in rows]
    titles = [r["title"] for r in rows]
    hyps = generate_top1(loaded, stories, options, config.batch_size,
                          lambda f: report(f"generating {config.split}", 0.2 + 0.6 * f))
    n_prefix = prefix_length(train_titles)
    common = most_common_title(train_titles)
    thr = config.collapse_threshold
    systems = {
        "model": score_titles(hyps, titles, stories, thr),
        "first_n_chars": score_titles(first_chars(stories, n_prefix), titles, stories, thr),
        "most_common_title": score_titles([common] * len(rows), titles, stories, thr),
    }
    ref_section = None
    if refs is not None:
        ref_stories = [r["story"] for r in refs.rows]
        ref_hyps = generate_top1(loaded, ref_stories, options, config.batch_size,
                                  lambda f: report("generating for references", 0.8 + 0.15 * f))
        ref_section = score_references(refs, ref_hyps, n_prefix, common, thr)
    samples = [
        {"story": r["story"][:120], "title": r["title"], "generated": h}
        for r, h in zip(rows[:SAMPLES_KEPT], hyps, strict=False)
    ]
    result = EvalReport(
        checkpoint=info.spec, dataset=dataset, split=config.split, n=len(rows),
        device=loaded.device.device, elapsed_s=time.perf_counter() - t0,
        options=options.to_json(), systems=systems, prefix_n=n_prefix, common_title=common,
        samples=samples, references=ref_section, limit=partial,
    )
    result.path = write_report(result, info.path.parent, info.name)
    report(f"written {result.path}", 1.0)
    return result


def generate_top1(loaded: Any, stories: list[str], options: DecodingOptions, batch: int,
                  tick: Callable[[float], None] = lambda _f: None) -> list[str]:
    """The best title for each synopsis, `batch` synopses per generate call (the training
    job's quality pass calls this too, so its figures match `narou-tui eval`'s)."""
    out: list[str] = []
    for start in range(0, len(stories), batch):
        chunk = stories[start:start + batch]
        out.extend(c[0].text if c else "" for c in generate_batch(loaded, chunk, options, batch))
        tick(min(1.0, (start + len(chunk)) / len(stories)))
    return out


def score_references(
    refs: References, model_hyps: list[str] | None, prefix_n: int, common_title: str,
    threshold: float = COLLAPSE_THRESHOLD,
) -> dict[str, Any]:
    """Scores on the references' novels: their predictions ("t5"), ours, and the baselines."""
    stories = [r["story"] for r in refs.rows]
    titles = [r["title"] for r in refs.rows]
    systems: dict[str, TitleScores] = {"t5": score_titles([r["pred"] for r in refs.rows],
                                                          titles, stories, threshold)}
    if model_hyps is not None:
        systems["model"] = score_titles(model_hyps, titles, stories, threshold)
    systems["first_n_chars"] = score_titles(first_chars(stories, prefix_n), titles, stories,
                                            threshold)
    if common_title:
        systems["most_common_title"] = score_titles([common_title] * len(titles), titles,
                                                    stories, threshold)
    return {
        "path": str(refs.path),
        "n": len(refs.rows),
        "skipped": refs.problems,
        "systems": {k: v.to_json() for k, v in systems.items()},
    }


def write_report(report: EvalReport, run_dir: Path, checkpoint_name: str) -> Path:
    """`<run>/eval/<checkpoint>-<split>.json` (a partial eval: `...-<split>-limit<N>.json`),
    replaced atomically."""
    out_dir = run_dir / EVAL_DIR
    out_dir.mkdir(exist_ok=True)
    path = out_dir / report_name(checkpoint_name, report.split, report.limit)
    atomic_write_json(path, report.to_json())
    return path


def report_name(checkpoint_name: str, split: str, limit: int | None = None) -> str:
    """File name of an eval report under `<run>/eval/`."""
    return f"{checkpoint_name}-{split}" + (f"-limit{limit}" if limit is not None else "") + ".json"


def latest_reports(run_dir: Path, partial: bool = True) -> list[dict[str, Any]]:
    """Saved eval reports of a run, newest first (unreadable files are skipped); `partial`
    False leaves out the `--limit` ones."""
    out = []
    for p in sorted((run_dir / EVAL_DIR).glob("*.json")):
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict) and (partial or rec.get("limit") is None):
            out.append(rec)
    out.sort(key=lambda r: r.get("created", 0), reverse=True)
    return out


METRIC_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("bleu", "BLEU", "{:.1f}"),
    ("chrf", "chrF", "{:.1f}"),
    ("rouge_l", "ROUGE-L", "{:.1f}"),
    ("exact_match", "EM%", "{:.1f}"),
    ("distinct_1", "dist-1", "{:.2f}"),
    ("distinct_2", "dist-2", "{:.2f}"),
    ("length_abs_error", "len±", "{:.1f}"),
    ("copy_rate", "copy", "{:.2f}"),
)


def format_table(systems: dict[str, dict[str, Any]]) -> str:
    """Plain-text table of systems × metrics, plus a collapse column."""
    header = ["system", *[h for _, h, _ in METRIC_COLUMNS], "distinct/n"]
    rows = [header]
    for name, s in systems.items():
        c = s["collapse"]
        flag = " COLLAPSED" if c["collapsed"] else ""
        rows.append([name, *[fmt.format(s[k]) for k, _, fmt in METRIC_COLUMNS],
                     f"{c['n_distinct']}/{c['n_inputs']}{flag}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(r, widths, strict=True))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
