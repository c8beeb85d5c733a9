"""Source readers: JSONL, JSON arrays (incl. Narou API/scraped), CSV/TSV and HF dataset folders.

Every reader yields `RawItem`s: a raw mapping or an error, each with a "file:line" location.
Nothing here raises for bad content; only an unreadable or unrecognisable source raises
`SourceError`. Text is decoded with `surrogateescape` so one bad byte costs one record, not
the file: `FieldMapper` then reports the field that held it.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from core.data.arrow_io import LayoutError, is_dataset, is_dataset_dict, read_save_to_disk
from core.data.fields import megabytes

FORMATS: tuple[str, ...] = (
    "jsonl",
    "json",
    "narou-api",
    "narou-scraped",
    "csv",
    "tsv",
    "hf-datasets",
)
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = codecs.BOM_UTF8
_SNIFF_BYTES = 1 << 16
_RECORD_LIST_KEYS = ("data", "records", "items", "rows", "novels")


class SourceError(Exception):
    """The source cannot be read at all (missing, a folder of the wrong kind, empty)."""


@dataclass(frozen=True, slots=True)
class RawItem:
    """One raw record (`data`) or one unreadable one (`error`, optionally naming a field)."""

    where: str
    data: dict[str, Any] | None = None
    error: str | None = None
    field: str | None = None


@dataclass
class SourceInfo:
    """What was detected about a source: format, text encoding, and notes for the report."""

    path: Path
    display: str
    format: str
    encoding: str = "utf-8"
    compressed: bool = False
    notes: list[str] = field(default_factory=list)


def _open_binary(path: Path, compressed: bool) -> IO[bytes]:
    return gzip.open(path, "rb") if compressed else path.open("rb")


def _head(path: Path) -> tuple[bytes, bool]:
    with path.open("rb") as f:
        magic = f.read(2)
    compressed = magic == _GZIP_MAGIC
    try:
        with _open_binary(path, compressed) as f:
            return f.read(_SNIFF_BYTES), compressed
    except (OSError, EOFError) as exc:
        raise SourceError(f"{path}: cannot read ({exc})") from exc


def _detect_encoding(head: bytes, full: bool) -> str:
    # UTF-8 unless the head fails as UTF-8 but reads cleanly as Shift_JIS (cp932), the other
    # encoding Japanese CSV exports use. A few stray bytes keep UTF-8 and cost single records.
    data = head[len(_BOM) :] if head.startswith(_BOM) else head
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=full)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("cp932")().decode(data, final=full)
    except UnicodeDecodeError:
        return "utf-8"
    return "cp932"


def detect(path: Path, display: str | None = None) -> SourceInfo:
    """Detect the format of `path` from its extension and first bytes."""
    display = display or str(path)
    if not path.exists():
        raise SourceError(f"{display}: no such file or folder")
    if path.is_dir():
        if is_dataset_dict(path) or is_dataset(path):
            return SourceInfo(path, display, "hf-datasets", encoding="arrow")
        raise SourceError(
            f"{display}: a folder, but not a HF datasets folder (no dataset_dict.json or state.json)"
        )
    head, compressed = _head(path)
    if not head.strip(b" \t\r\n" + _BOM):
        raise SourceError(f"{display}: file is empty (no records)")
    encoding = _detect_encoding(head, full=len(head) < _SNIFF_BYTES)
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    ext = suffixes[-1] if suffixes else ""
    text = head.decode(encoding, errors="replace").lstrip("\ufeff \t\r\n")
    if ext in {".jsonl", ".ndjson"}:
        fmt = "jsonl"
    elif ext in {".csv"}:
        fmt = "csv"
    elif ext in {".tsv", ".tab"}:
        fmt = "tsv"
    elif text.startswith("["):
        fmt = "json"
    elif text.startswith("{"):
        fmt = "jsonl" if ext != ".json" else "json"
    else:
        first_line = text.split("\n", 1)[0]
        fmt = "tsv" if first_line.count("\t") > first_line.count(",") else "csv"
    if fmt == "json" and text.startswith("["):
        if re.match(r'\[\s*\{\s*"allcount"\s*:', text):
            fmt = "narou-api"
        elif '"abstract"' in text and '"tags"' in text:
            fmt = "narou-scraped"
    info = SourceInfo(path, display, fmt, encoding=encoding, compressed=compressed)
    if encoding != "utf-8":
        info.notes.append(f"decoded as {encoding} (the file is not UTF-8)")
    return info


def iter_items(info: SourceInfo, max_line_bytes: int) -> Iterator[RawItem]:
    """Raw items of a detected source; `max_line_bytes` caps what one JSONL line may hold."""
    if info.format == "jsonl":
        return _iter_jsonl(info, max_line_bytes)
    if info.format in {"json", "narou-api", "narou-scraped"}:
        return _iter_json(info)
    if info.format in {"csv", "tsv"}:
        return _iter_csv(info, max_line_bytes)
    if info.format == "hf-datasets":
        return _iter_hf(info)
    raise SourceError(f"{info.display}: unknown format {info.format!r}")


def _is_api_header(obj: dict[str, Any]) -> bool:
    return set(obj) == {"allcount"}


def _has_bad_bytes(text: str) -> bool:
    return any(0xDC80 <= ord(ch) <= 0xDCFF for ch in text)


def _elements(obj: Any, where: str) -> Iterator[RawItem]:
    """Records held by one parsed JSON value (an object, or a list such as an API response)."""
    if isinstance(obj, dict):
        if not _is_api_header(obj):
            yield RawItem(where, data=obj)
        return
    if isinstance(obj, list):
        for i, element in enumerate(obj):
            if isinstance(element, dict):
                yield from _elements(element, f"{where}[{i}]")
            else:
                yield RawItem(
                    f"{where}[{i}]", error=f"expected a JSON object, got {_kind(element)}"
                )
        return
    yield RawItem(where, error=f"expected a JSON object, got {_kind(obj)}")


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "true/false"}.get(
        type(value), "null" if value is None else "number"
    )


def _iter_jsonl(info: SourceInfo, max_line_bytes: int) -> Iterator[RawItem]:
    with _open_binary(info.path, info.compressed) as f:
        line_no = 0
        while True:
            chunk = f.readline(max_line_bytes + 1)
            if not chunk:
                return
            line_no += 1
            where = f"{info.display}:{line_no}"
            if len(chunk) > max_line_bytes and not chunk.endswith(b"\n"):
                # Drain the rest of the line in pieces so a runaway line never sits in memory.
                total = len(chunk)
                while True:
                    more = f.readline(1 << 20)
                    total += len(more)
                    if not more or more.endswith(b"\n"):
                        break
                yield RawItem(
                    where,
                    error=f"line is {megabytes(total)}, over the {megabytes(max_line_bytes)} "
                    "read limit; skipped unparsed",
                )
                continue
            if line_no == 1 and chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
            text = chunk.decode(info.encoding, errors="surrogateescape").strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                hint = (
                    "; the line also holds bytes that are not UTF-8" if _has_bad_bytes(text) else ""
                )
                yield RawItem(where, error=f"malformed JSON: {exc.msg} (column {exc.colno}){hint}")
                continue
            except RecursionError:
                yield RawItem(where, error="malformed JSON: nested too deeply")
                continue
            yield from _elements(obj, where)


def _read_text(info: SourceInfo) -> str:
    with _open_binary(info.path, info.compressed) as f:
        data = f.read()
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    return data.decode(info.encoding, errors="surrogateescape")


_WS = re.compile(r"[ \t\r\n]*")
# Where to pick up again after a broken array element: the start of the next object.
_RESYNC = re.compile(r"\}\s*,\s*(?=\{)")


def _iter_json(info: SourceInfo) -> Iterator[RawItem]:
    text = _read_text(info)
    pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
    if text.startswith("{", pos):
        yield from _iter_json_object(info, text)
        return
    if not text.startswith("[", pos):
        yield RawItem(f"{info.display}:1", error="not a JSON array or object")
        return
    decoder = json.JSONDecoder()
    pos += 1
    line, line_pos = 1, 0  # line number of line_pos; advanced incrementally (no O(n^2) counting)

    def line_at(p: int) -> int:
        nonlocal line, line_pos
        line += text.count("\n", line_pos, p)
        line_pos = p
        return line

    index = 0
    while True:
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            yield RawItem(
                f"{info.display}:{line_at(pos)}", error="JSON array is not closed (file cut short?)"
            )
            return
        if text[pos] == "]":
            return
        start = pos
        where = f"{info.display}:{line_at(start)}"
        try:
            obj, pos = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            yield RawItem(
                f"{info.display}:{line_at(exc.pos)}",
                error=f"malformed JSON in array element {index + 1}: {exc.msg} (column {exc.colno})",
            )
            resync = _RESYNC.search(text, exc.pos)
            if resync is None:
                yield RawItem(
                    where, error="could not find the next element; rest of the file not read"
                )
                return
            pos = resync.end()
            index += 1
            continue
        except RecursionError:
            yield RawItem(
                where, error="malformed JSON: nested too deeply; rest of the file not read"
            )
            return
        if isinstance(obj, dict):
            if not _is_api_header(obj):
                yield RawItem(where, data=obj)
        else:
            yield RawItem(
                where, error=f"array element {index + 1} is a {_kind(obj)}, not an object"
            )
        index += 1
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] != "]":
            yield RawItem(
                f"{info.display}:{line_at(pos)}",
                error=f"malformed JSON after array element {index}: expected ',' or ']'",
            )
            resync = _RESYNC.search(text, pos)
            if resync is None:
                return
            pos = resync.end()


def _iter_json_object(info: SourceInfo, text: str) -> Iterator[RawItem]:
    # A .json file holding an object: one record, a wrapper like {"data": [...]}, or JSONL.
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        info.format = "jsonl"
        info.notes.append("read line by line (the file holds several JSON objects)")
        yield from _iter_jsonl(info, max_line_bytes=len(text.encode("utf-8", "surrogatepass")) + 1)
        return
    where = f"{info.display}:1"
    for key in _RECORD_LIST_KEYS:
        if isinstance(obj.get(key), list):
            info.notes.append(f"records read from the top-level key {key!r}")
            yield from _elements(obj[key], f"{where}:{key}")
            return
    yield from _elements(obj, where)


def _iter_csv(info: SourceInfo, max_line_bytes: int) -> Iterator[RawItem]:
    delimiter = "\t" if info.format == "tsv" else ","
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, max_line_bytes))
    try:
        raw = _open_binary(info.path, info.compressed)
        # newline="" leaves line ends to csv, which needs them for quoted multi-line fields.
        with io.TextIOWrapper(
            raw, encoding=info.encoding, errors="surrogateescape", newline=""
        ) as stream:
            lines = (line.lstrip("\ufeff") if i == 0 else line for i, line in enumerate(stream))
            reader = csv.reader(lines, delimiter=delimiter)
            header: list[str] | None = None
            last_line = 0
            while True:
                start = last_line + 1
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    last_line = reader.line_num
                    yield RawItem(
                        f"{info.display}:{start}", error=f"malformed {info.format.upper()}: {exc}"
                    )
                    continue
                last_line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                if header is None:
                    header = [cell.strip() for cell in row]
                    continue
                where = f"{info.display}:{start}"
                if len(row) != len(header):
                    yield RawItem(
                        where,
                        error=f"row has {len(row)} fields but the header has {len(header)}",
                    )
                    continue
                yield RawItem(where, data=dict(zip(header, row, strict=True)))
            if header is None:
                yield RawItem(f"{info.display}:1", error="no header row")
    finally:
        csv.field_size_limit(old_limit)


def _iter_hf(info: SourceInfo) -> Iterator[RawItem]:
    try:
        tables = read_save_to_disk(info.path)
    except LayoutError as exc:
        raise SourceError(str(exc)) from exc
    for split, table in tables.items():
        row = 0
        for batch in table.to_batches(max_chunksize=4096):
            for data in batch.to_pylist():
                row += 1
                yield RawItem(f"{info.display}[{split}]#{row}", data=data)
