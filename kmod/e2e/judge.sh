# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# How run.sh counts e2e checks: each check is a NAME with an optional
# DETAIL (the text after "NAME: " on a FAIL line). Sourced, not run; needs
# E2E. Two lists keep the count honest:
#
# - known-failures: a listed check that fails with the listed symptom (its
#   FAIL text matches the entry's pattern) is KNOWN and not counted as
#   failed; one that fails with any other text fails ("the symptom
#   changed"); one that passes is XPASS, counted as passed, and its line
#   can go.
# - expected-checks: every check the guest runs. One the guest did not
#   report fails (a group not run, a guest that died half way, a check
#   lost on the way), and so does one it reported that is not listed.
#
# Every check is also a KTAP result line (as KUnit and kselftest write
# them), written to $E2E_KTAP (default target/e2e/results.ktap) by finish:
# "ok N name", "not ok N name # detail", a known failure as
# "not ok N name # XFAIL reason", so KernelCI-style tools read the stage.

passed=0
failed=0
known=0
ktap_n=0
ktap_lines=

# ktap RESULT NAME [DIRECTIVE]: one KTAP result line. A KTAP description
# holds no "#", and one line is one line.
ktap() {
	local name=${2//#/_} dir=${3:-}
	ktap_n=$((ktap_n + 1))
	name=${name//$'\n'/ }
	dir=${dir//$'\n'/ }
	ktap_lines+="$1 $ktap_n $name${dir:+ # $dir}"$'\n'
}

# ktap_write FILE: the KTAP document of every check so far.
ktap_write() {
	mkdir -p "$(dirname "$1")"
	{
		echo "KTAP version 1"
		echo "1..$ktap_n"
		printf '%s' "$ktap_lines"
	} >"$1"
}
KNOWN_FAILURES=${DAEDALUS_E2E_KNOWN_FAILURES:-$E2E/known-failures}
EXPECTED_CHECKS=${DAEDALUS_E2E_EXPECTED_CHECKS:-$E2E/expected-checks}

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
	ktap ok "$1"
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
			ktap "not ok" "$1" "${2:-} (a known-failures line without a symptom pattern)"
			echo "FAIL $(show "$@") [its known-failures line has no symptom pattern (third column): it excuses nothing]"
			return
		fi
		if printf '%s\n' "${2:-}" | grep -Eq -- "$pattern"; then
			known=$((known + 1))
			ktap "not ok" "$1" "XFAIL $reason"
			echo "KNOWN $(show "$@") [$reason]"
			return
		fi
		failed=$((failed + 1))
		ktap "not ok" "$1" "${2:-} (the known failure's symptom changed)"
		echo "FAIL $(show "$@") [listed as a known failure, but the symptom changed: the FAIL text does not match /$pattern/]"
		return
	fi
	failed=$((failed + 1))
	ktap "not ok" "$1" "${2:-}"
	echo "FAIL $(show "$@")"
}

# judge_guest RESULTS...: every PASS/FAIL line the guests wrote, then the
# expected-checks list against the names seen in any of them.
judge_guest() {
	local results line rest name detail seen=
	for results in "$@"; do
		[ -f "$results" ] || continue
		while IFS= read -r line; do
			case "$line" in
			PASS\ * | FAIL\ *)
				rest=${line#* }
				# Check names never hold ": "; the detail follows the first.
				name=${rest%%: *}
				detail=
				[ "$name" = "$rest" ] || detail=${rest#*: }
				seen+="$name"$'\n'
				case "$line" in
				PASS\ *) pass "$name" "$detail" ;;
				*) fail "$name" "$detail" ;;
				esac
				;;
			TIME\ *) e2e_log "group ${line#TIME } s" ;;
			esac
		done <"$results"
	done
	expected_checks "$seen"
}

# expected_checks SEEN: SEEN holds one reported check name a line.
expected_checks() {
	local seen=$1 group check name listed=
	if [ ! -f "$EXPECTED_CHECKS" ]; then
		fail "expected checks" "no $EXPECTED_CHECKS"
		return
	fi
	while IFS=$'\t' read -r group check; do
		case "$group" in '' | \#*) continue ;; esac
		listed+="$check"$'\n'
		# Families (a '*' in the name) are reported only when they fail.
		case "$check" in *\**) continue ;; esac
		if ! grep -qxF -- "$check" <<<"$seen"; then
			if grep -qxF -- "group-$group" <<<"$seen"; then
				fail "$check" "not reported: group $group was not run (see group-$group)"
			else
				fail "$check" "not reported by the guest (group $group${DAEDALUS_E2E_GROUPS:+; DAEDALUS_E2E_GROUPS=$DAEDALUS_E2E_GROUPS}); every check in kmod/e2e/expected-checks must run"
			fi
		fi
	done <"$EXPECTED_CHECKS"
	while IFS= read -r name; do
		[ -n "$name" ] || continue
		local known_name=0 pat
		while IFS= read -r pat; do
			[ -n "$pat" ] || continue
			# shellcheck disable=SC2053 # a listed family is a glob
			if [[ "$name" == $pat ]]; then
				known_name=1
				break
			fi
		done <<<"$listed"
		[ "$known_name" = 1 ] ||
			fail "unlisted check $name" "the guest reported a check kmod/e2e/expected-checks does not list: add it there"
	done < <(sort -u <<<"$seen")
}

finish() {
	local ktap_file=${E2E_KTAP:-${OUT:-${ROOT:-.}/target/e2e}/results.ktap}
	ktap_write "$ktap_file"
	echo "e2e: KTAP report in $ktap_file"
	[ "$known" -eq 0 ] || echo "e2e: $known known failure(s), listed in kmod/e2e/known-failures"
	echo "e2e: $passed passed, $failed failed"
	exit "$1"
}
