"""Privacy measures checked where they are used, and compared string by string (notebook 07).

* **Exposure at depth** (:mod:`memlib.tails`): a position-wise model's loss distribution is exactly computable, so
  the importance-sampled exposure notebook 05 reports (:func:`memlib.candidates.tail_probability`) is checked against
  the truth from 20 to 90 bits, over independent sets of samples: coverage of its 95% interval, its error, and how
  many samples each depth needs; :func:`memlib.candidates.reliable` marks the estimates whose interval rests on too
  few hits. Enumeration on a 4-layer tiny Llama checks it at 16-20 bits (``cpu-long``).
* **Shadow models** (:mod:`memlib.lira`): one pool of strings, ``shadows`` models each trained on a random half;
  every model in turn the target. The likelihood-ratio attack (Carlini et al. 2022, online and offline) against the
  loss threshold and its calibration by the loaded model, ROC on log axes, TPR at 1% and 0.1% FPR with intervals
  from a bootstrap over models and strings (the threshold re-chosen in each resample).
* **Counterfactual memorisation** (Zhang et al. 2021, :mod:`memlib.counterfactual`) from the same models.
* **Every measure on the same strings** (:mod:`.tables`): exposure, characters extracted from BOS, memorised bits,
  the LiRA statistic and counterfactual memorisation per pool string, their rank correlations over strings with
  intervals, and the strings one measure flags that another ranks low.

A small package: its parameters, presets and run plans (:mod:`.plan`), tables (:mod:`.tables`), verdict
(:mod:`.verdict`) and figures (:mod:`.figures`).
"""

from .figures import plot_attacks, plot_strings, plot_tails
from .plan import PRESETS, Params, audit_runs, check, pool_strings
from .tables import (LABELS, MEASURES, attack_differences, attack_table, correlations, disagreements, matrix, pair_table,
                     roc_table,
                     string_table)
from .verdict import PRIMARY, verdict

__all__ = ["Params", "PRESETS", "check", "audit_runs", "pool_strings", "pair_table", "matrix", "attack_table",
           "attack_differences",
           "roc_table", "string_table", "correlations", "disagreements", "MEASURES", "LABELS", "verdict", "PRIMARY",
           "plot_tails", "plot_attacks", "plot_strings"]
