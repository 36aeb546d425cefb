/* segwriter - a stand-in launcher for tests: creates a segment with shim/segment.c,
 * publishes fake credentials, runs a command with AWSROLE_SEGMENT and LD_PRELOAD set,
 * waits for it, destroys the segment and exits with the command's status.
 *
 *   segwriter [OPTIONS] [--] COMMAND [ARG...]
 *   --akid X --secret Y --token Z   credentials (default $SEGW_AKID, $SEGW_SECRET,
 *                                   $SEGW_TOKEN, else fixed fakes); --token "" for none
 *   --region R --profile P          (default: no region; profile "segw")
 *   --also NAME                     serve another profile (same keys, "-NAME" appended)
 *   --expires-in SECS               expiration = now + SECS (default 3600; 0 = never)
 *   --flip-us N                     publish a new generation every N microseconds while the
 *                                   command runs; values then encode the generation:
 *                                   ASIAGEN<16 digits>, secret/<g>/..., token-<g>-xxx...
 *   --max-generations N             stop flipping after N generations
 *   --lazy                          publish only when a process asks (like --lazy)
 *   --lazy-delay-ms N               wait N ms after a request (a human typing the code)
 *   --lazy-fail                     answer requests with a failure
 *   --count-file PATH               append one line per resolution (prompt counting)
 *   --info-file PATH                write "name=..\ncredentials=..\n" once the segment exists
 *   --no-env                        credentials only through the shim, not the environment
 *                                   (the segment is flagged lazy, as a --lazy tree's is)
 *   --no-preload                    do not set LD_PRELOAD
 *   --shim PATH                     preload library (default: ../libawsrole-shim.so beside
 *                                   this program, or $AWSROLE_SHIM)
 * Signals INT, TERM, HUP are forwarded to the command; the segment is always destroyed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "creds.h"
#include "error.h"
#include "segment.h"

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int e = errno;
    unsigned char b = (unsigned char)sig;
    if (write(sig_pipe[1], &b, 1) < 0) {
        /* nothing to do: the pipe is full of the same news */
    }
    errno = e;
}

static void usage(void)
{
    fprintf(stderr, "usage: segwriter [OPTIONS] [--] COMMAND [ARG...] (see segwriter.c)\n");
    exit(2);
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v ? v : dflt;
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct opts {
    const char *akid, *secret, *token, *region, *profile, *shim;
    const char *also[8];
    int nalso;
    long expires_in;
    long flip_us;
    long max_generations;
    bool lazy, lazy_fail, no_env, no_preload;
    long lazy_delay_ms;
    const char *count_file, *info_file;
};

static unsigned long long generation;

/* Fills creds for one publish; in flip mode the generation is written into every value. */
static void make_creds(const struct opts *o, struct awsr_creds *c, char *akid, char *secret,
                       char *token)
{
    generation++;
    memset(c, 0, sizeof *c);
    c->expiration = o->expires_in ? time(NULL) + o->expires_in : 0;
    if (o->flip_us > 0) {
        snprintf(akid, 64, "ASIAGEN%016llu", generation);
        snprintf(secret, 128, "secret/%llu/", generation);
        size_t n = strlen(secret);
        if (n < 40)
            memset(secret + n, 's', 40 - n);
        secret[40] = '\0';
        int k = snprintf(token, 2048, "token-%llu-", generation);
        memset(token + k, 'x', 1500 - (size_t)k);
        token[1500] = '\0';
        c->access_key_id = akid;
        c->secret_access_key = secret;
        c->session_token = token;
    } else {
        c->access_key_id = (char *)o->akid;
        c->secret_access_key = (char *)o->secret;
        c->session_token = *o->token ? (char *)o->token : NULL;
    }
}

static int publish(struct awsr_segment *seg, const struct opts *o)
{
    static char akid[64], secret[128], token[2048];
    struct awsr_creds c, also_c[8];
    char also_akid[8][160];
    make_creds(o, &c, akid, secret, token);
    struct awsr_served served[9];
    served[0].profile = o->profile;
    served[0].creds = &c;
    for (int i = 0; i < o->nalso; i++) {
        also_c[i] = c;
        snprintf(also_akid[i], sizeof also_akid[i], "%s-%s", c.access_key_id, o->also[i]);
        also_c[i].access_key_id = also_akid[i];
        served[i + 1].profile = o->also[i];
        served[i + 1].creds = &also_c[i];
    }
    struct awsr_error err = {0};
    if (awsr_segment_publish(seg, *o->region ? o->region : NULL, served,
                             (size_t)o->nalso + 1, &err) < 0) {
        fprintf(stderr, "segwriter: publish: %s\n", err.message);
        return -1;
    }
    return 0;
}

static void count_resolution(const struct opts *o)
{
    if (!o->count_file)
        return;
    int fd = open(o->count_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (write(fd, "resolve\n", 8) != 8)
            fprintf(stderr, "segwriter: cannot write %s\n", o->count_file);
        close(fd);
    }
}

static void set_child_env(struct awsr_segment *seg, const struct opts *o)
{
    setenv("AWSROLE_SEGMENT", awsr_segment_name(seg), 1);
    setenv("AWSROLE_PROFILE", o->profile, 1);
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_DEFAULT_PROFILE");
    const char *vars[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                          "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    if (*o->region) {
        setenv("AWS_REGION", o->region, 1);
        setenv("AWS_DEFAULT_REGION", o->region, 1);
    }
    if (!o->no_env && !o->lazy && o->flip_us <= 0) {
        setenv("AWS_ACCESS_KEY_ID", o->akid, 1);
        setenv("AWS_SECRET_ACCESS_KEY", o->secret, 1);
        if (*o->token) {
            setenv("AWS_SESSION_TOKEN", o->token, 1);
            setenv("AWS_SECURITY_TOKEN", o->token, 1);
        }
        if (o->expires_in) {
            char buf[32];
            /* Expiration of the first generation, as published. */
            awsr_time_format(time(NULL) + o->expires_in, buf, sizeof buf);
            setenv("AWS_CREDENTIAL_EXPIRATION", buf, 1);
        }
    }
    if (!o->no_preload) {
        char shim[PATH_MAX];
        if (o->shim) {
            snprintf(shim, sizeof shim, "%s", o->shim);
        } else {
            char self[PATH_MAX - 64];
            ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
            self[n > 0 ? n : 0] = '\0';
            char *slash = strrchr(self, '/');
            if (slash)
                *slash = '\0';
            snprintf(shim, sizeof shim, "%s/../libawsrole-shim.so", self);
            char *real = realpath(shim, NULL);
            if (real) {
                snprintf(shim, sizeof shim, "%s", real);
                free(real);
            }
        }
        const char *old = getenv("LD_PRELOAD");
        if (old && *old) {
            size_t len = strlen(shim) + strlen(old) + 2;
            char *v = malloc(len);
            snprintf(v, len, "%s:%s", shim, old);
            setenv("LD_PRELOAD", v, 1);
            free(v);
        } else {
            setenv("LD_PRELOAD", shim, 1);
        }
    }
}

int main(int argc, char **argv)
{
    struct opts o = {
        .akid = env_or("SEGW_AKID", "AKIDSEGWRITER0001"),
        .secret = env_or("SEGW_SECRET", "segwriter/secret/0001"),
        .token = env_or("SEGW_TOKEN", "segwriter-token-0001"),
        .region = "",
        .profile = "segw",
        .shim = getenv("AWSROLE_SHIM"),
        .expires_in = 3600,
    };
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(flag) (strcmp(a, flag) == 0 && (v || (usage(), 0)) && ++i)
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (a[0] != '-') {
            break;
        } else if (ARG("--akid")) {
            o.akid = v;
        } else if (ARG("--secret")) {
            o.secret = v;
        } else if (ARG("--token")) {
            o.token = v;
        } else if (ARG("--region")) {
            o.region = v;
        } else if (ARG("--profile")) {
            o.profile = v;
        } else if (ARG("--also")) {
            if (o.nalso < 8)
                o.also[o.nalso++] = v;
        } else if (ARG("--expires-in")) {
            o.expires_in = atol(v);
        } else if (ARG("--flip-us")) {
            o.flip_us = atol(v);
        } else if (ARG("--max-generations")) {
            o.max_generations = atol(v);
        } else if (ARG("--lazy-delay-ms")) {
            o.lazy_delay_ms = atol(v);
        } else if (ARG("--count-file")) {
            o.count_file = v;
        } else if (ARG("--info-file")) {
            o.info_file = v;
        } else if (ARG("--shim")) {
            o.shim = v;
        } else if (strcmp(a, "--lazy") == 0) {
            o.lazy = true;
        } else if (strcmp(a, "--lazy-fail") == 0) {
            o.lazy_fail = true;
        } else if (strcmp(a, "--no-env") == 0) {
            o.no_env = true;
        } else if (strcmp(a, "--no-preload") == 0) {
            o.no_preload = true;
        } else {
            usage();
        }
#undef ARG
    }
    if (i >= argc)
        usage();

    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return 1;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    struct awsr_error err = {0};
    struct awsr_segment *seg;
    /* Values kept out of the environment (--no-env, --flip-us) are what a --lazy tree looks
     * like once resolved: absent from environ, yet the tree's. The segment says so (lazy
     * flag) even when it publishes at once; only --lazy waits for a request. */
    bool absent_env = o.lazy || o.no_env || o.flip_us > 0;
    if (awsr_segment_create(&seg, absent_env, &err) < 0) {
        fprintf(stderr, "segwriter: %s\n", err.message);
        return 1;
    }
    awsr_segment_sweep(); /* as the launcher does, once its command runs */
    if (!o.lazy && publish(seg, &o) < 0) {
        awsr_segment_destroy(seg);
        return 1;
    }
    if (o.info_file) {
        /* Written aside and renamed: tests poll for the file and read it at once. */
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", o.info_file);
        FILE *f = fopen(tmp, "w");
        if (f) {
            fprintf(f, "name=%s\ncredentials=%s\npid=%ld\n", awsr_segment_name(seg),
                    awsr_segment_credentials_path(seg), (long)getpid());
            if (fclose(f) == 0)
                rename(tmp, o.info_file);
        }
    }
    set_child_env(seg, &o);

    pid_t child = fork();
    if (child < 0) {
        awsr_segment_destroy(seg);
        return 1;
    }
    if (child == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        execvp(argv[i], argv + i);
        fprintf(stderr, "segwriter: %s: %s\n", argv[i], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }

    int status = 0;
    long long next_flip = now_us() + o.flip_us;
    for (;;) {
        pid_t w = waitpid(child, &status, WNOHANG);
        if (w == child)
            break;
        int timeout = 50;
        if (o.flip_us > 0 && (o.max_generations <= 0 || (long long)generation < o.max_generations)) {
            long long left = next_flip - now_us();
            if (left <= 0) {
                publish(seg, &o);
                next_flip = now_us() + o.flip_us;
                continue;
            }
            timeout = (int)(left / 1000);
            if (timeout > 50)
                timeout = 50;
        }
        struct pollfd p[2] = {{.fd = sig_pipe[0], .events = POLLIN},
                              {.fd = awsr_segment_request_fd(seg), .events = POLLIN}};
        int n = poll(p, o.lazy ? 2 : 1, timeout);
        if (n <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            unsigned char sig;
            while (read(sig_pipe[0], &sig, 1) == 1)
                kill(child, sig);
        }
        if (o.lazy && (p[1].revents & POLLIN) && awsr_segment_take_request(seg)) {
            if (o.lazy_delay_ms > 0) {
                struct timespec ts = {o.lazy_delay_ms / 1000, (o.lazy_delay_ms % 1000) * 1000000};
                nanosleep(&ts, NULL);
            }
            count_resolution(&o);
            if (o.lazy_fail)
                awsr_segment_publish_failure(seg);
            else
                publish(seg, &o);
        }
    }
    awsr_segment_destroy(seg);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
