"""Where datasets, runs and user settings live: the one place that resolves paths."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS_ENV = "NAROU_TUI_DATASETS_DIR"
CHECKPOINTS_ENV = "NAROU_TUI_CHECKPOINTS_DIR"
CONFIG_ENV = "NAROU_TUI_CONFIG_DIR"


class PathError(ValueError):
    """A name that would resolve outside its managed folder."""


# Names become folder names, and files inside get suffixes (".tmp", "-2"): keep well under the
# 255-byte limit of one path component.
NAME_MAX_BYTES = 200


def safe_name(name: str, kind: str) -> str:
    """`name` if it can be one folder inside a managed folder, else PathError saying why."""
    # Names become folder names; refuse anything that could climb out of the managed root.
    if (not name or name in {".", ".."} or "/" in name or "\\" in name or name.startswith(".")
            or any(ord(c) < 32 or c == "\x7f" for c in name)):
        raise PathError(f"invalid {kind} name {name!r:.80}: use letters, digits, '-', '_' or '.'")
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > NAME_MAX_BYTES:
        raise PathError(f"{kind} name too long ({size} bytes; at most {NAME_MAX_BYTES}): {name[:40]!r}…")
    return name


@dataclass(frozen=True)
class Paths:
    """Resolved locations of the managed folders.

    datasets_dir: one sub-folder per dataset (HF `datasets` Arrow + meta.json).
    checkpoints_dir: one run directory per training run; the only place runs are written.
    config_dir: user settings such as saved decoding presets.
    """

    datasets_dir: Path
    checkpoints_dir: Path
    config_dir: Path

    @classmethod
    def resolve(
        cls,
        datasets_dir: str | os.PathLike[str] | None = None,
        checkpoints_dir: str | os.PathLike[str] | None = None,
        config_dir: str | os.PathLike[str] | None = None,
    ) -> Paths:
        """Explicit argument, else environment variable, else the repo-level folder."""
        ds = datasets_dir or os.environ.get(DATASETS_ENV) or REPO_ROOT / "datasets"
        ck = checkpoints_dir or os.environ.get(CHECKPOINTS_ENV) or REPO_ROOT / "checkpoints"
        cfg = (
            config_dir
            or os.environ.get(CONFIG_ENV)
            or Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "narou-tui"
        )
        return cls(Path(ds).resolve(), Path(ck).resolve(), Path(cfg).resolve())

    def dataset(self, name: str) -> Path:
        """Folder of dataset `name` inside datasets_dir."""
        return self.datasets_dir / safe_name(name, "dataset")

    def run(self, run_id: str) -> Path:
        """Folder of run `run_id` inside checkpoints_dir (never anywhere else)."""
        return self.checkpoints_dir / safe_name(run_id, "run")


def short_path(path: object, parts: int = 3) -> str:
    """Last `parts` components of a path: enough to recognise it, stable across checkouts."""
    p = Path(str(path))
    tail = p.parts[-parts:]
    return ("…/" if len(p.parts) > parts else "") + "/".join(tail)
