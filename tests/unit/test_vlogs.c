/*
 * vlogs_query against tests/fakes/fake_vlogs.py on 127.0.0.1: what is
 * sent (arguments, tenant, auth), how rows arrive, and every way a query
 * fails (400 text, 502/503 retries, aborted or malformed streams, caps,
 * refused connections), with secrets kept out of every message.  Also the
 * stream parser and the HTTP helpers on their own.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>

#include "testutil.h"

#define SEC INT64_C(1000000000)
#define MS INT64_C(1000000)

/* ---- the fake server */

static struct fakeproc plain;   /* no auth, no data: scripted answers */

/* Starts the fake with extra arguments (NULL-terminated); -1 if it
 * cannot be found or does not come up. */
static int
fake_start(struct fakeproc *f, const char *const *extra)
{
	return fakeproc_start(f, fakeproc_path("fake_vlogs.py",
	    "AD_FAKE_VLOGS"), extra, "");
}

/* A control request; asserts a 200 and returns the body in rs. */
static void
fake_call(struct fakeproc *f, const char *method, const char *path,
    const char *body, struct http_response *rs)
{
	struct http_request rq;
	char url[256], err[512];
	int r;

	memset(&rq, 0, sizeof(rq));
	snprintf(url, sizeof(url), "%s%s", f->base, path);
	rq.method = method;
	rq.url = url;
	rq.body = body;
	rq.body_len = body != NULL ? strlen(body) : 0;
	rq.timeout_ns = 10 * SEC;
	r = http_do(&rq, rs, err, sizeof(err));
	if (r != 0 || rs->status != 200)
		fail_msg("%s %s: %s (status %d)", method, path, err, rs->status);
}

static void
fake_script(struct fakeproc *f, const char *json)
{
	struct http_response rs;

	http_response_init(&rs);
	fake_call(f, "POST", "/fake/script", json, &rs);
	http_response_release(&rs);
}

static void
fake_reset(struct fakeproc *f)
{
	struct http_response rs;

	http_response_init(&rs);
	fake_call(f, "POST", "/fake/reset", "", &rs);
	http_response_release(&rs);
}

/* The recorded requests, one row each, keys flattened ("args.limit",
 * "headers.accountid"). */
static void
fake_requests(struct fakeproc *f, struct qresult *q)
{
	struct http_response rs;
	struct buf scratch = BUF_INIT;
	char err[128];
	const char *p, *end;

	http_response_init(&rs);
	qresult_reset(q);
	fake_call(f, "GET", "/fake/requests", NULL, &rs);
	p = rs.body.p;
	end = p + rs.body.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		assert_non_null(nl);
		assert_int_equal(qresult_add_jsonl(q, p, (size_t)(nl - p),
		    &scratch, err, sizeof(err)), 0);
		p = nl + 1;
	}
	buf_release(&scratch);
	http_response_release(&rs);
}

static size_t
fake_nrequests(struct fakeproc *f)
{
	struct qresult q;
	size_t n;

	qresult_init(&q);
	fake_requests(f, &q);
	n = q.nrows;
	qresult_release(&q);
	return n;
}

/* Options for fast tests: tiny backoff, short timeouts. */
static void
fast_opts(struct vlogs_opts *o, const struct fakeproc *f)
{
	vlogs_opts_init(o);
	o->url = f->base;
	o->retry_base_ns = 1 * MS;
	o->retry_max_ns = 5 * MS;
	o->connect_timeout_ns = 2 * SEC;
	o->query_timeout_ns = 5 * SEC;
}

/* A result holding a row already, to see it reset. */
static void
dirty(struct qresult *q)
{
	qresult_init(q);
	qresult_add(q, SPAN_LIT("stale"), SPAN_LIT("row"));
	assert_int_equal(q->nrows, 1);
}

static int
group_setup(void **state)
{
	signal(SIGPIPE, SIG_IGN);
	/* A proxy from the environment must not get between us and the
	 * fake on 127.0.0.1. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	if (fake_start(&plain, NULL) != 0)
		plain.pid = -1;
	return 0;
}

static int
group_teardown(void **state)
{
	fakeproc_stop(&plain);
	return 0;
}

#define NEED_FAKE() do {                                                 \
	if (plain.pid <= 0) {                                            \
		print_message("fake_vlogs.py or python3 not found\n");   \
		skip();                                                  \
	}                                                                \
	fake_reset(&plain);                                              \
} while (0)

/* ---- rows */

static void
test_rows_in_order(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;

	NEED_FAKE();
	fake_script(&plain, "[{\"status\":200,\"chunk_lines\":1,\"lines\":["
	    "\"{\\\"_msg\\\":\\\"first\\\",\\\"_time\\\":\\\"2026-11-20T09:00:24.1Z\\\",\\\"_stream\\\":\\\"{app=\\\\\\\"nginx\\\\\\\"}\\\",\\\"status\\\":\\\"404\\\"}\","
	    "\"{\\\"_msg\\\":\\\"second\\\",\\\"_time\\\":\\\"2026-11-20T09:00:24.000000000Z\\\",\\\"hits\\\":\\\"2\\\"}\","
	    "\"{\\\"remote_addr\\\":\\\"10.0.0.1\\\",\\\"hits\\\":\\\"2\\\",\\\"paths\\\":\\\"1\\\"}\""
	    "]}]");
	fast_opts(&o, &plain);
	dirty(&q);
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q,
	    &e), 0);
	assert_int_equal(e.kind, VLOGS_OK);
	assert_int_equal(e.attempts, 1);
	assert_int_equal(e.status, 200);
	assert_int_equal(q.nrows, 3);
	assert_int_equal(qresult_row_len(&q, 0), 4);
	assert_span_equal(qresult_name(&q, 0, 0), "_msg");
	assert_span_equal(qresult_value(&q, 0, 0), "first");
	assert_span_equal(qresult_get(&q, 0, "_time"), "2026-11-20T09:00:24.1Z");
	assert_span_equal(qresult_get(&q, 0, "_stream"), "{app=\"nginx\"}");
	assert_span_equal(qresult_get(&q, 0, "status"), "404");
	assert_span_equal(qresult_value(&q, 1, 0), "second");
	assert_span_equal(qresult_get(&q, 1, "_time"),
	    "2026-11-20T09:00:24.000000000Z");
	assert_span_equal(qresult_get(&q, 2, "remote_addr"), "10.0.0.1");
	assert_span_equal(qresult_get(&q, 2, "paths"), "1");
	assert_null(qresult_get(&q, 2, "stale").p);
	qresult_release(&q);
}

static void
test_empty_result(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;

	NEED_FAKE();
	fake_script(&plain, "[{\"status\":200,\"lines\":[]}]");
	fast_opts(&o, &plain);
	dirty(&q);
	assert_int_equal(vlogs_query(&o, "nothing:matches", TIME_NONE,
	    TIME_NONE, 10, &q, &e), 0);
	assert_int_equal(q.nrows, 0);
	qresult_release(&q);
}

/* ---- what is sent */

static void
test_request_args(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q, req;
	const char *logsql = "status:404 path:\"/a b\" & x=1+2% | stats by "
	    "(remote_addr) count() hits";
	int64_t start, end;
	char url[128];

	NEED_FAKE();
	fake_script(&plain, "[{\"status\":200,\"lines\":[]},"
	    "{\"status\":200,\"lines\":[]}]");
	fast_opts(&o, &plain);
	o.account_id = "12";
	o.project_id = "34";
	o.query_timeout_ns = 4200 * MS;
	/* A trailing slash, and the full query path, are both fine. */
	snprintf(url, sizeof(url), "%s//", plain.base);
	o.url = url;
	assert_int_equal(time_parse_rfc3339(SPAN_LIT("2026-11-20T09:00:00Z"),
	    &start), 0);
	assert_int_equal(time_parse_rfc3339(
	    SPAN_LIT("2026-11-20T09:15:00.5Z"), &end), 0);
	qresult_init(&q);
	qresult_init(&req);
	assert_int_equal(vlogs_query(&o, logsql, start, end, 7, &q, &e), 0);

	snprintf(url, sizeof(url), "%s/select/logsql/query", plain.base);
	o.url = url;
	o.account_id = NULL;
	o.project_id = NULL;
	o.query_timeout_ns = 0;
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q,
	    &e), 0);

	fake_requests(&plain, &req);
	assert_int_equal(req.nrows, 2);
	assert_span_equal(qresult_get(&req, 0, "method"), "POST");
	assert_span_equal(qresult_get(&req, 0, "path"), "/select/logsql/query");
	assert_span_equal(qresult_get(&req, 0, "args.query"), logsql);
	assert_span_equal(qresult_get(&req, 0, "args.limit"), "7");
	assert_span_equal(qresult_get(&req, 0, "args.start"),
	    "2026-11-20T09:00:00Z");
	assert_span_equal(qresult_get(&req, 0, "args.end"),
	    "2026-11-20T09:15:00.5Z");
	assert_span_equal(qresult_get(&req, 0, "args.timeout"), "4.2s");
	assert_span_equal(qresult_get(&req, 0, "headers.accountid"), "12");
	assert_span_equal(qresult_get(&req, 0, "headers.projectid"), "34");
	assert_span_equal(qresult_get(&req, 0, "headers.content-type"),
	    "application/x-www-form-urlencoded");
	assert_null(qresult_get(&req, 0, "headers.authorization").p);
	assert_null(qresult_get(&req, 0, "headers.expect").p);

	assert_span_equal(qresult_get(&req, 1, "path"), "/select/logsql/query");
	assert_span_equal(qresult_get(&req, 1, "args.query"), "*");
	assert_null(qresult_get(&req, 1, "args.limit").p);
	assert_null(qresult_get(&req, 1, "args.start").p);
	assert_null(qresult_get(&req, 1, "args.end").p);
	assert_null(qresult_get(&req, 1, "args.timeout").p);
	assert_null(qresult_get(&req, 1, "headers.accountid").p);
	assert_null(qresult_get(&req, 1, "headers.projectid").p);
	qresult_release(&q);
	qresult_release(&req);
}

static void
test_usage_errors(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;
	const char *bad_map[] = { "client_ip" };
	const char *dup_map[] = { "a=b", "a=c" };
	static const char *const bad_urls[] = {
		"", "ftp://127.0.0.1:1", "127.0.0.1:9428",
		"http://127.0.0.1:1/?x=1", "http://127.0.0.1:1/#f",
		"http://127.0.0.1:1/a b", "http://", "http:///path",
	};

	NEED_FAKE();
	qresult_init(&q);
	for (size_t i = 0; i < ARRAY_LEN(bad_urls); i++) {
		fast_opts(&o, &plain);
		o.url = bad_urls[i];
		assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0,
		    &q, &e), -1);
		assert_int_equal(e.kind, VLOGS_E_USAGE);
		assert_int_equal(e.attempts, 0);
	}
	fast_opts(&o, &plain);
	o.url = NULL;
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q,
	    &e), -1);
	assert_int_equal(e.kind, VLOGS_E_USAGE);

	fast_opts(&o, &plain);
	assert_int_equal(vlogs_query(&o, "", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	assert_int_equal(e.kind, VLOGS_E_USAGE);

	o.account_id = "1\r\nX-Evil: 1";
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q,
	    &e), -1);
	assert_int_equal(e.kind, VLOGS_E_USAGE);
	o.account_id = "4294967296";
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q,
	    &e), -1);
	assert_int_equal(e.kind, VLOGS_E_USAGE);
	o.account_id = NULL;

	o.bearer_token = "tok\r\nX-Evil: 1";
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q,
	    &e), -1);
	assert_int_equal(e.kind, VLOGS_E_USAGE);
	assert_null(strstr(e.msg, "tok"));
	o.bearer_token = NULL;

	o.field_map = bad_map;
	o.nfield_map = 1;
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q,
	    &e), -1);
	assert_int_equal(e.kind, VLOGS_E_USAGE);
	o.field_map = dup_map;
	o.nfield_map = 2;
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q,
	    &e), -1);
	assert_int_equal(e.kind, VLOGS_E_USAGE);
	assert_non_null(strstr(e.msg, "twice"));

	/* None of these reached the server. */
	assert_int_equal(fake_nrequests(&plain), 0);
	qresult_release(&q);
}

/* ---- 400 */

static void
test_query_error_text(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;

	NEED_FAKE();
	fake_script(&plain, "[{\"status\":400,\"text\":\"cannot parse query "
	    "[status:>=]: cannot parse filter for field \\\"status\\\": "
	    "missing value; context: [status:>=]\"}]");
	fast_opts(&o, &plain);
	dirty(&q);
	assert_int_equal(vlogs_query(&o, "status:>=", TIME_NONE, TIME_NONE, 0,
	    &q, &e), -1);
	assert_int_equal(e.kind, VLOGS_E_QUERY);
	assert_int_equal(e.status, 400);
	assert_int_equal(e.attempts, 1);
	/* Exactly the server's text: the trailing newline trimmed. */
	assert_string_equal(e.msg, "cannot parse query [status:>=]: cannot "
	    "parse filter for field \"status\": missing value; context: "
	    "[status:>=]");
	assert_int_equal(q.nrows, 0);
	assert_int_equal(fake_nrequests(&plain), 1);
	qresult_release(&q);
}

static void
test_query_error_escaped_capped(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;
	struct buf js = BUF_INIT;

	NEED_FAKE();
	/* Control bytes (a terminal escape) and 5000 bytes of text. */
	buf_addstr(&js, "[{\"status\":400,\"text\":\"bad \\u001b[31mred\\u0007 ");
	for (int i = 0; i < 500; i++)
		buf_addstr(&js, "0123456789");
	buf_addstr(&js, "\"}]");
	fake_script(&plain, js.p);
	fast_opts(&o, &plain);
	qresult_init(&q);
	assert_int_equal(vlogs_query(&o, "x", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	assert_int_equal(e.kind, VLOGS_E_QUERY);
	assert_true(strlen(e.msg) <= VLOGS_ERRTEXT_MAX);
	assert_true(strlen(e.msg) > 1000);
	assert_non_null(strstr(e.msg, "bad \\x1b[31mred\\x07 0123"));
	assert_string_equal(e.msg + strlen(e.msg) - 3, "...");
	for (const char *p = e.msg; *p; p++)
		assert_true((unsigned char)*p >= 0x20);
	buf_release(&js);
	qresult_release(&q);
}

/* ---- retries */

static void
test_retry_503_then_ok(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;

	NEED_FAKE();
	fake_script(&plain, "[{\"status\":503},{\"status\":502},"
	    "{\"status\":200,\"lines\":[\"{\\\"a\\\":\\\"1\\\"}\"]}]");
	fast_opts(&o, &plain);
	qresult_init(&q);
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    0);
	assert_int_equal(e.attempts, 3);
	assert_int_equal(fake_nrequests(&plain), 3);
	assert_int_equal(q.nrows, 1);
	assert_span_equal(qresult_get(&q, 0, "a"), "1");
	qresult_release(&q);
}

static void
check_unavailable(int status)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;
	char script[256];
	int64_t t0;

	fake_reset(&plain);
	snprintf(script, sizeof(script), "[{\"status\":%d},{\"status\":%d},"
	    "{\"status\":%d},{\"status\":%d},{\"status\":%d},{\"status\":%d}]",
	    status, status, status, status, status, status);
	fake_script(&plain, script);
	fast_opts(&o, &plain);
	o.retries = 3;
	dirty(&q);
	t0 = clock_mono_ns();
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	assert_true(clock_mono_ns() - t0 < 3 * SEC);
	assert_int_equal(e.kind, VLOGS_E_UNAVAILABLE);
	assert_int_equal(e.status, status);
	assert_int_equal(e.attempts, 4);
	assert_int_equal(fake_nrequests(&plain), 4);
	assert_int_equal(q.nrows, 0);
	/* The server's reason is in the message. */
	assert_non_null(strstr(e.msg, status == 503 ?
	    "couldn't start executing" : "cannot fetch query results"));
	qresult_release(&q);
}

static void
test_503_forever(void **state)
{
	NEED_FAKE();
	check_unavailable(503);
}

static void
test_502_forever(void **state)
{
	NEED_FAKE();
	check_unavailable(502);
}

static void
test_no_retries(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;

	NEED_FAKE();
	fake_script(&plain, "[{\"status\":503},{\"status\":200}]");
	fast_opts(&o, &plain);
	o.retries = 0;
	qresult_init(&q);
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	assert_int_equal(e.kind, VLOGS_E_UNAVAILABLE);
	assert_int_equal(e.attempts, 1);
	qresult_release(&q);
}

static void
test_retry_after(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;
	int64_t t0, dt;

	NEED_FAKE();
	fake_script(&plain, "[{\"status\":503,\"headers\":{\"Retry-After\":"
	    "\"1\"}},{\"status\":200,\"lines\":[]}]");
	fast_opts(&o, &plain);
	o.retry_max_ns = 300 * MS; /* caps the server's 1 s */
	qresult_init(&q);
	t0 = clock_mono_ns();
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    0);
	dt = clock_mono_ns() - t0;
	assert_int_equal(e.attempts, 2);
	assert_true(dt >= 290 * MS);
	assert_true(dt < 900 * MS);
	qresult_release(&q);
}

static void
test_connection_dropped_then_ok(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;

	NEED_FAKE();
	fake_script(&plain, "[{\"close\":true},{\"close\":true,\"rst\":true},"
	    "{\"status\":200,\"lines\":[\"{\\\"a\\\":\\\"b\\\"}\"]}]");
	fast_opts(&o, &plain);
	qresult_init(&q);
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    0);
	assert_int_equal(e.attempts, 3);
	assert_int_equal(q.nrows, 1);
	qresult_release(&q);
}

static void
test_other_status(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;

	NEED_FAKE();
	fake_script(&plain, "[{\"status\":500,\"text\":\"boom\"},"
	    "{\"status\":404}]");
	fast_opts(&o, &plain);
	dirty(&q);
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	assert_int_equal(e.kind, VLOGS_E_HTTP);
	assert_int_equal(e.status, 500);
	assert_int_equal(e.attempts, 1);
	assert_non_null(strstr(e.msg, "boom"));
	assert_int_equal(q.nrows, 0);
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	assert_int_equal(e.kind, VLOGS_E_HTTP);
	assert_int_equal(e.status, 404);
	qresult_release(&q);
}

/* ---- broken streams */

static void
check_stream_failure(const char *script, enum vlogs_errkind kind,
    const char *needle, const struct vlogs_opts *opts)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;

	fake_reset(&plain);
	fake_script(&plain, script);
	if (opts != NULL)
		o = *opts;
	else
		fast_opts(&o, &plain);
	dirty(&q);
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	if (e.kind != kind || (needle != NULL && strstr(e.msg, needle) == NULL))
		fail_msg("kind %s, message: %s", vlogs_errkind_name(e.kind),
		    e.msg);
	assert_int_equal(q.nrows, 0);
	assert_int_equal(q.ncells, 0);
	/* Not retried: the server was reached and failed. */
	assert_int_equal(e.attempts, 1);
	assert_int_equal(fake_nrequests(&plain), 1);
	qresult_release(&q);
}

#define ROW "\"{\\\"_msg\\\":\\\"m\\\",\\\"status\\\":\\\"200\\\"}\""
#define ROW_LEN (sizeof("{\"_msg\":\"m\",\"status\":\"200\"}") - 1)

static void
test_aborted_stream(void **state)
{
	NEED_FAKE();
	/* As VictoriaLogs does it: rows, "\n<error>\n", a raw trailer
	 * outside the chunking, close. */
	check_stream_failure("[{\"abort_after_lines\":3,\"lines\":[" ROW "],"
	    "\"error\":\"cannot execute query: timeout exceeded\"}]",
	    VLOGS_E_STREAM, "stream aborted by the server: cannot execute "
	    "query: timeout exceeded", NULL);
	check_stream_failure("[{\"abort_after_lines\":0,\"lines\":[" ROW "]}]",
	    VLOGS_E_STREAM, "error during query execution", NULL);
	/* No error text: the connection just closes or resets. */
	check_stream_failure("[{\"abort_after_lines\":5,\"lines\":[" ROW "],"
	    "\"silent\":true}]", VLOGS_E_STREAM, "stream aborted after 5 rows",
	    NULL);
	check_stream_failure("[{\"abort_after_lines\":5,\"lines\":[" ROW "],"
	    "\"silent\":true,\"rst\":true}]", VLOGS_E_STREAM, "stream aborted",
	    NULL);
}

static void
test_bad_lines(void **state)
{
	NEED_FAKE();
	check_stream_failure("[{\"status\":200,\"lines\":[" ROW ","
	    "\"not json at all\"," ROW "]}]", VLOGS_E_STREAM,
	    "not a JSON object: not json at all", NULL);
	check_stream_failure("[{\"status\":200,\"lines\":[" ROW ","
	    "\"{\\\"hits\\\":2}\"]}]", VLOGS_E_STREAM,
	    "field \"hits\" is not a string: {\"hits\":2}", NULL);
	check_stream_failure("[{\"status\":200,\"lines\":[" ROW ","
	    "\"{\\\"a\\\":\\\"b\\\"\"]}]", VLOGS_E_STREAM, "malformed JSON",
	    NULL);
	check_stream_failure("[{\"status\":200,\"lines\":[\"[1,2]\"]}]",
	    VLOGS_E_STREAM, "not a JSON object", NULL);
	/* The last line has no newline. */
	check_stream_failure("[{\"status\":200,\"no_final_newline\":true,"
	    "\"lines\":[" ROW "," ROW "]}]", VLOGS_E_STREAM,
	    "ended inside a line", NULL);
	/* A blank line and then the end. */
	check_stream_failure("[{\"status\":200,\"lines\":[" ROW ",\"\"]}]",
	    VLOGS_E_STREAM, "blank line", NULL);
	/* An HTML page from a proxy, with a 200. */
	check_stream_failure("[{\"status\":200,\"content_type\":\"text/html\","
	    "\"lines\":[\"<html>\"]}]", VLOGS_E_HTTP, "Content-Type", NULL);
}

static void
test_caps(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;

	NEED_FAKE();
	fast_opts(&o, &plain);
	o.max_bytes = 1000;
	/* 40 rows of ~30 bytes: over 1000 bytes. */
	check_stream_failure("[{\"status\":200,\"repeat\":40,\"chunk_lines\":4,"
	    "\"lines\":[" ROW "]}]", VLOGS_E_LIMIT, "larger than 1000 bytes",
	    &o);
	fast_opts(&o, &plain);
	o.max_rows = 5;
	check_stream_failure("[{\"status\":200,\"repeat\":6,\"lines\":[" ROW
	    "]}]", VLOGS_E_LIMIT, "more than 5 rows", &o);
	fast_opts(&o, &plain);
	o.max_line = ROW_LEN - 1;
	check_stream_failure("[{\"status\":200,\"lines\":[" ROW "]}]",
	    VLOGS_E_LIMIT, "longer than max line", &o);
	fast_opts(&o, &plain);
	o.max_bytes = 5 * (ROW_LEN + 1) - 1;
	check_stream_failure("[{\"status\":200,\"repeat\":5,\"lines\":[" ROW
	    "]}]", VLOGS_E_LIMIT, "max bytes", &o);

	/* Exactly at the caps is fine (ROW_LEN bytes and a newline). */
	fake_reset(&plain);
	fake_script(&plain, "[{\"status\":200,\"repeat\":5,\"lines\":[" ROW
	    "]}]");
	fast_opts(&o, &plain);
	o.max_rows = 5;
	o.max_bytes = 5 * (ROW_LEN + 1);
	o.max_line = ROW_LEN;
	qresult_init(&q);
	if (vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(q.nrows, 5);
	qresult_release(&q);
}

static void
test_client_timeout(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;
	int64_t t0, dt;

	NEED_FAKE();
	/* A server that hangs past the timeout it was given. */
	fake_script(&plain, "[{\"delay\":4,\"ignore_timeout\":true,"
	    "\"status\":200,\"lines\":[]}]");
	fast_opts(&o, &plain);
	o.query_timeout_ns = 200 * MS; /* the client waits 1.2 s */
	qresult_init(&q);
	t0 = clock_mono_ns();
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	dt = clock_mono_ns() - t0;
	assert_int_equal(e.kind, VLOGS_E_NETWORK);
	assert_int_equal(e.attempts, 1);
	assert_true(dt >= 1 * SEC);
	assert_true(dt < 3 * SEC);
	qresult_release(&q);
}

static void
test_server_timeout(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;
	int64_t t0, dt;

	NEED_FAKE();
	/* The server keeps to timeout=0.3s: 503 then, which is retried. */
	fake_script(&plain, "[{\"delay\":5,\"status\":200,\"lines\":[]},"
	    "{\"status\":200,\"lines\":[\"{\\\"a\\\":\\\"b\\\"}\"]}]");
	fast_opts(&o, &plain);
	o.query_timeout_ns = 300 * MS;
	qresult_init(&q);
	t0 = clock_mono_ns();
	if (vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e) != 0)
		fail_msg("%s", e.msg);
	dt = clock_mono_ns() - t0;
	assert_int_equal(e.attempts, 2);
	assert_int_equal(q.nrows, 1);
	assert_true(dt >= 300 * MS);
	assert_true(dt < 1500 * MS);
	qresult_release(&q);
}

/* A port where nothing listens: bound, never listening. */
static int
dead_port(int *fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

static void
test_connection_refused(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;
	char url[128];
	int fd, port = dead_port(&fd);
	int64_t t0;

	vlogs_opts_init(&o);
	snprintf(url, sizeof(url), "http://bob:urlpass-123@127.0.0.1:%d/",
	    port);
	o.url = url;
	o.retries = 2;
	o.retry_base_ns = 1 * MS;
	o.retry_max_ns = 5 * MS;
	o.bearer_token = "tok-zzz-999";
	dirty(&q);
	t0 = clock_mono_ns();
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	assert_true(clock_mono_ns() - t0 < 2 * SEC);
	assert_int_equal(e.kind, VLOGS_E_NETWORK);
	assert_int_equal(e.attempts, 3);
	assert_int_equal(e.status, 0);
	assert_int_equal(q.nrows, 0);
	assert_non_null(strstr(e.msg, "127.0.0.1"));
	assert_null(strstr(e.msg, "urlpass-123"));
	assert_null(strstr(e.msg, "bob"));
	assert_null(strstr(e.msg, "tok-zzz-999"));
	close(fd);
	qresult_release(&q);
}

/* ---- field map */

static void
test_field_map(void **state)
{
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;
	const char *map[] = { "client_ip=remote_addr", "peer=remote_addr",
	    "request_uri=path" };

	NEED_FAKE();
	fake_script(&plain, "[{\"status\":200,\"lines\":[\"{\\\"remote_addr"
	    "\\\":\\\"203.0.113.9\\\",\\\"client_ip\\\":\\\"junk\\\",\\\"path"
	    "\\\":\\\"/x\\\",\\\"status\\\":\\\"404\\\"}\"]}]");
	fast_opts(&o, &plain);
	o.field_map = map;
	o.nfield_map = ARRAY_LEN(map);
	qresult_init(&q);
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    0);
	assert_int_equal(q.nrows, 1);
	assert_int_equal(qresult_row_len(&q, 0), 4);
	assert_span_equal(qresult_name(&q, 0, 0), "client_ip");
	assert_span_equal(qresult_value(&q, 0, 0), "203.0.113.9");
	assert_span_equal(qresult_name(&q, 0, 1), "peer");
	assert_span_equal(qresult_value(&q, 0, 1), "203.0.113.9");
	assert_span_equal(qresult_name(&q, 0, 2), "request_uri");
	assert_span_equal(qresult_value(&q, 0, 2), "/x");
	assert_span_equal(qresult_name(&q, 0, 3), "status");
	/* Their own client_ip and the original names are gone. */
	assert_null(qresult_get(&q, 0, "remote_addr").p);
	assert_null(qresult_get(&q, 0, "path").p);
	qresult_release(&q);

	char err[256];
	assert_int_equal(vlogs_map_check(map, ARRAY_LEN(map), err,
	    sizeof(err)), 0);
	const char *bad[] = { "=x" };
	assert_int_equal(vlogs_map_check(bad, 1, err, sizeof(err)), -1);
	const char *bad2[] = { "a=b=c" };
	assert_int_equal(vlogs_map_check(bad2, 1, err, sizeof(err)), -1);
	const char *bad3[] = { "a=" };
	assert_int_equal(vlogs_map_check(bad3, 1, err, sizeof(err)), -1);
}

/* ---- auth and secrets */

static void
test_bearer(void **state)
{
	static const char *const args[] = { "--bearer", "s3cr3t-T0KEN", NULL };
	struct fakeproc f;
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q, req;

	if (fake_start(&f, args) != 0)
		skip();
	qresult_init(&q);
	qresult_init(&req);
	fast_opts(&o, &f);
	o.bearer_token = "s3cr3t-T0KEN";
	fake_script(&f, "[{\"status\":200,\"lines\":[\"{\\\"a\\\":\\\"b\\\"}\"]}]");
	if (vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(q.nrows, 1);
	fake_requests(&f, &req);
	assert_span_equal(qresult_get(&req, 0, "headers.authorization"),
	    "Bearer s3cr3t-T0KEN");

	/* A wrong token: 401, whose body echoes it back. */
	o.bearer_token = "wrong-T0KEN-xyz";
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	assert_int_equal(e.kind, VLOGS_E_HTTP);
	assert_int_equal(e.status, 401);
	assert_int_equal(e.attempts, 1);
	assert_non_null(strstr(e.msg, "cannot authorize request"));
	assert_non_null(strstr(e.msg, "Bearer ***"));
	assert_null(strstr(e.msg, "wrong-T0KEN-xyz"));
	assert_null(strstr(e.msg, "T0KEN"));

	/* No token at all. */
	o.bearer_token = NULL;
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	assert_int_equal(e.status, 401);

	/* A server text quoting the token, in a 400 and a 503. */
	o.bearer_token = "s3cr3t-T0KEN";
	fake_script(&f, "[{\"status\":400,\"text\":\"bad query; header "
	    "Authorization: Bearer s3cr3t-T0KEN\"},{\"status\":503,\"text\":"
	    "\"busy s3cr3t-T0KEN\"},{\"status\":503,\"text\":\"busy "
	    "s3cr3t-T0KEN\"}]");
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	assert_int_equal(e.kind, VLOGS_E_QUERY);
	assert_null(strstr(e.msg, "s3cr3t"));
	assert_non_null(strstr(e.msg, "Bearer ***"));
	o.retries = 1;
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	assert_int_equal(e.kind, VLOGS_E_UNAVAILABLE);
	assert_null(strstr(e.msg, "s3cr3t"));
	qresult_release(&q);
	qresult_release(&req);
	fakeproc_stop(&f);
}

static void
test_basic(void **state)
{
	static const char *const args[] = { "--basic", "alice:pa55w0rd-secret",
	    NULL };
	struct fakeproc f;
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q, req;

	if (fake_start(&f, args) != 0)
		skip();
	qresult_init(&q);
	qresult_init(&req);
	fast_opts(&o, &f);
	o.user = "alice";
	o.password = "pa55w0rd-secret";
	fake_script(&f, "[{\"status\":200,\"lines\":[\"{\\\"a\\\":\\\"b\\\"}\"]}]");
	if (vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(q.nrows, 1);
	fake_requests(&f, &req);
	/* base64("alice:pa55w0rd-secret") */
	assert_span_equal(qresult_get(&req, 0, "headers.authorization"),
	    "Basic YWxpY2U6cGE1NXcwcmQtc2VjcmV0");

	o.password = "pa55w0rd-wrong";
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	assert_int_equal(e.kind, VLOGS_E_HTTP);
	assert_int_equal(e.status, 401);
	assert_non_null(strstr(e.msg, "Basic ***"));
	assert_null(strstr(e.msg, "pa55w0rd"));
	/* base64("alice:pa55w0rd-wrong"), as the server echoed it */
	assert_null(strstr(e.msg, "YWxpY2U6cGE1NXcwcmQtd3Jvbmc="));
	qresult_release(&q);
	qresult_release(&req);
	fakeproc_stop(&f);
}

/* ---- the data file */

static void
test_data_mode(void **state)
{
	const char *shared = test_shared_dir();
	char data[4200];
	const char *args[] = { "--data", data, NULL };
	struct fakeproc f;
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;
	int64_t prev = INT64_MAX, t, start, end;

	if (shared == NULL)
		skip();
	snprintf(data, sizeof(data), "%s/scenarios/mixed/vlogs.jsonl", shared);
	if (access(data, R_OK) != 0 || fake_start(&f, args) != 0)
		skip();
	qresult_init(&q);
	fast_opts(&o, &f);

	/* limit: the newest rows, newest first. */
	if (vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 25, &q, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(q.nrows, 25);
	for (size_t r = 0; r < q.nrows; r++) {
		assert_span_equal(qresult_name(&q, r, 0), "_msg");
		assert_span_equal(qresult_name(&q, r, 1), "_time");
		assert_span_equal(qresult_name(&q, r, 2), "_stream");
		assert_non_null(qresult_get(&q, r, "remote_addr").p);
		assert_non_null(qresult_get(&q, r, "status").p);
		assert_int_equal(time_parse_rfc3339(qresult_get(&q, r, "_time"),
		    &t), 0);
		assert_true(t <= prev);
		prev = t;
	}

	/* field:value */
	if (vlogs_query(&o, "status:404", TIME_NONE, TIME_NONE, 100, &q,
	    &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(q.nrows, 100);
	for (size_t r = 0; r < q.nrows; r++)
		assert_span_equal(qresult_get(&q, r, "status"), "404");

	/* A time window, and a field map for their names. */
	const char *map[] = { "client_ip=remote_addr" };
	o.field_map = map;
	o.nfield_map = 1;
	assert_int_equal(time_parse_rfc3339(SPAN_LIT("2026-11-20T09:05:00Z"),
	    &start), 0);
	end = start + 2 * SEC;
	if (vlogs_query(&o, "*", start, end, 0, &q, &e) != 0)
		fail_msg("%s", e.msg);
	assert_true(q.nrows > 0);
	for (size_t r = 0; r < q.nrows; r++) {
		assert_int_equal(time_parse_rfc3339(qresult_get(&q, r, "_time"),
		    &t), 0);
		assert_true(t >= start && t <= end);
		assert_non_null(qresult_get(&q, r, "client_ip").p);
		assert_null(qresult_get(&q, r, "remote_addr").p);
	}

	/* Another tenant sees none of the rows. */
	o.account_id = "5";
	if (vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 10, &q, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(q.nrows, 0);
	o.account_id = "0";
	o.project_id = "0";
	if (vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 10, &q, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(q.nrows, 10);
	o.account_id = NULL;
	o.project_id = NULL;

	/* What the fake cannot evaluate: a real-looking 400. */
	assert_int_equal(vlogs_query(&o, "* | stats count() hits", TIME_NONE,
	    TIME_NONE, 0, &q, &e), -1);
	assert_int_equal(e.kind, VLOGS_E_QUERY);
	static const char pfx[] = "cannot parse query [* | stats count() "
	    "hits]: ";
	assert_true(strncmp(e.msg, pfx, sizeof(pfx) - 1) == 0);
	assert_int_equal(q.nrows, 0);

	/* Stopped partway by the server. */
	fake_script(&f, "[{\"abort_after_lines\":50}]");
	assert_int_equal(vlogs_query(&o, "*", TIME_NONE, TIME_NONE, 0, &q, &e),
	    -1);
	assert_int_equal(e.kind, VLOGS_E_STREAM);
	assert_int_equal(q.nrows, 0);
	qresult_release(&q);
	fakeproc_stop(&f);
}

/* ---- the stream parser without a server */

static int
feed_all(struct vlogs_stream *st, const char *p, size_t n, size_t step,
    struct vlogs_error *e)
{
	for (size_t i = 0; i < n; i += step) {
		size_t k = n - i < step ? n - i : step;
		if (vlogs_feed(st, p + i, k, e) != 0)
			return -1;
	}
	return vlogs_feed_end(st, e);
}

static void
test_stream_chunking(void **state)
{
	static const char body[] =
	    "{\"_msg\":\"a\\nb\",\"k\":\"\\u00e9\"}\r\n"
	    "{\"x\":\"\xff\xfe raw\"}\n"
	    "{}\n"
	    "{\"y\":\"z\"}\n";
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;
	struct buf a = BUF_INIT, b = BUF_INIT;

	vlogs_opts_init(&o);
	qresult_init(&q);
	for (size_t step = 1; step <= sizeof(body); step++) {
		struct vlogs_stream *st = vlogs_stream_new(&o, &q, &e);
		assert_non_null(st);
		if (feed_all(st, body, sizeof(body) - 1, step, &e) != 0)
			fail_msg("step %zu: %s", step, e.msg);
		assert_int_equal(q.nrows, 4);
		buf_reset(&b);
		qresult_write_jsonl(&q, &b);
		if (step == 1)
			buf_add(&a, b.p, b.len);
		else
			assert_string_equal(a.p, b.p);
		vlogs_stream_free(st);
	}
	assert_span_equal(qresult_get(&q, 0, "_msg"), "a\nb");
	assert_span_equal(qresult_get(&q, 0, "k"), "\xc3\xa9");
	assert_span_equal(qresult_get(&q, 1, "x"), "\xff\xfe raw");
	assert_int_equal(qresult_row_len(&q, 2), 0);
	buf_release(&a);
	buf_release(&b);
	qresult_release(&q);
}

static void
test_stream_failures(void **state)
{
	static const struct {
		const char *body;
		enum vlogs_errkind kind;
		const char *needle;
	} cases[] = {
		{ "{\"a\":\"b\"}\n\nerror text\n", VLOGS_E_STREAM,
		  "stream aborted by the server: error text" },
		{ "{\"a\":\"b\"}\n\nunterminated error", VLOGS_E_STREAM,
		  "stream aborted by the server: unterminated error" },
		{ "{\"a\":\"b\"}\n\n", VLOGS_E_STREAM, "blank line" },
		{ "{\"a\":\"b\"}\n{\"a\":", VLOGS_E_STREAM, "inside a line" },
		{ "{\"a\":true}\n", VLOGS_E_STREAM, "not a string" },
		{ "{\"a\":null}\n", VLOGS_E_STREAM, "not a string" },
		{ "\x1b[2J\x07\n", VLOGS_E_STREAM, "\\x1b[2J\\x07" },
		{ "{\"a\":\"b\"} trailing\n", VLOGS_E_STREAM, "malformed" },
		/* qresult's reason quotes the key, here with a newline:
		 * escaped there, and its backslash escaped again here. */
		{ "{\"a\\nb\":1}\n", VLOGS_E_STREAM,
		  "field \"a\\\\x0ab\" is not a string" },
	};
	struct vlogs_opts o;
	struct vlogs_error e;
	struct qresult q;

	vlogs_opts_init(&o);
	qresult_init(&q);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct vlogs_stream *st = vlogs_stream_new(&o, &q, &e);
		size_t n = strlen(cases[i].body);
		assert_non_null(st);
		assert_int_equal(feed_all(st, cases[i].body, n, n, &e), -1);
		if (e.kind != cases[i].kind ||
		    strstr(e.msg, cases[i].needle) == NULL)
			fail_msg("case %zu: %s: %s", i,
			    vlogs_errkind_name(e.kind), e.msg);
		assert_int_equal(q.nrows, 0);
		for (const char *p = e.msg; *p; p++)
			assert_true((unsigned char)*p >= 0x20);
		/* Failed for good. */
		assert_int_equal(vlogs_feed(st, "{}\n", 3, &e), -1);
		assert_int_equal(vlogs_feed_end(st, &e), -1);
		vlogs_stream_free(st);
	}
	qresult_release(&q);
}

/* ---- HTTP helpers */

static void
test_http_redact_scrub(void **state)
{
	char out[256], s[256];
	struct http_request rq;

	http_url_redact("https://u:p@host:8443/a/b?token=x#frag", out,
	    sizeof(out));
	assert_string_equal(out, "https://host:8443/a/b");
	http_url_redact("http://host/path@x?q", out, sizeof(out));
	assert_string_equal(out, "http://host/path@x");
	http_url_redact("http://a@b@host", out, sizeof(out));
	assert_string_equal(out, "http://host");
	http_url_redact("junk@host", out, sizeof(out));
	assert_null(strstr(out, "junk"));
	http_url_redact("http://h/\x1b", out, sizeof(out));
	assert_string_equal(out, "http://h/?");
	assert_int_equal(http_url_redact("http://host/long", out, 8), 7);
	assert_string_equal(out, "http://");

	snprintf(s, sizeof(s), "a SECRET b SECRETSECRET c");
	http_scrub(s, sizeof(s), "SECRET");
	assert_string_equal(s, "a *** b ****** c");
	snprintf(s, sizeof(s), "ab");
	http_scrub(s, sizeof(s), "");
	http_scrub(s, sizeof(s), NULL);
	assert_string_equal(s, "ab");

	memset(&rq, 0, sizeof(rq));
	rq.url = "http://usr:pw%40x@h/";
	rq.user = "alice";
	rq.password = "pa55";
	rq.bearer = "tkn";
	snprintf(s, sizeof(s), "tkn pa55 YWxpY2U6cGE1NQ== pw%%40x usr");
	http_scrub_request(s, sizeof(s), &rq);
	assert_string_equal(s, "*** *** *** *** usr");
	rq.url = "http://TOKENONLY@h/";
	snprintf(s, sizeof(s), "x TOKENONLY y");
	http_scrub_request(s, sizeof(s), &rq);
	assert_string_equal(s, "x *** y");
}

static void
test_http_backoff(void **state)
{
	for (int i = 0; i < 200; i++) {
		int64_t d0 = http_backoff_ns(0, 100 * MS, 1000 * MS, -1);
		int64_t d3 = http_backoff_ns(3, 100 * MS, 1000 * MS, -1);
		int64_t d9 = http_backoff_ns(9, 100 * MS, 1000 * MS, -1);
		int64_t ra = http_backoff_ns(0, 100 * MS, 1000 * MS, 60);
		assert_true(d0 >= 50 * MS && d0 <= 100 * MS);
		assert_true(d3 >= 400 * MS && d3 <= 800 * MS);
		assert_true(d9 >= 500 * MS && d9 <= 1000 * MS);
		assert_int_equal(ra, 1000 * MS);
	}
	/* Jitter: not all equal. */
	int64_t a = http_backoff_ns(5, SEC, 100 * SEC, -1);
	int diff = 0;
	for (int i = 0; i < 20; i++)
		diff |= http_backoff_ns(5, SEC, 100 * SEC, -1) != a;
	assert_true(diff);
}

struct linerec {
	struct buf out;
	int stop_at, n;
};

static int
linerec_cb(void *ctx, const char *line, size_t len, int term, char *err,
    size_t errlen)
{
	struct linerec *r = ctx;

	r->n++;
	buf_addf(&r->out, "[%.*s]%c", (int)len, line, term ? 'T' : 'U');
	if (r->stop_at == r->n) {
		snprintf(err, errlen, "stopped");
		return 1;
	}
	return 0;
}

static void
test_http_lines(void **state)
{
	struct http_lines l;
	struct linerec r = { BUF_INIT, 0, 0 };
	char err[128];

	http_lines_init(&l, 5, linerec_cb, &r);
	assert_int_equal(http_lines_feed(&l, "ab\r\ncd", 6, err, sizeof(err)),
	    0);
	assert_int_equal(http_lines_feed(&l, "e\n\n12345\n", 9, err,
	    sizeof(err)), 0);
	assert_int_equal(http_lines_feed(&l, "xyz", 3, err, sizeof(err)), 0);
	assert_int_equal(http_lines_end(&l, err, sizeof(err)), 0);
	assert_string_equal(r.out.p, "[ab]T[cde]T[]T[12345]T[xyz]U");
	/* Six bytes before a newline: too long, split or not. */
	http_lines_reset(&l);
	assert_int_equal(http_lines_feed(&l, "123", 3, err, sizeof(err)), 0);
	assert_int_equal(http_lines_feed(&l, "456\n", 4, err, sizeof(err)), -1);
	assert_true(l.too_long);
	assert_int_equal(http_lines_feed(&l, "a\n", 2, err, sizeof(err)), -1);
	http_lines_reset(&l);
	assert_int_equal(http_lines_feed(&l, "123456", 6, err, sizeof(err)),
	    -1);
	http_lines_reset(&l);
	assert_int_equal(http_lines_feed(&l, "123456\n", 7, err, sizeof(err)),
	    -1);
	/* The callback stops it. */
	http_lines_reset(&l);
	buf_reset(&r.out);
	r.n = 0;
	r.stop_at = 2;
	assert_int_equal(http_lines_feed(&l, "a\nb\nc\n", 6, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "stopped");
	assert_string_equal(r.out.p, "[a]T[b]T");
	assert_false(l.too_long);
	http_lines_release(&l);
	buf_release(&r.out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_in_order),
		cmocka_unit_test(test_empty_result),
		cmocka_unit_test(test_request_args),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_query_error_text),
		cmocka_unit_test(test_query_error_escaped_capped),
		cmocka_unit_test(test_retry_503_then_ok),
		cmocka_unit_test(test_503_forever),
		cmocka_unit_test(test_502_forever),
		cmocka_unit_test(test_no_retries),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_connection_dropped_then_ok),
		cmocka_unit_test(test_other_status),
		cmocka_unit_test(test_aborted_stream),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_client_timeout),
		cmocka_unit_test(test_server_timeout),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_field_map),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_data_mode),
		cmocka_unit_test(test_stream_chunking),
		cmocka_unit_test(test_stream_failures),
		cmocka_unit_test(test_http_redact_scrub),
		cmocka_unit_test(test_http_backoff),
		cmocka_unit_test(test_http_lines),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
