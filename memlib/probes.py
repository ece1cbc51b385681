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

With ``ProbeSpec.positions`` the local and replaced-context probes read a seeded subset of positions instead of
every one (each read is a forward of its own context: all positions cost about ``L^2 / 2`` tokens per kept
length, kind and draw); see :class:`~memlib.config.ProbeSpec`.

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

from .config import AT_WORDS, REPLACE_KINDS, ProbeSpec, after_memorised
from .hardware import resolve_precision
from .metrics import MEMORISED_HOLD, MEMORISED_THRESHOLD, token_metrics
from .models import RANDOM_SUFFIX, LoadedModel
from .phases import stable_from
from .stats import in_family, median_interval, paired_contrast, sign_counts, sign_test
from .strings import alphabet_of, string_parts
from .labels import moment_label, moment_order, plural, setting, span

__all__ = ["continuation_share", "REPLACE_KINDS", "AT_WORDS", "TABLE_COLUMNS", "ProbeSpec", "Prober", "uniqueness", "first_recall_k", "measure",
           "probe_table", "recall_table", "character_table", "character_summary", "k_to_reach", "locality", "setting",
           "status_table", "context_summary", "kept_table", "twin_settings", "verdict"]

TABLE_COLUMNS = ("probe", "kind", "k", "m", "draw", "position", "correct", "p_true", "uniqueness")
_SHIFT_TAG = len(REPLACE_KINDS)  # seeds: replace kinds use their index in REPLACE_KINDS, shifts this
_POSITION_TAG = len(REPLACE_KINDS) + 1  # and the subsets of positions (ProbeSpec.positions) this


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


def _positions(text: str, spec: ProbeSpec) -> dict[str, np.ndarray]:
    """The positions the local and replaced-context probes read (all, unless ``spec.positions`` is smaller than
    the string): ``"local"`` (``P * draws`` of them, sorted: as many as a replaced context reads over its draws),
    one subset for every ``k``; ``"replace"`` (kinds, replace_ks, draws, P), per (kind, k, draw) ``P`` positions
    drawn afresh among ``i > k`` (where something is replaced), sorted,
    ``-1`` where fewer than ``P`` such positions exist. Seeded from the spec's seed and the string's text."""
    L, P = len(text), spec.positions
    if P is None or P * spec.draws >= L:
        local = np.arange(L)
    else:
        local = np.sort(_rng(spec.seed, text, _POSITION_TAG).choice(L, size=P * spec.draws, replace=False))
    width = L if P is None else P
    rep = np.full((len(spec.replace), len(spec.replace_ks), spec.draws, width), -1, dtype=np.int64)
    for a, kind in enumerate(spec.replace):
        for b, k in enumerate(spec.replace_ks):
            for d in range(spec.draws):
                if P is None:
                    rep[a, b, d] = np.arange(L)
                    continue
                candidates = np.arange(k + 1, L)
                pick = candidates if len(candidates) <= P else _rng(
                    spec.seed, text, _POSITION_TAG, REPLACE_KINDS.index(kind), k, d).choice(candidates, size=P, replace=False)
                rep[a, b, d, :len(pick)] = np.sort(pick)
    return {"local": local, "replace": rep}


def _contexts(text: str, alphabet: str, probs, spec: ProbeSpec, where: dict) -> dict[str, np.ndarray]:
    """Every context of a resolved spec, as text without BOS: ``"full"`` (L,), ``"local"``
    (ks, P), ``"replace"`` (kinds, replace_ks, draws, P), predicting ``text[i]`` at their end for the
    positions ``where`` gives (:func:`_positions`; ``None`` where the position is -1), and ``"shift"``
    (shifts, draws): ``m`` random letters + ``text[:-1]``, predicting all of ``text``."""
    L = len(text)
    out = {"full": np.array([text[:i] for i in range(L)], dtype=object)}
    out["local"] = np.array([[text[max(0, i - k):i] for i in where["local"]] for k in spec.ks], dtype=object)
    rep = np.empty(where["replace"].shape, dtype=object)
    for a, kind in enumerate(spec.replace):
        for b, k in enumerate(spec.replace_ks):
            for d in range(spec.draws):
                rng = _rng(spec.seed, text, REPLACE_KINDS.index(kind), k, d)
                rep[a, b, d] = [_replaced(text, i, k, kind, rng, alphabet, probs) if i >= 0 else None
                                for i in where["replace"][a, b, d]]
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
    - ``local_*``: ``(len(ks), P)``;
    - ``replace_*``: ``(len(replace), len(replace_ks), draws, P)`` (``"none"`` rows repeat the
      local-prefix result for every draw);
    - with ``spec.positions`` (``P``; otherwise ``P = L`` and position ``j`` is ``j``): ``local_positions``
      ``(P,)`` and ``replace_positions`` (the shape of ``replace_*``; ``-1``, with False / NaN, where fewer
      than ``P`` positions have something replaced), the positions read;
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
    where = _positions(text, spec)
    ctx = _contexts(text, alphabet, probs, spec, where)
    cells = {}  # probe -> list of reads in the order of its array (None: no position there)
    cells["full"] = [(c, text[i]) for i, c in enumerate(ctx["full"])]
    cells["local"] = [(c, text[where["local"][idx[-1]]]) for idx, c in np.ndenumerate(ctx["local"])]
    cells["replace"] = [(c, text[i]) if c is not None else None
                        for c, i in zip(ctx["replace"].flat, where["replace"].flat)]
    m_of = np.repeat(np.array(spec.shifts), spec.draws)
    cells["shift"] = [(s[:m + i], text[i]) for s, m in zip(ctx["shift"].flat, m_of) for i in range(len(text))]
    cells["window"] = [(text[o:i], text[i]) for o in (spec.offsets or ()) for i in range(o, len(text))]
    reads = list(dict.fromkeys(r for name in cells for r in cells[name] if r is not None))
    index = {r: j for j, r in enumerate(reads)}
    net, was_training = model.model, model.model.training
    try:
        net.eval()
        with torch.no_grad():
            correct, p_true = _recall(model, reads, tok, alphabet_ids, batch_tokens, amp)
    finally:
        net.train(was_training)
    out = {}
    correct, p_true = np.append(correct, False), np.append(p_true, np.float32(np.nan))  # [-1]: no position
    for name in ("full", "local", "replace", "shift"):
        shape = (*ctx[name].shape, len(text)) if name == "shift" else ctx[name].shape
        rows = [index[r] if r is not None else -1 for r in cells[name]]
        out[f"{name}_correct"] = correct[rows].reshape(shape)
        out[f"{name}_p_true"] = p_true[rows].reshape(shape)
    if spec.positions is not None:  # which positions the subsets read (all of them without `positions`)
        out["local_positions"], out["replace_positions"] = where["local"], where["replace"]
    if spec.offsets is not None:  # windows: (offsets, L), positions before the offset not predicted
        it = iter([index[r] for r in cells["window"]])
        wc = np.zeros((len(spec.offsets), len(text)), dtype=bool)
        wp = np.full((len(spec.offsets), len(text)), np.nan, dtype=np.float32)
        for a, o in enumerate(spec.offsets):
            idx = [next(it) for _ in range(o, len(text))]
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
    nullable integers (``<NA>`` where they do not apply); ``draw`` is 0 for full and local. With a subset of
    positions (``local_positions`` / ``replace_positions`` in ``arrays``), the rows are the positions read."""
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
        position = grid[-1]  # without a subset of positions (ProbeSpec.positions), entry j is position j
        if probe == "local" and "local_positions" in arrays:
            position = np.asarray(arrays["local_positions"])[grid[-1]]
        elif probe == "replace" and "replace_positions" in arrays:
            position = np.asarray(arrays["replace_positions"]).reshape(-1)
        read = position >= 0  # -1: fewer positions than the subset's size had something replaced
        cols = {"probe": probe, **{col: np.asarray(list(v))[g][read] for (col, v), g in zip(dims, grid)}}
        cols.update(position=position[read], correct=correct.reshape(-1)[read],
                    p_true=arrays[f"{probe}_p_true"].reshape(-1)[read], uniqueness=arrays["uniqueness"][position[read]])
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
PRIMARY = (r".*, \d+ characters: share kept in place against one half", r".*: share kept in place, \d+ - \d+ characters")


def verdict(table: pd.DataFrame, status: pd.DataFrame, characters: pd.DataFrame, *, common=None,
            compare_alphabet_size=None, share: float = 0.9, headline_k: int = 8, characters_at: str = "memorised",
            family=None) -> list[str]:
    """Notebook 03's verdict, one markdown line per statement, from a :func:`recall_table`, its runs'
    :func:`status_table` and the :func:`character_summary` of the first setting (at ``characters_at``);
    ``common``: the same runs' :func:`recall_table` over the positions every length has (``below`` = the shortest
    length), which the contrast across lengths rests on (needed where a setting has several lengths: over all their
    positions, a longer string's reads lie further from its start); ``compare_alphabet_size``: the
    alphabet size at which models and their random-weight twins are compared; ``headline_k``: the kept length the
    per-length reading rests on (the nearest probed one if it was not probed). Its tests form one family
    (:data:`PRIMARY`)."""
    if family is None:
        return in_family(lambda f: verdict(table, status, characters, common=common,
                                           compare_alphabet_size=compare_alphabet_size, share=share,
                                           headline_k=headline_k, characters_at=characters_at, family=f), PRIMARY)
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
    for s in settings:
        lines += _per_length(kept, s, first, headline_k, family)
        lines += _across_lengths(shared, s, headline_k, family)
    lines += _more_exposure(table, first, later, headline_k, family)
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


def _per_length(kept, s, moment, headline_k, family) -> list[str]:
    """Per length (and alphabet size): the local prefix kept in place against the full context, seed by seed."""
    lines = []
    d = kept[kept.setting == s]
    k = _headline(d, headline_k)
    for (length, size), g in d.groupby(["length", "alphabet_size"]):
        med = g.groupby("k")[["local", "random", "shuffled"]].median()
        at = g[g.k == k].sort_values("seed")
        if at.empty:
            continue
        name = f"{s}, {length} characters"
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


def _across_lengths(shared, s, headline_k, family) -> list[str]:
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
            seeds = [x for x in long.index if x in short.index]
            if len(seeds) < 2:
                continue
            c = paired_contrast(long[seeds].to_numpy(), short[seeds].to_numpy(), kind="difference").decided(
                family, f"{s}: share kept in place, {length} - {lengths[0]} characters")
            change = ("" if not c.established else
                      " (the local prefix carries more of recall in longer strings)" if c.interval.estimate > 0 else
                      " (the local prefix carries less of recall in longer strings)")
            reads = g[g.length == length].reads
            lines.append(f"- Length, **{s}**, {size} letters: share of full recall kept by k = {k} characters in place, "
                         f"{length} - {lengths[0]} characters, over the same positions ({k + 1}-{lengths[0] - 1}; "
                         f"{span(reads)} reads per run at {length} characters), paired by seed (the shorter string is "
                         f"the longer one's start): {c.text(words=('lower', 'higher', 'equal'))}{change}.")
    return lines


def _more_exposure(table, first, later, headline_k, family) -> list[str]:
    """The share kept in place at the headline k, ``later`` against ``first`` (the same run at two moments)."""
    if later == first:
        return []
    a_all, b_all = kept_table(table, later), kept_table(table, first)
    lines = []
    for (s, length, size), b in b_all.groupby(["setting", "length", "alphabet_size"]):
        k = _headline(b, headline_k)
        a = a_all[(a_all.setting == s) & (a_all.length == length) & (a_all.alphabet_size == size) & (a_all.k == k)]
        a, b = a.set_index("seed").share, b[b.k == k].set_index("seed").share
        seeds = [x for x in a.index if x in b.index]
        if len(seeds) < 2:
            continue
        c = paired_contrast(a[seeds].to_numpy(), b[seeds].to_numpy(), kind="difference").decided(
            family, f"{s}, {length} characters: share kept in place, {later} - {first}")
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


class Prober:
    """Inside a run (:mod:`memlib.loop`): runs the probes of ``config.probes`` on the weights as they are, at
    the epochs the spec names; :meth:`arrays` is what the run stores."""

    def __init__(self, model: LoadedModel, config):
        self.model, self.strings, self.amp = model, config.train, config.autocast
        self.spec = config.probes.resolved(config.length, config.epochs)
        self.fixed = {a for a in self.spec.at if not isinstance(a, str)}
        if "last" in self.spec.at:
            self.fixed.add(config.epochs)
        self.after = [n for n in map(after_memorised, self.spec.at) if n is not None]  # "memorised+N"
        self.memorised = None  # memlib.metrics.memorised_at: the first epoch of a streak of `hold` epochs >= threshold
        self.streak, self.candidate = 0, None  # the streak so far, and the epoch it started (probed, not yet confirmed)
        self.results = {}  # epoch -> one measure() dict per training string
        self.shared = {}  # epoch -> the run's candidates (one dict for all its training strings)

    def __call__(self, epoch: int, accuracy: float) -> None:
        due = epoch in self.fixed
        if ("memorised" in self.spec.at or self.after) and self.memorised is None:
            if accuracy >= self.spec.threshold - 1e-12:
                self.streak += 1
                if self.streak == 1:
                    self.candidate, due = epoch, due or "memorised" in self.spec.at
                if self.streak >= self.spec.hold:
                    self.memorised = self.candidate
            else:
                if self.candidate is not None and self.candidate not in self.fixed:
                    self.results.pop(self.candidate, None)  # the streak broke: that epoch was not memorisation
                    self.shared.pop(self.candidate, None)
                self.streak, self.candidate = 0, None
        if self.memorised is not None and epoch - self.memorised in self.after:
            due = True
        if due and epoch not in self.results:
            precision = "bf16" if self.amp else "fp32"
            self.results[epoch] = [measure(self.model, d, self.spec, precision=precision) for d in self.strings]
            if self.spec.candidates:
                self.shared[epoch] = self._candidates(epoch, precision)

    def _candidates(self, epoch: int, precision: str) -> dict[str, np.ndarray]:
        """The candidates of the spec at ``epoch`` (:mod:`memlib.candidates`): the training strings' own
        losses (``member_loss``), per string its permutations' (into that string's results), the run's
        importance samples and its enumeration."""
        from . import candidates

        spec, texts = self.spec, [d["text"] for d in self.strings]
        out = {"member_loss": np.array([candidates.string_losses(self.model, [t], a, precision=precision)[0]
                                        for t, (_, a, _) in zip(texts, map(string_parts, self.strings))])}
        for j, d in enumerate(self.strings):
            if spec.permuted:
                _, a, _ = string_parts(d)
                perms = candidates.permutations(d["text"], spec.permuted, spec.seed + j)
                self.results[epoch][j]["permuted_loss"] = candidates.string_losses(self.model, perms, a, precision=precision)
        _, a, probs = string_parts(self.strings[0])
        if spec.samples:
            s = candidates.importance_sample(self.model, a, probs, len(texts[0]), spec.samples,
                                             temperatures=spec.temperatures, data_share=spec.data_share,
                                             seed=spec.seed + epoch, precision=precision)
            out.update({f"sampled_{k}": v for k, v in s.items()})
        if spec.enumerate:
            out.update({f"enumerated_{k}": v for k, v in
                        candidates.enumerate_strings(self.model, a, probs, len(texts[0]), precision=precision).items()})
        return out

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Take back the state :meth:`arrays` gave (resuming from a checkpoint)."""
        memorised = int(arrays["probe_memorised_epoch"])
        self.memorised = None if memorised < 0 else memorised
        self.streak = int(arrays.get("probe_streak", 0))
        candidate = int(arrays.get("probe_candidate", -1))
        self.candidate = None if candidate < 0 else candidate
        self.results, self.shared = {}, {}
        for epoch in (int(x) for x in arrays["probe_epochs"]):
            per_string = []
            for j in range(len(self.strings)):
                prefix = f"probe_e{epoch}_s{j}_"
                per_string.append({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
            self.results[epoch] = per_string
            prefix = f"probe_e{epoch}_run_"
            shared = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            if shared:
                self.shared[epoch] = shared

    def arrays(self, final: bool = False) -> dict[str, np.ndarray]:
        """What the run stores (``final``) or a checkpoint keeps: at the end, the probes of a streak the run
        ended before it could complete are dropped (the string was not memorised)."""
        results = dict(self.results)
        if final and self.memorised is None and self.candidate is not None and self.candidate not in self.fixed:
            results.pop(self.candidate, None)
        results = {epoch: (per_string, self.shared.get(epoch, {})) for epoch, per_string in results.items()}
        out = {"probe_epochs": np.array(sorted(results), dtype=np.int64),
               "probe_memorised_epoch": np.array(-1 if self.memorised is None else self.memorised, dtype=np.int64)}
        if not final:
            out.update(probe_streak=np.array(self.streak, dtype=np.int64),
                       probe_candidate=np.array(-1 if self.candidate is None else self.candidate, dtype=np.int64))
        for epoch, (per_string, shared) in results.items():
            for j, arrays in enumerate(per_string):
                out.update({f"probe_e{epoch}_s{j}_{name}": a for name, a in arrays.items()})
            out.update({f"probe_e{epoch}_run_{name}": a for name, a in shared.items()})
        return out
