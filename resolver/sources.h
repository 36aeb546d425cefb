/* sources.h - the first credentials of a plan: static keys, the environment,
 * credential_process, IMDS (v2 tokens), the container endpoint, web identity. */
#ifndef AWSR_SOURCES_H
#define AWSR_SOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include "creds.h"
#include "error.h"
#include "profile.h"
#include "sts.h"

/* Fetches the source's credentials. `sts` is used for WEB_IDENTITY only. Messages follow
 * botocore (e.g. "Error when retrieving credentials from custom-process: <stderr>"). */
int awsr_source_fetch(const struct awsr_source *src, struct awsr_sts_client *sts,
                      struct awsr_creds *out, struct awsr_error *err);

/* Parses credential_process output (JSON, Version 1, AccessKeyId, SecretAccessKey,
 * optional SessionToken, Expiration, AccountId). Pure; a fuzz target. */
int awsr_process_parse_output(const char *json, size_t len, struct awsr_creds *out,
                              struct awsr_error *err);

/* Parses a container/IMDS credentials document (AccessKeyId, SecretAccessKey, Token,
 * Expiration). Pure. */
int awsr_metadata_parse_creds(const char *json, size_t len, struct awsr_creds *out,
                              struct awsr_error *err);

/* --- helpers shared with mfa.c (additions) --- */

#define AWSR_PROCESS_MAX_STDOUT (1024 * 1024)
#define AWSR_PROCESS_MAX_STDERR (64 * 1024)
#define AWSR_PROCESS_TIMEOUT_MS 60000  /* credential_process */

/* Splits a command line like Python's shlex.split (POSIX mode, no comments): quotes and
 * backslashes, no shell. 0 and a NULL-terminated malloc'd argv (at least one word), or -1
 * with status 253 and shlex's reason ("No closing quotation", "No escaped character"),
 * prefixed with `what`. The command text itself is never put in the message. */
int awsr_shell_split(const char *cmd, char ***argv_out, const char *what,
                     struct awsr_error *err);
void awsr_argv_free(char **argv);

struct awsr_proc_opts {
    long timeout_ms;       /* 0: AWSR_PROCESS_TIMEOUT_MS; $AWSR_PROCESS_TIMEOUT_MS (a test
                              hook, milliseconds) overrides every timeout when set */
    bool capture_stderr;   /* false: the child writes to our stderr (the terminal) */
    bool own_pgrp;         /* run in a new process group, killed as a group on timeout */
};

struct awsr_proc_result {
    char *out;             /* stdout, NUL-terminated, at most AWSR_PROCESS_MAX_STDOUT */
    size_t out_len;
    char *err;             /* stderr when captured (excess dropped), NUL-terminated */
    size_t err_len;
    int wstatus;           /* waitpid status */
    bool timed_out;        /* killed after the timeout */
    bool out_overflow;     /* killed because stdout passed the cap */
};

/* Runs argv (PATH search) with stdin inherited and stdout captured. 0 when the child ran
 * and was reaped (look at wstatus / timed_out / out_overflow); -1 with status 253 and
 * "<what>: cannot run 'ARGV0': REASON" when it could not be started. */
int awsr_process_run(char *const argv[], const struct awsr_proc_opts *opts,
                     struct awsr_proc_result *res, const char *what, struct awsr_error *err);
/* Wipes (stdout may hold secrets) and frees the buffers. */
void awsr_proc_result_free(struct awsr_proc_result *res);

/* The timeout in ms after the test hook: $AWSR_PROCESS_TIMEOUT_MS when set, else dflt. */
long awsr_process_timeout_ms(long dflt);

/* True when an http:// container credentials URL may go to `host` (botocore's rule:
 * loopback IP literals, 169.254.170.2, 169.254.170.23, fd00:ec2::23, localhost). */
bool awsr_container_host_allowed(const char *host);
/* Checks a full container credentials URI: https to any host, http to allowed hosts.
 * 0, or -1 with status 253 and botocore's "Unsupported host 'H'. ..." text. */
int awsr_container_check_url(const char *url, struct awsr_error *err);

#endif
