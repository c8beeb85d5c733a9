"""Histogram: horizontal text bars for binned counts, scaled to the widget's width."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget

_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: int, top: int, width: int) -> str:
    """A bar of `value/top` of `width` cells, with 1/8-cell resolution at the tip."""
    if top <= 0 or width <= 0:
        return ""
    eighths = round(value / top * width * 8)
    full, rest = divmod(eighths, 8)
    tip = _EIGHTHS[rest] if rest else ""
    # A non-zero bin must never look empty.
    if value > 0 and not full and not rest:
        tip = "▏"
    return "█" * full + tip


class Histogram(Widget):
    """One labelled bar per bin (labels such as "0–49", "500+")."""

    DEFAULT_CSS = """
    Histogram {
        height: auto;
        & > .histogram--bar { color: $accent; }
    }
    """
    COMPONENT_CLASSES = {"histogram--bar"}

    def __init__(self, title: str = "", *, id: str | None = None, classes: str | None = None
                 ) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.labels: list[str] = []
        self.counts: list[int] = []

    def set_data(self, labels: Sequence[str], counts: Sequence[int], title: str | None = None
                 ) -> None:
        if len(labels) != len(counts):
            raise ValueError(f"{len(labels)} labels for {len(counts)} counts")
        self.labels, self.counts = list(labels), list(counts)
        if title is not None:
            self.title = title
        self.refresh(layout=True)

    def get_content_height(self, container, viewport, width) -> int:  # type: ignore[no-untyped-def]
        return len(self.counts) + (1 if self.title else 0)

    def render(self) -> RenderableType:
        text = Text(no_wrap=True, overflow="crop")
        if self.title:
            text.append(self.title + "\n", style="bold")
        if not self.counts:
            return text
        labels = self.labels
        label_w = max(len(s) for s in labels)
        count_w = max(len(f"{c:,}") for c in self.counts)
        bar_w = max(4, self.size.width - label_w - count_w - 3)
        top = max(self.counts)
        bar_style = self.get_component_rich_style("histogram--bar")
        for i, (label, count) in enumerate(zip(labels, self.counts, strict=True)):
            text.append(f"{label:>{label_w}} ")
            text.append(f"{bar(count, top, bar_w):<{bar_w}}", style=bar_style)
            text.append(f" {count:>{count_w},}")
            if i < len(self.counts) - 1:
                text.append("\n")
        return text
