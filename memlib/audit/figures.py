"""Notebook 07's figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .tables import LABELS


def plot_tails(table: pd.DataFrame, coverage: pd.DataFrame, enumerated: pd.DataFrame | None = None):
    """(a) the error of importance-sampled exposure (position-wise models), every sample set of the largest size with
    its 95% interval (red: the interval misses the exact value), and, where the runs enumerated, the same against
    enumeration (squares); (b) coverage of the interval per depth band and number of samples, with its
    Clopper-Pearson interval, against the nominal 95%; (c) the median absolute error in bits."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    ax = axes[0]
    big = table[table.n == table.n.max()]
    for covered, d in big.groupby("covered"):
        ax.errorbar(d.exact, d.measured - d.exact, yerr=[d.measured - d.low, d.high - d.measured], fmt="o", ms=2.5,
                    lw=0.6, color="C0" if covered else "C3", alpha=0.7,
                    label=f"{'covers' if covered else 'misses'} the exact value ({len(d)})")
    if enumerated is not None and len(enumerated):
        e = enumerated.dropna(subset=["measured", "exact"])
        ax.errorbar(e.exact, e.measured - e.exact, yerr=[e.measured - e.measured_low, e.measured_high - e.measured],
                    fmt="s", ms=3, lw=0.6, color="C2", label=f"tiny Llama against enumeration ({len(e)})")
    ax.axhline(0, color="k", ls=":", lw=1)
    ax.set(xlabel="exact exposure (bits)", ylabel="importance-sampled minus exact (bits)",
           title=f"(a) each estimate's error and 95% interval, {int(big.n.max()):,} samples")
    ax.legend(fontsize=7)
    for ax, col, title in ((axes[1], "coverage", "(b) coverage of the 95% interval"),
                           (axes[2], "median_error", "(c) median |error| (bits)")):
        bands = list(dict.fromkeys(coverage.depth))
        for i, (n, d) in enumerate(coverage.groupby("n")):
            x = np.array([bands.index(b) for b in d.depth]) + (i - 1) * 0.12
            if col == "coverage":
                ax.errorbar(x, d.coverage, yerr=[d.coverage - d.coverage_low, d.coverage_high - d.coverage], fmt="o",
                            ms=4, color=f"C{i}", label=f"{n:,} samples")
            else:
                ax.plot(x, d.median_error, "o-", ms=4, color=f"C{i}", label=f"{n:,} samples")
        if col == "coverage":
            ax.axhline(0.95, color="k", ls=":", lw=1)
            ax.set_ylim(min(0.5, float(coverage.coverage_low.min()) - 0.05), 1.02)
        ax.set_xticks(range(len(bands)), [b.replace("[", "").replace(")", "").replace(", ", "-") for b in bands])
        ax.set(xlabel="exact exposure (bits)", title=title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_attacks(rocs: pd.DataFrame, attacks: pd.DataFrame, fprs, epoch: int):
    """(a) ROC of every attack at ``epoch`` on log axes (the low-FPR region the field reports), the chance line
    dotted; (b) TPR at each false-positive rate with its two-way bootstrap interval, per attack."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    ax = axes[0]
    at = attacks[attacks.epoch == epoch].set_index("attack")
    for i, (name, d) in enumerate(rocs.groupby("attack", sort=False)):
        d = d[d.fpr > 0]
        ax.plot(d.fpr, d.tpr, "-", color=f"C{i}", lw=1.2, label=f"{name} (AUC {at.auc[name]:.2f})")
    lo = max(1e-4, 1 / max(1, int(at.non_members.iloc[0])))
    ax.plot([lo, 1], [lo, 1], "k:", lw=1)
    for f in fprs:
        ax.axvline(f, color="0.7", lw=0.8, ls="--")
    ax.set(xscale="log", yscale="log", xlim=(lo, 1), ylim=(lo, 1.05), xlabel="false-positive rate",
           ylabel="true-positive rate", title=f"(a) ROC at epoch {epoch}, every model the target once")
    ax.legend(fontsize=7)
    ax = axes[1]
    names = list(at.index)
    for k, f in enumerate(fprs):
        y, low, high = at[f"tpr_{f:g}"], at[f"tpr_{f:g}_low"], at[f"tpr_{f:g}_high"]
        x = np.arange(len(names)) + (k - (len(fprs) - 1) / 2) * 0.2
        ax.errorbar(x, y, yerr=[(y - low).clip(lower=0), (high - y).clip(lower=0)], fmt="o", ms=5, color=f"C{k}",
                    label=f"TPR at {f:.1%} FPR".replace(".0%", "%"))
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set(ylabel="true-positive rate", ylim=(0, 1.02),
           title="(b) TPR at low FPR (95% bootstrap over models and strings)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_strings(strings: pd.DataFrame, corr: pd.DataFrame, measures, pairs=(("exposure", "counterfactual"),
                                                                               ("lira", "memorised_bits"))):
    """(a) Spearman's rho between every two measures over the pool's strings; (b, c) two pairs of measures string by
    string, each measure's top quarter marked (filled: flagged by both; red: flagged by the first and in the lower
    half of the second)."""
    fig, axes = plt.subplots(1, 1 + len(pairs), figsize=(5 + 4.5 * len(pairs), 4.3))
    ax = axes[0]
    m = len(measures)
    grid = np.eye(m)
    for r in corr.itertuples():
        i, j = measures.index(r.a), measures.index(r.b)
        grid[i, j] = grid[j, i] = r.rho
    im = ax.imshow(grid, vmin=-1, vmax=1, cmap="RdBu_r")
    for i in range(m):
        for j in range(m):
            ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(grid[i, j]) > 0.6 else "black")
    short = [LABELS[x].split(" (")[0] for x in measures]
    ax.set_xticks(range(m), short, rotation=35, ha="right", fontsize=7)
    ax.set_yticks(range(m), short, fontsize=7)
    ax.set_title(f"(a) Spearman rho over {len(strings)} strings")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ranks = strings[list(measures)].rank(pct=True)
    for k, (a, b) in enumerate(pairs, start=1):
        ax = axes[k]
        fa, fb = ranks[a] > 0.75, ranks[b] > 0.75
        miss = fa & (ranks[b] <= 0.5)
        ax.plot(strings[a], strings[b], "o", ms=4, mfc="white", color="0.5", label="string")
        ax.plot(strings[a][fa & fb], strings[b][fa & fb], "o", ms=4, color="C0", label="top quarter of both")
        ax.plot(strings[a][miss], strings[b][miss], "o", ms=5, color="C3",
                label=f"top quarter of {short[measures.index(a)]}, lower half of {short[measures.index(b)]}")
        ax.set(xlabel=LABELS[a], ylabel=LABELS[b], title=f"({'abc'[k]}) per string")
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig
