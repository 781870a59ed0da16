/*
 * srcinput.c — the source endpoints' request validation (see srcinput.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http_fetch.h"
#include "secret.h"
#include "srcinput.h"

int
srcin_valid_text(const char *s, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 cp;
	size_t			 n = 0, left = strlen(s), len, bad;
	int			 blank = 1;

	while (left > 0) {
		if ((len = rs_utf8_seq(p, left, &cp, &bad)) == 0)
			return 0;
		/* C0, DEL, C1 controls. */
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return 0;
		if (cp != ' ')
			blank = 0;
		p += len;
		left -= len;
		if (++n > max)
			return 0;
	}
	return n > 0 && !blank;
}

int
srcin_limit_ok(long n)
{
	return n >= 1 && n <= SRCIN_LIMIT_MAX;
}

/* 1 if key is in the NULL-terminated list. */
static int
srcin_known(const char *const *keys, const char *key)
{
	for (; *keys != NULL; keys++)
		if (strcmp(*keys, key) == 0)
			return 1;
	return 0;
}

/* Every field of body is in keys; RS_EINPUT naming the first that is
 * not. */
static enum rs_status
srcin_only(struct json_object *body, const char *const *keys, char *err)
{
	json_object_object_foreach(body, key, val) {
		(void)val;
		if (!srcin_known(keys, key)) {
			rs_errf(err, "unknown field '%.64s'", key);
			return RS_EINPUT;
		}
	}
	return RS_OK;
}

/* Field name of body, when present and not null. */
static struct json_object *
srcin_field(struct json_object *body, const char *name)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(body, name, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

/*
 * Field name of body into *v when present and not null (*v NULL
 * otherwise); RS_EINPUT "'name' must be what" when it is not of type t.
 */
static enum rs_status
srcin_typed(struct json_object *body, const char *name, json_type t,
    const char *what, struct json_object **v, char *err)
{
	if ((*v = srcin_field(body, name)) == NULL ||
	    json_object_is_type(*v, t))
		return RS_OK;
	rs_errf(err, "'%s' must be %s", name, what);
	return RS_EINPUT;
}

/* A UUID string field into id; RS_EINPUT naming the field. */
static enum rs_status
srcin_uuid_field(struct json_object *body, const char *name,
    char id[RS_UUID_LEN + 1], char *err)
{
	struct json_object	*v;
	const char		*s;

	id[0] = '\0';
	if ((v = srcin_field(body, name)) == NULL) {
		rs_errf(err, "'%s' is required", name);
		return RS_EINPUT;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    !rs_is_uuid(s = json_object_get_string(v))) {
		rs_errf(err, "'%s' must be a UUID", name);
		return RS_EINPUT;
	}
	(void)snprintf(id, RS_UUID_LEN + 1, "%s", s);
	return RS_OK;
}

/* The fields a create or an update may carry; tenantId never moves. */
static enum rs_status
srcin_input_keys(struct json_object *body, int create, char *err)
{
	static const char *const create_keys[] =
	    { "tenantId", "title", "config", "apiKey", "clientId",
	      "clientSecret", "enabled", "replaceSharedKey", NULL };
	static const char *const update_keys[] =
	    { "sourceId", "title", "config", "apiKey", "clientId",
	      "clientSecret", "enabled", "replaceSharedKey", NULL };

	json_object_object_foreach(body, key, val) {
		(void)val;
		if (!create && strcmp(key, "tenantId") == 0) {
			rs_errf(err, "'tenantId' cannot be changed: a source "
			    "stays with its tenant");
			return RS_EINPUT;
		}
		if (!srcin_known(create ? create_keys : update_keys, key)) {
			rs_errf(err, "unknown field '%.64s'", key);
			return RS_EINPUT;
		}
	}
	return RS_OK;
}

/* title: required on create; 1..SRCIN_TITLE_MAX characters. */
static enum rs_status
srcin_title(struct json_object *body, int create, struct source_input *in,
    char *err)
{
	struct json_object	*v;
	const char		*s;

	if ((v = srcin_field(body, "title")) == NULL) {
		if (!create)
			return RS_OK;
		rs_errf(err, "'title' is required");
		return RS_EINPUT;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    !srcin_valid_text(s = json_object_get_string(v), SRCIN_TITLE_MAX) ||
	    strlen(s) != (size_t)json_object_get_string_len(v)) {
		rs_errf(err, "'title' must be 1 to %d characters "
		    "(no control characters)", SRCIN_TITLE_MAX);
		return RS_EINPUT;
	}
	if ((in->title = strdup(s)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	return RS_OK;
}

/*
 * config: required on create; a JSON object or its text that cfg_parse
 * accepts.  Fills in->config (JSON text) and in->provider.
 */
static enum rs_status
srcin_config(struct json_object *body, int create, struct source_input *in,
    char *err)
{
	struct source_config	 cfg;
	struct json_object	*v;
	const char		*text;
	size_t			 len;
	enum rs_status		 st;
	char			 cerr[RS_ERRLEN];

	if ((v = srcin_field(body, "config")) == NULL) {
		if (!create)
			return RS_OK;
		rs_errf(err, "'config' is required");
		return RS_EINPUT;
	}
	/* The page sends the editor's text; API clients may send an object. */
	if (json_object_is_type(v, json_type_string)) {
		text = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
	} else if (json_object_is_type(v, json_type_object)) {
		text = json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		len = strlen(text);
	} else {
		rs_errf(err, "'config' must be a JSON object");
		return RS_EINPUT;
	}
	cerr[0] = '\0';
	if ((st = cfg_parse(text, len, &cfg, cerr)) != RS_OK) {
		rs_errf(err, "config: %s", cerr);
		return st;
	}
	in->config = rs_strndup(text, len);
	in->provider = strdup(cfg.provider != NULL ? cfg.provider : "rest");
	in->requires_auth = cfg.requires_auth;
	cfg_free(&cfg);
	if (in->config != NULL)
		in->provider_named = srcin_named_provider(in->config, cerr,
		    sizeof(cerr));
	if (in->config == NULL || in->provider == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	return RS_OK;
}

/* A write-only secret field: absent, null or "" leaves *dst NULL. */
static enum rs_status
srcin_secret(struct json_object *body, const char *name, char **dst,
    char *err)
{
	struct json_object	*v;
	const char		*s;
	enum rs_status		 st;

	*dst = NULL;
	if ((st = srcin_typed(body, name, json_type_string, "a string", &v,
	    err)) != RS_OK || v == NULL)
		return st;
	s = json_object_get_string(v);
	if (*s == '\0')
		return RS_OK;
	if (strlen(s) > SRCIN_APIKEY_MAX ||
	    strlen(s) != (size_t)json_object_get_string_len(v) ||
	    !srcin_valid_text(s, SRCIN_APIKEY_MAX)) {
		rs_errf(err, "'%s' must be 1 to %d bytes without control "
		    "characters", name, SRCIN_APIKEY_MAX);
		return RS_EINPUT;
	}
	if ((*dst = strdup(s)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	return RS_OK;
}

/* apiKey, or clientId with clientSecret: one secret, whole. */
static enum rs_status
srcin_secrets(struct json_object *body, struct source_input *in, char *err)
{
	enum rs_status	 st;

	if ((st = srcin_secret(body, "apiKey", &in->api_key, err)) != RS_OK ||
	    (st = srcin_secret(body, "clientId", &in->client_id, err)) !=
	    RS_OK ||
	    (st = srcin_secret(body, "clientSecret", &in->client_secret,
	    err)) != RS_OK)
		return st;
	if ((in->client_id == NULL) != (in->client_secret == NULL)) {
		rs_errf(err, "'%s' is required with '%s' (the client "
		    "credentials are stored together)", in->client_id == NULL ?
		    "clientId" : "clientSecret", in->client_id == NULL ?
		    "clientSecret" : "clientId");
		return RS_EINPUT;
	}
	if (in->client_id != NULL && in->api_key != NULL) {
		rs_errf(err, "'apiKey' cannot come with 'clientId' and "
		    "'clientSecret': a source has one secret");
		return RS_EINPUT;
	}
	return RS_OK;
}

/* A boolean field into *out (left alone when absent or null). */
static enum rs_status
srcin_bool(struct json_object *body, const char *name, int *out, char *err)
{
	struct json_object	*v;
	enum rs_status		 st;

	if ((st = srcin_typed(body, name, json_type_boolean, "true or false",
	    &v, err)) != RS_OK || v == NULL)
		return st;
	*out = json_object_get_boolean(v) ? 1 : 0;
	return RS_OK;
}

int
srcin_host_provider(const char *base_url, char *out, size_t outsz)
{
	char	 origin[FETCH_ORIGIN_MAX];
	char	*host;
	size_t	 i;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	if (fetch_origin(base_url, origin, sizeof(origin)) == -1 ||
	    (host = strstr(origin, "://")) == NULL || host[3] == '\0')
		return -1;
	host += 3;
	for (i = 0; host[i] != '\0' && i < SRCIN_PROVIDER_MAX &&
	    i + 1 < outsz; i++)
		out[i] = (host[i] >= 'a' && host[i] <= 'z') ||
		    (host[i] >= 'A' && host[i] <= 'Z') ||
		    (host[i] >= '0' && host[i] <= '9') || host[i] == '_' ||
		    host[i] == '.' || host[i] == '-' ? host[i] : '-';
	out[i] = '\0';
	return 0;
}

int
srcin_named_provider(const char *config, char *out, size_t outsz)
{
	struct json_object	*root, *v;
	int			 named = 0;

	if (outsz > 0)
		out[0] = '\0';
	if ((root = json_tokener_parse(config)) == NULL)
		return 0;
	if (json_object_is_type(root, json_type_object) &&
	    json_object_object_get_ex(root, "provider", &v) &&
	    json_object_is_type(v, json_type_string)) {
		named = 1;
		(void)snprintf(out, outsz, "%s", json_object_get_string(v));
	}
	json_object_put(root);
	return named;
}

/*
 * text with "provider": p added after its last key, through json-c (which
 * keeps the keys in their order); a text over several lines comes back
 * indented, one on a line.  NULL when text is not an object with a key.
 */
static char *
srcin_add_provider(const char *text, const char *p)
{
	struct json_object	*root;
	const char		*s;
	char			*out = NULL;
	int			 flags = JSON_C_TO_STRING_NOSLASHESCAPE;

	flags |= strchr(text, '\n') != NULL ? JSON_C_TO_STRING_PRETTY :
	    JSON_C_TO_STRING_PLAIN;
	if ((root = json_tokener_parse(text)) == NULL ||
	    !json_object_is_type(root, json_type_object) ||
	    json_object_object_length(root) == 0 ||
	    json_object_object_add(root, "provider",
	    json_object_new_string(p)) != 0)
		goto out;
	if ((s = json_object_to_json_string_ext(root, flags)) != NULL)
		out = strdup(s);
out:
	json_object_put(root);
	return out;
}

enum rs_status
srcin_set_provider(struct source_input *in, const char *provider,
    char *err)
{
	struct source_config	 cfg;
	char			*text, *prov, cerr[RS_ERRLEN];

	cerr[0] = '\0';
	if (in->config == NULL ||
	    (text = srcin_add_provider(in->config, provider)) == NULL) {
		rs_errf(err, "config: cannot name its provider");
		return RS_EINPUT;
	}
	if (cfg_parse(text, strlen(text), &cfg, cerr) != RS_OK) {
		free(text);
		rs_errf(err, "config: %s", cerr);
		return RS_EINPUT;
	}
	prov = strdup(cfg.provider);
	cfg_free(&cfg);
	if (prov == NULL) {
		free(text);
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	free(in->config);
	free(in->provider);
	in->config = text;
	in->provider = prov;
	in->provider_named = 1;
	return RS_OK;
}

/* A create that needs a key and names no provider: the host's. */
static enum rs_status
srcin_default_provider(struct source_input *in, char *err)
{
	struct source_config	 cfg;
	char			 p[SRCIN_PROVIDER_MAX + 1], cerr[RS_ERRLEN];
	int			 rc;

	if (in->config == NULL || in->provider_named ||
	    !(in->requires_auth || srcin_has_secret(in)))
		return RS_OK;
	if (cfg_parse(in->config, strlen(in->config), &cfg, cerr) != RS_OK)
		return RS_OK;	/* srcin_config parsed it: cannot happen */
	rc = srcin_host_provider(cfg.base_url, p, sizeof(p));
	cfg_free(&cfg);
	return rc == -1 ? RS_OK : srcin_set_provider(in, p, err);
}

int
srcin_has_secret(const struct source_input *in)
{
	return in->api_key != NULL || in->client_id != NULL;
}

enum rs_status
srcin_parse_input(struct json_object *body, int create,
    struct source_input *in, char *err)
{
	enum rs_status	 st;

	memset(in, 0, sizeof(*in));
	in->enabled = -1;
	if ((st = srcin_input_keys(body, create, err)) != RS_OK)
		goto fail;
	if (create)
		st = srcin_uuid_field(body, "tenantId", in->tenant_id, err);
	else
		st = srcin_uuid_field(body, "sourceId", in->source_id, err);
	if (st != RS_OK ||
	    (st = srcin_title(body, create, in, err)) != RS_OK ||
	    (st = srcin_config(body, create, in, err)) != RS_OK ||
	    (st = srcin_secrets(body, in, err)) != RS_OK ||
	    (st = srcin_bool(body, "enabled", &in->enabled, err)) != RS_OK ||
	    (st = srcin_bool(body, "replaceSharedKey", &in->replace_shared,
	    err)) != RS_OK ||
	    (create && (st = srcin_default_provider(in, err)) != RS_OK))
		goto fail;
	return RS_OK;
fail:
	srcin_free(in);
	return st;
}

void
srcin_free(struct source_input *in)
{
	free(in->title);
	free(in->config);
	free(in->provider);
	secret_free_str(in->api_key);
	secret_free_str(in->client_id);
	secret_free_str(in->client_secret);
	memset(in, 0, sizeof(*in));
	in->enabled = -1;
}

enum rs_status
srcin_parse_id(struct json_object *body, char id[RS_UUID_LEN + 1],
    char *err)
{
	static const char *const keys[] = { "sourceId", NULL };
	enum rs_status		 st;

	id[0] = '\0';
	if ((st = srcin_only(body, keys, err)) != RS_OK)
		return st;
	return srcin_uuid_field(body, "sourceId", id, err);
}

enum rs_status
srcin_parse_reset(struct json_object *body, char id[RS_UUID_LEN + 1],
    int *keep_mark, char *err)
{
	static const char *const keys[] = { "sourceId", "keepMark", NULL };
	struct json_object	*v;
	enum rs_status		 st;

	id[0] = '\0';
	*keep_mark = 0;
	if ((st = srcin_only(body, keys, err)) != RS_OK)
		return st;
	if (json_object_object_get_ex(body, "keepMark", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			rs_errf(err, "'keepMark' must be true or false");
			return RS_EINPUT;
		}
		*keep_mark = json_object_get_boolean(v);
	}
	return srcin_uuid_field(body, "sourceId", id, err);
}

enum rs_status
srcin_parse_sweep(struct json_object *body, char id[RS_UUID_LEN + 1],
    char run[RS_UUID_LEN + 1], char *err)
{
	static const char *const keys[] = { "sourceId", "runId", NULL };
	enum rs_status		 st;

	id[0] = run[0] = '\0';
	if (!json_object_is_type(body, json_type_object)) {
		rs_errf(err, "body must be a JSON object");
		return RS_EINPUT;
	}
	if ((st = srcin_only(body, keys, err)) != RS_OK)
		return st;
	if ((st = srcin_uuid_field(body, "sourceId", id, err)) != RS_OK ||
	    (st = srcin_uuid_field(body, "runId", run, err)) != RS_OK) {
		id[0] = run[0] = '\0';
		return st;
	}
	return RS_OK;
}

/* ---- the listings' query string ------------------------------------- */

/* name=<36 characters of a UUID> into id. */
static enum rs_status
srcin_query_id(const char *name, const char *val, size_t vlen,
    char id[RS_UUID_LEN + 1], char *err)
{
	if (vlen == RS_UUID_LEN) {
		memcpy(id, val, RS_UUID_LEN);
		id[RS_UUID_LEN] = '\0';
		if (rs_is_uuid(id))
			return RS_OK;
	}
	id[0] = '\0';
	rs_errf(err, "'%s' must be a UUID", name);
	return RS_EINPUT;
}

/* limit=<1 to 3 digits, no sign, no leading zero> in range into *limit. */
static enum rs_status
srcin_query_limit(const char *val, size_t vlen, int *limit, char *err)
{
	size_t	 i = 0;
	long	 n = 0;

	for (; vlen > 0 && vlen <= 3 && i < vlen; i++) {
		if (val[i] < '0' || val[i] > '9')
			break;
		n = n * 10 + (val[i] - '0');
	}
	if (vlen == 0 || vlen > 3 || i != vlen || val[0] == '0' ||
	    !srcin_limit_ok(n)) {
		rs_errf(err, "'limit' must be an integer from 1 to %d",
		    SRCIN_LIMIT_MAX);
		return RS_EINPUT;
	}
	*limit = (int)n;
	return RS_OK;
}

/* The refusal of an unknown parameter: named when its name is plain. */
static enum rs_status
srcin_query_unknown(const char *name, size_t klen, char *err)
{
	size_t	 i;

	for (i = 0; i < klen; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    name[i] == '_' || name[i] == '-'))
			break;
	if (klen > 0 && klen <= 32 && i == klen)
		rs_errf(err, "unknown parameter '%.*s'", (int)klen, name);
	else
		rs_errf(err, "unknown parameter");
	return RS_EINPUT;
}

/* A parameter given twice. */
static enum rs_status
srcin_query_twice(const char *name, char *err)
{
	rs_errf(err, "'%s' given twice", name);
	return RS_EINPUT;
}

/* 1 when the name p[0..klen) is word. */
static int
srcin_is(const char *p, size_t klen, const char *word)
{
	return klen == strlen(word) && memcmp(p, word, klen) == 0;
}

/* A listing's query string: idname=<uuid> (required) and limit. */
static enum rs_status
srcin_parse_listing(const char *qs, const char *idname,
    char id[RS_UUID_LEN + 1], int *limit, char *err)
{
	const char	*p, *amp, *eq;
	size_t		 klen, vlen;
	int		 have_id = 0, have_limit = 0;
	enum rs_status	 st = RS_EINPUT;

	id[0] = '\0';
	*limit = SRCIN_LIMIT_DEFAULT;
	if (qs == NULL)
		qs = "";
	if (strlen(qs) > 256) {
		rs_errf(err, "query string too long");
		goto fail;
	}
	/* Every '&' separates two name=value pairs: none may be empty. */
	for (p = qs, amp = qs; *qs != '\0' && *amp != '\0'; p = amp + 1) {
		amp = p + strcspn(p, "&");
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL) {
			rs_errf(err, "query parameters must be name=value");
			goto fail;
		}
		klen = (size_t)(eq - p);
		vlen = (size_t)(amp - eq - 1);
		if (srcin_is(p, klen, idname))
			st = have_id++ ? srcin_query_twice(idname, err) :
			    srcin_query_id(idname, eq + 1, vlen, id, err);
		else if (srcin_is(p, klen, "limit"))
			st = have_limit++ ? srcin_query_twice("limit", err) :
			    srcin_query_limit(eq + 1, vlen, limit, err);
		else
			st = srcin_query_unknown(p, klen, err);
		if (st != RS_OK)
			goto fail;
	}
	if (!have_id) {
		rs_errf(err, "'%s' is required", idname);
		st = RS_EINPUT;
		goto fail;
	}
	return RS_OK;
fail:
	id[0] = '\0';
	*limit = SRCIN_LIMIT_DEFAULT;
	return RS_EINPUT;
}

enum rs_status
srcin_parse_audit_query(const char *qs, char id[RS_UUID_LEN + 1],
    int *limit, char *err)
{
	return srcin_parse_listing(qs, "sourceId", id, limit, err);
}

enum rs_status
srcin_parse_deleted_query(const char *qs, char tenant[RS_UUID_LEN + 1],
    int *limit, char *err)
{
	return srcin_parse_listing(qs, "tenantId", tenant, limit, err);
}
