"""The `narou-tui` command line: global options, subcommand dispatch, one-line failures."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from core.cli.app_request import AppOpener, LaunchOptions
from core.cli.errors import (
    EXIT_INTERNAL,
    EXIT_KNOWN,
    CliError,
    internal_message,
    known_message,
    one_line,
    save_traceback,
)
from core.paths import Paths

# Each module exposes `register(subparsers, common)`; a subcommand stores its handler as
# `func(args, paths) -> int`. Kept as names so `narou-tui --help` imports no heavy library.
COMMAND_MODULES: tuple[str, ...] = (
    "core.cli.dataset_cmd",
    "core.cli.fetch_cmd",
    "core.cli.tokenize_cmd",
    "core.cli.train_cmd",
    "core.cli.queue_cmd",
    "core.cli.sweep_cmd",
    "core.cli.attach_cmd",
    "core.cli.generate_cmd",
    "core.cli.export_cmd",
)


class CliParser(argparse.ArgumentParser):
    """argparse with a one-line error (subcommand parsers inherit the class)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def common_parser() -> argparse.ArgumentParser:
    """Options every subcommand accepts (also accepted before the subcommand)."""
    common = CliParser(add_help=False)
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
    parser = CliParser(
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


def _command_name(args: argparse.Namespace) -> str:
    parts = ["narou-tui", getattr(args, "command", None) or ""]
    parts += [getattr(args, f"{args.command}_command", None) or ""] if args.command else []
    return " ".join(p for p in parts if p)


def _check_folders(paths: Paths) -> None:
    for flag, folder in (("--datasets-dir", paths.datasets_dir), ("--checkpoints-dir", paths.checkpoints_dir)):
        if folder.exists() and not folder.is_dir():
            raise CliError(f"{flag} {folder} is a file, not a folder")


def _open_workbench(open_app: AppOpener | None, paths: Paths, options: LaunchOptions) -> int:
    if open_app is None:
        raise CliError("this entry point has no terminal UI; open the workbench with `narou-tui` "
                       "(or `python -m tui`)")
    return open_app(paths, options)


def main(argv: Sequence[str] | None = None, open_app: AppOpener | None = None) -> int:
    """Run one command. Every failure ends here as one line on stderr and a non-zero code.

    open_app opens the workbench: no subcommand, or a command such as `attach` that returns
    LaunchOptions, asks for it. The installed `narou-tui` (`tui.entry`) passes the Textual app's.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    paths: Paths | None = None
    try:
        paths = Paths.resolve(
            getattr(args, "datasets_dir", None), getattr(args, "checkpoints_dir", None)
        )
        _check_folders(paths)
        outcome = LaunchOptions() if args.command is None else args.func(args, paths)
        if isinstance(outcome, LaunchOptions):
            return _open_workbench(open_app, paths, outcome)
        return int(outcome or 0)
    except CliError as exc:
        print(f"narou-tui: {one_line(str(exc))}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("narou-tui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `narou-tui ... | head` closed the pipe: the work is done, only the output was cut.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        message = known_message(exc)
        if message is not None:
            print(f"narou-tui: {message}", file=sys.stderr)
            return EXIT_KNOWN
        log = save_traceback(exc, paths.config_dir if paths else None, list(sys.argv if argv is None else argv))
        print(f"narou-tui: {internal_message(exc, _command_name(args), log)}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
