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

#include "clock.h"
#include "segment_read.h"
#include "shim.h"
#include "str.h"

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
            /* The first word settles almost every candidate: the second is read only when
             * it matched. */
            if ((*(const unaligned_word *)(e + 2) ^ w0) & m0)
                i = 0;
            else if (end <= 10)
                i = end;
            else if ((*(const unaligned_word *)(e + 10) ^ w1) & m1)
                i = 0;
            else
                i = end < 18 ? end : rest_equal(e, name, 18);
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

/* AT_SECURE from the auxiliary vector the kernel put after the initial environment, or -1
 * when that vector cannot be found with certainty; the vDSO's address from the same vector
 * goes to the clock. glibc calls a preloaded library's
 * constructor with (argc, argv, envp) where envp = argv + argc + 1 on the initial stack,
 * so the vector follows envp's NULL. (A dlopen passes the current environ instead: a
 * setenv moved it to the heap and the check below fails.) ld.so's own unsetenv (secure
 * mode) shifts envp in place, leaving extra NULLs before the vector: skipped; a vector
 * entry's type is never 0 before AT_NULL. */
static int secure_from_stack(int argc, char **argv, char **envp)
{
    if (argc < 0 || argv == NULL || envp == NULL || envp != argv + argc + 1)
        return -1;
    char **p = envp;
    while (*p != NULL)
        p++;
    while (*p == NULL)
        p++;
    int secure = -1;
    for (const unsigned long *a = (const unsigned long *)(void *)p; a[0] != AT_NULL; a += 2) {
        if (a[0] == AT_SECURE)
            secure = a[1] != 0;
        else if (a[0] == AT_SYSINFO_EHDR)
            awsr_clock_set_vdso((const void *)a[1]);
    }
    return secure;
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

/* name starts with "AWS_": which of ours it is, or -1. Rejects on the fifth and sixth
 * characters before comparing the rest, so other AWS_ names cost a few instructions. */
static int which_var(const char *name)
{
    const char *s = name + 4;
    switch (s[0]) {
    case 'A':
        return s[1] == 'C' && awsr_str_eq(s + 2, "CESS_KEY_ID") ? V_AKID : -1;
    case 'S':
        if (s[1] == 'E') {
            if (s[2] == 'C')
                return awsr_str_eq(s + 3, "RET_ACCESS_KEY") ? V_SECRET
                       : awsr_str_eq(s + 3, "URITY_TOKEN")  ? V_SECURITY_TOKEN : -1;
            return awsr_str_eq(s + 2, "SSION_TOKEN") ? V_TOKEN : -1;
        }
        return -1;
    case 'C':
        return s[1] == 'R' && awsr_str_eq(s + 2, "EDENTIAL_EXPIRATION") ? V_EXPIRATION : -1;
    case 'R':
        return s[1] == 'E' && awsr_str_eq(s + 2, "GION") ? V_REGION : -1;
    case 'D':
        return s[1] == 'E' && awsr_str_eq(s + 2, "FAULT_REGION") ? V_DEFAULT_REGION : -1;
    default:
        return -1;
    }
}

static const struct awsr_seg_slot *thread_snapshot(int v)
{
    const struct awsr_seg_slot *mine = t_snap;
    int64_t now = awsr_clock_now();
    int64_t stale = INT64_MAX; /* saturated: the expiration comes from the segment's bytes */
    if (mine && __builtin_add_overflow(mine->expiration, STALE_GRACE, &stale))
        stale = INT64_MAX;
    if (mine && v != V_AKID && !(mine->expiration && now >= stale))
        return mine;
    /* Region reads never ask: the launcher knows the region without resolving. */
    bool may_ask = v != V_REGION && v != V_DEFAULT_REGION;
    const struct awsr_seg_slot *cur = awsr_seg_snapshot(now, may_ask);
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

/* Names that are ours all start "AWS_" and continue with one of AC, SE, CR, RE, DE: any
 * other name is rejected by a few byte tests (never reading past its NUL) and goes to the
 * same inline environ scan as every name. */
AWSR_EXPORT char *getenv(const char *name)
{
    if (__builtin_expect(name[0] == 'A', 0) && name[1] == 'W' && name[2] == 'S' &&
        name[3] == '_') {
        char c = name[4];
        char d = c == 'A' ? 'C' : c == 'C' ? 'R' : c == 'S' || c == 'R' || c == 'D' ? 'E' : 0;
        if (d && name[5] == d) { /* name[5] is read only after a non-NUL name[4] */
            int v = which_var(name);
            if (v >= 0)
                return aws_answer(v, name);
        }
    }
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
    const struct awsr_seg_slot *s = awsr_seg_snapshot(awsr_clock_now(), true);
    errno = saved;
    return s ? nonempty(s->credentials_path) : NULL;
}

/* ---- the constructor ------------------------------------------------------------------
 * It runs in every process of the tree, so the common case (environ already holds the
 * current values, as the launcher and every shim-started parent leave it) must be cheap:
 * one pass over environ, word-wise compares of known lengths, and no libc call (AT_SECURE
 * comes from the auxiliary vector; getauxval only when that cannot be found). */

/* env == field, where field is a snapshot string of length n, NUL-padded to its word:
 * n bytes word by word (no NUL test needed: field has none before n, so a word holding
 * env's NUL differs), then env's NUL. Words of env are read only up to the end of the page
 * they start in (so never from unmapped memory; a read may pass env's NUL inside its page,
 * hence no ASan on this function); a word that would cross a page goes byte by byte. */
__attribute__((no_sanitize_address)) static bool env_equals(const char *env, const char *field,
                                                            size_t n)
{
    size_t k = 0;
    while (k + 8 <= n) {
        size_t stop = k + 4096 - ((uintptr_t)(env + k) & 4095); /* env + stop: next page */
        if (stop > n)
            stop = n;
        if (k + 8 > stop) { /* the next word would cross into the next page */
            if (env[k] != field[k])
                return false;
            k++;
            continue;
        }
        for (; k + 8 <= stop; k += 8)
            if (*(const unaligned_word *)(env + k) != *(const unaligned_word *)(field + k))
                return false;
    }
    for (; k < n; k++)
        if (env[k] != field[k])
            return false;
    return env[n] == '\0';
}

/* "NAME=" of each variable the constructor writes, zero-padded for word compares. */
static const char var_eq[V_COUNT][32] __attribute__((aligned(8))) = {
    "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_SECURITY_TOKEN=",
    "AWS_CREDENTIAL_EXPIRATION=", "AWS_REGION=", "AWS_DEFAULT_REGION=",
};
static const unsigned char var_eq_len[V_COUNT] = {18, 22, 18, 19, 26, 11, 19};
_Static_assert(sizeof "AWS_ACCESS_KEY_ID=" - 1 == 18 && sizeof "AWS_SECRET_ACCESS_KEY=" - 1 == 22 &&
               sizeof "AWS_SESSION_TOKEN=" - 1 == 18 && sizeof "AWS_SECURITY_TOKEN=" - 1 == 19 &&
               sizeof "AWS_CREDENTIAL_EXPIRATION=" - 1 == 26 && sizeof "AWS_REGION=" - 1 == 11 &&
               sizeof "AWS_DEFAULT_REGION=" - 1 == 19, "var_eq_len");

/* The variable an environ entry starting "AWS_" defines, if it is one the constructor
 * writes: picked by the characters after "AWS_", then its whole "NAME=" compared once,
 * a word at a time when the entry's first 32 bytes lie in one page (the reads may pass
 * the entry's NUL inside that page: no ASan), else byte by byte. */
__attribute__((no_sanitize_address)) static int entry_var(const char *e, const char **value)
{
    int v;
    switch (e[4]) {
    case 'A': v = V_AKID; break;
    case 'S': /* e[7] is read only after a non-NUL e[6] */
        v = e[5] != 'E' ? -1 : e[6] == 'S' ? V_TOKEN : e[6] != 'C' ? -1
                                 : e[7] == 'R' ? V_SECRET : V_SECURITY_TOKEN; break;
    case 'C': v = V_EXPIRATION; break;
    case 'R': v = V_REGION; break;
    case 'D': v = V_DEFAULT_REGION; break;
    default: return -1;
    }
    if (v < 0)
        return -1;
    const char *ref = var_eq[v];
    size_t len = var_eq_len[v];
    if (((uintptr_t)e & 4095) <= 4096 - 32) {
        size_t k = 0;
        for (; k + 8 <= len; k += 8)
            if (*(const unaligned_word *)(e + k) != *(const uint64_t *)(const void *)(ref + k))
                return -1;
        if (k < len && ((*(const unaligned_word *)(e + k) ^
                         *(const uint64_t *)(const void *)(ref + k)) & low_bytes[len - k]))
            return -1;
    } else {
        for (size_t k = 0; k < len; k++) /* stops at e's NUL: ref has none before len */
            if (e[k] != ref[k])
                return -1;
    }
    *value = e + len;
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
 * it before main: write the current generation there. Never asks in lazy mode. One pass
 * over environ finds both AWSROLE_SEGMENT and the variables we write (the first
 * definition of each: the one getenv and setenv see). */
#ifdef AWSR_SHIM_TESTING
AWSR_HIDDEN void awsr_shim_env_init(void)
{
    int argc = 0;
    char **argv = NULL, **envp = NULL;
#else
/* cold: optimized for size (it runs once), like the rest of the code off the getenv path. */
__attribute__((constructor, cold)) AWSR_HIDDEN void awsr_shim_env_init(int argc, char **argv,
                                                                       char **envp)
{
#endif
    static const char seg_rest[] = "OLE_SEGMENT="; /* AWSR_SEG_ENV after "AWSR" */
    _Static_assert(sizeof AWSR_SEG_ENV == 16, "AWSROLE_SEGMENT");
    const char *have[V_COUNT] = {0};
    const char *seg = NULL;
    for (char **ep = environ; ep && *ep; ep++) {
        const char *e = *ep, *value;
        if (e[0] != 'A' || e[1] != 'W' || e[2] != 'S')
            continue;
        if (e[3] == '_') {
            int v = entry_var(e, &value);
            if (v >= 0 && !have[v])
                have[v] = value;
        } else if (e[3] == 'R' && !seg) {
            size_t k = 0;
            while (k < sizeof seg_rest - 1 && e[4 + k] == seg_rest[k])
                k++;
            if (k == sizeof seg_rest - 1)
                seg = e + 4 + k;
        }
    }
    if (!seg)
        return;
    /* AT_SECURE without getauxval when the vector is at hand: binding getauxval costs a
     * symbol lookup in every process of the tree. */
    if (__atomic_load_n(&g_secure, __ATOMIC_RELAXED) < 0) {
        int sec = secure_from_stack(argc, argv, envp);
        if (sec >= 0)
            __atomic_store_n(&g_secure, sec, __ATOMIC_RELAXED);
    }
    if (awsr_shim_disabled())
        return;
    const struct awsr_seg_slot *s = awsr_seg_snapshot_at_start(seg);
    if (!s)
        return;
    t_snap = s;
    const struct awsr_snap_lens *len = awsr_seg_snapshot_lens(s);
    const char *want[V_COUNT] = {
        s->access_key_id, s->secret_access_key, s->session_token, s->session_token,
        s->expiration_text, s->region, s->region,
    };
    const uint32_t want_len[V_COUNT] = {
        len->access_key_id, len->secret_access_key, len->session_token, len->session_token,
        len->expiration_text, len->region, len->region,
    };
    for (int v = 0; v < V_COUNT; v++) {
        if ((v == V_REGION || v == V_DEFAULT_REGION) && !s->region[0])
            continue; /* a region the launcher did not know: keep the environment's */
        if (!want[v][0] ? have[v] != NULL
                        : !have[v] || !env_equals(have[v], want[v], want_len[v]))
            put_env(v, want[v]);
    }
}
