/*
 * auth.c — platform-admin check.
 */
#include <string.h>

#include "auth.h"

enum rs_status
auth_require_admin(struct store *st, const char *user, char *err)
{
	enum rs_status	 rc;
	int		 ok = 0;

	if (user == NULL || *user == '\0') {
		rs_errf(err, "authentication required");
		return RS_EAUTH;
	}
	if (strlen(user) > 200) {
		rs_errf(err, "not a platform admin");
		return RS_EFORBIDDEN;
	}
	if ((rc = store_is_admin(st, user, &ok, err)) != RS_OK)
		return rc;
	if (!ok) {
		rs_errf(err, "not a platform admin");
		return RS_EFORBIDDEN;
	}
	return RS_OK;
}
