/* sts.h - the STS operations awsrole-run uses, signed with SigV4 (query protocol, POST
 * form, Version=2011-06-15), responses and ErrorResponse parsed with expat. */
#ifndef AWSR_STS_H
#define AWSR_STS_H

#include <stdbool.h>
#include <time.h>

#include "creds.h"
#include "error.h"

struct awsr_sts_client {
    char *endpoint;   /* URL the requests go to */
    char *region;     /* signing region */
    char *ca_bundle;  /* NULL: system store */
    bool verbose;
    time_t deadline;  /* 0: now + 30 s at the first call; retries stop there (exit 255) */
};

/* Chooses the endpoint: `configured` when non-NULL (may carry a path, may be http://);
 * otherwise https://sts.REGION.amazonaws.com (amazonaws.com.cn for cn-*, the us-gov
 * partition for us-gov-*), the global https://sts.amazonaws.com signed for us-east-1 when
 * region is NULL or `regional_mode` is "legacy" for one of the legacy global regions.
 * A bad regional_mode: botocore's InvalidSTSRegionalEndpointsConfigError text, 253. */
int awsr_sts_client_init(struct awsr_sts_client *c, const char *configured, const char *region,
                         const char *ca_bundle, const char *regional_mode, struct awsr_error *err);
void awsr_sts_client_free(struct awsr_sts_client *c);

struct awsr_assume_role_params {
    const char *role_arn;
    const char *role_session_name; /* required */
    const char *external_id;       /* optional */
    const char *serial_number;     /* optional, with token_code */
    const char *token_code;
    int duration_seconds;          /* 0: not sent */
};

/* On an STS error: AWSR_E_SERVICE, err->code = the AWS code, message =
 * "An error occurred (CODE) when calling the OP operation: MESSAGE". 5xx, throttling and
 * connection errors are retried 3 times with jittered exponential backoff. */
int awsr_sts_assume_role(struct awsr_sts_client *c, const struct awsr_creds *src,
                         const struct awsr_assume_role_params *p, struct awsr_creds *out,
                         struct awsr_error *err);
int awsr_sts_get_session_token(struct awsr_sts_client *c, const struct awsr_creds *src,
                               const char *serial, const char *code, int duration_seconds,
                               struct awsr_creds *out, struct awsr_error *err);
/* Unsigned. */
int awsr_sts_assume_role_with_web_identity(struct awsr_sts_client *c, const char *role_arn,
                                           const char *session_name, const char *token,
                                           int duration_seconds, struct awsr_creds *out,
                                           struct awsr_error *err);

struct awsr_identity {
    char *account;
    char *arn;
    char *user_id;
};
int awsr_sts_get_caller_identity(struct awsr_sts_client *c, const struct awsr_creds *src,
                                 struct awsr_identity *out, struct awsr_error *err);
void awsr_identity_free(struct awsr_identity *id);

#endif
