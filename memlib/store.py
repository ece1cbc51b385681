"""The run store: finished runs on disk, keyed by everything that determines them.

Layout of one run, ``<root>/runs/<key[:2]>/<key>/``::

    config.json    the full run configuration (model fingerprint, strings, hyper-parameters,
                   memlib version): what the key is the hash of
    meta.json      how it was made: library versions, device, wall time, date
    metrics.csv    the tidy metrics table (one row per epoch x split x string)
    arrays.npz     per-position arrays (epoch x string x position) and their epoch indices
    manifest.json  sha256 of each file above, checked on load

A store opened for a notebook (``RunStore(root, notebook="01_dynamics")``) also records each
run it loads or saves in ``<root>/notebooks/<notebook>.txt`` (one key a line, appended): which
runs a notebook used, for the explorer (:mod:`memlib.explorer`). A run shared by two notebooks
is listed under both.

A run is written into a temporary folder beside its final place and renamed
into place, so a reader never sees half a run, and two writers of the same key
(parallel processes) leave one complete copy.

The root is ``$MEMLIB_CACHE`` if set, else ``$XDG_CACHE_HOME/memlib`` (default
``~/.cache/memlib``). ``make`` sets ``MEMLIB_CACHE=.cache/memlib`` in the repository.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .config import RunConfig, after_memorised

__all__ = ["Run", "RunStore", "cache_dir", "canonical", "run_key", "metrics_table"]

_FILES = ("config.json", "meta.json", "metrics.csv", "arrays.npz")
_KEY = re.compile(r"[0-9a-f]{64}")
# read floats back exactly as written: pandas >= 3 does by default (and deprecates the option)
_EXACT_FLOATS = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
_NOTEBOOK = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.-]*")


def cache_dir() -> Path:
    """Root of memlib's caches (runs and converted models)."""
    env = os.environ.get("MEMLIB_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser().resolve() / "memlib"


def canonical(obj) -> str:
    """The JSON a run key hashes: sorted keys, no spaces, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def run_key(config) -> str:
    """sha256 of the canonical JSON of a run's configuration (a :class:`RunConfig` or its dict)."""
    if isinstance(config, RunConfig):
        config = config.to_dict()
    return hashlib.sha256(canonical(config).encode()).hexdigest()


@dataclass
class Run:
    """A finished run: its configuration, tidy metrics and per-position arrays.

    ``metrics``: one row per (epoch, split, string), see :func:`memlib.metrics.METRIC_COLUMNS`.
    ``arrays``: ``{split}_correct`` (bool) and ``{split}_p_true`` (float32), shape
    (evaluated epochs, strings, positions), with ``{split}_epochs`` giving the epoch of each
    row; position ``i`` is the prediction of character ``i`` from BOS and characters ``< i``.
    """

    config: RunConfig
    metrics: pd.DataFrame
    arrays: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)
    key: str = ""
    from_store: bool = False

    def __post_init__(self):
        if isinstance(self.config, dict):  # as saved (config.json)
            self.config = RunConfig.from_dict(self.config)
        if not self.key:
            self.key = run_key(self.config.to_dict())

    def __repr__(self) -> str:
        c = self.config
        length = f"epochs={c.epochs}" if not c.is_schedule else f"stages={len(c.stages)}"
        return (f"Run(model={c.model!r}, train={len(c.train)}, test={len(c.test)}, {length}, lr={c.lr}, "
                f"seed={c.seed}, key={self.key[:12]}, from_store={self.from_store})")

    def probe_epoch(self, at="last") -> int | None:
        """The epoch the run's probes (:mod:`memlib.probes`) measured for ``at``: ``"memorised"``
        (None if the run never reached the threshold), ``"memorised+N"`` (None also if the run ended before
        it), ``"last"`` or an epoch. ValueError if the run
        has no probes there."""
        if "probe_epochs" not in self.arrays:
            raise ValueError(f"{self!r} has no probes: run it with expose(..., probes=ProbeSpec(...))")
        probed = [int(e) for e in self.arrays["probe_epochs"]]
        after = after_memorised(at)
        if at == "memorised" or after is not None:
            if at not in self.config.probes.at:
                raise ValueError(f"at={at!r} is not allowed: this run's probes were taken at "
                                 f"{list(self.config.probes.at)}")
            epoch = int(self.arrays["probe_memorised_epoch"])
            if epoch < 0 or (after is not None and epoch + after not in probed):
                return None  # never memorised, or the run ended before memorised + N
            return epoch + (after or 0)
        epoch = self.config.epochs if at == "last" else at
        if epoch not in probed:
            raise ValueError(f"at={at!r} is not allowed: this run's probes measured epochs {probed} "
                             f"('memorised', 'last' or one of them)")
        return epoch

    def probe(self, at="last", string: int = 0) -> dict[str, np.ndarray]:
        """The arrays of :func:`memlib.probes.measure` for training string ``string`` at ``at``
        (see :meth:`probe_epoch`); ValueError when there are none."""
        epoch = self.probe_epoch(at)
        if epoch is None:
            raise ValueError(f"{self!r} has no {at!r} probes: it never reached its probes' threshold"
                             + (", or ended before that many epochs after it" if at != "memorised" else ""))
        prefix = f"probe_e{epoch}_s{string}_"
        out = {k[len(prefix):]: v for k, v in self.arrays.items() if k.startswith(prefix)}
        if not out:
            raise ValueError(f"string={string!r} is not allowed: the run has {len(self.config.train)} training strings")
        return out

    def candidates(self, at="last") -> dict[str, np.ndarray]:
        """The run's candidates at ``at`` (:mod:`memlib.candidates`, probes with ``permuted``, ``samples`` or
        ``enumerate``): ``member_loss`` and the ``sampled_*`` / ``enumerated_*`` arrays (each string's
        ``permuted_loss`` is in :meth:`probe`); ValueError when there are none."""
        epoch = self.probe_epoch(at)
        prefix = f"probe_e{epoch}_run_"
        out = {k[len(prefix):]: v for k, v in self.arrays.items() if k.startswith(prefix)} if epoch is not None else {}
        if not out:
            raise ValueError(f"{self!r} has no candidates at {at!r}: run it with probes that set permuted, samples or "
                             f"enumerate (memlib.ProbeSpec), measured at that epoch")
        return out

    def final(self, split: str = "train") -> pd.DataFrame:
        """Metrics at the last evaluated epoch of ``split``."""
        m = self.metrics[self.metrics.split == split]
        return m[m.epoch == m.epoch.max()]


def metrics_table(runs) -> pd.DataFrame:
    """The tidy metrics of several runs in one table, each row with its run's learning rate
    (``lr``), so that runs of one model at different rates stay apart."""
    return pd.concat([r.metrics.assign(lr=r.config.lr) for r in runs], ignore_index=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class RunStore:
    """Runs on disk under ``root/runs``. ``RunStore()`` uses :func:`cache_dir`."""

    def __init__(self, root: str | os.PathLike | None = None, *, notebook: str | None = None):
        if notebook is not None and not (isinstance(notebook, str) and _NOTEBOOK.fullmatch(notebook)):
            raise ValueError(f"notebook={notebook!r} is not allowed: use a name of letters, digits, '_', '.' and "
                             f"'-', such as '01_dynamics'")
        self.root = Path(root).expanduser().resolve() if root is not None else cache_dir()
        self.notebook = notebook
        self._noted: set[str] | None = None
        self._warned = False

    def __repr__(self) -> str:
        extra = f", notebook={self.notebook!r}" if self.notebook else ""
        return f"RunStore({str(self.root)!r}{extra})"

    def _note(self, key: str) -> None:
        """Record that this store's notebook used run ``key`` (no-op without a notebook)."""
        if self.notebook is None:
            return
        if self._noted is None:
            self._noted = set(self.notebook_keys(self.notebook))
        if key in self._noted:
            return
        self._noted.add(key)
        index = self.root / "notebooks" / f"{self.notebook}.txt"
        try:
            index.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(index, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:  # one short write in append mode: on a local file system, concurrent lines do not interleave
                os.write(fd, f"{key}\n".encode())
            finally:
                os.close(fd)
        except OSError as e:  # a read-only store (e.g. received from a colleague) still loads its runs
            if not self._warned:
                warnings.warn(f"cannot record {self.notebook}'s runs in {index} ({e.strerror or e}): the explorer "
                              f"will not list them under {self.notebook}", stacklevel=3)
                self._warned = True

    def notebooks(self) -> list[str]:
        """The notebooks that recorded runs in this store, sorted."""
        folder = self.root / "notebooks"
        return sorted(p.stem for p in folder.glob("*.txt") if _NOTEBOOK.fullmatch(p.stem)) if folder.is_dir() else []

    def notebook_keys(self, notebook: str) -> list[str]:
        """Keys recorded by ``notebook``, in first-use order (stored or not: check with ``in``)."""
        index = self.root / "notebooks" / f"{notebook}.txt"
        if not index.is_file():
            return []
        lines = index.read_text(errors="replace").split()
        return list(dict.fromkeys(k for k in lines if _KEY.fullmatch(k)))

    def check_writable(self) -> None:
        """Raise (ValueError naming the folder) unless runs can be written under this store's root:
        checked before training, so that no work is lost at the end. Creates ``root/runs``."""
        base = self.root / "runs"
        try:
            base.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=base)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise ValueError(f"run store {self.root} cannot be written ({e.strerror or e}): use a folder you can write "
                             f"(store=..., cache_dir=... or MEMLIB_CACHE), or store=False to keep runs in memory only") from None

    def path(self, key: str) -> Path:
        return self.root / "runs" / key[:2] / key

    def __contains__(self, key: str) -> bool:
        return (self.path(key) / "manifest.json").is_file()

    def load(self, key: str) -> Run | None:
        """The stored run, or None if absent or damaged (a damaged one is reported and ignored)."""
        folder = self.path(key)
        if not (folder / "manifest.json").is_file():
            return None
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
            for name in _FILES:
                if _sha256(folder / name) != manifest[name]:
                    raise ValueError(f"checksum mismatch for {name}")
            config = json.loads((folder / "config.json").read_text())
            meta = json.loads((folder / "meta.json").read_text())
            metrics = pd.read_csv(folder / "metrics.csv", **_EXACT_FLOATS)
            with np.load(folder / "arrays.npz", allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as e:  # any damage: report, ignore, recompute
            warnings.warn(f"ignoring damaged run {folder}: {e}; it will be recomputed", stacklevel=2)
            return None
        if run_key(config) != key:
            warnings.warn(f"ignoring run {folder}: its config does not hash to its key", stacklevel=2)
            return None
        self._note(key)
        return Run(config=config, metrics=metrics, arrays=arrays, meta=meta, key=key, from_store=True)

    def save(self, run: Run) -> Path:
        """Write ``run`` atomically; returns its folder."""
        folder = self.path(run.key)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{run.key[:12]}-", dir=folder.parent))
        try:
            (tmp / "config.json").write_text(json.dumps(run.config.to_dict(), indent=1, sort_keys=True))
            (tmp / "meta.json").write_text(json.dumps(run.meta, indent=1, sort_keys=True, default=str))
            run.metrics.to_csv(tmp / "metrics.csv", index=False)
            buf = io.BytesIO()
            np.savez_compressed(buf, **run.arrays)
            (tmp / "arrays.npz").write_bytes(buf.getvalue())
            manifest = {name: _sha256(tmp / name) for name in _FILES}
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
            if folder.exists():  # a damaged copy, or another process finished first
                if run.key in self and self.load(run.key) is not None:
                    shutil.rmtree(tmp)
                    self._note(run.key)
                    return folder
                trash = Path(tempfile.mkdtemp(prefix=f".old-{run.key[:12]}-", dir=folder.parent))
                try:
                    os.replace(folder, trash / "run")
                except FileNotFoundError:  # another process moved the damaged copy first
                    pass
                shutil.rmtree(trash, ignore_errors=True)
            try:
                os.replace(tmp, folder)
            except OSError:
                if run.key not in self:  # not a lost race: a real failure
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._note(run.key)
        return folder

    def keys(self) -> list[str]:
        base = self.root / "runs"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.glob("*/*") if not p.name.startswith(".") and (p / "manifest.json").is_file())
