/* readcreds.c - probe: reads one path through every wrapped libc entry point and prints
 * what each saw, one tab-separated line per call:
 *   <call> OK <fstat size> <ino> <mmap agrees 0/1> <bytes read> <hex of content>  (opens)
 *   <call> OK <size> <ino> <regular 0/1>                                          (stats)
 *   <call> RC <return value> <errno>                                              (access)
 *   <call> ERR <errno>                                                            (failed)
 * Built plain, with -D_FILE_OFFSET_BITS=64 and with -O2 -D_FORTIFY_SOURCE=2 (flags come
 * from a volatile so that open/openat become __open_2/__openat_2), and statically.
 * Usage: readcreds PATH            read through every call
 *        readcreds --write PATH S  append S to PATH with O_WRONLY|O_APPEND and fopen "a"
 *        readcreds --modify PATH   try every call that changes PATH (or makes it, or gives
 *                                  it another name), one "<call> RC <rc> <errno>" line each;
 *                                  scratch files "PATH.awsr-*" beside it are removed after */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile int rdonly = O_RDONLY;   /* non-constant: the fortify entry points */

static void print_hex(const unsigned char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        printf("%02x", buf[i]);
}

static void report_fd(const char *call, int fd)
{
    if (fd < 0) {
        printf("%s\tERR\t%d\n", call, errno);
        return;
    }
    static unsigned char buf[1 << 16];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf && (n = read(fd, buf + got, sizeof buf - got)) > 0)
        got += (size_t)n;
    struct stat st;
    int mmap_ok = 0;
    if (fstat(fd, &st) != 0) {
        printf("%s\tERR\t%d\n", call, errno);
        close(fd);
        return;
    }
    if (st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            mmap_ok = (size_t)st.st_size == got && memcmp(m, buf, got) == 0;
            munmap(m, (size_t)st.st_size);
        }
    } else {
        mmap_ok = got == 0;
    }
    printf("%s\tOK\t%lld\t%llu\t%d\t%zu\t", call, (long long)st.st_size,
           (unsigned long long)st.st_ino, mmap_ok, got);
    print_hex(buf, got);
    printf("\n");
    close(fd);
}

static void report_file(const char *call, FILE *f)
{
    if (f == NULL) {
        printf("%s\tERR\t%d\n", call, errno);
        return;
    }
    /* Read through stdio, then check the same way on a dup of the descriptor. */
    static unsigned char buf[1 << 16];
    size_t got = fread(buf, 1, sizeof buf, f);
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        printf("%s\tERR\t%d\n", call, errno);
        fclose(f);
        return;
    }
    int mmap_ok = 0;
    if (st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fileno(f), 0);
        if (m != MAP_FAILED) {
            mmap_ok = (size_t)st.st_size == got && memcmp(m, buf, got) == 0;
            munmap(m, (size_t)st.st_size);
        }
    }
    printf("%s\tOK\t%lld\t%llu\t%d\t%zu\t", call, (long long)st.st_size,
           (unsigned long long)st.st_ino, mmap_ok, got);
    print_hex(buf, got);
    printf("\n");
    fclose(f);
}

#define REPORT_STAT(call, rc, st)                                                       \
    do {                                                                                \
        if ((rc) != 0)                                                                  \
            printf("%s\tERR\t%d\n", call, errno);                                       \
        else                                                                            \
            printf("%s\tOK\t%lld\t%llu\t%d\n", call, (long long)(st).st_size,           \
                   (unsigned long long)(st).st_ino, S_ISREG((st).st_mode) ? 1 : 0);     \
    } while (0)

#define REPORT_STATX(call, rc, st)                                                      \
    do {                                                                                \
        if ((rc) != 0)                                                                  \
            printf("%s\tERR\t%d\n", call, errno);                                       \
        else                                                                            \
            printf("%s\tOK\t%lld\t%llu\t%d\n", call, (long long)(st).stx_size,          \
                   (unsigned long long)(st).stx_ino, S_ISREG((st).stx_mode) ? 1 : 0);   \
    } while (0)

static void report_rc(const char *call, int rc)
{
    printf("%s\tRC\t%d\t%d\n", call, rc, rc == 0 ? 0 : errno);
}

static int append(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) != 0) {
        perror("open for writing");
        return 1;
    }
    FILE *f = fopen(path, "a");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        perror("fopen a");
        return 1;
    }
    return 0;
}

/* A descriptor of PATH's directory, and PATH's last component in basebuf. */
static int open_dir(const char *path, char *basebuf, size_t cap, const char **base)
{
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    snprintf(basebuf, cap, "%s", path);
    const char *dir = dirname(dirbuf);
    *base = basename(basebuf);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0)
        perror(dir);
    return dfd;
}

static void report_open_rc(const char *call, int fd)
{
    report_rc(call, fd < 0 ? -1 : 0);
    if (fd >= 0)
        close(fd);
}

static void report_file_rc(const char *call, FILE *f)
{
    report_rc(call, f == NULL ? -1 : 0);
    if (f != NULL)
        fclose(f);
}

/* A scratch file beside path: "PATH.awsr-<tag>", created with some text. */
static const char *scratch(const char *path, const char *tag, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s.awsr-%s", path, tag);
    int fd = open(buf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, "scratch\n", 8) != 8 || close(fd) != 0)
        perror(buf);
    return buf;
}

static int modify(const char *path)
{
    static volatile int wronly = O_WRONLY, rdwr = O_RDWR; /* fortify entry points */
    char basebuf[4096], src[4200], dst[4200];
    const char *base;
    int dfd = open_dir(path, basebuf, sizeof basebuf, &base);
    if (dfd < 0)
        return 2;
    report_open_rc("open_wronly", open(path, wronly));
    report_open_rc("open_rdwr", open(path, rdwr));
    report_open_rc("open_trunc", open(path, O_RDONLY | O_TRUNC));
    report_open_rc("open_append", open(path, O_WRONLY | O_APPEND));
    report_open_rc("open_creat", open(path, O_RDONLY | O_CREAT, 0600));
    report_open_rc("open_creat_excl", open(path, O_WRONLY | O_CREAT | O_EXCL, 0600));
    report_open_rc("open64_rdwr", open64(path, rdwr));
    report_open_rc("openat_wronly", openat(AT_FDCWD, path, wronly));
    report_open_rc("openat64_rdwr", openat64(AT_FDCWD, path, rdwr));
    report_open_rc("openat_dirfd_rdwr", openat(dfd, base, rdwr));
    report_open_rc("creat", creat(path, 0600));
    report_file_rc("fopen_w", fopen(path, "w"));
    report_file_rc("fopen_a", fopen(path, "a"));
    report_file_rc("fopen_rplus", fopen(path, "r+"));
    report_file_rc("fopen_wx", fopen(path, "wx"));
    report_file_rc("fopen64_w", fopen64(path, "w"));
    report_file_rc("freopen_w", freopen(path, "w", fopen("/dev/null", "r")));
    report_file_rc("freopen64_a", freopen64(path, "a", fopen("/dev/null", "r")));
    report_rc("rename_to", rename(scratch(path, "a", src, sizeof src), path));
    snprintf(dst, sizeof dst, "%s.awsr-b", path);
    report_rc("rename_from", rename(path, dst));
    report_rc("renameat_to", renameat(AT_FDCWD, src, dfd, base));
    report_rc("renameat2_to", renameat2(AT_FDCWD, src, AT_FDCWD, path, RENAME_NOREPLACE));
    report_rc("renameat2_exchange", renameat2(AT_FDCWD, src, AT_FDCWD, path, RENAME_EXCHANGE));
    report_rc("link_to", link(src, path));
    report_rc("link_from", link(path, dst));
    report_rc("linkat_to", linkat(AT_FDCWD, src, dfd, base, 0));
    report_rc("symlink_to", symlink(src, path));
    report_rc("symlinkat_to", symlinkat(src, dfd, base));
    report_rc("unlink", unlink(path));
    report_rc("unlinkat", unlinkat(dfd, base, 0));
    report_rc("remove", remove(path));
    report_rc("truncate", truncate(path, 0));
    report_rc("access_w", access(path, W_OK));
    report_rc("access_rw", access(path, R_OK | W_OK));
    report_rc("faccessat_w", faccessat(dfd, base, W_OK, 0));
    report_rc("euidaccess_w", euidaccess(path, W_OK));
    report_rc("eaccess_w", eaccess(path, W_OK));
    /* A raw system call is beyond any preload: the control that the file is writable. */
    report_rc("raw_open_wronly", (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_APPEND) < 0 ? -1 : 0);
    unlink(src);
    unlink(dst);
    close(dfd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--write") == 0)
        return append(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "--modify") == 0)
        return modify(argv[2]);
    if (argc != 2) {
        fprintf(stderr, "usage: readcreds PATH | --write PATH TEXT | --modify PATH\n");
        return 2;
    }
    const char *path = argv[1];
    char basebuf[4096];
    const char *base;
    int dfd = open_dir(path, basebuf, sizeof basebuf, &base);
    if (dfd < 0)
        return 2;

    report_fd("open", open(path, rdonly));
    report_fd("open_cloexec", open(path, O_RDONLY | O_CLOEXEC));
    report_fd("open64", open64(path, rdonly));
    report_fd("openat", openat(AT_FDCWD, path, rdonly));
    report_fd("openat64", openat64(AT_FDCWD, path, rdonly));
    report_fd("openat_dirfd", openat(dfd, base, rdonly));
    report_fd("openat64_dirfd", openat64(dfd, base, rdonly));
    report_file("fopen", fopen(path, "r"));
    report_file("fopen_re", fopen(path, "re"));
    report_file("fopen64", fopen64(path, "rb"));
    report_file("freopen", freopen(path, "r", fopen("/dev/null", "r")));
    report_file("freopen64", freopen64(path, "r", fopen("/dev/null", "r")));

    struct stat st;
    struct stat64 st64;
    struct statx stx;
    int rc;
    rc = stat(path, &st);
    REPORT_STAT("stat", rc, st);
    rc = stat64(path, &st64);
    REPORT_STAT("stat64", rc, st64);
    rc = lstat(path, &st);
    REPORT_STAT("lstat", rc, st);
    rc = lstat64(path, &st64);
    REPORT_STAT("lstat64", rc, st64);
    rc = fstatat(AT_FDCWD, path, &st, 0);
    REPORT_STAT("fstatat", rc, st);
    rc = fstatat64(AT_FDCWD, path, &st64, AT_SYMLINK_NOFOLLOW);
    REPORT_STAT("fstatat64", rc, st64);
    rc = fstatat(dfd, base, &st, 0);
    REPORT_STAT("fstatat_dirfd", rc, st);
    rc = statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &stx);
    REPORT_STATX("statx", rc, stx);
    rc = statx(dfd, base, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx);
    REPORT_STATX("statx_dirfd", rc, stx);

    report_rc("access_f", access(path, F_OK));
    report_rc("access_r", access(path, R_OK));
    report_rc("faccessat", faccessat(AT_FDCWD, path, R_OK, 0));
    report_rc("faccessat_dirfd", faccessat(dfd, base, F_OK, 0));
    report_rc("euidaccess", euidaccess(path, R_OK));
    report_rc("eaccess", eaccess(path, F_OK));
    report_rc("access_w", access(path, W_OK));
    close(dfd);
    return 0;
}
