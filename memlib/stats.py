"""Uncertainty for the findings: intervals with known coverage, paired contrasts, an exact paired test, and one
family of tests per notebook.

**Intervals.** A median over units (:func:`median_interval`) gets the distribution-free order-statistic
interval: ``[x(j), x(n+1-j)]`` with ``j`` the largest for which ``P(j <= B <= n - j) >= 95%``, ``B`` binomial
(``n``, 1/2). It covers the population median with at least that probability for any distribution (ties and
discrete values only raise it), and the level it achieves at that ``n`` is printed with it, rounded down (96.8% at
n = 6, 99.2% at n = 8, 96% at n = 9). Below n = 6 no pair of order statistics reaches 95%: there is no interval, and
the text says "n too small for an interval". Coverage is checked by simulation in ``tests/test_stats.py`` at
every n the presets use, on skewed, heavy-tailed and tied data. A mean (:func:`mean_interval`): Student's t.

**Contrasts.** A verdict that states a difference between two conditions states it through
:func:`paired_contrast`: the conditions share their units (the same strings and seed, e.g. a stage in a
sequence and the same string on a fresh model), so the contrast is computed unit by unit. It reports ``n``
(units), the median of the per-unit differences (or ratios) with its :func:`median_interval`, and the exact
two-sided sign test over the units whose direction is known (:func:`scipy.stats.binomtest`), the test that
goes with that interval (at n = 6 both exclude no effect exactly when all six units agree).

**One family per notebook** (:class:`Family`). Each notebook declares the contrasts its finding rests on
(*primary*); their p-values are adjusted together by Holm's method, and a primary contrast is **established**
only when its interval excludes no effect *and* its adjusted p is below 0.05. Every other contrast is
*exploratory*: printed with its unadjusted p and never called established. A verdict is built twice
(:func:`in_family`): once to collect the p-values, once to word them with the adjusted ones.

Censoring: a stage that ran out of epochs took *longer than* its length: its direction is known when the other
condition was memorised within that length, undetermined otherwise (counted, reported, left out of the sign test);
in the interval it enters at its length (a bound), and the verdict says how many units were censored.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["binomial_p", "Interval", "Contrast", "Decision", "Family", "Verdict", "WITHIN_RUN", "EXPLORATORY", "median_interval", "mean_interval", "interval_level", "sign_power", "sign_counts", "units_for_power", "ols", "spearman", "spearman_p", "rank_correlation",
           "sign_test", "holm", "direction", "paired_contrast", "in_family", "LEVEL", "ALPHA"]

LEVEL = 0.95  # the least coverage of every interval in the verdicts
ALPHA = 0.05  # the family-wise error rate of "established"
TOO_FEW = "n too small for an interval"


@dataclass(frozen=True)
class Interval:
    """``estimate`` with its interval ``[low, high]`` over ``n`` units, by ``method``; ``level`` is the coverage
    the method achieves at this ``n`` (at least :data:`LEVEL`; NaN where there is no interval)."""

    estimate: float
    low: float
    high: float
    n: int
    method: str
    level: float = LEVEL

    @property
    def exists(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def excludes(self, value: float) -> bool:
        return self.exists and bool(self.low > value or self.high < value)

    def text(self, fmt: str = "{:.2f}") -> str:
        """``"0.87 (96.9% CI 0.61 to 1.05, n=6)"``; ``"0.87 (n=2: n too small for an interval)"``."""
        if not self.exists:
            why = TOO_FEW if self.n >= 2 else "no interval"
            return f"{fmt.format(self.estimate)} (n={self.n}: {why})"
        return (f"{fmt.format(self.estimate)} ({_percent(self.level)} CI {fmt.format(self.low)} to "
                f"{fmt.format(self.high)}, n={self.n})")


def _percent(level: float) -> str:
    """``0.96875`` -> ``"96.9%"``, ``0.95`` -> ``"95%"``: the achieved level, rounded down (never overstated)."""
    tenths = math.floor(level * 1000 + 1e-9) / 10
    return f"{tenths:.0f}%" if tenths == int(tenths) else f"{tenths:.1f}%"


@functools.lru_cache(maxsize=None)
def interval_level(n: int, j: int) -> float:
    """Coverage of ``[x(j), x(n+1-j)]`` for the median of ``n`` values from any continuous distribution:
    ``P(j <= B <= n - j)``, ``B`` binomial (``n``, 1/2)."""
    from scipy import stats

    return float(stats.binom.cdf(n - j, n, 0.5) - stats.binom.cdf(j - 1, n, 0.5))


@functools.lru_cache(maxsize=None)
def _order_statistics(n: int, level: float) -> tuple[int, float] | None:
    """``(j, achieved level)`` of the narrowest ``[x(j), x(n+1-j)]`` covering the median with at least ``level``."""
    best = None
    for j in range(1, n // 2 + 1):
        achieved = interval_level(n, j)
        if achieved < level:
            break
        best = (j, achieved)
    return best


def median_interval(values, *, level: float = LEVEL) -> Interval:
    """The median of ``values`` (one per unit, NaN left out) with its order-statistic interval, the narrowest
    ``[x(j), x(n+1-j)]`` whose coverage is at least ``level`` at this n (:func:`interval_level`; the achieved
    coverage is the interval's ``level``). Too few units for ``level`` (n < 6 at 95%): NaN bounds, method
    ``"n too small for an interval"``."""
    if not 0 < level < 1:
        raise ValueError(f"level={level!r} is not allowed: use a number in (0, 1)")
    x = np.sort(np.asarray([v for v in np.asarray(values, dtype=float).ravel() if math.isfinite(v)]))
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "none", math.nan)
    est = float(np.median(x))
    best = _order_statistics(n, level)
    if best is None:
        return Interval(est, math.nan, math.nan, n, TOO_FEW if n >= 2 else "none", math.nan)
    j, achieved = best
    return Interval(est, float(x[j - 1]), float(x[n - j]), n, "order statistics", achieved)


def mean_interval(values, *, null: float | None = None, level: float = LEVEL) -> tuple[Interval, float]:
    """The mean of ``values`` (one per unit, NaN left out) with Student's t interval, and the one-sample t-test's p
    against ``null`` (NaN without one): for quantities that vary little and symmetrically over units (notebook 06's
    capacities; coverage at 2-13 units checked by simulation, ``tests/test_stats.py``). Under 2 units: no interval."""
    from scipy import stats

    if not 0 < level < 1:
        raise ValueError(f"level={level!r} is not allowed: use a number in (0, 1)")
    x = np.asarray([v for v in np.asarray(values, dtype=float).ravel() if math.isfinite(v)])
    n, est = len(x), float(x.mean()) if len(x) else math.nan
    if n < 2:
        return Interval(est, math.nan, math.nan, n, "none", math.nan), math.nan
    se = float(x.std(ddof=1)) / math.sqrt(n)
    half, p = float(stats.t.ppf(0.5 + level / 2, n - 1)) * se, math.nan
    if null is not None:
        p = (1.0 if est == null else 0.0) if se == 0 else float(2 * stats.t.sf(abs(est - null) / se, n - 1))
    return Interval(est, est - half, est + half, n, "t", level), p


def ols(X, y, *, level: float = LEVEL):
    """Least squares ``y ~ X`` (``X``: n x k, with its intercept column) with heteroskedasticity-consistent
    standard errors (HC3: each residual scaled by 1 / (1 - its leverage)), t intervals and two-sided p-values on
    n - k degrees of freedom. Returns ``(coef, se, low, high, p)`` arrays. Its coverage at the n the presets use
    (24 runs, 3 terms) is checked by simulation on skewed, heavy-tailed and heteroskedastic errors
    (``tests/test_stats.py``)."""
    from scipy import stats

    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    n, k = X.shape
    if n <= k or np.linalg.matrix_rank(X) < k:
        raise ValueError(f"{n} rows of rank {np.linalg.matrix_rank(X)} cannot fit {k} coefficients")
    xtx_inv = np.linalg.inv(X.T @ X)
    coef = xtx_inv @ X.T @ y
    resid = y - X @ coef
    leverage = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
    u = resid / np.clip(1 - leverage, 1e-12, None)
    cov = xtx_inv @ (X.T * u ** 2) @ X @ xtx_inv
    se = np.sqrt(np.diag(cov))
    df = n - k
    t = stats.t.ppf(0.5 + level / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, 2 * stats.t.sf(np.abs(coef / se), df), np.where(coef == 0, 1.0, 0.0))
    return coef, se, coef - t * se, coef + t * se, p


def spearman(x, y) -> float:
    """Spearman's rho, the collection's one rank correlation: Pearson's correlation of average ranks (ties share
    their mean rank; pandas' ``rank`` and ``corr``), pairs with a NaN left out (an infinity is ranked last); NaN for
    fewer than 3 pairs or a side that does not vary."""
    import pandas as pd

    a, b = pd.Series(np.asarray(x, dtype=float)), pd.Series(np.asarray(y, dtype=float))
    ok = a.notna().to_numpy() & b.notna().to_numpy()
    if ok.sum() < 3:
        return math.nan
    return float(a[ok].rank().corr(b[ok].rank()))


def spearman_p(x, y, *, seed: int = 0) -> float:
    """Two-sided permutation p of Spearman's rank correlation (scipy.stats.permutation_test over pairings: exact,
    every pairing, up to 8 pairs; 9,999 random pairings above, seeded); NaN for fewer than 3 pairs or a side that
    does not vary. (spearmanr's t approximation gives p = 0 to a perfect correlation of 4 pairs; exact: 1/12.)"""
    from scipy import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return math.nan
    rx, ry = stats.rankdata(x[ok]), stats.rankdata(y[ok])
    b = ry - ry.mean()

    def rho(a, axis=-1):  # Pearson's r of the ranks: Spearman's rho, for a batch of permuted rank vectors
        a = a - a.mean(axis=axis, keepdims=True)
        return (a * b).sum(axis=axis) / np.sqrt((a * a).sum(axis=axis) * (b * b).sum())

    res = stats.permutation_test((rx,), rho, permutation_type="pairings", vectorized=True,
                                 n_resamples=np.inf if ok.sum() <= 8 else 9999, alternative="two-sided",
                                 rng=np.random.default_rng(seed))
    return float(min(1.0, res.pvalue))


def rank_correlation(x, y, *, level: float = LEVEL, seed: int = 0, test: bool = True) -> dict:
    """Spearman's rho between ``x`` and ``y`` (pairs with a NaN left out) with its interval from Fisher's z and
    Bonett and Wright's variance ``(1 + rho^2 / 2) / (n - 3)`` (coverage 95-97% at 7-24 pairs in this project's
    simulation, ``tests/test_stats.py``) and the permutation p (:func:`spearman_p`). ``{"rho", "low", "high", "p",
    "n"}`` (``test=False``: no p, NaN); NaN where there are fewer than 4 pairs or a side does not vary."""
    from scipy import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(len(x))
    if n < 4 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"rho": math.nan, "low": math.nan, "high": math.nan, "p": math.nan, "n": n}
    rho = spearman(x, y)
    z, se = np.arctanh(np.clip(rho, -0.999999, 0.999999)), math.sqrt((1 + rho ** 2 / 2) / (n - 3))
    q = stats.norm.ppf(0.5 + level / 2)
    return {"rho": rho, "low": float(np.tanh(z - q * se)), "high": float(np.tanh(z + q * se)),
            "p": spearman_p(x, y, seed=seed) if test else math.nan, "n": n}


def sign_test(signs) -> float:
    """Exact two-sided sign test: p of the split of positive and negative ``signs`` (zeros and None, ties or
    undetermined units, left out) under a fair coin; 1.0 when no unit has a direction."""
    s = [v for v in signs if v is not None and v != 0]
    if not s:
        return 1.0
    return binomial_p(sum(1 for v in s if v > 0), len(s))


@functools.lru_cache(maxsize=None)
def binomial_p(k: int, n: int) -> float:
    from scipy import stats

    return float(stats.binomtest(k, n, 0.5).pvalue)


def sign_power(agree: int, directed: int, n: int, alpha: float) -> float:
    """The chance that an exact two-sided sign test over ``n`` new units reaches p < ``alpha``, at the effect measured
    so far: ``agree`` of ``directed`` units went the majority's way. Each new unit goes that way with probability
    q, uncertain as measured: q ~ Beta(agree + 1, directed - agree + 1) (a uniform prior updated by the units seen),
    so the answer is a beta-binomial tail, exact (no simulation). 6 of 6 seen gives q about 0.88, not 1."""
    from scipy import stats

    agree, directed, n = int(agree), int(directed), int(n)
    if not 0 <= agree <= directed or n < 1:
        raise ValueError(f"agree={agree}, directed={directed}, n={n} are not allowed: use 0 <= agree <= directed, n >= 1")
    c = next((k for k in range((n + 1) // 2, n + 1) if binomial_p(k, n) < alpha), None)  # fewest agreeing that pass
    if c is None:
        return 0.0
    bb = stats.betabinom(n, agree + 1, directed - agree + 1)
    return float(bb.sf(c - 1) + (bb.cdf(n - c) if n - c < c else 0.0))


def sign_counts(signs) -> dict:
    """``{"agree", "directed"}`` of per-unit signs, for :func:`units_for_power`: the units going the majority's
    way, and those with any direction (zeros and NaN left out)."""
    s = np.sign(np.asarray(signs, dtype=float))
    return {"agree": int(max((s > 0).sum(), (s < 0).sum())), "directed": int(((s > 0) | (s < 0)).sum())}


def units_for_power(info: dict, m: int, *, power: float = 0.8, alpha: float = ALPHA, most: int = 500) -> int | None:
    """The independent units a test needs for a ``power`` chance of passing at ``alpha / m`` (the strictest step of
    Holm's method over ``m`` primary tests: a bound on the units, not an estimate of them), at the effect measured so
    far. ``info`` (what a :class:`Family` keeps of a test): ``agree`` and ``directed`` for a sign test
    (:func:`sign_power`), or ``z`` (the estimate over its standard error) and ``n`` for a test whose statistic grows as
    the square root of the units (a regression slope, Fisher's z of a correlation). None: no effect measured, or more
    than ``most`` units."""
    from scipy import stats

    level = alpha / max(int(m), 1)
    if info.get("agree") is not None and info.get("directed"):
        if 2 * info["agree"] <= info["directed"]:
            return None
        return next((n for n in range(1, most + 1) if sign_power(info["agree"], info["directed"], n, level) >= power),
                    None)
    z, n = info.get("z"), info.get("n")
    if z is None or not n or not math.isfinite(z) or z == 0:
        return None
    need = math.ceil(n * ((stats.norm.isf(level / 2) + stats.norm.isf(1 - power)) / abs(z)) ** 2)
    return need if need <= most else None


def holm(pvalues) -> list[float]:
    """Holm's step-down adjustment of ``pvalues`` (in their order): the i-th smallest times (m - i + 1), made
    non-decreasing, at most 1. Controls the family-wise error rate under any dependence between the tests."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


@dataclass(frozen=True)
class Decision:
    """How a notebook's family decided one test: ``role`` "primary" (Holm-adjusted over the family's ``m``
    primary tests: ``p_adjusted``) or "exploratory" (not adjusted, never established)."""

    role: str
    p_adjusted: float
    m: int

    def words(self, p: float, supported: bool) -> str:
        """The end of a test's sentence: ``"p = 0.031, Holm-adjusted over 6 primary tests p = 0.19: not
        established"``, ``"p = 0.031 (exploratory)"``, or for units that are not independent (strings of one
        run) ``"p = 0.013 over strings of one run (not independent units: described, not tested)"``.
        ``supported``: the interval excludes no effect."""
        if self.role == WITHIN_RUN_ROLE:
            return f"p = {p:.2g} over strings of one run (not independent units: described, not tested)"
        if self.role != "primary":
            return f"p = {p:.2g} (exploratory)"
        word = "established" if supported and self.p_adjusted < ALPHA else "not established"
        return f"p = {p:.2g}, Holm-adjusted over {self.m} primary tests p = {self.p_adjusted:.2g}: {word}"

    def established(self, supported: bool) -> bool:
        return self.role == "primary" and supported and self.p_adjusted < ALPHA


_COLLECTING = Decision("collecting", math.nan, 0)  # the first pass: the words are not read
WITHIN_RUN_ROLE = "within one run"
WITHIN_RUN = Decision(WITHIN_RUN_ROLE, math.nan, 0)  # strings of one run: never a test over independent units
EXPLORATORY = Decision("exploratory", math.nan, 0)


class Family:
    """The tests one notebook's verdict states. ``primary``: the names (regular expressions, matched in full) of
    the tests its finding rests on; every other test is exploratory.

    Used in two passes (:func:`in_family` runs them): while collecting, :meth:`decide` records each test's name
    and p (and returns a placeholder decision, never established); after :meth:`close`, the same calls return
    the test's :class:`Decision`, primary ones Holm-adjusted together."""

    def __init__(self, primary=()):
        self.patterns = [re.compile(p) for p in ([primary] if isinstance(primary, str) else primary)]
        self.p: dict[str, float] = {}
        self.info: dict[str, dict] = {}  # what each test estimated: estimate, low, high, level, n, supported
        self.decisions: dict[str, Decision] | None = None

    def is_primary(self, name: str) -> bool:
        return any(p.fullmatch(name) for p in self.patterns)

    def decide(self, name: str, p: float, **info) -> Decision:
        """The decision on test ``name`` of p-value ``p``; ``info`` (``estimate``, ``low``, ``high``, ``level``,
        ``n``, ``supported``: the interval excludes no effect; for :func:`units_for_power`, ``agree`` and ``directed``
        of a sign test or ``z`` of a normal one) goes into the family's :meth:`rows`."""
        self.info[name] = info
        if self.decisions is None:
            if name in self.p:
                raise ValueError(f"test {name!r} is stated twice in one verdict: give each test its own name")
            self.p[name] = float(p)
            return _COLLECTING
        if name not in self.decisions:
            raise ValueError(f"test {name!r} was not stated when the family was collected")
        return self.decisions[name]

    def close(self) -> None:
        primary = [k for k in self.p if self.is_primary(k)]
        adjusted = dict(zip(primary, holm([self.p[k] for k in primary])))
        self.decisions = {k: Decision("primary", adjusted[k], len(primary)) if k in adjusted else
                          Decision("exploratory", math.nan, len(primary)) for k in self.p}

    @property
    def primary_names(self) -> list[str]:
        return [k for k in self.p if self.is_primary(k)]

    def rows(self) -> list[dict]:
        """One dict per test stated, primary ones first: ``name``, ``role``, ``n``, ``estimate``, ``low``,
        ``high``, ``level``, ``p``, ``p_adjusted``, ``m`` (primary tests in the family), ``established``, and for
        primary tests ``units_for_power`` (:func:`units_for_power`: the units for an 80% chance at the effect measured)."""
        out = []
        for name in sorted(self.p, key=lambda k: not self.is_primary(k)):
            d, info = self.decisions[name], self.info.get(name, {})
            out.append({"name": name, "role": d.role, "n": info.get("n"), "estimate": info.get("estimate"),
                        "low": info.get("low"), "high": info.get("high"), "level": info.get("level"),
                        "p": self.p[name], "p_adjusted": None if math.isnan(d.p_adjusted) else d.p_adjusted, "m": d.m,
                        "established": d.established(bool(info.get("supported", False))),
                        "units_for_power": units_for_power(info, d.m) if d.role == "primary" else None})
        return out


class Verdict(list):
    """A verdict's lines (markdown), with the :class:`Family` that decided its tests as ``family`` (None without
    one). ``lines += more`` keeps both."""

    family: Family | None = None


def in_family(build, primary=()) -> Verdict:
    """``build(family)`` run twice: to collect the tests it states, then, with their Holm-adjusted decisions,
    for the lines it returns (a verdict is cheap: tables in, sentences out), as a :class:`Verdict`."""
    family = Family(primary)
    build(family)
    family.close()
    out = Verdict(build(family))
    out.family = family
    return out


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
    decision: Decision | None = None  # how the notebook's family decided it (None: alone, unadjusted)

    @property
    def n(self) -> int:
        return self.interval.n

    @property
    def no_effect(self) -> float:
        return 1.0 if self.kind == "ratio" else 0.0

    @property
    def supported(self) -> bool:
        """The interval excludes no effect."""
        return self.interval.excludes(self.no_effect)

    @property
    def established(self) -> bool:
        if self.decision is None:
            return self.supported and self.p < ALPHA
        return self.decision.established(self.supported)

    def decided(self, family: Family | Decision | None, name: str = "") -> "Contrast":
        """This contrast as ``family`` decides it under ``name``, or with a fixed :class:`Decision` (e.g.
        :data:`WITHIN_RUN`; None: unchanged)."""
        if family is None:
            return self
        if isinstance(family, Decision):
            return replace(self, decision=family)
        iv = self.interval
        return replace(self, decision=family.decide(name, self.p, estimate=iv.estimate, low=iv.low, high=iv.high,
                                                    level=iv.level, n=iv.n, supported=self.supported,
                                                    agree=max(self.lower, self.higher),
                                                    directed=self.lower + self.higher))

    def text(self, fmt: str = "{:.2f}", words=("lower", "higher", "equal")) -> str:
        """``"median ratio 0.87 (96.9% CI 0.61 to 1.05, n=6); lower in 4, higher in 2, equal in 0; sign test
        p = 0.69, Holm-adjusted over 6 primary tests p = 1: not established"``; ``words`` name the three
        directions (for epochs: faster, slower, as fast)."""
        what = "median ratio" if self.kind == "ratio" else "median difference"
        counts = f"{words[0]} in {self.lower}, {words[1]} in {self.higher}, {words[2]} in {self.equal}"
        if self.undetermined:
            counts += f", undetermined in {self.undetermined} (censored)"
        cens = f"; {self.censored} censored, counted at their length" if self.censored else ""
        if self.decision is None:
            test = f"sign test p = {self.p:.2g}: {'established' if self.established else 'not established'}"
        else:
            test = "sign test " + self.decision.words(self.p, self.supported)
        return f"{what} {self.interval.text(fmt)}; {counts}{cens}; {test}"


def direction(a, a_cens, a_len, b, b_cens, b_len) -> int | None:
    """-1: a < b, +1: a > b, 0: equal, None: undetermined. A censored value is larger than its length."""
    if a_cens and b_cens:
        return None
    if a_cens:
        return 1 if a_len >= b else None
    if b_cens:
        return -1 if a <= b_len else None
    return int(np.sign(a - b))


def paired_contrast(a, b, *, kind: str = "ratio", censored_a=None, censored_b=None, length_a=None,
                    length_b=None) -> Contrast:
    """Condition ``a`` against ``b``, unit by unit (the same position in both sequences: same strings, same seed).

    ``kind``: ``"ratio"`` (a / b, for epochs: below 1, ``a`` is faster) or ``"difference"`` (a - b).
    ``censored_a`` / ``censored_b``: per unit, whether the value only bounds the truth from below (a stage
    that ran out of epochs); ``length_a`` / ``length_b``: how long such a stage ran (where it enters the
    interval). The estimate is the median over units with its :func:`median_interval`."""
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
    return Contrast(kind=kind, interval=median_interval(per_unit), p=sign_test(dirs), lower=dirs.count(-1),
                    higher=dirs.count(1), equal=dirs.count(0), undetermined=dirs.count(None),
                    censored=int((ca | cb).sum()))
