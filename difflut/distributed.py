"""Data-parallel training over several processes (one per GPU, or CPU processes with gloo).

:func:`spawn` starts ``nprocs`` local processes that each call ``fn(*args)`` inside an initialised
process group (NCCL when every process gets a GPU, gloo otherwise); a launcher such as ``torchrun``
that sets ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT`` is picked up by
:func:`init_from_env` instead. :func:`difflut.training.train` sees the initialised group and then
wraps the model in :class:`torch.nn.parallel.DistributedDataParallel`, gives each rank every
``world_size``-th sample of the epoch's permutation (:func:`shard`), sums the epoch statistics over the
ranks and writes checkpoints and logs on rank 0 only.
"""

from __future__ import annotations

import os
import socket
import sys

import torch
import torch.distributed as dist


def active() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 outside a process group)."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """The number of processes (1 outside a process group)."""
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """True on rank 0 (and outside a process group): the process that writes checkpoints and logs."""
    return rank() == 0


def shard(order: torch.Tensor, rank_: int | None = None, world: int | None = None) -> torch.Tensor:
    """This rank's samples of an epoch's permutation ``order`` (N,): ``order[rank::world]``, cut to the
    same length on every rank (the last ``N % world`` samples of the epoch are left out) so that every
    rank runs the same number of steps."""
    rank_ = rank() if rank_ is None else rank_
    world = world_size() if world is None else world
    per_rank = len(order) // world
    return order[rank_::world][:per_rank]


def all_sum(t: torch.Tensor) -> torch.Tensor:
    """``t`` summed over the ranks (in place; returns it); ``t`` unchanged outside a process group."""
    if active():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _backend(use_cuda: bool) -> str:
    return "nccl" if use_cuda else "gloo"


def _worker(local_rank: int, nprocs: int, use_cuda: bool, fn, args) -> None:
    os.environ.update(RANK=str(local_rank), WORLD_SIZE=str(nprocs), LOCAL_RANK=str(local_rank))
    init_from_env(use_cuda)
    if local_rank != 0:  # rank-0 logs: the other ranks stay silent
        sys.stdout = open(os.devnull, "w")
    try:
        fn(*args)
    finally:
        dist.destroy_process_group()


def init_from_env(use_cuda: bool | None = None) -> None:
    """Join the process group described by ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``
    (and ``LOCAL_RANK``), as ``torchrun`` sets them; with CUDA, select GPU ``LOCAL_RANK`` and use NCCL."""
    if dist.is_initialized():
        return
    if use_cuda is None:
        use_cuda = torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", os.environ.get("RANK", "0")))
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(f"rank {local_rank} needs GPU {local_rank}, but only "
                               f"{torch.cuda.device_count()} are visible")
        torch.cuda.set_device(local_rank)
        # a CUDA graph may capture NCCL all-reduces only without the watchdog's async error handling
        os.environ.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "0")
    dist.init_process_group(_backend(use_cuda))


def spawn(fn, args: tuple, nprocs: int, use_cuda: bool) -> None:
    """Run ``fn(*args)`` in ``nprocs`` local processes forming one process group (NCCL on GPUs
    ``0..nprocs-1`` with ``use_cuda``, else gloo on the CPU); returns when all have finished."""
    if not isinstance(nprocs, int) or nprocs < 1:
        raise ValueError(f"nprocs must be a positive int, got {nprocs!r}")
    if use_cuda and nprocs > torch.cuda.device_count():
        raise ValueError(f"{nprocs} GPU processes requested, but only {torch.cuda.device_count()} GPUs are visible")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(_free_port()))
    torch.multiprocessing.spawn(_worker, args=(nprocs, use_cuda, fn, args), nprocs=nprocs, join=True)
