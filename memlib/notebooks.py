"""Execute the numbered notebooks with papermill: ``python -m memlib.notebooks``.

Each ``notebooks/NN_*.ipynb`` runs in its own folder (so relative paths work as in
JupyterLab) with the parameters ``preset`` and ``figures_dir`` injected; the executed copy
goes to ``--executed`` (ignored by git), figures to ``--figures``. The committed notebooks are
never modified.

``--processes`` and ``--threads`` say how the machine is used (``make reproduce`` passes ``auto`` for both:
:func:`memlib.hardware.plan_processes`, one process per core on a CPU, one per GPU on GPUs; without them,
one process with the threads torch chooses). With more than one process each notebook is executed by that
many worker processes at once (:func:`run_split`), each with its own kernel; their sweeps share the runs
(see :mod:`memlib.parallel`), and only the first process writes figures, findings and executed copies. The
runs, and so the figures, are those of a serial execution. The runner supervises the workers: when one
fails (a cell, a kernel that does not start or dies) or the notebook passes its time limit
(:data:`TIME_LIMIT_S`, ``--timeout``), it stops the others at once, names the notebook, the process and
where it failed, goes on with the next notebook, and exits with status 1 at the end.

Kernels talk to papermill over Unix domain sockets in folders of their own, and a notebook's processes meet
in a ``torch.distributed`` file store in a folder made for that notebook: no TCP port is probed and
released, so kernels and processes started side by side cannot collide. At the end the runner compares the
verdict words of the findings it wrote with those it replaced (:mod:`memlib.verdicts`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import verdicts
from .parallel import launched

__all__ = ["setup", "NotebookFailed", "notebook_paths", "run_notebook", "run_split", "kernel_manager", "time_limit",
           "TIME_LIMIT_S", "parse_params", "main"]

ROOT = Path(__file__).resolve().parent.parent


def setup(notebook: str, namespace: dict):
    """What a numbered notebook does first, after its parameters cell: ``(P, store)``, from the cell's values
    (``setup("01_dynamics", globals())``): ``preset``, ``cache_dir`` and every parameter of the notebook's
    ``Params`` (a name the namespace lacks is left at the preset's value, as is None).

    ``P``: the notebook's parameters, the preset with those values over it, checked before any work
    (:func:`memlib.presets.resolve`: an unknown preset, or a value of the wrong kind, is refused with what is
    allowed); a warning where held-out strings would miss epochs its figures read (:func:`memlib.presets.check_heldout`).
    ``store``: the run store in ``cache_dir`` (None: ``MEMLIB_CACHE`` or ``~/.cache/memlib``), recording which
    runs this notebook uses, for notebook 00 (:func:`memlib.presets.store_label`). Also sets the figure style and
    pandas' display precision, and prints the environment, the precision line and the store's folder."""
    import pandas as pd

    from . import figures, hardware, presets
    from .store import RunStore
    from .hardware import environment_line

    preset = namespace.get("preset", "default")
    names = presets.finding_of(notebook).Params.names()
    P = presets.resolve(notebook, preset, **{n: namespace.get(n) for n in names})
    presets.check_heldout(notebook, P)
    store = RunStore(namespace.get("cache_dir"), notebook=presets.store_label(notebook, preset))
    figures.style()
    pd.set_option("display.precision", 3)
    print(environment_line())
    print(hardware.precision_line())
    print(f"store: {store.root}")
    return P, store


def finding(lines: list[str], notebook: str, preset: str, figures_dir, *, title: str):
    """Show a notebook's verdict and write it as ``<figures_dir>/<notebook>.md``, the notebook's finding:
    ``make reproduce`` publishes it to ``findings/`` (the figures' staging folder hands it on, see
    :func:`run_notebook`), so that the numbers a reader finds there are the ones this execution printed.
    Returns the verdict as Markdown for the notebook to display."""
    from IPython.display import Markdown

    from .verdicts import tests_table, write_text
    from .version import __version__

    text = "\n".join(lines)
    folder = Path(figures_dir)
    folder.mkdir(parents=True, exist_ok=True)
    family = getattr(lines, "family", None)  # a memlib.stats.Verdict: its tests, as a table and as data
    rows = family.rows() if family is not None else []
    if rows:
        text += (f"\n\n## Tests\n\nOne family of {rows[0]['m']} primary tests, Holm-adjusted (memlib.stats); the "
                 f"others exploratory.\n\n{tests_table(rows)}")
    page = (f"# {title}\n\n"
            f"Written by [`notebooks/{notebook}.ipynb`](../notebooks/{notebook}.ipynb) at the `{preset}` preset "
            f"(memlib {__version__}); `make reproduce` rewrites this file, do not edit it by hand. What the numbers "
            f"mean, and how they compare with the paper: the notebook's last cell.\n\n{text}\n")
    write_text(folder / f"{notebook}.md", page)
    if rows:
        write_text(folder / f"{notebook}.tests.json", json.dumps(rows, indent=1))
    return Markdown(text)


def notebook_paths(folder: str | Path = ROOT / "notebooks") -> list[Path]:
    """The numbered notebooks in the order they run: 01, 02, ..., then 00 (the explorer, which reads
    the runs the others stored)."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"), key=lambda p: (p.name.startswith("00_"), p.name))


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
    kernel_dir = Path(tempfile.mkdtemp(prefix="memlib-k-", dir=_socket_dir()))
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


def _socket_dir() -> str:
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


def parse_params(items: list[str]) -> dict:
    """``["models=[a, b]", "length=64"]`` -> ``{"models": ["a", "b"], "length": 64}`` (values in YAML)."""
    import yaml

    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError(f"--param {item!r} is not allowed: use NAME=VALUE with VALUE in YAML, e.g. 'seeds=[0, 1]'")
        out[name] = _number(yaml.safe_load(value))
    return out


def _number(v):
    """YAML 1.1 reads ``1e-5`` as a string; numbers written that way are meant as numbers."""
    if isinstance(v, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", v):
        return float(v)
    if isinstance(v, list):
        return [_number(x) for x in v]
    if isinstance(v, dict):
        return {k: _number(x) for k, x in v.items()}
    return v


def _positive_int(value: str):
    """``"4"`` -> 4; anything else stays as given, for :func:`memlib.hardware.plan_processes` to refuse by name."""
    return int(value) if value.isdigit() else value


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


def _work(job_file: str) -> int:
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="default",
                   help="smoke, default, paper, or cpu-long (notebooks 01, 02, 03 and 06) (default: %(default)s)")
    p.add_argument("--figures", default=str(ROOT / "figures"), help="folder for PNG and SVG figures")
    p.add_argument("--findings", default=None,
                   help="folder for the findings, each notebook's verdict as markdown (default: 'findings' beside "
                        "the figures folder)")
    p.add_argument("--executed", default=str(ROOT / "build" / "executed"), help="folder for executed copies")
    p.add_argument("--only", default=None,
                   help="run only notebooks whose name contains this (several: separated by commas, e.g. 01,02)")
    p.add_argument("--processes", default="1",
                   help="processes sharing the runs: an integer, or auto (one per core on a CPU, one per GPU; "
                        "make reproduce passes auto; default: %(default)s)")
    p.add_argument("--threads", default="auto",
                   help="torch threads per process: an integer, or auto (the cores divided among the processes; "
                        "default: %(default)s)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=YAML",
                   help="override a notebook parameter, value in YAML, e.g. --param 'models=[EleutherAI/pythia-1b]' "
                        "(repeatable)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="how long one notebook may take before it is stopped and reported as failed (default: by "
                        "preset, " + ", ".join(f"{k} {v // 60:.0f} min" for k, v in TIME_LIMIT_S.items()) + ")")
    p.add_argument("--fsdp", action="store_true",
                   help="with several processes: shard every model over all of them (FSDP) instead of splitting the "
                        "runs between them (models too large for one GPU)")
    p.add_argument("--notebooks", default=str(ROOT / "notebooks"),
                   help="folder of the numbered notebooks (default: the repository's)")
    p.add_argument("--readme", default=None, metavar="README.md",
                   help="rewrite the table of primary tests between this README's markers from the findings written "
                        "(make reproduce passes the repository's README)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # one process of run_split
    args = p.parse_args(argv)
    if args.worker is not None:
        return _work(args.worker)
    if launched():
        p.error(f"this runner was started as one of {os.environ['WORLD_SIZE']} processes (WORLD_SIZE), by accelerate "
                f"or torchrun: it starts and supervises its own processes; run `python -m memlib.notebooks "
                f"--processes N` instead (add --fsdp to shard models over them)")
    if args.timeout is not None and not args.timeout > 0:
        p.error(f"--timeout {args.timeout:g} is not allowed: use a number of seconds > 0")
    try:
        extra = parse_params(args.param)
    except ValueError as e:
        p.error(str(e))
    for name in ("preset", "figures_dir"):
        if name in extra:
            p.error(f"--param {name}=... is not allowed: use --{'preset' if name == 'preset' else 'figures'}")
    wanted = None if args.only is None else [w.strip() for w in args.only.split(",") if w.strip()]
    paths = [q for q in notebook_paths(args.notebooks) if wanted is None or any(w in q.name for w in wanted)]
    if not paths:
        print(f"no notebooks match --only={args.only!r}", file=sys.stderr)
        return 2
    from .presets import PRESETS

    # refused before any notebook runs, not after the others have spent their time (a notebook with no
    # presets of ours, such as a user's own, is not checked)
    lacking = [q.stem for q in paths if q.stem in PRESETS and args.preset not in PRESETS[q.stem]]
    if lacking:
        having = [name for name, table in PRESETS.items() if args.preset in table]
        p.error(f"--preset {args.preset} is not defined for {', '.join(lacking)}: "
                + (f"it is for {', '.join(having)} (pick them with --only)" if having else
                   f"use one of {', '.join(dict.fromkeys(k for t in PRESETS.values() for k in t))}"))
    given = {q: {} for q in paths}  # the overrides each notebook gets
    if extra:
        import papermill as pm

        for q in paths:  # papermill would only warn and run the preset's value instead
            known = set(pm.inspect_notebook(str(q)))
            given[q] = {k: v for k, v in extra.items() if k in known}
            unknown = sorted(set(extra) - known)
            trains = not q.name.startswith("00_")  # the explorer trains nothing: others' parameters skip it
            if unknown and (trains or len(paths) == 1):
                p.error(f"--param {', '.join(unknown)} is not a parameter of {q.name}: allowed are "
                        f"{', '.join(sorted(known - {'preset', 'figures_dir'}))} (use --only to pick one notebook)")
    from .hardware import plan_processes

    try:
        plan = plan_processes(*(v if v == "auto" else _positive_int(v) for v in (args.processes, args.threads)))
    except ValueError as e:
        p.error(f"--processes {args.processes} --threads {args.threads}: {e}")
    if args.fsdp and plan.processes < 2:
        p.error(f"--fsdp with {plan.processes} process is not allowed: FSDP shards models over several processes "
                f"(--processes 2 or more)")
    limit = time_limit(args.preset, args.timeout)
    print(f"[memlib] {plan.why}; each notebook may take up to {limit / 60:.0f} min", flush=True)
    if plan.processes == 1 and (args.threads != "auto" or "OMP_NUM_THREADS" not in os.environ):
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(plan.threads)  # what the kernels use
    findings = Path(args.findings or Path(args.figures).parent / "findings")
    before = verdicts.read_folder(findings)
    failed = []
    with tempfile.TemporaryDirectory(prefix="memlib-run-", dir=_socket_dir()) as scratch:
        for q in paths:  # a failed notebook is reported and the others still run
            t0 = time.perf_counter()
            print(f"[memlib] running {q.name} (preset={args.preset}) ...", flush=True)
            try:
                if plan.processes == 1:
                    run_notebook(q, args.executed, preset=args.preset, figures_dir=args.figures, extra=given[q],
                                 findings_dir=findings, timeout=limit)
                else:
                    run_split(q, plan, preset=args.preset, figures=Path(args.figures).resolve(),
                              findings=findings.resolve(), executed=Path(args.executed).resolve(), extra=given[q],
                              limit=limit, fsdp=args.fsdp, scratch=Path(scratch))
            except NotebookFailed as e:  # a failed cell, a dead kernel, a time-out: report, go on
                failed.append(e)
                print(f"[memlib] FAILED after {time.perf_counter() - t0:.0f} s: {e}; its figures were left as they "
                      f"were", file=sys.stderr, flush=True)
                continue
            print(f"[memlib] {q.name} done in {time.perf_counter() - t0:.0f} s", flush=True)
    if verdicts.write_tests_page(findings):
        print(f"[memlib] every notebook's primary tests: {findings / verdicts.TESTS_PAGE}", flush=True)
        if args.readme and not failed and verdicts.update_readme(args.readme, findings):
            print(f"[memlib] {args.readme}: its table of primary tests rewritten from them", flush=True)
    for line in verdicts.report(before, verdicts.read_folder(findings)):
        print(f"[memlib] {line}", flush=True)
    if failed:
        print(f"[memlib] {len(failed)} of {len(paths)} notebooks failed: "
              + "; ".join(f"{e.notebook} ({'outside a cell' if e.cell is None else f'cell {e.cell}'})" for e in failed),
              file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
