/* process.c - the child processes of credential_process and mfa_process: command lines
 * split as Python's shlex.split (no shell), output captured with caps and a deadline. */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <termios.h>
#include <unistd.h>

#include "handover.h"

/* ------------------------------------------------------------------------------------ */
/* Shell-style splitting: Python's shlex.split(s) (posix=True, whitespace_split=True,    */
/* commenters='').                                                                        */

struct words {
    char **v;
    size_t n, cap;
};

static int words_push(struct words *w, const char *s, size_t len)
{
    if (w->n + 2 > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8;
        char **v = realloc(w->v, cap * sizeof *v);
        if (!v)
            return -1;
        w->v = v;
        w->cap = cap;
    }
    char *copy = strndup(s, len);
    if (!copy)
        return -1;
    w->v[w->n++] = copy;
    w->v[w->n] = NULL;
    return 0;
}

void awsr_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}

static bool shlex_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int awsr_shell_split(const char *cmd, char ***argv_out, const char *what,
                     struct awsr_error *err)
{
    *argv_out = NULL;
    size_t len = cmd ? strlen(cmd) : 0;
    char *tok = malloc(len + 1); /* a word is never longer than the input */
    if (!tok)
        return awsr_error_set(err, AWSR_E_OTHER, "%sout of memory", what);
    struct words w = {0};
    size_t tl = 0;
    bool quoted = false;
    char state = ' ', escaped_from = 0;
    const char *reason = NULL;
    for (size_t i = 0;; i++) {
        char c = i < len ? cmd[i] : '\0';
        bool eof = i >= len;
        if (state == ' ' || state == 'a') {
            if (eof || shlex_space(c)) {
                if (state == 'a' && (tl > 0 || quoted)) {
                    if (words_push(&w, tok, tl))
                        goto oom;
                    tl = 0;
                    quoted = false;
                }
                state = ' ';
                if (eof)
                    break;
            } else if (c == '\\') {
                escaped_from = 'a';
                state = '\\';
            } else if (c == '\'' || c == '"') {
                state = c;
            } else {
                tok[tl++] = c;
                state = 'a';
            }
        } else if (state == '\'' || state == '"') {
            quoted = true;
            if (eof) {
                reason = "No closing quotation";
                break;
            }
            if (c == state) {
                state = 'a';
            } else if (c == '\\' && state == '"') {
                escaped_from = state;
                state = '\\';
            } else {
                tok[tl++] = c;
            }
        } else { /* after a backslash */
            if (eof) {
                reason = "No escaped character";
                break;
            }
            /* Inside double quotes only the quote and the backslash itself are escaped. */
            if (escaped_from == '"' && c != '\\' && c != '"')
                tok[tl++] = '\\';
            tok[tl++] = c;
            state = escaped_from;
        }
    }
    explicit_bzero(tok, len + 1);
    free(tok);
    if (reason) {
        awsr_argv_free(w.v);
        return awsr_error_set(err, AWSR_E_CONFIG, "%scannot split the command line: %s", what,
                              reason);
    }
    if (w.n == 0) {
        awsr_argv_free(w.v);
        return awsr_error_set(err, AWSR_E_CONFIG, "%sthe command is empty", what);
    }
    *argv_out = w.v;
    return 0;
oom:
    free(tok);
    awsr_argv_free(w.v);
    return awsr_error_set(err, AWSR_E_OTHER, "%sout of memory", what);
}

/* ------------------------------------------------------------------------------------ */
/* Child processes: stdout captured (capped), stderr captured or inherited, a deadline. */

long awsr_process_timeout_ms(long dflt)
{
    const char *hook = getenv("AWSR_PROCESS_TIMEOUT_MS");
    if (hook && *hook) {
        char *end;
        long v = strtol(hook, &end, 10);
        if (*end == '\0' && v > 0)
            return v;
    }
    return dflt;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void awsr_proc_result_free(struct awsr_proc_result *res)
{
    if (!res)
        return;
    if (res->out) {
        explicit_bzero(res->out, res->out_len);
        free(res->out);
    }
    if (res->err) {
        explicit_bzero(res->err, res->err_len);
        free(res->err);
    }
    memset(res, 0, sizeof *res);
}

/* The controlling terminal, when our process group is its foreground one; else -1. */
static int foreground_terminal(void)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0 && tcgetpgrp(fd) != getpgrp()) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* tcsetpgrp from a group that may be in the background: SIGTTOU blocked meanwhile. */
static void set_foreground(int tty, pid_t pgrp)
{
    sigset_t ttou, saved;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, &saved);
    (void)tcsetpgrp(tty, pgrp);
    sigprocmask(SIG_SETMASK, &saved, NULL);
}

/* The child's environment when it gets an MFA code: environ's entries without
 * AWSROLE_MFA_CODE (the launcher's own is wiped to empty), then AWSROLE_MFA_CODE=code.
 * Built before fork (malloc is not for the child); the parent wipes it once the child has
 * its copy. NULL when out of memory: the child then gets no code. */
#define MFA_CODE_ENTRY "AWSROLE_MFA_CODE="

extern char **environ;

static char **env_with_code(const char *code)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = malloc((n + 2) * sizeof *envp);
    size_t len = strlen(MFA_CODE_ENTRY) + strlen(code) + 1;
    char *entry = malloc(len);
    if (!envp || !entry) {
        free(envp);
        free(entry);
        return NULL;
    }
    snprintf(entry, len, "%s%s", MFA_CODE_ENTRY, code);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], MFA_CODE_ENTRY, strlen(MFA_CODE_ENTRY)) != 0)
            envp[k++] = environ[i];
    envp[k++] = entry;
    envp[k] = NULL;
    return envp;
}

static void env_with_code_free(char **envp)
{
    if (!envp)
        return;
    size_t k = 0;
    while (envp[k + 1])
        k++;
    explicit_bzero(envp[k], strlen(envp[k])); /* the code entry is the last */
    free(envp[k]);
    free(envp);
}

/* In the child between fork and exec: only async-signal-safe calls. */
static void child_exec(char *const argv[], const struct awsr_proc_opts *o, char **envp,
                       int tty, int out_w, int err_w, int status_w)
{
    if (o->own_pgrp)
        setpgid(0, 0);
    if (tty >= 0)
        set_foreground(tty, getpid()); /* before exec: no window for a SIGTTIN */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (dup2(out_w, STDOUT_FILENO) < 0 || (err_w >= 0 && dup2(err_w, STDERR_FILENO) < 0)) {
        int e = errno;
        (void)!write(status_w, &e, sizeof e);
        _exit(127);
    }
    execvpe(argv[0], argv, envp ? envp : environ);
    int e = errno;
    (void)!write(status_w, &e, sizeof e);
    _exit(127);
}

/* Reads what is available into buf (cap bytes max). Returns 1 at EOF/error, else 0.
 * Bytes past the cap are dropped and *overflow set. */
static int drain(int fd, char *buf, size_t *len, size_t cap, bool *overflow)
{
    char scratch[4096];
    for (;;) {
        char *dst = *len < cap ? buf + *len : scratch;
        size_t room = *len < cap ? cap - *len : sizeof scratch;
        ssize_t n = read(fd, dst, room);
        if (n > 0) {
            if (dst == scratch)
                *overflow = true;
            else
                *len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return 1;
    }
}

static void kill_child(pid_t pid, bool group)
{
    if (group)
        killpg(pid, SIGKILL);
    kill(pid, SIGKILL);
}

/* After the child: the terminal comes back to our group. A Ctrl-C the child's group got
 * there was meant for the whole run: this process ends of it too. */
static void take_back_terminal(int tty, int wstatus)
{
    if (tty < 0)
        return;
    set_foreground(tty, getpgrp());
    close(tty);
    if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGINT)
        raise(SIGINT);
}

int awsr_process_run(char *const argv[], const struct awsr_proc_opts *opts,
                     struct awsr_proc_result *res, const char *what, struct awsr_error *err)
{
    awsr_handover("a process");
    memset(res, 0, sizeof *res);
    long timeout = awsr_process_timeout_ms(opts->timeout_ms > 0 ? opts->timeout_ms
                                                                : AWSR_PROCESS_TIMEOUT_MS);
    int out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, st_p[2] = {-1, -1};
    res->out = malloc(AWSR_PROCESS_MAX_STDOUT + 1);
    res->err = opts->capture_stderr ? malloc(AWSR_PROCESS_MAX_STDERR + 1) : NULL;
    if (!res->out || (opts->capture_stderr && !res->err)) {
        awsr_proc_result_free(res);
        return awsr_error_set(err, AWSR_E_OTHER, "%sout of memory", what);
    }
    if (pipe2(out_p, O_CLOEXEC) || pipe2(st_p, O_CLOEXEC) ||
        (opts->capture_stderr && pipe2(err_p, O_CLOEXEC))) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (out_p[i] >= 0) close(out_p[i]);
            if (err_p[i] >= 0) close(err_p[i]);
            if (st_p[i] >= 0) close(st_p[i]);
        }
        awsr_proc_result_free(res);
        return awsr_error_set(err, AWSR_E_OTHER, "%scannot create a pipe: %s", what,
                              strerror(e));
    }
    int tty = opts->own_pgrp && opts->terminal ? foreground_terminal() : -1;
    char **envp = opts->mfa_code && *opts->mfa_code ? env_with_code(opts->mfa_code) : NULL;
    int tty_err = !opts->capture_stderr && opts->stderr_to_tty
                      ? open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC)
                      : -1;
    pid_t pid = fork();
    if (pid == 0)
        child_exec(argv, opts, envp, tty, out_p[1], tty_err >= 0 ? tty_err : err_p[1],
                   st_p[1]);
    int fork_errno = errno;
    if (tty_err >= 0)
        close(tty_err);
    env_with_code_free(envp);
    close(out_p[1]);
    close(st_p[1]);
    if (err_p[1] >= 0)
        close(err_p[1]);
    if (pid < 0) {
        close(out_p[0]);
        close(st_p[0]);
        if (err_p[0] >= 0)
            close(err_p[0]);
        if (tty >= 0)
            close(tty);
        awsr_proc_result_free(res);
        return awsr_error_set(err, AWSR_E_OTHER, "%scannot fork: %s", what,
                              strerror(fork_errno));
    }
    if (opts->own_pgrp)
        setpgid(pid, pid); /* also in the parent: no window where killpg misses it */

    /* The status pipe closes on a successful exec, or carries exec's errno. */
    int exec_errno = 0;
    ssize_t n;
    do {
        n = read(st_p[0], &exec_errno, sizeof exec_errno);
    } while (n < 0 && errno == EINTR);
    close(st_p[0]);
    if (n == (ssize_t)sizeof exec_errno) {
        close(out_p[0]);
        if (err_p[0] >= 0)
            close(err_p[0]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        take_back_terminal(tty, 0);
        awsr_proc_result_free(res);
        return awsr_error_set(err, AWSR_E_CONFIG, "%scannot run '%s': %s", what, argv[0],
                              strerror(exec_errno));
    }

    fcntl(out_p[0], F_SETFL, O_NONBLOCK);
    if (err_p[0] >= 0)
        fcntl(err_p[0], F_SETFL, O_NONBLOCK);
    bool out_open = true, err_open = err_p[0] >= 0, reaped = false, err_over = false;
    long deadline = now_ms() + timeout;
    for (;;) {
        /* The child may exit while a grandchild keeps the pipes open: look every 50 ms. */
        pid_t w = waitpid(pid, &res->wstatus, WNOHANG);
        if (w < 0 && errno == ECHILD) {
            /* Someone else (a SIGCHLD handler) reaped it: the status is lost; fail safe. */
            res->wstatus = 255 << 8;
            w = pid;
        }
        if (w == pid) {
            reaped = true;
            if (out_open)
                drain(out_p[0], res->out, &res->out_len, AWSR_PROCESS_MAX_STDOUT,
                      &res->out_overflow);
            if (err_open)
                drain(err_p[0], res->err, &res->err_len, AWSR_PROCESS_MAX_STDERR, &err_over);
            break;
        }
        long left = deadline - now_ms();
        if (left <= 0) {
            res->timed_out = true;
            break;
        }
        if (res->out_overflow)
            break;
        struct pollfd pf[2];
        int np = 0;
        if (out_open)
            pf[np++] = (struct pollfd){.fd = out_p[0], .events = POLLIN};
        if (err_open)
            pf[np++] = (struct pollfd){.fd = err_p[0], .events = POLLIN};
        int wait = left < 50 ? (int)left : 50;
        if (np == 0) {
            struct timespec ts = {0, (long)wait * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        if (poll(pf, (nfds_t)np, wait) < 0 && errno != EINTR)
            break;
        if (out_open && drain(out_p[0], res->out, &res->out_len, AWSR_PROCESS_MAX_STDOUT,
                              &res->out_overflow))
            out_open = false;
        if (err_open &&
            drain(err_p[0], res->err, &res->err_len, AWSR_PROCESS_MAX_STDERR, &err_over))
            err_open = false;
    }
    if (!reaped) {
        kill_child(pid, opts->own_pgrp);
        while (waitpid(pid, &res->wstatus, 0) < 0 && errno == EINTR)
            ;
    } else if (opts->own_pgrp) {
        killpg(pid, SIGKILL); /* stragglers of a finished credential_process */
    }
    take_back_terminal(tty, res->wstatus);
    close(out_p[0]);
    if (err_p[0] >= 0)
        close(err_p[0]);
    res->out[res->out_len] = '\0';
    if (res->err)
        res->err[res->err_len] = '\0';
    return 0;
}

int awsr_process_run_command(const char *cmd, const struct awsr_proc_opts *opts,
                             struct awsr_proc_result *res, const char *what,
                             struct awsr_error *err)
{
    char **argv;
    memset(res, 0, sizeof *res);
    if (awsr_shell_split(cmd, &argv, what, err))
        return -1;
    int rc = awsr_process_run(argv, opts, res, what, err);
    awsr_argv_free(argv);
    return rc;
}
