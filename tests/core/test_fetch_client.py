"""The HTTP client against the API double: every injected fault is retried or reported."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.fetch.budget import BudgetExceeded, DailyBudget
from core.fetch.client import ApiClient, AttemptLog, FetchFailed
from core.fetch.config import ClientOptions
from tests.core.narou_api_double import Fault, NarouApiDouble, running_double

PARAMS = {"of": "t-n-s-k-bg-g-gl", "lim": 50, "st": 1, "order": "new"}


@pytest.fixture
def api() -> Iterator[NarouApiDouble]:
    with running_double(300) as double:
        yield double


def _client(api: NarouApiDouble, log: list[AttemptLog] | None = None, **kw: object) -> ApiClient:
    opts = ClientOptions(api_url=api.url, delay_s=0.0, timeout_s=0.5, retries=3,
                         backoff_base_s=0.01, backoff_cap_s=0.05)
    for k, v in kw.items():
        setattr(opts, k, v)
    return ApiClient(opts, on_retry=(log.append if log is not None else None))


def test_page_user_agent_and_gzip(api: NarouApiDouble) -> None:
    page = _client(api).get_page(PARAMS)
    assert page.allcount == 300 and len(page.records) == 50
    assert set(page.records[0]) == {"title", "ncode", "story", "keyword", "biggenre", "genre", "general_lastup"}
    assert api.user_agents[0].startswith("narou-tui/")
    assert api.requests[0]["gzip"] == "5" and api.requests[0]["out"] == "json"


@pytest.mark.parametrize(
    "fault, cause",
    [
        (Fault("timeout", seconds=1.0), "timed out"),
        (Fault("500"), "HTTP 500"),
        (Fault("503", retry_after="0"), "HTTP 503"),
        (Fault("429", retry_after="0"), "HTTP 429"),
        (Fault("drop"), "mid-body"),
        (Fault("reset"), "connection failed"),
        (Fault("truncated_gzip"), "gzip stream ends early"),
        (Fault("invalid_json"), "not JSON"),
    ],
)
def test_each_fault_is_retried(api: NarouApiDouble, fault: Fault, cause: str) -> None:
    api.faults = {1: fault, 2: fault}
    log: list[AttemptLog] = []
    page = _client(api, log).get_page(PARAMS)
    assert len(page.records) == 50 and len(api.requests) == 3
    assert [cause in a.cause for a in log] == [True, True], [a.cause for a in log]


def test_retry_after_is_honoured(api: NarouApiDouble) -> None:
    api.faults = {1: Fault("429", retry_after="1")}
    log: list[AttemptLog] = []
    t0 = time.monotonic()
    _client(api, log).get_page(PARAMS)
    assert log[0].wait_s >= 1.0 and time.monotonic() - t0 >= 1.0


def test_last_retry_gives_a_clear_error(api: NarouApiDouble) -> None:
    api.faults = {n: Fault("503") for n in range(1, 10)}
    with pytest.raises(FetchFailed) as info:
        _client(api, retries=2).get_page(PARAMS)
    msg = str(info.value)
    assert api.url in msg and "after 3 attempts" in msg and "HTTP 503" in msg
    assert len(api.requests) == 3


@pytest.mark.parametrize("param, value, message", [("st", 2001, "st must"), ("lim", 501, "lim must")])
def test_real_paging_limits_are_refused_without_retry(api: NarouApiDouble, param: str, value: int, message: str) -> None:
    with pytest.raises(FetchFailed, match=message):
        _client(api).get_page({**PARAMS, param: value})
    assert len(api.requests) == 1  # a request error is not retried
    # The highest legal values work.
    assert _client(api).get_page({**PARAMS, "st": 2000, "lim": 500}).allcount == 300


def test_politeness_delay_spaces_requests(api: NarouApiDouble) -> None:
    client = _client(api, delay_s=0.3)
    t0 = time.monotonic()
    for _ in range(3):
        client.get_page(PARAMS)
    assert time.monotonic() - t0 >= 0.6


def test_budget_stops_before_the_limit_and_persists(api: NarouApiDouble, tmp_path: Path) -> None:
    budget = DailyBudget(tmp_path / "budget.json", max_requests=3, max_bytes=10**9)
    client = ApiClient(ClientOptions(api_url=api.url, delay_s=0), budget)
    client.get_page(PARAMS)
    client.get_page(PARAMS)
    # A new client (a restart) sees the same counter.
    again = ApiClient(ClientOptions(api_url=api.url, delay_s=0), budget)
    again.get_page(PARAMS)
    with pytest.raises(BudgetExceeded, match="3 of 3 requests"):
        again.get_page(PARAMS)
    assert len(api.requests) == 3 and budget.used()["requests"] == 3
    small = DailyBudget(tmp_path / "b2.json", max_requests=100, max_bytes=100)
    c2 = ApiClient(ClientOptions(api_url=api.url, delay_s=0), small)
    c2.get_page(PARAMS)  # the first one is allowed (size unknown), then bytes are over
    with pytest.raises(BudgetExceeded, match="transfer budget"):
        c2.get_page(PARAMS)


def test_unreachable_server_is_reported_and_not_billed(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    budget = DailyBudget(tmp_path / "budget.json", max_requests=10, max_bytes=10**9)
    opts = ClientOptions(api_url=f"http://127.0.0.1:{port}/novelapi/api/", delay_s=0, retries=1,
                         backoff_base_s=0.01, backoff_cap_s=0.02)
    with pytest.raises(FetchFailed, match=rf"127.0.0.1:{port}.*after 2 attempts: connection failed"):
        ApiClient(opts, budget).get_page(PARAMS)
    assert budget.used()["requests"] == 0
