"""Each cleaning step on its own, with the counts the report gives, and on the real 2,000."""

from __future__ import annotations

from dataclasses import replace

from core.data.cleaning import STEP_ORDER, CleaningOptions, clean_records
from core.data.fields import Record
from tests.conftest import shared_data
from tests.core.data_helpers import load

ALL_OFF = CleaningOptions(
    strip_urls=False,
    drop_notes=False,
    normalize_whitespace=False,
    min_story_chars=0,
    min_title_chars=0,
    dedup_exact=False,
    dedup_ncode=False,
)
LONG = "とある王国の片隅で、追放された少女が小さな薬屋を開いて村人たちと暮らし始める。"


def rec(story: str = LONG, title: str = "辺境の薬屋さん", ncode: str = "", keyword: str = "", n: int = 1) -> Record:
    return Record(title=title, story=story, ncode=ncode, keyword=keyword, genre=None, biggenre=None, where=f"t.jsonl:{n}")


def step(report, name):  # type: ignore[no-untyped-def]
    return next(s for s in report.steps if s.name == name)


def test_report_lists_every_step_in_order() -> None:
    _, report = clean_records([rec()], CleaningOptions())
    assert [s.name for s in report.steps] == list(STEP_ORDER)
    assert step(report, "nfkc").enabled is False  # off by default


def test_strip_urls_counts_urls_and_changed_records() -> None:
    records = [
        rec(LONG + "\n続きはこちら https://example.com/novel/1?x=2 です（http://a.example）", n=1),
        rec(LONG + "\nwww.example.jp/path", n=2),
        rec(n=3),
    ]
    out, report = clean_records(records, replace(ALL_OFF, strip_urls=True))
    s = step(report, "strip_urls")
    assert (s.changed, s.removed, s.detail) == (2, 0, {"urls": 3})
    assert out[0].story == LONG + "\n続きはこちら  です"
    assert out[1].story == LONG  # the URL-only line is gone
    assert s.examples == ["t.jsonl:1", "t.jsonl:2"]


def test_drop_notes_lines_and_sentence_tails() -> None:
    records = [
        rec(LONG + "\n※この作品はカクヨムにも掲載しています。\n（※毎日更新）", n=1),
        rec(LONG + "最後まで読んでね。※1000文字程度", n=2),
        rec("米※印が途中にある文は残す。" + LONG, n=3),
    ]
    out, report = clean_records(records, replace(ALL_OFF, drop_notes=True))
    s = step(report, "drop_notes")
    assert (s.changed, s.detail) == (2, {"lines": 2, "inline": 1})
    assert out[0].story == LONG
    assert out[1].story == LONG + "最後まで読んでね。"
    assert out[2].story.startswith("米※印")


def test_normalize_whitespace_line_breaks_fullwidth_and_keywords() -> None:
    story = "\u3000一行目。  二つの空白。\r\n\r\n\r\n\r\n\u3000\u3000二行目\u3000\u3000全角。\t\x07\n\n"
    records = [rec(story, title=" 題名\u3000\u3000副題\n続き ", keyword="追放\u3000 ざまぁ  勇者", n=1), rec(n=2)]
    out, report = clean_records(records, replace(ALL_OFF, normalize_whitespace=True))
    s = step(report, "normalize_whitespace")
    assert (s.changed, s.removed) == (1, 0)
    assert out[0].story == "一行目。 二つの空白。\n\n二行目\u3000全角。"
    assert out[0].title == "題名\u3000副題 続き"
    assert out[0].keyword == "追放 ざまぁ 勇者"


def test_nfkc_is_optional() -> None:
    records = [rec("ＡＢＣ１２３の物語、" + LONG, title="ＶＲＭＭＯで最強")]
    out, report = clean_records(records, replace(ALL_OFF, nfkc=True))
    assert step(report, "nfkc").changed == 1
    assert out[0].title == "VRMMOで最強" and out[0].story.startswith("ABC123の物語")


def test_drop_short_counts_each_reason() -> None:
    records = [rec(n=1), rec("", n=2), rec(title="", n=3), rec("短すぎる", n=4), rec(title="短", n=5)]
    out, report = clean_records(records, replace(ALL_OFF, min_story_chars=20, min_title_chars=2))
    s = step(report, "drop_short")
    assert [r.where for r in out] == ["t.jsonl:1"]
    assert s.removed == 4
    assert s.detail == {"empty_story": 1, "empty_title": 1, "short_story": 1, "short_title": 1}
    assert s.examples[2] == "t.jsonl:4 (story 4 chars < 20)"


def test_empty_records_are_dropped_even_with_zero_thresholds() -> None:
    out, report = clean_records([rec(""), rec(n=2)], ALL_OFF)
    assert len(out) == 1 and step(report, "drop_short").removed == 1


def test_dedup_exact_and_by_ncode_keep_the_first() -> None:
    records = [
        rec(ncode="S0001AA", n=1),
        rec(ncode="S0002AA", n=2),  # same pair as line 1, other ncode
        rec(LONG + "改稿版。", ncode="S0001AA", n=3),  # same ncode as line 1
        rec(LONG + "別の話。", title="別の題名", n=4),
    ]
    out, report = clean_records(records, replace(ALL_OFF, dedup_exact=True, dedup_ncode=True))
    assert [r.where for r in out] == ["t.jsonl:1", "t.jsonl:4"]
    assert step(report, "dedup_exact").removed == 1
    assert step(report, "dedup_exact").examples == ["t.jsonl:2 (same title and story as t.jsonl:1)"]
    assert step(report, "dedup_ncode").removed == 1
    assert "same ncode S0001AA as t.jsonl:1" in step(report, "dedup_ncode").examples[0]
    assert (report.input, report.output) == (4, 2)


def test_dedup_sees_text_after_cleaning() -> None:
    records = [rec(LONG + "\r\n", n=1), rec("\u3000" + LONG, n=2)]
    out, report = clean_records(records, CleaningOptions())
    assert len(out) == 1 and step(report, "dedup_exact").removed == 1


def test_switched_off_steps_change_nothing() -> None:
    story = "\u3000" + LONG + "\n※注意 https://example.com"
    out, report = clean_records([rec(story)], replace(ALL_OFF, min_story_chars=0))
    assert out[0].story == story
    assert all(s.changed == 0 and s.removed == 0 for s in report.steps)


def test_real_data_url_and_note_counts() -> None:
    records, _, _, _ = load(shared_data("narou_real/narou.json"))
    out, report = clean_records(records, CleaningOptions())
    urls, notes = step(report, "strip_urls"), step(report, "drop_notes")
    assert urls.changed == 46  # the data README: 46 synopses contain URLs
    assert urls.detail["urls"] >= 46
    assert 200 <= notes.changed <= 300  # 260 contain ※; a few only mid-sentence, which stay
    assert not any("http" in r.story for r in out)
    assert not any(line.lstrip().startswith("※") for r in out for line in r.story.split("\n"))
    assert not any(r.story.startswith("\u3000") for r in out)
    assert 1900 <= len(out) <= 2000
