"""Notebook 02's measures of one run and tables of runs (what they mean: :mod:`memlib.difficulty`)."""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import pandas as pd

from ..milestones import THRESHOLDS, epochs_to


def gain_curve(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per epoch: train accuracy, held-out accuracy (interpolated) and their difference ``gain``.

    Held-out accuracy is linearly interpolated between the epochs it was measured at and held
    constant outside them. It moves while the distribution is learnt, early in a run, so runs whose held-out strings were
    measured sparsely early on (``eval_every="auto"`` with few held-out evaluations) give a coarse
    curve: a warning says so when epoch 0, or nothing in the first tenth of a run of 10 or more
    epochs, was measured.
    """
    train = metrics[metrics.split == "train"].groupby("epoch").accuracy.mean().sort_index()
    test = metrics[metrics.split == "test"].groupby("epoch").accuracy.mean().sort_index()
    if test.empty:
        raise ValueError("metrics has no test rows: the memorisation gain needs held-out strings")
    ep = train.index.to_numpy()
    early = test.index[(test.index > 0) & (test.index <= ep[-1] // 10)]
    if test.index[0] != 0 or (ep[-1] >= 10 and len(early) == 0):
        warnings.warn(f"held-out strings were measured only at epochs {list(map(int, test.index))} of 0-{int(ep[-1])}: "
                      f"the held-out curve and the gain are interpolated over the early epochs, where the "
                      f"held-out accuracy moves most; use eval_every=k for difficulty measures", stacklevel=2)
    guess = np.interp(ep, test.index.to_numpy(), test.to_numpy())
    return pd.DataFrame({"epoch": ep, "train_accuracy": train.to_numpy(), "test_accuracy": guess,
                         "gain": train.to_numpy() - guess})


def _mean_over_epochs(epochs: np.ndarray, values: np.ndarray) -> float:
    """Trapezoidal area divided by the epoch span (a single epoch: its value)."""
    if len(epochs) < 2:
        return float(values[0])
    area = float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(epochs)))
    return area / float(epochs[-1] - epochs[0])


def difficulty(metrics: pd.DataFrame) -> dict:
    """Difficulty measures of one run (see the module docstring)."""
    g = gain_curve(metrics)
    ep, acc = g.epoch.to_numpy(), g.train_accuracy.to_numpy()
    out = {}
    for t in THRESHOLDS:
        k = round(t * 100)
        hit = epochs_to(ep, acc, t)
        out[f"epochs_to_{k}"] = int(ep[-1]) if hit is None else hit
        out[f"censored_{k}"] = hit is None
    out.update({
        "auc": _mean_over_epochs(ep, acc),
        "guess_accuracy": _mean_over_epochs(ep, g.test_accuracy.to_numpy()),
        "gain_auc": _mean_over_epochs(ep, g.gain.to_numpy()),
        "gain_norm_auc": _mean_over_epochs(ep, g.gain.to_numpy() / np.maximum(1.0 - g.test_accuracy.to_numpy(), 1e-9)),
        "gain_final": float(g.gain.iloc[-1]),
        "final_accuracy": float(acc[-1]),
        "last_epoch": int(ep[-1]),
    })
    return out


def difficulty_table(runs) -> pd.DataFrame:
    """One row per run: model, seed, the strings' alphabet size, family, target and empirical
    entropy, and every difficulty measure."""
    rows = []
    for r in runs:
        train = r.config.train
        rows.append({
            "model": r.config.model,
            "seed": r.config.seed,
            "alphabet_size": len(train[0].get("alphabet", "")) or None,
            "family": train[0].get("family"),
            "entropy": train[0].get("entropy", math.nan),
            "empirical_entropy": float(np.mean(r.metrics[r.metrics.split == "train"].empirical_entropy)),
            "length": len(train[0]["text"]),
            **difficulty(r.metrics),
        })
    return pd.DataFrame(rows)


def entropy_grid(alphabet_sizes, levels=(0.5, 1.0, 2.0, 3.0, 4.0), include_max: bool = True) -> list[dict]:
    """String settings: for each alphabet size, the absolute entropy ``levels`` (bits/char) that the
    alphabet can reach, plus its maximum ``log2(size)`` (uniform, ``entropy=None``). Absolute levels
    shared across sizes give the "alphabet size at fixed entropy" comparison."""
    grid = []
    for size in alphabet_sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or not 2 <= size <= 26:
            raise ValueError(f"alphabet size {size!r} is not allowed: use integers from 2 to 26")
        h_max = math.log2(size)
        for h in sorted(set(levels)):
            if isinstance(h, bool) or not (isinstance(h, numbers.Real) and h > 0):
                raise ValueError(f"entropy level {h!r} is not allowed: use numbers > 0 (bits per character)")
            if h < h_max - 1e-9:
                grid.append({"alphabet_size": int(size), "entropy": float(h)})
        if include_max:
            grid.append({"alphabet_size": int(size), "entropy": None})
    return grid


def mean_gain(runs) -> pd.Series:
    """Memorisation gain per epoch, averaged over ``runs`` (see :func:`gain_curve`)."""
    return pd.concat([gain_curve(r.metrics) for r in runs]).groupby("epoch").gain.mean()

