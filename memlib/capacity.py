"""How many bits of random data a model holds: memorised information, measured on runs (notebook 06, in progress).

Random strings have a known information content, so what a model has memorised of them can be counted in
bits (Morris et al. 2025, "How much do language models memorize?", arXiv 2505.24832). For one string ``s``
drawn from a known distribution ``p`` (letters independent):

* its **self-information** ``I(s) = -sum_i log2 p(s_i)``, what it takes to write ``s`` down knowing only the
  distribution (for uniform letters ``L log2 |A|``, the same for every string);
* the model's **code length** ``C(s) = -sum_i log2 q(s_i | s_<i)``, what it takes to write ``s`` down with the
  model's predictions (teacher-forced, over the full vocabulary: probability the model puts outside the
  alphabet is wasted code); from the run's own loss, ``C(s) = L * loss / ln 2``;
* **memorised bits** ``M(s) = max(0, I(s) - C(s))``: the bits the model saves on ``s`` over the distribution
  itself. Clipped at 0 per string, as Morris et al. do, because the difference is an estimate of information
  the model holds about ``s``, and a model that codes ``s`` worse than the distribution does (a random-weight
  model, or one that has learnt other strings) holds no negative information about it: without the clip,
  strings the model has not learnt would cancel the bits it holds about others. Summed over strings; the sum
  can never exceed the data's information content ``sum_s I(s)``.

A model that predicts exactly the distribution memorises 0 bits; one that predicts every character of ``s``
with probability 1 memorises ``I(s)``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .strings import self_information

__all__ = ["memorised", "string_bits", "bits_by_epoch"]

_LN2 = math.log(2.0)


def memorised(self_information, code_length) -> np.ndarray:
    """``max(0, I - C)`` elementwise, in bits (see the module's docstring). ValueError for a negative or
    non-finite self-information, or a negative code length (no probability exceeds 1)."""
    i = np.asarray(self_information, dtype=np.float64)
    c = np.asarray(code_length, dtype=np.float64)
    if (~np.isfinite(i)).any() or (i < 0).any():
        raise ValueError(f"self_information={i.tolist()!r} is not allowed: use finite numbers of bits >= 0")
    if (c < 0).any():
        raise ValueError(f"code_length={c.tolist()!r} is not allowed: a code length is >= 0 bits")
    return np.maximum(0.0, i - c)


def string_bits(runs, split: str = "train") -> pd.DataFrame:
    """One row per run, epoch and string of ``split`` (``"train"`` or ``"test"``): ``self_information``,
    ``code_length`` (from the run's loss) and ``memorised`` bits, ``clipped`` where the code length was above
    the self-information (the model codes the string worse than its distribution does)."""
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r} is not allowed: use 'train' or 'test'")
    rows = []
    for run in list(runs):
        strings = run.config.train if split == "train" else run.config.test
        info = [self_information(d) for d in strings]
        m = run.metrics[run.metrics.split == split]
        if m.empty:
            continue
        length = np.array([len(strings[j]["text"]) for j in m.string])
        code = m.loss.to_numpy() * length / _LN2
        self_info = np.array([info[j] for j in m.string])
        rows.append(pd.DataFrame({"run": run.key[:12], "model": run.config.model, "seed": run.config.seed,
                                  "epoch": m.epoch.to_numpy(), "string": m.string.to_numpy(),
                                  "self_information": self_info, "code_length": code,
                                  "memorised": memorised(self_info, code), "clipped": code > self_info}))
    if not rows:
        raise ValueError(f"no run has {split} measurements: give runs with {split} strings")
    return pd.concat(rows, ignore_index=True)


def bits_by_epoch(bits: pd.DataFrame) -> pd.DataFrame:
    """Per run and epoch, from :func:`string_bits`: ``strings`` measured, ``memorised`` (summed over them),
    ``information`` (their summed self-information: the most that can be memorised), ``share`` of it,
    and ``clipped`` strings."""
    g = bits.groupby(["run", "model", "seed", "epoch"], sort=False)
    out = g.agg(strings=("string", "size"), memorised=("memorised", "sum"), information=("self_information", "sum"),
                clipped=("clipped", "sum")).reset_index()
    out["share"] = out.memorised / out.information
    return out
