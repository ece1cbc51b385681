"""Notebook 06's parameters, presets and run plan: datasets of uniform random strings sized in bits per parameter."""

from __future__ import annotations

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


def plan(P: Params) -> list[dict]:
    """:func:`memlib.sweep.grids_runs`' grids for notebook 06's parameters ``P``: per model (``models``) and
    multiple of its parameters (``data_per_param``, bits of data per parameter), ``n_strings_for`` uniform
    strings of ``length`` over ``alphabet_size`` letters, with ``n_test_strings`` held-out strings, ``epochs``,
    ``lr``, ``batch_size``, ``eval_every``, ``seeds``. Everything is checked before any model is loaded:
    ValueError naming the value."""
    ratios = P.data_per_param
    if not isinstance(ratios, (list, tuple)) or not ratios:
        raise ValueError(f"data_per_param={ratios!r} is not allowed: give a list of bits of data per parameter")
    for r in ratios:
        check_number("data_per_param", r, float, 0, allow_equal=False)
    if len(set(ratios)) != len(ratios):
        raise ValueError(f"data_per_param={ratios!r} is not allowed: give each multiple once")
    if not isinstance(P.models, (list, tuple)) or not P.models:
        raise ValueError(f"models={P.models!r} is not allowed: give a list of model names")
    grids = []
    for model in P.models:
        total = param_counts(model)["total"]
        sizes = [n_strings_for(r * total, P.length, P.alphabet_size) for r in sorted(ratios)]
        if len(set(sizes)) != len(sizes):
            raise ValueError(f"data_per_param={ratios!r} gives model {model!r} ({total} parameters) datasets of "
                             f"{sizes} strings: two are the same size; use multiples further apart")
        for n in sizes:
            grids.append(dict(models=[model], seeds=P.seeds, grid=[{"alphabet_size": P.alphabet_size}],
                              length=P.length, n_train_strings=n, n_test_strings=P.n_test_strings,
                              epochs=per_model(P.epochs, model), lr=per_model(P.lr, model),
                              eval_every=P.eval_every, batch_size=P.batch_size))
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
    # trained largest first (model, then dataset), so that the processes of a launch end together on small runs
    # (the runs, and the order returned, are the same in any order)
    order = sorted(range(len(grids)), key=lambda i: _cost(grids[i]), reverse=True)
    out = {}
    for p in precisions:
        done = grids_runs([grids[i] for i in order], precision=p, store=store)
        by_grid = dict(zip(order, done))
        out[p] = [r for i in range(len(grids)) for r in by_grid[i]]
    return out


def _cost(grid: dict) -> tuple:
    """How long a grid of :func:`plan` trains, to order them: the model's parameters, then characters trained."""
    return param_counts(grid["models"][0])["total"], grid["n_train_strings"] * grid["epochs"]


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 06's parameters (:func:`plan` reads them)."""

    notebook: ClassVar[str] = "06_capacity"
    models: list[str]
    data_per_param: list[float]
    alphabet_size: int
    length: int
    epochs: int | dict[str, int]
    lr: float | dict[str, float]
    batch_size: int
    n_test_strings: int
    seeds: list[int]
    eval_every: int | str | list[int]
    precisions: list[str]
    window: int
    tol: float


PRESETS = {
    # Per model (random-init sized tiny models: memlib.models), datasets of uniform random strings holding
    # `data_per_param` bits per parameter, each trained `epochs` epochs in batches of `batch_size` at `lr`
    # (constant), with `n_test_strings` held-out strings (the attack's non-members); once per precision.
    "smoke": Params(
        models=["tiny-llama-w8-l1", "tiny-llama-w16-l1", "tiny-llama-w24-l1"], data_per_param=[0.5, 2.0],
        alphabet_size=26, length=16, epochs=30, lr=3e-3, batch_size=8, n_test_strings=20, seeds=[0],
        eval_every=[0, 10, 20, 30], precisions=["fp32"], window=10, tol=0.05,
    ),
    "default": Params(
        models=["tiny-llama-w8-l1", "tiny-llama-w16-l1", "tiny-llama-w24-l1", "tiny-llama-w32-l1",
                "tiny-llama-w40-l1"],
        data_per_param=[0.5, 1.5, 3.0], alphabet_size=26, length=32, epochs=120, lr=3e-3, batch_size=8,
        n_test_strings=100, seeds=[0], eval_every=[0, 30, 60, 90, 120], precisions=["fp32"], window=50, tol=0.05,
    ),
    "cpu-long": Params(
        models=["tiny-llama-w8-l1", "tiny-llama-w16-l1", "tiny-llama-w32-l1", "tiny-llama-w48-l1",
                "tiny-llama-w64-l1", "tiny-llama-w64-l2"],
        data_per_param=[0.5, 2.0, 4.0], alphabet_size=26, length=32, epochs=300, lr=3e-3, batch_size=8,
        n_test_strings=100, seeds=[0], eval_every=[0, 50, 100, 200, 300], precisions=["fp32"], window=50,
        tol=0.05,
    ),
    # GPU scale, as Morris et al. (GPT-style models of 0.5M-1.5B parameters, to convergence, fp32 and bf16):
    # sized Llama configurations from about 0.1M to 25M parameters (none from the hub: random weights).
    "paper": Params(
        models=["tiny-llama-w64-l2", "tiny-llama-w128-l4", "tiny-llama-w256-l4", "tiny-llama-w384-l8",
                "tiny-llama-w512-l8"],
        data_per_param=[0.5, 1.0, 2.0, 4.0, 8.0], alphabet_size=26, length=64, epochs=2000, lr=1e-3,
        batch_size=256, n_test_strings=1000, seeds=[0], eval_every="auto", precisions=["fp32", "bf16"],
        window=200, tol=0.02,
    ),
}
