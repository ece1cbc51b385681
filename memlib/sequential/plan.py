"""Notebook 04's parameters, presets and the schedules of one seed."""

from __future__ import annotations

import string as _string
from dataclasses import dataclass
from typing import ClassVar

from ..checks import check_int
from ..models import PAPER_MODELS
from ..parameters import NotebookParams
from ..strings import random_strings
from ..training import Stage

SEQUENCE, NEW, DISJOINT, FRESH = "sequence", "sequence, new string", "after disjoint alphabet", "fresh"


def design(seed: int, *, alphabet_size: int, length: int, n_strings: int, n_test_strings: int, until: float = 1.0,
           hold: int = 2, max_epochs: int, relearn: bool = True, controls: bool = True) -> dict:
    """The schedules of one seed, ``{condition: (stages, held-out strings)}``. Seeds share nothing: each
    draws its own strings (and, through :func:`memlib.sweep.schedule_runs`, a random-weight model its own
    initialisation), so each seed is one independent unit; ``S1..Sn`` are independent draws.

    - ``"sequence"``: ``S1 → … → Sn`` over the first ``alphabet_size`` letters, one stage each, then ``S1``
      again (``relearn``);
    - ``"sequence, new string"`` (``relearn`` and ``controls``): the same stages, then ``N``, a string that no
      stage trained before. Both schedules go through identical stages up to then, so the model is the
      same when the last stage starts (training is deterministic; :func:`shared_state` checks it from the
      measurements both runs made): re-learning ``S1`` is measured against learning a new string at the
      same point, which separates "seen before" from "this model has learnt ``n`` strings";
    - ``"fresh S2"`` (``controls``, needs ``n_strings >= 2``): ``S2`` alone on a fresh model (the same
      initialisation), the reference for ``S2`` later in a schedule (``S1`` on a fresh model is the
      sequence's own first stage);
    - ``"after disjoint alphabet"`` (``controls``): ``T1``, a string over the next ``alphabet_size`` letters
      (``a``-``h`` then ``i``-``p`` for 8), then ``S2``.

    Every stage lasts until its string is memorised (accuracy ``>= until`` held ``hold`` epochs in a row:
    :func:`memlib.metrics.memorised_at`), at most ``max_epochs``. Held-out strings: ``n_test_strings`` per
    alphabet used. All strings come from seeded draws independent of one another (``T1`` is not ``S1``
    with its letters renamed).
    """
    seed = check_int("seed", seed, 0)
    n_strings, n_test = check_int("n_strings", n_strings, 1), check_int("n_test_strings", n_test_strings, 0)
    size = check_int("alphabet_size", alphabet_size, 2)
    if controls and n_strings < 2:
        raise ValueError(f"n_strings={n_strings} is not allowed with controls=True: the controls measure the later "
                         f"strings, so use n_strings >= 2 (or controls=False)")
    if controls and 2 * size > 26:
        raise ValueError(f"alphabet_size={size} is not allowed with controls=True: the control needs a disjoint "
                         f"alphabet of as many letters, so use alphabet_size <= 13")
    n_a = n_strings + 1 + n_test
    drawn = random_strings(n_a, size, length, seed=seed)
    S, N, test_a = drawn[:n_strings], drawn[n_strings], drawn[n_strings + 1:]

    def stage(s):
        return Stage(s, until=until, hold=hold, max_epochs=max_epochs)

    seq = [stage(s) for s in S]
    out = {SEQUENCE: (seq + ([stage(S[0])] if relearn else []), test_a)}
    if controls:
        if relearn:
            out[NEW] = (seq + [stage(N)], test_a)
        out[f"{FRESH} S2"] = ([stage(S[1])], test_a)
        # past the first n_a draws: the same draws over other letters are S1, S2, ... renamed
        other = random_strings(n_a + 1 + n_test, size, length, seed=seed, first_letter=_string.ascii_lowercase[size])
        T1, test_b = other[n_a], other[n_a + 1:]
        out[DISJOINT] = ([stage(T1), stage(S[1])], test_a + test_b)
    return out


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 04's parameters (see the presets' comments). Its retention reads the held-out level at stage
    boundaries, where a schedule always evaluates its held-out strings: no held-out gaps to report."""

    notebook: ClassVar[str] = "04_sequential_exposure"
    models: list[str]
    alphabet_size: int
    length: int
    n_strings: int
    relearn: bool
    controls: bool
    n_test_strings: int
    until: float
    hold: int
    max_epochs: int | dict[str, int]
    lr: float | dict[str, float] | None
    seeds: list[int] | dict[str, list[int]]
    eval_every: int | list[int]
    reset_optimizer: bool
    lr_schedule: str
    max_grad_norm: float | None
    precision: str


PRESETS = {
    # Per seed: S1 -> ... -> S{n_strings} -> S1 again over the first alphabet_size letters, each stage
    # until memorised (accuracy >= until held `hold` epochs; at most max_epochs); controls: the same
    # stages then a never-seen string N, S2 on a fresh model, and S2 after T1 over the next alphabet_size
    # letters. Seeds share nothing (memlib.sequential.design): each seed is one unit. Held-out strings:
    # n_test_strings per alphabet.
    "smoke": Params(
        models=["tiny-llama"], alphabet_size=4, length=12, n_strings=2, relearn=True, controls=True,
        n_test_strings=1, until=0.99, hold=2, max_epochs=40, lr=None, seeds=[0, 1], eval_every=1,
        reset_optimizer=True, lr_schedule="constant", max_grad_norm=None,
        precision="fp32",
    ),
    # 4 schedules per seed (9 stages), seeds sized by power: SmolLM2 over 8 seeds (32 schedules, most of the
    # notebook's time), tiny-llama over 24 (96 schedules of about 1.5 s each). The strings a stage does not
    # train and the held-out strings every 8 epochs and at every stage boundary (the retention the verdict
    # reads): every 4 took about a sixth of a SmolLM2 schedule's time (benchmarks/RESULTS.md). A family of 6 primary tests (3
    # per model) needs p < 0.05 / 6 for its smallest, which a sign test reaches at n = 8 only when all 8 agree
    # (p = 0.0078; at n = 6 never: 0.031); at 8 seeds tiny-llama's contrasts were established on seeds 0-7 and
    # not on 8-15 (7 of 8 each), and the units for 80% power measured on them were 18 (benchmarks/RESULTS.md).
    "default": Params(
        models=["smollm2-135m", "tiny-llama"], alphabet_size=8, length=32,
        n_strings=2, relearn=True, controls=True, n_test_strings=2, until=0.99, hold=2,
        max_epochs={"smollm2-135m": 40, "tiny-llama": 150},
        lr=None, seeds={"smollm2-135m": list(range(8)), "tiny-llama": list(range(24))}, eval_every=8,
        reset_optimizer=True, lr_schedule="constant",
        max_grad_norm=None,
        precision="fp32",
    ),
    "paper": Params(
        models=PAPER_MODELS, alphabet_size=8, length=1024, n_strings=4, relearn=True, controls=True,
        n_test_strings=10, until=0.99, hold=2, max_epochs=100, lr=1e-5, seeds=[0, 1, 2, 3], eval_every=1,
        reset_optimizer=True, lr_schedule="linear", max_grad_norm=1.0,
        precision="auto",
    ),
}
