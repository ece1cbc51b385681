"""Presets: one place that says what each notebook runs at each size.

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

A notebook's ``parameters`` cell names a preset and may override any of its keys;
``None`` means "keep the preset's value". ``resolve`` refuses unknown notebooks, presets
and keys with a message that lists what is allowed.
"""

from __future__ import annotations

import copy

from .config import per_length, per_model
from .context import model_lengths

__all__ = ["PRESETS", "resolve", "heldout_gaps", "check_heldout", "store_label"]

_PAPER_MODELS = ["EleutherAI/pythia-1b", "microsoft/phi-2", "meta-llama/Llama-2-7b-hf"]
# The paper's hyper-parameters, for the cpu-long preset (the paper preset spells them out too).
_PAPER_HPARAMS = dict(length=1024, epochs=100, lr=1e-5, lr_schedule="linear", max_grad_norm=1.0)
# Held-out strings: every epoch up to 2, then at least once in every doubling of the epoch count (the rule
# of heldout_gaps); the last epoch is always added (eval_epochs).
_LONG_EVAL = [0, 1, 2, 4, 8, 12, 16, 24, 32, 48, 64]

PRESETS: dict[str, dict[str, dict]] = {
    # The explorer trains nothing; a preset only picks the view it opens on (and saves as a figure)
    # where the store has such runs: notebook 01's first SmolLM2-135M run of seed 0.
    "00_explorer": {
        name: dict(prefer=dict(notebook="01_dynamics", model="smollm2-135m", seed=0))
        for name in ("smoke", "default", "paper")
    },
    "01_dynamics": {
        # Each model X in `models` whose random-weight twin X-random is also there is compared with it each at
        # its own rate (`lr`) and, over `init_seeds` (None: `seeds`), both at each rate of `init_lrs` (same strings
        # and seeds).
        "smoke": dict(
            models=["smollm2-135m", "smollm2-135m-random", "tiny-llama"], alphabet_size=7, length=16, epochs=4,
            lr=None, init_lrs=[1e-4, 5e-4], init_seeds=None, seeds=[0],
            n_train_strings=1, n_test_strings=2, eval_every=1, lr_schedule="constant", max_grad_norm=None,
        ),
        # SmolLM2-135M and its random-weight twin, each at its own rate (1e-4 and 5e-5: of 4 and 7 rates from 2e-5 to
        # 2e-3, the fastest to memorise in `make bench-lr`, seeds 100-101; the twin memorised at none within 28 epochs
        # and reached the highest accuracy at 5e-5: benchmarks/RESULTS.md), over 8 seeds (16 runs: the contrasts the
        # finding rests on are paired over them); the twin also at SmolLM2's rate over 4 of them (exploratory); 3 tiny
        # families over the same 8 seeds.
        # Held-out strings at epochs 0, 1, 2, then once per doubling of the epoch count (the rule of
        # heldout_gaps), and the last.
        "default": dict(
            models=["smollm2-135m", "smollm2-135m-random", "tiny-pythia", "tiny-phi", "tiny-llama"],
            alphabet_size=7, length=64,
            epochs={"smollm2-135m": 28, "smollm2-135m-random": 28, "tiny-pythia": 70, "tiny-phi": 70,
                    "tiny-llama": 70},
            lr={"smollm2-135m": 1e-4, "smollm2-135m-random": 5e-5, "tiny-pythia": 1e-3, "tiny-phi": 1e-3,
                "tiny-llama": 1e-3},
            init_lrs=[1e-4], init_seeds=[0, 1, 2, 3], seeds=list(range(8)), n_train_strings=1, n_test_strings=4,
            eval_every=[0, 1, 2, 4, 8, 16, 32], lr_schedule="constant", max_grad_norm=None,
        ),
        "paper": dict(
            models=_PAPER_MODELS, alphabet_size=2, length=1024, epochs=100, lr=1e-5, init_lrs=[], init_seeds=None,
            seeds=[0, 1, 2],
            n_train_strings=5, n_test_strings=10, eval_every=1, lr_schedule="linear", max_grad_norm=1.0,
        ),
        # The default's pretrained / random contrast with the twin uncensored: at 28 epochs the twin learnt neither
        # the distribution nor its string at any rate, so the default's ratios are bounds. Here the twin trains for
        # 150 epochs at its own rate for that length, 2.5e-4 (of 6 rates from 5e-5 to 2e-3 the fastest to memorise
        # in `make bench-lr-long`, seeds 100-101: medians 64 epochs, 2 of 2: benchmarks/RESULTS.md), and over 4
        # seeds at SmolLM2's 1e-4; SmolLM2 as in the default (memorised within 28 epochs in 8 of 8 there).
        "cpu-long": dict(
            models=["smollm2-135m", "smollm2-135m-random"], alphabet_size=7, length=64,
            epochs={"smollm2-135m": 28, "smollm2-135m-random": 150},
            lr={"smollm2-135m": 1e-4, "smollm2-135m-random": 2.5e-4},
            init_lrs=[1e-4], init_seeds=[0, 1, 2, 3], seeds=list(range(8)), n_train_strings=1, n_test_strings=4,
            eval_every=[0, 1, 2, 4, 8, 16, 32, 64, 128], lr_schedule="constant", max_grad_norm=None,
        ),
    },
    "02_string_difficulty": {
        "smoke": dict(
            models=["tiny-llama"], alphabet_sizes=[2, 7], entropy_levels=[1.0], families=["exponential", "spike"],
            length=16, epochs=6, lr=None, seeds=[0, 1], family_check_seeds=[0], n_train_strings=1,
            n_test_strings=2, eval_every=1, lr_schedule="constant", max_grad_norm=None,
        ),
        # 12 settings x 2 seeds + 7 spike-family settings x 1 seed = 31 SmolLM2 runs of 20 epochs at
        # 32 characters (entropy 1 and 2 bits and each alphabet's maximum: entropy levels up to 4.7 bits, and
        # 3-5 alphabet sizes at each fixed entropy for the alphabet term).
        # Held-out strings at every epoch up to 2, then every second one (more than heldout_gaps asks for).
        "default": dict(
            models=["smollm2-135m"], alphabet_sizes=[2, 4, 7, 13, 26], entropy_levels=[1.0, 2.0],
            families=["exponential", "spike"], length=32, epochs=20, lr=None, seeds=[0, 1],
            family_check_seeds=[0], n_train_strings=1, n_test_strings=3, eval_every=[0, 1, *range(2, 21, 2)],
            lr_schedule="constant", max_grad_norm=None,
        ),
        "paper": dict(
            models=_PAPER_MODELS, alphabet_sizes=[2, 4, 7, 13, 26], entropy_levels=[0.5, 1.0, 2.0, 3.0, 4.0],
            families=["exponential", "spike"], length=1024, epochs=100, lr=1e-5, seeds=[0, 1, 2],
            family_check_seeds=[0, 1, 2], n_train_strings=5, n_test_strings=10, eval_every=1,
            lr_schedule="linear", max_grad_norm=1.0,
        ),
        # Two contrasting settings at the paper's hyper-parameters: 26 letters at 2 bits (exponential
        # family) and uniform (4.7 bits), the ends of the default preset's entropy range at 26 letters.
        "cpu-long": dict(
            models=["smollm2-135m"], alphabet_sizes=[26], entropy_levels=[2.0], families=["exponential"], seeds=[0],
            family_check_seeds=[], n_train_strings=1, n_test_strings=2, eval_every=_LONG_EVAL, **_PAPER_HPARAMS,
        ),
    },
    "03_local_prefix_global_context": {
        # `models` run over every alphabet size at `lr`; `compare_models` at `compare_alphabet_size` only, at
        # `compare_lr`. Every model at every length of `lengths` (one list or {model: list}); `epochs` per length
        # (a dict {length: epochs}, each one value or {model: epochs}); `seeds` one list or {model: list}. Probes when memorised
        # (memlib.metrics.memorised_at) and `past` epochs after it, the same for every model and length (runs must
        # last that long: `epochs` leaves room). ks None = 0, powers of two, the length; the replaced-context
        # probes keep replace_ks characters, `draws` draws each, at `positions` positions per (kind, k, draw)
        # (None: all; a position costs a forward of its own context; one value or {length: value}).
        "smoke": dict(
            models=["tiny-llama"], alphabet_sizes=[2, 7], lr=None, compare_models=["tiny-phi"], compare_alphabet_size=7,
            compare_lr=None, lengths=[16, 32], epochs={16: 50, 32: 70}, past=4, seeds=[0], n_test_strings=1,
            eval_every=[0], lr_schedule="constant", max_grad_norm=None, ks=None, replace_ks=[2, 8], shifts=[1, 2],
            draws=2, positions=8,
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
        "default": dict(
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
        ),
        "paper": dict(
            models=_PAPER_MODELS, alphabet_sizes=[2, 7, 26], lr=1e-5, compare_models=[], compare_alphabet_size=7,
            compare_lr=1e-5, lengths=[1024], epochs=100, past=20, seeds=[0, 1, 2], n_test_strings=10, eval_every=1,
            lr_schedule="linear", max_grad_norm=1.0, ks=None, replace_ks=[2, 4, 8, 16, 32], shifts=[1, 4, 16, 64],
            draws=4, positions=64,
        ),
        # SmolLM2-135M at 512 and 1,024 characters (7 letters, one seed each) at lr 1e-4, SmolLM2's own rate and 10
        # times the paper's 1e-5, constant, no clipping. Measured (benchmarks/RESULTS.md): memorised at epochs 70
        # (512) and 91 (1,024) of 100, so the 1,024-character run ends before memorised + 12; 20 and 31 minutes.
        "cpu-long": dict(
            models=["smollm2-135m"], alphabet_sizes=[7], lr=1e-4, compare_models=[], compare_alphabet_size=7,
            compare_lr=None, lengths=[512, 1024], epochs={512: 100, 1024: 100}, past=12, seeds=[0], n_test_strings=1,
            eval_every=[0], lr_schedule="constant", max_grad_norm=None, ks=None, replace_ks=[2, 8, 32], shifts=[1, 8],
            draws=4, positions=8,
        ),
    },
    "04_sequential_exposure": {
        # Per seed: S1 -> ... -> S{n_strings} -> S1 again over the first alphabet_size letters, each stage
        # until memorised (accuracy >= until held `hold` epochs; at most max_epochs); controls: the same
        # stages then a never-seen string N, S2 on a fresh model, and S2 after T1 over the next alphabet_size
        # letters. Seeds share nothing (memlib.sequential.design): each seed is one unit. Held-out strings:
        # n_test_strings per alphabet.
        "smoke": dict(
            models=["tiny-llama"], alphabet_size=4, length=12, n_strings=2, relearn=True, controls=True,
            n_test_strings=1, until=0.99, hold=2, max_epochs=40, lr=None, seeds=[0, 1], eval_every=1,
            reset_optimizer=True, lr_schedule="constant", max_grad_norm=None,
        ),
        # 4 schedules per seed (9 stages), seeds sized by power: SmolLM2 over 8 seeds (32 schedules, most of the
        # notebook's time), tiny-llama over 24 (96 schedules of about 1.5 s each). The strings a stage does not
        # train and the held-out strings every 8 epochs and at every stage boundary (the retention the verdict
        # reads): every 4 took about a sixth of a SmolLM2 schedule's time (benchmarks/RESULTS.md). A family of 6 primary tests (3
        # per model) needs p < 0.05 / 6 for its smallest, which a sign test reaches at n = 8 only when all 8 agree
        # (p = 0.0078; at n = 6 never: 0.031); at 8 seeds tiny-llama's contrasts were established on seeds 0-7 and
        # not on 8-15 (7 of 8 each), and the units for 80% power measured on them were 18 (benchmarks/RESULTS.md).
        "default": dict(
            models=["smollm2-135m", "tiny-llama"], alphabet_size=8, length=32,
            n_strings=2, relearn=True, controls=True, n_test_strings=2, until=0.99, hold=2,
            max_epochs={"smollm2-135m": 40, "tiny-llama": 150},
            lr=None, seeds={"smollm2-135m": list(range(8)), "tiny-llama": list(range(24))}, eval_every=8,
            reset_optimizer=True, lr_schedule="constant",
            max_grad_norm=None,
        ),
        "paper": dict(
            models=_PAPER_MODELS, alphabet_size=8, length=1024, n_strings=4, relearn=True, controls=True,
            n_test_strings=10, until=0.99, hold=2, max_epochs=100, lr=1e-5, seeds=[0, 1, 2, 3], eval_every=1,
            reset_optimizer=True, lr_schedule="linear", max_grad_norm=1.0,
        ),
    },
    "05_extraction_and_exposure": {
        # `models` over every setting of `grid` at `lr`; `compare_models` (the random-weight twin) on
        # `compare_grid` at `compare_lr`. The held-out strings are the exposure's candidates and the
        # membership attack's non-members, evaluated at `measure_at`, where the extraction probes run too.
        "smoke": dict(
            models=["tiny-llama"], grid=[{"alphabet_size": 4}, {"alphabet_size": 8, "entropy": 2.0}], lr=3e-3,
            compare_models=["tiny-phi"], compare_grid=[{"alphabet_size": 4}], compare_lr=3e-3, length=12,
            epochs=40, measure_at=[0, 10, 20, 40], seeds=[0], n_test_strings=21, k=4, n=4, offset_step=1,
            lr_schedule="constant", max_grad_norm=None, permuted=21, ks=[0, 2, 4, 8],
            many=dict(model="tiny-llama", lr=3e-3, length=12, alphabet_size=4, members=8, epochs=30,
                      measure_at=[0, 10, 30], candidates=120, permuted=16, samples=200, seeds=[0]),
            enumeration=dict(model="tiny-llama", lr=1e-3, length=6, alphabet_size=4, members=4, epochs=30,
                             measure_at=[0, 10, 30], candidates=30, permuted=8, samples=300, seeds=[0], enumerate=True),
            fprs=[0.01, 0.001],
        ),
        # 8 SmolLM2 runs, 4 settings x 2 seeds, each its own string (the random-weight twin is left out here: with 2
        # seeds it stated no contrast, and its 64 epochs did not fit the time budget), each measured at 5 epochs
        # (0 and each doubling to the end; epoch 2 as well cost a sixth of the measurements):
        # 31 held-out strings, 15 permutations of its letters and the extraction probes (one forward per offset) at
        # each. 8 runs, not 6: the family of 2 primary tests needs p < 0.025 for its smallest, which a sign test
        # reaches at n = 6 never (0.031) and at n = 8 when all 8 agree (0.0078).
        "default": dict(
            models=["smollm2-135m"],
            grid=[{"alphabet_size": 4}, {"alphabet_size": 7}, {"alphabet_size": 26},
                  {"alphabet_size": 26, "entropy": 2.0}], lr=None,
            compare_models=[], compare_grid=[{"alphabet_size": 7}], compare_lr=5e-4,
            length=32, epochs={"smollm2-135m": 30, "smollm2-135m-random": 64},
            measure_at={"smollm2-135m": [0, 4, 8, 16, 30], "smollm2-135m-random": [0, 8, 16, 24, 32, 40, 48, 64]},
            seeds=[0, 1], n_test_strings=31, k=8, n=8, offset_step=1, lr_schedule="constant", max_grad_norm=None,
            # 15 permutations of each training string's letters beside its 31 fresh candidates (31 cost a
            # fifth of a run's time for an exploratory comparison: benchmarks/RESULTS.md); extraction at
            # k = 0 (BOS alone), 4, 8, 16 with n = 8.
            permuted=15, ks=[0, 4, 8, 16],
            # Many members per model (the membership attack's TPR at 1% and 0.1% FPR), 1,023 fresh candidates
            # (counted exposure to 10 bits), 32 permutations per member, 1,500 importance samples: a tiny random-init
            # Llama (its forwards are about 60 times cheaper than SmolLM2's; benchmarks/RESULTS.md).
            many=dict(model="tiny-llama", lr=1e-3, length=32, alphabet_size=7, members=64, epochs=150,
                      measure_at=[0, 50, 100, 150], candidates=1023, permuted=32, samples=1500, seeds=[0], count_bits=10),
            # The check against exact enumeration: 8 members of 7 letters over 4 (16,384 strings, 14 bits).
            enumeration=dict(model="tiny-llama", lr=1e-3, length=7, alphabet_size=4, members=8, epochs=60,
                             measure_at=[0, 15, 30, 60], candidates=100, permuted=16, samples=1000, seeds=[0],
                             enumerate=True),
            fprs=[0.01, 0.001],
        ),
        "paper": dict(
            models=_PAPER_MODELS, grid=[{"alphabet_size": 2}, {"alphabet_size": 26}, {"alphabet_size": 26, "entropy": 2.0}],
            lr=1e-5, compare_models=[], compare_grid=[{"alphabet_size": 2}], compare_lr=1e-5, length=1024, epochs=100,
            measure_at=[0, 1, 2, 5, 10, 20, 40, 60, 80, 100], seeds=[0, 1, 2], n_test_strings=100, k=32, n=32, offset_step=16,
            lr_schedule="linear", max_grad_norm=1.0, permuted=100, ks=[0, 32, 64, 128],
            many=dict(model="EleutherAI/pythia-1b", lr=1e-5, length=256, alphabet_size=26, members=64, epochs=100,
                      measure_at=[0, 10, 20, 50, 100], candidates=1023, permuted=64, samples=4000, seeds=[0], count_bits=10),
            enumeration=dict(model="EleutherAI/pythia-1b", lr=1e-5, length=8, alphabet_size=4, members=8, epochs=100,
                             measure_at=[0, 20, 50, 100], candidates=100, permuted=16, samples=2000, seeds=[0],
                             enumerate=True),
            fprs=[0.01, 0.001],
        ),
    },
    "06_capacity": {
        # Per model (random-init sized tiny models: memlib.models), datasets of uniform random strings holding
        # `data_per_param` bits per parameter, each trained `epochs` epochs in batches of `batch_size` at `lr`
        # (constant), with `n_test_strings` held-out strings (the attack's non-members); once per precision.
        "smoke": dict(
            models=["tiny-llama-w8-l1", "tiny-llama-w16-l1", "tiny-llama-w24-l1"], data_per_param=[0.5, 2.0],
            alphabet_size=26, length=16, epochs=30, lr=3e-3, batch_size=8, n_test_strings=20, seeds=[0],
            eval_every=[0, 10, 20, 30], precisions=["fp32"], window=10, tol=0.05,
        ),
        "default": dict(
            models=["tiny-llama-w8-l1", "tiny-llama-w16-l1", "tiny-llama-w24-l1", "tiny-llama-w32-l1",
                    "tiny-llama-w40-l1"],
            data_per_param=[0.5, 1.5, 3.0], alphabet_size=26, length=32, epochs=120, lr=3e-3, batch_size=8,
            n_test_strings=100, seeds=[0], eval_every=[0, 30, 60, 90, 120], precisions=["fp32"], window=50, tol=0.05,
        ),
        "cpu-long": dict(
            models=["tiny-llama-w8-l1", "tiny-llama-w16-l1", "tiny-llama-w32-l1", "tiny-llama-w48-l1",
                    "tiny-llama-w64-l1", "tiny-llama-w64-l2"],
            data_per_param=[0.5, 2.0, 4.0], alphabet_size=26, length=32, epochs=300, lr=3e-3, batch_size=8,
            n_test_strings=100, seeds=[0], eval_every=[0, 50, 100, 200, 300], precisions=["fp32"], window=50,
            tol=0.05,
        ),
        # GPU scale, as Morris et al. (GPT-style models of 0.5M-1.5B parameters, to convergence, fp32 and bf16):
        # sized Llama configurations from about 0.1M to 25M parameters (none from the hub: random weights).
        "paper": dict(
            models=["tiny-llama-w64-l2", "tiny-llama-w128-l4", "tiny-llama-w256-l4", "tiny-llama-w384-l8",
                    "tiny-llama-w512-l8"],
            data_per_param=[0.5, 1.0, 2.0, 4.0, 8.0], alphabet_size=26, length=64, epochs=2000, lr=1e-3,
            batch_size=256, n_test_strings=1000, seeds=[0], eval_every="auto", precisions=["fp32", "bf16"],
            window=200, tol=0.02,
        ),
    },
}


# Every preset of a notebook that trains also sets `precision` (memlib.hardware): "fp32" at the presets that run
# on CPUs, so that no result depends on whether the CPU has native bf16 (a CPU with native bf16 may ask for
# "bf16" or "auto"), and "auto" at the paper preset (bf16 autocast on GPUs with bf16, as HF Trainer's bf16=True).
for _notebook, _table in PRESETS.items():
    if _notebook not in ("00_explorer", "06_capacity"):  # 06 names its precisions (a list)
        for _name, _params in _table.items():
            _params["precision"] = "auto" if _name == "paper" else "fp32"


def resolve(notebook: str, preset: str, **overrides) -> dict:
    """The preset's parameters with the non-None ``overrides`` applied."""
    if notebook not in PRESETS:
        raise ValueError(f"notebook {notebook!r} has no presets: use one of {', '.join(PRESETS)}")
    table = PRESETS[notebook]
    if preset not in table:
        raise ValueError(f"preset={preset!r} is not allowed for {notebook}: use one of {', '.join(table)}")
    params = copy.deepcopy(table[preset])
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for {notebook}: allowed are {', '.join(sorted(params))}")
    params.update({k: v for k, v in overrides.items() if v is not None})
    params["preset"] = preset
    return params


# Presets whose runs a notebook records in the run store under its own name (what the explorer's notebook
# filter lists). Another preset's runs (cpu-long) are recorded as "<notebook>.<preset>", so that notebook 00
# tells them apart from the default preset's runs of the same notebook.
_OWN_NAME = ("smoke", "default", "paper")


def store_label(notebook: str, preset: str) -> str:
    """The name under which ``notebook`` run at ``preset`` records its runs (``RunStore(notebook=...)``)."""
    return notebook if preset in _OWN_NAME else f"{notebook}.{preset}"


def _doublings(last: int) -> list[tuple[int, int]]:
    """Epoch 0, then [1, 1], [2, 3], [4, 7], ... up to ``last``: where a curve that moves early is sampled."""
    spans, lo = [(0, 0)], 1
    while lo <= last:
        spans.append((lo, min(2 * lo - 1, last)))
        lo *= 2
    return spans


def heldout_gaps(notebook: str, params: dict) -> list[str]:
    """Where a notebook's runs would not evaluate their held-out strings at epochs its figures and verdict
    read them (empty: none). What each notebook reads:

    * 01 and 02: the held-out curves in the dynamics figure, the guessing band of :mod:`memlib.milestones` and
      the memorisation gain of :mod:`memlib.difficulty` are interpolated between evaluations. They move
      while the distribution is learnt, early for a pretrained model and late for random weights. Hence
      epoch 0, the last, and at least one evaluation in every doubling of the epoch count (1, 2-3, 4-7,
      8-15, ...);
    * 03: the untrained baseline and the end (the probes read the trained strings only): epochs 0 and last.

    Nothing can be missed in the others, so they report no gaps: notebook 04's retention reads the held-out
    level at stage boundaries, where a schedule always evaluates its held-out strings whatever
    ``eval_every`` is; notebook 05's runs evaluate them exactly at ``measure_at``, the epochs its figures
    read (``privacy.specs`` refuses epochs a run does not reach); notebook 00 trains nothing.
    """
    from .training import eval_epochs

    gaps = []
    if notebook not in ("01_dynamics", "02_string_difficulty", "03_local_prefix_global_context"):
        return gaps
    for model in dict.fromkeys(params["models"] + params.get("compare_models", [])):
        for length in model_lengths(params, model):
            at = f" at {length} characters" if "lengths" in params else ""
            epochs = per_model(per_length(params["epochs"], length), model)
            schedule = params["eval_every"]
            tokens = length + 1  # BOS and the characters: what the "auto" schedule weighs
            done = set(eval_epochs(epochs, schedule, train_tokens=params.get("n_train_strings", 1) * tokens,
                                   test_tokens=params["n_test_strings"] * tokens))
            if notebook in ("01_dynamics", "02_string_difficulty"):
                for lo, hi in _doublings(epochs):
                    if not done & set(range(lo, hi + 1)):
                        gaps.append(f"{model}: no held-out evaluation at epochs {lo}-{hi} of 0-{epochs}" if hi > lo else
                                    f"{model}: no held-out evaluation at epoch {lo} of 0-{epochs}")
            else:
                missing = sorted({0, epochs} - done)
                if missing:
                    gaps.append(f"{model}{at}: no held-out evaluation at epochs {missing} of 0-{epochs}")
    return gaps


def check_heldout(notebook: str, params: dict) -> list[str]:
    """:func:`heldout_gaps`, all in one warning (parameters that leave gaps still run: the figures then
    interpolate over them)."""
    import warnings

    gaps = heldout_gaps(notebook, params)
    if gaps:
        warnings.warn(f"{notebook}: {'; '.join(gaps)}; its figures interpolate there", stacklevel=2)
    return gaps


