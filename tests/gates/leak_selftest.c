/*
 * leak_selftest — the sanitizer gate's self-test (scripts/test.sh), not a
 * restsync endpoint.  A FastCGI program on the same skeleton as cgi-src/
 * (pre-forked workers that exit cleanly on SIGTERM) that leaks one
 * allocation per request in leak_selftest_plant().  The sanitizer pass
 * starts it with the ASan programs, calls it once, and must find its leak
 * report after the stack stops: that shows the workers were stopped in a
 * way that lets LeakSanitizer report, and that reports reach the gate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_io.h"

void	*volatile leak_selftest_sink;

static __attribute__((noinline)) void
leak_selftest_plant(void)
{
	char	*p;

	if ((p = malloc(4096)) == NULL)
		return;
	memset(p, 'L', 4096);
	leak_selftest_sink = p;
	leak_selftest_sink = NULL;	/* the only pointer is gone: a leak */
}

int
main(void)
{
	struct fio_req	 rq;

	if (fio_init(&rq, "leak_selftest") == -1 || fio_prefork(&rq) == -1)
		return 1;
	while (fio_accept(&rq) >= 0) {
		leak_selftest_plant();
		fio_reply(&rq, RS_OK, 200, fio_ok(), "", NULL);
		fio_finish(&rq);
	}
	return 0;
}
