"""How hard a string is to memorise, from a run's metrics.

Per run (curves are means over the run's training / held-out strings):

* ``epochs_to_50/90/99``: first epoch with train accuracy >= 50/90/99%. When never reached the
  value is the run's last epoch and ``censored_50/90/99`` is True (a lower bound, shown as such).
* ``auc``: area under the train-accuracy curve divided by the number of epochs (the mean
  accuracy over training, 0..1; higher = memorised sooner).
* ``guess_accuracy``: held-out accuracy averaged over the run's epochs (trapezoid, like ``auc``):
  what can be predicted from the distribution alone (the in-context guessing baseline).
* ``gain``: the memorisation gain per epoch, train accuracy minus held-out accuracy (held-out
  accuracy interpolated between evaluated epochs): what is memorised beyond what can be
  guessed. ``gain_auc`` is its mean over epochs, ``gain_final`` its last value. The gain is bounded
  by ``1 - held-out accuracy``, so strings that are easy to guess have less to gain.
* ``gain_norm_auc``: the gain as a share of what cannot be guessed, ``gain / (1 - held-out
  accuracy)``, averaged over epochs: how fast the non-guessable part is memorised, comparable
  across strings with different guessing levels.

A small package: measures and tables (:mod:`.measures`), fits and verdict (:mod:`.verdict`), figures
(:mod:`.figures`), parameters and presets (:mod:`.plan`).
"""

from .figures import (plot_alphabet_and_guessing, plot_cross_model, plot_difficulty_vs_entropy, plot_family_check,
                      plot_memorisation_gain, size_palette)
from .measures import difficulty, difficulty_table, entropy_grid, gain_curve, mean_gain
from .plan import LONG_EVAL, PAPER_HPARAMS, PRESETS, Params
from .verdict import (FAMILY_CHECK_COLUMNS, MEASURES, ORDER_COLUMNS, ORDER_MEASURES, PRIMARY, cross_model,
                      family_check, fit_terms, fit_trend, fits, order_lines, paired_strings, setting_summary,
                      slope_differences, verdict, within_settings)

__all__ = ["gain_curve", "difficulty", "difficulty_table", "entropy_grid", "fit_terms", "fit_trend", "mean_gain",
           "MEASURES", "setting_summary", "fits", "family_check", "verdict", "PRIMARY", "FAMILY_CHECK_COLUMNS",
           "Params", "PRESETS", "PAPER_HPARAMS", "LONG_EVAL", "size_palette", "plot_difficulty_vs_entropy",
           "plot_alphabet_and_guessing", "plot_memorisation_gain", "plot_family_check", "ORDER_MEASURES",
           "ORDER_COLUMNS", "paired_strings", "cross_model", "slope_differences", "order_lines", "plot_cross_model",
           "within_settings"]
