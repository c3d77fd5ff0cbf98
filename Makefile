# atx — see README.md. `make table1` (main job) and `make test` (tests) set everything up.
SHELL := /bin/bash
APT_PACKAGES := libopenblas-dev libsqlite3-dev sqlite3 zlib1g-dev libjpeg62-turbo-dev pkg-config dataset-fashion-mnist python3 python3-venv
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RELEASE := swift build -c release
ATX := .build/release/atx

.PHONY: deps build test test-venv fixtures bench bench-torch table1 table2 table3 table4 clean

# Installs the Debian packages the build and the default dataset need, only when missing.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	fi

build: deps
	$(RELEASE)

# Python virtual environments under .build/ with torch, safetensors and numpy: TEST_VENV for
# the interop tests, TORCH_VENV for `make fixtures` (point either at an existing venv that has
# them, e.g. TORCH_VENV=/path/to/venv; such a venv is used as it is, never modified).
# torch comes as the small CPU wheel when pip finds it (TORCH_CPU), else as plain `torch`.
# Idempotent: a venv made here is marked ready and not touched again.
PYTHON ?= python3
TEST_VENV ?= .build/venv-test
TORCH_VENV ?= .build/venv-torch
TORCH_CPU ?= torch==2.13.0+cpu
define python_venv
	@if [ -f $(1)/.atx-ready ] || $(1)/bin/python -c 'import torch, safetensors, numpy' 2>/dev/null; then :; else \
	  echo "setting up $(1): torch, safetensors, numpy"; \
	  $(PYTHON) -m venv $(1) && \
	  $(1)/bin/python -m pip install -q safetensors numpy && \
	  { $(1)/bin/python -m pip install -q '$(TORCH_CPU)' || $(1)/bin/python -m pip install -q torch; } && \
	  $(1)/bin/python -c 'import torch, safetensors, numpy' && touch $(1)/.atx-ready; \
	fi
endef

# The JPEG tests compare against Pillow, the ResNet tests against torchvision (the release that
# goes with TORCH_CPU, else plain `torchvision`): added to a venv made here, asked for in one given.
TORCHVISION ?= torchvision==0.28.0
test-venv:
	$(call python_venv,$(TEST_VENV))
	@$(TEST_VENV)/bin/python -c 'import PIL' 2>/dev/null || \
	  { [ -f $(TEST_VENV)/.atx-ready ] && echo "adding pillow to $(TEST_VENV)" && $(TEST_VENV)/bin/python -m pip install -q pillow; } || \
	  { echo "$(TEST_VENV) has no Pillow, which the JPEG tests need: pip install pillow there"; exit 1; }
	@$(TEST_VENV)/bin/python -c 'import torchvision' 2>/dev/null || \
	  { [ -f $(TEST_VENV)/.atx-ready ] && echo "adding torchvision to $(TEST_VENV)" && \
	    { $(TEST_VENV)/bin/python -m pip install -q '$(TORCHVISION)' || $(TEST_VENV)/bin/python -m pip install -q torchvision; }; } || \
	  { echo "$(TEST_VENV) has no torchvision, which the ResNet tests need: pip install torchvision there"; exit 1; }

# Unit tests (debug build; the Python interop tests use TEST_VENV), then end-to-end checks on
# the release binary: crash safety of the runner, the OpenBLAS kernel-set choice, diverging runs
# recorded as such, `make table1 PROFILE=smoke` into a temporary database, and the smoke grid on
# a real single-node Slurm (installs slurm-wlm and munge; needs root).
test: deps test-venv
	swift build --build-tests
	ATX_PYTHON="$(abspath $(TEST_VENV))/bin/python" swift test
	$(RELEASE)
	scripts/crash-test
	scripts/blas-selection-test
	scripts/divergence-test
	scripts/table-smoke-test
	scripts/table4-smoke-test
	scripts/slurm-test

# Regenerates reference/fixtures (and its MANIFEST) from reference/make_fixtures.py; the same
# seeds give the same bytes, so `make fixtures && git status` shows no change.
fixtures:
	$(call python_venv,$(TORCH_VENV))
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0 $(TORCH_VENV)/bin/python reference/make_fixtures.py

# `make bench` prints ours next to PyTorch when `make bench-torch` has set up BENCH_VENV: the
# PyTorch a new user gets from PyPI (`pip install torch`, a large download), in its own venv.
BENCH_VENV ?= .build/venv-bench

bench: build
	$(ATX) bench $(if $(wildcard $(BENCH_VENV)/bin/python),--torch-python $(BENCH_VENV)/bin/python,--torch-python none)

bench-torch: build
	@$(BENCH_VENV)/bin/python -c "import torch" 2>/dev/null || \
	  { echo "setting up $(BENCH_VENV): torch from PyPI"; $(PYTHON) -m venv $(BENCH_VENV) && $(BENCH_VENV)/bin/python -m pip install -q torch; }
	$(ATX) bench --torch-python $(BENCH_VENV)/bin/python

# `make table1 [PROFILE=quick|paper|smoke] [JOBS=2] [THREADS=1]`: runs what the grid still needs
# (printing the plan first), then renders results/table1.md from the database.
PROFILE ?= quick
JOBS ?= 2
THREADS ?= 1
DB ?= results/results.db
TABLE_OUT ?= results/$@.md
RUNS_DIR ?= results/runs

table1 table2 table3: build
	$(ATX) run experiments/$@.yaml --profile $(PROFILE) --jobs $(JOBS) --threads $(THREADS) --db $(DB) --runs-dir $(RUNS_DIR) || status=$$?; \
	$(ATX) table experiments/$@.yaml --profile $(PROFILE) --db $(DB) --out $(TABLE_OUT) && exit $${status:-0}

# `make table4 [PROFILE=paper|smoke]`: Table 4 needs CUB-200-2011, MIT Indoor-67 and torchvision's
# ImageNet weights (README "Table 4"); without them `atx run` exits 66 saying what to download and
# where to put it, writes nothing, and no table is rendered. PROFILE defaults to paper here.
table4: build
	$(ATX) run experiments/$@.yaml --profile $(if $(filter command line,$(origin PROFILE)),$(PROFILE),paper) --jobs $(JOBS) --threads $(THREADS) --db $(DB) --runs-dir $(RUNS_DIR) || status=$$?; \
	if [ "$${status:-0}" = 66 ]; then exit 66; fi; \
	$(ATX) table experiments/$@.yaml --profile $(if $(filter command line,$(origin PROFILE)),$(PROFILE),paper) --db $(DB) --out $(TABLE_OUT) && exit $${status:-0}

clean:
	rm -rf .build
