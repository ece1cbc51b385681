"""A small grid for the multi-process test: ``accelerate launch ... tests/launch_grid.py STORE OUT``.

Every process writes the runs it returns (key and metrics) to ``OUT/rank<r>.json``."""
import json
import os
import sys

import memlib
from memlib import sweep

GRID = dict(models=["tiny-llama", "tiny-pythia"], seeds=[0, 1],
            grid=[{"alphabet_size": 2}, {"alphabet_size": 7, "entropy": 2.0}],
            length=12, n_train_strings=1, n_test_strings=2, epochs=4, eval_every=1)


def grid(store):
    g = dict(GRID)
    return sweep.grid_runs(g.pop("models"), g.pop("seeds"), g.pop("grid"), store=store, progress=False, **g)


if __name__ == "__main__":
    store, out = sys.argv[1], sys.argv[2]
    runs = grid(memlib.RunStore(store))
    rank = os.environ.get("RANK", "0")
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump([{"key": r.key, "metrics": r.metrics.to_dict(orient="list")} for r in runs], f)
