"""`narou-tui dataset import|list|stats`: the dataset layer from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.cli.errors import CliError
from core.cli.numbers import float_arg, int_arg
from core.paths import Paths

SKIPS_SHOWN = 20
EXIT_DATA = 1  # nothing usable, or --strict violated
EXIT_USAGE = 2  # bad arguments, missing source, name taken


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ds = subparsers.add_parser(
        "dataset",
        parents=[common],
        help="import, list and describe datasets",
        description="Import, list and describe (synopsis, title) datasets.",
    )
    sub = ds.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)

    imp = sub.add_parser(
        "import",
        parents=[common],
        help="import a JSONL/JSON/CSV/TSV/Narou API file or HF datasets folder",
        description="Read PATH, map its fields, clean, split by title and save it as "
        "datasets/NAME/ (HF datasets Arrow + meta.json). The source is never modified.",
    )
    imp.add_argument("path", metavar="PATH", help="source file or HF datasets folder")
    imp.add_argument("--name", required=True, help="dataset name (folder under the datasets dir)")
    imp.add_argument(
        "--force", action="store_true", help="replace an existing dataset of that name"
    )
    imp.add_argument(
        "--strict", action="store_true", help="fail, writing nothing, if any record is unusable"
    )
    imp.add_argument("--seed", type=int_arg(0), default=42, help="split seed (default 42)")
    imp.add_argument(
        "--split",
        default="0.9,0.05,0.05",
        metavar="T,V,T",
        help="train,validation,test ratios (default 0.9,0.05,0.05)",
    )
    imp.add_argument("--no-strip-urls", action="store_true", help="keep URLs in synopses")
    imp.add_argument("--keep-notes", action="store_true", help="keep ※ note lines")
    imp.add_argument("--nfkc", action="store_true", help="apply Unicode NFKC normalisation")
    imp.add_argument(
        "--no-normalize-whitespace",
        action="store_true",
        help="keep line breaks and spaces as they are",
    )
    imp.add_argument(
        "--min-story-chars",
        type=int_arg(0),
        default=20,
        metavar="N",
        help="drop synopses shorter than N characters (default 20)",
    )
    imp.add_argument(
        "--min-title-chars",
        type=int_arg(0),
        default=1,
        metavar="N",
        help="drop titles shorter than N characters (default 1)",
    )
    imp.add_argument("--no-dedup", action="store_true", help="keep duplicate pairs and ncodes")
    imp.add_argument(
        "--max-record-mb",
        type=float_arg(0, 1024, lo_open=True),
        default=1.0,
        metavar="MB",
        help="skip records holding more text than this (default 1 MB)",
    )
    imp.add_argument("--json", action="store_true", help="print the report as JSON")
    imp.set_defaults(func=cmd_import)

    lst = sub.add_parser(
        "list",
        parents=[common],
        help="list datasets",
        description="List the datasets in the datasets folder.",
    )
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(func=cmd_list)

    st = sub.add_parser(
        "stats",
        parents=[common],
        help="statistics of one dataset",
        description="Counts, lengths, duplicates, top keywords/genres, cleaning report.",
    )
    st.add_argument("name", metavar="NAME")
    st.add_argument(
        "--top", type=int_arg(1, 10_000), default=10, metavar="N", help="top keywords/genres shown (default 10)"
    )
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(func=cmd_stats)


def _dump(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def cmd_import(args: argparse.Namespace, paths: Paths) -> int:
    from core.data.cleaning import CleaningOptions
    from core.data.errors import DatasetError, DatasetExists, ImportFailed
    from core.data.importer import ImportOptions, import_dataset
    from core.data.split import SplitError, parse_ratios

    try:
        ratios = parse_ratios(args.split)
    except SplitError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    if args.max_record_mb <= 0:
        raise CliError("--max-record-mb must be above 0", EXIT_USAGE)
    cleaning = CleaningOptions(
        nfkc=args.nfkc,
        strip_urls=not args.no_strip_urls,
        drop_notes=not args.keep_notes,
        normalize_whitespace=not args.no_normalize_whitespace,
        min_story_chars=max(0, args.min_story_chars),
        min_title_chars=max(0, args.min_title_chars),
        dedup_exact=not args.no_dedup,
        dedup_ncode=not args.no_dedup,
    )
    options = ImportOptions(
        cleaning=cleaning,
        ratios=ratios,
        seed=args.seed,
        strict=args.strict,
        max_record_bytes=int(args.max_record_mb * 1_000_000),
        force=args.force,
    )
    try:
        report = import_dataset(args.path, args.name, paths, options)
    except DatasetExists as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    except ImportFailed as exc:
        if exc.report is not None:
            if args.json:
                _dump(exc.report.to_dict() | {"error": str(exc)})
            else:
                _print_skips(
                    exc.report.skip_messages(SKIPS_SHOWN), exc.report.skipped_total, sys.stderr
                )
        missing = not Path(args.path).exists()
        raise CliError(str(exc), EXIT_USAGE if missing else EXIT_DATA) from exc
    except DatasetError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    if args.json:
        _dump(report.to_dict())
        return 0
    c = report.counts
    print(
        f"imported {sum(c.values())} records from {report.source} ({report.format}, {report.encoding}) "
        f"as {report.name!r}"
    )
    print(
        f"  → {report.target}  train {c['train']} · validation {c['validation']} · test {c['test']}"
    )
    print(
        f"  read {report.read} · loaded {report.loaded} · skipped {report.skipped_total} · "
        f"after cleaning {report.cleaning.output if report.cleaning else 0}"
    )
    for note in report.notes:
        print(f"  note: {note}")
    if report.aliases:
        mapped = ", ".join(
            f"{t} ← {s} ({n})" for t, src in report.aliases.items() for s, n in src.items()
        )
        print(f"fields: {mapped}")
    if report.conversions:
        print("conversions: " + ", ".join(f"{k} ({n})" for k, n in report.conversions.items()))
    if report.cleaning:
        _print_cleaning(report.cleaning.to_dict())
    _print_skips(report.skip_messages(SKIPS_SHOWN), report.skipped_total, sys.stdout)
    return 0


def _print_skips(lines: list[str], total: int, stream: Any) -> None:
    if not total:
        return
    print(f"skipped {total} record(s):", file=stream)
    for line in lines:
        print(f"  {line}", file=stream)


def _print_cleaning(cleaning: dict[str, Any]) -> None:
    print(f"cleaning ({cleaning.get('input', '?')} → {cleaning.get('output', '?')} records):")
    for step in cleaning.get("steps", []):
        if not step.get("enabled"):
            print(f"  {step['name']:<22} off")
            continue
        detail = ", ".join(f"{k} {v}" for k, v in step.get("detail", {}).items())
        print(
            f"  {step['name']:<22} changed {step.get('changed', 0):>6}  removed {step.get('removed', 0):>6}"
            + (f"  ({detail})" if detail else "")
        )


def cmd_list(args: argparse.Namespace, paths: Paths) -> int:
    from core.data.store import list_datasets

    infos = list_datasets(paths)
    if args.json:
        _dump([i.to_dict() for i in infos])
        return 0
    if not infos:
        print(f"no datasets in {paths.datasets_dir}")
        return 0
    print(f"{'NAME':<20} {'TRAIN':>8} {'VALID':>7} {'TEST':>7}  {'CREATED':<25} STATUS")
    for i in infos:
        c = i.counts
        status = "ok" if i.ok else i.error
        print(
            f"{i.name:<20} {c.get('train', 0):>8} {c.get('validation', 0):>7} {c.get('test', 0):>7}  "
            f"{(i.created or '-'):<25} {status}"
        )
    return 0


def cmd_stats(args: argparse.Namespace, paths: Paths) -> int:
    from core.data.errors import DatasetError
    from core.data.stats import compute_stats
    from core.data.store import load_tables, read_meta

    try:
        meta = read_meta(paths, args.name)
        tables = load_tables(paths, args.name)
    except DatasetError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    stats = compute_stats(tables, top_n=max(1, args.top))
    if args.json:
        _dump(
            {
                "name": args.name,
                "source": meta.get("source"),
                "created": meta.get("created"),
                "fingerprint": meta.get("fingerprint"),
                "stats": stats.to_dict(),
                "cleaning": meta.get("cleaning"),
                "aliases": meta.get("aliases"),
                "skipped_total": meta.get("skipped_total", 0),
            }
        )
        return 0
    print(
        f"dataset {args.name}  ({meta.get('source') or 'source unknown'}, created {meta.get('created') or '?'})"
    )
    print(
        "rows: "
        + " · ".join(f"{s} {n}" for s, n in stats.counts.items())
        + f" · total {stats.total}"
    )
    print(f"{'chars':<8} {'min':>6} {'median':>8} {'mean':>8} {'p95':>8} {'max':>7}")
    for label, ls in (("story", stats.story_length), ("title", stats.title_length)):
        print(
            f"{label:<8} {ls.min:>6} {ls.median:>8.1f} {ls.mean:>8.1f} {ls.p95:>8.1f} {ls.max:>7}"
        )
    print(
        f"duplicates: pairs {stats.duplicate_pairs} · titles {stats.duplicate_titles} · "
        f"stories {stats.duplicate_stories} · titles in >1 split {stats.titles_across_splits}"
    )
    print(f"empty: titles {stats.empty_titles} · stories {stats.empty_stories}")
    for label, hist in (
        ("story length", stats.story_histogram),
        ("title length", stats.title_histogram),
    ):
        print(f"{label} histogram (chars):")
        peak = max(hist.counts, default=0) or 1
        for lab, n in zip(hist.labels(), hist.counts, strict=True):
            print(f"  {lab:>9} {n:>7} {'█' * round(30 * n / peak)}")
    if stats.top_keywords:
        print("top keywords: " + ", ".join(f"{k} {n}" for k, n in stats.top_keywords))
    if stats.top_genres:
        print("top genres: " + ", ".join(f"{name} {n}" for _, name, n in stats.top_genres))
    if meta.get("cleaning"):
        _print_cleaning(meta["cleaning"])
    if meta.get("skipped_total"):
        print(f"skipped at import: {meta['skipped_total']} (listed in meta.json)")
    return 0
