"""Notebook 02's fits, family check, cross-model comparison and verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats import in_family, ols, rank_correlation, spearman, spearman_p


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


# Do two models order strings alike? Each model after the first against the first, on the strings both trained on
# (the same strings, seed by seed: one string, one unit).
ORDER_MEASURES = {"epochs_to_90": "epochs to 90%", "gain_norm_auc": "normalised memorisation gain"}
ORDER_COLUMNS = ["reference", "model", "y", "scope", "rho", "low", "high", "p", "n"]
_STRING = ["family", "alphabet_size", "entropy", "seed"]


def paired_strings(table: pd.DataFrame, reference: str, model: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of ``reference`` and of ``model`` in a :func:`difficulty_table` for the strings both trained on
    (matched on family, alphabet size, entropy and seed), in one order."""
    a, b = (table[table.model == m].set_index(_STRING) for m in (reference, model))
    for m, d in ((reference, a), (model, b)):
        if d.index.has_duplicates:
            raise ValueError(f"model {m!r} has several runs of one string setting and seed: pairs need one each")
    both = a.index.intersection(b.index, sort=False)
    return a.loc[both].reset_index(), b.loc[both].reset_index()


def within_settings(d: pd.DataFrame, y: str) -> pd.Series:
    """Per string setting (family, alphabet size, entropy) with two or more seeds: ``y`` of its second seed minus its
    first (rows of :func:`paired_strings`), what is particular to a string once its setting is taken out; one value
    a setting, so the values are independent."""
    out = {}
    for key, g in d.sort_values("seed").groupby(["family", "alphabet_size", "entropy"], sort=True):
        if len(g) >= 2:
            out[key] = float(g[y].iloc[1] - g[y].iloc[0])
    return pd.Series(out, dtype=float)


def cross_model(table: pd.DataFrame, models) -> pd.DataFrame:
    """Per model after the first and measure of :data:`ORDER_MEASURES`: Spearman's rho between the two models'
    values over the strings both trained on (``scope`` "strings"; entropy and alphabet size vary across them, so their
    effects are part of it), and over the settings of :func:`within_settings` (``scope`` "within settings": a
    string's own difficulty, its setting taken out), each with its 95% interval (Fisher's z, Bonett and Wright's
    variance; coverage at 7-24 pairs checked in ``tests/test_stats.py``) and permutation p
    (:func:`memlib.stats.rank_correlation`). Columns :data:`ORDER_COLUMNS`; empty for one model."""
    rows = []
    for m in list(models)[1:]:
        a, b = paired_strings(table, models[0], m)
        for y in ORDER_MEASURES:
            rows.append({"reference": models[0], "model": m, "y": y, "scope": "strings",
                         **rank_correlation(a[y], b[y])})
            rows.append({"reference": models[0], "model": m, "y": y, "scope": "within settings",
                         **rank_correlation(within_settings(a, y), within_settings(b, y))})
    return pd.DataFrame(rows, columns=ORDER_COLUMNS)


def slope_differences(table: pd.DataFrame, reference: str, model: str) -> pd.DataFrame:
    """``model`` minus ``reference``, string by string, fitted on entropy (and alphabet size where the strings
    separate it; :func:`fit_terms`) for each measure of :data:`ORDER_MEASURES`: a term's coefficient is how much
    more ``model``'s measure changes with it. HC3 intervals over strings (:func:`fit_trend`)."""
    a, b = paired_strings(table, reference, model)
    terms = fit_terms(a)
    if not terms or len(a) <= len(terms) + 2:
        return pd.DataFrame(columns=["term", "coef", "se", "ci_low", "ci_high", "p", "n", "y"])
    return pd.concat([fit_trend(a.assign(**{y: b[y].to_numpy() - a[y].to_numpy()}), y, terms)
                      for y in ORDER_MEASURES], ignore_index=True)


def order_lines(table: pd.DataFrame, orders: pd.DataFrame, family) -> list[str]:
    """The verdict's lines on models ordering strings alike (rows of :func:`cross_model`) and on how far their
    entropy and alphabet slopes differ (:func:`slope_differences`, exploratory)."""
    from scipy.stats import norm

    lines = ["**Models against each other**, on the strings both trained on (entropy and alphabet size vary across "
             "them, so their effects are part of the order):"] if len(orders) else []
    for (ref, m), rows in orders.groupby(["reference", "model"], sort=False):
        a, b = paired_strings(table, ref, m)
        censored = int((a.censored_90 | b.censored_90).sum())
        parts = []
        for _, r in rows.iterrows():
            within = r.scope == "within settings"
            what = f"by {ORDER_MEASURES[r.y]}" + (" within settings (each setting's second seed minus its first)"
                                                  if within else "")
            units = "settings" if within else "strings"
            if not np.isfinite(r.rho):
                parts.append(f"{what}: rho undefined ({int(r.n)} {units}, or one side constant), not tested")
                continue
            supported = bool(r.low > 0 or r.high < 0)
            z = float(norm.isf(r.p / 2)) if 0 < r.p < 1 else None
            d = family.decide(f"{m} against {ref}: strings ordered by {r.y}" + (" within settings" if within else ""),
                              r.p, estimate=r.rho, low=r.low, high=r.high, level=0.95, n=int(r.n), supported=supported,
                              z=z)
            parts.append(f"{what} Spearman rho {r.rho:+.2f} [95% CI {r.low:+.2f}, {r.high:+.2f}, n={int(r.n)} {units}], "
                         f"{d.words(r.p, supported)}")
        cens = (f" ({censored} of {len(a)} strings did not reach 90% in one of the two runs: counted at the run's "
                f"length, a lower bound)" if censored else "")
        lines.append(f"- **{m} against {ref}**: " + "; ".join(parts) + "." + cens)
        diffs = slope_differences(table, ref, m)
        for y, name in ORDER_MEASURES.items():
            f = diffs[(diffs.y == y) & (diffs.term != "intercept")]
            if f.empty:
                continue
            said = []
            for _, t in f.iterrows():
                unit = "per bit" if t.term == "entropy" else "per doubling of the alphabet"
                d = family.decide(f"{m} - {ref}: difference in {y} ~ {t.term}", t.p, estimate=t.coef, low=t.ci_low,
                                  high=t.ci_high, level=0.95, n=int(t.n), supported=bool(t.ci_low > 0 or t.ci_high < 0))
                said.append(f"{t.coef:+.3f} {unit} [95% CI {t.ci_low:+.3f}, {t.ci_high:+.3f}, n={int(t.n)} strings], "
                            f"{d.words(t.p, t.ci_low > 0 or t.ci_high < 0)}")
            lines.append(f"  - {name}, {m} minus {ref} string by string, against " +
                         " and ".join(f"{'entropy' if t == 'entropy' else 'alphabet size'} {x}"
                                      for t, x in zip(f.term, said)) + ".")
    return lines


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
# With several models, whether each orders the strings as the first does is primary too.
PRIMARY = (r".*: (epochs_to_90|gain_norm_auc) ~ (entropy|log2_alphabet)",
           r".* against .*: strings ordered by (epochs_to_90|gain_norm_auc)")


def verdict(table: pd.DataFrame, models, *, length: int, per_setting: pd.DataFrame, terms: dict, fitted,
            families: pd.DataFrame, orders: pd.DataFrame | None = None, family=None) -> list[str]:
    """Notebook 02's verdict, one markdown line per statement, from the main family's rows of a
    :func:`difficulty_table`, its :func:`setting_summary`, :func:`fits`, :func:`family_check` and, with several
    models, :func:`cross_model`. Its tests form one family (:data:`PRIMARY`)."""
    if family is None:
        return in_family(lambda f: verdict(table, models, length=length, per_setting=per_setting, terms=terms,
                                           fitted=fitted, families=families, orders=orders, family=f), PRIMARY)
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
    if orders is not None and len(orders):
        lines += order_lines(table, orders, family)
    return lines

