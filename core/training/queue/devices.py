"""Which devices a run needs, and the per-device flocks that say a narou-tui job is using one.

Every job holds a *shared* flock on the lock file of each device it trains on, for its whole
life; the kernel drops it when the process ends, however it ends (SIGKILL included), so a dead
job never leaves a device looking busy. A starter proves a device free by taking an
*exclusive* flock without blocking, then turns it into a shared one that the job it spawns
inherits: from the moment the job exists the device is already marked as its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

QUEUE_DIR = ".queue"  # under the checkpoints folder; a run id can never start with "."
DEVICES_DIR = "devices"


def queue_root(checkpoints_dir: Path) -> Path:
    """The folder holding the queue file, its lock, the runner lock and the device locks."""
    return Path(checkpoints_dir) / QUEUE_DIR


@lru_cache(maxsize=1)
def visible_gpus() -> tuple[int, ...]:
    """Physical indices of the NVIDIA GPUs this process may use (CUDA_VISIBLE_DEVICES applied);
    empty without a GPU or NVML. Read through NVML so no torch import is needed."""
    from core.telemetry.nvml import NvmlSampler

    sampler = NvmlSampler()
    count = len(sampler._handles) if sampler.available else 0
    mask = os.environ.get("CUDA_VISIBLE_DEVICES")
    if mask is None:
        return tuple(range(count))
    picked = [int(p) for p in mask.split(",") if p.strip().isdigit()]
    return tuple(i for i in picked if i < count)


def devices_for(train: dict[str, Any]) -> list[str]:
    """Lock names of the devices a run's `train` table needs on this node: "cpu" or gpuN."""
    device = train.get("device", "auto")
    gpus = visible_gpus()
    if device == "cpu" or (device == "auto" and not gpus):
        return ["cpu"]
    want = max(1, int(train.get("gpus") or 1))
    picked = list(gpus[:want]) or list(range(want))
    return [f"gpu{i}" for i in picked]


def _lock_path(checkpoints_dir: Path, device: str) -> Path:
    folder = queue_root(checkpoints_dir) / DEVICES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{device}.lock"


def claim(checkpoints_dir: Path, devices: list[str]) -> list[int] | None:
    """Shared locks on every device when none is used by a narou-tui job, else None (nothing
    held). The caller passes the fds to the job it starts, then closes its own copies."""
    fds: list[int] = []
    try:
        for dev in devices:
            fd = os.open(_lock_path(checkpoints_dir, dev), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        release(fds)
        return None
    for fd in fds:
        fcntl.flock(fd, fcntl.LOCK_SH)  # now shared: other jobs may share, starters see it busy
    return fds


def hold(checkpoints_dir: Path, devices: list[str]) -> list[int]:
    """Shared locks a job takes on its own devices (waits only while a starter probes)."""
    fds = []
    for dev in devices:
        fd = os.open(_lock_path(checkpoints_dir, dev), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        fds.append(fd)
    return fds


def release(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)  # closing the last copy of the description drops its flock
    fds.clear()


def busy(checkpoints_dir: Path, devices: list[str]) -> list[str]:
    """The devices among `devices` some narou-tui job holds right now (probe only)."""
    out = []
    for dev in devices:
        path = queue_root(checkpoints_dir) / DEVICES_DIR / f"{dev}.lock"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            out.append(dev)
        finally:
            os.close(fd)
    return out
