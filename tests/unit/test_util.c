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

/* d scaled by 10^shift, or -1 when not a number / out of range. */
static int
dec(const char *s, int strict, int64_t shift, uint64_t *out, int *inexact)
{
	struct decimal d;

	if (parse_decimal_exp(span_str(s), strict, &d) != 0)
		return -1;
	return decimal_to_u64(&d, shift, out, inexact);
}

static void
test_decimal_exp(void **state)
{
	uint64_t v;
	int inexact;
	(void)state;

	assert_int_equal(dec("15", 1, 0, &v, &inexact), 0);
	assert_true(v == 15 && !inexact);
	assert_int_equal(dec("0.000929", 1, 9, &v, &inexact), 0);
	assert_true(v == 929000 && !inexact);
	/* the nanoseconds of a double-encoded epoch, exactly */
	assert_int_equal(dec("1.7000000001234567e+09", 1, 9, &v, &inexact), 0);
	assert_true(v == 1700000000123456700ULL && !inexact);
	assert_int_equal(dec("1.2E-3", 1, 6, &v, &inexact), 0);
	assert_true(v == 1200 && !inexact);
	/* finer digits are truncated and said so */
	assert_int_equal(dec("0.0000000015", 1, 9, &v, &inexact), 0);
	assert_true(v == 1 && inexact);
	assert_int_equal(dec("5e-30", 1, 9, &v, &inexact), 0);
	assert_true(v == 0 && inexact);
	/* zero in any spelling */
	assert_int_equal(dec("0.000e+99999999", 1, 0, &v, &inexact), 0);
	assert_true(v == 0 && !inexact);
	/* beyond 19 significant digits: magnitude kept, the rest lost */
	assert_int_equal(dec("12345678901234567891", 1, -1, &v, &inexact), 0);
	assert_true(v == 1234567890123456789ULL && inexact);
	assert_int_equal(dec("12345678901234567890", 1, -1, &v, &inexact), 0);
	assert_true(v == 1234567890123456789ULL && !inexact);
	/* overflow */
	assert_int_equal(dec("18446744073709551620", 1, 0, &v, &inexact), -1);
	assert_int_equal(dec("99999999999999999999", 1, 0, &v, &inexact), -1);
	assert_int_equal(dec("1e20", 1, 0, &v, &inexact), -1);
	/* 19 digits are kept: the 20th of UINT64_MAX is lost */
	assert_int_equal(dec("18446744073709551615", 1, 0, &v, &inexact), 0);
	assert_true(v == 18446744073709551610ULL && inexact);
	assert_int_equal(dec("9223372036854775807", 1, 0, &v, &inexact), 0);
	assert_true(v == INT64_MAX && !inexact);
	/* strictness about the point */
	assert_int_equal(dec(".5", 0, 1, &v, &inexact), 0);
	assert_true(v == 5);
	assert_int_equal(dec("5.", 0, 0, &v, &inexact), 0);
	assert_int_equal(dec(".5", 1, 1, &v, &inexact), -1);
	assert_int_equal(dec("5.", 1, 0, &v, &inexact), -1);
	/* junk */
	static const char *const bad[] = { "", ".", "-1", "+1", "1e", "1e+",
	    "1x", " 1", "1 ", "1..2", "e5", "1e5.0", "0x10", "inf", "NaN" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dec(bad[i], 0, 0, &v, &inexact), -1);
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
		cmocka_unit_test(test_decimal_exp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
