"""On-disk layout of a harvest: the append-only records file and the atomically replaced state."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.durable import read_json
from core.paths import Paths

FETCH_ROOT = ".fetch"  # hidden, so dataset listings never mistake a harvest for a dataset


@dataclass(frozen=True)
class FetchLayout:
    """Files of harvest `name` in `<datasets_dir>/.fetch/<name>/`.

    records: `records.jsonl`, one API object per line (title, ncode, story, keyword, genre,
        biggenre, general_lastup), appended as pages arrive, never rewritten except to cut a
        torn last line.
    state: `state.json`, progress + planner position, replaced atomically after every page.
    log: `fetch.log`, stdout/stderr of a detached fetch started from the TUI.
    job: `job.json`, pid and command line written by whoever launched a detached fetch.
    lock: `lock`, held (flock) by the running fetch; a free lock means nothing runs.
    """

    folder: Path

    @classmethod
    def of(cls, paths: Paths, name: str) -> FetchLayout:
        paths.dataset(name)  # validates the name the same way datasets are validated
        return cls(paths.datasets_dir / FETCH_ROOT / name)

    @property
    def records(self) -> Path:
        return self.folder / "records.jsonl"

    @property
    def state(self) -> Path:
        return self.folder / "state.json"

    @property
    def log(self) -> Path:
        return self.folder / "fetch.log"

    @property
    def job(self) -> Path:
        return self.folder / "job.json"

    @property
    def lock(self) -> Path:
        return self.folder / "lock"


def budget_path(paths: Paths) -> Path:
    """The per-day counter shared by all harvests under this datasets folder."""
    return paths.datasets_dir / FETCH_ROOT / "budget.json"


def list_fetches(paths: Paths) -> list[str]:
    """Names of harvests that have a state file, sorted."""
    root = paths.datasets_dir / FETCH_ROOT
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "state.json").is_file())


def read_state(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(state, None); (None, None) when there is no state file; (None, why) when it is damaged."""
    try:
        data = read_json(path)
    except FileNotFoundError:
        return None, None
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"
    except OSError as exc:
        return None, f"cannot be read: {exc.strerror or exc}"
    if not isinstance(data, dict):
        return None, f"holds a JSON {type(data).__name__}, not an object"
    return data, None


class RecordStore:
    """The append-only records file plus the set of ncodes already in it.

    Opening it reads every line once: complete lines give the known ncodes; a torn last line
    (a kill mid-write) is cut off so the next append starts on a fresh line. Lines that are
    not JSON objects with an ncode are counted in `bad_lines` and left in place.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ncodes: set[str] = set()
        self.bad_lines = 0
        self.duplicate_lines = 0
        self.torn_bytes = 0
        self._load()
        self._fh = open(self.path, "ab")  # noqa: SIM115 - held for the whole harvest

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            self.torn_bytes = len(data) - end
            with open(self.path, "r+b") as fh:
                fh.truncate(end)
        for raw in data[:end].split(b"\n"):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
                code = rec["ncode"]
            except (ValueError, TypeError, KeyError):
                self.bad_lines += 1
                continue
            key = str(code).upper()
            if key in self.ncodes:
                self.duplicate_lines += 1
            self.ncodes.add(key)

    def __len__(self) -> int:
        return len(self.ncodes)

    def __contains__(self, ncode: str) -> bool:
        return ncode.upper() in self.ncodes

    def append(self, records: list[dict[str, Any]]) -> None:
        """Write records (callers have removed known ncodes) and flush them to disk."""
        if not records:
            return
        blob = b"".join(
            json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
            for r in records
        )
        self._fh.write(blob)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        for r in records:
            self.ncodes.add(r["ncode"].upper())

    def close(self) -> None:
        self._fh.close()
