/*
 * anomaly-detect: watch reverse-proxy access logs and ban abusive
 * clients through CrowdSec, without banning real users.
 *
 * main() only dispatches to a command; each command lives in cmd_*.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

static const struct command {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
	{ "scan", cmd_scan, "read logs into the embedded store and report" },
	{ "query", cmd_query, "run a LogsQL query on log files or VictoriaLogs" },
	{ "generate", cmd_generate,
	    "write realistic labeled traffic for tests and benchmarks" },
	{ "eval", cmd_eval, "score an analyst on labeled scenario folders" },
	{ "run", cmd_run, "one detection cycle; bans through LAPI with --apply" },
	{ "watch", cmd_watch, "detection cycles until stopped (--follow: live)" },
	{ "bans", cmd_bans, "bans list: what we banned (state and LAPI)" },
	{ "unban", cmd_unban, "remove our ban of an address or range" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: anomaly-detect [-v] COMMAND [options] [args]\n\n"
	    "commands:\n");
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "  %-10s %s\n", "version", "print the version");
	fprintf(f, "\n'anomaly-detect COMMAND --help' describes a command.\n");
}

int
main(int argc, char **argv)
{
	int verbose = 0, i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-v") == 0)
			verbose++;
		else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("anomaly-detect %s\n", AD_VERSION);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	log_init("anomaly-detect", verbose);
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[i], "version") == 0) {
		printf("anomaly-detect %s\n", AD_VERSION);
		return 0;
	}
	if (strcmp(argv[i], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t c = 0; c < ARRAY_LEN(commands); c++)
		if (strcmp(argv[i], commands[c].name) == 0)
			return commands[c].fn(argc - i, argv + i);
	fprintf(stderr, "anomaly-detect: unknown command \"%s\"\n\n", argv[i]);
	usage(stderr);
	return 2;
}
