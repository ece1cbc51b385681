"""Checkpoints of a run in progress: ``expose(..., checkpoint_every=N)``.

Every ``N`` epochs the training loop keeps, in ``<store root>/checkpoints/<run key>/``, what it
needs to go on exactly where it was: the weights, the optimiser's state, the random generator's
state, the loop's counters and the measurements so far (and the probes taken so far). A run
started again with the same configuration resumes from there and gives metrics bit-identical to an
uninterrupted run on the CPU. The checkpoint is removed once the finished run is stored.

Nothing in a checkpoint can run code: tensors are in safetensors, everything else in JSON. A
checkpoint is written into a temporary folder and renamed into place, so a kill at any moment
leaves the previous complete checkpoint (or none); one that cannot be read is reported and ignored.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

FORMAT = 1


def _tensor(a) -> torch.Tensor:
    return torch.from_numpy(np.array(a, order="C"))  # a copy that keeps 0-d values 0-d


class Checkpoint:
    """The checkpoint folder of run ``key`` in ``store``, written every ``every`` epochs."""

    def __init__(self, store, key: str, every: int):
        self.folder = Path(store.root) / "checkpoints" / key
        self.key, self.every = key, every

    def due(self, epoch: int, t: int, resumed_at: int | None) -> bool:
        """Whether to save at the top of a stage's iteration ``t`` at schedule epoch ``epoch`` (never at a
        stage's first iteration, nor again at the epoch just resumed from)."""
        return t > 0 and epoch % self.every == 0 and epoch != resumed_at

    def save(self, *, net, opt, state: dict, records: dict, probes: dict | None) -> None:
        from safetensors.torch import save_file

        tensors = {f"model.{k}": v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
        opt_state = opt.state_dict()
        for idx, entry in opt_state["state"].items():
            for name, v in entry.items():
                tensors[f"opt.{idx}.{name}"] = (v if torch.is_tensor(v) else torch.tensor(v)).detach().to("cpu").contiguous()
        tensors["rng.cpu"] = torch.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            for i, s in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.cuda{i}"] = s
        rows = []
        for split, by_epoch in records.items():
            if split not in ("train", "test"):
                continue
            for e, by_string in by_epoch.items():
                for j, row in by_string.items():
                    names = sorted(row)
                    rows.append([split, int(e), int(j), names])
                    for name in names:
                        tensors[f"rec.{split}.{e}.{j}.{name}"] = _tensor(row[name])
        probe_names = []
        for name, a in (probes or {}).items():
            tensors[f"probe.{name}"] = _tensor(a)
            probe_names.append(name)
        meta = {"format": FORMAT, "key": self.key, "state": state, "rows": rows, "probes": probe_names,
                "param_groups": opt_state["param_groups"],
                "opt_entries": {str(i): sorted(e) for i, e in opt_state["state"].items()}}
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{self.key[:12]}-", dir=self.folder.parent))
        try:
            save_file(tensors, str(tmp / "tensors.safetensors"))
            (tmp / "state.json").write_text(json.dumps(meta))
            if self.folder.exists():
                old = Path(tempfile.mkdtemp(prefix=f".old-{self.key[:12]}-", dir=self.folder.parent))
                self.folder.rename(old / "checkpoint")
                tmp.rename(self.folder)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(self.folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def load(self) -> dict | None:
        """The saved state, or None (none saved, or unreadable: reported and ignored)."""
        if not (self.folder / "state.json").is_file():
            return None
        from safetensors.torch import load_file

        try:
            meta = json.loads((self.folder / "state.json").read_text())
            if meta.get("format") != FORMAT or meta.get("key") != self.key:
                raise ValueError("it belongs to another run or format")
            t = load_file(str(self.folder / "tensors.safetensors"))
            weights = {k[len("model."):]: v for k, v in t.items() if k.startswith("model.")}
            # load_state_dict moves each entry to its parameter's device (and "step" as the optimiser wants it)
            opt_state = {int(i): {name: t[f"opt.{i}.{name}"] for name in names}
                         for i, names in meta["opt_entries"].items()}
            records = {"train": {}, "test": {}}
            for split, e, j, names in meta["rows"]:
                records[split].setdefault(e, {})[j] = {n: t[f"rec.{split}.{e}.{j}.{n}"].numpy() for n in names}
            probes = {n: t[f"probe.{n}"].numpy() for n in meta["probes"]}
            rng = {k: v for k, v in t.items() if k.startswith("rng.")}
        except Exception as e:  # noqa: BLE001 - any damage: report, start the run from the beginning
            warnings.warn(f"ignoring checkpoint {self.folder}: {e}; the run starts from the beginning", stacklevel=3)
            return None
        return {"state": meta["state"], "weights": weights,
                "optimizer": {"state": opt_state, "param_groups": meta["param_groups"]},
                "records": records, "probes": probes, "rng": rng}

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
