/*
 * libFuzzer target for what eval and the findings take from outside:
 * labels.json (eval_labels_parse), scoring against bans made from the
 * labels' own addresses, and findings whose subject, members and sample
 * fields are the input bytes, through the guard and both renderings.
 * Invariants, checked with abort(): a failed parse leaves nothing; the
 * score never counts more attackers banned than there are, and banning
 * every attacker directly scores them all with no false ban; the JSON
 * rendering never holds a raw control byte; the text one no ESC.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
labels(const char *p, size_t n)
{
	struct eval_labels l;
	struct eval_score s;
	struct ban *b;
	size_t nb = 0;
	char err[256];

	eval_labels_init(&l);
	eval_score_init(&s);
	if (eval_labels_parse(&l, p, n, err, sizeof(err)) != 0) {
		if (l.attackers != NULL || l.nattackers || l.ninnocents ||
		    err[0] == '\0')
			abort();
		return;
	}
	b = calloc(l.nattackers + l.nprefixes + 1, sizeof(*b));
	if (b == NULL)
		abort();
	for (size_t i = 0; i < l.nattackers; i++, nb++) {
		ipaddr_format(&l.attackers[i], b[nb].value, sizeof(b[nb].value));
		b[nb].scope = BAN_IP;
		b[nb].scenario = "anomaly-detect/fuzz";
		b[nb].verdict = "dry-run";
	}
	eval_score(&l, b, nb, &s);
	if (s.banned != l.nattackers || s.attackers != l.nattackers)
		abort();
	/* An address labeled both ways is a false ban too: no more of them
	 * than innocents. */
	if (s.nfalse > l.ninnocents)
		abort();
	for (size_t i = 0; i < l.nprefixes; i++, nb++) {
		cidr_format(&l.prefixes[i], b[nb].value, sizeof(b[nb].value));
		b[nb].scope = BAN_RANGE;
		b[nb].scenario = "anomaly-detect/fuzz";
		b[nb].verdict = "dry-run";
	}
	eval_score(&l, b, nb, &s);
	if (s.banned > s.attackers)
		abort();
	free(b);
	eval_score_release(&s);
	eval_labels_release(&l);
}

static void
findings(const char *p, size_t n)
{
	struct report r;
	struct finding *f;
	struct guard_policy g;
	struct buf o = BUF_INIT;
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0'; /* strings stop at the first NUL, as in results */
	report_init(&r);
	guard_policy_init(&g);
	f = report_add_finding(&r, "anomaly-detect/fuzz", (int)(n % 120), s);
	finding_member(f, s);
	finding_member(f, "203.0.113.9");
	finding_member(f, "10.1.2.3");
	finding_sample(f, s, s, s, s, s, s, n);
	finding_sentence(f, "%s", s);
	finding_count(f, "requests", (int64_t)n);
	if (n > 2 && cidr_parse(span_str(s), &f->range, NULL, 0) != 0)
		memset(&f->range, 0, sizeof(f->range));
	report_decide(&r, &g, NULL, "dry-run");
	report_json_arrays(&r, &o);
	for (size_t i = 0; i < o.len; i++)
		if ((unsigned char)o.p[i] < 0x20)
			abort();
	buf_reset(&o);
	report_text_findings(&r, &o);
	if (memchr(o.p, '\x1b', o.len) != NULL)
		abort();
	buf_release(&o);
	report_release(&r);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	labels((const char *)data, size);
	findings((const char *)data, size);
	return 0;
}
