"""When a run reaches what: its phases (one documented rule), epochs to an accuracy, and per position the epoch
from which it stays correct. The core's reading of a run's curves, shared by every finding.

Curves are means over a run's training strings (and over its held-out strings for the band).

1. **Guessing band** at epoch ``e``: what can be predicted without memorising positions. It is
   the larger of (a) the mean held-out (test) accuracy plus ``max(margin, 2 * sd)`` (sd over test
   strings), linearly interpolated between evaluated epochs, and (b) the trained string's
   *unigram guess* plus ``margin``: the accuracy of always predicting the string's own most
   frequent letter. (b) matters because a model can learn the trained string's own letter
   frequencies before any position, and they differ from the distribution's in a short string:
   always predicting its likeliest letter can score above what the held-out strings show. Without test
   strings, ``guess_level + margin`` (if given) takes the place of (a).
2. **End of the guessing phase** ``guess_end``: the first epoch at which the model has learnt
   the distribution: train alphabet mass ``>= mass`` and the aggregated prediction entropy is
   within ``entropy_tol`` bits of the trained string's empirical entropy.
3. **Start of memorisation** ``mem_start``: the first epoch from which train accuracy stays
   above the guessing band until the end of the run.
4. **Memorised** ``mem_end``: the collection's one definition (:func:`memlib.metrics.memorised_at`): the
   first epoch from which train accuracy stays ``>= memorised`` (0.99) for ``hold`` (2) epochs in a row.

The run has a **distinct guessing phase** when ``guess_end`` exists and is no later than
``mem_start`` (or memorisation never starts): the distribution is learnt while accuracy is
still at guessing level, and memorisation follows. Otherwise ``distinct_guessing`` is False (notebook 01
reports which runs have a distinct guessing phase). An epoch that is never reached
is ``None`` (censored at the run's last epoch).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .metrics import MEMORISED_HOLD, MEMORISED_THRESHOLD, memorised_at

__all__ = ["THRESHOLDS", "PhaseRule", "epochs_to", "detect_phases", "phases", "phase_table", "stable_from"]

THRESHOLDS = (0.5, 0.9, 0.99)


class PhaseRule:
    """Thresholds of the rule (see the module docstring)."""

    def __init__(self, mass: float = 0.9, entropy_tol: float = 0.15, margin: float = 0.05,
                 memorised: float = MEMORISED_THRESHOLD, hold: int = MEMORISED_HOLD):
        for name, v in (("mass", mass), ("entropy_tol", entropy_tol), ("margin", margin), ("memorised", memorised)):
            top = 10 if name == "entropy_tol" else 1
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and 0 < v <= top):
                raise ValueError(f"{name}={v!r} is not allowed: use a number in (0, {top}]")
        if isinstance(hold, bool) or not isinstance(hold, int) or hold < 1:
            raise ValueError(f"hold={hold!r} is not allowed: use an integer >= 1")
        self.mass, self.entropy_tol, self.margin, self.memorised, self.hold = mass, entropy_tol, margin, memorised, hold

    def __repr__(self):
        return (f"PhaseRule(mass={self.mass}, entropy_tol={self.entropy_tol}, margin={self.margin}, "
                f"memorised={self.memorised}, hold={self.hold})")


def epochs_to(epochs, accuracy, threshold: float) -> int | None:
    """First epoch at which ``accuracy >= threshold``; None if never (censored)."""
    hit = np.flatnonzero(np.asarray(accuracy) >= threshold - 1e-12)
    return int(np.asarray(epochs)[hit[0]]) if len(hit) else None


def _first_stays_above(epochs, values, band) -> int | None:
    above = np.asarray(values) > np.asarray(band)
    if not above[-1]:
        return None
    below = np.flatnonzero(~above)
    i = below[-1] + 1 if len(below) else 0
    return int(np.asarray(epochs)[i])


def detect_phases(metrics: pd.DataFrame, *, string_entropy: float | None = None, guess_level: float | None = None,
                  rule: PhaseRule | None = None) -> dict:
    """Phases of one run from its tidy ``metrics`` (columns epoch, split, accuracy, alphabet_mass,
    entropy; optional unigram_guess, empirical_entropy / string_entropy). ``string_entropy``
    overrides the entropy the aggregated prediction is compared with."""
    rule = rule or PhaseRule()
    train = metrics[metrics.split == "train"].groupby("epoch").mean(numeric_only=True).sort_index()
    if train.empty:
        raise ValueError("metrics has no train rows: phases need the train curve")
    ep = train.index.to_numpy()
    test = metrics[metrics.split == "test"]
    band = np.full(len(ep), -np.inf)
    if len(test):
        g = test.groupby("epoch").accuracy
        band_pts = (g.mean() + np.maximum(rule.margin, 2 * g.std(ddof=0).fillna(0))).sort_index()
        band = np.interp(ep, band_pts.index.to_numpy(), band_pts.to_numpy())
    elif guess_level is not None:
        band = np.full(len(ep), guess_level + rule.margin)
    if "unigram_guess" in train:
        band = np.maximum(band, train["unigram_guess"].to_numpy() + rule.margin)
    if not np.isfinite(band).all():
        raise ValueError("metrics has no test rows and no unigram_guess column: give guess_level "
                         "(the accuracy of predicting the likeliest letter)")
    if string_entropy is None:
        col = "empirical_entropy" if "empirical_entropy" in train else "string_entropy"
        string_entropy = float(train[col].iloc[0]) if col in train else math.nan
    acc = train.accuracy.to_numpy()
    learnt = train.alphabet_mass.to_numpy() >= rule.mass
    if not math.isnan(string_entropy):
        learnt &= np.abs(train.entropy.to_numpy() - string_entropy) <= rule.entropy_tol
    guess_end = int(ep[np.flatnonzero(learnt)[0]]) if learnt.any() else None
    mem_start = _first_stays_above(ep, acc, band)
    out = {
        "guess_end": guess_end,
        "mem_start": mem_start,
        "mem_end": memorised_at(ep, acc, rule.memorised, rule.hold),
        "distinct_guessing": guess_end is not None and (mem_start is None or guess_end <= mem_start),
        "last_epoch": int(ep[-1]),
        "final_accuracy": float(acc[-1]),
        "initial_alphabet_mass": float(train.alphabet_mass.iloc[0]),
        "mass_at_mem_start": float(train.alphabet_mass.loc[mem_start]) if mem_start is not None else math.nan,
        "final_alphabet_mass": float(train.alphabet_mass.iloc[-1]),
        "final_guess_band": float(band[-1]),
    }
    for t in THRESHOLDS:
        out[f"epochs_to_{round(t * 100)}"] = epochs_to(ep, acc, t)
    return out


def phases(run, rule: PhaseRule | None = None) -> dict:
    """:func:`detect_phases` for a :class:`~memlib.store.Run`, with its model, seed and sizes."""
    train = run.config.train
    probs = train[0].get("probs")
    out = {
        "model": run.config.model,
        "seed": run.config.seed,
        "lr": run.config.lr,
        "n_params": run.meta.get("n_params"),
        "length": len(train[0]["text"]),
    }
    out.update(detect_phases(run.metrics, guess_level=max(probs) if probs else None, rule=rule))
    return out


def phase_table(runs, rule: PhaseRule | None = None) -> pd.DataFrame:
    """One row per run: model, seed, parameters, phase boundaries, epochs to 50/90/99% accuracy."""
    return pd.DataFrame([phases(r, rule) for r in runs])


def stable_from(correct) -> np.ndarray:
    """Per position, the first evaluated epoch index from which it is predicted correctly at every
    later evaluation; NaN where it is wrong at the last one. ``correct``: (epochs, positions) bool,
    e.g. ``run.arrays["train_correct"][:, string, :]``."""
    correct = np.asarray(correct, dtype=bool)
    out = np.full(correct.shape[1], np.nan)
    for p in range(correct.shape[1]):
        if correct[-1, p]:
            wrong = np.flatnonzero(~correct[:, p])
            out[p] = wrong[-1] + 1 if len(wrong) else 0
    return out
