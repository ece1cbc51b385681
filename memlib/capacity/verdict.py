"""Notebook 06's verdict: its tables in sentences, the family of primary tests declared in ``PRIMARY``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..labels import plural, span
from ..stats import EXPLORATORY, in_family, paired_contrast, rank_correlation
from .saturation import DOUBLING_TOL, PLATEAU_TOL
from .tables import ANCHOR_BITS_PER_PARAM, fit

# The tests notebook 06's finding rests on (memlib.stats.Family; the others are exploratory): per precision, bits
# per parameter over 26 letters (the anchor's uniform tokens) against Morris et al.'s 3.6; each other alphabet's
# capacity against 26 letters', unit by unit (the information per token); bf16 against fp32 where both ran. Bits per
# parameter over fewer letters against 3.6 are exploratory (the anchor measured one token distribution).
PRIMARY = (r".*, 26 letters: bits per parameter against 3\.6", r".*: capacity, \d+ letters / \d+ letters",
           r".*: capacity, bf16 / fp32")


def _rho_text(c: dict, decision) -> str:
    if not math.isfinite(c["rho"]):
        return f"not measurable (n = {c['n']})"
    return (f"Spearman rho {c['rho']:+.2f} (95% CI {c['low']:+.2f} to {c['high']:+.2f}, n = {c['n']} runs; permutation "
            f"{decision.words(c['p'], c['low'] > 0 or c['high'] < 0)})")


def held_out_text(held: pd.Series) -> str:
    """What the held-out ratios say: worse than the distribution in how many runs, and clearly (> 5%) in how many."""
    worse, clear = int((held > 1).sum()), int((held > 1.05).sum())
    if worse == 0:
        return "no run codes them worse than the distribution."
    text = (f"coded worse than by the distribution in {worse} of {len(held)} runs, by more than 5% in {clear}; "
            "nothing memorised carries over to unseen strings")
    return text + (", and the memorising model is confidently wrong on them." if clear == len(held) else ".")


def _setting(precision: str, size: int) -> str:
    return f"{precision}, {size} letters"


def verdict(datasets: pd.DataFrame, units: pd.DataFrame, caps: pd.DataFrame, phases: pd.DataFrame,
            attack: pd.DataFrame, *, tol: float = DOUBLING_TOL, plateau_tol: float = PLATEAU_TOL,
            native_bf16: bool | None = None, family=None) -> list[str]:
    """The finding in sentences, from :func:`memlib.capacity.dataset_table`, :func:`~memlib.capacity.unit_capacities`,
    :func:`~memlib.capacity.capacities`, :func:`~memlib.capacity.phase_table` and
    :func:`~memlib.capacity.membership_table`: every number printed from the data. Its tests form one family
    (:data:`PRIMARY`)."""
    if family is None:
        return in_family(lambda f: verdict(datasets, units, caps, phases, attack, tol=tol, plateau_tol=plateau_tol,
                                           native_bf16=native_bf16, family=f), PRIMARY)
    d = datasets
    lines = [_runs_line(d, tol, plateau_tol)]
    for r in caps.itertuples():
        lines.append(f"Capacity, {r.model} ({r.params:,} parameters, {r.non_embedding:,} without embedding and output "
                     f"rows), {_setting(r.precision, r.alphabet_size)}: median {r.capacity:,.0f} bits = "
                     f"{r.bits_per_param:.2f} per parameter over {plural(r.units, 'seed')} (range "
                     f"{span([r.lowest, r.highest], '{:,.0f}')}); {r.measured} of {r.units} a plateau"
                     + (" (the others lower bounds)" if r.lower_bound else "") + ".")
    for (precision, size), u in units.groupby(["precision", "alphabet_size"], sort=False):
        lines.append(_fit_line(u, precision, size, family))
    lines += _unlearnt(d)
    lines += _per_token(units, family)
    lines += _precisions(units, caps, native_bf16, family)
    below, above = phases[phases.data_over_capacity <= 0.75], phases[phases.data_over_capacity >= 1.5]
    if len(below) and len(above):
        lines.append(f"Memorised share of the data at the end: median {below.share.median():.2f} for datasets at most "
                     f"0.75 of their size's capacity (read from the other seeds; n = {len(below)} runs), "
                     f"{above.share.median():.2f} for datasets 1.5 times it or more (n = {len(above)}); accuracy >= 0.99 "
                     f"(notebook 01's memorised) reached in {int(below.mem_end.notna().sum())} of {len(below)} and "
                     f"{int(above.mem_end.notna().sum())} of {len(above)}.")
    held = d.held_out_code.dropna()
    if len(held):
        lines.append(f"Held-out strings (never trained) at the end: code length / self-information, median per run "
                     f"{held.min():.2f}-{held.max():.2f} over {len(held)} runs (1 = the distribution itself): "
                     + held_out_text(held))
    # Exploratory only: a larger dataset takes more optimiser steps per epoch by construction (so the relation is
    # stated in epochs, not steps)
    c_half = rank_correlation(phases.data_over_capacity, phases.epochs_to_half)
    lines.append(f"Epochs until a run holds half of its final memorised bits: median "
                 f"{phases.epochs_to_half.median():,.0f} (range {phases.epochs_to_half.min():,.0f}-"
                 f"{phases.epochs_to_half.max():,.0f}); against data / capacity: {_rho_text(c_half, EXPLORATORY)}.")
    ge = phases.guess_end
    at_start = ge.notna().all() and (ge == 0).all()
    lines.append(f"Guessing phase (until the letter distribution is learnt, notebook 01's rule with the "
                 f"distribution's entropy), in epochs: reached in {int(ge.notna().sum())} of {len(ge)} runs"
                 + (f", median {ge.median():,.0f} (range {ge.min():,.0f}-{ge.max():,.0f})" if ge.notna().sum() else "")
                 + (": at the first measurement in every run (over all the letters of a letters-only vocabulary, the "
                    "uniform distribution is about what a random-weight model already predicts)" if at_start else
                    f"; against data / capacity: {_rho_text(rank_correlation(phases.data_over_capacity, ge), EXPLORATORY)}"
                    if ge.notna().sum() else "") + ".")
    lines.append(_attack_line(attack))
    return [f"- {line}" for line in lines]


def _runs_line(d: pd.DataFrame, tol: float, plateau_tol: float) -> str:
    counts = d.status.value_counts()
    rising = d[d.status == "rising"]
    letters = ", ".join(str(a) for a in sorted(d.alphabet_size.unique()))
    return (f"{len(d)} datasets, each trained twice ({span(d.half_epochs, '{:,.0f}')} and {span(d.epochs, '{:,.0f}')} "
            f"epochs): {plural(d.model.nunique(), 'model size')} ({span(d.params, '{:,.0f}')} parameters), "
            f"{letters} letters, {span(d.data_per_param, '{:.2g}')} bits of data per parameter, "
            f"{plural(d.seed.nunique(), 'seed')} (each its own initialisation and strings). When training doubled: "
            f"{counts.get('memorised', 0)} held their data, {counts.get('saturated', 0)} were saturated (flat, within "
            f"{plateau_tol:.0%} of the most any flat dataset of their seed holds), {counts.get('stalled', 0)} stalled "
            f"(flat below both), {counts.get('rising', 0)} still rising (grew by more than {tol:.0%}"
            + (f"; median {rising.growth.median():+.0%}" if len(rising) else "") + f"): {int(d.converged.sum())} of "
            f"{len(d)} ({d.converged.mean():.0%}) met the rule.")


def _fit_line(u: pd.DataFrame, precision: str, size: int, family) -> str:
    where = _setting(precision, size)
    if len(u) < 2 or (u.capacity <= 0).any():
        return f"No bits-per-parameter fit ({where}): {len(u)} unit(s), or one that memorised nothing."
    f, g = fit(u), fit(u, per="non_embedding")
    iv, p = f["interval"], f["p"]
    ratio = (u.capacity / u.params).to_numpy(dtype=np.float64)
    se = ratio.std(ddof=1) / math.sqrt(len(ratio))  # for the units an 80% chance needs (memlib.stats.units_for_power)
    z = (iv.estimate - ANCHOR_BITS_PER_PARAM) / se if se > 0 else math.nan
    decision = family.decide(f"{where}: bits per parameter against 3.6", p, estimate=iv.estimate, low=iv.low,
                             high=iv.high, level=iv.level, n=iv.n, supported=iv.excludes(ANCHOR_BITS_PER_PARAM), z=z)
    bound = (f"; {int((u.kind != 'plateau').sum())} of {len(u)} units a lower bound (a dataset held whole, or none "
             f"flat)" if f["lower_bound"] else "; every unit a plateau")
    side = "below" if f["estimate"] < ANCHOR_BITS_PER_PARAM else "above"
    slope = (f"; log-log slope of capacity on parameters {f['slope']:.2f} (95% CI {f['slope_low']:.2f} to "
             f"{f['slope_high']:.2f}, exploratory; 1: proportional to size)" if math.isfinite(f["slope_low"]) else "")
    return (f"Bits per parameter ({where}; mean over {f['n']} units, {plural(f['sizes'], 'size')} x seeds): "
            f"{iv.text()}{bound}; {side} Morris et al.'s {ANCHOR_BITS_PER_PARAM} (t-test "
            f"{decision.words(p, iv.excludes(ANCHOR_BITS_PER_PARAM))}){slope}. Per non-embedding parameter: "
            f"{g['interval'].text()}.")


def _unlearnt(d: pd.DataFrame) -> list[str]:
    """Per size, precision and alphabet where no dataset was held whole in any seed, not even the smallest: what the
    model learnt, said as such (its plateau is then no capacity a larger model could be compared with)."""
    lines = []
    for (model, precision, size), g in d.groupby(["model", "precision", "alphabet_size"], sort=False):
        if (g.status == "memorised").any():
            continue
        small = g[g.information == g.information.min()]
        lines.append(f"Over {size} letters, {model} ({precision}) held no dataset whole in any of its "
                     f"{plural(g.seed.nunique(), 'seed')}, not even the smallest ({small.data_per_param.iloc[0]:.2g} bits "
                     f"per parameter: at most {small.share.max():.0%} of it memorised): these strings are not learnt at "
                     f"this size and recipe, so its plateau is what it learnt, not what it could hold.")
    return lines


def _per_token(units: pd.DataFrame, family) -> list[str]:
    """Each alphabet's capacity against 26 letters' (or the first alphabet's), unit by unit (the same size, precision
    and seed)."""
    lines = []
    sizes = list(dict.fromkeys(units.alphabet_size))
    if len(sizes) < 2:
        return lines
    base = 26 if 26 in sizes else sizes[0]
    key = ["model", "precision", "seed"]
    wide = units.pivot_table(index=key, columns="alphabet_size", values="capacity")
    for precision in dict.fromkeys(units.precision):
        w = wide.xs(precision, level="precision")
        for size in sizes:
            if size == base:
                continue
            both = w[[size, base]].dropna()
            c = paired_contrast(both[size].to_numpy(), both[base].to_numpy(), kind="ratio").decided(
                family, f"{precision}: capacity, {size} letters / {base} letters")
            lines.append(f"Information per token ({precision}): capacity with {size} letters ({math.log2(size):.2f} "
                         f"bits a letter) / with {base} letters ({math.log2(base):.2f}), unit by unit (the same size "
                         f"and seed, at equal bits of data per parameter): {c.text()}.")
    return lines


def _precisions(units: pd.DataFrame, caps: pd.DataFrame, native_bf16, family) -> list[str]:
    precisions = list(dict.fromkeys(caps.precision))
    if len(precisions) == 1:
        cpu = ("this CPU has native bf16" if native_bf16 else "this CPU emulates bf16 (no native support), so a bf16 "
               "run here would measure the emulation") if native_bf16 is not None else ""
        return [f"Precision: {precisions[0]} only in this preset; bf16 against fp32 is not measured"
                + (f" ({cpu})" if cpu else "") + "."]
    if "fp32" not in precisions:
        return [f"Precisions {', '.join(precisions)}: no fp32 to compare with."]
    other = [p for p in precisions if p != "fp32"][0]
    wide = units.pivot_table(index=["model", "alphabet_size", "seed"], columns="precision", values="capacity").dropna()
    wide = wide[(wide > 0).all(axis=1)]
    c = paired_contrast(wide[other].to_numpy(), wide["fp32"].to_numpy(), kind="ratio").decided(
        family, f"all sizes: capacity, {other} / fp32")
    return [f"{other} / fp32 capacity, unit by unit (the same size, alphabet and seed): {c.text()}."]


def _attack_line(attack: pd.DataFrame) -> str:
    c_auc = rank_correlation(attack.capacity_over_data, attack.auc)
    hi, lo = attack.loc[attack.capacity_over_data.idxmax()], attack.loc[attack.capacity_over_data.idxmin()]
    tpr = attack[attack.measurable]
    return (f"Membership inference (loss threshold, members against {attack.non_members.iloc[0]} held-out strings, "
            f"last epoch): AUC {hi.auc:.2f} at capacity / data {hi.capacity_over_data:.2f} and {lo.auc:.2f} at "
            f"{lo.capacity_over_data:.2f} (capacity from the other seeds); AUC against capacity / data: "
            f"{_rho_text(c_auc, EXPLORATORY)}. "
            + (f"TPR at {attack.fpr.iloc[0]:.0%} FPR ranges {tpr.tpr.min():.2f}-{tpr.tpr.max():.2f} over "
               f"{len(tpr)} runs." if len(tpr) else
               f"TPR at {attack.fpr.iloc[0]:.0%} FPR not measurable at this n (needs "
               f"{math.ceil(1 / attack.fpr.iloc[0])} non-members)."))
