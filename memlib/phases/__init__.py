"""Notebook 01's finding: the phases of repeated exposure (detected by :mod:`memlib.milestones`' rule) per model,
pretrained models against their random-weight twins, pretrained families against each other, and the order in which
positions are memorised.

A small package: its parameters and presets (:mod:`.plan`), tables (:mod:`.tables`), verdict (:mod:`.verdict`) and
figures (:mod:`.figures`).
"""

from .figures import plot_dynamics, plot_position_order, plot_pretrained_vs_random
from .plan import PRESETS, Params
from .tables import (family_contrasts, milestones_in_order, model_summary, position_order, pretrained_models,
                     pretrained_vs_random, rate_summary, run_curves, twin_contrasts, twin_label, twin_pairs)
from .verdict import PRIMARY, family_lines, pretrained_vs_random_lines, verdict

__all__ = ["Params", "PRESETS", "pretrained_vs_random", "twin_pairs", "run_curves", "model_summary", "rate_summary",
           "position_order", "twin_contrasts", "twin_label", "PRIMARY", "verdict", "pretrained_vs_random_lines",
           "plot_dynamics", "plot_pretrained_vs_random", "plot_position_order", "family_contrasts", "pretrained_models",
           "milestones_in_order", "family_lines"]
