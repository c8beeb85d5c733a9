"""Sweep points from --grid / --random, their errors, and `runs --sweep` ranking."""

from __future__ import annotations

import json

import pytest

from core.cli.main import main as cli_main
from core.durable import atomic_write_json
from core.paths import Paths
from core.training.queue.sweep import SweepError, grid_points, parse_axis, random_points


def test_grid_is_the_cross_product_first_axis_slowest() -> None:
    axes = [parse_axis("lr=3e-5,5e-5,1e-4"), parse_axis("max-source-len=256,512")]
    points = grid_points(axes)
    assert len(points) == 6
    assert points[0] == {"lr": 3e-5, "max_source_len": 256}
    assert points[1] == {"lr": 3e-5, "max_source_len": 512}
    assert points[-1] == {"lr": 1e-4, "max_source_len": 512}
    assert grid_points([parse_axis("tokenizer=a,b")]) == [{"tokenizer": "a"}, {"tokenizer": "b"}]


def test_random_samples_ranges_reproducibly() -> None:
    axes = [parse_axis("lr=1e-5:1e-4:log"), parse_axis("max_source_len=128:512"),
            parse_axis("seed=1,2")]
    a, b = random_points(axes, 20, seed=7), random_points(axes, 20, seed=7)
    assert a == b
    assert all(1e-5 <= p["lr"] <= 1e-4 and isinstance(p["max_source_len"], int)
               and 128 <= p["max_source_len"] <= 512 and p["seed"] in (1, 2) for p in a)


@pytest.mark.parametrize(("spec", "message"), [
    ("lr", "expected FIELD=V1,V2"),
    ("nosuch=1,2", "'nosuch' is not a training field"),
    ("dataset=a,b", "'dataset' is not a training field"),
    ("lr=abc", "'abc' is not a number"),
    ("max_source_len=1.5", "'1.5' is not a whole number"),
    ("lr=1e-4:1e-5", "LO < HI"),
    ("lr=0:1e-4:log", "a log range needs LO > 0"),
    ("lr=1e-5:1e-4:cubic", "LO:HI or LO:HI:log"),
    ("batch_size=0,8", "batch_size must be from 1"),
])
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(SweepError, match=message):
        parse_axis(spec)


def test_a_range_in_a_grid_asks_for_random() -> None:
    with pytest.raises(SweepError, match="give --random N"):
        grid_points([parse_axis("lr=1e-5:1e-4")])


def test_runs_sweep_lists_one_sweep_best_first(paths: Paths, capsys) -> None:
    def run(run_id: str, sweep: str, loss: float | None, chrf: float | None) -> None:
        d = paths.run(run_id)
        d.mkdir()
        atomic_write_json(d / "config.json", {"train": {}, "sweep": {"name": sweep, "index": 1,
                                                                     "point": {"lr": 1e-4}}})
        atomic_write_json(d / "status.json", {"state": "finished", "best_eval_loss": loss})
        lines = [{"t": 1, "step": 5, "eval_loss": loss}]
        if chrf is not None:
            lines.append({"t": 1, "step": 5, "quality": {"chrf": chrf}, "quality_samples": 4})
        (d / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")

    run("r1", "s", 2.0, 30.0)
    run("r2", "s", 1.5, 20.0)
    run("r3", "s", None, None)
    run("other", "t", 0.1, 90.0)
    assert cli_main(["runs", "--sweep", "s", "--json"]) == 0
    assert [json.loads(x)["id"] for x in capsys.readouterr().out.splitlines()] == ["r2", "r1", "r3"]
    assert cli_main(["runs", "--sweep", "s", "--sort", "chrf"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "sweep s: 3 run(s), best chrF first"
    assert [line.split()[0] for line in out[2:]] == ["r1", "r2", "r3"]
    assert cli_main(["runs", "--sweep", "nope"]) == 2
    assert "no runs of sweep 'nope'" in capsys.readouterr().err


def test_a_2x2_sweep_queues_four_runs_under_one_name(tmp_path, capsys) -> None:
    import os

    from core.runs.reader import read_config, read_status
    from core.training.queue.runner import RUNNER_LOCK, _take
    from core.training.queue.store import queue_lock, reconcile
    from tests.core.train_helpers import make_paths, tokenizer_dir

    p = make_paths(tmp_path)
    (p.checkpoints_dir / ".queue").mkdir()
    hold = _take(p.checkpoints_dir / ".queue" / RUNNER_LOCK)  # queue only: nothing may start here
    try:
        where = ["--datasets-dir", str(p.datasets_dir), "--checkpoints-dir", str(p.checkpoints_dir)]
        assert cli_main(["sweep", *where, "--dataset", "sample", "--scratch", "tiny", "--tokenizer",
                         str(tokenizer_dir()), "--max-steps", "4", "--grid", "lr=3e-5,5e-5",
                         "--grid", "max-source-len=128,256", "--name", "s22"]) == 0
        out = capsys.readouterr()
        assert "queued 4 run(s) of sweep s22" in out.err
        with queue_lock(p.checkpoints_dir):
            order = [q.run_id for q in reconcile(p.checkpoints_dir)]
        assert len(order) == 4 and all("-s22-0" in r for r in order)
        points = [read_config(p.run(r))["sweep"]["point"] for r in order]
        assert points == [{"lr": 3e-5, "max_source_len": 128}, {"lr": 3e-5, "max_source_len": 256},
                          {"lr": 5e-5, "max_source_len": 128}, {"lr": 5e-5, "max_source_len": 256}]
        assert read_config(p.run(order[3]))["train"]["max_source_len"] == 256
        assert all(read_status(p.run(r)).state == "queued" for r in order)
        assert cli_main(["runs", *where, "--sweep", "s22"]) == 0
        listed = capsys.readouterr().out.splitlines()
        assert listed[0] == "sweep s22: 4 run(s), best eval loss first"
        assert sorted(line.split()[0] for line in listed[2:]) == sorted(order)
        # The sweep compares as one group: only the two swept fields differ, in queue order.
        assert cli_main(["runs", *where, "compare", "--sweep", "s22", "--json"]) == 0
        cmp = json.loads(capsys.readouterr().out)
        assert cmp["runs"] == order
        assert sorted(cmp["differing"]) == ["lr", "max_source_len"]
        assert cli_main(["runs", *where, "compare", "--sweep", "nope"]) == 2
        assert "no runs of sweep 'nope'" in capsys.readouterr().err
    finally:
        assert hold is not None
        os.close(hold)


def test_runs_sweep_ignores_the_chrf_a_resume_superseded(paths: Paths, capsys) -> None:
    # Segment 0 logged chrF 50 at step 10, died, and segment 1 resumed from step 6: that line
    # belongs to the replaced part of the run, so the best chrF is segment 1's 25.
    d = paths.run("resumed")
    d.mkdir()
    atomic_write_json(d / "config.json", {"train": {}, "sweep": {"name": "s", "index": 1, "point": {}}})
    atomic_write_json(d / "status.json", {"state": "finished", "best_eval_loss": 2.0})
    lines = [{"t": 1, "step": 5, "segment": 0, "quality": {"chrf": 20.0}},
             {"t": 2, "step": 10, "segment": 0, "quality": {"chrf": 50.0}},
             {"t": 3, "step": 6, "segment": 1, "event": "resumed"},
             {"t": 4, "step": 8, "segment": 1, "quality": {"chrf": 25.0}}]
    (d / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    assert cli_main(["runs", "--sweep", "s", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["best_chrf"] == 25.0
