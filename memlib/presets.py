"""Presets: what each notebook runs at each size. Each finding declares its parameters (``Params``, a
:class:`memlib.parameters.NotebookParams`) and its presets (``PRESETS``) in its own module; this module finds them
by the notebook's name.

* ``smoke``: seconds a notebook, tiny models (and SmolLM2 with its random twin in notebook 01); what the
  test suite executes.
* ``default``: what ``make reproduce`` runs, sized to about 6 minutes a notebook on a 2-core CPU, with the
  embedded pretrained SmolLM2-135M (notebook 06: tiny random-weight models of five sizes; measured times:
  benchmarks/RESULTS.md).
* ``paper``: the paper's setup (Pythia, Phi, Llama-2 from the hub; 1,024 characters,
  100 epochs, lr 1e-5 with linear decay and gradient clipping at 1.0 as in HF ``Trainer``,
  5 training strings, 10 held-out strings); needs GPUs and network.
* ``cpu-long`` (notebooks 01, 02, 03 and 06; ``make reproduce-long``): what does not fit the default's
  budget. Notebook 01's pretrained / random contrast with the random-weight twin trained for 150 epochs
  at its own rate for that length (8 seeds); two contrasting settings of notebook 02 (26 letters at 2 bits
  and uniform) at the paper's hyper-parameters (1,024 characters, 100 epochs, lr 1e-5 with linear decay,
  clipping at 1.0) on the embedded SmolLM2-135M, one training string, one seed; notebook 03 at 512 and
  1,024 characters, at SmolLM2's own rate (1e-4, constant), one seed; notebook 06 at larger model sizes
  and more epochs.

A notebook's ``parameters`` cell names a preset and may override any of its parameters; ``None`` means "keep the
preset's value". ``resolve`` refuses unknown notebooks, presets and parameters, and values of the wrong kind, with a
message that lists what is allowed. Presets that run on CPUs set ``precision="fp32"``, so that no result depends on
whether the CPU has native bf16 (a CPU with native bf16 may ask for "bf16" or "auto"); the paper presets ``"auto"``
(bf16 autocast on GPUs with bf16, as HF Trainer's bf16=True).
"""

from __future__ import annotations

import importlib
import warnings

from .layers import FINDINGS
from .parameters import NotebookParams

__all__ = ["PRESETS", "finding_of", "resolve", "heldout_gaps", "check_heldout", "store_label"]


def finding_of(notebook: str):
    """The finding module of ``notebook`` (``"01_dynamics"``: :mod:`memlib.phases`), by its number in
    ``memlib.FINDINGS``; ValueError naming the notebooks there are."""
    module = FINDINGS.get(notebook[:2]) if isinstance(notebook, str) else None
    found = importlib.import_module(f"memlib.{module}") if module else None
    if found is None or found.Params.notebook != notebook:
        raise ValueError(f"notebook {notebook!r} has no presets: use one of {', '.join(PRESETS)}")
    return found


# {notebook: {preset: Params}}: every finding's presets, by notebook name.
PRESETS: dict[str, dict[str, NotebookParams]] = {
    m.Params.notebook: m.PRESETS for m in (importlib.import_module(f"memlib.{name}") for name in FINDINGS.values())}


def resolve(notebook: str, preset: str, **overrides) -> NotebookParams:
    """The preset's parameters with the non-None ``overrides`` applied, checked (:meth:`NotebookParams.override`)."""
    table = finding_of(notebook).PRESETS
    if preset not in table:
        raise ValueError(f"preset={preset!r} is not allowed for {notebook}: use one of {', '.join(table)}")
    return table[preset].override(**overrides)


# Presets whose runs a notebook records in the run store under its own name (what the explorer's notebook
# filter lists). Another preset's runs (cpu-long) are recorded as "<notebook>.<preset>", so that notebook 00
# tells them apart from the default preset's runs of the same notebook.
_OWN_NAME = ("smoke", "default", "paper")


def store_label(notebook: str, preset: str) -> str:
    """The name under which ``notebook`` run at ``preset`` records its runs (``RunStore(notebook=...)``)."""
    return notebook if preset in _OWN_NAME else f"{notebook}.{preset}"


def heldout_gaps(notebook: str, params: NotebookParams) -> list[str]:
    """Where a notebook's runs would not evaluate their held-out strings at epochs its figures and verdict read
    them (empty: none): its parameters' own :meth:`~memlib.parameters.NotebookParams.heldout_gaps`."""
    finding_of(notebook)
    return params.heldout_gaps()


def check_heldout(notebook: str, params: NotebookParams) -> list[str]:
    """:func:`heldout_gaps`, all in one warning (parameters that leave gaps still run: the figures then
    interpolate over them)."""
    gaps = heldout_gaps(notebook, params)
    if gaps:
        warnings.warn(f"{notebook}: {'; '.join(gaps)}; its figures interpolate there", stacklevel=2)
    return gaps
