"""Notebook 06's tables: memorised bits per run and epoch, capacities per size and their fit, phases and membership
against data over capacity (the stopping rule and each unit's capacity: :mod:`.saturation`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import membership
from ..metrics import LN2
from ..metrics import memorised_bits as memorised
from ..milestones import detect_phases
from ..models import param_counts
from ..strings import self_information

ANCHOR_BITS_PER_PARAM = 3.6  # Morris et al. 2025, GPT-style models in fp32 trained to convergence (bf16 a little less)


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


def _precision(run) -> str:
    return run.config.autocast or "fp32"


def run_table(runs) -> pd.DataFrame:
    """One row per run: ``model``, ``precision``, ``seed``, ``alphabet_size`` and ``bits_per_token`` (log2 of it: a
    uniform letter's information), ``params`` (total), ``non_embedding``, ``strings``, ``information`` (the data's
    bits), ``data_per_param``, ``epochs``, final ``memorised`` bits (the no-grad measurement after the last update),
    ``share`` of the data (of which ``memorisable``, ``(L - 1) / L``, can be: the module's docstring),
    ``bits_per_param``, the members' final ``accuracy`` and ``held_out_code`` (the held-out strings' code length over
    their self-information at the end, median: 1 = coded as well as by the distribution itself)."""
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
        size = len(run.config.train[0]["alphabet"])
        info = float(b.information.iloc[-1])
        h = held[(held.run == run.key[:12]) & (held.epoch == b.epoch.iloc[-1])]
        held_ratio = float((h.code_length / h.self_information).median()) if len(h) else math.nan
        rows.append({"run": run.key[:12], "model": run.config.model, "precision": _precision(run), "seed": run.config.seed,
                     "alphabet_size": size, "bits_per_token": math.log2(size),
                     "params": c["total"], "non_embedding": c["non_embedding"], "strings": len(run.config.train),
                     "information": info, "data_per_param": info / c["total"], "epochs": int(b.epoch.iloc[-1]),
                     "memorisable": (length - 1) / length,
                     "memorised": float(b.memorised.iloc[-1]), "share": float(b.share.iloc[-1]),
                     "bits_per_param": float(b.memorised.iloc[-1]) / c["total"], "accuracy": float(train.accuracy.mean()),
                     "held_out_code": held_ratio})
    return pd.DataFrame(rows)


def capacities(units: pd.DataFrame) -> pd.DataFrame:
    """Per model size, precision and alphabet, from :func:`memlib.capacity.unit_capacities`: ``units`` (seeds),
    ``measured`` (those whose capacity is a plateau), the median ``capacity`` over units with its range (``lowest``,
    ``highest``), ``bits_per_param`` and ``per_non_embedding`` (medians), ``lower_bound`` (some unit's capacity is
    one)."""
    rows = []
    for (model, precision, size), d in units.groupby(["model", "precision", "alphabet_size"], sort=False):
        rows.append({"model": model, "precision": precision, "alphabet_size": size, "params": int(d.params.iloc[0]),
                     "non_embedding": int(d.non_embedding.iloc[0]), "units": len(d),
                     "measured": int((d.kind == "plateau").sum()), "capacity": float(d.capacity.median()),
                     "lowest": float(d.capacity.min()), "highest": float(d.capacity.max()),
                     "bits_per_param": float(d.bits_per_param.median()),
                     "per_non_embedding": float(d.per_non_embedding.median()),
                     "lower_bound": bool((d.kind != "plateau").any())})
    return pd.DataFrame(rows).sort_values(["precision", "alphabet_size", "params"], ignore_index=True)


def fit(units: pd.DataFrame, *, per: str = "params") -> dict:
    """Bits per parameter over the units of one precision and alphabet (:func:`memlib.capacity.unit_capacities`,
    one row per size and seed): ``estimate``, the mean of capacity / ``per`` (``"params"`` or
    ``"non_embedding"``) with its t interval (``low``, ``high``, ``level``; :func:`memlib.stats.mean_interval`: a
    capacity varies little over initialisations, and 3 units give an interval where a median needs 6) over the ``n``
    units, and ``p``, the t-test against Morris et al.'s :data:`ANCHOR_BITS_PER_PARAM`; ``slope`` of log capacity on
    log size (least squares over the units, HC3 t interval ``slope_low``, ``slope_high``, its coverage checked at the
    presets' designs in ``tests/test_stats.py``; 1: proportional; NaN with fewer than 2 sizes or 3 units); ``sizes``;
    ``lower_bound`` where some unit's capacity is one."""
    from ..stats import mean_interval, ols

    if per not in ("params", "non_embedding"):
        raise ValueError(f"per={per!r} is not allowed: use 'params' or 'non_embedding'")
    for col in ("precision", "alphabet_size"):
        if units[col].nunique() != 1:
            raise ValueError(f"units hold {col} {sorted(units[col].unique())}: fit one precision and alphabet at a time")
    if len(units) < 2:
        raise ValueError(f"units has {len(units)} row(s): a fit needs at least 2 units")
    if (units.capacity <= 0).any():
        raise ValueError(f"a capacity of 0 bits ({sorted(set(units[units.capacity <= 0].model))}): nothing memorised, "
                         f"no bits per parameter to fit; train longer")
    ratio = units.capacity.to_numpy(dtype=np.float64) / units[per].to_numpy(dtype=np.float64)
    iv, p = mean_interval(ratio, null=ANCHOR_BITS_PER_PARAM)
    out = {"per": per, "n": len(units), "sizes": units.model.nunique(), "estimate": iv.estimate, "low": iv.low,
           "high": iv.high, "level": iv.level, "interval": iv, "p": p, "lower_bound": bool((units.kind != "plateau").any()),
           "precision": units.precision.iloc[0], "alphabet_size": int(units.alphabet_size.iloc[0]),
           "slope": math.nan, "slope_low": math.nan, "slope_high": math.nan}
    if units[per].nunique() >= 2 and len(units) >= 3:
        x = np.log(units[per].to_numpy(dtype=np.float64))
        coef, _, low, high, _ = ols(np.column_stack([np.ones_like(x), x]), np.log(units.capacity.to_numpy(np.float64)))
        out.update(slope=float(coef[1]), slope_low=float(low[1]), slope_high=float(high[1]))
    return out


def fits(units: pd.DataFrame, per: str = "params") -> dict:
    """:func:`fit` per (precision, alphabet size) where it can be made (2 or more units, every capacity above 0)."""
    return {k: fit(u, per=per) for k, u in units.groupby(["precision", "alphabet_size"], sort=False)
            if len(u) >= 2 and (u.capacity > 0).all()}


def _held_out_capacity(units: pd.DataFrame, row) -> tuple[float, str]:
    """The capacity a run is set against: the median over the other seeds of its size, precision and alphabet (not
    read from the run itself), or its own unit's where it has no other."""
    same = units[(units.model == row.model) & (units.precision == row.precision)
                 & (units.alphabet_size == row.alphabet_size)]
    other = same[same.seed != row.seed]
    if len(other):
        return float(other.capacity.median()), "other seeds"
    return float(same.capacity.iloc[0]), "own runs"


def phase_table(runs, datasets: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """The phases (:func:`memlib.milestones.detect_phases`, the distribution's entropy as the one to learn) of each
    dataset's longer run (``datasets``: :func:`memlib.capacity.dataset_table`) beside its data, the ``capacity`` of
    its size read from the other seeds (``capacity_from``; :func:`unit_capacities`) and ``data_over_capacity``;
    ``epochs_to_half``: the first epoch at which the run held half of its final memorised bits;
    ``guess_end_steps`` and ``steps_to_half``, the same in optimiser steps."""
    keep = set(datasets.run)
    runs = [r for r in runs if r.key[:12] in keep]
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
    out = datasets[["run", "model", "precision", "alphabet_size", "seed", "params", "strings", "information",
                    "memorised", "share", "status", "converged"]].merge(ph, on="run")
    out["epochs_to_half"] = out.run.map(half)
    # an epoch of a run in batches is ceil(strings / batch_size) optimiser steps: datasets of different sizes
    # compare in steps (epoch e counts the steps of e full passes; its measurement is the next pass)
    steps = {r.key[:12]: math.ceil(len(r.config.train) / (r.config.batch_size or len(r.config.train))) for r in runs}
    out["steps_per_epoch"] = out.run.map(steps)
    out["guess_end_steps"] = out.guess_end * out.steps_per_epoch
    out["steps_to_half"] = out.epochs_to_half * out.steps_per_epoch
    caps = [_held_out_capacity(units, r) for r in out.itertuples()]
    out["capacity"], out["capacity_from"] = [c for c, _ in caps], [f for _, f in caps]
    out["data_over_capacity"] = out.information / out.capacity
    return out


def membership_table(runs, datasets: pd.DataFrame, units: pd.DataFrame, fpr: float = 0.01) -> pd.DataFrame:
    """The loss-threshold membership attack (:func:`memlib.membership.membership_table`) on each dataset's longer
    run at its last epoch: its training strings against its held-out ones, beside ``capacity_over_data`` (its
    size's capacity from the other seeds over the dataset's bits, Morris et al.'s axis) and ``share`` memorised."""
    by_key = {r.key[:12]: r for r in runs}
    rows = []
    for row in datasets.itertuples():
        run = by_key[row.run]
        if not run.config.test:
            raise ValueError(f"{run!r} has no held-out strings: the attack needs non-members")
        m = membership.membership_table([run], fpr=fpr)
        last = m[m.epoch == m.epoch.max()].iloc[0]
        cap, source = _held_out_capacity(units, row)
        rows.append({"run": row.run, "model": row.model, "precision": row.precision, "alphabet_size": row.alphabet_size,
                     "seed": row.seed, "params": row.params, "information": row.information, "share": row.share,
                     "epoch": int(last.epoch), "auc": float(last.auc), "tpr": float(last.tpr_at_fpr), "fpr": fpr,
                     "measurable": bool(last.measurable), "members": int(last.members),
                     "non_members": int(last.non_members), "capacity_over_data": cap / row.information,
                     "capacity_from": source})
    return pd.DataFrame(rows)
