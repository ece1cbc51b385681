"""Membership inference: the loss-threshold attack (Yeom et al. 2018), trained strings against held-out strings (and
against permutations of the trained strings), pooled over the runs of a setting, on the raw loss and calibrated by
the loaded model's loss, as reference-model attacks such as LiRA (Carlini et al. 2022) calibrate
(:func:`attack_table`): ROC AUC and the true-positive rate at 1% and 0.1% false positives (:func:`tpr_at_fpr`), NaN
("not measurable at this n") with fewer than ``ceil(1 / fpr)`` non-members.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .candidates import candidate_epochs, held_out_losses
from .checks import check_runs
from .labels import setting

__all__ = ["FPRS", "roc_auc", "needed_non_members", "flagged_share", "tpr_at_fpr", "membership_table", "attack_table"]


def roc_auc(members, others) -> float:
    """P(a member's loss < a non-member's), ties counting half: the Mann-Whitney U of the two samples over their
    pairs (:func:`scipy.stats.mannwhitneyu`, by ranks: no pairs held in memory)."""
    from scipy.stats import mannwhitneyu

    a, b = np.asarray(members, dtype=np.float64), np.asarray(others, dtype=np.float64)
    return float(mannwhitneyu(b, a, method="asymptotic").statistic / (len(a) * len(b)))


FPRS = (0.01, 0.001)  # the false-positive rates the attacks report


def needed_non_members(fpr: float) -> int:
    """How many non-members a threshold needs before it may flag one of them at false-positive rate ``fpr``
    (``ceil(1 / fpr)``): with fewer, a TPR "at" ``fpr`` is a TPR at zero observed false positives.
    ValueError for a rate outside (0, 1), which no sample size supports."""
    if isinstance(fpr, bool) or not isinstance(fpr, (int, float)) or not 0 < fpr < 1:
        raise ValueError(f"fpr={fpr!r} is not allowed: use a false-positive rate in (0, 1); no number of non-members "
                         f"measures a rate of 0 or 1")
    return math.ceil(1 / fpr - 1e-9)


def flagged_share(members, non_members, fpr: float) -> float:
    """The share of ``members`` the threshold of :func:`tpr_at_fpr` flags at ``fpr`` (scores: lower = member), alone:
    NaN with fewer than :func:`needed_non_members` non-members (or no member). What the bootstraps resample."""
    mem, non = np.asarray(members, dtype=np.float64), np.sort(np.asarray(non_members, dtype=np.float64))
    if len(non) < needed_non_members(fpr) or not len(mem):
        return math.nan
    allowed = int(math.floor(fpr * len(non) + 1e-9))
    return float((mem < non[allowed]).mean()) if allowed < len(non) else 1.0


def tpr_at_fpr(members, non_members, fpr: float) -> dict:
    """The loss-threshold attack's true-positive rate at false-positive rate ``fpr`` (scores: lower = member).
    The threshold is the ``(a + 1)``-th lowest non-member score, ``a = floor(fpr * N)``: scores strictly below
    it are flagged, so at most ``a`` non-members are (ties at the threshold are not flagged, members' ties
    neither). ``tpr`` is NaN and ``measurable`` False where ``N < ceil(1 / fpr)`` (``needed``): the text
    reports that as "not measurable at this n". ``fpr_reached`` = ``a / N``. ``tpr_low`` / ``tpr_high``: the
    95% Clopper-Pearson interval of the share of members flagged, given the threshold (the threshold's own
    sampling, one non-member's score at 0.1% of 1,000, is not in it)."""
    needed = needed_non_members(fpr)
    mem, non = np.asarray(members, dtype=np.float64), np.sort(np.asarray(non_members, dtype=np.float64))
    if not len(mem):
        raise ValueError("members is empty: give at least one member score")
    allowed = int(math.floor(fpr * len(non) + 1e-9))
    if len(non) < needed:
        return {"tpr": np.nan, "tpr_low": np.nan, "tpr_high": np.nan, "fpr_reached": 0.0, "measurable": False,
                "needed": needed, "non_members": len(non)}
    from scipy.stats import binomtest

    flagged = round(flagged_share(mem, non, fpr) * len(mem))  # k / n back to k: exact at any n here
    ci = binomtest(flagged, len(mem)).proportion_ci(0.95, method="exact")
    return {"tpr": flagged / len(mem), "tpr_low": float(ci.low), "tpr_high": float(ci.high),
            "fpr_reached": allowed / len(non), "measurable": True, "needed": needed, "non_members": len(non)}


def membership_table(runs, fpr: float = 0.01) -> pd.DataFrame:
    """The loss-threshold membership attack, pooled over the runs of each setting, at every epoch at
    which the held-out strings were evaluated: ``auc`` (ROC AUC: a training string has a lower loss
    than a held-out one), ``tpr_at_fpr`` (:func:`tpr_at_fpr`: NaN, ``measurable`` False, with fewer than
    ``needed`` held-out strings), ``members`` / ``non_members`` (counts), ``runs``."""
    needed_non_members(fpr)
    rows = []
    frames = []
    for run in check_runs(runs):
        m = run.metrics
        tested = set(m[m.split == "test"].epoch)
        frames.append(m[m.epoch.isin(tested)].assign(setting=setting(run, strings=True), lr=run.config.lr, run=run.key))
    data = pd.concat(frames, ignore_index=True)
    for (name, e), d in data.groupby(["setting", "epoch"], sort=False):
        mem, non = d[d.split == "train"].loss.to_numpy(), d[d.split == "test"].loss.to_numpy()
        t = tpr_at_fpr(mem, non, fpr)
        rows.append({"setting": name, "model": d.model.iloc[0], "lr": d.lr.iloc[0], "epoch": e,
                     "auc": roc_auc(mem, non), "tpr_at_fpr": t["tpr"], "fpr": fpr, "fpr_reached": t["fpr_reached"],
                     "measurable": t["measurable"], "needed": t["needed"],
                     "members": len(mem), "non_members": len(non), "runs": d.run.nunique()})
    return pd.DataFrame(rows)


def _scores(run, epoch: int) -> dict:
    """Member losses and both kinds of non-members' at ``epoch``, all from the probes' computation but the
    held-out strings (the loop's no-grad pass, the same loss to float rounding)."""
    c = run.candidates(epoch)
    perms = np.concatenate([run.probe(epoch, j)["permuted_loss"] for j in range(len(run.config.train))]) \
        if run.config.probes.permuted else np.zeros(0)
    return {"members": c["member_loss"], "fresh": held_out_losses(run, epoch), "permuted": perms}


def attack_table(runs, fprs=FPRS) -> pd.DataFrame:
    """Membership inference with many members, pooled over the runs of each setting, at every epoch with
    candidates (:func:`memlib.candidates`): the training strings against ``fresh`` non-members (the held-out
    strings: the distribution's draws) and against ``permuted`` ones (permutations of the members' own
    characters: what the letter histogram cannot tell apart), each with two scores: ``loss`` (the raw
    loss threshold) and ``calibrated`` (the loss minus the same string's loss under the loaded model, epoch
    0, as reference-model attacks calibrate; its rows are left out without epoch 0). Columns ``auc``, ``members``,
    ``non_members``, ``accuracy`` (the members' mean training accuracy then), and per rate in ``fprs``:
    ``tpr_<fpr>`` with ``tpr_<fpr>_low`` / ``_high`` (NaN: not measurable at this n) and ``needed_<fpr>``
    (:func:`needed_non_members`)."""
    rates = list(fprs)
    for f in rates:
        needed_non_members(f)  # a rate outside (0, 1): refused before any work
    rows = []
    groups: dict = {}
    for run in check_runs(runs):
        groups.setdefault(setting(run, strings=True), []).append(run)
    for name, rs in groups.items():
        epochs = sorted(set.intersection(*[set(candidate_epochs(r)) for r in rs]))
        if not epochs:
            raise ValueError(f"the runs of {name} have no candidates: run them with probes that set permuted and samples")
        at = {e: [_scores(r, e) for r in rs] for e in epochs}
        for e in epochs:
            lacking = [r for r, x in zip(rs, at[e]) if len(x["fresh"]) != len(r.config.test)]
            if lacking:
                raise ValueError(f"{lacking[0]!r} did not measure its held-out strings at epoch {e}, where its candidates "
                                 f"were: give eval_every the candidates' epochs (memlib.privacy.candidate_runs does)")
        for e in epochs:
            for against in ("fresh", "permuted"):
                for score in ("loss", "calibrated"):
                    if score == "calibrated" and 0 not in at:
                        continue
                    mem = np.concatenate([x["members"] - (at[0][i]["members"] if score == "calibrated" else 0)
                                          for i, x in enumerate(at[e])])
                    non = np.concatenate([x[against] - (at[0][i][against] if score == "calibrated" else 0)
                                          for i, x in enumerate(at[e])])
                    if not len(non):
                        continue
                    acc = [r.metrics[(r.metrics.split == "train") & (r.metrics.epoch == e)].accuracy for r in rs]
                    row = {"setting": name, "model": rs[0].config.model, "epoch": e, "against": against, "score": score,
                           "auc": roc_auc(mem, non), "members": len(mem), "non_members": len(non), "runs": len(rs),
                           "accuracy": float(pd.concat(acc).mean())}
                    for f in rates:
                        t = tpr_at_fpr(mem, non, f)
                        row[f"tpr_{f:g}"], row[f"needed_{f:g}"] = t["tpr"], t["needed"]
                        row[f"tpr_{f:g}_low"], row[f"tpr_{f:g}_high"] = t["tpr_low"], t["tpr_high"]
                    rows.append(row)
    return pd.DataFrame(rows)
