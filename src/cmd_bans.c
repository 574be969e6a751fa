/*
 * anomaly-detect bans list / unban VALUE: what we banned, and undoing it.
 *
 * `bans list` shows the state file's entries and, when LAPI is
 * configured, the decisions LAPI holds from us (origin anomaly-detect),
 * so a difference between the two is visible.  `unban` always needs
 * LAPI: removing only our record would leave the ban in force and make
 * us forget it, which is the one outcome worse than either.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "anomaly.h"

struct bans_opts {
	struct settings st;
	int json;
};

static void
bans_usage(FILE *f)
{
	fprintf(f,
"usage: anomaly-detect bans list [--json] [options]\n"
"       anomaly-detect unban [options] VALUE\n"
"\n"
"bans list: the bans in the state file and, with LAPI configured, the\n"
"decisions LAPI holds from anomaly-detect.\n"
"unban: deletes our decisions for VALUE (an address or range) in LAPI,\n"
"then the state entry.  It always needs LAPI (there is no dry-run).\n"
"\n"
"  -c, --config FILE          settings from FILE first\n"
"  --json                     JSON output\n"
"  --lapi-url URL --lapi-machine NAME --lapi-password-file FILE\n"
"                             (or $LAPI_PASSWORD)\n"
"  --lapi-ca-file FILE\n"
"  --state-file FILE          default: the state directory\n"
"  --audit-file FILE          unban: the audit trail (- = stderr)\n");
}

/* Options of both commands; returns the index of the first operand, or
 * -1 (exit 2) / -2 (help shown, exit 0). */
static int
bans_parse(struct bans_opts *b, int argc, char **argv)
{
	enum { O_SET = 256, O_JSON };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "lapi-url", required_argument, NULL, O_SET },
		{ "lapi-machine", required_argument, NULL, O_SET },
		{ "lapi-password-file", required_argument, NULL, O_SET },
		{ "lapi-ca-file", required_argument, NULL, O_SET },
		{ "lapi-retries", required_argument, NULL, O_SET },
		{ "lapi-timeout", required_argument, NULL, O_SET },
		{ "state-file", required_argument, NULL, O_SET },
		{ "audit-file", required_argument, NULL, O_SET },
		{ NULL, 0, NULL, 0 },
	};
	struct buf errs = BUF_INIT;
	int ch, idx;

	if (settings_preload_config(&b->st, argc, argv, &errs) != 0) {
		fputs(errs.p, stderr);
		buf_release(&errs);
		return -1;
	}
	buf_release(&errs);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:hv", longopts, &idx)) != -1) {
		switch (ch) {
		case O_SET:
			if (settings_option(&b->st, longopts[idx].name,
			    optarg) != 0)
				return -1;
			break;
		case O_JSON:
			b->json = 1;
			break;
		case 'c':
			break;
		case 'v':
			log_init(NULL, log_verbosity() + 1);
			break;
		case 'h':
			bans_usage(stdout);
			return -2;
		default:
			bans_usage(stderr);
			return -1;
		}
	}
	return optind;
}

static const char *
state_path(const struct settings *st, char *def, size_t deflen, char *err,
    size_t errlen)
{
	if (st->state_file != NULL)
		return st->state_file;
	if (state_default_path(def, deflen, err, errlen) != 0)
		return NULL;
	return def;
}

static void
fmt_time(int64_t ns, char *out, size_t outlen)
{
	if (ns == TIME_NONE)
		snprintf(out, outlen, "-");
	else
		time_format_rfc3339(ns, out, outlen);
}

static int
bans_list(struct bans_opts *b)
{
	struct state s;
	struct lapi l;
	struct lapi_decisions d;
	struct buf o = BUF_INIT;
	char err[1024], def[4096], t1[TIME_STRLEN], t2[TIME_STRLEN];
	const char *path;
	int64_t now = clock_wall_ns();
	int rc = 1, have_lapi = 0, lapi_ok = 0;
	char lerr[1024] = "";

	state_init(&s);
	lapi_decisions_init(&d);
	path = state_path(&b->st, def, sizeof(def), err, sizeof(err));
	if (path == NULL || state_load(&s, path, now, err, sizeof(err)) != 0) {
		log_warnx("bans: state: %s", err);
		goto out;
	}
	if (b->st.lapi_url != NULL) {
		if (ban_lapi_open(&b->st, &l, lerr, sizeof(lerr)) == 0) {
			have_lapi = 1;
			lapi_ok = lapi_list_decisions(&l, NULL, &d, lerr,
			    sizeof(lerr)) == 0;
		}
		if (!lapi_ok)
			log_warnx("bans: LAPI: %s", lerr);
	}
	if (b->json) {
		buf_addstr(&o, "{\"state_file\":");
		buf_add_json_str(&o, path, strlen(path));
		buf_addstr(&o, ",\"state\":[");
		for (size_t i = 0; i < s.n; i++) {
			const struct state_entry *e = &s.v[i];
			fmt_time(e->until_ns, t1, sizeof(t1));
			fmt_time(e->created_ns, t2, sizeof(t2));
			if (i)
				buf_addch(&o, ',');
			buf_addstr(&o, "{\"value\":");
			buf_add_json_str(&o, e->value, strlen(e->value));
			buf_addf(&o, ",\"scope\":\"%s\",\"scenario\":", e->scope);
			buf_add_json_str(&o, e->scenario, strlen(e->scenario));
			buf_addstr(&o, ",\"alert_id\":");
			buf_add_json_str(&o, e->alert_id, strlen(e->alert_id));
			buf_addf(&o, ",\"until\":\"%s\",\"created\":\"%s\"}", t1,
			    t2);
		}
		buf_addstr(&o, "],\"lapi\":");
		if (!have_lapi && b->st.lapi_url == NULL)
			buf_addstr(&o, "null");
		else if (!lapi_ok) {
			buf_addstr(&o, "{\"error\":");
			buf_add_json_str(&o, lerr, strlen(lerr));
			buf_addch(&o, '}');
		} else {
			buf_addstr(&o, "{\"decisions\":[");
			for (size_t i = 0; i < d.n; i++) {
				const struct lapi_decision *x = &d.v[i];
				fmt_time(x->until_ns, t1, sizeof(t1));
				if (i)
					buf_addch(&o, ',');
				buf_addf(&o, "{\"id\":%lld,\"alert_id\":%lld,"
				    "\"value\":", (long long)x->id,
				    (long long)x->alert_id);
				buf_add_json_str(&o, x->value, strlen(x->value));
				buf_addstr(&o, ",\"scope\":");
				buf_add_json_str(&o, x->scope, strlen(x->scope));
				buf_addstr(&o, ",\"type\":");
				buf_add_json_str(&o, x->type, strlen(x->type));
				buf_addstr(&o, ",\"scenario\":");
				buf_add_json_str(&o, x->scenario,
				    strlen(x->scenario));
				buf_addf(&o, ",\"until\":\"%s\"}", t1);
			}
			buf_addstr(&o, "]}");
		}
		buf_addstr(&o, "}\n");
	} else {
		buf_addstr(&o, "state file ");
		buf_add_escaped(&o, path, strlen(path));
		buf_addf(&o, ": %zu ban%s\n", s.n, s.n == 1 ? "" : "s");
		for (size_t i = 0; i < s.n; i++) {
			const struct state_entry *e = &s.v[i];
			fmt_time(e->until_ns, t1, sizeof(t1));
			buf_addf(&o, "  %-5s  %-39s  until %s  alert %s  ",
			    e->scope, e->value, t1, e->alert_id);
			buf_add_escaped(&o, e->scenario, strlen(e->scenario));
			buf_addch(&o, '\n');
		}
		if (b->st.lapi_url == NULL)
			buf_addstr(&o, "LAPI not configured (lapi_url): its "
			    "decisions are not shown\n");
		else if (!lapi_ok) {
			buf_addstr(&o, "LAPI: ");
			buf_add_escaped(&o, lerr, strlen(lerr));
			buf_addch(&o, '\n');
		} else {
			buf_addf(&o, "LAPI: %zu active decision%s from "
			    "anomaly-detect\n", d.n, d.n == 1 ? "" : "s");
			for (size_t i = 0; i < d.n; i++) {
				const struct lapi_decision *x = &d.v[i];
				fmt_time(x->until_ns, t1, sizeof(t1));
				buf_addf(&o, "  %-5s  %-39s  until %s  id %lld  "
				    "%s\n", x->scope, x->value, t1,
				    (long long)x->id, x->scenario);
			}
		}
	}
	fwrite(o.p, 1, o.len, stdout);
	fflush(stdout);
	rc = (b->st.lapi_url != NULL && !lapi_ok) ? 1 : 0;
out:
	if (have_lapi)
		lapi_release(&l);
	lapi_decisions_release(&d);
	state_release(&s);
	buf_release(&o);
	return rc;
}

int
cmd_bans(int argc, char **argv)
{
	struct bans_opts b;
	int i, rc = 2;

	memset(&b, 0, sizeof(b));
	settings_init(&b.st);
	i = bans_parse(&b, argc, argv);
	if (i == -2)
		rc = 0;
	if (i < 0)
		goto out;
	if (i >= argc || strcmp(argv[i], "list") != 0 || i + 1 != argc) {
		log_warnx("bans: want \"bans list\"");
		bans_usage(stderr);
		goto out;
	}
	rc = bans_list(&b);
out:
	settings_release(&b.st);
	return rc;
}

int
cmd_unban(int argc, char **argv)
{
	struct bans_opts b;
	struct state s;
	struct lapi l;
	struct audit *audit = NULL;
	char err[1024], def[4096], canon[LAPI_VALUE_MAX];
	const char *path, *scope;
	int64_t deleted = 0, now = clock_wall_ns();
	int i, rc = 2, have_lapi = 0, removed;

	memset(&b, 0, sizeof(b));
	settings_init(&b.st);
	state_init(&s);
	i = bans_parse(&b, argc, argv);
	if (i == -2)
		rc = 0;
	if (i < 0)
		goto out;
	if (i + 1 != argc) {
		log_warnx("unban: want one VALUE (an address or range)");
		bans_usage(stderr);
		goto out;
	}
	if (state_canon(argv[i], canon, sizeof(canon), &scope, err,
	    sizeof(err)) != 0) {
		log_warnx("unban: %s", err);
		goto out;
	}
	if (b.st.lapi_url == NULL) {
		log_warnx("unban: LAPI not configured (lapi_url, lapi_machine, "
		    "lapi_password_file): unban always removes the decision "
		    "in LAPI first, there is no dry-run");
		goto out;
	}
	rc = 1;
	if (ban_lapi_open(&b.st, &l, err, sizeof(err)) != 0) {
		log_warnx("unban: %s", err);
		goto out;
	}
	have_lapi = 1;
	if (b.st.audit_file != NULL) {
		audit = audit_open(strcmp(b.st.audit_file, "-") == 0 ?
		    "/dev/stderr" : b.st.audit_file, err, sizeof(err));
		if (audit == NULL) {
			log_warnx("unban: %s", err);
			goto out;
		}
		audit_add_secret(audit, l.o.password);
	}
	if (lapi_delete_decisions(&l, canon, &deleted, err,
	    sizeof(err)) != 0) {
		char aerr[256];
		log_warnx("unban %s: %s", canon, err);
		audit_eventf(audit, "unban", aerr, sizeof(aerr),
		    "{s:s,s:s,s:o}", "value", canon, "outcome", "failed",
		    "error", audit_str(err, strlen(err)));
		goto out;
	}
	/* LAPI no longer has it: now our record goes. */
	path = state_path(&b.st, def, sizeof(def), err, sizeof(err));
	if (path == NULL || state_lock(&s, path, err, sizeof(err)) != 0 ||
	    state_load(&s, path, now, err, sizeof(err)) != 0) {
		log_warnx("unban %s: deleted %lld decision(s) in LAPI, but the "
		    "state entry stays: %s", canon, (long long)deleted, err);
		goto out;
	}
	removed = state_remove(&s, canon);
	if (removed && state_save(&s, now, err, sizeof(err)) != 0) {
		log_warnx("unban %s: state: %s", canon, err);
		goto out;
	}
	if (audit != NULL) {
		char aerr[256];
		audit_eventf(audit, "unban", aerr, sizeof(aerr),
		    "{s:s,s:s,s:s,s:I,s:b}", "value", canon, "scope", scope,
		    "outcome", "done", "deleted", (json_int_t)deleted,
		    "state_removed", removed);
	}
	if (b.json)
		printf("{\"value\":\"%s\",\"scope\":\"%s\",\"deleted\":%lld,"
		    "\"state_removed\":%s}\n", canon, scope, (long long)deleted,
		    removed ? "true" : "false");
	else
		printf("unbanned %s: %lld decision(s) deleted in LAPI, state "
		    "entry %s\n", canon, (long long)deleted, removed ?
		    "removed" : "was not there");
	rc = 0;
out:
	if (audit != NULL)
		audit_close(audit);
	if (have_lapi)
		lapi_release(&l);
	state_release(&s);
	settings_release(&b.st);
	return rc;
}
