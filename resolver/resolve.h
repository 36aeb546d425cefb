/* resolve.h - from a profile name to credentials: the plan, the cache, one MFA prompt
 * per device (GetSessionToken, then AssumeRole from that session), the role chain. */
#ifndef AWSR_RESOLVE_H
#define AWSR_RESOLVE_H

#include <stdbool.h>

#include "cache.h"
#include "config.h"
#include "creds.h"
#include "error.h"
#include "profile.h"
#include "sts.h"

struct awsr_resolve_opts {
    struct awsr_plan_opts plan; /* profile, region, duration override */
    const char *mfa_code;       /* --mfa-code, or NULL */
    bool no_cache;              /* --no-cache: neither read nor write the disk cache */
    bool verbose;               /* -v: say which path was taken and why, on stderr */
};

/* What a launcher keeps between a first resolution and later renewals. */
struct awsr_resolver {
    struct awsr_resolve_opts opts;
    struct awsr_config *cfg;
    struct awsr_plan plan;
    struct awsr_cache *cache;      /* NULL with --no-cache or when it cannot be used */
    bool cache_warned;
    struct awsr_creds mfa_session; /* the MFA session this run used, kept in memory */
    char *session_name;            /* generated role session name, fixed for the run */
    char *mfa_session_key;         /* which (source, device) mfa_session belongs to */
    struct awsr_resolver *peer;    /* next resolver of the same run (a ring), or NULL */
};

/* Loads the config and builds the plan. */
int awsr_resolver_init(struct awsr_resolver *r, const struct awsr_resolve_opts *opts,
                       struct awsr_error *err);
void awsr_resolver_free(struct awsr_resolver *r);

enum {
    AWSR_RESOLVE_NO_PROMPT = 1, /* never ask for a code (background renewal) */
    AWSR_RESOLVE_FRESH = 2,     /* skip the role cache: get new role credentials */
};

/* Links the resolvers of one run (--also) in a ring so that they share their in-memory
 * MFA sessions: one prompt per (source, device) even with --no-cache. */
void awsr_resolver_share(struct awsr_resolver *rs, size_t n);

/* Resolves the plan's target credentials. */
int awsr_resolve(struct awsr_resolver *r, int flags, struct awsr_creds *out,
                 struct awsr_error *err);

/* Removes the profile's cached role credentials and the MFA session it uses. */
int awsr_resolver_forget(struct awsr_resolver *r, struct awsr_error *err);

#endif
