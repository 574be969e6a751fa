/*
 * libFuzzer target for timefmt.c: every parser over arbitrary bytes.
 * Invariants, checked with abort(): a parsed time is never TIME_NONE;
 * it formats as RFC 3339 that parses back to the same nanoseconds;
 * time_parse_any agrees with the one parser that accepted; and
 * time_from_civil agrees with libc's timegm on bounded fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anomaly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_round_trip(int64_t ns)
{
	char buf[TIME_STRLEN], buf2[TIME_STRLEN];
	int64_t back;
	size_t n;

	if (ns == TIME_NONE)
		abort();
	n = time_format_rfc3339(ns, buf, sizeof(buf));
	if (n < 20 || n != strlen(buf) || n >= TIME_STRLEN)
		abort();
	if (time_parse_rfc3339((struct span){ buf, n }, &back) != 0 ||
	    back != ns)
		abort();
	if (time_parse_any((struct span){ buf, n }, &back) != 0 || back != ns)
		abort();
	if (time_format_rfc3339(back, buf2, sizeof(buf2)) != n ||
	    memcmp(buf, buf2, n) != 0)
		abort();
}

static int32_t
rd32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct span s = { (const char *)data, size };
	int64_t v, any, got = TIME_NONE;
	int nok = 0;

	if (time_parse_clf(s, &v) == 0) {
		check_round_trip(v);
		got = v;
		nok++;
	}
	if (time_parse_rfc3339(s, &v) == 0) {
		check_round_trip(v);
		got = v;
		nok++;
	}
	if (time_parse_epoch(s, &v) == 0) {
		check_round_trip(v);
		got = v;
		nok++;
	}
	/* the three forms never overlap */
	if (nok > 1)
		abort();
	if (time_parse_any(s, &any) == 0) {
		if (nok != 1 || any != got)
			abort();
	} else if (nok != 0)
		abort();

	/* The bytes as an int64: format, parse back. */
	if (size >= 8) {
		int64_t ns;
		memcpy(&ns, data, 8);
		if (ns != TIME_NONE)
			check_round_trip(ns);
	}
	/* The bytes as civil fields, against timegm. */
	if (size >= 24) {
		struct tm tm;
		int y = 1000 + (int)((uint32_t)rd32(data) % 9000);
		int mon = rd32(data + 4) % 100;
		int d = rd32(data + 8) % 1000;
		int h = rd32(data + 12) % 1000;
		int mi = rd32(data + 16) % 10000;
		int sec = rd32(data + 20) % 100000;
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = mon - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec;
		if ((int64_t)timegm(&tm) !=
		    time_from_civil(y, mon, d, h, mi, sec))
			abort();
	}
	return 0;
}
