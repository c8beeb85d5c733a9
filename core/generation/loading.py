"""Load a checkpoint for generation (safetensors only) and turn token ids into a title."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.generation.checkpoints import WEIGHTS_FILE, CheckpointError


def check_weights(folder: Path) -> int:
    """Bytes of safetensors weights in a checkpoint; pickled weights are refused, never loaded."""
    weights = folder / WEIGHTS_FILE
    if weights.is_file():
        return weights.stat().st_size
    shards = list(folder.glob("model-*.safetensors"))
    if shards:
        return sum(p.stat().st_size for p in shards)
    pickled = [p.name for p in folder.glob("*.bin")] + [p.name for p in folder.glob("*.pt*")]
    if any(n.startswith(("pytorch_model", "model")) for n in pickled):
        raise CheckpointError(
            f"{folder} holds only pickled weights ({', '.join(sorted(pickled))}); "
            "narou-tui loads safetensors only"
        )
    raise CheckpointError(f"{folder} has no {WEIGHTS_FILE}")


def load_for_generation(folder: Path, device: str) -> tuple[Any, Any]:
    """(model in eval mode on `device`, tokenizer) through the training area's loader."""
    check_weights(folder)
    from core.model import ModelError, load_checkpoint

    try:
        model, tok = load_checkpoint(folder, device=device)
    except ModelError as exc:
        raise CheckpointError(str(exc)) from exc
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        # Files damaged in ways the pre-check does not see (a tensor of the wrong shape...).
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{folder} cannot be loaded: {first}") from exc
    model.eval()
    return model, getattr(tok, "tokenizer", tok)


def decode_ids(tokenizer: Any, ids: list[int]) -> str:
    """Title text without spaces between Japanese tokens (the tokenization area's decoder)."""
    from core.tokenization import decode_title

    return decode_title(tokenizer, ids)
