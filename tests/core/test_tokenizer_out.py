"""`tokenizer train --out` never damages a run, and a checkpoint whose vocabulary was replaced
is refused at load instead of generating [UNK] titles."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from core.cli.main import main
from core.model import VOCAB_FINGERPRINT_FILE
from core.paths import Paths
from tests.generation_tiny import (
    DATASET,
    fixed_vocab,
    sample_pairs,
    write_sample_dataset,
)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_out_inside_a_run_is_refused_even_with_force(run_paths: Paths, capsys) -> None:
    ck = run_paths.checkpoints_dir / "tiny-run" / "checkpoint-150"
    before = _digest(ck)
    for out in (ck, ck / "sub", ck.parent, ck.parent / "elsewhere"):
        assert main(["tokenizer", "train", "--dataset", "x", "--out", str(out), "--force"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"narou-tui: --out {out} is inside run directory ") and err.count("\n") == 1
    assert main(["tokenizer", "train", "--dataset", "x", "--out", str(run_paths.checkpoints_dir / "t")]) == 2
    assert "is inside the checkpoints folder" in capsys.readouterr().err
    assert _digest(ck) == before and not (ck / "sub").exists()


def test_non_empty_out_needs_force(paths: Paths, tmp_path: Path, capsys) -> None:
    write_sample_dataset(paths.datasets_dir)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    args = ["tokenizer", "train", "--dataset", DATASET, "--out", str(out), "--vocab-size", "300"]
    assert main(args) == 2
    assert f"--out {out} is not empty; give an empty or new folder, or --force" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main([*args, "--force"]) == 0
    assert (out / "vocab.txt").is_file() and (out / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    assert main(["tokenizer", "train", "--dataset", DATASET, "--out", str(tmp_path / "file")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


def test_checkpoint_with_a_replaced_vocabulary_is_refused(run_paths: Paths, tmp_path: Path, capsys) -> None:
    ck = run_paths.checkpoints_dir / "tiny-run" / "checkpoint-150"
    lines = (ck / "vocab.txt").read_text(encoding="utf-8").count("\n")
    assert json.loads((ck / VOCAB_FINGERPRINT_FILE).read_text())["vocab_lines"] == lines
    other = fixed_vocab([t for r in sample_pairs()[:40] for t in (r["story"], r["title"])], 300, tmp_path / "v")
    shutil.copy(other / "vocab.txt", ck / "vocab.txt")  # what the old `tokenizer train --out ck` did
    args = ["generate", "--checkpoint", "tiny-run", "勇者が村に帰る。", "--device", "cpu"]
    assert main(args) == 1  # the checkpoint exists but cannot be used
    err = capsys.readouterr().err
    assert "its tokenizer does not fit the model: vocab.txt changed since the save" in err

    # A checkpoint saved before the fingerprint existed: the id checks still catch a vocabulary
    # with more ids than the model has embeddings.
    (ck / VOCAB_FINGERPRINT_FILE).unlink()
    shutil.copy(other / "vocab.txt", ck / "vocab.txt")
    with (ck / "vocab.txt").open("a", encoding="utf-8") as fh:
        fh.write("".join(f"piece{i}\n" for i in range(lines)))  # more ids than embeddings
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"decoder vocab_size={lines} is smaller than the tokenizer's" in err
