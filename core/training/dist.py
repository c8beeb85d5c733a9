"""Where the job's processes run: rank and world from the environment, the process group, the device."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from core.training.config import TrainConfig


@dataclass
class Dist:
    """Process-group facts (a single process is rank 0 of world 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every rank (a no-op alone)."""
        if self.world > 1:
            import torch.distributed

            torch.distributed.barrier()

    def any_rank(self, flag: bool, device: Any) -> bool:
        """True when `flag` is true on at least one rank (one all-reduce across the job)."""
        if self.world == 1:
            return flag
        import torch

        t = torch.tensor([1 if flag else 0], device=device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item())


def dist_from_env() -> Dist:
    """This process's place in the job, as torchrun sets it (rank 0 of 1 without torchrun)."""
    return Dist(
        rank=int(os.environ.get("RANK", "0")),
        world=int(os.environ.get("WORLD_SIZE", "1")),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def init_process_group(cfg: TrainConfig, dist: Dist) -> None:
    """Join the other ranks (NCCL on GPUs, gloo on CPUs); nothing to join alone."""
    if dist.world > 1:
        import torch
        import torch.distributed as tdist

        backend = "nccl" if torch.cuda.is_available() and cfg.device != "cpu" else "gloo"
        tdist.init_process_group(backend=backend)


def destroy_process_group(dist: Dist) -> None:
    """Leave the process group if one was joined; a job ending in an error must still exit."""
    if dist.world > 1:
        try:
            import torch.distributed as tdist

            if tdist.is_initialized():
                tdist.destroy_process_group()
        except Exception:
            pass


def pick_device(cfg: TrainConfig, dist: Dist) -> Any:
    """The torch device of this rank: its local GPU, or the CPU when asked or when none is visible."""
    import torch

    from core.training.context import StopTraining

    if cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise StopTraining("failed", "device=cuda was asked for but no CUDA GPU is visible", 2)
    torch.cuda.set_device(dist.local_rank)
    return torch.device("cuda", dist.local_rank)


def device_mem_gib(device: Any) -> float | None:
    """Total memory of a GPU device in GiB (None on the CPU)."""
    import torch

    if device.type != "cuda":
        return None
    return torch.cuda.get_device_properties(device).total_memory / 2**30
