/*
 * db.h — the one database layer: a connection opened from the settings,
 * statement tables (each module keeps its own SQL), prepare once per
 * connection, run with a retry rule, transactions, and result access by
 * column name.  Prefix: db_.
 *
 * Every module that talks to PostgreSQL (store, srcdb, runs, obs,
 * inspect, reembed, rotate, migrate, worker) does it through here; none
 * has its own runner, connect path or BEGIN/COMMIT.  The advisory-lock
 * keys are spelled here too (DB_LOCK_SOURCE, DB_LOCK_RUN).
 */
#ifndef DB_H
#define DB_H

#include <stddef.h>

#include <libpq-fe.h>

#include "rs.h"

/* Advisory-lock key prefixes: hashtextextended(prefix || id, 0). */
#define DB_LOCK_SOURCE	"restsync:source:"
#define DB_LOCK_RUN	"restsync:run:"
#define DB_LOCK_WORKER	"restsync:worker:"	/* a worker's slice */
#define DB_LOCK_MIGRATE	"restsync:migrate"	/* one migrator */

/* The type of a binary bytea parameter (struct db_args.types). */
#define DB_OID_BYTEA	17

/* A module's statements: sql[0..n); [0, prepared) are prepared once. */
struct db_table {
	const char		*name;		/* prepared names: <name>_<i> */
	const char *const	*sql;
	size_t			 n;
	size_t			 prepared;	/* at most DB_PREPARED_MAX */
};
#define DB_PREPARED_MAX	64

/*
 * What a statement may do after a lost connection: never be retried (a
 * write that may have happened), be retried only while no session lock
 * is held (the reads of a locked batch: the new session would not hold
 * it), or always (needs no lock).  Inside a transaction nothing is
 * retried and the connection is never replaced.
 */
enum db_retry {
	DB_RETRY_NEVER = 0,
	DB_RETRY_UNLOCKED,
	DB_RETRY_ALWAYS
};

/* Parameters of one statement (all but n may be NULL: text, untyped). */
struct db_args {
	int			 n;
	const Oid		*types;
	const char *const	*vals;
	const int		*lens;
	const int		*fmts;
	int			 result_fmt;	/* 0 text, 1 binary */
};

struct db;

/*
 * A connection handle; nothing is connected until the first statement
 * (or db_connect).  url NULL: the settings' DATABASE_URL.  setup is run
 * (several statements allowed) after every connect; NULL: the default
 * session settings (statement timeout, application name, UTC).  With
 * manual set, a lost connection is never reopened by db_run: the caller
 * reconnects with db_connect (the worker, whose LISTEN and locks belong
 * to its session).
 */
enum rs_status	 db_open(struct db **, const char *url, const char *setup,
		    int manual, char *err);
void		 db_close(struct db *);

/* Connect now (or check the connection). */
enum rs_status	 db_connect(struct db *, char *err);

/* Whether the connection is open now (no round trip). */
int		 db_connected(const struct db *);

/* The raw connection for what statements cannot do (COPY, notifies). */
PGconn		*db_pgconn(struct db *, char *err);

/* Run statement s of t; NULL (message in err) unless it succeeded. */
PGresult	*db_run(struct db *, const struct db_table *t, size_t s,
		    const struct db_args *a, enum db_retry retry, char *err);

/*
 * db_run with the parameters spelled out, a text result: what each
 * module's own runner used to fill a struct db_args for.
 */
PGresult	*db_runp(struct db *, const struct db_table *t, size_t s,
		    int n, const Oid *types, const char *const *vals,
		    const int *lens, const int *fmts, enum db_retry retry,
		    char *err);

/* Text parameters only. */
PGresult	*db_runv(struct db *, const struct db_table *t, size_t s,
		    int n, const char *const *vals, enum db_retry retry,
		    char *err);

/* Run and drop the result; *affected (may be NULL) the rows touched. */
enum rs_status	 db_exec(struct db *, const struct db_table *t, size_t s,
		    int n, const char *const *vals, enum db_retry retry,
		    long long *affected, char *err);

/* Run an unparameterised script (migrations: several statements). */
enum rs_status	 db_script(struct db *, const char *sql, const char *what,
		    char *err);

/* Transactions: nothing is retried and no connection replaced inside. */
enum rs_status	 db_begin(struct db *, char *err);
enum rs_status	 db_commit(struct db *, char *err);
void		 db_rollback(struct db *);
int		 db_in_tx(const struct db *);

/* A session lock is held (set by who takes and releases it). */
void		 db_set_locked(struct db *, int);
int		 db_locked(const struct db *);

/* Statements sent so far (for the batch's round-trip figure). */
int		 db_round_trips(const struct db *);

/* "database: <what>: <first line of msg>" into err. */
void		 db_errf(char *err, const char *what, const char *msg);

/* Column col of row (text results), "" when absent or NULL. */
const char	*db_get(const PGresult *, int row, const char *col);

/* Column index by name; -1 when the result has no such column. */
int		 db_col(const PGresult *, const char *col);

#endif
