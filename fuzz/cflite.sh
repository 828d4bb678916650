#!/usr/bin/env bash
# .clusterfuzzlite/build.sh run as ClusterFuzzLite and OSS-Fuzz run it, on
# this machine: the tree at $SRC/daedalus, the script at $SRC/build.sh, a
# fresh $OUT and $WORK, and the base image's compiler contract (CC, CXX,
# CFLAGS with the engine's coverage and AddressSanitizer flags,
# LIB_FUZZING_ENGINE, SANITIZER, FUZZING_ENGINE, FUZZING_LANGUAGE,
# ARCHITECTURE), cargo on the nightly toolchain as in base-builder-rust,
# and the script run with `bash -eux` as the engine's `compile` runs it.
# Then $OUT is checked as the runner image would use it: every target of
# fuzz/fuzz_targets/ there and executable, its libraries in $OUT/lib, its
# seed corpus zip, dictionary and .options, and each binary run over its
# seed corpus (-runs=0) without a crash, from a copy of $OUT alone.
#
#   bash fuzz/cflite.sh [OUT]      (default target/cflite/out)
#
# Prints one "cflite: ok: ..." or "cflite: FAILED: ..." line a check and
# ends with "cflite: N passed, N failed"; fuzz/run.sh counts them.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
base=$root/target/cflite
out=${1:-$base/out}
passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "cflite: ok: $*"
}
bad() {
	failed=$((failed + 1))
	echo "cflite: FAILED: $*"
}
finish() {
	echo "cflite: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

rm -rf "$base/src" "$base/work" "$out" "$base/run"
mkdir -p "$base/src" "$base/work" "$out" "$base/run"
ln -s "$root" "$base/src/daedalus"
cp "$root/.clusterfuzzlite/build.sh" "$base/src/build.sh"

# OSS-Fuzz's base-builder flags for libFuzzer with ASan (infra/base-images).
engine_flags="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link"
log=$base/build.log
# The build's own target directory: the bursts' builds in fuzz/target use
# other compiler flags and stay as they are.
if (cd "$base/src/daedalus" &&
	env SRC="$base/src" OUT="$out" WORK="$base/work" \
		CC=clang-19 CXX=clang++-19 CFLAGS="$engine_flags" CXXFLAGS="$engine_flags" \
		LIB_FUZZING_ENGINE=-fsanitize=fuzzer SANITIZER=address FUZZING_ENGINE=libfuzzer \
		FUZZING_LANGUAGE=rust ARCHITECTURE=x86_64 RUSTUP_TOOLCHAIN=nightly \
		CARGO_TARGET_DIR="$base/cargo" \
		bash -eux "$base/src/build.sh") >"$log" 2>&1; then
	ok "build.sh with the engine's contract (target/cflite/build.log)"
else
	bad "build.sh with the engine's contract: $(tail -n 1 "$log") (target/cflite/build.log)"
	finish
fi

# The runner sees $OUT alone: run from a copy, nothing of the build around.
cp -a "$out" "$base/run/out"
for f in "$here"/fuzz_targets/*.rs; do
	t=$(basename "$f" .rs)
	bin=$base/run/out/$t
	if [ ! -x "$bin" ]; then
		bad "$t: not in \$OUT"
		continue
	fi
	# The runner image has the C and C++ runtimes and nothing else: every
	# other library must resolve into $OUT/lib, through the binary's rpath.
	outside=$(ldd "$bin" 2>&1 | awk '$2 == "=>" {print $1 " " $3}' |
		grep -vE '^(libc|libm|libpthread|libdl|librt|libgcc_s|libstdc\+\+|ld-linux[^ ]*)\.so' |
		awk -v lib="$base/run/out/lib/" 'index($2, lib) != 1 {print $1}' | tr '\n' ' ')
	if [ -n "$outside" ]; then
		bad "$t: libraries not taken from \$OUT/lib: $outside(rpath '$(patchelf --print-rpath "$bin" 2>/dev/null)')"
		continue
	fi
	extras=()
	[ -d "$here/seeds/$t" ] && [ -n "$(ls -A "$here/seeds/$t")" ] &&
		extras+=("${t}_seed_corpus.zip")
	[ -f "$here/dict/$t.dict" ] && extras+=("$t.dict")
	extras+=("$t.options")
	lacking=
	for e in "${extras[@]}"; do
		[ -s "$base/run/out/$e" ] || lacking+=" $e"
	done
	if [ -n "$lacking" ]; then
		bad "$t: \$OUT lacks$lacking"
		continue
	fi
	corpus=$base/run/corpus-$t
	mkdir -p "$corpus"
	if [ -f "$base/run/out/${t}_seed_corpus.zip" ]; then
		(cd "$corpus" && unzip -q "$base/run/out/${t}_seed_corpus.zip")
	fi
	n=$(find "$corpus" -type f | wc -l)
	# The options file as the runner applies it, then every seed once.
	opts=()
	while IFS=' =' read -r k v; do
		[[ "$k" =~ ^[a-z_]+$ ]] && [ -n "$v" ] && opts+=("-$k=$v")
	done < <(sed -n '/^\[libfuzzer\]/,/^\[/p' "$base/run/out/$t.options")
	[ -f "$base/run/out/$t.dict" ] && opts+=("-dict=$base/run/out/$t.dict")
	if (cd "$base/run" && "$bin" "${opts[@]}" -runs=0 "$corpus") >"$base/run/$t.log" 2>&1; then
		ok "$t: runs its $n seed(s) from \$OUT"
	else
		bad "$t: exit $? over its $n seed(s) (target/cflite/run/$t.log)"
	fi
done
finish
