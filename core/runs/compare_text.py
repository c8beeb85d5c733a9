"""The comparison of runs as text: cell formats and the side-by-side table."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from core.timefmt import MISSING

if TYPE_CHECKING:
    from core.runs.compare import Comparison


def fmt_config_value(v: Any) -> str:
    if v is None:
        return MISSING
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def value_at(v: float | None, step: int | None, fmt: str) -> str:
    """'7.8624 @6': a best figure and the step it was reached at ('—' when there is none)."""
    if v is None or not math.isfinite(v):
        return MISSING
    return fmt.format(v) + (f" @{step:,}" if step is not None and step >= 0 else "")


def figure_text(v: float | None, fmt: str) -> str:
    """`v` in `fmt`, or '—' when it is not known."""
    return MISSING if v is None or not math.isfinite(v) else fmt.format(v)


def table_text(cmp: Comparison, width: int | None = None) -> list[str]:
    """The comparison as text lines: one column per run, one row per differing field/figure."""
    rows = cmp.rows()
    label_w = max([len(label) for label, _ in rows] + [len("run")])
    cols = [r.run_id for r in cmp.runs]
    widths = [max([len(c)] + [len(vals[i]) for _, vals in rows]) for i, c in enumerate(cols)]
    lines = ["  ".join([f"{'run':<{label_w}}"] + [f"{c:<{w}}" for c, w in zip(cols, widths, strict=True)])]
    for label, vals in rows:
        lines.append("  ".join([f"{label:<{label_w}}"]
                               + [f"{v:<{w}}" for v, w in zip(vals, widths, strict=True)]))
    if not cmp.differing:
        lines.append("(no config field differs)")
    lines = [ln.rstrip() for ln in lines]
    return [ln[:width] for ln in lines] if width else lines
