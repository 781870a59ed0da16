#!/bin/sh
# psql(1) on the database of DATABASE_URL, taken from the environment and
# never put on a command line whole: `ps` (and /proc/PID/cmdline) shows
# every process's arguments to every local user, so the password goes to
# psql through PGPASSWORD (its environment, which only its user and root
# can read) and psql's argument is the connection string without it.
#
#   set -a; . /etc/restsync/migrate.env; set +a
#   /usr/lib/restsync/deploy/restsync-psql.sh -f /usr/share/restsync/db-roles.sql
#
# The arguments go to psql before the connection (-d); DATABASE_URL may be
# a libpq URI (postgresql://user:password@host/db?...; a "password" query
# parameter too) or a key/value string (host=... password=...), its
# password percent-encoded or quoted as libpq reads it.  Without a
# password in it, PGPASSWORD or ~/.pgpass are used as usual.
set -eu
PSQL=${RS_PSQL:-psql}
if [ -z "${DATABASE_URL:-}" ]; then
	echo "restsync-psql: DATABASE_URL is not set (put it in the environment, never on the command line)" >&2
	exit 2
fi

# Three lines on a pipe (never in argv): the connection string without its
# password, 1 or 0 (a password was there), the password.
split=$(LC_ALL=C awk '
function hexval(c) { return index("0123456789abcdef", tolower(c)) - 1 }
function unpct(s,   o, i, c, h, l) {
	o = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "%" && i + 2 <= length(s) &&
		    (h = hexval(substr(s, i + 1, 1))) >= 0 &&
		    (l = hexval(substr(s, i + 2, 1))) >= 0) {
			o = o sprintf("%c", h * 16 + l)
			i += 2
		} else
			o = o c
	}
	return o
}
# A libpq URI: scheme://[user[:password]@]hosts[/db][?k=v&...]
function uri(u,   p, rest, i, c, user, q, n, parts, k, kept) {
	p = index(u, "://")
	out = substr(u, 1, p + 2)
	rest = substr(u, p + 3)
	# libpq: user information ends at the first "@" before any "/".
	for (i = 1; i <= length(rest); i++) {
		c = substr(rest, i, 1)
		if (c == "@" || c == "/")
			break
	}
	if (c == "@" && i <= length(rest)) {
		user = substr(rest, 1, i - 1)
		rest = substr(rest, i + 1)
		if ((p = index(user, ":")) > 0) {
			pw = unpct(substr(user, p + 1)); has = 1
			user = substr(user, 1, p - 1)
		}
		out = out user "@"
	}
	if ((q = index(rest, "?")) == 0) {
		out = out rest
		return
	}
	out = out substr(rest, 1, q)
	n = split(substr(rest, q + 1), parts, "&")
	kept = ""
	for (i = 1; i <= n; i++) {
		k = parts[i]
		p = index(k, "=")
		if (p > 0 && unpct(substr(k, 1, p - 1)) == "password") {
			pw = unpct(substr(k, p + 1)); has = 1
			continue
		}
		kept = kept (kept == "" ? "" : "&") k
	}
	if (kept == "")
		out = substr(out, 1, length(out) - 1)	# no "?" left alone
	out = out kept
}
# key = value pairs; values bare or single-quoted with \ escapes.
function kv(s,   i, n, c, start, key, val, tok) {
	out = ""
	i = 1; n = length(s)
	while (i <= n) {
		while (i <= n && substr(s, i, 1) ~ /[ \t\n]/) i++
		if (i > n) break
		start = i
		while (i <= n && substr(s, i, 1) !~ /[= \t\n]/) i++
		key = substr(s, start, i - start)
		while (i <= n && substr(s, i, 1) ~ /[ \t\n]/) i++
		if (substr(s, i, 1) != "=") { bad = 1; return }
		i++
		while (i <= n && substr(s, i, 1) ~ /[ \t\n]/) i++
		val = ""
		if (substr(s, i, 1) == "\047") {
			i++
			while (i <= n && (c = substr(s, i, 1)) != "\047") {
				if (c == "\\" && i < n) { i++; c = substr(s, i, 1) }
				val = val c; i++
			}
			if (i > n) { bad = 1; return }
			i++
		} else {
			while (i <= n && (c = substr(s, i, 1)) !~ /[ \t\n]/) {
				if (c == "\\" && i < n) { i++; c = substr(s, i, 1) }
				val = val c; i++
			}
		}
		tok = substr(s, start, i - start)
		if (key == "password") { pw = val; has = 1; continue }
		out = out (out == "" ? "" : " ") tok
	}
}
BEGIN {
	u = ENVIRON["DATABASE_URL"]; has = 0; pw = ""; bad = 0
	if (u ~ /^postgres(ql)?:\/\//)
		uri(u)
	else
		kv(u)
	if (bad || index(pw, "\n") > 0) { print "bad"; exit }
	print out; print has; print pw
}')
conn=$(printf '%s\n' "$split" | sed -n 1p)
has=$(printf '%s\n' "$split" | sed -n 2p)
if [ "$conn" = bad ] && [ -z "$has" ]; then
	echo "restsync-psql: DATABASE_URL is not a connection string libpq reads" >&2
	exit 2
fi
if [ "$has" = 1 ]; then
	PGPASSWORD=$(printf '%s\n' "$split" | sed -n '3,$p')
	export PGPASSWORD
fi
unset split
exec "$PSQL" -d "$conn" "$@"
