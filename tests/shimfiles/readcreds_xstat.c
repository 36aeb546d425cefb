/* readcreds_xstat.c - probe: the legacy stat entry points that binaries built against
 * glibc < 2.33 call (glibc 2.36 still exports them). Output as readcreds' stat lines. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#define STAT_VER 1   /* _STAT_VER_LINUX on x86_64: the kernel's struct stat */

int __xstat(int ver, const char *path, struct stat *buf);
int __xstat64(int ver, const char *path, struct stat64 *buf);
int __lxstat(int ver, const char *path, struct stat *buf);
int __lxstat64(int ver, const char *path, struct stat64 *buf);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *buf, int flags);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *buf, int flags);

#define REPORT_STAT(call, rc, st)                                                       \
    do {                                                                                \
        if ((rc) != 0)                                                                  \
            printf("%s\tERR\t%d\n", call, errno);                                       \
        else                                                                            \
            printf("%s\tOK\t%lld\t%llu\t%d\n", call, (long long)(st).st_size,           \
                   (unsigned long long)(st).st_ino, S_ISREG((st).st_mode) ? 1 : 0);     \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: readcreds-xstat PATH\n");
        return 2;
    }
    const char *path = argv[1];
    struct stat st;
    struct stat64 st64;
    int rc;
    rc = __xstat(STAT_VER, path, &st);
    REPORT_STAT("__xstat", rc, st);
    rc = __xstat64(STAT_VER, path, &st64);
    REPORT_STAT("__xstat64", rc, st64);
    rc = __lxstat(STAT_VER, path, &st);
    REPORT_STAT("__lxstat", rc, st);
    rc = __lxstat64(STAT_VER, path, &st64);
    REPORT_STAT("__lxstat64", rc, st64);
    rc = __fxstatat(STAT_VER, AT_FDCWD, path, &st, 0);
    REPORT_STAT("__fxstatat", rc, st);
    rc = __fxstatat64(STAT_VER, AT_FDCWD, path, &st64, 0);
    REPORT_STAT("__fxstatat64", rc, st64);
    return 0;
}
