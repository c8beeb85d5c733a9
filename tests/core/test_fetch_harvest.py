"""Harvests against the API double: slicing to the target, filters, resume, SIGKILL, SIGTERM, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.durable import read_json_object
from core.fetch.config import ClientOptions, HarvestOptions, QueryOptions
from core.fetch.harvester import Harvester, HarvestError
from core.fetch.store import FetchLayout
from core.paths import REPO_ROOT, Paths
from tests.core.narou_api_double import Fault, NarouApiDouble, running_double

SIZE = 3000
# The double pages only to st=200 with lim ≤ 100 (reach 299) so slicing shows on 3,000 novels.
LIM, MAX_ST = 100, 200


@pytest.fixture
def api() -> Iterator[NarouApiDouble]:
    with running_double(SIZE, max_st=MAX_ST, max_lim=LIM) as double:
        yield double


def _options(api: NarouApiDouble, name: str = "h", target: int = 10**6, **query: object) -> HarvestOptions:
    client = ClientOptions(api_url=api.url, delay_s=0.0, timeout_s=0.5, retries=3,
                           backoff_base_s=0.01, backoff_cap_s=0.05)
    return HarvestOptions(name, target, LIM, MAX_ST, QueryOptions(**query), client)  # type: ignore[arg-type]


def _records(paths: Paths, name: str = "h") -> list[dict[str, object]]:
    text = FetchLayout.of(paths, name).records.read_text("utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _cli(paths: Paths, api: NarouApiDouble, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "core.cli.main", "--datasets-dir", str(paths.datasets_dir), "fetch",
        "--name", "k", "--api-url", api.url, "--lim", str(LIM), "--max-st", str(MAX_ST),
        "--retries", "2", "--backoff", "0.01", "--timeout", "2", *extra,
    ]


def test_harvest_reaches_the_whole_catalogue_through_slicing(paths: Paths, api: NarouApiDouble) -> None:
    result = Harvester(paths, _options(api)).run()
    recs = _records(paths)
    codes = [r["ncode"] for r in recs]
    assert len(codes) == len(set(codes)) == SIZE
    assert set(codes) == {n["ncode"] for n in api.catalogue}
    assert result.status == "finished" and result.splits > 0 and result.windows_done > SIZE // 299
    assert all(int(q["st"]) <= MAX_ST and int(q["lim"]) <= LIM for q in api.requests)
    assert set(recs[0]) == {"title", "ncode", "story", "keyword", "genre", "biggenre", "general_lastup"}
    state = read_json_object(FetchLayout.of(paths, "h").state)
    assert state and state["requests"] == len(api.requests) and state["records"] == SIZE


def test_target_stops_early_and_order_is_deterministic(paths: Paths, api: NarouApiDouble, tmp_path: Path) -> None:
    Harvester(paths, _options(api, target=1234)).run()
    other = Paths(tmp_path / "d2", tmp_path / "c2", tmp_path / "g2")
    Harvester(other, _options(api, target=1234)).run()
    first, second = _records(paths), _records(other)
    assert len(first) == 1234 and first == second
    lastups = [r["general_lastup"] for r in first]
    assert lastups[0] >= lastups[-1]  # newest windows first


def test_filters(paths: Paths, api: NarouApiDouble) -> None:
    opts = _options(api, genre=[201, 202], min_story_chars=30, exclude_keywords=["R15"], since="2020-01-01")
    result = Harvester(paths, opts).run()
    want = {
        n["ncode"] for n in api.catalogue
        if n["genre"] in (201, 202) and len(n["story"].strip()) >= 30
        and "R15" not in n["keyword"].split() and n["general_lastup"] >= "2020-01-01"
    }
    assert {r["ncode"] for r in _records(paths)} == want and want
    assert result.skipped["short_story"] > 0 and result.skipped["excluded_keyword"] > 0
    assert all(q["genre"] == "201-202" for q in api.requests)


def test_faults_during_a_harvest_are_retried(paths: Paths, api: NarouApiDouble) -> None:
    api.faults = {3: Fault("500"), 5: Fault("truncated_gzip"), 8: Fault("drop"), 9: Fault("invalid_json")}
    result = Harvester(paths, _options(api)).run()
    assert result.status == "finished" and result.retries == 4 and len(_records(paths)) == SIZE


def test_permanent_failure_is_reported_and_resumable(paths: Paths, api: NarouApiDouble) -> None:
    api.faults = {n: Fault("503") for n in range(6, 10)}
    result = Harvester(paths, _options(api)).run()
    assert result.status == "failed" and api.url in result.message and "HTTP 503" in result.message
    kept = len(_records(paths))
    assert 0 < kept < SIZE
    assert Harvester(paths, _options(api)).run().status == "finished"
    codes = [r["ncode"] for r in _records(paths)]
    assert len(codes) == len(set(codes)) == SIZE


def test_resume_refuses_other_filters(paths: Paths, api: NarouApiDouble) -> None:
    Harvester(paths, _options(api, target=300)).run()
    with pytest.raises(HarvestError, match="different options.*genre"):
        Harvester(paths, _options(api, target=300, genre=[101])).run()


def test_torn_last_line_is_cut_and_refetched(paths: Paths, api: NarouApiDouble) -> None:
    Harvester(paths, _options(api, target=500)).run()
    records = FetchLayout.of(paths, "h").records
    data = records.read_bytes()
    records.write_bytes(data[: len(data) - 40])  # a kill in the middle of the last line
    Harvester(paths, _options(api, target=SIZE)).run()
    codes = [r["ncode"] for r in _records(paths)]
    assert len(codes) == len(set(codes)) == SIZE


def test_sigkill_mid_run_then_rerun_gives_exactly_the_catalogue(paths: Paths, api: NarouApiDouble) -> None:
    layout = FetchLayout.of(paths, "k")
    cmd = _cli(paths, api, "--delay", "0.03", "--no-import")
    for kill_at in (700, 1900):  # two kills at different points
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if layout.records.exists() and layout.records.read_bytes().count(b"\n") >= kill_at:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        state = read_json_object(layout.state)
        assert state is not None and state["status"] == "running"  # died without a word
        assert len(_records(paths, "k")) < SIZE
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    codes = [r["ncode"] for r in _records(paths, "k")]
    assert len(codes) == len(set(codes)) == SIZE
    assert set(codes) == {n["ncode"] for n in api.catalogue}


def test_sigterm_saves_state_and_exits_cleanly(paths: Paths, api: NarouApiDouble) -> None:
    layout = FetchLayout.of(paths, "k")
    proc = subprocess.Popen(_cli(paths, api, "--delay", "0.2"), cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not layout.records.exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "stopped on request" in err
    state = read_json_object(layout.state)
    assert state and state["status"] == "stopped" and state["records"] == len(_records(paths, "k"))


def test_cli_finalize_status_and_errors(paths: Paths, api: NarouApiDouble) -> None:
    run = subprocess.run(_cli(paths, api, "--delay", "0", "--target", "600"), cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "target of 600 records reached" in run.stderr and "dataset 'k' built from 600" in run.stderr
    meta = json.loads((paths.dataset("k") / "meta.json").read_text("utf-8"))
    assert sum(meta["counts"].values()) > 0
    # More records later: the dataset built from this harvest is replaced, not refused.
    run = subprocess.run(_cli(paths, api, "--delay", "0", "--target", "900"), cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "built from 900" in run.stderr, run.stderr
    status = subprocess.run(_cli(paths, api, "--status"), cwd=REPO_ROOT, capture_output=True, text=True)
    assert "records: 900" in status.stdout and "dataset: k" in status.stdout
    for extra, message in [
        (("--since", "2020-13-01"), "--since: invalid date"),
        (("--lim", "501"), "argument --lim: must be from 1 to 500"),
        (("--genre", "101", "--target", "10"), "different options"),
    ]:
        bad = subprocess.run(_cli(paths, api, *extra), cwd=REPO_ROOT, capture_output=True, text=True)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    polite = subprocess.run(
        [sys.executable, "-m", "core.cli.main", "fetch", "--name", "z", "--delay", "0.2"],
        cwd=REPO_ROOT, capture_output=True, text=True, env={**os.environ, "NAROU_TUI_DATASETS_DIR": str(paths.datasets_dir)},
    )
    assert polite.returncode == 2 and "refused against the real API" in polite.stderr


def test_budget_exhaustion_exits_3_and_resumes(paths: Paths, api: NarouApiDouble) -> None:
    run = subprocess.run(_cli(paths, api, "--delay", "0", "--max-requests-per-day", "4", "--no-import"),
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 3 and "daily request budget reached" in run.stderr, run.stderr
    assert len(api.requests) == 4


def test_damaged_state_is_said_and_the_records_are_kept(paths: Paths, api: NarouApiDouble) -> None:
    from tests.core.cli_helpers import run_cli

    Harvester(paths, _options(api, target=300)).run()
    layout = FetchLayout.of(paths, "h")
    kept = layout.records.read_bytes()
    layout.state.write_text('{"version": 1, "records": ')  # a disk that lost the tail
    code, _out, err = run_cli(["--datasets-dir", str(paths.datasets_dir), "fetch", "--name", "h", "--status"])
    assert code == 1
    assert err.startswith(f"narou-tui: harvest 'h': {layout.state} is damaged (not valid JSON: ")
    assert err.endswith("its 300 fetched record line(s) in records.jsonl are intact. Rerunning the same "
                        "fetch command keeps them and starts the date windows over; --finalize "
                        "imports them now\n")
    notices: list[str] = []
    result = Harvester(paths, _options(api, target=600), on_notice=notices.append).run()
    assert len(notices) == 1 and "was damaged (not valid JSON" in notices[0]
    assert notices[0].endswith("Starting the date windows over: the 300 records already fetched are "
                               "kept and not fetched twice")
    assert layout.records.read_bytes().startswith(kept)  # appended to, never rewritten
    codes = [r["ncode"] for r in _records(paths)]
    assert result.status == "finished" and len(codes) == len(set(codes)) == 600
    assert [p.name for p in layout.folder.glob("state.json.damaged-*")]  # kept for inspection


def test_pages_without_new_records_stop_the_harvest(paths: Paths, api: NarouApiDouble) -> None:
    opts = _options(api, min_story_chars=10**6)  # every novel is filtered out
    opts = HarvestOptions(opts.name, opts.target, opts.lim, opts.max_st, opts.query, opts.client,
                          max_idle_pages=4)
    result = Harvester(paths, opts).run()
    assert result.status == "failed" and len(api.requests) == 4
    assert result.message.startswith("4 pages in a row brought no new record (all duplicates or "
                                     "filtered out: {'short_story': 400}); stopped")


@pytest.mark.parametrize(("url", "message"), [
    ("http://[::1", "narou-tui: --api-url 'http://[::1' is not a valid URL (Invalid IPv6 URL)"),
    ("http://", "narou-tui: --api-url must be an http(s) URL with a host, like "
                "https://api.syosetu.com/novelapi/api/, got 'http://'"),
    ("http://h:99999/", "narou-tui: --api-url 'http://h:99999/' is not a valid URL (Port out of range 0-65535)"),
    ("http://a b/", "narou-tui: --api-url 'http://a b/' contains spaces or control characters"),
])
def test_invalid_urls_are_one_line(paths: Paths, url: str, message: str) -> None:
    from tests.core.cli_helpers import run_cli

    code, _out, err = run_cli(["fetch", "--name", "u", "--api-url", url, "--delay", "0"])
    assert code == 2 and err == message + "\n"
