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
"""

from __future__ import annotations

import math

import torch

__all__ = ["METRIC_COLUMNS", "token_metrics", "string_summary"]

METRIC_COLUMNS = ("accuracy", "loss", "alphabet_mass", "entropy", "entropy_position")
_LN2 = math.log(2.0)


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
    return -(p * torch.log(p.clamp_min(1e-30))).sum(-1) / _LN2


def string_summary(tm: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per-string means (shape ``batch``) of :func:`token_metrics` output."""
    return {
        "accuracy": tm["correct"].float().mean(-1),
        "loss": tm["nll"].detach().mean(-1),
        "alphabet_mass": tm["alphabet_mass"].mean(-1),
        "entropy": _entropy_bits(tm["p_alpha"].mean(-2)),
        "entropy_position": _entropy_bits(tm["p_alpha"]).mean(-1),
    }
