/*
 * The audit trail: one JSON line per thing a cycle did, so a ban can be
 * explained afterwards (which query, which finding, which verdict, what
 * LAPI answered) and the model's part in it reviewed.
 *
 * Each record is formatted whole in memory and written with a single
 * write() on an O_APPEND descriptor: the kernel appends it at the end in
 * one piece, so two runs (or a run and logrotate's copy) never produce a
 * line made of two records.  A record too large for that to be cheap is
 * replaced by a short one saying so rather than split.
 *
 * The trail is read by people and tools that should never see a
 * credential, and its fields come from code that may not think about it
 * (a request's headers, a config dump, a model's echo of a prompt), so
 * redaction happens here, on every record, by member name and by known
 * secret value.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "anomaly.h"

#define AUDIT_SECRETS_MAX 16

struct audit {
	int fd;
	int owned;          /* ours to close */
	char *name;         /* for messages */
	char *cycle;        /* NULL: null */
	char *secrets[AUDIT_SECRETS_MAX];
	size_t nsecrets;
};

struct audit *
audit_open(const char *path, char *err, size_t errlen)
{
	struct audit *a;
	int fd;

	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "audit: no file name");
		return NULL;
	}
	a = xcalloc(1, sizeof(*a));
	a->name = xstrdup(path);
	if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0) {
		a->fd = STDOUT_FILENO;
		return a;
	}
	if (strcmp(path, "/dev/stderr") == 0) {
		a->fd = STDERR_FILENO;
		return a;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "audit file %s: %s", path,
		    strerror(errno));
		free(a->name);
		free(a);
		return NULL;
	}
	a->fd = fd;
	a->owned = 1;
	return a;
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->owned)
		close(a->fd);
	for (size_t i = 0; i < a->nsecrets; i++) {
		explicit_bzero(a->secrets[i], strlen(a->secrets[i]));
		free(a->secrets[i]);
	}
	free(a->cycle);
	free(a->name);
	free(a);
}

void
audit_set_cycle(struct audit *a, const char *cycle)
{
	if (a == NULL)
		return;
	free(a->cycle);
	a->cycle = cycle != NULL ? xstrdup(cycle) : NULL;
}

void
audit_add_secret(struct audit *a, const char *secret)
{
	if (a == NULL || secret == NULL || *secret == '\0')
		return;
	for (size_t i = 0; i < a->nsecrets; i++)
		if (strcmp(a->secrets[i], secret) == 0)
			return;
	if (a->nsecrets == AUDIT_SECRETS_MAX) {
		/* The oldest goes; a run has a handful at most. */
		explicit_bzero(a->secrets[0], strlen(a->secrets[0]));
		free(a->secrets[0]);
		memmove(&a->secrets[0], &a->secrets[1],
		    (AUDIT_SECRETS_MAX - 1) * sizeof(a->secrets[0]));
		a->nsecrets--;
	}
	a->secrets[a->nsecrets++] = xstrdup(secret);
}

/* ---- values */

json_t *
audit_str(const char *p, size_t n)
{
	struct buf b = BUF_INIT;
	json_t *v;

	if (p == NULL)
		p = "";
	/* jansson refuses invalid UTF-8; escaped text always is valid. */
	v = json_stringn(p, n);
	if (v != NULL)
		return v;
	buf_add_escaped(&b, p, n);
	v = json_stringn(b.p, b.len);
	buf_release(&b);
	return v != NULL ? v : json_string("?");
}

static const char *const secret_names[] = {
	"password", "passwd", "pass", "passphrase", "token", "access_token",
	"refresh_token", "id_token", "jwt", "bearer", "bearer_token",
	"api_key", "apikey", "x_api_key", "authorization",
	"proxy_authorization", "secret", "client_secret", "bouncer_key",
	"private_key", "cookie", "set_cookie", "credentials",
};
static const char *const secret_suffixes[] = {
	"_password", "_passwd", "_token", "_secret", "_api_key", "_apikey",
};

int
audit_key_is_secret(const char *key)
{
	char k[64];
	size_t n = strlen(key);

	if (n == 0 || n >= sizeof(k))
		return 0;
	/* "X-Api-Key", "API_KEY" and "api-key" are one name. */
	for (size_t i = 0; i <= n; i++) {
		char c = key[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (c == '-')
			c = '_';
		k[i] = c;
	}
	for (size_t i = 0; i < ARRAY_LEN(secret_names); i++)
		if (strcmp(k, secret_names[i]) == 0)
			return 1;
	for (size_t i = 0; i < ARRAY_LEN(secret_suffixes); i++) {
		size_t sl = strlen(secret_suffixes[i]);
		if (n > sl && strcmp(k + n - sl, secret_suffixes[i]) == 0)
			return 1;
	}
	return 0;
}

void
audit_redact(json_t *v)
{
	const char *key;
	json_t *m;
	size_t i;

	if (json_is_object(v)) {
		for (void *it = json_object_iter(v); it != NULL;
		    it = json_object_iter_next(v, it)) {
			key = json_object_iter_key(it);
			m = json_object_iter_value(it);
			if (audit_key_is_secret(key))
				json_object_iter_set_new(v, it,
				    json_string("***"));
			else
				audit_redact(m);
		}
	} else if (json_is_array(v)) {
		for (i = 0; i < json_array_size(v); i++)
			audit_redact(json_array_get(v, i));
	}
}

/* Every registered secret inside every string value becomes "***". */
static void
mask_secrets(const struct audit *a, json_t *v)
{
	if (json_is_object(v)) {
		for (void *it = json_object_iter(v); it != NULL;
		    it = json_object_iter_next(v, it))
			mask_secrets(a, json_object_iter_value(it));
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			mask_secrets(a, json_array_get(v, i));
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		struct buf b = BUF_INIT;
		int hit = 0;

		buf_add(&b, s, n);
		for (size_t k = 0; k < a->nsecrets; k++) {
			const char *sec = a->secrets[k];
			size_t sl = strlen(sec);
			struct buf o = BUF_INIT;
			const char *p = b.p, *h;
			size_t left = b.len;

			if (memmem(p, left, sec, sl) == NULL)
				continue;
			hit = 1;
			while ((h = memmem(p, left, sec, sl)) != NULL) {
				buf_add(&o, p, (size_t)(h - p));
				buf_add(&o, "***", 3);
				left -= (size_t)(h - p) + sl;
				p = h + sl;
			}
			buf_add(&o, p, left);
			explicit_bzero(b.p, b.len);
			buf_release(&b);
			b = o;
		}
		/* A secret that starts or ends inside a character would
		 * leave invalid UTF-8 behind: then the value is escaped. */
		if (hit && json_string_setn(v, b.p, b.len) != 0) {
			json_t *t = audit_str(b.p, b.len);
			json_string_setn(v, json_string_value(t),
			    json_string_length(t));
			json_decref(t);
		}
		if (hit)
			explicit_bzero(b.p, b.len);
		buf_release(&b);
	}
}

/* ---- records */

static int
write_line(struct audit *a, const char *p, size_t n, char *err,
    size_t errlen)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = write(a->fd, p + off, n - off);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "audit %s: write: %s", a->name,
			    strerror(errno));
			return -1;
		}
		if (w == 0) {
			snprintf(err, errlen, "audit %s: write wrote nothing",
			    a->name);
			return -1;
		}
		/* Short only when the disk is full or a signal came: the
		 * rest follows, the line may then be torn. */
		off += (size_t)w;
	}
	return 0;
}

static json_t *
record_head(const struct audit *a, const char *event)
{
	char ts[TIME_STRLEN];
	json_t *rec = json_object();

	time_format_rfc3339(clock_wall_ns(), ts, sizeof(ts));
	json_object_set_new(rec, "ts", json_string(ts));
	json_object_set_new(rec, "cycle", a->cycle != NULL ?
	    audit_str(a->cycle, strlen(a->cycle)) : json_null());
	json_object_set_new(rec, "event", audit_str(event, strlen(event)));
	return rec;
}

int
audit_event(struct audit *a, const char *event, const json_t *fields,
    char *err, size_t errlen)
{
	json_t *rec = NULL, *copy = NULL, *m;
	const char *key;
	char *text = NULL;
	struct buf line = BUF_INIT;
	size_t n;
	int ret = -1;

	if (a == NULL)
		return 0;
	if (event == NULL || *event == '\0')
		event = "?";
	rec = record_head(a, event);
	if (fields != NULL && json_is_object(fields)) {
		copy = json_deep_copy(fields);
		if (copy == NULL) {
			snprintf(err, errlen, "audit: out of memory");
			goto done;
		}
		for (void *it = json_object_iter(copy); it != NULL;
		    it = json_object_iter_next(copy, it)) {
			key = json_object_iter_key(it);
			m = json_object_iter_value(it);
			if (strcmp(key, "ts") == 0 || strcmp(key, "cycle") == 0 ||
			    strcmp(key, "event") == 0) {
				struct buf k = BUF_INIT;
				buf_addf(&k, "_%s", key);
				json_object_set(rec, k.p, m);
				buf_release(&k);
			} else
				json_object_set(rec, key, m);
		}
	} else if (fields != NULL) {
		/* Not an object: kept, under a name of its own. */
		copy = json_deep_copy(fields);
		json_object_set(rec, "value", copy);
	}
	audit_redact(rec);
	mask_secrets(a, rec);
	text = json_dumps(rec, JSON_COMPACT);
	if (text == NULL) {
		snprintf(err, errlen, "audit: cannot format a record");
		goto done;
	}
	n = strlen(text);
	if (n + 1 > AUDIT_RECORD_MAX) {
		json_decref(rec);
		rec = record_head(a, event);
		json_object_set_new(rec, "truncated", json_true());
		json_object_set_new(rec, "bytes", json_integer((json_int_t)n));
		free(text);
		text = json_dumps(rec, JSON_COMPACT);
		if (text == NULL) {
			snprintf(err, errlen, "audit: cannot format a record");
			goto done;
		}
		n = strlen(text);
	}
	buf_add(&line, text, n);
	buf_addch(&line, '\n');
	ret = write_line(a, line.p, line.len, err, errlen);
done:
	free(text);
	json_decref(copy);
	json_decref(rec);
	buf_release(&line);
	return ret;
}

int
audit_eventf(struct audit *a, const char *event, char *err, size_t errlen,
    const char *fmt, ...)
{
	json_error_t je;
	json_t *fields;
	va_list ap;
	int ret;

	if (a == NULL)
		return 0;
	va_start(ap, fmt);
	fields = json_vpack_ex(&je, 0, fmt, ap);
	va_end(ap);
	if (fields == NULL) {
		/* The record still goes out, saying what went wrong, so the
		 * trail shows that something happened here. */
		json_t *f = json_object();
		json_object_set_new(f, "audit_error", audit_str(je.text,
		    strlen(je.text)));
		audit_event(a, event, f, err, errlen);
		json_decref(f);
		snprintf(err, errlen, "audit: fields of \"%s\": %s", event,
		    je.text);
		return -1;
	}
	ret = audit_event(a, event, fields, err, errlen);
	json_decref(fields);
	return ret;
}
