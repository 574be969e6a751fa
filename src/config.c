/*
 * The configuration file: "key = value" lines.
 *
 *	# comment
 *	format = nginx
 *	log_format = '$remote_addr - [$time_local] "$request" $status'
 *	trusted_proxy = 10.0.0.0/8
 *	trusted_proxy = 2001:db8::/32
 *
 * Values may be bare (up to a '#' or the end of the line, trimmed), in
 * double quotes (with \" \\ \n \t escapes) or in single quotes (taken
 * literally: handy for nginx log_format strings full of double quotes).
 * A key may repeat; list-like settings take every occurrence, others the
 * last one.  Syntax errors are collected, all of them, as
 * "file:line: message", like OpenBSD's parse.y configs, so one run of
 * `anomaly-detect -n` shows every mistake at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

#define CONFIG_MAX_BYTES (1024 * 1024)
#define CONFIG_MAX_LINE 8192

void
config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
}

void
config_release(struct config *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].value);
		free(c->v[i].file);
	}
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static void
config_add(struct config *c, const char *file, int line, struct span k,
    const char *v, size_t vn)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	struct config_entry *e = &c->v[c->n++];
	e->key = xstrndup(k.p, k.n);
	e->value = xstrndup(v, vn);
	e->file = xstrdup(file);
	e->line = line;
}

static int
is_key_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
}

/* Parse one line (without its newline); 0, or -1 with a message in errs. */
static int
config_line(struct config *c, const char *file, int lineno, struct span l,
    struct buf *errs)
{
	struct buf val = BUF_INIT;
	size_t i = 0;
	int rc = -1;

	l = span_trim(l);
	if (l.n == 0 || l.p[0] == '#')
		return 0;
	while (i < l.n && is_key_char(l.p[i]))
		i++;
	struct span key = { l.p, i };
	if (key.n == 0) {
		buf_addf(errs, "%s:%d: expected a setting name\n", file, lineno);
		goto out;
	}
	while (i < l.n && (l.p[i] == ' ' || l.p[i] == '\t'))
		i++;
	if (i >= l.n || l.p[i] != '=') {
		buf_addf(errs, "%s:%d: expected '=' after \"%.*s\"\n", file,
		    lineno, (int)key.n, key.p);
		goto out;
	}
	i++;
	while (i < l.n && (l.p[i] == ' ' || l.p[i] == '\t'))
		i++;
	buf_init(&val);
	if (i < l.n && l.p[i] == '\'') {
		size_t j = i + 1;
		while (j < l.n && l.p[j] != '\'')
			j++;
		if (j >= l.n) {
			buf_addf(errs, "%s:%d: unterminated ' quote\n", file,
			    lineno);
			goto out;
		}
		buf_add(&val, l.p + i + 1, j - i - 1);
		i = j + 1;
	} else if (i < l.n && l.p[i] == '"') {
		size_t j = i + 1;
		int closed = 0;
		while (j < l.n) {
			char ch = l.p[j];
			if (ch == '"') {
				closed = 1;
				break;
			}
			if (ch == '\\' && j + 1 < l.n) {
				char e = l.p[j + 1];
				buf_addch(&val, e == 'n' ? '\n' : e == 't' ?
				    '\t' : e);
				j += 2;
				continue;
			}
			buf_addch(&val, ch);
			j++;
		}
		if (!closed) {
			buf_addf(errs, "%s:%d: unterminated \" quote\n", file,
			    lineno);
			goto out;
		}
		i = j + 1;
	} else {
		size_t j = i;
		while (j < l.n && l.p[j] != '#')
			j++;
		struct span v = span_trim((struct span){ l.p + i, j - i });
		buf_add(&val, v.p, v.n);
		i = j;
	}
	/* After a quoted value only a comment may follow. */
	while (i < l.n && (l.p[i] == ' ' || l.p[i] == '\t'))
		i++;
	if (i < l.n && l.p[i] != '#') {
		buf_addf(errs, "%s:%d: unexpected text after the value\n", file,
		    lineno);
		goto out;
	}
	config_add(c, file, lineno, key, val.p ? val.p : "", val.len);
	rc = 0;
out:
	buf_release(&val);
	return rc;
}

int
config_load(struct config *c, const char *path, struct buf *errs)
{
	FILE *f;
	struct buf text = BUF_INIT;
	char chunk[65536];
	size_t n;
	int rc = 0, lineno = 0;

	if ((f = fopen(path, "r")) == NULL) {
		buf_addf(errs, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (text.len + n > CONFIG_MAX_BYTES) {
			buf_addf(errs, "%s: larger than %d bytes\n", path,
			    CONFIG_MAX_BYTES);
			rc = -1;
			goto out;
		}
		buf_add(&text, chunk, n);
	}
	if (ferror(f)) {
		buf_addf(errs, "%s: %s\n", path, strerror(errno));
		rc = -1;
		goto out;
	}
	const char *p = text.p ? text.p : "", *end = p + text.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lineno++;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len > CONFIG_MAX_LINE) {
			buf_addf(errs, "%s:%d: line longer than %d bytes\n",
			    path, lineno, CONFIG_MAX_LINE);
			rc = -1;
		} else if (config_line(c, path, lineno, (struct span){ p, len },
		    errs) != 0)
			rc = -1;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
out:
	fclose(f);
	buf_release(&text);
	return rc;
}

const struct config_entry *
config_get(const struct config *c, const char *key)
{
	for (size_t i = c->n; i > 0; i--)
		if (strcmp(c->v[i - 1].key, key) == 0)
			return &c->v[i - 1];
	return NULL;
}
