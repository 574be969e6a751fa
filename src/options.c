/*
 * Settings shared by the commands that read logs (scan, query, run,
 * watch): where they come from (config file, then command line), how
 * they are checked, and the long options that set them.
 *
 * Every setting has one name, used both as the config key and, with
 * dashes, as the long option: trusted_proxy = ... / --trusted-proxy.
 * Errors in the config file are collected as "file:line: message".
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "anomaly.h"

void
settings_init(struct settings *st)
{
	memset(st, 0, sizeof(*st));
	load_opts_init(&st->load);
	st->load.progress = 1;
	st->top = 10;
	/* A store that would fill the machine helps nobody: cap it. */
	st->store.max_memory = 4ull << 30;
	st->analyst = xmalloc(sizeof(*st->analyst));
	analyst_config_init(st->analyst);
	st->ban_duration_ns = BAN_DURATION_DEFAULT;
	st->window_ns = BAN_WINDOW_DEFAULT;
	st->interval_ns = BAN_INTERVAL_DEFAULT;
	st->dry_run = -1;
	st->lapi_retries = -1;
	st->guard = xmalloc(sizeof(*st->guard));
	guard_config_init(st->guard);
	st->llm_temperature = 0.2;
	st->llm_retries = -1;
	st->agent = xmalloc(sizeof(*st->agent));
	agent_config_init(st->agent);
}

void
settings_release(struct settings *st)
{
	load_opts_release(&st->load);
	for (size_t i = 0; i < st->njson_map; i++)
		free(st->json_map[i]);
	free(st->json_map);
	free(st->log_format);
	free(st->vlogs_url);
	free(st->vlogs_account_id);
	free(st->vlogs_project_id);
	free(st->vlogs_user);
	free(st->vlogs_password_file);
	free(st->vlogs_token_file);
	for (size_t i = 0; i < st->nvlogs_field_map; i++)
		free(st->vlogs_field_map[i]);
	free(st->vlogs_field_map);
	free(st->analyst);
	free(st->lapi_url);
	free(st->lapi_machine);
	free(st->lapi_password_file);
	free(st->lapi_ca_file);
	free(st->state_file);
	free(st->audit_file);
	if (st->guard != NULL)
		guard_config_release(st->guard);
	free(st->guard);
	for (size_t i = 0; i < st->ninputs; i++)
		free(st->inputs[i]);
	free(st->inputs);
	free(st->analyst_kind);
	free(st->llm_base_url);
	free(st->llm_model);
	free(st->llm_api_key_file);
	for (size_t i = 0; i < st->nllm_headers; i++)
		free(st->llm_headers[i]);
	free(st->llm_headers);
	free(st->agent);
	free(st->agent_language);
	free(st->agent_system_prompt_file);
	memset(st, 0, sizeof(*st));
}

static void
replace_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* The vlogs_* settings: where VictoriaLogs is and how to talk to it. */
static int
settings_set_vlogs(struct settings *st, const char *name, const char *value,
    char *err, size_t errlen)
{
	if (strcmp(name, "url") == 0) {
		if (strncmp(value, "http://", 7) != 0 &&
		    strncmp(value, "https://", 8) != 0) {
			snprintf(err, errlen, "vlogs_url: want http:// or "
			    "https://");
			return -1;
		}
		replace_str(&st->vlogs_url, value);
	} else if (strcmp(name, "account_id") == 0 ||
	    strcmp(name, "project_id") == 0) {
		uint64_t n;
		if (parse_u64(span_str(value), &n) != 0 || n > UINT32_MAX) {
			snprintf(err, errlen, "vlogs_%s: \"%s\" is not a "
			    "tenant number", name, value);
			return -1;
		}
		replace_str(name[0] == 'a' ? &st->vlogs_account_id :
		    &st->vlogs_project_id, value);
	} else if (strcmp(name, "user") == 0)
		replace_str(&st->vlogs_user, value);
	else if (strcmp(name, "password_file") == 0)
		replace_str(&st->vlogs_password_file, value);
	else if (strcmp(name, "bearer_token_file") == 0)
		replace_str(&st->vlogs_token_file, value);
	else if (strcmp(name, "field") == 0) {
		const char *one[1] = { value };
		char cerr[256];
		if (vlogs_map_check(one, 1, cerr, sizeof(cerr)) != 0) {
			snprintf(err, errlen, "vlogs_field: %s", cerr);
			return -1;
		}
		st->vlogs_field_map = xreallocarray(st->vlogs_field_map,
		    st->nvlogs_field_map + 1, sizeof(char *));
		st->vlogs_field_map[st->nvlogs_field_map++] = xstrdup(value);
	} else if (strcmp(name, "timeout") == 0) {
		if (parse_duration(span_str(value), &st->vlogs_timeout_ns) != 0) {
			snprintf(err, errlen, "vlogs_timeout: \"%s\" is not a "
			    "duration such as 30s", value);
			return -1;
		}
	} else
		return 1;
	return 0;
}

/* "true"/"false" and friends: 1, 0, or -1. */
static int
parse_bool(const char *v)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < ARRAY_LEN(yes); i++)
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
	for (size_t i = 0; i < ARRAY_LEN(no); i++)
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	return -1;
}

static int
set_duration(const char *name, const char *value, int64_t min_ns,
    int64_t *out, char *err, size_t errlen)
{
	int64_t ns;

	if (parse_duration(span_str(value), &ns) != 0 || ns < min_ns) {
		snprintf(err, errlen, "%s: \"%s\" is not a duration such as "
		    "30s, 15m or 4h (at least %lld ms)", name, value,
		    (long long)(min_ns / 1000000));
		return -1;
	}
	*out = ns;
	return 0;
}

static int
set_count(const char *name, const char *value, unsigned *out, char *err,
    size_t errlen)
{
	uint64_t n;

	if (parse_u64(span_str(value), &n) != 0 || n > UINT32_MAX) {
		snprintf(err, errlen, "%s: \"%s\" is not a count (0 = no "
		    "cap)", name, value);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static int
set_money(const char *name, const char *value, double *out, char *err,
    size_t errlen)
{
	int64_t v;

	/* Micro-units: exact enough for USD per cycle or per token
	 * prices (given per token, e.g. 0.0000002, 1e-12 resolution). */
	if (parse_decimal_scaled(span_str(value), INT64_C(1000000000000),
	    &v) != 0) {
		snprintf(err, errlen, "%s: \"%s\" is not a non-negative "
		    "decimal number", name, value);
		return -1;
	}
	*out = (double)v / 1e12;
	return 0;
}

/* The agent and its model: llm_* and agent_* settings. */
static int
settings_set_agent(struct settings *st, const char *name, const char *value,
    char *err, size_t errlen)
{
	struct agent_config *a = st->agent;
	uint64_t n;
	int64_t ns;

	if (strcmp(name, "llm_base_url") == 0) {
		if (strncmp(value, "http://", 7) != 0 &&
		    strncmp(value, "https://", 8) != 0) {
			snprintf(err, errlen, "llm_base_url: want an http:// or "
			    "https:// URL");
			return -1;
		}
		replace_str(&st->llm_base_url, value);
	} else if (strcmp(name, "llm_model") == 0) {
		if (value[0] == '\0') {
			snprintf(err, errlen, "llm_model: empty");
			return -1;
		}
		replace_str(&st->llm_model, value);
	} else if (strcmp(name, "llm_api_key_file") == 0)
		replace_str(&st->llm_api_key_file, value);
	else if (strcmp(name, "llm_header") == 0 ||
	    strcmp(name, "llm_headers") == 0) {
		const char *colon = strchr(value, ':');
		if (colon == NULL || colon == value ||
		    strpbrk(value, "\r\n") != NULL || st->nllm_headers >= 32) {
			snprintf(err, errlen, "%s: want \"Name: value\" (at "
			    "most 32)", name);
			return -1;
		}
		st->llm_headers = xreallocarray(st->llm_headers,
		    st->nllm_headers + 1, sizeof(*st->llm_headers));
		st->llm_headers[st->nllm_headers++] = xstrdup(value);
	} else if (strcmp(name, "llm_temperature") == 0) {
		int64_t t;
		if (strcmp(value, "none") == 0)
			st->llm_temperature = -1;
		else if (parse_decimal_scaled(span_str(value), 1000, &t) != 0 ||
		    t > 2000) {
			snprintf(err, errlen, "llm_temperature: a number from 0 "
			    "to 2, or none");
			return -1;
		} else
			st->llm_temperature = (double)t / 1000;
	} else if (strcmp(name, "llm_max_tokens") == 0) {
		if (parse_u64(span_str(value), &n) != 0 || n > 1000000) {
			snprintf(err, errlen, "llm_max_tokens: a count up to "
			    "1000000 (0: not sent)");
			return -1;
		}
		st->llm_max_tokens = (int)n;
	} else if (strcmp(name, "llm_timeout") == 0)
		return set_duration(name, value, 1000000000,
		    &st->llm_timeout_ns, err, errlen);
	else if (strcmp(name, "llm_connect_timeout") == 0)
		return set_duration(name, value, 100000000,
		    &st->llm_connect_timeout_ns, err, errlen);
	else if (strcmp(name, "llm_retries") == 0) {
		if (parse_u64(span_str(value), &n) != 0 || n > 10) {
			snprintf(err, errlen, "llm_retries: want 0 to 10");
			return -1;
		}
		st->llm_retries = (int)n;
	} else if (strcmp(name, "llm_price_prompt") == 0)
		return set_money(name, value, &st->llm_price_prompt, err,
		    errlen);
	else if (strcmp(name, "llm_price_completion") == 0)
		return set_money(name, value, &st->llm_price_completion, err,
		    errlen);
	else if (strcmp(name, "agent_triage") == 0) {
		if (strcmp(value, "signals") == 0)
			a->triage = AGENT_TRIAGE_SIGNALS;
		else if (strcmp(value, "always") == 0)
			a->triage = AGENT_TRIAGE_ALWAYS;
		else if (strcmp(value, "never") == 0)
			a->triage = AGENT_TRIAGE_NEVER;
		else {
			snprintf(err, errlen, "agent_triage: signals, always or "
			    "never");
			return -1;
		}
	} else if (strcmp(name, "agent_triage_min_severity") == 0) {
		if (parse_u64(span_str(value), &n) != 0 || n > 100) {
			snprintf(err, errlen, "%s: 0 to 100", name);
			return -1;
		}
		a->triage_min_severity = (int)n;
	} else if (strcmp(name, "agent_max_turns") == 0) {
		if (parse_u64(span_str(value), &n) != 0 || n < 1 || n > 1000) {
			snprintf(err, errlen, "%s: 1 to 1000", name);
			return -1;
		}
		a->max_turns = (int)n;
	} else if (strcmp(name, "agent_max_tokens") == 0) {
		if (parse_u64(span_str(value), &n) != 0 || n > INT64_MAX) {
			snprintf(err, errlen, "%s: a count (0: no cap)", name);
			return -1;
		}
		a->max_tokens = (int64_t)n;
	} else if (strcmp(name, "agent_max_usd_cycle") == 0)
		return set_money(name, value, &a->max_usd_cycle, err, errlen);
	else if (strcmp(name, "agent_max_usd_day") == 0)
		return set_money(name, value, &a->max_usd_day, err, errlen);
	else if (strcmp(name, "agent_max_seconds") == 0) {
		/* A duration ("2m") or plain seconds ("120"). */
		if (parse_u64(span_str(value), &n) == 0 && n <= 86400)
			a->max_seconds = (int64_t)n;
		else if (parse_duration(span_str(value), &ns) == 0 &&
		    ns >= INT64_C(1000000000) && ns <= 86400 * INT64_C(1000000000))
			a->max_seconds = ns / INT64_C(1000000000);
		else {
			snprintf(err, errlen, "%s: seconds or a duration "
			    "(1s to 24h)", name);
			return -1;
		}
	} else if (strcmp(name, "agent_language") == 0) {
		if (value[0] == '\0' || strlen(value) > 32) {
			snprintf(err, errlen, "%s: a language name, e.g. en",
			    name);
			return -1;
		}
		replace_str(&st->agent_language, value);
		a->language = st->agent_language;
	} else if (strcmp(name, "agent_system_prompt_file") == 0) {
		replace_str(&st->agent_system_prompt_file, value);
		a->system_prompt_file = st->agent_system_prompt_file;
	} else if (strcmp(name, "agent_result_max_rows") == 0) {
		if (parse_u64(span_str(value), &n) != 0 || n < 1 || n > 10000) {
			snprintf(err, errlen, "%s: 1 to 10000", name);
			return -1;
		}
		a->result_max_rows = (size_t)n;
	} else if (strcmp(name, "agent_result_max_bytes") == 0) {
		uint64_t b;
		if (parse_size(span_str(value), &b) != 0 || b < 256 ||
		    b > (1u << 20)) {
			snprintf(err, errlen, "%s: a size from 256 to 1M", name);
			return -1;
		}
		a->result_max_bytes = (size_t)b;
	} else if (strcmp(name, "agent_max_bad_calls") == 0) {
		if (parse_u64(span_str(value), &n) != 0 || n < 1 || n > 100) {
			snprintf(err, errlen, "%s: 1 to 100", name);
			return -1;
		}
		a->max_bad_calls = (int)n;
	} else
		return 1;
	return 0;
}

/* Banning: LAPI, state, audit, mode, cycle timing, the guard, inputs. */
static int
settings_set_ban(struct settings *st, const char *name, const char *value,
    char *err, size_t errlen)
{
	int b;

	if (strcmp(name, "lapi_url") == 0) {
		if (strncmp(value, "http://", 7) != 0 &&
		    strncmp(value, "https://", 8) != 0) {
			snprintf(err, errlen, "lapi_url: want http:// or "
			    "https://");
			return -1;
		}
		replace_str(&st->lapi_url, value);
	} else if (strcmp(name, "lapi_machine") == 0)
		replace_str(&st->lapi_machine, value);
	else if (strcmp(name, "lapi_password_file") == 0)
		replace_str(&st->lapi_password_file, value);
	else if (strcmp(name, "lapi_ca_file") == 0)
		replace_str(&st->lapi_ca_file, value);
	else if (strcmp(name, "lapi_retries") == 0) {
		uint64_t n;
		if (parse_u64(span_str(value), &n) != 0 || n > 10) {
			snprintf(err, errlen, "lapi_retries: want 0 to 10");
			return -1;
		}
		st->lapi_retries = (int)n;
	} else if (strcmp(name, "lapi_timeout") == 0)
		return set_duration(name, value, 100000000,
		    &st->lapi_timeout_ns, err, errlen);
	else if (strcmp(name, "ban_duration") == 0) {
		if (lapi_parse_go_duration(span_str(value),
		    &st->ban_duration_ns) != 0 &&
		    parse_duration(span_str(value), &st->ban_duration_ns) != 0) {
			snprintf(err, errlen, "ban_duration: \"%s\" is not a "
			    "duration such as 4h or 1h30m", value);
			return -1;
		}
		if (st->ban_duration_ns < 1000000000) {
			snprintf(err, errlen, "ban_duration: at least 1s");
			return -1;
		}
	} else if (strcmp(name, "state_file") == 0)
		replace_str(&st->state_file, value);
	else if (strcmp(name, "audit_file") == 0)
		replace_str(&st->audit_file, value);
	else if (strcmp(name, "dry_run") == 0) {
		if ((b = parse_bool(value)) < 0) {
			snprintf(err, errlen, "dry_run: want true or false");
			return -1;
		}
		st->dry_run = b;
	} else if (strcmp(name, "window") == 0)
		return set_duration(name, value, 1000000000, &st->window_ns,
		    err, errlen);
	else if (strcmp(name, "interval") == 0)
		return set_duration(name, value, 100000000, &st->interval_ns,
		    err, errlen);
	else if (strcmp(name, "guard_allow") == 0) {
		struct cidr c;
		char cerr[200];
		if (cidr_parse(span_str(value), &c, cerr, sizeof(cerr)) != 0) {
			snprintf(err, errlen, "guard_allow: %s", cerr);
			return -1;
		}
		cidrset_add(&st->guard->allow, &c);
	} else if (strcmp(name, "guard_allow_file") == 0) {
		struct buf errs = BUF_INIT;
		int rc = guard_allowlist_file(st->guard, value, &errs);
		if (rc != 0) {
			/* The lines of errs, on one line. */
			for (size_t i = 0; i < errs.len; i++)
				if (errs.p[i] == '\n')
					errs.p[i] = i + 1 == errs.len ? '\0' : ';';
			snprintf(err, errlen, "guard_allow_file: %s", errs.p);
		}
		buf_release(&errs);
		return rc != 0 ? -1 : 0;
	} else if (strcmp(name, "guard_max_per_cycle") == 0)
		return set_count(name, value, &st->guard->max_per_cycle, err,
		    errlen);
	else if (strcmp(name, "guard_max_per_hour") == 0)
		return set_count(name, value, &st->guard->max_per_hour, err,
		    errlen);
	else if (strcmp(name, "guard_verify_crawlers") == 0) {
		if ((b = parse_bool(value)) < 0) {
			snprintf(err, errlen, "guard_verify_crawlers: want true "
			    "or false");
			return -1;
		}
		st->guard->verify_crawlers = b;
	} else if (strcmp(name, "input") == 0) {
		st->inputs = xreallocarray(st->inputs, st->ninputs + 1,
		    sizeof(*st->inputs));
		st->inputs[st->ninputs++] = xstrdup(value);
	} else if (strcmp(name, "follow") == 0) {
		if ((b = parse_bool(value)) < 0) {
			snprintf(err, errlen, "follow: want true or false");
			return -1;
		}
		st->follow = b;
	} else
		return 1;
	return 0;
}

/*
 * Apply one setting by name.  Returns 0, 1 when the name is not a log
 * setting (the caller may know it), or -1 with a message in err.
 */
int
settings_set(struct settings *st, const char *name, const char *value,
    char *err, size_t errlen)
{
	struct span v = span_str(value);

	if (strcmp(name, "format") == 0) {
		int f = logfmt_lookup(value);
		if (f < 0) {
			snprintf(err, errlen, "unknown format \"%s\" (known: "
			    "auto, combined, nginx, nginx-custom, traefik, "
			    "apisix, caddy, json, vlogs)", value);
			return -1;
		}
		st->load.parse.fmt = (enum logfmt)f;
	} else if (strcmp(name, "log_format") == 0) {
		char cerr[256];
		struct nginx_fmt *nf = nginx_fmt_compile(value, cerr,
		    sizeof(cerr));
		if (nf == NULL) {
			snprintf(err, errlen, "log_format: %s", cerr);
			return -1;
		}
		nginx_fmt_free(nf);
		free(st->log_format);
		st->log_format = xstrdup(value);
		st->load.parse.log_format = st->log_format;
		if (st->load.parse.fmt == FMT_AUTO)
			st->load.parse.fmt = FMT_NGINX_CUSTOM;
	} else if (strcmp(name, "json_field") == 0) {
		const char *eq = strchr(value, '=');
		if (eq == NULL || eq == value || eq[1] == '\0') {
			snprintf(err, errlen, "json_field wants CANONICAL=KEY, "
			    "e.g. client_ip=ip, got \"%s\"", value);
			return -1;
		}
		st->json_map = xreallocarray(st->json_map, st->njson_map + 1,
		    sizeof(*st->json_map));
		st->json_map[st->njson_map++] = xstrdup(value);
		st->load.parse.json_map = (const char *const *)st->json_map;
		st->load.parse.json_map_n = st->njson_map;
		if (st->load.parse.fmt == FMT_AUTO)
			st->load.parse.fmt = FMT_JSON;
	} else if (strcmp(name, "trusted_proxy") == 0) {
		struct cidr c;
		char cerr[200];
		if (cidr_parse(v, &c, cerr, sizeof(cerr)) != 0) {
			snprintf(err, errlen, "trusted_proxy: %s", cerr);
			return -1;
		}
		cidrset_add(&st->load.trusted, &c);
	} else if (strcmp(name, "max_memory") == 0) {
		if (parse_size(v, &st->store.max_memory) != 0) {
			snprintf(err, errlen, "max_memory: \"%s\" is not a size "
			    "such as 512M or 2G (0 = no cap)", value);
			return -1;
		}
	} else if (strcmp(name, "retention") == 0) {
		if (parse_duration(v, &st->store.retention_ns) != 0 &&
		    strcmp(value, "0") != 0) {
			snprintf(err, errlen, "retention: \"%s\" is not a "
			    "duration such as 15m, 1h or 7d (0 = keep all)",
			    value);
			return -1;
		}
		if (strcmp(value, "0") == 0)
			st->store.retention_ns = 0;
	} else if (strcmp(name, "max_line") == 0) {
		uint64_t n;
		if (parse_size(v, &n) != 0 || n < 256 || n > (64u << 20)) {
			snprintf(err, errlen, "max_line: \"%s\" must be a size "
			    "from 256 to 64M", value);
			return -1;
		}
		st->load.input.max_line = (size_t)n;
	} else if (strncmp(name, "vlogs_", 6) == 0)
		return settings_set_vlogs(st, name + 6, value, err, errlen);
	else if (strncmp(name, "analyst_", 8) == 0 ||
	    strncmp(name, "guard_range_", 12) == 0)
		return analyst_config_set(st->analyst, name, value, err,
		    errlen);
	else if (strncmp(name, "llm_", 4) == 0 ||
	    strncmp(name, "agent_", 6) == 0)
		return settings_set_agent(st, name, value, err, errlen);
	else if (strcmp(name, "analyst") == 0) {
		/* Checked against what the command offers when it runs:
		 * scan also knows none. */
		if (strcmp(value, "llm") != 0 && strcmp(value, "stats") != 0 &&
		    strcmp(value, "auto") != 0 && strcmp(value, "none") != 0) {
			snprintf(err, errlen, "analyst: \"%s\" is not llm, "
			    "stats, auto or none", value);
			return -1;
		}
		replace_str(&st->analyst_kind, value);
	} else
		return settings_set_ban(st, name, value, err, errlen);
	return 0;
}

int
settings_load_config(struct settings *st, const char *path,
    struct buf *errs)
{
	struct config c;
	char err[512];
	int rc;

	config_init(&c);
	rc = config_load(&c, path, errs);
	for (size_t i = 0; i < c.n; i++) {
		const struct config_entry *e = &c.v[i];
		int r = settings_set(st, e->key, e->value, err, sizeof(err));
		if (r < 0) {
			buf_addf(errs, "%s:%d: %s\n", e->file, e->line, err);
			rc = -1;
		} else if (r > 0 && !settings_known_elsewhere(e->key)) {
			buf_addf(errs, "%s:%d: unknown setting \"%s\"\n",
			    e->file, e->line, e->key);
			rc = -1;
		}
	}
	config_release(&c);
	return rc;
}

/*
 * Settings read by other parts (the analyst, the guard, the clients):
 * accepted in the file now so one config serves every command.
 */
int
settings_known_elsewhere(const char *name)
{
	static const char *const known[] = {
		"window", "interval", "dry_run",
	};
	for (size_t i = 0; i < ARRAY_LEN(known); i++)
		if (strcmp(name, known[i]) == 0)
			return 1;
	return 0;
}

/* The long-option spelling of a setting: dashes for underscores. */
int
settings_option(struct settings *st, const char *optname, const char *arg)
{
	char name[64], err[512];
	size_t i;

	for (i = 0; optname[i] != '\0' && i + 1 < sizeof(name); i++)
		name[i] = optname[i] == '-' ? '_' : optname[i];
	name[i] = '\0';
	int r = settings_set(st, name, arg, err, sizeof(err));
	if (r < 0) {
		log_warnx("--%s: %s", optname, err);
		return -1;
	}
	if (r > 0) {
		log_warnx("--%s: not a log setting", optname);
		return -1;
	}
	return 0;
}

/*
 * The config file is read before the other options so that they override
 * it: find -c FILE / --config FILE / --config=FILE among the arguments.
 */
int
settings_preload_config(struct settings *st, int argc, char **argv,
    struct buf *errs)
{
	const char *config = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if ((strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			config = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config = argv[i] + 9;
	}
	return config != NULL ? settings_load_config(st, config, errs) : 0;
}

char *
read_secret(const char *file, const char *env, char *err, size_t errlen)
{
	if (file != NULL) {
		FILE *f = fopen(file, "r");
		char line[4096];
		if (f == NULL) {
			snprintf(err, errlen, "%s: cannot open", file);
			return NULL;
		}
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0') {
			explicit_bzero(line, sizeof(line));
			snprintf(err, errlen, "%s: empty", file);
			return NULL;
		}
		char *v = xstrdup(line);
		explicit_bzero(line, sizeof(line));
		return v;
	}
	const char *v = env != NULL ? getenv(env) : NULL;
	return v != NULL && *v != '\0' ? xstrdup(v) : NULL;
}

/*
 * The agent's model from the settings: llm_model required; the key from
 * llm_api_key_file, else $LLM_API_KEY, else $OPENROUTER_API_KEY; no key
 * is fine for a local server (llm_base_url), not for OpenRouter.  *key_out
 * (may be NULL) is the caller's to wipe and free after llm_free.
 */
int
settings_llm_open(const struct settings *st, struct llm **out,
    char **key_out, char *err, size_t errlen)
{
	struct llm_opts lo;
	struct llm_error le;
	char kerr[256];
	char *key;

	*out = NULL;
	*key_out = NULL;
	if (st->llm_model == NULL) {
		snprintf(err, errlen, "no model configured: set llm_model "
		    "(--llm-model), and llm_base_url (--llm-base-url) for a "
		    "server other than OpenRouter");
		return -1;
	}
	key = read_secret(st->llm_api_key_file, "LLM_API_KEY", kerr,
	    sizeof(kerr));
	if (key == NULL && st->llm_api_key_file != NULL) {
		snprintf(err, errlen, "llm_api_key_file: %s", kerr);
		return -1;
	}
	if (key == NULL)
		key = read_secret(NULL, "OPENROUTER_API_KEY", kerr,
		    sizeof(kerr));
	/* Local servers (Ollama, vLLM, llama.cpp) need no key; OpenRouter,
	 * the default, does. */
	if (key == NULL && st->llm_base_url == NULL) {
		snprintf(err, errlen, "no API key for OpenRouter: set "
		    "llm_api_key_file, LLM_API_KEY or OPENROUTER_API_KEY, or "
		    "llm_base_url for a local server");
		return -1;
	}
	llm_opts_init(&lo);
	if (st->llm_base_url != NULL)
		lo.base_url = st->llm_base_url;
	lo.model = st->llm_model;
	lo.api_key = key;
	lo.headers = (const char *const *)st->llm_headers;
	lo.nheaders = st->nllm_headers;
	lo.temperature = st->llm_temperature;
	if (st->llm_max_tokens > 0)
		lo.max_tokens = st->llm_max_tokens;
	if (st->llm_timeout_ns > 0)
		lo.timeout_ns = st->llm_timeout_ns;
	if (st->llm_connect_timeout_ns > 0)
		lo.connect_timeout_ns = st->llm_connect_timeout_ns;
	if (st->llm_retries >= 0)
		lo.retries = st->llm_retries;
	lo.price_prompt = st->llm_price_prompt;
	lo.price_completion = st->llm_price_completion;
	lo.fetch_prices = 1;
	memset(&le, 0, sizeof(le));
	if ((*out = llm_new(&lo, &le)) == NULL) {
		snprintf(err, errlen, "%s", le.msg);
		if (key != NULL) {
			explicit_bzero(key, strlen(key));
			free(key);
		}
		return -1;
	}
	*key_out = key;
	return 0;
}

/* auto: whether a model is configured at all (a key somewhere, or a
 * server of our own).  The key read here is wiped at once. */
int
settings_llm_configured(const struct settings *st)
{
	static const char *const env[] = { "LLM_API_KEY",
	    "OPENROUTER_API_KEY" };
	char err[256], *k;

	if (st->llm_base_url != NULL)
		return 1;
	if (st->llm_api_key_file != NULL) {
		if ((k = read_secret(st->llm_api_key_file, NULL, err,
		    sizeof(err))) == NULL)
			return 0;
		explicit_bzero(k, strlen(k));
		free(k);
		return 1;
	}
	for (size_t i = 0; i < ARRAY_LEN(env); i++) {
		const char *v = getenv(env[i]);
		if (v != NULL && *v != '\0')
			return 1;
	}
	return 0;
}

/* kind: llm, stats or auto.  llm: the model must open; auto: it is used
 * when configured and opens, else the built-in analyst (with a warning
 * when it was configured but unusable).  0, or -1 (logged). */
int
settings_analyst_open(const struct settings *st, const char *cmd,
    const char *kind, int allow_none, struct llm **llm, char **key)
{
	char err[512];
	int want;

	if (strcmp(kind, "stats") == 0 ||
	    (allow_none && strcmp(kind, "none") == 0))
		return 0;
	if (strcmp(kind, "llm") == 0)
		want = 1;
	else if (strcmp(kind, "auto") == 0)
		want = settings_llm_configured(st);
	else {
		log_warnx("%s: --analyst: \"%s\" is not stats, llm, auto%s",
		    cmd, kind, allow_none ? " or none" : "");
		return -1;
	}
	if (!want)
		return 0;
	if (settings_llm_open(st, llm, key, err, sizeof(err)) != 0) {
		if (strcmp(kind, "llm") == 0) {
			log_warnx("%s --analyst llm: %s", cmd, err);
			return -1;
		}
		log_warnx("%s: analyst auto: the model is not usable (%s); "
		    "the built-in analyst decides", cmd, err);
	}
	return 0;
}

/*
 * The model's and the agent's settings as long options.  One list, so
 * scan, run, watch and eval take the same spellings and a setting added
 * here reaches every command (settings_option maps the dashes back).
 */
static const char *const agent_options[] = {
	"llm-base-url", "llm-model", "llm-api-key-file", "llm-header",
	"llm-temperature", "llm-max-tokens", "llm-timeout",
	"llm-connect-timeout", "llm-retries", "llm-price-prompt",
	"llm-price-completion", "agent-triage", "agent-triage-min-severity",
	"agent-max-turns", "agent-max-tokens", "agent-max-usd-cycle",
	"agent-max-usd-day", "agent-max-seconds", "agent-language",
	"agent-system-prompt-file", "agent-result-max-rows",
	"agent-result-max-bytes", "agent-max-bad-calls",
};

struct option *
settings_longopts(const struct option *base, int analyst_val, int agent_val)
{
	struct option *o = analyst_longopts(base, analyst_val);
	size_t n = 0;

	while (o[n].name != NULL)
		n++;
	o = xreallocarray(o, n + ARRAY_LEN(agent_options) + 1, sizeof(*o));
	for (size_t k = 0; k < ARRAY_LEN(agent_options); k++) {
		o[n + k].name = agent_options[k];
		o[n + k].has_arg = required_argument;
		o[n + k].flag = NULL;
		o[n + k].val = agent_val;
	}
	memset(&o[n + ARRAY_LEN(agent_options)], 0, sizeof(*o));
	return o;
}

void
settings_agent_usage(FILE *f)
{
	fputs(
"The model (an OpenAI-compatible endpoint; the key from llm_api_key_file,\n"
"$LLM_API_KEY or $OPENROUTER_API_KEY, never shown):\n"
"  --llm-base-url URL     default OpenRouter; Ollama, vLLM, llama.cpp too\n"
"  --llm-model NAME       e.g. x-ai/grok-4-fast\n"
"  --llm-api-key-file F   --llm-header \"Name: value\" (repeat)\n"
"  --llm-temperature T    0 to 2, or none (default 0.2)\n"
"  --llm-max-tokens N     output tokens per answer (default 4096)\n"
"  --llm-timeout DUR      per request (default 180s); --llm-connect-timeout\n"
"  --llm-retries N        after refused connections, 429, 5xx (default 3)\n"
"  --llm-price-prompt USD, --llm-price-completion USD   per token, when\n"
"                         the provider reports no cost (else read from\n"
"                         GET /models when it lists the model)\n"
"The agent:\n"
"  --agent-triage WHEN    signals (default), always or never\n"
"  --agent-triage-min-severity N   signals: the least severity that calls\n"
"  --agent-max-turns N, --agent-max-tokens N, --agent-max-usd-cycle USD,\n"
"  --agent-max-usd-day USD, --agent-max-seconds S   budgets per cycle / day\n"
"  --agent-language LANG  the report's language (default en)\n"
"  --agent-system-prompt-file F   instead of the shipped prompt\n"
"  --agent-result-max-rows N, --agent-result-max-bytes SIZE,\n"
"  --agent-max-bad-calls N   caps on tool results and malformed calls\n",
	    f);
}
