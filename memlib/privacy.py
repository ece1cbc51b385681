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

from dataclasses import dataclass
from typing import ClassVar
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .models import PAPER_MODELS
from .parameters import NotebookParams
from .checks import check_runs
from .config import ProbeSpec, per_model
from .exposure import MIN_CANDIDATES, expected_counted_exposure
from .extraction import check_extraction, extraction_spec
from .figures import legend_below
from .labels import plural, run_columns, setting, span
from .membership import FPRS, needed_non_members
from .metrics import memorised_at
from .milestones import stable_from
from .probes import uniqueness
from .stats import EXPLORATORY, WITHIN_RUN, in_family, paired_contrast, spearman
from .strings import string_parts
from .sweep import grid_runs, grids_runs

__all__ = ["specs", "one_string_runs", "needed_candidates", "candidate_plan", "candidate_runs", "milestones", "holds_from",
           "onset_table", "onset_summary", "status_table", "sizes_lines", "verdict", "candidates_verdict",
           "plot_privacy", "plot_candidates", "plot_onsets"]


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


def specs(models, *, epochs, measure_at, length: int, k: int, n: int, n_test_strings: int, offset_step: int = 1,
          permuted: int | None = None) -> dict:
    """The extraction probes of every model (``epochs`` and ``measure_at`` may be per model), with
    every argument of notebook 05 checked before any training: ``k`` and ``n`` fit the strings,
    enough held-out strings for the exposure fit, and every measured epoch within the model's run."""
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


def one_string_runs(P: Params, specs: dict, store) -> list:
    """Notebook 05's one-string runs, from its parameters ``P``: every model of ``P.models`` over
    ``P.grid`` at ``P.lr``, then ``P.compare_models`` over ``P.compare_grid`` at ``P.compare_lr``;
    one training string and ``P.n_test_strings`` held-out strings per seed, measured at each model's
    ``measure_at`` with its probes from :func:`specs`."""
    out = []
    for names, settings, rate in ((P.models, P.grid, P.lr), (P.compare_models, P.compare_grid, P.compare_lr)):
        for name in names:
            out += grid_runs([name], P.seeds, settings, length=P.length, n_train_strings=1,
                             n_test_strings=P.n_test_strings, epochs=P.epochs, lr=rate,
                             eval_every=per_model(P.measure_at, name), lr_schedule=P.lr_schedule,
                             max_grad_norm=P.max_grad_norm, probes=specs[name], precision=P.precision, store=store)
    return out


def plot_privacy(extraction: pd.DataFrame, exposure: pd.DataFrame, membership: pd.DataFrame, settings: list[str],
                 attack: pd.DataFrame | None = None):
    """Notebook 05's measures on one time axis, one column per setting (means over seeds, band
    min-max). Top: recollection accuracy, the share of the string that greedy generation from BOS
    reproduces, and the k-extractable rate. Middle: exposure in bits of the trained strings (filled
    where extrapolated by the distribution fit) and of held-out strings (the check: 1.32 bits expected for 31 candidates, as in the default preset, 1.44 as their number grows);
    dotted: the most a count over the candidates can resolve, log2(N + 1). Bottom: the loss-threshold
    membership attack's ROC AUC and true-positive rate at 1% false positives, pooled over seeds (missing where
    not measurable at this n); with ``attack`` (:func:`memlib.membership.attack_table` of the same runs), also its
    AUC against permutations of the strings' letters and calibrated by the loaded model's loss."""
    fig, axes = plt.subplots(3, len(settings), figsize=(3.4 * len(settings), 7.6), squeeze=False, sharex="col")
    for j, name in enumerate(settings):
        ax = axes[0, j]
        x = extraction[extraction.setting == name]
        for col, label, colour in (("accuracy", "accuracy (true prefix)", "tab:blue"),
                                   ("from_bos_share", "extracted from BOS (share)", "tab:red")):
            g = x.groupby("epoch")[col]
            ax.plot(g.mean().index, g.mean(), color=colour, label=label)
            ax.fill_between(g.mean().index, g.min(), g.max(), color=colour, alpha=0.15, lw=0)
        p = x[x.k_extractable.notna()].groupby("epoch").k_extractable
        ax.plot(p.mean().index, p.mean(), color="tab:green", marker="o", ms=3, label="k-extractable rate")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(name.replace(", lr", "\nlr"), fontsize=8)
        ax = axes[1, j]
        ex = exposure[exposure.setting == name]
        mem, held = ex[ex.member], ex[~ex.member]
        g = mem.groupby("epoch").exposure
        ax.plot(g.mean().index, g.mean(), color="tab:purple", label="trained string")
        ax.fill_between(g.mean().index, g.min(), g.max(), color="tab:purple", alpha=0.15, lw=0)
        fit = mem[mem.method != "counted"]
        ax.scatter(fit.epoch, fit.exposure, s=10, color="tab:purple", label="extrapolated (skew-normal fit)")
        counted = mem[mem.method == "counted"]
        ax.scatter(counted.epoch, counted.exposure, s=10, facecolors="none", edgecolors="tab:purple",
                   label="counted among candidates")
        h = held.groupby("epoch").exposure.mean()
        ax.plot(h.index, h, color="0.4", ls="--", label="held-out strings (mean)")
        if len(mem):
            ax.axhline(math.log2(mem.candidates.max() + 1), color="0.4", ls=":", lw=1, label="count resolves up to")
        ax.set_yscale("symlog", linthresh=10)
        ax = axes[2, j]
        m = membership[membership.setting == name]
        ax.plot(m.epoch, m.auc, color="tab:orange", marker="o", ms=3, label="membership attack ROC AUC")
        ax.plot(m.epoch, m.tpr_at_fpr, color="tab:brown", marker="s", ms=3, ls="--",
                label="TPR at 1% FPR (missing: not measurable at this n)")
        if attack is not None:
            a = attack[attack.setting == name]
            for against, score, colour, label in (("permuted", "loss", "tab:red", "AUC against permuted letters"),
                                                  ("fresh", "calibrated", "tab:olive", "AUC calibrated by the loaded model")):
                d = a[(a.against == against) & (a.score == score)]
                ax.plot(d.epoch, d.auc, color=colour, marker="o", ms=3, ls=":", label=label)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("epoch")
    axes[0, 0].set_ylabel("share of the string")
    axes[1, 0].set_ylabel("exposure (bits)")
    axes[2, 0].set_ylabel("attack")
    legend_below(fig, axes, ncol=4)
    return fig


def plot_candidates(attack: pd.DataFrame, exposures: pd.DataFrame, enumerated: pd.DataFrame | None = None, fprs=(0.01, 0.001)):
    """Many members, many candidates (one row per setting of ``attack``): the membership attack's ROC AUC
    against fresh and permuted non-members (solid: raw loss; dashed: calibrated by the loaded model's loss)
    and its TPR at each of ``fprs`` (gaps: not measurable at this n); the members' exposure over epochs
    (median, band min-max): counted among fresh and among permuted candidates, importance-sampled (with
    the widest 95% interval) and the skew-normal fit, under the self-information. With ``enumerated``, a
    last panel: importance-sampled against exact exposure with their 95% intervals, the diagonal."""
    names = list(dict.fromkeys(attack.setting))
    cols = 3 + (enumerated is not None and len(enumerated) > 0)
    fig, axes = plt.subplots(len(names), cols, figsize=(3.6 * cols, 3.2 * len(names) + 0.8), squeeze=False)
    colours = {"fresh": "tab:blue", "permuted": "tab:red"}
    for i, name in enumerate(names):
        a = attack[attack.setting == name]
        for (against, score), d in a.groupby(["against", "score"], sort=False):
            ls = "-" if score == "loss" else "--"
            axes[i, 0].plot(d.epoch, d.auc, color=colours[against], ls=ls, marker="o", ms=3,
                            label=f"{against} non-members, {'raw loss' if score == 'loss' else 'calibrated'}")
            if score == "loss":
                for f, mk in zip(fprs, ("s", "^")):
                    axes[i, 1].plot(d.epoch, d[f"tpr_{f:g}"], color=colours[against], marker=mk, ms=4,
                                    ls="-" if mk == "s" else ":", label=f"{against}, TPR at {f:.1%} FPR")
        axes[i, 0].set_ylim(0.35, 1.02)
        axes[i, 0].axhline(0.5, color="0.6", lw=0.8)
        axes[i, 0].set_ylabel("ROC AUC")
        axes[i, 0].set_title(name, fontsize=8)
        axes[i, 1].set_ylim(-0.02, 1.02)
        axes[i, 1].set_ylabel("true-positive rate")
        ax = axes[i, 2]
        x = exposures[exposures.setting == name]
        for col, label, colour in (("fresh", "counted, fresh", "tab:blue"), ("permuted", "counted, permuted", "tab:red"),
                                   ("measured", "importance-sampled", "black"), ("fitted", "skew-normal fit", "tab:olive")):
            if col not in x or x[col].isna().all():
                continue
            g = x.groupby("epoch")[col]
            ax.plot(g.median().index, g.median(), color=colour, marker="o", ms=3, label=label,
                    ls="--" if col == "fitted" else "-")
            ax.fill_between(g.median().index, g.min(), g.max(), color=colour, alpha=0.12, lw=0)
        ax.axhline(x.max_bits.median(), color="0.5", ls=":", lw=1, label="self-information")
        ax.set_ylabel("exposure (bits)")
        for ax in axes[i, :3]:
            ax.set_xlabel("epoch")
    if cols == 4:
        ax = axes[0, 3]
        e = enumerated.dropna(subset=["measured", "exact"])
        ax.errorbar(e.exact, e.measured, yerr=[e.measured - e.measured_low, e.measured_high - e.measured],
                    fmt="o", ms=3, color="black", ecolor="0.5", lw=0.8, label="importance-sampled, 95% CI")
        top = float(max(e.exact.max(), e.measured_high.max())) + 0.5
        ax.plot([0, top], [0, top], color="0.6", lw=0.8)
        n = int(exposures.fresh_n.max())
        ax.axvline(math.log2(n + 1), color="tab:blue", ls=":", lw=1, label=f"{n:,} counted candidates resolve")
        ax.set_xlabel("exact exposure (bits, enumeration)")
        ax.set_ylabel("measured exposure (bits)")
        ax.set_title("check against exact enumeration", fontsize=8)
        for r in range(1, len(names)):
            axes[r, 3].axis("off")
    legend_below(fig, axes, ncol=4)
    return fig


def plot_onsets(onsets: pd.DataFrame, settings: list[str]):
    """When each character is memorised: left, the onset epoch of every position of the first seed's
    string, one row per setting (grey: never stable by the end); middle and right, median onset
    against the character's uniqueness and its probability under the distribution (all seeds)."""
    first = onsets[onsets.seed == onsets.seed.min()]
    length = int(onsets.position.max()) + 1
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 0.5 * len(settings) + 2.6),
                                  gridspec_kw={"width_ratios": [2.2, 1, 1]})
    grid = np.full((len(settings), length), np.nan)
    for i, name in enumerate(settings):
        d = first[first.setting == name].sort_values("position")
        grid[i, : len(d)] = d.onset / max(d.onset.max(), 1)
    cmap = plt.cm.viridis.copy()
    cmap.set_bad("0.85")
    im = a.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, vmin=0, vmax=1)
    a.set_yticks(range(len(settings)))
    a.set_yticklabels([s.replace(", lr", "\nlr") for s in settings], fontsize=7)
    a.set_xlabel("position in the string")
    a.grid(False)
    fig.colorbar(im, ax=a, label="onset / last onset of the run")
    colours = dict(zip(settings, plt.cm.tab10(np.arange(len(settings)) % 10)))
    for ax, col, label in ((b, "uniqueness", "uniqueness (shortest unique k-gram before it)"),
                           (c, "p_char", "probability of the character")):
        for name in settings:
            d = onsets[onsets.setting == name]
            if d[col].nunique() < 2:
                continue
            g = d.groupby(col).onset.median()
            ax.plot(g.index, g, marker="o", ms=3, color=colours[name], label=name)
        ax.set_xlabel(label)
        ax.set_ylabel("median onset epoch")
    b.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 05's parameters (see the presets' comments). Its runs evaluate their held-out strings exactly at
    ``measure_at``, the epochs its figures read (:func:`specs` refuses epochs a run does not reach): no held-out
    gaps to report."""

    notebook: ClassVar[str] = "05_extraction_and_exposure"
    models: list[str]
    grid: list[dict]
    lr: float | dict[str, float] | None
    compare_models: list[str]
    compare_grid: list[dict]
    compare_lr: float | dict[str, float] | None
    length: int
    epochs: int | dict[str, int]
    measure_at: list[int] | dict[str, list[int]]
    seeds: list[int]
    n_test_strings: int
    k: int
    n: int
    offset_step: int
    lr_schedule: str
    max_grad_norm: float | None
    permuted: int | None
    ks: list[int]
    many: dict  # a plan of many-member runs (candidate_plan)
    enumeration: dict  # the check against exact enumeration (candidate_plan)
    fprs: list[float]
    precision: str


PRESETS = {
    # `models` over every setting of `grid` at `lr`; `compare_models` (the random-weight twin) on
    # `compare_grid` at `compare_lr`. The held-out strings are the exposure's candidates and the
    # membership attack's non-members, evaluated at `measure_at`, where the extraction probes run too.
    "smoke": Params(
        models=["tiny-llama"], grid=[{"alphabet_size": 4}, {"alphabet_size": 8, "entropy": 2.0}], lr=3e-3,
        compare_models=["tiny-phi"], compare_grid=[{"alphabet_size": 4}], compare_lr=3e-3, length=12,
        epochs=40, measure_at=[0, 10, 20, 40], seeds=[0], n_test_strings=21, k=4, n=4, offset_step=1,
        lr_schedule="constant", max_grad_norm=None, permuted=21, ks=[0, 2, 4, 8],
        many=dict(model="tiny-llama", lr=3e-3, length=12, alphabet_size=4, members=8, epochs=30,
                  measure_at=[0, 10, 30], candidates=120, permuted=16, samples=200, seeds=[0]),
        enumeration=dict(model="tiny-llama", lr=1e-3, length=6, alphabet_size=4, members=4, epochs=30,
                         measure_at=[0, 10, 30], candidates=30, permuted=8, samples=300, seeds=[0], enumerate=True),
        fprs=[0.01, 0.001],
        precision="fp32",
    ),
    # 8 SmolLM2 runs, 4 settings x 2 seeds, each its own string (the random-weight twin is left out here: with 2
    # seeds it stated no contrast, and its 64 epochs did not fit the time budget), each measured at 5 epochs
    # (0 and each doubling to the end; epoch 2 as well cost a sixth of the measurements):
    # 31 held-out strings, 15 permutations of its letters and the extraction probes (one forward per offset) at
    # each. 8 runs, not 6: the family of 2 primary tests needs p < 0.025 for its smallest, which a sign test
    # reaches at n = 6 never (0.031) and at n = 8 when all 8 agree (0.0078).
    "default": Params(
        models=["smollm2-135m"],
        grid=[{"alphabet_size": 4}, {"alphabet_size": 7}, {"alphabet_size": 26},
              {"alphabet_size": 26, "entropy": 2.0}], lr=None,
        compare_models=[], compare_grid=[{"alphabet_size": 7}], compare_lr=5e-4,
        length=32, epochs={"smollm2-135m": 30, "smollm2-135m-random": 64},
        measure_at={"smollm2-135m": [0, 4, 8, 16, 30], "smollm2-135m-random": [0, 8, 16, 24, 32, 40, 48, 64]},
        seeds=[0, 1], n_test_strings=31, k=8, n=8, offset_step=1, lr_schedule="constant", max_grad_norm=None,
        # 15 permutations of each training string's letters beside its 31 fresh candidates (31 cost a
        # fifth of a run's time for an exploratory comparison: benchmarks/RESULTS.md); extraction at
        # k = 0 (BOS alone), 4, 8, 16 with n = 8.
        permuted=15, ks=[0, 4, 8, 16],
        # Many members per model (the membership attack's TPR at 1% and 0.1% FPR), 1,023 fresh candidates
        # (counted exposure to 10 bits), 32 permutations per member, 1,500 importance samples: a tiny random-init
        # Llama (its forwards are about 60 times cheaper than SmolLM2's; benchmarks/RESULTS.md).
        many=dict(model="tiny-llama", lr=1e-3, length=32, alphabet_size=7, members=64, epochs=150,
                  measure_at=[0, 50, 100, 150], candidates=1023, permuted=32, samples=1500, seeds=[0], count_bits=10),
        # The check against exact enumeration: 8 members of 7 letters over 4 (16,384 strings, 14 bits).
        enumeration=dict(model="tiny-llama", lr=1e-3, length=7, alphabet_size=4, members=8, epochs=60,
                         measure_at=[0, 15, 30, 60], candidates=100, permuted=16, samples=1000, seeds=[0],
                         enumerate=True),
        fprs=[0.01, 0.001],
        precision="fp32",
    ),
    "paper": Params(
        models=PAPER_MODELS, grid=[{"alphabet_size": 2}, {"alphabet_size": 26}, {"alphabet_size": 26, "entropy": 2.0}],
        lr=1e-5, compare_models=[], compare_grid=[{"alphabet_size": 2}], compare_lr=1e-5, length=1024, epochs=100,
        measure_at=[0, 1, 2, 5, 10, 20, 40, 60, 80, 100], seeds=[0, 1, 2], n_test_strings=100, k=32, n=32, offset_step=16,
        lr_schedule="linear", max_grad_norm=1.0, permuted=100, ks=[0, 32, 64, 128],
        many=dict(model="EleutherAI/pythia-1b", lr=1e-5, length=256, alphabet_size=26, members=64, epochs=100,
                  measure_at=[0, 10, 20, 50, 100], candidates=1023, permuted=64, samples=4000, seeds=[0], count_bits=10),
        enumeration=dict(model="EleutherAI/pythia-1b", lr=1e-5, length=8, alphabet_size=4, members=8, epochs=100,
                         measure_at=[0, 20, 50, 100], candidates=100, permuted=16, samples=2000, seeds=[0],
                         enumerate=True),
        fprs=[0.01, 0.001],
        precision="auto",
    ),
}
