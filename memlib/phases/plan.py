"""Notebook 01's parameters and presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..models import PAPER_MODELS
from ..parameters import NotebookParams, heldout_gaps


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 01's parameters. Each model X in ``models`` whose random-weight twin X-random is also there is
    compared with it each at its own rate (``lr``) and, over ``init_seeds`` (None: ``seeds``), both at each rate of
    ``init_lrs`` (same strings and seeds)."""

    notebook: ClassVar[str] = "01_dynamics"
    models: list[str]
    alphabet_size: int
    length: int
    epochs: int | dict[str, int]  # one for all models, or per model
    lr: float | dict[str, float] | None  # None: each model's default rate
    init_lrs: list[float]
    init_seeds: list[int] | None
    seeds: list[int]
    n_train_strings: int
    n_test_strings: int
    eval_every: int | str | list[int]
    lr_schedule: str
    max_grad_norm: float | None
    precision: str

    def heldout_gaps(self) -> list[str]:
        """The held-out curves in the dynamics figure and the guessing band of :mod:`memlib.milestones` are
        interpolated between evaluations: epoch 0, the last and one in every doubling of the epoch count."""
        return heldout_gaps(self, every_doubling=True)


PRESETS = {
    # Each model X in `models` whose random-weight twin X-random is also there is compared with it each at
    # its own rate (`lr`) and, over `init_seeds` (None: `seeds`), both at each rate of `init_lrs` (same strings
    # and seeds).
    "smoke": Params(
        models=["smollm2-135m", "smollm2-135m-random", "tiny-llama"], alphabet_size=7, length=16, epochs=4,
        lr=None, init_lrs=[1e-4, 5e-4], init_seeds=None, seeds=[0],
        n_train_strings=1, n_test_strings=2, eval_every=1, lr_schedule="constant", max_grad_norm=None,
        precision="fp32",
    ),
    # SmolLM2-135M and its random-weight twin, each at its own rate (1e-4 and 5e-5: of 4 and 7 rates from 2e-5 to
    # 2e-3, the fastest to memorise in `make bench-lr`, seeds 100-101; the twin memorised at none within 28 epochs
    # and reached the highest accuracy at 5e-5: benchmarks/RESULTS.md), over 8 seeds (16 runs: the contrasts the
    # finding rests on are paired over them); the twin also at SmolLM2's rate over 4 of them (exploratory); 3 tiny
    # families over the same 8 seeds.
    # Held-out strings at epochs 0, 1, 2, then once per doubling of the epoch count (the rule of
    # heldout_gaps), and the last.
    "default": Params(
        models=["smollm2-135m", "smollm2-135m-random", "tiny-pythia", "tiny-phi", "tiny-llama"],
        alphabet_size=7, length=64,
        epochs={"smollm2-135m": 28, "smollm2-135m-random": 28, "tiny-pythia": 70, "tiny-phi": 70,
                "tiny-llama": 70},
        lr={"smollm2-135m": 1e-4, "smollm2-135m-random": 5e-5, "tiny-pythia": 1e-3, "tiny-phi": 1e-3,
            "tiny-llama": 1e-3},
        init_lrs=[1e-4], init_seeds=[0, 1, 2, 3], seeds=list(range(8)), n_train_strings=1, n_test_strings=4,
        eval_every=[0, 1, 2, 4, 8, 16, 32], lr_schedule="constant", max_grad_norm=None,
        precision="fp32",
    ),
    "paper": Params(
        models=PAPER_MODELS, alphabet_size=2, length=1024, epochs=100, lr=1e-5, init_lrs=[], init_seeds=None,
        seeds=[0, 1, 2],
        n_train_strings=5, n_test_strings=10, eval_every=1, lr_schedule="linear", max_grad_norm=1.0,
        precision="auto",
    ),
    # Two pretrained families on the default's strings and seeds, each at its own rate: SmolLM2-135M as in the
    # default (its runs are the default's) and Gemma-3-270M at 2.5e-5 (of 6 rates from 1.25e-5 to 4e-4 the fastest
    # to memorise in `benchmarks/own_lr.py --model gemma3-270m --epochs 40`, seeds 100-101: median 22.5 epochs, 2 of
    # 2; benchmarks/RESULTS.md), for 40 epochs. `make reproduce-families`.
    "families": Params(
        models=["smollm2-135m", "gemma3-270m"], alphabet_size=7, length=64,
        epochs={"smollm2-135m": 28, "gemma3-270m": 40}, lr={"smollm2-135m": 1e-4, "gemma3-270m": 2.5e-5},
        init_lrs=[], init_seeds=None, seeds=list(range(8)), n_train_strings=1, n_test_strings=4,
        eval_every=[0, 1, 2, 4, 8, 16, 32], lr_schedule="constant", max_grad_norm=None, precision="fp32",
    ),
    # The default's pretrained / random contrast with the twin uncensored: at 28 epochs the twin learnt neither
    # the distribution nor its string at any rate, so the default's ratios are bounds. Here the twin trains for
    # 150 epochs at its own rate for that length, 2.5e-4 (of 6 rates from 5e-5 to 2e-3 the fastest to memorise
    # in `make bench-lr-long`, seeds 100-101: medians 64 epochs, 2 of 2: benchmarks/RESULTS.md), and over 4
    # seeds at SmolLM2's 1e-4; SmolLM2 as in the default (memorised within 28 epochs in 8 of 8 there).
    "cpu-long": Params(
        models=["smollm2-135m", "smollm2-135m-random"], alphabet_size=7, length=64,
        epochs={"smollm2-135m": 28, "smollm2-135m-random": 150},
        lr={"smollm2-135m": 1e-4, "smollm2-135m-random": 2.5e-4},
        init_lrs=[1e-4], init_seeds=[0, 1, 2, 3], seeds=list(range(8)), n_train_strings=1, n_test_strings=4,
        eval_every=[0, 1, 2, 4, 8, 16, 32, 64, 128], lr_schedule="constant", max_grad_norm=None,
        precision="fp32",
    ),
}
