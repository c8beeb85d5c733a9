"""RecordTable and search marks: cells cut to width, and matches marked where they are drawn."""

from __future__ import annotations

import pytest

from core.data.search_marks import search_marks
from tests.tui.rendered import match_texts
from tui.widgets.record_table import ColumnSpec, RecordTable, fit_cells, fit_cells_kept


def test_fit_cells_aligns_wide_characters() -> None:
    from rich.cells import cell_len

    assert fit_cells("魔王城", 10) == "魔王城    "
    cut = fit_cells("悪役令嬢ですが婚約破棄", 9)
    assert cell_len(cut) == 9 and cut.endswith("…")
    assert fit_cells("12", 5, "right") == "   12"
    # A wide character never straddles the edge: the cut pads with a space instead.
    assert cell_len(fit_cells("あいうえお", 4)) == 4


def test_fit_cells_kept_says_what_of_the_text_is_drawn() -> None:
    title = "悪役令嬢ですが、婚約破棄のあとに始めた喫茶店が繁盛しています"
    # 8 wide chars fill 16 cells; 婚 fits, 約 would leave no cell for the ellipsis.
    assert fit_cells_kept(title, 20) == ("悪役令嬢ですが、婚… ", 0, 9)
    assert fit_cells_kept("12", 5, "right") == ("   12", 3, 2)
    assert fit_cells_kept("魔王城", 10) == ("魔王城    ", 0, 3)


def test_search_marks_compile_once_and_clip_to_the_cut() -> None:
    marks = search_marks("婚約破棄", False)
    assert marks is search_marks("婚約破棄", False)  # one compiled search, shared
    assert search_marks("", False) is None
    title = "悪役令嬢ですが、婚約破棄のあとに始めた喫茶店が繁盛しています"
    assert marks.spans(title) == [(8, 12)]
    # Cut after 9 chars: the match's visible head only, never the ellipsis after it.
    assert marks.cut_spans(title, 9) == ((8, 9),)
    assert marks.cut_spans(title, 8) == ()
    assert search_marks("sf", False).spans("近未来SF人形") == [(3, 5)]  # case-insensitive
    # Regex: case-sensitive like the filter; RE2's \p{Han} classes work; empty matches skipped.
    assert search_marks(r"\p{Han}+の", True).spans("魔王城の経理係") == [(0, 4)]
    assert search_marks("x*", True).spans("abc") == []
    assert search_marks("SF", True).spans("sf SF") == [(3, 5)]
    broken = search_marks("(?<!", True)
    assert broken is not None and broken.error and broken.spans("anything") == []


@pytest.mark.anyio
async def test_highlight_lines_up_with_cut_and_padded_cells() -> None:
    import numpy as np
    from textual.app import App, ComposeResult

    title = "悪役令嬢ですが、婚約破棄のあとに始めた喫茶店が繁盛しています"

    class TableApp(App[None]):
        def compose(self) -> ComposeResult:
            yield RecordTable([ColumnSpec("title", width=20, searchable=True),
                               ColumnSpec("n", width=6, align="right", searchable=True),
                               ColumnSpec("genre", width=8)])

    app = TableApp()
    async with app.run_test(size=(40, 6)) as pilot:
        table = app.query_one(RecordTable)
        table.set_source(lambda _i: (title, "12", "婚約破棄"), np.arange(2))
        match = table.get_component_rich_style("record-table--match", partial=True)
        assert match_texts(table, match) == []
        # The pattern matches the whole title; only its visible head is marked, and the
        # right-aligned number is marked after its padding. The genre column is not searchable.
        table.set_highlight(search_marks("婚約破棄の|2$", True))
        await pilot.pause()
        assert match_texts(table, match) == ["婚", "2", "婚", "2"]
        line = table.render_line(2)
        assert "".join(seg.text for seg in line) == fit_cells(title, 20) + "     12 婚約破棄  "
        assert line.cell_length == table.scrollable_content_region.width
