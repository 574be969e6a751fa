/*
 * The whole guard: the one gate every proposed ban goes through, from
 * the built-in analyst or from a model.
 *
 * A proposer is not believed.  The value is parsed strictly; it must not
 * be ours, special, trusted or allowlisted; a search engine's crawler
 * that proves who it is (reverse DNS in the engine's domain, resolving
 * forward to the same address) is spared; and then the guard asks the
 * logs itself: an address the logs never mention is never banned, and
 * one they mention must show abuse in its own requests, or belong to a
 * cohort the built-in analyst found in the same window.  A model that
 * names an ordinary visitor (or an address it read in a log line's
 * text) gets a refusal with the reason, never a ban.
 *
 * Cheap checks go first, the ones that query the logs or DNS last; the
 * already-banned skip comes before the queries, so a botnet banned last
 * cycle costs nothing when it is proposed again.  Caps count only what
 * is accepted, so they are judged at the very end.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

#define HOUR_NS (3600 * INT64_C(1000000000))
#define VALUE_MAX 64          /* an address or CIDR as text, at most */
#define ALLOW_LINE_MAX 1024   /* one allowlist line */
#define CRAWLER_ROWS 20       /* user agents read for the crawler claim */
#define FORWARD_MAX 32        /* addresses read from a forward lookup */
/* Crawler checks remembered: a crawler crawls all day, and two DNS
 * lookups per judgement each cycle would be slow and a gift to whoever
 * answers the PTR queries.  A failure is kept for less time: it may be
 * DNS being down. */
#define SEC INT64_C(1000000000)
#define DNS_CACHE_MAX 1024
#define DNS_TTL_VERIFIED (3600 * SEC)
#define DNS_TTL_FAILED (600 * SEC)
#define HOST_MAX 256          /* a DNS name */
#define RANGE_SCAN_ROWS 4096  /* addresses read to judge a range */

static const char *const code_names[] = {
	[GUARD_OK] = "ok",
	[GUARD_PARSE] = "bad-address",
	[GUARD_TOO_WIDE] = "range-too-wide",
	[GUARD_SPECIAL] = "special-address",
	[GUARD_TRUSTED] = "trusted-proxy",
	[GUARD_ALLOWLIST] = "allowlisted",
	[GUARD_OWN] = "own-address",
	[GUARD_CRAWLER] = "verified-crawler",
	[GUARD_NO_EVIDENCE] = "no-evidence",
	[GUARD_CAP_CYCLE] = "cap-per-cycle",
	[GUARD_CAP_HOUR] = "cap-per-hour",
	[GUARD_DUPLICATE] = "already-banned",
};

const char *
guard_code_name(enum guard_code c)
{
	if ((size_t)c >= ARRAY_LEN(code_names) || code_names[c] == NULL)
		return "unknown";
	return code_names[c];
}

/* ---- the system resolver */

static int
sys_reverse(void *ctx, const struct ipaddr *a, char *host, size_t hostlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	memset(&ss, 0, sizeof(ss));
	if (a->family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a->b, 4);
		sl = sizeof(*s4);
	} else if (a->family == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a->b, 16);
		sl = sizeof(*s6);
	} else
		return -1;
	if (hostlen > (size_t)INT32_MAX)
		hostlen = INT32_MAX;
	if (getnameinfo((struct sockaddr *)&ss, sl, host, (socklen_t)hostlen,
	    NULL, 0, NI_NAMEREQD) != 0)
		return -1;
	return 0;
}

static int
sys_forward(void *ctx, const char *host, struct ipaddr *out, size_t max,
    size_t *n)
{
	struct addrinfo hints, *res = NULL, *ai;

	*n = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL && *n < max; ai = ai->ai_next) {
		struct ipaddr a;
		memset(&a, 0, sizeof(a));
		if (ai->ai_family == AF_INET) {
			a.family = 4;
			memcpy(a.b, &((struct sockaddr_in *)(void *)
			    ai->ai_addr)->sin_addr, 4);
		} else if (ai->ai_family == AF_INET6) {
			a.family = 6;
			memcpy(a.b, &((struct sockaddr_in6 *)(void *)
			    ai->ai_addr)->sin6_addr, 16);
		} else
			continue;
		out[(*n)++] = a;
	}
	freeaddrinfo(res);
	return 0;
}

void
resolver_system(struct resolver *r)
{
	r->reverse = sys_reverse;
	r->forward = sys_forward;
	r->ctx = NULL;
}

/* ---- configuration */

void
guard_config_init(struct guard_config *c)
{
	memset(c, 0, sizeof(*c));
	guard_policy_init(&c->policy);
	cidrset_init(&c->allow);
	/* A 200-address botnet goes in one cycle; a runaway proposer that
	 * names thousands does not. */
	c->max_per_cycle = 1000;
	c->max_per_hour = 5000;
	c->verify_crawlers = 1;
	c->check_own_addresses = 1;
	c->analyst = NULL;
}

void
guard_config_release(struct guard_config *c)
{
	cidrset_release(&c->allow);
}

/* One allowlist line into s: 0 for a line, 1 at the end; *toolong and
 * *nul say what was wrong with it (the rest of a long line is read and
 * dropped). */
static int
read_line(FILE *f, char *line, size_t cap, struct span *s, int *toolong,
    int *nul)
{
	size_t n = 0;
	int ch, any = 0;

	*toolong = *nul = 0;
	while ((ch = getc(f)) != EOF) {
		any = 1;
		if (ch == '\n')
			break;
		if (ch == '\0')
			*nul = 1;
		if (n < cap)
			line[n++] = (char)ch;
		else
			*toolong = 1;
	}
	/* A file written on Windows. */
	if (n > 0 && line[n - 1] == '\r' && !*toolong)
		n--;
	s->p = line;
	s->n = n;
	return any ? 0 : 1;
}

int
guard_allowlist_file(struct guard_config *c, const char *path,
    struct buf *errs)
{
	FILE *f;
	char line[ALLOW_LINE_MAX];
	uint64_t lineno = 0;
	int rc = 0, toolong, nul;
	struct span s;

	if ((f = fopen(path, "r")) == NULL) {
		buf_addf(errs, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while (read_line(f, line, sizeof(line), &s, &toolong, &nul) == 0) {
		const char *hash;
		struct cidr cd;
		char e[160];

		lineno++;
		if (toolong || nul) {
			buf_addf(errs, "%s:%llu: %s\n", path,
			    (unsigned long long)lineno, toolong ? "line longer "
			    "than 1024 bytes" : "NUL byte in the line");
			rc = -1;
			continue;
		}
		if ((hash = memchr(s.p, '#', s.n)) != NULL)
			s.n = (size_t)(hash - s.p);
		s = span_trim(s);
		if (s.n == 0)
			continue;
		if (cidr_parse(s, &cd, e, sizeof(e)) != 0) {
			buf_addf(errs, "%s:%llu: %s\n", path,
			    (unsigned long long)lineno, e);
			rc = -1;
			continue;
		}
		cidrset_add(&c->allow, &cd);
	}
	if (ferror(f)) {
		buf_addf(errs, "%s: %s\n", path, strerror(errno));
		rc = -1;
	}
	fclose(f);
	return rc;
}

/* ---- the guard */

static void
own_addresses(struct cidrset *own)
{
	struct ifaddrs *ifa = NULL, *i;

	if (getifaddrs(&ifa) != 0) {
		log_warn("getifaddrs");
		return;
	}
	for (i = ifa; i != NULL; i = i->ifa_next) {
		struct cidr c;
		if (i->ifa_addr == NULL)
			continue;
		memset(&c, 0, sizeof(c));
		if (i->ifa_addr->sa_family == AF_INET) {
			c.addr.family = 4;
			memcpy(c.addr.b, &((struct sockaddr_in *)(void *)
			    i->ifa_addr)->sin_addr, 4);
			c.prefix = 32;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			c.addr.family = 6;
			memcpy(c.addr.b, &((struct sockaddr_in6 *)(void *)
			    i->ifa_addr)->sin6_addr, 16);
			c.prefix = 128;
		} else
			continue;
		cidrset_add(own, &c);
	}
	freeifaddrs(ifa);
}

void
guard_init(struct guard *g, const struct guard_config *cfg,
    const struct cidrset *trusted, struct state *state)
{
	memset(g, 0, sizeof(*g));
	g->cfg = cfg;
	g->trusted = trusted;
	g->state = state;
	cidrset_init(&g->own);
	resolver_system(&g->res);
	if (cfg->check_own_addresses)
		own_addresses(&g->own);
}

void
guard_release(struct guard *g)
{
	cidrset_release(&g->own);
	free(g->hour);
	g->hour = NULL;
	g->nhour = g->caphour = 0;
	free(g->cycle);
	g->cycle = NULL;
	g->ncycle = g->capcycle = 0;
	free(g->dns);
	g->dns = NULL;
	g->ndns = 0;
}

void
guard_cycle_begin(struct guard *g)
{
	g->cycle_bans = 0;
	g->ncycle = 0;
}

/* Accepted earlier in this cycle: the same value or a range holding it.
 * Two proposers (the model, then the built-in analyst after a budget
 * stop) may name the same client; in apply mode the state file would
 * catch the second, in dry-run only this does. */
static int
cycle_has(const struct guard *g, const struct cidr *c)
{
	for (size_t i = 0; i < g->ncycle; i++)
		if (g->cycle[i].prefix <= c->prefix &&
		    cidr_contains(&g->cycle[i], &c->addr))
			return 1;
	return 0;
}

/* ---- judging */

static enum guard_code
verdict(struct guard_verdict *v, enum guard_code c, const char *fmt, ...)
    AD_PRINTF(3, 4);

static enum guard_code
verdict(struct guard_verdict *v, enum guard_code c, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	if (c != GUARD_OK)
		buf_addf(&b, "%s: ", guard_code_name(c));
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	/* Cut to fit, never inside a UTF-8 sequence. */
	if (b.len >= sizeof(v->reason)) {
		size_t n = sizeof(v->reason) - 1;
		while (n > 0 && ((unsigned char)b.p[n] & 0xc0) == 0x80)
			n--;
		b.len = n;
		b.p[n] = '\0';
	}
	memcpy(v->reason, b.p, b.len + 1);
	buf_release(&b);
	v->code = c;
	return c;
}

/* Only address and CIDR characters: no ports, brackets, zones, spaces,
 * control bytes.  cidr_parse would forgive surrounding spaces; a
 * proposer that sends them sent something else than an address. */
static int
plain_value(const char *s, size_t n)
{
	if (n == 0 || n > VALUE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
		    (ch >= 'A' && ch <= 'F') || ch == '.' || ch == ':' ||
		    ch == '/'))
			return 0;
	}
	return 1;
}

/* Text of a value for a message: cut and escaped. */
static void
shown_value(const char *s, char *out, size_t outlen)
{
	struct buf b = BUF_INIT;
	size_t n = strnlen(s, 80);

	buf_add_escaped(&b, s, n);
	if (s[n] != '\0')
		buf_addstr(&b, "...");
	snprintf(out, outlen, "%s", b.p);
	buf_release(&b);
}

static int
set_overlaps(const struct cidrset *s, const struct cidr *c)
{
	if (s == NULL)
		return 0;
	for (size_t i = 0; i < s->n; i++)
		if (cidr_overlaps(&s->v[i], c))
			return 1;
	return 0;
}

/* The server's name of a canonical field (VictoriaLogs field map:
 * "canonical=theirs"), usable bare in LogsQL or quoted. */
static void
src_field(const struct source *src, const char *canonical, struct buf *out)
{
	const char *name = canonical;
	size_t cl = strlen(canonical);
	int plain = 1;

	if (src->store == NULL && src->vlogs != NULL)
		for (size_t k = 0; k < src->vlogs->nfield_map; k++) {
			const char *m = src->vlogs->field_map[k];
			if (strncmp(m, canonical, cl) == 0 && m[cl] == '=' &&
			    m[cl + 1] != '\0')
				name = m + cl + 1;
		}
	for (const char *p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'))
			plain = 0;
	if (plain) {
		buf_addstr(out, name);
		return;
	}
	buf_addch(out, '"');
	for (const char *p = name; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_addch(out, '\\');
		buf_addch(out, *p);
	}
	buf_addch(out, '"');
}

/* ---- verified crawlers */

static const struct {
	const char *token;      /* in the user agent, any case */
	const char *domains[3]; /* the reverse name ends in one */
} crawlers[] = {
	{ "googlebot", { "googlebot.com", "google.com", NULL } },
	{ "bingbot", { "search.msn.com", NULL, NULL } },
	{ "applebot", { "applebot.apple.com", NULL, NULL } },
	{ "duckduckbot", { "duckduckgo.com", NULL, NULL } },
	{ "yandexbot", { "yandex.ru", "yandex.net", "yandex.com" } },
};

static int
contains_nocase(struct span hay, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0 || hay.n < n)
		return 0;
	for (size_t i = 0; i + n <= hay.n; i++)
		if (span_eq_nocase_str((struct span){ hay.p + i, n }, needle))
			return 1;
	return 0;
}

/* host (a trailing dot allowed) is domain or ends in ".domain". */
static int
in_domain(const char *host, const char *domain)
{
	size_t h = strlen(host), d = strlen(domain);

	if (h > 0 && host[h - 1] == '.')
		h--;
	if (h < d || !span_eq_nocase_str((struct span){ host + h - d, d },
	    domain))
		return 0;
	return h == d || host[h - d - 1] == '.';
}

#define RX_CRAWLER "(?i)(googlebot|bingbot|applebot|duckduckbot|yandexbot)"

/* What one small query tells about an address in the window. */
struct presence {
	uint64_t requests;     /* 0: never seen */
	uint64_t claims;       /* of them with a crawler's agent */
	int64_t first, last;
};

static uint64_t
get_u64(const struct qresult *r, const char *name)
{
	struct span s = qresult_get(r, 0, name);
	uint64_t n;

	return s.p != NULL && parse_u64(s, &n) == 0 ? n : 0;
}

static int64_t
get_time(const struct qresult *r, const char *name)
{
	struct span s = qresult_get(r, 0, name);
	int64_t t;

	return s.p != NULL && s.n > 0 && time_parse_any(s, &t) == 0 ? t :
	    TIME_NONE;
}

static int
presence(struct source *src, const struct ipaddr *a, int64_t start_ns,
    int64_t end_ns, struct presence *p, char *err, size_t errlen)
{
	struct buf q = BUF_INIT;
	struct qresult r;
	char t[IPADDR_STRLEN];
	int rc = -1;

	memset(p, 0, sizeof(*p));
	p->first = p->last = TIME_NONE;
	qresult_init(&r);
	ipaddr_format(a, t, sizeof(t));
	src_field(src, "client_ip", &q);
	buf_addf(&q, ":=\"%s\" | stats count() n, count() if (", t);
	src_field(src, "http_user_agent", &q);
	buf_addstr(&q, ":~\"" RX_CRAWLER "\") claims, min(_time) first, "
	    "max(_time) last");
	if (source_query(src, q.p, start_ns, end_ns, 10, &r, err, errlen) < 0)
		goto out;
	if (r.nrows > 0) {
		p->requests = get_u64(&r, "n");
		p->claims = get_u64(&r, "claims");
		p->first = get_time(&r, "first");
		p->last = get_time(&r, "last");
	}
	rc = 0;
out:
	qresult_release(&r);
	buf_release(&q);
	return rc;
}

/*
 * Which crawler the address's requests claim to be (an index into
 * crawlers[]), -1 for none, -2 when the query failed.
 */
static int
claimed_crawler(struct source *src, const struct ipaddr *a,
    int64_t start_ns, int64_t end_ns, char *err, size_t errlen)
{
	struct buf q = BUF_INIT;
	struct qresult r;
	char t[IPADDR_STRLEN];
	int which = -1;

	qresult_init(&r);
	ipaddr_format(a, t, sizeof(t));
	src_field(src, "client_ip", &q);
	buf_addf(&q, ":=\"%s\" ", t);
	src_field(src, "http_user_agent", &q);
	buf_addstr(&q, ":~\"" RX_CRAWLER "\" | stats by (");
	src_field(src, "http_user_agent", &q);
	buf_addf(&q, ") count() n | limit %d", CRAWLER_ROWS);
	if (source_query(src, q.p, start_ns, end_ns, CRAWLER_ROWS, &r, err,
	    errlen) < 0) {
		which = -2;
		goto out;
	}
	for (size_t row = 0; row < r.nrows && which < 0; row++) {
		struct span ua = qresult_get(&r, row, "http_user_agent");
		for (size_t k = 0; k < ARRAY_LEN(crawlers); k++)
			if (ua.p != NULL && contains_nocase(ua,
			    crawlers[k].token)) {
				which = (int)k;
				break;
			}
	}
out:
	qresult_release(&r);
	buf_release(&q);
	return which;
}

/* Forward-confirmed reverse DNS: the PTR is in the engine's domain and
 * resolves back to the same address.  1 verified; 0 not, why says. */
static int
crawler_verified(const struct resolver *res, int k, const struct ipaddr *a,
    char *host, size_t hostlen, char *why, size_t whylen)
{
	struct ipaddr fw[FORWARD_MAX];
	size_t n = 0, d;
	char shown[HOST_MAX + 16];

	host[0] = '\0';
	if (res->reverse == NULL || res->reverse(res->ctx, a, host,
	    hostlen) != 0 || host[0] == '\0') {
		snprintf(why, whylen, "no reverse DNS name");
		return 0;
	}
	host[hostlen - 1] = '\0';
	shown_value(host, shown, sizeof(shown));
	for (d = 0; d < ARRAY_LEN(crawlers[k].domains); d++)
		if (crawlers[k].domains[d] != NULL &&
		    in_domain(host, crawlers[k].domains[d]))
			break;
	if (d == ARRAY_LEN(crawlers[k].domains)) {
		snprintf(why, whylen, "reverse name %s is not %s's", shown,
		    crawlers[k].token);
		return 0;
	}
	if (res->forward == NULL || res->forward(res->ctx, host, fw,
	    FORWARD_MAX, &n) != 0)
		n = 0;
	for (size_t i = 0; i < n && i < FORWARD_MAX; i++)
		if (ipaddr_cmp(&fw[i], a) == 0)
			return 1;
	snprintf(why, whylen, "%s does not resolve back to the address",
	    shown);
	return 0;
}

struct crawler_dns {
	struct ipaddr addr;
	int crawler;              /* index into crawlers[] */
	int verified;
	int64_t expires_ns;       /* monotonic */
	char host[HOST_MAX];
	char why[HOST_MAX + 64];
};

/* crawler_verified through the guard's cache. */
static int
crawler_verified_cached(struct guard *g, int k, const struct ipaddr *a,
    char *host, size_t hostlen, char *why, size_t whylen)
{
	int64_t now = clock_mono_ns();
	struct crawler_dns *e = NULL;
	size_t i;

	for (i = 0; i < g->ndns; i++) {
		e = &g->dns[i];
		if (e->crawler == k && ipaddr_cmp(&e->addr, a) == 0)
			break;
	}
	if (i < g->ndns && e->expires_ns > now) {
		snprintf(host, hostlen, "%s", e->host);
		snprintf(why, whylen, "%s", e->why);
		return e->verified;
	}
	if (i == g->ndns) {
		if (g->dns == NULL)
			g->dns = xcalloc(DNS_CACHE_MAX, sizeof(*g->dns));
		if (g->ndns < DNS_CACHE_MAX)
			i = g->ndns++;
		else /* full: the entry that expires first goes */
			for (size_t j = i = 0; j < g->ndns; j++)
				if (g->dns[j].expires_ns < g->dns[i].expires_ns)
					i = j;
	}
	e = &g->dns[i];
	memset(e, 0, sizeof(*e));
	e->addr = *a;
	e->crawler = k;
	why[0] = '\0';
	e->verified = crawler_verified(&g->res, k, a, host, hostlen, why,
	    whylen);
	e->expires_ns = now + (e->verified ? DNS_TTL_VERIFIED :
	    DNS_TTL_FAILED);
	snprintf(e->host, sizeof(e->host), "%s", host);
	snprintf(e->why, sizeof(e->why), "%s", why);
	return e->verified;
}

/* ---- evidence */

/* The cohort finding of the built-in analyst that names a or whose
 * range holds it, or NULL. */
static const struct finding *
cohort_of(const struct report *cohorts, const struct ipaddr *a)
{
	char t[IPADDR_STRLEN];

	if (cohorts == NULL)
		return NULL;
	ipaddr_format(a, t, sizeof(t));
	for (size_t i = 0; i < cohorts->nf; i++) {
		const struct finding *f = &cohorts->f[i];
		if (!f->cohort)
			continue;
		if (f->range.addr.family != 0 && cidr_contains(&f->range, a))
			return f;
		for (size_t m = 0; m < f->nmembers; m++) {
			struct ipaddr ma;
			if (strcmp(f->members[m], t) == 0 ||
			    (ipaddr_parse(span_str(f->members[m]), &ma) == 0 &&
			    ipaddr_cmp(&ma, a) == 0))
				return f;
		}
	}
	return NULL;
}

/* The cohort finding whose range holds all of c, or NULL. */
static const struct finding *
cohort_range(const struct report *cohorts, const struct cidr *c)
{
	if (cohorts == NULL)
		return NULL;
	for (size_t i = 0; i < cohorts->nf; i++) {
		const struct finding *f = &cohorts->f[i];
		if (f->cohort && f->range.addr.family == c->addr.family &&
		    f->range.prefix <= c->prefix &&
		    cidr_contains(&f->range, &c->addr))
			return f;
	}
	return NULL;
}

static const struct analyst_config *
analyst_cfg(const struct guard *g, struct analyst_config *tmp)
{
	if (g->cfg->analyst != NULL)
		return g->cfg->analyst;
	analyst_config_init(tmp);
	return tmp;
}

static void
fill_time(struct guard_verdict *v, int64_t first, int64_t last)
{
	if (first != TIME_NONE && (v->first_ns == TIME_NONE ||
	    first < v->first_ns))
		v->first_ns = first;
	if (last != TIME_NONE && (v->last_ns == TIME_NONE ||
	    last > v->last_ns))
		v->last_ns = last;
}

static enum guard_code
evidence_address(struct guard *g, struct source *src, int64_t start_ns,
    int64_t end_ns, const struct report *cohorts, const struct ipaddr *a,
    const struct presence *p, struct guard_verdict *v)
{
	struct analyst_config tmp;
	struct analyst_judgement j;
	const struct finding *f;
	char err[512];

	if (p->requests == 0)
		return verdict(v, GUARD_NO_EVIDENCE, "never seen in the logs");
	if ((f = cohort_of(cohorts, a)) != NULL) {
		/* Its few requests are the cohort's behaviour; no need to
		 * judge it alone (a botnet of hundreds stays cheap). */
		v->events = p->requests;
		fill_time(v, p->first, p->last);
		/* Not the subject: it may quote an attacker's user agent,
		 * and this reason may be shown to a model. */
		if (f->nmembers == 0) {
			char t[IPADDR_STRLEN + 8];
			cidr_format(&f->range, t, sizeof(t));
			return verdict(v, GUARD_OK, "inside %s, the range of a "
			    "cohort the analyst found (%s); %llu %s of its own",
			    t, f->scenario, (unsigned long long)p->requests,
			    p->requests == 1 ? "request" : "requests");
		}
		return verdict(v, GUARD_OK, "member of a cohort of %zu "
		    "addresses the analyst found (%s); %llu %s of its own",
		    f->nmembers, f->scenario, (unsigned long long)p->requests,
		    p->requests == 1 ? "request" : "requests");
	}
	if (analyst_judge_addresses(src, analyst_cfg(g, &tmp), a, 1, start_ns,
	    end_ns, &j, err, sizeof(err)) != 0)
		return verdict(v, GUARD_NO_EVIDENCE, "the logs could not be "
		    "asked: %s", err);
	if (j.abusive) {
		v->events = j.events;
		fill_time(v, j.first_ns, j.last_ns);
		return verdict(v, GUARD_OK, "%s", j.why);
	}
	return verdict(v, GUARD_NO_EVIDENCE, "its %llu %s ordinary (%s)",
	    (unsigned long long)p->requests, p->requests == 1 ?
	    "request looks" : "requests look", j.why);
}

/* The range filter: ipv4_range for IPv4; for IPv6 a text prefix that
 * every member's canonical text starts with (the groups before the first
 * zero one: RFC 5952 may fold a zero group into "::"), the exact
 * membership then checked here. */
static void
range_filter(struct source *src, const struct cidr *c, struct buf *q)
{
	char t[IPADDR_STRLEN + 8];

	src_field(src, "client_ip", q);
	if (c->addr.family == 4) {
		cidr_format(c, t, sizeof(t));
		buf_addf(q, ":ipv4_range(\"%s\")", t);
		return;
	}
	if (c->prefix < 16 || (c->addr.b[0] == 0 && c->addr.b[1] == 0)) {
		/* No group to start with: every IPv6 address. */
		buf_addstr(q, ":~\":\"");
		return;
	}
	buf_addch(q, ':');
	buf_addch(q, '"');
	for (unsigned grp = 0; grp < 8 && (grp + 1) * 16 <= c->prefix; grp++) {
		unsigned v = (unsigned)c->addr.b[2 * grp] << 8 |
		    c->addr.b[2 * grp + 1];
		if (v == 0)
			break;
		buf_addf(q, "%x:", v);
	}
	buf_addstr(q, "\"*");
}

/* Members of the range whose agent claims a crawler, checked through
 * DNS (a few: a range of crawlers is still a range of crawlers):
 * GUARD_CRAWLER when one proves it, else GUARD_OK. */
static enum guard_code
range_crawler(struct guard *g, struct source *src, int64_t start_ns,
    int64_t end_ns, const struct cidr *c, struct guard_verdict *v)
{
	struct buf q = BUF_INIT;
	struct qresult r;
	char err[512], host[HOST_MAX], why[HOST_MAX + 64];
	enum guard_code rc = GUARD_OK;

	qresult_init(&r);
	range_filter(src, c, &q);
	buf_addch(&q, ' ');
	src_field(src, "http_user_agent", &q);
	buf_addstr(&q, ":~\"" RX_CRAWLER "\" | stats by (");
	src_field(src, "client_ip", &q);
	buf_addstr(&q, ", ");
	src_field(src, "http_user_agent", &q);
	buf_addf(&q, ") count() n | limit %d", CRAWLER_ROWS);
	if (source_query(src, q.p, start_ns, end_ns, CRAWLER_ROWS, &r, err,
	    sizeof(err)) < 0) {
		rc = verdict(v, GUARD_NO_EVIDENCE, "the logs could not be "
		    "asked: %s", err);
		goto out;
	}
	for (size_t row = 0; row < r.nrows; row++) {
		struct span s = qresult_get(&r, row, "client_ip");
		struct span ua = qresult_get(&r, row, "http_user_agent");
		struct ipaddr a;
		size_t k;

		if (s.p == NULL || ua.p == NULL ||
		    ipaddr_parse_loose(s, &a) != 0 || !cidr_contains(c, &a))
			continue;
		for (k = 0; k < ARRAY_LEN(crawlers); k++)
			if (contains_nocase(ua, crawlers[k].token))
				break;
		if (k == ARRAY_LEN(crawlers) || !crawler_verified_cached(g,
		    (int)k, &a, host, sizeof(host), why, sizeof(why)))
			continue;
		{
			char t[IPADDR_STRLEN], hs[HOST_MAX + 16];
			ipaddr_format(&a, t, sizeof(t));
			shown_value(host, hs, sizeof(hs));
			rc = verdict(v, GUARD_CRAWLER, "%s holds %s, %s (%s, "
			    "confirmed forward)", v->value, t,
			    crawlers[k].token, hs);
		}
		break;
	}
out:
	qresult_release(&r);
	buf_release(&q);
	return rc;
}

static enum guard_code
evidence_range(struct guard *g, struct source *src, int64_t start_ns,
    int64_t end_ns, const struct report *cohorts, const struct cidr *c,
    struct guard_verdict *v)
{
	struct analyst_config tmp;
	struct analyst_judgement *j = NULL;
	struct ipaddr *seen = NULL;
	struct buf q = BUF_INIT;
	struct qresult r;
	const struct finding *f;
	char err[512];
	size_t nseen = 0, over = 0, ordinary = SIZE_MAX;
	int cut;
	uint64_t hits = 0;
	int64_t first = TIME_NONE, last = TIME_NONE;
	enum guard_code rc;

	qresult_init(&r);
	range_filter(src, c, &q);
	buf_addstr(&q, " | stats by (");
	src_field(src, "client_ip", &q);
	buf_addstr(&q, ") count() n, min(_time) first, max(_time) last");
	if ((cut = source_query(src, q.p, start_ns, end_ns, RANGE_SCAN_ROWS,
	    &r, err, sizeof(err))) < 0) {
		rc = verdict(v, GUARD_NO_EVIDENCE, "the logs could not be "
		    "asked: %s", err);
		goto out;
	}
	/* Cut at the row cap: some addresses of the range were not read,
	 * so only a cohort's verdict on the whole range can stand. */
	if (cut > 0)
		over++;
	seen = xcalloc(ANALYST_JUDGE_MAX, sizeof(*seen));
	for (size_t row = 0; row < r.nrows; row++) {
		struct span s = qresult_get(&r, row, "client_ip");
		struct span ns = qresult_get(&r, row, "n");
		struct ipaddr a;
		uint64_t n;
		int64_t t;

		if (s.p == NULL || ipaddr_parse_loose(s, &a) != 0 ||
		    !cidr_contains(c, &a))
			continue;
		if (ns.p != NULL && parse_u64(ns, &n) == 0)
			hits += n;
		s = qresult_get(&r, row, "first");
		if (s.p != NULL && time_parse_any(s, &t) == 0 &&
		    (first == TIME_NONE || t < first))
			first = t;
		s = qresult_get(&r, row, "last");
		if (s.p != NULL && time_parse_any(s, &t) == 0 &&
		    (last == TIME_NONE || t > last))
			last = t;
		if (nseen < ANALYST_JUDGE_MAX)
			seen[nseen++] = a;
		else
			over++;
	}
	if (nseen == 0) {
		rc = verdict(v, GUARD_NO_EVIDENCE, "no address of the range "
		    "was seen in the logs");
		goto out;
	}
	/* A range holding a verified crawler is no botnet to ban whole,
	 * whatever its other addresses did. */
	if (g->cfg->verify_crawlers &&
	    (rc = range_crawler(g, src, start_ns, end_ns, c, v)) !=
	    GUARD_OK)
		goto out;
	if ((f = cohort_range(cohorts, c)) != NULL) {
		int64_t off = finding_get(f, "offending");
		v->events = off > 0 ? (uint64_t)off : hits;
		fill_time(v, f->first_ns != TIME_NONE ? f->first_ns : first,
		    f->last_ns != TIME_NONE ? f->last_ns : last);
		rc = verdict(v, GUARD_OK, "the range of a cohort the analyst "
		    "found (%s); %zu%s addresses of it seen", f->scenario,
		    nseen, over > 0 ? " or more" : "");
		goto out;
	}
	if (over > 0) {
		rc = verdict(v, GUARD_NO_EVIDENCE, "more than %d addresses of "
		    "the range were seen and it is no cohort's: too many to "
		    "judge one by one", nseen < ANALYST_JUDGE_MAX ?
		    RANGE_SCAN_ROWS : ANALYST_JUDGE_MAX);
		goto out;
	}
	j = xcalloc(nseen, sizeof(*j));
	if (analyst_judge_addresses(src, analyst_cfg(g, &tmp), seen, nseen,
	    start_ns, end_ns, j, err, sizeof(err)) != 0) {
		rc = verdict(v, GUARD_NO_EVIDENCE, "the logs could not be "
		    "asked: %s", err);
		goto out;
	}
	for (size_t i = 0; i < nseen; i++) {
		if (j[i].abusive || cohort_of(cohorts, &seen[i]) != NULL)
			continue;
		ordinary = i;
		break;
	}
	if (ordinary != SIZE_MAX) {
		char t[IPADDR_STRLEN];
		ipaddr_format(&seen[ordinary], t, sizeof(t));
		rc = verdict(v, GUARD_NO_EVIDENCE, "%s in the range looks "
		    "ordinary: %llu %s (%s)", t,
		    (unsigned long long)j[ordinary].requests,
		    j[ordinary].requests == 1 ? "request" : "requests",
		    j[ordinary].why);
		goto out;
	}
	for (size_t i = 0; i < nseen; i++) {
		v->events += j[i].abusive ? j[i].events : j[i].requests;
		fill_time(v, j[i].first_ns, j[i].last_ns);
	}
	rc = verdict(v, GUARD_OK, "all %zu addresses seen in the range show "
	    "abuse", nseen);
out:
	free(j);
	free(seen);
	qresult_release(&r);
	buf_release(&q);
	return rc;
}

/* ---- caps */

static void
hour_prune(struct guard *g, int64_t now_ns)
{
	size_t k = 0;

	for (size_t i = 0; i < g->nhour; i++)
		if (g->hour[i] > now_ns - HOUR_NS)
			g->hour[k++] = g->hour[i];
	g->nhour = k;
}

static void
hour_add(struct guard *g, int64_t now_ns)
{
	if (g->nhour == g->caphour) {
		g->caphour = g->caphour ? g->caphour * 2 : 64;
		g->hour = xreallocarray(g->hour, g->caphour, sizeof(*g->hour));
	}
	g->hour[g->nhour++] = now_ns;
}

/* ---- the gate */

enum guard_code
guard_judge(struct guard *g, struct source *src, int64_t start_ns,
    int64_t end_ns, const struct report *cohorts, const char *value,
    int64_t now_ns, struct guard_verdict *v)
{
	const struct guard_config *cfg = g->cfg;
	const struct state_entry *se = NULL;
	struct cidr c;
	char e[160], shown[128];
	const char *why;
	int range;
	enum guard_code rc;

	memset(v, 0, sizeof(*v));
	v->first_ns = v->last_ns = TIME_NONE;
	v->scope = BAN_IP;

	/* Parsing: an address or a CIDR, nothing around it. */
	if (value == NULL)
		return verdict(v, GUARD_PARSE, "no value");
	shown_value(value, shown, sizeof(shown));
	if (!plain_value(value, strnlen(value, VALUE_MAX + 1)))
		return verdict(v, GUARD_PARSE, "\"%s\" is not an IP address "
		    "or CIDR range", shown);
	/* Only address characters from here on: safe to show as it is. */
	snprintf(v->value, sizeof(v->value), "%s", value);
	if (cidr_parse(span_str(value), &c, e, sizeof(e)) != 0)
		return verdict(v, GUARD_PARSE, "%s", e);
	range = c.prefix < (c.addr.family == 4 ? 32u : 128u);
	if (range) {
		cidr_format(&c, v->value, sizeof(v->value));
		v->scope = BAN_RANGE;
	} else
		ipaddr_format(&c.addr, v->value, sizeof(v->value));

	/* Width, then what must never be banned. */
	if (range) {
		unsigned widest = c.addr.family == 4 ? cfg->policy.range_v4 :
		    cfg->policy.range_v6;
		if (widest == 0)
			return verdict(v, GUARD_TOO_WIDE, "%s: IPv%d ranges are "
			    "not banned whole (guard_range_ipv%d = 0)",
			    v->value, c.addr.family, c.addr.family);
		if (c.prefix < widest)
			return verdict(v, GUARD_TOO_WIDE, "%s is wider than "
			    "guard_range_ipv%d allows (/%u)", v->value,
			    c.addr.family, widest);
		if ((why = guard_range_refusal(&c, &cfg->policy, NULL)) !=
		    NULL)
			return verdict(v, GUARD_SPECIAL, "%s overlaps %s",
			    v->value, why);
		if (set_overlaps(g->trusted, &c))
			return verdict(v, GUARD_TRUSTED, "%s contains a "
			    "trusted proxy", v->value);
		if (set_overlaps(&cfg->allow, &c))
			return verdict(v, GUARD_ALLOWLIST, "%s overlaps the "
			    "allowlist", v->value);
		if (set_overlaps(&g->own, &c))
			return verdict(v, GUARD_OWN, "%s contains an address "
			    "of this host", v->value);
	} else {
		if ((why = guard_static_refusal(&c.addr, NULL)) != NULL)
			return verdict(v, GUARD_SPECIAL, "%s is %s", v->value,
			    why);
		if (g->trusted != NULL && cidrset_contains(g->trusted,
		    &c.addr))
			return verdict(v, GUARD_TRUSTED, "%s is a trusted proxy",
			    v->value);
		if (cidrset_contains(&cfg->allow, &c.addr))
			return verdict(v, GUARD_ALLOWLIST, "%s is allowlisted",
			    v->value);
		if (cidrset_contains(&g->own, &c.addr))
			return verdict(v, GUARD_OWN, "%s is an address of this "
			    "host", v->value);
	}

	/* Already banned: a skip, before any query is spent on it. */
	if (cycle_has(g, &c)) {
		v->code = GUARD_DUPLICATE;
		snprintf(v->reason, sizeof(v->reason), "%s in this cycle",
		    guard_code_name(GUARD_DUPLICATE));
		return GUARD_DUPLICATE;
	}
	if (g->state != NULL) {
		se = state_find(g->state, v->value, now_ns);
		if (se == NULL)
			se = state_find_covering(g->state, &c.addr, now_ns);
		if (se != NULL && range && strcmp(se->value, v->value) != 0) {
			/* A covering range must hold all of this one. */
			struct cidr sc;
			if (cidr_parse(span_str(se->value), &sc, NULL, 0) != 0 ||
			    sc.prefix > c.prefix)
				se = NULL;
		}
	}
	if (se != NULL) {
		char until[TIME_STRLEN];
		time_format_rfc3339(se->until_ns, until, sizeof(until));
		v->code = GUARD_DUPLICATE;
		if (strcmp(se->value, v->value) == 0)
			snprintf(v->reason, sizeof(v->reason), "%s until %s",
			    guard_code_name(GUARD_DUPLICATE), until);
		else
			snprintf(v->reason, sizeof(v->reason), "%s until %s "
			    "(inside %s)", guard_code_name(GUARD_DUPLICATE),
			    until, se->value);
		return GUARD_DUPLICATE;
	}

	/* Evidence, from the logs, whatever the proposer said; a search
	 * engine's crawler that proves who it is is spared first. */
	if (range)
		rc = evidence_range(g, src, start_ns, end_ns, cohorts, &c, v);
	else {
		struct presence p;
		if (presence(src, &c.addr, start_ns, end_ns, &p, e,
		    sizeof(e)) != 0)
			return verdict(v, GUARD_NO_EVIDENCE, "the logs could "
			    "not be asked: %s", e);
		if (p.claims > 0 && cfg->verify_crawlers) {
			char host[HOST_MAX], why2[HOST_MAX + 64];
			int k = claimed_crawler(src, &c.addr, start_ns, end_ns,
			    e, sizeof(e));
			if (k == -2)
				return verdict(v, GUARD_NO_EVIDENCE, "the logs "
				    "could not be asked: %s", e);
			if (k >= 0 && crawler_verified_cached(g, k, &c.addr,
			    host, sizeof(host), why2, sizeof(why2))) {
				char hs[HOST_MAX + 16];
				shown_value(host, hs, sizeof(hs));
				return verdict(v, GUARD_CRAWLER, "%s is %s "
				    "(%s, confirmed forward)", v->value,
				    crawlers[k].token, hs);
			}
			if (k >= 0)
				log_info("guard: %s claims to be %s but is "
				    "not: %s", v->value, crawlers[k].token,
				    why2);
		}
		rc = evidence_address(g, src, start_ns, end_ns, cohorts,
		    &c.addr, &p, v);
	}
	if (rc != GUARD_OK)
		return rc;

	/* Caps, on what would be accepted. */
	if (cfg->max_per_cycle != 0 && g->cycle_bans >= cfg->max_per_cycle)
		return verdict(v, GUARD_CAP_CYCLE, "%u bans this cycle "
		    "already (max_per_cycle)", g->cycle_bans);
	hour_prune(g, now_ns);
	if (cfg->max_per_hour != 0 && g->nhour >= cfg->max_per_hour)
		return verdict(v, GUARD_CAP_HOUR, "%zu bans in the last hour "
		    "already (max_per_hour)", g->nhour);
	g->cycle_bans++;
	hour_add(g, now_ns);
	if (g->ncycle == g->capcycle) {
		g->capcycle = g->capcycle ? g->capcycle * 2 : 64;
		g->cycle = xreallocarray(g->cycle, g->capcycle,
		    sizeof(*g->cycle));
	}
	g->cycle[g->ncycle++] = c;
	return GUARD_OK;
}
