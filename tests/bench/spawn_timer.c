/* spawn_timer - wall time and peak RSS of commands, run alternately.
 *
 *   spawn_timer [-r ROUNDS] [-w WARMUP] [-k] -- CMD0 [ARG...] [::: CMD1 [ARG...]] ...
 *
 * Each round runs every command once (posix_spawn, then wait4), in order on even rounds
 * and in reverse order on odd ones, so drift (caches, frequency, the mock's state) hits all
 * commands alike. A command may start with `@unset=NAME` or `@set=NAME=VALUE` tokens that
 * change only its own environment. Output, one line per measured run:
 *
 *   <command index> <round> <wall ns> <peak RSS KiB> <wait status> <minor page faults>
 *   <CPU ns (user + system)>
 *
 * The command's stdout and stderr go to /dev/null unless -k. The timer is a small C
 * program on purpose: its own fork/exec cost is the same for every command, and it adds
 * no interpreter noise. Peak RSS comes from wait4's rusage (the child and its waited-for
 * descendants), as do the minor page faults (on a virtual machine each one is expensive,
 * so they explain much of a start-up time) and the CPU time: on a loaded machine wall time
 * also counts the time spent waiting for a CPU, CPU time does not. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_CMDS 8

struct cmd {
    char **argv;
    char **envp;
};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void usage(void)
{
    fprintf(stderr, "usage: spawn_timer [-r ROUNDS] [-w WARMUP] [-k] -- CMD [ARG...] [::: CMD ...]\n");
    exit(2);
}

/* environ without NAME (and with NAME=VALUE appended for @set). */
static char **edit_env(char **base, const char *unset, const char *set)
{
    size_t n = 0;
    while (base[n])
        n++;
    char **out = calloc(n + 2, sizeof *out);
    if (!out)
        exit(2);
    size_t k = 0;
    const char *kill = unset ? unset : NULL;
    char setname[256] = "";
    if (set) {
        const char *eq = strchr(set, '=');
        if (!eq || (size_t)(eq - set) >= sizeof setname)
            usage();
        memcpy(setname, set, (size_t)(eq - set));
        setname[eq - set] = '\0';
    }
    for (size_t i = 0; i < n; i++) {
        const char *e = base[i];
        const char *eq = strchr(e, '=');
        size_t len = eq ? (size_t)(eq - e) : strlen(e);
        if (kill && strlen(kill) == len && strncmp(e, kill, len) == 0)
            continue;
        if (set && strlen(setname) == len && strncmp(e, setname, len) == 0)
            continue;
        out[k++] = base[i];
    }
    if (set)
        out[k++] = (char *)set;
    out[k] = NULL;
    return out;
}

static void run_one(const struct cmd *c, int keep, int index, int round, int record)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (!keep) {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    }
    pid_t pid;
    long long t0 = now_ns();
    int rc = posix_spawn(&pid, c->argv[0], &fa, NULL, c->argv, c->envp);
    if (rc != 0) {
        fprintf(stderr, "spawn_timer: %s: %s\n", c->argv[0], strerror(rc));
        exit(2);
    }
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("spawn_timer: wait4");
            exit(2);
        }
    }
    long long t1 = now_ns();
    posix_spawn_file_actions_destroy(&fa);
    if (record)
        printf("%d %d %lld %ld %d %ld %lld\n", index, round, t1 - t0, ru.ru_maxrss, status,
               ru.ru_minflt,
               (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
                   (long long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL);
}

int main(int argc, char **argv)
{
    int rounds = 10, warmup = 1, keep = 0, opt;
    while ((opt = getopt(argc, argv, "+r:w:k")) != -1) {
        switch (opt) {
        case 'r': rounds = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 'k': keep = 1; break;
        default: usage();
        }
    }
    if (optind < argc && strcmp(argv[optind], "--") == 0)
        optind++;
    if (optind >= argc || rounds < 1)
        usage();

    struct cmd cmds[MAX_CMDS];
    int ncmd = 0;
    for (int i = optind; i < argc;) {
        if (ncmd == MAX_CMDS)
            usage();
        char **envp = environ;
        while (i < argc && argv[i][0] == '@') {
            if (strncmp(argv[i], "@unset=", 7) == 0)
                envp = edit_env(envp, argv[i] + 7, NULL);
            else if (strncmp(argv[i], "@set=", 5) == 0)
                envp = edit_env(envp, NULL, argv[i] + 5);
            else
                usage();
            i++;
        }
        int start = i;
        while (i < argc && strcmp(argv[i], ":::") != 0)
            i++;
        if (i == start)
            usage();
        argv[i < argc ? i : argc] = NULL;   /* terminates this command's argv */
        cmds[ncmd].argv = &argv[start];
        cmds[ncmd].envp = envp;
        ncmd++;
        i++;
    }

    for (int r = -warmup; r < rounds; r++) {
        for (int j = 0; j < ncmd; j++) {
            int idx = ((r + warmup) % 2 == 0) ? j : ncmd - 1 - j;
            run_one(&cmds[idx], keep, idx, r, r >= 0);
        }
    }
    return 0;
}
