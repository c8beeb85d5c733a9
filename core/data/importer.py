"""`import_dataset`: read a source, map fields, clean, split, and save under datasets/<name>/."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.data.cleaning import CleaningOptions, CleaningReport, clean_records
from core.data.errors import DatasetError, DatasetExists, ImportFailed
from core.data.fields import DEFAULT_MAX_RECORD_BYTES, FieldMapper, Record, Skip
from core.data.loaders import SourceError, detect, iter_items
from core.data.split import DEFAULT_RATIOS, DEFAULT_SEED, SPLITS, check_ratios, split_indices
from core.data.store import META_VERSION, fingerprint, is_built, managed_paths, write_dataset
from core.paths import PathError, Paths

# Skips kept in memory and in meta.json; beyond this only the total is counted.
MAX_SKIPS_KEPT = 1000
MAX_SKIPS_IN_META = 100


@dataclass
class ImportOptions:
    """How to import a source.

    cleaning: which cleaning steps run (see CleaningOptions).
    ratios: train/validation/test fractions, summing to 1.
    seed: decides which title groups land in validation/test.
    strict: any unreadable record (malformed, missing field, bad bytes, oversized) fails the
        import and nothing is written. Cleaning removals (duplicates, short) never do.
    max_record_bytes: UTF-8 bytes of text (title+story+ncode+keyword) one record may hold;
        bigger ones are skipped with a message. A JSONL line over 8× this (at least 64 MiB)
        is skipped without being parsed, so a runaway line never sits in memory.
    force: replace an existing build of the same name (only its Arrow output and meta.json).
    """

    cleaning: CleaningOptions = field(default_factory=CleaningOptions)
    ratios: tuple[float, float, float] = DEFAULT_RATIOS
    seed: int = DEFAULT_SEED
    strict: bool = False
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    force: bool = False

    @property
    def max_line_bytes(self) -> int:
        return max(8 * self.max_record_bytes, 64 << 20)


@dataclass
class ImportReport:
    """Everything an import learned; `written` says whether datasets/<name>/ was (re)built."""

    name: str
    source: str
    target: str
    format: str = ""
    encoding: str = ""
    notes: list[str] = field(default_factory=list)
    read: int = 0
    loaded: int = 0
    skipped: list[Skip] = field(default_factory=list)
    skipped_total: int = 0
    aliases: dict[str, dict[str, int]] = field(default_factory=dict)
    conversions: dict[str, int] = field(default_factory=dict)
    cleaning: CleaningReport | None = None
    counts: dict[str, int] = field(default_factory=dict)
    fingerprint: str | None = None
    created: str | None = None
    written: bool = False

    def skip_messages(self, limit: int | None = None) -> list[str]:
        """ "file:line: reason" lines, at most `limit`, then "… and K more"."""
        shown = self.skipped if limit is None else self.skipped[:limit]
        lines = [s.message for s in shown]
        hidden = self.skipped_total - len(shown)
        if hidden > 0:
            lines.append(f"… and {hidden} more")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "target": self.target,
            "format": self.format,
            "encoding": self.encoding,
            "notes": self.notes,
            "read": self.read,
            "loaded": self.loaded,
            "skipped": [asdict(s) | {"message": s.message} for s in self.skipped],
            "skipped_total": self.skipped_total,
            "aliases": self.aliases,
            "conversions": self.conversions,
            "cleaning": self.cleaning.to_dict() if self.cleaning else None,
            "counts": self.counts,
            "fingerprint": self.fingerprint,
            "created": self.created,
            "written": self.written,
        }


def _display(source: Path) -> str:
    # Messages name the file as the user would: relative to the working folder when inside it.
    try:
        return str(source.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(source)


def _check_not_inside_output(source: Path, paths: Paths, name: str) -> None:
    src = source.resolve()
    for managed in managed_paths(paths, name):
        if src == managed.resolve() or managed.resolve() in src.parents:
            raise ImportFailed(
                f"{source} lies inside the output it would replace ({managed}); copy it elsewhere first"
            )


def import_dataset(
    source: str | Path,
    name: str,
    paths: Paths,
    options: ImportOptions | None = None,
) -> ImportReport:
    """Import `source` as dataset `name`; raises ImportFailed / DatasetExists when nothing is written.

    The source is only ever opened for reading. Good records are kept and every skipped one is
    reported with its location; the import fails when no usable record remains or, with
    `strict`, when any record was unreadable.
    """
    options = options or ImportOptions()
    check_ratios(options.ratios)
    source = Path(source)
    try:
        target = paths.dataset(name)
    except PathError as exc:
        raise DatasetError(str(exc)) from exc
    report = ImportReport(name=name, source=str(source.resolve()), target=str(target))
    if is_built(paths, name) and not options.force:
        raise DatasetExists(
            f"dataset {name!r} already exists at {target} (use --force to replace it)"
        )
    _check_not_inside_output(source, paths, name)

    try:
        info = detect(source, _display(source))
    except SourceError as exc:
        raise ImportFailed(str(exc), report) from exc
    report.format, report.encoding, report.notes = info.format, info.encoding, info.notes

    mapper = FieldMapper(options.max_record_bytes)
    records: list[Record] = []
    try:
        for item in iter_items(info, options.max_line_bytes):
            report.read += 1
            result: Record | Skip
            if item.data is None:
                result = Skip(item.where, item.error or "unreadable", item.field)
            else:
                result = mapper.to_record(item.data, item.where)
            if isinstance(result, Skip):
                report.skipped_total += 1
                if len(report.skipped) < MAX_SKIPS_KEPT:
                    report.skipped.append(result)
            else:
                records.append(result)
    except (SourceError, OSError, EOFError) as exc:  # e.g. a truncated .gz
        raise ImportFailed(f"{info.display}: reading stopped: {exc}", report) from exc
    report.loaded = len(records)
    report.aliases = mapper.alias_report()
    report.conversions = dict(sorted(mapper.conversions.items()))
    report.notes = [*report.notes, *mapper.trimmed]

    if options.strict and report.skipped_total:
        raise ImportFailed(
            f"--strict: {report.skipped_total} of {report.read} records in {info.display} are unusable; "
            "nothing written",
            report,
        )
    if not records:
        raise ImportFailed(
            f"no usable record in {info.display} ({report.skipped_total} skipped)", report
        )

    cleaned, report.cleaning = clean_records(records, options.cleaning)
    if not cleaned:
        raise ImportFailed(
            f"all {len(records)} records of {info.display} were removed by cleaning "
            "(see the cleaning report; loosen --min-story-chars / --min-title-chars?)",
            report,
        )

    indices = split_indices([r.title for r in cleaned], options.ratios, options.seed)
    splits = {s: [cleaned[i] for i in indices[s]] for s in SPLITS}
    report.counts = {s: len(splits[s]) for s in SPLITS}
    report.fingerprint = fingerprint(splits)
    report.created = datetime.now(UTC).isoformat(timespec="seconds")
    meta = {
        "version": META_VERSION,
        "name": name,
        "source": report.source,
        "created": report.created,
        "counts": report.counts,
        "cleaning": report.cleaning.to_dict(),
        "aliases": report.aliases,
        "conversions": report.conversions,
        "fingerprint": report.fingerprint,
        "skipped": report.skip_messages(MAX_SKIPS_IN_META),
        "skipped_total": report.skipped_total,
        "format": report.format,
        "encoding": report.encoding,
        "notes": report.notes,
        "read": report.read,
        "loaded": report.loaded,
        "split": {
            "ratios": list(options.ratios),
            "seed": options.seed,
            "grouped_by": "title (NFKC, case-folded, spaces removed)",
        },
        "max_record_bytes": options.max_record_bytes,
    }
    write_dataset(paths, name, splits, meta, force=options.force)
    report.written = True
    return report
