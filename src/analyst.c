/*
 * The built-in analyst: finds abusive clients without an LLM.
 *
 * It asks the logs questions in LogsQL through source_query(), all of
 * them aggregations ("stats by (client_ip) count() ..., count() if (...)
 * ..."), so that on VictoriaLogs the server does the counting and only a
 * row per suspect crosses the network; the few sample rows a finding
 * shows come from grouped queries or a small "| limit".  The questions
 * are the same whatever the store: only LogsQL that VictoriaLogs
 * documents is used, and field names go through the VictoriaLogs field
 * map when there is one.
 *
 * Verdicts are made here, in C, from the aggregates.  The rules, and why
 * they are what they are:
 *
 *  - Volume alone is never enough.  The healthy heavy clients of a site
 *    (a partner's API integration at 200 requests a minute, an office NAT
 *    with hundreds of people behind it, crawlers, uptime monitors) send
 *    more than most attackers.  What they do not do is ask for files
 *    that do not exist, carry payloads, fail logins over and over, or
 *    hammer one URL while the server struggles.
 *  - Sensitive paths: secrets (.env, .git/, keys, web shells) count
 *    whatever the answer (a .env answered 200 is worse, not better);
 *    admin panels, framework endpoints, dumps and backups count only
 *    when they do not exist here (404), since a site may well have an
 *    /admin/ of its own; images and scripts never count, their 404s are
 *    the site's broken links that every visitor meets.  Two distinct
 *    ones make a finding: nobody browsing a site asks for /.env and
 *    /.git/config.
 *  - Probing: many distinct URLs (not images or scripts) answered
 *    400/403/404 that are nearly all the address asked for; crawlers
 *    and browsers meet a 404 now and then, and a crawler re-checking
 *    dead links still finds most of the site alive.
 *  - Injection: two distinct URLs carrying SQL, XSS, traversal, template
 *    or JNDI payloads.
 *  - Scanner user agents (sqlmap, nikto, nuclei, zgrab, masscan...),
 *    matched without regard to case.  Generic clients (curl,
 *    python-requests, Go-http-client) are not scanners: monitors and
 *    partners use them.
 *  - Credential brute force: many failed login POSTs (401/403/429) that
 *    are most of the address's login POSTs.  A NAT of real users fails a
 *    quarter of its logins at worst (typos, then success).
 *  - Floods: a peak rate in one-minute buckets (not the window total: a
 *    four-minute flood vanishes in an hour's average), and unhealthy
 *    traffic with it: the server answering 5xx/429/499 (499: the client
 *    gave up waiting) and one URL hammered without the assets a browser
 *    loads.  One sign far above what healthy heavy clients send, both
 *    from a request a second up.
 *  - Cohorts, which per-address limits miss: many addresses sharing a
 *    user agent that claims a person's browser (or under which the
 *    server struggles) but never loads an asset nor sends a referer, all
 *    asking one endpoint with a fresh query string each time (cache
 *    busting); addresses that only POST to a login endpoint and always
 *    fail, while most of that endpoint's logins fail; /24 subnets and
 *    IPv6 /64s whose addresses together probe, inject, fail logins or
 *    flood.  A cohort finding names its member addresses (real ones,
 *    from the logs) or, for a /64 where the guard allows it and nobody
 *    else was seen in it, the prefix.
 *
 * Every threshold is a setting (see params[] below).
 */
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

/* ---- what the patterns look for */

/* Files nobody browsing a site asks for, whatever the answer (a .env
 * answered 200 is worse, not better). */
#define RX_SECRET "(?i)(/\\.(env|git|svn|hg|bzr|aws|ssh|kube|docker|npmrc|" \
	"htpasswd|htaccess|ds_store|vscode|idea)([/._~?-]|$)|wp-config|" \
	"id_(rsa|dsa|ecdsa|ed25519)|eval-stdin|" \
	"/(wso|c99|r57|alfa|b374k|webshell|backdoor)\\.php|sftp-config)"

/* Panels, framework endpoints, backups and dumps: a site may have some
 * of these, so they count only when they do not exist here (404, or
 * 400/405/410; a 401 or 403 says the thing exists and is guarded, as an
 * admin area is from its own admins), and never for images or scripts,
 * whose 404s are the site's own broken links that every visitor meets. */
#define RX_PROBE "(?i)(/wp-(login|admin|content|includes|json)|" \
	"/xmlrpc\\.php|/(phpmyadmin|pma|myadmin|adminer)|/administrator|" \
	"/admin(/|\\.php|$)|/console|/manager/html|/jenkins|/actuator|" \
	"/solr/|/v2/_catalog|/api/v1/pods|/cgi-bin/|/hnap1|/boaform|" \
	"/remote/login|/owa/|/debug/|/telescope|/_profiler|" \
	"/config\\.(php|json)|\\.(sql|bak|old|orig|swp|save|backup)(\\?|$)|" \
	"~(\\?|$)|/(backup|backups|dump|database|db|site|www|wwwroot|htdocs|" \
	"archive)\\.(zip|tar|tgz|gz|rar|7z|sql)|phpinfo|/info\\.php|" \
	"/test\\.php|/(shell|cmd|up)\\.php|docker-compose\\.ya?ml|" \
	"/config/database\\.yml|laravel\\.log|/web\\.config|" \
	"/appsettings\\.json|/server-status)"

/* Payloads in the path or the query, raw or percent-encoded. */
#define RX_INJECT "(?i)((%27|')(%20|\\+| )*(or|and|union)(%20|\\+| )|" \
	"union(%20|\\+| |/\\*.*\\*/)+(all(%20|\\+| )+)?select|" \
	"sleep(%20| )*\\(|waitfor(%20|\\+| )+delay|benchmark(%20| )*\\(|" \
	"drop(%20|\\+| )+table|(%20|\\+| )(and|or)(%20|\\+| )+[0-9]+=[0-9]|" \
	"(%3c|<)(script|svg|img|iframe|body)|on(load|error)=|javascript:|" \
	"\\.\\./|\\.\\.%2f|%2e%2e|/etc/(passwd|shadow|hosts)|" \
	"\\$\\{jndi:|%24%7bjndi|\\$\\{\\$\\{|php://|file://|expect://|" \
	"\\{\\{[^}]*\\}\\}|%7b%7b|/bin/(sh|bash))"

/* Tools that announce themselves. */
#define RX_SCANNER_UA "(?i)(sqlmap|nikto|nuclei|zgrab|masscan|nmap|zmap|" \
	"dirbuster|gobuster|feroxbuster|ffuf|fuzz faster u fool|wfuzz|" \
	"wpscan|acunetix|nessus|openvas|w3af|arachni|skipfish|netsparker|" \
	"havij|zmeu|jorgee|commix|\\$\\{jndi|%24%7bjndi|\\(\\) *\\{)"

#define RX_LOGIN "(?i)(login|logon|signin|sign-in|sign_in|session|/auth|" \
	"/token|xmlrpc\\.php|password)"

#define RX_ASSET "(?i)\\.(js|css|png|jpe?g|gif|svg|webp|avif|ico|woff2?|" \
	"ttf|map)(\\?|$)"

/* Answers that mean "there is nothing for you here". */
#define ST_NOTFOUND "status:in(400,403,404,405)"
#define ST_ADMIN4XX "status:in(400,401,403,404,405)"
#define ST_LOGINFAIL "status:in(401,403,429)"
/* The server in distress, or the client giving up on it. */
#define ST_DISTRESS "(status:>=500 or status:in(429,499))"

#define IN_CHUNK 1000        /* values in one in(...) list */
#define UA_CANDIDATES_MAX 8  /* user agents examined as cohorts */
#define LOGIN_ENDPOINTS_MAX 4
#define SUBNETS_MAX 64       /* /24s examined per query */
#define V6NETS_MAX 16        /* /64s examined */
#define ENDPOINT_SAMPLE 200  /* URIs read to find a cohort's endpoint */

/* Severities: how bad each behaviour is, for ordering. */
enum {
	SEV_INJECT = 90,
	SEV_SECRET = 85,
	SEV_SENSITIVE = 80,
	SEV_BRUTE = 80,
	SEV_V6 = 80,
	SEV_FLOOD = 75,
	SEV_SCANNER_UA = 70,
	SEV_COHORT = 70,
	SEV_SUBNET = 70,
	SEV_PROBE = 65,
};

static const char SC_INJECT[] = "anomaly-detect/http-injection";
static const char SC_SENSITIVE[] = "anomaly-detect/http-sensitive-files";
static const char SC_PROBE[] = "anomaly-detect/http-probing";
static const char SC_SCANNER_UA[] = "anomaly-detect/http-scanner-user-agent";
static const char SC_BRUTE[] = "anomaly-detect/http-bruteforce";
static const char SC_FLOOD[] = "anomaly-detect/http-flood";
static const char SC_BOTNET[] = "anomaly-detect/botnet-cache-busting";
static const char SC_DIST_BRUTE[] = "anomaly-detect/distributed-bruteforce";
static const char SC_SUBNET[] = "anomaly-detect/subnet-abuse";
static const char SC_V6[] = "anomaly-detect/ipv6-rotation";

/* ---- settings */

enum ptype { PT_U64, PT_RATIO, PT_V4PREFIX, PT_V6PREFIX };

static const struct {
	struct analyst_param p;
	enum ptype type;
	size_t off;
} params[] = {
	{ { "analyst_flood_per_minute", "analyst-flood-per-minute",
	    "requests in one minute from one address (or /24, /64), far "
	    "above healthy heavy clients, that make a flood with one "
	    "unhealthy sign (300)" },
	    PT_U64, offsetof(struct analyst_config, flood_per_minute) },
	{ { "analyst_flood_min_per_minute", "analyst-flood-min-per-minute",
	    "the lower rate that makes a flood when both unhealthy signs "
	    "are there: one URI hammered without assets, and the server "
	    "in distress (60: a request a second, sustained)" },
	    PT_U64, offsetof(struct analyst_config, flood_min_per_minute) },
	{ { "analyst_flood_error_ratio", "analyst-flood-error-ratio",
	    "share of 5xx, 429 and 499 answers "
	    "that is unhealthy (0.1)" },
	    PT_RATIO, offsetof(struct analyst_config, flood_error_ratio) },
	{ { "analyst_flood_hammer_ratio", "analyst-flood-hammer-ratio",
	    "share of one URI in a flood that "
	    "is hammering it (0.8)" },
	    PT_RATIO, offsetof(struct analyst_config, flood_hammer_ratio) },
	{ { "analyst_probe_min_paths", "analyst-probe-min-paths",
	    "distinct URIs answered 400/403/404 "
	    "that make probing (10)" },
	    PT_U64, offsetof(struct analyst_config, probe_min_paths) },
	{ { "analyst_probe_ratio", "analyst-probe-ratio",
	    "... and their share of the requests "
	    "(0.8; a crawler re-checking dead links stays below)" },
	    PT_RATIO, offsetof(struct analyst_config, probe_ratio) },
	{ { "analyst_sensitive_min", "analyst-sensitive-min",
	    "distinct sensitive paths (secrets, "
	    "dumps, shells; panels answered 4xx) (2)" },
	    PT_U64, offsetof(struct analyst_config, sensitive_min) },
	{ { "analyst_injection_min", "analyst-injection-min",
	    "distinct URIs carrying an injection "
	    "payload (2)" },
	    PT_U64, offsetof(struct analyst_config, injection_min) },
	{ { "analyst_scanner_ua_min", "analyst-scanner-ua-min",
	    "requests with a vulnerability "
	    "scanner's user agent (1)" },
	    PT_U64, offsetof(struct analyst_config, scanner_ua_min) },
	{ { "analyst_login_fail_min", "analyst-login-fail-min",
	    "failed login POSTs (401/403/429) "
	    "(10)" },
	    PT_U64, offsetof(struct analyst_config, login_fail_min) },
	{ { "analyst_login_fail_ratio", "analyst-login-fail-ratio",
	    "... as a share of the login POSTs "
	    "(0.8)" },
	    PT_RATIO, offsetof(struct analyst_config, login_fail_ratio) },
	{ { "analyst_cohort_min_members", "analyst-cohort-min-members",
	    "addresses acting as one before "
	    "they are a cohort (8)" },
	    PT_U64, offsetof(struct analyst_config, cohort_min_members) },
	{ { "analyst_cohort_share", "analyst-cohort-share",
	    "share of a member's requests that are "
	    "the cohort's behaviour (0.8)" },
	    PT_RATIO, offsetof(struct analyst_config, cohort_share) },
	{ { "analyst_login_cohort_share", "analyst-login-cohort-share",
	    "share of a login endpoint's POSTs "
	    "sent by failing-only addresses (0.25)" },
	    PT_RATIO, offsetof(struct analyst_config, login_cohort_share) },
	{ { "analyst_subnet_min_members", "analyst-subnet-min-members",
	    "addresses of one /24 or /64 "
	    "acting together (3)" },
	    PT_U64, offsetof(struct analyst_config, subnet_min_members) },
	{ { "analyst_max_findings", "analyst-max-findings",
	    "findings kept, most severe first "
	    "(1000)" },
	    PT_U64, offsetof(struct analyst_config, max_findings) },
	{ { "analyst_max_rows", "analyst-max-rows",
	    "rows any one query may return (100000)" },
	    PT_U64, offsetof(struct analyst_config, max_rows) },
	{ { "analyst_samples", "analyst-samples",
	    "sample rows per finding (3, at most 5)" },
	    PT_U64, offsetof(struct analyst_config, samples) },
	{ { "guard_range_ipv4", "guard-range-ipv4",
	    "widest IPv4 range banned whole, as a prefix "
	    "length (0: none, members one by one)" },
	    PT_V4PREFIX, offsetof(struct analyst_config, guard.range_v4) },
	{ { "guard_range_ipv6", "guard-range-ipv6",
	    "widest IPv6 range banned whole (64)" },
	    PT_V6PREFIX, offsetof(struct analyst_config, guard.range_v6) },
};

const struct analyst_param *
analyst_params(size_t *n)
{
	static struct analyst_param out[ARRAY_LEN(params)];

	for (size_t i = 0; i < ARRAY_LEN(params); i++)
		out[i] = params[i].p;
	*n = ARRAY_LEN(params);
	return out;
}

void
analyst_usage(FILE *f)
{
	for (size_t i = 0; i < ARRAY_LEN(params); i++)
		fprintf(f, "  --%s N\n      %s\n", params[i].p.option,
		    params[i].p.help);
}

struct option *
analyst_longopts(const struct option *base, int val)
{
	struct option *o;
	size_t n = 0, k;

	while (base[n].name != NULL)
		n++;
	o = xcalloc(n + ARRAY_LEN(params) + 1, sizeof(*o));
	memcpy(o, base, n * sizeof(*o));
	for (k = 0; k < ARRAY_LEN(params); k++) {
		o[n + k].name = params[k].p.option;
		o[n + k].has_arg = required_argument;
		o[n + k].flag = NULL;
		o[n + k].val = val;
	}
	return o; /* the last entry is zeroed */
}

void
analyst_config_init(struct analyst_config *c)
{
	memset(c, 0, sizeof(*c));
	c->flood_per_minute = 300;
	c->flood_min_per_minute = 60;
	c->flood_error_ratio = 0.1;
	c->flood_hammer_ratio = 0.8;
	c->probe_min_paths = 10;
	c->probe_ratio = 0.8;
	c->sensitive_min = 2;
	c->injection_min = 2;
	c->scanner_ua_min = 1;
	c->login_fail_min = 10;
	c->login_fail_ratio = 0.8;
	c->cohort_min_members = 8;
	c->cohort_share = 0.8;
	c->login_cohort_share = 0.25;
	c->subnet_min_members = 3;
	c->max_findings = 1000;
	c->max_rows = 100000;
	c->samples = 3;
	guard_policy_init(&c->guard);
}

int
analyst_config_set(struct analyst_config *c, const char *name,
    const char *value, char *err, size_t errlen)
{
	struct span v = span_trim(span_str(value));

	for (size_t i = 0; i < ARRAY_LEN(params); i++) {
		char *field = (char *)c + params[i].off;
		uint64_t n;
		int64_t scaled;

		if (strcmp(name, params[i].p.name) != 0)
			continue;
		switch (params[i].type) {
		case PT_U64:
			if (parse_u64(v, &n) != 0 || n > UINT32_MAX) {
				snprintf(err, errlen, "%s: \"%s\" is not a count",
				    name, value);
				return -1;
			}
			if (n == 0 && strcmp(name, "analyst_max_findings") != 0 &&
			    strstr(name, "_min") != NULL) {
				snprintf(err, errlen, "%s: must be at least 1",
				    name);
				return -1;
			}
			memcpy(field, &n, sizeof(n));
			return 0;
		case PT_RATIO: {
			double d;
			if (parse_decimal_scaled(v, 1000000, &scaled) != 0 ||
			    scaled > 1000000) {
				snprintf(err, errlen, "%s: \"%s\" is not a ratio "
				    "from 0 to 1", name, value);
				return -1;
			}
			d = (double)scaled / 1e6;
			memcpy(field, &d, sizeof(d));
			return 0;
		}
		case PT_V4PREFIX:
		case PT_V6PREFIX: {
			uint64_t max = params[i].type == PT_V4PREFIX ? 32 : 128;
			unsigned u;
			if (v.n > 0 && v.p[0] == '/') {
				v.p++;
				v.n--;
			}
			if (parse_u64(v, &n) != 0 || n > max) {
				snprintf(err, errlen, "%s: \"%s\" is not a prefix "
				    "length from 0 to %llu", name, value,
				    (unsigned long long)max);
				return -1;
			}
			u = (unsigned)n;
			memcpy(field, &u, sizeof(u));
			return 0;
		}
		}
	}
	return 1;
}

/* ---- asking */

enum { FN_CLIENT, FN_URI, FN_STATUS, FN_METHOD, FN_UA, FN_REFERER,
	FN__COUNT };
static const char *const canonical[FN__COUNT] = {
	"client_ip", "request_uri", "status", "request_method",
	"http_user_agent", "http_referer",
};

/* One address's aggregates, from several queries. */
struct client {
	char ip[IPADDR_STRLEN];
	struct ipaddr a;
	uint64_t hits, errs, distress, nf, nfp, paths, secret, admin, sens_n,
	    inject, inject_n, badua, lposts, lfails, assets, noref, peak, top;
	int64_t first, last;
	int kind;       /* primary detector, K_NONE: not flagged */
	unsigned kinds; /* every detector that matched, 1 << K_x */
	/* From the samples query of the primary kind. */
	uint64_t off_n;
	int64_t off_first, off_last;
	size_t finding;  /* index into the report, once made */
};

enum { K_NONE = -1, K_INJECT, K_SENSITIVE, K_BRUTE, K_FLOOD, K_SCANNER_UA,
	K_PROBE, K__COUNT };

static const struct {
	const char *scenario;
	int severity;
} kinfo[K__COUNT] = {
	[K_INJECT] = { SC_INJECT, SEV_INJECT },
	[K_SENSITIVE] = { SC_SENSITIVE, SEV_SENSITIVE },
	[K_BRUTE] = { SC_BRUTE, SEV_BRUTE },
	[K_FLOOD] = { SC_FLOOD, SEV_FLOOD },
	[K_SCANNER_UA] = { SC_SCANNER_UA, SEV_SCANNER_UA },
	[K_PROBE] = { SC_PROBE, SEV_PROBE },
};

/* Client lookup by address text: open addressing over indices. */
struct cmap {
	size_t *slot; /* index + 1; 0 = free */
	size_t cap;
};

struct ctx {
	struct source *src;
	const struct analyst_config *c;
	int64_t start, end;
	struct report *out;
	char *err;
	size_t errlen;
	struct qresult q;
	struct buf text;           /* the query being built */
	char fn[FN__COUNT][80];    /* field names as the source knows them */
	/* Filters, built once with those names. */
	char *f_secret, *f_admin4, *f_sens, *f_inject, *f_badua, *f_lpost,
	    *f_lfail, *f_nf, *f_distress, *f_asset;
	struct client *cl;
	size_t ncl, capcl;
	struct cmap map;
};

static uint64_t
str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

static struct client *
client_find(struct ctx *x, const char *ip)
{
	if (x->map.cap == 0)
		return NULL;
	for (size_t i = str_hash(ip) & (x->map.cap - 1); x->map.slot[i] != 0;
	    i = (i + 1) & (x->map.cap - 1))
		if (strcmp(x->cl[x->map.slot[i] - 1].ip, ip) == 0)
			return &x->cl[x->map.slot[i] - 1];
	return NULL;
}

static void
cmap_put(struct cmap *m, const struct client *cl, size_t idx)
{
	size_t i = str_hash(cl[idx].ip) & (m->cap - 1);

	while (m->slot[i] != 0)
		i = (i + 1) & (m->cap - 1);
	m->slot[i] = idx + 1;
}

/* The client for an address as a result gives it (canonicalised);
 * created when absent.  NULL for text that is not an address. */
static struct client *
client_get(struct ctx *x, struct span v)
{
	struct ipaddr a;
	char ip[IPADDR_STRLEN];
	struct client *c;

	if (v.p == NULL || ipaddr_parse_loose(v, &a) != 0)
		return NULL;
	ipaddr_format(&a, ip, sizeof(ip));
	if ((c = client_find(x, ip)) != NULL)
		return c;
	if (x->ncl == x->capcl) {
		x->capcl = x->capcl ? x->capcl * 2 : 64;
		x->cl = xreallocarray(x->cl, x->capcl, sizeof(*x->cl));
	}
	if ((x->ncl + 1) * 2 > x->map.cap) {
		free(x->map.slot);
		x->map.cap = x->map.cap ? x->map.cap * 2 : 128;
		while ((x->ncl + 1) * 2 > x->map.cap)
			x->map.cap *= 2;
		x->map.slot = xcalloc(x->map.cap, sizeof(*x->map.slot));
		for (size_t i = 0; i < x->ncl; i++)
			cmap_put(&x->map, x->cl, i);
	}
	c = &x->cl[x->ncl];
	memset(c, 0, sizeof(*c));
	memcpy(c->ip, ip, sizeof(ip));
	c->a = a;
	c->first = c->last = c->off_first = c->off_last = TIME_NONE;
	c->kind = K_NONE;
	c->finding = SIZE_MAX;
	cmap_put(&x->map, x->cl, x->ncl);
	return &x->cl[x->ncl++];
}

/* The client of an address as a result gives it; NULL when unknown. */
static struct client *
client_lookup(struct ctx *x, struct span v)
{
	struct ipaddr a;
	char ip[IPADDR_STRLEN];

	if (v.p == NULL || ipaddr_parse_loose(v, &a) != 0)
		return NULL;
	ipaddr_format(&a, ip, sizeof(ip));
	return client_find(x, ip);
}

/* A LogsQL quoted string: backslash and double quote escaped. */
static void
add_quoted(struct buf *b, const char *s, size_t n)
{
	buf_addch(b, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_addch(b, '\\');
		buf_addch(b, s[i]);
	}
	buf_addch(b, '"');
}

static void
add_quoted_str(struct buf *b, const char *s)
{
	add_quoted(b, s, strlen(s));
}

/* A field name usable bare in LogsQL, or quoted. */
static void
set_field_name(char *out, size_t outlen, const char *name)
{
	struct buf b = BUF_INIT;
	int plain = name[0] != '\0';

	for (const char *p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'))
			plain = 0;
	if (plain)
		buf_addstr(&b, name);
	else
		add_quoted_str(&b, name);
	snprintf(out, outlen, "%s", b.p);
	buf_release(&b);
}

/* Queries use the server's field names: the VictoriaLogs field map says
 * "canonical=theirs"; results come back under the canonical names. */
static void
field_names(struct ctx *x)
{
	for (int i = 0; i < FN__COUNT; i++) {
		const char *name = canonical[i];
		const struct vlogs_opts *vo = x->src->store == NULL ?
		    x->src->vlogs : NULL;
		size_t cl = strlen(canonical[i]);
		if (vo != NULL)
			for (size_t k = 0; k < vo->nfield_map; k++) {
				const char *m = vo->field_map[k];
				if (strncmp(m, canonical[i], cl) == 0 &&
				    m[cl] == '=' && m[cl + 1] != '\0')
					name = m + cl + 1;
			}
		set_field_name(x->fn[i], sizeof(x->fn[i]), name);
	}
}

/* field:~"re" */
static char *
rx_filter(const char *field, const char *re)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, "%s:~", field);
	add_quoted_str(&b, re);
	return b.p;
}

/* What field_names(), build_filters() and the passes own. */
static void
ctx_release(struct ctx *x)
{
	qresult_release(&x->q);
	buf_release(&x->text);
	free(x->f_secret);
	free(x->f_admin4);
	free(x->f_sens);
	free(x->f_inject);
	free(x->f_badua);
	free(x->f_lpost);
	free(x->f_lfail);
	free(x->f_nf);
	free(x->f_distress);
	free(x->f_asset);
	free(x->cl);
	free(x->map.slot);
}

static void
build_filters(struct ctx *x)
{
	const char *uri = x->fn[FN_URI], *st = x->fn[FN_STATUS];
	char *adm = rx_filter(uri, RX_PROBE), *login = rx_filter(uri, RX_LOGIN);

	x->f_secret = rx_filter(uri, RX_SECRET);
	x->f_asset = rx_filter(uri, RX_ASSET);
	x->f_admin4 = xstrfmt("(%s NOT %s NOT %s %s:in(400,404,405,410))",
	    adm, x->f_secret, x->f_asset, st);
	x->f_sens = xstrfmt("(%s or %s)", x->f_secret, x->f_admin4);
	x->f_inject = rx_filter(uri, RX_INJECT);
	x->f_badua = rx_filter(x->fn[FN_UA], RX_SCANNER_UA);
	x->f_lpost = xstrfmt("(%s:=POST %s)", x->fn[FN_METHOD], login);
	x->f_lfail = xstrfmt("(%s:=POST %s %s:in(401,403,429))",
	    x->fn[FN_METHOD], login, st);
	/* Missing images and scripts are the site's broken links, met by
	 * every visitor of the page: not probing. */
	x->f_nf = xstrfmt("(%s:in(400,403,404,405) NOT %s)", st,
	    x->f_asset);
	x->f_distress = xstrfmt("(%s:>=500 or %s:in(429,499))", st, st);
	free(adm);
	free(login);
}

static void
q_reset(struct ctx *x)
{
	buf_reset(&x->text);
}

static void
q_add(struct ctx *x, const char *fmt, ...) AD_PRINTF(2, 3);

static void
q_add(struct ctx *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&x->text, fmt, ap);
	va_end(ap);
}

/* Runs the query built in x->text.  A result cut at the row cap is used
 * as far as it goes, with a warning in the report. */
static int
ask(struct ctx *x, const char *what)
{
	char e[1024];
	int rc;

	rc = source_query(x->src, x->text.p, x->start, x->end,
	    (size_t)x->c->max_rows, &x->q, e, sizeof(e));
	if (rc < 0) {
		snprintf(x->err, x->errlen, "%s: %s", what, e);
		log_debug("analyst: failed query: %s", x->text.p);
		return -1;
	}
	if (rc > 0)
		report_warn(x->out, "%s: result cut at %llu rows; some "
		    "addresses may be missed", what,
		    (unsigned long long)x->c->max_rows);
	log_debug("analyst: %s: %zu rows", what, x->q.nrows);
	return 0;
}

static uint64_t
col_u64(const struct qresult *q, size_t row, const char *name)
{
	struct span v = qresult_get(q, row, name);
	uint64_t n;

	if (v.p == NULL || parse_u64(v, &n) != 0)
		return 0;
	return n;
}

static int64_t
col_time(const struct qresult *q, size_t row, const char *name)
{
	struct span v = qresult_get(q, row, name);
	int64_t t;

	if (v.p == NULL || v.n == 0 || time_parse_any(v, &t) != 0)
		return TIME_NONE;
	return t;
}

/* A copy of a result value as a C string (NUL bytes kept out). */
static char *
col_str(const struct qresult *q, size_t row, const char *name)
{
	struct span v = qresult_get(q, row, name);
	char *s;
	size_t n = 0;

	if (v.p == NULL)
		return xstrdup("");
	s = xmalloc(v.n + 1);
	for (size_t i = 0; i < v.n; i++)
		if (v.p[i] != '\0')
			s[n++] = v.p[i];
	s[n] = '\0';
	return s;
}

static double
ratio(uint64_t a, uint64_t b)
{
	return b == 0 ? 0.0 : (double)a / (double)b;
}

static unsigned
pct(uint64_t a, uint64_t b)
{
	return b == 0 ? 0 : (unsigned)((a * 100 + b / 2) / b);
}

/*
 * A flood: a high rate with something unhealthy about it.  The signs are
 * the server in distress (5xx, 429, or 499: the client gave up waiting)
 * and one URL hammered without the assets a browser loads.  Far above
 * what healthy heavy clients send (a partner's API sync, an office NAT:
 * about 200 a minute, all fine), one sign is enough.  From a request a
 * second up it takes both: one URL over and over while the server
 * fails or says "too many", which no healthy client keeps doing (a
 * monitor asks once or twice a minute, an integration pages through
 * many URLs).
 */
static int
is_flood(const struct analyst_config *c, uint64_t hits, uint64_t distress,
    uint64_t top, uint64_t assets, uint64_t peak)
{
	int hurts, hammer;

	if (hits == 0)
		return 0;
	hurts = ratio(distress, hits) >= c->flood_error_ratio;
	hammer = ratio(top, hits) >= c->flood_hammer_ratio &&
	    ratio(assets, hits) < 0.02;
	if (peak >= c->flood_per_minute && (hurts || hammer))
		return 1;
	return peak >= c->flood_min_per_minute && hurts && hammer;
}

/* The lowest rate any flood rule looks at. */
static uint64_t
flood_floor(const struct analyst_config *c)
{
	return c->flood_min_per_minute < c->flood_per_minute ?
	    c->flood_min_per_minute : c->flood_per_minute;
}

/* client_ip:in("a", "b", ...) */
static void
add_in(struct ctx *x, struct buf *b, char *const *ips, size_t n)
{
	buf_addf(b, "%s:in(", x->fn[FN_CLIENT]);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addstr(b, ", ");
		add_quoted_str(b, ips[i]);
	}
	buf_addch(b, ')');
}

static void
q_in(struct ctx *x, char *const *ips, size_t n)
{
	add_in(x, &x->text, ips, n);
}

static void
free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- per address */

/* The per-address statistics, as a stats pipe. */
static void
q_summary(struct ctx *x)
{
	q_add(x, " | stats by (%s) count() hits, count() if (%s:>=400) errs, "
	    "count() if %s distress, count() if (%s) nf, "
	    "count_uniq(%s) if (%s) nfp, count_uniq(%s) paths, "
	    "count_uniq(%s) if (%s) secret, count_uniq(%s) if %s admin, "
	    "count() if %s sens_n, "
	    "count_uniq(%s) if (%s) inject, count() if (%s) inject_n, "
	    "count() if (%s) badua, count() if %s lposts, "
	    "count() if %s lfails, count() if (%s) assets, "
	    "count() if (%s:\"\") noref, min(_time) first, max(_time) last",
	    x->fn[FN_CLIENT], x->fn[FN_STATUS], x->f_distress, x->f_nf,
	    x->fn[FN_URI], x->f_nf, x->fn[FN_URI],
	    x->fn[FN_URI], x->f_secret, x->fn[FN_URI], x->f_admin4,
	    x->f_sens,
	    x->fn[FN_URI], x->f_inject, x->f_inject,
	    x->f_badua, x->f_lpost, x->f_lfail, x->f_asset,
	    x->fn[FN_REFERER]);
}

static void
read_summary(struct ctx *x)
{
	for (size_t r = 0; r < x->q.nrows; r++) {
		struct client *cl = client_get(x, qresult_get(&x->q, r,
		    "client_ip"));
		if (cl == NULL)
			continue;
		cl->hits = col_u64(&x->q, r, "hits");
		cl->errs = col_u64(&x->q, r, "errs");
		cl->distress = col_u64(&x->q, r, "distress");
		cl->nf = col_u64(&x->q, r, "nf");
		cl->nfp = col_u64(&x->q, r, "nfp");
		cl->paths = col_u64(&x->q, r, "paths");
		cl->secret = col_u64(&x->q, r, "secret");
		cl->admin = col_u64(&x->q, r, "admin");
		cl->sens_n = col_u64(&x->q, r, "sens_n");
		cl->inject = col_u64(&x->q, r, "inject");
		cl->inject_n = col_u64(&x->q, r, "inject_n");
		cl->badua = col_u64(&x->q, r, "badua");
		cl->lposts = col_u64(&x->q, r, "lposts");
		cl->lfails = col_u64(&x->q, r, "lfails");
		cl->assets = col_u64(&x->q, r, "assets");
		cl->noref = col_u64(&x->q, r, "noref");
		cl->first = col_time(&x->q, r, "first");
		cl->last = col_time(&x->q, r, "last");
	}
}

/* Peaks in one-minute buckets, for the addresses that get that far. */
static int
ask_peaks(struct ctx *x)
{
	q_reset(x);
	q_add(x, "* | stats by (%s, _time:1m) count() n | filter n:>=%llu "
	    "| stats by (%s) max(n) peak", x->fn[FN_CLIENT],
	    (unsigned long long)flood_floor(x->c), x->fn[FN_CLIENT]);
	if (ask(x, "rate peaks") != 0)
		return -1;
	for (size_t r = 0; r < x->q.nrows; r++) {
		struct client *cl = client_get(x, qresult_get(&x->q, r,
		    "client_ip"));
		if (cl != NULL)
			cl->peak = col_u64(&x->q, r, "peak");
	}
	return 0;
}

/*
 * The statistics of every address that shows any sign at all, and of
 * those with a high rate; the rest (nearly everyone) never leaves the
 * store.
 */
static int
ask_clients(struct ctx *x)
{
	const struct analyst_config *c = x->c;
	char **ips = NULL;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < x->ncl; i++) {
		ips = xreallocarray(ips, n + 1, sizeof(*ips));
		ips[n++] = xstrdup(x->cl[i].ip);
	}
	q_reset(x);
	q_add(x, "*");
	q_summary(x);
	q_add(x, " | filter secret:>0 or admin:>0 or inject:>0 or "
	    "badua:>=%llu or lfails:>=%llu or nfp:>=%llu",
	    (unsigned long long)c->scanner_ua_min,
	    (unsigned long long)c->login_fail_min,
	    (unsigned long long)c->probe_min_paths);
	if (ask(x, "per-address summary") != 0) {
		free_strs(ips, n);
		return -1;
	}
	read_summary(x);
	/* The fast ones, whatever their signs. */
	for (size_t from = 0; from < n && rc == 0; from += IN_CHUNK) {
		size_t k = n - from < IN_CHUNK ? n - from : IN_CHUNK;
		q_reset(x);
		q_in(x, ips + from, k);
		q_summary(x);
		if ((rc = ask(x, "busy addresses")) == 0)
			read_summary(x);
	}
	free_strs(ips, n);
	return rc;
}

/* The busiest URI of each address whose rate is high: hammering one
 * URL is what a flood does and a browser never does. */
static int
ask_tops(struct ctx *x)
{
	char **ips = NULL;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < x->ncl; i++)
		if (x->cl[i].peak >= flood_floor(x->c)) {
			ips = xreallocarray(ips, n + 1, sizeof(*ips));
			ips[n++] = xstrdup(x->cl[i].ip);
		}
	for (size_t from = 0; from < n && rc == 0; from += IN_CHUNK) {
		size_t k = n - from < IN_CHUNK ? n - from : IN_CHUNK;
		q_reset(x);
		q_in(x, ips + from, k);
		q_add(x, " | stats by (%s, %s) count() n | stats by (%s) "
		    "max(n) top", x->fn[FN_CLIENT], x->fn[FN_URI],
		    x->fn[FN_CLIENT]);
		if ((rc = ask(x, "busiest URI per address")) != 0)
			break;
		for (size_t r = 0; r < x->q.nrows; r++) {
			struct client *cl = client_lookup(x, qresult_get(&x->q,
			    r, "client_ip"));
			if (cl != NULL)
				cl->top = col_u64(&x->q, r, "top");
		}
	}
	free_strs(ips, n);
	return rc;
}

static void
classify(struct ctx *x, struct client *cl)
{
	const struct analyst_config *c = x->c;

	cl->kinds = 0;
	if (cl->inject >= c->injection_min ||
	    (cl->inject >= 1 && cl->badua >= c->scanner_ua_min))
		cl->kinds |= 1u << K_INJECT;
	if (cl->secret + cl->admin >= c->sensitive_min)
		cl->kinds |= 1u << K_SENSITIVE;
	if (cl->lfails >= c->login_fail_min &&
	    ratio(cl->lfails, cl->lposts) >= c->login_fail_ratio)
		cl->kinds |= 1u << K_BRUTE;
	if (is_flood(c, cl->hits, cl->distress, cl->top, cl->assets,
	    cl->peak))
		cl->kinds |= 1u << K_FLOOD;
	if (cl->badua >= c->scanner_ua_min)
		cl->kinds |= 1u << K_SCANNER_UA;
	if (cl->nfp >= c->probe_min_paths &&
	    ratio(cl->nf, cl->hits) >= c->probe_ratio)
		cl->kinds |= 1u << K_PROBE;
	cl->kind = K_NONE;
	for (int k = 0; k < K__COUNT; k++)
		if (cl->kinds & (1u << k)) {
			cl->kind = k; /* kinds are in order of severity */
			break;
		}
}

/* The filter that picks a kind's offending requests. */
static const char *
kind_filter(const struct ctx *x, int k)
{
	switch (k) {
	case K_INJECT: return x->f_inject;
	case K_SENSITIVE: return x->f_sens;
	case K_BRUTE: return x->f_lfail;
	case K_SCANNER_UA: return x->f_badua;
	case K_PROBE: return x->f_nf;
	default: return "*";
	}
}

struct grp {
	size_t row;
	int64_t first;
};

static int
grp_cmp(const void *a, const void *b)
{
	const struct grp *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

/*
 * First and last offending request, their number, and a few samples for
 * the addresses whose primary finding is kind k.  Samples are groups of
 * identical requests (address, method, URI, status, agent), the earliest
 * first: a handful of rows per address, never its whole traffic.
 */
static int
ask_offending(struct ctx *x, int k)
{
	char **ips = NULL;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < x->ncl; i++)
		if (x->cl[i].kind == k) {
			ips = xreallocarray(ips, n + 1, sizeof(*ips));
			ips[n++] = xstrdup(x->cl[i].ip);
		}
	for (size_t from = 0; from < n && rc == 0; from += IN_CHUNK) {
		size_t cnt = n - from < IN_CHUNK ? n - from : IN_CHUNK;
		struct grp *g;
		size_t ng = 0;

		q_reset(x);
		q_in(x, ips + from, cnt);
		q_add(x, " %s | stats by (%s, %s, %s, %s, %s) count() n, "
		    "min(_time) first, max(_time) last", kind_filter(x, k),
		    x->fn[FN_CLIENT], x->fn[FN_METHOD], x->fn[FN_URI],
		    x->fn[FN_STATUS], x->fn[FN_UA]);
		if ((rc = ask(x, "offending requests")) != 0)
			break;
		g = xcalloc(x->q.nrows ? x->q.nrows : 1, sizeof(*g));
		for (size_t r = 0; r < x->q.nrows; r++) {
			struct client *cl = client_lookup(x, qresult_get(&x->q,
			    r, "client_ip"));
			int64_t f = col_time(&x->q, r, "first");
			int64_t l = col_time(&x->q, r, "last");
			if (cl == NULL || cl->kind != k)
				continue;
			cl->off_n += col_u64(&x->q, r, "n");
			if (f != TIME_NONE && (cl->off_first == TIME_NONE ||
			    f < cl->off_first))
				cl->off_first = f;
			if (l != TIME_NONE && (cl->off_last == TIME_NONE ||
			    l > cl->off_last))
				cl->off_last = l;
			g[ng].row = r;
			g[ng].first = f;
			ng++;
		}
		qsort(g, ng, sizeof(*g), grp_cmp);
		for (size_t i = 0; i < ng; i++) {
			size_t r = g[i].row;
			struct client *cl = client_lookup(x, qresult_get(&x->q,
			    r, "client_ip"));
			struct finding *f;
			char *t, *m, *u, *s, *a;
			if (cl == NULL || cl->finding == SIZE_MAX)
				continue;
			f = &x->out->f[cl->finding];
			if (f->nsamples >= x->c->samples)
				continue;
			t = col_str(&x->q, r, "first");
			m = col_str(&x->q, r, "request_method");
			u = col_str(&x->q, r, "request_uri");
			s = col_str(&x->q, r, "status");
			a = col_str(&x->q, r, "http_user_agent");
			finding_sample(f, t, cl->ip, m, u, s, a,
			    col_u64(&x->q, r, "n"));
			free(t);
			free(m);
			free(u);
			free(s);
			free(a);
		}
		free(g);
	}
	free_strs(ips, n);
	return rc;
}

static void
client_sentence(struct finding *f, const struct client *cl)
{
	switch (cl->kind) {
	case K_INJECT:
		finding_sentence(f, "%s sent %llu requests carrying injection "
		    "payloads (SQL, XSS, traversal, JNDI...) in %llu distinct "
		    "URIs, of %llu requests in all.", cl->ip,
		    (unsigned long long)cl->inject_n,
		    (unsigned long long)cl->inject,
		    (unsigned long long)cl->hits);
		break;
	case K_SENSITIVE:
		finding_sentence(f, "%s asked for %llu sensitive paths "
		    "(secrets, dumps, web shells, absent admin panels) in %llu "
		    "requests; %u%% of its %llu requests were refused or not "
		    "found.", cl->ip,
		    (unsigned long long)(cl->secret + cl->admin),
		    (unsigned long long)cl->sens_n, pct(cl->nf, cl->hits),
		    (unsigned long long)cl->hits);
		break;
	case K_BRUTE:
		finding_sentence(f, "%s failed %llu of its %llu login POSTs "
		    "(401/403/429).", cl->ip, (unsigned long long)cl->lfails,
		    (unsigned long long)cl->lposts);
		break;
	case K_FLOOD:
		finding_sentence(f, "%s sent up to %llu requests a minute "
		    "(%llu in all), %u%% of them to one URI, %u%% answered "
		    "5xx, 429 or 499.", cl->ip, (unsigned long long)cl->peak,
		    (unsigned long long)cl->hits, pct(cl->top, cl->hits),
		    pct(cl->distress, cl->hits));
		break;
	case K_SCANNER_UA:
		finding_sentence(f, "%s announced a vulnerability scanner in "
		    "its user agent on %llu of %llu requests.", cl->ip,
		    (unsigned long long)cl->badua,
		    (unsigned long long)cl->hits);
		break;
	default:
		finding_sentence(f, "%s asked for %llu distinct paths answered "
		    "400/403/404; %u%% of its %llu requests failed that way.",
		    cl->ip, (unsigned long long)cl->nfp, pct(cl->nf, cl->hits),
		    (unsigned long long)cl->hits);
		break;
	}
}

static void
client_counts(struct finding *f, const struct client *cl)
{
	finding_count(f, "requests", (int64_t)cl->hits);
	finding_count(f, "offending", (int64_t)(cl->off_n ? cl->off_n :
	    cl->hits));
	finding_count(f, "errors", (int64_t)cl->errs);
	finding_count(f, "distress", (int64_t)cl->distress);
	finding_count(f, "not_found", (int64_t)cl->nf);
	finding_count(f, "not_found_paths", (int64_t)cl->nfp);
	finding_count(f, "paths", (int64_t)cl->paths);
	if (cl->secret + cl->admin)
		finding_count(f, "sensitive_paths",
		    (int64_t)(cl->secret + cl->admin));
	if (cl->inject)
		finding_count(f, "injection_uris", (int64_t)cl->inject);
	if (cl->badua)
		finding_count(f, "scanner_user_agent", (int64_t)cl->badua);
	if (cl->lposts) {
		finding_count(f, "login_posts", (int64_t)cl->lposts);
		finding_count(f, "login_failures", (int64_t)cl->lfails);
	}
	if (cl->peak)
		finding_count(f, "peak_per_minute", (int64_t)cl->peak);
	if (cl->top)
		finding_count(f, "top_uri_requests", (int64_t)cl->top);
	finding_count(f, "assets", (int64_t)cl->assets);
}

static int
per_address(struct ctx *x)
{
	unsigned present = 0;
	int extra;

	if (ask_peaks(x) != 0 || ask_clients(x) != 0 || ask_tops(x) != 0)
		return -1;
	for (size_t i = 0; i < x->ncl; i++) {
		struct client *cl = &x->cl[i];
		struct finding *f;

		classify(x, cl);
		if (cl->kind == K_NONE)
			continue;
		present |= 1u << cl->kind;
		extra = 0;
		for (int k = 0; k < K__COUNT; k++)
			if (k != cl->kind && (cl->kinds & (1u << k)))
				extra++;
		f = report_add_finding(x->out, kinfo[cl->kind].scenario,
		    kinfo[cl->kind].severity + 2 * extra +
		    (cl->kind == K_SENSITIVE && cl->secret > 0 ?
		    SEV_SECRET - SEV_SENSITIVE : 0), cl->ip);
		for (int k = 0; k < K__COUNT; k++)
			if (k != cl->kind && (cl->kinds & (1u << k)))
				finding_signal(f, kinfo[k].scenario);
		finding_member(f, cl->ip);
		cl->finding = (size_t)(f - x->out->f);
	}
	for (int k = 0; k < K__COUNT; k++)
		if ((present & (1u << k)) && ask_offending(x, k) != 0)
			return -1;
	for (size_t i = 0; i < x->ncl; i++) {
		struct client *cl = &x->cl[i];
		struct finding *f;
		if (cl->finding == SIZE_MAX)
			continue;
		f = &x->out->f[cl->finding];
		client_counts(f, cl);
		client_sentence(f, cl);
		f->first_ns = cl->off_first != TIME_NONE ? cl->off_first :
		    cl->first;
		f->last_ns = cl->off_last != TIME_NONE ? cl->off_last :
		    cl->last;
	}
	return 0;
}

/* ---- cohorts */

static int
flagged(struct ctx *x, const char *ip)
{
	struct client *cl = client_find(x, ip);

	return cl != NULL && cl->kind != K_NONE;
}

/* A few raw rows of a cohort's traffic, for its finding. */
static int
cohort_samples(struct ctx *x, struct finding *f, const char *filter)
{
	q_reset(x);
	q_add(x, "%s | limit %llu", filter, (unsigned long long)x->c->samples);
	if (ask(x, "cohort samples") != 0)
		return -1;
	for (size_t r = 0; r < x->q.nrows; r++) {
		char *t = col_str(&x->q, r, "_time");
		char *ip = col_str(&x->q, r, "client_ip");
		char *m = col_str(&x->q, r, "request_method");
		char *u = col_str(&x->q, r, "request_uri");
		char *s = col_str(&x->q, r, "status");
		char *a = col_str(&x->q, r, "http_user_agent");
		finding_sample(f, t, ip, m, u, s, a, 1);
		free(t);
		free(ip);
		free(m);
		free(u);
		free(s);
		free(a);
	}
	return 0;
}

/* The path of a URI: up to '?'. */
static size_t
path_len(const char *u, size_t n)
{
	const char *q = memchr(u, '?', n);

	return q != NULL ? (size_t)(q - u) : n;
}

/*
 * The endpoint most of a user agent's requests go to, from its busiest
 * URIs: with cache busting every URI is new, so the path before the
 * query is what they share.  NULL when no path has most of them.
 */
static char *
ua_endpoint(struct ctx *x, const char *ua, double *share)
{
	struct span best = SPAN_NULL;
	uint64_t best_n = 0, total = 0;

	q_reset(x);
	q_add(x, "%s:=", x->fn[FN_UA]);
	add_quoted_str(&x->text, ua);
	q_add(x, " | stats by (%s) count() n | sort by (n desc) | limit %d",
	    x->fn[FN_URI], ENDPOINT_SAMPLE);
	if (ask(x, "cohort endpoint") != 0)
		return NULL;
	for (size_t r = 0; r < x->q.nrows; r++)
		total += col_u64(&x->q, r, "n");
	/* Few distinct paths among a few hundred rows: quadratic is fine. */
	for (size_t r = 0; r < x->q.nrows; r++) {
		struct span u = qresult_get(&x->q, r, "request_uri");
		uint64_t sum = 0;
		if (u.p == NULL)
			continue;
		u.n = path_len(u.p, u.n);
		for (size_t k = 0; k < x->q.nrows; k++) {
			struct span v = qresult_get(&x->q, k, "request_uri");
			if (v.p != NULL && path_len(v.p, v.n) == u.n &&
			    memcmp(v.p, u.p, u.n) == 0)
				sum += col_u64(&x->q, k, "n");
		}
		if (sum > best_n) {
			best_n = sum;
			best = u;
		}
	}
	*share = ratio(best_n, total);
	if (best.p == NULL || best.n == 0 || memchr(best.p, '\0', best.n))
		return NULL;
	return xstrndup(best.p, best.n);
}

/* A user agent that claims to be a person's browser.  Crawlers and
 * monitors also begin with "Mozilla/", but say what they are. */
static int
is_browser_ua(const char *ua)
{
	static const char *const bots[] = {
		"bot", "crawl", "spider", "monitor", "uptime", "check",
		"http:", "https:", "headless", "preview",
	};
	struct span s = span_str(ua);

	if (strncmp(ua, "Mozilla/", 8) != 0)
		return 0;
	for (size_t i = 0; i < ARRAY_LEN(bots); i++) {
		size_t n = strlen(bots[i]);
		for (size_t k = 0; k + n <= s.n; k++)
			if (span_eq_nocase_str((struct span){ s.p + k, n },
			    bots[i]))
				return 0;
	}
	return 1;
}

/*
 * A cohort behind one user agent: it claims a browser (or the server is
 * struggling under it), never loads an asset, nearly never sends a
 * referer, and asks one endpoint with a new query string each time.
 */
static int
ua_cohort(struct ctx *x, const char *ua, uint64_t ua_hits,
    uint64_t ua_distress)
{
	const struct analyst_config *c = x->c;
	struct buf filt = BUF_INIT;
	struct finding *f = NULL;
	char **mem = NULL;
	size_t nmem = 0;
	uint64_t hits = 0, fresh = 0;
	int64_t first = TIME_NONE, last = TIME_NONE;
	double share = 0;
	char *ep;
	int rc = 0;

	ep = ua_endpoint(x, ua, &share);
	if (ep == NULL)
		return x->err[0] != '\0' ? -1 : 0;
	if (share < c->cohort_share)
		goto out;
	/* The cohort's requests: this agent, this endpoint with a query. */
	buf_addf(&filt, "%s:=", x->fn[FN_UA]);
	add_quoted_str(&filt, ua);
	buf_addf(&filt, " %s:=", x->fn[FN_URI]);
	{
		struct buf pfx = BUF_INIT;
		buf_addstr(&pfx, ep);
		buf_addch(&pfx, '?');
		add_quoted(&filt, pfx.p, pfx.len);
		buf_release(&pfx);
	}
	buf_addch(&filt, '*');

	q_reset(x);
	q_add(x, "* | stats by (%s) count() total, count() if (%s) n, "
	    "count_uniq(%s) if (%s) uris, count() if (%s) assets, "
	    "min(_time) if (%s) first, max(_time) if (%s) last "
	    "| filter n:>0", x->fn[FN_CLIENT], filt.p, x->fn[FN_URI], filt.p,
	    x->f_asset, filt.p, filt.p);
	if ((rc = ask(x, "cohort members")) != 0)
		goto out;
	for (size_t r = 0; r < x->q.nrows; r++) {
		uint64_t total = col_u64(&x->q, r, "total");
		uint64_t n = col_u64(&x->q, r, "n");
		struct span v = qresult_get(&x->q, r, "client_ip");
		struct ipaddr a;
		char ip[IPADDR_STRLEN];
		int64_t t;

		/* A member does little else: someone who also browses the
		 * site (assets, other pages) is not one. */
		if (ratio(n, total) < c->cohort_share ||
		    col_u64(&x->q, r, "assets") > 0 || v.p == NULL ||
		    ipaddr_parse_loose(v, &a) != 0)
			continue;
		ipaddr_format(&a, ip, sizeof(ip));
		mem = xreallocarray(mem, nmem + 1, sizeof(*mem));
		mem[nmem++] = xstrdup(ip);
		hits += n;
		fresh += col_u64(&x->q, r, "uris");
		if ((t = col_time(&x->q, r, "first")) != TIME_NONE &&
		    (first == TIME_NONE || t < first))
			first = t;
		if ((t = col_time(&x->q, r, "last")) != TIME_NONE &&
		    (last == TIME_NONE || t > last))
			last = t;
	}
	if (nmem < c->cohort_min_members)
		goto out;
	{
		char subj[FINDING_SUBJECT_MAX];
		struct buf s = BUF_INIT;
		buf_add_escaped(&s, ua, strlen(ua) > 60 ? 60 : strlen(ua));
		snprintf(subj, sizeof(subj), "%zu addresses, one agent "
		    "\"%s%s\" on %s", nmem, s.p, strlen(ua) > 60 ? "..." : "",
		    ep);
		buf_release(&s);
		f = report_add_finding(x->out, SC_BOTNET, SEV_COHORT, subj);
	}
	f->cohort = 1;
	for (size_t i = 0; i < nmem; i++)
		finding_member(f, mem[i]);
	finding_count(f, "members", (int64_t)nmem);
	finding_count(f, "requests", (int64_t)hits);
	finding_count(f, "offending", (int64_t)hits);
	finding_count(f, "distinct_uris", (int64_t)fresh);
	finding_count(f, "agent_requests", (int64_t)ua_hits);
	finding_count(f, "distress", (int64_t)ua_distress);
	finding_count(f, "endpoint_share_pct", (int64_t)(share * 100 + 0.5));
	f->first_ns = first;
	f->last_ns = last;

	/* The burst: how many members in the same minute. */
	q_reset(x);
	q_add(x, "%s | stats by (_time:1m) count() n, count_uniq(%s) ips "
	    "| sort by (ips desc) | limit 1", filt.p, x->fn[FN_CLIENT]);
	if ((rc = ask(x, "cohort burst")) != 0)
		goto out;
	if (x->q.nrows > 0) {
		finding_count(f, "peak_minute_members",
		    (int64_t)col_u64(&x->q, 0, "ips"));
		finding_count(f, "peak_minute_requests",
		    (int64_t)col_u64(&x->q, 0, "n"));
	}
	finding_sentence(f, "%zu addresses sharing one user agent sent %llu "
	    "requests to %s, %llu of them with a query string never seen "
	    "before (cache busting), no assets, no referer; up to %lld of "
	    "them in the same minute.", nmem, (unsigned long long)hits, ep,
	    (unsigned long long)fresh,
	    (long long)finding_get(f, "peak_minute_members"));
	rc = cohort_samples(x, f, filt.p);
out:
	for (size_t i = 0; i < nmem; i++)
		free(mem[i]);
	free(mem);
	free(ep);
	buf_release(&filt);
	return rc;
}

static int
ua_cohorts(struct ctx *x)
{
	const struct analyst_config *c = x->c;
	char *cand[UA_CANDIDATES_MAX];
	uint64_t cand_hits[UA_CANDIDATES_MAX], cand_distress[UA_CANDIDATES_MAX];
	size_t ncand = 0;
	int rc = 0;

	q_reset(x);
	q_add(x, "* | stats by (%s) count() hits, count_uniq(%s) ips, "
	    "count_uniq(%s) uris, count() if (%s:~\"\\\\?\") qs, "
	    "count() if (%s:\"\") noref, count() if (%s) assets, "
	    "count() if %s distress | filter ips:>=%llu "
	    "| sort by (ips desc)", x->fn[FN_UA], x->fn[FN_CLIENT],
	    x->fn[FN_URI], x->fn[FN_URI], x->fn[FN_REFERER], x->f_asset,
	    x->f_distress, (unsigned long long)c->cohort_min_members);
	if (ask(x, "user agents") != 0)
		return -1;
	for (size_t r = 0; r < x->q.nrows && ncand < UA_CANDIDATES_MAX; r++) {
		uint64_t hits = col_u64(&x->q, r, "hits");
		uint64_t uris = col_u64(&x->q, r, "uris");
		uint64_t qs = col_u64(&x->q, r, "qs");
		uint64_t noref = col_u64(&x->q, r, "noref");
		uint64_t assets = col_u64(&x->q, r, "assets");
		uint64_t distress = col_u64(&x->q, r, "distress");
		char *ua = col_str(&x->q, r, "http_user_agent");
		/* Cache busting: (nearly) every request a new URI with a
		 * query string, and nothing a browser would fetch besides.
		 * Then something that is not a partner's honest client: a
		 * browser's name with a browser's habits missing, or a
		 * struggling server. */
		int busting = ratio(uris, hits) >= 0.9 &&
		    ratio(qs, hits) >= 0.9 && ratio(assets, hits) < 0.02;
		int fake = is_browser_ua(ua) && ratio(noref, hits) >= 0.9;
		int hurts = ratio(distress, hits) >= c->flood_error_ratio;
		if (ua[0] != '\0' && busting && (fake || hurts)) {
			cand[ncand] = ua;
			cand_hits[ncand] = hits;
			cand_distress[ncand] = distress;
			ncand++;
		} else
			free(ua);
	}
	for (size_t i = 0; i < ncand; i++) {
		if (rc == 0)
			rc = ua_cohort(x, cand[i], cand_hits[i],
			    cand_distress[i]);
		free(cand[i]);
	}
	return rc;
}

/*
 * Many addresses that do nothing but fail on one login endpoint: credential
 * stuffing, where each address tries a handful of passwords and stays far
 * below any per-address limit.  A member's requests are (nearly) all for the
 * endpoint (the form, fetched now and then, and POSTs to it) and every POST
 * failed.  People who forgot their password are not members: a browser
 * fetches the site's stylesheets and pages too, and a typo is followed by a
 * success.
 *
 * The endpoint must look attacked as a whole, so that a few such addresses
 * on a busy site are not a cohort: most of its POSTs failed (a site where
 * most logins fail is under attack or broken), or the members sent a large
 * share of them (analyst_login_cohort_share), which is what stuffing looks
 * like on a site whose own users log in all the time.
 */
static int
login_cohort(struct ctx *x, const char *ep)
{
	const struct analyst_config *c = x->c;
	struct buf filt = BUF_INIT, onep = BUF_INIT;
	struct finding *f;
	char **mem = NULL;
	size_t nmem = 0;
	uint64_t posts_all = 0, fails_all = 0, fails = 0, posts = 0;
	int64_t first = TIME_NONE, last = TIME_NONE;
	int rc;

	buf_addf(&filt, "%s:=POST %s:=", x->fn[FN_METHOD], x->fn[FN_URI]);
	add_quoted_str(&filt, ep);
	buf_addf(&onep, "%s:=", x->fn[FN_URI]);
	add_quoted_str(&onep, ep);
	/* The endpoint as a whole, then those who failed on it: the rest
	 * (everyone who logged in fine) need not be listed. */
	q_reset(x);
	q_add(x, "%s | stats count() posts, count() if (%s:in(401,403,429)) "
	    "fails", filt.p, x->fn[FN_STATUS]);
	if ((rc = ask(x, "login endpoint")) != 0)
		goto out;
	if (x->q.nrows > 0) {
		posts_all = col_u64(&x->q, 0, "posts");
		fails_all = col_u64(&x->q, 0, "fails");
	}
	q_reset(x);
	q_add(x, "* | stats by (%s) count() total, count() if (%s) onep, "
	    "count() if (%s) posts, "
	    "count() if (%s %s:in(401,403,429)) fails, "
	    "min(_time) if (%s) first, max(_time) if (%s) last "
	    "| filter fails:>0", x->fn[FN_CLIENT], onep.p, filt.p, filt.p,
	    x->fn[FN_STATUS], filt.p, filt.p);
	if ((rc = ask(x, "login cohort")) != 0)
		goto out;
	for (size_t r = 0; r < x->q.nrows; r++) {
		uint64_t total = col_u64(&x->q, r, "total");
		uint64_t p = col_u64(&x->q, r, "posts");
		uint64_t fl = col_u64(&x->q, r, "fails");
		uint64_t on = col_u64(&x->q, r, "onep");
		struct span v = qresult_get(&x->q, r, "client_ip");
		struct ipaddr a;
		char ip[IPADDR_STRLEN];
		int64_t t;

		if (v.p == NULL || ipaddr_parse_loose(v, &a) != 0)
			continue;
		ipaddr_format(&a, ip, sizeof(ip));
		if (flagged(x, ip)) {
			/* Caught on their own: the endpoint is judged
			 * without them. */
			posts_all -= p < posts_all ? p : posts_all;
			fails_all -= fl < fails_all ? fl : fails_all;
			continue;
		}
		if (fl == 0 || fl != p || ratio(on, total) < c->cohort_share)
			continue;
		mem = xreallocarray(mem, nmem + 1, sizeof(*mem));
		mem[nmem++] = xstrdup(ip);
		fails += fl;
		posts += p;
		if ((t = col_time(&x->q, r, "first")) != TIME_NONE &&
		    (first == TIME_NONE || t < first))
			first = t;
		if ((t = col_time(&x->q, r, "last")) != TIME_NONE &&
		    (last == TIME_NONE || t > last))
			last = t;
	}
	if (nmem < c->cohort_min_members || fails < c->login_fail_min ||
	    (ratio(fails_all, posts_all) < c->login_fail_ratio &&
	    ratio(posts, posts_all) < c->login_cohort_share))
		goto out;
	{
		char subj[FINDING_SUBJECT_MAX];
		struct buf s = BUF_INIT;
		buf_add_escaped(&s, ep, strlen(ep) > 80 ? 80 : strlen(ep));
		snprintf(subj, sizeof(subj), "%zu addresses failing logins on "
		    "%s", nmem, s.p);
		buf_release(&s);
		f = report_add_finding(x->out, SC_DIST_BRUTE, SEV_BRUTE, subj);
	}
	f->cohort = 1;
	for (size_t i = 0; i < nmem; i++)
		finding_member(f, mem[i]);
	finding_count(f, "members", (int64_t)nmem);
	finding_count(f, "requests", (int64_t)posts);
	finding_count(f, "offending", (int64_t)fails);
	finding_count(f, "login_failures", (int64_t)fails);
	finding_count(f, "endpoint_posts", (int64_t)posts_all);
	finding_count(f, "endpoint_failures", (int64_t)fails_all);
	f->first_ns = first;
	f->last_ns = last;
	finding_sentence(f, "%zu addresses did nothing but try to log in on "
	    "%s and failed every time (%llu failures); they sent %u%% of the "
	    "endpoint's login POSTs, and %u%% of those failed.", nmem, ep,
	    (unsigned long long)fails, pct(posts, posts_all),
	    pct(fails_all, posts_all));
	buf_addf(&filt, " %s:in(401,403,429)", x->fn[FN_STATUS]);
	rc = cohort_samples(x, f, filt.p);
out:
	for (size_t i = 0; i < nmem; i++)
		free(mem[i]);
	free(mem);
	buf_release(&filt);
	buf_release(&onep);
	return rc;
}

static int
login_cohorts(struct ctx *x)
{
	char *eps[LOGIN_ENDPOINTS_MAX];
	size_t n = 0;
	int rc = 0;

	q_reset(x);
	q_add(x, "%s | stats by (%s) count() fails, count_uniq(%s) ips "
	    "| filter ips:>=%llu | sort by (ips desc) | limit %d", x->f_lfail,
	    x->fn[FN_URI], x->fn[FN_CLIENT],
	    (unsigned long long)x->c->cohort_min_members,
	    LOGIN_ENDPOINTS_MAX);
	if (ask(x, "login endpoints") != 0)
		return -1;
	for (size_t r = 0; r < x->q.nrows && n < LOGIN_ENDPOINTS_MAX; r++)
		eps[n++] = col_str(&x->q, r, "request_uri");
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && eps[i][0] != '\0')
			rc = login_cohort(x, eps[i]);
		free(eps[i]);
	}
	return rc;
}

/* ---- networks: /24 and /64 */

/* Aggregates of a network or its members, in one shape. */
struct netagg {
	uint64_t hits, nf, nfp, sens, inject, lposts, lfails, badua, distress,
	    assets, ips;
	int64_t first, last;
};

#define NET_STATS \
	"count() hits, count() if (%s) nf, count_uniq(%s) if (%s) nfp, " \
	"count_uniq(%s) if %s sens, count_uniq(%s) if (%s) inject, " \
	"count() if %s lposts, count() if %s lfails, count() if (%s) badua, " \
	"count() if %s distress, count() if (%s) assets, " \
	"count_uniq(%s) ips, min(_time) first, max(_time) last"
#define NET_ARGS(x) (x)->f_nf, (x)->fn[FN_URI], (x)->f_nf, \
	(x)->fn[FN_URI], (x)->f_sens, (x)->fn[FN_URI], (x)->f_inject, \
	(x)->f_lpost, (x)->f_lfail, (x)->f_badua, (x)->f_distress, \
	(x)->f_asset, (x)->fn[FN_CLIENT]

static void
netagg_read(const struct qresult *q, size_t r, struct netagg *a)
{
	a->hits = col_u64(q, r, "hits");
	a->nf = col_u64(q, r, "nf");
	a->nfp = col_u64(q, r, "nfp");
	a->sens = col_u64(q, r, "sens");
	a->inject = col_u64(q, r, "inject");
	a->lposts = col_u64(q, r, "lposts");
	a->lfails = col_u64(q, r, "lfails");
	a->badua = col_u64(q, r, "badua");
	a->distress = col_u64(q, r, "distress");
	a->assets = col_u64(q, r, "assets");
	a->ips = col_u64(q, r, "ips");
	a->first = col_time(q, r, "first");
	a->last = col_time(q, r, "last");
}

/* What a network did together, as a detector name; NULL: nothing. */
static const char *
net_verdict(const struct analyst_config *c, const struct netagg *a,
    uint64_t peak, uint64_t top)
{
	if (a->inject >= c->injection_min)
		return "injection payloads";
	if (a->sens >= c->sensitive_min)
		return "sensitive paths";
	if (a->lfails >= c->login_fail_min &&
	    ratio(a->lfails, a->lposts) >= c->login_fail_ratio)
		return "failed logins";
	if (a->nfp >= c->probe_min_paths &&
	    ratio(a->nf, a->hits) >= c->probe_ratio)
		return "probing";
	if (is_flood(c, a->hits, a->distress, top, a->assets, peak))
		return "a flood";
	return NULL;
}

/* A member took part: it has a sign of the network's behaviour. */
static int
member_active(const struct analyst_config *c, const struct netagg *m,
    const struct netagg *net, const char *what)
{
	if (strcmp(what, "injection payloads") == 0)
		return m->inject > 0;
	if (strcmp(what, "sensitive paths") == 0)
		return m->sens > 0;
	if (strcmp(what, "failed logins") == 0)
		return m->lfails > 0 &&
		    ratio(m->lfails, m->lposts) >= c->login_fail_ratio;
	if (strcmp(what, "probing") == 0)
		return m->nf > 0 && ratio(m->nf, m->hits) >= c->probe_ratio;
	/* A flood: every address that sent at least a quarter of its fair
	 * share, without the assets a person's browser loads. */
	return m->hits > 0 && m->assets == 0 && net->ips > 0 &&
	    m->hits * 4 * net->ips >= net->hits;
}

static void
net_counts(struct finding *f, const struct netagg *a, uint64_t peak,
    uint64_t top)
{
	finding_count(f, "addresses", (int64_t)a->ips);
	finding_count(f, "requests", (int64_t)a->hits);
	finding_count(f, "not_found", (int64_t)a->nf);
	finding_count(f, "not_found_paths", (int64_t)a->nfp);
	finding_count(f, "sensitive_paths", (int64_t)a->sens);
	finding_count(f, "injection_uris", (int64_t)a->inject);
	finding_count(f, "login_failures", (int64_t)a->lfails);
	finding_count(f, "scanner_user_agent", (int64_t)a->badua);
	finding_count(f, "distress", (int64_t)a->distress);
	if (peak)
		finding_count(f, "peak_per_minute", (int64_t)peak);
	if (top)
		finding_count(f, "top_uri_requests", (int64_t)top);
}

/* One sentence for a network's finding: what its addresses did. */
static void
net_sentence(struct finding *f, const char *who, const char *what,
    const struct netagg *a, uint64_t peak, uint64_t top)
{
	if (strcmp(what, "a flood") == 0)
		finding_sentence(f, "%s together sent a flood: up to %llu "
		    "requests a minute (%llu in all), %u%% of them to one URI, "
		    "%u%% answered 5xx, 429 or 499.", who,
		    (unsigned long long)peak, (unsigned long long)a->hits,
		    pct(top, a->hits), pct(a->distress, a->hits));
	else if (strcmp(what, "failed logins") == 0)
		finding_sentence(f, "%s together failed %llu of %llu login "
		    "POSTs.", who, (unsigned long long)a->lfails,
		    (unsigned long long)a->lposts);
	else
		finding_sentence(f, "%s together showed %s: %llu requests, "
		    "%llu distinct paths answered 400/403/404, %llu sensitive "
		    "paths, %llu URIs carrying payloads.", who, what,
		    (unsigned long long)a->hits, (unsigned long long)a->nfp,
		    (unsigned long long)a->sens,
		    (unsigned long long)a->inject);
}

/* The filter that picks a network's offending requests. */
static const char *
what_filter(const struct ctx *x, const char *what)
{
	if (strcmp(what, "injection payloads") == 0)
		return x->f_inject;
	if (strcmp(what, "sensitive paths") == 0)
		return x->f_sens;
	if (strcmp(what, "failed logins") == 0)
		return x->f_lfail;
	if (strcmp(what, "probing") == 0)
		return x->f_nf;
	return "*";
}

struct subnet {
	char net[IPADDR_STRLEN + 4]; /* "a.b.c.0" as the bucket reads */
	struct cidr c;
	struct netagg a;
	uint64_t peak, top;
	const char *what;
};

/* " (client_ip:ipv4_range("a/24") or ...)" */
static void
q_ranges(struct ctx *x, const struct subnet *s, size_t n)
{
	q_add(x, "(");
	for (size_t i = 0; i < n; i++) {
		char t[IPADDR_STRLEN + 8];
		cidr_format(&s[i].c, t, sizeof(t));
		q_add(x, "%s%s:ipv4_range(\"%s\")", i ? " or " : "",
		    x->fn[FN_CLIENT], t);
	}
	q_add(x, ")");
}

static struct subnet *
subnet_find(struct subnet *s, size_t n, const struct ipaddr *a)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_contains(&s[i].c, a))
			return &s[i];
	return NULL;
}

/*
 * /24s whose addresses, three or more, together probe, inject, fail
 * logins or flood, where the addresses one by one stay under the
 * per-address limits.
 */
static int
subnets(struct ctx *x)
{
	const struct analyst_config *c = x->c;
	struct subnet *s = NULL;
	size_t ns = 0;
	int rc = -1;

	q_reset(x);
	q_add(x, "* | stats by (%s:/24) " NET_STATS, x->fn[FN_CLIENT],
	    NET_ARGS(x));
	q_add(x, " | filter ips:>=%llu (sens:>=%llu or inject:>=%llu or "
	    "nfp:>=%llu or lfails:>=%llu or hits:>=%llu)",
	    (unsigned long long)c->subnet_min_members,
	    (unsigned long long)c->sensitive_min,
	    (unsigned long long)c->injection_min,
	    (unsigned long long)c->probe_min_paths,
	    (unsigned long long)c->login_fail_min,
	    (unsigned long long)flood_floor(c));
	if (ask(x, "subnets") != 0)
		return -1;
	for (size_t r = 0; r < x->q.nrows && ns < SUBNETS_MAX; r++) {
		struct span v = qresult_get(&x->q, r, "client_ip");
		struct ipaddr a;
		if (v.p == NULL || ipaddr_parse(v, &a) != 0 || a.family != 4)
			continue;
		s = xreallocarray(s, ns + 1, sizeof(*s));
		memset(&s[ns], 0, sizeof(s[ns]));
		ipaddr_format(&a, s[ns].net, sizeof(s[ns].net));
		s[ns].c.addr = a;
		s[ns].c.addr.b[3] = 0;
		s[ns].c.prefix = 24;
		netagg_read(&x->q, r, &s[ns].a);
		ns++;
	}
	if (ns == 0) {
		rc = 0;
		goto out;
	}
	/* Rates and the busiest URI of the busy ones. */
	q_reset(x);
	q_ranges(x, s, ns);
	q_add(x, " | stats by (%s:/24, _time:1m) count() n | stats by (%s) "
	    "max(n) peak", x->fn[FN_CLIENT], x->fn[FN_CLIENT]);
	if (ask(x, "subnet rates") != 0)
		goto out;
	for (size_t r = 0; r < x->q.nrows; r++) {
		struct span v = qresult_get(&x->q, r, "client_ip");
		struct ipaddr a;
		struct subnet *sn;
		if (v.p != NULL && ipaddr_parse(v, &a) == 0 &&
		    (sn = subnet_find(s, ns, &a)) != NULL)
			sn->peak = col_u64(&x->q, r, "peak");
	}
	q_reset(x);
	q_ranges(x, s, ns);
	q_add(x, " | stats by (%s:/24, %s) count() n | stats by (%s) "
	    "max(n) top", x->fn[FN_CLIENT], x->fn[FN_URI], x->fn[FN_CLIENT]);
	if (ask(x, "subnet busiest URI") != 0)
		goto out;
	for (size_t r = 0; r < x->q.nrows; r++) {
		struct span v = qresult_get(&x->q, r, "client_ip");
		struct ipaddr a;
		struct subnet *sn;
		if (v.p != NULL && ipaddr_parse(v, &a) == 0 &&
		    (sn = subnet_find(s, ns, &a)) != NULL)
			sn->top = col_u64(&x->q, r, "top");
	}
	{
		size_t keep = 0;
		for (size_t i = 0; i < ns; i++) {
			s[i].what = net_verdict(c, &s[i].a, s[i].peak, s[i].top);
			if (s[i].what != NULL)
				s[keep++] = s[i];
		}
		ns = keep;
	}
	if (ns == 0) {
		rc = 0;
		goto out;
	}
	/* The members of the suspect /24s. */
	q_reset(x);
	q_ranges(x, s, ns);
	q_add(x, " | stats by (%s) " NET_STATS, x->fn[FN_CLIENT],
	    NET_ARGS(x));
	if (ask(x, "subnet members") != 0)
		goto out;
	for (size_t i = 0; i < ns; i++) {
		struct finding *f = NULL;
		size_t active = 0, fresh = 0;
		char t[IPADDR_STRLEN + 8];

		for (size_t r = 0; r < x->q.nrows; r++) {
			struct netagg m;
			struct ipaddr a;
			struct span v = qresult_get(&x->q, r, "client_ip");
			if (v.p == NULL || ipaddr_parse_loose(v, &a) != 0 ||
			    !cidr_contains(&s[i].c, &a))
				continue;
			netagg_read(&x->q, r, &m);
			if (!member_active(c, &m, &s[i].a, s[i].what))
				continue;
			active++;
			{
				char ip[IPADDR_STRLEN];
				ipaddr_format(&a, ip, sizeof(ip));
				if (!flagged(x, ip))
					fresh++;
			}
		}
		/* Nothing new when each address was caught on its own. */
		if (active < c->subnet_min_members || fresh == 0)
			continue;
		cidr_format(&s[i].c, t, sizeof(t));
		f = report_add_finding(x->out, SC_SUBNET, SEV_SUBNET, t);
		f->cohort = 1;
		f->range = s[i].c;
		for (size_t r = 0; r < x->q.nrows; r++) {
			struct netagg m;
			struct ipaddr a;
			char ip[IPADDR_STRLEN];
			struct span v = qresult_get(&x->q, r, "client_ip");
			if (v.p == NULL || ipaddr_parse_loose(v, &a) != 0 ||
			    !cidr_contains(&s[i].c, &a))
				continue;
			netagg_read(&x->q, r, &m);
			if (!member_active(c, &m, &s[i].a, s[i].what))
				continue;
			ipaddr_format(&a, ip, sizeof(ip));
			finding_member(f, ip);
		}
		net_counts(f, &s[i].a, s[i].peak, s[i].top);
		finding_count(f, "members", (int64_t)active);
		finding_count(f, "offending", (int64_t)s[i].a.hits);
		f->first_ns = s[i].a.first;
		f->last_ns = s[i].a.last;
		{
			char who[IPADDR_STRLEN + 96];
			snprintf(who, sizeof(who), "%zu addresses of %s, each "
			    "under the per-address limits,", active, t);
			net_sentence(f, who, s[i].what, &s[i].a, s[i].peak,
			    s[i].top);
		}
	}
	/* Samples, in a second pass: the members' result is gone by now. */
	for (size_t i = 0; i < x->out->nf; i++) {
		struct finding *f = &x->out->f[i];
		struct subnet *sn;
		struct buf filt = BUF_INIT;
		if (f->scenario != SC_SUBNET || f->nsamples > 0)
			continue;
		sn = subnet_find(s, ns, &f->range.addr);
		if (sn == NULL)
			continue;
		buf_addf(&filt, "%s:ipv4_range(\"%s/24\") %s", x->fn[FN_CLIENT],
		    sn->net, what_filter(x, sn->what));
		if (cohort_samples(x, f, filt.p) != 0) {
			buf_release(&filt);
			goto out;
		}
		buf_release(&filt);
	}
	rc = 0;
out:
	free(s);
	return rc;
}

struct v6addr {
	struct ipaddr a;
	char ip[IPADDR_STRLEN];
	struct netagg m;
};

static int
v6_cmp(const void *a, const void *b)
{
	const struct v6addr *x = a, *y = b;

	return memcmp(x->a.b, y->a.b, 16);
}

/* One /64, [v, v + n) its addresses: asked about as a whole. */
static int
v6net(struct ctx *x, struct v6addr *v, size_t n)
{
	const struct analyst_config *c = x->c;
	struct buf in = BUF_INIT, filt = BUF_INIT;
	char **ips = xcalloc(n, sizeof(*ips));
	size_t nin = n < IN_CHUNK ? n : IN_CHUNK, active = 0;
	struct netagg a;
	struct cidr net;
	struct finding *f;
	char t[IPADDR_STRLEN + 8];
	const char *what;
	uint64_t peak = 0, top = 0;
	int rc = -1;

	for (size_t k = 0; k < n; k++)
		ips[k] = v[k].ip;
	add_in(x, &in, ips, nin);
	memset(&net, 0, sizeof(net));
	net.addr.family = 6;
	memcpy(net.addr.b, v[0].a.b, 8);
	net.prefix = 64;

	/* Distinct counts are only right for the /64 as one client. */
	q_reset(x);
	q_add(x, "%s | stats " NET_STATS, in.p, NET_ARGS(x));
	if (ask(x, "IPv6 /64") != 0)
		goto out;
	memset(&a, 0, sizeof(a));
	if (x->q.nrows > 0)
		netagg_read(&x->q, 0, &a);
	if (a.hits >= flood_floor(c)) {
		q_reset(x);
		q_add(x, "%s | stats by (_time:1m) count() n | stats max(n) "
		    "peak", in.p);
		if (ask(x, "IPv6 /64 rate") != 0)
			goto out;
		if (x->q.nrows > 0)
			peak = col_u64(&x->q, 0, "peak");
		q_reset(x);
		q_add(x, "%s | stats by (%s) count() n | stats max(n) top",
		    in.p, x->fn[FN_URI]);
		if (ask(x, "IPv6 /64 busiest URI") != 0)
			goto out;
		if (x->q.nrows > 0)
			top = col_u64(&x->q, 0, "top");
	}
	rc = 0;
	if ((what = net_verdict(c, &a, peak, top)) == NULL)
		goto out;
	for (size_t k = 0; k < n; k++)
		if (member_active(c, &v[k].m, &a, what))
			active++;
	if (active < c->subnet_min_members)
		goto out;
	cidr_format(&net, t, sizeof(t));
	f = report_add_finding(x->out, SC_V6, SEV_V6, t);
	f->cohort = 1;
	/* The whole /64 only when it is all of a piece: other people
	 * seen in it keep their access. */
	if (ratio(active, n) >= c->cohort_share)
		f->range = net;
	else
		finding_note(f, "%zu of the %zu addresses seen in %s took part: "
		    "only they are named", active, n, t);
	for (size_t k = 0; k < n; k++)
		if (member_active(c, &v[k].m, &a, what))
			finding_member(f, v[k].ip);
	net_counts(f, &a, peak, top);
	finding_count(f, "members", (int64_t)active);
	finding_count(f, "offending", (int64_t)a.hits);
	f->first_ns = a.first;
	f->last_ns = a.last;
	{
		char who[IPADDR_STRLEN + 96];
		snprintf(who, sizeof(who), "%zu addresses of one IPv6 /64 (%s)",
		    active, t);
		net_sentence(f, who, what, &a, peak, top);
	}
	buf_addf(&filt, "%s %s", in.p, what_filter(x, what));
	rc = cohort_samples(x, f, filt.p);
	/* One finding for the /64, not one per address it used. */
	if (rc == 0 && f->range.addr.family != 0)
		report_absorb(x->out, (size_t)(f - x->out->f));
out:
	free(ips);
	buf_release(&in);
	buf_release(&filt);
	return rc;
}

/*
 * IPv6 /64s: one host can use every address of its /64, so a scanner
 * that rotates through them looks like many clients with a request or
 * two each.  LogsQL buckets IPv4 only, so the addresses are grouped by
 * /64 here, and a /64 with enough of them is then asked about whole.
 */
static int
v6nets(struct ctx *x)
{
	const struct analyst_config *c = x->c;
	struct v6addr *v;
	size_t nv = 0, nnet = 0;
	int rc = 0;

	q_reset(x);
	q_add(x, "%s:~\":\" | stats by (%s) " NET_STATS, x->fn[FN_CLIENT],
	    x->fn[FN_CLIENT], NET_ARGS(x));
	if (ask(x, "IPv6 addresses") != 0)
		return -1;
	v = xcalloc(x->q.nrows ? x->q.nrows : 1, sizeof(*v));
	for (size_t r = 0; r < x->q.nrows; r++) {
		struct span s = qresult_get(&x->q, r, "client_ip");
		if (s.p == NULL || ipaddr_parse_loose(s, &v[nv].a) != 0 ||
		    v[nv].a.family != 6)
			continue;
		ipaddr_format(&v[nv].a, v[nv].ip, sizeof(v[nv].ip));
		netagg_read(&x->q, r, &v[nv].m);
		nv++;
	}
	qsort(v, nv, sizeof(*v), v6_cmp);
	for (size_t i = 0; i < nv && rc == 0;) {
		size_t j = i;
		uint64_t hits = 0, sig = 0;
		while (j < nv && memcmp(v[j].a.b, v[i].a.b, 8) == 0) {
			const struct netagg *m = &v[j].m;
			hits += m->hits;
			sig += m->nf + m->sens + m->inject + m->lfails +
			    m->badua;
			j++;
		}
		if (j - i >= c->subnet_min_members &&
		    (sig > 0 || hits >= flood_floor(c))) {
			if (nnet++ < V6NETS_MAX)
				rc = v6net(x, v + i, j - i);
			else if (nnet == V6NETS_MAX + 1)
				report_warn(x->out, "more than %d IPv6 /64s to "
				    "look at; the rest were not", V6NETS_MAX);
		}
		i = j;
	}
	free(v);
	return rc;
}

/* ---- one address at a time, for the guard */

/* The summary, peaks and busiest URI of the addresses already in x->cl,
 * through client_ip:in(...) only: the same numbers per_address reads
 * from the whole window, at the cost of a few small queries. */
static int
judge_ask(struct ctx *x, char *const *ips, size_t n)
{
	struct buf in = BUF_INIT;
	int rc = -1;

	add_in(x, &in, ips, n);
	q_reset(x);
	q_add(x, "%s | stats by (%s, _time:1m) count() n | filter n:>=%llu "
	    "| stats by (%s) max(n) peak", in.p, x->fn[FN_CLIENT],
	    (unsigned long long)flood_floor(x->c), x->fn[FN_CLIENT]);
	if (ask(x, "rate peaks") != 0)
		goto out;
	for (size_t r = 0; r < x->q.nrows; r++) {
		struct client *cl = client_lookup(x, qresult_get(&x->q, r,
		    "client_ip"));
		if (cl != NULL)
			cl->peak = col_u64(&x->q, r, "peak");
	}
	q_reset(x);
	q_add(x, "%s", in.p);
	q_summary(x);
	if (ask(x, "per-address summary") != 0)
		goto out;
	read_summary(x);
	rc = ask_tops(x);
out:
	buf_release(&in);
	return rc;
}

/* What an address that shows no abuse did: its signs below the
 * thresholds, or that it showed none. */
static void
judge_why(char *out, size_t outlen, const struct client *cl)
{
	struct buf b = BUF_INIT;
	const struct {
		uint64_t v;
		const char *what;
	} signs[] = {
		{ cl->nf, "refused or not found" },
		{ cl->secret + cl->admin, "sensitive paths" },
		{ cl->inject_n, "with payloads" },
		{ cl->lfails, "failed logins" },
		{ cl->badua, "with a scanner's agent" },
		{ cl->distress, "answered 5xx/429/499" },
	};

	for (size_t i = 0; i < ARRAY_LEN(signs); i++)
		if (signs[i].v > 0)
			buf_addf(&b, "%s%llu %s", b.len ? ", " : "",
			    (unsigned long long)signs[i].v, signs[i].what);
	if (cl->peak > 0)
		buf_addf(&b, "%sup to %llu a minute", b.len ? ", " : "",
		    (unsigned long long)cl->peak);
	if (b.len > 0)
		buf_addstr(&b, ": below every threshold");
	else
		buf_addstr(&b, "no errors, sensitive paths, payloads, failed "
		    "logins or scanner agents");
	snprintf(out, outlen, "%s", b.p);
	buf_release(&b);
}

int
analyst_judge_addresses(struct source *src, const struct analyst_config *c,
    const struct ipaddr *a, size_t n, int64_t start_ns, int64_t end_ns,
    struct analyst_judgement *out, char *err, size_t errlen)
{
	struct ctx x;
	struct report scratch;
	char **ips = NULL;
	size_t nips = 0;
	int rc = -1;

	if (n > ANALYST_JUDGE_MAX) {
		snprintf(err, errlen, "%zu addresses to judge, at most %d", n,
		    ANALYST_JUDGE_MAX);
		return -1;
	}
	memset(&x, 0, sizeof(x));
	report_init(&scratch);
	x.src = src;
	x.c = c;
	x.start = start_ns;
	x.end = end_ns;
	x.out = &scratch;
	x.err = err;
	x.errlen = errlen;
	err[0] = '\0';
	qresult_init(&x.q);
	field_names(&x);
	build_filters(&x);
	for (size_t i = 0; i < n; i++) {
		char t[IPADDR_STRLEN];
		size_t len = ipaddr_format(&a[i], t, sizeof(t));
		struct client *cl = client_get(&x, (struct span){ t, len });
		memset(&out[i], 0, sizeof(out[i]));
		out[i].first_ns = out[i].last_ns = TIME_NONE;
		/* A new client is the next one; one met before is earlier. */
		if (cl == NULL || (size_t)(cl - x.cl) != nips)
			continue; /* not an address, or asked twice */
		ips = xreallocarray(ips, nips + 1, sizeof(*ips));
		ips[nips++] = xstrdup(cl->ip);
	}
	if (nips > 0 && judge_ask(&x, ips, nips) != 0)
		goto out;
	for (size_t i = 0; i < x.ncl; i++)
		classify(&x, &x.cl[i]);
	for (int k = 0; k < K__COUNT; k++) {
		int any = 0;
		for (size_t i = 0; i < x.ncl; i++)
			if (x.cl[i].kind == k)
				any = 1;
		if (any && ask_offending(&x, k) != 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char t[IPADDR_STRLEN];
		struct analyst_judgement *j = &out[i];
		struct client *cl;

		ipaddr_format(&a[i], t, sizeof(t));
		if ((cl = client_find(&x, t)) == NULL || cl->hits == 0) {
			snprintf(j->why, sizeof(j->why), "never seen in the "
			    "logs");
			continue;
		}
		j->requests = cl->hits;
		if (cl->kind != K_NONE) {
			struct finding *f = report_add_finding(&scratch,
			    kinfo[cl->kind].scenario, 1, cl->ip);
			client_sentence(f, cl);
			j->abusive = 1;
			j->events = cl->off_n ? cl->off_n : cl->hits;
			j->first_ns = cl->off_first != TIME_NONE ?
			    cl->off_first : cl->first;
			j->last_ns = cl->off_last != TIME_NONE ?
			    cl->off_last : cl->last;
			snprintf(j->why, sizeof(j->why), "%s (%s)",
			    f->sentence != NULL ? f->sentence : "",
			    kinfo[cl->kind].scenario);
			continue;
		}
		j->first_ns = cl->first;
		j->last_ns = cl->last;
		judge_why(j->why, sizeof(j->why), cl);
	}
	rc = 0;
out:
	free_strs(ips, nips);
	report_release(&scratch);
	ctx_release(&x);
	return rc;
}

/* ---- the run */

int
analyst_run(struct source *src, const struct analyst_config *c,
    int64_t start_ns, int64_t end_ns, struct report *out, char *err,
    size_t errlen)
{
	struct ctx x;
	uint64_t q0 = src->queries;
	int64_t b0 = src->busy_ns;
	int rc = -1;

	memset(&x, 0, sizeof(x));
	x.src = src;
	x.c = c;
	x.start = start_ns;
	x.end = end_ns;
	x.out = out;
	x.err = err;
	x.errlen = errlen;
	err[0] = '\0';
	qresult_init(&x.q);
	field_names(&x);
	build_filters(&x);

	if (per_address(&x) != 0 || ua_cohorts(&x) != 0 ||
	    login_cohorts(&x) != 0 || subnets(&x) != 0 || v6nets(&x) != 0)
		goto out;
	if (out->nf > c->max_findings) {
		report_warn(out, "%zu findings, only the %llu most severe "
		    "kept", out->nf, (unsigned long long)c->max_findings);
		report_keep(out, (size_t)c->max_findings);
	}
	rc = 0;
out:
	out->queries = src->queries - q0;
	out->busy_ns = src->busy_ns - b0;
	ctx_release(&x);
	return rc;
}
