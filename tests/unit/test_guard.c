/*
 * The whole guard (guard_ban.c): every refusal class, the evidence it
 * finds in the logs itself (an embedded store built here), cohorts,
 * crawlers verified through a table resolver (no network), caps and
 * dedup.
 */
#include "testutil.h"

#define SEC 1000000000LL
#define T0 (1795165200 * SEC)

static struct ipaddr
A(const char *s)
{
	struct ipaddr a;

	if (ipaddr_parse(span_str(s), &a) != 0) {
		print_error("bad address in test: %s\n", s);
		fail();
	}
	return a;
}

static struct cidr
C(const char *s)
{
	struct cidr c;
	char err[128];

	if (cidr_parse(span_str(s), &c, err, sizeof(err)) != 0) {
		print_error("bad range in test: %s: %s\n", s, err);
		fail();
	}
	return c;
}

/* ---- the logs */

static void
row(struct store *s, int64_t t, const char *ip, const char *method,
    const char *uri, int status, const char *ua, const char *ref)
{
	struct logrec r;
	struct ipaddr a = A(ip);

	logrec_clear(&r);
	r.time_ns = t;
	r.remote_addr = span_str(ip);
	r.method = span_str(method);
	r.uri = span_str(uri);
	r.status = status;
	r.user_agent = span_str(ua);
	r.referer = span_str(ref);
	r.body_bytes = 100;
	r.request_time_ns = 1000000;
	store_append(s, &r, &a, &a);
}

#define BR "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 " \
	"Firefox/133.0"
#define GBOT "Mozilla/5.0 (compatible; Googlebot/2.1; " \
	"+http://www.google.com/bot.html)"

static const char *const secrets[] = {
	"/.env", "/.git/config", "/wp-config.php.bak", "/phpinfo.php",
	"/backup.sql", "/.aws/credentials",
};

/* Six secret files, one a second from t. */
static void
scanner(struct store *s, int64_t t, const char *ip, const char *ua)
{
	for (size_t i = 0; i < ARRAY_LEN(secrets); i++)
		row(s, t + (int64_t)i * SEC, ip, "GET", secrets[i], 404, ua, "");
}

/* A visitor: pages, assets, a referer, all fine. */
static void
visitor(struct store *s, int64_t t, const char *ip, int pages)
{
	char uri[64];

	for (int i = 0; i < pages; i++) {
		snprintf(uri, sizeof(uri), "/articles/%d", i);
		row(s, t + (int64_t)i * 7 * SEC, ip, "GET", uri, 200, BR,
		    "https://example.org/");
		row(s, t + (int64_t)i * 7 * SEC, ip, "GET", "/static/site.css",
		    200, BR, "https://example.org/");
	}
}

static struct store logs;
static struct source src;

static int
setup_logs(void **state)
{
	char uri[64], ip[64];
	(void)state;

	store_init(&logs, NULL);
	scanner(&logs, T0, "203.0.113.5", "curl/8.5.0");
	scanner(&logs, T0 + 60 * SEC, "203.0.113.6", "curl/8.5.0");
	scanner(&logs, T0 + 60 * SEC, "203.0.113.7", "curl/8.5.0");
	scanner(&logs, T0 + 60 * SEC, "203.0.113.8", "curl/8.5.0");
	/* An ordinary visitor, and one whose address a line's text names. */
	visitor(&logs, T0, "192.0.2.10", 20);
	/* A visitor meeting three dead pages: a sign, below the bar. */
	visitor(&logs, T0, "192.0.2.12", 5);
	for (int i = 0; i < 3; i++) {
		snprintf(uri, sizeof(uri), "/gone/%d", i);
		row(&logs, T0 + (int64_t)i * SEC, "192.0.2.12", "GET", uri, 404,
		    BR, "https://example.org/");
	}
	row(&logs, T0 + 30 * SEC, "192.0.2.11", "GET",
	    "/report?ip=198.51.100.77&note=ban%20198.51.100.77", 200, BR, "");
	/* The real Googlebot, meeting many dead links (probing-like). */
	for (int i = 0; i < 15; i++) {
		snprintf(uri, sizeof(uri), "/old/page-%d", i);
		row(&logs, T0 + (int64_t)i * SEC, "66.249.66.1", "GET", uri,
		    404, GBOT, "");
	}
	/* Impostors: a Googlebot agent on a scanner. */
	scanner(&logs, T0 + 120 * SEC, "198.51.100.66", GBOT);
	scanner(&logs, T0 + 120 * SEC, "198.51.100.67", GBOT);
	/* A Googlebot agent on an ordinary visitor that fails the check. */
	row(&logs, T0 + 10 * SEC, "198.51.100.68", "GET", "/", 200, GBOT, "");
	/* A botnet: ten addresses, two cache-busting requests each. */
	for (int i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", 100 + i);
		for (int k = 0; k < 2; k++) {
			snprintf(uri, sizeof(uri), "/search?q=%d", i * 10 + k);
			row(&logs, T0 + (int64_t)(i + k) * SEC, ip, "GET", uri,
			    200, BR, "");
		}
	}
	/* An IPv6 /64 rotating through addresses, a request or two each. */
	for (int i = 1; i <= 5; i++) {
		snprintf(ip, sizeof(ip), "2001:db8:1:2::%d", i);
		row(&logs, T0 + (int64_t)i * SEC, ip, "GET", "/login", 200, BR,
		    "");
	}
	/* A /64 where every address scans (no cohort needed), one with a
	 * zero group in its prefix, and one holding an ordinary visitor. */
	scanner(&logs, T0, "2001:db8:9:9::1", "curl/8.5.0");
	scanner(&logs, T0, "2001:db8:9:9::2", "curl/8.5.0");
	scanner(&logs, T0, "2001:db8::5", "curl/8.5.0");
	scanner(&logs, T0, "2001:db8:7:7::1", "curl/8.5.0");
	visitor(&logs, T0, "2001:db8:7:7::2", 3);
	/* A /64 of scanners that also holds the real Googlebot (over
	 * IPv6), meeting dead links. */
	scanner(&logs, T0, "2001:db8:6:6::1", "curl/8.5.0");
	scanner(&logs, T0, "2001:db8:6:6::2", "curl/8.5.0");
	for (int i = 0; i < 15; i++) {
		snprintf(uri, sizeof(uri), "/old/page-%d", i);
		row(&logs, T0 + (int64_t)i * SEC, "2001:db8:6:6::66", "GET",
		    uri, 404, GBOT, "");
	}
	store_finish(&logs);

	memset(&src, 0, sizeof(src));
	src.store = &logs;
	src.now_ns = logs.tmax + 1;
	return 0;
}

static int
teardown_logs(void **state)
{
	(void)state;
	store_release(&logs);
	return 0;
}

#define WSTART (T0 - 3600 * SEC)
#define WEND (T0 + 3600 * SEC)
#define NOW (T0 + 3600 * SEC)

/* ---- a table resolver */

struct fake_dns {
	const char *const (*ptr)[2];   /* address, name */
	size_t nptr;
	const char *const (*a)[2];     /* name, address */
	size_t na;
	unsigned reverse_calls;
};

static int
fake_reverse(void *ctx, const struct ipaddr *a, char *host, size_t hostlen)
{
	struct fake_dns *d = ctx;
	char t[IPADDR_STRLEN];

	d->reverse_calls++;
	ipaddr_format(a, t, sizeof(t));
	for (size_t i = 0; i < d->nptr; i++)
		if (strcmp(d->ptr[i][0], t) == 0) {
			snprintf(host, hostlen, "%s", d->ptr[i][1]);
			return 0;
		}
	return -1;
}

static int
fake_forward(void *ctx, const char *host, struct ipaddr *out, size_t max,
    size_t *n)
{
	struct fake_dns *d = ctx;

	*n = 0;
	for (size_t i = 0; i < d->na && *n < max; i++)
		if (strcmp(d->a[i][0], host) == 0)
			out[(*n)++] = A(d->a[i][1]);
	return *n > 0 ? 0 : -1;
}

static const char *const ptrs[][2] = {
	{ "66.249.66.1", "crawl-66-249-66-1.googlebot.com" },
	{ "198.51.100.66", "evil.example" },
	{ "198.51.100.67", "crawl-1-2-3-4.googlebot.com.evil.example" },
	{ "198.51.100.68", "crawl-198-51-100-68.googlebot.com" },
	{ "2001:db8:6:6::66", "crawl-2001-db8-6-6--66.googlebot.com" },
};
static const char *const fwds[][2] = {
	{ "crawl-66-249-66-1.googlebot.com", "2001:4860::1" },
	{ "crawl-66-249-66-1.googlebot.com", "66.249.66.1" },
	/* The impostor's PTR claims Google; the name is not its address. */
	{ "crawl-198-51-100-68.googlebot.com", "66.249.66.9" },
	{ "evil.example", "198.51.100.66" },
	{ "crawl-2001-db8-6-6--66.googlebot.com", "2001:db8:6:6::66" },
};

static struct fake_dns dns = { ptrs, ARRAY_LEN(ptrs), fwds, ARRAY_LEN(fwds),
	0 };

/* A guard with no own addresses looked up, the table resolver. */
static void
guard_test_init(struct guard *g, struct guard_config *cfg,
    const struct cidrset *trusted, struct state *st)
{
	cfg->check_own_addresses = 0;
	guard_init(g, cfg, trusted, st);
	g->res.reverse = fake_reverse;
	g->res.forward = fake_forward;
	g->res.ctx = &dns;
}

static enum guard_code
judge(struct guard *g, const struct report *cohorts, const char *value,
    struct guard_verdict *v)
{
	return guard_judge(g, &src, WSTART, WEND, cohorts, value, NOW, v);
}

#define EXPECT(g, cohorts, value, want, word) do {                       \
	struct guard_verdict v_;                                         \
	enum guard_code c_ = judge((g), (cohorts), (value), &v_);        \
	if (c_ != (want) || v_.code != (want) ||                         \
	    strstr(v_.reason, (word)) == NULL) {                         \
		print_error("%s: got %s [%s], want %s [%s]\n", (value),  \
		    guard_code_name(c_), v_.reason,                      \
		    guard_code_name(want), (word));                      \
		fail();                                                  \
	}                                                                \
	if (getenv("TEST_GUARD_VERBOSE") != NULL)                        \
		print_message("%s -> %s\n", (value), v_.reason);        \
} while (0)

/* ---- tests */

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(guard_code_name(GUARD_OK), "ok");
	assert_string_equal(guard_code_name(GUARD_PARSE), "bad-address");
	assert_string_equal(guard_code_name(GUARD_TOO_WIDE), "range-too-wide");
	assert_string_equal(guard_code_name(GUARD_SPECIAL), "special-address");
	assert_string_equal(guard_code_name(GUARD_TRUSTED), "trusted-proxy");
	assert_string_equal(guard_code_name(GUARD_ALLOWLIST), "allowlisted");
	assert_string_equal(guard_code_name(GUARD_OWN), "own-address");
	assert_string_equal(guard_code_name(GUARD_CRAWLER),
	    "verified-crawler");
	assert_string_equal(guard_code_name(GUARD_NO_EVIDENCE), "no-evidence");
	assert_string_equal(guard_code_name(GUARD_CAP_CYCLE), "cap-per-cycle");
	assert_string_equal(guard_code_name(GUARD_CAP_HOUR), "cap-per-hour");
	assert_string_equal(guard_code_name(GUARD_DUPLICATE),
	    "already-banned");
	assert_string_equal(guard_code_name((enum guard_code)99), "unknown");
}

static void
test_parse(void **state)
{
	static const char *const bad[] = {
		"", "1.2.3.4:80", "[2001:db8::1]", "[2001:db8::1]:443",
		" 203.0.113.5", "203.0.113.5 ", "203.0.113.5\n", "01.2.3.4",
		"1.2.3", "1.2.3.4.5", "256.1.1.1", "203.0.113.5/33",
		"203.0.113.5/", "203.0.113.0/-1", "2001:db8::/129",
		"203.0.113.1/24", "fe80::1%eth0", "abc", "ban 1.2.3.4",
		"1.2.3.4,5.6.7.8", "\xff\xfe", "203.0.113.5\xc3\xa9",
		"2001:db8:::1", "1.2.3.4/8/8",
	};
	struct guard_config cfg;
	struct guard g;
	struct guard_verdict v;
	char big[300];
	(void)state;

	guard_config_init(&cfg);
	guard_test_init(&g, &cfg, NULL, NULL);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		if (judge(&g, NULL, bad[i], &v) != GUARD_PARSE) {
			print_error("[%s] accepted: %s\n", bad[i], v.reason);
			fail();
		}
		assert_int_equal(v.code, GUARD_PARSE);
		assert_non_null(strstr(v.reason, "bad-address"));
		/* Junk never reaches the value: it is printable or empty. */
		for (const char *p = v.value; *p != '\0'; p++)
			assert_true(strchr("0123456789abcdefABCDEF.:/", *p) !=
			    NULL);
	}
	assert_int_equal(judge(&g, NULL, "\xff\xfe", &v), GUARD_PARSE);
	assert_string_equal(v.value, "");
	assert_non_null(strstr(v.reason, "\\xff"));
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(judge(&g, NULL, big, &v), GUARD_PARSE);
	assert_true(strlen(v.reason) < sizeof(v.reason));
	assert_int_equal(judge(&g, NULL, NULL, &v), GUARD_PARSE);
	/* Nothing was asked of the logs for any of them. */
	assert_int_equal(g.cycle_bans, 0);

	/* Canonical values out: a /32 is an address, v6 lower case. */
	assert_int_equal(judge(&g, NULL, "203.0.113.5/32", &v), GUARD_OK);
	assert_string_equal(v.value, "203.0.113.5");
	assert_int_equal(v.scope, BAN_IP);
	assert_int_equal(judge(&g, NULL, "2001:DB8:9:9:0:0:0:1/128", &v),
	    GUARD_OK);
	assert_string_equal(v.value, "2001:db8:9:9::1");
	assert_int_equal(v.scope, BAN_IP);
	assert_int_equal(judge(&g, NULL, "::ffff:203.0.113.6", &v), GUARD_OK);
	assert_string_equal(v.value, "203.0.113.6");
	guard_release(&g);
	guard_config_release(&cfg);
}

static void
test_evidence(void **state)
{
	struct guard_config cfg;
	struct guard g;
	struct guard_verdict v;
	uint64_t q0;
	(void)state;

	guard_config_init(&cfg);
	guard_test_init(&g, &cfg, NULL, NULL);

	/* Abuse in its own requests: accepted, with the guard's evidence,
	 * in a handful of queries. */
	q0 = src.queries;
	assert_int_equal(judge(&g, NULL, "203.0.113.5", &v), GUARD_OK);
	assert_true(src.queries - q0 >= 2 && src.queries - q0 <= 6);
	assert_string_equal(v.value, "203.0.113.5");
	assert_int_equal(v.scope, BAN_IP);
	assert_int_equal(v.events, 6);
	assert_int_equal(v.first_ns, T0);
	assert_int_equal(v.last_ns, T0 + 5 * SEC);
	assert_non_null(strstr(v.reason, "sensitive"));

	/* Never in the logs, even when a line's text names it. */
	q0 = src.queries;
	EXPECT(&g, NULL, "8.8.8.8", GUARD_NO_EVIDENCE,
	    "no-evidence: never seen in the logs");
	assert_int_equal(src.queries - q0, 1);
	EXPECT(&g, NULL, "198.51.100.77", GUARD_NO_EVIDENCE,
	    "never seen in the logs");
	EXPECT(&g, NULL, "2001:db8:5::1", GUARD_NO_EVIDENCE, "never seen");
	/* Present, healthy: a model naming it gets a refusal. */
	assert_int_equal(judge(&g, NULL, "192.0.2.10", &v), GUARD_NO_EVIDENCE);
	assert_non_null(strstr(v.reason, "no-evidence: its 40 requests look "
	    "ordinary ("));
	assert_int_equal(v.events, 0);
	EXPECT(&g, NULL, "192.0.2.11", GUARD_NO_EVIDENCE, "its 1 request looks ordinary (no errors");
	EXPECT(&g, NULL, "192.0.2.12", GUARD_NO_EVIDENCE, "its 13 requests "
	    "look ordinary (3 refused or not found: below every threshold)");
	assert_int_equal(g.cycle_bans, 1);
	/* Outside the window, the scanner is nobody (another cycle: in
	 * this one it was accepted already). */
	guard_cycle_begin(&g);
	assert_int_equal(guard_judge(&g, &src, T0 + 7200 * SEC,
	    T0 + 9000 * SEC, NULL, "203.0.113.5", NOW, &v), GUARD_NO_EVIDENCE);
	assert_non_null(strstr(v.reason, "never seen"));
	assert_int_equal(g.cycle_bans, 0);
	guard_release(&g);

	/* No log store: refused, the reason says why. */
	{
		struct source none;
		memset(&none, 0, sizeof(none));
		guard_test_init(&g, &cfg, NULL, NULL);
		assert_int_equal(guard_judge(&g, &none, WSTART, WEND, NULL,
		    "203.0.113.5", NOW, &v), GUARD_NO_EVIDENCE);
		assert_non_null(strstr(v.reason, "could not be asked"));
		guard_release(&g);
	}
	guard_config_release(&cfg);
}

/* The analyst's gates on chosen addresses, batched. */
static void
test_judge_addresses(void **state)
{
	struct analyst_config ac;
	struct ipaddr a[4], many[ANALYST_JUDGE_MAX + 1];
	struct analyst_judgement j[4], *jm;
	char err[256];
	uint64_t q0 = src.queries;
	(void)state;

	analyst_config_init(&ac);
	a[0] = A("203.0.113.5");
	a[1] = A("192.0.2.10");
	a[2] = A("8.8.8.8");
	a[3] = A("203.0.113.5");
	assert_int_equal(analyst_judge_addresses(&src, &ac, a, 4, WSTART, WEND,
	    j, err, sizeof(err)), 0);
	/* One batch: a few queries, not a few per address. */
	assert_true(src.queries - q0 <= 5);
	assert_true(j[0].abusive);
	assert_int_equal(j[0].requests, 6);
	assert_int_equal(j[0].events, 6);
	assert_int_equal(j[0].first_ns, T0);
	assert_non_null(strstr(j[0].why, "http-sensitive-files"));
	assert_false(j[1].abusive);
	assert_int_equal(j[1].requests, 40);
	assert_int_equal(j[1].first_ns, T0);
	assert_false(j[2].abusive);
	assert_int_equal(j[2].requests, 0);
	assert_string_equal(j[2].why, "never seen in the logs");
	assert_int_equal(j[2].first_ns, TIME_NONE);
	assert_true(j[3].abusive);
	assert_int_equal(j[3].events, 6);
	/* Thresholds move the verdict. */
	ac.sensitive_min = 7;
	ac.probe_min_paths = 100;
	assert_int_equal(analyst_judge_addresses(&src, &ac, a, 1, WSTART, WEND,
	    j, err, sizeof(err)), 0);
	assert_false(j[0].abusive);
	assert_non_null(strstr(j[0].why, "6 sensitive paths"));
	/* Bounded. */
	for (size_t i = 0; i < ARRAY_LEN(many); i++)
		many[i] = a[0];
	jm = xcalloc(ARRAY_LEN(many), sizeof(*jm));
	assert_int_equal(analyst_judge_addresses(&src, &ac, many,
	    ARRAY_LEN(many), WSTART, WEND, jm, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "at most 256"));
	free(jm);
}

static void
test_static(void **state)
{
	struct guard_config cfg;
	struct guard g;
	struct cidrset trusted;
	struct cidr c;
	(void)state;

	guard_config_init(&cfg);
	cidrset_init(&trusted);
	c = C("198.51.100.1");
	cidrset_add(&trusted, &c);
	c = C("2001:db8:1:2::ffff");
	cidrset_add(&trusted, &c);
	guard_test_init(&g, &cfg, &trusted, NULL);

	EXPECT(&g, NULL, "10.1.2.3", GUARD_SPECIAL, "RFC 1918");
	EXPECT(&g, NULL, "127.0.0.1", GUARD_SPECIAL, "loopback");
	EXPECT(&g, NULL, "::1", GUARD_SPECIAL, "loopback");
	EXPECT(&g, NULL, "fe80::1", GUARD_SPECIAL, "link-local");
	EXPECT(&g, NULL, "100.100.1.1", GUARD_SPECIAL, "tailnet");
	EXPECT(&g, NULL, "::ffff:192.168.1.1", GUARD_SPECIAL, "RFC 1918");
	EXPECT(&g, NULL, "198.51.100.1", GUARD_TRUSTED,
	    "trusted-proxy: 198.51.100.1");
	/* The default policy bans no IPv4 range whole. */
	EXPECT(&g, NULL, "10.0.0.0/8", GUARD_TOO_WIDE, "range-too-wide");
	EXPECT(&g, NULL, "203.0.113.0/24", GUARD_TOO_WIDE,
	    "guard_range_ipv4 = 0");
	EXPECT(&g, NULL, "2001:db8:1::/48", GUARD_TOO_WIDE,
	    "wider than guard_range_ipv6 allows (/64)");
	/* A trusted proxy inside a /64. */
	EXPECT(&g, NULL, "2001:db8:1:2::/64", GUARD_TRUSTED, "trusted proxy");
	EXPECT(&g, NULL, "fd00::/64", GUARD_SPECIAL, "unique local");
	EXPECT(&g, NULL, "::ffff:0:0/96", GUARD_TOO_WIDE, "range-too-wide");
	guard_release(&g);

	/* With /8 allowed, width passes and the block still refuses. */
	cfg.policy.range_v4 = 8;
	guard_test_init(&g, &cfg, &trusted, NULL);
	EXPECT(&g, NULL, "10.0.0.0/8", GUARD_SPECIAL, "RFC 1918");
	EXPECT(&g, NULL, "10.20.0.0/16", GUARD_SPECIAL, "RFC 1918");
	EXPECT(&g, NULL, "8.0.0.0/7", GUARD_TOO_WIDE, "/8");
	EXPECT(&g, NULL, "198.51.100.0/24", GUARD_TRUSTED, "trusted proxy");
	EXPECT(&g, NULL, "198.51.100.0/31", GUARD_TRUSTED, "trusted proxy");
	guard_release(&g);

	cidrset_release(&trusted);
	guard_config_release(&cfg);
}

static void
test_allowlist_and_own(void **state)
{
	struct guard_config cfg;
	struct guard g;
	struct cidr c;
	(void)state;

	guard_config_init(&cfg);
	cfg.policy.range_v4 = 24;
	c = C("203.0.113.0/24");
	cidrset_add(&cfg.allow, &c);
	guard_test_init(&g, &cfg, NULL, NULL);
	EXPECT(&g, NULL, "203.0.113.5", GUARD_ALLOWLIST, "allowlisted");
	EXPECT(&g, NULL, "203.0.113.0/24", GUARD_ALLOWLIST, "allowlist");
	EXPECT(&g, NULL, "203.0.113.0/28", GUARD_ALLOWLIST, "allowlist");
	/* Outside it, judged as usual. */
	EXPECT(&g, NULL, "198.51.100.66", GUARD_OK, "sensitive");

	/* The host's own addresses (put here by hand). */
	c = C("198.51.100.66");
	cidrset_add(&g.own, &c);
	c = C("2001:db8:9:9::2");
	cidrset_add(&g.own, &c);
	EXPECT(&g, NULL, "198.51.100.66", GUARD_OWN, "own-address");
	EXPECT(&g, NULL, "2001:db8:9:9::2", GUARD_OWN, "this host");
	EXPECT(&g, NULL, "2001:db8:9:9::/64", GUARD_OWN, "this host");
	EXPECT(&g, NULL, "2001:db8:9:9::1", GUARD_OK, "sensitive");
	guard_release(&g);

	/* getifaddrs: whatever this machine has is refused, never banned. */
	cfg.check_own_addresses = 1;
	guard_init(&g, &cfg, NULL, NULL);
	for (size_t i = 0; i < g.own.n; i++) {
		struct guard_verdict v;
		char t[IPADDR_STRLEN];
		ipaddr_format(&g.own.v[i].addr, t, sizeof(t));
		judge(&g, NULL, t, &v);
		if (v.code != GUARD_SPECIAL && v.code != GUARD_OWN) {
			print_error("%s: %s\n", t, v.reason);
			fail();
		}
	}
	guard_release(&g);
	guard_config_release(&cfg);
}

static char *
write_temp(const char *text)
{
	char *path = xstrdup("/tmp/test_guard_XXXXXX");
	int fd = mkstemp(path);
	size_t n = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return path;
}

static void
test_allowlist_file(void **state)
{
	struct guard_config cfg;
	struct guard g;
	struct buf errs = BUF_INIT;
	struct buf want = BUF_INIT;
	char *path, *bin;
	char longline[1200];
	(void)state;

	guard_config_init(&cfg);
	path = write_temp(
	    "# partners\n"
	    "192.0.2.0/24\n"
	    "   2001:db8:9:9::/64   # an office\n"
	    "\n"
	    "not-an-address\n"
	    "10.0.0.1/8\n"
	    "198.51.100.66\r\n"
	    "203.0.113.5:80\n"
	    "203.0.113.6");
	assert_int_equal(guard_allowlist_file(&cfg, path, &errs), -1);
	/* Every bad line, each with its number; the good ones kept. */
	buf_addf(&want, "%s:5: ", path);
	assert_non_null(strstr(errs.p, want.p));
	buf_reset(&want);
	buf_addf(&want, "%s:6: ", path);
	assert_non_null(strstr(errs.p, want.p));
	buf_reset(&want);
	buf_addf(&want, "%s:8: ", path);
	assert_non_null(strstr(errs.p, want.p));
	buf_reset(&want);
	buf_addf(&want, "%s:2: ", path);
	assert_null(strstr(errs.p, want.p));
	assert_int_equal(cfg.allow.n, 4);
	unlink(path);
	free(path);

	guard_test_init(&g, &cfg, NULL, NULL);
	EXPECT(&g, NULL, "192.0.2.10", GUARD_ALLOWLIST, "allowlisted");
	EXPECT(&g, NULL, "2001:db8:9:9::1", GUARD_ALLOWLIST, "allowlisted");
	EXPECT(&g, NULL, "198.51.100.66", GUARD_ALLOWLIST, "allowlisted");
	EXPECT(&g, NULL, "203.0.113.6", GUARD_ALLOWLIST, "allowlisted");
	EXPECT(&g, NULL, "203.0.113.5", GUARD_OK, "sensitive");
	guard_release(&g);
	guard_config_release(&cfg);

	/* Missing file; an over-long line; NUL bytes; a clean file. */
	guard_config_init(&cfg);
	buf_reset(&errs);
	assert_int_equal(guard_allowlist_file(&cfg,
	    "/nonexistent/allow.txt", &errs), -1);
	assert_non_null(strstr(errs.p, "/nonexistent/allow.txt: "));
	memset(longline, 'a', sizeof(longline) - 2);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	path = write_temp(longline);
	buf_reset(&errs);
	assert_int_equal(guard_allowlist_file(&cfg, path, &errs), -1);
	assert_non_null(strstr(errs.p, ":1: line longer"));
	assert_int_equal(cfg.allow.n, 0);
	unlink(path);
	free(path);
	bin = xstrdup("/tmp/test_guard_XXXXXX");
	{
		int fd = mkstemp(bin);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "1.2.3.4\0x\n5.6.7.8\n", 18), 18);
		close(fd);
	}
	buf_reset(&errs);
	assert_int_equal(guard_allowlist_file(&cfg, bin, &errs), -1);
	assert_non_null(strstr(errs.p, ":1: NUL"));
	assert_int_equal(cfg.allow.n, 1);
	unlink(bin);
	free(bin);
	path = write_temp("# nothing but\n\n  # comments\n1.2.3.0/24\n");
	buf_reset(&errs);
	assert_int_equal(guard_allowlist_file(&cfg, path, &errs), 0);
	assert_int_equal(errs.len, 0);
	assert_int_equal(cfg.allow.n, 2);
	unlink(path);
	free(path);
	guard_config_release(&cfg);
	buf_release(&errs);
	buf_release(&want);
}

static void
test_crawlers(void **state)
{
	struct guard_config cfg;
	struct guard g;
	struct guard_verdict v;
	(void)state;

	guard_config_init(&cfg);
	guard_test_init(&g, &cfg, NULL, NULL);
	/* Its 404s would make probing; it proves who it is. */
	EXPECT(&g, NULL, "66.249.66.1", GUARD_CRAWLER,
	    "verified-crawler: 66.249.66.1 is googlebot "
	    "(crawl-66-249-66-1.googlebot.com");
	/* PTR elsewhere, or a look-alike name: impostors, and abusive. */
	assert_int_equal(judge(&g, NULL, "198.51.100.66", &v), GUARD_OK);
	assert_int_equal(v.events, 6);
	EXPECT(&g, NULL, "198.51.100.67", GUARD_OK, "sensitive");
	/* An impostor whose name does not resolve back, and who did
	 * nothing wrong: not spared, not banned either. */
	EXPECT(&g, NULL, "198.51.100.68", GUARD_NO_EVIDENCE,
	    "looks ordinary");
	/* No crawler claimed: DNS never asked. */
	dns.reverse_calls = 0;
	EXPECT(&g, NULL, "203.0.113.5", GUARD_OK, "sensitive");
	assert_int_equal(dns.reverse_calls, 0);
	/* The answers are remembered, good and bad, across cycles: a
	 * crawler proposed every cycle costs DNS once. */
	guard_cycle_begin(&g);
	EXPECT(&g, NULL, "66.249.66.1", GUARD_CRAWLER,
	    "(crawl-66-249-66-1.googlebot.com, confirmed forward)");
	EXPECT(&g, NULL, "198.51.100.68", GUARD_NO_EVIDENCE,
	    "looks ordinary");
	assert_int_equal(dns.reverse_calls, 0);
	assert_int_equal(g.ndns, 4);
	guard_release(&g);
	/* A new guard (a restart) asks again. */
	guard_test_init(&g, &cfg, NULL, NULL);
	EXPECT(&g, NULL, "66.249.66.1", GUARD_CRAWLER, "googlebot");
	assert_int_equal(dns.reverse_calls, 1);
	guard_release(&g);

	/* Verification off: the real one is judged like anyone (probing). */
	cfg.verify_crawlers = 0;
	guard_test_init(&g, &cfg, NULL, NULL);
	EXPECT(&g, NULL, "66.249.66.1", GUARD_OK, "400/403/404");
	guard_release(&g);
	guard_config_release(&cfg);
}

/* The system resolver, on names /etc/hosts answers (no network). */
static void
test_resolver_system(void **state)
{
	struct resolver r;
	struct ipaddr out[8], lo = A("127.0.0.1"), lo6 = A("::1");
	size_t n = 0;
	int found = 0;
	(void)state;

	resolver_system(&r);
	assert_non_null(r.reverse);
	assert_non_null(r.forward);
	if (r.forward(r.ctx, "localhost", out, ARRAY_LEN(out), &n) != 0)
		skip();
	assert_true(n >= 1 && n <= ARRAY_LEN(out));
	for (size_t i = 0; i < n; i++)
		if (ipaddr_cmp(&out[i], &lo) == 0 ||
		    ipaddr_cmp(&out[i], &lo6) == 0)
			found = 1;
	assert_true(found);
	/* A bounded answer: room for one. */
	assert_int_equal(r.forward(r.ctx, "localhost", out, 1, &n), 0);
	assert_int_equal(n, 1);
}

/* A report like the analyst's, with one cohort finding. */
static struct finding *
cohort_finding(struct report *r, const char *scenario, const char *subject)
{
	struct finding *f = report_add_finding(r, scenario, 70, subject);

	f->cohort = 1;
	return f;
}

static void
test_cohorts(void **state)
{
	struct guard_config cfg;
	struct guard g;
	struct guard_verdict v;
	struct report r;
	struct finding *f;
	char ip[64];
	(void)state;

	report_init(&r);
	/* A per-address finding is no cohort: it gives nothing. */
	f = report_add_finding(&r, "anomaly-detect/http-probing", 65,
	    "198.51.100.100");
	finding_member(f, "198.51.100.100");
	guard_config_init(&cfg);
	guard_test_init(&g, &cfg, NULL, NULL);
	EXPECT(&g, &r, "198.51.100.100", GUARD_NO_EVIDENCE, "its 2 requests");

	f = cohort_finding(&r, "anomaly-detect/botnet-cache-busting",
	    "10 addresses sharing an agent");
	for (int i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", 100 + i);
		finding_member(f, ip);
	}
	finding_count(f, "offending", 20);
	/* Each member: two requests, nothing wrong alone; the cohort is
	 * the evidence. */
	for (int i = 0; i < 10; i++) {
		uint64_t q0 = src.queries;
		snprintf(ip, sizeof(ip), "198.51.100.%d", 100 + i);
		assert_int_equal(judge(&g, &r, ip, &v), GUARD_OK);
		/* One small query per member: a big botnet stays cheap. */
		assert_int_equal(src.queries - q0, 1);
		assert_non_null(strstr(v.reason, "botnet-cache-busting"));
		assert_int_equal(v.events, 2);
		assert_true(v.first_ns >= T0 && v.last_ns <= T0 + 11 * SEC);
	}
	/* Without the analyst's report (in another cycle), the same
	 * address is refused. */
	guard_cycle_begin(&g);
	EXPECT(&g, NULL, "198.51.100.100", GUARD_NO_EVIDENCE, "ordinary");
	/* A cohort member never seen here: still no ban. */
	finding_member(f, "198.51.100.250");
	EXPECT(&g, &r, "198.51.100.250", GUARD_NO_EVIDENCE, "never seen");
	/* Not a member. */
	EXPECT(&g, &r, "192.0.2.10", GUARD_NO_EVIDENCE, "ordinary");

	/* The IPv6 /64: the range whole, through the analyst's cohort. */
	EXPECT(&g, &r, "2001:db8:1:2::/64", GUARD_NO_EVIDENCE, "ordinary");
	f = cohort_finding(&r, "anomaly-detect/ipv6-rotation",
	    "2001:db8:1:2::/64");
	f->range = C("2001:db8:1:2::/64");
	finding_count(f, "offending", 5);
	f->first_ns = T0 + SEC;
	f->last_ns = T0 + 5 * SEC;
	assert_int_equal(judge(&g, &r, "2001:DB8:1:2::/64", &v), GUARD_OK);
	assert_string_equal(v.value, "2001:db8:1:2::/64");
	assert_int_equal(v.scope, BAN_RANGE);
	assert_int_equal(v.events, 5);
	assert_int_equal(v.first_ns, T0 + SEC);
	assert_int_equal(v.last_ns, T0 + 5 * SEC);
	assert_non_null(strstr(v.reason, "ipv6-rotation"));
	/* A member, in the cycle that took its range: judged already. */
	EXPECT(&g, &r, "2001:db8:1:2::3", GUARD_DUPLICATE,
	    "already-banned in this cycle");
	/* A member alone (another cycle), through the cohort's range. */
	guard_cycle_begin(&g);
	EXPECT(&g, &r, "2001:db8:1:2::3", GUARD_OK, "ipv6-rotation");
	/* A /64 nobody was seen in, even inside a cohort's range. */
	f = cohort_finding(&r, "anomaly-detect/ipv6-rotation",
	    "2001:db8:4::/48");
	f->range = C("2001:db8:4::/48");
	EXPECT(&g, &r, "2001:db8:4:1::/64", GUARD_NO_EVIDENCE, "no address");
	guard_release(&g);
	guard_config_release(&cfg);
	report_release(&r);
}

static void
test_ranges(void **state)
{
	struct guard_config cfg;
	struct guard g;
	struct guard_verdict v;
	(void)state;

	guard_config_init(&cfg);
	cfg.policy.range_v4 = 24;
	guard_test_init(&g, &cfg, NULL, NULL);
	/* Every address seen in it scans: the range goes whole. */
	assert_int_equal(judge(&g, NULL, "2001:db8:9:9::/64", &v), GUARD_OK);
	assert_int_equal(v.scope, BAN_RANGE);
	assert_int_equal(v.events, 12);
	assert_int_equal(v.first_ns, T0);
	assert_int_equal(v.last_ns, T0 + 5 * SEC);
	/* Zero groups in the prefix: "2001:db8::5" is inside. */
	assert_int_equal(judge(&g, NULL, "2001:db8::/64", &v), GUARD_OK);
	assert_int_equal(v.events, 6);
	/* One ordinary visitor inside: refused, and named. */
	EXPECT(&g, NULL, "2001:db8:7:7::/64", GUARD_NO_EVIDENCE,
	    "2001:db8:7:7::2 in the range looks ordinary: 6 requests");
	EXPECT(&g, NULL, "2001:db8:5::/64", GUARD_NO_EVIDENCE, "no address");
	/* A range holding a verified crawler is not banned whole ... */
	EXPECT(&g, NULL, "2001:db8:6:6::/64", GUARD_CRAWLER,
	    "2001:db8:6:6::/64 holds 2001:db8:6:6::66, googlebot "
	    "(crawl-2001-db8-6-6--66.googlebot.com, confirmed forward)");
	/* ... its scanners are, one by one. */
	EXPECT(&g, NULL, "2001:db8:6:6::1", GUARD_OK, "sensitive");
	/* IPv4: the four scanners of 203.0.113.0/28. */
	assert_int_equal(judge(&g, NULL, "203.0.113.0/28", &v), GUARD_OK);
	assert_string_equal(v.value, "203.0.113.0/28");
	assert_int_equal(v.events, 24);
	/* 198.51.100.0/24 holds ordinary visitors and a crawler claim. */
	EXPECT(&g, NULL, "198.51.100.0/24", GUARD_NO_EVIDENCE, "ordinary");
	EXPECT(&g, NULL, "192.0.2.0/24", GUARD_NO_EVIDENCE, "192.0.2.1");
	guard_release(&g);
	/* Without crawler checks, the probing "crawler" is one more
	 * abuser of the range. */
	cfg.verify_crawlers = 0;
	guard_test_init(&g, &cfg, NULL, NULL);
	EXPECT(&g, NULL, "2001:db8:6:6::/64", GUARD_OK, "all 3 addresses");
	guard_release(&g);
	guard_config_release(&cfg);
}

/* Ranges too full to judge address by address, and a prefix with no
 * group to match on, on a store of their own. */
static void
test_range_bounds(void **state)
{
	struct store big;
	struct source bsrc;
	struct guard_config cfg;
	struct guard g;
	struct guard_verdict v;
	struct report r;
	struct finding *f;
	char ip[64];
	(void)state;

	store_init(&big, NULL);
	for (int i = 1; i <= 300; i++) {
		snprintf(ip, sizeof(ip), "2001:db8:c:c::%x", i);
		row(&big, T0 + i * SEC, ip, "GET", "/.env", 404, "curl/8", "");
		row(&big, T0 + i * SEC, ip, "GET", "/.git/config", 404,
		    "curl/8", "");
	}
	scanner(&big, T0, "0:1::5", "curl/8.5.0");
	store_finish(&big);
	memset(&bsrc, 0, sizeof(bsrc));
	bsrc.store = &big;
	guard_config_init(&cfg);
	guard_test_init(&g, &cfg, NULL, NULL);
	assert_int_equal(guard_judge(&g, &bsrc, WSTART, WEND, NULL,
	    "2001:db8:c:c::/64", NOW, &v), GUARD_NO_EVIDENCE);
	assert_non_null(strstr(v.reason, "more than 256 addresses"));
	/* The analyst's cohort speaks for the range whole. */
	report_init(&r);
	f = cohort_finding(&r, "anomaly-detect/ipv6-rotation",
	    "2001:db8:c:c::/64");
	f->range = C("2001:db8:c:c::/64");
	assert_int_equal(guard_judge(&g, &bsrc, WSTART, WEND, &r,
	    "2001:db8:c:c::/64", NOW, &v), GUARD_OK);
	assert_int_equal(v.events, 600);
	assert_int_equal(v.first_ns, T0 + SEC);
	assert_int_equal(v.last_ns, T0 + 300 * SEC);
	/* Leading zero group: "0:1::5" is found all the same. */
	assert_int_equal(guard_judge(&g, &bsrc, WSTART, WEND, NULL,
	    "0:1::/64", NOW, &v), GUARD_OK);
	assert_int_equal(v.events, 6);
	report_release(&r);
	guard_release(&g);
	guard_config_release(&cfg);
	store_release(&big);
}

static void
test_caps(void **state)
{
	struct guard_config cfg;
	struct guard g;
	struct guard_verdict v;
	uint64_t q0;
	(void)state;

	guard_config_init(&cfg);
	/* Room for a 200-address botnet by default. */
	assert_true(cfg.max_per_cycle >= 200);
	assert_true(cfg.max_per_hour >= cfg.max_per_cycle);
	cfg.max_per_cycle = 2;
	cfg.max_per_hour = 3;
	guard_test_init(&g, &cfg, NULL, NULL);
	guard_cycle_begin(&g);
	EXPECT(&g, NULL, "203.0.113.5", GUARD_OK, "sensitive");
	EXPECT(&g, NULL, "203.0.113.6", GUARD_OK, "sensitive");
	EXPECT(&g, NULL, "203.0.113.7", GUARD_CAP_CYCLE,
	    "cap-per-cycle: 2 bans");
	/* Refusals do not count: no evidence is still no evidence. */
	EXPECT(&g, NULL, "8.8.8.8", GUARD_NO_EVIDENCE, "never seen");
	guard_cycle_begin(&g);
	EXPECT(&g, NULL, "203.0.113.7", GUARD_OK, "sensitive");
	guard_cycle_begin(&g);
	EXPECT(&g, NULL, "203.0.113.8", GUARD_CAP_HOUR, "cap-per-hour: 3");
	/* The hour slides. */
	assert_int_equal(guard_judge(&g, &src, WSTART, WEND, NULL,
	    "203.0.113.8", NOW + 3601 * SEC, &v), GUARD_OK);
	assert_int_equal(g.nhour, 1);
	guard_release(&g);

	/* No caps at all. */
	cfg.max_per_cycle = 0;
	cfg.max_per_hour = 0;
	guard_test_init(&g, &cfg, NULL, NULL);
	for (int i = 0; i < 5; i++) {
		guard_cycle_begin(&g);
		EXPECT(&g, NULL, "203.0.113.5", GUARD_OK, "sensitive");
	}
	assert_int_equal(g.nhour, 5);
	/* Twice in one cycle (the model, then the analyst after a budget
	 * stop): judged once, whatever the caps.  No state is needed: a
	 * dry-run has none. */
	EXPECT(&g, NULL, "203.0.113.6", GUARD_OK, "sensitive");
	q0 = src.queries;
	EXPECT(&g, NULL, "203.0.113.6", GUARD_DUPLICATE,
	    "already-banned in this cycle");
	assert_int_equal(src.queries, q0);
	assert_int_equal(g.cycle_bans, 2);
	guard_release(&g);
	guard_config_release(&cfg);
}

static void
test_dedup(void **state)
{
	struct guard_config cfg;
	struct guard g;
	struct state st;
	char err[256];
	(void)state;

	state_init(&st);
	assert_int_equal(state_add(&st, "203.0.113.5", "anomaly-detect/x",
	    "1", NOW + 3600 * SEC, NOW, err, sizeof(err)), 0);
	assert_int_equal(state_add(&st, "203.0.113.6", "anomaly-detect/x",
	    "2", NOW - SEC, NOW - 7200 * SEC, err, sizeof(err)), 0);
	assert_int_equal(state_add(&st, "2001:db8:9:9::/64",
	    "anomaly-detect/x", "3", NOW + 3600 * SEC, NOW, err,
	    sizeof(err)), 0);
	guard_config_init(&cfg);
	guard_test_init(&g, &cfg, NULL, &st);
	EXPECT(&g, NULL, "203.0.113.5", GUARD_DUPLICATE,
	    "already-banned until 2026-");
	/* Expired: banned again. */
	EXPECT(&g, NULL, "203.0.113.6", GUARD_OK, "sensitive");
	/* Inside a banned range, or the range itself, or narrower. */
	EXPECT(&g, NULL, "2001:db8:9:9::1", GUARD_DUPLICATE,
	    "(inside 2001:db8:9:9::/64)");
	EXPECT(&g, NULL, "2001:db8:9:9:0::/64", GUARD_DUPLICATE,
	    "already-banned until");
	EXPECT(&g, NULL, "2001:db8:9:9:1::/80", GUARD_DUPLICATE,
	    "(inside 2001:db8:9:9::/64)");
	/* A banned address does not make a range around it a duplicate. */
	EXPECT(&g, NULL, "2001:db8::/64", GUARD_OK, "show abuse");
	assert_int_equal(g.cycle_bans, 2);
	guard_release(&g);
	state_release(&st);
	guard_config_release(&cfg);
}

/* ---- the shared scenarios: the analyst's report as cohorts, then
 * every labelled address through the guard */

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;

	if (f == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return b.p == buf_empty_str ? xstrdup("") : b.p;
}

static int
ban_covers_addr(const struct report *r, const struct ipaddr *a)
{

	for (size_t i = 0; i < r->nb; i++) {
		struct cidr c;
		if (cidr_parse(span_str(r->b[i].value), &c, NULL, 0) == 0 &&
		    cidr_contains(&c, a))
			return 1;
	}
	return 0;
}

static int
ban_covers(const struct report *r, const char *ip)
{
	struct ipaddr a = A(ip);

	return ban_covers_addr(r, &a);
}

static void
scenario(const char *name)
{
	const char *dir = test_shared_dir();
	struct eval_labels l;
	struct load_opts lo;
	struct load_stats ls;
	struct store s;
	struct source ssrc;
	struct report r;
	struct analyst_config ac;
	struct guard_config cfg;
	struct guard g;
	struct guard_verdict v;
	char path[4300], err[512], *text, *file = path;
	size_t len = 0, accepted = 0, agreed = 0;

	if (dir == NULL)
		skip();
	snprintf(path, sizeof(path), "%s/scenarios/%s/labels.json", dir, name);
	text = slurp(path, &len);
	assert_non_null(text);
	eval_labels_init(&l);
	assert_int_equal(eval_labels_parse(&l, text, len, err, sizeof(err)),
	    0);
	free(text);
	load_opts_init(&lo);
	for (size_t i = 0; i < l.ntrusted; i++) {
		struct cidr c = C(l.trusted[i]);
		cidrset_add(&lo.trusted, &c);
	}
	snprintf(path, sizeof(path), "%s/scenarios/%s/access.log", dir, name);
	memset(&ls, 0, sizeof(ls));
	store_init(&s, NULL);
	assert_int_equal(load_files(&s, &lo, &file, 1, &ls), 0);
	memset(&ssrc, 0, sizeof(ssrc));
	ssrc.store = &s;
	ssrc.now_ns = s.tmax + 1;
	analyst_config_init(&ac);
	report_init(&r);
	assert_int_equal(analyst_run(&ssrc, &ac, s.tmin, s.tmax + 1, &r, err,
	    sizeof(err)), 0);
	report_decide(&r, &ac.guard, &lo.trusted, "dry-run");

	guard_config_init(&cfg);
	cfg.policy = ac.guard;
	cfg.analyst = &ac;
	guard_test_init(&g, &cfg, &lo.trusted, NULL);
	/* Nobody innocent, whatever the payloads say about them. */
	for (size_t i = 0; i < l.ninnocents; i++) {
		char t[IPADDR_STRLEN];
		ipaddr_format(&l.innocents[i], t, sizeof(t));
		if (guard_judge(&g, &ssrc, s.tmin, s.tmax + 1, &r, t, NOW,
		    &v) == GUARD_OK) {
			print_error("%s: innocent %s (%s) accepted: %s\n", name,
			    t, l.innocent_what[i], v.reason);
			fail();
		}
	}
	/* Every attacker the analyst would ban, the guard accepts. */
	for (size_t i = 0; i < l.nattackers; i++) {
		char t[IPADDR_STRLEN];
		enum guard_code c;
		ipaddr_format(&l.attackers[i], t, sizeof(t));
		c = guard_judge(&g, &ssrc, s.tmin, s.tmax + 1, &r, t, NOW, &v);
		if (c == GUARD_OK) {
			accepted++;
			assert_true(v.events > 0);
			assert_true(v.first_ns != TIME_NONE &&
			    v.first_ns <= v.last_ns);
		}
		if (ban_covers(&r, t)) {
			if (c != GUARD_OK) {
				print_error("%s: attacker %s banned by the "
				    "analyst, refused: %s\n", name, t, v.reason);
				fail();
			}
			agreed++;
		}
	}
	/* The prefixes the labels allow, through the analyst's cohorts. */
	for (size_t i = 0; i < l.nprefixes; i++) {
		char t[IPADDR_STRLEN + 8];
		cidr_format(&l.prefixes[i], t, sizeof(t));
		if (ban_covers_addr(&r, &l.prefixes[i].addr) &&
		    guard_judge(&g, &ssrc, s.tmin,
		    s.tmax + 1, &r, t, NOW, &v) != GUARD_OK) {
			print_error("%s: prefix %s refused: %s\n", name, t,
			    v.reason);
			fail();
		}
	}
	if (getenv("TEST_GUARD_VERBOSE") != NULL)
		print_message("%s: %zu of %zu attackers accepted (%zu banned "
		    "by the analyst), %llu queries\n", name, accepted,
		    l.nattackers, agreed, (unsigned long long)ssrc.queries);
	assert_true(accepted >= agreed);
	guard_release(&g);
	guard_config_release(&cfg);
	report_release(&r);
	store_release(&s);
	load_stats_release(&ls);
	load_opts_release(&lo);
	eval_labels_release(&l);
}

/* 200 addresses, each below every per-address limit: all in one cycle
 * under the default caps, through the analyst's cohort. */
static void
test_scenario_botnet(void **state)
{
	(void)state;
	scenario("botnet");
}

/* Every kind of attacker at once, innocents named in payloads, a
 * trusted proxy, an IPv6 /64 that may go whole. */
static void
test_scenario_mixed(void **state)
{
	(void)state;
	scenario("mixed");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_evidence),
		cmocka_unit_test(test_judge_addresses),
		cmocka_unit_test(test_static),
		cmocka_unit_test(test_allowlist_and_own),
		cmocka_unit_test(test_allowlist_file),
		cmocka_unit_test(test_crawlers),
		cmocka_unit_test(test_resolver_system),
		cmocka_unit_test(test_cohorts),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_range_bounds),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_dedup),
		cmocka_unit_test(test_scenario_botnet),
		cmocka_unit_test(test_scenario_mixed),
	};

	log_init("test_guard", 0);
	return cmocka_run_group_tests(tests, setup_logs, teardown_logs);
}
