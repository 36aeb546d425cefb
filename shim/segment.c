/* segment.c - the launcher's side of the shared segment (the only writer) and of the
 * private directory holding the synthesized credentials file and the lazy request FIFO.
 *
 * Names carry the launcher's pid ("awsrole-<pid>-<32 hex>"), and the launcher holds an
 * flock on the segment and on its directory for its whole life: the next run removes
 * leftovers whose pid is gone *and* whose lock is free (the lock also covers pid reuse
 * and launchers in another pid namespace sharing /dev/shm).
 *
 * Each publish also records hashes of the values it issues in the header's history, so
 * that readers can tell a stale copy of the tree's credentials (replaced) from values a
 * program set itself (kept). */
#include "segment.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/magic.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "credfile.h"
#include "segment_layout.h"

#define SHM_DIR "/dev/shm"
#define CRED_NAME "credentials"
#define FIFO_NAME "request"

struct awsr_segment {
    struct awsr_seg *map;
    int shm_fd;  /* kept open (O_CLOEXEC) only to hold the liveness lock */
    int dir_fd;  /* the private directory, same reason; also the base of *at() calls */
    int fifo_fd; /* lazy: request FIFO, O_RDWR|O_NONBLOCK, -1 otherwise */
    pid_t owner; /* the creating process: only it unlinks (not a forked child) */
    bool lazy;
    bool request_taken;
    uint64_t generation;
    uint32_t used[2]; /* bytes of each slot written so far; the rest is still zero */
    /* The slot image a publish builds, allocated once (malloc: untouched until written).
     * Only the bytes a generation writes are ever touched: for a 1-2 KiB token, the first
     * page of the 18 KiB (every page is a fault, ~10 us on the bench VM). Zero between
     * publishes. */
    struct awsr_seg_slot *image;
    char name[AWSR_SEG_NAME_MAX];
    char dir[AWSR_SEG_PATH_MAX - 64]; /* leaves room for "/credentials.tmp-..." */
    char cred_path[AWSR_SEG_PATH_MAX];
    char fifo_path[AWSR_SEG_PATH_MAX];
};

static int random_hex(char *out, size_t nbytes)
{
    unsigned char raw[32];
    if (nbytes > sizeof raw)
        return -1;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(raw + got, nbytes - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    explicit_bzero(raw, sizeof raw);
    return 0;
}

/* "awsrole-<pid>-<hex>" -> pid, or -1 when the name is not ours. */
static long leftover_pid(const char *name)
{
    size_t plen = strlen(AWSR_SEG_PREFIX);
    if (strncmp(name, AWSR_SEG_PREFIX, plen) != 0)
        return -1;
    const char *p = name + plen;
    char *end;
    errno = 0;
    long pid = strtol(p, &end, 10);
    if (errno || end == p || *end != '-' || pid <= 0 || pid > INT_MAX)
        return -1;
    size_t hex = 0;
    for (p = end + 1; *p; p++, hex++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return -1;
    return hex == 32 ? pid : -1;
}

static bool pid_gone(long pid)
{
    return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* A leftover is dead when its pid is gone and nobody holds its lock. */
static bool lock_free(int fd)
{
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return true;
    return false;
}

/* Removes the files (not subdirectories) of a dead launcher's directory, then it. */
static void remove_private_dir(int parent_fd, const char *name, int fd)
{
    int dup_fd = dup(fd);
    if (dup_fd < 0)
        return;
    DIR *d = fdopendir(dup_fd);
    if (!d) {
        close(dup_fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlinkat(fd, e->d_name, 0);
    closedir(d);
    unlinkat(parent_fd, name, AT_REMOVEDIR);
}

/* Removes a dead launcher's segments (regular files) and private directories in `base`.
 * Entries changed in the last SWEEP_MIN_AGE seconds are left alone: a launcher in another
 * pid namespace (its pid looks gone from here) may be between creating one and locking it. */
#define SWEEP_MIN_AGE 10

static void sweep(const char *base, uid_t uid)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    time_t young = time(NULL) - SWEEP_MIN_AGE;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = leftover_pid(e->d_name);
        if (pid < 0 || !pid_gone(pid))
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_uid == uid && st.st_mtime <= young &&
            lock_free(fd)) {
            if (S_ISREG(st.st_mode))
                unlinkat(dirfd(d), e->d_name, 0);
            else if (S_ISDIR(st.st_mode))
                remove_private_dir(dirfd(d), e->d_name, fd);
        }
        close(fd);
    }
    closedir(d);
}

static bool in_memory(const char *path)
{
    struct statfs f;
    return statfs(path, &f) == 0 && (f.f_type == TMPFS_MAGIC || f.f_type == RAMFS_MAGIC);
}

/* $XDG_RUNTIME_DIR when it is a directory of ours that nobody else can enter. */
static const char *private_runtime_dir(void)
{
    const char *x = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    if (x && x[0] == '/' && strlen(x) < 256 && lstat(x, &st) == 0 && S_ISDIR(st.st_mode) &&
        st.st_uid == geteuid() && (st.st_mode & 077) == 0)
        return x;
    return NULL;
}

/* A shared directory (/dev/shm, /tmp) where nobody else can rename or remove our
 * private directory: owned by root or us, and sticky when others may write to it. (In a
 * non-sticky one, another user could rename ours away and plant a look-alike whose
 * config copy runs their credential_process.) */
static bool shared_dir_safe(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
           (st.st_uid == 0 || st.st_uid == geteuid()) &&
           (!(st.st_mode & (S_IWGRP | S_IWOTH)) || (st.st_mode & S_ISVTX));
}

/* Where the private directory goes: somewhere in memory, so that the credentials file
 * never reaches a disk (and removing it is cheap): $XDG_RUNTIME_DIR when it is a tmpfs
 * (/run/user/UID), else /dev/shm; on a machine with neither, $XDG_RUNTIME_DIR or /tmp.
 * NULL when none of them is safe. */
static const char *runtime_base(void)
{
    const char *x = private_runtime_dir();
    if (x && in_memory(x))
        return x;
    if (in_memory(SHM_DIR) && shared_dir_safe(SHM_DIR))
        return SHM_DIR;
    if (x)
        return x;
    return shared_dir_safe("/tmp") ? "/tmp" : NULL;
}

static int make_private_dir(struct awsr_segment *s, const char *base, struct awsr_error *err)
{
    for (int tries = 0; tries < 8; tries++) {
        char hex[33];
        if (random_hex(hex, 16) < 0)
            return awsr_error_set(err, AWSR_E_OTHER, "cannot read random bytes: %s",
                                  strerror(errno));
        int n = snprintf(s->dir, sizeof s->dir, "%s/%s%ld-%s", base, AWSR_SEG_PREFIX,
                         (long)getpid(), hex);
        if (n < 0 || (size_t)n >= sizeof s->dir)
            return awsr_error_set(err, AWSR_E_OTHER, "runtime directory path too long");
        if (mkdir(s->dir, 0700) < 0) {
            if (errno == EEXIST)
                continue;
            return awsr_error_set(err, AWSR_E_OTHER, "cannot create %s: %s", s->dir,
                                  strerror(errno));
        }
        s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (s->dir_fd < 0 || fstat(s->dir_fd, &st) < 0 || st.st_uid != geteuid() ||
            fchmod(s->dir_fd, 0700) < 0 || flock(s->dir_fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;
            rmdir(s->dir);
            return awsr_error_set(err, AWSR_E_OTHER, "cannot secure %s: %s", s->dir,
                                  strerror(e));
        }
        snprintf(s->cred_path, sizeof s->cred_path, "%s/%s", s->dir, CRED_NAME);
        snprintf(s->fifo_path, sizeof s->fifo_path, "%s/%s", s->dir, FIFO_NAME);
        return 0;
    }
    return awsr_error_set(err, AWSR_E_OTHER, "cannot create a private directory in %s", base);
}

static int make_shm(struct awsr_segment *s, struct awsr_error *err)
{
    for (int tries = 0; tries < 8; tries++) {
        char hex[33];
        if (random_hex(hex, 16) < 0)
            return awsr_error_set(err, AWSR_E_OTHER, "cannot read random bytes: %s",
                                  strerror(errno));
        snprintf(s->name, sizeof s->name, "%s%ld-%s", AWSR_SEG_PREFIX, (long)getpid(), hex);
        char shm_name[AWSR_SEG_NAME_MAX + 2];
        snprintf(shm_name, sizeof shm_name, "/%s", s->name);
        s->shm_fd = shm_open(shm_name, O_CREAT | O_EXCL | O_RDWR, 0600);
        if (s->shm_fd < 0) {
            if (errno == EEXIST)
                continue;
            return awsr_error_set(err, AWSR_E_OTHER, "cannot create shared memory: %s",
                                  strerror(errno));
        }
        struct stat st;
        size_t size = sizeof(struct awsr_seg);
        if (fchmod(s->shm_fd, 0600) < 0 || fstat(s->shm_fd, &st) < 0 ||
            st.st_uid != geteuid() || flock(s->shm_fd, LOCK_EX | LOCK_NB) < 0 ||
            ftruncate(s->shm_fd, (off_t)size) < 0)
            goto fail;
        /* The pages now, not at the first store: a full /dev/shm is an error here instead
         * of a SIGBUS in the middle of a renewal. */
        int fa = posix_fallocate(s->shm_fd, 0, (off_t)size);
        if (fa && fa != EOPNOTSUPP && fa != EINVAL) {
            errno = fa;
            goto fail;
        }
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->shm_fd, 0);
        if (p == MAP_FAILED)
            goto fail;
        madvise(p, size, MADV_DONTDUMP);
        s->map = p;
        return 0;
    fail:;
        int e = errno;
        shm_unlink(shm_name);
        close(s->shm_fd);
        s->shm_fd = -1;
        return awsr_error_set(err, AWSR_E_OTHER, "cannot set up shared memory: %s",
                              strerror(e));
    }
    return awsr_error_set(err, AWSR_E_OTHER, "cannot create shared memory: name clash");
}

static void copy_field(char *dst, size_t size, const char *src)
{
    memset(dst, 0, size);
    if (src) {
        size_t n = strnlen(src, size - 1);
        memcpy(dst, src, n);
    }
}

void awsr_segment_sweep(void)
{
    uid_t uid = geteuid();
    const char *x = private_runtime_dir();
    sweep(SHM_DIR, uid);
    if (x)
        sweep(x, uid);
    sweep("/tmp", uid);
}

int awsr_segment_create(struct awsr_segment **out, bool lazy, struct awsr_error *err)
{
    *out = NULL;
    const char *base = runtime_base();
    if (!base)
        return awsr_error_set(err, AWSR_E_OTHER, "no safe place for the private directory "
                              "(set XDG_RUNTIME_DIR to a 0700 directory of yours; /dev/shm "
                              "and /tmp must be sticky)");
    struct awsr_segment *s = calloc(1, sizeof *s);
    if (!s)
        return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    s->shm_fd = s->dir_fd = s->fifo_fd = -1;
    s->owner = getpid();
    s->lazy = lazy;
    if (make_private_dir(s, base, err) < 0) {
        awsr_segment_destroy(s);
        return -1;
    }
    if (lazy) {
        if (mkfifoat(s->dir_fd, FIFO_NAME, 0600) < 0 ||
            (s->fifo_fd = openat(s->dir_fd, FIFO_NAME,
                                 O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)) < 0) {
            awsr_error_set(err, AWSR_E_OTHER, "cannot create the request FIFO: %s",
                           strerror(errno));
            awsr_segment_destroy(s);
            return -1;
        }
    }
    if (make_shm(s, err) < 0) {
        awsr_segment_destroy(s);
        return -1;
    }
    struct awsr_seg *m = s->map;
    m->hdr.version = AWSR_SEG_VERSION;
    m->hdr.size = (uint32_t)sizeof *m;
    m->hdr.writer_pid = (int32_t)getpid();
    m->hdr.flags = lazy ? AWSR_SEG_F_LAZY : 0;
    /* The first generation goes to slot 0, on the header's page: a reader then touches
     * one page of the segment, not two. */
    m->hdr.current = 1;
    if (lazy)
        copy_field(m->hdr.request_path, sizeof m->hdr.request_path, s->fifo_path);
    __atomic_store_n(&m->hdr.magic, AWSR_SEG_MAGIC, __ATOMIC_RELEASE);
    *out = s;
    return 0;
}

const char *awsr_segment_name(const struct awsr_segment *seg)
{
    return seg->name;
}

const char *awsr_segment_credentials_path(const struct awsr_segment *seg)
{
    return seg->cred_path;
}

/* Writes the credentials file beside its final name, then renames it over: a reader
 * that opens the path sees the old file or the new one, never a half-written one. */
static int write_credentials(struct awsr_segment *s, const struct awsr_served *served,
                             size_t nserved, struct awsr_error *err)
{
    size_t len = 0;
    char *text = awsr_credfile_render(served, nserved, &len);
    if (!text)
        return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    char hex[17], tmp[64];
    int fd = -1;
    if (random_hex(hex, 8) == 0) {
        snprintf(tmp, sizeof tmp, "%s.tmp-%s", CRED_NAME, hex);
        fd = openat(s->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    int rc = -1;
    if (fd >= 0) {
        size_t off = 0;
        while (off < len) {
            ssize_t n = write(fd, text + off, len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        if (close(fd) == 0 && off == len && renameat(s->dir_fd, tmp, s->dir_fd, CRED_NAME) == 0)
            rc = 0;
        else
            unlinkat(s->dir_fd, tmp, 0);
    }
    int e = errno;
    explicit_bzero(text, len);
    free(text);
    if (rc < 0)
        return awsr_error_set(err, AWSR_E_OTHER, "cannot write %s: %s", s->cred_path,
                              strerror(e));
    return 0;
}

static void wake_all(struct awsr_seg *m)
{
    __atomic_add_fetch(&m->hdr.wake, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &m->hdr.wake, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* The new generation's values go into the issued history before readers can see the
 * generation: a process started later recognises its parent's stale copy as the tree's. */
static void record_issued(struct awsr_seg *m, const struct awsr_seg_slot *fresh)
{
    const char *values[AWSR_ISSUED_FIELDS] = {
        [AWSR_ISSUED_AKID] = fresh->access_key_id,
        [AWSR_ISSUED_SECRET] = fresh->secret_access_key,
        [AWSR_ISSUED_TOKEN] = fresh->session_token,
        [AWSR_ISSUED_EXPIRY] = fresh->expiration_text,
    };
    size_t at = (size_t)((fresh->generation - 1) % AWSR_SEG_HISTORY);
    for (int f = 0; f < AWSR_ISSUED_FIELDS; f++)
        __atomic_store_n(&m->hdr.issued[f][at], values[f][0] ? awsr_seg_value_hash(values[f]) : 0,
                         __ATOMIC_RELEASE);
}

bool awsr_segment_fits(const struct awsr_creds *c)
{
    return c->access_key_id && strlen(c->access_key_id) < AWSR_SEG_AKID_MAX &&
           c->secret_access_key && strlen(c->secret_access_key) < AWSR_SEG_SECRET_MAX &&
           (!c->session_token || strlen(c->session_token) < AWSR_SEG_TOKEN_MAX);
}

int awsr_segment_publish(struct awsr_segment *seg, const char *region,
                         const struct awsr_served *served, size_t nserved,
                         struct awsr_error *err)
{
    if (nserved == 0 || !served[0].creds || !served[0].creds->access_key_id ||
        !served[0].creds->secret_access_key)
        return awsr_error_set(err, AWSR_E_OTHER, "nothing to publish");
    const struct awsr_creds *c = served[0].creds;
    if (!awsr_segment_fits(c))
        return awsr_error_set(err, AWSR_E_OTHER,
                              "credentials too large for the shared segment");

    /* The file first: whoever sees the new generation finds the file already holding it. */
    if (write_credentials(seg, served, nserved, err) < 0)
        return -1;

    struct awsr_seg *m = seg->map;
    uint32_t cur = __atomic_load_n(&m->hdr.current, __ATOMIC_RELAXED) & 1;
    /* Everything up to the token's last word (the token comes last; the rest of the slot
     * is zero), or further when an earlier generation in the target slot was longer. */
    size_t tok = c->session_token ? strlen(c->session_token) : 0;
    size_t end = offsetof(struct awsr_seg_slot, session_token) + ((tok + 8) & ~(size_t)7);
    size_t n = end > seg->used[cur ^ 1] ? end : seg->used[cur ^ 1];
    if (!seg->image && !(seg->image = malloc(sizeof *seg->image)))
        return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    struct awsr_seg_slot *fresh = seg->image;
    memset(fresh, 0, n);
    fresh->generation = ++seg->generation;
    fresh->expiration = (int64_t)c->expiration;
    copy_field(fresh->access_key_id, sizeof fresh->access_key_id, c->access_key_id);
    copy_field(fresh->secret_access_key, sizeof fresh->secret_access_key, c->secret_access_key);
    copy_field(fresh->session_token, n - offsetof(struct awsr_seg_slot, session_token),
               c->session_token);
    if (c->expiration)
        awsr_time_format(c->expiration, fresh->expiration_text, sizeof fresh->expiration_text);
    copy_field(fresh->region, sizeof fresh->region, region);
    copy_field(fresh->profile, sizeof fresh->profile, served[0].profile);
    copy_field(fresh->credentials_path, sizeof fresh->credentials_path, seg->cred_path);

    fresh->seg_flags = seg->lazy ? AWSR_SEG_F_LAZY : 0;

    record_issued(m, fresh);
    struct awsr_seg_slot *slot = &m->slot[cur ^ 1];
    uint32_t seq = __atomic_load_n(&slot->seq, __ATOMIC_RELAXED);
    seq |= 1; /* odd: a reader that raced the flip retries */
    __atomic_store_n(&slot->seq, seq, __ATOMIC_RELAXED);
    /* Everything after seq, word by word, n bytes: untouched pages of the segment are
     * never faulted in. */
    awsr_seg_store_words((char *)slot + 8, (char *)fresh + 8, n - 8);
    seg->used[cur ^ 1] = (uint32_t)end;
    __atomic_store_n(&slot->seq, seq + 1, __ATOMIC_RELEASE);
    __atomic_store_n(&m->hdr.current, cur ^ 1, __ATOMIC_RELEASE);
    __atomic_store_n(&m->hdr.generation, fresh->generation, __ATOMIC_RELEASE);
    explicit_bzero(fresh, n);
    wake_all(m);
    return 0;
}

void awsr_segment_publish_failure(struct awsr_segment *seg)
{
    __atomic_or_fetch(&seg->map->hdr.flags, AWSR_SEG_F_FAILED, __ATOMIC_RELEASE);
    wake_all(seg->map);
}

int awsr_segment_request_fd(const struct awsr_segment *seg)
{
    return seg->fifo_fd;
}

bool awsr_segment_take_request(struct awsr_segment *seg)
{
    if (seg->fifo_fd < 0)
        return false;
    char buf[256];
    bool got = false;
    for (;;) {
        ssize_t n = read(seg->fifo_fd, buf, sizeof buf);
        if (n > 0) {
            got = true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    if (!got || seg->request_taken || seg->generation > 0)
        return false;
    if (__atomic_load_n(&seg->map->hdr.flags, __ATOMIC_ACQUIRE) & AWSR_SEG_F_FAILED)
        return false;
    seg->request_taken = true;
    __atomic_or_fetch(&seg->map->hdr.flags, AWSR_SEG_F_REQUESTED, __ATOMIC_RELEASE);
    return true;
}

/* Leaves both slots odd (readers never accept them again) and zeroed, and tells any
 * waiting asker to stop: processes that outlive the launcher keep their own copies. */
static void wipe_map(struct awsr_segment *seg)
{
    struct awsr_seg *m = seg->map;
    for (int i = 0; i < 2; i++) {
        struct awsr_seg_slot *slot = &m->slot[i];
        /* A slot never written was never current: readers never look at it, and touching
         * it would cost a page fault for nothing (slot 1 starts on a page of its own). */
        if (seg->used[i] == 0)
            continue;
        uint32_t seq = __atomic_load_n(&slot->seq, __ATOMIC_RELAXED) | 1;
        __atomic_store_n(&slot->seq, seq, __ATOMIC_RELAXED);
        static const struct awsr_seg_slot zero;
        if (seg->used[i] > 8) /* beyond it the slot was never written */
            awsr_seg_store_words((char *)slot + 8, (const char *)&zero + 8, seg->used[i] - 8);
    }
    __atomic_or_fetch(&m->hdr.flags, AWSR_SEG_F_FAILED, __ATOMIC_RELEASE);
    wake_all(m);
}

void awsr_segment_destroy(struct awsr_segment *seg)
{
    if (!seg)
        return;
    bool owner = seg->owner == getpid();
    if (seg->map) {
        if (owner)
            wipe_map(seg);
        munmap(seg->map, sizeof *seg->map);
    }
    if (owner && seg->name[0]) {
        char shm_name[AWSR_SEG_NAME_MAX + 2];
        snprintf(shm_name, sizeof shm_name, "/%s", seg->name);
        shm_unlink(shm_name);
    }
    if (seg->dir_fd >= 0) {
        if (owner) {
            unlinkat(seg->dir_fd, CRED_NAME, 0);
            unlinkat(seg->dir_fd, FIFO_NAME, 0);
            rmdir(seg->dir);
        }
        close(seg->dir_fd);
    }
    if (seg->fifo_fd >= 0)
        close(seg->fifo_fd);
    if (seg->shm_fd >= 0)
        close(seg->shm_fd);
    free(seg->image); /* zeroed after each publish */
    explicit_bzero(seg, sizeof *seg);
    free(seg);
}
