# daedalus: the two commands are `make run` and `make test`; both set the
# machine up first. Each test stage is a script owned by its component; a
# stage whose script does not exist says so and counts nothing, and under
# CI (CI=true) fails: a stage that cannot run never passes there.

SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
STAGE_LOG := target/stages

# Debian packages every stage needs (bookworm names; trixie sources for the
# test kernel are fetched by kmod/scripts/kernel.sh with its own apt config).
APT_PACKAGES := \
	build-essential pkg-config bc bison flex cpio kmod rsync xz-utils zstd lz4 \
	libelf-dev libssl-dev dwarves python3 \
	clang-19 lld-19 llvm-19 libclang-19-dev libclang-rt-19-dev \
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
	qemu-system-x86 \
	ffmpeg x264 libavcodec-dev libavformat-dev libavutil-dev libswscale-dev \
	libavfilter-dev libavdevice-dev libswresample-dev \
	v4l-utils patchelf gstreamer1.0-tools gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
	gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 python3-gi mpv strace zip unzip \
	libtracecmd-dev libtracefs-dev libtraceevent-dev trace-cmd \
	dkms sparse chromium-headless-shell fonts-dejavu-core \
	systemd

BINDGEN_MIN := 0.71.1

# Test stages in the order `make test` runs them, and the script of each.
STAGES := cargo replay-sanitize kmod kmod-compat kunit kunit-bites fuzz e2e dkms
script_replay-sanitize := replay/scripts/sanitize.sh
script_kmod        := kmod/scripts/build.sh
script_kmod-compat := kmod/scripts/compat.sh
script_kunit       := kmod/scripts/kunit.sh
script_kunit-bites := kmod/scripts/kunit-bites.sh
script_fuzz        := fuzz/run.sh
script_e2e         := kmod/e2e/run.sh
script_dkms        := kmod/scripts/dkms.sh

.PHONY: help setup run test bench $(STAGES)

help:
	@echo "make run    replay every trace under traces/ on the userspace executor"
	@echo "make test   every test stage: $(STAGES)"
	@echo "make bench  benchmarks (results go to BENCHMARKS.md)"
	@echo "make record record field traces from real clients under QEMU"
	@echo "make dkms-install  install the module with DKMS for the running kernel"
	@echo "make setup  install what the other targets need (idempotent)"
	@echo "make STAGE  one test stage"

setup:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "setup: installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@rustup component list --installed 2>/dev/null | grep -q '^rust-src' || rustup component add rust-src
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
	@have=$$(bindgen --version 2>/dev/null | awk '{print $$2}'); \
	if [ -z "$$have" ] || [ "$$(printf '%s\n%s\n' $(BINDGEN_MIN) "$$have" | sort -V | head -1)" != "$(BINDGEN_MIN)" ]; then \
		echo "setup: installing bindgen-cli >= $(BINDGEN_MIN)"; \
		$(CARGO) install --locked bindgen-cli; \
	fi
	@# virtme-ng comes from PyPI; a Debian python3 needs python3-pip and
	@# accepts it only with --break-system-packages (PEP 668).
	@command -v vng >/dev/null || { \
		python3 -m pip --version >/dev/null 2>&1 || \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null; \
		python3 -m pip install -q --root-user-action=ignore virtme-ng==1.42 || \
			python3 -m pip install -q --root-user-action=ignore --break-system-packages virtme-ng==1.42; \
	}
	@echo "setup: ok"

run: setup
	@if [ -f replay/src/main.rs ] || [ -d replay/src/bin ]; then \
		$(CARGO) run --release -q -p daedalus-replay -- check --mutants --report target/report.html traces/; \
	else \
		echo "run: the replay engine is not built yet; nothing was replayed"; \
		exit 1; \
	fi

# One stage: run its script if it exists, keep its log, and insist on the
# "STAGE: N passed, N failed" line; otherwise say it is not built yet
# (a failure under CI=true).
define run_stage
	@mkdir -p $(STAGE_LOG)
	@if [ -f $(script_$(1)) ]; then \
		echo "== $(1) =="; \
		set -o pipefail; \
		bash $(script_$(1)) 2>&1 | tee $(STAGE_LOG)/$(1).log; rc=$$?; \
		if ! grep -Eq '^$(1): [0-9]+ passed, [0-9]+ failed' $(STAGE_LOG)/$(1).log; then \
			echo "$(1): the stage printed no summary line"; rc=1; \
		fi; \
		exit $$rc; \
	else \
		echo "$(1): not built yet"; \
		echo "$(1): not built yet" > $(STAGE_LOG)/$(1).log; \
		if [ "$$CI" = true ]; then \
			echo "$(1): $(script_$(1)) is missing: under CI=true a stage that cannot run fails"; \
			exit 1; \
		fi; \
	fi
endef

$(foreach s,$(filter-out cargo,$(STAGES)),$(eval $(s): ; $$(call run_stage,$(s))))

# The Rust workspace: formatting, clippy and every crate's tests, counted
# from cargo's exit status and its "test result" lines together
# (scripts/cargo-test-count.sh): a test binary killed by a signal prints no
# result line and fails by name. --no-fail-fast: every binary runs.
cargo:
	@mkdir -p $(STAGE_LOG)
	@echo "== cargo =="
	@set -o pipefail; passed=0; failed=0; \
	{ \
		if $(CARGO) fmt --all -- --check; then passed=$$((passed + 1)); echo "cargo fmt: ok"; \
		else failed=$$((failed + 1)); echo "cargo fmt: FAILED"; fi; \
		if $(CARGO) clippy -q --workspace --all-targets -- -D warnings; then passed=$$((passed + 1)); echo "cargo clippy: ok"; \
		else failed=$$((failed + 1)); echo "cargo clippy: FAILED"; fi; \
		$(CARGO) test --workspace --no-fail-fast 2>&1 | tee $(STAGE_LOG)/cargo-test.log; rc=$${PIPESTATUS[0]}; \
		read -r p f < <(bash scripts/cargo-test-count.sh "cargo test" $(STAGE_LOG)/cargo-test.log $$rc); \
		passed=$$((passed + $${p:-0})); failed=$$((failed + $${f:-1})); \
		echo "cargo: $$passed passed, $$failed failed"; \
		[ $$failed -eq 0 ]; \
	} 2>&1 | tee $(STAGE_LOG)/cargo.log

test: setup
	@mkdir -p $(STAGE_LOG); rm -f $(STAGE_LOG)/*.seconds; t_all=$$SECONDS; \
	for s in $(STAGES); do \
		t0=$$SECONDS; $(MAKE) --no-print-directory $$s; rc=$$?; \
		echo $$((SECONDS - t0)) >$(STAGE_LOG)/$$s.seconds; \
		[ $$rc -eq 0 ] || { echo "test: stage $$s failed after $$((SECONDS - t0)) s"; exit 1; }; \
	done; echo $$((SECONDS - t_all)) >$(STAGE_LOG)/total.seconds
	@echo "== summary =="
	@passed=0; failed=0; skipped=0; \
	for s in $(STAGES); do \
		line=$$(grep -E "^$$s: ([0-9]+ passed, [0-9]+ failed|not built yet)" $(STAGE_LOG)/$$s.log | tail -n1); \
		echo "$$line ($$(cat $(STAGE_LOG)/$$s.seconds) s)"; \
		p=$$(sed -nE 's/^.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/p' <<<"$$line"); \
		f=$$(sed -nE 's/^.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/p' <<<"$$line"); \
		k=$$(sed -nE 's/^.*: [0-9]+ passed, [0-9]+ failed, ([0-9]+) skipped.*/\1/p' <<<"$$line"); \
		passed=$$((passed + $${p:-0})); failed=$$((failed + $${f:-0})); skipped=$$((skipped + $${k:-0})); \
	done; \
	t=$$(cat $(STAGE_LOG)/total.seconds); \
	if [ $$skipped -gt 0 ]; then echo "total: $$passed passed, $$failed failed, $$skipped skipped ($$t s)"; \
	else echo "total: $$passed passed, $$failed failed ($$t s)"; fi; \
	[ $$failed -eq 0 ]

# Benchmarks: each component's script prints a markdown section; the run
# is written to target/bench.md, to be copied into BENCHMARKS.md with the
# machine and the date.
BENCH_SCRIPTS := daemon/scripts/bench.sh replay/scripts/bench.sh \
	fuzz/bench.sh kmod/e2e/bench.sh kmod/e2e/bench-startup.sh \
	kmod/scripts/kunit-bench.sh

# Differential fuzzing for nights: batches of N generated scenarios on the
# real module and the userspace executor until SECONDS have passed
# (kmod/scripts/kunit-difffuzz.sh). Not a stage of `make test`.
.PHONY: kunit-difffuzz
kunit-difffuzz: setup
	@DIFFFUZZ_N="$(N)" DIFFFUZZ_SECONDS="$(SECONDS)" DIFFFUZZ_SEED="$(SEED)" \
		bash kmod/scripts/kunit-difffuzz.sh

.PHONY: record dkms-install
bench: setup
	@mkdir -p target
	@{ echo "# benchmark run $$(date -u +%F) on $$(nproc) cores, $$(uname -m), $$(lscpu | sed -n 's/^Model name: *//p')"; \
	for b in $(BENCH_SCRIPTS); do \
		if [ -f $$b ]; then echo; echo "## $$b"; bash $$b || echo "$$b: FAILED (exit $$?)"; \
		else echo; echo "## $$b: not built yet"; fi; \
	done; } 2>&1 | tee target/bench.md

record: setup
	@if [ -f kmod/e2e/record.sh ]; then bash kmod/e2e/record.sh; \
	else echo "record: not built yet"; exit 1; fi

# Install the module with DKMS for the running kernel (docs/install.md);
# `make dkms` is the test stage that only builds the package.
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' kmod/dkms.conf)
dkms-install:
	rm -rf /usr/src/daedalus-$(DKMS_VERSION)
	cp -r kmod /usr/src/daedalus-$(DKMS_VERSION)
	dkms add -m daedalus -v $(DKMS_VERSION) || true
	dkms build -m daedalus -v $(DKMS_VERSION)
	dkms install -m daedalus -v $(DKMS_VERSION)
