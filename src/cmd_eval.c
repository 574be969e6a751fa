/*
 * anomaly-detect eval: score an analyst on labeled scenarios.
 *
 * Each DIR holds one window of traffic (access.log, or another format
 * the loader knows) and labels.json: who attacked, who is innocent,
 * which ranges may be banned whole, which proxies are trusted (see
 * ../shared/scenarios/README.md).  The analyst runs on it as `scan` would
 * run it, and its bans are scored: attackers banned, innocents banned
 * (the worst outcome: named, and the exit status says so), bans of
 * addresses in neither list.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "anomaly.h"

#define LABELS_MAX_BYTES (64u << 20)
#define FALSE_SHOWN_MAX 50 /* false bans named per scenario in text */

static void
eval_usage(FILE *f)
{
	fprintf(f,
"usage: anomaly-detect eval [options] DIR...\n"
"\n"
"Runs an analyst over labeled scenario folders (a log file and labels.json)\n"
"and scores its bans: attackers banned, recall, false bans (named), bans of\n"
"unlabeled addresses.  Exit 1 when any innocent would be banned.\n"
"\n"
"  --analyst NAME         stats (the built-in analyst, default) or llm (the\n"
"                         agent: the analyst's findings as leads, a model\n"
"                         with logsql_query and ban_ips, every ban through\n"
"                         the guard; falls back to stats when the model\n"
"                         cannot be used or triage skips it)\n"
"  --model NAME           with --analyst llm: a model to score (repeat to\n"
"                         compare several in one table: turns, tokens,\n"
"                         cost, recall, false bans, seconds, conclusions;\n"
"                         default: llm_model from the config)\n"
"  --llm-*, --agent-*     the endpoint and the agent (below)\n"
"  --json                 one JSON object on standard output\n"
"  --file NAME            the log file in each folder (default: access.log,\n"
"                         else traefik.json, vlogs.jsonl, or another log)\n"
"  -c, --config FILE      read settings from FILE first\n"
"  --format F, --log-format STR, --json-field C=KEY, --trusted-proxy CIDR,\n"
"  --max-memory SIZE, --max-line SIZE   as for scan (trusted proxies add\n"
"                         to the labels' own)\n"
"  -v                     more messages\n"
"\n");
	settings_agent_usage(f);
	fputs("\nAnalyst thresholds (config key with underscores, or as an "
	    "option):\n", f);
	analyst_usage(f);
}

/* ---- labels */

void
eval_labels_init(struct eval_labels *l)
{
	memset(l, 0, sizeof(*l));
}

void
eval_labels_release(struct eval_labels *l)
{
	free(l->attackers);
	free(l->innocents);
	for (size_t i = 0; i < l->ninnocents; i++)
		free(l->innocent_what[i]);
	free(l->innocent_what);
	free(l->prefixes);
	for (size_t i = 0; i < l->ntrusted; i++)
		free(l->trusted[i]);
	free(l->trusted);
	free(l->scenario);
	memset(l, 0, sizeof(*l));
}

static int
addr_key(const char *key, struct ipaddr *a, const char *section, char *err,
    size_t errlen)
{
	if (ipaddr_parse(span_str(key), a) != 0) {
		snprintf(err, errlen, "%s: \"%.64s\" is not an address",
		    section, key);
		return -1;
	}
	return 0;
}

int
eval_labels_parse(struct eval_labels *l, const char *text, size_t len,
    char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *v;
	const char *key;
	json_t *val;
	int rc = -1;

	eval_labels_release(l);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		snprintf(err, errlen, "line %d: %s", je.line, je.text);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	v = json_object_get(root, "attackers");
	if (v != NULL && !json_is_object(v)) {
		snprintf(err, errlen, "attackers: not an object");
		goto out;
	}
	if (v != NULL) {
		l->attackers = xcalloc(json_object_size(v) + 1,
		    sizeof(*l->attackers));
		json_object_foreach(v, key, val) {
			if (addr_key(key, &l->attackers[l->nattackers],
			    "attackers", err, errlen) != 0)
				goto out;
			l->nattackers++;
		}
	}
	v = json_object_get(root, "innocents");
	if (v != NULL && !json_is_object(v)) {
		snprintf(err, errlen, "innocents: not an object");
		goto out;
	}
	if (v != NULL) {
		size_t n = json_object_size(v) + 1;
		l->innocents = xcalloc(n, sizeof(*l->innocents));
		l->innocent_what = xcalloc(n, sizeof(*l->innocent_what));
		json_object_foreach(v, key, val) {
			if (addr_key(key, &l->innocents[l->ninnocents],
			    "innocents", err, errlen) != 0)
				goto out;
			l->innocent_what[l->ninnocents++] = xstrdup(
			    json_is_string(val) ? json_string_value(val) : "");
		}
	}
	v = json_object_get(root, "prefixes");
	if (v != NULL && !json_is_object(v)) {
		snprintf(err, errlen, "prefixes: not an object");
		goto out;
	}
	if (v != NULL) {
		l->prefixes = xcalloc(json_object_size(v) + 1,
		    sizeof(*l->prefixes));
		json_object_foreach(v, key, val) {
			char cerr[200];
			if (cidr_parse(span_str(key),
			    &l->prefixes[l->nprefixes], cerr,
			    sizeof(cerr)) != 0) {
				snprintf(err, errlen, "prefixes: %s", cerr);
				goto out;
			}
			l->nprefixes++;
		}
	}
	v = json_object_get(root, "trusted_proxies");
	if (v != NULL && !json_is_array(v)) {
		snprintf(err, errlen, "trusted_proxies: not an array");
		goto out;
	}
	if (v != NULL) {
		size_t i;
		l->trusted = xcalloc(json_array_size(v) + 1,
		    sizeof(*l->trusted));
		json_array_foreach(v, i, val) {
			struct cidr c;
			char cerr[200];
			if (!json_is_string(val) ||
			    cidr_parse(span_str(json_string_value(val)), &c,
			    cerr, sizeof(cerr)) != 0) {
				snprintf(err, errlen, "trusted_proxies: entry %zu "
				    "is not an address or range", i);
				goto out;
			}
			l->trusted[l->ntrusted++] = xstrdup(
			    json_string_value(val));
		}
	}
	v = json_object_get(root, "rows");
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		l->rows = (uint64_t)json_integer_value(v);
	v = json_object_get(root, "scenario");
	if (json_is_string(v))
		l->scenario = xstrdup(json_string_value(v));
	rc = 0;
out:
	json_decref(root);
	if (rc != 0)
		eval_labels_release(l);
	return rc;
}

/* ---- scoring */

void
eval_score_init(struct eval_score *s)
{
	memset(s, 0, sizeof(*s));
}

void
eval_score_release(struct eval_score *s)
{
	for (size_t i = 0; i < s->nfalse; i++)
		free(s->false_bans[i]);
	free(s->false_bans);
	for (size_t i = 0; i < s->nunlabeled; i++)
		free(s->unlabeled[i]);
	free(s->unlabeled);
	memset(s, 0, sizeof(*s));
}

static void
push(char ***v, size_t *n, char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = s;
}

/* A banned range counts for recall only inside a prefix the labels let
 * be banned whole. */
static int
range_allowed(const struct eval_labels *l, const struct cidr *r)
{
	for (size_t i = 0; i < l->nprefixes; i++)
		if (l->prefixes[i].prefix <= r->prefix &&
		    cidr_contains(&l->prefixes[i], &r->addr))
			return 1;
	return 0;
}

void
eval_score(const struct eval_labels *l, const struct ban *bans,
    size_t nbans, struct eval_score *out)
{
	struct ipaddr *ip = xcalloc(nbans + 1, sizeof(*ip));
	struct cidr *rg = xcalloc(nbans + 1, sizeof(*rg));
	unsigned char *ok = xcalloc(nbans + 1, 1);

	eval_score_release(out);
	out->attackers = l->nattackers;
	for (size_t b = 0; b < nbans; b++) {
		char cerr[128];
		if (bans[b].scope == BAN_RANGE)
			ok[b] = cidr_parse(span_str(bans[b].value), &rg[b], cerr,
			    sizeof(cerr)) == 0;
		else
			ok[b] = ipaddr_parse(span_str(bans[b].value),
			    &ip[b]) == 0;
	}
	for (size_t i = 0; i < l->nattackers; i++) {
		const struct ipaddr *a = &l->attackers[i];
		for (size_t b = 0; b < nbans; b++) {
			if (!ok[b])
				continue;
			if (bans[b].scope == BAN_RANGE ?
			    cidr_contains(&rg[b], a) && range_allowed(l, &rg[b]) :
			    ipaddr_cmp(&ip[b], a) == 0) {
				out->banned++;
				break;
			}
		}
	}
	for (size_t i = 0; i < l->ninnocents; i++) {
		const struct ipaddr *a = &l->innocents[i];
		for (size_t b = 0; b < nbans; b++) {
			struct buf s = BUF_INIT;
			char txt[IPADDR_STRLEN];
			if (!ok[b] || (bans[b].scope == BAN_RANGE ?
			    !cidr_contains(&rg[b], a) :
			    ipaddr_cmp(&ip[b], a) != 0))
				continue;
			ipaddr_format(a, txt, sizeof(txt));
			buf_addf(&s, "%s (%s)", txt, l->innocent_what[i]);
			if (bans[b].scope == BAN_RANGE)
				buf_addf(&s, " in %s", bans[b].value);
			push(&out->false_bans, &out->nfalse, s.p);
			break;
		}
	}
	for (size_t b = 0; b < nbans; b++) {
		int labeled = 0;
		if (!ok[b]) {
			push(&out->unlabeled, &out->nunlabeled,
			    xstrdup(bans[b].value));
			continue;
		}
		if (bans[b].scope == BAN_RANGE) {
			labeled = range_allowed(l, &rg[b]);
			for (size_t i = 0; i < l->ninnocents && !labeled; i++)
				labeled = cidr_contains(&rg[b], &l->innocents[i]);
		} else {
			for (size_t i = 0; i < l->nattackers && !labeled; i++)
				labeled = ipaddr_cmp(&ip[b], &l->attackers[i]) == 0;
			for (size_t i = 0; i < l->ninnocents && !labeled; i++)
				labeled = ipaddr_cmp(&ip[b], &l->innocents[i]) == 0;
		}
		if (!labeled)
			push(&out->unlabeled, &out->nunlabeled,
			    xstrdup(bans[b].value));
	}
	free(ip);
	free(rg);
	free(ok);
}

/* ---- running the scenarios */

/* One scenario folder, loaded once and analysed by each model. */
struct scenario {
	char *dir, *name, *file;
	char *error;              /* could not be evaluated: why */
	struct eval_labels labels;
	struct cidrset trusted;   /* the labels' and the configured ones */
	struct store store;
	int loaded;
	double load_seconds;
};

/* One model (or the built-in analyst) on one scenario. */
struct result {
	const struct scenario *sc;
	const char *model;        /* NULL: the built-in analyst */
	int error;                /* could not be evaluated: msg says why */
	char *msg;
	struct eval_score score;
	uint64_t rows, queries;
	size_t findings, bans;
	double seconds;
	/* --analyst llm */
	int agent;                /* the agent ran (or was skipped) */
	int called;               /* the model was asked */
	int fallback;             /* the analyst's decisions added */
	const char *stop;         /* its stop reason */
	int turns;
	int64_t prompt_tokens, completion_tokens;
	double cost;
	unsigned refused;         /* proposals the guard refused */
};

/* A model, for --analyst llm. */
struct eval_llm {
	const char *model;
	struct llm *llm;
	char *key;
	double spent;             /* this run's cost so far (max_usd_day) */
};

static char *
read_small(const char *path, size_t max, size_t *len, char *err,
    size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.len + n > max) {
			snprintf(err, errlen, "larger than %zu bytes", max);
			fclose(f);
			buf_release(&b);
			return NULL;
		}
		buf_add(&b, chunk, n);
	}
	if (ferror(f)) {
		snprintf(err, errlen, "read error: %s", strerror(errno));
		fclose(f);
		buf_release(&b);
		return NULL;
	}
	fclose(f);
	*len = b.len;
	return buf_take(&b);
}

static int
is_file(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n > m && strcmp(s + n - m, suf) == 0;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The log of a scenario folder: the usual names first, then any file
 * that looks like a log, in name order. */
static char *
find_log(const char *dir, const char *want)
{
	static const char *const usual[] = {
		"access.log", "access.log.gz", "traefik.json", "vlogs.jsonl",
		"caddy.json", "apisix.json", "access.json", "access.jsonl",
	};
	struct buf p = BUF_INIT;
	char **names = NULL, *found = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *e;

	if (want != NULL) {
		buf_addf(&p, "%s/%s", dir, want);
		if (is_file(p.p))
			return p.p;
		buf_release(&p);
		return NULL;
	}
	for (size_t i = 0; i < ARRAY_LEN(usual); i++) {
		buf_reset(&p);
		buf_addf(&p, "%s/%s", dir, usual[i]);
		if (is_file(p.p))
			return p.p;
	}
	if ((d = opendir(dir)) == NULL) {
		buf_release(&p);
		return NULL;
	}
	while ((e = readdir(d)) != NULL && n < 4096) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "labels.json") == 0)
			continue;
		if (has_suffix(e->d_name, ".log") || has_suffix(e->d_name,
		    ".gz") || has_suffix(e->d_name, ".json") ||
		    has_suffix(e->d_name, ".jsonl"))
			push(&names, &n, xstrdup(e->d_name));
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), str_cmp);
	for (size_t i = 0; i < n && found == NULL; i++) {
		buf_reset(&p);
		buf_addf(&p, "%s/%s", dir, names[i]);
		if (is_file(p.p))
			found = xstrdup(p.p);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	buf_release(&p);
	return found;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL && s[1] != '\0' ? s + 1 : path;
}

static int
no_reverse(void *ctx, const struct ipaddr *a, char *host, size_t hostlen)
{
	return -1;
}

static int
no_forward(void *ctx, const char *host, struct ipaddr *out, size_t max,
    size_t *n)
{
	*n = 0;
	return -1;
}

/*
 * Reads a scenario folder: labels, then the log into a store of its own.
 * What cannot be read is kept in sc->error; the rows read still count.
 */
static void
scenario_load(struct scenario *sc, const char *dir, const char *want,
    const struct settings *st)
{
	struct load_opts lo;
	struct load_stats ls;
	struct buf path = BUF_INIT, d = BUF_INIT;
	char *text = NULL, err[1024];
	size_t len = 0;
	int64_t t0 = clock_mono_ns();

	memset(sc, 0, sizeof(*sc));
	memset(&ls, 0, sizeof(ls));
	eval_labels_init(&sc->labels);
	cidrset_init(&sc->trusted);
	/* The folder's name, without trailing slashes. */
	buf_addstr(&d, dir);
	while (d.len > 1 && d.p[d.len - 1] == '/')
		d.p[--d.len] = '\0';
	sc->dir = xstrdup(d.p);
	sc->name = xstrdup(base_name(d.p));

	buf_addf(&path, "%s/labels.json", d.p);
	if ((text = read_small(path.p, LABELS_MAX_BYTES, &len, err,
	    sizeof(err))) == NULL ||
	    eval_labels_parse(&sc->labels, text, len, err, sizeof(err)) != 0) {
		sc->error = xstrfmt("%s: %s", path.p, err);
		goto out;
	}
	if ((sc->file = find_log(d.p, want)) == NULL) {
		sc->error = xstrfmt("%s: no log file%s%s", d.p,
		    want != NULL ? " named " : "", want != NULL ? want : "");
		goto out;
	}

	/* The labels' trusted proxies, with the configured ones. */
	for (size_t i = 0; i < st->load.trusted.n; i++)
		cidrset_add(&sc->trusted, &st->load.trusted.v[i]);
	for (size_t i = 0; i < sc->labels.ntrusted; i++) {
		struct cidr c;
		if (cidr_parse(span_str(sc->labels.trusted[i]), &c, err,
		    sizeof(err)) == 0)
			cidrset_add(&sc->trusted, &c);
	}
	lo = st->load;
	lo.progress = 0;
	lo.trusted = sc->trusted;  /* borrowed: load_files only reads it */
	store_init(&sc->store, &st->store);
	sc->loaded = 1;
	if (load_files(&sc->store, &lo, &sc->file, 1, &ls) != 0 || ls.errors)
		sc->error = xstrfmt("%s: could not be read completely",
		    sc->file);
	if (ls.skipped_total)
		log_warnx("%s: %llu of %llu lines skipped", sc->file,
		    (unsigned long long)ls.skipped_total,
		    (unsigned long long)ls.lines);
out:
	sc->load_seconds = (double)(clock_mono_ns() - t0) / 1e9;
	load_stats_release(&ls);
	buf_release(&path);
	buf_release(&d);
	free(text);
}

static void
scenario_release(struct scenario *sc)
{
	free(sc->dir);
	free(sc->name);
	free(sc->file);
	free(sc->error);
	eval_labels_release(&sc->labels);
	cidrset_release(&sc->trusted);
	if (sc->loaded)
		store_release(&sc->store);
	memset(sc, 0, sizeof(*sc));
}

/*
 * The agent on one window: the analyst's report as leads, every ban the
 * model proposes through the guard in dry-run.  Its accepted bans go
 * into rep->b for scoring.  When the model cannot be used, or triage
 * does not call it, the built-in analyst's decisions stand, as they
 * would in a run.
 */
static void
eval_agent(struct scenario *sc, struct source *src, struct settings *st,
    struct eval_llm *el, struct report *rep, struct result *res)
{
	struct guard g;
	struct ban_ctx c;
	struct agent_result ar;
	struct guard_config gc = *ban_guard_config(st);
	int arc;

	/* Recorded logs: today's DNS says nothing about who crawled then,
	 * and eval must not depend on the network or this host. */
	gc.check_own_addresses = 0;
	guard_init(&g, &gc, &sc->trusted, NULL);
	g.res.reverse = no_reverse;
	g.res.forward = no_forward;
	g.res.ctx = NULL;
	guard_cycle_begin(&g);
	memset(&c, 0, sizeof(c));
	c.apply = 0;
	c.guard = &g;
	c.src = src;
	c.start_ns = sc->store.tmin;
	c.end_ns = sc->store.tmax + 1;
	c.now_ns = sc->store.tmax + 1;
	c.duration_ns = st->ban_duration_ns;
	res->agent = 1;
	if ((arc = agent_run(st->agent, el->llm, &c, rep, el->spent,
	    &ar)) != 0)
		log_warnx("%s: %s: agent: %s; the built-in analyst's bans "
		    "stand", sc->name, el->model, ar.error);
	res->called = ar.called;
	res->stop = ar.stop;
	res->turns = ar.turns;
	res->prompt_tokens = ar.prompt_tokens;
	res->completion_tokens = ar.completion_tokens;
	res->cost = ar.cost_usd;
	res->refused = ar.bans.refused;
	el->spent += ar.cost_usd;
	/* As in a run: the model's accepted proposals stand, and when it
	 * could not judge the window (unreachable, a budget, triage) the
	 * built-in analyst's decisions are added. */
	res->fallback = agent_fallback_reason(arc, &ar) != NULL;
	if (res->fallback)
		report_decide(rep, &st->analyst->guard, &sc->trusted,
		    "dry-run");
	report_add_verdicts(rep, &ar.bans);
	if (ar.report != NULL && log_verbosity() > 0)
		log_info("%s: %s: agent report: %s", sc->name, el->model,
		    ar.report);
	agent_result_release(&ar);
	guard_release(&g);
}

/* The built-in analyst, then (el != NULL) the model, on a loaded
 * scenario; the bans scored against its labels. */
static void
eval_one(struct scenario *sc, struct settings *st, struct eval_llm *el,
    struct result *res)
{
	struct source src;
	struct report rep;
	char err[1024];
	int64_t t0 = clock_mono_ns();

	report_init(&rep);
	eval_score_init(&res->score);
	res->sc = sc;
	res->model = el != NULL ? el->model : NULL;
	res->score.attackers = sc->labels.nattackers;
	if (sc->error != NULL) {
		res->error = 1;
		res->msg = xstrdup(sc->error);
	}
	if (!sc->loaded || sc->store.rows == 0)
		goto out;
	memset(&src, 0, sizeof(src));
	src.store = &sc->store;
	src.now_ns = sc->store.tmax + 1;
	if (analyst_run(&src, st->analyst, sc->store.tmin,
	    sc->store.tmax + 1, &rep, err, sizeof(err)) != 0) {
		free(res->msg);
		res->msg = xstrfmt("%s: analyst: %s", sc->file, err);
		res->error = 1;
	}
	if (el != NULL)
		eval_agent(sc, &src, st, el, &rep, res);
	else
		report_decide(&rep, &st->analyst->guard, &sc->trusted,
		    "dry-run");
	res->rows = sc->store.rows;
	res->queries = rep.queries;
	res->findings = rep.nf;
	res->bans = rep.nb;
	eval_score(&sc->labels, rep.b, rep.nb, &res->score);
out:
	/* As if this model had run the scenario alone: reading included. */
	res->seconds = sc->load_seconds +
	    (double)(clock_mono_ns() - t0) / 1e9;
	report_release(&rep);
}

static void
result_release(struct result *r)
{
	free(r->msg);
	eval_score_release(&r->score);
}

/* ---- output */

static void
fmt_recall(char *out, size_t len, size_t banned, size_t attackers)
{
	if (attackers == 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.1f%%", 100.0 * (double)banned /
		    (double)attackers);
}

/* A model's sums over the scenarios. */
struct totals {
	size_t attackers, banned, nfalse, nunlabeled, scenarios, concluded;
	unsigned refused;
	uint64_t rows;
	int turns;
	int64_t prompt_tokens, completion_tokens;
	double cost, seconds;
};

static void
totals_add(struct totals *t, const struct result *r)
{
	t->attackers += r->score.attackers;
	t->banned += r->score.banned;
	t->nfalse += r->score.nfalse;
	t->nunlabeled += r->score.nunlabeled;
	t->rows += r->rows;
	t->turns += r->turns;
	t->prompt_tokens += r->prompt_tokens;
	t->completion_tokens += r->completion_tokens;
	t->cost += r->cost;
	t->seconds += r->seconds;
	t->refused += r->refused;
	t->scenarios++;
	/* A conclusion: the model answered without a budget cutting it
	 * short (a scenario triage kept from the model has none). */
	if (r->stop != NULL && strcmp(r->stop, "answered") == 0)
		t->concluded++;
}

/* Model m's sums over the scenarios (r: nscen x nmodels, scenario
 * major). */
static void
model_totals(const struct result *r, size_t nscen, size_t nmodels,
    size_t m, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < nscen; i++)
		totals_add(t, &r[i * nmodels + m]);
}

static size_t
name_width(const struct result *r, size_t n, int models, size_t min)
{
	size_t w = min;

	for (size_t i = 0; i < n; i++) {
		const char *s = models ? (r[i].model != NULL ? r[i].model :
		    "-") : r[i].sc->name;
		if (strlen(s) > w)
			w = strlen(s);
	}
	return w > 40 ? 40 : w;
}

static void
text_false_bans(const struct result *r, size_t n, int agent, struct buf *o)
{
	size_t tf = 0;

	for (size_t i = 0; i < n; i++)
		tf += r[i].score.nfalse;
	if (tf == 0)
		return;
	buf_addstr(o, "\nfalse bans (innocents that would be banned):\n");
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < r[i].score.nfalse &&
		    k < FALSE_SHOWN_MAX; k++) {
			buf_addf(o, "  %s: ", r[i].sc->name);
			if (agent)
				buf_addf(o, "%s: ", r[i].model);
			buf_add_escaped(o, r[i].score.false_bans[k],
			    strlen(r[i].score.false_bans[k]));
			buf_addch(o, '\n');
		}
}

static void
text_error(const struct result *r, int w, struct buf *o)
{
	buf_addf(o, "%-*.*s  error: ", w, w, r->sc->name);
	buf_add_escaped(o, r->msg, strlen(r->msg));
	buf_addch(o, '\n');
}

/* The built-in analyst: a line per scenario. */
static void
print_text_stats(const struct result *r, size_t n, struct buf *o)
{
	struct totals t;
	int w = (int)name_width(r, n, 0, 8);
	char rc[16];

	memset(&t, 0, sizeof(t));
	buf_addstr(o, "analyst stats\n\n");
	buf_addf(o, "%-*s  %9s  %6s  %7s  %5s  %9s  %8s  %7s\n", w,
	    "scenario", "attackers", "banned", "recall", "false", "unlabeled",
	    "rows", "seconds");
	for (size_t i = 0; i < n; i++) {
		const struct eval_score *s = &r[i].score;
		if (r[i].error) {
			text_error(&r[i], w, o);
			if (r[i].rows == 0)
				continue;
		}
		fmt_recall(rc, sizeof(rc), s->banned, s->attackers);
		buf_addf(o, "%-*.*s  %9zu  %6zu  %7s  %5zu  %9zu  %8llu  %7.2f\n",
		    w, w, r[i].sc->name, s->attackers, s->banned, rc, s->nfalse,
		    s->nunlabeled, (unsigned long long)r[i].rows, r[i].seconds);
		totals_add(&t, &r[i]);
	}
	if (n > 1) {
		fmt_recall(rc, sizeof(rc), t.banned, t.attackers);
		buf_addf(o, "%-*s  %9zu  %6zu  %7s  %5zu  %9zu  %8llu  %7.2f\n",
		    w, "total", t.attackers, t.banned, rc, t.nfalse,
		    t.nunlabeled, (unsigned long long)t.rows, t.seconds);
	}
	text_false_bans(r, n, 0, o);
}

/*
 * The agent: a line per scenario and model (turns, tokens, cost, how the
 * cycle ended), then a line per model over every scenario: the table to
 * choose a model with.  r holds nscen x nmodels results, scenario major.
 */
static void
print_text_llm(const struct result *r, size_t nscen, size_t nmodels,
    struct buf *o)
{
	size_t n = nscen * nmodels;
	int w = (int)name_width(r, n, 0, 8);
	int mw = (int)name_width(r, n, 1, 5);
	char rc[16], cost[32];

	buf_addf(o, "analyst llm, %zu model%s, %zu scenario%s\n\n", nmodels,
	    nmodels == 1 ? "" : "s", nscen, nscen == 1 ? "" : "s");
	buf_addf(o, "%-*s  %-*s  %9s  %6s  %7s  %5s  %9s  %5s  %7s  %10s  "
	    "%8s  %7s  %s\n", w, "scenario", mw, "model", "attackers",
	    "banned", "recall", "false", "unlabeled", "turns", "prompt",
	    "completion", "cost", "seconds", "ended");
	for (size_t i = 0; i < n; i++) {
		const struct eval_score *s = &r[i].score;
		if (r[i].error) {
			text_error(&r[i], w, o);
			if (r[i].rows == 0)
				continue;
		}
		fmt_recall(rc, sizeof(rc), s->banned, s->attackers);
		snprintf(cost, sizeof(cost), "%.4f", r[i].cost);
		buf_addf(o, "%-*.*s  %-*.*s  %9zu  %6zu  %7s  %5zu  %9zu  %5d  "
		    "%7lld  %10lld  %8s  %7.2f  %s%s\n", w, w, r[i].sc->name, mw,
		    mw, r[i].model, s->attackers, s->banned, rc, s->nfalse,
		    s->nunlabeled, r[i].turns, (long long)r[i].prompt_tokens,
		    (long long)r[i].completion_tokens, cost, r[i].seconds,
		    r[i].stop != NULL ? r[i].stop : "-",
		    r[i].fallback ? "+analyst" : "");
	}
	buf_addstr(o, "\n(+analyst: the model did not judge the window; the "
	    "built-in analyst's bans were added to its own)\n");
	buf_addf(o, "\nper model, over %s:\n", nscen == 1 ? "the scenario" :
	    "all scenarios");
	buf_addf(o, "%-*s  %7s  %5s  %9s  %5s  %7s  %10s  %8s  %7s  %s\n", mw,
	    "model", "recall", "false", "unlabeled", "turns", "prompt",
	    "completion", "cost", "seconds", "concluded");
	for (size_t m = 0; m < nmodels; m++) {
		struct totals t;
		model_totals(r, nscen, nmodels, m, &t);
		fmt_recall(rc, sizeof(rc), t.banned, t.attackers);
		snprintf(cost, sizeof(cost), "%.4f", t.cost);
		buf_addf(o, "%-*.*s  %7s  %5zu  %9zu  %5d  %7lld  %10lld  %8s  "
		    "%7.2f  %zu/%zu\n", mw, mw, r[m].model, rc, t.nfalse,
		    t.nunlabeled, t.turns, (long long)t.prompt_tokens,
		    (long long)t.completion_tokens, cost, t.seconds,
		    t.concluded, t.scenarios);
	}
	buf_addf(o, "\nguard refusals of the models' proposals: ");
	for (size_t m = 0; m < nmodels; m++) {
		struct totals t;
		model_totals(r, nscen, nmodels, m, &t);
		buf_addf(o, "%s%s %u", m ? ", " : "", r[m].model, t.refused);
	}
	buf_addch(o, '\n');
	text_false_bans(r, n, 1, o);
}

static void
json_strs(struct buf *o, char *const *v, size_t n)
{
	buf_addch(o, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addch(o, ',');
		buf_add_json_str(o, v[i], strlen(v[i]));
	}
	buf_addch(o, ']');
}

static void
json_str_or_null(struct buf *o, const char *s)
{
	if (s != NULL)
		buf_add_json_str(o, s, strlen(s));
	else
		buf_addstr(o, "null");
}

static void
json_recall(struct buf *o, size_t banned, size_t attackers)
{
	if (attackers)
		buf_addf(o, "%.4f", (double)banned / (double)attackers);
	else
		buf_addstr(o, "null");
}

/* Every result as an object in "scenarios" (with its model under
 * --analyst llm), the sums in "total", and for the agent the sums per
 * model in "models". */
static void
print_json(const struct result *r, size_t nscen, size_t nmodels,
    const char *analyst, struct buf *o)
{
	size_t n = nscen * nmodels;
	struct totals all;

	memset(&all, 0, sizeof(all));
	buf_addf(o, "{\"analyst\":\"%s\",\"scenarios\":[", analyst);
	for (size_t i = 0; i < n; i++) {
		const struct eval_score *s = &r[i].score;
		if (i)
			buf_addch(o, ',');
		buf_addstr(o, "{\"name\":");
		buf_add_json_str(o, r[i].sc->name, strlen(r[i].sc->name));
		buf_addstr(o, ",\"dir\":");
		buf_add_json_str(o, r[i].sc->dir, strlen(r[i].sc->dir));
		buf_addstr(o, ",\"file\":");
		json_str_or_null(o, r[i].sc->file != NULL ?
		    base_name(r[i].sc->file) : NULL);
		buf_addstr(o, ",\"model\":");
		json_str_or_null(o, r[i].model);
		buf_addstr(o, ",\"error\":");
		json_str_or_null(o, r[i].error ? r[i].msg : NULL);
		buf_addf(o, ",\"attackers\":%zu,\"banned\":%zu,\"recall\":",
		    s->attackers, s->banned);
		json_recall(o, s->banned, s->attackers);
		buf_addstr(o, ",\"false_bans\":");
		json_strs(o, s->false_bans, s->nfalse);
		buf_addstr(o, ",\"unlabeled_bans\":");
		json_strs(o, s->unlabeled, s->nunlabeled);
		buf_addf(o, ",\"rows\":%llu,\"seconds\":%.3f,\"queries\":%llu,"
		    "\"findings\":%zu,\"bans\":%zu",
		    (unsigned long long)r[i].rows, r[i].seconds,
		    (unsigned long long)r[i].queries, r[i].findings, r[i].bans);
		if (r[i].agent) {
			buf_addf(o, ",\"fallback\":%s", r[i].fallback ?
			    "true" : "false");
			buf_addf(o, ",\"called\":%s,\"turns\":%d,\"tokens\":%lld,"
			    "\"prompt_tokens\":%lld,\"completion_tokens\":%lld,"
			    "\"cost\":%.6f,\"refused\":%u,\"stop\":",
			    r[i].called ? "true" : "false", r[i].turns,
			    (long long)(r[i].prompt_tokens +
			    r[i].completion_tokens),
			    (long long)r[i].prompt_tokens,
			    (long long)r[i].completion_tokens, r[i].cost,
			    r[i].refused);
			json_str_or_null(o, r[i].stop);
			buf_addch(o, '}');
		} else
			buf_addstr(o, ",\"turns\":null,\"tokens\":null,"
			    "\"cost\":null}");
		totals_add(&all, &r[i]);
	}
	buf_addf(o, "],\"total\":{\"attackers\":%zu,\"banned\":%zu,"
	    "\"false_bans\":%zu,\"unlabeled_bans\":%zu}", all.attackers,
	    all.banned, all.nfalse, all.nunlabeled);
	if (strcmp(analyst, "llm") == 0) {
		buf_addstr(o, ",\"models\":[");
		for (size_t m = 0; m < nmodels; m++) {
			struct totals t;
			model_totals(r, nscen, nmodels, m, &t);
			if (m)
				buf_addch(o, ',');
			buf_addstr(o, "{\"model\":");
			json_str_or_null(o, r[m].model);
			buf_addf(o, ",\"scenarios\":%zu,\"attackers\":%zu,"
			    "\"banned\":%zu,\"recall\":", t.scenarios,
			    t.attackers, t.banned);
			json_recall(o, t.banned, t.attackers);
			buf_addf(o, ",\"false_bans\":%zu,\"unlabeled_bans\":%zu,"
			    "\"turns\":%d,\"prompt_tokens\":%lld,"
			    "\"completion_tokens\":%lld,\"cost\":%.6f,"
			    "\"seconds\":%.3f,\"concluded\":%zu,\"refused\":%u}",
			    t.nfalse, t.nunlabeled, t.turns,
			    (long long)t.prompt_tokens,
			    (long long)t.completion_tokens, t.cost, t.seconds,
			    t.concluded, t.refused);
		}
		buf_addch(o, ']');
	}
	buf_addstr(o, "}\n");
}

int
cmd_eval(int argc, char **argv)
{
	enum { O_JSON = 256, O_ANALYST_KIND, O_FILE, O_SET,
	    O_AGENT, O_MODEL };
	static const struct option baseopts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "analyst", required_argument, NULL, O_ANALYST_KIND },
		{ "model", required_argument, NULL, O_MODEL },
		{ "file", required_argument, NULL, O_FILE },
		{ "format", required_argument, NULL, O_SET },
		{ "log-format", required_argument, NULL, O_SET },
		{ "json-field", required_argument, NULL, O_SET },
		{ "trusted-proxy", required_argument, NULL, O_SET },
		{ "max-memory", required_argument, NULL, O_SET },
		{ "max-line", required_argument, NULL, O_SET },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct settings st;
	struct eval_llm *el = NULL;
	struct scenario *sc = NULL;
	struct buf out = BUF_INIT, errs = BUF_INIT;
	struct option *longopts = settings_longopts(baseopts, O_SET,
	    O_AGENT);
	struct result *res = NULL;
	const char *analyst = "stats", *want = NULL;
	const char **models = NULL;
	size_t nscen = 0, nmodels = 0, nres = 0;
	int ch, idx, rc = 2, verbose = 0, any_false = 0, any_error = 0;

	settings_init(&st);
	if (settings_preload_config(&st, argc, argv, &errs) != 0) {
		fputs(errs.p, stderr);
		goto out;
	}
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:hv", longopts, &idx)) != -1) {
		switch (ch) {
		case O_JSON:
			st.json = 1;
			break;
		case O_ANALYST_KIND:
			analyst = optarg;
			break;
		case O_FILE:
			if (optarg[0] == '\0' || strchr(optarg, '/') != NULL) {
				log_warnx("--file: a file name inside each "
				    "folder, without '/'");
				goto out;
			}
			want = optarg;
			break;
		case O_MODEL:
		case O_AGENT:
			/* --model and --llm-model: several make one table
			 * to compare them. */
			if (ch == O_MODEL ||
			    strcmp(longopts[idx].name, "llm-model") == 0) {
				if (optarg[0] == '\0') {
					log_warnx("--%s: empty",
					    longopts[idx].name);
					goto out;
				}
				models = xreallocarray(models, nmodels + 1,
				    sizeof(*models));
				models[nmodels++] = optarg;
			} else if (settings_option(&st, longopts[idx].name,
			    optarg) != 0)
				goto out;
			break;
		case O_SET:
			if (settings_option(&st, longopts[idx].name, optarg) != 0)
				goto out;
			break;
		case 'c':
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			eval_usage(stdout);
			rc = 0;
			goto out;
		default:
			eval_usage(stderr);
			goto out;
		}
	}
	if (verbose)
		log_init(NULL, log_verbosity() + verbose);
	if (strcmp(analyst, "llm") == 0) {
		/* The models named, else the configured one. */
		if (nmodels == 0 && st.llm_model != NULL) {
			models = xreallocarray(models, 1, sizeof(*models));
			models[nmodels++] = st.llm_model;
		}
		if (nmodels == 0)
			nmodels = 1; /* settings_llm_open says what is missing */
		el = xcalloc(nmodels, sizeof(*el));
		for (size_t m = 0; m < nmodels; m++) {
			struct settings one = st;
			char lerr[512];

			/* A shallow copy that differs in the model only. */
			one.llm_model = models != NULL ? (char *)models[m] :
			    NULL;
			if (settings_llm_open(&one, &el[m].llm, &el[m].key,
			    lerr, sizeof(lerr)) != 0) {
				log_warnx("eval --analyst llm: %s", lerr);
				goto out;
			}
			el[m].model = one.llm_model;
		}
	} else if (strcmp(analyst, "stats") == 0) {
		if (nmodels > 0) {
			log_warnx("eval: --model is for --analyst llm");
			goto out;
		}
		nmodels = 1;
	} else {
		log_warnx("eval: unknown analyst \"%s\" (stats or llm)",
		    analyst);
		goto out;
	}
	if (optind >= argc) {
		log_warnx("eval: no scenario folders");
		eval_usage(stderr);
		goto out;
	}
	st.load.progress = 0;
	nscen = (size_t)(argc - optind);
	sc = xcalloc(nscen, sizeof(*sc));
	res = xcalloc(nscen * nmodels, sizeof(*res));
	/* Scenario by scenario, so one store is in memory at a time and
	 * every model sees the same rows. */
	for (size_t i = 0; i < nscen; i++) {
		scenario_load(&sc[i], argv[optind + (int)i], want, &st);
		if (sc[i].error != NULL) {
			any_error = 1;
			log_warnx("%s", sc[i].error);
		}
		for (size_t m = 0; m < nmodels; m++) {
			struct result *r = &res[i * nmodels + m];
			eval_one(&sc[i], &st, el != NULL ? &el[m] : NULL, r);
			nres++;
			if (r->error && sc[i].error == NULL) {
				any_error = 1;
				log_warnx("%s", r->msg);
			}
			if (r->score.nfalse > 0)
				any_false = 1;
		}
		/* The rows are not needed any more; the names are. */
		if (sc[i].loaded) {
			store_release(&sc[i].store);
			sc[i].loaded = 0;
		}
	}
	if (st.json)
		print_json(res, nscen, nmodels, analyst, &out);
	else if (el != NULL)
		print_text_llm(res, nscen, nmodels, &out);
	else
		print_text_stats(res, nscen, &out);
	fwrite(out.p, 1, out.len, stdout);
	fflush(stdout);
	rc = any_error ? 2 : any_false ? 1 : 0;
out:
	for (size_t i = 0; i < nres; i++)
		result_release(&res[i]);
	free(res);
	for (size_t i = 0; i < nscen && sc != NULL; i++)
		scenario_release(&sc[i]);
	free(sc);
	for (size_t m = 0; m < nmodels && el != NULL; m++) {
		if (el[m].llm != NULL)
			llm_free(el[m].llm);
		if (el[m].key != NULL) {
			explicit_bzero(el[m].key, strlen(el[m].key));
			free(el[m].key);
		}
	}
	free(el);
	free(models);
	free(longopts);
	buf_release(&out);
	buf_release(&errs);
	settings_release(&st);
	return rc;
}
