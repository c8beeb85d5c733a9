"""core.jsonl: objects kept with their line numbers, every bad line named, whole-file errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.jsonl import JsonlError, read_objects


def test_good_lines_are_kept_and_bad_ones_named(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    body = '{"story": "あ"}\n\n[1, 2]\n{"story": \n  \n{"story": "い", "n": 2}\n'
    src.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))  # a BOM before line 1
    before = src.read_bytes()
    got = read_objects(src)
    assert got.objects == [(1, {"story": "あ"}), (6, {"story": "い", "n": 2})]
    assert [n for n, _ in got.problems] == [3, 4]
    assert got.problems[0][1] == "not a JSON object" and got.problems[1][1].startswith("not JSON (")
    assert src.read_bytes() == before


def test_unreadable_or_not_utf8_files_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(JsonlError, match=r"missing\.jsonl: cannot read"):
        read_objects(tmp_path / "missing.jsonl")
    bad = tmp_path / "sjis.jsonl"
    bad.write_bytes('{"story": "あ"}\n'.encode("cp932"))
    with pytest.raises(JsonlError, match=r"sjis\.jsonl: not UTF-8 text \(bad byte at offset 11\)"):
        read_objects(bad)
