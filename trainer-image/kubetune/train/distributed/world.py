"""The process group as the loop sees it: rank, world size, device, and the few collectives it needs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


@dataclass
class World:
    """This process's place in the job (torchrun's RANK / WORLD_SIZE / LOCAL_RANK)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: Any = "cpu"
    owns_group: bool = False  # this World started the process group, so it ends it

    @property
    def is_main(self) -> bool:
        """Rank 0 reports, logs and writes the final artifacts."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over all ranks in one collective (identity for one process)."""
        if not self.distributed:
            return list(values)
        import torch
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return [float(v) for v in tensor.tolist()]

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        """End the process group this World started (torchrun expects a clean exit)."""
        if self.owns_group:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
            self.owns_group = False


def env_rank() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) outside it."""
    return (
        int(os.environ.get("RANK", "0")),
        int(os.environ.get("WORLD_SIZE", "1")),
        int(os.environ.get("LOCAL_RANK", "0")),
    )


def init_world(timeout_seconds: float = 1800.0) -> World:
    """Join the process group torchrun set up (NCCL on GPUs, gloo on CPUs), or a world of one."""
    import torch

    rank, world_size, local_rank = env_rank()
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    device = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    world = World(rank=rank, world_size=world_size, local_rank=local_rank, device=device)
    if world_size > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            # A collective that waits longer than this (a peer died mid-step) fails instead of hanging.
            kwargs: dict[str, Any] = {"timeout": timedelta(seconds=timeout_seconds)}
            if cuda:
                kwargs["device_id"] = device
            dist.init_process_group(backend="nccl" if cuda else "gloo", **kwargs)
            world.owns_group = True
    return world
