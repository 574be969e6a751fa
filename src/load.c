/*
 * Loading logs into the store: input -> parser -> real client address ->
 * store, with every skipped line counted by reason.
 *
 * The format is decided per input (one may scan an nginx log and a
 * Traefik log together): unless forced, the first DETECT_LINES lines of
 * each input are held back, shown to parser_detect(), then parsed.
 *
 * Bulk loads run as an ordered pipeline.  The calling thread reads lines
 * and packs them, copied, into batches.  Worker threads parse batches in
 * parallel, each with its own parsers, and resolve client addresses; then,
 * strictly in batch order, each worker appends its batch to the store and
 * accounts for its skipped lines.  Parsing is most of the cost and runs on
 * every core; interning and appending are serial, as the store has one
 * writer, and the order of rows, line numbers and skip samples is exactly
 * that of a single-threaded load.  Following live logs uses the same
 * batches, processed inline.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anomaly.h"

#define DETECT_LINES 16
#define SAMPLE_TEXT_MAX 200
#define BATCH_LINES 4096
#define BATCH_BYTES (1024 * 1024) /* a batch is handed over past this */
#define MAX_WORKERS 8

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

/* ---- batches */

/* The string fields of a parsed row, copied into the batch's out text. */
enum { PF_XFF, PF_METHOD, PF_URI, PF_UA, PF_REFERER, PF_HOST, PF__COUNT };

struct prow {
	int64_t time_ns, body_bytes, request_time_ns;
	int status;
	struct ipaddr client, peer;
	uint32_t off[PF__COUNT], len[PF__COUNT];
};

struct skiprec {
	uint32_t line; /* index in the batch */
	uint8_t reason;
};

enum batch_state { B_FREE, B_FILLING, B_FILLED, B_PARSING, B_PARSED };

struct batch {
	enum batch_state state;
	uint64_t seq;
	/* What the reader put in: raw lines. */
	enum logfmt fmt;
	const char *path;     /* the input's name, owned by its load_src */
	struct buf in;        /* lines back to back */
	size_t *off, *len;
	uint64_t *lineno;
	uint8_t *too_long;
	size_t n;
	/* What the parser made of them. */
	struct prow *rows;
	size_t nrows;
	struct buf out;
	struct skiprec *skips;
	size_t nskips;
};

static void
batch_init(struct batch *b)
{
	memset(b, 0, sizeof(*b));
	buf_init(&b->in);
	buf_init(&b->out);
	buf_grow(&b->in, BATCH_BYTES + 4096);
	buf_grow(&b->out, BATCH_BYTES / 2);
	b->off = xcalloc(BATCH_LINES, sizeof(*b->off));
	b->len = xcalloc(BATCH_LINES, sizeof(*b->len));
	b->lineno = xcalloc(BATCH_LINES, sizeof(*b->lineno));
	b->too_long = xcalloc(BATCH_LINES, sizeof(*b->too_long));
	b->rows = xcalloc(BATCH_LINES, sizeof(*b->rows));
	b->skips = xcalloc(BATCH_LINES, sizeof(*b->skips));
}

static void
batch_release(struct batch *b)
{
	buf_release(&b->in);
	buf_release(&b->out);
	free(b->off);
	free(b->len);
	free(b->lineno);
	free(b->too_long);
	free(b->rows);
	free(b->skips);
	memset(b, 0, sizeof(*b));
}

static void
batch_clear(struct batch *b)
{
	buf_reset(&b->in);
	buf_reset(&b->out);
	b->n = b->nrows = b->nskips = 0;
	b->path = NULL;
}

static int
batch_full(const struct batch *b)
{
	return b->n == BATCH_LINES || b->in.len >= BATCH_BYTES;
}

static void
batch_add_line(struct batch *b, const char *p, size_t n, uint64_t lineno,
    int too_long)
{
	b->off[b->n] = b->in.len;
	b->len[b->n] = n;
	b->lineno[b->n] = lineno;
	b->too_long[b->n] = (uint8_t)too_long;
	buf_add(&b->in, p, n);
	b->n++;
}

static void
out_text(struct batch *b, struct prow *pr, int f, struct span v)
{
	pr->off[f] = (uint32_t)b->out.len;
	pr->len[f] = (uint32_t)v.n;
	if (v.n != 0)
		buf_add(&b->out, v.p, v.n);
}

/*
 * A parser per format, made on first use: workers keep their own, since
 * a parser has scratch space.
 */
struct parsers {
	struct parser *p[FMT__COUNT];
};

static void
parsers_release(struct parsers *ps)
{
	for (int i = 0; i < FMT__COUNT; i++)
		parser_free(ps->p[i]);
	memset(ps, 0, sizeof(*ps));
}

/* Parse every line of a batch: rows for the good ones, skips for others. */
static void
batch_parse(struct batch *b, struct parsers *ps, const struct load_opts *o)
{
	struct parser *p = ps->p[b->fmt];
	struct logrec r;
	struct ipaddr peer;
	char err[256];

	if (p == NULL) {
		struct parser_opts po = o->parse;
		po.fmt = b->fmt;
		p = ps->p[b->fmt] = parser_new(&po, err, sizeof(err));
		/* The reader set this format up once already: it works. */
		if (p == NULL)
			fatalx("parser: %s", err);
	}
	buf_grow(&b->out, b->in.len);
	for (size_t i = 0; i < b->n; i++) {
		int why;
		if (b->too_long[i])
			why = SKIP_TOO_LONG;
		else {
			why = parser_parse(p, b->in.p + b->off[i], b->len[i], &r);
			if (why == 0 && r.time_ns == TIME_NONE)
				why = SKIP_TIME;
			if (why == 0 &&
			    ipaddr_parse_loose(r.remote_addr, &peer) != 0)
				why = SKIP_ADDR;
		}
		if (why != 0) {
			b->skips[b->nskips].line = (uint32_t)i;
			b->skips[b->nskips].reason = (uint8_t)why;
			b->nskips++;
			continue;
		}
		struct prow *pr = &b->rows[b->nrows++];
		pr->time_ns = r.time_ns;
		pr->body_bytes = r.body_bytes;
		pr->request_time_ns = r.request_time_ns;
		pr->status = r.status;
		pr->peer = peer;
		client_ip_resolve(&o->trusted, &peer, r.xff, &pr->client);
		out_text(b, pr, PF_XFF, r.xff);
		out_text(b, pr, PF_METHOD, r.method);
		out_text(b, pr, PF_URI, r.uri);
		out_text(b, pr, PF_UA, r.user_agent);
		out_text(b, pr, PF_REFERER, r.referer);
		out_text(b, pr, PF_HOST, r.host);
	}
}

/* Append a parsed batch to the store and account for its skips. */
static void
batch_append(const struct batch *b, struct store *s, struct load_stats *st)
{
	struct logrec r;

	for (size_t i = 0; i < b->nrows; i++) {
		const struct prow *pr = &b->rows[i];
		struct span *f[PF__COUNT] = { &r.xff, &r.method, &r.uri,
		    &r.user_agent, &r.referer, &r.host };
		logrec_clear(&r);
		r.time_ns = pr->time_ns;
		r.body_bytes = pr->body_bytes;
		r.request_time_ns = pr->request_time_ns;
		r.status = pr->status;
		for (int k = 0; k < PF__COUNT; k++) {
			f[k]->p = b->out.p + pr->off[k];
			f[k]->n = pr->len[k];
		}
		store_append(s, &r, &pr->client, &pr->peer);
	}
	st->rows += b->nrows;
	for (size_t i = 0; i < b->nskips; i++) {
		size_t l = b->skips[i].line;
		note_skip(st, b->path, b->lineno[l],
		    (enum skip_reason)b->skips[i].reason, b->in.p + b->off[l],
		    b->len[l]);
	}
}

/* ---- the pipeline */

struct pipeline {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch *b;
	size_t nb;
	uint64_t next_seq;    /* given to the next batch filled */
	uint64_t append_seq;  /* the batch whose turn it is to append */
	int done;
	struct batch *cur;    /* the reader's, being filled */
	pthread_t thr[MAX_WORKERS];
	size_t nthr;
	const struct load_opts *o;
	struct store *s;
	struct load_stats *st;
	struct parsers inline_ps; /* when there are no workers */
};

static void *
worker(void *arg)
{
	struct pipeline *pl = arg;
	struct parsers ps;

	memset(&ps, 0, sizeof(ps));
	pthread_mutex_lock(&pl->mu);
	for (;;) {
		struct batch *b = NULL;
		for (size_t i = 0; i < pl->nb; i++)
			if (pl->b[i].state == B_FILLED &&
			    (b == NULL || pl->b[i].seq < b->seq))
				b = &pl->b[i];
		if (b == NULL) {
			if (pl->done)
				break;
			pthread_cond_wait(&pl->cv, &pl->mu);
			continue;
		}
		b->state = B_PARSING;
		pthread_mutex_unlock(&pl->mu);
		batch_parse(b, &ps, pl->o);
		pthread_mutex_lock(&pl->mu);
		b->state = B_PARSED;
		while (pl->append_seq != b->seq)
			pthread_cond_wait(&pl->cv, &pl->mu);
		/* Our turn: nobody else appends until we move the turn on. */
		pthread_mutex_unlock(&pl->mu);
		batch_append(b, pl->s, pl->st);
		pthread_mutex_lock(&pl->mu);
		batch_clear(b);
		b->state = B_FREE;
		pl->append_seq++;
		pthread_cond_broadcast(&pl->cv);
	}
	pthread_mutex_unlock(&pl->mu);
	parsers_release(&ps);
	return NULL;
}

static size_t
worker_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	if (n > MAX_WORKERS)
		n = MAX_WORKERS;
	return (size_t)n;
}

/* threads: 0 = inline (no threads), else the number of workers. */
static struct pipeline *
pipeline_new(struct store *s, const struct load_opts *o,
    struct load_stats *st, size_t threads)
{
	struct pipeline *pl = xcalloc(1, sizeof(*pl));

	pthread_mutex_init(&pl->mu, NULL);
	pthread_cond_init(&pl->cv, NULL);
	pl->o = o;
	pl->s = s;
	pl->st = st;
	pl->nb = threads ? threads * 2 + 1 : 1;
	pl->b = xcalloc(pl->nb, sizeof(*pl->b));
	for (size_t i = 0; i < pl->nb; i++)
		batch_init(&pl->b[i]);
	for (size_t i = 0; i < threads; i++) {
		if (pthread_create(&pl->thr[i], NULL, worker, pl) != 0) {
			log_warn("pthread_create");
			break;
		}
		pl->nthr++;
	}
	return pl;
}

/*
 * The batch the reader fills now: the one it holds, or a free one,
 * waiting for it if need be.
 */
static struct batch *
pipeline_current(struct pipeline *pl)
{
	struct batch *b = NULL;

	if (pl->cur != NULL)
		return pl->cur;
	pthread_mutex_lock(&pl->mu);
	for (;;) {
		for (size_t i = 0; i < pl->nb && b == NULL; i++)
			if (pl->b[i].state == B_FREE)
				b = &pl->b[i];
		if (b != NULL)
			break;
		pthread_cond_wait(&pl->cv, &pl->mu);
	}
	b->state = B_FILLING;
	pthread_mutex_unlock(&pl->mu);
	pl->cur = b;
	return b;
}

/* Hand a batch over (or, with no workers, process it right here). */
static void
pipeline_submit(struct pipeline *pl, struct batch *b)
{
	if (b->n == 0)
		return;
	pl->cur = NULL;
	if (pl->nthr == 0) {
		batch_parse(b, &pl->inline_ps, pl->o);
		batch_append(b, pl->s, pl->st);
		batch_clear(b);
		b->state = B_FREE;
		return;
	}
	pthread_mutex_lock(&pl->mu);
	b->seq = pl->next_seq++;
	b->state = B_FILLED;
	pthread_cond_broadcast(&pl->cv);
	pthread_mutex_unlock(&pl->mu);
}

/* Wait until every submitted batch is in the store. */
static void
pipeline_drain(struct pipeline *pl)
{
	pthread_mutex_lock(&pl->mu);
	while (pl->append_seq != pl->next_seq)
		pthread_cond_wait(&pl->cv, &pl->mu);
	pthread_mutex_unlock(&pl->mu);
}

static void
pipeline_free(struct pipeline *pl)
{
	if (pl == NULL)
		return;
	pipeline_drain(pl);
	pthread_mutex_lock(&pl->mu);
	pl->done = 1;
	pthread_cond_broadcast(&pl->cv);
	pthread_mutex_unlock(&pl->mu);
	for (size_t i = 0; i < pl->nthr; i++)
		pthread_join(pl->thr[i], NULL);
	for (size_t i = 0; i < pl->nb; i++)
		batch_release(&pl->b[i]);
	free(pl->b);
	parsers_release(&pl->inline_ps);
	pthread_mutex_destroy(&pl->mu);
	pthread_cond_destroy(&pl->cv);
	free(pl);
}

/* ---- inputs */

struct held {
	char *text;
	size_t n;
	uint64_t lineno;
	int too_long;
};

/* One input being loaded: its reader, its format, the held-back lines. */
struct load_src {
	char *path;
	struct input *in;
	enum logfmt fmt;
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
	input_free(ls->in);
	free(ls->path);
	free(ls);
}

/* Set up a format once, so a bad one is reported before any parsing. */
static int
format_check(const struct load_opts *o, enum logfmt f, const char *path)
{
	struct parser_opts po = o->parse;
	struct parser *p;
	char err[512];

	po.fmt = f;
	if ((p = parser_new(&po, err, sizeof(err))) == NULL) {
		log_warnx("%s: %s", path, err);
		return -1;
	}
	parser_free(p);
	return 0;
}

static struct load_src *
src_open(const struct load_opts *o, const char *path)
{
	struct load_src *ls = xcalloc(1, sizeof(*ls));
	char err[512];

	ls->path = xstrdup(path);
	ls->fmt = o->parse.fmt;
	ls->decided = o->parse.fmt != FMT_AUTO;
	if (ls->decided && format_check(o, ls->fmt, path) != 0)
		goto fail;
	ls->in = input_open(path, &o->input, err, sizeof(err));
	if (ls->in == NULL) {
		log_warnx("%s", err);
		goto fail;
	}
	return ls;
fail:
	src_free(ls);
	return NULL;
}

/* Put a line in the current batch, handing full batches over. */
static void
push_line(struct pipeline *pl, struct load_src *ls, const char *p, size_t n,
    uint64_t lineno, int too_long)
{
	struct batch *b = pipeline_current(pl);

	if (b->n > 0 && (b->fmt != ls->fmt || b->path != ls->path)) {
		pipeline_submit(pl, b);
		b = pipeline_current(pl);
	}
	b->fmt = ls->fmt;
	b->path = ls->path;
	batch_add_line(b, p, n, lineno, too_long);
	if (batch_full(b))
		pipeline_submit(pl, b);
}

/*
 * Decide the format from the held-back lines, however few, then send them
 * on.  With no format recognised the lines are still sent, to be counted
 * as skipped under the format that was asked for (auto: syntax).
 */
static int
src_decide(struct pipeline *pl, const struct load_opts *o,
    struct load_src *ls, struct load_stats *st)
{
	struct span sp[DETECT_LINES] = { { NULL, 0 } };

	if (!ls->decided) {
		for (size_t i = 0; i < ls->nheld; i++) {
			sp[i].p = ls->held[i].too_long ? "" : ls->held[i].text;
			sp[i].n = ls->held[i].too_long ? 0 : ls->held[i].n;
		}
		enum logfmt f = parser_detect(sp, ls->nheld);
		if (f != FMT_AUTO) {
			if (format_check(o, f, ls->path) != 0)
				return -1;
			ls->fmt = f;
			log_info("%s: format %s", ls->path, logfmt_name(f));
		}
		ls->decided = 1;
	}
	if (ls->fmt != FMT_AUTO)
		st->fmt_seen = ls->fmt;
	for (size_t i = 0; i < ls->nheld; i++) {
		push_line(pl, ls, ls->held[i].text, ls->held[i].n,
		    ls->held[i].lineno, ls->held[i].too_long);
		free(ls->held[i].text);
	}
	ls->nheld = 0;
	return 0;
}

/*
 * Read what the input has now.  Returns INPUT_EOF when it is finished
 * (or failed: st->errors counts that), INPUT_AGAIN when following and
 * nothing more is there yet.
 */
static int
src_pump(struct pipeline *pl, const struct load_opts *o, struct load_src *ls,
    struct load_stats *st, struct progress *pg, uint64_t bytes_before)
{
	struct input_line l;
	char err[512];
	uint64_t since_progress = 0;
	int r;

	if (ls->finished)
		return INPUT_EOF;
	if (ls->decided && ls->fmt != FMT_AUTO)
		st->fmt_seen = ls->fmt;
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
			    src_decide(pl, o, ls, st) != 0) {
				st->errors++;
				r = INPUT_ERR;
				break;
			}
			continue;
		}
		push_line(pl, ls, l.p, l.n, l.lineno, l.too_long);
		if (pg != NULL && ++since_progress == 4096) {
			since_progress = 0;
			progress_update(pg, bytes_before +
			    input_bytes_read(ls->in), st->lines);
		}
	}
	/* End of what there is: decide on the lines held, however few. */
	if ((!ls->decided || ls->nheld > 0) && r != INPUT_ERR &&
	    src_decide(pl, o, ls, st) != 0) {
		st->errors++;
		r = INPUT_ERR;
	}
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
	struct pipeline *pl;
	int64_t total = 0, t0 = clock_mono_ns();

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
	pl = pipeline_new(s, o, st,
	    o->threads > 0 ? (size_t)o->threads : worker_count());
	for (size_t i = 0; i < npaths; i++) {
		struct load_src *ls = src_open(o, paths[i]);
		if (ls == NULL) {
			st->errors++;
			continue;
		}
		src_pump(pl, o, ls, st, pg, st->bytes);
		/* Batches point at the source's path: finish them first. */
		pipeline_submit(pl, pipeline_current(pl));
		pipeline_drain(pl);
		src_free(ls);
	}
	pipeline_free(pl);
	progress_free(pg);
	store_finish(s);
	st->seconds = (double)(clock_mono_ns() - t0) / 1e9;
	return st->errors ? -1 : 0;
}

/* ---- following live logs */

struct follow {
	struct load_opts opts; /* shallow copy; the caller keeps o alive */
	struct load_src **src;
	size_t n;
	struct pipeline *pl;   /* inline: rows land before follow_pump returns */
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

	if (f->pl == NULL || f->pl->s != s || f->pl->st != st) {
		pipeline_free(f->pl);
		f->pl = pipeline_new(s, &f->opts, st, 0);
	}
	for (size_t i = 0; i < f->n; i++) {
		src_pump(f->pl, &f->opts, f->src[i], st, NULL, st->bytes);
		pipeline_submit(f->pl, pipeline_current(f->pl));
	}
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
	pipeline_free(f->pl);
	for (size_t i = 0; i < f->n; i++)
		src_free(f->src[i]);
	free(f->src);
	free(f);
}
