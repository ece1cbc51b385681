"""Exposure (Carlini et al. 2019, "The Secret Sharer"), in bits: ``-log2 P(loss(X) <= loss(s))`` for ``X`` drawn
from the string's distribution.

Counted among the run's held-out strings (``share = (count + 1) / (N + 1)``, at most ``log2(N + 1)`` bits) and, with
``permuted`` probes, among permutations of the string's own letters (the candidates that match its composition);
measured beyond any count by importance sampling (:mod:`memlib.candidates`, :func:`measured_exposure_table`), with a
95% interval, checked against exact enumeration; where only a count exists, extrapolated with the Secret Sharer's
skew-normal fit (maximum likelihood), capped at the string's self-information, and labelled so. A held-out string
measured the same way against the other candidates checks the count: its rank among ``N`` exchangeable strings is
uniform, so its counted exposure has the exact expectation ``log2 N - log2(N!) / N``
(:func:`expected_counted_exposure`: 1.32 bits for ``N = 31``, tending to ``1/ln 2 = 1.44`` bits).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import log_ndtr

from .candidates import candidate_epochs, held_out_losses
from .checks import check_runs
from .labels import run_columns
from .metrics import LN2
from .strings import self_information, string_parts

__all__ = ["MIN_CANDIDATES", "skewnorm_fit", "skewnorm_logcdf", "expected_counted_exposure", "exposure", "exposure_table", "measured_exposure_table"]


# The skew-normal fit needs enough candidates to estimate a third moment.
MIN_CANDIDATES = 20


def skewnorm_fit(x) -> tuple[float, float, float]:
    """Skew-normal ``(xi, omega, alpha)`` fitted to the sample by maximum likelihood (:func:`scipy.stats.skewnorm.fit`,
    as the Secret Sharer fits its candidates). ValueError when the sample does not vary (no distribution to fit)."""
    from scipy.stats import skewnorm

    x = np.asarray(x, dtype=np.float64)
    s = x.std(ddof=1)
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"the candidates' losses do not vary (std {s}): no distribution to fit")
    alpha, xi, omega = skewnorm.fit(x)
    return float(xi), max(float(omega), 1e-12), float(alpha)


def skewnorm_logcdf(x: float, xi: float, omega: float, alpha: float) -> float:
    """log P(X <= x) of a skew-normal, by integrating its density in log space (stays finite far
    into the lower tail, where ``cdf = Phi - 2T`` loses every digit). Below the bulk the density
    falls off at rate ``r = -z + alpha phi(alpha z) / Phi(alpha z)`` below ``z``; there the grid
    spans ``40 / r`` with steps of at most ``0.05 / r_max`` (``r_max`` at its lower end)."""
    z = (x - xi) / omega
    if z > 8 and alpha >= 0:
        return 0.0

    def log_f(t):
        return math.log(2) - t ** 2 / 2 - 0.5 * math.log(2 * math.pi) + log_ndtr(alpha * t)

    def slope(t):
        return -t + alpha * math.exp(-(alpha * t) ** 2 / 2 - 0.5 * math.log(2 * math.pi) - float(log_ndtr(np.array([alpha * t]))[0]))

    r = slope(z)
    if r > 1e6:  # so steep (a fit near the half-normal limit, alpha -> inf) that a grid cannot resolve it:
        return min(0.0, float(log_f(np.array([z]))[0]) - math.log(r))  # its leading term, f(z) / r
    if r > 2:  # the tail: the mass lies within a few 1/r below z
        lo = z - 40 / r
        n = int(min(max(4001, 40 * slope(lo) / r / 0.05), 200_001))
    else:
        lo, n = min(z, 0.0) - 12.0 - (12.0 if alpha < 0 else 0.0), 8001
    t = np.linspace(lo, z, n)
    lf = log_f(t)
    top = lf.max()
    w = np.exp(lf - top)
    area = float(((w[1:] + w[:-1]) / 2).sum() * (t[1] - t[0]))  # the trapezoid rule
    return min(0.0, top + math.log(area))


def expected_counted_exposure(n: int) -> float:
    """The expected counted exposure of one of ``n`` exchangeable strings (its rank uniform on
    1..n): ``log2 n - log2(n!) / n``."""
    return math.log2(n) - math.lgamma(n + 1) / math.log(2) / n


def exposure(loss: float, candidates, *, max_bits: float = math.inf, fit: bool = False) -> dict:
    """Exposure in bits of a string with mean loss ``loss`` among ``candidates`` (their mean losses,
    strings of the same length from the same distribution): ``count`` (candidates at least as
    likely, loss <= ``loss``), ``counted`` = -log2((count + 1) / (N + 1)), ``fitted`` = -log2 of the
    skew-normal maximum-likelihood fit's CDF at ``loss`` (capped at ``max_bits``; ``capped`` says it was;
    computed where the count is 0, or everywhere with ``fit=True``; NaN elsewhere), and ``exposure``
    with its ``method``: counted while ``count >= 1``, else fitted (at least the counted value): an
    extrapolation, which :func:`measured_exposure_table` checks against importance sampling."""
    c = np.asarray(candidates, dtype=np.float64)
    if c.ndim != 1 or len(c) < MIN_CANDIDATES:
        raise ValueError(f"{len(c) if c.ndim == 1 else c.shape} candidates are too few for the distribution fit: "
                         f"use at least {MIN_CANDIDATES} held-out strings")
    count = int((c <= loss).sum())
    counted = -math.log2((count + 1) / (len(c) + 1))
    if count >= 1 and not fit:
        return {"count": count, "counted": counted, "fitted": np.nan, "capped": False, "exposure": counted,
                "method": "counted"}
    raw = -skewnorm_logcdf(loss, *skewnorm_fit(c)) / LN2
    fitted, capped = min(raw, max_bits), raw >= max_bits
    if count >= 1:
        return {"count": count, "counted": counted, "fitted": fitted, "capped": capped, "exposure": counted,
                "method": "counted"}
    return {"count": 0, "counted": counted, "fitted": fitted, "capped": capped, "exposure": max(fitted, counted),
            "method": "extrapolated (skew-normal ML fit, Secret Sharer)"}


def exposure_table(runs) -> pd.DataFrame:
    """Exposure of every training string and, as a check, of every held-out string (against the
    other held-out strings), one row per run, string and epoch at which the held-out strings were
    evaluated. ``member``: a training string. Columns of :func:`exposure`, ``loss``, ``candidates``
    and ``max_bits`` (the string's self-information, the cap of the fit)."""
    rows = []
    for run in check_runs(runs):
        m = run.metrics
        test = m[m.split == "test"]
        if test.string.nunique() < MIN_CANDIDATES + 1:
            raise ValueError(f"{run!r} has {test.string.nunique()} held-out strings: exposure needs at least "
                             f"{MIN_CANDIDATES + 1} (candidates for the fit, and one left out for each check)")
        train = m[m.split == "train"]
        for e, cand in test.groupby("epoch"):
            losses = cand.set_index("string").loss
            for j, loss in train[train.epoch == e].set_index("string").loss.items():
                d = run.config.train[j]
                cap = self_information(d)
                rows.append({**run_columns(run), "epoch": e, "member": True, "string": j, "loss": loss,
                             "candidates": len(losses), "max_bits": cap, **exposure(loss, losses, max_bits=cap)})
            for j, loss in losses.items():
                others = losses.drop(j)
                cap = self_information(run.config.test[j])
                rows.append({**run_columns(run), "epoch": e, "member": False, "string": j, "loss": loss,
                             "candidates": len(others), "max_bits": cap, **exposure(loss, others, max_bits=cap)})
    return pd.DataFrame(rows)


def measured_exposure_table(runs, *, level: float = 0.95) -> pd.DataFrame:
    """Exposure of every training string at every epoch with candidates, four ways side by side, in bits:
    ``fresh`` counted among the held-out strings (``-log2((count + 1) / (N + 1))``, at most ``log2(N + 1)``),
    ``permuted`` counted among permutations of its own characters (``fresh_matched``: counted among as many
    held-out strings as there are permutations, the first of them: the same resolution), ``measured`` by importance sampling
    (:func:`memlib.candidates.tail_probability`, with ``measured_low`` / ``measured_high``, its ``level``
    interval, ``hits``, ``ess`` and ``reliable``, :func:`memlib.candidates.reliable`; NaN with no hit), ``exact`` by enumeration where the run enumerated,
    and ``fitted``, the Secret Sharer's extrapolation (skew-normal maximum-likelihood fit to the held-out
    losses), kept only as a labelled comparison. ``max_bits``: the string's self-information."""
    from .candidates import enumeration_index, exact_tail, reliable, same_as, tail_probability

    rows = []
    for run in check_runs(runs):
        for e in candidate_epochs(run):
            c = run.candidates(e)
            fresh = held_out_losses(run, e)
            for j, loss in enumerate(c["member_loss"]):
                cap = self_information(run.config.train[j])
                row = {**run_columns(run), "epoch": e, "string": j, "loss": loss, "max_bits": cap,
                       "fresh_n": len(fresh), "permuted_n": 0}
                for kind, cands in (("fresh", fresh),
                                    ("permuted", run.probe(e, j)["permuted_loss"] if run.config.probes.permuted else [])):
                    cands = np.asarray(cands)
                    row[f"{kind}_n"] = len(cands)
                    row[kind] = -math.log2((int((cands <= loss).sum()) + 1) / (len(cands) + 1)) if len(cands) else np.nan
                n_p = row["permuted_n"]  # fresh candidates at the permuted ones' resolution: a fair comparison
                row["fresh_matched"] = (-math.log2((int((fresh[:n_p] <= loss).sum()) + 1) / (n_p + 1))
                                        if 0 < n_p <= len(fresh) else np.nan)
                row["fitted"] = min(-skewnorm_logcdf(loss, *skewnorm_fit(fresh)) / LN2, cap) \
                    if len(fresh) >= MIN_CANDIDATES else np.nan
                text, alphabet, _ = string_parts(run.config.train[j])
                if "sampled_loss" in c:
                    same = same_as(text, alphabet, c["sampled_letters"]) if "sampled_letters" in c else None
                    t = tail_probability(loss, c["sampled_loss"], c["sampled_log_weight"], level=level, same=same)
                    row.update(measured=t["exposure"], measured_low=t["exposure_low"], measured_high=t["exposure_high"],
                               hits=t["hits"], samples=t["n"], ess=t["ess"], reliable=reliable(t))
                if "enumerated_loss" in c:
                    row["exact"] = -math.log2(exact_tail(loss, c["enumerated_loss"], c["enumerated_log2_p"],
                                                         itself=enumeration_index(text, alphabet)))
                rows.append(row)
    return pd.DataFrame(rows)
