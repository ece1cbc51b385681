"""Notebook 07's parameters, presets and run plans: runs of a position-wise model with exact tails (the check of
importance-sampled exposure at depth), runs of a tiny Llama that enumerate every string (the check at 16-20 bits),
and shadow models, each trained on a random half of one pool of strings (LiRA, counterfactual memorisation and every
per-string measure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import ProbeSpec
from ..lira import VARIANCES, inclusion
from ..membership import needed_non_members
from ..models import is_positional
from ..parameters import NotebookParams
from ..strings import random_strings
from ..sweep import PlannedRun, planned_runs, split_strings
from ..tails import TailCheck

_TAIL_KEYS = {"members": int, "length": int, "alphabet_size": int, "lr": float, "epochs": int, "at": list,
              "samples": int, "repeats": int, "sizes": list, "seeds": list}
_ENUM_KEYS = {"model": str, "members": int, "length": int, "alphabet_size": int, "lr": float, "epochs": int,
              "at": list, "samples": int, "seeds": list}


def _checked(plan: dict, keys: dict, what: str) -> dict:
    if not isinstance(plan, dict) or set(plan) != set(keys):
        got = sorted(plan) if isinstance(plan, dict) else plan
        raise ValueError(f"{what}={got!r} is not allowed: give a dict with exactly the keys {sorted(keys)}")
    for k, kind in keys.items():
        v = plan[k]
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 if kind is float else \
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 if kind is int else isinstance(v, kind)
        if not ok or (kind is list and not v):
            want = {float: "a number > 0", int: "an integer >= 1", list: "a non-empty list"}.get(kind, "a string")
            raise ValueError(f"{what}[{k!r}]={v!r} is not allowed: use {want}")
    if any(isinstance(e, bool) or not isinstance(e, int) or not 0 <= e <= plan["epochs"] for e in plan["at"]):
        raise ValueError(f"{what}['at']={plan['at']} is not allowed: use epochs from 0 to {plan['epochs']}")
    return plan


def check(P: "Params") -> None:
    """Every parameter of notebook 07 checked before any training; ValueError naming the first bad one."""
    if not is_positional(P.tail_model):
        raise ValueError(f"tail_model={P.tail_model!r} is not allowed: use a position-wise model "
                         f"(tiny-positional-w<width>-letters), whose exact tails memlib.tails computes")
    tail = _checked(P.tail, _TAIL_KEYS, "tail")
    if any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= tail["samples"] for n in tail["sizes"]):
        raise ValueError(f"tail['sizes']={tail['sizes']} is not allowed: use numbers of samples from 1 to "
                         f"tail['samples'] = {tail['samples']}")
    if P.enumeration:
        _checked(P.enumeration, _ENUM_KEYS, "enumeration")
    inclusion(P.pool, P.shadows)  # refuses an odd number of models, or too few
    if P.shadows < 8:
        raise ValueError(f"shadows={P.shadows} is not allowed: use at least 8 (LiRA fits each string's in and out "
                         f"scores from the other models, at least 3 of each)")
    if 0 not in P.measure_at or P.epochs not in P.measure_at:
        raise ValueError(f"measure_at={P.measure_at} is not allowed: include 0 (the loaded model: the calibrated "
                         f"attack's reference and the measures' control) and the last epoch ({P.epochs})")
    for f in P.fprs:
        needed_non_members(f)
    if P.variance not in VARIANCES:
        raise ValueError(f"variance={P.variance!r} is not allowed: use one of {VARIANCES}")


def tail_plan(P: "Params") -> list[PlannedRun]:
    """One run of ``P.tail_model`` per seed of ``P.tail``: ``members`` strings trained together, with
    :class:`memlib.tails.TailCheck` at ``at``."""
    t = P.tail
    out = []
    for seed in t["seeds"]:
        train, _ = split_strings(seed, alphabet_size=t["alphabet_size"], length=t["length"], n_train=t["members"],
                                 n_test=0)
        spec = TailCheck(at=tuple(t["at"]), samples=t["samples"], repeats=t["repeats"], seed=seed)
        out.append(PlannedRun(P.tail_model, seed, t["epochs"], f"tails seed {seed}",
                              dict(train_strings=train, test_strings=[], epochs=t["epochs"], lr=t["lr"], seed=seed,
                                   eval_every=[0], measurements=[spec])))
    return out


def enumeration_plan(P: "Params") -> list[PlannedRun]:
    """One run per seed of ``P.enumeration`` (none where it is empty): every string of its alphabet and length
    evaluated at ``at`` beside ``samples`` importance samples (:class:`memlib.ProbeSpec` ``enumerate``)."""
    e = P.enumeration
    if not e:
        return []
    out = []
    for seed in e["seeds"]:
        train, _ = split_strings(seed, alphabet_size=e["alphabet_size"], length=e["length"], n_train=e["members"],
                                 n_test=0)
        spec = ProbeSpec(at=tuple(e["at"]), ks=(0,), replace=(), shifts=(), draws=1, samples=e["samples"],
                         enumerate=True, seed=seed)
        out.append(PlannedRun(e["model"], seed, e["epochs"], f"enumeration seed {seed}",
                              dict(train_strings=train, test_strings=[], epochs=e["epochs"], lr=e["lr"], seed=seed,
                                   eval_every=[0], probes=spec)))
    return out


def pool_strings(P: "Params") -> list:
    """The pool the shadow models draw their training sets from: ``P.pool`` strings from ``P.pool_seed``."""
    return random_strings(P.pool, P.alphabet_size, P.length, seed=P.pool_seed)


def shadow_plan(P: "Params") -> list[PlannedRun]:
    """Shadow model ``s`` (run seed ``s``, a random-weight model's initialisation too) trains the pool strings
    :func:`memlib.lira.inclusion` gives it for ``P.epochs`` epochs, with the rest of the pool as its held-out strings,
    both measured at ``P.measure_at``, and ``P.samples`` importance samples (seeded by ``s``) at the last epoch, where
    exposure is read."""
    pool, inc = pool_strings(P), inclusion(P.pool, P.shadows, seed=P.pool_seed)
    out = []
    for s in range(P.shadows):
        spec = ProbeSpec(at=(P.epochs,), ks=(0,), replace=(), shifts=(), draws=1, samples=P.samples, seed=s)
        out.append(PlannedRun(P.shadow_model, s, P.epochs, f"shadow {s}",
                              dict(train_strings=[pool[j] for j in range(P.pool) if inc[s, j]],
                                   test_strings=[pool[j] for j in range(P.pool) if not inc[s, j]],
                                   epochs=P.epochs, lr=P.lr, seed=s, eval_every=list(P.measure_at), probes=spec)))
    return out


def audit_runs(P: "Params", store) -> dict:
    """Every run of notebook 07 in one sweep (all checked first): ``{"tails", "enumeration", "shadows"}``."""
    check(P)
    parts = {"tails": tail_plan(P), "enumeration": enumeration_plan(P), "shadows": shadow_plan(P)}
    runs = planned_runs([p for v in parts.values() for p in v], precision=P.precision, store=store)
    out, at = {}, 0
    for name, items in parts.items():
        out[name], at = runs[at:at + len(items)], at + len(items)
    return out


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 07's parameters (see the presets' comments)."""

    notebook: ClassVar[str] = "07_privacy_audit"
    tail_model: str
    tail: dict  # members, length, alphabet_size, lr, epochs, at, samples, repeats, sizes, seeds
    enumeration: dict  # model, members, length, alphabet_size, lr, epochs, at, samples, seeds ({}: none)
    shadow_model: str
    pool: int
    shadows: int
    length: int
    alphabet_size: int
    lr: float
    epochs: int
    measure_at: list[int]
    samples: int
    pool_seed: int
    fprs: list[float]
    reps: int
    variance: str
    precision: str


PRESETS = {
    "smoke": Params(
        tail_model="tiny-positional-w16-letters",
        tail=dict(members=2, length=12, alphabet_size=4, lr=3e-2, epochs=20, at=[5, 20], samples=300, repeats=3,
                  sizes=[100, 300], seeds=[0]),
        enumeration=dict(model="tiny-llama-w16-l1-letters", members=2, length=6, alphabet_size=4, lr=1e-2, epochs=20,
                         at=[20], samples=200, seeds=[0]),
        shadow_model="tiny-llama-w16-l1-letters", pool=16, shadows=8, length=12, alphabet_size=4, lr=1e-2, epochs=40,
        measure_at=[0, 40], samples=200, pool_seed=0, fprs=[0.01], reps=50, variance="global", precision="fp32",
    ),
    # Measured in benchmarks/RESULTS.md. Exact tails: 3 position-wise models (2 strings of 32 letters over 7 each, as
    # notebook 05's many-member runs) measured at 4 epochs from about 24 to 90 bits deep, 6 independent sets of 2,000
    # importance samples at each. Shadow models: 24 two-layer letters-only Llamas (width 32), each trained on a random
    # half of a pool of 86 strings of 20 letters over 7 for 240 epochs (mean accuracy 0.36 on its strings by then,
    # 0.14 on the others): every string in 12 models, 2,064 (model, string) pairs, 1,032 non-members (enough for 0.1% FPR).
    "default": Params(
        tail_model="tiny-positional-w32-letters",
        tail=dict(members=2, length=32, alphabet_size=7, lr=3e-2, epochs=200, at=[5, 10, 20, 200],
                  samples=2000, repeats=6, sizes=[250, 1000, 2000], seeds=[0, 1, 2]),
        enumeration={},
        shadow_model="tiny-llama-w32-l2-letters", pool=86, shadows=24, length=20, alphabet_size=7, lr=1e-2,
        epochs=240, measure_at=[0, 120, 240], samples=1000, pool_seed=0, fprs=[0.01, 0.001], reps=200,
        variance="global", precision="fp32",
    ),
    # Beyond the default: 8 position-wise models with 20 sets of 4,000 samples at 6 epochs; enumeration at 18 bits (9
    # letters over 4, 262,144 strings) on the 4-layer tiny-llama; 64 shadow models of 128 strings of 32 letters
    # trained for 400 epochs, and per-string variances.
    "cpu-long": Params(
        tail_model="tiny-positional-w32-letters",
        tail=dict(members=2, length=32, alphabet_size=7, lr=3e-2, epochs=200, at=[5, 10, 20, 40, 80, 200],
                  samples=4000, repeats=20, sizes=[250, 1000, 4000], seeds=list(range(8))),
        enumeration=dict(model="tiny-llama", members=4, length=9, alphabet_size=4, lr=1e-3, epochs=60, at=[15, 60],
                         samples=2000, seeds=[0, 1]),
        shadow_model="tiny-llama-w32-l2-letters", pool=128, shadows=64, length=32, alphabet_size=7, lr=1e-2,
        epochs=400, measure_at=[0, 200, 400], samples=2000, pool_seed=0, fprs=[0.01, 0.001], reps=200,
        variance="per-string", precision="fp32",
    ),
    # The pretrained model on 2 cores, at what fits (562 s from an empty store: benchmarks/RESULTS.md): 8 SmolLM2-135M
    # shadow models over a pool of 16 strings of 32 letters over 7 (8 a model, 24 epochs at lr 1e-4, 300 importance samples at
    # the end); the default's exact-tail runs (from the store). 64 non-member pairs: TPR at 1% FPR not measurable.
    "pretrained": Params(
        tail_model="tiny-positional-w32-letters",
        tail=dict(members=2, length=32, alphabet_size=7, lr=3e-2, epochs=200, at=[5, 10, 20, 200],
                  samples=2000, repeats=6, sizes=[250, 1000, 2000], seeds=[0, 1, 2]),
        enumeration={},
        shadow_model="smollm2-135m", pool=16, shadows=8, length=32, alphabet_size=7, lr=1e-4, epochs=24,
        measure_at=[0, 12, 24], samples=300, pool_seed=0, fprs=[0.01, 0.001], reps=200, variance="global",
        precision="fp32",
    ),
    # The pretrained model as the shadow model (SmolLM2-135M, the paper's setting of short random strings): 16
    # shadow models over a pool of 32 strings; a SmolLM2 shadow model costs minutes on 2 cores, so GPUs.
    "paper": Params(
        tail_model="tiny-positional-w32-letters",
        tail=dict(members=2, length=32, alphabet_size=7, lr=3e-2, epochs=200, at=[5, 10, 20, 40, 80, 200],
                  samples=8000, repeats=40, sizes=[1000, 4000, 8000], seeds=list(range(8))),
        enumeration=dict(model="tiny-llama", members=4, length=10, alphabet_size=4, lr=1e-3, epochs=60, at=[15, 60],
                         samples=4000, seeds=[0, 1]),
        shadow_model="smollm2-135m", pool=32, shadows=16, length=32, alphabet_size=7, lr=1e-4, epochs=30,
        measure_at=[0, 15, 30], samples=2000, pool_seed=0, fprs=[0.01, 0.001], reps=200, variance="global",
        precision="auto",
    ),
}
