"""DatasetList: the Dataset pane's side list, one dataset per line with its record count."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

if TYPE_CHECKING:  # Arrow (core.data.browse) loads in workers, after the first frame
    from core.data.store import DatasetInfo


def _entry_row(entry: DatasetInfo) -> Table:
    from core.data.browse import entry_counts

    # Name left, count right-aligned, so counts line up down the list.
    row = Table.grid(expand=True)
    row.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
    row.add_column(justify="right", style="dim" if entry.ok else "red")
    row.add_row(entry.name, entry_counts(entry))
    return row


class DatasetList(OptionList):
    """Lists the datasets folder; each option's id is the dataset's name."""

    def show(self, entries: list[DatasetInfo], open_name: str | None) -> None:
        """Replace the list, keeping the highlight on `open_name` or else near where it was."""
        highlighted = self.highlighted
        self.clear_options()
        self.add_options([Option(_entry_row(e), id=e.name) for e in entries])
        if not self.highlight_name(open_name) and entries:
            self.highlighted = min(highlighted or 0, len(entries) - 1)

    def highlight_name(self, name: str | None) -> bool:
        """Put the highlight on dataset `name`; False when it is not listed."""
        if name is None:
            return False
        try:
            self.highlighted = self.get_option_index(name)
        except OptionDoesNotExist:
            return False
        return True
