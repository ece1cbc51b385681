"""Notebook 07's tables: every measure of every (shadow model, pool string) pair, the attacks on them, and the
measures side by side per string."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..candidates import reliable, same_as, tail_probability
from ..counterfactual import counterfactual
from ..extraction import leading_run
from ..lira import attack_summary, lira_scores, paired_bootstrap, roc_curve, tpr_at
from ..metrics import LN2, memorised_bits
from ..stats import rank_correlation
from ..strings import self_information, string_parts

MEASURES = ("exposure", "extracted", "memorised_bits", "lira", "counterfactual")
LABELS = {"exposure": "exposure (bits)", "extracted": "extracted from BOS (characters)",
          "memorised_bits": "memorised bits", "lira": "LiRA statistic (online, median)",
          "counterfactual": "counterfactual memorisation (accuracy)"}


_NO_TAIL = {"exposure": np.nan, "exposure_low": np.nan, "exposure_high": np.nan, "hits": 0, "ess": 0.0}


def pair_table(runs, pool) -> pd.DataFrame:
    """One row per shadow model, pool string and measured epoch: ``member``, ``loss``, ``accuracy``, ``score`` (the
    string's log-likelihood, ``-L x loss``, nats), ``extracted`` (characters greedy generation from BOS reproduces:
    the leading correct run), ``memorised_bits`` (self-information less code length, at least 0), and
    ``exposure`` importance-sampled where the run has samples (``exposure_low`` / ``_high``, ``hits``, ``reliable``; NaN
    without a hit, or without samples at that epoch)."""
    index = {d["text"] if isinstance(d, dict) else d.text: j for j, d in enumerate(pool)}
    rows = []
    for t, run in enumerate(runs):
        m = run.metrics
        for split in ("train", "test"):
            strings = run.config.train if split == "train" else run.config.test
            epochs = run.arrays[f"{split}_epochs"].tolist()
            lead = leading_run(run.arrays[f"{split}_correct"])  # epochs x strings
            probed = set(run.arrays["probe_epochs"].tolist()) if "probe_epochs" in run.arrays else set()
            for e in sorted(set(m[m.split == "test"].epoch)):
                c = run.candidates(e) if e in probed else None
                at = m[(m.split == split) & (m.epoch == e)].set_index("string")
                for i, d in enumerate(strings):
                    text, alphabet, _ = string_parts(d)
                    loss = float(at.loss[i])
                    tail = tail_probability(loss, c["sampled_loss"], c["sampled_log_weight"],
                                            same=same_as(text, alphabet, c["sampled_letters"])) if c else _NO_TAIL
                    info = self_information(d)
                    rows.append({"model": t, "string": index[text], "epoch": e, "member": split == "train",
                                 "loss": loss, "accuracy": float(at.accuracy[i]), "score": -loss * len(text),
                                 "extracted": int(lead[epochs.index(e), i]),
                                 "memorised_bits": float(memorised_bits(info, loss * len(text) / LN2)),
                                 "exposure": tail["exposure"], "exposure_low": tail["exposure_low"],
                                 "exposure_high": tail["exposure_high"], "hits": tail["hits"],
                                 "reliable": reliable(tail)})
    return pd.DataFrame(rows).sort_values(["epoch", "model", "string"], ignore_index=True)


def matrix(pairs: pd.DataFrame, epoch: int, column: str) -> np.ndarray:
    """``(models, strings)`` of ``column`` at ``epoch``."""
    return pairs[pairs.epoch == epoch].pivot(index="model", columns="string", values=column).to_numpy()


def attack_scores(pairs: pd.DataFrame, epoch: int, *, variance: str = "global") -> dict:
    """The attacks' scores at ``epoch`` (``(models, strings)``, higher: member): ``loss`` (the log-likelihood),
    ``calibrated`` (less the same model's at epoch 0, its loaded weights), ``LiRA offline`` and ``LiRA online``
    (:func:`memlib.lira.lira_scores`, leave-one-out)."""
    x, inm = matrix(pairs, epoch, "score"), matrix(pairs, epoch, "member").astype(bool)
    return {"loss": x, "calibrated": x - matrix(pairs, 0, "score"),
            "LiRA offline": lira_scores(x, inm, online=False, variance=variance),
            "LiRA online": lira_scores(x, inm, online=True, variance=variance)}


def attack_table(pairs: pd.DataFrame, *, fprs=(0.01, 0.001), reps: int = 200, variance: str = "global") -> pd.DataFrame:
    """Every attack at every measured epoch (:func:`memlib.lira.attack_summary`: AUC and TPR at each FPR with
    two-way bootstrap intervals)."""
    out = []
    for e in sorted(pairs.epoch.unique()):
        inm = matrix(pairs, e, "member").astype(bool)
        scores = attack_scores(pairs, e, variance=variance)
        out.append(attack_summary(scores, inm, fprs=fprs, reps=reps).assign(epoch=e))
    return pd.concat(out, ignore_index=True)


def attack_differences(pairs: pd.DataFrame, *, against: str = "loss", fprs=(0.01, 0.001), reps: int = 200,
                       variance: str = "global") -> pd.DataFrame:
    """At every measured epoch but 0, each other attack's TPR at each FPR less ``against``'s on the same pairs, with
    the paired two-way bootstrap's interval and p (:func:`memlib.lira.paired_bootstrap`): ``epoch``, ``attack``,
    ``against``, ``fpr``, ``estimate``, ``low``, ``high``, ``p``, ``models``, ``strings``."""
    rows = []
    for e in sorted(pairs.epoch.unique()):
        if e == 0:
            continue
        scores = attack_scores(pairs, e, variance=variance)
        inm = matrix(pairs, e, "member").astype(bool)
        for name, s in scores.items():
            if name == against:
                continue
            for f in fprs:
                d = paired_bootstrap(lambda a, b, f=f: tpr_at(a, b, f), s, scores[against], inm, reps=reps)
                rows.append({"epoch": e, "attack": name, "against": against, "fpr": f, "estimate": d["estimate"],
                             "low": d["low"], "high": d["high"], "p": d["p"], "models": inm.shape[0],
                             "strings": inm.shape[1]})
    return pd.DataFrame(rows)


def roc_table(pairs: pd.DataFrame, epoch: int, *, variance: str = "global") -> pd.DataFrame:
    """The ROC curve of every attack at ``epoch`` (``attack``, ``fpr``, ``tpr``)."""
    inm = matrix(pairs, epoch, "member").astype(bool)
    return pd.concat([roc_curve(s[inm], s[~inm]).assign(attack=name)
                      for name, s in attack_scores(pairs, epoch, variance=variance).items()], ignore_index=True)


def string_table(pairs: pd.DataFrame, epoch: int, *, variance: str = "global") -> pd.DataFrame:
    """One row per pool string at ``epoch``, every measure on it: over the models that trained it, the mean
    ``exposure`` (models without a hit left out; ``exposure_missing`` counts them), ``extracted`` and
    ``memorised_bits``, and the median online ``lira`` statistic; ``counterfactual`` memorisation (accuracy when
    trained on minus when not, Zhang et al.) with its Welch ``counterfactual_low`` / ``_high``; ``unseen_score``,
    its mean log-likelihood in the models that did not train it (how likely it is to a model that never saw it)."""
    at = pairs[pairs.epoch == epoch]
    inm = matrix(pairs, epoch, "member").astype(bool)
    lira = lira_scores(matrix(pairs, epoch, "score"), inm, online=True, variance=variance)
    cf = counterfactual(matrix(pairs, epoch, "accuracy"), inm)
    mem = at[at.member]
    g = mem.groupby("string")
    out = pd.DataFrame({"string": np.arange(inm.shape[1])})
    out["exposure"] = g.exposure.mean().reindex(out.string).to_numpy()
    out["exposure_missing"] = g.exposure.apply(lambda s: int(s.isna().sum())).reindex(out.string).to_numpy()
    out["extracted"] = g.extracted.mean().reindex(out.string).to_numpy()
    out["memorised_bits"] = g.memorised_bits.mean().reindex(out.string).to_numpy()
    out["lira"] = np.array([np.median(lira[inm[:, j], j]) for j in range(inm.shape[1])])
    out["counterfactual"] = cf.memorisation.to_numpy()
    x = matrix(pairs, epoch, "score")
    out["unseen_score"] = [x[~inm[:, j], j].mean() for j in range(inm.shape[1])]
    out["counterfactual_low"], out["counterfactual_high"] = cf.low.to_numpy(), cf.high.to_numpy()
    return out


def correlations(strings: pd.DataFrame, measures=MEASURES) -> pd.DataFrame:
    """Spearman's rho of every pair of measures over strings (the units), with its Fisher-z interval and
    permutation p (:func:`memlib.stats.rank_correlation`)."""
    rows = []
    for i, a in enumerate(measures):
        for b in measures[i + 1:]:
            rows.append({"a": a, "b": b, **rank_correlation(strings[a], strings[b])})
    return pd.DataFrame(rows)


def disagreements(strings: pd.DataFrame, measures=MEASURES, *, top: float = 0.25) -> pd.DataFrame:
    """For every ordered pair of measures: the strings the first flags (its top ``top`` share) that the second
    ranks in its lower half: ``flagged`` (by the first), ``missed`` (of those, in the second's lower half) and
    ``strings`` (their indices)."""
    ranks = strings[list(measures)].rank(pct=True)
    rows = []
    for a in measures:
        flagged = ranks[a] > 1 - top
        for b in measures:
            if a == b:
                continue
            missed = flagged & (ranks[b] <= 0.5)
            rows.append({"flagged_by": a, "low_in": b, "flagged": int(flagged.sum()), "missed": int(missed.sum()),
                         "strings": strings.string[missed].tolist()})
    return pd.DataFrame(rows)
