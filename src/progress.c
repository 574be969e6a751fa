/*
 * A one-line progress bar on stderr for long loads:
 *
 *   1.2 GiB / 4.0 GiB  30% [======>         ]  85.3 MiB/s  1.20M rows/s  ETA 0:35
 *
 * Only on a terminal (and not when NO_PROGRESS is set or TERM=dumb), and
 * only once a load has run for a moment, so quick runs never flash a bar.
 * The caller may call progress_update for every row: the clock is read
 * only every few thousand rows and the line redrawn at most 10 times a
 * second.  A NULL progress is valid everywhere, so callers need no checks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "anomaly.h"

#define CHECK_EVERY    4096                  /* rows, or calls */
#define REDRAW_NS      (100 * 1000000LL)     /* at most 10 a second */
#define FIRST_DRAW_NS  (300 * 1000000LL)     /* quiet for quick loads */
#define BAR_MAX        30
#define BAR_MIN        8

struct progress {
	int64_t total;     /* bytes; <= 0 when unknown */
	int64_t t0;
	int64_t last_draw;
	uint64_t check_at; /* rows at which to read the clock next */
	unsigned calls;    /* calls since the clock was read */
	int cols;
	int drawn;
};

static void
write_all(const char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = write(STDERR_FILENO, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return; /* a progress bar is not worth an error */
		p += r;
		n -= (size_t)r;
	}
}

static int
term_cols(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

struct progress *
progress_new(int64_t total_bytes)
{
	struct progress *p;
	const char *term;

	if (getenv("NO_PROGRESS") != NULL || !isatty(STDERR_FILENO))
		return NULL;
	term = getenv("TERM");
	if (term != NULL && strcmp(term, "dumb") == 0)
		return NULL; /* no \r and escape codes there */
	p = xcalloc(1, sizeof(*p));
	p->total = total_bytes;
	p->t0 = clock_mono_ns();
	p->last_draw = p->t0;
	p->check_at = CHECK_EVERY;
	p->cols = term_cols();
	return p;
}

static void
fmt_eta(char *out, size_t outlen, double secs)
{
	unsigned long s;

	if (secs < 0 || secs > 100.0 * 3600)
		snprintf(out, outlen, "--:--");
	else {
		s = (unsigned long)(secs + 0.5);
		if (s >= 3600)
			snprintf(out, outlen, "%lu:%02lu:%02lu", s / 3600,
			    s / 60 % 60, s % 60);
		else
			snprintf(out, outlen, "%lu:%02lu", s / 60, s % 60);
	}
}

static void
draw(struct progress *p, uint64_t bytes, uint64_t rows, int64_t now)
{
	char line[512], done[32], total[32], brate[32], rrate[32], eta[32];
	char bar[BAR_MAX + 3];
	double secs = (double)(now - p->t0) / 1e9;
	double bps = secs > 0 ? (double)bytes / secs : 0;
	double rps = secs > 0 ? (double)rows / secs : 0;
	double frac;
	size_t len, width, fill, i;
	int n;

	fmt_bytes(done, sizeof(done), (double)bytes);
	fmt_bytes(brate, sizeof(brate), bps);
	fmt_count(rrate, sizeof(rrate), rps);
	if (p->total > 0) {
		frac = (double)bytes / (double)p->total;
		if (frac > 1)
			frac = 1;
		fmt_bytes(total, sizeof(total), (double)p->total);
		fmt_eta(eta, sizeof(eta), bps > 0 ?
		    ((double)p->total - (double)bytes) / bps : -1);
		/* The bar gets what the text leaves of the line. */
		n = snprintf(NULL, 0, "%9s / %s %3d%%   %9s/s %7s rows/s  ETA %s",
		    done, total, (int)(frac * 100), brate, rrate, eta);
		width = 0;
		if (n > 0 && (size_t)n + 3 + BAR_MIN < (size_t)p->cols) {
			width = (size_t)p->cols - (size_t)n - 3 - 1;
			if (width > BAR_MAX)
				width = BAR_MAX;
		}
		bar[0] = '\0';
		if (width > 0) {
			fill = (size_t)(frac * (double)width);
			bar[0] = '[';
			for (i = 0; i < width; i++)
				bar[1 + i] = i < fill ? '=' :
				    i == fill ? '>' : ' ';
			bar[1 + width] = ']';
			bar[2 + width] = '\0';
		}
		n = snprintf(line, sizeof(line),
		    "\r%9s / %s %3d%% %s %9s/s %7s rows/s  ETA %s", done, total,
		    (int)(frac * 100), bar, brate, rrate, eta);
	} else {
		fmt_count(total, sizeof(total), (double)rows);
		n = snprintf(line, sizeof(line),
		    "\r%9s  %7s rows %9s/s %7s rows/s", done, total, brate, rrate);
	}
	if (n < 0)
		return;
	len = strlen(line);
	/* Never wrap: a wrapped line cannot be redrawn in place. */
	if (len > (size_t)p->cols)
		len = (size_t)p->cols;
	if (len + 3 < sizeof(line)) {
		memcpy(line + len, "\033[K", 3);
		len += 3;
	}
	write_all(line, len);
	p->drawn = 1;
}

void
progress_update(struct progress *p, uint64_t bytes, uint64_t rows)
{
	int64_t now;

	if (p == NULL)
		return;
	if (rows < p->check_at && ++p->calls < CHECK_EVERY)
		return;
	p->calls = 0;
	p->check_at = rows + CHECK_EVERY;
	now = clock_mono_ns();
	if (now - p->t0 < FIRST_DRAW_NS || now - p->last_draw < REDRAW_NS)
		return;
	p->last_draw = now;
	draw(p, bytes, rows, now);
}

void
progress_free(struct progress *p)
{
	if (p == NULL)
		return;
	if (p->drawn)
		write_all("\r\033[K", 4);
	free(p);
}
