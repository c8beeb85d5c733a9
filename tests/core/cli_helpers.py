"""Run `narou-tui` in-process with captured output, and plant damaged run/checkpoint/harvest files."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import signal
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.cli.main import main


class Hung(BaseException):
    """Raised by the alarm when a command runs past its limit (BaseException: main must not
    turn it into an 'internal error' line)."""


def run_cli(argv: Sequence[str], timeout_s: int = 60) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `narou-tui argv`; argparse exits count as exit codes.

    Signal handlers a command installs (fetch traps SIGINT/SIGTERM) are restored afterwards.
    """
    out, err = io.StringIO(), io.StringIO()
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise Hung(f"narou-tui {' '.join(argv)} ran past {timeout_s} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(timeout_s)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse: --help, usage errors
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        signal.alarm(0)
        for s, handler in saved.items():
            signal.signal(s, handler)
    return code, out.getvalue(), err.getvalue()


def tree_digest(root: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under root (empty when root is absent)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def write_status(run_dir: Path, content: Any, raw: bool = False) -> Path:
    """status.json holding `content` (JSON-encoded unless raw text), in a run with a config."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps({"run_id": run_dir.name, "train": {"dataset": "gone"}}))
    (run_dir / "status.json").write_text(content if raw else json.dumps(content), encoding="utf-8")
    return run_dir


def damaged_statuses(pid: int) -> dict[str, Any]:
    """Run id → a status.json that parses badly, each naming `pid` as its live owner."""
    host = socket.gethostname()
    return {
        "st-array": [{"state": "running", "pid": pid, "host": host}],
        "st-unknown-state": {"state": "sprinting", "pid": pid, "host": host},
        "st-wrong-type": {"state": "running", "pid": pid, "host": host, "step": "ten"},
        "st-pid-text": {"state": "running", "pid": str(pid), "host": host},
        "st-huge-pid": {"state": "running", "pid": 2**70, "host": host},
        "st-torn": json.dumps({"state": "running", "pid": pid, "host": host, "step": 1})[:-9],
    }


def foreign_owner_statuses(pid: int) -> dict[str, Any]:
    """Run id → a well-formed `running` status whose pid is not the run's job: a reused pid
    on this host (with and without the job's recorded identity), and a job on another host."""
    host = socket.gethostname()
    base = {"state": "running", "pid": pid, "step": 3, "total_steps": 100,
            "started_at": 1_000_000_000.0, "updated_at": 4_000_000_000.0}
    return {
        "st-reused-pid": {**base, "host": host},
        "st-reused-pid-id": {**base, "host": host, "pid_started": 1_000_000_000.0,
                             "cmdline": ["python", "-m", "core.training.job", "st-reused-pid-id"]},
        "st-other-host": {**base, "host": f"{host}-elsewhere"},
    }


def truncate_weights(folder: Path, keep: float = 0.5) -> None:
    w = folder / "model.safetensors"
    data = w.read_bytes()
    w.write_bytes(data[: int(len(data) * keep)])


def break_config(folder: Path) -> None:
    (folder / "config.json").write_text('{"model_type": "encoder-decoder", ', encoding="utf-8")


def drop_vocab(folder: Path) -> None:
    (folder / "vocab.txt").unlink()
