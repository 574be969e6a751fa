/*
 * input.c: line splitting, gzip (whole, multi-member, truncated, corrupt,
 * junk), stdin, too-long lines, and tail -F behaviour on real temp files.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---- helpers */

static const char *
tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	return t != NULL && *t != '\0' ? t : "/tmp";
}

/* A fresh empty temp file; its name in path. */
static void
tmp_file(char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/ad-input-XXXXXX", tmpdir());
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
}

/* A fresh temp directory, for the follow tests that rename files. */
static void
tmp_dir(char *path, size_t len)
{
	snprintf(path, len, "%s/ad-follow-XXXXXX", tmpdir());
	assert_non_null(mkdtemp(path));
}

static void
write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static void
append_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	size_t n = strlen(s);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, n), (ssize_t)n);
	close(fd);
}

static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *p;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	p = xmalloc((size_t)st.st_size + 1);
	assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

static off_t
file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void
gz_write_file(const char *path, const char *mode, const void *p, size_t n)
{
	gzFile g = gzopen(path, mode);

	assert_non_null(g);
	assert_int_equal(gzwrite(g, p, (unsigned)n), (int)n);
	assert_int_equal(gzclose(g), Z_OK);
}

static struct input *
open_ok(const char *path, const struct input_opts *o)
{
	char err[256] = "";
	struct input *in = input_open(path, o, err, sizeof(err));

	if (in == NULL)
		fail_msg("input_open %s: %s", path, err);
	return in;
}

static void
expect_line(struct input *in, const char *text, uint64_t lineno)
{
	struct input_line l;
	char err[256] = "";
	int r = input_next(in, &l, err, sizeof(err));

	if (r != INPUT_LINE)
		fail_msg("expected line \"%s\", got status %d (%s)", text, r,
		    err);
	assert_span_equal(((struct span){ l.p, l.n }), text);
	assert_int_equal(l.lineno, lineno);
	assert_int_equal(l.too_long, 0);
}

static void
expect_status(struct input *in, int want)
{
	struct input_line l;
	char err[256] = "";

	assert_int_equal(input_next(in, &l, err, sizeof(err)), want);
}

/* Follow mode: the next status other than AGAIN, waiting at most ms. */
static int
next_within(struct input *in, struct input_line *l, int ms, char *err,
    size_t errlen)
{
	int64_t deadline = clock_mono_ns() + (int64_t)ms * 1000000;
	int r;

	for (;;) {
		r = input_next(in, l, err, errlen);
		if (r != INPUT_AGAIN || clock_mono_ns() >= deadline)
			return r;
		input_wait(in, 50);
	}
}

static void
follow_expect(struct input *in, const char *text, uint64_t lineno)
{
	struct input_line l;
	char err[256] = "";
	int r = next_within(in, &l, 1000, err, sizeof(err));

	if (r != INPUT_LINE)
		fail_msg("expected line \"%s\", got status %d (%s)", text, r,
		    err);
	assert_span_equal(((struct span){ l.p, l.n }), text);
	assert_int_equal(l.lineno, lineno);
}

static void
follow_expect_again(struct input *in)
{
	struct input_line l;
	char err[256] = "";

	assert_int_equal(input_next(in, &l, err, sizeof(err)), INPUT_AGAIN);
}

/* Deterministic line i of the big test files: varied lengths (0..~300),
 * so lines land across block boundaries at all offsets. */
static size_t
gen_line(uint64_t i, char *out, size_t outlen)
{
	uint64_t x = i * 6364136223846793005ULL + 1442695040888963407ULL;
	size_t len = (size_t)((x >> 33) % 300);
	int n = snprintf(out, outlen, "%llu:", (unsigned long long)i);

	if (len < (size_t)n)
		len = (size_t)n;
	for (size_t k = (size_t)n; k < len && k < outlen; k++)
		out[k] = (char)('a' + (char)((x >> (k % 50)) % 26));
	return len;
}

static void
gen_file(struct buf *b, uint64_t nlines)
{
	char line[400];

	for (uint64_t i = 1; i <= nlines; i++) {
		size_t n = gen_line(i, line, sizeof(line));
		buf_add(b, line, n);
		buf_addch(b, '\n');
	}
}

/* Reads in and checks each line against gen_line; returns lines seen and
 * the final status. */
static uint64_t
check_gen_lines(struct input *in, int *status, char *err, size_t errlen)
{
	struct input_line l;
	char want[400];
	uint64_t n = 0;
	int r;

	while ((r = input_next(in, &l, err, errlen)) == INPUT_LINE) {
		size_t wn = gen_line(n + 1, want, sizeof(want));

		n++;
		assert_int_equal(l.lineno, n);
		assert_int_equal(l.n, wn);
		assert_memory_equal(l.p, want, wn);
		assert_int_equal(l.too_long, 0);
	}
	*status = r;
	return n;
}

/* ---- plain files */

static void
test_plain_lines(void **state)
{
	char path[256];
	const char data[] = "alpha\nbeta\n\ngamma\n";
	struct input *in;

	(void)state;
	tmp_file(path, sizeof(path));
	write_file(path, data, sizeof(data) - 1);
	in = open_ok(path, NULL);
	assert_string_equal(input_name(in), path);
	assert_int_equal(input_size_hint(in), (int64_t)(sizeof(data) - 1));
	expect_line(in, "alpha", 1);
	expect_line(in, "beta", 2);
	expect_line(in, "", 3);
	expect_line(in, "gamma", 4);
	expect_status(in, INPUT_EOF);
	expect_status(in, INPUT_EOF); /* stays at EOF */
	assert_int_equal(input_bytes_read(in), sizeof(data) - 1);
	assert_int_equal(input_truncated(in), 0);
	input_free(in);
	unlink(path);
}

static void
test_crlf(void **state)
{
	char path[256];
	const char data[] = "a\r\nb\r\n\r\nc\rd\r\n\r\r\nlast\r";
	struct input *in;

	(void)state;
	tmp_file(path, sizeof(path));
	write_file(path, data, sizeof(data) - 1);
	in = open_ok(path, NULL);
	expect_line(in, "a", 1);
	expect_line(in, "b", 2);
	expect_line(in, "", 3);
	expect_line(in, "c\rd", 4);   /* only a trailing \r goes */
	expect_line(in, "\r", 5);     /* one \r stripped, not all */
	expect_line(in, "last", 6);   /* at EOF too */
	expect_status(in, INPUT_EOF);
	input_free(in);
	unlink(path);
}

static void
test_no_trailing_newline(void **state)
{
	char path[256];
	struct input *in;

	(void)state;
	tmp_file(path, sizeof(path));
	write_file(path, "one\ntwo", 7);
	in = open_ok(path, NULL);
	expect_line(in, "one", 1);
	expect_line(in, "two", 2);
	expect_status(in, INPUT_EOF);
	input_free(in);

	/* Empty file: nothing at all. */
	write_file(path, "", 0);
	in = open_ok(path, NULL);
	expect_status(in, INPUT_EOF);
	assert_int_equal(input_bytes_read(in), 0);
	input_free(in);

	/* One newline: one empty line, not two. */
	write_file(path, "\n", 1);
	in = open_ok(path, NULL);
	expect_line(in, "", 1);
	expect_status(in, INPUT_EOF);
	input_free(in);

	/* One byte: too short to sniff for gzip, still a line. */
	write_file(path, "\x1f", 1);
	in = open_ok(path, NULL);
	expect_line(in, "\x1f", 1);
	expect_status(in, INPUT_EOF);
	input_free(in);
	unlink(path);
}

static void
test_nul_bytes(void **state)
{
	char path[256];
	const char data[] = "a\0b\nc\0\n\0";
	struct input_line l;
	char err[256];
	struct input *in;

	(void)state;
	tmp_file(path, sizeof(path));
	write_file(path, data, sizeof(data) - 1);
	in = open_ok(path, NULL);
	assert_int_equal(input_next(in, &l, err, sizeof(err)), INPUT_LINE);
	assert_int_equal(l.n, 3);
	assert_memory_equal(l.p, "a\0b", 3);
	assert_int_equal(input_next(in, &l, err, sizeof(err)), INPUT_LINE);
	assert_int_equal(l.n, 2);
	assert_memory_equal(l.p, "c\0", 2);
	assert_int_equal(input_next(in, &l, err, sizeof(err)), INPUT_LINE);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.p[0], '\0');
	expect_status(in, INPUT_EOF);
	input_free(in);
	unlink(path);
}

static void
test_block_boundary(void **state)
{
	char path[256], err[256] = "";
	struct buf b = BUF_INIT;
	struct input *in;
	uint64_t n;
	int st;

	(void)state;
	/* ~3.5 MiB: several 1 MiB blocks, lines cut at every boundary. */
	gen_file(&b, 24000);
	assert_true(b.len > 3 * 1024 * 1024);
	tmp_file(path, sizeof(path));
	write_file(path, b.p, b.len);
	in = open_ok(path, NULL);
	n = check_gen_lines(in, &st, err, sizeof(err));
	assert_int_equal(st, INPUT_EOF);
	assert_int_equal(n, 24000);
	assert_int_equal(input_bytes_read(in), b.len);
	input_free(in);

	/* A line that starts right before the 1 MiB mark. */
	buf_reset(&b);
	for (size_t i = 0; i < 1024 * 1024 - 3; i++)
		buf_addch(&b, i % 100 == 99 ? '\n' : 'x');
	buf_addstr(&b, "\nstraddle-the-boundary\nend\n");
	write_file(path, b.p, b.len);
	in = open_ok(path, NULL);
	{
		struct input_line l;
		uint64_t lines = 0;
		int r;

		while ((r = input_next(in, &l, err, sizeof(err))) ==
		    INPUT_LINE) {
			lines++;
			if (l.n > 0 && l.p[0] == 's')
				assert_span_equal(((struct span){ l.p, l.n }),
				    "straddle-the-boundary");
		}
		assert_int_equal(r, INPUT_EOF);
		assert_int_equal(lines, (1024 * 1024 - 3) / 100 + 1 + 2);
	}
	input_free(in);
	buf_release(&b);
	unlink(path);
}

/* ---- too-long lines */

static void
test_too_long(void **state)
{
	char path[256], err[256];
	struct input_opts o = { 0, 0, 16 };
	struct buf b = BUF_INIT;
	struct input_line l;
	struct input *in;

	(void)state;
	buf_addstr(&b, "short\n");
	buf_addstr(&b, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"); /* 40 */
	buf_addstr(&b, "next\n");
	buf_addstr(&b, "bbbbbbbbbbbbbbbb\n");   /* exactly 16 */
	buf_addstr(&b, "BBBBBBBBBBBBBBBB\r\n"); /* 16 + CR: fits */
	buf_addstr(&b, "ccccccccccccccccc\n");  /* 17 */
	buf_addstr(&b, "dddddddddddddddddddddddddddddddddddddddddddddddddd");
	tmp_file(path, sizeof(path));
	write_file(path, b.p, b.len);
	in = open_ok(path, &o);
	expect_line(in, "short", 1);
	assert_int_equal(input_next(in, &l, err, sizeof(err)), INPUT_LINE);
	assert_int_equal(l.too_long, 1);
	assert_int_equal(l.lineno, 2);
	assert_span_equal(((struct span){ l.p, l.n }), "aaaaaaaaaaaaaaaa");
	expect_line(in, "next", 3);
	expect_line(in, "bbbbbbbbbbbbbbbb", 4);
	expect_line(in, "BBBBBBBBBBBBBBBB", 5);
	assert_int_equal(input_next(in, &l, err, sizeof(err)), INPUT_LINE);
	assert_int_equal(l.too_long, 1);
	assert_int_equal(l.lineno, 6);
	assert_span_equal(((struct span){ l.p, l.n }), "cccccccccccccccc");
	/* Too long and unterminated at EOF: delivered once, cut. */
	assert_int_equal(input_next(in, &l, err, sizeof(err)), INPUT_LINE);
	assert_int_equal(l.too_long, 1);
	assert_int_equal(l.lineno, 7);
	assert_int_equal(l.n, 16);
	expect_status(in, INPUT_EOF);
	input_free(in);
	buf_release(&b);
	unlink(path);
}

/* A line over several blocks, plain and gzip: reported once, then the
 * next line is intact. */
static void
check_huge_line(const char *path)
{
	struct input_line l;
	char err[256];
	struct input *in = open_ok(path, NULL);

	assert_int_equal(input_next(in, &l, err, sizeof(err)), INPUT_LINE);
	assert_int_equal(l.too_long, 1);
	assert_int_equal(l.lineno, 1);
	assert_int_equal(l.n, INPUT_MAX_LINE_DEFAULT);
	for (size_t i = 0; i < l.n; i++)
		if (l.p[i] != 'x')
			fail_msg("byte %zu is %d", i, l.p[i]);
	expect_line(in, "after", 2);
	expect_line(in, "end", 3);
	expect_status(in, INPUT_EOF);
	input_free(in);
}

static void
test_too_long_across_blocks(void **state)
{
	char path[256];
	struct buf b = BUF_INIT;

	(void)state;
	for (size_t i = 0; i < 3 * 1024 * 1024 + 77; i++)
		buf_addch(&b, 'x');
	buf_addstr(&b, "\nafter\nend\n");
	tmp_file(path, sizeof(path));
	write_file(path, b.p, b.len);
	check_huge_line(path);
	gz_write_file(path, "wb1", b.p, b.len);
	check_huge_line(path);
	buf_release(&b);
	unlink(path);
}

static long
max_rss_kb(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/* 128 MiB with no newline must not be buffered: peak memory stays put. */
static void
test_huge_line_memory_bounded(void **state)
{
	char path[256], err[256];
	const off_t big = (off_t)128 * 1024 * 1024;
	struct input_line l;
	struct input *in;
	long before, after;
	int fd;

	(void)state;
	tmp_file(path, sizeof(path));
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, big), 0); /* sparse: NUL bytes */
	assert_int_equal(pwrite(fd, "\ntail\n", 6, big), 6);
	close(fd);

	before = max_rss_kb();
	in = open_ok(path, NULL);
	assert_int_equal(input_next(in, &l, err, sizeof(err)), INPUT_LINE);
	assert_int_equal(l.too_long, 1);
	assert_int_equal(l.n, INPUT_MAX_LINE_DEFAULT);
	assert_int_equal(l.p[0], '\0');
	expect_line(in, "tail", 2);
	expect_status(in, INPUT_EOF);
	assert_int_equal(input_bytes_read(in), (uint64_t)big + 6);
	input_free(in);
	after = max_rss_kb();
	if (after - before > 48 * 1024)
		fail_msg("peak RSS grew by %ld KiB", after - before);
	unlink(path);
}

/* ---- gzip */

static void
test_gzip(void **state)
{
	char path[256], gzpath[300];
	const char data[] = "one\ntwo\r\nthree";
	struct input *in;

	(void)state;
	/* Told by magic: this one is not named .gz. */
	tmp_file(path, sizeof(path));
	gz_write_file(path, "wb", data, sizeof(data) - 1);
	in = open_ok(path, NULL);
	expect_line(in, "one", 1);
	expect_line(in, "two", 2);
	expect_line(in, "three", 3);
	expect_status(in, INPUT_EOF);
	assert_int_equal(input_bytes_read(in), (uint64_t)file_size(path));
	assert_int_equal(input_size_hint(in), (int64_t)file_size(path));
	assert_int_equal(input_truncated(in), 0);
	input_free(in);

	/* And a plain file named .gz is read as text. */
	snprintf(gzpath, sizeof(gzpath), "%s.gz", path);
	write_file(gzpath, "plain\n", 6);
	in = open_ok(gzpath, NULL);
	expect_line(in, "plain", 1);
	expect_status(in, INPUT_EOF);
	input_free(in);
	unlink(gzpath);
	unlink(path);
}

static void
test_gzip_big(void **state)
{
	char path[256], err[256] = "";
	struct buf b = BUF_INIT;
	struct input *in;
	uint64_t n;
	int st;

	(void)state;
	gen_file(&b, 30000); /* > 4 MiB inflated: many output blocks */
	tmp_file(path, sizeof(path));
	gz_write_file(path, "wb", b.p, b.len);
	in = open_ok(path, NULL);
	n = check_gen_lines(in, &st, err, sizeof(err));
	assert_int_equal(st, INPUT_EOF);
	assert_int_equal(n, 30000);
	input_free(in);
	buf_release(&b);
	unlink(path);
}

static void
test_gzip_multimember(void **state)
{
	char path[256];
	static const char zeros[512];
	struct input *in;
	int fd;

	(void)state;
	tmp_file(path, sizeof(path));
	/* A line cut across the member boundary, as `cat a.gz b.gz`. */
	gz_write_file(path, "wb", "first\nsec", 9);
	gz_write_file(path, "ab", "ond\nthird\n", 10);
	gz_write_file(path, "ab", "", 0); /* an empty member */
	gz_write_file(path, "ab", "fourth\n", 7);
	in = open_ok(path, NULL);
	expect_line(in, "first", 1);
	expect_line(in, "second", 2);
	expect_line(in, "third", 3);
	expect_line(in, "fourth", 4);
	expect_status(in, INPUT_EOF);
	assert_int_equal(input_truncated(in), 0);
	input_free(in);

	/* Zero padding after the last member is ignored, as zcat does. */
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, zeros, sizeof(zeros)), sizeof(zeros));
	close(fd);
	in = open_ok(path, NULL);
	expect_line(in, "first", 1);
	expect_line(in, "second", 2);
	expect_line(in, "third", 3);
	expect_line(in, "fourth", 4);
	expect_status(in, INPUT_EOF);
	input_free(in);

	/* Trailing junk that is not a member: the lines, then EOF. */
	append_file(path, "garbage");
	in = open_ok(path, NULL);
	expect_line(in, "first", 1);
	expect_line(in, "second", 2);
	expect_line(in, "third", 3);
	expect_line(in, "fourth", 4);
	expect_status(in, INPUT_EOF);
	input_free(in);
	unlink(path);
}

/* Writes gen_file(nlines) as gzip, cut to keep bytes (negative: drop that
 * many from the end; 0: whole).  Returns the whole size. */
static size_t
write_cut_gzip(const char *path, uint64_t nlines, long keep)
{
	struct buf b = BUF_INIT;
	char *z;
	size_t zn, cut;

	gen_file(&b, nlines);
	gz_write_file(path, "wb", b.p, b.len);
	buf_release(&b);
	z = slurp(path, &zn);
	cut = keep > 0 ? (size_t)keep : zn - (size_t)(-keep);
	write_file(path, z, cut);
	free(z);
	return zn;
}

static void
test_gzip_truncated(void **state)
{
	char path[256], err[256] = "", want[64];
	struct input *in;
	uint64_t n;
	size_t zn;
	int st;

	(void)state;
	tmp_file(path, sizeof(path));
	/* Cut in half: the complete lines before the cut, then the error. */
	zn = write_cut_gzip(path, 20000, 0);
	write_cut_gzip(path, 20000, (long)(zn / 2));
	in = open_ok(path, NULL);
	n = check_gen_lines(in, &st, err, sizeof(err));
	assert_int_equal(st, INPUT_ERR);
	assert_true(n > 1000 && n < 20000);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "truncated"));
	snprintf(want, sizeof(want), "%llu complete lines",
	    (unsigned long long)n);
	assert_non_null(strstr(err, want));
	assert_int_not_equal(input_truncated(in), 0);
	/* The source is finished: the error again, no more lines. */
	err[0] = '\0';
	expect_status(in, INPUT_ERR);
	assert_int_equal(input_next(in, &(struct input_line){ 0 }, err,
	    sizeof(err)), INPUT_ERR);
	assert_non_null(strstr(err, "truncated"));
	input_free(in);

	/* Only the trailer cut short: every line is there, still an error. */
	write_cut_gzip(path, 20000, -3);
	in = open_ok(path, NULL);
	n = check_gen_lines(in, &st, err, sizeof(err));
	assert_int_equal(st, INPUT_ERR);
	assert_int_equal(n, 20000);
	assert_int_not_equal(input_truncated(in), 0);
	input_free(in);

	/* Nothing but the magic. */
	write_file(path, "\x1f\x8b", 2);
	in = open_ok(path, NULL);
	n = check_gen_lines(in, &st, err, sizeof(err));
	assert_int_equal(st, INPUT_ERR);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err, "truncated"));
	assert_int_not_equal(input_truncated(in), 0);
	input_free(in);
	unlink(path);
}

static void
test_gzip_corrupt(void **state)
{
	char path[256], err[256] = "";
	struct input_line l;
	struct input *in;
	size_t zn;
	uint64_t lines;
	char *z;
	int r, st;

	(void)state;
	tmp_file(path, sizeof(path));
	/* A bad CRC in the trailer: all data inflates, then the check fails. */
	write_cut_gzip(path, 5000, 0);
	z = slurp(path, &zn);
	z[zn - 8] ^= 0x55;
	write_file(path, z, zn);
	in = open_ok(path, NULL);
	lines = check_gen_lines(in, &st, err, sizeof(err));
	assert_int_equal(st, INPUT_ERR);
	assert_int_equal(lines, 5000);
	assert_non_null(strstr(err, "corrupt"));
	assert_non_null(strstr(err, "5000 complete lines"));
	assert_non_null(strstr(err, path));
	assert_int_not_equal(input_truncated(in), 0);
	input_free(in);

	/* Garbage in the middle of the deflate data. */
	for (size_t i = zn / 2; i < zn / 2 + 64; i++)
		z[i] ^= (char)0xa5;
	z[zn - 8] ^= 0x55;
	write_file(path, z, zn);
	in = open_ok(path, NULL);
	lines = 0;
	while ((r = input_next(in, &l, err, sizeof(err))) == INPUT_LINE)
		assert_true(++lines < 10000);
	assert_int_equal(r, INPUT_ERR);
	assert_true(strstr(err, "corrupt") != NULL ||
	    strstr(err, "truncated") != NULL);
	assert_int_not_equal(input_truncated(in), 0);
	input_free(in);
	free(z);
	unlink(path);
}

/* Junk behind the gzip magic (and behind a valid-looking header) must
 * end in an error or EOF, never a crash or a hang. */
static void
test_gzip_junk(void **state)
{
	char path[256], err[256];
	unsigned char junk[4096 + 10];
	struct input_line l;
	struct input *in;
	uint64_t x = 88172645463325252ULL;
	int r, errors = 0;

	(void)state;
	tmp_file(path, sizeof(path));
	for (int round = 0; round < 60; round++) {
		size_t n, i;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = 2 + (size_t)(x % 4096);
		junk[0] = 0x1f;
		junk[1] = 0x8b;
		for (i = 2; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			junk[i] = (unsigned char)x;
		}
		if (round % 2 == 1 && n > 10) {
			/* deflate, no flags: gets past the header */
			memcpy(junk, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
			    10);
		}
		if (round % 3 == 2)
			for (i = 10; i < n; i += 2)
				junk[i] = i % 4 == 0 ? '\n' : 'a';
		write_file(path, junk, n);
		in = open_ok(path, NULL);
		for (i = 0; i < 100000; i++) {
			r = input_next(in, &l, err, sizeof(err));
			if (r != INPUT_LINE)
				break;
		}
		assert_true(r == INPUT_ERR || r == INPUT_EOF);
		if (r == INPUT_ERR) {
			errors++;
			assert_non_null(strstr(err, path));
		}
		input_free(in);
	}
	assert_true(errors > 50);
	unlink(path);
}

/* ---- stdin */

/* Runs the body with fd 0 replaced by fd; restores it. */
static struct input *
open_stdin_from(int fd, int *saved)
{
	struct input_opts o = { 1, 0, 0 }; /* follow: ignored on stdin */

	*saved = dup(STDIN_FILENO);
	assert_true(*saved >= 0);
	assert_true(dup2(fd, STDIN_FILENO) == STDIN_FILENO);
	close(fd);
	return open_ok("-", &o);
}

static void
restore_stdin(int saved)
{
	assert_true(dup2(saved, STDIN_FILENO) == STDIN_FILENO);
	close(saved);
}

static void
test_stdin_file(void **state)
{
	char path[256];
	struct input *in;
	int saved, fd;

	(void)state;
	tmp_file(path, sizeof(path));
	write_file(path, "s1\ns2\n", 6);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	in = open_stdin_from(fd, &saved);
	assert_string_equal(input_name(in), "(stdin)");
	assert_int_equal(input_size_hint(in), 6);
	expect_line(in, "s1", 1);
	expect_line(in, "s2", 2);
	expect_status(in, INPUT_EOF);
	input_free(in);
	/* input_free must not close our stdin. */
	assert_true(fcntl(STDIN_FILENO, F_GETFD) != -1);
	restore_stdin(saved);
	unlink(path);
}

/* gzip through a pipe, arriving a byte at a time at first: the magic is
 * recognised even when the first read returns one byte. */
static void
test_stdin_gzip_pipe(void **state)
{
	char path[256];
	struct input *in;
	size_t zn;
	char *z;
	int p[2], saved, status;
	pid_t pid;

	(void)state;
	tmp_file(path, sizeof(path));
	gz_write_file(path, "wb", "p1\np2\np3", 8);
	z = slurp(path, &zn);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct timespec ts = { 0, 20 * 1000000 };

		close(p[0]);
		for (size_t i = 0; i < zn; i++) {
			if (write(p[1], z + i, 1) != 1)
				_exit(1);
			if (i < 3)
				nanosleep(&ts, NULL);
		}
		_exit(0);
	}
	close(p[1]);
	in = open_stdin_from(p[0], &saved);
	assert_int_equal(input_size_hint(in), -1);
	expect_line(in, "p1", 1);
	expect_line(in, "p2", 2);
	expect_line(in, "p3", 3);
	expect_status(in, INPUT_EOF);
	assert_int_equal(input_bytes_read(in), zn);
	input_free(in);
	restore_stdin(saved);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(z);
	unlink(path);
}

/* ---- open errors */

static void
test_open_errors(void **state)
{
	char path[300], dir[256], err[256];
	struct input_opts follow = { 1, 0, 0 };

	(void)state;
	tmp_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/missing.log", dir);
	err[0] = '\0';
	assert_null(input_open(path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, strerror(ENOENT)));

	err[0] = '\0';
	assert_null(input_open(dir, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "directory"));

	/* gzip cannot be followed: said at open. */
	snprintf(path, sizeof(path), "%s/a.log", dir);
	gz_write_file(path, "wb", "x\n", 2);
	err[0] = '\0';
	assert_null(input_open(path, &follow, err, sizeof(err)));
	assert_non_null(strstr(err, "gzip"));
	assert_non_null(strstr(err, path));
	unlink(path);
	rmdir(dir);
}

/* ---- follow mode */

static void
test_follow_append(void **state)
{
	char dir[256], path[300];
	struct input_opts o = { 1, 0, 0 };
	struct input *in;

	(void)state;
	tmp_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/access.log", dir);
	write_file(path, "old\n", 4);
	in = open_ok(path, &o);
	follow_expect(in, "old", 1);
	follow_expect_again(in);
	append_file(path, "new1\nnew2\n");
	follow_expect(in, "new1", 2);
	follow_expect(in, "new2", 3);
	follow_expect_again(in);
	/* A partial line waits for its newline. */
	append_file(path, "par");
	input_wait(in, 100);
	follow_expect_again(in);
	follow_expect_again(in);
	append_file(path, "tial\r\n");
	follow_expect(in, "partial", 4);
	follow_expect_again(in);
	input_free(in);
	unlink(path);
	rmdir(dir);
}

static void
test_follow_rotate(void **state)
{
	char dir[256], path[300], old[300];
	struct input_opts o = { 1, 0, 0 };
	struct input *in;
	int wfd;

	(void)state;
	tmp_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/access.log", dir);
	snprintf(old, sizeof(old), "%s/access.log.1", dir);
	write_file(path, "a1\n", 3);
	in = open_ok(path, &o);
	follow_expect(in, "a1", 1);
	follow_expect_again(in);

	/* The writer keeps its descriptor across the rename, as nginx
	 * does until it reopens its logs. */
	wfd = open(path, O_WRONLY | O_APPEND);
	assert_true(wfd >= 0);
	assert_int_equal(write(wfd, "a2\n", 3), 3);
	assert_int_equal(rename(path, old), 0);
	write_file(path, "b1\nb2\n", 6);
	assert_int_equal(write(wfd, "a3\nleft", 7), 7);
	close(wfd);

	/* The old file to its end first (its unfinished tail included),
	 * then the new one from its start, counted anew. */
	follow_expect(in, "a2", 2);
	follow_expect(in, "a3", 3);
	follow_expect(in, "left", 4);
	follow_expect(in, "b1", 1);
	follow_expect(in, "b2", 2);
	follow_expect_again(in);
	append_file(path, "b3\n");
	follow_expect(in, "b3", 3);
	input_free(in);
	unlink(path);
	unlink(old);
	rmdir(dir);
}

static void
test_follow_truncate(void **state)
{
	char dir[256], path[300];
	struct input_opts o = { 1, 0, 0 };
	struct input *in;
	int fd;

	(void)state;
	tmp_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/access.log", dir);
	write_file(path, "x1\nx2\npend", 10);
	in = open_ok(path, &o);
	follow_expect(in, "x1", 1);
	follow_expect(in, "x2", 2);
	follow_expect_again(in);
	/* copytruncate: same inode, shorter. */
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(write(fd, "y1\n", 3), 3);
	close(fd);
	follow_expect(in, "pend", 3); /* the pending tail, as a line */
	follow_expect(in, "y1", 1);
	follow_expect_again(in);
	input_free(in);
	unlink(path);
	rmdir(dir);
}

static void
test_follow_created_later(void **state)
{
	char dir[256], path[300];
	struct input_opts o = { 1, 1, 0 };
	struct input *in;

	(void)state;
	tmp_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/later.log", dir);
	in = open_ok(path, &o);
	assert_int_equal(input_size_hint(in), -1);
	follow_expect_again(in);
	input_wait(in, 60);
	follow_expect_again(in);
	/* Appearing after open: read from its start, even from_end. */
	write_file(path, "c1\nc2\n", 6);
	follow_expect(in, "c1", 1);
	follow_expect(in, "c2", 2);
	follow_expect_again(in);
	input_free(in);
	unlink(path);
	rmdir(dir);
}

static void
test_follow_from_end(void **state)
{
	char dir[256], path[300];
	struct input_opts o = { 1, 1, 0 };
	struct input *in;

	(void)state;
	tmp_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/access.log", dir);
	write_file(path, "skip1\nskip2\n", 12);
	in = open_ok(path, &o);
	follow_expect_again(in);
	append_file(path, "n1\n");
	follow_expect(in, "n1", 1);
	follow_expect_again(in);
	input_free(in);

	/* Not from the end: everything. */
	o.follow_from_end = 0;
	in = open_ok(path, &o);
	follow_expect(in, "skip1", 1);
	follow_expect(in, "skip2", 2);
	follow_expect(in, "n1", 3);
	follow_expect_again(in);
	input_free(in);
	unlink(path);
	rmdir(dir);
}

static void
test_follow_vanish_and_return(void **state)
{
	char dir[256], path[300];
	struct input_opts o = { 1, 0, 0 };
	struct input *in;

	(void)state;
	tmp_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/access.log", dir);
	write_file(path, "d1\n", 3);
	in = open_ok(path, &o);
	follow_expect(in, "d1", 1);
	assert_int_equal(unlink(path), 0);
	follow_expect_again(in);
	input_wait(in, 60);
	follow_expect_again(in); /* gone is not an error */
	write_file(path, "d2\n", 3);
	follow_expect(in, "d2", 1);
	follow_expect_again(in);
	input_free(in);
	unlink(path);
	rmdir(dir);
}

static void
test_follow_wait_bounded(void **state)
{
	char dir[256], path[300];
	struct input_opts o = { 1, 0, 0 };
	struct input *in;
	int64_t t0, dt;

	(void)state;
	tmp_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/access.log", dir);
	write_file(path, "w1\n", 3);
	in = open_ok(path, &o);
	follow_expect(in, "w1", 1);
	follow_expect_again(in);
	/* Nothing happens: sleeps about the timeout, no longer. */
	t0 = clock_mono_ns();
	input_wait(in, 150);
	dt = clock_mono_ns() - t0;
	assert_true(dt >= 140 * 1000000LL);
	assert_true(dt < 600 * 1000000LL);
	/* Data already there: back at once. */
	append_file(path, "w2\n");
	t0 = clock_mono_ns();
	input_wait(in, 1000);
	dt = clock_mono_ns() - t0;
	assert_true(dt < 100 * 1000000LL);
	expect_line(in, "w2", 2);
	input_free(in);

	/* Not following: never sleeps. */
	in = open_ok(path, NULL);
	t0 = clock_mono_ns();
	input_wait(in, 1000);
	assert_true(clock_mono_ns() - t0 < 100 * 1000000LL);
	input_free(in);
	unlink(path);
	rmdir(dir);
}

/* A too-long line in follow mode, then a rotation mid-discard. */
static void
test_follow_too_long(void **state)
{
	char dir[256], path[300], old[300], err[256];
	struct input_opts o = { 1, 0, 8 };
	struct input_line l;
	struct input *in;

	(void)state;
	tmp_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/access.log", dir);
	snprintf(old, sizeof(old), "%s/access.log.1", dir);
	write_file(path, "0123456789abcdef", 16);
	in = open_ok(path, &o);
	assert_int_equal(next_within(in, &l, 1000, err, sizeof(err)),
	    INPUT_LINE);
	assert_int_equal(l.too_long, 1);
	assert_span_equal(((struct span){ l.p, l.n }), "01234567");
	follow_expect_again(in);
	append_file(path, "more-of-the-same\nok\n");
	follow_expect(in, "ok", 2);
	append_file(path, "zzzzzzzzzzzzzzzzzzzz");
	assert_int_equal(next_within(in, &l, 1000, err, sizeof(err)),
	    INPUT_LINE);
	assert_int_equal(l.too_long, 1);
	assert_int_equal(rename(path, old), 0);
	write_file(path, "fresh\n", 6);
	/* The rest of the long line is not a line of the new file. */
	follow_expect(in, "fresh", 1);
	input_free(in);
	unlink(path);
	unlink(old);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_lines),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_no_trailing_newline),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_block_boundary),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_too_long_across_blocks),
		cmocka_unit_test(test_huge_line_memory_bounded),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_gzip_big),
		cmocka_unit_test(test_gzip_multimember),
		cmocka_unit_test(test_gzip_truncated),
		cmocka_unit_test(test_gzip_corrupt),
		cmocka_unit_test(test_gzip_junk),
		cmocka_unit_test(test_stdin_file),
		cmocka_unit_test(test_stdin_gzip_pipe),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_follow_append),
		cmocka_unit_test(test_follow_rotate),
		cmocka_unit_test(test_follow_truncate),
		cmocka_unit_test(test_follow_created_later),
		cmocka_unit_test(test_follow_from_end),
		cmocka_unit_test(test_follow_vanish_and_return),
		cmocka_unit_test(test_follow_wait_bounded),
		cmocka_unit_test(test_follow_too_long),
	};

	log_init("test_input", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
