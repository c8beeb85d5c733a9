"""`narou-tui train | runs | stop | resume | status`: launch and watch training jobs."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from core.cli.errors import CliError
from core.cli.numbers import float_arg, int_arg
from core.cli.runs_cmd import cmd_leaderboard, register_runs_extras
from core.paths import PathError, Paths
from core.training.config import LIMITS


def _typed(field: str, kind: type) -> Any:
    """The argparse type of a TrainConfig field: the same bounds TrainConfig.validate applies."""
    if kind is str:
        return str
    lo, hi = LIMITS.get(field, (None, None))
    return int_arg(lo, hi) if kind is int else float_arg(lo, hi)


# CLI flag -> TrainConfig field, with the argparse type.
_OVERRIDES: tuple[tuple[str, type, str], ...] = (
    ("epochs", float, "epochs to train (default 13)"),
    ("max-steps", int, "stop after this many optimizer steps (wins over --epochs)"),
    ("batch-size", int, "micro-batch per process (default: picked from GPU memory)"),
    ("grad-accum", int, "gradient accumulation steps (default: effective batch 64)"),
    ("lr", float, "peak learning rate (default 5e-5)"),
    ("warmup", float, "warmup fraction of all steps (default 0.06)"),
    ("weight-decay", float, "AdamW weight decay (default 0.01)"),
    ("max-grad-norm", float, "gradient clipping norm (default 1.0)"),
    ("eval-steps", int, "evaluate every N optimizer steps (default 500)"),
    ("save-steps", int, "checkpoint every N optimizer steps (default 500)"),
    ("log-steps", int, "log metrics every N optimizer steps (default 10)"),
    ("save-total-limit", int, "newest checkpoints kept, plus the best (default 3)"),
    ("max-source-len", int, "synopsis tokens incl. [CLS]/[SEP] (default 512)"),
    ("max-target-len", int, "title tokens incl. [SEP] (default 64)"),
    ("probe-size", int, "validation synopses titled at every eval (default 8)"),
    ("quality-samples", int, "validation synopses titled and scored at each eval, 0 = off "
                             "(default 128; fewer when it would take over ~10% of training time)"),
    ("best-by", str, "eval_loss|chrf: the metric that picks the best checkpoint (default eval_loss)"),
    ("eval-samples", int, "validation rows in each eval loss, 0 = all (default 2000)"),
    ("pad-multiple-source", int, "pad synopsis batches to a multiple of this (default 32)"),
    ("pad-multiple-target", int, "pad title batches to a multiple of this (default 8)"),
    ("bucket-chunk", int, "batches sorted together by length (default 100)"),
    ("bucket-by", str, "source_target|source: sort by synopsis bucket then title length, or "
                       "by synopsis length only"),
    ("workers", int, "tokenization processes (0 = automatic)"),
    ("vocab-size", int, "size of a scratch run's WordPiece vocabulary"),
    ("run-name", str, "suffix of the run id"),
    ("seed", int, "random seed (default 42)"),
    ("precision", str, "auto|bf16|fp16|fp32"),
    ("compile", str, "auto|on|off|static|dynamic: torch.compile (auto = off, eager, until a GPU "
                     "benchmark shows compiling faster; on = one graph for every length)"),
    ("device", str, "auto|cpu|cuda"),
    ("nan-patience", int, "NaN/inf steps tolerated before stopping (default 3)"),
    ("early-stop", int, "end the run (finished) after this many evals without improvement (0 = off)"),
    ("early-stop-metric", str, "eval_loss|chrf: what --early-stop watches (default eval_loss)"),
    ("early-stop-min-delta", float, "an improvement must exceed this (default 0)"),
    ("threads", int, "torch CPU threads in the job (0 = default)"),
    ("gpus", int, "processes on this node (DDP through torchrun when > 1)"),
    ("nnodes", int, "number of nodes (torchrun)"),
    ("node-rank", int, "this node's rank (torchrun)"),
    ("master-addr", str, "rendezvous address (torchrun, several nodes)"),
    ("master-port", int, "rendezvous port (torchrun, several nodes)"),
)


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("train", parents=[common], help="start a training run (detached)",
                              description="Create checkpoints/<run-id>/ and start a BERT2BERT "
                              "fine-tune in the background; prints the run id.")
    p.add_argument("--dataset", help="dataset name under the datasets folder")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", help="pretrained BERT: hub id or local directory")
    src.add_argument("--scratch", choices=("tiny", "small", "base"), help="random init of this size")
    p.add_argument("--tokenizer", help="tokenizer preset, hub id, directory, or a run id (reuse "
                   "the vocabulary that run trained)")
    p.add_argument("--config", type=Path, help="run.toml with TrainConfig fields; flags override it")
    for flag, typ, help_ in _OVERRIDES:
        p.add_argument(f"--{flag}", type=_typed(flag.replace("-", "_"), typ), default=None, help=help_)
    p.add_argument("--auto-oom", action="store_true", default=None,
                   help="after a CUDA OOM, relaunch with half the micro-batch and double accumulation")
    p.add_argument("--tie-encoder-decoder", action="store_true", default=None, help="share weights")
    p.add_argument("--foreground", action="store_true", help="train attached to this terminal")
    p.add_argument("--dry-run", action="store_true", help="run the preflight and print the command only")
    p.add_argument("--queue", action="store_true", help="queue the run: it starts by itself when "
                   "its devices are free of other narou-tui runs (see `narou-tui queue`)")
    p.add_argument("--wait-free-mib", type=float_arg(0, 1e9), metavar="MIB", help="with --queue: "
                   "also wait until NVML shows less than MIB used on its GPUs (by anyone)")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("runs", parents=[common], help="list training runs")
    p.add_argument("--json", action="store_true", help="one JSON object per run")
    p.add_argument("--sweep", metavar="NAME",
                   help="only the runs of this sweep, best first (--sort eval_loss or chrf)")
    p.set_defaults(func=cmd_runs)
    register_runs_extras(p, common)

    p = subparsers.add_parser("stop", parents=[common], help="checkpoint and stop a run")
    p.add_argument("run", help="run id")
    p.add_argument("--wait", action="store_true", help="wait until it has stopped")
    p.add_argument("--grace", type=float_arg(0, 1e6), default=None, metavar="SECONDS",
                   help="with --wait (implied): seconds after SIGTERM before SIGKILL (default 120)")
    p.set_defaults(func=cmd_stop)

    p = subparsers.add_parser("resume", parents=[common], help="continue a run from its newest complete checkpoint")
    p.add_argument("run", help="run id")
    p.add_argument("--batch-size", type=_typed("batch_size", int),
                   help="new micro-batch (must divide the run's; the accumulation follows so the "
                   "effective batch stays the same)")
    p.add_argument("--grad-accum", type=_typed("grad_accum", int),
                   help="new accumulation; with --batch-size their product must keep the run's "
                   "effective batch")
    p.add_argument("--foreground", action="store_true", help="train attached to this terminal")
    p.set_defaults(func=cmd_resume)

    p = subparsers.add_parser("status", parents=[common], help="status of one run")
    p.add_argument("run", help="run id")
    p.add_argument("--json", action="store_true", help="print status.json (with died detection)")
    p.set_defaults(func=cmd_status)


def config_from_args(args: argparse.Namespace) -> Any:
    from core.training.config import ConfigError, TrainConfig

    try:
        base = TrainConfig.from_toml(args.config) if args.config else TrainConfig()
        overrides: dict[str, Any] = {
            "dataset": args.dataset, "model": args.model, "scratch": args.scratch,
            "tokenizer": args.tokenizer, "auto_oom": args.auto_oom,
            "tie_encoder_decoder": args.tie_encoder_decoder,
        }
        for flag, _typ, _help in _OVERRIDES:
            overrides[flag.replace("-", "_")] = getattr(args, flag.replace("-", "_"))
        if args.model is not None:
            overrides["scratch"] = None
            base.scratch = None
        if args.scratch is not None:
            base.model = None
        cfg = base.with_overrides(overrides)
        cfg.validate()
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    return cfg


def cmd_train(args: argparse.Namespace, paths: Paths) -> int:
    from core.runs.tokenizers import resolve_run_tokenizer
    from core.training.launch import LaunchError, launch, preflight

    cfg = config_from_args(args)
    # Frozen into config.json as the folder, so the run does not depend on a name lookup later.
    cfg.tokenizer = resolve_run_tokenizer(cfg.tokenizer, paths)
    if args.dry_run:
        findings = preflight(paths, cfg)
        for f in findings:
            print(f)
        print(cfg.cli_command())
        return 2 if any(f.level == "error" for f in findings) else 0
    queue = _queue_tables(args)
    try:
        run_id = launch(paths, cfg, foreground=args.foreground, queue=queue,
                        on_warning=lambda f: print(f"narou-tui: {f}", file=sys.stderr))
    except (LaunchError, PathError) as exc:
        raise CliError(str(exc)) from exc
    print(run_id)
    if queue is not None:
        print("narou-tui: queued; it starts by itself (see `narou-tui queue`)", file=sys.stderr)
    return 0


def _queue_tables(args: argparse.Namespace) -> dict[str, Any] | None:
    from core.training.queue.store import queue_tables

    if args.wait_free_mib is not None and not args.queue:
        raise CliError("--wait-free-mib only applies with --queue")
    if args.queue and args.foreground:
        raise CliError("--queue and --foreground exclude each other (a queued run starts detached)")
    return queue_tables(args.wait_free_mib) if args.queue else None


def _row(summary: Any, paths: Paths) -> dict[str, Any]:
    from core.runs.progress import read_progress

    st = summary.status
    live = summary.state in ("running", "starting")
    # Only a live run has an ETA worth a line; reading each finished run's history would make
    # listing many old runs slow for nothing.
    eta = read_progress(paths.run(summary.run_id)).eta if live and st else None
    return {
        "id": summary.run_id,
        "state": summary.state,
        "step": st.step if st else 0,
        "total_steps": st.total_steps if st else None,
        "best_eval_loss": st.best_eval_loss if st else None,
        "eta_s": eta.eta_end_s if eta else None,
        "started_at": st.started_at if st else None,
        "exit_reason": st.exit_reason if st else None,
        "last_complete_checkpoint": st.last_complete_checkpoint if st else None,
        "problem": summary.problem,
    }


def cmd_runs(args: argparse.Namespace, paths: Paths) -> int:
    from core.cli.queue_cmd import wake
    from core.runs.reader import list_runs
    from core.timefmt import format_duration

    wake(paths)
    if args.sweep:
        from core.cli.sweep_cmd import print_sweep

        sort = args.sort or "eval_loss"
        if sort not in ("eval_loss", "chrf"):
            raise CliError(f"runs --sweep ranks by eval_loss or chrf, not {sort!r}")
        return print_sweep(paths, args.sweep, sort, args.json)
    if args.sort:
        return cmd_leaderboard(args, paths)
    rows = [_row(s, paths) for s in list_runs(paths)]
    if args.json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
        return 0
    if not rows:
        print(f"no runs in {paths.checkpoints_dir}")
        return 0
    print(f"{'RUN':32} {'STATE':9} {'STEP':>13} {'BEST EVAL':>9} {'ETA':>8}  STARTED")
    for r in rows:
        if r["problem"]:
            print(f"{r['id']:32} unreadable: {r['problem']}")
            continue
        total = r["total_steps"] if r["total_steps"] is not None else "?"
        best = f"{r['best_eval_loss']:.4f}" if r["best_eval_loss"] is not None else "-"
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started_at"])) if r["started_at"] else "-"
        print(f"{r['id']:32} {r['state']:9} {str(r['step']) + '/' + str(total):>13} {best:>9} "
              f"{format_duration(r['eta_s']):>8}  {started}")
    return 0


def _run_dir(paths: Paths, run: str) -> Path:
    try:
        d = paths.run(run)
    except PathError as exc:
        raise CliError(str(exc)) from exc
    if not d.is_dir():
        raise CliError(f"no run {run!r} in {paths.checkpoints_dir} (see `narou-tui runs`)")
    return d


def _readable_status(run_dir: Path, run: str, consequence: str = "") -> Any:
    """The run's status (None when it has none yet); a damaged status.json is one clear line."""
    from core.runs.reader import read_status_checked

    status, problem = read_status_checked(run_dir)
    if problem:
        raise CliError(f"run {run}: {problem}{consequence}", 1)
    return status


def cmd_stop(args: argparse.Namespace, paths: Paths) -> int:
    from core.training.launch import LaunchError
    from core.training.stop import stop_run

    _readable_status(_run_dir(paths, args.run), args.run, "; nothing was signalled")
    grace = 120.0 if args.grace is None else args.grace
    wait = args.wait or args.grace is not None
    try:
        st = stop_run(paths, args.run, wait=wait, timeout=grace,
                      on_note=lambda msg: print(f"narou-tui: {msg}", file=sys.stderr, flush=True))
    except LaunchError as exc:
        raise CliError(str(exc)) from exc
    if wait and st is not None:
        killed = st.exit_reason is not None and "SIGKILL" in st.exit_reason
        print(f"{args.run}: {st.state} at step {st.step}" + (f" ({st.exit_reason})" if killed else ""))
    else:
        print(f"{args.run}: asked to stop (it saves a checkpoint first)")
    return 0


def cmd_resume(args: argparse.Namespace, paths: Paths) -> int:
    from core.training.launch import LaunchError, resume_run

    _run_dir(paths, args.run)
    try:
        run_id = resume_run(paths, args.run, foreground=args.foreground,
                            batch_size=args.batch_size, grad_accum=args.grad_accum)
    except LaunchError as exc:
        raise CliError(str(exc)) from exc
    print(run_id)
    return 0


def cmd_status(args: argparse.Namespace, paths: Paths) -> int:
    from core.runs.history import read_history
    from core.runs.progress import read_progress
    from core.runs.reader import complete_checkpoints, incomplete_checkpoints
    from core.runs.rule import ignored_lines
    from core.timefmt import format_duration

    run_dir = _run_dir(paths, args.run)
    st = _readable_status(run_dir, args.run)
    if st is None:
        raise CliError(f"run {args.run} has no status.json yet")
    data = st.to_json()
    data.update(data.pop("extra", {}))
    data["checkpoints"] = [p.name for p in complete_checkpoints(run_dir)]
    data["incomplete_checkpoints"] = [p.name for p in incomplete_checkpoints(run_dir)]
    h = read_history(run_dir)
    progress = read_progress(run_dir, history=h)
    eta = progress.eta.eta_end_s if progress.eta else None
    # The ETA every reader shows (the Train pane too), not the job's own last estimate.
    data["eta_s"] = eta
    data["metrics"] = {"lines": h.lines, "train_points": h.n_train, "unreadable": h.bad_lines,
                       "ignored": h.ignored}
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return 0
    total = st.total_steps if st.total_steps is not None else "?"
    print(f"run:        {args.run}")
    why = st.exit_reason or st.extra.get("died_because")
    print(f"state:      {st.state}" + (f" ({why})" if why else ""))
    print(f"step:       {st.step}/{total}  epoch {st.epoch:.2f}  ETA {format_duration(eta)}")
    if st.best_eval_loss is not None:
        print(f"best eval:  {st.best_eval_loss:.4f} ({st.best_checkpoint})")
    # The folder is the truth: a status written before the newest save still finds it.
    newest = data["checkpoints"][-1] if data["checkpoints"] else None
    print(f"checkpoint: {st.last_complete_checkpoint or newest or '-'}")
    if data["incomplete_checkpoints"]:
        print(f"incomplete: {', '.join(data['incomplete_checkpoints'])} (ignored)")
    print(f"pid/host:   {st.pid} on {st.host}")
    unreadable = f", {h.bad_lines:,} unreadable" if h.bad_lines else ""
    print(f"metrics:    {h.lines:,} lines, {h.n_train:,} train points kept{unreadable}")
    for line in ignored_lines(h.ignored):
        print(f"            {line}")
    return 0
