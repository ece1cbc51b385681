"""The explorer's static drawing (matplotlib): a run's curves with the epoch marked, its phases, stages and probes, its strings; two runs side by side."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from .data import WRONG, _string_names, _summary, character_view, differences, epochs_of
from ..labels import lr_label
from ..milestones import phases
from ..store import Run

MARKER = "black"  # the epoch marker on the curves (not a colour of the strings' tab10 lines: S4 is red)


def _phases(run: Run) -> dict | None:
    if run.config.is_schedule:
        return None
    try:
        return phases(run)
    except ValueError:
        return None


def _curve_axes(fig: Figure, run: Run, axes, epoch: int) -> list:
    """Accuracy, loss, alphabet mass and entropy over the run; returns the epoch markers."""
    m = run.metrics
    train, test = m[m.split == "train"], m[m.split == "test"]
    names = _string_names(run)
    n_strings = train.string.nunique()
    many = 1 < n_strings <= 10  # one line per string; beyond 10 (notebook 06's datasets), their mean
    colours = colormaps["tab10"](np.arange(len(names)) % 10)
    if n_strings > 10:
        train = train.groupby("epoch").mean(numeric_only=True).reset_index().assign(string=0)
        names = [f"trained strings (mean of {n_strings})"]
    panels = (("accuracy", "accuracy"), ("loss", "loss (nats)"), ("alphabet_mass", "alphabet mass"),
              ("entropy", "prediction entropy (bits)"))
    schedule = run.config.is_schedule
    ph = _phases(run)
    markers = []
    for ax, (col, title) in zip(axes, panels):
        for j, g in train.groupby("string"):
            g = g.sort_values("epoch")
            colour = colours[j] if many else "#1f77b4"
            if schedule:
                ax.plot(g.epoch, g[col], color=colour, lw=0.8, alpha=0.5)
                ax.plot(g.epoch, g[col].where(g.trained.astype(bool)), color=colour, lw=2, label=names[j])
            else:
                label = names[j] if many or n_strings > 10 else "trained string"
                ax.plot(g.epoch, g[col], color=colour, lw=1.6, label=label)
        if len(test):  # drawn where measured: points, joined only across short gaps (not over a whole run)
            t = test.groupby("epoch")[col].mean()
            x, y = t.index.to_numpy(dtype=float), t.to_numpy(dtype=float)
            gap = max(2.0, 0.1 * float(train.epoch.max()))
            cut = np.flatnonzero(np.diff(x) > gap) + 1
            ax.plot(np.insert(x, cut, np.nan), np.insert(y, cut, np.nan), color="0.45", lw=1.2, ls=":", marker="o",
                    ms=3, label="held-out (mean, where measured)")
        if col == "entropy" and "empirical_entropy" in train:
            ax.axhline(train.empirical_entropy.mean(), color="k", ls="--", lw=0.8, label="trained string's entropy")
        if col in ("accuracy", "alphabet_mass"):
            ax.set_ylim(-0.02, 1.02)
        if col == "loss":
            ax.set_yscale("log")
        if ph is not None:
            last = ph["last_epoch"]
            if ph["distinct_guessing"] and ph["guess_end"] is not None:
                ax.axvspan(0, ph["guess_end"], color="tab:green", alpha=0.12, lw=0, label="guessing phase")
            if ph["mem_start"] is not None:
                end = ph["mem_end"] if ph["mem_end"] is not None else last
                ax.axvspan(ph["mem_start"], max(end, ph["mem_start"] + 0.3), color="tab:orange", alpha=0.12, lw=0,
                           label="memorisation phase")
        if ph is not None and ph["mem_start"] is not None and ph["distinct_guessing"] and ph["guess_end"] is not None \
                and ph["mem_start"] > ph["guess_end"]:
            ax.fill_between([], [], color="white", ec="0.7", lw=0.8, label="unshaded: between the phases")
        if schedule:
            bounds = [int(b) for b in run.arrays["stage_bounds"]]
            for b in bounds[1:-1]:
                ax.axvline(b, color="0.6", lw=0.8, ls="--")
            # what the marks mean, in the legend (proxies: nothing is drawn)
            ax.plot([], [], color="0.6", lw=0.8, ls="--", label="stage boundary")
            ax.plot([], [], color="0.3", lw=2, label="thick: while the string is trained")
            ax.plot([], [], color="0.3", lw=0.8, alpha=0.5, label="thin: while it is not")
        markers.append(ax.axvline(epoch, color=MARKER, lw=1.5, label="this epoch"))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
    return markers


def _local_probes(run: Run) -> bool:
    """Whether the run has probes of recall from several local-prefix lengths (notebook 03's; the
    extraction windows of notebook 05 keep only k = 0)."""
    if "probe_epochs" not in run.arrays or not len(run.arrays["probe_epochs"]):
        return False
    return len(run.probe(int(run.arrays["probe_epochs"][0]), 0)["ks"]) > 1


def _probe_axis(ax, run: Run, epoch: int) -> None:
    """Notebook 03's probes: recall from the last k characters alone, at each probed epoch."""
    probed = [int(e) for e in run.arrays["probe_epochs"]]
    shown = max([e for e in probed if e <= epoch], default=None)
    for e in probed:
        rec = np.mean([run.probe(e, j)["local_correct"].mean(axis=-1) for j in range(len(run.config.train))], axis=0)
        ks = run.probe(e, 0)["ks"]
        x = np.arange(len(ks))
        current = e == shown
        ax.plot(x, rec, marker="o", ms=3, lw=2 if current else 1, color="tab:purple" if current else "0.7",
                label=f"probed at epoch {e}" + (" (shown)" if current else ""))
        ax.set_xticks(x, [str(k) for k in ks], fontsize=7)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("k (characters kept before each position)")
    ax.set_title("probes: recall from the last k chars" if shown is not None else
                 f"probes (from epoch {min(probed)}): recall from last k", fontsize=9)
    ax.legend(fontsize=7, frameon=False, loc="lower right")


def _string_axis(ax, view: pd.DataFrame, width: int = 64) -> None:
    """The characters of ``view`` as coloured cells, ``width`` a row, strings one after another."""
    width = min(width, int(view.position.max()) + 1)
    cells, labels, row = [], [], 0
    for (j, name), g in view.groupby(["string", "name"], sort=True):
        n_rows = max(1, math.ceil(len(g) / width))
        labels.append((row, name))
        for r in g.itertuples():
            cells.append((row + r.position // width, r.position % width, r))
        row += n_rows
    many = len(cells) <= 4096  # characters drawn as text up to this many cells
    for y, x, r in cells:
        ax.add_patch(_rect(x, y, r.colour))
        if many:
            ax.text(x + 0.5, y + 0.5, r.char, ha="center", va="center", fontsize=7, family="monospace",
                    color=r.text_colour)
        if np.isfinite(r.p_true) and not r.correct:
            ax.plot([x + 0.1, x + 0.9], [y + 0.92, y + 0.92], color=WRONG, lw=2, solid_capstyle="butt")
    ax.set_xlim(-0.2, width + 0.2)
    ax.set_ylim(row + 0.1, -0.1)
    ax.set_yticks([y + 0.5 for y, _ in labels], [n for _, n in labels], fontsize=8)
    ax.set_xticks([])
    ax.grid(False)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)


def _rect(x, y, colour):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 1, 1, facecolor=colour, edgecolor="white", lw=0.5)


def figure(run: Run, epoch: int, *, split: str = "train", strings: bool = True, title: str | None = None) -> Figure:
    """A static rendering of ``run`` at ``epoch``: (with ``strings``) the strings of ``split``
    coloured by ``p_true`` with wrong greedy predictions underlined in red, then the curves with
    the epoch marked, the phases shaded (runs of one fixed stage), stage boundaries dashed
    (schedules) and, for probed runs, recall from the last k characters. A
    :class:`matplotlib.figure.Figure` not registered with pyplot (nothing is shown twice)."""
    view = character_view(run, epoch, split) if strings else None
    if view is not None and view.empty:
        view = None
    probes = _local_probes(run)
    n_cols = 5 if probes else 4
    string_rows = 0 if view is None else sum(max(1, math.ceil(len(g) / 64)) for _, g in view.groupby("string"))
    top = 0.0 if view is None else 0.35 * string_rows + 0.6
    fig = Figure(figsize=(3.3 * n_cols, 3.0 + top), layout="constrained")
    if view is not None:
        grid = fig.add_gridspec(2, n_cols, height_ratios=[top, 3.0])
        _string_axis(fig.add_subplot(grid[0, :]), view)
        axes = [fig.add_subplot(grid[1, i]) for i in range(n_cols)]
    else:
        axes = list(fig.subplots(1, n_cols))
    _curve_axes(fig, run, axes[:4], epoch)
    if probes:
        _probe_axis(axes[4], run, epoch)
    handles = {}
    for ax in axes[:4]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=min(len(handles), 8),
               frameon=False, fontsize=8)
    s = _summary(run, epoch)
    what = f"train accuracy {s['accuracy']:.2f}, loss {s['loss']:.3f}" if s else ""
    fig.suptitle(title or f"{run.config.model} · lr {lr_label(run.config.lr)} · seed {run.config.seed} · "
                 f"epoch {epoch}: {what}", fontsize=10)
    return fig


def _png(fig: Figure, dpi: int = 90) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def image(fig: Figure):
    """``fig`` as an IPython PNG image: shown inline wherever the notebook runs (a Figure made without pyplot
    has no inline display of its own; ``display(fig)`` would print its repr)."""
    from IPython.display import Image

    return Image(data=_png(fig, dpi=100), format="png")


_PAIR = ("tab:blue", "tab:orange")


def compare_figure(a: Run, b: Run, epoch: int) -> Figure:
    """Two runs' curves overlaid (accuracy, loss, alphabet mass, entropy; mean over the trained strings, held-out
    strings dotted where measured), ``epoch`` marked (``b`` at its own last epoch where it is shorter), the
    difference named in the title."""
    fig = Figure(figsize=(13.2, 3.6), layout="constrained")
    axes = fig.subplots(1, 4)
    panels = (("accuracy", "accuracy"), ("loss", "loss (nats)"), ("alphabet_mass", "alphabet mass"),
              ("entropy", "prediction entropy (bits)"))
    for run, colour, tag in ((a, _PAIR[0], "A"), (b, _PAIR[1], "B")):
        m = run.metrics
        train = m[m.split == "train"]
        if "trained" in train:
            train = train[train.trained.astype(bool)]
        curve = train.groupby("epoch").mean(numeric_only=True)
        held = m[m.split == "test"].groupby("epoch").mean(numeric_only=True)
        for ax, (col, title) in zip(axes, panels):
            ax.plot(curve.index, curve[col], color=colour, lw=1.6, label=f"{tag}: {run.config.model} (trained)")
            if len(held):
                ax.plot(held.index, held[col], color=colour, ls=":", marker="o", ms=3, lw=1,
                        label=f"{tag}: held-out, where measured")
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("epoch")
            if col in ("accuracy", "alphabet_mass"):
                ax.set_ylim(-0.02, 1.02)
            if col == "loss":
                ax.set_yscale("log")
    last_b = int(epochs_of(b).max())
    for ax in axes:
        ax.axvline(epoch, color=MARKER, lw=1.5, label="this epoch")
        if epoch > last_b:
            ax.axvline(last_b, color=_PAIR[1], lw=1, ls="--", label="B's last epoch")
    handles = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=min(len(handles), 6),
               frameon=False, fontsize=8)
    fig.suptitle(f"A {a.key[:8]} against B {b.key[:8]}: " + "; ".join(differences(a, b)), fontsize=10)
    return fig
