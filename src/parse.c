/*
 * One entry point for every log format: choose a parser (by name or by
 * looking at the first lines), parse lines into struct logrec.
 *
 * Text formats go to parse_nginx.c (the combined formats are just
 * predefined log_format strings), JSON formats to parse_json.c.
 */
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

static const char *const logfmt_names[FMT__COUNT] = {
	[FMT_AUTO] = "auto",
	[FMT_COMBINED] = "combined",
	[FMT_NGINX_EXT] = "nginx",
	[FMT_NGINX_CUSTOM] = "nginx-custom",
	[FMT_TRAEFIK] = "traefik",
	[FMT_APISIX] = "apisix",
	[FMT_CADDY] = "caddy",
	[FMT_JSON] = "json",
	[FMT_VLOGS] = "vlogs",
};

const char *
logfmt_name(enum logfmt f)
{
	return (unsigned)f < FMT__COUNT ? logfmt_names[f] : "?";
}

int
logfmt_lookup(const char *name)
{
	for (int i = 0; i < FMT__COUNT; i++)
		if (strcmp(name, logfmt_names[i]) == 0)
			return i;
	return -1;
}

static const char *const skip_names[SKIP__COUNT] = {
	[SKIP_NONE] = "none",
	[SKIP_EMPTY] = "empty",
	[SKIP_TOO_LONG] = "too_long",
	[SKIP_SYNTAX] = "syntax",
	[SKIP_JSON] = "bad_json",
	[SKIP_TIME] = "bad_time",
	[SKIP_ADDR] = "bad_address",
	[SKIP_STATUS] = "bad_status",
	[SKIP_NUMBER] = "bad_number",
	[SKIP_FIELD] = "missing_field",
};

const char *
skip_reason_name(enum skip_reason r)
{
	return (unsigned)r < SKIP__COUNT ? skip_names[r] : "?";
}

void
logrec_clear(struct logrec *r)
{
	memset(r, 0, sizeof(*r));
	r->time_ns = TIME_NONE;
	r->body_bytes = -1;
	r->request_time_ns = -1;
}

struct parser {
	struct parser_opts opts;
	enum logfmt fmt;
	struct nginx_fmt *nginx;
	struct json_map *json;
	struct buf scratch;
};

/* ---- detection */

struct detect_keys {
	unsigned traefik, caddy, apisix, vlogs, any_time;
};

static int
detect_cb(void *ctx, struct span key, enum json_type t, struct span v)
{
	struct detect_keys *k = ctx;

	if (span_eq_str(key, "StartUTC") || span_eq_str(key, "ClientAddr") ||
	    span_eq_str(key, "DownstreamStatus") ||
	    span_eq_str(key, "RequestPath"))
		k->traefik++;
	else if ((span_eq_str(key, "logger") && t == JT_STRING &&
	    span_eq_str(v, "http.log.access")) ||
	    span_eq_str(key, "request.remote_ip"))
		k->caddy++;
	else if (span_eq_str(key, "route_id") ||
	    span_eq_str(key, "response.status") ||
	    span_eq_str(key, "start_time"))
		k->apisix++;
	else if (span_eq_str(key, "remote_addr") ||
	    span_eq_str(key, "_msg"))
		k->vlogs++;
	if (span_eq_str(key, "_time"))
		k->any_time = 1;
	return 0;
}

static enum logfmt
detect_json_line(const char *p, size_t n, struct buf *scratch)
{
	struct detect_keys k;

	memset(&k, 0, sizeof(k));
	buf_reset(scratch);
	if (jsonl_scan(p, n, scratch, detect_cb, &k) != 0)
		return FMT_AUTO;
	if (k.traefik >= 2)
		return FMT_TRAEFIK;
	if (k.caddy >= 1)
		return FMT_CADDY;
	if (k.apisix >= 2)
		return FMT_APISIX;
	if (k.vlogs >= 1 && k.any_time)
		return FMT_VLOGS;
	return FMT_JSON;
}

enum logfmt
parser_detect(const struct span *lines, size_t n)
{
	unsigned votes[FMT__COUNT];
	struct nginx_fmt *ext, *comb;
	struct buf scratch = BUF_INIT;
	struct logrec r;
	char err[256];
	enum logfmt best = FMT_AUTO;

	memset(votes, 0, sizeof(votes));
	ext = nginx_fmt_compile(NGINX_FMT_MAIN_EXT, err, sizeof(err));
	comb = nginx_fmt_compile(NGINX_FMT_COMBINED, err, sizeof(err));
	for (size_t i = 0; i < n; i++) {
		struct span l = span_trim(lines[i]);
		if (l.n == 0)
			continue;
		if (l.p[0] == '{') {
			votes[detect_json_line(l.p, l.n, &scratch)]++;
			continue;
		}
		/* The extended format is stricter: it wins ties. */
		if (ext != NULL && nginx_parse(ext, l.p, l.n, &r, &scratch) == 0)
			votes[FMT_NGINX_EXT]++;
		else if (comb != NULL &&
		    nginx_parse(comb, l.p, l.n, &r, &scratch) == 0)
			votes[FMT_COMBINED]++;
	}
	for (int f = 1; f < FMT__COUNT; f++)
		if (votes[f] > votes[best])
			best = (enum logfmt)f;
	nginx_fmt_free(ext);
	nginx_fmt_free(comb);
	buf_release(&scratch);
	return best;
}

/* ---- parsers */

int
parser_set_format(struct parser *p, enum logfmt f, char *err, size_t errlen)
{
	nginx_fmt_free(p->nginx);
	p->nginx = NULL;
	json_map_free(p->json);
	p->json = NULL;
	p->fmt = f;
	switch (f) {
	case FMT_AUTO:
		return 0;
	case FMT_COMBINED:
		p->nginx = nginx_fmt_compile(NGINX_FMT_COMBINED, err, errlen);
		break;
	case FMT_NGINX_EXT:
		p->nginx = nginx_fmt_compile(NGINX_FMT_MAIN_EXT, err, errlen);
		break;
	case FMT_NGINX_CUSTOM:
		if (p->opts.log_format == NULL) {
			snprintf(err, errlen, "format nginx-custom needs a "
			    "log_format string (--log-format)");
			return -1;
		}
		p->nginx = nginx_fmt_compile(p->opts.log_format, err, errlen);
		break;
	case FMT_JSON:
		p->json = json_map_generic(p->opts.json_map, p->opts.json_map_n,
		    err, errlen);
		break;
	case FMT_TRAEFIK:
	case FMT_APISIX:
	case FMT_CADDY:
	case FMT_VLOGS:
		p->json = json_map_builtin(f);
		if (p->json == NULL)
			snprintf(err, errlen, "no JSON map for format %s",
			    logfmt_name(f));
		break;
	default:
		snprintf(err, errlen, "unknown format %d", (int)f);
		return -1;
	}
	return p->nginx != NULL || p->json != NULL ? 0 : -1;
}

struct parser *
parser_new(const struct parser_opts *o, char *err, size_t errlen)
{
	struct parser *p = xcalloc(1, sizeof(*p));

	p->opts = *o;
	buf_init(&p->scratch);
	if (parser_set_format(p, o->fmt, err, errlen) != 0) {
		parser_free(p);
		return NULL;
	}
	return p;
}

enum logfmt
parser_format(const struct parser *p)
{
	return p->fmt;
}

int
parser_parse(struct parser *p, const char *line, size_t len,
    struct logrec *out)
{
	char err[256];

	logrec_clear(out);
	if (len == 0 || span_trim((struct span){ line, len }).n == 0)
		return SKIP_EMPTY;
	if (p->fmt == FMT_AUTO) {
		struct span l = { line, len };
		enum logfmt f = parser_detect(&l, 1);
		if (f == FMT_AUTO || parser_set_format(p, f, err,
		    sizeof(err)) != 0) {
			p->fmt = FMT_AUTO;
			return line[0] == '{' ? SKIP_JSON : SKIP_SYNTAX;
		}
	}
	if (p->nginx != NULL)
		return nginx_parse(p->nginx, line, len, out, &p->scratch);
	return json_parse(p->json, line, len, out, &p->scratch);
}

void
parser_free(struct parser *p)
{
	if (p == NULL)
		return;
	nginx_fmt_free(p->nginx);
	json_map_free(p->json);
	buf_release(&p->scratch);
	free(p);
}
