#!/usr/bin/env bash
# CC for `cargo fuzz` builds: clang, plus libFuzzer's coverage
# instrumentation and ASan for the project's own C files only (the job
# core, the message codec, the shim glue, their mutants); UBSan traps
# (no runtime: undefined behaviour is a SIGILL libFuzzer reports). Other crates'
# build scripts compile and run feature checks with CC; those must stay
# uninstrumented, or their check programs do not link.
cc=${FUZZ_CLANG:-clang-19}
for a in "$@"; do
	case $a in
	*/kmod/*.c | */replay/shim/*.c | */mutants/*.c)
		exec "$cc" "$@" -fsanitize=fuzzer-no-link,address,undefined \
			-fsanitize-trap=undefined -fno-omit-frame-pointer
		;;
	esac
done
exec "$cc" "$@"
