/*
 * Small things every module needs: spans, growable buffers, allocation
 * that cannot return NULL, strict number parsing, escaping for output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anomaly.h"

/* ---- spans */

struct span
span_str(const char *s)
{
	struct span r = { s, s != NULL ? strlen(s) : 0 };
	return r;
}

int
span_eq(struct span a, struct span b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

int
span_eq_str(struct span a, const char *s)
{
	return span_eq(a, span_str(s));
}

static int
lower_ascii(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int
span_eq_nocase_str(struct span a, const char *s)
{
	size_t n = strlen(s);

	if (n != a.n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower_ascii((unsigned char)a.p[i]) !=
		    lower_ascii((unsigned char)s[i]))
			return 0;
	return 1;
}

struct span
span_trim(struct span s)
{
	while (s.n > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
		s.n--;
	return s;
}

/* ---- allocation */

void *
xmalloc(size_t n)
{
	void *p = malloc(n != 0 ? n : 1);

	if (p == NULL)
		fatal("malloc %zu bytes", n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb != 0 ? nmemb : 1, size != 0 ? size : 1);

	if (p == NULL)
		fatal("calloc %zu x %zu bytes", nmemb, size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n != 0 ? n : 1);

	if (q == NULL)
		fatal("realloc %zu bytes", n);
	return q;
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		fatalx("reallocarray: %zu x %zu overflows", nmemb, size);
	return xrealloc(p, nmemb * size);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* ---- buffers */

char buf_empty_str[1];

void
buf_init(struct buf *b)
{
	b->p = buf_empty_str;
	b->len = 0;
	b->cap = 0;
}

void
buf_release(struct buf *b)
{
	if (b->cap != 0)
		free(b->p);
	buf_init(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->cap != 0)
		b->p[0] = '\0';
}

void
buf_grow(struct buf *b, size_t extra)
{
	size_t need;

	if (b->p == NULL)
		buf_init(b);
	if (extra > SIZE_MAX - b->len - 1)
		fatalx("buffer size overflow");
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap != 0 ? b->cap : 64;
	while (cap < need)
		cap = cap < SIZE_MAX / 2 ? cap * 2 : need;
	if (b->cap == 0) {
		char *p = xmalloc(cap);
		memcpy(p, b->p, b->len);
		p[b->len] = '\0';
		b->p = p;
	} else
		b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n != 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
buf_addstr(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addch(struct buf *b, char c)
{
	buf_grow(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

/* An empty buffer owns no memory yet: its text is copied then. */
char *
buf_take(struct buf *b)
{
	if (b->p == buf_empty_str)
		return xstrdup("");
	return b->p;
}

char *
xstrfmt(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return buf_take(&b);
}

void
buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	buf_grow(b, 64);
	va_copy(cp, ap);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		fatalx("vsnprintf failed");
	if ((size_t)n >= b->cap - b->len) {
		buf_grow(b, (size_t)n);
		va_copy(cp, ap);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, cp);
		va_end(cp);
	}
	b->len += (size_t)n;
}

void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

/*
 * Length of the valid UTF-8 sequence at p (1..4), or 0 if the bytes there
 * are not one: overlong forms, surrogates and code points past U+10FFFF
 * are all invalid, as in RFC 3629.
 */
static size_t
utf8_seq_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		if (n >= 2 && (p[1] & 0xc0) == 0x80)
			return 2;
		return 0;
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && p[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && p[1] >= 0xa0)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && p[1] < 0x90)
			return 0; /* overlong */
		if (c == 0xf4 && p[1] >= 0x90)
			return 0; /* past U+10FFFF */
		return 4;
	}
	return 0;
}

static const char hexdig[] = "0123456789abcdef";

static void
buf_add_hexbyte(struct buf *b, const char *pre, unsigned char c)
{
	buf_addstr(b, pre);
	buf_addch(b, hexdig[c >> 4]);
	buf_addch(b, hexdig[c & 15]);
}

void
buf_add_escaped(struct buf *b, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0;

	buf_grow(b, n);
	while (i < n) {
		unsigned char c = u[i];
		if (c == '\\') {
			buf_add(b, "\\\\", 2);
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			buf_addch(b, (char)c);
			i++;
		} else if (c >= 0x80) {
			size_t k = utf8_seq_len(u + i, n - i);
			/* C1 controls (U+0080..U+009F) can drive terminals too. */
			if (k == 2 && c == 0xc2 && u[i + 1] < 0xa0)
				k = 0;
			if (k == 0) {
				buf_add_hexbyte(b, "\\x", c);
				i++;
			} else {
				buf_add(b, p + i, k);
				i += k;
			}
		} else {
			buf_add_hexbyte(b, "\\x", c);
			i++;
		}
	}
}

void
buf_add_json_str(struct buf *b, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0;

	buf_grow(b, n + 2);
	buf_addch(b, '"');
	while (i < n) {
		unsigned char c = u[i];
		switch (c) {
		case '"': buf_add(b, "\\\"", 2); i++; continue;
		case '\\': buf_add(b, "\\\\", 2); i++; continue;
		case '\n': buf_add(b, "\\n", 2); i++; continue;
		case '\r': buf_add(b, "\\r", 2); i++; continue;
		case '\t': buf_add(b, "\\t", 2); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			buf_add_hexbyte(b, "\\u00", c);
			i++;
		} else if (c < 0x80) {
			buf_addch(b, (char)c);
			i++;
		} else {
			size_t k = utf8_seq_len(u + i, n - i);
			if (k == 0) {
				buf_add_hexbyte(b, "\\\\x", c);
				i++;
			} else {
				buf_add(b, p + i, k);
				i += k;
			}
		}
	}
	buf_addch(b, '"');
}

/* ---- numbers */

int
parse_u64(struct span s, uint64_t *out)
{
	uint64_t v = 0;

	if (s.n == 0 || s.n > 20)
		return -1;
	for (size_t i = 0; i < s.n; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';
		if (d > 9)
			return -1;
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int
parse_i64(struct span s, int64_t *out)
{
	uint64_t v;
	int neg = 0;

	if (s.n > 0 && (s.p[0] == '-' || s.p[0] == '+')) {
		neg = s.p[0] == '-';
		s.p++;
		s.n--;
	}
	if (parse_u64(s, &v) != 0)
		return -1;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return -1;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > INT64_MAX)
			return -1;
		*out = (int64_t)v;
	}
	return 0;
}

int
parse_decimal_scaled(struct span s, int64_t scale, int64_t *out)
{
	int64_t ip = 0, fp = 0, f = scale;
	size_t i = 0;
	int digits = 0;

	if (scale <= 0)
		return -1;
	for (; i < s.n && s.p[i] != '.'; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';
		if (d > 9)
			return -1;
		if (ip > (INT64_MAX - (int64_t)d) / 10)
			return -1;
		ip = ip * 10 + d;
		digits++;
	}
	if (i < s.n) { /* fraction */
		i++;
		if (i == s.n && digits == 0)
			return -1;
		for (; i < s.n; i++) {
			unsigned d = (unsigned char)s.p[i] - '0';
			if (d > 9)
				return -1;
			digits++;
			if (f >= 10) {
				f /= 10;
				fp += (int64_t)d * f;
			}
		}
	}
	if (digits == 0)
		return -1;
	if (ip > (INT64_MAX - fp) / scale)
		return -1;
	*out = ip * scale + fp;
	return 0;
}

static const uint64_t pow10_tab[20] = {
	1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
	10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
	100000000000ULL, 1000000000000ULL, 10000000000000ULL,
	100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
	100000000000000000ULL, 1000000000000000000ULL,
	10000000000000000000ULL,
};

int
parse_decimal_exp(struct span s, int strict, struct decimal *d)
{
	const char *p = s.p;
	size_t i = 0, n = s.n, start;
	int nd = 0, idigits = 0, fdigits = 0;

	memset(d, 0, sizeof(*d));
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++, idigits++) {
		unsigned dg = (unsigned char)p[i] - '0';
		if (d->mant == 0 && dg == 0)
			continue; /* leading zero */
		if (nd < 19) {
			d->mant = d->mant * 10 + dg;
			nd++;
		} else {
			d->exp10++; /* keeps the magnitude */
			if (dg != 0)
				d->lost = 1;
		}
	}
	if (i < n && p[i] == '.') {
		for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
			unsigned dg = (unsigned char)p[i] - '0';
			fdigits++;
			if (nd == 19) {
				if (dg != 0)
					d->lost = 1;
				continue;
			}
			d->exp10--;
			if (d->mant == 0 && dg == 0)
				continue; /* a leading zero of the fraction */
			d->mant = d->mant * 10 + dg;
			nd++;
		}
		if (strict && (idigits == 0 || fdigits == 0))
			return -1;
	}
	if (idigits + fdigits == 0)
		return -1;
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		int neg = 0;
		int64_t e = 0;

		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			neg = p[i++] == '-';
		start = i;
		/* Past 10^5 every value is 0 or out of range anyway. */
		for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			if (e < 100000)
				e = e * 10 + (p[i] - '0');
		if (i == start)
			return -1;
		d->exp10 += neg ? -e : e;
	}
	return i == n ? 0 : -1;
}

int
decimal_to_u64(const struct decimal *d, int64_t shift, uint64_t *out,
    int *inexact)
{
	int64_t k = d->exp10 + shift;

	*inexact = d->lost;
	if (d->mant == 0) {
		*out = 0;
		return 0;
	}
	if (k >= 0) {
		if (k >= 20 || d->mant > UINT64_MAX / pow10_tab[k])
			return -1;
		*out = d->mant * pow10_tab[k];
	} else if (k <= -20) {
		*out = 0;
		*inexact = 1;
	} else {
		*out = d->mant / pow10_tab[-k];
		if (d->mant % pow10_tab[-k] != 0)
			*inexact = 1;
	}
	return 0;
}

/* Digits with optional '_' separators, e.g. "1_000"; returns chars used. */
static size_t
scan_digits(struct span s, uint64_t *v, int *ok)
{
	size_t i = 0;
	int any = 0;

	*v = 0;
	*ok = 1;
	for (; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c == '_' && any)
			continue;
		if (c < '0' || c > '9')
			break;
		if (*v > (UINT64_MAX - (c - '0')) / 10)
			*ok = 0;
		else
			*v = *v * 10 + (c - '0');
		any = 1;
	}
	if (!any)
		*ok = 0;
	return i;
}

int
parse_size(struct span s, uint64_t *out)
{
	uint64_t v, mul = 1;
	int ok;
	size_t i;

	s = span_trim(s);
	i = scan_digits(s, &v, &ok);
	if (!ok)
		return -1;
	struct span u = { s.p + i, s.n - i };
	u = span_trim(u);
	if (u.n == 0 || span_eq_nocase_str(u, "b"))
		mul = 1;
	else if (span_eq_nocase_str(u, "k") || span_eq_nocase_str(u, "kib") ||
	    span_eq_nocase_str(u, "kb"))
		mul = 1024;
	else if (span_eq_nocase_str(u, "m") || span_eq_nocase_str(u, "mib") ||
	    span_eq_nocase_str(u, "mb"))
		mul = 1024ull * 1024;
	else if (span_eq_nocase_str(u, "g") || span_eq_nocase_str(u, "gib") ||
	    span_eq_nocase_str(u, "gb"))
		mul = 1024ull * 1024 * 1024;
	else if (span_eq_nocase_str(u, "t") || span_eq_nocase_str(u, "tib") ||
	    span_eq_nocase_str(u, "tb"))
		mul = 1024ull * 1024 * 1024 * 1024;
	else
		return -1;
	if (v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int
parse_duration(struct span s, int64_t *out_ns)
{
	static const struct {
		const char *name;
		int64_t ns;
	} units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 },
		{ "s", 1000000000LL }, { "m", 60 * 1000000000LL },
		{ "h", 3600 * 1000000000LL }, { "d", 86400 * 1000000000LL },
		{ "w", 7 * 86400 * 1000000000LL }, { "y", 365 * 86400 * 1000000000LL },
	};
	int64_t total = 0;
	size_t i = 0;

	s = span_trim(s);
	if (s.n == 0)
		return -1;
	while (i < s.n) {
		uint64_t v;
		int ok;
		struct span rest = { s.p + i, s.n - i };
		size_t k = scan_digits(rest, &v, &ok);
		if (!ok)
			return -1;
		i += k;
		/* fraction: "1.5h" */
		uint64_t frac = 0, fdiv = 1;
		if (i < s.n && s.p[i] == '.') {
			i++;
			while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9') {
				if (fdiv < 1000000000ull) {
					frac = frac * 10 + (uint64_t)(s.p[i] - '0');
					fdiv *= 10;
				}
				i++;
			}
		}
		size_t ustart = i;
		while (i < s.n && ((s.p[i] >= 'a' && s.p[i] <= 'z') ||
		    (s.p[i] >= 'A' && s.p[i] <= 'Z')))
			i++;
		struct span u = { s.p + ustart, i - ustart };
		int64_t mul = -1;
		for (size_t j = 0; j < ARRAY_LEN(units); j++)
			if (span_eq_nocase_str(u, units[j].name))
				mul = units[j].ns;
		if (mul <= 0)
			return -1;
		if (v > (uint64_t)(INT64_MAX / mul))
			return -1;
		int64_t part = (int64_t)v * mul +
		    (int64_t)((double)frac / (double)fdiv * (double)mul);
		if (total > INT64_MAX - part)
			return -1;
		total += part;
	}
	*out_ns = total;
	return 0;
}

void
fmt_bytes(char *out, size_t outlen, double bytes)
{
	static const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t i = 0;

	while (bytes >= 1024 && i + 1 < ARRAY_LEN(u)) {
		bytes /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(out, outlen, "%.0f %s", bytes, u[i]);
	else
		snprintf(out, outlen, "%.1f %s", bytes, u[i]);
}

void
fmt_count(char *out, size_t outlen, double n)
{
	if (n >= 1e9)
		snprintf(out, outlen, "%.2fG", n / 1e9);
	else if (n >= 1e6)
		snprintf(out, outlen, "%.2fM", n / 1e6);
	else if (n >= 1e4)
		snprintf(out, outlen, "%.1fk", n / 1e3);
	else
		snprintf(out, outlen, "%.0f", n);
}

/* ---- clocks */

int64_t
clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t
clock_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
