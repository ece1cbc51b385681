"""Notebook 05's verdict: its tables in sentences, the family of primary tests declared in ``PRIMARY``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..exposure import expected_counted_exposure
from ..labels import plural, span
from ..membership import FPRS, needed_non_members
from ..stats import EXPLORATORY, WITHIN_RUN, in_family, paired_contrast
from .tables import holds_from


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
