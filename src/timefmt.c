/*
 * Time stamps: parsing the forms access logs use and printing RFC 3339.
 *
 * These run once per log line, on millions of lines, so everything is
 * hand-rolled: fixed-position checks, two-digit lookups, no sscanf, no
 * strtol, and no libc time functions (mktime and friends depend on the
 * machine's time zone and take locks).  Calendar arithmetic is the
 * "days from civil" method: shift the year to start in March so the leap
 * day is the last day of the year, then count whole 400-year eras.
 *
 * All results are int64 nanoseconds since the epoch, which spans the
 * years 1677..2262; anything outside is rejected rather than wrapped.
 * INT64_MIN itself is TIME_NONE and is never returned by a parser.
 */
#include <string.h>

#include "anomaly.h"

#define NS_PER_SEC 1000000000LL
#define SECS_PER_DAY 86400LL

/* Longest epoch number we look at; real ones are under 30 characters. */
#define EPOCH_MAXLEN 64

static const uint64_t pow10_u64[20] = {
	1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
	10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
	100000000000ULL, 1000000000000ULL, 10000000000000ULL,
	100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
	100000000000000000ULL, 1000000000000000000ULL,
	10000000000000000000ULL,
};

/* ---- calendar */

/*
 * Days since 1970-01-01 of a proleptic Gregorian date, month 1..12.
 * With March as month 0 the irregular February comes last, so the day
 * of the year is a linear formula in the month (the 153/5 step gives the
 * 31,30,31,30,31 rhythm), and a 400-year era always has 146097 days.
 */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;
	int mp;

	if (m <= 2)
		y--;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;                 /* 0..399 */
	mp = m > 2 ? m - 3 : m + 9;          /* March = 0 */
	doy = (153 * mp + 2) / 5 + d - 1;    /* 0..365 */
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	/* 719468 = days from 0000-03-01 to 1970-01-01. */
	return era * 146097 + doe - 719468;
}

/* The inverse: the date of a day number. */
static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;                                  /* 0..146096 */
	/* Remove the leap days so far in the era, then divide by 365. */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);           /* 0..365 */
	mp = (5 * doy + 2) / 153;                                /* 0..11 */
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int64_t
time_from_civil(int year, int month, int day, int hour, int min, int sec)
{
	int64_t m0 = (int64_t)month - 1, q, days;

	/* Out-of-range months carry into the year (as timegm does); days,
	 * hours, minutes and seconds are linear, so they carry by adding. */
	q = m0 >= 0 ? m0 / 12 : -((11 - m0) / 12); /* floor(m0 / 12) */
	m0 -= q * 12;
	days = days_from_civil((int64_t)year + q, (int)m0 + 1, 1) +
	    (int64_t)day - 1;
	return days * SECS_PER_DAY + (int64_t)hour * 3600 +
	    (int64_t)min * 60 + sec;
}

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const unsigned char dim[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* ---- small digit helpers; callers have checked the length */

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
dig2(const char *p)
{
	unsigned a = (unsigned char)p[0] - '0';
	unsigned b = (unsigned char)p[1] - '0';

	if (a > 9 || b > 9)
		return -1;
	return (int)(a * 10 + b);
}

static int
dig4(const char *p)
{
	int hi = dig2(p), lo = dig2(p + 2);

	if (hi < 0 || lo < 0)
		return -1;
	return hi * 100 + lo;
}

/*
 * Seconds plus a fraction in [0, 1e9) to nanoseconds, refusing what does
 * not fit in an int64 and TIME_NONE itself.
 */
static int
secs_to_ns(int64_t secs, int64_t frac, int64_t *out)
{
	int64_t v;

	if (secs >= 0) {
		if (secs > INT64_MAX / NS_PER_SEC ||
		    frac > INT64_MAX - secs * NS_PER_SEC)
			return -1;
		v = secs * NS_PER_SEC + frac;
	} else {
		/* secs*1e9 alone may not fit while the sum does: go via
		 * (secs+1)*1e9 - (1e9-frac). */
		int64_t base, sub = NS_PER_SEC - frac;
		if (secs + 1 < INT64_MIN / NS_PER_SEC)
			return -1;
		base = (secs + 1) * NS_PER_SEC;
		if (base < INT64_MIN + sub)
			return -1;
		v = base - sub;
	}
	if (v == TIME_NONE)
		return -1;
	*out = v;
	return 0;
}

/*
 * Validates a civil time and turns it, minus a UTC offset in seconds,
 * into nanoseconds.  A leap second (sec 60) is clamped to 59: we have no
 * leap second table and the request did happen in that minute.
 */
static int
civil_to_ns(int y, int mon, int d, int h, int mi, int s, int64_t frac,
    int64_t offset, int64_t *out)
{
	if (mon < 1 || mon > 12 || d < 1 || d > days_in_month(y, mon) ||
	    h > 23 || mi > 59 || s > 60)
		return -1;
	if (s == 60)
		s = 59;
	/* Fields are in range: skip time_from_civil's carrying. */
	return secs_to_ns(days_from_civil(y, mon, d) * SECS_PER_DAY +
	    h * 3600 + mi * 60 + s - offset, frac, out);
}

/* ---- Common Log Format */

/*
 * Month from three letters.  nginx and Apache write "Nov"; other case is
 * accepted too.  x | 0x20 is a lower-case letter only when x was a letter,
 * so folding cannot make punctuation match.
 */
static int
clf_month(const char *p)
{
	uint32_t k = (uint32_t)(unsigned char)(p[0] | 0x20) << 16 |
	    (uint32_t)(unsigned char)(p[1] | 0x20) << 8 |
	    (uint32_t)(unsigned char)(p[2] | 0x20);

#define M3(a, b, c) ((uint32_t)(a) << 16 | (uint32_t)(b) << 8 | (uint32_t)(c))
	switch (k) {
	case M3('j', 'a', 'n'): return 1;
	case M3('f', 'e', 'b'): return 2;
	case M3('m', 'a', 'r'): return 3;
	case M3('a', 'p', 'r'): return 4;
	case M3('m', 'a', 'y'): return 5;
	case M3('j', 'u', 'n'): return 6;
	case M3('j', 'u', 'l'): return 7;
	case M3('a', 'u', 'g'): return 8;
	case M3('s', 'e', 'p'): return 9;
	case M3('o', 'c', 't'): return 10;
	case M3('n', 'o', 'v'): return 11;
	case M3('d', 'e', 'c'): return 12;
	default: return -1;
	}
#undef M3
}

/* "+hh:mm", "+hhmm" (n = 6 or 5) to seconds east of UTC, or -1 error. */
static int
parse_offset(const char *p, size_t n, int64_t *out)
{
	int hh, mm;

	if ((n != 5 && n != 6) || (p[0] != '+' && p[0] != '-'))
		return -1;
	hh = dig2(p + 1);
	if (n == 6) {
		if (p[3] != ':')
			return -1;
		mm = dig2(p + 4);
	} else
		mm = dig2(p + 3);
	if (hh < 0 || hh > 23 || mm < 0 || mm > 59)
		return -1;
	*out = (int64_t)(hh * 3600 + mm * 60) * (p[0] == '-' ? -1 : 1);
	return 0;
}

int
time_parse_clf(struct span s, int64_t *out_ns)
{
	const char *p = s.p;
	int d, mon, y, h, mi, sec;
	int64_t off;

	/* "20/Nov/2026:09:00:00 +0000": always 26 bytes. */
	if (s.n != 26 || p[2] != '/' || p[6] != '/' || p[11] != ':' ||
	    p[14] != ':' || p[17] != ':' || p[20] != ' ')
		return -1;
	d = dig2(p);
	mon = clf_month(p + 3);
	y = dig4(p + 7);
	h = dig2(p + 12);
	mi = dig2(p + 15);
	sec = dig2(p + 18);
	if (d < 0 || mon < 0 || y < 0 || h < 0 || mi < 0 || sec < 0)
		return -1;
	if (parse_offset(p + 21, 5, &off) != 0)
		return -1;
	return civil_to_ns(y, mon, d, h, mi, sec, 0, off, out_ns);
}

/* ---- RFC 3339 */

int
time_parse_rfc3339(struct span s, int64_t *out_ns)
{
	const char *p = s.p;
	size_t i, n = s.n;
	int y, mon, d, h, mi, sec;
	int64_t frac = 0, off = 0;

	/* "2026-11-20T09:00:03" is 19 bytes; the zone at least one more. */
	if (n < 20 || p[4] != '-' || p[7] != '-' || p[13] != ':' ||
	    p[16] != ':')
		return -1;
	if (p[10] != 'T' && p[10] != 't' && p[10] != ' ')
		return -1;
	y = dig4(p);
	mon = dig2(p + 5);
	d = dig2(p + 8);
	h = dig2(p + 11);
	mi = dig2(p + 14);
	sec = dig2(p + 17);
	if (y < 0 || mon < 0 || d < 0 || h < 0 || mi < 0 || sec < 0)
		return -1;
	i = 19;
	if (p[i] == '.') {
		size_t start = ++i;
		while (i < n && i - start < 10 &&
		    is_digit(p[i])) {
			frac = frac * 10 + (p[i] - '0');
			i++;
		}
		if (i == start || i - start > 9)
			return -1;
		frac *= (int64_t)pow10_u64[9 - (i - start)];
	}
	if (i >= n)
		return -1;
	if (p[i] == 'Z' || p[i] == 'z') {
		if (i + 1 != n)
			return -1;
	} else if (parse_offset(p + i, n - i, &off) != 0)
		return -1;
	return civil_to_ns(y, mon, d, h, mi, sec, frac, off, out_ns);
}

/* ---- epoch numbers */

/*
 * "1700000000", "1700000000.123456", "1700000000123" (ms),
 * "1.7000000001234567e+09" (Java and some JSON encoders write doubles so).
 * The value is read exactly as a decimal M * 10^E with up to 19
 * significant digits (a float would lose the nanoseconds); its integer
 * part picks the unit: < 1e11 seconds (up to the year 5138), < 1e14 ms,
 * < 1e17 us, else ns.  The rule is the same with or without a fraction,
 * so "1700000000123.5" is milliseconds.
 */
int
time_parse_epoch(struct span s, int64_t *out_ns)
{
	struct decimal d;
	uint64_t ip, ns;
	int unit, inexact;

	if (s.n == 0 || s.n > EPOCH_MAXLEN || !is_digit(s.p[0]) ||
	    parse_decimal_exp(s, 1, &d) != 0)
		return -1;
	/* The integer part, saturating, chooses the unit. */
	if (decimal_to_u64(&d, 0, &ip, &inexact) != 0)
		ip = UINT64_MAX;
	if (ip < 100000000000ULL)
		unit = 9;
	else if (ip < 100000000000000ULL)
		unit = 6;
	else if (ip < 100000000000000000ULL)
		unit = 3;
	else
		unit = 0;
	/* Finer digits than a nanosecond are truncated. */
	if (decimal_to_u64(&d, unit, &ns, &inexact) != 0 ||
	    ns > (uint64_t)INT64_MAX)
		return -1;
	*out_ns = (int64_t)ns;
	return 0;
}

int
time_parse_any(struct span s, int64_t *out_ns)
{
	/* The three forms are told apart in their first bytes, so trying
	 * them in turn costs little: each gives up at once on the others. */
	if (time_parse_rfc3339(s, out_ns) == 0 ||
	    time_parse_clf(s, out_ns) == 0 ||
	    time_parse_epoch(s, out_ns) == 0)
		return 0;
	return -1;
}

/* ---- output */

static void
put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

size_t
time_format_rfc3339(int64_t ns, char *out, size_t outlen)
{
	char tmp[TIME_STRLEN];
	int64_t secs, frac, days, rem, y;
	int m, d;
	size_t n;

	if (outlen == 0)
		return 0;
	/* TIME_NONE is "no time": empty, like an absent field. */
	if (ns == TIME_NONE) {
		out[0] = '\0';
		return 0;
	}
	/* Floor division: before 1970 the fraction still counts forward
	 * from the second, as RFC 3339 writes it. */
	secs = ns / NS_PER_SEC;
	frac = ns % NS_PER_SEC;
	if (frac < 0) {
		frac += NS_PER_SEC;
		secs--;
	}
	days = secs / SECS_PER_DAY;
	rem = secs % SECS_PER_DAY;
	if (rem < 0) {
		rem += SECS_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);

	/* int64 nanoseconds only reach the years 1677..2262: four digits. */
	put2(tmp, (int)(y / 100));
	put2(tmp + 2, (int)(y % 100));
	tmp[4] = '-';
	put2(tmp + 5, m);
	tmp[7] = '-';
	put2(tmp + 8, d);
	tmp[10] = 'T';
	put2(tmp + 11, (int)(rem / 3600));
	tmp[13] = ':';
	put2(tmp + 14, (int)(rem / 60 % 60));
	tmp[16] = ':';
	put2(tmp + 17, (int)(rem % 60));
	n = 19;
	if (frac != 0) {
		int digits = 9;
		while (frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		tmp[n++] = '.';
		for (int i = digits - 1; i >= 0; i--) {
			tmp[n + (size_t)i] = (char)('0' + frac % 10);
			frac /= 10;
		}
		n += (size_t)digits;
	}
	tmp[n++] = 'Z';
	if (n > outlen - 1)
		n = outlen - 1;
	memcpy(out, tmp, n);
	out[n] = '\0';
	return n;
}

void
buf_add_json_time(struct buf *b, int64_t ns)
{
	char t[TIME_STRLEN];

	if (ns == TIME_NONE) {
		buf_addstr(b, "null");
		return;
	}
	time_format_rfc3339(ns, t, sizeof(t));
	buf_addch(b, '"');
	buf_addstr(b, t);
	buf_addch(b, '"');
}
