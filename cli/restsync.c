/*
 * restsync — the operator's command line: the same batch code as the
 * rest-batch endpoint (common/pipeline/batch.c), the page's source operations
 * (common/admin/sources.c), migrations (common/db/migrate.c) and the scheduled
 * worker (common/runner/worker.c).
 *
 *   restsync batch SOURCE_ID | sync SOURCE_ID | list | reset SOURCE_ID |
 *            delete SOURCE_ID | migrate | worker [--once] | runs SOURCE_ID |
 *            sweep SOURCE_ID | reembed SOURCE_ID | rotate-key |
 *            help [COMMAND]
 *
 * Configuration comes from the environment, as for the FastCGI programs.
 * Like them it refuses to run as root (RESTSYNC_ALLOW_ROOT=1 overrides):
 * run it as the service user, who can read DATABASE_URL and the key.  Operations are audited as
 * "cli:<unix user>" (the worker as "worker@<host>").
 *
 * Exit status: 0 success, 1 failure, 2 usage error, 130 sync interrupted.
 */
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "batch.h"
#include "embed.h"
#include "migrate.h"
#include "runner.h"
#include "reembed.h"
#include "runs.h"
#include "rotate.h"
#include "sources.h"
#include "worker.h"

#define EXIT_USAGE	2
#define EXIT_INTR	130
#define SYNC_BUSY_MAX_S	120	/* sync: give up waiting for a busy source */
#define BAR_WIDTH	30

static volatile sig_atomic_t	 stop_flag;

struct opts {
	int	 json;
	int	 once;
	int	 help;
	int	 confirm;
	int	 again;
	char	*arg;		/* the one positional argument */
};

struct cmd {
	const char	*name;
	const char	*args;		/* synopsis after the name */
	int		 nargs;		/* positional arguments: 0 or 1 */
	const char	*flags;		/* allowed options, e.g. "json" */
	const char	*summary;
	const char	*help;
	int		(*run)(const struct opts *);
};

static int	 cmd_batch(const struct opts *);
static int	 cmd_sync(const struct opts *);
static int	 cmd_list(const struct opts *);
static int	 cmd_reset(const struct opts *);
static int	 cmd_delete(const struct opts *);
static int	 cmd_migrate(const struct opts *);
static int	 cmd_worker(const struct opts *);
static int	 cmd_runs(const struct opts *);
static int	 cmd_sweep(const struct opts *);
static int	 cmd_rotate_key(const struct opts *);
static int	 cmd_reembed(const struct opts *);

static const struct cmd cmds[] = {
	{ "batch", "SOURCE_ID", 1, "", "run one batch, print its JSON",
	  "Runs exactly one batch of the source (fetch one page, chunk, embed,\n"
	  "store, advance the cursor) and prints the JSON the rest-batch\n"
	  "endpoint answers: {\"ok\":true,\"done\",\"items\",\"next\",...}.  On\n"
	  "failure it prints {\"ok\":false,\"error\",...} and exits 1; a source\n"
	  "whose batch is running elsewhere, or that is disabled, fails too.\n",
	  cmd_batch },
	{ "sync", "[--again] SOURCE_ID", 1, "again",
	  "run batches until the source is done",
	  "Runs batches of the source until it is done.  On a terminal it draws\n"
	  "a progress bar; otherwise it prints one line per batch,\n"
	  "  batch N: items=.. inserted=.. skipped=.. itemCount=.. total=.. next=..\n"
	  "           new=.. changed=.. unchanged=.. [sweep=.. removed=..] ms=..\n"
	  "and a last line \"done: batches=.. items=.. inserted=.. skipped=..\".\n"
	  "It stops at the first failed batch (exit 1).  While another batch of\n"
	  "the source runs (a worker, the page) it waits and retries, for at most\n"
	  "120 s in a row.  SIGINT/SIGTERM end it after the current batch (exit\n"
	  "130).  A source that is done stays done (see 'restsync reset'),\n"
	  "unless --again: then it starts a new walk from the first page,\n"
	  "keeping the incremental high-water mark (an incremental source's\n"
	  "new run is incremental, as the page's Sync again is).\n",
	  cmd_sync },
	{ "list", "[--json]", 0, "json", "list the REST sources",
	  "Prints one line per REST source: id, enabled, status (never, ok,\n"
	  "done, error), pages, items and chunks stored, sync interval,\n"
	  "last sync (UTC) and title.  --json prints the page's source\n"
	  "objects instead (the rest-sources endpoint's \"sources\").\n",
	  cmd_list },
	{ "reset", "[--json] SOURCE_ID", 1, "json",
	  "start a source over from the first page",
	  "Moves the source's cursor back to the first page (counts 0, status\n"
	  "cleared); docs and chunks stay, so the next sync stores only what\n"
	  "changed.  Fails (exit 1) while a batch of the source runs.  --json\n"
	  "prints the source object.\n",
	  cmd_reset },
	{ "delete", "[--json] SOURCE_ID", 1, "json",
	  "delete a source with its docs and chunks",
	  "Deletes the source, its cursor, docs and chunks in one transaction,\n"
	  "at once (no confirmation).  Fails (exit 1) while a batch of the\n"
	  "source runs.  --json prints {\"ok\":true,\"sourceId\",\"deleted\":\n"
	  "{\"docs\",\"chunks\"}}.\n",
	  cmd_delete },
	{ "migrate", "", 0, "", "apply the missing database migrations",
	  "Applies the sql/NNN_name.sql files not yet in schema_migrations, in\n"
	  "order, each in one transaction with its schema_migrations row (as\n"
	  "scripts/migrate.sh does).  Several machines may run it at once: an\n"
	  "advisory lock lets one apply and the others find nothing to do.\n"
	  "The folder is RESTSYNC_SQL_DIR, else the nearest \"sql\" folder above\n"
	  "the executable (<checkout>/sql for build/release/cli/restsync).\n",
	  cmd_migrate },
	{ "worker", "[--once]", 0, "once", "sync due sources until stopped",
	  "Keeps sources fresh: picks a due source (syncIntervalMinutes in its\n"
	  "config; never synced, in progress, done longer ago than the interval\n"
	  "- then it starts over from the first page - or failed longer ago\n"
	  "than min(interval, 5 min)), holds a PostgreSQL advisory lock on it\n"
	  "for a time slice, runs batches until it is done or the slice ends,\n"
	  "releases it and picks the next.  Any number of workers on any number\n"
	  "of machines share one database.  SIGTERM/SIGINT: finish the current\n"
	  "batch, release, exit 0.  --once: exit when no due source can be\n"
	  "claimed.  One JSON line per batch and event on stderr.\n"
	  "\n"
	  "  RESTSYNC_WORKER_SLICE_SECONDS   time slice per source (60)\n"
	  "  RESTSYNC_WORKER_IDLE_SECONDS    sleep when nothing is due (5, +-50%)\n"
	  "  RESTSYNC_WORKER_MINUTE_SECONDS  test knob: seconds in an interval\n"
	  "                                  minute (60)\n"
	  "  RESTSYNC_EMBED_CONCURRENCY      embeddings requests in flight per\n"
	  "                                  server-side run (4; 1-16)\n",
	  cmd_worker },
	{ "runs", "[--json] SOURCE_ID", 1, "json", "list a source's runs",
	  "Prints the source's last 20 runs (walks from the first page to\n"
	  "done), newest first: started (UTC), status, pages, items, what\n"
	  "changed (+new ~changed =unchanged -removed items), chunks inserted\n"
	  "and deleted, the sweep and its note, and the error of a failed run.\n"
	  "A run of an incremental source says \"incremental since=..\" or\n"
	  "\"full\" (with since= when it sent initialValue) and mark=.., its\n"
	  "high-water mark.\n"
	  "--json prints the rest-runs endpoint's \"runs\".\n",
	  cmd_runs },
	{ "sweep", "[--confirm] [--json] SOURCE_ID", 1, "json confirm",
	  "show or confirm the sweep of a source's last run",
	  "Without --confirm: prints the sweep of the source's latest run\n"
	  "(done, held, skipped; its note and the items it would remove).\n"
	  "With --confirm: carries out a held sweep (the items that run did not\n"
	  "see leave, with the chunks no other item holds), in one transaction,\n"
	  "audited as \"sweep\".  Exit 1 when there is no held sweep, a newer\n"
	  "run started, or a batch of the source runs.\n",
	  cmd_sweep },
	{ "rotate-key", "", 0, "", "re-encrypt the secrets under a new key",
	  "Decrypts every row of integration_secrets with the current key and\n"
	  "encrypts it again with a new one (RESTSYNC_NEW_SECRET_KEY, else\n"
	  "random) and a new nonce, in one transaction that keeps writers out.\n"
	  "The new key is written next to RESTSYNC_SECRET_KEY_FILE first (same\n"
	  "owner and mode), the rows are committed, the old file is kept as\n"
	  "<file>.old-<UTC stamp> and the new one takes its place; the workers\n"
	  "read the file per batch.  With RESTSYNC_SECRET_KEY set, the new key\n"
	  "goes to RESTSYNC_NEW_SECRET_KEY_FILE (secret.key.new): put it into\n"
	  "RESTSYNC_SECRET_KEY and restart the workers.  Rows that do not\n"
	  "decrypt stop it, listed, with nothing changed, unless\n"
	  "RESTSYNC_ROTATE_SKIP_UNDECRYPTABLE=1 leaves them as they are.\n"
	  "DATABASE_URL is read from the environment, as always.\n",
	  cmd_rotate_key },
	{ "reembed", "[--json] SOURCE_ID", 1, "json",
	  "re-embed a source's chunks with the deployment's model",
	  "A batch never mixes two embedding models in one source: after the\n"
	  "model changes (OPENAI_API_KEY set or removed, EMBEDDING_MODEL,\n"
	  "EMBEDDING_DIMENSIONS) its batches fail until the source is\n"
	  "re-embedded.  This re-embeds every chunk of the source whose\n"
	  "metadata.embeddingModel is not the deployment's, in groups of\n"
	  "256, each group one transaction, under the source's batch lock;\n"
	  "interrupted, it leaves whole groups done and the next run goes on.\n"
	  "Then the source syncs again.  Prints\n"
	  "\"reembedded N chunks of SOURCE with MODEL (G groups)\"; --json prints\n"
	  "{\"ok\":true,\"sourceId\",\"model\",\"chunks\",\"groups\",\"left\"}.\n"
	  "Exit 1 while a batch of the source runs or the embedder fails.\n",
	  cmd_reembed },
};

#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static void
usage(FILE *f)
{
	size_t	 i;

	fprintf(f, "usage: restsync COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  %-10s %-32s %s\n", cmds[i].name, cmds[i].args,
		    cmds[i].summary);
	fprintf(f, "  %-10s %-32s %s\n", "help", "[COMMAND]",
	    "this text, or a command's");
	fprintf(f,
	    "\n'restsync COMMAND --help' describes a command.\n"
	    "\nenvironment (as for the FastCGI programs):\n"
	    "  DATABASE_URL                     PostgreSQL connection string\n"
	    "  RESTSYNC_SECRET_KEY              32-byte key for tenants' API keys"
	    "\n"
	    "  RESTSYNC_SECRET_KEY_FILE         ... or a file holding it\n"
	    "  OPENAI_API_KEY, OPENAI_BASE_URL, EMBEDDING_MODEL\n"
	    "                                   embeddings (else the built-in "
	    "embedder)\n"
	    "  EMBEDDING_DIMENSIONS             vector size, 1..3072 (1536)\n"
	    "  RESTSYNC_ALLOW_PRIVATE_NETWORKS  1: allow upstreams on private "
	    "addresses\n"
	    "  RESTSYNC_SQL_DIR                 migrations folder (migrate)\n"
	    "  RESTSYNC_ALLOW_ROOT              1: run as root (refused "
	    "otherwise)\n"
	    "\nRun it as the service user (runuser -u restsync -- restsync ...):"
	    "\nas root every command but help exits 1 unless "
	    "RESTSYNC_ALLOW_ROOT=1.\n"
	    "\nexit status: 0 success, 1 failure, 2 usage error, 130 sync "
	    "interrupted\n(1 also as root without RESTSYNC_ALLOW_ROOT=1)\n");
}

static void
cmd_usage(FILE *f, const struct cmd *c, int full)
{
	fprintf(f, "usage: restsync %s%s%s\n", c->name, *c->args ? " " : "",
	    c->args);
	if (full)
		fprintf(f, "\n%s", c->help);
	else
		fprintf(f, "Try 'restsync %s --help'.\n", c->name);
}

static void
on_signal(int sig)
{
	/* A second signal is not polite any more. */
	if (stop_flag) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	stop_flag = 1;
}

static void
catch_signals(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
}

/* "cli:<unix user>" for the audit trail. */
static void
cli_actor(char *buf, size_t sz)
{
	struct passwd	*pw = getpwuid(geteuid());

	if (pw != NULL && pw->pw_name != NULL)
		(void)snprintf(buf, sz, "cli:%.150s", pw->pw_name);
	else
		(void)snprintf(buf, sz, "cli:uid%ld", (long)geteuid());
}

/* "worker@<host>". */
static void
worker_actor(char *buf, size_t sz)
{
	char	 host[256];

	if (gethostname(host, sizeof(host)) == -1)
		(void)snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	(void)snprintf(buf, sz, "worker@%.150s", host);
}

/* Print s with control characters replaced (titles, cursors, errors
 * come from the database and upstreams; a terminal must not obey them). */
static void
put_safe(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static void
print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void
fail_msg(const char *cmd, const char *err)
{
	fprintf(stderr, "restsync %s: ", cmd);
	put_safe(stderr, err);
	fputc('\n', stderr);
}

/* The settings a run reads, checked when the command starts rather than
 * when its first run needs them. */
static int
check_run_env(const char *cmd)
{
	char	 err[RS_ERRLEN];
	int	 n;

	if (embed_concurrency(&n, err) == -1) {
		fail_msg(cmd, err);
		return -1;
	}
	return 0;
}

static int
open_ctx(const char *cmd, struct batch_ctx *ctx)
{
	char	 err[RS_ERRLEN];

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fail_msg(cmd, "cannot initialise libcurl");
		return -1;
	}
	if (batch_ctx_open(ctx, err) != RS_OK) {
		fail_msg(cmd, err);
		curl_global_cleanup();
		return -1;
	}
	return 0;
}

static void
close_ctx(struct batch_ctx *ctx)
{
	batch_ctx_close(ctx);
	curl_global_cleanup();
}

/* The sources' API on a connection of its own (list, reset, delete, runs,
 * sweep). */
struct cli_src {
	struct store	*st;
	struct src_db	*db;
};

static void
close_src(struct cli_src *c)
{
	src_close(c->db);
	store_close(c->st);
	c->db = NULL;
	c->st = NULL;
}

static int
open_src(const char *cmd, struct cli_src *c)
{
	char	 err[RS_ERRLEN];

	c->st = NULL;
	c->db = NULL;
	if (store_open(&c->st, err) != RS_OK ||
	    src_open(&c->db, c->st, err) != RS_OK) {
		fail_msg(cmd, err);
		close_src(c);
		return -1;
	}
	return 0;
}

/* The endpoint's error body: {"ok":false,"error", "url", "status"}. */
static struct json_object *
error_json(const struct batch_result *res, const char *err)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(err));
	if (res->fetched || res->url != NULL) {
		json_object_object_add(o, "url", res->url != NULL ?
		    json_object_new_string(res->url) : NULL);
		json_object_object_add(o, "status", res->status > 0 ?
		    json_object_new_int((int)res->status) : NULL);
	}
	/* The rateLimit budget had no room in time (ratelimit.h). */
	if (res->retry_after > 0)
		json_object_object_add(o, "retryAfter",
		    json_object_new_int64(res->retry_after));
	return o;
}

static int
cmd_batch(const struct opts *o)
{
	struct batch_ctx	 ctx;
	struct batch_result	 res;
	struct json_object	*out;
	enum rs_status		 st;
	char			 err[RS_ERRLEN], actor[WK_ACTOR_MAX];

	if (open_ctx("batch", &ctx) == -1)
		return EXIT_FAILURE;
	cli_actor(actor, sizeof(actor));
	err[0] = '\0';
	st = batch_run(&ctx, o->arg, actor, "sync", &res, err);
	out = st == RS_OK ? batch_result_json(&res) : error_json(&res, err);
	print_json(out);
	json_object_put(out);
	if (st != RS_OK)
		fail_msg("batch", err);
	batch_result_free(&res);
	close_ctx(&ctx);
	return st == RS_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}

static void
draw_bar(long long items, long long total, int batches, long long inserted,
    long long skipped, int waiting)
{
	static const char	 spin[] = "|/-\\";
	char			 bar[BAR_WIDTH + 1];
	int			 i, fill;

	if (total > 0) {
		fill = items >= total ? BAR_WIDTH :
		    (int)(items * BAR_WIDTH / total);
		for (i = 0; i < BAR_WIDTH; i++)
			bar[i] = i < fill ? '#' : '-';
		bar[BAR_WIDTH] = '\0';
		printf("\r[%s] %lld/%lld items", bar, items, total);
	} else
		printf("\r[%c] %lld items", spin[batches % 4], items);
	/* The same width either way: \r redraws over the last line. */
	printf(", %d batches, %lld inserted, %lld skipped%s   ", batches,
	    inserted, skipped, waiting ? " (waiting: source busy)" :
	    "                       ");
	fflush(stdout);
}

/* What the sync's progress needs between batches (runner callbacks). */
struct sync_view {
	int		 tty;
	int		 told;		/* said "busy" once */
	int		 batches;
	long long	 items, inserted, skipped;
};

static void
sync_on_batch(void *arg, enum rs_status st, const struct batch_result *res,
    const char *err)
{
	struct sync_view	*v = arg;

	(void)err;
	v->told = 0;
	if (st != RS_OK || !res->fetched)
		return;
	v->batches++;
	v->items += res->items;
	v->inserted += res->inserted;
	v->skipped += res->skipped;
	if (v->tty) {
		draw_bar(res->done && res->total >= 0 ? res->total : v->items,
		    res->total, v->batches, v->inserted, v->skipped, 0);
		return;
	}
	printf("batch %d: items=%lld inserted=%lld skipped=%lld "
	    "itemCount=%lld total=", v->batches, res->items, res->inserted,
	    res->skipped, res->item_count);
	if (res->total >= 0)
		printf("%lld", res->total);
	else
		printf("-");
	printf(" next=");
	if (res->next != NULL)
		put_safe(stdout, res->next);
	else
		printf("-");
	printf(" new=%lld changed=%lld unchanged=%lld", res->new_items,
	    res->changed_items, res->unchanged_items);
	if (res->sweep[0] != '\0')
		printf(" sweep=%s removed=%lld", res->sweep,
		    res->removed_items);
	printf(" ms=%.1f\n", res->ms.total);
	fflush(stdout);
}

static int
sync_on_busy(void *arg, double waited_ms)
{
	struct sync_view	*v = arg;

	(void)waited_ms;
	if (v->tty)
		draw_bar(v->items, -1, v->batches, v->inserted, v->skipped, 1);
	else if (!v->told)
		printf("busy: a batch of this source is running elsewhere; "
		    "waiting\n");
	v->told = 1;
	fflush(stdout);
	return 1;
}

/*
 * Batches until done (common/runner/runner.c): a running batch elsewhere is
 * waited out for at most SYNC_BUSY_MAX_S in a row; a disabled source
 * fails.
 */
/*
 * sync --again: a done source starts a new walk, keeping its incremental
 * mark (rest-sources-reset {"keepMark": true}, audited as "reset").
 */
static int
sync_again(struct batch_ctx *ctx, const char *actor, const char *id,
    char *err)
{
	struct src_db		*db = NULL;
	struct json_object	*out = NULL;
	int			 rc = -1;

	if (src_open(&db, ctx->st, err) != RS_OK ||
	    src_reset(db, actor, id, 1, &out, err) != RS_OK)
		goto out;
	rc = 0;
out:
	json_object_put(out);
	src_close(db);
	return rc;
}

static int
cmd_sync(const struct opts *o)
{
	struct batch_ctx	 ctx;
	struct runner_opts	 ro;
	struct runner_sum	 sum;
	struct sync_view	 view;
	enum runner_end		 end;
	char			 err[RS_ERRLEN], actor[WK_ACTOR_MAX];
	int			 rc = EXIT_FAILURE;

	if (check_run_env("sync") == -1)
		return EXIT_USAGE;
	if (open_ctx("sync", &ctx) == -1)
		return EXIT_FAILURE;
	cli_actor(actor, sizeof(actor));
	catch_signals();
	memset(&view, 0, sizeof(view));
	view.tty = isatty(STDOUT_FILENO);
	memset(&ro, 0, sizeof(ro));
	ro.actor = actor;
	ro.action = "sync-to-end";
	ro.busy_max_ms = SYNC_BUSY_MAX_S * 1000.0;
	ro.stop = &stop_flag;
	ro.on_batch = sync_on_batch;
	ro.on_busy = sync_on_busy;
	ro.arg = &view;
	err[0] = '\0';
	end = runner_loop(&ctx, o->arg, &ro, &sum, err);
	if (end == RUNNER_DONE && sum.batches == 0 && o->again &&
	    sync_again(&ctx, actor, o->arg, err) == 0)
		end = runner_loop(&ctx, o->arg, &ro, &sum, err);
	if (view.tty && view.batches > 0)
		putchar('\n');
	switch (end) {
	case RUNNER_DONE:
		if (sum.batches == 0)
			printf("done: the source was already done "
			    "(restsync reset starts it over)\n");
		else
			printf("done: batches=%d items=%lld inserted=%lld "
			    "skipped=%lld seconds=%.1f\n", sum.batches,
			    sum.items, sum.inserted, sum.skipped,
			    sum.ms / 1000);
		rc = EXIT_SUCCESS;
		break;
	case RUNNER_STOPPED:
		fprintf(stderr, "restsync sync: interrupted after %d "
		    "batches\n", sum.batches);
		rc = EXIT_INTR;
		break;
	case RUNNER_BUSY:
		fprintf(stderr, "restsync sync: a batch of this source has been "
		    "running elsewhere for %d s; giving up\n",
		    SYNC_BUSY_MAX_S);
		break;
	case RUNNER_DISABLED:
		fail_msg("sync", "source is disabled; enable it to sync");
		break;
	default:
		fail_msg("sync", err);
		break;
	}
	close_ctx(&ctx);
	return rc;
}

/* A config's syncIntervalMinutes as "60m", or "-". */
static void
interval_text(struct json_object *src, char *buf, size_t sz)
{
	struct json_object	*cfg, *v;

	if (json_object_object_get_ex(src, "config", &cfg) &&
	    json_object_is_type(cfg, json_type_object) &&
	    json_object_object_get_ex(cfg, "syncIntervalMinutes", &v) &&
	    json_object_is_type(v, json_type_int))
		(void)snprintf(buf, sz, "%lldm",
		    (long long)json_object_get_int64(v));
	else
		(void)snprintf(buf, sz, "-");
}

static const char *
str_field(struct json_object *o, const char *k, const char *dflt)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return dflt;
	return json_object_get_string(v);
}

static int
cmd_list(const struct opts *o)
{
	struct cli_src		 c;
	struct json_object	*list = NULL, *s, *v;
	char			 err[RS_ERRLEN], iv[32];
	const char		*status;
	int			 truncated = 0, rc = EXIT_FAILURE;
	size_t			 i, n;

	if (open_src("list", &c) != 0)
		return EXIT_FAILURE;
	if (src_list(c.db, &list, &truncated, err) != RS_OK) {
		fail_msg("list", err);
		goto out;
	}
	if (o->json)
		print_json(list);
	else {
		printf("%-36s %-7s %-6s %6s %8s %8s %8s %-20s %s\n", "ID",
		    "ENABLED", "STATUS", "PAGES", "ITEMS", "CHUNKS",
		    "INTERVAL", "LAST SYNC (UTC)", "TITLE");
		n = json_object_array_length(list);
		for (i = 0; i < n; i++) {
			s = json_object_array_get_idx(list, i);
			status = str_field(s, "lastStatus", "never");
			if (json_object_object_get_ex(s, "done", &v) &&
			    json_object_get_boolean(v))
				status = "done";
			interval_text(s, iv, sizeof(iv));
			printf("%-36s %-7s %-6s %6s %8s %8s %8s %-20.19s ",
			    str_field(s, "id", ""),
			    json_object_object_get_ex(s, "enabled", &v) &&
			    json_object_get_boolean(v) ? "yes" : "no", status,
			    str_field(s, "pageCount", "0"),
			    str_field(s, "itemCount", "0"),
			    str_field(s, "chunks", "0"), iv,
			    str_field(s, "lastSyncedAt", "-"));
			put_safe(stdout, str_field(s, "title", ""));
			putchar('\n');
		}
	}
	if (truncated)
		fprintf(stderr, "restsync list: only the first %d sources\n",
		    SRC_LIST_MAX);
	rc = EXIT_SUCCESS;
out:
	json_object_put(list);
	close_src(&c);
	return rc;
}

static int
cmd_reset(const struct opts *o)
{
	struct cli_src		 c;
	struct json_object	*out = NULL;
	char			 err[RS_ERRLEN], actor[WK_ACTOR_MAX];
	int			 rc = EXIT_FAILURE;

	cli_actor(actor, sizeof(actor));
	if (open_src("reset", &c) != 0)
		return EXIT_FAILURE;
	if (src_reset(c.db, actor, o->arg, 0, &out, err) != RS_OK) {
		fail_msg("reset", err);
		goto out;
	}
	if (o->json)
		print_json(out);
	else
		printf("reset %s: the next batch starts from the first page\n",
		    o->arg);
	rc = EXIT_SUCCESS;
out:
	json_object_put(out);
	close_src(&c);
	return rc;
}

static int
cmd_delete(const struct opts *o)
{
	struct cli_src		 c;
	struct json_object	*out, *del;
	char			 err[RS_ERRLEN], actor[WK_ACTOR_MAX];
	long long		 docs, chunks;
	int			 rc = EXIT_FAILURE;

	cli_actor(actor, sizeof(actor));
	if (open_src("delete", &c) != 0)
		return EXIT_FAILURE;
	if (src_delete(c.db, actor, o->arg, &docs, &chunks, err) != RS_OK) {
		fail_msg("delete", err);
		goto out;
	}
	if (o->json) {
		del = json_object_new_object();
		json_object_object_add(del, "docs", json_object_new_int64(docs));
		json_object_object_add(del, "chunks",
		    json_object_new_int64(chunks));
		out = json_object_new_object();
		json_object_object_add(out, "ok", json_object_new_boolean(1));
		json_object_object_add(out, "sourceId",
		    json_object_new_string(o->arg));
		json_object_object_add(out, "deleted", del);
		print_json(out);
		json_object_put(out);
	} else
		printf("deleted %s: %lld docs, %lld chunks\n", o->arg, docs,
		    chunks);
	rc = EXIT_SUCCESS;
out:
	close_src(&c);
	return rc;
}

static int
cmd_migrate(const struct opts *o)
{
	char	 dir[4096], err[RS_ERRLEN];
	int	 applied = 0;

	(void)o;
	if (mig_sql_dir(dir, sizeof(dir), err) != RS_OK ||
	    mig_apply(dir, stdout, &applied, err) != RS_OK) {
		fail_msg("migrate", err);
		return EXIT_FAILURE;
	}
	if (applied == 0)
		printf("migrate: up to date (%s)\n", dir);
	else
		printf("migrate: %d applied (%s)\n", applied, dir);
	return EXIT_SUCCESS;
}

static int
cmd_worker(const struct opts *o)
{
	struct batch_ctx	 ctx;
	struct wk_opts		 wo;
	enum rs_status		 st;
	char			 err[RS_ERRLEN], actor[WK_ACTOR_MAX];

	if (wk_opts_env(&wo, err) != RS_OK) {
		fail_msg("worker", err);
		return EXIT_USAGE;
	}
	if (check_run_env("worker") == -1)
		return EXIT_USAGE;
	wo.once = o->once;
	catch_signals();
	if (open_ctx("worker", &ctx) == -1)
		return EXIT_FAILURE;
	worker_actor(actor, sizeof(actor));
	err[0] = '\0';
	st = wk_run(&ctx, &wo, actor, &stop_flag, err);
	if (st != RS_OK)
		fail_msg("worker", err);
	close_ctx(&ctx);
	return st == RS_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* 1 if the command takes the option flag ("json", "once"). */
static int
allows(const struct cmd *c, const char *flag)
{
	const char	*p = c->flags;
	size_t		 n = strlen(flag);

	/* c->flags: space-separated names. */
	for (; (p = strstr(p, flag)) != NULL; p += n)
		if ((p == c->flags || p[-1] == ' ') &&
		    (p[n] == '\0' || p[n] == ' '))
			return 1;
	return 0;
}

/* Options and the positional argument of c from argv[1..argc). */
static int
parse(const struct cmd *c, int argc, char **argv, struct opts *o)
{
	int	 i, npos = 0, dashdash = 0;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!dashdash && strcmp(a, "--") == 0)
			dashdash = 1;
		else if (!dashdash && (strcmp(a, "--help") == 0 ||
		    strcmp(a, "-h") == 0))
			o->help = 1;
		else if (!dashdash && strcmp(a, "--json") == 0 &&
		    allows(c, "json"))
			o->json = 1;
		else if (!dashdash && strcmp(a, "--once") == 0 &&
		    allows(c, "once"))
			o->once = 1;
		else if (!dashdash && strcmp(a, "--confirm") == 0 &&
		    allows(c, "confirm"))
			o->confirm = 1;
		else if (!dashdash && strcmp(a, "--again") == 0 &&
		    allows(c, "again"))
			o->again = 1;
		else if (!dashdash && a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "restsync %s: unknown option ",
			    c->name);
			put_safe(stderr, a);
			fputc('\n', stderr);
			return -1;
		} else {
			if (++npos > c->nargs) {
				fprintf(stderr, "restsync %s: unexpected "
				    "argument ", c->name);
				put_safe(stderr, a);
				fputc('\n', stderr);
				return -1;
			}
			o->arg = argv[i];
		}
	}
	if (o->help)
		return 0;
	if (npos < c->nargs) {
		fprintf(stderr, "restsync %s: %s is required\n", c->name,
		    c->args[0] == '[' ? strchr(c->args, ' ') + 1 : c->args);
		return -1;
	}
	if (c->nargs == 1 && !rs_is_uuid(o->arg)) {
		fprintf(stderr, "restsync %s: SOURCE_ID must be a UUID, not ",
		    c->name);
		put_safe(stderr, o->arg);
		fputc('\n', stderr);
		return -1;
	}
	return 0;
}

/* A JSON field as text for the listings ("-" when null). */
static const char *
jstr(struct json_object *o, const char *k)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return "-";
	return json_object_get_string(v);
}

static long long
jnum(struct json_object *o, const char *k)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return 0;
	return json_object_get_int64(v);
}

/* An incremental source's run: "  incremental since=.. mark=..". */
static void
run_mode(struct json_object *r)
{
	if (strcmp(jstr(r, "incremental"), "-") == 0)
		return;
	fputs(strcmp(jstr(r, "incremental"), "true") == 0 ?
	    "  incremental" : "  full", stdout);
	if (strcmp(jstr(r, "since"), "-") != 0) {
		fputs(" since=", stdout);
		put_safe(stdout, jstr(r, "since"));
	}
	fputs(" mark=", stdout);
	put_safe(stdout, jstr(r, "mark"));
}

static int
cmd_runs(const struct opts *o)
{
	struct cli_src		 c;
	struct json_object	*runs = NULL, *r;
	char			 err[RS_ERRLEN];
	size_t			 i;
	int			 rc = EXIT_FAILURE;

	if (open_src("runs", &c) != 0)
		return EXIT_FAILURE;
	if (src_runs(c.db, o->arg, SRC_AUDIT_DEFAULT, &runs, err) != RS_OK) {
		fail_msg("runs", err);
		goto out;
	}
	if (o->json)
		print_json(runs);
	else
		for (i = 0; i < json_object_array_length(runs); i++) {
			r = json_object_array_get_idx(runs, i);
			printf("%s  %-7s  pages=%lld items=%lld  +%lld ~%lld "
			    "=%lld -%lld  chunks +%lld -%lld  sweep=%s",
			    jstr(r, "startedAt"), jstr(r, "status"),
			    jnum(r, "pages"), jnum(r, "items"),
			    jnum(r, "newItems"), jnum(r, "changedItems"),
			    jnum(r, "unchangedItems"), jnum(r, "removedItems"),
			    jnum(r, "chunksInserted"), jnum(r, "chunksDeleted"),
			    jstr(r, "sweep"));
			run_mode(r);
			if (strcmp(jstr(r, "sweepNote"), "-") != 0) {
				fputs(" (", stdout);
				put_safe(stdout, jstr(r, "sweepNote"));
				fputs(")", stdout);
			}
			if (strcmp(jstr(r, "error"), "-") != 0) {
				fputs("  error: ", stdout);
				put_safe(stdout, jstr(r, "error"));
			}
			fputc('\n', stdout);
		}
	rc = EXIT_SUCCESS;
out:
	json_object_put(runs);
	close_src(&c);
	return rc;
}

static int
cmd_sweep(const struct opts *o)
{
	struct cli_src		 c;
	struct json_object	*runs = NULL, *r, *out = NULL;
	struct runs_sweep	 sw;
	char			 err[RS_ERRLEN], actor[WK_ACTOR_MAX];
	char			 run[37];
	int			 rc = EXIT_FAILURE;

	cli_actor(actor, sizeof(actor));
	if (open_src("sweep", &c) != 0)
		return EXIT_FAILURE;
	if (src_runs(c.db, o->arg, 1, &runs, err) != RS_OK) {
		fail_msg("sweep", err);
		goto out;
	}
	if (json_object_array_length(runs) == 0) {
		fail_msg("sweep", "the source has no run yet");
		goto out;
	}
	r = json_object_array_get_idx(runs, 0);
	(void)snprintf(run, sizeof(run), "%s", jstr(r, "id"));
	if (!o->confirm) {
		if (o->json)
			print_json(r);
		else {
			printf("run %s (%s): sweep %s", run, jstr(r, "status"),
			    jstr(r, "sweep"));
			if (strcmp(jstr(r, "sweepNote"), "-") != 0) {
				fputs(": ", stdout);
				put_safe(stdout, jstr(r, "sweepNote"));
			}
			fputc('\n', stdout);
			if (strcmp(jstr(r, "sweep"), "held") == 0)
				printf("confirm with: restsync sweep --confirm "
				    "%s\n", o->arg);
		}
		rc = EXIT_SUCCESS;
		goto out;
	}
	if (runs_confirm_sweep(c.st, o->arg, run, actor, &sw, err) != RS_OK) {
		fail_msg("sweep", err);
		goto out;
	}
	if (o->json) {
		out = json_object_new_object();
		json_object_object_add(out, "ok", json_object_new_boolean(1));
		json_object_object_add(out, "sourceId",
		    json_object_new_string(o->arg));
		json_object_object_add(out, "runId",
		    json_object_new_string(run));
		json_object_object_add(out, "removedItems",
		    json_object_new_int64(sw.removed));
		json_object_object_add(out, "chunksDeleted",
		    json_object_new_int64(sw.chunks));
		print_json(out);
	} else
		printf("swept %s: removed %lld items, %lld chunks\n", o->arg,
		    sw.removed, sw.chunks);
	rc = EXIT_SUCCESS;
out:
	json_object_put(out);
	json_object_put(runs);
	close_src(&c);
	return rc;
}

/* rotate-key: common/admin/rotate.c. */
static int
cmd_rotate_key(const struct opts *o)
{
	struct rot_result	 res;
	struct store		*st = NULL;
	const char		*skip = getenv("RESTSYNC_ROTATE_SKIP_UNDECRYPTABLE");
	char			 err[RS_ERRLEN];
	int			 rc = EXIT_FAILURE;

	(void)o;
	err[0] = '\0';
	if (store_open(&st, err) != RS_OK ||
	    rot_rotate(st, skip != NULL && strcmp(skip, "1") == 0, stderr,
	    &res, err) != RS_OK) {
		fprintf(stderr, "restsync rotate-key: %s\n", err);
		goto out;
	}
	if (res.old_file[0] != '\0')
		printf("restsync rotate-key: rotated %ld secrets; %s holds the "
		    "new key, the old one is %s\n", res.rotated, res.key_file,
		    res.old_file);
	else
		printf("restsync rotate-key: rotated %ld secrets; put the key "
		    "in %s into RESTSYNC_SECRET_KEY and restart the workers\n",
		    res.rotated, res.key_file);
	if (res.skipped > 0)
		printf("restsync rotate-key: %ld secret(s) did not decrypt and "
		    "were left as they are\n", res.skipped);
	rc = EXIT_SUCCESS;
out:
	store_close(st);
	return rc;
}

/* reembed: common/admin/reembed.c. */
static int
cmd_reembed(const struct opts *o)
{
	struct batch_ctx	 ctx;
	struct reembed_result	 res;
	struct json_object	*out;
	char			 err[RS_ERRLEN], actor[WK_ACTOR_MAX];
	enum rs_status		 st;

	if (open_ctx("reembed", &ctx) == -1)
		return EXIT_FAILURE;
	cli_actor(actor, sizeof(actor));
	err[0] = '\0';
	st = reembed_source(ctx.st, ctx.em, o->arg, actor, 0, 0, &res,
	    err);
	if (st != RS_OK)
		fail_msg("reembed", err);
	else if (o->json) {
		out = reembed_result_json(o->arg, &res);
		print_json(out);
		json_object_put(out);
	} else
		printf("reembedded %lld chunks of %s with %s (%d groups)\n",
		    res.chunks, o->arg, res.model, res.groups);
	close_ctx(&ctx);
	return st == RS_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}

static const struct cmd *
find_cmd(const char *name)
{
	size_t	 i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct cmd	*c;
	struct opts		 o;

	rs_mem_init();
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc == 2) {
			usage(stdout);
			return EXIT_SUCCESS;
		}
		if (argc == 3 && (c = find_cmd(argv[2])) != NULL) {
			cmd_usage(stdout, c, 1);
			return EXIT_SUCCESS;
		}
		fprintf(stderr, "restsync help: no such command\n");
		return EXIT_USAGE;
	}
	if ((c = find_cmd(argv[1])) == NULL) {
		fprintf(stderr, "restsync: unknown command ");
		put_safe(stderr, argv[1]);
		fprintf(stderr, "\nTry 'restsync --help'.\n");
		return EXIT_USAGE;
	}
	if (parse(c, argc - 1, argv + 1, &o) == -1) {
		cmd_usage(stderr, c, 0);
		return EXIT_USAGE;
	}
	if (o.help) {
		cmd_usage(stdout, c, 1);
		return EXIT_SUCCESS;
	}
	/* Like the FastCGI programs (fio_init): never as root (issue 14). */
	if ((getuid() == 0 || geteuid() == 0) &&
	    (getenv("RESTSYNC_ALLOW_ROOT") == NULL ||
	    strcmp(getenv("RESTSYNC_ALLOW_ROOT"), "1") != 0)) {
		fprintf(stderr, "restsync: refusing to run as root; run it as "
		    "the service user (runuser -u restsync -- restsync ...) "
		    "or set RESTSYNC_ALLOW_ROOT=1\n");
		return EXIT_FAILURE;
	}
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	return c->run(&o);
}
