#!/bin/sh
# The layer rule of common/ (docs/ARCHITECTURE.md "Layers"): a module may
# include its own folder's headers and those of the layers below it, never
# a layer above or beside it.  From the bottom:
#   0 base       rs, settings, log, secret, hashing, jsonbound, jsonpath
#   1 db         db, store, migrate, obs
#   2 pipeline   config ... batch            2 edge   fcgi_io, auth
#   3 admin      sources, inspect, ...       3 runner runner, worker
# Inside a folder, the modules (x.c with x.h) include each other without
# a cycle: config.c including incremental.h while incremental.h includes
# config.h makes the two one knot, though no header includes itself.
# Prints every include that breaks either rule and exits 1; with
# --selftest, shows that a planted upward include and a planted cycle are
# caught.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

rank() {
	case "$1" in
	base) echo 0 ;; db) echo 1 ;; pipeline|edge) echo 2 ;;
	admin|runner) echo 3 ;; *) echo x ;;
	esac
}

# The layer a header lives in ("" when it is not one of common/'s).
layer_of() {
	for d in "$1"/common/*/; do
		[ -f "$d$2" ] && { basename "$d"; return; }
	done
	echo ""
}

check() {
	tree=$1 bad=0
	for d in "$tree"/common/*/; do
		from=$(basename "$d")
		rf=$(rank "$from")
		[ "$rf" = x ] && { echo "layers: common/$from is not a layer" >&2; bad=1; continue; }
		for f in "$d"*.c "$d"*.h; do
			[ -f "$f" ] || continue
			for h in $(sed -n 's/^#include "\([a-z_]*\.h\)".*/\1/p' "$f"); do
				to=$(layer_of "$tree" "$h")
				[ -n "$to" ] || continue
				[ "$to" = "$from" ] && continue
				rt=$(rank "$to")
				if [ "$rt" -ge "$rf" ]; then
					echo "layers: common/$from/$(basename "$f") includes $h of common/$to ($from may include only layers below it)"
					bad=1
				fi
			done
		done
	done
	return $bad
}

# "x y" for every include of common/ module y's header by module x's files.
# A module spread over several files shares a private header X_int.h:
# that header, and every file that includes it, are module X.
edges() {
	for f in "$1"/common/*/*.c "$1"/common/*/*.h; do
		[ -f "$f" ] || continue
		m=$(basename "$f")
		m=${m%.*}
		m=${m%_int}
		p=$(sed -n 's/^#include "\([a-z_]*\)_int\.h".*/\1/p' "$f" | head -n 1)
		[ -n "$p" ] && m=$p
		for h in $(sed -n 's/^#include "\([a-z_]*\)\.h".*/\1/p' "$f"); do
			h=${h%_int}
			[ "$h" = "$m" ] && continue
			[ -n "$(layer_of "$1" "$h.h")" ] && echo "$m $h"
		done
	done | sort -u
}

# Every include cycle between modules, one line each; exits 1 if any.
cycles() {
	edges "$1" | awk '
	{ from[NR] = $1; to[NR] = $2; n = NR }
	function report(w,	j, s) {
		for (j = sp; j > 0 && stack[j] != w; j--)
			;
		for (s = ""; j <= sp; j++)
			s = s stack[j] " -> "
		print "layers: include cycle: " s w
		bad = 1
	}
	function dfs(v,	i, w) {
		state[v] = 1
		stack[++sp] = v
		for (i = 1; i <= n; i++) {
			if (from[i] != v)
				continue
			w = to[i]
			if (!(w in state))
				dfs(w)
			else if (state[w] == 1)
				report(w)
		}
		sp--
		state[v] = 2
	}
	END {
		for (i = 1; i <= n; i++)
			if (!(from[i] in state))
				dfs(from[i])
		exit bad
	}'
}

# A module's private header (batch_int.h: the files of the batch module
# share it) is included only by that module's own files.
private() {
	tree=$1 bad=0
	for f in $(grep -rl '^#include "batch_int\.h"' "$tree"/common \
	    "$tree"/cgi-src "$tree"/cli "$tree"/tests "$tree"/bench 2>/dev/null); do
		case "$f" in
		"$tree"/common/pipeline/batch*.c) ;;
		*) echo "layers: ${f#"$tree"/} includes batch_int.h, private to common/pipeline/batch*.c"
		   bad=1 ;;
		esac
	done
	return $bad
}

if [ "${1:-}" = --selftest ]; then
	t=$(mktemp -d)
	trap 'rm -rf "$t"' EXIT
	cp -r "$ROOT/common" "$t/common"
	printf '#include "batch.h"\n' >> "$t/common/db/store.c"
	if check "$t" >/dev/null; then
		echo "layers: the planted include of batch.h in db/store.c was not caught: the gate is blind" >&2
		exit 1
	fi
	rm -rf "$t/common"
	cp -r "$ROOT/common" "$t/common"
	if ! cycles "$t" >/dev/null; then
		echo "layers: the tree has an include cycle before one is planted" >&2
		exit 1
	fi
	printf '#include "batch.h"\n' >> "$t/common/pipeline/config.c"
	if cycles "$t" >/dev/null; then
		echo "layers: the planted include of batch.h in pipeline/config.c (batch.h includes config.h) was not caught: the gate is blind to cycles" >&2
		exit 1
	fi
	rm -rf "$t/common"
	cp -r "$ROOT/common" "$t/common"
	printf '#include "batch_int.h"\n' >> "$t/common/pipeline/pager.c"
	if private "$t" >/dev/null; then
		echo "layers: the planted include of batch_int.h in pager.c was not caught" >&2
		exit 1
	fi
	echo "layers: a planted upward include, a planted include cycle and a private header included outside its module are caught"
	exit 0
fi
ok=1
check "$ROOT" || ok=0
cycles "$ROOT" || ok=0
private "$ROOT" || ok=0
[ $ok = 1 ] || exit 1
echo "layers: every include of common/ points down or sideways within its folder, no module's includes lead back to it, and batch_int.h stays inside the batch module"
