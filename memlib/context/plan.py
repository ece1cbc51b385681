"""Notebook 03's parameters, presets and run plan: runs of one string per model, length and seed, probed in-run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..checks import check_list
from ..config import per_length, per_model
from ..models import PAPER_MODELS
from ..parameters import NotebookParams, heldout_gaps, model_lengths
from ..store import Run
from ..sweep import grid_runs
from ..probes import check_probes
from ..training import check_hparams


def length_runs(params: Params, probes, store) -> tuple[list[Run], list[Run]]:
    """Notebook 03's runs: ``(main, compare)``. ``main``: every model of ``params.models`` at every alphabet size
    of ``params.alphabet_sizes`` and ``params.lr``; ``compare``: every model of ``params.compare_models`` at
    ``params.compare_alphabet_size`` and ``params.compare_lr``; both at every length of ``params.lengths``
    (one list, or one per model: :func:`model_lengths`; epochs and ``params.positions`` per length,
    :func:`memlib.config.per_length`) over ``params.seeds`` (one list or one per model),
    probed with ``probes`` (its explicit ``ks`` and ``replace_ks`` longer than a length left out at that length). Every
    grid is checked before the first run trains."""
    parts = [("main", m, [{"alphabet_size": a} for a in params.alphabet_sizes], params.lr) for m in params.models]
    parts += [("compare", m, [{"alphabet_size": params.compare_alphabet_size}], params.compare_lr)
              for m in params.compare_models]
    by_model = {m: check_list(f"lengths of {m}", model_lengths(params, m)) for _, m, _, _ in parts}
    plan = []
    for length in sorted({n for ns in by_model.values() for n in ns}):
        spec = fit_spec(probes, length, per_length(params.positions, length))  # one value, or {length: value}
        for which, model, grid, lr in parts:
            if length not in by_model[model]:
                continue
            kwargs = dict(seeds=per_model(params.seeds, model), grid=grid, length=length, n_train_strings=1,
                          n_test_strings=params.n_test_strings, epochs=per_length(params.epochs, length), lr=lr,
                          eval_every=params.eval_every, lr_schedule=params.lr_schedule,
                          max_grad_norm=params.max_grad_norm, probes=spec, precision=params.precision, store=store)
            e = per_model(kwargs["epochs"], model)
            check_hparams(epochs=e, lr=per_model(lr, model), eval_every=params.eval_every,
                          lr_schedule=params.lr_schedule, max_grad_norm=params.max_grad_norm)
            check_probes(spec, length, e, 1, 1)
            check_list("seeds", kwargs["seeds"])
            plan.append((which, model, kwargs))
    out = {"main": [], "compare": []}
    for which, model, kwargs in plan:
        out[which] += grid_runs([model], **kwargs)
    return out["main"], out["compare"]


def fit_spec(probes, length: int, positions="as given"):
    """``probes`` with the explicit ``ks`` / ``replace_ks`` above ``length`` left out (one spec serves several lengths),
    reading ``positions`` where given (``ProbeSpec.positions``: None, every position, or how many)."""
    import dataclasses

    changes = {} if positions == "as given" else {"positions": positions}
    for name in ("ks", "replace_ks"):
        values = getattr(probes, name)
        if values is not None and not isinstance(values, (str, int)):
            kept = tuple(v for v in values if not isinstance(v, int) or v <= length)
            if not kept:
                raise ValueError(f"{name}={list(values)} leaves nothing for strings of {length} characters: "
                                 f"give values from 0 to {length}")
            changes[name] = kept
    return dataclasses.replace(probes, **changes)


@dataclass(frozen=True)
class Params(NotebookParams):
    """Notebook 03's parameters (:func:`length_runs` reads them; see the presets' comments)."""

    notebook: ClassVar[str] = "03_local_prefix_global_context"
    models: list[str]
    alphabet_sizes: list[int]
    lr: float | dict[str, float] | None
    compare_models: list[str]
    compare_alphabet_size: int
    compare_lr: float | dict[str, float] | None
    lengths: list[int] | dict[str, list[int]]  # one list, or per model
    epochs: int | dict  # per length ({length: epochs}), each one value or per model
    past: int
    seeds: list[int] | dict[str, list[int]]
    n_test_strings: int
    eval_every: int | str | list[int]
    lr_schedule: str
    max_grad_norm: float | None
    ks: list[int] | None
    replace_ks: list[int]
    shifts: list[int]
    draws: int
    positions: int | dict | None  # one value or per length; None: every position
    precision: str

    def heldout_gaps(self) -> list[str]:
        """The probes read the trained strings only: held-out strings at the untrained baseline and the end."""
        return heldout_gaps(self, every_doubling=False)


PRESETS = {
    # `models` run over every alphabet size at `lr`; `compare_models` at `compare_alphabet_size` only, at
    # `compare_lr`. Every model at every length of `lengths` (one list or {model: list}); `epochs` per length
    # (a dict {length: epochs}, each one value or {model: epochs}); `seeds` one list or {model: list}. Probes when memorised
    # (memlib.metrics.memorised_at) and `past` epochs after it, the same for every model and length (runs must
    # last that long: `epochs` leaves room). ks None = 0, powers of two, the length; the replaced-context
    # probes keep replace_ks characters, `draws` draws each, at `positions` positions per (kind, k, draw)
    # (None: all; a position costs a forward of its own context; one value or {length: value}).
    "smoke": Params(
        models=["tiny-llama"], alphabet_sizes=[2, 7], lr=None, compare_models=["tiny-phi"], compare_alphabet_size=7,
        compare_lr=None, lengths=[16, 32], epochs={16: 50, 32: 70}, past=4, seeds=[0], n_test_strings=1,
        eval_every=[0], lr_schedule="constant", max_grad_norm=None, ks=None, replace_ks=[2, 8], shifts=[1, 2],
        draws=2, positions=8,
        precision="fp32",
    ),
    # 7 letters. SmolLM2-135M at 32 characters and tiny-llama at 32 and 128, over 8 seeds each (each seed its
    # own string and, for tiny-llama, its own initialisation): the family of 4 primary tests needs p < 0.05 / 4
    # for its smallest, which a sign test reaches at n = 8 when all agree (0.0078) and at n = 6 never (0.031).
    # SmolLM2 is not run at 128 characters here: a run took 315 s (95 of them training, the rest probes), so 8
    # seeds would take more than the notebook's budget, and 2 seeds (before) could establish nothing.
    # Positions per length: at 128 characters every one (the contrast across lengths compares positions 9-31,
    # which a subset of 8 positions per draw read only 3-9 times in a tiny-llama run; all of them: 92 reads);
    # at 32, 8 per draw (reading all of them made a SmolLM2 run 88 s instead of 60: benchmarks/RESULTS.md).
    # Memorised at epochs 13-19 (32) for SmolLM2, 28-40 (32) and 62-93 (128) for tiny-llama: the epochs
    # leave room for memorised + past.
    "default": Params(
        models=["smollm2-135m"], alphabet_sizes=[7], lr=None,
        compare_models=["tiny-llama"], compare_alphabet_size=7,
        compare_lr={"smollm2-135m": 5e-4, "smollm2-135m-random": 5e-4, "tiny-pythia": 1e-3, "tiny-phi": 1e-3,
                    "tiny-llama": 1e-3},
        lengths={"smollm2-135m": [32], "smollm2-135m-random": [32, 128], "tiny-pythia": [32, 128],
                 "tiny-phi": [32, 128], "tiny-llama": [32, 128]},
        epochs={32: {"smollm2-135m": 36, "smollm2-135m-random": 64, "tiny-pythia": 70, "tiny-phi": 70,
                     "tiny-llama": 70},
                128: {"smollm2-135m": 50, "smollm2-135m-random": 120, "tiny-pythia": 130, "tiny-phi": 130,
                      "tiny-llama": 130}},
        past=12, seeds=list(range(8)), n_test_strings=1, eval_every=[0],
        lr_schedule="constant", max_grad_norm=None, ks=None, replace_ks=[2, 8, 32], shifts=[1, 8], draws=4,
        positions={32: 8, 128: None},
        precision="fp32",
    ),
    # Two pretrained families at 32 and 128 characters, each at its own rate (SmolLM2-135M 1e-4, Gemma-3-270M 2.5e-5),
    # 10 seeds (the same 10 strings for both; SmolLM2's runs at 32 characters are the default's, seeds 0-7). Ten, not
    # eight: the family holds 8 primary tests (per model and length against one half, each model across lengths,
    # the models at each length), and a sign test over 8 seeds that all agree (p 0.0078) cannot pass Holm's first
    # step over 8 (0.00625); over 10 it can (0.0020). Epochs leave room for memorised + 12: memorised at epochs
    # 13-21 (SmolLM2) and 11-22 (Gemma) at 32 characters, 26-34 and 24-39 at 128 (benchmarks/RESULTS.md).
    # 8 positions per draw at both lengths (every position at 128 would cost minutes a probe moment for these models).
    # Hours on 2 cores: make reproduce-families, not make reproduce.
    "families": Params(
        models=["smollm2-135m", "gemma3-270m"], alphabet_sizes=[7], lr=None, compare_models=[],
        compare_alphabet_size=7, compare_lr=None, lengths=[32, 128],
        epochs={32: {"smollm2-135m": 36, "gemma3-270m": 40}, 128: {"smollm2-135m": 56, "gemma3-270m": 60}},
        past=12, seeds=list(range(10)), n_test_strings=1, eval_every=[0], lr_schedule="constant", max_grad_norm=None,
        ks=None, replace_ks=[2, 8, 32], shifts=[1, 8], draws=4, positions={32: 8, 128: 8},
        precision="fp32",
    ),
    "paper": Params(
        models=PAPER_MODELS, alphabet_sizes=[2, 7, 26], lr=1e-5, compare_models=[], compare_alphabet_size=7,
        compare_lr=1e-5, lengths=[1024], epochs=100, past=20, seeds=[0, 1, 2], n_test_strings=10, eval_every=1,
        lr_schedule="linear", max_grad_norm=1.0, ks=None, replace_ks=[2, 4, 8, 16, 32], shifts=[1, 4, 16, 64],
        draws=4, positions=64,
        precision="auto",
    ),
    # SmolLM2-135M at 512 and 1,024 characters (7 letters, one seed each) at lr 1e-4, SmolLM2's own rate and 10
    # times the paper's 1e-5, constant, no clipping. Measured (benchmarks/RESULTS.md): memorised at epochs 70
    # (512) and 91 (1,024) of 100, so the 1,024-character run ends before memorised + 12; 20 and 31 minutes.
    "cpu-long": Params(
        models=["smollm2-135m"], alphabet_sizes=[7], lr=1e-4, compare_models=[], compare_alphabet_size=7,
        compare_lr=None, lengths=[512, 1024], epochs={512: 100, 1024: 100}, past=12, seeds=[0], n_test_strings=1,
        eval_every=[0], lr_schedule="constant", max_grad_norm=None, ks=None, replace_ks=[2, 8, 32], shifts=[1, 8],
        draws=4, positions=8,
        precision="fp32",
    ),
}
