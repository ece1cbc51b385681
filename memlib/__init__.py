"""memlib: measuring memorisation in causal LMs by repeated exposure to random strings.

A thin library behind the notebooks: random strings (:mod:`memlib.strings`), models
(:mod:`memlib.models`), the one training loop (:mod:`memlib.training`), the metrics
(:mod:`memlib.metrics`), the run store (:mod:`memlib.store`), grids of runs
(:mod:`memlib.sweep`), analyses (:mod:`memlib.phases`) and presets (:mod:`memlib.presets`).
"""

__version__ = "0.1.0"

from .training import ExposureConfig, Stage, environment, environment_line, eval_epochs, expose, expose_schedule
from .metrics import METRIC_COLUMNS, string_summary, token_metrics
from .models import LoadedModel, embedded_gguf_path, load_model
from .store import Run, RunStore, cache_dir, run_key
from .strings import RandomString, alphabet, distribution, entropy_bits, random_string, random_strings
from . import difficulty, hardware, phases, presets, sweep  # noqa: E402  (analyses and grids; plots/notebooks import on demand)

__all__ = [
    "__version__",
    "ExposureConfig",
    "LoadedModel",
    "METRIC_COLUMNS",
    "RandomString",
    "Run",
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
