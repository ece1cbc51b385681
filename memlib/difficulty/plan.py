"""Notebook 02's parameters and presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..models import PAPER_MODELS
from ..parameters import NotebookParams, heldout_gaps


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 02's parameters: every model over every alphabet size and entropy level of the main family (the first
    of ``families``) over ``seeds``, and the other families over ``family_check_seeds``."""

    notebook: ClassVar[str] = "02_string_difficulty"
    models: list[str]
    alphabet_sizes: list[int]
    entropy_levels: list[float]
    families: list[str]
    length: int
    epochs: int | dict[str, int]
    lr: float | dict[str, float] | None
    seeds: list[int]
    family_check_seeds: list[int]
    n_train_strings: int
    n_test_strings: int
    eval_every: int | str | list[int]
    lr_schedule: str
    max_grad_norm: float | None
    precision: str

    def heldout_gaps(self) -> list[str]:
        """The memorisation gain is interpolated between held-out evaluations: epoch 0, the last and one in every
        doubling of the epoch count."""
        return heldout_gaps(self, every_doubling=True)


PAPER_HPARAMS = dict(length=1024, epochs=100, lr=1e-5, lr_schedule="linear", max_grad_norm=1.0)  # the cpu-long preset's
# Held-out strings: every epoch up to 2, then at least once in every doubling of the epoch count (the rule of
# heldout_gaps); the last epoch is always added (eval_epochs).
LONG_EVAL = [0, 1, 2, 4, 8, 12, 16, 24, 32, 48, 64]


PRESETS = {
    "smoke": Params(
        models=["tiny-llama"], alphabet_sizes=[2, 7], entropy_levels=[1.0], families=["exponential", "spike"],
        length=16, epochs=6, lr=None, seeds=[0, 1], family_check_seeds=[0], n_train_strings=1,
        n_test_strings=2, eval_every=1, lr_schedule="constant", max_grad_norm=None,
        precision="fp32",
    ),
    # 12 settings x 2 seeds + 7 spike-family settings x 1 seed = 31 SmolLM2 runs of 20 epochs at
    # 32 characters (entropy 1 and 2 bits and each alphabet's maximum: entropy levels up to 4.7 bits, and
    # 3-5 alphabet sizes at each fixed entropy for the alphabet term).
    # Held-out strings at every epoch up to 2, then every second one (more than heldout_gaps asks for).
    "default": Params(
        models=["smollm2-135m"], alphabet_sizes=[2, 4, 7, 13, 26], entropy_levels=[1.0, 2.0],
        families=["exponential", "spike"], length=32, epochs=20, lr=None, seeds=[0, 1],
        family_check_seeds=[0], n_train_strings=1, n_test_strings=3, eval_every=[0, 1, *range(2, 21, 2)],
        lr_schedule="constant", max_grad_norm=None,
        precision="fp32",
    ),
    # The default's grid on two pretrained families, SmolLM2-135M and Gemma-3-270M, each at its own rate: 24 runs
    # each on the same strings (SmolLM2's are the default's runs), no family check (make reproduce-families).
    "families": Params(
        models=["smollm2-135m", "gemma3-270m"], alphabet_sizes=[2, 4, 7, 13, 26], entropy_levels=[1.0, 2.0],
        families=["exponential"], length=32, epochs=20, lr=None, seeds=[0, 1],
        family_check_seeds=[], n_train_strings=1, n_test_strings=3, eval_every=[0, 1, *range(2, 21, 2)],
        lr_schedule="constant", max_grad_norm=None,
        precision="fp32",
    ),
    "paper": Params(
        models=PAPER_MODELS, alphabet_sizes=[2, 4, 7, 13, 26], entropy_levels=[0.5, 1.0, 2.0, 3.0, 4.0],
        families=["exponential", "spike"], length=1024, epochs=100, lr=1e-5, seeds=[0, 1, 2],
        family_check_seeds=[0, 1, 2], n_train_strings=5, n_test_strings=10, eval_every=1,
        lr_schedule="linear", max_grad_norm=1.0,
        precision="auto",
    ),
    # Two contrasting settings at the paper's hyper-parameters: 26 letters at 2 bits (exponential
    # family) and uniform (4.7 bits), the ends of the default preset's entropy range at 26 letters.
    "cpu-long": Params(
        models=["smollm2-135m"], alphabet_sizes=[26], entropy_levels=[2.0], families=["exponential"], seeds=[0],
        family_check_seeds=[], n_train_strings=1, n_test_strings=2, eval_every=LONG_EVAL, **PAPER_HPARAMS,
        precision="fp32",
    ),
}
