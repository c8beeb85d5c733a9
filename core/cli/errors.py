"""The exception a subcommand raises to end with a clear message instead of a traceback."""

from __future__ import annotations


class CliError(Exception):
    """A user-facing failure: printed as `narou-tui: <message>` and exits with `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code
