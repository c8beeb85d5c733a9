"""Every Message the app defines is a dataclass: typed fields, no hand-written __init__."""

from __future__ import annotations

import ast

from core.paths import REPO_ROOT


def _base_names(node: ast.ClassDef) -> set[str]:
    return {b.id if isinstance(b, ast.Name) else b.attr for b in node.bases
            if isinstance(b, ast.Name | ast.Attribute)}


def _decorators(node: ast.ClassDef) -> set[str]:
    names = set()
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        names.add(target.id if isinstance(target, ast.Name) else getattr(target, "attr", ""))
    return names


def test_every_message_is_a_dataclass() -> None:
    found, plain = 0, []
    for path in sorted((REPO_ROOT / "tui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and "Message" in _base_names(node):
                found += 1
                if "dataclass" not in _decorators(node):
                    plain.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name}")
    assert found > 20  # the walk really sees the app's messages
    assert plain == []
