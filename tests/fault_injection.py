"""Make one named function raise: the fault injection of the TUI's failure tests."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class Injected:
    """The replaced function: how often it was called and how many calls still fail."""

    calls: int = 0


def inject(monkeypatch: pytest.MonkeyPatch, target: str, error: BaseException,
           times: int | None) -> Injected:
    """Make `module:attr.path` raise `error` on its first `times` calls (None: always)."""
    module, _, dotted = target.partition(":")
    owner: Any = importlib.import_module(module)
    *parents, name = dotted.split(".")
    for part in parents:
        owner = getattr(owner, part)
    real = getattr(owner, name)
    state = Injected()

    def failing(*args: Any, **kwargs: Any) -> Any:
        state.calls += 1
        if times is None or state.calls <= times:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)
    return state
