"""Notebook 01's figures: the dynamics per model, pretrained against random weights, the order of positions."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..labels import lr_label
from .tables import run_curves, twin_label, twin_pairs

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
