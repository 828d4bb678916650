#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Stage `e2e`: the whole stack in QEMU/TCG with real clients. Boots the test
# kernel (kernel.sh build; daedalus built in, virtme-ng guest bits) under
# `vng --run` with the host's userland over 9p, two guests at once, each
# with a share of the check groups (DAEDALUS_E2E_GUESTS=1: one), and runs
# guest.sh in it: daedalusd (ffmpeg backend) on /dev/daedalus, then v4l2-compliance,
# ffmpeg h264_v4l2m2m, GStreamer v4l2h264dec, v4l2-ctl, two clients,
# close/kill mid-stream, daemon killed and restarted, garbage on the
# chardev and from the scripted backend. Each client's run is recorded
# from tracefs (daedalus:*, v4l2:*, vb2:*).
#
# Then, on the host: every recorded trace is imported with
# `daedalus-replay import` and must replay clean with `daedalus-replay
# check`; the guest's kernel log must hold no KASAN, lockdep, list-debug,
# WARN or BUG report.
#
# Outputs under target/e2e/run/ and run2/ (one a guest): results (one line
# a check), console.log, dmesg, stats, logs/, traces/ (the recordings),
# scn/ (their scenarios).
# Environment: DAEDALUS_E2E_KERNEL (a bzImage to boot instead of building),
# DAEDALUS_E2E_GROUPS (guest check groups, default all but bench, in one
# guest; the checks of kmod/e2e/expected-checks that a smaller set leaves
# out fail), DAEDALUS_E2E_GUESTS (2, the default: two guests at once; 1:
# one guest runs every group).
# Last line: `e2e: N passed, N failed`.
set -uo pipefail

E2E_STAGE=e2e
# shellcheck source=kmod/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Counting (pass, fail, finish), known failures by symptom and the list of
# expected checks: judge.sh.
# shellcheck source=kmod/e2e/judge.sh
. "$E2E/judge.sh"

t_start=$SECONDS
# The judge itself first, on made-up results (kmod/e2e/judge-test.sh).
mkdir -p "$OUT"
if bash "$E2E/judge-test.sh" >"$OUT/judge-test.log" 2>&1; then
	pass "judge self-test"
else
	fail "judge self-test" "$(tail -n1 "$OUT/judge-test.log")"
fi
ensure_tools || { fail "tools"; finish 1; }
ensure_binaries || { fail "cargo build (daedalusd, daedalus-replay)"; finish 1; }
ensure_clips || { fail "clips"; finish 1; }
t_kernel=$SECONDS
ensure_kernel || { fail "test kernel"; finish 1; }
e2e_log "kernel $KERNEL ready in $((SECONDS - t_kernel)) s"

# Two guests at once (DAEDALUS_E2E_GUESTS, default 2), each with a share
# of the groups of about equal length: under TCG one guest keeps about
# one of its two vCPUs busy (46% of this 2-core machine over a whole run,
# BENCHMARKS.md), so a second runs on what the first leaves. Every client
# then runs slower; with the guest's root cached (lib.sh), the longest
# stretch between two checks of a run of both took 36 s (the scripted
# garbage client's, 30 s of it a wait), against a client timeout of
# 90 s. DAEDALUS_E2E_GUESTS=1, or DAEDALUS_E2E_GROUPS (those named), run
# one guest.
if [ -n "${DAEDALUS_E2E_GROUPS:-}" ] || [ "${DAEDALUS_E2E_GUESTS:-2}" = 1 ]; then
	SHARES=("${DAEDALUS_E2E_GROUPS:-}")
else
	SHARES=("compliance clients stateless gst" "ffmpeg streams faults")
fi
RUNS=()
for i in "${!SHARES[@]}"; do
	RUNS+=("$OUT/run$([ "$i" -eq 0 ] || echo $((i + 1)))")
done
rm -rf "$OUT"/run[0-9]*
t_boot=$SECONDS
for i in "${!SHARES[@]}"; do
	# shellcheck disable=SC2086
	boot_guest "${RUNS[$i]}" ${SHARES[$i]} &
done
wait
boot_s=$((SECONDS - t_boot))
e2e_log "guest run: $boot_s s (${#RUNS[@]} guest(s) at once)"

# guest_label RUN: "" for the first guest's checks, " (run2)" for the
# second's: the host's checks of each guest have names of their own.
guest_label() {
	[ "$1" = "${RUNS[0]}" ] || echo " ($(basename "$1"))"
}
for RUN in "${RUNS[@]}"; do
	if [ -f "$RUN/finished" ]; then
		pass "guest ran to the end$(guest_label "$RUN")"
	else
		fail "guest ran to the end$(guest_label "$RUN")" "no ${RUN#"$ROOT"/}/finished: hung, crashed or timed out; see console.log"
		tail -n 30 "$RUN/console.log" >&2
	fi
done

# The guests' checks, and every check of kmod/e2e/expected-checks among
# them (DAEDALUS_E2E_GROUPS can pick fewer groups: their checks then fail
# as not reported). Each guest reports the checks before the groups.
results=()
for RUN in "${RUNS[@]}"; do results+=("$RUN/results"); done
judge_guest "${results[@]}"

# The kernel log: from the console (complete even if the guest died).
for RUN in "${RUNS[@]}"; do
	grep -nE "$SPLATS" "$RUN/console.log" >"$RUN/splats.txt"
	if [ -s "$RUN/splats.txt" ]; then
		fail "kernel log clean$(guest_label "$RUN")" "$(wc -l <"$RUN/splats.txt") report line(s), ${RUN#"$ROOT"/}/splats.txt"
		head -n 20 "$RUN/splats.txt" >&2
	else
		pass "kernel log clean$(guest_label "$RUN")" "no KASAN/lockdep/list/WARN/BUG report"
	fi
done

for RUN in "${RUNS[@]}"; do
	# Every recording replays clean on the userspace executor.
	mkdir -p "$RUN/scn"
	for t in "$RUN"/traces/*.trace; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .trace)
		grep -q ' daedalus_' "$t" || continue
		dir=$RUN/scn/$name
		mkdir -p "$dir"
		if ! "$REPLAY" import "$t" --out "$dir" 2>"$dir/import.log"; then
			fail "replay $name" "import failed ($(tail -n1 "$dir/import.log"))"
			continue
		fi
		if ! ls "$dir"/*.scn >/dev/null 2>&1; then
			fail "replay $name" "the trace holds no decoder context ($(tail -n1 "$dir/import.log"))"
		elif ! "$REPLAY" check "$dir" >"$dir/check.log" 2>&1; then
			fail "replay $name" "$(grep -E 'VIOLATION|UNUSABLE' "$dir/check.log" | head -n1)"
		else
			pass "replay $name" "$(tail -n1 "$dir/check.log")"
			# Clean is not enough: the replay must follow the recording. A
			# client QBUF the executor refuses means the imported scenario
			# lost track of the buffers (and every later reply is noise).
			"$REPLAY" check --log "$dir" >"$dir/outcome.log" 2>&1
			refused=$(grep -cE '^(qbuf|dqbuf|streamon|reqbufs) ctx=[0-9]+ -E' "$dir/outcome.log")
			if [ "$refused" -eq 0 ]; then
				pass "replay $name follows the recording"
			else
				fail "replay $name follows the recording" "$refused client call(s) refused in the replay ($(grep -m1 -nE '^(qbuf|dqbuf|streamon|reqbufs) ctx=[0-9]+ -E' "$dir/outcome.log"); scn/$name/outcome.log)"
			fi
		fi
	done

	# A recording also kept as trace-cmd's trace.dat (read with libtracecmd)
	# is scrubbed of kernel pointers as `make record` keeps it (`daedalus-replay
	# scrub`), and the scrubbed file imports to the same scenarios as its
	# tracefs text.
	for raw in "$RUN"/traces/*.dat; do
		[ -f "$raw" ] || continue
		name=$(basename "$raw" .dat)
		dir=$RUN/scn-dat/$name
		mkdir -p "$dir"
		d=$dir/$name.scrubbed.dat
		if ! "$REPLAY" scrub "$raw" -o "$d" 2>"$dir/scrub.log" ||
			! "$REPLAY" scrub --check "$d" >>"$dir/scrub.log" 2>&1; then
			fail "replay $name.dat scrubbed" "$(tail -n1 "$dir/scrub.log")"
			continue
		fi
		pass "replay $name.dat scrubbed" "$(tail -n1 "$dir/scrub.log")"
		if ! "$REPLAY" import "$d" --out "$dir" 2>"$dir/import.log"; then
			fail "replay $name.dat" "import failed ($(tail -n1 "$dir/import.log"))"
			continue
		fi
		differ=0
		for s in "$RUN/scn/$name"/*.scn "$dir"/*.scn; do
			b=$(basename "$s")
			cmp -s "$RUN/scn/$name/$b" "$dir/$b" || differ=$((differ + 1))
		done
		n=$(find "$dir" -name '*.scn' | wc -l)
		if [ "$n" -gt 0 ] && [ "$differ" -eq 0 ]; then
			pass "replay $name.dat imports as its text" "$n scenario(s)"
		else
			fail "replay $name.dat imports as its text" "$differ of the scenarios differ or are missing (scn-dat/$name)"
		fi
	done
done

e2e_log "total $((SECONDS - t_start)) s (guest $boot_s s)"
[ "$failed" -eq 0 ]
finish $?
