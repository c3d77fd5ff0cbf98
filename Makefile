# atx — see README.md. `make table1` (main job) and `make test` (tests) set everything up.
SHELL := /bin/bash
APT_PACKAGES := libopenblas-dev libsqlite3-dev zlib1g-dev pkg-config dataset-fashion-mnist
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

test: deps
	swift build --build-tests
	swift test

bench: build
	$(ATX) bench

table1 table2 table3: build
	@echo "make $@: the experiment grid is not built yet (see the open issues); the engine is: try 'make bench'."
	@exit 2

clean:
	rm -rf .build
