# SPDX-License-Identifier: GPL-2.0
# Shared by the kmod stage scripts: check counting, the private build copy
# of the module's sources, and module builds against prepared trees.

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KMOD_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
CACHE=${DAEDALUS_CACHE:-$HOME/.cache/daedalus}
KERNEL_SH=$SCRIPT_DIR/kernel.sh
LLVM_SUFFIX=-19

PASSED=0
FAILED=0
SKIPPED=0

pass() {
	PASSED=$((PASSED + 1))
	printf 'PASS %s\n' "$*"
}

fail() {
	FAILED=$((FAILED + 1))
	printf 'FAIL %s\n' "$*"
}

# ticker_start LABEL [DIR [LOG...]] / ticker_stop: a progress line on
# stderr every 30 s (ticker.sh: time, objects built under DIR, the newest
# LOG's last line) while a long build writes only to its logs, when stderr
# is not a terminal.
TICKER=
ticker_start() {
	ticker_stop
	[ -t 2 ] && return 0
	bash "$SCRIPT_DIR/ticker.sh" $$ "$@" >&2 &
	TICKER=$!
}
ticker_stop() {
	[ -n "$TICKER" ] || return 0
	kill "$TICKER" 2>/dev/null
	wait "$TICKER" 2>/dev/null
	TICKER=
}

# The module's own sources (the KUnit suites and scripts stay out).
module_sources() {
	(cd "$KMOD_DIR" && ls Makefile Kconfig ./*.c ./*.h && find include -type f)
}

# Copy the sources to a private build directory, so builds for several
# trees never share (or leave) objects in the checkout.
sync_sources() {
	local dst=$1 f
	mkdir -p "$dst"
	find "$dst" -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' \) -delete
	while IFS= read -r f; do
		mkdir -p "$dst/$(dirname "$f")"
		cp -p "$KMOD_DIR/$f" "$dst/$f"
	done < <(module_sources)
}

# --- modpost's symbol check, done here for trees without Module.symvers ---
#
# modpost resolves a module's imports against Module.symvers, which only a
# fully built tree has. kernel.sh prepare's trees are modules_prepare'd
# (no vmlinux, no Module.symvers), so modpost can only warn that every
# import is undefined (KBUILD_MODPOST_WARN=1; it names 10 and suppresses
# the rest), and a call to a symbol the kernel does not export, exports
# GPL-only to a non-GPL module, or exports into a namespace the module does
# not import, would build. So the module's imports (its undefined symbols,
# from llvm-nm) are checked here against every export the tree's source
# declares: EXPORT_SYMBOL*(sym[, ns]) and the wrappers that make known
# names (tracepoints, static calls, per-CPU). What that cannot see, and so
# does not check: an export under a config the tree does not enable or for
# another architecture (the source is scanned whole), and a namespace set
# per directory with DEFAULT_SYMBOL_NAMESPACE. A tree that has its own
# Module.symvers (a distribution's headers, as DKMS uses) is left to
# modpost itself, with no KBUILD_MODPOST_WARN (kmod/dkms-make.sh).

# The modpost warnings allowed on a tree without Module.symvers, each an
# extended regex of the whole line; check_imports makes the check they
# give up. Any other modpost warning fails the build.
MODPOST_ALLOWED=(
	# Makefile.modpost, for a tree without Module.symvers (6.12 names no
	# directory).
	'^WARNING: (.*/)?Module\.symvers is missing\.$'
	# modpost, for each import it cannot resolve without it (10 named):
	# 7.x, then 6.12.
	"^WARNING: modpost: [^ ]+\\.ko: symbol '[A-Za-z0-9_.]+' undefined!\$"
	'^WARNING: modpost: "[A-Za-z0-9_.]+" \[[^]]+\.ko\] undefined!$'
	# ... and how many more it did not name.
	'^WARNING: modpost: suppressed [0-9]+ unresolved symbol warnings because there were too many\)?$'
)

# Imports that no EXPORT_*() line of the source names literally, each
# checked by hand against the tree: a glob and where the export is.
IMPORTS_ALLOWED=(
	# arch/x86/lib/retpoline.S: GEN(reg) __EXPORT_THUNK(__x86_indirect_*thunk_ ## reg)
	'__x86_indirect_thunk_*'
	'__x86_indirect_call_thunk_*'
	'__x86_indirect_jump_thunk_*'
	# kernel/params.c: STANDARD_PARAM_DEF(name, ...) EXPORT_SYMBOL(param_ops_##name)
	'param_ops_*'
)

# The GPL-compatible MODULE_LICENSE strings (include/linux/license.h).
GPL_LICENSES='GPL|GPL v2|GPL and additional rights|Dual BSD/GPL|Dual MIT/GPL|Dual MPL/GPL'

# scan_exports SRC: "symbol<tab>license<tab>namespace<tab>macro" for every
# export the source tree SRC declares (license GPL or empty; namespace
# "module:PATTERNS" for EXPORT_SYMBOL_FOR_MODULES; "?" for a wrapper
# macro this scan does not know, which check_imports does not accept).
scan_exports() {
	grep -rhoE --include='*.[chS]' --exclude-dir=Documentation \
		--exclude-dir=tools --exclude-dir=samples --exclude-dir=scripts \
		'EXPORT_[A-Z_]+\([^()]*\)' "$1" |
		awk '
		function out(sym, lic, ns) {
			if (sym ~ /^[A-Za-z_][A-Za-z0-9_]*$/)
				printf "%s\t%s\t%s\t%s\n", sym, lic, ns, macro
		}
		{
			macro = $0; sub(/\(.*/, "", macro)
			args = $0; sub(/^[^(]*\(/, "", args); sub(/\)$/, "", args)
			n = split(args, a, ",")
			for (i = 1; i <= n; i++) { gsub(/^[ \t]+|[ \t]+$/, "", a[i]); gsub(/"/, "", a[i]) }
			lic = macro ~ /GPL/ ? "GPL" : ""
			if (macro ~ /^EXPORT_(SYMBOL|SYMBOL_GPL|PER_CPU_SYMBOL|PER_CPU_SYMBOL_GPL|EARLY_PER_CPU_SYMBOL)$/)
				out(a[1], lic, "")
			else if (macro ~ /^EXPORT_SYMBOL_NS(_GPL)?$/)
				out(a[1], lic, a[2])
			else if (macro == "EXPORT_SYMBOL_FOR_MODULES")
				out(a[1], "GPL", "module:" a[2])
			else if (macro ~ /^EXPORT_TRACEPOINT_SYMBOL(_GPL)?$/) {
				out("__tracepoint_" a[1], lic, "")
				out("__traceiter_" a[1], lic, "")
				out("__SCK__tp_func_" a[1], lic, "")
			} else if (macro ~ /^EXPORT_STATIC_CALL(_GPL)?$/) {
				out("__SCK__" a[1], lic, "")
				out("__SCT__" a[1], lic, "")
			} else if (macro ~ /^EXPORT_STATIC_CALL_TRAMP(_GPL)?$/)
				out("__SCT__" a[1], lic, "")
			else if (macro ~ /SYM/)
				out(a[1], lic, "?")
		}'
}

# export_table VERSION: a cached scan_exports of linux-source-VERSION, its
# path on stdout.
export_table() {
	local ver=$1 src key table
	src=$("$KERNEL_SH" source "$ver") || return 1
	key=$({
		cat "$src/.debian-version"
		declare -f scan_exports
	} | sha256sum | cut -c1-12)
	table=$CACHE/exports/linux-source-$ver-$key.tsv
	if [ ! -s "$table" ]; then
		mkdir -p "$CACHE/exports"
		scan_exports "$src" | sort -u >"$table.tmp" || return 1
		# A kernel tree exports tens of thousands of symbols; a scan that
		# found few read the wrong place.
		if [ "$(wc -l <"$table.tmp")" -lt 10000 ]; then
			echo "export_table: only $(wc -l <"$table.tmp") exports found in $src" >&2
			return 1
		fi
		mv "$table.tmp" "$table"
	fi
	echo "$table"
}

# check_imports KO TABLE: every symbol KO imports is exported to it by the
# tree TABLE describes (export_table). Prints an "ERROR: imports: ..." line
# for each one that is not; 0 when there is none.
check_imports() {
	local ko=$1 table=$2 license gpl=0 imports mod undef
	mod=$(basename "$ko" .ko)
	# An empty table or symbol list would pass everything: both are errors.
	if [ ! -s "$table" ]; then
		echo "ERROR: imports: $mod.ko: export table $table is missing or empty"
		return 1
	fi
	if ! undef=$("llvm-nm$LLVM_SUFFIX" -u "$ko" | awk '$1 == "U" { print $2 }') ||
		[ -z "$undef" ]; then
		echo "ERROR: imports: $mod.ko: no undefined symbols read with llvm-nm$LLVM_SUFFIX"
		return 1
	fi
	license=$(modinfo -F license "$ko" 2>/dev/null | head -n1)
	grep -qxE "$GPL_LICENSES" <<<"$license" && gpl=1
	imports=$(modinfo -F import_ns "$ko" 2>/dev/null | tr '\n' ' ')
	printf '%s\n' "$undef" |
		awk -F'\t' -v gpl="$gpl" -v license="$license" -v imports=" $imports " \
			-v mod="$mod" -v allowed="${IMPORTS_ALLOWED[*]}" -v table="${table##*/}" '
		function glob_match(s, g) {
			gsub(/[.+^$(){}|\\]/, "\\\\&", g); gsub(/\*/, ".*", g)
			return s ~ ("^" g "$")
		}
		function ns_ok(ns,   n, p, i, pat) {
			if (ns == "") return 1
			if (ns == "?") return 0
			if (ns ~ /^module:/) {
				n = split(substr(ns, 8), p, ",")
				for (i = 1; i <= n; i++) if (glob_match(mod, p[i])) return 1
				return 0
			}
			return index(imports, " " ns " ") > 0
		}
		FNR == NR { e[$1] = e[$1] "\n" $2 "\t" $3 "\t" $4; next }
		# modpost itself ignores these (ignore_undef_symbol()).
		$1 == "__this_module" || $1 == "_GLOBAL_OFFSET_TABLE_" || $1 ~ /^__(start|stop)_/ { next }
		{
			sym = $1
			n = split(allowed, g, " ")
			for (i = 1; i <= n; i++) if (glob_match(sym, g[i])) next
			if (!(sym in e)) {
				printf "ERROR: imports: %s.ko: symbol %s is not exported: no EXPORT_SYMBOL*(%s) in the source (%s)\n", mod, sym, sym, table
				bad++; next
			}
			why = ""
			m = split(substr(e[sym], 2), l, "\n")
			for (i = 1; i <= m; i++) {
				split(l[i], f, "\t")
				if (f[1] == "GPL" && !gpl) { why = why "; GPL-only (" f[3] ") and the module license is \"" license "\""; continue }
				if (!ns_ok(f[2])) {
					why = why (f[2] == "?" ? "; exported only by " f[3] ", a wrapper this check does not know (verify, then list it in IMPORTS_ALLOWED)" : "; exported to namespace " f[2] " (" f[3] "), which the module does not import")
					continue
				}
				why = ""; break
			}
			if (why != "") { printf "ERROR: imports: %s.ko: symbol %s: %s\n", mod, sym, substr(why, 3); bad++ }
		}
		END { exit bad > 0 }' "$table" -
}

# modpost_warnings LOG: modpost's warning and error lines that the
# allow-list does not cover.
modpost_warnings() {
	local line re ok
	grep -E '^(WARNING|ERROR): (modpost: |.*Module\.symvers)' "$1" |
		while IFS= read -r line; do
			ok=0
			for re in "${MODPOST_ALLOWED[@]}"; do
				if grep -qE -- "$re" <<<"$line"; then
					ok=1
					break
				fi
			done
			[ "$ok" = 1 ] || printf '%s\n' "$line"
		done
}

# Compiler warnings and errors, every modpost warning but the allowed
# ones, and check_imports' errors: what fails a build.
real_warnings() {
	grep -E 'warning:|error:|^WARNING:|^ERROR:' "$1" |
		grep -vE '^(WARNING|ERROR): (modpost: |.*Module\.symvers)'
	modpost_warnings "$1"
}

# build_module VERSION ARCH LOGFILE [extra make args]: 0 when the module
# built with W=1 and no warning, and every symbol it imports is exported to
# it (check_imports); the log keeps the compiler output and those checks.
build_module() {
	local ver=$1 arch=$2 log=$3
	shift 3
	local kdir out make_args=()
	if ! kdir=$("$KERNEL_SH" prepare "$ver" "$arch" 2>"$log.prepare"); then
		echo "kernel.sh prepare $ver $arch failed, see $log.prepare" >"$log"
		return 2
	fi
	# The toolchain the tree was prepared with.
	mapfile -t make_args < <("$KERNEL_SH" make-args "$arch")
	out=$CACHE/kmod-build/$ver-$arch
	sync_sources "$out"
	if ! make -C "$kdir" M="$out" -j"$(nproc)" -Otarget "${make_args[@]}" W=1 \
		KBUILD_MODPOST_WARN=1 "$@" modules >"$log" 2>&1; then
		return 1
	fi
	[ -f "$out/daedalus_v4l2.ko" ] || return 1
	# What modpost could not check without the tree's Module.symvers.
	local table
	if table=$(export_table "$ver" 2>>"$log"); then
		check_imports "$out/daedalus_v4l2.ko" "$table" >>"$log"
	else
		echo "ERROR: imports: no export table for linux-source-$ver" >>"$log"
	fi
	[ -z "$(real_warnings "$log")" ]
}

# sparse_module VERSION ARCH LOGFILE: kbuild's C=2 pass, sparse on every
# source file of the module, against a prepared tree and in a build
# directory of its own. The module is built first (LOGFILE.build), so the
# checker's run compiles nothing and LOGFILE holds sparse's output alone.
# 0 when make ran the checker, 1 when the module did not build or make
# failed, 2 when the tree is not available.
sparse_module() {
	local ver=$1 arch=$2 log=$3
	local kdir out make_args=()
	if ! kdir=$("$KERNEL_SH" prepare "$ver" "$arch" 2>"$log.prepare"); then
		echo "kernel.sh prepare $ver $arch failed, see $log.prepare" >"$log"
		return 2
	fi
	mapfile -t make_args < <("$KERNEL_SH" make-args "$arch")
	out=$(sparse_dir "$ver" "$arch")
	sync_sources "$out"
	make -C "$kdir" M="$out" -j"$(nproc)" -Otarget "${make_args[@]}" W=1 KBUILD_MODPOST_WARN=1 \
		modules >"$log.build" 2>&1 || return 1
	make -C "$kdir" M="$out" -j"$(nproc)" -Otarget "${make_args[@]}" W=1 KBUILD_MODPOST_WARN=1 \
		C=2 CHECK=sparse modules >"$log" 2>&1 || return 1
}

# sparse_dir VERSION ARCH: where sparse_module builds.
sparse_dir() {
	echo "$CACHE/kmod-build/sparse-$1-$2"
}

# cannot_check REASON: one check cannot be done here (a tool or a tree is
# missing). That is never a pass: under CI (CI=true) it fails and says
# why; elsewhere it says SKIP and why, and the summary line counts it as
# skipped.
cannot_check() {
	if [ "${CI:-}" = true ]; then
		fail "$* (cannot run: under CI=true that fails)"
		return
	fi
	SKIPPED=$((SKIPPED + 1))
	printf 'SKIP %s (not counted as passed; under CI=true this fails)\n' "$*"
}

# cannot_run STAGE REASON: the same for the rest of the stage, which ends
# here with its summary line.
cannot_run() {
	local stage=$1
	shift
	cannot_check "$@"
	summary "$stage"
	exit
}

summary() {
	if [ "$SKIPPED" -gt 0 ]; then
		printf '%s: %d passed, %d failed, %d skipped\n' "$1" "$PASSED" "$FAILED" "$SKIPPED"
	else
		printf '%s: %d passed, %d failed\n' "$1" "$PASSED" "$FAILED"
	fi
	[ "$FAILED" -eq 0 ]
}
