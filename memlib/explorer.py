"""An explorer of the run store: choose a run, scrub through its epochs, see what the model knows where.

It reads stored runs only and never trains.

* :func:`catalogue`: one row per stored run, read from the runs' ``config.json`` alone (fast), with the
  notebooks that used it (see :class:`memlib.RunStore`'s ``notebook``) and the values the filters use.
* :func:`filter_runs`: the catalogue narrowed by notebook, model, alphabet size, entropy and seed.
* :func:`character_view`: per string and position at one epoch, the character, the probability of
  the true character (``p_true``, from the run's per-position arrays), whether the greedy prediction
  is right, and the colour both renderings use.
* :func:`string_html` and :func:`figure`: the interactive (HTML) and static (matplotlib) renderings;
  :func:`figure` also draws the run's curves with the epoch marked, the phases of
  :mod:`memlib.milestones` shaded, a schedule's stages and the probes of notebook 03.
* :class:`Explorer`: the ipywidgets that tie them together (``display(Explorer())`` in JupyterLab).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
import contextlib
import html
import io
import json
import math

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from .parameters import NotebookParams
from .config import RunConfig
from .extraction import extracted_lengths
from .labels import lr_label
from .milestones import phases
from .store import Run, RunStore

__all__ = ["ANY", "CATALOGUE_COLUMNS", "CMAP", "catalogue", "filter_runs", "empty_message", "epochs_of", "default_epoch",
           "image", "character_view", "extraction_view", "string_html", "figure", "differences", "compare_figure", "Explorer"]

CATALOGUE_COLUMNS = ("key", "notebooks", "model", "kind", "alphabet_size", "entropy", "length", "n_train", "seed",
                     "lr", "probes", "label")
CMAP = "viridis"  # p_true 0 (dark) to 1 (yellow); readable in greyscale and for colour-blind readers
WRONG = "#d62728"  # the mark under a character whose greedy prediction is wrong
MARKER = "black"  # the epoch marker on the curves (not a colour of the strings' tab10 lines: S4 is red)
UNMEASURED = "#dddddd"
FILTERS = ("notebook", "model", "alphabet_size", "entropy", "seed")
ANY = "any"  # a filter's widget value for "no filter" (a Dropdown cannot show None as a choice)
SPLITS = ("train", "test")


def _colour(p: float) -> tuple[str, str]:
    """Background and text colour for probability ``p`` (NaN: not measured)."""
    if not np.isfinite(p):
        return UNMEASURED, "#555555"
    r, g, b, _ = colormaps[CMAP](float(p))
    text = "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "#ffffff"
    return to_hex((r, g, b)), text


def catalogue(store: RunStore | None = None) -> pd.DataFrame:
    """The runs of ``store`` (default: :func:`memlib.cache_dir`'s), one row each, columns
    :data:`CATALOGUE_COLUMNS`, sorted by model, alphabet size, entropy, learning rate, seed.
    ``notebooks`` lists the notebooks that used the run ("" for none recorded); ``alphabet_size`` and
    ``length`` are those of the first training string (a schedule's strings may use other alphabets);
    ``entropy`` is the mean entropy (bits) of the training strings' distributions, rounded to 2 decimals. A run whose
    configuration cannot be read is left out (loading it reports the damage)."""
    store = store if isinstance(store, RunStore) else RunStore(store)
    used: dict[str, list[str]] = {}
    for nb in store.notebooks():
        for key in store.notebook_keys(nb):
            used.setdefault(key, []).append(nb)
    rows = []
    for key in store.keys():
        try:
            c = RunConfig.from_dict(json.loads((store.path(key) / "config.json").read_text()))
            train = c.train
            alphabet = train[0].get("alphabet") or "".join(sorted(set(train[0]["text"])))
            entropy = round(float(np.mean([s.get("entropy", math.nan) for s in train])), 2)
            row = dict(key=key, notebooks=", ".join(used.get(key, [])), model=str(c.model),
                       kind=c.kind, alphabet_size=len(alphabet), entropy=entropy,
                       length=len(train[0]["text"]), n_train=len(train), seed=int(c.seed), lr=float(c.lr),
                       probes=c.probes is not None)
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            continue
        n = len(c.stages)
        what = f"schedule of {n} stage{'s' if n != 1 else ''}" if c.is_schedule else f"{c.epochs} epochs"
        row["label"] = (f"{row['model']} · {row['alphabet_size']} letters, H {entropy:g} · {row['n_train']} x "
                        f"{row['length']} chars · lr {lr_label(row['lr'])} · seed {row['seed']} · {what}"
                        f"{' · probes' if row['probes'] else ''} · {key[:8]}")
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(CATALOGUE_COLUMNS))
    return table.sort_values(["model", "alphabet_size", "entropy", "lr", "seed", "key"]).reset_index(drop=True)


def filter_runs(table: pd.DataFrame, *, notebook=None, model=None, alphabet_size=None, entropy=None,
                seed=None) -> pd.DataFrame:
    """The rows of a :func:`catalogue` that match every filter given (``None``: any; ``entropy`` is
    compared to 2 decimals)."""
    keep = np.ones(len(table), dtype=bool)
    if notebook is not None:
        keep &= table.notebooks.map(lambda s: notebook in s.split(", ")).to_numpy(dtype=bool)
    for col, value in (("model", model), ("alphabet_size", alphabet_size), ("seed", seed)):
        if value is not None:
            keep &= (table[col] == value).to_numpy()
    if entropy is not None:
        keep &= np.isclose(table.entropy.to_numpy(dtype=float), round(float(entropy), 2))
    return table[keep]


def empty_message(store: RunStore) -> str:
    """What to do when ``store`` has no runs (HTML)."""
    root = html.escape(str(store.root))
    return (f"<p><b>The run store <code>{root}</code> has no runs yet.</b> This explorer only reads runs; fill "
            "the store first, then run this cell again:</p><ul>"
            "<li><code>make reproduce</code> in the repository: every notebook at the default preset (about half an "
            "hour on a 2-core CPU; it fills <code>.cache/memlib</code>, which <code>make lab</code> opens), or</li>"
            f"<li><code>MEMLIB_CACHE={root} .venv/bin/python -m memlib.notebooks --preset smoke --figures "
            "build/smoke/figures --executed build/smoke/executed</code>: every notebook at the smoke preset, tiny "
            "models, about a minute, into this store.</li></ul><p>Or give another store's folder as "
            "<code>cache_dir</code> in the parameters cell.</p>")


def epochs_of(run: Run, split: str = "train") -> np.ndarray:
    """The epochs at which ``split``'s per-position arrays were measured."""
    return np.asarray(run.arrays.get(f"{split}_epochs", []), dtype=int)


def default_epoch(run: Run) -> int:
    """The first epoch at which the mean train accuracy reaches 0.5 (the middle of memorisation), else the last."""
    acc = run.metrics[run.metrics.split == "train"].groupby("epoch").accuracy.mean()
    hit = acc.index[acc.to_numpy() >= 0.5]
    return int(hit[0]) if len(hit) else int(acc.index.max())


def _string_names(run: Run) -> list[str]:
    return [f"S{j + 1}" for j in range(len(run.config.train))]


def _latest_rows(run: Run, split: str, epoch: int) -> list[int | None]:
    """Per string of ``split``, the row of its latest measurement at or before ``epoch`` (None: none
    yet). A schedule measures the strings it is not training only at some epochs (``{split}_measured``)."""
    epochs = epochs_of(run, split)
    n = len(getattr(run.config, split))
    rows = np.flatnonzero(epochs <= epoch)
    measured = run.arrays.get(f"{split}_measured")
    out = []
    for j in range(n):
        mine = rows if measured is None else rows[measured[rows, j]]
        out.append(int(mine[-1]) if len(mine) else None)
    return out


VIEW_COLUMNS = ("string", "name", "position", "char", "p_true", "correct", "measured_epoch", "colour", "text_colour")


def character_view(run: Run, epoch: int, split: str = "train") -> pd.DataFrame:
    """One row per (string, position) of ``split`` ("train" or "test") at ``epoch``: ``string``,
    ``name``, ``position``, ``char``, ``p_true`` and ``correct`` (greedy prediction right) from the
    run's arrays, ``measured_epoch`` (each string's latest measurement at or before ``epoch``:
    held-out strings may be measured sparsely, and a schedule measures the strings it is not
    training only at some epochs; NaN ``p_true`` before a string's first measurement), ``colour``
    and ``text_colour``. No rows for a split without strings."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not allowed: use one of {', '.join(map(repr, SPLITS))}")
    epochs = epochs_of(run, "train")
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or not 0 <= epoch <= epochs.max():
        raise ValueError(f"epoch={epoch!r} is not allowed: this run has epochs 0 to {int(epochs.max())}")
    strings = getattr(run.config, split)
    names = _string_names(run) if split == "train" else [f"held-out {j + 1}" for j in range(len(strings))]
    rows = _latest_rows(run, split, int(epoch)) if strings else []
    split_epochs = epochs_of(run, split)
    parts = []
    for j, (s, row) in enumerate(zip(strings, rows)):
        text = s["text"]
        if row is None:
            p, ok, at = np.full(len(text), np.nan), np.zeros(len(text), dtype=bool), math.nan
        else:
            p = run.arrays[f"{split}_p_true"][row, j].astype(float)
            ok = run.arrays[f"{split}_correct"][row, j].astype(bool)
            at = int(split_epochs[row])
        colours = [_colour(x) for x in p]
        parts.append(pd.DataFrame({"string": j, "name": names[j], "position": np.arange(len(text)), "char": list(text),
                                   "p_true": p, "correct": ok, "measured_epoch": at,
                                   "colour": [c for c, _ in colours], "text_colour": [t for _, t in colours]}))
    if not parts:
        return pd.DataFrame(columns=list(VIEW_COLUMNS))
    return pd.concat(parts, ignore_index=True)


def _summary(run: Run, epoch: int) -> dict:
    """Mean accuracy and loss at ``epoch`` of the strings being trained then (all of a plain run's), and
    ``strings``: each one's accuracy by name (a schedule's header names them: at a stage boundary the
    outgoing and the incoming string are both trained strings, and their mean reads as sudden forgetting)."""
    m = run.metrics[(run.metrics.split == "train") & (run.metrics.epoch == epoch)]
    if "trained" in m:
        m = m[m.trained.astype(bool)]
    names = _string_names(run)
    return {"accuracy": float(m.accuracy.mean()), "loss": float(m.loss.mean()), "n": len(m),
            "strings": {names[int(j)]: float(a) for j, a in zip(m.string, m.accuracy)}} if len(m) else {}


def _held_out_summary(run: Run, epoch: int) -> dict:
    """Mean accuracy and loss of the held-out strings at their latest measurement up to ``epoch``."""
    m = run.metrics[(run.metrics.split == "test") & (run.metrics.epoch <= epoch)]
    if m.empty:
        return {}
    m = m[m.epoch == m.epoch.max()]
    return {"accuracy": float(m.accuracy.mean()), "loss": float(m.loss.mean()), "n": len(m), "at": int(m.epoch.iloc[0])}


def _stage_label(run: Run, epoch: int) -> str:
    """Where ``epoch`` lies in a schedule ("" for a plain run). A stage's last epoch is its own (its
    final measurement) and also the next stage's first."""
    if not run.config.is_schedule:
        return ""
    bounds = [int(b) for b in run.arrays["stage_bounds"]]
    stages, n = run.config.stages, len(bounds) - 1

    def name(k):
        return f"stage {k + 1} of {n} (training {', '.join(f'S{j + 1}' for j in stages[k].strings)}; epochs " \
               f"{bounds[k]}-{bounds[k + 1]})"

    k = max(0, min(n - 1, int(np.searchsorted(bounds, epoch, side="right")) - 1))
    if epoch == bounds[k] and k > 0:
        return f"end of {name(k - 1)}, start of stage {k + 1}"
    if epoch == bounds[-1]:
        return f"end of {name(n - 1)}"
    return name(k)


EXTRACTION_K = 8  # the prompt length the explorer shows extraction from (notebook 05's default k)
EXTRACTED = "#2ca02c"  # the mark over a character greedy decoding reproduces from the k characters before it


def extraction_view(run: Run, epoch: int, k: int = EXTRACTION_K) -> pd.DataFrame | None:
    """Extraction as notebook 05 measures it, at the latest probed epoch up to ``epoch`` (window probes:
    :func:`memlib.extraction.extraction_spec`): per training string and position ``i >= k``, ``from_prompt``
    (greedy decoding from the true ``k`` characters before ``i`` alone gives ``text[i]``) and ``run_length``
    (how many characters it reproduces from there before its first error), with the ``probed_epoch``. None
    for a run without window probes or before its first probed epoch."""
    epochs = [int(e) for e in run.arrays.get("probe_epochs", []) if int(e) <= epoch]
    for e in sorted(epochs, reverse=True):
        rows = []
        for j in range(len(run.config.train)):
            a = run.probe(e, j)
            if "window_correct" not in a:
                return None
            offsets = np.asarray(a["offsets"])
            lengths = extracted_lengths(a["window_correct"], offsets)
            where = {int(o): n for n, o in enumerate(offsets)}
            for i in range(k, len(run.config.train[j]["text"])):
                if i - k in where:
                    n = int(lengths[where[i - k], i])
                    rows.append({"string": j, "position": i, "from_prompt": n > 0, "run_length": n, "probed_epoch": e})
        return pd.DataFrame(rows) if rows else None
    return None


def string_html(view: pd.DataFrame, epoch: int | None = None, extraction: pd.DataFrame | None = None) -> str:
    """The strings of a :func:`character_view` as HTML: one line per string, each character on
    the colour of its ``p_true``, underlined in red where the greedy prediction is wrong; hovering
    shows position and probability. A string last measured before ``epoch`` says when. With an
    :func:`extraction_view`, a green mark over each character that greedy decoding reproduces from the
    ``k`` characters before it alone, and the share of such positions."""
    lines = []
    ext = {} if extraction is None else {(r.string, r.position): r for r in extraction.itertuples()}
    for (j, name), g in view.groupby(["string", "name"], sort=True):
        spans = []
        for r in g.itertuples():
            measured = np.isfinite(r.p_true)
            wrong = measured and not r.correct
            x = ext.get((j, r.position))
            tip = (f"{name}, position {r.position}, '{r.char}': " +
                   (f"p = {r.p_true:.3f}, greedy {'right' if r.correct else 'wrong'}" if measured else "not measured") +
                   (f"; from the {EXTRACTION_K} characters before it alone, greedy decoding reproduces {x.run_length}"
                    if x is not None else ""))
            style = f"background:{r.colour};color:{r.text_colour};"
            if wrong:
                style += f"box-shadow:inset 0 -3px 0 {WRONG};"
            extracted = x is not None and x.from_prompt
            if extracted:
                style += f"border-top:3px solid {EXTRACTED};"
            spans.append(f'<span class="memlib-char{" memlib-wrong" if wrong else ""}'
                         f'{" memlib-extracted" if extracted else ""}" data-position="{r.position}" '
                         f'data-p="{"" if not measured else f"{r.p_true:.4f}"}" style="{style}" '
                         f'title="{html.escape(tip)}">{html.escape(r.char)}</span>')
        acc = g.correct.mean() if np.isfinite(g.p_true).all() else math.nan
        at = g.measured_epoch.iloc[0]
        tail = f"accuracy {acc:.2f}" if np.isfinite(acc) else "not measured yet"
        if np.isfinite(acc) and epoch is not None and at != epoch:
            tail += f" (as of epoch {int(at)})"
        mine = [x for (s_, _), x in ext.items() if s_ == j]
        if mine:
            tail += (f" · from a {EXTRACTION_K}-character prompt: {sum(x.from_prompt for x in mine)} of {len(mine)} "
                     f"positions (probed at epoch {mine[0].probed_epoch})")
        lines.append(f'<div class="memlib-string" data-string="{j}"><span class="memlib-name">{html.escape(name)}'
                     f'</span><span class="memlib-chars">{"".join(spans)}</span>'
                     f'<span class="memlib-acc">{tail}</span></div>')
    stops = ", ".join(to_hex(colormaps[CMAP](x)) for x in np.linspace(0, 1, 6))
    legend = (f'<div class="memlib-legend">p(true character): 0 <span class="memlib-bar" '
              f'style="background:linear-gradient(to right, {stops})"></span> 1 · '
              f'<span style="box-shadow:inset 0 -3px 0 {WRONG}">&nbsp;x&nbsp;</span> greedy prediction wrong'
              + (f' · <span style="border-top:3px solid {EXTRACTED}">&nbsp;x&nbsp;</span> greedy decoding reproduces it '
                 f'from the {EXTRACTION_K} characters before it alone (extraction probes)' if ext else "") + '</div>')
    css = ("<style>.memlib-strings{font-family:monospace;font-size:16px;line-height:2}"
           ".memlib-string{display:flex;align-items:flex-start;gap:8px}"
           ".memlib-name{min-width:7em;color:#444}.memlib-chars{word-break:break-all;max-width:66ch}"
           ".memlib-char{padding:1px 0}.memlib-acc{color:#444;white-space:nowrap}"
           ".memlib-bar{display:inline-block;width:120px;height:10px;vertical-align:middle}"
           ".memlib-legend{font-size:12px;color:#444}</style>")
    if not lines:
        lines = ['<div class="memlib-string">this run has no such strings</div>']
    return f'{css}<div class="memlib-strings">{"".join(lines)}{legend}</div>'


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


def differences(a: Run, b: Run) -> list[str]:
    """What tells run ``b`` from run ``a``: ``["model smollm2-135m / smollm2-135m-random", "lr 1e-4 / 5e-4", ...]``
    over the model, learning rate and its schedule, string length, alphabet size, entropy, strings (the same
    texts or not), seed, epochs, batch size and precision; ``["nothing: the same configuration"]`` when none."""
    ca, cb = a.config, b.config

    def alphabet(c):
        return len(c.train[0].get("alphabet") or "")

    def entropy(c):
        return f"{c.train[0].get('entropy', math.nan):.2f}"

    def epochs(c):
        return f"{len(c.stages)}-stage schedule" if c.is_schedule else f"{c.epochs} epochs"

    items = [("model", ca.model, cb.model), ("lr", lr_label(ca.lr), lr_label(cb.lr)),
             ("lr schedule", ca.lr_schedule, cb.lr_schedule), ("length", ca.length, cb.length),
             ("alphabet", alphabet(ca), alphabet(cb)), ("entropy", entropy(ca), entropy(cb)),
             ("strings", len(ca.train), len(cb.train)), ("seed", ca.seed, cb.seed), ("run", epochs(ca), epochs(cb)),
             ("batch size", ca.batch_size, cb.batch_size), ("precision", ca.autocast or "fp32", cb.autocast or "fp32")]
    out = [f"{name} {x} / {y}" for name, x, y in items if x != y]
    if len(ca.train) == len(cb.train) and [d["text"] for d in ca.train] != [d["text"] for d in cb.train]:
        out.append("other strings (same sizes)")
    return out or ["nothing: the same configuration"]


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


class Explorer:
    """Widgets over a run store: filters (notebook, model, alphabet size, entropy, seed), a run, an
    epoch (slider with play) and which strings to show (trained or held-out). Shows the strings
    coloured by ``p_true`` (:func:`string_html`) and the curves with the epoch marked
    (:func:`figure` without the strings). ``display(explorer)`` shows it; the attributes
    ``notebook``, ``model``, ``alphabet_size``, ``entropy``, ``seed``, ``run``, ``epoch``, ``split``
    are the widgets, so code can drive it as a person would. With an empty store it shows
    :func:`empty_message`.

    The keyword arguments choose the first view: filters (a value the store has no run for is
    refused, naming the values it has), ``run`` (a key or its first characters; it overrides
    ``prefer``), ``epoch`` (default: :func:`default_epoch`) and ``split``. ``prefer`` gives filters
    to apply only where runs match them (how a preset picks a view without failing on a store
    that lacks it). Each filter offers only the values that runs matching the other filters have."""

    def __init__(self, store: RunStore | str | None = None, *, notebook: str | None = None, model: str | None = None,
                 alphabet_size: int | None = None, entropy: float | None = None, seed: int | None = None,
                 run: str | None = None, epoch: int | None = None, split: str = "train", prefer: dict | None = None):
        import ipywidgets as W

        self.store = store if isinstance(store, RunStore) else RunStore(store)
        self.table = catalogue(self.store)
        self._runs: dict[str, Run] = {}
        self._figures: dict[str, tuple] = {}
        self._holding = 0
        self._shown_key = None
        self._note = ""  # what the last filter change reset, shown beside the count once
        self._preferred: set[str] = set()  # filters the opening view set from `prefer` (cleared with the notebook)
        self.message = W.HTML()
        self.empty = self.table.empty
        if self.empty:
            self.message.value = empty_message(self.store)
            self.widget = W.VBox([self.message])
            return
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is not allowed: use one of {', '.join(map(repr, SPLITS))}")
        notebooks = sorted({n for s in self.table.notebooks for n in s.split(", ") if n})
        self.notebook = W.Dropdown(options=[("all runs", ANY)] + [(n, n) for n in notebooks], value=ANY,
                                   description="notebook")
        self.model = W.Dropdown(options=[("any", ANY)], value=ANY, description="model")
        self.alphabet_size = W.Dropdown(options=[("any", ANY)], value=ANY, description="alphabet")
        self.entropy = W.Dropdown(options=[("any", ANY)], value=ANY, description="entropy")
        self.seed = W.Dropdown(options=[("any", ANY)], value=ANY, description="seed")
        self.run = W.Dropdown(description="run", layout=W.Layout(width="95%"))
        self.count = W.HTML()
        self.split = W.ToggleButtons(options=[("trained strings", "train"), ("held-out strings", "test")], value=split)
        # a second run to compare with, from the whole store (not only the filtered runs)
        self.compare = W.Dropdown(description="compare", options=[("none", "")] + list(zip(self.table.label, self.table.key)),
                                  value="", layout=W.Layout(width="95%"))
        self.play = W.Play(interval=500, min=0, max=1, description="play")
        self.epoch, self._link = self._slider(1, 0)
        self._epoch_box = W.HBox([self.play, self.epoch])
        self.header = W.HTML()
        self.strings = W.HTML()
        self.image = W.Image(format="png", layout=W.Layout(width="auto"))
        self.caption = W.HTML()

        chosen = dict(notebook=notebook, model=model, alphabet_size=alphabet_size, entropy=entropy, seed=seed)
        for name, value in chosen.items():
            self._check_filter(name, value)
        if run is None:
            for name, value in (prefer or {}).items():  # preferences apply where the store has such runs
                if name not in FILTERS:
                    raise ValueError(f"prefer has {name!r}: use filters from {', '.join(FILTERS)}")
                if chosen[name] is None and len(filter_runs(self.table, **{**chosen, name: value})):
                    chosen[name] = value
                    self._preferred.add(name)
        with self.hold():
            for name, value in chosen.items():
                self._refresh_options()
                if value is not None:
                    w = getattr(self, name)
                    match = [v for _, v in w.options if v != ANY and _same(name, v, value)]
                    if not match:
                        given = {k: v for k, v in chosen.items() if v is not None and k != name}
                        raise ValueError(f"{name}={value!r} is not allowed with {given}: the runs that match those "
                                         f"have {name} in {[v for _, v in w.options if v != ANY]}")
                    w.value = match[0]
            self._refresh_options()
        self._refresh_runs(select=run)
        if epoch is not None and self.current is not None:
            self.epoch.value = self._check_epoch(epoch)
        for name in (*FILTERS, "run", "compare", "split"):
            self._listen(name, getattr(self, name))
        self._listen("epoch", self.epoch)
        self.widget = W.VBox()
        self._place()
        self._render()

    def _place(self):
        """Lay the current widgets out (again, after one was replaced: :meth:`_set_options`)."""
        import ipywidgets as W

        self._epoch_box.children = (self.play, self.epoch)
        self.widget.children = (
            W.HBox([self.notebook, self.model, self.alphabet_size]), W.HBox([self.entropy, self.seed, self.count]),
            self.run, self.compare, self._epoch_box, self.split, self.header, self.strings, self.image,
            self.caption, self.message)

    def _listen(self, name: str, widget):
        widget.observe(lambda change: self._event(name, change), names="value")

    def _event(self, name: str, change):
        """Every widget event comes here. An event of a widget that has been replaced (its options changed, see
        :meth:`_set_options`) is a late one, for choices the view no longer offers: dropped. Otherwise the view is
        recomputed from the whole current set of choices (:meth:`_on_filter`, :meth:`_load_run`, :meth:`_render`),
        never from the order in which events came."""
        if self._holding or change["owner"] is not getattr(self, name):
            return
        if name in FILTERS:
            self._on_filter(name)
        elif name == "run":
            self._guard(self._refresh_runs)
        else:
            self._guard(self._render)

    def _set_options(self, name: str, options: list, value) -> None:
        """Give the dropdown ``name`` these options and this value. New options come as a new widget in its place
        (the old one is closed): a browser names a dropdown's choice by its index among the options it was drawn
        with, so a choice sent before new options arrived would otherwise be read as another value (under load,
        a filter choice landed on the wrong model and left the run list empty). A widget's options never change."""
        import ipywidgets as W

        w = getattr(self, name)
        if list(w.options) == options:
            if w.value != value:
                w.value = value
            return
        new = W.Dropdown(options=options, value=value, description=w.description,
                         layout=W.Layout(width=w.layout.width) if w.layout.width else W.Layout())
        setattr(self, name, new)
        self._listen(name, new)
        if hasattr(self, "widget"):
            self._place()
        w.close()

    def _slider(self, last: int, value: int):
        """An epoch slider over 0..last, linked to the play button. A run with another last epoch gets a new
        one (:meth:`_load_run`): the browser's slider reads its End key's target from the range it was first
        drawn with (noUiSlider keeps it through later range updates), so End stopped at the first run's end."""
        import ipywidgets as W

        slider = W.IntSlider(description="epoch", min=0, max=last, value=value, continuous_update=False,
                             layout=W.Layout(width="60%"))
        return slider, W.jslink((self.play, "value"), (slider, "value"))

    # -- state ------------------------------------------------------------------------------
    def _load(self, key: str) -> Run | None:
        """A stored run (checksums verified), kept once loaded; None, said in the view, if damaged or gone."""
        if key not in self._runs:
            run = self.store.load(key)
            if run is None:
                self.message.value = f"<p>Run {key[:12]} is damaged or gone from the store; choose another.</p>"
                return None
            self._runs[key] = run
        return self._runs[key]

    @property
    def current(self) -> Run | None:
        """The chosen run (loaded from the store, checksums verified), or None."""
        key = self.run.value if hasattr(self, "run") else None
        if not key:
            return None
        return self._load(key)

    def filtered(self) -> pd.DataFrame:
        """The catalogue rows that pass the current filters."""
        return filter_runs(self.table, **{f: self._value(f) for f in FILTERS})

    def _value(self, name):
        value = getattr(self, name).value
        return None if value == ANY else value

    def _allowed(self, name) -> list:
        if name == "notebook":
            return sorted({n for s in self.table.notebooks for n in s.split(", ") if n})
        return sorted({v for v in self.table[name] if not (isinstance(v, float) and math.isnan(v))})

    def _check_filter(self, name, value):
        if value is None:
            return
        allowed = self._allowed(name)
        if not any(_same(name, a, value) for a in allowed):
            raise ValueError(f"{name}={value!r} is not allowed: this store's runs have {name} in {allowed}")

    def _check_epoch(self, epoch) -> int:
        last = self.epoch.max
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or not 0 <= epoch <= last:
            raise ValueError(f"epoch={epoch!r} is not allowed: the chosen run has epochs 0 to {last}")
        return int(epoch)

    # -- updates ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def hold(self):
        """A context in which widget changes do not re-render (used while options are rebuilt)."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1

    def _guard(self, action):
        """Run an update; show an error in the view (not only in the browser's log) if it fails."""
        if self._holding:
            return
        try:
            action()
        except Exception as e:  # noqa: BLE001 - a widget callback has nowhere else to report
            self.message.value = f"<p style='color:#b00'><b>{html.escape(type(e).__name__)}</b>: {html.escape(str(e))}</p>"
            raise

    def _on_filter(self, name: str):
        notes = []
        with self.hold():
            if name == "notebook":  # the opening view's choice was for its notebook: cleared, and said so
                cleared = [f for f in FILTERS if f != "notebook" and f in self._preferred and self._value(f) is not None]
                for f in cleared:
                    getattr(self, f).value = ANY
                if cleared:
                    notes.append(f"{_names(cleared)} (the opening view's choice) cleared")
                self._preferred.clear()
            else:
                self._preferred.discard(name)
            dropped = self._reconcile(name)
            if dropped:
                notes.append(f"{_names(dropped)} reset to any: no run has "
                             f"{'them' if len(dropped) > 1 else 'it'} with {name.replace('_', ' ')} "
                             f"{getattr(self, name).label}")
            self._refresh_options()
        self._note = "; ".join(notes)
        self._guard(self._refresh_runs)

    def _reconcile(self, changed: str) -> list[str]:
        """Keep the filter just changed; keep every other one (in the filters' order) that still leaves a
        run with the ones kept, reset the rest to any. Returns what was reset (with its value, for the note)."""
        values = {f: self._value(f) for f in FILTERS}
        if len(filter_runs(self.table, **values)):
            return []
        kept, dropped = {changed: values[changed]}, []
        for f in FILTERS:
            if f == changed or values[f] is None:
                continue
            if len(filter_runs(self.table, **kept, **{f: values[f]})):
                kept[f] = values[f]
            else:
                dropped.append((f, getattr(self, f).label))
                getattr(self, f).value = ANY
        return dropped

    def _refresh_options(self):
        """Each filter offers the values of the runs that match the other filters (a value no longer
        offered falls back to any)."""
        for name in FILTERS:
            if name == "notebook":
                continue
            others = {f: self._value(f) for f in FILTERS if f != name}
            values = [v for v in sorted(set(filter_runs(self.table, **others)[name]))
                      if not (isinstance(v, float) and math.isnan(v))]
            keep = self._value(name)
            options = [("any", ANY)] + [(f"{v:g}" if name == "entropy" else str(v), v) for v in values]
            match = [v for v in values if keep is not None and _same(name, v, keep)]
            self._set_options(name, options, match[0] if match else ANY)

    def _refresh_runs(self, select: str | None = None):
        rows = self.filtered()
        options = list(zip(rows.label, rows.key))
        keep = self.run.value
        if select is not None:
            match = [k for k in rows.key if k.startswith(select)]
            if not match:
                raise ValueError(f"run={select!r} is not allowed: no run of the filtered store has a key starting "
                                 f"with it ({len(rows)} runs match the filters)")
            keep = match[0]
        with self.hold():
            self._set_options("run", options, keep if keep in set(rows.key) else (options[0][1] if options else None))
        n = len(rows)
        note = f" · <i>{html.escape(self._note, quote=False)}</i>" if self._note else ""
        self._note = ""
        state = "|".join(f"{f}={'any' if self._value(f) is None else self._value(f)}" for f in FILTERS)
        self.count.value = (f"<span class='memlib-count' data-state='{html.escape(state)}|run={self.run.value or ''}'>"
                            + (f"{n} of {len(self.table)} runs match" if n else
                               "<b>no run matches these filters</b>") + note + "</span>")
        self._load_run()

    def _load_run(self):
        run = self.current
        if run is None:
            self.header.value = self.strings.value = self.caption.value = ""
            self.image.value = b""
            self._shown_key = None
            return
        self.message.value = ""
        if run.key != self._shown_key:  # a new run: its own epochs, opened where memorisation is half done
            last = int(epochs_of(run).max())
            with self.hold():
                if last != self.epoch.max and hasattr(self, "widget"):  # shown: a new slider (see _slider)
                    old, first = self.epoch, default_epoch(run)
                    self._link.unlink()
                    self.play.max, self.play.value = last, first  # the new link copies play's value to the slider
                    self.epoch, self._link = self._slider(last, first)
                    self._listen("epoch", self.epoch)
                    self._place()
                    old.close()
                else:
                    self.epoch.max = self.play.max = last
                    self.epoch.value = default_epoch(run)
            self._shown_key = run.key
        self._render()

    def _render(self):
        run = self.current
        if run is None:
            return
        epoch, split = int(self.epoch.value), self.split.value
        view = character_view(run, epoch, split)
        s = _summary(run, epoch)
        where = ""
        if split == "test":
            at = sorted({int(a) for a in view.measured_epoch if np.isfinite(a)})
            where = (" · this run has no held-out strings" if not len(run.config.test) else
                     " · held-out strings not measured yet" if not at else
                     f" · held-out strings as measured at epoch {at[-1]}" if at[-1] != epoch else "")
        stage = _stage_label(run, epoch)
        if split == "test":
            h = _held_out_summary(run, epoch)
            what = (f"held-out accuracy {h['accuracy']:.2f} · loss {h['loss']:.3f} (mean of {h['n']})" if h else
                    "held-out strings not measured yet")
        elif run.config.is_schedule and s:
            what = "accuracy " + ", ".join(f"{k} {v:.2f}" for k, v in s["strings"].items()) + f" · loss {s['loss']:.3f}"
        else:
            many = f" (mean of {s['n']})" if s and s["n"] > 1 else ""
            what = f"train accuracy {s.get('accuracy', math.nan):.2f} · loss {s.get('loss', math.nan):.3f}{many}"
        other = self.compared
        versus = ""
        if other is not None:
            at = min(epoch, int(epochs_of(other).max()))
            versus = (f'<div class="memlib-compare" data-key="{other.key}">B: {html.escape(other.key[:8])} at epoch {at} · '
                      f'differs in {html.escape("; ".join(differences(run, other)))}</div>')
        header = (f'<div class="memlib-header" data-key="{run.key}"><span class="memlib-epoch">epoch {epoch}'
                  f'</span> of {self.epoch.max} · {what}{" · " + stage if stage else ""}{where}</div>{versus}')
        # everything is computed first, then sent at once: the strings and the curves change together (the
        # curves took about 300 ms to draw after the strings had already changed)
        if other is None:
            ext = extraction_view(run, epoch) if split == "train" else None
            strings, png = string_html(view, epoch, ext), self._curves_png(run, epoch)
        else:  # the two runs' strings one above the other, their curves overlaid
            b_view = character_view(other, at, split)
            strings = (f'<div class="memlib-run-a"><b>A</b> {html.escape(run.key[:8])}{string_html(view, epoch)}'
                       f'</div><div class="memlib-run-b"><b>B</b> {html.escape(other.key[:8])}'
                       f'{string_html(b_view, at)}</div>')
            png = _png(compare_figure(run, other, epoch))
        self.header.value, self.strings.value, self.image.value = header, strings, png
        # after the image (widget messages arrive in order): a page that shows this caption shows that image
        self.caption.value = (f'<span class="memlib-curves" data-epoch="{epoch}">the run\'s curves, epoch {epoch} '
                              f'marked by the black line</span>')

    @property
    def compared(self) -> Run | None:
        """The run chosen to compare with (None: none, or the chosen run itself)."""
        key = self.compare.value if hasattr(self, "compare") else ""
        if not key or (self.current is not None and key == self.current.key):
            return None
        return self._load(key)

    def _curves_png(self, run: Run, epoch: int) -> bytes:
        key = run.key
        if key not in self._figures:
            self._figures.clear()  # one run's figure at a time
            fig = figure(run, epoch, strings=False)
            markers = [ln for ax in fig.axes for ln in ax.lines if ln.get_label() == "this epoch"]
            self._figures[key] = (fig, markers)
        fig, markers = self._figures[key]
        for ln in markers:
            ln.set_xdata([epoch, epoch])
        if _local_probes(run):  # the highlighted probe depends on the epoch: redraw that panel
            ax = fig.axes[4]
            ax.clear()
            _probe_axis(ax, run, epoch)
        s = _summary(run, epoch)
        fig.suptitle(f"{run.config.model} · lr {lr_label(run.config.lr)} · seed {run.config.seed} · epoch "
                     f"{epoch}: accuracy {s.get('accuracy', math.nan):.2f}", fontsize=10)
        return _png(fig)

    def figure(self, *, title: str | None = None) -> Figure:
        """The static rendering (:func:`figure`) of the chosen run at the chosen epoch."""
        run = self.current
        if run is None:
            raise ValueError("no run is chosen: the store is empty or no run matches the filters")
        return figure(run, int(self.epoch.value), split=self.split.value, title=title)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def _names(filters) -> str:
    """``"model smollm2-135m and seed 0"`` from ``(filter, label)`` pairs, or ``"model and seed"`` from names."""
    out = []
    for item in filters:
        f, label = item if isinstance(item, tuple) else (item, None)
        out.append(f.replace("_", " ") + (f" {label}" if label is not None else ""))
    return " and ".join(out)


def _same(name: str, a, b) -> bool:
    """Whether two filter values are the same (entropies to 2 decimals)."""
    if name == "entropy":
        return bool(np.isclose(round(float(a), 2), round(float(b), 2)))
    return a == b


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 00's parameters: the view the explorer opens on (and saves as a figure) where the store has such
    runs. It trains nothing."""

    notebook: ClassVar[str] = "00_explorer"
    prefer: dict  # the run to show first: notebook, model, seed


# Every preset opens on notebook 01's first SmolLM2-135M run of seed 0.
PRESETS = {name: Params(prefer=dict(notebook="01_dynamics", model="smollm2-135m", seed=0))
           for name in ("smoke", "default", "paper")}
