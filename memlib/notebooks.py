"""Execute the numbered notebooks with papermill: ``python -m memlib.notebooks``.

Each ``notebooks/NN_*.ipynb`` runs in its own folder (so relative paths work as in
JupyterLab) with the parameters ``preset`` and ``figures_dir`` injected; the executed copy
goes to ``--executed`` (ignored by git), figures to ``--figures``. The committed notebooks are
never modified.

``--processes`` and ``--threads`` say how the machine is used (``make reproduce`` passes ``auto`` for both:
:func:`memlib.hardware.plan_processes`, one process per core on a CPU, one per GPU on GPUs; without them,
one process with the threads torch chooses, as before). With more than one process the
command launches itself under ``accelerate launch --multi_gpu --num_processes N``; every process then
executes the notebooks, their sweeps share the runs between the processes (see :mod:`memlib.parallel`),
and only the first process writes figures and executed copies. The runs, and so the figures, are those
of a serial execution. Launched by hand (``accelerate launch ... -m memlib.notebooks``), it runs as
launched.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["setup", "NotebookFailed", "notebook_paths", "run_notebook", "parse_params", "main"]

ROOT = Path(__file__).resolve().parent.parent


def setup(notebook: str, preset: str, cache_dir=None, **params):
    """What a numbered notebook does first, after its parameters cell: ``(P, store)``.

    ``P``: the notebook's parameters, the preset's values with ``params`` that are not None over them
    (:func:`memlib.presets.resolve`, which refuses an unknown preset or parameter, or a bad value, before any
    work); a warning where held-out strings would miss epochs its figures read (:func:`memlib.presets.check_heldout`).
    ``store``: the run store in ``cache_dir`` (None: ``MEMLIB_CACHE`` or ``~/.cache/memlib``), recording which
    runs this notebook uses, for notebook 00 (:func:`memlib.presets.store_label`). Also sets the figure style and
    pandas' display precision, and prints the environment, the precision line and the store's folder."""
    import pandas as pd

    from . import hardware, plots, presets
    from .store import RunStore
    from .training import environment_line

    P = presets.resolve(notebook, preset, **params)
    presets.check_heldout(notebook, P)
    store = RunStore(cache_dir, notebook=presets.store_label(notebook, preset))
    plots.style()
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

    from . import __version__

    text = "\n".join(lines)
    folder = Path(figures_dir)
    folder.mkdir(parents=True, exist_ok=True)
    page = (f"# {title}\n\n"
            f"Written by [`notebooks/{notebook}.ipynb`](../notebooks/{notebook}.ipynb) at the `{preset}` preset "
            f"(memlib {__version__}); `make reproduce` rewrites this file, do not edit it by hand. What the numbers "
            f"mean, and how they compare with the paper: the notebook's last cell.\n\n{text}\n")
    tmp = folder / f".{notebook}.md.tmp"
    tmp.write_text(page)
    os.replace(tmp, folder / f"{notebook}.md")
    return Markdown(text)


def notebook_paths(folder: str | Path = ROOT / "notebooks") -> list[Path]:
    """The numbered notebooks in the order they run: 01, 02, ..., then 00 (the explorer, which reads
    the runs the others stored)."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"), key=lambda p: (p.name.startswith("00_"), p.name))


class NotebookFailed(RuntimeError):
    """A cell of a notebook raised: ``notebook`` (file name), ``cell`` (index in the executed copy,
    which has papermill's injected-parameters cell), ``execution_count``, ``error`` ("Name: message")
    and ``executed`` (the executed copy, with the error in it)."""

    def __init__(self, notebook: str, cell: int | None, execution_count, error: str, executed: Path, source: str):
        self.notebook, self.cell, self.execution_count, self.error, self.executed = (
            notebook, cell, execution_count, error, executed)
        first = next((line for line in source.splitlines() if line.strip()), "")
        where = ("outside a cell (kernel, time-out or papermill)" if cell is None else
                 f"in cell {cell} (execution count {execution_count}, starting {first[:60]!r})")
        super().__init__(f"{notebook} failed {where}: {error}; the executed copy is {executed}")


def run_notebook(path: str | Path, executed_dir: str | Path, *, preset: str, figures_dir: str | Path,
                 extra: dict | None = None, timeout: int | None = None, findings_dir: str | Path | None = None) -> Path:
    """Execute one notebook; returns the executed copy's path. Raises :class:`NotebookFailed` if a cell
    fails. The notebook writes its figures (and its finding, :func:`finding`) into a staging folder beside
    ``figures_dir``; they replace the files in ``figures_dir`` (the finding: in ``findings_dir``, default
    ``figures_dir``) only once every cell has succeeded, so a failed notebook never leaves a figure or a
    finding that looks current."""
    import papermill as pm

    path = Path(path).resolve()
    executed_dir = Path(executed_dir).resolve()
    executed_dir.mkdir(parents=True, exist_ok=True)
    figures_dir = Path(figures_dir).resolve()
    figures_dir.mkdir(parents=True, exist_ok=True)
    findings_dir = figures_dir if findings_dir is None else Path(findings_dir).resolve()
    out = executed_dir / path.name
    for old in figures_dir.glob(f".staging-{path.stem}-*"):  # left by a runner that was killed
        shutil.rmtree(old, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{path.stem}-", dir=figures_dir))
    try:
        params = {"preset": preset, "figures_dir": str(staging), **(extra or {})}
        try:
            pm.execute_notebook(str(path), str(out), parameters=params, cwd=str(path.parent), kernel_name="python3",
                                progress_bar=False, request_save_on_cell_execute=False, execution_timeout=timeout)
        except pm.PapermillExecutionError as e:
            raise NotebookFailed(path.name, e.cell_index, e.exec_count, f"{e.ename}: {e.evalue}", out,
                                 e.source) from None
        for f in sorted(staging.iterdir()):  # all cells succeeded: publish the figures and the finding
            if f.suffix == ".md":
                findings_dir.mkdir(parents=True, exist_ok=True)
            target = (findings_dir if f.suffix == ".md" else figures_dir) / f.name
            if f.is_dir() and target.is_dir():
                shutil.rmtree(target)
            os.replace(f, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


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


def _launch(plan, argv: list[str]) -> int:
    """This command again, as ``plan.processes`` processes of ``plan.threads`` threads under accelerate."""
    import shutil
    import socket
    import subprocess

    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or shutil.which("accelerate")
    if accelerate is None:
        print("[memlib] accelerate is not installed: run with --processes 1, or install it (pip install accelerate)",
              file=sys.stderr)
        return 2
    with socket.socket() as s:  # a free port for the processes to meet on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gpus = "--multi_gpu"  # also on a CPU: `--cpu` starts one process (see memlib.parallel)
    cmd = [accelerate, "launch", gpus, "--num_machines", "1", "--num_processes", str(plan.processes),
           "--num_cpu_threads_per_process", str(plan.threads), "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(port), "-m", "memlib.notebooks", *argv]
    env = dict(os.environ, MKL_NUM_THREADS=str(plan.threads))
    return subprocess.call(cmd, env=env)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="default",
                   help="smoke, default, paper, or cpu-long (notebooks 01 and 02 only) (default: %(default)s)")
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
    args = p.parse_args(argv)
    try:
        extra = parse_params(args.param)
    except ValueError as e:
        p.error(str(e))
    for name in ("preset", "figures_dir"):
        if name in extra:
            p.error(f"--param {name}=... is not allowed: use --{'preset' if name == 'preset' else 'figures'}")
    wanted = None if args.only is None else [w.strip() for w in args.only.split(",") if w.strip()]
    paths = [q for q in notebook_paths() if wanted is None or any(w in q.name for w in wanted)]
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
    from .parallel import is_main_process, launched, next_rendezvous

    if not launched():
        try:
            plan = plan_processes(*(v if v == "auto" else _positive_int(v) for v in (args.processes, args.threads)))
        except ValueError as e:
            p.error(f"--processes {args.processes} --threads {args.threads}: {e}")
        print(f"[memlib] {plan.why}", flush=True)
        if plan.processes > 1:
            return _launch(plan, sys.argv[1:] if argv is None else list(argv))
        if args.threads != "auto" or "OMP_NUM_THREADS" not in os.environ:  # what the kernels' torch uses
            os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(plan.threads)
    main_process = is_main_process()
    with tempfile.TemporaryDirectory(prefix="memlib-rank-") as scratch:
        figures = args.figures if main_process else Path(scratch) / "figures"
        findings = (args.findings or Path(args.figures).parent / "findings") if main_process else Path(scratch) / "findings"
        executed = args.executed if main_process else Path(scratch) / "executed"
        failed = []
        for q in paths:  # a failed notebook is reported and the others still run
            next_rendezvous()  # launched: the previous notebook's kernels are gone everywhere
            t0 = time.perf_counter()
            if main_process:
                print(f"[memlib] running {q.name} (preset={args.preset}) ...", flush=True)
            try:
                run_notebook(q, executed, preset=args.preset, figures_dir=figures, extra=given[q], findings_dir=findings)
            except Exception as e:  # noqa: BLE001 - a failed cell, a dead kernel, a time-out: report, go on
                failed.append(e if isinstance(e, NotebookFailed) else
                              NotebookFailed(q.name, None, None, f"{type(e).__name__}: {e}", Path(executed) / q.name, ""))
                print(f"[memlib] FAILED: {failed[-1]}; its figures were left as they were", file=sys.stderr, flush=True)
                continue
            if main_process:
                print(f"[memlib] {q.name} done in {time.perf_counter() - t0:.0f} s", flush=True)
    if failed:
        print(f"[memlib] {len(failed)} of {len(paths)} notebooks failed: "
              + "; ".join(f"{e.notebook} ({'outside a cell' if e.cell is None else f'cell {e.cell}'})" for e in failed),
              file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
