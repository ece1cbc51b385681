"""Every memorisation metric, from one ``log_softmax`` of the logits.

Positions: a string of ``L`` characters is fed as ``[BOS, c_0, ..., c_{L-2}]``;
the logits at position ``i`` predict ``c_i`` (teacher forcing: the true prefix
``BOS, c_0..c_{i-1}``). All ``L`` characters are counted, the first one
predicted from BOS alone.

Per position (shape ``batch pos``):

* ``nll``: next-token cross-entropy in nats over the full vocabulary;
* ``correct``: the argmax over the full vocabulary is the true character
  (greedy recollection; predicting a non-alphabet token counts as wrong);
* ``p_true``: probability of the true character;
* ``alphabet_mass``: total probability on the alphabet's tokens;
* ``p_alpha`` (``batch pos alphabet``): the prediction restricted to the
  alphabet and renormalised to sum to 1.

Per string (shape ``batch``), :func:`string_summary`:

* ``accuracy`` (recollection accuracy), ``loss`` (mean ``nll``), ``alphabet_mass`` (mean);
* ``entropy``: entropy in bits of the *aggregated* prediction, the mean over
  positions of ``p_alpha``. It approaches the string's entropy once the model
  has learnt which letters the string uses and how often, and stays there;
* ``entropy_position``: mean over positions of the entropy (bits) of
  ``p_alpha``. It follows ``entropy`` while the model only guesses from the
  distribution and falls towards 0 as positions are memorised.

**Memorised**, one definition for the whole collection (:func:`memorised_at`): a string is memorised
from the first epoch from which its training accuracy (teacher-forced, greedy) stays
``>= MEMORISED_THRESHOLD`` (0.99) for ``MEMORISED_HOLD`` (2) measured epochs in a row. One epoch at
0.99 that the next epoch loses is not memorisation; a run whose last epoch starts a streak it cannot
complete has not memorised its string. Notebooks 01, 03, 04 and 05 all use it (04's ``until`` / ``hold``
stages stop by the same rule); a notebook that needs another threshold names it in its parameters.
"""

from __future__ import annotations

import math

import numpy as np

import torch

__all__ = ["LN2", "METRIC_COLUMNS", "MEMORISED_THRESHOLD", "MEMORISED_HOLD", "reaches", "Streak", "memorised_at", "token_metrics",
           "string_summary", "memorised_bits"]

METRIC_COLUMNS = ("accuracy", "loss", "alphabet_mass", "entropy", "entropy_position")
MEMORISED_THRESHOLD = 0.99
MEMORISED_HOLD = 2


def reaches(accuracy, threshold: float, total: int | None = None) -> bool:
    """Whether one measurement reaches ``threshold``: ``accuracy`` a share (to within 1e-12), or with ``total`` a
    count of correct characters out of ``total``, decided on counts (7 of 10 reaches 0.7 exactly; a float mean of the
    ``correct`` flags can fall just below it)."""
    if total is not None:
        return accuracy >= math.ceil(threshold * total - 1e-9)
    return accuracy >= threshold - 1e-12


class Streak:
    """The collection's one memorised rule, one measurement at a time: ``threshold`` reached (:func:`reaches`) at
    ``hold`` measurements in a row. ``length`` counts the current streak and ``start`` is its first epoch;
    :meth:`update` says when the streak is complete. The loop's ``until`` stages, the prober's "memorised" moment
    and :func:`memorised_at` all count with it."""

    def __init__(self, threshold: float = MEMORISED_THRESHOLD, hold: int = MEMORISED_HOLD):
        if isinstance(hold, bool) or not isinstance(hold, int) or hold < 1:
            raise ValueError(f"hold={hold!r} is not allowed: use an integer >= 1")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
            raise ValueError(f"threshold={threshold!r} is not allowed: use a number in (0, 1]")
        self.threshold, self.hold = threshold, hold
        self.length, self.start = 0, None

    def update(self, epoch: int, held: bool) -> bool:
        """Count one measurement at ``epoch`` that did (``held``) or did not reach the threshold; True once the
        streak has ``hold`` measurements."""
        if held:
            self.length += 1
            self.start = epoch if self.length == 1 else self.start
        else:
            self.length, self.start = 0, None
        return self.length >= self.hold


def memorised_at(epochs, accuracy, threshold: float = MEMORISED_THRESHOLD, hold: int = MEMORISED_HOLD) -> int | None:
    """The epoch from which ``accuracy`` (measured at ``epochs``, in order) stays ``>= threshold`` for
    ``hold`` measurements in a row (:class:`Streak`): the first of them. None if no such streak is complete
    (censored)."""
    streak = Streak(threshold, hold)
    for e, a in zip(list(epochs), accuracy):
        if streak.update(int(e), reaches(a, threshold)):
            return streak.start
    return None
LN2 = math.log(2.0)  # nats per bit: the one definition (memlib divides nats by it)


def token_metrics(logits: torch.Tensor, targets: torch.Tensor, alphabet_ids: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-position metrics. ``logits``: (batch, pos, vocab); ``targets``: (batch, pos) token ids;
    ``alphabet_ids``: (alphabet,) token ids. ``nll`` keeps the graph (it is the training loss);
    everything else is detached."""
    logp = torch.log_softmax(logits.float(), dim=-1)  # batch pos vocab
    nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # batch pos
    logp = logp.detach()
    logp_alpha = logp.index_select(-1, alphabet_ids)  # batch pos alphabet
    log_mass = torch.logsumexp(logp_alpha, dim=-1)  # batch pos
    return {
        "nll": nll,
        "correct": logits.detach().argmax(-1) == targets,
        "p_true": torch.exp(-nll.detach()),
        "alphabet_mass": log_mass.exp(),
        "p_alpha": (logp_alpha - log_mass.unsqueeze(-1)).exp(),
    }


def _entropy_bits(p: torch.Tensor) -> torch.Tensor:
    return -(p * torch.log(p.clamp_min(1e-30))).sum(-1) / LN2


def string_summary(tm: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per-string means (shape ``batch``) of :func:`token_metrics` output."""
    return {
        "accuracy": tm["correct"].float().mean(-1),
        "loss": tm["nll"].detach().mean(-1),
        "alphabet_mass": tm["alphabet_mass"].mean(-1),
        "entropy": _entropy_bits(tm["p_alpha"].mean(-2)),
        "entropy_position": _entropy_bits(tm["p_alpha"]).mean(-1),
    }


def memorised_bits(self_information, code_length) -> np.ndarray:
    """Memorised bits (Morris et al. 2025; :mod:`memlib.capacity`): ``max(0, I - C)`` elementwise, the string's
    self-information ``I`` less the model's code length ``C`` for it, both in bits. ValueError for a negative or
    non-finite self-information, or a negative code length (no probability exceeds 1)."""
    i = np.asarray(self_information, dtype=np.float64)
    c = np.asarray(code_length, dtype=np.float64)
    if (~np.isfinite(i)).any() or (i < 0).any():
        raise ValueError(f"self_information={i.tolist()!r} is not allowed: use finite numbers of bits >= 0")
    if (c < 0).any():
        raise ValueError(f"code_length={c.tolist()!r} is not allowed: a code length is >= 0 bits")
    return np.maximum(0.0, i - c)
