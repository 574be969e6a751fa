/*
 * libFuzzer target for the VictoriaLogs response parser: arbitrary bytes
 * as a response body, through vlogs_feed / vlogs_feed_end (the line
 * assembler of http.c and qresult_add_jsonl, the path vlogs_query takes),
 * cut into chunks at sizes taken from the input.
 *
 * The first byte picks options (a field map, small caps), the second the
 * chunk size.  Invariants, checked with abort():
 *  - a failed stream leaves the result empty and says why in printable
 *    text (no control bytes);
 *  - a successful one holds one row per line, every line ended by a
 *    newline;
 *  - the result does not depend on how the bytes were cut;
 *  - without a field map, the rows written back as JSON lines parse again
 *    into as many rows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const map[] = {
	"client_ip=remote_addr", "peer=remote_addr", "a=b", "_msg=message",
};

/* 0 or -1; the rows (as JSON lines) appended to rows. */
static int
run(const struct vlogs_opts *o, const char *p, size_t n, size_t step,
    struct buf *rows, size_t *nrows)
{
	struct vlogs_error e;
	struct qresult q;
	struct vlogs_stream *st;
	int r = 0;

	qresult_init(&q);
	memset(&e, 0, sizeof(e));
	st = vlogs_stream_new(o, &q, &e);
	if (st == NULL)
		abort();
	for (size_t i = 0; i < n && r == 0; i += step) {
		size_t k = n - i < step ? n - i : step;
		r = vlogs_feed(st, p + i, k, &e);
	}
	if (r == 0)
		r = vlogs_feed_end(st, &e);
	if (r != 0) {
		size_t len = strnlen(e.msg, sizeof(e.msg));
		if (q.nrows != 0 || q.ncells != 0 || e.kind == VLOGS_OK ||
		    len == 0 || len == sizeof(e.msg))
			abort();
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)e.msg[i] < 0x20 ||
			    (unsigned char)e.msg[i] == 0x7f)
				abort();
		/* Failed for good. */
		if (vlogs_feed(st, "{}\n", 3, &e) == 0 ||
		    vlogs_feed_end(st, &e) == 0)
			abort();
	} else
		qresult_write_jsonl(&q, rows);
	*nrows = q.nrows;
	vlogs_stream_free(st);
	qresult_release(&q);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vlogs_opts o;
	struct buf a, b, c;
	const char *p;
	size_t n, step, na = 0, nb = 0, nc = 0, newlines = 0;
	int ra, rb;

	if (size < 2)
		return 0;
	vlogs_opts_init(&o);
	if (data[0] & 1) {
		o.field_map = map;
		o.nfield_map = ARRAY_LEN(map);
	}
	if (data[0] & 2)
		o.max_rows = 1 + (data[0] >> 4);
	if (data[0] & 4)
		o.max_line = 1 + (size_t)data[0] * 4;
	if (data[0] & 8)
		o.max_bytes = 1 + (uint64_t)data[0] * 8;
	step = 1 + data[1] % 64;
	p = (const char *)data + 2;
	n = size - 2;
	buf_init(&a);
	buf_init(&b);
	buf_init(&c);

	ra = run(&o, p, n, n != 0 ? n : 1, &a, &na);
	rb = run(&o, p, n, step, &b, &nb);
	if (ra != rb || na != nb || a.len != b.len ||
	    memcmp(a.p, b.p, a.len) != 0)
		abort();
	if (ra == 0) {
		for (size_t i = 0; i < n; i++)
			newlines += p[i] == '\n';
		if (na != newlines || (n > 0 && p[n - 1] != '\n'))
			abort();
		if (o.nfield_map == 0) {
			struct vlogs_opts o2;
			vlogs_opts_init(&o2);
			if (run(&o2, a.p, a.len, a.len != 0 ? a.len : 1, &c,
			    &nc) != 0 || nc != na)
				abort();
		}
	}
	buf_release(&a);
	buf_release(&b);
	buf_release(&c);
	return 0;
}
