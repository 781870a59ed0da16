/*
 * auth.h — authorization of the nginx-validated operator.  Prefix: auth_.
 */
#ifndef AUTH_H
#define AUTH_H

#include "rs.h"
#include "store.h"

/*
 * RS_OK when user (REMOTE_USER from nginx) is in platform_admins;
 * RS_EAUTH when there is no user, RS_EFORBIDDEN when it is not an admin,
 * RS_EDB when the database cannot say.
 */
enum rs_status	 auth_require_admin(struct store *, const char *user,
		    char *err);

#endif
