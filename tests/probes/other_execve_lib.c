/* other_execve_lib.c - a second preload library that wraps execve (as faketime or a
 * sandbox would): it marks each call on stderr and chains to the next definition. The
 * shim, first in LD_PRELOAD, must call it instead of the raw system call. */
#include <dlfcn.h>
#include <unistd.h>

int execve(const char *path, char *const argv[], char *const envp[])
{
    static const char mark[] = "other-execve\n";
    ssize_t w = write(2, mark, sizeof mark - 1);
    (void)w;
    int (*next)(const char *, char *const[], char *const[]) =
        (int (*)(const char *, char *const[], char *const[]))dlsym(RTLD_NEXT, "execve");
    return next(path, argv, envp);
}
