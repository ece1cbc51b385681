"""A notebook's parameters, typed and checked once.

Each finding declares its notebook's parameters once, as a frozen dataclass that subclasses
:class:`NotebookParams` (``memlib.phases.Params``, ...), and its presets as instances of it (``PRESETS``, a dict
``{name: Params(...)}``). A notebook's ``parameters`` cell names a preset and may override any field; ``None`` keeps
the preset's value. :meth:`NotebookParams.override` applies the overrides and checks every field against its type
before any work: an unknown name, or a value of the wrong kind, is refused with a message that names it and says
what is allowed. Notebooks and memlib read attributes (``P.models``).

Also here, what several findings ask of their parameters: a value given per model or per string length
(:func:`memlib.config.per_model`, :func:`memlib.config.per_length`), the lengths a model runs at
(:func:`model_lengths`) and where held-out strings would miss epochs a figure reads (:func:`heldout_gaps`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass

from .config import per_length, per_model

__all__ = ["NotebookParams", "model_lengths", "heldout_gaps", "doublings"]

_KIND_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "True or False", list: "a list",
               dict: "a dict", type(None): "None"}


def _describe(hint) -> str:
    """What a type hint allows, in words."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(dict.fromkeys(_describe(a) for a in args))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is not None:
        return _KIND_NAMES.get(origin, getattr(origin, "__name__", str(origin)))
    return _KIND_NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def _matches(value, hint) -> bool:
    """Whether ``value`` is of the kind ``hint`` names (unions, literals, lists and dicts with their items)."""
    if hint is typing.Any:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin is list:
        return isinstance(value, (list, tuple)) and (not args or all(_matches(v, args[0]) for v in value))
    if origin is dict:
        return isinstance(value, dict) and (not args or all(_matches(k, args[0]) and _matches(v, args[1])
                                                             for k, v in value.items()))
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is type(None):
        return value is None
    return isinstance(value, hint)


@dataclass(frozen=True)
class NotebookParams:
    """The base of every finding's parameters. A subclass sets ``notebook`` (a class variable: the notebook's name)
    and declares its fields with their types; its instances are its presets."""

    notebook: typing.ClassVar[str] = ""

    @classmethod
    def names(cls) -> list[str]:
        """The parameters a notebook may set, in their declared order."""
        return [f.name for f in dataclasses.fields(cls)]

    def override(self, **values) -> NotebookParams:
        """These parameters with every value of ``values`` that is not None put in; checked (:meth:`check`).
        ValueError for an unknown name, listing the allowed ones."""
        unknown = sorted(set(values) - set(self.names()))
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown} for {self.notebook}: allowed are "
                             f"{', '.join(sorted(self.names()))}")
        out = dataclasses.replace(self, **{k: v for k, v in values.items() if v is not None})
        out.check()
        return out

    def check(self) -> None:
        """ValueError naming the first field whose value is not of its declared kind, and what is allowed."""
        hints = typing.get_type_hints(type(self))
        for name in self.names():
            value = getattr(self, name)
            if not _matches(value, hints[name]):
                raise ValueError(f"{name}={value!r} is not allowed for {self.notebook}: use {_describe(hints[name])}")

    def pick(self, *names: str) -> dict:
        """``{name: value}`` of the fields ``names`` (what a sweep takes as keyword arguments)."""
        return {n: getattr(self, n) for n in names}

    def heldout_gaps(self) -> list[str]:
        """Where this notebook's runs would not evaluate their held-out strings at epochs its figures and verdict
        read (empty: none). A finding whose figures read held-out curves overrides it (:func:`heldout_gaps`)."""
        return []


def model_lengths(params, model: str) -> list:
    """The string lengths a model runs at: ``params.lengths`` (one list, or one per model, :func:`per_model`) where
    the notebook has several lengths, else its one ``params.length``."""
    if not hasattr(params, "lengths"):
        return [params.length]
    return list(per_model(params.lengths, model))


def doublings(last: int) -> list[tuple[int, int]]:
    """Epoch 0, then [1, 1], [2, 3], [4, 7], ... up to ``last``: where a curve that moves early is sampled."""
    spans, lo = [(0, 0)], 1
    while lo <= last:
        spans.append((lo, min(2 * lo - 1, last)))
        lo *= 2
    return spans


def heldout_gaps(params, *, every_doubling: bool) -> list[str]:
    """Where the runs of ``params`` (fields ``models``, optional ``compare_models``, ``length`` or ``lengths``,
    ``epochs``, ``eval_every``, optional ``n_train_strings``, ``n_test_strings``) would not evaluate their held-out
    strings: with ``every_doubling``, epoch 0, the last and at least one evaluation in every doubling of the epoch
    count (1, 2-3, 4-7, ...: curves that move while the distribution is learnt, early for a pretrained model and late
    for random weights); otherwise epochs 0 and the last."""
    from .training import eval_epochs

    gaps = []
    for model in dict.fromkeys(params.models + getattr(params, "compare_models", [])):
        for length in model_lengths(params, model):
            at = f" at {length} characters" if hasattr(params, "lengths") else ""
            epochs = per_model(per_length(params.epochs, length), model)
            tokens = length + 1  # BOS and the characters: what the "auto" schedule weighs
            done = set(eval_epochs(epochs, params.eval_every,
                                   train_tokens=getattr(params, "n_train_strings", 1) * tokens,
                                   test_tokens=params.n_test_strings * tokens))
            if every_doubling:
                for lo, hi in doublings(epochs):
                    if not done & set(range(lo, hi + 1)):
                        gaps.append(f"{model}: no held-out evaluation at epochs {lo}-{hi} of 0-{epochs}" if hi > lo else
                                    f"{model}: no held-out evaluation at epoch {lo} of 0-{epochs}")
            else:
                missing = sorted({0, epochs} - done)
                if missing:
                    gaps.append(f"{model}{at}: no held-out evaluation at epochs {missing} of 0-{epochs}")
    return gaps
