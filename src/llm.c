/*
 * A client for OpenAI-compatible chat completions with tools.
 *
 * Providers differ in small ways that each break a naive agent loop
 * (see shared/docs/llm-tool-calling.md); they are all absorbed here so
 * the agent sees one shape: a reply with text, reasoning, a list of
 * tool calls whose ids are unique and whose arguments are JSON object
 * text (or flagged as not), usage and cost, and the normalised assistant
 * message to append to the history so every tool_call_id pairs up on
 * the next request.
 *
 * The API key goes to http.c as the request's bearer, so libcurl's and
 * http.c's messages are scrubbed of it; messages built here from a
 * server's answer are scrubbed too, since a server may echo it.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "anomaly.h"

#define SEC INT64_C(1000000000)
#define MS INT64_C(1000000)

/* A chat answer is a few KiB; a megabyte is already absurd. */
#define LLM_MAX_RESPONSE (8u * 1024 * 1024)
/* A server asking for a longer pause than this is not waited for. */
#define LLM_RETRY_AFTER_MAX (30 * SEC)
/* GET /models, read once at start. */
#define LLM_PRICES_TIMEOUT (15 * SEC)
/* How much of a server's error text goes into a message. */
#define LLM_ERR_TEXT_MAX 300
/* Tool calls accepted in one message: more is a runaway model. */
#define LLM_MAX_CALLS 64

#define LLM_APP_URL "https://github.com/anomaly-detect/anomaly-detect"
#define LLM_APP_TITLE "anomaly-detect"

struct llm {
	char *base_url;
	char *url;            /* base_url + /chat/completions */
	char *model;
	char *api_key;
	char *ca_file;
	char **headers;       /* every header line we send but Authorization */
	size_t nheaders;
	double temperature;
	int max_tokens;
	int64_t timeout_ns, connect_timeout_ns;
	int retries;
	int64_t retry_base_ns, retry_max_ns;
	double price_prompt, price_completion;
	int openrouter;       /* the host is openrouter.ai */
	int tool_choice;      /* send "tool_choice": not to Ollama */
	uint64_t next_id;     /* for made-up call ids */
	int prices_pending;   /* GET /models before the first chat */
};

void
llm_opts_init(struct llm_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->base_url = "https://openrouter.ai/api/v1";
	o->temperature = -1;
	o->max_tokens = 4096;
	o->timeout_ns = 180 * SEC;
	o->connect_timeout_ns = 10 * SEC;
	o->retries = 3;
	o->retry_base_ns = 1 * SEC;
	o->retry_max_ns = 30 * SEC;
}

const char *
llm_errkind_name(enum llm_errkind k)
{
	switch (k) {
	case LLM_OK:            return "ok";
	case LLM_E_USAGE:       return "usage";
	case LLM_E_AUTH:        return "auth";
	case LLM_E_CREDIT:      return "credit";
	case LLM_E_RATE:        return "rate-limited";
	case LLM_E_UNAVAILABLE: return "unavailable";
	case LLM_E_NETWORK:     return "network";
	case LLM_E_REJECTED:    return "rejected";
	case LLM_E_PROVIDER:    return "provider";
	case LLM_E_PROTOCOL:    return "protocol";
	}
	return "unknown";
}

static void
err_set(struct llm_error *e, enum llm_errkind k, const char *fmt, ...)
    AD_PRINTF(3, 4);

static void
err_set(struct llm_error *e, enum llm_errkind k, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return;
	e->kind = k;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

static void
err_clear(struct llm_error *e)
{
	if (e == NULL)
		return;
	e->kind = LLM_OK;
	e->status = 0;
	e->attempts = 0;
	e->msg[0] = '\0';
}

/* ---- the client */

/*
 * The host and port of a URL's authority, for deciding which
 * provider-specific fields may be sent.  host gets the name lowercased;
 * port the text after ':' ("" when none).
 */
static void
url_host_port(const char *url, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char *p = strstr(url, "://"), *end, *at, *colon;
	size_t n;

	host[0] = '\0';
	port[0] = '\0';
	p = p != NULL ? p + 3 : url;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at != NULL)
		p = at + 1;
	if (p < end && *p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		colon = rb != NULL && rb + 1 < end && rb[1] == ':' ? rb + 1 :
		    NULL;
	} else
		colon = memchr(p, ':', (size_t)(end - p));
	n = (size_t)((colon != NULL ? colon : end) - p);
	if (n >= hostlen)
		n = hostlen - 1;
	for (size_t i = 0; i < n; i++)
		host[i] = (char)tolower((unsigned char)p[i]);
	host[n] = '\0';
	if (colon != NULL) {
		n = (size_t)(end - colon - 1);
		if (n >= portlen)
			n = portlen - 1;
		memcpy(port, colon + 1, n);
		port[n] = '\0';
	}
}

static int
host_is(const char *host, const char *domain)
{
	size_t h = strlen(host), d = strlen(domain);

	if (h == d)
		return strcmp(host, domain) == 0;
	return h > d && host[h - d - 1] == '.' &&
	    strcmp(host + h - d, domain) == 0;
}

static int
has_header(const struct llm_opts *o, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < o->nheaders; i++)
		if (o->headers[i] != NULL &&
		    strncasecmp(o->headers[i], name, n) == 0 &&
		    o->headers[i][n] == ':')
			return 1;
	return 0;
}

static void
add_header(struct llm *c, const char *line)
{
	c->headers = xreallocarray(c->headers, c->nheaders + 1,
	    sizeof(*c->headers));
	c->headers[c->nheaders++] = xstrdup(line);
}

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

struct llm *
llm_new(const struct llm_opts *o, struct llm_error *e)
{
	struct llm *c;
	char host[256], port[16];
	size_t blen;

	err_clear(e);
	if (o->base_url == NULL || (strncasecmp(o->base_url, "http://", 7) !=
	    0 && strncasecmp(o->base_url, "https://", 8) != 0)) {
		err_set(e, LLM_E_USAGE, "llm: the base URL must be http:// "
		    "or https://");
		return NULL;
	}
	if (has_ctl(o->base_url) || strpbrk(o->base_url, " \t") != NULL) {
		err_set(e, LLM_E_USAGE, "llm: control characters or spaces "
		    "in the base URL");
		return NULL;
	}
	if (o->model == NULL || o->model[0] == '\0' || has_ctl(o->model)) {
		err_set(e, LLM_E_USAGE, "llm: no model given, or control "
		    "characters in its name");
		return NULL;
	}
	/* Never quote the key, not even in this message. */
	if (o->api_key != NULL && has_ctl(o->api_key)) {
		err_set(e, LLM_E_USAGE, "llm: the API key contains control "
		    "characters (a line break?)");
		return NULL;
	}
	for (size_t i = 0; i < o->nheaders; i++) {
		if (o->headers[i] == NULL || has_ctl(o->headers[i]) ||
		    strchr(o->headers[i], ':') == NULL) {
			err_set(e, LLM_E_USAGE, "llm: malformed extra header "
			    "#%zu", i + 1);
			return NULL;
		}
	}

	c = xcalloc(1, sizeof(*c));
	c->base_url = xstrdup(o->base_url);
	blen = strlen(c->base_url);
	while (blen > 0 && c->base_url[blen - 1] == '/')
		c->base_url[--blen] = '\0';
	c->url = xmalloc(blen + sizeof("/chat/completions"));
	memcpy(c->url, c->base_url, blen);
	memcpy(c->url + blen, "/chat/completions",
	    sizeof("/chat/completions"));
	c->model = xstrdup(o->model);
	c->api_key = o->api_key != NULL && o->api_key[0] != '\0' ?
	    xstrdup(o->api_key) : NULL;
	c->ca_file = o->ca_file != NULL ? xstrdup(o->ca_file) : NULL;
	c->temperature = o->temperature;
	c->max_tokens = o->max_tokens;
	c->timeout_ns = o->timeout_ns;
	c->connect_timeout_ns = o->connect_timeout_ns;
	c->retries = o->retries < 0 ? 0 : o->retries > 10 ? 10 : o->retries;
	c->retry_base_ns = o->retry_base_ns > 0 ? o->retry_base_ns : 1 * SEC;
	c->retry_max_ns = o->retry_max_ns > 0 ? o->retry_max_ns : 30 * SEC;
	c->price_prompt = o->price_prompt > 0 ? o->price_prompt : 0;
	c->price_completion = o->price_completion > 0 ?
	    o->price_completion : 0;
	c->next_id = 1;
	c->prices_pending = o->fetch_prices && c->price_prompt == 0 &&
	    c->price_completion == 0;

	url_host_port(c->base_url, host, sizeof(host), port, sizeof(port));
	c->openrouter = host_is(host, "openrouter.ai");
	/* Ollama rejects or ignores tool_choice; its port is the only
	 * reliable sign of it in an OpenAI-compatible base URL. */
	c->tool_choice = strcmp(port, "11434") != 0;

	add_header(c, "Content-Type: application/json");
	add_header(c, "Accept: application/json");
	if (c->openrouter) {
		if (!has_header(o, "HTTP-Referer"))
			add_header(c, "HTTP-Referer: " LLM_APP_URL);
		if (!has_header(o, "X-Title"))
			add_header(c, "X-Title: " LLM_APP_TITLE);
	}
	for (size_t i = 0; i < o->nheaders; i++)
		add_header(c, o->headers[i]);
	return c;
}

static void
free_secret(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void
llm_free(struct llm *c)
{
	if (c == NULL)
		return;
	free(c->base_url);
	free(c->url);
	free(c->model);
	free_secret(c->api_key);
	free(c->ca_file);
	for (size_t i = 0; i < c->nheaders; i++)
		free(c->headers[i]);
	free(c->headers);
	free(c);
}

const char *const *
llm_request_headers(const struct llm *c, size_t *n)
{
	*n = c->nheaders;
	return (const char *const *)c->headers;
}

char *
llm_request_body(const struct llm *c, json_t *messages, json_t *tools)
{
	json_t *req = json_object();
	char *text;

	json_object_set_new(req, "model", json_string(c->model));
	if (messages != NULL)
		json_object_set(req, "messages", messages);
	else
		json_object_set_new(req, "messages", json_array());
	if (tools != NULL && json_array_size(tools) > 0) {
		json_object_set(req, "tools", tools);
		if (c->tool_choice)
			json_object_set_new(req, "tool_choice",
			    json_string("auto"));
	}
	if (c->temperature >= 0)
		json_object_set_new(req, "temperature",
		    json_real(c->temperature));
	if (c->max_tokens > 0)
		json_object_set_new(req, "max_tokens",
		    json_integer(c->max_tokens));
	/* OpenRouter only: other hosts may reject unknown fields. */
	if (c->openrouter) {
		json_t *u = json_object();
		json_object_set_new(u, "include", json_true());
		json_object_set_new(req, "usage", u);
	}
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return text;
}

/* ---- reply */

void
llm_reply_release(struct llm_reply *r)
{
	if (r == NULL)
		return;
	free(r->content);
	free(r->reasoning);
	for (size_t i = 0; i < r->ncalls; i++) {
		free(r->calls[i].id);
		free(r->calls[i].name);
		free(r->calls[i].arguments);
	}
	free(r->calls);
	if (r->assistant != NULL)
		json_decref(r->assistant);
	memset(r, 0, sizeof(*r));
}

/*
 * Bytes that are not UTF-8 become U+FFFD, so jansson (which refuses the
 * whole document otherwise) can read the rest; valid sequences are kept
 * whole.  Returns how many were replaced.
 */
static size_t
utf8_sanitise(const char *p, size_t n, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, bad = 0;

	while (i < n) {
		unsigned char b = s[i];
		size_t len = 0;
		uint32_t min = 0, cp;

		if (b < 0x80) {
			buf_addch(out, (char)b);
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf) {
			len = 2;
			min = 0x80;
			cp = b & 0x1f;
		} else if (b >= 0xe0 && b <= 0xef) {
			len = 3;
			min = 0x800;
			cp = b & 0x0f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			len = 4;
			min = 0x10000;
			cp = b & 0x07;
		} else
			cp = 0;
		if (len != 0 && i + len <= n) {
			size_t k;
			for (k = 1; k < len; k++) {
				if ((s[i + k] & 0xc0) != 0x80)
					break;
				cp = (cp << 6) | (s[i + k] & 0x3f);
			}
			if (k == len && cp >= min && cp <= 0x10ffff &&
			    (cp < 0xd800 || cp > 0xdfff)) {
				buf_add(out, s + i, len);
				i += len;
				continue;
			}
		}
		buf_add(out, "\xef\xbf\xbd", 3);
		bad++;
		i++;
	}
	return bad;
}

static int
utf8_valid(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;

	for (size_t i = 0; i < n; i++)
		if (s[i] >= 0x80)
			goto slow;
	return 1;
slow:
	{
		struct buf b = BUF_INIT;
		size_t bad = utf8_sanitise(p, n, &b);
		buf_release(&b);
		return bad == 0;
	}
}

/* Reads any bytes as JSON; invalid UTF-8 is replaced first. */
static json_t *
load_json(const char *p, size_t n, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j;

	if (!utf8_valid(p, n)) {
		struct buf b = BUF_INIT;
		utf8_sanitise(p, n, &b);
		j = json_loadb(b.p, b.len, JSON_DECODE_ANY, &je);
		buf_release(&b);
	} else
		j = json_loadb(p, n, JSON_DECODE_ANY, &je);
	if (j == NULL) {
		/* jansson quotes the bytes it choked on: made printable. */
		struct buf t = BUF_INIT;
		buf_add_escaped(&t, je.text, strnlen(je.text,
		    sizeof(je.text)));
		snprintf(err, errlen, "%s (line %d, column %d)", t.p,
		    je.line, je.column);
		buf_release(&t);
	}
	return j;
}

static int
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static int
name_known(const char *name, const char *const *names, size_t nnames)
{
	for (size_t i = 0; i < nnames; i++)
		if (names[i] != NULL && strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

static void
add_call(struct llm_reply *r, char *id, const char *name, char *args,
    int ok)
{
	struct llm_call *k;

	r->calls = xreallocarray(r->calls, r->ncalls + 1, sizeof(*r->calls));
	k = &r->calls[r->ncalls++];
	k->id = id;
	k->name = xstrdup(name);
	k->arguments = args;
	k->arguments_ok = ok;
}

/*
 * The arguments of a call, in any of the shapes seen: a JSON string
 * holding an object ("" and whitespace mean no arguments), an object
 * (Ollama's native API), absent or null.  *ok is 0 when they are not an
 * object; the text is then the raw string (or the value's JSON).
 */
static char *
call_arguments(json_t *a, int *ok)
{
	json_t *j;
	char *t;

	*ok = 1;
	if (a == NULL || json_is_null(a))
		return xstrdup("{}");
	if (json_is_object(a)) {
		t = json_dumps(a, JSON_COMPACT);
		return t != NULL ? t : xstrdup("{}");
	}
	if (json_is_string(a)) {
		const char *s = json_string_value(a);
		size_t n = json_string_length(a), i = 0;
		json_error_t je;

		while (i < n && is_space(s[i]))
			i++;
		if (i == n)
			return xstrdup("{}");
		j = json_loadb(s, n, JSON_DECODE_ANY, &je);
		if (j != NULL && json_is_object(j)) {
			t = json_dumps(j, JSON_COMPACT);
			json_decref(j);
			if (t != NULL)
				return t;
		} else if (j != NULL)
			json_decref(j);
		*ok = 0;
		return xstrndup(s, n);
	}
	*ok = 0;
	t = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
	return t != NULL ? t : xstrdup("");
}

/* Whether id is already used by a call of r. */
static int
id_taken(const struct llm_reply *r, const char *id)
{
	for (size_t i = 0; i < r->ncalls; i++)
		if (strcmp(r->calls[i].id, id) == 0)
			return 1;
	return 0;
}

static char *
make_id(struct llm *c, uint64_t *local, const struct llm_reply *r)
{
	char t[40];

	do {
		uint64_t n = c != NULL ? c->next_id++ : (*local)++;
		snprintf(t, sizeof(t), "call_%llu", (unsigned long long)n);
	} while (id_taken(r, t));
	return xstrdup(t);
}

/* The native tool_calls array.  A call cut by finish_reason "length"
 * (arguments that do not parse, or no name) is dropped. */
static void
read_tool_calls(struct llm *c, uint64_t *local, json_t *tcs, int length,
    struct llm_reply *r)
{
	size_t i;
	json_t *tc;

	json_array_foreach(tcs, i, tc) {
		json_t *fn, *jn, *jid;
		const char *name;
		char *args, *id;
		int ok;

		if (r->ncalls >= LLM_MAX_CALLS)
			break;
		if (!json_is_object(tc))
			continue;
		fn = json_object_get(tc, "function");
		if (!json_is_object(fn))
			fn = tc;        /* {"name":..,"arguments":..} flat */
		jn = json_object_get(fn, "name");
		if (!json_is_string(jn) || json_string_length(jn) == 0)
			continue;
		name = json_string_value(jn);
		args = call_arguments(json_object_get(fn, "arguments"), &ok);
		if (!ok && length) {
			free(args);
			continue;
		}
		jid = json_object_get(tc, "id");
		if (json_is_string(jid) && json_string_length(jid) > 0 &&
		    json_string_length(jid) <= 256 &&
		    strlen(json_string_value(jid)) ==
		    json_string_length(jid) &&
		    !id_taken(r, json_string_value(jid)))
			id = xstrdup(json_string_value(jid));
		else
			id = make_id(c, local, r);
		add_call(r, id, name, args, ok);
	}
}

/*
 * One call written as JSON into the content: {"name":..,"arguments":..}
 * (or "parameters", as some templates write).  Only known names.  Bare
 * JSON must have the arguments key too, so an answer that merely is a
 * JSON object with a "name" is not taken for a call; inside
 * <tool_call> tags the tags say it already.
 */
static int
content_call_ok(json_t *o, const char *const *names, size_t nnames,
    int tagged)
{
	json_t *n;

	if (!json_is_object(o))
		return 0;
	if (!tagged && json_object_get(o, "arguments") == NULL &&
	    json_object_get(o, "parameters") == NULL)
		return 0;
	n = json_object_get(o, "name");
	if (!json_is_string(n) || !name_known(json_string_value(n), names,
	    nnames))
		return 0;
	return 1;
}

static json_t *
content_call_args(json_t *o)
{
	json_t *a = json_object_get(o, "arguments");

	return a != NULL ? a : json_object_get(o, "parameters");
}

/* A JSON value of calls: one object or a list of them, every name
 * known; anything else is not calls at all. */
static int
content_calls_ok(json_t *j, const char *const *names, size_t nnames,
    int tagged)
{
	size_t i;
	json_t *v;

	if (json_is_object(j))
		return content_call_ok(j, names, nnames, tagged);
	if (!json_is_array(j) || json_array_size(j) == 0)
		return 0;
	json_array_foreach(j, i, v)
		if (!content_call_ok(v, names, nnames, tagged))
			return 0;
	return 1;
}

static void
content_calls_add(struct llm *c, uint64_t *local, json_t *j,
    struct llm_reply *r)
{
	size_t i;
	json_t *v;

	if (json_is_object(j)) {
		char *args;
		int ok;
		if (r->ncalls >= LLM_MAX_CALLS)
			return;
		args = call_arguments(content_call_args(j), &ok);
		add_call(r, make_id(c, local, r),
		    json_string_value(json_object_get(j, "name")), args, ok);
		return;
	}
	json_array_foreach(j, i, v)
		content_calls_add(c, local, v, r);
}

static json_t *
load_quiet(const char *p, size_t n)
{
	json_error_t je;

	return json_loadb(p, n, JSON_DECODE_ANY, &je);
}

/*
 * The content fallback: calls written as text by a model whose server
 * did not parse them.  Either <tool_call>JSON</tool_call> blocks (the
 * text around them stays the content), or the whole content (perhaps in
 * a ``` fence) being a call or a list of calls.  All or nothing: one
 * unknown name or unreadable block and the content stays plain text.
 * Returns 1 when calls were taken (content then rewritten).
 */
static int
content_fallback(struct llm *c, uint64_t *local, struct llm_reply *r,
    const char *const *names, size_t nnames)
{
	static const char open_tag[] = "<tool_call>";
	static const char close_tag[] = "</tool_call>";
	const char *s = r->content, *p, *q, *e;
	size_t n = strlen(s);
	json_t *all = NULL, *j;
	struct buf rest = BUF_INIT;
	int ret = 0;

	if (nnames == 0)
		return 0;
	if (strstr(s, open_tag) != NULL) {
		all = json_array();
		p = s;
		while ((q = strstr(p, open_tag)) != NULL) {
			buf_add(&rest, p, (size_t)(q - p));
			q += sizeof(open_tag) - 1;
			e = strstr(q, close_tag);
			/* A last block without its closing tag is taken as
			 * running to the end (some templates stop there). */
			j = load_quiet(q, e != NULL ? (size_t)(e - q) :
			    strlen(q));
			if (j == NULL || !content_calls_ok(j, names, nnames,
			    1)) {
				if (j != NULL)
					json_decref(j);
				goto done;
			}
			if (json_is_array(j))
				json_array_extend(all, j);
			else
				json_array_append(all, j);
			json_decref(j);
			if (e == NULL) {
				p = q + strlen(q);
				break;
			}
			p = e + sizeof(close_tag) - 1;
		}
		buf_addstr(&rest, p);
	} else {
		size_t a = 0, b = n;
		while (a < b && is_space(s[a]))
			a++;
		while (b > a && is_space(s[b - 1]))
			b--;
		/* ```json ... ``` around it */
		if (b - a >= 6 && strncmp(s + a, "```", 3) == 0 &&
		    strncmp(s + b - 3, "```", 3) == 0) {
			a += 3;
			b -= 3;
			while (a < b && s[a] != '\n' && s[a] != '{' &&
			    s[a] != '[')
				a++;
		}
		if (a == b || (s[a] != '{' && s[a] != '['))
			goto done;
		all = load_quiet(s + a, b - a);
		if (all == NULL || !content_calls_ok(all, names, nnames, 0))
			goto done;
	}
	content_calls_add(c, local, all, r);
	ret = 1;
	{
		/* What text was around the calls is kept as the content. */
		size_t a = 0, b = rest.len;
		while (a < b && is_space(rest.p[a]))
			a++;
		while (b > a && is_space(rest.p[b - 1]))
			b--;
		free(r->content);
		r->content = b > a ? xstrndup(rest.p + a, b - a) : NULL;
	}
done:
	if (all != NULL)
		json_decref(all);
	buf_release(&rest);
	return ret;
}

static char *
string_or_parts(json_t *v)
{
	size_t i;
	json_t *part;
	struct buf b = BUF_INIT;

	if (json_is_string(v))
		return xstrndup(json_string_value(v), json_string_length(v));
	if (!json_is_array(v))
		return NULL;
	/* [{"type":"text","text":"..."}, ...] */
	json_array_foreach(v, i, part) {
		json_t *t = json_object_get(part, "text");
		if (json_is_string(t))
			buf_add(&b, json_string_value(t),
			    json_string_length(t));
	}
	if (b.len == 0) {
		buf_release(&b);
		return NULL;
	}
	return b.p;
}

static int64_t
int_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return (int64_t)json_integer_value(v);
	if (json_is_real(v) && json_real_value(v) >= 0 &&
	    json_real_value(v) < 9e18)
		return (int64_t)json_real_value(v);
	return 0;
}

/* The assistant message for the history: content and the calls as the
 * agent will answer them.  Arguments that were not JSON go back as "{}"
 * because some providers refuse a history whose arguments do not parse;
 * the raw text stays in the reply for the agent's error answer. */
static json_t *
build_assistant(const struct llm_reply *r)
{
	json_t *m = json_object(), *tcs;

	json_object_set_new(m, "role", json_string("assistant"));
	json_object_set_new(m, "content", r->content != NULL ?
	    json_string(r->content) : json_null());
	if (r->ncalls == 0)
		return m;
	tcs = json_array();
	for (size_t i = 0; i < r->ncalls; i++) {
		json_t *tc = json_object(), *fn = json_object();
		json_object_set_new(fn, "name",
		    json_string(r->calls[i].name));
		json_object_set_new(fn, "arguments",
		    json_string(r->calls[i].arguments_ok ?
		    r->calls[i].arguments : "{}"));
		json_object_set_new(tc, "id", json_string(r->calls[i].id));
		json_object_set_new(tc, "type", json_string("function"));
		json_object_set_new(tc, "function", fn);
		json_array_append_new(tcs, tc);
	}
	json_object_set_new(m, "tool_calls", tcs);
	return m;
}

/* An error object's text: "message (code N)", plus metadata.raw. */
static void
error_text(json_t *err, struct buf *b, int *code)
{
	json_t *m, *c, *meta, *raw;

	*code = 0;
	if (json_is_string(err)) {
		buf_add_escaped(b, json_string_value(err),
		    json_string_length(err) > LLM_ERR_TEXT_MAX ?
		    LLM_ERR_TEXT_MAX : json_string_length(err));
		return;
	}
	m = json_object_get(err, "message");
	c = json_object_get(err, "code");
	if (json_is_integer(c))
		*code = (int)json_integer_value(c);
	else if (json_is_string(c)) {
		int64_t v;
		if (parse_i64(span_str(json_string_value(c)), &v) == 0 &&
		    v > 0 && v < 1000)
			*code = (int)v;
	}
	if (json_is_string(m))
		buf_add_escaped(b, json_string_value(m),
		    json_string_length(m) > LLM_ERR_TEXT_MAX ?
		    LLM_ERR_TEXT_MAX : json_string_length(m));
	else
		buf_addstr(b, "(no message)");
	if (json_is_integer(c) || json_is_string(c)) {
		buf_addstr(b, " (code ");
		if (json_is_integer(c))
			buf_addf(b, "%lld", (long long)json_integer_value(c));
		else
			buf_add_escaped(b, json_string_value(c),
			    json_string_length(c) > 40 ? 40 :
			    json_string_length(c));
		buf_addch(b, ')');
	}
	meta = json_object_get(err, "metadata");
	raw = json_object_get(meta, "raw");
	if (json_is_string(raw)) {
		buf_addstr(b, ": ");
		buf_add_escaped(b, json_string_value(raw),
		    json_string_length(raw) > LLM_ERR_TEXT_MAX ?
		    LLM_ERR_TEXT_MAX : json_string_length(raw));
	}
}

/* Copies b into e->msg, scrubbed of the key before it is cut, so no
 * part of the key can survive at the cut either. */
static void
err_from_buf(struct llm_error *e, enum llm_errkind k, struct buf *b,
    const char *key)
{
	if (key != NULL && key[0] != '\0') {
		buf_grow(b, 4);
		http_scrub(b->p, b->cap, key);
	}
	e->kind = k;
	snprintf(e->msg, sizeof(e->msg), "%s", b->p);
	if (key != NULL)
		http_scrub(e->msg, sizeof(e->msg), key);
}

int
llm_parse_reply(struct llm *c, const char *body, size_t n,
    const char *const *tool_names, size_t ntool_names,
    struct llm_reply *r, struct llm_error *e)
{
	json_t *root = NULL, *err, *choices, *ch, *msg, *v, *usage, *d;
	char jerr[256];
	uint64_t local = 1;
	int length, ret = -1;
	struct buf b = BUF_INIT;
	const char *key = c != NULL ? c->api_key : NULL;

	llm_reply_release(r);
	if (e != NULL)
		e->kind = LLM_OK;
	root = load_json(body, n, jerr, sizeof(jerr));
	if (root == NULL) {
		err_set(e, LLM_E_PROTOCOL, "llm: the answer is not JSON: %s",
		    jerr);
		goto done;
	}
	if (!json_is_object(root)) {
		err_set(e, LLM_E_PROTOCOL, "llm: the answer is not a JSON "
		    "object");
		goto done;
	}
	/* Errors after generation started come with status 200. */
	err = json_object_get(root, "error");
	if (err != NULL && !json_is_null(err)) {
		int code;
		buf_addstr(&b, "llm: provider error: ");
		error_text(err, &b, &code);
		if (e != NULL) {
			err_from_buf(e, LLM_E_PROVIDER, &b, key);
			if (code != 0)
				e->status = code;
		}
		goto done;
	}
	choices = json_object_get(root, "choices");
	ch = json_array_get(choices, 0);
	msg = json_object_get(ch, "message");
	if (!json_is_object(msg)) {
		err_set(e, LLM_E_PROTOCOL, "llm: the answer has no "
		    "choices[0].message");
		goto done;
	}
	v = json_object_get(ch, "finish_reason");
	if (json_is_string(v))
		snprintf(r->finish_reason, sizeof(r->finish_reason), "%s",
		    json_string_value(v));
	length = strcmp(r->finish_reason, "length") == 0;

	r->content = string_or_parts(json_object_get(msg, "content"));
	v = json_object_get(msg, "reasoning");
	if (!json_is_string(v) || json_string_length(v) == 0)
		v = json_object_get(msg, "reasoning_content");
	if (json_is_string(v) && json_string_length(v) > 0)
		r->reasoning = xstrndup(json_string_value(v),
		    json_string_length(v));

	v = json_object_get(msg, "tool_calls");
	if (json_is_array(v) && json_array_size(v) > 0)
		read_tool_calls(c, &local, v, length, r);
	else if (r->content != NULL)
		content_fallback(c, &local, r, tool_names, ntool_names);

	usage = json_object_get(root, "usage");
	if (json_is_object(usage)) {
		r->prompt_tokens = int_field(usage, "prompt_tokens");
		r->completion_tokens = int_field(usage, "completion_tokens");
		d = json_object_get(usage, "completion_tokens_details");
		if (json_is_object(d))
			r->reasoning_tokens = int_field(d, "reasoning_tokens");
		v = json_object_get(usage, "cost");
		if (json_is_number(v) && json_number_value(v) >= 0) {
			r->cost_usd = json_number_value(v);
			r->cost_reported = 1;
		}
	}
	if (!r->cost_reported && c != NULL)
		r->cost_usd = (double)r->prompt_tokens * c->price_prompt +
		    (double)r->completion_tokens * c->price_completion;
	r->assistant = build_assistant(r);
	ret = 0;
done:
	if (ret != 0) {
		llm_reply_release(r);
		if (e != NULL && key != NULL)
			http_scrub(e->msg, sizeof(e->msg), key);
	}
	if (root != NULL)
		json_decref(root);
	buf_release(&b);
	return ret;
}

/* ---- the round trip */

/* The reason of a non-2xx answer, from its error object or its text. */
static void
status_error(const struct llm *c, const struct http_response *rs,
    struct llm_error *e, enum llm_errkind k)
{
	struct buf b = BUF_INIT;
	char jerr[128], where[512];
	json_t *j;
	int code;


	http_url_redact(c->url, where, sizeof(where));
	buf_addf(&b, "llm: HTTP %d from %s: ", rs->status, where);
	j = rs->body.len > 0 ? load_json(rs->body.p, rs->body.len, jerr,
	    sizeof(jerr)) : NULL;
	if (j != NULL && json_is_object(j) &&
	    json_object_get(j, "error") != NULL)
		error_text(json_object_get(j, "error"), &b, &code);
	else if (rs->body.len > 0)
		buf_add_escaped(&b, rs->body.p, rs->body.len >
		    LLM_ERR_TEXT_MAX ? LLM_ERR_TEXT_MAX : rs->body.len);
	else
		buf_addstr(&b, "(empty body)");
	if (j != NULL)
		json_decref(j);
	err_from_buf(e, k, &b, c->api_key);
	e->status = rs->status;
	buf_release(&b);
}

int
llm_chat(struct llm *c, json_t *messages, json_t *tools,
    const char *const *tool_names, size_t ntool_names,
    struct llm_reply *r, struct llm_error *e)
{
	struct http_request rq;
	struct http_response rs;
	struct llm_error dummy;
	char herr[1024];
	char *body = NULL;
	int ret = -1;

	if (e == NULL)
		e = &dummy;
	err_clear(e);
	llm_reply_release(r);
	if (!json_is_array(messages) || json_array_size(messages) == 0) {
		err_set(e, LLM_E_USAGE, "llm: no messages to send");
		return -1;
	}
	/* Prices change: read the provider's list once, at the first call
	 * (not at start: `-n` and a run that never calls the model stay
	 * off the network), so that USD budgets hold where replies carry
	 * no usage.cost.  Local servers list no prices: their tokens are
	 * free, and that is no error. */
	if (c->prices_pending) {
		struct llm_error pe;
		c->prices_pending = 0;
		memset(&pe, 0, sizeof(pe));
		if (llm_fetch_prices(c, &pe) != 0)
			log_debug("%s; costs only as the replies report them",
			    pe.msg);
	}
	body = llm_request_body(c, messages, tools);
	if (body == NULL) {
		err_set(e, LLM_E_USAGE, "llm: the request cannot be written "
		    "as JSON");
		return -1;
	}
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = c->url;
	rq.headers = (const char *const *)c->headers;
	rq.nheaders = c->nheaders;
	rq.body = body;
	rq.body_len = strlen(body);
	rq.bearer = c->api_key;
	rq.ca_file = c->ca_file;
	rq.timeout_ns = c->timeout_ns;
	rq.connect_timeout_ns = c->connect_timeout_ns;
	rq.max_response = LLM_MAX_RESPONSE;
	http_response_init(&rs);

	for (int attempt = 0;; attempt++) {
		int64_t wait;
		int rc;

		e->attempts = attempt + 1;
		rc = http_do(&rq, &rs, herr, sizeof(herr));
		if (rc != 0) {
			/* http.c has scrubbed herr of the key. */
			e->status = rs.status;
			switch (rs.fail) {
			case HTTP_FAIL_USAGE:
				err_set(e, LLM_E_USAGE, "llm: %s", herr);
				goto done;
			case HTTP_FAIL_TOO_BIG:
				err_set(e, LLM_E_PROTOCOL, "llm: %s", herr);
				goto done;
			case HTTP_FAIL_CONNECT:
				/* Nothing was generated: ask again. */
				err_set(e, LLM_E_NETWORK, "llm: %s", herr);
				break;
			default:
				/* A timeout or a cut answer may have been
				 * generated and billed: not asked twice. */
				err_set(e, LLM_E_NETWORK, "llm: %s", herr);
				goto done;
			}
		} else if (rs.status >= 200 && rs.status < 300) {
			ret = llm_parse_reply(c, rs.body.p, rs.body.len,
			    tool_names, ntool_names, r, e);
			if (ret != 0 && e->status == 0)
				e->status = rs.status;
			goto done;
		} else if (rs.status == 401 || rs.status == 403) {
			status_error(c, &rs, e, LLM_E_AUTH);
			goto done;
		} else if (rs.status == 402) {
			status_error(c, &rs, e, LLM_E_CREDIT);
			goto done;
		} else if (rs.status == 429) {
			status_error(c, &rs, e, LLM_E_RATE);
		} else if (rs.status == 408 || rs.status >= 500) {
			status_error(c, &rs, e, LLM_E_UNAVAILABLE);
		} else {
			status_error(c, &rs, e, LLM_E_REJECTED);
			goto done;
		}
		if (attempt >= c->retries)
			goto done;
		wait = http_backoff_ns(attempt, c->retry_base_ns,
		    c->retry_max_ns, -1);
		if (rs.retry_after_s > 0) {
			int64_t ra = rs.retry_after_s >= LLM_RETRY_AFTER_MAX /
			    SEC ? LLM_RETRY_AFTER_MAX : rs.retry_after_s * SEC;
			if (ra > wait)
				wait = ra;
		}
		log_debug("llm: %s, attempt %d, again in %lld ms",
		    llm_errkind_name(e->kind), attempt + 1,
		    (long long)(wait / MS));
		http_sleep_ns(wait);
	}
done:
	if (ret == 0) {
		e->kind = LLM_OK;
		e->status = rs.status;
		e->msg[0] = '\0';
	}
	else
		http_scrub(e->msg, sizeof(e->msg), c->api_key);
	http_response_release(&rs);
	free(body);
	return ret;
}

/* ---- prices */

static int
price_value(json_t *v, double *out)
{
	char *end;
	double d;

	if (json_is_number(v))
		d = json_number_value(v);
	else if (json_is_string(v) && json_string_length(v) > 0) {
		d = strtod(json_string_value(v), &end);
		if (*end != '\0')
			return -1;
	} else
		return -1;
	/* "-1" marks a router model with a variable price: unknown. */
	if (!(d >= 0 && d < 1))
		return -1;
	*out = d;
	return 0;
}

int
llm_fetch_prices(struct llm *c, struct llm_error *e)
{
	struct http_request rq;
	struct http_response rs;
	struct llm_error dummy;
	struct buf url = BUF_INIT;
	char herr[1024], jerr[256];
	json_t *root = NULL, *data, *m;
	double pp, pc;
	size_t i;
	int ret = -1;

	if (e == NULL)
		e = &dummy;
	err_clear(e);
	e->attempts = 1;
	buf_addstr(&url, c->base_url);
	buf_addstr(&url, "/models");
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.url = url.p;
	/* The headers but the first, Content-Type: a GET has no body. */
	rq.headers = (const char *const *)c->headers + 1;
	rq.nheaders = c->nheaders - 1;
	rq.bearer = c->api_key;
	rq.ca_file = c->ca_file;
	/* A price list is no reason to hold up a start for minutes. */
	rq.timeout_ns = c->timeout_ns < LLM_PRICES_TIMEOUT ? c->timeout_ns :
	    LLM_PRICES_TIMEOUT;
	rq.connect_timeout_ns = c->connect_timeout_ns;
	rq.max_response = 4 * LLM_MAX_RESPONSE; /* hundreds of models */
	http_response_init(&rs);
	if (http_do(&rq, &rs, herr, sizeof(herr)) != 0) {
		err_set(e, rs.fail == HTTP_FAIL_USAGE ? LLM_E_USAGE :
		    LLM_E_NETWORK, "llm: %s", herr);
		goto done;
	}
	e->status = rs.status;
	if (rs.status < 200 || rs.status >= 300) {
		status_error(c, &rs, e, rs.status == 401 || rs.status == 403 ?
		    LLM_E_AUTH : rs.status == 429 ? LLM_E_RATE :
		    rs.status >= 500 ? LLM_E_UNAVAILABLE : LLM_E_REJECTED);
		goto done;
	}
	root = load_json(rs.body.p, rs.body.len, jerr, sizeof(jerr));
	if (root == NULL) {
		err_set(e, LLM_E_PROTOCOL, "llm: the model list is not JSON: "
		    "%s", jerr);
		goto done;
	}
	data = json_object_get(root, "data");
	json_array_foreach(data, i, m) {
		json_t *id = json_object_get(m, "id");
		json_t *pr = json_object_get(m, "pricing");
		if (!json_is_string(id) ||
		    strcmp(json_string_value(id), c->model) != 0)
			continue;
		if (price_value(json_object_get(pr, "prompt"), &pp) != 0 ||
		    price_value(json_object_get(pr, "completion"), &pc) != 0) {
			err_set(e, LLM_E_PROTOCOL, "llm: no usable prices for "
			    "model %s in the model list", c->model);
			goto done;
		}
		if (c->price_prompt == 0 && c->price_completion == 0) {
			c->price_prompt = pp;
			c->price_completion = pc;
		}
		ret = 0;
		goto done;
	}
	err_set(e, LLM_E_PROTOCOL, "llm: model %s is not in the model list",
	    c->model);
done:
	if (ret != 0 && c->api_key != NULL)
		http_scrub(e->msg, sizeof(e->msg), c->api_key);
	if (root != NULL)
		json_decref(root);
	http_response_release(&rs);
	buf_release(&url);
	return ret;
}
