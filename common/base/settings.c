/*
 * settings.c — the process's settings from its environment, read once
 * (see settings.h).
 */
#include <stdlib.h>
#include <string.h>

#include "settings.h"

static struct settings	 cur;
static int		 loaded;

void
settings_reload(void)
{
	const char	*v;

	v = getenv("DATABASE_URL");
	cur.database_url = v != NULL ? v : "";
	v = getenv("RESTSYNC_SQL_DIR");
	cur.sql_dir = v != NULL && *v != '\0' ? v : NULL;
	v = getenv("RESTSYNC_ALLOW_PRIVATE_NETWORKS");
	cur.allow_private = v != NULL && strcmp(v, "1") == 0;
	loaded = 1;
}

const struct settings *
settings_get(void)
{
	if (!loaded)
		settings_reload();
	return &cur;
}
