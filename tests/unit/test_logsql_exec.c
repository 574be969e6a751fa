/*
 * LogsQL on the embedded store: filter semantics, stats, pipes, output
 * shape, caps; then the shared scenarios against counts computed here by
 * walking the store's rows directly.
 */
#include <math.h>

#include "testutil.h"

#define T0 (1795165200LL * 1000000000LL) /* 2026-11-20T09:00:00Z */
#define SEC 1000000000LL

struct row {
	int t;                 /* seconds after T0 */
	const char *client, *peer, *xff, *method, *uri;
	int status;
	int64_t bytes;
	int64_t rt_ms;         /* -1: absent */
	const char *ua, *referer, *host;
};

static const struct row rows[] = {
	{ 0, "1.2.3.4", "1.2.3.4", "", "GET", "/login?next=/a", 200, 100, 10,
	    "Mozilla/5.0 (compatible; Googlebot/2.1)", "", "shop.example.com" },
	{ 10, "1.2.3.4", "1.2.3.4", "", "POST", "/login", 401, 20, 200,
	    "curl/8.0", "", "shop.example.com" },
	{ 65, "1.2.3.9", "1.2.3.9", "", "GET", "/wp-login.php", 404, -1, -1,
	    "", "", "" },
	{ 70, "5.6.7.8", "5.6.7.8", "", "GET", "/health", 200, 15, 43,
	    "UptimeRobot/2.0", "", "" },
	{ 130, "5.6.7.8", "5.6.7.8", "", "GET", "/health", 200, 15, 50,
	    "UptimeRobot/2.0", "", "" },
	{ 200, "2001:db8::1", "2001:db8::1", "", "GET", "/.git/config", 403, 0,
	    1500, "python-requests/2.31", "", "" },
	{ 250, "7.7.7.7", "10.0.0.2", "7.7.7.7", "GET", "/", 302, 0, 5,
	    "Mozilla/5.0 (X11)", "", "" },
	{ 299, "1.2.3.4", "1.2.3.4", "", "GET", "/search?q=Hello%20World", 500,
	    5000, 300, "", "https://x.example/", "" },
};
#define NOW (T0 + 300 * SEC)

static struct store st;

static int
setup(void **state)
{
	(void)state;
	store_init(&st, NULL);
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		const struct row *r = &rows[i];
		struct logrec lr;
		struct ipaddr client, peer;
		logrec_clear(&lr);
		lr.time_ns = T0 + r->t * SEC;
		lr.remote_addr = span_str(r->peer);
		lr.xff = span_str(r->xff);
		lr.method = span_str(r->method);
		lr.uri = span_str(r->uri);
		lr.user_agent = span_str(r->ua);
		lr.referer = span_str(r->referer);
		lr.host = span_str(r->host);
		lr.status = r->status;
		lr.body_bytes = r->bytes;
		lr.request_time_ns = r->rt_ms < 0 ? -1 : r->rt_ms * 1000000;
		assert_int_equal(ipaddr_parse(span_str(r->client), &client), 0);
		assert_int_equal(ipaddr_parse(span_str(r->peer), &peer), 0);
		store_append(&st, &lr, &client, &peer);
	}
	store_finish(&st);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	store_release(&st);
	return 0;
}

/* The query's result as JSON lines; *rc its return code. */
static char *
run_on(const struct store *s, int64_t now, const char *q, size_t max_rows,
    int *rc, char *err, size_t errlen)
{
	struct logsql_query *p;
	struct qresult r;
	struct buf b = BUF_INIT;

	p = logsql_parse(q, strlen(q), err, errlen);
	if (p == NULL) {
		print_error("[%s]: %s\n", q, err);
		fail();
	}
	qresult_init(&r);
	*rc = logsql_exec(p, s, now, max_rows, &r, err, errlen);
	qresult_write_jsonl(&r, &b);
	qresult_release(&r);
	logsql_free(p);
	char *out = xstrdup(b.p);
	buf_release(&b);
	return out;
}

static char *
run(const char *q, size_t max_rows, int *rc)
{
	char err[256];
	return run_on(&st, NOW, q, max_rows, rc, err, sizeof(err));
}

#define GOLD(q, want) do {                                               \
	int rc_;                                                         \
	char *got_ = run(q, 0, &rc_);                                    \
	if (strcmp(got_, want) != 0)                                     \
		print_error("query [%s]\n", q);                          \
	assert_int_equal(rc_, 0);                                        \
	assert_string_equal(got_, want);                                 \
	free(got_);                                                      \
} while (0)

static size_t
nlines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/*
 * Rows matching a filter, counted two ways that share no code past the
 * filter: the stats fast path and the plain row scan.
 */
static void
expect_count(const char *filter, long want)
{
	char q[512], want_s[64];
	int rc;

	snprintf(q, sizeof(q), "%s | stats count() n", filter);
	snprintf(want_s, sizeof(want_s), "{\"n\":\"%ld\"}\n", want);
	char *a = run(q, 0, &rc);
	if (strcmp(a, want_s) != 0)
		print_error("filter [%s]\n", filter);
	assert_int_equal(rc, 0);
	assert_string_equal(a, want_s);
	free(a);
	char *b = run(filter, 0, &rc);
	assert_int_equal(rc, 0);
	if (nlines(b) != (size_t)want)
		print_error("filter [%s] rows\n", filter);
	assert_int_equal(nlines(b), want);
	free(b);
	/* and through the generic row path (a pipe before the filter) */
	snprintf(q, sizeof(q), "* | limit 1000 | filter %s | stats count() n",
	    filter);
	char *c = run(q, 0, &rc);
	if (strcmp(c, want_s) != 0)
		print_error("generic filter [%s]\n", filter);
	assert_string_equal(c, want_s);
	free(c);
}

static void
test_rows_shape(void **state)
{
	(void)state;
	GOLD("* | limit 1", "{\"_msg\":\"GET /login?next=/a 200\","
	    "\"_time\":\"2026-11-20T09:00:00Z\",\"_stream\":\"{}\","
	    "\"client_ip\":\"1.2.3.4\",\"remote_addr\":\"1.2.3.4\","
	    "\"request_method\":\"GET\",\"request_uri\":\"/login?next=/a\","
	    "\"status\":\"200\",\"body_bytes_sent\":\"100\","
	    "\"request_time\":\"0.010\",\"http_user_agent\":\"Mozilla/5.0 "
	    "(compatible; Googlebot/2.1)\",\"host\":\"shop.example.com\"}\n");
	/* missing values are left out */
	GOLD("* | offset 2 | limit 1", "{\"_msg\":\"GET /wp-login.php 404\","
	    "\"_time\":\"2026-11-20T09:01:05Z\",\"_stream\":\"{}\","
	    "\"client_ip\":\"1.2.3.9\",\"remote_addr\":\"1.2.3.9\","
	    "\"request_method\":\"GET\",\"request_uri\":\"/wp-login.php\","
	    "\"status\":\"404\"}\n");
	GOLD("* | offset 6 | limit 1", "{\"_msg\":\"GET / 302\","
	    "\"_time\":\"2026-11-20T09:04:10Z\",\"_stream\":\"{}\","
	    "\"client_ip\":\"7.7.7.7\",\"remote_addr\":\"10.0.0.2\","
	    "\"http_x_forwarded_for\":\"7.7.7.7\",\"request_method\":\"GET\","
	    "\"request_uri\":\"/\",\"status\":\"302\","
	    "\"body_bytes_sent\":\"0\",\"request_time\":\"0.005\","
	    "\"http_user_agent\":\"Mozilla/5.0 (X11)\"}\n");
	GOLD("* | fields status, nosuch, _msg | limit 1",
	    "{\"status\":\"200\",\"_msg\":\"GET /login?next=/a 200\"}\n");
	GOLD("* | offset 7", "{\"_msg\":\"GET /search?q=Hello%20World 500\","
	    "\"_time\":\"2026-11-20T09:04:59Z\",\"_stream\":\"{}\","
	    "\"client_ip\":\"1.2.3.4\",\"remote_addr\":\"1.2.3.4\","
	    "\"request_method\":\"GET\",\"request_uri\":"
	    "\"/search?q=Hello%20World\",\"status\":\"500\","
	    "\"body_bytes_sent\":\"5000\",\"request_time\":\"0.300\","
	    "\"http_referer\":\"https://x.example/\"}\n");
	GOLD("* | limit 0", "");
}

static void
test_words(void **state)
{
	(void)state;
	expect_count("*", 8);
	expect_count("googlebot", 0);                  /* not in _msg */
	expect_count("http_user_agent:googlebot", 0);  /* case matters */
	expect_count("http_user_agent:Googlebot", 1);
	expect_count("http_user_agent:Google", 0);     /* whole words */
	expect_count("http_user_agent:Google*", 1);
	expect_count("http_user_agent:i(googlebot)", 1);
	expect_count("http_user_agent:i(MOZ*)", 2);
	expect_count("http_user_agent:\"compatible; Googlebot\"", 1);
	expect_count("http_user_agent:\"patible; Googlebot\"", 0);
	expect_count("http_user_agent:\"2.1)\"", 1);
	expect_count("request_uri:login", 3);          /* /wp-login.php too */
	expect_count("request_uri:log", 0);
	expect_count("request_uri:log*", 3);
	expect_count("request_uri:wp*", 1);
	expect_count("request_uri:=\"/login\"", 1);    /* the whole value */
	expect_count("request_uri:=/login*", 2);
	expect_count("login", 3);
	expect_count("\"POST /login 401\"", 1);
	expect_count("\"GET /health\"", 2);
	expect_count("\"health 200\"", 2);
	expect_count("\"/health 20\"", 0);
	expect_count("i(POST)", 1);
	expect_count("*ogin*", 3);
	expect_count("*OGIN*", 0);
	expect_count("http_referer:\"x.example\"", 1);
	expect_count("http_x_forwarded_for:7.7.7.7", 1);
	expect_count("_msg:~\"^GET /[a-z]+ 200$\"", 2);
}

static void
test_presence(void **state)
{
	(void)state;
	expect_count("http_user_agent:\"\"", 2);
	expect_count("http_user_agent:*", 6);
	expect_count("host:*", 2);
	expect_count("nosuch:\"\"", 8);
	expect_count("nosuch:*", 0);
	expect_count("nosuch:x", 0);
	expect_count("-nosuch:x", 8);
	expect_count("_msg:*", 8);
	expect_count("body_bytes_sent:\"\"", 1);
	expect_count("request_time:*", 7);
}

static void
test_numbers_and_sets(void **state)
{
	(void)state;
	expect_count("status:>=400", 4);
	expect_count("status:>=400 status:<500", 3);
	expect_count("status:range[200, 404)", 6);
	expect_count("status:range(200, 404]", 4);
	expect_count("request_time:>0.1", 3);
	expect_count("request_time:>=1.5", 1);
	expect_count("request_time:<0.01", 1);
	expect_count("request_time:<=0.01", 2);
	expect_count("body_bytes_sent:<20", 4);    /* missing: not a number */
	expect_count("body_bytes_sent:>1KiB", 1);
	expect_count("body_bytes_sent:>=1.5K", 1);
	expect_count("status:in(401, 403)", 2);
	expect_count("status:in()", 0);
	expect_count("status:404", 1);
	expect_count("status:4", 0);
	expect_count("status:=200 or status:=302", 4);
	expect_count("!status:=200", 5);
	expect_count("status:!=200", 5);
	expect_count("client_ip:ipv4_range(\"1.2.3.0/24\")", 4);
	expect_count("client_ip:ipv4_range(1.2.3.5, 1.2.3.9)", 1);
	expect_count("remote_addr:ipv4_range(\"10.0.0.0/8\")", 1);
	expect_count("client_ip:ipv4_range(\"10.0.0.0/8\")", 0);
	expect_count("request_uri:~\"^/\\\\.git\"", 1);
	expect_count("request_uri:!~\"login\"", 5);
	expect_count("request_uri:~\"(?i)^/HEALTH$\"", 2);
	expect_count("request_uri:~\"\\\\d\"", 1);
}

static void
test_time_and_logic(void **state)
{
	(void)state;
	expect_count("_time:1m", 2);                 /* [now-1m, now) */
	expect_count("_time:5m", 8);
	expect_count("_time:[2026-11-20T09:01:00Z, 2026-11-20T09:02:10Z)", 2);
	expect_count("_time:[2026-11-20T09:01:00Z, 2026-11-20T09:02:10Z]", 3);
	expect_count("_time:2m offset 1m", 2);
	expect_count("_time:>2026-11-20T09:03:20Z", 2);
	expect_count("_time:>=2026-11-20T09:03:20Z", 3);
	expect_count("_time:<=2026-11-20T09:01", 4);  /* to the minute's end */
	expect_count("_time:2026-11-20T09:02", 1);
	expect_count("_time:<1m", 2);                 /* (now-1m, now) */
	expect_count("status:200 OR status:404 request_uri:wp*", 4);
	expect_count("NOT status:200 request_uri:login", 2);
	expect_count("(status:200 OR status:404) request_uri:wp*", 1);
	expect_count("-(status:200 or status:404)", 4);
	/* the newest row at now itself is outside _time:5m */
	char err[256];
	int rc;
	char *o = run_on(&st, T0 + 299 * SEC, "_time:5m | stats count() n", 0,
	    &rc, err, sizeof(err));
	assert_string_equal(o, "{\"n\":\"7\"}\n");
	free(o);
}

static void
test_stats(void **state)
{
	(void)state;
	GOLD("* | stats by (client_ip) count() hits, count_uniq(request_uri) "
	    "paths",
	    "{\"client_ip\":\"1.2.3.4\",\"hits\":\"3\",\"paths\":\"3\"}\n"
	    "{\"client_ip\":\"1.2.3.9\",\"hits\":\"1\",\"paths\":\"1\"}\n"
	    "{\"client_ip\":\"5.6.7.8\",\"hits\":\"2\",\"paths\":\"1\"}\n"
	    "{\"client_ip\":\"2001:db8::1\",\"hits\":\"1\",\"paths\":\"1\"}\n"
	    "{\"client_ip\":\"7.7.7.7\",\"hits\":\"1\",\"paths\":\"1\"}\n");
	GOLD("* | stats count() n, sum(body_bytes_sent) b, avg(request_time) "
	    "a, min(status) mn, max(status) mx, quantile(0.5, status) med, "
	    "count() if (status:>=400) err, count(http_user_agent) ua, "
	    "count_uniq(status) us, min(request_uri) mu, "
	    "max(http_user_agent) mxu",
	    "{\"n\":\"8\",\"b\":\"5150\",\"a\":\"0.3011428571428571\","
	    "\"mn\":\"200\",\"mx\":\"500\",\"med\":\"401\",\"err\":\"4\","
	    "\"ua\":\"6\",\"us\":\"6\",\"mu\":\"/\","
	    "\"mxu\":\"python-requests/2.31\"}\n");
	/* default names */
	GOLD("status:>=500 | stats count(), count() if (status:500)",
	    "{\"count(*)\":\"1\",\"count(*) if (status:500)\":\"1\"}\n");
	GOLD("* | stats by (_time:1m) count() n",
	    "{\"_time\":\"2026-11-20T09:00:00Z\",\"n\":\"2\"}\n"
	    "{\"_time\":\"2026-11-20T09:01:00Z\",\"n\":\"2\"}\n"
	    "{\"_time\":\"2026-11-20T09:02:00Z\",\"n\":\"1\"}\n"
	    "{\"_time\":\"2026-11-20T09:03:00Z\",\"n\":\"1\"}\n"
	    "{\"_time\":\"2026-11-20T09:04:00Z\",\"n\":\"2\"}\n");
	GOLD("* | stats by (_time:2m offset 1m) count() n",
	    "{\"_time\":\"2026-11-20T08:59:00Z\",\"n\":\"2\"}\n"
	    "{\"_time\":\"2026-11-20T09:01:00Z\",\"n\":\"3\"}\n"
	    "{\"_time\":\"2026-11-20T09:03:00Z\",\"n\":\"3\"}\n");
	GOLD("* | stats by (client_ip:/24) count() n",
	    "{\"client_ip\":\"1.2.3.0\",\"n\":\"4\"}\n"
	    "{\"client_ip\":\"5.6.7.0\",\"n\":\"2\"}\n"
	    "{\"client_ip\":\"2001:db8::1\",\"n\":\"1\"}\n"
	    "{\"client_ip\":\"7.7.7.0\",\"n\":\"1\"}\n");
	GOLD("* | stats by (body_bytes_sent:1KiB) count() n",
	    "{\"body_bytes_sent\":\"0\",\"n\":\"6\"}\n"
	    "{\"n\":\"1\"}\n"
	    "{\"body_bytes_sent\":\"4096\",\"n\":\"1\"}\n");
	/* no rows: one row, as VictoriaLogs; NaN sum, no min */
	GOLD("nomatch | stats count() n, sum(status) s, min(status) m",
	    "{\"n\":\"0\",\"s\":\"NaN\"}\n");
	GOLD("nomatch | stats by (client_ip) count() n", "");
	GOLD("* | stats by (nosuch) count() n", "{\"n\":\"8\"}\n");
	GOLD("* | stats count_uniq(_msg) a, count_uniq(client_ip, "
	    "request_method) b, count_uniq(body_bytes_sent) c, "
	    "count_uniq(_time) d, count_uniq(nosuch) e",
	    "{\"a\":\"7\",\"b\":\"6\",\"c\":\"5\",\"d\":\"8\",\"e\":\"0\"}\n");
	GOLD("* | stats by (_msg) count() n | sort by (n desc) | limit 1",
	    "{\"_msg\":\"GET /health 200\",\"n\":\"2\"}\n");
	/* quantile: the value at phi * n of the sorted values */
	GOLD("* | stats quantile(0, status) a, quantile(1, status) b, "
	    "quantile(0.25, request_time) c, quantile(0.99, status) d",
	    "{\"a\":\"200\",\"b\":\"500\",\"c\":\"0.010\",\"d\":\"500\"}\n");
	GOLD("* | stats by (client_ip) quantile(0.5, request_time) m",
	    "{\"client_ip\":\"1.2.3.4\",\"m\":\"0.200\"}\n"
	    "{\"client_ip\":\"1.2.3.9\"}\n"
	    "{\"client_ip\":\"5.6.7.8\",\"m\":\"0.050\"}\n"
	    "{\"client_ip\":\"2001:db8::1\",\"m\":\"1.500\"}\n"
	    "{\"client_ip\":\"7.7.7.7\",\"m\":\"0.005\"}\n");
	GOLD("* | stats count() if (http_user_agent:i(mozilla*)) moz",
	    "{\"moz\":\"2\"}\n");
	GOLD("* | stats by (request_method, status) count() n | "
	    "sort by (n desc, status) | limit 2",
	    "{\"request_method\":\"GET\",\"status\":\"200\",\"n\":\"3\"}\n"
	    "{\"request_method\":\"GET\",\"status\":\"302\",\"n\":\"1\"}\n");
}

static void
test_pipes(void **state)
{
	(void)state;
	GOLD("* | stats by (client_ip) count() hits | filter hits:>1 | "
	    "sort by (hits desc)",
	    "{\"client_ip\":\"1.2.3.4\",\"hits\":\"3\"}\n"
	    "{\"client_ip\":\"5.6.7.8\",\"hits\":\"2\"}\n");
	GOLD("* | top 2 by (client_ip)",
	    "{\"client_ip\":\"1.2.3.4\",\"hits\":\"3\"}\n"
	    "{\"client_ip\":\"5.6.7.8\",\"hits\":\"2\"}\n");
	/* ties: by the values' bytes */
	GOLD("* | top 3 by (status)",
	    "{\"status\":\"200\",\"hits\":\"3\"}\n"
	    "{\"status\":\"302\",\"hits\":\"1\"}\n"
	    "{\"status\":\"401\",\"hits\":\"1\"}\n");
	GOLD("* | top 1 by (request_method) hits as n",
	    "{\"request_method\":\"GET\",\"n\":\"7\"}\n");
	GOLD("* | uniq by (request_method)",
	    "{\"request_method\":\"GET\"}\n{\"request_method\":\"POST\"}\n");
	GOLD("* | uniq by (request_method) with hits",
	    "{\"request_method\":\"GET\",\"hits\":\"7\"}\n"
	    "{\"request_method\":\"POST\",\"hits\":\"1\"}\n");
	GOLD("* | uniq by (request_method) limit 1",
	    "{\"request_method\":\"GET\"}\n");
	GOLD("* | sort by (_time desc) | limit 2 | fields request_uri, status",
	    "{\"request_uri\":\"/search?q=Hello%20World\",\"status\":\"500\"}\n"
	    "{\"request_uri\":\"/\",\"status\":\"302\"}\n");
	GOLD("* | sort by (_time) desc offset 1 limit 1 | fields status",
	    "{\"status\":\"302\"}\n");
	/* empty sorts first; the sort is stable */
	GOLD("* | sort by (body_bytes_sent) | limit 3 | fields "
	    "body_bytes_sent, request_uri",
	    "{\"request_uri\":\"/wp-login.php\"}\n"
	    "{\"body_bytes_sent\":\"0\",\"request_uri\":\"/.git/config\"}\n"
	    "{\"body_bytes_sent\":\"0\",\"request_uri\":\"/\"}\n");
	/* natural order: numbers inside text compare as numbers */
	GOLD("* | stats by (client_ip) count() n | sort by (client_ip) | "
	    "fields client_ip",
	    "{\"client_ip\":\"1.2.3.4\"}\n{\"client_ip\":\"1.2.3.9\"}\n"
	    "{\"client_ip\":\"5.6.7.8\"}\n{\"client_ip\":\"7.7.7.7\"}\n"
	    "{\"client_ip\":\"2001:db8::1\"}\n");
	/* sort | offset | limit run as one bounded sort */
	GOLD("* | sort by (request_time) | offset 1 | limit 2 | fields "
	    "request_time", "{\"request_time\":\"0.005\"}\n"
	    "{\"request_time\":\"0.010\"}\n");
	GOLD("* | sort by (status desc) limit 3 | offset 1 | fields status",
	    "{\"status\":\"404\"}\n{\"status\":\"403\"}\n");
	GOLD("* | sort by (status) limit 2 | offset 5", "");
	GOLD("* | sort by (status) | limit 0", "");
	GOLD("* | sort by (status) | limit 1 | fields status",
	    "{\"status\":\"200\"}\n");
	GOLD("status:>=400 | stats count() n | filter n:>3", "{\"n\":\"4\"}\n");
	GOLD("status:>=400 | stats count() n | filter n:>4", "");
	/* stats after other pipes: the generic path */
	GOLD("* | sort by (_time) | limit 4 | stats by (client_ip) count() n",
	    "{\"client_ip\":\"1.2.3.4\",\"n\":\"2\"}\n"
	    "{\"client_ip\":\"1.2.3.9\",\"n\":\"1\"}\n"
	    "{\"client_ip\":\"5.6.7.8\",\"n\":\"1\"}\n");
	GOLD("* | stats by (request_method) count() n | stats count() groups",
	    "{\"groups\":\"2\"}\n");
	GOLD("* | fields client_ip | stats by (client_ip, status) count() n | "
	    "limit 1", "{\"client_ip\":\"1.2.3.4\",\"n\":\"3\"}\n");
	GOLD("* | filter status:404 | fields status", "{\"status\":\"404\"}\n");
	GOLD("* | limit 3 | offset 1 | fields status",
	    "{\"status\":\"401\"}\n{\"status\":\"404\"}\n");
}

/* The fast store path and the generic string path agree. */
static void
test_paths_agree(void **state)
{
	static const char *const stats[] = {
		"stats by (client_ip) count() n, count_uniq(request_uri) u, "
		    "sum(body_bytes_sent) b, min(request_time) mn, "
		    "max(request_time) mx, quantile(0.5, request_time) q, "
		    "avg(status) a, count(http_user_agent) c",
		"stats by (_time:1m, request_method) count() n, "
		    "count() if (status:>=400) e",
		"stats by (client_ip:/16) count_uniq(client_ip, status) u",
		"stats by (status) min(_time) first, max(_time) last",
		"stats by (_msg) count() n",
		"top 3 by (request_uri)",
		"uniq by (status) with hits",
	};
	char q1[512], q2[512];
	int rc;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(stats); i++) {
		snprintf(q1, sizeof(q1), "* | %s", stats[i]);
		snprintf(q2, sizeof(q2), "* | limit 1000 | %s", stats[i]);
		char *a = run(q1, 0, &rc);
		assert_int_equal(rc, 0);
		char *b = run(q2, 0, &rc);
		assert_int_equal(rc, 0);
		if (strcmp(a, b) != 0)
			print_error("[%s]\n", stats[i]);
		assert_string_equal(a, b);
		assert_true(strlen(a) > 10);
		free(a);
		free(b);
	}
}

static void
test_caps(void **state)
{
	char err[256];
	int rc;
	char *o;

	(void)state;
	o = run_on(&st, NOW, "*", 3, &rc, err, sizeof(err));
	assert_int_equal(rc, 1);
	assert_int_equal(nlines(o), 3);
	assert_non_null(strstr(err, "cut at 3 rows"));
	free(o);
	o = run_on(&st, NOW, "* | stats by (client_ip) count() n", 2, &rc, err,
	    sizeof(err));
	assert_int_equal(rc, 1);
	assert_int_equal(nlines(o), 2);
	assert_non_null(strstr(o, "1.2.3.9"));
	free(o);
	o = run_on(&st, NOW, "* | stats by (client_ip) count() n", 5, &rc, err,
	    sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(nlines(o), 5);
	free(o);
	/* a cap that the query's own limit keeps under is no cut */
	o = run_on(&st, NOW, "* | limit 3", 3, &rc, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(nlines(o), 3);
	free(o);
	/* buckets the store cannot make are refused, not guessed */
	o = run_on(&st, NOW, "* | stats by (request_uri:1m) count()", 0, &rc,
	    err, sizeof(err));
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "cannot bucket"));
	free(o);
}

static void
test_empty_store(void **state)
{
	struct store e;
	char err[256];
	int rc;

	(void)state;
	store_init(&e, NULL);
	char *o = run_on(&e, NOW, "* | stats count() n, avg(status) a", 0, &rc,
	    err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_string_equal(o, "{\"n\":\"0\",\"a\":\"NaN\"}\n");
	free(o);
	o = run_on(&e, NOW, "_time:5m status:200 | sort by (x) | limit 1", 0,
	    &rc, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_string_equal(o, "");
	free(o);
	store_release(&e);
}

/* ---- the shared scenarios, checked against plain loops over the store */

static int
load_scenario(const char *dir, const char *name, struct store *s)
{
	char path[4400], trusted[64] = "";
	struct load_opts o;
	struct load_stats ls;
	FILE *f;

	snprintf(path, sizeof(path), "%s/scenarios/%s/labels.json", dir, name);
	f = fopen(path, "r");
	if (f != NULL) {
		char buf[1 << 16];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
		char *p = strstr(buf, "\"trusted_proxies\"");
		if (p != NULL && (p = strchr(p, '[')) != NULL &&
		    (p = strchr(p, '"')) != NULL) {
			char *e = strchr(p + 1, '"');
			if (e != NULL && (size_t)(e - p - 1) < sizeof(trusted)) {
				memcpy(trusted, p + 1, (size_t)(e - p - 1));
				trusted[e - p - 1] = '\0';
			}
		}
	}
	load_opts_init(&o);
	if (trusted[0] != '\0') {
		struct cidr c;
		char err[128];
		assert_int_equal(cidr_parse(span_str(trusted), &c, err,
		    sizeof(err)), 0);
		cidrset_add(&o.trusted, &c);
	}
	snprintf(path, sizeof(path), "%s/scenarios/%s/access.log", dir, name);
	char *paths[1] = { path };
	memset(&ls, 0, sizeof(ls));
	store_init(s, NULL);
	int rc = load_files(s, &o, paths, 1, &ls);
	store_finish(s);
	load_opts_release(&o);
	load_stats_release(&ls);
	return rc;
}

/* Row by row over the result: f(value of key, value of val). */
struct kv {
	char *k, *v;
};

static size_t
result_kv(const char *q, const struct store *s, int64_t now, const char *key,
    const char *val, struct kv **out)
{
	char err[256];
	struct logsql_query *p = logsql_parse(q, strlen(q), err, sizeof(err));
	struct qresult r;

	assert_non_null(p);
	qresult_init(&r);
	assert_int_equal(logsql_exec(p, s, now, 0, &r, err, sizeof(err)), 0);
	*out = xcalloc(r.nrows + 1, sizeof(**out));
	for (size_t i = 0; i < r.nrows; i++) {
		struct span k = qresult_get(&r, i, key);
		struct span v = qresult_get(&r, i, val);
		(*out)[i].k = xstrndup(k.p ? k.p : "", k.n);
		(*out)[i].v = xstrndup(v.p ? v.p : "", v.n);
	}
	size_t n = r.nrows;
	qresult_release(&r);
	logsql_free(p);
	return n;
}

static void
kv_free(struct kv *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].k);
		free(v[i].v);
	}
	free(v);
}

static int
u64cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct top {
	uint64_t hits;
	uint32_t id;
	struct span ip;
};

static int
topcmp(const void *a, const void *b)
{
	const struct top *x = a, *y = b;

	if (x->hits != y->hits)
		return x->hits > y->hits ? -1 : 1;
	size_t m = x->ip.n < y->ip.n ? x->ip.n : y->ip.n;
	int c = memcmp(x->ip.p, y->ip.p, m);
	if (c != 0)
		return c;
	return x->ip.n < y->ip.n ? -1 : x->ip.n > y->ip.n;
}

struct msgcap {
	char *copy;
	struct span v;
};

static int
grab_msg(void *ctx, struct span key, enum json_type t, struct span v)
{
	struct msgcap *mc = ctx;

	if (t == JT_STRING && span_eq_str(key, "_msg") && mc->copy == NULL)
		mc->copy = xstrndup(v.p, v.n);
	return 0;
}

static void
check_scenario(const char *dir, const char *name)
{
	struct store s;
	struct kv *kv;
	size_t n, nid;
	uint64_t *hits, *paths, *fourxx, *pairs, npairs = 0, nrows = 0;
	int64_t now;

	assert_int_equal(load_scenario(dir, name, &s), 0);
	assert_true(s.rows > 0);
	now = s.tmax + 1;
	nid = intern_count(&s.pool_ip);
	hits = xcalloc(nid, sizeof(*hits));
	paths = xcalloc(nid, sizeof(*paths));
	fourxx = xcalloc(nid, sizeof(*fourxx));
	pairs = xcalloc(s.rows, sizeof(*pairs));
	for (size_t bi = 0; bi < s.nblocks; bi++) {
		const struct store_block *b = s.blocks[bi];
		for (size_t i = 0; i < b->n; i++) {
			uint32_t c = b->client_ip[i];
			hits[c]++;
			if (b->status[i] >= 400 && b->status[i] < 500)
				fourxx[c]++;
			if (b->uri[i] != 0)
				pairs[npairs++] = ((uint64_t)c << 32) | b->uri[i];
			nrows++;
		}
	}
	assert_int_equal(nrows, s.rows);
	qsort(pairs, npairs, sizeof(*pairs), u64cmp);
	for (size_t i = 0; i < npairs; i++)
		if (i == 0 || pairs[i] != pairs[i - 1])
			paths[pairs[i] >> 32]++;

	/* hits and distinct paths per client */
	size_t nclients = 0;
	for (size_t id = 0; id < nid; id++)
		nclients += hits[id] > 0;
	n = result_kv("_time:1d | stats by (client_ip) count() hits, "
	    "count_uniq(request_uri) paths", &s, now, "client_ip", "hits",
	    &kv);
	assert_int_equal(n, nclients);
	for (size_t i = 0; i < n; i++) {
		uint32_t id = intern_find(&s.pool_ip, kv[i].k, strlen(kv[i].k));
		assert_int_not_equal(id, UINT32_MAX);
		assert_int_equal(strtoull(kv[i].v, NULL, 10), hits[id]);
	}
	kv_free(kv, n);
	n = result_kv("* | stats by (client_ip) count_uniq(request_uri) "
	    "paths", &s, now, "client_ip", "paths", &kv);
	for (size_t i = 0; i < n; i++) {
		uint32_t id = intern_find(&s.pool_ip, kv[i].k, strlen(kv[i].k));
		assert_int_equal(strtoull(kv[i].v, NULL, 10), paths[id]);
	}
	kv_free(kv, n);

	/* 4xx per client */
	size_t nfour = 0;
	for (size_t id = 0; id < nid; id++)
		nfour += fourxx[id] > 0;
	n = result_kv("status:>=400 status:<500 | stats by (client_ip) "
	    "count() n", &s, now, "client_ip", "n", &kv);
	assert_int_equal(n, nfour);
	for (size_t i = 0; i < n; i++) {
		uint32_t id = intern_find(&s.pool_ip, kv[i].k, strlen(kv[i].k));
		assert_int_equal(strtoull(kv[i].v, NULL, 10), fourxx[id]);
	}
	kv_free(kv, n);

	/* per-minute buckets */
	int64_t m0 = s.tmin / (60 * SEC);
	size_t nmin = (size_t)(s.tmax / (60 * SEC) - m0 + 1);
	uint64_t *perm = xcalloc(nmin, sizeof(*perm));
	for (size_t bi = 0; bi < s.nblocks; bi++)
		for (size_t i = 0; i < s.blocks[bi]->n; i++)
			perm[s.blocks[bi]->time_ns[i] / (60 * SEC) - m0]++;
	size_t nonzero = 0;
	for (size_t i = 0; i < nmin; i++)
		nonzero += perm[i] > 0;
	n = result_kv("* | stats by (_time:1m) count() n", &s, now, "_time",
	    "n", &kv);
	assert_int_equal(n, nonzero);
	for (size_t i = 0; i < n; i++) {
		int64_t t;
		assert_int_equal(time_parse_rfc3339(span_str(kv[i].k), &t), 0);
		assert_int_equal(t % (60 * SEC), 0);
		assert_int_equal(strtoull(kv[i].v, NULL, 10),
		    perm[t / (60 * SEC) - m0]);
	}
	kv_free(kv, n);
	free(perm);

	/* the last 5 minutes */
	uint64_t last5 = 0;
	for (size_t bi = 0; bi < s.nblocks; bi++)
		for (size_t i = 0; i < s.blocks[bi]->n; i++)
			last5 += s.blocks[bi]->time_ns[i] >= now - 300 * SEC &&
			    s.blocks[bi]->time_ns[i] < now;
	n = result_kv("_time:5m | stats count() n", &s, now, "n", "n", &kv);
	assert_int_equal(n, 1);
	assert_int_equal(strtoull(kv[0].v, NULL, 10), last5);
	kv_free(kv, n);

	/* top 5 clients: most hits, ties by address bytes */
	struct top *tv = xcalloc(nclients ? nclients : 1, sizeof(*tv));
	size_t nt = 0;
	for (size_t id = 0; id < nid; id++)
		if (hits[id] > 0) {
			tv[nt].hits = hits[id];
			tv[nt].id = (uint32_t)id;
			tv[nt].ip = intern_get(&s.pool_ip, (uint32_t)id);
			nt++;
		}
	qsort(tv, nt, sizeof(*tv), topcmp);
	n = result_kv("* | top 5 by (client_ip)", &s, now, "client_ip", "hits",
	    &kv);
	assert_int_equal(n, nt < 5 ? nt : 5);
	for (size_t i = 0; i < n; i++) {
		assert_true(span_eq(span_str(kv[i].k), tv[i].ip));
		assert_int_equal(strtoull(kv[i].v, NULL, 10), tv[i].hits);
	}
	kv_free(kv, n);
	free(tv);

	/* sort with a small limit keeps a heap, not every row: same rows,
	 * same order (ties by position) as the full stable sort */
	static const char *const sorts[][2] = {
		{ "sort by (request_time desc) limit 7",
		    "sort by (request_time desc) | limit 7" },
		{ "sort by (status) offset 3 limit 7",
		    "sort by (status) | offset 3 | limit 7" },
		{ "sort by (http_user_agent, _time desc) limit 5",
		    "sort by (http_user_agent, _time desc) | limit 5" },
		{ "sort by (body_bytes_sent desc, client_ip) limit 9",
		    "sort by (body_bytes_sent desc, client_ip) | limit 9" },
		{ "sort by (request_uri) desc limit 4",
		    "sort by (request_uri) desc | limit 4" },
	};
	for (size_t i = 0; i < ARRAY_LEN(sorts); i++) {
		char q1[256], q2[256], err[256];
		int rc;
		snprintf(q1, sizeof(q1), "* | %s | fields _time, client_ip, "
		    "request_uri, status", sorts[i][0]);
		snprintf(q2, sizeof(q2), "* | %s | fields _time, client_ip, "
		    "request_uri, status", sorts[i][1]);
		char *a = run_on(&s, now, q1, 0, &rc, err, sizeof(err));
		assert_int_equal(rc, 0);
		char *b = run_on(&s, now, q2, 0, &rc, err, sizeof(err));
		assert_int_equal(rc, 0);
		if (strcmp(a, b) != 0)
			print_error("%s: [%s] vs [%s]\n", name, q1, q2);
		assert_string_equal(a, b);
		assert_true(nlines(a) >= 4);
		free(a);
		free(b);
	}

	/* _msg as the VictoriaLogs copy of the same traffic has it */
	char path[4400];
	snprintf(path, sizeof(path), "%s/scenarios/%s/vlogs.jsonl", dir, name);
	FILE *f = fopen(path, "r");
	if (f != NULL) {
		n = result_kv("*", &s, now, "_msg", "request_uri", &kv);
		char *line = NULL;
		size_t cap = 0, i = 0, same = 0;
		ssize_t len;
		struct buf scratch = BUF_INIT;
		while ((len = getline(&line, &cap, f)) > 0 && i < n) {
			struct msgcap mc = { NULL, SPAN_NULL };
			if (len > 0 && line[len - 1] == '\n')
				len--;
			assert_int_equal(jsonl_scan(line, (size_t)len, &scratch,
			    grab_msg, &mc), 0);
			if (mc.copy != NULL && strcmp(mc.copy, kv[i].k) == 0)
				same++;
			else
				print_error("%s row %zu: [%s] != [%s]\n", name, i,
				    mc.copy ? mc.copy : "(none)", kv[i].k);
			free(mc.copy);
			i++;
		}
		buf_release(&scratch);
		free(line);
		fclose(f);
		/* every row */
		assert_int_equal(same, n);
		kv_free(kv, n);
	}

	free(hits);
	free(paths);
	free(fourxx);
	free(pairs);
	store_release(&s);
}

static void
test_scenarios(void **state)
{
	static const char *const names[] = {
		"quiet", "flood", "scanners", "bruteforce", "seed_e2e",
		"botnet", "ipv6", "behind_proxy", "injection", "mixed",
	};
	const char *dir = test_shared_dir();

	(void)state;
	if (dir == NULL)
		skip();
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		check_scenario(dir, names[i]);
}

/* behind_proxy: the client is the right-most untrusted XFF entry */
static void
test_behind_proxy(void **state)
{
	const char *dir = test_shared_dir();
	struct store s;
	char err[256];
	int rc;

	(void)state;
	if (dir == NULL)
		skip();
	assert_int_equal(load_scenario(dir, "behind_proxy", &s), 0);
	char *o = run_on(&s, s.tmax + 1, "client_ip:=175.24.168.128 | "
	    "stats count() n", 0, &rc, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_string_not_equal(o, "{\"n\":\"0\"}\n");
	free(o);
	o = run_on(&s, s.tmax + 1, "client_ip:=114.69.48.199 | "
	    "stats count() n", 0, &rc, err, sizeof(err));
	assert_string_equal(o, "{\"n\":\"0\"}\n");
	free(o);
	o = run_on(&s, s.tmax + 1, "http_x_forwarded_for:114.69.48.199 "
	    "| stats count() n", 0, &rc, err, sizeof(err));
	assert_string_not_equal(o, "{\"n\":\"0\"}\n");
	free(o);
	store_release(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_shape),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_presence),
		cmocka_unit_test(test_numbers_and_sets),
		cmocka_unit_test(test_time_and_logic),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_pipes),
		cmocka_unit_test(test_paths_agree),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_empty_store),
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_behind_proxy),
	};

	log_init("test_logsql_exec", 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
