/*
 * LogsQL: the query language of VictoriaLogs, the subset an abuse
 * detector needs, parsed once and run on either store.
 *
 * Temporary header: these two sections belong in anomaly.h, after
 * qresult.c, as "logsql.c" and "logsql_exec.c".
 */
#ifndef LOGSQL_H
#define LOGSQL_H

#include "anomaly.h"

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
 * out.  The caller's own _time filters stay: the window can only narrow.
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
 */
#define LOGSQL_MAX_GROUPS 10000000
#define LOGSQL_MAX_TABLE_ROWS 2000000 /* rows fed to pipes after stats */

int logsql_exec(const struct logsql_query *q, const struct store *s,
    int64_t now_ns, size_t max_rows, struct qresult *out, char *err,
    size_t errlen);

#endif /* LOGSQL_H */
