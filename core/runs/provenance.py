"""What a run was made with: library versions and the project's git revision (for config.json)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def environment_versions() -> dict[str, Any]:
    """Versions that decide whether a run can be reproduced."""
    import platform

    out: dict[str, Any] = {"python": platform.python_version()}
    for pkg in ("torch", "transformers", "datasets", "tokenizers", "fugashi", "unidic-lite", "ipadic"):
        out[pkg] = _version(pkg)
    return out


def _git_dir(root: Path) -> Path | None:
    """The checkout's git directory: `.git` itself, or where a worktree's `.git` file points."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    try:
        text = dot_git.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not text.startswith("gitdir: "):
        return None
    target = Path(text[len("gitdir: ") :])
    return target if target.is_absolute() else (root / target).resolve()


def git_revision(root: Path) -> str | None:
    """HEAD of the project checkout (read from .git without running git), if any."""
    git_dir = _git_dir(root)
    if git_dir is None:
        return None
    # A worktree keeps HEAD in its own folder but branches and packed refs in the common one.
    common = git_dir
    with contextlib.suppress(OSError):
        common = (git_dir / (git_dir / "commondir").read_text().strip()).resolve()
    try:
        ref = (git_dir / "HEAD").read_text().strip()
        if not ref.startswith("ref: "):
            return ref
        name = ref[5:]
        for base in (git_dir, common):
            if (base / name).exists():
                return (base / name).read_text().strip()
        for line in (common / "packed-refs").read_text().splitlines():
            if line.endswith(" " + name):
                return line.split()[0]
        return None
    except OSError:
        return None
