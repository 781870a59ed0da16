/*
 * db.c — the one database layer (see db.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "settings.h"

#define DB_TABLES_MAX	16	/* statement tables a connection prepares */

static const char *const db_default_setup =
    "SET statement_timeout = 15000; SET application_name = 'restsync'; "
    "SET TIME ZONE 'UTC'";

struct db {
	PGconn		*conn;
	char		*url;
	char		*setup;
	int		 manual;	/* never reconnect in db_run */
	int		 trips;
	int		 in_tx;
	int		 locked;
	struct {
		const struct db_table	*t;
		uint64_t		 mask;
	}		 prep[DB_TABLES_MAX];
};

void
db_errf(char *err, const char *what, const char *msg)
{
	size_t	 n = strcspn(msg, "\n");

	if (what != NULL)
		rs_errf(err, "database: %s: %.*s", what,
		    (int)(n > 300 ? 300 : n), msg);
	else
		rs_errf(err, "database: %.*s", (int)(n > 300 ? 300 : n), msg);
}

enum rs_status
db_open(struct db **out, const char *url, const char *setup, int manual,
    char *err)
{
	struct db	*db;

	*out = NULL;
	if (url == NULL)
		url = settings_get()->database_url;
	if ((db = calloc(1, sizeof(*db))) == NULL ||
	    (db->url = strdup(url)) == NULL ||
	    (db->setup = strdup(setup != NULL ? setup :
	    db_default_setup)) == NULL) {
		db_close(db);
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	db->manual = manual;
	*out = db;
	return RS_OK;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	free(db->url);
	free(db->setup);
	free(db);
}

static void
db_drop(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	memset(db->prep, 0, sizeof(db->prep));
	db->locked = 0;		/* a new session holds no lock ... */
	db->in_tx = 0;		/* ... and no transaction */
}

enum rs_status
db_connect(struct db *db, char *err)
{
	PGresult	*r;

	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return RS_OK;
	db_drop(db);
	if (*db->url == '\0') {
		rs_errf(err, "database: DATABASE_URL is not set");
		return RS_EDB;
	}
	db->conn = PQconnectdb(db->url);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		db_errf(err, "cannot connect", PQerrorMessage(db->conn));
		db_drop(db);
		return RS_EDB;
	}
	r = PQexec(db->conn, db->setup);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK) {
		db_errf(err, "session setup", PQerrorMessage(db->conn));
		PQclear(r);
		db_drop(db);
		return RS_EDB;
	}
	PQclear(r);
	return RS_OK;
}

int
db_connected(const struct db *db)
{
	return db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK;
}

PGconn *
db_pgconn(struct db *db, char *err)
{
	if (db->in_tx || db->manual) {
		if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
			rs_errf(err, "database: connection lost%s",
			    db->in_tx ? " in a transaction" : "");
			return NULL;
		}
		return db->conn;
	}
	return db_connect(db, err) == RS_OK ? db->conn : NULL;
}

/* The prepared-statement bit set of table t on this connection. */
static uint64_t *
db_mask(struct db *db, const struct db_table *t)
{
	size_t	 i;

	for (i = 0; i < DB_TABLES_MAX; i++) {
		if (db->prep[i].t == t)
			return &db->prep[i].mask;
		if (db->prep[i].t == NULL) {
			db->prep[i].t = t;
			return &db->prep[i].mask;
		}
	}
	return NULL;		/* too many tables: run unprepared */
}

/* Prepare statement s of t once per connection; 0, or -1 with err. */
static int
db_prepare(struct db *db, const struct db_table *t, size_t s,
    const struct db_args *a, const char *name, char *err)
{
	uint64_t	*mask = db_mask(db, t);
	PGresult	*r;

	if (mask == NULL || (*mask & (UINT64_C(1) << s)))
		return 0;
	db->trips++;
	r = PQprepare(db->conn, name, t->sql[s], a->n, a->types);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		db_errf(err, "prepare failed", r != NULL ?
		    PQresultErrorMessage(r) : PQerrorMessage(db->conn));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	*mask |= UINT64_C(1) << s;
	return 0;
}

/* One try of statement s: the result, or NULL with err. */
static PGresult *
db_try(struct db *db, const struct db_table *t, size_t s,
    const struct db_args *a, char *err)
{
	PGresult	*r;
	ExecStatusType	 es;
	char		 name[48];
	int		 prep = s < t->prepared && s < DB_PREPARED_MAX &&
			    db_mask(db, t) != NULL;

	(void)snprintf(name, sizeof(name), "%s_%zu", t->name, s);
	if (prep && db_prepare(db, t, s, a, name, err) == -1)
		return NULL;
	db->trips++;
	if (prep)
		r = PQexecPrepared(db->conn, name, a->n, a->vals, a->lens,
		    a->fmts, a->result_fmt);
	else
		r = PQexecParams(db->conn, t->sql[s], a->n, a->types, a->vals,
		    a->lens, a->fmts, a->result_fmt);
	es = PQresultStatus(r);
	if (es == PGRES_TUPLES_OK || es == PGRES_COMMAND_OK)
		return r;
	db_errf(err, "query failed", r != NULL ? PQresultErrorMessage(r) :
	    PQerrorMessage(db->conn));
	PQclear(r);
	return NULL;
}

/* Whether the connection is gone (and, in manual mode, drop it). */
static int
db_lost(struct db *db)
{
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	if (db->manual)
		db_drop(db);
	return 1;
}

PGresult *
db_run(struct db *db, const struct db_table *t, size_t s,
    const struct db_args *a, enum db_retry retry, char *err)
{
	static const struct db_args	 none;
	PGresult			*r;
	int				 tries;

	if (a == NULL)
		a = &none;
	if (s >= t->n) {
		rs_errf(err, "database: no statement %zu in %s", s, t->name);
		return NULL;
	}
	for (tries = 0; tries < 2; tries++) {
		if (db->locked && retry != DB_RETRY_ALWAYS && (tries > 0 ||
		    (db->conn != NULL && PQstatus(db->conn) != CONNECTION_OK))) {
			/* The session lock went with the lost session: the
			 * caller must not go on as if it held it. */
			db->locked = 0;
			rs_errf(err, "database: connection lost during the "
			    "batch");
			return NULL;
		}
		if (db_pgconn(db, err) == NULL)
			return NULL;
		if ((r = db_try(db, t, s, a, err)) != NULL)
			return r;
		if (!db_lost(db) || db->in_tx || db->manual ||
		    retry == DB_RETRY_NEVER)
			return NULL;
	}
	return NULL;
}

PGresult *
db_runp(struct db *db, const struct db_table *t, size_t s, int n,
    const Oid *types, const char *const *vals, const int *lens,
    const int *fmts, enum db_retry retry, char *err)
{
	struct db_args	 a;

	a.n = n;
	a.types = types;
	a.vals = vals;
	a.lens = lens;
	a.fmts = fmts;
	a.result_fmt = 0;
	return db_run(db, t, s, &a, retry, err);
}

PGresult *
db_runv(struct db *db, const struct db_table *t, size_t s, int n,
    const char *const *vals, enum db_retry retry, char *err)
{
	struct db_args	 a;

	memset(&a, 0, sizeof(a));
	a.n = n;
	a.vals = vals;
	return db_run(db, t, s, &a, retry, err);
}

enum rs_status
db_exec(struct db *db, const struct db_table *t, size_t s, int n,
    const char *const *vals, enum db_retry retry, long long *affected,
    char *err)
{
	PGresult	*r;

	if ((r = db_runv(db, t, s, n, vals, retry, err)) == NULL)
		return RS_EDB;
	if (affected != NULL)
		*affected = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return RS_OK;
}

enum rs_status
db_script(struct db *db, const char *sql, const char *what, char *err)
{
	PGresult	*r;
	ExecStatusType	 es;

	if (db_pgconn(db, err) == NULL)
		return RS_EDB;
	db->trips++;
	r = PQexec(db->conn, sql);
	es = PQresultStatus(r);
	if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK ||
	    es == PGRES_EMPTY_QUERY) {
		PQclear(r);
		return RS_OK;
	}
	db_errf(err, what, r != NULL ? PQresultErrorMessage(r) :
	    PQerrorMessage(db->conn));
	PQclear(r);
	(void)db_lost(db);
	return RS_EDB;
}

static const char *const db_tx_sql[] = { "BEGIN", "COMMIT", "ROLLBACK" };
static const struct db_table db_tx = { "tx", db_tx_sql, 3, 0 };

enum rs_status
db_begin(struct db *db, char *err)
{
	PGresult	*r;

	/* BEGIN on a lost connection may be retried (no lock held). */
	if ((r = db_runv(db, &db_tx, 0, 0, NULL, DB_RETRY_UNLOCKED,
	    err)) == NULL)
		return RS_EDB;
	PQclear(r);
	db->in_tx = 1;
	return RS_OK;
}

enum rs_status
db_commit(struct db *db, char *err)
{
	PGresult	*r;

	r = db_runv(db, &db_tx, 1, 0, NULL, DB_RETRY_NEVER, err);
	db->in_tx = 0;
	if (r == NULL)
		return RS_EDB;
	PQclear(r);
	return RS_OK;
}

void
db_rollback(struct db *db)
{
	PGresult	*r;

	if (db->in_tx && db->conn != NULL &&
	    PQstatus(db->conn) == CONNECTION_OK &&
	    (r = db_runv(db, &db_tx, 2, 0, NULL, DB_RETRY_NEVER, NULL)) !=
	    NULL)
		PQclear(r);
	db->in_tx = 0;
}

int
db_in_tx(const struct db *db)
{
	return db->in_tx;
}

void
db_set_locked(struct db *db, int on)
{
	db->locked = on;
}

int
db_locked(const struct db *db)
{
	return db->locked;
}

int
db_round_trips(const struct db *db)
{
	return db->trips;
}

int
db_col(const PGresult *r, const char *col)
{
	return PQfnumber(r, col);
}

const char *
db_get(const PGresult *r, int row, const char *col)
{
	int	 c = PQfnumber(r, col);

	if (c < 0 || row < 0 || row >= PQntuples(r) ||
	    PQgetisnull(r, row, c))
		return "";
	return PQgetvalue(r, row, c);
}
