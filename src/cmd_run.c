/*
 * anomaly-detect run / watch: detection cycles that ban.
 *
 * A cycle asks the built-in analyst about the last `window` of logs and
 * sends every ban it proposes through the ban pipeline (ban.c): guard,
 * then, in apply mode only, LAPI and the state file.  `run` is one cycle;
 * `watch` repeats it every `interval`, and with --follow on log files it
 * reads lines as they are written and runs a cycle as soon as new rows
 * arrived (at most about once a second), so a burst is banned in seconds.
 *
 * Logs come from VictoriaLogs (vlogs_url) or from files read into the
 * embedded store (input = PATH, or arguments).  On files without
 * --follow "now" is the newest row, so an old log is judged as it was;
 * following, "now" is the wall clock.
 */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "anomaly.h"

static volatile sig_atomic_t run_stop;

static void
on_signal(int sig)
{
	(void)sig;
	run_stop = 1;
}

#define NS (INT64_C(1000000000))
/* Following: a cycle at most this often when rows keep arriving. */
#define FOLLOW_MIN_GAP (1 * NS)
#define FOLLOW_WAIT_MS 50

struct runner {
	const char *cmd;
	struct settings st;
	int apply, json, follow;
	struct lapi lapi;
	int have_lapi;
	struct state state;
	struct audit *audit;
	struct guard guard;
	int have_guard;
	struct store store;
	int have_store;
	struct vlogs_opts vo;
	char *vtoken, *vpass;
	struct source src;
	char **paths;
	size_t npaths;
	unsigned cycles;
	unsigned failed;
	int errors;
	/* The agent (--analyst llm, or auto with a model configured). */
	struct llm *llm;
	char *llm_key;
	double spent_today;         /* USD, this UTC day */
	int64_t spent_day;          /* the UTC day spent_today is for */
};

static void
run_usage(FILE *f, const char *cmd)
{
	fprintf(f,
"usage: anomaly-detect %s [options] [FILE...]\n"
"\n"
"%s"
"Logs come from VictoriaLogs (--vlogs-url) or from files (arguments or\n"
"input = PATH in the config).  Dry-run unless --apply, dry_run = false in\n"
"the config, or DRY_RUN=0 in the environment: then bans go to CrowdSec's\n"
"LAPI and are recorded in the state file.\n"
"\n"
"  -c, --config FILE          settings from FILE first\n"
"  --apply | --dry-run        the mode, over config and environment\n"
"  --json                     JSON (one object per cycle)\n"
"  --analyst KIND             llm (the agent: the built-in analyst's\n"
"                             findings as leads, a model decides), stats\n"
"                             (the built-in analyst alone) or auto (llm\n"
"                             when a key or llm_base_url is configured;\n"
"                             the default)\n"
"  --llm-*, --agent-*         the model and the agent (below)\n"
"  --window DUR               logs judged per cycle (default 15m)\n"
"  --interval DUR             watch: time between cycles (default 60s)\n"
"  -f, --follow               watch: read files as they grow, detect as\n"
"                             lines arrive (\"now\" is the wall clock)\n"
"  --from-end                 with --follow: skip what the files hold\n"
"  --lapi-url URL --lapi-machine NAME --lapi-password-file FILE\n"
"                             CrowdSec LAPI (or $LAPI_PASSWORD); the file\n"
"                             must not be readable by group or others\n"
"  --lapi-ca-file FILE        extra CA for https\n"
"  --ban-duration DUR         how long a ban lasts (default 4h)\n"
"  --state-file FILE          what we banned (default: state dir)\n"
"  --audit-file FILE          JSON-lines audit trail (- = stderr)\n"
"  --guard-allow CIDR         never ban these (repeat)\n"
"  --guard-allow-file FILE    one CIDR per line\n"
"  --guard-max-per-cycle N --guard-max-per-hour N   caps (0 = none)\n"
"  --guard-verify-crawlers BOOL  spare verified search crawlers (on)\n"
"  --vlogs-url URL ...        VictoriaLogs instead of files\n"
"  --format F, --trusted-proxy CIDR, --max-memory SIZE, ...  as for scan\n"
"  -n                         check the configuration, then exit\n"
"  -v                         more messages\n"
"\n",
	    cmd, strcmp(cmd, "run") == 0 ?
"One detection cycle over the last window of logs.\n" :
"Detection cycles every interval until SIGINT or SIGTERM.\n");
	settings_agent_usage(f);
	fputs("\nAnalyst thresholds (config key with underscores, or as an "
	    "option):\n", f);
	analyst_usage(f);
}

/* Options, then everything a cycle needs.  0, or the exit code. */
static int
runner_setup(struct runner *R, int argc, char **argv)
{
	enum { O_SET = 256, O_JSON, O_APPLY, O_DRY, O_FROMEND, O_ANALYST,
	    O_KIND };
	static const struct option baseopts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "apply", no_argument, NULL, O_APPLY },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "config", required_argument, NULL, 'c' },
		{ "follow", no_argument, NULL, 'f' },
		{ "from-end", no_argument, NULL, O_FROMEND },
		{ "help", no_argument, NULL, 'h' },
		{ "format", required_argument, NULL, O_SET },
		{ "log-format", required_argument, NULL, O_SET },
		{ "json-field", required_argument, NULL, O_SET },
		{ "trusted-proxy", required_argument, NULL, O_SET },
		{ "max-memory", required_argument, NULL, O_SET },
		{ "retention", required_argument, NULL, O_SET },
		{ "max-line", required_argument, NULL, O_SET },
		{ "vlogs-url", required_argument, NULL, O_SET },
		{ "vlogs-account-id", required_argument, NULL, O_SET },
		{ "vlogs-project-id", required_argument, NULL, O_SET },
		{ "vlogs-user", required_argument, NULL, O_SET },
		{ "vlogs-password-file", required_argument, NULL, O_SET },
		{ "vlogs-bearer-token-file", required_argument, NULL, O_SET },
		{ "vlogs-field", required_argument, NULL, O_SET },
		{ "vlogs-timeout", required_argument, NULL, O_SET },
		{ "lapi-url", required_argument, NULL, O_SET },
		{ "lapi-machine", required_argument, NULL, O_SET },
		{ "lapi-password-file", required_argument, NULL, O_SET },
		{ "lapi-ca-file", required_argument, NULL, O_SET },
		{ "lapi-retries", required_argument, NULL, O_SET },
		{ "lapi-timeout", required_argument, NULL, O_SET },
		{ "ban-duration", required_argument, NULL, O_SET },
		{ "state-file", required_argument, NULL, O_SET },
		{ "audit-file", required_argument, NULL, O_SET },
		{ "window", required_argument, NULL, O_SET },
		{ "interval", required_argument, NULL, O_SET },
		{ "guard-allow", required_argument, NULL, O_SET },
		{ "guard-allow-file", required_argument, NULL, O_SET },
		{ "guard-max-per-cycle", required_argument, NULL, O_SET },
		{ "guard-max-per-hour", required_argument, NULL, O_SET },
		{ "guard-verify-crawlers", required_argument, NULL, O_SET },
		{ "input", required_argument, NULL, O_SET },
		{ "analyst", required_argument, NULL, O_KIND },
		{ NULL, 0, NULL, 0 },
	};
	struct option *longopts = settings_longopts(baseopts, O_ANALYST,
	    O_SET);
	struct buf errs = BUF_INIT;
	char err[1024];
	int ch, idx, rc = 2, cli_mode = -1, check_only = 0, verbose = 0;
	int64_t now = clock_wall_ns();
	const char *kind = NULL;

	if (settings_preload_config(&R->st, argc, argv, &errs) != 0) {
		fputs(errs.p, stderr);
		goto out;
	}
	R->follow = R->st.follow;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:fhnv", longopts, &idx)) != -1) {
		switch (ch) {
		case O_SET:
		case O_ANALYST:
			if (settings_option(&R->st, longopts[idx].name,
			    optarg) != 0)
				goto out;
			break;
		case O_JSON:
			R->json = 1;
			break;
		case O_KIND:
			kind = optarg;
			break;
		case O_APPLY:
			cli_mode = 1;
			break;
		case O_DRY:
			cli_mode = 0;
			break;
		case O_FROMEND:
			R->st.load.input.follow_from_end = 1;
			break;
		case 'c':
			break; /* read above */
		case 'f':
			R->follow = 1;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			run_usage(stdout, R->cmd);
			rc = 0;
			goto out;
		default:
			run_usage(stderr, R->cmd);
			goto out;
		}
	}
	if (verbose)
		log_init(NULL, log_verbosity() + verbose);
	if (kind == NULL)
		kind = R->st.analyst_kind != NULL ? R->st.analyst_kind :
		    "auto";
	if (settings_analyst_open(&R->st, R->cmd, kind, 0, &R->llm,
	    &R->llm_key) != 0)
		goto out;
	R->apply = ban_mode(&R->st, cli_mode, err, sizeof(err));
	if (R->apply < 0) {
		log_warnx("%s: %s", R->cmd, err);
		goto out;
	}
	R->paths = R->st.inputs;
	R->npaths = R->st.ninputs;
	if (optind < argc) {
		R->paths = argv + optind;
		R->npaths = (size_t)(argc - optind);
	}
	if (R->npaths == 0 && R->st.vlogs_url == NULL) {
		log_warnx("%s: no logs: give FILE arguments, input = PATH, or "
		    "vlogs_url", R->cmd);
		goto out;
	}
	if (R->follow && R->npaths == 0) {
		log_warnx("%s: --follow reads files; VictoriaLogs is asked "
		    "every interval instead", R->cmd);
		R->follow = 0;
	}
	if (R->apply) {
		if (ban_lapi_open(&R->st, &R->lapi, err, sizeof(err)) != 0) {
			log_warnx("%s: apply mode: %s", R->cmd, err);
			goto out;
		}
		R->have_lapi = 1;
	}
	if (check_only) {
		fprintf(stderr, "configuration OK (%s)\n", R->apply ? "apply" :
		    "dry-run");
		rc = 0;
		goto out;
	}
	if (R->st.audit_file != NULL) {
		const char *p = strcmp(R->st.audit_file, "-") == 0 ?
		    "/dev/stderr" : R->st.audit_file;
		R->audit = audit_open(p, err, sizeof(err));
		if (R->audit == NULL) {
			log_warnx("%s: %s", R->cmd, err);
			goto out;
		}
		if (R->have_lapi)
			audit_add_secret(R->audit, R->lapi.o.password);
	}
	/* Apply mode owns the state: locked, so two runs never interleave.
	 * A dry-run only reads it (to report what is already banned) and
	 * never takes the lock from a running watch. */
	if (R->apply) {
		if (ban_state_open(&R->st, &R->state, now, err,
		    sizeof(err)) != 0) {
			log_warnx("%s: state: %s", R->cmd, err);
			goto out;
		}
	} else {
		char def[4096];
		const char *path = R->st.state_file;
		if (path == NULL && state_default_path(def, sizeof(def), err,
		    sizeof(err)) == 0)
			path = def;
		if (path != NULL && state_load(&R->state, path, now, err,
		    sizeof(err)) != 0)
			log_warnx("%s: state (ignored in dry-run): %s", R->cmd,
			    err);
	}
	guard_init(&R->guard, ban_guard_config(&R->st), &R->st.load.trusted,
	    &R->state);
	R->have_guard = 1;
	if (R->st.vlogs_url != NULL && R->npaths == 0) {
		R->vtoken = read_secret(R->st.vlogs_token_file,
		    "VLOGS_BEARER_TOKEN", err, sizeof(err));
		if (R->vtoken == NULL && R->st.vlogs_token_file != NULL) {
			log_warnx("vlogs bearer token: %s", err);
			goto out;
		}
		R->vpass = read_secret(R->st.vlogs_password_file,
		    "VLOGS_PASSWORD", err, sizeof(err));
		if (R->vpass == NULL && R->st.vlogs_password_file != NULL) {
			log_warnx("vlogs password: %s", err);
			goto out;
		}
		vlogs_opts_init(&R->vo);
		R->vo.url = R->st.vlogs_url;
		R->vo.account_id = R->st.vlogs_account_id;
		R->vo.project_id = R->st.vlogs_project_id;
		R->vo.user = R->st.vlogs_user;
		R->vo.password = R->st.vlogs_user != NULL ? R->vpass : NULL;
		R->vo.bearer_token = R->vtoken;
		if (R->st.vlogs_timeout_ns > 0)
			R->vo.query_timeout_ns = R->st.vlogs_timeout_ns;
		R->vo.field_map = (const char *const *)R->st.vlogs_field_map;
		R->vo.nfield_map = R->st.nvlogs_field_map;
		R->src.vlogs = &R->vo;
		if (R->audit != NULL) {
			audit_add_secret(R->audit, R->vtoken);
			audit_add_secret(R->audit, R->vpass);
		}
	}
	R->st.load.progress = 0;
	rc = 0;
out:
	buf_release(&errs);
	free(longopts);
	return rc;
}

static void
runner_release(struct runner *R)
{
	if (R->llm != NULL)
		llm_free(R->llm);
	if (R->llm_key != NULL) {
		explicit_bzero(R->llm_key, strlen(R->llm_key));
		free(R->llm_key);
	}
	if (R->have_guard)
		guard_release(&R->guard);
	if (R->have_store)
		store_release(&R->store);
	if (R->have_lapi)
		lapi_release(&R->lapi);
	state_release(&R->state);
	if (R->audit != NULL)
		audit_close(R->audit);
	if (R->vtoken != NULL) {
		explicit_bzero(R->vtoken, strlen(R->vtoken));
		free(R->vtoken);
	}
	if (R->vpass != NULL) {
		explicit_bzero(R->vpass, strlen(R->vpass));
		free(R->vpass);
	}
	settings_release(&R->st);
}

static void
cycle_id(struct runner *R, char *out, size_t outlen)
{
	char t[TIME_STRLEN];

	time_format_rfc3339(clock_wall_ns(), t, sizeof(t));
	snprintf(out, outlen, "%s#%u", t, R->cycles);
}

/* One cycle over [start, end): analyst, then the ban pipeline.  The
 * result is printed; 0, or 1 when the analyst or a ban failed. */
static int
run_cycle(struct runner *R, int64_t start, int64_t end)
{
	struct report rep;
	struct ban_results br;
	struct ban_ctx c;
	struct agent_result ar;
	struct buf o = BUF_INIT;
	char err[1024], id[64], a[TIME_STRLEN], b[TIME_STRLEN];
	int64_t t0 = clock_mono_ns(), now = clock_wall_ns();
	int rc = 0, arc, agrc = 0;
	const char *why = NULL;

	R->cycles++;
	cycle_id(R, id, sizeof(id));
	time_format_rfc3339(start, a, sizeof(a));
	time_format_rfc3339(end, b, sizeof(b));
	report_init(&rep);
	ban_results_init(&br);
	memset(&ar, 0, sizeof(ar));
	ban_results_init(&ar.bans);
	if (R->audit != NULL) {
		audit_set_cycle(R->audit, id);
		if (audit_eventf(R->audit, "cycle_begin", err, sizeof(err),
		    "{s:s,s:s,s:s,s:s,s:I}", "command", R->cmd, "mode",
		    R->apply ? "apply" : "dry-run", "start", a, "end", b,
		    "rows", R->have_store ? (json_int_t)R->store.rows :
		    (json_int_t)-1) != 0)
			log_warnx("%s", err);
	}
	R->src.now_ns = end;
	guard_cycle_begin(&R->guard);
	arc = analyst_run(&R->src, R->st.analyst, start, end, &rep, err,
	    sizeof(err));
	if (arc != 0) {
		log_warnx("analyst: %s", err);
		report_warn(&rep, "analyst stopped: %s", err);
		if (R->audit != NULL) {
			char aerr[256];
			audit_eventf(R->audit, "analyst_error", aerr,
			    sizeof(aerr), "{s:o}", "error",
			    audit_str(err, strlen(err)));
		}
		rc = 1;
	}
	memset(&c, 0, sizeof(c));
	c.apply = R->apply;
	c.guard = &R->guard;
	c.src = &R->src;
	c.start_ns = start;
	c.end_ns = end;
	c.now_ns = now;
	c.lapi = R->have_lapi ? &R->lapi : NULL;
	c.state = R->apply ? &R->state : NULL;
	c.audit = R->audit;
	c.duration_ns = R->st.ban_duration_ns;
	if (R->llm != NULL) {
		/* max_usd_day is per UTC day of the wall clock. */
		int64_t day = now / (86400 * NS);
		if (day != R->spent_day) {
			R->spent_day = day;
			R->spent_today = 0;
		}
		agrc = agent_run(R->st.agent, R->llm, &c, &rep,
		    R->spent_today, &ar);
		R->spent_today += ar.cost_usd;
		if (ar.stop == NULL)
			ar.stop = "llm-error";
		why = agent_fallback_reason(agrc, &ar);
		if (why != NULL && agrc != 0)
			log_warnx("%s: agent: %s; the built-in analyst's "
			    "findings are used", R->cmd, ar.error);
		/* Whatever the model proposed was judged (and in apply mode
		 * sent) already: it is reported either way. */
		br = ar.bans;
		ban_results_init(&ar.bans);
	}
	if (R->llm == NULL || why != NULL) {
		if (ban_report(&c, &rep, &br) != 0)
			rc = 1;
	} else if (br.failed > 0)
		rc = 1;
	R->failed += br.failed;
	if (R->audit != NULL) {
		if (audit_eventf(R->audit, "cycle_end", err, sizeof(err),
		    "{s:I,s:i,s:i,s:i,s:i,s:i,s:I,s:f}", "findings",
		    (json_int_t)rep.nf, "banned", (int)br.banned, "failed",
		    (int)br.failed, "skipped", (int)br.skipped, "refused",
		    (int)br.refused, "dry_run", (int)br.dry, "queries",
		    (json_int_t)R->src.queries,
		    "seconds", (double)(clock_mono_ns() - t0) / 1e9) != 0)
			log_warnx("%s", err);
	}

	if (R->json) {
		buf_addf(&o, "{\"command\":\"%s\",\"mode\":\"%s\",\"cycle\":",
		    R->cmd, R->apply ? "apply" : "dry-run");
		buf_add_json_str(&o, id, strlen(id));
		buf_addf(&o, ",\"window\":{\"start\":\"%s\",\"end\":\"%s\"},"
		    "\"rows\":%lld,\"seconds\":%.3f,\"warnings\":[", a, b,
		    R->have_store ? (long long)R->store.rows : -1LL,
		    (double)(clock_mono_ns() - t0) / 1e9);
		for (size_t i = 0; i < rep.nwarnings; i++) {
			if (i)
				buf_addch(&o, ',');
			buf_add_json_str(&o, rep.warnings[i],
			    strlen(rep.warnings[i]));
		}
		buf_addf(&o, "],\"analyst\":\"%s\",", R->llm != NULL ? "llm" :
		    "stats");
		if (R->llm != NULL) {
			agent_result_json(&ar, why != NULL, &o);
			buf_addch(&o, ',');
		}
		report_json_findings(&rep, &o);
		buf_addch(&o, ',');
		ban_results_json(&br, &o);
		buf_addstr(&o, "}\n");
	} else {
		buf_addf(&o, "anomaly-detect %s: %s%s\ncycle     %s\n"
		    "window    %s .. %s\n", R->cmd, R->apply ? "apply" :
		    "dry-run", R->apply ? ", bans go to LAPI" :
		    ", nothing is banned", id, a, b);
		if (R->have_store)
			buf_addf(&o, "rows      %llu\n",
			    (unsigned long long)R->store.rows);
		report_text_findings_only(&rep, &o);
		if (R->llm != NULL)
			agent_result_text(&ar, why, &o);
		ban_results_text(&br, R->apply, &o);
		buf_addch(&o, '\n');
	}
	/* Text from watch goes to a journal: a cycle that banned nothing
	 * new (only skips, or the same refusals and dry-runs again) is not
	 * worth a screenful each second.  JSON consumers get every cycle. */
	if (R->json || strcmp(R->cmd, "run") == 0 || R->cycles == 1 ||
	    br.banned > 0 || br.failed > 0 || rep.nwarnings > 0) {
		fwrite(o.p, 1, o.len, stdout);
		fflush(stdout);
	}
	buf_release(&o);
	agent_result_release(&ar);
	ban_results_release(&br);
	report_release(&rep);
	return rc;
}

/* Files without following: read them whole, judge the last window
 * before the newest row. */
static int
cycle_files(struct runner *R)
{
	struct load_stats ls;
	int rc;

	if (R->have_store)
		store_release(&R->store);
	store_init(&R->store, &R->st.store);
	R->have_store = 1;
	R->src.store = &R->store;
	memset(&ls, 0, sizeof(ls));
	if (load_files(&R->store, &R->st.load, R->paths, R->npaths,
	    &ls) != 0)
		R->errors++;
	load_stats_release(&ls);
	if (R->store.rows == 0) {
		int64_t now = clock_wall_ns();
		return run_cycle(R, now - R->st.window_ns, now);
	}
	rc = run_cycle(R, R->store.tmax + 1 - R->st.window_ns,
	    R->store.tmax + 1);
	return rc;
}

static int
cycle_vlogs(struct runner *R)
{
	int64_t now = clock_wall_ns();

	return run_cycle(R, now - R->st.window_ns, now);
}

static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Sleeps up to ns, waking early on a signal. */
static void
nap(int64_t ns)
{
	int64_t until = clock_mono_ns() + ns;

	while (!run_stop) {
		int64_t left = until - clock_mono_ns();
		if (left <= 0)
			break;
		http_sleep_ns(left < 100000000 ? left : 100000000);
	}
}

static int
watch_follow(struct runner *R)
{
	struct follow *f;
	struct load_stats ls;
	int64_t last = clock_mono_ns() - R->st.interval_ns;
	int pending = 1, rc = 0;

	/* Following never ends: keep only what a window can use. */
	if (R->st.store.retention_ns == 0 ||
	    R->st.store.retention_ns < 2 * R->st.window_ns)
		R->st.store.retention_ns = 2 * R->st.window_ns;
	store_init(&R->store, &R->st.store);
	R->have_store = 1;
	R->src.store = &R->store;
	memset(&ls, 0, sizeof(ls));
	f = follow_open(&R->st.load, R->paths, R->npaths);
	if (f == NULL) {
		log_warnx("%s: cannot follow the inputs", R->cmd);
		return 1;
	}
	while (!run_stop) {
		int64_t mono;

		if (follow_pump(f, &R->store, &ls) > 0)
			pending = 1;
		mono = clock_mono_ns();
		if ((pending && mono - last >= FOLLOW_MIN_GAP) ||
		    mono - last >= R->st.interval_ns) {
			int64_t now = clock_wall_ns();
			store_finish(&R->store);
			if (run_cycle(R, now - R->st.window_ns, now + 1) != 0)
				rc = 1;
			last = clock_mono_ns();
			pending = 0;
			continue;
		}
		follow_wait(f, FOLLOW_WAIT_MS);
	}
	follow_free(f);
	load_stats_release(&ls);
	return rc;
}

static int
runner_main(const char *cmd, int watch, int argc, char **argv)
{
	struct runner R;
	int rc;

	memset(&R, 0, sizeof(R));
	R.cmd = cmd;
	settings_init(&R.st);
	state_init(&R.state);
	rc = runner_setup(&R, argc, argv);
	if (rc != 0 || R.have_guard == 0)
		goto out;
	catch_signals();
	if (!R.json)
		log_info("%s: %s mode", cmd, R.apply ? "apply" : "dry-run");
	if (!watch) {
		rc = R.npaths > 0 ? cycle_files(&R) : cycle_vlogs(&R);
	} else if (R.follow) {
		rc = watch_follow(&R);
	} else {
		while (!run_stop) {
			int64_t t0 = clock_mono_ns();
			if ((R.npaths > 0 ? cycle_files(&R) :
			    cycle_vlogs(&R)) != 0)
				rc = 1;
			nap(R.st.interval_ns - (clock_mono_ns() - t0));
		}
	}
	if (R.errors)
		rc = 1;
	if (R.audit != NULL) {
		char err[256];
		audit_set_cycle(R.audit, NULL);
		audit_eventf(R.audit, "exit", err, sizeof(err),
		    "{s:s,s:i,s:i,s:b}", "command", cmd, "cycles",
		    (int)R.cycles, "failed", (int)R.failed, "signal",
		    run_stop != 0);
	}
out:
	runner_release(&R);
	return rc;
}

int
cmd_run(int argc, char **argv)
{
	return runner_main("run", 0, argc, argv);
}

int
cmd_watch(int argc, char **argv)
{
	return runner_main("watch", 1, argc, argv);
}
