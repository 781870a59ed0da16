/*
 * srcinput.h — validation of the source endpoints' request bodies and
 * query strings into structs, before anything touches the database.
 * Prefix: srcin_.
 *
 * Every refusal is RS_EINPUT (HTTP 400) with a message that names the
 * field or parameter; outputs are cleared on entry and again on failure.
 * Secrets (apiKey, clientId, clientSecret) are write-only: they are
 * copied into the struct for sources.c to encrypt, never echoed.
 */
#ifndef SRCINPUT_H
#define SRCINPUT_H

#include <stddef.h>

#include <json-c/json.h>

#include "rs.h"

#define SRCIN_TITLE_MAX		200	/* characters, like the schema's CHECK */
#define SRCIN_APIKEY_MAX	4096	/* bytes */
#define SRCIN_PROVIDER_MAX	64	/* a provider's characters (config.c) */
#define SRCIN_LIMIT_DEFAULT	20	/* entries in one listing ... */
#define SRCIN_LIMIT_MAX		200	/* ... and at most */

/* A validated create or update request. */
struct source_input {
	char	 source_id[RS_UUID_LEN + 1];	/* update: the source */
	char	 tenant_id[RS_UUID_LEN + 1];	/* create: the tenant */
	char	*title;		/* NULL: unchanged (update only) */
	char	*config;	/* JSON text; NULL: unchanged (update only) */
	char	*provider;	/* the config's provider, with config */
	char	*api_key;	/* NULL: leave the stored secret alone */
	/* auth oauth2_client_credentials: both or neither (NULL: leave the
	 * stored secret alone); never with api_key. */
	char	*client_id;
	char	*client_secret;
	int	 enabled;	/* 1, 0, or -1: unchanged / default */
	int	 provider_named;	/* the config names its provider */
	int	 requires_auth;		/* the config's requiresAuth */
	int	 replace_shared;	/* replaceSharedKey: true */
};

/*
 * Validate a create (create = 1: tenantId, title, config required) or an
 * update (sourceId required; title, config, apiKey, enabled optional)
 * body into *in (zeroed first, empty again on failure).  RS_EINPUT with a
 * message that names the field; RS_ENOMEM.  An empty apiKey means "leave
 * the key alone"; unknown fields are refused.  clientId and clientSecret
 * (write-only, like apiKey) come together, never with apiKey.
 * replaceSharedKey (a boolean) allows replacing a key other sources use
 * (sources.c checks).  A create whose config needs a key (requiresAuth,
 * or one sent) and names no provider gets srcin_host_provider's.
 */
enum rs_status	 srcin_parse_input(struct json_object *body, int create,
		    struct source_input *in, char *err);

/*
 * The provider a new source's key is stored for when its config names
 * none (issue 16): the host of its baseUrl, lowercase, with ":port" when
 * the port is not the scheme's, every character other than A-Z a-z 0-9
 * _ . - written as '-', at most 64 characters ("api.example.com",
 * "127.0.0.1-8080").  0, or -1 when the config's baseUrl has none.
 */
int		 srcin_host_provider(const char *base_url, char *out,
		    size_t outsz);

/*
 * The provider config (JSON text) names into out: 1, else 0 (absent,
 * null, not a string, or not JSON).
 */
int		 srcin_named_provider(const char *config, char *out,
		    size_t outsz);

/*
 * Write "provider": provider into in->config (after its last key, in
 * the text's own layout) and take it as in->provider.  RS_EINPUT when
 * the result does not parse, RS_ENOMEM.
 */
enum rs_status	 srcin_set_provider(struct source_input *in,
		    const char *provider, char *err);
void		 srcin_free(struct source_input *);

/* 1 when the request brings a secret to store (apiKey or the client
 * credentials). */
int		 srcin_has_secret(const struct source_input *);

/* {"sourceId": "<uuid>"} (and nothing else) into id.  RS_EINPUT. */
enum rs_status	 srcin_parse_id(struct json_object *body,
		    char id[RS_UUID_LEN + 1], char *err);

/* rest-sources-reset: {"sourceId", "keepMark"?: bool}.  RS_EINPUT. */
enum rs_status	 srcin_parse_reset(struct json_object *body,
		    char id[RS_UUID_LEN + 1], int *keep_mark, char *err);

/* {"sourceId", "runId"} (both UUIDs, nothing else).  RS_EINPUT. */
enum rs_status	 srcin_parse_sweep(struct json_object *body,
		    char id[RS_UUID_LEN + 1], char run[RS_UUID_LEN + 1],
		    char *err);

/*
 * The query string of GET rest-audit and rest-runs: sourceId=<uuid>
 * (required) and limit=1..SRCIN_LIMIT_MAX (default SRCIN_LIMIT_DEFAULT),
 * each at most once, nothing else, no encoding (neither value needs
 * any).  RS_EINPUT with a message naming the parameter; id and *limit
 * are reset on failure.
 */
enum rs_status	 srcin_parse_audit_query(const char *qs,
		    char id[RS_UUID_LEN + 1], int *limit, char *err);

/*
 * GET rest-audit?tenantId=<uuid>[&limit=N]: the tenant's deleted sources;
 * the same rules (tenantId instead of sourceId).  RS_EINPUT.
 */
enum rs_status	 srcin_parse_deleted_query(const char *qs,
		    char tenant[RS_UUID_LEN + 1], int *limit, char *err);

/* 1 when n is a listing limit (1..SRCIN_LIMIT_MAX). */
int		 srcin_limit_ok(long n);

/* 1 if s is valid UTF-8 of 1..max characters, none a control character,
 * not only white space. */
int		 srcin_valid_text(const char *s, size_t max);

#endif
