"""Several processes sharing one sweep, started by Hugging Face accelerate (or torchrun).

``accelerate launch --multi_gpu --num_processes N script.py`` starts ``N`` copies of a script;
every copy that calls :func:`memlib.sweep.grid_runs` (or ``exposure_runs``, or executes a
notebook that does) builds the same plan of runs and works through it model by model, each
process training the next run that no other process has claimed yet (so the work balances itself
however long each run takes), writes it to the shared run store, waits for the others at the end,
and then returns the whole list, loaded from the store, exactly as a serial sweep would.
``python -m memlib.notebooks`` (``make reproduce``) launches itself so, with
:func:`memlib.hardware.plan_processes` choosing the processes and threads. Without a launcher
nothing changes: one process trains everything and ``torch.distributed`` is never touched.

With an FSDP launch (``accelerate launch --config_file configs/fsdp.yaml``, or ``--use_fsdp``),
runs are not split: every model is sharded over all processes with PyTorch's FSDP2
(:func:`shard_model`: each decoder layer, then the whole model), so one run uses all GPUs' memory,
for models too large for one GPU. Every process then trains every run together, on the same
batch (the averaged gradient equals the one-device gradient); the first process writes the store.

On a machine without a GPU the processes run on the CPU with the gloo backend. Two traps:
``accelerate launch --cpu --num_processes 2`` quietly starts *one* process (use ``--multi_gpu``,
which starts ``N`` processes on the CPU too; memlib cannot see the difference, as the one process
looks like a serial run); and accelerate's default ``PartialState()`` treats CPU processes as
independent single runs unless told ``cpu=True``, so each would train the whole grid (memlib
passes it, and the tests check that two processes split the work). Launchers set
``OMP_NUM_THREADS=1``, one thread per process.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

__all__ = ["Processes", "processes", "launched", "is_main_process", "sharded", "shard_model", "all_agree",
           "next_rendezvous"]

# A barrier waits for the slowest process's share of a grid, which can take hours.
_BARRIER_TIMEOUT = datetime.timedelta(days=2)


def launched() -> bool:
    """True when a distributed launcher started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def sharded() -> bool:
    """True when launched with FSDP: each model is sharded over all processes instead of the
    processes splitting the runs (accelerate sets ``ACCELERATE_USE_FSDP`` for an FSDP config)."""
    return launched() and os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in ("true", "1")


def is_main_process() -> bool:
    """True in a serial run and in the first of several launched processes (write figures here)."""
    return int(os.environ.get("RANK", "0")) == 0


@dataclass(frozen=True)
class Processes:
    """This process's place among the launched ones (``rank`` 0 of 1 when not launched)."""

    rank: int = 0
    world: int = 1
    device: str | None = None  # the device a launched process must use; None: memlib's default
    sharded: bool = False  # FSDP: every process takes part in every run
    _state: object = None

    def wait_for_everyone(self) -> None:
        if self._state is not None:
            self._state.wait_for_everyone()

    def broadcast(self, obj):
        """``obj`` as the first process has it (every process calls this; not launched: ``obj``)."""
        if self._state is None:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def processes() -> Processes:
    """The launched processes, initialising accelerate's process group on first use."""
    if not launched():
        return Processes()
    import torch
    from accelerate import PartialState

    cpu = not torch.cuda.is_available()
    state = PartialState(cpu=cpu, timeout=_BARRIER_TIMEOUT)
    _close_at_exit()
    if state.num_processes < 2:
        raise RuntimeError(f"WORLD_SIZE={os.environ.get('WORLD_SIZE')} but accelerate set up {state.num_processes} "
                           f"process(es) ({state.distributed_type}): check the launch command")
    device = "cpu" if cpu else str(state.device)
    return Processes(rank=state.process_index, world=state.num_processes, device=device, sharded=sharded(),
                     _state=state)


_CLOSING = []
_RUNNER = []  # the runner's own process group (memlib.notebooks), set up by next_rendezvous


def next_rendezvous() -> None:
    """Called by a launched runner (``python -m memlib.notebooks``) before each notebook: waits until every
    process has finished the previous notebook (its kernel shut down), then points the next kernels at a fresh
    port, chosen by the first process, where the first process's kernel hosts a new store. Without it the
    kernels of every notebook would meet in the store of the launcher (torchrun's agent), which keeps the keys
    of the earlier notebooks' process groups: in ``make reproduce`` the two kernels of notebook 04 then both
    waited for ever in ``init_process_group``. Not launched: nothing."""
    if not launched():
        return
    import socket

    import torch.distributed as dist

    if not _RUNNER:
        dist.init_process_group("gloo", timeout=_BARRIER_TIMEOUT)  # on the launcher's MASTER_ADDR / MASTER_PORT
        _close_at_exit()
        _RUNNER.append(True)
    dist.barrier()
    box = [None]
    if dist.get_rank() == 0:
        with socket.socket() as s:
            s.bind(("", 0))
            box[0] = s.getsockname()[1]
    dist.broadcast_object_list(box, src=0)
    # What the next kernels inherit: rank 0's kernel hosts a new store on that port, instead of every kernel
    # using the launcher agent's store, where the keys of earlier notebooks' process groups remain.
    os.environ["MASTER_PORT"] = str(box[0])
    os.environ["TORCHELASTIC_USE_AGENT_STORE"] = "False"


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
