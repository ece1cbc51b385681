"""One run sharded over the launched processes (FSDP): ``accelerate launch --use_fsdp ... STORE OUT``."""
import json
import os
import sys

import memlib

if __name__ == "__main__":
    store, out = sys.argv[1], sys.argv[2]
    model = memlib.load_model("tiny-llama")
    assert model.sharded, "the model was not sharded"
    s = memlib.random_strings(3, 7, 24, seed=4)
    runs = [memlib.expose(model, s[:1], test_strings=s[1:], epochs=6, eval_every=2, max_grad_norm=0.5, seed=seed,
                          store=memlib.RunStore(store), progress=False) for seed in (0, 1)]
    shard_numel = sum(p.to_local().numel() for p in model.model.parameters())
    rank = os.environ.get("RANK", "0")
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump({"keys": [r.key for r in runs], "metrics": [r.metrics.to_dict(orient="list") for r in runs],
                   "shard_numel": shard_numel, "n_params": model.n_params}, f)
