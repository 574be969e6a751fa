/*
 * query_bench: load a log file into the embedded store, then time one
 * LogsQL query on it (the query alone, not the load).
 *
 *   query_bench [-r runs] [-f format] [-t trusted-proxy] FILE 'LogsQL'
 *
 * Prints, one per line, "key value" pairs a script can read: rows,
 * load_seconds, memory_bytes, result_rows, then the query's time for
 * each run and the median.  "now" for relative times is the newest row's
 * time plus 1 ns, as for logs loaded from files.
 *
 * Built by bench/query_bench.py against build/release/libanomaly.a until
 * `anomaly-detect query` exists.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anomaly.h"


static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void
usage(void)
{
	fprintf(stderr, "usage: query_bench [-r runs] [-f format] "
	    "[-t trusted-proxy] file query\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct store s;
	struct load_opts o;
	struct load_stats st;
	struct logsql_query *q;
	struct qresult r;
	char err[512];
	int runs = 5, ch, rc;
	int64_t *t;

	log_init("query_bench", 0);
	load_opts_init(&o);
	while ((ch = getopt(argc, argv, "r:f:t:")) != -1) {
		switch (ch) {
		case 'r': {
			uint64_t v;
			if (parse_u64(span_str(optarg), &v) != 0 || v < 1 ||
			    v > 1000)
				usage();
			runs = (int)v;
			break;
		}
		case 'f':
			if (logfmt_lookup(optarg) < 0)
				usage();
			o.parse.fmt = (enum logfmt)logfmt_lookup(optarg);
			break;
		case 't': {
			struct cidr c;
			if (cidr_parse(span_str(optarg), &c, err,
			    sizeof(err)) != 0) {
				fprintf(stderr, "-t: %s\n", err);
				return 2;
			}
			cidrset_add(&o.trusted, &c);
			break;
		}
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage();

	q = logsql_parse(argv[1], strlen(argv[1]), err, sizeof(err));
	if (q == NULL) {
		fprintf(stderr, "query: %s\n", err);
		return 1;
	}
	memset(&st, 0, sizeof(st));
	store_init(&s, NULL);
	int64_t l0 = clock_mono_ns();
	if (load_files(&s, &o, &argv[0], 1, &st) != 0) {
		fprintf(stderr, "cannot load %s\n", argv[0]);
		return 1;
	}
	store_finish(&s);
	int64_t l1 = clock_mono_ns();
	printf("rows %llu\n", (unsigned long long)s.rows);
	printf("load_seconds %.3f\n", (double)(l1 - l0) / 1e9);
	printf("memory_bytes %zu\n", store_memory(&s));

	t = xcalloc((size_t)runs, sizeof(*t));
	qresult_init(&r);
	for (int i = 0; i < runs; i++) {
		qresult_reset(&r);
		int64_t a = clock_mono_ns();
		rc = logsql_exec(q, &s, s.tmax + 1, 0, &r, err, sizeof(err));
		int64_t b = clock_mono_ns();
		if (rc < 0) {
			fprintf(stderr, "exec: %s\n", err);
			return 1;
		}
		t[i] = b - a;
		printf("run_seconds %.6f\n", (double)t[i] / 1e9);
	}
	printf("result_rows %zu\n", r.nrows);
	/* Totals of the integer columns, so the caller can check another
	 * tool computed the same thing. */
	for (size_t c = 0; r.nrows > 0 && c < qresult_row_len(&r, 0); c++) {
		struct span name = qresult_name(&r, 0, c);
		uint64_t total = 0, v;
		int ok = 1;
		for (size_t i = 0; i < r.nrows && ok; i++) {
			struct span val = qresult_value(&r, i, c);
			if (!span_eq(qresult_name(&r, i, c), name) ||
			    parse_u64(val, &v) != 0)
				ok = 0;
			else
				total += v;
		}
		if (ok)
			printf("sum_%.*s %llu\n", (int)name.n, name.p,
			    (unsigned long long)total);
	}
	qsort(t, (size_t)runs, sizeof(*t), cmp_i64);
	printf("median_seconds %.6f\n", (double)t[runs / 2] / 1e9);
	printf("rows_per_second %.0f\n", t[runs / 2] > 0 ?
	    (double)s.rows / ((double)t[runs / 2] / 1e9) : 0.0);
	qresult_release(&r);
	free(t);
	logsql_free(q);
	store_release(&s);
	load_opts_release(&o);
	load_stats_release(&st);
	return 0;
}
