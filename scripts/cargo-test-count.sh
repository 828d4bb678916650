#!/usr/bin/env bash
# The verdict of one `cargo test --no-fail-fast` run, from its log and its
# exit status together: the "test result:" lines alone miss a test binary
# that never printed one (killed by a signal: stack overflow, abort, a
# segfault in C code it links), and the exit status alone cannot count.
#
#   cargo-test-count.sh LABEL LOG RC
#
# Prints "PASSED FAILED" on stdout. FAILED is the failed tests of the
# result lines, plus one for each binary that ended without a result line
# (named on stderr as "LABEL: FAILED: ...", with cargo's rerun argument and
# the signal or exit status), plus one when cargo exited non-zero with
# nothing else to show for it (a build error), plus one when nothing ran.
# Used by the Makefile's cargo stage, fuzz/run.sh and replay's sanitize.sh.
set -uo pipefail

label=${1:?usage: cargo-test-count.sh LABEL LOG RC}
log=${2:?usage: cargo-test-count.sh LABEL LOG RC}
rc=${3:?usage: cargo-test-count.sh LABEL LOG RC}

awk -v label="$label" -v rc="$rc" '
function bad(what) { failed++; printf "%s: FAILED: %s\n", label, what > "/dev/stderr" }
function name() { return cur != "" ? cur : "number " binaries }
# "     Running tests/corpus.rs (target/debug/deps/corpus-0123abcd)" and
# "   Doc-tests daedalus_proto" name the binary whose output follows
# (cargo -q prints neither); the binary itself opens with "running N
# tests" and closes with its "test result:" line.
/^ +Running / { sub(/^ +Running /, ""); cur = $0; next }
/^ +Doc-tests / { sub(/^ +/, ""); cur = $0; next }
/^running [0-9]+ tests?$/ {
	if (open) bad("test binary " name() " printed no result line")
	open = 1; binaries++
	next
}
/^test result: / {
	results++
	if (match($0, /[0-9]+ passed/)) passed += substr($0, RSTART, RLENGTH) + 0
	if (match($0, /[0-9]+ failed/)) failed += substr($0, RSTART, RLENGTH) + 0
	open = 0; cur = ""
	next
}
# A binary that failed: already counted when it printed its result line,
# crashed when it did not. The reason comes in the "Caused by:" lines.
# Not anchored: after the progress dots of cargo -q the error shares their line.
/error: (test|doctest) failed, to rerun pass `/ {
	arg = $0
	sub(/^.*to rerun pass `/, "", arg); sub(/`.*$/, "", arg)
	if (open) {
		crashed = (cur != "" ? cur " " : "") "(cargo test " arg ")"
		open = 0; cur = ""
	}
	next
}
/process didn.t exit successfully: / && crashed != "" {
	why = $0
	sub(/^.*` \(/, "", why); sub(/\)$/, "", why)
	bad("test binary " crashed " died without a result: " why)
	crashed = ""
	next
}
END {
	if (crashed != "")
		bad("test binary " crashed " died without a result")
	if (open)
		bad("test binary " name() " printed no result line (cut off?)")
	if (rc != 0 && failed == 0)
		bad("cargo test exited " rc " with no failed test to show for it (see the log above)")
	if (rc == 0 && results == 0)
		bad("cargo test ran no test binary")
	print passed + 0, failed + 0
}' "$log"
