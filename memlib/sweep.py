"""Grids of runs: models x string settings x seeds, each run cached in the store.

Runs already in the store are loaded, not trained, so an interrupted sweep re-executed with
the same parameters trains only what is missing. One text progress bar counts epochs over the
whole sweep.

Started as several processes (``python -m memlib.notebooks --processes N``, or a launcher such as
accelerate: see :mod:`memlib.parallel`), every process builds the same plan, trains its share of it into
the shared store and returns the whole list, the same as a serial sweep.
"""

from __future__ import annotations

import gc
import os
import shutil
from dataclasses import dataclass

from .checks import check_int, check_list
from .config import per_model
from .hardware import check_precision
from .models import RANDOM_SUFFIX, is_random_weight, load_model
from .parallel import launched, processes, sharded
from .store import Run, RunStore, run_key
from .strings import random_strings
from .probes import check_candidates, check_probes
from .training import (check_hparams, check_schedule, check_schedule_eval_every,
                       exposure_config, progress_bar, progress_enabled, run, schedule_config)

__all__ = ["split_strings", "exposure_runs", "grid_runs", "grids_runs", "twin_runs", "schedule_runs", "PlannedRun",
           "plan_grid", "planned_runs"]


def split_strings(seed: int, *, alphabet_size: int, length: int, n_train: int, n_test: int,
                  entropy: float | None = None, family: str = "exponential"):
    """Training and held-out strings cut from one seeded draw (held-out strings come from the same
    generator, after the training strings)."""
    n_train, n_test = check_int("n_train", n_train, 1), check_int("n_test", n_test, 0)
    s = random_strings(n_train + n_test, alphabet_size, length, entropy=entropy, seed=seed, family=family)
    return s[:n_train], s[n_train:]


def exposure_runs(models, seeds, *, alphabet_size: int, entropy: float | None = None, family: str = "exponential",
                  **kwargs) -> list[Run]:
    """One run per (model, seed) of strings over ``alphabet_size`` letters at ``entropy`` (None: uniform): the
    :func:`grid_runs` of that one setting (the other arguments are :func:`grid_runs`').
    """
    return grid_runs(models, seeds, [{"alphabet_size": alphabet_size, "entropy": entropy, "family": family}], **kwargs)


def twin_runs(models, seeds, lrs, *, epochs, **kwargs) -> list[Run]:
    """Each model ``X`` in ``models`` whose random-weight twin ``X-random`` is there too, and that
    twin, at every learning rate in ``lrs``: both models at each rate, on the same strings and
    seeds (for :func:`memlib.phases.pretrained_vs_random`). ``epochs`` may be given per model;
    the other arguments are those of :func:`exposure_runs`. Runs that coincide with others (same
    model, rate, epochs, strings) come from the store. Returns [] when ``lrs`` is empty or no model
    has its twin in ``models``; every rate is checked before any work.
    """
    if isinstance(lrs, (str, bytes)) or not hasattr(lrs, "__iter__"):
        raise ValueError(f"lrs={lrs!r} is not allowed: use a list of learning rates (or [] for none)")
    lrs = list(lrs)
    for lr in lrs:
        if lr is None or isinstance(lr, dict):
            raise ValueError(f"lrs contains {lr!r}: give each rate as a number > 0, the same for both models")
        check_hparams(lr=lr)
    if len(set(lrs)) != len(lrs):
        raise ValueError(f"lrs={lrs!r} is not allowed: a learning rate appears twice")
    models = check_list("models", models)
    paired = [m for m in models if f"{m}{RANDOM_SUFFIX}" in models]
    if not lrs or not paired:
        return []
    names = [n for m in paired for n in (m, f"{m}{RANDOM_SUFFIX}")]
    return [r for lr in lrs for r in exposure_runs(names, seeds, epochs=epochs, lr=lr, **kwargs)]


_SETTING_KEYS = {"alphabet_size", "entropy", "family"}


def grid_runs(models, seeds, grid, *, precision=None, store: RunStore | bool | str = True, device: str | None = None,
              progress=None, **settings) -> list[Run]:
    """One run per (model, string setting, seed), in that order. ``grid`` is a list of settings,
    dicts with ``alphabet_size`` and optionally ``entropy`` and ``family``; ``settings`` are those of
    :func:`plan_grid` (``length``, ``n_train_strings``, ``n_test_strings``, ``epochs``, ``lr``, ...).

    Everything is checked (and every string drawn) before the first model is loaded; runs in the
    store are loaded instead of trained, so an interrupted grid resumes where it stopped. One
    progress bar counts epochs over the whole grid. ``precision`` as in :func:`memlib.exposure_config`.
    """
    return grids_runs([dict(models=models, seeds=seeds, grid=grid, **settings)], precision=precision, store=store,
                      device=device, progress=progress)[0]


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep, checked and ready: the ``model`` to load, the run ``seed`` (a random-weight model's
    initialisation too), ``epochs`` at most (for the progress bar), a ``label`` for the bar, and the ``settings`` of
    :func:`memlib.exposure_config` (``kind`` "expose") or :func:`memlib.schedule_config` ("schedule") but the
    model, which :meth:`config` takes."""

    model: str
    seed: int
    epochs: int
    label: str
    settings: dict
    kind: str = "expose"

    def config(self, model, precision=None):
        """The run's :class:`~memlib.config.RunConfig` on the loaded ``model`` (checked; nothing trained)."""
        build = exposure_config if self.kind == "expose" else schedule_config
        return build(model, **self.settings, precision=precision)


def plan_grid(models, seeds, grid, *, length: int, n_train_strings: int, n_test_strings: int, epochs, lr=None,
              eval_every="auto", lr_schedule: str = "constant", max_grad_norm: float | None = None,
              family: str = "exponential", probes=None, batch_size: int | None = None, warmup: float = 0.0,
              shuffle: bool = False) -> tuple[list, list[PlannedRun]]:
    """The checked runs of one grid (``(models, [PlannedRun])``): every argument checked and every string drawn,
    no model loaded. ``epochs`` and ``lr`` may be one value or a dict per model (``lr=None``: the model's
    default); ``batch_size``: training strings per optimiser step (None: all); the others as in
    :func:`memlib.exposure_config`."""
    models, seeds, grid = check_list("models", models), check_list("seeds", seeds), check_list("grid", grid)
    for m in models:
        if not isinstance(m, str) or not m:
            raise ValueError(f"model name {m!r} in models is not allowed: use non-empty strings")
    n_train, n_test = check_int("n_train_strings", n_train_strings, 1), check_int("n_test_strings", n_test_strings, 0)
    plan = []
    for name in models:
        e, r = per_model(epochs, name), per_model(lr, name)
        check_hparams(epochs=e, lr=r, eval_every=eval_every, lr_schedule=lr_schedule, max_grad_norm=max_grad_norm,
                      batch_size=batch_size, warmup=warmup, shuffle=shuffle)
        check_probes(probes, length, e, n_train if batch_size is None else min(batch_size, n_train), n_train)
        for setting in grid:
            unknown = set(setting) - _SETTING_KEYS if isinstance(setting, dict) else {"?"}
            if unknown or "alphabet_size" not in setting:
                raise ValueError(f"grid setting {setting!r} is not allowed: use dicts with keys "
                                 f"{sorted(_SETTING_KEYS)}, alphabet_size required")
            for seed in seeds:
                check_hparams(epochs=e, seed=seed)
                train, test = split_strings(seed, alphabet_size=setting["alphabet_size"], length=length,
                                            n_train=n_train, n_test=n_test, entropy=setting.get("entropy"),
                                            family=setting.get("family", family))
                check_candidates(probes, train)
                plan.append(PlannedRun(name, seed, e, f"l={len(train[0].alphabet)} H={train[0].entropy:.2f} seed {seed}",
                                       dict(train_strings=train, test_strings=test, epochs=e, lr=r, seed=seed,
                                            eval_every=eval_every, lr_schedule=lr_schedule,
                                            max_grad_norm=max_grad_norm, probes=probes, batch_size=batch_size,
                                            warmup=warmup, shuffle=shuffle)))
    return models, plan


def grids_runs(grids: list[dict], *, precision=None, store: RunStore | bool | str = True, device: str | None = None,
               progress=None, keep=None) -> list[list[Run]]:
    """Several grids in one sweep: ``grids`` are dicts of :func:`grid_runs`' arguments (but ``precision``,
    ``store``, ``device`` and ``progress``, shared). Every grid is checked before the first model loads, and
    the runs of one model are shared among launched processes across grids (two one-run grids of one model
    train side by side). Returns one list of runs per grid, each in :func:`grid_runs`' order. ``keep``: a function
    of a run applied to each as soon as it is trained or loaded, what the sweep holds and returns instead (a
    notebook that reads a few columns of many long runs drops the rest, so that the sweep fits in memory); the
    store keeps every run whole."""
    check_precision(precision)
    if keep is not None and not callable(keep):
        raise ValueError(f"keep={keep!r} is not allowed: give a function of a run, or None")
    if not isinstance(grids, (list, tuple)) or not grids or not all(isinstance(g, dict) for g in grids):
        raise ValueError(f"grids={grids!r} is not allowed: give a non-empty list of dicts of grid_runs' arguments")
    models, plan, sizes = [], [], []
    for g in grids:
        names, items = plan_grid(**g)
        models += [m for m in names if m not in models]
        plan += items
        sizes.append(len(items))
    store = _check_store(store)
    runs = _execute(models, plan, precision, device, progress, store, keep)
    return [runs[sum(sizes[:i]):sum(sizes[:i + 1])] for i in range(len(sizes))]


def schedule_runs(models, seeds, design, *, lr=None, reset_optimizer: bool = True, eval_every=1,
                  lr_schedule: str = "constant", max_grad_norm: float | None = None, precision=None,
                  store: RunStore | bool | str = True, device: str | None = None, progress=None) -> dict[str, list[Run]]:
    """Schedules (:func:`memlib.expose_schedule`) for every model and seed:
    ``design(model, seed)`` returns ``{condition: (stages, held-out strings)}`` (e.g. a wrapper of
    :func:`memlib.sequential.design`). Returns ``{condition: [runs, model by model, seed by seed]}``.

    ``lr`` and ``seeds`` may be one value (one list) or a dict per model (``lr`` ``None``: each model's default).
    Every schedule is built and checked before the first model is loaded; runs in the store are loaded instead of
    trained.
    """
    models = check_list("models", models)
    check_schedule_eval_every(eval_every)
    check_precision(precision)
    plan, conditions = [], []
    for name in models:
        r = per_model(lr, name)
        check_hparams(lr=r, lr_schedule=lr_schedule, max_grad_norm=max_grad_norm)
        for seed in check_list("seeds", per_model(seeds, name)):
            check_hparams(seed=seed)
            schedules = design(name, seed)
            if not isinstance(schedules, dict) or not schedules:
                raise ValueError(f"design({name!r}, {seed!r}) returned {schedules!r}: return a non-empty dict "
                                 f"{{condition: (stages, held-out strings)}}")
            for condition, value in schedules.items():
                if not isinstance(value, tuple) or len(value) != 2:
                    raise ValueError(f"design({name!r}, {seed!r})[{condition!r}] is {value!r}: give a pair "
                                     f"(stages, held-out strings)")
                stages, test = value
                check_schedule(stages, test, lr=r, seed=seed, reset_optimizer=reset_optimizer, lr_schedule=lr_schedule,
                                weight_decay=0.0, max_grad_norm=max_grad_norm, dropout=False, eval_every=eval_every)
                plan.append(PlannedRun(name, seed, sum(s.epochs or s.max_epochs for s in stages), f"{condition} seed {seed}",
                                       dict(stages=stages, test_strings=test, lr=r, seed=seed,
                                            reset_optimizer=reset_optimizer, eval_every=eval_every,
                                            lr_schedule=lr_schedule, max_grad_norm=max_grad_norm), kind="schedule"))
                conditions.append(condition)
    store = _check_store(store)
    out = {}
    for condition, done in zip(conditions, _execute(models, plan, precision, device, progress, store)):
        out.setdefault(condition, []).append(done)
    return out


def planned_runs(plan: list[PlannedRun], *, precision=None, store: RunStore | bool | str = True,
                 device: str | None = None, progress=None, keep=None) -> list[Run]:
    """Train (or load) runs planned by hand (:class:`PlannedRun` s whose ``settings`` name their own strings, e.g.
    shadow models each trained on a chosen subset of a pool), in one sweep as :func:`grids_runs` trains grids: one
    run per item, in order; ``keep`` as there. Each run's configuration is checked on its model before that run
    trains; a plan's own checks (e.g. :func:`memlib.audit.check`) come before the call."""
    check_precision(precision)
    if not isinstance(plan, (list, tuple)) or not plan or not all(isinstance(p, PlannedRun) for p in plan):
        raise ValueError(f"plan={plan!r} is not allowed: give a non-empty list of memlib.sweep.PlannedRun")
    if keep is not None and not callable(keep):
        raise ValueError(f"keep={keep!r} is not allowed: give a function of a run, or None")
    models = list(dict.fromkeys(p.model for p in plan))
    return _execute(models, list(plan), precision, device, progress, _check_store(store), keep)


def _check_store(store):
    """The store a sweep uses: launched processes (not sharded) share runs through one, so they need one."""
    if launched() and not sharded() and (store is False or store is None):
        raise ValueError(f"store={store!r} is not allowed with {os.environ['WORLD_SIZE']} launched processes: they "
                         f"share runs through the run store (use True or a folder every process can reach)")
    if processes().world > 1 and not sharded() and not isinstance(store, RunStore):
        return RunStore() if store is True else RunStore(store)
    return store


class _Claims:
    """Which launched process trains which item of a sweep: the first to create the file
    ``<store>/.claims/<token>/<item>`` (exclusively; one atomic call on a local or NFS v3+ file system). The
    first process draws ``token`` and sends it to the others, so every sweep of every launch claims in a
    folder of its own: the claims of a killed launch are never read again (folders older than a day are
    removed)."""

    def __init__(self, store: RunStore, procs):
        import secrets
        import time

        token = procs.broadcast(secrets.token_hex(8) if procs.rank == 0 else None)
        base = store.root / ".claims"
        if procs.rank == 0 and base.is_dir():
            for old in base.iterdir():
                if time.time() - old.stat().st_mtime > 86400:
                    shutil.rmtree(old, ignore_errors=True)
        self.folder = base / token
        self.folder.mkdir(parents=True, exist_ok=True)

    def take(self, item: int) -> bool:
        try:
            os.close(os.open(self.folder / str(item), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return True
        except FileExistsError:
            return False

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _execute(models, plan: list[PlannedRun], precision, device, progress, store, keep=None) -> list[Run]:
    """Train (or load) every :class:`PlannedRun` of ``plan``, model by model. A random-weight model
    (:func:`memlib.models.is_random_weight`) is loaded afresh for each run seed, with ``init_seed`` = that
    seed: its seeds replicate the initialisation as well as the string.

    Launched processes (not sharded) share the work as it goes: each takes the next item of the current model
    that no process has claimed yet (:class:`_Claims`), starting at a different item, so a process that
    finishes early takes on more instead of waiting for the others; of the items others took it computes only
    the keys. After one barrier at the end it loads those runs from the store. Every process returns the
    same list as a serial sweep, whichever process trained what."""
    procs = processes()
    device = device if device is not None else procs.device
    split = procs.world > 1 and not procs.sharded
    claims = _Claims(store, procs) if split else None
    show = progress_enabled(progress) and procs.rank == 0
    total = sum(p.epochs for p in plan)
    total = -(-total // procs.world) if split else total
    bar = progress_bar(total, f"sweep, process 1 of {procs.world}" if split else "sweep") if show else False
    runs, keys = [None] * len(plan), {}
    try:
        for name in models:
            model, init = None, ()
            random_weight = is_random_weight(name)
            # a random-weight model is drawn afresh for each run seed (init_seed = the seed): items by seed
            todo = sorted((i for i, p in enumerate(plan) if p.model == name), key=lambda i: plan[i].seed if random_weight else 0)
            if split and todo:  # start at a different item in each process
                at = procs.rank % len(todo)
                todo = todo[at:] + todo[:at]
            for i in todo:
                wanted = plan[i].seed if random_weight else None
                if model is None or wanted != init:
                    del model
                    model, init = load_model(name, device=device, init_seed=wanted), wanted
                config = plan[i].config(model, precision)
                if claims is None or claims.take(i):
                    if bar:
                        bar.set_description(f"{model.name} {plan[i].label}")
                    done = run(model, config, store=store, progress=bar)
                    if bar and done.from_store:
                        bar.update(plan[i].epochs)
                    runs[i] = done if keep is None else keep(done)
                else:  # another process trains it: its key, to load it once every process is done
                    keys[i] = run_key(config.to_dict())
            del model
            gc.collect()
    finally:
        if bar:
            bar.close()
    if split:
        procs.wait_for_everyone("its share of the sweep")  # every claimed run is stored
        for i, key in keys.items():
            runs[i] = store.load(key)
            if runs[i] is None:
                raise RuntimeError(f"run {key} (item {i} of the sweep, {plan[i].model}) is not in the store {store.root} "
                                   f"after every process finished its share: do all processes use the same store?")
            runs[i] = runs[i] if keep is None else keep(runs[i])
        procs.wait_for_everyone("reading the sweep's runs")  # nobody reads the claims any more
        if procs.rank == 0:
            claims.remove()
    return runs


