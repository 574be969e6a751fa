/*
 * The VictoriaLogs client: one LogsQL query to /select/logsql/query, the
 * answer streamed into a struct qresult.
 *
 * VictoriaLogs answers 200 as soon as it starts streaming, so an error
 * that happens later cannot change the status: the server writes a blank
 * line, a line with the error text, and aborts the connection.  The only
 * safe reading is therefore strict: the query succeeded only if the body
 * ended cleanly after a newline and every line was a JSON object of
 * strings.  Anything else fails the whole query and leaves the result
 * empty, because a detector that takes a short result for the whole
 * traffic would under-count exactly when the server is struggling.
 *
 * Retries are for answers that say "not now" (502 from a cluster whose
 * storage node is down, 503 when the server is overloaded or the query
 * queue is full, 429 from a proxy in front) and for connections that
 * never got an answer.  A stream that broke off is not retried: the
 * server was reached and failed doing the work; asking again at once
 * doubles the load that probably caused it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "anomaly.h"

#define QUERY_PATH "/select/logsql/query"
#define SNIPPET_MAX 256    /* bytes of an offending line in a message */
#define MAP_NAME_MAX 256

void
vlogs_opts_init(struct vlogs_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->query_timeout_ns = VLOGS_QUERY_TIMEOUT_DEFAULT;
	o->connect_timeout_ns = VLOGS_CONNECT_TIMEOUT_DEFAULT;
	o->max_bytes = VLOGS_MAX_BYTES_DEFAULT;
	o->max_rows = VLOGS_MAX_ROWS_DEFAULT;
	o->max_line = VLOGS_MAX_LINE_DEFAULT;
	o->retries = VLOGS_RETRIES_DEFAULT;
	o->retry_base_ns = 500 * INT64_C(1000000);
	o->retry_max_ns = 10 * INT64_C(1000000000);
}

const char *
vlogs_errkind_name(enum vlogs_errkind k)
{
	switch (k) {
	case VLOGS_OK: return "ok";
	case VLOGS_E_USAGE: return "usage";
	case VLOGS_E_QUERY: return "query";
	case VLOGS_E_UNAVAILABLE: return "unavailable";
	case VLOGS_E_NETWORK: return "network";
	case VLOGS_E_HTTP: return "http";
	case VLOGS_E_STREAM: return "stream";
	case VLOGS_E_LIMIT: return "limit";
	}
	return "?";
}

/* ---- messages */

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Outside text for a message (a server's error body, the first bytes of
 * a bad line): trimmed, with control bytes and invalid UTF-8 escaped so a
 * terminal or an LLM prompt gets only printable text, and cut to at most
 * max bytes on a character boundary, "..." marking the cut.
 */
static void
add_text(struct buf *b, const char *p, size_t n, size_t max)
{
	struct buf t = BUF_INIT;
	size_t i = 0;
	int cut = 0;

	while (n > 0 && is_space((unsigned char)p[0])) {
		p++;
		n--;
	}
	while (n > 0 && is_space((unsigned char)p[n - 1]))
		n--;
	/* Escaping never shortens, so max + 1 input bytes are enough to
	 * know the output will be cut. */
	if (n > max) {
		n = max + 1;
		cut = 1;
	}
	buf_add_escaped(&t, p, n);
	if (!cut && t.len <= max) {
		buf_add(b, t.p, t.len);
		buf_release(&t);
		return;
	}
	/* The escaped text is printable ASCII, "\\\\", "\\xHH" and whole
	 * UTF-8 sequences: walk it unit by unit. */
	while (i < t.len) {
		unsigned char c = (unsigned char)t.p[i];
		size_t u = 1;
		if (c == '\\')
			u = i + 1 < t.len && t.p[i + 1] == 'x' ? 4 : 2;
		else if (c >= 0x80)
			while (i + u < t.len &&
			    ((unsigned char)t.p[i + u] & 0xc0) == 0x80)
				u++;
		if (i + u + 3 > max)
			break;
		i += u;
	}
	buf_add(b, t.p, i);
	buf_add(b, "...", 3);
	buf_release(&t);
}

/* Sets e's kind and message; the message is cut to fit on a UTF-8
 * character boundary. */
static void AD_PRINTF(3, 4)
seterr(struct vlogs_error *e, enum vlogs_errkind k, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	n = b.len;
	if (n > sizeof(e->msg) - 1) {
		n = sizeof(e->msg) - 1;
		while (n > 0 && ((unsigned char)b.p[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(e->msg, b.p, n);
	e->msg[n] = '\0';
	e->kind = k;
	buf_release(&b);
}

/* ---- field map */

struct vmap {
	char *canon[VLOGS_MAP_MAX];
	char *theirs[VLOGS_MAP_MAX];
	size_t n;
};

static void
vmap_release(struct vmap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->canon[i]);
		free(m->theirs[i]);
	}
	m->n = 0;
}

static int
vmap_parse(struct vmap *m, const char *const *spec, size_t n, char *err,
    size_t errlen)
{
	struct buf msg = BUF_INIT;

	m->n = 0;
	if (n > VLOGS_MAP_MAX) {
		snprintf(err, errlen, "field map: more than %d entries",
		    VLOGS_MAP_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = spec[i], *eq = s != NULL ? strchr(s, '=') : NULL;
		size_t cn, tn;

		if (eq == NULL || eq == s || eq[1] == '\0' ||
		    strchr(eq + 1, '=') != NULL) {
			buf_addstr(&msg, "field map entry \"");
			add_text(&msg, s != NULL ? s : "", s != NULL ?
			    strlen(s) : 0, 80);
			buf_addstr(&msg, "\": want canonical=theirs");
			goto fail;
		}
		cn = (size_t)(eq - s);
		tn = strlen(eq + 1);
		if (cn > MAP_NAME_MAX || tn > MAP_NAME_MAX) {
			buf_addf(&msg, "field map entry #%zu: a name is "
			    "longer than %d bytes", i + 1, MAP_NAME_MAX);
			goto fail;
		}
		for (size_t j = 0; j < m->n; j++) {
			if (strlen(m->canon[j]) == cn &&
			    memcmp(m->canon[j], s, cn) == 0) {
				buf_addstr(&msg, "field map: \"");
				add_text(&msg, s, cn, 80);
				buf_addstr(&msg, "\" is mapped twice");
				goto fail;
			}
		}
		m->canon[m->n] = xstrndup(s, cn);
		m->theirs[m->n] = xstrndup(eq + 1, tn);
		m->n++;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s", msg.p);
	buf_release(&msg);
	vmap_release(m);
	return -1;
}

int
vlogs_map_check(const char *const *spec, size_t n, char *err, size_t errlen)
{
	struct vmap m;
	int r = vmap_parse(&m, spec, n, err, errlen);

	vmap_release(&m);
	return r;
}

/* ---- the response stream */

struct vlogs_stream {
	struct qresult *out;
	struct qresult tmp;        /* one row before renaming */
	struct buf scratch;
	struct http_lines lines;
	struct vmap map;
	uint64_t bytes, max_bytes;
	size_t rows, max_rows;
	int blank;                 /* a blank line: the server's error next */
	int failed;
	struct vlogs_error err;    /* why, when failed */
	/* Set by vlogs_query: the response, to check its content type. */
	const struct http_response *rs;
	int ct_checked;
};

static void
stream_reset(struct vlogs_stream *st)
{
	qresult_reset(st->out);
	http_lines_reset(&st->lines);
	st->bytes = 0;
	st->rows = 0;
	st->blank = 0;
	st->failed = 0;
	st->ct_checked = 0;
	memset(&st->err, 0, sizeof(st->err));
}

/* Fails the stream with a message and, when given, the first bytes of
 * the offending text. */
static int
stream_fail(struct vlogs_stream *st, enum vlogs_errkind k, const char *what,
    const char *text, size_t n)
{
	struct buf b = BUF_INIT;

	buf_addstr(&b, what);
	if (text != NULL) {
		buf_add(&b, ": ", 2);
		add_text(&b, text, n, SNIPPET_MAX);
	}
	seterr(&st->err, k, "%s", b.p);
	buf_release(&b);
	st->failed = 1;
	qresult_reset(st->out);
	return -1;
}

static void
map_row(struct vlogs_stream *st)
{
	const struct qresult *t = &st->tmp;
	const struct vmap *m = &st->map;
	size_t n = qresult_row_len(t, 0);

	qresult_row_begin(st->out);
	for (size_t i = 0; i < n; i++) {
		struct span name = qresult_name(t, 0, i);
		struct span val = qresult_value(t, 0, i);
		int hit = 0, shadowed = 0;

		for (size_t j = 0; j < m->n; j++) {
			if (span_eq_str(name, m->theirs[j])) {
				qresult_add(st->out, span_str(m->canon[j]),
				    val);
				hit = 1;
			} else if (span_eq_str(name, m->canon[j]))
				shadowed = 1;
		}
		if (!hit && !shadowed)
			qresult_add(st->out, name, val);
	}
}

static int
stream_line(void *ctx, const char *line, size_t len, int terminated,
    char *err, size_t errlen)
{
	struct vlogs_stream *st = ctx;
	struct qresult *dst;
	char why[160];

	if (st->blank) {
		/* The line after the blank one is the server's reason. */
		stream_fail(st, VLOGS_E_STREAM, "stream aborted by the server",
		    line, len);
		goto fail;
	}
	if (len == 0) {
		/* Not a row; if more comes it is the error text. */
		st->blank = 1;
		return 0;
	}
	if (!terminated) {
		stream_fail(st, VLOGS_E_STREAM, "stream aborted: the response "
		    "ended inside a line", line, len);
		goto fail;
	}
	if (st->rows >= st->max_rows) {
		char m[96];
		snprintf(m, sizeof(m), "more than %zu rows (max rows)",
		    st->max_rows);
		stream_fail(st, VLOGS_E_LIMIT, m, NULL, 0);
		goto fail;
	}
	dst = st->out;
	if (st->map.n > 0) {
		qresult_reset(&st->tmp);
		dst = &st->tmp;
	}
	if (qresult_add_jsonl(dst, line, len, &st->scratch, why,
	    sizeof(why)) != 0) {
		/* qresult's reason quotes the key as it was sent. */
		struct buf m = BUF_INIT;
		buf_addstr(&m, "stream aborted: ");
		add_text(&m, why, strlen(why), sizeof(why));
		stream_fail(st, VLOGS_E_STREAM, m.p, line, len);
		buf_release(&m);
		goto fail;
	}
	if (st->map.n > 0)
		map_row(st);
	st->rows++;
	return 0;
fail:
	snprintf(err, errlen, "%s", st->err.msg);
	return 1;
}

struct vlogs_stream *
vlogs_stream_new(const struct vlogs_opts *o, struct qresult *out,
    struct vlogs_error *e)
{
	struct vlogs_stream *st = xcalloc(1, sizeof(*st));
	char err[512];

	if (vmap_parse(&st->map, o->field_map, o->nfield_map, err,
	    sizeof(err)) != 0) {
		seterr(e, VLOGS_E_USAGE, "%s", err);
		free(st);
		return NULL;
	}
	st->out = out;
	qresult_init(&st->tmp);
	buf_init(&st->scratch);
	http_lines_init(&st->lines, o->max_line != 0 ? o->max_line :
	    VLOGS_MAX_LINE_DEFAULT, stream_line, st);
	st->max_bytes = o->max_bytes != 0 ? o->max_bytes :
	    VLOGS_MAX_BYTES_DEFAULT;
	st->max_rows = o->max_rows != 0 ? o->max_rows :
	    VLOGS_MAX_ROWS_DEFAULT;
	stream_reset(st);
	return st;
}

void
vlogs_stream_free(struct vlogs_stream *st)
{
	if (st == NULL)
		return;
	qresult_release(&st->tmp);
	buf_release(&st->scratch);
	http_lines_release(&st->lines);
	vmap_release(&st->map);
	free(st);
}

static int
stream_feed(struct vlogs_stream *st, const char *p, size_t n)
{
	char err[256];

	if (st->failed)
		return -1;
	if (n > st->max_bytes - st->bytes) {
		char m[96];
		snprintf(m, sizeof(m), "response larger than %llu bytes "
		    "(max bytes)", (unsigned long long)st->max_bytes);
		return stream_fail(st, VLOGS_E_LIMIT, m, NULL, 0);
	}
	st->bytes += n;
	if (http_lines_feed(&st->lines, p, n, err, sizeof(err)) != 0) {
		if (st->lines.too_long)
			return stream_fail(st, VLOGS_E_LIMIT, "a response line "
			    "is longer than max line", NULL, 0);
		/* stream_line failed the stream already. */
		return -1;
	}
	return 0;
}

static int
stream_end(struct vlogs_stream *st)
{
	char err[256];

	if (st->failed)
		return -1;
	if (http_lines_end(&st->lines, err, sizeof(err)) != 0)
		return -1;
	if (st->blank)
		return stream_fail(st, VLOGS_E_STREAM, "stream aborted: a "
		    "blank line at the end of the response", NULL, 0);
	return 0;
}

static void
copy_err(struct vlogs_error *e, const struct vlogs_stream *st)
{
	e->kind = st->err.kind;
	memcpy(e->msg, st->err.msg, sizeof(e->msg));
}

int
vlogs_feed(struct vlogs_stream *st, const char *p, size_t n,
    struct vlogs_error *e)
{
	if (stream_feed(st, p, n) != 0) {
		copy_err(e, st);
		return -1;
	}
	return 0;
}

int
vlogs_feed_end(struct vlogs_stream *st, struct vlogs_error *e)
{
	if (stream_end(st) != 0) {
		copy_err(e, st);
		return -1;
	}
	return 0;
}

/* ---- the request */

/* VictoriaLogs writes application/stream+json; older versions added a
 * charset.  The header comes with the first rows, so an empty answer has
 * none at all. */
static int
content_type_ok(const char *ct)
{
	struct span s = { ct, strcspn(ct, ";") };

	s = span_trim(s);
	return s.n == 0 || span_eq_nocase_str(s, "application/stream+json") ||
	    span_eq_nocase_str(s, "application/x-ndjson") ||
	    span_eq_nocase_str(s, "application/jsonl") ||
	    span_eq_nocase_str(s, "application/json");
}

static int
stream_data(void *ctx, const char *p, size_t n, char *err, size_t errlen)
{
	struct vlogs_stream *st = ctx;

	if (st->rs != NULL && !st->ct_checked) {
		st->ct_checked = 1;
		if (!content_type_ok(st->rs->content_type)) {
			const char *ct = st->rs->content_type;
			stream_fail(st, VLOGS_E_HTTP, "unexpected Content-Type "
			    "in a 200 answer (is the URL a VictoriaLogs "
			    "server?)", ct, strlen(ct));
			snprintf(err, errlen, "content type");
			return 1;
		}
	}
	if (stream_feed(st, p, n) != 0) {
		snprintf(err, errlen, "stream");
		return 1;
	}
	return 0;
}

static int
is_http_url(const char *u)
{
	return strncasecmp(u, "http://", 7) == 0 ||
	    strncasecmp(u, "https://", 8) == 0;
}

static int
build_url(const char *base, struct buf *url, struct vlogs_error *e)
{
	const char *auth;
	size_t n;

	if (base == NULL || *base == '\0') {
		seterr(e, VLOGS_E_USAGE, "no VictoriaLogs URL given");
		return -1;
	}
	if (!is_http_url(base)) {
		seterr(e, VLOGS_E_USAGE, "VictoriaLogs URL must start with "
		    "http:// or https://");
		return -1;
	}
	for (const char *q = base; *q != '\0'; q++) {
		unsigned char c = (unsigned char)*q;
		if (c <= 0x20 || c == 0x7f || c == '?' || c == '#') {
			char red[512];
			http_url_redact(base, red, sizeof(red));
			seterr(e, VLOGS_E_USAGE, "VictoriaLogs URL %s: no "
			    "query string, fragment, spaces or control "
			    "characters allowed", red);
			return -1;
		}
	}
	auth = strstr(base, "://") + 3;
	if (*auth == '\0' || *auth == '/') {
		seterr(e, VLOGS_E_USAGE, "VictoriaLogs URL has no host");
		return -1;
	}
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	buf_add(url, base, n);
	/* The full query URL is accepted as well as the base. */
	if (url->len < sizeof(QUERY_PATH) - 1 ||
	    strcmp(url->p + url->len - (sizeof(QUERY_PATH) - 1),
	    QUERY_PATH) != 0)
		buf_addstr(url, QUERY_PATH);
	return 0;
}

/* A tenant id: a 32-bit decimal number; anything else would also let a
 * config value write arbitrary headers. */
static int
tenant_ok(const char *s)
{
	uint64_t v;

	return parse_u64(span_str(s), &v) == 0 && v <= UINT32_MAX;
}

/* application/x-www-form-urlencoded */
static void
form_add(struct buf *b, const char *key, const char *val)
{
	static const char hex[] = "0123456789ABCDEF";

	if (b->len > 0)
		buf_addch(b, '&');
	buf_addstr(b, key);
	buf_addch(b, '=');
	for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			buf_addch(b, (char)c);
		else if (c == ' ')
			buf_addch(b, '+');
		else {
			buf_addch(b, '%');
			buf_addch(b, hex[c >> 4]);
			buf_addch(b, hex[c & 15]);
		}
	}
}

/* "30s", "4.2s", "0.25s": VictoriaLogs' duration syntax, ms precision. */
static void
fmt_timeout(int64_t ns, char *out, size_t outlen)
{
	int64_t ms = ns / 1000000;
	int64_t s, frac;

	if (ms == 0)
		ms = 1;
	s = ms / 1000;
	frac = ms % 1000;
	if (frac == 0)
		snprintf(out, outlen, "%llds", (long long)s);
	else if (frac % 100 == 0)
		snprintf(out, outlen, "%lld.%llds", (long long)s,
		    (long long)(frac / 100));
	else if (frac % 10 == 0)
		snprintf(out, outlen, "%lld.%02llds", (long long)s,
		    (long long)(frac / 10));
	else
		snprintf(out, outlen, "%lld.%03llds", (long long)s,
		    (long long)frac);
}

/* libcurl's deadline: the server's timeout plus time for it to say so. */
static int64_t
transfer_timeout(int64_t qt)
{
	const int64_t sec = INT64_C(1000000000);
	int64_t base = qt > 0 ? qt : VLOGS_QUERY_TIMEOUT_DEFAULT;
	int64_t slack = base / 4;

	if (slack < sec)
		slack = sec;
	if (slack > 10 * sec)
		slack = 10 * sec;
	return base + slack;
}

static int
retryable_status(int status)
{
	return status == 502 || status == 503 || status == 429;
}

/* http_do's message without its "POST <url>: " prefix, ours says where. */
static const char *
http_reason(const char *herr, const char *where)
{
	size_t n = strlen(where);

	if (strncmp(herr, "POST ", 5) == 0 && strncmp(herr + 5, where, n) == 0 &&
	    strncmp(herr + 5 + n, ": ", 2) == 0)
		return herr + 5 + n + 2;
	return herr;
}

static void
server_text(struct buf *b, const struct http_response *rs)
{
	if (rs->body.len == 0) {
		buf_addstr(b, "(empty body)");
		return;
	}
	add_text(b, rs->body.p, rs->body.len, VLOGS_ERRTEXT_MAX);
}

int
vlogs_query(const struct vlogs_opts *o, const char *logsql, int64_t start_ns,
    int64_t end_ns, size_t limit, struct qresult *out, struct vlogs_error *e)
{
	struct buf url = BUF_INIT, body = BUF_INIT, hacc = BUF_INIT,
	    hproj = BUF_INIT, txt = BUF_INIT;
	struct http_request rq;
	struct http_response rs;
	struct vlogs_stream *st = NULL;
	const char *headers[4];
	size_t nh = 0;
	char where[512], herr[1024], tbuf[TIME_STRLEN];
	int ret = -1;

	memset(e, 0, sizeof(*e));
	memset(&rq, 0, sizeof(rq));
	rq.url = o->url;
	rq.bearer = o->bearer_token;
	rq.user = o->user;
	rq.password = o->password;
	http_response_init(&rs);
	qresult_reset(out);

	if (build_url(o->url, &url, e) != 0)
		goto done;
	http_url_redact(url.p, where, sizeof(where));
	if (logsql == NULL || *logsql == '\0') {
		seterr(e, VLOGS_E_USAGE, "empty LogsQL query");
		goto done;
	}
	if ((o->account_id != NULL && !tenant_ok(o->account_id)) ||
	    (o->project_id != NULL && !tenant_ok(o->project_id))) {
		seterr(e, VLOGS_E_USAGE, "AccountID and ProjectID must be "
		    "decimal numbers below 2^32");
		goto done;
	}
	st = vlogs_stream_new(o, out, e);
	if (st == NULL)
		goto done;
	st->rs = &rs;

	form_add(&body, "query", logsql);
	if (limit > 0) {
		char n[32];
		snprintf(n, sizeof(n), "%zu", limit);
		form_add(&body, "limit", n);
	}
	if (start_ns != TIME_NONE) {
		time_format_rfc3339(start_ns, tbuf, sizeof(tbuf));
		form_add(&body, "start", tbuf);
	}
	if (end_ns != TIME_NONE) {
		time_format_rfc3339(end_ns, tbuf, sizeof(tbuf));
		form_add(&body, "end", tbuf);
	}
	if (o->query_timeout_ns > 0) {
		char t[48];
		fmt_timeout(o->query_timeout_ns, t, sizeof(t));
		form_add(&body, "timeout", t);
	}

	headers[nh++] = "Content-Type: application/x-www-form-urlencoded";
	if (o->account_id != NULL) {
		buf_addf(&hacc, "AccountID: %s", o->account_id);
		headers[nh++] = hacc.p;
	}
	if (o->project_id != NULL) {
		buf_addf(&hproj, "ProjectID: %s", o->project_id);
		headers[nh++] = hproj.p;
	}

	rq.method = "POST";
	rq.url = url.p;
	rq.headers = headers;
	rq.nheaders = nh;
	rq.body = body.p;
	rq.body_len = body.len;
	rq.ca_file = o->ca_file;
	rq.timeout_ns = transfer_timeout(o->query_timeout_ns);
	rq.connect_timeout_ns = o->connect_timeout_ns;
	rq.max_response = st->max_bytes;
	rq.on_data = stream_data;
	rq.ctx = st;

	for (int attempt = 0;; attempt++) {
		int r, retry = 0;

		stream_reset(st);
		e->attempts++;
		r = http_do(&rq, &rs, herr, sizeof(herr));
		e->status = rs.status;
		buf_reset(&txt);
		if (r == 0 && rs.status == 200) {
			if (!st->ct_checked && rs.bytes == 0 &&
			    !content_type_ok(rs.content_type)) {
				seterr(e, VLOGS_E_HTTP, "%s: unexpected "
				    "Content-Type in a 200 answer", where);
				break;
			}
			if (stream_end(st) != 0) {
				seterr(e, st->err.kind, "%s: %s", where,
				    st->err.msg);
				break;
			}
			ret = 0;
			break;
		}
		if (r == 0 && rs.status == 400) {
			/* The server's words, unadorned: the agent that
			 * wrote the query reads them to fix it. */
			server_text(&txt, &rs);
			seterr(e, VLOGS_E_QUERY, "%s", txt.p);
			break;
		}
		if (r == 0) {
			server_text(&txt, &rs);
			if (retryable_status(rs.status)) {
				if (attempt < o->retries)
					retry = 1;
				else {
					seterr(e, VLOGS_E_UNAVAILABLE, "%s: HTTP "
					    "%d after %d attempts: %s", where,
					    rs.status, e->attempts, txt.p);
					break;
				}
			} else if (rs.status == 401 || rs.status == 403) {
				seterr(e, VLOGS_E_HTTP, "%s: HTTP %d: not "
				    "authorised (check the bearer token or "
				    "user and password): %s", where,
				    rs.status, txt.p);
				break;
			} else if (rs.status == 404) {
				seterr(e, VLOGS_E_HTTP, "%s: HTTP 404 (is the "
				    "URL a VictoriaLogs server?): %s", where,
				    txt.p);
				break;
			} else {
				seterr(e, VLOGS_E_HTTP, "%s: HTTP %d: %s",
				    where, rs.status, txt.p);
				break;
			}
		} else {
			switch (rs.fail) {
			case HTTP_FAIL_CALLBACK:
				seterr(e, st->failed ? st->err.kind :
				    VLOGS_E_STREAM, "%s: %s", where,
				    st->failed ? st->err.msg : herr);
				break;
			case HTTP_FAIL_TOO_BIG:
				seterr(e, VLOGS_E_LIMIT, "%s: response larger "
				    "than %llu bytes (max bytes)", where,
				    (unsigned long long)st->max_bytes);
				break;
			case HTTP_FAIL_CONNECT:
				if (attempt < o->retries)
					retry = 1;
				else
					seterr(e, VLOGS_E_NETWORK, "%s: %s (after "
					    "%d attempts)", where,
					    http_reason(herr, where),
					    e->attempts);
				break;
			case HTTP_FAIL_TRUNCATED:
				seterr(e, VLOGS_E_STREAM, "%s: stream aborted%s "
				    "after %zu rows: %s", where, st->blank ?
				    " by the server" : "", st->rows,
				    http_reason(herr, where));
				break;
			case HTTP_FAIL_USAGE:
				seterr(e, VLOGS_E_USAGE, "%s: %s", where,
				    http_reason(herr, where));
				break;
			case HTTP_FAIL_TIMEOUT:
				seterr(e, VLOGS_E_NETWORK, "%s: %s (the client's "
				    "deadline: the query timeout plus a "
				    "margin)", where, http_reason(herr, where));
				break;
			default:
				seterr(e, VLOGS_E_NETWORK, "%s: %s", where,
				    http_reason(herr, where));
				break;
			}
			if (!retry)
				break;
		}
		if (retry) {
			int64_t d = http_backoff_ns(attempt, o->retry_base_ns,
			    o->retry_max_ns, rs.retry_after_s);
			log_debug("%s: attempt %d failed (HTTP %d, %s); "
			    "retrying in %lld ms", where, e->attempts,
			    rs.status, http_fail_name(rs.fail),
			    (long long)(d / 1000000));
			http_sleep_ns(d);
		}
	}

done:
	if (ret != 0) {
		qresult_reset(out);
		if (e->kind == VLOGS_OK)
			seterr(e, VLOGS_E_NETWORK, "query failed");
		rq.url = o->url; /* its userinfo, if any, is a secret */
		http_scrub_request(e->msg, sizeof(e->msg), &rq);
	} else
		e->kind = VLOGS_OK;
	vlogs_stream_free(st);
	http_response_release(&rs);
	buf_release(&url);
	buf_release(&body);
	buf_release(&hacc);
	buf_release(&hproj);
	buf_release(&txt);
	return ret;
}
