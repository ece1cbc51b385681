"""Notebook 05's tables: when each measure reaches its mark, per character when it is memorised."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..checks import check_runs
from ..labels import run_columns, setting
from ..metrics import memorised_at
from ..milestones import stable_from
from ..probes import uniqueness
from ..stats import spearman
from ..strings import string_parts


def onset_table(runs) -> pd.DataFrame:
    """One row per run, training string and position: ``onset``, the first epoch from which the
    character is predicted correctly at every later epoch of the run (NaN: wrong at the end,
    ``censored``), its ``char``, ``p_char`` (probability under the string's distribution) and
    ``uniqueness`` (shortest k whose k-gram before it is unique in the string)."""
    rows = []
    for run in check_runs(runs):
        epochs = run.arrays["train_epochs"]
        for j, d in enumerate(run.config.train):
            text, alphabet, probs = string_parts(d)
            p = dict(zip(alphabet, probs))
            first = stable_from(run.arrays["train_correct"][:, j, :])
            onset = np.where(np.isnan(first), np.nan, epochs[np.nan_to_num(first).astype(int)])
            rows.append(pd.DataFrame({**run_columns(run), "string": j, "position": np.arange(len(text)), "char": list(text),
                                      "p_char": [p[ch] for ch in text], "uniqueness": uniqueness(text),
                                      "onset": onset, "censored": np.isnan(first)}))
    return pd.concat(rows, ignore_index=True)


def onset_summary(onsets: pd.DataFrame) -> pd.DataFrame:
    """Per setting: characters, the share censored, the median onset, and Spearman correlations of
    the onset with the position, the character's probability and its uniqueness (censored
    characters count as later than every onset, also in the median: inf when most are censored)."""
    rows = []
    for name, d in onsets.groupby("setting", sort=False):
        corr = {c: spearman(d.onset.fillna(np.inf), d[c]) for c in ("position", "p_char", "uniqueness")}
        rows.append({"setting": name, "characters": len(d), "censored": d.censored.mean(),
                     "median_onset": d.onset.fillna(np.inf).median(), **{f"rho_{c}": v for c, v in corr.items()}})
    return pd.DataFrame(rows)


def holds_from(epochs, mask) -> float:
    """The first epoch from which ``mask`` holds at every later epoch (NaN if not at the last)."""
    m = pd.Series(np.asarray(mask, dtype=bool), index=np.asarray(epochs)).sort_index()
    if not len(m) or not m.iloc[-1]:
        return np.nan
    broken = m.index[~m.to_numpy()]
    return float(m.index[m.index > broken.max()].min() if len(broken) else m.index.min())


def _first(epochs, mask) -> float:
    e = np.asarray(epochs)[np.asarray(mask, dtype=bool)]
    return float(e.min()) if len(e) else np.nan


def milestones(runs, extraction: pd.DataFrame, exposure: pd.DataFrame, membership: pd.DataFrame) -> pd.DataFrame:
    """Per run, the first epoch at which each measure reaches its mark (NaN: never): accuracy with
    the true prefix >= 0.5 / 0.9 / 1 (at the measured epochs); ``memorised``, the collection's definition
    (:func:`memlib.metrics.memorised_at` over every epoch's training pass); greedy generation from BOS reproducing half the string
    (``from_bos_half``) and all of it (the epoch accuracy reaches 1, by definition);
    ``from_bos_at_acc_90``, the characters it reproduces when accuracy first reaches 0.9; the epoch
    from which the trained string stays more likely than every candidate (``beyond_all_candidates``:
    the count saturates) and from which the setting's membership attack keeps AUC 1
    (``attack_auc_1``); the first epoch with k-extractable rate 1. Takes the tables of
    :func:`extraction_table`, :func:`exposure_table` and :func:`membership_table` of ``runs``."""
    rows = []
    for r in check_runs(runs):
        key, L = r.key[:12], len(r.config.train[0]["text"])
        x = extraction[extraction.run == key]
        ex = exposure[(exposure.run == key) & exposure.member]
        mi = membership[membership.setting == setting(r, strings=True)]
        e90 = _first(x.epoch, x.accuracy >= 0.9)
        train = r.metrics[r.metrics.split == "train"].groupby("epoch").accuracy.mean()
        rows.append({"setting": setting(r, strings=True), "model": r.config.model, "seed": r.config.seed, "run": key,
                     "memorised": memorised_at(train.index, train.to_numpy()),
                     "accuracy_50": _first(x.epoch, x.accuracy >= 0.5), "accuracy_90": e90,
                     "accuracy_100": _first(x.epoch, x.accuracy >= 1),
                     "from_bos_half": _first(x.epoch, x.from_bos >= L / 2),
                     "from_bos_at_acc_90": x[x.epoch == e90].from_bos.iloc[0] if not np.isnan(e90) else np.nan,
                     "beyond_all_candidates": holds_from(ex.epoch, ex["count"] == 0),
                     "attack_auc_1": holds_from(mi.epoch, mi.auc >= 1),
                     "k_extractable_1": _first(x.epoch, x.k_extractable >= 1),
                     "last_epoch": r.config.epochs})
    return pd.DataFrame(rows)


def status_table(runs) -> pd.DataFrame:
    """One row per run: ``setting``, ``seed``, ``epochs``, ``final_accuracy``, ``from_store``."""
    return pd.DataFrame([{"setting": setting(r, strings=True), "seed": r.config.seed, "epochs": r.config.epochs,
                          "final_accuracy": r.final().accuracy.mean(), "from_store": r.from_store} for r in runs])
