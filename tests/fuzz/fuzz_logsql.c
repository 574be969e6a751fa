/*
 * fuzz_logsql: LogsQL from the outside (the agent, the command line).
 *
 * Whatever parses must print as canonical LogsQL that parses again and
 * prints the same, and must mean the same: both run on a tiny store with
 * a small row cap and must give the same rows.  Any difference aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"


#define BASE (1795165200LL * 1000000000LL)

static struct store st;
static int ready;

static void
add(int t, const char *client, const char *peer, const char *xff,
    const char *method, const char *uri, int status, int64_t bytes,
    int64_t rt_us, const char *ua)
{
	struct logrec r;
	struct ipaddr c, p;

	/* by hand: logrec_clear() would pull in every log parser */
	memset(&r, 0, sizeof(r));
	r.time_ns = BASE + (int64_t)t * 1000000000LL;
	r.remote_addr = span_str(peer);
	r.xff = span_str(xff);
	r.method = span_str(method);
	r.uri = span_str(uri);
	r.user_agent = span_str(ua);
	r.status = status;
	r.body_bytes = bytes;
	r.request_time_ns = rt_us < 0 ? -1 : rt_us * 1000;
	if (ipaddr_parse(span_str(client), &c) != 0 ||
	    ipaddr_parse(span_str(peer), &p) != 0)
		abort();
	store_append(&st, &r, &c, &p);
}

static void
setup(void)
{
	store_init(&st, NULL);
	add(0, "1.2.3.4", "1.2.3.4", "", "GET", "/login?next=/a", 200, 100,
	    10000, "Mozilla/5.0 (compatible; Googlebot/2.1)");
	add(1, "1.2.3.4", "1.2.3.4", "", "POST", "/login", 401, 20, 200000,
	    "curl/8.0");
	add(61, "1.2.3.9", "1.2.3.9", "", "GET", "/wp-login.php", 404, -1, -1,
	    "");
	add(62, "5.6.7.8", "10.0.0.2", "5.6.7.8, 10.0.0.2", "GET", "/health",
	    200, 15, 43000, "UptimeRobot/2.0");
	add(125, "2001:db8::1", "2001:db8::1", "", "GET", "/.git/config", 403,
	    0, 1500000, "python-requests/2.31");
	add(200, "9.9.9.9", "9.9.9.9", "", "", "/caf\xc3\xa9?x=\"1\"", 0, 5000,
	    7, "\xe2\x80\x94 bot \xf0\x9f\xa4\x96");
	add(299, "1.2.3.4", "1.2.3.4", "", "GET", "/search?q=Hello%20World",
	    500, 5000, 300000, "Mozilla/5.0 (X11)");
	store_finish(&st);
	ready = 1;
}

static char *
run(const struct logsql_query *q, int *rc)
{
	struct qresult r;
	struct buf b = BUF_INIT;
	char err[256];

	qresult_init(&r);
	*rc = logsql_exec(q, &st, BASE + 300LL * 1000000000LL, 5, &r, err,
	    sizeof(err));
	qresult_write_jsonl(&r, &b);
	qresult_release(&r);
	char *s = xstrdup(b.p);
	buf_release(&b);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct logsql_query *q, *q2;
	struct buf b = BUF_INIT, b2 = BUF_INIT;
	char err[256];
	int rc1, rc2;

	if (!ready) {
		log_init("fuzz_logsql", 0);
		setup();
	}
	q = logsql_parse((const char *)data, size, err, sizeof(err));
	if (q == NULL)
		return 0;
	logsql_print(q, &b);
	q2 = logsql_parse(b.p, b.len, err, sizeof(err));
	if (q2 == NULL) {
		fprintf(stderr, "canonical form does not parse: [%s]: %s\n",
		    b.p, err);
		abort();
	}
	logsql_print(q2, &b2);
	if (strcmp(b.p, b2.p) != 0) {
		fprintf(stderr, "print differs:\n[%s]\n[%s]\n", b.p, b2.p);
		abort();
	}
	char *r1 = run(q, &rc1);
	char *r2 = run(q2, &rc2);
	if (rc1 != rc2 || strcmp(r1, r2) != 0) {
		fprintf(stderr, "results differ for [%s]:\n%s\n--\n%s\n", b.p,
		    r1, r2);
		abort();
	}
	free(r1);
	free(r2);
	logsql_free(q);
	logsql_free(q2);
	buf_release(&b);
	buf_release(&b2);
	return 0;
}
