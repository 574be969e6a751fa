/*
 * One way to ask the logs a question, whichever store holds them.
 *
 * On the embedded store the query is confined to the window by rewriting
 * it (_time:[start, end) AND its filter), parsed and run here.  On
 * VictoriaLogs the window goes as the start/end arguments and the server
 * does the work, so only aggregates cross the network.
 */
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

static int
query_embedded(struct source *src, const char *q, int64_t start_ns,
    int64_t end_ns, size_t max_rows, struct qresult *out, char *err,
    size_t errlen)
{
	struct buf text = BUF_INIT;
	struct logsql_query *lq = NULL;
	int rc = -1;

	if (start_ns != TIME_NONE || end_ns != TIME_NONE) {
		if (logsql_confine(q, strlen(q), start_ns, end_ns, &text, err,
		    errlen) != 0)
			goto out;
		q = text.p;
	}
	lq = logsql_parse(q, strlen(q), err, errlen);
	if (lq == NULL)
		goto out;
	rc = logsql_exec(lq, src->store, src->now_ns, max_rows, out, err,
	    errlen);
out:
	logsql_free(lq);
	buf_release(&text);
	return rc;
}

int
source_query(struct source *src, const char *q, int64_t start_ns,
    int64_t end_ns, size_t max_rows, struct qresult *out, char *err,
    size_t errlen)
{
	int64_t t0 = clock_mono_ns();
	int rc;

	qresult_reset(out);
	if (src->store != NULL)
		rc = query_embedded(src, q, start_ns, end_ns, max_rows, out,
		    err, errlen);
	else if (src->vlogs != NULL) {
		struct vlogs_error e;
		rc = vlogs_query(src->vlogs, q, start_ns, end_ns, max_rows, out,
		    &e);
		if (rc != 0)
			snprintf(err, errlen, "%s", e.msg);
	} else {
		snprintf(err, errlen, "no log store configured");
		rc = -1;
	}
	src->queries++;
	src->busy_ns += clock_mono_ns() - t0;
	return rc;
}
