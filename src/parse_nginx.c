/*
 * nginx access logs, in any log_format.
 *
 * A format is compiled once into a literal prefix and a list of
 * variables, each followed by the literal text that closes it.  Matching
 * a line walks the variables left to right, and a value runs up to the
 * next occurrence of its closing literal.
 *
 * That first occurrence is only a first guess.  Real logs carry
 * unescaped quotes inside quoted fields (escape=none, Apache, formats
 * copied around), so when the rest of the line fails to match after a
 * guess, later occurrences are tried.  The search is bounded per
 * variable and per line: a line is written by whoever sent the request,
 * and a line full of '" "' must cost microseconds, not seconds.
 *
 * Matching is done twice at most.  The first pass holds typed values to
 * their shape (a status has no spaces, $time_local is 26 bytes), which is
 * what picks the right split when a free-text field contains the
 * separator.  Only a line that fails it gets a second pass with every
 * value free: that tells a mangled status or number (a precise skip
 * reason) from a line of some other format (a syntax error).
 *
 * Values are spans into the line; only text that nginx escaped (\xHH)
 * is rewritten, into the caller's scratch buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

#define NGINX_FMT_MAX 4096         /* bytes of log_format text */
#define NGINX_MAX_VARS 64
#define NGINX_NAME_MAX 64
#define NGINX_MAX_LINE (16u << 20) /* far above any input limit */
#define MATCH_CANDIDATES 16        /* closing literals tried per value */
#define MATCH_BUDGET 512           /* candidates tried per line and pass */
#define CLF_LEN 26                 /* "20/Nov/2026:09:00:00 +0000" */
#define NS_PER_SEC 1000000000LL

enum nv_kind {
	NV_IGNORE = 0,
	NV_REMOTE_ADDR,
	NV_TIME_LOCAL,
	NV_TIME_ISO8601,
	NV_MSEC,
	NV_REQUEST,
	NV_REQUEST_METHOD,
	NV_REQUEST_URI,
	NV_URI,
	NV_ARGS,
	NV_STATUS,
	NV_BODY_BYTES_SENT,
	NV_BYTES_SENT,
	NV_REQUEST_TIME,
	NV_HTTP_REFERER,
	NV_HTTP_USER_AGENT,
	NV_HTTP_X_FORWARDED_FOR,
	NV_HOST,
	NV_HTTP_HOST,
	NV_SERVER_NAME,
	NV__COUNT
};

/* The shape a value must have in the first, strict matching pass. */
enum nv_class {
	CL_ANY = 0, /* free text */
	CL_TOKEN,   /* no space, tab or double quote */
	CL_NOQUOTE, /* no double quote */
	CL_NUM,     /* digits, '.', '-' (also "-" for absent) */
	CL_CLF,     /* exactly CLF_LEN bytes */
};

static const struct {
	const char *name;
	enum nv_kind kind;
	enum nv_class cls;
} nv_table[] = {
	{ "remote_addr", NV_REMOTE_ADDR, CL_TOKEN },
	{ "time_local", NV_TIME_LOCAL, CL_CLF },
	{ "time_iso8601", NV_TIME_ISO8601, CL_TOKEN },
	{ "msec", NV_MSEC, CL_NUM },
	{ "request", NV_REQUEST, CL_ANY },
	{ "request_method", NV_REQUEST_METHOD, CL_TOKEN },
	{ "request_uri", NV_REQUEST_URI, CL_ANY },
	{ "uri", NV_URI, CL_ANY },
	{ "document_uri", NV_URI, CL_ANY },   /* nginx alias of $uri */
	{ "args", NV_ARGS, CL_ANY },
	{ "query_string", NV_ARGS, CL_ANY },  /* nginx alias of $args */
	{ "status", NV_STATUS, CL_NUM },
	{ "body_bytes_sent", NV_BODY_BYTES_SENT, CL_NUM },
	{ "bytes_sent", NV_BYTES_SENT, CL_NUM },
	{ "request_time", NV_REQUEST_TIME, CL_NUM },
	{ "http_referer", NV_HTTP_REFERER, CL_ANY },
	{ "http_user_agent", NV_HTTP_USER_AGENT, CL_ANY },
	/* Addresses and host names hold no quotes: when a user agent
	 * carries a raw '" "', this is what tells where it really ends. */
	{ "http_x_forwarded_for", NV_HTTP_X_FORWARDED_FOR, CL_NOQUOTE },
	{ "host", NV_HOST, CL_TOKEN },
	{ "http_host", NV_HTTP_HOST, CL_TOKEN },
	{ "server_name", NV_SERVER_NAME, CL_TOKEN },
};

struct nginx_var {
	uint64_t lit_word; /* the literal's first 8 bytes, as loaded */
	uint64_t lit_mask; /* which of them count */
	uint16_t lit_off;  /* closing literal, in lits */
	uint16_t lit_len;  /* 0 only for the last variable */
	uint8_t anchor;    /* offset in the literal of the byte to memchr */
	uint8_t kind;      /* enum nv_kind */
	uint8_t cls;       /* enum nv_class */
};

struct nginx_fmt {
	char *lits;        /* every literal, back to back; prefix first */
	size_t prefix_len;
	size_t nvars;
	int8_t at[NV__COUNT]; /* index in v[] of each known kind, or -1 */
	uint8_t time_kind;
	uint8_t trim;      /* trailing blanks of a line are not data */
	struct nginx_var v[NGINX_MAX_VARS];
};

static int
is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

static int
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
lookup_var(const char *name, size_t n, enum nv_kind *kind,
    enum nv_class *cls)
{
	struct span s = { name, n };

	*kind = NV_IGNORE;
	*cls = CL_ANY;
	for (size_t i = 0; i < ARRAY_LEN(nv_table); i++) {
		if (span_eq_nocase_str(s, nv_table[i].name)) {
			*kind = nv_table[i].kind;
			*cls = nv_table[i].cls;
			return;
		}
	}
}

/*
 * The byte of a literal worth searching for: spaces and alphanumerics are
 * everywhere in user agents, punctuation (quotes, brackets) is rare.
 */
static uint8_t
pick_anchor(const char *lit, size_t n)
{
	size_t best = 0;
	int best_score = -1;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)lit[i];
		int score;
		if (c == ' ')
			score = 0;
		else if (is_name_char(c))
			score = 1;
		else
			score = 2;
		if (score > best_score) {
			best_score = score;
			best = i;
		}
	}
	return (uint8_t)best;
}

struct nginx_fmt *
nginx_fmt_compile(const char *fmt, char *err, size_t errlen)
{
	struct nginx_fmt *f = NULL;
	struct buf lits = BUF_INIT;
	size_t n, i = 0, litstart = 0, prev_at = 0;
	int has_addr = 0;

	if (fmt == NULL || *fmt == '\0') {
		snprintf(err, errlen, "log_format is empty");
		goto fail;
	}
	n = strlen(fmt);
	if (n > NGINX_FMT_MAX) {
		snprintf(err, errlen, "log_format is %zu bytes long, more "
		    "than the %d allowed", n, NGINX_FMT_MAX);
		goto fail;
	}
	f = xcalloc(1, sizeof(*f));
	memset(f->at, -1, sizeof(f->at));
	buf_init(&lits);

	while (i < n) {
		const char *name;
		size_t namelen, at = i;
		enum nv_kind kind;
		enum nv_class cls;

		if (fmt[i] != '$') {
			buf_addch(&lits, fmt[i++]);
			continue;
		}
		i++;
		if (i < n && fmt[i] == '{') {
			name = fmt + ++i;
			while (i < n && is_name_char((unsigned char)fmt[i]))
				i++;
			namelen = (size_t)(fmt + i - name);
			if (i >= n) {
				snprintf(err, errlen, "log_format: \"${\" at "
				    "offset %zu is not closed by \"}\"", at);
				goto fail;
			}
			if (fmt[i] != '}' || namelen == 0) {
				snprintf(err, errlen, "log_format: \"${\" at "
				    "offset %zu must hold a variable name "
				    "(letters, digits, '_') and then \"}\"",
				    at);
				goto fail;
			}
			i++;
		} else {
			name = fmt + i;
			while (i < n && is_name_char((unsigned char)fmt[i]))
				i++;
			namelen = (size_t)(fmt + i - name);
			if (namelen == 0) {
				snprintf(err, errlen, "log_format: '$' at "
				    "offset %zu is not followed by a variable "
				    "name", at);
				goto fail;
			}
		}
		if (namelen > NGINX_NAME_MAX) {
			snprintf(err, errlen, "log_format: variable name at "
			    "offset %zu is longer than %d bytes", at,
			    NGINX_NAME_MAX);
			goto fail;
		}
		if (f->nvars > 0 && lits.len == litstart) {
			snprintf(err, errlen, "log_format: the variable at "
			    "offset %zu follows the one at offset %zu with "
			    "no text between them, so a line cannot be "
			    "split between the two; put a separator between "
			    "them", at, prev_at);
			goto fail;
		}
		if (f->nvars == NGINX_MAX_VARS) {
			snprintf(err, errlen, "log_format has more than %d "
			    "variables", NGINX_MAX_VARS);
			goto fail;
		}
		/* Close the previous variable (or the prefix). */
		if (f->nvars == 0)
			f->prefix_len = lits.len;
		else {
			struct nginx_var *pv = &f->v[f->nvars - 1];
			pv->lit_off = (uint16_t)litstart;
			pv->lit_len = (uint16_t)(lits.len - litstart);
		}
		litstart = lits.len;
		prev_at = at;

		lookup_var(name, namelen, &kind, &cls);
		/* A second $status or a second time says nothing new: the
		 * first one fills the record, later ones are only matched. */
		if (kind == NV_TIME_LOCAL || kind == NV_TIME_ISO8601 ||
		    kind == NV_MSEC) {
			if (f->time_kind != 0)
				kind = NV_IGNORE;
			else
				f->time_kind = (uint8_t)kind;
		}
		if (kind != NV_IGNORE && f->at[kind] >= 0)
			kind = NV_IGNORE;
		if (kind != NV_IGNORE)
			f->at[kind] = (int8_t)f->nvars;
		if (kind == NV_REMOTE_ADDR)
			has_addr = 1;
		f->v[f->nvars].kind = (uint8_t)kind;
		f->v[f->nvars].cls = (uint8_t)cls;
		f->nvars++;
	}
	if (f->nvars > 0) {
		struct nginx_var *pv = &f->v[f->nvars - 1];
		pv->lit_off = (uint16_t)litstart;
		pv->lit_len = (uint16_t)(lits.len - litstart);
	}
	if (!has_addr) {
		snprintf(err, errlen, "log_format has no $remote_addr: "
		    "without the client address the log is of no use here");
		goto fail;
	}
	if (f->time_kind == 0) {
		snprintf(err, errlen, "log_format has no time variable "
		    "($time_local, $time_iso8601 or $msec)");
		goto fail;
	}
	for (size_t k = 0; k < f->nvars; k++) {
		struct nginx_var *v = &f->v[k];
		unsigned char w[8] = { 0 }, m[8] = { 0 };

		v->anchor = pick_anchor(lits.p + v->lit_off, v->lit_len);
		for (size_t j = 0; j < v->lit_len && j < 8; j++) {
			w[j] = (unsigned char)lits.p[v->lit_off + j];
			m[j] = 0xff;
		}
		memcpy(&v->lit_word, w, 8);
		memcpy(&v->lit_mask, m, 8);
	}
	/* Trailing blanks after a closing literal are copy-and-paste
	 * damage, unless the format itself ends with one.  (After a final
	 * variable they are dropped from its value instead: the line may
	 * end in a separator before an empty value.) */
	f->trim = f->v[f->nvars - 1].lit_len > 0 &&
	    !is_blank((unsigned char)fmt[n - 1]);
	f->lits = xmalloc(lits.len + 1);
	memcpy(f->lits, lits.p, lits.len + 1);
	buf_release(&lits);
	return f;

fail:
	buf_release(&lits);
	free(f);
	return NULL;
}

void
nginx_fmt_free(struct nginx_fmt *f)
{
	if (f == NULL)
		return;
	free(f->lits);
	free(f);
}

/* ---- matching */

static int
shape_ok(enum nv_class cls, const char *p, size_t n)
{
	switch (cls) {
	case CL_ANY:
		return 1;
	case CL_TOKEN:
		for (size_t i = 0; i < n; i++)
			if (p[i] == ' ' || p[i] == '\t' || p[i] == '"')
				return 0;
		return 1;
	case CL_NOQUOTE:
		return memchr(p, '"', n) == NULL;
	case CL_NUM:
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];
			if (!((c >= '0' && c <= '9') || c == '.' || c == '-'))
				return 0;
		}
		return 1;
	case CL_CLF: /* the time parser checks the rest */
		return n == CLF_LEN;
	}
	return 0;
}

/* Literals are a few bytes: a loop beats a call to memcmp. */
static inline int
lit_eq(const char *a, const char *b, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (a[k] != b[k])
			return 0;
	return 1;
}

/*
 * Does v's literal occur at line + c?  Most literals are a few bytes with
 * room after them in the line: one load and a mask then, instead of a
 * loop whose length the branch predictor keeps guessing wrong.
 */
static inline int
lit_at(const struct nginx_fmt *f, const struct nginx_var *v,
    const char *line, size_t len, size_t c)
{
	uint64_t w;

	if (v->lit_len <= 8 && len - c >= 8) {
		memcpy(&w, line + c, 8);
		return ((w ^ v->lit_word) & v->lit_mask) == 0;
	}
	return lit_eq(line + c, f->lits + v->lit_off, v->lit_len);
}

/* The first occurrence of v's literal starting at or after from. */
static int
lit_find(const struct nginx_fmt *f, const struct nginx_var *v,
    const char *line, size_t len, size_t from, size_t *at)
{
	const char *lit = f->lits + v->lit_off;
	size_t n = v->lit_len, a = v->anchor;
	const char *p, *end, *q;

	if (from > len || len - from < n)
		return -1;
	p = line + from + a;
	end = line + len - (n - 1 - a); /* one past the last anchor spot */
	while (p < end) {
		q = memchr(p, lit[a], (size_t)(end - p));
		if (q == NULL)
			return -1;
		if (lit_at(f, v, line, len, (size_t)(q - a - line))) {
			*at = (size_t)(q - a - line);
			return 0;
		}
		p = q + 1;
	}
	return -1;
}

/*
 * Where variable i's value may end, searching from `from`: the next
 * place its closing literal occurs (for the last variable, the one place
 * that ends the line).  -1 when there is none.
 */
static int
next_candidate(const struct nginx_fmt *f, size_t i, int strict,
    const char *line, size_t len, size_t start, size_t from, size_t *c)
{
	const struct nginx_var *v = &f->v[i];

	if (i + 1 == f->nvars && v->lit_len == 0) {
		size_t e = len;
		while (e > start && is_blank((unsigned char)line[e - 1]))
			e--;
		if (e < from)
			return -1;
		*c = e;
		return 0;
	}
	if (i + 1 == f->nvars) {
		if (len < v->lit_len || len - v->lit_len < from)
			return -1;
		*c = len - v->lit_len;
		return lit_at(f, v, line, len, *c) ? 0 : -1;
	}
	if (strict && v->cls == CL_CLF) {
		/* Fixed width: one place to look. */
		size_t e = start + CLF_LEN;
		if (from > e || e > len || len - e < v->lit_len ||
		    !lit_at(f, v, line, len, e))
			return -1;
		*c = e;
		return 0;
	}
	return lit_find(f, v, line, len, from, c);
}

/*
 * Split line into values: vs[i]..ve[i] for each variable.  Depth first,
 * first candidate first; every candidate counts against the budget.
 */
static int
fmt_match(const struct nginx_fmt *f, const char *line, size_t len,
    int strict, size_t *vs, size_t *ve)
{
	uint8_t tries[NGINX_MAX_VARS];
	size_t i = 0, from, c;
	int budget = MATCH_BUDGET;

	if (len < f->prefix_len || !lit_eq(line, f->lits, f->prefix_len))
		return -1;
	vs[0] = from = f->prefix_len;
	tries[0] = 0;
	for (;;) {
		const struct nginx_var *v = &f->v[i];
		int found = 0;

		if (tries[i] < MATCH_CANDIDATES && budget > 0 &&
		    next_candidate(f, i, strict, line, len, vs[i], from,
		    &c) == 0) {
			tries[i]++;
			budget--;
			/* A value that lost its shape only gets worse as it
			 * grows, so a misfit ends the search at this level
			 * (the fixed width has a single candidate anyway). */
			found = !strict ||
			    shape_ok(v->cls, line + vs[i], c - vs[i]);
		}
		if (found) {
			ve[i] = c;
			if (i + 1 == f->nvars)
				return 0;
			i++;
			vs[i] = from = c + v->lit_len;
			tries[i] = 0;
			continue;
		}
		if (i == 0 || budget <= 0)
			return -1;
		i--;
		from = ve[i] + 1;
	}
}

/* ---- values */

static int
is_dash(struct span s)
{
	return s.n == 1 && s.p[0] == '-';
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * nginx's default escaping: '"', '\' and bytes outside printable ASCII
 * become \xHH.  Undo exactly that; any other backslash is data.  The
 * caller reserved room in sb for everything unescaped from one line, so
 * spans handed out earlier stay valid; if it did not, the raw text is
 * kept rather than moving the buffer under them.
 */
static struct span
unescape(struct buf *sb, struct span s)
{
	const char *p = s.p, *end = s.p + s.n, *q;
	char *o, *start;

	if (sb->cap == 0 || sb->cap - sb->len <= s.n)
		return s;
	start = o = sb->p + sb->len;
	while (p < end) {
		q = memchr(p, '\\', (size_t)(end - p));
		if (q == NULL) {
			memcpy(o, p, (size_t)(end - p));
			o += end - p;
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		p = q;
		if (end - p >= 4 && p[1] == 'x' &&
		    hexval((unsigned char)p[2]) >= 0 &&
		    hexval((unsigned char)p[3]) >= 0) {
			*o++ = (char)(hexval((unsigned char)p[2]) * 16 +
			    hexval((unsigned char)p[3]));
			p += 4;
		} else
			*o++ = *p++;
	}
	sb->len += (size_t)(o - start);
	sb->p[sb->len] = '\0';
	return (struct span){ start, (size_t)(o - start) };
}

/* A text field: "-" is absent; escaped text is copied out. */
static struct span
text_value(struct span s, int has_bs, struct buf *sb)
{
	if (s.n == 0 || is_dash(s))
		return SPAN_NULL;
	if (has_bs && memchr(s.p, '\\', s.n) != NULL)
		return unescape(sb, s);
	return s;
}

static inline struct span
value_of(const struct nginx_fmt *f, enum nv_kind k, const char *line,
    const size_t *vs, const size_t *ve)
{
	int i = f->at[k];

	if (i < 0)
		return SPAN_NULL;
	return (struct span){ line + vs[i], ve[i] - vs[i] };
}

/* A byte count into *out (-1 when absent); -1 for junk. */
static int
count_value(struct span s, int64_t *out)
{
	uint64_t v;

	*out = -1;
	if (s.n == 0 || is_dash(s))
		return 0;
	if (parse_u64(s, &v) != 0 || v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * "METHOD URI PROTOCOL".  A request line of another shape (a TLS
 * handshake on the HTTP port, a 400 with half a line) is still a
 * request worth keeping: it is what scanners leave behind.  Then the
 * whole text stands for the URI and the method is absent.
 */
static void
split_request(struct span req, int has_bs, struct buf *sb,
    struct span *method, struct span *uri)
{
	const char *sp1, *sp2;
	size_t mlen;

	*method = *uri = SPAN_NULL;
	if (req.n == 0 || is_dash(req))
		return;
	sp1 = memchr(req.p, ' ', req.n);
	mlen = sp1 != NULL ? (size_t)(sp1 - req.p) : 0;
	for (size_t k = 0; k < mlen; k++) {
		if (!is_tchar((unsigned char)req.p[k])) {
			mlen = 0;
			break;
		}
	}
	if (mlen == 0) {
		*uri = text_value(req, has_bs, sb);
		return;
	}
	*method = (struct span){ req.p, mlen };
	sp2 = memrchr(req.p, ' ', req.n);
	struct span u = { sp1 + 1, (size_t)(req.p + req.n - sp1 - 1) };
	if (sp2 != NULL && (size_t)(req.p + req.n - sp2 - 1) >= 5 &&
	    memcmp(sp2 + 1, "HTTP/", 5) == 0)
		u.n = sp2 > sp1 ? (size_t)(sp2 - sp1 - 1) : 0;
	if (u.n > 0)
		*uri = has_bs && memchr(u.p, '\\', u.n) != NULL ?
		    unescape(sb, u) : u;
}

static int
status_value(struct span s, int *out)
{
	*out = 0;
	if (s.n == 0 || is_dash(s))
		return 0;
	if (s.n != 3)
		return -1;
	for (size_t k = 0; k < 3; k++)
		if (s.p[k] < '0' || s.p[k] > '9')
			return -1;
	int v = (s.p[0] - '0') * 100 + (s.p[1] - '0') * 10 + (s.p[2] - '0');
	if (v == 0) /* "000": the client went away before any status */
		return 0;
	if (v < 100)
		return -1;
	*out = v;
	return 0;
}

static void
rec_clear(struct logrec *r)
{
	memset(r, 0, sizeof(*r));
	r->time_ns = TIME_NONE;
	r->body_bytes = -1;
	r->request_time_ns = -1;
}

/* Turn matched values into the record; 0 or a skip reason. */
static int
fill(const struct nginx_fmt *f, const char *line, size_t len,
    const size_t *vs, const size_t *ve, struct logrec *out,
    struct buf *sb)
{
	struct span s, m, u;
	int has_bs, rc;
	int64_t n1, n2;

#define VAL(k) value_of(f, (k), line, vs, ve)
	s = VAL(NV_REMOTE_ADDR);
	if (s.n == 0 || is_dash(s))
		return SKIP_ADDR;
	out->remote_addr = s;

	s = VAL((enum nv_kind)f->time_kind);
	if (f->time_kind == NV_TIME_LOCAL)
		rc = time_parse_clf(s, &out->time_ns);
	else if (f->time_kind == NV_TIME_ISO8601)
		rc = time_parse_rfc3339(s, &out->time_ns);
	else
		rc = time_parse_epoch(s, &out->time_ns);
	if (rc != 0)
		return SKIP_TIME;

	if (status_value(VAL(NV_STATUS), &out->status) != 0)
		return SKIP_STATUS;

	if (count_value(VAL(NV_BODY_BYTES_SENT), &n1) != 0 ||
	    count_value(VAL(NV_BYTES_SENT), &n2) != 0)
		return SKIP_NUMBER;
	out->body_bytes = n1 >= 0 ? n1 : n2;

	s = VAL(NV_REQUEST_TIME);
	if (s.n != 0 && !is_dash(s) &&
	    parse_decimal_scaled(s, NS_PER_SEC, &out->request_time_ns) != 0)
		return SKIP_NUMBER;

	/* Text: zero-copy unless the line holds an escape somewhere.  The
	 * room reserved covers every field unescaped once plus the
	 * $uri?$args join, so no span moves once handed out. */
	has_bs = memchr(line, '\\', len) != NULL;
	if (has_bs || (f->at[NV_URI] >= 0 && f->at[NV_ARGS] >= 0))
		buf_grow(sb, 2 * len + 2);

	out->referer = text_value(VAL(NV_HTTP_REFERER), has_bs, sb);
	out->user_agent = text_value(VAL(NV_HTTP_USER_AGENT), has_bs, sb);
	out->xff = text_value(VAL(NV_HTTP_X_FORWARDED_FOR), has_bs, sb);
	out->host = text_value(VAL(NV_HOST), has_bs, sb);
	if (out->host.n == 0)
		out->host = text_value(VAL(NV_HTTP_HOST), has_bs, sb);
	if (out->host.n == 0)
		out->host = text_value(VAL(NV_SERVER_NAME), has_bs, sb);

	out->method = text_value(VAL(NV_REQUEST_METHOD), has_bs, sb);
	out->uri = text_value(VAL(NV_REQUEST_URI), has_bs, sb);
	if ((out->method.n == 0 || out->uri.n == 0) &&
	    f->at[NV_REQUEST] >= 0) {
		split_request(VAL(NV_REQUEST), has_bs, sb, &m, &u);
		if (out->method.n == 0)
			out->method = m;
		if (out->uri.n == 0)
			out->uri = u;
	}
	if (out->uri.n == 0 && f->at[NV_URI] >= 0) {
		out->uri = text_value(VAL(NV_URI), has_bs, sb);
		s = text_value(VAL(NV_ARGS), has_bs, sb);
		if (out->uri.n != 0 && s.n != 0 &&
		    sb->cap - sb->len > out->uri.n + 1 + s.n) {
			char *o = sb->p + sb->len;
			memmove(o, out->uri.p, out->uri.n);
			o[out->uri.n] = '?';
			memmove(o + out->uri.n + 1, s.p, s.n);
			out->uri = (struct span){ o, out->uri.n + 1 + s.n };
			sb->len += out->uri.n;
			sb->p[sb->len] = '\0';
		}
	}
#undef VAL
	return 0;
}

int
nginx_parse(const struct nginx_fmt *f, const char *line, size_t len,
    struct logrec *out, struct buf *scratch)
{
	size_t vs[NGINX_MAX_VARS], ve[NGINX_MAX_VARS];
	int rc;

	buf_reset(scratch);
	rec_clear(out);
	if (f->trim)
		while (len > 0 && is_blank((unsigned char)line[len - 1]))
			len--;
	if (len == 0)
		return SKIP_EMPTY;
	if (is_blank((unsigned char)line[0])) {
		size_t k = 1;
		while (k < len && is_blank((unsigned char)line[k]))
			k++;
		if (k == len)
			return SKIP_EMPTY;
	}
	if (len > NGINX_MAX_LINE)
		return SKIP_TOO_LONG;
	if (fmt_match(f, line, len, 1, vs, ve) == 0)
		rc = fill(f, line, len, vs, ve, out, scratch);
	else if (fmt_match(f, line, len, 0, vs, ve) == 0)
		rc = fill(f, line, len, vs, ve, out, scratch);
	else
		rc = SKIP_SYNTAX;
	if (rc != 0) {
		buf_reset(scratch);
		rec_clear(out);
	}
	return rc;
}
