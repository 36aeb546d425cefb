/* segment_read.c - attaches to the launcher's segment and keeps the process's snapshot.
 *
 * Runs inside arbitrary programs, possibly before the shim's constructor, from another
 * library's constructor, in a vfork child or a signal handler: no malloc, no locks, no
 * stdio, no wrapped libc calls (raw syscalls for openat/fstat/close/write/futex), errno
 * preserved by the callers in env.c.
 *
 * Generation rule (process level): the snapshot moves to a newer generation only when the
 * process has none, or when its credentials expire within AWSR_SWITCH_MARGIN (10 minutes).
 * STS credentials stay valid until their own expiry, so a new generation is not needed
 * earlier, and a rarely-moving snapshot keeps an SDK's three getenv calls on one set.
 * (env.c adds the per-thread part of the rule.) Old snapshots are never freed: callers
 * may hold getenv pointers for the life of the process.
 *
 * Also answers "did this tree issue that value?" from the header's history of hashes
 * (env.c's ownership rule). */
#include "segment_read.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "sys.h"

#ifdef AWSR_SHIM_TESTING
int awsr_seg_wait_seconds = 120;
#define WAIT_SECONDS awsr_seg_wait_seconds
#else
#define WAIT_SECONDS 120 /* a human typing an MFA code */
#endif

_Static_assert(sizeof(struct awsr_snap_lens) <= AWSR_SNAP_LENS_ROOM, "lens fit before the copy");

enum { SEG_UNTRIED = 0, SEG_ATTACHED = 1, SEG_ABSENT = 2 };

/* In .data, on the page of the shim's other small variables, rather than alone on a page
 * behind files.c's path cache in .bss (one resident page less per process). */
#define SMALL_DATA __attribute__((section(".data.awsr_reader")))
static const struct awsr_seg *g_seg SMALL_DATA;
static int g_seg_state SMALL_DATA;
static char g_seg_path[sizeof AWSR_SEG_SHM_DIR + AWSR_SEG_NAME_MAX] SMALL_DATA;
static const struct awsr_seg_slot *g_snap SMALL_DATA;

#ifndef AWSR_SHIM_TESTING
static int raw_open(const char *path, int flags)
{
    long r = sys6(SYS_openat, AT_FDCWD, (long)path, flags, 0, 0, 0);
    return r < 0 ? -1 : (int)r;
}

static void raw_close(int fd)
{
    sys6(SYS_close, fd, 0, 0, 0, 0, 0);
}

static void *raw_mmap(size_t len, int prot, int flags, int fd)
{
    long r = sys6(SYS_mmap, 0, (long)len, prot, flags, fd, 0);
    return r < 0 && r > -4096 ? MAP_FAILED : (void *)r;
}

static void raw_munmap(const void *p, size_t len)
{
    sys6(SYS_munmap, (long)p, (long)len, 0, 0, 0, 0);
}

static void raw_madvise(const void *p, size_t len, int advice)
{
    sys6(SYS_madvise, (long)p, (long)len, advice, 0, 0, 0);
}

static bool raw_fstat(int fd, struct stat *st)
{
    return sys6(SYS_fstat, fd, (long)st, 0, 0, 0, 0) == 0;
}

static uid_t raw_geteuid(void)
{
    return (uid_t)sys6(SYS_geteuid, 0, 0, 0, 0, 0, 0);
}

/* True when the lock is held by someone else (EWOULDBLOCK). */
static bool raw_flock_busy(int fd)
{
    return sys6(SYS_flock, fd, LOCK_SH | LOCK_NB, 0, 0, 0, 0) == -EWOULDBLOCK;
}

static void raw_write(int fd, const void *b, size_t n)
{
    sys6(SYS_write, fd, (long)b, (long)n, 0, 0, 0);
}

static void raw_yield(void)
{
    sys6(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
}

static void raw_futex_wait(const uint32_t *word, uint32_t val, const struct timespec *ts)
{
    sys6(SYS_futex, (long)word, FUTEX_WAIT, val, (long)ts, 0, 0);
}

static int64_t monotonic_seconds(void)
{
    struct timespec ts = {0, 0};
    sys6(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0, 0, 0, 0);
    return ts.tv_sec;
}
#else
/* Test builds call libc so that ThreadSanitizer sees every fd's and mapping's life (raw
 * syscalls are invisible to it and make reused numbers and addresses look like races). */
static int raw_open(const char *path, int flags)
{
    return open(path, flags);
}

static void raw_close(int fd)
{
    close(fd);
}

static void *raw_mmap(size_t len, int prot, int flags, int fd)
{
    return mmap(NULL, len, prot, flags, fd, 0);
}

static void raw_munmap(const void *p, size_t len)
{
    munmap((void *)p, len);
}

static void raw_madvise(const void *p, size_t len, int advice)
{
    madvise((void *)p, len, advice);
}

static bool raw_fstat(int fd, struct stat *st)
{
    return fstat(fd, st) == 0;
}

static uid_t raw_geteuid(void)
{
    return geteuid();
}

static bool raw_flock_busy(int fd)
{
    return flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

static void raw_write(int fd, const void *b, size_t n)
{
    (void)!write(fd, b, n);
}

static void raw_yield(void)
{
    sched_yield();
}

static void raw_futex_wait(const uint32_t *word, uint32_t val, const struct timespec *ts)
{
    syscall(SYS_futex, word, FUTEX_WAIT, val, ts, NULL, 0);
}

static int64_t monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}
#endif

bool awsr_seg_stat_ok(const struct stat *st, uid_t euid)
{
    return S_ISREG(st->st_mode) && st->st_uid == euid && (st->st_mode & 077) == 0 &&
           (st->st_mode & S_IRUSR) && st->st_size == (off_t)sizeof(struct awsr_seg);
}

/* Characters a segment name may hold: [A-Za-z0-9_.-], one bit each (ASCII only). */
static const uint64_t name_chars[2] = {
    UINT64_C(0x03ff600000000000),   /* '-' '.' '0'-'9' */
    UINT64_C(0x07fffffe87fffffe),   /* 'A'-'Z' '_' 'a'-'z' */
};

/* Names are "awsrole-<pid>-<hex>": anything else (a '/' above all) is refused. Checked
 * while being copied after the directory into `path` (one pass). */
static bool name_ok_copy(const char *name, char *path)
{
    if (!name || name[0] == '.' || name[0] == '\0')
        return false;
    __builtin_memcpy(path, AWSR_SEG_SHM_DIR, sizeof AWSR_SEG_SHM_DIR - 1);
    char *d = path + sizeof AWSR_SEG_SHM_DIR - 1;
    for (size_t n = 0; n < AWSR_SEG_NAME_MAX; n++) {
        unsigned char c = (unsigned char)name[n];
        d[n] = (char)c;
        if (c == '\0')
            return true;
        if (c >= 128 || !((name_chars[c >> 6] >> (c & 63)) & 1))
            return false;
    }
    return false; /* NUL-terminated within AWSR_SEG_NAME_MAX bytes, or refused */
}

static const struct awsr_seg *map_segment(const char *name, char *path)
{
    if (!name_ok_copy(name, path))
        return NULL;

    int fd = raw_open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *p = MAP_FAILED;
    if (raw_fstat(fd, &st) && awsr_seg_stat_ok(&st, raw_geteuid()))
        p = raw_mmap(sizeof(struct awsr_seg), PROT_READ, MAP_SHARED, fd);
    raw_close(fd); /* the mapping outlives the fd: nothing the program can see or close */
    if (p == MAP_FAILED)
        return NULL;
    raw_madvise(p, sizeof(struct awsr_seg), MADV_DONTDUMP);
    const struct awsr_seg *m = p;
    if (__atomic_load_n(&m->hdr.magic, __ATOMIC_ACQUIRE) != AWSR_SEG_MAGIC ||
        m->hdr.version != AWSR_SEG_VERSION || m->hdr.size != sizeof(struct awsr_seg)) {
        raw_munmap(p, sizeof(struct awsr_seg));
        return NULL;
    }
    return m;
}

/* The segment named `name` (the value of AWSROLE_SEGMENT), attached once per process. */
static const struct awsr_seg *attach_named(const char *name)
{
    int state = __atomic_load_n(&g_seg_state, __ATOMIC_ACQUIRE);
    if (state == SEG_ATTACHED)
        return __atomic_load_n(&g_seg, __ATOMIC_ACQUIRE);
    if (state == SEG_ABSENT)
        return NULL;
    if (awsr_shim_disabled()) {
        __atomic_store_n(&g_seg_state, SEG_ABSENT, __ATOMIC_RELEASE);
        return NULL;
    }
    char path[sizeof g_seg_path];
    const struct awsr_seg *m = map_segment(name, path);
    if (!m) {
        int expected = SEG_UNTRIED;
        __atomic_compare_exchange_n(&g_seg_state, &expected, SEG_ABSENT, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
        return __atomic_load_n(&g_seg, __ATOMIC_ACQUIRE);
    }
    const struct awsr_seg *none = NULL;
    if (__atomic_compare_exchange_n(&g_seg, &none, m, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        __builtin_memcpy(g_seg_path, path, sizeof g_seg_path); /* only the winner writes it */
    } else {
        raw_munmap(m, sizeof(struct awsr_seg)); /* another thread attached first */
        return none; /* the winner sets the state once g_seg_path is written */
    }
    __atomic_store_n(&g_seg_state, SEG_ATTACHED, __ATOMIC_RELEASE);
    return m;
}

const struct awsr_seg *awsr_seg_attach(void)
{
    if (__atomic_load_n(&g_seg_state, __ATOMIC_ACQUIRE) == SEG_ATTACHED)
        return __atomic_load_n(&g_seg, __ATOMIC_ACQUIRE);
    return attach_named(awsr_shim_raw_getenv(AWSR_SEG_ENV));
}

/* The generation of the slot readers are told to use, 0 when none (or mid-update). */
static uint64_t current_generation(const struct awsr_seg *m)
{
    uint32_t cur = __atomic_load_n(&m->hdr.current, __ATOMIC_ACQUIRE) & 1;
    const struct awsr_seg_slot *s = &m->slot[cur];
    uint32_t s1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
    if (s1 & 1)
        return 0;
    uint64_t gen = __atomic_load_n(&s->generation, __ATOMIC_ACQUIRE);
    return __atomic_load_n(&s->seq, __ATOMIC_RELAXED) == s1 ? gen : 0;
}

/* Copies one string field word by word up to the word holding its NUL, terminates it
 * inside the field whatever the bytes, and returns its length. The bytes after the NUL in
 * its word are zeroed, so the copy is NUL-padded to a word whatever an earlier (torn) try
 * left there; later words are not touched (readers never look past the NUL). */
static uint32_t copy_field(char *dst, const char *src, size_t size)
{
    uint64_t *d = (uint64_t *)(void *)dst;
    const uint64_t *s = (const uint64_t *)(const void *)src, *end = s + size / 8;
    do {
        uint64_t w = __atomic_load_n(s, __ATOMIC_ACQUIRE);
        uint64_t z = (w - UINT64_C(0x0101010101010101)) & ~w & UINT64_C(0x8080808080808080);
        if (z) {
            unsigned nul = (unsigned)__builtin_ctzll(z) >> 3; /* the first NUL byte */
            *d = w & ((UINT64_C(1) << (nul * 8)) - 1);      /* nul < 8: shift < 64 */
            return (uint32_t)((const char *)s - src) + nul;
        }
        *d++ = w;
    } while (++s != end);
    dst[size - 1] = '\0';
    for (size_t n = size - 8; n < size; n++)
        if (dst[n] == '\0')
            return (uint32_t)n;
    return (uint32_t)(size - 1);
}

#define COPY_FIELD(copy, s, f) copy_field((copy)->f, (s)->f, sizeof (copy)->f)

/* Copies the current slot into a fresh private block under the seqlock: the fixed words
 * and each string up to its end, not the whole 18 KiB slot. The block is mmap'ed (no
 * allocator re-entry) and kept out of core dumps. NULL when no consistent generation could
 * be read. */
static struct awsr_seg_slot *build_snapshot(const struct awsr_seg *m)
{
    void *blk = raw_mmap(AWSR_SNAP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1);
    if (blk == MAP_FAILED)
        return NULL;
    raw_madvise(blk, AWSR_SNAP_SIZE, MADV_DONTDUMP);
    struct awsr_seg_slot *copy =
        (struct awsr_seg_slot *)(void *)((char *)blk + AWSR_SNAP_LENS_ROOM);
    struct awsr_snap_lens *lens = blk;
    for (int tries = 0; tries < 64; tries++) {
        if (tries >= 16)
            raw_yield();
        uint32_t cur = __atomic_load_n(&m->hdr.current, __ATOMIC_ACQUIRE) & 1;
        const struct awsr_seg_slot *s = &m->slot[cur];
        uint32_t s1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        if (s1 & 1)
            continue;
        awsr_seg_load_words((char *)copy + 8, (const char *)s + 8,
                            offsetof(struct awsr_seg_slot, access_key_id) - 8);
        lens->access_key_id = COPY_FIELD(copy, s, access_key_id);
        lens->secret_access_key = COPY_FIELD(copy, s, secret_access_key);
        lens->session_token = COPY_FIELD(copy, s, session_token);
        lens->expiration_text = COPY_FIELD(copy, s, expiration_text);
        lens->region = COPY_FIELD(copy, s, region);
        COPY_FIELD(copy, s, profile);
        COPY_FIELD(copy, s, credentials_path);
        if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != s1)
            continue; /* torn: the next try overwrites every field up to its new end */
        if (copy->generation == 0)
            break;
        copy->seq = s1;
        return copy;
    }
    raw_munmap(blk, AWSR_SNAP_SIZE);
    return NULL;
}

/* The launcher holds an exclusive flock on the segment while it lives. (Not its pid:
 * the tree may sit in another pid namespace.) */
static bool launcher_alive(void)
{
    if (__atomic_load_n(&g_seg_state, __ATOMIC_ACQUIRE) != SEG_ATTACHED)
        return true; /* g_seg_path not written yet: ask again next round */
    int fd = raw_open(g_seg_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    bool alive = raw_flock_busy(fd);
    raw_close(fd);
    return alive;
}

static void send_request(const struct awsr_seg *m)
{
    char path[AWSR_SEG_PATH_MAX];
    awsr_seg_load_words(path, m->hdr.request_path, sizeof path);
    path[sizeof path - 1] = '\0';
    if (path[0] != '/')
        return;
    int fd = raw_open(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (raw_fstat(fd, &st) && S_ISFIFO(st.st_mode) && st.st_uid == raw_geteuid()) {
        char b = 'r';
        raw_write(fd, &b, 1); /* EAGAIN: the FIFO is full of requests already */
    }
    raw_close(fd);
}

/* Lazy mode: asks the launcher once and waits until it published a generation, flagged
 * a failure, died, or WAIT_SECONDS passed. */
static void ask_and_wait(const struct awsr_seg *m)
{
    uint32_t flags = __atomic_load_n(&m->hdr.flags, __ATOMIC_ACQUIRE);
    if (!(flags & AWSR_SEG_F_LAZY) || (flags & AWSR_SEG_F_FAILED))
        return;
    if (!(flags & AWSR_SEG_F_REQUESTED))
        send_request(m);
    int64_t deadline = monotonic_seconds() + WAIT_SECONDS;
    int64_t next_liveness = 0;
    for (;;) {
        uint32_t word = __atomic_load_n(&m->hdr.wake, __ATOMIC_ACQUIRE);
        if (current_generation(m) != 0)
            return;
        if (__atomic_load_n(&m->hdr.flags, __ATOMIC_ACQUIRE) & AWSR_SEG_F_FAILED)
            return;
        int64_t now = monotonic_seconds();
        if (now >= deadline)
            return;
        if (now >= next_liveness) {
            if (!launcher_alive())
                return;
            next_liveness = now + 1;
        }
        struct timespec ts = {1, 0};
        /* Shared (not private) futex: the launcher wakes it from another process. */
        raw_futex_wait(&m->hdr.wake, word, &ts);
    }
}

/* expiration - AWSR_SWITCH_MARGIN, saturated: the segment's bytes are not trusted to be
 * sane, and a signed overflow here would be undefined behaviour (found by fuzzing). */
static int64_t switch_time(int64_t expiration)
{
    int64_t t;
    return __builtin_sub_overflow(expiration, AWSR_SWITCH_MARGIN, &t) ? INT64_MIN : t;
}

static const struct awsr_seg_slot *snapshot(int64_t now, bool may_ask, const char *seg_name)
{
    const struct awsr_seg_slot *snap = __atomic_load_n(&g_snap, __ATOMIC_ACQUIRE);
    if (snap && (snap->expiration == 0 || now < switch_time(snap->expiration)))
        return snap;
    const struct awsr_seg *m = seg_name ? attach_named(seg_name) : awsr_seg_attach();
    if (!m)
        return snap;
    uint64_t gen = current_generation(m);
    if (gen == 0 && !snap && may_ask) {
        ask_and_wait(m);
        gen = current_generation(m);
    }
    if (gen == 0 || (snap && gen <= snap->generation))
        return snap;
    struct awsr_seg_slot *fresh = build_snapshot(m);
    /* Done with the segment until the next generation is due: drop its pages from this
     * process's page tables (they stay in the shared file; a later read faults them back),
     * so a process does not keep the pages it read resident for nothing. */
    raw_madvise(m, sizeof(struct awsr_seg), MADV_DONTNEED);
    if (!fresh)
        return snap;
    if (snap && fresh->generation <= snap->generation) {
        raw_munmap(awsr_seg_snapshot_block(fresh), AWSR_SNAP_SIZE);
        return snap;
    }
    const struct awsr_seg_slot *expected = snap;
    if (__atomic_compare_exchange_n(&g_snap, &expected, fresh, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return fresh;
    raw_munmap(awsr_seg_snapshot_block(fresh), AWSR_SNAP_SIZE); /* another thread was first */
    return expected;
}

const struct awsr_seg_slot *awsr_seg_snapshot(int64_t now, bool may_ask)
{
    return snapshot(now, may_ask, NULL);
}

const struct awsr_seg_slot *awsr_seg_snapshot_at_start(const char *seg_name)
{
    /* The time matters only once a snapshot exists (an earlier constructor asked). */
    bool have = __atomic_load_n(&g_snap, __ATOMIC_ACQUIRE) != NULL;
    return snapshot(have ? awsr_clock_now() : 0, false, seg_name);
}

bool awsr_seg_issued(int field, const char *value)
{
    if (__atomic_load_n(&g_seg_state, __ATOMIC_ACQUIRE) != SEG_ATTACHED)
        return false;
    const struct awsr_seg *m = __atomic_load_n(&g_seg, __ATOMIC_ACQUIRE);
    uint32_t h = awsr_seg_value_hash(value);
    for (int i = 0; i < AWSR_SEG_HISTORY; i++)
        if (__atomic_load_n(&m->hdr.issued[field][i], __ATOMIC_ACQUIRE) == h)
            return true;
    return false;
}

#ifdef AWSR_SHIM_TESTING
void awsr_seg_reset_for_tests(void)
{
    __atomic_store_n(&g_seg, NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&g_snap, NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&g_seg_state, SEG_UNTRIED, __ATOMIC_RELEASE);
}
#endif
