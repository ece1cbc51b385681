"""Beyond the paper: extraction, exposure in bits, membership inference, and when each character
is memorised (notebook 05).

The paper measures recollection: the true prefix is given and the next character predicted. A
privacy researcher asks more of the same runs; everything here reads stored runs (no weights):

* **extraction** (Carlini et al. 2022): greedy generation reproduces the string. Greedy decoding
  stays on the string exactly as long as every prediction from the true context before it is
  right, so generation from BOS reproduces the leading run of correct positions of the run's own
  per-position arrays (``train_correct``, every epoch), and generation from a true ``k``-character
  prompt taken at offset ``o`` reproduces the leading run of correct predictions from the windows
  ``text[o:i]``, which the window probes of :mod:`memlib.probes` measure inside the run, one
  forward per offset (:func:`extraction_spec`). :func:`greedy_generate` decodes for real and the
  tests check that both agree.
* **exposure** (Carlini et al., "The Secret Sharer", 2019), in bits: ``-log2 P(loss(X) <= loss(s))`` for
  ``X`` drawn from the string's distribution. Counted among the run's held-out strings (``share = (count + 1)
  / (N + 1)``, at most ``log2(N + 1)`` bits) and, with ``permuted`` probes, among permutations of the string's
  own letters (the candidates that match its composition); measured beyond any count by importance sampling
  (:mod:`memlib.candidates`, :func:`measured_exposure_table`), with a 95% interval, checked against exact
  enumeration; where only a count exists, extrapolated with the Secret Sharer's skew-normal fit (maximum
  likelihood), capped at the string's self-information, and labelled so. A held-out string measured the
  same way against the other candidates checks the count: its rank among ``N`` exchangeable strings is
  uniform, so its counted exposure has the exact expectation ``log2 N - log2(N!) / N``
  (:func:`expected_counted_exposure`: 1.32 bits for ``N = 31``, tending to ``1/ln 2 = 1.44`` bits).
* **membership inference**: the loss-threshold attack, trained strings against held-out strings (and against
  permutations of the trained strings), pooled over the runs of a setting, on the raw loss and calibrated by
  the loaded model's loss (:func:`attack_table`): ROC AUC and the true-positive rate at 1% and 0.1% false
  positives (:func:`tpr_at_fpr`), NaN ("not measurable at this n") with fewer than ``ceil(1 / fpr)``
  non-members.
* **extraction at standard sizes** (:func:`extraction_sizes`): Carlini et al. 2022's k-extractable rate for
  several ``k`` and the share of the ``n`` characters reproduced before the first error.
* **onset**: per character, the first epoch from which it stays correct to the end of the run, with
  its position, its probability under the distribution and its uniqueness (:func:`memlib.probes.uniqueness`).

A small package: its parameters, presets and run plan (:mod:`.plan`), tables (:mod:`.tables`), verdict
(:mod:`.verdict`) and figures (:mod:`.figures`).
"""

from .figures import plot_candidates, plot_onsets, plot_privacy
from .plan import PRESETS, candidate_plan, candidate_runs, needed_candidates, one_string_runs, Params, specs
from .tables import holds_from, milestones, onset_summary, onset_table, status_table
from .verdict import PRIMARY, candidates_verdict, contrasts, sizes_lines, verdict

__all__ = ["Params", "PRESETS", "specs", "one_string_runs", "needed_candidates", "candidate_plan", "candidate_runs",
           "milestones", "holds_from", "onset_table", "onset_summary", "status_table", "sizes_lines", "verdict",
           "candidates_verdict", "plot_privacy", "plot_candidates", "plot_onsets", "PRIMARY", "contrasts"]
