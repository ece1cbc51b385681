"""Exact loss tails of a position-wise model, and importance-sampled exposure checked against them at depth.

Exposure (:mod:`memlib.exposure`) needs ``P(loss(X) <= loss(s))`` for ``X`` drawn from the string's distribution.
Enumeration gives it exactly up to about 20 bits (:func:`memlib.candidates.enumerate_strings`); beyond, the
collection estimates it by importance sampling (:func:`memlib.candidates.importance_sample`,
:func:`memlib.candidates.tail_probability`). This module gives the truth at any depth for one model class, so that
the estimator can be checked where it is used:

* a **position-wise model** (``tiny-positional-w<width>-letters``, :func:`memlib.models.is_positional`: a GPT-2
  without blocks) predicts each letter from the previous letter and the position alone, so a string's loss (the
  loop's: mean next-token cross-entropy over the full vocabulary) is ``(1/L) sum_i t[i, x_{i-1}, x_i]``
  (:func:`term_table`), and its distribution under letters drawn independently is a Markov chain over positions;
* :func:`markov_tail` computes ``P(sum_i t_i <= T)`` by dynamic programming over (position, previous letter,
  summed loss on a grid of ``bins`` steps), once with every term rounded down (an upper bound) and once rounded up
  (a lower bound): an exact bracket whose width the tables report, at 60-100 bits as easily as at 10;
* :class:`TailCheck`, an in-run measurement, keeps at chosen epochs the model's term table, its members' losses and
  ``repeats`` independent sets of importance samples; :func:`tail_check_table` sets every estimate (and its 95%
  interval) against the exact bracket, and :func:`tail_coverage` gives coverage and error per depth and number of
  samples, for every estimate and for those :func:`memlib.candidates.reliable` calls reliable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product

import numpy as np
import pandas as pd
import torch

from .candidates import importance_sample, reliable, same_as, string_losses, tail_probability
from .config import Measurement, measurement
from .loop import Hook
from .strings import string_parts

__all__ = ["term_table", "string_sum", "markov_tail", "brute_tail", "TailCheck", "tail_check_table", "tail_coverage",
           "DEPTHS"]

DEPTHS = (0, 20, 40, 60, 80, 100)  # the depth bands (exact exposure, bits) the coverage table reports


def _check_model(model) -> None:
    from .models import is_positional

    if not is_positional(getattr(model, "name", None)):
        raise ValueError(f"model {getattr(model, 'name', model)!r} is not allowed: exact tails need a position-wise "
                         f"model (tiny-positional-w<width>-letters), whose loss is a sum of per-position terms")


@torch.no_grad()
def term_table(model, alphabet: str, length: int) -> np.ndarray:
    """``t[i, a, b]`` (``length, len(alphabet) + 1, len(alphabet)``, float64, nats): the cross-entropy over the full
    vocabulary of letter ``alphabet[b]`` at position ``i`` after input ``a`` (0: BOS, ``k + 1``: ``alphabet[k]``)
    on a position-wise model (:func:`memlib.models.is_positional`; ValueError for any other). Only ``a = 0`` is
    used at position 0, and only ``a >= 1`` after it."""
    _check_model(model)
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length={length!r} is not allowed: use an integer >= 1")
    model.check_length(length)
    aid = model.letter_ids(alphabet)
    inputs = torch.tensor([[model.bos_id] * length] + [[t] * length for t in aid], device=model.device)
    net, was = model.model, model.model.training
    net.eval()
    try:
        logits = net(input_ids=inputs, use_cache=False).logits.float()
    finally:
        net.train(was)
    nll = -torch.log_softmax(logits, -1)[..., aid]  # (K + 1, length, K)
    return nll.permute(1, 0, 2).double().cpu().numpy()


def _indices(text: str, alphabet: str) -> np.ndarray:
    return np.array([alphabet.index(c) for c in text], dtype=np.int64)


def string_sum(terms, text: str, alphabet: str) -> float:
    """A string's summed loss (``length`` times the loop's mean) from a :func:`term_table`."""
    x = _indices(text, alphabet)
    prev = np.concatenate([[0], x[:-1] + 1])
    return float(np.asarray(terms)[np.arange(len(x)), prev, x].sum())


def _check_terms(terms, probs) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(terms, dtype=np.float64), np.asarray(probs, dtype=np.float64)
    if t.ndim != 3 or t.shape[1] != t.shape[2] + 1 or (t < 0).any() or not np.isfinite(t).all():
        raise ValueError(f"terms of shape {t.shape} are not allowed: give a term_table (length, K + 1, K) of "
                         f"finite cross-entropies >= 0")
    if p.shape != (t.shape[2],) or (p <= 0).any() or not math.isclose(p.sum(), 1.0, rel_tol=1e-9):
        raise ValueError(f"probs={p.tolist()} do not fit {t.shape[2]} letters: give one probability > 0 per letter, "
                         f"summing to 1")
    return t, p


def _dp(steps: np.ndarray, p: np.ndarray, top: int) -> float:
    """``P(sum of steps <= top)``: ``steps[i, a, b]`` integer grid steps, letters drawn with ``p``."""
    L, _, K = steps.shape
    mass = np.zeros((K + 1, top + 1))
    mass[0, 0] = 1.0
    for i in range(L):
        new = np.zeros_like(mass)
        for a in ([0] if i == 0 else range(1, K + 1)):
            if not mass[a].any():
                continue
            for b in range(K):
                k = int(steps[i, a, b])
                if k <= top:
                    new[b + 1, k:] += p[b] * mass[a, :top + 1 - k]
        mass = new
    return float(mass.sum())


def markov_tail(terms, probs, threshold: float, *, bins: int = 2 ** 16, itself: str | None = None,
                alphabet: str | None = None) -> dict:
    """``P(loss(X) <= threshold)`` exactly, for the position-wise model of ``terms`` (:func:`term_table`) and letters
    drawn independently with ``probs``; ``threshold`` is the loop's mean loss (nats per character). Dynamic
    programming over positions, previous letter and the summed loss on a grid of ``bins`` steps up to the threshold:
    terms rounded down bound the probability from above (``high``), rounded up from below (``low``); both exact, no
    sampling. ``itself`` (with ``alphabet``): a string counted whatever its computed loss (the string whose loss is
    the threshold). Returns ``low``, ``high`` and ``exposure_low`` / ``exposure_high`` = ``-log2`` of them (bits),
    ``width`` (bits between them). Cost: ``length x K^2`` array additions of ``bins`` numbers."""
    t, p = _check_terms(terms, probs)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins={bins!r} is not allowed: use an integer >= 1")
    L = t.shape[0]
    total = float(threshold) * L
    own = None
    if itself is not None:
        if alphabet is None or len(itself) != L:
            raise ValueError(f"itself={itself!r} needs the alphabet and {L} letters")
        x = _indices(itself, alphabet)
        own = (float(np.prod(p[x])), t[np.arange(L), np.concatenate([[0], x[:-1] + 1]), x])
    if not total > 0:
        low = high = own[0] if own else 0.0
    else:
        step = total / bins
        high = _dp(np.floor(t / step), p, bins)
        low = _dp(np.ceil(t / step), p, bins)
        if own is not None:  # the string itself, added to a bound whose rounding left it out
            high += own[0] if np.floor(own[1] / step).sum() > bins else 0.0
            low += own[0] if np.ceil(own[1] / step).sum() > bins else 0.0
    high = min(high, 1.0)
    bits = (lambda q: -math.log2(q) if q > 0 else math.inf)
    return {"low": low, "high": high, "exposure_low": bits(high), "exposure_high": bits(low),
            "width": bits(low) - bits(high)}


def brute_tail(terms, probs, threshold: float, *, limit: int = 2 ** 20) -> float:
    """``P(loss(X) <= threshold)`` by summing over every string (at most ``limit``): the check of
    :func:`markov_tail` on small cases."""
    t, p = _check_terms(terms, probs)
    L, _, K = t.shape
    if K ** L > limit:
        raise ValueError(f"{K} letters at length {L} make {K ** L:,} strings: brute force is allowed up to {limit:,}")
    x = np.array(list(product(range(K), repeat=L)), dtype=np.int64).reshape(-1, L)
    prev = np.concatenate([np.zeros((len(x), 1), dtype=np.int64), x[:, :-1] + 1], axis=1)
    sums = t[np.arange(L)[None, :], prev, x].sum(1)
    return float(np.prod(p[x], axis=1)[sums <= threshold * L].sum())


@measurement
@dataclass(frozen=True)
class TailCheck(Measurement):
    """Inside a run of a position-wise model, at the epochs ``at``: the model's :func:`term_table`, the training
    strings' losses (``member_loss``, by :func:`memlib.candidates.string_losses`) and ``repeats`` independent sets of
    ``samples`` importance samples each (:func:`memlib.candidates.importance_sample`, seeds from ``seed``, the epoch
    and the set), with which member each sample is (-1: none). Arrays ``tail_e<epoch>_*``."""

    name = "tail_check"
    at: tuple = ()
    samples: int = 1000
    repeats: int = 10
    seed: int = 0

    def check(self, config) -> None:
        from .models import is_positional

        if not is_positional(config.model):
            raise ValueError(f"model {config.model!r} is not allowed for TailCheck: use a position-wise model "
                             f"(tiny-positional-w<width>-letters)")
        for name in ("samples", "repeats"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"TailCheck {name}={v!r} is not allowed: use an integer >= 1")
        if not self.at or any(isinstance(e, bool) or not isinstance(e, int) or not 0 <= e <= config.epochs
                              for e in self.at):
            raise ValueError(f"TailCheck at={list(self.at)} is not allowed: give epochs from 0 to the run's "
                             f"{config.epochs}")
        if len({string_parts(d)[1] for d in config.train}) > 1:
            raise ValueError("TailCheck needs training strings of one alphabet and distribution")
        if config.batch_size is not None and config.batch_size < len(config.train):
            raise ValueError(f"TailCheck needs one optimiser step per epoch: batch_size={config.batch_size} is below "
                             f"the {len(config.train)} training strings")

    def hook(self, model, config):
        return _TailHook(self, model, config)


class _TailHook(Hook):
    def __init__(self, spec: TailCheck, model, config):
        self.spec, self.model, self.config, self.arrays = spec, model, config, {}
        self.precision = "bf16" if config.autocast == "bf16" else "fp32"

    def on_epoch(self, epoch: int, accuracy: float) -> None:
        if epoch not in self.spec.at or f"tail_e{epoch}_terms" in self.arrays:
            return
        texts = [d["text"] for d in self.config.train]
        _, alphabet, probs = string_parts(self.config.train[0])
        L, out = len(texts[0]), {}
        out["terms"] = term_table(self.model, alphabet, L)
        out["member_loss"] = string_losses(self.model, texts, alphabet, precision=self.precision)
        for r in range(self.spec.repeats):
            s = importance_sample(self.model, alphabet, probs, L, self.spec.samples,
                                  seed=int(np.random.SeedSequence([self.spec.seed, epoch, r]).generate_state(1)[0]),
                                  precision=self.precision)
            who = np.full(self.spec.samples, -1, dtype=np.int16)
            for j, text in enumerate(texts):
                who[same_as(text, alphabet, s["letters"])] = j
            out.update({f"r{r}_loss": s["loss"], f"r{r}_log_weight": s["log_weight"], f"r{r}_member": who})
        self.arrays.update({f"tail_e{epoch}_{k}": v for k, v in out.items()})

    def state(self) -> dict:
        return dict(self.arrays)

    def restore(self, arrays: dict) -> None:
        self.arrays = {k: v for k, v in arrays.items() if k.startswith("tail_e")}

    def results(self) -> dict:
        return dict(self.arrays)


def _epochs(run) -> list[int]:
    return sorted({int(k.split("_")[1][1:]) for k in run.arrays if k.startswith("tail_e") and k.endswith("_terms")})


def tail_check_table(runs, *, sizes=None, level: float = 0.95, bins: int = 2 ** 16) -> pd.DataFrame:
    """Every importance-sampled exposure of a :class:`TailCheck` against the exact one, one row per run, epoch,
    member, sample set and number of samples ``n`` (``sizes``: the first ``n`` of each set; default: the whole
    set): ``exact`` (bits, the middle of the bracket of :func:`markov_tail`, ``exact_width`` its width),
    ``measured`` with ``low`` / ``high`` (its ``level`` interval), ``hits``, ``ess``, ``reliable``
    (:func:`memlib.candidates.reliable`), ``covered`` (the interval holds the exact value; False without a hit),
    ``error`` (measured minus exact, bits)."""
    rows = []
    for run in runs:
        epochs = _epochs(run)
        if not epochs:
            raise ValueError(f"{run!r} has no TailCheck arrays: run it with measurements=[memlib.tails.TailCheck(...)]")
        spec = next(m for m in run.config.measurements if isinstance(m, TailCheck))
        ns = [spec.samples] if sizes is None else list(sizes)
        if any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= spec.samples for n in ns):
            raise ValueError(f"sizes={ns} is not allowed: use numbers of samples from 1 to the run's {spec.samples}")
        _, alphabet, probs = string_parts(run.config.train[0])
        for e in epochs:
            a = {k[len(f"tail_e{e}_"):]: v for k, v in run.arrays.items() if k.startswith(f"tail_e{e}_")}
            for j, loss in enumerate(a["member_loss"]):
                text = run.config.train[j]["text"]
                ex = markov_tail(a["terms"], probs, float(loss), bins=bins, itself=text, alphabet=alphabet)
                exact = (ex["exposure_low"] + ex["exposure_high"]) / 2
                for r in range(spec.repeats):
                    for n in ns:
                        t = tail_probability(float(loss), a[f"r{r}_loss"][:n], a[f"r{r}_log_weight"][:n], level=level,
                                             same=a[f"r{r}_member"][:n] == j)
                        covered = bool(t["hits"]) and t["exposure_low"] <= exact <= t["exposure_high"]
                        rows.append({"run": run.key[:12], "seed": run.config.seed, "epoch": e, "string": j,
                                     "set": r, "n": n, "exact": exact, "exact_width": ex["width"],
                                     "measured": t["exposure"], "low": t["exposure_low"], "high": t["exposure_high"],
                                     "hits": t["hits"], "ess": t["ess"], "reliable": reliable(t),
                                     "covered": covered, "error": t["exposure"] - exact})
    return pd.DataFrame(rows)


def tail_coverage(table: pd.DataFrame, *, depths=DEPTHS) -> pd.DataFrame:
    """Per depth band of the exact exposure (``depths``, bits) and number of samples: ``estimates``, ``coverage``
    of the interval (with its 95% Clopper-Pearson ``coverage_low`` / ``_high``; an estimate without a hit counts as
    not covered), ``no_hit`` share, ``median_error`` and ``p90_error`` (absolute, bits), ``reliable`` share and
    ``coverage_reliable`` (the same among the estimates :func:`memlib.candidates.reliable` keeps)."""
    from scipy.stats import binomtest

    t = table.assign(depth=pd.cut(table.exact, list(depths), right=False))
    rows = []
    for (band, n), d in t.groupby(["depth", "n"], observed=True):
        k = int(d.covered.sum())
        ci = binomtest(k, len(d)).proportion_ci(0.95, method="exact")
        rel = d[d.reliable]
        rows.append({"depth": str(band), "n": n, "estimates": len(d), "coverage": k / len(d),
                     "coverage_low": ci.low, "coverage_high": ci.high, "no_hit": float((d.hits == 0).mean()),
                     "median_error": float(d.error.abs().median()), "p90_error": float(d.error.abs().quantile(0.9)),
                     "reliable": len(rel) / len(d),
                     "coverage_reliable": float(rel.covered.mean()) if len(rel) else np.nan})
    return pd.DataFrame(rows)
