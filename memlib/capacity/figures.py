"""Notebook 06's figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


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
