#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build: every cargo-fuzz target of fuzz/, with
# its seed corpus and dictionary next to it. The base image's CC/CFLAGS
# already carry the engine's coverage and sanitizer flags, which cc (the
# replay crate's build of the job core and mutants, and fuzz/build.rs's
# codec) passes to the project's C code.
cd "$SRC/daedalus/fuzz"
cargo fuzz build -O --debug-assertions
# CARGO_TARGET_DIR: set by fuzz/cflite.sh, which runs this script in
# `make test` beside the fuzz stage's own builds; the engine leaves it unset.
out_dir=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release
for t in orderings kmod_messages daemon_protocol scenario_text trace_import bitstream; do
	cp "$out_dir/$t" "$OUT/"
	# The runner image has no libavcodec: ship the shared libraries the
	# targets need beside them and point the binaries there.
	mkdir -p "$OUT/lib"
	ldd "$OUT/$t" | awk '$3 ~ /^\// {print $3}' |
		grep -vE '/(libc|libm|libpthread|libdl|librt|libgcc_s|libstdc\+\+)\.so|/ld-linux' |
		xargs -r cp -L -t "$OUT/lib/"
	# DT_RPATH, not DT_RUNPATH: the dynamic loader searches an
	# executable's RPATH for its libraries' own dependencies too, and
	# libavcodec's (libva, libvpx, ...) are in $OUT/lib as well.
	patchelf --force-rpath --set-rpath '$ORIGIN/lib' "$OUT/$t"
	if [ -d "seeds/$t" ] && [ -n "$(ls -A "seeds/$t")" ]; then
		(cd "seeds/$t" && zip -q -r "$OUT/${t}_seed_corpus.zip" .)
	fi
	if [ -f "dict/$t.dict" ]; then
		cp "dict/$t.dict" "$OUT/$t.dict"
	fi
	printf '[libfuzzer]\nmax_len = %s\ntimeout = %s\nrss_limit_mb = 2048\n' \
		"$([ "$t" = bitstream ] && echo 65536 || echo 4096)" "$([ "$t" = bitstream ] && echo 0 || echo 30)" >"$OUT/$t.options"
done
