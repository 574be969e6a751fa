/*
 * Shared by the cmocka unit tests: headers in the order cmocka needs
 * them, and a few helpers for spans and temp files.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "anomaly.h"

/* Compare a span with a C string, printing both on failure. */
#define assert_span_equal(sp, str) do {                                  \
	struct span s_ = (sp);                                           \
	const char *e_ = (str);                                          \
	char *g_ = xstrndup(s_.p != NULL ? s_.p : "", s_.n);             \
	assert_string_equal(g_, e_);                                     \
	free(g_);                                                        \
} while (0)

/* Where shared scenarios live, or NULL (tests then skip). */
static inline const char *
test_shared_dir(void)
{
	static char path[4096];
	const char *env = getenv("AD_SHARED_DIR");
	FILE *f;

	if (env != NULL && *env != '\0')
		snprintf(path, sizeof(path), "%s", env);
	else
		snprintf(path, sizeof(path), "../shared");
	char probe[4200];
	snprintf(probe, sizeof(probe), "%s/scenarios/README.md", path);
	f = fopen(probe, "r");
	if (f == NULL)
		return NULL;
	fclose(f);
	return path;
}

/*
 * A fake server of tests/fakes (a Python script) run for a unit test: its
 * stdin is a pipe, and closing it makes it exit; the first line it prints
 * is its port on 127.0.0.1.
 */
struct fakeproc {
	pid_t pid;        /* -1: not running */
	int in_fd;
	int port;
	char base[64];    /* http://127.0.0.1:PORT and the given suffix */
};

/* tests/fakes/NAME from the tree's root, the build directory ($AD_BUILD)
 * or two levels down; $ENV first when set and readable.  NULL if none. */
static inline const char *
fakeproc_path(const char *name, const char *env)
{
	static char path[4096];
	const char *e = env != NULL ? getenv(env) : NULL;
	const char *build = getenv("AD_BUILD");

	if (e != NULL && access(e, R_OK) == 0)
		return e;
	snprintf(path, sizeof(path), "tests/fakes/%s", name);
	if (access(path, R_OK) == 0)
		return path;
	if (build != NULL) {
		snprintf(path, sizeof(path), "%s/../../tests/fakes/%s", build,
		    name);
		if (access(path, R_OK) == 0)
			return path;
	}
	snprintf(path, sizeof(path), "../../tests/fakes/%s", name);
	if (access(path, R_OK) == 0)
		return path;
	return NULL;
}

/* Starts python3 PATH --max-seconds 120 EXTRA... (NULL-terminated); -1
 * if path is NULL or the fake does not come up within 15 s. */
static inline int
fakeproc_start(struct fakeproc *f, const char *path,
    const char *const *extra, const char *base_suffix)
{
	const char *argv[16];
	int in[2], out[2];
	size_t n = 0, got = 0;
	char line[32];
	uint64_t port = 0;

	memset(f, 0, sizeof(*f));
	f->pid = -1;
	if (path == NULL)
		return -1;
	argv[n++] = "python3";
	argv[n++] = path;
	argv[n++] = "--max-seconds";
	argv[n++] = "120";
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 15; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (pipe(in) != 0)
		return -1;
	if (pipe(out) != 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	f->pid = fork();
	if (f->pid < 0) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return -1;
	}
	if (f->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	f->in_fd = in[1];
	fcntl(f->in_fd, F_SETFD, FD_CLOEXEC);
	while (got < sizeof(line) - 1) {
		struct pollfd pfd = { out[0], POLLIN, 0 };
		ssize_t r;
		if (poll(&pfd, 1, 15000) <= 0)
			break;
		r = read(out[0], line + got, 1);
		if (r <= 0 || line[got] == '\n')
			break;
		got += (size_t)r;
	}
	close(out[0]);
	line[got] = '\0';
	if (parse_u64(span_str(line), &port) != 0 || port == 0 ||
	    port > 65535) {
		close(f->in_fd);
		kill(f->pid, SIGKILL);
		waitpid(f->pid, NULL, 0);
		f->pid = -1;
		return -1;
	}
	f->port = (int)port;
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d%s", f->port,
	    base_suffix);
	return 0;
}

/* Closes its stdin and waits up to 2 s before killing it. */
static inline void
fakeproc_stop(struct fakeproc *f)
{
	if (f->pid <= 0)
		return;
	close(f->in_fd);
	for (int i = 0; i < 200; i++) {
		if (waitpid(f->pid, NULL, WNOHANG) == f->pid) {
			f->pid = -1;
			return;
		}
		usleep(10000);
	}
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
	f->pid = -1;
}

#endif
