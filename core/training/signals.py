"""Stop requests by signal: SIGTERM/SIGINT set the loop's stop flag, SIGHUP is ignored."""

from __future__ import annotations

import signal
import threading
from typing import Any


def install_stop_handlers(flag: dict[str, Any]) -> dict[int, Any]:
    """Route stop signals to `flag`; the handlers they replace (none off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}  # Python lets only the main thread set handlers

    def on_stop(signum: int, _frame: Any) -> None:
        # The loop checks the flag at a step boundary and saves before it stops.
        flag["stop"] = True
        flag["signal"] = signal.Signals(signum).name

    old = {}
    # SIGHUP ignored: a closed terminal or a dropped SSH session must not end a detached run.
    for sig, handler in ((signal.SIGTERM, on_stop), (signal.SIGINT, on_stop), (signal.SIGHUP, signal.SIG_IGN)):
        old[sig] = signal.signal(sig, handler)
    return old


def restore_handlers(old: dict[int, Any]) -> None:
    """Put back the handlers `install_stop_handlers` replaced."""
    for sig, handler in old.items():
        signal.signal(sig, handler)
