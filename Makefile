# Two commands a new user needs (see README): `make run` and `make test`.
SHELL := /bin/bash
# One build folder outside the clone, so repeated runs and CI stay warm.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/triggerlab/target

.PHONY: run test setup build

setup:
	@bash scripts/setup.sh

# Setup, release build, then the studio on the built-in demo. Checks for a display first, so a
# headless machine is told at once instead of after a long build.
run:
	@if [[ -z "$${DISPLAY}$${WAYLAND_DISPLAY}" ]]; then \
	  echo "make run: no display (neither DISPLAY nor WAYLAND_DISPLAY is set); run it in a desktop session" >&2; exit 1; fi
	@bash scripts/setup.sh
	cargo build --release --locked
	"$(CARGO_TARGET_DIR)/release/triggerlab"

# Setup, formatting, lints, then every test (GUI tests under Xvfb + lavapipe when there is no display).
test: setup
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings
	bash scripts/test.sh

build: setup
	cargo build --release --locked
