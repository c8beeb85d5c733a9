"""Every source format, the alias table, genre mapping, and the real scraped/API files."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from core.data.fields import FIELD_ALIASES
from core.data.genres import biggenre_of, genre_code
from core.data.loaders import SourceError, detect
from tests.conftest import shared_data
from tests.core.data_helpers import load, row, write_jsonl


def test_jsonl_reads_every_record_with_line_numbers(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [row(1), row(2), "", row(3)])
    records, skips, _, fmt = load(path)
    assert fmt == "jsonl"
    assert skips == []
    assert [r.where for r in records] == ["a.jsonl:1", "a.jsonl:2", "a.jsonl:4"]
    assert records[0].title.startswith("追放された錬金術師1号")
    assert (records[0].genre, records[0].biggenre, records[0].ncode) == (201, 2, "S0001AA")


def test_json_array_pretty_printed_reports_element_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([row(1), row(2)], ensure_ascii=False, indent=2), encoding="utf-8")
    records, skips, _, fmt = load(path)
    assert fmt == "json" and skips == []
    assert [r.where for r in records] == ["a.json:2", "a.json:10"]


def test_json_wrapper_object_with_data_list(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"data": [row(1), row(2)]}, ensure_ascii=False), encoding="utf-8")
    records, skips, _, _ = load(path)
    assert len(records) == 2 and skips == []


def test_csv_and_tsv_with_aliased_headers_and_multiline_field(tmp_path: Path) -> None:
    for name, delim in (("a.csv", ","), ("a.tsv", "\t")):
        path = tmp_path / name
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter=delim)
            w.writerow(["Name", "Synopsis", "ncode", "Keywords", "genre"])
            w.writerow(["魔王の娘は勇者になりたい", "一行目の説明。\n二行目の説明が続いていく。", "n1234ab", "魔王 勇者", "201"])
            w.writerow(["悪役令嬢は断罪を回避したい", "婚約破棄の場面から始まる、悪役令嬢の奮闘記です。", "", "", ""])
        records, skips, mapper, fmt = load(path)
        assert fmt == name.split(".")[1] and skips == []
        assert [r.where for r in records] == [f"{name}:2", f"{name}:4"]  # the quoted field spans lines 2-3
        first = records[0]
        assert first.story == "一行目の説明。\n二行目の説明が続いていく。"
        assert (first.ncode, first.genre, first.biggenre, first.keyword) == ("N1234AB", 201, 2, "魔王 勇者")
        assert records[1].genre is None and records[1].ncode == ""
        assert mapper.alias_report() == {
            "keyword": {"Keywords": 2},
            "story": {"Synopsis": 2},
            "title": {"Name": 2},
        }


def test_csv_in_shift_jis_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "sjis.csv"
    text = "title,story\n勇者パーティーを追放された俺,追放された俺が辺境で最強の仲間と出会う話です。\n"
    path.write_bytes(text.encode("cp932"))
    info = detect(path)
    assert info.encoding == "cp932" and "cp932" in info.notes[0]
    records, skips, _, _ = load(path)
    assert skips == [] and records[0].title == "勇者パーティーを追放された俺"


def test_gzipped_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for i in range(3):
            f.write(json.dumps(row(i), ensure_ascii=False) + "\n")
    records, skips, _, fmt = load(path)
    assert fmt == "jsonl" and len(records) == 3 and skips == []


def test_api_response_shape_skips_allcount_header(tmp_path: Path) -> None:
    path = tmp_path / "api.json"
    api = [{"allcount": 2}, row(1, noveltype=1, writer="x", userid=5), row(2, novel_type=2)]
    path.write_text(json.dumps(api, ensure_ascii=False), encoding="utf-8")
    records, skips, mapper, fmt = load(path)
    assert fmt == "narou-api" and skips == [] and len(records) == 2
    assert mapper.alias_report() == {}  # all fields under their own names


def test_scraped_format_maps_abstract_tags_and_genre_names(tmp_path: Path) -> None:
    path = tmp_path / "scraped.json"
    items = [
        {"title": "名探偵は異世界でも推理する", "writer": "w", "genre": "推理", "tags": ["推理", "異世界"],
         "abstract": "剣と魔法の世界で起きた密室殺人を、転生した探偵が解き明かす。"},
        {"title": "恋する令嬢の事件簿", "writer": "w", "genre": "異世界〔恋愛〕", "tags": [],
         "abstract": "婚約者の失踪を追う令嬢が、王宮に隠された秘密へ近づいていく。"},
        {"title": "謎のジャンルの物語です", "writer": "w", "genre": "未知のジャンル", "tags": ["謎"],
         "abstract": "どのジャンルにも当てはまらない、不思議な話がここから始まります。"},
    ]
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    records, skips, mapper, fmt = load(path)
    assert fmt == "narou-scraped" and skips == []
    assert [(r.genre, r.biggenre) for r in records] == [(304, 3), (101, 1), (None, None)]
    assert records[0].keyword == "推理 異世界" and records[1].keyword == ""
    assert mapper.alias_report() == {"keyword": {"tags": 3}, "story": {"abstract": 3}}
    assert mapper.conversions["genre: name → code"] == 2
    assert mapper.conversions["genre: unknown name → null"] == 1
    assert mapper.conversions["keyword: list joined with spaces"] == 3


def test_hf_datasets_folder_both_layouts(tmp_path: Path) -> None:
    from datasets import Dataset, DatasetDict

    single = Dataset.from_list([row(1), row(2)])
    single.save_to_disk(str(tmp_path / "single"))
    DatasetDict({"train": single, "test": Dataset.from_list([{"name": "題名だけの別名の列", "summary": "あらすじは別名の列に入っている、という形式です。"}])}).save_to_disk(
        str(tmp_path / "dict")
    )
    records, skips, _, fmt = load(tmp_path / "single")
    assert fmt == "hf-datasets" and len(records) == 2 and skips == []
    assert records[1].where == "single[data]#2"
    records, skips, mapper, _ = load(tmp_path / "dict")
    assert len(records) == 3 and skips == []
    assert records[2].where == "dict[test]#1" and records[2].title == "題名だけの別名の列"
    assert mapper.alias_report() == {"story": {"summary": 1}, "title": {"name": 1}}


def test_folder_that_is_not_a_dataset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a HF datasets folder"):
        detect(tmp_path)


def test_alias_table_has_each_target_first_under_its_own_name() -> None:
    for target, names in FIELD_ALIASES.items():
        assert names[0] == target
    assert genre_code("ハイファンタジー") == 201 and genre_code("異世界") == 101
    assert biggenre_of(9801) == 98 and biggenre_of(12345) is None


def test_real_scraped_file_loads_all_2000() -> None:
    path = shared_data("narou_real/narou.json")
    records, skips, mapper, fmt = load(path)
    assert fmt == "narou-scraped"
    assert len(records) == 2000 and skips == []
    assert mapper.alias_report() == {"keyword": {"tags": 2000}, "story": {"abstract": 2000}}
    assert sum(r.genre == 304 for r in records) > 600  # 推理 mapped to its code
    assert all(r.ncode == "" for r in records)


@pytest.mark.parametrize("name", ["real_response_2025-07-07.json", "two_records_of_fields.json"])
def test_real_api_responses(name: str) -> None:
    path = shared_data(f"narou_api/{name}")
    records, skips, mapper, fmt = load(path)
    assert len(records) == 2 and skips == []
    assert all(r.ncode.startswith("N") and r.genre and r.biggenre for r in records)
    assert mapper.alias_report() == {}
    raw = [x for x in json.loads(path.read_text(encoding="utf-8")) if "title" in x]
    assert [r.title for r in records] == [x["title"] for x in raw]
    if name.startswith("real"):
        assert fmt == "narou-api"
