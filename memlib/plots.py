"""Figure style, the dynamics panel grid, and ``save_figure`` (PNG + SVG)."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .labels import lr_label, moment_label, moment_order
from .phases import run_curves

__all__ = ["style", "save_figure", "run_curves", "plot_dynamics", "plot_pretrained_vs_random",
           "plot_recall_vs_k", "plot_context_probes", "plot_characters", "plot_schedule", "plot_stage_speed",
           "plot_retention", "plot_privacy", "plot_onsets"]

SPLIT_COLOURS = {"train": "#1f77b4", "test": "#7f7f7f"}
PANELS = (
    ("accuracy", "recollection accuracy"),
    ("loss", "loss (nats)"),
    ("alphabet_mass", "probability mass on alphabet"),
    ("entropy", "prediction entropy (bits)"),
)


def style() -> None:
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9)
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight", "svg.hashsalt": "memlib",
                         "svg.fonttype": "none"})


def save_figure(fig, name: str, figures_dir: str | os.PathLike) -> list[Path]:
    """Write ``fig`` as ``<figures_dir>/<name>.png`` and ``.svg`` (each written to a temporary
    file, then renamed into place). Call it after the notebook's work has succeeded."""
    folder = Path(figures_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        target = folder / f"{name}.{ext}"
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".{ext}", dir=folder)
        os.close(fd)
        try:
            fig.savefig(tmp, format=ext, metadata={"Date": None} if ext == "svg" else {"Software": None})
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        paths.append(target)
    return paths


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
    start to median end), when ``phases`` (a :func:`memlib.phases.phase_table`) is given.
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
    from .phases import twin_label, twin_pairs

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
    """Recall from the local prefix alone against its length k (a :func:`memlib.probes.recall_table`), over the
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
        for j, setting in enumerate(settings):
            ax = axes[i, j]
            d = local[(local.setting == setting) & (local.moment == moment)]
            for (length, size), g in d.groupby(["length", "alphabet_size"]):
                colour, label = curves[(length, size)]
                curve = g.groupby("k").recall_beyond
                ax.plot(curve.median().index, curve.median(), color=colour, marker="o", ms=3, label=f"{label}: local prefix")
                ax.fill_between(curve.median().index, curve.min(), curve.max(), color=colour, alpha=0.15, lw=0)
                ax.axhline(g.full.median(), color=colour, ls=":", lw=1, label=f"{label}: full context")
                ax.axhline(g.guess_distribution.mean(), color=colour, ls="--", lw=0.8, label=f"{label}: guessing")
            if len(d):
                _k_axis(ax, sorted(set(d.k.dropna().astype(int))))
            ax.set_title(f"{setting}\n{moment_label(moment)}", fontsize=9)
            ax.set_ylim(-0.02, 1.02)
            if j == 0:
                ax.set_ylabel("recall at positions i > k")
            if i == len(moments) - 1:
                ax.set_xlabel("k: characters of local prefix")
    _legend_below(fig, axes, ncol=3)
    return fig


def _legend_below(fig, axes, ncol):
    handles = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    rows = axes.shape[0]
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=ncol, frameon=False, fontsize=8,
               bbox_to_anchor=(0.5, -0.02 - 0.05 / rows))
    fig.tight_layout(rect=(0, 0.05 + 0.03 * (len(handles) // ncol) / rows, 1, 1))


PROBE_KINDS = {"none": ("local prefix only (moved to the start)", "tab:blue"),
               "random": ("rest replaced by random letters", "tab:orange"),
               "shuffled": ("rest shuffled", "tab:green")}


def plot_context_probes(table: pd.DataFrame, settings: list[str], moment: str = "memorised"):
    """Global context replaced (top) and positions shifted (bottom), at ``moment``, one column per setting and
    string length (a :func:`memlib.probes.recall_table`; medians over seeds, pooled over alphabet sizes).

    Top, over the positions ``i > k`` only: recall when the ``k`` characters before each position are kept and
    everything before them is replaced by random letters from the string's distribution or shuffled (positions
    kept), against the local prefix alone moved to the start (the local-prefix probe); dotted: full-context
    recall. Bottom: recall of the whole string when ``m`` random letters are put in front of it (``m = 0``: the
    full context)."""
    d = table[table.moment == moment]
    columns = [(s, length) for s in settings for length in sorted(set(d[d.setting == s].length))]
    fig, axes = plt.subplots(2, max(1, len(columns)), figsize=(max(6.8, 3.4 * len(columns)), 5.8), squeeze=False,
                             sharey=True)
    for j, (setting, length) in enumerate(columns):
        m = d[(d.setting == setting) & (d.length == length)]
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
        ax.set_title(f"{setting}, {length} chars\n{moment_label(moment)}", fontsize=9)
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
    _legend_below(fig, axes, ncol=5)
    return fig


def plot_characters(run, characters: pd.DataFrame, at="last"):
    """Left: for one probed ``run`` at its end, which characters the local prefix of each length k
    recalls (dark = recalled), with each position's uniqueness (the shortest k whose k-gram before
    it is unique, white line). Right: for every row of ``characters`` (a concatenation of
    :func:`memlib.probes.character_table`), the k from which the local prefix recalls the character
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
    _legend_below(fig, axes, ncol=len(names) + 2)
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


def plot_privacy(extraction: pd.DataFrame, exposure: pd.DataFrame, membership: pd.DataFrame, settings: list[str],
                 attack: pd.DataFrame | None = None):
    """Notebook 05's measures on one time axis, one column per setting (means over seeds, band
    min-max). Top: recollection accuracy, the share of the string that greedy generation from BOS
    reproduces, and the k-extractable rate. Middle: exposure in bits of the trained strings (filled
    where extrapolated by the distribution fit) and of held-out strings (the check: 1.32 bits expected for 31 candidates, as in the default preset, 1.44 as their number grows);
    dotted: the most a count over the candidates can resolve, log2(N + 1). Bottom: the loss-threshold
    membership attack's ROC AUC and true-positive rate at 1% false positives, pooled over seeds (missing where
    not measurable at this n); with ``attack`` (:func:`memlib.privacy.attack_table` of the same runs), also its
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
    _legend_below(fig, axes, ncol=4)
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
    _legend_below(fig, axes, ncol=4)
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

    from .strings import distribution

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

    from .difficulty import mean_gain

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


def _size_colours(models) -> dict:
    import seaborn as sns

    return dict(zip(models, sns.color_palette("viridis", len(models))))


def plot_capacity(table: pd.DataFrame, caps: pd.DataFrame, by_epoch: pd.DataFrame, fits: dict, anchor: float):
    """Notebook 06: (a) memorised bits against the data's bits, one colour per model size (hollow: the run did
    not meet the stopping rule), the diagonal where everything is memorised; (b) capacity against parameters
    with the fitted bits per parameter (line and its interval) and the anchor; (c) memorised bits by epoch of
    each size's largest dataset, as a share of that size's capacity: the training passes' measurement, and the
    final weights' (a diamond; :mod:`memlib.capacity` says why they differ)."""
    models = list(dict.fromkeys(caps.sort_values("params").model))
    colours = _size_colours(models)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    ax = axes[0]
    for (model, precision), d in table.groupby(["model", "precision"], sort=False):
        d = d.sort_values("information")
        marker = "o" if precision == "fp32" else "s"
        ax.plot(d.information, d.memorised, "-", color=colours[model], lw=1)
        for r in d.itertuples():
            ax.plot(r.information, r.memorised, marker, color=colours[model], mfc=colours[model] if r.converged else "white",
                    label=f"{model} ({r.params:,})" if r.information == d.information.min() and precision == "fp32" else None)
    lim = [table.information.min() / 1.5, table.information.max() * 1.5]
    ax.plot(lim, lim, "k:", lw=1, label="all memorised")
    ax.set(xscale="log", yscale="log", xlabel="bits of data (uniform random strings)", ylabel="memorised bits at the end",
           title="(a) memorised against data (hollow: still growing)")
    ax.legend(fontsize=7)
    ax = axes[1]
    for precision, c in caps.groupby("precision", sort=False):
        marker = "o" if precision == "fp32" else "s"
        for r in c.itertuples():
            ax.plot(r.params, r.capacity, marker, color=colours[r.model], mfc="white" if r.lower_bound else colours[r.model],
                    ms=7)
        f = fits.get(precision)
        if f:
            x = np.geomspace(caps.params.min() / 1.3, caps.params.max() * 1.3, 50)
            ax.plot(x, f["estimate"] * x, "-", color="C3" if precision == "fp32" else "C1",
                    label=f"{precision}: {f['estimate']:.2f} bits/param ({f['low']:.2f}-{f['high']:.2f})")
            ax.fill_between(x, f["low"] * x, f["high"] * x, color="C3" if precision == "fp32" else "C1", alpha=0.15, lw=0)
    x = np.geomspace(caps.params.min() / 1.3, caps.params.max() * 1.3, 50)
    ax.plot(x, anchor * x, "k--", lw=1, label=f"Morris et al.: {anchor} bits/param")
    ax.set(xscale="log", yscale="log", xlabel="parameters (all)", ylabel="capacity (bits)",
           title="(b) capacity against size (hollow: lower bound)")
    ax.legend(fontsize=7)
    ax = axes[2]
    for r in caps[caps.precision == caps.precision.iloc[0]].itertuples():
        runs = table[(table.model == r.model) & (table.precision == r.precision)]
        key = runs.loc[runs.information.idxmax(), "run"]
        b = by_epoch[by_epoch.run == key].sort_values("epoch")
        ax.plot(b.epoch.iloc[:-1], b.memorised.iloc[:-1] / r.capacity, color=colours[r.model], label=r.model)
        ax.plot(b.epoch.iloc[-1], b.memorised.iloc[-1] / r.capacity, "D", color=colours[r.model], ms=5)
    ax.axhline(1, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="epoch", ylabel="memorised bits / capacity",
           title="(c) largest dataset: training passes, end (diamond)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_capacity_phases(phases: pd.DataFrame, attack: pd.DataFrame):
    """Notebook 06: against data / capacity, (a) epochs to the end of the guessing phase and to half of the final
    memorised bits, (b) the share of the data memorised at the end; (c) membership AUC against capacity / data."""
    models = list(dict.fromkeys(phases.sort_values("params").model))
    colours = _size_colours(models)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    for model, d in phases.groupby("model", sort=False):
        d = d.sort_values("data_over_capacity")
        axes[0].plot(d.data_over_capacity, d.epochs_to_half, "o-", color=colours[model], label=model)
        axes[0].plot(d.data_over_capacity, d.guess_end, "x--", color=colours[model], lw=0.8)
        axes[1].plot(d.data_over_capacity, d.share, "o-", color=colours[model], label=model)
    for model, d in attack.groupby("model", sort=False):
        d = d.sort_values("capacity_over_data")
        axes[2].plot(d.capacity_over_data, d.auc, "o-", color=colours[model], label=model)
    for ax in axes:
        ax.set_xscale("log")
        ax.axvline(1, color="grey", lw=0.8, ls=":")
    axes[0].set(xlabel="data bits / capacity", ylabel="epochs", yscale="symlog",
                title="(a) o: to half of final memorised bits; x: guessing ends")
    axes[1].set(xlabel="data bits / capacity", ylabel="share of the data memorised", ylim=(0, 1.05),
                title="(b) what is left memorised at the end")
    axes[2].axhline(0.5, color="grey", lw=0.8, ls="--")
    axes[2].set(xlabel="capacity / data bits", ylabel="membership AUC (loss threshold)", ylim=(0.4, 1.02),
                title="(c) membership inference")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig
