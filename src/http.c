/*
 * HTTP requests through libcurl, for the clients of VictoriaLogs, the
 * CrowdSec LAPI and LLM APIs.
 *
 * The rules live here once so no client can forget one: certificates are
 * always verified, only http and https are spoken, redirects are not
 * followed (a redirect would carry the Authorization header to a host the
 * user never named), every response is bounded in size, and secrets never
 * reach an error message.  libcurl's own messages do not normally carry
 * credentials, and servers do not normally echo them, but both are outside
 * our control, so every message is scrubbed of each secret of the request
 * before the caller sees it.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "anomaly.h"


/* ---- lines */

void
http_lines_init(struct http_lines *l, size_t max_line, http_line_cb cb,
    void *ctx)
{
	buf_init(&l->part);
	l->max_line = max_line != 0 ? max_line : HTTP_MAX_LINE_DEFAULT;
	l->cb = cb;
	l->ctx = ctx;
	l->failed = 0;
	l->too_long = 0;
}

void
http_lines_release(struct http_lines *l)
{
	buf_release(&l->part);
}

void
http_lines_reset(struct http_lines *l)
{
	buf_reset(&l->part);
	l->failed = 0;
	l->too_long = 0;
}

static int
lines_too_long(struct http_lines *l, char *err, size_t errlen)
{
	l->failed = 1;
	l->too_long = 1;
	snprintf(err, errlen, "a line is longer than %zu bytes", l->max_line);
	return -1;
}

static int
lines_deliver(struct http_lines *l, const char *p, size_t n, int term,
    char *err, size_t errlen)
{
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (l->cb(l->ctx, p, n, term, err, errlen) != 0) {
		l->failed = 1;
		return -1;
	}
	return 0;
}

int
http_lines_feed(struct http_lines *l, const char *p, size_t n, char *err,
    size_t errlen)
{
	if (l->failed) {
		snprintf(err, errlen, "line stream already failed");
		return -1;
	}
	/* Invariant: part.len <= max_line (bytes before the newline,
	 * a \r included). */
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t seg;
		int r;

		if (nl == NULL) {
			if (n > l->max_line - l->part.len)
				return lines_too_long(l, err, errlen);
			buf_add(&l->part, p, n);
			return 0;
		}
		seg = (size_t)(nl - p);
		if (seg > l->max_line - l->part.len)
			return lines_too_long(l, err, errlen);
		if (l->part.len == 0) {
			/* The common case: a whole line inside the chunk
			 * goes out without a copy. */
			r = lines_deliver(l, p, seg, 1, err, errlen);
		} else {
			buf_add(&l->part, p, seg);
			r = lines_deliver(l, l->part.p, l->part.len, 1, err,
			    errlen);
			buf_reset(&l->part);
		}
		if (r != 0)
			return -1;
		p = nl + 1;
		n -= seg + 1;
	}
	return 0;
}

int
http_lines_end(struct http_lines *l, char *err, size_t errlen)
{
	int r = 0;

	if (l->failed) {
		snprintf(err, errlen, "line stream already failed");
		return -1;
	}
	if (l->part.len > 0) {
		r = lines_deliver(l, l->part.p, l->part.len, 0, err, errlen);
		buf_reset(&l->part);
	}
	return r;
}

/* ---- responses */

void
http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
	r->retry_after_s = -1;
}

void
http_response_release(struct http_response *r)
{
	buf_release(&r->body);
	http_response_init(r);
}

static void
http_response_reset(struct http_response *r)
{
	buf_reset(&r->body);
	r->status = 0;
	r->content_type[0] = '\0';
	r->retry_after_s = -1;
	r->bytes = 0;
	r->body_truncated = 0;
	r->fail = HTTP_FAIL_NONE;
}

const char *
http_fail_name(enum http_fail f)
{
	switch (f) {
	case HTTP_FAIL_NONE: return "none";
	case HTTP_FAIL_USAGE: return "usage";
	case HTTP_FAIL_CONNECT: return "connect";
	case HTTP_FAIL_TLS: return "tls";
	case HTTP_FAIL_TIMEOUT: return "timeout";
	case HTTP_FAIL_TRUNCATED: return "truncated";
	case HTTP_FAIL_TOO_BIG: return "too_big";
	case HTTP_FAIL_CALLBACK: return "callback";
	case HTTP_FAIL_OTHER: return "other";
	}
	return "?";
}

/* ---- redaction */

/* Bytes a terminal should not get raw are shown as '?': a URL comes from
 * a config file and ends up in messages. */
static void
put_safe(struct buf *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		buf_addch(b, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
}

size_t
http_url_redact(const char *url, char *out, size_t outlen)
{
	struct buf b = BUF_INIT;
	const char *s, *auth, *end, *at;
	size_t n;

	if (outlen == 0)
		return 0;
	s = strstr(url, "://");
	end = url + strcspn(url, "?#");
	if (s == NULL || s > end) {
		/* Not a URL we understand: show nothing that could be a
		 * credential. */
		if (memchr(url, '@', (size_t)(end - url)) != NULL)
			buf_addstr(&b, "(URL)");
		else
			put_safe(&b, url, (size_t)(end - url));
	} else {
		auth = s + 3;
		const char *aend = auth + strcspn(auth, "/?#");
		put_safe(&b, url, (size_t)(auth - url));
		at = NULL;
		for (const char *q = auth; q < aend; q++)
			if (*q == '@')
				at = q;
		if (at != NULL)
			auth = at + 1;
		put_safe(&b, auth, (size_t)(end - auth));
	}
	n = b.len < outlen - 1 ? b.len : outlen - 1;
	memcpy(out, b.p, n);
	out[n] = '\0';
	buf_release(&b);
	return n;
}

static void
scrub_n(char *s, size_t ssize, const char *secret, size_t slen)
{
	struct buf b = BUF_INIT;
	const char *p = s, *hit;
	size_t n = strlen(s), left = n;

	if (secret == NULL || slen == 0 || ssize == 0)
		return;
	if (memmem(s, n, secret, slen) == NULL)
		return;
	while ((hit = memmem(p, left, secret, slen)) != NULL) {
		buf_add(&b, p, (size_t)(hit - p));
		buf_add(&b, "***", 3);
		left -= (size_t)(hit - p) + slen;
		p = hit + slen;
	}
	buf_add(&b, p, left);
	n = b.len < ssize - 1 ? b.len : ssize - 1;
	memcpy(s, b.p, n);
	s[n] = '\0';
	buf_release(&b);
}

void
http_scrub(char *s, size_t ssize, const char *secret)
{
	if (secret != NULL)
		scrub_n(s, ssize, secret, strlen(secret));
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
base64_add(struct buf *b, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
		    p[i + 2];
		buf_addch(b, b64chars[v >> 18]);
		buf_addch(b, b64chars[(v >> 12) & 63]);
		buf_addch(b, b64chars[(v >> 6) & 63]);
		buf_addch(b, b64chars[v & 63]);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		buf_addch(b, b64chars[v >> 18]);
		buf_addch(b, b64chars[(v >> 12) & 63]);
		buf_add(b, "==", 2);
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		buf_addch(b, b64chars[v >> 18]);
		buf_addch(b, b64chars[(v >> 12) & 63]);
		buf_addch(b, b64chars[(v >> 6) & 63]);
		buf_addch(b, '=');
	}
}

/* Wipes a buffer that held a secret before giving it back. */
static void
buf_release_secret(struct buf *b)
{
	if (b->cap != 0)
		explicit_bzero(b->p, b->cap);
	buf_release(b);
}

void
http_scrub_request(char *s, size_t ssize, const struct http_request *rq)
{
	if (rq->bearer != NULL)
		http_scrub(s, ssize, rq->bearer);
	if (rq->password != NULL)
		http_scrub(s, ssize, rq->password);
	if (rq->user != NULL && rq->password != NULL) {
		struct buf up = BUF_INIT, enc = BUF_INIT;
		buf_addstr(&up, rq->user);
		buf_addch(&up, ':');
		buf_addstr(&up, rq->password);
		base64_add(&enc, (const unsigned char *)up.p, up.len);
		scrub_n(s, ssize, enc.p, enc.len);
		buf_release_secret(&up);
		buf_release_secret(&enc);
	}
	if (rq->url != NULL) {
		/* userinfo of scheme://user:pass@host: the password, or the
		 * whole userinfo when it has no colon (a bare token). */
		const char *a = strstr(rq->url, "://");
		if (a != NULL) {
			const char *auth = a + 3;
			const char *aend = auth + strcspn(auth, "/?#");
			const char *at = NULL;
			for (const char *q = auth; q < aend; q++)
				if (*q == '@')
					at = q;
			if (at != NULL) {
				const char *colon = memchr(auth, ':',
				    (size_t)(at - auth));
				if (colon != NULL)
					scrub_n(s, ssize, colon + 1,
					    (size_t)(at - colon - 1));
				else
					scrub_n(s, ssize, auth,
					    (size_t)(at - auth));
			}
		}
	}
}

/* ---- backoff */

static uint64_t
splitmix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* Jitter needs no secrecy, only that clients restarted together do not
 * retry in lockstep: the clock, the pid and a counter are enough. */
static uint64_t
jitter_rand(void)
{
	static atomic_uint_fast64_t counter;
	uint64_t c = atomic_fetch_add(&counter, 1);

	return splitmix64((uint64_t)clock_mono_ns() ^
	    ((uint64_t)getpid() << 32) ^ splitmix64(c));
}

int64_t
http_backoff_ns(int attempt, int64_t base_ns, int64_t max_ns,
    int64_t retry_after_s)
{
	int64_t d = base_ns > 0 ? base_ns : 1, half, j;

	if (max_ns < d)
		max_ns = d;
	for (int i = 0; i < attempt && d < max_ns; i++)
		d = d > max_ns / 2 ? max_ns : d * 2;
	half = d / 2;
	j = half + (int64_t)(jitter_rand() % (uint64_t)(d - half + 1));
	if (retry_after_s > 0) {
		int64_t ra = retry_after_s > max_ns / 1000000000 ? max_ns :
		    retry_after_s * 1000000000;
		if (ra > j)
			j = ra;
	}
	return j;
}

void
http_sleep_ns(int64_t ns)
{
	struct timespec ts, rem;

	if (ns <= 0)
		return;
	ts.tv_sec = (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	while (nanosleep(&ts, &rem) == -1 && errno == EINTR)
		ts = rem;
}

/* ---- the request */

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_init_rc;

static void
http_global_init(void)
{
	http_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct xfer {
	const struct http_request *rq;
	struct http_response *rs;
	CURL *h;
	int started;     /* the first body bytes came: status known */
	int ok2xx;
	uint64_t max_response;
	size_t max_error_body;
	struct http_lines lines;
	enum http_fail fail; /* set when a callback of ours stopped it */
	int error_body_full; /* stopped reading a non-2xx body on purpose */
	char cberr[1024];
};

static void
xfer_capture_headers(struct xfer *x)
{
	long code = 0;
	char *ct = NULL;

	if (curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
		x->rs->status = (int)code;
	if (curl_easy_getinfo(x->h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL)
		snprintf(x->rs->content_type, sizeof(x->rs->content_type),
		    "%s", ct);
	x->ok2xx = x->rs->status >= 200 && x->rs->status < 300;
}

static size_t
xfer_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	const struct http_request *rq = x->rq;
	struct http_response *rs = x->rs;
	size_t n = size * nmemb;

	if (!x->started) {
		xfer_capture_headers(x);
		x->started = 1;
	}
	if (n > x->max_response - rs->bytes) {
		x->fail = HTTP_FAIL_TOO_BIG;
		snprintf(x->cberr, sizeof(x->cberr),
		    "response larger than %llu bytes",
		    (unsigned long long)x->max_response);
		return 0;
	}
	rs->bytes += n;
	if (!x->ok2xx) {
		/* An error page is kept only so far; past that it is not
		 * worth reading on, so the transfer stops there. */
		size_t room = x->max_error_body - rs->body.len;
		if (n > room) {
			rs->body_truncated = 1;
			buf_add(&rs->body, p, room);
			x->error_body_full = 1;
			return 0;
		}
		buf_add(&rs->body, p, n);
		return n;
	}
	if (rq->on_data != NULL) {
		if (rq->on_data(rq->ctx, p, n, x->cberr,
		    sizeof(x->cberr)) != 0) {
			x->fail = HTTP_FAIL_CALLBACK;
			return 0;
		}
	} else if (rq->on_line != NULL) {
		if (http_lines_feed(&x->lines, p, n, x->cberr,
		    sizeof(x->cberr)) != 0) {
			x->fail = x->lines.too_long ? HTTP_FAIL_TOO_BIG :
			    HTTP_FAIL_CALLBACK;
			return 0;
		}
	} else
		buf_add(&rs->body, p, n);
	return n;
}

static int
has_crlf(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") != NULL;
}

static int
is_http_url(const char *u)
{
	return strncasecmp(u, "http://", 7) == 0 ||
	    strncasecmp(u, "https://", 8) == 0;
}

static long
ns_to_ms(int64_t ns)
{
	int64_t ms = ns / 1000000;

	if (ns > 0 && ms == 0)
		ms = 1;
	return ms > LONG_MAX ? LONG_MAX : (long)ms;
}

static enum http_fail
classify(CURLcode rc, struct xfer *x)
{
	curl_off_t conn = 0;

	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_UNKNOWN_OPTION:
		return HTTP_FAIL_USAGE;
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return HTTP_FAIL_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		/* A connect that timed out is a connection failure (worth
		 * another try); a server that took the connection and then
		 * stalled is slow, and asking again only adds load. */
		if (curl_easy_getinfo(x->h, CURLINFO_CONNECT_TIME_T, &conn) ==
		    CURLE_OK && conn == 0)
			return HTTP_FAIL_CONNECT;
		return HTTP_FAIL_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
		return HTTP_FAIL_TLS;
	case CURLE_WRITE_ERROR:
		if (x->fail != HTTP_FAIL_NONE)
			return x->fail;
		return HTTP_FAIL_OTHER;
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_WEIRD_SERVER_REPLY:
		/* Closed before a status line: the server went away (a
		 * restart); after it, the answer is cut short. */
		return x->rs->status == 0 ? HTTP_FAIL_CONNECT :
		    HTTP_FAIL_TRUNCATED;
	default:
		return HTTP_FAIL_OTHER;
	}
}

int
http_do(const struct http_request *rq, struct http_response *rs, char *err,
    size_t errlen)
{
	struct xfer x;
	struct curl_slist *hl = NULL, *t;
	struct buf auth = BUF_INIT;
	char ebuf[CURL_ERROR_SIZE];
	char where[512];
	const char *method = rq->method != NULL ? rq->method : "GET";
	const char *why = NULL;
	CURLcode rc;
	curl_off_t ra = -1;
	int ret = -1;

	http_response_reset(rs);
	memset(&x, 0, sizeof(x));
	x.rq = rq;
	x.rs = rs;
	x.max_response = rq->max_response != 0 ? rq->max_response :
	    HTTP_MAX_RESPONSE_DEFAULT;
	x.max_error_body = rq->max_error_body != 0 ? rq->max_error_body :
	    HTTP_MAX_ERROR_BODY_DEFAULT;
	http_lines_init(&x.lines, rq->max_line, rq->on_line, rq->ctx);
	ebuf[0] = '\0';
	http_url_redact(rq->url != NULL ? rq->url : "", where, sizeof(where));

	if (rq->url == NULL || !is_http_url(rq->url)) {
		rs->fail = HTTP_FAIL_USAGE;
		snprintf(err, errlen, "%s %s: not an http:// or https:// URL",
		    method, where);
		goto done;
	}
	if (rq->on_data != NULL && rq->on_line != NULL) {
		rs->fail = HTTP_FAIL_USAGE;
		snprintf(err, errlen, "%s %s: both on_data and on_line",
		    method, where);
		goto done;
	}
	/* A CR or LF would let a value start a header of its own. */
	if (has_crlf(rq->bearer) || has_crlf(rq->user) ||
	    has_crlf(rq->password) || has_crlf(method) ||
	    strpbrk(rq->url, "\r\n \t") != NULL ||
	    (rq->user != NULL && strchr(rq->user, ':') != NULL)) {
		rs->fail = HTTP_FAIL_USAGE;
		snprintf(err, errlen, "%s %s: a line break in the URL, method "
		    "or credentials, or a ':' in the user name", method, where);
		goto done;
	}
	for (size_t i = 0; i < rq->nheaders; i++) {
		if (has_crlf(rq->headers[i]) ||
		    strchr(rq->headers[i], ':') == NULL) {
			rs->fail = HTTP_FAIL_USAGE;
			snprintf(err, errlen, "%s %s: malformed request "
			    "header #%zu", method, where, i + 1);
			goto done;
		}
	}

	pthread_once(&http_once, http_global_init);
	if (http_init_rc != CURLE_OK) {
		rs->fail = HTTP_FAIL_OTHER;
		snprintf(err, errlen, "libcurl initialisation failed: %s",
		    curl_easy_strerror(http_init_rc));
		goto done;
	}
	x.h = curl_easy_init();
	if (x.h == NULL) {
		rs->fail = HTTP_FAIL_OTHER;
		snprintf(err, errlen, "libcurl: cannot create a handle");
		goto done;
	}

	for (size_t i = 0; i < rq->nheaders; i++) {
		t = curl_slist_append(hl, rq->headers[i]);
		if (t == NULL)
			fatalx("curl_slist_append: out of memory");
		hl = t;
	}
	/* libcurl waits for "100 Continue" before a large body; servers
	 * here do not send it, so the wait would only add a second. */
	t = curl_slist_append(hl, "Expect:");
	if (t == NULL)
		fatalx("curl_slist_append: out of memory");
	hl = t;
	if (rq->bearer != NULL) {
		buf_addstr(&auth, "Authorization: Bearer ");
		buf_addstr(&auth, rq->bearer);
		t = curl_slist_append(hl, auth.p);
		if (t == NULL)
			fatalx("curl_slist_append: out of memory");
		hl = t;
	}

	curl_easy_setopt(x.h, CURLOPT_URL, rq->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(x.h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x.h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(x.h, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(x.h, CURLOPT_REDIR_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(x.h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x.h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(x.h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(x.h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (rq->ca_file != NULL)
		curl_easy_setopt(x.h, CURLOPT_CAINFO, rq->ca_file);
	curl_easy_setopt(x.h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(x.h, CURLOPT_USERAGENT, "anomaly-detect/" AD_VERSION);
	curl_easy_setopt(x.h, CURLOPT_HTTPHEADER, hl);
	/* Compressed answers are welcome; the size cap counts the bytes
	 * after decoding, so a compression bomb is still bounded. */
	curl_easy_setopt(x.h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(x.h, CURLOPT_CONNECTTIMEOUT_MS,
	    ns_to_ms(rq->connect_timeout_ns > 0 ? rq->connect_timeout_ns :
	    HTTP_CONNECT_TIMEOUT_DEFAULT));
	if (rq->timeout_ns > 0)
		curl_easy_setopt(x.h, CURLOPT_TIMEOUT_MS,
		    ns_to_ms(rq->timeout_ns));
	if (rq->user != NULL) {
		curl_easy_setopt(x.h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(x.h, CURLOPT_USERNAME, rq->user);
		curl_easy_setopt(x.h, CURLOPT_PASSWORD,
		    rq->password != NULL ? rq->password : "");
	}
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(x.h, CURLOPT_HTTPGET, 1L);
	else if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(x.h, CURLOPT_NOBODY, 1L);
	else {
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(x.h, CURLOPT_CUSTOMREQUEST, method);
		if (strcmp(method, "POST") == 0 || rq->body != NULL) {
			curl_easy_setopt(x.h, CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)(rq->body != NULL ? rq->body_len : 0));
			curl_easy_setopt(x.h, CURLOPT_POSTFIELDS,
			    rq->body != NULL ? rq->body : "");
		}
	}
	curl_easy_setopt(x.h, CURLOPT_WRITEFUNCTION, xfer_write);
	curl_easy_setopt(x.h, CURLOPT_WRITEDATA, &x);

	rc = curl_easy_perform(x.h);
	if (!x.started)
		xfer_capture_headers(&x);
	if (curl_easy_getinfo(x.h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK &&
	    ra > 0)
		rs->retry_after_s = (int64_t)ra;

	if (rc == CURLE_WRITE_ERROR && x.error_body_full)
		rc = CURLE_OK;
	if (rc == CURLE_OK) {
		if (x.ok2xx && rq->on_line != NULL &&
		    http_lines_end(&x.lines, x.cberr, sizeof(x.cberr)) != 0) {
			rs->fail = x.lines.too_long ? HTTP_FAIL_TOO_BIG :
			    HTTP_FAIL_CALLBACK;
			snprintf(err, errlen, "%s %s: %s", method, where,
			    x.cberr);
			goto done;
		}
		ret = 0;
		goto done;
	}
	rs->fail = classify(rc, &x);
	if (rs->fail == HTTP_FAIL_CALLBACK || rs->fail == HTTP_FAIL_TOO_BIG)
		why = x.cberr;
	else if (ebuf[0] != '\0')
		why = ebuf;
	else
		why = curl_easy_strerror(rc);
	if (rs->fail == HTTP_FAIL_TRUNCATED)
		snprintf(err, errlen, "%s %s: response cut short after %llu "
		    "bytes: %s", method, where,
		    (unsigned long long)rs->bytes, why);
	else
		snprintf(err, errlen, "%s %s: %s", method, where, why);

done:
	if (ret != 0 && errlen > 0)
		http_scrub_request(err, errlen, rq);
	if (x.h != NULL)
		curl_easy_cleanup(x.h);
	curl_slist_free_all(hl);
	buf_release_secret(&auth);
	http_lines_release(&x.lines);
	return ret;
}
