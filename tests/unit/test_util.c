/* util.c: buffers, escaping, strict number, size and duration parsing. */
#include "testutil.h"

static void
test_buf_grows(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;
	for (int i = 0; i < 1000; i++)
		buf_addf(&b, "%d,", i);
	assert_int_equal(b.len, strlen(b.p));
	assert_memory_equal(b.p, "0,1,2,", 6);
	assert_string_equal(b.p + b.len - 4, "999,");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.p, "");
	buf_release(&b);
}

static void
test_escaped(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;
	/* control, backslash, valid UTF-8, invalid byte, truncated seq, C1 */
	const char in[] = "a\x1b[31m\\ \xc3\xa9 \xff \xe2\x82 \xc2\x85";
	buf_add_escaped(&b, in, sizeof(in) - 1);
	assert_string_equal(b.p,
	    "a\\x1b[31m\\\\ \xc3\xa9 \\xff \\xe2\\x82 \\xc2\\x85");
	buf_release(&b);
}

static void
test_json_str(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;
	const char in[] = "q\"b\\n\n\x01\xf0\x9f\x98\x80\xc0\xaf";
	buf_add_json_str(&b, in, sizeof(in) - 1);
	assert_string_equal(b.p,
	    "\"q\\\"b\\\\n\\n\\u0001\xf0\x9f\x98\x80\\\\xc0\\\\xaf\"");
	buf_release(&b);
}

static void
test_numbers(void **state)
{
	uint64_t u;
	int64_t i;
	(void)state;
	assert_int_equal(parse_u64(SPAN_LIT("18446744073709551615"), &u), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(parse_u64(SPAN_LIT("18446744073709551616"), &u), -1);
	assert_int_equal(parse_u64(SPAN_LIT(""), &u), -1);
	assert_int_equal(parse_u64(SPAN_LIT("12a"), &u), -1);
	assert_int_equal(parse_u64(SPAN_LIT(" 1"), &u), -1);
	assert_int_equal(parse_i64(SPAN_LIT("-9223372036854775808"), &i), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(parse_i64(SPAN_LIT("9223372036854775808"), &i), -1);
	assert_int_equal(parse_decimal_scaled(SPAN_LIT("0.043"), 1000000, &i), 0);
	assert_int_equal(i, 43000);
	assert_int_equal(parse_decimal_scaled(SPAN_LIT("12"), 1000, &i), 0);
	assert_int_equal(i, 12000);
	assert_int_equal(parse_decimal_scaled(SPAN_LIT("1.2345678"), 1000, &i), 0);
	assert_int_equal(i, 1234);
	assert_int_equal(parse_decimal_scaled(SPAN_LIT(".5"), 10, &i), 0);
	assert_int_equal(i, 5);
	assert_int_equal(parse_decimal_scaled(SPAN_LIT("."), 10, &i), -1);
	assert_int_equal(parse_decimal_scaled(SPAN_LIT("-1"), 10, &i), -1);
	assert_int_equal(parse_decimal_scaled(SPAN_LIT("1.2.3"), 10, &i), -1);
	assert_int_equal(parse_decimal_scaled(SPAN_LIT("99999999999999999999"), 10, &i), -1);
}

static void
test_size_duration(void **state)
{
	uint64_t u;
	int64_t ns;
	(void)state;
	assert_int_equal(parse_size(SPAN_LIT("10KiB"), &u), 0);
	assert_int_equal(u, 10240);
	assert_int_equal(parse_size(SPAN_LIT("512M"), &u), 0);
	assert_int_equal(u, 512u << 20);
	assert_int_equal(parse_size(SPAN_LIT("1_000"), &u), 0);
	assert_int_equal(u, 1000);
	assert_int_equal(parse_size(SPAN_LIT("2 GiB"), &u), 0);
	assert_true(u == 2ull << 30);
	assert_int_equal(parse_size(SPAN_LIT("12X"), &u), -1);
	assert_int_equal(parse_size(SPAN_LIT("_1"), &u), -1);
	assert_int_equal(parse_size(SPAN_LIT("99999999999T"), &u), -1);
	assert_int_equal(parse_duration(SPAN_LIT("15m"), &ns), 0);
	assert_true(ns == 900 * 1000000000LL);
	assert_int_equal(parse_duration(SPAN_LIT("1h30m"), &ns), 0);
	assert_true(ns == 5400 * 1000000000LL);
	assert_int_equal(parse_duration(SPAN_LIT("500ms"), &ns), 0);
	assert_true(ns == 500000000LL);
	assert_int_equal(parse_duration(SPAN_LIT("1.5h"), &ns), 0);
	assert_true(ns == 5400 * 1000000000LL);
	assert_int_equal(parse_duration(SPAN_LIT("15"), &ns), -1);
	assert_int_equal(parse_duration(SPAN_LIT("m"), &ns), -1);
	assert_int_equal(parse_duration(SPAN_LIT("5parsecs"), &ns), -1);
	assert_int_equal(parse_duration(SPAN_LIT("999999999999y"), &ns), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_grows),
		cmocka_unit_test(test_escaped),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_size_duration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
