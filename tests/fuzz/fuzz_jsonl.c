/*
 * libFuzzer target: jsonl_scan over arbitrary bytes, with a callback that
 * reads every byte it is given (so ASan sees any span out of bounds), and
 * json_parse with every builtin map and a generic one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

static void
touch(struct span s)
{
	unsigned h = 0;

	for (size_t i = 0; i < s.n; i++)
		h = h * 31 + (unsigned char)s.p[i];
	sink += h;
}

static int
touch_cb(void *ctx, struct span key, enum json_type t, struct span v)
{
	size_t *calls = ctx;

	if (t < JT_STRING || t > JT_NULL || key.n > 256)
		abort();
	if (t != JT_STRING && v.n == 0)
		abort(); /* numbers and literals are never empty */
	touch(key);
	touch(v);
	(*calls)++;
	return 0;
}

static void
touch_rec(const struct logrec *r)
{
	touch(r->remote_addr);
	touch(r->xff);
	touch(r->method);
	touch(r->uri);
	touch(r->user_agent);
	touch(r->referer);
	touch(r->host);
	if (r->body_bytes < -1 || r->request_time_ns < -1 ||
	    (r->status != 0 && (r->status < 100 || r->status > 999)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct json_map *maps[5];
	static int ready;
	static const int fmts[] = { FMT_TRAEFIK, FMT_APISIX, FMT_CADDY,
	    FMT_VLOGS };
	const char *line = (const char *)data;
	struct buf scratch = BUF_INIT;
	struct logrec r;
	size_t calls = 0;
	int rc;

	if (!ready) {
		static const char *spec[] = { "_time=ts", "client_ip=ip",
		    "request_uri=req.path", "http_user_agent=h.ua" };
		char err[256];
		for (size_t i = 0; i < 4; i++)
			maps[i] = json_map_builtin(fmts[i]);
		maps[4] = json_map_generic(spec, 4, err, sizeof(err));
		for (size_t i = 0; i < 5; i++)
			if (maps[i] == NULL)
				abort();
		ready = 1;
	}

	rc = jsonl_scan(line, size, &scratch, touch_cb, &calls);
	if (rc != 0 && rc != -1)
		abort();
	for (size_t i = 0; i < 5; i++) {
		int pr = json_parse(maps[i], line, size, &r, &scratch);
		/* the same bytes must get the same verdict on the grammar */
		if ((pr == SKIP_JSON) != (rc != 0))
			abort();
		if (pr < 0 || pr >= SKIP__COUNT)
			abort();
		touch_rec(&r);
	}
	buf_release(&scratch);
	return 0;
}
