/* exec.c - the exec family and posix_spawn: the envp handed to a new program gets the
 * tree's current credentials in place of stale copies of them (env.c's awsr_env_stale and
 * awsr_env_renew_into, through shim.h's AWSR_RENEWED_ENVP).
 *
 * Why: a dynamic parent that copied its environment at start (bash, make, CPython) passes
 * that copy on; a dynamic child's constructor renews it, but a static one (Go: terraform)
 * would keep the old, maybe expired, credentials for its whole life. Only values this tree
 * issued are replaced; the program's own values and removals are passed on as they are.
 *
 * These run in vfork children (CPython, Java) and after fork in threaded programs: no
 * malloc, no locks, no stdio on the exec paths, and no dlsym unless another preload
 * library shares LD_PRELOAD (then execve and fexecve chain to the next definition, see
 * next_definition; else they are the raw system call). The PATH search of
 * execvp/execvpe/execlp is glibc's own rule redone here (its execvpe reaches the kernel
 * through the hidden __execve, which a wrapper cannot reach). The envp copy lives on the
 * caller's stack, made only when something is stale and sized to it (one pointer per
 * entry, the new values' bytes; an environment of more than AWSR_ENVP_MAX entries is
 * passed on unchanged). posix_spawn/posix_spawnp, called in the parent, chain to the next
 * definition (dlsym(RTLD_NEXT) on first use). errno is untouched except where the real
 * call sets it. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"
#include "str.h"
#include "sys.h"

extern char **environ;

#define MAX_LIST_ARGS 65536 /* execl*: argument lists longer than this fail with E2BIG */

static int fail(long r)
{
    errno = (int)-r;
    return -1;
}

typedef int execve_fn(const char *, char *const[], char *const[]);
typedef int fexecve_fn(int, char *const[], char *const[]);

/* Another preload library in LD_PRELOAD (faketime, a sandbox) may wrap the exec calls too:
 * then the next definition is called, so that its wrapper is not skipped. Looked up on the
 * first exec; with this library alone (the common case) there is nothing to look up, and
 * the wrappers make the system call themselves. */
static bool other_preloads(void)
{
    static int known; /* 0 unknown, 1 none, 2 others */
    int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (!k) {
        const char *pre = awsr_shim_raw_getenv("LD_PRELOAD");
        bool others = false;
        for (const char *p = pre; p && *p; p++)
            others = others || *p == ':' || *p == ' ';
        k = others ? 2 : 1;
        __atomic_store_n(&known, k, __ATOMIC_RELAXED);
    }
    return k == 2;
}

/* The next definition of name (another preload library's, else libc's), found once into
 * *slot; NULL when there is none. errno is kept. */
static void *next_definition(void **slot, const char *name)
{
    void *fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!fn) {
        int saved = errno;
        fn = dlsym(RTLD_NEXT, name);
        errno = saved;
        __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
    }
    return fn;
}

static int raw_execve(const char *path, char *const argv[], char *const envp[])
{
    static void *next;
    execve_fn *fn = other_preloads() ? (execve_fn *)next_definition(&next, "execve") : NULL;
    if (fn)
        return fn(path, argv, envp);
    return fail(sys6(SYS_execve, (long)path, (long)argv, (long)envp, 0, 0, 0));
}

/* A file the kernel refused as not executable (ENOEXEC) runs as a shell script, as glibc's
 * execvp does. */
static void script_execute(const char *file, char *const argv[], char *const envp[])
{
    size_t argc = 0;
    while (argv[argc]) {
        if (++argc >= MAX_LIST_ARGS) {
            errno = E2BIG;
            return;
        }
    }
    char *sh_argv[argc > 1 ? argc + 2 : 3];
    sh_argv[0] = (char *)"/bin/sh";
    sh_argv[1] = (char *)file;
    for (size_t i = 1; i <= argc; i++) /* argv[1..], with its NULL */
        sh_argv[i + 1] = argv[i];
    if (argc <= 1)
        sh_argv[2] = NULL;
    raw_execve(sh_argv[0], sh_argv, envp);
}

static bool has_slash(const char *s)
{
    for (; *s; s++)
        if (*s == '/')
            return true;
    return false;
}

/* glibc's execvpe: a name with a slash is run as is; else each PATH directory in turn
 * ("/bin:/usr/bin" without PATH; an empty entry is the current directory), going on past
 * ENOENT-like errors and EACCES (reported at the end), stopping at any other error. */
static int search_path(const char *file, char *const argv[], char *const envp[])
{
    if (!file[0]) {
        errno = ENOENT;
        return -1;
    }
    if (has_slash(file)) {
        raw_execve(file, argv, envp);
        if (errno == ENOEXEC)
            script_execute(file, argv, envp);
        return -1;
    }
    size_t flen = awsr_strlen(file);
    if (flen > NAME_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    const char *path = awsr_shim_raw_getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    char buf[PATH_MAX + NAME_MAX + 2];
    bool denied = false;
    for (const char *p = path;; p++) {
        const char *end = p;
        while (*end && *end != ':')
            end++;
        size_t dlen = (size_t)(end - p);
        if (dlen + flen + 2 <= sizeof buf) {
            size_t k = 0;
            for (; k < dlen; k++)
                buf[k] = p[k];
            if (dlen)
                buf[k++] = '/';
            for (size_t j = 0; j <= flen; j++)
                buf[k + j] = file[j];
            raw_execve(buf, argv, envp);
            if (errno == ENOEXEC)
                script_execute(buf, argv, envp);
            switch (errno) {
            case EACCES:
                denied = true;
                break;
            case ENOENT: case ESTALE: case ENOTDIR: case ENODEV: case ETIMEDOUT: case ENOEXEC:
                break;
            default:
                return -1;
            }
        }
        if (!*end)
            break;
        p = end;
    }
    if (denied)
        errno = EACCES;
    return -1;
}

AWSR_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    AWSR_RENEWED_ENVP(e, envp);
    return raw_execve(path, argv, e);
}

AWSR_EXPORT int execv(const char *path, char *const argv[])
{
    return execve(path, argv, environ);
}

AWSR_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    AWSR_RENEWED_ENVP(e, envp);
    return search_path(file, argv, e);
}

AWSR_EXPORT int execvp(const char *file, char *const argv[])
{
    return execvpe(file, argv, environ);
}

AWSR_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    AWSR_RENEWED_ENVP(e, envp);
    static void *next;
    fexecve_fn *fn = other_preloads() ? (fexecve_fn *)next_definition(&next, "fexecve") : NULL;
    if (fn)
        return fn(fd, argv, e);
    long r = sys6(SYS_execveat, fd, (long)"", (long)argv, (long)e, AT_EMPTY_PATH, 0);
    if (r != -ENOSYS)
        return fail(r);
    char path[32]; /* kernels before execveat (3.19) */
    awsr_proc_fd_path(path, fd);
    return raw_execve(path, argv, e);
}

enum list_kind { LIST_PATH, LIST_PATH_ENV, LIST_SEARCH }; /* execl, execle, execlp */

/* The execl* argument list (after arg0, up to its NULL; then execle's envp), collected
 * into an argv on the stack, and run. */
static int exec_list(enum list_kind kind, const char *target, const char *arg0, va_list ap)
{
    va_list count;
    va_copy(count, ap);
    size_t argc = 1;
    while (va_arg(count, char *) && argc < MAX_LIST_ARGS)
        argc++;
    va_end(count);
    if (argc >= MAX_LIST_ARGS) {
        errno = E2BIG;
        return -1;
    }
    char *argv[argc + 1];
    argv[0] = (char *)arg0;
    for (size_t i = 1; i <= argc; i++) /* the NULL too */
        argv[i] = va_arg(ap, char *);
    if (kind == LIST_SEARCH)
        return execvpe(target, argv, environ);
    return execve(target, argv, kind == LIST_PATH_ENV ? va_arg(ap, char *const *) : environ);
}

/* execl, execle, execlp: one body, three argument-list kinds. */
#define LIST_WRAPPER(name, kind)                                   \
    AWSR_EXPORT int name(const char *target, const char *arg, ...) \
    {                                                              \
        va_list ap;                                                \
        va_start(ap, arg);                                         \
        int r = exec_list(kind, target, arg, ap);                  \
        va_end(ap);                                                \
        return r;                                                  \
    }
LIST_WRAPPER(execl, LIST_PATH)
LIST_WRAPPER(execle, LIST_PATH_ENV)
LIST_WRAPPER(execlp, LIST_SEARCH)

typedef int spawn_fn(pid_t *, const char *, const posix_spawn_file_actions_t *,
                     const posix_spawnattr_t *, char *const[], char *const[]);

/* The next definition, always (the wrapper does not spawn itself); ENOSYS when none. */
static int spawn_next(void **slot, const char *name, pid_t *pid, const char *path,
                      const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                      char *const argv[], char *const envp[])
{
    spawn_fn *fn = (spawn_fn *)next_definition(slot, name);
    if (!fn)
        return ENOSYS;
    AWSR_RENEWED_ENVP(e, envp);
    return fn(pid, path, fa, attr, argv, e);
}

/* posix_spawn, posix_spawnp: each with its own next definition. */
#define SPAWN_WRAPPER(name)                                                                  \
    AWSR_EXPORT int name(pid_t *pid, const char *target, const posix_spawn_file_actions_t *fa, \
                         const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) \
    {                                                                                        \
        static void *next;                                                                   \
        return spawn_next(&next, #name, pid, target, fa, attr, argv, envp);                  \
    }
SPAWN_WRAPPER(posix_spawn)
SPAWN_WRAPPER(posix_spawnp)
