/*
 * rotate.h — rotate the key of the secrets at rest (`restsync rotate-key`,
 * issue 14; it replaces scripts/rotate-secret-key.sh).  Prefix: rot_.
 *
 * In one transaction that locks integration_secrets against writers,
 * every row is decrypted with the current key and encrypted again with a
 * new key and a fresh nonce, as AAD version 2 (bound to its origin,
 * sql/007).  The new key is written next to the key file first (same
 * owner, same mode, never wider than 0640), the rows are committed, then
 * the old file is kept as <file>.old-<UTC stamp> and the new one renamed
 * over it.  The database URL comes from DATABASE_URL (libpq), never from
 * a command line.
 *
 * The current key: RESTSYNC_SECRET_KEY, else RESTSYNC_SECRET_KEY_FILE (as
 * everywhere).  The new key: RESTSYNC_NEW_SECRET_KEY if set (64 hex digits
 * or base64), else random.  With the key in the environment there is no
 * file to swap: the new key goes to RESTSYNC_NEW_SECRET_KEY_FILE (default
 * "secret.key.new", created 0600) and the operator puts it into
 * RESTSYNC_SECRET_KEY.
 *
 * Rows that do not decrypt stop the rotation (listed, nothing changed)
 * unless skip_bad: then they are left as they are.
 */
#ifndef ROTATE_H
#define ROTATE_H

#include <stdio.h>

#include "rs.h"
#include "store.h"

struct rot_result {
	long	 rotated;	/* rows re-encrypted */
	long	 skipped;	/* rows that did not decrypt, left alone */
	char	 key_file[560];	/* where the new key is */
	char	 old_file[600];	/* the old key file kept ("" in env mode) */
};

/*
 * RS_OK with *res filled; RS_EINPUT (bad key, undecryptable rows — each
 * listed on bad, which may be NULL — or a key file that cannot be
 * written), RS_EDB, RS_ENOMEM with a message.
 */
enum rs_status	 rot_rotate(struct store *, int skip_bad, FILE *bad,
		    struct rot_result *res, char *err);

#endif
