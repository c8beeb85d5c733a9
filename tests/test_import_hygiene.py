"""core never loads textual/rich; starting the TUI never loads torch/transformers/datasets."""

from __future__ import annotations

import json
import subprocess
import sys

from core.paths import REPO_ROOT

CORE_FORBIDDEN = ("textual", "rich")
TUI_FORBIDDEN = ("torch", "transformers", "datasets")


def _core_modules() -> list[str]:
    mods = []
    for path in sorted((REPO_ROOT / "core").rglob("*.py")):
        rel = path.relative_to(REPO_ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods.append(".".join(parts))
    return mods


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300, check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_core_never_imports_textual_or_rich() -> None:
    mods = _core_modules()
    assert "core.paths" in mods
    code = "import importlib\n" + "\n".join(f"importlib.import_module({m!r})" for m in mods)
    loaded = _loaded_after(code)
    leaked = {m for m in loaded if m.split(".")[0] in CORE_FORBIDDEN}
    assert not leaked, f"core imported {sorted(leaked)[:5]}"


def test_tui_start_loads_no_heavy_library() -> None:
    # Run the app headless until its first screen is up, then list what was imported.
    code = """
import asyncio
from core.paths import Paths
from tui.app import NarouApp
async def main():
    app = NarouApp(Paths.resolve())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
asyncio.run(main())
"""
    loaded = _loaded_after(code)
    heavy = {m for m in loaded if m.split(".")[0] in TUI_FORBIDDEN}
    assert "textual" in loaded
    assert not heavy, f"TUI start imported {sorted(heavy)[:5]}"
