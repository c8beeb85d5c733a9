"""Settings of a Narou API harvest: the API's limits, the client's manners and the query filters."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_API_URL = "https://api.syosetu.com/novelapi/api/"
# Documented by the API manual: one query pages through at most st=2000 with lim=500.
API_MAX_LIM = 500
API_MAX_ST = 2000
# Documented daily limits per IP (currently suspended by the operator, may return).
DAILY_MAX_REQUESTS = 80_000
DAILY_MAX_BYTES = 400 * 1024 * 1024
# Fields requested with `of=`; the API answers with these keys, which the dataset loader reads.
OF_FIELDS = "t-n-s-k-bg-g-gl"
RECORD_KEYS = ("title", "ncode", "story", "keyword", "genre", "biggenre", "general_lastup")
# `order=` values the API documents; the harvester passes the chosen one through per window.
ORDERS = (
    "new", "old", "ncodedesc", "favnovelcnt", "reviewcnt", "hyoka", "hyokaasc", "dailypoint",
    "weeklypoint", "monthlypoint", "quarterpoint", "yearlypoint", "impressioncnt", "hyokacnt",
    "hyokacntasc", "weekly", "lengthdesc", "lengthasc", "generalfirstup",
)
JST = dt.timezone(dt.timedelta(hours=9), "JST")
# Narou opened in April 2004: nothing was last updated before that.
NAROU_EPOCH = int(dt.datetime(2004, 4, 1, tzinfo=JST).timestamp())


def tool_version() -> str:
    """The installed narou-tui version ("dev" when running from a bare checkout)."""
    try:
        from importlib.metadata import version

        return version("narou-tui")
    except Exception:
        return "dev"


def user_agent() -> str:
    """Names the tool and its version so the API operator can tell who is calling."""
    return f"narou-tui/{tool_version()} (title-generator dataset harvester; Python urllib)"


@dataclass
class ClientOptions:
    """How the HTTP client behaves.

    api_url: base URL of the novel API (a mirror or a local test server works too).
    delay_s: politeness gap between the starts of two requests (community practice ≥ 1 s).
    timeout_s: socket timeout of one request (connect and each read).
    retries: attempts after the first one for a retryable failure.
    backoff_base_s: first backoff; doubles each retry, full jitter, capped at backoff_cap_s.
    backoff_cap_s: longest backoff between two attempts.
    max_retry_after_s: a server's Retry-After is honoured up to this many seconds.
    gzip_level: the API's `gzip=` level (1–5; 0 asks for a plain body).
    max_requests_per_day: request budget per JST day, counted across runs and fetches.
    max_bytes_per_day: transfer budget (bytes received) per JST day.
    """

    api_url: str = DEFAULT_API_URL
    delay_s: float = 1.0
    timeout_s: float = 30.0
    retries: int = 6
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 120.0
    max_retry_after_s: float = 600.0
    gzip_level: int = 5
    max_requests_per_day: int = DAILY_MAX_REQUESTS
    max_bytes_per_day: int = DAILY_MAX_BYTES


@dataclass
class QueryOptions:
    """What to harvest. Changing any of these makes a different harvest (resume refuses).

    genre: API `genre=` values (e.g. [201, 202]); empty means all.
    biggenre: API `biggenre=` values; empty means all.
    since: first JST date (YYYY-MM-DD) of `general_lastup` to include; None = Narou's opening.
    until: last JST date to include; None = the moment the harvest first started.
    min_story_chars: drop novels whose synopsis is shorter (after trimming whitespace).
    exclude_keywords: drop novels whose `keyword` list contains any of these words.
    order: API `order=` used inside each lastup window; windows go newest first, or oldest
        first when order is "old".
    """

    genre: list[int] = field(default_factory=list)
    biggenre: list[int] = field(default_factory=list)
    since: str | None = None
    until: str | None = None
    min_story_chars: int = 0
    exclude_keywords: list[str] = field(default_factory=list)
    order: str = "new"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueryOptions:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class HarvestOptions:
    """One harvest: where it goes, how big, what, and how politely.

    name: dataset name; the harvest lives in `<datasets_dir>/.fetch/<name>/` until imported.
    target: stop after this many kept records (the query may run out first).
    lim: page size (≤ 500).
    max_st: highest `st=` the API accepts (2000; lowered only to test slicing quickly).
    query: filters and order.
    client: HTTP manners.
    max_idle_pages: stop after this many pages in a row that bring no new record (all
        duplicates or filtered out): the harvest is spending requests for nothing.
    """

    name: str
    target: int = 100_000
    lim: int = API_MAX_LIM
    max_st: int = API_MAX_ST
    query: QueryOptions = field(default_factory=QueryOptions)
    client: ClientOptions = field(default_factory=ClientOptions)
    max_idle_pages: int = 500


def parse_date(text: str, *, end_of_day: bool) -> int:
    """A JST calendar date as unix seconds (start of day, or its last second)."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"invalid date {text!r}: use YYYY-MM-DD") from exc
    moment = dt.datetime(day.year, day.month, day.day, tzinfo=JST)
    if end_of_day:
        moment += dt.timedelta(days=1, seconds=-1)
    return int(moment.timestamp())
