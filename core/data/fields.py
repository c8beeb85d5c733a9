"""The dataset columns, the field-alias table, and turning one raw mapping into a Record."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.data.genres import biggenre_of, genre_code
from core.mecab_limit import MECAB_MAX_CHARS

COLUMNS: tuple[str, ...] = ("title", "story", "ncode", "keyword", "genre", "biggenre")
TEXT_COLUMNS: tuple[str, ...] = ("title", "story", "ncode", "keyword")

# target column -> source field names, in priority order (the first one present wins).
# Matching ignores case and surrounding spaces. Every non-identity use is counted and reported.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "name", "novel_title", "タイトル"),
    "story": ("story", "abstract", "synopsis", "summary", "description", "あらすじ"),
    "ncode": ("ncode", "novel_code", "nコード"),
    "keyword": ("keyword", "keywords", "tags", "tag", "キーワード"),
    "genre": ("genre", "genre_code", "ジャンル"),
    "biggenre": ("biggenre", "big_genre", "大ジャンル"),
}

MAX_TRIM_NOTES = 20  # per import; the conversions count covers the rest
DEFAULT_MAX_RECORD_BYTES = 1 << 20  # 1 MiB of text per record; real synopses are under 4 KB


@dataclass(slots=True)
class Record:
    """One cleaned-up (synopsis, title) pair; `where` is "file:line" for messages."""

    title: str
    story: str
    ncode: str
    keyword: str
    genre: int | None
    biggenre: int | None
    where: str

    def row(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in COLUMNS}


@dataclass(frozen=True, slots=True)
class Skip:
    """A record that was not imported, with where it is and why."""

    where: str
    reason: str
    field: str | None = None

    @property
    def message(self) -> str:
        if self.field:
            return f"{self.where}: field '{self.field}': {self.reason}"
        return f"{self.where}: {self.reason}"


def megabytes(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate_problem(text: str) -> str | None:
    # Loaders decode with surrogateescape, so undecodable bytes show up as U+DC80..U+DCFF;
    # other lone surrogates come from broken \\uD83D-style escapes. Arrow cannot store either.
    found = _SURROGATE.search(text)
    if found is None:
        return None
    code, at = ord(found.group()), found.start() + 1
    if 0xDC80 <= code <= 0xDCFF:
        return f"holds bytes that are not valid UTF-8 (byte 0x{code - 0xDC00:02X} at character {at})"
    return f"holds a lone surrogate escape \\u{code:04X} at character {at}"


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


class FieldMapper:
    """Maps raw records onto COLUMNS and keeps the alias and conversion counts for the report."""

    def __init__(self, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> None:
        self.max_record_bytes = max_record_bytes
        self.aliases: Counter[tuple[str, str]] = Counter()
        self.conversions: Counter[str] = Counter()
        self.trimmed: list[str] = []  # "file:line: ..." for the first texts cut to MECAB_MAX_CHARS

    def alias_report(self) -> dict[str, dict[str, int]]:
        """{target: {source field: records}} for every field taken from a non-identical name."""
        out: dict[str, dict[str, int]] = {}
        for (target, source), n in sorted(self.aliases.items()):
            if source != target:
                out.setdefault(target, {})[source] = n
        return out

    def _pick(self, raw: Mapping[str, Any], keys: dict[str, str], target: str) -> tuple[bool, Any]:
        for alias in FIELD_ALIASES[target]:
            source = keys.get(alias.casefold())
            if source is not None:
                self.aliases[(target, source)] += 1
                return True, raw[source]
        return False, None

    def to_record(self, raw: Mapping[str, Any], where: str) -> Record | Skip:
        keys = {str(k).strip().casefold(): k for k in raw}
        values: dict[str, Any] = {}
        for target in ("title", "story"):
            found, value = self._pick(raw, keys, target)
            if not found or value is None:
                present = ", ".join(str(k) for k in list(raw)[:8]) or "none"
                return Skip(where, f"missing (fields present: {present})", target)
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.conversions[f"{target}: number → text"] += 1
                value = str(value)
            if not isinstance(value, str):
                return Skip(where, f"expected text, got {type(value).__name__}", target)
            values[target] = value

        _, ncode = self._pick(raw, keys, "ncode")
        values["ncode"] = "" if ncode is None else str(ncode).strip().upper()

        _, keyword = self._pick(raw, keys, "keyword")
        if isinstance(keyword, list | tuple):
            self.conversions["keyword: list joined with spaces"] += 1
            keyword = " ".join(str(k).strip() for k in keyword if str(k).strip())
        values["keyword"] = "" if keyword is None else str(keyword)

        found, genre = self._pick(raw, keys, "genre")
        values["genre"] = self._genre(genre) if found else None
        found, big = self._pick(raw, keys, "biggenre")
        biggenre = _as_int(big) if found else None
        if found and big not in (None, "") and biggenre is None:
            self.conversions["biggenre: not a number → null"] += 1
        if biggenre is None and values["genre"] is not None:
            biggenre = biggenre_of(values["genre"])
            if biggenre is not None:
                self.conversions["biggenre: derived from genre"] += 1
        values["biggenre"] = biggenre

        for column in TEXT_COLUMNS:
            problem = _surrogate_problem(values[column])
            if problem:
                return Skip(where, problem, column)
        sizes = {c: len(values[c].encode("utf-8")) for c in TEXT_COLUMNS}
        if sum(sizes.values()) > self.max_record_bytes:
            biggest = max(sizes, key=lambda c: sizes[c])
            return Skip(
                where,
                f"is {megabytes(sizes[biggest])}; a record may hold at most "
                f"{megabytes(self.max_record_bytes)} of text (raise --max-record-mb to keep it)",
                biggest,
            )
        for column in ("title", "story"):
            # The model reads a few hundred tokens; MeCab crashes on texts of ~600k characters.
            n = len(values[column])
            if n > MECAB_MAX_CHARS:
                values[column] = values[column][:MECAB_MAX_CHARS]
                self.conversions[f"{column}: cut to {MECAB_MAX_CHARS:,} characters"] += 1
                if len(self.trimmed) < MAX_TRIM_NOTES:
                    self.trimmed.append(f"{where}: field '{column}': {n:,} characters cut to the first "
                                        f"{MECAB_MAX_CHARS:,} (a model reads only the first few hundred tokens)")
        return Record(where=where, **values)

    def _genre(self, value: Any) -> int | None:
        if value is None or value == "":
            return None
        code = _as_int(value)
        if code is not None:
            return code
        if isinstance(value, str):
            code = genre_code(value)
            if code is not None:
                self.conversions["genre: name → code"] += 1
                return code
            self.conversions["genre: unknown name → null"] += 1
            return None
        self.conversions["genre: not a number → null"] += 1
        return None
