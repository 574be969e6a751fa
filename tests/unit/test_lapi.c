/*
 * The CrowdSec LAPI client.  The alert body and the parsers are checked
 * offline; everything else runs against a real, throwaway LAPI started by
 * tests/lapi/serve.py (skipped when crowdsec is not installed).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>

#include "testutil.h"

#define SEC INT64_C(1000000000)
#define HOUR (3600 * SEC)

/* ---- the server */

static struct {
	int up;
	char skip[512];
	pid_t pid;
	int to, from;           /* serve.py's stdin, stdout */
	struct buf in;          /* unread output */
	char url[256];
	char machine[128];
	char password[256];
	char bouncer[256];
} srv = { .to = -1, .from = -1 };

static const char *
serve_path(void)
{
	static char p[PATH_MAX + 64];
	const char *env = getenv("AD_SOURCE_DIR");
	char exe[PATH_MAX];
	ssize_t n;

	if (env != NULL) {
		snprintf(p, sizeof(p), "%s/tests/lapi/serve.py", env);
		return p;
	}
	if (access("tests/lapi/serve.py", X_OK) == 0)
		return "tests/lapi/serve.py";
	/* BUILD/tests/test_lapi, BUILD = ROOT/build/VARIANT */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int i = 0; i < 4; i++) {
			char *s = strrchr(exe, '/');
			if (s == NULL)
				break;
			*s = '\0';
		}
		snprintf(p, sizeof(p), "%s/tests/lapi/serve.py", exe);
		if (access(p, X_OK) == 0)
			return p;
	}
	return NULL;
}

/* One line from serve.py, within timeout; NULL on EOF or timeout. */
static json_t *
serve_read(int timeout_s)
{
	int64_t deadline = clock_mono_ns() + timeout_s * SEC;

	for (;;) {
		char *nl = memchr(srv.in.p, '\n', srv.in.len);
		if (nl != NULL) {
			size_t n = (size_t)(nl - srv.in.p);
			json_t *v = json_loadb(srv.in.p, n, 0, NULL);
			memmove(srv.in.p, nl + 1, srv.in.len - n - 1);
			srv.in.len -= n + 1;
			srv.in.p[srv.in.len] = '\0';
			return v;
		}
		int64_t left = deadline - clock_mono_ns();
		if (left <= 0)
			return NULL;
		struct pollfd pfd = { srv.from, POLLIN, 0 };
		int r = poll(&pfd, 1, (int)(left / 1000000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		char chunk[65536];
		ssize_t got = read(srv.from, chunk, sizeof(chunk));
		if (got <= 0)
			return NULL;
		buf_add(&srv.in, chunk, (size_t)got);
	}
}

static json_t *
serve_cmd(const char *cmd)
{
	size_t n = strlen(cmd);
	json_t *r;

	if (write(srv.to, cmd, n) != (ssize_t)n || write(srv.to, "\n", 1) != 1)
		fail_msg("serve.py: cannot send \"%s\"", cmd);
	r = serve_read(60);
	if (r == NULL)
		fail_msg("serve.py: no answer to \"%s\"", cmd);
	if (!json_is_true(json_object_get(r, "ok")))
		fail_msg("serve.py: \"%s\" failed: %s", cmd,
		    json_string_value(json_object_get(r, "error")));
	return r;
}

static int
read_small_file(const char *path, char *out, size_t outlen)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, out, outlen - 1);
	close(fd);
	if (n <= 0)
		return -1;
	out[n] = '\0';
	return 0;
}

static void
copy_str(char *dst, size_t dstlen, json_t *v)
{
	snprintf(dst, dstlen, "%s", json_is_string(v) ?
	    json_string_value(v) : "");
}

static int
group_setup(void **unused)
{
	const char *sp = serve_path();
	int in[2], out[2];
	json_t *hello;

	buf_init(&srv.in);
	if (sp == NULL) {
		snprintf(srv.skip, sizeof(srv.skip), "tests/lapi/serve.py not "
		    "found (set AD_SOURCE_DIR)");
		return 0;
	}
	if (pipe(in) != 0 || pipe(out) != 0)
		return -1;
	srv.pid = fork();
	if (srv.pid < 0)
		return -1;
	if (srv.pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execl(sp, sp, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	srv.to = in[1];
	srv.from = out[0];
	signal(SIGPIPE, SIG_IGN);
	/* Installing crowdsec (harness, as root) may take minutes. */
	hello = serve_read(600);
	if (hello == NULL) {
		snprintf(srv.skip, sizeof(srv.skip), "serve.py printed nothing");
		return -1;
	}
	if (json_is_string(json_object_get(hello, "skip"))) {
		snprintf(srv.skip, sizeof(srv.skip), "%s",
		    json_string_value(json_object_get(hello, "skip")));
		json_decref(hello);
		return 0;
	}
	if (!json_is_string(json_object_get(hello, "url"))) {
		fprintf(stderr, "serve.py: %s\n", json_is_string(
		    json_object_get(hello, "error")) ? json_string_value(
		    json_object_get(hello, "error")) : "no url");
		json_decref(hello);
		return -1;
	}
	copy_str(srv.url, sizeof(srv.url), json_object_get(hello, "url"));
	copy_str(srv.machine, sizeof(srv.machine),
	    json_object_get(hello, "machine_id"));
	copy_str(srv.bouncer, sizeof(srv.bouncer),
	    json_object_get(hello, "bouncer_key"));
	if (read_small_file(json_string_value(json_object_get(hello,
	    "password_file")), srv.password, sizeof(srv.password)) != 0) {
		json_decref(hello);
		return -1;
	}
	json_decref(hello);
	srv.up = 1;
	return 0;
}

static int
group_teardown(void **unused)
{
	if (srv.to != -1)
		close(srv.to); /* serve.py stops LAPI and exits */
	if (srv.pid > 0) {
		int status;
		for (int i = 0; i < 300; i++) {
			if (waitpid(srv.pid, &status, WNOHANG) == srv.pid) {
				srv.pid = 0;
				break;
			}
			usleep(50000);
		}
		if (srv.pid > 0) {
			kill(srv.pid, SIGTERM);
			waitpid(srv.pid, &status, 0);
		}
	}
	if (srv.from != -1)
		close(srv.from);
	buf_release(&srv.in);
	explicit_bzero(srv.password, sizeof(srv.password));
	return 0;
}

#define NEED_LAPI() do {                                                 \
	if (!srv.up) {                                                   \
		print_message("skip: %s\n", srv.skip);                   \
		skip();                                                  \
	}                                                                \
} while (0)

static void
client(struct lapi *l, const char *password)
{
	struct lapi_opts o;
	char err[512];

	lapi_opts_init(&o);
	o.url = srv.url;
	o.machine_id = srv.machine;
	o.password = password != NULL ? password : srv.password;
	o.retries = 2;
	o.retry_base_ns = 50 * 1000000;
	o.retry_max_ns = 200 * 1000000;
	o.connect_timeout_ns = 2 * SEC;
	o.timeout_ns = 10 * SEC;
	if (lapi_init(l, &o, err, sizeof(err)) != 0)
		fail_msg("lapi_init: %s", err);
}

/* The bouncer's view: GET /v1/decisions?QUERY with X-Api-Key. */
static json_t *
bouncer_get(const char *query)
{
	struct http_request rq;
	struct http_response rs;
	struct buf url = BUF_INIT, key = BUF_INIT;
	const char *hdr[1];
	char err[512];
	json_t *v;

	buf_addf(&url, "%s/v1/decisions?%s", srv.url, query);
	buf_addf(&key, "X-Api-Key: %s", srv.bouncer);
	hdr[0] = key.p;
	memset(&rq, 0, sizeof(rq));
	rq.url = url.p;
	rq.headers = hdr;
	rq.nheaders = 1;
	rq.timeout_ns = 10 * SEC;
	http_response_init(&rs);
	if (http_do(&rq, &rs, err, sizeof(err)) != 0)
		fail_msg("bouncer GET: %s", err);
	assert_int_equal(rs.status, 200);
	v = json_loadb(rs.body.p, rs.body.len, JSON_DECODE_ANY, NULL);
	assert_non_null(v);
	if (json_is_null(v)) {
		json_decref(v);
		v = json_array();
	}
	assert_true(json_is_array(v));
	http_response_release(&rs);
	buf_release(&url);
	buf_release(&key);
	return v;
}

static const char *
sget(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "";
}

/* The decision of exactly this value in a bouncer answer, or NULL. */
static json_t *
decision_for(json_t *arr, const char *value)
{
	size_t i;
	json_t *d;

	json_array_foreach(arr, i, d)
		if (strcmp(sget(d, "value"), value) == 0)
			return d;
	return NULL;
}

static int64_t
remaining(json_t *d)
{
	int64_t ns = 0;

	assert_int_equal(lapi_parse_go_duration(span_str(sget(d, "duration")),
	    &ns), 0);
	return ns;
}

/* ---- offline: the body, durations, the list parser */

static struct lapi_event sample_events[12];

static void
fill_events(void)
{
	static const char ua_bad[] = "Mozilla/5.0 \xff\xfe\x01 \x1b[2J evil";
	int64_t t0 = INT64_C(1764093832) * SEC;

	for (size_t i = 0; i < ARRAY_LEN(sample_events); i++) {
		struct lapi_event *e = &sample_events[i];
		memset(e, 0, sizeof(*e));
		e->time_ns = t0 + (int64_t)i * SEC;
		e->method = SPAN_LIT("GET");
		e->path = i % 2 == 0 ? SPAN_LIT("/.env") :
		    SPAN_LIT("/wp-login.php?x=\xc3\x28");
		e->user_agent = (struct span){ ua_bad, sizeof(ua_bad) - 1 };
		e->status = 404;
	}
}

static void
test_alert_json(void **unused)
{
	struct lapi_alert a;
	struct buf b = BUF_INIT;
	char err[256];
	int64_t now = INT64_C(1764093832) * SEC + 300 * SEC, until = 0;
	json_t *root, *al, *ev, *m, *dec, *src;
	json_error_t je;

	fill_events();
	memset(&a, 0, sizeof(a));
	a.scenario = "anomaly-detect/http-probing";
	a.message = "203.0.113.7: 412 requests, 388 x 404 in 5m; probing /.env";
	a.value = "203.0.113.7";
	a.duration_ns = 4 * HOUR;
	a.events_count = 412;
	a.start_ns = now - 300 * SEC;
	a.stop_ns = now - 120 * SEC;
	a.events = sample_events;
	a.nevents = 12;
	assert_int_equal(lapi_alert_json(&a, now, &b, &until, err,
	    sizeof(err)), 0);
	root = json_loadb(b.p, b.len, 0, &je);
	if (root == NULL)
		fail_msg("not JSON: %s", je.text);
	assert_true(json_is_array(root));
	assert_int_equal(json_array_size(root), 1);
	al = json_array_get(root, 0);
	assert_string_equal(sget(al, "scenario"), a.scenario);
	assert_string_equal(sget(al, "scenario_hash"), "");
	assert_string_equal(sget(al, "scenario_version"), "1");
	assert_string_equal(sget(al, "message"), a.message);
	assert_int_equal(json_integer_value(json_object_get(al,
	    "events_count")), 412);
	assert_int_equal(json_integer_value(json_object_get(al, "capacity")),
	    0);
	assert_string_equal(sget(al, "leakspeed"), "0s");
	assert_true(json_is_false(json_object_get(al, "simulated")));
	assert_true(json_is_true(json_object_get(al, "remediation")));
	assert_string_equal(sget(al, "start_at"), "2025-11-25T18:03:52Z");
	assert_string_equal(sget(al, "stop_at"), "2025-11-25T18:06:52Z");
	src = json_object_get(al, "source");
	assert_string_equal(sget(src, "scope"), "Ip");
	assert_string_equal(sget(src, "value"), "203.0.113.7");
	assert_string_equal(sget(src, "ip"), "203.0.113.7");
	assert_null(json_object_get(src, "range"));
	/* Ten samples at most. */
	assert_int_equal(json_array_size(json_object_get(al, "events")), 10);
	ev = json_array_get(json_object_get(al, "events"), 1);
	assert_string_equal(sget(ev, "timestamp"), "2025-11-25T18:03:53Z");
	m = json_object_get(ev, "meta");
	assert_string_equal(sget(json_array_get(m, 0), "key"), "http_path");
	assert_string_equal(sget(json_array_get(m, 0), "value"),
	    "/wp-login.php?x=\\xc3(");
	assert_string_equal(sget(json_array_get(m, 1), "key"), "http_status");
	assert_string_equal(sget(json_array_get(m, 1), "value"), "404");
	assert_string_equal(sget(json_array_get(m, 2), "key"), "http_verb");
	assert_string_equal(sget(json_array_get(m, 3), "key"),
	    "http_user_agent");
	assert_string_equal(sget(json_array_get(m, 3), "value"),
	    "Mozilla/5.0 \\xff\\xfe\\x01 \\x1b[2J evil");
	assert_string_equal(sget(json_array_get(m, 4), "key"), "source_ip");
	assert_string_equal(sget(json_array_get(m, 4), "value"),
	    "203.0.113.7");
	/* The decision: stop_at was 2 min ago, so 4h2m are asked for and
	 * the ban ends 4 h from now. */
	dec = json_array_get(json_object_get(al, "decisions"), 0);
	assert_string_equal(sget(dec, "duration"), "4h2m");
	assert_string_equal(sget(dec, "type"), "ban");
	assert_string_equal(sget(dec, "scope"), "Ip");
	assert_string_equal(sget(dec, "value"), "203.0.113.7");
	assert_string_equal(sget(dec, "origin"), "anomaly-detect");
	assert_string_equal(sget(dec, "scenario"), a.scenario);
	assert_true(json_is_false(json_object_get(dec, "simulated")));
	assert_true(until == now + 4 * HOUR);
	m = json_array_get(json_object_get(al, "meta"), 0);
	assert_string_equal(sget(m, "key"), "detector");
	assert_string_equal(sget(m, "value"), "anomaly-detect");
	json_decref(root);

	/* A range, a stop_at in the future, a huge count, odd seconds. */
	a.value = "2001:DB8::/32";
	a.stop_ns = now + HOUR;
	a.events_count = UINT64_C(1) << 40;
	a.duration_ns = 90 * 60 * SEC + 500 * 1000000;
	a.nevents = 0;
	assert_int_equal(lapi_alert_json(&a, now, &b, &until, err,
	    sizeof(err)), 0);
	root = json_loadb(b.p, b.len, 0, &je);
	assert_non_null(root);
	al = json_array_get(root, 0);
	src = json_object_get(al, "source");
	assert_string_equal(sget(src, "scope"), "Range");
	assert_string_equal(sget(src, "value"), "2001:db8::/32");
	assert_string_equal(sget(src, "range"), "2001:db8::/32");
	assert_null(json_object_get(src, "ip"));
	assert_int_equal(json_integer_value(json_object_get(al,
	    "events_count")), INT32_MAX);
	assert_int_equal(json_array_size(json_object_get(al, "events")), 0);
	dec = json_array_get(json_object_get(al, "decisions"), 0);
	assert_string_equal(sget(dec, "duration"), "1h30m1s");
	assert_string_equal(sget(dec, "scope"), "Range");
	/* stop_at never after now. */
	assert_string_equal(sget(al, "stop_at"), "2025-11-25T18:08:52Z");
	json_decref(root);

	/* Bad alerts are refused before anything is sent. */
	a.value = "10.0.0.1/8";
	assert_int_equal(lapi_alert_json(&a, now, &b, NULL, err, sizeof(err)),
	    -1);
	a.value = "203.0.113.7";
	a.scenario = "has space";
	assert_int_equal(lapi_alert_json(&a, now, &b, NULL, err, sizeof(err)),
	    -1);
	a.scenario = "anomaly-detect/x";
	a.duration_ns = SEC / 2;
	assert_int_equal(lapi_alert_json(&a, now, &b, NULL, err, sizeof(err)),
	    -1);
	a.duration_ns = HOUR;
	a.events_count = 0;
	assert_int_equal(lapi_alert_json(&a, now, &b, NULL, err, sizeof(err)),
	    -1);
	a.events_count = 1;
	a.message = "";
	assert_int_equal(lapi_alert_json(&a, now, &b, NULL, err, sizeof(err)),
	    -1);
	buf_release(&b);
}

static void
test_go_duration(void **unused)
{
	static const struct {
		const char *s;
		int64_t ns;
	} ok[] = {
		{ "4h", 4 * HOUR },
		{ "3h59m59.558786213s", 4 * HOUR - SEC + 558786213 },
		{ "59m59.5s", 3599 * SEC + 500000000 },
		{ "-929.715726ms", -929715726 },
		{ "500\xc2\xb5s", 500000 },
		{ "0s", 0 },
		{ "1h0m0.4s", HOUR + 400000000 },
	};
	static const char *const bad[] = { "", "-", "4", "4 h", "4hours",
	    "h", "1.2.3s", "\xc2\xb5" };
	int64_t v;

	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		assert_int_equal(lapi_parse_go_duration(span_str(ok[i].s), &v),
		    0);
		assert_true(v == ok[i].ns);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		assert_int_equal(lapi_parse_go_duration(span_str(bad[i]), &v),
		    -1);
}

static void
test_parse_alerts(void **unused)
{
	static const char doc[] = "[{\"id\":7,\"decisions\":["
	    "{\"duration\":\"3h0m0s\",\"id\":11,\"origin\":\"anomaly-detect\","
	    "\"scenario\":\"anomaly-detect/x\",\"scope\":\"Ip\",\"type\":\"ban\","
	    "\"value\":\"203.0.113.7\"},"
	    "{\"duration\":\"-1s\",\"id\":12,\"origin\":\"anomaly-detect\","
	    "\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"203.0.113.8\"},"
	    "{\"duration\":\"1h\",\"id\":13,\"origin\":\"crowdsec\","
	    "\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"203.0.113.9\"}]},"
	    "{\"id\":8,\"decisions\":null},"
	    "{\"id\":9,\"decisions\":[{\"duration\":\"30m\",\"id\":14,"
	    "\"origin\":\"anomaly-detect\",\"scenario\":\"a\\u001b[2Jb\","
	    "\"scope\":\"Range\",\"type\":\"ban\","
	    "\"value\":\"198.51.100.0/24\"}]}]";
	static const char *const junk[] = { "", "{", "{}", "[1]",
	    "[{\"decisions\":{}}]",
	    "[{\"decisions\":[{\"origin\":\"anomaly-detect\"}]}]",
	    ("[{\"decisions\":[{\"origin\":\"anomaly-detect\",\"duration\":"
	    "\"1h\"}]}]") };
	struct lapi_decisions d;
	char err[256];
	int64_t now = 1000 * SEC;

	lapi_decisions_init(&d);
	assert_int_equal(lapi_parse_alerts(doc, sizeof(doc) - 1, now, &d, err,
	    sizeof(err)), 0);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.v[0].value, "203.0.113.7");
	assert_int_equal(d.v[0].id, 11);
	assert_int_equal(d.v[0].alert_id, 7);
	assert_true(d.v[0].until_ns == now + 3 * HOUR);
	assert_string_equal(d.v[0].scope, "Ip");
	assert_string_equal(d.v[1].value, "198.51.100.0/24");
	assert_string_equal(d.v[1].scenario, "a\\x1b[2Jb");
	lapi_decisions_release(&d);
	assert_int_equal(lapi_parse_alerts("null", 4, now, &d, err,
	    sizeof(err)), 0);
	assert_int_equal(d.n, 0);
	for (size_t i = 0; i < ARRAY_LEN(junk); i++)
		assert_int_equal(lapi_parse_alerts(junk[i], strlen(junk[i]), now,
		    &d, err, sizeof(err)), -1);
	lapi_decisions_release(&d);
}

static void
test_init_checks(void **unused)
{
	struct lapi l;
	struct lapi_opts o;
	char err[256];

	lapi_opts_init(&o);
	o.machine_id = "m";
	o.password = "pw-secret-77";
	o.url = "ftp://x";
	assert_int_equal(lapi_init(&l, &o, err, sizeof(err)), -1);
	o.url = "http://user:pw-secret-77@host:8080/?x";
	assert_int_equal(lapi_init(&l, &o, err, sizeof(err)), -1);
	assert_null(strstr(err, "pw-secret-77"));
	o.url = "http://127.0.0.1:1";
	o.password = "two\nlines";
	assert_int_equal(lapi_init(&l, &o, err, sizeof(err)), -1);
	o.password = "";
	assert_int_equal(lapi_init(&l, &o, err, sizeof(err)), -1);
	o.password = "pw-secret-77";
	o.machine_id = "";
	assert_int_equal(lapi_init(&l, &o, err, sizeof(err)), -1);
	o.machine_id = "m";
	o.url = "http://127.0.0.1:1///";
	assert_int_equal(lapi_init(&l, &o, err, sizeof(err)), 0);
	assert_string_equal(l.o.url, "http://127.0.0.1:1");
	/* Nothing listens on port 1: a network error, retried, bounded,
	 * and the message names neither password nor token. */
	l.o.retries = 1;
	l.o.retry_base_ns = 10 * 1000000;
	assert_int_equal(lapi_heartbeat(&l, err, sizeof(err)), -1);
	assert_int_equal(l.err_kind, LAPI_E_NETWORK);
	assert_int_equal(l.attempts, 2);
	assert_null(strstr(err, "pw-secret-77"));
	lapi_release(&l);
}

/* ---- offline: a scripted HTTP server, for answers LAPI will not give
 * on demand (5xx, 429, a 201 without ids, echoed secrets) */

struct canned {
	int status;
	const char *body;
};

static struct {
	int lfd, port, stop;
	pthread_t th;
	const struct canned *script;
	size_t n, next;
	int requests;
	char paths[16][128];
} fk;

static void
fake_answer(int fd)
{
	char req[65536];
	size_t len = 0;
	char *hend;
	struct buf out = BUF_INIT;
	const struct canned *c;

	/* Headers, then Content-Length bytes of body. */
	for (;;) {
		ssize_t r = read(fd, req + len, sizeof(req) - 1 - len);
		if (r <= 0)
			return;
		len += (size_t)r;
		req[len] = '\0';
		hend = strstr(req, "\r\n\r\n");
		if (hend != NULL) {
			char *cl = strcasestr(req, "Content-Length:");
			size_t want = cl != NULL && cl < hend ?
			    strtoul(cl + 15, NULL, 10) : 0;
			if (len >= (size_t)(hend + 4 - req) + want)
				break;
		}
	}
	if (fk.requests < 16) {
		char *sp = strchr(req, ' ');
		snprintf(fk.paths[fk.requests], sizeof(fk.paths[0]), "%.*s",
		    sp != NULL ? (int)strcspn(sp + 1, " ") : 0,
		    sp != NULL ? sp + 1 : "");
	}
	fk.requests++;
	c = fk.next < fk.n ? &fk.script[fk.next++] : NULL;
	if (c == NULL)
		buf_addstr(&out, "HTTP/1.1 599 Script Over\r\nContent-Length: "
		    "0\r\nConnection: close\r\n\r\n");
	else
		buf_addf(&out, "HTTP/1.1 %d X\r\nContent-Type: application/json"
		    "\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n%s",
		    c->status, strlen(c->body), c->status == 429 ?
		    "Retry-After: 1\r\n" : "", c->body);
	if (write(fd, out.p, out.len) < 0) {
		/* the client went away: its problem */
	}
	buf_release(&out);
}

static void *
fake_main(void *arg)
{
	while (!fk.stop) {
		struct pollfd p = { fk.lfd, POLLIN, 0 };
		if (poll(&p, 1, 50) <= 0)
			continue;
		int fd = accept(fk.lfd, NULL, NULL);
		if (fd < 0)
			continue;
		fake_answer(fd);
		close(fd);
	}
	return arg;
}

static void
fake_start(const struct canned *script, size_t n)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	memset(&fk, 0, sizeof(fk));
	fk.script = script;
	fk.n = n;
	fk.lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fk.lfd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fk.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fk.lfd, 16), 0);
	assert_int_equal(getsockname(fk.lfd, (struct sockaddr *)&sa, &sl), 0);
	fk.port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&fk.th, NULL, fake_main, NULL), 0);
}

static void
fake_stop(void)
{
	fk.stop = 1;
	pthread_join(fk.th, NULL);
	close(fk.lfd);
}

#define FAKE_PW "fake-Passw0rd-echoed"
#define FAKE_TOKEN "eyJfake.TOKENpart.sig-SECRET"
#define LOGIN_OK { 200, "{\"code\":200,\"expire\":\"2099-01-01T00:00:00Z\"," \
	"\"token\":\"" FAKE_TOKEN "\"}" }

static void
fake_client(struct lapi *l)
{
	struct lapi_opts o;
	char url[64], err[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", fk.port);
	lapi_opts_init(&o);
	o.url = url;
	o.machine_id = "fake-machine";
	o.password = FAKE_PW;
	o.retries = 3;
	o.retry_base_ns = 5 * 1000000;
	o.retry_max_ns = 20 * 1000000;
	if (lapi_init(l, &o, err, sizeof(err)) != 0)
		fail_msg("lapi_init: %s", err);
}

static int
fake_push(struct lapi *l, char *id, size_t idlen, char *err, size_t errlen)
{
	struct lapi_alert a;

	memset(&a, 0, sizeof(a));
	a.scenario = "anomaly-detect/x";
	a.message = "m";
	a.value = "192.0.2.5";
	a.duration_ns = HOUR;
	a.events_count = 3;
	a.start_ns = a.stop_ns = clock_wall_ns();
	return lapi_push_ban(l, &a, id, idlen, NULL, err, errlen);
}

static void
test_fake_retries(void **unused)
{
	static const struct canned ok_after_5xx[] = { LOGIN_OK,
	    { 503, "{\"message\":\"busy\"}" }, { 502, "" },
	    { 429, "{\"message\":\"slow down\"}" }, { 201, "[\"77\"]" } };
	static const struct canned always_500[] = { LOGIN_OK,
	    { 500, "{\"message\":\"validation failure: " FAKE_PW "\"}" },
	    { 500, "{\"message\":\"x\"}" }, { 500, "{\"message\":\"x\"}" },
	    { 500, "{\"message\":\"last: " FAKE_TOKEN "\"}" } };
	static const struct canned bad_request[] = { LOGIN_OK,
	    { 400, "{\"message\":\"json: cannot unmarshal\"}" } };
	struct lapi l;
	char id[LAPI_ID_MAX], err[512];

	fake_start(ok_after_5xx, ARRAY_LEN(ok_after_5xx));
	fake_client(&l);
	assert_int_equal(fake_push(&l, id, sizeof(id), err, sizeof(err)), 0);
	assert_string_equal(id, "77");
	assert_int_equal(l.attempts, 5);
	assert_int_equal(fk.requests, 5);
	assert_string_equal(fk.paths[0], "/v1/watchers/login");
	assert_string_equal(fk.paths[4], "/v1/alerts");
	lapi_release(&l);
	fake_stop();

	/* 5xx all along: bounded, UNAVAILABLE, secrets cut from LAPI's
	 * echo. */
	fake_start(always_500, ARRAY_LEN(always_500));
	fake_client(&l);
	assert_int_equal(fake_push(&l, id, sizeof(id), err, sizeof(err)), -1);
	assert_int_equal(l.err_kind, LAPI_E_UNAVAILABLE);
	assert_int_equal(l.err_status, 500);
	assert_int_equal(fk.requests, 5); /* login + 1 + 3 retries */
	assert_string_equal(id, "");
	assert_non_null(strstr(err, "HTTP 500"));
	assert_non_null(strstr(err, "last: ***"));
	assert_null(strstr(err, FAKE_TOKEN));
	assert_null(strstr(err, FAKE_PW));
	lapi_release(&l);
	fake_stop();

	/* 4xx: no retry. */
	fake_start(bad_request, ARRAY_LEN(bad_request));
	fake_client(&l);
	assert_int_equal(fake_push(&l, id, sizeof(id), err, sizeof(err)), -1);
	assert_int_equal(l.err_kind, LAPI_E_REJECTED);
	assert_int_equal(fk.requests, 2);
	assert_non_null(strstr(err, "json: cannot unmarshal"));
	lapi_release(&l);
	fake_stop();
}

static void
test_fake_answers(void **unused)
{
	static const struct canned no_ids[] = { LOGIN_OK, { 201, "{}" },
	    { 201, "[]" }, { 201, "[\"12a\"]" }, { 201, "not json" },
	    { 200, "[\"1\"]" }, { 201, "[42]" } };
	static const struct canned twice_401[] = { LOGIN_OK,
	    { 401, "{\"code\":401,\"message\":\"signature is invalid\"}" },
	    LOGIN_OK,
	    { 401, "{\"code\":401,\"message\":\"signature is invalid\"}" } };
	static const struct canned bad_login[] = {
	    { 200, "{\"code\":200,\"expire\":\"2099-01-01T00:00:00Z\"}" },
	    { 200, "{\"code\":200,\"token\":\"has space\"}" },
	    { 200, "{\"code\":200,\"token\":\"tok.no.expire\"}" },
	    { 200, "" } };
	struct lapi l;
	char id[LAPI_ID_MAX], err[512];

	/* Anything but 201 with an array of ids is a failure, and none is
	 * retried: the alert may exist, a retry would add another. */
	fake_start(no_ids, ARRAY_LEN(no_ids));
	fake_client(&l);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(fake_push(&l, id, sizeof(id), err,
		    sizeof(err)), -1);
		assert_int_equal(l.err_kind, LAPI_E_PROTOCOL);
		assert_int_equal(l.attempts, i == 0 ? 2 : 1); /* login first */
		assert_string_equal(id, "");
	}
	assert_int_equal(fake_push(&l, id, sizeof(id), err, sizeof(err)), 0);
	assert_string_equal(id, "42");
	lapi_release(&l);
	fake_stop();

	/* A 401 after a fresh login: one more login, then give up. */
	fake_start(twice_401, ARRAY_LEN(twice_401));
	fake_client(&l);
	assert_int_equal(fake_push(&l, id, sizeof(id), err, sizeof(err)), -1);
	assert_int_equal(l.err_kind, LAPI_E_AUTH);
	assert_int_equal(fk.requests, 4);
	assert_int_equal(l.logins, 2);
	assert_non_null(strstr(err, "signature is invalid"));
	lapi_release(&l);
	fake_stop();

	/* Login answers without a usable token. */
	fake_start(bad_login, ARRAY_LEN(bad_login));
	fake_client(&l);
	assert_int_equal(lapi_login(&l, err, sizeof(err)), -1);
	assert_int_equal(l.err_kind, LAPI_E_PROTOCOL);
	assert_int_equal(lapi_login(&l, err, sizeof(err)), -1);
	assert_int_equal(lapi_login(&l, err, sizeof(err)), 0);
	assert_true(l.token_expire_ns == TIME_NONE);
	assert_string_equal(l.token, "tok.no.expire");
	assert_int_equal(lapi_login(&l, err, sizeof(err)), -1);
	assert_null(l.token);
	lapi_release(&l);
	fake_stop();
}

/* ---- against a real LAPI */

static void
push(struct lapi *l, const char *value, const char *scenario,
    uint64_t count, int64_t stop_ago, char *id, size_t idlen,
    int64_t *until)
{
	struct lapi_alert a;
	char err[512];
	int64_t now = clock_wall_ns();

	fill_events();
	memset(&a, 0, sizeof(a));
	a.scenario = scenario;
	a.message = "test ban: probing for sensitive files";
	a.value = value;
	a.duration_ns = 4 * HOUR;
	a.events_count = count;
	a.start_ns = now - stop_ago - 300 * SEC;
	a.stop_ns = now - stop_ago;
	a.events = sample_events;
	a.nevents = ARRAY_LEN(sample_events);
	if (lapi_push_ban(l, &a, id, idlen, until, err, sizeof(err)) != 0)
		fail_msg("push %s: %s [%s]", value, err,
		    lapi_errkind_name(l->err_kind));
}

static json_t *
alert_by_id(const char *query, const char *id)
{
	char cmd[256];
	json_t *r, *al, *found = NULL;
	size_t i;

	snprintf(cmd, sizeof(cmd), "alerts %s", query);
	r = serve_cmd(cmd);
	json_array_foreach(json_object_get(r, "alerts"), i, al) {
		char s[32];
		snprintf(s, sizeof(s), "%lld", (long long)json_integer_value(
		    json_object_get(al, "id")));
		if (strcmp(s, id) == 0)
			found = json_incref(al);
	}
	json_decref(r);
	return found;
}

static void
test_push_ip(void **unused)
{
	struct lapi l;
	char id[LAPI_ID_MAX];
	int64_t until = 0, now;
	json_t *ds, *d, *al, *m;
	size_t i;

	NEED_LAPI();
	client(&l, NULL);
	now = clock_wall_ns();
	push(&l, "203.0.113.7", "anomaly-detect/http-probing", 412, 0, id,
	    sizeof(id), &until);
	assert_true(id[0] >= '0' && id[0] <= '9');
	assert_true(until >= now + 4 * HOUR && until <= now + 4 * HOUR +
	    10 * SEC);
	assert_int_equal(l.logins, 1);
	assert_int_equal(l.err_kind, LAPI_OK);

	ds = bouncer_get("ip=203.0.113.7");
	d = decision_for(ds, "203.0.113.7");
	assert_non_null(d);
	assert_string_equal(sget(d, "scope"), "Ip");
	assert_string_equal(sget(d, "type"), "ban");
	assert_string_equal(sget(d, "origin"), "anomaly-detect");
	assert_string_equal(sget(d, "scenario"), "anomaly-detect/http-probing");
	assert_true(remaining(d) > 4 * HOUR - 60 * SEC &&
	    remaining(d) <= 4 * HOUR + 2 * SEC);
	json_decref(ds);

	al = alert_by_id("ip=203.0.113.7&limit=0", id);
	assert_non_null(al);
	assert_int_equal(json_integer_value(json_object_get(al,
	    "events_count")), 412);
	assert_int_equal(json_array_size(json_object_get(al, "events")), 10);
	assert_string_equal(sget(json_object_get(al, "source"), "scope"), "Ip");
	assert_string_equal(sget(al, "message"),
	    "test ban: probing for sensitive files");
	/* The escaped user agent arrived as sent. */
	int ua_ok = 0;
	json_array_foreach(json_object_get(json_array_get(json_object_get(al,
	    "events"), 0), "meta"), i, m)
		if (strcmp(sget(m, "key"), "http_user_agent") == 0 &&
		    strcmp(sget(m, "value"), "Mozilla/5.0 \\xff\\xfe\\x01 "
		    "\\x1b[2J evil") == 0)
			ua_ok = 1;
	assert_true(ua_ok);
	json_decref(al);

	/* Last request 3 h ago: the ban still lasts 4 h from now (LAPI
	 * counts from stop_at; the client makes up for it). */
	push(&l, "198.51.100.10", "anomaly-detect/http-probing", 3, 3 * HOUR,
	    id, sizeof(id), &until);
	ds = bouncer_get("ip=198.51.100.10");
	d = decision_for(ds, "198.51.100.10");
	assert_non_null(d);
	assert_true(remaining(d) > 4 * HOUR - 60 * SEC);
	assert_true(until >= now + 4 * HOUR);
	json_decref(ds);
	assert_int_equal(l.logins, 1); /* the token was reused */
	lapi_release(&l);
}

static void
test_push_range(void **unused)
{
	struct lapi l;
	char id[LAPI_ID_MAX], cmd[64];
	int64_t until;
	json_t *r, *d, *ds;

	NEED_LAPI();
	client(&l, NULL);
	push(&l, "203.0.113.0/24", "anomaly-detect/distributed", 5000, 0, id,
	    sizeof(id), &until);
	snprintf(cmd, sizeof(cmd), "decisions-range 203.0.113.0/24");
	r = serve_cmd(cmd);
	d = decision_for(json_object_get(r, "decisions"), "203.0.113.0/24");
	assert_non_null(d);
	assert_string_equal(sget(d, "scope"), "Range");
	assert_string_equal(sget(d, "scenario"), "anomaly-detect/distributed");
	assert_string_equal(sget(d, "origin"), "anomaly-detect");
	json_decref(r);
	/* Bouncers asking for one address of it see the range. */
	ds = bouncer_get("ip=203.0.113.99");
	assert_non_null(decision_for(ds, "203.0.113.0/24"));
	json_decref(ds);
	json_t *al = alert_by_id("range=203.0.113.0/24&limit=0", id);
	assert_non_null(al);
	assert_string_equal(sget(json_object_get(al, "source"), "scope"),
	    "Range");
	assert_int_equal(json_integer_value(json_object_get(al,
	    "events_count")), 5000);
	json_decref(al);
	lapi_release(&l);
}

static void
test_wrong_password(void **unused)
{
	static const char wrong[] = "Wr0ng-Passw0rd-zzq";
	struct lapi l;
	struct lapi_alert a;
	char err[512], id[LAPI_ID_MAX] = "unchanged";
	int64_t until = 42;
	json_t *ds;

	NEED_LAPI();
	client(&l, wrong);
	memset(&a, 0, sizeof(a));
	a.scenario = "anomaly-detect/x";
	a.message = "m";
	a.value = "192.0.2.77";
	a.duration_ns = HOUR;
	a.events_count = 1;
	a.start_ns = a.stop_ns = clock_wall_ns();
	assert_int_equal(lapi_push_ban(&l, &a, id, sizeof(id), &until, err,
	    sizeof(err)), -1);
	assert_int_equal(l.err_kind, LAPI_E_AUTH);
	assert_int_equal(l.err_status, 401);
	assert_non_null(strstr(err, "refused"));
	assert_non_null(strstr(err, srv.machine));
	assert_non_null(strstr(err, "incorrect Username or Password"));
	assert_null(strstr(err, wrong));
	assert_null(strstr(err, srv.password));
	assert_string_equal(id, "");
	assert_true(until == 42);
	assert_int_equal(l.attempts, 1); /* a 401 is not retried */
	print_message("wrong password: %s\n", err);
	ds = bouncer_get("ip=192.0.2.77");
	assert_int_equal(json_array_size(ds), 0);
	json_decref(ds);
	lapi_release(&l);
}

static void
test_token_renewal(void **unused)
{
	struct lapi l;
	char id[LAPI_ID_MAX], err[512];
	int64_t until;
	size_t n;

	NEED_LAPI();
	client(&l, NULL);
	assert_int_equal(lapi_heartbeat(&l, err, sizeof(err)), 0);
	assert_int_equal(l.logins, 1);
	assert_true(l.token_expire_ns > clock_wall_ns() + 10 * 60 * SEC);

	/* A tampered signature: 401, log in again, send again. */
	n = strlen(l.token);
	l.token[n - 2] = l.token[n - 2] == 'A' ? 'B' : 'A';
	l.token[n - 5] = l.token[n - 5] == 'A' ? 'B' : 'A';
	push(&l, "192.0.2.10", "anomaly-detect/x", 2, 0, id, sizeof(id),
	    &until);
	assert_int_equal(l.logins, 2);
	assert_int_equal(l.attempts, 3); /* 401, login, 201 */

	/* Garbage instead of a token. */
	free(l.token);
	l.token = xstrdup("not.a.jwt");
	assert_int_equal(lapi_heartbeat(&l, err, sizeof(err)), 0);
	assert_int_equal(l.logins, 3);

	/* About to expire: renewed before the request, no 401 needed. */
	l.token_expire_ns = clock_wall_ns() + 30 * SEC;
	assert_int_equal(lapi_heartbeat(&l, err, sizeof(err)), 0);
	assert_int_equal(l.logins, 4);
	assert_int_equal(l.attempts, 2); /* login, heartbeat */
	assert_true(l.token_expire_ns > clock_wall_ns() + 10 * 60 * SEC);
	lapi_release(&l);
}

static void
test_lapi_down(void **unused)
{
	struct lapi l;
	struct lapi_alert a;
	char err[512], id[LAPI_ID_MAX] = "unchanged";
	int64_t until = 42, t0, took;
	json_t *r, *ds;

	NEED_LAPI();
	client(&l, NULL);
	assert_int_equal(lapi_heartbeat(&l, err, sizeof(err)), 0);
	r = serve_cmd("stop");
	json_decref(r);

	memset(&a, 0, sizeof(a));
	a.scenario = "anomaly-detect/x";
	a.message = "m";
	a.value = "192.0.2.88";
	a.duration_ns = HOUR;
	a.events_count = 1;
	a.start_ns = a.stop_ns = clock_wall_ns();
	t0 = clock_mono_ns();
	assert_int_equal(lapi_push_ban(&l, &a, id, sizeof(id), &until, err,
	    sizeof(err)), -1);
	took = clock_mono_ns() - t0;
	assert_int_equal(l.err_kind, LAPI_E_NETWORK);
	assert_int_equal(l.attempts, 3); /* 1 + 2 retries, then gave up */
	assert_true(took < 5 * SEC);
	assert_string_equal(id, ""); /* nothing to record */
	assert_true(until == 42);
	assert_null(strstr(err, srv.password));
	assert_null(strstr(err, l.token));
	print_message("LAPI down: %s (%.2f s)\n", err, (double)took / 1e9);

	r = serve_cmd("start");
	json_decref(r);
	/* LAPI made a new signing key at start: the old token gets a 401
	 * and the client logs in again by itself. */
	push(&l, "192.0.2.88", "anomaly-detect/x", 1, 0, id, sizeof(id),
	    &until);
	assert_true(id[0] != '\0');
	ds = bouncer_get("ip=192.0.2.88");
	assert_non_null(decision_for(ds, "192.0.2.88"));
	json_decref(ds);
	print_message("after restart: %u logins\n", l.logins);
	lapi_release(&l);
}

static void
test_delete(void **unused)
{
	struct lapi l;
	char id[LAPI_ID_MAX], err[512];
	int64_t until, deleted = -1;
	json_t *ds;

	NEED_LAPI();
	client(&l, NULL);
	push(&l, "198.51.100.150", "anomaly-detect/x", 1, 0, id, sizeof(id),
	    &until);
	push(&l, "198.51.100.128/25", "anomaly-detect/x", 1, 0, id, sizeof(id),
	    &until);
	/* Only the address's own decision goes, not the range around it. */
	assert_int_equal(lapi_delete_decisions(&l, "198.51.100.150", &deleted, err,
	    sizeof(err)), 0);
	assert_true(deleted == 1);
	ds = bouncer_get("ip=198.51.100.150");
	assert_null(decision_for(ds, "198.51.100.150"));
	assert_non_null(decision_for(ds, "198.51.100.128/25"));
	json_decref(ds);
	assert_int_equal(lapi_delete_decisions(&l, "198.51.100.150", &deleted, err,
	    sizeof(err)), 0);
	assert_true(deleted == 0);
	assert_int_equal(lapi_delete_decisions(&l, "198.51.100.128/25", &deleted,
	    err, sizeof(err)), 0);
	assert_true(deleted == 1);
	ds = bouncer_get("ip=198.51.100.150");
	assert_int_equal(json_array_size(ds), 0);
	json_decref(ds);
	assert_int_equal(lapi_delete_decisions(&l, "not-an-ip", &deleted, err,
	    sizeof(err)), -1);
	assert_int_equal(l.err_kind, LAPI_E_USAGE);
	assert_int_equal(l.attempts, 0);
	lapi_release(&l);
}

static void
test_list(void **unused)
{
	struct lapi l;
	struct lapi_decisions d;
	char id[LAPI_ID_MAX], err[512];
	int64_t until, now = clock_wall_ns();
	int seen = 0;

	NEED_LAPI();
	client(&l, NULL);
	push(&l, "198.51.100.61", "anomaly-detect/list-a", 1, 0, id, sizeof(id),
	    &until);
	push(&l, "198.51.100.62", "anomaly-detect/list-b", 1, 0, id, sizeof(id),
	    &until);
	lapi_decisions_init(&d);
	assert_int_equal(lapi_list_decisions(&l, NULL, &d, err, sizeof(err)),
	    0);
	for (size_t i = 0; i < d.n; i++) {
		if (strcmp(d.v[i].value, "198.51.100.61") == 0) {
			assert_string_equal(d.v[i].scenario,
			    "anomaly-detect/list-a");
			assert_string_equal(d.v[i].scope, "Ip");
			assert_string_equal(d.v[i].type, "ban");
			assert_true(d.v[i].until_ns > now + 4 * HOUR - 60 * SEC);
			assert_true(d.v[i].id > 0 && d.v[i].alert_id > 0);
			seen |= 1;
		}
		if (strcmp(d.v[i].value, "198.51.100.62") == 0)
			seen |= 2;
	}
	assert_int_equal(seen, 3);
	lapi_decisions_release(&d);
	assert_int_equal(lapi_list_decisions(&l, "198.51.100.62", &d, err,
	    sizeof(err)), 0);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].value, "198.51.100.62");
	lapi_decisions_release(&d);
	lapi_release(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alert_json),
		cmocka_unit_test(test_go_duration),
		cmocka_unit_test(test_parse_alerts),
		cmocka_unit_test(test_init_checks),
		cmocka_unit_test(test_fake_retries),
		cmocka_unit_test(test_fake_answers),
		cmocka_unit_test(test_push_ip),
		cmocka_unit_test(test_push_range),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_token_renewal),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_lapi_down),
	};

	log_init("test_lapi", 0);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
