"""`narou-tui sweep`: queue one run per point of a grid (or random samples) under one sweep name."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from core.cli.errors import CliError
from core.cli.numbers import float_arg, int_arg
from core.cli.train_cmd import _OVERRIDES, _typed, config_from_args
from core.paths import PathError, Paths, safe_name

MAX_POINTS = 1000  # a typo in a grid should not create thousands of run directories


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("sweep", parents=[common], help="queue a grid or random sweep of runs",
                              description="Queue one run per point: the cross product of the --grid "
                              "values, or --random N samples of them (FIELD=LO:HI[:log] ranges). The "
                              "runs share a sweep name (`runs --sweep NAME`).")
    p.add_argument("--grid", action="append", required=True, metavar="FIELD=V1,V2|LO:HI[:log]",
                   help="a training field and its values (repeatable)")
    p.add_argument("--random", type=int_arg(1, MAX_POINTS), metavar="N", help="sample N points instead of the grid")
    p.add_argument("--random-seed", type=int_arg(0, 2**32 - 1), default=0, help="seed of --random (default 0)")
    p.add_argument("--name", help="sweep name (default sweep-<date>-<time>)")
    p.add_argument("--wait-free-mib", type=float_arg(0, 1e9), metavar="MIB",
                   help="each run also waits until NVML shows less than MIB used on its GPUs")
    p.add_argument("--dry-run", action="store_true", help="print the points only")
    # The same run options as `train`, applied to every point before its own values.
    p.add_argument("--dataset", help="dataset name under the datasets folder")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", help="pretrained BERT: hub id or local directory")
    src.add_argument("--scratch", choices=("tiny", "small", "base"), help="random init of this size")
    p.add_argument("--tokenizer", help="tokenizer preset, hub id, directory, or a run id")
    p.add_argument("--config", type=Path, help="run.toml with TrainConfig fields; flags override it")
    for flag, typ, help_ in _OVERRIDES:
        p.add_argument(f"--{flag}", type=_typed(flag.replace("-", "_"), typ), default=None, help=help_)
    p.set_defaults(func=cmd_sweep, auto_oom=None, tie_encoder_decoder=None)


def cmd_sweep(args: argparse.Namespace, paths: Paths) -> int:
    from core.runs.tokenizers import resolve_run_tokenizer
    from core.training.config import ConfigError
    from core.training.launch import LaunchError, launch
    from core.training.queue.store import queue_tables
    from core.training.queue.sweep import (
        SweepError,
        describe,
        grid_points,
        parse_axis,
        random_points,
    )

    name = args.name or time.strftime("sweep-%Y%m%d-%H%M%S")
    try:
        safe_name(name, "sweep")
        axes = [parse_axis(g) for g in args.grid]
        points = random_points(axes, args.random, args.random_seed) if args.random else grid_points(axes)
    except (SweepError, PathError) as exc:
        raise CliError(str(exc)) from exc
    if len(points) > MAX_POINTS:
        raise CliError(f"the grid has {len(points):,} points (at most {MAX_POINTS:,}): use --random N")
    base = config_from_args(args)
    base.tokenizer = resolve_run_tokenizer(base.tokenizer, paths)
    configs = []
    for i, point in enumerate(points, 1):
        try:
            cfg = base.with_overrides({**point, "run_name": f"{name}-{i:02d}"})
            cfg.validate()
        except ConfigError as exc:
            raise CliError(f"point {i} ({describe(point)}): {exc}") from exc
        configs.append((point, cfg))
    if args.dry_run:
        for i, (point, _cfg) in enumerate(configs, 1):
            print(f"{i:>3} {describe(point)}")
        return 0
    for i, (point, cfg) in enumerate(configs, 1):
        tables = queue_tables(args.wait_free_mib, {"name": name, "index": i, "size": len(configs),
                                                   "point": point})
        # Every point shares the data and tokenizer: their warnings are said once.
        warn = (lambda f: print(f"narou-tui: {f}", file=sys.stderr)) if i == 1 else None
        try:
            run_id = launch(paths, cfg, queue=tables, on_warning=warn)
        except (LaunchError, PathError) as exc:
            raise CliError(f"point {i} ({describe(point)}): {exc}"
                           + (f"; {i - 1} run(s) of sweep {name} were queued" if i > 1 else "")) from exc
        print(f"{run_id}  {describe(point)}")
    print(f"narou-tui: queued {len(configs)} run(s) of sweep {name} (see `narou-tui queue`, "
          f"`narou-tui runs --sweep {name}`)", file=sys.stderr)
    return 0


def sweep_rows(paths: Paths, name: str, sort: str) -> list[dict[str, Any]]:
    """The runs of sweep `name`, best first by `sort` (eval_loss ascending, chrf descending);
    runs without that figure last, in queue order."""
    from core.runs.history import read_history
    from core.runs.quality_lines import best_quality
    from core.runs.reader import runs_of_sweep

    rows = []
    for r in runs_of_sweep(paths, name):
        sweep = r.config["sweep"]
        st = r.status
        chrf = best_quality(read_history(r.path).qualities, "chrf")
        rows.append({"id": r.run_id, "state": r.state, "index": sweep.get("index"),
                     "point": sweep.get("point") or {}, "best_eval_loss": st.best_eval_loss if st else None,
                     "best_chrf": chrf[0] if chrf else None, "step": st.step if st else 0,
                     "exit_reason": st.exit_reason if st else None})
    key = "best_eval_loss" if sort == "eval_loss" else "best_chrf"
    sign = 1 if sort == "eval_loss" else -1
    rows.sort(key=lambda r: (r[key] is None, sign * (r[key] or 0.0), r["index"] or 0))
    return rows


def print_sweep(paths: Paths, name: str, sort: str, as_json: bool) -> int:
    from core.training.queue.sweep import describe

    rows = sweep_rows(paths, name, sort)
    if not rows:
        raise CliError(f"no runs of sweep {name!r} in {paths.checkpoints_dir}")
    if as_json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
        return 0
    print(f"sweep {name}: {len(rows)} run(s), best {'eval loss' if sort == 'eval_loss' else 'chrF'} first")
    print(f"{'RUN':32} {'STATE':9} {'BEST EVAL':>9} {'CHRF':>6}  POINT")
    for r in rows:
        loss = f"{r['best_eval_loss']:.4f}" if r["best_eval_loss"] is not None else "-"
        chrf = f"{r['best_chrf']:.1f}" if r["best_chrf"] is not None else "-"
        print(f"{r['id']:32} {r['state']:9} {loss:>9} {chrf:>6}  {describe(r['point'])}")
    return 0
