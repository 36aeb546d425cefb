/* resolve.c - the resolution strategy: role cache first, then one MFA prompt per device
 * (an MFA session from GetSessionToken, reused by every role with the same source and
 * device), AssumeRole with the code directly only when the session path cannot work. */
#include "resolve.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfa.h"
#include "sources.h"

#define SESSION_DURATION_DEFAULT 43200 /* GetSessionToken's own default: 12 hours */
#define CHAINING_CAP 3600              /* roles assumed from a session: 1 hour at most */
#define MFA_TRIES 3

static void trace(const struct awsr_resolver *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void trace(const struct awsr_resolver *r, const char *fmt, ...)
{
    if (!r->opts.verbose)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    awsr_log("%s", buf);
}

static void warn_cache_once(struct awsr_resolver *r, const struct awsr_error *e)
{
    if (r->cache_warned)
        return;
    r->cache_warned = true;
    awsr_log("warning: could not write the session cache (%s); continuing without it",
             e->message);
}

/* AWSROLE_MFA_SESSION_DURATION, checked once at start (awsr_resolver_init). */
static int session_duration_value(const char *v)
{
    char *end;
    errno = 0;
    long d = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || *end || end == v || !isdigit((unsigned char)*v) || d < 900 || d > 129600)
        return 0;
    return (int)d;
}

int awsr_resolver_init(struct awsr_resolver *r, const struct awsr_resolve_opts *opts,
                       struct awsr_error *err)
{
    memset(r, 0, sizeof *r);
    r->opts = *opts;
    const char *sd = getenv("AWSROLE_MFA_SESSION_DURATION");
    if (sd && !session_duration_value(sd))
        return awsr_error_set(err, AWSR_E_CONFIG, "AWSROLE_MFA_SESSION_DURATION must be a number "
                              "of seconds from 900 to 129600, not '%s'", sd);
    if (awsr_config_load(&r->cfg, err) || awsr_plan_build(r->cfg, &opts->plan, &r->plan, err) ||
        awsr_plan_check_params(&r->plan, err) ||
        awsr_process_chain_check(r->plan.profile, err))
        return -1;
    if (!opts->no_cache) {
        struct awsr_error cerr = {0};
        if (awsr_cache_open(&r->cache, &cerr)) {
            r->cache = NULL;
            r->cache_warned = true;
            awsr_log("warning: %s; continuing without the session cache", cerr.message);
        }
    }
    if (asprintf(&r->session_name, "awsrole-run-%lld", (long long)time(NULL)) < 0) {
        r->session_name = NULL;
        return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    }
    return 0;
}

void awsr_resolver_free(struct awsr_resolver *r)
{
    awsr_creds_clear(&r->mfa_session);
    free(r->mfa_session_key);
    awsr_cache_close(r->cache);
    awsr_plan_free(&r->plan);
    awsr_config_free(r->cfg);
    free(r->session_name);
    memset(r, 0, sizeof *r);
}

static int session_duration(void)
{
    int d = session_duration_value(getenv("AWSROLE_MFA_SESSION_DURATION"));
    return d ? d : SESSION_DURATION_DEFAULT;
}

/* ---- cache keys: canonical JSON of everything that makes the credentials differ ---- */

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

static char *key_from(const char *kind, json_t *o)
{
    char *text = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(o);
    if (!text)
        return NULL;
    char *key = awsr_cache_key(kind, text);
    free(text);
    return key;
}

static const char *source_kind_name(enum awsr_source_kind k)
{
    switch (k) {
    case AWSR_SRC_STATIC: return "static";
    case AWSR_SRC_ENVIRONMENT: return "Environment";
    case AWSR_SRC_IMDS: return "Ec2InstanceMetadata";
    case AWSR_SRC_CONTAINER: return "EcsContainer";
    case AWSR_SRC_PROCESS: return "credential_process";
    case AWSR_SRC_WEB_IDENTITY: return "web identity";
    }
    return "?";
}

static json_t *source_identity(const struct awsr_resolver *r, const struct awsr_sts_client *sts)
{
    const struct awsr_source *s = &r->plan.source;
    json_t *o = json_object();
    set_str(o, "Endpoint", sts->endpoint);
    set_str(o, "SourceKind", source_kind_name(s->kind));
    set_str(o, "SourceProfile", s->profile);
    if (s->kind == AWSR_SRC_STATIC)
        set_str(o, "AccessKeyId", s->creds.access_key_id);
    set_str(o, "WebIdentityRoleArn", s->role_arn);
    if (s->kind == AWSR_SRC_WEB_IDENTITY) {
        set_str(o, "WebIdentitySessionName", s->role_session_name);
        if (s->duration_seconds)
            json_object_set_new(o, "DurationSeconds", json_integer(s->duration_seconds));
    }
    return o;
}

static char *role_key(const struct awsr_resolver *r, const struct awsr_sts_client *sts)
{
    json_t *o = source_identity(r, sts);
    json_t *chain = json_array();
    for (size_t i = 0; i < r->plan.nsteps; i++) {
        const struct awsr_role_step *st = &r->plan.steps[i];
        json_t *s = json_object();
        set_str(s, "RoleArn", st->role_arn);
        set_str(s, "RoleSessionName", st->role_session_name);
        set_str(s, "ExternalId", st->external_id);
        set_str(s, "SerialNumber", st->mfa_serial);
        if (st->duration_seconds)
            json_object_set_new(s, "DurationSeconds", json_integer(st->duration_seconds));
        json_array_append_new(chain, s);
    }
    json_object_set_new(o, "Chain", chain);
    return key_from("role-", o);
}

static char *session_key(const struct awsr_resolver *r, const struct awsr_sts_client *sts,
                         const struct awsr_creds *src, const char *serial)
{
    json_t *o = source_identity(r, sts);
    set_str(o, "AccessKeyId", src->access_key_id);
    set_str(o, "SerialNumber", serial);
    return key_from("session-", o);
}

/* ---- MFA ---- */

static bool mfa_rejected(const struct awsr_error *e)
{
    return e->status == AWSR_E_SERVICE && strcmp(e->code, "AccessDenied") == 0 &&
           strstr(e->message, "MultiFactorAuthentication failed") != NULL;
}

static bool token_dead(const struct awsr_error *e)
{
    return e->status == AWSR_E_SERVICE &&
           (strcmp(e->code, "ExpiredToken") == 0 || strcmp(e->code, "InvalidClientTokenId") == 0);
}

static int no_prompt_error(const char *serial, struct awsr_error *err)
{
    return awsr_error_set(err, AWSR_E_CONFIG,
                          "the MFA session for %s has ended and a new code is needed; "
                          "run awsrole-run again to enter one",
                          serial);
}

/* This run was given its MFA code before it started (wiped to "" once used). */
static bool code_in_hand(const struct awsr_resolver *r)
{
    return r->opts.mfa_code && r->opts.mfa_code[0];
}

/* One STS call that needs a code: asks, calls, and asks again (terminal only) when STS
 * rejects the code. `call` does the STS operation with the code. */
typedef int (*coded_call)(struct awsr_sts_client *sts, const char *code, void *ctx,
                          struct awsr_error *err);

static int with_mfa_code(struct awsr_resolver *r, struct awsr_sts_client *sts,
                         const char *serial, const char *mfa_process, int flags,
                         coded_call call, void *ctx, struct awsr_error *err)
{
    if (flags & AWSR_RESOLVE_NO_PROMPT)
        return no_prompt_error(serial, err);
    struct awsr_error sts_err = {0};
    for (int attempt = 0; attempt < MFA_TRIES; attempt++) {
        char code[AWSR_MFA_CODE_MAX];
        struct awsr_mfa_request rq = {.serial = serial, .cli_code = r->opts.mfa_code,
                                      .mfa_process = mfa_process, .attempt = attempt};
        struct awsr_error merr = {0};
        if (awsr_mfa_get_code(&rq, code, &merr)) {
            /* status 0: the code came from a non-interactive source; keep STS's answer. */
            *err = merr.status ? merr : sts_err;
            return -1;
        }
        int rc = call(sts, code, ctx, &sts_err);
        explicit_bzero(code, sizeof code);
        if (rc == 0)
            return 0;
        if (!mfa_rejected(&sts_err)) {
            *err = sts_err;
            return -1;
        }
        struct awsr_mfa_request next = rq;
        next.attempt++;
        if (attempt + 1 < MFA_TRIES && awsr_mfa_available(&next)) {
            awsr_log("the MFA code was not accepted (%s)", sts_err.message);
        } else if (attempt == 0) {
            /* A fixed code is not asked again: one hint, then STS's line as the error. */
            awsr_log("the MFA code was not accepted: each code works once and only for about "
                     "30 seconds; wait for the next one");
        }
    }
    *err = sts_err;
    return -1;
}

struct session_call {
    const struct awsr_creds *src;
    const char *serial;
    struct awsr_creds *out;
};

static int call_get_session_token(struct awsr_sts_client *sts, const char *code, void *ctx,
                                  struct awsr_error *err)
{
    struct session_call *c = ctx;
    return awsr_sts_get_session_token(sts, c->src, c->serial, code, session_duration(), c->out,
                                      err);
}

void awsr_resolver_share(struct awsr_resolver *rs, size_t n)
{
    for (size_t i = 0; n > 1 && i < n; i++)
        rs[i].peer = &rs[(i + 1) % n];
}

/* This resolver's or a peer's in-memory session for `key`, still good for a minute. */
static const struct awsr_creds *session_in_memory(const struct awsr_resolver *r,
                                                  const char *key, time_t now)
{
    const struct awsr_resolver *p = r;
    do {
        if (key && p->mfa_session_key && strcmp(p->mfa_session_key, key) == 0 &&
            awsr_creds_present(&p->mfa_session) && !awsr_creds_expiring(&p->mfa_session, now, 60))
            return &p->mfa_session;
        p = p->peer;
    } while (p && p != r);
    return NULL;
}

/* The MFA session for (source, device): from memory, the disk cache, or one prompt. */
static int mfa_session(struct awsr_resolver *r, struct awsr_sts_client *sts,
                       const struct awsr_creds *src, const char *serial, const char *mfa_process,
                       const char *profile, int flags, bool *from_cache, struct awsr_creds *out,
                       struct awsr_error *err)
{
    time_t now = time(NULL);
    *from_cache = true;
    char *mkey = session_key(r, sts, src, serial);
    const struct awsr_creds *mem = session_in_memory(r, mkey, now);
    if (mem) {
        if (mem != &r->mfa_session)
            trace(r, "using the MFA session this run already holds for %s", serial);
        int crc = awsr_creds_copy(out, mem) ? awsr_error_set(err, AWSR_E_OTHER, "out of memory") : 0;
        free(mkey);
        return crc;
    }

    char *key = r->cache ? session_key(r, sts, src, serial) : NULL;
    int lock = -1, rc = -1;
    if (key && awsr_cache_get(r->cache, key, now + AWSR_CACHE_MIN_VALID, out) == 0) {
        trace(r, "using the cached MFA session for %s", serial);
        rc = 0;
        goto done;
    }
    if (key) {
        lock = code_in_hand(r) ? awsr_cache_lock_with_code(r->cache, key)
                               : awsr_cache_lock(r->cache, key);
        /* Another awsrole-run may have prompted while we waited for the lock. */
        if (awsr_cache_get(r->cache, key, time(NULL) + AWSR_CACHE_MIN_VALID, out) == 0) {
            trace(r, "using the MFA session another awsrole-run just got for %s", serial);
            rc = 0;
            goto done;
        }
    }
    *from_cache = false;
    trace(r, "getting an MFA session for %s (GetSessionToken, %d s)", serial, session_duration());
    struct session_call c = {.src = src, .serial = serial, .out = out};
    rc = with_mfa_code(r, sts, serial, mfa_process, flags, call_get_session_token, &c, err);
    if (rc == 0 && key) {
        struct awsr_error perr = {0};
        if (awsr_cache_put(r->cache, key, profile, out, &perr))
            warn_cache_once(r, &perr);
    }
done:
    if (rc == 0) {
        awsr_creds_clear(&r->mfa_session);
        free(r->mfa_session_key);
        r->mfa_session_key = mkey;
        mkey = NULL;
        if (awsr_creds_copy(&r->mfa_session, out))
            rc = awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    }
    if (lock >= 0)
        awsr_cache_unlock(lock);
    free(mkey);
    free(key);
    return rc;
}

static void forget_session(struct awsr_resolver *r, struct awsr_sts_client *sts,
                           const struct awsr_creds *src, const char *serial)
{
    char *key = session_key(r, sts, src, serial);
    /* Peers holding the same dead session drop it too. */
    struct awsr_resolver *p = r;
    do {
        if (p == r || (key && p->mfa_session_key && strcmp(p->mfa_session_key, key) == 0))
            awsr_creds_clear(&p->mfa_session);
        p = p->peer;
    } while (p && p != r);
    if (!r->cache) {
        free(key);
        return;
    }
    if (key)
        awsr_cache_remove(r->cache, key);
    free(key);
}

struct assume_call {
    const struct awsr_creds *src;
    struct awsr_assume_role_params p;
    struct awsr_creds *out;
};

static int call_assume_with_code(struct awsr_sts_client *sts, const char *code, void *ctx,
                                 struct awsr_error *err)
{
    struct assume_call *c = ctx;
    c->p.token_code = code;
    int rc = awsr_sts_assume_role(sts, c->src, &c->p, c->out, err);
    c->p.token_code = NULL;
    return rc;
}

/* ---- the chain ---- */

static int assume_step(struct awsr_resolver *r, struct awsr_sts_client *sts, size_t i,
                       const struct awsr_creds *cur, int flags, struct awsr_creds *next,
                       struct awsr_error *err)
{
    const struct awsr_role_step *st = &r->plan.steps[i];
    struct assume_call c = {
        .src = cur,
        .p = {.role_arn = st->role_arn,
              .role_session_name = st->role_session_name ? st->role_session_name : r->session_name,
              .external_id = st->external_id,
              .duration_seconds = st->duration_seconds},
        .out = next,
    };
    if (!st->mfa_serial) {
        trace(r, "AssumeRole %s (profile %s)", st->role_arn, st->profile);
        return awsr_sts_assume_role(sts, cur, &c.p, next, err);
    }

    const char *why = NULL;
    if (cur->session_token)
        why = "the source credentials are already temporary";
    else if (st->duration_seconds > CHAINING_CAP)
        why = "the requested role duration is over the 1 hour limit on roles assumed from a session";
    if (why) {
        trace(r, "AssumeRole %s with the MFA code directly, skipping GetSessionToken because %s",
              st->role_arn, why);
        c.p.serial_number = st->mfa_serial;
        return with_mfa_code(r, sts, st->mfa_serial, st->mfa_process, flags,
                             call_assume_with_code, &c, err);
    }

    for (int round = 0; round < 2; round++) {
        struct awsr_creds session = {0};
        bool cached;
        if (mfa_session(r, sts, cur, st->mfa_serial, st->mfa_process, st->profile, flags,
                        &cached, &session, err))
            return -1;
        trace(r, "AssumeRole %s from the MFA session (no code needed)", st->role_arn);
        int rc = awsr_sts_assume_role(sts, &session, &c.p, next, err);
        awsr_creds_clear(&session);
        if (rc == 0)
            return 0;
        /* A cached session STS no longer accepts (revoked, expired early): drop it and
         * get a new one, once. */
        if (!cached || !token_dead(err))
            return -1;
        trace(r, "the cached MFA session was refused (%s); asking for a new code", err->code);
        forget_session(r, sts, cur, st->mfa_serial);
    }
    return -1;
}

static bool chain_asks_for_code(const struct awsr_resolver *r)
{
    for (size_t i = 0; i < r->plan.nsteps; i++)
        if (r->plan.steps[i].mfa_serial)
            return true;
    return r->plan.source.mfa_serial != NULL;
}

/* The code this run was given (-t, AWSROLE_MFA_CODE) goes on to a credential_process
 * source (one that is awsrole-run may ask for it) only when no chain of the run (this
 * profile's or an --also profile's) asks for a code itself, and to one process only, the
 * first profile's in command-line order: each code works once. */
static const char *code_for_source(const struct awsr_resolver *r)
{
    if (!r->opts.mfa_code || r->plan.source.kind != AWSR_SRC_PROCESS)
        return NULL;
    const struct awsr_resolver *first = r, *p = r;
    do {
        if (chain_asks_for_code(p))
            return NULL;
        if (p->plan.source.kind == AWSR_SRC_PROCESS && p < first)
            first = p; /* peers are one array (awsr_resolver_share) */
        p = p->peer;
    } while (p && p != r);
    return first == r ? r->opts.mfa_code : NULL;
}

static int assume_chain(struct awsr_resolver *r, struct awsr_sts_client *sts, int flags,
                        struct awsr_creds *out, struct awsr_error *err)
{
    struct awsr_creds cur = {0};
    trace(r, "source credentials: %s%s%s", source_kind_name(r->plan.source.kind),
          r->plan.source.profile ? " from profile " : "",
          r->plan.source.profile ? r->plan.source.profile : "");
    if (awsr_source_fetch(&r->plan.source, sts, flags & AWSR_RESOLVE_NO_PROMPT,
                          code_for_source(r), &cur, err))
        return -1;
    for (size_t i = 0; i < r->plan.nsteps; i++) {
        struct awsr_creds next = {0};
        int rc = assume_step(r, sts, i, &cur, flags, &next, err);
        awsr_creds_clear(&cur);
        if (rc) {
            awsr_creds_clear(&next);
            return -1;
        }
        cur = next;
    }
    *out = cur;
    return 0;
}

static int resolve_roles(struct awsr_resolver *r, struct awsr_sts_client *sts, int flags,
                         struct awsr_creds *out, struct awsr_error *err)
{
    char *key = r->cache ? role_key(r, sts) : NULL;
    int lock = -1, rc;
    bool reuse = key && !(flags & AWSR_RESOLVE_FRESH);
    if (reuse && awsr_cache_get(r->cache, key, time(NULL) + AWSR_CACHE_MIN_VALID, out) == 0) {
        trace(r, "using cached role credentials for profile %s", r->plan.profile);
        free(key);
        return 0;
    }
    if (key) {
        /* One prompt and one STS call for every awsrole-run racing on this role. */
        lock = code_in_hand(r) ? awsr_cache_lock_with_code(r->cache, key)
                               : awsr_cache_lock(r->cache, key);
        if (reuse && awsr_cache_get(r->cache, key, time(NULL) + AWSR_CACHE_MIN_VALID, out) == 0) {
            trace(r, "using the role credentials another awsrole-run just got for %s",
                  r->plan.profile);
            awsr_cache_unlock(lock);
            free(key);
            return 0;
        }
    }
    rc = assume_chain(r, sts, flags, out, err);
    if (rc == 0 && key) {
        struct awsr_error perr = {0};
        if (awsr_cache_put(r->cache, key, r->plan.profile, out, &perr))
            warn_cache_once(r, &perr);
    }
    if (lock >= 0)
        awsr_cache_unlock(lock);
    free(key);
    return rc;
}

static int resolve_source_only(struct awsr_resolver *r, struct awsr_sts_client *sts, int flags,
                               struct awsr_creds *out, struct awsr_error *err)
{
    const struct awsr_source *s = &r->plan.source;
    if (s->kind == AWSR_SRC_STATIC && s->mfa_serial && !s->creds.session_token) {
        bool cached;
        return mfa_session(r, sts, &s->creds, s->mfa_serial, s->mfa_process, s->profile, flags,
                           &cached, out, err);
    }
    trace(r, "profile %s has no role: using its %s credentials as they are", r->plan.profile,
          source_kind_name(s->kind));
    return awsr_source_fetch(s, sts, flags & AWSR_RESOLVE_NO_PROMPT, code_for_source(r), out,
                             err);
}

static int sts_client(const struct awsr_resolver *r, struct awsr_sts_client *sts,
                      struct awsr_error *err)
{
    memset(sts, 0, sizeof *sts);
    const struct awsr_sts_settings settings = {
        .endpoint = r->plan.sts_endpoint,
        .region = r->plan.region,
        .ca_bundle = r->plan.ca_bundle,
        .regional_mode = r->plan.sts_regional_endpoints,
        .fips = r->plan.use_fips,
        .dualstack = r->plan.use_dualstack,
        .max_attempts = r->plan.max_attempts,
    };
    if (awsr_sts_client_init(sts, &settings, err))
        return -1;
    sts->verbose = r->opts.verbose;
    return 0;
}

int awsr_resolve(struct awsr_resolver *r, int flags, struct awsr_creds *out,
                 struct awsr_error *err)
{
    struct awsr_sts_client sts;
    if (sts_client(r, &sts, err))
        return -1;
    struct awsr_creds got = {0};
    /* Role credentials, web identity ones included (as botocore caches them), go through
     * the role cache; static keys and processes are read each time. */
    bool cached_kind = r->plan.nsteps || r->plan.source.kind == AWSR_SRC_WEB_IDENTITY;
    int rc = cached_kind ? resolve_roles(r, &sts, flags, &got, err)
                            : resolve_source_only(r, &sts, flags, &got, err);
    awsr_sts_client_free(&sts);
    if (rc == 0) {
        awsr_creds_clear(out);
        *out = got;
    }
    return rc;
}

int awsr_resolver_forget(struct awsr_resolver *r, struct awsr_error *err)
{
    if (!r->cache)
        return awsr_error_set(err, AWSR_E_OTHER, "the session cache cannot be used, nothing to forget");
    struct awsr_sts_client sts;
    if (sts_client(r, &sts, err))
        return -1;
    int removed = 0;
    bool cached_kind = r->plan.nsteps || r->plan.source.kind == AWSR_SRC_WEB_IDENTITY;
    char *key = cached_kind ? role_key(r, &sts) : NULL;
    if (key && awsr_cache_remove(r->cache, key) > 0)
        removed++;
    free(key);
    int others = awsr_cache_forget_profile(r->cache, r->plan.profile);
    if (others > 0)
        removed += others;
    const struct awsr_source *s = &r->plan.source;
    const char *serial = r->plan.nsteps ? r->plan.steps[0].mfa_serial : s->mfa_serial;
    if (serial && s->kind == AWSR_SRC_STATIC) {
        key = session_key(r, &sts, &s->creds, serial);
        if (key && awsr_cache_remove(r->cache, key) > 0)
            removed++;
        free(key);
    }
    awsr_sts_client_free(&sts);
    if (r->opts.verbose || removed)
        awsr_log("removed %d cached entr%s for profile %s", removed, removed == 1 ? "y" : "ies",
                 r->plan.profile);
    return 0;
}
