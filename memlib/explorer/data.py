"""The explorer's data: the catalogue of stored runs, its filters, and per character at one epoch what the model knows (with the colours both renderings use)."""

from __future__ import annotations

import html
import json
import math

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import to_hex

from ..config import RunConfig
from ..extraction import extracted_lengths
from ..labels import lr_label
from ..store import Run, RunStore

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
