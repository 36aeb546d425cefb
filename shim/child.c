/* child.c - environment, exec, signal forwarding and waiting. */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "signal_exit.h"

/* ---- environment ---- */

/* Appends an entry the array now owns, keeping the NULL terminator. */
static int envp_push(struct awsr_envp *e, char *entry)
{
    if (!entry)
        return -1;
    if (e->n + 2 > e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        char **v = realloc(e->v, cap * sizeof *v);
        if (!v) {
            free(entry);
            return -1;
        }
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = entry;
    e->v[e->n] = NULL;
    return 0;
}

int awsr_envp_init(struct awsr_envp *e, char *const *base)
{
    memset(e, 0, sizeof *e);
    for (size_t i = 0; base && base[i]; i++)
        if (envp_push(e, strdup(base[i])))
            return -1;
    if (!e->v && !(e->v = calloc(1, sizeof *e->v)))
        return -1;
    return 0;
}

void awsr_envp_free(struct awsr_envp *e)
{
    for (size_t i = 0; i < e->n; i++) {
        explicit_bzero(e->v[i], strlen(e->v[i]));
        free(e->v[i]);
    }
    free(e->v);
    memset(e, 0, sizeof *e);
}

static bool name_is(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

const char *awsr_envp_get(const struct awsr_envp *e, const char *name)
{
    for (size_t i = 0; i < e->n; i++)
        if (name_is(e->v[i], name))
            return e->v[i] + strlen(name) + 1;
    return NULL;
}

int awsr_envp_set(struct awsr_envp *e, const char *name, const char *value)
{
    size_t o = 0;
    for (size_t i = 0; i < e->n; i++) {
        if (name_is(e->v[i], name)) {
            explicit_bzero(e->v[i], strlen(e->v[i]));
            free(e->v[i]);
        } else {
            e->v[o++] = e->v[i];
        }
    }
    e->n = o;
    e->v[o] = NULL;
    if (!value)
        return 0;
    /* Built by hand: asprintf grows its buffer through blocks it frees unwiped, and the
     * value may be a secret. */
    size_t nl = strlen(name), vl = strlen(value);
    char *entry = malloc(nl + vl + 2);
    if (!entry)
        return -1;
    memcpy(entry, name, nl);
    entry[nl] = '=';
    memcpy(entry + nl + 1, value, vl + 1);
    return envp_push(e, entry);
}

/* Inherited variables that would contradict the tree's credentials: keys, and the other
 * credential sources an SDK could pick instead (container, web identity). */
static const char *const dropped[] = {
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION",
    "AWS_SESSION_EXPIRATION", "AWS_ACCOUNT_ID", "AWSROLE_PROFILE", "AWSROLE_SEGMENT",
    "AWSROLE_MFA_CODE", /* a one-time code is of no use to the child: do not spread it */
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
    "AWSROLE_PROCESS_CHAIN", /* only for the credential_process awsrole-run runs */
};

static int prepend_preload(struct awsr_envp *e, const char *shim)
{
    const char *old = awsr_envp_get(e, "LD_PRELOAD");
    /* Already first (a nested run): keep the list as it is. */
    size_t n = strlen(shim);
    if (old && strncmp(old, shim, n) == 0 && (old[n] == '\0' || old[n] == ':' || old[n] == ' '))
        return 0;
    char *v;
    if (asprintf(&v, "%s%s%s", shim, old && *old ? ":" : "", old ? old : "") < 0)
        return -1;
    int rc = awsr_envp_set(e, "LD_PRELOAD", v);
    free(v);
    return rc;
}

int awsr_child_env_apply(struct awsr_envp *e, const struct awsr_child_env *ce)
{
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
        awsr_envp_set(e, dropped[i], NULL);
    int rc = 0;
    const struct awsr_creds *c = ce->creds;
    if (c) {
        rc |= awsr_envp_set(e, "AWS_ACCESS_KEY_ID", c->access_key_id);
        rc |= awsr_envp_set(e, "AWS_SECRET_ACCESS_KEY", c->secret_access_key);
        if (c->session_token) {
            rc |= awsr_envp_set(e, "AWS_SESSION_TOKEN", c->session_token);
            rc |= awsr_envp_set(e, "AWS_SECURITY_TOKEN", c->session_token);
        }
        if (c->expiration) {
            char when[32];
            awsr_time_format(c->expiration, when, sizeof when);
            rc |= awsr_envp_set(e, "AWS_CREDENTIAL_EXPIRATION", when);
            rc |= awsr_envp_set(e, "AWS_SESSION_EXPIRATION", when);
        }
        if (c->account_id)
            rc |= awsr_envp_set(e, "AWS_ACCOUNT_ID", c->account_id);
    }
    if (ce->region) {
        rc |= awsr_envp_set(e, "AWS_REGION", ce->region);
        rc |= awsr_envp_set(e, "AWS_DEFAULT_REGION", ce->region);
    }
    if (ce->profile)
        rc |= awsr_envp_set(e, "AWSROLE_PROFILE", ce->profile);
    if (ce->segment)
        rc |= awsr_envp_set(e, "AWSROLE_SEGMENT", ce->segment);
    if (ce->shim)
        rc |= prepend_preload(e, ce->shim);
    return rc ? -1 : 0;
}

/* ---- exec ---- */

/* ENOENT for a file that exists: its "#!" line names a program that does not. */
static bool bad_interpreter(const char *cmd, int e)
{
    struct stat st;
    return e == ENOENT && strchr(cmd, '/') && stat(cmd, &st) == 0 && S_ISREG(st.st_mode);
}

static int exec_status(const char *cmd, int e)
{
    if (bad_interpreter(cmd, e))
        return 126; /* found, but it cannot run: as the shells say */
    return (e == ENOENT || e == ENOTDIR) ? 127 : 126;
}

static void report_exec_error(const char *cmd, int e)
{
    char clean[512];
    awsr_sanitize(clean, sizeof clean, cmd);
    if (bad_interpreter(cmd, e))
        fprintf(stderr, "awsrole-run: %s: cannot run it: bad interpreter (the program its "
                "\"#!\" line names does not exist)\n", clean);
    else if (e == ENOENT || e == ENOTDIR)
        fprintf(stderr, "awsrole-run: %s: command not found\n", clean);
    else
        fprintf(stderr, "awsrole-run: %s: cannot run it: %s\n", clean, strerror(e));
}

int awsr_child_exec(char *const argv[], char *const envp[])
{
    execvpe(argv[0], argv, envp);
    int e = errno;
    report_exec_error(argv[0], e);
    return exec_status(argv[0], e);
}

/* Every signal whose default would end the launcher without its clean-up (leaving the
 * segment and the credentials file, and the command without renewals) is passed on to the
 * command instead; the launcher then ends as the command does. */
static const int forwarded[] = {SIGTERM, SIGHUP,    SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
                                SIGINT,  SIGALRM,   SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ,
                                SIGIO,   SIGPWR};

/* The forwarded signals (and SIGCHLD) stay blocked from just before the command starts
 * until the supervisor's handlers are in place: a SIGTERM in between is then forwarded,
 * not fatal to awsrole-run alone. */
static void forwarded_set(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaddset(set, forwarded[i]);
    sigaddset(set, SIGCHLD);
}

/* vfork + execvpe: no copy of awsrole-run's memory (the child borrows it until it execs),
 * and PATH search and the "#!"-less script fallback of execvpe. glibc's posix_spawnp would
 * also reset every signal's disposition in the child, 64 pairs of sigaction calls that
 * cost more than the rest of the spawn here: awsrole-run has no handler installed at this
 * point (the supervisor installs them after), so nothing could run in the borrowed memory,
 * and ignored signals stay ignored across exec, as with fork + exec. The exec error comes
 * back through a close-on-exec pipe (also where vfork is a fork: valgrind), so 126/127
 * stay exact. The child calls only through pointers taken before vfork: a first call
 * through the PLT would run the dynamic linker's lazy binding in the borrowed memory. */
typedef int (*exec_fn)(const char *, char *const[], char *const[]);
typedef int (*mask_fn)(int, const sigset_t *, sigset_t *);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef void (*exit_fn)(int);

int awsr_child_spawn(char *const argv[], char *const envp[], pid_t *pid)
{
    exec_fn volatile do_exec = execvpe;
    mask_fn volatile do_mask = sigprocmask;
    write_fn volatile do_write = write;
    exit_fn volatile do_exit = _exit;
    int p[2];
    if (pipe2(p, O_CLOEXEC)) {
        perror("awsrole-run: pipe");
        return 255;
    }
    sigset_t block, none;
    forwarded_set(&block);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &block, NULL);
    fflush(NULL);
    pid_t c = vfork();
    if (c == 0) {
        do_mask(SIG_SETMASK, &none, NULL);
        do_exec(argv[0], argv, envp);
        int e = errno;
        ssize_t w = do_write(p[1], &e, sizeof e);
        (void)w;
        do_exit(127);
    }
    close(p[1]);
    if (c < 0) {
        perror("awsrole-run: vfork");
        close(p[0]);
        return 255;
    }
    int e = 0;
    ssize_t r;
    do
        r = read(p[0], &e, sizeof e);
    while (r < 0 && errno == EINTR);
    close(p[0]);
    if (r == (ssize_t)sizeof e) {
        waitpid(c, NULL, 0);
        report_exec_error(argv[0], e);
        return exec_status(argv[0], e);
    }
    *pid = c;
    return 0;
}

/* ---- supervision ---- */

static volatile sig_atomic_t child_pid;
static int wake_pipe[2] = {-1, -1};

static void on_forward(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    /* The terminal sends SIGINT and SIGQUIT to the whole foreground group, the child
     * included: sending them again would be a second Ctrl-C (terraform aborts on it). */
    bool from_kernel = si && si->si_code == SI_KERNEL;
    if (child_pid > 0 && !((sig == SIGINT || sig == SIGQUIT) && from_kernel))
        kill((pid_t)child_pid, sig);
    errno = saved;
}

static void on_sigpipe(int sig)
{
    (void)sig;
}

void awsr_child_survive_closed_readers(void)
{
    /* A reader of -v lines that went away (awsrole-run -v ... 2>&1 | head) must not end the
     * launcher, from its first log line on: writes then fail with EPIPE instead. A handler,
     * not SIG_IGN, so that the command and later children start with the default again
     * (exec resets handlers). */
    struct sigaction sp = {0};
    sp.sa_handler = on_sigpipe;
    sigemptyset(&sp.sa_mask);
    sigaction(SIGPIPE, &sp, NULL);
}

static void on_chld(int sig)
{
    (void)sig;
    int saved = errno;
    char b = 0;
    ssize_t w = write(wake_pipe[1], &b, 1);
    (void)w;
    errno = saved;
}

int awsr_child_supervise(pid_t pid, const struct awsr_supervisor *sup)
{
    child_pid = pid;
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK))
        wake_pipe[0] = wake_pipe[1] = -1;
    struct sigaction sa = {0};
    sa.sa_sigaction = on_forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaction(forwarded[i], &sa, NULL);
    awsr_child_survive_closed_readers();
    struct sigaction sc = {0};
    sc.sa_handler = on_chld;
    sc.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sc.sa_mask);
    sigaction(SIGCHLD, &sc, NULL);
    sigset_t block;
    forwarded_set(&block);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    if (sup->on_start)
        sup->on_start(sup->ctx);

    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            status = 255 << 8;
            break;
        }
        struct pollfd fds[3];
        nfds_t n = 0;
        fds[n++] = (struct pollfd){.fd = wake_pipe[0], .events = POLLIN};
        int i_watch = -1, i_watch2 = -1;
        if (sup && sup->watch_fd >= 0) {
            i_watch = (int)n;
            fds[n++] = (struct pollfd){.fd = sup->watch_fd, .events = POLLIN};
        }
        if (sup && sup->watch_fd2 >= 0) {
            i_watch2 = (int)n;
            fds[n++] = (struct pollfd){.fd = sup->watch_fd2, .events = POLLIN};
        }
        int timeout = -1;
        time_t deadline = sup && sup->next_deadline ? sup->next_deadline(sup->ctx) : 0;
        if (deadline) {
            time_t now = time(NULL);
            timeout = deadline <= now ? 0 : (int)((deadline - now) > 3600 ? 3600 : (deadline - now)) * 1000;
        }
        int r = poll(fds, n, timeout);
        if (r < 0 && errno != EINTR)
            continue;
        if (r > 0 && (fds[0].revents & POLLIN)) {
            char buf[64];
            while (read(wake_pipe[0], buf, sizeof buf) > 0) {
            }
        }
        if (r > 0 && i_watch >= 0 && (fds[i_watch].revents & (POLLIN | POLLHUP)))
            sup->on_watch(sup->ctx);
        if (r > 0 && i_watch2 >= 0 && (fds[i_watch2].revents & (POLLIN | POLLHUP)))
            sup->on_watch2(sup->ctx);
        if (deadline && time(NULL) >= deadline && sup->on_timer)
            sup->on_timer(sup->ctx);
    }
    child_pid = 0;
    return status;
}

void awsr_child_propagate(int wstatus)
{
    if (WIFEXITED(wstatus))
        exit(WEXITSTATUS(wstatus));
    if (WIFSIGNALED(wstatus)) {
        int sig = WTERMSIG(wstatus);
        /* Die of the same signal, but never dump a core holding credentials. */
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);
        fflush(NULL);
        awsr_die_of_signal(sig);
    }
    exit(255);
}
