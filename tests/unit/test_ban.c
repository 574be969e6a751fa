/* ban.c: the mode, the password file, the ban settings, and the pipeline
 * on proposals the guard refuses (no LAPI needed: nothing may reach it). */
#include "testutil.h"

#include <sys/stat.h>

static char tmpdir[] = "/tmp/test_ban.XXXXXX";

static int
setup_dir(void **st)
{
	(void)st;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_dir(void **st)
{
	char cmd[128];

	(void)st;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void
test_mode(void **state)
{
	struct settings st;
	char err[256];

	(void)state;
	settings_init(&st);
	unsetenv("DRY_RUN");
	assert_int_equal(ban_mode(&st, -1, err, sizeof(err)), 0);
	assert_int_equal(ban_mode(&st, 1, err, sizeof(err)), 1);
	assert_int_equal(settings_set(&st, "dry_run", "false", err,
	    sizeof(err)), 0);
	assert_int_equal(ban_mode(&st, -1, err, sizeof(err)), 1);
	assert_int_equal(ban_mode(&st, 0, err, sizeof(err)), 0);
	assert_int_equal(settings_set(&st, "dry_run", "true", err,
	    sizeof(err)), 0);
	setenv("DRY_RUN", "0", 1);
	assert_int_equal(ban_mode(&st, -1, err, sizeof(err)), 1);
	setenv("DRY_RUN", "1", 1);
	st.dry_run = 0;
	assert_int_equal(ban_mode(&st, -1, err, sizeof(err)), 0);
	setenv("DRY_RUN", "perhaps", 1);
	assert_int_equal(ban_mode(&st, -1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "DRY_RUN"));
	assert_int_equal(ban_mode(&st, 0, err, sizeof(err)), 0);
	unsetenv("DRY_RUN");
	assert_int_equal(settings_set(&st, "dry_run", "maybe", err,
	    sizeof(err)), -1);
	settings_release(&st);
}

static void
test_password(void **state)
{
	struct settings st;
	char path[256], err[512], *pw;

	(void)state;
	settings_init(&st);
	unsetenv("LAPI_PASSWORD");
	pw = ban_read_password(&st, err, sizeof(err));
	assert_null(pw);
	assert_non_null(strstr(err, "LAPI_PASSWORD"));
	setenv("LAPI_PASSWORD", "from-env", 1);
	pw = ban_read_password(&st, err, sizeof(err));
	assert_string_equal(pw, "from-env");
	free(pw);

	snprintf(path, sizeof(path), "%s/pw", tmpdir);
	write_file(path, "s3cret-pass\nsecond line\n", 0600);
	assert_int_equal(settings_set(&st, "lapi_password_file", path, err,
	    sizeof(err)), 0);
	pw = ban_read_password(&st, err, sizeof(err));
	assert_string_equal(pw, "s3cret-pass"); /* the file wins over env */
	free(pw);

	chmod(path, 0640);
	pw = ban_read_password(&st, err, sizeof(err));
	assert_null(pw);
	assert_non_null(strstr(err, "group or others"));
	assert_null(strstr(err, "s3cret"));
	chmod(path, 0604);
	assert_null(ban_read_password(&st, err, sizeof(err)));

	write_file(path, "\n", 0600);
	assert_null(ban_read_password(&st, err, sizeof(err)));
	assert_non_null(strstr(err, "empty"));

	snprintf(path, sizeof(path), "%s/absent", tmpdir);
	settings_set(&st, "lapi_password_file", path, err, sizeof(err));
	assert_null(ban_read_password(&st, err, sizeof(err)));
	unsetenv("LAPI_PASSWORD");
	settings_release(&st);
}

static void
test_settings(void **state)
{
	struct settings st;
	char err[512];

	(void)state;
	settings_init(&st);
	assert_true(st.ban_duration_ns == BAN_DURATION_DEFAULT);
	assert_true(st.window_ns == BAN_WINDOW_DEFAULT);
	assert_true(st.interval_ns == BAN_INTERVAL_DEFAULT);
	assert_int_equal(settings_set(&st, "ban_duration", "1h30m", err,
	    sizeof(err)), 0);
	assert_true(st.ban_duration_ns == 5400 * INT64_C(1000000000));
	assert_int_equal(settings_set(&st, "ban_duration", "0s", err,
	    sizeof(err)), -1);
	assert_int_equal(settings_set(&st, "ban_duration", "soon", err,
	    sizeof(err)), -1);
	assert_int_equal(settings_set(&st, "window", "5m", err,
	    sizeof(err)), 0);
	assert_true(st.window_ns == 300 * INT64_C(1000000000));
	assert_int_equal(settings_set(&st, "interval", "1x", err,
	    sizeof(err)), -1);
	assert_int_equal(settings_set(&st, "lapi_url", "ftp://x", err,
	    sizeof(err)), -1);
	assert_int_equal(settings_set(&st, "guard_allow", "10.0.0.1/8", err,
	    sizeof(err)), -1);
	assert_int_equal(settings_set(&st, "guard_allow", "198.51.100.0/24",
	    err, sizeof(err)), 0);
	assert_int_equal((int)st.guard->allow.n, 1);
	assert_int_equal(settings_set(&st, "guard_max_per_cycle", "-1", err,
	    sizeof(err)), -1);
	assert_int_equal(settings_set(&st, "guard_max_per_hour", "7", err,
	    sizeof(err)), 0);
	assert_int_equal((int)st.guard->max_per_hour, 7);
	assert_int_equal(settings_set(&st, "input", "/a", err, sizeof(err)), 0);
	assert_int_equal(settings_set(&st, "input", "/b", err, sizeof(err)), 0);
	assert_int_equal((int)st.ninputs, 2);
	assert_int_equal(settings_set(&st, "follow", "yes", err,
	    sizeof(err)), 0);
	assert_int_equal(st.follow, 1);
	assert_int_equal(settings_set(&st, "lapi_retries", "11", err,
	    sizeof(err)), -1);
	settings_release(&st);
}

/* Refused proposals never reach LAPI: apply mode with no LAPI at all
 * must not crash and must not count anything as banned. */
static void
test_pipeline_refusals(void **state)
{
	struct guard_config gc;
	struct guard g;
	struct store s;
	struct source src;
	struct report rep;
	struct ban_results br;
	struct ban_ctx c;
	struct buf o = BUF_INIT;
	struct finding *f;
	int64_t now = INT64_C(1795683600) * 1000000000;

	(void)state;
	guard_config_init(&gc);
	gc.verify_crawlers = 0;
	gc.check_own_addresses = 0;
	guard_init(&g, &gc, NULL, NULL);
	store_init(&s, NULL);
	memset(&src, 0, sizeof(src));
	src.store = &s;
	src.now_ns = now;
	report_init(&rep);
	ban_results_init(&br);
	f = report_add_finding(&rep, "anomaly-detect/http-probing", 80, "x");
	finding_member(f, "10.1.2.3");
	finding_member(f, "203.0.113.5");      /* the logs never saw it */
	finding_member(f, "10.1.2.3");         /* proposed once */
	finding_sentence(f, "probing");
	memset(&c, 0, sizeof(c));
	c.apply = 1;
	c.guard = &g;
	c.src = &src;
	c.start_ns = now - 900 * INT64_C(1000000000);
	c.end_ns = now;
	c.now_ns = now;
	c.duration_ns = BAN_DURATION_DEFAULT;
	assert_int_equal((int)ban_report(&c, &rep, &br), 0);
	assert_int_equal((int)br.n, 2);
	assert_int_equal((int)br.refused, 2);
	assert_int_equal((int)br.banned, 0);
	assert_string_equal(br.v[0].value, "10.1.2.3");
	assert_string_equal(br.v[0].verdict, "refused");
	assert_string_equal(br.v[0].code, "special-address");
	assert_string_equal(br.v[1].verdict, "refused");
	assert_string_equal(br.v[1].code, "no-evidence");
	ban_results_json(&br, &o);
	assert_non_null(strstr(o.p, "\"verdict\":\"refused\""));
	assert_non_null(strstr(o.p, "\"refused\":2"));
	buf_release(&o);
	ban_results_release(&br);
	report_release(&rep);
	store_release(&s);
	guard_release(&g);
	guard_config_release(&gc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_pipeline_refusals),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
