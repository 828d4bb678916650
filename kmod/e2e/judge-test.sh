#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of judge.sh on made-up guest results, run by the e2e stage
# before the guest boots: a known failure is excused only with its
# symptom, a check expected but not reported fails, an unlisted one fails,
# the results of two guests are judged together, and the KTAP report
# holds one result line per check (and, where the kernel tree is at hand,
# kunit.py's KTAP parser reads it).
# Exit 0 when every expectation holds; the differences otherwise.
set -uo pipefail

E2E=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '%s\n' 'PASS find-device' \
	'FAIL trace-setup: no tracefs' \
	'FAIL ffmpeg-reschange-decode: ffmpeg exit 124 (logs/ffmpeg-reschange-decode.log)' \
	'FAIL gst-reschange-decode: frame 3 differs' \
	'PASS surprise-check' >"$tmp/results"
printf '# groups\nmain\tfind-device\nmain\ttrace-setup\nmain\tdaemon-attach\nffmpeg\tffmpeg-reschange-decode\ngst\tgst-reschange-decode\n' \
	>"$tmp/expected"
printf '%s\t%s\t%s\n' \
	ffmpeg-reschange-decode 'hangs at reinit' '^ffmpeg exit (124|137) \(logs/ffmpeg-reschange-decode\.log\)$' \
	gst-reschange-decode 'was slow once' '^gst exit 124' >"$tmp/known"

# judge KTAP RESULTS...: the judge's output on those results, its KTAP
# report written to KTAP.
judge() (
	e2e_log() { :; }
	export DAEDALUS_E2E_KNOWN_FAILURES=$tmp/known DAEDALUS_E2E_EXPECTED_CHECKS=$tmp/expected
	export E2E_KTAP=$1
	shift
	# The judge names a smaller set of groups in its messages: not here.
	unset DAEDALUS_E2E_GROUPS
	# shellcheck source=kmod/e2e/judge.sh
	. "$E2E/judge.sh"
	judge_guest "$@"
	finish 0
)
out=$(judge "$tmp/out.ktap" "$tmp/results")

want_ktap='KTAP version 1
1..7
ok 1 find-device
not ok 2 trace-setup # no tracefs
not ok 3 ffmpeg-reschange-decode # XFAIL hangs at reinit
not ok 4 gst-reschange-decode # frame 3 differs (the known failure'"'"'s symptom changed)
ok 5 surprise-check
not ok 6 daemon-attach # not reported by the guest (group main); every check in kmod/e2e/expected-checks must run
not ok 7 unlisted check surprise-check # the guest reported a check kmod/e2e/expected-checks does not list: add it there'
bad=0
if [ "$(tail -n1 <<<"$out")" != "e2e: 2 passed, 4 failed" ]; then
	echo "judge-test: summary: $(tail -n1 <<<"$out"), want e2e: 2 passed, 4 failed"
	bad=1
fi
if ! diff <(printf '%s\n' "$want_ktap") "$tmp/out.ktap"; then
	echo "judge-test: the KTAP report differs (above: want <, got >)"
	bad=1
fi
# Two guests (run.sh boots two, each with a share of the groups): every
# line of both counts, a check either reported counts as reported, and a
# failure in the second is not hidden by the first.
printf '%s\n' 'PASS find-device' 'PASS trace-setup' \
	'PASS ffmpeg-reschange-decode' >"$tmp/results1"
printf '%s\n' 'PASS find-device' 'PASS trace-setup' 'PASS daemon-attach' \
	'FAIL gst-reschange-decode: frame 3 differs' >"$tmp/results2"
out2=$(judge "$tmp/out2.ktap" "$tmp/results1" "$tmp/results2")
if [ "$(tail -n1 <<<"$out2")" != "e2e: 6 passed, 1 failed" ]; then
	echo "judge-test: two guests: $(tail -n1 <<<"$out2"), want e2e: 6 passed, 1 failed"
	bad=1
fi
src=$(bash "$E2E/../scripts/kernel.sh" source 2>/dev/null || true)
if [ -n "$src" ] && [ -f "$src/tools/testing/kunit/kunit.py" ]; then
	# kunit.py exits non-zero when a test failed: judge its words.
	parsed=$(python3 "$src/tools/testing/kunit/kunit.py" parse "$tmp/out.ktap" 2>&1)
	if ! grep -q 'Ran 7 tests: passed: 2, failed: 5' <<<"$parsed"; then
		echo "judge-test: kunit.py does not read the KTAP report as 7 tests, 2 passed"
		bad=1
	fi
fi
exit "$bad"
