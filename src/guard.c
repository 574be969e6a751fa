/*
 * The static guard: addresses and ranges that must never be banned.
 *
 * This is the last word before anything is called a ban, and it needs no
 * configuration to be right: our own networks (loopback, RFC 1918, the
 * CGNAT / Tailscale range, link-local, unique local), addresses that
 * belong to nobody (unspecified, "this network", reserved, broadcast,
 * multicast), and the trusted proxies, whose ban would lock out every
 * client behind them.  A range is refused when it is wider than the
 * policy allows or touches any of those.
 *
 * Documentation ranges are deliberately absent: they are what examples
 * and test scenarios use for attackers, and a real request never comes
 * from them anyway.
 */
#include <string.h>

#include "anomaly.h"

struct special {
	uint8_t family;
	uint8_t prefix;
	uint8_t b[16];
	const char *why;
};

/* Most specific first would not matter: the blocks do not overlap. */
static const struct special specials[] = {
	{ 4, 8, { 0 }, "this network (0.0.0.0/8)" },
	{ 4, 8, { 10 }, "private (RFC 1918)" },
	{ 4, 10, { 100, 64 }, "CGNAT / tailnet (100.64.0.0/10)" },
	{ 4, 8, { 127 }, "loopback" },
	{ 4, 16, { 169, 254 }, "link-local" },
	{ 4, 12, { 172, 16 }, "private (RFC 1918)" },
	{ 4, 16, { 192, 168 }, "private (RFC 1918)" },
	{ 4, 4, { 224 }, "multicast" },
	{ 4, 32, { 255, 255, 255, 255 }, "broadcast" },
	{ 4, 4, { 240 }, "reserved (240.0.0.0/4)" },
	{ 6, 128, { 0 }, "unspecified" },
	{ 6, 128, { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
	    "loopback" },
	{ 6, 7, { 0xfc }, "unique local (fc00::/7)" },
	{ 6, 10, { 0xfe, 0x80 }, "link-local" },
	{ 6, 8, { 0xff }, "multicast" },
};

void
guard_policy_init(struct guard_policy *p)
{
	p->range_v4 = GUARD_RANGE_V4_DEFAULT;
	p->range_v6 = GUARD_RANGE_V6_DEFAULT;
}

/* The first `bits` bits of a and b agree. */
static int
prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest != 0) {
		uint8_t m = (uint8_t)(0xff00u >> rest);
		if ((a[full] & m) != (b[full] & m))
			return 0;
	}
	return 1;
}

int
cidr_overlaps(const struct cidr *a, const struct cidr *b)
{
	unsigned bits;

	if (a->addr.family != b->addr.family || a->addr.family == 0)
		return 0;
	bits = a->prefix < b->prefix ? a->prefix : b->prefix;
	return prefix_eq(a->addr.b, b->addr.b, bits);
}

/* An IPv4-mapped IPv6 address built by hand (the parsers already turn
 * ::ffff:a.b.c.d into IPv4) is judged as its IPv4 address. */
static void
unmap(const struct ipaddr *a, struct ipaddr *out)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	*out = *a;
	if (a->family == 6 && memcmp(a->b, mapped, 12) == 0) {
		memset(out, 0, sizeof(*out));
		out->family = 4;
		memcpy(out->b, a->b + 12, 4);
	}
}

const char *
guard_static_refusal(const struct ipaddr *a, const struct cidrset *trusted)
{
	struct ipaddr x;

	if (a == NULL || (a->family != 4 && a->family != 6))
		return "not an address";
	unmap(a, &x);
	for (size_t i = 0; i < ARRAY_LEN(specials); i++) {
		const struct special *s = &specials[i];
		if (s->family == x.family && prefix_eq(x.b, s->b, s->prefix))
			return s->why;
	}
	if (trusted != NULL && (cidrset_contains(trusted, &x) ||
	    cidrset_contains(trusted, a)))
		return "trusted proxy";
	return NULL;
}

const char *
guard_range_refusal(const struct cidr *c, const struct guard_policy *p,
    const struct cidrset *trusted)
{
	unsigned widest;

	if (c == NULL || (c->addr.family != 4 && c->addr.family != 6))
		return "not a range";
	widest = c->addr.family == 4 ? p->range_v4 : p->range_v6;
	if (widest == 0)
		return c->addr.family == 4 ? "IPv4 ranges are not banned whole "
		    "(guard_range_ipv4 = 0)" : "IPv6 ranges are not banned "
		    "whole (guard_range_ipv6 = 0)";
	if (c->prefix < widest)
		return c->addr.family == 4 ? "wider than guard_range_ipv4 "
		    "allows" : "wider than guard_range_ipv6 allows";
	for (size_t i = 0; i < ARRAY_LEN(specials); i++) {
		const struct special *s = &specials[i];
		struct cidr sc;
		memset(&sc, 0, sizeof(sc));
		sc.addr.family = s->family;
		memcpy(sc.addr.b, s->b, sizeof(sc.addr.b));
		sc.prefix = s->prefix;
		if (cidr_overlaps(c, &sc))
			return s->why;
	}
	if (c->addr.family == 6) {
		/* The IPv4-mapped block holds every special IPv4 address. */
		struct cidr m;
		memset(&m, 0, sizeof(m));
		m.addr.family = 6;
		m.addr.b[10] = m.addr.b[11] = 0xff;
		m.prefix = 96;
		if (cidr_overlaps(c, &m))
			return "IPv4-mapped addresses";
	}
	if (trusted != NULL)
		for (size_t i = 0; i < trusted->n; i++)
			if (cidr_overlaps(c, &trusted->v[i]))
				return "contains a trusted proxy";
	return NULL;
}
