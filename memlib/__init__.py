"""memlib: measuring memorisation in causal LMs by repeated exposure to random strings.

A thin library behind the notebooks, in two layers. Everything is a run: a model exposed to a schedule of strings.

**The core** (:data:`CORE`, :mod:`memlib.layers`) makes and keeps runs and knows no finding: random strings (:mod:`memlib.strings`), models
(:mod:`memlib.models`), what a run is (:mod:`memlib.config`), how to ask for one (:func:`expose`,
:func:`expose_schedule`: :mod:`memlib.training`), the one training loop (:mod:`memlib.loop`, with its hooks: held-out strings
:mod:`memlib.evaluation`, any :class:`Measurement`), the metrics
(:mod:`memlib.metrics`) and what a run's curves say (:mod:`memlib.milestones`), in-run measurements
(:mod:`memlib.probes`, :mod:`memlib.candidates`) and the field's measures built on them (:mod:`memlib.extraction`,
:mod:`memlib.exposure`, :mod:`memlib.membership`), the run store (:mod:`memlib.store`), grids of runs and processes
(:mod:`memlib.sweep`, :mod:`memlib.parallel`, :mod:`memlib.hardware`), statistics (:mod:`memlib.stats`), labels,
checks, checkpoints, the figure style (:mod:`memlib.figures`) and verdict words (:mod:`memlib.verdicts`).

**The findings** (:data:`FINDINGS`): one module per notebook, which plans its runs, tabulates them, draws its figures
and writes its verdict. A finding imports the core and never another finding (``tests/test_structure.py``).
Above both: the presets (:mod:`memlib.presets`) and the papermill runner (:mod:`memlib.notebooks`).
"""

from .version import __version__
from .layers import CORE, FINDINGS, TOP
from .config import Measurement, PlannedStage, ProbeSpec, RunConfig, measurement
from .training import Stage, eval_epochs, expose, expose_schedule, exposure_config, run, schedule_config
from .hardware import environment, environment_line
from .metrics import METRIC_COLUMNS, string_summary, token_metrics
from .embedded import embedded_gguf_path
from .models import LoadedModel, load_model
from .store import Run, RunStore, cache_dir, run_key
from .strings import RandomString, alphabet, distribution, entropy_bits, random_string, random_strings
from . import candidates, capacity, difficulty, hardware, phases, presets, sweep  # noqa: E402  (analyses and grids; figures/notebooks import on demand)

__all__ = [
    "__version__",
    "CORE",
    "FINDINGS",
    "TOP",
    "LoadedModel",
    "METRIC_COLUMNS",
    "RandomString",
    "PlannedStage",
    "Measurement",
    "measurement",
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
    "exposure_config",
    "load_model",
    "random_string",
    "random_strings",
    "run",
    "run_key",
    "schedule_config",
    "string_summary",
    "token_metrics",
]
