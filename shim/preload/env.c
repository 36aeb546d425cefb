/* env.c - getenv and secure_getenv answered from the shared segment, the constructor that
 * writes the current values into environ, the envp renewal the exec wrappers use
 * (exec.c), and the small helpers files.c shares.
 *
 * Names that are not ours cost a four-byte prefix test and then the same unlocked scan of
 * environ glibc does; no dlsym ever (allocators call getenv while they initialise).
 *
 * Ownership rule: a variable is the tree's (answered live from the segment) or the
 * program's (answered from environ, as libc would). At start (constructor, or the first
 * getenv if another library's constructor asks earlier) each inherited variable is
 *   - the tree's when its value is the current one or one this tree issued before (hashes
 *     in the segment header): a stale copy from an old parent, rewritten with the current
 *     generation;
 *   - the tree's when absent and the tree has not reached this environment yet (lazy
 *     mode before resolution: no credential variable of the tree's is present);
 *   - the program's otherwise: a value a parent set itself (MinIO keys, another region),
 *     or a removal (env -u).
 * Regions are the tree's only when equal to the segment's. Later, the program's own
 * setenv/putenv/unsetenv/clearenv change environ's entry for the variable: as soon as the
 * entry is no longer the one the tree's value sat in, the variable is the program's. (The
 * entry is watched through a per-thread cache of its slot in environ: no scan per call.)
 *
 * Per-thread generation rule (on top of the process rule in segment_read.c): a thread
 * keeps the snapshot it last used, and takes the process's current one only
 *   - when it has none,
 *   - when it reads AWS_ACCESS_KEY_ID (every SDK reads the key id first, then the secret
 *     and the token), or
 *   - when its snapshot has expired (dead values are worth nothing; a thread that never
 *     reads the key id must not serve them while a newer generation exists).
 * So the key id, secret and token one thread reads in a row come from one generation. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "clock.h"
#include "segment_read.h"
#include "shim.h"

extern char **environ;

enum var {
    V_AKID,
    V_SECRET,
    V_TOKEN,
    V_SECURITY_TOKEN,
    V_EXPIRATION,
    V_SESSION_EXPIRATION,
    V_REGION,
    V_DEFAULT_REGION,
    V_COUNT
};

/* Arrays, not pointers: no relocation for ld.so to apply in every process. */
static const char var_names[V_COUNT][26] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION", "AWS_SESSION_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION",
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

static const struct awsr_seg_slot *thread_snapshot(int v)
{
    const struct awsr_seg_slot *mine = t_snap;
    int64_t now = awsr_clock_now();
    if (mine && v != V_AKID && !(mine->expiration && now >= mine->expiration))
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
    case V_SESSION_EXPIRATION:
        *out = nonempty(s->expiration_text);
        return true;
    default: /* a region the launcher did not know: keep the environment's */
        *out = nonempty(s->region);
        return *out != NULL;
    }
}

/* ---- ownership (see the rule at the top) ----------------------------------------------- */

/* "NAME=" of each variable, zero-padded for word compares. */
static const char var_eq[V_COUNT][32] __attribute__((aligned(8))) = {
    "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_SECURITY_TOKEN=",
    "AWS_CREDENTIAL_EXPIRATION=", "AWS_SESSION_EXPIRATION=", "AWS_REGION=", "AWS_DEFAULT_REGION=",
};
static const unsigned char var_eq_len[V_COUNT] = {18, 22, 18, 19, 26, 23, 11, 19};
_Static_assert(sizeof "AWS_ACCESS_KEY_ID=" - 1 == 18 && sizeof "AWS_SECRET_ACCESS_KEY=" - 1 == 22 &&
               sizeof "AWS_SESSION_TOKEN=" - 1 == 18 && sizeof "AWS_SECURITY_TOKEN=" - 1 == 19 &&
               sizeof "AWS_CREDENTIAL_EXPIRATION=" - 1 == 26 &&
               sizeof "AWS_SESSION_EXPIRATION=" - 1 == 23 && sizeof "AWS_REGION=" - 1 == 11 &&
               sizeof "AWS_DEFAULT_REGION=" - 1 == 19, "var_eq_len");

/* Which history a variable's values are looked up in (regions have none). */
static const signed char var_field[V_COUNT] = {
    AWSR_ISSUED_AKID, AWSR_ISSUED_SECRET, AWSR_ISSUED_TOKEN, AWSR_ISSUED_TOKEN,
    AWSR_ISSUED_EXPIRY, AWSR_ISSUED_EXPIRY, -1, -1,
};

/* g_inst[v]: NULL = the tree's, absent from environ (the segment answers); an environ entry
 * ("NAME=value") = the tree's, while environ still holds that very entry; PROGRAMS = the
 * program's (environ answers). Written at start, and once more when the program sets a
 * variable the tree had left absent (NULL -> PROGRAMS); never freed entries, so a stale
 * pointer compare is harmless. */
static const char programs_mark[1];
#define PROGRAMS programs_mark
static const char *g_inst[V_COUNT];

enum { OWNER_UNKNOWN, OWNER_EARLY, OWNER_FINAL }; /* classified: not yet, before the
                                                      constructor (no rewrites), by it */
static int g_owner_ready;

static void classify_early(void);

/* Where a variable's entry sat in environ when this thread last looked: while environ is
 * the same array and that slot still holds the same entry, the entry is unchanged (setenv,
 * putenv and unsetenv replace or move the slot's pointer; clearenv resets environ). */
struct env_slot {
    char **env, **slot;
    char *entry;
};
static __thread struct env_slot t_slot[V_COUNT];

/* Reads a word at a time that may pass a NUL inside its page: never instrumented by ASan,
 * and inlined (on the getenv path) only in builds without ASan, which would instrument the
 * inlined copy. */
#if defined(__SANITIZE_ADDRESS__)
#define UNCHECKED_WORD_READS __attribute__((no_sanitize_address, noinline))
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNCHECKED_WORD_READS __attribute__((no_sanitize_address, noinline))
#endif
#endif
#ifndef UNCHECKED_WORD_READS
#define UNCHECKED_WORD_READS __attribute__((always_inline)) inline
#endif

/* Whether s starts with the first n bytes of "NAME=" of v: a word at a time when s's first
 * 32 bytes lie in one page, else byte by byte (stops at s's NUL: var_eq has none before
 * its end). */
static UNCHECKED_WORD_READS bool starts_as(const char *s, int v, size_t n)
{
    const char *ref = var_eq[v];
    size_t k = 0;
    if (((uintptr_t)s & 4095) > 4096 - 32) {
        for (; k < n; k++)
            if (s[k] != ref[k])
                return false;
        return true;
    }
    for (; k + 8 <= n; k += 8)
        if (*(const unaligned_word *)(s + k) != *(const uint64_t *)(const void *)(ref + k))
            return false;
    return k == n || ((*(const unaligned_word *)(s + k) ^
                       *(const uint64_t *)(const void *)(ref + k)) & low_bytes[n - k]) == 0;
}

/* e is an environ entry defining v ("NAME=..."). */
__attribute__((always_inline)) static inline bool entry_matches(const char *e, int v)
{
    return starts_as(e, v, var_eq_len[v]);
}

/* The first environ entry defining v, or NULL; remembers its slot for this thread. */
__attribute__((noinline)) static char *environ_entry_scan(int v, char **env, struct env_slot *c)
{
    c->slot = NULL;
    for (char **ep = env; ep && *ep; ep++) {
        if (entry_matches(*ep, v)) {
            *c = (struct env_slot){env, ep, *ep};
            return *ep;
        }
    }
    return NULL;
}

static inline char *environ_entry(int v)
{
    char **env = environ;
    struct env_slot *c = &t_slot[v];
    if (c->slot && c->env == env && *c->slot == c->entry)
        return c->entry;
    return environ_entry_scan(v, env, c);
}

/* environ's entry for v is not the tree's: the program's value (NULL: removed). A value
 * set where the tree had put nothing stays the program's, also once unset again (only
 * after the constructor, whose own setenv must not count). */
__attribute__((noinline)) static char *programs_value(int v, char *entry)
{
    if (!entry)
        return NULL;
    const char *none = NULL;
    if (__atomic_load_n(&g_owner_ready, __ATOMIC_ACQUIRE) == OWNER_FINAL)
        __atomic_compare_exchange_n(&g_inst[v], &none, PROGRAMS, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE);
    return entry + var_eq_len[v];
}

/* Whether name is v's name (its "NAME=" up to the '=', then the NUL). */
static bool name_is(const char *name, int v)
{
    size_t n = var_eq_len[v] - 1u;
    return starts_as(name, v, n) && name[n] == '\0';
}

/* name starts with "AWS_" and one of AC, SE, CR, RE, DE: which of ours it is, or -1.
 * Picks the one candidate by name[4] (and name[6..7] for the SE names), then compares the
 * whole name once. */
static int which_var(const char *name)
{
    int v;
    switch (name[4]) {
    case 'A': v = V_AKID; break;
    case 'S': /* name[7] is read only after a non-NUL name[6] */
        if (name[6] == 'S')
            return name_is(name, V_TOKEN) ? V_TOKEN
                   : name_is(name, V_SESSION_EXPIRATION) ? V_SESSION_EXPIRATION : -1;
        v = name[6] != 'C' ? -1 : name[7] == 'R' ? V_SECRET : V_SECURITY_TOKEN; break;
    case 'C': v = V_EXPIRATION; break;
    case 'R': v = V_REGION; break;
    default: v = V_DEFAULT_REGION; break; /* 'D': getenv let no other letter through */
    }
    return v >= 0 && name_is(name, v) ? v : -1;
}

/* One of our variables: the program's value from environ, or the tree's from the
 * segment (with the clock read and the snapshot). */
static inline char *aws_answer(int v, const char *name)
{
    /* Nothing is classified in setuid processes (the shim does nothing there), so one
     * test covers both on the common path. */
    if (__builtin_expect(__atomic_load_n(&g_owner_ready, __ATOMIC_ACQUIRE) == OWNER_UNKNOWN, 0)) {
        if (awsr_shim_disabled())
            return (char *)awsr_shim_raw_getenv(name);
        classify_early();
    }
    char *entry = environ_entry(v);
    if (__builtin_expect(entry != __atomic_load_n(&g_inst[v], __ATOMIC_ACQUIRE), 0))
        return programs_value(v, entry);
    const char *r; /* the tree's: live from the segment */
    if (answer(v, &r))
        return (char *)r;
    return entry ? entry + var_eq_len[v] : NULL;
}

/* A name starting "AWS_" and one of AC, SE, CR, RE, DE: out of line, so that the inline
 * scan for every other name keeps its registers. */
__attribute__((noinline)) static char *aws_lookup(const char *name)
{
    int v = which_var(name);
    if (v < 0)
        return (char *)awsr_shim_raw_getenv(name);
    return aws_answer(v, name);
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
        if (d && name[5] == d) /* name[5] is read only after a non-NUL name[4] */
            return aws_lookup(name);
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
        for (; k + 16 <= stop; k += 16) /* two words a round: tokens are 1-2 KiB */
            if (((*(const unaligned_word *)(env + k) ^ *(const unaligned_word *)(field + k)) |
                 (*(const unaligned_word *)(env + k + 8) ^
                  *(const unaligned_word *)(field + k + 8))) != 0)
                return false;
        for (; k + 8 <= stop; k += 8)
            if (*(const unaligned_word *)(env + k) != *(const unaligned_word *)(field + k))
                return false;
    }
    for (; k < n; k++)
        if (env[k] != field[k])
            return false;
    return env[n] == '\0';
}

/* The variable an environ entry starting "AWS_" defines, if it is one of ours: picked by
 * the characters after "AWS_", then its whole "NAME=" compared once. */
__attribute__((always_inline)) static inline int entry_var(const char *e)
{
    int v;
    switch (e[4]) {
    case 'A': v = V_AKID; break;
    case 'S': /* e[7] is read only after a non-NUL e[6] */
        if (e[5] != 'E')
            return -1;
        if (e[6] == 'S') /* AWS_SESSION_TOKEN or AWS_SESSION_EXPIRATION */
            return entry_matches(e, V_TOKEN) ? V_TOKEN
                   : entry_matches(e, V_SESSION_EXPIRATION) ? V_SESSION_EXPIRATION : -1;
        v = e[6] != 'C' ? -1 : e[7] == 'R' ? V_SECRET : V_SECURITY_TOKEN; break;
    case 'C': v = V_EXPIRATION; break;
    case 'R': v = V_REGION; break;
    case 'D': v = V_DEFAULT_REGION; break;
    default: return -1;
    }
    return v >= 0 && entry_matches(e, v) ? v : -1;
}

/* One pass over environ: the first entry of each of our variables into have[], and the
 * value of AWSROLE_SEGMENT (NULL when absent). */
static const char *environ_pass(char *have[V_COUNT])
{
    static const char seg_rest[] = "OLE_SEGMENT="; /* AWSR_SEG_ENV after "AWSR" */
    _Static_assert(sizeof AWSR_SEG_ENV == 16, "AWSROLE_SEGMENT");
    const char *seg = NULL;
    for (char **ep = environ; ep && *ep; ep++) {
        char *e = *ep;
        if (e[0] != 'A' || e[1] != 'W' || e[2] != 'S')
            continue;
        if (e[3] == '_') {
            int v = entry_var(e);
            if (v >= 0 && !have[v])
                have[v] = e;
        } else if (e[3] == 'R' && !seg) {
            size_t k = 0;
            while (k < sizeof seg_rest - 1 && e[4 + k] == seg_rest[k])
                k++;
            if (k == sizeof seg_rest - 1)
                seg = e + 4 + k;
        }
    }
    return seg;
}

/* Sets name=value in environ (an empty value removes the variable) and returns the entry
 * now holding it. Only reached for stale or missing values (so setenv's allocation
 * happens only for stale environments). */
static char *put_env(int v, const char *value)
{
    int saved = errno;
    if (!value[0])
        unsetenv(var_names[v]);
    else
        setenv(var_names[v], value, 1);
    errno = saved;
    struct env_slot scratch;
    return environ_entry_scan(v, environ, &scratch);
}

enum kind { K_ABSENT, K_CURRENT, K_ISSUED, K_OTHER };

/* Where each variable's value lies in a snapshot, and its recorded length. */
static const unsigned short want_at[V_COUNT] = {
    offsetof(struct awsr_seg_slot, access_key_id), offsetof(struct awsr_seg_slot, secret_access_key),
    offsetof(struct awsr_seg_slot, session_token), offsetof(struct awsr_seg_slot, session_token),
    offsetof(struct awsr_seg_slot, expiration_text), offsetof(struct awsr_seg_slot, expiration_text),
    offsetof(struct awsr_seg_slot, region), offsetof(struct awsr_seg_slot, region),
};
static const unsigned char want_len_at[V_COUNT] = {
    offsetof(struct awsr_snap_lens, access_key_id), offsetof(struct awsr_snap_lens, secret_access_key),
    offsetof(struct awsr_snap_lens, session_token), offsetof(struct awsr_snap_lens, session_token),
    offsetof(struct awsr_snap_lens, expiration_text), offsetof(struct awsr_snap_lens, expiration_text),
    offsetof(struct awsr_snap_lens, region), offsetof(struct awsr_snap_lens, region),
};

static const char *want_of(const struct awsr_seg_slot *s, int v)
{
    return (const char *)s + want_at[v];
}

static uint32_t want_len_of(const struct awsr_seg_slot *s, int v)
{
    uint32_t n;
    __builtin_memcpy(&n, (const char *)awsr_seg_snapshot_lens(s) + want_len_at[v], sizeof n);
    return n;
}

/* Decides who owns each variable (the rule at the top) from the entries inherited in
 * have[] and the current snapshot s (NULL: none yet); with `write`, stale and missing
 * tree values in environ are replaced by s's. */
static void classify(char *const have[V_COUNT], const struct awsr_seg_slot *s, bool write)
{
    enum kind kind[V_COUNT];
    bool reached = false; /* a credential value of the tree's is in this environment */
    for (int v = 0; v < V_COUNT; v++) {
        const char *value = have[v] ? have[v] + var_eq_len[v] : NULL;
        if (!value)
            kind[v] = K_ABSENT;
        else if (s && want_of(s, v)[0] && env_equals(value, want_of(s, v), want_len_of(s, v)))
            kind[v] = K_CURRENT;
        else if (var_field[v] >= 0 && awsr_seg_issued(var_field[v], value))
            kind[v] = K_ISSUED;
        else
            kind[v] = K_OTHER;
        if (var_field[v] >= 0 && (kind[v] == K_CURRENT || kind[v] == K_ISSUED))
            reached = true;
    }
    /* Absent means removed unless the variables were never put here: lazy mode (or no
     * generation yet) and no credential value of the tree's around. */
    bool absent_is_removal = reached || (s && !(s->seg_flags & AWSR_SEG_F_LAZY));
    for (int v = 0; v < V_COUNT; v++) {
        const char *inst = PROGRAMS;
        if (kind[v] == K_CURRENT)
            inst = have[v];
        else if (var_field[v] < 0) /* a region: the tree's only when equal to the segment's */
            inst = PROGRAMS;
        else if (kind[v] == K_ISSUED)
            inst = write && s ? put_env(v, want_of(s, v)) : have[v];
        else if (kind[v] == K_ABSENT && !absent_is_removal)
            inst = write && s && want_of(s, v)[0] ? put_env(v, want_of(s, v)) : NULL;
        __atomic_store_n(&g_inst[v], inst, __ATOMIC_RELEASE);
    }
}

/* getenv of one of ours before the constructor ran (another library's constructor): the
 * same decisions, without touching environ. */
__attribute__((noinline, cold)) static void classify_early(void)
{
    int saved = errno;
    char *have[V_COUNT] = {0};
    const struct awsr_seg_slot *s = NULL;
    if (environ_pass(have))
        s = awsr_seg_snapshot(awsr_clock_now(), false);
    classify(have, s, false);
    int unknown = OWNER_UNKNOWN;
    __atomic_compare_exchange_n(&g_owner_ready, &unknown, OWNER_EARLY, false, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
    errno = saved;
}

/* Runtimes that copy environ at start-up (CPython, Java, Perl, bash) see only what is in
 * it before main: write the current generation there, over the tree's stale values (never
 * over the program's own). Never asks in lazy mode. One pass over environ finds both
 * AWSROLE_SEGMENT and our variables (the first definition of each: the one getenv and
 * setenv see). */
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
    char *have[V_COUNT] = {0};
    const char *seg = environ_pass(have);
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
    if (s)
        t_snap = s;
    classify(have, s, true);
    __atomic_store_n(&g_owner_ready, OWNER_FINAL, __ATOMIC_RELEASE);
}

/* ---- envp handed to a new program (exec.c) ----------------------------------------------- */

/* The variable a credential entry of an envp defines when its value is a stale one this
 * tree issued (not the current one, not the program's own), else -1. */
static int stale_entry(const char *e, const struct awsr_seg_slot *s)
{
    if (e[0] != 'A' || e[1] != 'W' || e[2] != 'S' || e[3] != '_')
        return -1;
    int v = entry_var(e);
    if (v < 0 || var_field[v] < 0)
        return -1;
    const char *value = e + var_eq_len[v];
    if (want_of(s, v)[0] && env_equals(value, want_of(s, v), want_len_of(s, v)))
        return -1;
    return awsr_seg_issued(var_field[v], value) ? v : -1;
}

/* errno is left alone without saving it: the segment reader and the clock make raw
 * system calls only (saving it would cost each fork child that execs a lazy binding of
 * __errno_location and its page faults). */
_Static_assert(AWSR_ENVP_STRINGS_MAX >= 2 * AWSR_SEG_TOKEN_MAX + 256, "envp strings cap");

size_t awsr_env_stale(char *const envp[], const void **slot, size_t *bytes)
{
    if (!envp || awsr_shim_disabled())
        return 0;
    const struct awsr_seg_slot *s = awsr_seg_snapshot(awsr_clock_now_syscall(), false);
    if (!s)
        return 0;
    size_t n = 0, need = 0;
    bool stale = false;
    for (; envp[n]; n++) {
        int v = stale_entry(envp[n], s);
        if (v >= 0) {
            stale = true;
            need += var_eq_len[v] + want_len_of(s, v) + 1;
        }
    }
    if (!stale || n > AWSR_ENVP_MAX || need > AWSR_ENVP_STRINGS_MAX)
        return 0; /* the common case: nothing to do (or too large to copy) */
    *slot = s;
    *bytes = need;
    return n;
}

char *const *awsr_env_renew_into(char *const envp[], size_t n, const void *slot,
                                 char **array, char *strings, size_t room)
{
    const struct awsr_seg_slot *s = slot;
    size_t k = 0;
    for (size_t i = 0; i < n && envp[i]; i++) { /* another thread may shrink environ */
        int v = stale_entry(envp[i], s);
        if (v < 0) {
            array[k++] = envp[i];
            continue;
        }
        const char *want = want_of(s, v);
        size_t eq = var_eq_len[v], len = want_len_of(s, v);
        if (!want[0])
            continue; /* the current generation has none: dropped */
        if (eq + len + 1 > room) { /* a renewal since awsr_env_stale made it stale */
            array[k++] = envp[i];
            continue;
        }
        room -= eq + len + 1;
        for (size_t j = 0; j < eq; j++)
            strings[j] = var_eq[v][j];
        for (size_t j = 0; j <= len; j++) /* with its NUL */
            strings[eq + j] = want[j];
        array[k++] = strings;
        strings += eq + len + 1;
    }
    array[k] = NULL;
    return array;
}
