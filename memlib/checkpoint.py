"""Checkpoints of a run in progress: ``expose(..., checkpoint_every=N)``.

Every ``N`` epochs the training loop keeps, in ``<store root>/checkpoints/<run key>/``, what it
needs to go on exactly where it was: the weights, the optimiser's state, the random generator's
state, the loop's counters and the measurements so far (and the in-run measurements' arrays). A run
started again with the same configuration resumes from there and gives metrics bit-identical to an
uninterrupted run on the CPU. The checkpoint is removed once the finished run is stored.

Nothing in a checkpoint can run code: tensors are in safetensors, everything else in JSON. Each
checkpoint's tensors go to a new file; then ``state.json``, which names that file, is replaced in
one atomic rename. A kill at any moment therefore leaves the previous complete checkpoint (or
none), and two processes on one run leave one of theirs. A checkpoint that cannot be read, or does
not fit the model, is reported and ignored (the run starts from the beginning); one that cannot be
written is reported and training goes on.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path

import numpy as np
import torch

FORMAT = 3  # 3: the in-run measurements of every hook under "hooks" (2: the probes under "probes")


def _tensor(a) -> torch.Tensor:
    return torch.from_numpy(np.array(a, order="C"))  # a copy that keeps 0-d values 0-d


def _cuda_index(name: str) -> int:
    return int(name[len("rng.cuda"):])


class Checkpoint:
    """The checkpoint folder of run ``key`` in ``store``, written every ``every`` epochs."""

    def __init__(self, store, key: str, every: int):
        self.folder = Path(store.root) / "checkpoints" / key
        self.key, self.every = key, every

    def due(self, epoch: int, t: int, resumed_at: int | None) -> bool:
        """Whether to save at the top of a stage's iteration ``t`` at schedule epoch ``epoch`` (never at a
        stage's first iteration, nor again at the epoch just resumed from)."""
        return t > 0 and epoch % self.every == 0 and epoch != resumed_at

    def save(self, *, net, opt, state: dict, records: dict, hooks: dict | None) -> None:
        """Keep the loop's state (``hooks``: the arrays of every in-run measurement, :class:`memlib.loop.Hook`); a
        failure to write is reported, and training goes on."""
        try:
            self._save(net=net, opt=opt, state=state, records=records, hooks=hooks)
        except OSError as e:
            warnings.warn(f"could not write the checkpoint {self.folder} at epoch {state['epoch']} ({e}); the run "
                          f"goes on without it", stacklevel=3)

    def _save(self, *, net, opt, state: dict, records: dict, hooks: dict | None) -> None:
        from safetensors.torch import save_file

        tensors, aliases, seen = {}, {}, {}
        for k, v in net.state_dict().items():  # tied weights (one tensor under two names) are saved once
            ident = (v.data_ptr(), v.dtype, tuple(v.shape), tuple(v.stride()))
            if v.numel() and ident in seen:
                aliases[k] = seen[ident]
                continue
            seen[ident] = k
            tensors[f"model.{k}"] = v.detach().to("cpu", copy=True).contiguous()
        opt_state = opt.state_dict()
        for idx, entry in opt_state["state"].items():
            for name, v in entry.items():
                v = v if torch.is_tensor(v) else torch.tensor(v)
                tensors[f"opt.{idx}.{name}"] = v.detach().to("cpu", copy=True).contiguous()
        tensors["rng.cpu"] = torch.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            for i, s in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.cuda{i}"] = s
        rows = []
        for split in ("train", "test"):
            for e, by_string in records[split].items():
                for j, row in by_string.items():
                    names = sorted(row)
                    rows.append([split, int(e), int(j), names])
                    for name in names:
                        tensors[f"rec.{split}.{e}.{j}.{name}"] = _tensor(row[name])
        for name, a in (hooks or {}).items():
            tensors[f"hook.{name}"] = _tensor(a)
        self.folder.mkdir(parents=True, exist_ok=True)
        tensor_file = f"tensors-{state['epoch']}-{uuid.uuid4().hex[:12]}.safetensors"
        meta = {"format": FORMAT, "key": self.key, "tensors": tensor_file, "state": state, "rows": rows,
                "hooks": sorted(hooks or {}), "aliases": aliases, "param_groups": opt_state["param_groups"],
                "opt_entries": {str(i): sorted(e) for i, e in opt_state["state"].items()}}
        save_file(tensors, str(self.folder / tensor_file))
        fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".json", dir=self.folder)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(meta, f)
            os.replace(tmp, self.folder / "state.json")  # the checkpoint is now this one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._prune(keep=tensor_file)

    def _prune(self, keep: str) -> None:
        """Remove the tensors of earlier checkpoints (and temporary files left by a kill)."""
        for p in self.folder.iterdir():
            if p.name != "state.json" and p.name != keep and (p.name.startswith("tensors-") or p.name.startswith(".")):
                p.unlink(missing_ok=True)

    def load(self, expected_weights: set[str]) -> dict | None:
        """The saved state, or None (none saved, or unreadable, or not of a model with the weights
        ``expected_weights``: reported and ignored)."""
        if not (self.folder / "state.json").is_file():
            return None
        from safetensors.torch import load_file

        try:
            meta = json.loads((self.folder / "state.json").read_text())
            if meta.get("format") != FORMAT or meta.get("key") != self.key:
                raise ValueError("it belongs to another run or format")
            t = load_file(str(self.folder / meta["tensors"]))
            weights = {k[len("model."):]: v for k, v in t.items() if k.startswith("model.")}
            for alias, name in meta["aliases"].items():
                weights[alias] = weights[name]
            if set(weights) != set(expected_weights):
                raise ValueError(f"its weights do not fit the model ({len(set(weights) ^ set(expected_weights))} names "
                                 f"differ)")
            # load_state_dict moves each entry to its parameter's device (and "step" as the optimiser wants it)
            opt_state = {int(i): {name: t[f"opt.{i}.{name}"] for name in names}
                         for i, names in meta["opt_entries"].items()}
            records = {"train": {}, "test": {}}
            for split, e, j, names in meta["rows"]:
                records[split].setdefault(e, {})[j] = {n: t[f"rec.{split}.{e}.{j}.{n}"].numpy() for n in names}
            hooks = {n: t[f"hook.{n}"].numpy() for n in meta["hooks"]}
            cuda = [t[k] for k in sorted((k for k in t if k.startswith("rng.cuda")), key=_cuda_index)]
            state = meta["state"]
            for name in ("epoch", "stage", "t", "step", "streak", "bounds", "memorised"):
                state[name]  # noqa: B018 - a KeyError here is damage
        except Exception as e:  # noqa: BLE001 - any damage: report, start the run from the beginning
            warnings.warn(f"ignoring checkpoint {self.folder}: {e}; the run starts from the beginning", stacklevel=3)
            return None
        return {"state": state, "weights": weights, "optimizer": {"state": opt_state, "param_groups": meta["param_groups"]},
                "records": records, "hooks": hooks, "rng_cpu": t["rng.cpu"], "rng_cuda": cuda}

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
