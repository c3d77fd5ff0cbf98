# atx — see README.md. `make table1` (main job) and `make test` (tests) set everything up.
SHELL := /bin/bash
APT_PACKAGES := libopenblas-dev libsqlite3-dev sqlite3 zlib1g-dev libjpeg62-turbo-dev pkg-config dataset-fashion-mnist python3 python3-venv
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RELEASE := swift build -c release
ATX := .build/release/atx

.PHONY: deps build venv test fixtures bench bench-torch table1 table2 table3 table4 table5 clean

# Installs the Debian packages the build and the default dataset need, only when missing.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	fi

build: deps
	$(RELEASE)

# One Python virtual environment for everything Python here: the interop and JPEG tests (torch,
# torchvision, safetensors, numpy, Pillow), `make fixtures`, and PyTorch's side of `make bench`.
# Everything from PyPI, as a new user gets it (PyTorch is a large download, once). Point VENV at
# an existing venv that has these to use it as it is.
PYTHON ?= python3
VENV ?= .build/venv
PY_PACKAGES := torch torchvision safetensors numpy pillow
venv:
	@$(VENV)/bin/python -c 'import torch, torchvision, safetensors, numpy, PIL' 2>/dev/null || { \
	  echo "setting up $(VENV): $(PY_PACKAGES) from PyPI"; \
	  $(PYTHON) -m venv $(VENV) && $(VENV)/bin/python -m pip install -q $(PY_PACKAGES) && \
	  $(VENV)/bin/python -c 'import torch, torchvision, safetensors, numpy, PIL'; }

# Unit tests (debug build; the Python interop tests use VENV), then end-to-end checks on
# the release binary: crash safety of the runner, the OpenBLAS kernel-set choice, diverging runs
# recorded as such, `make table1 PROFILE=smoke` (and tables 4 and 5 on generated data) into temporary
# databases, and the smoke grid on a real single-node Slurm (installs slurm-wlm and munge; needs
# root).
test: deps venv
	swift build --build-tests
	ATX_PYTHON="$(abspath $(VENV))/bin/python" swift test
	$(RELEASE)
	scripts/crash-test
	scripts/blas-selection-test
	scripts/divergence-test
	scripts/table-smoke-test
	scripts/table4-smoke-test
	scripts/table5-smoke-test
	scripts/trust-test
	scripts/slurm-test

# Regenerates reference/fixtures (and its MANIFEST) from reference/make_fixtures.py; the same
# seeds give the same bytes, so `make fixtures && git status` shows no change.
fixtures: venv
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0 $(VENV)/bin/python reference/make_fixtures.py

# `make bench` prints ours next to PyTorch once the venv exists (`make bench-torch` sets it up).
bench: build
	$(ATX) bench $(if $(wildcard $(VENV)/bin/python),--torch-python $(VENV)/bin/python,--torch-python none)

bench-torch: build venv
	$(ATX) bench --torch-python $(VENV)/bin/python

# `make table1 [PROFILE=quick|paper|smoke] [JOBS=2] [THREADS=1]`: runs what the grid still needs
# (printing the plan first), then renders results/table1.md from the database. Tables 4 and 5
# have no quick profile (README "Table 4", "Table 5: ImageNet"): their default is paper. When data
# or weights are missing,
# `atx run` exits 66 saying what to download and where to put it, writes nothing, and no table is
# rendered.
TABLES := table1 table2 table3 table4 table5
DEFAULT_PROFILE = quick
table4 table5: DEFAULT_PROFILE = paper
RUN_PROFILE = $(or $(PROFILE),$(DEFAULT_PROFILE))
JOBS ?= 2
THREADS ?= 1
DB ?= results/results.db
TABLE_OUT ?= results/$@.md
# Run directories: by default each database's own (runs/ beside results.db, <name>.runs/ beside <name>.db).
RUNS_DIR ?=

$(TABLES): build
	$(ATX) run experiments/$@.yaml --profile $(RUN_PROFILE) --jobs $(JOBS) --threads $(THREADS) --db $(DB) $(if $(RUNS_DIR),--runs-dir $(RUNS_DIR)) || status=$$?; \
	if [ "$${status:-0}" = 66 ]; then exit 66; fi; \
	$(ATX) table experiments/$@.yaml --profile $(RUN_PROFILE) --db $(DB) --out $(TABLE_OUT) && exit $${status:-0}

clean:
	rm -rf .build
