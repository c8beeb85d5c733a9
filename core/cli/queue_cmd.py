"""`narou-tui queue [move RUN --to N | remove RUN]`: list and reorder the runs waiting to start."""

from __future__ import annotations

import argparse
import json
from typing import Any

from core.cli.errors import CliError
from core.cli.numbers import int_arg
from core.paths import PathError, Paths, safe_name


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("queue", parents=[common], help="list, reorder or drop queued runs",
                              description="Runs queued with `train --queue` or `sweep` start one "
                              "after another as their devices come free; no process needs to be "
                              "kept alive by hand.")
    p.add_argument("--json", action="store_true", help="one JSON object per queued run")
    sub = p.add_subparsers(dest="queue_command", metavar="ACTION")
    m = sub.add_parser("move", parents=[common], help="move a queued run to another position")
    m.add_argument("run", help="run id")
    m.add_argument("--to", type=int_arg(1, 10**9), required=True, metavar="N", help="1 = next to start")
    m.set_defaults(func=cmd_move)
    r = sub.add_parser("remove", parents=[common], help="drop a queued run (it is kept, as stopped)")
    r.add_argument("run", help="run id")
    r.set_defaults(func=cmd_remove)
    p.set_defaults(func=cmd_queue)


def _run_id(run: str) -> str:
    try:
        return safe_name(run, "run")
    except PathError as exc:
        raise CliError(str(exc)) from exc


def wake(paths: Paths) -> str | None:
    """Start the queue runner when runs wait and none is alive; the note to print, if any."""
    from core.training.queue.runner import ensure_runner

    if ensure_runner(paths.checkpoints_dir):
        return "started the queue runner (none was alive)"
    return None


def cmd_queue(args: argparse.Namespace, paths: Paths) -> int:
    from core.timefmt import format_duration
    from core.training.queue.estimate import queue_rows

    note = wake(paths)
    rows = queue_rows(paths.checkpoints_dir) if paths.checkpoints_dir.is_dir() else []
    if args.json:
        for r in rows:
            print(json.dumps({"position": r.position, "run": r.run_id, "devices": r.devices,
                              "waits_for": r.waits_for, "start_in_s": r.start_in_s,
                              "duration_s": r.duration_s, "sweep": r.sweep}, ensure_ascii=False))
        return 0
    if note:
        print(f"narou-tui: {note}")
    if not rows:
        print(f"no queued runs in {paths.checkpoints_dir}")
        return 0
    print(f"{'POS':>3} {'RUN':32} {'DEVICES':8} {'STARTS IN':>10} {'RUNS FOR':>10}  WAITS FOR")
    for r in rows:
        start = "?" if r.start_in_s is None else ("now" if r.start_in_s < 1 else format_duration(r.start_in_s))
        print(f"{r.position:>3} {r.run_id:32} {','.join(r.devices):8} {start:>10} "
              f"{format_duration(r.duration_s) if r.duration_s is not None else '?':>10}  {r.waits_for}")
    if any(r.start_in_s is None for r in rows):
        print("? = no estimate yet (no earlier run of the same model and lengths on these devices)")
    return 0


def cmd_move(args: argparse.Namespace, paths: Paths) -> int:
    from core.training.queue.store import QueueError, move

    try:
        at = move(paths, _run_id(args.run), args.to)
    except QueueError as exc:
        raise CliError(str(exc)) from exc
    print(f"{args.run}: now at position {at}")
    wake(paths)
    return 0


def cmd_remove(args: argparse.Namespace, paths: Paths) -> int:
    from core.training.queue.store import QueueError, remove

    try:
        remove(paths, _run_id(args.run))
    except QueueError as exc:
        raise CliError(str(exc)) from exc
    print(f"{args.run}: removed from the queue (kept as stopped)")
    return 0
