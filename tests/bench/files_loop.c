/* files_loop - N iterations of open/stat/lstat/access/fopen over the given paths.
 *
 *   files_loop [-t] N PATH [PATH...]
 *
 * For instruction counts (callgrind, two values of N, see getenv_loop.c) and, with -t,
 * for wall time: prints the loop's elapsed nanoseconds (CLOCK_MONOTONIC) on stdout.
 * Paths that do not exist are fine: the calls fail with ENOENT the same way with and
 * without the shim. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    int timed = 0, a = 1;
    if (a < argc && strcmp(argv[a], "-t") == 0) {
        timed = 1;
        a++;
    }
    if (argc - a < 2) {
        fprintf(stderr, "usage: files_loop [-t] N PATH [PATH...]\n");
        return 2;
    }
    long n = atol(argv[a]);
    char **paths = &argv[a + 1];
    int k = argc - a - 1;
    long ok = 0;
    struct stat st;
    long long t0 = now_ns();
    for (long it = 0; it < n; it++) {
        for (int i = 0; i < k; i++) {
            int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                ok++;
                close(fd);
            }
            ok += stat(paths[i], &st) == 0;
            ok += lstat(paths[i], &st) == 0;
            ok += access(paths[i], R_OK) == 0;
            FILE *f = fopen(paths[i], "re");
            if (f) {
                ok++;
                fclose(f);
            }
        }
    }
    long long t1 = now_ns();
    if (timed)
        printf("%lld\n", t1 - t0);
    else
        printf("ok=%ld\n", ok);
    return 0;
}
