"""Entry point of `narou-tui`: global options, subcommand dispatch, and the bare TUI launch."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from core.cli.errors import CliError
from core.paths import Paths

# Each module exposes `register(subparsers, common)`; a subcommand stores its handler as
# `func(args, paths) -> int`. Kept as names so `narou-tui --help` imports no heavy library.
COMMAND_MODULES: tuple[str, ...] = (
    "core.cli.dataset_cmd",
    "core.cli.fetch_cmd",
    "core.cli.tokenize_cmd",
    "core.cli.train_cmd",
    "core.cli.attach_cmd",
    "core.cli.generate_cmd",
)


def common_parser() -> argparse.ArgumentParser:
    """Options every subcommand accepts (also accepted before the subcommand)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--datasets-dir",
        default=argparse.SUPPRESS,
        help="where datasets live (env NAROU_TUI_DATASETS_DIR; default ./datasets)",
    )
    common.add_argument(
        "--checkpoints-dir",
        default=argparse.SUPPRESS,
        help="where run directories live (env NAROU_TUI_CHECKPOINTS_DIR; default ./checkpoints)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = common_parser()
    parser = argparse.ArgumentParser(
        prog="narou-tui",
        parents=[common],
        description="Terminal workbench for a Japanese BERT2BERT Narou title generator. "
        "Without a subcommand it opens the TUI.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that command group is not part of this build
                continue
            raise
        module.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    paths = Paths.resolve(
        getattr(args, "datasets_dir", None), getattr(args, "checkpoints_dir", None)
    )
    try:
        if args.command is None:
            from tui.app import run_app  # imported late: the CLI must not pay for Textual

            return run_app(paths)
        return int(args.func(args, paths) or 0)
    except CliError as exc:
        print(f"narou-tui: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("narou-tui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `narou-tui ... | head` closed the pipe: the work is done, only the output was cut.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
