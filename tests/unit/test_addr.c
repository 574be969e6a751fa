/*
 * addr.c: strict and lenient address parsing, RFC 5952 output, CIDR
 * ranges and sets, and the rules for the client behind trusted proxies.
 */
#include "testutil.h"

/* A copy of s in a buffer of exactly n bytes, so ASan sees over-reads. */
static struct span
exact(const char *s, size_t n, char **hold)
{
	*hold = xmalloc(n != 0 ? n : 1);
	memcpy(*hold, s, n);
	return (struct span){ *hold, n };
}

static int
parse_with(int (*fn)(struct span, struct ipaddr *), const char *s,
    size_t n, struct ipaddr *out)
{
	char *hold;
	int r = fn(exact(s, n, &hold), out);

	free(hold);
	return r;
}

static const char *
fmt(const struct ipaddr *a)
{
	static char out[4][IPADDR_STRLEN];
	static int k;

	k = (k + 1) % 4;
	ipaddr_format(a, out[k], sizeof(out[k]));
	return out[k];
}

static struct ipaddr
ip(const char *s)
{
	struct ipaddr a;

	if (ipaddr_parse(span_str(s), &a) != 0)
		fail_msg("test address \"%s\" does not parse", s);
	return a;
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* ---- ipaddr_parse, ipaddr_format */

static void
test_parse_strict_valid(void **state)
{
	static const struct {
		const char *in, *want;
		int family;
	} t[] = {
		{ "1.2.3.4", "1.2.3.4", 4 },
		{ "0.0.0.0", "0.0.0.0", 4 },
		{ "255.255.255.255", "255.255.255.255", 4 },
		{ "10.0.100.9", "10.0.100.9", 4 },
		{ "::", "::", 6 },
		{ "::1", "::1", 6 },
		{ "1::", "1::", 6 },
		{ "2001:DB8::1", "2001:db8::1", 6 },
		{ "2001:Db8::aBcD", "2001:db8::abcd", 6 },
		{ "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", 6 },
		/* RFC 5952 section 4 */
		{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", 6 },
		{ "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1", 6 },
		{ "2001:0:0:1:0:0:0:1", "2001:0:0:1::1", 6 },
		{ "2001:db8::0:1", "2001:db8::1", 6 },
		{ "2001:db8:0:0:0::1", "2001:db8::1", 6 },
		{ "2001:db8::aaaa:0:0:1", "2001:db8::aaaa:0:0:1", 6 },
		{ "2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001",
		  "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", 6 },
		{ "2001:db8:aaaa:bbbb:cccc:dddd:0:1",
		  "2001:db8:aaaa:bbbb:cccc:dddd:0:1", 6 },
		{ "0:0:0:0:0:0:0:0", "::", 6 },
		{ "1:0:0:0:0:0:0:0", "1::", 6 },
		{ "0:0:0:0:0:0:0:1", "::1", 6 },
		{ "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0", 6 },
		{ "::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8", 6 },
		{ "1:0:0:2:0:0:0:3", "1:0:0:2::3", 6 },
		{ "1:0:0:0:2:0:0:3", "1::2:0:0:3", 6 },
		{ "fe80::1:0:0:0", "fe80::1:0:0:0", 6 }, /* tie: first */
		{ "1:0:0:2:0:0:0:0", "1:0:0:2::", 6 },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 6 },
		/* IPv4-mapped: family 4, however written */
		{ "::ffff:1.2.3.4", "1.2.3.4", 4 },
		{ "::FFFF:1.2.3.4", "1.2.3.4", 4 },
		{ "0:0:0:0:0:ffff:1.2.3.4", "1.2.3.4", 4 },
		{ "::ffff:102:304", "1.2.3.4", 4 },
		{ "::ffff:0.0.0.0", "0.0.0.0", 4 },
		/* other embedded IPv4 stays IPv6, printed in hex (as Go does) */
		{ "::1.2.3.4", "::102:304", 6 },
		{ "64:ff9b::1.2.3.4", "64:ff9b::102:304", 6 },
		{ "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304", 6 },
		{ "::ffff:0:1.2.3.4", "::ffff:0:102:304", 6 },
		{ "::fffe:1.2.3.4", "::fffe:102:304", 6 },
		{ "1::ffff:1.2.3.4", "1::ffff:102:304", 6 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		struct ipaddr a;
		memset(&a, 0xaa, sizeof(a));
		if (parse_with(ipaddr_parse, t[i].in, strlen(t[i].in), &a) != 0)
			fail_msg("\"%s\" rejected", t[i].in);
		assert_int_equal(a.family, t[i].family);
		if (strcmp(fmt(&a), t[i].want) != 0)
			fail_msg("\"%s\" -> \"%s\", want \"%s\"", t[i].in,
			    fmt(&a), t[i].want);
		/* IPv4 keeps the unused bytes zero (ipaddr_cmp relies on
		 * nothing, but the store hashes the struct). */
		if (a.family == 4)
			for (int k = 4; k < 16; k++)
				assert_int_equal(a.b[k], 0);
		/* the canonical form parses to the same address */
		struct ipaddr b = ip(t[i].want);
		assert_int_equal(ipaddr_cmp(&a, &b), 0);
	}
	struct ipaddr a = ip("1.2.3.4");
	assert_int_equal(a.b[0], 1);
	assert_int_equal(a.b[3], 4);
	a = ip("2001:db8::1");
	assert_int_equal(a.b[0], 0x20);
	assert_int_equal(a.b[1], 0x01);
	assert_int_equal(a.b[3], 0xb8);
	assert_int_equal(a.b[15], 1);
}

static const char *const strict_bad[] = {
	"", " ", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "1.02.3.4",
	"00.0.0.0", "256.1.1.1", "1.2.3.256", "1.2.3.1000", "1234.1.1.1",
	"1.2.3.4 ", " 1.2.3.4", "\t1.2.3.4", "1.2.3.4:80", "1.2.3.-4",
	"+1.2.3.4", "1..2.3", "1.2.3.", ".1.2.3.4", "0x1.2.3.4", "1.2.3.4/32",
	"1.2.3.4.", "[::1]", "[::1]:80", "fe80::1%eth0", "fe80::1%1", ":",
	":::", "1:::2", "1::2::3", ":1::2", "1::2:", "1:2:3:4:5:6:7:8:9",
	"1:2:3:4:5:6:7", "12345::", "::12345", "g::1", "::g", "::1.2.3",
	"::1.2.3.4.5", "1.2.3.4::", "::256.1.1.1", "::01.2.3.4",
	"1:2:3:4:5:6:7:1.2.3.4", "::1:2:3:4:5:6:1.2.3.4",
	"1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:",
	":1:2:3:4:5:6:7:8", "::1.2.3.4:1", "::ffff:1.2.3.4%1",
	"::1.2.3.4.", "::ffff:1.2.3", "1.2.3.4:::", "localhost", "unknown",
	"-", "example.com", "::1 ", " ::1", "::1\n", "2001:db8::1/64",
	"1:2:3:4:5:6:7:8 ", "1.2.3.4\xff", "\xc3\xa9.1.1.1", ":::1",
	"1:2:3:4:5:6:1.2.3.4:5", "abcde::",
	"0000000000000000000000000000000000000000000000000::1",
};

static void
test_parse_strict_invalid(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(strict_bad); i++) {
		struct ipaddr a;
		memset(&a, 0x5a, sizeof(a));
		if (parse_with(ipaddr_parse, strict_bad[i],
		    strlen(strict_bad[i]), &a) == 0)
			fail_msg("\"%s\" accepted as %s", strict_bad[i],
			    fmt(&a));
		/* untouched on failure */
		assert_int_equal(a.family, 0x5a);
	}
	/* embedded NUL */
	struct ipaddr a;
	assert_int_not_equal(parse_with(ipaddr_parse, "1.2.3.4\0", 8, &a), 0);
	assert_int_not_equal(parse_with(ipaddr_parse, "1.2\0.3.4", 8, &a), 0);
	assert_int_not_equal(parse_with(ipaddr_parse, "::1\0", 4, &a), 0);
}

/* Every prefix of a valid address either fails or is a different valid
 * address; never a read past the end (exact buffers, under ASan). */
static void
test_parse_prefixes(void **state)
{
	static const char *v[] = {
		"255.255.255.255", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff",
		"::ffff:192.168.100.200", "[2001:db8::1]:65535",
		"192.168.100.200:8080",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		size_t n = strlen(v[i]);
		for (size_t k = 0; k <= n; k++) {
			struct ipaddr a;
			(void)parse_with(ipaddr_parse, v[i], k, &a);
			(void)parse_with(ipaddr_parse_loose, v[i], k, &a);
		}
	}
	/* and the rejections that matter */
	struct ipaddr a;
	assert_int_not_equal(parse_with(ipaddr_parse, "255.255.255.2", 12,
	    &a), 0); /* "255.255.255." */
	assert_int_not_equal(parse_with(ipaddr_parse_loose,
	    "192.168.100.200:8080", 16, &a), 0); /* "...:" */
	assert_int_not_equal(parse_with(ipaddr_parse_loose,
	    "[2001:db8::1]:65535", 12, &a), 0); /* no ']' */
}

static void
test_parse_loose(void **state)
{
	static const struct {
		const char *in, *want;
	} ok[] = {
		{ "1.2.3.4", "1.2.3.4" },
		{ "  1.2.3.4\t", "1.2.3.4" },
		{ "1.2.3.4:5678", "1.2.3.4" },
		{ " 1.2.3.4:5678 ", "1.2.3.4" },
		{ "1.2.3.4:0", "1.2.3.4" },
		{ "1.2.3.4:65535", "1.2.3.4" },
		{ "1.2.3.4:00080", "1.2.3.4" },
		{ "[::1]:443", "::1" },
		{ "[::1]", "::1" },
		{ "::1", "::1" },
		{ "2001:DB8::A", "2001:db8::a" },
		{ "[2001:DB8::A]:8443", "2001:db8::a" },
		{ "\t[2001:db8::a] ", "2001:db8::a" },
		{ "::ffff:1.2.3.4", "1.2.3.4" },
		{ "[::ffff:1.2.3.4]:80", "1.2.3.4" },
		{ "::FFFF:C000:0280", "192.0.2.128" },
	};
	static const char *const bad[] = {
		"", " ", "\t \t", "unknown", "-", "example.com",
		"example.com:80", "localhost", "1.2.3.4:", "1.2.3.4:65536",
		"1.2.3.4:123456", "1.2.3.4:80:90", "1.2.3.4:8o", "1.2.3.4: 80",
		"1.2.3.4 :80", "[::1", "[::1]x", "[::1]:", "[::1]:65536",
		"[1.2.3.4]", "[1.2.3.4]:80", "[]", "[]:80", "[[::1]]", "::1]:80",
		"[::1]:80]", "<script>", "1.2.3.4 5.6.7.8", "1.2.3.4,5.6.7.8",
		"fe80::1%eth0", "[fe80::1%eth0]:80", "01.2.3.4", "1.2.3.4/8",
		"\"1.2.3.4\"", "1.2.3.4\xff", ":80", "[::1]::80", "[:]",
		"1.2.3.4\r",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		struct ipaddr a;
		if (parse_with(ipaddr_parse_loose, ok[i].in, strlen(ok[i].in),
		    &a) != 0)
			fail_msg("loose \"%s\" rejected", ok[i].in);
		if (strcmp(fmt(&a), ok[i].want) != 0)
			fail_msg("loose \"%s\" -> %s, want %s", ok[i].in,
			    fmt(&a), ok[i].want);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct ipaddr a;
		if (parse_with(ipaddr_parse_loose, bad[i], strlen(bad[i]),
		    &a) == 0)
			fail_msg("loose \"%s\" accepted as %s", bad[i],
			    fmt(&a));
	}
	/* anything strict rejects for junk inside, loose rejects too */
	static const char *const both[] = {
		"1.2.3", "256.1.1.1", "1::2::3", "12345::", "::1.2.3",
	};
	for (size_t i = 0; i < ARRAY_LEN(both); i++) {
		struct ipaddr a;
		assert_int_not_equal(parse_with(ipaddr_parse_loose, both[i],
		    strlen(both[i]), &a), 0);
	}
	/* blanks around are trimmed however many; an oversized value is
	 * refused, not scanned as an address */
	char big[4096];
	memset(big, ' ', sizeof(big));
	memcpy(big + 2000, "1.2.3.4", 7);
	struct ipaddr a;
	assert_int_equal(parse_with(ipaddr_parse_loose, big, sizeof(big),
	    &a), 0);
	assert_string_equal(fmt(&a), "1.2.3.4");
	memset(big, '1', sizeof(big));
	assert_int_not_equal(parse_with(ipaddr_parse_loose, big, sizeof(big),
	    &a), 0);
	assert_int_not_equal(parse_with(ipaddr_parse, big, sizeof(big), &a),
	    0);
}

/* Random addresses: format -> strict parse gives the same address, and
 * formatting again gives the same text. */
static void
test_round_trip(void **state)
{
	(void)state;
	for (int i = 0; i < 100000; i++) {
		struct ipaddr a, b;
		uint64_t r1 = rng(), r2 = rng(), zmask = rng();
		char t1[IPADDR_STRLEN], t2[IPADDR_STRLEN];

		memset(&a, 0, sizeof(a));
		if (i % 3 == 0) {
			a.family = 4;
			memcpy(a.b, &r1, 4);
		} else {
			a.family = 6;
			memcpy(a.b, &r1, 8);
			memcpy(a.b + 8, &r2, 8);
			/* zero runs of groups, so "::" shows up often */
			for (int k = 0; k < 8; k++)
				if (zmask >> k & 1)
					a.b[2 * k] = a.b[2 * k + 1] = 0;
			/* small groups, to exercise leading-zero trimming */
			if (zmask >> 8 & 1)
				a.b[4] = 0;
			if (memcmp(a.b, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
				a.b[0] = 1;
		}
		size_t n = ipaddr_format(&a, t1, sizeof(t1));
		assert_int_equal(n, strlen(t1));
		if (ipaddr_parse((struct span){ t1, n }, &b) != 0)
			fail_msg("formatted \"%s\" does not parse", t1);
		if (ipaddr_cmp(&a, &b) != 0 || memcmp(&a, &b, sizeof(a)) != 0)
			fail_msg("\"%s\" parses to another address", t1);
		ipaddr_format(&b, t2, sizeof(t2));
		assert_string_equal(t1, t2);
		/* RFC 5952: lower case, no "::" for a single zero group,
		 * at most one "::" */
		for (size_t k = 0; k < n; k++)
			assert_false(t1[k] >= 'A' && t1[k] <= 'F');
		const char *dc = strstr(t1, "::");
		if (dc != NULL)
			assert_null(strstr(dc + 1, "::"));
		else if (a.family == 6)
			assert_true(strstr(t1, ":0:0:") == NULL &&
			    strncmp(t1, "0:0:", 4) != 0 &&
			    (n < 4 || strcmp(t1 + n - 4, ":0:0") != 0));
		/* no leading zeros in a group */
		for (size_t k = 0; k + 1 < n; k++)
			if (t1[k] == '0' && (k == 0 || t1[k - 1] == ':' ||
			    t1[k - 1] == '.'))
				assert_true(t1[k + 1] == ':' ||
				    t1[k + 1] == '.');
	}
}

static void
test_format_edges(void **state)
{
	struct ipaddr a;
	char out[IPADDR_STRLEN];

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(out, 'X', sizeof(out));
	assert_int_equal(ipaddr_format(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "");

	a = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_int_equal(ipaddr_format(&a, out, sizeof(out)), 39);
	char small[6];
	assert_int_equal(ipaddr_format(&a, small, sizeof(small)), 5);
	assert_string_equal(small, "ffff:");
	small[0] = 'X';
	assert_int_equal(ipaddr_format(&a, small, 0), 0);
	assert_int_equal(small[0], 'X');
}

static void
test_cmp(void **state)
{
	struct ipaddr a = ip("1.2.3.4"), b = ip("1.2.3.5"), c = ip("::1"),
	    d = ip("::ffff:1.2.3.4"), e = ip("::2"), f = ip("255.0.0.0");

	(void)state;
	assert_int_equal(ipaddr_cmp(&a, &a), 0);
	assert_int_equal(ipaddr_cmp(&a, &d), 0);
	assert_int_equal(ipaddr_cmp(&a, &b), -1);
	assert_int_equal(ipaddr_cmp(&b, &a), 1);
	assert_int_equal(ipaddr_cmp(&f, &c), -1); /* IPv4 sorts first */
	assert_int_equal(ipaddr_cmp(&c, &f), 1);
	assert_int_equal(ipaddr_cmp(&c, &e), -1);
	assert_int_equal(ipaddr_cmp(&f, &a), 1);
}

/* ---- CIDR */

static void
test_cidr_parse(void **state)
{
	static const struct {
		const char *in, *want;
	} ok[] = {
		{ "10.0.0.0/8", "10.0.0.0/8" },
		{ "1.2.3.4", "1.2.3.4/32" },
		{ "1.2.3.4/32", "1.2.3.4/32" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "192.168.0.0/23", "192.168.0.0/23" },
		{ " 172.16.0.0/12\t", "172.16.0.0/12" },
		{ "10.0.0.0/08", "10.0.0.0/8" },
		{ "2001:db8::/32", "2001:db8::/32" },
		{ "2001:DB8:0:0::/64", "2001:db8::/64" },
		{ "::1", "::1/128" },
		{ "::/0", "::/0" },
		{ "fe80::/10", "fe80::/10" },
		{ "2001:db8::1/128", "2001:db8::1/128" },
		/* mapped ranges are IPv4 ranges */
		{ "::ffff:1.2.3.0/120", "1.2.3.0/24" },
		{ "::ffff:1.2.3.4", "1.2.3.4/32" },
		{ "::ffff:1.2.3.4/128", "1.2.3.4/32" },
		{ "::ffff:0.0.0.0/96", "0.0.0.0/0" },
		{ "::ffff:10.0.0.0/104", "10.0.0.0/8" },
	};
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{ "10.0.0.1/8", "did you mean 10.0.0.0/8?" },
		{ "192.168.1.1/23", "did you mean 192.168.0.0/23?" },
		{ "2001:db8::1/32", "did you mean 2001:db8::/32?" },
		{ "::ffff:1.2.3.4/120", "did you mean 1.2.3.0/24?" },
		{ "10.0.0.0/33", "at most /32" },
		{ "::/129", "at most /128" },
		{ "::ffff:1.2.3.4/129", "at most /128" },
		{ "::ffff:0.0.0.0/95", "/96 to /128" },
		{ "10.0.0.0/", "bad prefix" },
		{ "10.0.0.0/-1", "bad prefix" },
		{ "10.0.0.0/+8", "bad prefix" },
		{ "10.0.0.0/8x", "bad prefix" },
		{ "10.0.0.0/ 8", "bad prefix" },
		{ "10.0.0.0/1234", "bad prefix" },
		{ "10.0.0.0/8/8", "bad prefix" },
		{ "/8", "not an IP address" },
		{ "", "not an IP address" },
		{ "foo/8", "not an IP address" },
		{ "10.0.0/8", "not an IP address" },
		{ "[::1]/128", "not an IP address" },
		{ "1.2.3.4:80", "not an IP address" },
		{ "fe80::%eth0/64", "not an IP address" },
		{ "10.0.0.0 /8", "not an IP address" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		struct cidr c;
		char err[256] = "", out[64], *hold;
		struct span sp = exact(ok[i].in, strlen(ok[i].in), &hold);
		if (cidr_parse(sp, &c, err, sizeof(err)) != 0)
			fail_msg("cidr \"%s\" rejected: %s", ok[i].in, err);
		free(hold);
		assert_int_equal(cidr_format(&c, out, sizeof(out)),
		    strlen(ok[i].want));
		assert_string_equal(out, ok[i].want);
		/* the canonical text parses back to the same range */
		struct cidr d;
		assert_int_equal(cidr_parse(span_str(out), &d, err,
		    sizeof(err)), 0);
		assert_int_equal(d.prefix, c.prefix);
		assert_int_equal(ipaddr_cmp(&d.addr, &c.addr), 0);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct cidr c;
		char err[256] = "", *hold;
		struct span sp = exact(bad[i].in, strlen(bad[i].in), &hold);
		memset(&c, 0x77, sizeof(c));
		if (cidr_parse(sp, &c, err, sizeof(err)) == 0)
			fail_msg("cidr \"%s\" accepted", bad[i].in);
		free(hold);
		if (strstr(err, bad[i].msg) == NULL)
			fail_msg("cidr \"%s\": error \"%s\" lacks \"%s\"",
			    bad[i].in, err, bad[i].msg);
		assert_int_equal(c.prefix, 0x77777777u); /* untouched */
	}
}

static void
test_cidr_parse_errors(void **state)
{
	struct cidr c;
	char err[16];

	(void)state;
	/* no error buffer: still an error, no crash */
	assert_int_equal(cidr_parse(span_str("10.0.0.1/8"), &c, NULL, 0), -1);
	assert_int_equal(cidr_parse(span_str("junk"), &c, NULL, 99), -1);
	/* a short buffer: cut, terminated */
	memset(err, 'X', sizeof(err));
	assert_int_equal(cidr_parse(span_str("10.0.0.1/8"), &c, err,
	    sizeof(err)), -1);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	/* outside text in the message is printable and bounded */
	char big[600], msg[1024];
	memset(big, 'A', sizeof(big));
	big[3] = '\x1b';
	big[4] = '\n';
	assert_int_equal(cidr_parse((struct span){ big, sizeof(big) }, &c,
	    msg, sizeof(msg)), -1);
	assert_true(strlen(msg) < 200);
	assert_null(strchr(msg, '\x1b'));
	assert_null(strchr(msg, '\n'));
	assert_non_null(strstr(msg, "AAA?"));
}

/* Naive reference for prefix matching: bit by bit. */
static int
ref_contains(const struct cidr *c, const struct ipaddr *a)
{
	if (c->addr.family != a->family)
		return 0;
	for (unsigned k = 0; k < c->prefix; k++) {
		int x = c->addr.b[k / 8] >> (7 - k % 8) & 1;
		int y = a->b[k / 8] >> (7 - k % 8) & 1;
		if (x != y)
			return 0;
	}
	return 1;
}

static void
test_cidr_contains(void **state)
{
	static const struct {
		const char *cidr, *addr;
		int want;
	} t[] = {
		{ "10.0.0.0/8", "10.0.0.0", 1 },
		{ "10.0.0.0/8", "10.255.255.255", 1 },
		{ "10.0.0.0/8", "11.0.0.0", 0 },
		{ "10.0.0.0/8", "9.255.255.255", 0 },
		{ "192.168.0.0/23", "192.168.1.255", 1 },
		{ "192.168.0.0/23", "192.168.2.0", 0 },
		{ "1.2.3.4", "1.2.3.4", 1 },
		{ "1.2.3.4", "1.2.3.5", 0 },
		{ "0.0.0.0/0", "255.1.2.3", 1 },
		{ "0.0.0.0/0", "::1", 0 },
		{ "::/0", "::1", 1 },
		{ "::/0", "1.2.3.4", 0 },          /* family must match */
		{ "::/0", "::ffff:1.2.3.4", 0 },   /* that is IPv4 */
		{ "::ffff:1.2.3.0/120", "::ffff:1.2.3.99", 1 },
		{ "::ffff:1.2.3.0/120", "1.2.3.99", 1 },
		{ "::ffff:1.2.3.0/120", "1.2.4.0", 0 },
		{ "2001:db8::/32", "2001:db8:ffff::1", 1 },
		{ "2001:db8::/32", "2001:db9::", 0 },
		{ "2001:db8::/127", "2001:db8::1", 1 },
		{ "2001:db8::/127", "2001:db8::2", 0 },
		{ "fe80::/10", "febf::1", 1 },
		{ "fe80::/10", "fec0::1", 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		struct cidr c;
		char err[128];
		assert_int_equal(cidr_parse(span_str(t[i].cidr), &c, err,
		    sizeof(err)), 0);
		struct ipaddr a = ip(t[i].addr);
		if (cidr_contains(&c, &a) != t[i].want)
			fail_msg("%s contains %s: want %d", t[i].cidr,
			    t[i].addr, t[i].want);
	}
	/* against the bitwise reference, every prefix length */
	for (int i = 0; i < 50000; i++) {
		struct cidr c;
		struct ipaddr a;
		uint64_t r = rng(), r2 = rng();
		memset(&c, 0, sizeof(c));
		memset(&a, 0, sizeof(a));
		c.addr.family = a.family = (i & 1) ? 6 : 4;
		unsigned bits = c.addr.family == 4 ? 32 : 128;
		c.prefix = (unsigned)(r % (bits + 1));
		memcpy(a.b, &r, 8);
		memcpy(a.b + 8, &r2, 8);
		if (a.family == 4)
			memset(a.b + 4, 0, 12);
		/* the range: a's first bits, sometimes one flipped */
		c.addr = a;
		for (unsigned k = c.prefix; k < 128; k++)
			c.addr.b[k / 8] &= (uint8_t)~(0x80 >> (k % 8));
		if ((r2 >> 60) & 1 && c.prefix > 0) {
			unsigned k = (unsigned)(r2 >> 32) % c.prefix;
			a.b[k / 8] ^= (uint8_t)(0x80 >> (k % 8));
		}
		assert_int_equal(cidr_contains(&c, &a), ref_contains(&c, &a));
	}
}

static void
test_cidrset(void **state)
{
	struct cidrset s;
	struct cidr c;
	char err[128];
	struct ipaddr a;

	(void)state;
	cidrset_init(&s);
	a = ip("10.1.2.3");
	assert_false(cidrset_contains(&s, &a));
	static const char *r[] = {
		"10.0.0.0/8", "192.168.0.0/16", "10.0.0.0/8", "2001:db8::/32",
		"127.0.0.1",
	};
	for (size_t i = 0; i < ARRAY_LEN(r); i++) {
		assert_int_equal(cidr_parse(span_str(r[i]), &c, err,
		    sizeof(err)), 0);
		cidrset_add(&s, &c);
	}
	assert_int_equal(s.n, 4); /* the duplicate is kept once */
	assert_true(cidrset_contains(&s, &a));
	a = ip("127.0.0.1");
	assert_true(cidrset_contains(&s, &a));
	a = ip("127.0.0.2");
	assert_false(cidrset_contains(&s, &a));
	a = ip("2001:db8::5");
	assert_true(cidrset_contains(&s, &a));
	a = ip("::1");
	assert_false(cidrset_contains(&s, &a));
	memset(&a, 0, sizeof(a)); /* family 0: in no set */
	assert_false(cidrset_contains(&s, &a));
	/* many entries: growth */
	for (int i = 0; i < 300; i++) {
		memset(&c, 0, sizeof(c));
		c.addr.family = 4;
		c.addr.b[0] = 100;
		c.addr.b[1] = (uint8_t)(i >> 8);
		c.addr.b[2] = (uint8_t)i;
		c.prefix = 24;
		cidrset_add(&s, &c);
	}
	assert_int_equal(s.n, 304);
	a = ip("100.1.43.9"); /* i = 299 */
	assert_true(cidrset_contains(&s, &a));
	a = ip("100.1.44.9");
	assert_false(cidrset_contains(&s, &a));
	cidrset_release(&s);
	assert_int_equal(s.n, 0);
	assert_null(s.v);
	cidrset_release(&s); /* twice is harmless */
}

/* ---- client_ip_resolve */

static struct cidrset trusted;

static int
setup_trusted(void **state)
{
	static const char *r[] = {
		"10.0.0.0/8", "192.168.0.0/16", "127.0.0.1", "2001:db8:ffff::/48",
		"fd00::/8",
	};
	struct cidr c;
	char err[128];

	(void)state;
	cidrset_init(&trusted);
	for (size_t i = 0; i < ARRAY_LEN(r); i++) {
		if (cidr_parse(span_str(r[i]), &c, err, sizeof(err)) != 0)
			return -1;
		cidrset_add(&trusted, &c);
	}
	return 0;
}

static int
teardown_trusted(void **state)
{
	(void)state;
	cidrset_release(&trusted);
	return 0;
}

/* Resolves with xff in an exact-size buffer; returns the canonical text. */
static const char *
resolve(const char *peer, const char *xff, size_t xfflen)
{
	struct ipaddr p = ip(peer), out;
	char *hold;

	memset(&out, 0x33, sizeof(out));
	client_ip_resolve(&trusted, &p, exact(xff, xfflen, &hold), &out);
	free(hold);
	return fmt(&out);
}

static void
test_resolve_rules(void **state)
{
	static const struct {
		const char *peer, *xff, *want;
	} t[] = {
		/* the peer is not a proxy of ours: XFF is ignored */
		{ "203.0.113.5", "198.51.100.7", "203.0.113.5" },
		{ "203.0.113.5", "10.0.0.2", "203.0.113.5" },
		{ "::ffff:203.0.113.5", "198.51.100.7", "203.0.113.5" },
		/* trusted peer, no usable header: the peer */
		{ "10.0.0.1", "", "10.0.0.1" },
		{ "10.0.0.1", "-", "10.0.0.1" },
		{ "10.0.0.1", " - ", "10.0.0.1" },
		{ "10.0.0.1", "   ", "10.0.0.1" },
		{ "10.0.0.1", "198.51.100.7", "198.51.100.7" },
		{ "10.0.0.1", " 198.51.100.7 ", "198.51.100.7" },
		/* forged left-most entries never win */
		{ "10.0.0.1", "6.6.6.6, 198.51.100.7", "198.51.100.7" },
		{ "10.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.2", "198.51.100.7" },
		{ "10.0.0.1", "10.0.0.9, 198.51.100.7, 10.0.0.2", "198.51.100.7" },
		{ "10.0.0.1", "6.6.6.6,198.51.100.7,10.0.0.2,192.168.1.1",
		  "198.51.100.7" },
		{ "127.0.0.1", "6.6.6.6, 198.51.100.7", "198.51.100.7" },
		/* all trusted: the left-most */
		{ "10.0.0.1", "10.0.0.5, 10.0.0.2", "10.0.0.5" },
		{ "10.0.0.1", "192.168.7.7", "192.168.7.7" },
		/* junk met before the client: the header is absent */
		{ "10.0.0.1", "unknown, <script>", "10.0.0.1" },
		{ "10.0.0.1", "unknown", "10.0.0.1" },
		{ "10.0.0.1", "198.51.100.7, <script>", "10.0.0.1" },
		{ "10.0.0.1", "198.51.100.7, unknown, 10.0.0.2", "10.0.0.1" },
		{ "10.0.0.1", "198.51.100.7, example.com", "10.0.0.1" },
		{ "10.0.0.1", "198.51.100.7 10.0.0.2", "10.0.0.1" },
		{ "10.0.0.1", "198.51.100.7;10.0.0.2", "10.0.0.1" },
		{ "10.0.0.1", "\xff\xfe, 10.0.0.2", "10.0.0.1" },
		{ "10.0.0.1", "for=198.51.100.7", "10.0.0.1" },
		/* junk left of the client is never looked at */
		{ "10.0.0.1", "<script>, 198.51.100.7", "198.51.100.7" },
		{ "10.0.0.1", "unknown, 198.51.100.7, 10.0.0.2", "198.51.100.7" },
		/* empty entries are junk too */
		{ "10.0.0.1", "1.2.3.4, , 5.6.7.8", "5.6.7.8" },
		{ "10.0.0.1", "1.2.3.4, , 10.0.0.3", "10.0.0.1" },
		{ "10.0.0.1", "1.2.3.4,,10.0.0.3", "10.0.0.1" },
		{ "10.0.0.1", "1.2.3.4,", "10.0.0.1" },
		{ "10.0.0.1", ",10.0.0.3", "10.0.0.1" },
		{ "10.0.0.1", ",", "10.0.0.1" },
		{ "10.0.0.1", ", 1.2.3.4", "1.2.3.4" },
		/* entries with ports and brackets */
		{ "10.0.0.1", "198.51.100.7:5555, 10.0.0.2:80", "198.51.100.7" },
		{ "10.0.0.1", "[2001:db8::7]:443", "2001:db8::7" },
		{ "10.0.0.1", "[2001:DB8::7], [fd00::1]:80", "2001:db8::7" },
		{ "10.0.0.1", "::ffff:198.51.100.7, 10.0.0.2", "198.51.100.7" },
		{ "10.0.0.1", "::ffff:10.0.0.3", "10.0.0.3" },
		{ "10.0.0.1", "6.6.6.6, ::ffff:198.51.100.7, ::ffff:10.0.0.3",
		  "198.51.100.7" },
		/* IPv6 proxies */
		{ "2001:db8:ffff::1", "2001:db8:1::5, 2001:db8:ffff::2",
		  "2001:db8:1::5" },
		{ "2001:db8:ffff::1", "2001:db8:1::5", "2001:db8:1::5" },
		{ "2001:db8:ffff::1", "fd12::1, fd00::2", "fd12::1" },
		{ "2001:db8:ffff::1", "2001:db8:1::5, 2001:db8:fffe::2",
		  "2001:db8:fffe::2" },
		{ "2001:db8:1::1", "198.51.100.7", "2001:db8:1::1" },
		{ "fd00::1", "1.2.3.4, 10.0.0.2, fd00::3", "1.2.3.4" },
		{ "fd00::1", "junk, 10.0.0.2, fd00::3", "fd00::1" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		const char *got = resolve(t[i].peer, t[i].xff,
		    strlen(t[i].xff));
		if (strcmp(got, t[i].want) != 0)
			fail_msg("peer %s xff \"%s\": got %s, want %s",
			    t[i].peer, t[i].xff, got, t[i].want);
	}
	/* NUL bytes in the header are junk, not an end */
	assert_string_equal(resolve("10.0.0.1", "1.2.3.4\0, 10.0.0.2", 18),
	    "10.0.0.1");
	assert_string_equal(resolve("10.0.0.1", "1.2.3.4, 10.0.0.2\0", 18),
	    "10.0.0.1");
}

static void
test_resolve_special_peers(void **state)
{
	struct ipaddr peer, out;
	struct cidrset none;

	(void)state;
	/* no address at all: out is the (empty) peer */
	memset(&peer, 0, sizeof(peer));
	client_ip_resolve(&trusted, &peer, span_str("198.51.100.7"), &out);
	assert_int_equal(out.family, 0);
	/* an empty trusted set believes no header */
	cidrset_init(&none);
	peer = ip("10.0.0.1");
	client_ip_resolve(&none, &peer, span_str("198.51.100.7"), &out);
	assert_string_equal(fmt(&out), "10.0.0.1");
	client_ip_resolve(NULL, &peer, span_str("198.51.100.7"), &out);
	assert_string_equal(fmt(&out), "10.0.0.1");
	/* a NULL span is an empty header */
	client_ip_resolve(&trusted, &peer, SPAN_NULL, &out);
	assert_string_equal(fmt(&out), "10.0.0.1");
}

static void
test_resolve_many_entries(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	/* 100 entries, all trusted: only the right-most 64 are looked at,
	 * and the left-most of those (10.0.0.64 counting from the right)
	 * stands for the client. */
	buf_init(&b);
	for (int i = 100; i >= 1; i--)
		buf_addf(&b, "%s10.0.0.%d", i == 100 ? "" : ", ", i);
	assert_string_equal(resolve("10.0.0.200", b.p, b.len), "10.0.0.64");

	/* the untrusted entry at 60 from the right is found */
	buf_reset(&b);
	for (int i = 100; i >= 1; i--)
		buf_addf(&b, "%s%s.%d", i == 100 ? "" : ", ",
		    i == 60 ? "198.51.100" : "10.0.0", i);
	assert_string_equal(resolve("10.0.0.200", b.p, b.len),
	    "198.51.100.60");

	/* ... but one at 65 is past the limit */
	buf_reset(&b);
	for (int i = 100; i >= 1; i--)
		buf_addf(&b, "%s%s.%d", i == 100 ? "" : ", ",
		    i == 65 ? "198.51.100" : "10.0.0", i);
	assert_string_equal(resolve("10.0.0.200", b.p, b.len), "10.0.0.64");

	/* 100 untrusted entries: the right-most */
	buf_reset(&b);
	for (int i = 100; i >= 1; i--)
		buf_addf(&b, "%s198.51.100.%d", i == 100 ? "" : ",", i);
	assert_string_equal(resolve("10.0.0.200", b.p, b.len),
	    "198.51.100.1");

	/* exactly 64, all trusted: the real left-most */
	buf_reset(&b);
	for (int i = 64; i >= 1; i--)
		buf_addf(&b, "%s10.0.1.%d", i == 64 ? "" : ",", i);
	assert_string_equal(resolve("10.0.0.200", b.p, b.len), "10.0.1.64");
	buf_release(&b);
}

/* Appends first, then trusted entries padded with spaces (so fewer than
 * 64 fill 8 KiB) until exactly total bytes were added. */
static void
add_tail(struct buf *b, const char *first, size_t total)
{
	static const char entry[] = "10.0.0.2";
	size_t start = b->len, step = 250, left;

	buf_addstr(b, first);
	while ((left = total - (b->len - start)) > 0) {
		size_t pad = left - 1 - (sizeof(entry) - 1);
		if (pad > step)
			pad = step;
		if (left - 1 - (sizeof(entry) - 1) - pad < 2 + sizeof(entry))
			pad = left - 1 - (sizeof(entry) - 1);
		buf_addch(b, ',');
		for (size_t i = 0; i < pad; i++)
			buf_addch(b, ' ');
		buf_addstr(b, entry);
	}
}

static void
test_resolve_long_header(void **state)
{
	struct buf b = BUF_INIT;
	size_t before;

	(void)state;
	buf_init(&b);
	/* megabytes of forged junk on the left: ignored, quickly */
	for (int i = 0; i < 100000; i++)
		buf_addstr(&b, "<script>alert(1)</script>, ");
	buf_addstr(&b, "198.51.100.7, 10.0.0.2");
	assert_string_equal(resolve("10.0.0.1", b.p, b.len), "198.51.100.7");
	struct ipaddr peer = ip("10.0.0.1"), out;
	int64_t t0 = clock_mono_ns();
	for (int i = 0; i < 1000; i++) {
		client_ip_resolve(&trusted, &peer, (struct span){ b.p, b.len },
		    &out);
		assert_int_equal(out.b[0], 198);
	}
	/* the work does not grow with the header: well under a second */
	assert_true(clock_mono_ns() - t0 < 1000000000LL);

	/* one giant entry: junk, the peer */
	buf_reset(&b);
	for (int i = 0; i < 9000; i++)
		buf_addch(&b, '1');
	assert_string_equal(resolve("10.0.0.1", b.p, b.len), "10.0.0.1");

	/* The 8 KiB cut goes through "203.0.113.77" leaving "3.0.113.77":
	 * that fragment is not an entry and must not become the client. */
	buf_reset(&b);
	buf_addstr(&b, "1.1.1.1, 20");
	before = b.len;
	add_tail(&b, "3.0.113.77, 10.9.9.9", 8192);
	assert_int_equal(b.len - before, 8192);
	assert_string_equal(resolve("10.0.0.1", b.p, b.len), "10.9.9.9");

	/* The window starts right after a comma: the entry there counts. */
	buf_reset(&b);
	buf_addstr(&b, "6.6.6.6,");
	add_tail(&b, "198.51.100.9", 8192);
	assert_string_equal(resolve("10.0.0.1", b.p, b.len), "198.51.100.9");
	/* ... but not when it is the end of a longer entry. */
	buf_reset(&b);
	buf_addstr(&b, "6.6.6.6,1");
	add_tail(&b, "198.51.100.9", 8192);
	assert_string_equal(resolve("10.0.0.1", b.p, b.len), "10.0.0.2");
	/* 8192 bytes exactly: no cut at all */
	buf_reset(&b);
	add_tail(&b, "198.51.100.9", 8192);
	assert_string_equal(resolve("10.0.0.1", b.p, b.len), "198.51.100.9");
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_strict_valid),
		cmocka_unit_test(test_parse_strict_invalid),
		cmocka_unit_test(test_parse_prefixes),
		cmocka_unit_test(test_parse_loose),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_format_edges),
		cmocka_unit_test(test_cmp),
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_cidr_parse_errors),
		cmocka_unit_test(test_cidr_contains),
		cmocka_unit_test(test_cidrset),
		cmocka_unit_test(test_resolve_rules),
		cmocka_unit_test(test_resolve_special_peers),
		cmocka_unit_test(test_resolve_many_entries),
		cmocka_unit_test(test_resolve_long_header),
	};

	return cmocka_run_group_tests(tests, setup_trusted, teardown_trusted);
}
