# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# What the kunit stage (kunit.sh) and its mutant runs (kunit-mutant.sh)
# look for on the test kernel's console; sourced by both.

# Reports the debug options print; any of them fails the run.
# shellcheck disable=SC2034
SPLATS='BUG: |WARNING: |DEBUG_LOCKS_WARN_ON|INFO: (possible|trying to register)|list_(add|del) corruption|kernel BUG at|Oops|ODEBUG:|kmemleak: .*suspected|unreferenced object|UBSAN:|Kernel panic|refcount_t:|general protection fault|cut here|in active state'

# The line the Rust replay suite (kmod/kunit/daedalus_replay_test.rs)
# prints for a scenario that broke a rule or differed from the userspace
# executor: `traces/NAME[ (mapped jobs)]: what (after line N) Stats {..}`,
# or `generated/NAME: ...`. Its case fails for it; the stage fails on the
# line itself too, so a mutant's run may end there.
# shellcheck disable=SC2034
BROKEN_SCENARIO='^daedalus_replay: (traces|generated)/[^ ]+( \(mapped jobs\))?: .* \(after line [0-9]+\)'
