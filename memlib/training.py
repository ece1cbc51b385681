"""Repeated exposure, the library's entry points: :func:`expose` (a model fine-tuned on strings, epoch
after epoch) and :func:`expose_schedule` (stages of strings one after another; ``expose`` is its one-stage
case). Each checks every argument before any work, describes the run as one
:class:`memlib.config.RunConfig`, returns the stored run of that config if there is one, and otherwise
trains it with the loop of :mod:`memlib.loop` and stores it.

Per epoch, the training strings are shown once (by default all in one batch: one AdamW step per epoch).
The forward pass that computes the training loss also gives that epoch's train metrics, so the train
metrics at epoch ``e`` are those of the model after ``e`` epochs, measured before the next update. Dropout
is off by default (``dropout=False``), so that forward pass measures the model exactly as an evaluation
pass would; with ``dropout=True`` (as HF ``Trainer`` trains) the train metrics carry its noise. With
``batch_size`` smaller than the number of training strings, an epoch takes several steps and batch ``j``
is measured after ``j`` of that epoch's updates. Held-out (test) strings are evaluated with a no-grad pass
at the epochs :func:`eval_epochs` gives (by default a log-spaced schedule that keeps their cost within 10%
of the training compute); one last no-grad pass measures the train strings after the final update. Epoch
``e`` in the results always means "after ``e`` epochs of training" (0 = the loaded model).
"""

from __future__ import annotations

import numbers
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from . import loop
from .checkpoint import Checkpoint
from .checks import check_number
from .config import PlannedStage, RunConfig, check_measurements
from .evaluation import HeldOut, check_eval_every, check_schedule_eval_every, eval_epochs, stored_eval_every
from .hardware import environment, resolve_precision
from .loop import progress_bar
from .models import LoadedModel
from .parallel import all_agree, is_main_process
from .probes import Prober, check_candidates, check_probes
from .store import Run, RunStore, run_key
from .version import __version__
from .strings import RandomString, alphabet_of, as_string_dict

__all__ = ["Stage", "exposure_config", "schedule_config", "run", "check_hparams", "check_schedule", "check_schedule_eval_every", "eval_epochs",
           "expose", "expose_schedule", "run_hooks", "progress_bar", "progress_enabled", "LR_SCHEDULES",
           "RUN_FORMAT"]

LR_SCHEDULES = ("constant", "linear", "cosine")
# Part of every run's key: bump when the loop or the recorded metrics change meaning or columns,
# so that runs cached by an older memlib are recomputed rather than silently reused.
RUN_FORMAT = 3


def _check_strings(name: str, strings) -> list[dict]:
    if isinstance(strings, (str, RandomString)):
        strings = [strings]
    out = [as_string_dict(s) for s in strings]
    for d in out:
        bad = sorted(set(d["text"]) - set("abcdefghijklmnopqrstuvwxyz"))
        if not d["text"] or bad:
            raise ValueError(f"{name} string {d['text'][:20]!r} is not allowed: use non-empty strings of letters a-z"
                             + (f" (found {bad})" if bad else ""))
    lengths = sorted({len(d["text"]) for d in out})
    if len(lengths) > 1:
        raise ValueError(f"{name}_strings have lengths {lengths}: all strings of a split must have one length")
    texts = [d["text"] for d in out]
    if len(set(texts)) != len(texts):
        twice = next(t for t in texts if texts.count(t) > 1)
        raise ValueError(f"{name} strings list {twice[:20]!r} twice: give each string once")
    return out


def _check_held_out(train: list[dict], test: list[dict]) -> None:
    """Held-out strings must never be trained on."""
    texts = {d["text"] for d in train}
    for d in test:
        if d["text"] in texts:
            raise ValueError(f"test string {d['text'][:20]!r} is also a training string: held-out strings must be "
                             f"strings never trained on")


def check_hparams(*, epochs=None, lr=None, seed=0, weight_decay=0.0, eval_every="auto", lr_schedule="constant",
                  batch_size=None, max_grad_norm=None, warmup=0.0, shuffle=False) -> None:
    """Raise ValueError naming the first bad hyper-parameter (``epochs``, ``lr``, ``batch_size`` and
    ``max_grad_norm`` may be None: not given, so not checked)."""
    if epochs is not None:
        check_number("epochs", epochs, int, 1)
    if lr is not None:
        check_number("lr", lr, (int, float), 0, allow_equal=False)
    check_number("seed", seed, int, 0)
    check_number("weight_decay", weight_decay, (int, float), 0)
    check_eval_every(eval_every)
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule={lr_schedule!r} is not allowed: use one of {', '.join(LR_SCHEDULES)}")
    if batch_size is not None:
        check_number("batch_size", batch_size, int, 1)
    if max_grad_norm is not None:
        check_number("max_grad_norm", max_grad_norm, float, 0, allow_equal=False)
    if isinstance(warmup, bool) or not isinstance(warmup, (int, float)) or not 0 <= warmup <= 0.5:
        raise ValueError(f"warmup={warmup!r} is not allowed: use the share of the optimiser steps warmed up, "
                         f"from 0 to 0.5")
    if not isinstance(shuffle, bool):
        raise ValueError(f"shuffle={shuffle!r} is not allowed: use True or False")


def progress_enabled(progress=None) -> bool:
    """``progress`` if given, else on unless ``MEMLIB_PROGRESS`` is 0/false/off."""
    if progress is None:
        return os.environ.get("MEMLIB_PROGRESS", "1").lower() not in ("0", "false", "off")
    return bool(progress)


def _check_writable(store: RunStore | None) -> None:
    """Refuse a run store whose folder cannot be written, before any training."""
    if store is not None:
        store.check_writable()


def _resolve_store(store) -> RunStore | None:
    if store is False or store is None:
        return None
    if store is True:
        return RunStore()
    if isinstance(store, RunStore):
        return store
    return RunStore(store)


def exposure_config(
    model: LoadedModel,
    train_strings,
    *,
    test_strings=(),
    epochs: int,
    lr: float | None = None,
    seed: int = 0,
    lr_schedule: str = "constant",
    weight_decay: float = 0.0,
    max_grad_norm: float | None = None,
    dropout: bool = False,
    batch_size: int | None = None,
    eval_every="auto",
    precision=None,
    probes=None,
    measurements=(),
    warmup: float = 0.0,
    shuffle: bool = False,
) -> RunConfig:
    """The :class:`~memlib.config.RunConfig` of fine-tuning all parameters of ``model`` on ``train_strings`` for
    ``epochs`` epochs, every argument checked (the one place a run's description is checked), nothing trained:
    its key is ``memlib.run_key(config.to_dict())``; :func:`run` trains it (or loads it from the store).

    - ``lr``: AdamW learning rate (betas 0.9/0.999, eps 1e-8, ``weight_decay`` 0 as in HF
      ``Trainer``); default ``model.default_lr`` (1e-4 SmolLM2-135M, 1e-3 tiny models, 1e-5 hub
      models as in the paper). ``lr_schedule``: ``"constant"``, ``"linear"`` decay to 0 (the
      ``Trainer`` default) or ``"cosine"`` decay to 0, after ``warmup`` (share of the run's optimiser steps, 0 to
      0.5; default 0) steps of linear warm-up. ``max_grad_norm``: clip the gradient norm (``Trainer`` clips at 1.0;
      default None, no clipping). ``dropout``: train with the model's dropout on (default off).
    - ``batch_size``: training strings per optimiser step (default: all of them, one step per epoch);
      ``shuffle``: batches in a new random order every epoch (drawn from the run's seed and the epoch; default
      off: the strings in their order every epoch).
    - ``eval_every``: when held-out strings are evaluated (see :func:`eval_epochs`): ``"auto"``
      (default; log-spaced, within 10% of the training compute, at least the last epoch), an
      integer ``k`` (epoch 0, every ``k`` epochs and the last; ``1`` = every epoch), or a list of
      epochs (those the run reaches, and the last). Train strings are measured at every epoch
      either way, from the training forward pass itself.
    - ``precision``: ``"fp32"``, ``"bf16"`` (fp32 weights, forward and backward under bf16 autocast),
      ``"auto"`` (bf16 where the device has it natively: :mod:`memlib.hardware`) or ``None`` (the default:
      bf16 on CUDA, fp32 on any CPU). The run's key records what it resolves to (``autocast``).
    - ``probes``: a :class:`memlib.ProbeSpec`: recall of each training string under changed
      contexts, measured on the weights inside the run at the epochs ``probes.at`` names (the first
      epoch with mean train accuracy ``>= probes.threshold``, the last, or given epochs) and stored
      with the run (``run.probe(at, string)``); no weights are written. Part of the run's key: a
      stored run without these probes is not returned for a request with them. Needs one optimiser
      step per epoch (``batch_size`` = all training strings).
    - ``measurements``: further in-run measurements (:class:`memlib.config.Measurement` s, each with its hook:
      :class:`memlib.loop.Hook`), part of the run's key, their arrays stored with the run.
    """
    if not isinstance(model, LoadedModel):
        raise TypeError(f"model must be a memlib LoadedModel (from memlib.load_model), not {type(model).__name__}")
    train = _check_strings("train", train_strings)
    if test_strings is None or isinstance(test_strings, (str, RandomString)) or not hasattr(test_strings, "__len__"):
        raise ValueError(f"test_strings={test_strings!r} is not allowed: use a list of strings (or () for none)")
    test = _check_strings("test", test_strings) if len(test_strings) else []
    if not train:
        raise ValueError("train_strings is empty: give at least one string")
    _check_held_out(train, test)
    check_hparams(epochs=epochs, lr=lr, seed=seed, weight_decay=weight_decay, eval_every=eval_every,
                  lr_schedule=lr_schedule, batch_size=batch_size, max_grad_norm=max_grad_norm, warmup=warmup,
                  shuffle=shuffle)
    if not isinstance(dropout, bool):
        raise ValueError(f"dropout={dropout!r} is not allowed: use True or False")
    lr = model.default_lr if lr is None else lr
    batch_size = len(train) if batch_size is None else batch_size
    probes = check_probes(probes, len(train[0]["text"]), epochs, batch_size, len(train))
    check_candidates(probes, train)
    model.check_length(len(train[0]["text"]), what="training strings")
    if test:
        model.check_length(len(test[0]["text"]), what="held-out strings")
    if probes is not None and probes.shifts:
        model.check_length(len(train[0]["text"]), extra=max(probes.shifts), what="the shift probes")
    amp = resolve_precision(precision, model.device)
    model.letter_ids(alphabet_of(train + test))  # refuses a tokenizer that splits a letter, before any work
    measurements = check_measurements(measurements)
    return _checked(RunConfig(
        kind="expose", **_common(model, amp, train, test, lr, lr_schedule, weight_decay, max_grad_norm, dropout, seed),
        stages=(PlannedStage(strings=tuple(range(len(train))), epochs=int(epochs)),), epochs=int(epochs),
        batch_size=min(int(batch_size), len(train)), eval_every=stored_eval_every(eval_every, epochs), probes=probes,
        measurements=measurements, warmup=float(warmup), shuffle=shuffle))


def expose(model: LoadedModel, train_strings, *, store=True, progress=None, checkpoint_every: int | None = None,
           **settings) -> Run:
    """Fine-tune all parameters of ``model`` on ``train_strings``: :func:`run` of :func:`exposure_config` (its
    ``settings``: ``test_strings``, ``epochs``, ``lr``, ``seed``, ``lr_schedule``, ``weight_decay``,
    ``max_grad_norm``, ``dropout``, ``batch_size``, ``eval_every``, ``precision``, ``probes``, ``measurements``,
    ``warmup``, ``shuffle``).

    Returns a :class:`~memlib.store.Run`. ``model`` itself is left as loaded: training starts from
    its loaded weights and they are put back afterwards, so one loaded model serves many runs.

    - ``store``: ``True`` (the default :class:`RunStore`), a folder, a ``RunStore``, or ``False``.
      A stored run with the same configuration is loaded instead of trained.
    - ``progress``: a text progress bar over epochs (default on unless ``MEMLIB_PROGRESS=0``),
      ``False``, or an existing tqdm bar to advance by one per epoch (sweeps share one bar).
    - ``checkpoint_every``: keep the run's state in progress (weights, optimiser, random generator,
      measurements so far) in the store every ``N`` epochs (:mod:`memlib.checkpoint`); the same
      call after a kill resumes from it, with metrics bit-identical to an uninterrupted run on the
      CPU. Removed once the run is stored. Default None (off); not part of the run's key.
    """
    return run(model, exposure_config(model, train_strings, **settings), store=store, progress=progress,
               checkpoint_every=checkpoint_every)


@dataclass(frozen=True)
class Stage:
    """One stage of a schedule (see :func:`expose_schedule`): ``strings`` (one string or a list of
    strings over one alphabet) trained for ``epochs`` epochs, or ``until`` their mean accuracy is
    ``>= until`` for ``hold`` epochs in a row, for at most ``max_epochs`` (then the stage ends unmemorised:
    censored). Give ``epochs`` or ``until``, not both."""

    strings: object
    epochs: int | None = None
    until: float | None = None
    hold: int = 2
    max_epochs: int | None = None


def _check_stage(k: int, stage) -> tuple[list[dict], dict]:
    """The stage's strings and its plan entry (without string indices); ValueError naming any bad value."""
    name = f"stages[{k}]"
    if not isinstance(stage, Stage):
        raise ValueError(f"{name}={stage!r} is not allowed: use memlib.Stage(strings, epochs=N) or "
                         f"memlib.Stage(strings, until=threshold, max_epochs=N)")
    s = stage.strings
    if not isinstance(s, (str, RandomString, list, tuple)) or (isinstance(s, (list, tuple)) and not s):
        raise ValueError(f"{name} has strings={s!r}: give one string or a non-empty list of strings")
    strings = _check_strings(name, s)
    if len({alphabet_of([d]) for d in strings}) > 1:
        raise ValueError(f"{name} mixes alphabets {sorted({alphabet_of([d]) for d in strings})}: the strings of one "
                         f"stage must share one alphabet (put strings over other letters in a stage of their own)")
    if (stage.epochs is None) == (stage.until is None):
        raise ValueError(f"{name} has epochs={stage.epochs!r} and until={stage.until!r}: give exactly one of them "
                         f"(a fixed length, or an accuracy threshold with max_epochs)")
    if stage.epochs is not None:
        check_number(f"{name} epochs", stage.epochs, int, 1)
        if stage.max_epochs is not None or stage.hold != Stage.hold:
            raise ValueError(f"{name} has epochs={stage.epochs!r} with hold={stage.hold!r}, max_epochs={stage.max_epochs!r}: "
                             f"hold and max_epochs belong to until stages; a fixed stage takes only epochs")
        return strings, {"epochs": int(stage.epochs), "until": None, "hold": None, "max_epochs": None}
    u = stage.until
    if isinstance(u, bool) or not isinstance(u, numbers.Real) or not (0 < u <= 1):
        raise ValueError(f"{name} until={u!r} is not allowed: use an accuracy threshold in (0, 1]")
    check_number(f"{name} hold", stage.hold, int, 1)
    if stage.max_epochs is None:
        raise ValueError(f"{name} has until={u!r} but max_epochs=None: give the most epochs the stage may take "
                         f"(it ends there, censored, if the threshold is never held)")
    check_number(f"{name} max_epochs", stage.max_epochs, int, 1)
    if stage.hold > stage.max_epochs + 1:
        raise ValueError(f"{name} hold={stage.hold} is not allowed with max_epochs={stage.max_epochs}: a stage measures "
                         f"at most max_epochs + 1 = {stage.max_epochs + 1} epochs, so use hold <= {stage.max_epochs + 1}")
    return strings, {"epochs": None, "until": float(u), "hold": int(stage.hold), "max_epochs": int(stage.max_epochs)}


def check_schedule(stages, test_strings, *, lr, seed, reset_optimizer, lr_schedule, weight_decay, max_grad_norm,
                    dropout, eval_every) -> tuple[list[dict], list[dict], list[dict]]:
    """Everything :func:`expose_schedule` checks before any work: ``(strings, planned stages, test)``, or a
    ValueError naming the first bad value."""
    if isinstance(stages, Stage) or not isinstance(stages, (list, tuple)) or not stages:
        raise ValueError(f"stages={stages!r} is not allowed: use a non-empty list of memlib.Stage")
    strings, plan = [], []
    for k, stage in enumerate(stages):
        stage_strings, entry = _check_stage(k, stage)
        idx = []
        for d in stage_strings:  # a string is its text: a later stage naming it again re-trains the same string
            texts = [s["text"] for s in strings]
            if d["text"] not in texts:
                strings.append(d)
                texts.append(d["text"])
            idx.append(texts.index(d["text"]))
        plan.append(PlannedStage(strings=tuple(idx), **entry))
    lengths = sorted({len(d["text"]) for d in strings})
    if len(lengths) > 1:
        raise ValueError(f"the stages' strings have lengths {lengths}: all strings of a schedule must have one length")
    if test_strings is None or isinstance(test_strings, (str, RandomString)) or not hasattr(test_strings, "__len__"):
        raise ValueError(f"test_strings={test_strings!r} is not allowed: use a list of strings (or () for none)")
    test = _check_strings("test", test_strings) if len(test_strings) else []
    _check_held_out(strings, test)
    check_hparams(lr=lr, seed=seed, weight_decay=weight_decay, lr_schedule=lr_schedule, max_grad_norm=max_grad_norm)
    check_schedule_eval_every(eval_every)
    for name, flag in (("reset_optimizer", reset_optimizer), ("dropout", dropout)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name}={flag!r} is not allowed: use True or False")
    if dropout and any(p.until is not None for p in plan):
        raise ValueError("dropout=True is not allowed with until stages: their stop rule and the trained strings' "
                         "measurements come from the training pass, which dropout makes noisy")
    return strings, tuple(plan), test


def schedule_config(
    model: LoadedModel,
    stages,
    *,
    test_strings=(),
    lr: float | None = None,
    seed: int = 0,
    reset_optimizer: bool = True,
    lr_schedule: str = "constant",
    weight_decay: float = 0.0,
    max_grad_norm: float | None = None,
    dropout: bool = False,
    eval_every=1,
    precision=None,
    measurements=(),
) -> RunConfig:
    """The :class:`~memlib.config.RunConfig` of exposing ``model`` to a sequence of :class:`Stage` s, one after
    another, on one time axis, every argument checked, nothing trained (:func:`expose_schedule` runs it).

    One run in the store, keyed by the whole schedule. Its training strings
    (``run.config.train``) are the distinct strings of all stages, in order of first use; a
    stage that repeats an earlier string (re-learning) trains the same index again. Every string is
    measured on one epoch axis (epoch ``e`` = after ``e`` epochs of the whole schedule): the strings
    of the running stage at every epoch, from the training forward pass as in :func:`expose`; the
    others and the held-out ``test_strings`` with one batched no-grad pass at the start of every stage,
    at the end, and at the epochs ``eval_every`` names (an integer ``k``: every ``k``-th epoch, ``1``
    = every epoch; or a list of epochs). ``run.metrics`` has the columns of :func:`expose` plus
    ``stage`` and ``trained``; ``run.arrays["stage_bounds"]`` gives the epoch each stage starts at
    (and, last, the end), ``run.arrays["stage_memorised"]`` the stage epoch from which an ``until``
    stage held its threshold (-1: never, or a fixed stage), and ``train_measured`` which strings were
    measured at which epoch. Each string's alphabet metrics are measured against its own alphabet.

    - ``reset_optimizer``: a fresh AdamW state for every stage (default, as separate fine-tuning runs
      would be) or one state kept throughout. ``lr_schedule="linear"`` decays within each stage, over
      its ``epochs`` (``max_epochs`` for an ``until`` stage).
    - All strings of a schedule have one length; held-out strings may not equal a training string.
    - Every stage trains its strings in one batch (one optimiser step per epoch).
    - The other settings (``measurements`` too) are those of :func:`exposure_config`; a one-stage schedule of
      ``epochs`` epochs gives the same metrics as ``expose`` with ``eval_every=1``.
    """
    if not isinstance(model, LoadedModel):
        raise TypeError(f"model must be a memlib LoadedModel (from memlib.load_model), not {type(model).__name__}")
    strings, plan, test = check_schedule(stages, test_strings, lr=lr, seed=seed, reset_optimizer=reset_optimizer,
                                          lr_schedule=lr_schedule, weight_decay=weight_decay,
                                          max_grad_norm=max_grad_norm, dropout=dropout, eval_every=eval_every)
    lr = model.default_lr if lr is None else lr
    model.check_length(len(strings[0]["text"]), what="the schedule's strings")
    if test:
        model.check_length(len(test[0]["text"]), what="held-out strings")
    amp = resolve_precision(precision, model.device)
    model.letter_ids(alphabet_of(strings + test))  # refuses a tokenizer that splits a letter, before any work
    measurements = check_measurements(measurements)
    return _checked(RunConfig(
        kind="schedule", **_common(model, amp, strings, test, lr, lr_schedule, weight_decay, max_grad_norm, dropout, seed),
        stages=plan, reset_optimizer=reset_optimizer, measurements=measurements,
        eval_every=sorted({int(e) for e in eval_every}) if isinstance(eval_every, (list, tuple)) else int(eval_every)))


def _checked(config: RunConfig) -> RunConfig:
    for m in config.measurements:  # each measurement against the whole run, before any work
        m.check(config)
    return config


def expose_schedule(model: LoadedModel, stages, *, store=True, progress=None, checkpoint_every: int | None = None,
                    **settings) -> Run:
    """Expose ``model`` to a sequence of :class:`Stage` s: :func:`run` of :func:`schedule_config` (its
    ``settings``: ``test_strings``, ``lr``, ``seed``, ``reset_optimizer``, ``lr_schedule``, ``weight_decay``,
    ``max_grad_norm``, ``dropout``, ``eval_every``, ``precision``, ``measurements``); ``store``, ``progress`` and
    ``checkpoint_every`` as in :func:`expose`."""
    return run(model, schedule_config(model, stages, **settings), store=store, progress=progress,
               checkpoint_every=checkpoint_every)


def _common(model: LoadedModel, amp, train, test, lr, lr_schedule, weight_decay, max_grad_norm, dropout, seed) -> dict:
    """The fields of a :class:`RunConfig` that both kinds of run fill the same way, from checked arguments."""
    return dict(model=model.name, model_fingerprint=model.fingerprint,
                weights_dtype=str(model.dtype).replace("torch.", ""), autocast=amp, train=tuple(train),
                test=tuple(test), lr=float(lr), lr_schedule=lr_schedule, weight_decay=float(weight_decay),
                max_grad_norm=None if max_grad_norm is None else float(max_grad_norm), dropout=dropout,
                seed=int(seed), memlib_version=__version__, run_format=RUN_FORMAT)


def _check_checkpoint_every(checkpoint_every, store, model: LoadedModel) -> None:
    if checkpoint_every is None:
        return
    check_number("checkpoint_every", checkpoint_every, int, 1)
    if store is None:
        raise ValueError(f"checkpoint_every={checkpoint_every!r} is not allowed with store=False: checkpoints are kept "
                         f"in the run store (give store=True or a folder)")
    if model.sharded:
        raise ValueError(f"checkpoint_every={checkpoint_every!r} is not allowed for a model sharded over processes")


def run(model: LoadedModel, config: RunConfig, *, store=True, progress=None, checkpoint_every: int | None = None) -> Run:
    """The run ``config`` describes (:func:`exposure_config`, :func:`schedule_config`): loaded from the store if it
    is there, else trained (by :func:`memlib.loop.train`) and stored.

    - ``store``: ``True`` (the default :class:`RunStore`), a folder, a ``RunStore``, or ``False``.
    - ``progress``: a text progress bar over epochs (default on unless ``MEMLIB_PROGRESS=0``), ``False``, or an
      existing tqdm bar to advance by one per epoch (sweeps share one bar).
    - ``checkpoint_every``: keep the run's state in progress in the store every ``N`` epochs (see :func:`expose`)."""
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a memlib RunConfig (from exposure_config or schedule_config), not "
                        f"{type(config).__name__}")
    store = _resolve_store(store)
    _check_checkpoint_every(checkpoint_every, store, model)
    try:
        key = run_key(config.to_dict())  # also proves the configuration can be saved, before any work
    except (TypeError, ValueError) as e:
        raise ValueError(f"the run configuration cannot be saved as JSON ({e}): check the strings' fields") from e
    if store is not None:
        cached = store.load(key)
        if model.sharded and not all_agree(cached is not None):  # sharded processes train together or not at all
            cached = None
        if cached is not None:
            if checkpoint_every is not None:  # a kill between storing the run and removing its checkpoint
                Checkpoint(store, key, checkpoint_every).remove()
            return cached
    if store is not None:  # before training: a run that cannot be stored is refused, not lost at its end
        problem = None
        if not model.sharded or is_main_process():
            try:
                _check_writable(store)
            except ValueError as e:
                problem = e
        if model.sharded and not all_agree(problem is None):  # every process stops, none waits for the others
            raise problem or ValueError(f"run store {store.root} cannot be written by the first process")
        if problem is not None:
            raise problem

    t0 = time.perf_counter()
    try:
        checkpoint = None if checkpoint_every is None else Checkpoint(store, key, checkpoint_every)
        bar = progress if hasattr(progress, "update") else progress_enabled(progress)
        records = loop.train(model, config, bar, checkpoint, run_hooks(model, config))
    finally:
        model.restore()
        model.model.eval()
    done = loop.to_run(config, records)
    bad = done.metrics[~np.isfinite(done.metrics.loss.to_numpy(dtype=float))]
    if len(bad):  # e.g. weights that became NaN at the last update, seen only by the final measurement
        r = bad.iloc[0]
        raise FloatingPointError(f"the loss of {r.split} string {r.string} became {r.loss} at epoch {r.epoch} (model "
                                 f"{model.name}, lr {config.lr}, seed {config.seed}): nothing is stored; "
                                 f"try a lower lr or max_grad_norm=1.0")
    done.meta = {
        **environment(str(model.device)),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - t0,
        "n_params": model.n_params,
        "alphabet": alphabet_of(config.train + config.test),
        "weights_dtype": config.weights_dtype,
        "autocast": config.autocast or "none",
        "process": f"{os.environ.get('RANK', '0')}/{os.environ.get('WORLD_SIZE', '1')}",  # rank/world when launched
    }
    if "resumed_from" in records:
        done.meta["resumed_from_epoch"] = int(records["resumed_from"])
    if store is not None and (not model.sharded or is_main_process()):
        store.save(done)
    if checkpoint is not None:
        checkpoint.remove()
    return done


def run_hooks(model: LoadedModel, config: RunConfig) -> list[loop.Hook]:
    """What the run ``config`` describes measures inside it, as the loop's hooks: its held-out schedule, its
    probes, and each of its measurements."""
    hooks = [HeldOut(config, model)]
    if config.probes is not None:
        hooks.append(Prober(model, config))
    return hooks + [m.hook(model, config) for m in config.measurements]


