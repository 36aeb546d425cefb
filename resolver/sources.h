/* sources.h - the first credentials of a plan: static keys, the environment,
 * credential_process, IMDS (v2 tokens), the container endpoint, web identity. The process
 * runner and the metadata services have their own headers, included here. */
#ifndef AWSR_SOURCES_H
#define AWSR_SOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include "creds.h"
#include "error.h"
#include "metadata.h"
#include "process.h"
#include "profile.h"
#include "sts.h"

/* Fetches the source's credentials. `sts` is used for WEB_IDENTITY only. A
 * credential_process runs in a process group of its own (killed whole on timeout; a Ctrl-C
 * meant for a running command does not cut a renewal); before the command runs
 * (`renewal` false) that group also gets the terminal for the time, so it may ask there as
 * under the CLI. `mfa_code` (or NULL) goes to a credential_process as AWSROLE_MFA_CODE:
 * one that is awsrole-run may need the code this run was given. Messages follow botocore (e.g. "Error when retrieving credentials from
 * custom-process: <stderr>"). */
int awsr_source_fetch(const struct awsr_source *src, struct awsr_sts_client *sts, bool renewal,
                      const char *mfa_code, struct awsr_creds *out, struct awsr_error *err);

/* Profiles whose credential_process runs above this process, one per line: a
 * credential_process that resolves one of them again is a loop, stopped at once. */
#define AWSR_PROCESS_CHAIN_ENV "AWSROLE_PROCESS_CHAIN"

/* 253 "credential_process loop ..." when `profile` is in AWSR_PROCESS_CHAIN_ENV or the chain
 * is absurdly deep; else 0. */
int awsr_process_chain_check(const char *profile, struct awsr_error *err);

/* Parses credential_process output (JSON, Version 1, AccessKeyId, SecretAccessKey,
 * optional SessionToken, Expiration, AccountId). Pure; a fuzz target. */
int awsr_process_parse_output(const char *json, size_t len, struct awsr_creds *out,
                              struct awsr_error *err);

/* botocore's "Error when retrieving credentials from PROVIDER: No credentials found in
 * credential_source referenced in profile NAME" (status 253). Returns -1. */
int awsr_source_no_creds(struct awsr_error *err, const char *provider,
                         const struct awsr_source *src);

/* getenv, with an empty value counting as unset (as botocore's providers treat it). */
const char *awsr_env_nonempty(const char *name);

#endif
