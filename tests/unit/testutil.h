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

#endif
