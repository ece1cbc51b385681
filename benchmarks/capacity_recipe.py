"""Does notebook 06's recipe reach saturation, and does the new one (shuffled batches, warm-up, cosine decay) do better?

For issue 41 (capacity measured, not bounded). One small capacity model (``--model``, a ``-letters`` model: every
embedding row used), datasets of ``--data`` bits per parameter (uniform strings of 32 letters over 26), each trained
with each recipe for ``--epochs`` and for half of it (two runs, each with its own full schedule: with a decaying
rate, the middle of one run is not a shorter run), one seed. Per run it prints the memorised bits at the end (the
no-grad measurement), per parameter, the share of the data, and :func:`memlib.capacity.doubling` between the two
budgets (the growth when training doubled), with the seconds and optimiser steps per second. Runs are kept in
``--store`` (default ``build/capacity-recipe``), so a second call only prints.

Recipes: ``old`` is notebook 06's (fixed batch order, constant rate 3e-3); ``new@<lr>`` shuffles the batches every
epoch, warms up over 5% of the steps and decays by half a cosine, at each of ``--lrs``.

    .venv/bin/python benchmarks/capacity_recipe.py --model tiny-llama-w8-l1-letters --data 1 4 16 --epochs 480
"""

from __future__ import annotations

import argparse
import time

import torch

import memlib
from memlib import capacity
from memlib.capacity.tables import bits_by_epoch, string_bits
from memlib.models import param_counts


def recipes(lrs, old=True):
    if old:
        yield "old", dict(lr=3e-3, lr_schedule="constant")
    for lr in lrs:
        yield f"new@{lr:g}", dict(lr=lr, lr_schedule="cosine", warmup=0.05, shuffle=True)


def final_bits(run) -> float:
    b = bits_by_epoch(string_bits([run]))
    return float(b.sort_values("epoch").memorised.iloc[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny-llama-w8-l1-letters")
    ap.add_argument("--data", type=float, nargs="+", default=[1.0, 4.0, 16.0], help="bits of data per parameter")
    ap.add_argument("--epochs", type=int, default=480)
    ap.add_argument("--lrs", type=float, nargs="+", default=[3e-3, 1e-2, 3e-2])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--store", default="build/capacity-recipe")
    ap.add_argument("--no-old", action="store_true", help="only the new recipe at each of --lrs")
    a = ap.parse_args()
    store = memlib.RunStore(a.store)
    params = param_counts(a.model)["total"]
    print(f"{a.model}: {params:,} parameters; strings of 32 letters over 26; batches of {a.batch}; seed {a.seed}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)\n")
    print("| data bits/param | strings | recipe | memorised at E/2 | memorised at E | bits/param at E | share at E | "
          "growth E/2 -> E | steps/s |")
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for ratio in a.data:
        n = capacity.n_strings_for(ratio * params, 32, 26)
        for name, hp in recipes(a.lrs, old=not a.no_old):
            got, rates = [], []
            for epochs in (a.epochs // 2, a.epochs):
                grid = dict(models=[a.model], seeds=[a.seed], grid=[{"alphabet_size": 26}], length=32,
                            n_train_strings=n, n_test_strings=0, epochs=epochs, batch_size=a.batch,
                            eval_every=[0, epochs], **hp)
                t0 = time.perf_counter()
                (run,), = memlib.sweep.grids_runs([grid], store=store, progress=False)
                seconds = run.meta.get("wall_seconds") or (time.perf_counter() - t0)
                steps = epochs * -(-n // a.batch)
                got.append(final_bits(run))
                rates.append(steps / seconds)
            info = n * 32 * 4.700439718141092
            d = capacity.doubling([a.epochs // 2, a.epochs], got)
            print(f"| {ratio:g} | {n} | {name} | {got[0]:,.0f} | {got[1]:,.0f} | {got[1] / params:.2f} | "
                  f"{got[1] / info:.3f} | {d['growth']:+.3f} | {rates[1]:.0f} |", flush=True)


if __name__ == "__main__":
    main()
