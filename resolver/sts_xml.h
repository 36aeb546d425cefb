/* sts_xml.h - the STS wire format below sts.h: the response/ErrorResponse parser (pure
 * functions over a byte buffer, unit tested and fuzzed), the request builder, and the
 * seams sts.c uses to reach the network (replaceable by tests). */
#ifndef AWSR_STS_XML_H
#define AWSR_STS_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "creds.h"
#include "error.h"
#include "http.h"
#include "sts.h"

/* ---- response parsing ---- */

/* Parses a 2xx body of operation `op` ("AssumeRole", "GetSessionToken",
 * "AssumeRoleWithWebIdentity", "GetCallerIdentity"). The namespace and any prefix are
 * ignored, elements may come in any order, tag names match exactly.
 * Credential operations fill *creds (all four Credentials fields required; account_id from
 * AssumedRoleUser/Arn when present); GetCallerIdentity fills *id (Account and Arn
 * required). Returns 0, or -1 with AWSR_E_OTHER
 * "STS returned a malformed response to OP: WHY" (never quoting the body). */
int awsr_sts_parse_response(const char *body, size_t len, const char *op,
                            struct awsr_creds *creds, struct awsr_identity *id,
                            struct awsr_error *err);

/* Turns a non-2xx answer into err (always returns -1): an ErrorResponse (or Errors/Error)
 * gives AWSR_E_SERVICE, code = Error/Code and
 * "An error occurred (CODE) when calling the OP operation: MESSAGE" (Code and Message
 * default to "Unknown"); a body that is empty, HTML or not an error document gives
 * code = the status number and message = the reason phrase. */
int awsr_sts_parse_error(const char *body, size_t len, long status, const char *reason,
                         const char *op, struct awsr_error *err);

/* Account id (5th ':' field) of an ARN into a malloc'd string; NULL when absent. */
char *awsr_arn_account(const char *arn);

/* ---- request building ---- */

struct awsr_sts_wire {
    char *url;
    char *body;           /* form text; wiped on free (it may hold a TokenCode or JWT) */
    size_t body_len;
    char *headers[10];    /* "Name: value", NULL-terminated */
};

/* Builds the POST for `body` (already "Action=..&Version=2011-06-15&.."): Host,
 * Content-Type, User-Agent, and when src is non-NULL the SigV4 headers for service "sts"
 * and c->region at time `now` (token signed when src has one). Takes a copy of body. */
int awsr_sts_build_request(const struct awsr_sts_client *c, const struct awsr_creds *src,
                           const char *body, time_t now, struct awsr_sts_wire *out,
                           struct awsr_error *err);
void awsr_sts_wire_free(struct awsr_sts_wire *w);

/* Appends "&NAME=quote_plus(value)" to a malloc'd form body (value NULL: nothing).
 * Returns 0, or -1 (ENOMEM; *body is then freed and NULL). */
int awsr_form_append(char **body, const char *name, const char *value);

/* ---- retries and clock skew ---- */

/* Throttling codes retried like botocore's standard mode. */
bool awsr_sts_retryable_code(const char *code);
/* Appends the clock skew hint to err when the error or the server Date (0: unknown)
 * says the local clock is off; `now` is the local time of the answer. */
void awsr_sts_clock_hint(struct awsr_error *err, time_t server_date, time_t now);

/* ---- seams ---- */

/* err->code values http.c sets on transport failures (status AWSR_E_OTHER). */
#define AWSR_HTTP_E_CONNECT "ConnectionError"  /* retried */
#define AWSR_HTTP_E_TIMEOUT "Timeout"          /* retried */
#define AWSR_HTTP_E_TLS "SSLError"
#define AWSR_HTTP_E_TOO_LARGE "ResponseTooLarge"
#define AWSR_HTTP_E_OTHER "HTTPClientError"

/* The Date header of the last response received on this thread, 0 if none (http.c; it
 * belongs in struct awsr_http_response). */
time_t awsr_http_last_date(void);

/* What sts.c calls to send a request: awsr_http_send plus the server Date. */
typedef int (*awsr_sts_transport_fn)(const struct awsr_http_request *rq,
                                     struct awsr_http_response *rs, time_t *server_date,
                                     struct awsr_error *err);
typedef void (*awsr_sts_sleep_fn)(double seconds);
/* Tests replace the transport, the backoff sleep and the clock; NULL restores each. */
void awsr_sts_set_hooks(awsr_sts_transport_fn send, awsr_sts_sleep_fn sleep_fn,
                        time_t (*now_fn)(void));

#endif
