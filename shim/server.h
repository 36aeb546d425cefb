/* server.h - the tree's local credentials endpoint, in the container-credentials shape the
 * AWS SDKs read (AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN).
 *
 * A socket on 127.0.0.1 with a kernel-chosen port, a 256-bit random token, served one
 * connection at a time from the launcher's poll loop: no thread. Routes (GET only, the
 * Authorization header must equal the token):
 *   /                  the tree's own profile (served[0])
 *   /get-credentials   the same (the Ruby SDK's habit)
 *   /role/<profile>    any served profile (percent-encoded name)
 * Answer: {"AccessKeyId","SecretAccessKey","Token","Expiration"[,"AccountId"]}.
 *
 * The same endpoint answers nested launchers (`awsrole-run --export --profile B` inside the
 * tree), so every served profile reaches them without STS or a prompt. */
#ifndef AWSR_SERVER_H
#define AWSR_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "creds.h"
#include "error.h"
#include "segment.h"

/* Variables that tell nested launchers where the tree's endpoint is (all modes). */
#define AWSR_ENDPOINT_ENV "AWSROLE_ENDPOINT"
#define AWSR_ENDPOINT_TOKEN_ENV "AWSROLE_ENDPOINT_TOKEN"

#define AWSR_SERVER_MAX_REQUEST 8192  /* request line + headers */
#define AWSR_SERVER_READ_MS 2000      /* a client gets this long to send its request */

struct awsr_server;

/* Binds 127.0.0.1:0 and draws the token. `served` (and the credentials it points to) must
 * stay valid while the server runs; they are read at each request, so the launcher renews
 * by updating them in place. */
int awsr_server_start(struct awsr_server **out, const struct awsr_served *served,
                      size_t nserved, bool verbose, struct awsr_error *err);

/* The listening fd (non-blocking, close-on-exec): poll it for POLLIN. */
int awsr_server_fd(const struct awsr_server *s);
/* "http://127.0.0.1:PORT" */
const char *awsr_server_url(const struct awsr_server *s);
/* 64 hex characters. */
const char *awsr_server_token(const struct awsr_server *s);

/* Accepts and answers the pending connections (each with a short read deadline). */
void awsr_server_handle(struct awsr_server *s);

/* Closes the socket and wipes the token. Safe on NULL. */
void awsr_server_stop(struct awsr_server *s);

/* The answer to one raw request (pure apart from the clock; for the loop and unit tests).
 * Returns a malloc'd complete HTTP/1.1 response (the caller wipes and frees it), its length
 * in *len and the status in *status; NULL on ENOMEM. `what` (optional) receives a short
 * description for -v logs, never a secret. */
char *awsr_server_respond(const struct awsr_server *s, const char *request, size_t reqlen,
                          time_t now, size_t *len, int *status, const char **what);

/* Client side, for nested launchers: GET <base>/role/<profile> with the token.
 * 0 and *out; -1 with err: status AWSR_E_OTHER and *answered false when the endpoint could
 * not be reached (the tree is gone), *answered true when it answered without credentials
 * (unknown profile: err->code "NotServed"; expired: "Expired"). */
int awsr_server_fetch(const char *base_url, const char *token, const char *profile,
                      struct awsr_creds *out, bool *answered, struct awsr_error *err);

#endif
