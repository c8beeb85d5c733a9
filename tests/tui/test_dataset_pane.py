"""Dataset pane: Pilot tests (open, search, regex, genre, sort, detail, stats) and snapshots."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from core.data.browse import SearchQuery, SortKey, open_records
from core.paths import Paths
from tests.terminal_sizes import SIZE_IDS, TERMINAL_SIZES
from tests.tui.rendered import match_texts, shown_text
from tests.until import until
from tui.app import LaunchOptions, NarouApp
from tui.widgets.record_table import RecordTable

SIZE = (120, 40)

# Written for these tests (original text, not from any real novel).
RECORDS: list[dict[str, object]] = [
    {"title": "追放された薬師は辺境で静かに暮らしたい",
     "story": "王都の宮廷薬師だったリーネは、身に覚えのない罪で追放された。辿り着いた辺境の村で小さな薬屋を開くと、"
              "なぜか竜や聖女や元勇者が客として訪れるようになり――。スローライフを望む彼女の日常は、今日も少しだけ騒がしい。",
     "ncode": "T0001AA", "keyword": "追放 スローライフ 薬師 女主人公", "genre": 201, "biggenre": 2},
    {"title": "悪役令嬢ですが、婚約破棄のあとに始めた喫茶店が繁盛しています",
     "story": "卒業パーティーで婚約破棄を告げられた公爵令嬢エルザ。前世の記憶を取り戻した彼女は、実家を出て城下町で喫茶店を開く。",
     "ncode": "T0002AB", "keyword": "悪役令嬢 婚約破棄 喫茶店 ざまぁ", "genre": 101, "biggenre": 1},
    {"title": "魔王城の経理係",
     "story": "魔王軍の赤字は深刻だった。帳簿を任された元銀行員の転生者は、四天王の浪費と戦うことになる。",
     "ncode": "T0003AC", "keyword": "魔王 経理 転生 コメディ", "genre": 307, "biggenre": 3},
    {"title": "星を数える少女と機械仕掛けの塔",
     "story": "滅びかけた世界で、最後の天文台を守る少女ミラ。ある夜、塔の最上階で眠っていた自動人形が目を覚ます。",
     "ncode": "T0004AD", "keyword": "SF 人形 ポストアポカリプス", "genre": 403, "biggenre": 4},
    {"title": "幼なじみが生徒会長になったら毎日がうるさい",
     "story": "高校二年の春、幼なじみの真白が生徒会長に当選した。なぜか副会長に指名された俺の平穏は終わりを告げる。",
     "ncode": "T0005AE", "keyword": "ラブコメ 学園 幼なじみ", "genre": 102, "biggenre": 1},
    {"title": "密室の図書館",
     "story": "閉館後の市立図書館で司書が倒れていた。扉には内側から鍵。新人刑事の柚木は、貸出記録に残された奇妙な暗号に気づく。",
     "ncode": "T0006AF", "keyword": "推理 密室 図書館", "genre": 304, "biggenre": 3},
]
# A long synopsis whose tail must appear only in the detail view, never in the table.
LONG_TAIL = "最後の一文は詳細画面にだけ表示される。"
RECORDS.append({
    "title": "転生したら勇者パーティーの荷物持ちだった件〜でも実は最強の収納魔法使いでした〜",
    "story": "目を覚ますと、俺は勇者パーティーの荷物持ちになっていた。" * 12 + LONG_TAIL,
    "ncode": "T0007AG", "keyword": "異世界転生 勇者 収納魔法 主人公最強", "genre": 201, "biggenre": 2,
})

_SYLLABLES = "かきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもらりるれろ"
_WORDS = ["勇者", "魔王", "令嬢", "辺境", "聖女", "迷宮", "騎士", "学園", "異世界", "追放", "竜"]


def _synthetic(n: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words = [rng.choice(_WORDS) + "".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4)))
                 for _ in range(rng.randint(3, 30))]
        out.append({"title": "".join(words[:3]) + f"{i:04d}", "story": "。".join(words),
                    "ncode": f"N{i:05d}XX", "keyword": " ".join(words[:2]),
                    "genre": rng.choice([101, 201, 202, 307]), "biggenre": None})
    return out


def build_dataset(paths: Paths, name: str, rows: list[dict[str, object]]) -> Path:
    """Write `rows` the way the dataset layer does: save_to_disk splits + meta.json."""
    import datasets

    n = len(rows)
    cut1, cut2 = max(1, int(n * 0.8)), max(1, int(n * 0.9))
    parts = {"train": rows[:cut1], "validation": rows[cut1:cut2], "test": rows[cut2:]}
    features = datasets.Features({
        "title": datasets.Value("string"), "story": datasets.Value("string"),
        "ncode": datasets.Value("string"), "keyword": datasets.Value("string"),
        "genre": datasets.Value("int64"), "biggenre": datasets.Value("int64"),
    })
    dd = datasets.DatasetDict({
        split: datasets.Dataset.from_list(part, features=features) for split, part in parts.items()
    })
    folder = paths.dataset(name)
    dd.save_to_disk(str(folder))
    meta = {"name": name, "source": "tests", "created": "2026-11-27T00:00:00Z",
            "counts": {s: len(p) for s, p in parts.items()}, "cleaning": {}, "aliases": {},
            "fingerprint": f"test-{name}", "skipped": []}
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture
def data_paths(paths: Paths) -> Paths:
    build_dataset(paths, "novels", RECORDS)
    build_dataset(paths, "big", _synthetic(2000))
    broken = paths.dataset("broken")
    broken.mkdir()
    (broken / "meta.json").write_text("{not json", encoding="utf-8")
    return paths


@pytest.fixture
def bad_paths(paths: Paths) -> Paths:
    """A dataset whose Arrow shard is garbage, and one without a `story` column."""
    folder = build_dataset(paths, "corrupt", RECORDS)
    for shard in (folder / "train").glob("*.arrow"):
        shard.write_bytes(b"this is not an arrow stream" * 10)
    import datasets

    datasets.DatasetDict({
        split: datasets.Dataset.from_list([{"title": "題名だけ"}]) for split in ("train", "test")
    }).save_to_disk(str(paths.dataset("nostory")))
    return paths


def _app(paths: Paths) -> NarouApp:
    return NarouApp(paths, LaunchOptions(initial_pane="dataset"))


async def _open(app: NarouApp, pilot, name: str):  # type: ignore[no-untyped-def]
    screen = app.screen
    await until(pilot, lambda: screen._listed)  # the list arrives from a worker after the first frame
    screen.open_dataset(name)
    await until(pilot, lambda: screen._loading is None)
    await pilot.pause()
    return screen


def _stats_for(screen) -> object:  # type: ignore[no-untyped-def]
    """What the statistics view shows (dataset, filter); None before it is first opened."""
    views = screen.query("DatasetStatsView")
    return views.first().shown_for if views else None


async def _settle(pilot, screen) -> None:  # type: ignore[no-untyped-def]
    # Searches run in a worker; wait until none is in flight and the result is applied.
    await until(pilot, lambda: not screen.searches.running)
    await pilot.pause()


def test_record_set_search_sort(data_paths: Paths) -> None:
    records = open_records(data_paths, "novels")
    assert records.n == len(RECORDS)
    hits = records.view(SearchQuery("令嬢"), SortKey.ORIGINAL)
    assert [records.record(int(i)).ncode for i in hits] == ["T0002AB"]
    longest = records.order(SortKey.STORY_DESC)[0]
    assert records.record(int(longest)).ncode == "T0007AG"
    assert records.view(SearchQuery("図書館|喫茶店", regex=True), SortKey.ORIGINAL).size == 2
    assert records.view(SearchQuery("", genre=201), SortKey.ORIGINAL).size == 2


# ----------------------------------------------------------------------------- Pilot


@pytest.mark.anyio
async def test_list_open_search_and_regex(data_paths: Paths) -> None:
    app = _app(data_paths)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        await until(pilot, lambda: screen.entries)
        assert [e.name for e in screen.entries] == ["big", "broken", "novels"]
        # Open "novels" from the list with the keyboard.
        await pilot.press("d", "end", "enter")
        await until(pilot, lambda: screen.records is not None)
        table = app.screen.query_one(RecordTable)
        assert screen.records.name == "novels"
        assert table.row_count == len(RECORDS)

        await pilot.press("slash", *"令嬢")
        await _settle(pilot, screen)
        assert table.row_count == 1
        assert screen.records.record(table.current_index).ncode == "T0002AB"

        # Invalid regex: inline message, no crash, previous rows kept.
        await pilot.press("ctrl+a", "ctrl+k", *"(魔王", "alt+r")
        await _settle(pilot, screen)
        message = shown_text(screen.query_one("#ds-message"))
        assert "invalid regular expression" in message
        assert screen.query_one("#ds-message").display
        # Fix it: a valid alternation.
        await pilot.press("end", *")|密室")
        await _settle(pilot, screen)
        assert not screen.query_one("#ds-message").display
        assert table.row_count == 2


@pytest.mark.anyio
async def test_regex_and_substring_matches_highlighted_in_table_and_detail(data_paths: Paths) -> None:
    app = _app(data_paths)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, "novels")
        table = screen.query_one(RecordTable)
        match = table.get_component_rich_style("record-table--match", partial=True)
        await pilot.press("slash", "alt+r", *"婚約破棄|図書館")
        await _settle(pilot, screen)
        assert table.row_count == 2 and screen.regex
        # T0002AB: title (cut inside the match: its visible head) and synopsis; T0006AF:
        # title (密室の図書館) and synopsis.
        assert match_texts(table, match) == ["婚約破", "婚約破棄", "図書館", "図書館"]
        assert "悪役令嬢ですが、婚約破…" in shown_text(table)

        await pilot.press("enter", "enter")  # leave the search box, open the first row
        await pilot.pause()
        detail = screen.query_one("#ds-detail")
        assert detail.record.ncode == "T0002AB"
        detail_match = detail.get_component_rich_style("record-detail--match", partial=True)
        assert match_texts(detail.query_one("#detail-title"), detail_match) == ["婚約破棄"]
        assert match_texts(detail.query_one("#detail-story"), detail_match) == ["婚約破棄"]

        # Back to substring mode: the literal text is searched, highlighted case-insensitively.
        await pilot.press("escape", "slash", "ctrl+a", "ctrl+k", *"王", "alt+r")
        await _settle(pilot, screen)
        assert not screen.regex
        marked = match_texts(table, match)
        assert marked and set(marked) == {"王"}


@pytest.mark.anyio
async def test_broken_dataset_shows_message(data_paths: Paths) -> None:
    app = _app(data_paths)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, "broken")
        await until(pilot, lambda: screen.query_one("#ds-message").display)
        # The message wraps wherever the (temporary, any-length) path puts the line ends, so
        # check the text the widget holds rather than one rendering of it.
        message = screen.query_one("#ds-message")
        assert message.display
        text = str(message.render())
        assert text.startswith("Cannot open broken: ") and "meta.json: unreadable" in text
        assert screen.records is None


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "expected"), [
    ("corrupt", "not a readable Arrow stream"),
    ("nostory", "column 'story' missing"),
])
async def test_unreadable_data_shows_message(bad_paths: Paths, name: str, expected: str) -> None:
    app = _app(bad_paths)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, name)
        # Compare without whitespace: the message wraps at the pane's width.
        text = "".join(shown_text(screen.query_one("#ds-message")).split())
        assert f"Cannotopen{name}" in text and "".join(expected.split()) in text
        assert screen.records is None
        # The pane still works: another dataset can be opened afterwards.
        assert not screen.query_one(RecordTable).loading


@pytest.mark.anyio
async def test_virtual_scroll_sort_genre_2k(data_paths: Paths) -> None:
    app = _app(data_paths)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, "big")
        table = screen.query_one(RecordTable)
        assert table.row_count == 2000
        visible = table.visible_indices()
        # Only one screenful of rows is ever rendered/cached, not 2,000.
        assert 20 <= len(visible) <= 40
        assert len(table._cache) <= 40
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_row == 1999
        assert table.visible_indices()[-1] == 1999
        assert len(table._cache) <= 80
        await pilot.press("home", "pagedown")
        await pilot.pause()
        assert table.cursor_row == len(visible)

        # Sort by synopsis length, longest first: lengths along the view never increase.
        await pilot.press("o")
        await _settle(pilot, screen)
        assert screen.sort is SortKey.STORY_DESC
        lengths = screen.records.story_len[table.order]
        assert (lengths[:-1] >= lengths[1:]).all() and lengths[0] > lengths[-1]
        await pilot.press("o")  # ascending
        await _settle(pilot, screen)
        lengths = screen.records.story_len[table.order]
        assert (lengths[:-1] <= lengths[1:]).all()

        # Genre filter through the Select, then combined with search.
        screen.query_one("#ds-genre").value = 307
        await _settle(pilot, screen)
        assert set(screen.records.genre[table.order]) == {307}
        n_genre = table.row_count
        await pilot.press("slash", *"勇者")
        await _settle(pilot, screen)
        assert 0 < table.row_count < n_genre


@pytest.mark.anyio
async def test_detail_and_stats(data_paths: Paths) -> None:
    app = _app(data_paths)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, "novels")
        await pilot.press("o")  # longest synopsis first: the record with LONG_TAIL
        await _settle(pilot, screen)
        await pilot.press("enter")
        await pilot.pause()
        detail = screen.query_one("#ds-detail")
        assert screen.query_one("#ds-views").current == "ds-detail"
        story = shown_text(detail.query_one("#detail-story"))
        assert story.replace("\n", "").endswith(LONG_TAIL)
        assert detail.record.ncode == "T0007AG"
        # n / p step through the table's order without leaving the detail view.
        await pilot.press("n")
        await pilot.pause()
        second = screen.records.record(int(screen.query_one(RecordTable).order[1]))
        assert detail.record.ncode == second.ncode
        await pilot.press("p")
        await pilot.pause()
        assert detail.record.ncode == "T0007AG"
        await pilot.press("escape")
        await pilot.pause()
        assert screen.query_one("#ds-views").current == "ds-table"

        await pilot.press("s")
        await until(pilot, lambda: _stats_for(screen) == ("novels", None))
        assert screen.query_one("#ds-views").current == "ds-stats"
        summary = shown_text(screen.query_one("#stats-summary"))
        assert "7 records" in summary
        hist = screen.query_one("#stats-story-hist")
        assert sum(hist.counts) == len(RECORDS)

        # With a search, the statistics cover the rows the table lists, and say so.
        await pilot.press("s", "slash", *"魔王")
        await _settle(pilot, screen)
        shown = screen.query_one(RecordTable).row_count
        assert 0 < shown < len(RECORDS)
        await pilot.press("escape", "s")
        await until(pilot, lambda: (_stats_for(screen) or (None, None))[1] is not None)
        summary = shown_text(screen.query_one("#stats-summary"))
        assert f"{shown} of 7 records matching '魔王'" in summary
        assert sum(screen.query_one("#stats-story-hist").counts) == shown
        assert sum(screen.query_one("#stats-title-hist").counts) == shown

        # Fetch: the fetch screen opens over the pane.
        await pilot.press("escape", "f")
        await until(pilot, lambda: type(app.screen).__name__ == "FetchScreen", what="FetchScreen")


@pytest.mark.anyio
async def test_palette_offers_pane_actions(data_paths: Paths) -> None:
    app = _app(data_paths)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, "novels")
        await pilot.press("ctrl+p")
        await pilot.pause()
        palette = app.screen
        assert type(palette).__name__ == "CommandPalette"
        await pilot.press(*"title length")
        hits = palette.query_one("CommandList")
        await until(pilot, lambda: hits.option_count >= 2)  # the palette searches providers asynchronously
        await pilot.press("down", "enter")
        await _settle(pilot, screen)
        assert app.screen is screen
        assert screen.sort in (SortKey.TITLE_DESC, SortKey.TITLE_ASC)
        table = screen.query_one(RecordTable)
        lengths = screen.records.title_len[table.order]
        assert sorted(lengths, reverse=screen.sort is SortKey.TITLE_DESC) == list(lengths)


# ----------------------------------------------------------------------------- snapshots


def _snap_app(paths: Paths) -> NarouApp:
    return _app(paths)


@pytest.mark.parametrize("size", TERMINAL_SIZES, ids=SIZE_IDS)
def test_snapshot_table(data_paths: Paths, snap_compare, size: tuple[int, int]  # type: ignore[no-untyped-def]
                        ) -> None:
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _open(pilot.app, pilot, "novels")
        await pilot.pause()

    assert snap_compare(_snap_app(data_paths), terminal_size=size, run_before=run_before)


def test_snapshot_detail(data_paths: Paths, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        screen = await _open(pilot.app, pilot, "novels")
        await pilot.press("down", "enter")
        await pilot.pause()
        assert screen.query_one("#ds-views").current == "ds-detail"

    assert snap_compare(_snap_app(data_paths), terminal_size=SIZE, run_before=run_before)
