/*
 * IP addresses, CIDR ranges and finding the real client behind proxies.
 *
 * Addresses come from two places: the configuration (trusted proxies,
 * allow lists), parsed strictly so that a typo is an error and not a
 * silently different range, and log lines, parsed leniently because each
 * proxy writes them its own way ("1.2.3.4:5678", "[::1]:443", upper-case
 * hex).  Both end in one canonical struct ipaddr, where an IPv4-mapped
 * IPv6 address is plain IPv4: "::ffff:1.2.3.4" and "1.2.3.4" are the same
 * client, and a ban must cover both.
 */
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

/* Longest text of one address: "[" v6-with-v4 (45) "]:" port (5). */
#define LOOSE_MAXLEN 64

/* X-Forwarded-For is client-controlled: bound what we look at. */
#define XFF_MAX_BYTES 8192
#define XFF_MAX_ENTRIES 64

static const uint8_t mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* ---- parsing */

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Four decimal octets, no leading zeros ("010" is octal to inet_aton and
 * decimal to others: refuse to guess), nothing after. */
static int
parse_v4(const char *p, size_t n, uint8_t out[4])
{
	size_t i = 0;

	for (int k = 0; k < 4; k++) {
		size_t start;
		unsigned v = 0;

		if (k > 0) {
			if (i >= n || p[i] != '.')
				return -1;
			i++;
		}
		start = i;
		while (i < n && i - start < 3 &&
		    is_digit(p[i])) {
			v = v * 10 + (unsigned)(p[i] - '0');
			i++;
		}
		if (i == start || v > 255 || (i - start > 1 && p[start] == '0'))
			return -1;
		out[k] = (uint8_t)v;
	}
	return i == n ? 0 : -1;
}

/*
 * RFC 4291 text: eight groups of 1..4 hex digits, one "::" standing for
 * one or more zero groups, and optionally a dotted quad as the last 32
 * bits.  No zone ("%eth0"): strict callers want an address, not a
 * scoped interface.
 */
static int
parse_v6(const char *p, size_t n, uint8_t out[16])
{
	uint16_t g[8];
	int ng = 0, gap = -1;
	size_t i = 0;

	if (n < 2)
		return -1;
	if (p[0] == ':') {
		if (p[1] != ':')
			return -1;
		gap = 0;
		i = 2;
	}
	while (i < n) {
		size_t start = i;
		unsigned v = 0;
		int h;

		while (i < n && i - start < 4 &&
		    (h = hexval((unsigned char)p[i])) >= 0) {
			v = v * 16 + (unsigned)h;
			i++;
		}
		if (i == start)
			return -1;
		if (i < n && p[i] == '.') {
			uint8_t b4[4];
			/* The dotted quad fills two groups and ends it all. */
			if (ng > 6 || parse_v4(p + start, n - start, b4) != 0)
				return -1;
			g[ng++] = (uint16_t)(b4[0] << 8 | b4[1]);
			g[ng++] = (uint16_t)(b4[2] << 8 | b4[3]);
			i = n;
			break;
		}
		if (ng == 8)
			return -1;
		g[ng++] = (uint16_t)v;
		if (i == n)
			break;
		if (p[i] != ':')
			return -1;
		i++;
		if (i < n && p[i] == ':') {
			if (gap >= 0)
				return -1;
			gap = ng;
			i++;
		} else if (i == n)
			return -1; /* "1::2:" */
	}
	if (gap < 0 ? ng != 8 : ng > 7)
		return -1;

	memset(out, 0, 16);
	if (gap < 0)
		gap = ng;
	for (int k = 0; k < gap; k++) {
		out[2 * k] = (uint8_t)(g[k] >> 8);
		out[2 * k + 1] = (uint8_t)g[k];
	}
	for (int k = gap, j = 8 - (ng - gap); k < ng; k++, j++) {
		out[2 * j] = (uint8_t)(g[k] >> 8);
		out[2 * j + 1] = (uint8_t)g[k];
	}
	return 0;
}

/* 16 bytes of IPv6 into an ipaddr, folding the mapped range into IPv4. */
static void
set_v6(struct ipaddr *a, const uint8_t b[16])
{
	memset(a, 0, sizeof(*a));
	if (memcmp(b, mapped_prefix, sizeof(mapped_prefix)) == 0) {
		a->family = 4;
		memcpy(a->b, b + 12, 4);
	} else {
		a->family = 6;
		memcpy(a->b, b, 16);
	}
}

static int
has_colon(const char *p, size_t n)
{
	return n != 0 && memchr(p, ':', n) != NULL;
}

int
ipaddr_parse(struct span s, struct ipaddr *out)
{
	uint8_t b[16];

	if (s.n == 0 || s.n > IPADDR_STRLEN)
		return -1;
	if (has_colon(s.p, s.n)) {
		if (parse_v6(s.p, s.n, b) != 0)
			return -1;
		set_v6(out, b);
		return 0;
	}
	if (parse_v4(s.p, s.n, b) != 0)
		return -1;
	memset(out, 0, sizeof(*out));
	out->family = 4;
	memcpy(out->b, b, 4);
	return 0;
}

/* ":port", 1..5 digits, at most 65535. */
static int
valid_port(const char *p, size_t n)
{
	unsigned v = 0;

	if (n < 2 || n > 6 || p[0] != ':')
		return 0;
	for (size_t i = 1; i < n; i++) {
		unsigned d = (unsigned char)p[i] - '0';
		if (d > 9)
			return 0;
		v = v * 10 + d;
	}
	return v <= 65535;
}

int
ipaddr_parse_loose(struct span s, struct ipaddr *out)
{
	const char *colon;
	size_t ncolon = 0;

	s = span_trim(s);
	if (s.n == 0 || s.n > LOOSE_MAXLEN)
		return -1;
	if (s.p[0] == '[') {
		/* "[v6]" or "[v6]:port"; brackets only ever hold IPv6. */
		const char *close = memchr(s.p, ']', s.n);
		struct span in;
		size_t used;
		if (close == NULL)
			return -1;
		in.p = s.p + 1;
		in.n = (size_t)(close - in.p);
		used = (size_t)(close - s.p) + 1;
		if (!has_colon(in.p, in.n))
			return -1;
		if (used != s.n && !valid_port(close + 1, s.n - used))
			return -1;
		return ipaddr_parse(in, out);
	}
	for (size_t i = 0; i < s.n && ncolon < 2; i++)
		if (s.p[i] == ':')
			ncolon++;
	if (ncolon == 1) {
		/* One colon: IPv4 with a port (bare IPv6 has at least two). */
		colon = memchr(s.p, ':', s.n);
		if (!valid_port(colon, s.n - (size_t)(colon - s.p)))
			return -1;
		s.n = (size_t)(colon - s.p);
	}
	return ipaddr_parse(s, out);
}

/* ---- output */

static size_t
put_dec(char *p, unsigned v)
{
	size_t n = 0;

	if (v >= 100)
		p[n++] = (char)('0' + v / 100);
	if (v >= 10)
		p[n++] = (char)('0' + v / 10 % 10);
	p[n++] = (char)('0' + v % 10);
	return n;
}

static size_t
put_hex16(char *p, unsigned v)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	int shift = 12;

	while (shift > 0 && ((v >> shift) & 0xf) == 0)
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		p[n++] = hex[(v >> shift) & 0xf];
	return n;
}

/* Writes the text of a into tmp (IPADDR_STRLEN bytes); returns length. */
static size_t
format_addr(const struct ipaddr *a, char *tmp)
{
	size_t n = 0;
	int best = -1, bestlen = 1, run = -1;

	if (a->family == 4) {
		for (int k = 0; k < 4; k++) {
			if (k > 0)
				tmp[n++] = '.';
			n += put_dec(tmp + n, a->b[k]);
		}
		return n;
	}
	if (a->family != 6)
		return 0;
	/* RFC 5952 4.2: the longest run of two or more zero groups becomes
	 * "::", the first such run on a tie. */
	for (int k = 0; k <= 8; k++) {
		int zero = k < 8 && a->b[2 * k] == 0 && a->b[2 * k + 1] == 0;
		if (zero && run < 0)
			run = k;
		else if (!zero && run >= 0) {
			if (k - run > bestlen) {
				best = run;
				bestlen = k - run;
			}
			run = -1;
		}
	}
	for (int k = 0; k < 8; k++) {
		if (k == best) {
			tmp[n++] = ':';
			tmp[n++] = ':';
			k += bestlen - 1;
			continue;
		}
		if (k > 0 && k != best + bestlen)
			tmp[n++] = ':';
		n += put_hex16(tmp + n, (unsigned)(a->b[2 * k] << 8 |
		    a->b[2 * k + 1]));
	}
	return n;
}

/* Copies n bytes into out as a C string, cut to fit; returns length. */
static size_t
copy_out(char *out, size_t outlen, const char *tmp, size_t n)
{
	if (outlen == 0)
		return 0;
	if (n > outlen - 1)
		n = outlen - 1;
	memcpy(out, tmp, n);
	out[n] = '\0';
	return n;
}

size_t
ipaddr_format(const struct ipaddr *a, char *out, size_t outlen)
{
	char tmp[IPADDR_STRLEN];

	return copy_out(out, outlen, tmp, format_addr(a, tmp));
}

int
ipaddr_cmp(const struct ipaddr *a, const struct ipaddr *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->b, b->b, a->family == 4 ? 4 : 16);
	return (c > 0) - (c < 0);
}

/* ---- ranges */

static unsigned
family_bits(int family)
{
	return family == 4 ? 32 : 128;
}

/* Zeroes the bits of a past prefix; nonzero if any were set. */
static int
mask_host(struct ipaddr *a, unsigned prefix)
{
	int changed = 0;

	for (unsigned k = 0; k < 16; k++) {
		unsigned keep;
		uint8_t m;
		if (prefix >= (k + 1) * 8)
			continue;
		keep = prefix > k * 8 ? prefix - k * 8 : 0;
		m = (uint8_t)(0xff00u >> keep);
		if (a->b[k] & (uint8_t)~m)
			changed = 1;
		a->b[k] &= m;
	}
	return changed;
}

/* Outside text for an error message: bounded, printable ASCII only. */
static void
err_text(char *dst, size_t dstlen, struct span s)
{
	size_t n = 0, max = dstlen - 4;

	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (n == max) {
			memcpy(dst + n, "...", 3);
			n += 3;
			break;
		}
		dst[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[n] = '\0';
}

int
cidr_parse(struct span s, struct cidr *out, char *err, size_t errlen)
{
	char shown[72], canon[IPADDR_STRLEN + 8];
	const char *slash;
	struct span as;
	struct cidr c;
	unsigned prefix = 0, written;
	int v6text;

	s = span_trim(s);
	err_text(shown, sizeof(shown), s);
	if (err == NULL)
		errlen = 0;
	slash = s.n != 0 ? memchr(s.p, '/', s.n) : NULL;
	as.p = s.p;
	as.n = slash != NULL ? (size_t)(slash - s.p) : s.n;
	if (ipaddr_parse(as, &c.addr) != 0) {
		if (errlen != 0)
			snprintf(err, errlen, "\"%s\": not an IP address or "
			    "CIDR range", shown);
		return -1;
	}
	/* A prefix written after an IPv6 text counts IPv6 bits, even when
	 * the address folded into IPv4 (::ffff:1.2.3.0/120). */
	v6text = has_colon(as.p, as.n);
	if (slash == NULL)
		prefix = family_bits(v6text ? 6 : 4);
	else {
		size_t i = (size_t)(slash - s.p) + 1;
		if (i == s.n || s.n - i > 3) {
			if (errlen != 0)
				snprintf(err, errlen, "\"%s\": bad prefix "
				    "length", shown);
			return -1;
		}
		for (; i < s.n; i++) {
			unsigned d = (unsigned char)s.p[i] - '0';
			if (d > 9) {
				if (errlen != 0)
					snprintf(err, errlen, "\"%s\": bad "
					    "prefix length", shown);
				return -1;
			}
			prefix = prefix * 10 + d;
		}
	}
	if (prefix > family_bits(v6text ? 6 : 4)) {
		if (errlen != 0)
			snprintf(err, errlen, "\"%s\": prefix /%u is too long "
			    "for IPv%d (at most /%u)", shown, prefix,
			    v6text ? 6 : 4, family_bits(v6text ? 6 : 4));
		return -1;
	}
	written = prefix;
	if (v6text && c.addr.family == 4) {
		if (prefix < 96) {
			if (errlen != 0)
				snprintf(err, errlen, "\"%s\": an IPv4-mapped "
				    "range needs a prefix of /96 to /128",
				    shown);
			return -1;
		}
		prefix -= 96;
	}
	c.prefix = prefix;
	if (mask_host(&c.addr, prefix)) {
		if (errlen != 0) {
			cidr_format(&c, canon, sizeof(canon));
			snprintf(err, errlen, "\"%s\": host bits are set "
			    "after the /%u prefix; did you mean %s?", shown,
			    written, canon);
		}
		return -1;
	}
	*out = c;
	return 0;
}

int
cidr_contains(const struct cidr *c, const struct ipaddr *a)
{
	unsigned full, rest;

	if (a->family != c->addr.family || a->family == 0)
		return 0;
	full = c->prefix / 8;
	rest = c->prefix % 8;
	if (memcmp(c->addr.b, a->b, full) != 0)
		return 0;
	if (rest != 0) {
		uint8_t m = (uint8_t)(0xff00u >> rest);
		if ((a->b[full] & m) != c->addr.b[full])
			return 0;
	}
	return 1;
}

size_t
cidr_format(const struct cidr *c, char *out, size_t outlen)
{
	char tmp[IPADDR_STRLEN + 8];
	size_t n = format_addr(&c->addr, tmp);

	tmp[n++] = '/';
	n += put_dec(tmp + n, c->prefix);
	return copy_out(out, outlen, tmp, n);
}

void
cidrset_init(struct cidrset *s)
{
	s->v = NULL;
	s->n = 0;
	s->cap = 0;
}

void
cidrset_release(struct cidrset *s)
{
	free(s->v);
	cidrset_init(s);
}

void
cidrset_add(struct cidrset *s, const struct cidr *c)
{
	/* Sets are a handful of proxy ranges: a plain array is enough, and
	 * the same range given twice is kept once. */
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].prefix == c->prefix &&
		    ipaddr_cmp(&s->v[i].addr, &c->addr) == 0)
			return;
	if (s->n == s->cap) {
		s->cap = s->cap != 0 ? s->cap * 2 : 8;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n++] = *c;
}

int
cidrset_contains(const struct cidrset *s, const struct ipaddr *a)
{
	for (size_t i = 0; i < s->n; i++)
		if (cidr_contains(&s->v[i], a))
			return 1;
	return 0;
}

/* ---- the client behind the proxies */

void
client_ip_resolve(const struct cidrset *trusted, const struct ipaddr *peer,
    struct span xff, struct ipaddr *out)
{
	struct ipaddr cur, last;
	const char *p, *end;
	int have = 0;

	*out = *peer;
	if (trusted == NULL || !cidrset_contains(trusted, peer))
		return;
	xff = span_trim(xff);
	if (xff.n == 0 || span_eq_str(xff, "-"))
		return;
	p = xff.p;
	end = xff.p + xff.n;
	if (xff.n > XFF_MAX_BYTES) {
		/* Only the right end matters (our proxies appended there);
		 * drop the entry the cut went through. */
		p = end - XFF_MAX_BYTES;
		if (p[-1] != ',') {
			while (p < end && *p != ',')
				p++;
			if (p == end)
				return; /* one giant entry: junk */
			p++;
		}
	}
	/* From the right: each trusted hop vouches for the one left of it,
	 * so the first untrusted entry is the last address we can believe.
	 * Anything further left was written by the client. */
	for (int k = 0; k < XFF_MAX_ENTRIES && end > p; k++) {
		const char *q = end;
		struct span e;

		while (q > p && q[-1] != ',')
			q--;
		e.p = q;
		e.n = (size_t)(end - q);
		if (ipaddr_parse_loose(e, &cur) != 0)
			return; /* junk: nothing left of it can be believed */
		if (!cidrset_contains(trusted, &cur)) {
			*out = cur;
			return;
		}
		last = cur;
		have = 1;
		if (q == p)
			break;
		end = q - 1; /* skip the comma */
		if (end == p)
			return; /* leading comma: an empty entry is junk */
	}
	/* Every hop is trusted (or we stopped looking): the left-most one
	 * we examined, as nginx's real_ip_recursive does. */
	if (have)
		*out = last;
}
