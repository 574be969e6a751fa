/*
 * LogsQL on the embedded store.
 *
 * The common question, "the filter, then stats by a field or two", is
 * answered in one pass over the store's columns, block by block:
 *
 *  - a block whose time range lies outside the query's _time filter is
 *    skipped without reading a row; one entirely inside needs no per-row
 *    time check;
 *  - a string filter is decided once per distinct string, not per row:
 *    each (filter, pool) pair keeps a byte per interned id (unknown / no /
 *    yes), filled the first time the id is met, so a word filter on user
 *    agents runs a few thousand times, not ten million;
 *  - filters are evaluated a column at a time into a byte mask per block;
 *  - groups are found by integer: by the id itself when grouping by one
 *    string field, by a hash of the id tuple otherwise;
 *  - count_uniq collects (group, value id) pairs, drops repeats with a
 *    small direct-mapped cache, and counts distinct pairs at the end by
 *    partitioning them so each part's hash table stays in cache.
 *
 * Everything else (pipes after the first stats, filters on stats results,
 * sorting) works on strings, on a "row set": either references to store
 * rows or rows of a result table, read through one accessor.  Those paths
 * are simple rather than fast; they see few rows.
 *
 * Semantics follow VictoriaLogs (see logsql.c and the shared notes):
 * a missing field is an empty value; words are runs of letters, digits
 * and '_'; f:value is a word or phrase inside the value, f:=value the
 * whole value; numbers in range filters and sum/avg are read from the
 * value's text, and rows where it is not a number do not count.
 */
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"


/* Fields as the executor sees them: the store's, then these. */
enum {
	FX_MSG = F__COUNT,  /* "METHOD URI STATUS", built on the fly */
	FX_STREAM,          /* always "{}" */
	FX_NONE,            /* a field the store does not have: empty */
};

#define MEMO_SIZE 4096
#define RECENT_SIZE 4096

static int
name_to_fx(struct span name)
{
	int f;

	if (name.p == NULL || name.n == 0 || span_eq_str(name, "_msg"))
		return FX_MSG;
	if (span_eq_str(name, "_stream"))
		return FX_STREAM;
	f = field_lookup(name);
	return f >= 0 ? f : FX_NONE;
}

static int
fx_interned(int fx)
{
	return fx == F_CLIENT_IP || fx == F_REMOTE_ADDR || fx == F_XFF ||
	    fx == F_METHOD || fx == F_URI || fx == F_UA || fx == F_REFERER ||
	    fx == F_HOST;
}

static const uint32_t *
id_column(const struct store_block *b, int fx)
{
	switch (fx) {
	case F_CLIENT_IP: return b->client_ip;
	case F_REMOTE_ADDR: return b->remote_addr;
	case F_XFF: return b->xff;
	case F_METHOD: return b->method;
	case F_URI: return b->uri;
	case F_UA: return b->ua;
	case F_REFERER: return b->referer;
	case F_HOST: return b->host;
	default: return NULL;
	}
}

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* ---- matching one value's text */

static int
rune_before_is_token(struct span s, size_t pos)
{
	size_t st = pos, k;
	int tok;

	/* back to the lead byte of the previous code point */
	while (st > 0 && pos - st < 4) {
		st--;
		if (((unsigned char)s.p[st] & 0xc0) != 0x80)
			break;
	}
	tok = lq_token_rune((const unsigned char *)s.p + st, pos - st, &k);
	/* Invalid UTF-8 refuses the match, as VictoriaLogs' RuneError
	 * check does. */
	if (k != pos - st || ((unsigned char)s.p[st] >= 0x80 && k == 1))
		return 1;
	return tok;
}

static int
rune_at_is_token(struct span s, size_t pos)
{
	size_t k;
	int tok = lq_token_rune((const unsigned char *)s.p + pos, s.n - pos, &k);

	return tok || ((unsigned char)s.p[pos] >= 0x80 && k == 1);
}

/* Where a word or phrase starts with a word character, the match must not
 * start inside a word; same at its end. */
static int
find_phrase(struct span s, const char *ph, size_t n, int check_end)
{
	size_t pos = 0, k;
	int st_tok, end_tok;
	size_t last;

	if (n > s.n)
		return 0;
	st_tok = lq_token_rune((const unsigned char *)ph, n, &k);
	last = n - 1;
	while (last > 0 && ((unsigned char)ph[last] & 0xc0) == 0x80 &&
	    n - last < 4)
		last--;
	end_tok = lq_token_rune((const unsigned char *)ph + last, n - last, &k);
	while (pos + n <= s.n) {
		const char *hit = memmem(s.p + pos, s.n - pos, ph, n);
		if (hit == NULL)
			return 0;
		size_t at = (size_t)(hit - s.p);
		if (st_tok && at > 0 && rune_before_is_token(s, at)) {
			pos = at + 1;
			continue;
		}
		if (check_end && end_tok && at + n < s.n &&
		    rune_at_is_token(s, at + n)) {
			pos = at + 1;
			continue;
		}
		return 1;
	}
	return 0;
}

struct xctx;
static int64_t resolve_tb(enum lq_tkind kind, int64_t v, int64_t now,
    int64_t offset, int hi);

static void
lower_into(struct buf *b, struct span v)
{
	buf_reset(b);
	buf_grow(b, v.n);
	for (size_t i = 0; i < v.n; i++) {
		char c = v.p[i];
		b->p[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
	b->len = v.n;
	b->p[v.n] = '\0';
}

/* Does leaf f match the value v (empty when the field is missing)? */
static int
match_text(const struct lq_filter *f, struct span v, struct buf *scratch,
    int64_t now)
{
	regmatch_t m[1];
	double d;
	uint32_t ip;
	int64_t t;

	if (v.p == NULL)
		v.p = "";
	switch (f->op) {
	case LQ_ALL:
		return 1;
	case LQ_PHRASE:
		if (f->value.n == 0)
			return v.n == 0;
		return find_phrase(v, f->value.p, f->value.n, 1);
	case LQ_PREFIX:
		if (f->value.n == 0)
			return v.n > 0;
		return find_phrase(v, f->value.p, f->value.n, 0);
	case LQ_SUBSTR:
		if (f->value.n == 0)
			return 1;
		return f->value.n <= v.n &&
		    memmem(v.p, v.n, f->value.p, f->value.n) != NULL;
	case LQ_IPHRASE:
	case LQ_IPREFIX:
		if (f->value.n == 0)
			return f->op == LQ_IPHRASE ? v.n == 0 : v.n > 0;
		lower_into(scratch, v);
		return find_phrase((struct span){ scratch->p, scratch->len },
		    f->value.p, f->value.n, f->op == LQ_IPHRASE);
	case LQ_EXACT:
		return v.n == f->value.n &&
		    (v.n == 0 || memcmp(v.p, f->value.p, v.n) == 0);
	case LQ_EXACT_PREFIX:
		return v.n >= f->value.n &&
		    (f->value.n == 0 || memcmp(v.p, f->value.p, f->value.n) == 0);
	case LQ_REGEXP:
		/* A NUL-terminated copy: store strings are not, and some
		 * regexec() wrappers (sanitizers) read to the NUL even with
		 * REG_STARTEND.  REG_STARTEND keeps embedded NULs matchable. */
		buf_reset(scratch);
		buf_add(scratch, v.p, v.n);
		m[0].rm_so = 0;
		m[0].rm_eo = (regoff_t)v.n;
		return regexec(f->re, scratch->p, 1, m, REG_STARTEND) == 0;
	case LQ_IN:
		for (size_t i = 0; i < f->nvals; i++)
			if (v.n == f->vals[i].n && (v.n == 0 ||
			    memcmp(v.p, f->vals[i].p, v.n) == 0))
				return 1;
		return 0;
	case LQ_RANGE:
		return lq_parse_float(v, &d) == 0 && d >= f->lo && d <= f->hi;
	case LQ_IPV4_RANGE:
		return lq_parse_ipv4(v, &ip) == 0 && ip >= f->ip_lo &&
		    ip <= f->ip_hi;
	case LQ_TIME:
		if (time_parse_rfc3339(v, &t) != 0)
			return 0;
		return t >= resolve_tb(f->t.lo_kind, f->t.lo, now, f->t.offset,
		    0) && t <= resolve_tb(f->t.hi_kind, f->t.hi, now,
		    f->t.offset, 1);
	default:
		return 0;
	}
}

static int64_t
sat_sub(int64_t a, int64_t b)
{
	if (b > 0 && a < INT64_MIN + b)
		return INT64_MIN;
	if (b < 0 && a > INT64_MAX + b)
		return INT64_MAX;
	return a - b;
}

static int64_t
resolve_tb(enum lq_tkind kind, int64_t v, int64_t now, int64_t offset,
    int hi)
{
	int64_t t;

	switch (kind) {
	case LQT_ABS:
		t = v;
		break;
	case LQT_NOW:
		t = sat_sub(now, v);
		break;
	default:
		return hi ? INT64_MAX : INT64_MIN;
	}
	if (t == INT64_MAX || t == INT64_MIN)
		return t;
	return sat_sub(t, offset);
}

/* ---- the executor's context */

struct memo {
	uint64_t k1[MEMO_SIZE], k2[MEMO_SIZE];
	uint8_t res[MEMO_SIZE]; /* 0 empty, 1 no, 2 yes */
};

/* A filter node prepared for the store. */
struct xf {
	const struct lq_filter *f;
	int fx;
	struct xf **kids;
	size_t nkids;
	int64_t tlo, thi;        /* LQ_TIME, resolved */
	uint8_t *lazy;           /* per id (or per status): 0 ?, 1 no, 2 yes */
	size_t nlazy;
	struct memo *memo;
	int konst;               /* FX_STREAM, FX_NONE: -1 not yet */
};

struct xctx {
	const struct store *s;
	int64_t now;
	char *err;
	size_t errlen;
	struct buf scratch, msg, msg2;
	uint8_t *tmp[LOGSQL_MAX_DEPTH + 8];
	struct xf **all_xf;
	size_t nxf, xfcap;
};

static void
xf_free_all(struct xctx *x)
{
	for (size_t i = 0; i < x->nxf; i++) {
		struct xf *f = x->all_xf[i];
		free(f->kids);
		free(f->lazy);
		free(f->memo);
		free(f);
	}
	free(x->all_xf);
	x->all_xf = NULL;
	x->nxf = 0;
}

static struct xf *
xf_build(struct xctx *x, const struct lq_filter *f)
{
	struct xf *xf = xcalloc(1, sizeof(*xf));

	if (x->nxf == x->xfcap) {
		x->xfcap = x->xfcap ? x->xfcap * 2 : 16;
		x->all_xf = xreallocarray(x->all_xf, x->xfcap,
		    sizeof(*x->all_xf));
	}
	x->all_xf[x->nxf++] = xf;
	xf->f = f;
	xf->konst = -1;
	xf->fx = f->op == LQ_TIME ? F_TIME :
	    name_to_fx((struct span){ f->field.p, f->field.n });
	if (f->op == LQ_TIME) {
		xf->tlo = resolve_tb(f->t.lo_kind, f->t.lo, x->now, f->t.offset,
		    0);
		xf->thi = resolve_tb(f->t.hi_kind, f->t.hi, x->now, f->t.offset,
		    1);
	}
	if (f->nkids > 0) {
		xf->kids = xcalloc(f->nkids, sizeof(*xf->kids));
		xf->nkids = f->nkids;
		for (size_t i = 0; i < f->nkids; i++)
			xf->kids[i] = xf_build(x, f->kids[i]);
		/* Time filters first in an AND: they decide whole blocks. */
		if (f->op == LQ_AND) {
			size_t w = 0;
			for (size_t i = 0; i < xf->nkids; i++)
				if (xf->kids[i]->f->op == LQ_TIME) {
					struct xf *t = xf->kids[w];
					xf->kids[w++] = xf->kids[i];
					xf->kids[i] = t;
				}
		}
	}
	return xf;
}

static uint8_t *
tmpmask(struct xctx *x, int depth)
{
	if (depth >= (int)ARRAY_LEN(x->tmp))
		depth = (int)ARRAY_LEN(x->tmp) - 1;
	if (x->tmp[depth] == NULL)
		x->tmp[depth] = xmalloc(STORE_BLOCK_ROWS);
	return x->tmp[depth];
}

/* The text of field fx of row i of block b; _msg is built in *msg. */
static struct span
row_value(const struct xctx *x, const struct store_block *b, size_t i,
    int fx, char *tmp, size_t tmplen, struct buf *msg)
{
	struct span r = { "", 0 };

	if (fx < F__COUNT)
		return store_value(x->s, b, i, (enum field)fx, tmp, tmplen);
	if (fx == FX_STREAM)
		return SPAN_LIT("{}");
	if (fx != FX_MSG)
		return r;
	/* "GET /health 200", as the vlogs.jsonl files have it; parts that
	 * are missing are left out with their space. */
	struct span parts[3];
	char st[8];
	parts[0] = intern_get(&x->s->pool_method, b->method[i]);
	parts[1] = intern_get(&x->s->pool_uri, b->uri[i]);
	parts[2].p = st;
	parts[2].n = b->status[i] ? (size_t)snprintf(st, sizeof(st), "%u",
	    b->status[i]) : 0;
	buf_reset(msg);
	for (int k = 0; k < 3; k++) {
		if (parts[k].n == 0)
			continue;
		if (msg->len)
			buf_addch(msg, ' ');
		buf_add(msg, parts[k].p, parts[k].n);
	}
	r.p = msg->len ? msg->p : "";
	r.n = msg->len;
	return r;
}

static int
memo_match(struct xctx *x, struct xf *xf, uint64_t k1, uint64_t k2,
    const struct store_block *b, size_t i)
{
	char tmp[64];
	size_t h;

	if (xf->memo == NULL)
		xf->memo = xcalloc(1, sizeof(*xf->memo));
	h = (size_t)(mix(k1 * 31 + k2) & (MEMO_SIZE - 1));
	if (xf->memo->res[h] != 0 && xf->memo->k1[h] == k1 &&
	    xf->memo->k2[h] == k2)
		return xf->memo->res[h] - 1;
	struct span v = row_value(x, b, i, xf->fx, tmp, sizeof(tmp), &x->msg);
	int r = match_text(xf->f, v, &x->scratch, x->now);
	xf->memo->k1[h] = k1;
	xf->memo->k2[h] = k2;
	xf->memo->res[h] = (uint8_t)(r + 1);
	return r;
}

/* A leaf over the n rows of a block, into out[] (0/1). */
static void
leaf_block(struct xctx *x, struct xf *xf, const struct store_block *b,
    uint8_t *out)
{
	const struct lq_filter *f = xf->f;
	size_t n = b->n;
	char tmp[TIME_STRLEN + 8];

	if (f->op == LQ_TIME) {
		if (b->tmin >= xf->tlo && b->tmax <= xf->thi) {
			memset(out, 1, n);
			return;
		}
		if (b->tmax < xf->tlo || b->tmin > xf->thi) {
			memset(out, 0, n);
			return;
		}
		for (size_t i = 0; i < n; i++)
			out[i] = b->time_ns[i] >= xf->tlo &&
			    b->time_ns[i] <= xf->thi;
		return;
	}
	if (fx_interned(xf->fx)) {
		const struct intern *pool = store_pool(x->s, (enum field)xf->fx);
		const uint32_t *col = id_column(b, xf->fx);
		if (xf->lazy == NULL) {
			xf->nlazy = intern_count(pool);
			xf->lazy = xcalloc(xf->nlazy ? xf->nlazy : 1, 1);
		}
		uint8_t *lz = xf->lazy;
		for (size_t i = 0; i < n; i++) {
			uint32_t id = col[i];
			uint8_t v = id < xf->nlazy ? lz[id] : 0;
			if (v == 0) {
				v = (uint8_t)(match_text(f, intern_get(pool, id),
				    &x->scratch, x->now) + 1);
				if (id < xf->nlazy)
					lz[id] = v;
			}
			out[i] = v >> 1;
		}
		return;
	}
	switch (xf->fx) {
	case F_STATUS:
		if (xf->lazy == NULL) {
			xf->nlazy = 65536;
			xf->lazy = xcalloc(65536, 1);
		}
		for (size_t i = 0; i < n; i++) {
			uint16_t st = b->status[i];
			uint8_t v = xf->lazy[st];
			if (v == 0) {
				struct span sv = store_value(x->s, b, i, F_STATUS,
				    tmp, sizeof(tmp));
				v = (uint8_t)(match_text(f, sv, &x->scratch,
				    x->now) + 1);
				xf->lazy[st] = v;
			}
			out[i] = v >> 1;
		}
		return;
	case F_BYTES:
		for (size_t i = 0; i < n; i++)
			out[i] = (uint8_t)memo_match(x, xf,
			    (uint64_t)b->bytes[i], 0, b, i);
		return;
	case F_REQTIME:
		for (size_t i = 0; i < n; i++)
			out[i] = (uint8_t)memo_match(x, xf, b->reqtime_us[i], 0,
			    b, i);
		return;
	case FX_MSG:
		for (size_t i = 0; i < n; i++)
			out[i] = (uint8_t)memo_match(x, xf,
			    ((uint64_t)b->method[i] << 16) | b->status[i],
			    b->uri[i], b, i);
		return;
	case FX_STREAM:
	case FX_NONE:
		if (xf->konst < 0)
			xf->konst = match_text(f, xf->fx == FX_STREAM ?
			    SPAN_LIT("{}") : SPAN_LIT(""), &x->scratch, x->now);
		memset(out, xf->konst, n);
		return;
	default: /* _time read as text */
		for (size_t i = 0; i < n; i++) {
			struct span sv = store_value(x->s, b, i, F_TIME, tmp,
			    sizeof(tmp));
			out[i] = (uint8_t)match_text(f, sv, &x->scratch, x->now);
		}
		return;
	}
}

static int
all_value(const uint8_t *m, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (m[i] != v)
			return 0;
	return 1;
}

static void
xf_block(struct xctx *x, struct xf *xf, const struct store_block *b,
    uint8_t *out, int depth)
{
	size_t n = b->n;
	uint8_t *t;

	switch (xf->f->op) {
	case LQ_ALL:
		memset(out, 1, n);
		return;
	case LQ_AND:
	case LQ_OR:
		xf_block(x, xf->kids[0], b, out, depth + 1);
		t = tmpmask(x, depth);
		for (size_t k = 1; k < xf->nkids; k++) {
			int and = xf->f->op == LQ_AND;
			if (all_value(out, n, and ? 0 : 1))
				return;
			xf_block(x, xf->kids[k], b, t, depth + 1);
			if (and)
				for (size_t i = 0; i < n; i++)
					out[i] &= t[i];
			else
				for (size_t i = 0; i < n; i++)
					out[i] |= t[i];
		}
		return;
	case LQ_NOT:
		xf_block(x, xf->kids[0], b, out, depth + 1);
		for (size_t i = 0; i < n; i++)
			out[i] ^= 1;
		return;
	default:
		leaf_block(x, xf, b, out);
		return;
	}
}

/* A filter's verdict on the whole block, if it can be told from the
 * block's time range alone: 0 none match, 1 all match, -1 look. */
static int
xf_block_hint(const struct xf *xf, const struct store_block *b)
{
	switch (xf->f->op) {
	case LQ_ALL:
		return 1;
	case LQ_TIME:
		if (b->tmin >= xf->tlo && b->tmax <= xf->thi)
			return 1;
		if (b->tmax < xf->tlo || b->tmin > xf->thi)
			return 0;
		return -1;
	case LQ_AND: {
		int all = 1;
		for (size_t k = 0; k < xf->nkids; k++) {
			int h = xf_block_hint(xf->kids[k], b);
			if (h == 0)
				return 0;
			if (h < 0)
				all = 0;
		}
		return all ? 1 : -1;
	}
	default:
		return -1;
	}
}

/* ---- a hash map of u64 tuples to dense codes */

struct tmap {
	size_t w;               /* u64s per key */
	uint64_t *keys;         /* code * w */
	size_t n, cap;
	uint32_t *slots;        /* code + 1 */
	size_t nslots;
};

static void
tmap_init(struct tmap *m, size_t w)
{
	memset(m, 0, sizeof(*m));
	m->w = w ? w : 1;
	m->nslots = 1024;
	m->slots = xcalloc(m->nslots, sizeof(*m->slots));
}

static void
tmap_release(struct tmap *m)
{
	free(m->keys);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static uint64_t
tuple_hash(const uint64_t *k, size_t w)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < w; i++)
		h = mix(h ^ (k[i] + 0x632be59bd9b4e019ULL * (i + 1)));
	return h;
}

static void
tmap_grow(struct tmap *m)
{
	size_t ns = m->nslots * 2, mask = ns - 1;
	uint32_t *slots = xcalloc(ns, sizeof(*slots));

	for (size_t c = 0; c < m->n; c++) {
		size_t j = tuple_hash(m->keys + c * m->w, m->w) & mask;
		while (slots[j] != 0)
			j = (j + 1) & mask;
		slots[j] = (uint32_t)c + 1;
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = ns;
}

/* The code of key k; *added set when it is new.  UINT32_MAX when the map
 * holds max keys already. */
static uint32_t
tmap_get(struct tmap *m, const uint64_t *k, size_t max, int *added)
{
	size_t mask = m->nslots - 1, j = tuple_hash(k, m->w) & mask;

	*added = 0;
	while (m->slots[j] != 0) {
		uint32_t c = m->slots[j] - 1;
		if (memcmp(m->keys + (size_t)c * m->w, k,
		    m->w * sizeof(*k)) == 0)
			return c;
		j = (j + 1) & mask;
	}
	if (m->n >= max)
		return UINT32_MAX;
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->keys = xreallocarray(m->keys, m->cap, m->w * sizeof(*k));
	}
	memcpy(m->keys + m->n * m->w, k, m->w * sizeof(*k));
	m->slots[j] = (uint32_t)m->n + 1;
	*added = 1;
	m->n++;
	if (m->n * 2 > m->nslots)
		tmap_grow(m);
	return (uint32_t)(m->n - 1);
}

/* ---- distinct (group, value) pairs */

#define PBITS 11
#define NPART (1 << PBITS)

struct pairs {
	uint64_t recent[RECENT_SIZE]; /* key + 1 */
	size_t hist[NPART];           /* pairs per partition */
	uint64_t *v;
	size_t n, cap;
};

static inline size_t
pair_part(uint64_t key)
{
	return (size_t)(mix(key) >> (64 - PBITS));
}

/*
 * Reserving room for every row at once costs nothing until touched (the
 * allocator maps it lazily) and saves copying a growing array.
 */
static void
pairs_reserve(struct pairs *p, size_t n)
{
	if (n > p->cap) {
		p->v = xreallocarray(p->v, n, sizeof(*p->v));
		p->cap = n;
	}
}

static inline void
pairs_add(struct pairs *p, uint64_t key)
{
	uint64_t h = mix(key);
	size_t r = (size_t)(h & (RECENT_SIZE - 1));

	if (p->recent[r] == key + 1)
		return;
	p->recent[r] = key + 1;
	if (p->n == p->cap)
		pairs_reserve(p, p->cap ? p->cap * 2 : 4096);
	p->v[p->n++] = key;
	p->hist[h >> (64 - PBITS)]++;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* cnt[group] = distinct values of the group. */
static void
pairs_count(struct pairs *p, uint64_t *cnt)
{
	if (p->n < 65536) {
		qsort(p->v, p->n, sizeof(*p->v), u64_cmp);
		for (size_t i = 0; i < p->n; i++)
			if (i == 0 || p->v[i] != p->v[i - 1])
				cnt[p->v[i] >> 32]++;
		return;
	}
	/* Partition by hash (one scatter pass; the sizes were counted as
	 * the pairs came) so that each part's table fits in cache. */
	size_t *start = xcalloc(NPART + 1, sizeof(*start));
	size_t *fill = xcalloc(NPART, sizeof(*fill));
	uint64_t *out = xreallocarray(NULL, p->n, sizeof(*out));
	size_t maxpart = 0;

	for (size_t k = 0; k < NPART; k++) {
		if (p->hist[k] > maxpart)
			maxpart = p->hist[k];
		start[k + 1] = start[k] + p->hist[k];
		fill[k] = start[k];
	}
	for (size_t i = 0; i < p->n; i++)
		out[fill[pair_part(p->v[i])]++] = p->v[i];
	free(fill);
	size_t ns = 16;
	while (ns < maxpart * 2)
		ns *= 2;
	uint64_t *tab = xreallocarray(NULL, ns, sizeof(*tab));
	for (size_t k = 0; k < NPART; k++) {
		size_t a = start[k], e = start[k + 1], tn = 16;
		while (tn < (e - a) * 2)
			tn *= 2;
		memset(tab, 0, tn * sizeof(*tab));
		for (size_t i = a; i < e; i++) {
			uint64_t key = out[i];
			/* low hash bits: the high ones chose the partition */
			size_t j = (size_t)(mix(key) & (tn - 1));
			while (tab[j] != 0 && tab[j] != key + 1)
				j = (j + 1) & (tn - 1);
			if (tab[j] == 0) {
				tab[j] = key + 1;
				cnt[key >> 32]++;
			}
		}
	}
	free(tab);
	free(out);
	free(start);
}

/* ---- row sets: store rows or result rows, read one way */

enum { RS_REFS = 1, RS_TABLE };

struct rowset {
	int kind;
	uint64_t *refs;          /* (block << 32) | row */
	struct qresult *t;       /* RS_TABLE, owned */
	uint32_t *rows;          /* RS_TABLE: row numbers in t */
	size_t n, cap;
	struct span *proj;       /* `fields`: names in output order */
	size_t nproj;
};

static void
rs_release(struct rowset *rs)
{
	free(rs->refs);
	if (rs->t != NULL) {
		qresult_release(rs->t);
		free(rs->t);
	}
	free(rs->rows);
	free(rs->proj);
	memset(rs, 0, sizeof(*rs));
}

static struct span
table_get(const struct qresult *t, size_t row, struct span name)
{
	size_t n = qresult_row_len(t, row);

	for (size_t i = 0; i < n; i++)
		if (span_eq(qresult_name(t, row, i), name))
			return qresult_value(t, row, i);
	return SPAN_LIT("");
}

/* Field `name` (fx: its store field for refs) of row k. */
static struct span
rs_get(struct xctx *x, const struct rowset *rs, size_t k, struct span name,
    int fx, char *tmp, size_t tmplen, struct buf *msg)
{
	if (rs->proj != NULL) {
		size_t i;
		for (i = 0; i < rs->nproj; i++)
			if (span_eq(rs->proj[i], name))
				break;
		if (i == rs->nproj)
			return SPAN_LIT("");
	}
	if (rs->kind == RS_TABLE)
		return table_get(rs->t, rs->rows[k], name);
	uint64_t r = rs->refs[k];
	return row_value(x, x->s->blocks[r >> 32], (size_t)(r & 0xffffffffu),
	    fx, tmp, tmplen, msg);
}

static int
row_filter(struct xctx *x, const struct lq_filter *f, const struct rowset *rs,
    size_t k)
{
	char tmp[TIME_STRLEN + 8];

	switch (f->op) {
	case LQ_ALL:
		return 1;
	case LQ_AND:
		for (size_t i = 0; i < f->nkids; i++)
			if (!row_filter(x, f->kids[i], rs, k))
				return 0;
		return 1;
	case LQ_OR:
		for (size_t i = 0; i < f->nkids; i++)
			if (row_filter(x, f->kids[i], rs, k))
				return 1;
		return 0;
	case LQ_NOT:
		return !row_filter(x, f->kids[0], rs, k);
	default:
		break;
	}
	struct span name = f->op == LQ_TIME ? SPAN_LIT("_time") :
	    f->field.p == NULL ? SPAN_LIT("_msg") :
	    (struct span){ f->field.p, f->field.n };
	struct span v = rs_get(x, rs, k, name, f->op == LQ_TIME ? F_TIME :
	    name_to_fx(name), tmp, sizeof(tmp), &x->msg);
	return match_text(f, v, &x->scratch, x->now);
}

static void
rs_filter(struct xctx *x, struct rowset *rs, const struct lq_filter *f)
{
	size_t w = 0;

	for (size_t k = 0; k < rs->n; k++) {
		if (!row_filter(x, f, rs, k))
			continue;
		if (rs->kind == RS_REFS)
			rs->refs[w++] = rs->refs[k];
		else
			rs->rows[w++] = rs->rows[k];
	}
	rs->n = w;
}

static void
rs_slice(struct rowset *rs, uint64_t off, uint64_t lim)
{
	if (off >= rs->n) {
		rs->n = 0;
		return;
	}
	if (off > 0) {
		size_t keep = rs->n - (size_t)off;
		if (rs->kind == RS_REFS)
			memmove(rs->refs, rs->refs + off, keep * sizeof(*rs->refs));
		else
			memmove(rs->rows, rs->rows + off, keep * sizeof(*rs->rows));
		rs->n = keep;
	}
	if (lim > 0 && lim < rs->n)
		rs->n = (size_t)lim;
}

static void
rs_fields(struct rowset *rs, const struct lq_str *names, size_t n)
{
	struct span *np = xcalloc(n ? n : 1, sizeof(*np));
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		struct span s = { names[i].p, names[i].n };
		int keep = rs->proj == NULL;
		for (size_t j = 0; !keep && j < rs->nproj; j++)
			keep = span_eq(rs->proj[j], s);
		for (size_t j = 0; keep && j < w; j++)
			if (span_eq(np[j], s))
				keep = 0;
		if (keep)
			np[w++] = s;
	}
	free(rs->proj);
	rs->proj = np;
	rs->nproj = w;
}

/* ---- sorting */

struct sortctx {
	struct lq_vkey *keys;     /* n * nk */
	size_t nk;
	const int *desc;          /* per key */
	const int *bytes;         /* per key: plain byte order (top's ties) */
	int rev;
};

static int
keys_cmp(const struct sortctx *c, const struct lq_vkey *ka,
    const struct lq_vkey *kb)
{
	for (size_t j = 0; j < c->nk; j++) {
		int r;
		if (c->bytes[j]) {
			size_t m = ka[j].s.n < kb[j].s.n ? ka[j].s.n : kb[j].s.n;
			r = m ? memcmp(ka[j].s.p, kb[j].s.p, m) : 0;
			if (r == 0)
				r = ka[j].s.n < kb[j].s.n ? -1 :
				    ka[j].s.n > kb[j].s.n;
			r = r < 0 ? -1 : r > 0;
		} else
			r = lq_vkey_cmp(&ka[j], &kb[j]);
		if (c->desc[j])
			r = -r;
		if (r != 0)
			return c->rev ? -r : r;
	}
	return 0;
}

static int
sort_cmp(const struct sortctx *c, uint32_t a, uint32_t b)
{
	return keys_cmp(c, &c->keys[(size_t)a * c->nk],
	    &c->keys[(size_t)b * c->nk]);
}

/* Stable merge sort of positions. */
static void
msort(const struct sortctx *c, uint32_t *v, uint32_t *tmp, size_t n)
{
	if (n < 2)
		return;
	if (n <= 16) {
		for (size_t i = 1; i < n; i++) {
			uint32_t e = v[i];
			size_t j = i;
			while (j > 0 && sort_cmp(c, v[j - 1], e) > 0) {
				v[j] = v[j - 1];
				j--;
			}
			v[j] = e;
		}
		return;
	}
	size_t h = n / 2, i = 0, j = h, k = 0;
	msort(c, v, tmp, h);
	msort(c, v + h, tmp, n - h);
	if (sort_cmp(c, v[h - 1], v[h]) <= 0)
		return;
	while (i < h && j < n)
		tmp[k++] = sort_cmp(c, v[j], v[i]) < 0 ? v[j++] : v[i++];
	while (i < h)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

/* The sort keys of row k, as text in *text at offs[]/lens[]. */
static void
row_keys(struct xctx *x, const struct rowset *rs, size_t k,
    const struct lq_sortkey *keys, size_t nk, const int *fxs,
    struct buf *text, size_t *offs, size_t *lens)
{
	char tmp[TIME_STRLEN + 8];

	for (size_t j = 0; j < nk; j++) {
		struct span v = rs_get(x, rs, k, (struct span){ keys[j].field.p,
		    keys[j].field.n }, fxs[j], tmp, sizeof(tmp), &x->msg);
		offs[j] = text->len;
		lens[j] = v.n;
		buf_add(text, v.p, v.n);
	}
}

/* One kept row of a bounded sort: its keys live in its own text. */
struct topent {
	struct lq_vkey *k;
	struct buf text;
	size_t pos;
};

/* a after b in the output (keys, then the original position) */
static int
top_after(const struct sortctx *c, const struct topent *a,
    const struct topent *b)
{
	int r = keys_cmp(c, a->k, b->k);

	return r != 0 ? r > 0 : a->pos > b->pos;
}

static void
top_sift(const struct sortctx *c, struct topent *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && top_after(c, &h[l], &h[m]))
			m = l;
		if (r < n && top_after(c, &h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		struct topent t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void
topent_set(struct topent *e, const struct buf *text, const size_t *offs,
    const size_t *lens, size_t nk, size_t pos)
{
	buf_reset(&e->text);
	buf_add(&e->text, text->p, text->len);
	for (size_t j = 0; j < nk; j++)
		lq_vkey_init(&e->k[j], (struct span){ e->text.p + offs[j],
		    lens[j] });
	e->pos = pos;
}

static int
topent_cmp(const void *a, const void *b, void *ctx)
{
	const struct topent *x = a, *y = b;
	int r = keys_cmp(ctx, x->k, y->k);

	if (r != 0)
		return r;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * sort ... offset O limit L over many rows: keep the best O + L in a heap
 * (worst on top) instead of keys for every row, so "the 10 newest of ten
 * million" costs memory for ten.  Same order as the stable full sort.
 */
static void
rs_topk(struct xctx *x, struct rowset *rs, const struct lq_sortkey *keys,
    size_t nk, struct sortctx *c, const int *fxs, size_t kk)
{
	struct topent *h = xcalloc(kk, sizeof(*h));
	struct buf text = BUF_INIT;
	size_t offs[LOGSQL_MAX_SORT_KEYS + 1], lens[LOGSQL_MAX_SORT_KEYS + 1];
	struct lq_vkey cand[LOGSQL_MAX_SORT_KEYS + 1];
	size_t nh = 0;

	for (size_t i = 0; i < kk; i++) {
		h[i].k = xcalloc(nk, sizeof(*h[i].k));
		buf_init(&h[i].text);
	}
	for (size_t k = 0; k < rs->n; k++) {
		buf_reset(&text);
		row_keys(x, rs, k, keys, nk, fxs, &text, offs, lens);
		if (nh < kk) {
			topent_set(&h[nh], &text, offs, lens, nk, k);
			nh++;
			/* sift up */
			for (size_t i = nh - 1; i > 0;) {
				size_t pa = (i - 1) / 2;
				if (!top_after(c, &h[i], &h[pa]))
					break;
				struct topent t = h[i];
				h[i] = h[pa];
				h[pa] = t;
				i = pa;
			}
			continue;
		}
		for (size_t j = 0; j < nk; j++)
			lq_vkey_init(&cand[j], (struct span){ text.p + offs[j],
			    lens[j] });
		/* later rows lose ties: replace only when strictly before */
		if (keys_cmp(c, cand, h[0].k) >= 0)
			continue;
		topent_set(&h[0], &text, offs, lens, nk, k);
		top_sift(c, h, nh, 0);
	}
	qsort_r(h, nh, sizeof(*h), topent_cmp, c);
	if (rs->kind == RS_REFS) {
		uint64_t *nr = xreallocarray(NULL, nh ? nh : 1, sizeof(*nr));
		for (size_t i = 0; i < nh; i++)
			nr[i] = rs->refs[h[i].pos];
		memcpy(rs->refs, nr, nh * sizeof(*nr));
		free(nr);
	} else {
		uint32_t *nr = xreallocarray(NULL, nh ? nh : 1, sizeof(*nr));
		for (size_t i = 0; i < nh; i++)
			nr[i] = rs->rows[h[i].pos];
		memcpy(rs->rows, nr, nh * sizeof(*nr));
		free(nr);
	}
	rs->n = nh;
	for (size_t i = 0; i < kk; i++) {
		free(h[i].k);
		buf_release(&h[i].text);
	}
	free(h);
	buf_release(&text);
}

static int
rs_sort(struct xctx *x, struct rowset *rs, const struct lq_sortkey *keys,
    size_t nk, const int *bytes, int rev, uint64_t off, uint64_t lim)
{
	struct buf text = BUF_INIT;
	size_t n = rs->n;
	size_t *offs, *lens;
	int desc[LOGSQL_MAX_SORT_KEYS + 1], fxs[LOGSQL_MAX_SORT_KEYS + 1];
	int nob[LOGSQL_MAX_SORT_KEYS + 1] = { 0 };
	struct sortctx c;

	if (n < 2) {
		rs_slice(rs, off, lim);
		return 0;
	}
	for (size_t j = 0; j < nk; j++) {
		desc[j] = keys[j].desc;
		fxs[j] = name_to_fx((struct span){ keys[j].field.p,
		    keys[j].field.n });
	}
	c.nk = nk;
	c.desc = desc;
	c.bytes = bytes != NULL ? bytes : nob;
	c.rev = rev;
	c.keys = NULL;
	if (lim > 0 && off + lim <= 100000 && off + lim < n / 4) {
		rs_topk(x, rs, keys, nk, &c, fxs, (size_t)(off + lim));
		rs_slice(rs, off, lim);
		return 0;
	}
	if (n > LOGSQL_MAX_TABLE_ROWS) {
		snprintf(x->err, x->errlen, "%zu rows to sort, more than %d: "
		    "add a limit to the sort or narrow the query", n,
		    LOGSQL_MAX_TABLE_ROWS);
		return -1;
	}
	offs = xreallocarray(NULL, n * nk, sizeof(*offs));
	lens = xreallocarray(NULL, n * nk, sizeof(*lens));
	for (size_t k = 0; k < n; k++)
		row_keys(x, rs, k, keys, nk, fxs, &text, offs + k * nk,
		    lens + k * nk);
	c.keys = xreallocarray(NULL, n * nk, sizeof(*c.keys));
	for (size_t i = 0; i < n * nk; i++)
		lq_vkey_init(&c.keys[i], (struct span){ text.p + offs[i],
		    lens[i] });
	free(offs);
	free(lens);
	uint32_t *pos = xreallocarray(NULL, n, sizeof(*pos));
	uint32_t *tmpv = xreallocarray(NULL, n, sizeof(*tmpv));
	for (size_t k = 0; k < n; k++)
		pos[k] = (uint32_t)k;
	msort(&c, pos, tmpv, n);
	if (rs->kind == RS_REFS) {
		uint64_t *nr = xreallocarray(NULL, n, sizeof(*nr));
		for (size_t k = 0; k < n; k++)
			nr[k] = rs->refs[pos[k]];
		free(rs->refs);
		rs->refs = nr;
		rs->cap = n;
	} else {
		for (size_t k = 0; k < n; k++)
			tmpv[k] = rs->rows[pos[k]];
		memcpy(rs->rows, tmpv, n * sizeof(*tmpv));
	}
	free(pos);
	free(tmpv);
	free(c.keys);
	buf_release(&text);
	rs_slice(rs, off, lim);
	return 0;
}

/* ---- stats: what both paths share */

/* A stats pipe in one shape: uniq and top become stats by their fields
 * with count() as hits. */
struct sspec {
	const struct lq_by *by;
	size_t nby;
	const struct lq_stat *stats;
	size_t nstats;
};

static void
add_nonempty(struct qresult *t, struct span name, struct span v)
{
	if (v.n > 0)
		qresult_add(t, name, v);
}

static size_t
fmt_u64(char *out, size_t outlen, uint64_t v)
{
	int n = snprintf(out, outlen, "%llu", (unsigned long long)v);
	return n > 0 ? (size_t)n : 0;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* The text of a bucketed by-value, given the value's text; what stays
 * unbucketed (not a time, not an address, not a number) comes back as
 * it was. */
static struct span
bucket_text(const struct lq_by *by, struct span v, char *out, size_t outlen)
{
	int64_t t;
	uint32_t ip;
	double d;

	switch (by->bucket) {
	case LQB_TIME:
		if (time_parse_rfc3339(v, &t) != 0)
			return v;
		t = floor_div(sat_sub(t, by->offset_ns), by->step_ns) *
		    by->step_ns + by->offset_ns;
		return (struct span){ out, time_format_rfc3339(t, out, outlen) };
	case LQB_IPV4:
		if (lq_parse_ipv4(v, &ip) != 0)
			return v;
		ip &= by->mask == 0 ? 0 : 0xffffffffu << (32 - by->mask);
		return (struct span){ out, (size_t)snprintf(out, outlen,
		    "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
		    ip & 255) };
	case LQB_NUM:
		if (lq_parse_float(v, &d) != 0)
			return v;
		d = floor((d - by->offset) / by->step) * by->step + by->offset;
		return (struct span){ out, lq_fmt_float(d, out, outlen) };
	default:
		return v;
	}
}

/* ---- stats over any row set (strings) */

struct smap {
	struct buf keys;
	size_t *off, *len;
	size_t n, cap;
	uint32_t *slots;
	size_t nslots;
};

static uint64_t
str_hash(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
	return mix(h);
}

static void
smap_init(struct smap *m)
{
	memset(m, 0, sizeof(*m));
	buf_init(&m->keys);
	m->nslots = 256;
	m->slots = xcalloc(m->nslots, sizeof(*m->slots));
}

static void
smap_release(struct smap *m)
{
	buf_release(&m->keys);
	free(m->off);
	free(m->len);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static uint32_t
smap_get(struct smap *m, const char *p, size_t n, size_t max, int *added)
{
	size_t mask = m->nslots - 1, j = str_hash(p, n) & mask;

	*added = 0;
	while (m->slots[j] != 0) {
		uint32_t c = m->slots[j] - 1;
		if (m->len[c] == n && memcmp(m->keys.p + m->off[c], p, n) == 0)
			return c;
		j = (j + 1) & mask;
	}
	if (m->n >= max)
		return UINT32_MAX;
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->off = xreallocarray(m->off, m->cap, sizeof(*m->off));
		m->len = xreallocarray(m->len, m->cap, sizeof(*m->len));
	}
	m->off[m->n] = m->keys.len;
	m->len[m->n] = n;
	buf_add(&m->keys, p, n);
	m->slots[j] = (uint32_t)m->n + 1;
	*added = 1;
	m->n++;
	if (m->n * 2 > m->nslots) {
		size_t ns = m->nslots * 2;
		uint32_t *s = xcalloc(ns, sizeof(*s));
		for (size_t c = 0; c < m->n; c++) {
			size_t k = str_hash(m->keys.p + m->off[c], m->len[c]) &
			    (ns - 1);
			while (s[k] != 0)
				k = (k + 1) & (ns - 1);
			s[k] = (uint32_t)c + 1;
		}
		free(m->slots);
		m->slots = s;
		m->nslots = ns;
	}
	return (uint32_t)(m->n - 1);
}

static void
key_add(struct buf *k, struct span v)
{
	uint32_t n = (uint32_t)v.n;

	buf_add(k, &n, sizeof(n));
	buf_add(k, v.p, v.n);
}

/* The i-th part of a key made by key_add. */
static struct span
key_part(const char *p, size_t n, size_t idx)
{
	size_t o = 0;
	uint32_t len = 0;

	for (size_t i = 0; i <= idx && o + sizeof(len) <= n; i++) {
		memcpy(&len, p + o, sizeof(len));
		o += sizeof(len);
		if (i == idx)
			return (struct span){ p + o, len };
		o += len;
	}
	return SPAN_LIT("");
}

struct gstat {
	uint64_t *cnt;
	double *sum;
	uint64_t *nsum;
	size_t *best_off, *best_len;   /* min/max: text in gs_text */
	uint8_t *has;
	struct smap uniq;
	size_t *qoff, *qlen;           /* quantile: (group, text) entries */
	uint32_t *qg;
	size_t nq, qcap;
};

struct qsortctx {
	const struct buf *text;
	const size_t *off, *len;
	const uint32_t *g;
};

static int
q_cmp(const struct qsortctx *c, uint32_t a, uint32_t b)
{
	if (c->g[a] != c->g[b])
		return c->g[a] < c->g[b] ? -1 : 1;
	return lq_value_cmp((struct span){ c->text->p + c->off[a], c->len[a] },
	    (struct span){ c->text->p + c->off[b], c->len[b] });
}

static void
qmsort(const struct qsortctx *c, uint32_t *v, uint32_t *tmp, size_t n)
{
	if (n < 2)
		return;
	size_t h = n / 2, i = 0, j = h, k = 0;
	qmsort(c, v, tmp, h);
	qmsort(c, v + h, tmp, n - h);
	while (i < h && j < n)
		tmp[k++] = q_cmp(c, v[j], v[i]) < 0 ? v[j++] : v[i++];
	while (i < h)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

/*
 * Stats over a row set, by reading values as text: for pipes after the
 * first stats, or after sort/limit.  Produces a result table.
 */
static int
generic_stats(struct xctx *x, const struct rowset *rs, const struct sspec *sp,
    size_t budget, struct rowset *out)
{
	struct smap groups;
	struct gstat *gs;
	struct buf key = BUF_INIT, gs_text = BUF_INIT, tk = BUF_INIT;
	size_t cap = 0;
	char tmp[TIME_STRLEN + 8], bt[64];
	int byfx[LOGSQL_MAX_BY], rc = -1;
	int (*sfx)[LOGSQL_MAX_FUNC_FIELDS];

	smap_init(&groups);
	gs = xcalloc(sp->nstats ? sp->nstats : 1, sizeof(*gs));
	sfx = xcalloc(sp->nstats ? sp->nstats : 1, sizeof(*sfx));
	for (size_t j = 0; j < sp->nby; j++)
		byfx[j] = name_to_fx((struct span){ sp->by[j].field.p,
		    sp->by[j].field.n });
	for (size_t s = 0; s < sp->nstats; s++) {
		smap_init(&gs[s].uniq);
		for (size_t j = 0; j < sp->stats[s].nfields; j++)
			sfx[s][j] = name_to_fx((struct span){
			    sp->stats[s].fields[j].p, sp->stats[s].fields[j].n });
	}
	for (size_t k = 0; k < rs->n; k++) {
		int added;
		buf_reset(&key);
		for (size_t j = 0; j < sp->nby; j++) {
			struct span v = rs_get(x, rs, k, (struct span){
			    sp->by[j].field.p, sp->by[j].field.n }, byfx[j], tmp,
			    sizeof(tmp), &x->msg);
			key_add(&key, bucket_text(&sp->by[j], v, bt, sizeof(bt)));
		}
		uint32_t g = smap_get(&groups, key.p, key.len, LOGSQL_MAX_GROUPS,
		    &added);
		if (g == UINT32_MAX) {
			snprintf(x->err, x->errlen, "more than %d groups",
			    LOGSQL_MAX_GROUPS);
			goto done;
		}
		if (added && groups.n > cap) {
			size_t nc = cap ? cap * 2 : 64;
			for (size_t s = 0; s < sp->nstats; s++) {
				struct gstat *a = &gs[s];
				a->cnt = xreallocarray(a->cnt, nc, sizeof(*a->cnt));
				a->sum = xreallocarray(a->sum, nc, sizeof(*a->sum));
				a->nsum = xreallocarray(a->nsum, nc,
				    sizeof(*a->nsum));
				a->best_off = xreallocarray(a->best_off, nc,
				    sizeof(*a->best_off));
				a->best_len = xreallocarray(a->best_len, nc,
				    sizeof(*a->best_len));
				a->has = xreallocarray(a->has, nc, sizeof(*a->has));
			}
			cap = nc;
		}
		if (added)
			for (size_t s = 0; s < sp->nstats; s++) {
				gs[s].cnt[g] = 0;
				gs[s].sum[g] = 0;
				gs[s].nsum[g] = 0;
				gs[s].has[g] = 0;
			}
		for (size_t s = 0; s < sp->nstats; s++) {
			const struct lq_stat *st = &sp->stats[s];
			struct gstat *a = &gs[s];
			if (st->iff != NULL && !row_filter(x, st->iff, rs, k))
				continue;
			if (st->fn == LQS_COUNT && st->nfields == 0) {
				a->cnt[g]++;
				continue;
			}
			buf_reset(&tk);
			buf_add(&tk, &g, sizeof(g));
			int any = 0;
			for (size_t j = 0; j < st->nfields; j++) {
				struct span v = rs_get(x, rs, k, (struct span){
				    st->fields[j].p, st->fields[j].n }, sfx[s][j],
				    tmp, sizeof(tmp), &x->msg);
				double d;
				if (v.n > 0)
					any = 1;
				switch (st->fn) {
				case LQS_COUNT_UNIQ:
					key_add(&tk, v);
					break;
				case LQS_SUM:
				case LQS_AVG:
					if (lq_parse_float(v, &d) == 0) {
						a->sum[g] += d;
						a->nsum[g]++;
					}
					break;
				case LQS_MIN:
				case LQS_MAX:
					if (v.n == 0)
						break;
					if (a->has[g]) {
						int c = lq_value_cmp(v, (struct span){
						    gs_text.p + a->best_off[g],
						    a->best_len[g] });
						if (st->fn == LQS_MIN ? c >= 0 : c <= 0)
							break;
					}
					a->best_off[g] = gs_text.len;
					a->best_len[g] = v.n;
					buf_add(&gs_text, v.p, v.n);
					a->has[g] = 1;
					break;
				case LQS_QUANTILE:
					if (v.n == 0)
						break;
					if (a->nq == a->qcap) {
						a->qcap = a->qcap ? a->qcap * 2 : 64;
						a->qoff = xreallocarray(a->qoff, a->qcap,
						    sizeof(*a->qoff));
						a->qlen = xreallocarray(a->qlen, a->qcap,
						    sizeof(*a->qlen));
						a->qg = xreallocarray(a->qg, a->qcap,
						    sizeof(*a->qg));
					}
					a->qoff[a->nq] = gs_text.len;
					a->qlen[a->nq] = v.n;
					a->qg[a->nq] = g;
					a->nq++;
					buf_add(&gs_text, v.p, v.n);
					break;
				default:
					break;
				}
			}
			if (st->fn == LQS_COUNT && any)
				a->cnt[g]++;
			if (st->fn == LQS_COUNT_UNIQ && any) {
				if (smap_get(&a->uniq, tk.p, tk.len, SIZE_MAX,
				    &added) != UINT32_MAX && added)
					a->cnt[g]++;
			}
		}
	}
	if (sp->nby == 0 && groups.n == 0) {
		int added;
		smap_get(&groups, "", 0, 1, &added);
		for (size_t s = 0; s < sp->nstats; s++) {
			struct gstat *a = &gs[s];
			a->cnt = xcalloc(1, sizeof(*a->cnt));
			a->sum = xcalloc(1, sizeof(*a->sum));
			a->nsum = xcalloc(1, sizeof(*a->nsum));
			a->best_off = xcalloc(1, sizeof(*a->best_off));
			a->best_len = xcalloc(1, sizeof(*a->best_len));
			a->has = xcalloc(1, sizeof(*a->has));
		}
	}
	/* Quantiles: each group's values in order, then the phi-th. */
	size_t **qpick = xcalloc(sp->nstats ? sp->nstats : 1, sizeof(*qpick));
	for (size_t s = 0; s < sp->nstats; s++) {
		struct gstat *a = &gs[s];
		if (sp->stats[s].fn != LQS_QUANTILE)
			continue;
		qpick[s] = xreallocarray(NULL, groups.n ? groups.n : 1,
		    sizeof(**qpick));
		for (size_t g = 0; g < groups.n; g++)
			qpick[s][g] = SIZE_MAX;
		uint32_t *pos = xreallocarray(NULL, a->nq ? a->nq : 1,
		    sizeof(*pos));
		uint32_t *tmpv = xreallocarray(NULL, a->nq ? a->nq : 1,
		    sizeof(*tmpv));
		for (size_t i = 0; i < a->nq; i++)
			pos[i] = (uint32_t)i;
		struct qsortctx qc = { &gs_text, a->qoff, a->qlen, a->qg };
		qmsort(&qc, pos, tmpv, a->nq);
		for (size_t i = 0; i < a->nq;) {
			size_t e = i;
			while (e < a->nq && a->qg[pos[e]] == a->qg[pos[i]])
				e++;
			size_t cnt = e - i, idx;
			double phi = sp->stats[s].phi;
			idx = phi <= 0 ? 0 : phi >= 1 ? cnt - 1 :
			    (size_t)(phi * (double)cnt);
			if (idx >= cnt)
				idx = cnt - 1;
			qpick[s][a->qg[pos[i]]] = pos[i + idx];
			i = e;
		}
		free(pos);
		free(tmpv);
	}
	out->kind = RS_TABLE;
	out->t = xcalloc(1, sizeof(*out->t));
	qresult_init(out->t);
	for (size_t g = 0; g < groups.n && g < budget; g++) {
		const char *kp = groups.keys.p + groups.off[g];
		qresult_row_begin(out->t);
		for (size_t j = 0; j < sp->nby; j++)
			add_nonempty(out->t, (struct span){ sp->by[j].field.p,
			    sp->by[j].field.n }, key_part(kp, groups.len[g], j));
		for (size_t s = 0; s < sp->nstats; s++) {
			const struct lq_stat *st = &sp->stats[s];
			struct gstat *a = &gs[s];
			struct span name = { st->name.p, st->name.n }, v = { tmp, 0 };
			switch (st->fn) {
			case LQS_COUNT:
			case LQS_COUNT_UNIQ:
				v.n = fmt_u64(tmp, sizeof(tmp), a->cnt[g]);
				break;
			case LQS_SUM:
				v.n = lq_fmt_float(a->nsum[g] ? a->sum[g] : NAN, tmp,
				    sizeof(tmp));
				break;
			case LQS_AVG:
				v.n = lq_fmt_float(a->nsum[g] ? a->sum[g] /
				    (double)a->nsum[g] : NAN, tmp, sizeof(tmp));
				break;
			case LQS_MIN:
			case LQS_MAX:
				if (a->has[g])
					v = (struct span){ gs_text.p + a->best_off[g],
					    a->best_len[g] };
				break;
			case LQS_QUANTILE:
				if (qpick[s][g] != SIZE_MAX)
					v = (struct span){ gs_text.p +
					    a->qoff[qpick[s][g]],
					    a->qlen[qpick[s][g]] };
				break;
			}
			add_nonempty(out->t, name, v);
		}
	}
	out->n = out->t->nrows;
	out->rows = xreallocarray(NULL, out->n ? out->n : 1, sizeof(*out->rows));
	for (size_t k = 0; k < out->n; k++)
		out->rows[k] = (uint32_t)k;
	for (size_t s = 0; s < sp->nstats; s++)
		free(qpick[s]);
	free(qpick);
	rc = groups.n > budget ? 1 : 0;
done:
	for (size_t s = 0; s < sp->nstats; s++) {
		struct gstat *a = &gs[s];
		free(a->cnt);
		free(a->sum);
		free(a->nsum);
		free(a->best_off);
		free(a->best_len);
		free(a->has);
		smap_release(&a->uniq);
		free(a->qoff);
		free(a->qlen);
		free(a->qg);
	}
	free(gs);
	free(sfx);
	smap_release(&groups);
	buf_release(&key);
	buf_release(&tk);
	buf_release(&gs_text);
	return rc;
}

/* ---- stats straight from the store */

enum {
	BK_ID = 1,      /* an interned field: the id */
	BK_IPMASK,      /* id -> masked IPv4 (or the id for other text) */
	BK_STATUS,
	BK_BYTES,
	BK_REQTIME,
	BK_NUMBUCKET,   /* a numeric field, bucketed */
	BK_TIME,
	BK_TIMEBUCKET,
	BK_MSG,         /* code of (method, uri, status) */
	BK_CONST,       /* _stream, unknown fields */
};

struct bycol {
	const struct lq_by *by;
	int fx, kind;
	const struct intern *pool;
	uint64_t *maskmap;   /* BK_IPMASK: per id, value + 1 */
	size_t nmask;
};

/* A value of a row, for min/max/quantile: which row, which field. */
struct vref {
	uint32_t bi, i;
	uint8_t fx;
};

struct qent {
	uint32_t g;
	struct vref r;
	double num;
};

struct fstat {
	const struct lq_stat *st;
	struct xf *iff;
	int fx[LOGSQL_MAX_FUNC_FIELDS];
	size_t nf;
	uint64_t *cnt;
	double *sum;
	uint64_t *nsum;
	struct vref *best;
	uint8_t *has;
	struct pairs *pairs;
	struct tmap codes;      /* count_uniq of tuples and wide values */
	int codes_on;
	struct qent *qe;
	size_t nq, qcap;
	size_t *qpick;          /* per group: index into qe */
	double *numcache;       /* per id of an interned field, for sum.. */
	uint8_t *numstate;      /* 0 ?, 1 computed */
	size_t nnum;
	int numfx;
};

struct fast {
	struct xctx *x;
	const struct sspec *sp;
	struct bycol by[LOGSQL_MAX_BY];
	size_t nby;
	struct fstat *fs;
	size_t ngroups, gcap;
	struct vref *rep;        /* a row of each group, for its by-values */
	uint64_t *gkeys;         /* BK_* components, nby per group */
	uint32_t *direct;        /* one interned by-field: id -> group + 1 */
	size_t ndirect;
	struct tmap gmap;
	struct tmap msgcodes;    /* (method, uri, status) -> code */
	int msg_on;
};

static int
numeric_fx(int fx)
{
	return fx == F_STATUS || fx == F_BYTES || fx == F_REQTIME;
}

/* The value as a number, NaN when it is not one (or missing). */
static double
vnum(struct fast *fa, struct fstat *f, int fx, const struct store_block *b,
    size_t i)
{
	double d;
	char tmp[64];

	switch (fx) {
	case F_STATUS:
		return b->status[i] ? (double)b->status[i] : NAN;
	case F_BYTES:
		return b->bytes[i] >= 0 ? (double)b->bytes[i] : NAN;
	case F_REQTIME:
		/* us / 1e6 rounds to the same double as reading the text */
		return b->reqtime_us[i] != REQTIME_NONE ?
		    (double)b->reqtime_us[i] / 1e6 : NAN;
	default:
		break;
	}
	if (fx_interned(fx)) {
		const struct intern *pool = store_pool(fa->x->s, (enum field)fx);
		uint32_t id = id_column(b, fx)[i];
		if (f != NULL && f->numfx == fx && id < f->nnum &&
		    f->numstate[id])
			return f->numcache[id];
		d = lq_parse_float(intern_get(pool, id), &d) == 0 ? d : NAN;
		if (f != NULL) {
			if (f->numcache == NULL) {
				f->numfx = fx;
				f->nnum = intern_count(pool);
				f->numcache = xcalloc(f->nnum ? f->nnum : 1,
				    sizeof(*f->numcache));
				f->numstate = xcalloc(f->nnum ? f->nnum : 1, 1);
			}
			if (f->numfx == fx && id < f->nnum) {
				f->numcache[id] = d;
				f->numstate[id] = 1;
			}
		}
		return d;
	}
	struct span v = row_value(fa->x, b, i, fx, tmp, sizeof(tmp),
	    &fa->x->msg);
	return lq_parse_float(v, &d) == 0 ? d : NAN;
}

static int
vempty(int fx, const struct store_block *b, size_t i)
{
	switch (fx) {
	case F_STATUS: return b->status[i] == 0;
	case F_BYTES: return b->bytes[i] < 0;
	case F_REQTIME: return b->reqtime_us[i] == REQTIME_NONE;
	case F_TIME: return 0;
	case FX_MSG:
		return b->method[i] == 0 && b->uri[i] == 0 && b->status[i] == 0;
	case FX_STREAM: return 0;
	case FX_NONE: return 1;
	default: return id_column(b, fx)[i] == 0;
	}
}

static uint32_t
msg_code(struct fast *fa, const struct store_block *b, size_t i)
{
	uint64_t k[3] = { b->method[i], b->uri[i], b->status[i] };
	int added;

	if (!fa->msg_on) {
		tmap_init(&fa->msgcodes, 3);
		fa->msg_on = 1;
	}
	return tmap_get(&fa->msgcodes, k, SIZE_MAX, &added);
}

/* A value's identity as a u64: equal iff the texts are equal. */
static uint64_t
vident(struct fast *fa, int fx, const struct store_block *b, size_t i)
{
	switch (fx) {
	case F_STATUS: return b->status[i];
	case F_BYTES: return (uint64_t)b->bytes[i];
	case F_REQTIME: return b->reqtime_us[i];
	case F_TIME: return (uint64_t)b->time_ns[i];
	case FX_MSG: return msg_code(fa, b, i);
	case FX_STREAM:
	case FX_NONE: return 0;
	default: return id_column(b, fx)[i];
	}
}

/* min/max order between two values; texts only when a number cannot
 * decide. */
static int
vref_cmp(struct fast *fa, struct vref a, struct vref b)
{
	const struct store *s = fa->x->s;
	const struct store_block *ba = s->blocks[a.bi], *bb = s->blocks[b.bi];
	char t1[64], t2[64];

	if (numeric_fx(a.fx) && numeric_fx(b.fx)) {
		double x = vnum(fa, NULL, a.fx, ba, a.i);
		double y = vnum(fa, NULL, b.fx, bb, b.i);
		return x < y ? -1 : x > y;
	}
	/* min(_time)/max(_time), in every "first/last seen": the texts
	 * would order as the nanoseconds do, at the cost of formatting
	 * and reading back two timestamps per row. */
	if (a.fx == F_TIME && b.fx == F_TIME) {
		int64_t x = ba->time_ns[a.i], y = bb->time_ns[b.i];
		return x < y ? -1 : x > y;
	}
	struct span va = row_value(fa->x, ba, a.i, a.fx, t1, sizeof(t1),
	    &fa->x->msg);
	struct span vb = row_value(fa->x, bb, b.i, b.fx, t2, sizeof(t2),
	    &fa->x->msg2);
	return lq_value_cmp(va, vb);
}

static int
bycol_setup(struct fast *fa, struct bycol *c, const struct lq_by *by)
{
	struct xctx *x = fa->x;

	c->by = by;
	c->fx = name_to_fx((struct span){ by->field.p, by->field.n });
	switch (by->bucket) {
	case LQB_NONE:
		if (fx_interned(c->fx)) {
			c->kind = BK_ID;
			c->pool = store_pool(x->s, (enum field)c->fx);
		} else if (c->fx == F_STATUS)
			c->kind = BK_STATUS;
		else if (c->fx == F_BYTES)
			c->kind = BK_BYTES;
		else if (c->fx == F_REQTIME)
			c->kind = BK_REQTIME;
		else if (c->fx == F_TIME)
			c->kind = BK_TIME;
		else if (c->fx == FX_MSG)
			c->kind = BK_MSG;
		else
			c->kind = BK_CONST;
		return 0;
	case LQB_TIME:
		if (c->fx != F_TIME)
			break;
		c->kind = BK_TIMEBUCKET;
		return 0;
	case LQB_IPV4:
		if (fx_interned(c->fx)) {
			c->kind = BK_IPMASK;
			c->pool = store_pool(x->s, (enum field)c->fx);
			c->nmask = intern_count(c->pool);
			c->maskmap = xcalloc(c->nmask ? c->nmask : 1,
			    sizeof(*c->maskmap));
			return 0;
		}
		if (c->fx == FX_NONE) {
			c->kind = BK_CONST;
			return 0;
		}
		break;
	case LQB_NUM:
		if (numeric_fx(c->fx)) {
			c->kind = BK_NUMBUCKET;
			return 0;
		}
		if (c->fx == FX_NONE) {
			c->kind = BK_CONST;
			return 0;
		}
		break;
	}
	snprintf(x->err, x->errlen, "cannot bucket \"%.*s\" by \"%.*s\" on "
	    "the embedded store (buckets: _time:1m, addresses:/24, numbers)",
	    (int)(by->field.n > 40 ? 40 : by->field.n), by->field.p,
	    (int)(by->repr.n > 20 ? 20 : by->repr.n), by->repr.p);
	return -1;
}

static uint64_t
bycomp(struct fast *fa, struct bycol *c, const struct store_block *b,
    size_t i)
{
	uint32_t id, ip;
	double d;

	switch (c->kind) {
	case BK_ID:
		return id_column(b, c->fx)[i];
	case BK_IPMASK:
		id = id_column(b, c->fx)[i];
		if (id < c->nmask && c->maskmap[id] != 0)
			return c->maskmap[id] - 1;
		{
			uint64_t v;
			unsigned m = c->by->mask;
			if (lq_parse_ipv4(intern_get(c->pool, id), &ip) == 0)
				v = (1ULL << 40) | (m == 0 ? 0 :
				    (ip & (0xffffffffu << (32 - m))));
			else
				v = (2ULL << 40) | id;
			if (id < c->nmask)
				c->maskmap[id] = v + 1;
			return v;
		}
	case BK_STATUS:
		return b->status[i];
	case BK_BYTES:
		return (uint64_t)b->bytes[i];
	case BK_REQTIME:
		return b->reqtime_us[i];
	case BK_NUMBUCKET:
		d = vnum(fa, NULL, c->fx, b, i);
		if (isnan(d))
			return UINT64_MAX;
		d = floor((d - c->by->offset) / c->by->step);
		if (!(d > -9e18 && d < 9e18))
			return UINT64_MAX - 1;
		return (uint64_t)(int64_t)d;
	case BK_TIME:
		return (uint64_t)b->time_ns[i];
	case BK_TIMEBUCKET:
		return (uint64_t)floor_div(sat_sub(b->time_ns[i],
		    c->by->offset_ns), c->by->step_ns);
	case BK_MSG:
		return msg_code(fa, b, i);
	default:
		return 0;
	}
}

/* The by-value of group g for column j. */
static struct span
bytext(struct fast *fa, size_t g, size_t j, char *out, size_t outlen,
    struct buf *msg)
{
	struct bycol *c = &fa->by[j];
	uint64_t comp = fa->gkeys[g * fa->nby + j];
	struct vref r = fa->rep[g];
	const struct store_block *b = fa->x->s->blocks[r.bi];
	double d;

	switch (c->kind) {
	case BK_IPMASK:
		if ((comp >> 40) == 1) {
			uint32_t ip = (uint32_t)comp;
			return (struct span){ out, (size_t)snprintf(out, outlen,
			    "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255,
			    (ip >> 8) & 255, ip & 255) };
		}
		break;
	case BK_NUMBUCKET:
		if (comp >= UINT64_MAX - 1)
			break;
		d = (double)(int64_t)comp * c->by->step + c->by->offset;
		return (struct span){ out, lq_fmt_float(d, out, outlen) };
	case BK_TIMEBUCKET: {
		int64_t t = (int64_t)comp * c->by->step_ns + c->by->offset_ns;
		return (struct span){ out, time_format_rfc3339(t, out,
		    outlen) };
	}
	default:
		break;
	}
	if (c->kind == BK_NUMBUCKET)
		return SPAN_LIT("");
	return row_value(fa->x, b, r.i, c->fx, out, outlen, msg);
}

/* For top: group a comes before b (more hits, then by-values' bytes). */
static int
group_before(struct fast *fa, const uint64_t *cnt, size_t a, size_t b)
{
	char t1[TIME_STRLEN + 64], t2[TIME_STRLEN + 64];

	if (cnt[a] != cnt[b])
		return cnt[a] > cnt[b];
	for (size_t j = 0; j < fa->nby; j++) {
		struct span x = bytext(fa, a, j, t1, sizeof(t1), &fa->x->msg);
		struct span y = bytext(fa, b, j, t2, sizeof(t2), &fa->x->msg2);
		size_t m = x.n < y.n ? x.n : y.n;
		int c = m ? memcmp(x.p, y.p, m) : 0;
		if (c == 0 && x.n != y.n)
			c = x.n < y.n ? -1 : 1;
		if (c != 0)
			return c < 0;
	}
	return a < b;
}

struct gsel {
	struct fast *fa;
	const uint64_t *cnt;
};

static int
gsel_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct gsel *c = ctx;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;

	if (a == b)
		return 0;
	return group_before(c->fa, c->cnt, a, b) ? -1 : 1;
}

/*
 * The n first groups in top's order, without a table of all groups: a
 * heap whose root is the last one kept.  *out gets them in order.
 */
static size_t
top_groups(struct fast *fa, const uint64_t *cnt, size_t n, uint32_t **out)
{
	uint32_t *h;
	size_t nh = 0;

	/* "top 12GB" is a legal count: never more room than groups. */
	if (n > fa->ngroups)
		n = fa->ngroups;
	h = xreallocarray(NULL, n ? n : 1, sizeof(*h));

	for (size_t g = 0; g < fa->ngroups; g++) {
		size_t i;
		if (nh < n) {
			h[nh] = (uint32_t)g;
			for (i = nh++; i > 0;) {
				size_t pa = (i - 1) / 2;
				if (!group_before(fa, cnt, h[pa], h[i]))
					break;
				uint32_t t = h[i];
				h[i] = h[pa];
				h[pa] = t;
				i = pa;
			}
			continue;
		}
		if (!group_before(fa, cnt, g, h[0]))
			continue;
		h[0] = (uint32_t)g;
		for (i = 0;;) {
			size_t l = 2 * i + 1, r = l + 1, m = i;
			if (l < nh && group_before(fa, cnt, h[m], h[l]))
				m = l;
			if (r < nh && group_before(fa, cnt, h[m], h[r]))
				m = r;
			if (m == i)
				break;
			uint32_t t = h[i];
			h[i] = h[m];
			h[m] = t;
			i = m;
		}
	}
	struct gsel c = { fa, cnt };
	qsort_r(h, nh, sizeof(*h), gsel_cmp, &c);
	*out = h;
	return nh;
}

static int
fast_new_group(struct fast *fa, const uint64_t *comps, uint32_t bi,
    uint32_t i)
{
	size_t g = fa->ngroups;

	if (g >= LOGSQL_MAX_GROUPS) {
		snprintf(fa->x->err, fa->x->errlen, "more than %d groups; "
		    "narrow the query", LOGSQL_MAX_GROUPS);
		return -1;
	}
	if (g == fa->gcap) {
		size_t nc = fa->gcap ? fa->gcap * 2 : 1024;
		fa->rep = xreallocarray(fa->rep, nc, sizeof(*fa->rep));
		fa->gkeys = xreallocarray(fa->gkeys, nc,
		    (fa->nby ? fa->nby : 1) * sizeof(*fa->gkeys));
		for (size_t s = 0; s < fa->sp->nstats; s++) {
			struct fstat *f = &fa->fs[s];
			f->cnt = xreallocarray(f->cnt, nc, sizeof(*f->cnt));
			f->sum = xreallocarray(f->sum, nc, sizeof(*f->sum));
			f->nsum = xreallocarray(f->nsum, nc, sizeof(*f->nsum));
			f->best = xreallocarray(f->best, nc, sizeof(*f->best));
			f->has = xreallocarray(f->has, nc, sizeof(*f->has));
		}
		fa->gcap = nc;
	}
	fa->rep[g].bi = bi;
	fa->rep[g].i = i;
	fa->rep[g].fx = 0;
	for (size_t j = 0; j < fa->nby; j++)
		fa->gkeys[g * fa->nby + j] = comps[j];
	for (size_t s = 0; s < fa->sp->nstats; s++) {
		struct fstat *f = &fa->fs[s];
		f->cnt[g] = 0;
		f->sum[g] = 0;
		f->nsum[g] = 0;
		f->has[g] = 0;
	}
	fa->ngroups++;
	return 0;
}

static void
fstat_update(struct fast *fa, struct fstat *f, const uint32_t *gi,
    const uint32_t *idx, size_t m, const uint8_t *ifm, uint32_t bi)
{
	const struct store_block *b = fa->x->s->blocks[bi];
	const struct lq_stat *st = f->st;

	switch (st->fn) {
	case LQS_COUNT:
		if (f->nf == 0) {
			if (ifm == NULL)
				for (size_t k = 0; k < m; k++)
					f->cnt[gi[k]]++;
			else
				for (size_t k = 0; k < m; k++)
					f->cnt[gi[k]] += ifm[idx[k]];
			return;
		}
		for (size_t k = 0; k < m; k++) {
			if (ifm != NULL && !ifm[idx[k]])
				continue;
			for (size_t j = 0; j < f->nf; j++)
				if (!vempty(f->fx[j], b, idx[k])) {
					f->cnt[gi[k]]++;
					break;
				}
		}
		return;
	case LQS_COUNT_UNIQ:
		if (f->nf == 1 && (fx_interned(f->fx[0]) ||
		    f->fx[0] == F_STATUS || f->fx[0] == F_REQTIME)) {
			int fx = f->fx[0];
			const uint32_t *col = fx_interned(fx) ? id_column(b, fx) :
			    NULL;
			for (size_t k = 0; k < m; k++) {
				size_t i = idx[k];
				uint32_t code;
				if (ifm != NULL && !ifm[i])
					continue;
				if (col != NULL)
					code = col[i];
				else if (fx == F_STATUS)
					code = b->status[i];
				else
					code = b->reqtime_us[i] == REQTIME_NONE ? 0 :
					    b->reqtime_us[i] + 1;
				if (code == 0)
					continue;
				pairs_add(f->pairs, ((uint64_t)gi[k] << 32) | code);
			}
			return;
		}
		/* Tuples and wide values: a dense code per distinct one. */
		if (!f->codes_on) {
			tmap_init(&f->codes, f->nf);
			f->codes_on = 1;
		}
		for (size_t k = 0; k < m; k++) {
			size_t i = idx[k];
			uint64_t t[LOGSQL_MAX_FUNC_FIELDS];
			int any = 0, added;
			if (ifm != NULL && !ifm[i])
				continue;
			for (size_t j = 0; j < f->nf; j++) {
				int e = vempty(f->fx[j], b, i);
				t[j] = e ? UINT64_MAX : vident(fa, f->fx[j], b, i);
				if (!e)
					any = 1;
			}
			if (!any)
				continue;
			uint32_t code = tmap_get(&f->codes, t, UINT32_MAX - 1,
			    &added);
			pairs_add(f->pairs, ((uint64_t)gi[k] << 32) | code);
		}
		return;
	case LQS_SUM:
	case LQS_AVG:
		for (size_t k = 0; k < m; k++) {
			size_t i = idx[k];
			if (ifm != NULL && !ifm[i])
				continue;
			for (size_t j = 0; j < f->nf; j++) {
				double d = vnum(fa, f, f->fx[j], b, i);
				if (!isnan(d)) {
					f->sum[gi[k]] += d;
					f->nsum[gi[k]]++;
				}
			}
		}
		return;
	case LQS_MIN:
	case LQS_MAX:
		for (size_t k = 0; k < m; k++) {
			size_t i = idx[k];
			uint32_t g = gi[k];
			if (ifm != NULL && !ifm[i])
				continue;
			for (size_t j = 0; j < f->nf; j++) {
				struct vref r = { bi, (uint32_t)i,
				    (uint8_t)f->fx[j] };
				if (vempty(f->fx[j], b, i))
					continue;
				if (f->has[g]) {
					int c = vref_cmp(fa, r, f->best[g]);
					if (st->fn == LQS_MIN ? c >= 0 : c <= 0)
						continue;
				}
				f->best[g] = r;
				f->has[g] = 1;
			}
		}
		return;
	case LQS_QUANTILE:
		for (size_t k = 0; k < m; k++) {
			size_t i = idx[k];
			if (ifm != NULL && !ifm[i])
				continue;
			for (size_t j = 0; j < f->nf; j++) {
				if (vempty(f->fx[j], b, i))
					continue;
				if (f->nq == f->qcap) {
					f->qcap = f->qcap ? f->qcap * 2 : 1024;
					f->qe = xreallocarray(f->qe, f->qcap,
					    sizeof(*f->qe));
				}
				struct qent *e = &f->qe[f->nq++];
				e->g = gi[k];
				e->r.bi = bi;
				e->r.i = (uint32_t)i;
				e->r.fx = (uint8_t)f->fx[j];
				e->num = numeric_fx(f->fx[j]) ?
				    vnum(fa, f, f->fx[j], b, i) : NAN;
			}
		}
		return;
	}
}

static int
qent_cmp(struct fast *fa, const struct qent *a, const struct qent *b)
{
	if (!isnan(a->num) && !isnan(b->num))
		return a->num < b->num ? -1 : a->num > b->num;
	return vref_cmp(fa, a->r, b->r);
}

/*
 * The k-th smallest of v[0..n) into v[k]: quickselect with three-way
 * partitions, so that the many equal values of a log field (status codes,
 * rounded times) cost one pass.
 */
static void
qselect(struct fast *fa, const struct qent *e, uint32_t *v, size_t n,
    size_t k)
{
	size_t lo = 0, hi = n;

	while (hi - lo > 1) {
		uint32_t a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi - 1], pv;
		/* median of three */
		if (qent_cmp(fa, &e[a], &e[b]) > 0) {
			uint32_t t = a;
			a = b;
			b = t;
		}
		if (qent_cmp(fa, &e[b], &e[c]) > 0)
			b = qent_cmp(fa, &e[a], &e[c]) > 0 ? a : c;
		pv = b;
		size_t lt = lo, i = lo, gt = hi;
		while (i < gt) {
			int r = qent_cmp(fa, &e[v[i]], &e[pv]);
			if (r < 0) {
				uint32_t t = v[lt];
				v[lt++] = v[i];
				v[i++] = t;
			} else if (r > 0) {
				uint32_t t = v[--gt];
				v[gt] = v[i];
				v[i] = t;
			} else
				i++;
		}
		if (k < lt)
			hi = lt;
		else if (k >= gt)
			lo = gt;
		else
			return;
	}
}

/*
 * Each group's phi-quantile: VictoriaLogs sorts the values and takes the
 * one at phi * n.  It samples groups over 10000 values; this is exact.
 * The picks go to f->qe[f->qpick[g]], SIZE_MAX for a group without values.
 */
static void
quantile_pick(struct fast *fa, struct fstat *f)
{
	size_t ng = fa->ngroups;
	size_t *start = xcalloc(ng + 1, sizeof(*start));
	uint32_t *ord = xreallocarray(NULL, f->nq ? f->nq : 1, sizeof(*ord));
	double phi = f->st->phi;

	for (size_t i = 0; i < f->nq; i++)
		start[f->qe[i].g + 1]++;
	for (size_t g = 0; g < ng; g++)
		start[g + 1] += start[g];
	size_t *fill = xreallocarray(NULL, ng ? ng : 1, sizeof(*fill));
	memcpy(fill, start, ng * sizeof(*fill));
	for (size_t i = 0; i < f->nq; i++)
		ord[fill[f->qe[i].g]++] = (uint32_t)i;
	free(fill);
	f->qpick = xreallocarray(NULL, ng ? ng : 1, sizeof(*f->qpick));
	for (size_t g = 0; g < ng; g++) {
		size_t cnt = start[g + 1] - start[g], ix;
		if (cnt == 0) {
			f->qpick[g] = SIZE_MAX;
			continue;
		}
		ix = phi <= 0 ? 0 : phi >= 1 ? cnt - 1 :
		    (size_t)(phi * (double)cnt);
		if (ix >= cnt)
			ix = cnt - 1;
		qselect(fa, f->qe, ord + start[g], cnt, ix);
		f->qpick[g] = ord[start[g] + ix];
	}
	free(ord);
	free(start);
}

static void
fast_release(struct fast *fa)
{
	for (size_t j = 0; j < fa->nby; j++)
		free(fa->by[j].maskmap);
	for (size_t s = 0; fa->fs != NULL && s < fa->sp->nstats; s++) {
		struct fstat *f = &fa->fs[s];
		free(f->cnt);
		free(f->sum);
		free(f->nsum);
		free(f->best);
		free(f->has);
		if (f->pairs != NULL) {
			free(f->pairs->v);
			free(f->pairs);
		}
		if (f->codes_on)
			tmap_release(&f->codes);
		free(f->qe);
		free(f->qpick);
		free(f->numcache);
		free(f->numstate);
	}
	free(fa->fs);
	free(fa->rep);
	free(fa->gkeys);
	free(fa->direct);
	tmap_release(&fa->gmap);
	if (fa->msg_on)
		tmap_release(&fa->msgcodes);
}

/*
 * Stats in one pass over the store.  Rows: at most budget (the table is
 * cut there and 1 returned).
 */
static int
fast_stats(struct xctx *x, struct xf *main, const struct sspec *sp,
    size_t budget, size_t topn, struct rowset *out)
{
	struct fast fa;
	const struct store *s = x->s;
	uint8_t *mask = NULL;
	uint32_t *idx = NULL, *gi = NULL;
	uint8_t **ifm = NULL;
	int rc = -1;
	char tmp[TIME_STRLEN + 64];

	memset(&fa, 0, sizeof(fa));
	fa.x = x;
	fa.sp = sp;
	fa.nby = sp->nby;
	tmap_init(&fa.gmap, sp->nby);
	fa.fs = xcalloc(sp->nstats ? sp->nstats : 1, sizeof(*fa.fs));
	for (size_t j = 0; j < sp->nby; j++)
		if (bycol_setup(&fa, &fa.by[j], &sp->by[j]) != 0)
			goto done;
	if (fa.nby == 1 && fa.by[0].kind == BK_ID) {
		fa.ndirect = intern_count(fa.by[0].pool);
		fa.direct = xcalloc(fa.ndirect ? fa.ndirect : 1,
		    sizeof(*fa.direct));
	}
	ifm = xcalloc(sp->nstats ? sp->nstats : 1, sizeof(*ifm));
	for (size_t k = 0; k < sp->nstats; k++) {
		struct fstat *f = &fa.fs[k];
		f->st = &sp->stats[k];
		f->nf = f->st->nfields;
		for (size_t j = 0; j < f->nf; j++)
			f->fx[j] = name_to_fx((struct span){ f->st->fields[j].p,
			    f->st->fields[j].n });
		if (f->st->iff != NULL) {
			f->iff = xf_build(x, f->st->iff);
			ifm[k] = xmalloc(STORE_BLOCK_ROWS);
		}
		if (f->st->fn == LQS_COUNT_UNIQ) {
			f->pairs = xcalloc(1, sizeof(*f->pairs));
			pairs_reserve(f->pairs, x->s->rows > 4096 ?
			    (size_t)x->s->rows : 4096);
		}
	}
	mask = xmalloc(STORE_BLOCK_ROWS);
	idx = xreallocarray(NULL, STORE_BLOCK_ROWS, sizeof(*idx));
	gi = xreallocarray(NULL, STORE_BLOCK_ROWS, sizeof(*gi));
	for (size_t bi = 0; bi < s->nblocks; bi++) {
		const struct store_block *b = s->blocks[bi];
		size_t n = b->n, m = 0;
		int h = xf_block_hint(main, b);
		if (n == 0 || h == 0)
			continue;
		if (h == 1) {
			for (size_t i = 0; i < n; i++)
				idx[i] = (uint32_t)i;
			m = n;
		} else {
			xf_block(x, main, b, mask, 0);
			for (size_t i = 0; i < n; i++) {
				idx[m] = (uint32_t)i;
				m += mask[i];
			}
		}
		if (m == 0)
			continue;
		/* The group of each selected row. */
		if (fa.nby == 0) {
			if (fa.ngroups == 0 && fast_new_group(&fa, NULL,
			    (uint32_t)bi, idx[0]) != 0)
				goto done;
			memset(gi, 0, m * sizeof(*gi));
		} else if (fa.direct != NULL) {
			const uint32_t *col = id_column(b, fa.by[0].fx);
			for (size_t k = 0; k < m; k++) {
				uint32_t id = col[idx[k]];
				uint32_t v = fa.direct[id];
				if (v == 0) {
					uint64_t c = id;
					if (fast_new_group(&fa, &c, (uint32_t)bi,
					    idx[k]) != 0)
						goto done;
					v = (uint32_t)fa.ngroups;
					fa.direct[id] = v;
				}
				gi[k] = v - 1;
			}
		} else {
			uint64_t comp[LOGSQL_MAX_BY];
			for (size_t k = 0; k < m; k++) {
				int added;
				for (size_t j = 0; j < fa.nby; j++)
					comp[j] = bycomp(&fa, &fa.by[j], b, idx[k]);
				uint32_t g = tmap_get(&fa.gmap, comp,
				    LOGSQL_MAX_GROUPS, &added);
				if (g == UINT32_MAX) {
					snprintf(x->err, x->errlen, "more than %d "
					    "groups; narrow the query",
					    LOGSQL_MAX_GROUPS);
					goto done;
				}
				if (added && fast_new_group(&fa, comp,
				    (uint32_t)bi, idx[k]) != 0)
					goto done;
				gi[k] = g;
			}
		}
		for (size_t k = 0; k < sp->nstats; k++) {
			struct fstat *f = &fa.fs[k];
			if (f->iff != NULL)
				xf_block(x, f->iff, b, ifm[k], 0);
			fstat_update(&fa, f, gi, idx, m, ifm[k], (uint32_t)bi);
		}
	}
	if (fa.nby == 0 && fa.ngroups == 0) {
		/* No rows: VictoriaLogs still answers one row (count 0). */
		if (fast_new_group(&fa, NULL, 0, 0) != 0)
			goto done;
		fa.rep[0].bi = UINT32_MAX;
	}
	for (size_t k = 0; k < sp->nstats; k++) {
		struct fstat *f = &fa.fs[k];
		if (f->st->fn == LQS_COUNT_UNIQ)
			pairs_count(f->pairs, f->cnt);
		if (f->st->fn == LQS_QUANTILE)
			quantile_pick(&fa, f);
	}
	/* The table: groups in order of their first row (for top, its
	 * first topn groups in its order). */
	uint32_t *order = NULL;
	size_t nout = fa.ngroups;
	if (topn > 0 && sp->nstats > 0) {
		nout = top_groups(&fa, fa.fs[0].cnt, topn, &order);
		budget = SIZE_MAX;
	}
	out->kind = RS_TABLE;
	out->t = xcalloc(1, sizeof(*out->t));
	qresult_init(out->t);
	for (size_t oi = 0; oi < nout && oi < budget; oi++) {
		size_t g = order != NULL ? order[oi] : oi;
		qresult_row_begin(out->t);
		for (size_t j = 0; j < fa.nby; j++)
			add_nonempty(out->t, (struct span){ sp->by[j].field.p,
			    sp->by[j].field.n }, bytext(&fa, g, j, tmp,
			    sizeof(tmp), &x->msg));
		for (size_t k = 0; k < sp->nstats; k++) {
			struct fstat *f = &fa.fs[k];
			const struct lq_stat *st = f->st;
			struct span name = { st->name.p, st->name.n };
			struct span v = { tmp, 0 };
			switch (st->fn) {
			case LQS_COUNT:
			case LQS_COUNT_UNIQ:
				v.n = fmt_u64(tmp, sizeof(tmp), f->cnt[g]);
				break;
			case LQS_SUM:
				v.n = lq_fmt_float(f->nsum[g] ? f->sum[g] : NAN, tmp,
				    sizeof(tmp));
				break;
			case LQS_AVG:
				v.n = lq_fmt_float(f->nsum[g] ? f->sum[g] /
				    (double)f->nsum[g] : NAN, tmp, sizeof(tmp));
				break;
			case LQS_MIN:
			case LQS_MAX:
				if (f->has[g])
					v = row_value(x, s->blocks[f->best[g].bi],
					    f->best[g].i, f->best[g].fx, tmp,
					    sizeof(tmp), &x->msg);
				break;
			case LQS_QUANTILE:
				if (f->qpick != NULL && f->qpick[g] != SIZE_MAX) {
					struct vref r = f->qe[f->qpick[g]].r;
					v = row_value(x, s->blocks[r.bi], r.i, r.fx,
					    tmp, sizeof(tmp), &x->msg);
				}
				break;
			}
			add_nonempty(out->t, name, v);
		}
	}
	free(order);
	out->n = out->t->nrows;
	out->rows = xreallocarray(NULL, out->n ? out->n : 1, sizeof(*out->rows));
	for (size_t k = 0; k < out->n; k++)
		out->rows[k] = (uint32_t)k;
	rc = nout > budget ? 1 : 0;
done:
	if (ifm != NULL)
		for (size_t k = 0; k < sp->nstats; k++)
			free(ifm[k]);
	free(ifm);
	free(mask);
	free(idx);
	free(gi);
	fast_release(&fa);
	return rc;
}

/* Matching store rows, oldest first, at most max of them. */
static void
scan_refs(struct xctx *x, struct xf *main, size_t max, struct rowset *rs)
{
	const struct store *s = x->s;
	uint8_t *mask = xmalloc(STORE_BLOCK_ROWS);

	rs->kind = RS_REFS;
	for (size_t bi = 0; bi < s->nblocks && rs->n < max; bi++) {
		const struct store_block *b = s->blocks[bi];
		int h = xf_block_hint(main, b);
		if (b->n == 0 || h == 0)
			continue;
		if (h == 1)
			memset(mask, 1, b->n);
		else
			xf_block(x, main, b, mask, 0);
		for (size_t i = 0; i < b->n && rs->n < max; i++) {
			if (!mask[i])
				continue;
			if (rs->n == rs->cap) {
				rs->cap = rs->cap ? rs->cap * 2 : 1024;
				rs->refs = xreallocarray(rs->refs, rs->cap,
				    sizeof(*rs->refs));
			}
			rs->refs[rs->n++] = ((uint64_t)bi << 32) | i;
		}
	}
	free(mask);
}

/* ---- the pipeline */

/* stats, uniq and top as one stats spec (uniq/top: by their fields,
 * count() as hits). */
struct agg {
	struct sspec sp;
	struct lq_by by[LOGSQL_MAX_BY];
	struct lq_stat hits;
	int kind;
	const struct lq_pipe *p;
};

static void
agg_from_pipe(struct agg *a, const struct lq_pipe *p)
{
	memset(a, 0, sizeof(*a));
	a->kind = p->kind;
	a->p = p;
	if (p->kind == LQP_STATS) {
		a->sp.by = p->by;
		a->sp.nby = p->nby;
		a->sp.stats = p->stats;
		a->sp.nstats = p->nstats;
		return;
	}
	for (size_t j = 0; j < p->nfields && j < LOGSQL_MAX_BY; j++)
		a->by[j].field = p->fields[j];
	a->hits.fn = LQS_COUNT;
	a->hits.name.p = p->kind == LQP_TOP ? p->hits.p : (char *)"hits";
	a->hits.name.n = p->kind == LQP_TOP ? p->hits.n : 4;
	a->sp.by = a->by;
	a->sp.nby = p->nfields;
	a->sp.stats = &a->hits;
	a->sp.nstats = 1;
}

/* What uniq and top do after counting. */
static int
agg_finish(struct xctx *x, struct agg *a, struct rowset *rs)
{
	const struct lq_pipe *p = a->p;

	if (p->kind == LQP_UNIQ) {
		if (!p->with_hits)
			rs_fields(rs, p->fields, p->nfields);
		if (p->n)
			rs_slice(rs, 0, p->n);
	} else if (p->kind == LQP_TOP) {
		/* Most hits first; ties by the values' bytes, as VictoriaLogs. */
		struct lq_sortkey keys[LOGSQL_MAX_BY + 1];
		int bytes[LOGSQL_MAX_BY + 1];
		keys[0].field = p->hits;
		keys[0].desc = 1;
		bytes[0] = 0;
		for (size_t j = 0; j < p->nfields && j < LOGSQL_MAX_BY; j++) {
			keys[j + 1].field = p->fields[j];
			keys[j + 1].desc = 0;
			bytes[j + 1] = 1;
		}
		return rs_sort(x, rs, keys, p->nfields + 1 >
		    LOGSQL_MAX_SORT_KEYS ? LOGSQL_MAX_SORT_KEYS : p->nfields + 1,
		    bytes, 0, 0, p->n);
	}
	return 0;
}

static int
is_agg(const struct lq_pipe *p)
{
	return p->kind == LQP_STATS || p->kind == LQP_UNIQ ||
	    p->kind == LQP_TOP;
}

/* Rows the pipes from k on can use of their input, given the output cap;
 * SIZE_MAX when they need all (a sort, a filter, stats). */
static size_t
rows_needed(const struct logsql_query *q, size_t k, size_t max_rows)
{
	size_t need = max_rows ? max_rows + 1 : SIZE_MAX;

	for (size_t i = q->npipes; i > k; i--) {
		const struct lq_pipe *p = &q->pipes[i - 1];
		switch (p->kind) {
		case LQP_LIMIT:
			if (p->n < need)
				need = (size_t)p->n;
			break;
		case LQP_OFFSET:
			need = need > SIZE_MAX - p->n ? SIZE_MAX :
			    need + (size_t)p->n;
			break;
		case LQP_FIELDS:
			break;
		default:
			return SIZE_MAX;
		}
	}
	return need;
}

static void
output_rows(struct xctx *x, const struct rowset *rs, size_t max_rows,
    struct qresult *out)
{
	char tmp[TIME_STRLEN + 64];
	size_t n = rs->n;

	if (max_rows && n > max_rows)
		n = max_rows;
	for (size_t k = 0; k < n; k++) {
		qresult_row_begin(out);
		if (rs->proj != NULL) {
			for (size_t j = 0; j < rs->nproj; j++) {
				struct span v = rs_get(x, rs, k, rs->proj[j],
				    name_to_fx(rs->proj[j]), tmp, sizeof(tmp),
				    &x->msg);
				add_nonempty(out, rs->proj[j], v);
			}
			continue;
		}
		if (rs->kind == RS_TABLE) {
			size_t r = rs->rows[k], nc = qresult_row_len(rs->t, r);
			for (size_t j = 0; j < nc; j++)
				add_nonempty(out, qresult_name(rs->t, r, j),
				    qresult_value(rs->t, r, j));
			continue;
		}
		uint64_t ref = rs->refs[k];
		const struct store_block *b = x->s->blocks[ref >> 32];
		size_t i = (size_t)(ref & 0xffffffffu);
		add_nonempty(out, SPAN_LIT("_msg"), row_value(x, b, i, FX_MSG,
		    tmp, sizeof(tmp), &x->msg));
		add_nonempty(out, SPAN_LIT("_time"), row_value(x, b, i, F_TIME,
		    tmp, sizeof(tmp), &x->msg));
		add_nonempty(out, SPAN_LIT("_stream"), SPAN_LIT("{}"));
		for (int f = F_CLIENT_IP; f < F__COUNT; f++)
			add_nonempty(out, span_str(field_name((enum field)f)),
			    row_value(x, b, i, f, tmp, sizeof(tmp), &x->msg));
	}
}

int
logsql_exec(const struct logsql_query *q, const struct store *s,
    int64_t now_ns, size_t max_rows, struct qresult *out, char *err,
    size_t errlen)
{
	struct xctx x;
	struct rowset rs;
	struct lq_filter top, **kids = NULL;
	struct xf *main;
	size_t k = 0;
	int rc = -1, truncated = 0;

	memset(&x, 0, sizeof(x));
	memset(&rs, 0, sizeof(rs));
	x.s = s;
	x.now = now_ns;
	x.err = err;
	x.errlen = errlen;
	buf_init(&x.scratch);
	buf_init(&x.msg);
	buf_init(&x.msg2);

	/* Leading filter pipes are part of the scan: AND them in. */
	while (k < q->npipes && q->pipes[k].kind == LQP_FILTER)
		k++;
	memset(&top, 0, sizeof(top));
	if (k > 0) {
		kids = xcalloc(k + 1, sizeof(*kids));
		kids[0] = q->filter;
		for (size_t i = 0; i < k; i++)
			kids[i + 1] = q->pipes[i].filter;
		top.op = LQ_AND;
		top.kids = kids;
		top.nkids = k + 1;
		main = xf_build(&x, &top);
	} else
		main = xf_build(&x, q->filter);

	if (k < q->npipes && is_agg(&q->pipes[k])) {
		struct agg a;
		/* Only the last pipe may be cut at max_rows; top must see all
		 * groups to pick the biggest. */
		int last = k + 1 == q->npipes && q->pipes[k].kind != LQP_TOP;
		agg_from_pipe(&a, &q->pipes[k]);
		int r = fast_stats(&x, main, &a.sp, last ? (max_rows ?
		    max_rows + 1 : SIZE_MAX) : LOGSQL_MAX_TABLE_ROWS,
		    q->pipes[k].kind == LQP_TOP ? (size_t)q->pipes[k].n : 0,
		    &rs);
		if (r < 0)
			goto done;
		if (r > 0 && !last) {
			snprintf(err, errlen, "more than %d stats groups to pass "
			    "to the next pipe; narrow the query",
			    LOGSQL_MAX_TABLE_ROWS);
			goto done;
		}
		if (agg_finish(&x, &a, &rs) != 0)
			goto done;
		k++;
	} else
		scan_refs(&x, main, rows_needed(q, k, max_rows), &rs);

	for (; k < q->npipes; k++) {
		const struct lq_pipe *p = &q->pipes[k];
		switch (p->kind) {
		case LQP_FILTER:
			rs_filter(&x, &rs, p->filter);
			break;
		case LQP_SORT: {
			int bytes[LOGSQL_MAX_SORT_KEYS] = { 0 };
			uint64_t off = p->off, lim = p->n;
			int none = 0;
			/* "sort | offset | limit" is one bounded sort, as
			 * VictoriaLogs runs it. */
			while (k + 1 < q->npipes &&
			    (q->pipes[k + 1].kind == LQP_LIMIT ||
			    q->pipes[k + 1].kind == LQP_OFFSET)) {
				const struct lq_pipe *nx = &q->pipes[++k];
				if (nx->kind == LQP_OFFSET) {
					if (lim > 0 && nx->n >= lim)
						none = 1;
					off += nx->n;
					if (lim > 0 && !none)
						lim -= nx->n;
				} else if (nx->n == 0)
					none = 1;
				else if (lim == 0 || nx->n < lim)
					lim = nx->n;
			}
			if (none) {
				rs.n = 0;
				break;
			}
			if (rs_sort(&x, &rs, p->keys, p->nkeys, bytes, p->desc,
			    off, lim) != 0)
				goto done;
			break;
		}
		case LQP_LIMIT:
			rs_slice(&rs, 0, p->n ? p->n : 0);
			if (p->n == 0)
				rs.n = 0;
			break;
		case LQP_OFFSET:
			rs_slice(&rs, p->n, 0);
			break;
		case LQP_FIELDS:
			rs_fields(&rs, p->fields, p->nfields);
			break;
		case LQP_STATS:
		case LQP_UNIQ:
		case LQP_TOP: {
			struct agg a;
			struct rowset nrs;
			int last = k + 1 == q->npipes && p->kind != LQP_TOP;
			memset(&nrs, 0, sizeof(nrs));
			agg_from_pipe(&a, p);
			int r = generic_stats(&x, &rs, &a.sp, last ? (max_rows ?
			    max_rows + 1 : SIZE_MAX) : LOGSQL_MAX_TABLE_ROWS,
			    &nrs);
			if (r < 0 || (r > 0 && !last)) {
				if (r > 0)
					snprintf(err, errlen, "more than %d stats "
					    "groups to pass to the next pipe",
					    LOGSQL_MAX_TABLE_ROWS);
				rs_release(&nrs);
				goto done;
			}
			rs_release(&rs);
			rs = nrs;
			if (agg_finish(&x, &a, &rs) != 0)
				goto done;
			break;
		}
		}
	}
	truncated = max_rows && rs.n > max_rows;
	output_rows(&x, &rs, max_rows, out);
	if (truncated)
		snprintf(err, errlen, "result cut at %zu rows", max_rows);
	rc = truncated ? 1 : 0;
done:
	rs_release(&rs);
	free(kids);
	xf_free_all(&x);
	for (size_t i = 0; i < ARRAY_LEN(x.tmp); i++)
		free(x.tmp[i]);
	buf_release(&x.scratch);
	buf_release(&x.msg);
	buf_release(&x.msg2);
	return rc;
}
