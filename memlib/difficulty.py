"""How hard a string is to memorise, from a run's metrics.

Per run (curves are means over the run's training / held-out strings):

* ``epochs_to_50/90/99``: first epoch with train accuracy >= 50/90/99%. When never reached the
  value is the run's last epoch and ``censored_50/90/99`` is True (a lower bound, shown as such).
* ``auc``: area under the train-accuracy curve divided by the number of epochs (the mean
  accuracy over training, 0..1; higher = memorised sooner).
* ``guess_accuracy``: held-out accuracy averaged over the run's epochs (trapezoid, like ``auc``):
  what can be predicted from the distribution alone (the in-context guessing baseline).
* ``gain``: the memorisation gain per epoch, train accuracy minus held-out accuracy (held-out
  accuracy interpolated between evaluated epochs): what is memorised beyond what can be
  guessed. ``gain_auc`` is its mean over epochs, ``gain_final`` its last value. The gain is bounded
  by ``1 - held-out accuracy``, so strings that are easy to guess have less to gain.
* ``gain_norm_auc``: the gain as a share of what cannot be guessed, ``gain / (1 - held-out
  accuracy)``, averaged over epochs: how fast the non-guessable part is memorised, comparable
  across strings with different guessing levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
import math
import numbers
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .models import PAPER_MODELS
from .parameters import NotebookParams, heldout_gaps
from .milestones import THRESHOLDS, epochs_to
from .stats import in_family, ols, spearman, spearman_p

__all__ = ["gain_curve", "difficulty", "difficulty_table", "entropy_grid", "fit_terms", "fit_trend", "mean_gain",
           "MEASURES", "setting_summary", "fits", "family_check", "verdict"]


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


def fit_terms(table: pd.DataFrame) -> list[str]:
    """The terms of ``y ~ entropy + log2_alphabet`` that ``table``'s runs can separate: those that vary,
    less ``log2_alphabet`` where entropy determines it (uniform strings only, where entropy is
    ``log2(alphabet size)``). Empty: nothing to fit."""
    terms = [t for t, col in (("entropy", "entropy"), ("log2_alphabet", "alphabet_size"))
             if table[col].round(6).nunique() > 1]
    if len(terms) == 2:
        X = np.column_stack([np.ones(len(table)), table.entropy, np.log2(table.alphabet_size.astype(float))])
        if np.linalg.matrix_rank(X) < 3:
            terms = ["entropy"]
    return terms


def fit_trend(table: pd.DataFrame, y: str, x=("entropy",)) -> pd.DataFrame:
    """Least-squares fit ``y ~ 1 + x...`` over the rows of ``table`` (one row per run), each coefficient with its
    95% t interval and p-value from heteroskedasticity-consistent (HC3) standard errors (:func:`memlib.stats.ols`,
    whose coverage at 24 runs is checked by simulation). Columns of ``x`` may include ``"log2_alphabet"``
    (computed from ``alphabet_size``)."""
    x = list(x)
    d = table.copy()
    if "log2_alphabet" in x:
        d["log2_alphabet"] = np.log2(d["alphabet_size"].astype(float))
    missing = [c for c in [y, *x] if c not in d]
    if missing:
        raise ValueError(f"columns {missing} not in the table: it has {', '.join(map(str, d.columns))}")
    d = d[[y, *x]].astype(float).dropna()
    if len(d) <= len(x) + 1:
        raise ValueError(f"{len(d)} rows cannot fit {len(x) + 1} coefficients")
    X = np.column_stack([np.ones(len(d)), d[x].to_numpy()])
    coef, se, lo, hi, p = ols(X, d[y].to_numpy())
    return pd.DataFrame({"term": ["intercept", *x], "coef": coef, "se": se, "ci_low": lo, "ci_high": hi, "p": p,
                         "n": len(d), "y": y})


def mean_gain(runs) -> pd.Series:
    """Memorisation gain per epoch, averaged over ``runs`` (see :func:`gain_curve`)."""
    return pd.concat([gain_curve(r.metrics) for r in runs]).groupby("epoch").gain.mean()


# The difficulty measures notebook 02 fits and states, with how its verdict names them.
MEASURES = {"guess_accuracy": "guessing level (held-out accuracy)", "epochs_to_90": "epochs to 90% train accuracy",
            "auc": "AUC of train accuracy (guessing included)",
            "gain_norm_auc": "normalised memorisation gain (beyond guessing)"}
FAMILY_CHECK_COLUMNS = ["model", "family", "runs", "rho(entropy, epochs to 90%)", "rho(entropy, AUC)",
                        "rho(entropy, normalised gain)", "rho(entropy, guess accuracy)", "rho(alphabet, AUC)",
                        "p(entropy, epochs to 90%)", "p(entropy, AUC)", "p(entropy, normalised gain)"]


def setting_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (model, alphabet size, entropy) of a :func:`difficulty_table`: runs, the means of :data:`MEASURES`, the
    number of runs not reaching 90%, the mean final accuracy and the last epoch."""
    return table.groupby(["model", "alphabet_size", "entropy"]).agg(
        runs=("seed", "size"), **{y: (y, "mean") for y in MEASURES}, not_reaching_90=("censored_90", "sum"),
        final_accuracy=("final_accuracy", "mean"), last_epoch=("last_epoch", "max"))


def fits(table: pd.DataFrame, models) -> tuple[dict, pd.DataFrame | None]:
    """``(terms, fits)``: per model the terms its runs can separate (:func:`fit_terms`), and one
    :func:`fit_trend` per model and measure of :data:`MEASURES` where there are more runs than coefficients
    plus two (None when no model has; a small grid is compared setting by setting instead)."""
    terms = {m: fit_terms(table[table.model == m]) for m in models}
    fitted = [m for m in models if terms[m] and len(table[table.model == m]) > len(terms[m]) + 2]
    out = pd.concat([fit_trend(table[table.model == m], y, terms[m]).assign(model=m) for m in fitted for y in MEASURES],
                    ignore_index=True) if fitted else None
    return terms, out


def family_check(table: pd.DataFrame, seeds) -> pd.DataFrame:
    """Per (model, family), over the non-uniform runs of ``seeds`` (the same seeds for every family): Spearman
    correlations of entropy with epochs to 90%, AUC, normalised gain and guessing level, and of alphabet size with AUC."""
    nonuniform = table[~np.isclose(table.entropy, np.log2(table.alphabet_size))]
    rows = []
    for (model, family), d in nonuniform.groupby(["model", "family"], sort=False):
        d = d[d.seed.isin(seeds)]
        rows.append({"model": model, "family": family, "runs": len(d),
                     "rho(entropy, epochs to 90%)": spearman(d.entropy, d.epochs_to_90),
                     "rho(entropy, AUC)": spearman(d.entropy, d.auc),
                     "rho(entropy, normalised gain)": spearman(d.entropy, d.gain_norm_auc),
                     "rho(entropy, guess accuracy)": spearman(d.entropy, d.guess_accuracy),
                     "rho(alphabet, AUC)": spearman(d.alphabet_size, d.auc),
                     "p(entropy, epochs to 90%)": spearman_p(d.entropy, d.epochs_to_90),
                     "p(entropy, AUC)": spearman_p(d.entropy, d.auc),
                     "p(entropy, normalised gain)": spearman_p(d.entropy, d.gain_norm_auc)})
    return pd.DataFrame(rows, columns=FAMILY_CHECK_COLUMNS)


def _effect(terms, fitted, m, y, term, family) -> str:
    if term not in terms[m]:
        return "not varied"
    f = fitted[(fitted.model == m) & (fitted.y == y) & (fitted.term == term)].iloc[0]
    from scipy.stats import norm

    z = float(norm.isf(f.p / 2)) if 0 < f.p < 1 else None  # the test's p on the normal scale, for units_for_power
    d = family.decide(f"{m}: {y} ~ {term}", f.p, estimate=f.coef, low=f.ci_low, high=f.ci_high, level=0.95,
                      n=int(f.n), supported=bool(f.ci_low > 0 or f.ci_high < 0), z=z)
    unit = "per bit" if term == "entropy" else "per doubling"
    return (f"{f.coef:+.3f} {unit} [95% CI {f.ci_low:+.3f}, {f.ci_high:+.3f}, n={int(f.n)} runs], "
            f"{d.words(f.p, f.ci_low > 0 or f.ci_high < 0)}")


# The tests notebook 02's finding rests on (memlib.stats.Family; the others are exploratory): how epochs to 90% and
# the normalised memorisation gain change with entropy and with alphabet size. The guessing level follows from the
# distribution by construction, the AUC mixes guessing with memorising, and the family checks are a robustness read.
PRIMARY = (r".*: (epochs_to_90|gain_norm_auc) ~ (entropy|log2_alphabet)",)


def verdict(table: pd.DataFrame, models, *, length: int, per_setting: pd.DataFrame, terms: dict, fitted,
            families: pd.DataFrame, family=None) -> list[str]:
    """Notebook 02's verdict, one markdown line per statement, from the main family's rows of a
    :func:`difficulty_table`, its :func:`setting_summary`, :func:`fits` and :func:`family_check`. Its tests form
    one family (:data:`PRIMARY`)."""
    if family is None:
        return in_family(lambda f: verdict(table, models, length=length, per_setting=per_setting, terms=terms,
                                           fitted=fitted, families=families, family=f), PRIMARY)
    lines = []
    for m in models:
        d = table[table.model == m]
        lines.append(f"**{m}** ({len(d)} runs, {length} characters, {d.last_epoch.max()} epochs):")
        if fitted is not None and m in set(fitted.model):
            for y, name in MEASURES.items():
                alphabet = "alphabet size at fixed entropy" if y == "guess_accuracy" else "alphabet size"
                lines.append(f"- {name}: entropy {_effect(terms, fitted, m, y, 'entropy', family)}; {alphabet} "
                             f"{_effect(terms, fitted, m, y, 'log2_alphabet', family)}.")
        else:
            lines.append("- too few runs or settings for a fit; setting by setting (means over seeds):")
            for (size, h), row in per_setting.loc[m].iterrows():
                reach = (f"90% train accuracy at epoch {row.epochs_to_90:.0f}" if row.not_reaching_90 == 0 else
                         f"90% not reached within {int(row.last_epoch)} epochs in {int(row.not_reaching_90)} of "
                         f"{int(row.runs)} runs (final accuracy {row.final_accuracy:.2f})")
                lines.append(f"  - {size} letters at {h:.2f} bits per character: guessing level {row.guess_accuracy:.3f}; "
                             f"{reach}; AUC of train accuracy {row.auc:.3f}; normalised memorisation gain "
                             f"{row.gain_norm_auc:.3f}.")
        lines.append(f"- runs not reaching 90% within {d.last_epoch.max()} epochs: {int(d.censored_90.sum())} of {len(d)}.")
        for _, row in families[families.model == m].iterrows():
            def rho(what):
                p = row[f"p({what})"]
                d = family.decide(f"{m}, {row.family} family: Spearman({what})", p, estimate=row[f"rho({what})"],
                                  n=int(row.runs), supported=bool(p < 0.05))
                return f"Spearman({what}) = {row[f'rho({what})']:+.2f} (permutation {d.words(p, p < 0.05)})"
            lines.append(f"- {row.family} family ({row.runs} non-uniform runs): " + ", ".join(
                rho(w) for w in ("entropy, epochs to 90%", "entropy, AUC", "entropy, normalised gain")) + ".")
    return lines


def size_palette(sizes) -> dict:
    """One viridis colour per alphabet size (notebook 02's figures)."""
    import seaborn as sns

    return dict(zip(sizes, sns.color_palette("viridis", len(sizes))))


def plot_difficulty_vs_entropy(d: pd.DataFrame, model: str, family: str, sizes):
    """Epochs to 90%, AUC of train accuracy and normalised memorisation gain against entropy, one colour per
    alphabet size (hollow: 90% not reached, plotted at the run's length), with a regression line and its bootstrap
    band where there are at least three runs. ``d``: one model's rows of a :func:`memlib.difficulty.difficulty_table`."""
    import seaborn as sns

    palette = size_palette(sizes)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, y, label in zip(axes, ("epochs_to_90", "auc", "gain_norm_auc"),
                            ("epochs to 90% accuracy", "AUC of train accuracy", "normalised memorisation gain")):
        for size in sizes:
            s = d[d.alphabet_size == size]
            if y == "epochs_to_90":
                ax.scatter(s.entropy[~s.censored_90], s[y][~s.censored_90], color=palette[size], label=f"l={size}", s=25)
                ax.scatter(s.entropy[s.censored_90], s[y][s.censored_90], facecolors="none", edgecolors=palette[size], s=25)
            else:
                ax.scatter(s.entropy, s[y], color=palette[size], label=f"l={size}", s=25)
        if len(d) >= 3:  # a trend needs three runs
            sns.regplot(data=d, x="entropy", y=y, ax=ax, scatter=False, color="0.3", n_boot=500, seed=0, truncate=True)
        ax.set_xlabel("entropy (bits/char)")
        ax.set_ylabel(label)
    axes[0].legend(title="alphabet", fontsize=8)
    fig.suptitle(f"{model}: difficulty against entropy ({family} family)")
    fig.tight_layout()
    return fig


def plot_alphabet_and_guessing(d: pd.DataFrame, model: str, family: str, sizes):
    """Left: AUC of train accuracy against alphabet size at the entropy levels two or more alphabets share (mean,
    error bars: standard deviation over seeds); right: the guessing level (held-out accuracy) against entropy, with
    the distribution's likeliest-letter probability dashed."""
    import seaborn as sns

    from .strings import distribution

    palette = size_palette(sizes)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(12, 4))
    levels = [h for h in sorted(d.entropy.round(6).unique())
              if (d.entropy.round(6) == h).groupby(d.alphabet_size).any().sum() >= 2]
    for h, colour in zip(levels, sns.color_palette("rocket", len(levels))):
        s = d[d.entropy.round(6) == h].groupby("alphabet_size").auc
        a0.errorbar(s.mean().index, s.mean(), yerr=s.std().fillna(0), marker="o", color=colour, capsize=3, label=f"H={h:g}")
    a0.set_xscale("log", base=2)
    a0.set_xticks(sizes, [str(x) for x in sizes])
    a0.set_xlabel("alphabet size")
    a0.set_ylabel("AUC of train accuracy")
    if levels:
        a0.legend(title="entropy", fontsize=8)
    else:
        a0.set_title("no entropy level reached by two alphabets", fontsize=9)
    for size in sizes:
        s = d[d.alphabet_size == size]
        a1.scatter(s.entropy, s.guess_accuracy, color=palette[size], label=f"l={size}", s=25)
        hs = np.linspace(0.05, math.log2(size), 40)
        a1.plot(hs, [max(distribution(size, h if h < math.log2(size) - 1e-9 else None, family)) for h in hs], ls="--",
                color=palette[size], lw=0.8)
    a1.set_xlabel("entropy (bits/char)")
    a1.set_ylabel("held-out accuracy (guessing level)")
    a1.legend(fontsize=8)
    fig.suptitle(model)
    fig.tight_layout()
    return fig


def plot_memorisation_gain(runs, model: str, sizes):
    """Memorisation gain per epoch (:func:`memlib.difficulty.mean_gain`, mean over seeds) of ``model``'s ``runs``:
    left, the largest alphabet at each entropy; right, uniform strings of each alphabet size."""
    import seaborn as sns

    palette = size_palette(sizes)
    rs = [r for r in runs if r.config.model == model]
    big = max(sizes)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    by_h = {}
    for r in rs:
        s = r.config.train[0]
        if len(s["alphabet"]) == big:
            by_h.setdefault(round(s["entropy"], 3), []).append(r)
    for (h, group), colour in zip(sorted(by_h.items()), sns.color_palette("rocket", len(by_h))):
        g = mean_gain(group)
        a0.plot(g.index, g, color=colour, label=f"H={h:g}")
    a0.set_title(f"l={big}")
    a0.set_xlabel("epoch")
    a0.set_ylabel("memorisation gain")
    a0.legend(fontsize=8)
    for size in sizes:
        group = [r for r in rs if len(r.config.train[0]["alphabet"]) == size
                 and abs(r.config.train[0]["entropy"] - math.log2(size)) < 1e-9]
        if group:
            g = mean_gain(group)
            a1.plot(g.index, g, color=palette[size], label=f"l={size} (H={math.log2(size):.2f})")
    a1.set_title("uniform strings")
    a1.set_xlabel("epoch")
    a1.legend(fontsize=8)
    fig.suptitle(model)
    fig.tight_layout()
    return fig


def plot_family_check(table: pd.DataFrame, families, seeds, sizes):
    """Epochs to 90% against entropy, one panel per distribution family, for the non-uniform runs of ``seeds``
    (rows of a :func:`memlib.difficulty.difficulty_table`)."""
    palette = size_palette(sizes)
    nonuniform = table[~np.isclose(table.entropy, np.log2(table.alphabet_size))]
    fig, axes = plt.subplots(1, len(families), figsize=(5 * len(families), 3.8), sharey=True, squeeze=False)
    for ax, family in zip(axes[0], families):
        d = nonuniform[(nonuniform.family == family) & nonuniform.seed.isin(seeds)]
        for size in sizes:
            s = d[d.alphabet_size == size]
            ax.scatter(s.entropy, s.epochs_to_90, color=palette[size], label=f"l={size}", s=25)
        ax.set_title(f"{family} family")
        ax.set_xlabel("entropy (bits/char)")
    axes[0, 0].set_ylabel("epochs to 90% accuracy")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 02's parameters: every model over every alphabet size and entropy level of the main family (the first
    of ``families``) over ``seeds``, and the other families over ``family_check_seeds``."""

    notebook: ClassVar[str] = "02_string_difficulty"
    models: list[str]
    alphabet_sizes: list[int]
    entropy_levels: list[float]
    families: list[str]
    length: int
    epochs: int | dict[str, int]
    lr: float | dict[str, float] | None
    seeds: list[int]
    family_check_seeds: list[int]
    n_train_strings: int
    n_test_strings: int
    eval_every: int | str | list[int]
    lr_schedule: str
    max_grad_norm: float | None
    precision: str

    def heldout_gaps(self) -> list[str]:
        """The memorisation gain is interpolated between held-out evaluations: epoch 0, the last and one in every
        doubling of the epoch count."""
        return heldout_gaps(self, every_doubling=True)


PAPER_HPARAMS = dict(length=1024, epochs=100, lr=1e-5, lr_schedule="linear", max_grad_norm=1.0)  # the cpu-long preset's
# Held-out strings: every epoch up to 2, then at least once in every doubling of the epoch count (the rule of
# heldout_gaps); the last epoch is always added (eval_epochs).
LONG_EVAL = [0, 1, 2, 4, 8, 12, 16, 24, 32, 48, 64]


PRESETS = {
    "smoke": Params(
        models=["tiny-llama"], alphabet_sizes=[2, 7], entropy_levels=[1.0], families=["exponential", "spike"],
        length=16, epochs=6, lr=None, seeds=[0, 1], family_check_seeds=[0], n_train_strings=1,
        n_test_strings=2, eval_every=1, lr_schedule="constant", max_grad_norm=None,
        precision="fp32",
    ),
    # 12 settings x 2 seeds + 7 spike-family settings x 1 seed = 31 SmolLM2 runs of 20 epochs at
    # 32 characters (entropy 1 and 2 bits and each alphabet's maximum: entropy levels up to 4.7 bits, and
    # 3-5 alphabet sizes at each fixed entropy for the alphabet term).
    # Held-out strings at every epoch up to 2, then every second one (more than heldout_gaps asks for).
    "default": Params(
        models=["smollm2-135m"], alphabet_sizes=[2, 4, 7, 13, 26], entropy_levels=[1.0, 2.0],
        families=["exponential", "spike"], length=32, epochs=20, lr=None, seeds=[0, 1],
        family_check_seeds=[0], n_train_strings=1, n_test_strings=3, eval_every=[0, 1, *range(2, 21, 2)],
        lr_schedule="constant", max_grad_norm=None,
        precision="fp32",
    ),
    "paper": Params(
        models=PAPER_MODELS, alphabet_sizes=[2, 4, 7, 13, 26], entropy_levels=[0.5, 1.0, 2.0, 3.0, 4.0],
        families=["exponential", "spike"], length=1024, epochs=100, lr=1e-5, seeds=[0, 1, 2],
        family_check_seeds=[0, 1, 2], n_train_strings=5, n_test_strings=10, eval_every=1,
        lr_schedule="linear", max_grad_norm=1.0,
        precision="auto",
    ),
    # Two contrasting settings at the paper's hyper-parameters: 26 letters at 2 bits (exponential
    # family) and uniform (4.7 bits), the ends of the default preset's entropy range at 26 letters.
    "cpu-long": Params(
        models=["smollm2-135m"], alphabet_sizes=[26], entropy_levels=[2.0], families=["exponential"], seeds=[0],
        family_check_seeds=[], n_train_strings=1, n_test_strings=2, eval_every=LONG_EVAL, **PAPER_HPARAMS,
        precision="fp32",
    ),
}
