"""Several processes sharing one sweep: started by ``python -m memlib.notebooks --processes N``, or by a
launcher such as Hugging Face accelerate or torchrun.

Every process that calls :func:`memlib.sweep.grid_runs` (or ``exposure_runs``, or executes a notebook that
does) builds the same plan of runs and works through it model by model, each process training the next run
that no other process has claimed yet (so the work balances itself however long each run takes), writes it
to the shared run store, waits for the others at the end, and then returns the whole list, loaded from the
store, exactly as a serial sweep would. Without a launcher nothing changes: one process trains everything
and ``torch.distributed`` is never touched.

How the processes meet (:func:`processes`): where ``MEMLIB_RENDEZVOUS`` names a file (the notebook runner
gives each notebook's processes a fresh one in a folder of its own), through a ``torch.distributed``
file store there: no port is probed, so nothing can take it between the probe and its use. Otherwise on
the launcher's ``MASTER_ADDR`` / ``MASTER_PORT`` (``env://``), as accelerate and torchrun set them.
Every wait on the other processes is bounded by :func:`wait_timeout` (``MEMLIB_WAIT_TIMEOUT`` seconds; the
runner sets it to the notebook's time limit), and a process that waits for more than
:data:`SAY_AFTER_S` seconds says what it waits for, on standard error.

With FSDP (``python -m memlib.notebooks --processes N --fsdp``, or an accelerate launch with
``configs/fsdp.yaml``), runs are not split: every model is sharded over all processes with PyTorch's FSDP2
(:func:`shard_model`: each decoder layer, then the whole model), so one run uses all GPUs' memory,
for models too large for one GPU. Every process then trains every run together, on the same
batch (the averaged gradient equals the one-device gradient); the first process writes the store.

On a machine without a GPU the processes run on the CPU with the gloo backend, one thread each
(``OMP_NUM_THREADS``). With accelerate use ``accelerate launch --multi_gpu`` on a CPU too:
``--cpu --num_processes 2`` quietly starts *one* process.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
import threading
from dataclasses import dataclass

__all__ = ["Processes", "processes", "launched", "is_main_process", "sharded", "shard_model", "all_agree",
           "wait_timeout", "saying", "SAY_AFTER_S"]

# Without MEMLIB_WAIT_TIMEOUT (a script under accelerate or torchrun, whose launcher ends every process when
# one fails): the longest one wait on the other processes may take. A barrier waits for the slowest
# process's last run, so this bounds the longest run of a sweep.
DEFAULT_WAIT_S = 6 * 3600
SAY_AFTER_S = 10.0  # a wait longer than this is said on standard error


def launched() -> bool:
    """True when a distributed launcher started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def sharded() -> bool:
    """True when launched with FSDP: each model is sharded over all processes instead of the
    processes splitting the runs (``ACCELERATE_USE_FSDP``, which accelerate's FSDP config and the
    runner's ``--fsdp`` set)."""
    return launched() and os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in ("true", "1")


def is_main_process() -> bool:
    """True in a serial run and in the first of several launched processes (write figures here)."""
    return int(os.environ.get("RANK", "0")) == 0


def wait_timeout() -> datetime.timedelta:
    """The longest one wait on the other processes may take: ``MEMLIB_WAIT_TIMEOUT`` (seconds, set by the
    notebook runner to the notebook's time limit), else :data:`DEFAULT_WAIT_S`. ValueError naming a bad value."""
    raw = os.environ.get("MEMLIB_WAIT_TIMEOUT")
    if raw is None:
        return datetime.timedelta(seconds=DEFAULT_WAIT_S)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(f"MEMLIB_WAIT_TIMEOUT={raw!r} is not allowed: use a number of seconds > 0")
    return datetime.timedelta(seconds=seconds)


@contextlib.contextmanager
def saying(what: str, after: float | None = None):
    """Say ``what`` (a process waiting, and for what) on standard error if the block takes longer than ``after``
    seconds (default :data:`SAY_AFTER_S`); nothing if it is quicker."""
    timer = threading.Timer(SAY_AFTER_S if after is None else after,
                            lambda: print(f"[memlib] {what}", file=sys.stderr, flush=True))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _minutes(t: datetime.timedelta) -> str:
    s = int(t.total_seconds())
    return f"{s // 3600} h {s % 3600 // 60} min" if s >= 3600 else f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"


@dataclass(frozen=True)
class Processes:
    """This process's place among the launched ones (``rank`` 0 of 1 when not launched)."""

    rank: int = 0
    world: int = 1
    device: str | None = None  # the device a launched process must use; None: memlib's default
    sharded: bool = False  # FSDP: every process takes part in every run
    joined: bool = False  # in a torch.distributed process group with the others

    def wait_for_everyone(self, what: str = "its share") -> None:
        """A barrier: returns once every process has reached it (bounded by :func:`wait_timeout`; after
        :data:`SAY_AFTER_S` seconds the waiting process says so, naming ``what`` it has finished)."""
        if not self.joined:
            return
        import torch.distributed as dist

        with saying(f"process {self.rank + 1} of {self.world} finished {what}; waiting for the other "
                    f"process(es) (at most {_minutes(wait_timeout())})"):
            dist.barrier()

    def broadcast(self, obj):
        """``obj`` as the first process has it (every process calls this; not launched: ``obj``)."""
        if not self.joined:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


_JOINED: list[Processes] = []


def processes() -> Processes:
    """The launched processes, joining their process group on first use (see the module's docstring for
    where they meet). Not launched: ``Processes()``."""
    if not launched():
        return Processes()
    if _JOINED:
        return _JOINED[0]
    import torch
    import torch.distributed as dist

    rank, world = int(os.environ.get("RANK", "0")), int(os.environ["WORLD_SIZE"])
    cuda = torch.cuda.is_available()
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    else:
        device = "cpu"
    if not dist.is_initialized():
        path = os.environ.get("MEMLIB_RENDEZVOUS")
        where = f"file://{path}" if path else "env://"
        with saying(f"process {rank + 1} of {world} is waiting for the other process(es) to join at {where} "
                    f"(at most {_minutes(wait_timeout())})"):
            dist.init_process_group("nccl" if cuda else "gloo", init_method=where, rank=rank, world_size=world,
                                    timeout=wait_timeout())
        _close_at_exit()
    if dist.get_world_size() < 2:
        raise RuntimeError(f"WORLD_SIZE={world} but the process group has {dist.get_world_size()} process(es): "
                           f"check the launch command")
    _JOINED.append(Processes(rank=dist.get_rank(), world=dist.get_world_size(), device=device, sharded=sharded(),
                             joined=True))
    return _JOINED[0]


_CLOSING = []


def _close_at_exit() -> None:
    """Destroy the process group when the interpreter exits (once): left to interpreter teardown,
    its communication threads can abort the process ("terminate called without an active exception")
    after all work succeeded."""
    if _CLOSING:
        return
    import atexit

    def close():
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()

    atexit.register(close)
    _CLOSING.append(close)


def shard_model(net, device: str) -> None:
    """Shard ``net`` in place over all launched processes with FSDP2 (``fully_shard``): first each
    of its decoder layers (the classes in ``net._no_split_modules``), then the whole model (the
    embeddings and output layer, tied or not). Parameters become DTensors whose local shards live
    on ``device``; a forward gathers each layer's weights just in time."""
    import torch
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    procs = processes()
    mesh = init_device_mesh(torch.device(device).type, (procs.world,))
    names = set(getattr(net, "_no_split_modules", None) or [])
    layers = [m for m in net.modules() if type(m).__name__ in names]
    if not layers:
        raise ValueError(f"cannot shard {type(net).__name__}: it names no decoder layer classes (_no_split_modules)")
    for layer in layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(net, mesh=mesh)


def all_agree(flag: bool) -> bool:
    """True when ``flag`` is true in every launched process (sharded runs must all decide alike,
    e.g. whether a run is already in the store); ``flag`` itself when not launched."""
    if not launched():
        return bool(flag)
    import torch
    import torch.distributed as dist

    procs = processes()
    t = torch.tensor([1 if flag else 0], device="cpu" if procs.device == "cpu" else procs.device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())
