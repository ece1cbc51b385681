"""Notebook 02's figures."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .measures import mean_gain


def size_palette(sizes) -> dict:
    """One viridis colour per alphabet size (notebook 02's figures)."""
    import seaborn as sns

    return dict(zip(sizes, sns.color_palette("viridis", len(sizes))))


def plot_difficulty_vs_entropy(d: pd.DataFrame, model: str, family: str, sizes):
    """Epochs to 90%, AUC of train accuracy and normalised memorisation gain against entropy, one colour per
    alphabet size (hollow: 90% not reached, plotted at the run's length), with a regression line and its bootstrap
    band where there are at least three runs. ``d``: one model's rows of a :func:`memlib.difficulty.difficulty_table`."""
    import seaborn as sns

    palette = size_palette(sizes)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, y, label in zip(axes, ("epochs_to_90", "auc", "gain_norm_auc"),
                            ("epochs to 90% accuracy", "AUC of train accuracy", "normalised memorisation gain")):
        for size in sizes:
            s = d[d.alphabet_size == size]
            if y == "epochs_to_90":
                ax.scatter(s.entropy[~s.censored_90], s[y][~s.censored_90], color=palette[size], label=f"l={size}", s=25)
                ax.scatter(s.entropy[s.censored_90], s[y][s.censored_90], facecolors="none", edgecolors=palette[size], s=25)
            else:
                ax.scatter(s.entropy, s[y], color=palette[size], label=f"l={size}", s=25)
        if len(d) >= 3:  # a trend needs three runs
            sns.regplot(data=d, x="entropy", y=y, ax=ax, scatter=False, color="0.3", n_boot=500, seed=0, truncate=True)
        ax.set_xlabel("entropy (bits/char)")
        ax.set_ylabel(label)
    axes[0].legend(title="alphabet", fontsize=8)
    fig.suptitle(f"{model}: difficulty against entropy ({family} family)")
    fig.tight_layout()
    return fig


def plot_alphabet_and_guessing(d: pd.DataFrame, model: str, family: str, sizes):
    """Left: AUC of train accuracy against alphabet size at the entropy levels two or more alphabets share (mean,
    error bars: standard deviation over seeds); right: the guessing level (held-out accuracy) against entropy, with
    the distribution's likeliest-letter probability dashed."""
    import seaborn as sns

    from ..strings import distribution

    palette = size_palette(sizes)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(12, 4))
    levels = [h for h in sorted(d.entropy.round(6).unique())
              if (d.entropy.round(6) == h).groupby(d.alphabet_size).any().sum() >= 2]
    for h, colour in zip(levels, sns.color_palette("rocket", len(levels))):
        s = d[d.entropy.round(6) == h].groupby("alphabet_size").auc
        a0.errorbar(s.mean().index, s.mean(), yerr=s.std().fillna(0), marker="o", color=colour, capsize=3, label=f"H={h:g}")
    a0.set_xscale("log", base=2)
    a0.set_xticks(sizes, [str(x) for x in sizes])
    a0.set_xlabel("alphabet size")
    a0.set_ylabel("AUC of train accuracy")
    if levels:
        a0.legend(title="entropy", fontsize=8)
    else:
        a0.set_title("no entropy level reached by two alphabets", fontsize=9)
    for size in sizes:
        s = d[d.alphabet_size == size]
        a1.scatter(s.entropy, s.guess_accuracy, color=palette[size], label=f"l={size}", s=25)
        hs = np.linspace(0.05, math.log2(size), 40)
        a1.plot(hs, [max(distribution(size, h if h < math.log2(size) - 1e-9 else None, family)) for h in hs], ls="--",
                color=palette[size], lw=0.8)
    a1.set_xlabel("entropy (bits/char)")
    a1.set_ylabel("held-out accuracy (guessing level)")
    a1.legend(fontsize=8)
    fig.suptitle(model)
    fig.tight_layout()
    return fig


def plot_memorisation_gain(runs, model: str, sizes):
    """Memorisation gain per epoch (:func:`memlib.difficulty.mean_gain`, mean over seeds) of ``model``'s ``runs``:
    left, the largest alphabet at each entropy; right, uniform strings of each alphabet size."""
    import seaborn as sns

    palette = size_palette(sizes)
    rs = [r for r in runs if r.config.model == model]
    big = max(sizes)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    by_h = {}
    for r in rs:
        s = r.config.train[0]
        if len(s["alphabet"]) == big:
            by_h.setdefault(round(s["entropy"], 3), []).append(r)
    for (h, group), colour in zip(sorted(by_h.items()), sns.color_palette("rocket", len(by_h))):
        g = mean_gain(group)
        a0.plot(g.index, g, color=colour, label=f"H={h:g}")
    a0.set_title(f"l={big}")
    a0.set_xlabel("epoch")
    a0.set_ylabel("memorisation gain")
    a0.legend(fontsize=8)
    for size in sizes:
        group = [r for r in rs if len(r.config.train[0]["alphabet"]) == size
                 and abs(r.config.train[0]["entropy"] - math.log2(size)) < 1e-9]
        if group:
            g = mean_gain(group)
            a1.plot(g.index, g, color=palette[size], label=f"l={size} (H={math.log2(size):.2f})")
    a1.set_title("uniform strings")
    a1.set_xlabel("epoch")
    a1.legend(fontsize=8)
    fig.suptitle(model)
    fig.tight_layout()
    return fig


def plot_family_check(table: pd.DataFrame, families, seeds, sizes):
    """Epochs to 90% against entropy, one panel per distribution family, for the non-uniform runs of ``seeds``
    (rows of a :func:`memlib.difficulty.difficulty_table`)."""
    palette = size_palette(sizes)
    nonuniform = table[~np.isclose(table.entropy, np.log2(table.alphabet_size))]
    fig, axes = plt.subplots(1, len(families), figsize=(5 * len(families), 3.8), sharey=True, squeeze=False)
    for ax, family in zip(axes[0], families):
        d = nonuniform[(nonuniform.family == family) & nonuniform.seed.isin(seeds)]
        for size in sizes:
            s = d[d.alphabet_size == size]
            ax.scatter(s.entropy, s.epochs_to_90, color=palette[size], label=f"l={size}", s=25)
        ax.set_title(f"{family} family")
        ax.set_xlabel("entropy (bits/char)")
    axes[0, 0].set_ylabel("epochs to 90% accuracy")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig



def plot_cross_model(table: pd.DataFrame, models):
    """Each model after the first against the first, string by string (rows of a
    :func:`memlib.difficulty.difficulty_table`): epochs to 90% (hollow: not reached by one of the two, plotted at the
    run's length) and normalised memorisation gain, coloured by entropy, with the diagonal."""
    from .verdict import ORDER_MEASURES, paired_strings

    others = list(models)[1:]
    fig, axes = plt.subplots(len(others), len(ORDER_MEASURES), figsize=(5.5 * len(ORDER_MEASURES), 4.2 * len(others)),
                             squeeze=False)
    for row, m in zip(axes, others):
        a, b = paired_strings(table, models[0], m)
        for ax, (y, name) in zip(row, ORDER_MEASURES.items()):
            hollow = (a.censored_90 | b.censored_90).to_numpy() if y == "epochs_to_90" else np.zeros(len(a), bool)
            points = ax.scatter(a[y][~hollow], b[y][~hollow], c=a.entropy[~hollow], cmap="viridis",
                                vmin=table.entropy.min(), vmax=table.entropy.max(), s=30)
            if hollow.any():
                ax.scatter(a[y][hollow], b[y][hollow], facecolors="none", edgecolors="0.3", s=30)
            lo, hi = min(a[y].min(), b[y].min()), max(a[y].max(), b[y].max())
            ax.plot([lo, hi], [lo, hi], ls="--", color="0.6", lw=0.8)
            ax.set_xlabel(f"{models[0]}: {name}")
            ax.set_ylabel(f"{m}: {name}")
        fig.colorbar(points, ax=row[-1], label="entropy (bits/char)")
    fig.suptitle("the same strings, model against model")
    fig.tight_layout()
    return fig
