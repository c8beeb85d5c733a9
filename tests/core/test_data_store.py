"""Saving, listing and loading datasets; atomic replace; load_tables without `datasets`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from core.data.errors import DatasetExists, DatasetNotFound
from core.data.importer import ImportOptions, import_dataset
from core.data.store import list_datasets, load_dataset_dict, load_tables, read_meta
from core.paths import REPO_ROOT, Paths
from tests.core.data_helpers import row, sha256, write_jsonl


def test_round_trip_meta_tables_and_dataset_dict(paths: Paths, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "src.jsonl", [row(i) for i in range(40)] + [row(3)])
    report = import_dataset(src, "demo", paths)
    assert report.written and sum(report.counts.values()) == 40

    meta = read_meta(paths, "demo")
    assert meta["counts"] == report.counts == {"train": 36, "validation": 2, "test": 2}
    assert meta["source"] == str(src.resolve())
    assert meta["fingerprint"] == report.fingerprint and len(meta["fingerprint"]) == 64
    assert meta["cleaning"]["steps"][5]["name"] == "dedup_exact"
    assert meta["cleaning"]["steps"][5]["removed"] == 1
    assert {"name", "created", "aliases", "skipped"} <= set(meta)

    tables = load_tables(paths, "demo")
    assert list(tables) == ["train", "validation", "test"]
    assert tables["train"].column_names == ["title", "story", "ncode", "keyword", "genre", "biggenre"]
    assert tables["train"].schema.field("genre").type == pa.int64()
    got = sorted(t for tb in tables.values() for t in tb.column("title").to_pylist())
    assert got == sorted(row(i)["title"] for i in range(40))

    dd = load_dataset_dict(paths, "demo")
    assert dd["validation"].num_rows == 2
    assert dd["train"][0]["title"] == tables["train"].column("title")[0].as_py()


def test_fingerprint_is_stable_for_the_same_content(paths: Paths, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "src.jsonl", [row(i) for i in range(10)])
    a = import_dataset(src, "a", paths).fingerprint
    b = import_dataset(src, "b", paths).fingerprint
    c = import_dataset(src, "c", paths, ImportOptions(seed=99)).fingerprint
    assert a == b and a != c


def test_load_tables_never_imports_datasets(paths: Paths, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "src.jsonl", [row(i) for i in range(5)])
    import_dataset(src, "demo", paths)
    code = (
        "import sys\n"
        "from core.paths import Paths\n"
        "from core.data.store import load_tables, list_datasets, read_meta\n"
        "from core.data.stats import compute_stats\n"
        "t = load_tables(Paths.resolve(), 'demo')\n"
        "compute_stats(t); list_datasets(Paths.resolve()); read_meta(Paths.resolve(), 'demo')\n"
        "print(sum(x.num_rows for x in t.values()), 'datasets' in sys.modules)\n"
    )
    env = dict(os.environ, NAROU_TUI_DATASETS_DIR=str(paths.datasets_dir))
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["5", "False"]


def test_existing_dataset_needs_force_and_force_keeps_other_files(paths: Paths, tmp_path: Path) -> None:
    folder = paths.dataset("sample")
    folder.mkdir()
    src = write_jsonl(folder / "sample.jsonl", [row(i) for i in range(12)])
    (folder / "README.md").write_text("サンプルの説明", encoding="utf-8")
    before = sha256(src)

    [info] = list_datasets(paths)
    assert (info.name, info.ok, info.pending_source) == ("sample", False, src)
    assert "not built yet" in (info.error or "") and "dataset import" in (info.error or "")
    with pytest.raises(DatasetNotFound, match="not built yet"):
        load_tables(paths, "sample")

    import_dataset(src, "sample", paths)  # nothing built yet: no --force needed
    with pytest.raises(DatasetExists, match="--force"):
        import_dataset(src, "sample", paths)
    write_jsonl(tmp_path / "other.jsonl", [row(i) for i in range(100, 103)])
    import_dataset(tmp_path / "other.jsonl", "sample", paths, ImportOptions(force=True))

    assert sha256(src) == before and (folder / "README.md").exists()
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md", "dataset_dict.json", "meta.json", "sample.jsonl", "test", "train", "validation",
    ]
    assert read_meta(paths, "sample")["counts"] == {"train": 1, "validation": 1, "test": 1}
    assert not [p for p in paths.datasets_dir.iterdir() if p.name.startswith(".")]  # temp folders gone
    [info] = list_datasets(paths)
    assert info.ok and info.total == 3


def test_list_reports_broken_and_foreign_folders(paths: Paths, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "src.jsonl", [row(i) for i in range(6)])
    import_dataset(src, "good", paths)
    import_dataset(src, "broken", paths)
    (paths.dataset("broken") / "dataset_dict.json").unlink()
    bad_meta = paths.dataset("badmeta")
    bad_meta.mkdir()
    (bad_meta / "meta.json").write_text("{not json", encoding="utf-8")
    (paths.datasets_dir / "empty").mkdir()
    (paths.datasets_dir / "README.md").write_text("x", encoding="utf-8")

    infos = {i.name: i for i in list_datasets(paths)}
    assert set(infos) == {"good", "broken", "badmeta"}
    assert infos["good"].ok and infos["good"].total == 6 and infos["good"].source == str(src.resolve())
    assert not infos["broken"].ok and "dataset_dict.json missing" in (infos["broken"].error or "")
    assert not infos["badmeta"].ok and "unreadable" in (infos["badmeta"].error or "")


def test_dataset_not_found_names_what_exists(paths: Paths, tmp_path: Path) -> None:
    import_dataset(write_jsonl(tmp_path / "s.jsonl", [row(1)]), "alpha", paths)
    with pytest.raises(DatasetNotFound) as err:
        read_meta(paths, "beta")
    assert err.value.available == ["alpha"]
    assert str(err.value) == "dataset 'beta' not found (available: alpha)"


def test_plain_save_to_disk_folder_is_listed_and_loadable(paths: Paths) -> None:
    from datasets import Dataset, DatasetDict

    DatasetDict({"train": Dataset.from_list([row(1), row(2)])}).save_to_disk(str(paths.dataset("plain")))
    [info] = list_datasets(paths)
    assert info.ok and info.counts == {"train": 2}
    assert read_meta(paths, "plain")["counts"] == {"train": 2}
    assert load_tables(paths, "plain")["train"].num_rows == 2


def test_meta_json_is_plain_json(paths: Paths, tmp_path: Path) -> None:
    import_dataset(write_jsonl(tmp_path / "s.jsonl", [row(1)]), "x", paths)
    text = (paths.dataset("x") / "meta.json").read_text(encoding="utf-8")
    assert json.loads(text)["name"] == "x"
