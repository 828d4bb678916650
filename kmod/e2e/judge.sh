# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# How run.sh counts e2e checks: each check is a NAME with an optional
# DETAIL (the text after "NAME: " on a FAIL line). Sourced, not run; needs
# E2E. known-failures keeps the count honest: a listed check that fails
# with the listed symptom (its FAIL text matches the entry's pattern) is
# KNOWN and not counted as failed; one that fails with any other text
# fails ("the symptom changed"); one that passes is XPASS, counted as
# passed, and its line can go.

passed=0
failed=0
known=0
KNOWN_FAILURES=${DAEDALUS_E2E_KNOWN_FAILURES:-$E2E/known-failures}

# known_entry NAME: "REASON<tab>PATTERN" of NAME's known-failures line.
known_entry() {
	[ -f "$KNOWN_FAILURES" ] || return 1
	awk -F'\t' -v n="$1" '!/^#/ && $1 == n { print $2 "\t" $3; found = 1; exit }
		END { exit !found }' "$KNOWN_FAILURES"
}

# show NAME [DETAIL]: the check as one line.
show() {
	if [ -n "${2:-}" ]; then printf '%s: %s' "$1" "$2"; else printf '%s' "$1"; fi
}

pass() {
	passed=$((passed + 1))
	if known_entry "$1" >/dev/null; then
		echo "XPASS $(show "$@") [listed as a known failure: remove it from kmod/e2e/known-failures]"
		return
	fi
	echo "ok   $(show "$@")"
}

fail() {
	local entry reason pattern
	if entry=$(known_entry "$1"); then
		reason=${entry%%$'\t'*}
		pattern=${entry#*$'\t'}
		if [ -z "$pattern" ]; then
			failed=$((failed + 1))
			echo "FAIL $(show "$@") [its known-failures line has no symptom pattern (third column): it excuses nothing]"
			return
		fi
		if printf '%s\n' "${2:-}" | grep -Eq -- "$pattern"; then
			known=$((known + 1))
			echo "KNOWN $(show "$@") [$reason]"
			return
		fi
		failed=$((failed + 1))
		echo "FAIL $(show "$@") [listed as a known failure, but the symptom changed: the FAIL text does not match /$pattern/]"
		return
	fi
	failed=$((failed + 1))
	echo "FAIL $(show "$@")"
}

# judge_guest RESULTS: every PASS/FAIL line the guest wrote.
judge_guest() {
	local results=$1 line rest name detail
	if [ -f "$results" ]; then
		while IFS= read -r line; do
			case "$line" in
			PASS\ * | FAIL\ *)
				rest=${line#* }
				# Check names never hold ": "; the detail follows the first.
				name=${rest%%: *}
				detail=
				[ "$name" = "$rest" ] || detail=${rest#*: }
				case "$line" in
				PASS\ *) pass "$name" "$detail" ;;
				*) fail "$name" "$detail" ;;
				esac
				;;
			TIME\ *) e2e_log "group ${line#TIME } s" ;;
			esac
		done <"$results"
	fi
}

finish() {
	[ "$known" -eq 0 ] || echo "e2e: $known known failure(s), listed in kmod/e2e/known-failures"
	echo "e2e: $passed passed, $failed failed"
	exit "$1"
}
