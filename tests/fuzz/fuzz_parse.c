/*
 * Format detection and the per-format parsers behind parser_parse(): the
 * input is split into lines; the first up to 16 are shown to
 * parser_detect(), then every line goes through a parser of the detected
 * format and through one left on auto.  Also the full load path of a
 * logrec: the client address from remote_addr and X-Forwarded-For.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct span lines[16];
	size_t n = 0;
	const char *p = (const char *)data, *end = p + size;
	struct parser_opts o;
	struct parser *det, *aut;
	struct cidrset trusted;
	struct cidr c;
	char err[256];

	while (p < end && n < 16) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lines[n].p = p;
		lines[n].n = len;
		n++;
		p += len + (nl ? 1 : 0);
	}
	enum logfmt f = parser_detect(lines, n);
	memset(&o, 0, sizeof(o));
	o.fmt = f;
	det = parser_new(&o, err, sizeof(err));
	o.fmt = FMT_AUTO;
	aut = parser_new(&o, err, sizeof(err));
	if (aut == NULL)
		abort();
	cidrset_init(&trusted);
	if (cidr_parse(SPAN_LIT("10.0.0.0/8"), &c, err, sizeof(err)) == 0)
		cidrset_add(&trusted, &c);
	for (size_t i = 0; i < n; i++) {
		struct logrec r;
		struct ipaddr peer, client;
		if (det != NULL && parser_parse(det, lines[i].p, lines[i].n,
		    &r) == 0 && ipaddr_parse_loose(r.remote_addr, &peer) == 0)
			client_ip_resolve(&trusted, &peer, r.xff, &client);
		(void)parser_parse(aut, lines[i].p, lines[i].n, &r);
	}
	cidrset_release(&trusted);
	parser_free(det);
	parser_free(aut);
	return 0;
}
