/* env.c - getenv and secure_getenv answered from the shared segment, the constructor that
 * writes the current values into environ, and the small helpers files.c shares.
 *
 * Names that are not ours cost a four-byte prefix test and then the same unlocked scan of
 * environ glibc does; no dlsym ever (allocators call getenv while they initialise).
 *
 * Per-thread generation rule (on top of the process rule in segment_read.c): a thread
 * keeps the snapshot it last used, and takes the process's current one only
 *   - when it has none,
 *   - when it reads AWS_ACCESS_KEY_ID (every SDK reads the key id first, then the secret
 *     and the token), or
 *   - when its snapshot expired more than STALE_GRACE seconds ago (a thread that never
 *     reads the key id must not serve dead credentials forever).
 * So the key id, secret and token one thread reads in a row come from one generation. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>

#include "segment_read.h"
#include "shim.h"

#define STALE_GRACE 60

extern char **environ;

enum var {
    V_AKID,
    V_SECRET,
    V_TOKEN,
    V_SECURITY_TOKEN,
    V_EXPIRATION,
    V_REGION,
    V_DEFAULT_REGION,
    V_COUNT
};

static const char *const var_names[V_COUNT] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION",
};

static __thread const struct awsr_seg_slot *t_snap;
static int g_secure = -1;

/* glibc 2.36's getenv, in effect: compare the first two bytes as one 16-bit word (like
 * glibc, this reads two bytes of every entry), then the rest; take the first match. */
static inline uint16_t first2(const char *s)
{
    uint16_t v;
    __builtin_memcpy(&v, s, 2);
    return v;
}

static char *scan_environ(const char *name)
{
    char **ep = environ;
    if (!ep || name[0] == '\0')
        return NULL;
    if (name[1] == '\0') {
        for (; *ep; ep++)
            if ((*ep)[0] == name[0] && (*ep)[1] == '=')
                return *ep + 2;
        return NULL;
    }
    size_t len = strlen(name) - 2;
    uint16_t start = first2(name);
    name += 2;
    for (; *ep; ep++)
        if (first2(*ep) == start && strncmp(*ep + 2, name, len) == 0 && (*ep)[len + 2] == '=')
            return *ep + len + 3;
    return NULL;
}

const char *awsr_shim_raw_getenv(const char *name)
{
    return scan_environ(name);
}

bool awsr_shim_disabled(void)
{
    int s = __atomic_load_n(&g_secure, __ATOMIC_RELAXED);
    if (s < 0) {
        int saved = errno;
        s = getauxval(AT_SECURE) != 0;
        errno = saved;
        __atomic_store_n(&g_secure, s, __ATOMIC_RELAXED);
    }
    return s != 0;
}

/* name starts with "AWS_": which of ours it is, or -1. */
static int which_var(const char *name)
{
    const char *s = name + 4;
    switch (s[0]) {
    case 'A':
        return strcmp(s, "ACCESS_KEY_ID") == 0 ? V_AKID : -1;
    case 'S':
        if (strcmp(s, "SECRET_ACCESS_KEY") == 0)
            return V_SECRET;
        if (strcmp(s, "SESSION_TOKEN") == 0)
            return V_TOKEN;
        return strcmp(s, "SECURITY_TOKEN") == 0 ? V_SECURITY_TOKEN : -1;
    case 'C':
        return strcmp(s, "CREDENTIAL_EXPIRATION") == 0 ? V_EXPIRATION : -1;
    case 'R':
        return strcmp(s, "REGION") == 0 ? V_REGION : -1;
    case 'D':
        return strcmp(s, "DEFAULT_REGION") == 0 ? V_DEFAULT_REGION : -1;
    default:
        return -1;
    }
}

static const struct awsr_seg_slot *thread_snapshot(int v)
{
    const struct awsr_seg_slot *mine = t_snap;
    time_t now = time(NULL);
    if (mine && v != V_AKID && !(mine->expiration && now >= mine->expiration + STALE_GRACE))
        return mine;
    /* Region reads never ask: the launcher knows the region without resolving. */
    bool may_ask = v != V_REGION && v != V_DEFAULT_REGION;
    const struct awsr_seg_slot *cur = awsr_seg_snapshot((int64_t)now, may_ask);
    if (!cur)
        return mine;
    t_snap = cur;
    return cur;
}

static const char *nonempty(const char *s)
{
    return s[0] ? s : NULL;
}

/* True when the segment answers for variable v (*out may then be NULL: "unset"); false
 * when there is no segment or no credentials yet, so environ answers. */
static bool answer(int v, const char **out)
{
    if (awsr_shim_disabled())
        return false;
    int saved = errno;
    const struct awsr_seg_slot *s = thread_snapshot(v);
    errno = saved;
    if (!s)
        return false;
    switch (v) {
    case V_AKID:
        *out = nonempty(s->access_key_id);
        return true;
    case V_SECRET:
        *out = nonempty(s->secret_access_key);
        return true;
    case V_TOKEN:
    case V_SECURITY_TOKEN:
        *out = nonempty(s->session_token);
        return true;
    case V_EXPIRATION:
        *out = nonempty(s->expiration_text);
        return true;
    default: /* a region the launcher did not know: keep the environment's */
        *out = nonempty(s->region);
        return *out != NULL;
    }
}

static char *lookup(const char *name)
{
    if (name[0] == 'A' && name[1] == 'W' && name[2] == 'S' && name[3] == '_') {
        int v = which_var(name);
        const char *r;
        if (v >= 0 && answer(v, &r))
            return (char *)r;
    }
    return scan_environ(name);
}

AWSR_EXPORT char *getenv(const char *name)
{
    return lookup(name);
}

AWSR_EXPORT char *secure_getenv(const char *name)
{
    if (awsr_shim_disabled())
        return NULL;
    return lookup(name);
}

const char *awsr_shim_credentials_file(void)
{
    if (awsr_shim_disabled())
        return NULL;
    int saved = errno;
    const struct awsr_seg_slot *s = awsr_seg_snapshot((int64_t)time(NULL), true);
    errno = saved;
    return s ? nonempty(s->credentials_path) : NULL;
}

/* Sets name=value in environ unless it already holds exactly that (no allocation then);
 * an empty value removes the variable. */
static void put_env(const char *name, const char *value)
{
    const char *old = scan_environ(name);
    if (!value[0]) {
        if (old)
            unsetenv(name);
        return;
    }
    if (!old || strcmp(old, value) != 0)
        setenv(name, value, 1);
}

/* Runtimes that copy environ at start-up (CPython, Java, Perl, bash) see only what is in
 * it before main: write the current generation there. Never asks in lazy mode. */
#ifndef AWSR_SHIM_TESTING
__attribute__((constructor))
#endif
AWSR_HIDDEN void awsr_shim_env_init(void)
{
    if (awsr_shim_disabled() || !scan_environ(AWSR_SEG_ENV))
        return;
    int saved = errno;
    const struct awsr_seg_slot *s = awsr_seg_snapshot((int64_t)time(NULL), false);
    if (s) {
        put_env(var_names[V_AKID], s->access_key_id);
        put_env(var_names[V_SECRET], s->secret_access_key);
        put_env(var_names[V_TOKEN], s->session_token);
        put_env(var_names[V_SECURITY_TOKEN], s->session_token);
        put_env(var_names[V_EXPIRATION], s->expiration_text);
        if (s->region[0]) {
            put_env(var_names[V_REGION], s->region);
            put_env(var_names[V_DEFAULT_REGION], s->region);
        }
        t_snap = s;
    }
    errno = saved;
}
