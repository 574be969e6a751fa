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
"  --llm-base-url URL, --llm-model NAME   the model (key from\n"
"                         llm_api_key_file, $LLM_API_KEY or\n"
"                         $OPENROUTER_API_KEY); --llm-header, --llm-temperature,\n"
"                         --llm-max-tokens, --llm-price-prompt,\n"
"                         --llm-price-completion, --agent-triage,\n"
"                         --agent-max-turns, --agent-max-tokens,\n"
"                         --agent-max-usd-cycle, --agent-max-usd-day,\n"
"                         --agent-max-seconds, --agent-language,\n"
"                         --agent-system-prompt-file as in the config\n"
"  --json                 one JSON object on standard output\n"
"  --file NAME            the log file in each folder (default: access.log,\n"
"                         else traefik.json, vlogs.jsonl, or another log)\n"
"  -c, --config FILE      read settings from FILE first\n"
"  --format F, --log-format STR, --json-field C=KEY, --trusted-proxy CIDR,\n"
"  --max-memory SIZE, --max-line SIZE   as for scan (trusted proxies add\n"
"                         to the labels' own)\n"
"  -v                     more messages\n"
"\n"
"Analyst thresholds (config key with underscores, or as an option):\n");
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

/* ---- running one scenario */

struct result {
	char *dir, *name, *file;
	int error;                /* could not be evaluated: msg says why */
	char *msg;
	struct eval_score score;
	uint64_t rows, queries;
	size_t findings, bans;
	double seconds;
	/* --analyst llm */
	int agent;                /* the agent ran (or was skipped) */
	const char *stop;         /* its stop reason */
	int turns;
	int64_t prompt_tokens, completion_tokens;
	double cost;
	unsigned refused;         /* proposals the guard refused */
};

/* The model, for --analyst llm. */
struct eval_llm {
	struct llm *llm;
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
		snprintf(err, errlen, "%s: cannot open", path);
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.len + n > max) {
			snprintf(err, errlen, "%s: larger than %zu bytes", path,
			    max);
			fclose(f);
			buf_release(&b);
			return NULL;
		}
		buf_add(&b, chunk, n);
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		fclose(f);
		buf_release(&b);
		return NULL;
	}
	fclose(f);
	*len = b.len;
	return b.p != buf_empty_str ? b.p : xstrdup("");
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

static void
fail(struct result *res, const char *fmt, ...) AD_PRINTF(2, 3);

static void
fail(struct result *res, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	free(res->msg);
	res->msg = b.p != buf_empty_str ? b.p : xstrdup("");
	res->error = 1;
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
 * The agent on one window: the analyst's report as leads, every ban the
 * model proposes through the guard in dry-run.  Its accepted bans go
 * into rep->b for scoring.  When the model cannot be used, or triage
 * does not call it, the built-in analyst's decisions stand, as they
 * would in a run.
 */
static void
eval_agent(struct store *s, struct source *src, struct settings *st,
    const struct cidrset *trusted, struct eval_llm *el, struct report *rep,
    struct result *res)
{
	struct guard g;
	struct ban_ctx c;
	struct agent_result ar;
	struct guard_config gc = *ban_guard_config(st);

	/* Recorded logs: today's DNS says nothing about who crawled then,
	 * and eval must not depend on the network or this host. */
	gc.check_own_addresses = 0;
	guard_init(&g, &gc, trusted, NULL);
	g.res.reverse = no_reverse;
	g.res.forward = no_forward;
	g.res.ctx = NULL;
	guard_cycle_begin(&g);
	memset(&c, 0, sizeof(c));
	c.apply = 0;
	c.guard = &g;
	c.src = src;
	c.start_ns = s->tmin;
	c.end_ns = s->tmax + 1;
	c.now_ns = s->tmax + 1;
	c.duration_ns = st->ban_duration_ns;
	res->agent = 1;
	if (agent_run(st->agent, el->llm, &c, rep, el->spent, &ar) != 0)
		log_warnx("%s: agent: %s; the built-in analyst's bans stand",
		    res->name, ar.error);
	res->stop = ar.stop;
	res->turns = ar.turns;
	res->prompt_tokens = ar.prompt_tokens;
	res->completion_tokens = ar.completion_tokens;
	res->cost = ar.cost_usd;
	res->refused = ar.bans.refused;
	el->spent += ar.cost_usd;
	if (!ar.called || strcmp(ar.stop, "llm-error") == 0) {
		report_decide(rep, &st->analyst->guard, trusted, "dry-run");
	} else {
		for (size_t i = 0; i < ar.bans.n; i++) {
			const struct ban_result *b = &ar.bans.v[i];
			struct ban *nb;
			if (strcmp(b->verdict, "dry-run") != 0)
				continue;
			if (rep->nb == rep->capb) {
				rep->capb = rep->capb ? rep->capb * 2 : 16;
				rep->b = xreallocarray(rep->b, rep->capb,
				    sizeof(*rep->b));
			}
			nb = &rep->b[rep->nb++];
			memset(nb, 0, sizeof(*nb));
			snprintf(nb->value, sizeof(nb->value), "%s", b->value);
			nb->scope = b->scope;
			nb->scenario = b->scenario;
			nb->verdict = "dry-run";
			nb->reason = xstrdup(b->reason);
			nb->severity = 50;
		}
	}
	if (ar.report != NULL && log_verbosity() > 0)
		log_info("%s: agent report: %s", res->name, ar.report);
	agent_result_release(&ar);
	guard_release(&g);
}

static void
eval_one(const char *dir, const char *want, struct settings *st,
    struct eval_llm *el, struct result *res)
{
	struct eval_labels l;
	struct load_opts lo;
	struct load_stats ls;
	struct store s;
	struct source src;
	struct report rep;
	struct buf path = BUF_INIT, d = BUF_INIT;
	char *text = NULL, *file = NULL, err[1024];
	size_t len = 0;
	int64_t t0 = clock_mono_ns();

	eval_labels_init(&l);
	memset(&ls, 0, sizeof(ls));
	report_init(&rep);
	eval_score_init(&res->score);
	/* The folder's name, without trailing slashes. */
	buf_addstr(&d, dir);
	while (d.len > 1 && d.p[d.len - 1] == '/')
		d.p[--d.len] = '\0';
	res->dir = xstrdup(d.p);
	res->name = xstrdup(base_name(d.p));

	buf_addf(&path, "%s/labels.json", d.p);
	if ((text = read_small(path.p, LABELS_MAX_BYTES, &len, err,
	    sizeof(err))) == NULL ||
	    eval_labels_parse(&l, text, len, err, sizeof(err)) != 0) {
		fail(res, "%s: %s", path.p, err);
		goto out;
	}
	if ((file = find_log(d.p, want)) == NULL) {
		fail(res, "%s: no log file%s%s", d.p,
		    want != NULL ? " named " : "", want != NULL ? want : "");
		goto out;
	}
	res->file = xstrdup(base_name(file));

	/* The labels' trusted proxies, with the configured ones. */
	lo = st->load;
	lo.progress = 0;
	cidrset_init(&lo.trusted);
	for (size_t i = 0; i < st->load.trusted.n; i++)
		cidrset_add(&lo.trusted, &st->load.trusted.v[i]);
	for (size_t i = 0; i < l.ntrusted; i++) {
		struct cidr c;
		if (cidr_parse(span_str(l.trusted[i]), &c, err,
		    sizeof(err)) == 0)
			cidrset_add(&lo.trusted, &c);
	}

	store_init(&s, &st->store);
	if (load_files(&s, &lo, &file, 1, &ls) != 0 || ls.errors) {
		fail(res, "%s: could not be read completely", file);
	} else {
		memset(&src, 0, sizeof(src));
		src.store = &s;
		src.now_ns = s.tmax != TIME_NONE ? s.tmax + 1 : 0;
		if (s.rows > 0 && analyst_run(&src, st->analyst, s.tmin,
		    s.tmax + 1, &rep, err, sizeof(err)) != 0) {
			fail(res, "%s: analyst: %s", file, err);
		}
		if (el != NULL && s.rows > 0)
			eval_agent(&s, &src, st, &lo.trusted, el, &rep, res);
		else
			report_decide(&rep, &st->analyst->guard, &lo.trusted,
			    "dry-run");
		res->rows = s.rows;
		res->queries = rep.queries;
		res->findings = rep.nf;
		res->bans = rep.nb;
		eval_score(&l, rep.b, rep.nb, &res->score);
		if (ls.skipped_total)
			log_warnx("%s: %llu of %llu lines skipped", file,
			    (unsigned long long)ls.skipped_total,
			    (unsigned long long)ls.lines);
	}
	store_release(&s);
	cidrset_release(&lo.trusted);
	res->score.attackers = l.nattackers;
out:
	res->seconds = (double)(clock_mono_ns() - t0) / 1e9;
	report_release(&rep);
	load_stats_release(&ls);
	eval_labels_release(&l);
	buf_release(&path);
	buf_release(&d);
	free(text);
	free(file);
}

static void
result_release(struct result *r)
{
	free(r->dir);
	free(r->name);
	free(r->file);
	free(r->msg);
	eval_score_release(&r->score);
}

/* ---- output */

static void
fmt_recall(char *out, size_t len, const struct eval_score *s)
{
	if (s->attackers == 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.1f%%", 100.0 * (double)s->banned /
		    (double)s->attackers);
}

static void
print_text(const struct result *r, size_t n, const char *analyst,
    struct buf *o)
{
	size_t ta = 0, tb = 0, tf = 0, tu = 0, w = 8, nagent = 0;
	uint64_t trows = 0;
	int64_t ttok = 0;
	int tturns = 0;
	double tsec = 0, tcost = 0;
	char rc[16], turns[16], toks[32], cost[32];

	for (size_t i = 0; i < n; i++)
		if (strlen(r[i].name) > w)
			w = strlen(r[i].name) > 40 ? 40 : strlen(r[i].name);
	buf_addf(o, "analyst %s\n\n", analyst);
	buf_addf(o, "%-*s  %9s  %6s  %7s  %5s  %9s  %8s  %7s  %5s  %6s  %4s\n",
	    (int)w, "scenario", "attackers", "banned", "recall", "false",
	    "unlabeled", "rows", "seconds", "turns", "tokens", "cost");
	for (size_t i = 0; i < n; i++) {
		const struct eval_score *s = &r[i].score;
		if (r[i].error) {
			buf_addf(o, "%-*.*s  error: ", (int)w, (int)w, r[i].name);
			buf_add_escaped(o, r[i].msg, strlen(r[i].msg));
			buf_addch(o, '\n');
			if (r[i].rows == 0)
				continue;
		}
		fmt_recall(rc, sizeof(rc), s);
		if (r[i].agent) {
			snprintf(turns, sizeof(turns), "%d", r[i].turns);
			snprintf(toks, sizeof(toks), "%lld", (long long)
			    (r[i].prompt_tokens + r[i].completion_tokens));
			snprintf(cost, sizeof(cost), "%.4f", r[i].cost);
			tturns += r[i].turns;
			ttok += r[i].prompt_tokens + r[i].completion_tokens;
			tcost += r[i].cost;
			nagent++;
		} else {
			snprintf(turns, sizeof(turns), "-");
			snprintf(toks, sizeof(toks), "-");
			snprintf(cost, sizeof(cost), "-");
		}
		buf_addf(o, "%-*.*s  %9zu  %6zu  %7s  %5zu  %9zu  %8llu  %7.2f  "
		    "%5s  %6s  %4s\n", (int)w, (int)w, r[i].name, s->attackers,
		    s->banned, rc, s->nfalse, s->nunlabeled,
		    (unsigned long long)r[i].rows, r[i].seconds, turns, toks,
		    cost);
		ta += s->attackers;
		tb += s->banned;
		tf += s->nfalse;
		tu += s->nunlabeled;
		trows += r[i].rows;
		tsec += r[i].seconds;
	}
	if (n > 1) {
		struct eval_score t;
		memset(&t, 0, sizeof(t));
		t.attackers = ta;
		t.banned = tb;
		fmt_recall(rc, sizeof(rc), &t);
		if (nagent) {
			snprintf(turns, sizeof(turns), "%d", tturns);
			snprintf(toks, sizeof(toks), "%lld", (long long)ttok);
			snprintf(cost, sizeof(cost), "%.4f", tcost);
		} else {
			snprintf(turns, sizeof(turns), "-");
			snprintf(toks, sizeof(toks), "-");
			snprintf(cost, sizeof(cost), "-");
		}
		buf_addf(o, "%-*s  %9zu  %6zu  %7s  %5zu  %9zu  %8llu  %7.2f  "
		    "%5s  %6s  %4s\n", (int)w, "total", ta, tb, rc, tf, tu,
		    (unsigned long long)trows, tsec, turns, toks, cost);
	}
	if (nagent) {
		buf_addstr(o, "\nagent (tokens prompt/completion, cost USD, "
		    "guard refusals, how the cycle ended):\n");
		for (size_t i = 0; i < n; i++)
			if (r[i].agent)
				buf_addf(o, "  %-*.*s  %lld/%lld  %.4f  refused "
				    "%u  %s\n", (int)w, (int)w, r[i].name,
				    (long long)r[i].prompt_tokens,
				    (long long)r[i].completion_tokens,
				    r[i].cost, r[i].refused,
				    r[i].stop != NULL ? r[i].stop : "-");
	}
	if (tf > 0) {
		buf_addstr(o, "\nfalse bans (innocents that would be banned):\n");
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; k < r[i].score.nfalse &&
			    k < FALSE_SHOWN_MAX; k++) {
				buf_addf(o, "  %s: ", r[i].name);
				buf_add_escaped(o, r[i].score.false_bans[k],
				    strlen(r[i].score.false_bans[k]));
				buf_addch(o, '\n');
			}
	}
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
print_json(const struct result *r, size_t n, const char *analyst,
    struct buf *o)
{
	size_t ta = 0, tb = 0, tf = 0, tu = 0;

	buf_addf(o, "{\"analyst\":\"%s\",\"scenarios\":[", analyst);
	for (size_t i = 0; i < n; i++) {
		const struct eval_score *s = &r[i].score;
		if (i)
			buf_addch(o, ',');
		buf_addstr(o, "{\"name\":");
		buf_add_json_str(o, r[i].name, strlen(r[i].name));
		buf_addstr(o, ",\"dir\":");
		buf_add_json_str(o, r[i].dir, strlen(r[i].dir));
		buf_addstr(o, ",\"file\":");
		if (r[i].file != NULL)
			buf_add_json_str(o, r[i].file, strlen(r[i].file));
		else
			buf_addstr(o, "null");
		buf_addstr(o, ",\"error\":");
		if (r[i].error)
			buf_add_json_str(o, r[i].msg, strlen(r[i].msg));
		else
			buf_addstr(o, "null");
		buf_addf(o, ",\"attackers\":%zu,\"banned\":%zu,\"recall\":",
		    s->attackers, s->banned);
		if (s->attackers)
			buf_addf(o, "%.4f", (double)s->banned /
			    (double)s->attackers);
		else
			buf_addstr(o, "null");
		buf_addstr(o, ",\"false_bans\":");
		json_strs(o, s->false_bans, s->nfalse);
		buf_addstr(o, ",\"unlabeled_bans\":");
		json_strs(o, s->unlabeled, s->nunlabeled);
		buf_addf(o, ",\"rows\":%llu,\"seconds\":%.3f,\"queries\":%llu,"
		    "\"findings\":%zu,\"bans\":%zu",
		    (unsigned long long)r[i].rows, r[i].seconds,
		    (unsigned long long)r[i].queries, r[i].findings, r[i].bans);
		if (r[i].agent)
			buf_addf(o, ",\"turns\":%d,\"tokens\":%lld,"
			    "\"prompt_tokens\":%lld,\"completion_tokens\":%lld,"
			    "\"cost\":%.6f,\"refused\":%u,\"stop\":\"%s\"}",
			    r[i].turns, (long long)(r[i].prompt_tokens +
			    r[i].completion_tokens),
			    (long long)r[i].prompt_tokens,
			    (long long)r[i].completion_tokens, r[i].cost,
			    r[i].refused, r[i].stop != NULL ? r[i].stop : "");
		else
			buf_addstr(o, ",\"turns\":null,\"tokens\":null,"
			    "\"cost\":null}");
		ta += s->attackers;
		tb += s->banned;
		tf += s->nfalse;
		tu += s->nunlabeled;
	}
	buf_addf(o, "],\"total\":{\"attackers\":%zu,\"banned\":%zu,"
	    "\"false_bans\":%zu,\"unlabeled_bans\":%zu}}\n", ta, tb, tf, tu);
}

int
cmd_eval(int argc, char **argv)
{
	enum { O_JSON = 256, O_ANALYST_KIND, O_FILE, O_FORMAT, O_LOGFMT,
	    O_JSONFIELD, O_TRUSTED, O_MAXMEM, O_MAXLINE, O_ANALYST,
	    O_AGENT };
	static const struct option baseopts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "analyst", required_argument, NULL, O_ANALYST_KIND },
		{ "file", required_argument, NULL, O_FILE },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "log-format", required_argument, NULL, O_LOGFMT },
		{ "json-field", required_argument, NULL, O_JSONFIELD },
		{ "trusted-proxy", required_argument, NULL, O_TRUSTED },
		{ "max-memory", required_argument, NULL, O_MAXMEM },
		{ "max-line", required_argument, NULL, O_MAXLINE },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "llm-base-url", required_argument, NULL, O_AGENT },
		{ "llm-model", required_argument, NULL, O_AGENT },
		{ "llm-api-key-file", required_argument, NULL, O_AGENT },
		{ "llm-header", required_argument, NULL, O_AGENT },
		{ "llm-temperature", required_argument, NULL, O_AGENT },
		{ "llm-max-tokens", required_argument, NULL, O_AGENT },
		{ "llm-price-prompt", required_argument, NULL, O_AGENT },
		{ "llm-price-completion", required_argument, NULL, O_AGENT },
		{ "agent-triage", required_argument, NULL, O_AGENT },
		{ "agent-triage-min-severity", required_argument, NULL,
		    O_AGENT },
		{ "agent-max-turns", required_argument, NULL, O_AGENT },
		{ "agent-max-tokens", required_argument, NULL, O_AGENT },
		{ "agent-max-usd-cycle", required_argument, NULL, O_AGENT },
		{ "agent-max-usd-day", required_argument, NULL, O_AGENT },
		{ "agent-max-seconds", required_argument, NULL, O_AGENT },
		{ "agent-language", required_argument, NULL, O_AGENT },
		{ "agent-system-prompt-file", required_argument, NULL,
		    O_AGENT },
		{ NULL, 0, NULL, 0 },
	};
	struct settings st;
	struct eval_llm el, *elp = NULL;
	char *key = NULL;
	struct buf out = BUF_INIT, errs = BUF_INIT;
	struct option *longopts = analyst_longopts(baseopts, O_ANALYST);
	struct result *res = NULL;
	const char *analyst = "stats", *want = NULL;
	size_t n = 0;
	int ch, idx, rc = 2, verbose = 0, any_false = 0, any_error = 0;

	memset(&el, 0, sizeof(el));
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
		case O_FORMAT:
		case O_LOGFMT:
		case O_JSONFIELD:
		case O_TRUSTED:
		case O_MAXMEM:
		case O_MAXLINE:
		case O_ANALYST:
		case O_AGENT:
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
		char lerr[512];

		if (settings_llm_open(&st, &el.llm, &key, lerr,
		    sizeof(lerr)) != 0) {
			log_warnx("eval --analyst llm: %s", lerr);
			goto out;
		}
		elp = &el;
	} else if (strcmp(analyst, "stats") != 0) {
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
	n = (size_t)(argc - optind);
	res = xcalloc(n, sizeof(*res));
	for (size_t i = 0; i < n; i++) {
		eval_one(argv[optind + (int)i], want, &st, elp, &res[i]);
		if (res[i].error) {
			any_error = 1;
			log_warnx("%s", res[i].msg);
		}
		if (res[i].score.nfalse > 0)
			any_false = 1;
	}
	if (st.json)
		print_json(res, n, analyst, &out);
	else
		print_text(res, n, analyst, &out);
	fwrite(out.p, 1, out.len, stdout);
	fflush(stdout);
	rc = any_error ? 2 : any_false ? 1 : 0;
out:
	for (size_t i = 0; i < n && res != NULL; i++)
		result_release(&res[i]);
	free(res);
	free(longopts);
	if (el.llm != NULL)
		llm_free(el.llm);
	if (key != NULL) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	buf_release(&out);
	buf_release(&errs);
	settings_release(&st);
	return rc;
}
