/*
 * anomaly-detect: the VictoriaLogs client (temporary header: to be moved
 * into anomaly.h as the "vlogs.c" section).
 */
#ifndef AD_VLOGS_H
#define AD_VLOGS_H

#include "anomaly.h"

/* --------------------------------------------------------------- vlogs.c */

/*
 * Queries to VictoriaLogs' /select/logsql/query, on a single node or a
 * cluster's vlselect (same API).  Rows stream in as JSON lines and go
 * into a struct qresult as they arrive.  A query either succeeds whole or
 * fails: a response cut short, a line that is not a JSON object of
 * strings, or one over a limit is an error, never a short result, and on
 * any error the result is left empty.
 *
 * Field names: results can be renamed by a field map of "canonical=theirs"
 * entries ("client_ip=remote_addr": their remote_addr is our client_ip).
 * The map applies to result field names only; LogsQL queries must use
 * the server's own names.  A field named like a mapped canonical name that
 * is not itself mapped is dropped, so the canonical name has one meaning.
 * Several canonical names may take the same field of theirs.
 */
#define VLOGS_MAX_BYTES_DEFAULT (64u * 1024 * 1024)
#define VLOGS_MAX_ROWS_DEFAULT 1000000
#define VLOGS_MAX_LINE_DEFAULT (1024 * 1024)
#define VLOGS_QUERY_TIMEOUT_DEFAULT (30 * INT64_C(1000000000))
#define VLOGS_CONNECT_TIMEOUT_DEFAULT (5 * INT64_C(1000000000))
#define VLOGS_RETRIES_DEFAULT 3
#define VLOGS_MAP_MAX 64
#define VLOGS_ERRTEXT_MAX 2048 /* the server's text, escaped, at most */

struct vlogs_opts {
	const char *url;             /* http://127.0.0.1:9428, or a vlselect;
	                                the query path is appended */
	const char *account_id;      /* AccountID / ProjectID headers, decimal;
	                                NULL = not sent (tenant 0:0) */
	const char *project_id;
	const char *bearer_token;    /* never logged or shown */
	const char *user;            /* basic auth when non-NULL */
	const char *password;        /* never logged or shown */
	const char *ca_file;         /* extra trust anchors for https */
	int64_t query_timeout_ns;    /* sent as timeout=; 0 = not sent */
	int64_t connect_timeout_ns;  /* 0 = default */
	uint64_t max_bytes;          /* response body cap; 0 = default */
	size_t max_rows;             /* 0 = default */
	size_t max_line;             /* one response line; 0 = default */
	int retries;                 /* further tries on 502/503/429 and
	                                connection failures */
	int64_t retry_base_ns;       /* first backoff, doubling ... */
	int64_t retry_max_ns;        /* ... up to this */
	const char *const *field_map; /* "canonical=theirs" entries */
	size_t nfield_map;
};
/* Defaults: every pointer NULL, the timeouts, caps and retries above,
 * backoff 500 ms doubling up to 10 s. */
void vlogs_opts_init(struct vlogs_opts *o);

/* What went wrong, so callers can act on it. */
enum vlogs_errkind {
	VLOGS_OK = 0,
	VLOGS_E_USAGE,       /* bad options: URL, tenant, field map */
	VLOGS_E_QUERY,       /* 400: msg is the server's text, as is */
	VLOGS_E_UNAVAILABLE, /* 502/503/429 still after the retries */
	VLOGS_E_NETWORK,     /* connect, TLS or timeout (after retries) */
	VLOGS_E_HTTP,        /* another status: 401, 403, 404, 500 ... */
	VLOGS_E_STREAM,      /* a 200 whose body broke off or held a bad line */
	VLOGS_E_LIMIT,       /* over max_bytes, max_rows or max_line */
};
struct vlogs_error {
	enum vlogs_errkind kind;
	int status;       /* the last HTTP status; 0 = none */
	int attempts;     /* requests sent */
	char msg[VLOGS_ERRTEXT_MAX + 512];
};
const char *vlogs_errkind_name(enum vlogs_errkind k);

/* Checks a field map ("canonical=theirs" entries): 0, or -1 with why. */
int vlogs_map_check(const char *const *spec, size_t n, char *err,
    size_t errlen);

/* Runs one query; start/end in ns (TIME_NONE = unset), limit 0 = none
 * (with a limit, the server sends the newest rows).  out is reset first;
 * on success it holds every row, on failure none.  0 or -1 with e set.
 * Error messages never contain the token, the password or the URL's
 * userinfo, even when the server echoes them. */
int vlogs_query(const struct vlogs_opts *o, const char *logsql,
    int64_t start_ns, int64_t end_ns, size_t limit, struct qresult *out,
    struct vlogs_error *e);

/* The response parser on its own, as vlogs_query drives it: bytes in any
 * chunking, then the end.  Exposed for the fuzzer and tests.  On failure
 * out is reset and e says why; later calls fail too. */
struct vlogs_stream;
struct vlogs_stream *vlogs_stream_new(const struct vlogs_opts *o,
    struct qresult *out, struct vlogs_error *e); /* NULL: bad field map */
int vlogs_feed(struct vlogs_stream *st, const char *p, size_t n,
    struct vlogs_error *e);
int vlogs_feed_end(struct vlogs_stream *st, struct vlogs_error *e);
void vlogs_stream_free(struct vlogs_stream *st);

#endif /* AD_VLOGS_H */
