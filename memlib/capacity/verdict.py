"""Notebook 06's verdict: its tables in sentences (its correlations exploratory)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..stats import EXPLORATORY, rank_correlation
from .tables import ANCHOR_BITS_PER_PARAM, STOP_TOL, STOP_WINDOW, fit


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
                     + held_out_text(held))
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
