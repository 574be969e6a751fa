/*
 * jsonl_scan: the JSON grammar, edge by edge, and the shape of what the
 * callback sees (dotted keys, first array element, unescaped values).
 */
#include "testutil.h"

/* Every callback call as one text line "key|T|value", bytes below 0x20
 * and above 0x7e as \xHH so the expectations stay readable. */
struct rec {
	struct buf out;
	int calls;
	int stop_at;   /* return stop_rc on this call (1-based); 0 = never */
	int stop_rc;
	const char *line;
	size_t len;
	int copied;    /* string values pointing outside the line */
};

static void
add_bytes(struct buf *b, struct span s)
{
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c < 0x20 || c > 0x7e)
			buf_addf(b, "\\x%02x", c);
		else
			buf_addch(b, (char)c);
	}
}

static int
rec_cb(void *ctx, struct span key, enum json_type t, struct span v)
{
	struct rec *r = ctx;
	static const char tc[] = "?SNBZ";

	r->calls++;
	add_bytes(&r->out, key);
	buf_addf(&r->out, "|%c|", tc[t]);
	add_bytes(&r->out, v);
	buf_addch(&r->out, '\n');
	if (t == JT_STRING && (v.p < r->line || v.p + v.n > r->line + r->len))
		r->copied++;
	if (r->stop_at != 0 && r->calls == r->stop_at)
		return r->stop_rc;
	return 0;
}

/* Scan a copy of exactly len bytes on the heap, so that ASan catches a
 * read past the end; returns jsonl_scan's result and fills r. */
static int
scan_n(struct rec *r, const char *line, size_t len)
{
	struct buf scratch = BUF_INIT;
	char *copy = xmalloc(len);
	int rc;

	memcpy(copy, line, len);
	buf_init(&r->out);
	r->calls = 0;
	r->copied = 0;
	r->line = copy;
	r->len = len;
	rc = jsonl_scan(copy, len, &scratch, rec_cb, r);
	buf_release(&scratch);
	free(copy);
	return rc;
}

static int
scan(struct rec *r, const char *line)
{
	return scan_n(r, line, strlen(line));
}

/* Expect success and exactly this callback transcript. */
static void
expect_ok(const char *line, const char *want)
{
	struct rec r = { 0 };

	int rc = scan(&r, line);
	if (rc != 0)
		fprintf(stderr, "line: %s\n", line);
	assert_int_equal(rc, 0);
	assert_string_equal(r.out.p, want);
	buf_release(&r.out);
}

static void
expect_bad(const char *line)
{
	struct rec r = { 0 };

	int rc = scan(&r, line);
	if (rc != -1)
		fprintf(stderr, "accepted: %s\n", line);
	assert_int_equal(rc, -1);
	buf_release(&r.out);
}

static void
test_scalars(void **state)
{
	(void)state;
	expect_ok("{\"s\":\"abc\",\"n\":-12.5e3,\"t\":true,\"f\":false,"
	    "\"z\":null}",
	    "s|S|abc\nn|N|-12.5e3\nt|B|true\nf|B|false\nz|Z|null\n");
	expect_ok("{}", "");
	expect_ok("{\"e\":\"\"}", "e|S|\n");
	expect_ok("{\"\":1}", "|N|1\n");
}

static void
test_nesting_keys(void **state)
{
	(void)state;
	expect_ok("{\"request\":{\"method\":\"GET\",\"headers\":"
	    "{\"User-Agent\":\"curl\"}},\"status\":200}",
	    "request.method|S|GET\nrequest.headers.User-Agent|S|curl\n"
	    "status|N|200\n");
	/* The path is cut back after each member. */
	expect_ok("{\"a\":{\"b\":{\"c\":1},\"d\":2},\"e\":3}",
	    "a.b.c|N|1\na.d|N|2\ne|N|3\n");
	expect_ok("{\"a\":{},\"b\":{\"c\":{}},\"d\":1}", "d|N|1\n");
	/* An empty key below the top still takes its dot. */
	expect_ok("{\"\":{\"a\":1}}", ".a|N|1\n");
}

static void
test_arrays(void **state)
{
	(void)state;
	/* Caddy's header shape: first element only. */
	expect_ok("{\"request\":{\"headers\":{\"User-Agent\":[\"curl/8\","
	    "\"second\"],\"Accept\":[\"*/*\"]}}}",
	    "request.headers.User-Agent|S|curl/8\n"
	    "request.headers.Accept|S|*/*\n");
	expect_ok("{\"a\":[],\"b\":[1,2,3]}", "b|N|1\n");
	/* Objects and arrays in arrays are checked but not reported; the
	 * first scalar element stands for the array. */
	expect_ok("{\"a\":[{\"x\":1},[2,3],\"s\",4]}", "a|S|s\n");
	expect_ok("{\"a\":[{\"x\":1},{\"y\":[true]}],\"b\":null}",
	    "b|Z|null\n");
	expect_ok("{\"a\":[null,true]}", "a|Z|null\n");
	expect_ok("{\"a\" : [ 1 , 2 ] , \"b\" : [ ] }", "a|N|1\n");
	expect_bad("{\"a\":[1,]}");
	expect_bad("{\"a\":[,1]}");
	expect_bad("{\"a\":[1 2]}");
	expect_bad("{\"a\":[1}");
	expect_bad("{\"a\":[{\"x\":01}]}");
	expect_bad("{\"a\":[\"\\q\"]}"); /* unreported strings still checked */
}

static void
test_escapes(void **state)
{
	(void)state;
	expect_ok("{\"e\":\"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\t\"}",
	    "e|S|q\"b\\s/b\\x08f\\x0cn\\x0ar\\x0dt\\x09\n");
	expect_ok("{\"u\":\"\\u0041\\u00e9\\u20AC\\uFFFF\"}",
	    "u|S|A\\xc3\\xa9\\xe2\\x82\\xac\\xef\\xbf\\xbf\n");
	/* NUL inside a value: it is a span, not a C string. */
	expect_ok("{\"z\":\"a\\u0000b\"}", "z|S|a\\x00b\n");
	/* Surrogate pairs, upper and lower case hex. */
	expect_ok("{\"p\":\"\\ud83d\\ude00|\\uD834\\uDD1E\"}",
	    "p|S|\\xf0\\x9f\\x98\\x80|\\xf0\\x9d\\x84\\x9e\n");
	/* Lone surrogates become U+FFFD; what follows is read normally. */
	expect_ok("{\"l\":\"\\ud800\"}", "l|S|\\xef\\xbf\\xbd\n");
	expect_ok("{\"l\":\"\\udc00x\"}", "l|S|\\xef\\xbf\\xbdx\n");
	expect_ok("{\"l\":\"\\ud800\\u0041\"}", "l|S|\\xef\\xbf\\xbdA\n");
	expect_ok("{\"l\":\"\\ud800\\ud800\\udc00\"}",
	    "l|S|\\xef\\xbf\\xbd\\xf0\\x90\\x80\\x80\n");
	expect_ok("{\"l\":\"\\ud800\\n\"}", "l|S|\\xef\\xbf\\xbd\\x0a\n");
	expect_ok("{\"l\":\"\\udbff\\udfff\"}", "l|S|\\xf4\\x8f\\xbf\\xbf\n");
	/* Bad escapes. */
	expect_bad("{\"e\":\"\\x41\"}");
	expect_bad("{\"e\":\"\\U0041\"}");
	expect_bad("{\"e\":\"\\u004\"}");
	expect_bad("{\"e\":\"\\u00G1\"}");
	expect_bad("{\"e\":\"\\ud800\\u12\"}");
	expect_bad("{\"e\":\"\\'\"}");
	expect_bad("{\"e\":\"abc\\\"}");
	expect_bad("{\"e\\q\":1}");
}

static void
test_zero_copy(void **state)
{
	struct rec r = { 0 };

	(void)state;
	assert_int_equal(scan(&r, "{\"a\":\"plain\",\"b\":{\"c\":\"x y\"}}"),
	    0);
	assert_int_equal(r.copied, 0);
	buf_release(&r.out);
	assert_int_equal(scan(&r, "{\"a\":\"pl\\nain\",\"b\":\"ok\","
	    "\"c\":\"\\u00e9\"}"), 0);
	assert_int_equal(r.copied, 2);
	buf_release(&r.out);
}

/* Spans of earlier escaped strings stay valid until the caller resets
 * scratch, and earlier scratch content is kept. */
struct keep {
	struct span v[64];
	int n;
};

static int
keep_cb(void *ctx, struct span key, enum json_type t, struct span v)
{
	struct keep *k = ctx;

	(void)key;
	(void)t;
	if (k->n < 64)
		k->v[k->n++] = v;
	return 0;
}

static void
test_scratch_spans(void **state)
{
	struct buf scratch = BUF_INIT, line = BUF_INIT;
	struct keep k = { .n = 0 };

	(void)state;
	buf_addstr(&scratch, "prefix");
	buf_addch(&line, '{');
	for (int i = 0; i < 40; i++)
		buf_addf(&line, "%s\"k%d\":\"v\\t%d\\u00e9%s\"", i ? "," : "",
		    i, i, i % 2 ? "long long long long long long long" : "");
	buf_addch(&line, '}');
	assert_int_equal(jsonl_scan(line.p, line.len, &scratch, keep_cb, &k),
	    0);
	assert_int_equal(k.n, 40);
	assert_memory_equal(scratch.p, "prefix", 6);
	for (int i = 0; i < 40; i++) {
		char want[128];
		int n = snprintf(want, sizeof(want), "v\t%d\xc3\xa9%s", i,
		    i % 2 ? "long long long long long long long" : "");
		assert_int_equal(k.v[i].n, (size_t)n);
		assert_memory_equal(k.v[i].p, want, (size_t)n);
		assert_true(k.v[i].p >= scratch.p &&
		    k.v[i].p + k.v[i].n <= scratch.p + scratch.len);
	}
	buf_release(&scratch);
	buf_release(&line);
}

static void
test_control_and_utf8(void **state)
{
	(void)state;
	/* Raw control characters must be escaped (RFC 8259 section 7). */
	expect_bad("{\"e\":\"a\tb\"}");
	expect_bad("{\"e\":\"a\nb\"}");
	expect_bad("{\"e\":\"a\x01" "b\"}");
	expect_bad("{\"e\x1f\":1}");
	/* DEL and invalid UTF-8 are kept as bytes. */
	expect_ok("{\"e\":\"a\x7f\xff\xc3(\xed\xa0\x80\"}",
	    "e|S|a\\x7f\\xff\\xc3(\\xed\\xa0\\x80\n");
	expect_ok("{\"\xff\xfe\":\"\xc0\xaf\"}", "\\xff\\xfe|S|\\xc0\\xaf\n");
	/* The word-at-a-time scan must find a quote or control character
	 * at every position of a long string. */
	for (size_t pos = 0; pos < 40; pos++) {
		char line[128];
		struct rec r = { 0 };
		int n = snprintf(line, sizeof(line), "{\"k\":\"%.*s", (int)pos,
		    "0123456789012345678901234567890123456789");
		line[n] = '\x02';
		memcpy(line + n + 1, "xx\"}", 5);
		assert_int_equal(scan(&r, line), -1);
		buf_release(&r.out);
		line[n] = '"';
		line[n + 1] = '}';
		line[n + 2] = '\0';
		assert_int_equal(scan(&r, line), 0);
		assert_int_equal(r.calls, 1);
		assert_int_equal(r.out.len, 4 + pos + 1);
		buf_release(&r.out);
	}
}

static void
test_numbers(void **state)
{
	static const char *good[] = {
		"0", "-0", "1", "-1", "10", "1e5", "1E5", "1e+5", "1e-5",
		"-0.0", "0.5", "123.456", "-1.5e10", "1.0E-0", "0e0",
		"9007199254740993", "123456789012345678901234567890",
	};
	static const char *bad[] = {
		"01", "-01", "00", "1.", ".1", "+1", "-", "1e", "1e+", "1e-",
		"1.e5", "0x10", "NaN", "Infinity", "-Infinity", "1..2",
		"1.2.3", "--1", "1f", "1e5.0", "- 1", "0-",
	};
	char line[128], want[128];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		snprintf(line, sizeof(line), "{\"n\":%s}", good[i]);
		snprintf(want, sizeof(want), "n|N|%s\n", good[i]);
		expect_ok(line, want);
		snprintf(line, sizeof(line), "{\"n\":[%s ,2]}", good[i]);
		expect_ok(line, want);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		snprintf(line, sizeof(line), "{\"n\":%s}", bad[i]);
		expect_bad(line);
		snprintf(line, sizeof(line), "{\"n\":[%s]}", bad[i]);
		expect_bad(line);
	}
}

static void
test_literals_and_syntax(void **state)
{
	static const char *bad[] = {
		"", " ", "{", "}", "[]", "[{}]", "\"s\"", "1", "null", "true",
		"{\"a\":tru}", "{\"a\":nul}", "{\"a\":True}", "{\"a\":nulll}",
		"{\"a\":falsy}", "{\"a\":1,}", "{,}", "{\"a\":1,,\"b\":2}",
		"{\"a\" 1}", "{\"a\":}", "{a:1}", "{'a':1}", "{\"a\":'x'}",
		"{\"a\":1 \"b\":2}", "{\"a\":1}}", "{\"a\":1}x", "{}{}",
		"{\"a\":1} {\"b\":2}", "{\"a\"}", "{\"a\":1]",
		"{\"a\":[1}", "{\"a\":{\"b\":1}", "{\"a\":\"x}", "{\"a",
		"\xef\xbb{}", "{\"a\":\x0b" "1}", "{\"a\":\xc2\xa0" "1}",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		expect_bad(bad[i]);
	/* Whitespace everywhere the grammar allows it, and a BOM. */
	expect_ok(" \t\r\n{ \"a\" :\t1 ,\n\"b\"\r:\r[ \"x\" ] , \"c\" : { } }"
	    " \t\r\n", "a|N|1\nb|S|x\n");
	expect_ok("\xef\xbb\xbf{\"a\":true}", "a|B|true\n");
	/* NUL bytes are data to a length-bounded scanner: not a terminator. */
	struct rec r = { 0 };
	assert_int_equal(scan_n(&r, "{\"a\":1}\0", 8), -1);
	buf_release(&r.out);
	assert_int_equal(scan_n(&r, "{\"a\":\"x\0y\"}", 11), -1);
	buf_release(&r.out);
}

static void
test_duplicates(void **state)
{
	(void)state;
	/* Both are reported, in order: the consumer decides (later wins in
	 * parse_json). */
	expect_ok("{\"a\":1,\"a\":\"two\",\"b\":{\"a\":3},\"b\":{\"a\":4}}",
	    "a|N|1\na|S|two\nb.a|N|3\nb.a|N|4\n");
}

/* depth containers nested; with arrays, every even level is one. */
static void
nested_line(struct buf *b, int depth, int arrays)
{
	char kind[64];

	for (int i = 1; i <= depth; i++)
		kind[i] = i == 1 || !arrays || i % 2 == 1 ? '{' : '[';
	buf_reset(b);
	buf_addch(b, '{');
	for (int i = 2; i <= depth; i++) {
		if (kind[i - 1] == '{')
			buf_addstr(b, "\"k\":");
		buf_addch(b, kind[i]);
	}
	buf_addstr(b, kind[depth] == '{' ? "\"v\":1" : "1");
	for (int i = depth; i >= 1; i--)
		buf_addch(b, kind[i] == '{' ? '}' : ']');
}

static void
test_depth(void **state)
{
	struct buf b = BUF_INIT;
	struct rec r = { 0 };

	(void)state;
	/* 16 objects deep is fine, 17 is not. */
	nested_line(&b, 16, 0);
	assert_int_equal(scan(&r, b.p), 0);
	assert_int_equal(r.calls, 1);
	assert_string_equal(r.out.p,
	    "k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.v|N|1\n");
	buf_release(&r.out);
	nested_line(&b, 17, 0);
	assert_int_equal(scan(&r, b.p), -1);
	buf_release(&r.out);
	/* Arrays count the same. */
	nested_line(&b, 16, 1);
	assert_int_equal(scan(&r, b.p), 0);
	buf_release(&r.out);
	nested_line(&b, 17, 1);
	assert_int_equal(scan(&r, b.p), -1);
	buf_release(&r.out);
	/* Very deep input fails fast, without deep recursion. */
	buf_reset(&b);
	buf_addch(&b, '{');
	buf_addstr(&b, "\"a\":");
	for (int i = 0; i < 100000; i++)
		buf_addch(&b, '[');
	assert_int_equal(scan(&r, b.p), -1);
	buf_release(&r.out);
	buf_release(&b);
}

static void
test_huge_keys(void **state)
{
	struct buf b = BUF_INIT, want = BUF_INIT;
	struct rec r = { 0 };
	char k256[257], k257[258];

	(void)state;
	memset(k256, 'k', 256);
	k256[256] = '\0';
	memset(k257, 'K', 257);
	k257[257] = '\0';

	/* 256 bytes is the limit: reported. */
	buf_addf(&b, "{\"%s\":1,\"b\":2}", k256);
	buf_addf(&want, "%s|N|1\nb|N|2\n", k256);
	assert_int_equal(scan(&r, b.p), 0);
	assert_string_equal(r.out.p, want.p);
	buf_release(&r.out);

	/* 257: skipped with everything under it; not an error. */
	buf_reset(&b);
	buf_addf(&b, "{\"a\":0,\"%s\":{\"x\":1,\"y\":[2]},\"b\":2}", k257);
	assert_int_equal(scan(&r, b.p), 0);
	assert_string_equal(r.out.p, "a|N|0\nb|N|2\n");
	buf_release(&r.out);

	/* A path over the limit though each key is short. */
	buf_reset(&b);
	buf_addf(&b, "{\"p\":{\"%.*s\":{\"ab\":1,\"c\":2},\"d\":3}}", 252,
	    k256);
	buf_reset(&want);
	buf_addf(&want, "p.%.*s.c|N|2\np.d|N|3\n", 252, k256);
	assert_int_equal(scan(&r, b.p), 0);
	assert_string_equal(r.out.p, want.p);
	buf_release(&r.out);

	/* A key exactly filling the path: its children do not fit. */
	buf_reset(&b);
	buf_addf(&b, "{\"%s\":{\"x\":1},\"%s\":\"v\"}", k256, k256);
	buf_reset(&want);
	buf_addf(&want, "%s|S|v\n", k256);
	assert_int_equal(scan(&r, b.p), 0);
	assert_string_equal(r.out.p, want.p);
	buf_release(&r.out);

	/* Escaped keys: unescaped, and limited by their unescaped size. */
	expect_ok("{\"a\\u002eb\\n\":1,\"\\u00e9\":2}",
	    "a.b\\x0a|N|1\n\\xc3\\xa9|N|2\n");
	buf_reset(&b);
	buf_addch(&b, '{');
	buf_addch(&b, '"');
	for (int i = 0; i < 129; i++)
		buf_addstr(&b, "\\u00e9"); /* 258 bytes unescaped */
	buf_addstr(&b, "\":1,\"ok\":[\"\\t\"]}");
	assert_int_equal(scan(&r, b.p), 0);
	assert_string_equal(r.out.p, "ok|S|\\x09\n");
	buf_release(&r.out);
	/* ...but still validated. */
	buf_reset(&b);
	buf_addf(&b, "{\"%s\\x\":1}", k257);
	assert_int_equal(scan(&r, b.p), -1);
	buf_release(&r.out);

	/* A 100 KB key and value. */
	buf_reset(&b);
	buf_addstr(&b, "{\"");
	for (int i = 0; i < 100000; i++)
		buf_addch(&b, 'x');
	buf_addstr(&b, "\":\"");
	for (int i = 0; i < 100000; i++)
		buf_addstr(&b, i % 1000 ? "y" : "\\n");
	buf_addstr(&b, "\",\"z\":1}");
	assert_int_equal(scan(&r, b.p), 0);
	assert_string_equal(r.out.p, "z|N|1\n");
	buf_release(&r.out);

	buf_release(&b);
	buf_release(&want);
}

static void
test_callback_stop(void **state)
{
	struct rec r = { 0 };

	(void)state;
	r.stop_at = 2;
	r.stop_rc = 7;
	/* The rest of the line is not even looked at. */
	assert_int_equal(scan(&r, "{\"a\":1,\"b\":{\"c\":\"x\"},\"d\":3,junk"),
	    7);
	assert_int_equal(r.calls, 2);
	assert_string_equal(r.out.p, "a|N|1\nb.c|S|x\n");
	buf_release(&r.out);
	r.stop_at = 1;
	r.stop_rc = -1;
	assert_int_equal(scan(&r, "{\"a\":[\"h\",2]}"), -1);
	assert_int_equal(r.calls, 1);
	buf_release(&r.out);
}

/* Every strict prefix of a valid line is invalid (it lacks its final
 * '}') and must be rejected without reading past its end. */
static void
test_truncated(void **state)
{
	static const char *lines[] = {
		"{\"ClientAddr\": \"1.2.3.4:5\", \"n\": -1.5e-3, \"t\": true, "
		    "\"f\": false, \"z\": null, \"s\": \"a\\\"b\\\\c\\u00e9"
		    "\\ud83d\\ude00\\ud800\", \"o\": {\"h\": [\"x\", 1, "
		    "{\"y\": [[]]}]}, \"e\": {}, \"a\": [], \"q\": 0}",
		"{\"request\":{\"headers\":{\"User-Agent\":[\"curl/8\"]}},"
		    "\"ts\":1700000000.123456,\"k\":\"\\n\\t\\/\"}",
	};

	(void)state;
	for (size_t l = 0; l < ARRAY_LEN(lines); l++) {
		size_t n = strlen(lines[l]);
		struct rec r = { 0 };

		assert_int_equal(scan_n(&r, lines[l], n), 0);
		buf_release(&r.out);
		for (size_t k = 0; k < n; k++) {
			int rc = scan_n(&r, lines[l], k);
			if (rc != -1)
				fprintf(stderr, "prefix %zu accepted\n", k);
			assert_int_equal(rc, -1);
			buf_release(&r.out);
		}
	}
}

/* Junk must never crash or be accepted as a one-member object. */
static void
test_junk(void **state)
{
	unsigned seed = 12345;
	char line[256];
	struct rec r = { 0 };
	int ok = 0;

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = 1 + (size_t)(iter % 200);
		line[0] = '{';
		for (size_t i = 1; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			/* mostly JSON punctuation, so the scanner gets deep */
			static const char alpha[] =
			    "{}[]\":,\\u0123456789eE.-+ truefalsn\x01\xff";
			line[i] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
		}
		if (scan_n(&r, line, n) == 0) {
			ok++;
			/* the line ends in '}': without it, it is unfinished */
			buf_release(&r.out);
			if (line[n - 1] != ' ')
				assert_int_equal(scan_n(&r, line, n - 1), -1);
		}
		buf_release(&r.out);
	}
	/* A few random strings do form objects ("{}" at least). */
	assert_true(ok > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_nesting_keys),
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_zero_copy),
		cmocka_unit_test(test_scratch_spans),
		cmocka_unit_test(test_control_and_utf8),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_literals_and_syntax),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_huge_keys),
		cmocka_unit_test(test_callback_stop),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_junk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
