"""Each model's own learning rate for notebook 01's pretrained-against-random contrast (``make bench-lr``).

SmolLM2-135M and its random-weight twin, each at a few constant rates, on notebook 01's default setting (7 letters,
64 characters, 28 epochs, fp32) over seeds that notebook 01 does not use (100, 101), so the rate is not chosen on the
strings it is then tested on. Prints, per model and rate, the medians over seeds of: the epoch the distribution is
learnt (the end of the guessing phase, ``memlib.phases``), epochs to 50% / 90% accuracy, the epoch memorised
(accuracy >= 0.99 held 2 epochs) and the final accuracy. A model's own rate is the one that memorises fastest: the most
runs memorised, then the median epoch memorised, 90% and 50% accuracy (a run that never gets there counted as
longer than the run), then the final accuracy where none gets there.
Runs go to the run store (``MEMLIB_CACHE``), so a second call only reads them.
"""

from __future__ import annotations

import sys

import pandas as pd

from memlib import phases, sweep

RATES = {"smollm2-135m": [5e-5, 1e-4, 2e-4, 5e-4], "smollm2-135m-random": [2e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2e-3]}
SEEDS = [100, 101]
SETTING = dict(alphabet_size=7, length=64, n_train_strings=1, n_test_strings=4, epochs=28,
               eval_every=[0, 1, 2, 4, 8, 16, 32], precision="fp32")


def main() -> int:
    rows = []
    for model, rates in RATES.items():
        for lr in rates:
            runs = sweep.exposure_runs([model], SEEDS, lr=lr, progress=False, **SETTING)
            rows += [phases.phases(r) for r in runs]
    t = pd.DataFrame(rows)
    last = SETTING["epochs"] + 1  # a run that never got there counts as longer than the run (censored)
    cols = ["guess_end", "epochs_to_50", "epochs_to_90", "mem_end"]
    filled = t.assign(**{c: t[c].fillna(last) for c in cols})
    summary = (filled.groupby(["model", "lr"])[cols].median()
               .join(t.groupby(["model", "lr"]).final_accuracy.median())
               .join(t.groupby(["model", "lr"]).mem_end.count().rename("memorised")))
    print(f"Medians over seeds {SEEDS}; {last} = not within {SETTING['epochs']} epochs (censored).")
    print(summary.to_string(float_format=lambda v: f"{v:.3g}"))
    for model, g in summary.groupby(level=0):
        key = g.apply(lambda r: (-r.memorised, r.mem_end, r.epochs_to_90, r.epochs_to_50, -r.final_accuracy), axis=1)
        print(f"{model}: own rate {key.idxmin()[1]:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
