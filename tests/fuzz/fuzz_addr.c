/*
 * libFuzzer target for addr.c: the strict and lenient address parsers,
 * CIDR parsing and client_ip_resolve over arbitrary bytes.  Invariants,
 * checked with abort(): whatever parses formats to a canonical text that
 * parses back to the same address (and formats the same again), the
 * lenient parser accepts all the strict one does, a parsed range contains
 * its own address, and an untrusted peer is never replaced.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cidrset trusted;
static int ready;

static void
setup(void)
{
	static const char *r[] = {
		"10.0.0.0/8", "192.168.0.0/16", "127.0.0.1", "2001:db8::/32",
		"::ffff:172.16.0.0/108", "fd00::/8",
	};
	struct cidr c;
	char err[128];

	cidrset_init(&trusted);
	for (size_t i = 0; i < ARRAY_LEN(r); i++) {
		if (cidr_parse(span_str(r[i]), &c, err, sizeof(err)) != 0)
			abort();
		cidrset_add(&trusted, &c);
	}
	ready = 1;
}

/* format -> strict parse -> same address -> same text. */
static void
check_canonical(const struct ipaddr *a)
{
	char t1[IPADDR_STRLEN], t2[IPADDR_STRLEN];
	struct ipaddr b;
	size_t n;

	if (a->family != 4 && a->family != 6)
		abort();
	n = ipaddr_format(a, t1, sizeof(t1));
	if (n == 0 || n != strlen(t1))
		abort();
	if (ipaddr_parse((struct span){ t1, n }, &b) != 0)
		abort();
	if (ipaddr_cmp(a, &b) != 0 || memcmp(a, &b, sizeof(b)) != 0)
		abort();
	ipaddr_format(&b, t2, sizeof(t2));
	if (strcmp(t1, t2) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct span s = { (const char *)data, size };
	struct ipaddr a, b, peer, out;
	struct cidr c, d;
	char err[256], text[IPADDR_STRLEN + 8];
	int strict_ok;

	if (!ready)
		setup();

	strict_ok = ipaddr_parse(s, &a) == 0;
	if (strict_ok)
		check_canonical(&a);
	if (ipaddr_parse_loose(s, &b) == 0) {
		check_canonical(&b);
		if (strict_ok && ipaddr_cmp(&a, &b) != 0)
			abort();
	} else if (strict_ok)
		abort();

	err[0] = '\0';
	if (cidr_parse(s, &c, err, sizeof(err)) == 0) {
		size_t n = cidr_format(&c, text, sizeof(text));
		if (n != strlen(text))
			abort();
		if (cidr_parse((struct span){ text, n }, &d, err,
		    sizeof(err)) != 0)
			abort();
		if (d.prefix != c.prefix || ipaddr_cmp(&d.addr, &c.addr) != 0)
			abort();
		if (!cidr_contains(&c, &c.addr))
			abort();
	} else if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
		abort();

	/* The input as an X-Forwarded-For header behind a trusted peer ... */
	if (ipaddr_parse(span_str("10.1.2.3"), &peer) != 0)
		abort();
	client_ip_resolve(&trusted, &peer, s, &out);
	if (out.family != 4 && out.family != 6)
		abort();
	/* ... and behind an untrusted one, which always wins. */
	if (ipaddr_parse(span_str("2001:db9::1"), &peer) != 0)
		abort();
	client_ip_resolve(&trusted, &peer, s, &out);
	if (ipaddr_cmp(&out, &peer) != 0)
		abort();
	/* A peer of its own parsed address, when there is one. */
	if (strict_ok) {
		client_ip_resolve(&trusted, &a, s, &out);
		if (!cidrset_contains(&trusted, &a) && ipaddr_cmp(&out, &a))
			abort();
	}
	return 0;
}
