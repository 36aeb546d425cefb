/* profile.c - from the selected profile to a resolution plan, with botocore's rules
 * (AssumeRoleProvider, AssumeRoleWithWebIdentityProvider, the profile sub-chain and the
 * session's scoped settings). Role chains are walked iteratively so any depth works. */
#include "profile.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uthash.h>

#include "strbuf.h"
#include "sts_params.h"

/* The CLI's own wording, hint included (NoCredentialsError as AWS CLI v2 prints it since
 * "aws login"; older versions said "aws configure"). */
#define MSG_NO_CREDS                                                                           \
    "Unable to locate credentials. You can configure credentials by running \"aws login\"."
#define MSG_WEB_NO_ARN                                                                         \
    "The provided profile or the current environment is configured to assume role with web " \
    "identity but has no role ARN configured. Ensure that the profile has the role_arn"      \
    "configuration set or the AWS_ROLE_ARN env var is set."
#define MSG_BAD_CA                                                                             \
    "Invalid CA bundle: the configured value (ca_bundle, AWS_CA_BUNDLE, REQUESTS_CA_BUNDLE, " \
    "or verify) resolved to an empty or whitespace-only string. Provide a valid path to a "  \
    "CA bundle file."

static int oom(struct awsr_error *err)
{
    return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
}

static const char *kv_get(const struct awsr_kv *table, const char *key)
{
    const struct awsr_kv *kv = awsr_kv_find(table, key);
    return kv ? kv->value : NULL;
}

static const char *pget(const struct awsr_profile *p, const char *key)
{
    return p ? awsr_profile_get(p, key) : NULL;
}

/* Duplicates s into *dst (NULL stays NULL). */
static int dup_opt(char **dst, const char *s)
{
    *dst = NULL;
    if (!s)
        return 0;
    *dst = strdup(s);
    return *dst ? 0 : -1;
}

const char *awsr_plan_profile_name(const struct awsr_plan_opts *opts)
{
    if (opts && opts->profile)
        return opts->profile;
    const char *v = getenv("AWS_PROFILE");
    if (v)
        return v;
    v = getenv("AWS_DEFAULT_PROFILE");
    if (v)
        return v;
    return "default";
}

/* Python's int(str) for decimal text: surrounding whitespace, a sign, digits with single
 * underscores between them. Returns false when int() would raise ValueError. Values
 * beyond int are clamped (STS rejects them either way). */
static bool py_int(const char *s, int *out)
{
    const char *b = s, *e = s + strlen(s);
    while (b < e && (*b == ' ' || (*b >= '\t' && *b <= '\r') || (*b >= 0x1c && *b <= 0x1f)))
        b++;
    while (e > b && (e[-1] == ' ' || (e[-1] >= '\t' && e[-1] <= '\r') ||
                     (e[-1] >= 0x1c && e[-1] <= 0x1f)))
        e--;
    bool neg = false;
    if (b < e && (*b == '+' || *b == '-')) {
        neg = *b == '-';
        b++;
    }
    if (b == e || *b < '0' || *b > '9')
        return false;
    long long v = 0;
    for (const char *p = b; p < e; p++) {
        if (*p == '_') {
            if (p + 1 == e || p[1] < '0' || p[1] > '9')
                return false;
            continue;
        }
        if (*p < '0' || *p > '9')
            return false;
        if (v <= INT_MAX)
            v = v * 10 + (*p - '0');
    }
    if (v > INT_MAX)
        v = (long long)INT_MAX + (neg ? 1 : 0);
    *out = (int)(neg ? -v : v);
    return true;
}

/* ---------- Python list repr for the loop message ---------- */

static size_t u8_next(const unsigned char *s, uint32_t *cp)
{
    size_t n = 1;
    uint32_t c = s[0];
    if (c >= 0xF0 && s[1] && s[2] && s[3]) {
        n = 4, c = ((c & 7u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
    } else if (c >= 0xE0 && s[1] && s[2]) {
        n = 3, c = ((c & 0xFu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    } else if (c >= 0xC0 && s[1]) {
        n = 2, c = ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    }
    *cp = c;
    return n;
}

/* str.isprintable() for the characters that matter in practice (controls, separators,
 * format characters, private use). */
static bool py_printable(uint32_t c)
{
    if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD)
        return false;
    if (c == 0x1680 || (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) ||
        (c >= 0x205F && c <= 0x206F) || c == 0x3000 || c == 0xFEFF ||
        (c >= 0xFFF9 && c <= 0xFFFB) || (c >= 0xE000 && c <= 0xF8FF) || c >= 0xF0000 ||
        (c >= 0x600 && c <= 0x605) || c == 0x61C || c == 0x6DD || c == 0x70F || c == 0x180E ||
        (c >= 0xE0000 && c <= 0xE007F))
        return false;
    return true;
}

static int repr_str(struct awsr_strbuf *b, const char *s)
{
    char q = '\'';
    if (strchr(s, '\'') && !strchr(s, '"'))
        q = '"';
    if (awsr_strbuf_add(b, &q, 1) < 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t c;
        size_t n = u8_next(p, &c);
        char tmp[16];
        int rc;
        if (c == (uint32_t)q || c == '\\') {
            tmp[0] = '\\', tmp[1] = (char)c;
            rc = awsr_strbuf_add(b, tmp, 2);
        } else if (c == '\t' || c == '\n' || c == '\r') {
            tmp[0] = '\\', tmp[1] = c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
            rc = awsr_strbuf_add(b, tmp, 2);
        } else if (!py_printable(c)) {
            int len = snprintf(tmp, sizeof tmp, c <= 0xFF ? "\\x%02x" : c <= 0xFFFF ? "\\u%04x" : "\\U%08x", c);
            rc = awsr_strbuf_add(b, tmp, (size_t)len);
        } else {
            rc = awsr_strbuf_add(b, (const char *)p, n);
        }
        if (rc < 0)
            return -1;
        p += n;
    }
    return awsr_strbuf_add(b, &q, 1);
}

/* ---------- visited profiles (a set for lookups, a list for the message) ---------- */

struct visit {
    const char *name;
    UT_hash_handle hh;
};

struct visited {
    struct visit *set;
    const char **list;
    size_t n, cap;
};

static bool visited_has(const struct visited *v, const char *name)
{
    struct visit *e = NULL;
    HASH_FIND_STR(v->set, name, e);
    return e != NULL;
}

static int visited_add(struct visited *v, const char *name)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        const char **nl = realloc(v->list, cap * sizeof *nl);
        if (!nl)
            return -1;
        v->list = nl;
        v->cap = cap;
    }
    v->list[v->n++] = name;
    if (visited_has(v, name))
        return 0;
    struct visit *e = calloc(1, sizeof *e);
    if (!e)
        return -1;
    e->name = name;
    HASH_ADD_KEYPTR(hh, v->set, e->name, strlen(e->name), e);
    return 0;
}

static void visited_free(struct visited *v)
{
    struct visit *e, *tmp;
    HASH_ITER(hh, v->set, e, tmp) {
        HASH_DEL(v->set, e);
        free(e);
    }
    free(v->list);
}

static int loop_error(const struct visited *v, const char *source, struct awsr_error *err)
{
    struct awsr_strbuf b = AWSR_STRBUF_INIT;
    int rc = awsr_strbuf_add(&b, "[", 1);
    /* The message is capped at 1 KiB anyway: stop once it is long enough. */
    for (size_t i = 0; rc == 0 && i < v->n && b.len < 4096; i++) {
        if (i)
            rc = awsr_strbuf_add(&b, ", ", 2);
        if (rc == 0)
            rc = repr_str(&b, v->list[i]);
    }
    if (rc == 0)
        rc = awsr_strbuf_add(&b, "]", 1);
    if (rc < 0) {
        free(b.p);
        return oom(err);
    }
    awsr_error_set(err, AWSR_E_CONFIG,
                   "Infinite loop in credential configuration detected. Attempting to load from "
                   "profile %s which has already been visited. Visited profiles: %s",
                   source, b.p);
    free(b.p);
    return -1;
}

/* ---------- sources ---------- */

static bool has_static(const struct awsr_profile *p)
{
    return pget(p, "aws_access_key_id") || pget(p, "aws_secret_access_key");
}

static bool has_assume_role_vars(const struct awsr_profile *p)
{
    return pget(p, "role_arn") && !pget(p, "web_identity_token_file");
}

/* Environment value when allowed and present (even empty), else the profile's key. */
static const char *env_or_key(bool env, const char *var, const struct awsr_profile *p,
                              const char *key)
{
    const char *v = env ? getenv(var) : NULL;
    return v ? v : pget(p, key);
}

static int static_source(const struct awsr_kv *keys, const char *method, const char *profile,
                         struct awsr_source *src, struct awsr_error *err)
{
    const char *akid = kv_get(keys, "aws_access_key_id");
    const char *secret = kv_get(keys, "aws_secret_access_key");
    if (!secret)
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "Partial credentials found in %s, missing: aws_secret_access_key",
                              method);
    const char *token = kv_get(keys, "aws_security_token");
    if (!token)
        token = kv_get(keys, "aws_session_token");
    src->kind = AWSR_SRC_STATIC;
    if (awsr_creds_set(&src->creds, akid, secret, token, 0) < 0 || dup_opt(&src->profile, profile))
        return oom(err);
    return 1;
}

/* botocore's SSOProvider, which comes before the files' keys: a profile with
 * sso_role_name or sso_account_id is an IAM Identity Center profile. awsrole-run does not
 * run the SSO token flow; it stops with botocore's configuration errors, or says so,
 * rather than quietly using the profile's other keys (another identity). */
static int sso_profile(const struct awsr_config *cfg, const char *name,
                       const struct awsr_profile *p, struct awsr_error *err)
{
    if (!pget(p, "sso_role_name") && !pget(p, "sso_account_id"))
        return 0;
    const struct awsr_section *sess = NULL;
    const char *sess_name = pget(p, "sso_session");
    if (sess_name) {
        if (cfg)
            HASH_FIND_STR(cfg->sso_sessions, sess_name, sess);
        if (!sess)
            return awsr_error_set(err, AWSR_E_CONFIG,
                                  "The specified sso-session does not exist: \"%s\"", sess_name);
        for (const struct awsr_kv *kv = sess->keys; kv; kv = kv->hh.next) {
            const char *mine = pget(p, kv->key);
            if (mine && strcmp(mine, kv->value) != 0)
                return awsr_error_set(err, AWSR_E_CONFIG,
                                      "The value for %s is inconsistent between profile (%s) "
                                      "and sso-session (%s).",
                                      kv->key, mine, kv->value);
        }
    }
    static const char *const required[] = {"sso_role_name", "sso_account_id", "sso_start_url",
                                            "sso_region"};
    struct awsr_strbuf missing = AWSR_STRBUF_INIT;
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!pget(p, required[i]) && !(sess && awsr_kv_find(sess->keys, required[i])))
            awsr_strbuf_addf(&missing, "%s%s", missing.len ? ", " : "", required[i]);
    if (missing.failed)
        return oom(err);
    if (missing.len) {
        awsr_error_set(err, AWSR_E_CONFIG,
                       "The profile \"%s\" is configured to use SSO but is missing required "
                       "configuration: %s",
                       name, missing.p);
        awsr_strbuf_wipe(&missing);
        return -1;
    }
    return awsr_error_set(err, AWSR_E_CONFIG,
                          "The profile \"%s\" uses IAM Identity Center (SSO), which awsrole-run "
                          "does not sign in to. Use it through the AWS CLI: a profile with "
                          "credential_process = aws configure export-credentials --profile %s "
                          "--format process (after aws sso login), as a source_profile or "
                          "with -p.",
                          name, name);
}

/* The providers botocore runs over one profile: web-identity, sso, shared-credentials-file,
 * (login), custom-process, config-file. `env`: the web-identity variables count (not for a
 * source profile, and not with an explicit --profile: botocore's disable_env_vars).
 * 1 found, 0 nothing, -1 error. */
static int profile_chain(const struct awsr_config *cfg, const char *name,
                         const struct awsr_profile *p, bool env, struct awsr_source *src,
                         struct awsr_error *err)
{
    const char *token_file = env_or_key(env, "AWS_WEB_IDENTITY_TOKEN_FILE", p,
                                        "web_identity_token_file");
    if (token_file && *token_file) {
        const char *arn = env_or_key(env, "AWS_ROLE_ARN", p, "role_arn");
        if (!arn || !*arn)
            return awsr_error_set(err, AWSR_E_CONFIG, MSG_WEB_NO_ARN);
        const char *session_name = env_or_key(env, "AWS_ROLE_SESSION_NAME", p,
                                              "role_session_name");
        if (session_name && !*session_name)
            session_name = NULL; /* generated, as botocore does */
        src->kind = AWSR_SRC_WEB_IDENTITY;
        if (dup_opt(&src->profile, p ? name : NULL) ||
            dup_opt(&src->web_identity_token_file, token_file) || dup_opt(&src->role_arn, arn) ||
            dup_opt(&src->role_session_name, session_name))
            return oom(err);
        return 1;
    }
    if (!p)
        return 0;
    if (sso_profile(cfg, name, p, err) < 0)
        return -1;
    if (awsr_kv_find(p->cred_keys, "aws_access_key_id"))
        return static_source(p->cred_keys, "shared-credentials-file", name, src, err);
    const char *process = pget(p, "credential_process");
    if (process) {
        src->kind = AWSR_SRC_PROCESS;
        if (dup_opt(&src->process_command, process) || dup_opt(&src->profile, name))
            return oom(err);
        return 1;
    }
    if (awsr_kv_find(p->cfg_keys, "aws_access_key_id"))
        return static_source(p->cfg_keys, "config-file", name, src, err);
    return 0;
}

static int credential_source(const char *value, const char *profile, struct awsr_source *src,
                             struct awsr_error *err)
{
    /* Exact names: CanonicalNameCredentialSourcer.is_supported is a plain `in` test (only
     * the provider lookup after it ignores case). */
    if (strcmp(value, "Environment") == 0)
        src->kind = AWSR_SRC_ENVIRONMENT;
    else if (strcmp(value, "Ec2InstanceMetadata") == 0)
        src->kind = AWSR_SRC_IMDS;
    else if (strcmp(value, "EcsContainer") == 0)
        src->kind = AWSR_SRC_CONTAINER;
    else
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "The credential source \"%s\" referenced in profile \"%s\" is not "
                              "valid.",
                              value, profile);
    return dup_opt(&src->profile, profile) < 0 ? oom(err) : 0;
}

static int push_step(struct awsr_plan *plan, size_t *cap, const char *name,
                     const struct awsr_profile *p, struct awsr_error *err)
{
    if (plan->nsteps == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        struct awsr_role_step *ns = realloc(plan->steps, ncap * sizeof *ns);
        if (!ns)
            return oom(err);
        plan->steps = ns;
        *cap = ncap;
    }
    struct awsr_role_step *st = &plan->steps[plan->nsteps];
    memset(st, 0, sizeof *st);
    plan->nsteps++;
    const char *ds = pget(p, "duration_seconds");
    st->duration_given = ds && py_int(ds, &st->duration_seconds);
    if (!st->duration_given)
        st->duration_seconds = 0;
    /* botocore generates a name when the configured one is empty ("if not name"). */
    const char *session_name = pget(p, "role_session_name");
    if (session_name && !*session_name)
        session_name = NULL;
    if (dup_opt(&st->profile, name) || dup_opt(&st->role_arn, pget(p, "role_arn")) ||
        dup_opt(&st->role_session_name, session_name) ||
        dup_opt(&st->external_id, pget(p, "external_id")) ||
        dup_opt(&st->mfa_serial, pget(p, "mfa_serial")) ||
        dup_opt(&st->mfa_process, pget(p, "mfa_process")))
        return oom(err);
    return 0;
}

/* AssumeRoleProvider._load_creds_via_assume_role, unrolled: one step per role profile
 * from the selected one down to the source; steps are then reversed so steps[0] is the
 * role assumed with the source's credentials. */
static int assume_role_chain(const struct awsr_config *cfg, const struct awsr_profile *top,
                             struct awsr_plan *plan, struct awsr_error *err)
{
    struct visited v = {0};
    size_t cap = 0;
    int rc = -1;
    const struct awsr_profile *cur = top;
    if (visited_add(&v, top->name) < 0) {
        oom(err);
        goto done;
    }
    for (;;) {
        const char *sp_name = pget(cur, "source_profile");
        const char *cs = pget(cur, "credential_source");
        if (sp_name && cs) {
            awsr_error_set(err, AWSR_E_CONFIG,
                           "The profile \"%s\" contains both source_profile and "
                           "credential_source.",
                           cur->name);
            goto done;
        }
        if (!sp_name && !cs) {
            awsr_error_set(err, AWSR_E_CONFIG,
                           "Partial credentials found in assume-role, missing: source_profile "
                           "or credential_source");
            goto done;
        }
        if (cs) {
            if (credential_source(cs, cur->name, &plan->source, err) < 0)
                goto done;
            if (push_step(plan, &cap, cur->name, cur, err) < 0)
                goto done;
            break;
        }
        const struct awsr_profile *sp = awsr_config_profile(cfg, sp_name);
        if (!sp) {
            awsr_error_set(err, AWSR_E_CONFIG,
                           "The source_profile \"%s\" referenced in the profile \"%s\" does not "
                           "exist.",
                           sp_name, cur->name);
            goto done;
        }
        if (visited_has(&v, sp->name) && (sp != cur || !has_static(sp))) {
            loop_error(&v, sp->name, err);
            goto done;
        }
        if (push_step(plan, &cap, cur->name, cur, err) < 0)
            goto done;
        if (visited_add(&v, sp->name) < 0) {
            oom(err);
            goto done;
        }
        if (has_static(sp) || !has_assume_role_vars(sp)) {
            int found = profile_chain(cfg, sp->name, sp, false, &plan->source, err);
            if (found < 0)
                goto done;
            if (found == 0) {
                awsr_error_set(err, AWSR_E_CONFIG, "The source profile \"%s\" must have "
                               "credentials.", sp->name);
                goto done;
            }
            break;
        }
        cur = sp;
    }
    for (size_t i = 0, j = plan->nsteps - 1; i < j; i++, j--) {
        struct awsr_role_step t = plan->steps[i];
        plan->steps[i] = plan->steps[j];
        plan->steps[j] = t;
    }
    rc = 0;
done:
    visited_free(&v);
    return rc;
}

/* ---------- scoped settings ---------- */

/* utils.validate_region_name: ^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{,63}(?<!-)$ ('$' also matches
 * before one final newline). */
static bool region_valid(const char *r)
{
    size_t n = strlen(r);
    if (n > 0 && r[n - 1] == '\n')
        n--;
    if (n > 63)
        return false;
    bool all_digits = n > 0;
    for (size_t i = 0; i < n; i++) {
        char c = r[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-')
            return false;
        if (!(c >= '0' && c <= '9'))
            all_digits = false;
    }
    if (all_digits)
        return false;
    if (n > 0 && (r[0] == '-' || r[n - 1] == '-'))
        return false;
    return true;
}

/* Environment (present, even empty) first, then the key. */
static const char *setting(const char *var, const struct awsr_profile *p, const char *key)
{
    const char *v = getenv(var);
    return v ? v : pget(p, key);
}

static int resolve_region(const struct awsr_plan_opts *opts, const struct awsr_profile *p,
                          struct awsr_plan *plan, struct awsr_error *err)
{
    const char *r = opts ? opts->region : NULL;
    if (!r)
        r = getenv("AWS_REGION");
    if (!r)
        r = setting("AWS_DEFAULT_REGION", p, "region");
    if (!r || !*r)
        return 0;
    if (!region_valid(r))
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "Provided region_name '%s' doesn't match a supported format.", r);
    return dup_opt(&plan->region, r) < 0 ? oom(err) : 0;
}

/* configprovider.ConfiguredEndpointProvider for the "sts" service. */
static int resolve_endpoint(const struct awsr_config *cfg, const struct awsr_profile *p,
                            struct awsr_plan *plan, struct awsr_error *err)
{
    const char *ignore = setting("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", p,
                                 "ignore_configured_endpoint_urls");
    if (ignore && strcasecmp(ignore, "true") == 0)
        return 0;
    const char *url = getenv("AWS_ENDPOINT_URL_STS");
    if (!url || !*url)
        url = getenv("AWS_ENDPOINT_URL");
    if (!url || !*url) {
        url = NULL;
        const char *services = pget(p, "services");
        if (services) {
            const struct awsr_section *s = NULL;
            if (cfg)
                HASH_FIND_STR(cfg->services, services, s);
            if (!s || !s->keys)
                return awsr_error_set(err, AWSR_E_CONFIG,
                                      "The profile is configured to use the services section "
                                      "but the \"%s\" services configuration does not exist.",
                                      services);
            const struct awsr_kv *sts = awsr_kv_find(s->keys, "sts");
            url = sts ? kv_get(sts->sub, "endpoint_url") : NULL;
        }
        if (!url || !*url)
            url = pget(p, "endpoint_url");
        if (url && !*url)
            url = NULL;
    }
    return dup_opt(&plan->sts_endpoint, url) < 0 ? oom(err) : 0;
}

static int resolve_ca_bundle(const struct awsr_profile *p, struct awsr_plan *plan,
                             struct awsr_error *err)
{
    const char *ca = setting("AWS_CA_BUNDLE", p, "ca_bundle");
    if (!ca)
        ca = getenv("REQUESTS_CA_BUNDLE"); /* endpoint.py _get_verify_value */
    if (!ca)
        return 0;
    const char *c = ca;
    while (*c == ' ' || (*c >= '\t' && *c <= '\r') || (*c >= 0x1c && *c <= 0x1f))
        c++;
    if (!*c)
        return awsr_error_set(err, AWSR_E_CONFIG, MSG_BAD_CA);
    plan->ca_bundle = awsr_expand_user(ca); /* urllib3 expands ~ (no $VAR) */
    return plan->ca_bundle ? 0 : oom(err);
}

/* botocore's ensure_boolean for a setting read as text: "true" in any case. */
static bool setting_true(const char *var, const struct awsr_profile *p, const char *key)
{
    const char *v = setting(var, p, key);
    return v && strcasecmp(v, "true") == 0;
}

/* retry_mode and max_attempts (the top-level profile's, as for the session's STS client):
 * botocore's checks and messages; the default attempts of each mode (legacy 5, else 3). */
static int resolve_retries(const struct awsr_profile *p, struct awsr_plan *plan,
                           struct awsr_error *err)
{
    const char *mode = setting("AWS_RETRY_MODE", p, "retry_mode");
    if (mode && strcmp(mode, "legacy") && strcmp(mode, "standard") && strcmp(mode, "adaptive"))
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "Invalid value provided to \"mode\": \"%s\" must be one of: "
                              "('legacy', 'standard', 'adaptive')",
                              mode);
    plan->max_attempts = mode && !strcmp(mode, "legacy") ? 5 : 3;
    const char *max = setting("AWS_MAX_ATTEMPTS", p, "max_attempts");
    if (!max)
        return 0;
    int n;
    if (!py_int(max, &n) || n < 1)
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "Value provided to \"max_attempts\": %s must be an integer "
                              "greater than or equal to 1.",
                              max);
    plan->max_attempts = n;
    return 0;
}

/* ---------- the plan ---------- */

int awsr_plan_build(const struct awsr_config *cfg, const struct awsr_plan_opts *opts,
                    struct awsr_plan *plan, struct awsr_error *err)
{
    memset(plan, 0, sizeof *plan);
    const char *name = awsr_plan_profile_name(opts);
    bool explicit_name = (opts && opts->profile) || getenv("AWS_PROFILE") ||
                         getenv("AWS_DEFAULT_PROFILE");
    const struct awsr_profile *p = awsr_config_profile(cfg, name);
    if (!p && explicit_name)
        return awsr_error_set(err, AWSR_E_CONFIG, "The config profile (%s) could not be found",
                              name);
    if (dup_opt(&plan->profile, name) < 0)
        return oom(err);

    int rc;
    if (p && has_assume_role_vars(p)) {
        rc = assume_role_chain(cfg, p, plan, err);
    } else {
        /* An explicit --profile turns the web-identity variables off (botocore's
         * disable_env_vars); AWS_PROFILE and the default profile do not. */
        rc = profile_chain(cfg, name, p, !(opts && opts->profile), &plan->source, err);
        if (rc == 0)
            rc = awsr_error_set(err, AWSR_E_CONFIG, MSG_NO_CREDS);
        else if (rc > 0 && plan->source.kind == AWSR_SRC_STATIC && pget(p, "mfa_serial"))
            rc = dup_opt(&plan->source.mfa_serial, pget(p, "mfa_serial")) ||
                         dup_opt(&plan->source.mfa_process, pget(p, "mfa_process"))
                     ? oom(err)
                     : 0;
    }
    if (rc >= 0 && opts && opts->duration_seconds) {
        if (plan->nsteps > 0)
            plan->steps[plan->nsteps - 1].duration_seconds = opts->duration_seconds;
        else if (plan->source.kind == AWSR_SRC_WEB_IDENTITY)
            plan->source.duration_seconds = opts->duration_seconds;
    }
    if (rc >= 0)
        rc = resolve_region(opts, p, plan, err);
    if (rc >= 0)
        rc = resolve_endpoint(cfg, p, plan, err);
    if (rc >= 0)
        rc = resolve_ca_bundle(p, plan, err);
    if (rc >= 0)
        rc = resolve_retries(p, plan, err);
    if (rc >= 0) {
        plan->use_fips = setting_true("AWS_USE_FIPS_ENDPOINT", p, "use_fips_endpoint");
        plan->use_dualstack = setting_true("AWS_USE_DUALSTACK_ENDPOINT", p,
                                           "use_dualstack_endpoint");
    }
    if (rc >= 0 && dup_opt(&plan->sts_regional_endpoints,
                           setting("AWS_STS_REGIONAL_ENDPOINTS", p, "sts_regional_endpoints")) < 0)
        rc = oom(err);
    if (rc < 0) {
        awsr_plan_free(plan);
        return -1;
    }
    return 0;
}

/* In botocore's order of each call's arguments; the first call that fails is reported. */
int awsr_plan_check_params(const struct awsr_plan *plan, struct awsr_error *err)
{
    const struct awsr_source *src = &plan->source;
    if (src->kind == AWSR_SRC_WEB_IDENTITY) {
        struct awsr_param_report r = {0};
        awsr_param_min_len(&r, "RoleSessionName", src->role_session_name,
                           AWSR_MIN_ROLE_SESSION_NAME);
        awsr_param_min_len(&r, "RoleArn", src->role_arn, AWSR_MIN_ROLE_ARN);
        if (awsr_param_report_error(&r, AWSR_E_CONFIG, err) < 0)
            return -1;
    }
    if (src->mfa_serial) { /* static keys with mfa_serial: GetSessionToken */
        struct awsr_param_report r = {0};
        awsr_param_min_len(&r, "SerialNumber", src->mfa_serial, AWSR_MIN_SERIAL_NUMBER);
        if (awsr_param_report_error(&r, AWSR_E_CONFIG, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < plan->nsteps; i++) {
        const struct awsr_role_step *st = &plan->steps[i];
        struct awsr_param_report r = {0};
        awsr_param_min_len(&r, "RoleSessionName", st->role_session_name,
                           AWSR_MIN_ROLE_SESSION_NAME);
        awsr_param_min_len(&r, "ExternalId", st->external_id, AWSR_MIN_EXTERNAL_ID);
        awsr_param_min_len(&r, "SerialNumber", st->mfa_serial, AWSR_MIN_SERIAL_NUMBER);
        if (st->duration_given)
            awsr_param_min_value(&r, "DurationSeconds", st->duration_seconds,
                                 AWSR_MIN_DURATION_SECONDS);
        awsr_param_min_len(&r, "RoleArn", st->role_arn, AWSR_MIN_ROLE_ARN);
        if (awsr_param_report_error(&r, AWSR_E_CONFIG, err) < 0)
            return -1;
    }
    return 0;
}

void awsr_plan_free(struct awsr_plan *plan)
{
    if (!plan)
        return;
    struct awsr_source *s = &plan->source;
    free(s->profile);
    awsr_creds_clear(&s->creds);
    free(s->process_command);
    free(s->web_identity_token_file);
    free(s->role_arn);
    free(s->role_session_name);
    free(s->mfa_serial);
    free(s->mfa_process);
    for (size_t i = 0; i < plan->nsteps; i++) {
        struct awsr_role_step *st = &plan->steps[i];
        free(st->profile);
        free(st->role_arn);
        free(st->role_session_name);
        free(st->external_id);
        free(st->mfa_serial);
        free(st->mfa_process);
    }
    free(plan->steps);
    free(plan->profile);
    free(plan->region);
    free(plan->sts_endpoint);
    free(plan->ca_bundle);
    free(plan->sts_regional_endpoints);
    memset(plan, 0, sizeof *plan);
}
