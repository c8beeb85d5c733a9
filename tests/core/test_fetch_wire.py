"""Decoding API bodies: real responses, the escaped wire format, gzip truncation, error shapes."""

from __future__ import annotations

import gzip
import json

import pytest

from core.fetch.wire import ApiRefused, MalformedBody, TruncatedBody, parse_page
from tests.conftest import shared_data
from tests.core.narou_api_double import make_catalogue, wire


@pytest.mark.parametrize("name", ["real_response_2025-07-07.json", "two_records_of_fields.json"])
def test_real_responses_parse(name: str) -> None:
    raw = shared_data(f"narou_api/{name}").read_bytes()
    data = json.loads(raw)
    if isinstance(data, list) and data and "allcount" not in data[0]:
        # The of= sample is a bare list of novels; give it the API's head element.
        raw = json.dumps([{"allcount": len(data)}, *data]).encode()
    for body in (raw, gzip.compress(raw, 5)):
        page = parse_page(body)
        assert page.allcount >= len(page.records) == 2
        for rec in page.records:
            assert rec["ncode"].startswith("N") and rec["title"] and rec["story"]
            assert isinstance(rec["genre"], int) and isinstance(rec["biggenre"], int)


def test_escaped_wire_format_roundtrips() -> None:
    novels = make_catalogue(5)
    novels[0]["story"] += "詳しくは https://example.com/a/b へ"
    body = wire([{"allcount": 5}, *novels])
    assert body.isascii() and b"\\/" in body and b"\\u" in body  # URLs and kana are escaped
    page = parse_page(gzip.compress(body))
    assert page.allcount == 5
    assert [r["title"] for r in page.records] == [n["title"] for n in novels]
    assert page.records[0]["story"].endswith("詳しくは https://example.com/a/b へ")


def test_empty_result() -> None:
    page = parse_page(b'[{"allcount":0}]')
    assert page.allcount == 0 and page.records == []


def test_truncated_gzip_is_detected() -> None:
    body = gzip.compress(wire([{"allcount": 3}, *make_catalogue(3)]))
    with pytest.raises(TruncatedBody, match="ends early"):
        parse_page(body[: len(body) // 2])
    assert TruncatedBody.retryable


@pytest.mark.parametrize(
    "body, message",
    [
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (b'{"allcount": 3}', "JSON array"),
        (b'[{"all": 3}]', "allcount"),
        (b'[{"allcount": 1}, 5]', "element 1"),
        (b'[{"allcount": 1}, {"title": "x"}]', "no ncode"),
    ],
)
def test_malformed_bodies_are_retryable_errors(body: bytes, message: str) -> None:
    with pytest.raises(MalformedBody, match=message) as info:
        parse_page(body)
    assert info.value.retryable


def test_api_error_is_not_retryable() -> None:
    with pytest.raises(ApiRefused, match="st must") as info:
        parse_page(b'{"error": "st must be between 1 and 2000"}')
    assert not info.value.retryable
