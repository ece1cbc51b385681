"""Notebook 03's figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..figures import legend_below
from ..labels import moment_label, moment_order


def _k_axis(ax, ks):
    ax.set_xscale("symlog", base=2, linthresh=1)
    ax.set_xlim(ks[0] * 0.8 if ks[0] > 0 else -0.2, ks[-1] * 1.25)  # no empty stretch down to 0 where k starts at 1
    ax.set_xticks(ks)
    ax.set_xticklabels([str(k) for k in ks], fontsize=8, rotation=90 if len(ks) > 8 else 0)  # long strings: many k


def _curves(table: pd.DataFrame):
    """The (length, alphabet size) curves of a recall table, each with its colour and label."""
    pairs = sorted(set(zip(table.length, table.alphabet_size)))
    colours = plt.cm.viridis(np.linspace(0, 0.85, len(pairs)))
    return {p: (c, f"{p[0]} chars, {p[1]} letters") for p, c in zip(pairs, colours)}


def plot_recall_vs_k(table: pd.DataFrame, settings: list[str]):
    """Recall from the local prefix alone against its length k (a :func:`recall_table`), over the
    positions ``i > k`` only (whose k characters leave out the string's start).

    Rows: moments (just memorised, N epochs after it, ...); columns: settings (model and learning rate). One colour
    per string length and alphabet size: solid, local-prefix recall (median over seeds, band min-max); dotted,
    full-context recall; dashed, the likeliest letter's probability (guessing from the letter distribution)."""
    local = table[(table.probe == "local") & (table.k > 0) & (table.k < table.length)]
    moments = moment_order(local.moment)
    curves = _curves(local)
    fig, axes = plt.subplots(len(moments), len(settings), figsize=(max(6.0, 3.8 * len(settings)), 3.0 * len(moments)),
                             squeeze=False, sharey=True)
    for i, moment in enumerate(moments):
        for j, name in enumerate(settings):
            ax = axes[i, j]
            d = local[(local.setting == name) & (local.moment == moment)]
            for (length, size), g in d.groupby(["length", "alphabet_size"]):
                colour, label = curves[(length, size)]
                curve = g.groupby("k").recall_beyond
                ax.plot(curve.median().index, curve.median(), color=colour, marker="o", ms=3, label=f"{label}: local prefix")
                ax.fill_between(curve.median().index, curve.min(), curve.max(), color=colour, alpha=0.15, lw=0)
                ax.axhline(g.full.median(), color=colour, ls=":", lw=1, label=f"{label}: full context")
                ax.axhline(g.guess_distribution.mean(), color=colour, ls="--", lw=0.8, label=f"{label}: guessing")
            if len(d):
                _k_axis(ax, sorted(set(d.k.dropna().astype(int))))
            ax.set_title(f"{name}\n{moment_label(moment)}", fontsize=9)
            ax.set_ylim(-0.02, 1.02)
            if j == 0:
                ax.set_ylabel("recall at positions i > k")
            if i == len(moments) - 1:
                ax.set_xlabel("k: characters of local prefix")
    legend_below(fig, axes, ncol=3)
    return fig


PROBE_KINDS = {"none": ("local prefix only (moved to the start)", "tab:blue"),
               "random": ("rest replaced by random letters", "tab:orange"),
               "shuffled": ("rest shuffled", "tab:green")}


def plot_context_probes(table: pd.DataFrame, settings: list[str], moment: str = "memorised"):
    """Global context replaced (top) and positions shifted (bottom), at ``moment``, one column per setting and
    string length (a :func:`recall_table`; medians over seeds, pooled over alphabet sizes).

    Top, over the positions ``i > k`` only: recall when the ``k`` characters before each position are kept and
    everything before them is replaced by random letters from the string's distribution or shuffled (positions
    kept), against the local prefix alone moved to the start (the local-prefix probe); dotted: full-context
    recall. Bottom: recall of the whole string when ``m`` random letters are put in front of it (``m = 0``: the
    full context)."""
    d = table[table.moment == moment]
    columns = [(s, length) for s in settings for length in sorted(set(d[d.setting == s].length))]
    fig, axes = plt.subplots(2, max(1, len(columns)), figsize=(max(6.8, 3.4 * len(columns)), 5.8), squeeze=False,
                             sharey=True)
    for j, (name, length) in enumerate(columns):
        m = d[(d.setting == name) & (d.length == length)]
        ax = axes[0, j]
        rep = m[m.probe == "replace"]
        ks = sorted(set(rep.k.dropna().astype(int)))
        local = m[(m.probe == "local") & m.k.isin(ks)]
        for kind, g in [("none", local), *rep[rep.kind != "none"].groupby("kind")]:
            label, colour = PROBE_KINDS[kind]
            curve = g.groupby(["k", "seed"]).recall_beyond.mean().groupby("k").median()
            ax.plot(curve.index, curve, marker="o", ms=3, color=colour, label=label)
        ax.axhline(m.full.median(), color="k", ls=":", lw=1, label="full context")
        if len(rep):
            _k_axis(ax, ks)
        ax.set_title(f"{name}, {length} chars\n{moment_label(moment)}", fontsize=9)
        ax.set_xlabel("k: characters kept before i")
        ax.set_ylim(-0.02, 1.02)
        ax = axes[1, j]
        shift = m[m.probe == "shift"].groupby(["m", "seed"]).recall.mean().groupby("m").median()
        xs, ys = [0, *shift.index.astype(int)], [m.full.median(), *shift]
        ax.plot(xs, ys, marker="o", ms=3, color="tab:purple", label="m random letters in front")
        _k_axis(ax, xs)
        ax.set_xlabel("m: extra letters before the string")
        ax.set_ylim(-0.02, 1.02)
        if j == 0:
            axes[0, j].set_ylabel("recall at positions i > k")
            axes[1, j].set_ylabel("recall accuracy")
    legend_below(fig, axes, ncol=5)
    return fig


def plot_characters(run, characters: pd.DataFrame, at="last"):
    """Left: for one probed ``run`` at its end, which characters the local prefix of each length k
    recalls (dark = recalled), with each position's uniqueness (the shortest k whose k-gram before
    it is unique, white line). Right: for every row of ``characters`` (a concatenation of
    :func:`character_table`), the k from which the local prefix recalls the character
    against its uniqueness, jittered, one colour per alphabet size; characters never recalled from
    the local prefix alone are left out."""
    a = run.probe(at)
    ks = a["ks"]
    pos = np.asarray(a.get("local_positions", np.arange(len(a["uniqueness"]))))
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(13, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    a0.imshow(a["local_correct"], aspect="auto", cmap="Greys", interpolation="nearest", origin="lower")
    a0.grid(False)
    a0.plot(np.arange(len(pos)), np.searchsorted(ks, np.asarray(a["uniqueness"])[pos]), color="w", lw=1.5,
            drawstyle="steps-mid", label="uniqueness k")
    a0.set_yticks(range(len(ks)))
    a0.set_yticklabels([str(k) for k in ks])
    text = run.config.train[0]["text"]
    if len(pos) <= 40:
        a0.set_xticks(range(len(pos)))
        a0.set_xticklabels([text[i] for i in pos], fontsize=7)
    a0.set_xlabel("position (the character to recall)" if len(pos) == len(text) else
                  f"{len(pos)} of the {len(text)} positions (the probe's subset)")
    a0.set_ylabel("k: characters of local prefix")
    alphabet = run.config.train[0].get("alphabet") or sorted(set(text))
    a0.set_title(f"{run.config.model}, {len(text)} chars, {len(alphabet)} letters, seed {run.config.seed}, "
                 f"{moment_label(at)}: recalled from the local prefix alone (dark)", fontsize=9)
    a0.legend(loc="upper left", fontsize=8, facecolor="0.5")
    rng = np.random.default_rng(0)
    curves = _curves(characters)
    for pair, g in characters.dropna(subset=["first_k"]).groupby(["length", "alphabet_size"]):
        jitter = np.exp(rng.uniform(-0.1, 0.1, (2, len(g))))  # multiplicative: symmetric on the log axes
        colour, label = curves[pair]
        a1.scatter(g.uniqueness * jitter[0], g.first_k * jitter[1], s=8, alpha=0.5, color=colour, label=label)
    top = max(characters.uniqueness.max(), np.nanmax(characters.first_k), 1)
    diagonal = np.linspace(0, top, 200)
    a1.plot(diagonal, diagonal, color="k", lw=0.8, ls=":", label="first k = uniqueness")
    a1.set_xscale("symlog", base=2, linthresh=1)
    a1.set_yscale("symlog", base=2, linthresh=1)
    a1.set_xlabel("uniqueness: shortest k with a unique k-gram before it")
    a1.set_ylabel("k from which it is recalled")
    a1.legend(fontsize=8)
    fig.tight_layout()
    return fig
