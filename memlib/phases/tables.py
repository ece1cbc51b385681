"""Notebook 01's tables: phases per model, pretrained models against their random-weight twins (paired by strings
and seed), pretrained families against each other, the order in which positions are memorised."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..labels import lr_label
from ..milestones import PhaseRule, phases, stable_from
from ..models import RANDOM_SUFFIX, is_random_weight
from ..stats import paired_contrast, spearman
from ..store import canonical


def _pair_key(run) -> str:
    """What must match between a model and its random-weight twin: everything but the weights, the learning
    rate (each model may run at its own) and the number of epochs (the twin may need more)."""
    c = run.config.to_dict()
    same = ("train", "test", "lr_schedule", "weight_decay", "max_grad_norm", "dropout", "batch_size", "seed",
            "weights_dtype", "autocast")
    return canonical({k: c[k] for k in same})  # JSON: a run fresh from training and one loaded compare equal


def pretrained_vs_random(runs, rule: PhaseRule | None = None) -> pd.DataFrame:
    """:func:`phase_table` of the runs of each model ``X`` and its random-weight twin ``X-random``: one row per
    run (a run given twice counted once), with ``pair`` (= ``X``), ``init`` ("pretrained" or "random") and ``lr``.

    Every run of either model must have a run of the other on the same strings, seed and optimiser settings (at
    any learning rate: :func:`twin_pairs` says which rates are compared); otherwise ValueError names the
    unmatched run. Runs of models without a twin in ``runs`` are ignored.
    """
    runs = list({r.key: r for r in runs}.values())
    names = {r.config.model for r in runs}
    twins = {n for n in names if n.endswith(RANDOM_SUFFIX) and n[: -len(RANDOM_SUFFIX)] in names}
    pairs = {n[: -len(RANDOM_SUFFIX)] for n in twins}
    if not pairs:
        raise ValueError(f"no model and its random-weight twin (X and X{RANDOM_SUFFIX}) among the runs' models "
                         f"{sorted(names)}")
    keys = {}
    for r in runs:
        m = r.config.model
        if m in pairs or m in twins:
            base = m[: -len(RANDOM_SUFFIX)] if m in twins else m
            keys.setdefault((base, _pair_key(r)), []).append(r)
    rows = []
    for (base, _), group in keys.items():
        if {r.config.model for r in group} != {base, base + RANDOM_SUFFIX}:
            r = group[0]
            raise ValueError(f"run {r.key[:12]} ({r.config.model}, lr {r.config.lr}, seed {r.config.seed}) has no twin "
                             f"on the same strings, seed and optimiser settings: pair {base} with {base}{RANDOM_SUFFIX}")
        for r in group:
            row = phases(r, rule)
            row.update(pair=base, init="random" if r.config.model in twins else "pretrained")
            rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values(["pair", "lr", "init", "seed"], kind="stable").reset_index(drop=True)


def twin_pairs(comparison: pd.DataFrame, own: dict | None = None) -> list[tuple]:
    """The comparisons a :func:`pretrained_vs_random` table holds, as ``(pair, pretrained lr, random lr, own)``:
    both models at every rate both ran at, and (with ``own``, ``{model: its own learning rate}``) each model at
    its own rate, marked ``own`` True and listed first (where the own rates are equal, that is the equal-rate
    comparison). Other mixes of rates are not compared."""
    out = []
    for pair, g in comparison.groupby("pair", sort=False):
        rates = {init: sorted(set(g[g.init == init].lr)) for init in ("pretrained", "random")}
        mine = None
        if own and pair in own and pair + RANDOM_SUFFIX in own:
            mine = (own[pair], own[pair + RANDOM_SUFFIX])
            if mine[0] in rates["pretrained"] and mine[1] in rates["random"]:
                out.append((pair, *mine, True))
        out += [(pair, lr, lr, False) for lr in rates["pretrained"] if lr in rates["random"] and (lr, lr) != mine]
    return out


def run_curves(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean over strings within each run: one row per (model, seed, split, epoch)."""
    return metrics.groupby(["model", "seed", "split", "epoch"], sort=True).mean(numeric_only=True).reset_index()


def model_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per model of a :func:`phase_table` (medians over seeds): parameters, lr, runs, the share of runs with a
    distinct guessing phase, where it ends, where memorisation starts, epochs to 50/90/99% accuracy, the number of
    memorised runs and the last epoch."""
    out = table.groupby("model", sort=False).agg(
        parameters=("n_params", "first"), lr=("lr", "first"), runs=("seed", "size"),
        distinct_guessing=("distinct_guessing", "mean"), guess_end=("guess_end", "median"),
        mem_start=("mem_start", "median"), epochs_to_50=("epochs_to_50", "median"),
        epochs_to_90=("epochs_to_90", "median"), epochs_to_99=("epochs_to_99", "median"),
        mem_end=("mem_end", "median"), memorised_runs=("mem_end", "count"), last_epoch=("last_epoch", "max"))
    out["parameters"] = out.parameters.map(lambda n: f"{n / 1e6:.1f}M")
    return out


def rate_summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """Per (pair, lr, init) of :func:`pretrained_vs_random` (medians over seeds; counts of runs with a distinct
    guessing phase and of memorised runs)."""
    return comparison.groupby(["pair", "lr", "init"], sort=False).agg(
        model=("model", "first"), runs=("seed", "size"), distinct_guessing=("distinct_guessing", "sum"),
        guess_end=("guess_end", "median"), mem_start=("mem_start", "median"), epochs_to_50=("epochs_to_50", "median"),
        epochs_to_90=("epochs_to_90", "median"), epochs_to_99=("epochs_to_99", "median"),
        mem_end=("mem_end", "median"), memorised_runs=("mem_end", "count"), last_epoch=("last_epoch", "max"),
        final_accuracy=("final_accuracy", "median"),
        final_alphabet_mass=("final_alphabet_mass", "median"))


def position_order(run, string: int = 0) -> dict:
    """In which order a run's training string ``string`` is memorised: ``correct`` (epoch x position),
    ``first_stable`` (per position, the epoch from which it is always correct; NaN: wrong at the end) and ``rho``
    (Spearman correlation of position and that epoch; 1 = strictly left to right)."""
    correct = run.arrays["train_correct"][:, string, :]
    first_stable = stable_from(correct)  # train strings are measured every epoch: index = epoch
    return {"correct": correct, "first_stable": first_stable,
            "rho": spearman(np.arange(len(first_stable)), first_stable)}


def twin_contrasts(comparison: pd.DataFrame, own: dict | None = None) -> dict:
    """Pretrained against random weights, seed by seed, for each comparison of :func:`twin_pairs` (keys ``(pair,
    pretrained lr, random lr)``): epochs until the distribution is learnt (``guess_end``) and until memorised
    (``mem_end``, :func:`memlib.metrics.memorised_at`), as :class:`memlib.stats.Contrast` s of ratios
    pretrained / random; a run that never got there counts as longer than its last epoch (censored)."""
    out = {}
    for pair, lr_p, lr_r, _ in twin_pairs(comparison, own):
        g = comparison[comparison.pair == pair]
        a = g[(g.init == "pretrained") & (g.lr == lr_p)].set_index("seed")
        b = g[(g.init == "random") & (g.lr == lr_r)].set_index("seed")
        seeds = [s for s in a.index if s in b.index]
        a, b = a.loc[seeds], b.loc[seeds]
        out[(pair, lr_p, lr_r)] = {col: paired_contrast(a[col], b[col], kind="ratio", censored_a=a[col].isna(),
                                                        censored_b=b[col].isna(), length_a=a.last_epoch,
                                                        length_b=b.last_epoch)
                                   for col in ("guess_end", "mem_end")}
    return out


def twin_label(lr_p: float, lr_r: float, own: bool) -> str:
    """How a comparison of :func:`twin_pairs` names its rates: ``"each at its own rate (lr 1e-4 / 5e-4)"`` or
    ``"both at lr 1e-4"``."""
    if own:
        return f"each at its own rate (lr {lr_label(lr_p)} / {lr_label(lr_r)})"
    return f"both at lr {lr_label(lr_p)}"


def pretrained_models(models) -> list[str]:
    """The pretrained models among ``models`` (those whose weights are stored, not drawn), in their order."""
    return [m for m in models if not is_random_weight(m)]


def family_contrasts(runs, table: pd.DataFrame, models=None) -> dict:
    """Every pretrained family of ``runs`` against the first one, seed by seed on the same strings, each at the rate
    its runs used: epochs until the distribution is learnt (``guess_end``) and until memorised (``mem_end``), as
    :class:`memlib.stats.Contrast` s of ratios other / first, censored where a run never got there. Keys
    ``(other, first)``; empty with fewer than two pretrained models. ``table``: :func:`memlib.milestones.phase_table`
    of ``runs``; ``models``: which to compare, the first against the others (None: the pretrained ones of ``runs``).
    ValueError where one seed's strings differ between the two."""
    if models is None:
        models = pretrained_models(dict.fromkeys(r.config.model for r in runs))
    texts = {(r.config.model, r.config.seed): [d["text"] for d in r.config.train + r.config.test] for r in runs}
    out = {}
    for other in models[1:]:
        first = models[0]
        a = table[table.model == other].set_index("seed")
        b = table[table.model == first].set_index("seed")
        seeds = [s for s in a.index if s in b.index]
        bad = [s for s in seeds if texts[(other, s)] != texts[(first, s)]]
        if bad:
            raise ValueError(f"{other} and {first} trained other strings at seed {bad[0]}: families are compared on "
                             f"the same strings (give both the same length, alphabet and string counts)")
        a, b = a.loc[seeds], b.loc[seeds]
        out[(other, first)] = {col: paired_contrast(a[col], b[col], kind="ratio", censored_a=a[col].isna(),
                                                    censored_b=b[col].isna(), length_a=a.last_epoch,
                                                    length_b=b.last_epoch)
                               for col in ("guess_end", "mem_end")}
    return out


def milestones_in_order(table: pd.DataFrame) -> pd.Series:
    """Per model, how many runs reached their milestones in the order of the phases: the distribution learnt no
    later than memorisation starts, which is no later than memorised (a run that misses one counts as not)."""
    ok = (table.guess_end <= table.mem_start) & (table.mem_start <= table.mem_end)
    return ok.groupby(table.model, sort=False).sum().astype(int)
