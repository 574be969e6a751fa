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
/* The buffer's text as a string of the caller's (free() it); the buffer
 * is left to be forgotten, not released. */
char *buf_take(struct buf *b);
/* A formatted string of its own, e.g. xstrfmt("%s: %s", path, err). */
char *xstrfmt(const char *fmt, ...) AD_PRINTF(1, 2);
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
/* A non-negative decimal with optional fraction and exponent ("15",
 * "0.000929", "1.7e+09") read exactly as mant * 10^exp10, keeping 19
 * significant digits (lost: nonzero digits beyond them were dropped); a
 * double would round nanoseconds.  strict: digits are required on both
 * sides of a point (".5" and "5." refused).  0, or -1 on a sign or junk. */
struct decimal {
	uint64_t mant;
	int64_t exp10;
	int lost;
};
int parse_decimal_exp(struct span s, int strict, struct decimal *d);
/* d times 10^shift as an integer, finer digits truncated (*inexact set
 * when they were not zero, or when d->lost).  -1 above UINT64_MAX. */
int decimal_to_u64(const struct decimal *d, int64_t shift, uint64_t *out,
    int *inexact);
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
/* That, as a JSON string; TIME_NONE as null. */
struct buf;
void buf_add_json_time(struct buf *b, int64_t ns);

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

/* -------------------------------------------------------------- logsql.c */

/*
 * Parsing LogsQL into a tree, printing the tree back as canonical LogsQL,
 * and rewriting a query (confining it to a time window).
 *
 * The grammar and the meaning follow VictoriaLogs (see
 * ../shared/docs/victorialogs-api.md): implicit AND by space, AND, OR,
 * NOT / ! / -, parentheses; NOT binds tightest, then AND, then OR.
 * Unquoted values are VictoriaLogs "compound tokens": words glued with
 * + - / : . $ and no space between (/wp-login.php, 10.0.0.1,
 * 2026-11-20T09:00:00Z).
 * The canonical text is what VictoriaLogs itself prints for a query, so
 * default stats result names ("count(*)", "count(*) if (status:>=400)")
 * come out the same from both stores.
 *
 * Everything is bounded: the query text, the nesting depth, the number
 * of pipes, of in() values, of by-fields, of stats functions.  Errors
 * name the 1-based column (in characters), the offending token and what
 * was expected.
 */
#define LOGSQL_MAX_QUERY (64 * 1024)
#define LOGSQL_MAX_DEPTH 64
#define LOGSQL_MAX_PIPES 64
#define LOGSQL_MAX_VALUES 4096  /* in(...) */
#define LOGSQL_MAX_BY 16        /* by-fields of stats, uniq, top */
#define LOGSQL_MAX_STATS 32     /* functions in one stats pipe */
#define LOGSQL_MAX_FUNC_FIELDS 16
#define LOGSQL_MAX_SORT_KEYS 16
#define LOGSQL_MAX_FIELDS 256   /* fields a, b, ... */
#define LOGSQL_MAX_REGEXP 1024  /* bytes of one regexp */

/* A string owned by the query: NUL-terminated, but may hold NUL bytes
 * (a quoted "\x00"), so the length is what counts. */
struct lq_str {
	char *p;
	size_t n;
};

enum lq_op {
	LQ_ALL = 1,      /* "*": every row */
	LQ_AND,
	LQ_OR,
	LQ_NOT,
	LQ_PHRASE,       /* word or "phrase" inside the value; f:"" = empty */
	LQ_PREFIX,       /* foo*: a word starting so; f:* = not empty */
	LQ_SUBSTR,       /* *foo*: anywhere */
	LQ_IPHRASE,      /* i(foo): phrase, ASCII case-insensitive */
	LQ_IPREFIX,      /* i(foo*) */
	LQ_EXACT,        /* f:=v: the whole value */
	LQ_EXACT_PREFIX, /* f:=v*: the value starts with v */
	LQ_REGEXP,       /* f:~"re": RE2 syntax, unanchored */
	LQ_IN,           /* f:in(a, "b"): exactly one of */
	LQ_RANGE,        /* f:>N, f:<=N, f:range[a, b): value as a number */
	LQ_IPV4_RANGE,   /* f:ipv4_range("10.0.0.0/8"), ipv4_range(lo, hi) */
	LQ_TIME,         /* _time:5m, _time:[a, b), _time:>T ... */
};

/* A bound of a _time filter: absolute, "now minus v", or none. */
enum lq_tkind {
	LQT_OPEN = 0,
	LQT_ABS,
	LQT_NOW,
};

struct lq_time {
	enum lq_tkind lo_kind, hi_kind;
	int64_t lo, hi;   /* inclusive ns; for LQT_NOW, subtracted from now */
	int64_t offset;   /* "offset 5m": subtracted from both bounds */
};

struct lq_filter {
	enum lq_op op;
	struct lq_str field;        /* p == NULL: _msg */
	struct lq_str value;        /* phrase, prefix, exact value, regexp */
	struct lq_str *vals;        /* LQ_IN */
	size_t nvals;
	struct lq_filter **kids;    /* LQ_AND, LQ_OR (2+), LQ_NOT (1) */
	size_t nkids;
	double lo, hi;              /* LQ_RANGE, both inclusive */
	uint32_t ip_lo, ip_hi;      /* LQ_IPV4_RANGE, host order, inclusive */
	struct lq_time t;           /* LQ_TIME */
	struct lq_str repr;         /* LQ_RANGE, LQ_TIME: as written */
	void *re;                   /* LQ_REGEXP: compiled (regex_t) */
};

enum lq_func {
	LQS_COUNT = 1,   /* count(), count(*): rows; count(f...): rows with f */
	LQS_COUNT_UNIQ,  /* distinct non-empty values (tuples) */
	LQS_SUM,
	LQS_MIN,
	LQS_MAX,
	LQS_AVG,
	LQS_QUANTILE,
};

struct lq_stat {
	enum lq_func fn;
	struct lq_str *fields;      /* none for count() */
	size_t nfields;
	double phi;                 /* LQS_QUANTILE */
	struct lq_str phi_repr;
	struct lq_filter *iff;      /* "if (filter)", or NULL */
	struct lq_str name;         /* given, or VictoriaLogs' default */
};

enum lq_bucket {
	LQB_NONE = 0,
	LQB_TIME,        /* _time:1m */
	LQB_IPV4,        /* client_ip:/24 */
	LQB_NUM,         /* request_time:0.1, body_bytes_sent:1KiB */
};

struct lq_by {
	struct lq_str field;
	enum lq_bucket bucket;
	int64_t step_ns, offset_ns; /* LQB_TIME */
	unsigned mask;              /* LQB_IPV4: prefix length 0..32 */
	double step, offset;        /* LQB_NUM */
	struct lq_str repr;         /* bucket as written; n == 0: none */
	struct lq_str offset_repr;  /* n == 0: none */
};

enum lq_pipe_kind {
	LQP_STATS = 1,
	LQP_FILTER,
	LQP_SORT,
	LQP_LIMIT,
	LQP_OFFSET,
	LQP_FIELDS,
	LQP_UNIQ,
	LQP_TOP,
};

struct lq_sortkey {
	struct lq_str field;
	int desc;
};

struct lq_pipe {
	enum lq_pipe_kind kind;
	struct lq_by *by;           /* stats */
	size_t nby;
	struct lq_stat *stats;
	size_t nstats;
	struct lq_filter *filter;   /* filter */
	struct lq_sortkey *keys;    /* sort */
	size_t nkeys;
	int desc;                   /* sort: the whole order reversed */
	uint64_t off;               /* sort: offset */
	uint64_t n;                 /* limit, offset, top N, sort/uniq limit
	                               (0 = none for sort and uniq) */
	struct lq_str *fields;      /* fields; uniq and top: by-fields */
	size_t nfields;
	int with_hits;              /* uniq */
	struct lq_str hits;         /* top: name of the hits field */
};

struct lq_arena;

struct logsql_query {
	struct lq_filter *filter;
	struct lq_pipe *pipes;
	size_t npipes;
	struct lq_arena *arena;     /* owns every node and string */
	void **regexps;             /* compiled, freed with the query */
	size_t nregexps, regexps_cap;
};

/* Parses q[0..len); NULL with the reason in err. */
struct logsql_query *logsql_parse(const char *q, size_t len, char *err,
    size_t errlen);
void logsql_free(struct logsql_query *q);
/* Canonical LogsQL; appended to out. */
void logsql_print(const struct logsql_query *q, struct buf *out);
void logsql_print_filter(const struct lq_filter *f, struct buf *out);
/*
 * The query confined to [start_ns, end_ns):
 * "_time:[start,end) (filter) | pipes", as canonical LogsQL appended to
 * out.  Either side may be TIME_NONE (open: "_time:>=start",
 * "_time:<end").  The caller's own _time filters stay: the window can
 * only narrow.
 */
int logsql_confine(const char *q, size_t len, int64_t start_ns,
    int64_t end_ns, struct buf *out, char *err, size_t errlen);

/* Helpers the executor shares with the parser. */
/* A VictoriaLogs number: 12, -1.5, 1e3, 1_000, 0x1F, 10KiB, 1.5K (1500),
 * 2MB, 5m (in ns), inf, nan.  -1 if s is none of these. */
int lq_parse_number(struct span s, double *out);
/* A plain decimal number as found in a log field ("404", "0.043",
 * "-1.5e3"); what a range filter and sum/avg accept. */
int lq_parse_float(struct span s, double *out);
/* Four decimal octets; host order. */
int lq_parse_ipv4(struct span s, uint32_t *out);
/* A float as Go's strconv.FormatFloat(v, 'f', -1, 64) writes it, as
 * VictoriaLogs writes sum() and avg(): "3", "0.25", "NaN", "+Inf". */
size_t lq_fmt_float(double v, char *out, size_t outlen);
/* Part of a word: letters, digits, '_' (the code point at p, len n);
 * sets *used to its length in bytes (1 for a byte that is not UTF-8). */
int lq_token_rune(const unsigned char *p, size_t n, size_t *used);
/* VictoriaLogs' ordering of values: as integers when both are, else as
 * RFC 3339 times, else as numbers, else natural string order ("a2" <
 * "a10").  -1, 0, 1. */
int lq_value_cmp(struct span a, struct span b);
/* The same with the parsing done once, for sorting many values. */
struct lq_vkey {
	struct span s;
	int64_t i;
	uint64_t u;
	double d;
	int64_t ts;
	unsigned flags;
};
void lq_vkey_init(struct lq_vkey *k, struct span s);
int lq_vkey_cmp(const struct lq_vkey *a, const struct lq_vkey *b);

/* --------------------------------------------------------- logsql_exec.c */

/*
 * Running a parsed query on the embedded store, giving what VictoriaLogs
 * would give for it: rows of string values (see qresult.c).
 *
 *  - now_ns is "now" for relative times: _time:5m is [now-5m, now), as in
 *    VictoriaLogs.  For logs loaded from files pass the newest row's time
 *    plus 1 ns, so that the newest row is inside the last 5 minutes.
 *  - Rows without stats: _msg ("GET /health 200": METHOD URI STATUS, as
 *    the vlogs.jsonl files have it), _time, _stream ("{}"), then the
 *    store's other fields in store order; empty values are left out.
 *    They come oldest first.
 *  - Stats: one row per group, by-fields first, then the results; groups
 *    in the order of their first row (oldest first) unless sorted.
 *  - max_rows caps the rows returned (0: no cap).  Returns 0, 1 when the
 *    result was cut at max_rows (err says so), or -1 with the reason in
 *    err (bad query for this store, too many groups...).
 *  - Memory is bounded: at most LOGSQL_MAX_GROUPS groups; at most
 *    LOGSQL_MAX_TABLE_ROWS stats rows passed on to further pipes, or rows
 *    sorted without a limit (sort ... limit N keeps only N; top N too).
 */
#define LOGSQL_MAX_GROUPS 10000000
#define LOGSQL_MAX_TABLE_ROWS 2000000

int logsql_exec(const struct logsql_query *q, const struct store *s,
    int64_t now_ns, size_t max_rows, struct qresult *out, char *err,
    size_t errlen);

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

struct json_t; /* jansson's json_t (typedef struct json_t json_t) */

/* ---------------------------------------------------------------- lapi.c */

/*
 * A CrowdSec Local API (LAPI) client for a watcher ("machine"): log in,
 * push one ban per alert, remove bans, list the bans we made.  Facts it
 * relies on (seen on 1.4.6, see docs/crowdsec-lapi.md):
 *  - POST /v1/alerts takes a JSON array and answers 201 with an array of
 *    ids; any other status means nothing was banned.  A missing field is
 *    a 500, not a 400.  Duplicates are not rejected: callers dedup (state.c).
 *  - A decision's duration counts from the alert's stop_at, not from the
 *    time of the POST: an alert whose last request was 3 h ago with
 *    "4h" bans for 1 h.  lapi_push_ban therefore lengthens the duration
 *    sent by the age of stop_at, so a ban always lasts `duration` from now.
 *  - DELETE /v1/decisions?ip=X matches every decision whose range CONTAINS
 *    X (a /16 of another tool included) unless contains=false; it also
 *    takes origin=.  We always send both, so an unban touches only our
 *    own decisions for that value.
 *  - GET /v1/alerts pages 100 at a time; limit=0 means all (a limit larger
 *    than the number of alerts makes 1.4.6 loop forever, so never send one).
 *
 * Requests: the watcher JWT is fetched by POST /v1/watchers/login, renewed
 * LAPI_RELOGIN_MARGIN before its `expire`, and after any 401 (then the
 * request is sent once more).  Connection failures, timeouts, answers cut
 * short, 5xx and 429 are retried `retries` times with backoff; other 4xx
 * are not.  A retried POST whose first try timed out after LAPI had stored
 * it gives a duplicate alert: harmless (a second, equal ban), and the safe
 * side of the choice.  Not thread-safe: one struct lapi per thread.
 *
 * Error messages name the LAPI (URL redacted) and the request, quote the
 * server's "message", and never contain the password or the token.
 */
#define LAPI_TIMEOUT_DEFAULT (10 * INT64_C(1000000000))
#define LAPI_CONNECT_TIMEOUT_DEFAULT (5 * INT64_C(1000000000))
#define LAPI_RETRIES_DEFAULT 3
#define LAPI_RETRY_BASE_DEFAULT (500 * INT64_C(1000000))
#define LAPI_RETRY_MAX_DEFAULT (8 * INT64_C(1000000000))
#define LAPI_RELOGIN_MARGIN (60 * INT64_C(1000000000))
#define LAPI_EVENTS_MAX 10        /* sample requests sent with an alert */
#define LAPI_ORIGIN "anomaly-detect"
#define LAPI_ID_MAX 32            /* an alert id, with its NUL */
#define LAPI_VALUE_MAX 64         /* an IP or CIDR as text, with its NUL */

struct lapi_opts {
	const char *url;          /* http://127.0.0.1:8080; no path needed */
	const char *machine_id;
	const char *password;     /* read by the caller from a file or the
	                             environment; never logged or shown */
	const char *ca_file;      /* extra trust anchors for https */
	int64_t timeout_ns;       /* one request; 0 = default */
	int64_t connect_timeout_ns;
	int retries;              /* further tries after the first */
	int64_t retry_base_ns;    /* backoff: first wait, doubling ... */
	int64_t retry_max_ns;     /* ... up to this */
};
/* Defaults: pointers NULL, the timeouts, retries and backoff above. */
void lapi_opts_init(struct lapi_opts *o);

enum lapi_errkind {
	LAPI_OK = 0,
	LAPI_E_USAGE,       /* bad options or alert: nothing was sent */
	LAPI_E_AUTH,        /* login refused, or 401/403 after a re-login */
	LAPI_E_REJECTED,    /* another 4xx: LAPI refused the request */
	LAPI_E_UNAVAILABLE, /* 5xx or 429, still after the retries */
	LAPI_E_NETWORK,     /* connect, TLS, timeout (after the retries) */
	LAPI_E_PROTOCOL,    /* an answer we cannot read (e.g. 201, no ids) */
};
const char *lapi_errkind_name(enum lapi_errkind k);

struct lapi {
	struct lapi_opts o;          /* strings are owned copies */
	char *token;                 /* the watcher JWT; NULL = none yet */
	int64_t token_expire_ns;     /* wall clock; TIME_NONE = unknown */
	unsigned logins;             /* successful logins so far */
	/* The last call: */
	enum lapi_errkind err_kind;
	int err_status;              /* last HTTP status; 0 = none */
	int attempts;                /* requests sent, logins included */
};
/* Checks and copies the options (URL http(s) without query, machine id
 * and password present).  No request is sent.  0 or -1. */
int lapi_init(struct lapi *l, const struct lapi_opts *o, char *err,
    size_t errlen);
void lapi_release(struct lapi *l); /* wipes the password and token */

/* Logs in now (normally done on demand).  0 or -1. */
int lapi_login(struct lapi *l, char *err, size_t errlen);
/* GET /v1/heartbeat with the JWT: LAPI is up and we may use it. */
int lapi_heartbeat(struct lapi *l, char *err, size_t errlen);

/* One offending request, sent as an event of the alert. */
struct lapi_event {
	int64_t time_ns;
	struct span method, path, user_agent;
	struct span source_ip;       /* empty: the alert's value (scope Ip) */
	int status;                  /* 0 = absent */
};

struct lapi_alert {
	const char *scenario;        /* "anomaly-detect/http-probing":
	                                [A-Za-z0-9_.:/-], at most 128 bytes */
	const char *message;         /* one sentence (cut at 1 KiB) */
	const char *value;           /* "203.0.113.7" -> scope Ip,
	                                "203.0.113.0/24" -> scope Range */
	int64_t duration_ns;         /* ban length from now, >= 1 s */
	uint64_t events_count;       /* every offending request (capped at
	                                INT32_MAX, LAPI's type) */
	int64_t start_ns, stop_ns;   /* first / last offending request */
	const struct lapi_event *events; /* the first LAPI_EVENTS_MAX sent */
	size_t nevents;
};

/* POST /v1/alerts with one alert and its ban decision.  On success (201
 * with an array of ids, nothing else) the first id goes to id_out and
 * the ban's expiry (wall clock ns) to *until_ns (may be NULL); 0.  -1
 * otherwise: nothing may be recorded as banned. */
int lapi_push_ban(struct lapi *l, const struct lapi_alert *a, char *id_out,
    size_t idlen, int64_t *until_ns, char *err, size_t errlen);

/* The JSON body lapi_push_ban sends, built alone (for tests and
 * --dry-run).  now_ns is the time the duration counts from. */
int lapi_alert_json(const struct lapi_alert *a, int64_t now_ns,
    struct buf *out, int64_t *until_ns, char *err, size_t errlen);

/* DELETE /v1/decisions?ip=V (or range=V) &contains=false
 * &origin=anomaly-detect: our decisions for exactly that IP, or those
 * inside that range.  *deleted gets LAPI's nbDeleted.  0 or -1. */
int lapi_delete_decisions(struct lapi *l, const char *value,
    int64_t *deleted, char *err, size_t errlen);

/* The bans we made that are still active, from GET /v1/alerts
 * ?origin=anomaly-detect&has_active_decision=true&limit=0 with the
 * watcher JWT (so no bouncer key is needed); value NULL for all, else
 * the alerts of that exact IP or range.  Newest first. */
struct lapi_decision {
	int64_t id;                  /* decision id */
	int64_t alert_id;
	char value[LAPI_VALUE_MAX];
	char scope[16];              /* "Ip", "Range" */
	char type[16];               /* "ban" */
	char scenario[160];          /* printable (escaped), cut to fit */
	int64_t until_ns;            /* now + the remaining duration */
};
struct lapi_decisions {
	struct lapi_decision *v;
	size_t n, cap;
};
void lapi_decisions_init(struct lapi_decisions *d);
void lapi_decisions_release(struct lapi_decisions *d);
int lapi_list_decisions(struct lapi *l, const char *value,
    struct lapi_decisions *out, char *err, size_t errlen);
/* Parses a GET /v1/alerts answer as lapi_list_decisions does (exposed
 * for tests and the fuzzer); out is appended to.  0 or -1. */
int lapi_parse_alerts(const char *p, size_t n, int64_t now_ns,
    struct lapi_decisions *out, char *err, size_t errlen);

/* "4h", "1h30m", "3h59m59.5s", "-929.7ms", "500µs" (Go's format) -> ns. */
int lapi_parse_go_duration(struct span s, int64_t *out_ns);

/* --------------------------------------------------------------- state.c */

/*
 * What we banned and until when, so a ban is not pushed again every cycle
 * (LAPI does not reject duplicates).  One JSON document:
 *
 *   {"version": 1, "entries": [
 *   {"value": "203.0.113.7", "scope": "Ip", "scenario": "...",
 *    "until": "2026-11-25T22:00:00Z", "alert_id": "12",
 *    "created": "2026-11-25T18:00:00Z"},
 *   ...]}
 *
 * one entry per line.  Times are RFC 3339 UTC (ns precision kept).
 * Written atomically (temp file in the same directory, fsync, rename,
 * fsync of the directory), mode 0600.  A file that does not parse, has
 * another version or an invalid entry is renamed aside to
 * PATH.corrupt-YYYYMMDDTHHMMSSZ with a warning and the run goes on empty:
 * the worst case is a duplicate ban, never a missed one.  Entries are
 * keyed by canonical value (one per IP or range); expired ones are
 * dropped on load and save.
 */
#define STATE_VERSION 1
#define STATE_MAX_ENTRIES_DEFAULT 100000
#define STATE_MAX_FILE (64u * 1024 * 1024) /* bigger is corrupt */
#define STATE_SCENARIO_MAX 128

struct state_entry {
	char value[LAPI_VALUE_MAX];  /* canonical IP or CIDR */
	char scope[8];               /* "Ip" or "Range" */
	char scenario[STATE_SCENARIO_MAX + 1];
	char alert_id[LAPI_ID_MAX];
	int64_t until_ns;
	int64_t created_ns;
};

struct state {
	char *path;                  /* NULL until state_lock / state_load */
	int lock_fd;                 /* -1 = not locked */
	struct state_entry *v;       /* sorted by value */
	size_t n, cap;
	size_t max_entries;          /* 0 = STATE_MAX_ENTRIES_DEFAULT */
	uint64_t dropped_cap;        /* entries dropped by the size cap */
};
void state_init(struct state *st);
void state_release(struct state *st); /* also drops the lock */

/* /var/lib/anomaly-detect/state.json for root, else
 * $XDG_STATE_HOME/anomaly-detect/state.json ($XDG_STATE_HOME unset or
 * relative: ~/.local/state), the directory created (0700).  0 or -1. */
int state_default_path(char *out, size_t outlen, char *err, size_t errlen);

/* Takes flock(LOCK_EX|LOCK_NB) on PATH.lock (created 0600, never
 * removed), held until state_release: two runs never interleave.  -1
 * with "another anomaly-detect run holds the state lock" when taken. */
int state_lock(struct state *st, const char *path, char *err, size_t errlen);

/* Reads PATH: missing is empty; corrupt is set aside (see above) and
 * empty; 0 in all these cases.  -1 only when the file exists but cannot
 * be read (permissions, I/O) or set aside.  With the lock held, temp files
 * left by a killed run are removed. */
int state_load(struct state *st, const char *path, int64_t now_ns,
    char *err, size_t errlen);
/* Parses a state document from memory into st (replacing its entries).
 * 0, or -1 with the reason (the file is corrupt). */
int state_parse(struct state *st, const char *p, size_t n, int64_t now_ns,
    char *err, size_t errlen);
/* Writes st to its path atomically.  0 or -1 (the old file is intact). */
int state_save(struct state *st, int64_t now_ns, char *err, size_t errlen);
/* The document state_save writes. */
void state_format(const struct state *st, struct buf *out);

/* Canonical text of an IP ("203.0.113.7", scope "Ip") or CIDR
 * ("203.0.113.0/24", scope "Range"; host bits set is an error): the
 * spelling LAPI and the state file get.  0 or -1 with why. */
int state_canon(const char *value, char *out, size_t outlen,
    const char **scope, char *err, size_t errlen);
/* The not-expired entry for this exact IP or range (any spelling:
 * the value is canonicalised), or NULL. */
const struct state_entry *state_find(const struct state *st,
    const char *value, int64_t now_ns);
/* The not-expired Range entry containing address a, or NULL. */
const struct state_entry *state_find_covering(const struct state *st,
    const struct ipaddr *a, int64_t now_ns);
/* Records a ban LAPI accepted (201), replacing an entry of the same
 * value.  Over the cap, the entries expiring first are dropped with a
 * warning.  -1 for a value that is not an IP or CIDR. */
int state_add(struct state *st, const char *value, const char *scenario,
    const char *alert_id, int64_t until_ns, int64_t now_ns, char *err,
    size_t errlen);
/* 1 removed, 0 not there. */
int state_remove(struct state *st, const char *value);
/* Drops entries with until <= now. */
void state_prune(struct state *st, int64_t now_ns);

/* --------------------------------------------------------------- audit.c */

/*
 * The audit trail: what each cycle asked, found, decided and did, as JSON
 * lines {"ts": RFC 3339, "cycle": id, "event": name, ...fields}.  Each
 * record is written with one write() on an O_APPEND descriptor, so
 * records of concurrent writers never mix within a line.  Secrets never
 * reach it: any member named like a credential (password, token,
 * api_key, authorization, secret, ..., any case, '-' same as '_') has its
 * value replaced by "***" at any depth, and registered secret strings are
 * masked inside every string value.  Invalid UTF-8 in values is escaped.
 */
#define AUDIT_RECORD_MAX (1024 * 1024) /* larger records are summarised */

struct audit;
/* "-" or "/dev/stdout": standard output; "/dev/stderr": standard error;
 * else a file opened O_APPEND|O_CREAT, mode 0600.  NULL with err. */
struct audit *audit_open(const char *path, char *err, size_t errlen);
void audit_close(struct audit *a);
/* The cycle id written in every later record (NULL: null). */
void audit_set_cycle(struct audit *a, const char *cycle);
/* A string masked wherever it appears in a value (a password or token
 * this run knows).  Copied; "" and NULL are ignored. */
void audit_add_secret(struct audit *a, const char *secret);
/* One record; fields is a JSON object (or NULL), borrowed, not changed.
 * Keys ts, cycle and event in fields are written as _ts, _cycle, _event.
 * 0, or -1 when the write failed (err says why). */
int audit_event(struct audit *a, const char *event,
    const struct json_t *fields, char *err, size_t errlen);
/* The same with fields built by jansson's json_pack from fmt ("{s:s,
 * s:I}", ...).  Use audit_str for text from outside (any bytes). */
int audit_eventf(struct audit *a, const char *event, char *err,
    size_t errlen, const char *fmt, ...);
/* A new JSON string from any bytes: invalid UTF-8 and control bytes
 * escaped as buf_add_escaped does.  For json_pack's "o". */
struct json_t *audit_str(const char *p, size_t n);
/* Masks credential-named members in place, at any depth (see above). */
void audit_redact(struct json_t *v);
/* Is this member name a credential's? */
int audit_key_is_secret(const char *key);

/* ---------------------------------------------------------------- guard.c */

/*
 * Addresses that must never be banned, whatever the logs say: they are
 * ours (loopback, private networks, the tailnet, link-local, unique
 * local), not anyone's (unspecified, reserved, broadcast, multicast), or
 * the proxies whose X-Forwarded-For we believe: banning one would ban
 * every client behind it.  Documentation ranges (192.0.2.0/24,
 * 2001:db8::/32 ...) stay bannable: tests and examples use them as the
 * attackers.  The dynamic part of the guard (allow lists, rate of bans,
 * the LLM's proposals) lives elsewhere; this is what holds even with no
 * configuration at all.
 */
struct guard_policy {
	/* The widest range that may be banned whole, as a prefix length:
	 * 64 lets an IPv6 /64 (or anything narrower) go as one ban.  0: no
	 * ranges of that family, their members are banned one by one. */
	unsigned range_v4;
	unsigned range_v6;
};
#define GUARD_RANGE_V4_DEFAULT 0
#define GUARD_RANGE_V6_DEFAULT 64
void guard_policy_init(struct guard_policy *p);
/* Why a must never be banned ("loopback", "private (RFC 1918)",
 * "trusted proxy" ...), or NULL when it may be.  An IPv4-mapped IPv6
 * address is judged as the IPv4 address it carries.  trusted may be
 * NULL. */
const char *guard_static_refusal(const struct ipaddr *a,
    const struct cidrset *trusted);
/* Why range c must not be banned whole (wider than the policy allows,
 * or overlapping a special block or a trusted proxy), or NULL. */
const char *guard_range_refusal(const struct cidr *c,
    const struct guard_policy *p, const struct cidrset *trusted);
/* Nonzero when the two ranges share an address. */
int cidr_overlaps(const struct cidr *a, const struct cidr *b);

/* ------------------------------------------------------------- findings.c */

/*
 * What the analyst (or later the agent) found, and the bans that follow.
 * A finding is about one address or a cohort of addresses acting as one;
 * it names a scenario ("anomaly-detect/http-probing"), carries its
 * evidence (counts, first and last offending request, a few sample rows
 * and one sentence), and the addresses or the range it would ban.  Bans
 * are derived from findings through the static guard: a refused address
 * stays in its finding with a note and never becomes a ban.
 */
#define FINDING_MAX_COUNTS 24
#define FINDING_MAX_SAMPLES 5
#define FINDING_SUBJECT_MAX 160

enum ban_scope { BAN_IP = 0, BAN_RANGE };
const char *ban_scope_name(enum ban_scope s); /* "Ip", "Range" */

struct fcount {
	const char *name; /* a static string */
	int64_t v;
};

/* One sample of offending traffic: a group of identical requests. */
struct fsample {
	char *time;   /* the first of them, RFC 3339 */
	char *client, *method, *uri, *status, *ua;
	uint64_t n;   /* how many */
};

struct finding {
	const char *scenario;     /* "anomaly-detect/..." (static) */
	int severity;             /* 1..100, higher is worse */
	int cohort;               /* many addresses acting as one */
	char subject[FINDING_SUBJECT_MAX]; /* address, prefix or cohort */
	const char **signals;     /* every scenario that matched (static) */
	size_t nsignals;
	char **members;           /* addresses to ban (canonical text) */
	size_t nmembers;
	struct cidr range;        /* ban the range whole if the guard lets;
	                             family 0: none */
	struct fcount counts[FINDING_MAX_COUNTS];
	size_t ncounts;
	int64_t first_ns, last_ns; /* offending requests; TIME_NONE: unknown */
	struct fsample samples[FINDING_MAX_SAMPLES];
	size_t nsamples;
	char *sentence;           /* for a human */
	char *note;               /* why not (all) banned; NULL */
};

struct ban {
	char value[IPADDR_STRLEN + 4]; /* address or prefix */
	enum ban_scope scope;
	const char *scenario;
	const char *verdict;      /* "dry-run" here */
	char *reason;
	int severity;
};

struct report {
	struct finding *f;
	size_t nf, capf;
	struct ban *b;
	size_t nb, capb;
	uint64_t queries;         /* asked of the source */
	int64_t busy_ns;          /* time they took */
	char **warnings;          /* results cut at a cap, and such */
	size_t nwarnings;
};
void report_init(struct report *r);
void report_release(struct report *r);
struct finding *report_add_finding(struct report *r, const char *scenario,
    int severity, const char *subject);
void report_warn(struct report *r, const char *fmt, ...) AD_PRINTF(2, 3);
void finding_signal(struct finding *f, const char *scenario);
void finding_count(struct finding *f, const char *name, int64_t v);
int64_t finding_get(const struct finding *f, const char *name); /* -1 */
void finding_member(struct finding *f, const char *addr);
void finding_sample(struct finding *f, const char *time, const char *client,
    const char *method, const char *uri, const char *status, const char *ua,
    uint64_t n);
void finding_sentence(struct finding *f, const char *fmt, ...)
    AD_PRINTF(2, 3);
void finding_note(struct finding *f, const char *fmt, ...) AD_PRINTF(2, 3);
/* The findings of single addresses inside finding cohort's range become
 * part of it: their scenarios join its signals, it takes the highest
 * severity, and they go (indexes after cohort move).  How many. */
size_t report_absorb(struct report *r, size_t cohort);
/* Sorts the findings, most severe first, and keeps the first max. */
void report_keep(struct report *r, size_t max);
/* Findings most severe first (ties: more offending requests first, then
 * subject), then the bans they lead to, through the guard, each address
 * once, none inside a range that is banned whole.  Refusals become notes
 * on their findings. */
void report_decide(struct report *r, const struct guard_policy *p,
    const struct cidrset *trusted, const char *verdict);
/* Appends the dry-run verdicts of br (the agent's proposals the guard
 * accepted) to r's bans, skipping values already there. */
struct ban_results;
void report_add_verdicts(struct report *r, const struct ban_results *br);
/* "findings":[...] alone, for callers whose bans come from the pipeline. */
void report_json_findings(const struct report *r, struct buf *o);
/* The findings and warnings for a terminal, without the bans. */
void report_text_findings_only(const struct report *r, struct buf *o);
/* "findings":[...],"bans":[...] (no braces around them). */
void report_json_arrays(const struct report *r, struct buf *o);
/* The findings and bans for a terminal, most severe first. */
void report_text_findings(const struct report *r, struct buf *o);

/* ------------------------------------------------------------ guard_ban.c */

/*
 * The whole guard: one gate every proposed ban goes through, from any
 * analyst or model, in this order, each refusal with a named reason:
 * strict parsing of the address or range; range width (guard_policy);
 * the static refusals above; the configured allowlist (CIDRs and a file);
 * the host's own addresses; dedup (already banned and not expired:
 * skipped, before any query is spent on it); verified search-engine
 * crawlers (reverse DNS in the engine's domain that resolves forward to
 * the same address); evidence (the guard asks the logs about the address
 * in the window itself, whatever the proposer claimed: its own requests
 * must show abuse, or it must belong to a cohort the built-in analyst
 * found; an address the logs never mention is never banned); caps per
 * cycle and per hour (only what would be accepted counts).
 */

/* Name lookups, so tests run offline with a table instead of DNS. */
struct resolver {
	/* PTR of a: one host name into host; 0, or -1 when none. */
	int (*reverse)(void *ctx, const struct ipaddr *a, char *host,
	    size_t hostlen);
	/* Addresses of host: up to max into out, *n set; 0 or -1. */
	int (*forward)(void *ctx, const char *host, struct ipaddr *out,
	    size_t max, size_t *n);
	void *ctx;
};
/* The system resolver (getnameinfo/getaddrinfo). */
void resolver_system(struct resolver *r);

enum guard_code {
	GUARD_OK = 0,
	GUARD_PARSE,       /* "bad-address": not an address or CIDR */
	GUARD_TOO_WIDE,    /* "range-too-wide" */
	GUARD_SPECIAL,     /* "special-address": loopback, private, ... */
	GUARD_TRUSTED,     /* "trusted-proxy" */
	GUARD_ALLOWLIST,   /* "allowlisted" */
	GUARD_OWN,         /* "own-address": one of this host's */
	GUARD_CRAWLER,     /* "verified-crawler" */
	GUARD_NO_EVIDENCE, /* "no-evidence": the logs do not show abuse */
	GUARD_CAP_CYCLE,   /* "cap-per-cycle" */
	GUARD_CAP_HOUR,    /* "cap-per-hour" */
	GUARD_DUPLICATE,   /* "already-banned" (a skip, not a refusal) */
};
const char *guard_code_name(enum guard_code c);

struct guard_config {
	struct guard_policy policy;
	struct cidrset allow;        /* allowlist, with the file's entries */
	unsigned max_per_cycle;      /* 0 = no cap */
	unsigned max_per_hour;
	int verify_crawlers;         /* default on */
	int check_own_addresses;     /* default on: getifaddrs() */
	/* The analyst's thresholds the evidence check judges an address's
	 * own requests by (borrowed); NULL: analyst_config_init's. */
	const struct analyst_config *analyst;
};
void guard_config_init(struct guard_config *c);
void guard_config_release(struct guard_config *c);
/* An allowlist file: one CIDR or address per line, '#' comments; every
 * bad line reported as file:line: message into errs.  0 or -1. */
int guard_allowlist_file(struct guard_config *c, const char *path,
    struct buf *errs);

struct crawler_dns;
struct guard {
	const struct guard_config *cfg;
	const struct cidrset *trusted;
	struct cidrset own;          /* this host's addresses */
	struct resolver res;
	struct state *state;         /* dedup; may be NULL */
	unsigned cycle_bans;         /* accepted in this cycle */
	struct cidr *cycle;          /* ... and what they were: a dry-run */
	size_t ncycle, capcycle;     /* keeps no state to dedup against */
	struct crawler_dns *dns;     /* crawler checks, kept a while */
	size_t ndns;
	int64_t *hour;               /* times of accepted bans, last hour */
	size_t nhour, caphour;
};
void guard_init(struct guard *g, const struct guard_config *cfg,
    const struct cidrset *trusted, struct state *state);
void guard_release(struct guard *g);
void guard_cycle_begin(struct guard *g);

struct guard_verdict {
	enum guard_code code;
	char value[IPADDR_STRLEN + 4]; /* canonical address or CIDR */
	enum ban_scope scope;
	char reason[256];              /* for people and the model */
	/* Evidence the guard found itself, for the LAPI alert: */
	uint64_t events;               /* offending requests */
	int64_t first_ns, last_ns;
};
/*
 * Judges one proposed ban of value (address or CIDR) over the window
 * [start_ns, end_ns) of src.  cohorts: the built-in analyst's report for
 * the same window (its cohort findings count as evidence for members), or
 * NULL.  Accepting counts against the caps; the caller then bans (or, in
 * dry-run, reports) and records it.  Returns the verdict's code.
 */
enum guard_code guard_judge(struct guard *g, struct source *src,
    int64_t start_ns, int64_t end_ns, const struct report *cohorts,
    const char *value, int64_t now_ns, struct guard_verdict *v);

/* -------------------------------------------------------------- analyst.c */

/*
 * A deterministic analyst: it asks the logs aggregation questions in
 * LogsQL through source_query() (so on VictoriaLogs the server does the
 * work and only aggregates cross the network), decides in C with the
 * thresholds below, and fills a report with findings.  A few tens of
 * queries per run, whatever the size of the logs.
 *
 * Every threshold is a setting (config key "analyst_NAME", option
 * --analyst-NAME); see analyst_params for each one's meaning.
 */
struct analyst_config {
	uint64_t flood_per_minute;     /* a flood with one unhealthy sign */
	uint64_t flood_min_per_minute; /* a flood with both signs */
	double flood_error_ratio;      /* 5xx, 499, 429 share that is unhealthy */
	double flood_hammer_ratio;     /* share of one URI that is hammering */
	uint64_t probe_min_paths;      /* distinct URIs answered 400/403/404 */
	double probe_ratio;            /* ... as a share of all requests */
	uint64_t sensitive_min;        /* distinct sensitive paths */
	uint64_t injection_min;        /* distinct URIs carrying an injection */
	uint64_t scanner_ua_min;       /* requests with a scanner's agent */
	uint64_t login_fail_min;       /* failed login POSTs */
	double login_fail_ratio;       /* ... as a share of login POSTs */
	uint64_t cohort_min_members;   /* addresses before a cohort counts */
	double cohort_share;           /* member's traffic in the cohort */
	double login_cohort_share;     /* cohort's share of an endpoint's
	                                  login POSTs */
	uint64_t subnet_min_members;   /* active addresses in a /24 or /64 */
	uint64_t max_findings;
	uint64_t max_rows;             /* rows any one query may return */
	uint64_t samples;              /* sample rows per finding */
	struct guard_policy guard;     /* guard_range_ipv4, guard_range_ipv6 */
};

/* One setting: its config key and what it means, for --help and docs. */
struct analyst_param {
	const char *name;   /* config key */
	const char *option; /* the same with dashes: the long option */
	const char *help;
};
const struct analyst_param *analyst_params(size_t *n);
/* Every setting with its help, one per line, for a command's --help. */
void analyst_usage(FILE *f);
/* A command's long options (base, ended by a zero entry) followed by
 * one per analyst setting, each returning val; free() the result. */
struct option;
struct option *analyst_longopts(const struct option *base, int val);
void analyst_config_init(struct analyst_config *c);
/* 0 set; 1 not an analyst setting; -1 bad value (reason in err). */
int analyst_config_set(struct analyst_config *c, const char *name,
    const char *value, char *err, size_t errlen);

/*
 * Runs every detector on [start_ns, end_ns) and adds findings to out
 * (bans are report_decide's business).  0, or -1 with the reason in err
 * when a query failed; findings made before the failure stay in out.
 */
int analyst_run(struct source *src, const struct analyst_config *c,
    int64_t start_ns, int64_t end_ns, struct report *out, char *err,
    size_t errlen);

/*
 * The per-address gates of analyst_run, for the given addresses only
 * (the guard's evidence check: does this address's own traffic show
 * abuse?).  A few stats queries filtered on client_ip:in(...), batched;
 * at most ANALYST_JUDGE_MAX addresses.  Fills out[i] for a[i].  0, or -1
 * with the reason in err when a query failed.
 */
#define ANALYST_JUDGE_MAX 256
struct analyst_judgement {
	int abusive;               /* its own requests show abuse */
	uint64_t requests;         /* all of its requests; 0: never seen */
	uint64_t events;           /* offending requests (when abusive) */
	int64_t first_ns, last_ns; /* of those, else of all; TIME_NONE */
	char why[240];             /* the analyst's sentence, or what it saw */
};
int analyst_judge_addresses(struct source *src,
    const struct analyst_config *c, const struct ipaddr *a, size_t n,
    int64_t start_ns, int64_t end_ns, struct analyst_judgement *out,
    char *err, size_t errlen);


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
	/* The analyst's thresholds and the guard's range policy (analyst.h:
	 * analyst_NAME and guard_range_* settings). */
	struct analyst_config *analyst;
	/* Banning (run, watch, scan --apply, bans, unban).  The LAPI
	 * password comes from a file (0600 or stricter) or $LAPI_PASSWORD. */
	char *lapi_url, *lapi_machine, *lapi_password_file, *lapi_ca_file;
	int lapi_retries;            /* -1: LAPI_RETRIES_DEFAULT */
	int64_t lapi_timeout_ns;     /* 0: LAPI_TIMEOUT_DEFAULT */
	int64_t ban_duration_ns;     /* default 4h */
	char *state_file;            /* NULL: state_default_path() */
	char *audit_file;            /* NULL: none; "-": standard error */
	int dry_run;                 /* -1 unset (dry-run), 0 apply, 1 dry */
	int64_t window_ns;           /* default 15m */
	int64_t interval_ns;         /* default 60s */
	/* guard_allow, guard_allow_file, guard_max_per_cycle,
	 * guard_max_per_hour, guard_verify_crawlers (range widths live in
	 * analyst->guard and are copied in by ban_guard_config). */
	struct guard_config *guard;
	char **inputs;               /* input = PATH (embedded store) */
	size_t ninputs;
	int follow;                  /* follow = true */
	/* The agent's model: an OpenAI-compatible endpoint.  The key comes
	 * from llm_api_key_file, else $LLM_API_KEY, else
	 * $OPENROUTER_API_KEY. */
	char *llm_base_url, *llm_model, *llm_api_key_file;
	char **llm_headers;          /* llm_header = "Name: value" */
	size_t nllm_headers;
	double llm_temperature;      /* < 0: not sent */
	int llm_max_tokens;          /* 0: the client's default */
	double llm_price_prompt;     /* USD per token when the provider */
	double llm_price_completion; /* does not report the cost */
	int64_t llm_timeout_ns;      /* 0: the client's defaults */
	int64_t llm_connect_timeout_ns;
	int llm_retries;             /* -1: the client's default */
	char *analyst_kind;          /* analyst = llm|stats|auto|none */
	/* agent_triage, agent_max_turns, ... (strings below are owned here
	 * and borrowed by agent). */
	struct agent_config *agent;
	char *agent_language, *agent_system_prompt_file;
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
/* A secret (password, token) from the first line of file, else from the
 * environment variable env; NULL when neither (err says why when file was
 * given but unusable).  The caller wipes and frees it.  Never logged. */
char *read_secret(const char *file, const char *env, char *err,
    size_t errlen);
/* Which analyst a command runs: whether a model is configured at all (a
 * key, or a base URL of our own), and opening it for kind llm, stats or
 * auto (and none when allow_none): llm must open; auto uses the model
 * when it is configured and opens, else the built-in analyst, with a
 * warning.  0 or -1 (logged); *llm stays NULL when the built-in analyst
 * decides. */
struct llm;
int settings_llm_configured(const struct settings *st);
int settings_analyst_open(const struct settings *st, const char *cmd,
    const char *kind, int allow_none, struct llm **llm, char **key);
/* Loads the file named by -c/--config among argv, if any, so that the
 * options parsed after it override it. */
int settings_preload_config(struct settings *st, int argc, char **argv,
    struct buf *errs);
/* base, then the analyst's thresholds (val analyst_val) and the model's
 * and the agent's settings, --llm-* and --agent-* (val agent_val): the
 * options every command that analyses shares.  free() it. */
struct option *settings_longopts(const struct option *base, int analyst_val,
    int agent_val);
/* Their help text, for the commands' usage. */
void settings_agent_usage(FILE *f);
/* A long option of the same name; logs and returns -1 on a bad value. */
int settings_option(struct settings *st, const char *optname,
    const char *arg);
struct llm;
/* The agent's model from llm_* (key: llm_api_key_file, $LLM_API_KEY,
 * $OPENROUTER_API_KEY; none needed with llm_base_url).  0, or -1 with
 * err (never the key).  *key_out (may be NULL): wipe and free it. */
int settings_llm_open(const struct settings *st, struct llm **out,
    char **key_out, char *err, size_t errlen);

/* ----------------------------------------------------------------- ban.c */

/*
 * The ban pipeline: every proposed ban (the built-in analyst's findings
 * now, the agent's proposals later) goes through the guard, then, only
 * in apply mode, to LAPI; only what LAPI accepted (201) is recorded in
 * the state file.  Every verdict and every LAPI outcome goes to the
 * audit trail.  Dry-run is the default: nothing is sent unless --apply,
 * dry_run = false in the config, or DRY_RUN=0 in the environment.
 */
#define BAN_DURATION_DEFAULT (4 * 3600 * INT64_C(1000000000))
#define BAN_WINDOW_DEFAULT (15 * 60 * INT64_C(1000000000))
#define BAN_INTERVAL_DEFAULT (60 * INT64_C(1000000000))

struct ban_ctx {
	int apply;                /* 0: dry-run */
	struct guard *guard;
	struct source *src;
	int64_t start_ns, end_ns; /* the window judged */
	int64_t now_ns;
	struct lapi *lapi;        /* required when apply */
	struct state *state;      /* may be NULL (dry-run) */
	struct audit *audit;      /* may be NULL */
	int64_t duration_ns;
};

struct ban_result {
	char value[IPADDR_STRLEN + 4];
	enum ban_scope scope;
	const char *scenario;     /* static */
	const char *verdict;      /* banned, failed, skipped, refused, dry-run */
	const char *code;         /* the guard's code name */
	char reason[256];         /* the guard's reason, or the finding's */
	char error[512];          /* failed: why (secrets scrubbed) */
	char alert_id[LAPI_ID_MAX];
	uint64_t events;          /* offending requests the guard counted */
	int64_t first_ns, last_ns, until_ns;
	double seconds;           /* judging and pushing */
};
struct ban_results {
	struct ban_result *v;
	size_t n, cap;
	unsigned banned, failed, skipped, refused, dry;
};
void ban_results_init(struct ban_results *b);
void ban_results_release(struct ban_results *b);

/* Judges (and in apply mode bans) one proposed value for finding f:
 * the agent's entry point.  The result is appended to out. */
void ban_propose(const struct ban_ctx *c, const struct report *cohorts,
    const struct finding *f, const char *value, struct ban_results *out);
/* Every ban the report's findings lead to: ranges first (when the finding
 * has one), then members, each address once, none inside a range
 * accepted in this call.  Returns the number of failed bans. */
unsigned ban_report(const struct ban_ctx *c, const struct report *r,
    struct ban_results *out);
/* "bans":[...] and "summary":{...} (no braces around them). */
void ban_results_json(const struct ban_results *b, struct buf *o);
void ban_results_text(const struct ban_results *b, int apply,
    struct buf *o);

/* The mode a command runs in: --apply (1) / --dry-run (0) on the command
 * line (-1: none), else DRY_RUN in the environment, else the dry_run
 * setting, else dry-run.  1 apply, 0 dry-run, -1 bad DRY_RUN (err). */
int ban_mode(const struct settings *st, int cli, char *err, size_t errlen);
/* The LAPI password from lapi_password_file (refused when group or world
 * may read it) or $LAPI_PASSWORD; a new string, or NULL with err. */
char *ban_read_password(const struct settings *st, char *err, size_t errlen);
/* lapi_init from the settings (password read as above); 0 or -1. */
int ban_lapi_open(const struct settings *st, struct lapi *l, char *err,
    size_t errlen);
/* state_lock + state_load of state_file (or the default); 0 or -1. */
int ban_state_open(const struct settings *st, struct state *s, int64_t now_ns,
    char *err, size_t errlen);
/* The guard configuration: the settings' guard_* with the range policy
 * of analyst->guard copied in (one place sets it: guard_range_*). */
const struct guard_config *ban_guard_config(const struct settings *st);

/* ----------------------------------------------------------------- llm.c */

/*
 * A client for any OpenAI-compatible chat completions API with tools
 * (OpenRouter first; Ollama, vLLM, llama.cpp's server by base URL), built
 * on http.c.  Every quirk in shared/docs/llm-tool-calling.md is absorbed
 * here, so the agent sees one clean shape: arguments that are "" or not
 * JSON or an object, tool calls written into content (accepted only for
 * the tool names given), missing ids (made up, then kept), several calls
 * in one message, finish_reason "length" mid-call (the partial call is
 * dropped), reasoning fields, errors inside HTTP 200 bodies, 429 with
 * Retry-After, 402 never retried, 5xx retried with backoff.  The API key
 * is a secret: never logged, never in an error, never in the audit.
 * Messages are jansson arrays in the wire format; UTF-8 is never split.
 */
struct json_t;

struct llm_opts {
	const char *base_url;        /* https://openrouter.ai/api/v1 */
	const char *model;
	const char *api_key;         /* secret; NULL for local servers */
	const char *const *headers;  /* extra "Name: value" lines */
	size_t nheaders;
	double temperature;          /* < 0: not sent */
	int max_tokens;              /* 0: not sent; default generous */
	int64_t timeout_ns, connect_timeout_ns;
	int retries;
	int64_t retry_base_ns, retry_max_ns;
	double price_prompt;         /* USD per token, when the provider */
	double price_completion;     /* does not report usage.cost */
	int fetch_prices;            /* none given: GET /models once */
	const char *ca_file;
};
void llm_opts_init(struct llm_opts *o);

enum llm_errkind {
	LLM_OK = 0,
	LLM_E_USAGE,       /* bad options: nothing sent */
	LLM_E_AUTH,        /* 401/403 */
	LLM_E_CREDIT,      /* 402: out of credits, not retried */
	LLM_E_RATE,        /* 429 still after the retries */
	LLM_E_UNAVAILABLE, /* 5xx / 408 still after the retries */
	LLM_E_NETWORK,     /* connect, TLS, timeout */
	LLM_E_REJECTED,    /* another 4xx (e.g. 400 bad request) */
	LLM_E_PROVIDER,    /* an error object inside a 200 body */
	LLM_E_PROTOCOL,    /* an answer we cannot read */
};
const char *llm_errkind_name(enum llm_errkind k);
struct llm_error {
	enum llm_errkind kind;
	int status;
	int attempts;
	char msg[1024];
};

struct llm_call {
	char *id;                    /* as sent, or made up ("call_<n>") */
	char *name;
	char *arguments;             /* JSON object text, "{}" for "" */
	int arguments_ok;            /* 0: not a JSON object (raw text kept,
	                                the agent answers with an error) */
};
struct llm_reply {
	char *content;               /* assistant text, may be NULL */
	char *reasoning;             /* reasoning text if any, may be NULL */
	struct llm_call *calls;
	size_t ncalls;
	char finish_reason[32];
	int64_t prompt_tokens, completion_tokens, reasoning_tokens;
	double cost_usd;             /* usage.cost, else tokens x prices */
	int cost_reported;           /* the provider said so itself */
	struct json_t *assistant;    /* the message to append to the history
	                                (normalised: ids and arguments as
	                                used), owned by the reply */
};
void llm_reply_release(struct llm_reply *r);

struct llm;
struct llm *llm_new(const struct llm_opts *o, struct llm_error *e);
void llm_free(struct llm *c);
/* One round trip: messages (array of wire-format messages) and tools
 * (array of tool definitions, sent on every request); tool_names lists
 * the names accepted from the content fallback.  0 or -1 with e set. */
int llm_chat(struct llm *c, struct json_t *messages, struct json_t *tools,
    const char *const *tool_names, size_t ntool_names,
    struct llm_reply *r, struct llm_error *e);
/* The pieces of llm_chat, for tests and the fuzzer.  llm_parse_reply
 * reads a 200 body (any bytes) into r (released first); c may be NULL
 * (ids are then made up per call, cost only from usage.cost).  0 or -1
 * with e set (LLM_E_PROVIDER, LLM_E_PROTOCOL).  llm_request_body is the
 * JSON text llm_chat would send (free it); llm_request_headers the
 * header lines (Authorization aside), valid for the client's life. */
int llm_parse_reply(struct llm *c, const char *body, size_t n,
    const char *const *tool_names, size_t ntool_names,
    struct llm_reply *r, struct llm_error *e);
char *llm_request_body(const struct llm *c, struct json_t *messages,
    struct json_t *tools);
const char *const *llm_request_headers(const struct llm *c, size_t *n);
/* Reads the model's prices from GET {base}/models (OpenRouter's
 * pricing.prompt and pricing.completion, USD per token) into the client,
 * for replies without usage.cost; prices given in the options win.  0,
 * or -1 with e set (the model not listed: LLM_E_PROTOCOL). */
int llm_fetch_prices(struct llm *c, struct llm_error *e);

/* --------------------------------------------------------------- agent.c */

/*
 * The agent: a model investigates one window of logs with two tools,
 * logsql_query (LogsQL through source_query, confined to the window, the
 * result capped and quoted as untrusted data written by clients) and
 * ban_ips (every entry through ban_propose: the guard decides, the model
 * gets each verdict back).  It is briefed with the window, the canonical
 * field names and the built-in analyst's signals as leads, not verdicts.
 * The cycle ends when the model answers without tool calls (its report)
 * or when a budget runs out (turns, tokens, USD per cycle and per day,
 * seconds): a budget stop is reported as such, never as "no attack".
 */
enum agent_triage { AGENT_TRIAGE_SIGNALS = 0, AGENT_TRIAGE_ALWAYS,
    AGENT_TRIAGE_NEVER };

struct agent_config {
	const char *system_prompt_file; /* NULL: the shipped prompt */
	const char *language;           /* report language, e.g. "en" */
	enum agent_triage triage;
	int triage_min_severity;        /* signals mode: call the model only
	                                   when a finding is at least this */
	int max_turns;
	int64_t max_tokens;             /* prompt + completion, per cycle */
	double max_usd_cycle, max_usd_day;
	int64_t max_seconds;
	size_t result_max_rows, result_max_bytes; /* per tool result */
	int max_bad_calls;              /* malformed calls answered, then stop */
};
void agent_config_init(struct agent_config *c);

struct agent_result {
	int called;                 /* the model was asked at all */
	const char *stop;           /* "answered", "budget-turns",
	                               "budget-tokens", "budget-usd",
	                               "budget-day", "budget-seconds",
	                               "llm-error", "skipped-triage" */
	char *report;               /* the model's final text, or NULL */
	int turns;
	int64_t prompt_tokens, completion_tokens;
	double cost_usd;
	double seconds;
	unsigned queries, bad_calls;
	struct ban_results bans;    /* every ban_ips entry, with its verdict */
	char error[1024];           /* llm-error: why (no secrets) */
};
void agent_result_release(struct agent_result *r);
/* Why the built-in analyst's findings are judged too ("unavailable",
 * "budget": a budget stopped the model, "not called": triage), or NULL
 * when the model's bans alone stand; rc is agent_run's return.  The
 * model's proposals made before the stop stand either way. */
const char *agent_fallback_reason(int rc, const struct agent_result *ar);
/* "agent":{...} (no comma around it), and the same for a terminal.  A
 * budget stop is its own stop, never "no attack". */
void agent_result_json(const struct agent_result *ar, int fallback,
    struct buf *o);
void agent_result_text(const struct agent_result *ar, const char *why,
    struct buf *o);

/* One cycle.  analyst: the built-in analyst's report for the same window
 * (the leads, and the cohorts the guard accepts as evidence).  spent_today
 * is what earlier cycles cost today (USD), for max_usd_day.  0, or -1
 * when the model could not be used (r->error says why; the caller falls
 * back to the built-in analyst's findings). */
int agent_run(const struct agent_config *cfg, struct llm *llm,
    const struct ban_ctx *bc, const struct report *analyst,
    double spent_today, struct agent_result *r);

/* -------------------------------------------------------------- cmd_*.c */

int cmd_scan(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_run(int argc, char **argv);   /* cmd_run.c */
int cmd_watch(int argc, char **argv); /* cmd_run.c */
int cmd_bans(int argc, char **argv);  /* cmd_bans.c */
int cmd_unban(int argc, char **argv); /* cmd_bans.c */

/* ------------------------------------------------------------- cmd_eval.c */

/*
 * Scoring an analyst against labels (labels.json, see
 * ../shared/scenarios/README.md).  An attacker counts as banned when an
 * Ip ban names it or a Range ban covers it and lies inside one of the
 * labels' prefixes; an innocent banned directly or covered by any Range
 * ban is a false ban; a ban that is neither is unlabeled.
 */
struct eval_labels {
	struct ipaddr *attackers;
	size_t nattackers;
	struct ipaddr *innocents;
	char **innocent_what;
	size_t ninnocents;
	struct cidr *prefixes;
	size_t nprefixes;
	char **trusted;        /* trusted_proxies, as written */
	size_t ntrusted;
	uint64_t rows;
	char *scenario;
};
void eval_labels_init(struct eval_labels *l);
void eval_labels_release(struct eval_labels *l);
/* Parses labels.json text: 0, or -1 with the reason in err. */
int eval_labels_parse(struct eval_labels *l, const char *text, size_t len,
    char *err, size_t errlen);

struct eval_score {
	size_t attackers, banned;  /* banned: attackers banned or covered */
	char **false_bans;         /* "1.2.3.4 (who)" each */
	size_t nfalse;
	char **unlabeled;          /* bans of neither, as their values */
	size_t nunlabeled;
};
void eval_score_init(struct eval_score *s);
void eval_score_release(struct eval_score *s);
void eval_score(const struct eval_labels *l, const struct ban *bans,
    size_t nbans, struct eval_score *out);

int cmd_eval(int argc, char **argv);

#endif /* ANOMALY_H */
