"""Uncertainty for the findings: intervals over seeds, paired contrasts, an exact paired test.

A verdict that states a difference between two conditions states it through :func:`paired_contrast`: the
conditions share their units (the same strings and seed, e.g. a stage in a sequence and the same string on a
fresh model), so the contrast is computed unit by unit. It reports ``n`` (units), the estimate (the median of
the per-unit differences, or ratios), its 95% interval (BCa bootstrap over the units, from
:func:`scipy.stats.bootstrap` with a private generator; the percentile bootstrap where BCa is undefined) and
the exact two-sided sign test over the units whose direction is known (:func:`scipy.stats.binomtest`). A
contrast is **established** only when its interval excludes no effect *and* the sign test gives p < 0.05;
otherwise it is **not established**, and the verdict says so in those words. With fewer than 6 units no
contrast can be established: the exact sign test cannot reach p < 0.05 (5 of 5 gives p = 0.0625).

Censoring: a stage that ran out of epochs took *longer than* its length. Its direction against the other
condition is known when the other was memorised within that length, and undetermined otherwise (such units
are counted, reported, and left out of the sign test, never dropped silently); in the interval it enters at
its length, so the interval is then a bound on the true difference, and the verdict says how many units
were censored.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "Contrast", "bootstrap_ci", "sign_test", "direction", "paired_contrast", "LEVEL", "ALPHA"]

LEVEL = 0.95  # every interval in the verdicts
ALPHA = 0.05  # the sign test's threshold for "established"
_RESAMPLES = 9999


@dataclass(frozen=True)
class Interval:
    """``estimate`` with its ``level`` interval ``[low, high]`` over ``n`` units, by ``method``."""

    estimate: float
    low: float
    high: float
    n: int
    method: str
    level: float = LEVEL

    def excludes(self, value: float) -> bool:
        return bool(self.low > value or self.high < value)

    def text(self, fmt: str = "{:.2f}") -> str:
        """``"0.87 (95% CI 0.61 to 1.05, n=9)"``; ``"0.87 (n=1: no interval)"`` for a single unit."""
        if self.n < 2 or not (math.isfinite(self.low) and math.isfinite(self.high)):
            return f"{fmt.format(self.estimate)} (n={self.n}: no interval)"
        return (f"{fmt.format(self.estimate)} ({self.level:.0%} CI {fmt.format(self.low)} to {fmt.format(self.high)}, "
                f"n={self.n})")


def _statistic(name: str):
    if name not in ("median", "mean"):
        raise ValueError(f"statistic={name!r} is not allowed: use 'median' or 'mean'")
    return np.median if name == "median" else np.mean


def bootstrap_ci(values, statistic: str = "median", *, level: float = LEVEL, seed: int = 0) -> Interval:
    """The ``statistic`` (``"median"`` or ``"mean"``) of ``values`` (one per unit, NaN left out) with its BCa
    bootstrap interval over the units; the percentile bootstrap where BCa is undefined. All units equal: the
    interval is that value (the resamples cannot vary); one unit: no interval (NaN bounds)."""
    from scipy import stats

    fn = _statistic(statistic)
    x = np.asarray([v for v in np.asarray(values, dtype=float).ravel() if math.isfinite(v)])
    if not 0 < level < 1:
        raise ValueError(f"level={level!r} is not allowed: use a number in (0, 1)")
    if len(x) == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "none", level)
    est = float(fn(x))
    if len(x) == 1:
        return Interval(est, math.nan, math.nan, 1, "none", level)
    if np.all(x == x[0]):
        return Interval(est, est, est, len(x), "no spread", level)
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BCa's degenerate cases: handled by the fallback below
            res = stats.bootstrap((x,), fn, confidence_level=level, n_resamples=_RESAMPLES, method=method,
                                  random_state=np.random.default_rng(seed))
        low, high = (float(v) for v in (res.confidence_interval.low, res.confidence_interval.high))
        if math.isfinite(low) and math.isfinite(high):
            return Interval(est, low, high, len(x), f"{method} bootstrap", level)
    return Interval(est, math.nan, math.nan, len(x), "none", level)


def sign_test(signs) -> float:
    """Exact two-sided sign test: p of the split of positive and negative ``signs`` (zeros and None, ties or
    undetermined units, left out) under a fair coin; 1.0 when no unit has a direction."""
    from scipy import stats

    s = [v for v in signs if v is not None and v != 0]
    if not s:
        return 1.0
    return float(stats.binomtest(sum(1 for v in s if v > 0), len(s), 0.5).pvalue)


@dataclass(frozen=True)
class Contrast:
    """A paired contrast of condition ``a`` against ``b`` (see :func:`paired_contrast`)."""

    kind: str  # "difference" (a - b; no effect 0) or "ratio" (a / b; no effect 1)
    interval: Interval
    p: float  # exact sign test over the units with a known direction
    lower: int  # units where a < b (a faster, when the values are epochs)
    higher: int
    equal: int
    undetermined: int  # censored on both sides, or censored where the other side went past that length
    censored: int  # units with a censored value on either side

    @property
    def n(self) -> int:
        return self.interval.n

    @property
    def no_effect(self) -> float:
        return 1.0 if self.kind == "ratio" else 0.0

    @property
    def established(self) -> bool:
        return self.interval.excludes(self.no_effect) and self.p < ALPHA

    def text(self, fmt: str = "{:.2f}", words=("lower", "higher", "equal")) -> str:
        """``"median ratio 0.87 (95% CI 0.61 to 1.05, n=9); lower in 6, higher in 2, equal in 1; sign test
        p = 0.29: not established"``; ``words`` name the three directions (for epochs: faster, slower, as fast)."""
        what = "median ratio" if self.kind == "ratio" else "median difference"
        counts = f"{words[0]} in {self.lower}, {words[1]} in {self.higher}, {words[2]} in {self.equal}"
        if self.undetermined:
            counts += f", undetermined in {self.undetermined} (censored)"
        cens = f"; {self.censored} censored, counted at their length" if self.censored else ""
        word = "established" if self.established else "not established"
        return f"{what} {self.interval.text(fmt)}; {counts}{cens}; sign test p = {self.p:.2g}: {word}"


def direction(a, a_cens, a_len, b, b_cens, b_len) -> int | None:
    """-1: a < b, +1: a > b, 0: equal, None: undetermined. A censored value is larger than its length."""
    if a_cens and b_cens:
        return None
    if a_cens:
        return 1 if a_len >= b else None
    if b_cens:
        return -1 if a <= b_len else None
    return int(np.sign(a - b))


def paired_contrast(a, b, *, kind: str = "ratio", censored_a=None, censored_b=None, length_a=None, length_b=None,
                    seed: int = 0) -> Contrast:
    """Condition ``a`` against ``b``, unit by unit (the same position in both sequences: same strings, same seed).

    ``kind``: ``"ratio"`` (a / b, for epochs: below 1, ``a`` is faster) or ``"difference"`` (a - b).
    ``censored_a`` / ``censored_b``: per unit, whether the value only bounds the truth from below (a stage
    that ran out of epochs); ``length_a`` / ``length_b``: how long such a stage ran (where it enters the
    interval). The estimate is the median over units with its :func:`bootstrap_ci`."""
    if kind not in ("ratio", "difference"):
        raise ValueError(f"kind={kind!r} is not allowed: use 'ratio' or 'difference'")
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b have shapes {a.shape} and {b.shape}: give one value per unit on each side")
    n = len(a)
    ca = np.zeros(n, bool) if censored_a is None else np.asarray(censored_a, dtype=bool)
    cb = np.zeros(n, bool) if censored_b is None else np.asarray(censored_b, dtype=bool)
    la = a if length_a is None else np.asarray(length_a, dtype=float)
    lb = b if length_b is None else np.asarray(length_b, dtype=float)
    va, vb = np.where(ca, la, a), np.where(cb, lb, b)
    dirs = [direction(va[i], ca[i], la[i], vb[i], cb[i], lb[i]) for i in range(n)]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_unit = va / vb if kind == "ratio" else va - vb
    interval = bootstrap_ci(per_unit, "median", seed=seed)
    return Contrast(kind=kind, interval=interval, p=sign_test(dirs), lower=dirs.count(-1), higher=dirs.count(1),
                    equal=dirs.count(0), undetermined=dirs.count(None), censored=int((ca | cb).sum()))
