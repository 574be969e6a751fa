/*
 * libFuzzer target for the chat completions reply parser: arbitrary
 * bytes as a 200 body through llm_parse_reply, the path llm_chat takes.
 * The first byte picks whether the tool names are known (the content
 * fallback) and whether a client (prices, made-up id counter) is used.
 * Invariants, checked with abort():
 *  - a failure leaves the reply empty, is PROTOCOL or PROVIDER, and its
 *    message has no control bytes;
 *  - a success has the normalised assistant message, with one tool call
 *    per call, the same ids, in order; ids are non-empty and unique;
 *    arguments flagged ok parse as a JSON object; the message writes out
 *    as JSON and reads back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "anomaly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = { "logsql_query", "ban_ips" };

static struct llm *
fuzz_client(void)
{
	static struct llm *c;
	struct llm_opts o;
	struct llm_error e;

	if (c != NULL)
		return c;
	llm_opts_init(&o);
	o.base_url = "http://127.0.0.1:9/v1";
	o.model = "m";
	o.api_key = "sk-fuzz";
	o.price_prompt = 1e-7;
	o.price_completion = 2e-7;
	c = llm_new(&o, &e);
	if (c == NULL)
		abort();
	return c;
}

static void
check_ok(const struct llm_reply *r)
{
	json_t *tcs = json_object_get(r->assistant, "tool_calls");
	json_error_t je;
	json_t *back;
	char *text;

	if (r->assistant == NULL)
		abort();
	if (r->ncalls == 0 && tcs != NULL)
		abort();
	if (r->ncalls > 0 && json_array_size(tcs) != r->ncalls)
		abort();
	for (size_t i = 0; i < r->ncalls; i++) {
		const struct llm_call *k = &r->calls[i];
		json_t *tc = json_array_get(tcs, i);
		if (k->id == NULL || k->id[0] == '\0' || k->name == NULL ||
		    k->name[0] == '\0' || k->arguments == NULL)
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(r->calls[j].id, k->id) == 0)
				abort();
		if (strcmp(json_string_value(json_object_get(tc, "id")),
		    k->id) != 0)
			abort();
		if (k->arguments_ok) {
			json_t *a = json_loads(k->arguments, 0, &je);
			if (a == NULL || !json_is_object(a))
				abort();
			json_decref(a);
		}
	}
	text = json_dumps(r->assistant, JSON_COMPACT);
	if (text == NULL)
		abort();
	back = json_loads(text, 0, &je);
	if (back == NULL)
		abort();
	json_decref(back);
	free(text);
	if (r->cost_usd < 0 || r->prompt_tokens < 0 ||
	    r->completion_tokens < 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llm_reply r;
	struct llm_error e;
	unsigned mode;
	int rc;

	if (size == 0)
		return 0;
	mode = data[0];
	data++;
	size--;
	memset(&r, 0, sizeof(r));
	memset(&e, 0, sizeof(e));
	rc = llm_parse_reply((mode & 1) ? fuzz_client() : NULL,
	    (const char *)data, size, (mode & 2) ? names : NULL,
	    (mode & 2) ? ARRAY_LEN(names) : 0, &r, &e);
	if (rc == 0) {
		if (e.kind != LLM_OK)
			abort();
		check_ok(&r);
	} else {
		if (e.kind != LLM_E_PROTOCOL && e.kind != LLM_E_PROVIDER)
			abort();
		if (r.assistant != NULL || r.ncalls != 0 || r.content != NULL)
			abort();
		for (const char *p = e.msg; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
	}
	llm_reply_release(&r);
	return 0;
}
