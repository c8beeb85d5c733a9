"""`narou-tui generate` (titles from a checkpoint) and `narou-tui eval` (metrics + baselines)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from core.cli.errors import CliError
from core.cli.numbers import float_arg, int_arg
from core.durable import replace
from core.paths import Paths

SEED_MAX = 2**32 - 1  # numpy and torch seeds are unsigned 32-bit

# (flag, DecodingOptions field, type, help) — one flag per documented decoding option.
DECODING_FLAGS: tuple[tuple[str, str, Any, str], ...] = (
    ("--num-beams", "num_beams", int_arg(1, 64), "beams kept by beam search (1 = greedy/sampling)"),
    ("--num-return-sequences", "num_return_sequences", int_arg(1, 64), "titles per synopsis"),
    ("--temperature", "temperature", float_arg(0, 100, lo_open=True), "sampling temperature (with --do-sample)"),
    ("--top-k", "top_k", int_arg(0), "sample among the k likeliest tokens (0 = off)"),
    ("--top-p", "top_p", float_arg(0, 1, lo_open=True), "nucleus sampling mass (1 = off)"),
    ("--no-repeat-ngram-size", "no_repeat_ngram_size", int_arg(0, 64), "forbid repeated n-grams (0 = off)"),
    ("--repetition-penalty", "repetition_penalty", float_arg(0, 100, lo_open=True), "> 1 discourages repeated tokens"),
    ("--length-penalty", "length_penalty", float_arg(-100, 100), "> 1 favours longer beams"),
    ("--min-new-tokens", "min_new_tokens", int_arg(0, 512), "minimum title tokens"),
    ("--max-new-tokens", "max_new_tokens", int_arg(1, 512), "maximum title tokens"),
    ("--seed", "seed", int_arg(0, SEED_MAX), "random seed for sampling"),
)


def _add_decoding(p: argparse.ArgumentParser, default_preset: str) -> None:
    g = p.add_argument_group("decoding (override the preset)")
    g.add_argument("--preset", default=default_preset,
                   help=f"beam, greedy, creative, diverse or a saved one (default {default_preset})")
    for flag, dest, typ, text in DECODING_FLAGS:
        g.add_argument(flag, dest=dest, type=typ, default=None, help=text)
    g.add_argument("--do-sample", dest="do_sample", action="store_true", default=None,
                   help="sample instead of searching")
    g.add_argument("--device", default="auto",
                   help="auto (GPU only if it has room), cpu, cuda or cuda:N")
    g.add_argument("--batch-size", type=int_arg(1, 4096), default=16, help="synopses per generate call")


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    gen = subparsers.add_parser(
        "generate", parents=[common], help="titles for a synopsis from a checkpoint",
        description="Generate titles. RUN alone uses its best (or newest) complete checkpoint.",
    )
    gen.add_argument("--checkpoint", required=True, metavar="RUN[/checkpoint-N]")
    gen.add_argument("synopsis", nargs="?", help="the synopsis (あらすじ); omit with --input")
    gen.add_argument("--input", type=Path, help="JSONL with 'story' (+ optional 'title', 'ncode')")
    gen.add_argument("--output", type=Path, help="JSONL to write (with --input)")
    gen.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_decoding(gen, "beam")
    gen.set_defaults(func=run_generate)

    ev = subparsers.add_parser(
        "eval", parents=[common], help="score a checkpoint on a split, beside two baselines",
        description="Character-level BLEU/chrF/ROUGE-L, exact match, distinct-1/2, length "
        "error, copy rate and a collapse check, for the model and two baselines.",
    )
    ev.add_argument("--checkpoint", required=True, metavar="RUN[/checkpoint-N]")
    ev.add_argument("--split", choices=("validation", "test"), default="validation")
    ev.add_argument("--dataset", help="dataset name (default: the one the run trained on)")
    ev.add_argument("--limit", type=int_arg(1), help="only the first N rows of the split")
    ev.add_argument("--references", type=Path,
                    help="JSONL with story/title/pred_title_t5 to score beside ours")
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_decoding(ev, "beam")
    ev.set_defaults(func=run_eval_cmd)


def decoding_from_args(args: argparse.Namespace, paths: Paths) -> Any:
    from core.generation.options import DecodingOptions, OptionsError, resolve_preset

    try:
        base = resolve_preset(paths.config_dir, args.preset)
        changes = {f.name: getattr(args, f.name) for f in fields(DecodingOptions)
                   if getattr(args, f.name, None) is not None}
        return base.with_changes(**changes)
    except OptionsError as exc:
        raise CliError(f"decoding options: {exc}") from exc


def _service(paths: Paths, device: str) -> Any:
    from transformers.utils import logging as hf_logging

    from core.generation.service import GenerationService

    # Keep stderr for our own progress and skipped-line messages: no weight-loading bars or
    # load reports from transformers in a command's output.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    return GenerationService(paths, prefer_device=device)


def _progress(quiet: bool) -> Any:
    def report(message: str, _fraction: float) -> None:
        if not quiet:
            print(f"  {message}", file=sys.stderr)

    return report


def _load(service: Any, spec: str, quiet: bool) -> Any:
    from core.generation.checkpoints import CheckpointError

    try:
        info = _resolve(service.paths, spec)
        return service.load(info, _progress(quiet))
    except CheckpointError as exc:
        raise CliError(str(exc), exc.exit_code) from exc


def _resolve(paths: Paths, spec: str) -> Any:
    """The checkpoint `spec` names; a damaged one passed over is said on stderr."""
    from core.generation.checkpoints import resolve_checkpoint

    info = resolve_checkpoint(paths, spec)
    if info.note:
        print(f"narou-tui: warning: {info.note}", file=sys.stderr)
    return info


def run_generate(args: argparse.Namespace, paths: Paths) -> int:
    options = decoding_from_args(args, paths)
    if args.input is None and not args.synopsis:
        raise CliError("give a synopsis, or --input FILE.jsonl --output OUT.jsonl")
    if args.input is not None and args.synopsis:
        raise CliError("give either a synopsis or --input, not both")
    if args.input is not None:
        if args.output is None:
            raise CliError("--input needs --output OUT.jsonl")
        return _generate_batch(args, paths, options)
    if args.batch_size < 1:
        raise CliError("--batch-size must be ≥ 1")
    service = _service(paths, args.device)
    loaded = _load(service, args.checkpoint, args.json)
    result = service.generate(loaded, [args.synopsis], options)[0]
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    print(f"{result.checkpoint} on {loaded.device.reason}")
    for rank, c in enumerate(result.candidates, start=1):
        print(f"{rank:>2}. {c.text}    ({c.score:.3f})")
    return 0


def read_batch_input(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Good records (with their line number) and 'FILE:LINE: why' for every bad line."""
    from core.jsonl import JsonlError, read_objects

    try:
        lines = read_objects(path)
    except JsonlError as exc:
        raise CliError(str(exc)) from exc
    good: list[dict[str, Any]] = []
    bad = list(lines.problems)
    for number, rec in lines.objects:
        story = rec.get("story")
        if not isinstance(story, str) or not story.strip():
            bad.append((number, "field 'story' missing or empty"))
            continue
        wrong = [k for k in ("title", "ncode") if rec.get(k) is not None and not isinstance(rec[k], str)]
        if wrong:
            bad.append((number, f"field '{wrong[0]}' must be a string"))
            continue
        good.append({"line": number, "story": story, "title": rec.get("title"), "ncode": rec.get("ncode")})
    return good, [f"{path}:{number}: {why}" for number, why in sorted(bad)]


def _writable_output(dst: Path) -> Path:
    """The temporary file `dst` is written through, proven creatable before any generation
    (a folder or an unwritable place is refused up front, not after the whole batch)."""
    if dst.is_dir():
        raise CliError(f"--output {dst} is a folder; give a file name such as {dst / 'titles.jsonl'}")
    tmp = dst.with_name(dst.name + ".tmp")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8"):
            pass
    except OSError as exc:
        raise CliError(f"--output {dst}: cannot write there ({exc.strerror or exc})") from None
    return tmp


def _generate_batch(args: argparse.Namespace, paths: Paths, options: Any) -> int:
    src, dst = args.input, args.output
    if dst.resolve() == src.resolve():
        raise CliError("--output must differ from --input (the input file is never modified)")
    if args.batch_size < 1:
        raise CliError("--batch-size must be ≥ 1")
    good, bad = read_batch_input(src)
    for msg in bad:
        print(f"narou-tui: skipped {msg}", file=sys.stderr)
    if not good:
        raise CliError(f"{src}: no usable lines ({len(bad)} bad)")
    tmp = _writable_output(dst)
    try:
        service = _service(paths, args.device)
        loaded = _load(service, args.checkpoint, args.json)
        results = service.generate(loaded, [g["story"] for g in good], options, args.batch_size,
                                   [g["title"] for g in good])
        with open(tmp, "w", encoding="utf-8") as fh:
            for g, r in zip(good, results, strict=True):
                rec = {"line": g["line"], "ncode": g["ncode"], **r.to_json()}
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    summary = {"written": len(results), "skipped": len(bad), "output": str(dst),
               "checkpoint": loaded.spec, "device": loaded.device.device}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(f"{len(results)} synopses → {dst} ({len(bad)} bad line(s) skipped) "
              f"with {loaded.spec} on {loaded.device.device}")
    return 0


def run_eval_cmd(args: argparse.Namespace, paths: Paths) -> int:
    from core.evaluation.data import EvalDataError
    from core.evaluation.runner import EvalConfig, format_table, run_eval
    from core.generation.checkpoints import CheckpointError

    options = decoding_from_args(args, paths)
    if args.batch_size < 1:
        raise CliError("--batch-size must be ≥ 1")
    try:
        checkpoint = _resolve(paths, args.checkpoint).spec
    except CheckpointError as exc:
        raise CliError(str(exc), exc.exit_code) from exc
    config = EvalConfig(checkpoint=checkpoint, split=args.split, dataset=args.dataset,
                        limit=args.limit, references=args.references, options=options,
                        batch_size=args.batch_size)
    try:
        report = run_eval(paths, config, _service(paths, args.device), _progress(args.json))
    except CheckpointError as exc:
        raise CliError(str(exc), exc.exit_code) from exc
    except EvalDataError as exc:
        raise CliError(str(exc)) from exc
    data = report.to_json()
    if args.json:
        print(json.dumps({**data, "path": str(report.path)}, ensure_ascii=False))
        return 0
    part = f" (first {report.limit} of the split: --limit)" if report.limit is not None else ""
    print(f"{report.checkpoint} on {report.dataset}/{report.split}: {report.n} synopses{part}, "
          f"{report.device}, {report.elapsed_s:.1f} s")
    print(f"baselines: first {report.prefix_n} chars of the synopsis; most common training "
          f"title 「{report.common_title}」")
    print(format_table(data["systems"]))
    refs = data["references"]
    if refs:
        print(f"\nreferences {refs['path']} ({refs['n']} novels, {len(refs['skipped'])} skipped):")
        print(format_table(refs["systems"]))
    model_collapse = data["systems"]["model"]["collapse"]
    if model_collapse["collapsed"]:
        print(f"\nWARNING: collapse — {model_collapse['n_distinct']} distinct titles for "
              f"{model_collapse['n_inputs']} synopses; 「{model_collapse['top_output']}」 for "
              f"{model_collapse['top_share']:.0%} of them")
    print(f"\nwritten {report.path}")
    return 0
