"""`narou-tui fetch`: harvest (story, title) records from the Narou API into a dataset, resumably."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from core.cli.errors import CliError
from core.cli.numbers import float_arg, int_arg
from core.paths import PathError, Paths

# Exit codes (also in `narou-tui fetch --help`).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUDGET = 0, 1, 2, 3
EXIT_SIGINT, EXIT_SIGTERM = 130, 143

EPILOG = """\
Records go to <datasets-dir>/.fetch/<name>/records.jsonl as they arrive and progress to
state.json after every page; rerunning the same command resumes (no duplicate ncode).
When the target is reached (or the date range runs out) the records become dataset <name>
through the dataset importer (cleaning + train/validation/test split); --finalize does that
at any time with what has been fetched so far.

exit codes: 0 done, 1 network/API failure after retries, 2 bad options,
3 daily request/transfer budget reached (rerun tomorrow), 130/143 stopped by Ctrl-C/SIGTERM
(state saved; rerun to resume).
"""


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.replace("-", ",").split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 201,202, got {text!r}") from None


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    from core.fetch.config import API_MAX_LIM, API_MAX_ST, DEFAULT_API_URL, ORDERS

    p = subparsers.add_parser(
        "fetch", parents=[common], help="harvest (story, title) pairs from the Narou API",
        description="Harvest novels from the Narou novel API into a dataset, politely and "
        "resumably (slices the query by lastup windows to get past the API's 2,500-per-query "
        "reach).", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--name", required=True, help="dataset name (also names the harvest)")
    p.add_argument("--target", type=int_arg(1), default=100_000, help="records to keep (default 100000)")
    f = p.add_argument_group("filters")
    f.add_argument("--genre", type=_int_list, default=[], help="genre codes, e.g. 201,202")
    f.add_argument("--biggenre", type=_int_list, default=[], help="big-genre codes, e.g. 1,2")
    f.add_argument("--since", help="first last-update date, YYYY-MM-DD (JST)")
    f.add_argument("--until", help="last last-update date, YYYY-MM-DD (JST; default: now)")
    f.add_argument("--min-story-chars", type=int_arg(0), default=0, help="drop shorter synopses")
    f.add_argument("--exclude-keyword", action="append", default=[], metavar="WORD",
                   help="drop novels tagged WORD (repeatable)")
    f.add_argument("--order", choices=ORDERS, default="new",
                   help="API order inside each date window (default new; 'old' walks oldest first)")
    c = p.add_argument_group("client")
    c.add_argument("--api-url", default=DEFAULT_API_URL, help=f"API base URL (default {DEFAULT_API_URL})")
    c.add_argument("--delay", type=float_arg(0, 3600), default=1.0,
                   help="seconds between requests (default 1.0; ≥ 1 against the real API)")
    c.add_argument("--timeout", type=float_arg(0, 3600, lo_open=True), default=30.0, help="seconds per request (default 30)")
    c.add_argument("--retries", type=int_arg(0, 100), default=6, help="retries per request (default 6)")
    c.add_argument("--backoff", type=float_arg(0, 3600), default=2.0,
                   help="first retry backoff in seconds, doubled each retry (default 2)")
    c.add_argument("--lim", type=int_arg(1, API_MAX_LIM), default=API_MAX_LIM, help=f"page size (≤ {API_MAX_LIM})")
    c.add_argument("--max-st", type=int_arg(1, API_MAX_ST), default=API_MAX_ST,
                   help=f"highest st= the server accepts (default {API_MAX_ST}; lower only for test servers)")
    c.add_argument("--max-requests-per-day", type=int_arg(1), default=80_000,
                   help="daily request budget (default 80000, the documented limit)")
    c.add_argument("--max-mb-per-day", type=float_arg(0, 1e9, lo_open=True), default=400.0,
                   help="daily transfer budget in MB (default 400, the documented limit)")
    c.add_argument("--max-idle-pages", type=int_arg(1), default=500,
                   help="stop after this many pages in a row without a new record (default 500)")
    a = p.add_argument_group("actions")
    a.add_argument("--finalize", action="store_true",
                   help="import what has been fetched so far as the dataset, without fetching")
    a.add_argument("--no-import", action="store_true", help="only fetch; do not build the dataset")
    a.add_argument("--status", action="store_true", help="print the harvest's state and exit")
    a.add_argument("--progress-interval", type=float_arg(0, 86400), default=10.0,
                   help="seconds between progress lines when stderr is not a terminal")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace) -> Any:
    from core.fetch.config import (
        DEFAULT_API_URL,
        ClientOptions,
        HarvestOptions,
        QueryOptions,
        parse_date,
    )

    if args.api_url.rstrip("/") == DEFAULT_API_URL.rstrip("/") and args.delay < 1.0:
        raise CliError("--delay below 1 s is refused against the real API (be polite); "
                       "it is meant for mirrors and local test servers")
    _check_url(args.api_url)
    for flag, value, end in (("--since", args.since, False), ("--until", args.until, True)):
        if value:
            try:
                parse_date(value, end_of_day=end)
            except ValueError as exc:
                raise CliError(f"{flag}: {exc}") from None
    query = QueryOptions(
        genre=args.genre, biggenre=args.biggenre, since=args.since, until=args.until,
        min_story_chars=max(0, args.min_story_chars),
        exclude_keywords=[w.strip() for w in args.exclude_keyword if w.strip()], order=args.order,
    )
    client = ClientOptions(
        api_url=args.api_url, delay_s=args.delay, timeout_s=args.timeout or 30.0,
        retries=args.retries, backoff_base_s=args.backoff,
        backoff_cap_s=max(args.backoff, 120.0) if args.backoff else 0.0,
        max_requests_per_day=args.max_requests_per_day,
        max_bytes_per_day=int(args.max_mb_per_day * 1_000_000),
    )
    return HarvestOptions(args.name, args.target, args.lim, args.max_st, query, client,
                          max_idle_pages=args.max_idle_pages)


def _check_url(url: str) -> None:
    """An http(s) URL with a host (and a valid port, when one is given), else one line."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0  # .port raises on a bad one
    except ValueError as exc:
        raise CliError(f"--api-url {url!r:.200} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise CliError(f"--api-url must be an http(s) URL with a host, like "
                       f"https://api.syosetu.com/novelapi/api/, got {url!r:.200}")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise CliError(f"--api-url {url!r:.200} contains spaces or control characters")


def _install_stop_handlers(stop: threading.Event) -> Callable[[], int]:
    """SIGINT/SIGTERM set `stop` (the loop saves and exits); a second Ctrl-C aborts at once."""
    received: list[int] = []

    def handler(signum: int, _frame: Any) -> None:
        if signum == signal.SIGINT and received:
            raise KeyboardInterrupt
        received.append(signum)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return lambda: EXIT_SIGTERM if received and received[0] == signal.SIGTERM else EXIT_SIGINT


def run(args: argparse.Namespace, paths: Paths) -> int:
    from core.fetch.finalize import ImportUnavailable, import_harvest
    from core.fetch.harvester import BUDGET, FAILED, FINISHED, STOPPED, Harvester, HarvestError
    from core.fetch.progress import ProgressPrinter, format_progress
    from core.fetch.store import FetchLayout, read_state

    try:
        layout = FetchLayout.of(paths, args.name)
    except PathError as exc:
        raise CliError(str(exc)) from None
    if args.status:
        state, problem = read_state(layout.state)
        if problem is not None:
            kept = _count_lines(layout.records)
            raise CliError(f"harvest {args.name!r}: {layout.state} is damaged ({problem}); its "
                           f"{kept:,} fetched record line(s) in {layout.records.name} are intact. "
                           "Rerunning the same fetch command keeps them and starts the date "
                           "windows over; --finalize imports them now", EXIT_FAILED)
        if state is None:
            raise CliError(f"no harvest named {args.name!r} in {layout.folder.parent}")
        for key in ("status", "records", "target", "requests", "bytes", "retries", "message",
                    "dataset", "updated_at"):
            print(f"{key}: {state.get(key)}")
        return EXIT_OK
    if args.finalize:
        return _finalize(paths, args.name, import_harvest, ImportUnavailable)
    options = _options(args)
    stop = threading.Event()
    exit_code_for_signal = _install_stop_handlers(stop)
    printer = ProgressPrinter(sys.stderr, sys.stderr.isatty(), args.progress_interval)
    harvester = Harvester(paths, options, stop, on_progress=printer, on_retry=printer.retry,
                          on_notice=lambda text: print(f"narou-tui: warning: {text}", file=sys.stderr))
    try:
        result = harvester.run()
    except HarvestError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write the harvest in {layout.folder}: {exc}", EXIT_FAILED) from None
    if result.status == STOPPED:
        print(f"narou-tui: {result.message} ({result.records:,} records kept)", file=sys.stderr)
        return exit_code_for_signal()
    if result.status == BUDGET:
        print(f"narou-tui: {result.message}", file=sys.stderr)
        return EXIT_BUDGET
    if result.status == FAILED:
        raise CliError(f"{result.message} (state saved; rerun to resume)", EXIT_FAILED)
    assert result.status == FINISHED
    print(f"{result.message}: {format_progress(result)}", file=sys.stderr)
    if args.no_import:
        print(f"records kept in {layout.records} (--no-import)", file=sys.stderr)
        return EXIT_OK
    return _finalize(paths, args.name, import_harvest, ImportUnavailable)


def _count_lines(path: Any) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(1 for line in fh if line.strip())
    except OSError:
        return 0


def _finalize(paths: Paths, name: str, import_harvest: Any, unavailable: type[Exception]) -> int:
    try:
        summary = import_harvest(paths, name)
    except unavailable as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    print(summary, file=sys.stderr)
    return EXIT_OK
