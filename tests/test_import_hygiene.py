"""core never loads textual/rich; starting the TUI never loads torch/transformers/datasets."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

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


def _imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function (static, via the AST)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            out.add(base)
    return out


def _package_of(module: str) -> str:
    """`core.runs.reader` → `core.runs`; a top-level module such as `core.paths` stays itself."""
    return ".".join(module.split(".")[:2])


def _package_graph(top: str) -> dict[str, set[str]]:
    """package → packages it imports, within the `top` tree (a module's own package left out)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((REPO_ROOT / top).rglob("*.py")):
        mod = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        src = _package_of(mod)
        deps = graph.setdefault(src, set())
        for imported in _imports_of(path):
            if imported.split(".")[0] == top and _package_of(imported) != src:
                deps.add(_package_of(imported))
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle in `graph` as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_cycle_finder_finds_a_planted_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def test_core_packages_import_no_cycle_and_no_ui() -> None:
    graph = _package_graph("core")
    assert {"core.runs", "core.training", "core.cli"} <= set(graph)
    cycle = _cycle(graph)
    assert cycle is None, "core packages import each other in a cycle: " + " → ".join(cycle or [])
    # `narou-tui` is `tui.entry`, which hands the command line an opener for the app: no core
    # module imports the UI, not even inside a function.
    ui = sorted(p for p in graph if any(i.split(".")[0] == "tui" for i in _all_imports(p)))
    assert ui == [], f"core imports tui in {ui}"
    top = sorted({p.split(".")[0] for p in _all_imports("core")} & {"tui", "textual", "rich"})
    assert top == [], f"core imports {top}"


def test_run_directory_package_does_not_import_the_training_job() -> None:
    assert "core.training" not in _package_graph("core")["core.runs"]


def _all_imports(package: str) -> set[str]:
    folder = REPO_ROOT / Path(*package.split("."))
    files = sorted(folder.rglob("*.py")) if folder.is_dir() else [folder.with_suffix(".py")]
    return set().union(*(_imports_of(p) for p in files))



def _private_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every `from module import _name` in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.module or "", a.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 0
            for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]


def test_packages_use_only_each_others_public_names() -> None:
    crossing = []
    for top in ("core", "tui"):
        for path in sorted((REPO_ROOT / top).rglob("*.py")):
            mod = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
            crossing += [f"{mod} imports {name} from {source}"
                         for source, name in _private_imports(path)
                         if source.split(".")[0] in ("core", "tui")
                         and _package_of(source) != _package_of(mod)]
    assert crossing == []
