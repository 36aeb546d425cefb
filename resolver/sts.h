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
    int max_attempts; /* tries per operation, retries included */
    bool verbose;
    time_t deadline;  /* 0: now + 30 s at the first call; retries stop there (exit 255) */
};

/* Where and how to reach STS: the plan's scoped settings. */
struct awsr_sts_settings {
    const char *endpoint;      /* configured URL (may carry a path, may be http://) or NULL */
    const char *region;        /* NULL or "": the global endpoint */
    const char *ca_bundle;     /* NULL: system store */
    const char *regional_mode; /* sts_regional_endpoints: NULL, "regional" or "legacy" */
    bool fips, dualstack;      /* use_fips_endpoint, use_dualstack_endpoint */
    int max_attempts;          /* 0: 3, CLI v2's standard retry mode */
};

/* Chooses the endpoint as botocore's STS rules do: the configured one when set (FIPS or
 * dual-stack with it: botocore's "Invalid Configuration" errors, 253); otherwise
 * https://sts[-fips].REGION.SUFFIX (amazonaws.com, amazonaws.com.cn for cn-*; api.aws or
 * api.amazonwebservices.com.cn for dual-stack; GovCloud's regular endpoints are its FIPS
 * ones), or the global https://sts.amazonaws.com signed for us-east-1 when there is no
 * region, or `regional_mode` is "legacy" for one of the legacy global regions. A bad
 * regional_mode: botocore's InvalidSTSRegionalEndpointsConfigError text, 253. */
int awsr_sts_client_init(struct awsr_sts_client *c, const struct awsr_sts_settings *s,
                         struct awsr_error *err);
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
 * connection errors are retried up to max_attempts - 1 times with jittered exponential backoff. */
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
