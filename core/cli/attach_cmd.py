"""`narou-tui attach RUN [--readonly]`: open the TUI straight into one run's live view."""

from __future__ import annotations

import argparse
from typing import Any

from core.cli.app_request import LaunchOptions
from core.cli.errors import CliError
from core.paths import PathError, Paths
from core.runs.reader import list_runs
from core.runs.schema import CONFIG_FILE, STATUS_FILE


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "attach", parents=[common],
        help="open the Train pane on a run (live charts, progress, log)",
        description="Open the TUI straight into one run. The job is not affected: quitting "
        "the TUI leaves it training; any number of TUIs may watch the same run.",
    )
    p.add_argument("run", metavar="RUN", help="run id (a folder under checkpoints/)")
    p.add_argument("--readonly", action="store_true",
                   help="watch only: hide stop, resume and launch")
    p.set_defaults(func=run_attach)


def run_attach(args: argparse.Namespace, paths: Paths) -> LaunchOptions:
    """Check the run exists, then ask for the workbench on its live view."""
    try:
        run_dir = paths.run(args.run)
    except PathError as exc:
        raise CliError(str(exc)) from exc
    if not ((run_dir / STATUS_FILE).exists() or (run_dir / CONFIG_FILE).exists()):
        known = [r.run_id for r in list_runs(paths)[:10]]
        hint = f" Runs: {', '.join(known)}" if known else " There are no runs yet."
        raise CliError(f"no run {args.run!r} in {paths.checkpoints_dir}.{hint}")
    return LaunchOptions(initial_pane="train", attach_run=args.run, readonly=bool(args.readonly))
