"""`narou-tui export`: a trained tiny checkpoint as a plain Hugging Face folder, its model card,
the refusals that keep runs and folders intact, and a hub push that fails fast offline."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from core.paths import Paths
from core.runs.schema import COMPLETE_MARKER
from tests.core.cli_helpers import run_cli, tree_digest, truncate_weights
from tests.generation_tiny import sample_pairs, write_sample_dataset

EXPORTED_FILES = ["README.md", "config.json", "generation_config.json", "model.safetensors",
                  "tokenizer_config.json", "vocab.txt"]
EVAL_ROWS = 3
# Runs the card's snippet in a fresh interpreter that cannot import the project: a finder
# placed first on sys.meta_path refuses `core`/`tui`/`tests` (the venv's editable install would
# otherwise make them importable even under -I).
FRESH_RUNNER = """
import importlib.abc, json, sys

class NoProject(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("core", "tui", "tests"):
            raise ImportError("the exported folder must load without narou-tui: " + name)
        return None

sys.meta_path.insert(0, NoProject())
snippet, synopses, out = sys.argv[1:4]
exec(compile(open(snippet, encoding="utf-8").read(), "card-snippet", "exec"))
titles = [generate_title(s) for s in json.load(open(synopses, encoding="utf-8"))]
json.dump({"titles": titles, "modules": sorted(sys.modules)}, open(out, "w", encoding="utf-8"))
"""


def _cli_paths(paths: Paths) -> list[str]:
    return ["--checkpoints-dir", str(paths.checkpoints_dir), "--datasets-dir", str(paths.datasets_dir)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> Iterator[tuple[Paths, Path]]:
    """The tiny run evaluated on a few rows, then exported once for the whole module."""
    root = tmp_path_factory.mktemp("export")
    paths = Paths(root / "datasets", root / "checkpoints", root / "config")
    for d in (paths.datasets_dir, paths.checkpoints_dir, paths.config_dir):
        d.mkdir(parents=True)
    shutil.copytree(tiny_checkpoint.parent, paths.checkpoints_dir / "tiny-run")
    write_sample_dataset(paths.datasets_dir)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NAROU_TUI_CONFIG_DIR", str(paths.config_dir))
        code, _, err = run_cli(["eval", "--checkpoint", "tiny-run", "--limit", str(EVAL_ROWS),
                                "--device", "cpu", *_cli_paths(paths)], timeout_s=300)
        assert code == 0, err
        out = root / "shared" / "tiny-title-model"
        code, stdout, err = run_cli(["export", "tiny-run", "--out", str(out), *_cli_paths(paths)],
                                    timeout_s=300)
        assert code == 0, err
        assert stdout.startswith(f"exported tiny-run/checkpoint-150 → {out}: "), stdout
        yield paths, out


def _card_snippet(card: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", card, re.S)
    assert len(blocks) == 1, "the card has one Python usage snippet"
    return blocks[0]


def test_folder_holds_only_the_model_files(exported: tuple[Paths, Path]) -> None:
    _, out = exported
    assert sorted(p.name for p in out.iterdir()) == EXPORTED_FILES  # no optimizer, RNG, marker
    gen = json.loads((out / "generation_config.json").read_text())
    tok = json.loads((out / "tokenizer_config.json").read_text())
    assert (gen["decoder_start_token_id"], gen["eos_token_id"], gen["pad_token_id"]) == (2, 3, 0)
    assert gen["num_beams"] == 4 and gen["num_return_sequences"] == 1 and gen["max_new_tokens"] == 48
    assert tok["tokenizer_class"] == "BertJapaneseTokenizer"
    assert tok["mecab_kwargs"] == {"mecab_dic": "unidic_lite"}
    assert "is_local" not in tok


def test_card_snippet_in_a_fresh_python_gives_the_titles_of_generate(
    exported: tuple[Paths, Path], tmp_path: Path
) -> None:
    paths, out = exported
    snippet = _card_snippet((out / "README.md").read_text(encoding="utf-8"))
    synopses = [p["story"] for p in sample_pairs()[:5]]
    (tmp_path / "snippet.py").write_text(snippet, encoding="utf-8")
    (tmp_path / "synopses.json").write_text(json.dumps(synopses, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "runner.py").write_text(FRESH_RUNNER, encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-I", str(tmp_path / "runner.py"), str(tmp_path / "snippet.py"),
         str(tmp_path / "synopses.json"), str(tmp_path / "fresh.json")],
        cwd=out.parent, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    fresh = json.loads((tmp_path / "fresh.json").read_text(encoding="utf-8"))
    assert not [m for m in fresh["modules"] if m.split(".")[0] in ("core", "tui")]
    example = proc.stdout.splitlines()[0]  # what the snippet itself prints

    # The same synopses through `narou-tui generate` with the decoding the export wrote: the
    # beam preset, one title. One synopsis per call, as the snippet does (a padded batch can
    # move the last float bits).
    src = tmp_path / "in.jsonl"
    from core.export.snippet import EXAMPLE_SYNOPSIS

    src.write_text("".join(json.dumps({"story": s}, ensure_ascii=False) + "\n"
                           for s in [EXAMPLE_SYNOPSIS, *synopses]), encoding="utf-8")
    code, _, err = run_cli(["generate", "--checkpoint", "tiny-run", "--input", str(src),
                            "--output", str(tmp_path / "out.jsonl"), "--preset", "beam",
                            "--num-return-sequences", "1", "--batch-size", "1", "--device", "cpu",
                            *_cli_paths(paths)], timeout_s=300)
    assert code == 0, err
    ours = [json.loads(line)["titles"][0]["title"]
            for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [example, *fresh["titles"]] == ours
    assert len(set(ours)) > 1, "the tiny model answers synopses differently"


def test_card_front_matter_and_facts(exported: tuple[Paths, Path]) -> None:
    paths, out = exported
    card = (out / "README.md").read_text(encoding="utf-8")
    _, meta_text, body = card.split("---\n", 2)
    meta = yaml.safe_load(meta_text)
    assert meta["language"] == ["ja"] and meta["library_name"] == "transformers"
    assert meta["pipeline_tag"] == "text2text-generation"
    assert meta["datasets"] == ["tiny-sample"]
    assert "base_model" not in meta  # a scratch model starts from no hub model
    run_config = json.loads((paths.checkpoints_dir / "tiny-run" / "config.json").read_text())
    assert run_config["dataset"]["fingerprint"] in body
    assert "train 44, validation 2, test 2" in body
    assert "| lr | 0.005 |" in body
    # The tiny run's length was set by max_steps, so the card shows no epochs figure.
    assert f"| max_steps | {run_config['train']['max_steps']} |" in body
    assert "| epochs |" not in body
    assert "pip install transformers torch fugashi unidic-lite" in body
    # The eval report's figures sit beside its baselines, as `narou-tui eval` computed them.
    report = json.loads(next((paths.checkpoints_dir / "tiny-run" / "eval").glob("*.json")).read_text())
    model_row = next(line for line in body.splitlines() if line.startswith("| this model |"))
    assert f"| {report['systems']['model']['chrf']:.1f} |" in model_row
    assert "| first " in body and "| most common training title |" in body
    assert str(paths.checkpoints_dir) not in card  # the card is shared: no local paths


def test_refuses_a_non_empty_folder_and_keeps_it(exported: tuple[Paths, Path], tmp_path: Path) -> None:
    paths, _ = exported
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, err = run_cli(["export", "tiny-run", "--out", str(out), *_cli_paths(paths)])
    assert code == 1
    assert err.strip() == (f"narou-tui: {out} is not empty; give an empty or new folder, or "
                           "--force to replace an earlier export there")
    assert tree_digest(out) == {"notes.txt": tree_digest(out)["notes.txt"]}


def test_refuses_a_folder_inside_a_run(exported: tuple[Paths, Path]) -> None:
    paths, _ = exported
    run = paths.checkpoints_dir / "tiny-run"
    before = tree_digest(run)
    code, _, err = run_cli(["export", "tiny-run", "--out", str(run / "export"), *_cli_paths(paths)])
    assert code == 1
    assert err.strip() == (f"narou-tui: {run / 'export'} is inside run directory {run.resolve()}; "
                           "an export is never written there (give a folder elsewhere)")
    assert tree_digest(run) == before


def test_refuses_incomplete_and_damaged_checkpoints(paths: Paths, tiny_checkpoint: Path) -> None:
    for run_id, damage in (("cut", lambda ck: (ck / COMPLETE_MARKER).unlink()),
                           ("torn", truncate_weights)):
        shutil.copytree(tiny_checkpoint.parent, paths.checkpoints_dir / run_id)
        damage(paths.checkpoints_dir / run_id / tiny_checkpoint.name)
    code, _, err = run_cli(["export", "cut/checkpoint-150", "--out", str(paths.config_dir / "a")])
    assert (code, err.strip()) == (1, "narou-tui: cut/checkpoint-150 is incomplete (no COMPLETE "
                                      "marker: the save was interrupted) and cannot be loaded")
    code, _, err = run_cli(["export", "torn/checkpoint-150", "--out", str(paths.config_dir / "b")])
    assert code == 1
    assert err.startswith("narou-tui: torn/checkpoint-150 cannot be loaded: model.safetensors is "
                          "truncated"), err
    assert not (paths.config_dir / "a").exists() and not (paths.config_dir / "b").exists()


def test_force_replaces_an_earlier_export(exported: tuple[Paths, Path], tmp_path: Path) -> None:
    paths, first = exported
    out = tmp_path / "again"
    shutil.copytree(first, out)
    (out / "pytorch_model.bin").write_bytes(b"stale pickled weights a loader would prefer")
    (out / "notes.txt").write_text("mine")
    (out / "README.md").write_text("old card")
    code, _, err = run_cli(["export", "tiny-run/checkpoint-150", "--out", str(out), "--force",
                            *_cli_paths(paths)], timeout_s=300)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted([*EXPORTED_FILES, "notes.txt"])
    assert (out / "README.md").read_text(encoding="utf-8").startswith("---\nlanguage:")
    assert not list(out.parent.glob(".again.export-*"))  # no staging folder left behind


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_push_without_network_fails_fast_and_keeps_the_export(
    paths: Paths, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(tiny_checkpoint.parent, paths.checkpoints_dir / "tiny-run")
    port = _free_port()  # nothing listens there: connections are refused at once
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    out = paths.config_dir / "pushed"
    code, _, err = run_cli(["export", "tiny-run", "--out", str(out), "--push-to-hub",
                            "someone/tiny-titles", "--hub-timeout", "5"], timeout_s=300)
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        f"narou-tui: push to the hub failed: cannot reach the Hugging Face Hub at "
        f"http://127.0.0.1:{port} ([Errno 111] Connection refused); the export in {out} is "
        "complete; nothing was uploaded")
    assert sorted(p.name for p in out.iterdir()) == EXPORTED_FILES
    assert 'MODEL = "someone/tiny-titles"' in (out / "README.md").read_text(encoding="utf-8")


def test_push_to_a_silent_hub_gives_up_after_the_timeout(
    exported: tuple[Paths, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.export.errors import ExportError
    from core.export.hub import push_folder

    _, out = exported
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_TOKEN", "hf_test_token")
        with pytest.raises(ExportError) as caught:
            push_folder(out, "someone/tiny-titles", timeout_s=1)
    assert str(caught.value) == (f"cannot reach the Hugging Face Hub at {endpoint} (no answer "
                                 f"within 1 s); the export in {out} is complete; nothing was uploaded")


class _RecordingHub(http.server.BaseHTTPRequestHandler):
    """A hub that refuses every token and records what it was sent."""

    seen: list[str] = []

    def _refuse(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = _refuse

    def log_message(self, *_args: object) -> None:
        pass


def test_push_with_a_refused_token_sends_nothing(
    exported: tuple[Paths, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.export.errors import ExportError
    from core.export.hub import push_folder

    _, out = exported
    _RecordingHub.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_TOKEN", "hf_wrong_token")
        with pytest.raises(ExportError, match=r"refused the token \(HTTP 401\)"):
            push_folder(out, "someone/tiny-titles", timeout_s=5)
    finally:
        server.shutdown()
        server.server_close()
    assert _RecordingHub.seen == ["GET /api/whoami-v2"]  # no repo created, no file sent


def test_push_needs_a_token_and_a_repo_id(
    exported: tuple[Paths, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    from core.export.errors import ExportError
    from core.export.hub import push_folder

    _, out = exported
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ExportError, match=r"^HF_HUB_OFFLINE is set, so nothing may be uploaded"):
        push_folder(out, "someone/tiny-titles")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(ExportError, match=r"^no Hugging Face token: set HF_TOKEN or run `hf auth login`"):
        push_folder(out, "someone/tiny-titles")
    with pytest.raises(ExportError, match=r"a repo id is OWNER/NAME"):
        push_folder(out, "not a repo")
