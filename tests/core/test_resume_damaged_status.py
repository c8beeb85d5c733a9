"""`resume` of a run whose status.json is damaged rebuilds its checkpoint fields from the folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.cli.main import main
from core.paths import Paths
from core.runs.reader import read_status
from core.training.stop import wait_run
from tests.generation_tiny import write_sample_dataset


def test_resume_with_damaged_status_keeps_checkpoint_fields(paths: Paths, tiny_checkpoint: Path, capsys) -> None:
    run = paths.checkpoints_dir / "tiny-run"
    shutil.copytree(tiny_checkpoint.parent, run)
    write_sample_dataset(paths.datasets_dir)
    damaged = b'{"state": "running", "step": 15'  # cut mid-write by a full disk, say
    (run / "status.json").write_bytes(damaged)

    assert main(["resume", "tiny-run"]) == 0
    assert capsys.readouterr().out.strip() == "tiny-run"
    # What the launcher wrote before the job's first heartbeat already names the checkpoint.
    first = json.loads((run / "status.json").read_text())
    assert first["last_complete_checkpoint"] == "checkpoint-150" and first["step"] == 150
    assert first["total_steps"] == 150
    kept = list(run.glob("status.json.damaged-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == damaged

    st = wait_run(paths, "tiny-run", timeout=240)
    assert st.state == "finished", (run / "train.log").read_text(errors="replace")[-2000:]
    assert read_status(run).last_complete_checkpoint == "checkpoint-150"
    assert main(["status", "tiny-run"]) == 0
    assert "checkpoint: checkpoint-150" in capsys.readouterr().out
