"""When a run measures the strings it is not training at that moment: held-out strings, and in a schedule the
training strings the running stage does not train. :func:`eval_epochs` is an ``expose`` run's schedule (by
default log-spaced within 10% of the training compute); :class:`HeldOut` is the loop's hook that measures them
(:class:`memlib.loop.Hook`), at the epochs its predicate names, at the start of every stage where the run says so,
and (the loop's own last pass) at the end."""

from __future__ import annotations

import numbers

import numpy as np

from .checks import check_number
from .loop import Hook, Moment

__all__ = ["HeldOut", "held_out_due", "eval_epochs", "check_eval_every", "check_schedule_eval_every",
           "stored_eval_every"]


# The default ("auto") schedule spends at most this fraction of the training compute on held-out
# strings (counting a training token as 3 forward tokens: forward plus a backward of twice its cost).
# The run key records only "auto": bump RUN_FORMAT when changing it.
_EVAL_BUDGET = 0.1


def check_eval_every(eval_every) -> None:
    allowed = "'auto', an integer >= 1, or a non-empty list of distinct epochs >= 0"
    if eval_every == "auto":
        return
    if isinstance(eval_every, (list, tuple)):
        ok = bool(eval_every) and all(isinstance(e, numbers.Integral) and not isinstance(e, bool) and e >= 0
                                      for e in eval_every) and len(set(eval_every)) == len(eval_every)
    else:
        ok = isinstance(eval_every, numbers.Integral) and not isinstance(eval_every, bool) and eval_every >= 1
    if not ok:
        raise ValueError(f"eval_every={eval_every!r} is not allowed: use {allowed}")


def eval_epochs(epochs: int, eval_every="auto", *, train_tokens: int = 1, test_tokens: int = 1) -> list[int]:
    """Epochs (0 = before training, ``epochs`` = after the last) at which held-out strings are evaluated.

    - an integer ``k``: epoch 0, every ``k``-th epoch and the last (``1`` = every epoch, the paper's
      schedule);
    - a list of epochs: those the run reaches, and the last (the baseline memorisation is measured
      against). One list serves runs of different lengths: ``[0, 1, 2, 4, 8, 16, 32]`` keeps the early
      epochs, where the pretrained model learns the distribution, and thins out later;
    - ``"auto"`` (the default): as many evaluations as fit in 10% of the training
      compute, at least one: ``n = floor(0.1 * 3 * train_tokens * epochs / test_tokens)``, where
      ``train_tokens`` / ``test_tokens`` are the tokens of all training / held-out strings. The last
      epoch comes first (it is the guessing baseline memorisation is measured against), then epoch
      0, then log-spaced epochs in between, dense early (where a pretrained model learns the
      strings' distribution) and sparse later.
    """
    check_number("epochs", epochs, int, 1)
    check_eval_every(eval_every)
    if isinstance(eval_every, (list, tuple)):
        return sorted({int(e) for e in eval_every if e <= epochs} | {epochs})
    if eval_every != "auto":
        return sorted(set(range(0, epochs + 1, eval_every)) | {epochs})
    n = int(_EVAL_BUDGET * 3 * train_tokens * epochs / max(test_tokens, 1) + 1e-9)
    n = min(max(n, 1), epochs + 1)
    chosen = [epochs] + ([0] if n > 1 else [])
    points = 1
    while len(chosen) < n:  # more log-spaced points until n distinct epochs are chosen
        points += n - len(chosen)  # rounding merges points, never adds them: grow by the deficit
        grid = np.unique(np.rint(np.geomspace(1, epochs, points)).astype(int))
        chosen = sorted({epochs, 0, *[int(e) for e in grid]})
        if len(chosen) > n:  # rounding can jump past n: keep the last, 0, and the earliest of the rest
            chosen = [0, *chosen[1:-1][: n - 2], epochs]
    return sorted(chosen)


def stored_eval_every(eval_every, epochs: int):
    """What the run key records: "auto", the integer, or the epochs a list resolves to (two lists
    that give one schedule give one key)."""
    if isinstance(eval_every, (list, tuple)):
        return eval_epochs(epochs, eval_every)
    return eval_every if eval_every == "auto" else int(eval_every)


def check_schedule_eval_every(eval_every) -> None:
    if isinstance(eval_every, str) or eval_every is None:
        raise ValueError(f"eval_every={eval_every!r} is not allowed for a schedule: use an integer >= 1 or a list of "
                         f"epochs (stage boundaries and the end are always measured)")
    check_eval_every(eval_every)


def held_out_due(config, model):
    """When the loop measures held-out strings (and, in a schedule, the strings the running stage does not
    train): a predicate on epochs. A schedule's ``eval_every`` (every ``k``-th epoch, or listed epochs); an
    ``expose`` run's :func:`eval_epochs`, sized by the tokens of its strings."""
    every = config.eval_every
    if config.is_schedule:
        return (lambda e: e % every == 0) if isinstance(every, int) else set(every).__contains__
    tokens = sum(len(model.encode(d["text"])) for d in config.train)
    test_tokens = sum(len(model.encode(d["text"])) for d in config.test) or 1
    return set(eval_epochs(config.epochs, every, train_tokens=tokens, test_tokens=test_tokens)).__contains__


class HeldOut(Hook):
    """The run's schedule of no-grad measurements, a :class:`memlib.loop.Hook`: at the top of an epoch
    :func:`held_out_due` names, the held-out strings (also at every stage's start where
    ``config.held_out_at_stage_starts``) and the training strings the running stage does not train (also at every
    stage's start). Every run has one; what it measures goes into the run's metrics, not into arrays of its own."""

    def __init__(self, config, model):
        self.due, self.test = held_out_due(config, model), range(len(config.test))
        self.at_stage_starts = config.held_out_at_stage_starts

    def on_epoch_start(self, at: Moment) -> None:
        if self.test and (self.due(at.epoch) or (self.at_stage_starts and at.t == 0)):
            at.measure("test", self.test)
        if at.others and (self.due(at.epoch) or at.t == 0):
            at.measure("train", at.others)
