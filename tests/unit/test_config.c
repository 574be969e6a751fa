/* config.c and options.c: syntax, quoting, every error collected. */
#include "testutil.h"

static char *
write_tmp(const char *text)
{
	char *path = xstrdup("/tmp/adcfgXXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void
test_parse(void **state)
{
	struct config c;
	struct buf errs = BUF_INIT;
	(void)state;
	char *p = write_tmp(
	    "# comment\n"
	    "format = nginx   # trailing comment\n"
	    "log_format = '$remote_addr [$time_local] \"$request\" $status'\n"
	    "trusted_proxy = 10.0.0.0/8\r\n"
	    "trusted_proxy = \"2001:db8::/32\"\n"
	    "json_field = \"a\\\"b\"\n"
	    "\n");
	config_init(&c);
	assert_int_equal(config_load(&c, p, &errs), 0);
	assert_int_equal(c.n, 5);
	assert_string_equal(config_get(&c, "format")->value, "nginx");
	assert_string_equal(config_get(&c, "log_format")->value,
	    "$remote_addr [$time_local] \"$request\" $status");
	assert_string_equal(config_get(&c, "trusted_proxy")->value, "2001:db8::/32");
	assert_int_equal(config_get(&c, "trusted_proxy")->line, 5);
	assert_string_equal(config_get(&c, "json_field")->value, "a\"b");
	assert_null(config_get(&c, "nope"));
	config_release(&c);
	buf_release(&errs);
	unlink(p);
	free(p);
}

static void
test_errors_collected(void **state)
{
	struct config c;
	struct buf errs = BUF_INIT;
	(void)state;
	char *p = write_tmp("format nginx\n= x\nlog_format = 'open\nok = 1\n"
	    "x = \"a\" junk\n");
	config_init(&c);
	assert_int_equal(config_load(&c, p, &errs), -1);
	char want[512];
	snprintf(want, sizeof(want), "%s:1: expected '='", p);
	assert_non_null(strstr(errs.p, want));
	snprintf(want, sizeof(want), "%s:2: expected a setting name", p);
	assert_non_null(strstr(errs.p, want));
	snprintf(want, sizeof(want), "%s:3: unterminated ' quote", p);
	assert_non_null(strstr(errs.p, want));
	snprintf(want, sizeof(want), "%s:5: unexpected text", p);
	assert_non_null(strstr(errs.p, want));
	/* the good line was still read */
	assert_non_null(config_get(&c, "ok"));
	config_release(&c);
	buf_release(&errs);
	unlink(p);
	free(p);
}

static void
test_settings(void **state)
{
	struct settings st;
	struct buf errs = BUF_INIT;
	(void)state;
	char *p = write_tmp("format = traefik\ntrusted_proxy = 10.0.0.1/8\n"
	    "max_memory = lots\nretention = 15m\nfrobnicate = 1\n"
	    "window = 15m\n");
	settings_init(&st);
	assert_int_equal(settings_load_config(&st, p, &errs), -1);
	char want[512];
	snprintf(want, sizeof(want), "%s:2: trusted_proxy:", p);
	assert_non_null(strstr(errs.p, want));
	snprintf(want, sizeof(want), "%s:3: max_memory:", p);
	assert_non_null(strstr(errs.p, want));
	snprintf(want, sizeof(want), "%s:5: unknown setting \"frobnicate\"", p);
	assert_non_null(strstr(errs.p, want));
	assert_null(strstr(errs.p, ":6:"));
	assert_int_equal(st.load.parse.fmt, FMT_TRAEFIK);
	assert_true(st.store.retention_ns == 900LL * 1000000000LL);
	settings_release(&st);
	buf_release(&errs);
	unlink(p);
	free(p);
}

/* The model's settings and the analyst choice: values kept, bad ones
 * named with their line, defaults left alone when absent. */
static void
test_settings_agent(void **state)
{
	struct settings st;
	struct buf errs = BUF_INIT;
	char want[512];
	(void)state;
	char *p = write_tmp("analyst = llm\nllm_timeout = 90s\n"
	    "llm_connect_timeout = 2s\nllm_retries = 0\n"
	    "llm_retries = 11\nllm_timeout = 10ms\nanalyst = maybe\n");
	settings_init(&st);
	assert_int_equal(st.llm_retries, -1);
	assert_null(st.analyst_kind);
	assert_int_equal(settings_load_config(&st, p, &errs), -1);
	snprintf(want, sizeof(want), "%s:5: llm_retries:", p);
	assert_non_null(strstr(errs.p, want));
	snprintf(want, sizeof(want), "%s:6: llm_timeout:", p);
	assert_non_null(strstr(errs.p, want));
	snprintf(want, sizeof(want), "%s:7: analyst:", p);
	assert_non_null(strstr(errs.p, want));
	assert_null(strstr(errs.p, ":1:"));
	assert_null(strstr(errs.p, ":4:"));
	assert_string_equal(st.analyst_kind, "llm");
	assert_true(st.llm_timeout_ns == 90LL * 1000000000LL);
	assert_true(st.llm_connect_timeout_ns == 2LL * 1000000000LL);
	assert_int_equal(st.llm_retries, 0);
	settings_release(&st);
	buf_release(&errs);
	unlink(p);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_errors_collected),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_settings_agent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
