"""How many bits of random data a model holds: memorised information, measured on runs (notebook 06).

Random strings have a known information content, so what a model has memorised of them can be counted in
bits (Morris et al. 2025, "How much do language models memorize?", arXiv 2505.24832). For one string ``s``
drawn from a known distribution ``p`` (letters independent):

* its **self-information** ``I(s) = -sum_i log2 p(s_i)``, what it takes to write ``s`` down knowing only the
  distribution (for uniform letters ``L log2 |A|``, the same for every string);
* the model's **code length** ``C(s) = -sum_i log2 q(s_i | s_<i)``, what it takes to write ``s`` down with the
  model's predictions (teacher-forced, over the full vocabulary: probability the model puts outside the
  alphabet is wasted code); from the run's own loss, ``C(s) = L * loss / ln 2``;
* **memorised bits** ``M(s) = max(0, I(s) - C(s))``: the bits the model saves on ``s`` over the distribution
  itself. Clipped at 0 per string, as Morris et al. do, because the difference is an estimate of information
  the model holds about ``s``, and a model that codes ``s`` worse than the distribution does (a random-weight
  model, or one that has learnt other strings) holds no negative information about it: without the clip,
  strings the model has not learnt would cancel the bits it holds about others. Summed over strings; the sum
  can never exceed the data's information content ``sum_s I(s)``.

A model that predicts exactly the distribution memorises 0 bits; one that predicts every character of ``s``
with probability 1 memorises ``I(s)``.

**Capacity** (notebook 06). A model of ``P`` parameters is trained on datasets of ``N`` uniform random strings
whose information ``N L log2 |A|`` is a multiple of ``P`` (``data_per_param`` bits of data per parameter, from
well below to above what it can hold), in batches (several optimiser steps per epoch). Two measurements of the
training strings differ then: at every epoch but the last, each string's loss comes from the training pass, just
before its own batch's update (the weights move within the epoch); at the last epoch, all strings are measured
with the final weights by a no-grad pass. Only the last is what one model holds, so **memorised bits at the end**
are that measurement; with a fixed batch order the two differ by up to a quarter for datasets above capacity
(strings updated late in the epoch are held better at the end, those in the middle worse). The **stopping rule**
reads the training-pass curve (one kind of measurement): a run has *converged* when its memorised bits changed by
at most ``tol`` (5%) of their value over the ``window`` (50) epochs before the last. A model's **capacity** is the
most bits any of its datasets left memorised at the end; it is a *lower bound* where a run of that model had not
converged, or where the best dataset was nearly all memorised (share >= (1 - tol) (L - 1) / L: a larger dataset
might have given more). ``(L - 1) / L`` because the first character of every string follows BOS alone: no
model can tell the strings apart there, so that character's bits are never memorisable (the runs' plateau
below full accuracy).
Parameters are counted in full (:func:`memlib.models.param_counts`: embedding and output rows included; the
non-embedding count is fitted too). Bits per parameter: the geometric mean over sizes of capacity / parameters,
with a t interval over sizes on the log scale, and the log-log slope of capacity against parameters (1 where
capacity is proportional to size) with its t interval (:func:`fit`). Morris et al. report about 3.6 bits per
parameter (:data:`ANCHOR_BITS_PER_PARAM`) for GPT-style models trained to convergence on GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .parameters import NotebookParams
from . import membership
from .checks import check_number
from .config import per_model
from .hardware import check_precision
from .models import param_counts
from .metrics import LN2
from .milestones import detect_phases
from .stats import EXPLORATORY, rank_correlation
from .strings import self_information
from .sweep import grids_runs

__all__ = ["memorised", "string_bits", "bits_by_epoch", "ANCHOR_BITS_PER_PARAM", "STOP_WINDOW", "STOP_TOL",
           "n_strings_for", "plan", "capacity_runs", "converged", "run_table", "capacities", "fit", "fits", "phase_table",
           "membership_table", "verdict"]

ANCHOR_BITS_PER_PARAM = 3.6  # Morris et al. 2025, GPT-style models in fp32 trained to convergence (bf16 a little less)
STOP_WINDOW = 50  # epochs over which memorised bits must stop growing ...
STOP_TOL = 0.05   # ... by more than this share of their final value


def memorised(self_information, code_length) -> np.ndarray:
    """``max(0, I - C)`` elementwise, in bits (see the module's docstring). ValueError for a negative or
    non-finite self-information, or a negative code length (no probability exceeds 1)."""
    i = np.asarray(self_information, dtype=np.float64)
    c = np.asarray(code_length, dtype=np.float64)
    if (~np.isfinite(i)).any() or (i < 0).any():
        raise ValueError(f"self_information={i.tolist()!r} is not allowed: use finite numbers of bits >= 0")
    if (c < 0).any():
        raise ValueError(f"code_length={c.tolist()!r} is not allowed: a code length is >= 0 bits")
    return np.maximum(0.0, i - c)


def string_bits(runs, split: str = "train") -> pd.DataFrame:
    """One row per run, epoch and string of ``split`` (``"train"`` or ``"test"``): ``self_information``,
    ``code_length`` (from the run's loss) and ``memorised`` bits, ``clipped`` where the code length was above
    the self-information (the model codes the string worse than its distribution does)."""
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r} is not allowed: use 'train' or 'test'")
    rows = []
    for run in list(runs):
        strings = run.config.train if split == "train" else run.config.test
        info = [self_information(d) for d in strings]
        m = run.metrics[run.metrics.split == split]
        if m.empty:
            continue
        length = np.array([len(strings[j]["text"]) for j in m.string])
        code = m.loss.to_numpy() * length / LN2
        self_info = np.array([info[j] for j in m.string])
        rows.append(pd.DataFrame({"run": run.key[:12], "model": run.config.model, "seed": run.config.seed,
                                  "epoch": m.epoch.to_numpy(), "string": m.string.to_numpy(),
                                  "self_information": self_info, "code_length": code,
                                  "memorised": memorised(self_info, code), "clipped": code > self_info}))
    if not rows:
        raise ValueError(f"no run has {split} measurements: give runs with {split} strings")
    return pd.concat(rows, ignore_index=True)


def bits_by_epoch(bits: pd.DataFrame) -> pd.DataFrame:
    """Per run and epoch, from :func:`string_bits`: ``strings`` measured, ``memorised`` (summed over them),
    ``information`` (their summed self-information: the most that can be memorised), ``share`` of it,
    and ``clipped`` strings."""
    g = bits.groupby(["run", "model", "seed", "epoch"], sort=False)
    out = g.agg(strings=("string", "size"), memorised=("memorised", "sum"), information=("self_information", "sum"),
                clipped=("clipped", "sum")).reset_index()
    out["share"] = out.memorised / out.information
    return out


def _check_rule(window, tol) -> None:
    check_number("window", window, int, 1)
    check_number("tol", tol, float, 0, allow_equal=False)
    if tol >= 1:
        raise ValueError(f"tol={tol!r} is not allowed: use a share in (0, 1)")


def n_strings_for(bits: float, length: int, alphabet_size: int) -> int:
    """Uniform random strings of ``length`` over ``alphabet_size`` letters whose information first reaches
    ``bits`` (at least 2: one string holds no held-out-free dataset)."""
    check_number("length", length, int, 1)
    check_number("alphabet_size", alphabet_size, int, 2)
    check_number("bits", bits, float, 0, allow_equal=False)
    return max(2, math.ceil(bits / (length * math.log2(alphabet_size)) - 1e-9))


def plan(P: Params) -> list[dict]:
    """:func:`memlib.sweep.grids_runs`' grids for notebook 06's parameters ``P``: per model (``models``) and
    multiple of its parameters (``data_per_param``, bits of data per parameter), ``n_strings_for`` uniform
    strings of ``length`` over ``alphabet_size`` letters, with ``n_test_strings`` held-out strings, ``epochs``,
    ``lr``, ``batch_size``, ``eval_every``, ``seeds``. Everything is checked before any model is loaded:
    ValueError naming the value."""
    ratios = P.data_per_param
    if not isinstance(ratios, (list, tuple)) or not ratios:
        raise ValueError(f"data_per_param={ratios!r} is not allowed: give a list of bits of data per parameter")
    for r in ratios:
        check_number("data_per_param", r, float, 0, allow_equal=False)
    if len(set(ratios)) != len(ratios):
        raise ValueError(f"data_per_param={ratios!r} is not allowed: give each multiple once")
    if not isinstance(P.models, (list, tuple)) or not P.models:
        raise ValueError(f"models={P.models!r} is not allowed: give a list of model names")
    grids = []
    for model in P.models:
        total = param_counts(model)["total"]
        sizes = [n_strings_for(r * total, P.length, P.alphabet_size) for r in sorted(ratios)]
        if len(set(sizes)) != len(sizes):
            raise ValueError(f"data_per_param={ratios!r} gives model {model!r} ({total} parameters) datasets of "
                             f"{sizes} strings: two are the same size; use multiples further apart")
        for n in sizes:
            grids.append(dict(models=[model], seeds=P.seeds, grid=[{"alphabet_size": P.alphabet_size}],
                              length=P.length, n_train_strings=n, n_test_strings=P.n_test_strings,
                              epochs=per_model(P.epochs, model), lr=per_model(P.lr, model),
                              eval_every=P.eval_every, batch_size=P.batch_size))
    return grids


def capacity_runs(P: Params, store) -> dict:
    """The runs of :func:`plan`, trained (or loaded from ``store``) once per precision in ``P.precisions``:
    ``{precision: [runs]}``. Every grid of every precision is checked before the first run."""
    precisions = P.precisions
    if not isinstance(precisions, (list, tuple)) or not precisions or len(set(precisions)) != len(precisions):
        raise ValueError(f"precisions={precisions!r} is not allowed: give a list of distinct precisions "
                         f"('fp32', 'bf16', 'auto')")
    for p in precisions:
        check_precision(p)
    grids = plan(P)
    # trained largest first (model, then dataset), so that the processes of a launch end together on small runs
    # (the runs, and the order returned, are the same in any order)
    order = sorted(range(len(grids)), key=lambda i: _cost(grids[i]), reverse=True)
    out = {}
    for p in precisions:
        done = grids_runs([grids[i] for i in order], precision=p, store=store)
        by_grid = dict(zip(order, done))
        out[p] = [r for i in range(len(grids)) for r in by_grid[i]]
    return out


def _cost(grid: dict) -> tuple:
    """How long a grid of :func:`plan` trains, to order them: the model's parameters, then characters trained."""
    return param_counts(grid["models"][0])["total"], grid["n_train_strings"] * grid["epochs"]


def converged(epochs, bits, *, window: int = STOP_WINDOW, tol: float = STOP_TOL) -> dict:
    """The stopping rule on a curve of memorised bits by epoch: ``converged`` when they changed by at most
    ``tol`` of their final value over the last ``window`` epochs, up or down (and are above 0; a curve shorter
    than ``window`` epochs has not converged); ``growth`` (that change, as a share); ``plateau_epoch``: the first
    epoch at which the bits reached ``1 - tol`` of their final value (None unless converged)."""
    _check_rule(window, tol)
    e, b = np.asarray(epochs, dtype=np.int64), np.asarray(bits, dtype=np.float64)
    last = b[-1]
    before = e <= e[-1] - window
    if not before.any() or last <= 0:
        return {"converged": False, "growth": math.nan if last <= 0 else math.inf, "plateau_epoch": None}
    growth = float((last - b[before][-1]) / last)
    ok = abs(growth) <= tol
    return {"converged": bool(ok), "growth": growth,
            "plateau_epoch": int(e[np.flatnonzero(b >= (1 - tol) * last)[0]]) if ok else None}


def _precision(run) -> str:
    return run.config.autocast or "fp32"


def run_table(runs, *, window: int = STOP_WINDOW, tol: float = STOP_TOL) -> pd.DataFrame:
    """One row per run: ``model``, ``precision``, ``params`` (total), ``non_embedding``, ``strings``,
    ``information`` (the data's bits), ``data_per_param``, final ``memorised`` bits, ``share`` of the data (of which
    ``memorisable``, ``(L - 1) / L``, can be: the module's docstring),
    ``bits_per_param``, the members' final ``accuracy``, ``held_out_code`` (the held-out strings' code length over
    their self-information at the end, median: 1 = coded as well as by the distribution itself), and the stopping rule (:func:`converged`) on the
    training-pass curve (every epoch but the last: see the module's docstring)."""
    _check_rule(window, tol)
    runs = list(runs)
    if not runs:
        raise ValueError("runs is empty: give the runs of memlib.capacity.capacity_runs")
    counts = {m: param_counts(m) for m in dict.fromkeys(r.config.model for r in runs)}
    by_epoch = bits_by_epoch(string_bits(runs))
    tested = [r for r in runs if r.config.test]
    held = string_bits(tested, split="test") if tested else pd.DataFrame(columns=["run", "epoch"])
    rows = []
    for run in runs:
        b = by_epoch[by_epoch.run == run.key[:12]].sort_values("epoch")
        c = counts[run.config.model]
        train = run.metrics[(run.metrics.split == "train") & (run.metrics.epoch == b.epoch.iloc[-1])]
        length = len(run.config.train[0]["text"])
        rule = converged(b.epoch.iloc[:-1], b.memorised.iloc[:-1], window=window, tol=tol)  # training passes
        info = float(b.information.iloc[-1])
        h = held[(held.run == run.key[:12]) & (held.epoch == b.epoch.iloc[-1])]
        held_ratio = float((h.code_length / h.self_information).median()) if len(h) else math.nan
        rows.append({"run": run.key[:12], "model": run.config.model, "precision": _precision(run), "seed": run.config.seed,
                     "params": c["total"], "non_embedding": c["non_embedding"], "strings": len(run.config.train),
                     "information": info, "data_per_param": info / c["total"], "epochs": int(b.epoch.iloc[-1]),
                     "memorisable": (length - 1) / length,
                     "memorised": float(b.memorised.iloc[-1]), "share": float(b.share.iloc[-1]),
                     "bits_per_param": float(b.memorised.iloc[-1]) / c["total"], "accuracy": float(train.accuracy.mean()),
                     "held_out_code": held_ratio,
                     **rule})
    return pd.DataFrame(rows)


def capacities(table: pd.DataFrame, *, tol: float = STOP_TOL) -> pd.DataFrame:
    """Per model and precision, from :func:`run_table`: ``capacity`` (the most bits any dataset left memorised),
    ``at_data`` (that dataset's bits), ``bits_per_param`` (and ``per_non_embedding``), ``converged`` (runs that met
    the stopping rule, of ``runs``), ``data_bound`` (the best dataset was nearly all memorised: share >=
    (1 - tol) of its ``memorisable`` share, (L - 1) / L) and ``lower_bound`` (not every run converged, or
    data-bound)."""
    _check_rule(1, tol)
    rows = []
    for (model, precision), d in table.groupby(["model", "precision"], sort=False):
        best = d.loc[d.memorised.idxmax()]
        data_bound = bool(best.share >= (1 - tol) * best.memorisable)
        rows.append({"model": model, "precision": precision, "params": int(best.params),
                     "non_embedding": int(best.non_embedding), "capacity": float(best.memorised),
                     "at_data": float(best.information), "bits_per_param": float(best.memorised / best.params),
                     "per_non_embedding": float(best.memorised / best.non_embedding), "runs": len(d),
                     "converged": int(d.converged.sum()), "data_bound": data_bound,
                     "lower_bound": bool(data_bound or not d.converged.all())})
    return pd.DataFrame(rows).sort_values(["precision", "params"], ignore_index=True)


def fit(caps: pd.DataFrame, *, per: str = "params", level: float = 0.95) -> dict:
    """Bits per parameter across sizes (one precision's rows of :func:`capacities`): ``estimate`` the geometric
    mean of capacity / ``per`` (``"params"`` or ``"non_embedding"``) over the ``n`` sizes with its t interval
    (``low``, ``high``) on the log scale; ``slope`` of log capacity against log size with its t interval
    (``slope_low``, ``slope_high``; 1: proportional); ``lower_bound`` if any size's capacity is one. Needs 3 or
    more sizes for the slope's interval (2 give NaN there)."""
    from scipy import stats

    if per not in ("params", "non_embedding"):
        raise ValueError(f"per={per!r} is not allowed: use 'params' or 'non_embedding'")
    if caps.precision.nunique() != 1:
        raise ValueError(f"caps holds precisions {sorted(caps.precision.unique())}: fit one precision at a time")
    if len(caps) < 2:
        raise ValueError(f"caps has {len(caps)} size(s): a fit across sizes needs at least 2")
    if (caps.capacity <= 0).any():
        raise ValueError(f"a capacity of 0 bits ({caps[caps.capacity <= 0].model.tolist()}): nothing memorised, "
                         f"no bits per parameter to fit; train longer")
    x, y = np.log(caps[per].to_numpy(dtype=np.float64)), np.log(caps.capacity.to_numpy(dtype=np.float64))
    n = len(x)
    ratio = y - x
    t = stats.t.ppf(0.5 + level / 2, n - 1)
    se = ratio.std(ddof=1) / math.sqrt(n)
    out = {"per": per, "n": n, "estimate": float(np.exp(ratio.mean())), "low": float(np.exp(ratio.mean() - t * se)),
           "high": float(np.exp(ratio.mean() + t * se)), "lower_bound": bool(caps.lower_bound.any()),
           "precision": caps.precision.iloc[0]}
    lr = stats.linregress(x, y)
    if n >= 3:
        ts = stats.t.ppf(0.5 + level / 2, n - 2)
        out.update(slope=float(lr.slope), slope_low=float(lr.slope - ts * lr.stderr),
                   slope_high=float(lr.slope + ts * lr.stderr))
    else:
        out.update(slope=float(lr.slope), slope_low=math.nan, slope_high=math.nan)
    return out


def fits(caps: pd.DataFrame, per: str = "params") -> dict:
    """:func:`fit` per precision where it can be made (2 or more sizes, every capacity above 0): ``{precision: fit}``."""
    return {p: fit(c, per=per) for p, c in caps.groupby("precision", sort=False) if len(c) >= 2 and (c.capacity > 0).all()}


def _capacity_of(caps: pd.DataFrame, model: str, precision: str) -> float:
    c = caps[(caps.model == model) & (caps.precision == precision)]
    return float(c.capacity.iloc[0]) if len(c) else math.nan


def phase_table(runs, table: pd.DataFrame, caps: pd.DataFrame) -> pd.DataFrame:
    """The phases (:func:`memlib.milestones.detect_phases`, the distribution's entropy as the one to learn)
    per run beside its data, its model's capacity and ``data_over_capacity``; ``epochs_to_half``: the first epoch at which the run held half of its final
    memorised bits; ``guess_end_steps`` and ``steps_to_half``, the same in optimiser steps."""
    runs = list(runs)
    # the phase rule, with the entropy of the distribution the strings were drawn from in place of one
    # string's letter counts: a model trained on many strings learns the distribution, not any one histogram
    ph = pd.DataFrame([{"run": r.key[:12], **detect_phases(r.metrics, string_entropy=r.config.train[0]["entropy"],
                                                           guess_level=max(r.config.train[0]["probs"]))} for r in runs])
    by_epoch = bits_by_epoch(string_bits(runs))
    half = {}
    for key, b in by_epoch.groupby("run"):
        b = b.sort_values("epoch")
        last = b.memorised.iloc[-1]
        half[key] = int(b.epoch[b.memorised >= last / 2].iloc[0]) if last > 0 else None
    out = table[["run", "model", "precision", "params", "strings", "information", "memorised", "share", "converged"]].merge(
        ph, on="run")
    out["epochs_to_half"] = out.run.map(half)
    # an epoch of a run in batches is ceil(strings / batch_size) optimiser steps: datasets of different sizes
    # compare in steps (epoch e counts the steps of e full passes; its measurement is the next pass)
    steps = {r.key[:12]: math.ceil(len(r.config.train) / (r.config.batch_size or len(r.config.train))) for r in runs}
    out["steps_per_epoch"] = out.run.map(steps)
    out["guess_end_steps"] = out.guess_end * out.steps_per_epoch
    out["steps_to_half"] = out.epochs_to_half * out.steps_per_epoch
    out["capacity"] = [_capacity_of(caps, m, p) for m, p in zip(out.model, out.precision)]
    out["data_over_capacity"] = out.information / out.capacity
    return out


def membership_table(runs, table: pd.DataFrame, caps: pd.DataFrame, fpr: float = 0.01) -> pd.DataFrame:
    """The loss-threshold membership attack (:func:`memlib.membership.membership_table`) on each run's last
    epoch: its training strings against its held-out ones, beside ``capacity_over_data`` (the model's capacity
    over the dataset's bits, Morris et al.'s axis) and ``share`` memorised."""
    rows = []
    for run, (_, row) in zip(runs, table.iterrows()):
        if not run.config.test:
            raise ValueError(f"{run!r} has no held-out strings: the attack needs non-members")
        m = membership.membership_table([run], fpr=fpr)
        last = m[m.epoch == m.epoch.max()].iloc[0]
        cap = _capacity_of(caps, row.model, row.precision)
        rows.append({"run": row.run, "model": row.model, "precision": row.precision, "params": row.params,
                     "information": row.information, "share": row.share, "epoch": int(last.epoch),
                     "auc": float(last.auc), "tpr": float(last.tpr_at_fpr), "fpr": fpr, "measurable": bool(last.measurable),
                     "members": int(last.members), "non_members": int(last.non_members),
                     "capacity_over_data": cap / row.information})
    return pd.DataFrame(rows)


def _rho_text(c: dict, decision) -> str:
    if not math.isfinite(c["rho"]):
        return f"not measurable (n = {c['n']})"
    return (f"Spearman rho {c['rho']:+.2f} (95% CI {c['low']:+.2f} to {c['high']:+.2f}, n = {c['n']} runs; permutation "
            f"{decision.words(c['p'], c['low'] > 0 or c['high'] < 0)})")


def _held_out_text(held: pd.Series) -> str:
    """What the held-out ratios say: worse than the distribution in how many runs, and clearly (> 5%) in how many."""
    worse, clear = int((held > 1).sum()), int((held > 1.05).sum())
    if worse == 0:
        return "no run codes them worse than the distribution."
    text = (f"coded worse than by the distribution in {worse} of {len(held)} runs, by more than 5% in {clear}; "
            "nothing memorised carries over to unseen strings")
    return text + (", and the memorising model is confidently wrong on them." if clear == len(held) else ".")


def verdict(table: pd.DataFrame, caps: pd.DataFrame, phases: pd.DataFrame, attack: pd.DataFrame, *,
            window: int = STOP_WINDOW, tol: float = STOP_TOL, native_bf16: bool | None = None) -> list[str]:
    """The finding in sentences, from :func:`run_table`, :func:`capacities`, :func:`phase_table` and
    :func:`membership_table`: every number printed from the data."""
    lines = []
    conv = int(table.converged.sum())
    lines.append(
        f"{len(table)} runs: {table.model.nunique()} model sizes ({table.params.min():,}-{table.params.max():,} "
        f"parameters, embedding and output rows included; {math.log10(table.params.max() / table.params.min()):.2f} "
        f"decades), {table.groupby(['model', 'precision']).size().max()} datasets each "
        f"({table.data_per_param.min():.2g}-{table.data_per_param.max():.2g} bits of data per parameter), "
        f"{table.epochs.max()} epochs. {conv} of {len(table)} runs met the stopping rule (memorised bits grew by "
        f"at most {tol:.0%}, up or down, over the {window} epochs before the last, on the training passes)"
        + ("." if conv == len(table) else f"; the others were still moving (median change over those {window} "
           f"epochs {table.growth[~table.converged].median():+.0%}), so their bits are not a plateau."))
    done = table[table.converged]
    if len(done):
        lines.append("Runs that met it: " + "; ".join(
            f"{r.model}, {r.strings} strings: {r.share:.3f} of the data memorised (at most {r.memorisable:.3f} can be: "
            f"the first character of a string follows BOS alone)" for r in done.itertuples()) + ".")
    for precision, c in caps.groupby("precision", sort=False):
        sizes = "; ".join(f"{r.model} ({r.params:,}): {r.capacity:,.0f} bits = {r.bits_per_param:.2f}/parameter"
                          + (" (lower bound)" if r.lower_bound else "") for r in c.itertuples())
        lines.append(f"Capacity ({precision}; the most bits any dataset left memorised): {sizes}.")
        if len(c) < 2 or (c.capacity <= 0).any():
            if len(c) >= 2:
                lines.append(f"No bits-per-parameter fit ({precision}): {', '.join(c[c.capacity <= 0].model)} "
                             f"memorised nothing at this budget.")
            continue
        f, g = fit(c), fit(c, per="non_embedding")
        bound = ("a lower bound: " + f"{int(c.lower_bound.sum())} of {len(c)} sizes did not meet the stopping rule "
                 "or memorised nearly all of their largest dataset") if f["lower_bound"] else "every size converged"
        if f["high"] < ANCHOR_BITS_PER_PARAM:
            against = (f"below Morris et al.'s {ANCHOR_BITS_PER_PARAM} bits per parameter (interval excludes it)"
                       + ("; as a lower bound this does not establish a lower capacity, only that this training "
                          "reached less" if f["lower_bound"] else ""))
        elif f["low"] > ANCHOR_BITS_PER_PARAM:
            against = f"above Morris et al.'s {ANCHOR_BITS_PER_PARAM} bits per parameter (interval excludes it)"
        else:
            against = f"not distinguishable from Morris et al.'s {ANCHOR_BITS_PER_PARAM} (interval includes it)"
        slope = (f"; log-log slope of capacity on parameters {f['slope']:.2f} (95% CI {f['slope_low']:.2f} to "
                 f"{f['slope_high']:.2f}: {'consistent with' if f['slope_low'] <= 1 <= f['slope_high'] else 'not'} "
                 f"proportional to size)" if math.isfinite(f["slope_low"]) else "")
        lines.append(f"Bits per parameter ({precision}, geometric mean over sizes): {f['estimate']:.2f} (95% CI "
                     f"{f['low']:.2f} to {f['high']:.2f}, n = {f['n']} sizes), {bound}; {against}{slope}. Per "
                     f"non-embedding parameter: {g['estimate']:.2f} ({g['low']:.2f} to {g['high']:.2f}).")
    below, above = phases[phases.data_over_capacity <= 0.75], phases[phases.data_over_capacity >= 1.5]
    if len(below) and len(above):
        lines.append(f"Memorised share of the data at the end: median {below.share.median():.2f} for datasets at most "
                     f"0.75 of the model's capacity (n = {len(below)} runs), {above.share.median():.2f} for datasets "
                     f"1.5 times it or more (n = {len(above)}); accuracy >= 0.99 (notebook 01's memorised) reached in "
                     f"{int(below.mem_end.notna().sum())} of {len(below)} and {int(above.mem_end.notna().sum())} of "
                     f"{len(above)}.")
    held = table.held_out_code.dropna()
    if len(held):
        lines.append(f"Held-out strings (never trained) at the end: code length / self-information, median per run "
                     f"{held.min():.2f}-{held.max():.2f} over {len(held)} runs (1 = the distribution itself): "
                     + _held_out_text(held))
    # Exploratory only: data / capacity divides by capacities read from these same runs, and a larger dataset takes
    # more optimiser steps per epoch by construction (so the relation is stated in epochs, not steps)
    c_half = rank_correlation(phases.data_over_capacity, phases.epochs_to_half)
    lines.append(f"Epochs until a run holds half of its final memorised bits: median "
                 f"{phases.epochs_to_half.median():,.0f} (range {phases.epochs_to_half.min():,.0f}-"
                 f"{phases.epochs_to_half.max():,.0f}); against data / capacity (the capacity read from these same "
                 f"runs): {_rho_text(c_half, EXPLORATORY)}.")
    ge = phases.guess_end
    lines.append(f"Guessing phase (until the letter distribution is learnt, notebook 01's rule with the "
                 f"distribution's entropy), in epochs: reached in {int(ge.notna().sum())} of {len(ge)} runs"
                 + (f", median {ge.median():,.0f} (range {ge.min():,.0f}-{ge.max():,.0f}); against data / capacity: "
                    f"{_rho_text(rank_correlation(phases.data_over_capacity, ge), EXPLORATORY)}" if ge.notna().sum()
                    else "") + ".")
    c_auc = rank_correlation(attack.capacity_over_data, attack.auc)
    hi, lo = attack.loc[attack.capacity_over_data.idxmax()], attack.loc[attack.capacity_over_data.idxmin()]
    tpr = attack[attack.measurable]
    lines.append(f"Membership inference (loss threshold, members against {attack.non_members.iloc[0]} held-out strings, "
                 f"last epoch): AUC {hi.auc:.2f} at capacity / data {hi.capacity_over_data:.2f} and {lo.auc:.2f} at "
                 f"{lo.capacity_over_data:.2f}; AUC against capacity / data: {_rho_text(c_auc, EXPLORATORY)}. "
                 + (f"TPR at {attack.fpr.iloc[0]:.0%} FPR ranges {tpr.tpr.min():.2f}-{tpr.tpr.max():.2f} over "
                    f"{len(tpr)} runs." if len(tpr) else
                    f"TPR at {attack.fpr.iloc[0]:.0%} FPR not measurable at this n (needs "
                    f"{math.ceil(1 / attack.fpr.iloc[0])} non-members)."))
    precisions = list(caps.precision.unique())
    if len(precisions) > 1:
        both = caps.pivot_table(index="model", columns="precision", values="capacity").dropna()
        both = both[(both > 0).all(axis=1)]  # a size that memorised nothing in one precision has no ratio
        other = [p for p in precisions if p != "fp32"][0]
        if "fp32" in both and len(both):
            r = (both[other] / both["fp32"]).to_numpy()
            lines.append(f"{other} / fp32 capacity per size: median {np.median(r):.2f} (range {r.min():.2f}-{r.max():.2f}, "
                         f"n = {len(r)} sizes; fewer than 6 sizes establish no difference).")
        else:
            lines.append(f"{other} / fp32 capacity per size: no size memorised something in both precisions.")
    else:
        cpu = ("this CPU has native bf16" if native_bf16 else "this CPU emulates bf16 (no native support), so a bf16 "
               "run here would measure the emulation") if native_bf16 is not None else ""
        lines.append(f"Precision: {precisions[0]} only in this preset; bf16 against fp32 is not measured"
                     + (f" ({cpu})" if cpu else "") + ".")
    return [f"- {line}" for line in lines]


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


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 06's parameters (:func:`plan` reads them)."""

    notebook: ClassVar[str] = "06_capacity"
    models: list[str]
    data_per_param: list[float]
    alphabet_size: int
    length: int
    epochs: int | dict[str, int]
    lr: float | dict[str, float]
    batch_size: int
    n_test_strings: int
    seeds: list[int]
    eval_every: int | str | list[int]
    precisions: list[str]
    window: int
    tol: float


PRESETS = {
    # Per model (random-init sized tiny models: memlib.models), datasets of uniform random strings holding
    # `data_per_param` bits per parameter, each trained `epochs` epochs in batches of `batch_size` at `lr`
    # (constant), with `n_test_strings` held-out strings (the attack's non-members); once per precision.
    "smoke": Params(
        models=["tiny-llama-w8-l1", "tiny-llama-w16-l1", "tiny-llama-w24-l1"], data_per_param=[0.5, 2.0],
        alphabet_size=26, length=16, epochs=30, lr=3e-3, batch_size=8, n_test_strings=20, seeds=[0],
        eval_every=[0, 10, 20, 30], precisions=["fp32"], window=10, tol=0.05,
    ),
    "default": Params(
        models=["tiny-llama-w8-l1", "tiny-llama-w16-l1", "tiny-llama-w24-l1", "tiny-llama-w32-l1",
                "tiny-llama-w40-l1"],
        data_per_param=[0.5, 1.5, 3.0], alphabet_size=26, length=32, epochs=120, lr=3e-3, batch_size=8,
        n_test_strings=100, seeds=[0], eval_every=[0, 30, 60, 90, 120], precisions=["fp32"], window=50, tol=0.05,
    ),
    "cpu-long": Params(
        models=["tiny-llama-w8-l1", "tiny-llama-w16-l1", "tiny-llama-w32-l1", "tiny-llama-w48-l1",
                "tiny-llama-w64-l1", "tiny-llama-w64-l2"],
        data_per_param=[0.5, 2.0, 4.0], alphabet_size=26, length=32, epochs=300, lr=3e-3, batch_size=8,
        n_test_strings=100, seeds=[0], eval_every=[0, 50, 100, 200, 300], precisions=["fp32"], window=50,
        tol=0.05,
    ),
    # GPU scale, as Morris et al. (GPT-style models of 0.5M-1.5B parameters, to convergence, fp32 and bf16):
    # sized Llama configurations from about 0.1M to 25M parameters (none from the hub: random weights).
    "paper": Params(
        models=["tiny-llama-w64-l2", "tiny-llama-w128-l4", "tiny-llama-w256-l4", "tiny-llama-w384-l8",
                "tiny-llama-w512-l8"],
        data_per_param=[0.5, 1.0, 2.0, 4.0, 8.0], alphabet_size=26, length=64, epochs=2000, lr=1e-3,
        batch_size=256, n_test_strings=1000, seeds=[0], eval_every="auto", precisions=["fp32", "bf16"],
        window=200, tol=0.02,
    ),
}
