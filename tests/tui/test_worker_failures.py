"""Every worker group of every pane, made to fail: the app keeps running, says what failed in
one notification, logs the traceback under the config folder, and the pane still answers keys.

Faults are injected by replacing the function each worker calls with one that raises (the
first `times` calls); everything else in the app runs for real.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TabbedContent, TextArea

from core.data.fields import Record
from core.data.store import fingerprint, write_dataset
from core.paths import Paths
from core.telemetry.nvml import GpuSample
from tests.fault_injection import Injected, inject
from tests.generation_tiny import fixed_vocab
from tests.synthetic_run import FakeRun
from tests.tui.gpu_doubles import NoGpu
from tests.until import until
from tui.app import LaunchOptions, NarouApp
from tui.workers import WORKER_LABELS

TEXTS = [
    "辺境の村で暮らす少年は、森の奥で声を持つ古い剣を拾った。",
    "異世界に転生した料理人は、魔王城の食堂で働くことになった。",
    "ギルドの受付嬢は、無理な依頼を持ち込む勇者を笑顔で追い返す。",
    "最下層で目を覚ましたスライムは、地上の光を目指して旅に出る。",
]
TITLES = ["声を持つ剣", "魔王城の食堂係", "受付嬢は断る", "スライム地上へ"]


class FlakyGpu:
    """NVML whose first sample fails the way a driver reset does, then reads one card."""

    available = True
    reason = ""
    calls = 0
    failure = "injected: NVML_ERROR_GPU_IS_LOST"

    def sample(self) -> list[GpuSample]:
        type(self).calls += 1
        if type(self).calls == 1:
            raise RuntimeError(self.failure)
        return [GpuSample(time.time(), 0, "NVIDIA H100 80GB HBM3", 50.0, 1000.0, 81559.0,
                          40.0, 100.0)]


Trigger = Callable[[Pilot[None], Any], Awaitable[None]]


async def _nothing(pilot: Pilot[None], screen: Any) -> None:
    """The worker starts by itself when the pane opens."""


def _keys(*keys: str) -> Trigger:
    async def press(pilot: Pilot[None], screen: Any) -> None:
        await pilot.press(*keys)

    return press


def _attached(*keys: str) -> Trigger:
    async def press(pilot: Pilot[None], screen: Any) -> None:
        await until(pilot, lambda: screen.app.run_watch is not None)
        await pilot.press(*keys)

    return press


async def _search(pilot: Pilot[None], screen: Any) -> None:
    await until(pilot, lambda: screen.records is not None)
    screen.query_one("#ds-search", Input).value = "剣"


async def _stats(pilot: Pilot[None], screen: Any) -> None:
    await until(pilot, lambda: screen.records is not None)
    await pilot.press("s")


async def _tokenizer_ready(pilot: Pilot[None], screen: Any) -> None:
    await until(pilot, lambda: screen.loaded is not None and screen.dataset is not None)


def _after_tokenizer(*keys: str) -> Trigger:
    async def run(pilot: Pilot[None], screen: Any) -> None:
        await _tokenizer_ready(pilot, screen)
        await pilot.press("escape", *keys)

    return run


def _fetch_name(*keys: str) -> Trigger:
    async def type_name(pilot: Pilot[None], screen: Any) -> None:
        name = screen.query_one("#f-name", Input)
        name.focus()
        name.value = "harvest"
        await pilot.press(*keys)

    return type_name


async def _generate(pilot: Pilot[None], screen: Any) -> None:
    screen.specs["A"] = "some-run"
    screen.query_one("#synopsis", TextArea).text = TEXTS[0]
    await pilot.press("ctrl+g")


async def _evaluate(pilot: Pilot[None], screen: Any) -> None:
    screen.specs["A"] = "some-run"
    await pilot.press("ctrl+e")


async def _export(pilot: Pilot[None], screen: Any) -> None:
    screen.start_export("some-run", screen.app.paths.config_dir / "export")


async def _compare(pilot: Pilot[None], screen: Any) -> None:
    screen.query_one("#view-compare").compare(["live", "other"])


async def _queue_move(pilot: Pilot[None], screen: Any) -> None:
    screen.query_one("#queue-list").change("some-run", 1)


@dataclass
class Case:
    """One worker group: where it lives, what to break, how to start it, what proves recovery."""

    group: str
    pane: str
    target: str
    error: BaseException
    trigger: Trigger = _nothing
    subject: str = ""
    times: int | None = None
    recovered: Callable[[NarouApp, Any, Injected], bool] | None = None
    options: dict[str, Any] = field(default_factory=dict)


CASES = [
    # The App's long-lived workers: one failed sample, then they go on.
    Case("run-tailer", "train", "tui.run_watch:read_status", PermissionError("injected: status"),
         subject="live", times=1,
         recovered=lambda app, s, inj: app.run_watch is not None
         and app.run_watch.history.n_train == 50),
    Case("gpu-sampler", "train", "", RuntimeError(FlakyGpu.failure), recovered=lambda app, s, inj: app.gpu_last is not None
         and app.gpu_last.available),
    # Dataset pane
    Case("dataset-list", "dataset", "core.data.browse:list_entries",
         PermissionError("injected: datasets folder")),
    Case("dataset-load", "dataset", "core.data.browse:open_records", OSError("injected: arrow"),
         subject="sample",
         recovered=lambda app, s, inj: s._loading is None and not s.query_one("RecordTable").loading),
    Case("dataset-search", "dataset", "core.data.browse:RecordSet.view",
         RuntimeError("injected: search"), _search,
         recovered=lambda app, s, inj: not s.searches.running),
    Case("dataset-stats", "dataset", "core.data.stats:compute_stats", MemoryError("injected"),
         _stats, recovered=lambda app, s, inj: not s.query_one("DatasetStatsView").loading),
    # Tokenizer pane
    Case("tok-load", "tokenizer", "core.tokenization.resolve:load_spec", OSError("injected: vocab"),
         subject="{vocab}", recovered=lambda app, s, inj: s.loaded is None),
    Case("tok-runs", "tokenizer", "core.runs.tokenizers:run_tokenizers",
         RuntimeError("injected: runs")),
    Case("tok-text", "tokenizer", "core.tokenization.analysis:breakdown",
         RuntimeError("injected: breakdown")),
    Case("tok-datasets", "tokenizer", "core.data.store:list_datasets",
         PermissionError("injected: datasets")),
    Case("tok-row", "tokenizer", "core.data.store:load_tables", OSError("injected: tables"),
         _after_tokenizer("ctrl+n")),
    Case("tok-corpus", "tokenizer", "core.tokenization.stats:corpus_stats",
         RuntimeError("injected: corpus"), _after_tokenizer("f6"),
         recovered=lambda app, s, inj: not s.busy_corpus),
    Case("tok-train", "tokenizer", "core.tokenization.scratch:train_wordpiece",
         OSError("injected: disk full"), _after_tokenizer("ctrl+b")),
    # Fetch screen (over the Dataset pane)
    Case("fetch-finalize", "fetch", "core.fetch.finalize:import_harvest",
         OSError("injected: finalizing"), _fetch_name("ctrl+b"), subject="harvest"),
    Case("fetch-poll", "fetch", "tui.screens.fetch:snapshot", PermissionError("injected: state"),
         _fetch_name("enter"), subject="harvest", times=1,
         recovered=lambda app, s, inj: inj.calls >= 2),
    # Generate pane
    Case("gen-load", "generate", "core.generation.service:GenerationService.load",
         RuntimeError("injected: corrupt checkpoint"), subject="some-run/checkpoint-5",
         options={"selected_checkpoint": "some-run/checkpoint-5"},
         recovered=lambda app, s, inj: s.specs["A"] is None),
    Case("gen-titles", "generate", "core.generation.service:GenerationService.load",
         RuntimeError("injected: generate"), _generate),
    Case("gen-row", "generate", "core.evaluation.data:load_split", OSError("injected: split"),
         _keys("ctrl+n")),
    Case("gen-eval", "generate", "core.evaluation.runner:run_eval", RuntimeError("injected: eval"),
         _evaluate, subject="some-run"),
    Case("gen-demo", "generate", "core.training.demo:start_demo", OSError("injected: demo"),
         _keys("f8"), recovered=lambda app, s, inj: s.demo_run is None),
    Case("gen-export", "generate", "core.export.folder:export_checkpoint",
         OSError("injected: export"), _export, subject="some-run"),
    # Train pane
    Case("run-list", "train", "tui.screens.train:list_runs", PermissionError("injected: runs")),
    Case("run-stop", "train", "core.training.stop:stop_run", OSError("injected: stop"),
         _attached("s"), subject="live"),
    Case("run-resume", "train", "core.training.launch:resume_run", OSError("injected: resume"),
         _attached("r"), subject="live"),
    Case("preflight", "train", "core.training.launch:preflight", RuntimeError("injected: check"),
         _keys("n", "f6")),
    Case("launch", "train", "core.training.launch:launch", OSError("injected: launch"),
         _keys("n", "ctrl+s")),
    Case("run-compare", "train", "tui.widgets.run_compare:compare", ValueError("injected: compare"),
         _compare),
    Case("queue", "train", "core.training.queue.store:move", OSError("injected: queue"),
         _queue_move, subject="some-run"),
]


async def _answers_keys(pilot: Pilot[None], app: NarouApp, screen: Any, pane: str) -> None:
    """A key still does what it says in the pane whose worker failed."""
    if pane == "dataset":
        before = screen.sort
        await pilot.press("escape", "o")
        assert screen.sort is not before
    elif pane == "tokenizer":
        tabs = screen.query_one("#tok-tabs", TabbedContent)
        await pilot.press("escape", "f4")
        assert tabs.active == "tab-corpus"
        await pilot.press("f3")
        assert tabs.active == "tab-dicts"
    elif pane == "fetch":
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is not screen)
    elif pane == "generate":
        area = screen.query_one("#synopsis", TextArea)
        area.focus()
        before = area.text
        await pilot.press("x")
        assert len(area.text) == len(before) + 1 and "x" in area.text
    else:
        await pilot.press("escape", "l")
        assert screen.view == "log"
        await pilot.press("c")
        assert screen.view == "charts"


@pytest.fixture(scope="module")
def vocab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fixed_vocab(TEXTS + TITLES, 300, tmp_path_factory.mktemp("vocab"))


def test_every_worker_group_has_a_case() -> None:
    assert sorted(c.group for c in CASES) == sorted(WORKER_LABELS)


def test_workers_start_only_through_background() -> None:
    """A worker started any other way could run with Textual's exit_on_error=True."""
    import re

    import tui
    from tui.workers import background

    root = Path(tui.__file__).parent
    for path in root.rglob("*.py"):
        if path.name == "workers.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\brun_worker\(|@work\b|exit_on_error", text), path
        for group in re.findall(r'@background\("([^"]+)"', text):
            assert group in WORKER_LABELS, (path, group)
    with pytest.raises(KeyError, match="no label"):
        background("unlabelled")


@pytest.mark.parametrize("case", CASES, ids=[c.group for c in CASES])
def test_worker_failure_keeps_app_and_pane(case: Case, paths: Paths, vocab: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(NarouApp, "RUN_POLL_S", 0.1)
    monkeypatch.setattr(NarouApp, "GPU_POLL_S", 0.1)
    FlakyGpu.calls = 0
    monkeypatch.setattr(NarouApp, "gpu_sampler_factory",
                        FlakyGpu if case.group == "gpu-sampler" else NoGpu)
    monkeypatch.setenv("NAROU_TUI_TOKENIZER", str(vocab))
    recs = [Record(t, s, f"N{i:04d}AA", "", 201, 2, f"test:{i}")
            for i, (s, t) in enumerate(zip(TEXTS, TITLES, strict=True))]
    splits = {"train": recs[:2], "validation": recs[2:3], "test": recs[3:]}
    write_dataset(paths, "sample", splits, {"name": "sample", "fingerprint": fingerprint(splits)})
    if case.pane == "train":
        FakeRun(paths.run("live"), total_steps=100).create().advance(50)
    asyncio.run(_drive(case, paths, vocab, monkeypatch))


async def _drive(case: Case, paths: Paths, vocab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    injected = Injected()
    if case.target:  # else it fails by itself (FlakyGpu)
        injected = inject(monkeypatch, case.target, case.error, case.times)
    pane = "dataset" if case.pane == "fetch" else case.pane
    app = NarouApp(paths, LaunchOptions(initial_pane=pane))
    for key, value in case.options.items():
        setattr(app, key, value)
    label = WORKER_LABELS[case.group].format(name=case.subject.format(vocab=vocab))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        if case.pane == "fetch":
            await pilot.press("f")
            await until(pilot, lambda: type(app.screen).__name__ == "FetchScreen")
        screen = app.screen
        await case.trigger(pilot, screen)
        await until(pilot, lambda: any(n.message.startswith(f"{label} failed: ")
                                        for n in app._notifications))
        shown = [n.message for n in app._notifications if n.message.startswith(label)]
        reason = str(case.error)
        assert reason in shown[0] and "\n" not in shown[0]
        assert str(app.failure_log) in shown[0]
        logged = app.failure_log.read_text(encoding="utf-8")
        assert f"[{case.group}] {label} failed: " in logged
        assert "Traceback (most recent call last)" in logged and reason in logged
        if case.recovered is not None:
            await until(pilot, lambda: case.recovered(app, screen, injected))  # type: ignore[misc]
        await _answers_keys(pilot, app, screen, case.pane)
        assert app.is_running and app.return_code is None
