"""Sequential exposure: one model memorises one random string after another (notebook 04).

Schedules are runs of :func:`memlib.expose_schedule`; this module designs the experiment and
measures what the schedule runs show:

* :func:`design`: the schedules of one seed (seeds share nothing: each is one independent unit):
  ``S1 → S2 → … → Sn → S1`` (each stage until the string is memorised); controls: the same stages
  followed by a never-seen string ``N`` instead of ``S1`` (the same model when that stage starts:
  :func:`shared_state`), ``S2`` alone on a fresh model, and ``S2`` after a first string over a
  disjoint alphabet (``T1 → S2``);
* :func:`stage_table`: one row per stage: epochs to memorise its string, censored or not, which
  occurrence of the string it is (re-learning), whether its alphabet was seen before, and the
  epochs the same string takes on a fresh model;
* :func:`retention_table`: the accuracy of every string at the end of every stage, against the
  guessing level of held-out strings over the same alphabet at that epoch (the retention matrix);
* :func:`relearning_table`: epochs to memorise a string again against the first time;
  :func:`relearn_vs_new`: against a new string at the same point of the same sequence;
* :func:`control_table`: epochs to memorise ``S2`` fresh, after ``S1`` (same alphabet) and after
  ``T1`` (disjoint alphabet), per model and seed.

Analyses take a list of schedule runs, or a dict ``{condition: [runs]}`` (as
:func:`memlib.sweep.schedule_runs` returns), whose keys become the ``condition`` column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
import json
import string as _string

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .models import PAPER_MODELS, is_random_weight
from .parameters import NotebookParams
from .figures import legend_below
from .training import Stage
from .checks import check_int
from .strings import alphabet_of, random_strings
from .labels import lr_label, plural, span
from .stats import in_family, paired_contrast

__all__ = ["guess_curves", "SEQUENCE", "NEW", "DISJOINT", "design", "shared_state", "state_checks", "relearn_vs_new",
           "stage_table", "retention_table", "relearning_table", "control_table", "censored_median", "median_epochs",
           "epochs_contrast", "verdict", "curves"]

SEQUENCE, NEW, DISJOINT, FRESH = "sequence", "sequence, new string", "after disjoint alphabet", "fresh"


def design(seed: int, *, alphabet_size: int, length: int, n_strings: int, n_test_strings: int, until: float = 1.0,
           hold: int = 2, max_epochs: int, relearn: bool = True, controls: bool = True) -> dict:
    """The schedules of one seed, ``{condition: (stages, held-out strings)}``. Seeds share nothing: each
    draws its own strings (and, through :func:`memlib.sweep.schedule_runs`, a random-weight model its own
    initialisation), so each seed is one independent unit; ``S1..Sn`` are independent draws.

    - ``"sequence"``: ``S1 → … → Sn`` over the first ``alphabet_size`` letters, one stage each, then ``S1``
      again (``relearn``);
    - ``"sequence, new string"`` (``relearn`` and ``controls``): the same stages, then ``N``, a string that no
      stage trained before. Both schedules go through identical stages up to then, so the model is the
      same when the last stage starts (training is deterministic; :func:`shared_state` checks it from the
      measurements both runs made): re-learning ``S1`` is measured against learning a new string at the
      same point, which separates "seen before" from "this model has learnt ``n`` strings";
    - ``"fresh S2"`` (``controls``, needs ``n_strings >= 2``): ``S2`` alone on a fresh model (the same
      initialisation), the reference for ``S2`` later in a schedule (``S1`` on a fresh model is the
      sequence's own first stage);
    - ``"after disjoint alphabet"`` (``controls``): ``T1``, a string over the next ``alphabet_size`` letters
      (``a``-``h`` then ``i``-``p`` for 8), then ``S2``.

    Every stage lasts until its string is memorised (accuracy ``>= until`` held ``hold`` epochs in a row:
    :func:`memlib.metrics.memorised_at`), at most ``max_epochs``. Held-out strings: ``n_test_strings`` per
    alphabet used. All strings come from seeded draws independent of one another (``T1`` is not ``S1``
    with its letters renamed).
    """
    seed = check_int("seed", seed, 0)
    n_strings, n_test = check_int("n_strings", n_strings, 1), check_int("n_test_strings", n_test_strings, 0)
    size = check_int("alphabet_size", alphabet_size, 2)
    if controls and n_strings < 2:
        raise ValueError(f"n_strings={n_strings} is not allowed with controls=True: the controls measure the later "
                         f"strings, so use n_strings >= 2 (or controls=False)")
    if controls and 2 * size > 26:
        raise ValueError(f"alphabet_size={size} is not allowed with controls=True: the control needs a disjoint "
                         f"alphabet of as many letters, so use alphabet_size <= 13")
    n_a = n_strings + 1 + n_test
    drawn = random_strings(n_a, size, length, seed=seed)
    S, N, test_a = drawn[:n_strings], drawn[n_strings], drawn[n_strings + 1:]

    def stage(s):
        return Stage(s, until=until, hold=hold, max_epochs=max_epochs)

    seq = [stage(s) for s in S]
    out = {SEQUENCE: (seq + ([stage(S[0])] if relearn else []), test_a)}
    if controls:
        if relearn:
            out[NEW] = (seq + [stage(N)], test_a)
        out[f"{FRESH} S2"] = ([stage(S[1])], test_a)
        # past the first n_a draws: the same draws over other letters are S1, S2, ... renamed
        other = random_strings(n_a + 1 + n_test, size, length, seed=seed, first_letter=_string.ascii_lowercase[size])
        T1, test_b = other[n_a], other[n_a + 1:]
        out[DISJOINT] = ([stage(T1), stage(S[1])], test_a + test_b)
    return out


def _labelled(runs) -> list[tuple]:
    pairs = [(k, r) for k, rs in runs.items() for r in rs] if isinstance(runs, dict) else [(None, r) for r in runs]
    for _, r in pairs:
        if not getattr(getattr(r, "config", None), "is_schedule", False):
            raise ValueError(f"{r!r} is not a schedule run: the analyses of memlib.sequential take runs of "
                             f"memlib.expose_schedule")
    return pairs


def _accuracy(run) -> pd.DataFrame:
    """Measured train accuracy, epoch x string."""
    m = run.metrics[run.metrics.split == "train"]
    return m.pivot_table(index="epoch", columns="string", values="accuracy")


def _alphabet(d: dict) -> str:
    return alphabet_of([d])


def guess_curves(run) -> pd.DataFrame:
    """Mean held-out accuracy per epoch (rows) and alphabet (columns): the guessing level."""
    m = run.metrics[run.metrics.split == "test"]
    if m.empty:
        return pd.DataFrame()
    alpha = {j: _alphabet(d) for j, d in enumerate(run.config.test)}
    return m.assign(alphabet=m.string.map(alpha)).pivot_table(index="epoch", columns="alphabet", values="accuracy")


def _held_from(values, threshold: float, hold: int):
    """The first index from which ``values`` stay ``>= threshold`` for ``hold`` entries in a row, or None."""
    streak = 0
    for t, v in enumerate(values):
        streak = streak + 1 if v >= threshold - 1e-9 else 0
        if streak >= hold:
            return t - hold + 1
    return None


def _base(label, run) -> dict:
    c = run.config
    return {"condition": label, "model": c.model, "lr": c.lr, "seed": c.seed, "run": run.key[:12]}


def stage_table(runs, *, threshold: float = 1.0, hold: int = 2) -> pd.DataFrame:
    """One row per run and stage: ``stage`` (0, 1, ...), its strings (``string``: the first one's index
    in the run, ``text``), ``start`` / ``end`` epochs, ``epochs`` (its length), ``memorised`` (the stage
    epoch from which its mean accuracy held the threshold: an ``until`` stage's own rule; for a fixed
    stage ``threshold`` held for ``hold`` epochs; NaN: never, ``censored``), ``occurrence`` (1 the first
    time the stage's strings are trained, 2 the next ...), ``first_memorised`` (``memorised`` at their
    first occurrence), ``alphabet_seen`` (an earlier stage trained strings over the same alphabet),
    ``accuracy_start`` / ``accuracy_end`` (mean over its strings), ``fresh_memorised``,
    ``fresh_censored`` and ``fresh_epochs`` (the same strings by the same stage rule on a fresh model:
    the first stage of any of ``runs`` with the same seed, model and training settings; NaN if none)
    and ``relative`` = memorised / fresh_memorised (below 1: faster than on a fresh model; NaN where
    either is censored)."""
    rows = []
    for label, run in _labelled(runs):
        acc = _accuracy(run)
        bounds, mem = run.arrays["stage_bounds"], run.arrays["stage_memorised"]
        seen, first = [], {}
        for k, st in enumerate(run.config.stages):
            members = list(st.strings)
            start, end = int(bounds[k]), int(bounds[k + 1])
            curve = acc.loc[start:end, members].mean(axis=1).to_numpy()
            if st.until is not None:
                memorised = int(mem[k]) if mem[k] >= 0 else None
            else:
                memorised = _held_from(curve, threshold, hold)
            key = tuple(members)
            occurrence = sum(1 for s in run.config.stages[:k] if tuple(s.strings) == key) + 1
            first.setdefault(key, memorised)
            alpha = _alphabet(run.config.train[members[0]])
            rows.append({**_base(label, run), "fresh_key": _fresh_key(run, k), "stage": k, "string": members[0],
                         "text": run.config.train[members[0]]["text"], "alphabet": alpha,
                         "start": start, "end": end, "epochs": end - start,
                         "memorised": np.nan if memorised is None else memorised, "censored": memorised is None,
                         "occurrence": occurrence,
                         "first_memorised": np.nan if first[key] is None else first[key],
                         "alphabet_seen": alpha in seen, "accuracy_start": curve[0], "accuracy_end": curve[-1]})
            seen.append(alpha)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    # the same strings, by the same stage rule and training settings, as the first stage of a schedule:
    # on a fresh model
    fresh = table[table.stage == 0].drop_duplicates("fresh_key")[["fresh_key", "memorised", "censored", "epochs"]]
    table = table.merge(fresh.rename(columns={"memorised": "fresh_memorised", "censored": "fresh_censored",
                                              "epochs": "fresh_epochs"}), on="fresh_key", how="left")
    table["relative"] = table.memorised / table.fresh_memorised
    return table.drop(columns=["fresh_key"])


def _fresh_key(run, k: int) -> str:
    """What makes stage ``k`` of ``run`` comparable with the first stage of another schedule: the same seed
    (one unit: seeds share nothing), model, every training setting, the stage's rule and its strings."""
    c, st = run.config, run.config.stages[k]
    names = ("seed", "model", "model_fingerprint", "weights_dtype", "autocast", "lr", "lr_schedule", "weight_decay",
             "max_grad_norm", "dropout", "batch_size")
    same = {name: getattr(c, name) for name in names}
    rule = {name: getattr(st, name) for name in ("epochs", "until", "hold", "max_epochs")}
    return json.dumps({**same, **rule, "texts": [c.train[j]["text"] for j in st.strings]}, sort_keys=True)


def retention_table(runs, **kwargs) -> pd.DataFrame:
    """The retention matrix, tidy: one row per run, string and stage, at the epoch that stage ends.

    ``status``: ``"before"`` (the string is not trained yet), ``"trained"`` (this stage trains it),
    ``"after"`` (trained in an earlier stage, not in this one). ``accuracy``: the string's accuracy
    at the end of the stage; ``guess``: mean held-out accuracy over the string's alphabet at that
    epoch (NaN without held-out strings over it); ``learnt``: its accuracy at the end of the stage that
    first trained it; ``retention`` = (accuracy - guess) / (learnt - guess): 1 = nothing forgotten, 0 =
    back to guessing (NaN before the string is trained, where ``learnt <= guess``, or where the first
    stage never memorised it: ``first_censored``). ``kwargs`` go to :func:`stage_table` (the rule for
    fixed stages)."""
    rows = []
    for label, run in _labelled(runs):
        acc, guess = _accuracy(run), guess_curves(run)
        censored = stage_table([run], **kwargs).censored.tolist()
        bounds, stages = run.arrays["stage_bounds"], run.config.stages
        for j, d in enumerate(run.config.train):
            alpha = _alphabet(d)
            first = next(k for k, s in enumerate(stages) if j in s.strings)
            learnt = acc.at[int(bounds[first + 1]), j]
            for k, st in enumerate(stages):
                epoch = int(bounds[k + 1])
                status = "trained" if j in st.strings else "before" if k < first else "after"
                a = acc.at[epoch, j]
                g = guess.at[epoch, alpha] if alpha in guess.columns and epoch in guess.index else np.nan
                ret = (a - g) / (learnt - g) if status != "before" and learnt > g and not censored[first] else np.nan
                rows.append({**_base(label, run), "string": j, "text": d["text"], "alphabet": alpha,
                             "first_stage": first, "first_censored": censored[first], "stage": k, "epoch": epoch,
                             "status": status,
                             "stages_since": k - first, "accuracy": a, "guess": g, "learnt": learnt,
                             "retention": ret})
    return pd.DataFrame(rows)


def relearning_table(runs, **kwargs) -> pd.DataFrame:
    """Stages that train strings a second (or later) time: ``memorised`` (epochs to memorise them
    again) against ``first_memorised``, their accuracy when the stage starts, and ``ratio`` =
    memorised / first_memorised. ``kwargs`` go to :func:`stage_table`."""
    t = stage_table(runs, **kwargs)
    t = t[t.occurrence > 1].copy()
    t["ratio"] = t.memorised / t.first_memorised
    return t.reset_index(drop=True)


def control_table(runs, **kwargs) -> pd.DataFrame:
    """Epochs to memorise the control string ``S2`` (the second stage of ``"after disjoint alphabet"``)
    in each condition, one row per model, learning rate, seed and ``condition``: ``"fresh"`` (the same
    string as the first stage of a schedule of the same seed: ``"fresh S2"``), ``"after same alphabet"`` (stage 1
    of ``"sequence"``, after ``S1``) and ``"after disjoint alphabet"`` (after ``T1``); ``memorised`` NaN and
    ``censored`` True where the stage's ``epochs`` ran out first (a fresh row is missing where no run trains
    the string first). Takes the dict of :func:`memlib.sweep.schedule_runs` (conditions of :func:`design`
    with ``controls=True``)."""
    if not isinstance(runs, dict) or not {SEQUENCE, DISJOINT} <= set(runs):
        raise ValueError(f"runs is not allowed here: use a dict with the conditions {SEQUENCE!r} and {DISJOINT!r} "
                         f"(as memlib.sweep.schedule_runs returns for memlib.sequential.design with controls=True)")
    t = stage_table(runs, **kwargs)
    key = ["model", "lr", "seed", "text"]
    disjoint = t[(t.condition == DISJOINT) & (t.stage == 1)]
    same = t[(t.condition == SEQUENCE) & (t.occurrence == 1)].merge(disjoint[key], on=key)
    fresh = disjoint[disjoint.fresh_epochs.notna()].assign(memorised=lambda d: d.fresh_memorised,
                                                           censored=lambda d: d.fresh_censored.astype(bool),
                                                           epochs=lambda d: d.fresh_epochs)
    pick = {"fresh": fresh, "after same alphabet": same, "after disjoint alphabet": disjoint}
    out = pd.concat([d.assign(condition=c) for c, d in pick.items()], ignore_index=True)
    return out[["model", "lr", "seed", "condition", "memorised", "censored", "epochs"]]


def relearn_vs_new(stages: pd.DataFrame) -> pd.DataFrame:
    """The last stage of ``"sequence"`` (``S1`` again) beside the last stage of ``"sequence, new string"``
    (``N``, never seen), one row per model, learning rate and seed, from :func:`stage_table` rows of both:
    ``relearn`` / ``new`` epochs to memorise (with ``*_censored``, ``*_epochs``), ``first`` (S1 the first
    time) and ``fresh_new`` (N on a fresh model; NaN where no run has it)."""
    key = ["model", "lr", "seed"]
    cols = ["memorised", "censored", "epochs", "fresh_memorised", "fresh_censored", "fresh_epochs"]
    last = stages[stages.stage == stages.groupby(["condition", "run"]).stage.transform("max")]
    seq, new = (last[last.condition == c].set_index(key)[cols] for c in (SEQUENCE, NEW))
    seq = seq[stages[stages.condition == SEQUENCE].groupby(key).occurrence.max().reindex(seq.index) > 1]
    both = seq.join(new, how="inner", lsuffix="_relearn", rsuffix="_new")
    out = pd.DataFrame({
        "relearn": both.memorised_relearn, "relearn_censored": both.censored_relearn.astype(bool),
        "relearn_epochs": both.epochs_relearn,
        "new": both.memorised_new, "new_censored": both.censored_new.astype(bool), "new_epochs": both.epochs_new,
        "first": both.fresh_memorised_relearn, "first_censored": both.fresh_censored_relearn.astype(bool),
        "first_epochs": both.fresh_epochs_relearn,
        "fresh_new": both.fresh_memorised_new, "fresh_new_censored": both.fresh_censored_new.astype(bool),
        "fresh_new_epochs": both.fresh_epochs_new})
    return out.reset_index()


def state_checks(runs: dict) -> pd.DataFrame:
    """:func:`shared_state` for every model, learning rate and seed that has both ``"sequence"`` and ``"sequence,
    new string"`` in ``runs`` (the dict of :func:`memlib.sweep.schedule_runs`): one row each."""
    new = {(r.config.model, r.config.lr, r.config.seed): r for r in runs.get(NEW, [])}
    rows = []
    for r in runs.get(SEQUENCE, []):
        key = (r.config.model, r.config.lr, r.config.seed)
        if key in new:
            rows.append({"model": key[0], "lr": key[1], "seed": key[2], **shared_state(r, new[key])})
    return pd.DataFrame(rows, columns=["model", "lr", "seed", "identical", "compared", "max_difference", "epoch"])


def shared_state(seq_run, new_run) -> dict:
    """Whether the two schedules of :func:`design` that end differently (``"sequence"``, ``"sequence, new
    string"``) had the same model when their last stage started. Every training pass measures the weights
    it is about to update (the same string, alone, in both runs), and the last one before that stage measures
    the weights it starts from: every such measurement (loss and accuracy, each stage's string at each of
    its epochs) must agree exactly. (The no-grad measurements of the other strings are not compared: the
    two runs batch different strings there, and a different batch may round differently.) Returns
    ``{"identical": bool, "compared": n measurements, "max_difference": largest |loss difference|, "epoch":
    the last stage's first epoch}``; ``identical`` False also when their earlier stages differ."""
    a, b = seq_run.config, new_run.config
    k = len(a.stages) - 1
    start = int(seq_run.arrays["stage_bounds"][k])
    same_plan = ([s.to_dict() for s in a.stages[:k]] == [s.to_dict() for s in b.stages[:k]]
                 and start == int(new_run.arrays["stage_bounds"][k])
                 and [d["text"] for d in a.train[:k]] == [d["text"] for d in b.train[:k]])
    if not same_plan:
        return {"identical": False, "compared": 0, "max_difference": float("nan"), "epoch": start}

    def passes(run):  # the training passes up to the last stage (its own first pass trains another string)
        m = run.metrics
        m = m[(m.split == "train") & m.trained.astype(bool) & (m.epoch <= start) & (m.string < k)]
        return m[["string", "epoch", "loss", "accuracy"]]

    both = passes(seq_run).merge(passes(new_run), on=["string", "epoch"], suffixes=("_a", "_b"))
    diff = float((both.loss_a - both.loss_b).abs().max()) if len(both) else float("nan")
    identical = bool(len(both)) and diff == 0 and bool((both.accuracy_a == both.accuracy_b).all())
    return {"identical": identical, "compared": len(both), "max_difference": diff, "epoch": start}


def censored_median(memorised, censored, epochs) -> tuple[float, bool]:
    """Median epochs to memorise where some stages never memorised (``censored``; ``epochs``: how long
    they ran): a censored stage counts as longer than every memorised one. Returns ``(median, bound)``;
    ``bound`` True when the median rests on a censored stage, so it is only a lower bound (``> median``).
    NaN when there are no stages."""
    vals = sorted(zip(censored, np.where(censored, epochs, memorised)), key=lambda cv: (cv[0], cv[1]))
    n = len(vals)
    if not n:
        return float("nan"), False
    mid = [vals[(n - 1) // 2], vals[n // 2]]
    return float(np.mean([v for _, v in mid])), any(c for c, _ in mid)


def curves(run, label=None) -> pd.DataFrame:
    """Every measured accuracy of a schedule run, tidy: the training strings (``name`` S1, S2, ... in
    order of first use, ``trained`` while their stage runs) and the mean of the held-out strings per
    alphabet (``name`` "held-out a-h")."""
    (label, run), = _labelled({label: [run]} if label is not None else [run])
    m = run.metrics
    train = m[m.split == "train"].assign(name=lambda d: "S" + (d.string + 1).astype(str))
    cols = ["epoch", "name", "accuracy", "loss", "trained", "stage"]
    out = [train[cols]]
    test = m[m.split == "test"]
    if not test.empty:
        alpha = {j: _alphabet(d) for j, d in enumerate(run.config.test)}
        test = test.assign(alphabet=test.string.map(alpha))
        held = test.groupby(["epoch", "alphabet", "stage"], as_index=False)[["accuracy", "loss"]].mean()
        held["name"] = "held-out " + held.alphabet.str[0] + "-" + held.alphabet.str[-1]
        held["trained"] = False
        out.append(held[cols])
    return pd.concat(out, ignore_index=True).assign(model=run.config.model, lr=lr_label(run.config.lr),
                                                    seed=run.config.seed, condition=label)


def median_epochs(memorised, censored, epochs) -> str:
    """``"12 (11-13)"``: median epochs to memorise and their range, ``"> N"`` when the median rests on a censored
    stage, censored stages counted at their length and noted (``", 1 of 3 censored"``)."""
    memorised, censored = pd.Series(memorised, dtype=float).reset_index(drop=True), \
        pd.Series(censored).astype(bool).reset_index(drop=True)
    epochs = pd.Series(epochs).reset_index(drop=True)
    value, bound = censored_median(memorised, censored, epochs)
    note = f", {int(censored.sum())} of {len(censored)} censored" if censored.any() else ""
    return (f"> {value:.0f}" if bound else f"{value:.0f}") + f" ({span(memorised.where(~censored, epochs))}{note})"


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


def _stage_lines(ax, bounds, names):
    """Vertical lines at stage boundaries, each stage named above the axes."""
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        ax.axvline(a, color="0.6", lw=0.8, ls="--")
        ax.text((a + b) / 2, 1.04, names[k], ha="center", va="bottom", fontsize=7, transform=ax.get_xaxis_transform())
    ax.axvline(bounds[-1], color="0.6", lw=0.8, ls="--")


def plot_schedule(curves: pd.DataFrame, bounds: dict, stage_names: dict):
    """Accuracy of every string of a schedule over the whole schedule, one panel per model
    (:func:`memlib.sequential.curves` of one run per model). Solid while the string is trained,
    thin when it is not; grey: held-out strings (the guessing level); dashed lines: stage boundaries.
    ``bounds`` / ``stage_names``: per model, the run's stage bounds and the stages' names."""
    models = list(dict.fromkeys(curves.model))
    fig, axes = plt.subplots(len(models), 1, figsize=(10, 2.4 * len(models)), squeeze=False)
    names = sorted(n for n in set(curves.name) if not n.startswith("held-out"))
    colours = dict(zip(names, plt.cm.tab10(np.arange(len(names)) % 10)))
    for ax, model in zip(axes[:, 0], models):
        d = curves[curves.model == model]
        for name in names:
            g = d[d.name == name].sort_values("epoch")
            ax.plot(g.epoch, g.accuracy, color=colours[name], lw=0.9, alpha=0.55)
            on = g.accuracy.where(g.trained)
            ax.plot(g.epoch, on, color=colours[name], lw=2.2, label=name)
        for name, g in d[d.name.str.startswith("held-out")].groupby("name"):
            ax.plot(g.epoch, g.accuracy, color="0.45", lw=1, ls=":", label=f"{name} (mean)")
        _stage_lines(ax, bounds[model], stage_names[model])
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(0, bounds[model][-1])
        ax.set_ylabel("accuracy")
        seed, lr = d.seed.iloc[0], d.lr.iloc[0]
        ax.set_title(f"{model} (lr {lr}, seed {seed})", fontsize=9, pad=14)
    axes[-1, 0].set_xlabel("epoch of the schedule")
    legend_below(fig, axes, ncol=len(names) + 2)
    return fig


def plot_stage_speed(stages: pd.DataFrame, control: pd.DataFrame, new: pd.DataFrame | None = None):
    """Left: epochs to memorise each stage of the sequence, per model (points: seeds; line: median;
    hollow: censored, at the stage's length; dashed with crosses: median epochs the same strings take
    on a fresh model; triangles: ``new``, the :func:`memlib.sequential.relearn_vs_new` table, the
    never-seen string N in place of the last stage, median over seeds). Right: epochs to memorise the control string S2 fresh,
    after S1 over the same alphabet and after T1 over a disjoint alphabet (a
    :func:`memlib.sequential.control_table`; points: seeds, hollow censored; bar: median)."""
    models = list(dict.fromkeys(stages.model))
    colours = dict(zip(models, plt.cm.tab10(np.arange(len(models)) % 10)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1.3, 1]})
    for i, model in enumerate(models):
        d = stages[stages.model == model]
        x = d.stage + (i - (len(models) - 1) / 2) * 0.06
        done = d[~d.censored]
        left.scatter(x[~d.censored], done.memorised, color=colours[model], s=14)
        left.scatter(x[d.censored], d[d.censored].epochs, facecolors="none", edgecolors=colours[model], s=18)
        med = d.assign(v=d.memorised.where(~d.censored, d.epochs)).groupby("stage").v.median()
        left.plot(med.index, med, color=colours[model], lw=1.5, label=model)
        if "fresh_memorised" in d and d.fresh_epochs.notna().any():  # censored fresh runs at their length
            fresh = d.assign(v=d.fresh_memorised.where(~d.fresh_censored.astype(bool), d.fresh_epochs)).groupby("stage").v.median()
            left.plot(fresh.index, fresh, color=colours[model], lw=1, ls="--", marker="x", ms=4)
        if new is not None and len(new[new.model == model]):
            n = new[new.model == model]
            left.scatter([d.stage.max() + 0.15], [n.new.where(~n.new_censored, n.new_epochs).median()], marker="^",
                         color=colours[model], s=36, zorder=3)
    labels = stages.drop_duplicates("stage").sort_values("stage")
    left.set_xticks(labels.stage)
    left.set_xticklabels([f"S{f + 1}" if o == 1 else f"S{f + 1}\nagain" for o, f in
                          zip(labels.occurrence, labels.string)], fontsize=8)
    left.set_xlabel("stage of the sequence")
    left.set_ylabel("epochs to memorise")
    left.set_ylim(bottom=0)
    left.plot([], [], color="0.4", lw=1, ls="--", marker="x", ms=4, label="same strings, fresh model")
    if new is not None and len(new):
        left.scatter([], [], marker="^", color="0.4", s=36, label="never-seen N instead (median)")
    left.legend(fontsize=7, frameon=False)
    left.set_title("speed-up, and re-learning", fontsize=9)
    conds = ["fresh", "after same alphabet", "after disjoint alphabet"]
    width = 0.8 / max(len(models), 1)
    for i, model in enumerate(models):
        d = control[control.model == model]
        for j, c in enumerate(conds):
            g = d[d.condition == c]
            if g.empty:
                continue
            x = j + (i - (len(models) - 1) / 2) * width
            v = g.memorised.where(~g.censored, g.epochs)
            right.bar(x, v.median(), width=width * 0.9, color=colours[model], alpha=0.35)
            right.scatter(np.full((~g.censored).sum(), x), v[~g.censored], color=colours[model], s=12)
            right.scatter(np.full(g.censored.sum(), x), v[g.censored], facecolors="none", edgecolors=colours[model], s=16)
    right.set_xticks(range(len(conds)))
    right.set_xticklabels(["S2 fresh", "S2 after S1\n(same alphabet)", "S2 after T1\n(disjoint alphabet)"], fontsize=8)
    right.set_ylabel("epochs to memorise S2")
    right.set_title("where the speed-up comes from", fontsize=9)
    fig.tight_layout()
    return fig


def plot_retention(retention: pd.DataFrame):
    """The retention matrix per model: accuracy of each string (rows) at the end of each stage
    (columns), mean over seeds; colour: retention (1 = as when learnt, 0 = guessing level), cells
    before a string is first trained left blank; numbers: accuracy. The figure's title says so."""
    import seaborn as sns

    models = list(dict.fromkeys(retention.model))
    fig, axes = plt.subplots(1, len(models), figsize=(3.3 * len(models), 3.0), squeeze=False)
    for ax, model in zip(axes[0], models):
        d = retention[retention.model == model]
        acc = d.pivot_table(index="string", columns="stage", values="accuracy", aggfunc="mean", dropna=False)
        ret = d.pivot_table(index="string", columns="stage", values="retention", aggfunc="mean",
                            dropna=False).reindex(index=acc.index, columns=acc.columns)
        ret = ret.where(acc.notna())
        sns.heatmap(ret, ax=ax, vmin=0, vmax=1, cmap="viridis", cbar=ax is axes[0, -1],
                    annot=acc.where(ret.notna()).round(2), fmt=".2f", annot_kws={"fontsize": 7},
                    cbar_kws={"label": "colour: retention\n(acc - guess) / (learnt - guess)"} if ax is axes[0, -1]
                    else None)
        ax.grid(False)
        ax.set_yticklabels([f"S{j + 1}" for j in ret.index], rotation=0)
        stages = d.drop_duplicates("stage").sort_values("stage")
        first = d[d.status == "trained"].drop_duplicates("stage").set_index("stage").string
        ax.set_xticklabels([f"end of\nS{first.get(k, 0) + 1}" for k in stages.stage], fontsize=7, rotation=0)
        ax.set_xlabel("")
        ax.set_ylabel("string" if ax is axes[0, 0] else "")
        ax.set_title(f"{model} ({d.seed.nunique()} seeds)", fontsize=9)
    fig.suptitle("numbers: accuracy, mean over seeds; colour: retention (1 = as when learnt, 0 = back to guessing); "
                 "blank: not trained yet", fontsize=8)
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 04's parameters (see the presets' comments). Its retention reads the held-out level at stage
    boundaries, where a schedule always evaluates its held-out strings: no held-out gaps to report."""

    notebook: ClassVar[str] = "04_sequential_exposure"
    models: list[str]
    alphabet_size: int
    length: int
    n_strings: int
    relearn: bool
    controls: bool
    n_test_strings: int
    until: float
    hold: int
    max_epochs: int | dict[str, int]
    lr: float | dict[str, float] | None
    seeds: list[int] | dict[str, list[int]]
    eval_every: int | list[int]
    reset_optimizer: bool
    lr_schedule: str
    max_grad_norm: float | None
    precision: str


PRESETS = {
    # Per seed: S1 -> ... -> S{n_strings} -> S1 again over the first alphabet_size letters, each stage
    # until memorised (accuracy >= until held `hold` epochs; at most max_epochs); controls: the same
    # stages then a never-seen string N, S2 on a fresh model, and S2 after T1 over the next alphabet_size
    # letters. Seeds share nothing (memlib.sequential.design): each seed is one unit. Held-out strings:
    # n_test_strings per alphabet.
    "smoke": Params(
        models=["tiny-llama"], alphabet_size=4, length=12, n_strings=2, relearn=True, controls=True,
        n_test_strings=1, until=0.99, hold=2, max_epochs=40, lr=None, seeds=[0, 1], eval_every=1,
        reset_optimizer=True, lr_schedule="constant", max_grad_norm=None,
        precision="fp32",
    ),
    # 4 schedules per seed (9 stages), seeds sized by power: SmolLM2 over 8 seeds (32 schedules, most of the
    # notebook's time), tiny-llama over 24 (96 schedules of about 1.5 s each). The strings a stage does not
    # train and the held-out strings every 8 epochs and at every stage boundary (the retention the verdict
    # reads): every 4 took about a sixth of a SmolLM2 schedule's time (benchmarks/RESULTS.md). A family of 6 primary tests (3
    # per model) needs p < 0.05 / 6 for its smallest, which a sign test reaches at n = 8 only when all 8 agree
    # (p = 0.0078; at n = 6 never: 0.031); at 8 seeds tiny-llama's contrasts were established on seeds 0-7 and
    # not on 8-15 (7 of 8 each), and the units for 80% power measured on them were 18 (benchmarks/RESULTS.md).
    "default": Params(
        models=["smollm2-135m", "tiny-llama"], alphabet_size=8, length=32,
        n_strings=2, relearn=True, controls=True, n_test_strings=2, until=0.99, hold=2,
        max_epochs={"smollm2-135m": 40, "tiny-llama": 150},
        lr=None, seeds={"smollm2-135m": list(range(8)), "tiny-llama": list(range(24))}, eval_every=8,
        reset_optimizer=True, lr_schedule="constant",
        max_grad_norm=None,
        precision="fp32",
    ),
    "paper": Params(
        models=PAPER_MODELS, alphabet_size=8, length=1024, n_strings=4, relearn=True, controls=True,
        n_test_strings=10, until=0.99, hold=2, max_epochs=100, lr=1e-5, seeds=[0, 1, 2, 3], eval_every=1,
        reset_optimizer=True, lr_schedule="linear", max_grad_norm=1.0,
        precision="auto",
    ),
}
