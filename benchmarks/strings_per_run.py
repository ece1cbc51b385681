"""Several training strings per run, as the paper trained (5 per run): what they cost and whether they buy units.

``make bench-strings``. SmolLM2-135M at its own rate (1e-4, constant, fp32), 7 letters, 32 characters, 40 epochs,
one training string per run against 5 in one batch (one optimiser step per epoch either way), over seeds that no
notebook uses (200, 201). Prints, per setting: seconds per epoch (the run's wall time over its epochs), the epochs
until each string is memorised (accuracy >= 0.99 held 2 epochs, ``memlib.metrics.memorised_at``; censored strings
counted as longer than the run), and strings memorised per minute.

What it answers: a run of 5 strings gives 5 strings' measurements for the price of one run only if an epoch of 5
costs less than 5 epochs of 1 and the strings memorise as fast. Its 5 strings share one model and one training
trajectory, so they are not 5 independent units for a contrast between runs (the run is); within-run contrasts stay
descriptive (``memlib.stats.WITHIN_RUN``). Runs go to the run store (``MEMLIB_CACHE``), so a second call only reads
them: the printed seconds are those of the runs as stored.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from memlib import metrics, sweep

SEEDS = [200, 201]
SETTING = dict(alphabet_size=7, length=32, n_test_strings=1, epochs=40, lr=1e-4, eval_every=[0, 40],
               precision="fp32")


def main() -> int:
    rows = []
    for n in (1, 5):
        for run in sweep.exposure_runs(["smollm2-135m"], SEEDS, n_train_strings=n, progress=False, **SETTING):
            m = run.metrics[run.metrics.split == "train"]
            for j, g in m.groupby("string"):
                g = g.sort_values("epoch")
                at = metrics.memorised_at(g.epoch, g.accuracy)
                rows.append(dict(strings=n, seed=run.config.seed, string=j, memorised=at,
                                 seconds_per_epoch=run.meta["wall_seconds"] / SETTING["epochs"],
                                 run_seconds=run.meta["wall_seconds"]))
    t = pd.DataFrame(rows)
    last = SETTING["epochs"] + 1
    out = []
    for n, g in t.groupby("strings"):
        runs = g.drop_duplicates("seed")
        done = g.memorised.notna().sum()
        out.append(dict(strings_per_run=n, runs=len(runs), seconds_per_epoch=runs.seconds_per_epoch.median(),
                        median_epochs_memorised=float(np.median(g.memorised.fillna(last))),
                        memorised=f"{done} of {len(g)}",
                        strings_memorised_per_minute=60 * done / runs.run_seconds.sum()))
    print(f"SmolLM2-135M, {SETTING['length']} characters, {SETTING['alphabet_size']} letters, lr {SETTING['lr']}, "
          f"{SETTING['epochs']} epochs, seeds {SEEDS}; {last} = not memorised within the run (censored).\n")
    cols = list(out[0])
    print("| " + " | ".join(cols) + " |\n|" + " --- |" * len(cols))
    for row in out:
        print("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
