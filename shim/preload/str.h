/* str.h - the shim's own string helpers (internal).
 * Calling libc's strlen, strrchr, memcmp or strcmp from the shim made a minimal process
 * fault in libc code it never used itself, and the kernel's fault-around maps 64 KiB of
 * libc around each such page: resident memory the shim added to every process (issue 5).
 * The strings here are paths and variable names, short enough that a byte loop costs less
 * than the call. No libc, no builtins that could become libc calls (the Makefile builds the
 * shim with -fno-tree-loop-distribute-patterns, and the build checks its imports). */
#ifndef AWSR_SHIM_STR_H
#define AWSR_SHIM_STR_H

#include <stdbool.h>
#include <stddef.h>

static inline size_t awsr_strlen(const char *s)
{
    const char *p = s;
    while (*p)
        p++;
    return (size_t)(p - s);
}

static inline bool awsr_mem_eq(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return false;
    return true;
}

/* a == b, stopping at the first difference (never reads past either string's NUL). */
static inline bool awsr_str_eq(const char *a, const char *b)
{
    while (*a == *b) {
        if (*a == '\0')
            return true;
        a++;
        b++;
    }
    return false;
}

/* "/proc/self/fd/<fd>" into buf (32 bytes: the kernel's name for an open descriptor). */
static inline void awsr_proc_fd_path(char *buf, long fd)
{
    static const char dir[] = "/proc/self/fd/";
    char digits[20];
    size_t n = 0, o = 0;
    for (; dir[o]; o++)
        buf[o] = dir[o];
    do
        digits[n++] = (char)('0' + fd % 10);
    while ((fd /= 10) > 0);
    while (n > 0)
        buf[o++] = digits[--n];
    buf[o] = '\0';
}

#endif
