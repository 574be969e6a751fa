/*
 * The dedup state: which IPs and ranges we banned and until when.
 *
 * LAPI accepts the same ban as often as it is sent, so without this every
 * cycle would push another alert for a client still banned.  The file is
 * a cache of facts LAPI already holds, and it is designed to fail towards
 * banning again: a file that cannot be trusted is set aside and the run
 * starts empty, which costs at most one duplicate ban per client, whereas
 * a half-trusted file could hide a ban that never happened.  For the same
 * reason entries are added only after LAPI answered 201.
 *
 * Writes are atomic (temp file, fsync, rename, fsync of the directory), so
 * a crash at any moment leaves either the old or the new file.  Two runs
 * must not interleave their read-modify-write, hence the flock on a
 * separate PATH.lock: locking the state file itself would not survive the
 * rename that replaces it.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "anomaly.h"

void
state_init(struct state *st)
{
	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
}

void
state_release(struct state *st)
{
	if (st->lock_fd != -1)
		close(st->lock_fd); /* drops the flock */
	free(st->path);
	free(st->v);
	state_init(st);
}

static size_t
max_entries(const struct state *st)
{
	return st->max_entries != 0 ? st->max_entries :
	    STATE_MAX_ENTRIES_DEFAULT;
}

static void
set_path(struct state *st, const char *path)
{
	if (st->path != NULL && strcmp(st->path, path) == 0)
		return;
	free(st->path);
	st->path = xstrdup(path);
}

/* ---- values */

int
state_canon(const char *value, char *out, size_t outlen, const char **scope,
    char *err, size_t errlen)
{
	struct span s;
	char tmp[LAPI_VALUE_MAX];

	if (value == NULL || *value == '\0') {
		snprintf(err, errlen, "empty IP address or range");
		return -1;
	}
	s = span_str(value);
	if (s.n >= LAPI_VALUE_MAX) {
		snprintf(err, errlen, "not an IP address or range: too long");
		return -1;
	}
	if (memchr(s.p, '/', s.n) != NULL) {
		struct cidr c;
		if (cidr_parse(s, &c, err, errlen) != 0)
			return -1;
		cidr_format(&c, tmp, sizeof(tmp));
		*scope = "Range";
	} else {
		struct ipaddr a;
		if (ipaddr_parse(s, &a) != 0) {
			struct buf b = BUF_INIT;
			buf_add_escaped(&b, s.p, s.n);
			snprintf(err, errlen, "not an IP address: \"%s\"", b.p);
			buf_release(&b);
			return -1;
		}
		ipaddr_format(&a, tmp, sizeof(tmp));
		*scope = "Ip";
	}
	if (strlen(tmp) >= outlen) {
		snprintf(err, errlen, "no room for the address");
		return -1;
	}
	memcpy(out, tmp, strlen(tmp) + 1);
	return 0;
}

/* ---- the table: sorted by value, one entry per value */

/* Index of value, or -1 with *pos where it would go. */
static long
find_idx(const struct state *st, const char *value, size_t *pos)
{
	size_t lo = 0, hi = st->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(st->v[mid].value, value);
		if (c == 0) {
			*pos = mid;
			return (long)mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return -1;
}

static void
drop_idx(struct state *st, size_t i)
{
	memmove(&st->v[i], &st->v[i + 1],
	    (st->n - i - 1) * sizeof(st->v[0]));
	st->n--;
}

/* Inserts or replaces; keeps the order. */
static void
put_entry(struct state *st, const struct state_entry *e)
{
	size_t pos;

	if (find_idx(st, e->value, &pos) >= 0) {
		st->v[pos] = *e;
		return;
	}
	if (st->n == st->cap) {
		st->cap = st->cap != 0 ? st->cap * 2 : 64;
		st->v = xreallocarray(st->v, st->cap, sizeof(st->v[0]));
	}
	memmove(&st->v[pos + 1], &st->v[pos], (st->n - pos) * sizeof(st->v[0]));
	st->v[pos] = *e;
	st->n++;
}

void
state_prune(struct state *st, int64_t now_ns)
{
	size_t j = 0;

	for (size_t i = 0; i < st->n; i++)
		if (st->v[i].until_ns > now_ns)
			st->v[j++] = st->v[i];
	st->n = j;
}

struct cap_ref {
	int64_t until;
	size_t idx;
};

static int
cap_cmp(const void *a, const void *b)
{
	const struct cap_ref *x = a, *y = b;

	if (x->until != y->until)
		return x->until < y->until ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Over the cap, the entries that expire first go: they protect the
 * shortest time, so dropping them costs the fewest duplicate bans.
 */
static void
enforce_cap(struct state *st)
{
	size_t max = max_entries(st), excess, j;

	if (st->n <= max)
		return;
	excess = st->n - max;
	st->dropped_cap += excess;
	log_warnx("state %s: %zu entries exceed the cap of %zu; dropping the "
	    "%zu expiring first (those clients may be banned again)",
	    st->path != NULL ? st->path : "(memory)", st->n, max, excess);
	if (excess == 1) {
		size_t m = 0;
		for (size_t i = 1; i < st->n; i++)
			if (st->v[i].until_ns < st->v[m].until_ns)
				m = i;
		drop_idx(st, m);
		return;
	}
	struct cap_ref *r = xreallocarray(NULL, st->n, sizeof(*r));
	unsigned char *gone = xcalloc(st->n, 1);
	for (size_t i = 0; i < st->n; i++) {
		r[i].until = st->v[i].until_ns;
		r[i].idx = i;
	}
	qsort(r, st->n, sizeof(*r), cap_cmp);
	for (size_t i = 0; i < excess; i++)
		gone[r[i].idx] = 1;
	j = 0;
	for (size_t i = 0; i < st->n; i++)
		if (!gone[i])
			st->v[j++] = st->v[i];
	st->n = j;
	free(gone);
	free(r);
}

const struct state_entry *
state_find(const struct state *st, const char *value, int64_t now_ns)
{
	char canon[LAPI_VALUE_MAX], err[160];
	const char *scope;
	size_t pos;

	if (state_canon(value, canon, sizeof(canon), &scope, err,
	    sizeof(err)) != 0)
		return NULL;
	if (find_idx(st, canon, &pos) < 0 || st->v[pos].until_ns <= now_ns)
		return NULL;
	return &st->v[pos];
}

const struct state_entry *
state_find_covering(const struct state *st, const struct ipaddr *a,
    int64_t now_ns)
{
	char err[160];

	for (size_t i = 0; i < st->n; i++) {
		const struct state_entry *e = &st->v[i];
		struct cidr c;
		if (e->until_ns <= now_ns || strcmp(e->scope, "Range") != 0)
			continue;
		if (cidr_parse(span_str(e->value), &c, err, sizeof(err)) == 0 &&
		    cidr_contains(&c, a))
			return e;
	}
	return NULL;
}

static int
copy_field(char *dst, size_t dstlen, const char *src, size_t n,
    const char *what, char *err, size_t errlen)
{
	if (n >= dstlen) {
		snprintf(err, errlen, "%s longer than %zu bytes", what,
		    dstlen - 1);
		return -1;
	}
	if (memchr(src, '\0', n) != NULL) {
		snprintf(err, errlen, "%s holds a NUL byte", what);
		return -1;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int
state_add(struct state *st, const char *value, const char *scenario,
    const char *alert_id, int64_t until_ns, int64_t now_ns, char *err,
    size_t errlen)
{
	struct state_entry e;
	const char *scope;

	memset(&e, 0, sizeof(e));
	if (state_canon(value, e.value, sizeof(e.value), &scope, err,
	    errlen) != 0)
		return -1;
	snprintf(e.scope, sizeof(e.scope), "%s", scope);
	if (copy_field(e.scenario, sizeof(e.scenario), scenario != NULL ?
	    scenario : "", scenario != NULL ? strlen(scenario) : 0,
	    "scenario", err, errlen) != 0 ||
	    copy_field(e.alert_id, sizeof(e.alert_id), alert_id != NULL ?
	    alert_id : "", alert_id != NULL ? strlen(alert_id) : 0,
	    "alert id", err, errlen) != 0)
		return -1;
	if (until_ns == TIME_NONE) {
		snprintf(err, errlen, "no expiry time");
		return -1;
	}
	e.until_ns = until_ns;
	e.created_ns = now_ns;
	put_entry(st, &e);
	enforce_cap(st);
	return 0;
}

int
state_remove(struct state *st, const char *value)
{
	char canon[LAPI_VALUE_MAX], err[160];
	const char *scope;
	size_t pos;

	if (state_canon(value, canon, sizeof(canon), &scope, err,
	    sizeof(err)) != 0)
		return 0;
	if (find_idx(st, canon, &pos) < 0)
		return 0;
	drop_idx(st, pos);
	return 1;
}

/* ---- the document */

void
state_format(const struct state *st, struct buf *out)
{
	char t[TIME_STRLEN];

	buf_addf(out, "{\"version\":%d,\"entries\":[", STATE_VERSION);
	for (size_t i = 0; i < st->n; i++) {
		const struct state_entry *e = &st->v[i];
		buf_addstr(out, i == 0 ? "\n" : ",\n");
		buf_addstr(out, "{\"value\":");
		buf_add_json_str(out, e->value, strlen(e->value));
		buf_addstr(out, ",\"scope\":");
		buf_add_json_str(out, e->scope, strlen(e->scope));
		buf_addstr(out, ",\"scenario\":");
		buf_add_json_str(out, e->scenario, strlen(e->scenario));
		time_format_rfc3339(e->until_ns, t, sizeof(t));
		buf_addstr(out, ",\"until\":");
		buf_add_json_str(out, t, strlen(t));
		buf_addstr(out, ",\"alert_id\":");
		buf_add_json_str(out, e->alert_id, strlen(e->alert_id));
		time_format_rfc3339(e->created_ns, t, sizeof(t));
		buf_addstr(out, ",\"created\":");
		buf_add_json_str(out, t, strlen(t));
		buf_addch(out, '}');
	}
	buf_addstr(out, "\n]}\n");
}

static int
get_str(json_t *o, const char *key, size_t i, const char **p, size_t *n,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v)) {
		snprintf(err, errlen, "entry #%zu: \"%s\" missing or not a "
		    "string", i + 1, key);
		return -1;
	}
	*p = json_string_value(v);
	*n = json_string_length(v);
	return 0;
}

static int
get_time(json_t *o, const char *key, size_t i, int64_t *out, char *err,
    size_t errlen)
{
	const char *p;
	size_t n;

	if (get_str(o, key, i, &p, &n, err, errlen) != 0)
		return -1;
	if (time_parse_rfc3339((struct span){ p, n }, out) != 0 ||
	    *out == TIME_NONE) {
		snprintf(err, errlen, "entry #%zu: \"%s\" is not an RFC 3339 "
		    "time", i + 1, key);
		return -1;
	}
	return 0;
}

static int
parse_entry(json_t *o, size_t i, struct state_entry *e, char *err,
    size_t errlen)
{
	const char *p, *scope;
	size_t n;
	char why[200], raw[LAPI_VALUE_MAX];

	memset(e, 0, sizeof(*e));
	if (!json_is_object(o)) {
		snprintf(err, errlen, "entry #%zu is not an object", i + 1);
		return -1;
	}
	if (get_str(o, "value", i, &p, &n, err, errlen) != 0)
		return -1;
	if (copy_field(raw, sizeof(raw), p, n, "value", why,
	    sizeof(why)) != 0 ||
	    state_canon(raw, e->value, sizeof(e->value), &scope, why,
	    sizeof(why)) != 0) {
		snprintf(err, errlen, "entry #%zu: %s", i + 1, why);
		return -1;
	}
	if (get_str(o, "scope", i, &p, &n, err, errlen) != 0)
		return -1;
	if (n != strlen(scope) || memcmp(p, scope, n) != 0) {
		snprintf(err, errlen, "entry #%zu: scope does not match the "
		    "value (want \"%s\")", i + 1, scope);
		return -1;
	}
	snprintf(e->scope, sizeof(e->scope), "%s", scope);
	if (get_str(o, "scenario", i, &p, &n, err, errlen) != 0)
		return -1;
	if (copy_field(e->scenario, sizeof(e->scenario), p, n, "scenario",
	    why, sizeof(why)) != 0) {
		snprintf(err, errlen, "entry #%zu: %s", i + 1, why);
		return -1;
	}
	if (get_str(o, "alert_id", i, &p, &n, err, errlen) != 0)
		return -1;
	if (copy_field(e->alert_id, sizeof(e->alert_id), p, n, "alert_id",
	    why, sizeof(why)) != 0) {
		snprintf(err, errlen, "entry #%zu: %s", i + 1, why);
		return -1;
	}
	if (get_time(o, "until", i, &e->until_ns, err, errlen) != 0 ||
	    get_time(o, "created", i, &e->created_ns, err, errlen) != 0)
		return -1;
	return 0;
}

int
state_parse(struct state *st, const char *p, size_t n, int64_t now_ns,
    char *err, size_t errlen)
{
	json_t *root = NULL, *ver, *ents;
	json_error_t je;
	struct state_entry e;
	int ret = -1;

	st->n = 0;
	if (n > STATE_MAX_FILE) {
		snprintf(err, errlen, "larger than %u bytes", STATE_MAX_FILE);
		goto done;
	}
	root = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		struct buf b = BUF_INIT;
		buf_add_escaped(&b, je.text, strlen(je.text));
		snprintf(err, errlen, "not JSON: %s (line %d, column %d)", b.p,
		    je.line, je.column);
		buf_release(&b);
		goto done;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object");
		goto done;
	}
	ver = json_object_get(root, "version");
	if (!json_is_integer(ver)) {
		snprintf(err, errlen, "no \"version\" number");
		goto done;
	}
	if (json_integer_value(ver) != STATE_VERSION) {
		snprintf(err, errlen, "version %lld, this program reads "
		    "version %d", (long long)json_integer_value(ver),
		    STATE_VERSION);
		goto done;
	}
	ents = json_object_get(root, "entries");
	if (!json_is_array(ents)) {
		snprintf(err, errlen, "no \"entries\" array");
		goto done;
	}
	for (size_t i = 0; i < json_array_size(ents); i++) {
		size_t pos;
		long at;
		if (parse_entry(json_array_get(ents, i), i, &e, err,
		    errlen) != 0)
			goto done;
		if (e.until_ns <= now_ns)
			continue;
		/* Two entries for one value (two spellings of an IPv6
		 * address): the later expiry wins. */
		at = find_idx(st, e.value, &pos);
		if (at >= 0 && st->v[at].until_ns >= e.until_ns)
			continue;
		put_entry(st, &e);
	}
	enforce_cap(st);
	ret = 0;
done:
	if (ret != 0)
		st->n = 0;
	json_decref(root);
	return ret;
}

/* ---- files */

static void
split_path(const char *path, struct buf *dir, const char **base)
{
	const char *slash = strrchr(path, '/');

	buf_reset(dir);
	if (slash == NULL) {
		buf_addstr(dir, ".");
		*base = path;
	} else if (slash == path) {
		buf_addstr(dir, "/");
		*base = slash + 1;
	} else {
		buf_add(dir, path, (size_t)(slash - path));
		*base = slash + 1;
	}
}

int
state_lock(struct state *st, const char *path, char *err, size_t errlen)
{
	struct buf lp = BUF_INIT;
	int fd = -1, ret = -1;

	if (st->lock_fd != -1) {
		snprintf(err, errlen, "state lock already held");
		goto done;
	}
	buf_addf(&lp, "%s.lock", path);
	fd = open(lp.p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", lp.p, strerror(errno));
		goto done;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			snprintf(err, errlen, "another anomaly-detect run holds "
			    "the state lock (%s)", lp.p);
		else
			snprintf(err, errlen, "%s: flock: %s", lp.p,
			    strerror(errno));
		goto done;
	}
	st->lock_fd = fd;
	fd = -1;
	set_path(st, path);
	ret = 0;
done:
	if (fd != -1)
		close(fd);
	buf_release(&lp);
	return ret;
}

/* Temp files of a run that was killed mid-save.  Only with the lock: a
 * run holding it could be writing one right now otherwise. */
static void
sweep_temps(const char *path)
{
	struct buf dir = BUF_INIT, pre = BUF_INIT;
	const char *base;
	struct dirent *de;
	DIR *d;
	int dfd;

	split_path(path, &dir, &base);
	buf_addf(&pre, "%s.tmp.", base);
	d = opendir(dir.p);
	if (d == NULL)
		goto done;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, pre.p, pre.len) == 0 &&
		    de->d_name[pre.len] != '\0' &&
		    strspn(de->d_name + pre.len, "0123456789") ==
		    strlen(de->d_name + pre.len)) {
			if (unlinkat(dfd, de->d_name, 0) == 0)
				log_debug("state: removed %s/%s, left by an "
				    "interrupted save", dir.p, de->d_name);
		}
	}
	closedir(d);
done:
	buf_release(&dir);
	buf_release(&pre);
}

/* PATH.corrupt-20261125T180352Z, -1, -2 ... when taken. */
static int
set_aside(const char *path, int64_t now_ns, struct buf *dst, char *err,
    size_t errlen)
{
	char t[TIME_STRLEN], stamp[32];
	size_t k = 0;

	time_format_rfc3339(now_ns, t, sizeof(t));
	for (size_t i = 0; i < 19 && t[i] != '\0' && k + 1 < sizeof(stamp);
	    i++)
		if (t[i] != '-' && t[i] != ':')
			stamp[k++] = t[i];
	stamp[k] = '\0';
	for (int n = 0; n < 1000; n++) {
		buf_reset(dst);
		buf_addf(dst, "%s.corrupt-%sZ", path, stamp);
		if (n > 0)
			buf_addf(dst, "-%d", n);
		if (renameat2(AT_FDCWD, path, AT_FDCWD, dst->p,
		    RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == EEXIST)
			continue;
		if (errno == EINVAL || errno == ENOSYS) {
			/* A file system without RENAME_NOREPLACE. */
			if (access(dst->p, F_OK) == 0)
				continue;
			if (rename(path, dst->p) == 0)
				return 0;
		}
		snprintf(err, errlen, "cannot move the corrupt state file %s "
		    "aside: %s", path, strerror(errno));
		return -1;
	}
	snprintf(err, errlen, "cannot move the corrupt state file %s aside: "
	    "too many earlier ones", path);
	return -1;
}

int
state_load(struct state *st, const char *path, int64_t now_ns, char *err,
    size_t errlen)
{
	struct buf data = BUF_INIT, aside = BUF_INIT;
	char why[512];
	struct stat sb;
	int fd = -1, ret = -1;

	set_path(st, path);
	st->n = 0;
	if (st->lock_fd != -1)
		sweep_temps(path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT) {
			ret = 0;
			goto done;
		}
		snprintf(err, errlen, "state file %s: %s", path,
		    strerror(errno));
		goto done;
	}
	if (fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "state file %s: %s", path,
		    strerror(errno));
		goto done;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "state file %s is not a regular file",
		    path);
		goto done;
	}
	/* Read at most one byte past the cap, to tell "too big" apart. */
	for (;;) {
		ssize_t r;
		if (data.len > STATE_MAX_FILE)
			break;
		buf_grow(&data, 65536);
		r = read(fd, data.p + data.len, data.cap - data.len - 1);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "state file %s: read: %s", path,
			    strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		data.len += (size_t)r;
		data.p[data.len] = '\0';
	}
	close(fd);
	fd = -1;
	if (state_parse(st, data.p, data.len, now_ns, why, sizeof(why)) == 0) {
		ret = 0;
		goto done;
	}
	if (set_aside(path, now_ns, &aside, err, errlen) != 0)
		goto done;
	log_warnx("state file %s is unusable (%s); moved to %s; starting "
	    "empty: clients still banned may be banned again", path, why,
	    aside.p);
	st->n = 0;
	ret = 0;
done:
	if (fd != -1)
		close(fd);
	buf_release(&data);
	buf_release(&aside);
	return ret;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
state_save(struct state *st, int64_t now_ns, char *err, size_t errlen)
{
	struct buf doc = BUF_INIT, tmp = BUF_INIT, dir = BUF_INIT;
	const char *base;
	int fd = -1, dfd = -1, ret = -1, made = 0;

	if (st->path == NULL) {
		snprintf(err, errlen, "state has no file");
		goto done;
	}
	state_prune(st, now_ns);
	enforce_cap(st);
	state_format(st, &doc);
	split_path(st->path, &dir, &base);
	buf_addf(&tmp, "%s.tmp.%ld", st->path, (long)getpid());
	fd = open(tmp.p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		snprintf(err, errlen, "state: %s: %s", tmp.p, strerror(errno));
		goto done;
	}
	made = 1;
	/* umask could only take bits away; a file left by an older run
	 * could have more. */
	if (fchmod(fd, 0600) == -1 || write_all(fd, doc.p, doc.len) == -1 ||
	    fsync(fd) == -1) {
		snprintf(err, errlen, "state: writing %s: %s", tmp.p,
		    strerror(errno));
		goto done;
	}
	if (close(fd) == -1) {
		fd = -1;
		snprintf(err, errlen, "state: writing %s: %s", tmp.p,
		    strerror(errno));
		goto done;
	}
	fd = -1;
	if (rename(tmp.p, st->path) == -1) {
		snprintf(err, errlen, "state: renaming %s to %s: %s", tmp.p,
		    st->path, strerror(errno));
		goto done;
	}
	made = 0;
	/* The rename is durable only once the directory is on disk. */
	dfd = open(dir.p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1 || fsync(dfd) == -1) {
		snprintf(err, errlen, "state: fsync of directory %s: %s", dir.p,
		    strerror(errno));
		goto done;
	}
	ret = 0;
done:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	if (made)
		unlink(tmp.p);
	buf_release(&doc);
	buf_release(&tmp);
	buf_release(&dir);
	return ret;
}

/* ---- where */

static int
mkdir_0700(const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (mkdir(path, 0700) == 0 || errno == EEXIST) {
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			return 0;
		snprintf(err, errlen, "%s exists and is not a directory", path);
		return -1;
	}
	snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
	return -1;
}

/* mkdir -p, each missing component 0700. */
static int
mkdirs_0700(const char *path, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	int ret = -1;

	buf_addstr(&b, path);
	for (size_t i = 1; i < b.len; i++) {
		if (b.p[i] != '/' || b.p[i - 1] == '/')
			continue;
		b.p[i] = '\0';
		if (mkdir_0700(b.p, err, errlen) != 0)
			goto done;
		b.p[i] = '/';
	}
	if (mkdir_0700(b.p, err, errlen) != 0)
		goto done;
	ret = 0;
done:
	buf_release(&b);
	return ret;
}

int
state_default_path(char *out, size_t outlen, char *err, size_t errlen)
{
	struct buf dir = BUF_INIT;
	const char *x, *home;
	int ret = -1;

	if (geteuid() == 0)
		buf_addstr(&dir, "/var/lib/anomaly-detect");
	else {
		x = getenv("XDG_STATE_HOME");
		home = getenv("HOME");
		/* The XDG spec: a relative value is invalid and ignored. */
		if (x != NULL && x[0] == '/')
			buf_addstr(&dir, x);
		else if (home != NULL && home[0] == '/')
			buf_addf(&dir, "%s/.local/state", home);
		else {
			snprintf(err, errlen, "cannot choose a state file: "
			    "neither XDG_STATE_HOME nor HOME is an absolute "
			    "path (use --state-file)");
			goto done;
		}
		while (dir.len > 1 && dir.p[dir.len - 1] == '/')
			dir.p[--dir.len] = '\0';
		buf_addstr(&dir, "/anomaly-detect");
	}
	if (mkdirs_0700(dir.p, err, errlen) != 0)
		goto done;
	if (dir.len + sizeof("/state.json") > outlen) {
		snprintf(err, errlen, "state file path too long");
		goto done;
	}
	snprintf(out, outlen, "%s/state.json", dir.p);
	ret = 0;
done:
	buf_release(&dir);
	return ret;
}
