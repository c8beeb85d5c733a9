"""Fetch a hub tokenizer into the local cache, failing within seconds when the hub is unreachable."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from core.tokenization.errors import TokenizerLoadError

TOKENIZER_FILES = ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "config.json"]
PROBE_TIMEOUT_S = 3.0


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def offline_mode() -> bool:
    """Whether the user asked huggingface_hub to stay offline."""
    return _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("TRANSFORMERS_OFFLINE"))


def hub_host() -> tuple[str, int]:
    """Host and port of the configured hub endpoint (HF_ENDPOINT or huggingface.co)."""
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (80 if url.scheme == "http" else 443)
    return url.hostname or "huggingface.co", port


def probe_hub(timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when a TCP connection to the hub opens within `timeout`, else the reason it did not.

    Runs in a daemon thread because name resolution has no timeout of its own.
    """
    host, port = hub_host()
    result: list[str | None] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(None)
        except OSError as exc:
            result.append(f"{host}:{port}: {exc.strerror or exc}")

    thread = threading.Thread(target=attempt, name="hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    if not result:
        return f"{host}:{port}: no answer within {timeout:.0f} s"
    return result[0]


def how_to_go_local(hub_id: str) -> str:
    """The advice appended to every hub failure."""
    return (
        f"Use a local copy instead: --tokenizer /path/to/dir (a folder with vocab.txt and "
        f"tokenizer_config.json, e.g. fetched elsewhere with `hf download {hub_id}`), "
        f"or train a vocabulary here: narou-tui tokenizer train --dataset NAME --vocab-size 32768 --out DIR"
    )


def fetch_tokenizer_dir(hub_id: str, timeout: float = PROBE_TIMEOUT_S) -> Path:
    """Local folder holding `hub_id`'s tokenizer files: from the HF cache, else downloaded."""
    from huggingface_hub import snapshot_download

    try:
        cached = Path(snapshot_download(hub_id, local_files_only=True, allow_patterns=TOKENIZER_FILES))
        if (cached / "vocab.txt").is_file():
            return cached
    except Exception:  # noqa: BLE001 - any cache miss just means "not cached"
        pass
    if offline_mode():
        raise TokenizerLoadError(
            f"cannot load tokenizer '{hub_id}': it is not in the local Hugging Face cache and "
            f"HF_HUB_OFFLINE is set. {how_to_go_local(hub_id)}"
        )
    reason = probe_hub(timeout)
    if reason is not None:
        raise TokenizerLoadError(
            f"cannot load tokenizer '{hub_id}': the Hugging Face hub is not reachable ({reason}). "
            f"{how_to_go_local(hub_id)}"
        )
    try:
        folder = Path(
            snapshot_download(hub_id, allow_patterns=TOKENIZER_FILES, etag_timeout=timeout)
        )
    except Exception as exc:  # noqa: BLE001 - every hub failure becomes one clear message
        raise TokenizerLoadError(
            f"cannot load tokenizer '{hub_id}' from the hub: {type(exc).__name__}: {exc}. "
            f"{how_to_go_local(hub_id)}"
        ) from None
    if not (folder / "vocab.txt").is_file():
        raise TokenizerLoadError(f"'{hub_id}' has no vocab.txt: not a BertJapaneseTokenizer model")
    return folder
