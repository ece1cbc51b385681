"""Notebook 06's tables: memorised bits per run and epoch, the stopping rule, capacities and their fit, phases and membership against data over capacity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import membership
from ..checks import check_number
from ..metrics import LN2
from ..milestones import detect_phases
from ..models import param_counts
from ..strings import self_information

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
