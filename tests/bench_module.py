"""Load a script under bench/ as a module, so tests can call its functions directly."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from core.paths import REPO_ROOT


def load_bench(script: str) -> ModuleType:
    """bench/<script>.py as module `<script>_bench` (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"{script}_bench", REPO_ROOT / "bench" / f"{script}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod
