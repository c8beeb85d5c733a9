"""Dataset pane at 100k rows: cold start, open, search keystroke, vs a naive DataTable baseline.

Generates a synthetic 100k-row dataset (Japanese-looking text, lognormal lengths close to real
Narou synopses/titles; HF save_to_disk layout + meta.json) in a temp folder, then measures,
all headless through `App.run_test()` at 120x40:

- start_s: cold start. A fresh `python -c` constructs NarouApp and runs it headless; the child
  stamps the wall clock once the Dataset screen is mounted and its first refresh has run
  (`call_after_refresh` from the screen's first idle); start_s = that stamp minus the time
  just before the child was spawned, so interpreter start-up and every import are included.
  bare_start_s is the same for a bare Textual App with one Static (the baseline).
- open_s: in-process, Enter on the dataset in the list until the table holds all rows and
  the next frame has been processed (memory-mapping, length arrays, first rows drawn).
- search_ms: one keystroke into an empty search box (a full scan of 100k titles + synopses)
  until the filtered index array is applied to the table and the frame processed; median over
  several different characters. narrow_ms: a second keystroke that extends the query.
- baseline_open_s / baseline_search_ms: a plain `DataTable` that `add_rows` all 100k rows
  (from the same memory-mapped tables), and a search that filters in Python and then
  `clear()` + `add_rows()` of the matches, timed the same way. One keystroke by default for
  the baseline: each takes seconds, and emptying the box again re-adds all rows (~30 s here).

    .venv/bin/python bench/dataset_pane.py [--rows 100000] [--keys 5] [--baseline-keys 1]

Last line: one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script: import `core` from this checkout (the repository root), not an install.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
REPO = _HERE.parent
sys.path.insert(0, str(REPO))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

SIZE = (120, 40)
NAME = "bench100k"
# Characters typed as single search keystrokes (each a full scan over every row).
KEYS = "魔竜姫剣恋塔海"

KANJI = ("異世界転生勇者魔王令嬢追放聖女剣魔法少年少女王国騎士冒険恋愛学園迷宮竜姫公爵婚約破棄"
         "最強辺境領地料理薬師錬金術帝国皇子神殿精霊森湖塔城町村海空星月夜朝")
HIRA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげござじずぜぞだでどばびぶべぼ"
KATA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワンガギグゲゴザジズゼゾダデドバビブベボー"


def synthetic_rows(n: int, seed: int = 0) -> dict[str, list[object]]:
    """Columns of n records; synopsis ~ lognormal(median ~150 chars), title ~ lognormal(~20)."""
    rng = np.random.default_rng(seed)
    kanji, hira, kata = list(KANJI), list(HIRA), list(KATA)
    words: list[str] = []
    for _ in range(4000):
        kind = rng.random()
        if kind < 0.45:
            words.append("".join(rng.choice(kanji, rng.integers(1, 4))))
        elif kind < 0.85:
            words.append("".join(rng.choice(hira, rng.integers(1, 5))))
        else:
            words.append("".join(rng.choice(kata, rng.integers(2, 6))))
    words += ["。", "、", "「", "」", "――", "\n"]
    vocab = np.array(words, dtype=object)
    story_words = np.clip(rng.lognormal(3.9, 0.55, n).astype(int), 5, 400)
    title_words = np.clip(rng.lognormal(2.0, 0.6, n).astype(int), 1, 40)
    total = int(story_words.sum())
    picks = vocab[rng.integers(0, len(vocab), total)]
    stories, pos = [], 0
    for k in story_words:
        stories.append("".join(picks[pos:pos + k]))
        pos += k
    tpicks = vocab[rng.integers(0, 4000, int(title_words.sum()))]
    titles, pos = [], 0
    for k in title_words:
        titles.append("".join(tpicks[pos:pos + k]))
        pos += k
    genres = rng.choice([101, 102, 201, 202, 302, 304, 307, 401, 403, 9801], n)
    kw = vocab[rng.integers(0, 4000, (n, 4))]
    return {
        "title": titles,
        "story": stories,
        "ncode": [f"N{i:06d}BX" for i in range(n)],
        "keyword": [" ".join(row) for row in kw],
        "genre": [int(g) for g in genres],
        "biggenre": [int(g) // 100 if g < 9000 else 98 for g in genres],
    }


def build_dataset(datasets_dir: Path, n: int) -> Path:
    """Write the save_to_disk layout + meta.json the dataset layer produces."""
    import datasets

    datasets.utils.disable_progress_bars()
    cols = synthetic_rows(n)
    cut1, cut2 = int(n * 0.9), int(n * 0.95)
    parts = {"train": slice(0, cut1), "validation": slice(cut1, cut2), "test": slice(cut2, n)}
    dd = datasets.DatasetDict({
        split: datasets.Dataset.from_dict({k: v[sl] for k, v in cols.items()})
        for split, sl in parts.items()
    })
    folder = datasets_dir / NAME
    dd.save_to_disk(str(folder))
    meta = {"name": NAME, "source": "bench/dataset_pane.py (synthetic)", "created": "bench",
            "counts": {s: len(dd[s]) for s in parts}, "cleaning": {}, "aliases": {},
            "fingerprint": f"synthetic-{n}", "skipped": []}
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


# ----------------------------------------------------------------------------- cold start

_CHILD = r"""
import asyncio, sys, time
from core.paths import Paths
{imports}
async def main():
    app = {construct}
    stamp = []
    async with app.run_test(size=(120, 40)) as pilot:
        while not stamp:
            screen = app.screen
            if {ready} and screen.is_mounted and not getattr(screen, "_bench_hooked", False):
                screen._bench_hooked = True
                screen.call_after_refresh(lambda: stamp.append(time.time()))
            await asyncio.sleep(0.001)
    print("READY", stamp[0])
asyncio.run(main())
"""


def cold_start(datasets_dir: Path, bare: bool) -> float:
    if bare:
        code = _CHILD.format(
            imports="from textual.app import App\nfrom textual.widgets import Static\n"
                    "class Bare(App):\n    def compose(self):\n        yield Static('hello')\n",
            construct="Bare()", ready="True")
    else:
        code = _CHILD.format(
            imports="from tui.app import NarouApp\n",
            construct="NarouApp(Paths.resolve())",
            ready="type(screen).__name__ == 'DatasetScreen'")
    env = dict(os.environ, NAROU_TUI_DATASETS_DIR=str(datasets_dir))
    start = time.time()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, env=env, timeout=120, check=True)
    ready = float(out.stdout.strip().splitlines()[-1].split()[1])
    return ready - start


# ----------------------------------------------------------------------------- the pane


async def _until(cond, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.0005)


async def _frame(widget) -> None:  # type: ignore[no-untyped-def]
    """Return once `widget` has been through the next refresh (its new content is drawn)."""
    drawn = asyncio.Event()
    widget.call_after_refresh(drawn.set)
    await drawn.wait()


async def bench_pane(datasets_dir: Path, n: int, keys: str) -> dict[str, float]:
    from textual.widgets import Input, OptionList

    from core.paths import Paths
    from tui.app import LaunchOptions, NarouApp
    from tui.widgets.record_table import RecordTable

    paths = Paths(datasets_dir, datasets_dir.parent / "ck", datasets_dir.parent / "cfg")
    app = NarouApp(paths, LaunchOptions(initial_pane="dataset"))
    out: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: type(app.screen).__name__ == "DatasetScreen"
                     and bool(app.screen.entries))
        await pilot.pause()
        screen = app.screen
        table = screen.query_one(RecordTable)
        screen.query_one(OptionList).focus()
        await pilot.pause()
        t0 = time.perf_counter()
        await pilot.press("enter")
        await _until(lambda: screen.records is not None and table.row_count == n)
        await _frame(table)
        out["open_s"] = time.perf_counter() - t0
        assert table.visible_indices(), "no rows drawn"

        box = screen.query_one("#ds-search", Input)
        box.focus()
        await pilot.pause()

        async def keystroke(key: str) -> float:
            # What a typed key does (Input.insert_text_at_cursor), without the Pilot's
            # wait-for-idle, then until the worker's result is applied and drawn.
            seq_before = screen.searches.seq
            t = time.perf_counter()
            box.insert_text_at_cursor(key)
            await _until(lambda: screen.searches.seq > seq_before and not screen.searches.running)
            await _frame(table)
            return (time.perf_counter() - t) * 1000

        full, narrow, shown, worker = [], [], [], []
        for key in keys:
            full.append(await keystroke(key))
            worker.append(screen.last_search_ms)
            shown.append(table.row_count)
            narrow.append(await keystroke(KEYS[(KEYS.index(key) + 1) % len(KEYS)]))
            box.value = ""  # back to all rows
            await _until(lambda: not screen.searches.running and table.row_count == n)
            await pilot.pause()
        out["search_ms"] = statistics.median(full)
        out["search_ms_max"] = max(full)
        out["search_worker_ms"] = statistics.median(worker)
        out["narrow_ms"] = statistics.median(narrow)
        out["search_matches"] = statistics.median(shown)
    return out


async def bench_baseline(datasets_dir: Path, n: int, keys: str) -> dict[str, float]:
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Input

    from core.data.store import load_tables
    from core.paths import Paths

    paths = Paths(datasets_dir, datasets_dir.parent / "ck", datasets_dir.parent / "cfg")

    class Naive(App[None]):
        def compose(self) -> ComposeResult:
            yield Input(id="q")
            yield DataTable(id="t")

        def load(self) -> None:
            rows = []
            for split, tbl in load_tables(paths, NAME).items():
                cols = tbl.select(["title", "story", "genre"]).to_pydict()
                for title, story, genre in zip(cols["title"], cols["story"], cols["genre"],
                                               strict=True):
                    rows.append((split, title, story[:40].replace("\n", " "), str(genre),
                                 len(story), len(title), story))
            self.rows = rows
            table = self.query_one(DataTable)
            table.add_columns("split", "title", "synopsis", "genre", "syn.ch", "ttl.ch")
            table.add_rows(r[:6] for r in rows)

        def on_input_changed(self, event: Input.Changed) -> None:
            q = event.value
            table = self.query_one(DataTable)
            table.clear()
            table.add_rows(r[:6] for r in self.rows if q in r[1] or q in r[6])
            self.searched = getattr(self, "searched", 0) + 1

    app = Naive()
    out: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(DataTable)
        await pilot.pause()
        t0 = time.perf_counter()
        app.load()
        await _frame(table)
        out["baseline_open_s"] = time.perf_counter() - t0
        assert table.row_count == n
        box = app.query_one(Input)
        box.focus()
        await pilot.pause()
        times = []
        for key in keys:
            before = getattr(app, "searched", 0)
            t = time.perf_counter()
            box.insert_text_at_cursor(key)
            await _until(lambda: getattr(app, "searched", 0) > before)  # noqa: B023
            await _frame(table)
            times.append((time.perf_counter() - t) * 1000)
            if len(times) < len(keys):  # resetting re-adds all rows: tens of seconds
                box.value = ""
                await _until(lambda: table.row_count == n)
                await pilot.pause()
        out["baseline_search_ms"] = statistics.median(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=5, help="search keystrokes timed (pane)")
    parser.add_argument("--baseline-keys", type=int, default=1,
                        help="search keystrokes timed (DataTable baseline)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="narou-bench-") as tmp:
        datasets_dir = Path(tmp) / "datasets"
        datasets_dir.mkdir()
        t = time.perf_counter()
        build_dataset(datasets_dir, args.rows)
        gen_s = time.perf_counter() - t
        print(f"generated {args.rows:,} rows in {gen_s:.1f} s", flush=True)

        start_s = statistics.median(cold_start(datasets_dir, bare=False) for _ in range(3))
        bare_s = statistics.median(cold_start(datasets_dir, bare=True) for _ in range(3))
        print(f"cold start {start_s:.2f} s (bare Textual app {bare_s:.2f} s)", flush=True)
        pane = asyncio.run(bench_pane(datasets_dir, args.rows, KEYS[:args.keys]))
        print(f"pane: open {pane['open_s']:.2f} s, search {pane['search_ms']:.0f} ms", flush=True)
        base = asyncio.run(bench_baseline(datasets_dir, args.rows, KEYS[:args.baseline_keys]))

    result = {
        "rows": args.rows,
        "start_s": round(start_s, 3),
        "bare_start_s": round(bare_s, 3),
        "open_s": round(pane["open_s"], 3),
        "search_ms": round(pane["search_ms"], 1),
        "search_ms_max": round(pane["search_ms_max"], 1),
        "narrow_ms": round(pane["narrow_ms"], 1),
        "search_worker_ms": round(pane["search_worker_ms"], 1),
        "search_matches_median": int(pane["search_matches"]),
        "baseline_open_s": round(base["baseline_open_s"], 3),
        "baseline_search_ms": round(base["baseline_search_ms"], 1),
        "open_speedup": round(base["baseline_open_s"] / pane["open_s"], 1),
        "search_speedup": round(base["baseline_search_ms"] / pane["search_ms"], 1),
        "cpu_count": os.cpu_count(),
    }
    rows = [
        ("cold start to first frame", f"{start_s:.2f} s", f"{bare_s:.2f} s (bare App)", "≤ 1.0 s"),
        ("open 100k dataset", f"{pane['open_s']:.2f} s", f"{base['baseline_open_s']:.2f} s",
         "≤ 1.5 s"),
        ("search keystroke (full scan)", f"{pane['search_ms']:.0f} ms",
         f"{base['baseline_search_ms']:.0f} ms", "≤ 150 ms"),
        ("search keystroke (narrowing)", f"{pane['narrow_ms']:.0f} ms", "—", ""),
        ("  of which the Arrow scan", f"{pane['search_worker_ms']:.0f} ms", "—", ""),
    ]
    print()
    print(f"{'':30} {'pane':>10} {'baseline':>24} {'goal':>9}")
    for label, a, b, goal in rows:
        print(f"{label:30} {a:>10} {b:>24} {goal:>9}")
    print(f"speed-ups: open ×{result['open_speedup']}, search ×{result['search_speedup']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
