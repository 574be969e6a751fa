/*
 * llm_chat against tests/fakes/fake_llm.py on 127.0.0.1: the request on
 * the wire, every provider quirk of shared/docs/llm-tool-calling.md, the
 * error kinds and their retry rules, cost, and the API key kept out of
 * every message.  Also the request builder (OpenRouter-only fields) and
 * the reply parser on bad input.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>

#include <jansson.h>

#include "testutil.h"

#define SEC INT64_C(1000000000)
#define MS INT64_C(1000000)
#define KEY "sk-or-v1-TESTKEY0123456789abcdef"

/* ---- the fake server */

static struct fakeproc keyed;   /* --key KEY --echo-auth --strict-fields */
static struct fakeproc vllm;    /* --reject-tool-choice */

/* Starts the fake with extra arguments (NULL-terminated); -1 if it
 * cannot be found or does not come up. */
static int
fake_start(struct fakeproc *f, const char *const *extra)
{
	return fakeproc_start(f, fakeproc_path("fake_llm.py", NULL), extra,
	    "/api/v1");
}

static void
fake_call(struct fakeproc *f, const char *method, const char *path,
    const char *body, struct buf *out)
{
	struct http_request rq;
	struct http_response rs;
	char url[256], err[512];
	int r;

	memset(&rq, 0, sizeof(rq));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->port, path);
	rq.method = method;
	rq.url = url;
	rq.body = body;
	rq.body_len = body != NULL ? strlen(body) : 0;
	rq.timeout_ns = 10 * SEC;
	http_response_init(&rs);
	r = http_do(&rq, &rs, err, sizeof(err));
	if (r != 0 || rs.status != 200)
		fail_msg("%s %s: %s (status %d)", method, path, err, rs.status);
	if (out != NULL)
		buf_add(out, rs.body.p, rs.body.len);
	http_response_release(&rs);
}

/* A script written with ' for " (none of the tests needs a quote). */
static void
script(struct fakeproc *f, const char *s)
{
	char *t = xstrdup(s);

	for (char *p = t; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	fake_call(f, "POST", "/fake/script", t, NULL);
	free(t);
}

static void
fake_reset(struct fakeproc *f)
{
	fake_call(f, "POST", "/fake/reset", "", NULL);
}

/* The recorded requests, as a JSON array. */
static json_t *
requests(struct fakeproc *f)
{
	struct buf b = BUF_INIT;
	json_t *a = json_array();
	char *p, *nl;

	fake_call(f, "GET", "/fake/requests", NULL, &b);
	for (p = b.p; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		json_error_t je;
		json_t *j = json_loadb(p, (size_t)(nl - p), 0, &je);
		assert_non_null(j);
		json_array_append_new(a, j);
	}
	buf_release(&b);
	return a;
}

static size_t
nrequests(struct fakeproc *f)
{
	json_t *a = requests(f);
	size_t n = json_array_size(a);

	json_decref(a);
	return n;
}

static int
group_setup(void **state)
{
	static const char *const k[] = { "--key", KEY, "--echo-auth",
	    "--strict-fields", NULL };
	static const char *const v[] = { "--reject-tool-choice", NULL };

	signal(SIGPIPE, SIG_IGN);
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	if (fake_start(&keyed, k) != 0)
		keyed.pid = -1;
	if (keyed.pid > 0 && fake_start(&vllm, v) != 0)
		vllm.pid = -1;
	return 0;
}

static int
group_teardown(void **state)
{
	fakeproc_stop(&keyed);
	fakeproc_stop(&vllm);
	return 0;
}

#define NEED_FAKE() do {                                                 \
	if (keyed.pid <= 0 || vllm.pid <= 0) {                           \
		print_message("fake_llm.py or python3 not found\n");     \
		skip();                                                  \
	}                                                                \
	fake_reset(&keyed);                                              \
	fake_reset(&vllm);                                               \
} while (0)

/* ---- helpers */

static const char *const tool_names[] = { "logsql_query", "ban_ips" };

static json_t *
tools_json(void)
{
	json_error_t je;
	json_t *t = json_loads("[{\"type\":\"function\",\"function\":{"
	    "\"name\":\"logsql_query\",\"description\":\"run LogsQL\","
	    "\"parameters\":{\"type\":\"object\",\"properties\":{\"query\":"
	    "{\"type\":\"string\"}},\"required\":[\"query\"]}}},"
	    "{\"type\":\"function\",\"function\":{\"name\":\"ban_ips\","
	    "\"description\":\"ban\",\"parameters\":{\"type\":\"object\","
	    "\"properties\":{}}}}]", 0, &je);

	assert_non_null(t);
	return t;
}

static json_t *
msgs_json(void)
{
	json_t *m = json_array();

	json_array_append_new(m, json_pack("{s:s,s:s}", "role", "system",
	    "content", "you investigate"));
	json_array_append_new(m, json_pack("{s:s,s:s}", "role", "user",
	    "content", "window 09:00-09:05"));
	return m;
}

/* Options for a fake: fast retries, the right key. */
static struct llm *
client(struct fakeproc *f, const char *key, int retries)
{
	struct llm_opts o;
	struct llm_error e;
	struct llm *c;

	llm_opts_init(&o);
	o.base_url = f->base;
	o.model = "test/model";
	o.api_key = key;
	o.temperature = 0.2;
	o.max_tokens = 2048;
	o.retries = retries;
	o.retry_base_ns = 10 * MS;
	o.retry_max_ns = 50 * MS;
	o.timeout_ns = 10 * SEC;
	o.price_prompt = 0.0000002;
	o.price_completion = 0.0000005;
	c = llm_new(&o, &e);
	if (c == NULL)
		fail_msg("llm_new: %s", e.msg);
	return c;
}

/* One round trip on the keyed fake after queueing s; the reply in r. */
static int
chat1(struct llm *c, const char *s, struct llm_reply *r, struct llm_error *e)
{
	json_t *m = msgs_json(), *t = tools_json();
	int rc;

	if (s != NULL)
		script(&keyed, s);
	rc = llm_chat(c, m, t, tool_names, ARRAY_LEN(tool_names), r, e);
	json_decref(m);
	json_decref(t);
	return rc;
}

static const char *
jstr(json_t *o, const char *path)
{
	/* "a.b.c" object path */
	char key[64];
	const char *p = path, *dot;

	while ((dot = strchr(p, '.')) != NULL) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - p), p);
		o = json_object_get(o, key);
		p = dot + 1;
	}
	o = json_object_get(o, p);
	return json_is_string(o) ? json_string_value(o) : NULL;
}

/* ---- the wire */

static void
test_wire_request(void **state)
{
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;
	json_t *reqs, *q, *h;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&keyed, KEY, 0);
	assert_int_equal(chat1(c, NULL, &r, &e), 0);
	assert_int_equal(e.kind, LLM_OK);
	assert_string_equal(r.content, "done");
	assert_string_equal(r.finish_reason, "stop");
	assert_int_equal(r.ncalls, 0);
	assert_int_equal(r.prompt_tokens, 10);
	assert_int_equal(r.completion_tokens, 5);
	assert_string_equal(jstr(r.assistant, "role"), "assistant");
	assert_string_equal(jstr(r.assistant, "content"), "done");
	assert_null(json_object_get(r.assistant, "tool_calls"));
	/* and again: tools go with every request */
	assert_int_equal(chat1(c, NULL, &r, &e), 0);

	reqs = requests(&keyed);
	assert_int_equal(json_array_size(reqs), 2);
	for (size_t i = 0; i < 2; i++) {
		q = json_object_get(json_array_get(reqs, i), "body");
		h = json_object_get(json_array_get(reqs, i), "headers");
		assert_string_equal(jstr(json_array_get(reqs, i), "path"),
		    "/api/v1/chat/completions");
		assert_string_equal(jstr(q, "model"), "test/model");
		assert_int_equal(json_array_size(json_object_get(q,
		    "messages")), 2);
		assert_int_equal(json_array_size(json_object_get(q, "tools")),
		    2);
		assert_string_equal(jstr(q, "tool_choice"), "auto");
		assert_true(json_real_value(json_object_get(q,
		    "temperature")) > 0.19);
		assert_int_equal(json_integer_value(json_object_get(q,
		    "max_tokens")), 2048);
		/* not OpenRouter: nothing provider-specific */
		assert_null(json_object_get(q, "usage"));
		assert_null(json_object_get(q, "provider"));
		assert_string_equal(jstr(h, "Authorization"), "Bearer " KEY);
		assert_string_equal(jstr(h, "Content-Type"),
		    "application/json");
		assert_null(json_object_get(h, "X-Title"));
	}
	json_decref(reqs);
	llm_reply_release(&r);
	llm_free(c);
}

static struct llm *
bare_client(const char *base, double temp, int max_tokens,
    const char *const *hdrs, size_t nh)
{
	struct llm_opts o;
	struct llm_error e;
	struct llm *c;

	llm_opts_init(&o);
	o.base_url = base;
	o.model = "m";
	o.temperature = temp;
	o.max_tokens = max_tokens;
	o.headers = hdrs;
	o.nheaders = nh;
	c = llm_new(&o, &e);
	assert_non_null(c);
	return c;
}

static json_t *
body_of(struct llm *c)
{
	json_t *m = msgs_json(), *t = tools_json(), *j;
	json_error_t je;
	char *s = llm_request_body(c, m, t);

	assert_non_null(s);
	j = json_loads(s, 0, &je);
	assert_non_null(j);
	free(s);
	json_decref(m);
	json_decref(t);
	return j;
}

static int
header_has(struct llm *c, const char *line)
{
	size_t n;
	const char *const *h = llm_request_headers(c, &n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(h[i], line) == 0)
			return 1;
	return 0;
}

static int
header_named(struct llm *c, const char *name)
{
	size_t n, l = strlen(name);
	const char *const *h = llm_request_headers(c, &n);

	for (size_t i = 0; i < n; i++)
		if (strncasecmp(h[i], name, l) == 0 && h[i][l] == ':')
			return 1;
	return 0;
}

static void
test_request_builder(void **state)
{
	static const char *const mine[] = { "X-Title: my-soc" };
	struct llm *c;
	json_t *j;

	/* OpenRouter: usage.include and the app headers */
	c = bare_client("https://openrouter.ai/api/v1", 0.2, 100, NULL, 0);
	j = body_of(c);
	assert_true(json_is_true(json_object_get(json_object_get(j, "usage"),
	    "include")));
	assert_string_equal(jstr(j, "tool_choice"), "auto");
	assert_true(header_named(c, "HTTP-Referer"));
	assert_true(header_has(c, "X-Title: anomaly-detect"));
	json_decref(j);
	llm_free(c);

	/* a user's own X-Title wins, and only once */
	c = bare_client("https://OpenRouter.AI/api/v1/", 0.2, 100, mine, 1);
	assert_true(header_has(c, "X-Title: my-soc"));
	assert_false(header_has(c, "X-Title: anomaly-detect"));
	j = body_of(c);
	assert_non_null(json_object_get(j, "usage"));
	json_decref(j);
	llm_free(c);

	/* a look-alike host is not OpenRouter */
	c = bare_client("https://openrouter.ai.evil.example/v1", 0.2, 100,
	    NULL, 0);
	j = body_of(c);
	assert_null(json_object_get(j, "usage"));
	assert_false(header_named(c, "X-Title"));
	assert_false(header_named(c, "HTTP-Referer"));
	json_decref(j);
	llm_free(c);

	/* Ollama: no tool_choice; temperature < 0 and max_tokens 0 unsent */
	c = bare_client("http://localhost:11434/v1", -1, 0, NULL, 0);
	j = body_of(c);
	assert_null(json_object_get(j, "tool_choice"));
	assert_null(json_object_get(j, "temperature"));
	assert_null(json_object_get(j, "max_tokens"));
	assert_null(json_object_get(j, "usage"));
	assert_int_equal(json_array_size(json_object_get(j, "tools")), 2);
	json_decref(j);
	llm_free(c);

	/* vLLM on another port: tool_choice sent, temperature 0 sent */
	c = bare_client("http://10.0.0.5:8000/v1", 0, 0, NULL, 0);
	j = body_of(c);
	assert_string_equal(jstr(j, "tool_choice"), "auto");
	assert_non_null(json_object_get(j, "temperature"));
	json_decref(j);
	llm_free(c);
}

static void
test_usage_errors(void **state)
{
	static const char *const bad[] = { "X-Bad\r\nInjected: 1" };
	struct llm_opts o;
	struct llm_error e;
	struct llm *c;

	llm_opts_init(&o);
	o.model = "m";
	o.base_url = "ftp://example.org";
	assert_null(llm_new(&o, &e));
	assert_int_equal(e.kind, LLM_E_USAGE);
	o.base_url = "https://openrouter.ai/api/v1";
	o.model = NULL;
	assert_null(llm_new(&o, &e));
	assert_int_equal(e.kind, LLM_E_USAGE);
	o.model = "m";
	o.api_key = "sk-SECRET\nX: y";
	assert_null(llm_new(&o, &e));
	assert_int_equal(e.kind, LLM_E_USAGE);
	assert_null(strstr(e.msg, "SECRET"));
	o.api_key = NULL;
	o.headers = bad;
	o.nheaders = 1;
	assert_null(llm_new(&o, &e));
	assert_int_equal(e.kind, LLM_E_USAGE);
	o.nheaders = 0;
	c = llm_new(&o, &e);
	assert_non_null(c);
	/* no messages: nothing sent */
	{
		struct llm_reply r;
		json_t *m = json_array();
		memset(&r, 0, sizeof(r));
		assert_int_equal(llm_chat(c, m, NULL, NULL, 0, &r, &e), -1);
		assert_int_equal(e.kind, LLM_E_USAGE);
		json_decref(m);
	}
	llm_free(c);
}

/* ---- quirks */

static void
test_arguments_shapes(void **state)
{
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;
	json_t *tc;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&keyed, KEY, 0);
	assert_int_equal(chat1(c, "[{'tool_calls':["
	    "{'name':'ban_ips','arguments':'','id':'a1'},"
	    "{'name':'logsql_query','arguments':'{ \\'query\\' : \\'x\\' }','id':'a2'},"
	    "{'name':'logsql_query','arguments':'{\\'query\\':\\'y\\'','id':'a3'},"
	    "{'name':'logsql_query','arguments':{'query':'z'},'id':'a4'},"
	    "{'name':'logsql_query','arguments':'[1,2]','id':'a5'}]}]",
	    &r, &e), 0);
	assert_int_equal(r.ncalls, 5);
	assert_string_equal(r.finish_reason, "tool_calls");
	assert_string_equal(r.calls[0].arguments, "{}");
	assert_true(r.calls[0].arguments_ok);
	assert_string_equal(r.calls[0].name, "ban_ips");
	assert_string_equal(r.calls[1].arguments, "{\"query\":\"x\"}");
	assert_true(r.calls[1].arguments_ok);
	/* vLLM's dropped brace: flagged, raw text kept */
	assert_false(r.calls[2].arguments_ok);
	assert_string_equal(r.calls[2].arguments, "{\"query\":\"y\"");
	/* Ollama's native object */
	assert_true(r.calls[3].arguments_ok);
	assert_string_equal(r.calls[3].arguments, "{\"query\":\"z\"}");
	/* JSON, but not an object */
	assert_false(r.calls[4].arguments_ok);
	assert_string_equal(r.calls[4].arguments, "[1,2]");
	/* the history gets ids as sent, arguments always JSON text */
	tc = json_object_get(r.assistant, "tool_calls");
	assert_int_equal(json_array_size(tc), 5);
	assert_string_equal(jstr(json_array_get(tc, 2), "id"), "a3");
	assert_string_equal(jstr(json_array_get(tc, 2), "type"), "function");
	assert_string_equal(jstr(json_array_get(tc, 2), "function.arguments"),
	    "{}");
	assert_string_equal(jstr(json_array_get(tc, 3), "function.arguments"),
	    "{\"query\":\"z\"}");
	assert_true(json_is_null(json_object_get(r.assistant, "content")));
	llm_reply_release(&r);
	llm_free(c);
}

/* Appends the assistant message and one tool answer per call. */
static void
answer_all(json_t *m, const struct llm_reply *r)
{
	json_array_append(m, r->assistant);
	for (size_t i = 0; i < r->ncalls; i++)
		json_array_append_new(m, json_pack("{s:s,s:s,s:s}", "role",
		    "tool", "tool_call_id", r->calls[i].id, "content", "ok"));
}

static void
test_missing_ids_made_up_and_paired(void **state)
{
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;
	json_t *m, *t, *reqs, *sent;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&keyed, KEY, 0);
	m = msgs_json();
	t = tools_json();
	script(&keyed, "[{'tool_calls':[{'name':'logsql_query',"
	    "'arguments':'{}','id':null},{'name':'ban_ips','arguments':'{}',"
	    "'id':null}]},{'tool_calls':[{'name':'ban_ips','id':null}]},"
	    "{'content':'report'}]");
	assert_int_equal(llm_chat(c, m, t, tool_names, 2, &r, &e), 0);
	assert_int_equal(r.ncalls, 2);
	assert_string_equal(r.calls[0].id, "call_1");
	assert_string_equal(r.calls[1].id, "call_2");
	assert_string_equal(r.calls[0].name, "logsql_query");
	assert_string_equal(r.calls[1].name, "ban_ips");
	answer_all(m, &r);
	/* the fake checks the pairing as providers do: a 400 otherwise */
	assert_int_equal(llm_chat(c, m, t, tool_names, 2, &r, &e), 0);
	assert_int_equal(r.ncalls, 1);
	assert_string_equal(r.calls[0].id, "call_3"); /* unique in the
	                                                  client's life */
	answer_all(m, &r);
	assert_int_equal(llm_chat(c, m, t, tool_names, 2, &r, &e), 0);
	assert_string_equal(r.content, "report");

	reqs = requests(&keyed);
	assert_int_equal(json_array_size(reqs), 3);
	sent = json_object_get(json_object_get(json_array_get(reqs, 1),
	    "body"), "messages");
	assert_int_equal(json_array_size(sent), 5);
	assert_string_equal(jstr(json_array_get(sent, 2),
	    "role"), "assistant");
	assert_string_equal(jstr(json_array_get(json_object_get(
	    json_array_get(sent, 2), "tool_calls"), 1), "id"), "call_2");
	assert_string_equal(jstr(json_array_get(sent, 4), "tool_call_id"),
	    "call_2");
	json_decref(reqs);

	/* a broken pairing is refused, and a 400 is not retried */
	json_array_remove(m, json_array_size(m) - 1);
	llm_free(c);
	c = client(&keyed, KEY, 3);
	fake_reset(&keyed);
	assert_int_equal(llm_chat(c, m, t, tool_names, 2, &r, &e), -1);
	assert_int_equal(e.kind, LLM_E_REJECTED);
	assert_int_equal(e.status, 400);
	assert_int_equal(e.attempts, 1);
	assert_non_null(strstr(e.msg, "tool_call_id"));
	assert_int_equal(nrequests(&keyed), 1);
	assert_null(r.assistant);

	json_decref(m);
	json_decref(t);
	llm_reply_release(&r);
	llm_free(c);
}

static void
test_duplicate_ids(void **state)
{
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&keyed, KEY, 0);
	assert_int_equal(chat1(c, "[{'tool_calls':[{'name':'ban_ips',"
	    "'id':'x'},{'name':'ban_ips','id':'x'},{'name':'ban_ips',"
	    "'id':''}]}]", &r, &e), 0);
	assert_int_equal(r.ncalls, 3);
	assert_string_equal(r.calls[0].id, "x");
	assert_string_not_equal(r.calls[1].id, "x");
	assert_string_not_equal(r.calls[2].id, "");
	assert_string_not_equal(r.calls[1].id, r.calls[2].id);
	llm_reply_release(&r);
	llm_free(c);
}

static void
test_content_fallback(void **state)
{
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&keyed, KEY, 0);

	/* bare object */
	script(&keyed, "[{'content':' {\\'name\\':\\'logsql_query\\',"
	    "\\'arguments\\':{\\'query\\':\\'status:404\\'}}\\n'}]");
	assert_int_equal(chat1(c, NULL, &r, &e), 0);
	assert_int_equal(r.ncalls, 1);
	assert_string_equal(r.calls[0].name, "logsql_query");
	assert_string_equal(r.calls[0].arguments, "{\"query\":\"status:404\"}");
	assert_string_equal(r.calls[0].id, "call_1");
	assert_null(r.content);
	assert_string_equal(jstr(json_array_get(json_object_get(r.assistant,
	    "tool_calls"), 0), "id"), "call_1");

	/* <tool_call> blocks, text around them kept, string arguments */
	script(&keyed, "[{'content':'Let me look.\\n<tool_call>{\\'name\\':"
	    "\\'logsql_query\\',\\'arguments\\':\\'{}\\'}</tool_call>\\n"
	    "<tool_call>{\\'name\\':\\'ban_ips\\',\\'arguments\\':{}}"
	    "</tool_call>'}]");
	assert_int_equal(chat1(c, NULL, &r, &e), 0);
	assert_int_equal(r.ncalls, 2);
	assert_string_equal(r.calls[0].name, "logsql_query");
	assert_string_equal(r.calls[1].name, "ban_ips");
	assert_string_equal(r.content, "Let me look.");

	/* a JSON list of calls */
	script(&keyed, "[{'content':'[{\\'name\\':\\'ban_ips\\',"
	    "\\'arguments\\':{}},{\\'name\\':\\'logsql_query\\',"
	    "\\'parameters\\':{\\'query\\':\\'*\\'}}]'}]");
	assert_int_equal(chat1(c, NULL, &r, &e), 0);
	assert_int_equal(r.ncalls, 2);
	assert_string_equal(r.calls[1].arguments, "{\"query\":\"*\"}");

	/* an unknown name: the content stays text, no call */
	script(&keyed, "[{'content':'{\\'name\\':\\'rm_rf\\',"
	    "\\'arguments\\':{}}'}]");
	assert_int_equal(chat1(c, NULL, &r, &e), 0);
	assert_int_equal(r.ncalls, 0);
	assert_string_equal(r.content, "{\"name\":\"rm_rf\",\"arguments\":{}}");
	assert_null(json_object_get(r.assistant, "tool_calls"));

	/* one unknown among known ones: all refused */
	script(&keyed, "[{'content':'<tool_call>{\\'name\\':\\'ban_ips\\'}"
	    "</tool_call><tool_call>{\\'name\\':\\'shell\\'}</tool_call>'}]");
	assert_int_equal(chat1(c, NULL, &r, &e), 0);
	assert_int_equal(r.ncalls, 0);
	assert_non_null(strstr(r.content, "shell"));

	/* a bare JSON answer with a name but no arguments is an answer */
	script(&keyed, "[{'content':'{\\'name\\':\\'ban_ips\\',"
	    "\\'reason\\':\\'x\\'}'}]");
	assert_int_equal(chat1(c, NULL, &r, &e), 0);
	assert_int_equal(r.ncalls, 0);
	assert_non_null(r.content);

	/* prose mentioning a tool is prose */
	script(&keyed, "[{'content':'I will call ban_ips next.'}]");
	assert_int_equal(chat1(c, NULL, &r, &e), 0);
	assert_int_equal(r.ncalls, 0);
	assert_string_equal(r.content, "I will call ban_ips next.");

	/* with native tool_calls present the content is not searched */
	script(&keyed, "[{'content':'{\\'name\\':\\'ban_ips\\'}',"
	    "'tool_calls':[{'name':'logsql_query','id':'n1'}]}]");
	assert_int_equal(chat1(c, NULL, &r, &e), 0);
	assert_int_equal(r.ncalls, 1);
	assert_string_equal(r.calls[0].id, "n1");
	assert_string_equal(jstr(r.assistant, "content"),
	    "{\"name\":\"ban_ips\"}");

	llm_reply_release(&r);
	llm_free(c);
}

static void
test_length_mid_call(void **state)
{
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&keyed, KEY, 0);
	assert_int_equal(chat1(c, "[{'finish_reason':'length','tool_calls':["
	    "{'name':'logsql_query','arguments':'{\\'query\\':\\'a\\'}','id':'k1'},"
	    "{'name':'ban_ips','arguments':'{\\'ips\\':[\\'1.2','id':'k2'}]}]",
	    &r, &e), 0);
	assert_string_equal(r.finish_reason, "length");
	assert_int_equal(r.ncalls, 1);
	assert_string_equal(r.calls[0].id, "k1");
	assert_int_equal(json_array_size(json_object_get(r.assistant,
	    "tool_calls")), 1);

	/* length with empty content and no call (reasoning ate it) */
	assert_int_equal(chat1(c, "[{'finish_reason':'length','content':'',"
	    "'usage':{'prompt_tokens':5,'completion_tokens':100,"
	    "'completion_tokens_details':{'reasoning_tokens':100}}}]",
	    &r, &e), 0);
	assert_int_equal(r.ncalls, 0);
	assert_string_equal(r.content, "");
	assert_int_equal(r.reasoning_tokens, 100);
	llm_reply_release(&r);
	llm_free(c);
}

static void
test_reasoning(void **state)
{
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&keyed, KEY, 0);
	assert_int_equal(chat1(c, "[{'content':'a','reasoning':'think 1'}]",
	    &r, &e), 0);
	assert_string_equal(r.reasoning, "think 1");
	assert_int_equal(chat1(c, "[{'content':'a','reasoning_content':"
	    "'think 2'}]", &r, &e), 0);
	assert_string_equal(r.reasoning, "think 2");
	assert_int_equal(chat1(c, "[{'content':'a'}]", &r, &e), 0);
	assert_null(r.reasoning);
	/* reasoning is not sent back in the history */
	assert_null(json_object_get(r.assistant, "reasoning"));
	llm_reply_release(&r);
	llm_free(c);
}

static void
test_utf8(void **state)
{
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&keyed, KEY, 0);
	/* multibyte text kept whole */
	assert_int_equal(chat1(c, "[{'content':'caf\xc3\xa9 \xe2\x9c\x93 "
	    "\xf0\x9f\x98\x80'}]", &r, &e), 0);
	assert_string_equal(r.content, "caf\xc3\xa9 \xe2\x9c\x93 "
	    "\xf0\x9f\x98\x80");
	/* invalid UTF-8 from the server: replaced, the rest read */
	assert_int_equal(chat1(c, "[{'bytes':true,'raw_body':'{\\'choices\\':"
	    "[{\\'message\\':{\\'content\\':\\'a\xc3\xbf" "b\\'},"
	    "\\'finish_reason\\':\\'stop\\'}]}'}]", &r, &e), 0);
	assert_string_equal(r.content, "a\xef\xbf\xbd" "b");
	llm_reply_release(&r);
	llm_free(c);
}

/* ---- errors */

static void
test_error_in_200_body(void **state)
{
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&keyed, KEY, 3);
	assert_int_equal(chat1(c, "[{'error':{'code':502,'message':"
	    "'upstream model crashed','metadata':{'raw':'boom'}}}]", &r, &e),
	    -1);
	assert_int_equal(e.kind, LLM_E_PROVIDER);
	assert_int_equal(e.status, 502);
	assert_non_null(strstr(e.msg, "upstream model crashed"));
	assert_non_null(strstr(e.msg, "boom"));
	assert_int_equal(nrequests(&keyed), 1);
	assert_null(r.assistant);
	assert_int_equal(r.ncalls, 0);

	/* a body that is not JSON */
	fake_reset(&keyed);
	assert_int_equal(chat1(c, "[{'raw_body':'<html>oops</html>'}]", &r,
	    &e), -1);
	assert_int_equal(e.kind, LLM_E_PROTOCOL);
	/* JSON without choices */
	assert_int_equal(chat1(c, "[{'body':{'id':'x'}}]", &r, &e), -1);
	assert_int_equal(e.kind, LLM_E_PROTOCOL);
	assert_int_equal(nrequests(&keyed), 2);
	llm_reply_release(&r);
	llm_free(c);
}

static void
test_429_retry_after_then_ok(void **state)
{
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;
	int64_t t0, dt;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&keyed, KEY, 2);
	t0 = clock_mono_ns();
	assert_int_equal(chat1(c, "[{'status':429,'headers':{'Retry-After':"
	    "'1'}},{'content':'after'}]", &r, &e), 0);
	dt = clock_mono_ns() - t0;
	assert_string_equal(r.content, "after");
	assert_int_equal(e.attempts, 2);
	assert_int_equal(nrequests(&keyed), 2);
	assert_true(dt >= 900 * MS);   /* the server's 1 s, not our 50 ms */
	assert_true(dt < 4 * SEC);

	/* still limited after the retries */
	fake_reset(&keyed);
	assert_int_equal(chat1(c, "[{'status':429,'repeat':3}]", &r, &e), -1);
	assert_int_equal(e.kind, LLM_E_RATE);
	assert_int_equal(e.status, 429);
	assert_int_equal(e.attempts, 3);
	assert_int_equal(nrequests(&keyed), 3);
	llm_reply_release(&r);
	llm_free(c);
}

static void
test_402_not_retried(void **state)
{
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&keyed, KEY, 3);
	assert_int_equal(chat1(c, "[{'status':402,'message':'Insufficient "
	    "credits'},{'content':'never'}]", &r, &e), -1);
	assert_int_equal(e.kind, LLM_E_CREDIT);
	assert_int_equal(e.status, 402);
	assert_int_equal(e.attempts, 1);
	assert_non_null(strstr(e.msg, "Insufficient credits"));
	assert_int_equal(nrequests(&keyed), 1);
	llm_reply_release(&r);
	llm_free(c);
}

static void
test_5xx_retried_then_unavailable(void **state)
{
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&keyed, KEY, 2);
	assert_int_equal(chat1(c, "[{'status':503,'repeat':3},"
	    "{'content':'late'}]", &r, &e), -1);
	assert_int_equal(e.kind, LLM_E_UNAVAILABLE);
	assert_int_equal(e.status, 503);
	assert_int_equal(e.attempts, 3);
	assert_int_equal(nrequests(&keyed), 3);

	/* one 502 and one 408, then an answer */
	fake_reset(&keyed);
	assert_int_equal(chat1(c, "[{'status':502},{'status':408},"
	    "{'content':'ok'}]", &r, &e), 0);
	assert_string_equal(r.content, "ok");
	assert_int_equal(e.attempts, 3);
	assert_int_equal(nrequests(&keyed), 3);

	/* other 4xx and 403: not retried */
	fake_reset(&keyed);
	assert_int_equal(chat1(c, "[{'status':403,'message':'flagged'}]", &r,
	    &e), -1);
	assert_int_equal(e.kind, LLM_E_AUTH);
	assert_int_equal(chat1(c, "[{'status':404,'raw_body':'no such "
	    "route'}]", &r, &e), -1);
	assert_int_equal(e.kind, LLM_E_REJECTED);
	assert_non_null(strstr(e.msg, "no such route"));
	assert_int_equal(nrequests(&keyed), 2);
	llm_reply_release(&r);
	llm_free(c);
}

static void
test_vllm_tool_choice_400(void **state)
{
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;
	json_t *m = msgs_json(), *t = tools_json();

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&vllm, NULL, 3);
	assert_int_equal(llm_chat(c, m, t, tool_names, 2, &r, &e), -1);
	assert_int_equal(e.kind, LLM_E_REJECTED);
	assert_non_null(strstr(e.msg, "enable-auto-tool-choice"));
	assert_int_equal(nrequests(&vllm), 1);
	/* no key: no Authorization header */
	{
		json_t *q = requests(&vllm);
		assert_null(json_object_get(json_object_get(
		    json_array_get(q, 0), "headers"), "Authorization"));
		json_decref(q);
	}
	json_decref(m);
	json_decref(t);
	llm_reply_release(&r);
	llm_free(c);
}

static void
test_cost(void **state)
{
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&keyed, KEY, 0);
	assert_int_equal(chat1(c, "[{'usage':{'prompt_tokens':1000,"
	    "'completion_tokens':200,'cost':0.0123}}]", &r, &e), 0);
	assert_true(r.cost_reported);
	assert_true(r.cost_usd > 0.01229 && r.cost_usd < 0.01231);
	/* no usage.cost: tokens x prices (0.2 and 0.5 USD per million) */
	assert_int_equal(chat1(c, "[{'usage':{'prompt_tokens':1000000,"
	    "'completion_tokens':2000000}}]", &r, &e), 0);
	assert_false(r.cost_reported);
	assert_true(r.cost_usd > 1.1999 && r.cost_usd < 1.2001);
	/* cost 0 is a report too (free models) */
	assert_int_equal(chat1(c, "[{'usage':{'prompt_tokens':10,"
	    "'completion_tokens':10,'cost':0}}]", &r, &e), 0);
	assert_true(r.cost_reported);
	assert_true(r.cost_usd == 0);
	/* no usage at all */
	assert_int_equal(chat1(c, "[{'usage':null}]", &r, &e), 0);
	assert_int_equal(r.prompt_tokens, 0);
	assert_true(r.cost_usd == 0);
	llm_reply_release(&r);
	llm_free(c);
}

static void
test_fetch_prices(void **state)
{
	struct llm_opts o;
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	llm_opts_init(&o);
	o.base_url = keyed.base;
	o.model = "test/model";
	o.api_key = KEY;
	o.retries = 0;
	c = llm_new(&o, &e);
	assert_non_null(c);
	/* no prices yet: tokens cost nothing */
	assert_int_equal(chat1(c, "[{'usage':{'prompt_tokens':1000000,"
	    "'completion_tokens':1000000}}]", &r, &e), 0);
	assert_true(r.cost_usd == 0);
	assert_int_equal(llm_fetch_prices(c, &e), 0);
	assert_int_equal(chat1(c, "[{'usage':{'prompt_tokens':1000000,"
	    "'completion_tokens':1000000}}]", &r, &e), 0);
	assert_true(r.cost_usd > 0.6999 && r.cost_usd < 0.7001);
	/* the model list is not a chat request */
	assert_int_equal(nrequests(&keyed), 2);
	llm_free(c);

	o.model = "no/such-model";
	c = llm_new(&o, &e);
	assert_non_null(c);
	assert_int_equal(llm_fetch_prices(c, &e), -1);
	assert_int_equal(e.kind, LLM_E_PROTOCOL);
	assert_non_null(strstr(e.msg, "no/such-model"));
	llm_free(c);

	/* fetch_prices: read before the first chat, so its tokens cost */
	o.model = "test/model";
	o.fetch_prices = 1;
	c = llm_new(&o, &e);
	assert_non_null(c);
	assert_int_equal(chat1(c, "[{'usage':{'prompt_tokens':1000000,"
	    "'completion_tokens':1000000}}]", &r, &e), 0);
	assert_true(r.cost_usd > 0.6999 && r.cost_usd < 0.7001);
	llm_free(c);
	/* ... but configured prices win */
	o.price_prompt = 0.000001;
	c = llm_new(&o, &e);
	assert_non_null(c);
	assert_int_equal(chat1(c, "[{'usage':{'prompt_tokens':1000000,"
	    "'completion_tokens':1000000}}]", &r, &e), 0);
	assert_true(r.cost_usd > 0.9999 && r.cost_usd < 1.0001);
	llm_free(c);
	/* ... and a model the list lacks still chats, at no known cost */
	o.price_prompt = 0;
	o.model = "no/such-model";
	c = llm_new(&o, &e);
	assert_non_null(c);
	assert_int_equal(chat1(c, "[{'usage':{'prompt_tokens':1000000,"
	    "'completion_tokens':1000000}}]", &r, &e), 0);
	assert_true(r.cost_usd == 0);
	llm_free(c);
	llm_reply_release(&r);
}

static void
test_key_never_in_errors(void **state)
{
	static const char wrong[] = "sk-or-v1-WRONGKEY999xyz";
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;

	NEED_FAKE();
	memset(&r, 0, sizeof(r));
	c = client(&keyed, wrong, 3);
	assert_int_equal(chat1(c, NULL, &r, &e), -1);
	assert_int_equal(e.kind, LLM_E_AUTH);
	assert_int_equal(e.status, 401);
	assert_int_equal(e.attempts, 1);
	/* the server echoed it; the message says so without it */
	assert_non_null(strstr(e.msg, "No auth credentials found"));
	assert_non_null(strstr(e.msg, "***"));
	assert_null(strstr(e.msg, wrong));
	assert_null(strstr(e.msg, "WRONGKEY"));
	llm_free(c);

	/* the right key echoed inside a 200 error and a 500 body */
	c = client(&keyed, KEY, 0);
	assert_int_equal(chat1(c, "[{'error':{'code':500,'message':'bad "
	    "token " KEY "'}}]", &r, &e), -1);
	assert_int_equal(e.kind, LLM_E_PROVIDER);
	assert_null(strstr(e.msg, "TESTKEY"));
	assert_int_equal(chat1(c, "[{'status':500,'raw_body':'Bearer " KEY
	    "'}]", &r, &e), -1);
	assert_int_equal(e.kind, LLM_E_UNAVAILABLE);
	assert_null(strstr(e.msg, "TESTKEY"));
	llm_reply_release(&r);
	llm_free(c);
}

static int
dead_port(int *fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

static void
test_network_errors(void **state)
{
	struct fakeproc dead;
	struct llm *c;
	struct llm_reply r;
	struct llm_error e;
	int fd;
	json_t *m = msgs_json();

	memset(&r, 0, sizeof(r));
	memset(&dead, 0, sizeof(dead));
	dead.port = dead_port(&fd);
	snprintf(dead.base, sizeof(dead.base), "http://user:" KEY
	    "@127.0.0.1:%d/v1", dead.port);
	c = client(&dead, KEY, 2);
	assert_int_equal(llm_chat(c, m, NULL, NULL, 0, &r, &e), -1);
	assert_int_equal(e.kind, LLM_E_NETWORK);
	assert_int_equal(e.attempts, 3);
	assert_null(strstr(e.msg, "TESTKEY"));
	llm_free(c);
	close(fd);

	/* a server that takes too long: one try (it may have billed) */
	if (keyed.pid > 0) {
		struct llm_opts o;
		fake_reset(&keyed);
		script(&keyed, "[{'delay':1.5,'content':'slow'}]");
		llm_opts_init(&o);
		o.base_url = keyed.base;
		o.model = "test/model";
		o.api_key = KEY;
		o.timeout_ns = 300 * MS;
		o.retry_base_ns = 10 * MS;
		c = llm_new(&o, &e);
		assert_non_null(c);
		assert_int_equal(llm_chat(c, m, NULL, NULL, 0, &r, &e), -1);
		assert_int_equal(e.kind, LLM_E_NETWORK);
		assert_int_equal(e.attempts, 1);
		llm_free(c);
	}
	json_decref(m);
	llm_reply_release(&r);
}

/* ---- the parser alone */

static void
test_parse_bad_input(void **state)
{
	static const char *const junk[] = {
		"", "null", "[]", "\"x\"", "{", "{\"choices\":[]}",
		"{\"choices\":[{\"message\":\"x\"}]}",
		"{\"choices\":[{}]}", "\xff\xfe\x00",
		"{\"choices\":[{\"message\":{\"content\":\"a\\u0000b\"}}]}",
	};
	struct llm_reply r;
	struct llm_error e;

	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < ARRAY_LEN(junk); i++) {
		size_t n = i == 8 ? 3 : strlen(junk[i]);
		assert_int_equal(llm_parse_reply(NULL, junk[i], n, NULL, 0,
		    &r, &e), -1);
		assert_int_equal(e.kind, LLM_E_PROTOCOL);
		assert_null(r.assistant);
	}
	/* truncated good answer: never read past n */
	{
		static const char good[] = "{\"choices\":[{\"message\":"
		    "{\"content\":\"hello\"},\"finish_reason\":\"stop\"}]}";
		for (size_t n = 0; n < sizeof(good) - 1; n++) {
			char *p = xmalloc(n + 1);
			memcpy(p, good, n);
			assert_int_equal(llm_parse_reply(NULL, p, n, NULL, 0,
			    &r, &e), -1);
			free(p);
		}
		assert_int_equal(llm_parse_reply(NULL, good, sizeof(good) - 1,
		    NULL, 0, &r, &e), 0);
		assert_string_equal(r.content, "hello");
	}
	/* content as parts; wrong types ignored */
	{
		static const char parts[] = "{\"choices\":[{\"message\":"
		    "{\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
		    "{\"type\":\"text\",\"text\":\"b\"}],\"tool_calls\":7,"
		    "\"reasoning\":5},\"finish_reason\":3}],\"usage\":"
		    "{\"prompt_tokens\":-4,\"cost\":\"1\"}}";
		assert_int_equal(llm_parse_reply(NULL, parts, sizeof(parts) -
		    1, tool_names, 2, &r, &e), 0);
		assert_string_equal(r.content, "ab");
		assert_int_equal(r.ncalls, 0);
		assert_null(r.reasoning);
		assert_string_equal(r.finish_reason, "");
		assert_int_equal(r.prompt_tokens, 0);
		assert_false(r.cost_reported);
	}
	llm_reply_release(&r);
	assert_string_equal(llm_errkind_name(LLM_E_CREDIT), "credit");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_request),
		cmocka_unit_test(test_request_builder),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_arguments_shapes),
		cmocka_unit_test(test_missing_ids_made_up_and_paired),
		cmocka_unit_test(test_duplicate_ids),
		cmocka_unit_test(test_content_fallback),
		cmocka_unit_test(test_length_mid_call),
		cmocka_unit_test(test_reasoning),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_error_in_200_body),
		cmocka_unit_test(test_429_retry_after_then_ok),
		cmocka_unit_test(test_402_not_retried),
		cmocka_unit_test(test_5xx_retried_then_unavailable),
		cmocka_unit_test(test_vllm_tool_choice_400),
		cmocka_unit_test(test_cost),
		cmocka_unit_test(test_fetch_prices),
		cmocka_unit_test(test_key_never_in_errors),
		cmocka_unit_test(test_network_errors),
		cmocka_unit_test(test_parse_bad_input),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
