/* creds.h - the credentials value passed between every part of the resolver. */
#ifndef AWSR_CREDS_H
#define AWSR_CREDS_H

#include <stdbool.h>
#include <time.h>

struct awsr_creds {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL for long-term keys */
    time_t expiration;   /* 0 when the credentials do not expire */
    char *account_id;    /* optional, NULL when unknown */
};

/* Sets all fields from copies of the arguments (any may be NULL). 0 or -1 (ENOMEM). */
int awsr_creds_set(struct awsr_creds *c, const char *akid, const char *secret,
                   const char *token, time_t expiration);
int awsr_creds_copy(struct awsr_creds *dst, const struct awsr_creds *src);
/* Wipes the secret bytes (explicit_bzero) before freeing; leaves *c zeroed. */
void awsr_creds_clear(struct awsr_creds *c);
/* Frees a string after wiping it. */
void awsr_secret_free(char *s);
bool awsr_creds_present(const struct awsr_creds *c);
/* True when the credentials expire within `margin` seconds of `now` (never for 0). */
bool awsr_creds_expiring(const struct awsr_creds *c, time_t now, long margin);

/* ISO 8601 UTC: formats "2026-01-01T12:00:00Z" into buf (>= 21 bytes). */
void awsr_time_format(time_t t, char *buf, size_t bufsz);
/* Parses the forms botocore and STS write: "...Z", "...+00:00", "....611Z", "...UTC",
 * and other numeric offsets. Returns 0 and sets *out, or -1. */
int awsr_time_parse(const char *s, time_t *out);

#endif
