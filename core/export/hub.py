"""Upload an exported folder to the Hugging Face Hub; without a network, fail fast and clearly."""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from core.export.errors import ExportError

# Seconds the reachability check waits: the hub client itself has no timeout, and a
# black-holed network would otherwise hang the command.
DEFAULT_TIMEOUT_S = 10.0
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def hub_endpoint() -> str:
    """The hub's address: HF_ENDPOINT when set (read now, not at import), else the default."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _kept(folder: Path) -> str:
    return f"the export in {folder} is complete; nothing was uploaded"


def _check_reachable(endpoint: str, token: str, timeout_s: float, folder: Path) -> None:
    """One authenticated request with a deadline before any upload starts."""
    request = urllib.request.Request(f"{endpoint}/api/whoami-v2",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s):
            return
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise ExportError(f"the hub at {endpoint} refused the token (HTTP {exc.code}): "
                              f"check HF_TOKEN or run `hf auth login`; {_kept(folder)}") from None
        raise ExportError(f"the hub at {endpoint} answered HTTP {exc.code}; {_kept(folder)}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            reason = f"no answer within {timeout_s:g} s"
        raise ExportError(f"cannot reach the Hugging Face Hub at {endpoint} ({reason}); "
                          f"{_kept(folder)}") from None


def check_repo_id(repo_id: str) -> None:
    """Refuse a repo id the hub would reject, before any work is done."""
    if not _REPO_ID.match(repo_id):
        raise ExportError(f"--push-to-hub {repo_id!r}: a repo id is OWNER/NAME (letters, digits, "
                          "'.', '_', '-')")


def push_folder(folder: Path, repo_id: str, *, private: bool = False,
                timeout_s: float = DEFAULT_TIMEOUT_S, commit_message: str | None = None) -> str:
    """Create `repo_id` (if needed) and upload `folder` to it; returns the repo's URL.

    Token and reachability are checked first, so a missing token or network fails in at most
    `timeout_s` seconds with nothing sent.
    """
    from huggingface_hub import HfApi, get_token

    check_repo_id(repo_id)
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE"):
        raise ExportError(f"HF_HUB_OFFLINE is set, so nothing may be uploaded; unset it to push; "
                          f"{_kept(folder)}")
    token = get_token()
    if not token:
        raise ExportError(f"no Hugging Face token: set HF_TOKEN or run `hf auth login`; "
                          f"{_kept(folder)}")
    endpoint = hub_endpoint()
    _check_reachable(endpoint, token, timeout_s, folder)
    api = HfApi(endpoint=endpoint, token=token)
    try:
        url = api.create_repo(repo_id, private=private or None, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(folder),
                          commit_message=commit_message or "Upload model exported by narou-tui")
    except Exception as exc:  # noqa: BLE001 - every failure of the upload is one line for the user
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ExportError(f"uploading {folder} to {repo_id} on {endpoint} failed: {first}") from exc
    return str(url)
