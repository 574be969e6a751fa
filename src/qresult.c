/*
 * Query results: rows of (name, value) strings.  Both the embedded store
 * and the VictoriaLogs client produce these, so everything downstream
 * (the query command, the analyst, the agent's tool) reads one shape.
 */
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

void
qresult_init(struct qresult *q)
{
	memset(q, 0, sizeof(*q));
	buf_init(&q->text);
	q->rows_cap = 16;
	q->row_start = xcalloc(q->rows_cap + 1, sizeof(*q->row_start));
}

void
qresult_release(struct qresult *q)
{
	buf_release(&q->text);
	free(q->cells);
	free(q->row_start);
	memset(q, 0, sizeof(*q));
}

void
qresult_reset(struct qresult *q)
{
	buf_reset(&q->text);
	q->ncells = 0;
	q->nrows = 0;
	q->row_start[0] = 0;
}

void
qresult_row_begin(struct qresult *q)
{
	if (q->nrows == q->rows_cap) {
		q->rows_cap *= 2;
		q->row_start = xreallocarray(q->row_start, q->rows_cap + 1,
		    sizeof(*q->row_start));
	}
	q->row_start[q->nrows] = q->ncells;
	q->nrows++;
	q->row_start[q->nrows] = q->ncells;
}

void
qresult_add(struct qresult *q, struct span name, struct span value)
{
	struct qcell *c;

	if (q->nrows == 0)
		qresult_row_begin(q);
	if (q->ncells == q->cells_cap) {
		q->cells_cap = q->cells_cap ? q->cells_cap * 2 : 64;
		q->cells = xreallocarray(q->cells, q->cells_cap,
		    sizeof(*q->cells));
	}
	c = &q->cells[q->ncells++];
	c->name_off = q->text.len;
	c->name_len = name.n;
	buf_add(&q->text, name.p != NULL ? name.p : "", name.n);
	c->val_off = q->text.len;
	c->val_len = value.n;
	buf_add(&q->text, value.p != NULL ? value.p : "", value.n);
	q->row_start[q->nrows] = q->ncells;
}

size_t
qresult_row_len(const struct qresult *q, size_t row)
{
	return row < q->nrows ? q->row_start[row + 1] - q->row_start[row] : 0;
}

struct span
qresult_name(const struct qresult *q, size_t row, size_t i)
{
	const struct qcell *c = &q->cells[q->row_start[row] + i];
	struct span s = { q->text.p + c->name_off, c->name_len };
	return s;
}

struct span
qresult_value(const struct qresult *q, size_t row, size_t i)
{
	const struct qcell *c = &q->cells[q->row_start[row] + i];
	struct span s = { q->text.p + c->val_off, c->val_len };
	return s;
}

struct span
qresult_get(const struct qresult *q, size_t row, const char *name)
{
	size_t n = qresult_row_len(q, row);

	for (size_t i = 0; i < n; i++)
		if (span_eq_str(qresult_name(q, row, i), name))
			return qresult_value(q, row, i);
	return SPAN_NULL;
}

void
qresult_write_jsonl(const struct qresult *q, struct buf *out)
{
	for (size_t r = 0; r < q->nrows; r++) {
		size_t n = qresult_row_len(q, r);
		buf_addch(out, '{');
		for (size_t i = 0; i < n; i++) {
			struct span k = qresult_name(q, r, i);
			struct span v = qresult_value(q, r, i);
			if (i)
				buf_addch(out, ',');
			buf_add_json_str(out, k.p, k.n);
			buf_addch(out, ':');
			buf_add_json_str(out, v.p, v.n);
		}
		buf_add(out, "}\n", 2);
	}
}

struct jl_ctx {
	struct qresult *q;
	char *err;
	size_t errlen;
};

static int
jl_field(void *ctx, struct span key, enum json_type t, struct span v)
{
	struct jl_ctx *c = ctx;

	if (t != JT_STRING) {
		struct buf k = BUF_INIT;
		buf_add_escaped(&k, key.p, key.n > 64 ? 64 : key.n);
		snprintf(c->err, c->errlen, "field \"%s\" is not a string",
		    k.p);
		buf_release(&k);
		return 1;
	}
	qresult_add(c->q, key, v);
	return 0;
}

int
qresult_add_jsonl(struct qresult *q, const char *line, size_t len,
    struct buf *scratch, char *err, size_t errlen)
{
	struct jl_ctx c = { q, err, errlen };
	size_t keep_rows = q->nrows, keep_cells = q->ncells;
	size_t keep_text = q->text.len;
	int r;

	if (len == 0 || line[0] != '{') {
		snprintf(err, errlen, "not a JSON object");
		return -1;
	}
	qresult_row_begin(q);
	buf_reset(scratch);
	r = jsonl_scan(line, len, scratch, jl_field, &c);
	if (r != 0) {
		if (r < 0)
			snprintf(err, errlen, "malformed JSON");
		/* Take the partial row back out. */
		q->nrows = keep_rows;
		q->ncells = keep_cells;
		q->text.len = keep_text;
		if (q->text.cap)
			q->text.p[keep_text] = '\0';
		q->row_start[q->nrows] = q->ncells;
		return -1;
	}
	return 0;
}
