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
import numbers

import numpy as np
import pandas as pd
import torch

from .config import AT_WORDS, REPLACE_KINDS, ProbeSpec, after_memorised
from .hardware import resolve_precision
from .loop import Hook
from .metrics import Streak, reaches, token_metrics
from .models import LoadedModel
from .milestones import stable_from
from .strings import string_parts

__all__ = ["REPLACE_KINDS", "AT_WORDS", "TABLE_COLUMNS", "ProbeSpec", "Prober", "check_probes", "check_candidates", "uniqueness", "first_recall_k",
           "measure", "probe_table", "probe_positions", "probe_contexts"]

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


def probe_positions(text: str, spec: ProbeSpec) -> dict[str, np.ndarray]:
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


def probe_contexts(text: str, alphabet: str, probs, spec: ProbeSpec, where: dict) -> dict[str, np.ndarray]:
    """Every context of a resolved spec, as text without BOS: ``"full"`` (L,), ``"local"``
    (ks, P), ``"replace"`` (kinds, replace_ks, draws, P), predicting ``text[i]`` at their end for the
    positions ``where`` gives (:func:`probe_positions`; ``None`` where the position is -1), and ``"shift"``
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
    where = probe_positions(text, spec)
    ctx = probe_contexts(text, alphabet, probs, spec, where)
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


class Prober(Hook):
    """Inside a run, a :class:`memlib.loop.Hook`: runs the probes of ``config.probes`` on the weights as they are,
    at the epochs the spec names ("memorised": the first epoch of the streak :class:`memlib.metrics.Streak`
    completes, probed when the streak starts and dropped if it breaks); :meth:`results` is what the run stores."""

    def __init__(self, model: LoadedModel, config):
        self.model, self.strings, self.amp = model, config.train, config.autocast
        self.spec = config.probes.resolved(config.length, config.epochs)
        self.fixed = {a for a in self.spec.at if not isinstance(a, str)}
        if "last" in self.spec.at:
            self.fixed.add(config.epochs)
        self.after = [n for n in map(after_memorised, self.spec.at) if n is not None]  # "memorised+N"
        self.memorised = None  # the first epoch of the completed streak (memlib.metrics.memorised_at's epoch)
        self.streak = Streak(self.spec.threshold, self.spec.hold)  # its start: probed, not yet confirmed
        self.probed = {}  # epoch -> one measure() dict per training string
        self.shared = {}  # epoch -> the run's candidates (one dict for all its training strings)

    def on_epoch(self, epoch: int, accuracy: float) -> None:
        due = epoch in self.fixed
        if ("memorised" in self.spec.at or self.after) and self.memorised is None:
            held, started = reaches(accuracy, self.spec.threshold), self.streak.start
            if self.streak.update(epoch, held):
                self.memorised = self.streak.start
            if held and self.streak.length == 1:
                due = due or "memorised" in self.spec.at
            if not held and started is not None and started not in self.fixed:
                self.probed.pop(started, None)  # the streak broke: that epoch was not memorisation
                self.shared.pop(started, None)
        if self.memorised is not None and epoch - self.memorised in self.after:
            due = True
        if due and epoch not in self.probed:
            precision = "bf16" if self.amp else "fp32"
            self.probed[epoch] = [measure(self.model, d, self.spec, precision=precision) for d in self.strings]
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
                self.probed[epoch][j]["permuted_loss"] = candidates.string_losses(self.model, perms, a, precision=precision)
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

    def state(self) -> dict[str, np.ndarray]:
        """What a checkpoint keeps: the probes so far and the streak."""
        return self._arrays(final=False)

    def results(self) -> dict[str, np.ndarray]:
        """What the run stores: the probes of a streak the run ended before it could complete are dropped (the
        string was not memorised)."""
        return self._arrays(final=True)

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Take back the state :meth:`state` gave (resuming from a checkpoint)."""
        memorised = int(arrays["probe_memorised_epoch"])
        self.memorised = None if memorised < 0 else memorised
        self.streak.length = int(arrays.get("probe_streak", 0))
        candidate = int(arrays.get("probe_candidate", -1))
        self.streak.start = None if candidate < 0 else candidate
        self.probed, self.shared = {}, {}
        for epoch in (int(x) for x in arrays["probe_epochs"]):
            per_string = []
            for j in range(len(self.strings)):
                prefix = f"probe_e{epoch}_s{j}_"
                per_string.append({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
            self.probed[epoch] = per_string
            prefix = f"probe_e{epoch}_run_"
            shared = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            if shared:
                self.shared[epoch] = shared

    def _arrays(self, final: bool) -> dict[str, np.ndarray]:
        results = dict(self.probed)
        started = self.streak.start
        if final and self.memorised is None and started is not None and started not in self.fixed:
            results.pop(started, None)
        results = {epoch: (per_string, self.shared.get(epoch, {})) for epoch, per_string in results.items()}
        out = {"probe_epochs": np.array(sorted(results), dtype=np.int64),
               "probe_memorised_epoch": np.array(-1 if self.memorised is None else self.memorised, dtype=np.int64)}
        if not final:
            out.update(probe_streak=np.array(self.streak.length, dtype=np.int64),
                       probe_candidate=np.array(-1 if started is None else started, dtype=np.int64))
        for epoch, (per_string, shared) in results.items():
            for j, arrays in enumerate(per_string):
                out.update({f"probe_e{epoch}_s{j}_{name}": a for name, a in arrays.items()})
            out.update({f"probe_e{epoch}_run_{name}": a for name, a in shared.items()})
        return out


def check_probes(probes, length: int, epochs: int, batch_size: int, n_train: int):
    """``probes`` resolved against the strings' length and the run's epochs (ValueError naming any
    bad value), or None."""
    if probes is None:
        return None
    if not isinstance(probes, ProbeSpec):
        raise ValueError(f"probes={probes!r} is not allowed: use a memlib.ProbeSpec or None")
    if batch_size < n_train:
        raise ValueError(f"probes with batch_size={batch_size} are not allowed: probes measure the weights after "
                         f"whole epochs, so use one optimiser step per epoch (batch_size >= {n_train} training strings)")
    return probes.resolved(length, epochs)


def check_candidates(probes, train: list[dict]) -> None:
    """ValueError, before any training, where the candidates of ``probes`` do not fit the training strings:
    importance samples and enumeration need one distribution for all of them (the run's candidates),
    enumeration at most :data:`memlib.candidates.ENUMERATION_LIMIT` strings, permutations two letters."""
    from .candidates import ENUMERATION_LIMIT, distinct_permutations

    if probes is None or not probes.candidates:
        return
    parts = [string_parts(d) for d in train]
    other = next((j for j, (_, a, p) in enumerate(parts) if a != parts[0][1] or not np.allclose(p, parts[0][2])), None)
    if (probes.samples or probes.enumerate) and other is not None:
        raise ValueError(f"probes with samples or enumerate need every training string of the run drawn from one "
                         f"distribution: string {other} has alphabet {parts[other][1]!r}, probabilities "
                         f"{np.round(parts[other][2], 4).tolist()}, string 0 {parts[0][1]!r}, "
                         f"{np.round(parts[0][2], 4).tolist()} (their candidates serve them all)")
    if probes.samples and (parts[0][2] <= 0).any():
        raise ValueError(f"samples={probes.samples} is not allowed for strings whose distribution gives letters "
                         f"{[c for c, q in zip(parts[0][1], parts[0][2]) if q <= 0]} probability 0 (alphabet "
                         f"{parts[0][1]!r}): the importance samples' proposal and the data must share their support")
    if probes.enumerate and len(parts[0][1]) ** len(parts[0][0]) > ENUMERATION_LIMIT:
        raise ValueError(f"enumerate=True is not allowed for {len(parts[0][1])} letters at length {len(parts[0][0])}: "
                         f"{len(parts[0][1]) ** len(parts[0][0]):,} strings, more than {ENUMERATION_LIMIT:,}")
    if probes.permuted:
        flat = [t for t, _, _ in parts if distinct_permutations(t) < 2]
        if flat:
            raise ValueError(f"permuted={probes.permuted} is not allowed: training string {flat[0][:20]!r} has no "
                             f"other arrangement of its letters")
