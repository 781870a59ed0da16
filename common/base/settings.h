/*
 * settings.h — the process's settings from its environment, read once.
 * Prefix: settings_.
 *
 * Library code reads these, never getenv: a setting cannot change under a
 * running program, and one place says which variables exist.  Programs
 * that set their environment on purpose (tests) call settings_reload().
 */
#ifndef SETTINGS_H
#define SETTINGS_H

struct settings {
	const char	*database_url;	/* DATABASE_URL ("" when unset) */
	const char	*sql_dir;	/* RESTSYNC_SQL_DIR (NULL: default) */
	int		 allow_private;	/* RESTSYNC_ALLOW_PRIVATE_NETWORKS=1 */
};

/* The settings (read from the environment on first use). */
const struct settings	*settings_get(void);

/* Read the environment again (tests that change it). */
void			 settings_reload(void);

#endif
