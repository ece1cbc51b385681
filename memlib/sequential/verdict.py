"""Notebook 04's verdict: its tables in sentences, the family of primary tests declared in ``PRIMARY``."""

from __future__ import annotations

import pandas as pd

from ..labels import lr_label, plural, span
from ..models import is_random_weight
from ..stats import in_family, paired_contrast
from .tables import median_epochs


# The tests notebook 04's finding rests on (memlib.stats.Family; the others, S2 after other letters among them, are
# exploratory), per model: each later string against itself on a fresh model (a speed-up from the strings before),
# re-learning against the first time (fast re-memorisation), and re-learning against a never-seen string N at the same
# stage (what having seen S1 adds). Units: seeds, which share nothing (design).
PRIMARY = (r".*: S\d+ in the sequence / on a fresh model", r".*: re-learning / first time", r".*: S1 again / N")


def verdict(stages: pd.DataFrame, relearning: pd.DataFrame, retention: pd.DataFrame, control: pd.DataFrame,
            relearn_new: pd.DataFrame | None = None, state: pd.DataFrame | None = None, family=None) -> list[str]:
    """Notebook 04's verdict, one markdown line per statement, from the sequence's rows of :func:`stage_table`,
    :func:`relearning_table`, :func:`retention_table`, :func:`control_table` (may be empty),
    :func:`relearn_vs_new` and the :func:`shared_state` checks (``state``: one row per model and seed, with
    the dict's keys; both optional). Its tests form one family (:data:`PRIMARY`)."""
    if family is None:
        return in_family(lambda f: verdict(stages, relearning, retention, control, relearn_new, state, family=f),
                         PRIMARY)
    lines = []
    for model, d in stages.groupby("model", sort=False):
        new = d[d.occurrence == 1]
        per_stage = "; ".join(f"S{int(g.string.iloc[0]) + 1}: {median_epochs(g.memorised, g.censored, g.epochs)}"
                              for k, g in new.groupby("stage"))
        lines.append(f"- **{model}** (lr {lr_label(d.lr.iloc[0])}, {plural(d.seed.nunique(), 'seed')}, each its own "
                     f"strings{' and initialisation' if is_random_weight(model) else ''}): epochs to "
                     f"memorise each new string, median (range{', censored stages at their length' if new.censored.any() else ''}): "
                     f"{per_stage}.")
        lines += _against_fresh(new, model, family)
        last = int(new.stage.max())
        r = relearning[relearning.model == model]
        if len(r):
            first = new[new.string.isin(r.string) & (new.stage == 0)]
            lines.append(f"  - Re-learning S1 after {plural(last, 'other string')}: "
                         f"{median_epochs(r.memorised, r.censored, r.epochs)} epochs, against "
                         f"{median_epochs(first.memorised, first.censored, first.epochs)} the first time (re-learning / "
                         f"first time: {epochs_contrast(r, first).decided(family, f'{model}: re-learning / first time').text(words=SPEED)}); S1's accuracy when its second "
                         f"stage starts: {span(r.accuracy_start, '{:.2f}')}.")
        if relearn_new is not None and len(relearn_new[relearn_new.model == model]):
            lines += _relearn_lines(relearn_new[relearn_new.model == model], last,
                                    None if state is None else state[state.model == model], model, family)
        lines += _forgetting(retention[(retention.model == model) & (retention.status == "after")
                                       & ~retention.first_censored])
        c = control[control.model == model] if len(control) else control
        if len(c):
            lines.append("  - S2, epochs to memorise: " + "; ".join(
                f"{cond} {median_epochs(g.memorised, g.censored, g.epochs)}" for cond, g in c.groupby("condition", sort=False))
                + ".")
            lines += _controls(c, model, family)
    return lines


def _relearn_lines(rn: pd.DataFrame, last: int, state, model, family) -> list[str]:
    """Re-learning ``S1`` against a never-seen string at the same point of the same sequence."""
    def contrast(a, b, name):
        m = rn[rn[b].notna() | rn[f"{b}_censored"]]
        return paired_contrast(m[a], m[b], kind="ratio", censored_a=m[f"{a}_censored"], censored_b=m[f"{b}_censored"],
                               length_a=m[f"{a}_epochs"], length_b=m[f"{b}_epochs"]).decided(family, f"{model}: {name}")
    same = ""
    if state is not None and len(state):
        same = (f" The model was the same when that stage started in {int(state.identical.sum())} of {len(state)} seeds "
                f"({int(state.compared.sum())} measurements of both runs compared, largest loss difference "
                f"{state.max_difference.max():.1g}).")
    out = [f"  - At stage {last + 2}, after the same {plural(last + 1, 'string')}: S1 again "
           f"{median_epochs(rn.relearn, rn.relearn_censored, rn.relearn_epochs)} epochs, a never-seen string N "
           f"{median_epochs(rn.new, rn.new_censored, rn.new_epochs)}.{same}",
           f"    - S1 again / N (what having seen S1 adds to the general speed-up): "
           f"{contrast('relearn', 'new', 'S1 again / N').text(words=SPEED)}."]
    if rn.fresh_new.notna().any():
        out.append(f"    - N there / N on a fresh model (the general speed-up after {plural(last + 1, 'string')}): "
                   f"{contrast('new', 'fresh_new', 'N there / N on a fresh model').text(words=SPEED)}.")
    return out


SPEED = ("faster", "slower", "as fast")  # how a contrast of epochs names its directions


def epochs_contrast(a: pd.DataFrame, b: pd.DataFrame):
    """Epochs to memorise in ``a`` against ``b`` (rows of :func:`stage_table` or :func:`control_table`), seed by
    seed (the seeds both have): a :class:`memlib.stats.Contrast` of ratios a / b, censored stages as "longer than"."""
    m = a[["seed", "memorised", "censored", "epochs"]].merge(b[["seed", "memorised", "censored", "epochs"]], on="seed",
                                                             suffixes=("_a", "_b"))
    return paired_contrast(m.memorised_a, m.memorised_b, kind="ratio", censored_a=m.censored_a.astype(bool),
                           censored_b=m.censored_b.astype(bool), length_a=m.epochs_a, length_b=m.epochs_b)


def _controls(c: pd.DataFrame, model, family) -> list[str]:
    """``S2`` after ``T1`` (other letters) against ``S2`` after ``S1`` (the same letters) and on a fresh model, each
    with its interval, and what the comparison of the two says (both readings)."""
    by = {cond: g for cond, g in c.groupby("condition", sort=False)}
    out, both = [], None
    for a, b in (("after same alphabet", "fresh"), ("after disjoint alphabet", "fresh"),
                 ("after disjoint alphabet", "after same alphabet")):
        if a in by and b in by:
            c = epochs_contrast(by[a], by[b]).decided(family, f"{model}: S2 {a} / {b}")
            out.append(f"    - S2 {a} / {b}: {c.text(words=SPEED)}.")
            both = c if b == "after same alphabet" else both
    if both is not None:  # the reading rests on the comparison of the two first strings only
        last = both
        if not last.established:
            reading = ("neither reading: S2 is not measurably faster or slower after T1 (other letters) than after S1 "
                       "(the same letters)")
        elif last.interval.estimate < 1:
            reading = ("S2 is faster after T1 (other letters) than after S1 (the same letters): a first string over the "
                       "same letters gets in the way of the next (interference)")
        else:
            reading = ("S2 is slower after T1 (other letters) than after S1 (the same letters): what S1 taught about its "
                       "letters helps the next string over them")
        out.append(f"    - Reading: {reading}.")
    return out


def _against_fresh(new: pd.DataFrame, model, family) -> list[str]:
    later = new[(new.stage > 0) & new.fresh_epochs.notna()]
    if not len(later):
        return []
    fresh = "; ".join(f"S{int(g.string.iloc[0]) + 1}: {median_epochs(g.fresh_memorised, g.fresh_censored, g.fresh_epochs)}"
                      for k, g in new[new.fresh_epochs.notna()].groupby("stage"))
    per_stage = []
    for k, g in later.groupby("stage"):  # units: seeds (stages of one seed share a model, so they are not independent)
        label = f"S{int(g.string.iloc[0]) + 1}"
        c = paired_contrast(g.memorised, g.fresh_memorised, kind="ratio", censored_a=g.censored.astype(bool),
                            censored_b=g.fresh_censored.astype(bool), length_a=g.epochs, length_b=g.fresh_epochs
                            ).decided(family, f"{model}: {label} in the sequence / on a fresh model")
        per_stage.append(f"{label}: {c.text(words=SPEED)}")
    return [f"  - The same strings on a fresh model: {fresh}. Each later stage against its own string on a fresh model, "
            f"epochs in the sequence / on a fresh model, seed by seed: " + "; ".join(per_stage) + "."]


def _forgetting(ret: pd.DataFrame) -> list[str]:
    if not len(ret) or not ret.guess.notna().any():
        return []
    one = ret[ret.stages_since == 1]
    most = ret[ret.stages_since == ret.stages_since.max()]
    later = ""
    if most.stages_since.iloc[0] > 1:
        later = (f"; {plural(int(most.stages_since.iloc[0]), 'stage')} after, {span(most.accuracy, '{:.2f}')} "
                 f"(retention median {most.retention.median():.2f})")
    return [f"  - Forgetting (strings their first stage memorised): one stage after, accuracy {span(one.accuracy, '{:.2f}')} "
            f"(retention median {one.retention.median():.2f}; held-out strings at that epoch {span(one.guess, '{:.2f}')})"
            f"{later}."]
