"""Notebook 05's figures."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..figures import legend_below


def plot_privacy(extraction: pd.DataFrame, exposure: pd.DataFrame, membership: pd.DataFrame, settings: list[str],
                 attack: pd.DataFrame | None = None):
    """Notebook 05's measures on one time axis, one column per setting (means over seeds, band
    min-max). Top: recollection accuracy, the share of the string that greedy generation from BOS
    reproduces, and the k-extractable rate. Middle: exposure in bits of the trained strings (filled
    where extrapolated by the distribution fit) and of held-out strings (the check: 1.32 bits expected for 31 candidates, as in the default preset, 1.44 as their number grows);
    dotted: the most a count over the candidates can resolve, log2(N + 1). Bottom: the loss-threshold
    membership attack's ROC AUC and true-positive rate at 1% false positives, pooled over seeds (missing where
    not measurable at this n); with ``attack`` (:func:`memlib.membership.attack_table` of the same runs), also its
    AUC against permutations of the strings' letters and calibrated by the loaded model's loss."""
    fig, axes = plt.subplots(3, len(settings), figsize=(3.4 * len(settings), 7.6), squeeze=False, sharex="col")
    for j, name in enumerate(settings):
        ax = axes[0, j]
        x = extraction[extraction.setting == name]
        for col, label, colour in (("accuracy", "accuracy (true prefix)", "tab:blue"),
                                   ("from_bos_share", "extracted from BOS (share)", "tab:red")):
            g = x.groupby("epoch")[col]
            ax.plot(g.mean().index, g.mean(), color=colour, label=label)
            ax.fill_between(g.mean().index, g.min(), g.max(), color=colour, alpha=0.15, lw=0)
        p = x[x.k_extractable.notna()].groupby("epoch").k_extractable
        ax.plot(p.mean().index, p.mean(), color="tab:green", marker="o", ms=3, label="k-extractable rate")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(name.replace(", lr", "\nlr"), fontsize=8)
        ax = axes[1, j]
        ex = exposure[exposure.setting == name]
        mem, held = ex[ex.member], ex[~ex.member]
        g = mem.groupby("epoch").exposure
        ax.plot(g.mean().index, g.mean(), color="tab:purple", label="trained string")
        ax.fill_between(g.mean().index, g.min(), g.max(), color="tab:purple", alpha=0.15, lw=0)
        fit = mem[mem.method != "counted"]
        ax.scatter(fit.epoch, fit.exposure, s=10, color="tab:purple", label="extrapolated (skew-normal fit)")
        counted = mem[mem.method == "counted"]
        ax.scatter(counted.epoch, counted.exposure, s=10, facecolors="none", edgecolors="tab:purple",
                   label="counted among candidates")
        h = held.groupby("epoch").exposure.mean()
        ax.plot(h.index, h, color="0.4", ls="--", label="held-out strings (mean)")
        if len(mem):
            ax.axhline(math.log2(mem.candidates.max() + 1), color="0.4", ls=":", lw=1, label="count resolves up to")
        ax.set_yscale("symlog", linthresh=10)
        ax = axes[2, j]
        m = membership[membership.setting == name]
        ax.plot(m.epoch, m.auc, color="tab:orange", marker="o", ms=3, label="membership attack ROC AUC")
        ax.plot(m.epoch, m.tpr_at_fpr, color="tab:brown", marker="s", ms=3, ls="--",
                label="TPR at 1% FPR (missing: not measurable at this n)")
        if attack is not None:
            a = attack[attack.setting == name]
            for against, score, colour, label in (("permuted", "loss", "tab:red", "AUC against permuted letters"),
                                                  ("fresh", "calibrated", "tab:olive", "AUC calibrated by the loaded model")):
                d = a[(a.against == against) & (a.score == score)]
                ax.plot(d.epoch, d.auc, color=colour, marker="o", ms=3, ls=":", label=label)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("epoch")
    axes[0, 0].set_ylabel("share of the string")
    axes[1, 0].set_ylabel("exposure (bits)")
    axes[2, 0].set_ylabel("attack")
    legend_below(fig, axes, ncol=4)
    return fig


def plot_candidates(attack: pd.DataFrame, exposures: pd.DataFrame, enumerated: pd.DataFrame | None = None, fprs=(0.01, 0.001)):
    """Many members, many candidates (one row per setting of ``attack``): the membership attack's ROC AUC
    against fresh and permuted non-members (solid: raw loss; dashed: calibrated by the loaded model's loss)
    and its TPR at each of ``fprs`` (gaps: not measurable at this n); the members' exposure over epochs
    (median, band min-max): counted among fresh and among permuted candidates, importance-sampled (with
    the widest 95% interval) and the skew-normal fit, under the self-information. With ``enumerated``, a
    last panel: importance-sampled against exact exposure with their 95% intervals, the diagonal."""
    names = list(dict.fromkeys(attack.setting))
    cols = 3 + (enumerated is not None and len(enumerated) > 0)
    fig, axes = plt.subplots(len(names), cols, figsize=(3.6 * cols, 3.2 * len(names) + 0.8), squeeze=False)
    colours = {"fresh": "tab:blue", "permuted": "tab:red"}
    for i, name in enumerate(names):
        a = attack[attack.setting == name]
        for (against, score), d in a.groupby(["against", "score"], sort=False):
            ls = "-" if score == "loss" else "--"
            axes[i, 0].plot(d.epoch, d.auc, color=colours[against], ls=ls, marker="o", ms=3,
                            label=f"{against} non-members, {'raw loss' if score == 'loss' else 'calibrated'}")
            if score == "loss":
                for f, mk in zip(fprs, ("s", "^")):
                    axes[i, 1].plot(d.epoch, d[f"tpr_{f:g}"], color=colours[against], marker=mk, ms=4,
                                    ls="-" if mk == "s" else ":", label=f"{against}, TPR at {f:.1%} FPR")
        axes[i, 0].set_ylim(0.35, 1.02)
        axes[i, 0].axhline(0.5, color="0.6", lw=0.8)
        axes[i, 0].set_ylabel("ROC AUC")
        axes[i, 0].set_title(name, fontsize=8)
        axes[i, 1].set_ylim(-0.02, 1.02)
        axes[i, 1].set_ylabel("true-positive rate")
        ax = axes[i, 2]
        x = exposures[exposures.setting == name]
        for col, label, colour in (("fresh", "counted, fresh", "tab:blue"), ("permuted", "counted, permuted", "tab:red"),
                                   ("measured", "importance-sampled", "black"), ("fitted", "skew-normal fit", "tab:olive")):
            if col not in x or x[col].isna().all():
                continue
            g = x.groupby("epoch")[col]
            ax.plot(g.median().index, g.median(), color=colour, marker="o", ms=3, label=label,
                    ls="--" if col == "fitted" else "-")
            ax.fill_between(g.median().index, g.min(), g.max(), color=colour, alpha=0.12, lw=0)
        ax.axhline(x.max_bits.median(), color="0.5", ls=":", lw=1, label="self-information")
        ax.set_ylabel("exposure (bits)")
        for ax in axes[i, :3]:
            ax.set_xlabel("epoch")
    if cols == 4:
        ax = axes[0, 3]
        e = enumerated.dropna(subset=["measured", "exact"])
        ax.errorbar(e.exact, e.measured, yerr=[e.measured - e.measured_low, e.measured_high - e.measured],
                    fmt="o", ms=3, color="black", ecolor="0.5", lw=0.8, label="importance-sampled, 95% CI")
        top = float(max(e.exact.max(), e.measured_high.max())) + 0.5
        ax.plot([0, top], [0, top], color="0.6", lw=0.8)
        n = int(exposures.fresh_n.max())
        ax.axvline(math.log2(n + 1), color="tab:blue", ls=":", lw=1, label=f"{n:,} counted candidates resolve")
        ax.set_xlabel("exact exposure (bits, enumeration)")
        ax.set_ylabel("measured exposure (bits)")
        ax.set_title("check against exact enumeration", fontsize=8)
        for r in range(1, len(names)):
            axes[r, 3].axis("off")
    legend_below(fig, axes, ncol=4)
    return fig


def plot_onsets(onsets: pd.DataFrame, settings: list[str]):
    """When each character is memorised: left, the onset epoch of every position of the first seed's
    string, one row per setting (grey: never stable by the end); middle and right, median onset
    against the character's uniqueness and its probability under the distribution (all seeds)."""
    first = onsets[onsets.seed == onsets.seed.min()]
    length = int(onsets.position.max()) + 1
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 0.5 * len(settings) + 2.6),
                                  gridspec_kw={"width_ratios": [2.2, 1, 1]})
    grid = np.full((len(settings), length), np.nan)
    for i, name in enumerate(settings):
        d = first[first.setting == name].sort_values("position")
        grid[i, : len(d)] = d.onset / max(d.onset.max(), 1)
    cmap = plt.cm.viridis.copy()
    cmap.set_bad("0.85")
    im = a.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, vmin=0, vmax=1)
    a.set_yticks(range(len(settings)))
    a.set_yticklabels([s.replace(", lr", "\nlr") for s in settings], fontsize=7)
    a.set_xlabel("position in the string")
    a.grid(False)
    fig.colorbar(im, ax=a, label="onset / last onset of the run")
    colours = dict(zip(settings, plt.cm.tab10(np.arange(len(settings)) % 10)))
    for ax, col, label in ((b, "uniqueness", "uniqueness (shortest unique k-gram before it)"),
                           (c, "p_char", "probability of the character")):
        for name in settings:
            d = onsets[onsets.setting == name]
            if d[col].nunique() < 2:
                continue
            g = d.groupby(col).onset.median()
            ax.plot(g.index, g, marker="o", ms=3, color=colours[name], label=name)
        ax.set_xlabel(label)
        ax.set_ylabel("median onset epoch")
    b.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig
