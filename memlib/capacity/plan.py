"""Notebook 06's parameters, presets and run plan: datasets of uniform random strings sized in bits per parameter."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

from ..checks import check_number
from ..config import per_model
from ..hardware import check_precision
from ..models import param_counts
from ..parameters import NotebookParams
from ..sweep import grids_runs


def n_strings_for(bits: float, length: int, alphabet_size: int) -> int:
    """Uniform random strings of ``length`` over ``alphabet_size`` letters whose information first reaches
    ``bits`` (at least 2: one string holds no held-out-free dataset)."""
    check_number("length", length, int, 1)
    check_number("alphabet_size", alphabet_size, int, 2)
    check_number("bits", bits, float, 0, allow_equal=False)
    return max(2, math.ceil(bits / (length * math.log2(alphabet_size)) - 1e-9))


def _half_eval(eval_every, half: int):
    """The held-out schedule of a dataset's shorter run: a list's epochs up to ``half`` (every run measures its
    held-out strings at its end too)."""
    if isinstance(eval_every, (list, tuple)):
        return [e for e in eval_every if e <= half] or [0]
    return eval_every


def _epochs_within(epochs: int, max_steps: int | None, batches: int) -> int:
    """A dataset's longer run: ``epochs``, or fewer where ``batches`` a epoch would take it past ``max_steps``
    optimiser steps (at least 2 epochs, so that its shorter run has one)."""
    if max_steps is None:
        return epochs
    return max(2, min(epochs, max_steps // batches))


def plan(P: Params) -> list[dict]:
    """:func:`memlib.sweep.grids_runs`' grids for notebook 06's parameters ``P``: per model (``models``), alphabet
    size (``alphabet_sizes``, one list or per model) and multiple of the model's parameters (``data_per_param``, bits
    of data per parameter), ``n_strings_for`` uniform strings of ``length``, with ``n_test_strings`` held-out strings,
    trained twice, for ``epochs`` (fewer where that passes ``max_steps`` optimiser steps: a large dataset's epoch is
    many steps) and for half of them (the doubling rule, :mod:`memlib.capacity.saturation`), each with the recipe
    (``lr``, ``lr_schedule``, ``warmup``, ``shuffle``, ``batch_size``) over ``seeds`` (one list or per model).
    Everything is checked before any model is loaded: ValueError naming the value."""
    ratios = P.data_per_param
    if not isinstance(ratios, (list, tuple)) or not ratios:
        raise ValueError(f"data_per_param={ratios!r} is not allowed: give a list of bits of data per parameter")
    for r in ratios:
        check_number("data_per_param", r, float, 0, allow_equal=False)
    if len(set(ratios)) != len(ratios):
        raise ValueError(f"data_per_param={ratios!r} is not allowed: give each multiple once")
    if not isinstance(P.models, (list, tuple)) or not P.models:
        raise ValueError(f"models={P.models!r} is not allowed: give a list of model names")
    check_number("tol", P.tol, float, 0, allow_equal=False)
    check_number("plateau_tol", P.plateau_tol, float, 0, allow_equal=False)
    if P.tol >= 1 or P.plateau_tol >= 1:
        raise ValueError(f"tol={P.tol!r}, plateau_tol={P.plateau_tol!r}: use shares in (0, 1)")
    grids = []
    for model in P.models:
        total = param_counts(model)["total"]
        epochs, seeds, alphabets = (per_model(v, model) for v in (P.epochs, P.seeds, P.alphabet_sizes))
        max_steps = per_model(P.max_steps, model)
        check_number("epochs", epochs, int, 2)
        if max_steps is not None:
            check_number("max_steps", max_steps, int, 2)
        if not isinstance(alphabets, (list, tuple)) or not alphabets or len(set(alphabets)) != len(alphabets):
            raise ValueError(f"alphabet_sizes={alphabets!r} is not allowed for {model}: give a list of distinct "
                             f"alphabet sizes (2-26 letters)")
        for size in alphabets:
            counts = [n_strings_for(r * total, P.length, size) for r in sorted(ratios)]
            if len(set(counts)) != len(counts):
                raise ValueError(f"data_per_param={ratios!r} gives model {model!r} ({total} parameters) datasets of "
                                 f"{counts} strings over {size} letters: two are the same size; use multiples further "
                                 f"apart")
            for n in counts:
                longest = _epochs_within(epochs, max_steps, math.ceil(n / min(P.batch_size or n, n)))
                for e in (longest, longest // 2):
                    grids.append(dict(models=[model], seeds=seeds, grid=[{"alphabet_size": size}], length=P.length,
                                      n_train_strings=n, n_test_strings=P.n_test_strings, epochs=e,
                                      lr=per_model(P.lr, model), lr_schedule=P.lr_schedule, warmup=P.warmup,
                                      shuffle=P.shuffle, batch_size=P.batch_size,
                                      eval_every=P.eval_every if e == longest else _half_eval(P.eval_every, e)))
    return grids


def capacity_runs(P: Params, store) -> dict:
    """The runs of :func:`plan`, trained (or loaded from ``store``) once per precision in ``P.precisions``:
    ``{precision: [runs]}``. Every grid of every precision is checked before the first run."""
    precisions = P.precisions
    if not isinstance(precisions, (list, tuple)) or not precisions or len(set(precisions)) != len(precisions):
        raise ValueError(f"precisions={precisions!r} is not allowed: give a list of distinct precisions "
                         f"('fp32', 'bf16', 'auto')")
    for p in precisions:
        check_precision(p)
    grids = plan(P)
    # trained longest first (optimiser steps), so that the processes of a launch end together on short runs
    # (the runs, and the order returned, are the same in any order)
    order = sorted(range(len(grids)), key=lambda i: _cost(grids[i]), reverse=True)
    out = {}
    for p in precisions:
        done = grids_runs([grids[i] for i in order], precision=p, store=store, keep=slim)
        by_grid = dict(zip(order, done))
        out[p] = [r for i in range(len(grids)) for r in by_grid[i]]
    return out


def slim(run):
    """``run`` as notebook 06 holds it: its metrics with the two text columns (``model``, ``split``) categorical, and
    no per-position arrays (none of its tables reads them); the store keeps the run whole. A cpu-long sweep of 136
    runs holds 27M rows of metrics: 12 GB a process whole, more than 2 processes fit in 24 GB."""
    return dataclasses.replace(run, metrics=run.metrics.astype({"model": "category", "split": "category"}), arrays={})


def _cost(grid: dict) -> tuple:
    """How long a grid of :func:`plan` trains, to order them: its optimiser steps (a tiny model's step costs about
    the same at every size: per-step overhead), then the model's parameters."""
    steps = grid["epochs"] * math.ceil(grid["n_train_strings"] / (grid["batch_size"] or grid["n_train_strings"]))
    return steps, param_counts(grid["models"][0])["total"]


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 06's parameters (:func:`plan` reads them)."""

    notebook: ClassVar[str] = "06_capacity"
    models: list[str]
    data_per_param: list[float]
    alphabet_sizes: list[int] | dict[str, list[int]]  # one list, or per model
    length: int
    epochs: int | dict[str, int]
    max_steps: int | dict[str, int] | None  # a dataset's longer run stops short of this many optimiser steps
    lr: float | dict[str, float]
    lr_schedule: str
    warmup: float
    shuffle: bool
    batch_size: int
    n_test_strings: int
    seeds: list[int] | dict[str, list[int]]  # one list, or per model
    eval_every: int | str | list[int]
    precisions: list[str]
    tol: float
    plateau_tol: float


# The recipe (issue 41's measurements, benchmarks/RESULTS.md): shuffled batches of 32, 5% of the steps warmed up, a
# half-cosine decay, lr 3e-2 (3e-2 to 1e-1 held 10-25% more than 3e-3 at the same steps); the "-letters" models (a
# row for each letter and BOS, none unused). Every dataset runs for `epochs` and for half of them (the doubling rule).
_RECIPE = dict(lr=3e-2, lr_schedule="cosine", warmup=0.05, shuffle=True, batch_size=32, tol=0.05, plateau_tol=0.10)

PRESETS = {
    "smoke": Params(
        models=["tiny-llama-w8-l1-letters", "tiny-llama-w16-l1-letters"], data_per_param=[0.5, 4.0],
        alphabet_sizes=[26], length=16, epochs=40, max_steps=None, n_test_strings=20, seeds=[0, 1], eval_every=[0, 40],
        precisions=["fp32"], **_RECIPE,
    ),
    # The smallest size, the one 2 cores saturate within the collection's budget: tiny-llama-w8-l1-letters (1,480
    # parameters) over 3 seeds, datasets well below capacity (0.5 and 2 bits per parameter: held whole) and one well
    # beyond (16: flat by 1,920 epochs in every seed; 4 and 8 still grew 5-11% when training doubled at the same
    # epochs: benchmarks/RESULTS.md), for 1,920 and 960 epochs. 0.06M optimiser steps.
    "default": Params(
        models=["tiny-llama-w8-l1-letters"], data_per_param=[0.5, 2.0, 16.0],
        alphabet_sizes=[26], length=32, epochs=1920, max_steps=None, n_test_strings=100, seeds=[0, 1, 2],
        eval_every=[0], precisions=["fp32"], **_RECIPE,
    ),
    # Two sizes to saturation, and the information per token on the smallest: tiny-llama-w8-l1-letters over 2, 8 and
    # 26 letters with 7 seeds (the family's 3 primary tests, 26 letters against 3.6 and 2 and 8 letters against 26,
    # pass Holm's first step at 7 units that all agree: 0.0156 < 0.05 / 3), w16 over 26 letters with 3; datasets of
    # 0.5-16 bits per parameter. Beyond capacity a dataset saturates in optimiser steps, not epochs (a larger dataset's
    # epoch is more steps; benchmarks/RESULTS.md): each trains for 3,200 epochs or `max_steps`, whichever is fewer
    # steps (w8 was flat by 9,600, w16 by 32,640). Optimiser steps: 0.87M (w8), 0.36M (w16).
    "cpu-long": Params(
        models=["tiny-llama-w8-l1-letters", "tiny-llama-w16-l1-letters"],
        data_per_param=[0.5, 2.0, 8.0, 16.0], length=32,
        alphabet_sizes={"tiny-llama-w8-l1-letters": [2, 8, 26], "tiny-llama-w16-l1-letters": [26]},
        epochs=3200, max_steps={"tiny-llama-w8-l1-letters": 9600, "tiny-llama-w16-l1-letters": 38400},
        seeds={"tiny-llama-w8-l1-letters": list(range(7)), "tiny-llama-w16-l1-letters": [0, 1, 2]},
        n_test_strings=100, eval_every=[0], precisions=["fp32"], **_RECIPE,
    ),
    # GPU scale, as Morris et al. (GPT-style models of 0.5M-1.5B parameters, to convergence, fp32 and bf16):
    # sized Llama configurations from about 0.1M to 25M parameters (none from the hub: random weights).
    "paper": Params(
        models=["tiny-llama-w64-l2-letters", "tiny-llama-w128-l4-letters", "tiny-llama-w256-l4-letters",
                "tiny-llama-w384-l8-letters", "tiny-llama-w512-l8-letters"],
        data_per_param=[0.5, 1.0, 2.0, 4.0, 8.0, 16.0], alphabet_sizes=[26], length=64, epochs=2000,
        max_steps=None, n_test_strings=1000, seeds=[0, 1, 2], eval_every="auto", precisions=["fp32", "bf16"],
        **{**_RECIPE, "lr": 1e-3, "batch_size": 256},
    ),
}
