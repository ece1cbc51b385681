"""Notebook 03's tables: recall of the probed runs from the local prefix and with the global context replaced."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..labels import setting
from ..models import RANDOM_SUFFIX
from ..probes import first_recall_k, probe_table
from ..strings import alphabet_of, string_parts


def _run_columns(run) -> dict:
    c, train = run.config, run.config.train[0]
    return {"run": run.key[:12], "setting": setting(run), "model": c.model, "seed": c.seed, "lr": c.lr,
            "length": len(train["text"]), "alphabet_size": len(train.get("alphabet") or alphabet_of([train]))}


def recall_table(runs, at=None, below: int | None = None) -> pd.DataFrame:
    """Mean recall of probed runs: one row per (run, moment, probe, kind, k, m), averaged over
    positions, draws and training strings. Columns: setting ("model, lr X"), model, seed, lr, length,
    alphabet_size,
    moment (an entry of ``at``), epoch, probe, kind, k, m, recall, recall_beyond (recall over the
    positions ``i > k`` only, whose local prefix leaves out the string's start), p_true, full
    (full-context recall at that moment), guess (the string's own most-frequent-letter share, the level of guessing
    from its letter frequencies) and guess_distribution (the likeliest letter's probability under the distribution
    the string was drawn from: 1/l for l uniform letters). ``at``: the moments (None: each run's own,
    ``ProbeSpec.at``). Runs that never reached "memorised" (or "memorised+N") have no rows for it. Averages are
    over the positions read (a subset where ``ProbeSpec.positions`` says so); ``reads_beyond`` counts the reads
    behind ``recall_beyond``. ``below``: count only the positions ``i < below`` (every probe, full-context recall
    included): with the shortest string length, the positions that strings of every length have, so that lengths
    are compared over the same positions (:func:`verdict`'s ``common``)."""
    if below is not None and (isinstance(below, bool) or not isinstance(below, (int, np.integer)) or below < 2):
        raise ValueError(f"below must be an integer >= 2 (a position bound), got {below!r}")
    rows = []
    for run in runs:
        if run.config.probes is None:
            raise ValueError(f"{run!r} has no probes: run it with expose(..., probes=ProbeSpec(...))")
        spec = run.config.probes
        for moment in (spec.at if at is None else at):
            epoch = run.probe_epoch(moment)
            if epoch is None:
                continue
            for j, string in enumerate(run.config.train):
                t = probe_table(run.probe(moment, j), spec)
                if below is not None:
                    t = t[t.position < below].copy()
                t["beyond"] = t.correct.astype(float).where(t.position > t.k.fillna(-1).astype(int))  # i > k: the start is cut off
                g = t.groupby(["probe", "kind", "k", "m"], dropna=False, sort=False)
                part = g.agg(recall=("correct", "mean"), recall_beyond=("beyond", "mean"), p_true=("p_true", "mean"),
                             reads_beyond=("beyond", "count"))
                guess = run.metrics[(run.metrics.split == "train") & (run.metrics.string == j)].unigram_guess.iloc[0]
                part = part.reset_index().assign(**_run_columns(run), moment=str(moment), epoch=epoch, string=j,
                                                 full=float(t[t.probe == "full"].correct.mean()), guess=guess,
                                                 guess_distribution=float(max(string["probs"])))
                rows.append(part)
    if not rows:
        raise ValueError("no probed run has probes at " + ("its moments (did none memorise its string?)" if at is None
                                                           else ", ".join(map(repr, at))))
    table = pd.concat(rows, ignore_index=True)
    keys = ["run", "setting", "model", "seed", "lr", "length", "alphabet_size", "moment", "epoch", "probe", "kind", "k",
            "m"]
    cols = ["recall", "recall_beyond", "p_true", "full", "guess", "guess_distribution"]
    g = table.groupby(keys, dropna=False, sort=False)
    return g[cols].mean().join(g.reads_beyond.sum()).reset_index()


def continuation_share(text: str, i: int, k: int) -> float:
    """How often the ``k`` characters before position ``i`` are followed, anywhere in ``text``, by ``text[i]``:
    the share of that k-gram's continuations (every ``j >= k`` with ``text[j-k:j]`` equal to it) that are this
    character. 1 where the k-gram is unique (its only continuation is ``i``); for ``k = 0`` the character's share of
    the string. What a prefix of ``k`` characters could recall by chance, from the string alone."""
    if not 0 <= k <= i < len(text):
        raise ValueError(f"k={k}, i={i} are not allowed for a string of {len(text)} characters: use 0 <= k <= i < length")
    gram = text[i - k:i]
    nexts = [text[j] for j in range(k, len(text)) if text[j - k:j] == gram]
    return nexts.count(text[i]) / len(nexts)


def character_table(run, at="last") -> pd.DataFrame:
    """One row per (training string, position read by the local-prefix probe: every position, or the subset of
    ``ProbeSpec.positions``) of a probed run at ``at``: the character, its
    probability under the string's distribution, ``uniqueness`` (shortest k whose k-gram before it
    is unique) and ``uniqueness_grid`` (the smallest probed k at or above it, the grid ``first_k`` is on),
    ``first_k`` (smallest probed k from which the local prefix alone recalls it, NaN if even the full prefix
    does not), ``chance`` (for recalled characters, :func:`continuation_share` of the prefix of ``first_k``
    characters: how often that k-gram is followed by this character in the string) and ``full`` (recalled
    with the full prefix)."""
    rows = []
    for j, string in enumerate(run.config.train):
        a = run.probe(at, j)
        text, alphabet, probs = string_parts(string)
        p = dict(zip(alphabet, probs))
        ks = np.sort(np.asarray(a["ks"]))
        pos = np.asarray(a.get("local_positions", np.arange(len(text))))  # the positions the local probe read
        first = first_recall_k(a["local_correct"], a["ks"])
        uniq = np.asarray(a["uniqueness"])[pos]
        grid = [float(ks[np.searchsorted(ks, u)]) if u <= ks[-1] else np.nan for u in uniq]
        chance = [continuation_share(text, int(i), int(min(k, i))) if np.isfinite(k) else np.nan for i, k in zip(pos, first)]
        rows.append(pd.DataFrame({**_run_columns(run), "string": j, "position": pos,
                                  "char": [text[i] for i in pos], "p_char": [p[text[i]] for i in pos], "uniqueness": uniq,
                                  "uniqueness_grid": grid, "first_k": first, "chance": chance,
                                  "full": np.asarray(a["full_correct"])[pos]}))
    return pd.concat(rows, ignore_index=True)


def character_summary(characters: pd.DataFrame) -> pd.DataFrame:
    """Per string length and alphabet size of a :func:`character_table` (one or several runs): ``recalled`` (share of
    characters recalled with the full prefix), ``without_start`` (share recalled from a local prefix
    that leaves out the string's start, ``first_k < position``), the median ``first_k`` of recalled
    characters and the median ``uniqueness``, ``below_uniqueness`` (share of recalled characters
    recalled from a prefix shorter than their uniqueness, both on the probed grid of k: one that also occurs
    elsewhere in the string), ``chance_below`` (for those, the mean :func:`continuation_share` of that prefix:
    how often it would be right by chance, from the string's own continuations) and ``log_l(L)``."""
    keys = ["length", "alphabet_size"]
    by = characters.groupby(keys)
    rec = characters[characters.first_k.notna()]
    below = rec[rec.first_k < rec.uniqueness_grid]
    out = pd.DataFrame({
        "characters": by.size(),
        "recalled": by.full.mean(),
        "without_start": (rec.first_k < rec.position).groupby([rec.length, rec.alphabet_size]).sum() / by.size(),
        "median_first_k": rec.groupby(keys).first_k.median(),
        "median_uniqueness": by.uniqueness.median(),
        "below_uniqueness": (rec.first_k < rec.uniqueness_grid).groupby([rec.length, rec.alphabet_size]).mean(),
        "chance_below": below.groupby(keys).chance.mean(),
    })
    out["log_l(L)"] = [math.log(length) / math.log(a) for length, a in out.index]
    return out


def k_to_reach(table: pd.DataFrame, share: float = 0.9) -> pd.DataFrame:
    """Per (run, moment) of a :func:`recall_table`: the local-prefix length k at which recall reaches ``share`` of the
    full-context recall, recall counted over the positions ``i > k`` only (``recall_beyond``: where the prefix really
    leaves out the string's start), linearly interpolated between the probed lengths below and above it (``k``; NaN if
    no probed length reaches it); ``k_probed``, the first probed length that does."""
    local = table[(table.probe == "local") & table.recall_beyond.notna()]
    keys = ["run", "setting", "model", "seed", "lr", "length", "alphabet_size", "moment", "epoch"]

    def first(g):
        g = g.sort_values("k")
        ks, rec, target = g.k.to_numpy(dtype=float), g.recall_beyond.to_numpy(dtype=float), share * g.full.iloc[0]
        hit = np.flatnonzero(rec >= target - 1e-12)
        k, probed = np.nan, np.nan
        if len(hit):
            i = hit[0]
            probed = k = ks[i]
            if i > 0 and rec[i] > rec[i - 1]:
                k = ks[i - 1] + (target - rec[i - 1]) / (rec[i] - rec[i - 1]) * (ks[i] - ks[i - 1])
        return pd.Series({"k": k, "k_probed": probed, "full": g.full.iloc[0]})

    return local.groupby(keys, sort=False)[["k", "recall_beyond", "full"]].apply(first).reset_index()


def locality(table: pd.DataFrame) -> pd.DataFrame:
    """Per (run, moment) of a :func:`recall_table`: how much of full-context recall the local prefix
    alone gives where it really is local: the mean over the probed lengths ``0 < k < length`` of
    the recall at positions ``i > k`` (whose prefix of ``k`` characters leaves out the string's
    start), divided by full-context recall. 1 = a short prefix recalls as well as the whole string;
    near the guessing level = recall needs the rest of the string."""
    local = table[(table.probe == "local") & (table.k > 0) & (table.k < table.length)]
    keys = ["run", "setting", "model", "seed", "lr", "length", "alphabet_size", "moment", "epoch"]
    g = local.groupby(keys, sort=False)
    return (g.recall_beyond.mean() / g.full.first()).rename("locality").reset_index()


def status_table(runs) -> pd.DataFrame:
    """One row per probed run: ``setting``, ``model``, ``lr``, ``length``, ``alphabet_size``, ``seed``, ``memorised_at`` (the
    epoch its probes call memorised; NaN: never), ``last_epoch``, ``final_accuracy``, ``from_store``."""
    return pd.DataFrame([{"setting": setting(r), "model": r.config.model, "lr": r.config.lr, "length": r.config.length,
                          "alphabet_size": len(r.config.train[0]["alphabet"]), "seed": r.config.seed,
                          "memorised_at": r.probe_epoch("memorised"), "last_epoch": r.config.epochs,
                          "final_accuracy": r.final().accuracy.mean(), "from_store": r.from_store} for r in runs])


def context_summary(table: pd.DataFrame, moment: str = "memorised") -> pd.DataFrame:
    """Median over seeds of recall per (setting, length) (rows) and probe (columns: ``full``, ``<kind> k=<k>`` for the
    k characters before a position kept and the rest replaced, over the positions ``i > k``; ``shift m=<m>``) at
    ``moment``, from a :func:`recall_table`."""
    wide = table[table.moment == moment]
    keys = ["setting", "length"]
    summary = pd.concat([
        wide[wide.probe == "replace"].assign(probe_k=lambda d: d.kind + " k=" + d.k.astype(str), value=lambda d: d.recall_beyond),
        wide[wide.probe == "shift"].assign(probe_k=lambda d: "shift m=" + d.m.astype(str), value=lambda d: d.recall),
    ]).groupby([*keys, "probe_k", "seed"]).value.mean().groupby([*keys, "probe_k"]).median().unstack("probe_k")
    summary.insert(0, "full", wide.groupby([*keys, "seed"]).full.first().groupby(keys).median())
    return summary


def twin_settings(status: pd.DataFrame) -> list[tuple[str, str]]:
    """``(pretrained setting, random-weight setting)`` pairs of a :func:`status_table`: a model and its
    random-weight twin (:data:`memlib.models.RANDOM_SUFFIX`) at one learning rate."""
    pairs = []
    for (model, lr), g in status.groupby(["model", "lr"], sort=False):
        if model.endswith(RANDOM_SUFFIX):
            pre = status[(status.model == model[: -len(RANDOM_SUFFIX)]) & (status.lr == lr)]
            if len(pre):
                pairs.append((pre.setting.iloc[0], g.setting.iloc[0]))
    return pairs


def kept_table(table: pd.DataFrame, moment: str = "memorised") -> pd.DataFrame:
    """Per (setting, length, alphabet size, seed, k) at ``moment``, for the kept lengths ``k`` of the replaced-context
    probe, recall over the positions ``i > k``: ``local`` (the k characters alone, moved to the string's start),
    ``random`` / ``shuffled`` (kept in place, everything before them random letters of the string's distribution
    or its own characters shuffled), ``full`` (full-context recall at that moment), ``guess`` (the likeliest
    letter's probability), ``share`` (``random / full``: the share of full recall that the local prefix, kept in
    place, carries without the global context), ``epoch`` and ``reads`` (reads behind ``random``)."""
    d = table[table.moment == moment]
    keys = ["setting", "length", "alphabet_size", "seed"]
    rep = d[d.probe == "replace"]
    ks = sorted(set(rep.k.dropna().astype(int)))
    both = pd.concat([d[(d.probe == "local") & d.k.isin(ks)].assign(kind="local"), rep])
    if both.empty:
        return pd.DataFrame(columns=[*keys, "k", "local", "random", "shuffled", "full", "guess", "share", "epoch", "reads"])
    wide = both.pivot_table(index=[*keys, "k"], columns="kind", values="recall_beyond", aggfunc="mean")
    reads = rep[rep.kind == "random"].groupby([*keys, "k"]).reads_beyond.sum().rename("reads")
    per_run = d.groupby(keys).agg(full=("full", "first"), guess=("guess_distribution", "first"), epoch=("epoch", "first"))
    out = wide.join(reads).reset_index().join(per_run, on=keys)
    for kind in ("local", "random", "shuffled"):
        if kind not in out:
            out[kind] = np.nan
    out["share"] = out.random / out.full
    return out[out.random.notna()].reset_index(drop=True)  # a kept length with no position beyond it: nothing replaced
