/*
 * A scanner for JSON lines: one object per line, as Traefik, Caddy,
 * APISIX and VictoriaLogs write them.
 *
 * It builds no tree and allocates nothing.  The whole line is validated
 * against the RFC 8259 grammar (a malformed line must not half-fill a
 * record), and every scalar member is handed to a callback under its
 * dotted path ("request.headers.User-Agent").  Proxies log headers as
 * arrays ("User-Agent": ["curl/8"]), so the first scalar element of an
 * array is reported under the array's key; later elements, and objects
 * or arrays inside arrays, are validated but not reported.
 *
 * Strings without a backslash, and all numbers, are spans into the line
 * itself.  Strings with escapes are unescaped into the caller's scratch
 * buffer, which is grown once up front by the length of the line: an
 * unescaped string is never longer than its escaped form, so the buffer
 * never moves during the scan and every span handed out stays valid until
 * the caller resets it (the callback must not add to scratch itself).
 * The key span is only valid during the callback.
 *
 * Attacker-controlled bytes are expected: invalid UTF-8 inside strings is
 * passed through unchanged; lone surrogates in \u escapes become U+FFFD.
 * Keys whose full path would exceed JSONL_KEY_MAX bytes are validated but
 * not reported, so a hostile key cannot make us allocate.  Nesting is
 * limited to JSONL_DEPTH_MAX containers, which also bounds recursion.
 */
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "anomaly.h"

#define JSONL_KEY_MAX 256
#define JSONL_DEPTH_MAX 16

struct jscan {
	const char *p;     /* next unread byte */
	const char *end;   /* one past the last byte of the line */
	struct buf *scratch;
	json_field_cb cb;
	void *ctx;
	size_t klen;       /* current dotted path in key[0..klen) */
	char key[JSONL_KEY_MAX];
};

static int scan_value(struct jscan *, int, int);

static inline int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline void
skip_ws(struct jscan *s)
{
	while (s->p < s->end && is_ws((unsigned char)*s->p))
		s->p++;
}

/*
 * Word-at-a-time tests (the "bit twiddling hacks" idioms): a nonzero
 * result iff some byte of x is zero / is below n.  The lowest set bit is
 * always exact (borrows only run upwards), so on a little-endian machine
 * it locates the first such byte.
 */
#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
#define HAS_ZERO(x) (((x) - ONES) & ~(x) & HIGHS)
#define HAS_LESS(x, n) (((x) - ONES * (n)) & ~(x) & HIGHS)

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_HIT(t) ((size_t)__builtin_ctzll(t) >> 3)
#else
#define FIRST_HIT(t) ((size_t)0)
#endif

/*
 * Find the closing quote of the string whose body starts at p.  Sets
 * *esc when a backslash was seen; the escapes themselves are checked when
 * the body is unescaped or validated.  Raw control characters are an
 * error (RFC 8259 section 7).  Returns the quote, or NULL.
 */
static inline const char *
string_end(const char *p, const char *end, int *esc)
{
	for (;;) {
#if defined(__SSE2__) && defined(__GNUC__)
		/* 16 bytes at a time where SSE2 is a given (x86-64). */
		while (end - p >= 16) {
			__m128i w, hit;

			w = _mm_loadu_si128((const __m128i *)(const void *)p);
			hit = _mm_or_si128(
			    _mm_or_si128(_mm_cmpeq_epi8(w, _mm_set1_epi8('"')),
			    _mm_cmpeq_epi8(w, _mm_set1_epi8('\\'))),
			    _mm_cmpeq_epi8(_mm_max_epu8(w, _mm_set1_epi8(0x1f)),
			    _mm_set1_epi8(0x1f)));
			unsigned m = (unsigned)_mm_movemask_epi8(hit);
			if (m != 0) {
				p += __builtin_ctz(m);
				goto special;
			}
			p += 16;
		}
#endif
		while (end - p >= 8) {
			uint64_t w, t;

			memcpy(&w, p, 8);
			t = HAS_ZERO(w ^ (ONES * '"')) |
			    HAS_ZERO(w ^ (ONES * '\\')) | HAS_LESS(w, 0x20);
			if (t != 0) {
				p += FIRST_HIT(t);
				break;
			}
			p += 8;
		}
#if defined(__SSE2__) && defined(__GNUC__)
special:
#endif
		if (p >= end)
			return NULL;
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p;
		if (c == '\\') {
			if (end - p < 2)
				return NULL;
			*esc = 1;
			p += 2;
		} else if (c < 0x20)
			return NULL;
		else
			p++;
	}
}

static int
hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned c = (unsigned char)p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return -1;
		v = (v << 4) | d;
	}
	*out = v;
	return 0;
}

/* Append byte c at out[*n] if it fits in cap; count it either way. */
static inline void
put(char *out, size_t cap, size_t *n, unsigned c)
{
	if (*n < cap)
		out[*n] = (char)c;
	(*n)++;
}

static void
put_utf8(char *out, size_t cap, size_t *n, unsigned cp)
{
	if (cp < 0x80)
		put(out, cap, n, cp);
	else if (cp < 0x800) {
		put(out, cap, n, 0xc0 | (cp >> 6));
		put(out, cap, n, 0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		put(out, cap, n, 0xe0 | (cp >> 12));
		put(out, cap, n, 0x80 | ((cp >> 6) & 0x3f));
		put(out, cap, n, 0x80 | (cp & 0x3f));
	} else {
		put(out, cap, n, 0xf0 | (cp >> 18));
		put(out, cap, n, 0x80 | ((cp >> 12) & 0x3f));
		put(out, cap, n, 0x80 | ((cp >> 6) & 0x3f));
		put(out, cap, n, 0x80 | (cp & 0x3f));
	}
}

/*
 * Unescape the string body [p, e) into out, writing at most cap bytes
 * (cap 0 and out NULL: validate only).  *outn gets the full unescaped
 * length, which may exceed cap.  The body is known to hold no raw quote
 * or control character, and no backslash as its last byte.
 */
static int
unescape(const char *p, const char *e, char *out, size_t cap, size_t *outn)
{
	size_t n = 0;

	while (p < e) {
		const char *bs = memchr(p, '\\', (size_t)(e - p));
		size_t run = (bs != NULL ? bs : e) - p;

		if (run != 0) {
			if (n < cap)
				memcpy(out + n, p,
				    run <= cap - n ? run : cap - n);
			n += run;
			p += run;
		}
		if (bs == NULL)
			break;
		p = bs + 1; /* string_end guarantees a byte follows */
		switch (*p++) {
		case '"': put(out, cap, &n, '"'); break;
		case '\\': put(out, cap, &n, '\\'); break;
		case '/': put(out, cap, &n, '/'); break;
		case 'b': put(out, cap, &n, '\b'); break;
		case 'f': put(out, cap, &n, '\f'); break;
		case 'n': put(out, cap, &n, '\n'); break;
		case 'r': put(out, cap, &n, '\r'); break;
		case 't': put(out, cap, &n, '\t'); break;
		case 'u': {
			unsigned cp, lo;

			if (e - p < 4 || hex4(p, &cp) != 0)
				return -1;
			p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				/* A high surrogate counts only with its low
				 * half right after it; otherwise it stands
				 * alone and the next escape is read on its
				 * own. */
				if (e - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
				    hex4(p + 2, &lo) == 0 &&
				    lo >= 0xdc00 && lo <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					    (lo - 0xdc00);
					p += 6;
				} else
					cp = 0xfffd;
			} else if (cp >= 0xdc00 && cp <= 0xdfff)
				cp = 0xfffd;
			put_utf8(out, cap, &n, cp);
			break;
		}
		default:
			return -1;
		}
	}
	*outn = n;
	return 0;
}

/*
 * A string value at s->p (just past the opening quote).  When reported,
 * it is handed to the callback as a span into the line or into scratch.
 */
static int
scan_string(struct jscan *s, int report)
{
	const char *b = s->p, *q;
	int esc = 0;
	struct span v;
	size_t n;

	if ((q = string_end(b, s->end, &esc)) == NULL)
		return -1;
	s->p = q + 1;
	if (!esc) {
		if (!report)
			return 0;
		v.p = b;
		v.n = (size_t)(q - b);
		return s->cb(s->ctx, (struct span){ s->key, s->klen },
		    JT_STRING, v);
	}
	if (!report)
		return unescape(b, q, NULL, 0, &n);
	/* jsonl_scan reserved room for the whole line: this cannot move
	 * scratch->p, and the unescaped text is never longer than b..q. */
	struct buf *sb = s->scratch;
	char *dst = sb->p + sb->len;
	if (unescape(b, q, dst, sb->cap - sb->len - 1, &n) != 0)
		return -1;
	if (n > sb->cap - sb->len - 1)
		return -1; /* cannot happen; never write past the buffer */
	sb->len += n;
	sb->p[sb->len] = '\0';
	v.p = dst;
	v.n = n;
	return s->cb(s->ctx, (struct span){ s->key, s->klen }, JT_STRING, v);
}

static int
scan_number(struct jscan *s, int report)
{
	const char *b = s->p, *p = s->p, *e = s->end;

	if (p < e && *p == '-')
		p++;
	if (p >= e)
		return -1;
	if (*p == '0')
		p++; /* no leading zeros: "01" fails at the caller's ',' */
	else if (*p >= '1' && *p <= '9')
		while (++p < e && *p >= '0' && *p <= '9')
			;
	else
		return -1;
	if (p < e && *p == '.') {
		if (++p >= e || *p < '0' || *p > '9')
			return -1;
		while (++p < e && *p >= '0' && *p <= '9')
			;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		if (++p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || *p < '0' || *p > '9')
			return -1;
		while (++p < e && *p >= '0' && *p <= '9')
			;
	}
	s->p = p;
	if (!report)
		return 0;
	return s->cb(s->ctx, (struct span){ s->key, s->klen }, JT_NUMBER,
	    (struct span){ b, (size_t)(p - b) });
}

static int
scan_literal(struct jscan *s, const char *lit, size_t n, enum json_type t,
    int report)
{
	const char *b = s->p;

	if ((size_t)(s->end - b) < n || memcmp(b, lit, n) != 0)
		return -1;
	s->p += n;
	if (!report)
		return 0;
	return s->cb(s->ctx, (struct span){ s->key, s->klen }, t,
	    (struct span){ b, n });
}

/* After a member of an object or array: 1 if ',' (another follows),
 * 0 at the closing byte, -1 on anything else. */
static int
after_member(struct jscan *s, char close)
{
	skip_ws(s);
	if (s->p >= s->end)
		return -1;
	if (*s->p == ',') {
		s->p++;
		skip_ws(s);
		return 1;
	}
	if (*s->p == close) {
		s->p++;
		return 0;
	}
	return -1;
}

/*
 * Members of an object; s->p is just past the '{'.  Each member's key is
 * appended to the path while its value is scanned, then cut off again.
 */
static int
scan_object(struct jscan *s, int depth, int report)
{
	size_t base = s->klen;
	int rc;

	if (depth > JSONL_DEPTH_MAX)
		return -1;
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		const char *kb, *ke;
		int esc = 0, mreport = report;

		if (s->p >= s->end || *s->p != '"')
			return -1;
		kb = s->p + 1;
		if ((ke = string_end(kb, s->end, &esc)) == NULL)
			return -1;
		s->p = ke + 1;

		/* The path: the top level's keys stand alone, deeper ones
		 * follow a dot.  Too long: validate, do not report. */
		size_t dot = depth > 1 ? 1 : 0, kn;
		size_t room = JSONL_KEY_MAX - base; /* base <= KEY_MAX */
		if (mreport && room < dot)
			mreport = 0;
		if (!mreport) {
			if (esc && unescape(kb, ke, NULL, 0, &kn) != 0)
				return -1;
		} else if (!esc) {
			kn = (size_t)(ke - kb);
			if (kn > room - dot)
				mreport = 0;
			else {
				if (dot)
					s->key[base] = '.';
				memcpy(s->key + base + dot, kb, kn);
				s->klen = base + dot + kn;
			}
		} else {
			if (unescape(kb, ke, s->key + base + dot, room - dot,
			    &kn) != 0)
				return -1;
			if (kn > room - dot)
				mreport = 0;
			else {
				if (dot)
					s->key[base] = '.';
				s->klen = base + dot + kn;
			}
		}

		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return -1;
		s->p++;
		skip_ws(s);
		rc = scan_value(s, depth, mreport);
		s->klen = base;
		if (rc != 0)
			return rc;
		if ((rc = after_member(s, '}')) <= 0)
			return rc;
	}
}

/*
 * Elements of an array; s->p is just past the '['.  Only the first scalar
 * element is reported, under the array's own key: the shape in which
 * proxies log header values.
 */
static int
scan_array(struct jscan *s, int depth, int report)
{
	int rc;

	if (depth > JSONL_DEPTH_MAX)
		return -1;
	skip_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 0;
	}
	for (;;) {
		int scalar;

		if (s->p >= s->end)
			return -1;
		scalar = *s->p != '{' && *s->p != '[';
		rc = scan_value(s, depth, report && scalar);
		if (rc != 0)
			return rc;
		if (scalar)
			report = 0;
		if ((rc = after_member(s, ']')) <= 0)
			return rc;
	}
}

/* A value at s->p, inside a container at nesting level depth. */
static int
scan_value(struct jscan *s, int depth, int report)
{
	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '"':
		s->p++;
		return scan_string(s, report);
	case '{':
		s->p++;
		return scan_object(s, depth + 1, report);
	case '[':
		s->p++;
		return scan_array(s, depth + 1, report);
	case 't':
		return scan_literal(s, "true", 4, JT_BOOL, report);
	case 'f':
		return scan_literal(s, "false", 5, JT_BOOL, report);
	case 'n':
		return scan_literal(s, "null", 4, JT_NULL, report);
	default:
		return scan_number(s, report);
	}
}

int
jsonl_scan(const char *line, size_t len, struct buf *scratch,
    json_field_cb cb, void *ctx)
{
	struct jscan s;
	int rc;

	s.p = line;
	s.end = line + len;
	s.scratch = scratch;
	s.cb = cb;
	s.ctx = ctx;
	s.klen = 0;
	/* Room for every unescaped string of the line: see the top. */
	buf_grow(scratch, len);

	/* RFC 8259 lets a parser ignore a byte order mark; one at the start
	 * of a file would otherwise cost its first line. */
	if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
		s.p += 3;
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return -1;
	s.p++;
	if ((rc = scan_object(&s, 1, 1)) != 0)
		return rc;
	skip_ws(&s);
	return s.p == s.end ? 0 : -1;
}
