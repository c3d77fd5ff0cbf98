# atx — see README.md. `make table1` (main job) and `make test` (tests) set everything up.
SHELL := /bin/bash
APT_PACKAGES := libopenblas-dev libsqlite3-dev sqlite3 zlib1g-dev pkg-config dataset-fashion-mnist
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RELEASE := swift build -c release
ATX := .build/release/atx

.PHONY: deps build test bench table1 table2 table3 clean

# Installs the Debian packages the build and the default dataset need, only when missing.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	fi

build: deps
	$(RELEASE)

# Unit tests (debug build), then end-to-end checks on the release binary: crash safety of
# the runner, diverging runs recorded as such, `make table1 PROFILE=smoke` into a temporary database, and the smoke grid on a
# real single-node Slurm (installs slurm-wlm and munge; needs root).
test: deps
	swift build --build-tests
	swift test
	$(RELEASE)
	scripts/crash-test
	scripts/divergence-test
	scripts/table-smoke-test
	scripts/slurm-test

bench: build
	$(ATX) bench

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

clean:
	rm -rf .build
