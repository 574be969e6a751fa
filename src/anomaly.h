/*
 * anomaly-detect: private header.
 *
 * One section per source file, in the order data flows through the
 * program: utilities, logging, time, addresses, input, parsers, the
 * embedded store, commands.  Everything not declared here is static to
 * its file.
 *
 * Conventions (see README "Hacking"):
 *  - functions on struct S are S_init / S_release (free members, keep S)
 *    / S_free (release and free S);
 *  - errors are reported once, where they happen, and returned as -1 with
 *    the reason written into a caller-owned `char *err, size_t errlen`;
 *  - every buffer holding outside data has a size limit; parsers walk a
 *    pointer forward with length-bounded helpers; no atoi, sprintf,
 *    strcpy or strtok anywhere.
 */
#ifndef ANOMALY_H
#define ANOMALY_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define AD_VERSION "0.1.0"

#if defined(__GNUC__)
#define AD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define AD_VPRINTF(f) __attribute__((format(printf, f, 0)))
#define AD_NORETURN __attribute__((noreturn))
#else
#define AD_PRINTF(f, a)
#define AD_VPRINTF(f)
#define AD_NORETURN
#endif

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- util.c */

/* A borrowed byte range; not NUL-terminated. */
struct span {
	const char *p;
	size_t n;
};
#define SPAN_NULL ((struct span){ NULL, 0 })
#define SPAN_LIT(s) ((struct span){ (s), sizeof(s) - 1 })
struct span span_str(const char *s);
int span_eq(struct span a, struct span b);
int span_eq_str(struct span a, const char *s);
int span_eq_nocase_str(struct span a, const char *s);
struct span span_trim(struct span s);

/* A growable, always NUL-terminated byte buffer (git's strbuf). */
struct buf {
	char *p;
	size_t len;
	size_t cap;
};
extern char buf_empty_str[1]; /* what an empty, unallocated buf points at */
#define BUF_INIT { buf_empty_str, 0, 0 }
void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_addstr(struct buf *b, const char *s);
void buf_addch(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...) AD_PRINTF(2, 3);
void buf_vaddf(struct buf *b, const char *fmt, va_list ap) AD_VPRINTF(2);
/* Text for a terminal: printable ASCII and valid UTF-8 kept, other bytes
 * (control characters, invalid UTF-8) written as \xHH; backslash as \\. */
void buf_add_escaped(struct buf *b, const char *p, size_t n);
/* A JSON string literal with quotes.  Invalid UTF-8 bytes are written as
 * the six characters \u00HH would be wrong (they would claim a code
 * point), so they are written as the text "\\xHH": the result is always
 * valid UTF-8 JSON and the original bytes stay recognisable. */
void buf_add_json_str(struct buf *b, const char *p, size_t n);

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Strict number parsers over a whole span: -1 on any junk or overflow. */
int parse_u64(struct span s, uint64_t *out);
int parse_i64(struct span s, int64_t *out);
/* Decimal with optional fraction, e.g. "0.043" -> scaled integer:
 * parse_decimal_scaled("0.043", 1000000, &us) gives 43000.  Digits past
 * the scale are truncated.  -1 on junk, a sign, or overflow. */
int parse_decimal_scaled(struct span s, int64_t scale, int64_t *out);
/* "512", "64K", "10KiB", "512M", "2GiB", "1_000" -> bytes. */
int parse_size(struct span s, uint64_t *out);
/* "30s", "15m", "1h", "2d", "1h30m", "500ms" -> nanoseconds. */
int parse_duration(struct span s, int64_t *out_ns);
/* Write a human size ("1.5 MiB") or count ("1.2M") into out. */
void fmt_bytes(char *out, size_t outlen, double bytes);
void fmt_count(char *out, size_t outlen, double n);

/* Monotonic clock in nanoseconds, and wall clock in nanoseconds. */
int64_t clock_mono_ns(void);
int64_t clock_wall_ns(void);

/* ----------------------------------------------------------------- log.c */

/* OpenBSD-style logging to stderr.  log_warn appends ": strerror(errno)". */
void log_init(const char *progname, int verbosity);
int log_verbosity(void);
void log_warn(const char *fmt, ...) AD_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) AD_PRINTF(1, 2);
void log_info(const char *fmt, ...) AD_PRINTF(1, 2);
void log_debug(const char *fmt, ...) AD_PRINTF(1, 2);
void fatal(const char *fmt, ...) AD_PRINTF(1, 2) AD_NORETURN;
void fatalx(const char *fmt, ...) AD_PRINTF(1, 2) AD_NORETURN;

/* ------------------------------------------------------------- timefmt.c */

/* All times are int64 nanoseconds since the Unix epoch, UTC.  Parsing is
 * done here, never through mktime/localtime: it must be fast and must not
 * depend on the machine's time zone. */
#define TIME_NONE INT64_MIN
int64_t time_from_civil(int year, int month, int day, int hour, int min,
    int sec); /* seconds since epoch, proleptic Gregorian, UTC */
/* nginx $time_local / Apache %t: "20/Nov/2026:09:00:00 +0000". */
int time_parse_clf(struct span s, int64_t *out_ns);
/* RFC 3339 / ISO 8601: "2026-11-20T09:00:03.297877Z",
 * "2026-11-20T09:00:03+01:00", fraction of 0..9 digits. */
int time_parse_rfc3339(struct span s, int64_t *out_ns);
/* Unix time as a decimal number of seconds ("1700000000.123"), or an
 * integer in ms / us / ns, told apart by magnitude. */
int time_parse_epoch(struct span s, int64_t *out_ns);
/* Any of the above. */
int time_parse_any(struct span s, int64_t *out_ns);
/* RFC 3339 in UTC, the way VictoriaLogs writes _time: fraction present
 * only when non-zero, trailing zeros trimmed ("2026-11-20T09:00:03.2978Z").
 * out must hold TIME_STRLEN bytes; returns the length written. */
#define TIME_STRLEN 40
size_t time_format_rfc3339(int64_t ns, char *out, size_t outlen);

/* ---------------------------------------------------------------- addr.c */

/* An IP address.  IPv4 is family 4 with the address in b[0..3] (the rest
 * zero); IPv4-mapped IPv6 (::ffff:a.b.c.d) is normalised to family 4. */
struct ipaddr {
	uint8_t family; /* 4 or 6; 0 = none */
	uint8_t b[16];
};
#define IPADDR_STRLEN 48
/* Strict: a bare address, no port, no brackets, no zone, no spaces.
 * IPv4 is four decimal octets without leading zeros. */
int ipaddr_parse(struct span s, struct ipaddr *out);
/* Lenient, for addresses found in logs: surrounding spaces, "a.b.c.d",
 * "a.b.c.d:port", "[v6]", "[v6]:port", bare v6, any case. */
int ipaddr_parse_loose(struct span s, struct ipaddr *out);
/* Canonical text (dotted quad, RFC 5952 lower case); returns length. */
size_t ipaddr_format(const struct ipaddr *a, char *out, size_t outlen);
int ipaddr_cmp(const struct ipaddr *a, const struct ipaddr *b);

struct cidr {
	struct ipaddr addr; /* host bits zero */
	unsigned prefix;    /* 0..32 or 0..128 */
};
/* "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128).
 * Host bits set ("10.0.0.1/8") is an error: the user meant something
 * else, and we say what. */
int cidr_parse(struct span s, struct cidr *out, char *err, size_t errlen);
int cidr_contains(const struct cidr *c, const struct ipaddr *a);
size_t cidr_format(const struct cidr *c, char *out, size_t outlen);

struct cidrset {
	struct cidr *v;
	size_t n, cap;
};
void cidrset_init(struct cidrset *s);
void cidrset_release(struct cidrset *s);
void cidrset_add(struct cidrset *s, const struct cidr *c);
int cidrset_contains(const struct cidrset *s, const struct ipaddr *a);

/* The real client of a request.  If the peer is not in `trusted`, it is
 * the peer.  Otherwise the X-Forwarded-For list is walked from the right,
 * skipping trusted entries; the first untrusted entry is the client.  An
 * unparsable entry met on the way makes the whole header count as absent
 * (client = peer): nothing left of junk can be believed.  All entries
 * trusted: the left-most one (nginx real_ip_recursive).  `xff` may be
 * empty or "-".  Always succeeds: out is the peer at worst. */
void client_ip_resolve(const struct cidrset *trusted,
    const struct ipaddr *peer, struct span xff, struct ipaddr *out);

/* --------------------------------------------------------------- input.c */

/* A source of log lines: a file (plain or gzip, told by magic bytes, not
 * name), standard input ("-"), optionally followed like `tail -F`. */
#define INPUT_MAX_LINE_DEFAULT (64 * 1024)

struct input_line {
	const char *p; /* valid until the next input_next() call */
	size_t n;      /* without the newline (and without a trailing \r) */
	uint64_t lineno;
	int too_long;  /* line exceeded max_line: p/n hold its first bytes */
};

enum input_status {
	INPUT_LINE = 1,  /* *out holds a line */
	INPUT_EOF = 0,   /* no follow: end of input */
	INPUT_AGAIN = 2, /* follow: no complete line right now */
	INPUT_ERR = -1,  /* err holds the reason; the source is finished */
};

struct input_opts {
	int follow;          /* tail -F: survive rename, truncation, absence */
	int follow_from_end; /* follow: start at the end of an existing file */
	size_t max_line;     /* 0 = INPUT_MAX_LINE_DEFAULT */
};

struct input;
struct input *input_open(const char *path, const struct input_opts *opts,
    char *err, size_t errlen);
int input_next(struct input *in, struct input_line *out, char *err,
    size_t errlen);
/* Follow mode: wait up to timeout_ms for more data (inotify or a poll).
 * Returns at once when data may be ready. */
void input_wait(struct input *in, int timeout_ms);
const char *input_name(const struct input *in);
uint64_t input_bytes_read(const struct input *in); /* raw bytes consumed */
int64_t input_size_hint(const struct input *in);   /* -1 when unknown */
/* A gzip file that ended early was read as far as it went: nonzero. */
int input_truncated(const struct input *in);
void input_free(struct input *in);

/* ------------------------------------------------------------ progress.c */

/* A one-line progress bar on stderr, only when stderr is a terminal and
 * the input is big enough to need one.  Redraws at most 10 times a second. */
struct progress;
struct progress *progress_new(int64_t total_bytes); /* NULL when not a tty */
void progress_update(struct progress *p, uint64_t bytes, uint64_t rows);
void progress_free(struct progress *p); /* clears the line */

/* ------------------------------------------------------------- logrec */

/* One parsed request, as every parser hands it over.  Spans point into the
 * line or into the parser's scratch buffer (unescaped text); they are
 * valid until the next parse on the same parser.  Empty span = absent.
 * nginx's "-" for an absent value is turned into an empty span by the
 * parser, so all formats agree. */
struct logrec {
	int64_t time_ns;
	struct span remote_addr; /* the socket peer, as logged (maybe port) */
	struct span xff;         /* X-Forwarded-For header value */
	struct span method;
	struct span uri;         /* path and query, as requested */
	struct span user_agent;
	struct span referer;
	struct span host;
	int status;              /* 0 = absent */
	int64_t body_bytes;      /* -1 = absent */
	int64_t request_time_ns; /* -1 = absent */
};
void logrec_clear(struct logrec *r);

/* Why a line was skipped.  Names are stable: they appear in --json. */
enum skip_reason {
	SKIP_NONE = 0,
	SKIP_EMPTY,       /* "empty": blank line */
	SKIP_TOO_LONG,    /* "too_long": over the line length limit */
	SKIP_SYNTAX,      /* "syntax": does not match the format */
	SKIP_JSON,        /* "bad_json": not one well-formed JSON object */
	SKIP_TIME,        /* "bad_time": timestamp missing or unparsable */
	SKIP_ADDR,        /* "bad_address": peer address missing/unparsable */
	SKIP_STATUS,      /* "bad_status": status not 100..999 */
	SKIP_NUMBER,      /* "bad_number": size or duration unparsable */
	SKIP_FIELD,       /* "missing_field": a required field is absent */
	SKIP__COUNT
};
const char *skip_reason_name(enum skip_reason r);

/* ---------------------------------------------------------- parse_nginx.c */

/* nginx log_format, in nginx's own syntax: "$var" and "${var}" with
 * literal text between.  Known variables fill logrec fields ($remote_addr,
 * $time_local, $time_iso8601, $msec, $request, $request_method,
 * $request_uri, $uri, $args, $status, $body_bytes_sent, $bytes_sent,
 * $http_referer, $http_user_agent, $http_x_forwarded_for, $request_time,
 * $host, $http_host, $server_name); others are matched and ignored. */
#define NGINX_FMT_COMBINED \
	"$remote_addr - $remote_user [$time_local] \"$request\" $status " \
	"$body_bytes_sent \"$http_referer\" \"$http_user_agent\""
#define NGINX_FMT_MAIN_EXT NGINX_FMT_COMBINED \
	" \"$http_x_forwarded_for\" $request_time"

struct nginx_fmt;
struct nginx_fmt *nginx_fmt_compile(const char *fmt, char *err,
    size_t errlen);
void nginx_fmt_free(struct nginx_fmt *f);
/* 0 on success, else a skip reason.  scratch is reset by the call. */
int nginx_parse(const struct nginx_fmt *f, const char *line, size_t len,
    struct logrec *out, struct buf *scratch);

/* ---------------------------------------------------------------- jsonl.c */

/* A bounded scanner for one JSON object per line, built for speed: no
 * tree, no allocation.  Nested objects are flattened into dotted keys
 * ("request.headers.User-Agent"); for an array the first scalar element
 * stands for the value.  Strings are unescaped into scratch only when they
 * contain escapes. */
enum json_type { JT_STRING = 1, JT_NUMBER, JT_BOOL, JT_NULL };
typedef int (*json_field_cb)(void *ctx, struct span key, enum json_type t,
    struct span value);
/* Calls cb for each scalar member (depth limit 16).  0 on success, -1 on
 * malformed JSON, or the callback's nonzero return. */
int jsonl_scan(const char *line, size_t len, struct buf *scratch,
    json_field_cb cb, void *ctx);

/* ----------------------------------------------------------- parse_json.c */

/* JSON access-log formats: which keys fill which logrec fields and how
 * values convert (time as RFC 3339 or epoch; durations in s, ms or ns). */
struct json_map;
enum logfmt;
struct json_map *json_map_builtin(int fmt); /* enum logfmt value */
/* Generic JSON lines: spec entries "canonical=key" e.g. "client_ip=ip",
 * "_time=ts", "request_uri=req.path"; unnamed fields fall back to the
 * usual names (the VictoriaLogs / nginx ones). */
struct json_map *json_map_generic(const char *const *spec, size_t nspec,
    char *err, size_t errlen);
void json_map_free(struct json_map *m);
int json_parse(const struct json_map *m, const char *line, size_t len,
    struct logrec *out, struct buf *scratch);

/* --------------------------------------------------------------- parse.c */

enum logfmt {
	FMT_AUTO = 0,
	FMT_COMBINED,     /* "combined": nginx/Apache combined */
	FMT_NGINX_EXT,    /* "nginx": combined + "$http_x_forwarded_for" $request_time */
	FMT_NGINX_CUSTOM, /* "nginx-custom": a log_format string */
	FMT_TRAEFIK,      /* "traefik": Traefik JSON access log */
	FMT_APISIX,       /* "apisix": APISIX logger JSON */
	FMT_CADDY,        /* "caddy": Caddy http.log.access JSON */
	FMT_JSON,         /* "json": generic JSON lines with a field map */
	FMT_VLOGS,        /* "vlogs": VictoriaLogs-style JSON lines */
	FMT__COUNT
};
const char *logfmt_name(enum logfmt f);
int logfmt_lookup(const char *name); /* -1 if unknown */

struct parser_opts {
	enum logfmt fmt;            /* FMT_AUTO: decide from the first lines */
	const char *log_format;     /* for FMT_NGINX_CUSTOM */
	const char *const *json_map; /* for FMT_JSON: "canonical=key" entries */
	size_t json_map_n;
};

/* Guess the format from sample lines; FMT_AUTO if nothing fits. */
enum logfmt parser_detect(const struct span *lines, size_t n);

struct parser;
struct parser *parser_new(const struct parser_opts *o, char *err,
    size_t errlen);
/* Parses one line; 0 or a skip reason.  On a FMT_AUTO parser the first
 * call decides the format from this line (callers that can should
 * instead buffer a few lines and use parser_detect + parser_set_format). */
int parser_parse(struct parser *p, const char *line, size_t len,
    struct logrec *out);
int parser_set_format(struct parser *p, enum logfmt f, char *err,
    size_t errlen);
enum logfmt parser_format(const struct parser *p);
void parser_free(struct parser *p);

/* -------------------------------------------------------------- intern.c */

/* String interning: equal byte strings get one id, so the store keeps
 * 4-byte ids in its columns and the query engine compares integers.  Id 0
 * is the empty string.  Strings live in an append-only arena. */
struct intern {
	uint32_t *slots;  /* open addressing: id+1, 0 = free */
	uint32_t *hashes; /* per slot, to skip most compares */
	size_t nslots;
	uint64_t *offs;   /* per id: (offset << 20) | length, into arena */
	size_t n, cap;
	char *arena;
	size_t arena_len, arena_cap;
	uint32_t last;    /* the id handed out last: logs repeat in runs */
};
#define INTERN_MAX_LEN ((1u << 20) - 1)
void intern_init(struct intern *t);
void intern_release(struct intern *t);
/* Strings longer than INTERN_MAX_LEN are cut there. */
uint32_t intern_add(struct intern *t, const char *p, size_t n);
/* UINT32_MAX if absent. */
uint32_t intern_find(const struct intern *t, const char *p, size_t n);
struct span intern_get(const struct intern *t, uint32_t id);
size_t intern_count(const struct intern *t);
size_t intern_memory(const struct intern *t);

/* --------------------------------------------------------------- store.c */

/* Canonical field names follow nginx's variables. */
enum field {
	F_TIME = 0,          /* _time */
	F_CLIENT_IP,         /* client_ip (derived) */
	F_REMOTE_ADDR,       /* remote_addr (canonical, no port) */
	F_XFF,               /* http_x_forwarded_for */
	F_METHOD,            /* request_method */
	F_URI,               /* request_uri */
	F_STATUS,            /* status */
	F_BYTES,             /* body_bytes_sent */
	F_REQTIME,           /* request_time (seconds, as text) */
	F_UA,                /* http_user_agent */
	F_REFERER,           /* http_referer */
	F_HOST,              /* host */
	F__COUNT
};
const char *field_name(enum field f);
int field_lookup(struct span name); /* -1 if unknown */

/* Rows are kept column by column in blocks of STORE_BLOCK_ROWS; strings
 * are interned, one pool per kind of string.  Oldest blocks are dropped
 * first when the memory cap or the retention window is exceeded. */
#define STORE_BLOCK_ROWS 65536
#define REQTIME_NONE UINT32_MAX

struct store_block {
	size_t n;
	int64_t tmin, tmax;
	int64_t *time_ns;
	uint32_t *client_ip, *remote_addr; /* ids in pool_ip */
	uint32_t *xff;                      /* ids in pool_xff */
	uint32_t *method;                   /* ids in pool_method */
	uint32_t *uri;                      /* ids in pool_uri */
	uint32_t *ua;                       /* ids in pool_ua */
	uint32_t *referer;                  /* ids in pool_referer */
	uint32_t *host;                     /* ids in pool_host */
	uint16_t *status;                   /* 0 = absent */
	uint32_t *reqtime_us;               /* REQTIME_NONE = absent */
	int64_t *bytes;                     /* -1 = absent */
};

struct store_opts {
	uint64_t max_memory;    /* bytes; 0 = no cap */
	int64_t retention_ns;   /* keep rows newer than newest - retention; 0 = all */
};

struct store {
	struct store_opts opts;
	struct intern pool_ip, pool_xff, pool_method, pool_uri, pool_ua,
	    pool_referer, pool_host;
	struct store_block **blocks;
	size_t nblocks, blocks_cap;
	uint64_t rows;           /* rows held now */
	uint64_t rows_added;     /* rows ever appended */
	uint64_t dropped_retention, dropped_memory;
	int64_t tmin, tmax;      /* over rows held; TIME_NONE when empty */
	int sorted;              /* rows are in time order */
	void *addr_cache;        /* store.c: binary address -> id */
};

void store_init(struct store *s, const struct store_opts *o);
void store_release(struct store *s);
void store_append(struct store *s, const struct logrec *r,
    const struct ipaddr *client, const struct ipaddr *peer);
/* Put rows in time order (stable) and apply retention; call after a bulk
 * load, and before queries when rows came out of order. */
void store_finish(struct store *s);
size_t store_memory(const struct store *s);
/* The pool a string field's ids live in; NULL for numeric fields. */
const struct intern *store_pool(const struct store *s, enum field f);
/* Text of any field of a row, as VictoriaLogs would return it ("" when
 * absent); numbers formatted into tmp. */
struct span store_value(const struct store *s, const struct store_block *b,
    size_t i, enum field f, char *tmp, size_t tmplen);

/* --------------------------------------------------------------- config.c */

/* "key = value" lines, '#' comments, values optionally quoted ("..." with
 * \" and \\ escapes, or '...').  Keys may repeat (e.g. trusted_proxy).
 * Errors are collected as "file:line: message", all of them. */
struct config_entry {
	char *key;
	char *value;
	char *file;
	int line;
};
struct config {
	struct config_entry *v;
	size_t n, cap;
};
void config_init(struct config *c);
void config_release(struct config *c);
/* Reads and syntax-checks; appends error lines to errs; -1 if any. */
int config_load(struct config *c, const char *path, struct buf *errs);
const struct config_entry *config_get(const struct config *c,
    const char *key); /* the last one */

/* ----------------------------------------------------------------- load.c */

/* Reading inputs into the store: the glue of input -> parser -> client
 * address -> store, with skip accounting.  Shared by `scan`, `query` and
 * the cycles of `run`/`watch`. */
#define LOAD_SAMPLES_MAX 5
struct load_sample {
	char *file;
	uint64_t lineno;
	enum skip_reason reason;
	char *text; /* first bytes of the line */
};
struct load_opts {
	struct parser_opts parse;
	struct cidrset trusted;
	struct input_opts input;
	int progress; /* allow a progress bar */
	int threads;  /* parsing threads for bulk loads; 0 = one per core */
};
struct load_stats {
	uint64_t lines, rows, bytes;
	uint64_t skipped[SKIP__COUNT];
	uint64_t skipped_total;
	struct load_sample samples[LOAD_SAMPLES_MAX];
	size_t nsamples;
	int errors; /* inputs that could not be read completely */
	enum logfmt fmt_seen;
	double seconds;
};
void load_opts_init(struct load_opts *o);
void load_opts_release(struct load_opts *o);
void load_stats_release(struct load_stats *st);
/* Loads every path ("-" = stdin) to its end.  Returns 0, or -1 when an
 * input could not be opened or read (rows read so far are kept). */
int load_files(struct store *s, const struct load_opts *o,
    char *const *paths, size_t npaths, struct load_stats *st);

/* Following live logs (tail -F): follow_pump reads whatever the inputs
 * have now and returns the rows it added; follow_wait sleeps until more
 * may be there (bounded by timeout_ms).  The store is not finished by
 * these: call store_finish before querying. */
struct follow;
struct follow *follow_open(const struct load_opts *o, char *const *paths,
    size_t npaths);
uint64_t follow_pump(struct follow *f, struct store *s,
    struct load_stats *st);
int follow_active(const struct follow *f); /* some input still open */
void follow_wait(struct follow *f, int timeout_ms);
void follow_free(struct follow *f);

/* ------------------------------------------------------------- qresult.c */

/* A query result, the same shape from both stores: rows of (name, value)
 * pairs, every value a string, in the order VictoriaLogs returns them.
 * All text lives in one buffer; cells refer to it by offset, so growing
 * the buffer never invalidates a result. */
struct qcell {
	size_t name_off, name_len, val_off, val_len;
};
struct qresult {
	struct buf text;
	struct qcell *cells;
	size_t ncells, cells_cap;
	size_t *row_start;  /* row i: cells[row_start[i] .. row_start[i+1]) */
	size_t nrows, rows_cap;
};
void qresult_init(struct qresult *q);
void qresult_release(struct qresult *q);
void qresult_reset(struct qresult *q);
void qresult_row_begin(struct qresult *q);
void qresult_add(struct qresult *q, struct span name, struct span value);
size_t qresult_row_len(const struct qresult *q, size_t row);
struct span qresult_name(const struct qresult *q, size_t row, size_t i);
struct span qresult_value(const struct qresult *q, size_t row, size_t i);
/* The value of a named field in a row; SPAN_NULL (p == NULL) if absent. */
struct span qresult_get(const struct qresult *q, size_t row,
    const char *name);
/* One JSON object per row, one row per line, as VictoriaLogs writes. */
void qresult_write_jsonl(const struct qresult *q, struct buf *out);
/* Appends one row parsed from a VictoriaLogs response line.  Values must
 * be strings (VictoriaLogs never sends anything else); -1 with the reason
 * in err otherwise, or for anything that is not one JSON object. */
int qresult_add_jsonl(struct qresult *q, const char *line, size_t len,
    struct buf *scratch, char *err, size_t errlen);

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

/* --------------------------------------------------------------- source.c */

/* Where queries go: the embedded store, or VictoriaLogs.  The analyst
 * and the agent ask through this and never need to know which. */
struct source {
	struct store *store;            /* embedded store, or NULL */
	const struct vlogs_opts *vlogs; /* VictoriaLogs, when no store */
	int64_t now_ns;                 /* "now" for relative times */
	uint64_t queries;               /* accounting: queries run, */
	int64_t busy_ns;                /* and the time they took */
};
/* Runs LogsQL q confined to [start_ns, end_ns) (TIME_NONE: open) with
 * at most max_rows rows (0: no cap).  0; 1 when the result was cut at
 * max_rows (err says so); -1 with the reason in err (a parse error names
 * the column; a VictoriaLogs 400 is its text). */
int source_query(struct source *src, const char *q, int64_t start_ns,
    int64_t end_ns, size_t max_rows, struct qresult *out, char *err,
    size_t errlen);

/* -------------------------------------------------------------- options.c */

/* Settings shared by every command that reads logs.  Each has one name:
 * the config key, and with dashes the long option (--trusted-proxy). */
struct settings {
	struct load_opts load;
	struct store_opts store;
	char *log_format;
	char **json_map;
	size_t njson_map;
	int json;   /* --json output */
	int top;    /* rows in "top clients" */
	/* VictoriaLogs: secrets come from files or the environment only. */
	char *vlogs_url, *vlogs_account_id, *vlogs_project_id, *vlogs_user;
	char *vlogs_password_file, *vlogs_token_file;
	char **vlogs_field_map;
	size_t nvlogs_field_map;
	int64_t vlogs_timeout_ns;
};
void settings_init(struct settings *st);
void settings_release(struct settings *st);
/* 0 set; 1 not a log setting; -1 bad value (reason in err). */
int settings_set(struct settings *st, const char *name, const char *value,
    char *err, size_t errlen);
int settings_known_elsewhere(const char *name);
/* Reads a config file; every error appended to errs as file:line: msg. */
int settings_load_config(struct settings *st, const char *path,
    struct buf *errs);
/* A long option of the same name; logs and returns -1 on a bad value. */
int settings_option(struct settings *st, const char *optname,
    const char *arg);

/* -------------------------------------------------------------- cmd_*.c */

int cmd_scan(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_generate(int argc, char **argv);

#endif /* ANOMALY_H */
