"""Notebook 04's tables: epochs to memorise each stage, re-learning, retention, the controls and the shared model state."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..labels import lr_label, span
from .plan import DISJOINT, NEW, SEQUENCE
from ..strings import alphabet_of


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
