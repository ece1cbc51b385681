"""The explorer's widgets (ipywidgets): ``display(Explorer())`` in JupyterLab."""

from __future__ import annotations

import contextlib
import html
import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .data import (ANY, FILTERS, SPLITS, _held_out_summary, _stage_label, _summary, catalogue, character_view,
                   default_epoch, differences, empty_message, epochs_of, extraction_view, filter_runs, string_html)
from .drawing import _local_probes, _png, _probe_axis, compare_figure, figure
from ..labels import lr_label
from ..store import Run, RunStore


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
        self.figures: dict[str, tuple] = {}  # the shown run's key -> (its figure, the epoch markers on it)
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
        self.epoch_box = W.HBox([self.play, self.epoch])
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

        self.epoch_box.children = (self.play, self.epoch)
        self.widget.children = (
            W.HBox([self.notebook, self.model, self.alphabet_size]), W.HBox([self.entropy, self.seed, self.count]),
            self.run, self.compare, self.epoch_box, self.split, self.header, self.strings, self.image,
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
        return filter_runs(self.table, **{f: self.filter_value(f) for f in FILTERS})

    def filter_value(self, name):
        """What filter ``name`` (one of :data:`FILTERS`) is set to; None where it is "any"."""
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
                cleared = [f for f in FILTERS if f != "notebook" and f in self._preferred and self.filter_value(f) is not None]
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
        values = {f: self.filter_value(f) for f in FILTERS}
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
            others = {f: self.filter_value(f) for f in FILTERS if f != name}
            values = [v for v in sorted(set(filter_runs(self.table, **others)[name]))
                      if not (isinstance(v, float) and math.isnan(v))]
            keep = self.filter_value(name)
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
        state = "|".join(f"{f}={'any' if self.filter_value(f) is None else self.filter_value(f)}" for f in FILTERS)
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
        if key not in self.figures:
            self.figures.clear()  # one run's figure at a time
            fig = figure(run, epoch, strings=False)
            markers = [ln for ax in fig.axes for ln in ax.lines if ln.get_label() == "this epoch"]
            self.figures[key] = (fig, markers)
        fig, markers = self.figures[key]
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
