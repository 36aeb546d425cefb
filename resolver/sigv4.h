/* sigv4.h - AWS Signature Version 4 (header signing) over HMAC/SHA-256 (crypto.h).
 *
 * The caller describes the request as it will go on the wire (path and query already
 * percent-encoded, every header it will send and wants signed, Host included); the signer
 * returns the intermediate texts and the headers to add (X-Amz-Date, optionally
 * X-Amz-Content-SHA256 and X-Amz-Security-Token, then Authorization). */
#ifndef AWSR_SIGV4_H
#define AWSR_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct awsr_sigv4_header {
    const char *name;  /* any case; lower-cased for signing */
    const char *value; /* trimmed, inner whitespace runs (newlines too) folded to one space */
};

struct awsr_sigv4_request {
    const char *method;                       /* "GET", "POST" */
    const char *path;                         /* wire form; NULL or "" means "/" */
    const char *query;                        /* wire form without '?'; NULL: none */
    const struct awsr_sigv4_header *headers;  /* duplicates are joined with ',' in order */
    size_t n_headers;
    const void *body;                         /* hashed into the canonical request */
    size_t body_len;
    const char *region;
    const char *service;
    time_t timestamp;                         /* UTC seconds */
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;                /* NULL: none */
    bool normalize_path;      /* remove dot segments and collapse '//' (false for S3) */
    bool single_encode_path;  /* S3 style; default (false) percent-encodes the wire path
                               * once more, as every other service expects */
    bool sign_body;           /* add and sign x-amz-content-sha256 */
    bool omit_session_token;  /* sign without the token, add X-Amz-Security-Token after */
};

#define AWSR_SIGV4_MAX_ADD 4

struct awsr_sigv4_result {
    char *canonical_request;
    char *string_to_sign;
    char signature[65];                     /* lower-case hex */
    char *signed_headers;                   /* "content-type;host;x-amz-date" */
    char *authorization;                    /* value of the Authorization header */
    /* Headers to add to the request, "Name: value", NULL-terminated, in the order
     * X-Amz-Date, X-Amz-Content-SHA256, X-Amz-Security-Token, Authorization (the ones
     * that apply). Ready for struct awsr_http_request.headers. */
    char *add_headers[AWSR_SIGV4_MAX_ADD + 1];
};

/* Signs rq. 0 on success, -1 on a bad request (missing field) or allocation failure;
 * *res is then zeroed. Nothing secret is written anywhere but res->add_headers (token). */
int awsr_sigv4_sign(const struct awsr_sigv4_request *rq, struct awsr_sigv4_result *res);
/* Frees and wipes everything res holds; leaves it zeroed. */
void awsr_sigv4_result_free(struct awsr_sigv4_result *res);

/* Lower-case hex SHA-256 of data into out[65]; "" when libcrypto cannot be loaded. */
void awsr_sha256_hex(const void *data, size_t len, char out[65]);

/* SigV4 URI encoding: unreserved A-Za-z0-9-._~ kept, everything else %XX (upper case);
 * '/' kept when keep_slash. Appends nothing on NULL. Returns malloc'd text or NULL. */
char *awsr_sigv4_uri_encode(const char *s, size_t len, bool keep_slash);

#endif
