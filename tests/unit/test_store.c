/* store.c: columns hold what was appended; order, retention, memory cap. */
#include "testutil.h"

#define SEC 1000000000LL

static void
mkrec(struct logrec *r, int64_t t, const char *uri, int status)
{
	logrec_clear(r);
	r->time_ns = t;
	r->method = SPAN_LIT("GET");
	r->uri = span_str(uri);
	r->status = status;
	r->user_agent = SPAN_LIT("curl/8");
	r->body_bytes = 123;
	r->request_time_ns = 43000000;
}

static void
addr(const char *s, struct ipaddr *a)
{
	assert_int_equal(ipaddr_parse(span_str(s), a), 0);
}

static void
test_append_and_values(void **state)
{
	struct store s;
	struct logrec r;
	struct ipaddr peer, cli;
	char tmp[64];
	(void)state;
	store_init(&s, NULL);
	addr("10.0.0.2", &peer);
	addr("2001:db8::1", &cli);
	mkrec(&r, 1763629200 * SEC + 297877000, "/a?b=1", 404);
	r.xff = SPAN_LIT("2001:db8::1");
	store_append(&s, &r, &cli, &peer);
	mkrec(&r, 1763629201 * SEC, "/b", 200);
	r.body_bytes = -1;
	r.request_time_ns = -1;
	store_append(&s, &r, &peer, &peer);
	store_finish(&s);
	assert_int_equal(s.rows, 2);
	const struct store_block *b = s.blocks[0];
	assert_span_equal(store_value(&s, b, 0, F_TIME, tmp, sizeof(tmp)),
	    "2025-11-20T09:00:00.297877Z");
	assert_span_equal(store_value(&s, b, 0, F_CLIENT_IP, tmp, sizeof(tmp)),
	    "2001:db8::1");
	assert_span_equal(store_value(&s, b, 0, F_REMOTE_ADDR, tmp, sizeof(tmp)),
	    "10.0.0.2");
	assert_span_equal(store_value(&s, b, 0, F_URI, tmp, sizeof(tmp)), "/a?b=1");
	assert_span_equal(store_value(&s, b, 0, F_STATUS, tmp, sizeof(tmp)), "404");
	assert_span_equal(store_value(&s, b, 0, F_BYTES, tmp, sizeof(tmp)), "123");
	assert_span_equal(store_value(&s, b, 0, F_REQTIME, tmp, sizeof(tmp)), "0.043");
	assert_span_equal(store_value(&s, b, 0, F_XFF, tmp, sizeof(tmp)), "2001:db8::1");
	assert_span_equal(store_value(&s, b, 1, F_BYTES, tmp, sizeof(tmp)), "");
	assert_span_equal(store_value(&s, b, 1, F_REQTIME, tmp, sizeof(tmp)), "");
	assert_span_equal(store_value(&s, b, 1, F_CLIENT_IP, tmp, sizeof(tmp)),
	    "10.0.0.2");
	/* same client text, same id */
	assert_int_equal(b->client_ip[1], b->remote_addr[0]);
	assert_int_equal(field_lookup(SPAN_LIT("http_user_agent")), F_UA);
	assert_int_equal(field_lookup(SPAN_LIT("nope")), -1);
	store_release(&s);
}

static void
test_sorts_out_of_order(void **state)
{
	struct store s;
	struct logrec r;
	struct ipaddr a;
	char uri[32];
	(void)state;
	store_init(&s, NULL);
	addr("192.0.2.1", &a);
	/* 150k rows (three blocks), time descending, uri names the time */
	for (int i = 150000; i > 0; i--) {
		snprintf(uri, sizeof(uri), "/%d", i);
		mkrec(&r, (int64_t)i * SEC, uri, 200);
		store_append(&s, &r, &a, &a);
	}
	assert_false(s.sorted);
	store_finish(&s);
	assert_true(s.sorted);
	assert_int_equal(s.rows, 150000);
	int64_t prev = INT64_MIN;
	size_t seen = 0;
	for (size_t bi = 0; bi < s.nblocks; bi++) {
		const struct store_block *b = s.blocks[bi];
		for (size_t i = 0; i < b->n; i++) {
			assert_true(b->time_ns[i] >= prev);
			prev = b->time_ns[i];
			char want[32];
			snprintf(want, sizeof(want), "/%lld",
			    (long long)(b->time_ns[i] / SEC));
			assert_span_equal(intern_get(&s.pool_uri, b->uri[i]), want);
			seen++;
		}
	}
	assert_int_equal(seen, 150000);
	assert_true(s.tmin == 1 * SEC && s.tmax == 150000 * SEC);
	store_release(&s);
}

static void
test_retention(void **state)
{
	struct store s;
	struct store_opts o = { 0, 60 * SEC };
	struct logrec r;
	struct ipaddr a;
	(void)state;
	store_init(&s, &o);
	addr("192.0.2.1", &a);
	for (int i = 0; i < 100000; i++) {
		mkrec(&r, 1000 * SEC + (int64_t)i * (SEC / 100), "/", 200);
		store_append(&s, &r, &a, &a);
	}
	store_finish(&s);
	/* newest at 1000s + 999.99s; keep [newest-60s, newest] */
	assert_int_equal(s.rows, 6001);
	assert_int_equal(s.dropped_retention, 100000 - 6001);
	assert_true(s.tmax - s.tmin == 60 * SEC);
	store_release(&s);
}

static void
test_memory_cap(void **state)
{
	struct store s;
	struct store_opts o = { 8u << 20, 0 };
	struct logrec r;
	struct ipaddr a;
	(void)state;
	store_init(&s, &o);
	addr("192.0.2.1", &a);
	for (int i = 0; i < 400000; i++) {
		mkrec(&r, (int64_t)i * SEC, "/", 200);
		store_append(&s, &r, &a, &a);
	}
	store_finish(&s);
	assert_true(s.dropped_memory > 0);
	assert_int_equal(s.rows + s.dropped_memory, 400000);
	/* the newest row is always kept; the oldest went first */
	assert_true(s.tmax == 399999 * SEC);
	assert_true(s.tmin > 0);
	assert_true(s.nblocks >= 1);
	store_release(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_values),
		cmocka_unit_test(test_sorts_out_of_order),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_memory_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
