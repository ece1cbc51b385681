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
  :mod:`memlib.phases` shaded, a schedule's stages and the probes of notebook 03.
* :class:`Explorer`: the ipywidgets that tie them together (``display(Explorer())`` in JupyterLab).
"""

from __future__ import annotations

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

from .presets import lr_label
from .store import Run, RunStore

__all__ = ["ANY", "CATALOGUE_COLUMNS", "CMAP", "catalogue", "filter_runs", "empty_message", "epochs_of", "default_epoch",
           "character_view", "string_html", "figure", "Explorer"]

CATALOGUE_COLUMNS = ("key", "notebooks", "model", "kind", "alphabet_size", "entropy", "length", "n_train", "seed",
                     "lr", "probes", "label")
CMAP = "viridis"  # p_true 0 (dark) to 1 (yellow); readable in greyscale and for colour-blind readers
WRONG = "#d62728"  # the mark under a character whose greedy prediction is wrong
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
    ``notebooks`` lists the notebooks that used the run ("" for none recorded); ``entropy`` is the
    mean entropy (bits) of the training strings' distributions, rounded to 2 decimals. A run whose
    configuration cannot be read is left out (loading it reports the damage)."""
    store = store if isinstance(store, RunStore) else RunStore(store)
    used: dict[str, list[str]] = {}
    for nb in store.notebooks():
        for key in store.notebook_keys(nb):
            used.setdefault(key, []).append(nb)
    rows = []
    for key in store.keys():
        try:
            c = json.loads((store.path(key) / "config.json").read_text())
            train = c["train"]
            alphabet = train[0].get("alphabet") or "".join(sorted(set(train[0]["text"])))
            entropy = round(float(np.mean([s.get("entropy", math.nan) for s in train])), 2)
            row = dict(key=key, notebooks=", ".join(used.get(key, [])), model=str(c["model"]),
                       kind=c.get("kind", "expose"), alphabet_size=len(alphabet), entropy=entropy,
                       length=len(train[0]["text"]), n_train=len(train), seed=int(c["seed"]), lr=float(c["lr"]),
                       probes="probes" in c)
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            continue
        what = f"schedule of {len(c['stages'])} stages" if row["kind"] == "schedule" else f"{c.get('epochs')} epochs"
        row["label"] = (f"{row['model']} · {row['alphabet_size']} letters, H {entropy:g} · {row['n_train']} x "
                        f"{row['length']} chars · lr {lr_label(row['lr'])} · seed {row['seed']} · {what}"
                        f"{' · probes' if row['probes'] else ''} · {key[:8]}")
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(CATALOGUE_COLUMNS))
    return table.sort_values(["model", "alphabet_size", "entropy", "lr", "seed", "key"]).reset_index(drop=True)


def filter_runs(table: pd.DataFrame, *, notebook=None, model=None, alphabet_size=None, entropy=None,
                seed=None) -> pd.DataFrame:
    """The rows of a :func:`catalogue` that match every filter given (``None``: any)."""
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
    return (f"<p><b>The run store <code>{html.escape(str(store.root))}</code> has no runs yet.</b> This explorer "
            "only reads runs; fill the store first, then run this cell again:</p><ul>"
            "<li><code>make reproduce</code> in the repository: every notebook at the default preset (about half an "
            "hour on a 2-core CPU), or</li>"
            "<li><code>.venv/bin/python -m memlib.notebooks --preset smoke --figures build/smoke/figures "
            "--executed build/smoke/executed</code>: every notebook at the smoke preset, tiny models, about two "
            "minutes.</li></ul><p>Both fill <code>$MEMLIB_CACHE</code> (<code>make</code> sets it to "
            "<code>.cache/memlib</code> in the repository; <code>make lab</code> starts JupyterLab with the same "
            "setting). Or give the store's folder as <code>cache_dir</code> in the parameters cell.</p>")


def epochs_of(run: Run, split: str = "train") -> np.ndarray:
    """The epochs at which ``split``'s per-position arrays were measured."""
    return np.asarray(run.arrays.get(f"{split}_epochs", []), dtype=int)


def default_epoch(run: Run) -> int:
    """The first epoch at which the mean train accuracy reaches 0.5 (the middle of memorisation), else the last."""
    acc = run.metrics[run.metrics.split == "train"].groupby("epoch").accuracy.mean()
    hit = acc.index[acc.to_numpy() >= 0.5]
    return int(hit[0]) if len(hit) else int(acc.index.max())


def _string_names(run: Run) -> list[str]:
    return [f"S{j + 1}" for j in range(len(run.config["train"]))]


def _measured_row(run: Run, split: str, epoch: int) -> tuple[int | None, int | None]:
    """(row index, epoch) of the latest measurement of ``split`` at or before ``epoch``."""
    epochs = epochs_of(run, split)
    rows = np.flatnonzero(epochs <= epoch)
    if not len(rows):
        return None, None
    return int(rows[-1]), int(epochs[rows[-1]])


def character_view(run: Run, epoch: int, split: str = "train") -> pd.DataFrame:
    """One row per (string, position) of ``split`` ("train" or "test") at ``epoch``: ``string``,
    ``name``, ``position``, ``char``, ``p_true`` and ``correct`` (greedy prediction right) from the
    run's arrays, ``measured_epoch`` (the latest measurement at or before ``epoch``: held-out strings
    may be measured sparsely; a string a schedule did not measure then has NaN ``p_true``),
    ``colour`` and ``text_colour``."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not allowed: use one of {', '.join(map(repr, SPLITS))}")
    epochs = epochs_of(run, "train")
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or not 0 <= epoch <= epochs.max():
        raise ValueError(f"epoch={epoch!r} is not allowed: this run has epochs 0 to {int(epochs.max())}")
    strings = run.config[split]
    names = _string_names(run) if split == "train" else [f"held-out {j + 1}" for j in range(len(strings))]
    row, at = _measured_row(run, split, int(epoch))
    parts = []
    for j, s in enumerate(strings):
        text = s["text"]
        if row is None:
            p, ok = np.full(len(text), np.nan), np.zeros(len(text), dtype=bool)
        else:
            p = run.arrays[f"{split}_p_true"][row, j].astype(float)
            ok = run.arrays[f"{split}_correct"][row, j].astype(bool)
            measured = run.arrays.get(f"{split}_measured")
            if measured is not None and not measured[row, j]:
                p, ok = np.full(len(text), np.nan), np.zeros(len(text), dtype=bool)
        colours = [_colour(x) for x in p]
        parts.append(pd.DataFrame({"string": j, "name": names[j], "position": np.arange(len(text)), "char": list(text),
                                   "p_true": p, "correct": ok, "measured_epoch": at,
                                   "colour": [c for c, _ in colours], "text_colour": [t for _, t in colours]}))
    return pd.concat(parts, ignore_index=True)


def _summary(run: Run, epoch: int) -> dict:
    m = run.metrics[(run.metrics.split == "train") & (run.metrics.epoch == epoch)]
    return {"accuracy": float(m.accuracy.mean()), "loss": float(m.loss.mean())} if len(m) else {}


def string_html(view: pd.DataFrame) -> str:
    """The strings of a :func:`character_view` as HTML: one line per string, each character on
    the colour of its ``p_true``, underlined in red where the greedy prediction is wrong; hovering
    shows position and probability."""
    lines = []
    for (j, name), g in view.groupby(["string", "name"], sort=True):
        spans = []
        for r in g.itertuples():
            measured = np.isfinite(r.p_true)
            wrong = measured and not r.correct
            tip = (f"{name}, position {r.position}, '{r.char}': " +
                   (f"p = {r.p_true:.3f}, greedy {'right' if r.correct else 'wrong'}" if measured else "not measured"))
            style = f"background:{r.colour};color:{r.text_colour};"
            if wrong:
                style += f"box-shadow:inset 0 -3px 0 {WRONG};"
            spans.append(f'<span class="memlib-char{" memlib-wrong" if wrong else ""}" data-position="{r.position}" '
                         f'data-p="{"" if not measured else f"{r.p_true:.4f}"}" style="{style}" '
                         f'title="{html.escape(tip)}">{html.escape(r.char)}</span>')
        acc = g.correct.mean() if np.isfinite(g.p_true).all() else math.nan
        tail = f"{acc:.2f} right" if np.isfinite(acc) else "not measured"
        lines.append(f'<div class="memlib-string" data-string="{j}"><span class="memlib-name">{html.escape(name)}'
                     f'</span><span class="memlib-chars">{"".join(spans)}</span>'
                     f'<span class="memlib-acc">{tail}</span></div>')
    stops = ", ".join(to_hex(colormaps[CMAP](x)) for x in np.linspace(0, 1, 6))
    legend = (f'<div class="memlib-legend">p(true character): 0 <span class="memlib-bar" '
              f'style="background:linear-gradient(to right, {stops})"></span> 1 · '
              f'<span style="box-shadow:inset 0 -3px 0 {WRONG}">&nbsp;x&nbsp;</span> greedy prediction wrong</div>')
    css = ("<style>.memlib-strings{font-family:monospace;font-size:16px;line-height:2}"
           ".memlib-string{display:flex;align-items:flex-start;gap:8px}"
           ".memlib-name{min-width:7em;color:#444}.memlib-chars{word-break:break-all;max-width:66ch}"
           ".memlib-char{padding:1px 0}.memlib-acc{color:#444;white-space:nowrap}"
           ".memlib-bar{display:inline-block;width:120px;height:10px;vertical-align:middle}"
           ".memlib-legend{font-size:12px;color:#444}</style>")
    return f'{css}<div class="memlib-strings">{"".join(lines)}{legend}</div>'


def _phases(run: Run) -> dict | None:
    if run.config.get("kind") == "schedule":
        return None
    from .phases import phases

    try:
        return phases(run)
    except ValueError:
        return None


def _curve_axes(fig: Figure, run: Run, axes, epoch: int) -> list:
    """Accuracy, loss, alphabet mass and entropy over the run; returns the epoch markers."""
    m = run.metrics
    train, test = m[m.split == "train"], m[m.split == "test"]
    names = _string_names(run)
    many = train.string.nunique() > 1
    colours = colormaps["tab10"](np.arange(len(names)) % 10)
    panels = (("accuracy", "accuracy"), ("loss", "loss (nats)"), ("alphabet_mass", "alphabet mass"),
              ("entropy", "prediction entropy (bits)"))
    schedule = run.config.get("kind") == "schedule"
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
                ax.plot(g.epoch, g[col], color=colour, lw=1.6, label=names[j] if many else "trained string")
        if len(test):
            t = test.groupby("epoch")[col].mean()
            ax.plot(t.index, t.to_numpy(), color="0.45", lw=1.2, ls=":", marker=".", ms=3, label="held-out (mean)")
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
        if schedule:
            bounds = [int(b) for b in run.arrays["stage_bounds"]]
            for b in bounds[1:-1]:
                ax.axvline(b, color="0.6", lw=0.8, ls="--")
        markers.append(ax.axvline(epoch, color=WRONG, lw=1.5, label="this epoch"))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
    return markers


def _probe_axis(ax, run: Run, epoch: int) -> None:
    """Notebook 03's probes: recall from the last k characters alone, at each probed epoch."""
    probed = [int(e) for e in run.arrays["probe_epochs"]]
    shown = max([e for e in probed if e <= epoch], default=None)
    for e in probed:
        rec = np.mean([run.probe(e, j)["local_correct"].mean(axis=-1) for j in range(len(run.config["train"]))], axis=0)
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
    probes = "probe_epochs" in run.arrays
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
    fig.suptitle(title or f"{run.config['model']} · lr {lr_label(run.config['lr'])} · seed {run.config['seed']} · "
                 f"epoch {epoch}: {what}", fontsize=10)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


class Explorer:
    """Widgets over a run store: filters (notebook, model, alphabet size, entropy, seed), a run, an
    epoch (slider with play) and which strings to show (trained or held-out). Shows the strings
    coloured by ``p_true`` (:func:`string_html`) and the curves with the epoch marked
    (:func:`figure` without the strings). ``display(explorer)`` shows it; the attributes
    ``notebook``, ``model``, ``alphabet_size``, ``entropy``, ``seed``, ``run``, ``epoch``, ``split``
    are the widgets, so code can drive it as a person would. With an empty store it shows
    :func:`empty_message`.

    The keyword arguments choose the first view: filters (a value the store has no run for is
    refused, naming the values it has), ``run`` (a key or its first characters), ``epoch`` (default:
    :func:`default_epoch`) and ``split``. ``prefer`` gives filters to apply only where runs match
    them (how a preset picks a view without failing on a store that lacks it)."""

    def __init__(self, store: RunStore | str | None = None, *, notebook: str | None = None, model: str | None = None,
                 alphabet_size: int | None = None, entropy: float | None = None, seed: int | None = None,
                 run: str | None = None, epoch: int | None = None, split: str = "train", prefer: dict | None = None):
        import ipywidgets as W

        self.store = store if isinstance(store, RunStore) else RunStore(store)
        self.table = catalogue(self.store)
        self._runs: dict[str, Run] = {}
        self._figures: dict[tuple, tuple] = {}
        self.message = W.HTML()
        self.empty = self.table.empty
        if self.empty:
            self.message.value = empty_message(self.store)
            self.widget = W.VBox([self.message])
            return
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is not allowed: use one of {', '.join(map(repr, SPLITS))}")
        wide = W.Layout(width="auto")
        notebooks = sorted({n for s in self.table.notebooks for n in s.split(", ") if n})
        self.notebook = W.Dropdown(options=[("all runs", ANY)] + [(n, n) for n in notebooks], description="notebook")
        self.model = W.Dropdown(description="model")
        self.alphabet_size = W.Dropdown(description="alphabet")
        self.entropy = W.Dropdown(description="entropy")
        self.seed = W.Dropdown(description="seed")
        self.run = W.Dropdown(description="run", layout=W.Layout(width="95%"))
        self.count = W.HTML()
        self.split = W.ToggleButtons(options=[("trained strings", "train"), ("held-out strings", "test")], value=split)
        self.epoch = W.IntSlider(description="epoch", min=0, max=1, continuous_update=False, layout=W.Layout(width="60%"))
        self.play = W.Play(interval=500, min=0, max=1, description="play")
        W.jslink((self.play, "value"), (self.epoch, "value"))
        self.header = W.HTML()
        self.strings = W.HTML()
        self.image = W.Image(format="png", layout=wide)
        self.caption = W.HTML()
        chosen = dict(notebook=notebook, model=model, alphabet_size=alphabet_size, entropy=entropy, seed=seed)
        for name, value in chosen.items():
            self._check_filter(name, value)
        for name, value in (prefer or {}).items():  # preferences apply where the store has such runs
            if name not in FILTERS:
                raise ValueError(f"prefer has {name!r}: use filters from {', '.join(FILTERS)}")
            if chosen[name] is None and len(filter_runs(self.table, **{**chosen, name: value})):
                chosen[name] = value
        if chosen["notebook"] is not None:
            self.notebook.value = chosen["notebook"]
        self._refresh_options(**{k: v for k, v in chosen.items() if k != "notebook"})
        self._refresh_runs(select=run)
        if epoch is not None and self.current is not None:
            self.epoch.value = self._check_epoch(epoch)
        for w in (self.notebook,):
            w.observe(lambda _: (self._refresh_options(), self._refresh_runs()), names="value")
        for w in (self.model, self.alphabet_size, self.entropy, self.seed):
            w.observe(lambda _: self._refresh_runs(), names="value")
        self.run.observe(lambda _: self._load_run(), names="value")
        self.epoch.observe(lambda _: self._render(), names="value")
        self.split.observe(lambda _: self._render(), names="value")
        self.widget = W.VBox([
            W.HBox([self.notebook, self.model, self.alphabet_size]), W.HBox([self.entropy, self.seed, self.count]),
            self.run, W.HBox([self.play, self.epoch]), self.split, self.header, self.strings, self.image, self.caption, self.message])
        self._render()

    # -- state ------------------------------------------------------------------------------
    @property
    def current(self) -> Run | None:
        """The chosen run (loaded from the store, checksums verified), or None."""
        key = getattr(self, "run", None) and self.run.value
        if not key:
            return None
        if key not in self._runs:
            run = self.store.load(key)
            if run is None:
                self.message.value = f"<p>Run {key[:12]} is damaged or gone from the store; choose another.</p>"
                return None
            self._runs[key] = run
        return self._runs[key]

    def filtered(self) -> pd.DataFrame:
        """The catalogue rows that pass the current filters."""
        return filter_runs(self.table, **{f: self._value(f) for f in FILTERS})

    def _value(self, name):
        value = getattr(self, name).value
        return None if value == ANY else value

    def _check_filter(self, name, value):
        if value is None:
            return
        if name == "notebook":
            allowed = [v for _, v in self.notebook.options if v != ANY]
        else:
            allowed = sorted(set(self.table[name]))
        if (name == "entropy" and not any(np.isclose(value, a) for a in allowed)) or (name != "entropy" and value not in allowed):
            raise ValueError(f"{name}={value!r} is not allowed: this store's runs have {name} in {allowed}")

    def _check_epoch(self, epoch) -> int:
        last = self.epoch.max
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or not 0 <= epoch <= last:
            raise ValueError(f"epoch={epoch!r} is not allowed: the chosen run has epochs 0 to {last}")
        return int(epoch)

    # -- updates ----------------------------------------------------------------------------
    def _refresh_options(self, **initial):
        base = filter_runs(self.table, notebook=self._value("notebook"))
        for name in ("model", "alphabet_size", "entropy", "seed"):
            w = getattr(self, name)
            keep = initial.get(name, self._value(name) if w.options else None)
            values = sorted(set(base[name]))
            with self.hold():
                w.options = [("any", ANY)] + [(f"{v:g}" if name == "entropy" else str(v), v) for v in values]
                match = [v for v in values if keep is not None and (np.isclose(v, keep) if name == "entropy" else v == keep)]
                w.value = match[0] if match else ANY

    @contextlib.contextmanager
    def hold(self):
        """A context in which widget changes do not re-render (used while options are rebuilt)."""
        self._holding = getattr(self, "_holding", 0) + 1
        try:
            yield
        finally:
            self._holding -= 1

    def _refresh_runs(self, select: str | None = None):
        if getattr(self, "_holding", 0):
            return
        rows = self.filtered()
        options = list(zip(rows.label, rows.key))
        keep = select if select is not None else self.run.value
        if select is not None:
            match = [k for k in rows.key if k.startswith(select)]
            if not match:
                raise ValueError(f"run={select!r} is not allowed: no run of the filtered store has a key starting "
                                 f"with it ({len(rows)} runs match the filters)")
            keep = match[0]
        with self.hold():
            self.run.options = options
            self.run.value = keep if keep in set(rows.key) else (options[0][1] if options else None)
        n = len(rows)
        self.count.value = f"{n} of {len(self.table)} runs match" if n else "<b>no run matches these filters</b>"
        self._load_run()

    def _load_run(self):
        if getattr(self, "_holding", 0):
            return
        run = self.current
        if run is None:
            self.header.value = self.strings.value = self.caption.value = ""
            self.image.value = b""
            return
        self.message.value = ""
        last = int(epochs_of(run).max())
        start = default_epoch(run)
        with self.hold():
            self.epoch.max = self.play.max = last
            self.epoch.value = start
        self._render()

    def _render(self):
        if getattr(self, "_holding", 0):
            return
        run = self.current
        if run is None:
            return
        epoch, split = int(self.epoch.value), self.split.value
        view = character_view(run, epoch, split)
        at = view.measured_epoch.iloc[0]
        s = _summary(run, epoch)
        where = ""
        if split == "test":
            where = (" · held-out strings not measured yet" if at is None or (isinstance(at, float) and math.isnan(at))
                     else f" · held-out strings as measured at epoch {int(at)}")
        stage = ""
        if run.config.get("kind") == "schedule":
            bounds = [int(b) for b in run.arrays["stage_bounds"]]
            k = max(0, min(len(bounds) - 2, int(np.searchsorted(bounds, epoch, side="right")) - 1))
            trained = ", ".join(f"S{j + 1}" for j in run.config["stages"][k]["strings"])
            stage = f" · stage {k + 1} of {len(bounds) - 1} (training {trained}; epochs {bounds[k]}-{bounds[k + 1]})"
        self.header.value = (f'<div class="memlib-header"><span class="memlib-epoch">epoch {epoch}</span> of '
                             f'{self.epoch.max} · train accuracy {s.get("accuracy", math.nan):.2f} · loss '
                             f'{s.get("loss", math.nan):.3f}{stage}{where}</div>')
        self.strings.value = string_html(view)
        self.image.value = self._curves_png(run, epoch)
        # after the image (widget messages arrive in order): a page that shows this caption shows that image
        self.caption.value = (f'<span class="memlib-curves" data-epoch="{epoch}">the run\'s curves, epoch {epoch} '
                              f'marked in red</span>')

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
        if "probe_epochs" in run.arrays:  # the shown probe depends on the epoch: redraw that panel
            ax = fig.axes[4]
            ax.clear()
            _probe_axis(ax, run, epoch)
        s = _summary(run, epoch)
        fig.suptitle(f"{run.config['model']} · lr {lr_label(run.config['lr'])} · seed {run.config['seed']} · epoch "
                     f"{epoch}: train accuracy {s.get('accuracy', math.nan):.2f}", fontsize=10)
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
