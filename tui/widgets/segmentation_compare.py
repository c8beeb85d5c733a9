"""SegmentationCompare: the same text cut by two MeCab dictionaries (unidic-lite vs ipadic) side by side."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static


class SegmentationCompare(Static):
    """One column per dictionary; words that only one dictionary produces are highlighted."""

    DEFAULT_CSS = """
    SegmentationCompare { height: auto; padding: 0 1; }
    """

    segmentations: dict[str, list[str]] = {}  # noqa: RUF012 - replaced per instance by show()

    def show(self, segmentations: dict[str, list[str]]) -> None:
        """`segmentations`: dictionary label → surfaces (a missing dictionary maps to [])."""
        self.segmentations = dict(segmentations)
        if len(segmentations) < 2:
            only = next(iter(segmentations), "")
            self.update(Text(f"only {only} is installed: install ipadic to compare dictionaries", style="dim"))
            return
        table = Table(expand=True, show_lines=False)
        sets = {name: set(words) for name, words in segmentations.items()}
        for name, words in segmentations.items():
            table.add_column(f"{name} ({len(words)} words)")
        cells = []
        for name, words in segmentations.items():
            others = set().union(*(s for n, s in sets.items() if n != name))
            cell = Text()
            for w in words:
                cell.append(w, style="" if w in others else "bold magenta")
                cell.append(" | ", style="dim")
            cells.append(cell)
        table.add_row(*cells)
        self.update(table)
