"""RecordTable: a virtual table that draws only the visible rows of an index array."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from rich.cells import get_character_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from core.data.search_marks import SearchMarks, Span

if TYPE_CHECKING:  # numpy is imported on first data, not at TUI start-up
    import numpy as np

CellFn = Callable[[int], Sequence[str]]
# One drawn row: each cell's fitted text and the spans of search matches inside it.
Row = tuple[tuple[str, ...], tuple[tuple[Span, ...], ...]]


@dataclass(frozen=True)
class ColumnSpec:
    """One column.

    label: header text.
    width: fixed width in cells, or 0 for a flexible column sharing the remaining width.
    flex: share of the remaining width for flexible columns.
    align: "left" or "right" (numbers).
    min_width: a flexible column never gets narrower than this.
    searchable: matches of the table's search `marks` are highlighted in this column.
    """

    label: str
    width: int = 0
    flex: float = 1.0
    align: Literal["left", "right"] = "left"
    min_width: int = 6
    searchable: bool = False


def fit_cells(text: str, width: int, align: str = "left") -> str:
    """`text` padded or cut to exactly `width` terminal cells; wide (CJK) characters count 2.

    A cut ends with "…"; a wide character never straddles the edge (a space pads instead).
    """
    return fit_cells_kept(text, width, align)[0]


def fit_cells_kept(text: str, width: int, align: str = "left") -> tuple[str, int, int]:
    """`fit_cells` plus where `text` sits in the result: (fitted, offset, kept), so fitted
    holds text[:kept] starting at char `offset` (the padding of a right-aligned cell)."""
    if width <= 0:
        return "", 0, 0
    used = 0
    for i, char in enumerate(text):
        cells = get_character_cell_size(char)
        if used + cells > width:
            # Too long: back off until the ellipsis fits in the last cell.
            while used > width - 1:
                i -= 1
                used -= get_character_cell_size(text[i])
            return text[:i] + "…" + " " * (width - 1 - used), 0, i
        used += cells
    pad = " " * (width - used)
    if align == "right":
        return pad + text, len(pad), len(text)
    return text + pad, 0, len(text)


class RecordTable(ScrollView, can_focus=True):
    """Rows are source indices in `order`; cells come from a callback only for drawn rows.

    Holding 100k rows costs one numpy array: nothing per row is built until it scrolls into
    view, and drawn rows are kept in a small LRU so scrolling back is free.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "record-table--header",
        "record-table--cursor",
        "record-table--even-row",
        "record-table--number",
        "record-table--match",
    }

    DEFAULT_CSS = """
    RecordTable {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: scroll;
        & > .record-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .record-table--even-row { background: $surface-lighten-1 40%; }
        & > .record-table--number { color: $text-muted; }
        & > .record-table--match { color: $text-warning; text-style: bold underline; }
        & > .record-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .record-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up",
                tooltip="Previous record"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down",
                tooltip="Next record"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up",
                tooltip="One screen of records up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down",
                tooltip="One screen of records down"),
        Binding("home", "jump(0)", "First", show=False, id="table.home",
                tooltip="First record"),
        Binding("end", "jump(-1)", "Last", show=False, id="table.end",
                tooltip="Last record"),
        Binding("enter", "select", "Detail", id="table.select",
                tooltip="Show every field of the highlighted record"),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True, init=False)

    @dataclass
    class RowHighlighted(Message):
        """The cursor moved to `row` (display position) showing source record `index`."""

        table: RecordTable
        row: int
        index: int

        @property
        def control(self) -> RecordTable:
            return self.table

    class RowSelected(RowHighlighted):
        """Enter was pressed on `row`."""

    def __init__(self, columns: Sequence[ColumnSpec], *, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns: tuple[ColumnSpec, ...] = tuple(columns)
        self._order: np.ndarray | None = None
        self._cells: CellFn = lambda _i: ()
        self._widths: tuple[int, ...] = ()
        self._cache: OrderedDict[int, Row] = OrderedDict()
        self._cache_size = 2048
        self._styles: dict[str, Style] = {}
        self.placeholder = ""
        self.marks: SearchMarks | None = None

    # ------------------------------------------------------------------ data

    @property
    def row_count(self) -> int:
        return 0 if self._order is None else int(self._order.size)

    @property
    def order(self) -> np.ndarray | None:
        """Source indices in display order (None before any data was set)."""
        return self._order

    def set_source(self, cells: CellFn, order: np.ndarray) -> None:
        """New data: `cells(index)` gives a row's cell texts; `order` is the display order."""
        self._cells = cells
        self._cache.clear()
        self._set_order(order, keep_index=False)

    def set_order(self, order: np.ndarray, *, keep_index: bool = True) -> None:
        """New filter/sort of the same data; the cursor stays on the same record if shown."""
        self._set_order(order, keep_index=keep_index)

    def clear(self, placeholder: str = "") -> None:
        self.placeholder = placeholder
        self._cells = lambda _i: ()
        self._cache.clear()
        self._set_order(None, keep_index=False)

    def _set_order(self, order: np.ndarray | None, *, keep_index: bool) -> None:
        current = self.current_index if keep_index else None
        self._order = order
        self.virtual_size = Size(0, self.row_count + 1)
        row = 0
        if current is not None and order is not None and order.size:
            # Vectorised lookup: O(n) in numpy, fine at 100k rows, and only on filter changes.
            hits = (order == current).nonzero()[0]
            row = int(hits[0]) if hits.size else 0
        self.cursor_row = row
        self.refresh()

    def set_highlight(self, marks: SearchMarks | None) -> None:
        """Highlight the matches of `marks` in searchable columns (None: no highlight)."""
        if marks is not self.marks:
            self.marks = marks
            self._cache.clear()  # cached rows carry the previous search's spans
            self.refresh()

    @property
    def current_index(self) -> int | None:
        """Source index under the cursor, or None for an empty table."""
        if self._order is None or not self.row_count:
            return None
        return int(self._order[min(self.cursor_row, self.row_count - 1)])

    def visible_indices(self) -> list[int]:
        """Source indices of the rows currently drawn (for tests and status lines)."""
        if self._order is None:
            return []
        top = round(self.scroll_offset.y)
        return [int(i) for i in self._order[top: top + self._page_height()]]

    # ------------------------------------------------------------------ cursor

    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def validate_cursor_row(self, row: int) -> int:
        return max(0, min(row, self.row_count - 1)) if self.row_count else 0

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        if self._order is not None and self.row_count:
            self.post_message(self.RowHighlighted(self, new, int(self._order[new])))

    def _scroll_cursor_into_view(self) -> None:
        top = round(self.scroll_offset.y)
        page = self._page_height()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + page:
            self.scroll_to(y=self.cursor_row - page + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        self.cursor_row += delta

    def action_page(self, direction: int) -> None:
        self.cursor_row += direction * self._page_height()

    def action_jump(self, row: int) -> None:
        self.cursor_row = row if row >= 0 else self.row_count - 1

    def action_select(self) -> None:
        if self._order is not None and self.row_count:
            self.post_message(
                self.RowSelected(self, self.cursor_row, int(self._order[self.cursor_row])))

    def on_click(self, event: events.Click) -> None:
        row = round(self.scroll_offset.y) + event.y - 1
        if event.y >= 1 and 0 <= row < self.row_count:
            self.cursor_row = row
            if event.chain >= 2:
                self.action_select()

    # ------------------------------------------------------------------ drawing

    def notify_style_update(self) -> None:
        self._styles.clear()
        super().notify_style_update()

    def _style(self, *components: str) -> Style:
        """Base style plus component styles, cached until CSS or focus changes."""
        key = "|".join(components)
        style = self._styles.get(key)
        if style is None:
            style = self.rich_style
            for component in components:
                style += self.get_component_rich_style(component)
            self._styles[key] = style
        return style

    def _column_widths(self, total: int) -> tuple[int, ...]:
        gaps = len(self.columns) - 1
        fixed = sum(c.width for c in self.columns if c.width)
        flex_cols = [c for c in self.columns if not c.width]
        free = max(0, total - fixed - gaps)
        flex_total = sum(c.flex for c in flex_cols) or 1.0
        widths: list[int] = []
        given = 0
        for col in self.columns:
            if col.width:
                widths.append(col.width)
                continue
            share = int(free * col.flex / flex_total)
            widths.append(max(col.min_width, share))
            given += widths[-1]
        # Hand the rounding remainder to the first flexible column so rows fill the width.
        if flex_cols and given < free:
            first = next(i for i, c in enumerate(self.columns) if not c.width)
            widths[first] += free - given
        return tuple(widths)

    def _row(self, index: int) -> Row:
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        marks = self.marks
        texts: list[str] = []
        spans: list[tuple[Span, ...]] = []
        for text, width, col in zip(self._cells(index), self._widths, self.columns, strict=False):
            fitted, offset, kept = fit_cells_kept(text, width, col.align)
            texts.append(fitted)
            spans.append(marks.cut_spans(text, kept, offset) if marks and col.searchable else ())
        row = (tuple(texts), tuple(spans))
        self._cache[index] = row
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return row

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        widths = self._column_widths(width)
        if widths != self._widths:
            self._widths = widths
            self._cache.clear()
        if y == 0:
            texts = [fit_cells(c.label, w, c.align) for c, w in zip(self.columns, widths, strict=True)]
            return self._strip(texts, (), self._style("record-table--header"), None, width)
        row = round(self.scroll_offset.y) + y - 1
        if row >= self.row_count or self._order is None:
            if row == 0 and self.placeholder:
                muted = self._style("record-table--number")
                return Strip([Segment(fit_cells(self.placeholder, width), muted)], width)
            return Strip.blank(width, self._style())
        texts, spans = self._row(int(self._order[row]))
        if row == self.cursor_row:
            return self._strip(texts, spans, self._style("record-table--cursor"), None, width)
        if row % 2:
            return self._strip(texts, spans, self._style("record-table--even-row"),
                               self._style("record-table--even-row", "record-table--number"),
                               width)
        return self._strip(texts, spans, self._style(), self._style("record-table--number"),
                           width)

    def _strip(self, texts: Sequence[str], spans: Sequence[Sequence[Span]], style: Style,
               number_style: Style | None, width: int) -> Strip:
        segments: list[Segment] = []
        for i, (text, col) in enumerate(zip(texts, self.columns, strict=False)):
            if i:
                segments.append(Segment(" ", style))
            cell_style = number_style if number_style is not None and col.align == "right" else style
            if i < len(spans) and spans[i]:
                segments.extend(self._marked(text, spans[i], cell_style))
            else:
                segments.append(Segment(text, cell_style))
        return Strip(segments).adjust_cell_length(width, style)

    def _marked(self, text: str, spans: Sequence[Span], style: Style) -> list[Segment]:
        # Partial: the match style only adds its colour and emphasis, so the row's own
        # background (cursor, zebra stripe) still shows through.
        match_style = style + self._match_style()
        out: list[Segment] = []
        start = 0
        for hit, end in spans:
            if hit > start:
                out.append(Segment(text[start:hit], style))
            out.append(Segment(text[hit:end], match_style))
            start = end
        if start < len(text):
            out.append(Segment(text[start:], style))
        return out

    def _match_style(self) -> Style:
        style = self._styles.get("match-partial")
        if style is None:
            style = self.get_component_rich_style("record-table--match", partial=True)
            self._styles["match-partial"] = style
        return style
