/* tree_bench - N short children, one after the other (fork, exec, wait), like a script
 * that calls a small tool N times.
 *
 *   tree_bench N CHILD [ARG...]
 *
 * Prints the elapsed nanoseconds (CLOCK_MONOTONIC) on stdout; exits 1 if any child
 * failed (so a broken credential channel cannot pass for a fast one). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: tree_bench N CHILD [ARG...]\n");
        return 2;
    }
    long n = atol(argv[1]);
    long failed = 0;
    int last = 0;
    long long t0 = now_ns();
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("tree_bench: fork");
            return 2;
        }
        if (pid == 0) {
            execv(argv[2], &argv[2]);
            _exit(127);
        }
        int status;
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed++;
            last = status;
        }
    }
    long long t1 = now_ns();
    printf("%lld\n", t1 - t0);
    if (failed) {
        fprintf(stderr, "tree_bench: %ld of %ld children failed (last status 0x%x)\n",
                failed, n, last);
        return 1;
    }
    return 0;
}
