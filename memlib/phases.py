"""Notebook 01's finding: the phases of repeated exposure (detected by :mod:`memlib.milestones`' rule) per model,
pretrained models against their random-weight twins, and the order in which positions are memorised."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .models import PAPER_MODELS, RANDOM_SUFFIX
from .parameters import NotebookParams, heldout_gaps
from .labels import lr_label, plural
from .metrics import MEMORISED_HOLD, MEMORISED_THRESHOLD
from .milestones import PhaseRule, phases, stable_from
from .stats import in_family, median_interval, paired_contrast, sign_counts, sign_test, spearman
from .store import canonical

__all__ = ["pretrained_vs_random_lines", "pretrained_vs_random", "twin_pairs", "run_curves", "model_summary", "rate_summary", "position_order",
           "twin_contrasts", "verdict"]


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


# The tests notebook 01's finding rests on (memlib.stats.Family; the others are exploratory): pretrained against
# random weights, each at its own learning rate (epochs until the distribution is learnt, until memorised; at a
# shared rate, exploratory: a rate that suits one of the two decides the answer), and the order in which positions
# are memorised. The held-out loss's rise is read from its lowest epoch, chosen from the same data: exploratory.
PRIMARY = (r".*: pretrained / random, each at its own rate .*, epochs until .*", r".*: memorisation order over seeds")


def verdict(per_model: pd.DataFrame, metrics: pd.DataFrame, *, guess_level: float, models, comparison=None,
            order: dict | None = None, run=None, rhos=None, own: dict | None = None, family=None) -> list[str]:
    """Notebook 01's verdict, one markdown line per statement: per model (:func:`model_summary`), held-out strings
    against ``guess_level`` (from ``metrics``, the runs' metrics table), pretrained against random weights, each at
    its own rate (``own``: ``{model: lr}``) and at shared rates (``comparison``: :func:`pretrained_vs_random`, or
    None; with :func:`twin_contrasts`), and the
    memorisation order of ``run`` (:func:`position_order`), and ``rhos``, the same correlation for every seed of
    that model (its median with its order-statistic interval). Its tests form one family (:data:`PRIMARY`)."""
    if family is None:
        return in_family(lambda f: verdict(per_model, metrics, guess_level=guess_level, models=models,
                                           comparison=comparison, order=order, run=run, rhos=rhos, own=own, family=f),
                         PRIMARY)
    by_rate = rate_summary(comparison) if comparison is not None else None
    lines = []
    for model, row in per_model.iterrows():
        def med(c):
            return "not reached" if pd.isna(row[c]) else f"epoch {row[c]:.0f}"
        lines.append(f"- **{model}** ({row.parameters}, lr {lr_label(row.lr)}): distinct guessing phase in "
                     f"{row.distinct_guessing:.0%} of runs (ends {med('guess_end')}); memorisation starts {med('mem_start')}; "
                     f"50% / 90% / 99% accuracy at {med('epochs_to_50')} / {med('epochs_to_90')} / {med('epochs_to_99')}; "
                     f"memorised (accuracy >= {MEMORISED_THRESHOLD} held {MEMORISED_HOLD} epochs) in {row.memorised_runs}/"
                     f"{row.runs} runs"
                     + (f", from {med('mem_end')} (median of those)." if row.memorised_runs else "."))
    curves = run_curves(metrics)
    test_final = curves[curves.split == "test"].groupby("model").apply(
        lambda d: d[d.epoch == d.epoch.max()].accuracy.mean(), include_groups=False)
    above = test_final.max() > guess_level + 0.05
    lines.append(f"- Held-out strings end at accuracy {test_final.min():.2f}-{test_final.max():.2f} "
                 f"(likeliest-letter guess {guess_level:.2f}): "
                 + ("some model predicts strings it never saw above the guessing level." if above else
                    "within 0.05 of the guessing level, so nothing beyond the distribution is learnt about strings never seen."))
    if by_rate is not None:
        lines += pretrained_vs_random_lines(by_rate, comparison, family, own)
    for model in models:  # held-out strings as training goes on: loss and per-position entropy
        held = curves[(curves.model == model) & (curves.split == "test")].groupby("epoch")[["loss", "entropy_position"]].mean()
        low, end = held.loss.idxmin(), held.index[-1]
        if held.loss[end] > held.loss[low] + 0.05 and held.entropy_position[end] < held.entropy_position.max() - 0.05:
            per_seed = (metrics[(metrics.model == model) & (metrics.split == "test")]
                        .groupby(["seed", "epoch"]).loss.mean().unstack("epoch"))
            rise = (paired_contrast(per_seed[end], per_seed[low], kind="difference").decided(
                family, f"{model}: held-out loss, last epoch - its lowest") if low in per_seed else None)
            lines.append(f"- {model}, held-out strings: loss rises from {held.loss[low]:.2f} nats (epoch {low}) to "
                         f"{held.loss[end]:.2f} (epoch {end}) while the per-position entropy falls from "
                         f"{held.entropy_position.max():.2f} to {held.entropy_position[end]:.2f} bits: over-confident on "
                         f"strings it never saw"
                         + (f" (loss at epoch {end} - at epoch {low}, seed by seed: {rise.text(words=('lower', 'higher', 'equal'))})"
                            if rise is not None else "") + ".")
    if order is not None:
        rho, first_stable = order["rho"], order["first_stable"]
        words = ("scattered across the string, not left to right" if abs(rho) < 0.3 else
                 ("left to right" if rho > 0 else "right to left") + " in tendency")
        stable = int(np.isfinite(first_stable).sum())
        lines.append(f"- Memorisation order ({run.config.model}, seed {run.config.seed}): Spearman correlation of position "
                     f"and epoch-from-which-correct = {rho:.2f} over the {stable} of {len(first_stable)} positions correct "
                     f"from some epoch to the end (1 would be strictly left to right): {words}.")
        if rhos is not None and len(rhos) > 1:
            values = np.asarray([r for r in rhos if np.isfinite(r)], dtype=float)
            ci, p = median_interval(values), sign_test(np.sign(values).astype(int).tolist())
            d = family.decide(f"{run.config.model}: memorisation order over seeds", p, estimate=ci.estimate,
                              low=ci.low, high=ci.high, level=ci.level, n=ci.n, supported=ci.excludes(0),
                              **sign_counts(values))
            tendency = ("" if not d.established(ci.excludes(0)) else
                        " (a left-to-right tendency)" if ci.estimate > 0 else " (a right-to-left tendency)")
            lines.append(f"  - The same correlation over every seed of {run.config.model}: median {ci.text()}; sign test "
                         f"{d.words(p, ci.excludes(0))}{tendency}.")
    return lines


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


def pretrained_vs_random_lines(by_rate: pd.DataFrame, comparison: pd.DataFrame, family, own=None) -> list[str]:
    lines = []
    for (pair, lr, init), row in by_rate.iterrows():
        def at(c):
            return f"at epoch {row[c]:.0f}" if pd.notna(row[c]) else f"not within {row.last_epoch} epochs"
        learnt = (f"distribution learnt {at('guess_end')}" if pd.notna(row.guess_end) else
                  f"distribution not learnt within {row.last_epoch} epochs (alphabet mass "
                  f"{row.final_alphabet_mass:.2f} at the end)")
        lines.append(f"- {row.model} at lr {lr_label(lr)} (medians over {plural(row.runs, 'seed')}): {learnt}, "
                     f"memorisation starts {at('mem_start')}, memorised {at('mem_end')} (memorised in "
                     f"{row.memorised_runs}/{row.runs} runs, final accuracy {row.final_accuracy:.2f}); distinct guessing "
                     f"phase in {row.distinct_guessing}/{row.runs} runs.")
    contrasts = twin_contrasts(comparison, own)
    speed = ("faster", "slower", "as fast")
    for pair, lr_p, lr_r, mine in twin_pairs(comparison, own):
        rates = twin_label(lr_p, lr_r, mine)
        c = {col: contrasts[(pair, lr_p, lr_r)][col].decided(family, f"{pair}: pretrained / random, {rates}, "
                                                                     f"epochs until {what}")
             for col, what in (("guess_end", "the distribution is learnt"), ("mem_end", "memorised"))}
        lines.append(f"- Pretrained / random weights, {rates}, seed by seed: epochs until the distribution is learnt, "
                     f"{c['guess_end'].text(words=speed)}; epochs until memorised, {c['mem_end'].text(words=speed)}.")
    return lines


SPLIT_COLOURS = {"train": "#1f77b4", "test": "#7f7f7f"}


PANELS = (
    ("accuracy", "recollection accuracy"),
    ("loss", "loss (nats)"),
    ("alphabet_mass", "probability mass on alphabet"),
    ("entropy", "prediction entropy (bits)"),
)


def _shade(ax, start, end, colour, label):
    if start is not None and end is not None and not (isinstance(start, float) and math.isnan(start)):
        ax.axvspan(start, end, color=colour, alpha=0.12, lw=0, label=label)


def plot_dynamics(metrics: pd.DataFrame, phases: pd.DataFrame | None = None, *, string_entropy: float,
                  guess_level: float, models: list[str] | None = None):
    """Rows: models; columns: accuracy, loss, alphabet mass, aggregated entropy against epoch.

    Lines are means over seeds of each run's mean over strings, bands the min-max over seeds;
    train strings in blue, held-out strings in grey. Dashed references: the accuracy of always
    predicting the distribution's likeliest letter, the string entropy (in nats on the loss panel,
    in bits on the entropy panel). Dotted black: the same for the trained string's own letter
    frequencies; dotted blue: the mean per-position entropy of the trained strings.
    Shaded: the guessing phase (epoch 0 to its median end) and the memorisation phase (median
    start to median end), when ``phases`` (a :func:`memlib.milestones.phase_table`) is given.
    """
    curves = run_curves(metrics)
    models = models or list(dict.fromkeys(curves.model))
    fig, axes = plt.subplots(len(models), len(PANELS), figsize=(3.6 * len(PANELS), 2.6 * len(models)),
                             squeeze=False, sharex="row")
    for i, model in enumerate(models):
        c = curves[curves.model == model]
        for j, (col, label) in enumerate(PANELS):
            ax = axes[i, j]
            for split in ("train", "test"):
                s = c[c.split == split].groupby("epoch")[col]
                if s.ngroups == 0:
                    continue
                mean, lo, hi = s.mean(), s.min(), s.max()
                ax.plot(mean.index, mean, color=SPLIT_COLOURS[split], lw=1.5, label=f"{split} strings")
                ax.fill_between(mean.index, lo, hi, color=SPLIT_COLOURS[split], alpha=0.2, lw=0)
            if col == "accuracy":
                ax.axhline(guess_level, ls="--", color="k", lw=0.8, label="likeliest-letter guess")
                if "unigram_guess" in c:
                    ax.axhline(c[c.split == "train"].unigram_guess.mean(), ls=":", color="k", lw=0.8,
                               label="trained string's most frequent letter")
                ax.set_ylim(-0.02, 1.02)
            elif col == "loss":
                ax.axhline(string_entropy * math.log(2), ls="--", color="k", lw=0.8, label="string entropy")
                ax.set_yscale("log")
            elif col == "alphabet_mass":
                ax.set_ylim(-0.02, 1.02)
            elif col == "entropy":
                pos = c[c.split == "train"].groupby("epoch").entropy_position.mean()
                ax.plot(pos.index, pos, color=SPLIT_COLOURS["train"], ls=":", lw=1.2, label="train, per position")
                ax.axhline(string_entropy, ls="--", color="k", lw=0.8, label="string entropy")
                if "empirical_entropy" in c:
                    ax.axhline(c[c.split == "train"].empirical_entropy.mean(), ls=":", color="k", lw=0.8,
                               label="trained string's empirical entropy")
            if phases is not None and len(phases[phases.model == model]):
                p = phases[phases.model == model].median(numeric_only=True)
                if bool(phases[phases.model == model].distinct_guessing.mean() >= 0.5):
                    _shade(ax, 0, p.get("guess_end"), "tab:green", "guessing phase")
                end = p.get("mem_end") if not np.isnan(p.get("mem_end", np.nan)) else c.epoch.max()
                _shade(ax, p.get("mem_start"), end, "tab:orange", "memorisation phase")
            if i == 0:
                ax.set_title(label)
            if j == 0:
                lrs = sorted(set(phases[phases.model == model].lr)) if phases is not None and "lr" in phases else []
                ax.set_ylabel(model + "".join(f"\nlr {lr_label(lr)}" for lr in lrs))
            if i == len(models) - 1:
                ax.set_xlabel("epoch")
    handles = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    ncol = min(len(handles), 7)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=ncol, bbox_to_anchor=(0.5, 0),
               frameon=False)
    legend_inches = 0.3 * math.ceil(len(handles) / ncol) + 0.1  # the same space below one row of panels or five
    fig.tight_layout(rect=(0, legend_inches / fig.get_figheight(), 1, 1))
    return fig


INIT_COLOURS = {"pretrained": "tab:blue", "random": "tab:red"}


PAIR_PANELS = (
    ("accuracy", "recollection accuracy"),
    ("alphabet_mass", "probability mass on alphabet"),
    ("entropy_position", "per-position entropy (bits)"),
)


def plot_pretrained_vs_random(metrics: pd.DataFrame, comparison: pd.DataFrame, own: dict | None = None):
    """Rows: the comparisons of :func:`memlib.phases.twin_pairs` (each model at its own rate, given ``own``, then
    both at each shared rate); columns: accuracy, alphabet mass, per-position entropy.

    ``metrics``: the runs' tidy metrics with an ``lr`` column; ``comparison``: a
    :func:`memlib.phases.pretrained_vs_random` table. Pretrained blue, random red; trained string
    solid, held-out strings dashed; lines are means over seeds, bands min-max. Vertical lines: the
    median end of the guessing phase (dotted) and start of memorisation (dash-dot) of each.
    """
    rows = twin_pairs(comparison, own)
    fig, axes = plt.subplots(len(rows), len(PAIR_PANELS), figsize=(4 * len(PAIR_PANELS), 2.9 * len(rows)),
                             squeeze=False, sharex="row")
    curves = metrics.groupby(["model", "lr", "seed", "split", "epoch"]).mean(numeric_only=True).reset_index()
    for i, (pair, lr_p, lr_r, mine) in enumerate(rows):
        for init, model, lr in (("pretrained", pair, lr_p), ("random", f"{pair}-random", lr_r)):
            c = curves[(curves.model == model) & (curves.lr == lr)]
            p = comparison[(comparison.model == model) & (comparison.lr == lr)].median(numeric_only=True)
            for j, (col, label) in enumerate(PAIR_PANELS):
                ax = axes[i, j]
                for split, ls in (("train", "-"), ("test", "--")):
                    s = c[c.split == split].groupby("epoch")[col]
                    if s.ngroups:
                        ax.plot(s.mean().index, s.mean(), color=INIT_COLOURS[init], ls=ls, lw=1.4,
                                label=f"{init} ({'trained' if split == 'train' else 'held-out'})")
                        ax.fill_between(s.mean().index, s.min(), s.max(), color=INIT_COLOURS[init], alpha=0.15, lw=0)
                for name, ls in (("guess_end", ":"), ("mem_start", "-.")):
                    if not np.isnan(p.get(name, np.nan)):
                        ax.axvline(p[name], color=INIT_COLOURS[init], ls=ls, lw=0.9,
                                   label=f"{init}: {'distribution learnt' if name == 'guess_end' else 'memorisation starts'}")
                if i == 0:
                    ax.set_title(label)
                if j == 0:
                    ax.set_ylabel(twin_label(lr_p, lr_r, mine).replace(" (", "\n("), fontsize=8)
                if i == len(rows) - 1:
                    ax.set_xlabel("epoch")
                if col != "entropy_position":
                    ax.set_ylim(-0.02, 1.02)
    handles = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=4,
               bbox_to_anchor=(0.5, -0.02 - 0.04 / max(len(rows), 1)), frameon=False, fontsize=8)
    pairs = ", ".join(dict.fromkeys(f"{p} (blue) and {p}-random (red)" for p, *_ in rows))
    fig.suptitle(f"Pretrained and random initial weights: {pairs}", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_position_order(run, order: dict):
    """Left: which positions of ``run``'s first training string are predicted correctly at each epoch; right: per
    position, the epoch from which it stays correct (:func:`memlib.phases.position_order` gives ``order``)."""
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(12, 3.2), gridspec_kw={"width_ratios": [3, 2]})
    a0.imshow(order["correct"], aspect="auto", cmap="Greys", interpolation="nearest")
    a0.grid(False)
    a0.set_xlabel("position in string")
    a0.set_ylabel("epoch")
    a0.set_title(f"{run.config.model}, seed {run.config.seed}: correct predictions")
    first_stable = order["first_stable"]
    a1.scatter(np.arange(len(first_stable)), first_stable, s=10)
    a1.set_xlabel("position in string")
    a1.set_ylabel("epoch from which always correct")
    a1.set_title(f"Spearman(position, epoch) = {order['rho']:.2f}")
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 01's parameters. Each model X in ``models`` whose random-weight twin X-random is also there is
    compared with it each at its own rate (``lr``) and, over ``init_seeds`` (None: ``seeds``), both at each rate of
    ``init_lrs`` (same strings and seeds)."""

    notebook: ClassVar[str] = "01_dynamics"
    models: list[str]
    alphabet_size: int
    length: int
    epochs: int | dict[str, int]  # one for all models, or per model
    lr: float | dict[str, float] | None  # None: each model's default rate
    init_lrs: list[float]
    init_seeds: list[int] | None
    seeds: list[int]
    n_train_strings: int
    n_test_strings: int
    eval_every: int | str | list[int]
    lr_schedule: str
    max_grad_norm: float | None
    precision: str

    def heldout_gaps(self) -> list[str]:
        """The held-out curves in the dynamics figure and the guessing band of :mod:`memlib.milestones` are
        interpolated between evaluations: epoch 0, the last and one in every doubling of the epoch count."""
        return heldout_gaps(self, every_doubling=True)


PRESETS = {
    # Each model X in `models` whose random-weight twin X-random is also there is compared with it each at
    # its own rate (`lr`) and, over `init_seeds` (None: `seeds`), both at each rate of `init_lrs` (same strings
    # and seeds).
    "smoke": Params(
        models=["smollm2-135m", "smollm2-135m-random", "tiny-llama"], alphabet_size=7, length=16, epochs=4,
        lr=None, init_lrs=[1e-4, 5e-4], init_seeds=None, seeds=[0],
        n_train_strings=1, n_test_strings=2, eval_every=1, lr_schedule="constant", max_grad_norm=None,
        precision="fp32",
    ),
    # SmolLM2-135M and its random-weight twin, each at its own rate (1e-4 and 5e-5: of 4 and 7 rates from 2e-5 to
    # 2e-3, the fastest to memorise in `make bench-lr`, seeds 100-101; the twin memorised at none within 28 epochs
    # and reached the highest accuracy at 5e-5: benchmarks/RESULTS.md), over 8 seeds (16 runs: the contrasts the
    # finding rests on are paired over them); the twin also at SmolLM2's rate over 4 of them (exploratory); 3 tiny
    # families over the same 8 seeds.
    # Held-out strings at epochs 0, 1, 2, then once per doubling of the epoch count (the rule of
    # heldout_gaps), and the last.
    "default": Params(
        models=["smollm2-135m", "smollm2-135m-random", "tiny-pythia", "tiny-phi", "tiny-llama"],
        alphabet_size=7, length=64,
        epochs={"smollm2-135m": 28, "smollm2-135m-random": 28, "tiny-pythia": 70, "tiny-phi": 70,
                "tiny-llama": 70},
        lr={"smollm2-135m": 1e-4, "smollm2-135m-random": 5e-5, "tiny-pythia": 1e-3, "tiny-phi": 1e-3,
            "tiny-llama": 1e-3},
        init_lrs=[1e-4], init_seeds=[0, 1, 2, 3], seeds=list(range(8)), n_train_strings=1, n_test_strings=4,
        eval_every=[0, 1, 2, 4, 8, 16, 32], lr_schedule="constant", max_grad_norm=None,
        precision="fp32",
    ),
    "paper": Params(
        models=PAPER_MODELS, alphabet_size=2, length=1024, epochs=100, lr=1e-5, init_lrs=[], init_seeds=None,
        seeds=[0, 1, 2],
        n_train_strings=5, n_test_strings=10, eval_every=1, lr_schedule="linear", max_grad_norm=1.0,
        precision="auto",
    ),
    # The default's pretrained / random contrast with the twin uncensored: at 28 epochs the twin learnt neither
    # the distribution nor its string at any rate, so the default's ratios are bounds. Here the twin trains for
    # 150 epochs at its own rate for that length, 2.5e-4 (of 6 rates from 5e-5 to 2e-3 the fastest to memorise
    # in `make bench-lr-long`, seeds 100-101: medians 64 epochs, 2 of 2: benchmarks/RESULTS.md), and over 4
    # seeds at SmolLM2's 1e-4; SmolLM2 as in the default (memorised within 28 epochs in 8 of 8 there).
    "cpu-long": Params(
        models=["smollm2-135m", "smollm2-135m-random"], alphabet_size=7, length=64,
        epochs={"smollm2-135m": 28, "smollm2-135m-random": 150},
        lr={"smollm2-135m": 1e-4, "smollm2-135m-random": 2.5e-4},
        init_lrs=[1e-4], init_seeds=[0, 1, 2, 3], seeds=list(range(8)), n_train_strings=1, n_test_strings=4,
        eval_every=[0, 1, 2, 4, 8, 16, 32, 64, 128], lr_schedule="constant", max_grad_norm=None,
        precision="fp32",
    ),
}
