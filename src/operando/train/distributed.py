"""Data-parallel helpers: the same ``train()`` runs alone or under ``torchrun``.

Under ``torchrun --nproc_per_node=N`` (which sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT) :func:`setup` joins the process group (gloo on CPU, NCCL on CUDA). Every rank
draws the same global batch from the same seeded generator and keeps its contiguous shard,
so N ranks compute exactly the gradient of one process on the whole batch.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """rank and world_size of this process; local_rank picks its GPU; owns_group: setup()
    created the process group (so teardown() destroys it)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def shard(self, global_batch: int) -> tuple[int, int]:
        """Rows [start, stop) of a global batch that this rank processes."""
        if global_batch % self.world_size:
            raise ValueError(f"batch size {global_batch} is not divisible by the "
                             f"{self.world_size} processes")
        size = global_batch // self.world_size
        return self.rank * size, (self.rank + 1) * size


def setup(device_type: str) -> DistInfo:
    """Join (or reuse) the process group when WORLD_SIZE > 1; ``device_type`` 'cpu' or 'cuda'."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(),
                        int(os.environ.get("LOCAL_RANK", dist.get_rank())), owns_group=False)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(),
                    int(os.environ.get("LOCAL_RANK", "0")), owns_group=True)


def teardown(info: DistInfo) -> None:
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def mean_over_ranks(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Average a tensor over all ranks (identity when not distributed)."""
    if not info.enabled:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / info.world_size


def free_port() -> int:
    """A TCP port free on localhost now (for MASTER_PORT in tests and single-node launches)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
