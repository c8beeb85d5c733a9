"""The job's own lines in train.log: its timestamped log lines and core's log records."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from core.training.dist import Dist


class _PrintHandler(logging.Handler):
    """Writes records to whatever sys.stdout is at the time (train.log for a detached job)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), flush=True)
        except Exception:  # noqa: BLE001 - logging must never stop training
            self.handleError(record)


def core_logs_to_stdout(dist: Dist) -> None:
    """Put core's log records (the model load report, where weights came from) in train.log
    beside the job's own lines; NAROU_TUI_LOG_LEVEL=debug adds transformers' full report."""
    logger = logging.getLogger("core")
    if not any(isinstance(h, _PrintHandler) for h in logger.handlers):
        handler = _PrintHandler()
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    wanted = os.environ.get("NAROU_TUI_LOG_LEVEL", "info").upper()
    level = logging.getLevelName(wanted) if wanted in ("DEBUG", "INFO", "WARNING", "ERROR") else logging.INFO
    logger.setLevel(level if dist.main else logging.ERROR)


def job_logger(dist: Dist) -> Callable[[str], None]:
    """`log(msg)`: a timestamped line on stdout from rank 0 (the other ranks would repeat it)."""

    def log(msg: str) -> None:
        if dist.main:
            print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    return log
