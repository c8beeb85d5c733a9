"""Bad input: each kind gets a message naming file, line and field; good records are kept;
the source is never modified; `strict` writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.data.errors import ImportFailed
from core.data.importer import ImportOptions, ImportReport, import_dataset
from core.data.loaders import detect, iter_items
from core.data.store import list_datasets
from core.paths import Paths
from tests.core.data_helpers import row, sha256, write_jsonl


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Messages name files relative to the working folder, as a user typed them.
    monkeypatch.chdir(tmp_path)


def run_import(src: Path, paths: Paths, **opts: object) -> ImportReport:
    before = sha256(src) if src.is_file() else None
    try:
        return import_dataset(src, "bad", paths, ImportOptions(**opts))  # type: ignore[arg-type]
    finally:
        if before is not None:
            assert sha256(src) == before, "the source file was modified"


def messages(report: ImportReport) -> list[str]:
    return [s.message for s in report.skipped]


def test_malformed_json_line(paths: Paths, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "m.jsonl", [row(1), '{"title": "壊れた行", "story": ', row(2), "[1, 2", row(3)])
    report = run_import(src, paths)
    assert report.written and report.loaded == 3
    assert messages(report) == [
        "m.jsonl:2: malformed JSON: Expecting value (column 27)",
        "m.jsonl:4: malformed JSON: Expecting ',' delimiter (column 6)",
    ]


def test_missing_title_or_story_names_the_field(paths: Paths, tmp_path: Path) -> None:
    no_title = {k: v for k, v in row(2).items() if k != "title"}
    src = write_jsonl(tmp_path / "f.jsonl", [row(1), no_title, row(3, story=None), row(4, title=["x"]), row(5)])
    report = run_import(src, paths)
    assert report.loaded == 2
    msgs = messages(report)
    assert msgs[0].startswith("f.jsonl:2: field 'title': missing (fields present: story, ncode")
    assert msgs[1].startswith("f.jsonl:3: field 'story': missing")
    assert msgs[2] == "f.jsonl:4: field 'title': expected text, got list"


def test_empty_file_and_whitespace_only_file(paths: Paths, tmp_path: Path) -> None:
    for name, content in (("empty.jsonl", b""), ("blank.json", b"\n  \n")):
        src = tmp_path / name
        src.write_bytes(content)
        with pytest.raises(ImportFailed, match=f"{name}: file is empty"):
            run_import(src, paths)
    assert list_datasets(paths) == []


def test_non_utf8_bytes_cost_only_their_record(paths: Paths, tmp_path: Path) -> None:
    bad_story = json.dumps(row(2), ensure_ascii=False).encode().replace("薬を作り".encode(), b"\xff\xfe", 1)
    bad_writer = json.dumps(row(3, writer="abc"), ensure_ascii=False).encode().replace(b"abc", b"a\x80c")
    src = write_jsonl(tmp_path / "enc.jsonl", [row(1), bad_story, bad_writer, row(4)])
    report = run_import(src, paths)
    assert report.loaded == 3  # the bad byte in an ignored field ("writer") costs nothing
    [msg] = messages(report)
    assert msg.startswith("enc.jsonl:2: field 'story': holds bytes that are not valid UTF-8 (byte 0xFF")
    assert report.encoding == "utf-8"


def test_non_utf8_bytes_in_json_array_and_csv(paths: Paths, tmp_path: Path) -> None:
    arr = tmp_path / "arr.json"
    text = json.dumps([row(1), row(2)], ensure_ascii=False, indent=1).encode()
    arr.write_bytes(text.replace("錬金術師2号".encode(), b"\xc3\x28", 1))
    report = run_import(arr, paths)
    assert report.loaded == 1
    assert messages(report)[0].startswith("arr.json:10: field 'title': holds bytes that are not valid UTF-8")

    csv = tmp_path / "t.csv"
    good = "title,story\n王女殿下は今日も逃げ出したい,城を抜け出す王女と護衛騎士の追いかけっこが始まる。\n"
    csv.write_bytes(good.encode() + "二行目の題名,".encode() + b"\xe3\x81 broken story text that is long enough\n")
    report = run_import(csv, paths, force=True)
    assert report.loaded == 1
    assert messages(report)[0].startswith("t.csv:3: field 'story': holds bytes that are not valid UTF-8")


def test_ten_megabyte_record_rejected_by_default_kept_when_allowed(paths: Paths, tmp_path: Path) -> None:
    huge = row(2, story="長" * 3_500_000)  # 10.5 MB of UTF-8 in one line
    src = write_jsonl(tmp_path / "big.jsonl", [row(1), huge, row(3)])
    assert src.stat().st_size > 10_000_000
    report = run_import(src, paths)
    assert report.loaded == 2
    [msg] = messages(report)
    assert msg.startswith("big.jsonl:2: field 'story': is 10.5 MB; a record may hold at most 1.0 MB")

    report = run_import(src, paths, force=True, max_record_bytes=20_000_000)
    assert report.loaded == 3 and report.skipped_total == 0
    # Kept, but cut to what MeCab can parse at once (far beyond what a model reads).
    assert report.notes[-1] == ("big.jsonl:2: field 'story': 3,500,000 characters cut to the first 100,000 "
                                "(a model reads only the first few hundred tokens)")
    assert report.conversions == {"story: cut to 100,000 characters": 1}


def test_runaway_line_is_skipped_unparsed(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "run.jsonl", [row(1), b'{"title": "' + b"x" * 3_000_000 + b'"}', row(2)])
    items = list(iter_items(detect(src, "run.jsonl"), max_line_bytes=1_000_000))
    assert [i.where for i in items] == ["run.jsonl:1", "run.jsonl:2", "run.jsonl:3"]
    assert items[1].data is None
    assert items[1].error == "line is 3.0 MB, over the 1.0 MB read limit; skipped unparsed"
    assert items[2].data == row(2)


def test_duplicate_rows_are_reported_with_both_lines(paths: Paths, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", [row(1), row(2), row(1), row(2, ncode="S0009ZZ"), row(9, ncode="S0001AA")])
    report = run_import(src, paths)
    steps = {s.name: s for s in report.cleaning.steps}  # type: ignore[union-attr]
    assert steps["dedup_exact"].removed == 2
    assert steps["dedup_exact"].examples == [
        "d.jsonl:3 (same title and story as d.jsonl:1)",
        "d.jsonl:4 (same title and story as d.jsonl:2)",
    ]
    assert steps["dedup_ncode"].examples == ["d.jsonl:5 (same ncode S0001AA as d.jsonl:1)"]
    assert sum(report.counts.values()) == 2


def test_strict_writes_nothing(paths: Paths, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "s.jsonl", [row(1), "not json", row(2)])
    with pytest.raises(ImportFailed, match="--strict: 1 of 3 records") as err:
        run_import(src, paths, strict=True)
    assert err.value.report is not None and err.value.report.skip_messages() == ["s.jsonl:2: malformed JSON: Expecting value (column 1)"]
    assert list(paths.datasets_dir.iterdir()) == []


def test_nothing_usable(paths: Paths, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "n.jsonl", ["nope", '{"name": 1}', "[]"])
    with pytest.raises(ImportFailed, match="no usable record in n.jsonl"):
        run_import(src, paths)
    src = write_jsonl(tmp_path / "short.jsonl", [row(1, story="短い")])
    with pytest.raises(ImportFailed, match="removed by cleaning"):
        run_import(src, paths)
    assert list(paths.datasets_dir.iterdir()) == []


def test_broken_json_array_resyncs_at_the_next_element(paths: Paths, tmp_path: Path) -> None:
    items = [json.dumps(row(i), ensure_ascii=False) for i in range(4)]
    items[1] = items[1].replace('"story":', '"story"', 1)
    src = tmp_path / "a.json"
    src.write_text("[\n" + ",\n".join(items) + "\n]\n", encoding="utf-8")
    report = run_import(src, paths)
    assert report.loaded == 3
    assert messages(report)[0].startswith("a.json:3: malformed JSON in array element 2: Expecting ':' delimiter")


def test_truncated_json_array_keeps_what_was_read(paths: Paths, tmp_path: Path) -> None:
    src = tmp_path / "cut.json"
    full = json.dumps([row(1), row(2), row(3)], ensure_ascii=False)
    src.write_text(full[: full.rindex("{") + 20], encoding="utf-8")
    report = run_import(src, paths)
    assert report.loaded == 2 and report.skipped_total >= 1
    assert "cut.json:1: malformed JSON in array element 3" in messages(report)[0]


def test_skip_list_is_capped_with_a_count(paths: Paths, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "many.jsonl", [row(1)] + ["x"] * 30)
    report = run_import(src, paths)
    lines = report.skip_messages(limit=5)
    assert len(lines) == 6 and lines[-1] == "… and 25 more"


def test_missing_source_and_bad_name(paths: Paths, tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="no such file"):
        import_dataset(tmp_path / "nope.jsonl", "x", paths)
    from core.data.errors import DatasetError

    with pytest.raises(DatasetError, match="invalid dataset name"):
        import_dataset(tmp_path / "nope.jsonl", "../x", paths)


def test_lone_surrogate_escape_and_csv_field_count(paths: Paths, tmp_path: Path) -> None:
    broken_emoji = json.dumps(row(2), ensure_ascii=True).replace("\\u8ffd", "\\ud83d", 1)  # 追 → half an emoji
    src = write_jsonl(tmp_path / "e.jsonl", [row(1), broken_emoji])
    report = run_import(src, paths)
    assert messages(report) == ["e.jsonl:2: field 'title': holds a lone surrogate escape \\uD83D at character 1"]

    csv = tmp_path / "c.csv"
    csv.write_text(
        "title,story\n"
        "王女殿下は今日も逃げ出したい,城を抜け出す王女と護衛騎士の追いかけっこが始まる。\n"
        "列が多すぎる行,あらすじ,余計な列\n",
        encoding="utf-8",
    )
    report = run_import(csv, paths, force=True)
    assert report.loaded == 1
    assert messages(report) == ["c.csv:3: row has 3 fields but the header has 2"]
