"""`narou-tui` as installed: the headless command line, given the means to open the workbench."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from core.cli.app_request import LaunchOptions
from core.paths import Paths


def open_workbench(paths: Paths, options: LaunchOptions) -> int:
    # Imported here, not at the top: `narou-tui train …` and `--help` must not pay for Textual.
    from tui.app import run_app

    return run_app(paths, options)


def main(argv: Sequence[str] | None = None) -> int:
    from core.cli.main import main as cli_main

    return cli_main(argv, open_app=open_workbench)


if __name__ == "__main__":
    sys.exit(main())
