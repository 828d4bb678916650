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

cargo test -q --release -p daedalus-replay >"$log" 2>&1
rc=$?
p=$(sed -nE 's/^test result: .* ([0-9]+) passed; ([0-9]+) failed.*/\1/p' "$log" | paste -sd+ | bc)
f=$(sed -nE 's/^test result: .* ([0-9]+) passed; ([0-9]+) failed.*/\2/p' "$log" | paste -sd+ | bc)
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
if [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
	failed=$((failed + 1))
	tail -n 40 "$log"
fi
grep -E "ERROR: AddressSanitizer|runtime error:" "$log" && failed=$((failed + 1))

bin="$CARGO_TARGET_DIR/release/daedalus-replay"
for core in $("$bin" cores | awk '{print $1}'); do
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
