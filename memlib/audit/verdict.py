"""Notebook 07's verdict: its tables in sentences, every number printed from the data; the family of primary tests
declared in ``PRIMARY``."""

from __future__ import annotations

import math

import pandas as pd

from ..candidates import MIN_ESS, MIN_HITS
from ..membership import needed_non_members
from ..stats import EXPLORATORY, in_family, rank_correlation
from .tables import LABELS

# The tests the finding rests on (the others exploratory): the shadow-model attack against the loss threshold at 1%
# FPR (what LiRA adds), and whether the two per-string measures an auditor would use, exposure and counterfactual
# memorisation, rank the pool's strings alike.
PRIMARY = (r"LiRA online - loss: TPR at 1% FPR, epoch \d+", r"exposure ~ counterfactual memorisation: Spearman rho")

def _pct(f: float) -> str:
    return f"{f:.1%}".replace(".0%", "%")


def _tpr(r, f: float) -> str:
    t = r[f"tpr_{f:g}"]
    if not math.isfinite(t):
        return f"TPR at {_pct(f)} FPR not measurable at this n ({needed_non_members(f):,} non-member pairs needed)"
    return f"TPR at {_pct(f)} FPR {t:.3f} ({_ci(r[f'tpr_{f:g}_low'], r[f'tpr_{f:g}_high'], '{:.3f}')})"


ERROR_BITS = 0.25  # a depth band "needs" the fewest samples whose median error is within this and coverage holds


def _ci(lo, hi, fmt="{:.2f}") -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "interval not measurable"
    return f"95% CI {fmt.format(lo)} to {fmt.format(hi)}"


def tails_lines(table: pd.DataFrame, coverage: pd.DataFrame) -> list[str]:
    """The check of importance-sampled exposure against exact tails, in sentences."""
    big = coverage[coverage.n == coverage.n.max()]
    n_max, n_min = int(coverage.n.max()), int(coverage.n.min())
    cells = table.drop_duplicates(["run", "epoch", "string"])
    top = table[table.n == n_max]
    covered = int(top.covered.sum())
    lines = [f"Exact tails (position-wise models, {table.run.nunique()} runs; {len(cells)} member-epochs from "
             f"{cells.exact.min():.1f} to {cells.exact.max():.1f} bits deep, each exact to "
             f"{cells.exact_width.max():.3f} "
             f"bits; {table.set.nunique()} independent sets of importance samples each): with {n_max:,} samples the "
             f"95% interval covers the exact exposure in {covered} of {len(top)} estimates ({covered / len(top):.2f}); "
             "by depth: " + "; ".join(f"{r.depth} bits {r.coverage:.2f} ({_ci(r.coverage_low, r.coverage_high)}, "
                                      f"{r.estimates} estimates), median |error| {r.median_error:.2f} bits"
                                      for r in big.itertuples()) + "."]
    needs = []
    for band, d in coverage.groupby("depth", sort=False):
        ok = d[(d.coverage_high >= 0.95) & (d.median_error <= ERROR_BITS) & (d.no_hit == 0)].sort_values("n")
        needs.append(f"{band} bits {int(ok.n.iloc[0]):,}" if len(ok) else f"{band} bits more than {n_max:,}")
    small = coverage[coverage.n == n_min]
    lines.append(f"Samples each depth needs (the fewest measured whose coverage interval reaches 0.95 and whose median "
                 f"|error| is at most {ERROR_BITS} bits, every set with a hit): " + "; ".join(needs) + f". With "
                 f"{n_min:,} samples: coverage " + ", ".join(f"{r.coverage:.2f}" for r in small.itertuples())
                 + ", median |error| " + ", ".join(f"{r.median_error:.2f}" for r in small.itertuples())
                 + " bits, band by band.")
    rel, unrel = table[table.reliable], table[~table.reliable]
    lines.append(f"Reliability rule (at least {MIN_HITS} hits and an effective sample size of {MIN_ESS:g} among them): "
                 f"{len(unrel)} of {len(table)} estimates fail it"
                 + (f", and their intervals cover in {unrel.covered.mean():.2f} of them" if len(unrel) else "")
                 + f"; the others cover in {rel.covered.mean():.2f}. The tables of notebooks 05 and 07 carry the rule "
                 f"(column `reliable`).")
    return lines


def enumeration_line(checked: pd.DataFrame) -> list[str]:
    """The check against enumeration on a tiny Llama (``checked``: :func:`memlib.exposure.measured_exposure_table` of
    runs that enumerated), in a sentence; none without it."""
    if checked is None or not len(checked) or "exact" not in checked:
        return []
    c = checked.dropna(subset=["exact"])
    cov = (c.measured_low <= c.exact) & (c.exact <= c.measured_high)
    return [f"Against enumeration on {c.model.iloc[0]} ({len(c)} member-epochs, exact exposure {c.exact.min():.1f} to "
            f"{c.exact.max():.1f} bits, {int(c.samples.max()):,} samples): the interval covers in {int(cov.sum())} of "
            f"{len(c)}, largest |error| {(c.measured - c.exact).abs().max():.2f} bits."]


def verdict(table, coverage, attacks, differences, strings, strings0, corr, dis, *, fprs, epoch: int, checked=None,
            family=None) -> list[str]:
    """The finding in sentences from notebook 07's tables (:mod:`memlib.tails`, :mod:`.tables`)."""
    if family is None:
        return in_family(lambda f: verdict(table, coverage, attacks, differences, strings, strings0, corr, dis,
                                           fprs=fprs, epoch=epoch, checked=checked, family=f), PRIMARY)
    lines = tails_lines(table, coverage) + enumeration_line(checked)
    for e, at in attacks[attacks.epoch > 0].groupby("epoch"):
        at = at.set_index("attack")
        first = at.iloc[0]
        lines.append(f"Shadow models at epoch {e} ({int(first.pairs):,} pairs of {int(first.members):,} members and "
                     f"{int(first.non_members):,} non-members, every model the target once): "
                     + "; ".join(f"{name} AUC {r.auc:.3f} ({_ci(r.auc_low, r.auc_high, '{:.3f}')}), "
                                 + ", ".join(_tpr(r, f) for f in fprs)
                                 for name, r in at.iterrows())
                     + " (intervals: bootstrap over models and strings together, the threshold re-chosen each time).")
    gains = {}
    for r in differences.itertuples():
        name = f"{r.attack} - {r.against}: TPR at {_pct(r.fpr)} FPR, epoch {r.epoch}"
        if not math.isfinite(r.estimate):  # too few non-members for this rate: no test
            if r.attack == "LiRA online":
                lines.append(f"{name}: not measurable at this n (TPR at {_pct(r.fpr)} FPR needs "
                             f"{needed_non_members(r.fpr):,} non-member pairs).")
            continue
        supported = r.low > 0 or r.high < 0
        d = family.decide(name, r.p, estimate=r.estimate, low=r.low, high=r.high, level=0.95, n=r.models,
                          supported=supported)
        if r.epoch == epoch:
            gains[(r.attack, r.fpr)] = (r, d.established(supported))
        if r.attack == "LiRA online":
            lines.append(f"{name}: {r.estimate:+.3f} ({_ci(r.low, r.high, '{:+.3f}')}, paired bootstrap over "
                         f"{r.models} models and {r.strings} strings; {d.words(r.p, supported)}).")
    z = attacks[attacks.epoch == 0].set_index("attack")
    if len(z):
        lines.append(f"Control, epoch 0 (the loaded models, nothing trained): LiRA online AUC "
                     f"{z.auc['LiRA online']:.3f} "
                     f"({_ci(z.auc_low['LiRA online'], z.auc_high['LiRA online'], '{:.3f}')}), "
                     f"loss AUC {z.auc['loss']:.3f}; counterfactual memorisation mean {strings0.counterfactual.mean():+.3f} "
                     f"(strings {strings0.counterfactual.min():+.3f} to {strings0.counterfactual.max():+.3f}).")
    cf = strings.counterfactual
    pos = int((strings.counterfactual_low > 0).sum())
    lines.append(f"Counterfactual memorisation (accuracy when trained on the string minus when not, over "
                 f"{len(strings)} strings): mean {cf.mean():+.3f} (strings {cf.min():+.3f} to {cf.max():+.3f}); its Welch "
                 f"interval lies above 0 for {pos} of {len(strings)} strings.")
    parts = []
    for r in corr.itertuples():
        name = f"{r.a} ~ {r.b}: Spearman rho".replace("counterfactual", "counterfactual memorisation")
        supported = r.low > 0 or r.high < 0
        d = family.decide(name, r.p, estimate=r.rho, low=r.low, high=r.high, level=0.95, n=r.n, supported=supported)
        parts.append(f"{LABELS[r.a].split(' (')[0]} ~ {LABELS[r.b].split(' (')[0]} {r.rho:+.2f} "
                     f"({_ci(r.low, r.high, '{:+.2f}')}; {d.words(r.p, supported)})")
    lines.append(f"Per-string measures ranked against each other over the {len(strings)} strings (the units: each "
                 f"string's measures averaged over the models that trained it): " + "; ".join(parts) + ".")
    seen = rank_correlation(strings.exposure, strings.unseen_score)
    lines.append(f"Exposure against the string's log-likelihood in the models that never trained it: rho "
                 f"{seen['rho']:+.2f} ({_ci(seen['low'], seen['high'], '{:+.2f}')}; {EXPLORATORY.words(seen['p'], True)}): "
                 + ("exposure also ranks strings by how likely models that never saw them find them, which the shadow "
                    "models' contrasts (LiRA, counterfactual) subtract." if seen["low"] > 0 else
                    "exposure is not shown to follow what models that never saw the strings predict."))
    flagged = dis[dis.flagged_by.isin(["exposure", "lira", "counterfactual"]) & dis.low_in.isin(
        ["exposure", "lira", "counterfactual"])]
    lines.append("Strings one measure flags (its top quarter) that another ranks in its lower half: "
                 + "; ".join(f"{r.missed} of {r.flagged} by {LABELS[r.flagged_by].split(' (')[0]} in "
                             f"{LABELS[r.low_in].split(' (')[0]}" for r in flagged.itertuples()) + ".")
    lines += _auditor(gains, corr, coverage, fprs)
    return [f"- {line}" for line in lines]


def _auditor(gains: dict, corr: pd.DataFrame, coverage: pd.DataFrame, fprs) -> list[str]:
    """What a privacy auditor should take from it: each sentence chosen by the numbers above."""
    out = []
    low = 0.01 if 0.01 in fprs else fprs[0]  # the rate of the primary test
    g = gains.get(("LiRA online", low))
    if g is None:
        out.append(f"For an auditor: with this few non-member pairs no rate as low as {_pct(low)} FPR is measurable; "
                   f"the attacks are compared by their AUCs above, which say nothing of the low-FPR region an audit "
                   f"reports.")
    else:
        r, established = g
        if established and r.estimate > 0:
            out.append(f"For an auditor: at {_pct(low)} FPR the shadow-model attack finds more members than the loss "
                       f"threshold ({r.estimate:+.3f}); a report that gives the loss attack alone understates the risk "
                       f"at low false-positive rates.")
        elif established:
            out.append(f"For an auditor: at {_pct(low)} FPR the loss threshold finds more members than the "
                       f"shadow-model attack (TPR higher by {-r.estimate:.3f}): a shadow-model audit is not by itself the "
                       f"stronger one. A "
                       f"likely reason, not tested here: random strings differ little in difficulty, so LiRA's "
                       f"per-string Gaussians, each fitted from about {(r.models - 1) // 2} of the other models, add more noise "
                       f"than they remove.")
        else:
            out.append(f"For an auditor: at {_pct(low)} FPR the shadow-model attack's difference from the loss threshold "
                       f"({r.estimate:+.3f}, {_ci(r.low, r.high, '{:+.3f}')}) is not established with this many shadow "
                       f"models and strings: neither attack is shown to find more members here.")
    weakest = corr.loc[corr.rho.idxmin()]
    a, b = LABELS[weakest.a].split(" (")[0], LABELS[weakest.b].split(" (")[0]
    if weakest.high < 0:
        out.append(f"Which strings are at risk depends on the measure: {a} and {b} rank the strings in opposite orders "
                   f"(rho {weakest.rho:+.2f}, {_ci(weakest.low, weakest.high, '{:+.2f}')}), so an audit names the "
                   f"measure its list of strings comes from, and a list from one measure is not a list from another.")
    elif weakest.low > 0:
        out.append(f"Every two measures rank the strings alike: the weakest agreement is {a} ~ {b} (rho "
                   f"{weakest.rho:+.2f}, {_ci(weakest.low, weakest.high, '{:+.2f}')}).")
    else:
        out.append(f"Which strings are at risk depends on the measure: {a} and {b} are not shown to rank the strings "
                   f"alike (rho {weakest.rho:+.2f}, {_ci(weakest.low, weakest.high, '{:+.2f}')}), so an audit names "
                   f"the measure its list of strings comes from.")
    deep = coverage[coverage.n == coverage.n.max()]
    worst = deep.loc[deep.coverage.idxmin()]
    if worst.coverage_high < 0.95:
        out.append(f"Importance-sampled exposure's 95% interval covered in {worst.coverage:.2f} of estimates in its "
                   f"worst depth band ({worst.depth} bits, {int(worst.n):,} samples; "
                   f"{_ci(worst.coverage_low, worst.coverage_high)}): there the stated interval is narrower than the "
                   f"estimator's error, so read "
                   f"exposures beyond counting with that margin, and check the `reliable` column.")
    else:
        out.append(f"Importance-sampled exposure's 95% interval held its coverage in every depth band measured (worst "
                   f"{worst.coverage:.2f}, {worst.depth} bits, {_ci(worst.coverage_low, worst.coverage_high)}, "
                   f"{int(worst.n):,} samples): exposures beyond counting can be read with their intervals where the "
                   f"`reliable` column holds.")
    return out
