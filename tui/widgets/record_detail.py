"""RecordDetail: every field of one dataset record, with the full synopsis, scrollable."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from core.data.genres import BIGGENRE_NAMES
from core.data.query import SplitRecord, genre_name
from core.data.search_marks import SearchMarks


class RecordDetail(VerticalScroll, can_focus=True):
    """Shows one `SplitRecord`; up/down scroll long synopses."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"record-detail--match"}

    DEFAULT_CSS = """
    RecordDetail {
        padding: 0 1;
        & > .record-detail--match { color: $text-warning; text-style: bold underline; }
        & > #detail-title { text-style: bold; color: $text-accent; margin-bottom: 1; }
        & > #detail-fields { margin-bottom: 1; }
        & > .detail-heading { color: $text-muted; text-style: bold; }
        & > #detail-story { margin-bottom: 1; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_up", "Up", show=False, id="detail.up",
                tooltip="Scroll the synopsis up"),
        Binding("down,j", "scroll_down", "Down", show=False, id="detail.down",
                tooltip="Scroll the synopsis down"),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.record: SplitRecord | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-title")
        yield Static("", id="detail-fields")
        yield Static("あらすじ (synopsis)", classes="detail-heading")
        yield Static("", id="detail-story")
        yield Static("キーワード (keywords)", classes="detail-heading")
        yield Static("", id="detail-keywords")

    def show(self, record: SplitRecord, marks: SearchMarks | None = None) -> None:
        """Replace the shown record and scroll back to its top; highlight `marks`' matches."""
        self.record = record
        self.query_one("#detail-title", Static).update(
            self._marked(record.title, marks) if record.title else Text("(no title)"))
        fields = Table.grid(padding=(0, 2))
        fields.add_column(style="dim")
        fields.add_column()
        genre = genre_name(record.genre)
        if record.genre is not None:
            genre = f"{genre}  ({record.genre})"
        big = BIGGENRE_NAMES.get(record.biggenre, str(record.biggenre)) if record.biggenre is not None else "—"
        fields.add_row("split", record.split)
        fields.add_row("ncode", record.ncode or "—")
        fields.add_row("genre", genre)
        fields.add_row("biggenre", big)
        fields.add_row("lengths", f"synopsis {record.story_chars:,} chars · title {record.title_chars:,} chars")
        fields.add_row("row", f"{record.index:,}")
        self.query_one("#detail-fields", Static).update(fields)
        self.query_one("#detail-story", Static).update(
            self._marked(record.story, marks) if record.story else Text("(empty synopsis)"))
        keywords = record.keyword.split()
        self.query_one("#detail-keywords", Static).update(
            Text("  ".join(keywords)) if keywords else Text("(none)", style="dim"))
        self.scroll_home(animate=False)

    def _marked(self, text: str, marks: SearchMarks | None) -> Text:
        out = Text(text)
        if marks is not None:
            style = self.get_component_rich_style("record-detail--match", partial=True)
            for start, end in marks.spans(text):
                out.stylize(style, start, end)
        return out
