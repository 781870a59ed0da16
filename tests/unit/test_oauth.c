/*
 * test_oauth.c — the pieces of an OAuth2 client credentials exchange
 * (common/pipeline/oauth.c): form encoding, the token request body, judging the
 * token endpoint's answer (redacted refusals), token lifetimes and the
 * cache binding.  Table-driven; the exchange itself runs against the
 * imitation in tests/integration/32_oauth2.test.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oauth.h"
#include "secret.h"

#define NROWS(a)	(sizeof(a) / sizeof((a)[0]))

static void
test_form_encode(void **state)
{
	static const struct {
		const char	*in, *out;
	} rows[] = {
		{ "", "" },
		{ "abcXYZ019", "abcXYZ019" },
		{ "-._*", "-._*" },
		{ "a b", "a+b" },
		{ "read:items write", "read%3Aitems+write" },
		{ "~", "%7E" },
		{ "a+b=c&d", "a%2Bb%3Dc%26d" },
		{ "https://api.example.com/", "https%3A%2F%2Fapi.example.com%2F" },
		{ "\xc3\xa9", "%C3%A9" },
		{ "%", "%25" },
	};
	struct rs_buf	 b;
	size_t		 i;

	(void)state;
	for (i = 0; i < NROWS(rows); i++) {
		rs_buf_init(&b, 1024);
		assert_int_equal(oauth_form_encode(&b, rows[i].in), 0);
		if (strcmp(b.p != NULL ? b.p : "", rows[i].out) != 0)
			fail_msg("row %zu: got '%s', want '%s'", i,
			    b.p != NULL ? b.p : "", rows[i].out);
		rs_buf_free(&b);
	}
	rs_buf_init(&b, 4);
	assert_int_equal(oauth_form_encode(&b, "abcdef"), -1);
	rs_buf_free(&b);
}

static void
test_form_body(void **state)
{
	static const struct {
		const char	*scope, *audience, *out;
	} rows[] = {
		{ NULL, NULL, "grant_type=client_credentials" },
		{ "read", NULL, "grant_type=client_credentials&scope=read" },
		{ "a b", "https://x/", "grant_type=client_credentials&scope=a+b"
		  "&audience=https%3A%2F%2Fx%2F" },
		{ NULL, "aud", "grant_type=client_credentials&audience=aud" },
	};
	struct oauth_client	 c;
	struct rs_buf		 b;
	size_t			 i;

	(void)state;
	for (i = 0; i < NROWS(rows); i++) {
		memset(&c, 0, sizeof(c));
		c.token_url = "https://api.example.com/t";
		c.client_id = "client-1";
		c.client_secret = "s3cret-client-value";
		c.scope = rows[i].scope;
		c.audience = rows[i].audience;
		rs_buf_init(&b, 4096);
		assert_int_equal(oauth_form_body(&c, &b), 0);
		assert_string_equal(b.p, rows[i].out);
		/* The client secret never goes in the body (HTTP Basic). */
		assert_null(strstr(b.p, "s3cret"));
		rs_buf_free(&b);
	}
}

static void
test_parse_answer(void **state)
{
	static const char *const secrets[] = { "s3cret-client-value",
	    "Y2xpZW50OnMzY3JldA==" };
	static const struct {
		long		 status;
		const char	*body;
		enum rs_status	 want;
		const char	*token;		/* want, RS_OK */
		long		 expires;
		const char	*errsub;	/* want, else */
	} rows[] = {
		{ 200, "{\"access_token\":\"tok-123\",\"token_type\":\"Bearer\","
		  "\"expires_in\":2}", RS_OK, "tok-123", 2, NULL },
		{ 200, "{\"access_token\":\"tok-123\",\"token_type\":\"bearer\","
		  "\"expires_in\":3600.5}", RS_OK, "tok-123", 3600, NULL },
		{ 200, "{\"access_token\":\"tok-123\"}", RS_OK, "tok-123",
		  OAUTH_DEFAULT_EXPIRES, NULL },
		{ 200, "{\"access_token\":\"tok-123\",\"expires_in\":\"60\"}",
		  RS_OK, "tok-123", 60, NULL },
		{ 201, "{\"access_token\":\"tok-123\",\"expires_in\":60}",
		  RS_OK, "tok-123", 60, NULL },
		{ 200, "{\"token_type\":\"Bearer\"}", RS_EUPSTREAM, NULL, 0,
		  "answered HTTP 200 without an access_token" },
		{ 200, "not json", RS_EUPSTREAM, NULL, 0,
		  "without an access_token" },
		{ 200, "", RS_EUPSTREAM, NULL, 0, "without an access_token" },
		{ 200, "{\"access_token\":7}", RS_EUPSTREAM, NULL, 0,
		  "without an access_token" },
		{ 200, "{\"access_token\":\"abc\"}", RS_EUPSTREAM, NULL, 0,
		  "not 4 to 4096 printable characters" },
		{ 200, "{\"access_token\":\"has space\"}", RS_EUPSTREAM, NULL, 0,
		  "not 4 to 4096 printable characters" },
		{ 200, "{\"access_token\":\"ok\\r\\nX-Evil: 1\"}", RS_EUPSTREAM,
		  NULL, 0, "not 4 to 4096 printable characters" },
		{ 200, "{\"access_token\":\"tok-123\",\"token_type\":\"mac\"}",
		  RS_EUPSTREAM, NULL, 0, "token_type 'mac'; only Bearer" },
		{ 200, "{\"access_token\":\"tok-123\",\"expires_in\":0}",
		  RS_EUPSTREAM, NULL, 0, "expires_in that is not 1 to" },
		{ 200, "{\"access_token\":\"tok-123\",\"expires_in\":-5}",
		  RS_EUPSTREAM, NULL, 0, "expires_in" },
		{ 401, "{\"error\":\"invalid_client\",\"error_description\":"
		  "\"Client authentication failed\"}", RS_EUPSTREAM, NULL, 0,
		  "OAuth2 token endpoint answered HTTP 401: invalid_client: "
		  "Client authentication failed" },
		{ 400, "{\"error\":\"invalid_scope\"}", RS_EUPSTREAM, NULL, 0,
		  "answered HTTP 400: invalid_scope" },
		/* The endpoint echoes the secret: redacted. */
		{ 401, "{\"error\":\"invalid_client\",\"error_description\":"
		  "\"bad secret s3cret-client-value\"}", RS_EUPSTREAM, NULL, 0,
		  "invalid_client: bad secret [redacted]" },
		{ 500, "upstream broke: Y2xpZW50OnMzY3JldA==", RS_EUPSTREAM,
		  NULL, 0, "answered HTTP 500: upstream broke: [redacted]" },
		{ 503, "", RS_EUPSTREAM, NULL, 0,
		  "OAuth2 token endpoint answered HTTP 503" },
	};
	char		 err[RS_ERRLEN], *tok;
	long		 exp;
	size_t		 i;
	enum rs_status	 st;

	(void)state;
	for (i = 0; i < NROWS(rows); i++) {
		err[0] = '\0';
		st = oauth_parse_answer(rows[i].status, rows[i].body,
		    strlen(rows[i].body), secrets, NROWS(secrets), &tok, &exp,
		    err);
		if (st != rows[i].want)
			fail_msg("row %zu: status %d, want %d (%s)", i, st,
			    rows[i].want, err);
		if (st == RS_OK) {
			assert_string_equal(tok, rows[i].token);
			assert_int_equal(exp, rows[i].expires);
			secret_free_str(tok);
			continue;
		}
		assert_null(tok);
		if (strstr(err, rows[i].errsub) == NULL)
			fail_msg("row %zu: '%s' lacks '%s'", i, err,
			    rows[i].errsub);
		assert_null(strstr(err, "s3cret-client-value"));
		assert_null(strstr(err, "Y2xpZW50OnMzY3JldA"));
	}
}

static void
test_fresh_ms(void **state)
{
	static const struct {
		long	 expires;
		double	 ms;
	} rows[] = {
		{ 1, 900 },		/* 10% of a short lifetime */
		{ 2, 1800 },
		{ 60, 54000 },
		{ 300, 270000 },
		{ 301, 271000 },	/* 30 s from here on */
		{ 3600, 3570000 },
		{ 0, 0 },
		{ -3, 0 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NROWS(rows); i++)
		if (oauth_fresh_ms(rows[i].expires) != rows[i].ms)
			fail_msg("row %zu: %ld s gave %.1f ms, want %.1f", i,
			    rows[i].expires, oauth_fresh_ms(rows[i].expires),
			    rows[i].ms);
}

/* Any change of what a token was issued for changes the binding. */
static void
test_binding(void **state)
{
	struct oauth_client	 base, c;
	char			 a[65], b[65];
	int			 i;

	(void)state;
	memset(&base, 0, sizeof(base));
	base.token_url = "https://api.example.com/t";
	base.scope = "read";
	base.audience = NULL;
	base.client_id = "client-1";
	base.client_secret = "secret-1";
	oauth_binding(&base, a);
	assert_int_equal(strlen(a), 64);
	c = base;
	oauth_binding(&c, b);
	assert_string_equal(a, b);
	for (i = 0; i < 6; i++) {
		c = base;
		switch (i) {
		case 0: c.token_url = "https://api.example.com/t2"; break;
		case 1: c.scope = "write"; break;
		case 2: c.scope = NULL; c.audience = "read"; break;
		case 3: c.client_id = "client-2"; break;
		case 4: c.client_secret = "secret-2"; break;
		default: c.client_id = "client-1secret-1";
			c.client_secret = ""; break;
		}
		oauth_binding(&c, b);
		if (strcmp(a, b) == 0)
			fail_msg("change %d kept the binding", i);
	}
}

/* What a source's secret must hold for this auth type. */
static void
test_check_secret(void **state)
{
	static const struct {
		const char	*id, *secret, *origin;
		enum rs_status	 want;
		const char	*errsub;
	} rows[] = {
		{ "client-1", "secret-1", "https://auth.example.com", RS_OK,
		  NULL },
		{ NULL, "secret-1", "https://auth.example.com", RS_EINPUT,
		  "needs a clientId and a clientSecret" },
		{ "client-1", NULL, "https://auth.example.com", RS_EINPUT,
		  "needs a clientId and a clientSecret" },
		{ "abc", "secret-1", "https://auth.example.com", RS_EINPUT,
		  "of 4 or more characters" },
		{ "client-1", "sec\nret", "https://auth.example.com",
		  RS_EINPUT, "a control character in 'clientSecret'" },
		{ "client-1", "secret-1", NULL, RS_EINPUT,
		  "entered for another token endpoint origin than "
		  "https://auth.example.com" },
		{ "client-1", "secret-1", "https://evil.example.com", RS_EINPUT,
		  "enter clientId and clientSecret again" },
		{ "client-1", "secret-1", "http://auth.example.com", RS_EINPUT,
		  "another token endpoint origin" },
	};
	struct source_config	 cfg;
	struct secret_values	 sv;
	char			 err[RS_ERRLEN];
	size_t			 i;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.auth = CFG_AUTH_OAUTH2;
	cfg.provider = (char *)(uintptr_t)"acme";
	cfg.token_url = (char *)(uintptr_t)"https://Auth.Example.com:443/t";
	for (i = 0; i < NROWS(rows); i++) {
		memset(&sv, 0, sizeof(sv));
		sv.client_id = (char *)(uintptr_t)rows[i].id;
		sv.client_secret = (char *)(uintptr_t)rows[i].secret;
		sv.token_origin = (char *)(uintptr_t)rows[i].origin;
		err[0] = '\0';
		if (oauth_check_secret(&cfg, &sv, err) != rows[i].want)
			fail_msg("row %zu: %s", i, err);
		if (rows[i].errsub != NULL && strstr(err, rows[i].errsub) ==
		    NULL)
			fail_msg("row %zu: '%s' lacks '%s'", i, err,
			    rows[i].errsub);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_encode),
		cmocka_unit_test(test_form_body),
		cmocka_unit_test(test_parse_answer),
		cmocka_unit_test(test_fresh_ms),
		cmocka_unit_test(test_binding),
		cmocka_unit_test(test_check_secret),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
