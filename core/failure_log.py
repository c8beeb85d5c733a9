"""Unexpected failures for people: one line to show, and the traceback kept in a bounded log file."""

from __future__ import annotations

import time
import traceback
from pathlib import Path

LOG_NAME = "narou-tui.log"
# The log is kept below about twice this: when it passes the limit it becomes `<name>.1`.
MAX_LOG_BYTES = 1 << 20
MAX_LINE_CHARS = 240


def describe_error(exc: BaseException) -> str:
    """`exc` as one short line: its own words for the project's errors and plain ValueErrors
    (written for people), prefixed by the type name otherwise ("PermissionError: [Errno 13] …")."""
    text = " ".join(str(exc).split())
    own = type(exc) is ValueError or type(exc).__module__.split(".")[0] in ("core", "tui")
    line = text if own and text else f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"


def log_failure(path: Path, what: str, exc: BaseException,
                max_bytes: int = MAX_LOG_BYTES) -> str | None:
    """Append `what` and `exc`'s traceback to the log at `path`; None when written, else why not.

    Never raises: a log that cannot be written must not turn one failure into two.
    """
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    text = f"{stamp} {what}\n" + "".join(traceback.format_exception(exc)) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size + len(text) > max_bytes:
            path.replace(path.with_name(path.name + ".1"))
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as err:
        return describe_error(err)
    return None
