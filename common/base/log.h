/*
 * log.h — the one writer of log lines: one JSON object per line on
 * stderr (spawn-fcgi and systemd put it in the journal).  Prefix: log_.
 * Requests (fcgi_io.c) and the worker (worker.c) both log through here.
 * Fields must never carry a secret: callers log what they did, not
 * request bodies.
 */
#ifndef LOG_H
#define LOG_H

#include <json-c/json.h>

/* A new line: {"time": "<UTC, ms>", "program": program}. */
struct json_object	*log_begin(const char *program);

/* Write o with fields' members merged in as one line; puts both. */
void			 log_emit(struct json_object *o,
			    struct json_object *fields);

#endif
