/*
 * test_config.c — cfg_parse against a table of good and bad configs, and
 * field checks for defaults and the DummyJSON seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

#define NROWS(a)	(sizeof(a) / sizeof((a)[0]))

/* The smallest valid config; rows append one key to it. */
#define MIN	"\"baseUrl\":\"https://api.example.com/v1/items\"," \
		"\"textFields\":[\"title\"]"
#define CFG(x)	"{" MIN "," x "}"

static const char seed[] =
	"{\"baseUrl\":\"https://dummyjson.com/products\",\"cursorParam\":"
	"\"skip\",\"pageSizeParam\":\"limit\",\"defaultPageSize\":50,"
	"\"itemsPath\":\"products\",\"nextCursorPath\":null,"
	"\"currentOffsetPath\":\"skip\",\"totalPath\":\"total\","
	"\"headersTemplate\":{},\"textFields\":[\"title\",\"description\","
	"\"brand\",\"category\",\"tags\"],\"allowedRolesOverride\":[\"member\","
	"\"support\",\"operations\",\"admin\"],\"requiresAuth\":false,"
	"\"cursorStyle\":\"offset\"}";

static const struct cfg_row {
	const char	*json;
	enum rs_status	 want;
	const char	*errsub;	/* substring of err, or NULL */
} cfg_rows[] = {
	/* Good. */
	{ "{" MIN "}", RS_OK, NULL },
	{ " \n{" MIN "}\r\n\t ", RS_OK, NULL },
	{ CFG("\"baseUrl\":\"http://localhost:8080/x?a=b\""), RS_OK, NULL },
	{ CFG("\"baseUrl\":\"HTTPS://API.EXAMPLE.COM\""), RS_OK, NULL },
	{ CFG("\"baseUrl\":\"http://[::1]:9/\""), RS_OK, NULL },
	{ CFG("\"cursorStyle\":\"page\""), RS_OK, NULL },
	{ CFG("\"cursorStyle\":\"offset\",\"currentOffsetPath\":null,"
	  "\"totalPath\":null"), RS_OK, NULL },
	{ CFG("\"cursorStyle\":\"cursor\",\"nextCursorPath\":\"meta.next\""),
	  RS_OK, NULL },
	{ CFG("\"defaultPageSize\":1"), RS_OK, NULL },
	{ CFG("\"defaultPageSize\":1000"), RS_OK, NULL },
	{ CFG("\"pageStart\":0"), RS_OK, NULL },
	{ CFG("\"maxPages\":1"), RS_OK, NULL },
	{ CFG("\"maxPages\":null"), RS_OK, NULL },
	{ CFG("\"maxBodyBytes\":1024"), RS_OK, NULL },
	{ CFG("\"maxBodyBytes\":67108864"), RS_OK, NULL },
	{ CFG("\"syncIntervalMinutes\":525600"), RS_OK, NULL },
	{ CFG("\"itemsPath\":\"$\""), RS_OK, NULL },
	{ CFG("\"itemsPath\":\"$.data.items\""), RS_OK, NULL },
	{ CFG("\"headersTemplate\":{\"Authorization\":\"Bearer {{API_KEY}}\","
	  "\"X-Trace\":\"a\\tb\"}"), RS_OK, NULL },
	{ CFG("\"queryTemplate\":{\"api key\":\"{{API_KEY}}\"}"), RS_OK, NULL },
	{ CFG("\"provider\":\"Acme_v2.prod-1\""), RS_OK, NULL },
	{ CFG("\"titleField\":\"title\""), RS_OK, NULL },
	{ CFG("\"ifNoneMatchHeader\":false,\"ifModifiedSinceHeader\":null"),
	  RS_OK, NULL },
	{ CFG("\"ifNoneMatchHeader\":\"X-If-None-Match\""), RS_OK, NULL },
	{ CFG("\"allowedRolesOverride\":null"), RS_OK, NULL },
	{ CFG("\"textFields\":[\"a.b\",\"c.0.d\",\"$.e\"]"), RS_OK, NULL },
	{ CFG("\"cursorStyle\":\"link\""), RS_OK, NULL },
	{ CFG("\"cursorStyle\":\"link\",\"pageSizeParam\":\"per_page\","
	  "\"hasMorePath\":\"more\",\"maxPages\":9"), RS_OK, NULL },
	{ CFG("\"nextCursorPath\":\"$last.id\",\"hasMorePath\":\"has_more\""),
	  RS_OK, NULL },
	{ CFG("\"nextCursorPath\":\"$last\""), RS_OK, NULL },
	{ CFG("\"requiresAuth\":true,\"auth\":\"basic\""), RS_OK, NULL },
	{ CFG("\"requiresAuth\":true,\"auth\":\"bearer\",\"headersTemplate\":"
	  "{\"Notion-Version\":\"2022-06-28\"}"), RS_OK, NULL },
	{ CFG("\"auth\":null"), RS_OK, NULL },
	{ CFG("\"cursorParam\":\"page[after]\",\"pageSizeParam\":"
	  "\"page[size]\""), RS_OK, NULL },
	{ CFG("\"queryTemplate\":{\"key\":\"a=b&c#d\"}"), RS_OK, NULL },
	{ CFG("\"timeoutMs\":100"), RS_OK, NULL },
	{ CFG("\"timeoutMs\":15000"), RS_OK, NULL },

	/* Not a config at all. */
	{ "", RS_EINPUT, "JSON object" },
	{ "   ", RS_EINPUT, "JSON object" },
	{ "[]", RS_EINPUT, "JSON object" },
	{ "\"x\"", RS_EINPUT, "JSON object" },
	{ "42", RS_EINPUT, "JSON object" },
	{ "null", RS_EINPUT, "JSON object" },
	{ "{", RS_EINPUT, "truncated" },
	{ "{" MIN, RS_EINPUT, "truncated" },
	{ "{" MIN "} x", RS_EINPUT, "not valid JSON" },
	{ "{" MIN "}{}", RS_EINPUT, "not valid JSON" },
	{ "{" MIN ",}", RS_EINPUT, "not valid JSON at line 1, column " },
	{ "{\n" MIN ",\n}", RS_EINPUT, "not valid JSON at line 3, column 1" },
	{ CFG("\"timeoutMs\":99"), RS_EINPUT,
	  "'timeoutMs' must be an integer between 100 and 15000" },
	{ CFG("\"timeoutMs\":15001"), RS_EINPUT,
	  "'timeoutMs' must be an integer between 100 and 15000" },
	{ CFG("\"timeoutMs\":\"5000\""), RS_EINPUT, "'timeoutMs'" },
	{ "{" MIN "}/*c*/", RS_EINPUT, "not valid JSON" },
	{ "{\"a\":\"\xff\"}", RS_EINPUT, "not valid JSON" },
	{ CFG("\"headersTemplate\":{\"a\":[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]}"),
	  RS_EINPUT, "deeper" },
	{ "{}", RS_EINPUT, "'baseUrl' is required" },

	/* Unknown keys. */
	{ CFG("\"foo\":1"), RS_EINPUT, "unknown key 'foo'" },
	{ CFG("\"baseurl\":\"https://x.y\""), RS_EINPUT, "unknown key 'baseurl'" },
	{ CFG("\"\":1"), RS_EINPUT, "unknown key ''" },
	{ CFG("\"description\":null"), RS_EINPUT, "unknown key 'description'" },

	/* baseUrl. */
	{ "{\"textFields\":[\"a\"]}", RS_EINPUT, "'baseUrl' is required" },
	{ "{\"baseUrl\":null,\"textFields\":[\"a\"]}", RS_EINPUT,
	  "'baseUrl' is required" },
	{ "{\"baseUrl\":1,\"textFields\":[\"a\"]}", RS_EINPUT, "'baseUrl' must" },
	{ "{\"baseUrl\":\"\",\"textFields\":[\"a\"]}", RS_EINPUT,
	  "'baseUrl' must" },
	{ "{\"baseUrl\":\"ftp://x.com/\",\"textFields\":[\"a\"]}", RS_EINPUT,
	  "http or https" },
	{ "{\"baseUrl\":\"javascript:alert(1)\",\"textFields\":[\"a\"]}",
	  RS_EINPUT, "http or https" },
	{ "{\"baseUrl\":\"file:///etc/passwd\",\"textFields\":[\"a\"]}",
	  RS_EINPUT, "http or https" },
	{ "{\"baseUrl\":\"/products\",\"textFields\":[\"a\"]}", RS_EINPUT,
	  "http or https" },
	{ "{\"baseUrl\":\"dummyjson.com/products\",\"textFields\":[\"a\"]}",
	  RS_EINPUT, "http or https" },
	{ "{\"baseUrl\":\"https:/x.com\",\"textFields\":[\"a\"]}", RS_EINPUT,
	  "http or https" },
	{ "{\"baseUrl\":\"https://\",\"textFields\":[\"a\"]}", RS_EINPUT,
	  "'baseUrl'" },
	{ "{\"baseUrl\":\"http://h:99999/\",\"textFields\":[\"a\"]}", RS_EINPUT,
	  "'baseUrl'" },
	{ "{\"baseUrl\":\"https://user@x.com\",\"textFields\":[\"a\"]}",
	  RS_EINPUT, "credentials" },
	{ "{\"baseUrl\":\"https://u:p@x.com/\",\"textFields\":[\"a\"]}",
	  RS_EINPUT, "credentials" },
	{ "{\"baseUrl\":\"https://:p@x.com/\",\"textFields\":[\"a\"]}",
	  RS_EINPUT, "credentials" },
	{ "{\"baseUrl\":\"https://x.com/a b\",\"textFields\":[\"a\"]}",
	  RS_EINPUT, "spaces" },
	{ "{\"baseUrl\":\"https://x.com/\\r\\nX: y\",\"textFields\":[\"a\"]}",
	  RS_EINPUT, "control" },

	/* cursorStyle, cursorParam, pageSizeParam. */
	{ CFG("\"cursorStyle\":\"links\""), RS_EINPUT, "'cursorStyle' must" },
	{ CFG("\"cursorStyle\":1"), RS_EINPUT, "'cursorStyle' must" },
	{ CFG("\"cursorStyle\":\"Offset\""), RS_EINPUT, "'cursorStyle' must" },
	{ CFG("\"cursorStyle\":\"cursor\""), RS_EINPUT,
	  "'nextCursorPath' is required when cursorStyle is 'cursor'" },
	{ CFG("\"cursorStyle\":\"cursor\",\"nextCursorPath\":\"\""), RS_EINPUT,
	  "'nextCursorPath' is required" },
	{ CFG("\"cursorParam\":\"\""), RS_EINPUT, "'cursorParam' must" },
	{ CFG("\"cursorParam\":5"), RS_EINPUT, "'cursorParam' must" },
	{ CFG("\"cursorParam\":\"a\\nb\""), RS_EINPUT, "'cursorParam' must" },
	{ CFG("\"pageSizeParam\":false"), RS_EINPUT, "'pageSizeParam' must" },
	{ CFG("\"pageSizeParam\":\"\""), RS_EINPUT, "'pageSizeParam' must" },
	{ CFG("\"pageSizeParam\":\"page\""), RS_EINPUT, "must differ" },
	{ CFG("\"cursorParam\":\"a=b\""), RS_EINPUT,
	  "'cursorParam' must be a parameter name of 1 to 128 printable "
	  "characters other than = & #" },
	{ CFG("\"cursorParam\":\"a&b\""), RS_EINPUT, "'cursorParam' must" },
	{ CFG("\"cursorParam\":\"a#b\""), RS_EINPUT, "'cursorParam' must" },
	{ CFG("\"pageSizeParam\":\"=\""), RS_EINPUT, "'pageSizeParam' must" },
	{ CFG("\"pageSizeParam\":\"l\\u007f\""), RS_EINPUT,
	  "'pageSizeParam' must" },
	{ CFG("\"queryTemplate\":{\"a=b\":\"c\"}"), RS_EINPUT,
	  "'a=b' is not a valid parameter name" },
	{ CFG("\"queryTemplate\":{\"a&b\":\"c\"}"), RS_EINPUT,
	  "not a valid parameter name" },
	{ CFG("\"queryTemplate\":{\"#\":\"c\"}"), RS_EINPUT,
	  "not a valid parameter name" },
	{ CFG("\"queryTemplate\":{\"a\\tb\":\"c\"}"), RS_EINPUT,
	  "not a valid parameter name" },

	/* Integers. */
	{ CFG("\"defaultPageSize\":0"), RS_EINPUT,
	  "'defaultPageSize' must be an integer between 1 and 1000" },
	{ CFG("\"defaultPageSize\":1001"), RS_EINPUT,
	  "'defaultPageSize' must be an integer between 1 and 1000" },
	{ CFG("\"defaultPageSize\":-5"), RS_EINPUT, "'defaultPageSize' must" },
	{ CFG("\"defaultPageSize\":50.0"), RS_EINPUT, "'defaultPageSize' must" },
	{ CFG("\"defaultPageSize\":5e1"), RS_EINPUT, "'defaultPageSize' must" },
	{ CFG("\"defaultPageSize\":\"50\""), RS_EINPUT,
	  "'defaultPageSize' must" },
	{ CFG("\"defaultPageSize\":true"), RS_EINPUT, "'defaultPageSize' must" },
	{ CFG("\"defaultPageSize\":99999999999999999999999"), RS_EINPUT,
	  "'defaultPageSize' must" },
	{ CFG("\"pageStart\":2"), RS_EINPUT,
	  "'pageStart' must be an integer between 0 and 1" },
	{ CFG("\"pageStart\":-1"), RS_EINPUT, "'pageStart' must" },
	{ CFG("\"pageStart\":\"1\""), RS_EINPUT, "'pageStart' must" },
	{ CFG("\"maxPages\":0"), RS_EINPUT, "'maxPages' must" },
	{ CFG("\"maxPages\":2147483648"), RS_EINPUT, "'maxPages' must" },
	{ CFG("\"maxPages\":[]"), RS_EINPUT, "'maxPages' must" },
	{ CFG("\"maxBodyBytes\":1023"), RS_EINPUT, "'maxBodyBytes' must" },
	{ CFG("\"maxBodyBytes\":67108865"), RS_EINPUT, "'maxBodyBytes' must" },
	{ CFG("\"maxBodyBytes\":\"1M\""), RS_EINPUT, "'maxBodyBytes' must" },
	{ CFG("\"syncIntervalMinutes\":0"), RS_EINPUT,
	  "'syncIntervalMinutes' must" },
	{ CFG("\"syncIntervalMinutes\":525601"), RS_EINPUT,
	  "'syncIntervalMinutes' must" },
	{ CFG("\"syncIntervalMinutes\":1.5"), RS_EINPUT,
	  "'syncIntervalMinutes' must" },

	/* Paths. */
	{ CFG("\"itemsPath\":\"a..b\""), RS_EINPUT,
	  "'itemsPath' is not a valid path" },
	{ CFG("\"itemsPath\":7"), RS_EINPUT, "'itemsPath' must be" },
	{ CFG("\"nextCursorPath\":\".x\""), RS_EINPUT, "'nextCursorPath' is not" },
	{ CFG("\"currentOffsetPath\":\"x.\""), RS_EINPUT,
	  "'currentOffsetPath' is not" },
	{ CFG("\"totalPath\":{}"), RS_EINPUT, "'totalPath' must be" },
	{ CFG("\"hasMorePath\":\"$.\""), RS_EINPUT, "'hasMorePath' is not" },
	{ CFG("\"totalPagesPath\":true"), RS_EINPUT, "'totalPagesPath' must" },
	{ CFG("\"titleField\":[\"title\"]"), RS_EINPUT, "'titleField' must" },
	{ CFG("\"titleField\":\"a\\tb\""), RS_EINPUT, "'titleField' contains" },
	{ CFG("\"itemsPath\":\"a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a."
	  "a.a.a.a.a.a.a.a.a\""), RS_EINPUT, "segments" },

	/* textFields. */
	{ "{\"baseUrl\":\"https://x.com\"}", RS_EINPUT,
	  "'textFields' is required" },
	{ "{\"baseUrl\":\"https://x.com\",\"textFields\":null}", RS_EINPUT,
	  "'textFields' is required" },
	{ CFG("\"textFields\":[]"), RS_EINPUT, "'textFields' must be an array" },
	{ CFG("\"textFields\":\"title\""), RS_EINPUT,
	  "'textFields' must be an array" },
	{ CFG("\"textFields\":[\"a\",1]"), RS_EINPUT,
	  "'textFields' entry 1 must be a string" },
	{ CFG("\"textFields\":[\"a\",null]"), RS_EINPUT,
	  "'textFields' entry 1 must be a string" },
	{ CFG("\"textFields\":[\"a..b\"]"), RS_EINPUT,
	  "'textFields' entry 0 is not a valid path" },
	{ CFG("\"textFields\":[\"\"]"), RS_EINPUT, "'textFields' entry 0" },
	{ CFG("\"textFields\":[\"a\\u0000b\"]"), RS_EINPUT, "'textFields' entry 0" },

	/* Templates. */
	{ CFG("\"headersTemplate\":[]"), RS_EINPUT,
	  "'headersTemplate' must be an object" },
	{ CFG("\"headersTemplate\":{\"X-A\":1}"), RS_EINPUT,
	  "'headersTemplate': 'X-A' must be a string" },
	{ CFG("\"headersTemplate\":{\"X-A\":null}"), RS_EINPUT,
	  "'headersTemplate': 'X-A' must be a string" },
	{ CFG("\"headersTemplate\":{\"X-A\":\"a\\r\\nSet-Cookie: x\"}"),
	  RS_EINPUT, "control character" },
	{ CFG("\"headersTemplate\":{\"X-A\":\"a\\nb\"}"), RS_EINPUT,
	  "control character" },
	{ CFG("\"headersTemplate\":{\"X-A\":\"a\\u0000b\"}"), RS_EINPUT,
	  "'X-A' must be a string" },
	{ CFG("\"headersTemplate\":{\"X A\":\"b\"}"), RS_EINPUT,
	  "not a valid header name" },
	{ CFG("\"headersTemplate\":{\"X:A\":\"b\"}"), RS_EINPUT,
	  "not a valid header name" },
	{ CFG("\"headersTemplate\":{\"\":\"b\"}"), RS_EINPUT,
	  "not a valid header name" },
	{ CFG("\"headersTemplate\":{\"X-\\u00e9\":\"b\"}"), RS_EINPUT,
	  "not a valid header name" },
	{ CFG("\"headersTemplate\":{\"Accept\":\"a\",\"accept\":\"b\"}"),
	  RS_EINPUT, "given twice" },
	{ CFG("\"queryTemplate\":{\"\":\"b\"}"), RS_EINPUT,
	  "not a valid parameter name" },
	{ CFG("\"queryTemplate\":{\"a\":true}"), RS_EINPUT,
	  "'queryTemplate': 'a' must be a string" },
	{ CFG("\"queryTemplate\":\"a=b\""), RS_EINPUT,
	  "'queryTemplate' must be an object" },

	/* Booleans, provider, roles, conditional headers. */
	{ CFG("\"requiresAuth\":\"yes\""), RS_EINPUT,
	  "'requiresAuth' must be true or false" },
	{ CFG("\"requiresAuth\":1"), RS_EINPUT, "'requiresAuth' must" },
	{ CFG("\"provider\":\"\""), RS_EINPUT, "'provider' must" },
	{ CFG("\"provider\":\"a b\""), RS_EINPUT, "'provider' must" },
	{ CFG("\"provider\":\"a/b\""), RS_EINPUT, "'provider' must" },
	{ CFG("\"provider\":3"), RS_EINPUT, "'provider' must" },
	{ CFG("\"provider\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaa\""), RS_EINPUT, "'provider' must" },
	{ CFG("\"allowedRolesOverride\":[]"), RS_EINPUT,
	  "'allowedRolesOverride' must be an array" },
	{ CFG("\"allowedRolesOverride\":\"admin\""), RS_EINPUT,
	  "'allowedRolesOverride' must be an array" },
	{ CFG("\"allowedRolesOverride\":[\"Admin\"]"), RS_EINPUT,
	  "'allowedRolesOverride' entry 0" },
	{ CFG("\"allowedRolesOverride\":[\"admin\",\"\"]"), RS_EINPUT,
	  "'allowedRolesOverride' entry 1" },
	{ CFG("\"allowedRolesOverride\":[\"a.b\"]"), RS_EINPUT,
	  "'allowedRolesOverride' entry 0" },
	{ CFG("\"allowedRolesOverride\":[7]"), RS_EINPUT,
	  "'allowedRolesOverride' entry 0 must be a string" },
	{ CFG("\"ifNoneMatchHeader\":1"), RS_EINPUT,
	  "'ifNoneMatchHeader' must be a boolean or a header name" },
	{ CFG("\"ifNoneMatchHeader\":\"\""), RS_EINPUT,
	  "'ifNoneMatchHeader' must" },
	{ CFG("\"ifModifiedSinceHeader\":\"If Modified\""), RS_EINPUT,
	  "'ifModifiedSinceHeader' must" },

	/* link style, auth, item paths. */
	{ CFG("\"cursorStyle\":\"Link\""), RS_EINPUT,
	  "'cursorStyle' must be 'offset', 'cursor', 'page' or 'link'" },
	{ CFG("\"requiresAuth\":true,\"auth\":\"Basic\""), RS_EINPUT,
	  "'auth' must be 'basic', 'bearer', an object" },
	{ CFG("\"requiresAuth\":true,\"auth\":\"none\""), RS_EINPUT,
	  "'auth' must" },
	{ CFG("\"requiresAuth\":true,\"auth\":true"), RS_EINPUT,
	  "'auth' must" },
	{ CFG("\"auth\":\"bearer\""), RS_EINPUT,
	  "'auth' needs 'requiresAuth': true" },
	{ CFG("\"requiresAuth\":false,\"auth\":\"basic\""), RS_EINPUT,
	  "'auth' needs 'requiresAuth': true" },
	{ CFG("\"requiresAuth\":true,\"auth\":\"bearer\",\"headersTemplate\":"
	  "{\"authorization\":\"token {{API_KEY}}\"}"), RS_EINPUT,
	  "'headersTemplate' sets Authorization" },
	{ CFG("\"nextCursorPath\":\"$last..id\""), RS_EINPUT,
	  "'nextCursorPath' is not a valid path" },

	/* auth oauth2_client_credentials (issue 17). */
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":"
	  "\"oauth2_client_credentials\",\"tokenUrl\":"
	  "\"https://api.example.com/oauth/token\"}"), RS_OK, NULL },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":"
	  "\"oauth2_client_credentials\",\"tokenUrl\":"
	  "\"https://API.example.com:443/t\",\"scope\":\"read write\","
	  "\"audience\":\"https://api.example.com/\"}"), RS_OK, NULL },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":"
	  "\"oauth2_client_credentials\",\"tokenUrl\":"
	  "\"https://auth.example.com/t\",\"allowedTokenOrigins\":"
	  "[\"https://AUTH.example.com:443\"]}"), RS_OK, NULL },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":"
	  "\"oauth2_client_credentials\",\"tokenUrl\":"
	  "\"https://auth.example.com/t\"}"), RS_EINPUT,
	  "'auth.tokenUrl' must be on baseUrl's origin "
	  "(https://api.example.com) unless its origin "
	  "(https://auth.example.com) is listed in 'auth.allowedTokenOrigins'" },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":"
	  "\"oauth2_client_credentials\",\"tokenUrl\":"
	  "\"http://api.example.com/t\"}"), RS_EINPUT,
	  "'auth.tokenUrl' must be on baseUrl's origin" },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":"
	  "\"oauth2_client_credentials\",\"tokenUrl\":"
	  "\"https://auth.example.com/t\",\"allowedTokenOrigins\":"
	  "[\"https://other.example.com\"]}"), RS_EINPUT,
	  "is listed in 'auth.allowedTokenOrigins'" },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":"
	  "\"oauth2_client_credentials\"}"), RS_EINPUT,
	  "'auth.tokenUrl' is required" },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":"
	  "\"oauth2_client_credentials\",\"tokenUrl\":\"ftp://x/t\"}"),
	  RS_EINPUT, "'auth.tokenUrl' must be an absolute http or https URL" },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":"
	  "\"oauth2_client_credentials\",\"tokenUrl\":"
	  "\"https://u:p@api.example.com/t\"}"), RS_EINPUT,
	  "'auth.tokenUrl' must not contain credentials" },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":\"password\","
	  "\"tokenUrl\":\"https://api.example.com/t\"}"), RS_EINPUT,
	  "'auth.type' must be 'oauth2_client_credentials'" },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"tokenUrl\":"
	  "\"https://api.example.com/t\"}"), RS_EINPUT,
	  "'auth.type' must be" },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":"
	  "\"oauth2_client_credentials\",\"tokenUrl\":"
	  "\"https://api.example.com/t\",\"clientSecret\":\"x\"}"),
	  RS_EINPUT, "unknown key 'auth.clientSecret'" },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":"
	  "\"oauth2_client_credentials\",\"tokenUrl\":"
	  "\"https://api.example.com/t\",\"scope\":\"\"}"), RS_EINPUT,
	  "'auth.scope' must be a string of 1 to 1024 bytes" },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":"
	  "\"oauth2_client_credentials\",\"tokenUrl\":"
	  "\"https://api.example.com/t\",\"audience\":7}"), RS_EINPUT,
	  "'auth.audience' must be a string" },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":"
	  "\"oauth2_client_credentials\",\"tokenUrl\":"
	  "\"https://api.example.com/t\",\"allowedTokenOrigins\":"
	  "\"https://a.example.com\"}"), RS_EINPUT,
	  "'auth.allowedTokenOrigins' must be an array of at most 8 origins" },
	{ CFG("\"auth\":{\"type\":\"oauth2_client_credentials\","
	  "\"tokenUrl\":\"https://api.example.com/t\"}"), RS_EINPUT,
	  "'auth' needs 'requiresAuth': true" },
	{ CFG("\"requiresAuth\":true,\"auth\":\"oauth2_client_credentials\""),
	  RS_EINPUT, "'auth' must be 'basic', 'bearer', an object" },
	{ CFG("\"requiresAuth\":true,\"auth\":{\"type\":"
	  "\"oauth2_client_credentials\",\"tokenUrl\":"
	  "\"https://api.example.com/t\"},\"headersTemplate\":"
	  "{\"Authorization\":\"x\"}"), RS_EINPUT,
	  "'headersTemplate' sets Authorization" },

	/* rateLimit (issue 17). */
	{ CFG("\"rateLimit\":{\"requests\":5,\"perSeconds\":1}"), RS_OK,
	  NULL },
	{ CFG("\"rateLimit\":{\"requests\":1000,\"perSeconds\":86400,"
	  "\"scope\":\"provider\"}"), RS_OK, NULL },
	{ CFG("\"rateLimit\":null"), RS_OK, NULL },
	{ CFG("\"rateLimit\":5"), RS_EINPUT, "'rateLimit' must be an object" },
	{ CFG("\"rateLimit\":{\"perSeconds\":1}"), RS_EINPUT,
	  "'rateLimit.requests' must be an integer between 1 and 1000" },
	{ CFG("\"rateLimit\":{\"requests\":0,\"perSeconds\":1}"), RS_EINPUT,
	  "'rateLimit.requests' must be an integer between 1 and 1000" },
	{ CFG("\"rateLimit\":{\"requests\":1001,\"perSeconds\":1}"),
	  RS_EINPUT, "'rateLimit.requests'" },
	{ CFG("\"rateLimit\":{\"requests\":5,\"perSeconds\":1.5}"),
	  RS_EINPUT, "'rateLimit.perSeconds' must be an integer between 1 "
	  "and 86400" },
	{ CFG("\"rateLimit\":{\"requests\":5}"), RS_EINPUT,
	  "'rateLimit.perSeconds'" },
	{ CFG("\"rateLimit\":{\"requests\":5,\"perSeconds\":1,"
	  "\"scope\":\"tenant\"}"), RS_EINPUT,
	  "'rateLimit.scope' must be 'source' or 'provider'" },
	{ CFG("\"rateLimit\":{\"requests\":5,\"perSeconds\":1,"
	  "\"burst\":2}"), RS_EINPUT, "unknown key 'rateLimit.burst'" },
};

static void
test_rows(void **state)
{
	const struct cfg_row	*r;
	struct source_config	 cfg;
	char			 err[RS_ERRLEN];
	enum rs_status		 st;
	size_t			 i;

	(void)state;
	for (i = 0; i < NROWS(cfg_rows); i++) {
		r = &cfg_rows[i];
		err[0] = '\0';
		st = cfg_parse(r->json, strlen(r->json), &cfg, err);
		if (st != r->want)
			fail_msg("row %zu %s: status %d (%s), want %d", i,
			    r->json, st, err, r->want);
		if (r->errsub != NULL && strstr(err, r->errsub) == NULL)
			fail_msg("row %zu %s: err '%s' lacks '%s'", i, r->json,
			    err, r->errsub);
		if (st != RS_OK) {
			/* Left empty on failure. */
			assert_null(cfg.base_url);
			assert_null(cfg.text_fields);
			assert_int_equal(cfg.ntext_fields, 0);
			assert_null(cfg.headers);
			assert_null(cfg.roles);
		}
		cfg_free(&cfg);
	}
}

static void
test_seed(void **state)
{
	struct source_config	 cfg;
	char			 err[RS_ERRLEN] = "";
	static const char *const fields[] = {
		"title", "description", "brand", "category", "tags",
	};
	static const char *const roles[] = {
		"member", "support", "operations", "admin",
	};
	size_t			 i;

	(void)state;
	if (cfg_parse(seed, strlen(seed), &cfg, err) != RS_OK)
		fail_msg("seed: %s", err);
	assert_string_equal(cfg.base_url, "https://dummyjson.com/products");
	assert_int_equal(cfg.style, CFG_STYLE_OFFSET);
	assert_string_equal(cfg_style_name(cfg.style), "offset");
	assert_string_equal(cfg.cursor_param, "skip");
	assert_string_equal(cfg.page_size_param, "limit");
	assert_int_equal(cfg.page_size, 50);
	assert_string_equal(cfg.items_path, "products");
	assert_null(cfg.next_cursor_path);
	assert_string_equal(cfg.current_offset_path, "skip");
	assert_string_equal(cfg.total_path, "total");
	assert_null(cfg.has_more_path);
	assert_null(cfg.total_pages_path);
	assert_int_equal(cfg.page_start, 1);
	assert_int_equal(cfg.max_pages, 0);
	assert_null(cfg.headers);
	assert_int_equal(cfg.nheaders, 0);
	assert_null(cfg.query);
	assert_int_equal(cfg.nquery, 0);
	assert_int_equal(cfg.requires_auth, 0);
	assert_string_equal(cfg.provider, "rest");
	assert_int_equal(cfg.ntext_fields, 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(cfg.text_fields[i], fields[i]);
	assert_null(cfg.title_field);
	assert_int_equal(cfg.nroles, 4);
	for (i = 0; i < 4; i++)
		assert_string_equal(cfg.roles[i], roles[i]);
	assert_null(cfg.if_none_match);
	assert_null(cfg.if_modified_since);
	assert_int_equal(cfg.max_body, CFG_DEFAULT_BODY_CAP);
	assert_int_equal(cfg.sync_interval_min, 0);
	cfg_free(&cfg);
	assert_null(cfg.base_url);
	assert_null(cfg.text_fields);
	assert_int_equal(cfg.ntext_fields, 0);
	cfg_free(&cfg);		/* twice is harmless */
}

/* Defaults, and how cursorStyle and cursorParam follow each other. */
static const struct default_row {
	const char	*json;
	enum cfg_style	 style;
	const char	*param;
} default_rows[] = {
	{ "{" MIN "}", CFG_STYLE_PAGE, "page" },
	{ CFG("\"nextCursorPath\":null"), CFG_STYLE_PAGE, "page" },
	{ CFG("\"nextCursorPath\":\"\""), CFG_STYLE_PAGE, "page" },
	{ CFG("\"nextCursorPath\":\"next\""), CFG_STYLE_CURSOR, "cursor" },
	{ CFG("\"cursorStyle\":\"offset\""), CFG_STYLE_OFFSET, "offset" },
	{ CFG("\"cursorStyle\":\"page\",\"nextCursorPath\":\"n\""),
	  CFG_STYLE_PAGE, "page" },
	{ CFG("\"cursorStyle\":\"offset\",\"cursorParam\":\"skip\""),
	  CFG_STYLE_OFFSET, "skip" },
	{ CFG("\"cursorParam\":null"), CFG_STYLE_PAGE, "page" },
	{ CFG("\"cursorStyle\":\"link\""), CFG_STYLE_LINK, "" },
	{ CFG("\"cursorStyle\":\"link\",\"pageSizeParam\":\"page\""),
	  CFG_STYLE_LINK, "" },
	{ CFG("\"nextCursorPath\":\"$last.id\",\"cursorParam\":"
	  "\"starting_after\""), CFG_STYLE_CURSOR, "starting_after" },
};

static void
test_defaults(void **state)
{
	const struct default_row	*r;
	struct source_config		 cfg;
	char				 err[RS_ERRLEN] = "";
	size_t				 i;

	(void)state;
	for (i = 0; i < NROWS(default_rows); i++) {
		r = &default_rows[i];
		if (cfg_parse(r->json, strlen(r->json), &cfg, err) != RS_OK)
			fail_msg("row %zu %s: %s", i, r->json, err);
		if (cfg.style != r->style || strcmp(cfg.cursor_param,
		    r->param) != 0)
			fail_msg("row %zu: style %s param %s", i,
			    cfg_style_name(cfg.style), cfg.cursor_param);
		cfg_free(&cfg);
	}

	/* Everything else at its default. */
	assert_int_equal(cfg_parse("{" MIN "}", strlen("{" MIN "}"), &cfg,
	    NULL), RS_OK);
	assert_null(cfg.page_size_param);
	assert_int_equal(cfg.page_size, 50);
	assert_int_equal(cfg.auth, CFG_AUTH_NONE);
	assert_null(cfg.items_path);
	assert_int_equal(cfg.page_start, 1);
	assert_int_equal(cfg.max_pages, 0);
	assert_int_equal(cfg.requires_auth, 0);
	assert_string_equal(cfg.provider, "rest");
	assert_null(cfg.title_field);
	assert_null(cfg.roles);
	assert_int_equal(cfg.nroles, 0);
	assert_null(cfg.if_none_match);
	assert_null(cfg.if_modified_since);
	assert_int_equal(cfg.max_body, CFG_DEFAULT_BODY_CAP);
	assert_int_equal(cfg.sync_interval_min, 0);
	cfg_free(&cfg);
}

static void
test_full(void **state)
{
	static const char json[] = "{"
	    "\"baseUrl\":\"https://api.example.com/v1/items\","
	    "\"cursorStyle\":\"cursor\",\"cursorParam\":\"after\","
	    "\"pageSizeParam\":\"per_page\",\"defaultPageSize\":100,"
	    "\"itemsPath\":\"$.data\",\"nextCursorPath\":\"meta.next\","
	    "\"hasMorePath\":\"meta.more\",\"totalPagesPath\":\"meta.pages\","
	    "\"pageStart\":0,\"maxPages\":7,"
	    "\"headersTemplate\":{\"Authorization\":\"Bearer {{API_KEY}}\","
	    "\"Accept\":\"application/json\"},"
	    "\"queryTemplate\":{\"key\":\"{{API_KEY}}\"},"
	    "\"requiresAuth\":true,\"provider\":\"acme\","
	    "\"textFields\":[\"name\",\"reviews.comment\"],"
	    "\"titleField\":\"name\",\"allowedRolesOverride\":[\"admin\"],"
	    "\"ifNoneMatchHeader\":true,\"ifModifiedSinceHeader\":\"X-Since\","
	    "\"maxBodyBytes\":2048,\"syncIntervalMinutes\":60}";
	struct source_config	 cfg;
	char			 err[RS_ERRLEN] = "";
	size_t			 i;

	(void)state;
	if (cfg_parse(json, strlen(json), &cfg, err) != RS_OK)
		fail_msg("%s", err);
	assert_int_equal(cfg.style, CFG_STYLE_CURSOR);
	assert_string_equal(cfg.cursor_param, "after");
	assert_string_equal(cfg.page_size_param, "per_page");
	assert_int_equal(cfg.page_size, 100);
	assert_string_equal(cfg.items_path, "$.data");
	assert_string_equal(cfg.next_cursor_path, "meta.next");
	assert_string_equal(cfg.has_more_path, "meta.more");
	assert_string_equal(cfg.total_pages_path, "meta.pages");
	assert_int_equal(cfg.page_start, 0);
	assert_int_equal(cfg.max_pages, 7);
	assert_int_equal(cfg.nheaders, 2);
	for (i = 0; i < cfg.nheaders; i++)
		if (strcmp(cfg.headers[i].name, "Authorization") == 0)
			assert_string_equal(cfg.headers[i].value,
			    "Bearer {{API_KEY}}");
		else {
			assert_string_equal(cfg.headers[i].name, "Accept");
			assert_string_equal(cfg.headers[i].value,
			    "application/json");
		}
	assert_int_equal(cfg.nquery, 1);
	assert_string_equal(cfg.query[0].name, "key");
	assert_string_equal(cfg.query[0].value, "{{API_KEY}}");
	assert_int_equal(cfg.requires_auth, 1);
	assert_string_equal(cfg.provider, "acme");
	assert_int_equal(cfg.ntext_fields, 2);
	assert_string_equal(cfg.text_fields[1], "reviews.comment");
	assert_string_equal(cfg.title_field, "name");
	assert_int_equal(cfg.nroles, 1);
	assert_string_equal(cfg.roles[0], "admin");
	assert_string_equal(cfg.if_none_match, "If-None-Match");
	assert_string_equal(cfg.if_modified_since, "X-Since");
	assert_int_equal(cfg.max_body, 2048);
	assert_int_equal(cfg.sync_interval_min, 60);
	cfg_free(&cfg);
}

/* Inputs built at run time: sizes, counts, embedded NUL. */
static void
test_limits(void **state)
{
	struct source_config	 cfg;
	char			 err[RS_ERRLEN];
	char			*big;
	size_t			 i, n;
	int			 k;

	(void)state;
	/* A huge string value: the text itself is over CFG_MAX_JSON. */
	n = CFG_MAX_JSON + 64;
	big = malloc(n + 1);
	assert_non_null(big);
	k = snprintf(big, n + 1, "{" MIN ",\"provider\":\"");
	memset(big + k, 'a', n - (size_t)k - 2);
	memcpy(big + n - 2, "\"}", 3);
	assert_int_equal(cfg_parse(big, n, &cfg, err), RS_EINPUT);
	assert_non_null(strstr(err, "larger than"));
	assert_null(cfg.base_url);

	/* Just under the cap it parses, and the key's own check refuses. */
	n = CFG_MAX_JSON;
	memset(big + k, 'a', n - (size_t)k - 2);
	memcpy(big + n - 2, "\"}", 3);
	assert_int_equal(cfg_parse(big, n, &cfg, err), RS_EINPUT);
	assert_non_null(strstr(err, "'provider' must"));

	/* CFG_MAX_FIELDS entries pass, one more does not. */
	for (k = 0; k < 2; k++) {
		i = (size_t)snprintf(big, 64, "{\"baseUrl\":\"http://h\","
		    "\"textFields\":[");
		for (n = 0; n < CFG_MAX_FIELDS + (size_t)k; n++)
			i += (size_t)snprintf(big + i, 16, "%s\"f%zu\"",
			    n ? "," : "", n);
		i += (size_t)snprintf(big + i, 4, "]}");
		err[0] = '\0';
		assert_int_equal(cfg_parse(big, i, &cfg, err),
		    k ? RS_EINPUT : RS_OK);
		if (k)
			assert_non_null(strstr(err, "'textFields' must"));
		else
			assert_int_equal(cfg.ntext_fields, CFG_MAX_FIELDS);
		cfg_free(&cfg);
	}
	for (k = 0; k < 2; k++) {
		i = (size_t)snprintf(big, 128, "{" MIN ",\"headersTemplate\":{");
		for (n = 0; n < CFG_MAX_FIELDS + (size_t)k; n++)
			i += (size_t)snprintf(big + i, 32, "%s\"X-%zu\":\"v\"",
			    n ? "," : "", n);
		i += (size_t)snprintf(big + i, 4, "}}");
		err[0] = '\0';
		assert_int_equal(cfg_parse(big, i, &cfg, err),
		    k ? RS_EINPUT : RS_OK);
		if (k)
			assert_non_null(strstr(err, "more than"));
		else
			assert_int_equal(cfg.nheaders, CFG_MAX_FIELDS);
		cfg_free(&cfg);
	}
	free(big);

	/* A NUL byte inside the text, and a NULL text. */
	assert_int_equal(cfg_parse("{\0}", 3, &cfg, err), RS_EINPUT);
	assert_non_null(strstr(err, "NUL"));
	assert_int_equal(cfg_parse(NULL, 0, &cfg, err), RS_EINPUT);
	/* Only len bytes are read: the trailing garbage is out of range. */
	assert_int_equal(cfg_parse("{" MIN "}garbage", strlen("{" MIN "}"),
	    &cfg, err), RS_OK);
	cfg_free(&cfg);
}

static void
test_style_name(void **state)
{
	(void)state;
	assert_string_equal(cfg_style_name(CFG_STYLE_PAGE), "page");
	assert_string_equal(cfg_style_name(CFG_STYLE_OFFSET), "offset");
	assert_string_equal(cfg_style_name(CFG_STYLE_CURSOR), "cursor");
	assert_string_equal(cfg_style_name(CFG_STYLE_LINK), "link");
	assert_string_equal(cfg_style_name(CFG_STYLE__MAX), "unknown");
	assert_string_equal(cfg_auth_name(CFG_AUTH_NONE), "none");
	assert_string_equal(cfg_auth_name(CFG_AUTH_BASIC), "basic");
	assert_string_equal(cfg_auth_name(CFG_AUTH_BEARER), "bearer");
	assert_string_equal(cfg_auth_name(CFG_AUTH__MAX), "unknown");
}

/* The auth key, and nextCursorPath's "$last" item paths. */
static void
test_auth_and_item_path(void **state)
{
	static const struct {
		const char	*path;
		const char	*inside;	/* NULL: not an item path */
	} rows[] = {
		{ "$last.id", "id" },
		{ "$last.meta.cursor", "meta.cursor" },
		{ "$last", "" },
		{ "$last.0", "0" },
		{ "$lastid", NULL },
		{ "$.last.id", NULL },
		{ "last.id", NULL },
		{ "next_cursor", NULL },
		{ "", NULL },
		{ NULL, NULL },
	};
	static const char basic[] = CFG("\"requiresAuth\":true,"
	    "\"auth\":\"basic\",\"provider\":\"zendesk\"");
	static const char bearer[] = CFG("\"requiresAuth\":true,"
	    "\"auth\":\"bearer\"");
	struct source_config	 cfg;
	char			 err[RS_ERRLEN] = "";
	const char		*got;
	size_t			 i;

	(void)state;
	for (i = 0; i < NROWS(rows); i++) {
		got = cfg_item_path(rows[i].path);
		if (rows[i].inside == NULL ? got != NULL :
		    got == NULL || strcmp(got, rows[i].inside) != 0)
			fail_msg("row %zu '%s': got '%s'", i,
			    rows[i].path ? rows[i].path : "(null)",
			    got ? got : "(null)");
	}
	if (cfg_parse(basic, strlen(basic), &cfg, err) != RS_OK)
		fail_msg("%s", err);
	assert_int_equal(cfg.auth, CFG_AUTH_BASIC);
	assert_int_equal(cfg.requires_auth, 1);
	assert_string_equal(cfg.provider, "zendesk");
	cfg_free(&cfg);
	assert_int_equal(cfg.auth, CFG_AUTH_NONE);
	if (cfg_parse(bearer, strlen(bearer), &cfg, err) != RS_OK)
		fail_msg("%s", err);
	assert_int_equal(cfg.auth, CFG_AUTH_BEARER);
	cfg_free(&cfg);
}

/* The OAuth2 and rateLimit fields as parsed. */
static void
test_oauth_rate_fields(void **state)
{
	static const char oa[] = CFG("\"requiresAuth\":true,\"auth\":"
	    "{\"type\":\"oauth2_client_credentials\",\"tokenUrl\":"
	    "\"https://auth.example.com/t\",\"scope\":\"a b\","
	    "\"audience\":\"aud\",\"allowedTokenOrigins\":"
	    "[\"HTTPS://Auth.Example.com/ignored/path\"]},"
	    "\"rateLimit\":{\"requests\":5,\"perSeconds\":2,"
	    "\"scope\":\"provider\"}");
	struct source_config	 cfg;
	char			 err[RS_ERRLEN] = "";

	(void)state;
	if (cfg_parse(oa, strlen(oa), &cfg, err) != RS_OK)
		fail_msg("%s", err);
	assert_int_equal(cfg.auth, CFG_AUTH_OAUTH2);
	assert_string_equal(cfg.token_url, "https://auth.example.com/t");
	assert_string_equal(cfg.oauth_scope, "a b");
	assert_string_equal(cfg.oauth_audience, "aud");
	assert_int_equal(cfg.ntoken_origins, 1);
	assert_string_equal(cfg.token_origins[0], "https://auth.example.com");
	assert_int_equal(cfg.rate_requests, 5);
	assert_int_equal(cfg.rate_per_seconds, 2);
	assert_int_equal(cfg.rate_scope, CFG_RATE_PROVIDER);
	assert_string_equal(cfg_auth_name(CFG_AUTH_OAUTH2),
	    "oauth2_client_credentials");
	assert_string_equal(cfg_rate_scope_name(CFG_RATE_SOURCE), "source");
	assert_string_equal(cfg_rate_scope_name(CFG_RATE_PROVIDER),
	    "provider");
	cfg_free(&cfg);
	assert_null(cfg.token_url);
	assert_int_equal(cfg.rate_requests, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_style_name),
		cmocka_unit_test(test_auth_and_item_path),
		cmocka_unit_test(test_oauth_rate_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
