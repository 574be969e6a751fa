/*
 * The embedded store: access-log rows kept in memory, column by column.
 *
 * Why columns: the questions asked of the store ("requests per client in
 * the last 15 minutes", "distinct paths per client") touch two or three
 * fields of every row.  Keeping each field in its own array makes those
 * scans read only what they need, and interning strings (one pool per
 * kind: addresses, paths, agents...) makes a row about 60 bytes, most of
 * them 4-byte ids.
 *
 * Rows live in blocks of STORE_BLOCK_ROWS.  Blocks are the unit of
 * expiry: when the memory cap is passed, the oldest block goes, and the
 * rows in it are counted as dropped.  Retention (keep only the last N of
 * log time) is applied row-exactly by store_finish(), which also puts the
 * rows in time order when they did not arrive in it (several files, or a
 * file whose lines are slightly out of order).
 *
 * The string pools are not shrunk when rows go: a long-running follower
 * recycles them by rebuilding the store (see the watch loop); a pool only
 * ever holds strings that were seen, so its size is bounded by the
 * variety of the traffic, not its volume.
 */
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

static const char *const field_names[F__COUNT] = {
	[F_TIME] = "_time",
	[F_CLIENT_IP] = "client_ip",
	[F_REMOTE_ADDR] = "remote_addr",
	[F_XFF] = "http_x_forwarded_for",
	[F_METHOD] = "request_method",
	[F_URI] = "request_uri",
	[F_STATUS] = "status",
	[F_BYTES] = "body_bytes_sent",
	[F_REQTIME] = "request_time",
	[F_UA] = "http_user_agent",
	[F_REFERER] = "http_referer",
	[F_HOST] = "host",
};

const char *
field_name(enum field f)
{
	return (unsigned)f < F__COUNT ? field_names[f] : "?";
}

int
field_lookup(struct span name)
{
	for (int i = 0; i < F__COUNT; i++)
		if (span_eq_str(name, field_names[i]))
			return i;
	return -1;
}

/* Bytes one row costs in a block's columns. */
#define ROW_BYTES (sizeof(int64_t) * 2 + sizeof(uint32_t) * 9 + \
    sizeof(uint16_t))

static struct store_block *
block_new(size_t cap)
{
	struct store_block *b = xcalloc(1, sizeof(*b));

	b->time_ns = xmalloc(cap * sizeof(*b->time_ns));
	b->client_ip = xmalloc(cap * sizeof(uint32_t));
	b->remote_addr = xmalloc(cap * sizeof(uint32_t));
	b->xff = xmalloc(cap * sizeof(uint32_t));
	b->method = xmalloc(cap * sizeof(uint32_t));
	b->uri = xmalloc(cap * sizeof(uint32_t));
	b->ua = xmalloc(cap * sizeof(uint32_t));
	b->referer = xmalloc(cap * sizeof(uint32_t));
	b->host = xmalloc(cap * sizeof(uint32_t));
	b->status = xmalloc(cap * sizeof(uint16_t));
	b->reqtime_us = xmalloc(cap * sizeof(uint32_t));
	b->bytes = xmalloc(cap * sizeof(int64_t));
	b->tmin = INT64_MAX;
	b->tmax = INT64_MIN;
	return b;
}

static void
block_free(struct store_block *b)
{
	if (b == NULL)
		return;
	free(b->time_ns);
	free(b->client_ip);
	free(b->remote_addr);
	free(b->xff);
	free(b->method);
	free(b->uri);
	free(b->ua);
	free(b->referer);
	free(b->host);
	free(b->status);
	free(b->reqtime_us);
	free(b->bytes);
	free(b);
}

/*
 * Formatting an address to text and interning it costs more than parsing
 * the rest of a line, and the same few thousand clients repeat: a small
 * direct-mapped cache from binary address to id skips both.
 */
#define ADDR_CACHE 4096
struct addr_cache_ent {
	struct ipaddr a;
	uint32_t id;
};
static uint32_t
intern_addr(struct store *s, const struct ipaddr *a)
{
	struct addr_cache_ent *c = s->addr_cache;
	uint64_t w0, w1;
	char txt[IPADDR_STRLEN];

	if (a == NULL || a->family == 0)
		return 0;
	memcpy(&w0, a->b, 8);
	memcpy(&w1, a->b + 8, 8);
	uint64_t h = (w0 * 0x9e3779b97f4a7c15ull) ^ (w1 * 0xc2b2ae3d27d4eb4full) ^
	    a->family;
	h ^= h >> 29;
	struct addr_cache_ent *e = &c[(h * 0xbf58476d1ce4e5b9ull >> 40) %
	    ADDR_CACHE];
	if (e->id != 0 && e->a.family == a->family &&
	    memcmp(e->a.b, a->b, 16) == 0)
		return e->id;
	size_t n = ipaddr_format(a, txt, sizeof(txt));
	uint32_t id = intern_add(&s->pool_ip, txt, n);
	e->a = *a;
	e->id = id;
	return id;
}

void
store_init(struct store *s, const struct store_opts *o)
{
	memset(s, 0, sizeof(*s));
	if (o != NULL)
		s->opts = *o;
	intern_init(&s->pool_ip);
	intern_init(&s->pool_xff);
	intern_init(&s->pool_method);
	intern_init(&s->pool_uri);
	intern_init(&s->pool_ua);
	intern_init(&s->pool_referer);
	intern_init(&s->pool_host);
	s->tmin = TIME_NONE;
	s->tmax = TIME_NONE;
	s->sorted = 1;
	s->addr_cache = xcalloc(ADDR_CACHE, sizeof(struct addr_cache_ent));
}

void
store_release(struct store *s)
{
	for (size_t i = 0; i < s->nblocks; i++)
		block_free(s->blocks[i]);
	free(s->blocks);
	intern_release(&s->pool_ip);
	intern_release(&s->pool_xff);
	intern_release(&s->pool_method);
	intern_release(&s->pool_uri);
	intern_release(&s->pool_ua);
	intern_release(&s->pool_referer);
	intern_release(&s->pool_host);
	free(s->addr_cache);
	memset(s, 0, sizeof(*s));
}

size_t
store_memory(const struct store *s)
{
	return s->nblocks * (STORE_BLOCK_ROWS * ROW_BYTES +
	    sizeof(struct store_block)) +
	    intern_memory(&s->pool_ip) + intern_memory(&s->pool_xff) +
	    intern_memory(&s->pool_method) + intern_memory(&s->pool_uri) +
	    intern_memory(&s->pool_ua) + intern_memory(&s->pool_referer) +
	    intern_memory(&s->pool_host);
}

static void
recompute_bounds(struct store *s)
{
	s->tmin = TIME_NONE;
	s->tmax = TIME_NONE;
	for (size_t i = 0; i < s->nblocks; i++) {
		const struct store_block *b = s->blocks[i];
		if (b->n == 0)
			continue;
		if (s->tmin == TIME_NONE || b->tmin < s->tmin)
			s->tmin = b->tmin;
		if (s->tmax == TIME_NONE || b->tmax > s->tmax)
			s->tmax = b->tmax;
	}
}

static void
drop_first_block(struct store *s, uint64_t *counter)
{
	struct store_block *b = s->blocks[0];

	*counter += b->n;
	s->rows -= b->n;
	block_free(b);
	memmove(s->blocks, s->blocks + 1, (s->nblocks - 1) * sizeof(*s->blocks));
	s->nblocks--;
	recompute_bounds(s);
}

/* The memory cap: drop oldest blocks, keeping at least the one written. */
static void
enforce_memory(struct store *s)
{
	if (s->opts.max_memory == 0)
		return;
	while (s->nblocks > 1 && store_memory(s) > s->opts.max_memory)
		drop_first_block(s, &s->dropped_memory);
}

void
store_append(struct store *s, const struct logrec *r,
    const struct ipaddr *client, const struct ipaddr *peer)
{
	struct store_block *b;

	if (s->nblocks == 0 || s->blocks[s->nblocks - 1]->n == STORE_BLOCK_ROWS) {
		if (s->nblocks == s->blocks_cap) {
			s->blocks_cap = s->blocks_cap ? s->blocks_cap * 2 : 16;
			s->blocks = xreallocarray(s->blocks, s->blocks_cap,
			    sizeof(*s->blocks));
		}
		s->blocks[s->nblocks++] = block_new(STORE_BLOCK_ROWS);
		enforce_memory(s);
	}
	b = s->blocks[s->nblocks - 1];
	size_t i = b->n;

	if (s->tmax != TIME_NONE && r->time_ns < s->tmax)
		s->sorted = 0;
	b->time_ns[i] = r->time_ns;
	b->client_ip[i] = intern_addr(s, client);
	if (peer != NULL && client != NULL && peer->family == client->family &&
	    memcmp(peer->b, client->b, 16) == 0)
		b->remote_addr[i] = b->client_ip[i];
	else
		b->remote_addr[i] = intern_addr(s, peer);
	b->xff[i] = intern_add(&s->pool_xff, r->xff.p, r->xff.n);
	b->method[i] = intern_add(&s->pool_method, r->method.p, r->method.n);
	b->uri[i] = intern_add(&s->pool_uri, r->uri.p, r->uri.n);
	b->ua[i] = intern_add(&s->pool_ua, r->user_agent.p, r->user_agent.n);
	b->referer[i] = intern_add(&s->pool_referer, r->referer.p,
	    r->referer.n);
	b->host[i] = intern_add(&s->pool_host, r->host.p, r->host.n);
	b->status[i] = (r->status > 0 && r->status < 65536) ?
	    (uint16_t)r->status : 0;
	if (r->request_time_ns < 0)
		b->reqtime_us[i] = REQTIME_NONE;
	else if (r->request_time_ns / 1000 >= REQTIME_NONE)
		b->reqtime_us[i] = REQTIME_NONE - 1;
	else
		b->reqtime_us[i] = (uint32_t)(r->request_time_ns / 1000);
	b->bytes[i] = r->body_bytes;
	b->n++;
	if (r->time_ns < b->tmin)
		b->tmin = r->time_ns;
	if (r->time_ns > b->tmax)
		b->tmax = r->time_ns;
	if (s->tmin == TIME_NONE || r->time_ns < s->tmin)
		s->tmin = r->time_ns;
	if (s->tmax == TIME_NONE || r->time_ns > s->tmax)
		s->tmax = r->time_ns;
	s->rows++;
	s->rows_added++;
}

/* ---- sorting */

struct rowref {
	int64_t t;
	uint32_t blk, idx;
};

static int
rowref_cmp(const void *a, const void *b)
{
	const struct rowref *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->blk != y->blk)
		return x->blk < y->blk ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Gather one column into new arrays following the order in refs. */
#define GATHER(col, type) do {                                           \
	for (size_t nb = 0; nb < newn; nb++) {                           \
		type *dst = xmalloc(STORE_BLOCK_ROWS * sizeof(type));    \
		size_t base = nb * STORE_BLOCK_ROWS;                     \
		size_t cnt = nbl[nb]->n;                                 \
		for (size_t k = 0; k < cnt; k++) {                       \
			const struct rowref *rr = &refs[base + k];       \
			dst[k] = s->blocks[rr->blk]->col[rr->idx];       \
		}                                                        \
		nbl[nb]->col = dst;                                      \
	}                                                                \
	for (size_t ob = 0; ob < s->nblocks; ob++) {                     \
		free(s->blocks[ob]->col);                                \
		s->blocks[ob]->col = NULL;                               \
	}                                                                \
} while (0)

static void
store_sort(struct store *s)
{
	struct rowref *refs;
	struct store_block **nbl;
	size_t n = 0, newn;

	refs = xreallocarray(NULL, s->rows ? s->rows : 1, sizeof(*refs));
	for (size_t bi = 0; bi < s->nblocks; bi++)
		for (size_t i = 0; i < s->blocks[bi]->n; i++) {
			refs[n].t = s->blocks[bi]->time_ns[i];
			refs[n].blk = (uint32_t)bi;
			refs[n].idx = (uint32_t)i;
			n++;
		}
	qsort(refs, n, sizeof(*refs), rowref_cmp);

	newn = (n + STORE_BLOCK_ROWS - 1) / STORE_BLOCK_ROWS;
	nbl = xcalloc(newn ? newn : 1, sizeof(*nbl));
	for (size_t nb = 0; nb < newn; nb++) {
		nbl[nb] = xcalloc(1, sizeof(**nbl));
		nbl[nb]->n = (nb + 1) * STORE_BLOCK_ROWS <= n ?
		    STORE_BLOCK_ROWS : n - nb * STORE_BLOCK_ROWS;
	}
	/* Column by column, so the extra memory is one column at a time. */
	GATHER(time_ns, int64_t);
	GATHER(client_ip, uint32_t);
	GATHER(remote_addr, uint32_t);
	GATHER(xff, uint32_t);
	GATHER(method, uint32_t);
	GATHER(uri, uint32_t);
	GATHER(ua, uint32_t);
	GATHER(referer, uint32_t);
	GATHER(host, uint32_t);
	GATHER(status, uint16_t);
	GATHER(reqtime_us, uint32_t);
	GATHER(bytes, int64_t);
	free(refs);
	for (size_t ob = 0; ob < s->nblocks; ob++)
		block_free(s->blocks[ob]);
	free(s->blocks);
	for (size_t nb = 0; nb < newn; nb++) {
		struct store_block *b = nbl[nb];
		b->tmin = b->time_ns[0];
		b->tmax = b->time_ns[b->n - 1];
	}
	s->blocks = nbl;
	s->nblocks = newn;
	s->blocks_cap = newn ? newn : 1;
	s->sorted = 1;
}

/* Drop the first k rows of block b (rows are in time order). */
static void
block_drop_head(struct store_block *b, size_t k)
{
	size_t rest = b->n - k;

#define SHIFT(col) memmove(b->col, b->col + k, rest * sizeof(*b->col))
	SHIFT(time_ns); SHIFT(client_ip); SHIFT(remote_addr); SHIFT(xff);
	SHIFT(method); SHIFT(uri); SHIFT(ua); SHIFT(referer); SHIFT(host);
	SHIFT(status); SHIFT(reqtime_us); SHIFT(bytes);
#undef SHIFT
	b->n = rest;
	b->tmin = rest ? b->time_ns[0] : INT64_MAX;
}

void
store_finish(struct store *s)
{
	if (!s->sorted)
		store_sort(s);
	if (s->opts.retention_ns > 0 && s->tmax != TIME_NONE) {
		int64_t cutoff = s->tmax - s->opts.retention_ns;
		while (s->nblocks > 0 && s->blocks[0]->tmax < cutoff)
			drop_first_block(s, &s->dropped_retention);
		if (s->nblocks > 0) {
			struct store_block *b = s->blocks[0];
			size_t k = 0;
			while (k < b->n && b->time_ns[k] < cutoff)
				k++;
			if (k > 0) {
				block_drop_head(b, k);
				s->rows -= k;
				s->dropped_retention += k;
			}
		}
		recompute_bounds(s);
	}
}

const struct intern *
store_pool(const struct store *s, enum field f)
{
	switch (f) {
	case F_CLIENT_IP:
	case F_REMOTE_ADDR:
		return &s->pool_ip;
	case F_XFF:
		return &s->pool_xff;
	case F_METHOD:
		return &s->pool_method;
	case F_URI:
		return &s->pool_uri;
	case F_UA:
		return &s->pool_ua;
	case F_REFERER:
		return &s->pool_referer;
	case F_HOST:
		return &s->pool_host;
	default:
		return NULL;
	}
}

/* Seconds with three decimals like nginx writes them, six if needed. */
static size_t
fmt_reqtime(uint32_t us, char *tmp, size_t tmplen)
{
	int n;

	if (us % 1000 == 0)
		n = snprintf(tmp, tmplen, "%u.%03u", us / 1000000,
		    (us / 1000) % 1000);
	else
		n = snprintf(tmp, tmplen, "%u.%06u", us / 1000000, us % 1000000);
	return n > 0 ? (size_t)n : 0;
}

struct span
store_value(const struct store *s, const struct store_block *b, size_t i,
    enum field f, char *tmp, size_t tmplen)
{
	struct span r = { "", 0 };
	int n;

	switch (f) {
	case F_TIME:
		r.n = time_format_rfc3339(b->time_ns[i], tmp, tmplen);
		r.p = tmp;
		return r;
	case F_CLIENT_IP:
		return intern_get(&s->pool_ip, b->client_ip[i]);
	case F_REMOTE_ADDR:
		return intern_get(&s->pool_ip, b->remote_addr[i]);
	case F_XFF:
		return intern_get(&s->pool_xff, b->xff[i]);
	case F_METHOD:
		return intern_get(&s->pool_method, b->method[i]);
	case F_URI:
		return intern_get(&s->pool_uri, b->uri[i]);
	case F_UA:
		return intern_get(&s->pool_ua, b->ua[i]);
	case F_REFERER:
		return intern_get(&s->pool_referer, b->referer[i]);
	case F_HOST:
		return intern_get(&s->pool_host, b->host[i]);
	case F_STATUS:
		if (b->status[i] == 0)
			return r;
		n = snprintf(tmp, tmplen, "%u", b->status[i]);
		break;
	case F_BYTES:
		if (b->bytes[i] < 0)
			return r;
		n = snprintf(tmp, tmplen, "%lld", (long long)b->bytes[i]);
		break;
	case F_REQTIME:
		if (b->reqtime_us[i] == REQTIME_NONE)
			return r;
		n = (int)fmt_reqtime(b->reqtime_us[i], tmp, tmplen);
		break;
	default:
		return r;
	}
	r.p = tmp;
	r.n = n > 0 ? (size_t)n : 0;
	return r;
}
