"""A pretrained BERT in the tohoku-nlp/bert-base-japanese-v3 layout, end to end: each tensor
lands where it belongs, the CLI trains, generates and evaluates from it, a cached hub id loads
without the network, and the logs a person reads hold one plain line per model part.

"No network" here is HF_ENDPOINT pointing at a 127.0.0.1 port nothing listens on: the
connection is refused at once, so the tests are deterministic (no DNS, no firewall timeouts)
and still fail if a load contacts the hub, because every refused request is logged.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.main import main
from core.model import ModelError, build_model, pretrained_config
from core.paths import REPO_ROOT, Paths
from core.pretrained import LoadReport, cached_snapshot, strip_escapes
from tests.core.train_helpers import set_env
from tests.generation_tiny import DATASET, sample_pairs
from tests.pretrained_tiny import HUB_ID, place_in_hub_cache

ENCODER_LINE = "encoder: 39 tensors from the checkpoint; 7 pretraining-head tensors unused"
DECODER_LINE = ("decoder: 42 tensors from the checkpoint; 20 cross-attention tensors newly "
                "initialised (expected for BERT2BERT); 4 pretraining-head tensors unused")
# What transformers logs when it has to ask the hub (and retries); never seen on a cache hit.
NETWORK_TRACES = ("thrown while requesting", "Retrying in", "LOAD REPORT")
TRAIN_FLAGS = ["--dataset", DATASET, "--batch-size", "8", "--grad-accum", "1", "--lr", "1e-3",
               "--warmup", "0", "--log-steps", "1", "--device", "cpu", "--compile", "off",
               "--threads", "1", "--max-source-len", "128", "--max-target-len", "24",
               "--probe-size", "2", "--eval-samples", "8"]


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _import_fixture_dataset(paths: Paths, tmp_path: Path) -> None:
    src = tmp_path / "pairs.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sample_pairs()),
                   encoding="utf-8")
    assert main(["dataset", "import", str(src), "--name", DATASET]) == 0


def test_fixture_has_the_v3_files_and_loads_with_unidic_lite(tiny_pretrained_bert: Path) -> None:
    from safetensors.torch import load_file

    from core.tokenization import load_tokenizer

    assert sorted(p.name for p in tiny_pretrained_bert.iterdir()) == [
        "config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"]
    config = json.loads((tiny_pretrained_bert / "config.json").read_text(encoding="utf-8"))
    assert config["architectures"] == ["BertForPreTraining"] and config["model_type"] == "bert"
    weights = load_file(tiny_pretrained_bert / "model.safetensors")
    prefixes = {k.split(".")[0] + "." + k.split(".")[1] for k in weights}
    assert {"bert.embeddings", "bert.encoder", "bert.pooler", "cls.predictions",
            "cls.seq_relationship"} <= prefixes
    info = load_tokenizer(str(tiny_pretrained_bert)).info
    assert (info.word_tokenizer, info.subword, info.dictionary, info.dictionary_source) == (
        "mecab", "wordpiece", "unidic_lite", "config")
    assert info.warnings == []


def test_only_cross_attention_is_new_and_the_lm_head_is_cls_predictions(
    tiny_pretrained_bert: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    import torch
    from safetensors.torch import load_file

    from core.tokenization import load_tokenizer

    tok = load_tokenizer(str(tiny_pretrained_bert)).tokenizer
    saved = load_file(tiny_pretrained_bert / "model.safetensors")
    caplog.set_level(logging.DEBUG, logger="core")
    model = build_model(tok, pretrained=str(tiny_pretrained_bert))

    for name, tensor in model.encoder.state_dict().items():
        assert torch.equal(tensor, saved["bert." + name]), f"encoder {name} is not the pretrained tensor"
    # The LM head's output layer is tied to the word embeddings, and its bias is cls.predictions.bias.
    counterpart = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
                   "cls.predictions.decoder.bias": "cls.predictions.bias"}
    fresh = []
    for name, tensor in model.decoder.state_dict().items():
        source = counterpart.get(name, name)
        if source in saved:
            assert torch.equal(tensor, saved[source]), f"decoder {name} is not {source}"
        else:
            fresh.append(name)
    assert fresh and all(".crossattention." in n for n in fresh)
    assert len(fresh) == 2 * 10  # 2 layers × (query, key, value, output dense, LayerNorm) × (w, b)
    head = model.decoder.cls.predictions
    assert torch.equal(head.transform.dense.weight, saved["cls.predictions.transform.dense.weight"])
    assert torch.equal(head.transform.LayerNorm.weight, saved["cls.predictions.transform.LayerNorm.weight"])
    assert torch.equal(head.bias, saved["cls.predictions.bias"])

    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert ENCODER_LINE in lines and DECODER_LINE in lines
    full = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("BertLMHeadModel LOAD REPORT" in m and "crossattention" in m for m in full)
    assert not any("\x1b" in m for m in full)
    err = capfd.readouterr().err
    assert "LOAD REPORT" not in err and "MISSING" not in err


def test_report_names_what_a_plain_bert_lacks() -> None:
    # A BertModel checkpoint (no pretraining heads): the title layer starts untrained; say so.
    report = LoadReport("decoder", 37,
                        missing=("bert.encoder.layer.0.crossattention.self.key.bias",
                                 "cls.predictions.bias", "cls.predictions.transform.dense.weight"),
                        unused=("bert.pooler.dense.bias", "extra.weight"))
    assert report.summary() == (
        "decoder: 37 tensors from the checkpoint; 1 cross-attention tensors newly initialised "
        "(expected for BERT2BERT); 2 LM-head tensors newly initialised (the checkpoint has no "
        "cls.predictions: the title layer starts untrained); 1 pretraining-head tensors unused; "
        "1 other checkpoint tensors unused (extra.weight)")
    assert strip_escapes("\x1b[1mBertModel LOAD REPORT\x1b[0m from: x") == "BertModel LOAD REPORT from: x"


@pytest.mark.slow
def test_cli_trains_generates_and_evaluates_from_a_pretrained_dir(
    tiny_pretrained_bert: Path, paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from core.training.stop import wait_run

    set_env(monkeypatch)
    _import_fixture_dataset(paths, tmp_path)
    capsys.readouterr()
    # Detached, as a user runs it: the job's stdout and stderr are train.log.
    assert main(["train", "--model", str(tiny_pretrained_bert), "--max-steps", "4",
                 "--eval-steps", "4", "--save-steps", "4", "--run-name", "v3", *TRAIN_FLAGS]) == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1]
    status = wait_run(paths, run_id, timeout=600)
    log = (paths.run(run_id) / "train.log").read_text(encoding="utf-8")
    assert status is not None and status.state == "finished", log
    assert "\x1b" not in log
    assert not any(trace in log for trace in NETWORK_TRACES), log
    assert ENCODER_LINE in log and DECODER_LINE in log
    frozen = json.loads((paths.run(run_id) / "config.json").read_text(encoding="utf-8"))
    assert frozen["model"]["pretrained"] == str(tiny_pretrained_bert)
    assert (paths.run(run_id) / "checkpoint-4" / "COMPLETE").exists()

    story = sample_pairs()[0]["story"]
    assert main(["generate", "--checkpoint", run_id, story, "--json", "--device", "cpu",
                 "--num-beams", "2", "--num-return-sequences", "2"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["checkpoint"] == f"{run_id}/checkpoint-4" and len(out["titles"]) == 2

    assert main(["eval", "--checkpoint", run_id, "--limit", "2", "--json", "--device", "cpu",
                 "--preset", "greedy"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 2 and report["dataset"] == DATASET
    assert set(report["systems"]) == {"model", "first_n_chars", "most_common_title"}
    assert len(report["samples"]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("network", ["HF_HUB_OFFLINE=1", "refused, not offline"])
def test_cached_hub_id_trains_without_the_network(
    network: str, tiny_pretrained_bert: Path, paths: Paths, tmp_path: Path
) -> None:
    _import_fixture_dataset(paths, tmp_path)
    hf_home = tmp_path / "hf"
    place_in_hub_cache(tiny_pretrained_bert, hf_home / "hub")
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE", "HF_ENDPOINT")}
    env.update(HF_HOME=str(hf_home), HF_ENDPOINT=f"http://127.0.0.1:{_unused_port()}",
               PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    if network == "HF_HUB_OFFLINE=1":
        env["HF_HUB_OFFLINE"] = "1"
    # A fresh process: huggingface_hub reads HF_HOME, HF_ENDPOINT and HF_HUB_OFFLINE at import.
    proc = subprocess.run(
        [sys.executable, "-m", "core.cli.main", "train", "--model", HUB_ID, "--foreground",
         "--max-steps", "1", "--eval-steps", "1", "--save-steps", "1", "--run-name", "hub",
         *TRAIN_FLAGS], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert f"model {HUB_ID}: loading from the local Hugging Face cache" in output
    assert ENCODER_LINE in output and DECODER_LINE in output
    assert not any(trace in output for trace in NETWORK_TRACES), output
    run_id = proc.stdout.strip().splitlines()[-1]
    frozen = json.loads((paths.run(run_id) / "config.json").read_text(encoding="utf-8"))
    assert frozen["model"]["pretrained"] == HUB_ID
    assert frozen["tokenizer"]["dictionary"] == "unidic_lite"
    assert (paths.run(run_id) / "checkpoint-1" / "COMPLETE").exists()


def test_hub_id_missing_from_the_cache_fails_fast_without_network(
    tiny_pretrained_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants as hub_constants

    port = _unused_port()
    cache = tmp_path / "hub"
    # A cache holding the tokenizer files and config but no weights is not a usable model.
    snapshot = place_in_hub_cache(tiny_pretrained_bert, cache)
    snapshot.joinpath("model.safetensors").unlink()
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    assert cached_snapshot(HUB_ID) is None
    with pytest.raises(ModelError) as err:
        pretrained_config(HUB_ID)
    msg = str(err.value)
    assert f"cannot load model '{HUB_ID}'" in msg and f"127.0.0.1:{port}" in msg
    assert "--model" in msg and "--scratch" in msg
    place_in_hub_cache(tiny_pretrained_bert, cache)  # the weights arrive: now it loads offline
    assert cached_snapshot(HUB_ID) == snapshot
    assert pretrained_config(HUB_ID).hidden_size == 32


def test_a_saved_checkpoint_reloads_quietly_and_a_damaged_one_in_one_line(
    tiny_pretrained_bert: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from safetensors.torch import load_file, save_file

    from core.model import model_from_checkpoint
    from core.tokenization import load_tokenizer

    tok = load_tokenizer(str(tiny_pretrained_bert)).tokenizer
    ck = tmp_path / "checkpoint-1"
    build_model(tok, pretrained=str(tiny_pretrained_bert)).save_pretrained(ck)
    caplog.set_level(logging.INFO, logger="core")
    # What resume and generation load: the pooler training never saves is not worth a word.
    model = model_from_checkpoint(ck)
    assert model.encoder.pooler is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    weights = load_file(ck / "model.safetensors")
    del weights["decoder.cls.predictions.transform.dense.bias"]
    save_file(weights, ck / "model.safetensors", metadata={"format": "pt"})
    model_from_checkpoint(ck)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"{ck}: 1 tensors missing from the weights, newly initialised "
                        f"(decoder.cls.predictions.transform.dense.bias); 0 tensors in the "
                        f"weights unused (none)"]
    err = capfd.readouterr().err
    assert "LOAD REPORT" not in err and "\x1b" not in err
