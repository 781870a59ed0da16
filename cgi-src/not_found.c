/*
 * not_found — answers 404 {"ok":false,"error":"no such endpoint"} for any
 * /api/backoffice/<name> without a program.  nginx routes unknown names
 * here (see endpoints.map in scripts/stack.sh) so that they, too, are
 * answered only after authentication: a 404 from nginx's rewrite phase
 * would come before auth_basic and let anyone probe endpoint names.
 */
#include "fcgi_io.h"

int
main(void)
{
	struct fio_req	 rq;

	if (fio_init(&rq, "not_found") == -1 || fio_prefork(&rq) == -1)
		return 1;
	while (fio_accept(&rq) >= 0) {
		fio_write_error(&rq, RS_ENOTFOUND, "no such endpoint", NULL);
		fio_log(&rq, 404, NULL);
		fio_finish(&rq);
	}
	return 0;
}
