#!/bin/sh
# make deb: build build/deb/restsync_<version>_<arch>.deb from this
# checkout with dpkg-buildpackage, then check it with lintian.
#
# The checkout's files (tracked, and new ones not ignored by git) are
# copied to build/deb/src first, so that the build neither sees var/ or
# build/ nor writes next to the checkout (dpkg-buildpackage puts its
# results in the parent folder: build/deb).  lintian fails the build on
# any error or warning (and reports the informational tags too); the
# overrides it accepts are in debian/restsync.lintian-overrides, each with
# its reason.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/deb
cd "$ROOT"

for tool in dpkg-buildpackage dh lintian fakeroot; do
	command -v "$tool" >/dev/null 2>&1 ||
	    { echo "build-deb: $tool is missing (scripts/deps.sh)" >&2; exit 1; }
done

rm -rf "$OUT"
mkdir -p "$OUT/src"
# (Files deleted in the work tree but still in the index are skipped.)
git ls-files --cached --others --exclude-standard |
    grep -v -e '/node_modules/' -e '^node_modules/' |
    while IFS= read -r f; do
	if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\n' "$f"; fi
    done | tar -cf - -T - | tar -xf - -C "$OUT/src"
cd "$OUT/src"
echo "build-deb: dpkg-buildpackage in $OUT/src"
dpkg-buildpackage -b -us -uc -j"$(nproc)" >"$OUT/build.log" 2>&1 ||
    { tail -40 "$OUT/build.log" >&2; echo "build-deb: failed, see $OUT/build.log" >&2; exit 1; }
cd "$OUT"
deb=$(ls restsync_*_*.deb)
echo "build-deb: lintian $deb"
lintian --fail-on error,warning --info --display-info --pedantic restsync_*.changes >lintian.log 2>&1 ||
    { cat lintian.log >&2; echo "build-deb: lintian failed" >&2; exit 1; }
cat lintian.log
echo "build-deb: $OUT/$deb"
