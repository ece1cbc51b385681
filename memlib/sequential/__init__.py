"""Sequential exposure: one model memorises one random string after another (notebook 04).

Schedules are runs of :func:`memlib.expose_schedule`; this module designs the experiment and
measures what the schedule runs show:

* :func:`design`: the schedules of one seed (seeds share nothing: each is one independent unit):
  ``S1 → S2 → … → Sn → S1`` (each stage until the string is memorised); controls: the same stages
  followed by a never-seen string ``N`` instead of ``S1`` (the same model when that stage starts:
  :func:`shared_state`), ``S2`` alone on a fresh model, and ``S2`` after a first string over a
  disjoint alphabet (``T1 → S2``);
* :func:`stage_table`: one row per stage: epochs to memorise its string, censored or not, which
  occurrence of the string it is (re-learning), whether its alphabet was seen before, and the
  epochs the same string takes on a fresh model;
* :func:`retention_table`: the accuracy of every string at the end of every stage, against the
  guessing level of held-out strings over the same alphabet at that epoch (the retention matrix);
* :func:`relearning_table`: epochs to memorise a string again against the first time;
  :func:`relearn_vs_new`: against a new string at the same point of the same sequence;
* :func:`control_table`: epochs to memorise ``S2`` fresh, after ``S1`` (same alphabet) and after
  ``T1`` (disjoint alphabet), per model and seed.

Analyses take a list of schedule runs, or a dict ``{condition: [runs]}`` (as
:func:`memlib.sweep.schedule_runs` returns), whose keys become the ``condition`` column.

A small package: its parameters, presets and run plan (:mod:`.plan`), tables (:mod:`.tables`), verdict
(:mod:`.verdict`) and figures (:mod:`.figures`).
"""

from .figures import plot_retention, plot_schedule, plot_stage_speed
from .plan import DISJOINT, FRESH, NEW, PRESETS, SEQUENCE, design, Params
from .tables import (censored_median, control_table, curves, guess_curves, median_epochs, relearn_vs_new,
                     relearning_table, retention_table, shared_state, stage_table, state_checks)
from .verdict import PRIMARY, SPEED, epochs_contrast, verdict

__all__ = ["Params", "PRESETS", "guess_curves", "SEQUENCE", "NEW", "DISJOINT", "design", "shared_state",
           "state_checks", "relearn_vs_new", "stage_table", "retention_table", "relearning_table", "control_table",
           "censored_median", "median_epochs", "epochs_contrast", "verdict", "curves", "plot_retention",
           "plot_schedule", "plot_stage_speed", "FRESH", "PRIMARY", "SPEED"]
