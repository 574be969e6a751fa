/*
 * timefmt.c: calendar arithmetic (checked against libc's timegm), the
 * three parsers with good and bad input, and RFC 3339 output.
 */
#include <time.h>

#include "testutil.h"

#define NS 1000000000LL

/* A copy of s in a buffer of exactly its length, so that ASan catches a
 * parser reading past the end (log lines are not NUL-terminated). */
static struct span
exact(const char *s, size_t n, char **hold)
{
	*hold = xmalloc(n != 0 ? n : 1);
	memcpy(*hold, s, n);
	return (struct span){ *hold, n };
}

typedef int (*parse_fn)(struct span, int64_t *);

/* Parses s with fn; returns the parser's result, the value in *v. */
static int
run_parse(parse_fn fn, const char *s, int64_t *v)
{
	char *hold;
	int r;

	*v = 12345; /* must stay untouched on failure */
	r = fn(exact(s, strlen(s), &hold), v);
	free(hold);
	return r;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	/* xorshift64*: deterministic across runs and machines. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* ---- time_from_civil */

static void
test_civil_known(void **state)
{
	(void)state;
	assert_int_equal(time_from_civil(1970, 1, 1, 0, 0, 0), 0);
	assert_int_equal(time_from_civil(1969, 12, 31, 23, 59, 59), -1);
	assert_int_equal(time_from_civil(2026, 11, 20, 9, 0, 0), 1795165200);
	assert_int_equal(time_from_civil(2000, 2, 29, 0, 0, 0), 951782400);
	assert_int_equal(time_from_civil(1900, 1, 1, 0, 0, 0), -2208988800LL);
	assert_int_equal(time_from_civil(2100, 3, 1, 0, 0, 0), 4107542400LL);
	assert_int_equal(time_from_civil(1600, 2, 29, 0, 0, 0),
	    -11670998400LL);
	assert_int_equal(time_from_civil(2023, 11, 14, 22, 13, 20),
	    1700000000);
	/* Out-of-range fields carry, as timegm's do. */
	assert_int_equal(time_from_civil(2025, 13, 1, 0, 0, 0), 1767225600);
	assert_int_equal(time_from_civil(2026, 0, 1, 0, 0, 0),
	    time_from_civil(2025, 12, 1, 0, 0, 0));
	assert_int_equal(time_from_civil(2026, -11, 1, 0, 0, 0),
	    time_from_civil(2025, 1, 1, 0, 0, 0));
	assert_int_equal(time_from_civil(2026, -12, 1, 0, 0, 0),
	    time_from_civil(2024, 12, 1, 0, 0, 0));
	assert_int_equal(time_from_civil(2026, 1, 0, 0, 0, 0),
	    time_from_civil(2025, 12, 31, 0, 0, 0));
	assert_int_equal(time_from_civil(2024, 2, 30, 0, 0, 0),
	    time_from_civil(2024, 3, 1, 0, 0, 0));
	assert_int_equal(time_from_civil(2026, 1, 1, 24, 0, 0),
	    time_from_civil(2026, 1, 2, 0, 0, 0));
	assert_int_equal(time_from_civil(2026, 1, 1, 0, 0, -1),
	    time_from_civil(2025, 12, 31, 23, 59, 59));
}

static void
test_civil_vs_timegm(void **state)
{
	(void)state;
	/* Random dates over 1600..2499, with some fields out of range so the
	 * carrying is compared too. */
	for (int i = 0; i < 200000; i++) {
		uint64_t r = rng();
		int y = 1600 + (int)(r % 900);
		int mon = 1 + (int)((r >> 10) % 12);
		int d = 1 + (int)((r >> 14) % 31);
		int h = (int)((r >> 19) % 24);
		int mi = (int)((r >> 24) % 60);
		int s = (int)((r >> 30) % 60);
		if (i % 8 == 0) {
			mon = (int)((r >> 36) % 40) - 14;
			d = (int)((r >> 42) % 70) - 20;
			h = (int)((r >> 50) % 50);
		}
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = mon - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = s;
		int64_t want = (int64_t)timegm(&tm);
		int64_t got = time_from_civil(y, mon, d, h, mi, s);
		if (got != want)
			fail_msg("%04d-%02d-%02d %02d:%02d:%02d: got %lld, "
			    "timegm %lld", y, mon, d, h, mi, s,
			    (long long)got, (long long)want);
	}
	/* Every day of 1999..2001 and 2099..2101 (leap rules at the edges). */
	for (int y = 1999; y <= 2101; y += (y == 2001 ? 98 : 1)) {
		for (int yd = 0; yd < 366; yd++) {
			struct tm tm;
			memset(&tm, 0, sizeof(tm));
			tm.tm_year = y - 1900;
			tm.tm_mday = 1 + yd;
			assert_int_equal(time_from_civil(y, 1, 1 + yd, 0, 0, 0),
			    (int64_t)timegm(&tm));
		}
	}
}

/* ---- CLF */

struct tcase {
	const char *in;
	int ok;
	int64_t want; /* ns */
};

static void
check_table(parse_fn fn, const char *name, const struct tcase *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t v;
		int r = run_parse(fn, t[i].in, &v);
		if (t[i].ok && r != 0)
			fail_msg("%s(\"%s\") failed", name, t[i].in);
		if (!t[i].ok && r == 0)
			fail_msg("%s(\"%s\") accepted: %lld", name, t[i].in,
			    (long long)v);
		if (!t[i].ok && v != 12345)
			fail_msg("%s(\"%s\") wrote output on failure", name,
			    t[i].in);
		if (t[i].ok && v != t[i].want)
			fail_msg("%s(\"%s\") = %lld, want %lld", name, t[i].in,
			    (long long)v, (long long)t[i].want);
	}
}

static void
test_clf(void **state)
{
	static const struct tcase t[] = {
		{ "20/Nov/2026:09:00:00 +0000", 1, 1795165200 * NS },
		{ "20/Nov/2026:09:00:03 +0000", 1, 1795165203 * NS },
		{ "20/nov/2026:09:00:00 +0000", 1, 1795165200 * NS },
		{ "20/NOV/2026:09:00:00 +0000", 1, 1795165200 * NS },
		{ "20/Nov/2026:14:30:00 +0530", 1, 1795165200 * NS },
		{ "20/Nov/2026:03:30:00 -0530", 1, 1795165200 * NS },
		/* offsets that cross midnight, both ways */
		{ "20/Nov/2026:01:00:00 +0300", 1, 1795125600 * NS },
		{ "19/Nov/2026:22:00:00 -1100", 1, (1795125600 + 11 * 3600) * NS },
		{ "01/Jan/2026:00:00:00 +0100", 1, (1767225600 - 3600) * NS },
		{ "29/Feb/2000:00:00:00 +0000", 1, 951782400 * NS },
		{ "29/Feb/2024:12:00:00 +0000", 1, 1709208000 * NS },
		{ "31/Dec/1969:23:59:59 +0000", 1, -1 * NS },
		{ "01/Jan/1970:00:00:00 +0000", 1, 0 },
		{ "20/Nov/2026:09:00:60 +0000", 1, 1795165259 * NS },
		{ "14/Jan/2026:00:00:00 +0000", 1, (1767225600 + 13 * 86400) * NS },
		{ "14/Feb/2026:00:00:00 +0000", 1, (1767225600 + 44 * 86400) * NS },
		{ "14/Mar/2026:00:00:00 +0000", 1, (1767225600 + 72 * 86400) * NS },
		{ "14/Apr/2026:00:00:00 +0000", 1, (1767225600 + 103 * 86400) * NS },
		{ "14/May/2026:00:00:00 +0000", 1, (1767225600 + 133 * 86400) * NS },
		{ "14/Jun/2026:00:00:00 +0000", 1, (1767225600 + 164 * 86400) * NS },
		{ "14/Jul/2026:00:00:00 +0000", 1, (1767225600 + 194 * 86400) * NS },
		{ "14/Aug/2026:00:00:00 +0000", 1, (1767225600 + 225 * 86400) * NS },
		{ "14/Sep/2026:00:00:00 +0000", 1, (1767225600 + 256 * 86400) * NS },
		{ "14/Oct/2026:00:00:00 +0000", 1, (1767225600 + 286 * 86400) * NS },
		{ "14/Dec/2026:00:00:00 +0000", 1, (1767225600 + 347 * 86400) * NS },
		{ "29/Feb/2100:00:00:00 +0000", 0, 0 },
		{ "29/Feb/2026:00:00:00 +0000", 0, 0 },
		{ "31/Apr/2026:00:00:00 +0000", 0, 0 },
		{ "32/Jan/2026:00:00:00 +0000", 0, 0 },
		{ "00/Jan/2026:00:00:00 +0000", 0, 0 },
		{ "20/Nov/2026:24:00:00 +0000", 0, 0 },
		{ "20/Nov/2026:09:60:00 +0000", 0, 0 },
		{ "20/Nov/2026:09:00:61 +0000", 0, 0 },
		{ "20/Nov/2026:09:00:00 +2400", 0, 0 },
		{ "20/Nov/2026:09:00:00 +0060", 0, 0 },
		{ "20/Nov/2026:09:00:00 0000", 0, 0 },
		{ "20/Nov/2026:09:00:00 *0000", 0, 0 },
		{ "20/Nov/2026:09:00:00 +00:00", 0, 0 },
		{ "20/Nov/2026:09:00:00+0000", 0, 0 },
		{ "20/Nov/2026:09:00:00", 0, 0 },
		{ "20/Nox/2026:09:00:00 +0000", 0, 0 },
		{ "20/N@v/2026:09:00:00 +0000", 0, 0 },
		{ "20/11/2026:09:00:00 +0000", 0, 0 },
		{ "20-Nov-2026:09:00:00 +0000", 0, 0 },
		{ "2/Nov/2026:09:00:00 +0000", 0, 0 },
		{ " 20/Nov/2026:09:00:00 +0000", 0, 0 },
		{ "[20/Nov/2026:09:00:00 +0000]", 0, 0 },
		{ "20/Nov/2026:09:00:00 +0000 ", 0, 0 },
		{ "2a/Nov/2026:09:00:00 +0000", 0, 0 },
		{ "20/Nov/20x6:09:00:00 +0000", 0, 0 },
		{ "", 0, 0 },
		{ "-", 0, 0 },
	};

	(void)state;
	check_table(time_parse_clf, "clf", t, ARRAY_LEN(t));
}

/* ---- RFC 3339 */

static void
test_rfc3339(void **state)
{
	static const struct tcase t[] = {
		{ "2026-11-20T09:00:03Z", 1, 1795165203 * NS },
		{ "2026-11-20t09:00:03z", 1, 1795165203 * NS },
		{ "2026-11-20 09:00:03Z", 1, 1795165203 * NS },
		{ "2026-11-20T09:00:03.297877Z", 1, 1795165203 * NS + 297877000 },
		{ "2026-11-20T09:00:03.1Z", 1, 1795165203 * NS + 100000000 },
		{ "2026-11-20T09:00:03.12Z", 1, 1795165203 * NS + 120000000 },
		{ "2026-11-20T09:00:03.123Z", 1, 1795165203 * NS + 123000000 },
		{ "2026-11-20T09:00:03.1234Z", 1, 1795165203 * NS + 123400000 },
		{ "2026-11-20T09:00:03.12345Z", 1, 1795165203 * NS + 123450000 },
		{ "2026-11-20T09:00:03.123456Z", 1, 1795165203 * NS + 123456000 },
		{ "2026-11-20T09:00:03.1234567Z", 1, 1795165203 * NS + 123456700 },
		{ "2026-11-20T09:00:03.12345678Z", 1, 1795165203 * NS + 123456780 },
		{ "2026-11-20T09:00:03.123456789Z", 1, 1795165203 * NS + 123456789 },
		{ "2026-11-20T09:00:03.000000001Z", 1, 1795165203 * NS + 1 },
		{ "2026-11-20T09:00:03.0Z", 1, 1795165203 * NS },
		{ "2026-11-20T10:00:03+01:00", 1, 1795165203 * NS },
		{ "2026-11-20T10:00:03+0100", 1, 1795165203 * NS },
		{ "2026-11-20T03:30:03-05:30", 1, 1795165203 * NS },
		{ "2026-11-20T03:30:03.5-05:30", 1, 1795165203 * NS + 500000000 },
		{ "2026-11-20T09:00:03-00:00", 1, 1795165203 * NS },
		/* offsets crossing midnight and the year */
		{ "2026-11-20T01:00:00+03:00", 1, 1795125600 * NS },
		{ "2025-12-31T23:00:00-01:00", 1, 1767225600 * NS },
		{ "2026-01-01T00:30:00+01:00", 1, (1767225600 - 1800) * NS },
		{ "2000-02-29T00:00:00Z", 1, 951782400 * NS },
		{ "1600-02-29T00:00:00Z", 0, 0 }, /* valid date, outside int64 ns */
		{ "1969-12-31T23:59:59.5Z", 1, -NS / 2 },
		{ "1970-01-01T00:00:00Z", 1, 0 },
		{ "2026-11-20T09:00:60Z", 1, 1795165259 * NS },
		{ "2026-11-20T09:00:60.25Z", 1, 1795165259 * NS + 250000000 },
		/* the edges of int64 nanoseconds; INT64_MIN is TIME_NONE */
		{ "2262-04-11T23:47:16.854775807Z", 1, INT64_MAX },
		{ "2262-04-11T23:47:16.854775808Z", 0, 0 },
		{ "2262-04-11T23:47:17Z", 0, 0 },
		{ "1677-09-21T00:12:43.145224193Z", 1, INT64_MIN + 1 },
		{ "1677-09-21T00:12:43.145224192Z", 0, 0 },
		{ "1677-09-21T00:12:43Z", 0, 0 },
		{ "9999-12-31T23:59:59Z", 0, 0 },
		{ "0000-01-01T00:00:00Z", 0, 0 },
		{ "2100-02-29T00:00:00Z", 0, 0 },
		{ "2026-02-29T00:00:00Z", 0, 0 },
		{ "2026-04-31T00:00:00Z", 0, 0 },
		{ "2026-13-01T00:00:00Z", 0, 0 },
		{ "2026-00-01T00:00:00Z", 0, 0 },
		{ "2026-01-00T00:00:00Z", 0, 0 },
		{ "2026-01-01T24:00:00Z", 0, 0 },
		{ "2026-01-01T00:60:00Z", 0, 0 },
		{ "2026-01-01T00:00:61Z", 0, 0 },
		{ "2026-01-01T00:00:00+24:00", 0, 0 },
		{ "2026-01-01T00:00:00+01:60", 0, 0 },
		{ "2026-01-01T00:00:00+1:00", 0, 0 },
		{ "2026-01-01T00:00:00+01", 0, 0 },
		{ "2026-01-01T00:00:00+01:0", 0, 0 },
		{ "2026-01-01T00:00:00+01:000", 0, 0 },
		{ "2026-01-01T00:00:00+01-00", 0, 0 },
		{ "2026-01-01T00:00:00", 0, 0 },
		{ "2026-01-01T00:00:00.Z", 0, 0 },
		{ "2026-01-01T00:00:00.1234567890Z", 0, 0 },
		{ "2026-01-01T00:00:00.123", 0, 0 },
		{ "2026-01-01T00:00:00,5Z", 0, 0 },
		{ "2026-01-01T00:00:00ZZ", 0, 0 },
		{ "2026-01-01T00:00:00Z ", 0, 0 },
		{ " 2026-01-01T00:00:00Z", 0, 0 },
		{ "2026-01-01X00:00:00Z", 0, 0 },
		{ "2026-1-01T00:00:00Z", 0, 0 },
		{ "2026/01/01T00:00:00Z", 0, 0 },
		{ "+2026-01-01T00:00:00Z", 0, 0 },
		{ "2026-01-01", 0, 0 },
		{ "", 0, 0 },
		{ "20/Nov/2026:09:00:00 +0000", 0, 0 },
	};

	(void)state;
	check_table(time_parse_rfc3339, "rfc3339", t, ARRAY_LEN(t));
}

/* ---- epoch */

static void
test_epoch(void **state)
{
	static const struct tcase t[] = {
		{ "1700000000", 1, 1700000000 * NS },
		{ "1700000000.123456", 1, 1700000000 * NS + 123456000 },
		{ "1700000000.123456789", 1, 1700000000 * NS + 123456789 },
		/* past nanoseconds: truncated */
		{ "1700000000.1234567899", 1, 1700000000 * NS + 123456789 },
		{ "1700000000.5", 1, 1700000000 * NS + 500000000 },
		{ "1700000000.000", 1, 1700000000 * NS },
		{ "0", 1, 0 },
		{ "0.5", 1, 500000000 },
		{ "0.000000001", 1, 1 },
		{ "0.0000000001", 1, 0 },
		{ "9223372036", 1, 9223372036 * NS },
		{ "9223372036.854775807", 1, INT64_MAX },
		{ "9223372036.854775808", 0, 0 },
		{ "99999999999", 0, 0 },  /* < 1e11: seconds, too many */
		{ "100000000000", 1, 100000000000LL * 1000000 }, /* ms */
		{ "1700000000123", 1, 1700000000123LL * 1000000 },
		{ "1700000000123.5", 1, 1700000000123LL * 1000000 + 500000 },
		{ "9223372036854", 1, 9223372036854LL * 1000000 },
		{ "99999999999999", 0, 0 }, /* ms, too many */
		{ "100000000000000", 1, 100000000000000LL * 1000 }, /* us */
		{ "1700000000123456", 1, 1700000000123456LL * 1000 },
		{ "9223372036854775", 1, 9223372036854775LL * 1000 },
		{ "99999999999999999", 0, 0 }, /* us, too many */
		{ "100000000000000000", 1, 100000000000000000LL }, /* ns */
		{ "1700000000123456789", 1, 1700000000123456789LL },
		{ "9223372036854775807", 1, INT64_MAX },
		{ "9223372036854775808", 0, 0 },
		{ "99999999999999999999", 0, 0 },
		{ "0001700000000", 1, 1700000000 * NS },
		/* exponent forms (Java and some JSON encoders) */
		{ "1.7E9", 1, 1700000000 * NS },
		{ "1.700000000123e9", 1, 1700000000 * NS + 123000000 },
		{ "1.7000000001234567e+09", 1, 1700000000 * NS + 123456700 },
		{ "1700000000123e-3", 1, 1700000000 * NS + 123000000 },
		{ "17e8", 1, 1700000000 * NS },
		{ "1.7e12", 1, 1700000000 * NS },  /* ms by magnitude */
		{ "1e-400", 1, 0 },
		{ "1e400", 0, 0 },
		{ "1e99999999999", 0, 0 },
		{ "1e", 0, 0 },
		{ "1e+", 0, 0 },
		{ "1.5e", 0, 0 },
		{ "-1700000000", 0, 0 },
		{ "+1700000000", 0, 0 },
		{ "1700000000.", 0, 0 },
		{ ".5", 0, 0 },
		{ "1700000000.12.3", 0, 0 },
		{ "1700000000 ", 0, 0 },
		{ " 1700000000", 0, 0 },
		{ "1700000000x", 0, 0 },
		{ "0x10", 0, 0 },
		{ "NaN", 0, 0 },
		{ "inf", 0, 0 },
		{ "", 0, 0 },
		{ "-", 0, 0 },
		{ "1000000000000000000000000000000000000000000000000000000000000000000", 0, 0 },
	};

	(void)state;
	check_table(time_parse_epoch, "epoch", t, ARRAY_LEN(t));
}

static void
test_any(void **state)
{
	static const struct tcase t[] = {
		{ "20/Nov/2026:09:00:03 +0000", 1, 1795165203 * NS },
		{ "2026-11-20T09:00:03Z", 1, 1795165203 * NS },
		{ "2026-11-20T09:00:03.297877Z", 1, 1795165203 * NS + 297877000 },
		{ "1795165203", 1, 1795165203 * NS },
		{ "1795165203.297877", 1, 1795165203 * NS + 297877000 },
		{ "1795165203297", 1, 1795165203297LL * 1000000 },
		{ "1.2e-5", 1, 12000 },
		{ "2026-11-20", 0, 0 },
		{ "yesterday", 0, 0 },
		{ "", 0, 0 },
		{ "-", 0, 0 },
	};

	(void)state;
	check_table(time_parse_any, "any", t, ARRAY_LEN(t));
}

/* Every prefix of a valid time, and every byte replaced by junk, fails;
 * this also runs each one through ASan on an exact-size buffer. */
static void
test_truncated_and_junk(void **state)
{
	static const struct {
		parse_fn fn;
		const char *s;
	} v[] = {
		{ time_parse_clf, "20/Nov/2026:09:00:00 +0000" },
		{ time_parse_clf, "20/Nov/2026:09:00:00 -0530" },
		{ time_parse_rfc3339, "2026-11-20T09:00:03.297877Z" },
		{ time_parse_rfc3339, "2026-11-20T09:00:03+01:00" },
		{ time_parse_rfc3339, "2026-11-20T09:00:03.1+0100" },
	};
	static const char junk[] = { 'x', '\0', (char)0xff, '/', ' ' };

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		size_t n = strlen(v[i].s);
		char *hold;
		int64_t out;

		for (size_t k = 0; k < n; k++) {
			struct span sp = exact(v[i].s, k, &hold);
			if (v[i].fn(sp, &out) == 0)
				fail_msg("prefix %zu of \"%s\" accepted", k,
				    v[i].s);
			free(hold);
		}
		for (size_t k = 0; k < n; k++) {
			for (size_t j = 0; j < sizeof(junk); j++) {
				if (v[i].s[k] == junk[j])
					continue;
				/* "2026-11-20 09:00:03Z" is a valid form */
				if (v[i].fn == time_parse_rfc3339 && k == 10 &&
				    junk[j] == ' ')
					continue;
				struct span sp = exact(v[i].s, n, &hold);
				hold[k] = junk[j];
				if (v[i].fn(sp, &out) == 0)
					fail_msg("\"%s\" with byte %zu = 0x%02x "
					    "accepted", v[i].s, k,
					    (unsigned char)junk[j]);
				if (time_parse_any(sp, &out) == 0)
					fail_msg("any: \"%s\" with byte %zu "
					    "junk accepted", v[i].s, k);
				free(hold);
			}
		}
	}
}

/* ---- output */

static void
test_format(void **state)
{
	static const struct {
		int64_t ns;
		const char *want;
	} t[] = {
		{ 0, "1970-01-01T00:00:00Z" },
		{ 1795165203 * NS, "2026-11-20T09:00:03Z" },
		{ 1795165203 * NS + 297877000, "2026-11-20T09:00:03.297877Z" },
		{ 1795165203 * NS + 297800000, "2026-11-20T09:00:03.2978Z" },
		{ 1795165203 * NS + 100000000, "2026-11-20T09:00:03.1Z" },
		{ 1795165203 * NS + 1, "2026-11-20T09:00:03.000000001Z" },
		{ 1795165203 * NS + 123456789, "2026-11-20T09:00:03.123456789Z" },
		{ 951782400 * NS, "2000-02-29T00:00:00Z" },
		{ 951868799 * NS, "2000-02-29T23:59:59Z" },
		{ 4107542400LL * NS - NS, "2100-02-28T23:59:59Z" },
		{ -1, "1969-12-31T23:59:59.999999999Z" },
		{ -NS, "1969-12-31T23:59:59Z" },
		{ -NS / 2, "1969-12-31T23:59:59.5Z" },
		{ -2208988800LL * NS, "1900-01-01T00:00:00Z" },
		{ -2208988800LL * NS + 250000000, "1900-01-01T00:00:00.25Z" },
		{ INT64_MAX, "2262-04-11T23:47:16.854775807Z" },
		{ INT64_MIN + 1, "1677-09-21T00:12:43.145224193Z" },
		{ TIME_NONE, "" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char out[TIME_STRLEN];
		memset(out, 'X', sizeof(out));
		size_t n = time_format_rfc3339(t[i].ns, out, sizeof(out));
		assert_string_equal(out, t[i].want);
		assert_int_equal(n, strlen(t[i].want));
	}
}

static void
test_format_small_buffer(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'X', sizeof(out));
	assert_int_equal(time_format_rfc3339(0, out, sizeof(out)), 7);
	assert_string_equal(out, "1970-01");
	assert_int_equal(time_format_rfc3339(0, out, 1), 0);
	assert_string_equal(out, "");
	out[0] = 'X';
	assert_int_equal(time_format_rfc3339(0, out, 0), 0);
	assert_int_equal(out[0], 'X');
}

/* format -> parse gives the same nanoseconds back, over the whole range;
 * and parse -> format -> parse is stable for inputs with offsets. */
static void
test_round_trip(void **state)
{
	char buf[TIME_STRLEN];
	int64_t back;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		int64_t ns = (int64_t)rng();
		switch (i % 4) {
		case 0: /* whole seconds */
			ns -= ns % NS;
			break;
		case 1: /* milliseconds, around now */
			ns = 1700000000 * NS + (ns % (100LL * 365 * 86400 *
			    NS)) / 1000000 * 1000000;
			break;
		default:
			break;
		}
		if (ns == TIME_NONE)
			continue;
		size_t n = time_format_rfc3339(ns, buf, sizeof(buf));
		struct span sp = { buf, n };
		if (time_parse_rfc3339(sp, &back) != 0 || back != ns)
			fail_msg("round trip of %lld via \"%s\" failed",
			    (long long)ns, buf);
		if (time_parse_any(sp, &back) != 0 || back != ns)
			fail_msg("any: round trip of %lld failed",
			    (long long)ns);
	}

	static const char *in[] = {
		"2026-11-20T03:30:03.5-05:30", "20/Nov/2026:14:30:00 +0530",
		"1969-12-31T23:00:00.000000001-01:00", "1795165203.297877",
	};
	for (size_t i = 0; i < ARRAY_LEN(in); i++) {
		int64_t v;
		assert_int_equal(run_parse(time_parse_any, in[i], &v), 0);
		size_t n = time_format_rfc3339(v, buf, sizeof(buf));
		assert_int_equal(time_parse_rfc3339((struct span){ buf, n },
		    &back), 0);
		assert_int_equal(back, v);
	}
}

/* The test of speed: these run once per line.  Loose bound, only to
 * catch an accidental quadratic or libc-locale path. */
static void
test_speed(void **state)
{
	struct span a = SPAN_LIT("20/Nov/2026:09:00:00 +0000");
	struct span b = SPAN_LIT("2026-11-20T09:00:03.297877Z");
	int64_t v = 0, t0 = clock_mono_ns();
	uint64_t sum = 0; /* wraps: only there to keep the calls */
	char out[TIME_STRLEN];

	(void)state;
	for (int i = 0; i < 1000000; i++) {
		if (time_parse_clf(a, &v) == 0)
			sum += (uint64_t)v;
		if (time_parse_rfc3339(b, &v) == 0)
			sum += (uint64_t)v;
		sum += time_format_rfc3339(v + i, out, sizeof(out));
	}
	assert_true(sum != 0);
	/* 3M calls: well under a second even under ASan. */
	assert_true(clock_mono_ns() - t0 < 4 * NS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_civil_known),
		cmocka_unit_test(test_civil_vs_timegm),
		cmocka_unit_test(test_clf),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_epoch),
		cmocka_unit_test(test_any),
		cmocka_unit_test(test_truncated_and_junk),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_small_buffer),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
