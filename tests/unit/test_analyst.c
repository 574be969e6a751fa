/*
 * The analyst's parts: the static guard (every special range and its
 * edges), ban decisions and their rendering, the settings, labels and
 * scoring for eval, and the analyst itself run through a struct source
 * on an embedded store built here.
 */
#include "testutil.h"

#define SEC 1000000000LL

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

/* The refusal for s, or "" when it may be banned. */
static const char *
refusal(const char *s, const struct cidrset *trusted)
{
	struct ipaddr a = A(s);
	const char *why = guard_static_refusal(&a, trusted);

	return why != NULL ? why : "";
}

#define REFUSED(s, word) do {                                            \
	const char *w_ = refusal(s, NULL);                               \
	if (strstr(w_, word) == NULL) {                                  \
		print_error("%s: refusal [%s], want [%s]\n", s, w_, word); \
		fail();                                                  \
	}                                                                \
} while (0)

#define BANNABLE(s) do {                                                 \
	const char *w_ = refusal(s, NULL);                               \
	if (w_[0] != '\0') {                                             \
		print_error("%s: refused (%s), want bannable\n", s, w_); \
		fail();                                                  \
	}                                                                \
} while (0)

static void
test_guard_ipv4(void **state)
{
	(void)state;
	REFUSED("127.0.0.1", "loopback");
	REFUSED("127.255.255.255", "loopback");
	BANNABLE("128.0.0.1");
	REFUSED("10.0.0.1", "RFC 1918");
	REFUSED("10.255.255.255", "RFC 1918");
	BANNABLE("11.0.0.0");
	BANNABLE("9.255.255.255");
	BANNABLE("172.15.255.255");
	REFUSED("172.16.0.0", "RFC 1918");
	REFUSED("172.31.255.255", "RFC 1918");
	BANNABLE("172.32.0.0");
	REFUSED("192.168.0.1", "RFC 1918");
	BANNABLE("192.169.0.1");
	BANNABLE("192.167.255.255");
	BANNABLE("100.63.255.255");
	REFUSED("100.64.0.0", "100.64.0.0/10");
	REFUSED("100.101.7.33", "tailnet");
	REFUSED("100.127.255.255", "tailnet");
	BANNABLE("100.128.0.0");
	REFUSED("169.254.1.1", "link-local");
	BANNABLE("169.253.255.255");
	BANNABLE("169.255.0.0");
	REFUSED("0.0.0.0", "this network");
	REFUSED("0.255.255.255", "this network");
	BANNABLE("1.0.0.0");
	REFUSED("224.0.0.1", "multicast");
	REFUSED("239.255.255.255", "multicast");
	BANNABLE("223.255.255.255");
	REFUSED("240.0.0.1", "reserved");
	REFUSED("255.255.255.254", "reserved");
	REFUSED("255.255.255.255", "broadcast");
	/* Documentation ranges stay bannable: scenarios use them. */
	BANNABLE("192.0.2.1");
	BANNABLE("198.51.100.9");
	BANNABLE("203.0.113.200");
	BANNABLE("8.8.8.8");
}

static void
test_guard_ipv6(void **state)
{
	struct ipaddr m;
	(void)state;
	REFUSED("::", "unspecified");
	REFUSED("::1", "loopback");
	BANNABLE("::2");
	REFUSED("fe80::1", "link-local");
	REFUSED("febf:ffff::1", "link-local");
	BANNABLE("fec0::1");
	BANNABLE("fe7f:ffff::1");
	REFUSED("fc00::1", "unique local");
	REFUSED("fd7a:115c:a1e0::5", "unique local");
	REFUSED("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique local");
	BANNABLE("fbff:ffff::1");
	BANNABLE("fe00::1");
	REFUSED("ff02::1", "multicast");
	REFUSED("ff00::", "multicast");
	BANNABLE("2001:db8::1");
	BANNABLE("2a01:4f8::1");
	/* The parser turns a mapped address into IPv4 ... */
	REFUSED("::ffff:10.0.0.1", "RFC 1918");
	REFUSED("::ffff:127.0.0.1", "loopback");
	BANNABLE("::ffff:8.8.8.8");
	/* ... and one built by hand is judged the same way. */
	memset(&m, 0, sizeof(m));
	m.family = 6;
	m.b[10] = m.b[11] = 0xff;
	m.b[12] = 192;
	m.b[13] = 168;
	m.b[14] = 1;
	m.b[15] = 1;
	assert_non_null(guard_static_refusal(&m, NULL));
	m.b[12] = 8;
	m.b[13] = 8;
	assert_null(guard_static_refusal(&m, NULL));
	/* Not an address at all. */
	memset(&m, 0, sizeof(m));
	assert_non_null(guard_static_refusal(&m, NULL));
	assert_non_null(guard_static_refusal(NULL, NULL));
}

static void
test_guard_trusted(void **state)
{
	struct cidrset t;
	struct cidr c;
	(void)state;
	cidrset_init(&t);
	c = C("198.51.100.7");
	cidrset_add(&t, &c);
	c = C("2001:db8:1::/48");
	cidrset_add(&t, &c);
	assert_string_equal(refusal("198.51.100.7", &t), "trusted proxy");
	assert_string_equal(refusal("198.51.100.8", &t), "");
	assert_string_equal(refusal("2001:db8:1:2::3", &t), "trusted proxy");
	assert_string_equal(refusal("2001:db8:2::3", &t), "");
	/* A private proxy is refused for being private first. */
	c = C("10.0.0.2");
	cidrset_add(&t, &c);
	assert_non_null(strstr(refusal("10.0.0.2", &t), "RFC 1918"));
	cidrset_release(&t);
}

static void
test_guard_ranges(void **state)
{
	struct guard_policy p;
	struct cidrset t;
	struct cidr c;
	(void)state;
	guard_policy_init(&p);
	assert_int_equal(p.range_v6, 64);
	assert_int_equal(p.range_v4, 0);
	cidrset_init(&t);

	c = C("2001:db8:4a1:7c::/64");
	assert_null(guard_range_refusal(&c, &p, &t));
	c = C("2001:db8:4a1:7c:1::/80");
	assert_null(guard_range_refusal(&c, &p, &t));
	c = C("2001:db8:4a1::/48");
	assert_non_null(strstr(guard_range_refusal(&c, &p, &t), "wider"));
	c = C("fd7a:115c:a1e0::/64");
	assert_non_null(strstr(guard_range_refusal(&c, &p, &t),
	    "unique local"));
	/* ::/64 holds :: and ::1. */
	c = C("::/64");
	assert_non_null(guard_range_refusal(&c, &p, &t));
	c = C("::ffff:0:0/96");
	assert_non_null(guard_range_refusal(&c, &p, &t));
	/* IPv4 ranges: none by default. */
	c = C("203.0.113.0/24");
	assert_non_null(strstr(guard_range_refusal(&c, &p, &t),
	    "guard_range_ipv4"));
	p.range_v4 = 24;
	assert_null(guard_range_refusal(&c, &p, &t));
	c = C("203.0.112.0/23");
	assert_non_null(guard_range_refusal(&c, &p, &t));
	c = C("10.1.2.0/24");
	assert_non_null(strstr(guard_range_refusal(&c, &p, &t), "RFC 1918"));
	c = C("100.64.0.0/24");
	assert_non_null(guard_range_refusal(&c, &p, &t));
	/* A range that holds a trusted proxy. */
	c = C("198.51.100.7");
	cidrset_add(&t, &c);
	c = C("198.51.100.0/24");
	assert_non_null(strstr(guard_range_refusal(&c, &p, &t), "trusted"));
	c = C("198.51.101.0/24");
	assert_null(guard_range_refusal(&c, &p, &t));
	p.range_v6 = 0;
	c = C("2001:db8:4a1:7c::/64");
	assert_non_null(guard_range_refusal(&c, &p, &t));
	cidrset_release(&t);
}

static void
test_cidr_overlaps(void **state)
{
	struct cidr a, b;
	(void)state;
	a = C("10.0.0.0/8");
	b = C("10.1.2.0/24");
	assert_true(cidr_overlaps(&a, &b));
	assert_true(cidr_overlaps(&b, &a));
	b = C("11.0.0.0/24");
	assert_false(cidr_overlaps(&a, &b));
	b = C("2001:db8::/32");
	assert_false(cidr_overlaps(&a, &b));
	a = C("2001:db8:0:1::/64");
	assert_true(cidr_overlaps(&a, &b));
	a = C("0.0.0.0/0");
	b = C("255.255.255.255");
	assert_true(cidr_overlaps(&a, &b));
}

/* ---- findings and bans */

static struct finding *
addr_finding(struct report *r, const char *sc, int sev, const char *ip,
    int64_t offending)
{
	struct finding *f = report_add_finding(r, sc, sev, ip);

	finding_member(f, ip);
	finding_count(f, "offending", offending);
	finding_sentence(f, "%s did things.", ip);
	return f;
}

static void
test_decide(void **state)
{
	struct report r;
	struct finding *f;
	struct guard_policy p;
	struct cidrset t;
	struct cidr c;
	(void)state;
	report_init(&r);
	guard_policy_init(&p);
	cidrset_init(&t);
	c = C("198.51.100.7");
	cidrset_add(&t, &c);

	addr_finding(&r, "anomaly-detect/a", 60, "203.0.113.5", 10);
	addr_finding(&r, "anomaly-detect/b", 90, "10.8.0.14", 30);
	addr_finding(&r, "anomaly-detect/c", 90, "198.51.100.7", 3);
	addr_finding(&r, "anomaly-detect/d", 90, "203.0.113.9", 50);
	/* The same address twice: one ban, from the worse finding. */
	addr_finding(&r, "anomaly-detect/e", 95, "203.0.113.5", 1);
	/* A /64 and an address inside it. */
	f = report_add_finding(&r, "anomaly-detect/v6", 80, "2001:db8:1:2::/64");
	f->cohort = 1;
	f->range = C("2001:db8:1:2::/64");
	finding_member(f, "2001:db8:1:2::a");
	finding_member(f, "2001:db8:1:2::b");
	addr_finding(&r, "anomaly-detect/f", 99, "2001:db8:1:2::a", 4);
	/* A private /24 cohort: no range, no members banned. */
	f = report_add_finding(&r, "anomaly-detect/net", 70, "192.168.5.0/24");
	f->cohort = 1;
	f->range = C("192.168.5.0/24");
	finding_member(f, "192.168.5.1");
	finding_member(f, "not-an-address");

	report_decide(&r, &p, &t, "dry-run");
	/* Findings: severity, then offending requests. */
	assert_int_equal(r.f[0].severity, 99);
	assert_int_equal(r.f[1].severity, 95);
	/* Equal severity: more offending requests first. */
	assert_string_equal(r.f[2].subject, "203.0.113.9");
	assert_string_equal(r.f[3].subject, "10.8.0.14");
	assert_string_equal(r.f[4].subject, "198.51.100.7");
	for (size_t i = 1; i < r.nf; i++)
		assert_true(r.f[i - 1].severity >= r.f[i].severity);
	/* Bans: most severe first, each once, none refused. */
	assert_int_equal(r.nb, 3);
	assert_string_equal(r.b[0].value, "203.0.113.5");
	assert_string_equal(r.b[0].scenario, "anomaly-detect/e");
	assert_int_equal(r.b[0].scope, BAN_IP);
	assert_string_equal(r.b[0].verdict, "dry-run");
	assert_string_equal(r.b[0].reason, "203.0.113.5 did things.");
	assert_string_equal(r.b[1].value, "203.0.113.9");
	assert_string_equal(r.b[2].value, "2001:db8:1:2::/64");
	assert_int_equal(r.b[2].scope, BAN_RANGE);
	for (size_t i = 1; i < r.nb; i++)
		assert_true(r.b[i - 1].severity >= r.b[i].severity);
	/* Refusals are notes on their findings. */
	for (size_t i = 0; i < r.nf; i++) {
		f = &r.f[i];
		if (strcmp(f->subject, "10.8.0.14") == 0)
			assert_non_null(strstr(f->note, "RFC 1918"));
		else if (strcmp(f->subject, "198.51.100.7") == 0)
			assert_non_null(strstr(f->note, "trusted proxy"));
		else if (strcmp(f->subject, "192.168.5.0/24") == 0) {
			assert_non_null(strstr(f->note, "not banned whole"));
			assert_non_null(strstr(f->note, "never banned"));
			assert_non_null(strstr(f->note, "not an address"));
		} else if (strcmp(f->subject, "203.0.113.9") == 0)
			assert_null(f->note);
	}
	/* Deciding again gives the same bans. */
	report_decide(&r, &p, &t, "dry-run");
	assert_int_equal(r.nb, 3);
	/* With IPv6 ranges off, the /64's members go one by one. */
	p.range_v6 = 0;
	report_decide(&r, &p, &t, "dry-run");
	assert_int_equal(r.nb, 4);
	assert_string_equal(r.b[0].value, "2001:db8:1:2::a");
	assert_string_equal(r.b[0].scenario, "anomaly-detect/f");
	assert_string_equal(r.b[3].value, "2001:db8:1:2::b");
	assert_string_equal(r.b[3].scenario, "anomaly-detect/v6");
	cidrset_release(&t);
	report_release(&r);
}

static void
test_absorb_and_keep(void **state)
{
	struct report r;
	struct finding *f;
	size_t n;
	(void)state;
	report_init(&r);
	addr_finding(&r, "anomaly-detect/x", 85, "2001:db8:1:2::a", 4);
	addr_finding(&r, "anomaly-detect/y", 60, "203.0.113.1", 4);
	addr_finding(&r, "anomaly-detect/z", 70, "2001:db8:1:2::b", 4);
	f = report_add_finding(&r, "anomaly-detect/v6", 80, "2001:db8:1:2::/64");
	f->cohort = 1;
	f->range = C("2001:db8:1:2::/64");
	n = report_absorb(&r, 3);
	assert_int_equal(n, 2);
	assert_int_equal(r.nf, 2);
	assert_string_equal(r.f[1].subject, "2001:db8:1:2::/64");
	assert_int_equal(r.f[1].severity, 85);
	assert_int_equal(r.f[1].nsignals, 3);
	assert_int_equal(finding_get(&r.f[1], "absorbed_findings"), 2);
	report_keep(&r, 1);
	assert_int_equal(r.nf, 1);
	assert_string_equal(r.f[0].subject, "2001:db8:1:2::/64");
	report_release(&r);
}

static void
test_render(void **state)
{
	struct report r;
	struct finding *f;
	struct guard_policy p;
	struct buf o = BUF_INIT;
	(void)state;
	report_init(&r);
	guard_policy_init(&p);
	f = addr_finding(&r, "anomaly-detect/http-probing", 65, "203.0.113.5",
	    2);
	f->first_ns = 1795165200 * SEC;
	f->last_ns = 1795165260 * SEC;
	/* Attacker-written text: quotes, control bytes, invalid UTF-8. */
	finding_sample(f, "2026-11-20T09:00:00Z", "203.0.113.5", "GET",
	    "/\"}]\x1b[31m\xff", "404", "\"role\":\"system\"", 2);
	report_decide(&r, &p, NULL, "dry-run");
	report_json_arrays(&r, &o);
	assert_non_null(strstr(o.p, "\"findings\":[{\"scenario\":"
	    "\"anomaly-detect/http-probing\",\"severity\":65"));
	assert_non_null(strstr(o.p, "\"first\":\"2026-11-20T09:00:00Z\""));
	assert_non_null(strstr(o.p, "\"last\":\"2026-11-20T09:01:00Z\""));
	assert_non_null(strstr(o.p, "\"uri\":\"/\\\"}]\\u001b[31m\\\\xff\""));
	assert_non_null(strstr(o.p, "\"user_agent\":\"\\\"role\\\":"));
	assert_non_null(strstr(o.p, "\"bans\":[{\"value\":\"203.0.113.5\","
	    "\"scope\":\"Ip\",\"scenario\":\"anomaly-detect/http-probing\","
	    "\"verdict\":\"dry-run\",\"reason\":"));
	buf_reset(&o);
	report_text_findings(&r, &o);
	assert_non_null(strstr(o.p, "[ 65] anomaly-detect/http-probing"));
	assert_non_null(strstr(o.p, "\\x1b[31m\\xff"));
	assert_null(strchr(o.p, '\x1b'));
	assert_non_null(strstr(o.p, "Ip     203.0.113.5"));
	buf_release(&o);
	report_release(&r);
	/* Nothing found: says so. */
	report_init(&r);
	report_text_findings(&r, &o);
	assert_non_null(strstr(o.p, "findings  none"));
	assert_non_null(strstr(o.p, "bans      none"));
	buf_reset(&o);
	report_json_arrays(&r, &o);
	assert_string_equal(o.p, "\"findings\":[],\"bans\":[]");
	buf_release(&o);
	report_release(&r);
}

/* ---- settings */

static void
test_config(void **state)
{
	struct analyst_config c;
	char err[256];
	size_t n;
	const struct analyst_param *p = analyst_params(&n);
	(void)state;
	analyst_config_init(&c);
	assert_true(n > 10);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(p[i].help);
		assert_int_equal(strlen(p[i].name), strlen(p[i].option));
		assert_null(strchr(p[i].option, '_'));
	}
	assert_int_equal(analyst_config_set(&c, "analyst_flood_per_minute",
	    "450", err, sizeof(err)), 0);
	assert_int_equal(c.flood_per_minute, 450);
	assert_int_equal(analyst_config_set(&c, "analyst_probe_ratio", "0.25",
	    err, sizeof(err)), 0);
	assert_true(c.probe_ratio > 0.249 && c.probe_ratio < 0.251);
	assert_int_equal(analyst_config_set(&c, "analyst_probe_ratio", "1",
	    err, sizeof(err)), 0);
	assert_int_equal(analyst_config_set(&c, "guard_range_ipv6", "/56",
	    err, sizeof(err)), 0);
	assert_int_equal(c.guard.range_v6, 56);
	assert_int_equal(analyst_config_set(&c, "guard_range_ipv4", "24",
	    err, sizeof(err)), 0);
	assert_int_equal(c.guard.range_v4, 24);
	/* Bad values say why, and change nothing. */
	assert_int_equal(analyst_config_set(&c, "analyst_probe_ratio", "1.5",
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ratio"));
	assert_int_equal(analyst_config_set(&c, "analyst_probe_ratio", "-0.1",
	    err, sizeof(err)), -1);
	assert_int_equal(analyst_config_set(&c, "analyst_flood_per_minute",
	    "12x", err, sizeof(err)), -1);
	assert_int_equal(analyst_config_set(&c, "analyst_flood_per_minute",
	    "99999999999", err, sizeof(err)), -1);
	assert_int_equal(c.flood_per_minute, 450);
	assert_int_equal(analyst_config_set(&c, "analyst_sensitive_min", "0",
	    err, sizeof(err)), -1);
	assert_int_equal(analyst_config_set(&c, "guard_range_ipv4", "33",
	    err, sizeof(err)), -1);
	assert_int_equal(analyst_config_set(&c, "guard_range_ipv6", "129",
	    err, sizeof(err)), -1);
	assert_int_equal(analyst_config_set(&c, "analyst_nope", "1", err,
	    sizeof(err)), 1);
	assert_int_equal(analyst_config_set(&c, "format", "nginx", err,
	    sizeof(err)), 1);
}

static void
test_settings(void **state)
{
	struct settings st;
	char err[256];
	(void)state;
	settings_init(&st);
	assert_non_null(st.analyst);
	assert_int_equal(st.analyst->flood_per_minute, 300);
	assert_int_equal(settings_set(&st, "analyst_login_fail_min", "25", err,
	    sizeof(err)), 0);
	assert_int_equal(st.analyst->login_fail_min, 25);
	assert_int_equal(settings_set(&st, "guard_range_ipv6", "48", err,
	    sizeof(err)), 0);
	assert_int_equal(st.analyst->guard.range_v6, 48);
	assert_int_equal(settings_set(&st, "analyst_login_fail_min", "x", err,
	    sizeof(err)), -1);
	assert_int_equal(settings_option(&st, "analyst-cohort-min-members",
	    "12"), 0);
	assert_int_equal(st.analyst->cohort_min_members, 12);
	settings_release(&st);
}

/* ---- labels and scoring */

static const char labels_text[] =
    "{\"scenario\": \"t\", \"rows\": 12,\n"
    " \"attackers\": {\"203.0.113.5\": \"scanner\", "
    "\"2001:db8:4a1:7c::1\": \"v6\", \"2001:db8:4a1:7c::2\": \"v6\", "
    "\"198.51.100.9\": \"flood\"},\n"
    " \"innocents\": {\"10.8.0.14\": \"internal\", \"203.0.113.77\": "
    "\"neighbour\", \"2001:db8:4a1:7d::1\": \"next /64\"},\n"
    " \"prefixes\": {\"2001:db8:4a1:7c::/64\": \"one attacker\"},\n"
    " \"trusted_proxies\": [\"10.0.0.2\", \"10.9.0.0/29\"],\n"
    " \"window\": {\"start\": \"2026-11-20T09:00:00Z\"}, \"grey\": {}}";

static void
test_labels(void **state)
{
	struct eval_labels l;
	char err[256];
	(void)state;
	eval_labels_init(&l);
	assert_int_equal(eval_labels_parse(&l, labels_text,
	    sizeof(labels_text) - 1, err, sizeof(err)), 0);
	assert_int_equal(l.nattackers, 4);
	assert_int_equal(l.ninnocents, 3);
	assert_int_equal(l.nprefixes, 1);
	assert_int_equal(l.ntrusted, 2);
	assert_int_equal(l.rows, 12);
	assert_string_equal(l.scenario, "t");
	assert_string_equal(l.trusted[1], "10.9.0.0/29");
	eval_labels_release(&l);

	/* Bad input: every way is an error with a reason, nothing kept. */
	static const char *const bad[] = {
		"",
		"[]",
		"{\"attackers\": []}",
		"{\"attackers\": {\"999.1.1.1\": \"x\"}}",
		"{\"innocents\": {\"10.0.0.1/8\": \"x\"}}",
		"{\"prefixes\": {\"10.0.0.1/8\": \"x\"}}",
		"{\"trusted_proxies\": [\"nope\"]}",
		"{\"trusted_proxies\": [1]}",
		"{\"attackers\": {\"1.2.3.4\": \"x\"}",
		"{\"attackers\": {\"1.2.3.4\": \"x\", \"1.2.3.4\": \"y\"}}",
		"{\"attackers\": {\"1.2.3.4\": \"\xff\"}}",
		"{\"a\": 1} trailing",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		if (eval_labels_parse(&l, bad[i], strlen(bad[i]), err,
		    sizeof(err)) != -1) {
			print_error("accepted: %s\n", bad[i]);
			fail();
		}
		assert_true(err[0] != '\0');
		assert_int_equal(l.nattackers, 0);
		assert_null(l.attackers);
	}
	/* Embedded NUL: json_loadb refuses it by default. */
	assert_int_equal(eval_labels_parse(&l, "{\"a\":\"x\0y\"}", 11, err,
	    sizeof(err)), -1);
	eval_labels_release(&l);
}

static struct ban
B(const char *v, enum ban_scope s)
{
	struct ban b;

	memset(&b, 0, sizeof(b));
	snprintf(b.value, sizeof(b.value), "%s", v);
	b.scope = s;
	b.scenario = "anomaly-detect/x";
	b.verdict = "dry-run";
	return b;
}

static void
test_score(void **state)
{
	struct eval_labels l;
	struct eval_score s;
	struct ban b[8];
	char err[256];
	(void)state;
	eval_labels_init(&l);
	eval_score_init(&s);
	assert_int_equal(eval_labels_parse(&l, labels_text,
	    sizeof(labels_text) - 1, err, sizeof(err)), 0);

	/* Nothing banned. */
	eval_score(&l, NULL, 0, &s);
	assert_int_equal(s.attackers, 4);
	assert_int_equal(s.banned, 0);
	assert_int_equal(s.nfalse, 0);
	assert_int_equal(s.nunlabeled, 0);

	/* Directly, and through the /64 the labels allow. */
	b[0] = B("203.0.113.5", BAN_IP);
	b[1] = B("2001:db8:4a1:7c::/64", BAN_RANGE);
	b[2] = B("198.51.100.9", BAN_IP);
	eval_score(&l, b, 3, &s);
	assert_int_equal(s.banned, 4);
	assert_int_equal(s.nfalse, 0);
	assert_int_equal(s.nunlabeled, 0);

	/* A narrower range inside the prefix counts too; a wider one does
	 * not, and covers an innocent: a false ban, named. */
	b[1] = B("2001:db8:4a1:7c::/96", BAN_RANGE);
	eval_score(&l, b, 3, &s);
	assert_int_equal(s.banned, 4);
	b[1] = B("2001:db8:4a1::/48", BAN_RANGE);
	eval_score(&l, b, 3, &s);
	assert_int_equal(s.banned, 2);
	assert_int_equal(s.nfalse, 1);
	assert_string_equal(s.false_bans[0],
	    "2001:db8:4a1:7d::1 (next /64) in 2001:db8:4a1::/48");
	assert_int_equal(s.nunlabeled, 0);

	/* An innocent banned directly; an address in neither list; a range
	 * of nobody; a value that is not an address. */
	b[0] = B("10.8.0.14", BAN_IP);
	b[1] = B("192.0.2.44", BAN_IP);
	b[2] = B("192.0.2.0/24", BAN_RANGE);
	b[3] = B("junk", BAN_IP);
	b[4] = B("203.0.113.0/24", BAN_RANGE);
	eval_score(&l, b, 5, &s);
	assert_int_equal(s.banned, 0); /* the /24 is not in the prefixes */
	assert_int_equal(s.nfalse, 2);
	assert_string_equal(s.false_bans[0], "10.8.0.14 (internal)");
	assert_string_equal(s.false_bans[1],
	    "203.0.113.77 (neighbour) in 203.0.113.0/24");
	assert_int_equal(s.nunlabeled, 3);
	assert_string_equal(s.unlabeled[0], "192.0.2.44");
	assert_string_equal(s.unlabeled[1], "192.0.2.0/24");
	assert_string_equal(s.unlabeled[2], "junk");
	eval_score_release(&s);
	eval_labels_release(&l);
}

/* ---- the analyst on an embedded store, through a struct source */

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

static const struct finding *
find(const struct report *r, const char *subject)
{
	for (size_t i = 0; i < r->nf; i++)
		if (strcmp(r->f[i].subject, subject) == 0)
			return &r->f[i];
	return NULL;
}

static int
banned(const struct report *r, const char *value)
{
	for (size_t i = 0; i < r->nb; i++)
		if (strcmp(r->b[i].value, value) == 0)
			return 1;
	return 0;
}

#define BR "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 " \
	"Firefox/133.0"

static void
test_analyst_embedded(void **state)
{
	static const char *const secrets[] = {
		"/.env", "/.git/config", "/wp-config.php.bak", "/phpinfo.php",
		"/backup.sql", "/.aws/credentials",
	};
	struct store s;
	struct source src;
	struct report r;
	struct analyst_config c;
	const struct finding *f;
	char err[512], uri[64];
	int64_t t0 = 1795165200 * SEC;
	(void)state;

	store_init(&s, NULL);
	/* A scanner; a private one; an injection prober. */
	for (size_t i = 0; i < ARRAY_LEN(secrets); i++) {
		row(&s, t0 + (int64_t)i * SEC, "203.0.113.5", "GET", secrets[i],
		    404, "curl/8.5.0", "");
		row(&s, t0 + (int64_t)i * SEC, "10.1.2.3", "GET", secrets[i],
		    404, "curl/8.5.0", "");
	}
	row(&s, t0 + 10 * SEC, "198.51.100.20", "GET",
	    "/?id=1%27%20OR%20%271%27=%271", 200, "Mozilla/5.0", "");
	row(&s, t0 + 11 * SEC, "198.51.100.20", "GET",
	    "/download?file=../../../../etc/passwd", 404, "Mozilla/5.0", "");
	/* A heavy healthy client: 400 a minute, many URIs, all fine. */
	for (int i = 0; i < 2000; i++) {
		snprintf(uri, sizeof(uri), "/api/v1/products?page=%d", i % 40);
		row(&s, t0 + (int64_t)i * (60 * SEC / 400), "192.0.2.10", "GET",
		    uri, 200, "acme-sync/1.0", "");
	}
	/* A browser meeting a broken page: two missing images, each
	 * visitor; and one missing page. */
	for (int v = 0; v < 5; v++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "192.0.2.%d", 100 + v);
		row(&s, t0 + (int64_t)v * SEC, ip, "GET", "/", 200, BR,
		    "https://www.google.com/");
		row(&s, t0 + (int64_t)v * SEC, ip, "GET",
		    "/wp-content/uploads/a.png", 404, BR, "https://x/");
		row(&s, t0 + (int64_t)v * SEC, ip, "GET",
		    "/wp-content/uploads/b.png", 404, BR, "https://x/");
		row(&s, t0 + (int64_t)v * SEC, ip, "GET", "/old-page", 404,
		    BR, "https://x/");
	}
	store_finish(&s);

	memset(&src, 0, sizeof(src));
	src.store = &s;
	src.now_ns = s.tmax + 1;
	analyst_config_init(&c);
	report_init(&r);
	assert_int_equal(analyst_run(&src, &c, s.tmin, s.tmax + 1, &r, err,
	    sizeof(err)), 0);
	report_decide(&r, &c.guard, NULL, "dry-run");

	f = find(&r, "203.0.113.5");
	assert_non_null(f);
	assert_string_equal(f->scenario, "anomaly-detect/http-sensitive-files");
	assert_int_equal(finding_get(f, "sensitive_paths"), 6);
	assert_int_equal(finding_get(f, "offending"), 6);
	assert_int_equal(f->first_ns, t0);
	assert_int_equal(f->last_ns, t0 + 5 * SEC);
	assert_int_equal(f->nsamples, 3);
	assert_string_equal(f->samples[0].uri, "/.env");
	assert_non_null(f->sentence);
	assert_true(banned(&r, "203.0.113.5"));

	f = find(&r, "10.1.2.3");
	assert_non_null(f);
	assert_non_null(strstr(f->note, "RFC 1918"));
	assert_false(banned(&r, "10.1.2.3"));

	f = find(&r, "198.51.100.20");
	assert_non_null(f);
	assert_string_equal(f->scenario, "anomaly-detect/http-injection");
	assert_true(banned(&r, "198.51.100.20"));

	/* Volume alone, and broken images, are nothing. */
	assert_null(find(&r, "192.0.2.10"));
	for (int v = 0; v < 5; v++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "192.0.2.%d", 100 + v);
		assert_null(find(&r, ip));
	}
	assert_int_equal(r.nb, 2);
	/* Tens of queries, not one per address. */
	assert_true(r.queries >= 5 && r.queries <= 40);
	assert_int_equal(src.queries, r.queries);
	report_release(&r);

	/* Thresholds move the verdicts: with three sensitive paths needed
	 * per address, the injection prober is all that is left. */
	assert_int_equal(analyst_config_set(&c, "analyst_sensitive_min", "7",
	    err, sizeof(err)), 0);
	assert_int_equal(analyst_config_set(&c, "analyst_probe_min_paths",
	    "100", err, sizeof(err)), 0);
	report_init(&r);
	assert_int_equal(analyst_run(&src, &c, s.tmin, s.tmax + 1, &r, err,
	    sizeof(err)), 0);
	report_decide(&r, &c.guard, NULL, "dry-run");
	assert_int_equal(r.nb, 1);
	assert_string_equal(r.b[0].value, "198.51.100.20");
	report_release(&r);

	/* The window confines every question: before the attacks, nothing. */
	report_init(&r);
	assert_int_equal(analyst_run(&src, &c, t0 - 3600 * SEC, t0, &r, err,
	    sizeof(err)), 0);
	assert_int_equal(r.nf, 0);
	report_release(&r);

	/* No store and no VictoriaLogs: an error, not a crash. */
	memset(&src, 0, sizeof(src));
	report_init(&r);
	assert_int_equal(analyst_run(&src, &c, TIME_NONE, TIME_NONE, &r, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no log store"));
	report_release(&r);
	store_release(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guard_ipv4),
		cmocka_unit_test(test_guard_ipv6),
		cmocka_unit_test(test_guard_trusted),
		cmocka_unit_test(test_guard_ranges),
		cmocka_unit_test(test_cidr_overlaps),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_absorb_and_keep),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_score),
		cmocka_unit_test(test_analyst_embedded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
