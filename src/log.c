/*
 * Logging to stderr, in the style of OpenBSD's daemons: log_warn adds the
 * errno text, log_warnx does not; fatal/fatalx exit.  Verbosity: 0 shows
 * warnings, 1 adds info, 2 adds debug.
 *
 * Messages never carry secrets: callers pass redacted text (see the LAPI
 * and LLM clients), and nothing here prints its arguments' sources.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

static const char *log_progname = "anomaly-detect";
static int log_level;

void
log_init(const char *progname, int verbosity)
{
	if (progname != NULL)
		log_progname = progname;
	log_level = verbosity;
}

int
log_verbosity(void)
{
	return log_level;
}

static void log_vwrite(const char *, int, int, const char *, va_list)
    AD_VPRINTF(4);

static void
log_vwrite(const char *prefix, int with_errno, int saved_errno,
    const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, "%s: ", log_progname);
	if (prefix != NULL)
		buf_addstr(&b, prefix);
	buf_vaddf(&b, fmt, ap);
	if (with_errno)
		buf_addf(&b, ": %s", strerror(saved_errno));
	buf_addch(&b, '\n');
	fwrite(b.p, 1, b.len, stderr);
	fflush(stderr);
	buf_release(&b);
}

void
log_warn(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(NULL, 1, e, fmt, ap);
	va_end(ap);
	errno = e;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(NULL, 0, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_level < 1)
		return;
	va_start(ap, fmt);
	log_vwrite(NULL, 0, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_level < 2)
		return;
	va_start(ap, fmt);
	log_vwrite("debug: ", 0, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("fatal: ", 1, e, fmt, ap);
	va_end(ap);
	exit(2);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("fatal: ", 0, 0, fmt, ap);
	va_end(ap);
	exit(2);
}
