"""Every subcommand, fed seeded bad arguments and damaged files, ends with one line and no harm.

The subcommands come from the argparse parser itself, so a new command is fuzzed as soon as
it is registered. Each case is asserted to: print no traceback, exit non-zero when the case
holds a value the command must refuse, leave a sentinel process (named as the live owner of
damaged runs) alive, and change no file outside the case's own output area.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.cli.main import build_parser
from core.paths import REPO_ROOT
from tests.core.cli_helpers import (
    damaged_statuses,
    foreign_owner_statuses,
    run_cli,
    tree_digest,
    write_status,
)

SEED = 20261130
CASES_PER_COMMAND = 10
# Commands that would open the interactive TUI given a real run: fuzzed with bad names only.
INTERACTIVE = {("attach",)}

BAD_NUMBERS = ["nan", "-nan", "inf", "-inf", "-1", "1e10", "99999999999999999999999", "", "1,5",
               "0x10", "½", "1e-400x", " ", "NaN", "-0.0e999"]
BAD_NAMES = ["../x", "..", ".", "", "a/b", "a" * 300, "é" * 130, "x\x00y", "-", "run\nid",
             "%s%s", "nope-does-not-exist"]
JUNK_WORDS = ["--no-such-flag", "\u202e", "🙂" * 50, "-" * 3, "a" * 5000]


@dataclass
class Sandbox:
    """The temporary world one fuzz session runs in."""

    root: Path
    datasets: Path
    checkpoints: Path
    config: Path
    inputs: Path
    outputs: Path
    sentinel: subprocess.Popen[bytes]

    def names(self) -> list[str]:
        runs = sorted(p.name for p in self.checkpoints.iterdir())
        return BAD_NAMES + runs + ["one", "empty-ds", "broken-ds", "bad-state"]

    def paths(self, output: bool) -> list[str]:
        # Outputs go to their own area, which may change; inputs must never change.
        if output:
            o = self.outputs
            return [str(o / "new.jsonl"), str(o / "made" / "deep" / "x"), str(o / "dir"),
                    str(o / "existing.jsonl"), str(self.inputs / "does-not-exist" / "x"), ""]
        i = self.inputs
        return [str(i / "missing.jsonl"), str(i), str(i / "bad.jsonl"), str(i / "binary.bin"),
                str(i / "empty.jsonl"), str(i / "list.json"), str(i / "huge-line.jsonl"),
                str(i / "run.toml"), "/dev/null", "/proc/self/status", "", str(i / ("n" * 300))]


def _make_sandbox(root: Path) -> Sandbox:
    sentinel = subprocess.Popen(["sleep", "600"])
    sb = Sandbox(root, root / "datasets", root / "checkpoints", root / "config", root / "inputs",
                 root / "outputs", sentinel)
    for d in (sb.datasets, sb.checkpoints, sb.config, sb.inputs, sb.outputs, sb.outputs / "dir"):
        d.mkdir(parents=True)
    (sb.outputs / "existing.jsonl").write_text("{}\n")
    i = sb.inputs
    (i / "bad.jsonl").write_text('{"story": 1}\n{not json\n[1]\n{"title": "t"}\n', encoding="utf-8")
    (i / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (i / "empty.jsonl").write_text("")
    (i / "list.json").write_text("[1, 2, 3]")
    (i / "huge-line.jsonl").write_text(json.dumps({"story": "長" * 200_000, "title": "t"}) + "\n",
                                       encoding="utf-8")
    (i / "one.jsonl").write_text(json.dumps({"story": "勇者が魔王を倒して村へ帰る物語。" * 3,
                                             "title": "帰還"}, ensure_ascii=False) + "\n")
    (i / "run.toml").write_text("lr = nan\nepochs = inf\nseed = -1\n")
    planted = {**damaged_statuses(sentinel.pid), **foreign_owner_statuses(sentinel.pid)}
    for run_id, content in planted.items():
        write_status(sb.checkpoints / run_id, content, raw=isinstance(content, str))
    _damaged_checkpoints(sb.checkpoints)
    _damaged_datasets(sb.datasets)
    return sb


def _damaged_checkpoints(root: Path) -> None:
    """Runs whose only checkpoint is complete-marked but cannot load, one way each."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [64], "data_offsets": [0, 256]}}).encode()
    truncated = len(header).to_bytes(8, "little") + header + b"\0" * 10
    for run_id, files in {
        "ck-truncated": {"model.safetensors": truncated, "config.json": b"{}", "vocab.txt": b"[PAD]\n"},
        "ck-bad-config": {"model.safetensors": truncated[:4], "config.json": b"{\"a\": ",
                          "vocab.txt": b"[PAD]\n"},
        "ck-no-vocab": {"model.safetensors": truncated, "config.json": b"{}"},
    }.items():
        ck = root / run_id / "checkpoint-2"
        ck.mkdir(parents=True)
        for name, data in files.items():
            (ck / name).write_bytes(data)
        (ck / "COMPLETE").write_text("")
        (root / run_id / "config.json").write_text(json.dumps(
            {"run_id": run_id, "train": {"dataset": "gone", "scratch": "tiny"},
             "paths": {"datasets_dir": "/nonexistent"}}))
        (root / run_id / "status.json").write_text(json.dumps({"state": "stopped", "step": 2}))


def _damaged_datasets(root: Path) -> None:
    """A dataset whose files are garbage, one with an empty split, and a damaged harvest."""
    broken = root / "broken-ds"
    broken.mkdir()
    (broken / "dataset_dict.json").write_text('{"splits": ["train"]}')
    (broken / "meta.json").write_text("[")
    (broken / "train").mkdir()
    (broken / "train" / "state.json").write_text('{"_data_files": [{"filename": "../../x"}]}')
    harvest = root / ".fetch" / "bad-state"
    harvest.mkdir(parents=True)
    (harvest / "state.json").write_text('{"version": 1, "records": ')
    (harvest / "records.jsonl").write_text('{"ncode": "N1", "title": "t", "story": "s"}\n{"torn')


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for name, sub in subs[0].choices.items():
        yield from _commands(sub, prefix + (name,))


def _is_numeric(action: argparse.Action) -> bool:
    return hasattr(action.type, "bounds")


def _value_pool(sb: Sandbox, action: argparse.Action) -> list[str]:
    dest = action.dest
    if _is_numeric(action):
        return BAD_NUMBERS
    if action.choices is not None:
        return ["", "none-of-these", "ＣＰＵ"]
    if dest in ("out", "output"):
        return sb.paths(output=True)
    if action.type is Path or dest in ("input", "path", "config", "references"):
        return sb.paths(output=False)
    if dest in ("datasets_dir", "checkpoints_dir"):
        return [str(sb.inputs / "bad.jsonl"), str(sb.outputs / "missing-dir")]
    return sb.names() + sb.paths(output=False) + JUNK_WORDS


# Positionals and options naming a run, dataset or checkpoint: a bad name there is refused.
NAMED = {"run", "name", "dataset", "checkpoint"}


def _accepted_number(action: argparse.Action) -> str:
    lo, hi = action.type.bounds  # type: ignore[union-attr]
    for candidate in (lo, 1, hi, 0.5):
        try:
            action.type(str(candidate))  # type: ignore[misc]
        except argparse.ArgumentTypeError:
            continue
        return str(candidate)
    raise AssertionError(f"no accepted value found for {action.option_strings}")


def _value(sb: Sandbox, rng: random.Random, action: argparse.Action, command: tuple[str, ...],
           numbers: bool) -> tuple[str, bool]:
    """A generated value for `action` and whether it alone makes the command refuse."""
    if _is_numeric(action) and numbers:
        return rng.choice(BAD_NUMBERS), True
    if _is_numeric(action):  # an accepted value: the case is about something else
        return _accepted_number(action), False
    if action.dest in NAMED or command in INTERACTIVE:
        name = rng.choice(BAD_NAMES if command in INTERACTIVE else sb.names())
        return name, name in BAD_NAMES
    return rng.choice(_value_pool(sb, action)), False


def _case(sb: Sandbox, rng: random.Random, command: tuple[str, ...],
          parser: argparse.ArgumentParser) -> tuple[list[str], bool]:
    """One argv for `command` and whether it must be refused.

    Cases mix three kinds: a refused number in some flag; names and paths only (bad names,
    damaged runs, checkpoints, datasets, odd files) so the command reaches those files; and
    a junk word argparse must refuse.
    """
    positionals = [a for a in parser._actions if not a.option_strings and a.dest != "help"]
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    kind = rng.choice(("number", "files", "files", "junk"))
    argv = list(command)
    if command[0] == "fetch":  # never the real API; a refused port fails at once
        argv += ["--api-url", "http://127.0.0.1:9/", "--retries", "0", "--delay", "0",
                 "--timeout", "2", "--max-idle-pages", "2"]
    must_fail = False
    for a in positionals:
        value, bad = _value(sb, rng, a, command, numbers=False)
        argv.append(value)
        must_fail |= bad and a.dest in NAMED
    required = [a for a in options if a.required]
    optional = [a for a in options if not a.required
                and (a.dest not in ("datasets_dir", "checkpoints_dir") or rng.random() < 0.1)]
    chosen = required + rng.sample(optional, k=min(len(optional), rng.randint(1, 3)))
    numeric = [a for a in chosen if _is_numeric(a) and a.nargs != 0]
    poisoned = rng.choice(numeric) if kind == "number" and numeric else None
    for a in chosen:
        if a.nargs == 0:
            argv.append(a.option_strings[0])
            continue
        value, bad = _value(sb, rng, a, command, numbers=a is poisoned)
        argv += [a.option_strings[-1], value]
        must_fail |= bad
    if kind == "junk" or (kind == "number" and poisoned is None):
        argv.append(rng.choice(JUNK_WORDS))
        must_fail = True
    return argv, must_fail


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = _make_sandbox(tmp_path_factory.mktemp("fuzz"))
    code, _, err = run_cli(["dataset", "import", str(sb.inputs / "one.jsonl"), "--name", "one",
                            "--min-story-chars", "1", "--datasets-dir", str(sb.datasets)])
    assert code == 0, err
    yield sb
    sb.sentinel.kill()
    sb.sentinel.wait()


@pytest.fixture(autouse=True)
def _sandbox_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAROU_TUI_DATASETS_DIR", str(sandbox.datasets))
    monkeypatch.setenv("NAROU_TUI_CHECKPOINTS_DIR", str(sandbox.checkpoints))
    monkeypatch.setenv("NAROU_TUI_CONFIG_DIR", str(sandbox.config))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(sandbox.outputs)


def test_every_numeric_flag_goes_through_the_number_parser() -> None:
    plain = [f"{' '.join(c)} {a.option_strings[-1]}" for c, p in _commands(build_parser())
             for a in p._actions if a.type in (int, float)]
    assert not plain, f"use core.cli.numbers for: {plain}"


def _commands_under_test() -> list[tuple[str, ...]]:
    return [c for c, _ in _commands(build_parser())]


@pytest.mark.parametrize("command", _commands_under_test(), ids=" ".join)
def test_fuzzed_command_ends_cleanly(sandbox: Sandbox, command: tuple[str, ...]) -> None:
    parser = dict(_commands(build_parser()))[command]
    rng = random.Random(f"{SEED}:{' '.join(command)}")
    protected = {d: tree_digest(d) for d in (sandbox.inputs, sandbox.checkpoints,
                                              REPO_ROOT / "datasets", REPO_ROOT / "checkpoints")}
    for _ in range(CASES_PER_COMMAND):
        argv, must_fail = _case(sandbox, rng, command, parser)
        code, _out, err = run_cli(argv)
        shown = f"narou-tui {argv!r:.400} → {code}: {err[-800:]}"
        assert "Traceback" not in err and "internal error" not in err, shown
        if must_fail:
            assert code != 0, shown
        if code != 0:
            assert err.strip(), shown  # a refusal says why
        assert sandbox.sentinel.poll() is None, f"sentinel signalled by {shown}"
        for folder, before in protected.items():
            assert tree_digest(folder) == before, f"{folder} changed by {shown}"


def test_a_real_process_prints_one_line(sandbox: Sandbox) -> None:
    """The same boundary holds outside pytest: a subprocess, its real stderr."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for argv in (["runs"], ["stop", "st-wrong-type"], ["stop", "st-reused-pid"],
                 ["stop", "--wait", "--grace", "1", "st-reused-pid-id"], ["stop", "st-other-host"],
                 ["train", "--dataset", "one", "--scratch", "tiny", "--lr", "nan"]):
        run = subprocess.run([sys.executable, "-m", "core.cli.main", *argv], env=env,
                             capture_output=True, text=True, timeout=120)
        assert "Traceback" not in run.stderr, (argv, run.stderr)
        if argv != ["runs"]:
            assert run.returncode != 0 and len(run.stderr.strip().splitlines()) == 1, (argv, run.stderr)
    assert sandbox.sentinel.poll() is None
