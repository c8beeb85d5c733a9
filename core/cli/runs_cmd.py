"""`narou-tui runs compare RUN RUN [...]` and `narou-tui runs --sort KEY` (the leaderboard)."""

from __future__ import annotations

import argparse
import json
import sys

from core.cli.errors import CliError
from core.paths import Paths

SORT_CHOICES: tuple[str, ...] = ("chrf", "eval_loss", "samples_per_s", "wall", "step")


def register_runs_extras(runs: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    """Adds --sort and the `compare` action to the `runs` parser."""
    runs.add_argument("--sort", choices=SORT_CHOICES, default=None,
                      help="rank the runs by this figure, best first (the leaderboard)")
    sub = runs.add_subparsers(dest="runs_command", metavar="ACTION")
    p = sub.add_parser("compare", parents=[common], help="compare two or more runs",
                       description="The config fields that differ between the runs, then best "
                       "eval loss, best chrF (and their steps), samples/s, training time, state.")
    p.add_argument("runs", nargs="*", metavar="RUN", help="run ids (two or more in all)")
    p.add_argument("--sweep", metavar="NAME", action="append", default=[],
                   help="every run of this sweep, in the order it queued them (repeatable)")
    p.add_argument("--json", action="store_true", help="one JSON object (see docs/RUN_DIRECTORY.md)")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace, paths: Paths) -> int:
    from core.cli.train_cmd import _run_dir
    from core.runs.compare import compare_dirs
    from core.runs.compare_text import table_text
    from core.runs.reader import runs_of_sweep

    names = list(args.runs)
    for sweep in args.sweep:
        members = [r.run_id for r in runs_of_sweep(paths, sweep)]
        if not members:
            raise CliError(f"no runs of sweep {sweep!r} in {paths.checkpoints_dir} "
                           "(see `narou-tui runs`)")
        names += [m for m in members if m not in names]
    if len(names) < 2:
        raise CliError("runs compare needs two or more runs (see `narou-tui runs`)")
    twice = sorted({r for r in names if names.count(r) > 1})
    if twice:
        raise CliError(f"runs compare: run {twice[0]!r} is given more than once")
    cmp = compare_dirs([_run_dir(paths, r) for r in names])
    for run in cmp.runs:
        if not run.config:  # missing or damaged: every field of it reads as absent
            print(f"narou-tui: run {run.run_id}: no readable config.json, its config fields "
                  "show as —", file=sys.stderr)
    if args.json:
        print(json.dumps(cmp.to_json(), ensure_ascii=False))
        return 0
    for line in table_text(cmp):
        print(line)
    print(f"({cmp.same_count} config fields are the same in every run; never compared: "
          f"{', '.join(cmp.ignored)})")
    return 0


def cmd_leaderboard(args: argparse.Namespace, paths: Paths) -> int:
    from core.runs.compare import rank_runs
    from core.runs.compare_text import figure_text, value_at
    from core.runs.reader import list_runs
    from core.timefmt import format_duration

    runs = list_runs(paths)
    order, scores = rank_runs(runs, args.sort)
    ranked = [scores[r.run_id] for r in order if r.run_id in scores]
    if args.json:
        for rank, s in enumerate(ranked, 1):
            print(json.dumps({"rank": rank} | s.to_json(), ensure_ascii=False))
        return 0
    if not runs:
        print(f"no runs in {paths.checkpoints_dir}")
        return 0
    print(f"{'#':>3} {'RUN':32} {'STATE':9} {'STEP':>8} {'BEST EVAL':>16} {'BEST CHRF':>14} "
          f"{'SAMPLES/S':>10} {'TIME':>9}")
    for rank, s in enumerate(ranked, 1):
        ev = value_at(s.best_eval_loss, s.best_eval_step, "{:.4f}")
        ch = value_at(s.best_chrf, s.best_chrf_step, "{:.1f}")
        sps = figure_text(s.samples_per_s, "{:,.1f}")
        print(f"{rank:>3} {s.run_id:32} {s.state:9} {s.step:>8,} {ev:>16} {ch:>14} {sps:>10} "
              f"{format_duration(s.wall_s, 'hours'):>9}")
    for r in runs:
        if r.problem:
            print(f"{'':>3} {r.run_id:32} unreadable: {r.problem}")
    return 0

