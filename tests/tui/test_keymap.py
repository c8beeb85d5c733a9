"""Keys are data: every binding has a unique id, a control key means one thing in every pane,
and the user's keymap.toml remaps bindings (bad entries named, good ones kept)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

from core.paths import Paths
from tests.until import until
from tui.app import LaunchOptions, NarouApp
from tui.keymap import KEYMAP_FILE, all_bindings, read_keymap

# Textual's own: the command palette, quit, copy. A pane binding on one of these would hide it.
TEXTUAL_KEYS = {"ctrl+p", "ctrl+q", "ctrl+c"}


def test_every_binding_has_a_unique_id() -> None:
    bindings = all_bindings()
    owners = {owner.__name__ for owner, _ in bindings}
    assert {"NarouApp", "DatasetScreen", "TokenizerScreen", "TrainScreen", "GenerateScreen",
            "FetchScreen", "RecordTable"} <= owners
    missing = [f"{owner.__name__}: {b.key} → {b.action}" for owner, b in bindings if not b.id]
    assert not missing, f"bindings without an id: {missing}"
    seen: dict[str, str] = {}
    for owner, b in bindings:
        assert b.id not in seen, f"id {b.id!r} used by {seen[b.id]} and {owner.__name__}"
        seen[str(b.id)] = owner.__name__


def test_a_control_key_means_the_same_in_every_pane() -> None:
    meanings: dict[str, set[str]] = defaultdict(set)
    where: dict[str, list[str]] = defaultdict(list)
    for owner, b in all_bindings():
        for key in b.key.split(","):
            if key.startswith("ctrl+"):
                meanings[key].add(b.description)
                where[key].append(f"{owner.__name__}: {b.description!r}")
    assert len(meanings) >= 5
    assert not set(meanings) & TEXTUAL_KEYS, f"pane keys hide Textual's {set(meanings) & TEXTUAL_KEYS}"
    mixed = {key: where[key] for key, labels in meanings.items() if len(labels) > 1}
    assert not mixed, f"control keys with several meanings: {mixed}"
    # The check sees keys used by more than one pane (so it is not vacuous).
    assert any(len(places) > 1 for places in where.values())


def test_keymap_file_keeps_good_entries_and_names_bad_ones(tmp_path: Path) -> None:
    path = tmp_path / KEYMAP_FILE
    path.write_text('"train.stop" = "ctrl+k"\n"no.such" = "x"\n"train.resume" = 3\n'
                    '[dataset]\nnext = "j, down"\n', encoding="utf-8")
    keymap, problems = read_keymap(path, {"train.stop", "train.resume", "dataset.next"})
    assert keymap == {"train.stop": "ctrl+k", "dataset.next": "j,down"}
    assert problems == [
        f"{path}: 'no.such' is not a binding id (ignored; docs/KEYS.md lists every id)",
        f"{path}: 'train.resume' must be a key such as \"ctrl+k\" or keys separated by commas, "
        "not 3 (ignored)",
    ]
    path.write_text('"train.stop" = "ctrl+k\n', encoding="utf-8")
    keymap, problems = read_keymap(path, {"train.stop"})
    assert keymap == {}
    assert len(problems) == 1 and problems[0].startswith(f"{path}: not valid TOML (")
    assert "line 1" in problems[0] and problems[0].endswith("; default keys are used")
    assert read_keymap(tmp_path / "absent.toml", {"train.stop"}) == ({}, [])


def test_keymap_remaps_a_pane_key_at_startup(paths: Paths) -> None:
    # "4" would open the Generate pane; remapped to "0", "4" does nothing and "0" opens it.
    (paths.config_dir / KEYMAP_FILE).write_text('"pane.generate" = "0"\n"bogus" = "x"\n',
                                                encoding="utf-8")
    notes: list[str] = []

    async def run() -> None:
        app = NarouApp(paths, LaunchOptions(initial_pane="dataset"))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            notes.extend(n.message for n in app._notifications)
            await pilot.press("escape", "4")
            await pilot.pause()
            assert app.current_mode == "dataset"
            await pilot.press("0")
            await until(pilot, lambda: app.current_mode == "generate", what="the Generate pane")

    asyncio.run(run())
    assert notes == [f"{paths.config_dir / KEYMAP_FILE}: 'bogus' is not a binding id "
                     "(ignored; docs/KEYS.md lists every id)"]


def test_keys_doc_lists_every_binding_with_its_default_key() -> None:
    from core.paths import REPO_ROOT

    doc = (REPO_ROOT / "docs" / "KEYS.md").read_text(encoding="utf-8")
    missing = [f"| `{b.id}` | `{b.key}` |" for _, b in all_bindings()
               if f"| `{b.id}` | `{b.key}` |" not in doc]
    assert not missing, f"docs/KEYS.md lacks rows starting {missing}"
