/*
 * reembed.h — re-embed a source's chunks with the deployment's model.
 * Prefix: reembed_.  All SQL lives in reembed.c (static const statements
 * indexed by an enum) on the store's connection.
 *
 * A batch never mixes two embedding models in one source (batch.c
 * same_model); after a model change an operator runs `restsync reembed
 * SOURCE` (or the page's Re-embed).  Under the source's batch lock, the
 * chunks whose metadata.embeddingModel is not the deployment's are read
 * in content-hash order, in groups of REEMBED_GROUP, embedded, and
 * written back with the new model, one statement (one transaction) per
 * group.  A run stopped anywhere leaves whole groups converted; the next
 * run skips them and goes on.
 */
#ifndef REEMBED_H
#define REEMBED_H

#include <json-c/json.h>

#include "embed.h"
#include "rs.h"
#include "store.h"

#define REEMBED_GROUP	256	/* chunks per embed call and transaction */

struct reembed_result {
	long long	 chunks;	/* chunks re-embedded by this call */
	int		 groups;	/* transactions committed */
	long long	 left;		/* chunks of another model left */
	const char	*model;		/* the deployment's */
};

/*
 * Re-embed the chunks of source_id that carry another model than em's
 * (or none); audited for actor as "reembed".  With finish_by > 0 (an
 * rs_now_ms() value) no group starts after start_by and every embedding
 * call ends by finish_by (an HTTP request's budget); 0: until done, each
 * group's call within REEMBED_GROUP_MS.  RS_ENOTFOUND, RS_EBUSY (a batch
 * of the source runs), RS_EEMBED, RS_EDB; groups committed before a
 * failure stay.
 */
#define REEMBED_GROUP_MS	60000
enum rs_status	 reembed_source(struct store *, struct embedder *em,
		    const char *source_id, const char *actor, double start_by,
		    double finish_by, struct reembed_result *, char *err);

/* {"ok":true,"sourceId","model","chunks","groups","left"}, for the CLI's
 * --json and rest-reembed. */
struct json_object *reembed_result_json(const char *source_id,
		    const struct reembed_result *);

#endif
