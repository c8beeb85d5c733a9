"""The harvest loop: plan a page, fetch it, filter and deduplicate, append, save state, repeat."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import socket
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.durable import atomic_write_json, read_json_object, replace
from core.fetch.budget import BudgetExceeded, DailyBudget
from core.fetch.client import ApiClient, AttemptLog, FetchFailed, Stopped
from core.fetch.config import (
    NAROU_EPOCH,
    OF_FIELDS,
    RECORD_KEYS,
    HarvestOptions,
    QueryOptions,
    parse_date,
)
from core.fetch.planner import WindowPlanner
from core.fetch.store import (
    FetchLayout,
    RecordStore,
    budget_path,
    read_state,
)
from core.paths import Paths

STATE_VERSION = 1
# Final states of one run of the loop; "running" only while a process holds the lock.
FINISHED, STOPPED, BUDGET, FAILED, RUNNING = "finished", "stopped", "budget", "failed", "running"


class HarvestError(Exception):
    """A harvest that cannot start (busy, or options that contradict the saved harvest)."""


@dataclass
class Progress:
    """What a progress line shows, computed after every page."""

    name: str
    status: str
    records: int
    target: int
    requests: int
    bytes: int
    retries: int
    session_records: int
    session_requests: int
    session_s: float
    windows_done: int
    splits: int
    covered: float
    skipped: dict[str, int] = field(default_factory=dict)
    message: str = ""

    @property
    def rate(self) -> float:
        """Kept records per second in this run."""
        return self.session_records / self.session_s if self.session_s > 0 else 0.0

    @property
    def request_rate(self) -> float:
        return self.session_requests / self.session_s if self.session_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        left = self.target - self.records
        if left <= 0:
            return 0.0
        return left / self.rate if self.rate > 0 else None


def normalize_keyword(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold()


class RecordFilter:
    """Client-side filters the API cannot apply: synopsis length and excluded keywords."""

    def __init__(self, query: QueryOptions) -> None:
        self.min_story = query.min_story_chars
        self.excluded = {normalize_keyword(w) for w in query.exclude_keywords if w.strip()}

    def reason(self, rec: dict[str, Any]) -> str | None:
        """Why `rec` is dropped, or None to keep it."""
        story = rec.get("story")
        if self.min_story and len(str(story or "").strip()) < self.min_story:
            return "short_story"
        if self.excluded:
            words = {normalize_keyword(w) for w in str(rec.get("keyword") or "").split()}
            if words & self.excluded:
                return "excluded_keyword"
        return None


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


class Harvester:
    """Runs (or resumes) harvest `options.name` until the target, the end of the range, a stop
    request, the daily budget or a permanent failure. Safe to kill at any moment: records are
    appended before the state that points past them is saved, and known ncodes are skipped.
    """

    def __init__(
        self,
        paths: Paths,
        options: HarvestOptions,
        stop: threading.Event | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_retry: Callable[[AttemptLog], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.paths = paths
        self.options = options
        self.layout = FetchLayout.of(paths, options.name)
        self.stop = stop or threading.Event()
        self.on_progress = on_progress
        self.on_retry = on_retry
        self.on_notice = on_notice
        self.state: dict[str, Any] = {}

    # -- state -----------------------------------------------------------------------------
    def _new_state(self) -> dict[str, Any]:
        q = self.options.query
        lo = parse_date(q.since, end_of_day=False) if q.since else NAROU_EPOCH
        hi = parse_date(q.until, end_of_day=True) if q.until else int(time.time())
        if lo > hi:
            raise HarvestError(f"--since {q.since} is after --until {q.until or 'today'}")
        planner = WindowPlanner.start(
            lo, hi, q.order != "old", self.options.lim, self.options.max_st
        )
        now = _iso(time.time())
        return {
            "version": STATE_VERSION, "name": self.options.name, "query": q.to_dict(),
            "lim": self.options.lim, "max_st": self.options.max_st, "range": [lo, hi],
            "created_at": now, "records": 0, "requests": 0, "bytes": 0, "retries": 0,
            "active_s": 0.0, "skipped": {}, "planner": planner.to_dict(), "message": "",
            "dataset": None,
        }

    def _check_same(self, saved: dict[str, Any]) -> None:
        # Resuming with other filters would mix two different harvests in one file.
        mine = self.options.query.to_dict()
        theirs = QueryOptions.from_dict(saved.get("query") or {}).to_dict()
        diffs = [k for k in mine if mine[k] != theirs[k]]
        for key in ("lim", "max_st"):
            if saved.get(key) != getattr(self.options, key):
                diffs.append(key)
        if diffs:
            shown = ", ".join(f"{k}={theirs.get(k, saved.get(k))!r}" for k in diffs)
            raise HarvestError(
                f"harvest {self.options.name!r} in {self.layout.folder} was started with "
                f"different options ({shown}); rerun with those options to resume, or pick "
                f"another --name"
            )

    def save_state(self) -> None:
        self.state["updated_at"] = _iso(time.time())
        atomic_write_json(self.layout.state, self.state)

    # -- locking ---------------------------------------------------------------------------
    def _lock(self) -> Any:
        fh = open(self.layout.lock, "a+")  # noqa: SIM115 - held for the whole run
        deadline = time.monotonic() + 2.0  # a reader may hold it for an instant to probe
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fh
            except BlockingIOError:
                if time.monotonic() > deadline:
                    fh.close()
                    pid = (read_json_object(self.layout.state) or {}).get("pid")
                    raise HarvestError(
                        f"harvest {self.options.name!r} is already running"
                        + (f" (pid {pid})" if pid else "")
                        + f"; its files are in {self.layout.folder}"
                    ) from None
                time.sleep(0.05)

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> Progress:
        self.layout.folder.mkdir(parents=True, exist_ok=True)
        lock = self._lock()
        store: RecordStore | None = None
        try:
            saved, problem = read_state(self.layout.state)
            if saved is not None and saved.get("version") != STATE_VERSION:
                saved, problem = None, f"version {saved.get('version')!r}, not {STATE_VERSION}"
            store = RecordStore(self.layout.records)
            if saved is not None:
                self._check_same(saved)
                self.state = saved
            else:
                self.state = self._new_state()
                if problem is not None:
                    self._set_aside_damaged_state(problem, len(store))
            return self._loop(store)
        finally:
            if store is not None:
                store.close()
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()

    def _set_aside_damaged_state(self, problem: str, records: int) -> None:
        # The records are the harvest; the state is only a position in the date windows.
        # Keep the damaged file for inspection and walk the windows again: known ncodes are
        # skipped, so nothing is duplicated, only requests are spent again.
        kept = self.layout.state.with_name(f"state.json.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        replace(self.layout.state, kept)
        self.state["message"] = f"state.json was damaged ({problem}); kept as {kept.name}"
        if self.on_notice is not None:
            self.on_notice(
                f"{self.layout.state} was damaged ({problem}); set aside as {kept.name}. "
                f"Starting the date windows over: the {records:,} records already fetched are "
                "kept and not fetched twice"
            )

    def _loop(self, store: RecordStore) -> Progress:
        opts = self.options
        st = self.state
        planner = WindowPlanner.from_dict(st["planner"])
        budget = DailyBudget(
            budget_path(self.paths), opts.client.max_requests_per_day, opts.client.max_bytes_per_day
        )
        client = ApiClient(opts.client, budget, self.stop, on_retry=self._retry_hook)
        keep = RecordFilter(opts.query)
        skipped: dict[str, int] = dict(st.get("skipped") or {})
        base = {k: st[k] for k in ("requests", "bytes", "retries")}
        base_active = float(st.get("active_s", 0.0))
        t0 = time.monotonic()
        records_at_start = len(store)
        st.update(
            status=RUNNING, pid=os.getpid(), host=socket.gethostname(), target=opts.target,
            api_url=opts.client.api_url, delay_s=opts.client.delay_s,
            started_at=_iso(time.time()), records=len(store), message="",
            session={"records_at_start": records_at_start, "requests_at_start": base["requests"]},
        )
        self._client = client
        self._t0 = t0
        self._base = base
        self._base_active = base_active
        self._records_at_start = records_at_start
        self._planner = planner
        self._store = store
        self.save_state()
        status, message = RUNNING, ""
        params = {"of": OF_FIELDS, "order": opts.query.order}
        if opts.query.genre:
            params["genre"] = "-".join(str(g) for g in opts.query.genre)
        if opts.query.biggenre:
            params["biggenre"] = "-".join(str(g) for g in opts.query.biggenre)
        idle_pages = 0
        try:
            while True:
                if idle_pages >= opts.max_idle_pages:
                    status, message = FAILED, (
                        f"{idle_pages} pages in a row brought no new record (all duplicates or "
                        f"filtered out: {dict(sorted(skipped.items()))}); stopped so as not to "
                        "spend requests for nothing")
                    break
                if len(store) >= opts.target:
                    status, message = FINISHED, f"target of {opts.target:,} records reached"
                    break
                if planner.done:
                    status, message = FINISHED, "no more matching novels in the date range"
                    break
                if self.stop.is_set():
                    raise Stopped()
                req = planner.next_request()
                page = client.get_page(
                    {**params, "lastup": req.lastup, "lim": req.lim, "st": req.st}
                )
                fresh: list[dict[str, Any]] = []
                seen: set[str] = set()
                for rec in page.records:
                    code = rec["ncode"].upper()
                    if code in store or code in seen:
                        # Overlapping pages and re-fetched windows after a kill land here.
                        skipped["duplicate"] = skipped.get("duplicate", 0) + 1
                        continue
                    seen.add(code)
                    why = keep.reason(rec)
                    if why is not None:
                        skipped[why] = skipped.get(why, 0) + 1
                        continue
                    fresh.append({k: rec[k] for k in RECORD_KEYS if k in rec})
                idle_pages = 0 if fresh else idle_pages + 1
                room = opts.target - len(store)
                store.append(fresh[:room])
                if len(fresh) < room:
                    planner.on_page(page.allcount, len(page.records))
                # else the target ends inside this page: the planner stays on it, so a later
                # run with a higher target fetches it again and keeps the rest (dedup by ncode).
                st["skipped"] = skipped
                self._sync(RUNNING, "")
        except Stopped:
            status, message = STOPPED, "stopped on request; rerun the same command to resume"
        except BudgetExceeded as exc:
            status, message = BUDGET, str(exc)
        except FetchFailed as exc:
            status, message = FAILED, str(exc)
        except BaseException as exc:
            self._sync(FAILED, f"{type(exc).__name__}: {exc}")
            raise
        return self._sync(status, message)

    def _retry_hook(self, attempt: AttemptLog) -> None:
        self.state["retries"] = self._base["retries"] + self._client.retries
        self.state["message"] = f"retrying in {attempt.wait_s:.1f} s: {attempt.cause}"
        if self.on_retry is not None:
            self.on_retry(attempt)

    def _sync(self, status: str, message: str) -> Progress:
        st = self.state
        client, planner, store = self._client, self._planner, self._store
        session_s = time.monotonic() - self._t0
        st.update(
            status=status, message=message, records=len(store),
            requests=self._base["requests"] + client.requests,
            bytes=self._base["bytes"] + client.bytes,
            retries=self._base["retries"] + client.retries,
            active_s=round(self._base_active + session_s, 3),
            planner=planner.to_dict(),
        )
        if status != RUNNING:
            st["finished_at"] = _iso(time.time())
        self.save_state()
        progress = Progress(
            name=self.options.name, status=status, records=len(store), target=self.options.target,
            requests=st["requests"], bytes=st["bytes"], retries=st["retries"],
            session_records=len(store) - self._records_at_start,
            session_requests=client.requests, session_s=session_s,
            windows_done=planner.windows_done, splits=planner.splits,
            covered=planner.covered_fraction, skipped=dict(st.get("skipped") or {}),
            message=message,
        )
        if self.on_progress is not None:
            self.on_progress(progress)
        return progress

