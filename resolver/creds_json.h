/* creds_json.h - the JSON credentials documents of credential_process and of the
 * container and IMDS endpoints. */
#ifndef AWSR_CREDS_JSON_H
#define AWSR_CREDS_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "creds.h"
#include "error.h"

/* Loads a JSON object. NULL with status 253 and "PREFIXWHAT is not valid JSON (line L,
 * column C)" or "PREFIXWHAT is not a JSON object": never the parser's own text, which
 * can quote the input (a secret). */
json_t *awsr_creds_json_load(const char *json, size_t len, const char *prefix,
                             const char *what, struct awsr_error *err);

/* Fills out from AccessKeyId, SecretAccessKey, token_key ("SessionToken" for
 * credential_process, "Token" for the metadata services), Expiration and AccountId.
 * 0, or -1 with a message starting with prefix (out untouched). */
int awsr_creds_json_fill(json_t *root, const char *token_key, const char *prefix,
                         struct awsr_creds *out, struct awsr_error *err);

/* Wipes every string of the document (jansson frees without wiping), then frees it. */
void awsr_json_wipe_free(json_t *j);

#endif
