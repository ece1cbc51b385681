"""Notebook 01's verdict, one markdown line per statement, its primary tests one family."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..labels import lr_label, plural
from ..metrics import MEMORISED_HOLD, MEMORISED_THRESHOLD
from ..stats import in_family, median_interval, paired_contrast, sign_counts, sign_test
from .tables import milestones_in_order, rate_summary, run_curves, twin_contrasts, twin_label, twin_pairs


# The tests notebook 01's finding rests on (memlib.stats.Family; the others are exploratory): pretrained against
# random weights, each at its own learning rate (epochs until the distribution is learnt, until memorised; at a
# shared rate, exploratory: a rate that suits one of the two decides the answer), and the order in which positions
# are memorised. The held-out loss's rise is read from its lowest epoch, chosen from the same data: exploratory.
PRIMARY = (r".*: pretrained / random, each at its own rate .*, epochs until .*", r".*: memorisation order over seeds",
           r".*: pretrained families, epochs until .*")


def verdict(per_model: pd.DataFrame, metrics: pd.DataFrame, *, guess_level: float, models, comparison=None,
            order: dict | None = None, run=None, rhos=None, own: dict | None = None, families=None, table=None,
            family=None) -> list[str]:
    """Notebook 01's verdict, one markdown line per statement: per model (:func:`model_summary`), held-out strings
    against ``guess_level`` (from ``metrics``, the runs' metrics table), pretrained against random weights, each at
    its own rate (``own``: ``{model: lr}``) and at shared rates (``comparison``: :func:`pretrained_vs_random`, or
    None; with :func:`twin_contrasts`), and the
    memorisation order of ``run`` (:func:`position_order`), and ``rhos``, the same correlation for every seed of
    that model (its median with its order-statistic interval); pretrained families against each other
    (``families``: :func:`family_contrasts`, with ``table``, the runs' :func:`memlib.milestones.phase_table`). Its
    tests form one family (:data:`PRIMARY`)."""
    if family is None:
        return in_family(lambda f: verdict(per_model, metrics, guess_level=guess_level, models=models,
                                           comparison=comparison, order=order, run=run, rhos=rhos, own=own,
                                           families=families, table=table, family=f),
                         PRIMARY)
    by_rate = rate_summary(comparison) if comparison is not None else None
    lines = []
    for model, row in per_model.iterrows():
        def med(c):
            return "not reached" if pd.isna(row[c]) else f"epoch {row[c]:.0f}"
        lines.append(f"- **{model}** ({row.parameters}, lr {lr_label(row.lr)}): distinct guessing phase in "
                     f"{row.distinct_guessing:.0%} of runs (ends {med('guess_end')}); memorisation starts {med('mem_start')}; "
                     f"50% / 90% / 99% accuracy at {med('epochs_to_50')} / {med('epochs_to_90')} / {med('epochs_to_99')}; "
                     f"memorised (accuracy >= {MEMORISED_THRESHOLD} held {MEMORISED_HOLD} epochs) in {row.memorised_runs}/"
                     f"{row.runs} runs"
                     + (f", from {med('mem_end')} (median of those)." if row.memorised_runs else "."))
    curves = run_curves(metrics)
    test_final = curves[curves.split == "test"].groupby("model").apply(
        lambda d: d[d.epoch == d.epoch.max()].accuracy.mean(), include_groups=False)
    above = test_final.max() > guess_level + 0.05
    lines.append(f"- Held-out strings end at accuracy {test_final.min():.2f}-{test_final.max():.2f} "
                 f"(likeliest-letter guess {guess_level:.2f}): "
                 + ("some model predicts strings it never saw above the guessing level." if above else
                    "within 0.05 of the guessing level, so nothing beyond the distribution is learnt about strings never seen."))
    if by_rate is not None:
        lines += pretrained_vs_random_lines(by_rate, comparison, family, own)
    if families:
        lines += family_lines(families, table, per_model, family)
    for model in models:  # held-out strings as training goes on: loss and per-position entropy
        held = curves[(curves.model == model) & (curves.split == "test")].groupby("epoch")[["loss", "entropy_position"]].mean()
        low, end = held.loss.idxmin(), held.index[-1]
        if held.loss[end] > held.loss[low] + 0.05 and held.entropy_position[end] < held.entropy_position.max() - 0.05:
            per_seed = (metrics[(metrics.model == model) & (metrics.split == "test")]
                        .groupby(["seed", "epoch"]).loss.mean().unstack("epoch"))
            rise = (paired_contrast(per_seed[end], per_seed[low], kind="difference").decided(
                family, f"{model}: held-out loss, last epoch - its lowest") if low in per_seed else None)
            lines.append(f"- {model}, held-out strings: loss rises from {held.loss[low]:.2f} nats (epoch {low}) to "
                         f"{held.loss[end]:.2f} (epoch {end}) while the per-position entropy falls from "
                         f"{held.entropy_position.max():.2f} to {held.entropy_position[end]:.2f} bits: over-confident on "
                         f"strings it never saw"
                         + (f" (loss at epoch {end} - at epoch {low}, seed by seed: {rise.text(words=('lower', 'higher', 'equal'))})"
                            if rise is not None else "") + ".")
    if order is not None:
        rho, first_stable = order["rho"], order["first_stable"]
        words = ("scattered across the string, not left to right" if abs(rho) < 0.3 else
                 ("left to right" if rho > 0 else "right to left") + " in tendency")
        stable = int(np.isfinite(first_stable).sum())
        lines.append(f"- Memorisation order ({run.config.model}, seed {run.config.seed}): Spearman correlation of position "
                     f"and epoch-from-which-correct = {rho:.2f} over the {stable} of {len(first_stable)} positions correct "
                     f"from some epoch to the end (1 would be strictly left to right): {words}.")
        if rhos is not None and len(rhos) > 1:
            values = np.asarray([r for r in rhos if np.isfinite(r)], dtype=float)
            ci, p = median_interval(values), sign_test(np.sign(values).astype(int).tolist())
            d = family.decide(f"{run.config.model}: memorisation order over seeds", p, estimate=ci.estimate,
                              low=ci.low, high=ci.high, level=ci.level, n=ci.n, supported=ci.excludes(0),
                              **sign_counts(values))
            tendency = ("" if not d.established(ci.excludes(0)) else
                        " (a left-to-right tendency)" if ci.estimate > 0 else " (a right-to-left tendency)")
            lines.append(f"  - The same correlation over every seed of {run.config.model}: median {ci.text()}; sign test "
                         f"{d.words(p, ci.excludes(0))}{tendency}.")
    return lines


def pretrained_vs_random_lines(by_rate: pd.DataFrame, comparison: pd.DataFrame, family, own=None) -> list[str]:
    lines = []
    for (pair, lr, init), row in by_rate.iterrows():
        def at(c):
            return f"at epoch {row[c]:.0f}" if pd.notna(row[c]) else f"not within {row.last_epoch} epochs"
        learnt = (f"distribution learnt {at('guess_end')}" if pd.notna(row.guess_end) else
                  f"distribution not learnt within {row.last_epoch} epochs (alphabet mass "
                  f"{row.final_alphabet_mass:.2f} at the end)")
        lines.append(f"- {row.model} at lr {lr_label(lr)} (medians over {plural(row.runs, 'seed')}): {learnt}, "
                     f"memorisation starts {at('mem_start')}, memorised {at('mem_end')} (memorised in "
                     f"{row.memorised_runs}/{row.runs} runs, final accuracy {row.final_accuracy:.2f}); distinct guessing "
                     f"phase in {row.distinct_guessing}/{row.runs} runs.")
    contrasts = twin_contrasts(comparison, own)
    speed = ("faster", "slower", "as fast")
    for pair, lr_p, lr_r, mine in twin_pairs(comparison, own):
        rates = twin_label(lr_p, lr_r, mine)
        c = {col: contrasts[(pair, lr_p, lr_r)][col].decided(family, f"{pair}: pretrained / random, {rates}, "
                                                                     f"epochs until {what}")
             for col, what in (("guess_end", "the distribution is learnt"), ("mem_end", "memorised"))}
        lines.append(f"- Pretrained / random weights, {rates}, seed by seed: epochs until the distribution is learnt, "
                     f"{c['guess_end'].text(words=speed)}; epochs until memorised, {c['mem_end'].text(words=speed)}.")
    return lines


def family_lines(families: dict, table: pd.DataFrame, per_model: pd.DataFrame, family) -> list[str]:
    """Pretrained families against each other (:func:`family_contrasts`): the order of their milestones, and seed by
    seed on the same strings, each at the rate of its runs (the ``families`` preset: each model's own), how much
    sooner or later each phase ends."""
    in_order, runs = milestones_in_order(table), table.groupby("model", sort=False).size()
    counts = ", ".join(f"{m} {in_order[m]}/{runs[m]} runs" for m in families_models(families))
    lines = [f"- Pretrained families, milestones in the order of the phases (distribution learnt, then memorisation "
             f"starts, then memorised): {counts}."]
    speed = ("faster", "slower", "as fast")
    for (other, first), contrast in families.items():
        rates = f"lr {lr_label(per_model.lr[other])} / {lr_label(per_model.lr[first])}"
        c = {col: contrast[col].decided(family, f"{other} / {first}: pretrained families, "
                                                f"epochs until {what}")
             for col, what in (("guess_end", "the distribution is learnt"), ("mem_end", "memorised"))}
        lines.append(f"- {other} / {first}, pretrained families ({rates}), seed by seed on the "
                     f"same strings: epochs until the distribution is learnt, {c['guess_end'].text(words=speed)}; "
                     f"epochs until memorised, {c['mem_end'].text(words=speed)}.")
    return lines


def families_models(families: dict) -> list[str]:
    """The models of :func:`family_contrasts`' keys, the first one first."""
    return list(dict.fromkeys([first for _, first in families] + [other for other, _ in families]))
