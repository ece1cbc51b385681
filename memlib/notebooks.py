"""Execute the numbered notebooks with papermill: ``python -m memlib.notebooks``.

Each ``notebooks/NN_*.ipynb`` runs in its own folder (so relative paths work as in
JupyterLab) with the parameters ``preset`` and ``figures_dir`` injected; the executed copy
goes to ``--executed`` (ignored by git), figures to ``--figures``. The committed notebooks are
never modified.

``--processes`` and ``--threads`` say how the machine is used (``make reproduce`` passes ``auto`` for both:
:func:`memlib.hardware.plan_processes`, one process per core on a CPU, one per GPU on GPUs; without them,
one process with the threads torch chooses). With more than one process each notebook is executed by that
many worker processes at once (:func:`memlib.execution.run_split`), each with its own kernel; their sweeps share the runs
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
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from . import verdicts
from .execution import (TIME_LIMIT_S, NotebookFailed, kernel_manager, run_notebook, run_split, socket_dir,
                        time_limit, work)
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
        return work(args.worker)
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
    with tempfile.TemporaryDirectory(prefix="memlib-run-", dir=socket_dir()) as scratch:
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
