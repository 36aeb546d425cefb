/* files.c - serves the tree's synthesized credentials file in place of the user's AWS
 * credentials file, and keeps the user's file out of reach of the tree.
 *
 * The launcher keeps a real file (0600, private 0700 directory, replaced atomically), so
 * redirecting the *path* (fakechroot style) makes open/fstat/statx/mmap/read agree with no
 * fake bytes. The credentials file is ~/.aws/credentials and $AWS_SHARED_CREDENTIALS_FILE
 * (with $VAR, ${VAR} and ~ expanded as the launcher and botocore do), and what either is a
 * symlink to (resolved once, when the path cache is built). For a process in a tree:
 *  - read-only opens, stats and F_OK/R_OK/X_OK access checks get the synthesized file;
 *    once it is gone (the launcher ended, the process outlived it) they fail with ENOENT,
 *    never falling through to the real file and its long-term keys;
 *  - every change through the path fails with EROFS and changes nothing: opens for
 *    writing (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, "w"/"a"/"r+"), creat, rename*
 *    to or from it, link* to or from it, symlink* creating it, unlink*, remove, truncate,
 *    W_OK access checks. A program would otherwise write the temporary credentials it read
 *    back over the user's long-term keys (`aws configure set`, `sed -i`, editors). The
 *    first refusal says why on stderr, once per process (stdout is never written). A path
 *    under /dev (but /dev/shm) or /proc is never a target (AWS_SHARED_CREDENTIALS_FILE=
 *    /dev/null, pathmatch.c), and a change to another path that exists and is not a
 *    regular file is not refused.
 * "In a tree" means AWSROLE_SEGMENT is set or the process was served the file once; a
 * process without either (or setuid: the shim does nothing there) passes through.
 *
 * Fast path (every unrelated call): one strlen and a compare of the last component
 * against the targets' last components; no syscall, no lock, errno untouched. Only a path
 * whose last component matches goes on to pathmatch.c (string compare, then at most two
 * directory stats made with raw syscalls, so never through these wrappers).
 *
 * Rules from the preload lessons: real functions resolved lazily with dlsym(RTLD_NEXT)
 * into atomic pointers (NULL -> ENOSYS, never ourselves), usable before any constructor,
 * no malloc or stdio, errno preserved (set only when a call is refused), open's mode read
 * only with O_CREAT/O_TMPFILE. */
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
#include "segment_layout.h"
#include "shim.h"
#include "str.h"
#include "sys.h"

#define SHARED_FILE_ENV "AWS_SHARED_CREDENTIALS_FILE"
/* The user's credentials file as the launcher resolved it (absolute): the tree points
 * AWS_SHARED_CREDENTIALS_FILE at its own file, and a process may change HOME. */
#define USER_FILE_ENV "AWSROLE_USER_CREDENTIALS_FILE"

/* ---- real functions ----------------------------------------------------------------- */

enum real_id {
    R_OPEN, R_OPEN64, R_OPENAT, R_OPENAT64,
    R_OPEN_2, R_OPEN64_2, R_OPENAT_2, R_OPENAT64_2,
    R_FOPEN, R_FOPEN64, R_FREOPEN, R_FREOPEN64,
    R_STAT, R_STAT64, R_LSTAT, R_LSTAT64, R_FSTATAT, R_FSTATAT64, R_STATX,
    R_XSTAT, R_XSTAT64, R_LXSTAT, R_LXSTAT64, R_FXSTATAT, R_FXSTATAT64,
    R_ACCESS, R_FACCESSAT, R_EUIDACCESS, R_EACCESS,
    R_CREAT, R_CREAT64, R_RENAME, R_RENAMEAT, R_RENAMEAT2, R_LINK, R_LINKAT,
    R_SYMLINK, R_SYMLINKAT, R_UNLINK, R_UNLINKAT, R_REMOVE, R_TRUNCATE, R_TRUNCATE64,
    R_COUNT
};

static const char *const real_names[R_COUNT] = {
    "open", "open64", "openat", "openat64",
    "__open_2", "__open64_2", "__openat_2", "__openat64_2",
    "fopen", "fopen64", "freopen", "freopen64",
    "stat", "stat64", "lstat", "lstat64", "fstatat", "fstatat64", "statx",
    "__xstat", "__xstat64", "__lxstat", "__lxstat64", "__fxstatat", "__fxstatat64",
    "access", "faccessat", "euidaccess", "eaccess",
    "creat", "creat64", "rename", "renameat", "renameat2", "link", "linkat",
    "symlink", "symlinkat", "unlink", "unlinkat", "remove", "truncate", "truncate64",
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
    size_t nbases;                     /* the targets' last components but "credentials" */
    struct {
        const char *s;
        size_t n;
    } bases[AWSR_PM_MAX_TARGETS];
    /* The small fields first and the strings packed behind them: with the usual short
     * paths the whole cache is one resident page, not five. */
    struct awsr_pm_set set;            /* its arena also keeps home and shared */
};
/* Zero-initialised, demand-paged: only its first page is touched with the usual short
 * paths. A section of its own, so the linker puts it after the small .bss variables
 * (real_fns), which then share a page with .data instead of one of their own. */
static struct target_cache cache __attribute__((section(".bss.zz_awsr_cache")));

enum { EMPTY, BUILDING, READY };

/* Raw syscall: no wrapper, no symbol-version dependency (stat@GLIBC_2.33). */
static bool raw_stat(int dirfd, const char *path, struct stat *st)
{
    return sys6(SYS_newfstatat, dirfd, (long)path, (long)st, 0, 0, 0) == 0;
}

static bool dir_identity(void *ctx, int dirfd, const char *path, struct awsr_pm_id *out)
{
    (void)ctx;
    struct stat st;
    if (!raw_stat(dirfd, path, &st) || !S_ISDIR(st.st_mode))
        return false;
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    return true;
}

/* awsr_pm_getenv_fn over environ: the variables AWS_SHARED_CREDENTIALS_FILE refers to.
 * A name too long for the buffer counts as unset (kept as written). */
static const char *lookup_var(void *ctx, const char *name, size_t len)
{
    (void)ctx;
    char buf[256];
    if (len >= sizeof buf)
        return NULL;
    memcpy(buf, name, len);
    buf[len] = '\0';
    return awsr_shim_raw_getenv(buf);
}

/* awsr_pm_link_fn: the kernel's name for an O_PATH descriptor of a symlinked credentials
 * file, so chains and relative links need no walking here. Costs one readlinkat when the
 * file is not a symlink. A target that is not a regular file is not one to serve. */
static size_t link_target(void *ctx, const char *path, char *out, size_t cap)
{
    (void)ctx;
    if (cap < 2 || sys6(SYS_readlinkat, AT_FDCWD, (long)path, (long)out, (long)cap, 0, 0) < 0)
        return (size_t)-1;                    /* not a symlink (EINVAL), or missing */
    long fd = sys6(SYS_openat, AT_FDCWD, (long)path, O_PATH | O_CLOEXEC, 0, 0, 0);
    if (fd < 0)
        return (size_t)-1;                    /* dangling */
    char proc[32];
    awsr_proc_fd_path(proc, fd);
    struct stat st;
    long n = -1;
    if (sys6(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) == 0 && S_ISREG(st.st_mode))
        n = sys6(SYS_readlinkat, AT_FDCWD, (long)proc, (long)out, (long)cap - 1, 0, 0);
    sys6(SYS_close, fd, 0, 0, 0, 0, 0);
    if (n <= 0 || n >= (long)cap - 1 || out[0] != '/')
        return (size_t)-1;                    /* no /proc, or perhaps truncated */
    out[n] = '\0';
    return (size_t)n;
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

/* path (of length len) ends in the component name (n bytes, no '/', n > 0): compared from
 * the end, so the fast path below scans the path once, for its length. */
static inline bool last_component_is(const char *path, size_t len, const char *name, size_t n)
{
    return n != 0 && len >= n && (len == n || path[len - n - 1] == '/') &&
           awsr_mem_eq(path + len - n, name, n);
}

#define DEFAULT_BASE AWSR_PM_DEFAULT_BASENAME, sizeof AWSR_PM_DEFAULT_BASENAME - 1

/* The targets' last components other than "credentials" (which the fast path tests
 * first), once each: what else the fast path compares. */
static void note_bases(struct target_cache *c)
{
    c->nbases = 0;
    for (size_t k = 0; k < c->set.n; k++) {
        const struct awsr_pm_target *t = &c->set.t[k];
        const char *b = t->path + t->base;
        size_t n = t->len - t->base, j = 0;
        while (j < c->nbases && !last_component_is(b, n, c->bases[j].s, c->bases[j].n))
            j++;
        if (j == c->nbases && !last_component_is(b, n, DEFAULT_BASE)) {
            c->bases[j].s = b;
            c->bases[j].n = n;
            c->nbases++;
        }
    }
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
    awsr_pm_build(&cache.set, home, shared, lookup_var, NULL);
    awsr_pm_add_path(&cache.set, awsr_shim_raw_getenv(USER_FILE_ENV));
    awsr_pm_add_links(&cache.set, link_target, NULL);
    /* The values kept must be the ones the set was built from: the same strings (setenv
     * replaces environ's pointers, never the strings). A value too long to keep counts as
     * changed at every call (slow path, still right). */
    cache.home = awsr_pm_keep(&cache.set, home);
    cache.shared = awsr_pm_keep(&cache.set, shared);
    cache.home_set = home != NULL;
    cache.shared_set = shared != NULL;
    note_environ(&cache);
    awsr_pm_cache_ids(&cache.set, dir_identity, NULL);
    note_bases(&cache);
    errno = saved;
    atomic_store_explicit(&cache.state, READY, memory_order_release);
    return &cache;
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
    if (last_component_is(path, len, DEFAULT_BASE))
        return true;
    const struct target_cache *c = ready_cache();
    if (c == NULL)
        return len > 0 && path[len - 1] != '/'; /* cache under construction: slow path */
    for (size_t k = 0; k < c->nbases; k++) {
        if (last_component_is(path, len, c->bases[k].s, c->bases[k].n))
            return true;
    }
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
 * stack in a frame of its own (so the usual path does not carry its 16 KiB). */
__attribute__((noinline)) static bool match_fresh(int dirfd, const char *path, const char *home,
                                                  const char *shared)
{
    struct awsr_pm_set fresh;
    awsr_pm_build(&fresh, home, shared, lookup_var, NULL);
    awsr_pm_add_path(&fresh, awsr_shim_raw_getenv(USER_FILE_ENV));
    return awsr_pm_match(&fresh, dirfd, path, dir_identity, NULL);
}

/* Does (dirfd, path) name the credentials file? Decided with the cached targets, or with
 * targets built now when HOME or AWS_SHARED_CREDENTIALS_FILE changed since. */
static bool names_credentials(int dirfd, const char *path)
{
    const char *home = awsr_shim_raw_getenv("HOME");
    const char *shared = awsr_shim_raw_getenv(SHARED_FILE_ENV);
    const struct target_cache *c = ready_cache();
    if (c != NULL && same_value(c->home_set, c->home, home) &&
        same_value(c->shared_set, c->shared, shared))
        return awsr_pm_match(&c->set, dirfd, path, dir_identity, NULL);
    return match_fresh(dirfd, path, home, shared);
}

/* Set once this process was served the file: it stays in the tree, whatever its
 * environment becomes. */
static _Atomic int tree_member;

/* In a tree: AWSROLE_SEGMENT is set (even when its segment is gone: a background job
 * started after the launcher ended), or the file was served once. */
static bool in_tree(void)
{
    if (atomic_load_explicit(&tree_member, memory_order_relaxed))
        return true;
    const char *seg = awsr_shim_raw_getenv(AWSR_SEG_ENV);
    return seg != NULL && seg[0] != '\0';
}

/* True when (dirfd, path) names the credentials file of a process in a tree; *synth is
 * then the synthesized file, or NULL when there is none any more. */
static bool tree_credentials(int dirfd, const char *path, const char **synth)
{
    if (awsr_shim_disabled() || !names_credentials(dirfd, path))
        return false;
    *synth = awsr_shim_credentials_file();
    if (*synth != NULL) {
        atomic_store_explicit(&tree_member, 1, memory_order_relaxed);
        return true;
    }
    return in_tree();
}

/* Something that exists and is not a regular file (a device such as /dev/null named by
 * AWS_SHARED_CREDENTIALS_FILE, a directory) is no credentials file to protect. */
static bool regular_or_missing(int dirfd, const char *path)
{
    struct stat st;
    return !raw_stat(dirfd, path, &st) || S_ISREG(st.st_mode);
}

/* Says once per process why a change failed: EROFS alone puzzles a user whose disk is
 * writable. Raw write to stderr (never stdout); nothing if it is closed. */
static void say_read_only(void)
{
    static _Atomic int said;
    static const char msg[] =
        "awsrole-run: the AWS credentials file is read-only inside an awsrole-run tree "
        "(it shows the tree's temporary credentials); change it outside the tree\n";
    if (!atomic_exchange_explicit(&said, 1, memory_order_relaxed))
        sys6(SYS_write, 2, (long)msg, sizeof msg - 1, 0, 0, 0);
}

/* What a wrapped call does with the file at its path. */
enum use { READS, WRITES };

/* Returned instead of a path when the real call must not be made (errno is set). */
static const char refused[1];
#define REFUSED refused

/* Fails a change with EROFS (saying why, once) or a read with ENOENT. */
static const char *refuse(enum use use)
{
    if (use == WRITES)
        say_read_only();
    errno = use == WRITES ? EROFS : ENOENT;
    return REFUSED;
}

/* The slow path, for paths whose last component is a target's. errno is left as it was
 * unless the call is refused. */
__attribute__((noinline)) static const char *route_slow(int dirfd, const char *path,
                                                         enum use use)
{
    int saved = errno;
    const char *synth = NULL, *result = path;
    if (tree_credentials(dirfd, path, &synth)) {
        if (use == READS && synth != NULL)
            result = synth; /* absolute: the kernel ignores the caller's dirfd */
        else if (regular_or_missing(dirfd, path))
            return refuse(use);
    }
    errno = saved;
    return result;
}

/* The path to hand to the real call: `path`, the synthesized file, or REFUSED. */
__attribute__((noinline)) static const char *route(int dirfd, const char *path, enum use use)
{
    return may_be_credentials(path) ? route_slow(dirfd, path, use) : path;
}

/* Declares `p`, the path for the real call, or fails the wrapper (errno set by route). */
#define ROUTE(p, dirfd, path, use, fail)              \
    const char *p = route((dirfd), (path), (use));    \
    if (p == REFUSED)                                 \
        return fail;

/* For calls that change what a path names: true (errno EROFS) when it must not be made. */
static inline bool refused_write(int dirfd, const char *path)
{
    return route(dirfd, path, WRITES) == REFUSED;
}

static inline bool open_reads_only(int flags)
{
    return (flags & O_ACCMODE) == O_RDONLY &&
           (flags & (O_CREAT | O_TRUNC | O_APPEND)) == 0 &&
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

static inline enum use open_use(int flags)
{
    return open_reads_only(flags) ? READS : WRITES;
}

static inline enum use fopen_use(const char *mode)
{
    return fopen_reads_only(mode) ? READS : WRITES;
}

/* Existence, readability and X_OK are the served file's; W_OK asks to change it. */
static inline enum use access_use(int mode)
{
    return (mode & W_OK) ? WRITES : READS;
}

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
    ROUTE(p, AT_FDCWD, path, open_use(flags), -1);
    return fn(p, flags, mode);
}

AWSR_EXPORT int open64(const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    REAL(R_OPEN64, open_fn, open64, -1);
    ROUTE(p, AT_FDCWD, path, open_use(flags), -1);
    return fn(p, flags, mode);
}

AWSR_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    REAL(R_OPENAT, openat_fn, openat, -1);
    ROUTE(p, dirfd, path, open_use(flags), -1);
    return fn(dirfd, p, flags, mode);
}

AWSR_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    REAL(R_OPENAT64, openat_fn, openat64, -1);
    ROUTE(p, dirfd, path, open_use(flags), -1);
    return fn(dirfd, p, flags, mode);
}

/* _FORTIFY_SOURCE entry points (open without a mode and non-constant flags). */
AWSR_EXPORT int __open_2(const char *path, int flags);
AWSR_EXPORT int __open64_2(const char *path, int flags);
AWSR_EXPORT int __openat_2(int dirfd, const char *path, int flags);
AWSR_EXPORT int __openat64_2(int dirfd, const char *path, int flags);

AWSR_EXPORT int __open_2(const char *path, int flags)
{
    REAL(R_OPEN_2, open2_fn, __open_2, -1);
    ROUTE(p, AT_FDCWD, path, open_use(flags), -1);
    return fn(p, flags);
}

AWSR_EXPORT int __open64_2(const char *path, int flags)
{
    REAL(R_OPEN64_2, open2_fn, __open64_2, -1);
    ROUTE(p, AT_FDCWD, path, open_use(flags), -1);
    return fn(p, flags);
}

AWSR_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    REAL(R_OPENAT_2, openat2_fn, __openat_2, -1);
    ROUTE(p, dirfd, path, open_use(flags), -1);
    return fn(dirfd, p, flags);
}

AWSR_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    REAL(R_OPENAT64_2, openat2_fn, __openat64_2, -1);
    ROUTE(p, dirfd, path, open_use(flags), -1);
    return fn(dirfd, p, flags);
}

/* ---- stdio opens (glibc's fopen reaches the kernel without the exported open) --------- */

typedef FILE *(*fopen_fn)(const char *, const char *);
typedef FILE *(*freopen_fn)(const char *, const char *, FILE *);

AWSR_EXPORT FILE *fopen(const char *path, const char *mode)
{
    REAL(R_FOPEN, fopen_fn, fopen, NULL);
    ROUTE(p, AT_FDCWD, path, fopen_use(mode), NULL);
    return fn(p, mode);
}

AWSR_EXPORT FILE *fopen64(const char *path, const char *mode)
{
    REAL(R_FOPEN64, fopen_fn, fopen64, NULL);
    ROUTE(p, AT_FDCWD, path, fopen_use(mode), NULL);
    return fn(p, mode);
}

/* A NULL path (reopen the same file with another mode) passes through: the stream's file
 * is the synthesized one if it was served. */
AWSR_EXPORT FILE *freopen(const char *path, const char *mode, FILE *stream)
{
    REAL(R_FREOPEN, freopen_fn, freopen, NULL);
    ROUTE(p, AT_FDCWD, path, fopen_use(mode), NULL);
    return fn(p, mode, stream);
}

AWSR_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *stream)
{
    REAL(R_FREOPEN64, freopen_fn, freopen64, NULL);
    ROUTE(p, AT_FDCWD, path, fopen_use(mode), NULL);
    return fn(p, mode, stream);
}

/* ---- stat family: always reads (the synthesized file is a regular file) ------------- */

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
    ROUTE(p, AT_FDCWD, path, READS, -1);
    return fn(p, buf);
}

AWSR_EXPORT int stat64(const char *restrict path, struct stat64 *restrict buf)
{
    REAL(R_STAT64, stat64_fn, stat64, -1);
    ROUTE(p, AT_FDCWD, path, READS, -1);
    return fn(p, buf);
}

AWSR_EXPORT int lstat(const char *restrict path, struct stat *restrict buf)
{
    REAL(R_LSTAT, stat_fn, lstat, -1);
    ROUTE(p, AT_FDCWD, path, READS, -1);
    return fn(p, buf);
}

AWSR_EXPORT int lstat64(const char *restrict path, struct stat64 *restrict buf)
{
    REAL(R_LSTAT64, stat64_fn, lstat64, -1);
    ROUTE(p, AT_FDCWD, path, READS, -1);
    return fn(p, buf);
}

AWSR_EXPORT int fstatat(int dirfd, const char *restrict path, struct stat *restrict buf,
                        int flags)
{
    REAL(R_FSTATAT, fstatat_fn, fstatat, -1);
    ROUTE(p, dirfd, path, READS, -1);
    return fn(dirfd, p, buf, flags);
}

AWSR_EXPORT int fstatat64(int dirfd, const char *restrict path, struct stat64 *restrict buf,
                          int flags)
{
    REAL(R_FSTATAT64, fstatat64_fn, fstatat64, -1);
    ROUTE(p, dirfd, path, READS, -1);
    return fn(dirfd, p, buf, flags);
}

/* An empty path with AT_EMPTY_PATH (statx of an fd) never matches: its last component is
 * empty. */
AWSR_EXPORT int statx(int dirfd, const char *restrict path, int flags, unsigned int mask,
                      struct statx *restrict buf)
{
    REAL(R_STATX, statx_fn, statx, -1);
    ROUTE(p, dirfd, path, READS, -1);
    return fn(dirfd, p, flags, mask, buf);
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
    ROUTE(p, AT_FDCWD, path, READS, -1);
    return fn(ver, p, buf);
}

AWSR_EXPORT int __xstat64(int ver, const char *path, struct stat64 *buf)
{
    REAL(R_XSTAT64, xstat64_fn, __xstat64, -1);
    ROUTE(p, AT_FDCWD, path, READS, -1);
    return fn(ver, p, buf);
}

AWSR_EXPORT int __lxstat(int ver, const char *path, struct stat *buf)
{
    REAL(R_LXSTAT, xstat_fn, __lxstat, -1);
    ROUTE(p, AT_FDCWD, path, READS, -1);
    return fn(ver, p, buf);
}

AWSR_EXPORT int __lxstat64(int ver, const char *path, struct stat64 *buf)
{
    REAL(R_LXSTAT64, xstat64_fn, __lxstat64, -1);
    ROUTE(p, AT_FDCWD, path, READS, -1);
    return fn(ver, p, buf);
}

AWSR_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *buf, int flags)
{
    REAL(R_FXSTATAT, fxstatat_fn, __fxstatat, -1);
    ROUTE(p, dirfd, path, READS, -1);
    return fn(ver, dirfd, p, buf, flags);
}

AWSR_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *buf,
                             int flags)
{
    REAL(R_FXSTATAT64, fxstatat64_fn, __fxstatat64, -1);
    ROUTE(p, dirfd, path, READS, -1);
    return fn(ver, dirfd, p, buf, flags);
}

/* ---- access family: the served file's answers; W_OK is refused (EROFS) -------------- */

typedef int (*access_fn)(const char *, int);
typedef int (*faccessat_fn)(int, const char *, int, int);

AWSR_EXPORT int access(const char *path, int mode)
{
    REAL(R_ACCESS, access_fn, access, -1);
    ROUTE(p, AT_FDCWD, path, access_use(mode), -1);
    return fn(p, mode);
}

AWSR_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
    REAL(R_FACCESSAT, faccessat_fn, faccessat, -1);
    ROUTE(p, dirfd, path, access_use(mode), -1);
    return fn(dirfd, p, mode, flags);
}

AWSR_EXPORT int euidaccess(const char *path, int mode)
{
    REAL(R_EUIDACCESS, access_fn, euidaccess, -1);
    ROUTE(p, AT_FDCWD, path, access_use(mode), -1);
    return fn(p, mode);
}

AWSR_EXPORT int eaccess(const char *path, int mode)
{
    REAL(R_EACCESS, access_fn, eaccess, -1);
    ROUTE(p, AT_FDCWD, path, access_use(mode), -1);
    return fn(p, mode);
}

/* ---- calls that change what a path names: refused (EROFS) on the credentials file ----
 * glibc's creat, remove, rename and the rest make their system calls directly, not through
 * the exported open or unlink, so each is wrapped. A rename or hard link *from* the file
 * is refused too: it would give the real file (the long-term keys) an unprotected name. */

typedef int (*creat_fn)(const char *, mode_t);
typedef int (*path2_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned int);
typedef int (*linkat_fn)(int, const char *, int, const char *, int);
typedef int (*symlinkat_fn)(const char *, int, const char *);
typedef int (*path1_fn)(const char *);
typedef int (*unlinkat_fn)(int, const char *, int);
typedef int (*truncate_fn)(const char *, off_t);
typedef int (*truncate64_fn)(const char *, off64_t);

/* One wrapper per row: `refused` (EROFS, set by route) decides before the real call. */
#define CHANGE_WRAPPER(id, name, type, refused, params, ...) \
    AWSR_EXPORT int name params                              \
    {                                                        \
        REAL(id, type, name, -1);                            \
        return (refused) ? -1 : fn(__VA_ARGS__);             \
    }

/* Either end of a rename or hard link is the file: refused. */
static inline bool refused_pair(int olddirfd, const char *old, int newdirfd, const char *new)
{
    return refused_write(olddirfd, old) || refused_write(newdirfd, new);
}

#define ONE(path) refused_write(AT_FDCWD, path)
#define PAIR(old, new) refused_pair(AT_FDCWD, old, AT_FDCWD, new)

CHANGE_WRAPPER(R_CREAT, creat, creat_fn, ONE(path), (const char *path, mode_t mode), path, mode)
CHANGE_WRAPPER(R_CREAT64, creat64, creat_fn, ONE(path), (const char *path, mode_t mode), path,
               mode)
CHANGE_WRAPPER(R_RENAME, rename, path2_fn, PAIR(old, new), (const char *old, const char *new),
               old, new)
CHANGE_WRAPPER(R_RENAMEAT, renameat, renameat_fn, refused_pair(odir, old, ndir, new),
               (int odir, const char *old, int ndir, const char *new), odir, old, ndir, new)
CHANGE_WRAPPER(R_RENAMEAT2, renameat2, renameat2_fn, refused_pair(odir, old, ndir, new),
               (int odir, const char *old, int ndir, const char *new, unsigned int flags),
               odir, old, ndir, new, flags)
CHANGE_WRAPPER(R_LINK, link, path2_fn, PAIR(old, new), (const char *old, const char *new), old,
               new)
/* With AT_EMPTY_PATH, old is "" (the file open at odir): never a match. */
CHANGE_WRAPPER(R_LINKAT, linkat, linkat_fn, refused_pair(odir, old, ndir, new),
               (int odir, const char *old, int ndir, const char *new, int flags), odir, old,
               ndir, new, flags)
/* A symlink's target is only a string: the new name is what is created. */
CHANGE_WRAPPER(R_SYMLINK, symlink, path2_fn, ONE(new), (const char *target, const char *new),
               target, new)
CHANGE_WRAPPER(R_SYMLINKAT, symlinkat, symlinkat_fn, refused_write(ndir, new),
               (const char *target, int ndir, const char *new), target, ndir, new)
CHANGE_WRAPPER(R_UNLINK, unlink, path1_fn, ONE(path), (const char *path), path)
CHANGE_WRAPPER(R_UNLINKAT, unlinkat, unlinkat_fn, refused_write(dir, path),
               (int dir, const char *path, int flags), dir, path, flags)
CHANGE_WRAPPER(R_REMOVE, remove, path1_fn, ONE(path), (const char *path), path)
CHANGE_WRAPPER(R_TRUNCATE, truncate, truncate_fn, ONE(path), (const char *path, off_t len),
               path, len)
CHANGE_WRAPPER(R_TRUNCATE64, truncate64, truncate64_fn, ONE(path),
               (const char *path, off64_t len), path, len)
