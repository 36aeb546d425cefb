/* export.h - printing credentials: env (export lines for eval), json, and the
 * credential_process format (Version 1). */
#ifndef AWSR_EXPORT_H
#define AWSR_EXPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "creds.h"

enum awsr_format { AWSR_FMT_ENV, AWSR_FMT_JSON, AWSR_FMT_PROCESS };

/* 0 and *out set, or -1 for an unknown name. */
int awsr_format_parse(const char *name, enum awsr_format *out);

/* The credentials as a JSON object (AccessKeyId, SecretAccessKey, SessionToken,
 * Expiration, AccountId; with process, Version 1 first). Wipe it when done. */
json_t *awsr_export_creds_json(const struct awsr_creds *c, bool process);

/* Writes the credentials in the format. 0, or -1 when the write failed. */
int awsr_export_print(FILE *f, enum awsr_format fmt, const struct awsr_creds *c,
                      const char *region, const char *profile);

#endif
