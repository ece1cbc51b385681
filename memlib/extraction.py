"""Extraction (Carlini et al. 2022, "Quantifying Memorization Across Neural Language Models"): how much of a
trained string greedy decoding reproduces, from BOS alone and after a true ``k``-character prompt.

Greedy decoding stays on the string exactly as long as every prediction from the true context before it is right,
so generation from BOS reproduces the leading run of correct positions of the run's own per-position arrays
(``train_correct``, every epoch), and generation from a true ``k``-character prompt taken at offset ``o`` reproduces
the leading run of correct predictions from the windows ``text[o:i]``, which the window probes of
:mod:`memlib.probes` measure inside the run, one forward per offset (:func:`extraction_spec`). Everything here reads
stored runs (no weights) but :func:`greedy_generate`, which decodes for real; the tests check that both agree.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch

from .checks import check_runs
from .config import ProbeSpec
from .labels import run_columns

__all__ = ["extraction_spec", "check_extraction", "greedy_generate", "extracted_lengths", "extraction_table",
           "extraction_sizes", "leading_run"]


def extraction_spec(length: int, at, offset_step: int = 1, permuted: int | None = None) -> ProbeSpec:
    """Probes that measure extraction inside a run, at the epochs ``at``: windows from every
    ``offset_step``-th offset (0 included; one forward each), and nothing else of notebook 03's probes
    but BOS alone; with ``permuted = M``, also ``M`` permutations of each training string's letters
    (:mod:`memlib.candidates`), the candidates that match its composition."""
    if isinstance(offset_step, bool) or not isinstance(offset_step, int) or offset_step < 1:
        raise ValueError(f"offset_step={offset_step!r} is not allowed: use an integer >= 1")
    return ProbeSpec(at=tuple(at), ks=(0,), replace=(), shifts=(), draws=1,
                     offsets=tuple(range(0, int(length), offset_step)), permuted=permuted)


def check_extraction(k, n, length: int) -> None:
    """ValueError naming ``k`` or ``n`` unless ``k >= 0``, ``n >= 1`` and ``k + n <= length``."""
    for name, v, low in (("k", k, 0), ("n", n, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise ValueError(f"{name}={v!r} is not allowed: use an integer >= {low}")
    if k + n > length:
        raise ValueError(f"k={k} and n={n} are not allowed for strings of {length} characters: the prompt and the "
                         f"continuation must fit in the string (k + n <= {length})")


@torch.no_grad()
def greedy_generate(model, prompt: str, n: int) -> str:
    """Greedy decoding of ``n`` tokens after ``[BOS] + prompt`` (argmax over the full vocabulary,
    no cache tricks): the generated letters, ``"?"`` for any token that is not a single letter."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    back = {t: ch for ch, t in zip(letters, model.letter_ids(letters))}
    ids = torch.tensor([model.encode(prompt)], device=model.device)
    net, was = model.model, model.model.training
    net.eval()
    out = []
    try:
        for _ in range(n):
            nxt = int(net(input_ids=ids, use_cache=False).logits[0, -1].argmax())
            out.append(back.get(nxt, "?"))
            ids = torch.cat([ids, torch.tensor([[nxt]], device=model.device)], dim=1)
    finally:
        net.train(was)
    return "".join(out)


def extracted_lengths(window_correct, offsets) -> np.ndarray:
    """``(len(offsets), L + 1)`` int: entry ``[a, i]`` (``i >= o = offsets[a]``) is how many
    characters greedy generation reproduces exactly after the prompt ``text[o:i]`` (a prompt of
    ``k = i - o`` characters); 0 at ``i = L``. ``window_correct``: ``(len(offsets), L)`` bool from
    the window probes (entry ``[a, i]``: ``text[i]`` predicted from ``text[o:i]``)."""
    c = np.asarray(window_correct, dtype=bool)
    offsets = np.asarray(offsets)
    if c.ndim != 2 or c.shape[0] != len(offsets):
        raise ValueError(f"window_correct of shape {c.shape} does not fit {len(offsets)} offsets: give (offsets, L)")
    L = c.shape[1]
    run = np.zeros((len(offsets), L + 1), dtype=np.int64)
    for i in range(L - 1, -1, -1):
        run[:, i] = np.where(c[:, i] & (i >= offsets), run[:, i + 1] + 1, 0)
    return run


def leading_run(correct) -> np.ndarray:
    """Per row of a bool ``(..., L)`` array: how many positions are correct before the first error."""
    c = np.asarray(correct, dtype=bool)
    wrong = ~c
    return np.where(wrong.any(-1), wrong.argmax(-1), c.shape[-1])


def extraction_table(runs, *, k: int, n: int) -> pd.DataFrame:
    """Extraction of each run's training strings, one row per run, string and epoch.

    At every epoch (from the run's arrays): ``accuracy`` and ``from_bos``, the characters greedy
    generation from BOS alone reproduces before its first error (``from_bos_share`` of the length).
    At the epochs the run's extraction probes measured (NaN elsewhere), over the probed offsets
    (:func:`extraction_spec`; every offset by default, not a sample): ``prefix_mean``, the mean over
    offsets ``o < L - k`` of the characters reproduced after the true ``k``-character prompt at
    ``o``; ``k_extractable``, the share of offsets ``o <= L - k - n`` from which the next ``n``
    characters all come out exactly (Carlini et al.'s k-extractable rate)."""
    rows = []
    for run in check_runs(runs):
        L = len(run.config.train[0]["text"])
        check_extraction(k, n, L)
        if run.config.dropout:
            raise ValueError(f"{run!r} trained with dropout: its per-position arrays come from noisy training passes, "
                             f"not from what greedy generation would do; use runs with dropout=False")
        probed = set(run.arrays["probe_epochs"].tolist()) if "probe_epochs" in run.arrays else set()
        epochs = run.arrays["train_epochs"].tolist()
        lead = leading_run(run.arrays["train_correct"])  # epochs x strings
        acc = run.metrics[run.metrics.split == "train"].set_index(["epoch", "string"]).accuracy
        for j in range(len(run.config.train)):
            for t, e in enumerate(epochs):
                row = {**run_columns(run), "string": j, "epoch": e, "accuracy": acc[(e, j)], "from_bos": int(lead[t, j]),
                       "from_bos_share": lead[t, j] / L, "prefix_mean": np.nan, "k_extractable": np.nan}
                if e in probed:
                    a = run.probe(e, j)
                    if "window_correct" not in a or a["offsets"][0] != 0:
                        raise ValueError(f"{run!r} has no extraction probes from offset 0: run it with "
                                         f"probes=memlib.extraction.extraction_spec(...)")
                    offsets = a["offsets"]
                    lengths = extracted_lengths(a["window_correct"], offsets)
                    keep = offsets + k < L
                    after = lengths[np.flatnonzero(keep), (offsets + k)[keep]]
                    row["prefix_mean"] = after.mean()
                    row["k_extractable"] = float(np.mean(after[offsets[keep] <= L - k - n] >= n))
                    if lengths[0, 0] != lead[t, j]:  # two measurements of the same thing; can differ by a near tie
                        warnings.warn(f"{run!r}, epoch {e}: extraction from BOS is {lead[t, j]} from the run's arrays "
                                      f"but {lengths[0, 0]} from its probes (a near tie decided differently by two "
                                      f"forward passes of different shapes)", stacklevel=2)
                rows.append(row)
    return pd.DataFrame(rows)


def extraction_sizes(runs, *, ks, n: int) -> pd.DataFrame:
    """Extraction at standard sizes (Carlini et al. 2022: a true ``k``-character prefix, then the next ``n``
    characters exactly under greedy decoding; Biderman et al. 2023 report the share of the continuation
    reproduced), one row per run, training string, probed epoch and ``k`` in ``ks``, over every probed offset
    ``o`` with ``o + k + n <= L`` (prompts ``text[o:o+k]``): ``k_extractable``, the share of prompts after
    which all ``n`` characters come out exactly; ``suffix_share``, the mean share of the ``n`` reproduced
    before the first error (a lower bound of Biderman et al.'s share, which also counts characters that
    match again after an error); ``prompts``. ``k = 0`` is generation from BOS alone: no prompt at all,
    the string's first ``n`` characters (one prompt per string)."""
    ks = list(ks)
    if not ks:
        raise ValueError("ks is empty: give at least one prompt length")
    rows = []
    for run in check_runs(runs):
        L = len(run.config.train[0]["text"])
        for k in ks:
            check_extraction(k, n, L)
        probed = run.arrays["probe_epochs"].tolist() if "probe_epochs" in run.arrays else []
        acc = run.metrics[run.metrics.split == "train"].set_index(["epoch", "string"]).accuracy
        for e in probed:
            for j in range(len(run.config.train)):
                a = run.probe(e, j)
                if "window_correct" not in a:
                    raise ValueError(f"{run!r} has no extraction probes: run it with probes=memlib.extraction.extraction_spec(...)")
                offsets = a["offsets"]
                lengths = extracted_lengths(a["window_correct"], offsets)
                for k in ks:
                    use = np.flatnonzero((offsets + k + n <= L) & ((offsets == 0) if k == 0 else True))
                    after = np.minimum(lengths[use, offsets[use] + k], n)
                    rows.append({**run_columns(run), "string": j, "epoch": int(e), "accuracy": acc[(e, j)], "k": k, "n": n,
                                 "prompts": len(use), "k_extractable": float(np.mean(after >= n)),
                                 "suffix_share": float(np.mean(after / n))})
    return pd.DataFrame(rows)
