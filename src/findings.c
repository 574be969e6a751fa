/*
 * Findings and bans: what an analyst found, the bans that follow from it
 * through the static guard, and how both are shown (a terminal report,
 * or JSON for scripts).
 *
 * Everything here is data from the logs or derived from it: sample rows,
 * user agents and URIs are attacker-written text, so they are escaped on
 * the way out, in both forms, and never interpreted.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

#define TEXT_MEMBERS_MAX 12   /* members listed in the text report */
#define TEXT_FIELD_MAX 120    /* sample fields cut there in text */
#define TEXT_SENTENCE_MAX 400 /* sentences, notes and reasons */

const char *
ban_scope_name(enum ban_scope s)
{
	return s == BAN_RANGE ? "Range" : "Ip";
}

void
report_init(struct report *r)
{
	memset(r, 0, sizeof(*r));
}

static void
finding_release(struct finding *f)
{
	free(f->signals);
	for (size_t i = 0; i < f->nmembers; i++)
		free(f->members[i]);
	free(f->members);
	for (size_t i = 0; i < f->nsamples; i++) {
		struct fsample *s = &f->samples[i];
		free(s->time);
		free(s->client);
		free(s->method);
		free(s->uri);
		free(s->status);
		free(s->ua);
	}
	free(f->sentence);
	free(f->note);
}

void
report_release(struct report *r)
{
	for (size_t i = 0; i < r->nf; i++)
		finding_release(&r->f[i]);
	free(r->f);
	for (size_t i = 0; i < r->nb; i++)
		free(r->b[i].reason);
	free(r->b);
	for (size_t i = 0; i < r->nwarnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	memset(r, 0, sizeof(*r));
}

struct finding *
report_add_finding(struct report *r, const char *scenario, int severity,
    const char *subject)
{
	struct finding *f;

	if (r->nf == r->capf) {
		r->capf = r->capf ? r->capf * 2 : 16;
		r->f = xreallocarray(r->f, r->capf, sizeof(*r->f));
	}
	f = &r->f[r->nf++];
	memset(f, 0, sizeof(*f));
	f->scenario = scenario;
	f->severity = severity < 1 ? 1 : severity > 100 ? 100 : severity;
	snprintf(f->subject, sizeof(f->subject), "%s", subject);
	f->first_ns = f->last_ns = TIME_NONE;
	finding_signal(f, scenario);
	return f;
}

void
report_warn(struct report *r, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	r->warnings = xreallocarray(r->warnings, r->nwarnings + 1,
	    sizeof(*r->warnings));
	r->warnings[r->nwarnings++] = buf_take(&b);
}

void
finding_signal(struct finding *f, const char *scenario)
{
	for (size_t i = 0; i < f->nsignals; i++)
		if (strcmp(f->signals[i], scenario) == 0)
			return;
	f->signals = xreallocarray(f->signals, f->nsignals + 1,
	    sizeof(*f->signals));
	f->signals[f->nsignals++] = scenario;
}

void
finding_count(struct finding *f, const char *name, int64_t v)
{
	for (size_t i = 0; i < f->ncounts; i++)
		if (strcmp(f->counts[i].name, name) == 0) {
			f->counts[i].v = v;
			return;
		}
	if (f->ncounts < FINDING_MAX_COUNTS) {
		f->counts[f->ncounts].name = name;
		f->counts[f->ncounts].v = v;
		f->ncounts++;
	}
}

int64_t
finding_get(const struct finding *f, const char *name)
{
	for (size_t i = 0; i < f->ncounts; i++)
		if (strcmp(f->counts[i].name, name) == 0)
			return f->counts[i].v;
	return -1;
}

/* Callers add each member once: a cohort may have thousands, and a
 * search here would make that quadratic. */
void
finding_member(struct finding *f, const char *addr)
{
	if ((f->nmembers & (f->nmembers - 1)) == 0)
		f->members = xreallocarray(f->members,
		    f->nmembers ? f->nmembers * 2 : 1, sizeof(*f->members));
	f->members[f->nmembers++] = xstrdup(addr);
}

static char *
dup_or_empty(const char *s)
{
	return xstrdup(s != NULL ? s : "");
}

void
finding_sample(struct finding *f, const char *time, const char *client,
    const char *method, const char *uri, const char *status, const char *ua,
    uint64_t n)
{
	struct fsample *s;

	if (f->nsamples >= FINDING_MAX_SAMPLES)
		return;
	s = &f->samples[f->nsamples++];
	s->time = dup_or_empty(time);
	s->client = dup_or_empty(client);
	s->method = dup_or_empty(method);
	s->uri = dup_or_empty(uri);
	s->status = dup_or_empty(status);
	s->ua = dup_or_empty(ua);
	s->n = n;
}

void
finding_sentence(struct finding *f, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	free(f->sentence);
	f->sentence = buf_take(&b);
}

/* Notes accumulate: "a; b". */
void
finding_note(struct finding *f, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	if (f->note != NULL) {
		buf_addstr(&b, f->note);
		buf_addstr(&b, "; ");
		free(f->note);
	}
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	f->note = buf_take(&b);
}

/* ---- deciding the bans */

static int64_t
offending(const struct finding *f)
{
	int64_t v = finding_get(f, "offending");

	return v >= 0 ? v : finding_get(f, "requests");
}

static int
finding_cmp(const void *a, const void *b)
{
	const struct finding *x = a, *y = b;
	int64_t ox, oy;

	if (x->severity != y->severity)
		return x->severity > y->severity ? -1 : 1;
	ox = offending(x);
	oy = offending(y);
	if (ox != oy)
		return ox > oy ? -1 : 1;
	return strcmp(x->subject, y->subject);
}

/* Addresses already banned one by one: open addressing on the 17 bytes
 * of family and address. */
struct addrset {
	struct ipaddr *v;
	size_t cap, n;
};

static size_t
addr_hash(const struct ipaddr *a)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ a->family;

	for (int i = 0; i < 16; i++)
		h = (h ^ a->b[i]) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 31));
}

static int
addrset_add(struct addrset *s, const struct ipaddr *a)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		struct addrset ns = { NULL, s->cap ? s->cap * 2 : 64, 0 };
		ns.v = xcalloc(ns.cap, sizeof(*ns.v));
		for (size_t k = 0; k < s->cap; k++)
			if (s->v[k].family != 0)
				(void)addrset_add(&ns, &s->v[k]);
		free(s->v);
		*s = ns;
	}
	for (i = addr_hash(a) & (s->cap - 1); s->v[i].family != 0;
	    i = (i + 1) & (s->cap - 1))
		if (ipaddr_cmp(&s->v[i], a) == 0)
			return 0;
	s->v[i] = *a;
	s->n++;
	return 1;
}

static struct ban *
add_ban(struct report *r, const char *value, enum ban_scope scope,
    const struct finding *f, const char *verdict)
{
	struct ban *b;

	if (r->nb == r->capb) {
		r->capb = r->capb ? r->capb * 2 : 16;
		r->b = xreallocarray(r->b, r->capb, sizeof(*r->b));
	}
	b = &r->b[r->nb++];
	memset(b, 0, sizeof(*b));
	snprintf(b->value, sizeof(b->value), "%s", value);
	b->scope = scope;
	b->scenario = f->scenario;
	b->verdict = verdict;
	b->severity = f->severity;
	b->reason = xstrdup(f->sentence != NULL ? f->sentence : f->scenario);
	return b;
}

size_t
report_absorb(struct report *r, size_t cohort)
{
	struct finding *c = &r->f[cohort];
	size_t keep = 0, n = 0, newc = cohort;
	int sev = c->severity;

	if (c->range.addr.family == 0)
		return 0;
	for (size_t i = 0; i < r->nf; i++) {
		struct finding *f = &r->f[i];
		struct ipaddr a;

		if (i != cohort && !f->cohort && f->nmembers == 1 &&
		    ipaddr_parse(span_str(f->members[0]), &a) == 0 &&
		    cidr_contains(&c->range, &a)) {
			for (size_t k = 0; k < f->nsignals; k++)
				finding_signal(c, f->signals[k]);
			if (f->severity > sev)
				sev = f->severity;
			finding_release(f);
			n++;
			continue;
		}
		if (i == cohort)
			newc = keep;
		if (keep != i)
			r->f[keep] = r->f[i];
		keep++;
	}
	r->nf = keep;
	r->f[newc].severity = sev;
	if (n > 0)
		finding_count(&r->f[newc], "absorbed_findings", (int64_t)n);
	return n;
}

void
report_keep(struct report *r, size_t max)
{
	if (r->nf > 1)
		qsort(r->f, r->nf, sizeof(*r->f), finding_cmp);
	while (r->nf > max)
		finding_release(&r->f[--r->nf]);
}

void
report_decide(struct report *r, const struct guard_policy *p,
    const struct cidrset *trusted, const char *verdict)
{
	struct cidr *ranges = NULL;
	size_t nranges = 0;
	unsigned char *whole;
	struct addrset done = { NULL, 0, 0 };

	for (size_t i = 0; i < r->nb; i++)
		free(r->b[i].reason);
	r->nb = 0;
	if (r->nf > 1)
		qsort(r->f, r->nf, sizeof(*r->f), finding_cmp);
	whole = xcalloc(r->nf ? r->nf : 1, 1);

	/* Which ranges go whole, first: an address inside one is not
	 * banned again on its own, whichever finding is more severe. */
	for (size_t i = 0; i < r->nf; i++) {
		struct finding *f = &r->f[i];
		char txt[IPADDR_STRLEN + 8];
		const char *why;
		int dup = 0;

		if (f->range.addr.family == 0)
			continue;
		why = guard_range_refusal(&f->range, p, trusted);
		if (why != NULL) {
			cidr_format(&f->range, txt, sizeof(txt));
			finding_note(f, "%s not banned whole: %s; its members "
			    "are banned one by one", txt, why);
			continue;
		}
		for (size_t k = 0; k < nranges; k++)
			if (cidr_overlaps(&ranges[k], &f->range) &&
			    ranges[k].prefix <= f->range.prefix)
				dup = 1;
		if (dup)
			continue;
		whole[i] = 1;
		ranges = xreallocarray(ranges, nranges + 1, sizeof(*ranges));
		ranges[nranges++] = f->range;
	}

	/* Then the bans, in the order of their findings. */
	for (size_t i = 0; i < r->nf; i++) {
		struct finding *f = &r->f[i];
		struct buf refused = BUF_INIT;
		size_t nrefused = 0;

		if (whole[i]) {
			char txt[IPADDR_STRLEN + 8];
			cidr_format(&f->range, txt, sizeof(txt));
			add_ban(r, txt, BAN_RANGE, f, verdict);
		}
		for (size_t m = 0; m < f->nmembers; m++) {
			struct ipaddr a;
			const char *why;
			int covered = 0;

			if (ipaddr_parse(span_str(f->members[m]), &a) != 0) {
				finding_note(f, "not an address: %s",
				    f->members[m]);
				continue;
			}
			if ((why = guard_static_refusal(&a, trusted)) != NULL) {
				if (nrefused < 8)
					buf_addf(&refused, "%s%s (%s)",
					    nrefused ? ", " : "", f->members[m],
					    why);
				nrefused++;
				continue;
			}
			for (size_t k = 0; k < nranges && !covered; k++)
				covered = cidr_contains(&ranges[k], &a);
			if (covered || !addrset_add(&done, &a))
				continue;
			add_ban(r, f->members[m], BAN_IP, f, verdict);
		}
		if (nrefused > 0) {
			if (nrefused > 8)
				buf_addf(&refused, " and %zu more", nrefused - 8);
			finding_note(f, "never banned: %s", refused.p);
		}
		buf_release(&refused);
	}
	free(whole);
	free(ranges);
	free(done.v);
}

/* ---- output */

static void
json_str(struct buf *o, const char *s)
{
	if (s == NULL)
		buf_addstr(o, "null");
	else
		buf_add_json_str(o, s, strlen(s));
}

static void
finding_json(const struct finding *f, struct buf *o)
{
	buf_addstr(o, "{\"scenario\":");
	json_str(o, f->scenario);
	buf_addf(o, ",\"severity\":%d,\"subject\":", f->severity);
	json_str(o, f->subject);
	buf_addf(o, ",\"cohort\":%s,\"signals\":[", f->cohort ? "true" :
	    "false");
	for (size_t i = 0; i < f->nsignals; i++) {
		if (i)
			buf_addch(o, ',');
		json_str(o, f->signals[i]);
	}
	buf_addstr(o, "],\"members\":[");
	for (size_t i = 0; i < f->nmembers; i++) {
		if (i)
			buf_addch(o, ',');
		json_str(o, f->members[i]);
	}
	buf_addstr(o, "],\"range\":");
	if (f->range.addr.family != 0) {
		char txt[IPADDR_STRLEN + 8];
		cidr_format(&f->range, txt, sizeof(txt));
		json_str(o, txt);
	} else
		buf_addstr(o, "null");
	buf_addstr(o, ",\"counts\":{");
	for (size_t i = 0; i < f->ncounts; i++) {
		if (i)
			buf_addch(o, ',');
		json_str(o, f->counts[i].name);
		buf_addf(o, ":%lld", (long long)f->counts[i].v);
	}
	buf_addstr(o, "},\"first\":");
	buf_add_json_time(o, f->first_ns);
	buf_addstr(o, ",\"last\":");
	buf_add_json_time(o, f->last_ns);
	buf_addstr(o, ",\"samples\":[");
	for (size_t i = 0; i < f->nsamples; i++) {
		const struct fsample *s = &f->samples[i];
		if (i)
			buf_addch(o, ',');
		buf_addstr(o, "{\"time\":");
		json_str(o, s->time);
		buf_addstr(o, ",\"client_ip\":");
		json_str(o, s->client);
		buf_addstr(o, ",\"method\":");
		json_str(o, s->method);
		buf_addstr(o, ",\"uri\":");
		json_str(o, s->uri);
		buf_addstr(o, ",\"status\":");
		json_str(o, s->status);
		buf_addstr(o, ",\"user_agent\":");
		json_str(o, s->ua);
		buf_addf(o, ",\"count\":%llu}", (unsigned long long)s->n);
	}
	buf_addstr(o, "],\"sentence\":");
	json_str(o, f->sentence);
	buf_addstr(o, ",\"note\":");
	json_str(o, f->note);
	buf_addch(o, '}');
}

void
report_json_findings(const struct report *r, struct buf *o)
{
	buf_addstr(o, "\"findings\":[");
	for (size_t i = 0; i < r->nf; i++) {
		if (i)
			buf_addch(o, ',');
		finding_json(&r->f[i], o);
	}
	buf_addch(o, ']');
}

void
report_json_arrays(const struct report *r, struct buf *o)
{
	report_json_findings(r, o);
	buf_addstr(o, ",\"bans\":[");
	for (size_t i = 0; i < r->nb; i++) {
		const struct ban *b = &r->b[i];
		if (i)
			buf_addch(o, ',');
		buf_addstr(o, "{\"value\":");
		json_str(o, b->value);
		buf_addf(o, ",\"scope\":\"%s\",\"scenario\":",
		    ban_scope_name(b->scope));
		json_str(o, b->scenario);
		buf_addstr(o, ",\"verdict\":");
		json_str(o, b->verdict);
		buf_addstr(o, ",\"reason\":");
		json_str(o, b->reason);
		buf_addch(o, '}');
	}
	buf_addstr(o, "]");
}

/* Attacker-written text for a terminal: escaped, and cut at max. */
static void
text_cut(struct buf *o, const char *s, size_t max)
{
	size_t n = strlen(s);

	buf_add_escaped(o, s, n < max ? n : max);
	if (n > max)
		buf_addstr(o, "...");
}

static void
text_field(struct buf *o, const char *s)
{
	text_cut(o, s, TEXT_FIELD_MAX);
}

static void
finding_text(const struct finding *f, struct buf *o)
{
	char a[TIME_STRLEN], b[TIME_STRLEN];

	buf_addf(o, "  [%3d] %s  ", f->severity, f->scenario);
	text_field(o, f->subject);
	buf_addch(o, '\n');
	if (f->sentence != NULL) {
		buf_addstr(o, "        ");
		text_cut(o, f->sentence, TEXT_SENTENCE_MAX);
		buf_addch(o, '\n');
	}
	if (f->first_ns != TIME_NONE) {
		time_format_rfc3339(f->first_ns, a, sizeof(a));
		time_format_rfc3339(f->last_ns, b, sizeof(b));
		buf_addf(o, "        first %s, last %s\n", a, b);
	}
	if (f->ncounts > 0) {
		buf_addstr(o, "        counts:");
		for (size_t i = 0; i < f->ncounts; i++)
			buf_addf(o, "%s %s %lld", i ? "," : "",
			    f->counts[i].name, (long long)f->counts[i].v);
		buf_addch(o, '\n');
	}
	if (f->cohort && f->nmembers > 0) {
		size_t show = f->nmembers < TEXT_MEMBERS_MAX ? f->nmembers :
		    TEXT_MEMBERS_MAX;
		buf_addf(o, "        members (%zu):", f->nmembers);
		for (size_t i = 0; i < show; i++) {
			buf_addch(o, ' ');
			text_field(o, f->members[i]);
		}
		if (show < f->nmembers)
			buf_addf(o, " and %zu more", f->nmembers - show);
		buf_addch(o, '\n');
	}
	for (size_t i = 0; i < f->nsamples; i++) {
		const struct fsample *s = &f->samples[i];
		buf_addstr(o, "        e.g. ");
		text_field(o, s->time);
		buf_addch(o, ' ');
		text_field(o, s->client);
		buf_addch(o, ' ');
		text_field(o, s->method);
		buf_addch(o, ' ');
		text_field(o, s->uri);
		buf_addch(o, ' ');
		text_field(o, s->status);
		buf_addstr(o, " \"");
		text_field(o, s->ua);
		buf_addf(o, "\" x%llu\n", (unsigned long long)s->n);
	}
	if (f->nsignals > 1) {
		buf_addstr(o, "        also:");
		for (size_t i = 1; i < f->nsignals; i++)
			buf_addf(o, "%s %s", i > 1 ? "," : "", f->signals[i]);
		buf_addch(o, '\n');
	}
	if (f->note != NULL) {
		buf_addstr(o, "        note: ");
		text_cut(o, f->note, TEXT_SENTENCE_MAX);
		buf_addch(o, '\n');
	}
}

void
report_text_findings_only(const struct report *r, struct buf *o)
{
	if (r->nf == 0)
		buf_addstr(o, "\nfindings  none\n");
	else {
		buf_addf(o, "\nfindings  %zu, most severe first\n", r->nf);
		for (size_t i = 0; i < r->nf; i++)
			finding_text(&r->f[i], o);
	}
	for (size_t i = 0; i < r->nwarnings; i++) {
		buf_addstr(o, "warning   ");
		text_field(o, r->warnings[i]);
		buf_addch(o, '\n');
	}
}

void
report_text_findings(const struct report *r, struct buf *o)
{
	report_text_findings_only(r, o);
	if (r->nb == 0) {
		buf_addstr(o, "\nbans      none (dry-run)\n");
		return;
	}
	buf_addf(o, "\nbans      %zu (%s: nothing is banned)\n", r->nb,
	    r->b[0].verdict);
	for (size_t i = 0; i < r->nb; i++) {
		const struct ban *b = &r->b[i];
		buf_addf(o, "  %-5s  %-39s  %s\n", ban_scope_name(b->scope),
		    b->value, b->scenario);
	}
}

void
report_add_verdicts(struct report *r, const struct ban_results *br)
{
	for (size_t i = 0; i < br->n; i++) {
		const struct ban_result *b = &br->v[i];
		struct ban *nb;
		int dup = 0;

		if (strcmp(b->verdict, "dry-run") != 0)
			continue;
		for (size_t k = 0; k < r->nb && !dup; k++)
			dup = strcmp(r->b[k].value, b->value) == 0;
		if (dup)
			continue;
		if (r->nb == r->capb) {
			r->capb = r->capb ? r->capb * 2 : 16;
			r->b = xreallocarray(r->b, r->capb, sizeof(*r->b));
		}
		nb = &r->b[r->nb++];
		memset(nb, 0, sizeof(*nb));
		snprintf(nb->value, sizeof(nb->value), "%s", b->value);
		nb->scope = b->scope;
		nb->scenario = b->scenario;
		nb->verdict = "dry-run";
		nb->reason = xstrdup(b->reason);
		nb->severity = 50;
	}
}
