/*
 * The audit trail: valid JSON lines, redaction, append-only files and
 * concurrent writers that never mix records.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>

#include <jansson.h>

#include "testutil.h"

static char apath[256];

static int
setup(void **unused)
{
	char dir[] = "/tmp/test_audit.XXXXXX";

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(apath, sizeof(apath), "%s/audit.jsonl", dir);
	return 0;
}

static int
teardown(void **unused)
{
	char *slash;

	unlink(apath);
	slash = strrchr(apath, '/');
	*slash = '\0';
	rmdir(apath);
	return 0;
}

static char *
slurp(size_t *n)
{
	FILE *f = fopen(apath, "rb");
	size_t cap = 1 << 20, len = 0, r;
	char *p = xmalloc(cap);

	assert_non_null(f);
	while ((r = fread(p + len, 1, cap - len - 1, f)) > 0) {
		len += r;
		if (cap - len < 4096) {
			cap *= 2;
			p = xrealloc(p, cap);
		}
	}
	fclose(f);
	p[len] = '\0';
	*n = len;
	return p;
}

/* Every line parsed; the count returned, the lines in *out (array). */
static size_t
lines(json_t **out)
{
	size_t n, count = 0;
	char *data = slurp(&n), *p = data, *nl;
	json_t *arr = json_array();

	assert_true(n == 0 || data[n - 1] == '\n');
	while ((nl = memchr(p, '\n', (size_t)(data + n - p))) != NULL) {
		json_error_t je;
		json_t *v = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL,
		    &je);
		if (v == NULL)
			fail_msg("line %zu is not JSON: %s", count + 1, je.text);
		assert_true(json_is_object(v));
		json_array_append_new(arr, v);
		count++;
		p = nl + 1;
	}
	free(data);
	*out = arr;
	return count;
}

static const char *
sget(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void
test_basic(void **unused)
{
	struct audit *a;
	json_t *all, *r, *f;
	char err[256];
	struct stat sb;
	int64_t ts;
	static const char badua[] = "bad \xff\xfe ua\n\x1b[31m";

	a = audit_open(apath, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(stat(apath, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	audit_set_cycle(a, "c-1");
	assert_int_equal(audit_eventf(a, "query", err, sizeof(err),
	    "{s:s, s:I, s:b}", "logsql", "status:404 | stats by (ip) count()",
	    "rows", (json_int_t)42, "cut", 0), 0);
	f = json_pack("{s:s, s:s, s:i}", "ts", "fake", "event", "fake",
	    "score", 7);
	assert_int_equal(audit_event(a, "finding", f, err, sizeof(err)), 0);
	json_decref(f);
	audit_set_cycle(a, NULL);
	assert_int_equal(audit_event(a, "cycle_end", NULL, err,
	    sizeof(err)), 0);
	/* Outside text: invalid UTF-8 and control bytes stay valid JSON. */
	assert_int_equal(audit_eventf(a, "verdict", err, sizeof(err),
	    "{s:o, s:o}", "ua", audit_str(badua, sizeof(badua) - 1),
	    "path", audit_str("/a\0b", 4)), 0);
	/* Builder errors are reported and still leave a record. */
	assert_int_equal(audit_eventf(a, "lapi", err, sizeof(err),
	    "{s:s}", "raw", "\xc3\x28"), -1);
	assert_non_null(strstr(err, "lapi"));
	audit_close(a);

	assert_int_equal(lines(&all), 5);
	r = json_array_get(all, 0);
	assert_string_equal(sget(r, "event"), "query");
	assert_string_equal(sget(r, "cycle"), "c-1");
	assert_int_equal(time_parse_rfc3339(span_str(sget(r, "ts")), &ts), 0);
	assert_true(ts > clock_wall_ns() - INT64_C(60000000000));
	assert_int_equal(json_integer_value(json_object_get(r, "rows")), 42);
	assert_true(json_is_false(json_object_get(r, "cut")));
	/* The header keys come first. */
	void *it = json_object_iter(r);
	assert_string_equal(json_object_iter_key(it), "ts");
	it = json_object_iter_next(r, it);
	assert_string_equal(json_object_iter_key(it), "cycle");
	it = json_object_iter_next(r, it);
	assert_string_equal(json_object_iter_key(it), "event");

	r = json_array_get(all, 1);
	assert_string_equal(sget(r, "event"), "finding");
	assert_string_equal(sget(r, "_event"), "fake");
	assert_string_equal(sget(r, "_ts"), "fake");
	assert_int_equal(json_integer_value(json_object_get(r, "score")), 7);

	r = json_array_get(all, 2);
	assert_true(json_is_null(json_object_get(r, "cycle")));

	r = json_array_get(all, 3);
	assert_string_equal(sget(r, "ua"), "bad \\xff\\xfe ua\\x0a\\x1b[31m");
	assert_int_equal(json_string_length(json_object_get(r, "path")), 4);

	r = json_array_get(all, 4);
	assert_string_equal(sget(r, "event"), "lapi");
	assert_non_null(sget(r, "audit_error"));
	json_decref(all);
}

static void
test_redaction(void **unused)
{
	struct audit *a;
	json_t *all, *r, *f;
	char err[256];
	size_t n;
	char *raw;

	assert_true(audit_key_is_secret("password"));
	assert_true(audit_key_is_secret("Password"));
	assert_true(audit_key_is_secret("TOKEN"));
	assert_true(audit_key_is_secret("api_key"));
	assert_true(audit_key_is_secret("X-Api-Key"));
	assert_true(audit_key_is_secret("Authorization"));
	assert_true(audit_key_is_secret("lapi_password"));
	assert_true(audit_key_is_secret("bearer_token"));
	assert_false(audit_key_is_secret("input_tokens"));
	assert_false(audit_key_is_secret("tokens"));
	assert_false(audit_key_is_secret("passes"));
	assert_false(audit_key_is_secret("key"));
	assert_false(audit_key_is_secret(""));

	a = audit_open(apath, err, sizeof(err));
	assert_non_null(a);
	audit_add_secret(a, "hunter2-s3cr3t");
	audit_add_secret(a, "");
	audit_add_secret(a, NULL);
	f = json_pack("{s:s, s:s, s:{s:s, s:[{s:s}, s]}, s:i, s:o, s:s, s:s}",
	    "password", "pw-value-1",
	    "Token", "tok-value-2",
	    "request", "Authorization", "Bearer tok-value-3",
	    "nested", "api-key", "key-value-4", "fine",
	    "token", 12345,
	    "api_key", json_pack("{s:s}", "inner", "key-value-5"),
	    "prompt", "the password is hunter2-s3cr3t, twice: hunter2-s3cr3t",
	    "ip", "203.0.113.7");
	assert_non_null(f);
	assert_int_equal(audit_event(a, "model_turn", f, err, sizeof(err)), 0);
	/* The caller's object is not changed. */
	assert_string_equal(sget(f, "password"), "pw-value-1");
	json_decref(f);
	audit_close(a);

	raw = slurp(&n);
	for (int i = 1; i <= 5; i++) {
		char v[32];
		snprintf(v, sizeof(v), "value-%d", i);
		assert_null(strstr(raw, v));
	}
	assert_null(strstr(raw, "hunter2"));
	assert_null(strstr(raw, "12345"));
	free(raw);

	assert_int_equal(lines(&all), 1);
	r = json_array_get(all, 0);
	assert_string_equal(sget(r, "password"), "***");
	assert_string_equal(sget(r, "Token"), "***");
	assert_string_equal(sget(r, "token"), "***");
	assert_string_equal(sget(r, "api_key"), "***");
	assert_string_equal(sget(json_object_get(r, "request"),
	    "Authorization"), "***");
	json_t *nested = json_object_get(json_object_get(r, "request"),
	    "nested");
	assert_string_equal(sget(json_array_get(nested, 0), "api-key"), "***");
	assert_string_equal(json_string_value(json_array_get(nested, 1)),
	    "fine");
	assert_string_equal(sget(r, "prompt"),
	    "the password is ***, twice: ***");
	assert_string_equal(sget(r, "ip"), "203.0.113.7");
	json_decref(all);
}

static void
test_append_only(void **unused)
{
	struct audit *a;
	json_t *all;
	char err[256];
	size_t n;
	char *before, *after;

	a = audit_open(apath, err, sizeof(err));
	assert_non_null(a);
	for (int i = 0; i < 3; i++)
		assert_int_equal(audit_eventf(a, "query", err, sizeof(err),
		    "{s:i}", "i", i), 0);
	audit_close(a);
	before = slurp(&n);

	/* Reopening appends; nothing earlier is rewritten. */
	a = audit_open(apath, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(audit_eventf(a, "query", err, sizeof(err),
	    "{s:i}", "i", 3), 0);
	audit_close(a);
	after = slurp(&n);
	assert_memory_equal(before, after, strlen(before));
	assert_true(strlen(after) > strlen(before));
	free(before);
	free(after);
	assert_int_equal(lines(&all), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(json_integer_value(json_object_get(
		    json_array_get(all, (size_t)i), "i")), i);
	json_decref(all);

	/* Another writer grew the file after we opened it: our next
	 * record still goes after its line, not over it. */
	a = audit_open(apath, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(audit_eventf(a, "query", err, sizeof(err),
	    "{s:i}", "i", 4), 0);
	int fd = open(apath, O_WRONLY);
	assert_true(fd >= 0);
	assert_true(lseek(fd, 0, SEEK_END) > 0);
	assert_int_equal(write(fd, "{\"i\":5}\n", 8), 8);
	close(fd);
	assert_int_equal(audit_eventf(a, "query", err, sizeof(err),
	    "{s:i}", "i", 6), 0);
	audit_close(a);
	assert_int_equal(lines(&all), 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(json_integer_value(json_object_get(
		    json_array_get(all, (size_t)i), "i")), i);
	json_decref(all);

	/* Unwritable places are reported, not ignored. */
	assert_null(audit_open("/nonexistent-dir/x/audit", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent-dir/x/audit"));
	assert_null(audit_open("", err, sizeof(err)));
	/* NULL audit: a no-op. */
	assert_int_equal(audit_event(NULL, "x", NULL, err, sizeof(err)), 0);
}

static void
test_big_record(void **unused)
{
	struct audit *a;
	json_t *all, *r;
	char err[256];
	char *big = xmalloc(AUDIT_RECORD_MAX + 10);

	memset(big, 'a', AUDIT_RECORD_MAX + 9);
	big[AUDIT_RECORD_MAX + 9] = '\0';
	a = audit_open(apath, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(audit_eventf(a, "model_turn", err, sizeof(err),
	    "{s:s}", "text", big), 0);
	audit_close(a);
	free(big);
	assert_int_equal(lines(&all), 1);
	r = json_array_get(all, 0);
	assert_true(json_is_true(json_object_get(r, "truncated")));
	assert_true(json_integer_value(json_object_get(r, "bytes")) >
	    AUDIT_RECORD_MAX);
	assert_null(json_object_get(r, "text"));
	json_decref(all);
}

#define WRITERS 2
#define RECORDS 1000

static void
test_concurrent(void **unused)
{
	pid_t pids[WRITERS];
	json_t *all;
	int seen[WRITERS][RECORDS];
	/* Records bigger than PIPE_BUF, so only O_APPEND keeps them whole. */
	char pad[6000];

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	memset(seen, 0, sizeof(seen));
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0) {
			char e[256];
			struct audit *a = audit_open(apath, e, sizeof(e));
			if (a == NULL)
				_exit(2);
			for (int i = 0; i < RECORDS; i++)
				if (audit_eventf(a, "finding", e, sizeof(e),
				    "{s:i, s:i, s:s}", "writer", w, "seq", i,
				    "pad", pad + (i % 97)) != 0)
					_exit(3);
			audit_close(a);
			_exit(0);
		}
	}
	for (int w = 0; w < WRITERS; w++) {
		int status;
		assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(lines(&all), WRITERS * RECORDS);
	for (size_t i = 0; i < json_array_size(all); i++) {
		json_t *r = json_array_get(all, i);
		json_int_t w = json_integer_value(json_object_get(r, "writer"));
		json_int_t s = json_integer_value(json_object_get(r, "seq"));
		assert_true(w >= 0 && w < WRITERS && s >= 0 && s < RECORDS);
		assert_int_equal(strlen(sget(r, "pad")),
		    sizeof(pad) - 1 - (size_t)(s % 97));
		seen[w][s]++;
	}
	for (int w = 0; w < WRITERS; w++)
		for (int i = 0; i < RECORDS; i++)
			assert_int_equal(seen[w][i], 1);
	json_decref(all);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_only, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_big_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	};

	log_init("test_audit", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
