/* sources.c - the first credentials of a plan: static keys, the environment,
 * credential_process and web identity here, the metadata services in metadata.c; one
 * dispatch over them all, with botocore's messages. */
#include "sources.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "creds_json.h"
#include "fileio.h"
#include "handover.h"
#include "sts_params.h"

#define PROCESS_PREFIX "Error when retrieving credentials from custom-process: "
#define NO_CREDS_FMT \
    "Error when retrieving credentials from %s: No credentials found in credential_source " \
    "referenced in profile %s"

static const char *profile_name(const struct awsr_source *src)
{
    return src->profile ? src->profile : "default";
}

int awsr_source_no_creds(struct awsr_error *err, const char *provider,
                         const struct awsr_source *src)
{
    return awsr_error_set(err, AWSR_E_CONFIG, NO_CREDS_FMT, provider, profile_name(src));
}

/* ------------------------------------------------------------------------------------ */
/* credential_process output                                                             */

/* Python's repr-like text of a Version value for the "Unsupported version" message. */
static void version_text(json_t *v, char *buf, size_t sz)
{
    if (!v) {
        snprintf(buf, sz, "<Version key not provided>");
    } else if (json_is_string(v)) {
        snprintf(buf, sz, "%.64s", json_string_value(v));
    } else if (json_is_true(v)) {
        snprintf(buf, sz, "True");
    } else if (json_is_false(v)) {
        snprintf(buf, sz, "False");
    } else if (json_is_null(v)) {
        snprintf(buf, sz, "None");
    } else if (json_is_integer(v)) {
        snprintf(buf, sz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        snprintf(buf, sz, "%.17g", d);
        if (!strpbrk(buf, ".eEn")) /* 2.0 prints as 2 in C, 2.0 in Python */
            strncat(buf, ".0", sz - strlen(buf) - 1);
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, sz, "%.64s", s ? s : "?");
        free(s);
    }
}


int awsr_process_parse_output(const char *json, size_t len, struct awsr_creds *out,
                              struct awsr_error *err)
{
    json_t *root = awsr_creds_json_load(json, len, PROCESS_PREFIX, "the process output", err);
    if (!root)
        return -1;
    json_t *ver = json_object_get(root, "Version");
    int rc;
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        char vt[96];
        version_text(ver, vt, sizeof vt);
        rc = awsr_error_set(err, AWSR_E_CONFIG,
                            PROCESS_PREFIX "Unsupported version '%s' for credential process "
                                           "provider, supported versions: 1",
                            vt);
    } else {
        rc = awsr_creds_json_fill(root, "SessionToken", PROCESS_PREFIX, out, err);
    }
    awsr_json_wipe_free(root);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* STATIC and ENVIRONMENT                                                                */

static int fetch_static(const struct awsr_source *src, struct awsr_creds *out,
                        struct awsr_error *err)
{
    if (!src->creds.access_key_id || !*src->creds.access_key_id)
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "Partial credentials found in profile %s, missing: "
                              "aws_access_key_id",
                              profile_name(src));
    if (!src->creds.secret_access_key || !*src->creds.secret_access_key)
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "Partial credentials found in profile %s, missing: "
                              "aws_secret_access_key",
                              profile_name(src));
    if (awsr_creds_copy(out, &src->creds))
        return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    return 0;
}

const char *awsr_env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int fetch_env(const struct awsr_source *src, struct awsr_creds *out,
                     struct awsr_error *err)
{
    const char *akid = awsr_env_nonempty("AWS_ACCESS_KEY_ID");
    if (!akid)
        return awsr_source_no_creds(err, "Environment", src);
    const char *secret = awsr_env_nonempty("AWS_SECRET_ACCESS_KEY");
    if (!secret)
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "Partial credentials found in env, missing: "
                              "AWS_SECRET_ACCESS_KEY");
    const char *token = awsr_env_nonempty("AWS_SECURITY_TOKEN");
    if (!token)
        token = awsr_env_nonempty("AWS_SESSION_TOKEN");
    time_t expiration = 0;
    const char *exp = awsr_env_nonempty("AWS_CREDENTIAL_EXPIRATION");
    if (exp && awsr_time_parse(exp, &expiration) != 0)
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "AWS_CREDENTIAL_EXPIRATION '%.64s' is not an ISO 8601 time", exp);
    struct awsr_creds c = {0};
    const char *account = awsr_env_nonempty("AWS_ACCOUNT_ID");
    if (awsr_creds_set(&c, akid, secret, token, expiration) ||
        (account && !(c.account_id = strdup(account)))) {
        awsr_creds_clear(&c);
        return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    }
    awsr_creds_clear(out);
    *out = c;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* credential_process                                                                    */

static void strip(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t lead = strspn(s, " \t\r\n\f\v");
    memmove(s, s + lead, n - lead + 1);
}

#define PROCESS_CHAIN_MAX 16

int awsr_process_chain_check(const char *profile, struct awsr_error *err)
{
    const char *chain = getenv(AWSR_PROCESS_CHAIN_ENV);
    if (!chain || !profile)
        return 0;
    size_t n = strlen(profile), depth = 0;
    for (const char *p = chain; *p; depth++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == n && memcmp(p, profile, n) == 0)
            return awsr_error_set(err, AWSR_E_CONFIG,
                                  "credential_process loop: the credential_process of profile "
                                  "%s runs awsrole-run for profile %s again; name another "
                                  "profile in that line (--profile)", profile, profile);
        p += len + (nl != NULL);
    }
    if (depth >= PROCESS_CHAIN_MAX)
        return awsr_error_set(err, AWSR_E_CONFIG, "credential_process loop: %zu credential "
                              "processes run inside each other", depth);
    return 0;
}

/* Runs the command with AWSR_PROCESS_CHAIN_ENV extended by the source's profile, and puts
 * the variable back afterwards (it must not reach the tree). */
static int run_in_chain(const struct awsr_source *src, const struct awsr_proc_opts *opts,
                        struct awsr_proc_result *res, struct awsr_error *err)
{
    /* A statically linked launcher hands over before it runs a process: before the
     * variable is set, or its companion would take the chain for its own. */
    awsr_handover("a credential_process");
    const char *prev = getenv(AWSR_PROCESS_CHAIN_ENV);
    char *saved = prev ? strdup(prev) : NULL, *chain = NULL;
    if ((prev && !saved) || asprintf(&chain, "%s%s%s", prev ? prev : "", prev ? "\n" : "",
                                     src->profile ? src->profile : "") < 0) {
        free(saved);
        return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    }
    setenv(AWSR_PROCESS_CHAIN_ENV, chain, 1);
    free(chain);
    int rc = awsr_process_run_command(src->process_command, opts, res, PROCESS_PREFIX, err);
    if (saved)
        setenv(AWSR_PROCESS_CHAIN_ENV, saved, 1);
    else
        unsetenv(AWSR_PROCESS_CHAIN_ENV);
    free(saved);
    return rc;
}

/* A credential_process that fails is not a configuration error of ours (the AWS CLI
 * exits 255 for it), unless it said so itself: awsrole-run and AWS CLI v2 exit 253 for a
 * configuration error (no MFA source among them) and 254 when STS refused, and that
 * meaning carries through a nested run. */
static int failed_process_status(int wstatus)
{
    if (WIFEXITED(wstatus) &&
        (WEXITSTATUS(wstatus) == AWSR_E_CONFIG || WEXITSTATUS(wstatus) == AWSR_E_SERVICE))
        return WEXITSTATUS(wstatus);
    return AWSR_E_OTHER;
}

static int fetch_process(const struct awsr_source *src, bool renewal, const char *mfa_code,
                         struct awsr_creds *out, struct awsr_error *err)
{
    struct awsr_proc_opts opts = {.timeout_ms = AWSR_PROCESS_TIMEOUT_MS,
                                  .capture_stderr = true, .own_pgrp = true,
                                  .terminal = !renewal, .mfa_code = mfa_code};
    struct awsr_proc_result res;
    int rc = run_in_chain(src, &opts, &res, err);
    if (rc)
        return -1;
    long timeout = awsr_process_timeout_ms(AWSR_PROCESS_TIMEOUT_MS);
    if (res.timed_out) {
        rc = awsr_error_set(err, AWSR_E_OTHER,
                            PROCESS_PREFIX "the process timed out after %ld ms and was killed",
                            timeout);
    } else if (res.out_overflow) {
        rc = awsr_error_set(err, AWSR_E_OTHER,
                            PROCESS_PREFIX "the process wrote more than %d bytes to stdout",
                            AWSR_PROCESS_MAX_STDOUT);
    } else if (WIFSIGNALED(res.wstatus) || WEXITSTATUS(res.wstatus) != 0) {
        int status = failed_process_status(res.wstatus);
        strip(res.err);
        if (*res.err)
            rc = awsr_error_set(err, status, PROCESS_PREFIX "%s", res.err);
        else if (WIFSIGNALED(res.wstatus))
            rc = awsr_error_set(err, status, PROCESS_PREFIX "the process was killed by "
                                "signal %d", WTERMSIG(res.wstatus));
        else
            rc = awsr_error_set(err, status, PROCESS_PREFIX "the process exited with "
                                "status %d", WEXITSTATUS(res.wstatus));
    } else {
        rc = awsr_process_parse_output(res.out, res.out_len, out, err);
        /* botocore refuses these too ("...refreshed credentials are still expired"): a
         * child handed them would only meet ExpiredToken errors later. */
        if (rc == 0 && out->expiration != 0 && out->expiration <= time(NULL)) {
            char when[32];
            awsr_time_format(out->expiration, when, sizeof when);
            awsr_creds_clear(out);
            rc = awsr_error_set(err, AWSR_E_CONFIG,
                                PROCESS_PREFIX "the credentials it returned expired at %s", when);
        }
    }
    awsr_proc_result_free(&res);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Web identity                                                                          */

static int fetch_web_identity(const struct awsr_source *src, struct awsr_sts_client *sts,
                              struct awsr_creds *out, struct awsr_error *err)
{
    if (!src->role_arn || !*src->role_arn)
        return awsr_error_set(
            err, AWSR_E_CONFIG,
            "The provided profile or the current environment is configured to assume role "
            "with web identity but has no role ARN configured. Ensure that the profile has "
            "the role_arnconfiguration set or the AWS_ROLE_ARN env var is set.");
    if (!src->web_identity_token_file || !*src->web_identity_token_file)
        return awsr_error_set(err, AWSR_E_CONFIG, "no web identity token file is configured");
    if (!sts)
        return awsr_error_set(err, AWSR_E_OTHER, "internal error: no STS client for web identity");
    char *token;
    size_t len;
    if (awsr_read_small_file(src->web_identity_token_file, 1024 * 1024, &token, &len))
        return awsr_error_set(err, AWSR_E_CONFIG, "cannot read the web identity token file %s: %s",
                              src->web_identity_token_file,
                              errno == EFBIG ? "file too large" : strerror(errno));
    if (len == 0) {
        free(token);
        return awsr_error_set(err, AWSR_E_CONFIG, "the web identity token file %s is empty",
                              src->web_identity_token_file);
    }
    struct awsr_param_report r = {0};
    awsr_param_min_len(&r, "WebIdentityToken", token, AWSR_MIN_WEB_IDENTITY_TOKEN);
    if (awsr_param_report_error(&r, AWSR_E_CONFIG, err) < 0) {
        awsr_secret_free(token);
        return -1;
    }
    char session[64];
    const char *name = src->role_session_name;
    if (!name || !*name) {
        snprintf(session, sizeof session, "awsrole-run-%lld", (long long)time(NULL));
        name = session;
    }
    int rc = awsr_sts_assume_role_with_web_identity(sts, src->role_arn, name, token,
                                                    src->duration_seconds, out, err);
    awsr_secret_free(token);
    return rc;
}

int awsr_source_fetch(const struct awsr_source *src, struct awsr_sts_client *sts, bool renewal,
                      const char *mfa_code, struct awsr_creds *out, struct awsr_error *err)
{
    switch (src->kind) {
    case AWSR_SRC_STATIC:
        return fetch_static(src, out, err);
    case AWSR_SRC_ENVIRONMENT:
        return fetch_env(src, out, err);
    case AWSR_SRC_IMDS:
        return awsr_imds_fetch(src, out, err);
    case AWSR_SRC_CONTAINER:
        return awsr_container_fetch(src, out, err);
    case AWSR_SRC_PROCESS:
        return fetch_process(src, renewal, renewal ? NULL : mfa_code, out, err);
    case AWSR_SRC_WEB_IDENTITY:
        return fetch_web_identity(src, sts, out, err);
    }
    return awsr_error_set(err, AWSR_E_OTHER, "internal error: unknown credential source %d",
                          (int)src->kind);
}
