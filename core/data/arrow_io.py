"""Reading the HF `save_to_disk` layout with pyarrow alone (memory-mapped, no `datasets` import)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

DATASET_DICT_JSON = "dataset_dict.json"
STATE_JSON = "state.json"
DATASET_INFO_JSON = "dataset_info.json"


class LayoutError(ValueError):
    """A folder that is not (or no longer) a readable save_to_disk layout."""


def _safe_part(name: str, what: str, folder: Path) -> str:
    # Split and shard names come from JSON on disk; keep them inside the folder.
    if not name or name in {".", ".."} or "/" in name or "\\" in name:
        raise LayoutError(f"{folder}: invalid {what} name {name!r}")
    return name


def is_dataset_dict(folder: Path) -> bool:
    return (folder / DATASET_DICT_JSON).is_file()


def is_dataset(folder: Path) -> bool:
    return (folder / STATE_JSON).is_file()


def split_names(folder: Path) -> list[str]:
    """Split names listed in `dataset_dict.json`, in their stored order."""
    try:
        splits = json.loads((folder / DATASET_DICT_JSON).read_text(encoding="utf-8"))["splits"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LayoutError(f"{folder / DATASET_DICT_JSON}: unreadable ({exc})") from exc
    if not isinstance(splits, list):
        raise LayoutError(f"{folder / DATASET_DICT_JSON}: 'splits' is not a list")
    return [_safe_part(str(s), "split", folder) for s in splits]


def read_dataset_folder(folder: Path) -> pa.Table:
    """One saved `Dataset`: its Arrow stream shards, memory-mapped and concatenated."""
    try:
        state = json.loads((folder / STATE_JSON).read_text(encoding="utf-8"))
        files = [str(d["filename"]) for d in state["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LayoutError(f"{folder / STATE_JSON}: unreadable ({exc})") from exc
    tables = []
    for name in files:
        shard = folder / _safe_part(name, "shard", folder)
        try:
            # The stream format is what datasets writes; read_all on a memory map is zero-copy.
            with pa.ipc.open_stream(pa.memory_map(str(shard))) as reader:
                tables.append(reader.read_all())
        except (OSError, pa.ArrowInvalid) as exc:
            raise LayoutError(f"{shard}: not a readable Arrow stream ({exc})") from exc
    if not tables:
        # `datasets` saves an empty split (a 1-2 record import leaves one) with no shard at
        # all; its columns are only described in dataset_info.json.
        return _empty_table(folder)
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def _empty_table(folder: Path) -> pa.Table:
    """A zero-row table with the columns dataset_info.json declares (plain `Value` features)."""
    try:
        features = json.loads((folder / DATASET_INFO_JSON).read_text(encoding="utf-8"))["features"]
        fields = [pa.field(name, pa.type_for_alias(spec["dtype"])) for name, spec in features.items()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LayoutError(f"{folder}: no data files listed in {STATE_JSON} and no readable "
                          f"column list in {DATASET_INFO_JSON} ({exc})") from exc
    return pa.schema(fields).empty_table()


def read_save_to_disk(folder: Path) -> dict[str, pa.Table]:
    """{split: table} for a DatasetDict folder, {"data": table} for a single saved Dataset."""
    if is_dataset_dict(folder):
        return {s: read_dataset_folder(folder / s) for s in split_names(folder)}
    if is_dataset(folder):
        return {"data": read_dataset_folder(folder)}
    raise LayoutError(f"{folder}: neither {DATASET_DICT_JSON} nor {STATE_JSON} found")
