"""Notebook 03's finding: what recall of a trained string rests on, its local prefix or its global context.

Runs of one string per model, length and seed, probed in-run at the moments the notebook reads
(:mod:`memlib.probes` measures; this module plans the runs, tabulates the probes, draws them and turns them into
the notebook's verdict): recall from the last ``k`` characters alone, with the rest replaced (random letters, a
shuffle, removed), and shifted by ``m`` random letters.

A small package: its parameters, presets and run plan (:mod:`.plan`), tables (:mod:`.tables`), verdict
(:mod:`.verdict`) and figures (:mod:`.figures`).
"""

from .figures import plot_characters, plot_context_probes, plot_recall_vs_k
from .plan import PRESETS, Params, fit_spec, length_runs
from .tables import (character_summary, character_table, context_summary, continuation_share, k_to_reach, kept_table,
                     locality, recall_table, status_table, twin_settings)
from .verdict import PRIMARY, verdict

__all__ = ["Params", "PRESETS", "length_runs", "fit_spec", "recall_table", "continuation_share", "character_table",
           "character_summary", "k_to_reach", "locality", "status_table", "context_summary", "kept_table",
           "twin_settings", "PRIMARY", "verdict", "plot_recall_vs_k", "plot_context_probes", "plot_characters"]
