"""What the machine offers a run: native bf16, cores, and how a reproduction spreads over them.

**Precision.** A run computes in ``"fp32"`` (fp32 weights and arithmetic) or ``"bf16"`` (fp32 master
weights, forward and backward under bf16 autocast). :func:`resolve_precision` turns what a user asks
for into what the run records in its key (``autocast``: ``None`` or ``"bf16"``):

* ``"fp32"``, ``"bf16"``: as named, on any device;
* ``"auto"``: bf16 where the device computes it natively (a CUDA GPU with bf16, or a CPU that reports
  ``avx512_bf16`` / ``amx_bf16`` on x86 or ``bf16`` on Arm), fp32 elsewhere;
* ``None`` (the library's default): bf16 on CUDA, fp32 on every CPU, so that a CPU run's results never
  depend on which CPU made them.

Native support is read from what the CPU reports (:func:`cpu_info`), never guessed from its name, and
:func:`bf16_matmul_speedup` measures what it is worth here; :func:`precision_line` says both in one line,
which every notebook prints.

**Cores.** :func:`plan_processes` chooses how many processes ``make reproduce`` launches and how many
threads each uses, from the cores this process may run on and the memory the machine has (see its
docstring for the measurements behind it).
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass

from .version import __version__

__all__ = ["parse_cpuinfo", "environment", "environment_line", "PRECISIONS", "CPUInfo", "cpu_info", "check_precision", "resolve_precision", "bf16_matmul_speedup", "precision_line",
           "usable_cores", "memory_gib", "Plan", "plan_processes"]

PRECISIONS = ("fp32", "bf16", "auto")
# the CPU flags that mean bf16 arithmetic in hardware (Linux /proc/cpuinfo names)
_X86_BF16 = ("avx512_bf16", "amx_bf16")
_ARM_BF16 = ("bf16",)


@dataclass(frozen=True)
class CPUInfo:
    """The CPU as it reports itself: ``model`` (its name), ``machine`` (``x86_64``, ``arm64``, ...),
    ``bf16_flags`` (the reported features that give native bf16: empty when there are none) and
    ``source`` (where they were read)."""

    model: str
    machine: str
    bf16_flags: tuple[str, ...]
    source: str

    @property
    def native_bf16(self) -> bool:
        return bool(self.bf16_flags)


def parse_cpuinfo(text: str, machine: str) -> tuple[str, tuple[str, ...]]:
    """``(model name, native-bf16 flags)`` from the text of Linux's ``/proc/cpuinfo`` (its first CPU)."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            if fields:  # a blank line ends the first CPU's block
                break
            continue
        fields.setdefault(key.strip().lower(), value.strip())
    model = fields.get("model name") or fields.get("cpu model") or fields.get("hardware") or machine
    flags = set((fields.get("flags") or fields.get("features") or "").split())
    wanted = _ARM_BF16 if machine.lower() in ("aarch64", "arm64") else _X86_BF16
    return model, tuple(f for f in wanted if f in flags)


@functools.lru_cache(maxsize=1)
def cpu_info() -> CPUInfo:
    """What this machine's CPU reports: Linux's ``/proc/cpuinfo``, macOS's ``sysctl``, else PyTorch's
    own CPU feature check (``torch.cpu``)."""
    machine = platform.machine() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            model, flags = parse_cpuinfo(f.read(), machine)
        return CPUInfo(model, machine, flags, "/proc/cpuinfo")
    except OSError:
        pass
    if sys.platform == "darwin":
        def sysctl(name):
            try:
                return subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                return ""
        model = sysctl("machdep.cpu.brand_string") or machine
        return CPUInfo(model, machine, ("FEAT_BF16",) if sysctl("hw.optional.arm.FEAT_BF16") == "1" else (),
                       "sysctl")
    import torch

    flags = tuple(name for name, check in (("avx512_bf16", "_is_avx512_bf16_supported"),
                                           ("amx_tile", "_is_amx_tile_supported"))
                  if getattr(torch.cpu, check, lambda: False)())
    return CPUInfo(platform.processor() or machine, machine, flags, "torch.cpu")


def _native_bf16(device) -> bool:
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_info().native_bf16


def check_precision(precision):
    """``precision`` if it is one of :data:`PRECISIONS` or None, else ValueError naming it."""
    if precision is not None and (not isinstance(precision, str) or precision not in PRECISIONS):
        raise ValueError(f"precision={precision!r} is not allowed: use one of {', '.join(map(repr, PRECISIONS))} or None "
                         f"(bf16 on CUDA, fp32 on a CPU)")
    return precision


def resolve_precision(precision, device) -> str | None:
    """What a run on ``device`` computes in, as its key records it: ``"bf16"`` (autocast) or ``None`` (fp32).
    ``precision``: ``"fp32"``, ``"bf16"``, ``"auto"`` (bf16 where the device has it natively) or ``None``
    (bf16 on CUDA, fp32 on any CPU). ValueError naming any other value."""
    import torch

    check_precision(precision)
    device = torch.device(device)
    if precision is None:
        return "bf16" if device.type == "cuda" else None
    if precision == "auto":
        return "bf16" if _native_bf16(device) else None
    return "bf16" if precision == "bf16" else None


def _rate(a, b, seconds: float) -> float:
    """Multiplications of ``a @ b`` per second, timed for about ``seconds`` after one warm-up."""
    a @ b
    n, t0 = 0, time.perf_counter()
    while True:
        a @ b
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return n / elapsed


@functools.lru_cache(maxsize=4)
def bf16_matmul_speedup(n: int = 256, seconds: float = 0.1) -> float:
    """How many times faster an ``n x n`` matrix product runs in bf16 than in fp32 on this CPU, with the
    threads torch uses now: measured (about ``2 * seconds``, more where bf16 is emulated and one product
    takes longer), once per process."""
    import torch

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    fp32 = _rate(a, b, seconds)
    bf16 = _rate(a.bfloat16(), b.bfloat16(), seconds)
    return bf16 / fp32


def precision_line(device=None) -> str:
    """One line: whether this machine computes bf16 natively, what a bf16 matrix product is worth here
    (measured now on a CPU), and which ``precision`` to use."""
    import torch

    from .models import default_device

    device = torch.device(device or default_device())
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return (f"GPU {name}: {'native' if torch.cuda.is_bf16_supported() else 'no native'} bf16; precision=None or "
                f"'auto' trains under bf16 autocast there (fp32 master weights)")
    cpu = cpu_info()
    speedup = bf16_matmul_speedup()
    if cpu.native_bf16:
        return (f"CPU {cpu.model}: native bf16 ({', '.join(cpu.bf16_flags)}, from {cpu.source}); a bf16 matrix product "
                f"runs {speedup:.1f}x as fast as fp32 here (measured now). precision='bf16' or 'auto' speeds up long "
                f"strings (benchmarks/RESULTS.md); presets keep 'fp32' so that results do not depend on the CPU")
    return (f"CPU {cpu.model}: no native bf16 ({' or '.join(_ARM_BF16 if cpu.machine in ('aarch64', 'arm64') else _X86_BF16)} "
            f"not reported by {cpu.source}); a bf16 matrix product runs at {speedup:.2g}x the speed of fp32 here "
            f"(measured now): keep precision='fp32'")


# ---- cores and processes -------------------------------------------------------------------------------

def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells, else the CPU count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def memory_gib() -> float | None:
    """The machine's physical memory in GiB, or None where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    except (AttributeError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class Plan:
    """How a reproduction uses the machine: ``processes`` x ``threads`` (torch threads per process),
    and ``why`` in words."""

    processes: int
    threads: int
    why: str


# Memory a process needs to train SmolLM2-135M (weights, gradients, AdamW moments, the initial weights kept to
# restore, activations), with room for longer strings: the peak resident memory that make bench-cores measures
# (benchmarks/RESULTS.md, "Processes and threads"), rounded up. It bounds how many processes fit in memory.
PROCESS_GIB = 4.0


def plan_processes(processes="auto", threads="auto", *, cores: int | None = None, memory: float | None = None,
                   gpus: int | None = None) -> Plan:
    """How many processes a reproduction launches (each trains its share of every sweep: :mod:`memlib.parallel`)
    and how many torch threads each uses.

    ``processes`` / ``threads``: an integer >= 1, or ``"auto"``:

    * processes: one per GPU where there are GPUs; on a CPU, one per ``threads`` cores (one per core when
      ``threads`` is auto), at most as many as fit in three quarters of the memory at :data:`PROCESS_GIB` each;
    * threads: the cores divided among the processes (at least 1).

    Why one process per core on a CPU: one thread per process keeps a run from waiting on a thread whose
    core another process has taken (``make bench-cores`` measures processes x threads, alone and beside a
    busy process; recorded results: benchmarks/RESULTS.md, "Processes and threads"). ``cores``, ``memory`` (GiB) and ``gpus`` default to
    this machine's. ValueError naming a bad value."""
    for name, value in (("processes", processes), ("threads", threads)):
        if value != "auto" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name}={value!r} is not allowed: use 'auto' or an integer >= 1")
    cores = usable_cores() if cores is None else cores
    memory = memory_gib() if memory is None else memory
    if gpus is None:
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    why = []
    if processes != "auto":
        n = processes
        why.append("processes as asked")
    elif gpus:
        n = gpus
        why.append(f"one process per GPU ({gpus})")
    else:
        n = max(1, cores // (1 if threads == "auto" else threads))
        why.append(f"{cores} cores / {1 if threads == 'auto' else threads} thread(s) a process")
        fit = int(0.75 * memory // PROCESS_GIB) if memory is not None else n
        if fit < n:
            n = max(1, fit)
            why.append(f"at most {n} in three quarters of {memory:.0f} GiB at {PROCESS_GIB} GiB a process")
    t = max(1, cores // n) if threads == "auto" else threads
    return Plan(n, t, f"{n} process(es) x {t} thread(s): " + "; ".join(why))


def environment(device: str | None = None) -> dict:
    """What results depend on besides their configuration: library versions, the device, the weights'
    default dtype and autocast on it, and the CPU threads. Every stored run records these in its
    ``meta``; every notebook prints :func:`environment_line`."""
    import numpy as np
    import torch
    import transformers

    from .models import default_device

    device = str(device or default_device())
    return {"memlib": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "numpy": np.__version__, "python": sys.version.split()[0], "platform": platform.platform(),
            "device": device, "weights_dtype": "float32", "autocast": "bf16" if device.startswith("cuda") else "none",
            "torch_threads": torch.get_num_threads()}


def environment_line(device: str | None = None) -> str:
    """:func:`environment` on one line, for notebooks to print."""
    env = environment(device)
    return (f"memlib {env['memlib']}, torch {env['torch']}, transformers {env['transformers']}, numpy {env['numpy']}, "
            f"python {env['python']}; device {env['device']}, weights {env['weights_dtype']}, autocast "
            f"{env['autocast']}, {env['torch_threads']} CPU threads; {env['platform']}")
