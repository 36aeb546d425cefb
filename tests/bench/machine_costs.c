/* machine_costs.c - what this machine charges for the two things a short-lived program
 * cannot avoid: a page fault (first touch of a fresh anonymous page) and a system call.
 * On a virtual machine both can cost ten to a hundred times what they cost on bare metal,
 * and they, not instructions, decide the wall time of the launcher and of a short child.
 * Prints "fault_ns N" and "syscall_ns N" (medians of 9 passes). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { PAGES = 512, CALLS = 20000, PASSES = 9 };

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    long long fault[PASSES], call[PASSES];
    for (int p = 0; p < PASSES; p++) {
        volatile char *m = mmap(NULL, (size_t)PAGES * 4096, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return 1;
        long long t0 = now_ns();
        for (int i = 0; i < PAGES; i++)
            m[(size_t)i * 4096] = 1;
        fault[p] = (now_ns() - t0) / PAGES;
        munmap((void *)m, (size_t)PAGES * 4096);
        t0 = now_ns();
        for (int i = 0; i < CALLS; i++)
            syscall(SYS_getppid);
        call[p] = (now_ns() - t0) / CALLS;
    }
    qsort(fault, PASSES, sizeof *fault, cmp);
    qsort(call, PASSES, sizeof *call, cmp);
    printf("fault_ns %lld\nsyscall_ns %lld\n", fault[PASSES / 2], call[PASSES / 2]);
    return 0;
}
