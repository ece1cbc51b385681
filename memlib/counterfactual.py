"""Counterfactual memorisation (Zhang et al. 2021, "Counterfactual Memorization in Neural Language Models"): how much
better a model does on a string when it was trained on it than when it was not, over models trained on random
subsets of a pool (:func:`memlib.lira.inclusion`'s shadow models):

    mem(x) = E[M(f, x) | x in f's training set] - E[M(f, x) | x not in it]

with ``M`` per-character accuracy (their measure) or minus the loss. Per string, the difference of the two groups'
means with Welch's t interval (the models of the two groups are independent draws of a training set).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["counterfactual"]


def counterfactual(values, inmask, *, level: float = 0.95) -> pd.DataFrame:
    """One row per string (column of ``values``, ``(models, strings)``; higher: better, e.g. accuracy):
    ``memorisation`` = mean over models that trained it minus mean over those that did not, with its Welch
    ``low`` / ``high``, and ``n_in`` / ``n_out``. ValueError where a string lacks two models on either side."""
    x, m = np.asarray(values, dtype=np.float64), np.asarray(inmask, dtype=bool)
    if x.ndim != 2 or x.shape != m.shape or not np.isfinite(x).all():
        raise ValueError(f"values {x.shape} and inmask {m.shape} must be two (models, strings) arrays of finite values")
    if (m.sum(0) < 2).any() or ((~m).sum(0) < 2).any():
        raise ValueError("every string needs at least 2 models that trained it and 2 that did not")
    rows = []
    for j in range(x.shape[1]):
        a, b = x[m[:, j], j], x[~m[:, j], j]
        d = a.mean() - b.mean()
        va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        se = np.sqrt(va + vb)
        if se > 0:
            df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
            q = stats.t.ppf(0.5 + level / 2, df)
        else:
            q = 0.0
        rows.append({"string": j, "memorisation": d, "low": d - q * se, "high": d + q * se,
                     "n_in": len(a), "n_out": len(b)})
    return pd.DataFrame(rows)
