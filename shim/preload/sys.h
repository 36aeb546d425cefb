/* sys.h - raw system calls for the preload library (internal: segment_read.c, exec.c, clock.c).
 *
 * Inline: no libc symbol to bind at start-up (each costs a lookup in every process), no
 * libc page to fault in, errno never touched, safe in a vfork child. Returns -errno. */
#ifndef AWSR_SYS_H
#define AWSR_SYS_H

#include <errno.h>
#include <unistd.h>

#if defined(__x86_64__)
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#else
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    int saved = errno;
    long r = syscall(n, a, b, c, d, e, f);
    if (r == -1) {
        r = -errno;
        errno = saved;
    }
    return r;
}
#endif

#endif
