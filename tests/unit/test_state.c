/*
 * The dedup state file: round trips, expiry, the size cap, corrupt files
 * set aside, the lock, temp files, and saves killed at random moments.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <time.h>

#include "testutil.h"

#define SEC INT64_C(1000000000)
#define NOW (INT64_C(1764093832) * SEC)

static char tdir[256];
static char spath[300];

static int
setup(void **unused)
{
	snprintf(tdir, sizeof(tdir), "/tmp/test_state.XXXXXX");
	if (mkdtemp(tdir) == NULL)
		return -1;
	snprintf(spath, sizeof(spath), "%s/state.json", tdir);
	return 0;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* rm -rf tdir: tests leave directories behind when they fail. */
static int
teardown(void **unused)
{
	nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Names in tdir starting with prefix. */
static int
count_files(const char *prefix)
{
	DIR *d = opendir(tdir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static void
write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static char *
read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *p = xmalloc(1 << 22);

	assert_non_null(f);
	*n = fread(p, 1, (1 << 22) - 1, f);
	p[*n] = '\0';
	fclose(f);
	return p;
}

static void
add(struct state *st, const char *v, const char *scen, const char *id,
    int64_t until)
{
	char err[256];

	if (state_add(st, v, scen, id, until, NOW, err, sizeof(err)) != 0)
		fail_msg("state_add %s: %s", v, err);
}

static void
test_round_trip(void **unused)
{
	struct state a, b;
	const struct state_entry *e;
	struct stat sb;
	char err[256];
	size_t n;
	char *doc;

	state_init(&a);
	state_init(&b);
	assert_int_equal(state_load(&a, spath, NOW, err, sizeof(err)), 0);
	assert_int_equal(a.n, 0); /* missing file: empty */
	add(&a, "203.0.113.7", "anomaly-detect/http-probing", "12",
	    NOW + 4 * 3600 * SEC);
	add(&a, "2001:DB8:0:0::1", "anomaly-detect/flood", "13",
	    NOW + 3600 * SEC + 123456789);
	add(&a, "198.51.100.0/24", "anomaly-detect/distributed", "14",
	    NOW + 7200 * SEC);
	assert_int_equal(state_save(&a, NOW, err, sizeof(err)), 0);
	assert_int_equal(stat(spath, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	doc = read_file(spath, &n);
	assert_non_null(strstr(doc, "{\"version\":1,\"entries\":["));
	assert_non_null(strstr(doc, "\"value\":\"2001:db8::1\""));
	free(doc);

	assert_int_equal(state_load(&b, spath, NOW + SEC, err, sizeof(err)), 0);
	assert_int_equal(b.n, 3);
	e = state_find(&b, "203.0.113.7", NOW + SEC);
	assert_non_null(e);
	assert_string_equal(e->scope, "Ip");
	assert_string_equal(e->scenario, "anomaly-detect/http-probing");
	assert_string_equal(e->alert_id, "12");
	assert_true(e->until_ns == NOW + 4 * 3600 * SEC);
	assert_true(e->created_ns == NOW);
	/* Another spelling of the same address finds it; ns survive. */
	e = state_find(&b, "2001:db8::0:1", NOW);
	assert_non_null(e);
	assert_true(e->until_ns == NOW + 3600 * SEC + 123456789);
	e = state_find(&b, "198.51.100.0/24", NOW);
	assert_non_null(e);
	assert_string_equal(e->scope, "Range");
	assert_null(state_find(&b, "198.51.100.1", NOW));
	assert_null(state_find(&b, "not an ip", NOW));
	assert_null(state_find(&b, "", NOW));

	/* A range covers its addresses. */
	struct ipaddr ip;
	assert_int_equal(ipaddr_parse(span_str("198.51.100.77"), &ip), 0);
	e = state_find_covering(&b, &ip, NOW);
	assert_non_null(e);
	assert_string_equal(e->value, "198.51.100.0/24");
	assert_int_equal(ipaddr_parse(span_str("198.51.101.1"), &ip), 0);
	assert_null(state_find_covering(&b, &ip, NOW));

	/* Replace keeps one entry per value; remove. */
	add(&b, "203.0.113.7", "anomaly-detect/other", "99", NOW + 10 * SEC);
	assert_int_equal(b.n, 3);
	assert_string_equal(state_find(&b, "203.0.113.7", NOW)->alert_id, "99");
	assert_int_equal(state_remove(&b, "203.0.113.7"), 1);
	assert_int_equal(state_remove(&b, "203.0.113.7"), 0);
	assert_int_equal(state_remove(&b, "junk"), 0);
	assert_int_equal(b.n, 2);
	assert_int_equal(count_files("state.json.tmp"), 0);
	assert_int_equal(count_files("state.json.corrupt"), 0);
	state_release(&a);
	state_release(&b);
}

static void
test_bad_values(void **unused)
{
	struct state st;
	char err[256];

	state_init(&st);
	assert_int_equal(state_add(&st, "10.0.0.1/8", "s", "1", NOW + SEC, NOW,
	    err, sizeof(err)), -1);
	assert_int_equal(state_add(&st, "300.1.1.1", "s", "1", NOW + SEC, NOW,
	    err, sizeof(err)), -1);
	assert_int_equal(state_add(&st, "1.2.3.4\x01", "s", "1", NOW + SEC, NOW,
	    err, sizeof(err)), -1);
	assert_null(strchr(err, '\x01')); /* escaped in the message */
	assert_int_equal(state_add(&st, "1.2.3.4", "s", "this alert id is far "
	    "too long to be one of LAPI's", NOW + SEC, NOW, err, sizeof(err)),
	    -1);
	assert_int_equal(state_add(&st, "1.2.3.4", "s", "1", TIME_NONE, NOW,
	    err, sizeof(err)), -1);
	assert_int_equal(st.n, 0);
	state_release(&st);
}

static void
test_expiry(void **unused)
{
	struct state st;
	char err[256];
	size_t n;
	char *doc;

	state_init(&st);
	assert_int_equal(state_load(&st, spath, NOW, err, sizeof(err)), 0);
	add(&st, "192.0.2.1", "s", "1", NOW + 10 * SEC);
	add(&st, "192.0.2.2", "s", "2", NOW + 100 * SEC);
	add(&st, "192.0.2.3", "s", "3", NOW + 1000 * SEC);
	/* Lookups honour expiry before any pruning. */
	assert_non_null(state_find(&st, "192.0.2.1", NOW + 9 * SEC));
	assert_null(state_find(&st, "192.0.2.1", NOW + 10 * SEC));
	/* Saving later drops what expired by then. */
	assert_int_equal(state_save(&st, NOW + 50 * SEC, err, sizeof(err)), 0);
	doc = read_file(spath, &n);
	assert_null(strstr(doc, "192.0.2.1\""));
	assert_non_null(strstr(doc, "192.0.2.2\""));
	free(doc);
	/* Loading later drops what expired since. */
	assert_int_equal(state_load(&st, spath, NOW + 500 * SEC, err,
	    sizeof(err)), 0);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.v[0].value, "192.0.2.3");
	assert_int_equal(count_files("state.json.corrupt"), 0);
	state_release(&st);
}

static void
test_size_cap(void **unused)
{
	struct state st, b;
	char err[256], v[32];

	state_init(&st);
	state_init(&b);
	st.max_entries = 5;
	/* until rises with i except for two short ones in the middle. */
	for (int i = 0; i < 8; i++) {
		int64_t until = NOW + (100 + i) * SEC;
		if (i == 3 || i == 4)
			until = NOW + SEC * (1 + i);
		snprintf(v, sizeof(v), "192.0.2.%d", i + 1);
		add(&st, v, "s", "1", until);
		assert_true(st.n <= 5);
	}
	assert_int_equal(st.n, 5);
	assert_int_equal(st.dropped_cap, 3);
	/* The ones expiring first went: .4, .5 (short) and .1. */
	assert_null(state_find(&st, "192.0.2.4", NOW));
	assert_null(state_find(&st, "192.0.2.5", NOW));
	assert_null(state_find(&st, "192.0.2.1", NOW));
	assert_non_null(state_find(&st, "192.0.2.2", NOW));
	assert_non_null(state_find(&st, "192.0.2.8", NOW));

	/* The cap applies on load too, dropping several at once. */
	state_load(&st, spath, NOW, err, sizeof(err));
	st.max_entries = 100;
	for (int i = 0; i < 50; i++) {
		snprintf(v, sizeof(v), "198.51.100.%d", i);
		add(&st, v, "s", "1", NOW + (1000 - i) * SEC);
	}
	assert_int_equal(state_save(&st, NOW, err, sizeof(err)), 0);
	b.max_entries = 20;
	assert_int_equal(state_load(&b, spath, NOW, err, sizeof(err)), 0);
	assert_int_equal(b.n, 20);
	assert_int_equal(b.dropped_cap, 30);
	assert_non_null(state_find(&b, "198.51.100.0", NOW));
	assert_non_null(state_find(&b, "198.51.100.19", NOW));
	assert_null(state_find(&b, "198.51.100.20", NOW));
	state_release(&st);
	state_release(&b);
}

/* A file that is not a good state: load says 0, is empty, and the file
 * is kept aside byte for byte. */
static void
check_corrupt(const void *p, size_t n)
{
	struct state st;
	char err[256], aside[400];
	size_t got;
	char *back;

	teardown(NULL);
	assert_int_equal(mkdir(tdir, 0700), 0);
	write_file(spath, p, n);
	state_init(&st);
	assert_int_equal(state_load(&st, spath, NOW, err, sizeof(err)), 0);
	assert_int_equal(st.n, 0);
	assert_int_equal(access(spath, F_OK), -1);
	snprintf(aside, sizeof(aside), "%s.corrupt-20251125T180352Z", spath);
	back = read_file(aside, &got);
	assert_int_equal(got, n);
	assert_memory_equal(back, p, n);
	free(back);
	/* The run goes on: the next save works. */
	add(&st, "192.0.2.9", "s", "1", NOW + SEC);
	assert_int_equal(state_save(&st, NOW, err, sizeof(err)), 0);
	state_release(&st);
}

static void
test_corrupt(void **unused)
{
	static const char truncated[] = "{\"version\":1,\"entries\":[\n"
	    "{\"value\":\"203.0.113.7\",\"scope\":\"Ip\",\"scen";
	static const unsigned char binary[] = { 0x7f, 'E', 'L', 'F', 0, 0, 1,
	    0xff, 0xfe, 0x80, 0x00, 0x42 };
	static const char version[] = "{\"version\":2,\"entries\":[]}";
	static const char noversion[] = "{\"entries\":[]}";
	static const char badip[] = "{\"version\":1,\"entries\":[{\"value\":"
	    "\"203.0.113.999\",\"scope\":\"Ip\",\"scenario\":\"s\",\"until\":"
	    "\"2030-01-01T00:00:00Z\",\"alert_id\":\"1\",\"created\":"
	    "\"2025-01-01T00:00:00Z\"}]}";
	static const char badscope[] = "{\"version\":1,\"entries\":[{\"value\":"
	    "\"203.0.113.9\",\"scope\":\"Range\",\"scenario\":\"s\",\"until\":"
	    "\"2030-01-01T00:00:00Z\",\"alert_id\":\"1\",\"created\":"
	    "\"2025-01-01T00:00:00Z\"}]}";
	static const char badtime[] = "{\"version\":1,\"entries\":[{\"value\":"
	    "\"203.0.113.9\",\"scope\":\"Ip\",\"scenario\":\"s\",\"until\":"
	    "\"tomorrow\",\"alert_id\":\"1\",\"created\":"
	    "\"2025-01-01T00:00:00Z\"}]}";
	static const char dupkey[] = "{\"version\":1,\"version\":1,"
	    "\"entries\":[]}";
	static const char badutf8[] = "{\"version\":1,\"entries\":[{\"value\":"
	    "\"203.0.113.9\",\"scope\":\"Ip\",\"scenario\":\"\xc3\x28\","
	    "\"until\":\"2030-01-01T00:00:00Z\",\"alert_id\":\"1\","
	    "\"created\":\"2025-01-01T00:00:00Z\"}]}";

	check_corrupt(truncated, sizeof(truncated) - 1);
	check_corrupt(binary, sizeof(binary));
	check_corrupt(version, sizeof(version) - 1);
	check_corrupt(noversion, sizeof(noversion) - 1);
	check_corrupt(badip, sizeof(badip) - 1);
	check_corrupt(badscope, sizeof(badscope) - 1);
	check_corrupt(badtime, sizeof(badtime) - 1);
	check_corrupt(dupkey, sizeof(dupkey) - 1);
	check_corrupt(badutf8, sizeof(badutf8) - 1);
	check_corrupt("", 0);
}

static void
test_corrupt_twice(void **unused)
{
	struct state st;
	char err[256], p[400];

	state_init(&st);
	write_file(spath, "junk", 4);
	assert_int_equal(state_load(&st, spath, NOW, err, sizeof(err)), 0);
	write_file(spath, "more junk", 9);
	assert_int_equal(state_load(&st, spath, NOW, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s.corrupt-20251125T180352Z", spath);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s.corrupt-20251125T180352Z-1", spath);
	assert_int_equal(access(p, F_OK), 0);
	assert_int_equal(count_files("state.json.corrupt"), 2);
	state_release(&st);
}

static void
test_parse_expired_and_dups(void **unused)
{
	static const char doc[] = "{\"version\":1,\"extra\":true,\"entries\":["
	    "{\"value\":\"2001:db8::1\",\"scope\":\"Ip\",\"scenario\":\"a\","
	    "\"until\":\"2030-01-01T00:00:00Z\",\"alert_id\":\"1\","
	    "\"created\":\"2025-01-01T00:00:00Z\"},"
	    "{\"value\":\"2001:DB8:0::1\",\"scope\":\"Ip\",\"scenario\":\"b\","
	    "\"until\":\"2031-01-01T00:00:00Z\",\"alert_id\":\"2\","
	    "\"created\":\"2025-01-01T00:00:00Z\"},"
	    "{\"value\":\"192.0.2.1\",\"scope\":\"Ip\",\"scenario\":\"c\","
	    "\"until\":\"2020-01-01T00:00:00Z\",\"alert_id\":\"3\","
	    "\"created\":\"2019-01-01T00:00:00Z\"}]}";
	struct state st;
	char err[256];

	state_init(&st);
	assert_int_equal(state_parse(&st, doc, sizeof(doc) - 1, NOW, err,
	    sizeof(err)), 0);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.v[0].value, "2001:db8::1");
	assert_string_equal(st.v[0].alert_id, "2"); /* the later expiry */
	/* A failed parse leaves nothing behind. */
	assert_int_equal(state_parse(&st, doc, sizeof(doc) - 3, NOW, err,
	    sizeof(err)), -1);
	assert_int_equal(st.n, 0);
	assert_non_null(strstr(err, "not JSON"));
	state_release(&st);
}

static void
test_lock(void **unused)
{
	struct state a, b;
	char err[256];
	int pfd[2], status;
	pid_t pid;
	char c;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct state cs;
		char e[256];
		state_init(&cs);
		close(pfd[0]);
		if (state_lock(&cs, spath, e, sizeof(e)) != 0)
			_exit(2);
		if (write(pfd[1], "L", 1) != 1)
			_exit(6);
		pause(); /* killed by the parent */
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	state_init(&a);
	assert_int_equal(state_lock(&a, spath, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "another anomaly-detect run holds the "
	    "state lock"));
	assert_non_null(strstr(err, "state.json.lock"));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(pfd[0]);
	/* The holder died: its lock went with it. */
	assert_int_equal(state_lock(&a, spath, err, sizeof(err)), 0);
	/* Held in this process too: a second holder is refused. */
	state_init(&b);
	assert_int_equal(state_lock(&b, spath, err, sizeof(err)), -1);
	state_release(&a);
	assert_int_equal(state_lock(&b, spath, err, sizeof(err)), 0);
	state_release(&b);
}

static void
test_temp_files(void **unused)
{
	struct state st;
	char err[256], stale[400], dirpath[400];

	state_init(&st);
	/* Left by a killed run: removed by a load under the lock. */
	snprintf(stale, sizeof(stale), "%s.tmp.99999", spath);
	write_file(stale, "{", 1);
	assert_int_equal(state_load(&st, spath, NOW, err, sizeof(err)), 0);
	assert_int_equal(access(stale, F_OK), 0); /* no lock: kept */
	assert_int_equal(state_lock(&st, spath, err, sizeof(err)), 0);
	assert_int_equal(state_load(&st, spath, NOW, err, sizeof(err)), 0);
	assert_int_equal(access(stale, F_OK), -1);

	for (int i = 0; i < 20; i++) {
		char v[32];
		snprintf(v, sizeof(v), "192.0.2.%d", i);
		add(&st, v, "s", "1", NOW + 60 * SEC);
		assert_int_equal(state_save(&st, NOW, err, sizeof(err)), 0);
	}
	assert_int_equal(count_files("state.json.tmp"), 0);

	/* A save that fails at the rename leaves no temp file and the
	 * path as it was. */
	state_release(&st);
	state_init(&st);
	snprintf(dirpath, sizeof(dirpath), "%s/sub", tdir);
	assert_int_equal(mkdir(dirpath, 0700), 0);
	snprintf(dirpath, sizeof(dirpath), "%s/sub/state.json", tdir);
	assert_int_equal(mkdir(dirpath, 0700), 0);
	snprintf(stale, sizeof(stale), "%s/sub/state.json/x", tdir);
	write_file(stale, "x", 1);
	assert_int_equal(state_load(&st, dirpath, NOW, err, sizeof(err)), -1);
	add(&st, "192.0.2.1", "s", "1", NOW + 60 * SEC);
	assert_int_equal(state_save(&st, NOW, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "renaming"));
	snprintf(stale, sizeof(stale), "%s/sub/state.json.tmp.%ld", tdir,
	    (long)getpid());
	assert_int_equal(access(stale, F_OK), -1);
	snprintf(stale, sizeof(stale), "%s/sub/state.json/x", tdir);
	unlink(stale);
	rmdir(dirpath);
	snprintf(dirpath, sizeof(dirpath), "%s/sub", tdir);
	rmdir(dirpath);
	state_release(&st);
}

/*
 * A save killed at any moment leaves the old file or the new one.  The
 * child saves two big states in turn; every entry of a generation carries
 * its mark, so a file mixing them, cut short or empty would show.  Kills
 * land within a few save-lengths of the child's start, as measured here,
 * so most of them hit a save whatever the build's speed.
 */
#define GEN_A 1000
#define GEN_B 600

static void
make_gen(struct state *st, unsigned gen)
{
	char err[256], v[48], scen[32];
	size_t n = gen % 2 == 0 ? GEN_A : GEN_B;

	st->n = 0;
	snprintf(scen, sizeof(scen), "gen-%u", gen);
	for (size_t i = 0; i < n; i++) {
		snprintf(v, sizeof(v), "2001:db8::%zx:%x", i, gen);
		if (state_add(st, v, scen, "1", NOW + 3600 * SEC, NOW, err,
		    sizeof(err)) != 0)
			fail_msg("state_add: %s", err);
	}
}

/* The states are built by the parent once; each child gets them with
 * fork and only saves. */
static void
child_saver(int ready, struct state *a, struct state *b)
{
	char err[256];

	if (write(ready, "R", 1) != 1)
		_exit(5);
	for (unsigned i = 0;; i++)
		if (state_save(i % 2 == 0 ? b : a, NOW, err,
		    sizeof(err)) != 0)
			_exit(4);
}

static void
test_crash(void **unused)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int64_t t0, save_ns;
	int kills = 0, seen_full = 0, mid_save = 0;
	struct state st, ga, gb;
	char err[256];

	state_init(&ga);
	state_init(&gb);
	make_gen(&ga, 2);
	make_gen(&gb, 3);
	ga.path = xstrdup(spath);
	gb.path = xstrdup(spath);
	/* A first generation on disk; how long a save takes here. */
	state_init(&st);
	st.path = xstrdup(spath);
	make_gen(&st, 0);
	t0 = clock_mono_ns();
	assert_int_equal(state_save(&st, NOW, err, sizeof(err)), 0);
	save_ns = clock_mono_ns() - t0;
	state_release(&st);
	if (save_ns < 200000)
		save_ns = 200000;

	/* 200 kills, or as many as fit in 3 s on a slow or busy machine. */
	t0 = clock_mono_ns();
	for (int iter = 0; iter < 200; iter++) {
		struct timespec ts;
		int status, pfd[2];
		char c;
		pid_t pid;

		if (clock_mono_ns() - t0 > 3 * SEC)
			break;
		assert_int_equal(pipe(pfd), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			child_saver(pfd[1], &ga, &gb);
		}
		close(pfd[1]);
		assert_int_equal(read(pfd[0], &c, 1), 1);
		close(pfd[0]);
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		int64_t d = (int64_t)((seed >> 33) % (uint64_t)(3 * save_ns));
		ts.tv_sec = (time_t)(d / SEC);
		ts.tv_nsec = (long)(d % SEC);
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFEXITED(status))
			fail_msg("saver exited %d", WEXITSTATUS(status));
		kills++;

		state_init(&st);
		assert_int_equal(state_load(&st, spath, NOW, err, sizeof(err)), 0);
		assert_int_equal(count_files("state.json.corrupt"), 0);
		/* Never empty: the first generation was there before. */
		assert_true(st.n > 0);
		for (size_t i = 1; i < st.n; i++)
			assert_string_equal(st.v[i].scenario, st.v[0].scenario);
		unsigned gen = (unsigned)strtoul(st.v[0].scenario + 4, NULL, 10);
		assert_int_equal(st.n, gen % 2 == 0 ? GEN_A : GEN_B);
		if (gen != 0)
			seen_full++;
		state_release(&st);
		/* A temp file means the kill landed inside a save. */
		char tmp[400];
		snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", spath, (long)pid);
		if (unlink(tmp) == 0)
			mid_save++;
	}
	state_release(&ga);
	state_release(&gb);
	print_message("crash test: %d kills, %d inside a save, %d loads of a "
	    "later generation (save: %.2f ms)\n", kills, mid_save, seen_full,
	    (double)save_ns / 1e6);
	assert_true(kills >= 20);
	assert_true(mid_save >= kills / 10);
	assert_true(seen_full > 0);
}

static void
test_default_path(void **unused)
{
	char home[300], want[1024], got[1024], err[256];
	int pfd[2], status;
	struct stat sb;
	pid_t pid;
	ssize_t n;

	/* As root the path is /var/lib/...; the user path is tested in a
	 * child that drops to nobody, so nothing outside tdir is made. */
	snprintf(home, sizeof(home), "%s/home", tdir);
	assert_int_equal(chmod(tdir, 0711), 0);
	assert_int_equal(mkdir(home, 0777), 0);
	assert_int_equal(chmod(home, 0777), 0);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char out[512], e[256], x[450];
		close(pfd[0]);
		if (geteuid() == 0 && (setgid(65534) != 0 ||
		    setuid(65534) != 0))
			_exit(2);
		setenv("HOME", home, 1);
		unsetenv("XDG_STATE_HOME");
		if (state_default_path(out, sizeof(out), e, sizeof(e)) != 0)
			_exit(3);
		if (write(pfd[1], out, strlen(out)) < 0 ||
		    write(pfd[1], "\n", 1) < 0)
			_exit(6);
		/* XDG_STATE_HOME wins when absolute, is ignored when not. */
		snprintf(x, sizeof(x), "%s/xdg/", home);
		setenv("XDG_STATE_HOME", x, 1);
		if (state_default_path(out, sizeof(out), e, sizeof(e)) != 0)
			_exit(4);
		if (write(pfd[1], out, strlen(out)) < 0 ||
		    write(pfd[1], "\n", 1) < 0)
			_exit(6);
		setenv("XDG_STATE_HOME", "relative/dir", 1);
		unsetenv("HOME");
		if (state_default_path(out, sizeof(out), e, sizeof(e)) == 0)
			_exit(5);
		_exit(0);
	}
	close(pfd[1]);
	n = 0;
	for (;;) {
		ssize_t r = read(pfd[0], got + n, sizeof(got) - 1 - (size_t)n);
		if (r <= 0)
			break;
		n += r;
	}
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fail_msg("child killed by signal %d", WTERMSIG(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(n > 0);
	got[n] = '\0';
	snprintf(want, sizeof(want), "%s/.local/state/anomaly-detect/"
	    "state.json\n%s/xdg/anomaly-detect/state.json\n", home, home);
	assert_string_equal(got, want);
	snprintf(want, sizeof(want), "%s/.local/state/anomaly-detect", home);
	assert_int_equal(stat(want, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(want, sizeof(want), "%s/.local", home);
	assert_int_equal(stat(want, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	(void)err;
	/* Clean up what the child made (owned by nobody: we are root). */
	const char *made[] = { "/.local/state/anomaly-detect",
	    "/.local/state", "/.local", "/xdg/anomaly-detect", "/xdg", "" };
	for (size_t i = 0; i < ARRAY_LEN(made); i++) {
		snprintf(want, sizeof(want), "%s%s", home, made[i]);
		rmdir(want);
	}
}

static void
test_parse_junk(void **unused)
{
	static const char *const junk[] = {
		"null", "[]", "1", "\"x\"", "{\"version\":1}",
		"{\"version\":\"1\",\"entries\":[]}",
		"{\"version\":1.0,\"entries\":[]}",
		"{\"version\":1,\"entries\":{}}",
		"{\"version\":1,\"entries\":[1]}",
		"{\"version\":1,\"entries\":[{}]}",
		"{\"version\":1,\"entries\":[]}garbage",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
	};
	struct state st;
	char err[256];

	state_init(&st);
	for (size_t i = 0; i < ARRAY_LEN(junk); i++) {
		err[0] = '\0';
		assert_int_equal(state_parse(&st, junk[i], strlen(junk[i]), NOW,
		    err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
		assert_int_equal(st.n, 0);
	}
	static const char empty[] = "{\"version\":1,\"entries\":[]}";
	assert_int_equal(state_parse(&st, empty, sizeof(empty) - 1, NOW, err,
	    sizeof(err)), 0);
	/* An embedded NUL in a JSON string is not a value. */
	static const char nul[] = "{\"version\":1,\"entries\":[{\"value\":"
	    "\"1.2.3.4\\u0000x\",\"scope\":\"Ip\",\"scenario\":\"s\","
	    "\"until\":\"2030-01-01T00:00:00Z\",\"alert_id\":\"1\","
	    "\"created\":\"2025-01-01T00:00:00Z\"}]}";
	assert_int_equal(state_parse(&st, nul, sizeof(nul) - 1, NOW, err,
	    sizeof(err)), -1);
	state_release(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_twice, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_parse_expired_and_dups,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temp_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_path, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_parse_junk, setup, teardown),
	};

	log_init("test_state", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
