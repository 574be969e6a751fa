/*
 * JSON access logs: which key of which proxy fills which logrec field, and
 * how its value converts.
 *
 * A map is a list of entries "key -> field, conversion", grouped by field
 * in order of preference: Traefik's remote address is ClientHost, else
 * ClientAddr.  The first entry of a field whose value is present (not
 * null, "", "-", nor a status of 0) decides the field; when that value is
 * malformed the line is skipped rather than falling back, because a
 * malformed preferred field means the line is not what we think it is.
 * When the same key appears twice in a line, the later value wins (as in
 * most JSON decoders, and VictoriaLogs itself).
 *
 * Lookup is the hot path (a Traefik line has ~17 members), so each map
 * carries a small open-addressing table over a hash of the key's length
 * and a few of its bytes, folded to lower case so that HTTP header names
 * can be matched case-insensitively with the same table.  Values are not
 * converted in the callback: spans are only recorded, and the few that
 * win are converted once the line has been validated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

/* As jsonl.c: longer dotted keys are never reported, so never match. */
#define JMAP_KEY_MAX 256
#define JMAP_MAX_ENTRIES 64 /* per-line "present" flags fit a uint64_t */
#define JMAP_MAX_SPEC 32    /* user entries; the defaults fill the rest */
#define JMAP_HASH 128       /* power of two, > 2 * JMAP_MAX_ENTRIES */

enum jfield {
	JF_TIME, JF_ADDR, JF_XFF, JF_METHOD, JF_URI, JF_STATUS, JF_BYTES,
	JF_REQTIME, JF_UA, JF_REFERER, JF_HOST, JF__COUNT
};

enum jconv {
	CV_STR,     /* text as is */
	CV_TIME,    /* RFC 3339 or epoch, as string or number */
	CV_STATUS,  /* integer 100..999; 0 = absent */
	CV_INT,     /* non-negative integer (bytes) */
	CV_SEC,     /* duration in decimal seconds */
	CV_MS,      /* duration in decimal milliseconds */
	CV_NS,      /* duration in integer nanoseconds */
	CV_URLHOST, /* the host part of an absolute URL */
};

struct jentry {
	char *key;
	size_t keylen;
	size_t nocase_from; /* bytes from here compare case-insensitively */
	uint8_t field;      /* enum jfield */
	uint8_t conv;       /* enum jconv */
};

struct json_map {
	struct jentry e[JMAP_MAX_ENTRIES]; /* grouped by field, best first */
	size_t n;
	/* the entries of field f are first[f] .. first[f + 1] - 1 */
	size_t first[JF__COUNT + 1];
	size_t minkey, maxkey;
	uint8_t table[JMAP_HASH];    /* entry index + 1; 0 = free */
};

/* Per line: the last value seen for each entry. */
struct jline {
	const struct json_map *m;
	uint64_t set;
	struct span v[JMAP_MAX_ENTRIES];
	uint8_t t[JMAP_MAX_ENTRIES];
};

/* ---- builtin maps */

struct jdef {
	const char *key;
	size_t nocase_from;
	enum jfield field;
	enum jconv conv;
};

/* E: an exact key.  H: a prefix, then a header name in any case. */
#define E(k, f, c) { k, sizeof(k) - 1, f, c }
#define H(pre, h, f, c) { pre h, sizeof(pre) - 1, f, c }

static const struct jdef traefik_defs[] = {
	E("StartUTC", JF_TIME, CV_TIME),
	E("StartLocal", JF_TIME, CV_TIME),
	E("time", JF_TIME, CV_TIME),
	/* ClientHost is ClientAddr without the port. */
	E("ClientHost", JF_ADDR, CV_STR),
	E("ClientAddr", JF_ADDR, CV_STR),
	H("request_", "X-Forwarded-For", JF_XFF, CV_STR),
	E("RequestMethod", JF_METHOD, CV_STR),
	E("RequestPath", JF_URI, CV_STR),
	E("RequestHost", JF_HOST, CV_STR),
	E("DownstreamStatus", JF_STATUS, CV_STATUS),
	E("OriginStatus", JF_STATUS, CV_STATUS),
	E("DownstreamContentSize", JF_BYTES, CV_INT),
	E("Duration", JF_REQTIME, CV_NS),
	H("request_", "User-Agent", JF_UA, CV_STR),
	H("request_", "Referer", JF_REFERER, CV_STR),
};

static const struct jdef apisix_defs[] = {
	E("start_time", JF_TIME, CV_TIME), /* epoch milliseconds */
	E("client_ip", JF_ADDR, CV_STR),
	H("request.headers.", "x-forwarded-for", JF_XFF, CV_STR),
	E("request.method", JF_METHOD, CV_STR),
	E("request.uri", JF_URI, CV_STR),
	H("request.headers.", "host", JF_HOST, CV_STR),
	E("request.url", JF_HOST, CV_URLHOST),
	E("response.status", JF_STATUS, CV_STATUS),
	E("response.size", JF_BYTES, CV_INT),
	E("latency", JF_REQTIME, CV_MS),
	H("request.headers.", "user-agent", JF_UA, CV_STR),
	H("request.headers.", "referer", JF_REFERER, CV_STR),
};

/* request.client_ip is left out on purpose: it has Caddy's own
 * trusted_proxies applied, and we resolve the client ourselves. */
static const struct jdef caddy_defs[] = {
	E("ts", JF_TIME, CV_TIME),
	E("request.remote_ip", JF_ADDR, CV_STR),
	E("request.remote_addr", JF_ADDR, CV_STR), /* before 2.5: ip:port */
	H("request.headers.", "X-Forwarded-For", JF_XFF, CV_STR),
	E("request.method", JF_METHOD, CV_STR),
	E("request.uri", JF_URI, CV_STR),
	E("request.host", JF_HOST, CV_STR),
	E("status", JF_STATUS, CV_STATUS),
	E("size", JF_BYTES, CV_INT),
	E("duration", JF_REQTIME, CV_SEC),
	H("request.headers.", "User-Agent", JF_UA, CV_STR),
	H("request.headers.", "Referer", JF_REFERER, CV_STR),
};

/* The canonical names, nginx's variables as VictoriaLogs rows carry them;
 * also the defaults of the generic map. */
static const struct jdef vlogs_defs[] = {
	E("_time", JF_TIME, CV_TIME),
	E("remote_addr", JF_ADDR, CV_STR),
	E("http_x_forwarded_for", JF_XFF, CV_STR),
	E("request_method", JF_METHOD, CV_STR),
	E("request_uri", JF_URI, CV_STR),
	E("status", JF_STATUS, CV_STATUS),
	E("body_bytes_sent", JF_BYTES, CV_INT),
	E("request_time", JF_REQTIME, CV_SEC),
	E("http_user_agent", JF_UA, CV_STR),
	E("http_referer", JF_REFERER, CV_STR),
	E("host", JF_HOST, CV_STR),
};

#undef E
#undef H

/* ---- building maps */

static inline unsigned
lower(unsigned c)
{
	return c - 'A' < 26u ? c + 32 : c;
}

/* Cheap on purpose: length and four bytes, case-folded.  Keys of one
 * map differ in those almost always; the compare settles the rest. */
static inline unsigned
key_hash(const char *k, size_t n)
{
	const unsigned char *u = (const unsigned char *)k;
	uint32_t h;

	h = (uint32_t)n * 0x9e3779b1u;
	h ^= lower(u[0]) * 0x85ebca6bu;
	h ^= lower(u[n - 1]) * 0xc2b2ae35u;
	h ^= lower(u[n / 2]) * 0x27d4eb2fu;
	h ^= lower(u[n / 3]) * 0x165667b1u;
	return (h ^ (h >> 16)) & (JMAP_HASH - 1);
}

static inline int
key_match(const struct jentry *e, const char *k)
{
	const unsigned char *a = (const unsigned char *)e->key;
	const unsigned char *b = (const unsigned char *)k;
	size_t i;

	i = e->nocase_from;
	if (memcmp(a, b, i) != 0)
		return 0;
	for (; i < e->keylen; i++)
		if (lower(a[i]) != lower(b[i]))
			return 0;
	return 1;
}

static struct json_map *
map_new(void)
{
	struct json_map *m = xcalloc(1, sizeof(*m));

	m->minkey = SIZE_MAX;
	return m;
}

/* Add an entry; the caller checked the key (1..JMAP_KEY_MAX bytes) and
 * the room. */
static void
map_add(struct json_map *m, const char *key, size_t keylen,
    size_t nocase_from, enum jfield f, enum jconv c)
{
	struct jentry *e = &m->e[m->n++];

	e->key = xstrndup(key, keylen);
	e->keylen = keylen;
	e->nocase_from = nocase_from < keylen ? nocase_from : keylen;
	e->field = (uint8_t)f;
	e->conv = (uint8_t)c;
}

/* Group the entries by field, keeping each field's order (a stable
 * insertion sort: a few dozen entries), then index them. */
static void
map_finish(struct json_map *m)
{
	for (size_t i = 1; i < m->n; i++) {
		struct jentry t = m->e[i];
		size_t j = i;
		while (j > 0 && m->e[j - 1].field > t.field) {
			m->e[j] = m->e[j - 1];
			j--;
		}
		m->e[j] = t;
	}
	for (size_t f = 0, i = 0; f <= JF__COUNT; f++) {
		while (i < m->n && m->e[i].field < f)
			i++;
		m->first[f] = i;
	}
	memset(m->table, 0, sizeof(m->table));
	for (size_t i = 0; i < m->n; i++) {
		const struct jentry *e = &m->e[i];
		unsigned h = key_hash(e->key, e->keylen);
		while (m->table[h] != 0)
			h = (h + 1) & (JMAP_HASH - 1);
		m->table[h] = (uint8_t)(i + 1);
		if (e->keylen < m->minkey)
			m->minkey = e->keylen;
		if (e->keylen > m->maxkey)
			m->maxkey = e->keylen;
	}
}

static struct json_map *
map_from_defs(const struct jdef *d, size_t n)
{
	struct json_map *m = map_new();

	for (size_t i = 0; i < n; i++)
		map_add(m, d[i].key, strlen(d[i].key), d[i].nocase_from,
		    d[i].field, d[i].conv);
	map_finish(m);
	return m;
}

/*
 * A new map for a JSON format; NULL for the others.  The caller owns it
 * and frees it with json_map_free.  FMT_JSON with no spec is the
 * VictoriaLogs map.
 */
struct json_map *
json_map_builtin(int fmt)
{
	switch (fmt) {
	case FMT_TRAEFIK:
		return map_from_defs(traefik_defs, ARRAY_LEN(traefik_defs));
	case FMT_APISIX:
		return map_from_defs(apisix_defs, ARRAY_LEN(apisix_defs));
	case FMT_CADDY:
		return map_from_defs(caddy_defs, ARRAY_LEN(caddy_defs));
	case FMT_VLOGS:
	case FMT_JSON:
		return map_from_defs(vlogs_defs, ARRAY_LEN(vlogs_defs));
	default:
		return NULL;
	}
}

/* Canonical names a user may map, with the conversion they imply. */
static const struct {
	const char *name;
	enum jfield field;
} canon_names[] = {
	{ "_time", JF_TIME },
	{ "remote_addr", JF_ADDR },
	{ "client_ip", JF_ADDR }, /* when the peer logged is the client */
	{ "http_x_forwarded_for", JF_XFF },
	{ "request_method", JF_METHOD },
	{ "request_uri", JF_URI },
	{ "status", JF_STATUS },
	{ "body_bytes_sent", JF_BYTES },
	{ "request_time", JF_REQTIME },
	{ "http_user_agent", JF_UA },
	{ "http_referer", JF_REFERER },
	{ "host", JF_HOST },
};

static enum jconv
field_conv(enum jfield f)
{
	switch (f) {
	case JF_TIME: return CV_TIME;
	case JF_STATUS: return CV_STATUS;
	case JF_BYTES: return CV_INT;
	case JF_REQTIME: return CV_SEC;
	default: return CV_STR;
	}
}

static const char *
jfield_name(enum jfield f)
{
	for (size_t i = 0; i < ARRAY_LEN(canon_names); i++)
		if (canon_names[i].field == f)
			return canon_names[i].name;
	return "?";
}

static int
map_find_key(const struct json_map *m, struct span key)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].keylen == key.n &&
		    memcmp(m->e[i].key, key.p, key.n) == 0)
			return (int)i;
	return -1;
}

/*
 * "canonical=key" entries.  Naming a canonical field twice gives it
 * fallbacks, tried in the order given.  Fields not named keep their
 * VictoriaLogs name, unless the user gave that key to another field.
 */
struct json_map *
json_map_generic(const char *const *spec, size_t nspec, char *err,
    size_t errlen)
{
	struct json_map *m = map_new();
	int named[JF__COUNT] = { 0 };

	if (nspec > JMAP_MAX_SPEC) {
		snprintf(err, errlen, "json map: too many entries (%zu, at "
		    "most %d)", nspec, JMAP_MAX_SPEC);
		goto fail;
	}
	for (size_t i = 0; i < nspec; i++) {
		const char *s = spec[i] != NULL ? spec[i] : "";
		const char *eq = strchr(s, '=');
		struct span canon, key;
		size_t c;
		int dup;

		if (eq == NULL) {
			snprintf(err, errlen, "json map entry \"%s\": expected "
			    "canonical=key, e.g. _time=ts", s);
			goto fail;
		}
		canon = span_trim((struct span){ s, (size_t)(eq - s) });
		key = span_trim(span_str(eq + 1));
		for (c = 0; c < ARRAY_LEN(canon_names); c++)
			if (span_eq_str(canon, canon_names[c].name))
				break;
		if (c == ARRAY_LEN(canon_names)) {
			struct buf names = BUF_INIT;
			for (size_t k = 0; k < ARRAY_LEN(canon_names); k++)
				buf_addf(&names, "%s%s", k ? ", " : "",
				    canon_names[k].name);
			snprintf(err, errlen, "json map entry \"%s\": unknown "
			    "field \"%.*s\" (known: %s)", s, (int)canon.n,
			    canon.p, names.p);
			buf_release(&names);
			goto fail;
		}
		if (key.n == 0) {
			snprintf(err, errlen,
			    "json map entry \"%s\": empty key", s);
			goto fail;
		}
		if (key.n > JMAP_KEY_MAX) {
			snprintf(err, errlen, "json map entry for %s: key "
			    "longer than %d bytes", canon_names[c].name,
			    JMAP_KEY_MAX);
			goto fail;
		}
		if ((dup = map_find_key(m, key)) >= 0) {
			snprintf(err, errlen, "json map entry \"%s\": key "
			    "\"%.*s\" is already mapped to %s", s, (int)key.n,
			    key.p, jfield_name(m->e[dup].field));
			goto fail;
		}
		enum jfield f = canon_names[c].field;
		map_add(m, key.p, key.n, key.n, f, field_conv(f));
		named[f] = 1;
	}
	for (size_t i = 0; i < ARRAY_LEN(vlogs_defs); i++) {
		const struct jdef *d = &vlogs_defs[i];
		if (named[d->field] || map_find_key(m, span_str(d->key)) >= 0)
			continue;
		map_add(m, d->key, strlen(d->key), d->nocase_from, d->field,
		    d->conv);
	}
	map_finish(m);
	return m;
fail:
	json_map_free(m);
	return NULL;
}

void
json_map_free(struct json_map *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].key);
	free(m);
}

/* ---- parsing */

static int
map_cb(void *ctx, struct span key, enum json_type t, struct span v)
{
	struct jline *l = ctx;
	const struct json_map *m = l->m;
	unsigned h;

	if (key.n < m->minkey || key.n > m->maxkey)
		return 0;
	h = key_hash(key.p, key.n);
	for (;;) {
		unsigned x = m->table[h];
		if (x == 0)
			return 0;
		const struct jentry *e = &m->e[x - 1];
		if (e->keylen == key.n && key_match(e, key.p)) {
			l->v[x - 1] = v;
			l->t[x - 1] = (uint8_t)t;
			l->set |= UINT64_C(1) << (x - 1);
			return 0;
		}
		h = (h + 1) & (JMAP_HASH - 1);
	}
}

/*
 * A non-negative decimal ("15", "0.000929", ".5", "1.2e-3"), times
 * 10^scale, as an integer.  Finer digits are truncated; with `integral`
 * they must be zero.  -1 on a sign, junk or overflow.
 */
static int
num_scaled(struct span s, int scale, int integral, int64_t *out)
{
	struct decimal d;
	uint64_t r;
	int inexact;

	if (parse_decimal_exp(s, 0, &d) != 0 ||
	    decimal_to_u64(&d, scale, &r, &inexact) != 0 ||
	    r > (uint64_t)INT64_MAX || (integral && inexact))
		return -1;
	*out = (int64_t)r;
	return 0;
}

/* The host of "scheme://user@host:port/path": $host, without the port. */
static struct span
url_host(struct span u)
{
	size_t i = 0, a, b;

	while (i < u.n && ((u.p[i] | 0x20) >= 'a' && (u.p[i] | 0x20) <= 'z'))
		i++;
	if (i == 0 || u.n - i < 3 || memcmp(u.p + i, "://", 3) != 0)
		return SPAN_NULL;
	a = i + 3;
	for (b = a; b < u.n && u.p[b] != '/' && u.p[b] != '?' &&
	    u.p[b] != '#'; b++)
		if (u.p[b] == '@')
			a = b + 1; /* userinfo */
	if (a < b && u.p[a] == '[') {
		const char *cb = memchr(u.p + a, ']', b - a);
		if (cb == NULL)
			return SPAN_NULL;
		return (struct span){ u.p + a, (size_t)(cb - (u.p + a)) + 1 };
	}
	const char *colon = memchr(u.p + a, ':', b - a);
	if (colon != NULL)
		b = (size_t)(colon - u.p);
	return (struct span){ u.p + a, b - a };
}

static inline int
absent_str(struct span v)
{
	return v.n == 0 || (v.n == 1 && v.p[0] == '-');
}

/*
 * The entry deciding field f: the first of its entries seen with a
 * present value.  Returns 1 with its index in *ei; 0 when absent.
 */
static int
pick(const struct jline *l, enum jfield f, size_t *ei)
{
	const struct json_map *m = l->m;

	for (size_t i = m->first[f]; i < m->first[f + 1]; i++) {
		if ((l->set & (UINT64_C(1) << i)) == 0)
			continue;
		if (l->t[i] == JT_NULL ||
		    (l->t[i] == JT_STRING && absent_str(l->v[i])))
			continue;
		if (m->e[i].conv == CV_STATUS && l->v[i].n == 1 &&
		    l->v[i].p[0] == '0')
			continue; /* Traefik: no response sent downstream */
		*ei = i;
		return 1;
	}
	return 0;
}

static struct span
pick_str(const struct jline *l, enum jfield f)
{
	size_t i;

	if (!pick(l, f, &i))
		return SPAN_NULL;
	if (l->m->e[i].conv == CV_URLHOST)
		return url_host(l->v[i]); /* unusable: absent */
	return l->v[i];
}

/* A duration or size: 1 and *out, 0 absent, -1 malformed. */
static int
pick_num(const struct jline *l, enum jfield f, int64_t *out)
{
	size_t i;
	int scale = 0, integral = 0;

	if (!pick(l, f, &i))
		return 0;
	if (l->t[i] != JT_NUMBER && l->t[i] != JT_STRING)
		return -1;
	switch (l->m->e[i].conv) {
	case CV_SEC: scale = 9; break;
	case CV_MS: scale = 6; break;
	case CV_NS: scale = 0; break;
	default: integral = 1; break;
	}
	return num_scaled(l->v[i], scale, integral, out) == 0 ? 1 : -1;
}

static int
finish(const struct jline *l, struct logrec *out)
{
	size_t i;
	int64_t v;
	int rc;

	out->remote_addr = pick_str(l, JF_ADDR);
	out->xff = pick_str(l, JF_XFF);
	out->method = pick_str(l, JF_METHOD);
	out->uri = pick_str(l, JF_URI);
	out->user_agent = pick_str(l, JF_UA);
	out->referer = pick_str(l, JF_REFERER);
	out->host = pick_str(l, JF_HOST);

	if (!pick(l, JF_TIME, &i))
		return SKIP_TIME;
	if (l->t[i] == JT_NUMBER)
		rc = time_parse_epoch(l->v[i], &out->time_ns);
	else if (l->t[i] == JT_STRING)
		rc = time_parse_any(l->v[i], &out->time_ns);
	else
		rc = -1;
	if (rc != 0) {
		out->time_ns = TIME_NONE;
		return SKIP_TIME;
	}
	if (out->remote_addr.n == 0)
		return SKIP_ADDR;
	if (pick(l, JF_STATUS, &i)) {
		if ((l->t[i] != JT_NUMBER && l->t[i] != JT_STRING) ||
		    num_scaled(l->v[i], 0, 1, &v) != 0 ||
		    (v != 0 && (v < 100 || v > 999)))
			return SKIP_STATUS;
		out->status = (int)v;
	}
	if ((rc = pick_num(l, JF_BYTES, &v)) < 0)
		return SKIP_NUMBER;
	if (rc > 0)
		out->body_bytes = v;
	if ((rc = pick_num(l, JF_REQTIME, &v)) < 0)
		return SKIP_NUMBER;
	if (rc > 0)
		out->request_time_ns = v;
	return SKIP_NONE;
}

/*
 * 0 or a skip reason.  scratch is reset by the call; out's spans point
 * into the line or scratch.
 */
int
json_parse(const struct json_map *m, const char *line, size_t len,
    struct logrec *out, struct buf *scratch)
{
	struct jline l;

	memset(out, 0, sizeof(*out));
	out->time_ns = TIME_NONE;
	out->body_bytes = -1;
	out->request_time_ns = -1;
	l.m = m;
	l.set = 0;
	buf_reset(scratch);
	if (jsonl_scan(line, len, scratch, map_cb, &l) != 0)
		return SKIP_JSON;
	return finish(&l, out);
}
