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
well below to well beyond what it can hold), in shuffled batches with warm-up and a decaying rate. Two
measurements of the training strings differ then: at every epoch but the last, each string's loss comes from the
training pass, just before its own batch's update (the weights move within the epoch); at the last epoch, all
strings are measured with the final weights by a no-grad pass. Only the last is what one model holds, so
**memorised bits at the end** are that measurement. Every dataset is trained twice, for ``E`` epochs and for
``E / 2``, and the **stopping rule** (:mod:`.saturation`) reads the two ends: a dataset whose memorised bits grew by
more than ``tol`` (5%) when training doubled is *rising*; a flat one *holds its data* (share >= (1 - tol)
(L - 1) / L), is *saturated* (within ``plateau_tol``, 10%, of the most any flat dataset of its unit holds: the
plateau) or *stalled* (neither). ``(L - 1) / L`` because the first character of every string follows BOS alone: no
model can tell the strings apart there, so that character's bits are never memorisable.
A **unit** is one model size, precision and alphabet at one seed (the seed draws both the initialisation and the
strings); its **capacity** is its plateau, a *lower bound* where that is a dataset held whole or no dataset was flat.
Parameters are counted in full (:func:`memlib.models.param_counts`; the ``-letters`` models have a row for each
letter and BOS only, none unused) and without the embedding and output rows. Bits per parameter: the mean over
units with its t interval (:func:`memlib.stats.mean_interval`), against Morris et al.'s 3.6
(:data:`ANCHOR_BITS_PER_PARAM`, GPT-style models trained to convergence on GPUs) by a t-test over units, and the
log-log slope of capacity on size (:func:`fit`); each alphabet against 26 letters unit by unit (does capacity depend
on the information per token?). The phases and the membership attack are set against each run's capacity read from
the *other* seeds of its size, not from the run itself.

A small package: its parameters, presets and run plan (:mod:`.plan`), tables (:mod:`.tables`), the stopping rule
and each unit's capacity (:mod:`.saturation`), verdict (:mod:`.verdict`) and figures (:mod:`.figures`).
"""

from .figures import plot_capacity, plot_capacity_phases
from .plan import PRESETS, capacity_runs, n_strings_for, Params, plan
from .saturation import (DATASET, DOUBLING_TOL, PLATEAU_TOL, STATUSES, UNIT, dataset_table, doubling, saturation,
                         unit_capacities)
from .tables import (ANCHOR_BITS_PER_PARAM, bits_by_epoch, capacities, fit, fits, membership_table, memorised,
                     phase_table, run_table, string_bits)
from .verdict import PRIMARY, held_out_text, verdict

__all__ = ["Params", "PRESETS", "memorised", "string_bits", "bits_by_epoch", "ANCHOR_BITS_PER_PARAM", "n_strings_for",
           "plan", "capacity_runs", "run_table", "dataset_table", "unit_capacities", "capacities", "fit", "fits",
           "phase_table", "membership_table", "verdict", "PRIMARY", "plot_capacity", "plot_capacity_phases",
           "held_out_text", "DOUBLING_TOL", "PLATEAU_TOL", "STATUSES", "UNIT", "DATASET", "doubling", "saturation"]
