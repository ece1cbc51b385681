"""memlib: measuring memorisation in causal LMs by repeated exposure to random strings.

A thin library behind the notebooks. Everything is a run: a model exposed to a schedule of strings.
Random strings (:mod:`memlib.strings`), models (:mod:`memlib.models`), what a run is
(:mod:`memlib.config`), how to ask for one (:func:`expose`, :func:`expose_schedule`: :mod:`memlib.training`),
the one training loop (:mod:`memlib.loop`), the metrics (:mod:`memlib.metrics`), the run store
(:mod:`memlib.store`), grids of runs (:mod:`memlib.sweep`), presets (:mod:`memlib.presets`), and one
analysis module per finding (:mod:`memlib.phases`, :mod:`memlib.difficulty`, :mod:`memlib.probes`,
:mod:`memlib.sequential`, :mod:`memlib.privacy`), whose verdict functions write what the notebooks print.
"""

__version__ = "0.1.0"

from .config import PlannedStage, ProbeSpec, RunConfig
from .training import Stage, eval_epochs, expose, expose_schedule
from .hardware import environment, environment_line
from .metrics import METRIC_COLUMNS, string_summary, token_metrics
from .models import LoadedModel, embedded_gguf_path, load_model
from .store import Run, RunStore, cache_dir, run_key
from .strings import RandomString, alphabet, distribution, entropy_bits, random_string, random_strings
from . import candidates, capacity, difficulty, hardware, phases, presets, sweep  # noqa: E402  (analyses and grids; plots/notebooks import on demand)

__all__ = [
    "__version__",
    "LoadedModel",
    "METRIC_COLUMNS",
    "RandomString",
    "PlannedStage",
    "ProbeSpec",
    "Run",
    "RunConfig",
    "RunStore",
    "Stage",
    "alphabet",
    "cache_dir",
    "distribution",
    "embedded_gguf_path",
    "entropy_bits",
    "environment",
    "environment_line",
    "eval_epochs",
    "expose",
    "expose_schedule",
    "load_model",
    "random_string",
    "random_strings",
    "run_key",
    "string_summary",
    "token_metrics",
]
