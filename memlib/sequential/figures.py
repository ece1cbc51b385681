"""Notebook 04's figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..figures import legend_below


def _stage_lines(ax, bounds, names):
    """Vertical lines at stage boundaries, each stage named above the axes."""
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        ax.axvline(a, color="0.6", lw=0.8, ls="--")
        ax.text((a + b) / 2, 1.04, names[k], ha="center", va="bottom", fontsize=7, transform=ax.get_xaxis_transform())
    ax.axvline(bounds[-1], color="0.6", lw=0.8, ls="--")


def plot_schedule(curves: pd.DataFrame, bounds: dict, stage_names: dict):
    """Accuracy of every string of a schedule over the whole schedule, one panel per model
    (:func:`memlib.sequential.curves` of one run per model). Solid while the string is trained,
    thin when it is not; grey: held-out strings (the guessing level); dashed lines: stage boundaries.
    ``bounds`` / ``stage_names``: per model, the run's stage bounds and the stages' names."""
    models = list(dict.fromkeys(curves.model))
    fig, axes = plt.subplots(len(models), 1, figsize=(10, 2.4 * len(models)), squeeze=False)
    names = sorted(n for n in set(curves.name) if not n.startswith("held-out"))
    colours = dict(zip(names, plt.cm.tab10(np.arange(len(names)) % 10)))
    for ax, model in zip(axes[:, 0], models):
        d = curves[curves.model == model]
        for name in names:
            g = d[d.name == name].sort_values("epoch")
            ax.plot(g.epoch, g.accuracy, color=colours[name], lw=0.9, alpha=0.55)
            on = g.accuracy.where(g.trained)
            ax.plot(g.epoch, on, color=colours[name], lw=2.2, label=name)
        for name, g in d[d.name.str.startswith("held-out")].groupby("name"):
            ax.plot(g.epoch, g.accuracy, color="0.45", lw=1, ls=":", label=f"{name} (mean)")
        _stage_lines(ax, bounds[model], stage_names[model])
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(0, bounds[model][-1])
        ax.set_ylabel("accuracy")
        seed, lr = d.seed.iloc[0], d.lr.iloc[0]
        ax.set_title(f"{model} (lr {lr}, seed {seed})", fontsize=9, pad=14)
    axes[-1, 0].set_xlabel("epoch of the schedule")
    legend_below(fig, axes, ncol=len(names) + 2)
    return fig


def plot_stage_speed(stages: pd.DataFrame, control: pd.DataFrame, new: pd.DataFrame | None = None):
    """Left: epochs to memorise each stage of the sequence, per model (points: seeds; line: median;
    hollow: censored, at the stage's length; dashed with crosses: median epochs the same strings take
    on a fresh model; triangles: ``new``, the :func:`memlib.sequential.relearn_vs_new` table, the
    never-seen string N in place of the last stage, median over seeds). Right: epochs to memorise the control string S2 fresh,
    after S1 over the same alphabet and after T1 over a disjoint alphabet (a
    :func:`memlib.sequential.control_table`; points: seeds, hollow censored; bar: median)."""
    models = list(dict.fromkeys(stages.model))
    colours = dict(zip(models, plt.cm.tab10(np.arange(len(models)) % 10)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1.3, 1]})
    for i, model in enumerate(models):
        d = stages[stages.model == model]
        x = d.stage + (i - (len(models) - 1) / 2) * 0.06
        done = d[~d.censored]
        left.scatter(x[~d.censored], done.memorised, color=colours[model], s=14)
        left.scatter(x[d.censored], d[d.censored].epochs, facecolors="none", edgecolors=colours[model], s=18)
        med = d.assign(v=d.memorised.where(~d.censored, d.epochs)).groupby("stage").v.median()
        left.plot(med.index, med, color=colours[model], lw=1.5, label=model)
        if "fresh_memorised" in d and d.fresh_epochs.notna().any():  # censored fresh runs at their length
            fresh = d.assign(v=d.fresh_memorised.where(~d.fresh_censored.astype(bool), d.fresh_epochs)).groupby("stage").v.median()
            left.plot(fresh.index, fresh, color=colours[model], lw=1, ls="--", marker="x", ms=4)
        if new is not None and len(new[new.model == model]):
            n = new[new.model == model]
            left.scatter([d.stage.max() + 0.15], [n.new.where(~n.new_censored, n.new_epochs).median()], marker="^",
                         color=colours[model], s=36, zorder=3)
    labels = stages.drop_duplicates("stage").sort_values("stage")
    left.set_xticks(labels.stage)
    left.set_xticklabels([f"S{f + 1}" if o == 1 else f"S{f + 1}\nagain" for o, f in
                          zip(labels.occurrence, labels.string)], fontsize=8)
    left.set_xlabel("stage of the sequence")
    left.set_ylabel("epochs to memorise")
    left.set_ylim(bottom=0)
    left.plot([], [], color="0.4", lw=1, ls="--", marker="x", ms=4, label="same strings, fresh model")
    if new is not None and len(new):
        left.scatter([], [], marker="^", color="0.4", s=36, label="never-seen N instead (median)")
    left.legend(fontsize=7, frameon=False)
    left.set_title("speed-up, and re-learning", fontsize=9)
    conds = ["fresh", "after same alphabet", "after disjoint alphabet"]
    width = 0.8 / max(len(models), 1)
    for i, model in enumerate(models):
        d = control[control.model == model]
        for j, c in enumerate(conds):
            g = d[d.condition == c]
            if g.empty:
                continue
            x = j + (i - (len(models) - 1) / 2) * width
            v = g.memorised.where(~g.censored, g.epochs)
            right.bar(x, v.median(), width=width * 0.9, color=colours[model], alpha=0.35)
            right.scatter(np.full((~g.censored).sum(), x), v[~g.censored], color=colours[model], s=12)
            right.scatter(np.full(g.censored.sum(), x), v[g.censored], facecolors="none", edgecolors=colours[model], s=16)
    right.set_xticks(range(len(conds)))
    right.set_xticklabels(["S2 fresh", "S2 after S1\n(same alphabet)", "S2 after T1\n(disjoint alphabet)"], fontsize=8)
    right.set_ylabel("epochs to memorise S2")
    right.set_title("where the speed-up comes from", fontsize=9)
    fig.tight_layout()
    return fig


def plot_retention(retention: pd.DataFrame):
    """The retention matrix per model: accuracy of each string (rows) at the end of each stage
    (columns), mean over seeds; colour: retention (1 = as when learnt, 0 = guessing level), cells
    before a string is first trained left blank; numbers: accuracy. The figure's title says so."""
    import seaborn as sns

    models = list(dict.fromkeys(retention.model))
    fig, axes = plt.subplots(1, len(models), figsize=(3.3 * len(models), 3.0), squeeze=False)
    for ax, model in zip(axes[0], models):
        d = retention[retention.model == model]
        acc = d.pivot_table(index="string", columns="stage", values="accuracy", aggfunc="mean", dropna=False)
        ret = d.pivot_table(index="string", columns="stage", values="retention", aggfunc="mean",
                            dropna=False).reindex(index=acc.index, columns=acc.columns)
        ret = ret.where(acc.notna())
        sns.heatmap(ret, ax=ax, vmin=0, vmax=1, cmap="viridis", cbar=ax is axes[0, -1],
                    annot=acc.where(ret.notna()).round(2), fmt=".2f", annot_kws={"fontsize": 7},
                    cbar_kws={"label": "colour: retention\n(acc - guess) / (learnt - guess)"} if ax is axes[0, -1]
                    else None)
        ax.grid(False)
        ax.set_yticklabels([f"S{j + 1}" for j in ret.index], rotation=0)
        stages = d.drop_duplicates("stage").sort_values("stage")
        first = d[d.status == "trained"].drop_duplicates("stage").set_index("stage").string
        ax.set_xticklabels([f"end of\nS{first.get(k, 0) + 1}" for k in stages.stage], fontsize=7, rotation=0)
        ax.set_xlabel("")
        ax.set_ylabel("string" if ax is axes[0, 0] else "")
        ax.set_title(f"{model} ({d.seed.nunique()} seeds)", fontsize=9)
    fig.suptitle("numbers: accuracy, mean over seeds; colour: retention (1 = as when learnt, 0 = back to guessing); "
                 "blank: not trained yet", fontsize=8)
    fig.tight_layout()
    return fig
