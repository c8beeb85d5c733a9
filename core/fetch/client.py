"""HTTP client for the novel API: politeness delay, timeouts, retries, gzip, daily budget."""

from __future__ import annotations

import http.client
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.fetch.budget import BudgetExceeded, DailyBudget
from core.fetch.config import ClientOptions, user_agent
from core.fetch.retry import backoff_delay, is_retryable_status, parse_retry_after
from core.fetch.wire import ApiPage, WireError, parse_page

__all__ = ["ApiClient", "BudgetExceeded", "FetchFailed", "Stopped", "AttemptLog"]


class FetchFailed(Exception):
    """A request failed for good (retries spent, or an error retrying cannot fix)."""


class Stopped(Exception):
    """The stop event was set while the client was waiting (SIGTERM/SIGINT or Cancel)."""


@dataclass
class AttemptLog:
    """One failed attempt, for progress output and tests: what, and how long we waited after."""

    url: str
    cause: str
    wait_s: float


class _Retry(Exception):
    def __init__(self, cause: str, retry_after: float | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.retry_after = retry_after


class ApiClient:
    """Fetches and decodes one page at a time, never faster than `delay_s` between requests.

    Sleeps wait on `stop` so a stop request interrupts them at once. Every request that
    reached the network counts against the daily budget, retries included.
    """

    def __init__(
        self,
        options: ClientOptions,
        budget: DailyBudget | None = None,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
        on_retry: Callable[[AttemptLog], None] | None = None,
    ) -> None:
        self.options = options
        self.budget = budget
        self.stop = stop or threading.Event()
        self.rng = rng or random.Random()
        self.on_retry = on_retry
        self.requests = 0
        self.bytes = 0
        self.retries = 0
        self._last_start: float | None = None
        self._avg_bytes = 0.0
        self._ua = user_agent()

    def url_for(self, params: Mapping[str, object]) -> str:
        query = {"out": "json", **({"gzip": self.options.gzip_level} if self.options.gzip_level else {})}
        query.update({k: v for k, v in params.items() if v is not None})
        return self.options.api_url + ("&" if "?" in self.options.api_url else "?") + (
            urllib.parse.urlencode(query, safe="-")
        )

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self.stop.wait(seconds):
            raise Stopped()
        if self.stop.is_set():
            raise Stopped()

    def _polite_wait(self) -> None:
        if self._last_start is not None:
            self._sleep(self._last_start + self.options.delay_s - time.monotonic())
        elif self.stop.is_set():
            raise Stopped()

    def get_page(self, params: Mapping[str, object]) -> ApiPage:
        """GET one page; retry transient faults with backoff; raise FetchFailed at the end."""
        url = self.url_for(params)
        attempts = self.options.retries + 1
        last = ""
        for attempt in range(1, attempts + 1):
            self._polite_wait()
            if self.budget is not None:
                self.budget.check(int(self._avg_bytes))
            try:
                return self._once(url)
            except _Retry as exc:
                last = exc.cause
                if attempt == attempts:
                    break
                wait = backoff_delay(
                    attempt, self.options.backoff_base_s, self.options.backoff_cap_s, self.rng
                )
                if exc.retry_after is not None:
                    wait = max(wait, min(exc.retry_after, self.options.max_retry_after_s))
                self.retries += 1
                if self.on_retry is not None:
                    self.on_retry(AttemptLog(url, exc.cause, wait))
                self._sleep(wait)
        raise FetchFailed(f"giving up on {url} after {attempts} attempts: {last}")

    def _count(self, nbytes: int, reached: bool = True) -> None:
        self.requests += 1
        self.bytes += nbytes
        if nbytes:
            self._avg_bytes = nbytes if not self._avg_bytes else 0.8 * self._avg_bytes + 0.2 * nbytes
        # A name-resolution or refused connection never reached the API: not in its budget.
        if self.budget is not None and reached:
            self.budget.add(1, nbytes)

    def _once(self, url: str) -> ApiPage:
        self._last_start = time.monotonic()
        req = urllib.request.Request(
            url, headers={"User-Agent": self._ua, "Accept-Encoding": "gzip"}, method="GET"
        )
        body = b""
        try:
            with urllib.request.urlopen(req, timeout=self.options.timeout_s) as resp:
                body = resp.read()
                encoding = resp.headers.get("Content-Encoding", "")
        except urllib.error.HTTPError as exc:
            payload = _read_quietly(exc)
            self._count(len(payload))
            detail = payload[:200].decode("utf-8", "replace").strip()
            cause = f"HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail else "")
            if is_retryable_status(exc.code):
                raise _Retry(cause, parse_retry_after(exc.headers.get("Retry-After"))) from exc
            raise FetchFailed(f"{url} refused the request: {cause}") from exc
        except TimeoutError as exc:
            self._count(0)
            raise _Retry(f"timed out after {self.options.timeout_s:g} s") from exc
        except http.client.IncompleteRead as exc:
            self._count(len(exc.partial))
            raise _Retry(
                f"connection closed mid-body ({len(exc.partial)} bytes, "
                f"{exc.expected} more expected)"
            ) from exc
        except (ConnectionError, http.client.HTTPException) as exc:
            self._count(0, reached=not isinstance(exc, ConnectionRefusedError))
            raise _Retry(f"connection failed: {type(exc).__name__}: {exc}") from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            self._count(0, reached=not isinstance(reason, socket.gaierror | ConnectionRefusedError))
            if isinstance(reason, TimeoutError):
                raise _Retry(f"timed out after {self.options.timeout_s:g} s") from exc
            raise _Retry(f"connection failed: {reason}") from exc
        self._count(len(body))
        if "gzip" in encoding.lower() and not body.startswith(b"\x1f\x8b"):
            raise _Retry("Content-Encoding says gzip but the body is not gzip")
        try:
            return parse_page(body)
        except WireError as exc:
            if not exc.retryable:
                raise FetchFailed(f"{url}: {exc}") from exc
            raise _Retry(str(exc)) from exc


def _read_quietly(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read() or b""
    except (OSError, http.client.HTTPException):
        return b""
