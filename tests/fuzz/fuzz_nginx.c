/*
 * nginx_parse on arbitrary lines; nginx_fmt_compile on arbitrary formats.
 *
 * Every input is parsed whole with the extended format.  Then the first
 * byte picks a second run on the rest: combined, extended, a JSON-style
 * format, or (last choice) a format of the fuzzer's own making, "format
 * \n line".  Whatever the verdict, a parsed record must point into the
 * line or the scratch buffer and hold values in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

#define JSON_FMT \
	"{\"ip\":\"$remote_addr\",\"t\":\"$time_iso8601\"," \
	"\"m\":\"$request_method\",\"u\":\"$request_uri\",\"h\":\"$host\"," \
	"\"s\":$status,\"b\":$body_bytes_sent,\"rt\":$request_time," \
	"\"ua\":\"$http_user_agent\",\"xff\":\"$http_x_forwarded_for\"}"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct nginx_fmt *fmts[3];
static struct buf scratch = BUF_INIT;

static void
check_span(struct span s, const char *line, size_t len)
{
	if (s.n == 0)
		return;
	if (s.p >= line && s.p + s.n <= line + len)
		return;
	if (scratch.cap != 0 && s.p >= scratch.p &&
	    s.p + s.n <= scratch.p + scratch.len)
		return;
	abort();
}

static void
run(const struct nginx_fmt *f, const char *line, size_t len)
{
	struct logrec r;
	int rc;

	rc = nginx_parse(f, line, len, &r, &scratch);
	if (rc < 0 || rc >= SKIP__COUNT)
		abort();
	if (rc != 0)
		return;
	if (r.remote_addr.n == 0 || r.time_ns == TIME_NONE)
		abort();
	if (r.status != 0 && (r.status < 100 || r.status > 999))
		abort();
	if (r.body_bytes < -1 || r.request_time_ns < -1)
		abort();
	check_span(r.remote_addr, line, len);
	check_span(r.xff, line, len);
	check_span(r.method, line, len);
	check_span(r.uri, line, len);
	check_span(r.user_agent, line, len);
	check_span(r.referer, line, len);
	check_span(r.host, line, len);
	/* Touch every byte, so ASan sees a bad span. */
	volatile unsigned sum = 0;
	for (size_t i = 0; i < r.uri.n; i++)
		sum += (unsigned char)r.uri.p[i];
	for (size_t i = 0; i < r.user_agent.n; i++)
		sum += (unsigned char)r.user_agent.p[i];
	(void)sum;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	char *line;

	if (fmts[0] == NULL) {
		fmts[0] = nginx_fmt_compile(NGINX_FMT_COMBINED, err,
		    sizeof(err));
		fmts[1] = nginx_fmt_compile(NGINX_FMT_MAIN_EXT, err,
		    sizeof(err));
		fmts[2] = nginx_fmt_compile(JSON_FMT, err, sizeof(err));
		if (fmts[0] == NULL || fmts[1] == NULL || fmts[2] == NULL)
			abort();
	}
	/* An exact-size copy: reading past the end is caught. */
	line = malloc(size != 0 ? size : 1);
	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	run(fmts[1], line, size);

	if (size > 0) {
		unsigned mode = data[0] % 4;
		const char *rest = line + 1;
		size_t n = size - 1;

		if (mode < 3)
			run(fmts[mode], rest, n);
		else {
			const char *nl = memchr(rest, '\n', n);
			size_t flen = nl != NULL ? (size_t)(nl - rest) : n;
			char *fs = malloc(flen + 1);
			struct nginx_fmt *f;

			if (fs != NULL) {
				memcpy(fs, rest, flen);
				fs[flen] = '\0';
				err[0] = '\0';
				f = nginx_fmt_compile(fs, err, sizeof(err));
				if (f == NULL && err[0] == '\0')
					abort();
				if (f != NULL && nl != NULL)
					run(f, nl + 1, n - flen - 1);
				nginx_fmt_free(f);
				free(fs);
			}
		}
	}
	free(line);
	return 0;
}
