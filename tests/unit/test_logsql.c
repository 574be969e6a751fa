/*
 * LogsQL parser and printer: every construct prints back canonically and
 * the canonical text reads back to itself; precedence; every error names
 * the right column; limits; numbers and the value order.
 */
#include <math.h>

#include "testutil.h"

/* Parse, print; the printed text must parse and print the same. */
static char *
canon(const char *q)
{
	char err[256];
	struct buf b = BUF_INIT, b2 = BUF_INIT;
	struct logsql_query *p, *p2;

	p = logsql_parse(q, strlen(q), err, sizeof(err));
	if (p == NULL) {
		print_error("parse of [%s] failed: %s\n", q, err);
		fail();
	}
	logsql_print(p, &b);
	p2 = logsql_parse(b.p, b.len, err, sizeof(err));
	if (p2 == NULL) {
		print_error("reparse of [%s] failed: %s\n", b.p, err);
		fail();
	}
	logsql_print(p2, &b2);
	assert_string_equal(b.p, b2.p);
	logsql_free(p);
	logsql_free(p2);
	buf_release(&b2);
	char *r = xstrdup(b.p);
	buf_release(&b);
	return r;
}

#define CANON(in, want) do {                                             \
	char *got_ = canon(in);                                          \
	if (strcmp(got_, want) != 0)                                     \
		print_error("input [%s]\n", in);                         \
	assert_string_equal(got_, want);                                 \
	free(got_);                                                      \
} while (0)

/* The error for q; the query must fail. */
static void
expect_err(const char *q, size_t len, const char *want)
{
	char err[256];
	struct logsql_query *p = logsql_parse(q, len, err, sizeof(err));

	if (p != NULL) {
		print_error("[%s] parsed, expected error %s\n", q, want);
		logsql_free(p);
		fail();
	}
	if (strstr(err, want) == NULL) {
		print_error("[%s]: error [%s] lacks [%s]\n", q, err, want);
		fail();
	}
}

#define ERR(q, want) expect_err(q, strlen(q), want)

/* A query that must parse. */
static struct logsql_query *
P(const char *q)
{
	char err[256];
	struct logsql_query *p = logsql_parse(q, strlen(q), err, sizeof(err));

	if (p == NULL)
		print_error("[%s]: %s\n", q, err);
	return p;
}

static void
test_filters_roundtrip(void **state)
{
	(void)state;
	CANON("error", "error");
	CANON("*", "*");
	CANON("\"ssh: login fail\"", "\"ssh: login fail\"");
	CANON("err*", "err*");
	CANON("\"foo bar\"*", "\"foo bar\"*");
	/* _msg not empty: not the same as every row */
	CANON("''*", "\"\"*");
	CANON("status:*", "status:*");
	/* a field named like _time only when quoted */
	CANON("'_Time':x", "\"_Time\":x");
	CANON("i(Error)", "i(error)");
	CANON("i(ERR*)", "i(err*)");
	CANON("i(*)", "i(*)");
	CANON("i(\"\")", "i(\"\")");
	CANON("*substr*", "*substr*");
	CANON("status:404", "status:404");
	CANON("path:\"/wp-login.php\"", "path:\"/wp-login.php\"");
	CANON("request_uri:/wp-login.php", "request_uri:\"/wp-login.php\"");
	CANON("status:=404", "status:=404");
	CANON("status:=\"404\"", "status:=404");
	CANON("request_uri:=/api*", "request_uri:=\"/api\"*");
	CANON("exact(foo*)", "=foo*");
	CANON("path:~\"^/\\\\.git\"", "path:~\"^/\\\\.git\"");
	CANON("path:!~\"re\"", "!path:~\"re\"");
	CANON("path:!~\"x\"", "!path:~x");
	CANON("re(\"a.b\")", "~\"a.b\"");
	CANON("status:in(401,403,\"x y\")", "status:in(401, 403, \"x y\")");
	CANON("f:in()", "f:in()");
	CANON("status:!=200", "!status:=200");
	CANON("status:>=400 status:<500", "status:>=400 status:<500");
	CANON("status:>400 status:<=500", "status:>400 status:<=500");
	CANON("f:>-5", "f:>-5");
	CANON("status:>1_000", "status:>1_000");
	CANON("status:range[400, 500)", "status:range[400, 500)");
	CANON("status:range(1.5K, 10KiB]", "status:range(1.5K, 10KiB]");
	CANON("f:range(-1, inf)", "f:range(-1, inf)");
	CANON("remote_addr:ipv4_range(\"203.0.113.0/24\")",
	    "remote_addr:ipv4_range(203.0.113.0, 203.0.113.255)");
	CANON("ip:ipv4_range(1.2.3.4, 1.2.3.9)",
	    "ip:ipv4_range(1.2.3.4, 1.2.3.9)");
	CANON("f:ipv4_range(1.2.3.4)", "f:ipv4_range(1.2.3.4, 1.2.3.4)");
	CANON("f:*", "f:*");
	CANON("f:\"\"", "f:\"\"");
	CANON("_msg:foo", "foo");
	CANON("\"\":bar", "bar");
	CANON("x:a:b", "x:\"a:b\"");
	CANON("\"request.headers.User-Agent\":curl",
	    "\"request.headers.User-Agent\":curl");
	/* reserved words are quoted when they are values */
	CANON("\"and\" \"or\" \"in\" \"stats\"", "\"and\" \"or\" \"in\" \"stats\"");
	/* escapes: Go's, both ways */
	CANON("\"a\\tb\\u00e9\\x01\\xff\"", "\"a\\tbé\\x01\\xff\"");
	CANON("'single \\' q'", "\"single ' q\"");
	CANON("`raw \\n`", "\"raw \\\\n\"");
	CANON("x:\"a\\x00b\"", "x:\"a\\x00b\"");
	CANON("# a comment\nfoo", "foo");
	CANON("a | limit 5;", "a | limit 5");
}

static void
test_time_roundtrip(void **state)
{
	(void)state;
	CANON("_time:5m", "_time:5m");
	CANON("_time:1h offset 5m", "_time:1h offset 5m");
	CANON("_time:5m offset -1m", "_time:5m offset -1m");
	CANON("_time:[2026-11-20T09:00:00Z, 2026-11-20T09:15:00Z)",
	    "_time:[2026-11-20T09:00:00Z,2026-11-20T09:15:00Z)");
	CANON("_time:(2026-11-20, 2026-11-21]",
	    "_time:(2026-11-20,2026-11-21]");
	CANON("_time:[now-1h, now)", "_time:[now-1h,now)");
	CANON("_time:>2026-11-20T09:00:00Z", "_time:>2026-11-20T09:00:00Z");
	CANON("_time:>=2026-11-20T09:00:00+01:00",
	    "_time:>=2026-11-20T09:00:00+01:00");
	CANON("_time:<5m", "_time:<5m");
	CANON("_time:>=1d", "_time:>=1d");
	CANON("_time:2026-11-20", "_time:2026-11-20");
	CANON("_time:offset 1h", "_time:offset 1h");
}

static void
test_logic(void **state)
{
	struct logsql_query *q;

	(void)state;
	CANON("a OR b c", "a or b c");
	CANON("NOT a b", "!a b");
	CANON("-a !b not c", "!a !b !c");
	CANON("not not a", "a");
	CANON("a and (b or c) and not (d or e)", "a (b or c) !(d or e)");
	CANON("NOT (a b)", "!(a b)");
	CANON("x:(a or b)", "x:a or x:b");
	CANON("x:(a or b) c", "(x:a or x:b) c");
	CANON("a AND NOT b OR c", "a !b or c");

	/* a OR b c = a OR (b AND c) */
	q = P("a OR b c");
	assert_non_null(q);
	assert_int_equal(q->filter->op, LQ_OR);
	assert_int_equal(q->filter->nkids, 2);
	assert_int_equal(q->filter->kids[0]->op, LQ_PHRASE);
	assert_int_equal(q->filter->kids[1]->op, LQ_AND);
	assert_int_equal(q->filter->kids[1]->nkids, 2);
	logsql_free(q);

	/* NOT a b = (NOT a) AND b */
	q = P("NOT a b");
	assert_non_null(q);
	assert_int_equal(q->filter->op, LQ_AND);
	assert_int_equal(q->filter->kids[0]->op, LQ_NOT);
	assert_string_equal(q->filter->kids[0]->kids[0]->value.p, "a");
	assert_int_equal(q->filter->kids[1]->op, LQ_PHRASE);
	logsql_free(q);

	/* a (b c) d is one AND of four... three */
	q = P("a (b c) d");
	assert_non_null(q);
	assert_int_equal(q->filter->op, LQ_AND);
	assert_int_equal(q->filter->nkids, 4);
	logsql_free(q);

	/* the field applies inside parentheses; _msg fields are NULL */
	q = P("x:(a or b) y");
	assert_non_null(q);
	assert_string_equal(q->filter->kids[0]->kids[1]->field.p, "x");
	assert_null(q->filter->kids[1]->field.p);
	logsql_free(q);

	/* exclusive numeric bounds become the next double */
	q = P("s:>5 t:range(1, 2]");
	assert_non_null(q);
	assert_true(q->filter->kids[0]->lo > 5.0);
	assert_true(q->filter->kids[0]->lo < 5.0000001);
	assert_true(isinf(q->filter->kids[0]->hi));
	assert_true(q->filter->kids[1]->hi == 2.0);
	logsql_free(q);
}

static void
test_pipes_roundtrip(void **state)
{
	struct logsql_query *q;

	(void)state;
	CANON("* | stats by (client_ip) count() hits, count_uniq(request_uri) "
	    "paths", "* | stats by (client_ip) count(*) as hits, "
	    "count_uniq(request_uri) as paths");
	CANON("* | stats by (f1, f2:/24, _time:1m) count() as n, sum(x), "
	    "min(x), max(x), avg(x), quantile(0.99, x) p99",
	    "* | stats by (f1, f2:/24, _time:1m) count(*) as n, "
	    "sum(x) as \"sum(x)\", min(x) as \"min(x)\", max(x) as \"max(x)\", "
	    "avg(x) as \"avg(x)\", quantile(0.99, x) as p99");
	CANON("* | count() if (status:>=400) errors, count() if (status:>=500)",
	    "* | stats count(*) if (status:>=400) as errors, "
	    "count(*) if (status:>=500) as \"count(*) if (status:>=500)\"");
	CANON("* | stats count()", "* | stats count(*) as \"count(*)\"");
	CANON("* | stats count(*) n", "* | stats count(*) as n");
	CANON("* | by (a) count()", "* | stats by (a) count(*) as \"count(*)\"");
	CANON("* | stats by (_time:1h offset 30m) count() c",
	    "* | stats by (_time:1h offset 30m) count(*) as c");
	CANON("* | stats by (body_bytes_sent:1KiB) count() n",
	    "* | stats by (body_bytes_sent:1KiB) count(*) as n");
	CANON("* | stats count(client_ip, host) c",
	    "* | stats count(client_ip, host) as c");
	CANON("* | stats count_uniq(client_ip, request_uri) pairs",
	    "* | stats count_uniq(client_ip, request_uri) as pairs");
	CANON("* | filter hits:>100 | sort by (hits desc) limit 10 | "
	    "limit 20 | fields a, b", "* | filter hits:>100 | sort by "
	    "(hits desc) limit 10 | limit 20 | fields a, b");
	CANON("* | where x", "* | filter x");
	CANON("* | sort by (a, b desc) desc offset 3 limit 4",
	    "* | sort by (a, b desc) desc offset 3 limit 4");
	CANON("* | sort by (a asc) limit 5 offset 2",
	    "* | sort by (a) offset 2 limit 5");
	CANON("* | order by (a)", "* | sort by (a)");
	CANON("* | uniq by (f) with hits", "* | uniq by (f) with hits");
	CANON("* | uniq a, b limit 5", "* | uniq by (a, b) limit 5");
	CANON("* | top 10 by (remote_addr)", "* | top 10 by (remote_addr)");
	CANON("* | top by (a, b) hits as n", "* | top 10 by (a, b) hits as n");
	CANON("* | top 3 client_ip", "* | top 3 by (client_ip)");
	CANON("* | offset 5 | head", "* | offset 5 | limit 10");
	CANON("* | head 3", "* | limit 3");
	CANON("* | keep a", "* | fields a");
	CANON("a |stats count()", "a | stats count(*) as \"count(*)\"");
	CANON("*|stats count()", "* | stats count(*) as \"count(*)\"");

	/* the default name is VictoriaLogs' */
	q = P("* | stats count() if (status:>=400), avg(x)");
	assert_non_null(q);
	assert_int_equal(q->npipes, 1);
	assert_string_equal(q->pipes[0].stats[0].name.p,
	    "count(*) if (status:>=400)");
	assert_string_equal(q->pipes[0].stats[1].name.p, "avg(x)");
	assert_int_equal(q->pipes[0].stats[0].fn, LQS_COUNT);
	assert_int_equal(q->pipes[0].stats[0].nfields, 0);
	logsql_free(q);

	q = P("* | stats by (ip:/24, _time:5m) count()");
	assert_non_null(q);
	assert_int_equal(q->pipes[0].by[0].bucket, LQB_IPV4);
	assert_int_equal(q->pipes[0].by[0].mask, 24);
	assert_int_equal(q->pipes[0].by[1].bucket, LQB_TIME);
	assert_int_equal(q->pipes[0].by[1].step_ns, 300000000000LL);
	logsql_free(q);
}

static void
test_errors(void **state)
{
	(void)state;
	ERR("foo = bar", "column 5: '=' with spaces around it is not LogsQL: "
	    "write foo:=bar");
	ERR("foo != bar", "column 5:");
	ERR("foo=bar", "column 4: \"foo=...\" is not LogsQL: write foo:=value");
	ERR("* | stats by (a count() x",
	    "column 17: expected ',' or ')' in the by-list, got \"count\"");
	ERR("(a", "column 3: expected ')' closing the '(' at column 1, got end");
	ERR("a)", "column 2: expected '|' or the end of the query, got ')'");
	ERR("a and", "column 6: expected a filter, got end of query");
	ERR("a | ", "column 5: expected a pipe after '|'");
	ERR("", "column 1: expected a filter");
	ERR("| stats count()", "column 1: expected a filter");
	ERR("* | stats", "column 10: expected a stats function");
	ERR("* | stats by (x) count() x", "column 18: result name \"x\" is a "
	    "by-field");
	ERR("* | stats count() a, sum(b) a", "column 22: result name \"a\" "
	    "used twice");
	ERR("* | nosuchpipe", "column 5: unknown pipe \"nosuchpipe\"");
	ERR("* | stats median(x)", "column 11: unknown or unsupported stats "
	    "function \"median\"");
	ERR("status:>", "column 9: expected a number, got end of query");
	ERR("status:>abc", "column 9: expected a number after '>', got \"abc\"");
	ERR("_time:5x", "column 7: expected a duration");
	ERR("_time:[2026-13-01, now)", "column 8: expected a time");
	ERR("_time:[2026-11-20, now", "column 23: expected ']' or ')'");
	ERR("_time:[2026-11-20 now)", "column 19: expected ','");
	ERR("f:~\"(a\"", "column 4: invalid regexp: missing ')'");
	ERR("f:~\"\\\\pL\"", "column 4: invalid regexp: \\p is not supported");
	ERR("f:~\"(?=x)\"", "column 4: invalid regexp");
	ERR("f:~\"a{2000}\"", "column 4: invalid regexp: bad repetition");
	ERR("f:~\"((a{100}){100}){100}\"", "column 4: invalid regexp: too "
	    "complex");
	ERR("f:~-x", "column 4: a regexp starting with '-' must be quoted");
	ERR("f:in(a b)", "column 8: expected ',' or ')' in in(), got \"b\"");
	ERR("x:in(*)", "column 6: in(*) is not supported");
	ERR("in", "column 1: \"in\" must be followed by '('");
	ERR("{app=\"x\"}", "column 1: stream filters");
	ERR("_stream:{a=\"b\"}", "column 1: stream filters");
	ERR("f:=", "column 4: expected a value after '='");
	ERR("f:\"unterminated", "column 3: unterminated quoted string");
	ERR("\"bad \\q escape\"", "column 6: invalid escape sequence");
	ERR("\"new\nline\"", "column 5: newline inside a quoted string");
	ERR("\"\\ud800\"", "column 2: invalid escape sequence");
	ERR("* | stats count() if status:1", "column 22: expected '(' after if");
	ERR("* | stats count() if (a", "column 24: expected ')' closing the "
	    "if-filter at column 22");
	ERR("* | sort by ()", "column 14: expected a field name to sort by");
	ERR("* | sort x", "column 10: expected '(' starting the sort keys");
	ERR("* | limit x", "column 11: expected '|' or the end of the query");
	ERR("* | limit 1.5", "column 11: expected a row count, got \"1.5\"");
	ERR("* | stats by (_time:month) count()", "column 21: expected a time "
	    "bucket");
	ERR("* | stats by (a:/33) count()", "column 17: expected an IPv4 prefix");
	ERR("f:ipv4_range(\"1.2.3.4/33\")", "column 13: bad prefix length");
	ERR("f:ipv4_range(\"1.2.3\")", "column 13: ipv4_range() wants");
	ERR("* | fields", "column 11: expected a field name in fields");
	ERR("* | fields a*", "column 13: wildcards in fields are not supported");
	ERR("* | top 0 by (x)", "column 9: top needs N > 0");
	ERR("* | stats sum(*)", "column 11: sum(*) is not supported");
	ERR("* | stats quantile(2, x)", "column 11: quantile() wants");
	ERR("i(x", "column 4: expected ')' closing i(, got end of query");
	ERR("f:*abc", "column 7: expected '*' closing *substring*");
	ERR("err*:foo", "column 1: wildcard field names (err*:) are not "
	    "supported");
	ERR("-", "column 2: expected a filter, got end of query");
	ERR("a or", "column 5: expected a filter");
	ERR("and", "column 1: expected a filter (quote \"and\"");
	ERR("a\"b\"", "column 2: missing whitespace or ':' between \"a\" "
	    "and \"b\"");
	ERR("foo > 5", "column 5: missing ':' before '>'");
}

static void
test_errors_unicode_column(void **state)
{
	(void)state;
	/* Columns count characters, not bytes. */
	ERR("\xc3\xa9\xc3\xa9 = x", "column 4:");
	ERR("abc \xff", "column 5: invalid UTF-8");
	ERR("abc \"\xff\"", "column 6: invalid UTF-8 inside a quoted string");
	expect_err("a\0b", 3, "column 2: NUL byte");
}

static void
test_limits(void **state)
{
	struct buf b = BUF_INIT;
	char err[256];
	struct logsql_query *q;

	(void)state;
	/* 64 levels of parentheses parse; 65 do not */
	for (int i = 0; i < 63; i++)
		buf_addch(&b, '(');
	buf_addch(&b, 'a');
	for (int i = 0; i < 63; i++)
		buf_addch(&b, ')');
	q = logsql_parse(b.p, b.len, err, sizeof(err));
	assert_non_null(q);
	logsql_free(q);
	buf_reset(&b);
	for (int i = 0; i < 70; i++)
		buf_addch(&b, '(');
	buf_addch(&b, 'a');
	for (int i = 0; i < 70; i++)
		buf_addch(&b, ')');
	expect_err(b.p, b.len, "nested deeper than 64");

	buf_reset(&b);
	for (int i = 0; i < 200; i++)
		buf_addch(&b, '!');
	buf_addch(&b, 'a');
	expect_err(b.p, b.len, "nested deeper than 64");

	/* pipes */
	buf_reset(&b);
	buf_addch(&b, '*');
	for (int i = 0; i < 64; i++)
		buf_addstr(&b, " | limit 1");
	q = logsql_parse(b.p, b.len, err, sizeof(err));
	assert_non_null(q);
	assert_int_equal(q->npipes, 64);
	logsql_free(q);
	buf_addstr(&b, " | limit 1");
	expect_err(b.p, b.len, "more than 64 pipes");

	/* in() values */
	buf_reset(&b);
	buf_addstr(&b, "f:in(");
	for (int i = 0; i < LOGSQL_MAX_VALUES + 1; i++)
		buf_addf(&b, "%s%d", i ? "," : "", i);
	buf_addch(&b, ')');
	expect_err(b.p, b.len, "too many values in in()");

	/* the whole query */
	buf_reset(&b);
	for (int i = 0; i < LOGSQL_MAX_QUERY / 2 + 1; i++)
		buf_add(&b, "a ", 2);
	expect_err(b.p, b.len, "query longer than");

	/* by-fields, stats functions */
	buf_reset(&b);
	buf_addstr(&b, "* | stats by (");
	for (int i = 0; i < LOGSQL_MAX_BY + 1; i++)
		buf_addf(&b, "%sf%d", i ? "," : "", i);
	buf_addstr(&b, ") count()");
	expect_err(b.p, b.len, "more than 16 by-fields");
	buf_reset(&b);
	buf_addstr(&b, "* | stats ");
	for (int i = 0; i < LOGSQL_MAX_STATS + 1; i++)
		buf_addf(&b, "%scount() c%d", i ? "," : "", i);
	expect_err(b.p, b.len, "more than 32 stats functions");
	buf_release(&b);
}

static void
test_junk(void **state)
{
	char err[256];
	struct logsql_query *q;
	uint64_t x = 42;
	unsigned char junk[200];

	(void)state;
	/* Junk never crashes; whatever parses prints back the same. */
	for (int round = 0; round < 3000; round++) {
		size_t n = (size_t)(x % sizeof(junk));
		for (size_t i = 0; i < n; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			/* mostly LogsQL's own characters */
			static const char alpha[] = "ab:*()!-\"'|=~<>[], _x0.9/";
			junk[i] = (x >> 60) < 12 ? (unsigned char)alpha[(x >> 32) %
			    (sizeof(alpha) - 1)] : (unsigned char)(x >> 24);
		}
		q = logsql_parse((const char *)junk, n, err, sizeof(err));
		if (q == NULL) {
			assert_non_null(strstr(err, "column ") == err ? err :
			    strstr(err, "query"));
			continue;
		}
		struct buf b = BUF_INIT, b2 = BUF_INIT;
		logsql_print(q, &b);
		struct logsql_query *q2 = logsql_parse(b.p, b.len, err,
		    sizeof(err));
		assert_non_null(q2);
		logsql_print(q2, &b2);
		assert_string_equal(b.p, b2.p);
		logsql_free(q2);
		logsql_free(q);
		buf_release(&b);
		buf_release(&b2);
	}
}

static void
test_numbers(void **state)
{
	double d;
	char out[64];
	uint32_t ip;

	(void)state;
#define NUM(s, v) do {                                                   \
	assert_int_equal(lq_parse_number(span_str(s), &d), 0);          \
	assert_true(d == (v));                                           \
} while (0)
	NUM("12", 12);
	NUM("-1.5", -1.5);
	NUM("1e3", 1000);
	NUM("1_000", 1000);
	NUM("0x1F", 31);
	NUM("10KiB", 10240);
	NUM("1.5K", 1500);
	NUM("2MB", 2e6);
	NUM("3Gi", 3.0 * 1073741824.0);
	NUM("5m", 300e9);
	NUM("1h30m", 5400e9);
	assert_int_equal(lq_parse_number(span_str("inf"), &d), 0);
	assert_true(isinf(d) && d > 0);
	assert_int_equal(lq_parse_number(span_str("nan"), &d), 0);
	assert_true(isnan(d));
	assert_int_equal(lq_parse_number(span_str(""), &d), -1);
	assert_int_equal(lq_parse_number(span_str("abc"), &d), -1);
	assert_int_equal(lq_parse_number(span_str("5 m"), &d), -1);
	assert_int_equal(lq_parse_number(span_str("1.5Q"), &d), -1);
	assert_int_equal(lq_parse_number(span_str("0xZZ"), &d), -1);

	assert_int_equal(lq_parse_float(span_str("0.043"), &d), 0);
	assert_true(d == 0.043);
	assert_int_equal(lq_parse_float(span_str("-1.5e3"), &d), 0);
	assert_true(d == -1500);
	assert_int_equal(lq_parse_float(span_str("1_000"), &d), -1);
	assert_int_equal(lq_parse_float(span_str("1e"), &d), -1);
	assert_int_equal(lq_parse_float(span_str("."), &d), -1);
	assert_int_equal(lq_parse_float(span_str("1.2.3"), &d), -1);
	assert_int_equal(lq_parse_float(span_str(" 1"), &d), -1);

	assert_int_equal(lq_parse_ipv4(span_str("10.0.0.255"), &ip), 0);
	assert_int_equal(ip, 0x0a0000ff);
	assert_int_equal(lq_parse_ipv4(span_str("10.0.0.256"), &ip), -1);
	assert_int_equal(lq_parse_ipv4(span_str("10.0.0"), &ip), -1);
	assert_int_equal(lq_parse_ipv4(span_str("10.0.0.1:80"), &ip), -1);
	assert_int_equal(lq_parse_ipv4(span_str("::1"), &ip), -1);

#define FMT(v, s) do {                                                   \
	lq_fmt_float((v), out, sizeof(out));                             \
	assert_string_equal(out, s);                                     \
} while (0)
	FMT(3.0, "3");
	FMT(0.25, "0.25");
	FMT(-0.5, "-0.5");
	FMT(0.1 + 0.2, "0.30000000000000004");
	FMT(1e21, "1000000000000000000000");
	FMT(1e-7, "0.0000001");
	FMT(123456.789, "123456.789");
	FMT(0.0, "0");
	FMT(NAN, "NaN");
	FMT(INFINITY, "+Inf");
	FMT(-INFINITY, "-Inf");
	FMT(45235809.0, "45235809");
	FMT(1.0 / 3.0, "0.3333333333333333");
}

static void
test_value_order(void **state)
{
	(void)state;
#define LT(a, b) do {                                                    \
	assert_int_equal(lq_value_cmp(span_str(a), span_str(b)), -1);   \
	assert_int_equal(lq_value_cmp(span_str(b), span_str(a)), 1);    \
} while (0)
	LT("9", "10");
	LT("-5", "3");
	LT("0.5", "2");
	LT("1.5", "10");
	LT("a2", "a10");
	LT("abc", "abd");
	LT("", "a");
	LT("9.1.1.1", "10.0.0.2");
	LT("2026-11-20T09:00:00.5Z", "2026-11-20T09:00:01Z");
	LT("2026-11-20T10:00:00+02:00", "2026-11-20T09:00:00Z");
	assert_int_equal(lq_value_cmp(span_str("1.0"), span_str("1")), 0);
	assert_int_equal(lq_value_cmp(span_str("x"), span_str("x")), 0);
}

static void
test_confine(void **state)
{
	struct buf b = BUF_INIT;
	char err[256];
	const char *q;
	int64_t a = 1795165200LL * 1000000000LL; /* 2026-11-20T09:00:00Z */
	int64_t e = a + 900LL * 1000000000LL;

	(void)state;
	q = "status:404 or status:500 | stats count() n";
	assert_int_equal(logsql_confine(q, strlen(q), a, e, &b, err,
	    sizeof(err)), 0);
	assert_string_equal(b.p, "_time:[2026-11-20T09:00:00Z,"
	    "2026-11-20T09:15:00Z) (status:404 or status:500) | "
	    "stats count(*) as n");
	buf_reset(&b);
	q = "*";
	assert_int_equal(logsql_confine(q, 1, a, e, &b, err, sizeof(err)), 0);
	assert_string_equal(b.p, "_time:[2026-11-20T09:00:00Z,"
	    "2026-11-20T09:15:00Z)");
	buf_reset(&b);
	q = "a b _time:5m";
	assert_int_equal(logsql_confine(q, strlen(q), a, e + 1, &b, err,
	    sizeof(err)), 0);
	assert_string_equal(b.p, "_time:[2026-11-20T09:00:00Z,"
	    "2026-11-20T09:15:00.000000001Z) a b _time:5m");
	/* the rewrite is itself LogsQL that keeps the window */
	struct logsql_query *p = logsql_parse(b.p, b.len, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(p->filter->op, LQ_AND);
	assert_int_equal(p->filter->kids[0]->op, LQ_TIME);
	assert_true(p->filter->kids[0]->t.lo == a);
	assert_true(p->filter->kids[0]->t.hi == e);
	logsql_free(p);
	buf_reset(&b);
	assert_int_equal(logsql_confine("a or b", 6, TIME_NONE, e, &b, err,
	    sizeof(err)), 0);
	assert_string_equal(b.p, "_time:<2026-11-20T09:15:00Z (a or b)");
	buf_reset(&b);
	assert_int_equal(logsql_confine("a", 1, a, TIME_NONE, &b, err,
	    sizeof(err)), 0);
	assert_string_equal(b.p, "_time:>=2026-11-20T09:00:00Z a");
	p = logsql_parse(b.p, b.len, err, sizeof(err));
	assert_non_null(p);
	assert_true(p->filter->kids[0]->t.lo == a);
	assert_int_equal(p->filter->kids[0]->t.hi_kind, LQT_OPEN);
	logsql_free(p);
	buf_reset(&b);
	assert_int_equal(logsql_confine("a", 1, TIME_NONE, TIME_NONE, &b, err,
	    sizeof(err)), 0);
	assert_string_equal(b.p, "a");
	buf_reset(&b);
	assert_int_equal(logsql_confine("a (", 3, a, e, &b, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "column 4"));
	assert_int_equal(logsql_confine("a", 1, e, a, &b, err, sizeof(err)),
	    -1);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

static void
test_time_bounds(void **state)
{
	struct logsql_query *q;
	int64_t a = 1795165200LL * 1000000000LL;

	(void)state;
	/* [a, b) is [a, b - 1 ns]; ( adds 1 ns; ] ends the unit written */
	q = P("_time:(2026-11-20T09:00:00Z, 2026-11-20]");
	assert_non_null(q);
	assert_int_equal(q->filter->t.lo_kind, LQT_ABS);
	assert_true(q->filter->t.lo == a + 1);
	assert_true(q->filter->t.hi == a - 9 * 3600 * 1000000000LL +
	    86400 * 1000000000LL - 1);
	logsql_free(q);
	/* _time:5m: [now - 5m, now - 1ns] */
	q = P("_time:5m offset 1m");
	assert_non_null(q);
	assert_int_equal(q->filter->t.lo_kind, LQT_NOW);
	assert_true(q->filter->t.lo == 300000000000LL);
	assert_int_equal(q->filter->t.hi_kind, LQT_NOW);
	assert_true(q->filter->t.hi == 1);
	assert_true(q->filter->t.offset == 60000000000LL);
	logsql_free(q);
	q = P("_time:>=2026-11-20T10:00:00+01:00");
	assert_non_null(q);
	assert_true(q->filter->t.lo == a);
	assert_int_equal(q->filter->t.hi_kind, LQT_OPEN);
	logsql_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filters_roundtrip),
		cmocka_unit_test(test_time_roundtrip),
		cmocka_unit_test(test_logic),
		cmocka_unit_test(test_pipes_roundtrip),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_errors_unicode_column),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_junk),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_value_order),
		cmocka_unit_test(test_confine),
		cmocka_unit_test(test_time_bounds),
	};

	log_init("test_logsql", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
