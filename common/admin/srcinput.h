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
};

/*
 * Validate a create (create = 1: tenantId, title, config required) or an
 * update (sourceId required; title, config, apiKey, enabled optional)
 * body into *in (zeroed first, empty again on failure).  RS_EINPUT with a
 * message that names the field; RS_ENOMEM.  An empty apiKey means "leave
 * the key alone"; unknown fields are refused.  clientId and clientSecret
 * (write-only, like apiKey) come together, never with apiKey.
 */
enum rs_status	 srcin_parse_input(struct json_object *body, int create,
		    struct source_input *in, char *err);
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

/* 1 when n is a listing limit (1..SRCIN_LIMIT_MAX). */
int		 srcin_limit_ok(long n);

/* 1 if s is valid UTF-8 of 1..max characters, none a control character,
 * not only white space. */
int		 srcin_valid_text(const char *s, size_t max);

#endif
