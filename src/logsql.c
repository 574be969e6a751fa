/*
 * LogsQL: lexer, parser, printer.
 *
 * The parser follows VictoriaLogs' own (lib/logstorage/parser.go) rule
 * for rule, so that a query means the same on both stores: the same
 * compound tokens, the same precedence, the same default result names.
 * What it does not support it rejects with a message saying so, rather
 * than guessing: a query that runs differently on the two stores would
 * be worse than one that does not run here.
 *
 * All memory of a parsed query comes from one arena, freed at once: the
 * parser never has to unwind a half-built tree on error.
 */
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"


/* ---- arena */

struct lq_chunk {
	struct lq_chunk *next;
	size_t len, cap;
	max_align_t data[];
};

struct lq_arena {
	struct lq_chunk *head;
	size_t total;
};

#define ARENA_CHUNK (16 * 1024)
/* A 64 KiB query cannot honestly need more; this stops a bug from
 * eating the machine. */
#define ARENA_MAX (64u << 20)

static void *
ar_alloc(struct lq_arena *a, size_t n)
{
	struct lq_chunk *c = a->head;

	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) *
	    sizeof(max_align_t);
	if (n == 0)
		n = sizeof(max_align_t);
	if (c == NULL || c->cap - c->len < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		if (a->total + cap > ARENA_MAX)
			fatalx("logsql: query needs more than %u MiB",
			    ARENA_MAX >> 20);
		c = xmalloc(sizeof(*c) + cap);
		c->len = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
		a->total += cap;
	}
	void *p = (char *)c->data + c->len;
	c->len += n;
	memset(p, 0, n);
	return p;
}

static void
ar_free(struct lq_arena *a)
{
	struct lq_chunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

static struct lq_str
ar_str(struct lq_arena *a, const char *p, size_t n)
{
	struct lq_str s;

	s.p = ar_alloc(a, n + 1);
	if (n != 0)
		memcpy(s.p, p, n);
	s.p[n] = '\0';
	s.n = n;
	return s;
}

/* Append to an arena array, doubling; old copies are left in the arena
 * (at most as much again). */
static void *
ar_push(struct lq_arena *a, void *arr, size_t *n, size_t *cap, size_t elem)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		void *na = ar_alloc(a, ncap * elem);
		if (*n != 0)
			memcpy(na, arr, *n * elem);
		arr = na;
		*cap = ncap;
	}
	(*n)++;
	return arr;
}

/* ---- characters */

/* Decodes the UTF-8 sequence at p; its length, or 0 if invalid. */
static size_t
utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned c = p[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		if (n < 2 || (p[1] & 0xc0) != 0x80)
			return 0;
		*cp = ((c & 0x1f) << 6) | (p[1] & 0x3f);
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0))
			return 0;
		*cp = ((c & 0x0f) << 12) | ((p[1] & 0x3fu) << 6) |
		    (p[2] & 0x3f);
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
			return 0;
		*cp = ((c & 0x07) << 18) | ((p[1] & 0x3fu) << 12) |
		    ((p[2] & 0x3fu) << 6) | (p[3] & 0x3f);
		return 4;
	}
	return 0;
}

static int
ascii_alnum(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/*
 * VictoriaLogs' words are runs of Unicode letters, digits and '_'.
 * Without Unicode tables, code points past ASCII count as letters except
 * the blocks that are punctuation, symbols and spaces; log text is
 * nearly all ASCII, where the rule is exact.
 */
static int
cp_is_token(uint32_t c)
{
	if (c < 0x80)
		return ascii_alnum(c) || c == '_';
	if (c < 0xc0)
		return c == 0xaa || c == 0xb5 || c == 0xba;
	if (c == 0xd7 || c == 0xf7)
		return 0;
	if ((c >= 0x2000 && c <= 0x2bff) || (c >= 0x3000 && c <= 0x303f) ||
	    (c >= 0xe000 && c <= 0xf8ff) || (c >= 0xfe10 && c <= 0xfe6f) ||
	    (c >= 0xff00 && c <= 0xff0f) || (c >= 0xfff0 && c <= 0xffff) ||
	    (c >= 0x1f000 && c <= 0x1faff))
		return 0;
	return 1;
}

/* Go's unicode.IsSpace. */
static int
cp_is_space(uint32_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 ||
	    c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
	    c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	    c == 0x3000;
}

int
lq_token_rune(const unsigned char *p, size_t n, size_t *used)
{
	uint32_t cp;
	size_t k;

	if (p[0] < 0x80) {
		*used = 1;
		return ascii_alnum(p[0]) || p[0] == '_';
	}
	k = utf8_decode(p, n, &cp);
	if (k == 0) {
		*used = 1;
		return 0;
	}
	*used = k;
	return cp_is_token(cp);
}

static int
is_word(const char *s, size_t n)
{
	size_t i = 0, k;

	if (n == 0)
		return 0;
	while (i < n) {
		if (!lq_token_rune((const unsigned char *)s + i, n - i, &k))
			return 0;
		i += k;
	}
	return 1;
}

static char
lower_ascii(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static int
eq_nocase(const char *a, size_t n, const char *lit)
{
	size_t m = strlen(lit);

	if (n != m)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower_ascii(a[i]) != lit[i])
			return 0;
	return 1;
}

/* ---- numbers */

int
lq_parse_float(struct span s, double *out)
{
	char tmp[72];
	size_t i = 0, digits = 0;

	if (s.n == 0 || s.n >= sizeof(tmp))
		return -1;
	if (s.p[0] == '-' || s.p[0] == '+')
		i++;
	while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9') {
		i++;
		digits++;
	}
	if (i < s.n && s.p[i] == '.') {
		i++;
		while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9') {
			i++;
			digits++;
		}
	}
	if (digits == 0)
		return -1;
	if (i < s.n && (s.p[i] == 'e' || s.p[i] == 'E')) {
		size_t e = ++i;
		if (i < s.n && (s.p[i] == '-' || s.p[i] == '+'))
			e = ++i;
		while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9')
			i++;
		if (i == e)
			return -1;
	}
	if (i != s.n)
		return -1;
	memcpy(tmp, s.p, s.n);
	tmp[s.n] = '\0';
	/* The syntax was checked above; strtod only converts (and rounds
	 * correctly, which matters for comparisons with the log's text). */
	*out = strtod(tmp, NULL);
	return 0;
}

static const struct {
	const char *name;
	double mul;
} size_units[] = {
	{ "B", 1 },
	{ "K", 1e3 }, { "KB", 1e3 }, { "Ki", 1024.0 }, { "KiB", 1024.0 },
	{ "M", 1e6 }, { "MB", 1e6 }, { "Mi", 1048576.0 }, { "MiB", 1048576.0 },
	{ "G", 1e9 }, { "GB", 1e9 }, { "Gi", 1073741824.0 },
	{ "GiB", 1073741824.0 },
	{ "T", 1e12 }, { "TB", 1e12 }, { "Ti", 1099511627776.0 },
	{ "TiB", 1099511627776.0 },
};

int
lq_parse_number(struct span s, double *out)
{
	char tmp[72];
	size_t i = 0, k = 0, digits = 0;
	int neg = 0;
	double v;

	if (s.n == 0 || s.n > 64)
		return -1;
	if (s.p[0] == '-' || s.p[0] == '+') {
		neg = s.p[0] == '-';
		i++;
	}
	struct span rest = { s.p + i, s.n - i };
	if (eq_nocase(rest.p, rest.n, "inf")) {
		*out = neg ? -INFINITY : INFINITY;
		return 0;
	}
	if (eq_nocase(rest.p, rest.n, "nan")) {
		*out = NAN;
		return 0;
	}
	if (rest.n > 2 && rest.p[0] == '0' && (rest.p[1] == 'x' ||
	    rest.p[1] == 'X')) {
		uint64_t h = 0;
		for (size_t j = 2; j < rest.n; j++) {
			char c = lower_ascii(rest.p[j]);
			unsigned d;
			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				d = (unsigned)(c - 'a' + 10);
			else
				return -1;
			if (h > (UINT64_MAX >> 4))
				return -1;
			h = (h << 4) | d;
		}
		*out = neg ? -(double)h : (double)h;
		return 0;
	}
	/* Mantissa without the '_' separators, then an optional unit. */
	for (; i < s.n; i++) {
		char c = s.p[i];
		if (c >= '0' && c <= '9') {
			tmp[k++] = c;
			digits++;
		} else if (c == '_' && digits > 0)
			continue;
		else if (c == '.')
			tmp[k++] = c;
		else
			break;
	}
	if (digits == 0)
		return -1;
	if (i + 1 < s.n && (s.p[i] == 'e' || s.p[i] == 'E') &&
	    ((s.p[i + 1] >= '0' && s.p[i + 1] <= '9') ||
	    ((s.p[i + 1] == '-' || s.p[i + 1] == '+') && i + 2 < s.n &&
	    s.p[i + 2] >= '0' && s.p[i + 2] <= '9'))) {
		tmp[k++] = 'e';
		i++;
		if (s.p[i] == '-' || s.p[i] == '+')
			tmp[k++] = s.p[i++];
		while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9')
			tmp[k++] = s.p[i++];
	}
	struct span num = { tmp, k };
	if (lq_parse_float(num, &v) != 0)
		return -1;
	if (i == s.n) {
		*out = neg ? -v : v;
		return 0;
	}
	struct span unit = { s.p + i, s.n - i };
	for (size_t u = 0; u < ARRAY_LEN(size_units); u++)
		if (span_eq_str(unit, size_units[u].name)) {
			v *= size_units[u].mul;
			*out = neg ? -v : v;
			return 0;
		}
	/* A duration, in nanoseconds: "5m", "1h30m", "1.5s". */
	struct span d = { s.p + (neg || s.p[0] == '+' ? 1 : 0),
	    s.n - (neg || s.p[0] == '+' ? 1 : 0) };
	int64_t ns;
	for (size_t j = 0; j < d.n; j++)
		if (d.p[j] == ' ' || d.p[j] == '\t')
			return -1;
	if (parse_duration(d, &ns) != 0)
		return -1;
	*out = neg ? -(double)ns : (double)ns;
	return 0;
}

int
lq_parse_ipv4(struct span s, uint32_t *out)
{
	uint32_t v = 0;
	size_t i = 0;

	if (s.n < 7 || s.n > 15)
		return -1;
	for (int oct = 0; oct < 4; oct++) {
		unsigned x = 0;
		size_t nd = 0;
		if (oct > 0) {
			if (i >= s.n || s.p[i] != '.')
				return -1;
			i++;
		}
		while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9' && nd < 3) {
			x = x * 10 + (unsigned)(s.p[i] - '0');
			i++;
			nd++;
		}
		if (nd == 0 || x > 255)
			return -1;
		v = (v << 8) | x;
	}
	if (i != s.n)
		return -1;
	*out = v;
	return 0;
}

size_t
lq_fmt_float(double v, char *out, size_t outlen)
{
	char e[40], digs[24];
	size_t nd = 0, n = 0;
	int exp10, neg;
	char *ep;

	if (outlen == 0)
		return 0;
	if (isnan(v))
		return (size_t)snprintf(out, outlen, "NaN");
	if (isinf(v))
		return (size_t)snprintf(out, outlen, v > 0 ? "+Inf" : "-Inf");
	/* The shortest digits that read back as v, as Go picks them. */
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	neg = e[0] == '-';
	for (const char *c = e + neg; *c != '\0' && *c != 'e'; c++)
		if (*c >= '0' && *c <= '9' && nd < sizeof(digs))
			digs[nd++] = *c;
	ep = strchr(e, 'e');
	exp10 = ep != NULL ? (int)strtol(ep + 1, NULL, 10) : 0;
	while (nd > 1 && digs[nd - 1] == '0')
		nd--;
	char tmp[400];
	if (neg)
		tmp[n++] = '-';
	if (exp10 >= 0) {
		for (int i = 0; i <= exp10 || (size_t)i < nd; i++) {
			if (i == exp10 + 1)
				tmp[n++] = '.';
			tmp[n++] = (size_t)i < nd ? digs[i] : '0';
			if (n > sizeof(tmp) - 4)
				break;
		}
	} else {
		tmp[n++] = '0';
		tmp[n++] = '.';
		for (int i = -1; i > exp10 && n < sizeof(tmp) - 30; i--)
			tmp[n++] = '0';
		for (size_t i = 0; i < nd; i++)
			tmp[n++] = digs[i];
	}
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, tmp, n);
	out[n] = '\0';
	return n;
}

/* ---- VictoriaLogs' value order */

#define VK_I64 1
#define VK_U64 2
#define VK_TS 4
#define VK_NUM 8

void
lq_vkey_init(struct lq_vkey *k, struct span s)
{
	k->s = s;
	k->flags = 0;
	if (s.n == 0)
		return;
	if (parse_i64(s, &k->i) == 0 && s.p[0] != '+')
		k->flags |= VK_I64;
	if (parse_u64(s, &k->u) == 0)
		k->flags |= VK_U64;
	if (s.n >= 20 && s.p[4] == '-' && time_parse_rfc3339(s, &k->ts) == 0)
		k->flags |= VK_TS;
	if (lq_parse_float(s, &k->d) == 0)
		k->flags |= VK_NUM;
}

/* Natural order: digit runs compare as numbers. */
static int
natural_cmp(struct span a, struct span b)
{
	size_t i = 0, j = 0;

	while (i < a.n && j < b.n) {
		unsigned char ca = (unsigned char)a.p[i];
		unsigned char cb = (unsigned char)b.p[j];
		if (ca >= '0' && ca <= '9' && cb >= '0' && cb <= '9') {
			size_t i2 = i, j2 = j, za, zb;
			while (i2 < a.n && a.p[i2] >= '0' && a.p[i2] <= '9')
				i2++;
			while (j2 < b.n && b.p[j2] >= '0' && b.p[j2] <= '9')
				j2++;
			za = i;
			while (za + 1 < i2 && a.p[za] == '0')
				za++;
			zb = j;
			while (zb + 1 < j2 && b.p[zb] == '0')
				zb++;
			if (i2 - za != j2 - zb)
				return i2 - za < j2 - zb ? -1 : 1;
			int c = memcmp(a.p + za, b.p + zb, i2 - za);
			if (c != 0)
				return c < 0 ? -1 : 1;
			i = i2;
			j = j2;
			continue;
		}
		if (ca != cb)
			return ca < cb ? -1 : 1;
		i++;
		j++;
	}
	if (a.n - i != b.n - j)
		return a.n - i < b.n - j ? -1 : 1;
	return 0;
}

int
lq_vkey_cmp(const struct lq_vkey *a, const struct lq_vkey *b)
{
	if (span_eq(a->s, b->s))
		return 0;
	if (a->flags & b->flags & VK_I64)
		return a->i < b->i ? -1 : a->i > b->i;
	if (a->flags & b->flags & VK_U64)
		return a->u < b->u ? -1 : a->u > b->u;
	if (a->flags & b->flags & VK_TS)
		return a->ts < b->ts ? -1 : a->ts > b->ts;
	if (a->flags & b->flags & VK_NUM) {
		if (a->d < b->d)
			return -1;
		if (a->d > b->d)
			return 1;
		return 0;
	}
	return natural_cmp(a->s, b->s);
}

int
lq_value_cmp(struct span a, struct span b)
{
	struct lq_vkey ka, kb;

	lq_vkey_init(&ka, a);
	lq_vkey_init(&kb, b);
	return lq_vkey_cmp(&ka, &kb);
}

/* ---- quoting, as Go's strconv.Quote */

static const char *const reserved_words[] = {
	"and", "or", "not", "now", "offset", "contains_all", "contains_any",
	"json_array_contains_any", "contains_common_case", "eq_field",
	"equals_common_case", "exact", "i", "in", "ipv4_range", "ipv6_range",
	"le_field", "len_range", "lt_field", "pattern_match",
	"pattern_match_full", "pattern_match_prefix", "pattern_match_suffix",
	"range", "re", "seq", "string_range", "value_type", "options", "if",
	"by", "as", "from",
	/* pipe names: VictoriaLogs quotes these too */
	"block_stats", "blocks_count", "coalesce", "collapse_nums", "copy",
	"cp", "decolorize", "delete", "del", "rm", "drop", "drop_empty_fields",
	"extract", "extract_regexp", "facets", "field_names", "field_values",
	"fields", "keep", "filter", "where", "first", "format", "generate_sequence",
	"hash", "join", "json_array_len", "last", "len", "limit", "head",
	"math", "eval", "order", "sort", "pack_json", "pack_logfmt",
	"query_stats", "rename", "mv", "replace", "replace_regexp",
	"running_stats", "sample", "set_stream_fields", "skip", "split",
	"stats", "stream_context", "time_add", "top", "total_stats", "union",
	"uniq", "unpack_json", "unpack_logfmt", "unpack_syslog",
	"unpack_words", "unroll",
	/* stats functions */
	"any", "avg", "count", "count_empty", "count_uniq", "count_uniq_hash",
	"field_max", "field_min", "histogram", "json_values", "max", "median",
	"min", "quantile", "rate", "rate_sum", "row_any", "row_max",
	"row_min", "stddev", "sum", "sum_len", "uniq_values", "values",
};

static int
need_quote(const char *s, size_t n)
{
	if (!is_word(s, n))
		return 1;
	for (size_t i = 0; i < ARRAY_LEN(reserved_words); i++)
		if (eq_nocase(s, n, reserved_words[i]))
			return 1;
	return 0;
}

static const char hexd[] = "0123456789abcdef";

static void
add_quoted(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	buf_addch(b, '"');
	while (i < n) {
		unsigned c = u[i];
		uint32_t cp;
		size_t k;

		switch (c) {
		case '"': buf_add(b, "\\\"", 2); i++; continue;
		case '\\': buf_add(b, "\\\\", 2); i++; continue;
		case '\a': buf_add(b, "\\a", 2); i++; continue;
		case '\b': buf_add(b, "\\b", 2); i++; continue;
		case '\f': buf_add(b, "\\f", 2); i++; continue;
		case '\n': buf_add(b, "\\n", 2); i++; continue;
		case '\r': buf_add(b, "\\r", 2); i++; continue;
		case '\t': buf_add(b, "\\t", 2); i++; continue;
		case '\v': buf_add(b, "\\v", 2); i++; continue;
		default: break;
		}
		if (c >= 0x20 && c < 0x7f) {
			buf_addch(b, (char)c);
			i++;
			continue;
		}
		k = c < 0x80 ? 0 : utf8_decode(u + i, n - i, &cp);
		if (k == 0) {
			char x[4] = { '\\', 'x', hexd[c >> 4], hexd[c & 15] };
			buf_add(b, x, 4);
			i++;
			continue;
		}
		if ((cp >= 0x80 && cp < 0xa0) || cp == 0xad ||
		    cp == 0x2028 || cp == 0x2029 || cp == 0xfeff)
			buf_addf(b, "\\u%04x", (unsigned)cp);
		else
			buf_add(b, s + i, k);
		i += k;
	}
	buf_addch(b, '"');
}

static void
add_token(struct buf *b, const char *s, size_t n)
{
	if (need_quote(s, n))
		add_quoted(b, s, n);
	else
		buf_add(b, s, n);
}

/* Text that reads back as one compound token (for the "as written" parts
 * of ranges and buckets): words and glue characters only. */
static int
bare_compound(const char *s, size_t n)
{
	size_t i = 0, k;
	int words = 0;

	if (n == 0)
		return 0;
	while (i < n) {
		if (lq_token_rune((const unsigned char *)s + i, n - i, &k)) {
			words++;
			i += k;
			continue;
		}
		if (strchr("+-/:.$", s[i]) == NULL || s[i] == '\0')
			return 0;
		i++;
	}
	return words > 0;
}

/* ---- lexer */

enum tk {
	TK_EOF = 0,
	TK_WORD,
	TK_QUOTED,
	TK_PUNCT,
};

struct tok {
	enum tk kind;
	size_t off, len;    /* raw text in the query */
	const char *val;    /* WORD, PUNCT: the raw text; QUOTED: unquoted */
	size_t vlen;
	int space;          /* whitespace (or a comment) before it */
};

struct parser {
	const char *q;
	size_t n;
	size_t pos;         /* just past cur */
	struct tok cur, prev;
	struct logsql_query *query;
	struct lq_arena *ar;
	struct buf scratch;
	char *err;
	size_t errlen;
	int failed;
};

struct pstate {
	size_t pos;
	struct tok cur, prev;
};

static void
save(const struct parser *p, struct pstate *st)
{
	st->pos = p->pos;
	st->cur = p->cur;
	st->prev = p->prev;
}

static void
restore(struct parser *p, const struct pstate *st)
{
	p->pos = st->pos;
	p->cur = st->cur;
	p->prev = st->prev;
}

static size_t
column_of(const struct parser *p, size_t off)
{
	size_t col = 1, i = 0;
	uint32_t cp;

	while (i < off && i < p->n) {
		size_t k = utf8_decode((const unsigned char *)p->q + i,
		    p->n - i, &cp);
		i += k ? k : 1;
		col++;
	}
	return col;
}

static void perr(struct parser *p, size_t off, const char *fmt, ...)
    AD_PRINTF(3, 4);

/* Only the first error counts: later ones follow from it. */
static void
perr(struct parser *p, size_t off, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	if (p->failed)
		return;
	p->failed = 1;
	buf_addf(&b, "column %zu: ", column_of(p, off));
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s", b.p);
	buf_release(&b);
}

/* A token for a message: "count", '|', end of query. */
static const char *
tokdesc(const struct parser *p, const struct tok *t, char *out, size_t outlen)
{
	struct buf b = BUF_INIT;
	size_t n;

	if (t->kind == TK_EOF) {
		snprintf(out, outlen, "end of query");
		return out;
	}
	n = t->len > 40 ? 40 : t->len;
	if (t->kind == TK_PUNCT) {
		buf_addch(&b, '\'');
		buf_add_escaped(&b, p->q + t->off, n);
		buf_addch(&b, '\'');
	} else if (t->kind == TK_QUOTED) {
		buf_add_escaped(&b, p->q + t->off, n);
	} else {
		buf_addch(&b, '"');
		buf_add_escaped(&b, p->q + t->off, n);
		buf_addch(&b, '"');
	}
	if (t->len > 40)
		buf_addstr(&b, "...");
	snprintf(out, outlen, "%s", b.p);
	buf_release(&b);
	return out;
}

static int
hexval(char c)
{
	c = lower_ascii(c);
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void
add_utf8(struct buf *b, uint32_t cp)
{
	char t[4];

	if (cp < 0x80) {
		buf_addch(b, (char)cp);
	} else if (cp < 0x800) {
		t[0] = (char)(0xc0 | (cp >> 6));
		t[1] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, t, 2);
	} else if (cp < 0x10000) {
		t[0] = (char)(0xe0 | (cp >> 12));
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[2] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, t, 3);
	} else {
		t[0] = (char)(0xf0 | (cp >> 18));
		t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		t[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[3] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, t, 4);
	}
}

/*
 * A quoted string at p->q[start] (its quote character there), Go syntax:
 * "..." and '...' with escapes, `...` raw.  The unquoted text goes to
 * p->scratch; returns the offset just past the closing quote, or 0.
 */
static size_t
lex_quoted(struct parser *p, size_t start)
{
	const char *q = p->q;
	char quote = q[start];
	size_t i = start + 1;
	uint32_t cp;

	buf_reset(&p->scratch);
	while (i < p->n) {
		unsigned char c = (unsigned char)q[i];
		if (c == (unsigned char)quote) {
			return i + 1;
		}
		if (quote == '`') {
			buf_addch(&p->scratch, (char)c);
			i++;
			continue;
		}
		if (c == '\n' && quote == '"') {
			perr(p, i, "newline inside a quoted string");
			return 0;
		}
		if (c != '\\') {
			size_t k = utf8_decode((const unsigned char *)q + i,
			    p->n - i, &cp);
			if (k == 0) {
				perr(p, i, "invalid UTF-8 inside a quoted string");
				return 0;
			}
			buf_add(&p->scratch, q + i, k);
			i += k;
			continue;
		}
		size_t esc = i;
		if (++i >= p->n)
			break;
		c = (unsigned char)q[i++];
		switch (c) {
		case 'a': buf_addch(&p->scratch, '\a'); continue;
		case 'b': buf_addch(&p->scratch, '\b'); continue;
		case 'f': buf_addch(&p->scratch, '\f'); continue;
		case 'n': buf_addch(&p->scratch, '\n'); continue;
		case 'r': buf_addch(&p->scratch, '\r'); continue;
		case 't': buf_addch(&p->scratch, '\t'); continue;
		case 'v': buf_addch(&p->scratch, '\v'); continue;
		case '\\': buf_addch(&p->scratch, '\\'); continue;
		default: break;
		}
		if (c == (unsigned char)quote) {
			buf_addch(&p->scratch, (char)c);
			continue;
		}
		if (c >= '0' && c <= '7') {
			unsigned v = c - '0';
			for (int d = 0; d < 2; d++) {
				if (i >= p->n || q[i] < '0' || q[i] > '7')
					goto bad;
				v = v * 8 + (unsigned)(q[i++] - '0');
			}
			if (v > 255)
				goto bad;
			buf_addch(&p->scratch, (char)v);
			continue;
		}
		if (c == 'x' || c == 'u' || c == 'U') {
			int nd = c == 'x' ? 2 : c == 'u' ? 4 : 8;
			uint32_t v = 0;
			for (int d = 0; d < nd; d++) {
				int h = i < p->n ? hexval(q[i]) : -1;
				if (h < 0)
					goto bad;
				v = (v << 4) | (uint32_t)h;
				i++;
			}
			if (c == 'x')
				buf_addch(&p->scratch, (char)v);
			else if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
				goto bad;
			else
				add_utf8(&p->scratch, v);
			continue;
		}
bad:
		perr(p, esc, "invalid escape sequence in a quoted string");
		return 0;
	}
	perr(p, start, "unterminated quoted string");
	return 0;
}

static void
next(struct parser *p)
{
	const char *q = p->q;
	size_t i = p->pos, k;
	uint32_t cp;
	struct tok t = { TK_EOF, 0, 0, "", 0, 0 };

	p->prev = p->cur;
	if (p->failed) {
		t.off = p->n;
		p->cur = t;
		return;
	}
	for (;;) {
		if (i >= p->n)
			break;
		if (q[i] == '#') {
			/* a comment, to the end of the line */
			while (i < p->n && q[i] != '\n')
				i++;
			t.space = 1;
			continue;
		}
		k = utf8_decode((const unsigned char *)q + i, p->n - i, &cp);
		if (k == 0) {
			perr(p, i, "invalid UTF-8 in the query");
			i = p->n;
			break;
		}
		if (!cp_is_space(cp))
			break;
		t.space = 1;
		i += k;
	}
	t.off = i;
	if (i >= p->n) {
		p->pos = p->n;
		p->cur = t;
		return;
	}
	if (q[i] == '\0') {
		perr(p, i, "NUL byte in the query");
		p->pos = p->n;
		t.off = p->n;
		p->cur = t;
		return;
	}
	if (lq_token_rune((const unsigned char *)q + i, p->n - i, &k)) {
		size_t j = i + k;
		while (j < p->n &&
		    lq_token_rune((const unsigned char *)q + j, p->n - j, &k))
			j += k;
		t.kind = TK_WORD;
		t.len = j - i;
		t.val = q + i;
		t.vlen = t.len;
		p->pos = j;
		p->cur = t;
		return;
	}
	if (q[i] == '"' || q[i] == '`' || q[i] == '\'') {
		size_t end = lex_quoted(p, i);
		if (end == 0) {
			t.off = p->n;
			p->pos = p->n;
			p->cur = t;
			return;
		}
		struct lq_str v = ar_str(p->ar, p->scratch.p, p->scratch.len);
		t.kind = TK_QUOTED;
		t.len = end - i;
		t.val = v.p;
		t.vlen = v.n;
		p->pos = end;
		p->cur = t;
		return;
	}
	t.kind = TK_PUNCT;
	t.val = q + i;
	if (i + 1 < p->n && ((q[i] == '=' && q[i + 1] == '~') ||
	    (q[i] == '!' && (q[i + 1] == '~' || q[i + 1] == '='))))
		t.len = 2;
	else {
		k = utf8_decode((const unsigned char *)q + i, p->n - i, &cp);
		t.len = k ? k : 1;
	}
	t.vlen = t.len;
	p->pos = i + t.len;
	p->cur = t;
}

/* An unquoted token equal to kw (lower case), any case. */
static int
is_kw(const struct tok *t, const char *kw)
{
	return (t->kind == TK_WORD || t->kind == TK_PUNCT) &&
	    eq_nocase(t->val, t->vlen, kw);
}

static int
is_punct(const struct tok *t, const char *s)
{
	return t->kind == TK_PUNCT && t->vlen == strlen(s) &&
	    memcmp(t->val, s, t->vlen) == 0;
}

/* End of a filter: '|', ')', ';' or the end. */
static int
is_trailer(const struct tok *t)
{
	return t->kind == TK_EOF || is_punct(t, "|") || is_punct(t, ")") ||
	    is_punct(t, ";");
}

static int
is_glue(const struct tok *t)
{
	return t->kind == TK_PUNCT && t->vlen == 1 &&
	    strchr("+-/:.$", t->val[0]) != NULL;
}

static void
expected(struct parser *p, const char *what)
{
	char d[96];

	perr(p, p->cur.off, "expected %s, got %s", what,
	    tokdesc(p, &p->cur, d, sizeof(d)));
}

/*
 * A value: a quoted string, or words and glue characters with nothing
 * between them (VictoriaLogs' compound token).  stop_colon: ':' ends it,
 * where a field name may be followed by its filter.
 */
static int
compound(struct parser *p, int stop_colon, struct lq_str *out,
    const char *what)
{
	struct tok *c = &p->cur;
	size_t start = c->off, end;

	if (p->failed)
		return -1;
	if (c->kind == TK_QUOTED) {
		out->p = (char *)c->val;
		out->n = c->vlen;
		next(p);
		return 0;
	}
	if (!c->space && p->prev.kind == TK_WORD && c->kind == TK_PUNCT &&
	    c->vlen == 1 && strchr("/.$", c->val[0]) != NULL) {
		char d1[96], d2[96];
		perr(p, c->off, "missing whitespace between %s and %s",
		    tokdesc(p, &p->prev, d1, sizeof(d1)),
		    tokdesc(p, c, d2, sizeof(d2)));
		return -1;
	}
#define ALLOWED(t) ((t)->kind == TK_WORD || (is_glue(t) && \
    !(stop_colon && (t)->val[0] == ':')))
	if (!ALLOWED(c)) {
		expected(p, what);
		return -1;
	}
	end = c->off + c->len;
	next(p);
	while (!p->failed && !c->space && ALLOWED(c)) {
		end = c->off + c->len;
		next(p);
	}
#undef ALLOWED
	if (p->failed)
		return -1;
	if (end - start == 1 && strchr("+-/:.$", p->q[start]) != NULL) {
		perr(p, start, "a lone '%c' is not a value; quote it",
		    p->q[start]);
		return -1;
	}
	*out = ar_str(p->ar, p->q + start, end - start);
	return 0;
}

/* ---- filters */

static struct lq_filter *parse_or(struct parser *p, const struct lq_str *field,
    int depth);
static struct lq_filter *parse_generic(struct parser *p,
    const struct lq_str *field, int depth);

static struct lq_filter *
node(struct parser *p, enum lq_op op, const struct lq_str *field)
{
	struct lq_filter *f = ar_alloc(p->ar, sizeof(*f));

	f->op = op;
	/* "" and "_msg" both mean the message: it is printed bare. */
	if (field != NULL && field->n != 0 &&
	    !(field->n == 4 && memcmp(field->p, "_msg", 4) == 0))
		f->field = *field;
	return f;
}

static struct lq_filter *
leaf(struct parser *p, enum lq_op op, const struct lq_str *field,
    struct lq_str value)
{
	struct lq_filter *f = node(p, op, field);

	f->value = value;
	return f;
}

/* Adds f to an AND or OR list, splicing in f's own list when it is the
 * same operator: a (b c) and a b c are one thing. */
static void
push_kid(struct parser *p, enum lq_op op, struct lq_filter ***kids,
    size_t *n, size_t *cap, struct lq_filter *f)
{
	if (f->op == op) {
		for (size_t i = 0; i < f->nkids; i++)
			push_kid(p, op, kids, n, cap, f->kids[i]);
		return;
	}
	*kids = ar_push(p->ar, *kids, n, cap, sizeof(**kids));
	(*kids)[*n - 1] = f;
}

static struct lq_filter *
parse_and(struct parser *p, const struct lq_str *field, int depth)
{
	struct lq_filter **kids = NULL, *f;
	size_t n = 0, cap = 0;

	for (;;) {
		f = parse_generic(p, field, depth);
		if (f == NULL)
			return NULL;
		push_kid(p, LQ_AND, &kids, &n, &cap, f);
		if (is_kw(&p->cur, "or") || is_trailer(&p->cur))
			break;
		if (is_kw(&p->cur, "and"))
			next(p);
	}
	if (n == 1)
		return kids[0];
	f = node(p, LQ_AND, NULL);
	f->kids = kids;
	f->nkids = n;
	return f;
}

static struct lq_filter *
parse_or(struct parser *p, const struct lq_str *field, int depth)
{
	struct lq_filter **kids = NULL, *f;
	size_t n = 0, cap = 0;

	for (;;) {
		f = parse_and(p, field, depth);
		if (f == NULL)
			return NULL;
		push_kid(p, LQ_OR, &kids, &n, &cap, f);
		if (is_trailer(&p->cur))
			break;
		next(p); /* "or": parse_and stops only there or at the end */
	}
	if (n == 1)
		return kids[0];
	f = node(p, LQ_OR, NULL);
	f->kids = kids;
	f->nkids = n;
	return f;
}

/* Values in parentheses: (a, "b", c). */
static int
parse_args(struct parser *p, struct lq_str **args, size_t *nargs,
    size_t max, const char *fname)
{
	size_t cap = 0;
	char what[64];

	*args = NULL;
	*nargs = 0;
	if (!is_punct(&p->cur, "(")) {
		snprintf(what, sizeof(what), "'(' after %s", fname);
		expected(p, what);
		return -1;
	}
	next(p);
	for (;;) {
		if (is_punct(&p->cur, ")"))
			break;
		if (*nargs >= max) {
			perr(p, p->cur.off, "too many values in %s() (at most %zu)",
			    fname, max);
			return -1;
		}
		struct lq_str v;
		snprintf(what, sizeof(what), "a value in %s()", fname);
		if (compound(p, 0, &v, what) != 0)
			return -1;
		*args = ar_push(p->ar, *args, nargs, &cap, sizeof(**args));
		(*args)[*nargs - 1] = v;
		if (is_punct(&p->cur, ")"))
			break;
		if (!is_punct(&p->cur, ",")) {
			snprintf(what, sizeof(what), "',' or ')' in %s()", fname);
			expected(p, what);
			return -1;
		}
		next(p);
	}
	next(p);
	return 0;
}

/* ---- regular expressions: RE2 syntax run by the C library (POSIX ERE) */

#define RE_COST_MAX 20000

/*
 * Rewrites an RE2 expression as POSIX ERE with GNU extensions (\b, \`,
 * \').  What has no equivalent is refused, never approximated.  The cost
 * estimate bounds what regcomp() will build: counted repetitions are
 * expanded by the C library, so (a{100}){100} is 10000 copies.
 */
static int
re_translate(const char *re, size_t n, struct buf *out, int *icase,
    char *err, size_t errlen)
{
	size_t i = 0;
	uint64_t cost[LOGSQL_MAX_DEPTH + 1], last = 0;
	int depth = 0, can_q = 0; /* a repetition may follow */

	*icase = 0;
	cost[0] = 0;
	if (n >= 4 && memcmp(re, "(?i)", 4) == 0) {
		*icase = 1;
		i = 4;
	}
	while (i < n) {
		unsigned char c = (unsigned char)re[i];
		if (c == '\0') {
			snprintf(err, errlen, "NUL byte in regexp");
			return -1;
		}
		if (c == '\\') {
			if (i + 1 >= n) {
				snprintf(err, errlen, "trailing backslash");
				return -1;
			}
			unsigned char e = (unsigned char)re[i + 1];
			i += 2;
			last = 1;
			cost[depth] += 1;
			can_q = 1;
			switch (e) {
			case 'd': buf_addstr(out, "[0-9]"); continue;
			case 'D': buf_addstr(out, "[^0-9]"); continue;
			case 'w': buf_addstr(out, "[0-9A-Za-z_]"); continue;
			case 'W': buf_addstr(out, "[^0-9A-Za-z_]"); continue;
			case 's': buf_addstr(out, "[[:space:]]"); continue;
			case 'S': buf_addstr(out, "[^[:space:]]"); continue;
			case 'b': buf_addstr(out, "\\b"); last = 0; can_q = 0;
				continue;
			case 'B': buf_addstr(out, "\\B"); last = 0; can_q = 0;
				continue;
			case 'A': buf_addstr(out, "\\`"); last = 0; can_q = 0;
				continue;
			case 'z': buf_addstr(out, "\\'"); last = 0; can_q = 0;
				continue;
			case 'n': buf_addch(out, '\n'); continue;
			case 't': buf_addch(out, '\t'); continue;
			case 'r': buf_addch(out, '\r'); continue;
			case 'f': buf_addch(out, '\f'); continue;
			case 'v': buf_addch(out, '\v'); continue;
			case 'a': buf_addch(out, '\a'); continue;
			default: break;
			}
			if (e == 'x' && i + 1 < n && hexval(re[i]) >= 0 &&
			    hexval(re[i + 1]) >= 0) {
				unsigned v = (unsigned)(hexval(re[i]) * 16 +
				    hexval(re[i + 1]));
				i += 2;
				if (v == 0) {
					snprintf(err, errlen, "NUL byte in regexp");
					return -1;
				}
				if (strchr(".[]()*+?{}|^$\\", (int)v) != NULL)
					buf_addch(out, '\\');
				buf_addch(out, (char)v);
				continue;
			}
			if (ascii_alnum(e) || e >= 0x80) {
				snprintf(err, errlen, "\\%c is not supported here",
				    e >= 0x80 ? '?' : e);
				return -1;
			}
			/* Escaped punctuation is the character itself. */
			if (strchr(".[]()*+?{}|^$\\", e) != NULL)
				buf_addch(out, '\\');
			buf_addch(out, (char)e);
			continue;
		}
		if (c == '[') {
			size_t j = i + 1;
			buf_addch(out, '[');
			if (j < n && re[j] == '^')
				buf_addch(out, re[j++]);
			if (j < n && re[j] == ']')
				buf_addch(out, re[j++]);
			while (j < n && re[j] != ']') {
				if (re[j] == '[' && j + 1 < n && re[j + 1] == ':') {
					const char *end = NULL;
					for (size_t m = j + 2; m + 1 < n; m++)
						if (re[m] == ':' && re[m + 1] == ']') {
							end = re + m + 2;
							break;
						}
					if (end == NULL) {
						snprintf(err, errlen,
						    "unterminated [: class");
						return -1;
					}
					buf_add(out, re + j, (size_t)(end - (re + j)));
					j = (size_t)(end - re);
					continue;
				}
				if (re[j] == '\\') {
					if (j + 1 >= n)
						break;
					char e = re[j + 1];
					j += 2;
					switch (e) {
					case 'd': buf_addstr(out, "0-9"); continue;
					case 'w': buf_addstr(out, "0-9A-Za-z_"); continue;
					case 's': buf_addstr(out, "[:space:]"); continue;
					case 'n': buf_addch(out, '\n'); continue;
					case 't': buf_addch(out, '\t'); continue;
					case 'r': buf_addch(out, '\r'); continue;
					case '\\': buf_addch(out, '\\'); continue;
					default: break;
					}
					if (ascii_alnum((unsigned char)e) ||
					    (unsigned char)e >= 0x80 || e == ']' ||
					    e == '^' || e == '-' || e == '[') {
						snprintf(err, errlen, "\\%c inside [...] "
						    "is not supported here",
						    (unsigned char)e >= 0x80 ? '?' : e);
						return -1;
					}
					buf_addch(out, e);
					continue;
				}
				if (re[j] == '\0') {
					snprintf(err, errlen, "NUL byte in regexp");
					return -1;
				}
				buf_addch(out, re[j++]);
			}
			if (j >= n) {
				snprintf(err, errlen, "missing ']'");
				return -1;
			}
			buf_addch(out, ']');
			i = j + 1;
			last = 1;
			cost[depth] += 1;
			can_q = 1;
			continue;
		}
		if (c == '(') {
			size_t skip = 1;
			if (i + 1 < n && re[i + 1] == '?') {
				if (i + 2 < n && re[i + 2] == ':')
					skip = 3;
				else if (i + 2 < n && (re[i + 2] == 'P' ||
				    re[i + 2] == '<')) {
					size_t m = i + 2;
					while (m < n && re[m] != '>')
						m++;
					if (m >= n) {
						snprintf(err, errlen,
						    "bad group name");
						return -1;
					}
					skip = m - i + 1;
				} else {
					snprintf(err, errlen, "(?%c...) is not "
					    "supported here", i + 2 < n ? re[i + 2] : ' ');
					return -1;
				}
			}
			if (depth >= LOGSQL_MAX_DEPTH) {
				snprintf(err, errlen, "groups nested too deep");
				return -1;
			}
			buf_addch(out, '(');
			cost[++depth] = 0;
			i += skip;
			can_q = 0;
			continue;
		}
		if (c == ')') {
			if (depth == 0) {
				snprintf(err, errlen, "unmatched ')'");
				return -1;
			}
			last = cost[depth] + 1;
			depth--;
			cost[depth] += last;
			buf_addch(out, ')');
			i++;
			can_q = 1;
			continue;
		}
		if (c == '*' || c == '+' || c == '?') {
			/* RE2 refuses "a**" and "*a"; the C library would copy
			 * the operand once per stacked operator. */
			if (!can_q) {
				snprintf(err, errlen, "missing argument to "
				    "repetition operator %c", c);
				return -1;
			}
			buf_addch(out, (char)c);
			i++;
			if (i < n && re[i] == '?')
				i++; /* lazy: same set of matches */
			if (c == '+') {
				/* a+ is built as a a* */
				cost[depth] += last;
				last *= 2;
			}
			can_q = 0;
			if (cost[depth] > RE_COST_MAX || last > RE_COST_MAX) {
				snprintf(err, errlen, "too complex");
				return -1;
			}
			continue;
		}
		if (c == '{') {
			size_t j = i + 1;
			uint64_t lo = 0, hi;
			int any = 0, comma = 0, hi_any = 0;
			while (j < n && re[j] >= '0' && re[j] <= '9' && lo < 100000) {
				lo = lo * 10 + (uint64_t)(re[j++] - '0');
				any = 1;
			}
			hi = lo;
			if (j < n && re[j] == ',') {
				comma = 1;
				j++;
				hi = 0;
				while (j < n && re[j] >= '0' && re[j] <= '9' &&
				    hi < 100000) {
					hi = hi * 10 + (uint64_t)(re[j++] - '0');
					hi_any = 1;
				}
				if (!hi_any)
					hi = lo + 1;
			}
			if (!any || j >= n || re[j] != '}') {
				/* Not a repetition: RE2 takes '{' literally. */
				buf_addstr(out, "\\{");
				i++;
				last = 1;
				cost[depth] += 1;
				can_q = 1;
				continue;
			}
			if (!can_q) {
				snprintf(err, errlen, "missing argument to "
				    "repetition operator {");
				return -1;
			}
			if (lo > 1000 || hi > 1000 || hi < lo) {
				snprintf(err, errlen, "bad repetition count");
				return -1;
			}
			buf_add(out, re + i, j - i + 1);
			(void)comma;
			i = j + 1;
			if (i < n && re[i] == '?')
				i++;
			uint64_t k = hi > 1 ? hi : 1;
			cost[depth] += last * (k - 1);
			last *= k;
			can_q = 0;
			if (cost[depth] > RE_COST_MAX || last > RE_COST_MAX) {
				snprintf(err, errlen, "too complex (counted "
				    "repetitions expand to over %d parts)",
				    RE_COST_MAX);
				return -1;
			}
			continue;
		}
		buf_addch(out, (char)c);
		i++;
		if (c != '^' && c != '$' && c != '|') {
			last = 1;
			cost[depth] += 1;
			can_q = 1;
		} else {
			last = 0;
			can_q = 0;
		}
		if (cost[depth] > RE_COST_MAX) {
			snprintf(err, errlen, "too complex");
			return -1;
		}
	}
	if (depth != 0) {
		snprintf(err, errlen, "missing ')'");
		return -1;
	}
	return 0;
}

static struct lq_filter *
make_regexp(struct parser *p, const struct lq_str *field, struct lq_str re,
    size_t off)
{
	struct buf ere = BUF_INIT;
	char why[160];
	int icase, rc;
	regex_t *r;

	if (re.n > LOGSQL_MAX_REGEXP) {
		perr(p, off, "regexp longer than %d bytes", LOGSQL_MAX_REGEXP);
		return NULL;
	}
	if (re_translate(re.p, re.n, &ere, &icase, why, sizeof(why)) != 0) {
		perr(p, off, "invalid regexp: %s", why);
		buf_release(&ere);
		return NULL;
	}
	r = xmalloc(sizeof(*r));
	rc = regcomp(r, ere.len ? ere.p : "()", REG_EXTENDED | REG_NOSUB |
	    (icase ? REG_ICASE : 0));
	buf_release(&ere);
	if (rc != 0) {
		regerror(rc, r, why, sizeof(why));
		free(r);
		perr(p, off, "invalid regexp: %s", why);
		return NULL;
	}
	struct logsql_query *q = p->query;
	if (q->nregexps == q->regexps_cap) {
		q->regexps_cap = q->regexps_cap ? q->regexps_cap * 2 : 4;
		q->regexps = xreallocarray(q->regexps, q->regexps_cap,
		    sizeof(*q->regexps));
	}
	q->regexps[q->nregexps++] = r;
	struct lq_filter *f = leaf(p, LQ_REGEXP, field, re);
	f->re = r;
	return f;
}

/* ---- _time */

struct tbound {
	enum lq_tkind kind;
	int64_t v;
};

static int64_t
sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

/* The bound moved later by delta ns. */
static void
tb_add(struct tbound *b, int64_t delta)
{
	if (b->kind == LQT_ABS)
		b->v = sat_add(b->v, delta);
	else if (b->kind == LQT_NOW)
		b->v = sat_add(b->v, -delta);
}

static int
dig_run(const char *s, size_t n, size_t i, size_t k, int *out)
{
	int v = 0;

	if (i + k > n)
		return -1;
	for (size_t j = i; j < i + k; j++) {
		if (s[j] < '0' || s[j] > '9')
			return -1;
		v = v * 10 + (s[j] - '0');
	}
	*out = v;
	return 0;
}

static int
mdays(int y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : d[m - 1];
}

/*
 * A time as VictoriaLogs reads one in a filter: RFC 3339, possibly cut
 * short ("2026", "2026-11-20", "2026-11-20T09"); without a zone, UTC.
 * *end_ns is the last nanosecond of the unit written: the end of a
 * day for "2026-11-20", as ']' and '<=' and a bare _time:T need.
 */
static int
parse_partial_time(const char *s, size_t n, int64_t *start_ns,
    int64_t *end_ns)
{
	int y, mo = 1, d = 1, h = 0, mi = 0, sec = 0, prec = 1;
	int64_t frac = 0, off = 0, secs, step = 0;
	size_t i = 4, fd = 0;

	if (dig_run(s, n, 0, 4, &y) != 0)
		return -1;
	if (i < n && s[i] == '-' && i + 1 < n && s[i + 1] >= '0' &&
	    s[i + 1] <= '9') {
		if (dig_run(s, n, i + 1, 2, &mo) != 0)
			return -1;
		i += 3;
		prec = 2;
		if (i < n && s[i] == '-') {
			if (dig_run(s, n, i + 1, 2, &d) != 0)
				return -1;
			i += 3;
			prec = 3;
			if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
				if (dig_run(s, n, i + 1, 2, &h) != 0)
					return -1;
				i += 3;
				prec = 4;
				if (i < n && s[i] == ':') {
					if (dig_run(s, n, i + 1, 2, &mi) != 0)
						return -1;
					i += 3;
					prec = 5;
					if (i < n && s[i] == ':') {
						if (dig_run(s, n, i + 1, 2, &sec) != 0)
							return -1;
						i += 3;
						prec = 6;
						if (i < n && s[i] == '.') {
							i++;
							while (i < n && s[i] >= '0' &&
							    s[i] <= '9') {
								if (fd < 9)
									frac = frac * 10 +
									    (s[i] - '0');
								fd++;
								i++;
							}
							if (fd == 0 || fd > 9)
								return -1;
							for (size_t z = fd; z < 9; z++)
								frac *= 10;
							prec = 7;
						}
					}
				}
			}
		}
	}
	if (i < n) {
		if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
			i++;
		} else if ((s[i] == '+' || s[i] == '-') && i + 6 == n &&
		    s[i + 3] == ':') {
			int oh, om;
			if (dig_run(s, n, i + 1, 2, &oh) != 0 ||
			    dig_run(s, n, i + 4, 2, &om) != 0 || oh > 23 ||
			    om > 59)
				return -1;
			off = (int64_t)(oh * 3600 + om * 60) * 1000000000LL;
			if (s[i] == '-')
				off = -off;
			i = n;
		} else
			return -1;
	}
	if (y < 1678 || y > 2261 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays(y, mo) || h > 23 || mi > 59 || sec > 60)
		return -1;
	secs = time_from_civil(y, mo, d, h, mi, sec);
	*start_ns = secs * 1000000000LL + frac - off;
	switch (prec) {
	case 1:
		step = (time_from_civil(y + 1, 1, 1, 0, 0, 0) - secs) *
		    1000000000LL;
		break;
	case 2:
		step = (time_from_civil(mo == 12 ? y + 1 : y,
		    mo == 12 ? 1 : mo + 1, 1, 0, 0, 0) - secs) * 1000000000LL;
		break;
	case 3: step = 86400LL * 1000000000LL; break;
	case 4: step = 3600LL * 1000000000LL; break;
	case 5: step = 60LL * 1000000000LL; break;
	case 6: step = 1000000000LL; break;
	default:
		step = fd == 3 ? 1000000 : fd == 6 ? 1000 : 1;
		break;
	}
	*end_ns = *start_ns + step - 1;
	return 0;
}

/* A time in a _time filter: see parse_partial_time, plus "now",
 * "now-1h" and Unix times ("1700000000", ".123" fractions). */
static int
parse_tval(struct lq_str s, struct tbound *start, struct tbound *end)
{
	int64_t a, b;

	if (eq_nocase(s.p, s.n, "now")) {
		start->kind = end->kind = LQT_NOW;
		start->v = end->v = 0;
		return 0;
	}
	if (s.n > 4 && eq_nocase(s.p, 4, "now-")) {
		struct span d = { s.p + 4, s.n - 4 };
		if (parse_duration(d, &a) != 0 || d.p[0] == ' ')
			return -1;
		start->kind = end->kind = LQT_NOW;
		start->v = end->v = a;
		return 0;
	}
	size_t nd = 0, dot = 0, fr = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] >= '0' && s.p[i] <= '9') {
			if (dot)
				fr++;
			else
				nd++;
		} else if (s.p[i] == '.' && !dot)
			dot = 1;
		else {
			nd = 0;
			break;
		}
	}
	if (nd > 0 && !(nd == 4 && !dot)) {
		struct span sp = { s.p, s.n };
		if (time_parse_epoch(sp, &a) != 0)
			return -1;
		if (dot)
			b = fr == 3 ? 1000000 : fr == 6 ? 1000 : 1;
		else
			b = nd <= 10 ? 1000000000LL : nd <= 13 ? 1000000 :
			    nd <= 16 ? 1000 : 1;
		start->kind = end->kind = LQT_ABS;
		start->v = a;
		end->v = a + b - 1;
		return 0;
	}
	if (parse_partial_time(s.p, s.n, &a, &b) != 0)
		return -1;
	start->kind = end->kind = LQT_ABS;
	start->v = a;
	end->v = b;
	return 0;
}

/* VictoriaLogs: a time when the token is "now" or starts with a year. */
static int
likely_time(const struct tok *t)
{
	if (is_kw(t, "now"))
		return 1;
	if (t->kind != TK_WORD || t->vlen < 4)
		return 0;
	for (int i = 0; i < 4; i++)
		if (t->val[i] < '0' || t->val[i] > '9')
			return 0;
	return t->vlen == 4 || t->val[4] == 'Z' || t->val[4] == 'z';
}

static void
repr_add(struct buf *b, struct lq_str s)
{
	if (bare_compound(s.p, s.n))
		buf_add(b, s.p, s.n);
	else
		add_quoted(b, s.p, s.n);
}

static int
parse_dur_tok(struct parser *p, int64_t *d, struct lq_str *s)
{
	size_t off = p->cur.off;
	struct span sp;
	int neg;

	if (compound(p, 0, s, "a duration (5m, 1h, 2d)") != 0)
		return -1;
	neg = s->n > 0 && s->p[0] == '-';
	sp.p = s->p + neg;
	sp.n = s->n - (size_t)neg;
	if (sp.n == 0 || sp.p[0] == ' ' || sp.p[sp.n - 1] == ' ' ||
	    parse_duration(sp, d) != 0) {
		perr(p, off, "expected a duration (5m, 1h, 2d), got \"%.*s\"",
		    (int)(s->n > 40 ? 40 : s->n), s->p);
		return -1;
	}
	if (neg)
		*d = -*d;
	return 0;
}

static int
parse_time_tok(struct parser *p, struct tbound *a, struct tbound *b,
    struct lq_str *s)
{
	size_t off = p->cur.off;

	if (compound(p, 0, s, "a time") != 0)
		return -1;
	if (parse_tval(*s, a, b) != 0) {
		perr(p, off, "expected a time (2026-11-20T09:00:00Z, now), "
		    "got \"%.*s\"", (int)(s->n > 40 ? 40 : s->n), s->p);
		return -1;
	}
	return 0;
}

/* After "_time:". */
static struct lq_filter *
parse_time_filter(struct parser *p)
{
	struct lq_filter *f = node(p, LQ_TIME, NULL);
	struct tbound lo = { LQT_OPEN, 0 }, hi = { LQT_OPEN, 0 }, a, b;
	struct buf r = BUF_INIT;
	struct lq_str s;
	int64_t d;

	if (is_kw(&p->cur, "offset")) {
		hi.kind = LQT_NOW;
	} else if (is_punct(&p->cur, ">") || is_punct(&p->cur, "<")) {
		int gt = p->cur.val[0] == '>', eq = 0;
		next(p);
		if (is_punct(&p->cur, "=")) {
			eq = 1;
			next(p);
		}
		buf_addstr(&r, gt ? (eq ? ">=" : ">") : (eq ? "<=" : "<"));
		if (likely_time(&p->cur)) {
			if (parse_time_tok(p, &a, &b, &s) != 0)
				goto fail;
			if (gt) {
				lo = a;
				if (!eq)
					tb_add(&lo, 1);
			} else if (eq)
				hi = b;
			else {
				hi = a;
				tb_add(&hi, -1);
			}
		} else {
			if (parse_dur_tok(p, &d, &s) != 0)
				goto fail;
			if (d < 0)
				d = -d;
			if (gt) {
				/* older than d */
				hi.kind = LQT_NOW;
				hi.v = eq ? d : sat_add(d, 1);
			} else {
				lo.kind = LQT_NOW;
				lo.v = eq ? d : d - 1;
				hi.kind = LQT_NOW;
				hi.v = 1;
			}
		}
		repr_add(&r, s);
	} else if (is_punct(&p->cur, "[") || is_punct(&p->cur, "(")) {
		int incl_lo = p->cur.val[0] == '[', incl_hi;
		struct lq_str s2;
		next(p);
		if (parse_time_tok(p, &lo, &b, &s) != 0)
			goto fail;
		if (!is_punct(&p->cur, ",")) {
			expected(p, "',' between the two times of _time:[a, b)");
			goto fail;
		}
		next(p);
		if (parse_time_tok(p, &a, &hi, &s2) != 0)
			goto fail;
		if (!is_punct(&p->cur, "]") && !is_punct(&p->cur, ")")) {
			expected(p, "']' or ')' closing the _time range");
			goto fail;
		}
		incl_hi = p->cur.val[0] == ']';
		next(p);
		if (!incl_lo)
			tb_add(&lo, 1);
		if (!incl_hi) {
			hi = a;
			tb_add(&hi, -1);
		}
		buf_addch(&r, incl_lo ? '[' : '(');
		repr_add(&r, s);
		buf_addch(&r, ',');
		repr_add(&r, s2);
		buf_addch(&r, incl_hi ? ']' : ')');
	} else {
		if (is_punct(&p->cur, "=")) {
			next(p);
			buf_addch(&r, '=');
		}
		if (likely_time(&p->cur)) {
			if (parse_time_tok(p, &lo, &hi, &s) != 0)
				goto fail;
		} else {
			if (parse_dur_tok(p, &d, &s) != 0)
				goto fail;
			if (d < 0)
				d = -d;
			lo.kind = LQT_NOW;
			lo.v = d;
			hi.kind = LQT_NOW;
			hi.v = 1;
		}
		repr_add(&r, s);
	}
	if (is_kw(&p->cur, "offset")) {
		next(p);
		if (parse_dur_tok(p, &d, &s) != 0)
			goto fail;
		f->t.offset = d;
		if (r.len)
			buf_addch(&r, ' ');
		buf_addstr(&r, "offset ");
		repr_add(&r, s);
	}
	f->t.lo_kind = lo.kind;
	f->t.lo = lo.v;
	f->t.hi_kind = hi.kind;
	f->t.hi = hi.v;
	f->repr = ar_str(p->ar, r.p, r.len);
	buf_release(&r);
	return f;
fail:
	buf_release(&r);
	return NULL;
}

/* ---- the filter kinds */

static struct lq_filter *
parse_phrase(struct parser *p, const struct lq_str *field, int depth)
{
	struct lq_str s;
	size_t off = p->cur.off;

	if (compound(p, field == NULL, &s, "a filter") != 0)
		return NULL;
	if (!p->cur.space && is_punct(&p->cur, "*")) {
		next(p);
		if (field == NULL && is_punct(&p->cur, ":")) {
			perr(p, off, "wildcard field names (%.*s*:) are not "
			    "supported", (int)(s.n > 40 ? 40 : s.n), s.p);
			return NULL;
		}
		return leaf(p, LQ_PREFIX, field, s);
	}
	if (field == NULL && is_punct(&p->cur, ":")) {
		next(p);
		if (s.n == 5 && memcmp(s.p, "_time", 5) == 0)
			return parse_time_filter(p);
		if ((s.n == 7 && memcmp(s.p, "_stream", 7) == 0) ||
		    (s.n == 10 && memcmp(s.p, "_stream_id", 10) == 0)) {
			perr(p, off, "stream filters are not supported");
			return NULL;
		}
		if (s.n == 0)
			s = ar_str(p->ar, "_msg", 4);
		return parse_generic(p, &s, depth + 1);
	}
	return leaf(p, LQ_PHRASE, field, s);
}

static struct lq_filter *
parse_star(struct parser *p, const struct lq_str *field)
{
	struct lq_str s;

	next(p);
	if (field == NULL && is_punct(&p->cur, ":")) {
		perr(p, p->prev.off, "wildcard field names (*:) are not "
		    "supported");
		return NULL;
	}
	if (p->cur.space || is_trailer(&p->cur)) {
		if (field == NULL)
			return node(p, LQ_ALL, NULL);
		return leaf(p, LQ_PREFIX, field, ar_str(p->ar, "", 0));
	}
	if (compound(p, 0, &s, "a substring after '*'") != 0)
		return NULL;
	if (p->cur.space || !is_punct(&p->cur, "*")) {
		expected(p, "'*' closing *substring*");
		return NULL;
	}
	next(p);
	if (!p->cur.space && !is_trailer(&p->cur)) {
		expected(p, "whitespace after *substring*");
		return NULL;
	}
	return leaf(p, LQ_SUBSTR, field, s);
}

static int
no_space_op(struct parser *p, const struct lq_str *field, const char *op,
    size_t opoff)
{
	if (field == NULL && p->cur.space) {
		perr(p, opoff, "missing ':' before '%s': LogsQL writes "
		    "field:%svalue", op, op);
		return -1;
	}
	return 0;
}

static struct lq_filter *
parse_cmp(struct parser *p, const struct lq_str *field)
{
	int gt = p->cur.val[0] == '>', incl = 0;
	size_t opoff = p->cur.off, off;
	struct lq_str s;
	struct buf r = BUF_INIT;
	double v;
	char op[3];

	next(p);
	if (!p->cur.space && is_punct(&p->cur, "=")) {
		next(p);
		incl = 1;
	}
	snprintf(op, sizeof(op), "%c%s", gt ? '>' : '<', incl ? "=" : "");
	if (no_space_op(p, field, op, opoff) != 0)
		return NULL;
	off = p->cur.off;
	if (compound(p, 0, &s, "a number") != 0)
		return NULL;
	if (lq_parse_number((struct span){ s.p, s.n }, &v) != 0) {
		perr(p, off, "expected a number after '%s', got \"%.*s\"", op,
		    (int)(s.n > 40 ? 40 : s.n), s.p);
		return NULL;
	}
	struct lq_filter *f = node(p, LQ_RANGE, field);
	if (gt) {
		f->lo = incl ? v : nextafter(v, INFINITY);
		f->hi = INFINITY;
	} else {
		f->lo = -INFINITY;
		f->hi = incl ? v : nextafter(v, -INFINITY);
	}
	buf_addstr(&r, op);
	repr_add(&r, s);
	f->repr = ar_str(p->ar, r.p, r.len);
	buf_release(&r);
	return f;
}

static struct lq_filter *
parse_eq(struct parser *p, const struct lq_str *field)
{
	int neg = is_punct(&p->cur, "!=");
	size_t opoff = p->cur.off;
	struct lq_str s;
	struct lq_filter *f;

	struct tok before = p->prev;
	next(p);
	if (field == NULL && p->cur.space) {
		/* "foo = bar": old VictoriaLogs syntax, refused by new ones. */
		const char *w = "field";
		int wn = 5;
		if (before.kind == TK_WORD) {
			w = p->q + before.off;
			wn = (int)(before.len > 40 ? 40 : before.len);
		}
		const char *v = "value";
		int vn = 5;
		if (p->cur.kind == TK_WORD || p->cur.kind == TK_QUOTED) {
			v = p->q + p->cur.off;
			vn = (int)(p->cur.len > 40 ? 40 : p->cur.len);
		}
		perr(p, opoff, "'%s' with spaces around it is not LogsQL: "
		    "write %.*s:%s%.*s", neg ? "!=" : "=", wn, w,
		    neg ? "!=" : "=", vn, v);
		return NULL;
	}
	if (compound(p, 0, &s, "a value after '='") != 0)
		return NULL;
	if (!p->cur.space && is_punct(&p->cur, "*")) {
		next(p);
		f = leaf(p, LQ_EXACT_PREFIX, field, s);
	} else
		f = leaf(p, LQ_EXACT, field, s);
	if (neg) {
		struct lq_filter *n = node(p, LQ_NOT, NULL);
		n->kids = ar_alloc(p->ar, sizeof(*n->kids));
		n->kids[0] = f;
		n->nkids = 1;
		f = n;
	}
	return f;
}

static struct lq_filter *
wrap_not(struct parser *p, struct lq_filter *f)
{
	struct lq_filter *n;

	if (f == NULL)
		return NULL;
	if (f->op == LQ_NOT)
		return f->kids[0];
	n = node(p, LQ_NOT, NULL);
	n->kids = ar_alloc(p->ar, sizeof(*n->kids));
	n->kids[0] = f;
	n->nkids = 1;
	return n;
}

static struct lq_filter *
parse_tilde(struct parser *p, const struct lq_str *field)
{
	int neg = is_punct(&p->cur, "!~");
	size_t opoff = p->cur.off, off;
	struct lq_str s;

	next(p);
	if (is_punct(&p->cur, "-")) {
		perr(p, p->cur.off, "a regexp starting with '-' must be quoted");
		return NULL;
	}
	if (no_space_op(p, field, neg ? "!~" : "~", opoff) != 0)
		return NULL;
	off = p->cur.off;
	if (compound(p, 0, &s, "a regexp") != 0)
		return NULL;
	struct lq_filter *f = make_regexp(p, field, s, off);
	return neg ? wrap_not(p, f) : f;
}

/* i(word), i(prefix*), exact(v), exact(v*): one argument, maybe with a
 * trailing '*'. */
static int
parse_arg_maybe_prefix(struct parser *p, const char *fname,
    struct lq_str *arg, int *wild)
{
	char what[64];

	next(p); /* '(' */
	*wild = 0;
	if (is_punct(&p->cur, "*")) {
		next(p);
		*arg = ar_str(p->ar, "", 0);
		*wild = 1;
	} else {
		snprintf(what, sizeof(what), "a value in %s()", fname);
		if (compound(p, 0, arg, what) != 0)
			return -1;
		if (!p->cur.space && is_punct(&p->cur, "*")) {
			next(p);
			*wild = 1;
		}
	}
	if (!is_punct(&p->cur, ")")) {
		snprintf(what, sizeof(what), "')' closing %s(", fname);
		expected(p, what);
		return -1;
	}
	next(p);
	return 0;
}

static struct lq_filter *
parse_generic(struct parser *p, const struct lq_str *field, int depth)
{
	struct tok *c = &p->cur;
	struct pstate st;
	char d1[96], d2[96];

	if (p->failed)
		return NULL;
	if (depth > LOGSQL_MAX_DEPTH) {
		perr(p, c->off, "filters nested deeper than %d",
		    LOGSQL_MAX_DEPTH);
		return NULL;
	}
	if (c->kind == TK_EOF) {
		expected(p, "a filter");
		return NULL;
	}
	/* Two things glued together that are not one value. */
	if (!c->space && p->prev.kind != TK_EOF) {
		const struct tok *pv = &p->prev;
		int ok = is_punct(pv, "|") || is_punct(pv, ":") ||
		    is_punct(pv, "(") || is_punct(pv, "!") ||
		    is_punct(pv, "-");
		if (!ok && is_punct(c, "("))
			ok = is_kw(pv, "not") || is_kw(pv, "and") ||
			    is_kw(pv, "or");
		if (!ok) {
			if (pv->kind == TK_WORD && (is_punct(c, "=") ||
			    is_punct(c, "!=")))
				perr(p, c->off, "\"%.*s%.*s...\" is not LogsQL: "
				    "write %.*s:%.*svalue",
				    (int)(pv->len > 40 ? 40 : pv->len),
				    p->q + pv->off, (int)c->len, c->val,
				    (int)(pv->len > 40 ? 40 : pv->len),
				    p->q + pv->off, (int)c->len, c->val);
			else
				perr(p, c->off, "missing whitespace or ':' "
				    "between %s and %s",
				    tokdesc(p, pv, d1, sizeof(d1)),
				    tokdesc(p, c, d2, sizeof(d2)));
			return NULL;
		}
	}
	if (c->kind == TK_PUNCT) {
		if (is_punct(c, "*"))
			return parse_star(p, field);
		if (is_punct(c, "(")) {
			size_t open = c->off;
			next(p);
			struct lq_filter *f = parse_or(p, field, depth + 1);
			if (f == NULL)
				return NULL;
			if (!is_punct(&p->cur, ")")) {
				char what[64];
				snprintf(what, sizeof(what), "')' closing the "
				    "'(' at column %zu", column_of(p, open));
				expected(p, what);
				return NULL;
			}
			next(p);
			return f;
		}
		if (is_punct(c, ">") || is_punct(c, "<"))
			return parse_cmp(p, field);
		if (is_punct(c, "=") || is_punct(c, "!="))
			return parse_eq(p, field);
		if (is_punct(c, "~") || is_punct(c, "!~"))
			return parse_tilde(p, field);
		if (is_punct(c, "!") || is_punct(c, "-")) {
			next(p);
			return wrap_not(p, parse_generic(p, field, depth + 1));
		}
		if (is_punct(c, "{")) {
			perr(p, c->off, "stream filters ({...}) are not "
			    "supported");
			return NULL;
		}
		if (!is_glue(c)) {
			expected(p, "a filter");
			return NULL;
		}
		return parse_phrase(p, field, depth);
	}
	if (c->kind != TK_WORD)
		return parse_phrase(p, field, depth);
	if (is_kw(c, "not")) {
		next(p);
		return wrap_not(p, parse_generic(p, field, depth + 1));
	}
	if (is_kw(c, "and") || is_kw(c, "or")) {
		expected(p, "a filter (quote \"and\", \"or\" to search for them)");
		return NULL;
	}
	save(p, &st);
	if (is_kw(c, "i") || is_kw(c, "exact")) {
		int icase = is_kw(c, "i"), wild;
		struct lq_str a;
		next(p);
		if (!is_punct(&p->cur, "(")) {
			restore(p, &st);
			return parse_phrase(p, field, depth);
		}
		if (parse_arg_maybe_prefix(p, icase ? "i" : "exact", &a,
		    &wild) != 0)
			return NULL;
		if (icase) {
			for (size_t i = 0; i < a.n; i++)
				a.p[i] = lower_ascii(a.p[i]);
			return leaf(p, wild ? LQ_IPREFIX : LQ_IPHRASE, field, a);
		}
		return leaf(p, wild ? LQ_EXACT_PREFIX : LQ_EXACT, field, a);
	}
	if (is_kw(c, "in")) {
		struct lq_filter *f;
		next(p);
		if (!is_punct(&p->cur, "(")) {
			perr(p, st.cur.off, "\"in\" must be followed by '(' "
			    "(quote it to search for the word)");
			return NULL;
		}
		f = node(p, LQ_IN, field);
		/* '*' and subqueries are VictoriaLogs features we lack */
		{
			struct pstate st2;
			save(p, &st2);
			next(p);
			if (is_punct(&p->cur, "*") || is_punct(&p->cur, "(")) {
				perr(p, p->cur.off, "in(%s) is not supported",
				    is_punct(&p->cur, "*") ? "*" : "subquery");
				return NULL;
			}
			restore(p, &st2);
		}
		if (parse_args(p, &f->vals, &f->nvals, LOGSQL_MAX_VALUES,
		    "in") != 0)
			return NULL;
		return f;
	}
	if (is_kw(c, "ipv4_range") || is_kw(c, "re")) {
		int ip = is_kw(c, "ipv4_range");
		struct lq_str *args;
		size_t nargs, off;
		next(p);
		if (!is_punct(&p->cur, "(")) {
			restore(p, &st);
			return parse_phrase(p, field, depth);
		}
		off = p->cur.off;
		if (parse_args(p, &args, &nargs, 2, ip ? "ipv4_range" : "re")
		    != 0)
			return NULL;
		if (!ip) {
			if (nargs != 1) {
				perr(p, off, "re() takes one regexp");
				return NULL;
			}
			return make_regexp(p, field, args[0], off);
		}
		struct lq_filter *f = node(p, LQ_IPV4_RANGE, field);
		uint32_t a, b;
		if (nargs == 1) {
			struct span sp = { args[0].p, args[0].n };
			const char *slash = memchr(sp.p, '/', sp.n);
			unsigned bits = 32;
			if (slash != NULL) {
				uint64_t m;
				struct span ms = { slash + 1,
				    sp.n - (size_t)(slash + 1 - sp.p) };
				sp.n = (size_t)(slash - sp.p);
				if (parse_u64(ms, &m) != 0 || m > 32) {
					perr(p, off, "bad prefix length in "
					    "ipv4_range(\"%.*s\")",
					    (int)(args[0].n > 40 ? 40 : args[0].n),
					    args[0].p);
					return NULL;
				}
				bits = (unsigned)m;
			}
			if (lq_parse_ipv4(sp, &a) != 0) {
				perr(p, off, "ipv4_range() wants an IPv4 address "
				    "or CIDR, got \"%.*s\"",
				    (int)(args[0].n > 40 ? 40 : args[0].n),
				    args[0].p);
				return NULL;
			}
			uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
			f->ip_lo = a & mask;
			f->ip_hi = a | ~mask;
		} else if (nargs == 2) {
			if (lq_parse_ipv4((struct span){ args[0].p, args[0].n },
			    &a) != 0 || lq_parse_ipv4((struct span){ args[1].p,
			    args[1].n }, &b) != 0) {
				perr(p, off, "ipv4_range(lo, hi) wants two IPv4 "
				    "addresses");
				return NULL;
			}
			f->ip_lo = a;
			f->ip_hi = b;
		} else {
			perr(p, off, "ipv4_range() takes a CIDR or two addresses");
			return NULL;
		}
		return f;
	}
	if (is_kw(c, "range")) {
		struct lq_str a, b;
		double va, vb;
		int incl_lo, incl_hi;
		struct buf r = BUF_INIT;
		size_t off;
		next(p);
		if (!is_punct(&p->cur, "[") && !is_punct(&p->cur, "(")) {
			restore(p, &st);
			return parse_phrase(p, field, depth);
		}
		incl_lo = p->cur.val[0] == '[';
		next(p);
		off = p->cur.off;
		if (compound(p, 0, &a, "a number in range()") != 0)
			return NULL;
		if (lq_parse_number((struct span){ a.p, a.n }, &va) != 0) {
			perr(p, off, "expected a number in range(), got \"%.*s\"",
			    (int)(a.n > 40 ? 40 : a.n), a.p);
			return NULL;
		}
		if (!is_punct(&p->cur, ",")) {
			expected(p, "',' in range()");
			return NULL;
		}
		next(p);
		off = p->cur.off;
		if (compound(p, 0, &b, "a number in range()") != 0)
			return NULL;
		if (lq_parse_number((struct span){ b.p, b.n }, &vb) != 0) {
			perr(p, off, "expected a number in range(), got \"%.*s\"",
			    (int)(b.n > 40 ? 40 : b.n), b.p);
			return NULL;
		}
		if (!is_punct(&p->cur, ")") && !is_punct(&p->cur, "]")) {
			expected(p, "')' or ']' closing range()");
			return NULL;
		}
		incl_hi = p->cur.val[0] == ']';
		next(p);
		struct lq_filter *f = node(p, LQ_RANGE, field);
		f->lo = incl_lo ? va : nextafter(va, INFINITY);
		f->hi = incl_hi ? vb : nextafter(vb, -INFINITY);
		buf_addstr(&r, "range");
		buf_addch(&r, incl_lo ? '[' : '(');
		repr_add(&r, a);
		buf_addstr(&r, ", ");
		repr_add(&r, b);
		buf_addch(&r, incl_hi ? ']' : ')');
		f->repr = ar_str(p->ar, r.p, r.len);
		buf_release(&r);
		return f;
	}
	if (field == NULL && is_kw(c, "_time")) {
		next(p);
		if (is_punct(&p->cur, ":")) {
			next(p);
			return parse_time_filter(p);
		}
		restore(p, &st);
	}
	return parse_phrase(p, field, depth);
}

/* ---- pipes */

static const char *const stat_names[] = {
	[LQS_COUNT] = "count", [LQS_COUNT_UNIQ] = "count_uniq",
	[LQS_SUM] = "sum", [LQS_MIN] = "min", [LQS_MAX] = "max",
	[LQS_AVG] = "avg", [LQS_QUANTILE] = "quantile",
};

static int
stat_lookup(const struct tok *t)
{
	if (t->kind != TK_WORD)
		return 0;
	for (int i = LQS_COUNT; i <= LQS_QUANTILE; i++)
		if (eq_nocase(t->val, t->vlen, stat_names[i]))
			return i;
	return 0;
}

static void print_filter(const struct lq_filter *f, struct buf *b);

static void
print_func(const struct lq_stat *st, struct buf *b)
{
	buf_addstr(b, stat_names[st->fn]);
	buf_addch(b, '(');
	if (st->fn == LQS_QUANTILE) {
		buf_add(b, st->phi_repr.p, st->phi_repr.n);
		if (st->nfields)
			buf_addstr(b, ", ");
	} else if (st->fn == LQS_COUNT && st->nfields == 0)
		buf_addch(b, '*');
	for (size_t i = 0; i < st->nfields; i++) {
		if (i)
			buf_addstr(b, ", ");
		add_token(b, st->fields[i].p, st->fields[i].n);
	}
	buf_addch(b, ')');
	if (st->iff != NULL) {
		buf_addstr(b, " if (");
		print_filter(st->iff, b);
		buf_addch(b, ')');
	}
}

/* Field names in a list: a, "b c", d. */
static int
parse_name_list(struct parser *p, int parens, struct lq_str **out,
    size_t *n, size_t max, const char *what)
{
	size_t cap = 0;
	char w[80];

	*out = NULL;
	*n = 0;
	if (parens) {
		if (!is_punct(&p->cur, "(")) {
			snprintf(w, sizeof(w), "'(' starting %s", what);
			expected(p, w);
			return -1;
		}
		next(p);
	}
	for (;;) {
		if (parens && is_punct(&p->cur, ")"))
			break;
		if (*n >= max) {
			perr(p, p->cur.off, "too many names in %s (at most %zu)",
			    what, max);
			return -1;
		}
		if (is_punct(&p->cur, "*")) {
			perr(p, p->cur.off, "'*' in %s is not supported: name "
			    "the fields", what);
			return -1;
		}
		struct lq_str s;
		snprintf(w, sizeof(w), "a field name in %s", what);
		if (compound(p, 0, &s, w) != 0)
			return -1;
		if (!p->cur.space && is_punct(&p->cur, "*")) {
			perr(p, p->cur.off, "wildcards in %s are not supported",
			    what);
			return -1;
		}
		*out = ar_push(p->ar, *out, n, &cap, sizeof(**out));
		(*out)[*n - 1] = s;
		if (parens && is_punct(&p->cur, ")"))
			break;
		if (!is_punct(&p->cur, ",")) {
			if (!parens)
				break;
			snprintf(w, sizeof(w), "',' or ')' in %s", what);
			expected(p, w);
			return -1;
		}
		next(p);
	}
	if (parens)
		next(p);
	if (*n == 0) {
		snprintf(w, sizeof(w), "a field name in %s", what);
		expected(p, w);
		return -1;
	}
	return 0;
}

static int
parse_count(struct parser *p, uint64_t *out, const char *what)
{
	struct lq_str s;
	size_t off = p->cur.off;
	double v;

	if (compound(p, 0, &s, what) != 0)
		return -1;
	if (lq_parse_number((struct span){ s.p, s.n }, &v) != 0 || !(v >= 0) ||
	    v > 9007199254740992.0 || v != floor(v)) {
		perr(p, off, "expected %s, got \"%.*s\"", what,
		    (int)(s.n > 40 ? 40 : s.n), s.p);
		return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

static int
starts_number(const struct tok *t)
{
	return t->kind == TK_WORD && t->val[0] >= '0' && t->val[0] <= '9';
}

static int
parse_by(struct parser *p, struct lq_pipe *pp)
{
	size_t cap = 0;

	next(p); /* '(' */
	for (;;) {
		if (is_punct(&p->cur, ")"))
			break;
		if (pp->nby >= LOGSQL_MAX_BY) {
			perr(p, p->cur.off, "more than %d by-fields",
			    LOGSQL_MAX_BY);
			return -1;
		}
		struct lq_by by;
		memset(&by, 0, sizeof(by));
		if (compound(p, 1, &by.field, "a field name in the by-list")
		    != 0)
			return -1;
		if (is_punct(&p->cur, ":")) {
			size_t off;
			int is_time = by.field.n == 5 &&
			    memcmp(by.field.p, "_time", 5) == 0;
			next(p);
			off = p->cur.off;
			if (compound(p, 0, &by.repr, "a bucket size") != 0)
				return -1;
			struct span b = { by.repr.p, by.repr.n };
			static const struct {
				const char *name;
				int64_t ns;
			} named[] = {
				{ "nanosecond", 1 }, { "microsecond", 1000 },
				{ "millisecond", 1000000 },
				{ "second", 1000000000LL },
				{ "minute", 60000000000LL },
				{ "hour", 3600000000000LL },
				{ "day", 86400000000000LL },
				{ "week", 604800000000000LL },
			};
			double v;
			if (is_time) {
				by.bucket = LQB_TIME;
				for (size_t i = 0; i < ARRAY_LEN(named); i++)
					if (span_eq_str(b, named[i].name))
						by.step_ns = named[i].ns;
				if (by.step_ns == 0 && (parse_duration(b,
				    &by.step_ns) != 0 || b.p[0] == ' ' ||
				    by.step_ns <= 0)) {
					perr(p, off, "expected a time bucket (1m, "
					    "1h, day), got \"%.*s\"",
					    (int)(b.n > 40 ? 40 : b.n), b.p);
					return -1;
				}
			} else if (b.n > 1 && b.p[0] == '/') {
				uint64_t m;
				struct span ms = { b.p + 1, b.n - 1 };
				if (parse_u64(ms, &m) != 0 || m > 32) {
					perr(p, off, "expected an IPv4 prefix "
					    "length /0../32, got \"%.*s\"",
					    (int)(b.n > 40 ? 40 : b.n), b.p);
					return -1;
				}
				by.bucket = LQB_IPV4;
				by.mask = (unsigned)m;
			} else if (lq_parse_number(b, &v) == 0 && v > 0 &&
			    isfinite(v)) {
				by.bucket = LQB_NUM;
				by.step = v;
			} else {
				perr(p, off, "expected a bucket size, got \"%.*s\"",
				    (int)(b.n > 40 ? 40 : b.n), b.p);
				return -1;
			}
			if (is_kw(&p->cur, "offset")) {
				next(p);
				off = p->cur.off;
				if (compound(p, 0, &by.offset_repr,
				    "a bucket offset") != 0)
					return -1;
				struct span o = { by.offset_repr.p,
				    by.offset_repr.n };
				int neg = o.n > 0 && o.p[0] == '-';
				struct span oa = { o.p + neg, o.n - (size_t)neg };
				if (by.bucket == LQB_TIME && oa.n > 0 &&
				    oa.p[0] != ' ' &&
				    parse_duration(oa, &by.offset_ns) == 0) {
					if (neg)
						by.offset_ns = -by.offset_ns;
				} else if (by.bucket == LQB_NUM &&
				    lq_parse_number(o, &by.offset) == 0 &&
				    isfinite(by.offset)) {
					/* fine */
				} else {
					perr(p, off, "bad bucket offset \"%.*s\"",
					    (int)(o.n > 40 ? 40 : o.n), o.p);
					return -1;
				}
			}
		}
		pp->by = ar_push(p->ar, pp->by, &pp->nby, &cap, sizeof(*pp->by));
		pp->by[pp->nby - 1] = by;
		if (is_punct(&p->cur, ")"))
			break;
		if (!is_punct(&p->cur, ",")) {
			expected(p, "',' or ')' in the by-list");
			return -1;
		}
		next(p);
	}
	next(p);
	return 0;
}

static int
parse_stat(struct parser *p, struct lq_stat *st)
{
	struct lq_str *args = NULL;
	size_t nargs = 0, cap = 0, off = p->cur.off;
	struct buf nm = BUF_INIT;
	char d[96];

	memset(st, 0, sizeof(*st));
	st->fn = stat_lookup(&p->cur);
	if (st->fn == 0) {
		if (p->cur.kind == TK_WORD)
			perr(p, off, "unknown or unsupported stats function %s; "
			    "supported: count, count_uniq, sum, min, max, avg, "
			    "quantile", tokdesc(p, &p->cur, d, sizeof(d)));
		else
			expected(p, "a stats function (count(), sum(f)...)");
		return -1;
	}
	next(p);
	if (!is_punct(&p->cur, "(")) {
		char w[48];
		snprintf(w, sizeof(w), "'(' after %s", stat_names[st->fn]);
		expected(p, w);
		return -1;
	}
	next(p);
	for (;;) {
		if (is_punct(&p->cur, ")"))
			break;
		if (nargs >= LOGSQL_MAX_FUNC_FIELDS + 1) {
			perr(p, p->cur.off, "too many arguments");
			return -1;
		}
		struct lq_str a;
		if (is_punct(&p->cur, "*")) {
			a = ar_str(p->ar, "*", 1);
			next(p);
		} else {
			if (compound(p, 0, &a, "a field name") != 0)
				return -1;
			if (!p->cur.space && is_punct(&p->cur, "*")) {
				perr(p, p->cur.off, "field wildcards are not "
				    "supported");
				return -1;
			}
		}
		args = ar_push(p->ar, args, &nargs, &cap, sizeof(*args));
		args[nargs - 1] = a;
		if (is_punct(&p->cur, ")"))
			break;
		if (!is_punct(&p->cur, ",")) {
			expected(p, "',' or ')' in the function's arguments");
			return -1;
		}
		next(p);
	}
	next(p);
	size_t first = 0;
	if (st->fn == LQS_QUANTILE) {
		if (nargs < 2 || lq_parse_float((struct span){ args[0].p,
		    args[0].n }, &st->phi) != 0 || st->phi < 0 || st->phi > 1) {
			perr(p, off, "quantile() wants (phi, field) with phi "
			    "in [0, 1]");
			return -1;
		}
		st->phi_repr = args[0];
		first = 1;
	}
	for (size_t i = first; i < nargs; i++)
		if (args[i].n == 1 && args[i].p[0] == '*') {
			if (st->fn == LQS_COUNT && nargs == 1)
				break;
			perr(p, off, "%s(*) is not supported: name the fields",
			    stat_names[st->fn]);
			return -1;
		}
	if (st->fn == LQS_COUNT && nargs == 1 && args[0].n == 1 &&
	    args[0].p[0] == '*')
		nargs = 0;
	if (st->fn != LQS_COUNT && nargs == first) {
		perr(p, off, "%s() needs a field", stat_names[st->fn]);
		return -1;
	}
	if (nargs - first > LOGSQL_MAX_FUNC_FIELDS) {
		perr(p, off, "too many fields in %s()", stat_names[st->fn]);
		return -1;
	}
	st->fields = nargs > first ? args + first : NULL;
	st->nfields = nargs - first;
	if (is_kw(&p->cur, "if")) {
		size_t open;
		next(p);
		if (!is_punct(&p->cur, "(")) {
			expected(p, "'(' after if");
			return -1;
		}
		open = p->cur.off;
		next(p);
		st->iff = parse_or(p, NULL, 1);
		if (st->iff == NULL)
			return -1;
		if (!is_punct(&p->cur, ")")) {
			char w[64];
			snprintf(w, sizeof(w), "')' closing the if-filter at "
			    "column %zu", column_of(p, open));
			expected(p, w);
			return -1;
		}
		next(p);
	}
	if (is_punct(&p->cur, ",") || is_trailer(&p->cur)) {
		print_func(st, &nm);
		st->name = ar_str(p->ar, nm.p, nm.len);
		buf_release(&nm);
		return 0;
	}
	if (is_kw(&p->cur, "as"))
		next(p);
	if (compound(p, 0, &st->name, "a result name, ',' or '|'") != 0)
		return -1;
	if (st->name.n == 0) {
		perr(p, p->prev.off, "empty result name");
		return -1;
	}
	return 0;
}

static int
parse_stats(struct parser *p, struct lq_pipe *pp)
{
	size_t cap = 0;

	pp->kind = LQP_STATS;
	if (is_kw(&p->cur, "by")) {
		next(p);
		if (!is_punct(&p->cur, "(")) {
			expected(p, "'(' after by");
			return -1;
		}
	}
	if (is_punct(&p->cur, "(") && parse_by(p, pp) != 0)
		return -1;
	for (;;) {
		struct lq_stat st;
		size_t off = p->cur.off;
		if (pp->nstats >= LOGSQL_MAX_STATS) {
			perr(p, off, "more than %d stats functions",
			    LOGSQL_MAX_STATS);
			return -1;
		}
		if (parse_stat(p, &st) != 0)
			return -1;
		for (size_t i = 0; i < pp->nby; i++)
			if (span_eq((struct span){ pp->by[i].field.p,
			    pp->by[i].field.n }, (struct span){ st.name.p,
			    st.name.n })) {
				perr(p, off, "result name \"%.*s\" is a by-field",
				    (int)(st.name.n > 40 ? 40 : st.name.n),
				    st.name.p);
				return -1;
			}
		for (size_t i = 0; i < pp->nstats; i++)
			if (span_eq((struct span){ pp->stats[i].name.p,
			    pp->stats[i].name.n }, (struct span){ st.name.p,
			    st.name.n })) {
				perr(p, off, "result name \"%.*s\" used twice",
				    (int)(st.name.n > 40 ? 40 : st.name.n),
				    st.name.p);
				return -1;
			}
		pp->stats = ar_push(p->ar, pp->stats, &pp->nstats, &cap,
		    sizeof(*pp->stats));
		pp->stats[pp->nstats - 1] = st;
		if (is_trailer(&p->cur))
			break;
		if (!is_punct(&p->cur, ",")) {
			expected(p, "',' or '|' after a stats function");
			return -1;
		}
		next(p);
	}
	return 0;
}

static int
parse_sort(struct parser *p, struct lq_pipe *pp)
{
	size_t cap = 0;

	pp->kind = LQP_SORT;
	if (is_kw(&p->cur, "by"))
		next(p);
	if (!is_punct(&p->cur, "(")) {
		expected(p, "'(' starting the sort keys (sort by (f desc))");
		return -1;
	}
	next(p);
	for (;;) {
		if (is_punct(&p->cur, ")"))
			break;
		if (pp->nkeys >= LOGSQL_MAX_SORT_KEYS) {
			perr(p, p->cur.off, "more than %d sort keys",
			    LOGSQL_MAX_SORT_KEYS);
			return -1;
		}
		struct lq_sortkey k = { { NULL, 0 }, 0 };
		if (compound(p, 0, &k.field, "a field name to sort by") != 0)
			return -1;
		if (is_kw(&p->cur, "desc")) {
			k.desc = 1;
			next(p);
		} else if (is_kw(&p->cur, "asc"))
			next(p);
		pp->keys = ar_push(p->ar, pp->keys, &pp->nkeys, &cap,
		    sizeof(*pp->keys));
		pp->keys[pp->nkeys - 1] = k;
		if (is_punct(&p->cur, ")"))
			break;
		if (!is_punct(&p->cur, ",")) {
			expected(p, "',' or ')' in the sort keys");
			return -1;
		}
		next(p);
	}
	if (pp->nkeys == 0) {
		expected(p, "a field name to sort by");
		return -1;
	}
	next(p);
	if (is_kw(&p->cur, "desc")) {
		pp->desc = 1;
		next(p);
	}
	for (;;) {
		if (is_kw(&p->cur, "offset")) {
			next(p);
			if (parse_count(p, &pp->off, "a row count") != 0)
				return -1;
		} else if (is_kw(&p->cur, "limit")) {
			next(p);
			if (parse_count(p, &pp->n, "a row count") != 0)
				return -1;
		} else
			break;
	}
	return 0;
}

static int
parse_pipe(struct parser *p, struct lq_pipe *pp)
{
	struct tok *c = &p->cur;
	struct pstate st;
	char d[96];
	size_t off = c->off;

	memset(pp, 0, sizeof(*pp));
	if (c->kind == TK_EOF) {
		expected(p, "a pipe after '|'");
		return -1;
	}
	if (is_kw(c, "stats")) {
		next(p);
		return parse_stats(p, pp);
	}
	if (is_kw(c, "by"))
		return parse_stats(p, pp);
	if (stat_lookup(c)) {
		save(p, &st);
		next(p);
		int call = is_punct(&p->cur, "(");
		restore(p, &st);
		if (call)
			return parse_stats(p, pp);
	}
	if (is_kw(c, "filter") || is_kw(c, "where")) {
		next(p);
		pp->kind = LQP_FILTER;
		pp->filter = parse_or(p, NULL, 1);
		return pp->filter != NULL ? 0 : -1;
	}
	if (is_kw(c, "sort") || is_kw(c, "order")) {
		next(p);
		return parse_sort(p, pp);
	}
	if (is_kw(c, "limit") || is_kw(c, "head")) {
		next(p);
		pp->kind = LQP_LIMIT;
		pp->n = 10;
		if (starts_number(c))
			return parse_count(p, &pp->n, "a row count");
		return 0;
	}
	if (is_kw(c, "offset") || is_kw(c, "skip")) {
		next(p);
		pp->kind = LQP_OFFSET;
		return parse_count(p, &pp->n, "a row count");
	}
	if (is_kw(c, "fields") || is_kw(c, "keep")) {
		next(p);
		pp->kind = LQP_FIELDS;
		return parse_name_list(p, 0, &pp->fields, &pp->nfields,
		    LOGSQL_MAX_FIELDS, "fields");
	}
	if (is_kw(c, "uniq")) {
		next(p);
		pp->kind = LQP_UNIQ;
		if (is_kw(c, "by"))
			next(p);
		if (parse_name_list(p, is_punct(c, "("), &pp->fields,
		    &pp->nfields, LOGSQL_MAX_BY, "uniq") != 0)
			return -1;
		for (;;) {
			if (is_kw(c, "with")) {
				next(p);
				if (!is_kw(c, "hits")) {
					expected(p, "\"hits\" after with");
					return -1;
				}
				next(p);
				pp->with_hits = 1;
			} else if (is_kw(c, "limit")) {
				next(p);
				if (parse_count(p, &pp->n, "a row count") != 0)
					return -1;
			} else
				break;
		}
		return 0;
	}
	if (is_kw(c, "top")) {
		next(p);
		pp->kind = LQP_TOP;
		pp->n = 10;
		if (starts_number(c) && parse_count(p, &pp->n, "a row count")
		    != 0)
			return -1;
		if (pp->n == 0) {
			perr(p, p->prev.off, "top needs N > 0");
			return -1;
		}
		if (is_kw(c, "by"))
			next(p);
		if (parse_name_list(p, is_punct(c, "("), &pp->fields,
		    &pp->nfields, LOGSQL_MAX_BY, "top") != 0)
			return -1;
		pp->hits = ar_str(p->ar, "hits", 4);
		if (is_kw(c, "hits")) {
			next(p);
			if (is_kw(c, "as"))
				next(p);
			if (compound(p, 0, &pp->hits, "a name for hits") != 0)
				return -1;
			if (pp->hits.n == 0) {
				perr(p, p->prev.off, "empty name for hits");
				return -1;
			}
		}
		if (is_kw(c, "rank")) {
			perr(p, c->off, "top ... rank is not supported");
			return -1;
		}
		return 0;
	}
	perr(p, off, "unknown pipe %s; supported: stats, filter, sort, "
	    "limit, offset, fields, uniq, top", tokdesc(p, c, d, sizeof(d)));
	return -1;
}

/* ---- printing */

static void
print_field(const struct lq_str *f, struct buf *b)
{
	if (f->p == NULL)
		return;
	/* Unquoted, _TIME: (any case) starts a time filter: a field that
	 * only looks like it was quoted when it was read. */
	if (eq_nocase(f->p, f->n, "_time"))
		add_quoted(b, f->p, f->n);
	else
		add_token(b, f->p, f->n);
	buf_addch(b, ':');
}

static void
print_filter(const struct lq_filter *f, struct buf *b)
{
	switch (f->op) {
	case LQ_ALL:
		buf_addch(b, '*');
		return;
	case LQ_AND:
		for (size_t i = 0; i < f->nkids; i++) {
			if (i)
				buf_addch(b, ' ');
			if (f->kids[i]->op == LQ_OR) {
				buf_addch(b, '(');
				print_filter(f->kids[i], b);
				buf_addch(b, ')');
			} else
				print_filter(f->kids[i], b);
		}
		return;
	case LQ_OR:
		for (size_t i = 0; i < f->nkids; i++) {
			if (i)
				buf_addstr(b, " or ");
			print_filter(f->kids[i], b);
		}
		return;
	case LQ_NOT:
		buf_addch(b, '!');
		if (f->kids[0]->op == LQ_AND || f->kids[0]->op == LQ_OR) {
			buf_addch(b, '(');
			print_filter(f->kids[0], b);
			buf_addch(b, ')');
		} else
			print_filter(f->kids[0], b);
		return;
	case LQ_TIME:
		buf_addstr(b, "_time:");
		buf_add(b, f->repr.p, f->repr.n);
		return;
	default:
		break;
	}
	print_field(&f->field, b);
	switch (f->op) {
	case LQ_PHRASE:
		add_token(b, f->value.p, f->value.n);
		break;
	case LQ_PREFIX:
		/* "f:*" is "f not empty"; without a field a lone "*" would
		 * read back as every row, so the empty prefix is quoted. */
		if (f->value.n || f->field.p == NULL)
			add_token(b, f->value.p, f->value.n);
		buf_addch(b, '*');
		break;
	case LQ_SUBSTR:
		buf_addch(b, '*');
		add_token(b, f->value.p, f->value.n);
		buf_addch(b, '*');
		break;
	case LQ_IPHRASE:
	case LQ_IPREFIX:
		buf_addstr(b, "i(");
		/* i(*) is any value; i("") is the empty phrase. */
		if (f->value.n || f->op == LQ_IPHRASE)
			add_token(b, f->value.p, f->value.n);
		if (f->op == LQ_IPREFIX)
			buf_addch(b, '*');
		buf_addch(b, ')');
		break;
	case LQ_EXACT:
	case LQ_EXACT_PREFIX:
		buf_addch(b, '=');
		add_token(b, f->value.p, f->value.n);
		if (f->op == LQ_EXACT_PREFIX)
			buf_addch(b, '*');
		break;
	case LQ_REGEXP:
		buf_addch(b, '~');
		add_token(b, f->value.p, f->value.n);
		break;
	case LQ_IN:
		buf_addstr(b, "in(");
		for (size_t i = 0; i < f->nvals; i++) {
			if (i)
				buf_addstr(b, ", ");
			add_token(b, f->vals[i].p, f->vals[i].n);
		}
		buf_addch(b, ')');
		break;
	case LQ_RANGE:
		buf_add(b, f->repr.p, f->repr.n);
		break;
	case LQ_IPV4_RANGE:
		buf_addf(b, "ipv4_range(%u.%u.%u.%u, %u.%u.%u.%u)",
		    f->ip_lo >> 24, (f->ip_lo >> 16) & 255,
		    (f->ip_lo >> 8) & 255, f->ip_lo & 255, f->ip_hi >> 24,
		    (f->ip_hi >> 16) & 255, (f->ip_hi >> 8) & 255,
		    f->ip_hi & 255);
		break;
	default:
		break;
	}
}

void
logsql_print_filter(const struct lq_filter *f, struct buf *out)
{
	print_filter(f, out);
}

static void
print_names(const struct lq_str *v, size_t n, struct buf *b)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addstr(b, ", ");
		add_token(b, v[i].p, v[i].n);
	}
}

static void
print_pipe(const struct lq_pipe *pp, struct buf *b)
{
	switch (pp->kind) {
	case LQP_STATS:
		buf_addstr(b, "stats");
		if (pp->nby) {
			buf_addstr(b, " by (");
			for (size_t i = 0; i < pp->nby; i++) {
				const struct lq_by *by = &pp->by[i];
				if (i)
					buf_addstr(b, ", ");
				add_token(b, by->field.p, by->field.n);
				if (by->repr.n) {
					buf_addch(b, ':');
					repr_add(b, by->repr);
				}
				if (by->offset_repr.n) {
					buf_addstr(b, " offset ");
					repr_add(b, by->offset_repr);
				}
			}
			buf_addch(b, ')');
		}
		for (size_t i = 0; i < pp->nstats; i++) {
			buf_addstr(b, i ? ", " : " ");
			print_func(&pp->stats[i], b);
			buf_addstr(b, " as ");
			add_token(b, pp->stats[i].name.p, pp->stats[i].name.n);
		}
		break;
	case LQP_FILTER:
		buf_addstr(b, "filter ");
		print_filter(pp->filter, b);
		break;
	case LQP_SORT:
		buf_addstr(b, "sort by (");
		for (size_t i = 0; i < pp->nkeys; i++) {
			if (i)
				buf_addstr(b, ", ");
			add_token(b, pp->keys[i].field.p, pp->keys[i].field.n);
			if (pp->keys[i].desc)
				buf_addstr(b, " desc");
		}
		buf_addch(b, ')');
		if (pp->desc)
			buf_addstr(b, " desc");
		if (pp->off)
			buf_addf(b, " offset %llu", (unsigned long long)pp->off);
		if (pp->n)
			buf_addf(b, " limit %llu", (unsigned long long)pp->n);
		break;
	case LQP_LIMIT:
		buf_addf(b, "limit %llu", (unsigned long long)pp->n);
		break;
	case LQP_OFFSET:
		buf_addf(b, "offset %llu", (unsigned long long)pp->n);
		break;
	case LQP_FIELDS:
		buf_addstr(b, "fields ");
		print_names(pp->fields, pp->nfields, b);
		break;
	case LQP_UNIQ:
		buf_addstr(b, "uniq by (");
		print_names(pp->fields, pp->nfields, b);
		buf_addch(b, ')');
		if (pp->with_hits)
			buf_addstr(b, " with hits");
		if (pp->n)
			buf_addf(b, " limit %llu", (unsigned long long)pp->n);
		break;
	case LQP_TOP:
		buf_addf(b, "top %llu by (", (unsigned long long)pp->n);
		print_names(pp->fields, pp->nfields, b);
		buf_addch(b, ')');
		if (!(pp->hits.n == 4 && memcmp(pp->hits.p, "hits", 4) == 0)) {
			buf_addstr(b, " hits as ");
			add_token(b, pp->hits.p, pp->hits.n);
		}
		break;
	}
}

void
logsql_print(const struct logsql_query *q, struct buf *out)
{
	print_filter(q->filter, out);
	for (size_t i = 0; i < q->npipes; i++) {
		buf_addstr(out, " | ");
		print_pipe(&q->pipes[i], out);
	}
}

/* ---- the query */

struct logsql_query *
logsql_parse(const char *q, size_t len, char *err, size_t errlen)
{
	struct parser p;
	struct logsql_query *query;
	size_t cap = 0;

	if (len > LOGSQL_MAX_QUERY) {
		snprintf(err, errlen, "query longer than %d bytes",
		    LOGSQL_MAX_QUERY);
		return NULL;
	}
	memset(&p, 0, sizeof(p));
	p.q = q != NULL ? q : "";
	p.n = q != NULL ? len : 0;
	p.err = err;
	p.errlen = errlen;
	buf_init(&p.scratch);
	query = xcalloc(1, sizeof(*query));
	query->arena = xcalloc(1, sizeof(*query->arena));
	p.query = query;
	p.ar = query->arena;
	p.cur.kind = TK_EOF;
	next(&p);
	p.prev.kind = TK_EOF;
	if (p.failed)
		goto fail;
	if (is_trailer(&p.cur)) {
		expected(&p, "a filter (* for all rows)");
		goto fail;
	}
	query->filter = parse_or(&p, NULL, 1);
	if (query->filter == NULL)
		goto fail;
	while (is_punct(&p.cur, "|")) {
		if (query->npipes >= LOGSQL_MAX_PIPES) {
			perr(&p, p.cur.off, "more than %d pipes",
			    LOGSQL_MAX_PIPES);
			goto fail;
		}
		next(&p);
		query->pipes = ar_push(p.ar, query->pipes, &query->npipes, &cap,
		    sizeof(*query->pipes));
		if (parse_pipe(&p, &query->pipes[query->npipes - 1]) != 0)
			goto fail;
		if (!is_punct(&p.cur, "|") && !is_punct(&p.cur, ";") &&
		    p.cur.kind != TK_EOF) {
			expected(&p, "'|' or the end of the query");
			goto fail;
		}
	}
	if (is_punct(&p.cur, ";"))
		next(&p);
	if (p.cur.kind != TK_EOF) {
		expected(&p, "'|' or the end of the query");
		goto fail;
	}
	if (p.failed)
		goto fail;
	buf_release(&p.scratch);
	return query;
fail:
	if (!p.failed)
		snprintf(err, errlen, "cannot parse the query");
	buf_release(&p.scratch);
	logsql_free(query);
	return NULL;
}

void
logsql_free(struct logsql_query *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->nregexps; i++) {
		regfree(q->regexps[i]);
		free(q->regexps[i]);
	}
	free(q->regexps);
	ar_free(q->arena);
	free(q);
}

int
logsql_confine(const char *q, size_t len, int64_t start_ns, int64_t end_ns,
    struct buf *out, char *err, size_t errlen)
{
	struct logsql_query *query;
	struct lq_filter *t, *and, *f;
	struct buf r = BUF_INIT;
	char a[TIME_STRLEN], b[TIME_STRLEN];

	if (start_ns != TIME_NONE && end_ns != TIME_NONE && end_ns <= start_ns) {
		snprintf(err, errlen, "empty time window");
		return -1;
	}
	query = logsql_parse(q, len, err, errlen);
	if (query == NULL)
		return -1;
	if (start_ns == TIME_NONE && end_ns == TIME_NONE) {
		logsql_print(query, out);
		logsql_free(query);
		return 0;
	}
	t = ar_alloc(query->arena, sizeof(*t));
	t->op = LQ_TIME;
	time_format_rfc3339(start_ns, a, sizeof(a));
	time_format_rfc3339(end_ns, b, sizeof(b));
	if (start_ns != TIME_NONE) {
		t->t.lo_kind = LQT_ABS;
		t->t.lo = start_ns;
	}
	if (end_ns != TIME_NONE) {
		t->t.hi_kind = LQT_ABS;
		t->t.hi = end_ns - 1;
	}
	/* An open side is written as VictoriaLogs reads it back. */
	if (start_ns == TIME_NONE)
		buf_addf(&r, "<%s", b);
	else if (end_ns == TIME_NONE)
		buf_addf(&r, ">=%s", a);
	else
		buf_addf(&r, "[%s,%s)", a, b);
	t->repr = ar_str(query->arena, r.p, r.len);
	buf_release(&r);
	f = query->filter;
	if (f->op == LQ_ALL) {
		query->filter = t;
	} else {
		size_t nk = f->op == LQ_AND ? f->nkids : 1;
		and = ar_alloc(query->arena, sizeof(*and));
		and->op = LQ_AND;
		and->kids = ar_alloc(query->arena, (nk + 1) * sizeof(*and->kids));
		and->kids[0] = t;
		for (size_t i = 0; i < nk; i++)
			and->kids[i + 1] = f->op == LQ_AND ? f->kids[i] : f;
		and->nkids = nk + 1;
		query->filter = and;
	}
	logsql_print(query, out);
	logsql_free(query);
	return 0;
}
