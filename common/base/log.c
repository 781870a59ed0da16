/*
 * log.c — the one writer of log lines (see log.h).
 */
#include <stdio.h>
#include <time.h>

#include "log.h"

struct json_object *
log_begin(const char *program)
{
	struct json_object	*o = json_object_new_object();
	char			 ts[32], t[64];
	struct timespec		 now;
	struct tm		 tm;

	(void)clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	(void)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	(void)snprintf(t, sizeof(t), "%.24s.%03dZ", ts,
	    (int)(now.tv_nsec / 1000000 % 1000));
	json_object_object_add(o, "time", json_object_new_string(t));
	json_object_object_add(o, "program", json_object_new_string(program));
	return o;
}

void
log_emit(struct json_object *o, struct json_object *fields)
{
	if (fields != NULL) {
		json_object_object_foreach(fields, k, v)
			json_object_object_add(o, k, json_object_get(v));
		json_object_put(fields);
	}
	fprintf(stderr, "%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stderr);
	json_object_put(o);
}
