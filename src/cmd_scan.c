/*
 * anomaly-detect scan: read logs into the embedded store and report.
 *
 * The report is what was read: rows, skipped lines by reason (with the
 * first few, so a wrong --format is obvious), the time window, and the
 * busiest clients; then what the built-in analyst found, most severe
 * first, and the bans that would follow.  Nothing is ever banned by scan
 * without --apply (or dry_run = false, or DRY_RUN=0): it says so.
 */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anomaly.h"

static volatile sig_atomic_t scan_stop;

static void
on_signal(int sig)
{
	(void)sig;
	scan_stop = 1;
}

static void
scan_usage(FILE *f)
{
	fprintf(f,
"usage: anomaly-detect scan [options] FILE... | -\n"
"\n"
"Reads access logs (plain, .gz, or - for standard input) into the embedded\n"
"store and prints what it finds.  Dry-run: nothing is banned.\n"
"\n"
"  --json                 one JSON object on standard output\n"
"  --format F             auto (default), nginx, combined, nginx-custom,\n"
"                         traefik, apisix, caddy, json, vlogs\n"
"  --log-format STR       an nginx log_format string (implies nginx-custom)\n"
"  --json-field C=KEY     generic JSON: take canonical field C from KEY\n"
"  --trusted-proxy CIDR   believe X-Forwarded-For from these peers (repeat)\n"
"  -c, --config FILE      read settings from FILE first\n"
"  -n                     check the configuration and options, then exit\n"
"  --max-memory SIZE      cap the store (default 4G); oldest rows go first\n"
"  --retention DUR        keep only the last DUR of log time (default all)\n"
"  --max-line SIZE        longer lines are skipped (default 64K)\n"
"  --top N                busiest clients to list (default 10, 0 = all)\n"
"  -f, --follow           keep reading as the files grow (tail -F); report\n"
"                         when interrupted (SIGINT/SIGTERM)\n"
"  --from-end             with --follow: start at the end of the files\n"
"  --no-progress          no progress bar\n"
"  --analyst KIND         stats (the built-in analyst, default), llm (the\n"
"                         agent: the analyst's findings as leads, a model\n"
"                         decides), auto (llm when a key or llm_base_url\n"
"                         is configured, else stats) or none\n"
"                         (none: only read and summarise)\n"
"  --llm-*, --agent-*     the model and the agent (below)\n"
"  -v                     more messages (repeat for debug)\n"
"\n"
"Banning (dry-run unless --apply, dry_run = false, or DRY_RUN=0):\n"
"  --apply | --dry-run    send the bans to CrowdSec's LAPI, or not\n"
"  --lapi-url URL --lapi-machine NAME --lapi-password-file FILE\n"
"                         LAPI and the watcher (or $LAPI_PASSWORD)\n"
"  --ban-duration DUR     default 4h\n"
"  --state-file FILE      what was banned (dedup)\n"
"  --audit-file FILE      JSON-lines audit trail (- = stderr)\n"
"  --guard-allow CIDR, --guard-allow-file FILE, --guard-max-per-cycle N,\n"
"  --guard-max-per-hour N, --guard-verify-crawlers BOOL\n"
"\n");
	settings_agent_usage(f);
	fputs("\nAnalyst thresholds (config key with underscores, or as an "
	    "option):\n", f);
	analyst_usage(f);
}

struct client_count {
	uint32_t id;
	uint64_t n;
};

static int
client_count_cmp(const void *a, const void *b)
{
	const struct client_count *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The busiest clients, most requests first; caller frees. */
static struct client_count *
top_clients(const struct store *s, size_t want, size_t *nout)
{
	size_t nid = intern_count(&s->pool_ip);
	uint64_t *cnt = xcalloc(nid, sizeof(*cnt));
	struct client_count *all;
	size_t n = 0;

	for (size_t bi = 0; bi < s->nblocks; bi++) {
		const struct store_block *b = s->blocks[bi];
		for (size_t i = 0; i < b->n; i++)
			cnt[b->client_ip[i]]++;
	}
	all = xcalloc(nid, sizeof(*all));
	for (size_t id = 0; id < nid; id++)
		if (cnt[id] != 0) {
			all[n].id = (uint32_t)id;
			all[n].n = cnt[id];
			n++;
		}
	free(cnt);
	qsort(all, n, sizeof(*all), client_count_cmp);
	*nout = want == 0 || n < want ? n : want;
	return all;
}

static void
fmt_window(const struct store *s, char *start, char *end, size_t len)
{
	start[0] = end[0] = '\0';
	if (s->tmin != TIME_NONE) {
		time_format_rfc3339(s->tmin, start, len);
		time_format_rfc3339(s->tmax, end, len);
	}
}

static void
report_json(struct buf *o, const struct store *s, const struct load_stats *ls,
    const struct settings *st, char *const *paths, size_t npaths,
    const struct report *rep, const struct ban_results *br,
    const struct buf *agent)
{
	char a[TIME_STRLEN], b[TIME_STRLEN];
	struct client_count *top;
	size_t ntop;
	int first = 1;

	buf_addf(o, "{\"mode\":\"%s\",\"inputs\":[", br != NULL ? "apply" :
	    "dry-run");
	for (size_t i = 0; i < npaths; i++) {
		if (i)
			buf_addch(o, ',');
		buf_add_json_str(o, paths[i], strlen(paths[i]));
	}
	buf_addf(o, "],\"format\":\"%s\",\"lines\":%llu,\"rows\":%llu,"
	    "\"bytes\":%llu,", logfmt_name(ls->fmt_seen),
	    (unsigned long long)ls->lines, (unsigned long long)s->rows,
	    (unsigned long long)ls->bytes);
	buf_addf(o, "\"rows_read\":%llu,\"skipped\":{\"total\":%llu,"
	    "\"by_reason\":{", (unsigned long long)ls->rows,
	    (unsigned long long)ls->skipped_total);
	for (int r = 1; r < SKIP__COUNT; r++) {
		if (ls->skipped[r] == 0)
			continue;
		buf_addf(o, "%s\"%s\":%llu", first ? "" : ",",
		    skip_reason_name((enum skip_reason)r),
		    (unsigned long long)ls->skipped[r]);
		first = 0;
	}
	buf_addstr(o, "},\"samples\":[");
	for (size_t i = 0; i < ls->nsamples; i++) {
		const struct load_sample *sm = &ls->samples[i];
		if (i)
			buf_addch(o, ',');
		buf_addstr(o, "{\"file\":");
		buf_add_json_str(o, sm->file, strlen(sm->file));
		buf_addf(o, ",\"line\":%llu,\"reason\":\"%s\",\"text\":",
		    (unsigned long long)sm->lineno,
		    skip_reason_name(sm->reason));
		buf_add_json_str(o, sm->text, strlen(sm->text));
		buf_addch(o, '}');
	}
	buf_addf(o, "]},\"dropped\":{\"retention\":%llu,\"memory\":%llu},",
	    (unsigned long long)s->dropped_retention,
	    (unsigned long long)s->dropped_memory);
	fmt_window(s, a, b, sizeof(a));
	if (s->tmin == TIME_NONE)
		buf_addstr(o, "\"window\":{\"start\":null,\"end\":null},");
	else
		buf_addf(o, "\"window\":{\"start\":\"%s\",\"end\":\"%s\"},", a,
		    b);
	buf_addstr(o, "\"top_clients\":[");
	top = top_clients(s, (size_t)st->top, &ntop);
	for (size_t i = 0; i < ntop; i++) {
		struct span ip = intern_get(&s->pool_ip, top[i].id);
		if (i)
			buf_addch(o, ',');
		buf_addstr(o, "{\"client_ip\":");
		buf_add_json_str(o, ip.p, ip.n);
		buf_addf(o, ",\"requests\":%llu}", (unsigned long long)top[i].n);
	}
	free(top);
	buf_addf(o, "],\"store\":{\"bytes\":%zu,\"clients\":%zu,"
	    "\"paths\":%zu,\"user_agents\":%zu},\"errors\":%d,"
	    "\"seconds\":%.3f,", store_memory(s),
	    intern_count(&s->pool_ip) - 1, intern_count(&s->pool_uri) - 1,
	    intern_count(&s->pool_ua) - 1, ls->errors, ls->seconds);
	buf_addf(o, "\"analysis\":{\"queries\":%llu,\"seconds\":%.3f,"
	    "\"warnings\":[", (unsigned long long)rep->queries,
	    (double)rep->busy_ns / 1e9);
	for (size_t i = 0; i < rep->nwarnings; i++) {
		if (i)
			buf_addch(o, ',');
		buf_add_json_str(o, rep->warnings[i],
		    strlen(rep->warnings[i]));
	}
	buf_addstr(o, "]},");
	buf_addf(o, "\"analyst\":\"%s\",", agent != NULL ? "llm" : "stats");
	if (agent != NULL) {
		buf_add(o, agent->p, agent->len);
		buf_addch(o, ',');
	}
	if (br != NULL) {
		report_json_findings(rep, o);
		buf_addch(o, ',');
		ban_results_json(br, o);
	} else
		report_json_arrays(rep, o);
	buf_addstr(o, "}\n");
}

static void
report_text(struct buf *o, const struct store *s, const struct load_stats *ls,
    const struct settings *st, size_t npaths, const struct report *rep,
    const struct ban_results *br, const struct buf *agent)
{
	char a[TIME_STRLEN], b[TIME_STRLEN], sz[32];
	struct client_count *top;
	size_t ntop;

	buf_addstr(o, br != NULL ? "anomaly-detect scan: apply, bans go to "
	    "LAPI\n\n" : "anomaly-detect scan: dry-run, nothing is banned\n\n");
	fmt_bytes(sz, sizeof(sz), (double)ls->bytes);
	buf_addf(o, "inputs    %zu, %s, format %s\n", npaths, sz,
	    logfmt_name(ls->fmt_seen));
	buf_addf(o, "rows      %llu stored of %llu lines, %llu skipped\n",
	    (unsigned long long)s->rows, (unsigned long long)ls->lines,
	    (unsigned long long)ls->skipped_total);
	if (s->dropped_retention || s->dropped_memory)
		buf_addf(o, "dropped   %llu beyond retention, %llu over the "
		    "memory cap\n", (unsigned long long)s->dropped_retention,
		    (unsigned long long)s->dropped_memory);
	if (ls->skipped_total) {
		buf_addstr(o, "skipped  ");
		for (int r = 1; r < SKIP__COUNT; r++)
			if (ls->skipped[r])
				buf_addf(o, " %s %llu",
				    skip_reason_name((enum skip_reason)r),
				    (unsigned long long)ls->skipped[r]);
		buf_addch(o, '\n');
		for (size_t i = 0; i < ls->nsamples; i++) {
			const struct load_sample *sm = &ls->samples[i];
			buf_add_escaped(o, sm->file, strlen(sm->file));
			buf_addf(o, ":%llu: %s: ", (unsigned long long)sm->lineno,
			    skip_reason_name(sm->reason));
			buf_add_escaped(o, sm->text, strlen(sm->text));
			buf_addch(o, '\n');
		}
	}
	fmt_window(s, a, b, sizeof(a));
	if (s->tmin != TIME_NONE) {
		int64_t secs = (s->tmax - s->tmin) / 1000000000LL;
		buf_addf(o, "window    %s .. %s (%lldh%02lldm%02llds)\n", a, b,
		    (long long)(secs / 3600), (long long)(secs / 60 % 60),
		    (long long)(secs % 60));
	} else
		buf_addstr(o, "window    (no rows)\n");
	fmt_bytes(sz, sizeof(sz), (double)store_memory(s));
	buf_addf(o, "store     %s, %zu clients, %zu paths, %zu user agents\n",
	    sz, intern_count(&s->pool_ip) - 1, intern_count(&s->pool_uri) - 1,
	    intern_count(&s->pool_ua) - 1);
	top = top_clients(s, (size_t)st->top, &ntop);
	if (ntop > 0) {
		buf_addstr(o, "\ntop clients by requests\n");
		for (size_t i = 0; i < ntop; i++) {
			struct span ip = intern_get(&s->pool_ip, top[i].id);
			buf_addf(o, "  %10llu  ", (unsigned long long)top[i].n);
			buf_add_escaped(o, ip.p, ip.n);
			buf_addch(o, '\n');
		}
	}
	free(top);
	if (agent != NULL) {
		buf_addch(o, '\n');
		buf_add(o, agent->p, agent->len);
	}
	if (br != NULL) {
		static const char tail[] = "\nbans      none (dry-run)\n";
		size_t at = o->len;
		report_text_findings(rep, o);
		if (o->len - at >= sizeof(tail) - 1 &&
		    memcmp(o->p + o->len - (sizeof(tail) - 1), tail,
		    sizeof(tail) - 1) == 0) {
			o->len -= sizeof(tail) - 1;
			o->p[o->len] = '\0';
		}
		ban_results_text(br, 1, o);
	} else
		report_text_findings(rep, o);
}

/*
 * --apply: the findings go through the ban pipeline (guard, LAPI, state)
 * instead of report_decide's static guard.  The window judged is what
 * was loaded.  0, or 1 when a ban failed; -1 when LAPI or the state
 * cannot be used (nothing was sent).
 */
/*
 * The agent over everything loaded, through c (dry-run or apply): its
 * verdicts go to br (empty before), its account to ag (JSON or text).
 * 1 when the built-in analyst's findings must be used instead (the
 * model could not be used, or triage did not call it), else 0.
 */
static int
scan_agent(const struct ban_ctx *c, const struct settings *st,
    struct llm *llm, struct report *rep, struct ban_results *br,
    struct buf *ag)
{
	struct agent_result ar;
	const char *why;
	int arc;

	memset(&ar, 0, sizeof(ar));
	ban_results_init(&ar.bans);
	arc = agent_run(st->agent, llm, c, rep, 0, &ar);
	if (ar.stop == NULL)
		ar.stop = "llm-error";
	why = agent_fallback_reason(arc, &ar);
	if (why != NULL && arc != 0)
		log_warnx("scan: agent: %s; the built-in analyst's findings "
		    "are used", ar.error);
	if (st->json)
		agent_result_json(&ar, why != NULL, ag);
	else
		agent_result_text(&ar, why, ag);
	ban_results_release(br);
	*br = ar.bans;
	ban_results_init(&ar.bans);
	agent_result_release(&ar);
	return why != NULL;
}

/* A ban cycle over the whole store: its window is the rows read (the
 * clock's "now" when there are none). */
static void
scan_ban_ctx(struct ban_ctx *c, struct source *src, struct store *s,
    struct guard *g, int64_t now)
{
	memset(src, 0, sizeof(*src));
	src->store = s;
	src->now_ns = s->rows > 0 ? s->tmax + 1 : now;
	memset(c, 0, sizeof(*c));
	c->guard = g;
	c->src = src;
	c->start_ns = s->rows > 0 ? s->tmin : now;
	c->end_ns = s->rows > 0 ? s->tmax + 1 : now;
	c->now_ns = now;
}

/* Dry-run with the agent: the whole guard judges the model's proposals
 * (nothing is sent); they become the report's bans.  Without the model,
 * report_decide's as always. */
static void
scan_dry_agent(struct store *s, const struct settings *st,
    struct llm *llm, struct report *rep, struct buf *ag)
{
	struct guard g;
	struct source src;
	struct ban_ctx c;
	struct ban_results br;
	int64_t now = clock_wall_ns();

	ban_results_init(&br);
	guard_init(&g, ban_guard_config(st), &st->load.trusted, NULL);
	guard_cycle_begin(&g);
	scan_ban_ctx(&c, &src, s, &g, now);
	c.apply = 0;
	c.duration_ns = st->ban_duration_ns;
	/* The model's accepted proposals stand; when a fallback applies
	 * the built-in analyst's decisions are added to them. */
	if (scan_agent(&c, st, llm, rep, &br, ag))
		report_decide(rep, &st->analyst->guard, &st->load.trusted,
		    "dry-run");
	report_add_verdicts(rep, &br);
	ban_results_release(&br);
	guard_release(&g);
}

static int
scan_apply(struct store *s, struct settings *st, struct report *rep,
    struct ban_results *br, struct llm *llm, struct buf *ag)
{
	struct lapi l;
	struct state state;
	struct guard g;
	struct audit *audit = NULL;
	struct source src;
	struct ban_ctx c;
	char err[1024];
	int64_t now = clock_wall_ns();
	int rc = -1, have_lapi = 0, have_guard = 0;

	state_init(&state);
	if (ban_lapi_open(st, &l, err, sizeof(err)) != 0) {
		log_warnx("scan --apply: %s", err);
		goto out;
	}
	have_lapi = 1;
	if (ban_state_open(st, &state, now, err, sizeof(err)) != 0) {
		log_warnx("scan --apply: state: %s", err);
		goto out;
	}
	if (st->audit_file != NULL) {
		audit = audit_open(strcmp(st->audit_file, "-") == 0 ?
		    "/dev/stderr" : st->audit_file, err, sizeof(err));
		if (audit == NULL) {
			log_warnx("scan --apply: %s", err);
			goto out;
		}
		audit_add_secret(audit, l.o.password);
		audit_set_cycle(audit, "scan");
	}
	guard_init(&g, ban_guard_config(st), &st->load.trusted, &state);
	have_guard = 1;
	guard_cycle_begin(&g);
	scan_ban_ctx(&c, &src, s, &g, now);
	c.apply = 1;
	c.lapi = &l;
	c.state = &state;
	c.audit = audit;
	c.duration_ns = st->ban_duration_ns;
	if (llm == NULL || scan_agent(&c, st, llm, rep, br, ag))
		rc = ban_report(&c, rep, br) != 0 ? 1 : 0;
	else
		rc = 0;
	if (br->failed > 0)
		rc = 1;
out:
	if (have_guard)
		guard_release(&g);
	if (have_lapi)
		lapi_release(&l);
	state_release(&state);
	if (audit != NULL)
		audit_close(audit);
	return rc;
}

static void
scan_follow(struct store *s, struct settings *st, char **paths, size_t n,
    struct load_stats *ls)
{
	struct follow *f;
	struct sigaction sa;
	int64_t t0 = clock_mono_ns();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	f = follow_open(&st->load, paths, n);
	if (f == NULL) {
		ls->errors++;
		return;
	}
	while (!scan_stop) {
		uint64_t added = follow_pump(f, s, ls);
		if (added)
			log_info("%llu new rows (%llu in all)",
			    (unsigned long long)added,
			    (unsigned long long)s->rows);
		if (!follow_active(f))
			break;
		if (!scan_stop)
			follow_wait(f, 200);
	}
	follow_pump(f, s, ls);
	follow_free(f);
	store_finish(s);
	ls->seconds = (double)(clock_mono_ns() - t0) / 1e9;
}

/* The built-in analyst over everything loaded.  The bans follow in
 * cmd_scan: report_decide's static guard in dry-run, the ban pipeline
 * (the whole guard, LAPI, state) with --apply. */
static int
analyze(struct store *s, const struct settings *st, struct report *rep,
    char *err, size_t errlen)
{
	struct source src;
	int rc = 0;

	memset(&src, 0, sizeof(src));
	src.store = s;
	if (s->rows > 0) {
		src.now_ns = s->tmax + 1;
		rc = analyst_run(&src, st->analyst, s->tmin, s->tmax + 1, rep,
		    err, errlen);
	}
	return rc;
}

int
cmd_scan(int argc, char **argv)
{
	enum { O_JSON = 256, O_FORMAT, O_LOGFMT, O_JSONFIELD, O_TRUSTED,
	    O_MAXMEM, O_RETENTION, O_MAXLINE, O_TOP, O_FROMEND, O_NOPROG,
	    O_KIND, O_ANALYST, O_APPLY, O_DRY, O_SET };
	static const struct option baseopts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "log-format", required_argument, NULL, O_LOGFMT },
		{ "json-field", required_argument, NULL, O_JSONFIELD },
		{ "trusted-proxy", required_argument, NULL, O_TRUSTED },
		{ "max-memory", required_argument, NULL, O_MAXMEM },
		{ "retention", required_argument, NULL, O_RETENTION },
		{ "max-line", required_argument, NULL, O_MAXLINE },
		{ "top", required_argument, NULL, O_TOP },
		{ "config", required_argument, NULL, 'c' },
		{ "follow", no_argument, NULL, 'f' },
		{ "from-end", no_argument, NULL, O_FROMEND },
		{ "no-progress", no_argument, NULL, O_NOPROG },
		{ "analyst", required_argument, NULL, O_KIND },
		{ "help", no_argument, NULL, 'h' },
		{ "apply", no_argument, NULL, O_APPLY },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "lapi-url", required_argument, NULL, O_SET },
		{ "lapi-machine", required_argument, NULL, O_SET },
		{ "lapi-password-file", required_argument, NULL, O_SET },
		{ "lapi-ca-file", required_argument, NULL, O_SET },
		{ "lapi-retries", required_argument, NULL, O_SET },
		{ "lapi-timeout", required_argument, NULL, O_SET },
		{ "ban-duration", required_argument, NULL, O_SET },
		{ "state-file", required_argument, NULL, O_SET },
		{ "audit-file", required_argument, NULL, O_SET },
		{ "guard-allow", required_argument, NULL, O_SET },
		{ "guard-allow-file", required_argument, NULL, O_SET },
		{ "guard-max-per-cycle", required_argument, NULL, O_SET },
		{ "guard-max-per-hour", required_argument, NULL, O_SET },
		{ "guard-verify-crawlers", required_argument, NULL, O_SET },
		{ NULL, 0, NULL, 0 },
	};
	struct settings st;
	struct ban_results br;
	struct store s;
	struct load_stats ls;
	struct report rep;
	struct buf out = BUF_INIT, errs = BUF_INIT, ag = BUF_INIT;
	struct llm *llm = NULL;
	char *llm_key = NULL;
	const char *kind = NULL;
	struct option *longopts = settings_longopts(baseopts, O_ANALYST,
	    O_SET);
	char err[1024];
	int ch, idx, rc = 2, check_only = 0, follow = 0, verbose = 0;
	int analysis = 1, cli_mode = -1, apply;

	settings_init(&st);
	report_init(&rep);
	ban_results_init(&br);
	memset(&ls, 0, sizeof(ls));
	/* The config file comes first so options override it: find it. */
	if (settings_preload_config(&st, argc, argv, &errs) != 0) {
		fputs(errs.p, stderr);
		goto out;
	}
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:fhnv", longopts, &idx)) != -1) {
		switch (ch) {
		case O_JSON:
			st.json = 1;
			break;
		case O_FORMAT:
		case O_LOGFMT:
		case O_JSONFIELD:
		case O_TRUSTED:
		case O_MAXMEM:
		case O_RETENTION:
		case O_MAXLINE:
		case O_ANALYST:
		case O_SET:
			if (settings_option(&st, longopts[idx].name, optarg) != 0)
				goto out;
			break;
		case O_APPLY:
			cli_mode = 1;
			break;
		case O_DRY:
			cli_mode = 0;
			break;
		case O_TOP: {
			uint64_t n;
			if (parse_u64(span_str(optarg), &n) != 0 || n > INT32_MAX) {
				log_warnx("--top: \"%s\" is not a count", optarg);
				goto out;
			}
			st.top = (int)n;
			break;
		}
		case 'c':
			break; /* read above */
		case 'f':
			follow = 1;
			break;
		case O_FROMEND:
			st.load.input.follow_from_end = 1;
			break;
		case O_NOPROG:
			st.load.progress = 0;
			break;
		case O_KIND:
			kind = optarg;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			scan_usage(stdout);
			rc = 0;
			goto out;
		default:
			scan_usage(stderr);
			goto out;
		}
	}
	if (verbose)
		log_init(NULL, log_verbosity() + verbose);
	if (kind == NULL)
		kind = st.analyst_kind != NULL ? st.analyst_kind :
		    "stats";
	analysis = strcmp(kind, "none") != 0;
	if (settings_analyst_open(&st, "scan", kind, 1, &llm, &llm_key) != 0)
		goto out;
	apply = ban_mode(&st, cli_mode, err, sizeof(err));
	if (apply < 0) {
		log_warnx("scan: %s", err);
		goto out;
	}
	if (apply && !analysis) {
		log_warnx("scan: --apply needs the analyst (not --analyst "
		    "none)");
		goto out;
	}
	if (check_only) {
		fprintf(stderr, "configuration OK\n");
		rc = 0;
		goto out;
	}
	if (optind >= argc) {
		log_warnx("scan: no input files (use - for standard input)");
		scan_usage(stderr);
		goto out;
	}
	if (st.json || !isatty(STDERR_FILENO))
		st.load.progress = st.load.progress && !st.json;

	store_init(&s, &st.store);
	if (follow)
		scan_follow(&s, &st, argv + optind, (size_t)(argc - optind),
		    &ls);
	else
		load_files(&s, &st.load, argv + optind,
		    (size_t)(argc - optind), &ls);
	rc = ls.errors ? 1 : 0;
	if (analysis && analyze(&s, &st, &rep, err, sizeof(err)) != 0) {
		log_warnx("analyst: %s", err);
		report_warn(&rep, "analyst stopped: %s", err);
		rc = 1;
	}
	if (apply) {
		int arc = scan_apply(&s, &st, &rep, &br, llm, &ag);
		if (arc < 0) {
			rc = 2;
			store_release(&s);
			load_stats_release(&ls);
			goto out;
		}
		if (arc > 0)
			rc = 1;
	} else if (llm != NULL)
		scan_dry_agent(&s, &st, llm, &rep, &ag);
	else
		report_decide(&rep, &st.analyst->guard, &st.load.trusted,
		    "dry-run");
	if (st.json)
		report_json(&out, &s, &ls, &st, argv + optind,
		    (size_t)(argc - optind), &rep, apply ? &br : NULL,
		    llm != NULL ? &ag : NULL);
	else
		report_text(&out, &s, &ls, &st, (size_t)(argc - optind), &rep,
		    apply ? &br : NULL, llm != NULL ? &ag : NULL);
	fwrite(out.p, 1, out.len, stdout);
	fflush(stdout);
	store_release(&s);
	load_stats_release(&ls);
out:
	if (llm != NULL)
		llm_free(llm);
	if (llm_key != NULL) {
		explicit_bzero(llm_key, strlen(llm_key));
		free(llm_key);
	}
	buf_release(&ag);
	ban_results_release(&br);
	report_release(&rep);
	buf_release(&out);
	buf_release(&errs);
	free(longopts);
	settings_release(&st);
	return rc;
}
