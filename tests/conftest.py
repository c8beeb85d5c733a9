"""Shared fixtures: isolated data folders, the real-data location, a tiny pretrained BERT, and
marker handling."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.paths import REPO_ROOT, Paths

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def utc() -> Iterator[None]:
    """The process time zone set to UTC (snapshots show clock times), restored after the test:
    TZ as it was and `time.tzset()` again, or later tests would keep reading UTC."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """Empty datasets/checkpoints/config folders, also exported through the environment."""
    p = Paths(tmp_path / "datasets", tmp_path / "checkpoints", tmp_path / "config")
    for d in (p.datasets_dir, p.checkpoints_dir, p.config_dir):
        d.mkdir(parents=True)
    monkeypatch.setenv("NAROU_TUI_DATASETS_DIR", str(p.datasets_dir))
    monkeypatch.setenv("NAROU_TUI_CHECKPOINTS_DIR", str(p.checkpoints_dir))
    monkeypatch.setenv("NAROU_TUI_CONFIG_DIR", str(p.config_dir))
    return p


def shared_data(relative: str) -> Path:
    """Path under ../shared/data, or skip the test with a reason when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real data not present: {path} (only beside the project checkout)")
    return path


@pytest.fixture(scope="session")
def tiny_pretrained_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny pretrained BERT in the file layout of tohoku-nlp/bert-base-japanese-v3 (built once)."""
    from tests.pretrained_tiny import build_pretrained_bert

    return build_pretrained_bert(tmp_path_factory.mktemp("v3-layout-bert"))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained tiny BERT2BERT checkpoint, built once per session and shared read-only."""
    from tests.generation_tiny import build_tiny_run

    return build_tiny_run(tmp_path_factory.getbasetemp() / "tiny-gen")


@pytest.fixture
def run_paths(paths: Paths, tiny_checkpoint: Path) -> Paths:
    """`paths` holding a private copy of the tiny run as `tiny-run`, free to damage."""
    import shutil

    shutil.copytree(tiny_checkpoint.parent, paths.checkpoints_dir / "tiny-run")
    return paths


@pytest.fixture(scope="session")
def lr_pair(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two tiny runs trained for real that differ only in lr (built once, shared read-only)."""
    from tests.compare_runs import train_lr_pair

    return train_lr_pair(tmp_path_factory.mktemp("lr-pair"))
