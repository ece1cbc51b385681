"""Probes of what recall of a trained string rests on: the local prefix or the global context.

For a model as it is (its weights at some moment of a run) and one trained string ``text`` of
``L`` characters, every position ``i`` (0..L-1) is recalled greedily under changed contexts:
``correct`` (argmax over the full vocabulary is ``text[i]``) and ``p_true``, exactly as
:func:`memlib.metrics.token_metrics` defines them. The input is always ``[BOS] + context`` and the
prediction for ``text[i]`` is read at its last position.

* **full**: context ``text[:i]`` (teacher forcing, as in a run's metrics).
* **local** (``ks``): only the ``k`` characters before ``i``, ``text[max(0, i-k):i]``; ``k = 0`` is
  BOS alone, ``k >= i`` the full context.
* **replace** (``replace`` kinds x ``replace_ks`` x ``draws``): keep ``text[i-k:i]``, replace
  ``text[:i-k]`` by ``"random"`` letters drawn i.i.d. from the string's distribution, by a
  ``"shuffled"`` permutation of those same characters (one character shuffled is itself), or by
  ``"none"`` (removed: the local context, repeated for every draw). Lengths and positions are kept
  (except for ``"none"``); for ``k >= i`` nothing is replaced.
* **shift** (``shifts`` x ``draws``): ``[BOS] + m random letters + text``, teacher-forced; the
  logits at position ``m + i`` predict ``text[i]``.
* **uniqueness** (no model): per position, the shortest ``k`` whose ``k``-gram before ``i``
  occurs before no other position (see :func:`uniqueness`).

Random letters and permutations come from private :class:`numpy.random.Generator` objects, one
per (kind, ``k`` or ``m``, draw), seeded from the spec's seed and the string's text: the same spec
gives the same contexts whatever the batching, and no global random state is touched. All
contexts of one call are deduplicated and run in as few forwards as ``batch_tokens`` allows,
longest first, right-padded (causal attention: padding after a sequence does not change its
logits), with logits computed only at the positions that are read; a context that is a prefix of
another is read from the longer one's forward (the full-context probe is one sequence).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import numbers

import numpy as np
import pandas as pd
import torch

from .config import AT_WORDS, REPLACE_KINDS, ProbeSpec
from .hardware import resolve_precision
from .metrics import MEMORISED_HOLD, MEMORISED_THRESHOLD, token_metrics
from .models import LoadedModel
from .phases import RANDOM_SUFFIX, stable_from
from .stats import paired_contrast
from .strings import alphabet_of, string_parts
from .labels import MOMENT_LABELS, setting, span

__all__ = ["continuation_share", "REPLACE_KINDS", "AT_WORDS", "TABLE_COLUMNS", "ProbeSpec", "Prober", "uniqueness", "first_recall_k", "measure",
           "probe_table", "recall_table", "character_table", "character_summary", "k_to_reach", "locality", "setting",
           "status_table", "context_summary", "twin_settings", "verdict"]

TABLE_COLUMNS = ("probe", "kind", "k", "m", "draw", "position", "correct", "p_true", "uniqueness")
_SHIFT_TAG = len(REPLACE_KINDS)  # seeds: replace kinds use their index in REPLACE_KINDS, shifts this


def uniqueness(text: str) -> np.ndarray:
    """Per position ``i`` (shape ``(L,)``, int): the shortest ``k`` (``0 <= k <= i``) such that the
    ``k``-gram ``text[i-k:i]`` ends at no other position ``j`` with ``k <= j <= L-1``; ``i`` when no
    shorter ``k`` does (the full prefix, anchored by BOS, is always unique)."""
    L = len(text)
    out = np.arange(L)
    todo = list(range(1, L))  # position 0 has only k = 0 = i
    for k in range(L):
        todo = [i for i in todo if i > k]
        if not todo:
            break
        counts = {}
        for j in range(k, L):
            g = text[j - k:j]
            counts[g] = counts.get(g, 0) + 1
        unique = [i for i in todo if counts[text[i - k:i]] == 1]
        out[unique] = k
        todo = [i for i in todo if counts[text[i - k:i]] > 1]
    return out


def first_recall_k(correct, ks) -> np.ndarray:
    """Per position (shape ``(L,)``, float): the smallest ``k`` in ``ks`` from which the character
    is recalled at that ``k`` and every larger one; NaN where it is not recalled at the largest.
    ``correct``: ``(len(ks), L)`` bool, e.g. ``measure(...)["local_correct"]``."""
    correct, ks = np.asarray(correct, dtype=bool), np.asarray(ks)
    if correct.ndim != 2 or correct.shape[0] != len(ks) or len(set(ks.tolist())) != len(ks):
        raise ValueError(f"correct of shape {correct.shape} and ks={ks.tolist()} do not fit: "
                         f"give (len(ks), L) and distinct ks")
    order = np.argsort(ks, kind="stable")
    first = stable_from(correct[order])
    out = np.full(correct.shape[1], np.nan)
    hit = ~np.isnan(first)
    out[hit] = ks[order][first[hit].astype(int)]
    return out


def _rng(seed: int, text: str, *key: int) -> np.random.Generator:
    words = np.frombuffer(hashlib.sha256(text.encode()).digest(), dtype="<u4").tolist()
    return np.random.default_rng([seed, *words, *key])


def _replaced(text: str, i: int, k: int, kind: str, rng, alphabet: str, probs) -> str:
    """The context of position ``i`` with ``text[:i-k]`` replaced (all of ``text[:i]`` for k >= i)."""
    n = i - k
    if n <= 0:
        return text[:i]
    if kind == "none":
        return text[n:i]
    head = rng.choice(list(alphabet), size=n, p=probs) if kind == "random" else rng.permutation(list(text[:n]))
    return "".join(head) + text[n:i]


def _contexts(text: str, alphabet: str, probs, spec: ProbeSpec) -> dict[str, np.ndarray]:
    """Every context of a resolved spec, as text without BOS: ``"full"`` (L,), ``"local"``
    (ks, L), ``"replace"`` (kinds, replace_ks, draws, L), predicting ``text[i]`` at their end, and
    ``"shift"`` (shifts, draws): ``m`` random letters + ``text[:-1]``, predicting all of ``text``."""
    L = len(text)
    out = {"full": np.array([text[:i] for i in range(L)], dtype=object)}
    out["local"] = np.array([[text[max(0, i - k):i] for i in range(L)] for k in spec.ks], dtype=object)
    rep = np.empty((len(spec.replace), len(spec.replace_ks), spec.draws, L), dtype=object)
    for a, kind in enumerate(spec.replace):
        for b, k in enumerate(spec.replace_ks):
            for d in range(spec.draws):
                rng = _rng(spec.seed, text, REPLACE_KINDS.index(kind), k, d)
                rep[a, b, d] = [_replaced(text, i, k, kind, rng, alphabet, probs) for i in range(L)]
    out["replace"] = rep
    shift = np.empty((len(spec.shifts), spec.draws), dtype=object)
    for a, m in enumerate(spec.shifts):
        for d in range(spec.draws):
            shift[a, d] = "".join(_rng(spec.seed, text, _SHIFT_TAG, m, d).choice(list(alphabet), size=m, p=probs))
            shift[a, d] += text[:-1]
    out["shift"] = shift
    return out


def _carriers(prefixes) -> dict[str, str]:
    """Each prefix mapped to a string among ``prefixes`` that starts with it and that no other
    string extends: one forward of that string gives the prediction after every one of its
    prefixes (causal attention). In sorted order, the strings that extend ``c`` come right after
    ``c``, so following the next string until nothing extends it finds one."""
    ordered = sorted(set(prefixes))
    carrier = {}
    for j in range(len(ordered) - 1, -1, -1):
        c = ordered[j]
        nxt = ordered[j + 1] if j + 1 < len(ordered) else None
        carrier[c] = carrier[nxt] if nxt is not None and nxt.startswith(c) else c
    return carrier


def _recall(model: LoadedModel, reads: list[tuple[str, str]], tok: dict, alphabet_ids, batch_tokens: int, amp=None):
    """Greedy recall for each ``(prefix, target)`` in ``reads`` (letters, without BOS): is the
    argmax after ``[BOS] + prefix`` the target, and its probability, from
    :func:`~memlib.metrics.token_metrics`. Returns two arrays of ``len(reads)``.

    A prefix is read from the forward of a context that extends it
    (:func:`_carriers`); contexts run longest first, right-padded, at most
    ``max(1, batch_tokens // longest)`` per forward, with logits computed only where read."""
    carrier = _carriers(p for p, _ in reads)
    by_carrier = {}
    for j, (prefix, _) in enumerate(reads):
        by_carrier.setdefault(carrier[prefix], []).append(j)
    order = sorted(by_carrier, key=lambda c: (-len(c), c))
    correct, p_true = np.zeros(len(reads), dtype=bool), np.zeros(len(reads), dtype=np.float32)
    device, alphabet_ids = model.device, torch.as_tensor(alphabet_ids, device=model.device)
    amp_ctx = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if amp else contextlib.nullcontext
    start = 0
    while start < len(order):
        width = len(order[start]) + 1
        batch = order[start:start + max(1, batch_tokens // width)]
        start += len(batch)
        ids = np.full((len(batch), width), model.bos_id, dtype=np.int64)
        keep = np.zeros(ids.shape, dtype=bool)
        rows, cols, targets, where = [], [], [], []
        for r, c in enumerate(batch):
            ids[r, 1:len(c) + 1] = [tok[ch] for ch in c]
            for j in by_carrier[c]:
                prefix, target = reads[j]
                rows.append(r), cols.append(len(prefix)), targets.append(tok[target]), where.append(j)
        keep[rows, cols] = True
        keep_t = torch.from_numpy(keep).to(device)
        with amp_ctx():
            logits = model.model(input_ids=torch.from_numpy(ids).to(device), use_cache=False,
                                 logits_to_keep=keep_t).logits
        if logits.dim() == 3:  # a model that ignores logits_to_keep
            logits = logits[keep_t]
        flat = np.cumsum(keep.reshape(-1)) - 1  # row-major index of each kept position among the kept ones
        picked = torch.as_tensor(flat[np.array(rows) * width + np.array(cols)], device=device)
        tm = token_metrics(logits[picked][None], torch.tensor(targets, device=device)[None], alphabet_ids)
        correct[where] = tm["correct"][0].cpu().numpy()
        p_true[where] = tm["p_true"][0].float().cpu().numpy()
    return correct, p_true


def measure(model: LoadedModel, string, spec: ProbeSpec, *, batch_tokens: int = 8192, precision=None
            ) -> dict[str, np.ndarray]:
    """All probes of ``spec`` for one trained ``string`` (a RandomString, its ``to_dict()`` or a
    str) on ``model`` as it is. ``spec`` is resolved here against the string's length. ``precision``
    as in :func:`memlib.expose` (``None``: bf16 on CUDA, fp32 on a CPU).

    Returns (``L`` = string length; ``*_correct`` bool, ``*_p_true`` float32):

    - ``full_correct`` / ``full_p_true``: ``(L,)``;
    - ``local_*``: ``(len(ks), L)``;
    - ``replace_*``: ``(len(replace), len(replace_ks), draws, L)`` (``"none"`` rows repeat the
      local-prefix result for every draw);
    - ``shift_*``: ``(len(shifts), draws, L)``;
    - ``window_*`` (with ``offsets``): ``(len(offsets), L)``, entry ``[a, i]`` predicted from
      ``text[offsets[a]:i]`` (False / NaN for ``i < offsets[a]``), and ``offsets``;
    - ``uniqueness``: ``(L,)`` int; ``ks``, ``replace_ks``, ``shifts``: the resolved values.

    Every prediction is a read ``(prefix, target)``; equal reads are made once, and a prefix of
    another context is read from that context's forward, so the full-context probe costs one
    sequence however long the string. The model's weights are untouched and its train/eval mode
    is restored."""
    if not isinstance(model, LoadedModel):
        raise TypeError(f"model must be a memlib LoadedModel (from memlib.load_model), not {type(model).__name__}")
    text, alphabet, probs = string_parts(string)
    spec = spec.resolved(len(text), None)
    if isinstance(batch_tokens, bool) or not isinstance(batch_tokens, numbers.Integral) or batch_tokens < 1:
        raise ValueError(f"batch_tokens={batch_tokens!r} is not allowed: use an integer >= 1")
    amp = resolve_precision(precision, model.device)
    alphabet_ids = model.letter_ids(alphabet)
    tok = dict(zip(alphabet, alphabet_ids))
    ctx = _contexts(text, alphabet, probs, spec)
    cells = {}  # probe -> list of reads in the order of its array
    for name in ("full", "local", "replace"):
        cells[name] = [(c, text[idx[-1]]) for idx, c in np.ndenumerate(ctx[name])]
    m_of = np.repeat(np.array(spec.shifts), spec.draws)
    cells["shift"] = [(s[:m + i], text[i]) for s, m in zip(ctx["shift"].flat, m_of) for i in range(len(text))]
    cells["window"] = [(text[o:i], text[i]) for o in (spec.offsets or ()) for i in range(o, len(text))]
    reads = list(dict.fromkeys(r for name in cells for r in cells[name]))
    index = {r: j for j, r in enumerate(reads)}
    net, was_training = model.model, model.model.training
    try:
        net.eval()
        with torch.no_grad():
            correct, p_true = _recall(model, reads, tok, alphabet_ids, batch_tokens, amp)
    finally:
        net.train(was_training)
    out = {}
    for name in ("full", "local", "replace", "shift"):
        shape = (*ctx[name].shape, len(text)) if name == "shift" else ctx[name].shape
        where = [index[r] for r in cells[name]]
        out[f"{name}_correct"] = correct[where].reshape(shape)
        out[f"{name}_p_true"] = p_true[where].reshape(shape)
    if spec.offsets is not None:  # windows: (offsets, L), positions before the offset not predicted
        where = iter([index[r] for r in cells["window"]])
        wc = np.zeros((len(spec.offsets), len(text)), dtype=bool)
        wp = np.full((len(spec.offsets), len(text)), np.nan, dtype=np.float32)
        for a, o in enumerate(spec.offsets):
            idx = [next(where) for _ in range(o, len(text))]
            wc[a, o:], wp[a, o:] = correct[idx], p_true[idx]
        out["window_correct"], out["window_p_true"] = wc, wp
        out["offsets"] = np.array(spec.offsets, dtype=np.int64)
    out["uniqueness"] = uniqueness(text)
    for name in ("ks", "replace_ks", "shifts"):
        out[name] = np.array(getattr(spec, name), dtype=np.int64)
    return out


def probe_table(arrays: dict, spec: ProbeSpec) -> pd.DataFrame:
    """Tidy table of :func:`measure`'s ``arrays``: one row per (probe, kind, k or m, draw, position),
    columns :data:`TABLE_COLUMNS`. ``kind`` is ``""`` outside the replace probe; ``k`` and ``m`` are
    nullable integers (``<NA>`` where they do not apply); ``draw`` is 0 for full and local."""
    axes = {"full": [], "local": [("k", arrays["ks"])],
            "replace": [("kind", spec.replace), ("k", arrays["replace_ks"]),
                        ("draw", range(arrays["replace_correct"].shape[2]))],
            "shift": [("m", arrays["shifts"]), ("draw", range(arrays["shift_correct"].shape[1]))]}
    parts = []
    for probe, dims in axes.items():
        correct = arrays[f"{probe}_correct"]
        if correct.shape[:-1] != tuple(len(v) for _, v in dims):
            raise ValueError(f"{probe}_correct has shape {correct.shape}, which does not fit the spec's {probe} axes")
        grid = np.indices(correct.shape).reshape(correct.ndim, -1)
        cols = {"probe": probe, **{col: np.asarray(list(v))[g] for (col, v), g in zip(dims, grid)}}
        cols.update(position=grid[-1], correct=correct.reshape(-1), p_true=arrays[f"{probe}_p_true"].reshape(-1),
                    uniqueness=arrays["uniqueness"][grid[-1]])
        parts.append(pd.DataFrame(cols))
    df = pd.concat(parts, ignore_index=True)
    df["kind"] = df["kind"].fillna("").astype(str)
    df["k"], df["m"] = df["k"].astype("Int64"), df["m"].astype("Int64")
    df["draw"] = df["draw"].fillna(0).astype(np.int64)
    return df[list(TABLE_COLUMNS)]


def _run_columns(run) -> dict:
    c, train = run.config, run.config.train[0]
    return {"run": run.key[:12], "setting": setting(run), "model": c.model, "seed": c.seed, "lr": c.lr,
            "length": len(train["text"]), "alphabet_size": len(train.get("alphabet") or alphabet_of([train]))}


def recall_table(runs, at=AT_WORDS) -> pd.DataFrame:
    """Mean recall of probed runs: one row per (run, moment, probe, kind, k, m), averaged over
    positions, draws and training strings. Columns: setting ("model, lr X"), model, seed, lr, length,
    alphabet_size,
    moment (an entry of ``at``), epoch, probe, kind, k, m, recall, recall_beyond (recall over the
    positions ``i > k`` only, whose local prefix leaves out the string's start), p_true, full
    (full-context recall at that moment), guess (the string's own most-frequent-letter share, the level of guessing
    from its letter frequencies) and guess_distribution (the likeliest letter's probability under the distribution
    the string was drawn from: 1/l for l uniform letters). Runs that never reached "memorised" have no rows for it."""
    rows = []
    for run in runs:
        if run.config.probes is None:
            raise ValueError(f"{run!r} has no probes: run it with expose(..., probes=ProbeSpec(...))")
        spec = run.config.probes
        for moment in at:
            epoch = run.probe_epoch(moment)
            if epoch is None:
                continue
            for j, string in enumerate(run.config.train):
                t = probe_table(run.probe(moment, j), spec)
                t["beyond"] = t.correct.where(t.position > t.k.fillna(-1).astype(int))  # i > k: the start is cut off
                g = t.groupby(["probe", "kind", "k", "m"], dropna=False, sort=False)
                part = g.agg(recall=("correct", "mean"), recall_beyond=("beyond", "mean"), p_true=("p_true", "mean"))
                guess = run.metrics[(run.metrics.split == "train") & (run.metrics.string == j)].unigram_guess.iloc[0]
                part = part.reset_index().assign(**_run_columns(run), moment=str(moment), epoch=epoch, string=j,
                                                 full=float(t[t.probe == "full"].correct.mean()), guess=guess,
                                                 guess_distribution=float(max(string["probs"])))
                rows.append(part)
    if not rows:
        raise ValueError("no probed run has probes at " + ", ".join(map(repr, at)))
    table = pd.concat(rows, ignore_index=True)
    keys = ["run", "setting", "model", "seed", "lr", "length", "alphabet_size", "moment", "epoch", "probe", "kind", "k",
            "m"]
    cols = ["recall", "recall_beyond", "p_true", "full", "guess", "guess_distribution"]
    return table.groupby(keys, dropna=False, sort=False)[cols].mean().reset_index()


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
    """One row per (training string, position) of a probed run at ``at``: the character, its
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
        first = first_recall_k(a["local_correct"], a["ks"])
        grid = [float(ks[np.searchsorted(ks, u)]) if u <= ks[-1] else np.nan for u in a["uniqueness"]]
        chance = [continuation_share(text, i, int(min(k, i))) if np.isfinite(k) else np.nan for i, k in enumerate(first)]
        rows.append(pd.DataFrame({**_run_columns(run), "string": j, "position": np.arange(len(text)),
                                  "char": list(text), "p_char": [p[ch] for ch in text], "uniqueness": a["uniqueness"],
                                  "uniqueness_grid": grid, "first_k": first, "chance": chance, "full": a["full_correct"]}))
    return pd.concat(rows, ignore_index=True)


def character_summary(characters: pd.DataFrame) -> pd.DataFrame:
    """Per alphabet size of a :func:`character_table` (one or several runs): ``recalled`` (share of
    characters recalled with the full prefix), ``without_start`` (share recalled from a local prefix
    that leaves out the string's start, ``first_k < position``), the median ``first_k`` of recalled
    characters and the median ``uniqueness``, ``below_uniqueness`` (share of recalled characters
    recalled from a prefix shorter than their uniqueness, both on the probed grid of k: one that also occurs
    elsewhere in the string), ``chance_below`` (for those, the mean :func:`continuation_share` of that prefix:
    how often it would be right by chance, from the string's own continuations) and ``log_l(L)``."""
    by = characters.groupby("alphabet_size")
    rec = characters[characters.first_k.notna()]
    below = rec[rec.first_k < rec.uniqueness_grid]
    out = pd.DataFrame({
        "characters": by.size(),
        "recalled": by.full.mean(),
        "without_start": (rec.first_k < rec.position).groupby(rec.alphabet_size).sum() / by.size(),
        "median_first_k": rec.groupby("alphabet_size").first_k.median(),
        "median_uniqueness": by.uniqueness.median(),
        "below_uniqueness": (rec.first_k < rec.uniqueness_grid).groupby(rec.alphabet_size).mean(),
        "chance_below": below.groupby("alphabet_size").chance.mean(),
    })
    out["log_l(L)"] = [math.log(by.length.first()[a]) / math.log(a) for a in out.index]
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
    """One row per probed run: ``setting``, ``model``, ``lr``, ``alphabet_size``, ``seed``, ``memorised_at`` (the
    epoch its probes call memorised; NaN: never), ``last_epoch``, ``final_accuracy``, ``from_store``."""
    return pd.DataFrame([{"setting": setting(r), "model": r.config.model, "lr": r.config.lr,
                          "alphabet_size": len(r.config.train[0]["alphabet"]), "seed": r.config.seed,
                          "memorised_at": r.probe_epoch("memorised"), "last_epoch": r.config.epochs,
                          "final_accuracy": r.final().accuracy.mean(), "from_store": r.from_store} for r in runs])


def context_summary(table: pd.DataFrame, moment: str = "last") -> pd.DataFrame:
    """Mean recall per setting (rows) and probe (columns: ``full``, ``<kind> k=<k>`` for replaced global context,
    ``shift m=<m>``) at ``moment``, from a :func:`recall_table`."""
    wide = table[table.moment == moment]
    summary = pd.concat([
        wide[wide.probe == "replace"].assign(probe_k=lambda d: d.kind + " k=" + d.k.astype(str)),
        wide[wide.probe == "shift"].assign(probe_k=lambda d: "shift m=" + d.m.astype(str)),
    ]).pivot_table(index="setting", columns="probe_k", values="recall", aggfunc="mean")
    summary.insert(0, "full", wide.groupby("setting").full.mean())
    return summary


def twin_settings(status: pd.DataFrame) -> list[tuple[str, str]]:
    """``(pretrained setting, random-weight setting)`` pairs of a :func:`status_table`: a model and its
    random-weight twin (:data:`memlib.phases.RANDOM_SUFFIX`) at one learning rate."""
    pairs = []
    for (model, lr), g in status.groupby(["model", "lr"], sort=False):
        if model.endswith(RANDOM_SUFFIX):
            pre = status[(status.model == model[: -len(RANDOM_SUFFIX)]) & (status.lr == lr)]
            if len(pre):
                pairs.append((pre.setting.iloc[0], g.setting.iloc[0]))
    return pairs


def _at_k(table, setting_, moment, k, probe="local", kind=""):
    d = table[(table.setting == setting_) & (table.moment == moment) & (table.probe == probe) & (table.k == k)]
    return d[d.kind == kind].recall.mean() if probe == "replace" else d.recall.mean()


def verdict(table: pd.DataFrame, status: pd.DataFrame, characters: pd.DataFrame, *, compare_alphabet_size=None,
            share: float = 0.9) -> list[str]:
    """Notebook 03's verdict, one markdown line per statement, from a :func:`recall_table`, its runs'
    :func:`status_table` and the :func:`character_summary` of the first setting; ``compare_alphabet_size``: the
    alphabet size at which models and their random-weight twins are compared."""
    settings = list(dict.fromkeys(table.setting))
    reach = k_to_reach(table, share)
    local = locality(table)
    loc = local.pivot_table(index=["setting", "alphabet_size"], columns="moment", values="locality", aggfunc="median")
    lines = []
    for s in settings:
        lines += _never_memorised(s, status)
        lines += _local_recall(table, reach, s)
    lines += _more_exposure(loc, local, status)
    lines += _pretraining(loc, local, status, compare_alphabet_size)
    wide = table[table.moment == "last"]
    for s in settings:
        lines += _global_context(wide, s)
    for size, row in characters.iterrows():
        lines.append(f"- {settings[0]}, {size} letters, end of run: {row.without_start:.0%} of characters are recalled from "
                     f"a local prefix that leaves out the string's start; the local prefix recalls a character from k = "
                     f"{row.median_first_k:.0f} on (median), against a median uniqueness of {row.median_uniqueness:.0f} "
                     f"(log_l(L) = {row['log_l(L)']:.1f}); {row.below_uniqueness:.0%} of recalled characters are recalled "
                     f"from a prefix shorter than their uniqueness (both on the probed grid of k), one that also occurs "
                     f"elsewhere in the string"
                     + (f": in the string, that prefix is followed by the recalled character {row.chance_below:.0%} of the "
                        f"times (mean; what it would get right by chance)" if pd.notna(row.chance_below) else "") + ".")
    return lines


def _never_memorised(s, status) -> list[str]:
    never = status[(status.setting == s) & status.memorised_at.isna()]
    if not len(never):
        return []
    return [f"- **{s}**: {len(never)} run(s) never memorised their string (accuracy >= {MEMORISED_THRESHOLD} held "
            f"{MEMORISED_HOLD} epochs) within their epochs "
            f"(alphabet sizes {sorted(set(never.alphabet_size))}; final accuracy {never.final_accuracy.min():.2f}-"
            f"{never.final_accuracy.max():.2f}): they have no 'just memorised' probes, and their end-of-run probes are of "
            f"a partly memorised string."]


def _local_recall(table, reach, s) -> list[str]:
    """Per moment and alphabet size: full-context recall and the local prefix's recall over positions ``i > k``
    (medians over seeds), the alphabet's guessing level beside them, and the interpolated k that reaches 90%."""
    lines, t = [], table[table.setting == s]
    for moment in ("memorised", "last"):
        tm = t[t.moment == moment]
        if tm.empty:
            continue
        parts = []
        for size, g in tm.groupby("alphabet_size"):
            kmax = int(g[g.probe == "local"].k.max())
            small = [k for k in (1, 2, 4, 8, 16) if k < kmax]
            loc = g[g.probe == "local"].groupby("k").recall_beyond.median()
            here = reach[(reach.setting == s) & (reach.moment == moment) & (reach.alphabet_size == size)]
            k90 = (f"90% of full recall from k = {span(here.k, '{:.1f}', 'never')} (interpolated)" if here.k.notna().any()
                   else "90% of full recall at no probed k")
            parts.append(f"{size} letters (guessing {g.guess_distribution.iloc[0]:.2f}): full {g.full.median():.2f}, "
                         + ", ".join(f"k={k}: {loc.get(k, np.nan):.2f}" for k in small) + f"; {k90}")
        lines.append(f"- **{s}**, {MOMENT_LABELS[moment]} (epoch {tm.epoch.median():.0f}, median): local prefix alone, "
                     f"recall over the positions whose prefix of k characters leaves out the string's start (i > k; "
                     f"medians over seeds): " + "; ".join(parts) + ".")
    return lines


def _more_exposure(loc, local, status) -> list[str]:
    """Locality at the end of the run against when just memorised, seed by seed (the same run at two moments)."""
    lines = []
    for (s, size), row in loc.iterrows():
        if {"memorised", "last"} <= set(row.dropna().index):
            a, b = (local[(local.setting == s) & (local.alphabet_size == size) & (local.moment == m)]
                    .set_index("seed").locality for m in ("last", "memorised"))
            seeds = [x for x in a.index if x in b.index]
            c = paired_contrast(a[seeds], b[seeds], kind="difference")
            change = ("not established" if not c.established else
                      "more local after training past memorisation" if c.interval.estimate > 0 else
                      "less local after training past memorisation")
            here = status[(status.setting == s) & (status.alphabet_size == size)]
            lines.append(f"- More exposure, **{s}**, {size} letters: locality {row['memorised']:.2f} when just memorised "
                         f"(epochs {here.memorised_at.min():.0f}-{here.memorised_at.max():.0f}), {row['last']:.2f} at the "
                         f"end of the run (epoch {here.last_epoch.max()}); end - just memorised, seed by seed: "
                         f"{c.text(words=('less local', 'more local', 'as local'))}. A change of locality with more "
                         f"exposure: {change}.")
    return lines


def _pretraining(loc, local, status, size) -> list[str]:
    lines = []
    for pre, rnd in twin_settings(status):
        for moment in ("memorised", "last"):
            a, b = (local[(local.setting == x) & (local.alphabet_size == size) & (local.moment == moment)]
                    .set_index("seed").locality for x in (pre, rnd))
            seeds = [s for s in a.index if s in b.index]
            c = paired_contrast(a[seeds], b[seeds], kind="difference")
            med = [loc.loc[(x, size), moment] if (x, size) in loc.index and moment in loc.columns else float("nan")
                   for x in (pre, rnd)]
            when = [status[(status.setting == x) & (status.alphabet_size == size)] for x in (pre, rnd)]
            at_epochs = " and ".join(f"{w.memorised_at.min():.0f}-{w.memorised_at.max():.0f}" if moment == "memorised"
                                     else f"{w.last_epoch.max()}" for w in when)
            lines.append(f"- Pretraining, {size} letters, equal learning rates, {MOMENT_LABELS[moment]} (epochs "
                         f"{at_epochs}): locality {med[0]:.2f} for {pre}, {med[1]:.2f} for {rnd} (pretrained - random, "
                         f"seed by seed: {c.text()}).")
    return lines


def _global_context(wide, s) -> list[str]:
    w = wide[wide.setting == s]
    if w.empty:
        return []
    rk = sorted(set(w[w.probe == "replace"].k.dropna().astype(int)))
    rep = "; ".join(f"k={k}: local only {_at_k(wide, s, 'last', k, 'replace', 'none'):.2f}, random rest "
                    f"{_at_k(wide, s, 'last', k, 'replace', 'random'):.2f}, shuffled rest "
                    f"{_at_k(wide, s, 'last', k, 'replace', 'shuffled'):.2f}" for k in rk)
    sh = ", ".join(f"m={m}: {v:.2f}" for m, v in w[w.probe == 'shift'].groupby("m").recall.mean().items())
    return [f"- **{s}**, end of run, global context: {rep}. Shifted by m letters (full recall {w.full.mean():.2f}): {sh}."]


class Prober:
    """Inside a run (:mod:`memlib.loop`): runs the probes of ``config.probes`` on the weights as they are, at
    the epochs the spec names; :meth:`arrays` is what the run stores."""

    def __init__(self, model: LoadedModel, config):
        self.model, self.strings, self.amp = model, config.train, config.autocast
        self.spec = config.probes.resolved(config.length, config.epochs)
        self.fixed = {a for a in self.spec.at if not isinstance(a, str)}
        if "last" in self.spec.at:
            self.fixed.add(config.epochs)
        self.memorised = None  # memlib.metrics.memorised_at: the first epoch of a streak of `hold` epochs >= threshold
        self.streak, self.candidate = 0, None  # the streak so far, and the epoch it started (probed, not yet confirmed)
        self.results = {}  # epoch -> one measure() dict per training string

    def __call__(self, epoch: int, accuracy: float) -> None:
        due = epoch in self.fixed
        if "memorised" in self.spec.at and self.memorised is None:
            if accuracy >= self.spec.threshold - 1e-12:
                self.streak += 1
                if self.streak == 1:
                    self.candidate, due = epoch, True
                if self.streak >= self.spec.hold:
                    self.memorised = self.candidate
            else:
                if self.candidate is not None and self.candidate not in self.fixed:
                    self.results.pop(self.candidate, None)  # the streak broke: that epoch was not memorisation
                self.streak, self.candidate = 0, None
        if due and epoch not in self.results:
            self.results[epoch] = [measure(self.model, d, self.spec, precision="bf16" if self.amp else "fp32") for d in self.strings]

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Take back the state :meth:`arrays` gave (resuming from a checkpoint)."""
        memorised = int(arrays["probe_memorised_epoch"])
        self.memorised = None if memorised < 0 else memorised
        self.streak = int(arrays.get("probe_streak", 0))
        candidate = int(arrays.get("probe_candidate", -1))
        self.candidate = None if candidate < 0 else candidate
        self.results = {}
        for epoch in (int(x) for x in arrays["probe_epochs"]):
            per_string = []
            for j in range(len(self.strings)):
                prefix = f"probe_e{epoch}_s{j}_"
                per_string.append({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
            self.results[epoch] = per_string

    def arrays(self, final: bool = False) -> dict[str, np.ndarray]:
        """What the run stores (``final``) or a checkpoint keeps: at the end, the probes of a streak the run
        ended before it could complete are dropped (the string was not memorised)."""
        results = dict(self.results)
        if final and self.memorised is None and self.candidate is not None and self.candidate not in self.fixed:
            results.pop(self.candidate, None)
        out = {"probe_epochs": np.array(sorted(results), dtype=np.int64),
               "probe_memorised_epoch": np.array(-1 if self.memorised is None else self.memorised, dtype=np.int64)}
        if not final:
            out.update(probe_streak=np.array(self.streak, dtype=np.int64),
                       probe_candidate=np.array(-1 if self.candidate is None else self.candidate, dtype=np.int64))
        for epoch, per_string in results.items():
            for j, arrays in enumerate(per_string):
                out.update({f"probe_e{epoch}_s{j}_{name}": a for name, a in arrays.items()})
        return out
