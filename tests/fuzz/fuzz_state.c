/*
 * libFuzzer target: the state file parser over arbitrary bytes.  Beyond
 * not crashing, a document that parses must survive a round trip: what
 * state_format writes parses again to the same entries, and the entries
 * are canonical, sorted, unique and unexpired.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2025-11-25T18:03:52Z: some entries in the corpus are expired, some not. */
#define NOW (INT64_C(1764093832) * 1000000000)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state a, b;
	struct buf doc = BUF_INIT;
	char err[512];

	log_init("fuzz_state", -1);
	state_init(&a);
	state_init(&b);
	a.max_entries = 64; /* the cap path too */
	if (state_parse(&a, (const char *)data, size, NOW, err,
	    sizeof(err)) != 0) {
		if (a.n != 0 || err[0] == '\0')
			abort();
		goto done;
	}
	for (size_t i = 0; i < a.n; i++) {
		char canon[LAPI_VALUE_MAX];
		const char *scope;
		if (a.v[i].until_ns <= NOW)
			abort();
		if (i > 0 && strcmp(a.v[i - 1].value, a.v[i].value) >= 0)
			abort();
		if (state_canon(a.v[i].value, canon, sizeof(canon), &scope,
		    err, sizeof(err)) != 0 ||
		    strcmp(canon, a.v[i].value) != 0 ||
		    strcmp(scope, a.v[i].scope) != 0)
			abort();
		if (state_find(&a, a.v[i].value, NOW) != &a.v[i])
			abort();
	}
	state_format(&a, &doc);
	b.max_entries = 64;
	if (state_parse(&b, doc.p, doc.len, NOW, err, sizeof(err)) != 0)
		abort();
	if (b.n != a.n)
		abort();
	for (size_t i = 0; i < a.n; i++) {
		const struct state_entry *x = &a.v[i], *y = &b.v[i];
		if (strcmp(x->value, y->value) != 0 ||
		    strcmp(x->scope, y->scope) != 0 ||
		    strcmp(x->scenario, y->scenario) != 0 ||
		    strcmp(x->alert_id, y->alert_id) != 0 ||
		    x->until_ns != y->until_ns ||
		    x->created_ns != y->created_ns)
			abort();
	}
done:
	buf_release(&doc);
	state_release(&a);
	state_release(&b);
	return 0;
}
