/* test_profile.c - profile selection and plans: botocore's assume-role, web identity,
 * process and static rules, the exact messages of aws-semantics.md 2.4, and the scoped
 * settings (region, endpoint, CA bundle). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

#define MSG_NO_CREDS                                                                           \
    "Unable to locate credentials. You can configure credentials by running \"aws login\"."

static const char *const env_vars[] = {
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_CA_BUNDLE", "AWS_STS_REGIONAL_ENDPOINTS", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
    "REQUESTS_CA_BUNDLE",
};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof env_vars / sizeof *env_vars; i++)
        unsetenv(env_vars[i]);
    return 0;
}

static struct awsr_config *cfg_of(const char *cfg, const char *cred)
{
    struct awsr_config *c = NULL;
    struct awsr_error err = {0};
    int rc = awsr_config_parse(cfg, cfg ? strlen(cfg) : 0, "/t/config", cred,
                               cred ? strlen(cred) : 0, "/t/credentials", &c, &err);
    if (rc)
        print_error("config: %s\n", err.message);
    assert_int_equal(rc, 0);
    return c;
}

/* Builds the plan for `profile` (NULL: from the environment) and expects success. */
static void plan_ok(const char *cfg, const char *cred, const char *profile,
                    struct awsr_plan *plan)
{
    struct awsr_config *c = cfg_of(cfg, cred);
    struct awsr_plan_opts opts = {.profile = profile};
    struct awsr_error err = {0};
    int rc = awsr_plan_build(c, &opts, plan, &err);
    if (rc)
        print_error("plan: %s\n", err.message);
    assert_int_equal(rc, 0);
    awsr_config_free(c);
}

/* Expects the exact message (status 253). */
static void plan_err_opts(const char *cfg, const char *cred, const struct awsr_plan_opts *opts,
                          const char *message)
{
    struct awsr_config *c = cfg_of(cfg, cred);
    struct awsr_plan plan;
    struct awsr_error err = {0};
    assert_int_equal(awsr_plan_build(c, opts, &plan, &err), -1);
    assert_int_equal(err.status, 253);
    assert_string_equal(err.message, message);
    assert_null(plan.steps);
    assert_null(plan.profile);
    awsr_config_free(c);
}

static void plan_err(const char *cfg, const char *cred, const char *profile, const char *message)
{
    struct awsr_plan_opts opts = {.profile = profile};
    plan_err_opts(cfg, cred, &opts, message);
}

/* ---------- profile selection ---------- */

static void test_profile_name_selection(void **state)
{
    (void)state;
    struct awsr_plan_opts opts = {0};
    assert_string_equal(awsr_plan_profile_name(&opts), "default");
    setenv("AWS_DEFAULT_PROFILE", "d", 1);
    assert_string_equal(awsr_plan_profile_name(&opts), "d");
    setenv("AWS_PROFILE", "p", 1);
    assert_string_equal(awsr_plan_profile_name(&opts), "p");
    setenv("AWS_PROFILE", "", 1);
    assert_string_equal(awsr_plan_profile_name(&opts), "");
    opts.profile = "o";
    assert_string_equal(awsr_plan_profile_name(&opts), "o");
}

static void test_explicit_profile_missing(void **state)
{
    (void)state;
    const char *cfg = "[profile a]\naws_access_key_id=A\naws_secret_access_key=S\n";
    plan_err(cfg, NULL, "nope", "The config profile (nope) could not be found");
    setenv("AWS_PROFILE", "envp", 1);
    plan_err(cfg, NULL, NULL, "The config profile (envp) could not be found");
    setenv("AWS_PROFILE", "", 1);
    plan_err(cfg, NULL, NULL, "The config profile () could not be found");
    unsetenv("AWS_PROFILE");
    setenv("AWS_DEFAULT_PROFILE", "dp", 1);
    plan_err(cfg, NULL, NULL, "The config profile (dp) could not be found");
    /* Explicit even when it is "default". */
    plan_err(cfg, NULL, "default", "The config profile (default) could not be found");
}

static void test_default_absent(void **state)
{
    (void)state;
    plan_err(NULL, NULL, NULL, MSG_NO_CREDS);
    plan_err("[profile a]\nregion=x\n", NULL, NULL, MSG_NO_CREDS);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token", 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/web", 1);
    setenv("AWS_ROLE_SESSION_NAME", "sess", 1);
    struct awsr_plan plan;
    plan_ok(NULL, NULL, NULL, &plan);
    assert_string_equal(plan.profile, "default");
    assert_int_equal(plan.source.kind, AWSR_SRC_WEB_IDENTITY);
    assert_null(plan.source.profile);
    assert_string_equal(plan.source.web_identity_token_file, "/var/run/token");
    assert_string_equal(plan.source.role_arn, "arn:aws:iam::1:role/web");
    assert_string_equal(plan.source.role_session_name, "sess");
    assert_int_equal(plan.nsteps, 0);
    awsr_plan_free(&plan);
    unsetenv("AWS_ROLE_SESSION_NAME");
    plan_ok(NULL, NULL, NULL, &plan);
    assert_null(plan.source.role_session_name);
    awsr_plan_free(&plan);
    unsetenv("AWS_ROLE_ARN");
    plan_err(NULL, NULL, NULL,
             "The provided profile or the current environment is configured to assume role "
             "with web identity but has no role ARN configured. Ensure that the profile has the "
             "role_arnconfiguration set or the AWS_ROLE_ARN env var is set.");
}

/* ---------- static keys, process ---------- */

static void test_static_top_level(void **state)
{
    (void)state;
    struct awsr_plan plan;
    plan_ok("[profile a]\naws_access_key_id = AK\naws_secret_access_key = SK\n"
            "aws_session_token = ST\naws_security_token = SEC\nmfa_serial = arn:mfa\n"
            "mfa_process = get-code\n",
            NULL, "a", &plan);
    assert_string_equal(plan.profile, "a");
    assert_int_equal(plan.nsteps, 0);
    assert_int_equal(plan.source.kind, AWSR_SRC_STATIC);
    assert_string_equal(plan.source.profile, "a");
    assert_string_equal(plan.source.creds.access_key_id, "AK");
    assert_string_equal(plan.source.creds.secret_access_key, "SK");
    assert_string_equal(plan.source.creds.session_token, "SEC"); /* security token first */
    assert_string_equal(plan.source.mfa_serial, "arn:mfa");
    assert_string_equal(plan.source.mfa_process, "get-code");
    awsr_plan_free(&plan);

    plan_ok("[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n", NULL, NULL, &plan);
    assert_null(plan.source.creds.session_token);
    assert_null(plan.source.mfa_serial);
    awsr_plan_free(&plan);
}

static void test_partial_static(void **state)
{
    (void)state;
    plan_err(NULL, "[a]\naws_access_key_id = AK\n", "a",
             "Partial credentials found in shared-credentials-file, missing: "
             "aws_secret_access_key");
    plan_err("[profile a]\naws_access_key_id = AK\n", NULL, "a",
             "Partial credentials found in config-file, missing: aws_secret_access_key");
    /* Static keys are read per file: the secret in the other file does not count. */
    plan_err("[profile a]\naws_secret_access_key = SK\n", "[a]\naws_access_key_id = AK\n", "a",
             "Partial credentials found in shared-credentials-file, missing: "
             "aws_secret_access_key");
    /* A secret alone is not a credential (aws_access_key_id triggers the providers). */
    plan_err("[profile a]\naws_secret_access_key = SK\n", NULL, "a",
             MSG_NO_CREDS);
}

static void test_sub_chain_order(void **state)
{
    (void)state;
    struct awsr_plan plan;
    /* credentials file static > credential_process > config file static */
    plan_ok("[profile a]\naws_access_key_id = CFG\naws_secret_access_key = S\n"
            "credential_process = tool --x\n",
            "[a]\naws_access_key_id = CRED\naws_secret_access_key = S\n", "a", &plan);
    assert_int_equal(plan.source.kind, AWSR_SRC_STATIC);
    assert_string_equal(plan.source.creds.access_key_id, "CRED");
    awsr_plan_free(&plan);
    plan_ok("[profile a]\naws_access_key_id = CFG\naws_secret_access_key = S\n"
            "credential_process = tool --x\n",
            NULL, "a", &plan);
    assert_int_equal(plan.source.kind, AWSR_SRC_PROCESS);
    assert_string_equal(plan.source.process_command, "tool --x");
    assert_string_equal(plan.source.profile, "a");
    awsr_plan_free(&plan);
    /* web identity (profile keys) comes before everything else */
    plan_ok("[profile a]\nweb_identity_token_file = /tok\nrole_arn = arn:r\n"
            "credential_process = tool\n",
            "[a]\naws_access_key_id = CRED\naws_secret_access_key = S\n", "a", &plan);
    assert_int_equal(plan.source.kind, AWSR_SRC_WEB_IDENTITY);
    assert_string_equal(plan.source.profile, "a");
    assert_int_equal(plan.nsteps, 0);
    awsr_plan_free(&plan);
}

/* ---------- assume role ---------- */

static void test_assume_role_single(void **state)
{
    (void)state;
    struct awsr_plan plan;
    plan_ok("[profile base]\naws_access_key_id = AK\naws_secret_access_key = SK\n"
            "mfa_serial = ignored-on-source\n"
            "[profile r]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n"
            "role_session_name = me\nexternal_id = ext\nmfa_serial = arn:mfa\n"
            "mfa_process = code-cmd\nduration_seconds = 1800\n",
            NULL, "r", &plan);
    assert_int_equal(plan.nsteps, 1);
    assert_int_equal(plan.source.kind, AWSR_SRC_STATIC);
    assert_string_equal(plan.source.profile, "base");
    assert_string_equal(plan.source.creds.access_key_id, "AK");
    assert_null(plan.source.mfa_serial);
    const struct awsr_role_step *st = &plan.steps[0];
    assert_string_equal(st->profile, "r");
    assert_string_equal(st->role_arn, "arn:aws:iam::1:role/r");
    assert_string_equal(st->role_session_name, "me");
    assert_string_equal(st->external_id, "ext");
    assert_string_equal(st->mfa_serial, "arn:mfa");
    assert_string_equal(st->mfa_process, "code-cmd");
    assert_int_equal(st->duration_seconds, 1800);
    awsr_plan_free(&plan);

    plan_ok("[profile r]\nrole_arn = arn:r\ncredential_source = Environment\n", NULL, "r",
            &plan);
    assert_int_equal(plan.nsteps, 1);
    assert_int_equal(plan.source.kind, AWSR_SRC_ENVIRONMENT);
    assert_string_equal(plan.source.profile, "r");
    assert_null(plan.steps[0].role_session_name);
    assert_null(plan.steps[0].external_id);
    assert_null(plan.steps[0].mfa_serial);
    assert_int_equal(plan.steps[0].duration_seconds, 0);
    awsr_plan_free(&plan);
}

static void test_credential_source_kinds(void **state)
{
    (void)state;
    const struct {
        const char *name;
        enum awsr_source_kind kind;
    } cases[] = {{"Environment", AWSR_SRC_ENVIRONMENT},
                 {"Ec2InstanceMetadata", AWSR_SRC_IMDS},
                 {"EcsContainer", AWSR_SRC_CONTAINER}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char cfg[200];
        snprintf(cfg, sizeof cfg, "[profile r]\nrole_arn = x\ncredential_source = %s\n",
                 cases[i].name);
        struct awsr_plan plan;
        plan_ok(cfg, NULL, "r", &plan);
        assert_int_equal(plan.source.kind, cases[i].kind);
        awsr_plan_free(&plan);
    }
    /* is_supported is an exact `in` test: another case is not a credential source. */
    const char *const wrong_case[] = {"ENVIRONMENT", "environment", "ec2instancemetadata",
                                      "ecscontainer"};
    for (size_t i = 0; i < sizeof wrong_case / sizeof *wrong_case; i++) {
        char cfg[200], msg[200];
        snprintf(cfg, sizeof cfg, "[profile r]\nrole_arn = x\ncredential_source = %s\n",
                 wrong_case[i]);
        snprintf(msg, sizeof msg,
                 "The credential source \"%s\" referenced in profile \"r\" is not valid.",
                 wrong_case[i]);
        plan_err(cfg, NULL, "r", msg);
    }
}

static void test_assume_role_messages(void **state)
{
    (void)state;
    plan_err("[profile A]\nrole_arn = x\nsource_profile = B\ncredential_source = Environment\n"
             "[profile B]\naws_access_key_id=a\naws_secret_access_key=b\n",
             NULL, "A", "The profile \"A\" contains both source_profile and credential_source.");
    plan_err("[profile A]\nrole_arn = x\n", NULL, "A",
             "Partial credentials found in assume-role, missing: source_profile or "
             "credential_source");
    plan_err("[profile A]\nrole_arn = x\ncredential_source = Ec2\n", NULL, "A",
             "The credential source \"Ec2\" referenced in profile \"A\" is not valid.");
    plan_err("[profile A]\nrole_arn = x\nsource_profile = B\n", NULL, "A",
             "The source_profile \"B\" referenced in the profile \"A\" does not exist.");
    plan_err("[profile A]\nrole_arn = x\nsource_profile = B\n[profile B]\nregion = r\n", NULL,
             "A", "The source profile \"B\" must have credentials.");
    /* Present-but-empty values count as set, as botocore's `is not None`. */
    plan_err("[profile A]\nrole_arn = x\nsource_profile =\n", NULL, "A",
             "The source_profile \"\" referenced in the profile \"A\" does not exist.");
    /* The validation also applies deeper in the chain. */
    plan_err("[profile A]\nrole_arn = x\nsource_profile = B\n[profile B]\nrole_arn = y\n", NULL,
             "A",
             "Partial credentials found in assume-role, missing: source_profile or "
             "credential_source");
}

static void test_cycles(void **state)
{
    (void)state;
    plan_err("[profile A]\nrole_arn = x\nsource_profile = B\n"
             "[profile B]\nrole_arn = y\nsource_profile = A\n",
             NULL, "A",
             "Infinite loop in credential configuration detected. Attempting to load from "
             "profile A which has already been visited. Visited profiles: ['A', 'B']");
    plan_err("[profile A]\nrole_arn = x\nsource_profile = A\n", NULL, "A",
             "Infinite loop in credential configuration detected. Attempting to load from "
             "profile A which has already been visited. Visited profiles: ['A']");
    plan_err("[profile A]\nrole_arn = x\nsource_profile = B\n"
             "[profile B]\nrole_arn = y\nsource_profile = C\n"
             "[profile C]\nrole_arn = z\nsource_profile = B\n",
             NULL, "A",
             "Infinite loop in credential configuration detected. Attempting to load from "
             "profile B which has already been visited. Visited profiles: ['A', 'B', 'C']");
    /* Python's repr picks double quotes for a name holding a single quote. */
    plan_err("[profile \"it's\"]\nrole_arn = x\nsource_profile = it's\n", NULL, "it's",
             "Infinite loop in credential configuration detected. Attempting to load from "
             "profile it's which has already been visited. Visited profiles: [\"it's\"]");
}

static void test_self_reference_with_keys(void **state)
{
    (void)state;
    struct awsr_plan plan;
    plan_ok("[profile A]\nrole_arn = arn:a\nsource_profile = A\naws_access_key_id = AK\n"
            "aws_secret_access_key = SK\n",
            NULL, "A", &plan);
    assert_int_equal(plan.nsteps, 1);
    assert_string_equal(plan.steps[0].role_arn, "arn:a");
    assert_int_equal(plan.source.kind, AWSR_SRC_STATIC);
    assert_string_equal(plan.source.profile, "A");
    assert_string_equal(plan.source.creds.access_key_id, "AK");
    awsr_plan_free(&plan);
    /* Deeper in a chain a self-referencing profile with keys is never followed: its
     * static keys win over its role_arn. */
    plan_ok("[profile A]\nrole_arn = arn:a\nsource_profile = B\n"
            "[profile B]\nrole_arn = arn:b\nsource_profile = B\naws_access_key_id = BK\n"
            "aws_secret_access_key = S\n",
            NULL, "A", &plan);
    assert_int_equal(plan.nsteps, 1);
    assert_string_equal(plan.source.creds.access_key_id, "BK");
    awsr_plan_free(&plan);
}

static void test_static_beats_role_in_source(void **state)
{
    (void)state;
    struct awsr_plan plan;
    plan_ok("[profile A]\nrole_arn = arn:a\nsource_profile = B\n"
            "[profile B]\nrole_arn = arn:b\nsource_profile = C\n",
            "[B]\naws_access_key_id = BK\naws_secret_access_key = S\n", "A", &plan);
    assert_int_equal(plan.nsteps, 1);
    assert_string_equal(plan.steps[0].role_arn, "arn:a");
    assert_string_equal(plan.source.profile, "B");
    assert_string_equal(plan.source.creds.access_key_id, "BK");
    awsr_plan_free(&plan);
    /* A source with credential_process and no role_arn: the process is the source. */
    plan_ok("[profile A]\nrole_arn = arn:a\nsource_profile = P\n"
            "[profile P]\ncredential_process = /bin/creds\n",
            NULL, "A", &plan);
    assert_int_equal(plan.source.kind, AWSR_SRC_PROCESS);
    assert_string_equal(plan.source.process_command, "/bin/creds");
    awsr_plan_free(&plan);
}

static void test_chain_order_and_override(void **state)
{
    (void)state;
    struct awsr_plan plan;
    const char *cfg = "[profile top]\nrole_arn = arn:top\nsource_profile = mid\n"
                      "duration_seconds = 1200\n"
                      "[profile mid]\nrole_arn = arn:mid\nsource_profile = base\n"
                      "mfa_serial = arn:mfa-mid\n"
                      "[profile base]\naws_access_key_id = AK\naws_secret_access_key = S\n";
    plan_ok(cfg, NULL, "top", &plan);
    assert_int_equal(plan.nsteps, 2);
    assert_string_equal(plan.steps[0].profile, "mid");
    assert_string_equal(plan.steps[0].role_arn, "arn:mid");
    assert_string_equal(plan.steps[0].mfa_serial, "arn:mfa-mid");
    assert_string_equal(plan.steps[1].profile, "top");
    assert_int_equal(plan.steps[1].duration_seconds, 1200);
    assert_string_equal(plan.source.profile, "base");
    awsr_plan_free(&plan);

    struct awsr_config *c = cfg_of(cfg, NULL);
    struct awsr_plan_opts opts = {.profile = "top", .duration_seconds = 43200};
    struct awsr_error err = {0};
    assert_int_equal(awsr_plan_build(c, &opts, &plan, &err), 0);
    assert_int_equal(plan.steps[1].duration_seconds, 43200);
    assert_int_equal(plan.steps[0].duration_seconds, 0);
    awsr_plan_free(&plan);
    awsr_config_free(c);
}

static void test_duration_parsing(void **state)
{
    (void)state;
    const struct {
        const char *text;
        int want;
    } cases[] = {{"900", 900},   {" 900 ", 900}, {"\t3600\t", 3600}, {"+1200", 1200},
                 {"-5", -5},     {"0900", 900},  {"1_000", 1000},    {"abc", 0},
                 {"9e2", 0},     {"900.0", 0},   {"", 0},            {"1__0", 0},
                 {"_10", 0},     {"10_", 0},     {"1 0", 0},         {"0x10", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char cfg[200];
        snprintf(cfg, sizeof cfg,
                 "[profile r]\nrole_arn = x\ncredential_source = Environment\n"
                 "duration_seconds = %s\n",
                 cases[i].text);
        struct awsr_plan plan;
        plan_ok(cfg, NULL, "r", &plan);
        if (plan.steps[0].duration_seconds != cases[i].want)
            print_error("duration '%s'\n", cases[i].text);
        assert_int_equal(plan.steps[0].duration_seconds, cases[i].want);
        awsr_plan_free(&plan);
    }
}

static void test_deep_chain(void **state)
{
    (void)state;
    size_t depth = 5000;
    char *cfg = malloc(depth * 100 + 200);
    assert_non_null(cfg);
    size_t off = 0;
    for (size_t i = 0; i < depth; i++)
        off += (size_t)sprintf(cfg + off,
                               "[profile p%zu]\nrole_arn = arn:aws:iam::1:role/r%zu\n"
                               "source_profile = p%zu\n",
                               i, i, i + 1);
    sprintf(cfg + off, "[profile p%zu]\naws_access_key_id = AK\naws_secret_access_key = S\n",
            depth);
    struct awsr_plan plan;
    plan_ok(cfg, NULL, "p0", &plan);
    assert_int_equal(plan.nsteps, depth);
    assert_string_equal(plan.steps[0].profile, "p4999");
    assert_string_equal(plan.steps[depth - 1].profile, "p0");
    assert_string_equal(plan.source.profile, "p5000");
    awsr_plan_free(&plan);

    /* The same chain closed into a loop: reported, not recursed. */
    off = 0;
    for (size_t i = 0; i < depth; i++)
        off += (size_t)sprintf(cfg + off,
                               "[profile p%zu]\nrole_arn = r\nsource_profile = p%zu\n", i,
                               (i + 1) % depth);
    struct awsr_config *c = cfg_of(cfg, NULL);
    struct awsr_plan_opts opts = {.profile = "p0"};
    struct awsr_error err = {0};
    assert_int_equal(awsr_plan_build(c, &opts, &plan, &err), -1);
    assert_non_null(strstr(err.message, "Attempting to load from profile p0 which has already "
                                        "been visited. Visited profiles: ['p0', 'p1', 'p2'"));
    awsr_config_free(c);
    free(cfg);
}

/* ---------- web identity ---------- */

static void test_web_identity_env_vs_profile(void **state)
{
    (void)state;
    const char *cfg = "[profile w]\nweb_identity_token_file = /prof/tok\nrole_arn = arn:prof\n"
                      "role_session_name = prof-sess\n"
                      "[profile r]\nrole_arn = arn:r\nsource_profile = w\n";
    struct awsr_plan plan;
    plan_ok(cfg, NULL, "w", &plan);
    assert_int_equal(plan.source.kind, AWSR_SRC_WEB_IDENTITY);
    assert_string_equal(plan.source.web_identity_token_file, "/prof/tok");
    assert_string_equal(plan.source.role_arn, "arn:prof");
    assert_string_equal(plan.source.role_session_name, "prof-sess");
    awsr_plan_free(&plan);

    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/env/tok", 1);
    setenv("AWS_ROLE_ARN", "arn:env", 1);
    setenv("AWS_ROLE_SESSION_NAME", "env-sess", 1);
    /* At the top the environment wins when the profile comes from AWS_PROFILE... */
    setenv("AWS_PROFILE", "w", 1);
    plan_ok(cfg, NULL, NULL, &plan);
    assert_string_equal(plan.source.web_identity_token_file, "/env/tok");
    assert_string_equal(plan.source.role_arn, "arn:env");
    assert_string_equal(plan.source.role_session_name, "env-sess");
    awsr_plan_free(&plan);
    unsetenv("AWS_PROFILE");
    /* ...but an explicit --profile turns the variables off (botocore's disable_env_vars)... */
    plan_ok(cfg, NULL, "w", &plan);
    assert_string_equal(plan.source.web_identity_token_file, "/prof/tok");
    assert_string_equal(plan.source.role_arn, "arn:prof");
    assert_string_equal(plan.source.role_session_name, "prof-sess");
    awsr_plan_free(&plan);
    /* ...but not for a source profile. */
    plan_ok(cfg, NULL, "r", &plan);
    assert_int_equal(plan.nsteps, 1);
    assert_int_equal(plan.source.kind, AWSR_SRC_WEB_IDENTITY);
    assert_string_equal(plan.source.profile, "w");
    assert_string_equal(plan.source.web_identity_token_file, "/prof/tok");
    assert_string_equal(plan.source.role_arn, "arn:prof");
    awsr_plan_free(&plan);
    /* Environment web identity beats static keys of the selected profile (chain order)
     * when no --profile was given, but assume-role (role_arn without a token file key)
     * comes first. With --profile the static keys are used. */
    setenv("AWS_PROFILE", "s", 1);
    plan_ok("[profile s]\naws_access_key_id = A\naws_secret_access_key = S\n", NULL, NULL,
            &plan);
    assert_int_equal(plan.source.kind, AWSR_SRC_WEB_IDENTITY);
    awsr_plan_free(&plan);
    unsetenv("AWS_PROFILE");
    plan_ok("[profile s]\naws_access_key_id = A\naws_secret_access_key = S\n", NULL, "s",
            &plan);
    assert_int_equal(plan.source.kind, AWSR_SRC_STATIC);
    awsr_plan_free(&plan);
    plan_ok(cfg, NULL, "r", &plan);
    assert_int_equal(plan.nsteps, 1);
    awsr_plan_free(&plan);
    /* --duration applies to a web identity target. */
    struct awsr_config *c = cfg_of(cfg, NULL);
    struct awsr_plan_opts opts = {.profile = "w", .duration_seconds = 900};
    struct awsr_error err = {0};
    assert_int_equal(awsr_plan_build(c, &opts, &plan, &err), 0);
    assert_int_equal(plan.source.duration_seconds, 900);
    awsr_plan_free(&plan);
    awsr_config_free(c);
}

static void test_web_identity_missing_arn(void **state)
{
    (void)state;
    const char *msg = "The provided profile or the current environment is configured to assume "
                      "role with web identity but has no role ARN configured. Ensure that the "
                      "profile has the role_arnconfiguration set or the AWS_ROLE_ARN env var is "
                      "set.";
    plan_err("[profile w]\nweb_identity_token_file = /tok\n", NULL, "w", msg);
    plan_err("[profile r]\nrole_arn = x\nsource_profile = w\n"
             "[profile w]\nweb_identity_token_file = /tok\n",
             NULL, "r", msg);
    /* AWS_ROLE_ARN present but empty beats the profile's role_arn at the top (profile
     * from AWS_PROFILE: an explicit --profile turns the variables off). */
    setenv("AWS_ROLE_ARN", "", 1);
    setenv("AWS_PROFILE", "w", 1);
    plan_err("[profile w]\nweb_identity_token_file = /tok\nrole_arn = arn:x\n", NULL, NULL, msg);
    unsetenv("AWS_PROFILE");
}

/* ---------- region ---------- */

static void test_region_order(void **state)
{
    (void)state;
    const char *cfg = "[profile a]\naws_access_key_id = A\naws_secret_access_key = S\n"
                      "region = from-key\n"
                      "[profile b]\nrole_arn = x\nsource_profile = a\n";
    struct awsr_plan plan;
    plan_ok(cfg, NULL, "a", &plan);
    assert_string_equal(plan.region, "from-key");
    awsr_plan_free(&plan);
    /* The source profile's region is not used. */
    plan_ok(cfg, NULL, "b", &plan);
    assert_null(plan.region);
    awsr_plan_free(&plan);
    setenv("AWS_DEFAULT_REGION", "from-default", 1);
    plan_ok(cfg, NULL, "a", &plan);
    assert_string_equal(plan.region, "from-default");
    awsr_plan_free(&plan);
    setenv("AWS_REGION", "from-region", 1);
    plan_ok(cfg, NULL, "a", &plan);
    assert_string_equal(plan.region, "from-region");
    awsr_plan_free(&plan);
    struct awsr_config *c = cfg_of(cfg, NULL);
    struct awsr_plan_opts opts = {.profile = "a", .region = "eu-west-3"};
    struct awsr_error err = {0};
    assert_int_equal(awsr_plan_build(c, &opts, &plan, &err), 0);
    assert_string_equal(plan.region, "eu-west-3");
    awsr_plan_free(&plan);
    awsr_config_free(c);
}

static void test_region_validation(void **state)
{
    (void)state;
    const char *good[] = {"us-east-1", "a", "x1", "1a", "a-b", "ABC",
                          "a23456789012345678901234567890123456789012345678901234567890123"};
    const char *bad[] = {"123", "-us", "us-", "us_east", "us east", "us.east",
                         "a234567890123456789012345678901234567890123456789012345678901234",
                         "us-east-1 # c", "\"us-east-1\""};
    const char *cfg = "[profile a]\naws_access_key_id = A\naws_secret_access_key = S\n";
    struct awsr_config *c = cfg_of(cfg, NULL);
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        struct awsr_plan plan;
        struct awsr_plan_opts opts = {.profile = "a", .region = good[i]};
        struct awsr_error err = {0};
        assert_int_equal(awsr_plan_build(c, &opts, &plan, &err), 0);
        assert_string_equal(plan.region, good[i]);
        awsr_plan_free(&plan);
    }
    awsr_config_free(c);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct awsr_plan_opts opts = {.profile = "a", .region = bad[i]};
        char msg[256];
        snprintf(msg, sizeof msg, "Provided region_name '%s' doesn't match a supported format.",
                 bad[i]);
        plan_err_opts(cfg, NULL, &opts, msg);
    }
    /* From the key too (the inline comment is part of the value). */
    plan_err("[profile a]\naws_access_key_id = A\naws_secret_access_key = S\n"
             "region = us-east-1 # c\n",
             NULL, "a", "Provided region_name 'us-east-1 # c' doesn't match a supported format.");
}

/* ---------- endpoints, CA bundle, regional endpoints ---------- */

static void test_endpoint_order(void **state)
{
    (void)state;
    const char *cfg = "[profile a]\naws_access_key_id = A\naws_secret_access_key = S\n"
                      "endpoint_url = http://profile\nservices = dev\n"
                      "[services dev]\nsts =\n  endpoint_url = http://services\n"
                      "s3 =\n  endpoint_url = http://s3\n"
                      "[profile b]\naws_access_key_id = A\naws_secret_access_key = S\n"
                      "endpoint_url = http://profile-b\nservices = dev2\n"
                      "[services dev2]\ns3 =\n  endpoint_url = http://s3\n";
    struct awsr_plan plan;
    plan_ok(cfg, NULL, "a", &plan);
    assert_string_equal(plan.sts_endpoint, "http://services");
    awsr_plan_free(&plan);
    plan_ok(cfg, NULL, "b", &plan); /* no sts entry: fall back to endpoint_url */
    assert_string_equal(plan.sts_endpoint, "http://profile-b");
    awsr_plan_free(&plan);
    setenv("AWS_ENDPOINT_URL", "", 1); /* empty: skipped */
    plan_ok(cfg, NULL, "a", &plan);
    assert_string_equal(plan.sts_endpoint, "http://services");
    awsr_plan_free(&plan);
    setenv("AWS_ENDPOINT_URL", "http://global", 1);
    plan_ok(cfg, NULL, "a", &plan);
    assert_string_equal(plan.sts_endpoint, "http://global");
    awsr_plan_free(&plan);
    setenv("AWS_ENDPOINT_URL_STS", "http://sts-env", 1);
    plan_ok(cfg, NULL, "a", &plan);
    assert_string_equal(plan.sts_endpoint, "http://sts-env");
    awsr_plan_free(&plan);
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE", 1);
    plan_ok(cfg, NULL, "a", &plan);
    assert_null(plan.sts_endpoint);
    awsr_plan_free(&plan);
    /* The variable, when present, beats the key. */
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false", 1);
    unsetenv("AWS_ENDPOINT_URL_STS");
    unsetenv("AWS_ENDPOINT_URL");
    plan_ok("[default]\nendpoint_url = http://e\nignore_configured_endpoint_urls = true\n"
            "aws_access_key_id = A\naws_secret_access_key = S\n",
            NULL, NULL, &plan);
    assert_string_equal(plan.sts_endpoint, "http://e");
    awsr_plan_free(&plan);
    unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    plan_ok("[default]\nendpoint_url = http://e\nignore_configured_endpoint_urls = True\n"
            "aws_access_key_id = A\naws_secret_access_key = S\n",
            NULL, NULL, &plan);
    assert_null(plan.sts_endpoint);
    awsr_plan_free(&plan);
}

static void test_services_section_missing(void **state)
{
    (void)state;
    const char *msg = "The profile is configured to use the services section but the \"nope\" "
                      "services configuration does not exist.";
    plan_err("[default]\nservices = nope\naws_access_key_id = A\naws_secret_access_key = S\n",
             NULL, NULL, msg);
    /* An empty services section counts as missing (botocore's `if not section`). */
    plan_err("[default]\nservices = nope\naws_access_key_id = A\naws_secret_access_key = S\n"
             "[services nope]\n",
             NULL, NULL, msg);
    /* No error when an environment endpoint settles it first. */
    setenv("AWS_ENDPOINT_URL_STS", "http://x", 1);
    struct awsr_plan plan;
    plan_ok("[default]\nservices = nope\naws_access_key_id = A\naws_secret_access_key = S\n",
            NULL, NULL, &plan);
    assert_string_equal(plan.sts_endpoint, "http://x");
    awsr_plan_free(&plan);
}

static void test_ca_bundle_and_regional(void **state)
{
    (void)state;
    const char *cfg = "[default]\naws_access_key_id = A\naws_secret_access_key = S\n"
                      "ca_bundle = /key/ca.pem\nsts_regional_endpoints = legacy\n";
    struct awsr_plan plan;
    plan_ok(cfg, NULL, NULL, &plan);
    assert_string_equal(plan.ca_bundle, "/key/ca.pem");
    assert_string_equal(plan.sts_regional_endpoints, "legacy");
    awsr_plan_free(&plan);
    setenv("AWS_CA_BUNDLE", "~/$X/env.pem", 1); /* urllib3 expands ~, not $VAR */
    setenv("AWS_STS_REGIONAL_ENDPOINTS", "regional", 1);
    setenv("HOME", "/home/u", 1);
    plan_ok(cfg, NULL, NULL, &plan);
    assert_string_equal(plan.ca_bundle, "/home/u/$X/env.pem");
    assert_string_equal(plan.sts_regional_endpoints, "regional");
    awsr_plan_free(&plan);
    const char *msg = "Invalid CA bundle: the configured value (ca_bundle, AWS_CA_BUNDLE, "
                      "REQUESTS_CA_BUNDLE, or verify) resolved to an empty or whitespace-only "
                      "string. Provide a valid path to a CA bundle file.";
    setenv("AWS_CA_BUNDLE", "  ", 1);
    plan_err(cfg, NULL, NULL, msg);
    unsetenv("AWS_CA_BUNDLE");
    plan_err("[default]\naws_access_key_id = A\naws_secret_access_key = S\nca_bundle =\n", NULL,
             NULL, msg);
    plan_ok("[default]\naws_access_key_id = A\naws_secret_access_key = S\n", NULL, NULL, &plan);
    assert_null(plan.ca_bundle);
    assert_null(plan.sts_endpoint);
    assert_string_equal(plan.sts_regional_endpoints, "regional");
    awsr_plan_free(&plan);
    /* REQUESTS_CA_BUNDLE comes after both (endpoint.py _get_verify_value). */
    setenv("REQUESTS_CA_BUNDLE", "/req/ca.pem", 1);
    plan_ok("[default]\naws_access_key_id = A\naws_secret_access_key = S\n", NULL, NULL, &plan);
    assert_string_equal(plan.ca_bundle, "/req/ca.pem");
    awsr_plan_free(&plan);
    plan_ok(cfg, NULL, NULL, &plan);
    assert_string_equal(plan.ca_bundle, "/key/ca.pem");
    awsr_plan_free(&plan);
    setenv("REQUESTS_CA_BUNDLE", "", 1);
    plan_err("[default]\naws_access_key_id = A\naws_secret_access_key = S\n", NULL, NULL, msg);
    unsetenv("REQUESTS_CA_BUNDLE");
}

static void test_settings_from_top_profile(void **state)
{
    (void)state;
    struct awsr_plan plan;
    plan_ok("[profile top]\nrole_arn = arn:t\nsource_profile = src\nregion = top-r\n"
            "[profile src]\naws_access_key_id = A\naws_secret_access_key = S\n"
            "region = src-r\nca_bundle = /src.pem\nendpoint_url = http://src\n",
            NULL, "top", &plan);
    assert_string_equal(plan.region, "top-r");
    assert_null(plan.ca_bundle);
    assert_null(plan.sts_endpoint);
    awsr_plan_free(&plan);
}

#define T(f) cmocka_unit_test_setup(f, clear_env)

/* ---------- SSO, parameter checks, retries, endpoint variants ---------- */

static void test_sso_profiles_are_not_silently_skipped(void **state)
{
    (void)state;
    const char *keys = "aws_access_key_id = A\naws_secret_access_key = S\n";
    char cfg[512];
    /* Complete: botocore's SSO provider comes before the profile's keys. */
    snprintf(cfg, sizeof cfg, "[profile s]\nsso_start_url = https://x.awsapps.com/start\n"
             "sso_region = us-east-1\nsso_account_id = 1\nsso_role_name = R\n%s", keys);
    plan_err(cfg, NULL, "s",
             "The profile \"s\" uses IAM Identity Center (SSO), which awsrole-run does not "
             "sign in to. Use it through the AWS CLI: a profile with credential_process = aws "
             "configure export-credentials --profile s --format process (after aws sso login), "
             "as a source_profile or with -p.");
    plan_err("[profile s]\nsso_role_name = R\n", NULL, "s",
             "The profile \"s\" is configured to use SSO but is missing required "
             "configuration: sso_account_id, sso_start_url, sso_region");
    plan_err("[profile s]\nsso_role_name = R\nsso_session = nope\n", NULL, "s",
             "The specified sso-session does not exist: \"nope\"");
    plan_err("[profile s]\nsso_role_name = R\nsso_account_id = 1\nsso_session = co\n"
             "sso_region = eu-west-1\n"
             "[sso-session co]\nsso_start_url = https://x\nsso_region = us-east-1\n",
             NULL, "s",
             "The value for sso_region is inconsistent between profile (eu-west-1) and "
             "sso-session (us-east-1).");
    /* As a source profile too. */
    plan_err("[profile r]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = s\n"
             "[profile s]\nsso_account_id = 1\n",
             NULL, "r",
             "The profile \"s\" is configured to use SSO but is missing required "
             "configuration: sso_role_name, sso_start_url, sso_region");
    /* sso_start_url alone is not an SSO profile for botocore (role name or account id). */
    struct awsr_plan plan;
    snprintf(cfg, sizeof cfg, "[profile s]\nsso_start_url = https://x\n%s", keys);
    plan_ok(cfg, NULL, "s", &plan);
    assert_int_equal(plan.source.kind, AWSR_SRC_STATIC);
    awsr_plan_free(&plan);
}

static void check_params(const char *cfg, const char *message)
{
    struct awsr_plan plan;
    plan_ok(cfg, NULL, "r", &plan);
    struct awsr_error err = {0};
    if (!message) {
        assert_int_equal(awsr_plan_check_params(&plan, &err), 0);
    } else {
        assert_int_equal(awsr_plan_check_params(&plan, &err), -1);
        assert_int_equal(err.status, AWSR_E_CONFIG);
        assert_string_equal(err.message, message);
    }
    awsr_plan_free(&plan);
}

static void test_parameter_minimums(void **state)
{
    (void)state;
#define ROLE "[profile r]\nrole_arn = arn:aws:iam::123456789012:role/r\n" \
             "credential_source = Environment\n"
    check_params(ROLE, NULL);
    check_params(ROLE "duration_seconds = 900\nrole_session_name = ab\nexternal_id = ab\n"
                      "mfa_serial = arn:aws:i\n", NULL);
    /* An empty role_session_name is generated, as botocore does ("if not name"). */
    check_params(ROLE "role_session_name =\n", NULL);
    /* Not an integer: ignored. */
    check_params(ROLE "duration_seconds = 1h\n", NULL);
    check_params(ROLE "duration_seconds = 600\n",
                 "Parameter validation failed: Invalid value for parameter DurationSeconds, "
                 "value: 600, valid min value: 900");
    check_params(ROLE "duration_seconds = 0\n",
                 "Parameter validation failed: Invalid value for parameter DurationSeconds, "
                 "value: 0, valid min value: 900");
    check_params(ROLE "role_session_name = x\nexternal_id =\nmfa_serial = arn:mfa\n"
                      "duration_seconds = -5\n",
                 "Parameter validation failed: Invalid length for parameter RoleSessionName, "
                 "value: 1, valid min length: 2; Invalid length for parameter ExternalId, "
                 "value: 0, valid min length: 2; Invalid length for parameter SerialNumber, "
                 "value: 7, valid min length: 9; Invalid value for parameter DurationSeconds, "
                 "value: -5, valid min value: 900");
    check_params("[profile r]\nrole_arn = arn:short\ncredential_source = Environment\n",
                 "Parameter validation failed: Invalid length for parameter RoleArn, value: 9, "
                 "valid min length: 20");
    /* Characters, not bytes: "\u00e9\u00e9" is two. */
    check_params(ROLE "role_session_name = \xc3\xa9\xc3\xa9\n", NULL);
#undef ROLE
}

static void test_retry_settings(void **state)
{
    (void)state;
    const char *cfg = "[profile s]\naws_access_key_id = A\naws_secret_access_key = S\n";
    struct awsr_plan plan;
    plan_ok(cfg, NULL, "s", &plan);
    assert_int_equal(plan.max_attempts, 3); /* CLI v2: standard mode */
    awsr_plan_free(&plan);
    setenv("AWS_RETRY_MODE", "legacy", 1);
    plan_ok(cfg, NULL, "s", &plan);
    assert_int_equal(plan.max_attempts, 5);
    awsr_plan_free(&plan);
    setenv("AWS_MAX_ATTEMPTS", "1", 1);
    plan_ok(cfg, NULL, "s", &plan);
    assert_int_equal(plan.max_attempts, 1);
    awsr_plan_free(&plan);
    unsetenv("AWS_RETRY_MODE");
    unsetenv("AWS_MAX_ATTEMPTS");
    plan_ok("[profile s]\naws_access_key_id = A\naws_secret_access_key = S\nmax_attempts = 7\n"
            "retry_mode = adaptive\n", NULL, "s", &plan);
    assert_int_equal(plan.max_attempts, 7);
    awsr_plan_free(&plan);
    setenv("AWS_MAX_ATTEMPTS", "0", 1);
    plan_err(cfg, NULL, "s",
             "Value provided to \"max_attempts\": 0 must be an integer greater than or equal "
             "to 1.");
    unsetenv("AWS_MAX_ATTEMPTS");
    setenv("AWS_RETRY_MODE", "fast", 1);
    plan_err(cfg, NULL, "s",
             "Invalid value provided to \"mode\": \"fast\" must be one of: ('legacy', "
             "'standard', 'adaptive')");
    unsetenv("AWS_RETRY_MODE");
}

static void test_fips_and_dualstack_settings(void **state)
{
    (void)state;
    struct awsr_plan plan;
    plan_ok("[profile s]\naws_access_key_id = A\naws_secret_access_key = S\n"
            "use_fips_endpoint = TRUE\nuse_dualstack_endpoint = yes\n", NULL, "s", &plan);
    assert_true(plan.use_fips);
    assert_false(plan.use_dualstack); /* only "true" counts (ensure_boolean) */
    awsr_plan_free(&plan);
    setenv("AWS_USE_FIPS_ENDPOINT", "false", 1);
    setenv("AWS_USE_DUALSTACK_ENDPOINT", "true", 1);
    plan_ok("[profile s]\naws_access_key_id = A\naws_secret_access_key = S\n"
            "use_fips_endpoint = true\n", NULL, "s", &plan);
    assert_false(plan.use_fips);
    assert_true(plan.use_dualstack);
    awsr_plan_free(&plan);
    unsetenv("AWS_USE_FIPS_ENDPOINT");
    unsetenv("AWS_USE_DUALSTACK_ENDPOINT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_profile_name_selection),   T(test_explicit_profile_missing),
        T(test_default_absent),           T(test_static_top_level),
        T(test_partial_static),           T(test_sub_chain_order),
        T(test_assume_role_single),       T(test_credential_source_kinds),
        T(test_assume_role_messages),     T(test_cycles),
        T(test_self_reference_with_keys), T(test_static_beats_role_in_source),
        T(test_chain_order_and_override), T(test_duration_parsing),
        T(test_deep_chain),               T(test_web_identity_env_vs_profile),
        T(test_web_identity_missing_arn), T(test_region_order),
        T(test_region_validation),        T(test_endpoint_order),
        T(test_services_section_missing), T(test_ca_bundle_and_regional),
        T(test_settings_from_top_profile),
        T(test_sso_profiles_are_not_silently_skipped), T(test_parameter_minimums),
        T(test_retry_settings),           T(test_fips_and_dualstack_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
