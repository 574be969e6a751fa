/* intern.c: ids are stable, equal strings share one, growth keeps all. */
#include "testutil.h"

static void
test_basic(void **state)
{
	struct intern t;
	(void)state;
	intern_init(&t);
	assert_int_equal(intern_add(&t, "", 0), 0);
	uint32_t a = intern_add(&t, "alpha", 5);
	uint32_t b = intern_add(&t, "beta", 4);
	assert_int_not_equal(a, b);
	assert_int_equal(intern_add(&t, "alpha", 5), a);
	assert_int_equal(intern_find(&t, "beta", 4), b);
	assert_int_equal(intern_find(&t, "gamma", 5), UINT32_MAX);
	assert_span_equal(intern_get(&t, a), "alpha");
	assert_span_equal(intern_get(&t, 0), "");
	assert_span_equal(intern_get(&t, 9999), "");
	/* embedded NUL and prefixes are distinct strings */
	uint32_t c = intern_add(&t, "al\0pha", 6);
	assert_int_not_equal(c, a);
	assert_int_not_equal(intern_add(&t, "alph", 4), a);
	assert_int_equal(intern_count(&t), 5);
	intern_release(&t);
}

static void
test_many(void **state)
{
	struct intern t;
	char s[64];
	(void)state;
	intern_init(&t);
	for (int i = 0; i < 200000; i++) {
		int n = snprintf(s, sizeof(s), "/path/%d?x=%d", i, i * 7);
		assert_int_equal(intern_add(&t, s, (size_t)n), (uint32_t)i + 1);
	}
	for (int i = 0; i < 200000; i += 997) {
		int n = snprintf(s, sizeof(s), "/path/%d?x=%d", i, i * 7);
		assert_int_equal(intern_find(&t, s, (size_t)n), (uint32_t)i + 1);
		struct span sp = intern_get(&t, (uint32_t)i + 1);
		assert_int_equal(sp.n, (size_t)n);
		assert_memory_equal(sp.p, s, (size_t)n);
	}
	assert_true(intern_memory(&t) > 200000 * 10);
	intern_release(&t);
}

static void
test_long_string_cut(void **state)
{
	struct intern t;
	(void)state;
	size_t n = INTERN_MAX_LEN + 100;
	char *big = xmalloc(n);
	memset(big, 'x', n);
	intern_init(&t);
	uint32_t id = intern_add(&t, big, n);
	assert_int_equal(intern_get(&t, id).n, INTERN_MAX_LEN);
	/* the same prefix finds the same id */
	assert_int_equal(intern_add(&t, big, INTERN_MAX_LEN), id);
	intern_release(&t);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_long_string_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
