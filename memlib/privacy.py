"""Beyond the paper: extraction, exposure in bits, membership inference, and when each character
is memorised (notebook 05).

The paper measures recollection: the true prefix is given and the next character predicted. A
privacy researcher asks more of the same runs; everything here reads stored runs (no weights):

* **extraction** (Carlini et al. 2022): greedy generation reproduces the string. Greedy decoding
  stays on the string exactly as long as every prediction from the true context before it is
  right, so generation from BOS reproduces the leading run of correct positions of the run's own
  per-position arrays (``train_correct``, every epoch), and generation from a true ``k``-character
  prompt taken at offset ``o`` reproduces the leading run of correct predictions from the windows
  ``text[o:i]``, which the window probes of :mod:`memlib.probes` measure inside the run, one
  forward per offset (:func:`extraction_spec`). :func:`greedy_generate` decodes for real and the
  tests check that both agree.
* **exposure** (Carlini et al., "The Secret Sharer", 2019), in bits: ``-log2 P(loss(X) <= loss(s))`` for
  ``X`` drawn from the string's distribution. Counted among the run's held-out strings (``share = (count + 1)
  / (N + 1)``, at most ``log2(N + 1)`` bits) and, with ``permuted`` probes, among permutations of the string's
  own letters (the candidates that match its composition); measured beyond any count by importance sampling
  (:mod:`memlib.candidates`, :func:`measured_exposure_table`), with a 95% interval, checked against exact
  enumeration; where only a count exists, extrapolated with the Secret Sharer's skew-normal fit (maximum
  likelihood), capped at the string's self-information, and labelled so. A held-out string measured the
  same way against the other candidates checks the count: its rank among ``N`` exchangeable strings is
  uniform, so its counted exposure has the exact expectation ``log2 N - log2(N!) / N``
  (:func:`expected_counted_exposure`: 1.32 bits for ``N = 31``, tending to ``1/ln 2 = 1.44`` bits).
* **membership inference**: the loss-threshold attack, trained strings against held-out strings (and against
  permutations of the trained strings), pooled over the runs of a setting, on the raw loss and calibrated by
  the loaded model's loss (:func:`attack_table`): ROC AUC and the true-positive rate at 1% and 0.1% false
  positives (:func:`tpr_at_fpr`), NaN ("not measurable at this n") with fewer than ``ceil(1 / fpr)``
  non-members.
* **extraction at standard sizes** (:func:`extraction_sizes`): Carlini et al. 2022's k-extractable rate for
  several ``k`` and the share of the ``n`` characters reproduced before the first error.
* **onset**: per character, the first epoch from which it stays correct to the end of the run, with
  its position, its probability under the distribution and its uniqueness (:func:`memlib.probes.uniqueness`).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import torch

from .phases import stable_from
from .labels import plural, setting, span
from .metrics import LN2, memorised_at
from .stats import EXPLORATORY, WITHIN_RUN, in_family, paired_contrast
from .probes import ProbeSpec, uniqueness
from .strings import self_information, string_parts

__all__ = ["MIN_CANDIDATES", "milestones", "holds_from", "expected_counted_exposure",
           "specs", "extraction_spec", "check_extraction", "greedy_generate", "extracted_lengths", "extraction_table",
           "extraction_sizes", "sizes_lines",
           "exposure", "exposure_table", "membership_table", "FPRS", "needed_non_members", "tpr_at_fpr", "attack_table",
           "measured_exposure_table", "needed_candidates", "candidate_plan", "candidate_runs", "candidates_verdict", "one_string_runs",
           "onset_table", "onset_summary", "status_table", "verdict"]

# The skew-normal fit needs enough candidates to estimate a third moment.
MIN_CANDIDATES = 20


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


def _leading_run(correct) -> np.ndarray:
    """Per row of a bool ``(..., L)`` array: how many positions are correct before the first error."""
    c = np.asarray(correct, dtype=bool)
    wrong = ~c
    return np.where(wrong.any(-1), wrong.argmax(-1), c.shape[-1])


def _runs(runs) -> list:
    runs = list(runs)
    if not runs:
        raise ValueError("runs is empty: give at least one run")
    return runs


def _base(run) -> dict:
    c = run.config
    s = c.train[0]
    return {"setting": setting(run, strings=True), "model": c.model, "lr": c.lr, "seed": c.seed, "run": run.key[:12],
            "alphabet_size": len(s.get("alphabet") or ""), "string_entropy": s.get("entropy", float("nan"))}


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
    for run in _runs(runs):
        L = len(run.config.train[0]["text"])
        check_extraction(k, n, L)
        if run.config.dropout:
            raise ValueError(f"{run!r} trained with dropout: its per-position arrays come from noisy training passes, "
                             f"not from what greedy generation would do; use runs with dropout=False")
        probed = set(run.arrays["probe_epochs"].tolist()) if "probe_epochs" in run.arrays else set()
        epochs = run.arrays["train_epochs"].tolist()
        lead = _leading_run(run.arrays["train_correct"])  # epochs x strings
        acc = run.metrics[run.metrics.split == "train"].set_index(["epoch", "string"]).accuracy
        for j in range(len(run.config.train)):
            for t, e in enumerate(epochs):
                row = {**_base(run), "string": j, "epoch": e, "accuracy": acc[(e, j)], "from_bos": int(lead[t, j]),
                       "from_bos_share": lead[t, j] / L, "prefix_mean": np.nan, "k_extractable": np.nan}
                if e in probed:
                    a = run.probe(e, j)
                    if "window_correct" not in a or a["offsets"][0] != 0:
                        raise ValueError(f"{run!r} has no extraction probes from offset 0: run it with "
                                         f"probes=memlib.privacy.extraction_spec(...)")
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
    for run in _runs(runs):
        L = len(run.config.train[0]["text"])
        for k in ks:
            check_extraction(k, n, L)
        probed = run.arrays["probe_epochs"].tolist() if "probe_epochs" in run.arrays else []
        acc = run.metrics[run.metrics.split == "train"].set_index(["epoch", "string"]).accuracy
        for e in probed:
            for j in range(len(run.config.train)):
                a = run.probe(e, j)
                if "window_correct" not in a:
                    raise ValueError(f"{run!r} has no extraction probes: run it with probes=memlib.privacy.extraction_spec(...)")
                offsets = a["offsets"]
                lengths = extracted_lengths(a["window_correct"], offsets)
                for k in ks:
                    use = np.flatnonzero((offsets + k + n <= L) & ((offsets == 0) if k == 0 else True))
                    after = np.minimum(lengths[use, offsets[use] + k], n)
                    rows.append({**_base(run), "string": j, "epoch": int(e), "accuracy": acc[(e, j)], "k": k, "n": n,
                                 "prompts": len(use), "k_extractable": float(np.mean(after >= n)),
                                 "suffix_share": float(np.mean(after / n))})
    return pd.DataFrame(rows)


def sizes_lines(sizes: pd.DataFrame) -> list[str]:
    """The verdict's lines of :func:`extraction_sizes`: per setting and ``k``, the k-extractable rate and the
    share of the suffix reproduced at the first probed epoch with accuracy >= 0.9 and at the end."""
    lines = []
    for name, d in sizes.groupby("setting", sort=False):
        n = int(d.n.iloc[0])
        parts = []
        for k, dk in d.groupby("k"):
            end = dk[dk.epoch == dk.groupby("run").epoch.transform("max")]
            hi = dk[dk.accuracy >= 0.9]
            first = hi[hi.epoch == hi.groupby("run").epoch.transform("min")]
            what = "BOS alone (no prompt)" if k == 0 else f"k={k}"
            parts.append(f"{what}: rate {span(first.k_extractable, '{:.2f}', 'never')} / share {span(first.suffix_share, '{:.2f}', 'never')} "
                         f"when accuracy first reaches 0.9 (at a probed epoch), {span(end.k_extractable, '{:.2f}', 'never')} / "
                         f"{span(end.suffix_share, '{:.2f}', 'never')} at the end")
        lines.append(f"- Extraction of **{name}** at standard sizes (the next n={n} characters exactly after a true k-character "
                     f"prompt: k-extractable rate / share of the {n} reproduced before the first error, ranges over runs): "
                     + "; ".join(parts) + ".")
    return lines


def _skewnorm_fit(x) -> tuple[float, float, float]:
    """Skew-normal ``(xi, omega, alpha)`` fitted to the sample by maximum likelihood (:func:`scipy.stats.skewnorm.fit`,
    as the Secret Sharer fits its candidates). ValueError when the sample does not vary (no distribution to fit)."""
    from scipy.stats import skewnorm

    x = np.asarray(x, dtype=np.float64)
    s = x.std(ddof=1)
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"the candidates' losses do not vary (std {s}): no distribution to fit")
    alpha, xi, omega = skewnorm.fit(x)
    return float(xi), max(float(omega), 1e-12), float(alpha)


def _log_ndtr(u: np.ndarray) -> np.ndarray:
    """log of the standard normal CDF, accurate far into the lower tail."""
    u = np.asarray(u, dtype=np.float64)
    out = np.empty_like(u)
    mid = u > -30
    out[mid] = np.log(0.5 * np.vectorize(math.erfc, otypes=[float])(-u[mid] / math.sqrt(2)))
    t = u[~mid]  # asymptotic series of Mills' ratio
    out[~mid] = -t ** 2 / 2 - np.log(-t) - 0.5 * math.log(2 * math.pi) + np.log1p(-1 / t ** 2 + 3 / t ** 4 - 15 / t ** 6)
    return out


def _skewnorm_logcdf(x: float, xi: float, omega: float, alpha: float) -> float:
    """log P(X <= x) of a skew-normal, by integrating its density in log space (stays finite far
    into the lower tail, where ``cdf = Phi - 2T`` loses every digit). Below the bulk the density
    falls off at rate ``r = -z + alpha phi(alpha z) / Phi(alpha z)`` below ``z``; there the grid
    spans ``40 / r`` with steps of at most ``0.05 / r_max`` (``r_max`` at its lower end)."""
    z = (x - xi) / omega
    if z > 8 and alpha >= 0:
        return 0.0

    def log_f(t):
        return math.log(2) - t ** 2 / 2 - 0.5 * math.log(2 * math.pi) + _log_ndtr(alpha * t)

    def slope(t):
        return -t + alpha * math.exp(-(alpha * t) ** 2 / 2 - 0.5 * math.log(2 * math.pi) - float(_log_ndtr(np.array([alpha * t]))[0]))

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
    raw = -_skewnorm_logcdf(loss, *_skewnorm_fit(c)) / LN2
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
    for run in _runs(runs):
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
                rows.append({**_base(run), "epoch": e, "member": True, "string": j, "loss": loss,
                             "candidates": len(losses), "max_bits": cap, **exposure(loss, losses, max_bits=cap)})
            for j, loss in losses.items():
                others = losses.drop(j)
                cap = self_information(run.config.test[j])
                rows.append({**_base(run), "epoch": e, "member": False, "string": j, "loss": loss,
                             "candidates": len(others), "max_bits": cap, **exposure(loss, others, max_bits=cap)})
    return pd.DataFrame(rows)


def _auc(members, others) -> float:
    """P(a member's loss < a non-member's), ties counting half."""
    a, b = np.asarray(members)[:, None], np.asarray(others)[None, :]
    return float((a < b).mean() + 0.5 * (a == b).mean())


FPRS = (0.01, 0.001)  # the false-positive rates the attacks report


def needed_non_members(fpr: float) -> int:
    """How many non-members a threshold needs before it may flag one of them at false-positive rate ``fpr``
    (``ceil(1 / fpr)``): with fewer, a TPR "at" ``fpr`` is a TPR at zero observed false positives.
    ValueError for a rate outside (0, 1), which no sample size supports."""
    if isinstance(fpr, bool) or not isinstance(fpr, (int, float)) or not 0 < fpr < 1:
        raise ValueError(f"fpr={fpr!r} is not allowed: use a false-positive rate in (0, 1); no number of non-members "
                         f"measures a rate of 0 or 1")
    return math.ceil(1 / fpr - 1e-9)


def tpr_at_fpr(members, non_members, fpr: float) -> dict:
    """The loss-threshold attack's true-positive rate at false-positive rate ``fpr`` (scores: lower = member).
    The threshold is the ``(a + 1)``-th lowest non-member score, ``a = floor(fpr * N)``: scores strictly below
    it are flagged, so at most ``a`` non-members are (ties at the threshold are not flagged, members' ties
    neither). ``tpr`` is NaN and ``measurable`` False where ``N < ceil(1 / fpr)`` (``needed``): the text
    reports that as "not measurable at this n". ``fpr_reached`` = ``a / N``. ``tpr_low`` / ``tpr_high``: the
    95% Clopper-Pearson interval of the share of members flagged, given the threshold (the threshold's own
    sampling, one non-member's score at 0.1% of 1,000, is not in it)."""
    needed = needed_non_members(fpr)
    mem, non = np.asarray(members, dtype=np.float64), np.sort(np.asarray(non_members, dtype=np.float64))
    if not len(mem):
        raise ValueError("members is empty: give at least one member score")
    allowed = int(math.floor(fpr * len(non) + 1e-9))
    if len(non) < needed:
        return {"tpr": np.nan, "tpr_low": np.nan, "tpr_high": np.nan, "fpr_reached": 0.0, "measurable": False,
                "needed": needed, "non_members": len(non)}
    from scipy.stats import binomtest

    threshold = non[allowed] if allowed < len(non) else np.inf
    flagged = int((mem < threshold).sum())
    ci = binomtest(flagged, len(mem)).proportion_ci(0.95, method="exact")
    return {"tpr": flagged / len(mem), "tpr_low": float(ci.low), "tpr_high": float(ci.high),
            "fpr_reached": allowed / len(non), "measurable": True, "needed": needed, "non_members": len(non)}


def membership_table(runs, fpr: float = 0.01) -> pd.DataFrame:
    """The loss-threshold membership attack, pooled over the runs of each setting, at every epoch at
    which the held-out strings were evaluated: ``auc`` (ROC AUC: a training string has a lower loss
    than a held-out one), ``tpr_at_fpr`` (:func:`tpr_at_fpr`: NaN, ``measurable`` False, with fewer than
    ``needed`` held-out strings), ``members`` / ``non_members`` (counts), ``runs``."""
    needed_non_members(fpr)
    rows = []
    frames = []
    for run in _runs(runs):
        m = run.metrics
        tested = set(m[m.split == "test"].epoch)
        frames.append(m[m.epoch.isin(tested)].assign(setting=setting(run, strings=True), lr=run.config.lr, run=run.key))
    data = pd.concat(frames, ignore_index=True)
    for (name, e), d in data.groupby(["setting", "epoch"], sort=False):
        mem, non = d[d.split == "train"].loss.to_numpy(), d[d.split == "test"].loss.to_numpy()
        t = tpr_at_fpr(mem, non, fpr)
        rows.append({"setting": name, "model": d.model.iloc[0], "lr": d.lr.iloc[0], "epoch": e,
                     "auc": _auc(mem, non), "tpr_at_fpr": t["tpr"], "fpr": fpr, "fpr_reached": t["fpr_reached"],
                     "measurable": t["measurable"], "needed": t["needed"],
                     "members": len(mem), "non_members": len(non), "runs": d.run.nunique()})
    return pd.DataFrame(rows)


def onset_table(runs) -> pd.DataFrame:
    """One row per run, training string and position: ``onset``, the first epoch from which the
    character is predicted correctly at every later epoch of the run (NaN: wrong at the end,
    ``censored``), its ``char``, ``p_char`` (probability under the string's distribution) and
    ``uniqueness`` (shortest k whose k-gram before it is unique in the string)."""
    rows = []
    for run in _runs(runs):
        epochs = run.arrays["train_epochs"]
        for j, d in enumerate(run.config.train):
            text, alphabet, probs = string_parts(d)
            p = dict(zip(alphabet, probs))
            first = stable_from(run.arrays["train_correct"][:, j, :])
            onset = np.where(np.isnan(first), np.nan, epochs[np.nan_to_num(first).astype(int)])
            rows.append(pd.DataFrame({**_base(run), "string": j, "position": np.arange(len(text)), "char": list(text),
                                      "p_char": [p[ch] for ch in text], "uniqueness": uniqueness(text),
                                      "onset": onset, "censored": np.isnan(first)}))
    return pd.concat(rows, ignore_index=True)


def onset_summary(onsets: pd.DataFrame) -> pd.DataFrame:
    """Per setting: characters, the share censored, the median onset, and Spearman correlations of
    the onset with the position, the character's probability and its uniqueness (censored
    characters count as later than every onset, also in the median: inf when most are censored)."""
    rows = []
    for name, d in onsets.groupby("setting", sort=False):
        late = d.onset.fillna(np.inf).rank()  # Spearman: Pearson correlation of ranks (ties averaged)
        corr = {c: late.corr(d[c].rank()) if d[c].nunique() > 1 and late.nunique() > 1 else np.nan
                for c in ("position", "p_char", "uniqueness")}
        rows.append({"setting": name, "characters": len(d), "censored": d.censored.mean(),
                     "median_onset": d.onset.fillna(np.inf).median(), **{f"rho_{c}": v for c, v in corr.items()}})
    return pd.DataFrame(rows)


def specs(models, *, epochs, measure_at, length: int, k: int, n: int, n_test_strings: int, offset_step: int = 1,
          permuted: int | None = None) -> dict:
    """The extraction probes of every model (``epochs`` and ``measure_at`` may be per model), with
    every argument of notebook 05 checked before any training: ``k`` and ``n`` fit the strings,
    enough held-out strings for the exposure fit, and every measured epoch within the model's run."""
    from .presets import per_model

    check_extraction(k, n, length)
    if isinstance(n_test_strings, bool) or not isinstance(n_test_strings, int) or n_test_strings < MIN_CANDIDATES + 1:
        raise ValueError(f"n_test_strings={n_test_strings!r} is not allowed: exposure needs at least "
                         f"{MIN_CANDIDATES + 1} held-out strings (candidates for the distribution fit)")
    out = {}
    for m in models:
        e, at = per_model(epochs, m), per_model(measure_at, m)
        spec = extraction_spec(length, at, offset_step, permuted)
        try:
            spec.resolved(length, e)
        except ValueError as err:
            raise ValueError(f"measure_at for {m}: {err}") from None
        if e not in at:
            raise ValueError(f"measure_at for {m} is {list(at)}: include the run's last epoch ({e}), which the "
                             f"notebook reads as the end of the run")
        out[m] = spec
    return out


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
    for r in _runs(runs):
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


def _reached(values, n_all: int) -> str:
    """The span of the runs that reached a mark, and how many did when not all."""
    got = [v for v in values if pd.notna(v)]
    return span(got, none="never") + ("" if len(got) == n_all else f" ({len(got)} of {n_all} runs; the others never)")


# The tests notebook 05's finding rests on (memlib.stats.Family), per model over its one-string runs: when exposure
# saturates its count against when the string is memorised, and the first character's onset against the others'.
# The many-member runs' contrasts are over strings of one run: described, never tested (memlib.stats.WITHIN_RUN).
PRIMARY = (r".*: count saturates - memorised", r".*: first character's onset - the others' latest")


def verdict(extraction: pd.DataFrame, exposure: pd.DataFrame, membership: pd.DataFrame, marks: pd.DataFrame,
            onsets: pd.DataFrame, onset_stats: pd.DataFrame, *, length: int, k: int, n: int, family=None) -> list[str]:
    """Notebook 05's verdict, one markdown line per statement, from :func:`extraction_table`,
    :func:`exposure_table`, :func:`membership_table`, :func:`milestones`, :func:`onset_table` and
    :func:`onset_summary` of the same runs (strings of ``length`` characters; extraction with ``k``, ``n``). Its
    tests form one family (:data:`PRIMARY`)."""
    if family is None:
        return in_family(lambda f: verdict(extraction, exposure, membership, marks, onsets, onset_stats, length=length,
                                           k=k, n=n, family=f), PRIMARY)
    held = exposure[~exposure.member]
    lines = _exposure_check(held)
    for name in dict.fromkeys(extraction.setting):
        mk = marks[marks.setting == name]
        lines += _setting_lines(name, mk, extraction[extraction.setting == name],
                                exposure[(exposure.setting == name) & exposure.member],
                                membership[membership.setting == name], length=length, k=k, n=n)
    lines += contrasts(marks, onsets, family)
    for name, d in onsets.groupby("setting", sort=False):
        first_char = d[d.position == 0]
        late = d.assign(t=d.onset.fillna(np.inf))  # never stable counts as latest
        strict = tied = 0
        for row in late[late.position == 0].itertuples():
            others = late[(late.run == row.run) & (late.position > 0)].t
            strict += int(row.t > others.max())
            tied += int(row.t == others.max())
        lines.append(f"- **{name}**: the first character (predicted from BOS alone) is stable from epoch "
                     f"{_reached(first_char.onset, len(first_char))}; it is the last character of its string to become "
                     f"stable in {strict} of {len(first_char)} runs (tied for last in {tied} more).")
    for _, row in onset_stats.iterrows():
        lines.append(f"- Onsets, **{row.setting}**: {row.characters} characters, {row.censored:.0%} never stable; Spearman "
                     f"correlation of the onset with position {row.rho_position:+.2f}, with the character's probability "
                     f"{row.rho_p_char:+.2f} (frequent letters can become correct by guessing and stay so), with uniqueness "
                     f"{row.rho_uniqueness:+.2f} (nan: the quantity does not vary).")
    return lines


def contrasts(marks: pd.DataFrame, onsets: pd.DataFrame, family=None) -> list[str]:
    """The verdict's paired contrasts, per model over all its runs (each run is its own pair): the epoch from which
    the trained string's exposure saturates its count against the epoch it is memorised, and the first character's
    onset (predicted from BOS alone) against the latest onset of the string's other characters (never stable:
    censored, later than the run's last epoch)."""
    lines = []
    for model, mk in marks.groupby("model", sort=False):
        parts = []
        sat = mk.dropna(subset=["beyond_all_candidates"])
        if len(sat):
            c = paired_contrast(sat.beyond_all_candidates, sat.memorised, kind="difference",
                                censored_b=sat.memorised.isna(), length_b=sat.last_epoch).decided(
                family, f"{model}: count saturates - memorised")
            parts.append(f"epoch from which the count saturates (read at the measured epochs) - epoch memorised: "
                         f"{c.text('{:.1f}', ('earlier', 'later', 'at the same epoch'))}")
        o = onsets[onsets.run.isin(mk.run)]
        if len(o):
            last = mk.set_index("run").last_epoch
            first, others = [], []
            for run, d in o.groupby("run", sort=False):
                t = d.onset.fillna(np.inf)
                first.append(t[d.position == 0].iloc[0])
                others.append(t[d.position > 0].max())
            first, others = np.array(first), np.array(others)
            ends = last.reindex(o.run.drop_duplicates()).to_numpy() + 1
            c = paired_contrast(np.where(np.isinf(first), ends, first), np.where(np.isinf(others), ends, others),
                                kind="difference", censored_a=np.isinf(first), censored_b=np.isinf(others),
                                length_a=ends, length_b=ends).decided(family, f"{model}: first character's onset - the "
                                                                              f"others' latest")
            parts.append(f"onset of the first character - latest onset of the others: "
                         f"{c.text('{:.1f}', ('earlier', 'later', 'at the same epoch'))}")
        if parts:
            lines.append(f"- **{model}**, paired within each of its {plural(len(mk), 'run')} ({plural(mk.setting.nunique(), 'setting')}), "
                         f"in epochs: " + "; ".join(parts) + ".")
    return lines


def _exposure_check(held: pd.DataFrame) -> list[str]:
    n_cand = int(held.candidates.median()) + 1
    lines = [f"- Check of the exposure estimate on held-out strings, each against the other candidates ({n_cand} strings "
             f"ranked): counted exposure {held.counted.mean():.2f} bits on average over {len(held)} measurements, against "
             f"an exact expectation of {expected_counted_exposure(n_cand):.2f}."]
    return lines


def _setting_lines(name, mk, x, ex, mi, *, length, k, n) -> list[str]:
    n_runs = len(mk)
    lines = [f"- **{name}** ({plural(n_runs, 'run')}): accuracy with the true prefix reaches 0.5 / 0.9 / 1 at epochs "
             f"{_reached(mk.accuracy_50, n_runs)} / {_reached(mk.accuracy_90, n_runs)} / {_reached(mk.accuracy_100, n_runs)}; "
             f"greedy generation from BOS reproduces half the string at epoch {_reached(mk.from_bos_half, n_runs)} (all of "
             f"it when accuracy is 1, by definition); when accuracy first reaches 0.9, generation from BOS reproduces "
             f"{_reached(mk.from_bos_at_acc_90, n_runs)} of {length} characters."]
    last = x[x.k_extractable.notna()].groupby("run").epoch.max()
    end = x[[e == last.get(r_) for r_, e in zip(x.run, x.epoch)]]
    end_ex = ex[ex.epoch == ex.groupby("run").epoch.transform("max")]
    rate_1 = ("from epoch " + span(mk.k_extractable_1, none="never") if mk.k_extractable_1.notna().any()
              else "at no measured epoch")
    lines.append(f"  - At the end of the runs: accuracy {span(end.accuracy, '{:.2f}', 'never')}, extracted from BOS "
                 f"{span(end.from_bos, none='never')} of {length} characters, k-extractable rate "
                 f"{span(end.k_extractable, '{:.2f}', 'never')} (k={k}, n={n}; rate 1 {rate_1}), exposure "
                 f"{span(end_ex.exposure, '{:.1f}', 'never')} bits ({', '.join(sorted(set(end_ex.method)))}; at the cap, the "
                 f"string's self-information of {span(end_ex.max_bits, '{:.0f}', 'never')} bits, in "
                 f"{int(end_ex.capped.sum())} of {len(end_ex)}).")
    sat = mk.dropna(subset=["beyond_all_candidates"])
    if len(sat):
        acc_then = [x[(x.seed == s_) & (x.epoch == e)].accuracy.iloc[0] for s_, e in zip(sat.seed, sat.beyond_all_candidates)]
        ahead = sum(a_ < 0.9 for a_ in acc_then)
        lines.append(f"  - The trained string stays more likely than all {int(ex.candidates.max())} candidates (the count "
                     f"saturates) from epoch {_reached(mk.beyond_all_candidates, n_runs)}, when accuracy is "
                     f"{span(acc_then, '{:.2f}', 'never')}"
                     + (f": in {ahead} of {len(sat)} runs the exposure saturates its count before accuracy reaches 0.9."
                        if ahead else "."))
    if len(mi):
        tpr_from = holds_from(mi.epoch, mi.tpr_at_fpr >= 1)
        members, non = int(mi.members.max()), int(mi.non_members.max())
        fpr = float(mi.fpr.iloc[0])
        tpr = (f"not measurable at this n ({non} held-out strings; {fpr:.0%} needs {int(mi.needed.iloc[0])})"
               if not mi.measurable.all() else
               f"1.00 from epoch {tpr_from:.0f} to the end" if pd.notna(tpr_from) else f"{mi.tpr_at_fpr.iloc[-1]:.2f} at the end")
        lines.append(f"  - Membership attack (pooled over {plural(members, 'trained string')} and {non} held-out ones: "
                     f"an AUC over so few members is noisy): AUC {mi.auc.iloc[0]:.2f} at epoch "
                     f"{mi.epoch.iloc[0]}, before any training, "
                     + (f"1.00 from epoch {mk.attack_auc_1.iloc[0]:.0f} to the end" if pd.notna(mk.attack_auc_1.iloc[0])
                        else f"{mi.auc.iloc[-1]:.2f} at the end")
                     + f"; true-positive rate at {fpr:.0%} false positives {tpr}. The many-member runs below measure both with "
                     f"enough members and non-members.")
    return lines


# Many members, many candidates (runs whose probes set ``permuted`` / ``samples``: memlib.candidates).

def _candidate_epochs(run) -> list[int]:
    return [int(e) for e in run.arrays.get("probe_epochs", []) if f"probe_e{int(e)}_run_member_loss" in run.arrays]


def _held_out_at(run, epoch: int) -> np.ndarray:
    m = run.metrics
    return m[(m.split == "test") & (m.epoch == epoch)].sort_values("string").loss.to_numpy()


def _scores(run, epoch: int) -> dict:
    """Member losses and both kinds of non-members' at ``epoch``, all from the probes' computation but the
    held-out strings (the loop's no-grad pass, the same loss to float rounding)."""
    c = run.candidates(epoch)
    perms = np.concatenate([run.probe(epoch, j)["permuted_loss"] for j in range(len(run.config.train))]) \
        if run.config.probes.permuted else np.zeros(0)
    return {"members": c["member_loss"], "fresh": _held_out_at(run, epoch), "permuted": perms}


def attack_table(runs, fprs=FPRS) -> pd.DataFrame:
    """Membership inference with many members, pooled over the runs of each setting, at every epoch with
    candidates (:func:`memlib.candidates`): the training strings against ``fresh`` non-members (the held-out
    strings: the distribution's draws) and against ``permuted`` ones (permutations of the members' own
    characters: what the letter histogram cannot tell apart), each with two scores: ``loss`` (the raw
    loss threshold) and ``calibrated`` (the loss minus the same string's loss under the loaded model, epoch
    0, as reference-model attacks calibrate; its rows are left out without epoch 0). Columns ``auc``, ``members``,
    ``non_members``, ``accuracy`` (the members' mean training accuracy then), and per rate in ``fprs``:
    ``tpr_<fpr>`` with ``tpr_<fpr>_low`` / ``_high`` (NaN: not measurable at this n) and ``needed_<fpr>``
    (:func:`needed_non_members`)."""
    rates = list(fprs)
    for f in rates:
        needed_non_members(f)  # a rate outside (0, 1): refused before any work
    rows = []
    groups: dict = {}
    for run in _runs(runs):
        groups.setdefault(setting(run, strings=True), []).append(run)
    for name, rs in groups.items():
        epochs = sorted(set.intersection(*[set(_candidate_epochs(r)) for r in rs]))
        if not epochs:
            raise ValueError(f"the runs of {name} have no candidates: run them with probes that set permuted and samples")
        at = {e: [_scores(r, e) for r in rs] for e in epochs}
        for e in epochs:
            lacking = [r for r, x in zip(rs, at[e]) if len(x["fresh"]) != len(r.config.test)]
            if lacking:
                raise ValueError(f"{lacking[0]!r} did not measure its held-out strings at epoch {e}, where its candidates "
                                 f"were: give eval_every the candidates' epochs (memlib.privacy.candidate_runs does)")
        for e in epochs:
            for against in ("fresh", "permuted"):
                for score in ("loss", "calibrated"):
                    if score == "calibrated" and 0 not in at:
                        continue
                    mem = np.concatenate([x["members"] - (at[0][i]["members"] if score == "calibrated" else 0)
                                          for i, x in enumerate(at[e])])
                    non = np.concatenate([x[against] - (at[0][i][against] if score == "calibrated" else 0)
                                          for i, x in enumerate(at[e])])
                    if not len(non):
                        continue
                    acc = [r.metrics[(r.metrics.split == "train") & (r.metrics.epoch == e)].accuracy for r in rs]
                    row = {"setting": name, "model": rs[0].config.model, "epoch": e, "against": against, "score": score,
                           "auc": _auc(mem, non), "members": len(mem), "non_members": len(non), "runs": len(rs),
                           "accuracy": float(pd.concat(acc).mean())}
                    for f in rates:
                        t = tpr_at_fpr(mem, non, f)
                        row[f"tpr_{f:g}"], row[f"needed_{f:g}"] = t["tpr"], t["needed"]
                        row[f"tpr_{f:g}_low"], row[f"tpr_{f:g}_high"] = t["tpr_low"], t["tpr_high"]
                    rows.append(row)
    return pd.DataFrame(rows)


def measured_exposure_table(runs, *, level: float = 0.95) -> pd.DataFrame:
    """Exposure of every training string at every epoch with candidates, four ways side by side, in bits:
    ``fresh`` counted among the held-out strings (``-log2((count + 1) / (N + 1))``, at most ``log2(N + 1)``),
    ``permuted`` counted among permutations of its own characters (``fresh_matched``: counted among as many
    held-out strings as there are permutations, the first of them: the same resolution), ``measured`` by importance sampling
    (:func:`memlib.candidates.tail_probability`, with ``measured_low`` / ``measured_high``, its ``level``
    interval, ``hits`` and ``ess``; NaN with no hit), ``exact`` by enumeration where the run enumerated,
    and ``fitted``, the Secret Sharer's extrapolation (skew-normal maximum-likelihood fit to the held-out
    losses), kept only as a labelled comparison. ``max_bits``: the string's self-information."""
    from .candidates import enumeration_index, exact_tail, same_as, tail_probability

    rows = []
    for run in _runs(runs):
        for e in _candidate_epochs(run):
            c = run.candidates(e)
            fresh = _held_out_at(run, e)
            for j, loss in enumerate(c["member_loss"]):
                cap = self_information(run.config.train[j])
                row = {**_base(run), "epoch": e, "string": j, "loss": loss, "max_bits": cap,
                       "fresh_n": len(fresh), "permuted_n": 0}
                for kind, cands in (("fresh", fresh),
                                    ("permuted", run.probe(e, j)["permuted_loss"] if run.config.probes.permuted else [])):
                    cands = np.asarray(cands)
                    row[f"{kind}_n"] = len(cands)
                    row[kind] = -math.log2((int((cands <= loss).sum()) + 1) / (len(cands) + 1)) if len(cands) else np.nan
                n_p = row["permuted_n"]  # fresh candidates at the permuted ones' resolution: a fair comparison
                row["fresh_matched"] = (-math.log2((int((fresh[:n_p] <= loss).sum()) + 1) / (n_p + 1))
                                        if 0 < n_p <= len(fresh) else np.nan)
                row["fitted"] = min(-_skewnorm_logcdf(loss, *_skewnorm_fit(fresh)) / LN2, cap) \
                    if len(fresh) >= MIN_CANDIDATES else np.nan
                text, alphabet, _ = string_parts(run.config.train[j])
                if "sampled_loss" in c:
                    same = same_as(text, alphabet, c["sampled_letters"]) if "sampled_letters" in c else None
                    t = tail_probability(loss, c["sampled_loss"], c["sampled_log_weight"], level=level, same=same)
                    row.update(measured=t["exposure"], measured_low=t["exposure_low"], measured_high=t["exposure_high"],
                               hits=t["hits"], samples=t["n"], ess=t["ess"])
                if "enumerated_loss" in c:
                    row["exact"] = -math.log2(exact_tail(loss, c["enumerated_loss"], c["enumerated_log2_p"],
                                                         itself=enumeration_index(text, alphabet)))
                rows.append(row)
    return pd.DataFrame(rows)


_PLAN_KEYS = {"model": str, "lr": float, "length": int, "alphabet_size": int, "members": int, "epochs": int,
              "measure_at": list, "candidates": int, "permuted": int, "samples": int, "seeds": list,
              "enumerate": bool, "count_bits": float}


def needed_candidates(bits: float) -> int:
    """How many candidates counted exposure needs to reach ``bits`` (``log2(N + 1) >= bits``)."""
    if isinstance(bits, bool) or not isinstance(bits, (int, float)) or not bits > 0:
        raise ValueError(f"count_bits={bits!r} is not allowed: use a number of bits > 0")
    return math.ceil(2.0 ** bits - 1 - 1e-9)


def candidate_plan(plan: dict, what: str = "many") -> dict:
    """A notebook's plan of many-member runs (notebook 05's ``many`` and ``enumeration``) checked before any
    training: every key known (``model``, ``lr``, ``length``, ``alphabet_size``, ``members`` training strings
    per run, ``epochs``, ``measure_at`` (with 0, the reference of the calibrated attack, and the last epoch),
    ``candidates`` held-out strings, ``permuted`` per member, ``samples`` importance samples, ``seeds``,
    optional ``enumerate`` and ``count_bits``: the counted exposure the notebook promises, which needs
    :func:`needed_candidates`). Returns the plan with its :class:`ProbeSpec` under ``spec``."""
    if not isinstance(plan, dict):
        raise ValueError(f"{what}={plan!r} is not allowed: give a dict with keys {sorted(_PLAN_KEYS)}")
    unknown = sorted(set(plan) - set(_PLAN_KEYS))
    missing = sorted(set(_PLAN_KEYS) - set(plan) - {"enumerate", "count_bits"})
    if unknown or missing:
        raise ValueError(f"{what} has " + (f"unknown keys {unknown}" if unknown else f"no {missing}")
                         + f": use the keys {sorted(_PLAN_KEYS)} (enumerate and count_bits optional)")
    at = list(plan["measure_at"])
    if 0 not in at or plan["epochs"] not in at:
        raise ValueError(f"{what}['measure_at']={at} is not allowed: include 0 (the loaded model, the calibrated "
                         f"attack's reference) and the last epoch ({plan['epochs']})")
    if plan.get("count_bits") is not None and plan["candidates"] < needed_candidates(plan["count_bits"]):
        raise ValueError(f"{what}['candidates']={plan['candidates']} is too few for counted exposure up to "
                         f"{plan['count_bits']} bits: that needs {needed_candidates(plan['count_bits'])} candidates "
                         f"(log2(N + 1) bits at most)")
    spec = ProbeSpec(at=tuple(at), ks=(0,), replace=(), shifts=(), draws=1, permuted=plan["permuted"],
                     samples=plan["samples"], enumerate=bool(plan.get("enumerate", False)))
    try:
        spec.resolved(plan["length"], plan["epochs"])
    except ValueError as err:
        raise ValueError(f"{what}: {err}") from None
    return {**plan, "spec": spec}


def candidate_runs(plans: dict, *, store, precision) -> dict:
    """The runs of every :func:`candidate_plan` in ``plans`` (``{name: plan}``, e.g. notebook 05's ``many`` and
    ``enumeration``), all checked first, trained in one sweep (runs of one model side by side in launched
    processes): ``{name: runs}``, one run per seed of a plan, ``members`` training strings and ``candidates``
    held-out strings each, every candidate measured at ``measure_at``."""
    from .sweep import grids_runs

    checked = {name: candidate_plan(plan, name) for name, plan in plans.items()}
    grids = [dict(models=[p["model"]], seeds=p["seeds"], grid=[{"alphabet_size": p["alphabet_size"]}], length=p["length"],
                  n_train_strings=p["members"], n_test_strings=p["candidates"], epochs=p["epochs"], lr=p["lr"],
                  eval_every=list(p["measure_at"]), probes=p["spec"]) for p in checked.values()]
    return dict(zip(checked, grids_runs(grids, precision=precision, store=store)))


def _fmt_tpr(row, f: float) -> str:
    v = row[f"tpr_{f:g}"]
    return (f"{v:.2f} ({row[f'tpr_{f:g}_low']:.2f} to {row[f'tpr_{f:g}_high']:.2f})" if pd.notna(v) else
            f"not measurable at this n ({int(row.non_members)} non-members; {f:.1%} needs {int(row[f'needed_{f:g}']):,})")


def candidates_verdict(attack: pd.DataFrame, exposures: pd.DataFrame, enumerated: pd.DataFrame | None = None,
                       fprs=FPRS, *, by: str = "setting") -> list[str]:
    """The verdict of the many-member runs, one markdown line per statement: the attack against fresh and
    permuted non-members (raw and calibrated) at the first and last measured epochs and where they part;
    the per-member exposure gap between fresh and permuted candidates at the same count (paired over members;
    a count at its top is a lower bound, entered as censored); importance-sampled exposure with its hits, and
    the skew-normal fit against it; and, from ``enumerated`` (:func:`measured_exposure_table` of runs that
    enumerated), how often the interval covered the exact value. Members of one run share its training and
    its importance samples: their contrasts speak for those strings, not for other seeds. ``by``: what the exposure contrasts pool their members over
    (``"setting"``, or ``"model"`` for one-string runs, whose settings hold a member or two each)."""
    lines = []
    for name, a in attack.groupby("setting", sort=False):
        last, epochs = a.epoch.max(), sorted(set(a.epoch))
        parts, tprs = [], []
        ends = a[a.epoch == last]
        unmeasurable = [f for f in fprs if ends[f"tpr_{f:g}"].isna().all()]
        for (against, score), d in a.groupby(["against", "score"], sort=False):
            d = d.set_index("epoch")
            end = d.loc[last]
            parts.append(f"against {int(end.non_members)} {against} non-members, {'raw loss' if score == 'loss' else 'calibrated'} "
                         + " ".join(f"{v:.2f}" for v in d.auc))
            if len(unmeasurable) < len(fprs):
                tprs.append(f"{against} / {'raw' if score == 'loss' else 'calibrated'}: " + ", ".join(
                    f"at {f:.1%} FPR {_fmt_tpr(end, f)}" for f in fprs if f not in unmeasurable))
        if unmeasurable:
            tprs.append(f"at {' and '.join(f'{f:.1%}' for f in unmeasurable)} FPR not measurable at this n "
                        f"({span(ends.non_members.astype(int))} non-members; "
                        + " and ".join(f"{needed_non_members(f):,}" for f in unmeasurable) + " needed)")
        raw = a[(a.against == "fresh") & (a.score == "loss")].set_index("epoch")
        lowest = min(fprs)
        by_epoch = ("" if raw[f"tpr_{lowest:g}"].isna().all() else
                    f" Against fresh non-members on the raw loss, TPR at {lowest:.1%} FPR by epoch: "
                    + " ".join(f"{v:.2f}" for v in raw[f"tpr_{lowest:g}"]) + ".")
        lines.append(f"- Membership attack on **{name}** ({plural(int(a.members.iloc[0]), 'member')}; calibrated: the loss "
                     f"minus the same string's loss under the loaded model), at epochs {', '.join(map(str, epochs))} "
                     f"(members' mean training accuracy " + " ".join(f"{v:.2f}" for v in raw.accuracy) + "), AUC "
                     + "; ".join(parts) + "." + by_epoch + " TPR at the end (95% Clopper-Pearson interval over the "
                     "members, the threshold given), " + "; ".join(tprs) + ".")
    if by not in ("setting", "model"):
        raise ValueError(f"by={by!r} is not allowed: use 'setting' or 'model'")
    # members of one run share its model and its samples: described, not tested; one-string runs: a run per member,
    # tested but not among the notebook's primary tests
    within = WITHIN_RUN if by == "setting" else EXPLORATORY
    for name, x in exposures.groupby(by, sort=False):
        tied = []
        for e, d in x.groupby("epoch"):
            parts = []
            sampled = "measured" in d and d.samples.notna().any()
            alike = (d.fresh_matched == d.permuted).all()
            if not sampled and alike:
                tied.append(e)  # every member counted alike against both kinds: nothing to contrast
                continue
            if not alike and d.permuted.notna().all() and d.fresh_matched.notna().all() and len(d) > 1:
                top = math.log2(int(d.permuted_n.iloc[0]) + 1) - 1e-9  # the count's top: a lower bound
                c = paired_contrast(d.fresh_matched, d.permuted, kind="difference", censored_a=d.fresh_matched >= top,
                                    censored_b=d.permuted >= top).decided(within)
                parts.append(f"counted against {int(d.permuted_n.iloc[0])} fresh - against {int(d.permuted_n.iloc[0])} "
                             f"permuted candidates {c.text('{:.2f}', ('lower', 'higher', 'equal'))}")
            if sampled:
                m = d.dropna(subset=["measured"])
                missing = len(d) - len(m)
                parts.append(f"measured (importance-sampled) exposure median {m.measured.median():.1f} bits over "
                             f"{len(m)} strings (range {m.measured.min():.1f} to {m.measured.max():.1f}; "
                             f"{int(d.samples.max())} samples, hits {int(m.hits.min())}-{int(m.hits.max())} per string; "
                             f"widest 95% interval {(m.measured_high - m.measured_low).max():.2f} bits; self-information "
                             f"{d.max_bits.median():.1f})"
                             + (f"; {missing} with no sample as likely: beyond what the samples resolve" if missing else ""))
                if m.fitted.notna().all() and len(m) > 1:
                    c = paired_contrast(m.fitted, m.measured, kind="difference").decided(within)
                    parts.append(f"skew-normal fit - measured {c.text('{:.1f}', ('below', 'above', 'equal'))}")
            if parts:
                lines.append(f"- Exposure of the {len(d)} training strings of **{name}** at epoch {e} (bits): "
                             + "; ".join(parts) + ".")
        if tied:
            lines.append(f"- Exposure of the training strings of **{name}** at epochs {', '.join(map(str, tied))}: counted "
                         f"alike against fresh and permuted candidates, string by string (at both counts' top, or equal).")
    if enumerated is not None and len(enumerated):
        ok = enumerated.dropna(subset=["measured", "exact"])
        inside = (ok.measured_low <= ok.exact) & (ok.exact <= ok.measured_high)
        dropped = len(enumerated) - len(ok)
        lines.append(f"- Check against exact enumeration ({len(ok)} member-epochs"
                     + (f", and {dropped} where no sample was as likely, left out" if dropped else "")
                     + f"; one run, its members sharing the samples; exact exposure "
                     f"{ok.exact.min():.1f} to {ok.exact.max():.1f} bits, {int((ok.exact > ok.fresh_n.map(lambda n: math.log2(n + 1))).sum())} "
                     f"of them beyond what their {int(ok.fresh_n.max())} counted candidates resolve): the importance-sampled "
                     f"95% interval covers the exact value in {int(inside.sum())} of {len(ok)} ({inside.mean():.0%}); largest "
                     f"|measured - exact| {np.abs(ok.measured - ok.exact).max():.2f} bits.")
    return lines


def one_string_runs(P: dict, specs: dict, store) -> list:
    """Notebook 05's one-string runs, from its parameters ``P``: every model of ``P["models"]`` over
    ``P["grid"]`` at ``P["lr"]``, then ``P["compare_models"]`` over ``P["compare_grid"]`` at ``P["compare_lr"]``;
    one training string and ``P["n_test_strings"]`` held-out strings per seed, measured at each model's
    ``measure_at`` with its probes from :func:`specs`."""
    from .presets import per_model
    from .sweep import grid_runs

    out = []
    for names, settings, rate in ((P["models"], P["grid"], P["lr"]), (P["compare_models"], P["compare_grid"], P["compare_lr"])):
        for name in names:
            out += grid_runs([name], P["seeds"], settings, length=P["length"], n_train_strings=1,
                             n_test_strings=P["n_test_strings"], epochs=P["epochs"], lr=rate,
                             eval_every=per_model(P["measure_at"], name), lr_schedule=P["lr_schedule"],
                             max_grad_norm=P["max_grad_norm"], probes=specs[name], precision=P["precision"], store=store)
    return out
