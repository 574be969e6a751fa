/*
 * Loading logs into the store: input -> parser -> real client address ->
 * store, with every skipped line counted by reason.
 *
 * The format is decided per input (one may scan an nginx log and a
 * Traefik log together): unless forced, the first DETECT_LINES lines of
 * each input are held back, shown to parser_detect(), then parsed.
 */
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

#define DETECT_LINES 16
#define SAMPLE_TEXT_MAX 200

void
load_opts_init(struct load_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->parse.fmt = FMT_AUTO;
	cidrset_init(&o->trusted);
}

void
load_opts_release(struct load_opts *o)
{
	cidrset_release(&o->trusted);
	memset(o, 0, sizeof(*o));
}

void
load_stats_release(struct load_stats *st)
{
	for (size_t i = 0; i < st->nsamples; i++) {
		free(st->samples[i].file);
		free(st->samples[i].text);
	}
	memset(st, 0, sizeof(*st));
}

static void
note_skip(struct load_stats *st, const char *file, uint64_t lineno,
    enum skip_reason why, const char *text, size_t n)
{
	st->skipped[why]++;
	st->skipped_total++;
	if (st->nsamples >= LOAD_SAMPLES_MAX)
		return;
	struct load_sample *s = &st->samples[st->nsamples++];
	s->file = xstrdup(file);
	s->lineno = lineno;
	s->reason = why;
	s->text = xstrndup(text, n < SAMPLE_TEXT_MAX ? n : SAMPLE_TEXT_MAX);
}

/* Parse one line and store it; the reason it was skipped, or 0. */
static int
load_line(struct store *s, struct parser *p, const struct load_opts *o,
    const char *line, size_t n)
{
	struct logrec r;
	struct ipaddr peer, client;
	int rc;

	rc = parser_parse(p, line, n, &r);
	if (rc != 0)
		return rc;
	if (r.time_ns == TIME_NONE)
		return SKIP_TIME;
	if (ipaddr_parse_loose(r.remote_addr, &peer) != 0)
		return SKIP_ADDR;
	client_ip_resolve(&o->trusted, &peer, r.xff, &client);
	store_append(s, &r, &client, &peer);
	return 0;
}

struct held {
	char *text;
	size_t n;
	uint64_t lineno;
	int too_long;
};

/*
 * Decide the format from the held-back first lines, then parse them.
 * -1 when the detected format cannot be set up.
 */
static int
flush_held(struct store *s, struct parser *p, const struct load_opts *o,
    const char *path, struct held *held, size_t nheld, struct load_stats *st)
{
	struct span sp[DETECT_LINES] = { { NULL, 0 } };
	char err[512];

	for (size_t i = 0; i < nheld; i++) {
		sp[i].p = held[i].too_long ? "" : held[i].text;
		sp[i].n = held[i].too_long ? 0 : held[i].n;
	}
	enum logfmt f = parser_detect(sp, nheld);
	if (f != FMT_AUTO) {
		if (parser_set_format(p, f, err, sizeof(err)) != 0) {
			log_warnx("%s: %s", path, err);
			return -1;
		}
		st->fmt_seen = f;
		log_info("%s: format %s", path, logfmt_name(f));
	}
	for (size_t i = 0; i < nheld; i++) {
		int why = held[i].too_long ? SKIP_TOO_LONG :
		    load_line(s, p, o, held[i].text, held[i].n);
		if (why != 0)
			note_skip(st, path, held[i].lineno, why, held[i].text,
			    held[i].n);
		else
			st->rows++;
	}
	return 0;
}

/* One input being loaded: its reader, its parser, the held-back lines. */
struct load_src {
	char *path;
	struct input *in;
	struct parser *p;
	struct held held[DETECT_LINES];
	size_t nheld;
	int decided;
	int finished;
	uint64_t bytes_counted;
};

static void
src_free(struct load_src *ls)
{
	if (ls == NULL)
		return;
	for (size_t i = 0; i < ls->nheld; i++)
		free(ls->held[i].text);
	parser_free(ls->p);
	input_free(ls->in);
	free(ls->path);
	free(ls);
}

static struct load_src *
src_open(const struct load_opts *o, const char *path)
{
	struct load_src *ls = xcalloc(1, sizeof(*ls));
	char err[512];

	ls->path = xstrdup(path);
	ls->decided = o->parse.fmt != FMT_AUTO;
	ls->in = input_open(path, &o->input, err, sizeof(err));
	if (ls->in == NULL) {
		log_warnx("%s", err);
		goto fail;
	}
	ls->p = parser_new(&o->parse, err, sizeof(err));
	if (ls->p == NULL) {
		log_warnx("%s", err);
		goto fail;
	}
	return ls;
fail:
	src_free(ls);
	return NULL;
}

static int
src_flush(struct store *s, const struct load_opts *o, struct load_src *ls,
    struct load_stats *st)
{
	int rc = 0;

	if (!ls->decided && ls->nheld > 0)
		rc = flush_held(s, ls->p, o, ls->path, ls->held, ls->nheld, st);
	ls->decided = 1;
	for (size_t i = 0; i < ls->nheld; i++)
		free(ls->held[i].text);
	ls->nheld = 0;
	return rc;
}

/*
 * Read what the input has now.  Returns INPUT_EOF when it is finished
 * (or failed: st->errors counts that), INPUT_AGAIN when following and
 * nothing more is there yet.
 */
static int
src_pump(struct store *s, const struct load_opts *o, struct load_src *ls,
    struct load_stats *st, struct progress *pg, uint64_t bytes_before)
{
	struct input_line l;
	char err[512];
	uint64_t since_progress = 0;
	int r;

	if (ls->finished)
		return INPUT_EOF;
	for (;;) {
		r = input_next(ls->in, &l, err, sizeof(err));
		if (r == INPUT_ERR) {
			log_warnx("%s", err);
			st->errors++;
			break;
		}
		if (r == INPUT_EOF || r == INPUT_AGAIN)
			break;
		st->lines++;
		if (!ls->decided) {
			struct held *h = &ls->held[ls->nheld++];
			h->text = xstrndup(l.p, l.n);
			h->n = l.n;
			h->lineno = l.lineno;
			h->too_long = l.too_long;
			if (ls->nheld == DETECT_LINES &&
			    src_flush(s, o, ls, st) != 0) {
				st->errors++;
				r = INPUT_ERR;
				break;
			}
			continue;
		}
		int why = l.too_long ? SKIP_TOO_LONG :
		    load_line(s, ls->p, o, l.p, l.n);
		if (why != 0)
			note_skip(st, ls->path, l.lineno, why, l.p, l.n);
		else
			st->rows++;
		if (pg != NULL && ++since_progress == 4096) {
			since_progress = 0;
			progress_update(pg, bytes_before +
			    input_bytes_read(ls->in), st->rows);
		}
	}
	/* End of what there is: decide on the lines held, however few. */
	if (src_flush(s, o, ls, st) != 0 && r != INPUT_ERR) {
		st->errors++;
		r = INPUT_ERR;
	}
	if (st->fmt_seen == FMT_AUTO)
		st->fmt_seen = parser_format(ls->p);
	uint64_t b = input_bytes_read(ls->in);
	st->bytes += b - ls->bytes_counted;
	ls->bytes_counted = b;
	if (r == INPUT_AGAIN)
		return INPUT_AGAIN;
	ls->finished = 1;
	return INPUT_EOF;
}

int
load_files(struct store *s, const struct load_opts *o, char *const *paths,
    size_t npaths, struct load_stats *st)
{
	struct progress *pg = NULL;
	int64_t total = 0, t0 = clock_mono_ns();
	int rc = 0;

	if (o->progress) {
		for (size_t i = 0; i < npaths; i++) {
			char err[256];
			struct input *in;
			if (strcmp(paths[i], "-") == 0) {
				total = -1;
				break;
			}
			in = input_open(paths[i], &o->input, err, sizeof(err));
			if (in == NULL)
				continue;
			int64_t sz = input_size_hint(in);
			input_free(in);
			if (sz < 0) {
				total = -1;
				break;
			}
			total += sz;
		}
		pg = progress_new(total);
	}
	for (size_t i = 0; i < npaths; i++) {
		struct load_src *ls = src_open(o, paths[i]);
		if (ls == NULL) {
			st->errors++;
			continue;
		}
		src_pump(s, o, ls, st, pg, st->bytes);
		src_free(ls);
	}
	progress_free(pg);
	store_finish(s);
	st->seconds = (double)(clock_mono_ns() - t0) / 1e9;
	if (st->errors)
		rc = -1;
	return rc;
}

/* ---- following live logs */

struct follow {
	struct load_opts opts; /* shallow copy; the caller keeps o alive */
	struct load_src **src;
	size_t n;
};

struct follow *
follow_open(const struct load_opts *o, char *const *paths, size_t n)
{
	struct follow *f = xcalloc(1, sizeof(*f));

	f->opts = *o;
	f->opts.input.follow = 1;
	f->opts.progress = 0;
	f->n = n;
	f->src = xcalloc(n ? n : 1, sizeof(*f->src));
	for (size_t i = 0; i < n; i++) {
		f->src[i] = src_open(&f->opts, paths[i]);
		if (f->src[i] == NULL) {
			follow_free(f);
			return NULL;
		}
	}
	return f;
}

uint64_t
follow_pump(struct follow *f, struct store *s, struct load_stats *st)
{
	uint64_t before = st->rows;

	for (size_t i = 0; i < f->n; i++)
		src_pump(s, &f->opts, f->src[i], st, NULL, st->bytes);
	return st->rows - before;
}

int
follow_active(const struct follow *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (!f->src[i]->finished)
			return 1;
	return 0;
}

void
follow_wait(struct follow *f, int timeout_ms)
{
	/* One input: let it wait on its own file.  Several: poll each. */
	if (f->n == 1) {
		input_wait(f->src[0]->in, timeout_ms);
		return;
	}
	int slice = timeout_ms / (int)(f->n ? f->n : 1);
	for (size_t i = 0; i < f->n; i++)
		if (!f->src[i]->finished)
			input_wait(f->src[i]->in, slice > 10 ? slice : 10);
}

void
follow_free(struct follow *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++)
		src_free(f->src[i]);
	free(f->src);
	free(f);
}
