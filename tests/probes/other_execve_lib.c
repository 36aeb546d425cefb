/* other_execve_lib.c - a second preload library that wraps execve and fexecve (as faketime
 * or a sandbox would): it marks each call on stderr and chains to the next definition. The
 * shim, first in LD_PRELOAD, must call it instead of the raw system call. */
#include <dlfcn.h>
#include <unistd.h>

typedef int execve_fn(const char *, char *const[], char *const[]);
typedef int fexecve_fn(int, char *const[], char *const[]);

static void mark(const char *m, size_t n)
{
    ssize_t w = write(2, m, n);
    (void)w;
}

int execve(const char *path, char *const argv[], char *const envp[])
{
    static const char m[] = "other-execve\n";
    mark(m, sizeof m - 1);
    execve_fn *next = (execve_fn *)dlsym(RTLD_NEXT, "execve");
    return next(path, argv, envp);
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
    static const char m[] = "other-fexecve\n";
    mark(m, sizeof m - 1);
    fexecve_fn *next = (fexecve_fn *)dlsym(RTLD_NEXT, "fexecve");
    return next(fd, argv, envp);
}
