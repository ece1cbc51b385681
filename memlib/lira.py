"""The likelihood-ratio membership attack with shadow models (Carlini et al. 2022, "Membership Inference Attacks
From First Principles", LiRA), evaluated as its authors do: every shadow model in turn is the target.

A pool of strings and ``S`` shadow models, each trained on a random half of the pool (:func:`inclusion`: every string
in exactly half of the models). ``scores[t, j]``: string ``j``'s score under model ``t`` (here its total
log-likelihood, ``-L x loss``: higher is more member-like). For a target ``t``, the other models give each string
the distribution of its score when trained on (``in``) and when not (``out``), fitted as Gaussians
(:func:`lira_scores`, leave-one-out):

* **online**: ``log N(x; mu_in, sd_in) - log N(x; mu_out, sd_out)``;
* **offline** (no model trained on the target's candidate needed): ``(x - mu_out) / sd_out``, the one-sided test
  against the ``out`` distribution alone;
* ``variance="global"``: one standard deviation per side pooled over strings, which Carlini et al. recommend with
  fewer than 64 shadow models; ``"per-string"``: each string's own.

:func:`attack_summary` gives ROC AUC and the true-positive rate at each false-positive rate over every (target,
string) pair, with percentile intervals from a bootstrap over target models and strings together
(:func:`two_way_bootstrap`): the threshold is re-chosen in every resample, so its own variability (at 0.1% FPR of
about 1,000 non-members, one non-member's score) is inside the interval.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import norm

from .membership import flagged_share, needed_non_members, roc_auc

__all__ = ["inclusion", "lira_scores", "roc_curve", "tpr_at", "two_way_bootstrap", "paired_bootstrap", "attack_summary",
           "VARIANCES"]

VARIANCES = ("global", "per-string")


def inclusion(strings: int, models: int, *, seed: int = 0) -> np.ndarray:
    """``(models, strings)`` bool: which model trains which string, every string in exactly ``models / 2`` models
    (a random half for each string, seeded), as Carlini et al.'s shadow models do. ValueError for an odd number of
    models, fewer than 4, or fewer than 2 strings."""
    for name, v, low in (("strings", strings, 2), ("models", models, 4)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{name}={v!r} is not allowed: use an integer >= {low}")
    if models % 2:
        raise ValueError(f"models={models} is not allowed: use an even number, so that every string is in exactly half")
    rng = np.random.default_rng([int(seed), strings, models])
    order = np.argsort(rng.random((models, strings)), axis=0)
    return order < models // 2


def _check(scores, inmask) -> tuple[np.ndarray, np.ndarray]:
    x, m = np.asarray(scores, dtype=np.float64), np.asarray(inmask, dtype=bool)
    if x.ndim != 2 or x.shape != m.shape or not np.isfinite(x).all():
        raise ValueError(f"scores {x.shape} and inmask {m.shape} must be two (models, strings) arrays of finite scores")
    return x, m


def lira_scores(scores, inmask, *, online: bool = True, variance: str = "global") -> np.ndarray:
    """``(models, strings)`` LiRA statistic of every (target model, string), each fitted leave-one-out from the
    other models (higher: more likely a member). ValueError where a string lacks two ``in`` or two ``out`` models
    among the others (its Gaussians cannot be fitted), or for a ``variance`` not in :data:`VARIANCES`."""
    x, m = _check(scores, inmask)
    if variance not in VARIANCES:
        raise ValueError(f"variance={variance!r} is not allowed: use one of {VARIANCES}")
    S = len(x)
    n_in, n_out = m.sum(0), (~m).sum(0)
    if (n_in - 1 < 2).any() or (n_out - 1 < 2).any():
        raise ValueError("every string needs at least 3 models that trained it and 3 that did not (2 of each left "
                         "when one is the target)")
    out = np.empty_like(x)
    for t in range(S):
        keep = np.arange(S) != t
        xs, ms = x[keep], m[keep]
        stats = {}
        for side, mask in (("in", ms), ("out", ~ms)):
            k = mask.sum(0)
            mu = np.where(mask, xs, 0).sum(0) / k
            var = (np.where(mask, xs - mu, 0) ** 2).sum(0) / np.maximum(k - 1, 1)
            if variance == "global":
                pooled = (np.where(mask, xs - mu, 0) ** 2).sum() / max(int(mask.sum()) - mask.shape[1], 1)
                var = np.full_like(var, pooled)
            stats[side] = (mu, np.sqrt(np.maximum(var, 1e-12)))
        mu_o, sd_o = stats["out"]
        if online:
            mu_i, sd_i = stats["in"]
            out[t] = norm.logpdf(x[t], mu_i, sd_i) - norm.logpdf(x[t], mu_o, sd_o)
        else:
            out[t] = (x[t] - mu_o) / sd_o
    return out


def roc_curve(member_scores, other_scores) -> pd.DataFrame:
    """The ROC of a score (higher: member): ``fpr``, ``tpr`` at every distinct threshold."""
    a, b = np.asarray(member_scores, dtype=np.float64), np.asarray(other_scores, dtype=np.float64)
    thr = np.unique(np.concatenate([a, b]))[::-1]
    sa, sb = np.sort(a), np.sort(b)
    tpr = 1 - np.searchsorted(sa, thr, side="left") / len(sa)
    fpr = 1 - np.searchsorted(sb, thr, side="left") / len(sb)
    return pd.DataFrame({"fpr": np.concatenate([[0.0], fpr]), "tpr": np.concatenate([[0.0], tpr])})


def tpr_at(member_scores, other_scores, fpr: float) -> float:
    """:func:`memlib.membership.flagged_share` for scores where higher is member-like: the share of members above
    the threshold that flags at most ``floor(fpr * N)`` of the ``N`` non-members; NaN with fewer non-members than
    ``ceil(1 / fpr)``."""
    return flagged_share(-np.asarray(member_scores, dtype=np.float64), -np.asarray(other_scores, dtype=np.float64), fpr)


def _auc(a, b) -> float:
    """P(a member's score > a non-member's), ties counting half."""
    return roc_auc(-np.asarray(a, dtype=np.float64), -np.asarray(b, dtype=np.float64))


def _resamples(shape, reps: int, seed: int):
    """``reps`` two-way resamples of a ``(models, strings)`` array: rows and columns drawn with replacement."""
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 10:
        raise ValueError(f"reps={reps!r} is not allowed: use an integer >= 10 resamples")
    rng = np.random.default_rng(seed)
    for _ in range(reps):
        yield np.ix_(rng.integers(0, shape[0], shape[0]), rng.integers(0, shape[1], shape[1]))


def _percentiles(vals, level: float) -> tuple:
    vals = np.asarray(vals, dtype=np.float64)
    if not len(vals) or np.isnan(vals).mean() > 0.5:
        return math.nan, math.nan
    vals = vals[np.isfinite(vals)]
    return float(np.quantile(vals, (1 - level) / 2)), float(np.quantile(vals, (1 + level) / 2))


def two_way_bootstrap(stat, scores, inmask, *, reps: int = 200, level: float = 0.95, seed: int = 0) -> tuple:
    """Percentile interval of ``stat(member_scores, other_scores)`` over (model, string) pairs, resampling target
    models and strings together with replacement (``reps`` times, seeded): the pairs of one model share its
    training, those of one string its difficulty. ``(low, high)``; NaN where most resamples give NaN. Conservative:
    resampling both counts each pair's own noise more than once (coverage 1.0 in the tests' simulation at 24 x 86)."""
    x, m = _check(scores, inmask)
    vals = [stat(x[ix][m[ix]], x[ix][~m[ix]]) for ix in _resamples(x.shape, reps, seed) if 0 < m[ix].sum() < m.size]
    return _percentiles(vals, level)


def paired_bootstrap(stat, a, b, inmask, *, reps: int = 200, level: float = 0.95, seed: int = 0) -> dict:
    """``stat`` of attack ``a`` less ``stat`` of attack ``b`` on the same (model, string) pairs: ``estimate``, the
    percentile ``low`` / ``high`` of the difference over :func:`two_way_bootstrap`'s resamples (both attacks on the
    same resample), and ``p``, twice the smaller share of resampled differences on either side of 0 (at least
    ``1 / reps``), ``n`` = (models, strings)."""
    x, m = _check(a, inmask)
    y, _ = _check(b, inmask)
    vals = [stat(x[ix][m[ix]], x[ix][~m[ix]]) - stat(y[ix][m[ix]], y[ix][~m[ix]])
            for ix in _resamples(x.shape, reps, seed) if 0 < m[ix].sum() < m.size]
    low, high = _percentiles(vals, level)
    v = np.asarray(vals, dtype=np.float64)
    v = v[np.isfinite(v)]
    p = min(1.0, max(2 * min((v <= 0).mean(), (v >= 0).mean()), 1 / max(len(v), 1))) if len(v) else math.nan
    return {"estimate": stat(x[m], x[~m]) - stat(y[m], y[~m]), "low": low, "high": high, "p": p, "n": x.shape}


def attack_summary(attacks: dict, inmask, *, fprs=(0.01, 0.001), reps: int = 200, seed: int = 0) -> pd.DataFrame:
    """One row per attack of ``attacks`` (``{name: (models, strings) scores}``, higher: member): ``auc`` and, per
    rate ``f`` of ``fprs``, ``tpr_<f>``, each with ``_low`` / ``_high`` from :func:`two_way_bootstrap`; ``pairs``,
    ``members``, ``non_members``."""
    rates = list(fprs)
    for f in rates:
        needed_non_members(f)
    m = np.asarray(inmask, dtype=bool)
    rows = []
    for name, s in attacks.items():
        x, _ = _check(s, m)
        row = {"attack": name, "pairs": x.size, "members": int(m.sum()), "non_members": int((~m).sum()),
               "auc": _auc(x[m], x[~m])}
        row["auc_low"], row["auc_high"] = two_way_bootstrap(_auc, x, m, reps=reps, seed=seed)
        for f in rates:
            row[f"tpr_{f:g}"] = tpr_at(x[m], x[~m], f)
            row[f"tpr_{f:g}_low"], row[f"tpr_{f:g}_high"] = two_way_bootstrap(
                lambda a, b, f=f: tpr_at(a, b, f), x, m, reps=reps, seed=seed)
        rows.append(row)
    return pd.DataFrame(rows)
