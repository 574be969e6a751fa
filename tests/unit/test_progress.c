/*
 * progress.c: silent unless stderr is a terminal; NULL-safe; on a real
 * pseudo-terminal it draws the line and erases it at the end.
 */
#include "testutil.h"

#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

static int saved_stderr = -1;

static void
stderr_to(int fd)
{
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
}

static void
stderr_restore(void)
{
	assert_true(dup2(saved_stderr, STDERR_FILENO) == STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void
test_null_everywhere(void **state)
{
	(void)state;
	progress_update(NULL, 1, 1);
	progress_update(NULL, UINT64_MAX, UINT64_MAX);
	progress_free(NULL);
}

static void
test_not_a_tty(void **state)
{
	int fd = open("/dev/null", O_WRONLY);

	(void)state;
	assert_true(fd >= 0);
	stderr_to(fd);
	close(fd);
	assert_null(progress_new(1000));
	assert_null(progress_new(-1));
	stderr_restore();
}

/* A pseudo-terminal as stderr; the master side in *master.  0 if the
 * machine has none. */
static int
pty_stderr(int *master)
{
	char *name;
	int m, s;

	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0)
		return 0;
	if (grantpt(m) != 0 || unlockpt(m) != 0 ||
	    (name = ptsname(m)) == NULL ||
	    (s = open(name, O_RDWR | O_NOCTTY)) < 0) {
		close(m);
		return 0;
	}
	stderr_to(s);
	close(s);
	*master = m;
	return 1;
}

static size_t
drain(int m, char *out, size_t outlen)
{
	struct pollfd pfd = { m, POLLIN, 0 };
	size_t len = 0;
	ssize_t r;

	while (len + 1 < outlen && poll(&pfd, 1, 100) == 1) {
		r = read(m, out + len, outlen - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	out[len] = '\0';
	return len;
}

static void
test_draws_on_tty(void **state)
{
	struct progress *p;
	char out[4096];
	int m;

	(void)state;
	unsetenv("NO_PROGRESS");
	setenv("TERM", "xterm", 1);
	if (!pty_stderr(&m)) {
		skip();
		return;
	}
	/* NO_PROGRESS turns it off even on a terminal. */
	setenv("NO_PROGRESS", "1", 1);
	assert_null(progress_new(1000));
	unsetenv("NO_PROGRESS");

	/* A quick load never shows anything, not even the erase. */
	p = progress_new(1000);
	assert_non_null(p);
	progress_update(p, 500, 5000);
	progress_free(p);

	/* A slow one does: bytes, total, percent, then the erase. */
	p = progress_new(1000);
	assert_non_null(p);
	sleep_ms(350);
	progress_update(p, 500, 5000);
	progress_free(p);

	/* Unknown total: no percent. */
	p = progress_new(-1);
	assert_non_null(p);
	sleep_ms(350);
	for (int i = 1; i <= 5000; i++)
		progress_update(p, (uint64_t)i * 100, (uint64_t)i);
	progress_free(p);
	stderr_restore();

	drain(m, out, sizeof(out));
	close(m);
	assert_non_null(strstr(out, "    500 B / 1000 B"));
	assert_non_null(strstr(out, " 50%"));
	assert_non_null(strstr(out, "rows/s"));
	assert_non_null(strstr(out, "\r\033[K"));
	/* Exactly two bars and two erases. */
	assert_int_equal(out[0], '\r');
	{
		int bars = 0, erases = 0;
		const char *s;

		for (s = out; (s = strstr(s, "\r\033[K")) != NULL; s++)
			erases++;
		for (s = out; (s = strstr(s, " rows")) != NULL; s++)
			bars++;
		assert_int_equal(erases, 2);
		assert_true(bars >= 2);
	}
	/* The second bar had no total: no percent sign after it. */
	{
		const char *second = strstr(out + 1, "\r\033[K");

		assert_non_null(second);
		assert_null(strchr(second + 4, '%'));
		assert_non_null(strstr(second, "400.0 KiB     4096 rows"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_everywhere),
		cmocka_unit_test(test_not_a_tty),
		cmocka_unit_test(test_draws_on_tty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
