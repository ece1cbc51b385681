"""Notebook 05's parameters, presets and run plans: one-string runs measured at ``measure_at``, and many-member runs with candidates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from ..config import ProbeSpec, per_model
from ..exposure import MIN_CANDIDATES
from ..extraction import check_extraction, extraction_spec
from ..models import PAPER_MODELS
from ..parameters import NotebookParams
from ..sweep import grid_runs, grids_runs


def specs(models, *, epochs, measure_at, length: int, k: int, n: int, n_test_strings: int, offset_step: int = 1,
          permuted: int | None = None) -> dict:
    """The extraction probes of every model (``epochs`` and ``measure_at`` may be per model), with
    every argument of notebook 05 checked before any training: ``k`` and ``n`` fit the strings,
    enough held-out strings for the exposure fit, and every measured epoch within the model's run."""
    check_extraction(k, n, length)
    if isinstance(n_test_strings, bool) or not isinstance(n_test_strings, int) or n_test_strings < MIN_CANDIDATES + 1:
        raise ValueError(f"n_test_strings={n_test_strings!r} is not allowed: exposure needs at least "
                         f"{MIN_CANDIDATES + 1} held-out strings (candidates for the distribution fit)")
    out = {}
    for m in models:
        e, at = per_model(epochs, m), per_model(measure_at, m)
        spec = extraction_spec(length, at, offset_step, permuted)
        try:
            spec.resolved(length, e)
        except ValueError as err:
            raise ValueError(f"measure_at for {m}: {err}") from None
        if e not in at:
            raise ValueError(f"measure_at for {m} is {list(at)}: include the run's last epoch ({e}), which the "
                             f"notebook reads as the end of the run")
        out[m] = spec
    return out


_PLAN_KEYS = {"model": str, "lr": float, "length": int, "alphabet_size": int, "members": int, "epochs": int,
              "measure_at": list, "candidates": int, "permuted": int, "samples": int, "seeds": list,
              "enumerate": bool, "count_bits": float}


def needed_candidates(bits: float) -> int:
    """How many candidates counted exposure needs to reach ``bits`` (``log2(N + 1) >= bits``)."""
    if isinstance(bits, bool) or not isinstance(bits, (int, float)) or not bits > 0:
        raise ValueError(f"count_bits={bits!r} is not allowed: use a number of bits > 0")
    return math.ceil(2.0 ** bits - 1 - 1e-9)


def candidate_plan(plan: dict, what: str = "many") -> dict:
    """A notebook's plan of many-member runs (notebook 05's ``many`` and ``enumeration``) checked before any
    training: every key known (``model``, ``lr``, ``length``, ``alphabet_size``, ``members`` training strings
    per run, ``epochs``, ``measure_at`` (with 0, the reference of the calibrated attack, and the last epoch),
    ``candidates`` held-out strings, ``permuted`` per member, ``samples`` importance samples, ``seeds``,
    optional ``enumerate`` and ``count_bits``: the counted exposure the notebook promises, which needs
    :func:`needed_candidates`). Returns the plan with its :class:`ProbeSpec` under ``spec``."""
    if not isinstance(plan, dict):
        raise ValueError(f"{what}={plan!r} is not allowed: give a dict with keys {sorted(_PLAN_KEYS)}")
    unknown = sorted(set(plan) - set(_PLAN_KEYS))
    missing = sorted(set(_PLAN_KEYS) - set(plan) - {"enumerate", "count_bits"})
    if unknown or missing:
        raise ValueError(f"{what} has " + (f"unknown keys {unknown}" if unknown else f"no {missing}")
                         + f": use the keys {sorted(_PLAN_KEYS)} (enumerate and count_bits optional)")
    at = list(plan["measure_at"])
    if 0 not in at or plan["epochs"] not in at:
        raise ValueError(f"{what}['measure_at']={at} is not allowed: include 0 (the loaded model, the calibrated "
                         f"attack's reference) and the last epoch ({plan['epochs']})")
    if plan.get("count_bits") is not None and plan["candidates"] < needed_candidates(plan["count_bits"]):
        raise ValueError(f"{what}['candidates']={plan['candidates']} is too few for counted exposure up to "
                         f"{plan['count_bits']} bits: that needs {needed_candidates(plan['count_bits'])} candidates "
                         f"(log2(N + 1) bits at most)")
    spec = ProbeSpec(at=tuple(at), ks=(0,), replace=(), shifts=(), draws=1, permuted=plan["permuted"],
                     samples=plan["samples"], enumerate=bool(plan.get("enumerate", False)))
    try:
        spec.resolved(plan["length"], plan["epochs"])
    except ValueError as err:
        raise ValueError(f"{what}: {err}") from None
    return {**plan, "spec": spec}


def candidate_runs(plans: dict, *, store, precision) -> dict:
    """The runs of every :func:`candidate_plan` in ``plans`` (``{name: plan}``, e.g. notebook 05's ``many`` and
    ``enumeration``), all checked first, trained in one sweep (runs of one model side by side in launched
    processes): ``{name: runs}``, one run per seed of a plan, ``members`` training strings and ``candidates``
    held-out strings each, every candidate measured at ``measure_at``."""
    checked = {name: candidate_plan(plan, name) for name, plan in plans.items()}
    grids = [dict(models=[p["model"]], seeds=p["seeds"], grid=[{"alphabet_size": p["alphabet_size"]}], length=p["length"],
                  n_train_strings=p["members"], n_test_strings=p["candidates"], epochs=p["epochs"], lr=p["lr"],
                  eval_every=list(p["measure_at"]), probes=p["spec"]) for p in checked.values()]
    return dict(zip(checked, grids_runs(grids, precision=precision, store=store)))


def one_string_runs(P: Params, specs: dict, store) -> list:
    """Notebook 05's one-string runs, from its parameters ``P``: every model of ``P.models`` over
    ``P.grid`` at ``P.lr``, then ``P.compare_models`` over ``P.compare_grid`` at ``P.compare_lr``;
    one training string and ``P.n_test_strings`` held-out strings per seed, measured at each model's
    ``measure_at`` with its probes from :func:`specs`."""
    out = []
    for names, settings, rate in ((P.models, P.grid, P.lr), (P.compare_models, P.compare_grid, P.compare_lr)):
        for name in names:
            out += grid_runs([name], P.seeds, settings, length=P.length, n_train_strings=1,
                             n_test_strings=P.n_test_strings, epochs=P.epochs, lr=rate,
                             eval_every=per_model(P.measure_at, name), lr_schedule=P.lr_schedule,
                             max_grad_norm=P.max_grad_norm, probes=specs[name], precision=P.precision, store=store)
    return out


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 05's parameters (see the presets' comments). Its runs evaluate their held-out strings exactly at
    ``measure_at``, the epochs its figures read (:func:`specs` refuses epochs a run does not reach): no held-out
    gaps to report."""

    notebook: ClassVar[str] = "05_extraction_and_exposure"
    models: list[str]
    grid: list[dict]
    lr: float | dict[str, float] | None
    compare_models: list[str]
    compare_grid: list[dict]
    compare_lr: float | dict[str, float] | None
    length: int
    epochs: int | dict[str, int]
    measure_at: list[int] | dict[str, list[int]]
    seeds: list[int]
    n_test_strings: int
    k: int
    n: int
    offset_step: int
    lr_schedule: str
    max_grad_norm: float | None
    permuted: int | None
    ks: list[int]
    many: dict  # a plan of many-member runs (candidate_plan)
    enumeration: dict  # the check against exact enumeration (candidate_plan)
    fprs: list[float]
    precision: str


PRESETS = {
    # `models` over every setting of `grid` at `lr`; `compare_models` (the random-weight twin) on
    # `compare_grid` at `compare_lr`. The held-out strings are the exposure's candidates and the
    # membership attack's non-members, evaluated at `measure_at`, where the extraction probes run too.
    "smoke": Params(
        models=["tiny-llama"], grid=[{"alphabet_size": 4}, {"alphabet_size": 8, "entropy": 2.0}], lr=3e-3,
        compare_models=["tiny-phi"], compare_grid=[{"alphabet_size": 4}], compare_lr=3e-3, length=12,
        epochs=40, measure_at=[0, 10, 20, 40], seeds=[0], n_test_strings=21, k=4, n=4, offset_step=1,
        lr_schedule="constant", max_grad_norm=None, permuted=21, ks=[0, 2, 4, 8],
        many=dict(model="tiny-llama", lr=3e-3, length=12, alphabet_size=4, members=8, epochs=30,
                  measure_at=[0, 10, 30], candidates=120, permuted=16, samples=200, seeds=[0]),
        enumeration=dict(model="tiny-llama", lr=1e-3, length=6, alphabet_size=4, members=4, epochs=30,
                         measure_at=[0, 10, 30], candidates=30, permuted=8, samples=300, seeds=[0], enumerate=True),
        fprs=[0.01, 0.001],
        precision="fp32",
    ),
    # 8 SmolLM2 runs, 4 settings x 2 seeds, each its own string (the random-weight twin is left out here: with 2
    # seeds it stated no contrast, and its 64 epochs did not fit the time budget), each measured at 5 epochs
    # (0 and each doubling to the end; epoch 2 as well cost a sixth of the measurements):
    # 31 held-out strings, 15 permutations of its letters and the extraction probes (one forward per offset) at
    # each. 8 runs, not 6: the family of 2 primary tests needs p < 0.025 for its smallest, which a sign test
    # reaches at n = 6 never (0.031) and at n = 8 when all 8 agree (0.0078).
    "default": Params(
        models=["smollm2-135m"],
        grid=[{"alphabet_size": 4}, {"alphabet_size": 7}, {"alphabet_size": 26},
              {"alphabet_size": 26, "entropy": 2.0}], lr=None,
        compare_models=[], compare_grid=[{"alphabet_size": 7}], compare_lr=5e-4,
        length=32, epochs={"smollm2-135m": 30, "smollm2-135m-random": 64},
        measure_at={"smollm2-135m": [0, 4, 8, 16, 30], "smollm2-135m-random": [0, 8, 16, 24, 32, 40, 48, 64]},
        seeds=[0, 1], n_test_strings=31, k=8, n=8, offset_step=1, lr_schedule="constant", max_grad_norm=None,
        # 15 permutations of each training string's letters beside its 31 fresh candidates (31 cost a
        # fifth of a run's time for an exploratory comparison: benchmarks/RESULTS.md); extraction at
        # k = 0 (BOS alone), 4, 8, 16 with n = 8.
        permuted=15, ks=[0, 4, 8, 16],
        # Many members per model (the membership attack's TPR at 1% and 0.1% FPR), 1,023 fresh candidates
        # (counted exposure to 10 bits), 32 permutations per member, 1,500 importance samples: a tiny random-init
        # Llama (its forwards are about 60 times cheaper than SmolLM2's; benchmarks/RESULTS.md).
        many=dict(model="tiny-llama", lr=1e-3, length=32, alphabet_size=7, members=64, epochs=150,
                  measure_at=[0, 50, 100, 150], candidates=1023, permuted=32, samples=1500, seeds=[0], count_bits=10),
        # The check against exact enumeration: 8 members of 7 letters over 4 (16,384 strings, 14 bits).
        enumeration=dict(model="tiny-llama", lr=1e-3, length=7, alphabet_size=4, members=8, epochs=60,
                         measure_at=[0, 15, 30, 60], candidates=100, permuted=16, samples=1000, seeds=[0],
                         enumerate=True),
        fprs=[0.01, 0.001],
        precision="fp32",
    ),
    "paper": Params(
        models=PAPER_MODELS, grid=[{"alphabet_size": 2}, {"alphabet_size": 26}, {"alphabet_size": 26, "entropy": 2.0}],
        lr=1e-5, compare_models=[], compare_grid=[{"alphabet_size": 2}], compare_lr=1e-5, length=1024, epochs=100,
        measure_at=[0, 1, 2, 5, 10, 20, 40, 60, 80, 100], seeds=[0, 1, 2], n_test_strings=100, k=32, n=32, offset_step=16,
        lr_schedule="linear", max_grad_norm=1.0, permuted=100, ks=[0, 32, 64, 128],
        many=dict(model="EleutherAI/pythia-1b", lr=1e-5, length=256, alphabet_size=26, members=64, epochs=100,
                  measure_at=[0, 10, 20, 50, 100], candidates=1023, permuted=64, samples=4000, seeds=[0], count_bits=10),
        enumeration=dict(model="EleutherAI/pythia-1b", lr=1e-5, length=8, alphabet_size=4, members=8, epochs=100,
                         measure_at=[0, 20, 50, 100], candidates=100, permuted=16, samples=2000, seeds=[0],
                         enumerate=True),
        fprs=[0.01, 0.001],
        precision="auto",
    ),
}
