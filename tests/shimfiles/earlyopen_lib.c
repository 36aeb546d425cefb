/* earlyopen_lib.c - a library whose constructor reads the credentials file and calls
 * getenv before the preloaded shim's constructor has run (DT_NEEDED libraries are
 * initialised before preloads). Prints "ctor_open <hex>" and "ctor_getenv <value>". */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void earlyopen_report(const char *tag, const char *path);

void earlyopen_report(const char *tag, const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s\tERR\n", tag);
        return;
    }
    unsigned char buf[8192];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    printf("%s\tOK\t", tag);
    for (ssize_t i = 0; i < n; i++)
        printf("%02x", buf[i]);
    printf("\n");
}

__attribute__((constructor)) static void early(void)
{
    const char *path = getenv("AWSR_PROBE_PATH");
    const char *key = getenv("AWS_ACCESS_KEY_ID");
    if (path != NULL)
        earlyopen_report("ctor_open", path);
    printf("ctor_getenv\t%s\n", key ? key : "(null)");
    fflush(stdout);
}
