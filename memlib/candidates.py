"""Candidates: strings a model is asked about without being trained on them, for exposure and membership.

A random string's exposure (Carlini et al., "The Secret Sharer", 2019) is ``-log2 P(loss(X) <= loss(s))``
for ``X`` drawn from the distribution ``s`` was drawn from. Three ways to get at that probability, all
forward-only and batched, all with the loop's own loss (the mean next-token cross-entropy over the full
vocabulary, :func:`memlib.metrics.token_metrics`):

* **counted** among candidates drawn from the distribution (the run's held-out strings), or among
  :func:`permutations` of the string's own characters (same letters, same counts, another order: what a
  model that knows only the string's letter histogram cannot tell apart);
* **exact**, by :func:`enumerate_strings`: every string of the alphabet at that length, where there are few
  enough (at most ``ENUMERATION_LIMIT``);
* **importance-sampled**, by :func:`importance_sample` and :func:`tail_probability`: candidates drawn from a
  proposal ``q`` that the model itself makes likely (a defensive mixture of the data distribution and the
  model restricted to the alphabet at a few temperatures) and weighted by ``p_data(x) / q(x)``. Since the
  mixture gives the data distribution a share ``data_share``, every weight is at most ``1 / data_share``,
  so the estimate's variance is finite; its normal interval on the log scale (from the weighted hits'
  standard error) is an approximation that holds when the hits are many, so the tables carry ``hits`` and
  their effective sample size beside it; the tests check it against exact enumeration.

The string itself is among its candidates wherever they can repeat it (enumeration, importance samples):
it is counted as at least as likely as itself by its letters, not by comparing two computations of its loss,
which batches of different shapes round differently (in bf16 by far more than in fp32).
"""

from __future__ import annotations

import contextlib
import math
from itertools import product

import numpy as np
import torch

from .hardware import resolve_precision
from .metrics import LN2, token_metrics

__all__ = ["ENUMERATION_LIMIT", "permutations", "distinct_permutations", "string_losses", "enumerate_strings",
           "importance_sample", "same_as", "enumeration_index", "tail_probability", "exact_tail", "reliable", "MIN_HITS",
           "MIN_ESS"]

ENUMERATION_LIMIT = 2 ** 20  # strings; a million forwards of a tiny model take a few minutes on 2 cores


def distinct_permutations(text: str) -> int:
    """How many distinct strings have exactly the letters of ``text`` (the multinomial coefficient)."""
    counts = [text.count(c) for c in set(text)]
    return math.factorial(len(text)) // math.prod(math.factorial(c) for c in counts)


def permutations(text: str, n: int, seed: int) -> list[str]:
    """``n`` strings drawn uniformly, independently (with replacement) from the distinct rearrangements of
    ``text``'s characters other than ``text`` itself: same letters, same counts, another order. Seeded by
    ``seed`` and the text. ValueError when ``text`` has no other arrangement (one letter repeated)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} is not allowed: use an integer >= 1")
    if not isinstance(text, str) or not text:
        raise ValueError(f"text={text!r} is not allowed: use a non-empty string")
    if distinct_permutations(text) < 2:
        raise ValueError(f"text {text[:20]!r} has no other arrangement of its letters: permuted candidates need at "
                         f"least two different letters")
    rng = np.random.default_rng([int(seed), *text.encode()])
    chars, out = np.array(list(text)), []
    while len(out) < n:
        s = "".join(rng.permutation(chars))
        if s != text:
            out.append(s)
    return out


def _batches(n: int, length: int, vocab: int, batch_tokens: int):
    """Row ranges of at most ``batch_tokens`` tokens and about 256 MB of float32 logits each."""
    rows = max(1, min(batch_tokens // (length + 1), (64 * 2 ** 20) // max(1, length * vocab)))
    return [(i, min(n, i + rows)) for i in range(0, n, rows)]


@torch.no_grad()
def _scores(model, ids: torch.Tensor, alphabet_ids: torch.Tensor, amp: bool):
    """Per string: the loop's loss (mean ``nll``) and the log-softmax over the alphabet at every position
    (batch, pos, alphabet), logits as :func:`memlib.loop` computes them."""
    ctx = torch.autocast(ids.device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()
    with ctx:
        logits = model.model(input_ids=ids[:, :-1], use_cache=False).logits
    tm = token_metrics(logits, ids[:, 1:], alphabet_ids)
    logits_alpha = logits.float().index_select(-1, alphabet_ids)
    return tm["nll"].mean(-1), logits_alpha


def _evaluate(model, texts, alphabet: str, *, batch_tokens: int, precision, temperatures=()):
    """Losses of ``texts`` and, per temperature, ``log q_T(text)`` under the model restricted to the alphabet."""
    texts = list(texts)
    aid = torch.tensor(model.letter_ids(alphabet), device=model.device)
    index = {c: i for i, c in enumerate(alphabet)}
    amp = resolve_precision(precision, model.device) == "bf16"
    net, was = model.model, model.model.training
    net.eval()
    losses, logq = [], []
    try:
        length = len(texts[0]) if texts else 0
        for a, b in _batches(len(texts), length, int(net.config.vocab_size), batch_tokens):
            ids = torch.tensor([model.encode(t) for t in texts[a:b]], device=model.device)
            loss, z = _scores(model, ids, aid, amp)
            losses.append(loss.cpu().numpy().astype(np.float64))
            pick = torch.tensor([[index[c] for c in t] for t in texts[a:b]], device=model.device).unsqueeze(-1)
            logq.append(np.stack([torch.log_softmax(z / T, -1).gather(-1, pick).squeeze(-1).sum(-1).cpu().numpy()
                                  for T in temperatures], axis=-1).astype(np.float64) if temperatures
                        else np.zeros((b - a, 0)))
    finally:
        net.train(was)
    if not texts:
        return np.zeros(0), np.zeros((0, len(temperatures)))
    return np.concatenate(losses), np.concatenate(logq)


def string_losses(model, texts, alphabet: str, *, batch_tokens: int = 8192, precision=None) -> np.ndarray:
    """The loop's loss of every string of ``texts`` (all of one length) on ``model`` as it is: the mean over
    characters of the next-token cross-entropy over the full vocabulary, in nats. Batched, no gradient; the
    model's weights and mode are untouched."""
    return _evaluate(model, texts, alphabet, batch_tokens=batch_tokens, precision=precision)[0]


def _log2_probs(texts, alphabet: str, probs) -> np.ndarray:
    lp = dict(zip(alphabet, np.log2(np.asarray(probs, dtype=np.float64))))
    return np.array([sum(lp[c] for c in t) for t in texts])


def _check_distribution(alphabet: str, probs, length: int) -> np.ndarray:
    if not isinstance(alphabet, str) or not alphabet or len(set(alphabet)) != len(alphabet):
        raise ValueError(f"alphabet={alphabet!r} is not allowed: use a string of distinct letters")
    p = np.asarray(probs, dtype=np.float64)
    if p.shape != (len(alphabet),) or (p < 0).any() or not math.isclose(p.sum(), 1.0, rel_tol=1e-9):
        raise ValueError(f"probs={list(probs)} is not allowed for alphabet {alphabet!r}: give one probability >= 0 "
                         f"per letter, summing to 1")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length={length!r} is not allowed: use an integer >= 1")
    return p


def enumerate_strings(model, alphabet: str, probs, length: int, *, batch_tokens: int = 8192, precision=None) -> dict:
    """Every string of ``length`` letters of ``alphabet`` (in lexicographic order), with its loss on ``model``
    (``loss``) and its ``log2`` probability under the distribution ``probs`` (``log2_p``): the exact
    distribution of the loss under the data, for :func:`exact_tail`. ValueError, before any forward, when
    there are more than :data:`ENUMERATION_LIMIT` strings."""
    p = _check_distribution(alphabet, probs, length)
    count = len(alphabet) ** length
    if count > ENUMERATION_LIMIT:
        raise ValueError(f"{len(alphabet)} letters at length {length} make {count:,} strings: enumeration is allowed up "
                         f"to {ENUMERATION_LIMIT:,} (use importance_sample for longer strings)")
    texts = ["".join(t) for t in product(alphabet, repeat=length)]
    return {"loss": string_losses(model, texts, alphabet, batch_tokens=batch_tokens, precision=precision),
            "log2_p": _log2_probs(texts, alphabet, p)}


def _check_temperatures(temperatures, data_share) -> tuple:
    ts = tuple(temperatures)
    if not ts or any(isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0 for t in ts):
        raise ValueError(f"temperatures={list(temperatures)} is not allowed: use one or more numbers > 0")
    if isinstance(data_share, bool) or not isinstance(data_share, (int, float)) or not 0 < data_share < 1:
        raise ValueError(f"data_share={data_share!r} is not allowed: use a number in (0, 1); the data distribution's "
                         f"share of the proposal bounds every weight by 1 / data_share")
    return tuple(float(t) for t in ts)


@torch.no_grad()
def _sample_model(model, alphabet: str, length: int, temps: np.ndarray, gen: torch.Generator, amp: bool,
                  batch: int = 256) -> list[str]:
    """Autoregressive samples from the model restricted to ``alphabet``, one per entry of ``temps`` (its
    temperature), with the model's key-value cache."""
    aid = torch.tensor(model.letter_ids(alphabet), device=model.device)
    net, out = model.model, []
    for a in range(0, len(temps), batch):
        t = torch.tensor(temps[a:a + batch], dtype=torch.float32, device=model.device).unsqueeze(-1)
        ids = torch.full((len(t), 1), model.bos_id, dtype=torch.long, device=model.device)
        past, rows = None, []
        for i in range(length):
            ctx = torch.autocast(ids.device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()
            # positions given, not left to the cache's count: a model without blocks keeps no cache to count
            pos = torch.full((len(t), 1), i, dtype=torch.long, device=model.device)
            with ctx:
                res = net(input_ids=ids, cache=past, use_cache=True, position_ids=pos)  # transformers 5: `cache`
            past = res.cache
            probs = torch.softmax(res.logits[:, -1].float().index_select(-1, aid) / t, -1)
            pick = torch.multinomial(probs.cpu(), 1, generator=gen).to(model.device)
            rows.append(pick.squeeze(-1).cpu().numpy())
            ids = aid[pick]
        out += ["".join(alphabet[i] for i in col) for col in np.stack(rows, axis=1)]
    return out


def importance_sample(model, alphabet: str, probs, length: int, n: int, *, temperatures=(0.5, 1.0),
                      data_share: float = 0.2, seed: int = 0, batch_tokens: int = 8192, precision=None) -> dict:
    """``n`` candidates from the defensive mixture ``q = data_share * p_data + (1 - data_share) / |T| *
    sum_T q_T``, where ``q_T`` samples each letter from the model's prediction restricted to ``alphabet``
    at temperature ``T`` (autoregressively, from BOS), with the importance weights of the data
    distribution ``p_data`` (``probs`` over ``alphabet``, letters independent).

    Returns arrays of ``n``: ``loss`` (the loop's loss of each candidate), ``log_weight``
    (``ln p_data(x) - ln q(x)``, every weight at most ``1 / data_share``), ``component`` (-1: drawn from
    the data, ``c``: from temperature ``temperatures[c]``), and ``letters`` (``n, length``: each
    candidate's letters as indices into ``alphabet``, to tell the string itself apart: :func:`same_as`). ``q`` is evaluated with one teacher-forced
    forward per candidate; sampling used the key-value cache, whose logits agree with it to float
    rounding. ValueError (before any forward) for a bad argument, or where the data give a letter
    probability 0 (the data's support must be the proposal's; leave such letters out of the alphabet)."""
    p = _check_distribution(alphabet, probs, length)
    temps = _check_temperatures(temperatures, data_share)
    if (p <= 0).any():
        raise ValueError(f"probs={list(probs)} give letter(s) {[c for c, x in zip(alphabet, p) if x <= 0]} probability 0: "
                         f"leave them out of the alphabet (the proposal and the data must share their support)")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} is not allowed: use an integer >= 1")
    rng = np.random.default_rng([int(seed), length, n])
    gen = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
    shares = np.array([data_share] + [(1 - data_share) / len(temps)] * len(temps))
    component = rng.choice(len(shares), size=n, p=shares) - 1
    amp = resolve_precision(precision, model.device) == "bf16"
    net, was = model.model, model.model.training
    net.eval()
    try:
        from_model = _sample_model(model, alphabet, length, np.array(temps)[component[component >= 0]], gen, amp)
    finally:
        net.train(was)
    letters = rng.choice(len(alphabet), size=(int((component < 0).sum()), length), p=p)
    from_data = ["".join(alphabet[i] for i in row) for row in letters]
    texts, it_m, it_d = [], iter(from_model), iter(from_data)
    for c in component:
        texts.append(next(it_d) if c < 0 else next(it_m))
    loss, logq_t = _evaluate(model, texts, alphabet, batch_tokens=batch_tokens, precision=precision, temperatures=temps)
    log_p = _log2_probs(texts, alphabet, p) * LN2
    log_q = np.logaddexp.reduce(np.column_stack([np.log(shares[0]) + log_p, np.log(shares[1:]) + logq_t]), axis=1)
    letters = np.array([[alphabet.index(c) for c in t] for t in texts], dtype=np.uint8).reshape(n, length)
    return {"loss": loss, "log_weight": log_p - log_q, "component": component.astype(np.int64), "letters": letters}


def same_as(text: str, alphabet: str, letters) -> np.ndarray:
    """Which rows of ``letters`` (candidates as indices into ``alphabet``, :func:`importance_sample`) are ``text``."""
    want = np.array([alphabet.index(c) for c in text], dtype=np.uint8)
    return (np.asarray(letters) == want).all(axis=1)


def enumeration_index(text: str, alphabet: str) -> int:
    """The position of ``text`` among :func:`enumerate_strings`' strings (lexicographic in ``alphabet``'s order)."""
    i = 0
    for c in text:
        i = i * len(alphabet) + alphabet.index(c)
    return i


def tail_probability(threshold: float, loss, log_weight, *, level: float = 0.95, same=None) -> dict:
    """``P(loss(X) <= threshold)`` under the data distribution, estimated from importance samples
    (:func:`importance_sample`): the mean of ``weight * [loss <= threshold]``, with its standard error,
    ``hits`` (samples at or below the threshold), their effective sample size ``ess`` (Kish), and a
    ``level`` interval from the normal approximation on the log scale (the delta method: ``ln p +- z se / p``).
    In bits: ``exposure = -log2 p``, with ``exposure_low`` / ``exposure_high`` from the interval. With no
    hit the probability is below what the samples resolve: ``p = 0`` and exposures NaN. ``same``: which
    samples are the string itself (:func:`same_as`), hits whatever their computed loss."""
    from scipy.stats import norm

    loss, lw = np.asarray(loss, dtype=np.float64), np.asarray(log_weight, dtype=np.float64)
    if loss.shape != lw.shape or loss.ndim != 1 or not len(loss):
        raise ValueError(f"loss {loss.shape} and log_weight {lw.shape} must be two arrays of one length >= 1")
    if not 0 < level < 1:
        raise ValueError(f"level={level!r} is not allowed: use a number in (0, 1)")
    hit = loss <= threshold
    if same is not None:
        hit = hit | np.asarray(same, dtype=bool)
    n, hits = len(loss), int(hit.sum())
    out = {"n": n, "hits": hits, "p": 0.0, "se": np.nan, "ess": 0.0, "exposure": np.nan, "exposure_low": np.nan,
           "exposure_high": np.nan}
    if not hits:
        return out
    scale = lw[hit].max()  # weights relative to the largest hit: no overflow, no underflow
    w = np.where(hit, np.exp(lw - scale), 0.0)
    mean = w.mean()
    sd = w.std(ddof=1) if n > 1 else 0.0
    rel = sd / math.sqrt(n) / mean  # the standard error of ln p
    z = norm.ppf(0.5 + level / 2)
    ln_p = math.log(mean) + scale
    out.update(p=math.exp(ln_p), se=math.exp(ln_p) * rel, ess=float(w[hit].sum() ** 2 / (w[hit] ** 2).sum()),
               exposure=-ln_p / LN2, exposure_low=-(ln_p + z * rel) / LN2, exposure_high=-(ln_p - z * rel) / LN2)
    return out


# An importance-sampled tail is called reliable with at least this many hits and this effective sample size among
# them (Kish); below, its normal interval on the log scale rests on too few weighted hits (notebook 07 measures its
# coverage on both sides of the rule against exact tails: memlib.tails).
MIN_HITS, MIN_ESS = 10, 5.0


def reliable(tail: dict, *, min_hits: int = MIN_HITS, min_ess: float = MIN_ESS) -> bool:
    """Whether a :func:`tail_probability` estimate has the hits and effective sample size its interval needs
    (``hits >= min_hits`` and ``ess >= min_ess``)."""
    return bool(tail["hits"] >= min_hits and tail["ess"] >= min_ess)


def exact_tail(threshold: float, loss, log2_p, *, itself: int | None = None) -> float:
    """``P(loss(X) <= threshold)`` from :func:`enumerate_strings`: the data probability of every string at
    or below the threshold; ``itself``: the string's own index (:func:`enumeration_index`), counted whatever
    its computed loss."""
    loss, lp = np.asarray(loss, dtype=np.float64), np.asarray(log2_p, dtype=np.float64)
    hit = loss <= threshold
    if itself is not None:
        hit[itself] = True
    return float(np.exp2(lp[hit]).sum())


def candidate_epochs(run) -> list[int]:
    return [int(e) for e in run.arrays.get("probe_epochs", []) if f"probe_e{int(e)}_run_member_loss" in run.arrays]


def held_out_losses(run, epoch: int) -> np.ndarray:
    m = run.metrics
    return m[(m.split == "test") & (m.epoch == epoch)].sort_values("string").loss.to_numpy()
