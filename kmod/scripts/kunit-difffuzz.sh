#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Long differential fuzzing (`make kunit-difffuzz N=... SECONDS=...`): the
# kunit stage's differential fuzzing in batches of N generated scenarios
# from successive seeds, each batch run on the real module in QEMU and on
# the userspace executor, until SECONDS have passed or a batch diverges.
# A divergence stops the run with the scenario printed by the kernel
# (target/kunit/console.log) and the batch's seed, which repeats it:
#   DAEDALUS_DIFFFUZZ_SEED=SEED DAEDALUS_DIFFFUZZ_N=N make kunit
# Environment: DIFFFUZZ_N (default 2000), DIFFFUZZ_SECONDS (default 3600),
# DIFFFUZZ_SEED (first seed, default: the time, printed).
# Last line: `kunit-difffuzz: N passed, N failed` (batches).
set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
n=${DIFFFUZZ_N:-2000}
budget=${DIFFFUZZ_SECONDS:-3600}
seed=${DIFFFUZZ_SEED:-$(date +%s)}
for v in "$n" "$budget" "$seed"; do
	case $v in '' | *[!0-9]*)
		echo "kunit-difffuzz: N, SECONDS and SEED must be whole numbers, not '$v'" >&2
		echo "kunit-difffuzz: 0 passed, 1 failed"
		exit 2 ;;
	esac
done
echo "kunit-difffuzz: batches of $n from seed $seed for ${budget}s"
start=$SECONDS
passed=0
failed=0
while [ $((SECONDS - start)) -lt "$budget" ]; do
	t0=$SECONDS
	if DAEDALUS_DIFFFUZZ_N=$n DAEDALUS_DIFFFUZZ_SEED=$seed DAEDALUS_DIFFFUZZ_CORPUS_SAMPLE=0 \
		DAEDALUS_KUNIT_FILTER=daedalus_replay_module \
		bash "$SCRIPT_DIR/kunit.sh" >"$ROOT/target/kunit-difffuzz.log" 2>&1; then
		passed=$((passed + 1))
		echo "kunit-difffuzz: seeds $seed..$((seed + n - 1)): same on the kernel ($((SECONDS - t0))s)"
	else
		failed=$((failed + 1))
		echo "kunit-difffuzz: seeds $seed..$((seed + n - 1)) diverge or fail (target/kunit-difffuzz.log, target/kunit/console.log):"
		grep -E 'generated/.*differ|io logs differ|outcome logs differ' "$ROOT/target/kunit/console.log" | head -n 5
		break
	fi
	seed=$((seed + n))
done
echo "kunit-difffuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
