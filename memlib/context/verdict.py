"""Notebook 03's verdict: its tables in sentences, the family of primary tests declared in ``PRIMARY``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..labels import moment_label, moment_order, plural, span
from ..metrics import MEMORISED_HOLD, MEMORISED_THRESHOLD
from ..stats import in_family, median_interval, paired_contrast, sign_counts, sign_test
from .tables import k_to_reach, kept_table, locality, twin_settings


def _reading(values, share, k, family, name) -> str:
    """What the per-seed shares of full recall kept by ``k`` characters in place (``values``, their median with
    interval ``share``) say. The test the finding rests on (primary) is the one against one half: below it, the
    global context carries most of recall; above it, the local prefix does. The test against 0.9 (does the global
    context add more than a tenth?) is exploratory."""
    values = np.asarray(values, dtype=float)
    p_half, p_90 = (sign_test(np.sign(values - level).tolist()) for level in (0.5, 0.9))
    iv = dict(estimate=share.estimate, low=share.low, high=share.high, level=share.level, n=share.n)
    half = family.decide(f"{name}: share kept in place against one half", p_half, **iv, supported=share.excludes(0.5),
                         **sign_counts(values - 0.5))
    ninety = family.decide(f"{name}: share kept in place against 0.9", p_90, **iv, supported=share.excludes(0.9))
    against_90 = f"against 0.9, sign test {ninety.words(p_90, share.excludes(0.9))}"
    if half.established(share.exists and share.high < 0.5):
        return (f"the global context carries most of recall: k = {k} characters kept in place give less than half of "
                f"it (sign test against one half {half.words(p_half, True)}; {against_90})")
    if half.established(share.exists and share.low > 0.5):
        return (f"the local prefix carries most of recall: k = {k} characters kept in place give more than half of it "
                f"(sign test against one half {half.words(p_half, True)}; {against_90})")
    return (f"whether k = {k} characters kept in place give less or more than half of recall ({share.estimate:.2f}) "
            f"is open with {plural(share.n, 'seed')}: sign test against one half "
            f"{half.words(p_half, share.excludes(0.5))}; {against_90}")


# The tests notebook 03's finding rests on (memlib.stats.Family; the others are exploratory): per model and length,
# the share of full recall kept by the headline k characters in place against one half, and that share across lengths.
# With several models in ``between``, each against the first at each length is primary too.
# A setting run at several alphabet sizes names the size in its tests (", 7 letters"), so that each is stated once.
PRIMARY = (r".*, \d+ characters(, \d+ letters)?: share kept in place against one half",
           r".*: share kept in place, \d+ - \d+ characters", r".* - .*, \d+ characters(, \d+ letters)?: share kept in place")


def _where(s, length, size, several) -> str:
    """A test's place: ``"<setting>, <length> characters"``, with ``", <size> letters"`` where the setting ran at
    several alphabet sizes (``several``: those settings)."""
    return f"{s}, {length} characters" + (f", {size} letters" if s in several else "")


def verdict(table: pd.DataFrame, status: pd.DataFrame, characters: pd.DataFrame, *, common=None,
            compare_alphabet_size=None, share: float = 0.9, headline_k: int = 8, characters_at: str = "memorised",
            between=(), family=None) -> list[str]:
    """Notebook 03's verdict, one markdown line per statement, from a :func:`recall_table`, its runs'
    :func:`status_table` and the :func:`character_summary` of the first setting (at ``characters_at``);
    ``common``: the same runs' :func:`recall_table` over the positions every length has (``below`` = the shortest
    length), which the contrast across lengths rests on (needed where a setting has several lengths: over all their
    positions, a longer string's reads lie further from its start); ``compare_alphabet_size``: the
    alphabet size at which models and their random-weight twins are compared; ``headline_k``: the kept length the
    per-length reading rests on (the nearest probed one if it was not probed); ``between``: settings (models) to set
    against the first of them, seed by seed on the same strings. Its tests form one family (:data:`PRIMARY`)."""
    if family is None:
        return in_family(lambda f: verdict(table, status, characters, common=common,
                                           compare_alphabet_size=compare_alphabet_size, share=share,
                                           headline_k=headline_k, characters_at=characters_at, between=between,
                                           family=f), PRIMARY)
    several = table.groupby("setting").length.nunique().gt(1)
    if several.any() and common is None:
        raise ValueError(f"settings {list(several[several].index)} have several lengths: give common= (recall_table("
                         f"runs, below=<the shortest length>)), the positions the contrast across lengths compares")
    settings = list(dict.fromkeys([*table.setting, *status.setting]))  # a setting whose runs never memorised has no probes
    moments = moment_order(table.moment)
    first, later = moments[0], moments[-1]
    reach = k_to_reach(table, share)
    local = locality(table)
    lines = []
    for s in settings:
        lines += _never_memorised(s, status)
        lines += _local_recall(table, reach, s, moments)
    kept = kept_table(table, first)
    shared = kept_table(common, first) if common is not None else kept.iloc[:0]
    several = set(table.groupby("setting").alphabet_size.nunique().loc[lambda n: n > 1].index)
    for s in settings:
        lines += _per_length(kept, s, first, headline_k, family, several)
        lines += _across_lengths(shared, s, headline_k, family, several)
    lines += _between_models(kept, list(between), headline_k, family, several)
    lines += _more_exposure(table, first, later, headline_k, family, several)
    lines += _pretraining(local, status, compare_alphabet_size, moments, family)
    for s in settings:
        lines += _global_context(table[table.moment == later], s, later)
    for (length, size), row in characters.iterrows():
        lines.append(f"- {settings[0]}, {length} characters, {size} letters, {moment_label(characters_at)}: {row.without_start:.0%} of "
                     f"the characters read are recalled from a local prefix that leaves out the string's start; the local "
                     f"prefix recalls a character from k = {row.median_first_k:.0f} on (median), against a median uniqueness "
                     f"of {row.median_uniqueness:.0f} (log_l(L) = {row['log_l(L)']:.1f}); {row.below_uniqueness:.0%} of "
                     f"recalled characters are recalled from a prefix shorter than their uniqueness (both on the probed "
                     f"grid of k), one that also occurs elsewhere in the string"
                     + (f": in the string, that prefix is followed by the recalled character {row.chance_below:.0%} of the "
                        f"times (mean; what it would get right by chance)" if pd.notna(row.chance_below) else "") + ".")
    return lines


def _never_memorised(s, status) -> list[str]:
    never = status[(status.setting == s) & status.memorised_at.isna()]
    if not len(never):
        return []
    return [f"- **{s}**: {len(never)} run(s) never memorised their string (accuracy >= {MEMORISED_THRESHOLD} held "
            f"{MEMORISED_HOLD} epochs) within their epochs "
            f"(lengths {sorted(set(never.length))}, alphabet sizes {sorted(set(never.alphabet_size))}; final accuracy "
            f"{never.final_accuracy.min():.2f}-{never.final_accuracy.max():.2f}): they have no probes after memorisation."]


def _local_recall(table, reach, s, moments) -> list[str]:
    """Per moment, length and alphabet size: full-context recall and the local prefix's recall over positions
    ``i > k`` (medians over seeds), the alphabet's guessing level beside them, and the interpolated k that reaches 90%."""
    lines, t = [], table[table.setting == s]
    for moment in moments:
        tm = t[t.moment == moment]
        parts = []
        for (length, size), g in tm.groupby(["length", "alphabet_size"]):
            small = [k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if k < length]
            loc = g[g.probe == "local"].groupby(["k", "seed"]).recall_beyond.mean().groupby("k").median()
            here = reach[(reach.setting == s) & (reach.moment == moment) & (reach.length == length)
                         & (reach.alphabet_size == size)]
            k90 = (f"90% of full recall from k = {span(here.k, '{:.1f}', 'never')} (interpolated)" if here.k.notna().any()
                   else "90% of full recall at no probed k")
            parts.append(f"{length} characters, {size} letters (guessing {g.guess_distribution.iloc[0]:.2f}): full "
                         f"{g.groupby('seed').full.first().median():.2f}, "
                         + ", ".join(f"k={k}: {loc[k]:.2f}" for k in small if k in loc.index) + f"; {k90}")
        if parts:
            lines.append(f"- **{s}**, {moment_label(moment)} (epochs {span(tm.epoch)}): local prefix alone, moved to the "
                         f"string's start, recall over the positions whose k characters leave out the string's start "
                         f"(i > k; medians over seeds): " + "; ".join(parts) + ".")
    return lines


def _headline(kept, k):
    ks = sorted(set(kept.k))
    return min(ks, key=lambda x: (abs(x - k), x)) if ks else None


def _per_length(kept, s, moment, headline_k, family, several=()) -> list[str]:
    """Per length (and alphabet size): the local prefix kept in place against the full context, seed by seed."""
    lines = []
    d = kept[kept.setting == s]
    k = _headline(d, headline_k)
    for (length, size), g in d.groupby(["length", "alphabet_size"]):
        med = g.groupby("k")[["local", "random", "shuffled"]].median()
        at = g[g.k == k].sort_values("seed")
        if at.empty:
            continue
        name = _where(s, length, size, several)
        share = median_interval(at.share.to_numpy())
        adds = paired_contrast(at.full.to_numpy(), at.random.to_numpy(), kind="difference").decided(
            family, f"{name}: full - kept in place")
        place = paired_contrast(at.random.to_numpy(), at.local.to_numpy(), kind="difference").decided(
            family, f"{name}: kept in place - moved to the start")
        reads = f"{at.reads.min():.0f}" if at.reads.min() == at.reads.max() else f"{at.reads.min():.0f}-{at.reads.max():.0f}"
        lines.append(
            f"- **{s}, {length} characters** ({size} letters, guessing {g.guess.iloc[0]:.2f}), {moment_label(moment)} "
            f"(epochs {span(g.epoch)}), {plural(g.seed.nunique(), 'seed')}: full-context recall {g.groupby('seed').full.first().median():.2f}. "
            f"The k characters before a position kept in place, over the positions i > k (medians over seeds), with "
            f"random letters before them: " + ", ".join(f"k={kk}: {r:.2f}" for kk, r in med.random.items())
            + "; with the string's own characters shuffled before them: "
            + ", ".join(f"k={kk}: {r:.2f}" for kk, r in med.shuffled.items())
            + "; moved to the string's start: " + ", ".join(f"k={kk}: {r:.2f}" for kk, r in med.local.items())
            + f". At k = {k} ({reads} reads per run), the share of full recall kept in place with random letters "
            f"before it: {share.text()}; what the global context adds (full - kept in place, seed by seed): "
            f"{adds.text(words=('less', 'more', 'as much'))}; what keeping their place adds (kept in place - moved to "
            f"the start, seed by seed): {place.text(words=('less', 'more', 'as much'))}. Reading at {length} characters: "
            f"{_reading(at.share.to_numpy(), share, k, family, name)}.")
    return lines


def _by_seed(a: pd.Series, b: pd.Series, family, name: str):
    """``a - b`` over the seeds both have (series indexed by seed), as ``family`` decides test ``name``; None with
    fewer than two shared seeds."""
    seeds = [x for x in a.index if x in b.index]
    if len(seeds) < 2:
        return None
    return paired_contrast(a[seeds].to_numpy(), b[seeds].to_numpy(), kind="difference").decided(family, name)


def _across_lengths(shared, s, headline_k, family, several=()) -> list[str]:
    """The share kept in place at the headline k, each longer length against the shortest, paired by seed, over the
    positions both lengths have (``shared``: a :func:`kept_table` of a :func:`recall_table` with ``below`` = the
    shortest length)."""
    d = shared[shared.setting == s]
    k = _headline(d, headline_k)
    lines = []
    for size, g in d[d.k == k].groupby("alphabet_size"):
        lengths = sorted(set(g.length))
        short = g[g.length == lengths[0]].set_index("seed").share
        for length in lengths[1:]:
            long = g[g.length == length].set_index("seed").share
            where = f"{s}, {size} letters" if s in several else s
            c = _by_seed(long, short, family, f"{where}: share kept in place, {length} - {lengths[0]} characters")
            if c is None:
                continue
            change = ("" if not c.established else
                      " (the local prefix carries more of recall in longer strings)" if c.interval.estimate > 0 else
                      " (the local prefix carries less of recall in longer strings)")
            reads = g[g.length == length].reads
            lines.append(f"- Length, **{s}**, {size} letters: share of full recall kept by k = {k} characters in place, "
                         f"{length} - {lengths[0]} characters, over the same positions ({k + 1}-{lengths[0] - 1}; "
                         f"{span(reads)} reads per run at {length} characters), paired by seed (the shorter string is "
                         f"the longer one's start): {c.text(words=('lower', 'higher', 'equal'))}{change}.")
    return lines


def _between_models(kept, between, headline_k, family, several=()) -> list[str]:
    """The share kept in place at the headline k, each setting of ``between`` after the first against the first, at
    each length and alphabet size either has, paired by seed (the same seed, the same string); where they share
    fewer than two seeds (a model that never memorised there has no probes), a line says so."""
    lines = []
    if len(between) < 2:
        return lines
    d = kept[kept.setting.isin(between)]
    k = _headline(d, headline_k)
    for (length, size), g in d[d.k == k].groupby(["length", "alphabet_size"]):
        ref = g[g.setting == between[0]].set_index("seed").share
        for s in between[1:]:
            other = g[g.setting == s].set_index("seed").share
            letters = f", {size} letters" if {s, between[0]} & set(several) else ""
            c = _by_seed(other, ref, family, f"{s} - {between[0]}, {length} characters{letters}: share kept in place")
            if c is None:
                shared = len(set(other.index) & set(ref.index))
                lines.append(f"- Models, {length} characters, {size} letters: **{s}** and **{between[0]}** not compared: "
                             f"probes on {plural(shared, 'seed')} of both, 2 needed.")
                continue
            lines.append(f"- Models, {length} characters, {size} letters: share of full recall kept by k = {k} characters "
                         f"in place, **{s}** - **{between[0]}**, seed by seed on the same strings: "
                         f"{c.text(words=('less local', 'more local', 'as local'))}.")
    return lines


def _more_exposure(table, first, later, headline_k, family, several=()) -> list[str]:
    """The share kept in place at the headline k, ``later`` against ``first`` (the same run at two moments)."""
    if later == first:
        return []
    a_all, b_all = kept_table(table, later), kept_table(table, first)
    lines = []
    for (s, length, size), b in b_all.groupby(["setting", "length", "alphabet_size"]):
        k = _headline(b, headline_k)
        a = a_all[(a_all.setting == s) & (a_all.length == length) & (a_all.alphabet_size == size) & (a_all.k == k)]
        a, b = a.set_index("seed").share, b[b.k == k].set_index("seed").share
        c = _by_seed(a, b, family, f"{_where(s, length, size, several)}: share kept in place, {later} - {first}")
        if c is None:
            continue
        lines.append(f"- More exposure, **{s}**, {length} characters, {size} letters: share of full recall kept by k = {k} "
                     f"characters in place, {moment_label(later)} - {moment_label(first)}, seed by seed: "
                     f"{c.text(words=('less local', 'more local', 'as local'))}.")
    return lines


def _pretraining(local, status, size, moments, family) -> list[str]:
    """Locality of a model against its random-weight twin at equal rates, per length and moment, seed by seed."""
    lines = []
    for pre, rnd in twin_settings(status):
        for moment in moments:
            for length in sorted(set(local[local.setting == pre].length)):
                a, b = (local[(local.setting == x) & (local.alphabet_size == size) & (local.moment == moment)
                              & (local.length == length)].set_index("seed").locality for x in (pre, rnd))
                seeds = [x for x in a.index if x in b.index]
                if not seeds:
                    continue
                c = paired_contrast(a[seeds].to_numpy(), b[seeds].to_numpy(), kind="difference").decided(
                    family, f"{pre} / {rnd}, {length} characters, {moment}: locality")
                lines.append(f"- Pretraining, {length} characters, {size} letters, equal learning rates, "
                             f"{moment_label(moment)}: locality {a[seeds].median():.2f} for {pre}, {b[seeds].median():.2f} "
                             f"for {rnd} (pretrained - random, seed by seed: {c.text()}).")
    return lines


def _global_context(wide, s, moment) -> list[str]:
    lines = []
    for length, w in wide[wide.setting == s].groupby("length"):
        sh = w[w.probe == "shift"].groupby(["m", "seed"]).recall.mean().groupby("m").median()
        if sh.empty:
            continue
        lines.append(f"- **{s}, {length} characters**, {moment_label(moment)}: the whole true prefix with m random letters "
                     f"in front (every position moved by m; full recall {w.groupby('seed').full.first().median():.2f}): "
                     + ", ".join(f"m={m}: {v:.2f}" for m, v in sh.items()) + " (medians over seeds).")
    return lines
