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

/* The environ scan, as cheap as glibc 2.36's getenv (which compares the first two bytes as
 * one 16-bit word, then strncmp, then '='): the first two bytes as one word (like glibc,
 * this reads two bytes of every entry), then the rest byte by byte up to the name's end,
 * then '='. No strlen and no call: a mismatch costs a few instructions. */
static inline uint16_t first2(const char *s)
{
    uint16_t v;
    __builtin_memcpy(&v, s, 2);
    return v;
}

typedef uint64_t __attribute__((may_alias, aligned(1))) unaligned_word;

static inline uint64_t zero_bytes(uint64_t w)
{
    return (w - UINT64_C(0x0101010101010101)) & ~w & UINT64_C(0x8080808080808080);
}

/* low_bytes[n]: the mask of a word's first n bytes (little-endian). */
static const uint64_t low_bytes[9] = {
    0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff,
    ~UINT64_C(0),
};

static inline bool word_ok(const char *p)
{
    return ((uintptr_t)p & 4095) <= 4096 - 8; /* eight bytes inside p's page */
}

/* Index of name's NUL when e starts with name (compared from byte `i` on), else 0. Eight
 * bytes at a time while neither read can leave its page (so never into unmapped memory; a
 * read may pass a NUL inside the page, hence no ASan here), byte by byte otherwise. */
__attribute__((no_sanitize_address)) static size_t rest_equal(const char *e, const char *name,
                                                              size_t i)
{
    while (word_ok(e + i) && word_ok(name + i)) {
        uint64_t nw = *(const unaligned_word *)(name + i);
        uint64_t diff = nw ^ *(const unaligned_word *)(e + i);
        uint64_t z = zero_bytes(nw);
        if (z) { /* name ends in this word: the bytes before its NUL must be equal */
            unsigned end = (unsigned)__builtin_ctzll(z) >> 3;
            return (diff & low_bytes[end]) == 0 ? i + end : 0;
        }
        if (diff)
            return 0;
        i += 8;
    }
    while (name[i] != '\0' && e[i] == name[i]) /* stops at e's NUL too */
        i++;
    return name[i] == '\0' ? i : 0;
}

/* The rest of the scan, from an entry whose first two bytes match: out of line, so the
 * loop over non-matching entries below needs no saved registers. */
__attribute__((noinline, no_sanitize_address)) static char *scan_from(char **ep, const char *name,
                                                                       uint16_t start)
{
    /* The name's next sixteen bytes, prepared once, so that a candidate entry costs two
     * word compares: names up to 17 characters are settled without a loop. */
    uint64_t w0 = 0, w1 = 0, m0 = 0, m1 = 0;
    size_t end = 0; /* index of the name's NUL if among them, 18 if not, 0: not prepared */
    if (((uintptr_t)(name + 2) & 4095) <= 4096 - 16) {
        w0 = *(const unaligned_word *)(name + 2);
        uint64_t z0 = zero_bytes(w0);
        if (z0) {
            end = 2 + (__builtin_ctzll(z0) >> 3);
            m0 = low_bytes[end - 2];
        } else {
            w1 = *(const unaligned_word *)(name + 10);
            uint64_t z1 = zero_bytes(w1);
            end = z1 ? 10 + (__builtin_ctzll(z1) >> 3) : 18;
            m0 = ~UINT64_C(0);
            m1 = low_bytes[end - 10];
        }
    }
    for (const char *e = *ep;;) {
        size_t i;
        if (end && ((uintptr_t)(e + 2) & 4095) <= 4096 - 16) {
            uint64_t x = (*(const unaligned_word *)(e + 2) ^ w0) & m0;
            if (end > 10)
                x |= (*(const unaligned_word *)(e + 10) ^ w1) & m1;
            i = x ? 0 : end < 18 ? end : rest_equal(e, name, 18);
        } else {
            i = rest_equal(e, name, 2);
        }
        if (i && e[i] == '=')
            return (char *)e + i + 1;
        do {
            if ((e = *++ep) == NULL)
                return NULL;
        } while (first2(e) != start);
    }
}

/* The environ scan, as glibc 2.36's getenv does it: the first two bytes of each entry as
 * one word (like glibc, this reads two bytes of every entry), then the rest and '='. */
static inline char *scan_environ(const char *name)
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
    uint16_t start = first2(name);
    for (;; ep += 2) { /* two entries a round: one add and one jump less per entry */
        const char *e = ep[0];
        if (e == NULL)
            return NULL;
        if (first2(e) == start)
            return scan_from(ep, name, start);
        if ((e = ep[1]) == NULL)
            return NULL;
        if (first2(e) == start)
            return scan_from(ep + 1, name, start);
    }
}

const char *awsr_shim_raw_getenv(const char *name)
{
    return scan_environ(name);
}

bool awsr_shim_disabled(void)
{
    int s = __atomic_load_n(&g_secure, __ATOMIC_RELAXED);
    if (s < 0) {
        /* errno untouched: getauxval sets it only for a missing entry, and the kernel
         * always passes AT_SECURE. */
        s = getauxval(AT_SECURE) != 0;
        __atomic_store_n(&g_secure, s, __ATOMIC_RELAXED);
    }
    return s != 0;
}

/* a == b, stopping at the first difference (never reads past either string's NUL). */
static inline bool same(const char *a, const char *b)
{
    while (*a == *b) {
        if (*a == '\0')
            return true;
        a++;
        b++;
    }
    return false;
}

/* name starts with "AWS_": which of ours it is, or -1. Rejects on the fifth and sixth
 * characters before comparing the rest, so other AWS_ names cost a few instructions. */
static int which_var(const char *name)
{
    const char *s = name + 4;
    switch (s[0]) {
    case 'A':
        return s[1] == 'C' && same(s + 2, "CESS_KEY_ID") ? V_AKID : -1;
    case 'S':
        if (s[1] == 'E') {
            if (s[2] == 'C')
                return same(s + 3, "RET_ACCESS_KEY") ? V_SECRET
                       : same(s + 3, "URITY_TOKEN")  ? V_SECURITY_TOKEN : -1;
            return same(s + 2, "SSION_TOKEN") ? V_TOKEN : -1;
        }
        return -1;
    case 'C':
        return s[1] == 'R' && same(s + 2, "EDENTIAL_EXPIRATION") ? V_EXPIRATION : -1;
    case 'R':
        return s[1] == 'E' && same(s + 2, "GION") ? V_REGION : -1;
    case 'D':
        return s[1] == 'E' && same(s + 2, "FAULT_REGION") ? V_DEFAULT_REGION : -1;
    default:
        return -1;
    }
}

static const struct awsr_seg_slot *thread_snapshot(int v)
{
    const struct awsr_seg_slot *mine = t_snap;
    time_t now = time(NULL);
    int64_t stale = INT64_MAX; /* saturated: the expiration comes from the segment's bytes */
    if (mine && __builtin_add_overflow(mine->expiration, STALE_GRACE, &stale))
        stale = INT64_MAX;
    if (mine && v != V_AKID && !(mine->expiration && (int64_t)now >= stale))
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

/* A variable the segment may answer: out of line, with the clock read and the snapshot. */
__attribute__((noinline)) static char *aws_answer(int v, const char *name)
{
    const char *r;
    if (answer(v, &r))
        return (char *)r;
    return (char *)awsr_shim_raw_getenv(name);
}

/* Names starting with 'A': out of line, so that getenv of any other name stays one byte
 * test and the environ scan; AWS_ names that are not ours cost a few byte tests more. */
__attribute__((noinline)) static char *a_lookup(const char *name)
{
    int v = name[1] == 'W' && name[2] == 'S' && name[3] == '_' ? which_var(name) : -1;
    if (v < 0)
        return (char *)awsr_shim_raw_getenv(name);
    return aws_answer(v, name);
}

AWSR_EXPORT char *getenv(const char *name)
{
    if (name[0] == 'A')
        return a_lookup(name);
    return scan_environ(name);
}

AWSR_EXPORT char *secure_getenv(const char *name)
{
    if (awsr_shim_disabled())
        return NULL;
    return getenv(name);
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

/* ---- the constructor ------------------------------------------------------------------
 * It runs in every process of the tree, so the common case (environ already holds the
 * current values, as the launcher and every shim-started parent leave it) must be cheap:
 * one pass over environ and word-wise compares, no libc call but getauxval. */

/* env == field, where field is an 8-aligned NUL-terminated snapshot string. The environ
 * side is read eight bytes at a time only while those bytes cannot cross into another page
 * (so never into unmapped memory), and the last word byte by byte, stopping at the first
 * difference; a read may pass env's NUL inside its page, hence no ASan on this function. */
__attribute__((no_sanitize_address)) static bool env_equals(const char *env, const char *field)
{
    for (size_t k = 0;; k += 8) {
        uint64_t fw = *(const uint64_t *)(const void *)(field + k);
        uint64_t z = zero_bytes(fw);
        if (z == 0 && word_ok(env + k)) {
            if (*(const unaligned_word *)(env + k) != fw)
                return false;
            continue;
        }
        for (size_t i = k;; i++) {
            if (env[i] != field[i])
                return false;
            if (field[i] == '\0')
                return true;
        }
    }
}

/* The variable an environ entry defines, if it is one the constructor writes: picked by
 * the characters after "AWS_", then its whole name compared once. */
static int entry_var(const char *e, const char **value)
{
    if (!(e[0] == 'A' && e[1] == 'W' && e[2] == 'S' && e[3] == '_'))
        return -1;
    int v;
    switch (e[4]) {
    case 'A': v = V_AKID; break;
    case 'S': v = e[5] != 'E' ? -1 : e[6] == 'S' ? V_TOKEN
                                 : e[7] == 'R' ? V_SECRET : V_SECURITY_TOKEN; break;
    case 'C': v = V_EXPIRATION; break;
    case 'R': v = V_REGION; break;
    case 'D': v = V_DEFAULT_REGION; break;
    default: return -1;
    }
    if (v < 0)
        return -1;
    const char *n = var_names[v] + 4, *p = e + 4;
    while (*n != '\0' && *p == *n) {
        n++;
        p++;
    }
    if (*n != '\0' || *p != '=')
        return -1;
    *value = p + 1;
    return v;
}

/* Sets name=value in environ; an empty value removes the variable. Only reached when the
 * current value differs (so setenv's allocation happens only for stale environments). */
static void put_env(int v, const char *value)
{
    int saved = errno;
    if (!value[0])
        unsetenv(var_names[v]);
    else
        setenv(var_names[v], value, 1);
    errno = saved;
}

/* Runtimes that copy environ at start-up (CPython, Java, Perl, bash) see only what is in
 * it before main: write the current generation there. Never asks in lazy mode. */
#ifndef AWSR_SHIM_TESTING
__attribute__((constructor))
#endif
AWSR_HIDDEN void awsr_shim_env_init(void)
{
    if (!awsr_shim_raw_getenv(AWSR_SEG_ENV) || awsr_shim_disabled())
        return;
    const struct awsr_seg_slot *s = awsr_seg_snapshot_at_start();
    if (!s)
        return;
    t_snap = s;
    const char *want[V_COUNT] = {
        s->access_key_id, s->secret_access_key, s->session_token, s->session_token,
        s->expiration_text, s->region, s->region,
    };
    /* One pass: the first definition of each (the one getenv and setenv see). */
    const char *have[V_COUNT] = {0};
    for (char **ep = environ; ep && *ep; ep++) {
        const char *value;
        int v = entry_var(*ep, &value);
        if (v >= 0 && !have[v])
            have[v] = value;
    }
    for (int v = 0; v < V_COUNT; v++) {
        if ((v == V_REGION || v == V_DEFAULT_REGION) && !s->region[0])
            continue; /* a region the launcher did not know: keep the environment's */
        if (!want[v][0] ? have[v] != NULL : !have[v] || !env_equals(have[v], want[v]))
            put_env(v, want[v]);
    }
}
