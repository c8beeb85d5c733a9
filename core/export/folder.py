"""Write one checkpoint as a clean Hugging Face folder: safetensors weights, configs, tokenizer, card."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import durable
from core.export.errors import ExportError
from core.generation.checkpoints import CheckpointError, CheckpointInfo, resolve_checkpoint
from core.paths import Paths

CARD_FILE = "README.md"
TOKENIZER_FILES = ("vocab.txt", "tokenizer_config.json")
# What an earlier export into the same folder may have left that a loader would read instead
# of, or beside, the new files (removed when --force replaces that export).
STALE_PATTERNS = ("model-*.safetensors", "model.safetensors.index.json", "pytorch_model*.bin",
                  "special_tokens_map.json", "tokenizer.json")
# Where the tokenizer was loaded from, not what it is: meaningless in a shared folder.
LOAD_TIME_KEYS = ("is_local", "local_files_only")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ExportResult:
    """A finished export: which checkpoint, where, the files written and the card's text."""

    spec: str
    out: Path
    files: tuple[str, ...]
    weights_bytes: int
    dictionary: str
    card: str
    note: str | None = None


def check_export_dir(out: Path, checkpoints_dir: Path | None = None, force: bool = False) -> None:
    """Refuse an output folder inside a run directory or the checkpoints folder (always), a
    file, or a non-empty folder (unless `force`)."""
    from core.tokenization.scratch import run_dir_holding

    holder = run_dir_holding(out, checkpoints_dir)
    if holder is not None:
        root = checkpoints_dir.resolve() if checkpoints_dir is not None else None
        what = "the checkpoints folder" if holder == root else "run directory"
        raise ExportError(f"{out} is inside {what} {holder}; an export is never written there "
                          "(give a folder elsewhere)")
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder")
    if out.is_dir() and not force and any(out.iterdir()):
        raise ExportError(f"{out} is not empty; give an empty or new folder, or --force to "
                          "replace an earlier export there")


def export_generation_config(tokenizer: Any) -> tuple[Any, dict[str, Any]]:
    """(GenerationConfig, its decoding options): the ids the model needs and the decoding that
    `narou-tui eval` scores (beam search, one title), so plain `generate()` matches it."""
    from transformers import GenerationConfig

    from core.evaluation.runner import default_eval_options
    from core.generation.service import title_suppressed_ids
    from core.model import token_ids

    ids = token_ids(tokenizer)
    options = default_eval_options()
    config = GenerationConfig(
        decoder_start_token_id=ids.cls, bos_token_id=ids.cls, eos_token_id=ids.sep,
        pad_token_id=ids.pad, suppress_tokens=title_suppressed_ids(tokenizer),
        **options.generate_kwargs(),
    )
    return config, options.to_json()


def _zero_pooler(model: Any) -> None:
    # Training drops the encoder's pooler (the seq2seq loss never reads it). Saved without one,
    # every plain from_pretrained would report it as newly initialised and advise training;
    # a zero pooler loads silently and changes no title.
    import torch

    if getattr(model.encoder, "pooler", "absent") is not None:
        return
    from transformers.models.bert.modeling_bert import BertPooler

    pooler = BertPooler(model.config.encoder)
    with torch.no_grad():
        for p in pooler.parameters():
            p.zero_()
    model.encoder.pooler = pooler


def _tokenizer_config(src: Path, info: Any, max_len: int) -> dict[str, Any]:
    """The checkpoint's tokenizer_config.json with the dictionary it was loaded with written
    out, so plain `AutoTokenizer` splits text exactly as narou-tui did."""
    try:
        config = json.loads((src / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    if not isinstance(config, dict):
        config = {}
    for key in LOAD_TIME_KEYS:
        config.pop(key, None)
    config["tokenizer_class"] = "BertJapaneseTokenizer"
    config["word_tokenizer_type"] = info.word_tokenizer
    config["subword_tokenizer_type"] = info.subword
    if info.word_tokenizer == "mecab" and info.dictionary:
        config["mecab_kwargs"] = {**(config.get("mecab_kwargs") or {}), "mecab_dic": info.dictionary}
    config["model_max_length"] = max_len
    return config


def _load(info: CheckpointInfo) -> tuple[Any, Any, Any]:
    """(model on the CPU, tokenizer, TokenizerInfo); refuses a tokenizer loaded with a
    fallback dictionary (exporting it would bake the mismatch in)."""
    from core.model import ModelError, load_checkpoint
    from core.tokenization import load_tokenizer
    from core.tokenization.errors import TokenizerLoadError

    try:
        loaded = load_tokenizer(str(info.path))
        model, tokenizer = load_checkpoint(info.path, device="cpu")
    except (ModelError, TokenizerLoadError) as exc:
        raise ExportError(f"{info.spec} cannot be exported: {exc}") from exc
    if loaded.info.dictionary_source.endswith("+fallback"):
        raise ExportError(f"{info.spec} cannot be exported: {loaded.info.warnings[-1]}")
    return model, getattr(tokenizer, "tokenizer", tokenizer), loaded.info


def _install(staging: Path, out: Path, force: bool) -> None:
    """Move the finished folder into place: a rename when `out` is new or empty, else (with
    force) file by file over an earlier export, its stale weight files removed."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        if out.exists():
            out.rmdir()
        durable.replace(staging, out)
        return
    if not force:  # checked before the work; a folder filled meanwhile is still refused
        raise ExportError(f"{out} is not empty; give an empty or new folder, or --force")
    for pattern in STALE_PATTERNS:
        for stale in out.glob(pattern):
            stale.unlink()
    for f in sorted(staging.iterdir()):
        durable.replace(f, out / f.name)


def export_checkpoint(paths: Paths, spec: str, out: Path, *, force: bool = False,
                      model_ref: str | None = None, progress: Progress | None = None) -> ExportResult:
    """Export `spec` (RUN = its best checkpoint, or RUN/checkpoint-N) into the folder `out`.

    model_ref: what the card's usage snippet loads (a hub repo id); default the folder's name.
    Nothing is written to `out` until the whole folder is ready beside it.
    """
    report = progress or (lambda _m: None)
    out = Path(out).expanduser()
    try:
        info = resolve_checkpoint(paths, spec)
    except CheckpointError as exc:
        raise ExportError(str(exc), exc.exit_code) from exc
    check_export_dir(out, paths.checkpoints_dir, force)
    report(f"loading {info.spec}")
    model, tokenizer, tok_info = _load(info)
    from core.export.card import gather_facts, render_card
    from core.model import count_parameters

    gen_config, decoding = export_generation_config(tokenizer)
    enc = model.config.encoder
    max_len = min(int(getattr(enc, "max_position_embeddings", 512) or 512), 512)
    facts = gather_facts(info, count_parameters(model), {
        "dictionary": tok_info.dictionary, "dictionary_version": tok_info.dictionary_version,
        "vocab_size": tok_info.vocab_size}, decoding)
    card = render_card(facts, model_ref or out.name)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    except OSError as exc:
        raise ExportError(f"{out}: cannot write there ({exc.strerror or exc})") from None
    try:
        report("writing weights (safetensors) and configs")
        _zero_pooler(model)
        model.generation_config = gen_config
        model.save_pretrained(staging, safe_serialization=True)
        shutil.copyfile(info.path / "vocab.txt", staging / "vocab.txt")
        (staging / "tokenizer_config.json").write_text(json.dumps(
            _tokenizer_config(info.path, tok_info, max_len), ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8")
        (staging / CARD_FILE).write_text(card, encoding="utf-8")
        files = tuple(sorted(p.name for p in staging.iterdir()))
        weights = sum(p.stat().st_size for p in staging.glob("*.safetensors"))
        # mkdtemp and the weights writer make private files; an export is meant to be shared.
        os.chmod(staging, 0o755)
        for f in staging.iterdir():
            os.chmod(f, 0o644)
        _install(staging, out, force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report(f"exported to {out}")
    return ExportResult(info.spec, out, files, weights, str(tok_info.dictionary or ""), card, info.note)
