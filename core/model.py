"""BERT2BERT model construction, token-id wiring, and safetensors-only checkpoint loading."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.pretrained import ModelError  # defined there: pretrained loading raises it too

# Generation defaults frozen into every model's generation_config (generation settings live
# there, never in model.config, or save_pretrained refuses).
DEFAULT_MAX_TITLE_TOKENS = 64
log = logging.getLogger(__name__)
# transformers 5.x dropped EncoderDecoderModel's tie_encoder_decoder, and sharing the modules by
# hand makes save_pretrained refuse the shared tensors: refuse clearly instead of training untied.
TIE_UNSUPPORTED = (
    "tie_encoder_decoder is not supported with transformers 5.x (EncoderDecoderModel no longer "
    "ties encoder and decoder weights, and shared tensors cannot be saved); train untied"
)


@dataclass(frozen=True)
class ScratchPreset:
    """Shape of a randomly initialised BERT used for both encoder and decoder.

    hidden / layers / heads / intermediate: the usual BertConfig sizes.
    max_positions: max_position_embeddings (longest source the encoder accepts).
    vocab_size: default size of the WordPiece vocabulary trained for a scratch run.
    """

    hidden: int
    layers: int
    heads: int
    intermediate: int
    max_positions: int = 512
    vocab_size: int = 32768


SCRATCH_PRESETS: dict[str, ScratchPreset] = {
    # Trains on a laptop CPU in minutes; only useful for tests and smoke runs.
    "tiny": ScratchPreset(hidden=64, layers=2, heads=2, intermediate=128, vocab_size=4000),
    "small": ScratchPreset(hidden=256, layers=4, heads=4, intermediate=1024, vocab_size=16000),
    # BERT-base shape: encoder+decoder ≈ 251M parameters with a 32768 vocabulary.
    "base": ScratchPreset(hidden=768, layers=12, heads=12, intermediate=3072, vocab_size=32768),
}


@dataclass(frozen=True)
class TokenIds:
    """The special ids a BERT2BERT needs; read from the tokenizer, written in one place."""

    pad: int
    cls: int
    sep: int
    vocab_size: int


def token_ids(tokenizer: Any) -> TokenIds:
    """[PAD]/[CLS]/[SEP] ids of a BERT tokenizer; ModelError when one is missing."""
    ids = {
        "pad": tokenizer.pad_token_id,
        "cls": tokenizer.cls_token_id,
        "sep": tokenizer.sep_token_id,
    }
    missing = [k for k, v in ids.items() if v is None]
    if missing:
        raise ModelError(f"tokenizer has no {', '.join('[' + m.upper() + ']' for m in missing)} token")
    return TokenIds(vocab_size=len(tokenizer), **ids)


def configure_ids(model: Any, tokenizer: Any, max_title_tokens: int = DEFAULT_MAX_TITLE_TOKENS) -> None:
    """Set decoder_start=[CLS], eos=[SEP], pad=[PAD] and generation defaults: the ONE place.

    Labels carry no leading [CLS]: the model shifts them right and prepends
    decoder_start_token_id itself, so a title is "[CLS] title [SEP]" exactly once.
    """
    ids = token_ids(tokenizer)
    cfg = model.config
    cfg.decoder_start_token_id = ids.cls
    cfg.eos_token_id = ids.sep
    cfg.pad_token_id = ids.pad
    cfg.decoder.pad_token_id = ids.pad
    cfg.encoder.pad_token_id = ids.pad
    cfg.vocab_size = cfg.decoder.vocab_size
    gen = model.generation_config
    gen.decoder_start_token_id = ids.cls
    gen.bos_token_id = ids.cls
    gen.eos_token_id = ids.sep
    gen.pad_token_id = ids.pad
    gen.max_length = max_title_tokens
    gen.num_beams = 1
    gen.do_sample = False
    gen.no_repeat_ngram_size = 0


def check_ids(model: Any, tokenizer: Any) -> list[str]:
    """Problems with the id wiring (empty list when model and tokenizer agree)."""
    ids = token_ids(tokenizer)
    cfg, gen = model.config, model.generation_config
    problems = []
    expect = {
        "decoder_start_token_id": ids.cls,
        "eos_token_id": ids.sep,
        "pad_token_id": ids.pad,
    }
    for name, want in expect.items():
        if getattr(cfg, name, None) != want:
            problems.append(f"model.config.{name}={getattr(cfg, name, None)} but tokenizer says {want}")
        if getattr(gen, name, None) != want:
            problems.append(f"generation_config.{name}={getattr(gen, name, None)} but tokenizer says {want}")
    for part in ("encoder", "decoder"):
        size = getattr(cfg, part).vocab_size
        if size < ids.vocab_size:
            problems.append(
                f"{part} vocab_size={size} is smaller than the tokenizer's {ids.vocab_size} ids"
            )
    if not getattr(cfg.decoder, "add_cross_attention", False):
        problems.append("decoder has no cross-attention (add_cross_attention=False)")
    if not getattr(cfg.decoder, "is_decoder", False):
        problems.append("decoder is not causal (is_decoder=False)")
    return problems


def scratch_config(preset: str, vocab_size: int, pad_id: int) -> Any:
    """EncoderDecoderConfig for a scratch preset (no weights touched)."""
    from transformers import BertConfig, EncoderDecoderConfig

    if preset not in SCRATCH_PRESETS:
        raise ModelError(f"unknown scratch preset {preset!r}; choose one of {', '.join(SCRATCH_PRESETS)}")
    p = SCRATCH_PRESETS[preset]
    common = dict(
        vocab_size=vocab_size,
        hidden_size=p.hidden,
        num_hidden_layers=p.layers,
        num_attention_heads=p.heads,
        intermediate_size=p.intermediate,
        max_position_embeddings=p.max_positions,
        pad_token_id=pad_id,
    )
    enc = BertConfig(**common)
    dec = BertConfig(**common, is_decoder=True, add_cross_attention=True)
    return EncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)


def pretrained_config(spec: str) -> Any:
    """The BertConfig of a pretrained model (hub id or dir) without loading weights."""
    from transformers import AutoConfig

    from core.pretrained import offline_message, resolve_pretrained

    local = Path(spec).expanduser().is_dir()
    if local and (Path(spec).expanduser() / "status.json").exists():
        raise ModelError(f"--model {spec} is a narou-tui run folder, not a pretrained BERT: "
                         "continue it with `narou-tui resume RUN`, or generate from it with "
                         "`narou-tui generate --checkpoint RUN`")
    src = resolve_pretrained(spec)
    try:
        config = AutoConfig.from_pretrained(src, trust_remote_code=False,
                                            local_files_only=Path(src).is_dir())
    except (OSError, ValueError) as exc:
        if local:
            raise ModelError(f"--model {spec}: not a loadable model folder ({_first_line(exc)})") from exc
        raise ModelError(offline_message(spec, type(exc).__name__)) from exc
    if getattr(config, "model_type", None) == "encoder-decoder":
        # Starting a new run from a trained BERT2BERT would drop its optimizer state and bind
        # the new run to that checkpoint's vocabulary and lengths: `resume` is the way on.
        raise ModelError(f"--model {spec} is a BERT2BERT checkpoint, not a pretrained BERT: "
                         "continue its run with `narou-tui resume RUN`; --model takes the BERT "
                         "both halves start from (hub id or folder)")
    return config


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def build_model(
    tokenizer: Any,
    pretrained: str | None = None,
    scratch: str | None = None,
    tie_encoder_decoder: bool = False,
    max_title_tokens: int = DEFAULT_MAX_TITLE_TOKENS,
) -> Any:
    """A BERT2BERT EncoderDecoderModel with ids wired from `tokenizer`.

    pretrained: hub id or local dir of a BERT; encoder and decoder both start from it, the
        decoder with fresh cross-attention layers.
    scratch: a key of SCRATCH_PRESETS for a randomly initialised model sized to the tokenizer.
    tie_encoder_decoder: share encoder and decoder weights; refused with ModelError under
        transformers 5.x (see TIE_UNSUPPORTED), kept so the option fails loudly, not silently.
    """
    if (pretrained is None) == (scratch is None):
        raise ModelError("give exactly one of pretrained (hub id or directory) or scratch preset")
    if tie_encoder_decoder:
        raise ModelError(TIE_UNSUPPORTED)
    ids = token_ids(tokenizer)
    if scratch is not None:
        config = scratch_config(scratch, ids.vocab_size, ids.pad)
        config.encoder._attn_implementation = "sdpa"
        config.decoder._attn_implementation = "sdpa"
        from transformers import EncoderDecoderModel

        model = EncoderDecoderModel(config=config)
    else:
        from core.pretrained import load_encoder_decoder

        model, _reports = load_encoder_decoder(pretrained)
        if model.config.decoder.vocab_size < ids.vocab_size:
            raise ModelError(
                f"model {pretrained!r} has {model.config.decoder.vocab_size} embeddings but the "
                f"tokenizer has {ids.vocab_size} ids: use that model's own tokenizer"
            )
    strip_pooler(model)
    configure_ids(model, tokenizer, max_title_tokens)
    problems = check_ids(model, tokenizer)
    if problems:
        raise ModelError("model/tokenizer id mismatch: " + "; ".join(problems))
    return model


def strip_pooler(model: Any) -> None:
    """Drop the encoder's pooler: a seq2seq loss never uses it, it costs compute, and DDP
    refuses parameters that get no gradient."""
    if getattr(model.encoder, "pooler", None) is not None:
        model.encoder.pooler = None


def load_tokenizer_dir(path: Path) -> Any:
    """The tokenizer saved inside a checkpoint or run dir (via the tokenization module)."""
    from core.tokenization import load_tokenizer

    return load_tokenizer(str(path)).tokenizer


# Written into every checkpoint beside the tokenizer files: which vocabulary the weights were
# trained with, so a vocab.txt replaced afterwards is caught when the checkpoint is loaded.
VOCAB_FINGERPRINT_FILE = "vocab_fingerprint.json"


def vocab_fingerprint(folder: Path) -> dict[str, Any] | None:
    """sha256 and line count of `folder`/vocab.txt (None when there is none)."""
    import hashlib

    try:
        data = (folder / "vocab.txt").read_bytes()
    except OSError:
        return None
    return {"vocab_sha256": hashlib.sha256(data).hexdigest(), "vocab_lines": data.count(b"\n")}


def write_vocab_fingerprint(folder: Path) -> None:
    import json

    found = vocab_fingerprint(folder)
    if found is not None:
        (folder / VOCAB_FINGERPRINT_FILE).write_text(json.dumps(found) + "\n", encoding="utf-8")


def tokenizer_fit_problems(model: Any, tokenizer: Any, folder: Path) -> list[str]:
    """Why the tokenizer in a checkpoint folder cannot be the one its weights were trained
    with: a changed vocab.txt, more ids than embeddings, or other special-token ids."""
    import json

    problems = []
    try:
        recorded = json.loads((folder / VOCAB_FINGERPRINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = None  # checkpoints saved before the fingerprint existed
    if isinstance(recorded, dict) and recorded.get("vocab_sha256") != (vocab_fingerprint(folder) or {}).get(
            "vocab_sha256"):
        problems.append(f"vocab.txt changed since the save ({VOCAB_FINGERPRINT_FILE} records another one)")
    try:
        problems += check_ids(model, tokenizer)
    except ModelError as exc:
        problems.append(str(exc))
    return problems


def model_from_checkpoint(folder: Path) -> Any:
    """The EncoderDecoderModel saved in `folder` (safetensors only, no remote code), pooler dropped.

    Training never saves the encoder's pooler, so its absence goes unreported; anything else
    the weights lack or add is logged in one line (transformers' table stays at debug level).
    """
    from transformers import EncoderDecoderModel

    from core.pretrained import load_reports_at_debug, some_names

    with load_reports_at_debug():
        model, info = EncoderDecoderModel.from_pretrained(
            str(folder), use_safetensors=True, trust_remote_code=False, local_files_only=True,
            output_loading_info=True)
    # from_pretrained re-creates a random pooler that the seq2seq loss never uses.
    strip_pooler(model)
    missing = sorted(k for k in info["missing_keys"] if not k.startswith("encoder.pooler."))
    unused = sorted(info["unexpected_keys"])
    if missing or unused:
        log.warning("%s: %d tensors missing from the weights, newly initialised (%s); "
                    "%d tensors in the weights unused (%s)", folder, len(missing),
                    some_names(missing) or "none", len(unused), some_names(unused) or "none")
    return model


def load_checkpoint(path: str | os.PathLike[str], device: str | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) from a checkpoint-<step>/ folder: safetensors only, no remote code."""
    folder = Path(path)
    if not folder.is_dir():
        raise ModelError(f"checkpoint {folder} does not exist")
    if not (folder / "model.safetensors").exists() and not list(folder.glob("model-*.safetensors")):
        raise ModelError(f"checkpoint {folder} has no model.safetensors (only safetensors are loaded)")
    from core.runs.schema import COMPLETE_MARKER

    if folder.name.startswith("checkpoint-") and not (folder / COMPLETE_MARKER).exists():
        raise ModelError(f"checkpoint {folder} is incomplete (no {COMPLETE_MARKER} marker)")
    model = model_from_checkpoint(folder)
    tokenizer = load_tokenizer_dir(folder)
    problems = tokenizer_fit_problems(model, tokenizer, folder)
    if problems:
        raise ModelError(f"checkpoint {folder}: its tokenizer does not fit the model: {'; '.join(problems)}")
    if device is not None:
        model.to(device)
    model.eval()
    return model, tokenizer


def count_parameters(model: Any) -> int:
    """Distinct parameters (tied weights counted once)."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total
