/* profile.h - a profile graph turned into a resolution plan: where the first credentials
 * come from, and which roles are assumed from them, in order (botocore's rules). */
#ifndef AWSR_PROFILE_H
#define AWSR_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "creds.h"
#include "error.h"

enum awsr_source_kind {
    AWSR_SRC_STATIC,       /* aws_access_key_id/aws_secret_access_key in a file section */
    AWSR_SRC_ENVIRONMENT,  /* credential_source = Environment */
    AWSR_SRC_IMDS,         /* credential_source = Ec2InstanceMetadata */
    AWSR_SRC_CONTAINER,    /* credential_source = EcsContainer */
    AWSR_SRC_PROCESS,      /* credential_process */
    AWSR_SRC_WEB_IDENTITY, /* web_identity_token_file + role_arn: AssumeRoleWithWebIdentity */
};

struct awsr_source {
    enum awsr_source_kind kind;
    char *profile;               /* profile the source was found in; NULL for env-only web identity */
    struct awsr_creds creds;     /* STATIC: the keys (and aws_session_token if any) */
    char *process_command;       /* PROCESS */
    char *web_identity_token_file; /* WEB_IDENTITY (env beats profile at top level) */
    char *role_arn;              /* WEB_IDENTITY */
    char *role_session_name;     /* WEB_IDENTITY, NULL: generated */
    int duration_seconds;        /* WEB_IDENTITY, 0: not set */
    /* STATIC source of a profile with mfa_serial and no role_arn: awsrole-run gets an MFA
     * session for it (GetSessionToken), where the CLI would use the keys as they are. */
    char *mfa_serial;
    char *mfa_process;
};

struct awsr_role_step {
    char *profile;            /* the profile that holds role_arn */
    char *role_arn;
    char *role_session_name;  /* NULL: not configured (generated awsrole-run-<unix seconds>) */
    char *external_id;
    char *mfa_serial;
    char *mfa_process;        /* from the same profile */
    int duration_seconds;     /* 0: not configured or not an integer (ignored, as botocore) */
    bool duration_given;      /* duration_seconds held an integer (0 and negatives included) */
};

struct awsr_plan {
    char *profile;                 /* the selected profile name */
    struct awsr_source source;
    struct awsr_role_step *steps;  /* steps[0] is assumed with the source's credentials, */
    size_t nsteps;                 /* steps[i] with steps[i-1]'s; the last is the target */
    char *region;                  /* --region, AWS_REGION, AWS_DEFAULT_REGION, region key; or NULL */
    char *sts_endpoint;            /* configured endpoint (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL,
                                      [services] sts endpoint_url, endpoint_url) or NULL */
    char *ca_bundle;               /* AWS_CA_BUNDLE, then ca_bundle; or NULL */
    char *sts_regional_endpoints;  /* AWS_STS_REGIONAL_ENDPOINTS, then the key; or NULL */
    bool use_fips, use_dualstack;  /* AWS_USE_FIPS_ENDPOINT / use_fips_endpoint, and the
                                      dual-stack pair */
    int max_attempts;              /* AWS_MAX_ATTEMPTS / max_attempts, else by retry mode */
};

struct awsr_plan_opts {
    const char *profile;     /* NULL: AWS_PROFILE, AWS_DEFAULT_PROFILE (present, even empty), "default" */
    const char *region;      /* --region or NULL */
    int duration_seconds;    /* --duration or 0: overrides the target step's duration */
};

/* Builds the plan for a profile. Errors carry botocore's wording, status 253. A profile
 * named explicitly (option or variable) that exists nowhere: "The config profile (NAME)
 * could not be found". The default profile may be absent when the environment supplies a
 * web identity. */
int awsr_plan_build(const struct awsr_config *cfg, const struct awsr_plan_opts *opts,
                    struct awsr_plan *plan, struct awsr_error *err);
/* botocore's client-side check of the STS parameters the plan will send (sts_params.h):
 * "Parameter validation failed: ...", 253. Run before anything is prompted or called. */
int awsr_plan_check_params(const struct awsr_plan *plan, struct awsr_error *err);

void awsr_plan_free(struct awsr_plan *plan);

/* The profile name chosen from opts and the environment (static or environ storage). */
const char *awsr_plan_profile_name(const struct awsr_plan_opts *opts);

#endif
