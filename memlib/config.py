"""What a run is, as data: :class:`RunConfig` (model, strings, stages, optimiser settings, evaluation
schedule, probes), its :class:`PlannedStage` s and the :class:`ProbeSpec` of its probes.

A run is a model exposed to a schedule of strings. :func:`memlib.expose` builds a one-stage schedule,
:func:`memlib.expose_schedule` one of several stages; both check their arguments, build one
:class:`RunConfig`, and hand it to the loop (:mod:`memlib.loop`). The config is saved as the run's
``config.json`` (:meth:`RunConfig.to_dict`), hashed into its store key, and loaded back into
:class:`memlib.Run` as the same object (:meth:`RunConfig.from_dict`): code reads ``run.config.lr``,
``run.config.stages``, ``run.config.is_schedule``. The training strings are records of
:class:`memlib.RandomString` (``text``, ``alphabet``, ``probs``, ``entropy``, ...).

This module imports only :mod:`memlib.strings` from memlib.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, fields, replace
from typing import ClassVar

import numpy as np

from .strings import alphabet_of

__all__ = ["RunConfig", "PlannedStage", "ProbeSpec", "Measurement", "measurement", "MEASUREMENTS", "REPLACE_KINDS",
           "AT_WORDS", "KINDS", "after_memorised", "per_model", "per_length"]

# The two ways a run is described: "expose" (one stage of every training string, a fixed number of
# epochs, its own evaluation schedule) and "schedule" (stages one after another, see memlib.expose_schedule).
KINDS = ("expose", "schedule")

REPLACE_KINDS = ("random", "shuffled", "none")
AT_WORDS = ("memorised", "last")
AFTER_PREFIX = "memorised+"  # "memorised+N": N epochs after the memorised epoch


def after_memorised(at) -> int | None:
    """``N`` for a probe moment ``"memorised+N"`` (N epochs after the memorised epoch), else None."""
    if isinstance(at, str) and at.startswith(AFTER_PREFIX) and at[len(AFTER_PREFIX):].isdigit():
        return int(at[len(AFTER_PREFIX):])
    return None


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _values(name: str, values) -> tuple:
    """``values`` as a non-empty tuple without duplicates (a single value becomes a 1-tuple)."""
    if values is None or not isinstance(values, (str, numbers.Number, tuple, list, range, np.ndarray)):
        raise ValueError(f"{name}={values!r} is not allowed: give a value or a list of values")
    values = (values,) if isinstance(values, (str, numbers.Number)) else tuple(values)
    if not values:
        raise ValueError(f"{name}=() is empty: give at least one value")
    dups = [v for j, v in enumerate(values) if v in values[:j]]
    if dups:
        raise ValueError(f"{name}={values!r} has duplicates {dups!r}: give each value once")
    return values


def _hold(hold) -> int:
    """``hold`` where it is valid (it is checked, with its own message, after ``at``), else the default 2."""
    return hold if _is_int(hold) and hold >= 1 else 2


def _empty(values) -> bool:
    """``()`` or ``[]``: a probe kind switched off."""
    return isinstance(values, (tuple, list)) and not values


def _ints(name: str, values, low: int, high: int | None) -> tuple:
    """Sorted integers in ``low..high`` (no upper bound when ``high`` is None)."""
    values = _values(name, values)
    for v in values:
        if not _is_int(v) or v < low or (high is not None and v > high):
            allowed = f"integers from {low} to {high}" if high is not None else f"integers >= {low}"
            raise ValueError(f"{name} contains {v!r}: use {allowed}")
    return tuple(sorted(int(v) for v in values))


@dataclass(frozen=True)
class ProbeSpec:
    """What to probe, and when inside a run.

    - ``at``: when to probe: ``"memorised"`` (the collection's definition, :func:`memlib.metrics.memorised_at`:
      the first epoch from which train accuracy stays ``>= threshold`` for ``hold`` epochs in a row; the
      probe is taken at the streak's first epoch and dropped if the streak breaks), ``"memorised+N"`` (``N``
      epochs after that epoch, ``N >= max(1, hold - 1)``: the same amount of further exposure for every run;
      missing where the run ends before it), ``"last"``, or epoch integers (0 = the loaded model).
    - ``ks``: local-prefix lengths; ``None``: 0, the powers of two below the length, the length.
    - ``replace``: kinds of replaced global context (:data:`REPLACE_KINDS`); ``replace_ks``: kept
      lengths (``None``: same as ``ks``); ``shifts``: numbers of random letters put in front.
      ``replace=()`` or ``shifts=()`` switches that probe off (e.g. for extraction, which needs only
      the windows below: :func:`memlib.extraction.extraction_spec`).
    - ``draws``: independent draws per random context; ``seed``: seeds every draw.
    - ``offsets``: windows (``None``: none): for each offset ``o``, every character ``text[i]``,
      ``i >= o``, predicted from ``text[o:i]`` alone: what greedy generation from a prompt taken at
      ``o`` reproduces (:mod:`memlib.privacy`); one forward per offset.
    - ``positions``: ``None`` (every position) or ``P``: the local-prefix probe reads a seeded random
      subset of ``P * draws`` positions of the string (one subset for all ``ks``: as many reads per ``k`` as
      a replaced context gets over its draws), and the replaced-context probe,
      for each (kind, kept length ``k``, draw), ``P`` positions drawn afresh among those whose context is
      replaced (``i > k``). A position costs a forward of its own context, so all positions cost about
      ``L^2 / 2`` tokens per kept length, kind and draw; ``P`` positions cost about ``P * L / 2``.
    - Candidates (:mod:`memlib.candidates`; each ``None`` / ``False``: off), at the same epochs, forward-only:
      ``permuted = M``: the loss of ``M`` permutations of each training string's own characters;
      ``samples = S``: ``S`` importance-sampled candidates of the training strings' distribution (one for the
      whole run), from the model at ``temperatures`` (default ``(0.5, 1.0)``) mixed with the data at
      ``data_share`` (default 0.2); ``enumerate=True``: every string of that alphabet and length (at most
      :data:`memlib.candidates.ENUMERATION_LIMIT`). Any of them also records the training strings' own
      losses by the same computation (``member_loss``).

    :meth:`resolved` fills the defaults and checks everything against a string length.
    """

    at: tuple = AT_WORDS
    ks: tuple | None = None
    replace: tuple = REPLACE_KINDS
    replace_ks: tuple | None = None
    shifts: tuple = (1, 2, 4, 8)
    draws: int = 2
    threshold: float = 0.99  # memlib.metrics.MEMORISED_THRESHOLD (this module imports nothing of the library's)
    seed: int = 0
    offsets: tuple | None = None
    hold: int = 2  # memlib.metrics.MEMORISED_HOLD
    positions: int | None = None
    permuted: int | None = None
    samples: int | None = None
    temperatures: tuple | None = None
    data_share: float | None = None
    enumerate: bool = False

    def to_dict(self) -> dict:
        """JSON-able: tuples become lists, ``None`` stays (``offsets``, ``positions`` and the candidates'
        fields are left out where off, so specs without them keep the run keys they had before they existed)."""
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        for name in ("offsets", "positions", "permuted", "samples", "temperatures", "data_share"):
            if d[name] is None:
                del d[name]
        if not d["enumerate"]:
            del d["enumerate"]
        return d

    @property
    def candidates(self) -> bool:
        """Whether any candidates are measured (:mod:`memlib.candidates`)."""
        return bool(self.permuted or self.samples or self.enumerate)

    @classmethod
    def from_dict(cls, d: dict) -> "ProbeSpec":
        """The spec :meth:`to_dict` gave."""
        d = {"hold": 1, **d}  # specs saved before ``hold`` existed probed the first epoch at the threshold
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def resolved(self, length: int, epochs: int | None) -> "ProbeSpec":
        """A copy with ``ks``/``replace_ks`` filled and ``ks``, ``replace_ks``, ``shifts`` sorted,
        for strings of ``length`` characters and runs of ``epochs`` epochs (``None``: epoch
        integers are only checked to be >= 0). Raises ``ValueError`` naming any bad value."""
        if not _is_int(length) or length < 1:
            raise ValueError(f"length={length!r} is not allowed: use an integer >= 1")
        if epochs is not None and (not _is_int(epochs) or epochs < 0):
            raise ValueError(f"epochs={epochs!r} is not allowed: use an integer >= 0 or None")
        at, last = _values("at", self.at), math.inf if epochs is None else epochs
        for a in at:
            n = after_memorised(a)
            ok = (a in AT_WORDS or (n is not None and n >= max(1, _hold(self.hold) - 1) and n <= last)) if isinstance(a, str) \
                else _is_int(a) and 0 <= a <= last
            if not ok:
                top = "" if epochs is None else f" to {epochs}"
                raise ValueError(f"at contains {a!r}: use {' or '.join(map(repr, AT_WORDS))}, "
                                 f"'memorised+N' (N from {max(1, _hold(self.hold) - 1)}{top}) or epoch integers from 0{top}"
                                 + ("" if epochs is None else f" ({epochs}: the run's epochs)"))
        default_ks = (0, *[2 ** j for j in range(length.bit_length()) if 2 ** j < length], length)
        ks = _ints("ks", default_ks if self.ks is None else self.ks, 0, length)
        replace_ks = ks if self.replace_ks is None else _ints("replace_ks", self.replace_ks, 0, length)
        kinds = () if _empty(self.replace) else _values("replace", self.replace)
        for kind in kinds:
            if kind not in REPLACE_KINDS:
                raise ValueError(f"replace contains {kind!r}: use kinds from {', '.join(map(repr, REPLACE_KINDS))}")
        shifts = () if _empty(self.shifts) else _ints("shifts", self.shifts, 1, None)
        if not _is_int(self.draws) or self.draws < 1:
            raise ValueError(f"draws={self.draws!r} is not allowed: use an integer >= 1")
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not 0 < t <= 1:
            raise ValueError(f"threshold={t!r} is not allowed: use a number in (0, 1]")
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r} is not allowed: use an integer >= 0")
        if not _is_int(self.hold) or self.hold < 1:
            raise ValueError(f"hold={self.hold!r} is not allowed: use an integer >= 1")
        offsets = None if self.offsets is None else _ints("offsets", self.offsets, 0, length - 1)
        if self.positions is not None and (not _is_int(self.positions) or self.positions < 1):
            raise ValueError(f"positions={self.positions!r} is not allowed: use None (every position) or an integer >= 1")
        for name in ("permuted", "samples"):
            v = getattr(self, name)
            if v is not None and (not _is_int(v) or v < 1):
                raise ValueError(f"{name}={v!r} is not allowed: use None (none) or an integer >= 1")
        temps, share = self.temperatures, self.data_share
        if (temps is not None or share is not None) and self.samples is None:
            raise ValueError(f"temperatures={temps!r} and data_share={share!r} shape the importance-sampled candidates, "
                             f"but samples=None: set samples too")
        if self.samples is not None:
            temps = (0.5, 1.0) if temps is None else _values("temperatures", temps)
            if any(isinstance(x, bool) or not isinstance(x, numbers.Real) or not x > 0 for x in temps):
                raise ValueError(f"temperatures={list(temps)} is not allowed: use one or more numbers > 0")
            share = 0.2 if share is None else share
            if isinstance(share, bool) or not isinstance(share, numbers.Real) or not 0 < share < 1:
                raise ValueError(f"data_share={share!r} is not allowed: use a number in (0, 1)")
            temps, share = tuple(float(x) for x in temps), float(share)
        if not isinstance(self.enumerate, bool):
            raise ValueError(f"enumerate={self.enumerate!r} is not allowed: use True or False")
        return replace(self, at=at, ks=ks, replace=kinds, replace_ks=replace_ks, shifts=shifts,
                       draws=int(self.draws), threshold=float(t), seed=int(self.seed), offsets=offsets,
                       positions=None if self.positions is None else int(self.positions),
                       permuted=None if self.permuted is None else int(self.permuted),
                       samples=None if self.samples is None else int(self.samples), temperatures=temps, data_share=share)


# Every kind of in-run measurement by name (memlib.config.measurement registers one): how a stored run's config
# finds the class of each of its measurements again.
MEASUREMENTS: dict[str, type] = {}


class Measurement:
    """An in-run measurement's settings: part of the run's configuration (``RunConfig.measurements``, and so of its
    key), and the :class:`memlib.loop.Hook` that measures them (:meth:`hook`). A new one is a frozen dataclass
    subclass registered under its :attr:`name` (:func:`measurement`); neither the loop, the training module nor this
    module changes. Its fields are JSON values (tuples are stored as lists)."""

    name: ClassVar[str] = ""

    def to_dict(self) -> dict:
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "Measurement":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def check(self, config: "RunConfig") -> None:
        """ValueError naming a bad setting for the run ``config`` describes, before any work (default: none)."""

    def hook(self, model, config: "RunConfig"):
        """The hook that measures it inside the run ``config`` describes, on ``model`` (a ``LoadedModel``)."""
        raise NotImplementedError(f"measurement {self.name!r} builds no hook")


def measurement(cls: type) -> type:
    """Register a :class:`Measurement` subclass under its ``name`` (a class decorator): runs can then name it, and
    stored runs that measured it are read back."""
    if not (isinstance(cls, type) and issubclass(cls, Measurement)) or not cls.name or not isinstance(cls.name, str):
        raise ValueError(f"{cls!r} is not allowed as a measurement: use a Measurement subclass with a name")
    known = MEASUREMENTS.get(cls.name)
    if known is not None and known.__qualname__ != cls.__qualname__:
        raise ValueError(f"measurement name {cls.name!r} is taken by {known.__module__}.{known.__qualname__}")
    MEASUREMENTS[cls.name] = cls
    return cls


def check_measurements(measurements) -> tuple:
    """``measurements`` as a tuple of registered :class:`Measurement` s with distinct names, or ValueError naming
    the bad one and what is allowed."""
    if isinstance(measurements, Measurement) or not isinstance(measurements, (list, tuple)):
        raise ValueError(f"measurements={measurements!r} is not allowed: use a list of memlib Measurements")
    for m in measurements:
        if not isinstance(m, Measurement) or MEASUREMENTS.get(m.name) is not type(m):
            raise ValueError(f"measurement {m!r} is not allowed: use instances of Measurement subclasses registered "
                             f"with memlib.config.measurement (registered: {sorted(MEASUREMENTS) or 'none'})")
    names = [m.name for m in measurements]
    if len(set(names)) < len(names):
        raise ValueError(f"measurements {names} name one measurement twice: give each at most once")
    return tuple(measurements)


def _measurements_from(items: list[dict]) -> tuple:
    out = []
    for d in items:
        cls = MEASUREMENTS.get(d.get("name"))
        if cls is None:
            raise ValueError(f"this run measured {d.get('name')!r}, which no imported module registers (registered: "
                             f"{sorted(MEASUREMENTS) or 'none'}): import the module that defines it")
        out.append(cls.from_dict({k: v for k, v in d.items() if k != "name"}))
    return tuple(out)


@dataclass(frozen=True)
class PlannedStage:
    """One stage as a run records it: the indices of the training strings it trains
    (``RunConfig.train``), and either ``epochs`` or ``until`` (accuracy threshold) held for ``hold``
    epochs in a row, within ``max_epochs``."""

    strings: tuple
    epochs: int | None = None
    until: float | None = None
    hold: int | None = None
    max_epochs: int | None = None

    @property
    def limit(self) -> int:
        """The most epochs the stage trains."""
        return self.epochs if self.epochs is not None else self.max_epochs

    def to_dict(self) -> dict:
        return {"strings": list(self.strings), "epochs": self.epochs, "until": self.until, "hold": self.hold,
                "max_epochs": self.max_epochs}

    @classmethod
    def from_dict(cls, d: dict) -> "PlannedStage":
        return cls(strings=tuple(int(j) for j in d["strings"]), epochs=d["epochs"], until=d["until"],
                   hold=d["hold"], max_epochs=d["max_epochs"])


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run; saved beside it as ``config.json``, hashed into its store key.

    - ``kind``: ``"expose"`` (:func:`memlib.expose`: every training string for ``epochs`` epochs in
      batches of ``batch_size``, held-out strings at the epochs ``eval_every`` gives, optional
      ``probes``) or ``"schedule"`` (:func:`memlib.expose_schedule`: the ``stages`` one after another,
      each string measured against its own alphabet, ``reset_optimizer`` between stages).
    - ``stages``: the stages the loop runs; an ``expose`` run has exactly one (derived from ``epochs``,
      not saved).
    - ``train`` / ``test``: string records (``text``, ``alphabet``, ``probs``, ``entropy``, ...).
    - ``model_fingerprint``: the model's identity (weights, tokenizer); ``weights_dtype``,
      ``autocast`` (``"bf16"`` or None): the precision it trained in.
    - ``memlib_version``, ``run_format``: bumped when a run's meaning changes, so older runs are recomputed.
    - ``probes`` (``expose`` runs) and ``measurements`` (any run): what is measured inside the run besides its
      metrics (:class:`ProbeSpec`, :class:`Measurement`).
    - ``warmup`` (share of a stage's optimiser steps with a linear warm-up) and ``shuffle`` (batches in a new
      order every epoch): in the key only when given, so runs without them keep their keys.
    """

    kind: str
    model: str
    model_fingerprint: str
    weights_dtype: str
    autocast: str | None
    train: tuple
    test: tuple
    stages: tuple
    lr: float
    lr_schedule: str
    weight_decay: float
    max_grad_norm: float | None
    dropout: bool
    eval_every: object
    seed: int
    memlib_version: str
    run_format: int
    epochs: int | None = None
    batch_size: int | None = None
    reset_optimizer: bool = True
    probes: ProbeSpec | None = field(default=None)
    measurements: tuple = ()
    warmup: float = 0.0
    shuffle: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r} is not allowed: use one of {KINDS}")

    @property
    def is_schedule(self) -> bool:
        return self.kind == "schedule"

    @property
    def held_out_at_stage_starts(self) -> bool:
        """Whether held-out strings are also measured at the start of every stage (a schedule's rule; an
        ``expose`` run measures them only at the epochs of its evaluation schedule)."""
        return self.is_schedule

    @property
    def length(self) -> int:
        """Characters per string (all strings of a run have one length)."""
        return len(self.train[0]["text"])

    def alphabets(self, split: str) -> list[str]:
        """What each string of ``split`` has its alphabet metrics measured against: its own letters' alphabet
        in a schedule (stages may use disjoint alphabets), the union of all strings' letters otherwise."""
        strings = self.train if split == "train" else self.test
        if self.is_schedule:
            return [alphabet_of([d]) for d in strings]
        return [alphabet_of(self.train + self.test)] * len(strings)

    def to_dict(self) -> dict:
        """The JSON the run is saved and keyed by (one shape per ``kind``; expose runs keep the keys they had
        before the two kinds shared one class)."""
        common = {"model": self.model, "model_fingerprint": self.model_fingerprint, "weights_dtype": self.weights_dtype,
                  "autocast": self.autocast, "train": [dict(d) for d in self.train],
                  "test": [dict(d) for d in self.test], "lr": self.lr, "lr_schedule": self.lr_schedule,
                  "weight_decay": self.weight_decay, "max_grad_norm": self.max_grad_norm, "dropout": self.dropout,
                  "eval_every": _jsonable(self.eval_every), "seed": self.seed, "memlib_version": self.memlib_version,
                  "run_format": self.run_format}
        if self.measurements:  # runs without any keep the keys they had before measurements existed
            common["measurements"] = [{"name": m.name, **m.to_dict()} for m in self.measurements]
        if self.warmup:  # likewise warm-up and shuffled batches
            common["warmup"] = self.warmup
        if self.shuffle:
            common["shuffle"] = True
        if self.is_schedule:
            return {"kind": "schedule", **common, "stages": [s.to_dict() for s in self.stages],
                    "reset_optimizer": self.reset_optimizer}
        out = {**common, "epochs": self.epochs, "batch_size": self.batch_size}
        if self.probes is not None:  # runs without probes keep the keys they had before probes existed
            out["probes"] = self.probes.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        """The config :meth:`to_dict` gave (e.g. a stored run's ``config.json``); ValueError naming what is
        missing from any other dict."""
        need = {"model", "model_fingerprint", "weights_dtype", "autocast", "train", "test", "lr", "lr_schedule",
                "weight_decay", "max_grad_norm", "dropout", "eval_every", "seed", "memlib_version", "run_format"}
        need |= {"stages", "reset_optimizer"} if d.get("kind") == "schedule" else {"epochs", "batch_size"}
        missing = sorted(need - set(d))
        if missing:
            raise ValueError(f"a run configuration needs {missing}: this one has only {sorted(d)}")
        common = {k: d[k] for k in ("model", "model_fingerprint", "weights_dtype", "autocast", "lr", "lr_schedule",
                                    "weight_decay", "max_grad_norm", "dropout", "seed", "memlib_version", "run_format")}
        common.update(train=tuple(d["train"]), test=tuple(d["test"]), eval_every=d["eval_every"],
                      measurements=_measurements_from(d.get("measurements", [])), warmup=d.get("warmup", 0.0),
                      shuffle=d.get("shuffle", False))
        if d.get("kind") == "schedule":
            return cls(kind="schedule", stages=tuple(PlannedStage.from_dict(s) for s in d["stages"]),
                       reset_optimizer=d["reset_optimizer"], **common)
        stage = PlannedStage(strings=tuple(range(len(d["train"]))), epochs=d["epochs"])
        probes = ProbeSpec.from_dict(d["probes"]) if d.get("probes") is not None else None
        return cls(kind="expose", stages=(stage,), epochs=d["epochs"], batch_size=d["batch_size"], probes=probes,
                   **common)


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def per_model(value, model: str):
    """A preset value that may be given per model (a dict) or for all models at once."""
    if isinstance(value, dict):
        if model not in value:
            raise ValueError(f"no value for model {model!r} in {value}: add it or give one value for all models")
        return value[model]
    return value


def per_length(value, length: int):
    """A preset value that may be given per string length (a dict with integer keys, notebook 03's ``epochs``) or
    for all lengths at once (then possibly per model, :func:`per_model`)."""
    def as_length(k):  # an integer, or its digits (papermill hands dict keys on as strings)
        return k if isinstance(k, int) and not isinstance(k, bool) else int(k) if isinstance(k, str) and k.isdigit() else None

    if isinstance(value, dict) and value and all(as_length(k) is not None for k in value):
        by_length = {as_length(k): v for k, v in value.items()}
        if length not in by_length:
            raise ValueError(f"no value for length {length!r} in {value}: add it or give one value for all lengths")
        return by_length[length]
    return value
