/*
 * The ban pipeline: proposal -> guard -> (apply) LAPI -> state, with
 * every step in the audit trail.
 *
 * Order matters for safety.  The guard judges each value against the
 * logs itself, so a proposer (analyst or model) cannot ban what the logs
 * do not show.  The state file is written only after LAPI answered 201:
 * a failed push is never recorded, so the next cycle tries again, and a
 * crash between the push and the save costs at worst a duplicate ban
 * (harmless), never a missed one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "anomaly.h"

#define PASSWORD_MAX 4096

void
ban_results_init(struct ban_results *b)
{
	memset(b, 0, sizeof(*b));
}

void
ban_results_release(struct ban_results *b)
{
	free(b->v);
	memset(b, 0, sizeof(*b));
}

static struct ban_result *
result_new(struct ban_results *b)
{
	struct ban_result *r;

	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->v = xreallocarray(b->v, b->cap, sizeof(*b->v));
	}
	r = &b->v[b->n++];
	memset(r, 0, sizeof(*r));
	r->first_ns = r->last_ns = r->until_ns = TIME_NONE;
	return r;
}

static json_t *
jtime(int64_t ns)
{
	char t[TIME_STRLEN];

	if (ns == TIME_NONE)
		return json_null();
	time_format_rfc3339(ns, t, sizeof(t));
	return json_string(t);
}

/* One record per verdict: the trail shows every decision, not only the
 * bans that went out. */
static void
audit_verdict(const struct ban_ctx *c, const struct ban_result *r)
{
	char err[256];

	if (c->audit == NULL)
		return;
	if (audit_eventf(c->audit, "verdict", err, sizeof(err),
	    "{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:I,s:o,s:o,s:o,s:s,s:o,s:f}",
	    "mode", c->apply ? "apply" : "dry-run",
	    "value", r->value,
	    "scope", ban_scope_name(r->scope),
	    "scenario", r->scenario != NULL ? r->scenario : "",
	    "verdict", r->verdict,
	    "code", r->code != NULL ? json_string(r->code) : json_null(),
	    "reason", audit_str(r->reason, strlen(r->reason)),
	    "events", (json_int_t)r->events,
	    "first", jtime(r->first_ns),
	    "last", jtime(r->last_ns),
	    "error", r->error[0] ? audit_str(r->error, strlen(r->error)) :
	    json_null(),
	    "alert_id", r->alert_id,
	    "until", jtime(r->until_ns),
	    "seconds", r->seconds) != 0)
		log_warnx("%s", err);
}

/* Up to LAPI_EVENTS_MAX sample requests that are the banned value's own:
 * a cohort finding's samples may come from other members. */
static size_t
alert_events(const struct finding *f, const struct ban_result *r,
    struct lapi_event *ev, size_t max)
{
	struct cidr range;
	struct ipaddr want;
	size_t n = 0;
	int is_range = r->scope == BAN_RANGE;
	char cerr[64];

	memset(&want, 0, sizeof(want));
	memset(&range, 0, sizeof(range));
	if (is_range) {
		if (cidr_parse(span_str(r->value), &range, cerr,
		    sizeof(cerr)) != 0)
			return 0;
	} else if (ipaddr_parse(span_str(r->value), &want) != 0)
		return 0;
	for (size_t i = 0; i < f->nsamples && n < max; i++) {
		const struct fsample *s = &f->samples[i];
		struct ipaddr a;
		int64_t t;
		uint64_t st;

		if (s->client == NULL ||
		    ipaddr_parse_loose(span_str(s->client), &a) != 0)
			continue;
		if (is_range ? !cidr_contains(&range, &a) :
		    ipaddr_cmp(&a, &want) != 0)
			continue;
		if (s->time == NULL ||
		    time_parse_rfc3339(span_str(s->time), &t) != 0)
			continue;
		memset(&ev[n], 0, sizeof(ev[n]));
		ev[n].time_ns = t;
		ev[n].method = span_str(s->method != NULL ? s->method : "");
		ev[n].path = span_str(s->uri != NULL ? s->uri : "");
		ev[n].user_agent = span_str(s->ua != NULL ? s->ua : "");
		ev[n].source_ip = is_range ? span_str(s->client) : SPAN_NULL;
		if (s->status != NULL &&
		    parse_u64(span_str(s->status), &st) == 0 && st < 1000)
			ev[n].status = (int)st;
		n++;
	}
	return n;
}

static void
push(const struct ban_ctx *c, const struct finding *f, struct ban_result *r)
{
	struct lapi_event ev[LAPI_EVENTS_MAX];
	struct lapi_alert al;
	char msg[1024], err[512];
	int64_t t0 = clock_mono_ns(), until = TIME_NONE;

	memset(&al, 0, sizeof(al));
	snprintf(msg, sizeof(msg), "%s %s: %s", ban_scope_name(r->scope),
	    r->value, f->sentence != NULL ? f->sentence : f->scenario);
	al.scenario = f->scenario;
	al.message = msg;
	al.value = r->value;
	al.duration_ns = c->duration_ns;
	al.events_count = r->events;
	al.start_ns = r->first_ns != TIME_NONE ? r->first_ns : f->first_ns;
	al.stop_ns = r->last_ns != TIME_NONE ? r->last_ns : f->last_ns;
	if (al.start_ns == TIME_NONE)
		al.start_ns = c->now_ns;
	if (al.stop_ns == TIME_NONE)
		al.stop_ns = al.start_ns;
	al.events = ev;
	al.nevents = alert_events(f, r, ev, ARRAY_LEN(ev));

	if (lapi_push_ban(c->lapi, &al, r->alert_id, sizeof(r->alert_id),
	    &until, err, sizeof(err)) != 0) {
		r->verdict = "failed";
		snprintf(r->error, sizeof(r->error), "%s", err);
	} else {
		r->verdict = "banned";
		r->until_ns = until;
	}
	if (c->audit != NULL) {
		char aerr[256];
		if (audit_eventf(c->audit, "lapi", aerr, sizeof(aerr),
		    "{s:s,s:s,s:s,s:I,s:s,s:i,s:i,s:o,s:s,s:f}",
		    "request", "push_ban", "value", r->value,
		    "outcome", r->verdict, "events_count",
		    (json_int_t)al.events_count, "kind",
		    lapi_errkind_name(c->lapi->err_kind),
		    "status", c->lapi->err_status,
		    "attempts", c->lapi->attempts,
		    "error", r->error[0] ? audit_str(r->error,
		    strlen(r->error)) : json_null(),
		    "alert_id", r->alert_id,
		    "seconds", (double)(clock_mono_ns() - t0) / 1e9) != 0)
			log_warnx("%s", aerr);
	}
	if (r->verdict[0] == 'f') {
		log_warnx("ban %s: %s", r->value, r->error);
		return;
	}
	log_info("banned %s (%s) until alert %s", r->value, f->scenario,
	    r->alert_id);
	/* Recorded only now that LAPI has it. */
	if (c->state != NULL) {
		if (state_add(c->state, r->value, f->scenario, r->alert_id,
		    until, c->now_ns, err, sizeof(err)) != 0 ||
		    state_save(c->state, c->now_ns, err, sizeof(err)) != 0) {
			/* The ban stands in LAPI; a lost record costs at worst
			 * a duplicate ban next cycle. */
			log_warnx("state: %s", err);
			if (c->audit != NULL) {
				char aerr[256];
				audit_eventf(c->audit, "state_error", aerr,
				    sizeof(aerr), "{s:s,s:o}", "value",
				    r->value, "error",
				    audit_str(err, strlen(err)));
			}
		}
	}
}

void
ban_propose(const struct ban_ctx *c, const struct report *cohorts,
    const struct finding *f, const char *value, struct ban_results *out)
{
	struct guard_verdict v;
	struct ban_result *r;
	enum guard_code code;
	int64_t t0 = clock_mono_ns();

	memset(&v, 0, sizeof(v));
	code = guard_judge(c->guard, c->src, c->start_ns, c->end_ns, cohorts,
	    value, c->now_ns, &v);
	r = result_new(out);
	snprintf(r->value, sizeof(r->value), "%s", v.value[0] ? v.value :
	    value);
	r->scope = v.value[0] ? v.scope :
	    (strchr(value, '/') != NULL ? BAN_RANGE : BAN_IP);
	r->scenario = f->scenario;
	r->code = guard_code_name(code);
	r->events = v.events;
	r->first_ns = v.first_ns;
	r->last_ns = v.last_ns;
	if (code == GUARD_OK) {
		snprintf(r->reason, sizeof(r->reason), "%s",
		    f->sentence != NULL ? f->sentence : f->scenario);
		if (c->apply && c->lapi == NULL) {
			/* A caller's mistake; never a silent dry-run. */
			r->verdict = "failed";
			snprintf(r->error, sizeof(r->error), "apply mode "
			    "without LAPI");
		} else if (c->apply)
			push(c, f, r);
		else
			r->verdict = "dry-run";
	} else {
		snprintf(r->reason, sizeof(r->reason), "%s", v.reason[0] ?
		    v.reason : guard_code_name(code));
		r->verdict = code == GUARD_DUPLICATE ? "skipped" : "refused";
	}
	switch (r->verdict[0]) {
	case 'b':
		out->banned++;
		break;
	case 'f':
		out->failed++;
		break;
	case 's':
		out->skipped++;
		break;
	case 'r':
		out->refused++;
		break;
	default:
		out->dry++;
	}
	r->seconds = (double)(clock_mono_ns() - t0) / 1e9;
	audit_verdict(c, r);
}

static int
inside_accepted(const struct ban_results *out, size_t from,
    const struct ipaddr *a)
{
	for (size_t i = from; i < out->n; i++) {
		const struct ban_result *r = &out->v[i];
		struct cidr cr;
		char cerr[64];

		if (r->scope != BAN_RANGE || r->verdict[0] == 'r' ||
		    r->verdict[0] == 'f')
			continue;
		if (cidr_parse(span_str(r->value), &cr, cerr,
		    sizeof(cerr)) == 0 && cidr_contains(&cr, a))
			return 1;
	}
	return 0;
}

static int
seen_before(const struct ban_results *out, size_t from, const char *value)
{
	for (size_t i = from; i < out->n; i++)
		if (strcmp(out->v[i].value, value) == 0)
			return 1;
	return 0;
}

/* The order of report_decide: most severe finding first. */
static int
finding_order(const void *x, const void *y)
{
	const struct finding *const *a = x, *const *b = y;

	if ((*a)->severity != (*b)->severity)
		return (*a)->severity > (*b)->severity ? -1 : 1;
	return strcmp((*a)->subject, (*b)->subject);
}

unsigned
ban_report(const struct ban_ctx *c, const struct report *r,
    struct ban_results *out)
{
	const struct finding **order;
	size_t from = out->n;
	unsigned failed0 = out->failed;

	if (r->nf == 0)
		return 0;
	order = xcalloc(r->nf, sizeof(*order));
	for (size_t i = 0; i < r->nf; i++)
		order[i] = &r->f[i];
	qsort(order, r->nf, sizeof(*order), finding_order);
	for (size_t i = 0; i < r->nf; i++) {
		const struct finding *f = order[i];

		if (f->range.addr.family != 0) {
			char txt[IPADDR_STRLEN + 8];
			cidr_format(&f->range, txt, sizeof(txt));
			if (!seen_before(out, from, txt))
				ban_propose(c, r, f, txt, out);
		}
		for (size_t m = 0; m < f->nmembers; m++) {
			struct ipaddr a;

			if (ipaddr_parse(span_str(f->members[m]), &a) == 0 &&
			    inside_accepted(out, from, &a))
				continue;
			if (seen_before(out, from, f->members[m]))
				continue;
			ban_propose(c, r, f, f->members[m], out);
		}
	}
	free(order);
	return out->failed - failed0;
}

void
ban_results_json(const struct ban_results *b, struct buf *o)
{
	buf_addstr(o, "\"bans\":[");
	for (size_t i = 0; i < b->n; i++) {
		const struct ban_result *r = &b->v[i];

		if (i)
			buf_addch(o, ',');
		buf_addstr(o, "{\"value\":");
		buf_add_json_str(o, r->value, strlen(r->value));
		buf_addf(o, ",\"scope\":\"%s\",\"scenario\":",
		    ban_scope_name(r->scope));
		buf_add_json_str(o, r->scenario, strlen(r->scenario));
		buf_addf(o, ",\"verdict\":\"%s\",\"code\":\"%s\",\"reason\":",
		    r->verdict, r->code);
		buf_add_json_str(o, r->reason, strlen(r->reason));
		if (r->error[0]) {
			buf_addstr(o, ",\"error\":");
			buf_add_json_str(o, r->error, strlen(r->error));
		}
		if (r->alert_id[0]) {
			buf_addstr(o, ",\"alert_id\":");
			buf_add_json_str(o, r->alert_id, strlen(r->alert_id));
		}
		buf_addf(o, ",\"events\":%llu,\"first\":",
		    (unsigned long long)r->events);
		buf_add_json_time(o, r->first_ns);
		buf_addstr(o, ",\"last\":");
		buf_add_json_time(o, r->last_ns);
		buf_addstr(o, ",\"until\":");
		buf_add_json_time(o, r->until_ns);
		buf_addch(o, '}');
	}
	buf_addf(o, "],\"summary\":{\"banned\":%u,\"failed\":%u,"
	    "\"skipped\":%u,\"refused\":%u,\"dry_run\":%u}", b->banned,
	    b->failed, b->skipped, b->refused, b->dry);
}

void
ban_results_text(const struct ban_results *b, int apply, struct buf *o)
{
	if (b->n == 0) {
		buf_addf(o, "\nbans      none (%s)\n", apply ? "apply" :
		    "dry-run");
		return;
	}
	buf_addf(o, "\nbans      %zu (%s): %u banned, %u failed, %u skipped, "
	    "%u refused, %u dry-run\n", b->n, apply ? "apply" :
	    "dry-run: nothing is banned", b->banned, b->failed, b->skipped,
	    b->refused, b->dry);
	for (size_t i = 0; i < b->n; i++) {
		const struct ban_result *r = &b->v[i];
		buf_addf(o, "  %-8s %-5s  %-39s  %s", r->verdict,
		    ban_scope_name(r->scope), r->value, r->scenario);
		if (r->error[0]) {
			buf_addstr(o, "\n           error: ");
			buf_add_escaped(o, r->error, strlen(r->error));
		} else if (r->verdict[0] == 'r' || r->verdict[0] == 's') {
			buf_addf(o, "\n           %s: ", r->code);
			buf_add_escaped(o, r->reason, strlen(r->reason));
		}
		buf_addch(o, '\n');
	}
}

int
ban_mode(const struct settings *st, int cli, char *err, size_t errlen)
{
	const char *env;

	if (cli >= 0)
		return cli;
	env = getenv("DRY_RUN");
	if (env != NULL && env[0] != '\0') {
		if (strcmp(env, "0") == 0 || strcasecmp(env, "false") == 0 ||
		    strcasecmp(env, "no") == 0)
			return 1;
		if (strcmp(env, "1") == 0 || strcasecmp(env, "true") == 0 ||
		    strcasecmp(env, "yes") == 0)
			return 0;
		snprintf(err, errlen, "DRY_RUN=\"%.32s\": want 0 or 1", env);
		return -1;
	}
	return st->dry_run == 0 ? 1 : 0;
}

char *
ban_read_password(const struct settings *st, char *err, size_t errlen)
{
	struct stat sb;
	char *pw = NULL;
	ssize_t n;
	size_t len = 0;
	int fd;

	if (st->lapi_password_file == NULL) {
		const char *env = getenv("LAPI_PASSWORD");
		if (env == NULL || env[0] == '\0') {
			snprintf(err, errlen, "no LAPI password: set "
			    "lapi_password_file or LAPI_PASSWORD");
			return NULL;
		}
		return xstrdup(env);
	}
	fd = open(st->lapi_password_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "lapi_password_file %s: %s",
		    st->lapi_password_file, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "lapi_password_file %s: not a regular "
		    "file", st->lapi_password_file);
		goto fail;
	}
	/* A secret others can read is no secret: refuse, and say how to
	 * fix it rather than carry on quietly. */
	if ((sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "lapi_password_file %s is readable by "
		    "group or others (mode %04o); chmod 600 it",
		    st->lapi_password_file, (unsigned)(sb.st_mode & 07777));
		goto fail;
	}
	pw = xmalloc(PASSWORD_MAX + 1);
	while (len < PASSWORD_MAX) {
		n = read(fd, pw + len, PASSWORD_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "lapi_password_file %s: %s",
			    st->lapi_password_file, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	pw[len] = '\0';
	/* The first line, without its newline. */
	for (size_t i = 0; i < len; i++)
		if (pw[i] == '\n' || pw[i] == '\r') {
			pw[i] = '\0';
			break;
		}
	if (pw[0] == '\0') {
		snprintf(err, errlen, "lapi_password_file %s is empty",
		    st->lapi_password_file);
		goto fail;
	}
	close(fd);
	return pw;
fail:
	if (pw != NULL) {
		explicit_bzero(pw, PASSWORD_MAX + 1);
		free(pw);
	}
	close(fd);
	return NULL;
}

int
ban_lapi_open(const struct settings *st, struct lapi *l, char *err,
    size_t errlen)
{
	struct lapi_opts o;
	char *pw;
	int rc;

	memset(l, 0, sizeof(*l));
	if (st->lapi_url == NULL || st->lapi_machine == NULL) {
		snprintf(err, errlen, "LAPI not configured: set lapi_url and "
		    "lapi_machine (--lapi-url, --lapi-machine)");
		return -1;
	}
	pw = ban_read_password(st, err, errlen);
	if (pw == NULL)
		return -1;
	lapi_opts_init(&o);
	o.url = st->lapi_url;
	o.machine_id = st->lapi_machine;
	o.password = pw;
	o.ca_file = st->lapi_ca_file;
	if (st->lapi_retries >= 0)
		o.retries = st->lapi_retries;
	if (st->lapi_timeout_ns > 0)
		o.timeout_ns = st->lapi_timeout_ns;
	rc = lapi_init(l, &o, err, errlen);
	explicit_bzero(pw, strlen(pw));
	free(pw);
	return rc;
}

int
ban_state_open(const struct settings *st, struct state *s, int64_t now_ns,
    char *err, size_t errlen)
{
	char def[4096];
	const char *path = st->state_file;

	if (path == NULL) {
		if (state_default_path(def, sizeof(def), err, errlen) != 0)
			return -1;
		path = def;
	}
	if (state_lock(s, path, err, errlen) != 0)
		return -1;
	return state_load(s, path, now_ns, err, errlen);
}

const struct guard_config *
ban_guard_config(const struct settings *st)
{
	st->guard->policy = st->analyst->guard;
	/* The evidence check judges addresses with the analyst's own,
	 * configured, thresholds. */
	st->guard->analyst = st->analyst;
	return st->guard;
}
