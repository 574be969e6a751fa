/*
 * libFuzzer target for what anomaly-detect reads from CrowdSec's LAPI
 * outside the HTTP layer: a GET /v1/alerts answer (lapi_parse_alerts, as
 * `bans list` and `unban` use it) and Go durations (the decisions'
 * remaining time).  Invariants, checked with abort(): a failure says why;
 * every decision kept is NUL-terminated within its fields, still active,
 * and has a value; a duration is negative only when written with '-'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW INT64_C(1764000000000000000)

static void
alerts(const char *p, size_t n)
{
	struct lapi_decisions d;
	char err[512];

	lapi_decisions_init(&d);
	err[0] = '\0';
	if (lapi_parse_alerts(p, n, NOW, &d, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
	}
	for (size_t i = 0; i < d.n; i++) {
		const struct lapi_decision *x = &d.v[i];
		if (memchr(x->value, '\0', sizeof(x->value)) == NULL ||
		    memchr(x->scope, '\0', sizeof(x->scope)) == NULL ||
		    memchr(x->type, '\0', sizeof(x->type)) == NULL ||
		    memchr(x->scenario, '\0', sizeof(x->scenario)) == NULL)
			abort();
		if (x->value[0] == '\0' || x->until_ns <= NOW)
			abort();
	}
	lapi_decisions_release(&d);
}

static void
duration(const char *p, size_t n)
{
	int64_t ns;

	if (n > 256)
		return;
	if (lapi_parse_go_duration((struct span){ p, n }, &ns) != 0)
		return;
	/* A leading '-' is the only way to a negative duration. */
	if (ns < 0 && (n == 0 || p[0] != '-'))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	alerts((const char *)data, size);
	duration((const char *)data, size);
	return 0;
}
