"""`narou-tui dataset import|list|stats` through `core.cli.main.main`: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli.main import main
from core.data.split import SPLITS
from core.paths import REPO_ROOT, Paths
from tests.core.data_helpers import row, sha256, write_jsonl


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_import_list_stats(paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [row(i, story=row(i)["story"] + ("\n※注意書き" if i % 5 == 0 else "")) for i in range(60)]
    src = write_jsonl(tmp_path / "src.jsonl", [*rows, "{broken", row(3)])
    code, out, _ = run(capsys, "dataset", "import", "src.jsonl", "--name", "demo", "--seed", "5")
    assert code == 0
    assert "imported 60 records" in out and "train 54 · validation 3 · test 3" in out
    assert "drop_notes" in out and "(lines 12)" in out
    assert "skipped 1 record(s):\n  src.jsonl:61: malformed JSON" in out

    code, out, _ = run(capsys, "dataset", "list")
    assert code == 0 and "demo" in out and "ok" in out

    code, out, _ = run(capsys, "dataset", "stats", "demo")
    assert code == 0
    assert "rows: train 54 · validation 3 · test 3 · total 60" in out
    assert "story length histogram" in out and "top keywords: スローライフ 60" in out

    code, out, _ = run(capsys, "dataset", "stats", "demo", "--json")
    data = json.loads(out)
    assert data["stats"]["counts"] == {"train": 54, "validation": 3, "test": 3}
    assert data["stats"]["titles_across_splits"] == 0
    assert data["cleaning"]["steps"][2]["detail"] == {"lines": 12}
    assert sum(data["stats"]["story_histogram"]["counts"]) == 60
    assert sha256(src) == sha256(tmp_path / "src.jsonl")


def test_import_json_report_and_options(paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "s.jsonl", [row(i) for i in range(20)] + [row(1)])
    code, out, _ = run(
        capsys, "dataset", "import", "s.jsonl", "--name", "o", "--split", "0.5,0.25,0.25", "--no-dedup",
        "--nfkc", "--min-story-chars", "5", "--json",
    )
    assert code == 0
    report = json.loads(out)
    assert report["counts"]["validation"] == 5 and sum(report["counts"].values()) == 21
    steps = {s["name"]: s for s in report["cleaning"]["steps"]}
    assert not steps["dedup_exact"]["enabled"] and steps["nfkc"]["enabled"]
    assert report["cleaning"]["options"]["min_story_chars"] == 5


def test_existing_name_needs_force(paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "s.jsonl", [row(i) for i in range(5)])
    assert run(capsys, "dataset", "import", "s.jsonl", "--name", "x")[0] == 0
    code, _, err = run(capsys, "dataset", "import", "s.jsonl", "--name", "x")
    assert code == 2 and "already exists" in err and "--force" in err
    assert run(capsys, "dataset", "import", "s.jsonl", "--name", "x", "--force")[0] == 0


def test_strict_and_nothing_usable_exit_non_zero(paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "s.jsonl", [row(1), "oops", row(2)])
    code, _, err = run(capsys, "dataset", "import", "s.jsonl", "--name", "x", "--strict")
    assert code == 1 and "s.jsonl:2: malformed JSON" in err and "nothing written" in err
    assert list(paths.datasets_dir.iterdir()) == []

    write_jsonl(tmp_path / "junk.jsonl", ["a", "b"])
    code, _, err = run(capsys, "dataset", "import", "junk.jsonl", "--name", "x")
    assert code == 1 and "no usable record in junk.jsonl" in err

    (tmp_path / "empty.csv").write_bytes(b"")
    code, _, err = run(capsys, "dataset", "import", "empty.csv", "--name", "x")
    assert code == 1 and "empty.csv: file is empty" in err


def test_user_errors_are_messages(paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "dataset", "import", "missing.jsonl", "--name", "x")
    assert code == 2 and "missing.jsonl: no such file" in err
    code, _, err = run(capsys, "dataset", "import", "missing.jsonl", "--name", "x", "--split", "1,2")
    assert code == 2 and "expected three numbers" in err
    code, _, err = run(capsys, "dataset", "stats", "nope")
    assert code == 2 and "dataset 'nope' not found (available: none)" in err
    code, _, err = run(capsys, "dataset", "import", "missing.jsonl", "--name", "../up")
    assert code == 2 and "invalid dataset name" in err


def test_many_skips_are_capped(paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "s.jsonl", [row(1)] + ["x"] * 25)
    code, out, _ = run(capsys, "dataset", "import", "s.jsonl", "--name", "x")
    assert code == 0 and "skipped 25 record(s):" in out and "… and 5 more" in out


def test_datasets_dir_option_and_pending_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "elsewhere"
    (other / "sample").mkdir(parents=True)
    write_jsonl(other / "sample" / "sample.jsonl", [row(i) for i in range(3)])
    code, out, _ = run(capsys, "dataset", "list", "--datasets-dir", str(other), "--json")
    [entry] = json.loads(out)
    assert code == 0 and entry["name"] == "sample" and not entry["ok"]
    assert entry["error"].startswith("not built yet")


def test_bundled_sample_imports(paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundled = REPO_ROOT / "datasets" / "sample" / "sample.jsonl"
    if not bundled.exists() or sum(1 for _ in bundled.open(encoding="utf-8")) < 50:
        pytest.skip("datasets/sample/sample.jsonl has fewer than 50 records yet")
    # A snapshot, so an edit of the bundled file during the run cannot break the hash check.
    sample = tmp_path / "sample.jsonl"
    sample.write_bytes(bundled.read_bytes())
    lines = sum(1 for line in sample.open(encoding="utf-8") if line.strip())
    before = sha256(sample)
    code, out, _ = run(capsys, "dataset", "import", str(sample), "--name", "sample", "--json")
    assert code == 0
    report = json.loads(out)
    total = sum(report["counts"].values())
    assert 0.8 * lines <= total <= lines  # a few deliberate duplicates / too-short records go
    assert all(report["counts"][s] >= 1 for s in SPLITS)
    assert report["skipped_total"] == 0
    assert sha256(sample) == before
    code, out, _ = run(capsys, "dataset", "stats", "sample", "--json")
    stats = json.loads(out)["stats"]
    assert stats["duplicate_pairs"] == 0 and stats["empty_stories"] == 0
    assert stats["titles_across_splits"] == 0 and stats["top_genres"]
