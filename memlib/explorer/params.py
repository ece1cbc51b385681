"""Notebook 00's parameters and presets: the view the explorer opens on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..parameters import NotebookParams


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 00's parameters: the view the explorer opens on (and saves as a figure) where the store has such
    runs. It trains nothing."""

    notebook: ClassVar[str] = "00_explorer"
    prefer: dict  # the run to show first: notebook, model, seed


# Every preset opens on notebook 01's first SmolLM2-135M run of seed 0.
PRESETS = {name: Params(prefer=dict(notebook="01_dynamics", model="smollm2-135m", seed=0))
           for name in ("smoke", "default", "paper")}
