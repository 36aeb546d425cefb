/* files.c - redirects reads of the AWS credentials file to the tree's synthesized file.
 *
 * The launcher keeps a real file (0600, private 0700 directory, replaced atomically), so
 * redirecting the *path* (fakechroot style) makes open/fstat/statx/mmap/read agree with no
 * fake bytes. Redirected: read-only opens, stats, and F_OK/R_OK access checks. Opens for
 * writing and W_OK/X_OK checks reach the real file untouched.
 *
 * Fast path (every unrelated open/stat): one strrchr + strlen and a compare against the
 * basenames of the two targets; no syscall, no lock, errno untouched. Only a path whose
 * last component matches goes on to pathmatch.c (string compare, then at most two
 * directory stats made with raw syscalls, so never through these wrappers).
 *
 * Rules from the preload lessons: real functions resolved lazily with dlsym(RTLD_NEXT)
 * into atomic pointers (NULL -> ENOSYS, never ourselves), usable before any constructor,
 * no malloc or stdio, errno preserved, open's mode read only with O_CREAT/O_TMPFILE. */
#undef _FORTIFY_SOURCE      /* the wrappers define open & co.: no inline fortify versions */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pathmatch.h"
#include "shim.h"
#include "str.h"

#define SHARED_FILE_ENV "AWS_SHARED_CREDENTIALS_FILE"

/* ---- real functions ----------------------------------------------------------------- */

enum real_id {
    R_OPEN, R_OPEN64, R_OPENAT, R_OPENAT64,
    R_OPEN_2, R_OPEN64_2, R_OPENAT_2, R_OPENAT64_2,
    R_FOPEN, R_FOPEN64, R_FREOPEN, R_FREOPEN64,
    R_STAT, R_STAT64, R_LSTAT, R_LSTAT64, R_FSTATAT, R_FSTATAT64, R_STATX,
    R_XSTAT, R_XSTAT64, R_LXSTAT, R_LXSTAT64, R_FXSTATAT, R_FXSTATAT64,
    R_ACCESS, R_FACCESSAT, R_EUIDACCESS, R_EACCESS,
    R_COUNT
};

static const char *const real_names[R_COUNT] = {
    "open", "open64", "openat", "openat64",
    "__open_2", "__open64_2", "__openat_2", "__openat64_2",
    "fopen", "fopen64", "freopen", "freopen64",
    "stat", "stat64", "lstat", "lstat64", "fstatat", "fstatat64", "statx",
    "__xstat", "__xstat64", "__lxstat", "__lxstat64", "__fxstatat", "__fxstatat64",
    "access", "faccessat", "euidaccess", "eaccess",
};

static _Atomic(void *) real_fns[R_COUNT];
/* dlsym may allocate, and an allocator may open files: a wrapper re-entered on the same
 * thread while resolving gets ENOSYS instead of recursing. */
static __thread int resolving;

static void *resolve_slow(enum real_id id, void *self)
{
    if (resolving)
        return NULL;
    int saved = errno;
    resolving = 1;
    void *fn = dlsym(RTLD_NEXT, real_names[id]);
    resolving = 0;
    errno = saved;
    if (fn == NULL || fn == self)
        return NULL;          /* missing (older libc) or a loop back into this library */
    atomic_store_explicit(&real_fns[id], fn, memory_order_release);
    return fn;
}

static inline void *real(enum real_id id, void *self)
{
    void *fn = atomic_load_explicit(&real_fns[id], memory_order_acquire);
    return fn ? fn : resolve_slow(id, self);
}

/* Declares `fn` as the real function of the current wrapper, or fails it with ENOSYS. */
#define REAL(id, type, self, fail)                  \
    type fn = (type)real(id, (void *)(self));       \
    if (fn == NULL) {                               \
        errno = ENOSYS;                             \
        return fail;                                \
    }

/* ---- matching ----------------------------------------------------------------------- */

/* Targets as seen at the first wrapped call: built once, immutable afterwards, with the
 * directory identities cached. A later change of HOME or AWS_SHARED_CREDENTIALS_FILE is
 * still honoured on the slow path (rebuilt on the stack for that call). */
struct target_cache {
    _Atomic int state;                 /* 0 empty, 1 being built, 2 ready */
    bool home_set, shared_set;
    const char *home, *shared;         /* the values the set was built from, in vals */
    /* Where environ kept AWS_SHARED_CREDENTIALS_FILE when the set was built, so that the
     * fast path sees a change with a few loads instead of a scan (environ_unchanged). */
    char **env_array;
    const char *env_entry;             /* its "NAME=value" string, or NULL when absent */
    size_t env_slot;                   /* its index; when absent, the number of entries */
    const char *env_last;              /* when absent: the last entry (NULL if none) */
    const char *shared_base;           /* last component of the shared-file target */
    size_t shared_base_len;
    /* The small fields first and the strings packed behind them: with the usual short
     * paths the whole cache is one resident page, not five. */
    struct awsr_pm_set set;            /* its arena also keeps home and shared */
};
/* Zero-initialised, demand-paged: only its first page is touched with the usual short
 * paths. A section of its own, so the linker puts it after the small .bss variables
 * (real_fns), which then share a page with .data instead of one of their own. */
static struct target_cache cache __attribute__((section(".bss.zz_awsr_cache")));

enum { EMPTY, BUILDING, READY };

#if defined(__x86_64__)
/* Inline, so the shim binds no libc syscall() (one lookup less in every process). */
static int raw_newfstatat(int dirfd, const char *path, struct stat *st)
{
    long ret;
    register long r10 __asm__("r10") = 0;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"((long)SYS_newfstatat), "D"((long)dirfd), "S"(path), "d"(st), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret == 0 ? 0 : -1;
}
#else
static int raw_newfstatat(int dirfd, const char *path, struct stat *st)
{
    return (int)syscall(SYS_newfstatat, dirfd, path, st, 0);
}
#endif

static bool dir_identity(void *ctx, int dirfd, const char *path, struct awsr_pm_id *out)
{
    (void)ctx;
    struct stat st;
    /* Raw syscall: no wrapper, no symbol-version dependency (stat@GLIBC_2.33). */
    if (raw_newfstatat(dirfd, path, &st) != 0 || !S_ISDIR(st.st_mode))
        return false;
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    return true;
}

static bool same_value(bool set, const char *cached, const char *now)
{
    return now == NULL ? !set : set && cached != NULL && awsr_str_eq(cached, now);
}

/* Records where environ holds AWS_SHARED_CREDENTIALS_FILE (the first entry, as getenv
 * finds it). */
static void note_environ(struct target_cache *c)
{
    static const char name[] = SHARED_FILE_ENV "=";
    char **env = environ;
    c->env_array = env;
    c->env_entry = NULL;
    c->env_last = NULL;
    size_t n = 0;
    for (; env != NULL && env[n] != NULL; n++) {
        if (c->env_entry == NULL && awsr_mem_eq(env[n], name, sizeof name - 1)) {
            c->env_entry = env[n];
            c->env_slot = n;
        }
    }
    if (c->env_entry == NULL) {
        c->env_slot = n;
        c->env_last = n ? env[n - 1] : NULL;
    }
}

/* Conservative: true only when AWS_SHARED_CREDENTIALS_FILE cannot have changed since
 * note_environ. setenv and putenv put a new string in the variable's slot; adding the
 * variable fills the slot after the last entry (realloc may keep the array); unsetenv
 * shifts the entries behind the one removed; clearenv or a new array changes environ. A
 * value edited in place behind the same pointer goes unseen, as it does for getenv's
 * callers. */
static inline bool environ_unchanged(const struct target_cache *c)
{
    char **env = environ;
    if (env != c->env_array)
        return false;
    if (env == NULL)
        return true;
    if (c->env_entry != NULL)
        return env[c->env_slot] == c->env_entry;
    return env[c->env_slot] == NULL && (c->env_slot == 0 || env[c->env_slot - 1] == c->env_last);
}

/* The ready cache, building it if nobody has; NULL while another thread builds it. */
static const struct target_cache *ready_cache(void)
{
    int state = atomic_load_explicit(&cache.state, memory_order_acquire);
    if (state == READY)
        return &cache;
    int expected = EMPTY;
    if (state != EMPTY ||
        !atomic_compare_exchange_strong_explicit(&cache.state, &expected, BUILDING,
                                                 memory_order_acquire, memory_order_relaxed))
        return NULL;
    int saved = errno;
    const char *home = awsr_shim_raw_getenv("HOME");
    const char *shared = awsr_shim_raw_getenv(SHARED_FILE_ENV);
    awsr_pm_build(&cache.set, home, shared);
    /* The values kept must be the ones the set was built from: the same strings (setenv
     * replaces environ's pointers, never the strings). A value too long to keep counts as
     * changed at every call (slow path, still right). */
    cache.home = awsr_pm_keep(&cache.set, home);
    cache.shared = awsr_pm_keep(&cache.set, shared);
    cache.home_set = home != NULL;
    cache.shared_set = shared != NULL;
    note_environ(&cache);
    awsr_pm_cache_ids(&cache.set, dir_identity, NULL);
    cache.shared_base = "";
    cache.shared_base_len = 0;
    for (size_t k = 0; k < cache.set.n; k++) {
        const struct awsr_pm_target *t = &cache.set.t[k];
        size_t blen = t->len - t->base;
        if (blen != sizeof AWSR_PM_DEFAULT_BASENAME - 1 ||
            !awsr_mem_eq(t->path + t->base, AWSR_PM_DEFAULT_BASENAME, blen)) {
            cache.shared_base = t->path + t->base;
            cache.shared_base_len = blen;
        }
    }
    errno = saved;
    atomic_store_explicit(&cache.state, READY, memory_order_release);
    return &cache;
}

/* path (of length len) ends in the component name (n bytes, no '/', n > 0): compared from
 * the end, so the fast path below scans the path once, for its length. */
static inline bool last_component_is(const char *path, size_t len, const char *name, size_t n)
{
    return n != 0 && len >= n && (len == n || path[len - n - 1] == '/') &&
           awsr_mem_eq(path + len - n, name, n);
}

/* The cheap test every wrapped call makes: could `path` be a credentials file at all? */
static inline bool may_be_credentials(const char *path)
{
    /* libc declares these parameters nonnull; keep the compiler from deleting the check,
     * so a NULL path still reaches libc and fails with EFAULT there. */
    __asm__("" : "+r"(path));
    if (path == NULL)
        return false;
    size_t len = awsr_strlen(path);
    if (last_component_is(path, len, AWSR_PM_DEFAULT_BASENAME,
                          sizeof AWSR_PM_DEFAULT_BASENAME - 1))
        return true;
    const struct target_cache *c = ready_cache();
    if (c == NULL)
        return len > 0 && path[len - 1] != '/'; /* cache under construction: slow path */
    if (last_component_is(path, len, c->shared_base, c->shared_base_len))
        return true;
    /* The program may have pointed AWS_SHARED_CREDENTIALS_FILE elsewhere since the cache
     * was built: then any name may be the file, and the slow path decides with the current
     * value. A few loads tell that environ is as it was; after some other change, one scan
     * tells that this variable still is. */
    if (environ_unchanged(c) ||
        same_value(c->shared_set, c->shared, awsr_shim_raw_getenv(SHARED_FILE_ENV)))
        return false;
    return len > 0 && path[len - 1] != '/';
}

/* The environment changed since the cache was built: a set of its own, built on the
 * stack in a frame of its own (so the usual path does not carry 8 KiB of frame). */
__attribute__((noinline)) static bool match_fresh(int dirfd, const char *path, const char *home,
                                                  const char *shared)
{
    struct awsr_pm_set fresh;
    awsr_pm_build(&fresh, home, shared);
    return awsr_pm_match(&fresh, dirfd, path, dir_identity, NULL);
}

/* The slow path: the synthesized file's path when (dirfd, path) names the credentials
 * file and this process is served, else NULL. errno is left as it was. */
static const char *synthesized_for(int dirfd, const char *path)
{
    int saved = errno;
    const char *result = NULL;

    if (awsr_shim_disabled())
        goto out;
    const char *home = awsr_shim_raw_getenv("HOME");
    const char *shared = awsr_shim_raw_getenv(SHARED_FILE_ENV);
    const struct target_cache *c = ready_cache();
    bool matched;
    if (c != NULL && same_value(c->home_set, c->home, home) &&
        same_value(c->shared_set, c->shared, shared)) {
        matched = awsr_pm_match(&c->set, dirfd, path, dir_identity, NULL);
    } else {
        matched = match_fresh(dirfd, path, home, shared);
    }
    if (matched)
        result = awsr_shim_credentials_file();
out:
    errno = saved;
    return result;
}

/* Path to hand to the real call for a redirectable operation. The synthesized path is
 * absolute, so the caller's dirfd is ignored by the kernel when it is used. */
__attribute__((noinline)) static const char *redirect(int dirfd, const char *path)
{
    if (!may_be_credentials(path))
        return path;
    const char *synth = synthesized_for(dirfd, path);
    return synth ? synth : path;
}

static inline bool open_reads_only(int flags)
{
    return (flags & O_ACCMODE) == O_RDONLY && (flags & (O_CREAT | O_TRUNC)) == 0 &&
           (flags & O_TMPFILE) != O_TMPFILE;
}

static inline bool open_needs_mode(int flags)
{
    return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
}

/* fopen modes: "r", "rb", "re", "rm", "r,ccs=..."; "r+" and any w/a mode write. */
static inline bool fopen_reads_only(const char *mode)
{
    __asm__("" : "+r"(mode));
    if (mode == NULL || mode[0] != 'r')
        return false;
    for (const char *m = mode + 1; *m != '\0' && *m != ','; m++) {
        if (*m == '+')
            return false;
    }
    return true;
}

static inline bool access_reads_only(int mode)
{
    return (mode & (W_OK | X_OK)) == 0;
}

#define OPEN_PATH(flags, dirfd, path) \
    (open_reads_only(flags) ? redirect((dirfd), (path)) : (path))

/* ---- open family -------------------------------------------------------------------- */

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);

#define MODE_ARG(flags, mode)                       \
    mode_t mode = 0;                                \
    if (open_needs_mode(flags)) {                   \
        va_list ap;                                 \
        va_start(ap, flags);                        \
        mode = va_arg(ap, mode_t);                  \
        va_end(ap);                                 \
    }

AWSR_EXPORT int open(const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    REAL(R_OPEN, open_fn, open, -1);
    return fn(OPEN_PATH(flags, AT_FDCWD, path), flags, mode);
}

AWSR_EXPORT int open64(const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    REAL(R_OPEN64, open_fn, open64, -1);
    return fn(OPEN_PATH(flags, AT_FDCWD, path), flags, mode);
}

AWSR_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    REAL(R_OPENAT, openat_fn, openat, -1);
    return fn(dirfd, OPEN_PATH(flags, dirfd, path), flags, mode);
}

AWSR_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    REAL(R_OPENAT64, openat_fn, openat64, -1);
    return fn(dirfd, OPEN_PATH(flags, dirfd, path), flags, mode);
}

/* _FORTIFY_SOURCE entry points (open without a mode and non-constant flags). */
AWSR_EXPORT int __open_2(const char *path, int flags);
AWSR_EXPORT int __open64_2(const char *path, int flags);
AWSR_EXPORT int __openat_2(int dirfd, const char *path, int flags);
AWSR_EXPORT int __openat64_2(int dirfd, const char *path, int flags);

AWSR_EXPORT int __open_2(const char *path, int flags)
{
    REAL(R_OPEN_2, open2_fn, __open_2, -1);
    return fn(OPEN_PATH(flags, AT_FDCWD, path), flags);
}

AWSR_EXPORT int __open64_2(const char *path, int flags)
{
    REAL(R_OPEN64_2, open2_fn, __open64_2, -1);
    return fn(OPEN_PATH(flags, AT_FDCWD, path), flags);
}

AWSR_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    REAL(R_OPENAT_2, openat2_fn, __openat_2, -1);
    return fn(dirfd, OPEN_PATH(flags, dirfd, path), flags);
}

AWSR_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    REAL(R_OPENAT64_2, openat2_fn, __openat64_2, -1);
    return fn(dirfd, OPEN_PATH(flags, dirfd, path), flags);
}

/* ---- stdio opens (glibc's fopen reaches the kernel without the exported open) --------- */

typedef FILE *(*fopen_fn)(const char *, const char *);
typedef FILE *(*freopen_fn)(const char *, const char *, FILE *);

static inline const char *fopen_path(const char *path, const char *mode)
{
    return fopen_reads_only(mode) ? redirect(AT_FDCWD, path) : path;
}

AWSR_EXPORT FILE *fopen(const char *path, const char *mode)
{
    REAL(R_FOPEN, fopen_fn, fopen, NULL);
    return fn(fopen_path(path, mode), mode);
}

AWSR_EXPORT FILE *fopen64(const char *path, const char *mode)
{
    REAL(R_FOPEN64, fopen_fn, fopen64, NULL);
    return fn(fopen_path(path, mode), mode);
}

/* A NULL path (reopen the same file with another mode) passes through. */
AWSR_EXPORT FILE *freopen(const char *path, const char *mode, FILE *stream)
{
    REAL(R_FREOPEN, freopen_fn, freopen, NULL);
    return fn(fopen_path(path, mode), mode, stream);
}

AWSR_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *stream)
{
    REAL(R_FREOPEN64, freopen_fn, freopen64, NULL);
    return fn(fopen_path(path, mode), mode, stream);
}

/* ---- stat family: always redirected (the synthesized file is a regular file) --------- */

typedef int (*stat_fn)(const char *, struct stat *);
typedef int (*stat64_fn)(const char *, struct stat64 *);
typedef int (*fstatat_fn)(int, const char *, struct stat *, int);
typedef int (*fstatat64_fn)(int, const char *, struct stat64 *, int);
typedef int (*statx_fn)(int, const char *, int, unsigned int, struct statx *);
typedef int (*xstat_fn)(int, const char *, struct stat *);
typedef int (*xstat64_fn)(int, const char *, struct stat64 *);
typedef int (*fxstatat_fn)(int, int, const char *, struct stat *, int);
typedef int (*fxstatat64_fn)(int, int, const char *, struct stat64 *, int);

AWSR_EXPORT int stat(const char *restrict path, struct stat *restrict buf)
{
    REAL(R_STAT, stat_fn, stat, -1);
    return fn(redirect(AT_FDCWD, path), buf);
}

AWSR_EXPORT int stat64(const char *restrict path, struct stat64 *restrict buf)
{
    REAL(R_STAT64, stat64_fn, stat64, -1);
    return fn(redirect(AT_FDCWD, path), buf);
}

AWSR_EXPORT int lstat(const char *restrict path, struct stat *restrict buf)
{
    REAL(R_LSTAT, stat_fn, lstat, -1);
    return fn(redirect(AT_FDCWD, path), buf);
}

AWSR_EXPORT int lstat64(const char *restrict path, struct stat64 *restrict buf)
{
    REAL(R_LSTAT64, stat64_fn, lstat64, -1);
    return fn(redirect(AT_FDCWD, path), buf);
}

AWSR_EXPORT int fstatat(int dirfd, const char *restrict path, struct stat *restrict buf,
                        int flags)
{
    REAL(R_FSTATAT, fstatat_fn, fstatat, -1);
    return fn(dirfd, redirect(dirfd, path), buf, flags);
}

AWSR_EXPORT int fstatat64(int dirfd, const char *restrict path, struct stat64 *restrict buf,
                          int flags)
{
    REAL(R_FSTATAT64, fstatat64_fn, fstatat64, -1);
    return fn(dirfd, redirect(dirfd, path), buf, flags);
}

/* An empty path with AT_EMPTY_PATH (statx of an fd) never matches: its last component is
 * empty. */
AWSR_EXPORT int statx(int dirfd, const char *restrict path, int flags, unsigned int mask,
                      struct statx *restrict buf)
{
    REAL(R_STATX, statx_fn, statx, -1);
    return fn(dirfd, redirect(dirfd, path), flags, mask, buf);
}

/* Pre-2.33 binaries call these (glibc still exports them). */
AWSR_EXPORT int __xstat(int ver, const char *path, struct stat *buf);
AWSR_EXPORT int __xstat64(int ver, const char *path, struct stat64 *buf);
AWSR_EXPORT int __lxstat(int ver, const char *path, struct stat *buf);
AWSR_EXPORT int __lxstat64(int ver, const char *path, struct stat64 *buf);
AWSR_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *buf, int flags);
AWSR_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *buf,
                             int flags);

AWSR_EXPORT int __xstat(int ver, const char *path, struct stat *buf)
{
    REAL(R_XSTAT, xstat_fn, __xstat, -1);
    return fn(ver, redirect(AT_FDCWD, path), buf);
}

AWSR_EXPORT int __xstat64(int ver, const char *path, struct stat64 *buf)
{
    REAL(R_XSTAT64, xstat64_fn, __xstat64, -1);
    return fn(ver, redirect(AT_FDCWD, path), buf);
}

AWSR_EXPORT int __lxstat(int ver, const char *path, struct stat *buf)
{
    REAL(R_LXSTAT, xstat_fn, __lxstat, -1);
    return fn(ver, redirect(AT_FDCWD, path), buf);
}

AWSR_EXPORT int __lxstat64(int ver, const char *path, struct stat64 *buf)
{
    REAL(R_LXSTAT64, xstat64_fn, __lxstat64, -1);
    return fn(ver, redirect(AT_FDCWD, path), buf);
}

AWSR_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *buf, int flags)
{
    REAL(R_FXSTATAT, fxstatat_fn, __fxstatat, -1);
    return fn(ver, dirfd, redirect(dirfd, path), buf, flags);
}

AWSR_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *buf,
                             int flags)
{
    REAL(R_FXSTATAT64, fxstatat64_fn, __fxstatat64, -1);
    return fn(ver, dirfd, redirect(dirfd, path), buf, flags);
}

/* ---- access family: existence and readability are the synthesized file's; W_OK/X_OK
 * questions are about the real file, which is where writes go. ------------------------ */

typedef int (*access_fn)(const char *, int);
typedef int (*faccessat_fn)(int, const char *, int, int);

static inline const char *access_path(int dirfd, const char *path, int mode)
{
    return access_reads_only(mode) ? redirect(dirfd, path) : path;
}

AWSR_EXPORT int access(const char *path, int mode)
{
    REAL(R_ACCESS, access_fn, access, -1);
    return fn(access_path(AT_FDCWD, path, mode), mode);
}

AWSR_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
    REAL(R_FACCESSAT, faccessat_fn, faccessat, -1);
    return fn(dirfd, access_path(dirfd, path, mode), mode, flags);
}

AWSR_EXPORT int euidaccess(const char *path, int mode)
{
    REAL(R_EUIDACCESS, access_fn, euidaccess, -1);
    return fn(access_path(AT_FDCWD, path, mode), mode);
}

AWSR_EXPORT int eaccess(const char *path, int mode)
{
    REAL(R_EACCESS, access_fn, eaccess, -1);
    return fn(access_path(AT_FDCWD, path, mode), mode);
}
