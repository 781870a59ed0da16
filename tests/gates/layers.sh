#!/bin/sh
# The layer rule of common/ (docs/ARCHITECTURE.md "Layers"): a module may
# include its own folder's headers and those of the layers below it, never
# a layer above or beside it.  From the bottom:
#   0 base       rs, settings, log, secret, hashing, jsonbound, jsonpath
#   1 db         db, store, migrate, obs
#   2 pipeline   config ... batch            2 edge   fcgi_io, auth
#   3 admin      sources, inspect, ...       3 runner runner, worker
# Prints every include that breaks it and exits 1; with --selftest, shows
# that a planted upward include is caught.
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
	printf '#include "batch_int.h"\n' >> "$t/common/pipeline/pager.c"
	if private "$t" >/dev/null; then
		echo "layers: the planted include of batch_int.h in pager.c was not caught" >&2
		exit 1
	fi
	echo "layers: a planted upward include is caught, and a private header included outside its module"
	exit 0
fi
check "$ROOT" && private "$ROOT" &&
    echo "layers: every include of common/ points down or sideways within its folder"
