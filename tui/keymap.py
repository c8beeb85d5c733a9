"""Keys are data: every binding of the app by id, and the user's keymap file that remaps them.

`<config_dir>/keymap.toml` maps binding ids to keys, e.g.

    "train.stop" = "ctrl+k"          # or, as a TOML table:  [train]  stop = "ctrl+k"
    "dataset.next" = "n,down"        # several keys for one binding: comma-separated

A bad file or entry never stops the app: each problem is one line naming the file and the
entry (or the TOML line), and every good entry is still applied.
"""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from pathlib import Path
from typing import Any

from textual.binding import Binding

KEYMAP_FILE = "keymap.toml"
# The packages whose classes may declare BINDINGS (the app module itself is added by name).
_BINDING_PACKAGES = ("tui.screens", "tui.widgets")


def binding_owners() -> list[type]:
    """The app and every screen and widget class of this project that declares BINDINGS."""
    from tui.app import NarouApp  # late: the app module imports this one

    owners: list[type] = [NarouApp]
    for package_name in _BINDING_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__, package_name + "."):
            module = importlib.import_module(info.name)
            owners += [obj for obj in vars(module).values()
                       if isinstance(obj, type) and obj.__module__ == module.__name__
                       and "BINDINGS" in vars(obj)]
    return owners


def all_bindings() -> list[tuple[type, Binding]]:
    """(owner class, Binding) for every binding the app declares, in declaration order."""
    out: list[tuple[type, Binding]] = []
    for owner in binding_owners():
        for b in vars(owner)["BINDINGS"]:
            if not isinstance(b, Binding):
                raise TypeError(f"{owner.__name__}.BINDINGS holds {b!r}: use Binding(..., id=...)")
            out.append((owner, b))
    return out


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"train": {"stop": "k"}}` → `{"train.stop": "k"}` (TOML turns dotted keys into tables)."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def read_keymap(path: Path, known_ids: set[str]) -> tuple[dict[str, str], list[str]]:
    """(binding id → keys, problems) from a keymap file; a missing file is an empty keymap."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [f"{path}: cannot be read ({exc}); default keys are used"]
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return {}, [f"{path}: not valid TOML ({exc}); default keys are used"]
    keymap: dict[str, str] = {}
    problems: list[str] = []
    for binding_id, keys in _flatten(raw).items():
        if binding_id not in known_ids:
            problems.append(f"{path}: {binding_id!r} is not a binding id (ignored; docs/KEYS.md "
                            "lists every id)")
        elif not isinstance(keys, str) or not keys.strip() or \
                any(not k.strip() for k in keys.split(",")):
            problems.append(f"{path}: {binding_id!r} must be a key such as \"ctrl+k\" or keys "
                            f"separated by commas, not {keys!r} (ignored)")
        else:
            keymap[binding_id] = ",".join(k.strip() for k in keys.split(","))
    return keymap, problems


def load_keymap(config_dir: Path) -> tuple[dict[str, str], list[str]]:
    """The user's keymap from `<config_dir>/keymap.toml`, checked against the app's binding ids."""
    path = config_dir / KEYMAP_FILE
    if not path.is_file():  # the usual case: no need to import every screen to check ids
        return {}, []
    return read_keymap(path, {b.id for _, b in all_bindings() if b.id})
