"""Each model's own learning rate for notebook 01's pretrained-against-random contrast (``make bench-lr``).

SmolLM2-135M and its random-weight twin, each at a few constant rates, on notebook 01's default setting (7 letters,
64 characters, 28 epochs, fp32) over seeds that notebook 01 does not use (100, 101), so the rate is not chosen on the
strings it is then tested on. Prints, per model and rate, the medians over seeds of: the epoch the distribution is
learnt (the end of the guessing phase, ``memlib.milestones``), epochs to 50% / 90% accuracy, the epoch memorised
(accuracy >= 0.99 held 2 epochs) and the final accuracy. A model's own rate is the one that memorises fastest: the most
runs memorised, then the median epoch memorised, 90% and 50% accuracy (a run that never gets there counted as
longer than the run), then the final accuracy where none gets there.
Runs go to the run store (``MEMLIB_CACHE``), so a second call only reads them.

``--epochs N`` runs longer (held-out strings at 0, 1, 2 and every power of two up to N, and the last), ``--model``
and ``--rates`` pick what runs (``make bench-lr-long``: the twin over 150 epochs, where at 28 no rate memorised;
``--model gemma3-270m --epochs 40``: the second pretrained family of notebook 01's ``families`` preset).
Calls with different ``--rates`` can run side by side on one store; a last call with them all prints the table.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from memlib import milestones, sweep

RATES = {"smollm2-135m": [5e-5, 1e-4, 2e-4, 5e-4], "smollm2-135m-random": [2e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2e-3],
         "gemma3-270m": [5e-5, 1e-4, 2e-4, 4e-4]}
SEEDS = [100, 101]
SETTING = dict(alphabet_size=7, length=64, n_train_strings=1, n_test_strings=4, epochs=28,
               eval_every=[0, 1, 2, 4, 8, 16, 32], precision="fp32")


def doublings(epochs: int) -> list[int]:
    """Held-out epochs: 0, 1, 2, 4, ... below ``epochs`` (the loop adds the last)."""
    out, e = [0], 1
    while e < epochs:
        out.append(e)
        e *= 2
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=SETTING["epochs"], help="epochs per run (default: %(default)s)")
    ap.add_argument("--model", action="append", choices=sorted(RATES),
                    help="a model (repeat; default: SmolLM2-135M and its twin)")
    ap.add_argument("--rates", type=float, nargs="+", help="the rates to run (default: each model's list)")
    args = ap.parse_args(argv)
    if args.epochs < 1:
        ap.error(f"--epochs {args.epochs} is not allowed: use an integer >= 1")
    setting = dict(SETTING, epochs=args.epochs,
                   eval_every=SETTING["eval_every"] if args.epochs == SETTING["epochs"] else doublings(args.epochs))
    rows = []
    for model in args.model or ["smollm2-135m", "smollm2-135m-random"]:
        for lr in args.rates or RATES[model]:
            runs = sweep.exposure_runs([model], SEEDS, lr=lr, progress=False, **setting)
            rows += [milestones.phases(r) for r in runs]
    t = pd.DataFrame(rows)
    last = args.epochs + 1  # a run that never got there counts as longer than the run (censored)
    cols = ["guess_end", "epochs_to_50", "epochs_to_90", "mem_end"]
    filled = t.assign(**{c: t[c].fillna(last) for c in cols})
    summary = (filled.groupby(["model", "lr"])[cols].median()
               .join(t.groupby(["model", "lr"]).final_accuracy.median())
               .join(t.groupby(["model", "lr"]).mem_end.count().rename("memorised")))
    print(f"Medians over seeds {SEEDS}; {last} = not within {args.epochs} epochs (censored).")
    print(summary.to_string(float_format=lambda v: f"{v:.3g}"))
    for model, g in summary.groupby(level=0):
        key = g.apply(lambda r: (-r.memorised, r.mem_end, r.epochs_to_90, r.epochs_to_50, -r.final_accuracy), axis=1)
        print(f"{model}: own rate {key.idxmin()[1]:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
