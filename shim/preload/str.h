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

/* The part of path after its last '/' (all of it without one), and that part's length,
 * in one pass. */
static inline const char *awsr_last_component(const char *path, size_t *len)
{
    const char *base = path, *p = path;
    for (; *p; p++)
        if (*p == '/')
            base = p + 1;
    *len = (size_t)(p - base);
    return base;
}

static inline bool awsr_mem_eq(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return false;
    return true;
}

static inline bool awsr_str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

#endif
