/*
 * anomaly-detect query: one LogsQL query, on the embedded store loaded
 * from files (--input), or on the configured VictoriaLogs.  Both answer
 * in the same shape: rows of string fields, printed as VictoriaLogs'
 * JSON lines (--json) or as an aligned table.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anomaly.h"

#define QUERY_ROWS_DEFAULT 10000
#define CELL_MAX 60 /* table cells are cut here (JSON never is) */

static void
query_usage(FILE *f)
{
	fprintf(f,
"usage: anomaly-detect query [options] 'LogsQL'\n"
"\n"
"Runs a LogsQL query on the embedded store loaded from --input files, or,\n"
"without --input, on VictoriaLogs (--vlogs-url or vlogs_url in the config).\n"
"\n"
"  --input FILE           load FILE (plain, .gz, - for stdin); repeatable\n"
"  --json                 JSON lines, as VictoriaLogs returns them\n"
"  --limit N              at most N rows (default 10000, 0 = no cap)\n"
"  --now TIME             what relative times such as _time:5m count back\n"
"                         from (RFC 3339); default: the newest row read\n"
"  --start TIME, --end TIME   VictoriaLogs: the time range to search\n"
"  -c, --config FILE      read settings from FILE first\n"
"  --format F, --log-format STR, --json-field C=KEY, --trusted-proxy CIDR,\n"
"  --max-memory SIZE, --retention DUR, --max-line SIZE   as for scan\n"
"  --vlogs-url URL        VictoriaLogs (or a cluster's vlselect)\n"
"  --vlogs-account-id N, --vlogs-project-id N   tenant\n"
"  --vlogs-user NAME      basic auth; the password from\n"
"                         --vlogs-password-file F or $VLOGS_PASSWORD\n"
"  --vlogs-bearer-token-file F   or $VLOGS_BEARER_TOKEN\n"
"  --vlogs-field C=THEIRS their field THEIRS is our canonical C; repeatable\n"
"  --vlogs-timeout DUR    query timeout (default 30s)\n"
"  -v                     more messages\n");
}

/* An aligned table: one column per field name, in order of appearance. */
static void
print_table(const struct qresult *q, struct buf *o)
{
	struct span *cols = NULL;
	size_t ncols = 0, *width = NULL;
	struct buf cell = BUF_INIT;

	for (size_t r = 0; r < q->nrows; r++)
		for (size_t i = 0; i < qresult_row_len(q, r); i++) {
			struct span nm = qresult_name(q, r, i);
			size_t c;
			for (c = 0; c < ncols; c++)
				if (span_eq(cols[c], nm))
					break;
			if (c == ncols) {
				cols = xreallocarray(cols, ncols + 1,
				    sizeof(*cols));
				cols[ncols++] = nm;
			}
		}
	width = xcalloc(ncols ? ncols : 1, sizeof(*width));
	for (size_t c = 0; c < ncols; c++) {
		buf_reset(&cell);
		buf_add_escaped(&cell, cols[c].p, cols[c].n);
		width[c] = cell.len < CELL_MAX ? cell.len : CELL_MAX;
	}
	/* Widths from escaped values, cut at CELL_MAX. */
	for (size_t r = 0; r < q->nrows; r++)
		for (size_t i = 0; i < qresult_row_len(q, r); i++) {
			struct span nm = qresult_name(q, r, i);
			struct span v = qresult_value(q, r, i);
			for (size_t c = 0; c < ncols; c++)
				if (span_eq(cols[c], nm)) {
					buf_reset(&cell);
					buf_add_escaped(&cell, v.p, v.n);
					size_t w = cell.len < CELL_MAX ?
					    cell.len : CELL_MAX;
					if (w > width[c])
						width[c] = w;
					break;
				}
		}
	for (size_t c = 0; c < ncols; c++) {
		buf_reset(&cell);
		buf_add_escaped(&cell, cols[c].p, cols[c].n);
		buf_addf(o, "%s%-*.*s", c ? "  " : "", (int)width[c],
		    (int)width[c], cell.p);
	}
	while (o->len > 0 && o->p[o->len - 1] == ' ')
		o->len--;
	if (ncols)
		buf_addch(o, '\n');
	for (size_t r = 0; r < q->nrows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			struct span v = SPAN_NULL;
			for (size_t i = 0; i < qresult_row_len(q, r); i++)
				if (span_eq(qresult_name(q, r, i), cols[c])) {
					v = qresult_value(q, r, i);
					break;
				}
			buf_reset(&cell);
			buf_add_escaped(&cell, v.p != NULL ? v.p : "", v.n);
			if (cell.len > CELL_MAX) {
				cell.len = CELL_MAX - 3;
				buf_addstr(&cell, "...");
			}
			buf_addf(o, "%s%-*s", c ? "  " : "", (int)width[c],
			    cell.p);
		}
		/* No trailing blanks. */
		while (o->len > 0 && o->p[o->len - 1] == ' ')
			o->len--;
		buf_addch(o, '\n');
	}
	buf_release(&cell);
	free(width);
	free(cols);
}

int
cmd_query(int argc, char **argv)
{
	enum { O_JSON = 256, O_INPUT, O_LIMIT, O_NOW, O_START, O_END, O_FORMAT,
	    O_LOGFMT, O_JSONFIELD, O_TRUSTED, O_MAXMEM, O_RETENTION, O_MAXLINE,
	    O_VURL, O_VACC, O_VPROJ, O_VUSER, O_VPASS, O_VTOKEN, O_VFIELD,
	    O_VTIMEOUT };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "input", required_argument, NULL, O_INPUT },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "now", required_argument, NULL, O_NOW },
		{ "start", required_argument, NULL, O_START },
		{ "end", required_argument, NULL, O_END },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "log-format", required_argument, NULL, O_LOGFMT },
		{ "json-field", required_argument, NULL, O_JSONFIELD },
		{ "trusted-proxy", required_argument, NULL, O_TRUSTED },
		{ "max-memory", required_argument, NULL, O_MAXMEM },
		{ "retention", required_argument, NULL, O_RETENTION },
		{ "max-line", required_argument, NULL, O_MAXLINE },
		{ "vlogs-url", required_argument, NULL, O_VURL },
		{ "vlogs-account-id", required_argument, NULL, O_VACC },
		{ "vlogs-project-id", required_argument, NULL, O_VPROJ },
		{ "vlogs-user", required_argument, NULL, O_VUSER },
		{ "vlogs-password-file", required_argument, NULL, O_VPASS },
		{ "vlogs-bearer-token-file", required_argument, NULL, O_VTOKEN },
		{ "vlogs-field", required_argument, NULL, O_VFIELD },
		{ "vlogs-timeout", required_argument, NULL, O_VTIMEOUT },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct settings st;
	struct store s;
	struct load_stats ls;
	struct qresult q;
	struct buf out = BUF_INIT, errs = BUF_INIT;
	char **inputs = NULL, err[1024];
	size_t ninputs = 0;
	uint64_t limit = QUERY_ROWS_DEFAULT;
	int64_t now = TIME_NONE, start = TIME_NONE, end = TIME_NONE;
	int ch, idx, rc = 2, verbose = 0, have_store = 0;
	struct logsql_query *lq = NULL;
	char *token = NULL, *password = NULL;

	settings_init(&st);
	st.load.progress = 0;
	memset(&ls, 0, sizeof(ls));
	qresult_init(&q);
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
		case O_INPUT:
			inputs = xreallocarray(inputs, ninputs + 1,
			    sizeof(*inputs));
			inputs[ninputs++] = optarg;
			break;
		case O_LIMIT:
			if (parse_u64(span_str(optarg), &limit) != 0) {
				log_warnx("--limit: \"%s\" is not a count",
				    optarg);
				goto out;
			}
			break;
		case O_NOW:
		case O_START:
		case O_END: {
			int64_t t;
			if (time_parse_any(span_str(optarg), &t) != 0) {
				log_warnx("--%s: \"%s\" is not a time such as "
				    "2026-11-20T09:15:00Z", longopts[idx].name,
				    optarg);
				goto out;
			}
			if (ch == O_NOW)
				now = t;
			else if (ch == O_START)
				start = t;
			else
				end = t;
			break;
		}
		case O_FORMAT:
		case O_LOGFMT:
		case O_JSONFIELD:
		case O_TRUSTED:
		case O_MAXMEM:
		case O_RETENTION:
		case O_MAXLINE:
		case O_VURL:
		case O_VACC:
		case O_VPROJ:
		case O_VUSER:
		case O_VPASS:
		case O_VTOKEN:
		case O_VFIELD:
		case O_VTIMEOUT:
			if (settings_option(&st, longopts[idx].name, optarg) != 0)
				goto out;
			break;
		case 'c':
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			query_usage(stdout);
			rc = 0;
			goto out;
		default:
			query_usage(stderr);
			goto out;
		}
	}
	if (verbose)
		log_init(NULL, log_verbosity() + verbose);
	if (optind != argc - 1) {
		log_warnx("query: give exactly one LogsQL query");
		query_usage(stderr);
		goto out;
	}
	const char *text = argv[optind];
	/* Parse locally first: a mistake is named before any work. */
	lq = logsql_parse(text, strlen(text), err, sizeof(err));
	if (lq == NULL) {
		log_warnx("query: %s", err);
		rc = 1;
		goto out;
	}

	if (ninputs > 0) {
		store_init(&s, &st.store);
		have_store = 1;
		load_files(&s, &st.load, inputs, ninputs, &ls);
		if (ls.errors) {
			rc = 1;
			goto out;
		}
		if (ls.skipped_total)
			log_warnx("%llu of %llu lines skipped (see scan)",
			    (unsigned long long)ls.skipped_total,
			    (unsigned long long)ls.lines);
		if (now == TIME_NONE)
			now = s.tmax != TIME_NONE ? s.tmax + 1 :
			    clock_wall_ns();
		int r = logsql_exec(lq, &s, now, (size_t)limit, &q, err,
		    sizeof(err));
		if (r < 0) {
			log_warnx("query: %s", err);
			rc = 1;
			goto out;
		}
		if (r > 0)
			log_warnx("%s", err);
	} else {
		struct vlogs_opts vo;
		struct vlogs_error ve;
		if (st.vlogs_url == NULL) {
			log_warnx("query: no --input files and no VictoriaLogs "
			    "(--vlogs-url or vlogs_url in the config)");
			goto out;
		}
		token = read_secret(st.vlogs_token_file, "VLOGS_BEARER_TOKEN",
		    err, sizeof(err));
		if (token == NULL && st.vlogs_token_file != NULL) {
			log_warnx("vlogs bearer token: %s", err);
			goto out;
		}
		password = read_secret(st.vlogs_password_file,
		    "VLOGS_PASSWORD", err, sizeof(err));
		if (password == NULL && st.vlogs_password_file != NULL) {
			log_warnx("vlogs password: %s", err);
			goto out;
		}
		vlogs_opts_init(&vo);
		vo.url = st.vlogs_url;
		vo.account_id = st.vlogs_account_id;
		vo.project_id = st.vlogs_project_id;
		vo.user = st.vlogs_user;
		vo.password = st.vlogs_user != NULL ? password : NULL;
		vo.bearer_token = token;
		if (st.vlogs_timeout_ns > 0)
			vo.query_timeout_ns = st.vlogs_timeout_ns;
		vo.field_map = (const char *const *)st.vlogs_field_map;
		vo.nfield_map = st.nvlogs_field_map;
		if (vlogs_query(&vo, text, start, end, (size_t)limit, &q,
		    &ve) != 0) {
			log_warnx("query: %s: %s", vlogs_errkind_name(ve.kind),
			    ve.msg);
			rc = 1;
			goto out;
		}
	}
	if (st.json)
		qresult_write_jsonl(&q, &out);
	else
		print_table(&q, &out);
	fwrite(out.p, 1, out.len, stdout);
	fflush(stdout);
	rc = 0;
out:
	logsql_free(lq);
	if (have_store)
		store_release(&s);
	load_stats_release(&ls);
	qresult_release(&q);
	buf_release(&out);
	buf_release(&errs);
	if (token != NULL) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	free(inputs);
	settings_release(&st);
	return rc;
}
