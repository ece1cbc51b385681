"""Notebook 06's figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def _size_colours(models) -> dict:
    import seaborn as sns

    return dict(zip(models, sns.color_palette("viridis", len(models))))


_MARKERS = {2: "^", 8: "s", 26: "o"}


def plot_capacity(datasets: pd.DataFrame, units: pd.DataFrame, fits: dict, anchor: float, tol: float):
    """Notebook 06: (a) memorised bits at the end against the data's bits, one colour per model size, one point per
    dataset and seed (hollow: it did not meet the stopping rule; a line through each size's medians), the diagonal
    where everything memorisable is held; (b) each unit's capacity against its parameters (hollow: a lower bound),
    with the mean bits per parameter per precision and alphabet (line, and its interval) and the anchor; (c) how
    much each dataset's memorised bits grew when its training doubled, against its bits of data per parameter, with
    the rule's tolerance ``tol``."""
    models = list(dict.fromkeys(datasets.sort_values("params").model))
    colours = _size_colours(models)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    ax = axes[0]
    for (model, precision, size), d in datasets.groupby(["model", "precision", "alphabet_size"], sort=False):
        marker = _MARKERS.get(size, "D")
        med = d.groupby("information").memorised.median()
        ax.plot(med.index, med.to_numpy(), "-", color=colours[model], lw=1, ls="-" if precision == "fp32" else "--")
        for r in d.itertuples():
            ax.plot(r.information, r.memorised, marker, color=colours[model], ms=4,
                    mfc=colours[model] if r.converged else "white")
        ax.plot([], [], marker, color=colours[model], label=f"{model} ({d.params.iloc[0]:,}), {size} letters")
    lim = np.array([datasets.information.min() / 1.5, datasets.information.max() * 1.5])
    ax.plot(lim, lim * datasets.memorisable.iloc[0], "k:", lw=1, label="all memorisable held")
    ax.set(xscale="log", yscale="log", xlabel="bits of data (uniform random strings)", ylabel="memorised bits at the end",
           title="(a) memorised against data (hollow: rising or stalled)")
    ax.legend(fontsize=6)
    ax = axes[1]
    for r in units.itertuples():
        ax.plot(r.params, r.capacity, _MARKERS.get(r.alphabet_size, "D"), color=colours[r.model], ms=5,
                mfc="white" if r.kind != "plateau" else colours[r.model])
    x = np.geomspace(units.params.min() / 1.3, units.params.max() * 1.3, 50)
    for i, ((precision, size), f) in enumerate(fits.items()):
        ax.plot(x, f["estimate"] * x, "-", color=f"C{i + 3}",
                label=f"{precision}, {size} letters: {f['estimate']:.2f} bits/param ({f['low']:.2f}-{f['high']:.2f})")
        if np.isfinite(f["low"]):
            ax.fill_between(x, f["low"] * x, f["high"] * x, color=f"C{i + 3}", alpha=0.15, lw=0)
    ax.plot(x, anchor * x, "k--", lw=1, label=f"Morris et al.: {anchor} bits/param")
    ax.set(xscale="log", yscale="log", xlabel="parameters (all)", ylabel="capacity (bits)",
           title="(b) capacity per seed against size (hollow: lower bound)")
    sizes = sorted(units.params.unique())  # the sizes measured, labelled; no crowded minor labels
    ax.set_xticks(sizes, [f"{p:,}" for p in sizes])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.legend(fontsize=6)
    ax = axes[2]
    labelled = set()
    for (model, size), d in datasets.groupby(["model", "alphabet_size"], sort=False):
        ax.plot(d.data_per_param, np.clip(100 * d.growth, -25, 50), _MARKERS.get(size, "D"), color=colours[model],
                ms=4,
                label=None if model in labelled else model)
        labelled.add(model)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axhline(100 * tol, color="C3", lw=0.8, ls="--", label=f"rising above {tol:.0%}")
    ax.set(xscale="log", xlabel="bits of data per parameter", ylabel="growth when training doubled (%)",
           title="(c) E/2 -> E epochs (shown within -25% to +50%)")
    ax.legend(fontsize=6)
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
        ax.xaxis.set_minor_formatter(plt.NullFormatter())  # decades labelled; crowded minor labels left out
        ax.axvline(1, color="grey", lw=0.8, ls=":")
    axes[0].set_ylim(bottom=0)  # epochs are >= 0 (0: at the first measurement)
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
