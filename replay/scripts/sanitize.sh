#!/usr/bin/env bash
# Replays with the job core and codec built with AddressSanitizer and
# UndefinedBehaviorSanitizer: the replay tests, then every trace under
# traces/ on every compiled core (clean on "real", a violation on each
# mutant, and no sanitizer report anywhere). Its own target directory keeps
# the normal build untouched.
set -uo pipefail
cd "$(dirname "$0")/../.."

export DAEDALUS_SANITIZE=1
export CARGO_TARGET_DIR=target/sanitize
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$PWD/replay/scripts/lsan.supp
mkdir -p "$CARGO_TARGET_DIR"
log="$CARGO_TARGET_DIR/sanitize.log"
passed=0
failed=0

if ! cargo build -q --release -p daedalus-replay --all-targets; then
	echo "replay-sanitize: 0 passed, 1 failed"
	exit 1
fi

# A sanitizer report aborts its test binary, which then prints no result
# line: scripts/cargo-test-count.sh counts it from the exit status and
# names it. --no-fail-fast: the binaries after it run too.
cargo test -q --release --no-fail-fast -p daedalus-replay >"$log" 2>&1
rc=$?
read -r p f < <(bash scripts/cargo-test-count.sh replay-sanitize "$log" "$rc")
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-1}))
[ $rc -eq 0 ] || tail -n 40 "$log"
grep -E "ERROR: AddressSanitizer|runtime error:" "$log" && failed=$((failed + 1))

bin="$CARGO_TARGET_DIR/release/daedalus-replay"
# Every core: the real one and one per patch in replay/mutants/. A list
# that came out short (or empty) would pass by checking less.
cores=$("$bin" cores | awk '{print $1}')
want=$(($(find replay/mutants -name '*.patch' | wc -l) + 1))
got=$(printf '%s\n' "$cores" | grep -c .)
if [ "$got" -eq "$want" ] && printf '%s\n' "$cores" | grep -qx real; then
	passed=$((passed + 1))
	echo "sanitized build has $got cores: real and one per replay/mutants/*.patch"
else
	failed=$((failed + 1))
	echo "sanitized build lists $got cores ($(tr "\n" " " <<<"$cores")), expected real and one per replay/mutants/*.patch ($want)"
fi
for core in $cores; do
	out=$("$bin" check --core "$core" traces/ 2>&1)
	rc=$?
	if [ "$core" = real ]; then want=0; else want=1; fi
	if [ $rc -eq $want ] && ! grep -qE "AddressSanitizer|runtime error:" <<<"$out"; then
		passed=$((passed + 1))
		echo "sanitized check --core $core: exit $rc as expected"
	else
		failed=$((failed + 1))
		echo "sanitized check --core $core: exit $rc, expected $want"
		echo "$out" | tail -n 30
	fi
done

echo "replay-sanitize: $passed passed, $failed failed"
[ $failed -eq 0 ]
