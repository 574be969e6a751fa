/*
 * The CrowdSec Local API client: a watcher ("machine") that pushes one
 * alert with one ban decision per offender, removes its own bans and
 * lists them.
 *
 * The rule that shapes everything here: a ban counts only when LAPI
 * answered 201 with the id of the alert it stored.  Every other outcome,
 * including a 201 whose body we cannot read, is a failure the caller sees,
 * so nothing is recorded as banned that a bouncer might not enforce.  LAPI
 * does not deduplicate, so the caller keeps its own record (state.c) and
 * a retry after an unclear outcome risks a duplicate ban, never a missing
 * one.
 *
 * LAPI facts (1.4.6; see ban.h and docs/crowdsec-lapi.md) that are not
 * obvious from its API description: a validation failure is a 500, a
 * decision's duration counts from the alert's stop_at, DELETE by ip
 * matches containing ranges unless told otherwise, and GET /v1/alerts with
 * a limit above the number of alerts never answers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "anomaly.h"

#define SEC INT64_C(1000000000)
#define MESSAGE_MAX 1024      /* bytes of the alert message sent */
#define PATH_MAX_SENT 1024    /* of an event's path */
#define UA_MAX_SENT 512       /* of an event's user agent */
#define VERB_MAX_SENT 32
#define SCENARIO_MAX 128
#define SERVER_TEXT_MAX 512   /* of LAPI's message in our errors */
#define TOKEN_MAX 8192
#define DURATION_MAX (100000 * 3600 * SEC) /* ~11 years */
#define LIST_MAX_RESPONSE (256u * 1024 * 1024)
#define LIST_MAX_DECISIONS 1000000

void
lapi_opts_init(struct lapi_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->timeout_ns = LAPI_TIMEOUT_DEFAULT;
	o->connect_timeout_ns = LAPI_CONNECT_TIMEOUT_DEFAULT;
	o->retries = LAPI_RETRIES_DEFAULT;
	o->retry_base_ns = LAPI_RETRY_BASE_DEFAULT;
	o->retry_max_ns = LAPI_RETRY_MAX_DEFAULT;
}

const char *
lapi_errkind_name(enum lapi_errkind k)
{
	switch (k) {
	case LAPI_OK: return "ok";
	case LAPI_E_USAGE: return "usage";
	case LAPI_E_AUTH: return "auth";
	case LAPI_E_REJECTED: return "rejected";
	case LAPI_E_UNAVAILABLE: return "unavailable";
	case LAPI_E_NETWORK: return "network";
	case LAPI_E_PROTOCOL: return "protocol";
	}
	return "?";
}

/* ---- errors */

/* Every message leaves through here: the password and the token are cut
 * out of it whatever put them there (a server echoing a request). */
static void AD_PRINTF(5, 6)
seterr(struct lapi *l, enum lapi_errkind k, char *err, size_t errlen,
    const char *fmt, ...)
{
	va_list ap;

	l->err_kind = k;
	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	http_scrub(err, errlen, l->o.password);
	http_scrub(err, errlen, l->token);
}

/* Outside text for a message: printable, bounded, "..." when cut. */
static void
add_text(struct buf *b, const char *p, size_t n, size_t max)
{
	struct buf t = BUF_INIT;
	size_t k;

	buf_add_escaped(&t, p, n);
	if (t.len <= max) {
		buf_add(b, t.p, t.len);
		buf_release(&t);
		return;
	}
	k = max;
	while (k > 0 && ((unsigned char)t.p[k] & 0xc0) == 0x80)
		k--;
	buf_add(b, t.p, k);
	buf_addstr(b, "...");
	buf_release(&t);
}

/* LAPI's reason: the "message" of its JSON error body, else the body. */
static void
server_text(struct buf *b, const struct http_response *rs)
{
	json_t *root, *m;

	if (rs->body.len == 0) {
		buf_addstr(b, "(empty body)");
		return;
	}
	root = json_loadb(rs->body.p, rs->body.len, 0, NULL);
	m = json_is_object(root) ? json_object_get(root, "message") : NULL;
	if (json_is_string(m))
		add_text(b, json_string_value(m), json_string_length(m),
		    SERVER_TEXT_MAX);
	else
		add_text(b, rs->body.p, rs->body.len, SERVER_TEXT_MAX);
	json_decref(root);
}

/* ---- set up */

static int
url_ok(const char *u, char *why, size_t whylen)
{
	const char *auth;

	if (u == NULL || *u == '\0') {
		snprintf(why, whylen, "no LAPI URL given");
		return 0;
	}
	if (strncasecmp(u, "http://", 7) != 0 &&
	    strncasecmp(u, "https://", 8) != 0) {
		snprintf(why, whylen, "the LAPI URL must start with http:// or "
		    "https://");
		return 0;
	}
	for (const char *q = u; *q != '\0'; q++) {
		unsigned char c = (unsigned char)*q;
		if (c <= 0x20 || c == 0x7f || c == '?' || c == '#') {
			snprintf(why, whylen, "the LAPI URL may not hold a query, "
			    "a fragment, spaces or control characters");
			return 0;
		}
	}
	auth = strstr(u, "://") + 3;
	if (*auth == '\0' || *auth == '/') {
		snprintf(why, whylen, "the LAPI URL has no host");
		return 0;
	}
	return 1;
}

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int
lapi_init(struct lapi *l, const struct lapi_opts *o, char *err,
    size_t errlen)
{
	char why[160];
	size_t n;

	memset(l, 0, sizeof(*l));
	l->token_expire_ns = TIME_NONE;
	if (!url_ok(o->url, why, sizeof(why))) {
		seterr(l, LAPI_E_USAGE, err, errlen, "%s", why);
		return -1;
	}
	if (o->machine_id == NULL || *o->machine_id == '\0' ||
	    strlen(o->machine_id) > 256 || has_ctl(o->machine_id)) {
		seterr(l, LAPI_E_USAGE, err, errlen, "LAPI: a machine id (1-256 "
		    "printable characters) is needed");
		return -1;
	}
	if (o->password == NULL || *o->password == '\0') {
		seterr(l, LAPI_E_USAGE, err, errlen, "LAPI: no password for "
		    "machine \"%s\"", o->machine_id);
		return -1;
	}
	if (has_ctl(o->password)) {
		/* A password file's trailing newline is the caller's to
		 * strip; anything else here is a mistake worth naming. */
		seterr(l, LAPI_E_USAGE, err, errlen, "LAPI: the password holds "
		    "a control character (a line break?)");
		return -1;
	}
	l->o = *o;
	n = strlen(o->url);
	while (n > 0 && o->url[n - 1] == '/')
		n--;
	l->o.url = xstrndup(o->url, n);
	l->o.machine_id = xstrdup(o->machine_id);
	l->o.password = xstrdup(o->password);
	l->o.ca_file = o->ca_file != NULL ? xstrdup(o->ca_file) : NULL;
	if (l->o.timeout_ns <= 0)
		l->o.timeout_ns = LAPI_TIMEOUT_DEFAULT;
	if (l->o.connect_timeout_ns <= 0)
		l->o.connect_timeout_ns = LAPI_CONNECT_TIMEOUT_DEFAULT;
	if (l->o.retries < 0)
		l->o.retries = 0;
	if (l->o.retries > 20)
		l->o.retries = 20;
	if (l->o.retry_base_ns <= 0)
		l->o.retry_base_ns = LAPI_RETRY_BASE_DEFAULT;
	if (l->o.retry_max_ns < l->o.retry_base_ns)
		l->o.retry_max_ns = l->o.retry_base_ns;
	return 0;
}

static void
free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void
drop_token(struct lapi *l)
{
	free_secret(l->token);
	l->token = NULL;
	l->token_expire_ns = TIME_NONE;
}

void
lapi_release(struct lapi *l)
{
	drop_token(l);
	free((char *)l->o.url);
	free((char *)l->o.machine_id);
	free_secret((char *)l->o.password);
	free((char *)l->o.ca_file);
	memset(l, 0, sizeof(*l));
	l->token_expire_ns = TIME_NONE;
}

/* ---- requests */

struct call {
	const char *method;
	const char *path;         /* "/v1/...", with its query */
	const char *body;
	size_t body_len;
	int auth;                 /* with the JWT */
	uint64_t max_response;    /* 0 = http.c's default */
};

static int
retryable(int r, const struct http_response *rs)
{
	if (r != 0)
		return rs->fail == HTTP_FAIL_CONNECT ||
		    rs->fail == HTTP_FAIL_TIMEOUT ||
		    rs->fail == HTTP_FAIL_TRUNCATED;
	return rs->status >= 500 || rs->status == 429;
}

/*
 * Sends c, again after failures worth another try.  0 when an answer
 * arrived (any status: a 5xx here is one that outlived the retries); -1
 * when none did, with the reason.
 */
static int
send_retrying(struct lapi *l, const struct call *c, struct http_response *rs,
    char *err, size_t errlen)
{
	static const char *const headers[] = {
		"Content-Type: application/json",
		"Accept: application/json",
	};
	struct http_request rq;
	struct buf url = BUF_INIT;
	char herr[1024];
	int r, tries = 0;

	buf_addstr(&url, l->o.url);
	buf_addstr(&url, c->path);
	memset(&rq, 0, sizeof(rq));
	rq.method = c->method;
	rq.url = url.p;
	rq.headers = headers;
	rq.nheaders = c->body != NULL ? 2 : 1;
	if (c->body == NULL)
		rq.headers = headers + 1;
	rq.body = c->body;
	rq.body_len = c->body_len;
	rq.bearer = c->auth ? l->token : NULL;
	/* Never sent (no user name, so no basic auth): given so http.c
	 * scrubs it from its messages too. */
	rq.password = l->o.password;
	rq.ca_file = l->o.ca_file;
	rq.timeout_ns = l->o.timeout_ns;
	rq.connect_timeout_ns = l->o.connect_timeout_ns;
	rq.max_response = c->max_response;

	for (int attempt = 0;; attempt++) {
		int64_t wait;

		tries++;
		l->attempts++;
		r = http_do(&rq, rs, herr, sizeof(herr));
		if (r == 0)
			l->err_status = rs->status;
		if (!retryable(r, rs) || attempt >= l->o.retries)
			break;
		wait = http_backoff_ns(attempt, l->o.retry_base_ns,
		    l->o.retry_max_ns, r == 0 ? rs->retry_after_s : -1);
		if (r == 0)
			log_debug("LAPI %s %s: HTTP %d; retry in %lld ms",
			    c->method, c->path, rs->status,
			    (long long)(wait / 1000000));
		else
			log_debug("%s; retry in %lld ms", herr,
			    (long long)(wait / 1000000));
		http_sleep_ns(wait);
	}
	buf_release(&url);
	if (r == 0)
		return 0;
	seterr(l, rs->fail == HTTP_FAIL_USAGE ? LAPI_E_USAGE :
	    rs->fail == HTTP_FAIL_TOO_BIG ? LAPI_E_PROTOCOL : LAPI_E_NETWORK,
	    err, errlen, "LAPI: %s (%d attempt%s)", herr, tries,
	    tries == 1 ? "" : "s");
	return -1;
}

/* Not an answer we asked for: why, by status. */
static void
status_error(struct lapi *l, const struct call *c,
    const struct http_response *rs, char *err, size_t errlen)
{
	char where[512];
	struct buf t = BUF_INIT;
	enum lapi_errkind k;

	http_url_redact(l->o.url, where, sizeof(where));
	server_text(&t, rs);
	if (rs->status == 401 || rs->status == 403)
		k = LAPI_E_AUTH;
	else if (rs->status >= 500 || rs->status == 429)
		k = LAPI_E_UNAVAILABLE;
	else if (rs->status >= 400)
		k = LAPI_E_REJECTED;
	else
		k = LAPI_E_PROTOCOL;
	seterr(l, k, err, errlen, "LAPI %s: %s %s: HTTP %d: %s", where,
	    c->method, c->path, rs->status, t.p);
	buf_release(&t);
}

static int
token_ok(const char *p, size_t n)
{
	if (n == 0 || n > TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch <= 0x20 || ch >= 0x7f)
			return 0;
	}
	return 1;
}

static int
do_login(struct lapi *l, char *err, size_t errlen)
{
	struct call c = { "POST", "/v1/watchers/login", NULL, 0, 0, 64 * 1024 };
	struct http_response rs;
	json_t *req, *root = NULL, *tok, *exp;
	char *body = NULL, where[512];
	int ret = -1;

	drop_token(l);
	http_response_init(&rs);
	req = json_object();
	json_object_set_new(req, "machine_id", audit_str(l->o.machine_id,
	    strlen(l->o.machine_id)));
	json_object_set_new(req, "password", json_string(l->o.password));
	json_object_set_new(req, "scenarios", json_array());
	if (json_object_get(req, "password") == NULL) {
		seterr(l, LAPI_E_USAGE, err, errlen, "LAPI: the password is not "
		    "valid UTF-8");
		goto done;
	}
	body = json_dumps(req, JSON_COMPACT);
	if (body == NULL)
		fatalx("LAPI: out of memory");
	c.body = body;
	c.body_len = strlen(body);
	if (send_retrying(l, &c, &rs, err, errlen) != 0)
		goto done;
	http_url_redact(l->o.url, where, sizeof(where));
	if (rs.status == 401 || rs.status == 403) {
		struct buf t = BUF_INIT;
		server_text(&t, &rs);
		seterr(l, LAPI_E_AUTH, err, errlen, "LAPI %s: login as machine "
		    "\"%s\" refused (HTTP %d): %s", where, l->o.machine_id,
		    rs.status, t.p);
		buf_release(&t);
		goto done;
	}
	if (rs.status != 200) {
		status_error(l, &c, &rs, err, errlen);
		goto done;
	}
	root = json_loadb(rs.body.p, rs.body.len, 0, NULL);
	tok = json_object_get(root, "token");
	exp = json_object_get(root, "expire");
	if (!json_is_string(tok) || !token_ok(json_string_value(tok),
	    json_string_length(tok))) {
		seterr(l, LAPI_E_PROTOCOL, err, errlen, "LAPI %s: login answered "
		    "200 without a usable token", where);
		goto done;
	}
	l->token = xstrdup(json_string_value(tok));
	/* Unknown expiry: renewal then waits for LAPI's 401. */
	if (!json_is_string(exp) || time_parse_rfc3339((struct span){
	    json_string_value(exp), json_string_length(exp) },
	    &l->token_expire_ns) != 0)
		l->token_expire_ns = TIME_NONE;
	l->logins++;
	ret = 0;
done:
	if (body != NULL) {
		explicit_bzero(body, strlen(body));
		free(body);
	}
	json_decref(req);
	if (root != NULL) {
		/* The token text inside the parsed answer. */
		json_t *t = json_object_get(root, "token");
		if (json_is_string(t))
			explicit_bzero((char *)json_string_value(t),
			    json_string_length(t));
		json_decref(root);
	}
	if (rs.body.cap != 0)
		explicit_bzero(rs.body.p, rs.body.cap);
	http_response_release(&rs);
	return ret;
}

static int
need_login(const struct lapi *l)
{
	if (l->token == NULL)
		return 1;
	return l->token_expire_ns != TIME_NONE &&
	    clock_wall_ns() >= l->token_expire_ns - LAPI_RELOGIN_MARGIN;
}

/*
 * A request with the JWT: log in first when there is none or it is about
 * to expire; after a 401 (LAPI restarted with a new secret, the clocks
 * disagree, the token was revoked) log in again and send it once more.
 */
static int
call_auth(struct lapi *l, const struct call *c, struct http_response *rs,
    char *err, size_t errlen)
{
	int relogged = 0;

	if (need_login(l) && do_login(l, err, errlen) != 0)
		return -1;
	for (;;) {
		if (send_retrying(l, c, rs, err, errlen) != 0)
			return -1;
		if (rs->status != 401 || relogged)
			return 0;
		log_debug("LAPI %s %s: 401, logging in again", c->method,
		    c->path);
		relogged = 1;
		if (do_login(l, err, errlen) != 0)
			return -1;
	}
}

static void
begin(struct lapi *l)
{
	l->err_kind = LAPI_OK;
	l->err_status = 0;
	l->attempts = 0;
}

int
lapi_login(struct lapi *l, char *err, size_t errlen)
{
	begin(l);
	return do_login(l, err, errlen);
}

int
lapi_heartbeat(struct lapi *l, char *err, size_t errlen)
{
	struct call c = { "GET", "/v1/heartbeat", NULL, 0, 1, 64 * 1024 };
	struct http_response rs;
	int ret = -1;

	begin(l);
	http_response_init(&rs);
	if (call_auth(l, &c, &rs, err, errlen) != 0)
		goto done;
	if (rs.status != 200) {
		status_error(l, &c, &rs, err, errlen);
		goto done;
	}
	ret = 0;
done:
	http_response_release(&rs);
	return ret;
}

/* ---- the alert */

/* Text for LAPI: kept as is when it is valid UTF-8 without control
 * characters (it ends up in cscli's tables and the console); otherwise
 * escaped the way messages are.  Cut to max bytes on a character
 * boundary. */
static json_t *
lapi_text(struct span s, size_t max)
{
	struct buf t = BUF_INIT;
	json_t *v = NULL;
	int clean = 1;

	for (size_t i = 0; i < s.n && clean; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < s.n &&
		    (unsigned char)s.p[i + 1] < 0xa0))
			clean = 0;
	}
	if (clean && s.n <= max)
		v = json_stringn(s.p, s.n);
	if (v != NULL)
		return v;
	add_text(&t, s.p, s.n, max);
	v = json_stringn(t.p, t.len);
	buf_release(&t);
	return v != NULL ? v : json_string("?");
}

static int
scenario_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SCENARIO_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == ':' || c == '/' || c == '-'))
			return 0;
	}
	return 1;
}

/* Go's time.ParseDuration form: "4h", "1h30m", "4h0m30s". */
static void
go_duration(int64_t ns, char *out, size_t outlen)
{
	int64_t s = ns / SEC, h, m;
	size_t k = 0;

	h = s / 3600;
	m = s / 60 % 60;
	s %= 60;
	out[0] = '\0';
	if (h > 0)
		k += (size_t)snprintf(out + k, outlen - k, "%lldh",
		    (long long)h);
	if (m > 0 && k < outlen)
		k += (size_t)snprintf(out + k, outlen - k, "%lldm",
		    (long long)m);
	if ((s > 0 || k == 0) && k < outlen)
		snprintf(out + k, outlen - k, "%llds", (long long)s);
}

static void
meta_add(json_t *arr, const char *key, json_t *val)
{
	json_t *m = json_object();

	json_object_set_new(m, "key", json_string(key));
	json_object_set_new(m, "value", val);
	json_array_append_new(arr, m);
}

static json_t *
time_str(int64_t ns)
{
	char t[TIME_STRLEN];

	time_format_rfc3339(ns, t, sizeof(t));
	return json_string(t);
}

static json_t *
event_json(const struct lapi_event *e, const char *value, int is_ip,
    int64_t fallback_ns)
{
	json_t *ev = json_object(), *meta = json_array();
	char st[16];

	json_object_set_new(ev, "timestamp", time_str(e->time_ns != TIME_NONE ?
	    e->time_ns : fallback_ns));
	if (e->path.n > 0)
		meta_add(meta, "http_path", lapi_text(e->path, PATH_MAX_SENT));
	if (e->status > 0) {
		snprintf(st, sizeof(st), "%d", e->status);
		meta_add(meta, "http_status", json_string(st));
	}
	if (e->method.n > 0)
		meta_add(meta, "http_verb", lapi_text(e->method,
		    VERB_MAX_SENT));
	if (e->user_agent.n > 0)
		meta_add(meta, "http_user_agent", lapi_text(e->user_agent,
		    UA_MAX_SENT));
	if (e->source_ip.n > 0)
		meta_add(meta, "source_ip", lapi_text(e->source_ip, 64));
	else if (is_ip)
		meta_add(meta, "source_ip", json_string(value));
	json_object_set_new(ev, "meta", meta);
	return ev;
}

int
lapi_alert_json(const struct lapi_alert *a, int64_t now_ns, struct buf *out,
    int64_t *until_ns, char *err, size_t errlen)
{
	char value[LAPI_VALUE_MAX], why[200], dur[48];
	const char *scope;
	int64_t start, stop, age, sent;
	json_t *arr = NULL, *al, *src, *dec, *decs, *events, *meta;
	char *text = NULL;
	int is_ip, ret = -1;

	if (a->scenario == NULL || !scenario_ok(a->scenario)) {
		snprintf(err, errlen, "alert: the scenario must be 1-%d "
		    "characters of [A-Za-z0-9_.:/-]", SCENARIO_MAX);
		goto done;
	}
	if (a->message == NULL || *a->message == '\0') {
		snprintf(err, errlen, "alert: no message");
		goto done;
	}
	if (state_canon(a->value, value, sizeof(value), &scope, why,
	    sizeof(why)) != 0) {
		snprintf(err, errlen, "alert: %s", why);
		goto done;
	}
	is_ip = strcmp(scope, "Ip") == 0;
	if (a->duration_ns < SEC || a->duration_ns > DURATION_MAX) {
		snprintf(err, errlen, "alert: the ban duration must be between "
		    "1s and 100000h");
		goto done;
	}
	if (a->events_count == 0) {
		snprintf(err, errlen, "alert: no offending requests counted");
		goto done;
	}
	if (a->nevents > 0 && a->events == NULL) {
		snprintf(err, errlen, "alert: events counted but not given");
		goto done;
	}
	if (a->start_ns == TIME_NONE || a->stop_ns == TIME_NONE) {
		snprintf(err, errlen, "alert: start and stop times are needed");
		goto done;
	}
	/* Times ahead of our clock (a log writer's clock, a zone error)
	 * would lengthen the ban: nothing is later than now. */
	stop = a->stop_ns < now_ns ? a->stop_ns : now_ns;
	start = a->start_ns < stop ? a->start_ns : stop;
	/* LAPI counts the duration from stop_at: add the age of stop_at,
	 * rounded up to a second, so the ban runs `duration` from now. */
	age = now_ns - stop;
	if (age > DURATION_MAX)
		age = DURATION_MAX;
	sent = a->duration_ns + age;
	if (sent % SEC != 0)
		sent += SEC - sent % SEC;
	go_duration(sent, dur, sizeof(dur));

	al = json_object();
	json_object_set_new(al, "scenario", json_string(a->scenario));
	json_object_set_new(al, "scenario_hash", json_string(""));
	json_object_set_new(al, "scenario_version", json_string("1"));
	json_object_set_new(al, "message", lapi_text(span_str(a->message),
	    MESSAGE_MAX));
	json_object_set_new(al, "events_count", json_integer(
	    a->events_count > INT32_MAX ? INT32_MAX :
	    (json_int_t)a->events_count));
	events = json_array();
	for (size_t i = 0; i < a->nevents && i < LAPI_EVENTS_MAX; i++)
		json_array_append_new(events, event_json(&a->events[i], value,
		    is_ip, stop));
	json_object_set_new(al, "events", events);
	json_object_set_new(al, "start_at", time_str(start));
	json_object_set_new(al, "stop_at", time_str(stop));
	json_object_set_new(al, "capacity", json_integer(0));
	json_object_set_new(al, "leakspeed", json_string("0s"));
	json_object_set_new(al, "simulated", json_false());
	json_object_set_new(al, "remediation", json_true());
	src = json_object();
	json_object_set_new(src, "scope", json_string(scope));
	json_object_set_new(src, "value", json_string(value));
	json_object_set_new(src, is_ip ? "ip" : "range", json_string(value));
	json_object_set_new(al, "source", src);
	dec = json_object();
	json_object_set_new(dec, "duration", json_string(dur));
	json_object_set_new(dec, "type", json_string("ban"));
	json_object_set_new(dec, "scope", json_string(scope));
	json_object_set_new(dec, "value", json_string(value));
	json_object_set_new(dec, "origin", json_string(LAPI_ORIGIN));
	json_object_set_new(dec, "scenario", json_string(a->scenario));
	json_object_set_new(dec, "simulated", json_false());
	decs = json_array();
	json_array_append_new(decs, dec);
	json_object_set_new(al, "decisions", decs);
	meta = json_array();
	meta_add(meta, "detector", json_string(LAPI_ORIGIN));
	json_object_set_new(al, "meta", meta);
	arr = json_array();
	json_array_append_new(arr, al);

	text = json_dumps(arr, JSON_COMPACT);
	if (text == NULL) {
		snprintf(err, errlen, "alert: cannot format it as JSON");
		goto done;
	}
	buf_reset(out);
	buf_addstr(out, text);
	if (until_ns != NULL)
		*until_ns = stop + sent;
	ret = 0;
done:
	free(text);
	json_decref(arr);
	return ret;
}

/* 201's body: ["12"] (1.4.6 sends strings; a number is taken too). */
static int
first_id(const struct http_response *rs, char *id, size_t idlen)
{
	json_t *root = json_loadb(rs->body.p, rs->body.len, 0, NULL), *v;
	int ret = -1;

	if (!json_is_array(root) || json_array_size(root) == 0)
		goto done;
	v = json_array_get(root, 0);
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (n == 0 || n >= idlen || n >= LAPI_ID_MAX ||
		    strspn(s, "0123456789") != n)
			goto done;
		memcpy(id, s, n + 1);
	} else if (json_is_integer(v) && json_integer_value(v) >= 0) {
		int w = snprintf(id, idlen, "%lld",
		    (long long)json_integer_value(v));
		if (w < 0 || (size_t)w >= idlen)
			goto done;
	} else
		goto done;
	ret = 0;
done:
	json_decref(root);
	return ret;
}

int
lapi_push_ban(struct lapi *l, const struct lapi_alert *a, char *id_out,
    size_t idlen, int64_t *until_ns, char *err, size_t errlen)
{
	struct call c = { "POST", "/v1/alerts", NULL, 0, 1, 1024 * 1024 };
	struct http_response rs;
	struct buf body = BUF_INIT;
	char why[512], where[512];
	int64_t until;
	int ret = -1;

	begin(l);
	http_response_init(&rs);
	if (idlen > 0)
		id_out[0] = '\0';
	if (lapi_alert_json(a, clock_wall_ns(), &body, &until, why,
	    sizeof(why)) != 0) {
		seterr(l, LAPI_E_USAGE, err, errlen, "LAPI: %s", why);
		goto done;
	}
	c.body = body.p;
	c.body_len = body.len;
	if (call_auth(l, &c, &rs, err, errlen) != 0)
		goto done;
	if (rs.status != 201) {
		status_error(l, &c, &rs, err, errlen);
		goto done;
	}
	if (first_id(&rs, id_out, idlen) != 0) {
		struct buf t = BUF_INIT;
		http_url_redact(l->o.url, where, sizeof(where));
		add_text(&t, rs.body.p, rs.body.len, SERVER_TEXT_MAX);
		seterr(l, LAPI_E_PROTOCOL, err, errlen, "LAPI %s: POST "
		    "/v1/alerts answered 201 without an alert id: %s", where,
		    t.p);
		buf_release(&t);
		if (idlen > 0)
			id_out[0] = '\0';
		goto done;
	}
	if (until_ns != NULL)
		*until_ns = until;
	ret = 0;
done:
	buf_release(&body);
	http_response_release(&rs);
	return ret;
}

/* ---- removing and listing */

int
lapi_delete_decisions(struct lapi *l, const char *value, int64_t *deleted,
    char *err, size_t errlen)
{
	struct call c = { "DELETE", NULL, NULL, 0, 1, 64 * 1024 };
	struct http_response rs;
	struct buf path = BUF_INIT;
	char canon[LAPI_VALUE_MAX], why[200], where[512];
	const char *scope;
	json_t *root = NULL, *nb;
	int ret = -1;

	begin(l);
	http_response_init(&rs);
	if (state_canon(value, canon, sizeof(canon), &scope, why,
	    sizeof(why)) != 0) {
		seterr(l, LAPI_E_USAGE, err, errlen, "LAPI: %s", why);
		goto done;
	}
	/* Canonical text is [0-9a-f.:/]: nothing to encode. */
	buf_addf(&path, "/v1/decisions?%s=%s&contains=false&origin=%s",
	    strcmp(scope, "Ip") == 0 ? "ip" : "range", canon, LAPI_ORIGIN);
	c.path = path.p;
	if (call_auth(l, &c, &rs, err, errlen) != 0)
		goto done;
	if (rs.status != 200) {
		status_error(l, &c, &rs, err, errlen);
		goto done;
	}
	root = json_loadb(rs.body.p, rs.body.len, 0, NULL);
	nb = json_object_get(root, "nbDeleted");
	if (json_is_string(nb)) {
		uint64_t v;
		if (parse_u64(span_str(json_string_value(nb)), &v) != 0 ||
		    v > INT64_MAX)
			nb = NULL;
		else if (deleted != NULL)
			*deleted = (int64_t)v;
	} else if (json_is_integer(nb) && json_integer_value(nb) >= 0) {
		if (deleted != NULL)
			*deleted = json_integer_value(nb);
	} else
		nb = NULL;
	if (nb == NULL) {
		struct buf t = BUF_INIT;
		http_url_redact(l->o.url, where, sizeof(where));
		add_text(&t, rs.body.p, rs.body.len, SERVER_TEXT_MAX);
		seterr(l, LAPI_E_PROTOCOL, err, errlen, "LAPI %s: DELETE "
		    "/v1/decisions: no nbDeleted in the answer: %s", where,
		    t.p);
		buf_release(&t);
		goto done;
	}
	ret = 0;
done:
	json_decref(root);
	buf_release(&path);
	http_response_release(&rs);
	return ret;
}

void
lapi_decisions_init(struct lapi_decisions *d)
{
	memset(d, 0, sizeof(*d));
}

void
lapi_decisions_release(struct lapi_decisions *d)
{
	free(d->v);
	lapi_decisions_init(d);
}

int
lapi_parse_go_duration(struct span s, int64_t *out_ns)
{
	char tmp[64];
	size_t k = 0;
	int neg = 0;
	int64_t v;

	if (s.n > 0 && s.p[0] == '-') {
		neg = 1;
		s.p++;
		s.n--;
	} else if (s.n > 0 && s.p[0] == '+') {
		s.p++;
		s.n--;
	}
	if (s.n == 0)
		return -1;
	/* Go writes microseconds as "µs" (U+00B5; U+03BC is accepted). */
	for (size_t i = 0; i < s.n; i++) {
		if (k + 2 >= sizeof(tmp))
			return -1;
		if (i + 1 < s.n && ((s.p[i] == '\xc2' && s.p[i + 1] == '\xb5') ||
		    (s.p[i] == '\xce' && s.p[i + 1] == '\xbc'))) {
			tmp[k++] = 'u';
			i++;
			continue;
		}
		if (s.p[i] == ' ' || s.p[i] == '\t')
			return -1;
		tmp[k++] = s.p[i];
	}
	if (parse_duration((struct span){ tmp, k }, &v) != 0)
		return -1;
	*out_ns = neg ? -v : v;
	return 0;
}

static void
copy_text(char *dst, size_t dstlen, json_t *v)
{
	struct buf t = BUF_INIT;
	size_t n;

	if (json_is_string(v))
		add_text(&t, json_string_value(v), json_string_length(v),
		    dstlen - 4);
	n = t.len < dstlen - 1 ? t.len : dstlen - 1;
	memcpy(dst, t.p, n);
	dst[n] = '\0';
	buf_release(&t);
}

static int64_t
int_of(json_t *v)
{
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

int
lapi_parse_alerts(const char *p, size_t n, int64_t now_ns,
    struct lapi_decisions *out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *al, *ds, *d;
	size_t i, j;
	int ret = -1;

	/* DECODE_ANY: LAPI answers a bare null when there is nothing. */
	root = json_loadb(p, n, JSON_DECODE_ANY, &je);
	if (root == NULL) {
		struct buf t = BUF_INIT;
		add_text(&t, je.text, strlen(je.text), 200);
		snprintf(err, errlen, "alerts: not JSON: %s", t.p);
		buf_release(&t);
		return -1;
	}
	if (json_is_null(root)) {
		ret = 0;
		goto done;
	}
	if (!json_is_array(root)) {
		snprintf(err, errlen, "alerts: not a JSON array");
		goto done;
	}
	for (i = 0; i < json_array_size(root); i++) {
		al = json_array_get(root, i);
		if (!json_is_object(al)) {
			snprintf(err, errlen, "alerts: item %zu is not an "
			    "object", i + 1);
			goto done;
		}
		ds = json_object_get(al, "decisions");
		if (ds == NULL || json_is_null(ds))
			continue;
		if (!json_is_array(ds)) {
			snprintf(err, errlen, "alerts: decisions of item %zu "
			    "are not an array", i + 1);
			goto done;
		}
		for (j = 0; j < json_array_size(ds); j++) {
			struct lapi_decision x;
			d = json_array_get(ds, j);
			json_t *o = json_object_get(d, "origin");
			json_t *du = json_object_get(d, "duration");
			json_t *val = json_object_get(d, "value");
			int64_t left;

			if (!json_is_object(d) || !json_is_string(o) ||
			    strcmp(json_string_value(o), LAPI_ORIGIN) != 0)
				continue;
			if (!json_is_string(du) || lapi_parse_go_duration(
			    (struct span){ json_string_value(du),
			    json_string_length(du) }, &left) != 0) {
				snprintf(err, errlen, "alerts: a decision of "
				    "item %zu has no readable duration", i + 1);
				goto done;
			}
			if (left <= 0)
				continue; /* expired, not yet cleaned up */
			if (!json_is_string(val) || json_string_length(val) == 0 ||
			    json_string_length(val) >= LAPI_VALUE_MAX) {
				snprintf(err, errlen, "alerts: a decision of "
				    "item %zu has no usable value", i + 1);
				goto done;
			}
			if (out->n >= LIST_MAX_DECISIONS) {
				snprintf(err, errlen, "alerts: more than %d "
				    "decisions", LIST_MAX_DECISIONS);
				goto done;
			}
			memset(&x, 0, sizeof(x));
			x.id = int_of(json_object_get(d, "id"));
			x.alert_id = int_of(json_object_get(al, "id"));
			copy_text(x.value, sizeof(x.value), val);
			copy_text(x.scope, sizeof(x.scope),
			    json_object_get(d, "scope"));
			copy_text(x.type, sizeof(x.type),
			    json_object_get(d, "type"));
			copy_text(x.scenario, sizeof(x.scenario),
			    json_object_get(d, "scenario"));
			x.until_ns = left > INT64_MAX - now_ns ? INT64_MAX :
			    now_ns + left;
			if (out->n == out->cap) {
				out->cap = out->cap != 0 ? out->cap * 2 : 16;
				out->v = xreallocarray(out->v, out->cap,
				    sizeof(out->v[0]));
			}
			out->v[out->n++] = x;
		}
	}
	ret = 0;
done:
	json_decref(root);
	return ret;
}

int
lapi_list_decisions(struct lapi *l, const char *value,
    struct lapi_decisions *out, char *err, size_t errlen)
{
	struct call c = { "GET", NULL, NULL, 0, 1, LIST_MAX_RESPONSE };
	struct http_response rs;
	struct buf path = BUF_INIT;
	char canon[LAPI_VALUE_MAX], why[300], where[512];
	const char *scope;
	size_t n0 = out->n;
	int ret = -1;

	begin(l);
	http_response_init(&rs);
	/* limit=0: all of them.  Any other limit larger than the number
	 * of alerts makes 1.4.6 page forever. */
	buf_addf(&path, "/v1/alerts?origin=%s&has_active_decision=true"
	    "&limit=0", LAPI_ORIGIN);
	if (value != NULL) {
		if (state_canon(value, canon, sizeof(canon), &scope, why,
		    sizeof(why)) != 0) {
			seterr(l, LAPI_E_USAGE, err, errlen, "LAPI: %s", why);
			goto done;
		}
		buf_addf(&path, "&scope=%s&value=%s", scope, canon);
	}
	c.path = path.p;
	if (call_auth(l, &c, &rs, err, errlen) != 0)
		goto done;
	if (rs.status != 200) {
		status_error(l, &c, &rs, err, errlen);
		goto done;
	}
	if (lapi_parse_alerts(rs.body.p, rs.body.len, clock_wall_ns(), out,
	    why, sizeof(why)) != 0) {
		http_url_redact(l->o.url, where, sizeof(where));
		seterr(l, LAPI_E_PROTOCOL, err, errlen, "LAPI %s: GET "
		    "/v1/alerts: %s", where, why);
		out->n = n0;
		goto done;
	}
	ret = 0;
done:
	buf_release(&path);
	http_response_release(&rs);
	return ret;
}
