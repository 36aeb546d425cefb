/* rss_probe - what a process's resident memory is after it has used the credentials.
 *
 *   rss_probe [-m]
 *
 * Calls getenv for the credential variables, stats an unrelated path, reads the shared
 * credentials file (so every part of the shim has been touched), then prints from
 * /proc/self/status and /proc/self/smaps, in KiB:
 *   VmRSS RssAnon RssFile RssShmem
 *   preload_rss   Rss of the mappings of a preloaded library named *awsrole-shim* or
 *                 *empty_preload*, and of the shared segment (/dev/shm/awsrole-*)
 * Run with and without the preload library, in the same environment: the difference of
 * VmRSS is what the shim adds. With -m, also prints "map <Rss KiB> <mapping>" for every
 * mapping with resident pages (anonymous ones as [anon:<start address>]), to see where a
 * difference comes from. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char buf[1 << 20];

static size_t slurp(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    buf[n] = '\0';
    return n;
}

static long status_kib(const char *key)
{
    const char *p = strstr(buf, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

int main(int argc, char **argv)
{
    int maps = argc > 1 && strcmp(argv[1], "-m") == 0;
    volatile const char *sink;
    sink = getenv("AWS_ACCESS_KEY_ID");
    sink = getenv("AWS_SECRET_ACCESS_KEY");
    sink = getenv("AWS_SESSION_TOKEN");
    sink = getenv("AWS_REGION");
    (void)sink;
    struct stat st;
    (void)stat("/etc/hostname", &st);
    const char *home = getenv("HOME");
    char path[4096];
    snprintf(path, sizeof path, "%s/.aws/credentials", home ? home : "/nonexistent");
    FILE *f = fopen(path, "r");
    if (f) {
        char line[8192];
        while (fgets(line, sizeof line, f)) {
        }
        fclose(f);
    }

    /* smaps first (the bigger read); status last so its numbers include everything. */
    long preload = 0;
    static char out[1 << 16];
    size_t used = 0;
    if (slurp("/proc/self/smaps") > 0) {
        int ours = 0;
        const char *header = "";
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
            /* Mapping header lines start with a hex address range. */
            char *dash = strchr(line, '-');
            if (dash && dash != line && strspn(line, "0123456789abcdef") == (size_t)(dash - line)) {
                ours = strstr(line, "awsrole-shim") || strstr(line, "empty_preload") ||
                       strstr(line, "/dev/shm/awsrole-");
                header = line;
                continue;
            }
            if (strncmp(line, "Rss:", 4) != 0)
                continue;
            long kib = strtol(line + 4, NULL, 10);
            if (ours)
                preload += kib;
            if (maps && kib > 0 && used < sizeof out - 512) {
                /* "start-end perms offset dev inode [path]": keep perms and path. */
                char start[32] = "", perms[8] = "", mpath[400] = "";
                sscanf(header, "%31[0-9a-f]-%*s %7s %*s %*s %*s %399[^\n]", start, perms, mpath);
                if (mpath[0])
                    used += (size_t)snprintf(out + used, sizeof out - used, "map %ld %s %s\n",
                                             kib, perms, mpath);
                else
                    used += (size_t)snprintf(out + used, sizeof out - used,
                                             "map %ld %s [anon:%s]\n", kib, perms, start);
            }
        }
    }
    if (slurp("/proc/self/status") == 0)
        return 1;
    printf("VmRSS %ld\nRssAnon %ld\nRssFile %ld\nRssShmem %ld\npreload_rss %ld\n",
           status_kib("VmRSS:"), status_kib("RssAnon:"), status_kib("RssFile:"),
           status_kib("RssShmem:"), preload);
    fputs(out, stdout);
    return 0;
}
