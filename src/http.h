/*
 * anomaly-detect: the HTTP client shared by the VictoriaLogs, CrowdSec
 * LAPI and LLM clients (temporary header: to be moved into anomaly.h as
 * the "http.c" section).
 */
#ifndef AD_HTTP_H
#define AD_HTTP_H

#include "anomaly.h"

/* ---------------------------------------------------------------- http.c */

/*
 * One HTTP request through libcurl, with the rules every client here
 * needs: TLS verification always on, bounded response sizes, no
 * redirects followed (credentials must not wander to another host),
 * http and https only, and secrets (bearer token, password, the userinfo
 * of a URL) never in an error message: they are scrubbed from it even
 * when libcurl or the server echoes them.
 */

/* Splits a stream of bytes into lines, carrying an incomplete line over
 * to the next chunk.  A trailing \r is taken off each line.  A line of
 * more than max_line bytes (before its newline) fails the stream.  The
 * callback gets each line (not NUL-terminated, valid only during the
 * call) and whether it ended with a newline (0 only for the last line,
 * from http_lines_end).  It returns 0 to go on, nonzero to stop with its
 * reason in err. */
typedef int (*http_line_cb)(void *ctx, const char *line, size_t len,
    int terminated, char *err, size_t errlen);

struct http_lines {
	struct buf part;   /* the incomplete line so far */
	size_t max_line;
	http_line_cb cb;
	void *ctx;
	int failed;        /* a previous call failed: every later one does */
	int too_long;      /* the failure was a line over max_line */
};
#define HTTP_MAX_LINE_DEFAULT (1024 * 1024)
void http_lines_init(struct http_lines *l, size_t max_line, http_line_cb cb,
    void *ctx);
void http_lines_release(struct http_lines *l);
void http_lines_reset(struct http_lines *l);
/* 0, or -1 with the reason in err (a line too long, or the callback's). */
int http_lines_feed(struct http_lines *l, const char *p, size_t n,
    char *err, size_t errlen);
/* End of stream: an unterminated last line goes to the callback with
 * terminated = 0.  0 or -1 as above. */
int http_lines_end(struct http_lines *l, char *err, size_t errlen);

/* Raw body bytes of a 2xx response, as they arrive; nonzero stops the
 * transfer with the reason in err. */
typedef int (*http_data_cb)(void *ctx, const char *p, size_t n, char *err,
    size_t errlen);

struct http_request {
	const char *method;          /* "GET", "POST", ...; NULL = GET */
	const char *url;             /* http:// or https:// */
	const char *const *headers;  /* "Name: value" each */
	size_t nheaders;
	const char *body;            /* sent as is; NULL = none */
	size_t body_len;
	const char *bearer;          /* Authorization: Bearer; NULL = none */
	const char *user;            /* basic auth when non-NULL */
	const char *password;
	const char *ca_file;         /* extra trust anchors; NULL = system */
	int64_t timeout_ns;          /* whole transfer; 0 = none */
	int64_t connect_timeout_ns;  /* 0 = HTTP_CONNECT_TIMEOUT_DEFAULT */
	uint64_t max_response;       /* body bytes, any mode; 0 = default */
	size_t max_error_body;       /* non-2xx body kept; 0 = default */
	/* Streaming of 2xx bodies (non-2xx bodies are always collected):
	 * raw chunks to on_data, or lines to on_line; at most one.  With
	 * neither, the body is collected into the response. */
	http_data_cb on_data;
	http_line_cb on_line;
	void *ctx;
	size_t max_line;             /* for on_line; 0 = default */
};
#define HTTP_CONNECT_TIMEOUT_DEFAULT (10 * INT64_C(1000000000))
#define HTTP_MAX_RESPONSE_DEFAULT (64u * 1024 * 1024)
#define HTTP_MAX_ERROR_BODY_DEFAULT (16 * 1024)

/* Why a request did not produce a complete response. */
enum http_fail {
	HTTP_FAIL_NONE = 0,
	HTTP_FAIL_USAGE,      /* bad URL or option: a caller's mistake */
	HTTP_FAIL_CONNECT,    /* resolve/connect failed, or the connection
	                         closed before any response: may retry */
	HTTP_FAIL_TLS,        /* handshake or certificate verification */
	HTTP_FAIL_TIMEOUT,    /* connected, but the answer was too slow */
	HTTP_FAIL_TRUNCATED,  /* the response broke off after it started */
	HTTP_FAIL_TOO_BIG,    /* over max_response or a line over max_line */
	HTTP_FAIL_CALLBACK,   /* on_data / on_line stopped it: its reason */
	HTTP_FAIL_OTHER,
};

struct http_response {
	int status;                /* 0 = no response status seen */
	char content_type[128];    /* "" when absent (cut at 127 bytes) */
	int64_t retry_after_s;     /* Retry-After in seconds; -1 = absent */
	uint64_t bytes;            /* body bytes received */
	struct buf body;           /* collected body (see http_request) */
	int body_truncated;        /* a non-2xx body was cut at the limit */
	enum http_fail fail;
};
void http_response_init(struct http_response *r);
void http_response_release(struct http_response *r);
const char *http_fail_name(enum http_fail f);

/* Performs the request.  0 when a whole response arrived, whatever its
 * status; -1 with rs->fail set and the reason in err otherwise.  rs is
 * reset first.  Thread-safe (libcurl is initialised once). */
int http_do(const struct http_request *rq, struct http_response *rs,
    char *err, size_t errlen);

/* The URL for messages: scheme, host, port and path; userinfo, query and
 * fragment left out.  Returns the length written. */
size_t http_url_redact(const char *url, char *out, size_t outlen);
/* Replaces every occurrence of secret in the NUL-terminated s (of buffer
 * size ssize) by "***"; a no-op for NULL or "" secrets. */
void http_scrub(char *s, size_t ssize, const char *secret);
/* Scrubs the secrets of a request: bearer, password, the base64 of
 * user:password as an Authorization header carries it, and the URL's
 * userinfo password. */
void http_scrub_request(char *s, size_t ssize, const struct http_request *rq);

/* Retry pacing: exponential backoff with jitter for attempt (0 = the
 * first retry): base * 2^attempt capped at max, then a random point in its
 * upper half.  A server's Retry-After (seconds, -1 = none) raises it, up
 * to max.  Nanoseconds. */
int64_t http_backoff_ns(int attempt, int64_t base_ns, int64_t max_ns,
    int64_t retry_after_s);
void http_sleep_ns(int64_t ns);

#endif /* AD_HTTP_H */
