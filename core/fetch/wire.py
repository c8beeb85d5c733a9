"""Decoding of API bodies: gzip (with truncation detection) and the `[{"allcount": N}, ...]` shape."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

GZIP_MAGIC = b"\x1f\x8b"


class WireError(Exception):
    """A body that cannot be used. `retryable` says whether asking again may help."""

    retryable = True


class TruncatedBody(WireError):
    """The gzip stream (or the body) ended early: a transfer fault, worth a retry."""


class MalformedBody(WireError):
    """The body is not the JSON shape the API promises (often a proxy error page)."""


class ApiRefused(WireError):
    """The API answered with an error message about the request itself: retrying won't help."""

    retryable = False


@dataclass
class ApiPage:
    """One decoded response: the total match count and the novel objects of this page."""

    allcount: int
    records: list[dict[str, Any]]


def decompress(body: bytes) -> bytes:
    """Un-gzip a body when it is gzip (the API sends raw gzip bytes without a header saying so)."""
    if not body.startswith(GZIP_MAGIC):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body) + inflater.flush()
    except zlib.error as exc:
        raise TruncatedBody(f"corrupt gzip stream ({exc})") from exc
    if not inflater.eof:
        raise TruncatedBody(f"gzip stream ends early ({len(body)} bytes received)")
    return out


def parse_page(body: bytes) -> ApiPage:
    """Decode one response body (gzip or plain) into an ApiPage; raise a WireError otherwise."""
    raw = decompress(body)
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        preview = raw[:80].decode("utf-8", "replace")
        raise MalformedBody(f"not JSON ({exc}); body starts {preview!r}") from exc
    if isinstance(data, dict) and "error" in data:
        raise ApiRefused(f"API error: {data['error']}")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise MalformedBody("expected a JSON array starting with {\"allcount\": N}")
    head = data[0]
    if "error" in head:
        raise ApiRefused(f"API error: {head['error']}")
    allcount = head.get("allcount")
    if not isinstance(allcount, int) or isinstance(allcount, bool) or allcount < 0:
        raise MalformedBody(f"first element has no valid allcount: {head!r:.80}")
    records = data[1:]
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            raise MalformedBody(f"element {i} is {type(rec).__name__}, not an object")
        if not isinstance(rec.get("ncode"), str) or not rec["ncode"]:
            raise MalformedBody(f"element {i} has no ncode")
    return ApiPage(allcount, records)
