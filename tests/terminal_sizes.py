"""Terminal sizes every pane is snapshotted at: the 80×24 SSH default, a laptop, a wide screen."""

from __future__ import annotations

TERMINAL_SIZES: tuple[tuple[int, int], ...] = ((80, 24), (120, 40), (200, 60))
SIZE_IDS: tuple[str, ...] = tuple(f"{w}x{h}" for w, h in TERMINAL_SIZES)
