"""`stop` signals only a pid proven to be the run's job, and escalates to SIGKILL after a grace."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from core.cli.main import main
from core.runs.owner import Owner, check_owner
from core.runs.reader import read_status
from core.runs.schema import RunStatus
from core.runs.writers import StatusWriter
from tests.core.cli_helpers import run_cli


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """A real process that is no job of ours: `stop` must never touch it."""
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def _run(tmp_path: Path, status: dict[str, object]) -> tuple[list[str], Path]:
    ckpt = tmp_path / "checkpoints"
    run = ckpt / "20261130-1200-x"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    now = time.time()
    body = {"state": "running", "host": socket.gethostname(), "started_at": now - 500,
            "updated_at": now, "step": 7, **status}
    (run / "status.json").write_text(json.dumps(body))
    return ["--checkpoints-dir", str(ckpt), "--datasets-dir", str(tmp_path / "datasets")], run


def _job_argv(run: Path) -> list[str]:
    return [sys.executable, "-m", "core.training.job", str(run)]


@pytest.mark.parametrize("recorded", ["identity", "legacy"])
def test_stop_refuses_a_reused_pid(tmp_path: Path, bystander, capsys, recorded: str) -> None:
    # The job recorded its own start time and argv; the pid now belongs to `sleep`.
    fields: dict[str, object] = {"pid": bystander.pid}
    if recorded == "identity":
        fields.update(pid_started=psutil.Process(bystander.pid).create_time() - 400,
                      cmdline=_job_argv(tmp_path / "checkpoints" / "20261130-1200-x"))
    opts, run = _run(tmp_path, fields)
    assert main([*opts, "stop", run.name, "--wait", "--grace", "1"]) == 2
    err = capsys.readouterr().err
    assert f"pid {bystander.pid} on this host is not its job" in err
    assert "'sleep 60'" in err and err.rstrip().endswith("nothing was signalled")
    assert err.count("\n") == 1
    time.sleep(0.2)
    assert bystander.poll() is None  # still running: nothing was signalled
    st = read_status(run)
    assert st.state == "died" and "is not its job" in st.extra["died_because"]


def test_stop_refuses_a_job_on_another_host(tmp_path: Path, bystander, capsys) -> None:
    opts, run = _run(tmp_path, {"pid": bystander.pid, "host": "gpu-box-7"})
    assert main([*opts, "stop", run.name]) == 2
    err = capsys.readouterr().err
    assert "its job runs on host gpu-box-7, not on this host" in err and "nothing was signalled" in err
    assert bystander.poll() is None
    assert read_status(run).state == "running"  # fresh heartbeat: not ours to call dead


def test_identity_written_by_the_launcher_is_accepted(tmp_path: Path, bystander) -> None:
    # The writer vouches for the pid it was given (the launcher does this for its child).
    _, run = _run(tmp_path, {})
    StatusWriter(run, RunStatus(state="running"), pid=bystander.pid).write()
    data = json.loads((run / "status.json").read_text())
    assert data["cmdline"] == ["sleep", "60"] and data["pid_started"] > 0
    assert check_owner(read_status(run), run).owner is Owner.JOB


def test_stop_escalates_to_sigkill_after_the_grace(tmp_path: Path, capsys) -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, sys, time\n"
         "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(120)"],
        stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert stubborn.stdout.readline() == b"ready\n"  # SIGTERM is ignored from here on
        opts, run = _run(tmp_path, {})
        StatusWriter(run, RunStatus(state="running", step=7), pid=stubborn.pid).write()
        assert main([*opts, "stop", run.name, "--grace", "1"]) == 0
        out, err = capsys.readouterr()
        assert f"did not stop within 1 s of SIGTERM; sending SIGKILL to pid {stubborn.pid}" in err
        assert out.strip() == (f"{run.name}: stopped at step 7 "
                               "(killed (SIGKILL): still running 1 s after SIGTERM)")
        assert stubborn.wait(timeout=10) == -9
        st = read_status(run)
        assert st.state == "stopped" and st.exit_reason.startswith("killed (SIGKILL)")
    finally:
        if stubborn.poll() is None:
            os.kill(stubborn.pid, 9)
        stubborn.wait()


def test_stop_rejects_a_bad_grace(tmp_path: Path, capsys) -> None:
    opts, run = _run(tmp_path, {"pid": os.getpid()})
    for bad in ("nan", "inf", "-1"):
        code, _out, err = run_cli([*opts, "stop", run.name, "--grace", bad])
        assert code == 2 and "argument --grace:" in err and bad in err, err
