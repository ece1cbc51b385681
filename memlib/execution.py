"""How :mod:`memlib.notebooks` executes one notebook: in one papermill kernel (:func:`run_notebook`), or split over
several worker processes it supervises (:func:`run_split`), each stopped at once when one fails or the notebook
passes its time limit (:data:`TIME_LIMIT_S`). Kernels talk over Unix domain sockets in folders of their own
(:func:`kernel_manager`), so kernels started side by side cannot collide."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["NotebookFailed", "run_notebook", "run_split", "kernel_manager", "time_limit", "TIME_LIMIT_S",
           "remove_staging", "socket_dir", "work"]


class NotebookFailed(RuntimeError):
    """A notebook failed: ``notebook`` (file name), ``cell`` (index in the executed copy, which has papermill's
    injected-parameters cell; None: outside a cell, e.g. a kernel that did not start or died, or a time-out),
    ``execution_count``, ``error`` ("Name: message"), ``executed`` (the executed copy, with the error in it) and
    ``process`` (with several processes: which one failed, in words)."""

    def __init__(self, notebook: str, cell: int | None, execution_count, error: str, executed: Path, source: str,
                 process: str | None = None):
        self.notebook, self.cell, self.execution_count, self.error, self.executed, self.source, self.process = (
            notebook, cell, execution_count, error, executed, source, process)
        first = next((line for line in source.splitlines() if line.strip()), "")
        where = ("outside a cell (kernel, time-out or papermill)" if cell is None else
                 f"in cell {cell} (execution count {execution_count}, starting {first[:60]!r})")
        who = f" in {process}" if process else ""
        super().__init__(f"{notebook} failed {where}{who}: {error}; the executed copy is {executed}")


def run_notebook(path: str | Path, executed_dir: str | Path, *, preset: str, figures_dir: str | Path,
                 extra: dict | None = None, timeout: int | None = None, findings_dir: str | Path | None = None) -> Path:
    """Execute one notebook; returns the executed copy's path. Raises :class:`NotebookFailed` if a cell
    fails or the kernel does (``cell`` None). ``timeout``: seconds a cell may take (None: no limit). The notebook
    writes its figures (and its finding, :func:`finding`) into a staging folder beside ``figures_dir``; they
    replace the files in ``figures_dir`` (the finding: in ``findings_dir``, default ``figures_dir``) only once
    every cell has succeeded, so a failed notebook never leaves a figure or a finding that looks current.

    The kernel talks to papermill over Unix domain sockets in a folder of its own (:func:`kernel_manager`), not
    over TCP ports probed as free: kernels started side by side cannot take each other's ports."""
    import papermill as pm

    path = Path(path).resolve()
    executed_dir = Path(executed_dir).resolve()
    executed_dir.mkdir(parents=True, exist_ok=True)
    figures_dir = Path(figures_dir).resolve()
    figures_dir.mkdir(parents=True, exist_ok=True)
    findings_dir = figures_dir if findings_dir is None else Path(findings_dir).resolve()
    out = executed_dir / path.name
    remove_staging(figures_dir, path.stem)  # left by a runner that was killed
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{path.stem}-", dir=figures_dir))
    kernel_dir = Path(tempfile.mkdtemp(prefix="memlib-k-", dir=socket_dir()))
    try:
        params = {"preset": preset, "figures_dir": str(staging), **(extra or {})}
        try:
            pm.execute_notebook(str(path), str(out), parameters=params, cwd=str(path.parent), kernel_name="python3",
                                progress_bar=False, request_save_on_cell_execute=False, execution_timeout=timeout,
                                kernel_manager_class=kernel_manager(kernel_dir))
        except pm.PapermillExecutionError as e:
            raise NotebookFailed(path.name, e.cell_index, e.exec_count, f"{e.ename}: {e.evalue}", out,
                                 e.source) from None
        except Exception as e:  # noqa: BLE001 - the kernel did not start, died, or timed out
            raise NotebookFailed(path.name, None, None, f"{type(e).__name__}: {e}", out, "") from None
        for f in sorted(staging.iterdir()):  # all cells succeeded: publish the figures and the finding
            finding = f.suffix in (".md", ".json")  # the verdict, and its tests as data
            if finding:
                findings_dir.mkdir(parents=True, exist_ok=True)
            target = (findings_dir if finding else figures_dir) / f.name
            if f.suffix == ".md":  # its link to the notebook, from where it is published (findings/cpu-long/: ../../)
                f.write_text(f.read_text().replace(f"](../notebooks/{path.name})",
                                                   f"]({os.path.relpath(path, findings_dir)})", 1))
            if f.is_dir() and target.is_dir():
                shutil.rmtree(target)
            os.replace(f, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(kernel_dir, ignore_errors=True)
    return out


def remove_staging(figures_dir: str | Path, stem: str) -> None:
    """Remove the staging folders a notebook's execution left in ``figures_dir`` (a killed process leaves its own)."""
    for old in Path(figures_dir).glob(f".staging-{stem}-*"):
        shutil.rmtree(old, ignore_errors=True)


def socket_dir() -> str:
    """A folder for kernels' sockets with a short path (a Unix socket's path has at most about 100 bytes)."""
    tmp = tempfile.gettempdir()
    return tmp if len(tmp) <= 40 or not os.path.isdir("/tmp") else "/tmp"


def kernel_manager(folder: str | Path):
    """jupyter_client's ``AsyncKernelManager`` whose kernels use the ``ipc`` transport (Unix domain sockets) in
    ``folder``, which no other kernel uses; on a system without Unix sockets (Windows), TCP as usual."""
    from jupyter_client import AsyncKernelManager
    from traitlets import default

    class LocalKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self):
            return "ipc" if os.name == "posix" else "tcp"

        @default("connection_file")
        def _connection_file_default(self):
            return os.path.join(str(folder), "kernel.json")

        async def _async_interrupt_kernel(self):
            # jupyter_client interrupts a kernel before asking it to shut down; at a notebook's end the kernel may
            # still be finishing its last reply and logs "KeyboardInterrupt caught in kernel" (an ERROR that is none)
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return LocalKernelManager


# How long one notebook may take, by preset, before the runner stops it (``--timeout`` overrides): about 10 times
# what it took here (benchmarks/RESULTS.md: at most 10 minutes a notebook at the default preset on 2 cores, 45 at
# cpu-long); also the longest one process waits for another inside a notebook (memlib.parallel.wait_timeout).
TIME_LIMIT_S = {"smoke": 20 * 60, "default": 2 * 3600, "cpu-long": 8 * 3600, "paper": 24 * 3600}


# A process still running after the others of its notebook failed: asked to stop, then killed after this long.
_STOP_GRACE_S = 5.0


def time_limit(preset: str, timeout: float | None = None) -> float:
    """Seconds one notebook may take: ``timeout`` if given, else :data:`TIME_LIMIT_S` for the preset (2 hours for
    a preset it does not name)."""
    return float(timeout) if timeout is not None else float(TIME_LIMIT_S.get(preset, 2 * 3600))


def _stop(procs) -> None:
    """Stop processes and everything they started (a notebook's kernel runs in a session of its own): SIGTERM,
    then SIGKILL whatever is left after :data:`_STOP_GRACE_S` seconds."""
    import psutil

    tree = []
    for p in procs:
        try:
            parent = psutil.Process(p.pid)
            tree += [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    for q in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            q.terminate()
    _, alive = psutil.wait_procs(tree, timeout=_STOP_GRACE_S)
    for q in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            q.kill()
    psutil.wait_procs(alive, timeout=_STOP_GRACE_S)
    for p in procs:
        with contextlib.suppress(Exception):
            p.wait(timeout=_STOP_GRACE_S)


# How a process's error reads when it only echoes another process's failure (gloo: "Connection closed by peer ...
# typically caused by a remote worker crashing"), and how long the runner waits for that other process's report.
_ECHOES = ("closed by peer", "reset by peer", "remote worker", "DistBackendError", "DistNetworkError", "Broken pipe")


_ECHO_GRACE_S = 30.0


def _echo(e: NotebookFailed) -> bool:
    """Whether a process's failure reads as the echo of another's (its connection to a peer broke)."""
    return any(s in e.error for s in _ECHOES)


def _failure(folder: Path, rank: int, code: int | None, notebook: str, executed: Path) -> NotebookFailed:
    """What a worker process reported (its ``rank<r>.json``), or what its exit says when it reported nothing."""
    report = folder / f"rank{rank}.json"
    if report.is_file():
        r = json.loads(report.read_text())
        if not r.get("ok"):
            return NotebookFailed(notebook, r["cell"], r["execution_count"], r["error"], Path(r["executed"]),
                                  r.get("source", ""))
    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
    return NotebookFailed(notebook, None, None, f"ProcessError: its process ended ({how}) without a report", executed, "")


def run_split(path: Path, plan, *, preset: str, figures: Path, findings: Path, executed: Path, extra: dict,
              limit: float, fsdp: bool, scratch: Path) -> None:
    """Execute one notebook in ``plan.processes`` worker processes (each runs papermill and a kernel; their
    sweeps share the runs) and supervise them: returns when all succeeded; when one fails (a cell, a kernel that
    does not start or dies, a killed process) or ``limit`` seconds pass, stops the others at once and raises
    :class:`NotebookFailed` naming the notebook, the process and where it failed. Only the first process writes
    figures, the finding and the executed copy; a failed one's executed copy replaces the first's.

    The processes meet in a ``torch.distributed`` file store in a folder made for this notebook
    (``MEMLIB_RENDEZVOUS``), so no port is probed, and no process waits on one that is gone: the supervisor ends
    the whole notebook instead."""
    import subprocess

    folder = Path(tempfile.mkdtemp(prefix=f"{path.stem}-", dir=scratch))
    world = plan.processes
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ACCELERATE_", "FSDP_", "TORCHELASTIC_"))}
    env.update(WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world), MEMLIB_RENDEZVOUS=str(folder / "rendezvous"),
               MEMLIB_WAIT_TIMEOUT=str(limit), OMP_NUM_THREADS=str(plan.threads), MKL_NUM_THREADS=str(plan.threads))
    env.pop("MASTER_ADDR", None), env.pop("MASTER_PORT", None)
    if fsdp:
        env["ACCELERATE_USE_FSDP"] = "true"
    procs = []
    for rank in range(world):
        mine = {"figures": figures, "findings": findings, "executed": executed} if rank == 0 else {
            k: folder / f"rank{rank}" / k for k in ("figures", "findings", "executed")}
        job = dict(path=str(path), preset=preset, extra=extra, report=str(folder / f"rank{rank}.json"),
                   **{k: str(v) for k, v in mine.items()})
        (folder / f"job{rank}.json").write_text(json.dumps(job))
        with open(folder / f"rank{rank}.log", "wb") as log:  # what the worker and its kernel print
            procs.append(subprocess.Popen([sys.executable, "-m", "memlib.notebooks", "--worker",
                                           str(folder / f"job{rank}.json")], stdout=log, stderr=subprocess.STDOUT,
                                          env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                                          start_new_session=True))
    deadline, failures, grace = time.monotonic() + limit, {}, None
    try:
        while True:
            for r, p in enumerate(procs):
                if r not in failures and p.poll() not in (None, 0):
                    failures[r] = _failure(folder, r, p.returncode, path.name, executed / path.name)
            if failures:
                # a process whose peer failed fails too ("Connection closed by peer"): wait a little for the
                # peer's own report, so that the cause is named, not its echo
                if any(not _echo(e) for e in failures.values()):
                    break
                grace = grace or time.monotonic() + _ECHO_GRACE_S
                if time.monotonic() > grace or all(p.poll() is not None for p in procs):
                    break
            elif all(p.poll() == 0 for p in procs):
                return
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        _stop([p for p in procs if p.poll() is None])
    remove_staging(figures, path.stem)
    if not failures:
        raise NotebookFailed(path.name, None, None, f"TimeoutError: not finished within its time limit of "
                                                    f"{limit:.0f} s (--timeout)", executed / path.name, "",
                             process=f"all {world} processes (stopped)")
    failed = min(failures, key=lambda r: (_echo(failures[r]), r))
    e = failures[failed]
    if e.cell is None:  # a kernel or a process failed: what it printed says why
        tail = (folder / f"rank{failed}.log").read_text(errors="replace").strip().splitlines()[-15:]
        print("\n".join(f"[memlib]   process {failed + 1}: {line}" for line in tail), file=sys.stderr, flush=True)
    if failed != 0 and e.executed.is_file():  # the failed process's copy shows the error
        executed.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(e.executed, executed / path.name)
    echoed = len(failures) - 1  # the others failed with it (their connection to it broke), or were stopped
    if world == 2:
        others = "the other process " + ("failed with it" if echoed else "stopped")
    else:
        others = ", ".join(x for x in (f"{world - 1 - echoed} stopped" if world - 1 - echoed else "",
                                       f"{echoed} failed with it" if echoed else "") if x) + " of the others"
    raise NotebookFailed(path.name, e.cell, e.execution_count, e.error, executed / path.name, e.source,
                         process=f"process {failed + 1} of {world} ({others})")


def work(job_file: str) -> int:
    """A worker of :func:`run_split`: executes its notebook and writes ``{"ok": ...}`` (and where it failed) to
    the job's report file."""
    job = json.loads(Path(job_file).read_text())
    report = Path(job["report"])
    try:
        run_notebook(job["path"], job["executed"], preset=job["preset"], figures_dir=job["figures"],
                     extra=job["extra"], findings_dir=job["findings"])
    except NotebookFailed as e:
        report.write_text(json.dumps(dict(ok=False, cell=e.cell, execution_count=e.execution_count, error=e.error,
                                          executed=str(e.executed), source=getattr(e, "source", ""))))
        return 1
    report.write_text(json.dumps({"ok": True}))
    return 0
