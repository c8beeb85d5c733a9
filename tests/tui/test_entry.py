"""The installed `narou-tui` is `tui.entry`: the headless CLI, handed the app's opener."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

import tui.entry
from core.cli.app_request import LaunchOptions
from core.cli.main import main as cli_main
from core.paths import REPO_ROOT, Paths


def test_installed_command_is_the_ui_entry_point() -> None:
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts == {"narou-tui": "tui.entry:main"}
    module, _, name = scripts["narou-tui"].partition(":")
    entry = getattr(importlib.import_module(module), name)
    assert entry is tui.entry.main  # the mapped name resolves to the entry point


def test_attach_asks_the_opener_for_the_run_read_only(paths: Paths) -> None:
    (paths.checkpoints_dir / "r1").mkdir()
    (paths.checkpoints_dir / "r1" / "config.json").write_text("{}", encoding="utf-8")
    asked: list[tuple[Path, LaunchOptions]] = []

    def opener(p: Paths, options: LaunchOptions) -> int:
        asked.append((p.checkpoints_dir, options))
        return 0

    assert cli_main(["attach", "r1", "--readonly"], open_app=opener) == 0
    assert asked == [(paths.checkpoints_dir, LaunchOptions("train", "r1", True))]
    assert cli_main([], open_app=opener) == 0
    assert asked[-1] == (paths.checkpoints_dir, LaunchOptions())


def test_headless_command_line_says_where_the_workbench_is(paths: Paths,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main([]) == 2
    assert capsys.readouterr().err.strip() == (
        "narou-tui: this entry point has no terminal UI; open the workbench with `narou-tui` "
        "(or `python -m tui`)")


def test_attach_to_a_missing_run_never_opens_the_app(paths: Paths,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    def opener(p: Paths, options: LaunchOptions) -> int:
        raise AssertionError("the app must not open for a missing run")

    assert cli_main(["attach", "nope"], open_app=opener) == 2
    assert "no run 'nope'" in capsys.readouterr().err
