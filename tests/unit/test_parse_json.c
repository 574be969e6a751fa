/*
 * json_parse with each builtin map and with generic maps: golden records
 * from realistic lines, fallbacks, skip reasons, and agreement between
 * the Traefik and VictoriaLogs renderings of the shared scenarios.
 */
#include <dirent.h>

#include "testutil.h"

/* 2026-11-20T09:00:00Z */
#define T0 INT64_C(1795165200000000000)

struct ctx {
	struct json_map *m;
	struct buf scratch;
	struct logrec r;
	char *copy; /* the line, exactly sized, so ASan sees overreads */
};

static void
ctx_release(struct ctx *c)
{
	json_map_free(c->m);
	buf_release(&c->scratch);
	free(c->copy);
	memset(c, 0, sizeof(*c));
}

static int
run(struct ctx *c, const char *line)
{
	size_t n = strlen(line);

	free(c->copy);
	c->copy = xmalloc(n != 0 ? n : 1);
	memcpy(c->copy, line, n);
	return json_parse(c->m, c->copy, n, &c->r, &c->scratch);
}

static int
parse_with(int fmt, const char *line, struct ctx *c)
{
	if (c->m == NULL) {
		c->m = json_map_builtin(fmt);
		assert_non_null(c->m);
		buf_init(&c->scratch);
	}
	return run(c, line);
}

/* One-shot: the skip reason for line under fmt. */
static int
reason(int fmt, const char *line)
{
	struct ctx c = { 0 };
	int rc = parse_with(fmt, line, &c);

	ctx_release(&c);
	return rc;
}

static const char traefik_line[] =
    "{\"ClientAddr\":\"203.0.113.7:51234\",\"ClientHost\":\"203.0.113.7\","
    "\"ClientPort\":\"51234\",\"ClientUsername\":\"-\","
    "\"DownstreamContentSize\":5518,\"DownstreamStatus\":200,"
    "\"Duration\":47123456,\"OriginContentSize\":5518,"
    "\"OriginDuration\":46000000,\"OriginStatus\":200,\"Overhead\":1123456,"
    "\"RequestAddr\":\"shop.example.com\",\"RequestContentSize\":0,"
    "\"RequestCount\":42,\"RequestHost\":\"shop.example.com\","
    "\"RequestMethod\":\"GET\",\"RequestPath\":\"/api/v1/products?page=25\","
    "\"RequestPort\":\"-\",\"RequestProtocol\":\"HTTP/2.0\","
    "\"RequestScheme\":\"https\",\"RetryAttempts\":0,"
    "\"RouterName\":\"shop@file\",\"ServiceAddr\":\"10.0.0.5:8080\","
    "\"ServiceName\":\"shop@file\",\"ServiceURL\":{\"Scheme\":\"http\","
    "\"Opaque\":\"\",\"User\":null,\"Host\":\"10.0.0.5:8080\",\"Path\":\"\","
    "\"ForceQuery\":false},"
    "\"StartLocal\":\"2026-11-20T10:00:00.123456789+01:00\","
    "\"StartUTC\":\"2026-11-20T09:00:00.123456789Z\","
    "\"entryPointName\":\"websecure\",\"level\":\"info\",\"msg\":\"\","
    "\"request_Referer\":\"https://shop.example.com/\","
    "\"request_User-Agent\":\"Mozilla/5.0 (X11; Linux x86_64) \\\"q\\\"\","
    "\"request_X-Forwarded-For\":\"198.51.100.1, 203.0.113.9\","
    "\"time\":\"2026-11-20T09:00:01Z\"}";

static void
test_traefik(void **state)
{
	struct ctx c = { 0 };

	(void)state;
	assert_int_equal(parse_with(FMT_TRAEFIK, traefik_line, &c), 0);
	assert_true(c.r.time_ns == T0 + 123456789);
	assert_span_equal(c.r.remote_addr, "203.0.113.7");
	assert_span_equal(c.r.xff, "198.51.100.1, 203.0.113.9");
	assert_span_equal(c.r.method, "GET");
	assert_span_equal(c.r.uri, "/api/v1/products?page=25");
	assert_span_equal(c.r.host, "shop.example.com");
	assert_span_equal(c.r.user_agent, "Mozilla/5.0 (X11; Linux x86_64) "
	    "\"q\"");
	assert_span_equal(c.r.referer, "https://shop.example.com/");
	assert_int_equal(c.r.status, 200);
	assert_int_equal(c.r.body_bytes, 5518);
	assert_int_equal(c.r.request_time_ns, 47123456);

	/* Fallbacks: ClientAddr (with its port: the caller strips it),
	 * OriginStatus, StartLocal then time; header names in any case. */
	assert_int_equal(run(&c, "{\"ClientAddr\":\"[2001:db8::1]:443\","
	    "\"OriginStatus\":502,\"StartLocal\":"
	    "\"2026-11-20T10:00:00.5+01:00\",\"time\":\"2026-11-20T09:00:09Z\","
	    "\"request_user-agent\":\"lower\",\"REQUEST_REFERER\":\"no\","
	    "\"request_REFERER\":\"upper\","
	    "\"request_x-forwarded-for\":\"1.1.1.1\"}"), 0);
	assert_span_equal(c.r.remote_addr, "[2001:db8::1]:443");
	assert_int_equal(c.r.status, 502);
	assert_true(c.r.time_ns == T0 + 500000000);
	assert_span_equal(c.r.user_agent, "lower");
	assert_span_equal(c.r.referer, "upper"); /* the prefix is exact */
	assert_span_equal(c.r.xff, "1.1.1.1");
	assert_span_equal(c.r.method, "");
	assert_int_equal(c.r.body_bytes, -1);
	assert_int_equal(c.r.request_time_ns, -1);

	assert_int_equal(run(&c, "{\"ClientHost\":\"\",\"ClientAddr\":"
	    "\"1.2.3.4:5\",\"time\":\"2026-11-20T09:00:09Z\"}"), 0);
	assert_span_equal(c.r.remote_addr, "1.2.3.4:5");
	assert_true(c.r.time_ns == T0 + 9000000000LL);
	assert_int_equal(c.r.status, 0);

	/* DownstreamStatus 0 (nothing sent) defers to OriginStatus, or is
	 * absent. */
	assert_int_equal(run(&c, "{\"ClientHost\":\"1.2.3.4\",\"StartUTC\":"
	    "\"2026-11-20T09:00:00Z\",\"DownstreamStatus\":0,"
	    "\"OriginStatus\":499}"), 0);
	assert_int_equal(c.r.status, 499);
	assert_int_equal(run(&c, "{\"ClientHost\":\"1.2.3.4\",\"StartUTC\":"
	    "\"2026-11-20T09:00:00Z\",\"DownstreamStatus\":0}"), 0);
	assert_int_equal(c.r.status, 0);
	ctx_release(&c);
}

static const char apisix_line[] =
    "{\"start_time\":1795165200123,\"client_ip\":\"192.0.2.44\","
    "\"route_id\":\"1\",\"service_id\":\"\",\"server\":{\"hostname\":"
    "\"apisix-0\",\"version\":\"3.9.0\"},\"request\":{\"method\":\"GET\","
    "\"uri\":\"/path?x=1\",\"url\":\"http://api.example.com:9080/path?x=1\","
    "\"size\":87,\"querystring\":{\"x\":\"1\"},\"headers\":{\"host\":"
    "\"api.example.com:9080\",\"user-agent\":\"curl/8.5.0\",\"accept\":"
    "\"*/*\",\"referer\":\"https://example.org/\",\"x-forwarded-for\":"
    "\"192.0.2.44\"}},\"response\":{\"status\":404,\"size\":512,"
    "\"headers\":{\"content-type\":\"text/plain\",\"server\":"
    "\"APISIX/3.9.0\"}},\"upstream\":\"10.0.0.7:80\",\"latency\":12.3,"
    "\"upstream_latency\":10,\"apisix_latency\":2.3}";

static void
test_apisix(void **state)
{
	struct ctx c = { 0 };

	(void)state;
	assert_int_equal(parse_with(FMT_APISIX, apisix_line, &c), 0);
	assert_true(c.r.time_ns == T0 + 123000000);
	assert_span_equal(c.r.remote_addr, "192.0.2.44");
	assert_span_equal(c.r.xff, "192.0.2.44");
	assert_span_equal(c.r.method, "GET");
	assert_span_equal(c.r.uri, "/path?x=1");
	assert_span_equal(c.r.host, "api.example.com:9080");
	assert_span_equal(c.r.user_agent, "curl/8.5.0");
	assert_span_equal(c.r.referer, "https://example.org/");
	assert_int_equal(c.r.status, 404);
	assert_int_equal(c.r.body_bytes, 512); /* response, not request */
	assert_int_equal(c.r.request_time_ns, 12300000);

	/* No Host header: the host of the URL, without port or userinfo. */
	static const struct {
		const char *url, *host;
	} urls[] = {
		{ "http://api.example.com:9080/p", "api.example.com" },
		{ "https://u:pw@h.example/p?q=@", "h.example" },
		{ "http://[2001:db8::1]:9080/", "[2001:db8::1]" },
		{ "http://h", "h" },
		{ "http://h?x", "h" },
		{ "/relative/only", "" },
		{ "http://[broken/", "" },
		{ "://nohost", "" },
	};
	for (size_t i = 0; i < ARRAY_LEN(urls); i++) {
		char line[256];
		snprintf(line, sizeof(line), "{\"start_time\":1795165200000,"
		    "\"client_ip\":\"1.2.3.4\",\"request\":{\"url\":\"%s\","
		    "\"headers\":{\"Host\":\"-\",\"User-Agent\":\"UP\"}},"
		    "\"latency\":0.05}", urls[i].url);
		assert_int_equal(run(&c, line), 0);
		assert_span_equal(c.r.host, urls[i].host);
		assert_span_equal(c.r.user_agent, "UP");
		assert_int_equal(c.r.request_time_ns, 50000);
		assert_true(c.r.time_ns == T0);
	}
	ctx_release(&c);
}

static const char caddy_line[] =
    "{\"level\":\"info\",\"ts\":1795165200.5,\"logger\":"
    "\"http.log.access.log0\",\"msg\":\"handled request\",\"request\":"
    "{\"remote_ip\":\"2001:db8::1\",\"remote_port\":\"41234\",\"client_ip\":"
    "\"198.51.100.77\",\"proto\":\"HTTP/2.0\",\"method\":\"POST\",\"host\":"
    "\"api.example.com\",\"uri\":\"/login?next=%2F\",\"headers\":"
    "{\"User-Agent\":[\"python-requests/2.31\",\"second\"],\"Accept\":"
    "[\"*/*\"],\"X-Forwarded-For\":[\"198.51.100.77\"],\"Content-Length\":"
    "[\"43\"]},\"tls\":{\"resumed\":false,\"version\":772,\"cipher_suite\":"
    "4865,\"proto\":\"h2\",\"server_name\":\"api.example.com\"}},"
    "\"bytes_read\":43,\"user_id\":\"\",\"duration\":0.000929,\"size\":10900,"
    "\"status\":401,\"resp_headers\":{\"Server\":[\"Caddy\"],"
    "\"Content-Type\":[\"application/json\"]}}";

static void
test_caddy(void **state)
{
	struct ctx c = { 0 };

	(void)state;
	assert_int_equal(parse_with(FMT_CADDY, caddy_line, &c), 0);
	assert_true(c.r.time_ns == T0 + 500000000);
	/* remote_ip, not Caddy's own client_ip */
	assert_span_equal(c.r.remote_addr, "2001:db8::1");
	assert_span_equal(c.r.xff, "198.51.100.77");
	assert_span_equal(c.r.method, "POST");
	assert_span_equal(c.r.uri, "/login?next=%2F");
	assert_span_equal(c.r.host, "api.example.com");
	assert_span_equal(c.r.user_agent, "python-requests/2.31");
	assert_span_equal(c.r.referer, "");
	assert_int_equal(c.r.status, 401);
	assert_int_equal(c.r.body_bytes, 10900);
	assert_int_equal(c.r.request_time_ns, 929000);

	/* Older Caddy: remote_addr with a port; time_format iso8601;
	 * header names as a client sent them. */
	assert_int_equal(run(&c, "{\"ts\":\"2026-11-20T09:00:00.25Z\","
	    "\"request\":{\"remote_addr\":\"10.1.2.3:5555\",\"headers\":"
	    "{\"user-agent\":[\"curl/8\"],\"referer\":[\"r\"],"
	    "\"x-forwarded-for\":[\"5.6.7.8, 9.9.9.9\"]}},\"duration\":1.5e-3,"
	    "\"status\":200,\"size\":0}"), 0);
	assert_true(c.r.time_ns == T0 + 250000000);
	assert_span_equal(c.r.remote_addr, "10.1.2.3:5555");
	assert_span_equal(c.r.user_agent, "curl/8");
	assert_span_equal(c.r.referer, "r");
	assert_span_equal(c.r.xff, "5.6.7.8, 9.9.9.9");
	assert_int_equal(c.r.request_time_ns, 1500000);
	assert_int_equal(c.r.body_bytes, 0);
	/* remote_ip is preferred whatever the order. */
	assert_int_equal(run(&c, "{\"ts\":1795165200,\"request\":"
	    "{\"remote_ip\":\"1.1.1.1\",\"remote_addr\":\"2.2.2.2:1\"}}"), 0);
	assert_span_equal(c.r.remote_addr, "1.1.1.1");
	assert_int_equal(run(&c, "{\"ts\":1795165200,\"request\":"
	    "{\"remote_addr\":\"2.2.2.2:1\",\"remote_ip\":\"1.1.1.1\"}}"), 0);
	assert_span_equal(c.r.remote_addr, "1.1.1.1");
	ctx_release(&c);
}

static void
test_vlogs(void **state)
{
	struct ctx c = { 0 };

	(void)state;
	assert_int_equal(parse_with(FMT_VLOGS, "{\"_time\": "
	    "\"2026-11-20T09:00:00.427000Z\", \"_msg\": \"GET /x 200\", "
	    "\"remote_addr\": \"119.161.102.115\", \"http_x_forwarded_for\": "
	    "\"-\", \"request_method\": \"GET\", \"request_uri\": "
	    "\"/api/v1/products?page=19\", \"status\": \"200\", "
	    "\"body_bytes_sent\": \"8260\", \"http_user_agent\": "
	    "\"acme-inventory-sync/3.4 (+ops@acme.example)\", "
	    "\"http_referer\": \"-\", \"request_time\": \"0.013\", "
	    "\"host\": \"shop.example.com\", \"service\": \"shop\", "
	    "\"client_ip\": \"9.9.9.9\"}", &c), 0);
	assert_true(c.r.time_ns == T0 + 427000000);
	assert_span_equal(c.r.remote_addr, "119.161.102.115");
	assert_span_equal(c.r.xff, "");
	assert_span_equal(c.r.referer, "");
	assert_span_equal(c.r.method, "GET");
	assert_span_equal(c.r.uri, "/api/v1/products?page=19");
	assert_span_equal(c.r.user_agent,
	    "acme-inventory-sync/3.4 (+ops@acme.example)");
	assert_span_equal(c.r.host, "shop.example.com");
	assert_int_equal(c.r.status, 200);
	assert_int_equal(c.r.body_bytes, 8260);
	assert_int_equal(c.r.request_time_ns, 13000000);

	/* Numbers as numbers, "-" and null for absent numbers, epoch time. */
	assert_int_equal(run(&c, "{\"_time\":1795165200.25,\"remote_addr\":"
	    "\"::1\",\"status\":301,\"body_bytes_sent\":\"-\",\"request_time\":"
	    "null,\"http_user_agent\":\"\"}"), 0);
	assert_true(c.r.time_ns == T0 + 250000000);
	assert_int_equal(c.r.status, 301);
	assert_int_equal(c.r.body_bytes, -1);
	assert_int_equal(c.r.request_time_ns, -1);
	assert_span_equal(c.r.user_agent, "");
	assert_int_equal(run(&c, "{\"_time\":\"1795165200123\",\"remote_addr\":"
	    "\"::1\",\"request_time\":0,\"body_bytes_sent\":0}"), 0);
	assert_true(c.r.time_ns == T0 + 123000000);
	assert_int_equal(c.r.request_time_ns, 0);
	assert_int_equal(c.r.body_bytes, 0);
	ctx_release(&c);
}

static void
test_generic(void **state)
{
	static const char *spec[] = {
		"_time=ts", " client_ip = ip ", "request_uri=req.path",
		"request_method=req.verb", "status=code", "request_time=dur",
		"http_user_agent=headers.ua", "remote_addr=peer",
	};
	struct ctx c = { 0 };
	char err[512];

	(void)state;
	c.m = json_map_generic(spec, ARRAY_LEN(spec), err, sizeof(err));
	assert_non_null(c.m);
	buf_init(&c.scratch);
	assert_int_equal(run(&c, "{\"ts\":\"2026-11-20T09:00:00Z\",\"peer\":"
	    "\"10.0.0.1\",\"ip\":\"203.0.113.5\",\"req\":{\"path\":\"/a?b\","
	    "\"verb\":\"PUT\"},\"code\":\"503\",\"dur\":2.5,"
	    "\"headers\":{\"ua\":[\"x\"]},\"body_bytes_sent\":77,"
	    "\"host\":\"h\","
	    "\"_time\":\"junk\",\"request_uri\":\"/not-this\"}"), 0);
	assert_true(c.r.time_ns == T0);
	/* client_ip came first in the spec: it is tried first. */
	assert_span_equal(c.r.remote_addr, "203.0.113.5");
	assert_span_equal(c.r.uri, "/a?b");
	assert_span_equal(c.r.method, "PUT");
	assert_int_equal(c.r.status, 503);
	assert_int_equal(c.r.request_time_ns, 2500000000LL);
	assert_span_equal(c.r.user_agent, "x");
	/* unnamed fields keep their usual names */
	assert_int_equal(c.r.body_bytes, 77);
	assert_span_equal(c.r.host, "h");
	/* the second address entry is a fallback */
	assert_int_equal(run(&c, "{\"ts\":1795165200,\"peer\":\"10.0.0.1\"}"),
	    0);
	assert_span_equal(c.r.remote_addr, "10.0.0.1");
	/* named fields do not fall back to the usual name */
	assert_int_equal(run(&c, "{\"_time\":\"2026-11-20T09:00:00Z\","
	    "\"remote_addr\":\"1.2.3.4\"}"), SKIP_TIME);
	ctx_release(&c);

	/* No spec at all: the VictoriaLogs names. */
	c.m = json_map_generic(NULL, 0, err, sizeof(err));
	assert_non_null(c.m);
	buf_init(&c.scratch);
	assert_int_equal(run(&c, "{\"_time\":\"2026-11-20T09:00:00Z\","
	    "\"remote_addr\":\"1.2.3.4\",\"status\":200}"), 0);
	assert_int_equal(c.r.status, 200);
	ctx_release(&c);

	/* A key taken by the user is not also a default. */
	static const char *swap[] = { "host=status" };
	c.m = json_map_generic(swap, 1, err, sizeof(err));
	assert_non_null(c.m);
	buf_init(&c.scratch);
	assert_int_equal(run(&c, "{\"_time\":\"2026-11-20T09:00:00Z\","
	    "\"remote_addr\":\"1.2.3.4\",\"status\":\"h.example\"}"), 0);
	assert_span_equal(c.r.host, "h.example");
	assert_int_equal(c.r.status, 0);
	ctx_release(&c);
}

static void
test_generic_errors(void **state)
{
	static const struct {
		const char *entry, *msg;
	} bad[] = {
		{ "nokey", "expected canonical=key" },
		{ "bogus=x", "unknown field \"bogus\"" },
		{ "=x", "unknown field \"\"" },
		{ "_time=", "empty key" },
		{ "_time=  ", "empty key" },
		{ "Status=code", "unknown field \"Status\"" },
	};
	char err[512];
	const char *two[] = { "_time=a", "host=a" };
	const char *many[40];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		assert_null(json_map_generic(&bad[i].entry, 1, err,
		    sizeof(err)));
		if (strstr(err, bad[i].msg) == NULL)
			fail_msg("%s: got \"%s\"", bad[i].entry, err);
	}
	/* The list of known names helps the user. */
	const char *b = "bogus=x";
	assert_null(json_map_generic(&b, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "_time, remote_addr"));
	assert_null(json_map_generic(two, 2, err, sizeof(err)));
	assert_non_null(strstr(err, "already mapped to _time"));
	for (size_t i = 0; i < ARRAY_LEN(many); i++)
		many[i] = "host=h";
	assert_null(json_map_generic(many, ARRAY_LEN(many), err, sizeof(err)));
	assert_non_null(strstr(err, "too many"));
	struct buf k = BUF_INIT;
	buf_addstr(&k, "host=");
	for (int i = 0; i < 257; i++)
		buf_addch(&k, 'k');
	const char *kp = k.p;
	assert_null(json_map_generic(&kp, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "longer than 256"));
	buf_release(&k);
	/* A tiny error buffer is not overrun. */
	char small[8];
	assert_null(json_map_generic(&b, 1, small, sizeof(small)));
	assert_int_equal(strlen(small), 7);
}

static void
test_builtin_null(void **state)
{
	(void)state;
	assert_null(json_map_builtin(FMT_AUTO));
	assert_null(json_map_builtin(FMT_COMBINED));
	assert_null(json_map_builtin(FMT_NGINX_EXT));
	assert_null(json_map_builtin(FMT_NGINX_CUSTOM));
	assert_null(json_map_builtin(FMT__COUNT));
	assert_null(json_map_builtin(-1));
	json_map_free(NULL);
	struct json_map *m = json_map_builtin(FMT_JSON);
	assert_non_null(m);
	json_map_free(m);
}

#define VL_OK "\"_time\":\"2026-11-20T09:00:00Z\",\"remote_addr\":\"1.2.3.4\""

static void
test_skips(void **state)
{
	(void)state;
	/* not one JSON object */
	assert_int_equal(reason(FMT_VLOGS, ""), SKIP_JSON);
	assert_int_equal(reason(FMT_VLOGS, "{" VL_OK), SKIP_JSON);
	assert_int_equal(reason(FMT_VLOGS, "{" VL_OK "}x"), SKIP_JSON);
	assert_int_equal(reason(FMT_VLOGS, "[{" VL_OK "}]"), SKIP_JSON);
	assert_int_equal(reason(FMT_VLOGS, "{" VL_OK ",}"), SKIP_JSON);
	assert_int_equal(reason(FMT_VLOGS, "1.2.3.4 - - [20/Nov/2026:09:00:00 "
	    "+0000] \"GET / HTTP/1.1\" 200 1"), SKIP_JSON);
	/* time */
	assert_int_equal(reason(FMT_VLOGS, "{\"remote_addr\":\"1.2.3.4\"}"),
	    SKIP_TIME);
	assert_int_equal(reason(FMT_VLOGS, "{\"_time\":\"-\",\"remote_addr\":"
	    "\"1.2.3.4\"}"), SKIP_TIME);
	assert_int_equal(reason(FMT_VLOGS, "{\"_time\":\"yesterday\","
	    "\"remote_addr\":\"1.2.3.4\"}"), SKIP_TIME);
	assert_int_equal(reason(FMT_VLOGS, "{\"_time\":true,"
	    "\"remote_addr\":\"1.2.3.4\"}"), SKIP_TIME);
	assert_int_equal(reason(FMT_VLOGS, "{\"_time\":-5,"
	    "\"remote_addr\":\"1.2.3.4\"}"), SKIP_TIME);
	assert_int_equal(reason(FMT_VLOGS, "{\"_time\":{\"a\":1},"
	    "\"remote_addr\":\"1.2.3.4\"}"), SKIP_TIME);
	/* A bad preferred time is not papered over by a fallback. */
	assert_int_equal(reason(FMT_TRAEFIK, "{\"ClientHost\":\"1.2.3.4\","
	    "\"StartUTC\":\"2026-13-45T99:00:00Z\",\"time\":"
	    "\"2026-11-20T09:00:00Z\"}"), SKIP_TIME);
	/* address */
	assert_int_equal(reason(FMT_VLOGS, "{\"_time\":\"2026-11-20T09:00:00Z\""
	    "}"), SKIP_ADDR);
	assert_int_equal(reason(FMT_VLOGS, "{\"_time\":"
	    "\"2026-11-20T09:00:00Z\",\"remote_addr\":\"-\"}"), SKIP_ADDR);
	assert_int_equal(reason(FMT_CADDY, "{\"ts\":1795165200,\"request\":"
	    "{\"client_ip\":\"1.2.3.4\"}}"), SKIP_ADDR);
	/* status */
	static const char *bad_status[] = {
		"42", "1000", "-200", "\"abc\"", "\"2OO\"", "200.5", "true",
		"\"\\u0032\\u0030\\u0030x\"", "99",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad_status); i++) {
		char line[256];
		snprintf(line, sizeof(line), "{" VL_OK ",\"status\":%s}",
		    bad_status[i]);
		if (reason(FMT_VLOGS, line) != SKIP_STATUS)
			fail_msg("status %s accepted", bad_status[i]);
	}
	static const char *ok_status[] = { "100", "999", "\"404\"", "2e2",
		"0", "\"0\"", "null", "\"-\"", "\"\"" };
	for (size_t i = 0; i < ARRAY_LEN(ok_status); i++) {
		char line[256];
		snprintf(line, sizeof(line), "{" VL_OK ",\"status\":%s}",
		    ok_status[i]);
		if (reason(FMT_VLOGS, line) != 0)
			fail_msg("status %s refused", ok_status[i]);
	}
	/* sizes and durations */
	static const char *bad_num[] = {
		"\"body_bytes_sent\":-1", "\"body_bytes_sent\":\"12k\"",
		"\"body_bytes_sent\":1.5", "\"body_bytes_sent\":true",
		"\"body_bytes_sent\":\"1 2\"", "\"body_bytes_sent\":\" 12\"",
		"\"body_bytes_sent\":99999999999999999999",
		"\"request_time\":\"-0.5\"", "\"request_time\":\"0,5\"",
		"\"request_time\":\"1e400\"", "\"request_time\":10000000000",
		"\"request_time\":\"abc\"", "\"request_time\":\".\"",
		"\"request_time\":\"1e\"",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad_num); i++) {
		char line[256];
		snprintf(line, sizeof(line), "{" VL_OK ",%s}", bad_num[i]);
		if (reason(FMT_VLOGS, line) != SKIP_NUMBER)
			fail_msg("%s accepted", bad_num[i]);
	}
	assert_int_equal(reason(FMT_TRAEFIK, "{\"ClientHost\":\"1.2.3.4\","
	    "\"StartUTC\":\"2026-11-20T09:00:00Z\",\"Duration\":1.5}"), 0);
	assert_int_equal(reason(FMT_TRAEFIK, "{\"ClientHost\":\"1.2.3.4\","
	    "\"StartUTC\":\"2026-11-20T09:00:00Z\",\"Duration\":-1}"),
	    SKIP_NUMBER);
}

/* Conversions of numbers: exact decimal scaling, truncation past the
 * unit, exponents. */
static void
test_numbers(void **state)
{
	static const struct {
		const char *v;
		int64_t ns;
	} rt[] = {
		{ "0.000929", 929000 }, { "\"0.090\"", 90000000 },
		{ "1", 1000000000 }, { "2.5", 2500000000LL },
		{ "1e-3", 1000000 }, { "1.5E+1", 15000000000LL },
		{ "\"0.0000000019\"", 1 }, { "0.1234567891234", 123456789 },
		{ "\".5\"", 500000000 }, { "\"5.\"", 5000000000LL },
		{ "1e-30", 0 }, { "9223372036", 9223372036000000000LL },
		{ "0.00000000000000000000000000001e30", 10000000000LL },
	};
	struct ctx c = { 0 };

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(rt); i++) {
		char line[256];
		snprintf(line, sizeof(line), "{" VL_OK ",\"request_time\":%s}",
		    rt[i].v);
		if (parse_with(FMT_VLOGS, line, &c) != 0)
			fail_msg("request_time %s refused", rt[i].v);
		if (c.r.request_time_ns != rt[i].ns)
			fail_msg("request_time %s: %lld, want %lld", rt[i].v,
			    (long long)c.r.request_time_ns,
			    (long long)rt[i].ns);
	}
	assert_int_equal(run(&c, "{" VL_OK ",\"body_bytes_sent\":1.0e3}"), 0);
	assert_int_equal(c.r.body_bytes, 1000);
	assert_int_equal(run(&c, "{" VL_OK ",\"body_bytes_sent\":"
	    "9223372036854775807}"), 0);
	assert_true(c.r.body_bytes == INT64_MAX);
	assert_int_equal(run(&c, "{" VL_OK ",\"body_bytes_sent\":"
	    "9223372036854775808}"), SKIP_NUMBER);
	ctx_release(&c);
}

static void
test_duplicates_and_bytes(void **state)
{
	struct ctx c = { 0 };

	(void)state;
	/* The later value of a repeated key wins. */
	assert_int_equal(parse_with(FMT_VLOGS, "{" VL_OK ",\"status\":200,"
	    "\"http_user_agent\":\"first\",\"status\":\"503\","
	    "\"http_user_agent\":\"se\\u0063ond\",\"remote_addr\":\"5.5.5.5\"}",
	    &c), 0);
	assert_int_equal(c.r.status, 503);
	assert_span_equal(c.r.user_agent, "second");
	assert_span_equal(c.r.remote_addr, "5.5.5.5");
	/* Attacker bytes are kept; escaped values in scratch stay valid
	 * side by side. */
	assert_int_equal(run(&c, "{" VL_OK ",\"http_user_agent\":\"\xff\xfe"
	    "\\u0000\\ud800\\n\",\"request_uri\":\"/\\u2028\\\"x\","
	    "\"http_referer\":\"\\/r\"}"), 0);
	assert_int_equal(c.r.user_agent.n, 7);
	assert_memory_equal(c.r.user_agent.p, "\xff\xfe\0\xef\xbf\xbd\n", 7);
	assert_span_equal(c.r.uri, "/\xe2\x80\xa8\"x");
	assert_span_equal(c.r.referer, "/r");
	/* A member nested where a string was expected is absent. */
	assert_int_equal(run(&c, "{" VL_OK ",\"http_user_agent\":{\"a\":\"b\"},"
	    "\"host\":[\"h1\",\"h2\"]}"), 0);
	assert_span_equal(c.r.user_agent, "");
	assert_span_equal(c.r.host, "h1");
	/* A parse after a skipped line does not see its values. */
	assert_int_equal(run(&c, "{" VL_OK ",\"status\":1}"), SKIP_STATUS);
	assert_int_equal(run(&c, "{\"_time\":\"2026-11-20T09:00:00Z\","
	    "\"remote_addr\":\"1.2.3.4\"}"), 0);
	assert_int_equal(c.r.status, 0);
	assert_span_equal(c.r.user_agent, "");
	ctx_release(&c);
}

/* Truncations of realistic lines: always SKIP_JSON, never a crash. */
static void
test_truncated(void **state)
{
	static const struct {
		int fmt;
		const char *line;
	} lines[] = {
		{ FMT_TRAEFIK, traefik_line },
		{ FMT_APISIX, apisix_line },
		{ FMT_CADDY, caddy_line },
	};

	(void)state;
	for (size_t l = 0; l < ARRAY_LEN(lines); l++) {
		struct ctx c = { 0 };
		size_t n = strlen(lines[l].line);
		char *cut = xmalloc(n + 1);

		for (size_t k = 0; k < n; k++) {
			memcpy(cut, lines[l].line, k);
			cut[k] = '\0';
			assert_int_equal(parse_with(lines[l].fmt, cut, &c),
			    SKIP_JSON);
		}
		assert_int_equal(parse_with(lines[l].fmt, lines[l].line, &c),
		    0);
		free(cut);
		ctx_release(&c);
	}
}

/* ---- the shared scenarios */

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char tmp[65536];
	size_t n;

	if (f == NULL)
		return NULL;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&b, tmp, n);
	fclose(f);
	*len = b.len;
	return b.p; /* b.cap != 0 unless the file is empty */
}

static struct span
next_line(const char **p, const char *end)
{
	const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
	struct span r = { s, (size_t)((nl != NULL ? nl : end) - s) };

	*p = nl != NULL ? nl + 1 : end;
	return r;
}

static int
span_cmp_ok(struct span a, struct span b)
{
	return span_eq(a, b);
}

static void
compare_scenario(const char *dir, const char *name, size_t *total)
{
	struct buf pt = BUF_INIT, pv = BUF_INIT;
	size_t nt = 0, nv = 0, lineno = 0;
	char *dt, *dv;
	struct ctx ct = { 0 }, cv = { 0 };

	buf_addf(&pt, "%s/%s/traefik.json", dir, name);
	buf_addf(&pv, "%s/%s/vlogs.jsonl", dir, name);
	dt = slurp(pt.p, &nt);
	dv = slurp(pv.p, &nv);
	buf_release(&pt);
	buf_release(&pv);
	if (dt == NULL || dv == NULL || nt == 0 || nv == 0) {
		if (dt != NULL && nt != 0) free(dt);
		if (dv != NULL && nv != 0) free(dv);
		return;
	}
	ct.m = json_map_builtin(FMT_TRAEFIK);
	cv.m = json_map_builtin(FMT_VLOGS);
	buf_init(&ct.scratch);
	buf_init(&cv.scratch);
	const char *pt_ = dt, *pv_ = dv;
	while (pt_ < dt + nt && pv_ < dv + nv) {
		struct span lt = next_line(&pt_, dt + nt);
		struct span lv = next_line(&pv_, dv + nv);
		lineno++;
		if (lt.n == 0 && lv.n == 0)
			continue;
		int rt = json_parse(ct.m, lt.p, lt.n, &ct.r, &ct.scratch);
		int rv = json_parse(cv.m, lv.p, lv.n, &cv.r, &cv.scratch);
		if (rt != 0 || rv != 0)
			fail_msg("%s line %zu: skip %d (traefik) %d (vlogs)",
			    name, lineno, rt, rv);
		struct logrec *a = &ct.r, *b = &cv.r;
		const char *what = NULL;
		if (a->time_ns / 1000 != b->time_ns / 1000)
			what = "time";
		else if (!span_cmp_ok(a->remote_addr, b->remote_addr))
			what = "remote_addr";
		else if (!span_cmp_ok(a->method, b->method))
			what = "method";
		else if (!span_cmp_ok(a->uri, b->uri))
			what = "uri";
		else if (a->status != b->status || a->status == 0)
			what = "status";
		else if (a->body_bytes != b->body_bytes || a->body_bytes < 0)
			what = "body_bytes";
		else if (!span_cmp_ok(a->user_agent, b->user_agent))
			what = "user_agent";
		else if (!span_cmp_ok(a->referer, b->referer))
			what = "referer";
		else if (!span_cmp_ok(a->host, b->host) || a->host.n == 0)
			what = "host";
		else if (!span_cmp_ok(a->xff, b->xff))
			what = "xff";
		/* The generator wrote a few Traefik durations as 2061999999
		 * ns for a request_time of "2.062": allow 1 us of rounding. */
		else if (a->request_time_ns < 0 || b->request_time_ns < 0 ||
		    a->request_time_ns - b->request_time_ns > 1000 ||
		    b->request_time_ns - a->request_time_ns > 1000)
			what = "request_time";
		if (what != NULL)
			fail_msg("%s line %zu: %s differs", name, lineno, what);
		(*total)++;
	}
	/* Same number of lines in both. */
	assert_true(pt_ == dt + nt && pv_ == dv + nv);
	free(dt);
	free(dv);
	ctx_release(&ct);
	ctx_release(&cv);
}

static void
test_scenarios(void **state)
{
	const char *shared = test_shared_dir();
	char dir[4200];
	DIR *d;
	struct dirent *de;
	size_t total = 0, scenarios = 0;

	(void)state;
	if (shared == NULL)
		skip();
	snprintf(dir, sizeof(dir), "%s/scenarios", shared);
	if ((d = opendir(dir)) == NULL)
		skip();
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		size_t before = total;
		compare_scenario(dir, de->d_name, &total);
		if (total > before)
			scenarios++;
	}
	closedir(d);
	assert_true(scenarios > 0);
	assert_true(total > 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_traefik),
		cmocka_unit_test(test_apisix),
		cmocka_unit_test(test_caddy),
		cmocka_unit_test(test_vlogs),
		cmocka_unit_test(test_generic),
		cmocka_unit_test(test_generic_errors),
		cmocka_unit_test(test_builtin_null),
		cmocka_unit_test(test_skips),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_duplicates_and_bytes),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_scenarios),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
