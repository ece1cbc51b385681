"""How many bits of random data a model holds: memorised information, measured on runs (notebook 06).

Random strings have a known information content, so what a model has memorised of them can be counted in
bits (Morris et al. 2025, "How much do language models memorize?", arXiv 2505.24832). For one string ``s``
drawn from a known distribution ``p`` (letters independent):

* its **self-information** ``I(s) = -sum_i log2 p(s_i)``, what it takes to write ``s`` down knowing only the
  distribution (for uniform letters ``L log2 |A|``, the same for every string);
* the model's **code length** ``C(s) = -sum_i log2 q(s_i | s_<i)``, what it takes to write ``s`` down with the
  model's predictions (teacher-forced, over the full vocabulary: probability the model puts outside the
  alphabet is wasted code); from the run's own loss, ``C(s) = L * loss / ln 2``;
* **memorised bits** ``M(s) = max(0, I(s) - C(s))``: the bits the model saves on ``s`` over the distribution
  itself. Clipped at 0 per string, as Morris et al. do, because the difference is an estimate of information
  the model holds about ``s``, and a model that codes ``s`` worse than the distribution does (a random-weight
  model, or one that has learnt other strings) holds no negative information about it: without the clip,
  strings the model has not learnt would cancel the bits it holds about others. Summed over strings; the sum
  can never exceed the data's information content ``sum_s I(s)``.

A model that predicts exactly the distribution memorises 0 bits; one that predicts every character of ``s``
with probability 1 memorises ``I(s)``.

**Capacity** (notebook 06). A model of ``P`` parameters is trained on datasets of ``N`` uniform random strings
whose information ``N L log2 |A|`` is a multiple of ``P`` (``data_per_param`` bits of data per parameter, from
well below to above what it can hold), in batches (several optimiser steps per epoch). Two measurements of the
training strings differ then: at every epoch but the last, each string's loss comes from the training pass, just
before its own batch's update (the weights move within the epoch); at the last epoch, all strings are measured
with the final weights by a no-grad pass. Only the last is what one model holds, so **memorised bits at the end**
are that measurement; with a fixed batch order the two differ by up to a quarter for datasets above capacity
(strings updated late in the epoch are held better at the end, those in the middle worse). The **stopping rule**
reads the training-pass curve (one kind of measurement): a run has *converged* when its memorised bits changed by
at most ``tol`` (5%) of their value over the ``window`` (50) epochs before the last. A model's **capacity** is the
most bits any of its datasets left memorised at the end; it is a *lower bound* where a run of that model had not
converged, or where the best dataset was nearly all memorised (share >= (1 - tol) (L - 1) / L: a larger dataset
might have given more). ``(L - 1) / L`` because the first character of every string follows BOS alone: no
model can tell the strings apart there, so that character's bits are never memorisable (the runs' plateau
below full accuracy).
Parameters are counted in full (:func:`memlib.models.param_counts`: embedding and output rows included; the
non-embedding count is fitted too). Bits per parameter: the geometric mean over sizes of capacity / parameters,
with a t interval over sizes on the log scale, and the log-log slope of capacity against parameters (1 where
capacity is proportional to size) with its t interval (:func:`fit`). Morris et al. report about 3.6 bits per
parameter (:data:`ANCHOR_BITS_PER_PARAM`) for GPT-style models trained to convergence on GPUs.

A small package: its parameters, presets and run plan (:mod:`.plan`), tables (:mod:`.tables`), verdict
(:mod:`.verdict`) and figures (:mod:`.figures`); :mod:`.saturation` holds the stopping rule that tells saturation
from a stall (training doubled, and each run against its model's plateau).
"""

from .figures import plot_capacity, plot_capacity_phases
from .plan import PRESETS, capacity_runs, n_strings_for, Params, plan
from .saturation import DOUBLING_TOL, PLATEAU_TOL, STATUSES, doubling, saturation
from .tables import (ANCHOR_BITS_PER_PARAM, STOP_TOL, STOP_WINDOW, bits_by_epoch, capacities, converged, fit, fits,
                     membership_table, memorised, phase_table, run_table, string_bits)
from .verdict import held_out_text, verdict

__all__ = ["Params", "PRESETS", "memorised", "string_bits", "bits_by_epoch", "ANCHOR_BITS_PER_PARAM", "STOP_WINDOW",
           "STOP_TOL", "n_strings_for", "plan", "capacity_runs", "converged", "run_table", "capacities", "fit",
           "fits", "phase_table", "membership_table", "verdict", "plot_capacity", "plot_capacity_phases", "held_out_text",
           "DOUBLING_TOL", "PLATEAU_TOL", "STATUSES", "doubling", "saturation"]
