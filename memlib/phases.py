"""Phases of repeated exposure, detected from a run's metrics with one documented rule.

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

from .labels import lr_label, plural
from .metrics import MEMORISED_HOLD, MEMORISED_THRESHOLD, memorised_at
from .models import RANDOM_SUFFIX  # noqa: F401  (also read as memlib.phases.RANDOM_SUFFIX)
from .stats import in_family, median_interval, paired_contrast, sign_counts, sign_test
from .store import canonical

__all__ = ["PhaseRule", "detect_phases", "phases", "phase_table", "pretrained_vs_random", "epochs_to", "stable_from",
           "spearman", "run_curves", "model_summary", "rate_summary", "position_order", "twin_contrasts", "verdict"]

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


def _pair_key(run) -> str:
    """What must match between a model and its random-weight twin: everything but the weights, the learning
    rate (each model may run at its own) and the number of epochs (the twin may need more)."""
    c = run.config.to_dict()
    same = ("train", "test", "lr_schedule", "weight_decay", "max_grad_norm", "dropout", "batch_size", "seed",
            "weights_dtype", "autocast")
    return canonical({k: c[k] for k in same})  # JSON: a run fresh from training and one loaded compare equal


def pretrained_vs_random(runs, rule: PhaseRule | None = None) -> pd.DataFrame:
    """:func:`phase_table` of the runs of each model ``X`` and its random-weight twin ``X-random``: one row per
    run (a run given twice counted once), with ``pair`` (= ``X``), ``init`` ("pretrained" or "random") and ``lr``.

    Every run of either model must have a run of the other on the same strings, seed and optimiser settings (at
    any learning rate: :func:`twin_pairs` says which rates are compared); otherwise ValueError names the
    unmatched run. Runs of models without a twin in ``runs`` are ignored.
    """
    runs = list({r.key: r for r in runs}.values())
    names = {r.config.model for r in runs}
    twins = {n for n in names if n.endswith(RANDOM_SUFFIX) and n[: -len(RANDOM_SUFFIX)] in names}
    pairs = {n[: -len(RANDOM_SUFFIX)] for n in twins}
    if not pairs:
        raise ValueError(f"no model and its random-weight twin (X and X{RANDOM_SUFFIX}) among the runs' models "
                         f"{sorted(names)}")
    keys = {}
    for r in runs:
        m = r.config.model
        if m in pairs or m in twins:
            base = m[: -len(RANDOM_SUFFIX)] if m in twins else m
            keys.setdefault((base, _pair_key(r)), []).append(r)
    rows = []
    for (base, _), group in keys.items():
        if {r.config.model for r in group} != {base, base + RANDOM_SUFFIX}:
            r = group[0]
            raise ValueError(f"run {r.key[:12]} ({r.config.model}, lr {r.config.lr}, seed {r.config.seed}) has no twin "
                             f"on the same strings, seed and optimiser settings: pair {base} with {base}{RANDOM_SUFFIX}")
        for r in group:
            row = phases(r, rule)
            row.update(pair=base, init="random" if r.config.model in twins else "pretrained")
            rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values(["pair", "lr", "init", "seed"], kind="stable").reset_index(drop=True)


def twin_pairs(comparison: pd.DataFrame, own: dict | None = None) -> list[tuple]:
    """The comparisons a :func:`pretrained_vs_random` table holds, as ``(pair, pretrained lr, random lr, own)``:
    both models at every rate both ran at, and (with ``own``, ``{model: its own learning rate}``) each model at
    its own rate, marked ``own`` True and listed first (where the own rates are equal, that is the equal-rate
    comparison). Other mixes of rates are not compared."""
    out = []
    for pair, g in comparison.groupby("pair", sort=False):
        rates = {init: sorted(set(g[g.init == init].lr)) for init in ("pretrained", "random")}
        mine = None
        if own and pair in own and pair + RANDOM_SUFFIX in own:
            mine = (own[pair], own[pair + RANDOM_SUFFIX])
            if mine[0] in rates["pretrained"] and mine[1] in rates["random"]:
                out.append((pair, *mine, True))
        out += [(pair, lr, lr, False) for lr in rates["pretrained"] if lr in rates["random"] and (lr, lr) != mine]
    return out


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


def spearman(a, b) -> float:
    """Spearman rank correlation (Pearson correlation of average ranks); NaN for fewer than 3 pairs."""
    a, b = pd.Series(np.asarray(a, dtype=float)), pd.Series(np.asarray(b, dtype=float))
    ok = a.notna().to_numpy() & b.notna().to_numpy()
    if ok.sum() < 3:
        return math.nan
    return float(a[ok].rank().corr(b[ok].rank()))


def run_curves(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean over strings within each run: one row per (model, seed, split, epoch)."""
    return metrics.groupby(["model", "seed", "split", "epoch"], sort=True).mean(numeric_only=True).reset_index()


def model_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per model of a :func:`phase_table` (medians over seeds): parameters, lr, runs, the share of runs with a
    distinct guessing phase, where it ends, where memorisation starts, epochs to 50/90/99% accuracy, the number of
    memorised runs and the last epoch."""
    out = table.groupby("model", sort=False).agg(
        parameters=("n_params", "first"), lr=("lr", "first"), runs=("seed", "size"),
        distinct_guessing=("distinct_guessing", "mean"), guess_end=("guess_end", "median"),
        mem_start=("mem_start", "median"), epochs_to_50=("epochs_to_50", "median"),
        epochs_to_90=("epochs_to_90", "median"), epochs_to_99=("epochs_to_99", "median"),
        mem_end=("mem_end", "median"), memorised_runs=("mem_end", "count"), last_epoch=("last_epoch", "max"))
    out["parameters"] = out.parameters.map(lambda n: f"{n / 1e6:.1f}M")
    return out


def rate_summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """Per (pair, lr, init) of :func:`pretrained_vs_random` (medians over seeds; counts of runs with a distinct
    guessing phase and of memorised runs)."""
    return comparison.groupby(["pair", "lr", "init"], sort=False).agg(
        model=("model", "first"), runs=("seed", "size"), distinct_guessing=("distinct_guessing", "sum"),
        guess_end=("guess_end", "median"), mem_start=("mem_start", "median"), epochs_to_50=("epochs_to_50", "median"),
        epochs_to_90=("epochs_to_90", "median"), epochs_to_99=("epochs_to_99", "median"),
        mem_end=("mem_end", "median"), memorised_runs=("mem_end", "count"), last_epoch=("last_epoch", "max"),
        final_accuracy=("final_accuracy", "median"),
        final_alphabet_mass=("final_alphabet_mass", "median"))


def position_order(run, string: int = 0) -> dict:
    """In which order a run's training string ``string`` is memorised: ``correct`` (epoch x position),
    ``first_stable`` (per position, the epoch from which it is always correct; NaN: wrong at the end) and ``rho``
    (Spearman correlation of position and that epoch; 1 = strictly left to right)."""
    correct = run.arrays["train_correct"][:, string, :]
    first_stable = stable_from(correct)  # train strings are measured every epoch: index = epoch
    return {"correct": correct, "first_stable": first_stable,
            "rho": spearman(np.arange(len(first_stable)), first_stable)}


# The tests notebook 01's finding rests on (memlib.stats.Family; the others are exploratory): pretrained against
# random weights, each at its own learning rate (epochs until the distribution is learnt, until memorised; at a
# shared rate, exploratory: a rate that suits one of the two decides the answer), and the order in which positions
# are memorised. The held-out loss's rise is read from its lowest epoch, chosen from the same data: exploratory.
PRIMARY = (r".*: pretrained / random, each at its own rate .*, epochs until .*", r".*: memorisation order over seeds")


def verdict(per_model: pd.DataFrame, metrics: pd.DataFrame, *, guess_level: float, models, comparison=None,
            order: dict | None = None, run=None, rhos=None, own: dict | None = None, family=None) -> list[str]:
    """Notebook 01's verdict, one markdown line per statement: per model (:func:`model_summary`), held-out strings
    against ``guess_level`` (from ``metrics``, the runs' metrics table), pretrained against random weights, each at
    its own rate (``own``: ``{model: lr}``) and at shared rates (``comparison``: :func:`pretrained_vs_random`, or
    None; with :func:`twin_contrasts`), and the
    memorisation order of ``run`` (:func:`position_order`), and ``rhos``, the same correlation for every seed of
    that model (its median with its order-statistic interval). Its tests form one family (:data:`PRIMARY`)."""
    if family is None:
        return in_family(lambda f: verdict(per_model, metrics, guess_level=guess_level, models=models,
                                           comparison=comparison, order=order, run=run, rhos=rhos, own=own, family=f),
                         PRIMARY)
    by_rate = rate_summary(comparison) if comparison is not None else None
    lines = []
    for model, row in per_model.iterrows():
        def med(c):
            return "not reached" if pd.isna(row[c]) else f"epoch {row[c]:.0f}"
        lines.append(f"- **{model}** ({row.parameters}, lr {lr_label(row.lr)}): distinct guessing phase in "
                     f"{row.distinct_guessing:.0%} of runs (ends {med('guess_end')}); memorisation starts {med('mem_start')}; "
                     f"50% / 90% / 99% accuracy at {med('epochs_to_50')} / {med('epochs_to_90')} / {med('epochs_to_99')}; "
                     f"memorised (accuracy >= {MEMORISED_THRESHOLD} held {MEMORISED_HOLD} epochs) in {row.memorised_runs}/"
                     f"{row.runs} runs"
                     + (f", from {med('mem_end')} (median of those)." if row.memorised_runs else "."))
    curves = run_curves(metrics)
    test_final = curves[curves.split == "test"].groupby("model").apply(
        lambda d: d[d.epoch == d.epoch.max()].accuracy.mean(), include_groups=False)
    above = test_final.max() > guess_level + 0.05
    lines.append(f"- Held-out strings end at accuracy {test_final.min():.2f}-{test_final.max():.2f} "
                 f"(likeliest-letter guess {guess_level:.2f}): "
                 + ("some model predicts strings it never saw above the guessing level." if above else
                    "within 0.05 of the guessing level, so nothing beyond the distribution is learnt about strings never seen."))
    if by_rate is not None:
        lines += _pretrained_vs_random_lines(by_rate, comparison, family, own)
    for model in models:  # held-out strings as training goes on: loss and per-position entropy
        held = curves[(curves.model == model) & (curves.split == "test")].groupby("epoch")[["loss", "entropy_position"]].mean()
        low, end = held.loss.idxmin(), held.index[-1]
        if held.loss[end] > held.loss[low] + 0.05 and held.entropy_position[end] < held.entropy_position.max() - 0.05:
            per_seed = (metrics[(metrics.model == model) & (metrics.split == "test")]
                        .groupby(["seed", "epoch"]).loss.mean().unstack("epoch"))
            rise = (paired_contrast(per_seed[end], per_seed[low], kind="difference").decided(
                family, f"{model}: held-out loss, last epoch - its lowest") if low in per_seed else None)
            lines.append(f"- {model}, held-out strings: loss rises from {held.loss[low]:.2f} nats (epoch {low}) to "
                         f"{held.loss[end]:.2f} (epoch {end}) while the per-position entropy falls from "
                         f"{held.entropy_position.max():.2f} to {held.entropy_position[end]:.2f} bits: over-confident on "
                         f"strings it never saw"
                         + (f" (loss at epoch {end} - at epoch {low}, seed by seed: {rise.text(words=('lower', 'higher', 'equal'))})"
                            if rise is not None else "") + ".")
    if order is not None:
        rho, first_stable = order["rho"], order["first_stable"]
        words = ("scattered across the string, not left to right" if abs(rho) < 0.3 else
                 ("left to right" if rho > 0 else "right to left") + " in tendency")
        stable = int(np.isfinite(first_stable).sum())
        lines.append(f"- Memorisation order ({run.config.model}, seed {run.config.seed}): Spearman correlation of position "
                     f"and epoch-from-which-correct = {rho:.2f} over the {stable} of {len(first_stable)} positions correct "
                     f"from some epoch to the end (1 would be strictly left to right): {words}.")
        if rhos is not None and len(rhos) > 1:
            values = np.asarray([r for r in rhos if np.isfinite(r)], dtype=float)
            ci, p = median_interval(values), sign_test(np.sign(values).astype(int).tolist())
            d = family.decide(f"{run.config.model}: memorisation order over seeds", p, estimate=ci.estimate,
                              low=ci.low, high=ci.high, level=ci.level, n=ci.n, supported=ci.excludes(0),
                              **sign_counts(values))
            tendency = ("" if not d.established(ci.excludes(0)) else
                        " (a left-to-right tendency)" if ci.estimate > 0 else " (a right-to-left tendency)")
            lines.append(f"  - The same correlation over every seed of {run.config.model}: median {ci.text()}; sign test "
                         f"{d.words(p, ci.excludes(0))}{tendency}.")
    return lines


def twin_contrasts(comparison: pd.DataFrame, own: dict | None = None) -> dict:
    """Pretrained against random weights, seed by seed, for each comparison of :func:`twin_pairs` (keys ``(pair,
    pretrained lr, random lr)``): epochs until the distribution is learnt (``guess_end``) and until memorised
    (``mem_end``, :func:`memlib.metrics.memorised_at`), as :class:`memlib.stats.Contrast` s of ratios
    pretrained / random; a run that never got there counts as longer than its last epoch (censored)."""
    out = {}
    for pair, lr_p, lr_r, _ in twin_pairs(comparison, own):
        g = comparison[comparison.pair == pair]
        a = g[(g.init == "pretrained") & (g.lr == lr_p)].set_index("seed")
        b = g[(g.init == "random") & (g.lr == lr_r)].set_index("seed")
        seeds = [s for s in a.index if s in b.index]
        a, b = a.loc[seeds], b.loc[seeds]
        out[(pair, lr_p, lr_r)] = {col: paired_contrast(a[col], b[col], kind="ratio", censored_a=a[col].isna(),
                                                        censored_b=b[col].isna(), length_a=a.last_epoch,
                                                        length_b=b.last_epoch)
                                   for col in ("guess_end", "mem_end")}
    return out


def twin_label(lr_p: float, lr_r: float, own: bool) -> str:
    """How a comparison of :func:`twin_pairs` names its rates: ``"each at its own rate (lr 1e-4 / 5e-4)"`` or
    ``"both at lr 1e-4"``."""
    if own:
        return f"each at its own rate (lr {lr_label(lr_p)} / {lr_label(lr_r)})"
    return f"both at lr {lr_label(lr_p)}"


def _pretrained_vs_random_lines(by_rate: pd.DataFrame, comparison: pd.DataFrame, family, own=None) -> list[str]:
    lines = []
    for (pair, lr, init), row in by_rate.iterrows():
        def at(c):
            return f"at epoch {row[c]:.0f}" if pd.notna(row[c]) else f"not within {row.last_epoch} epochs"
        learnt = (f"distribution learnt {at('guess_end')}" if pd.notna(row.guess_end) else
                  f"distribution not learnt within {row.last_epoch} epochs (alphabet mass "
                  f"{row.final_alphabet_mass:.2f} at the end)")
        lines.append(f"- {row.model} at lr {lr_label(lr)} (medians over {plural(row.runs, 'seed')}): {learnt}, "
                     f"memorisation starts {at('mem_start')}, memorised {at('mem_end')} (memorised in "
                     f"{row.memorised_runs}/{row.runs} runs, final accuracy {row.final_accuracy:.2f}); distinct guessing "
                     f"phase in {row.distinct_guessing}/{row.runs} runs.")
    contrasts = twin_contrasts(comparison, own)
    speed = ("faster", "slower", "as fast")
    for pair, lr_p, lr_r, mine in twin_pairs(comparison, own):
        rates = twin_label(lr_p, lr_r, mine)
        c = {col: contrasts[(pair, lr_p, lr_r)][col].decided(family, f"{pair}: pretrained / random, {rates}, "
                                                                     f"epochs until {what}")
             for col, what in (("guess_end", "the distribution is learnt"), ("mem_end", "memorised"))}
        lines.append(f"- Pretrained / random weights, {rates}, seed by seed: epochs until the distribution is learnt, "
                     f"{c['guess_end'].text(words=speed)}; epochs until memorised, {c['mem_end'].text(words=speed)}.")
    return lines
