/* mfa.c - an MFA code from --mfa-code, $AWSROLE_MFA_CODE, the profile's mfa_process, or a
 * prompt on /dev/tty with echo off. Never stdin, never echoed, wiped after use. */
#include "mfa.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "fileio.h"
#include "handover.h"
#include "signal_exit.h"
#include "sources.h"
#include "sts_params.h"

#define MFA_PROCESS_TIMEOUT_MS 120000
#define PROMPT_TRIES 3

static const char *env_code(void)
{
    return awsr_env_nonempty("AWSROLE_MFA_CODE");
}

static bool has_noninteractive(const struct awsr_mfa_request *rq)
{
    return (rq->cli_code && *rq->cli_code) || env_code() ||
           (rq->mfa_process && *rq->mfa_process);
}

static int no_terminal(const struct awsr_mfa_request *rq, struct awsr_error *err)
{
    return awsr_error_set(err, AWSR_E_CONFIG,
                          "MFA code required for %s but there is no terminal to ask on; pass "
                          "--mfa-code, set AWSROLE_MFA_CODE, or configure mfa_process in the "
                          "profile",
                          rq->serial ? rq->serial : "");
}

/* Codes from non-interactive sources must be printable (they end up in a form field), as
 * long as botocore's check of TokenCode requires, and 6 digits. */
static int take_code(const char *src, const char *what, char code[AWSR_MFA_CODE_MAX],
                     struct awsr_error *err)
{
    size_t n = strlen(src);
    if (n == 0)
        return awsr_error_set(err, AWSR_E_CONFIG, "the MFA code from %s is empty", what);
    if (n >= AWSR_MFA_CODE_MAX)
        return awsr_error_set(err, AWSR_E_CONFIG, "the MFA code from %s is too long", what);
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)src[i]))
            return awsr_error_set(err, AWSR_E_CONFIG,
                                  "the MFA code from %s contains invalid characters", what);
    struct awsr_param_report r = {0};
    awsr_param_min_len(&r, "TokenCode", src, AWSR_MIN_TOKEN_CODE);
    if (awsr_param_report_error(&r, AWSR_E_CONFIG, err) < 0)
        return -1;
    /* STS takes 6 digits only, and its ValidationError would quote the code back. */
    if (n != 6 || strspn(src, "0123456789") != 6)
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "the MFA code from %s must be the 6 digits the MFA device shows",
                              what);
    memcpy(code, src, n + 1);
    return 0;
}

/* ------------------------------------------------------------------------------------ */

static int run_mfa_process(const struct awsr_mfa_request *rq, char code[AWSR_MFA_CODE_MAX],
                           struct awsr_error *err)
{
    static const char prefix[] = "mfa_process: ";
    /* Same process group as us: the helper may need the terminal ("touch your key"). */
    struct awsr_proc_opts opts = {.timeout_ms = MFA_PROCESS_TIMEOUT_MS,
                                  .capture_stderr = false, .stderr_to_tty = true,
                                  .own_pgrp = false};
    struct awsr_proc_result res;
    int rc = awsr_process_run_command(rq->mfa_process, &opts, &res, prefix, err);
    if (rc)
        return -1;
    if (res.timed_out) {
        rc = awsr_error_set(err, AWSR_E_CONFIG, "mfa_process timed out after %ld ms and was "
                            "killed", awsr_process_timeout_ms(MFA_PROCESS_TIMEOUT_MS));
    } else if (res.out_overflow) {
        rc = awsr_error_set(err, AWSR_E_CONFIG, "mfa_process wrote too much to stdout");
    } else if (WIFSIGNALED(res.wstatus)) {
        rc = awsr_error_set(err, AWSR_E_CONFIG, "mfa_process was killed by signal %d",
                            WTERMSIG(res.wstatus));
    } else if (WEXITSTATUS(res.wstatus) != 0) {
        rc = awsr_error_set(err, AWSR_E_CONFIG, "mfa_process failed with exit status %d",
                            WEXITSTATUS(res.wstatus));
    } else {
        char *s = res.out;
        size_t n = res.out_len;
        if (strlen(s) != n) {
            rc = awsr_error_set(err, AWSR_E_CONFIG, "the MFA code from mfa_process contains "
                                "invalid characters");
        } else {
            while (n > 0 && isspace((unsigned char)s[n - 1]))
                s[--n] = '\0';
            while (isspace((unsigned char)*s))
                s++;
            rc = take_code(s, "mfa_process", code, err);
        }
    }
    awsr_proc_result_free(&res);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* The prompt. A signal while echo is off restores the terminal from this saved copy.   */

static volatile sig_atomic_t g_tty_fd = -1;
static struct termios g_saved;
/* A job-control stop (Ctrl-Z) that came during the prompt, 0 when none. */
static volatile sig_atomic_t g_stop_sig;

/* Restores the terminal, then dies of the same signal, so that a shell loop calling
 * awsrole-run stops on a Ctrl-C at the prompt as it would for any command. (No tree exists
 * before the first resolution; the process is not dumpable, so SIGQUIT leaves no core.) */
static void prompt_signal(int sig)
{
    int fd = g_tty_fd;
    if (fd >= 0) {
        tcsetattr(fd, TCSAFLUSH, &g_saved);
        (void)!write(fd, "\n", 1);
    }
    awsr_die_of_signal(sig);
}

/* Ctrl-Z (or a read or mode change from the background): the terminal gets its echo back
 * at once; the read is interrupted, and prompt_once stops the process for real, then
 * turns echo off and asks again when it is continued (as readpassphrase does). */
static void prompt_stop(int sig)
{
    int saved = errno;
    int fd = g_tty_fd;
    if (fd >= 0)
        tcsetattr(fd, TCSANOW, &g_saved);
    g_stop_sig = sig;
    errno = saved;
}

static const int g_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NSIG_HANDLED (sizeof g_signals / sizeof *g_signals)
/* Fatal by default: handled (restore, then die) only while nobody else handles them (the
 * supervisor forwards some of them to the tree in --lazy mode). */
static const int g_default_fatal[] = {SIGALRM, SIGUSR1, SIGUSR2, SIGVTALRM, SIGPROF, SIGXCPU};
#define NSIG_FATAL (sizeof g_default_fatal / sizeof *g_default_fatal)
static const int g_stops[] = {SIGTSTP, SIGTTIN, SIGTTOU};
#define NSIG_STOPS (sizeof g_stops / sizeof *g_stops)

struct prompt_handlers {
    struct sigaction old[NSIG_HANDLED], old_fatal[NSIG_FATAL], old_stops[NSIG_STOPS];
    bool fatal_set[NSIG_FATAL], stop_set[NSIG_STOPS];
};

/* Installs `sa` for `sig` only over the default disposition (someone else's handler, or
 * SIG_IGN, stays); true when installed, *old keeping what to put back. */
static bool install_over_default(int sig, const struct sigaction *sa, struct sigaction *old)
{
    sigaction(sig, NULL, old);
    if (old->sa_handler != SIG_DFL || (old->sa_flags & SA_SIGINFO))
        return false;
    sigaction(sig, sa, NULL);
    return true;
}

static void install_handlers(struct prompt_handlers *h)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = prompt_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NSIG_HANDLED; i++)
        sigaction(g_signals[i], &sa, &h->old[i]);
    for (size_t i = 0; i < NSIG_FATAL; i++)
        h->fatal_set[i] = install_over_default(g_default_fatal[i], &sa, &h->old_fatal[i]);
    /* No SA_RESTART: the read must return. The three stops are blocked in the handler, so
     * its tcsetattr from the background raises no SIGTTOU. */
    struct sigaction st;
    memset(&st, 0, sizeof st);
    st.sa_handler = prompt_stop;
    sigemptyset(&st.sa_mask);
    for (size_t i = 0; i < NSIG_STOPS; i++)
        sigaddset(&st.sa_mask, g_stops[i]);
    for (size_t i = 0; i < NSIG_STOPS; i++)
        h->stop_set[i] = install_over_default(g_stops[i], &st, &h->old_stops[i]);
}

static void remove_handlers(const struct prompt_handlers *h)
{
    for (size_t i = 0; i < NSIG_HANDLED; i++)
        sigaction(g_signals[i], &h->old[i], NULL);
    for (size_t i = 0; i < NSIG_FATAL; i++)
        if (h->fatal_set[i])
            sigaction(g_default_fatal[i], &h->old_fatal[i], NULL);
    for (size_t i = 0; i < NSIG_STOPS; i++)
        if (h->stop_set[i])
            sigaction(g_stops[i], &h->old_stops[i], NULL);
}

/* Stops the process with `sig` as if the prompt had not caught it; returns once it is
 * continued. */
static void stop_for_real(int sig)
{
    struct sigaction dfl, old;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, &old);
    sigset_t one, saved;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, &saved);
    kill(getpid(), sig);
    sigprocmask(SIG_SETMASK, &saved, NULL);
    sigaction(sig, &old, NULL);
}

/* Best effort: a prompt that cannot be shown is no reason to fail. */
static void tty_write(int fd, const char *s)
{
    /* Not awsr_write_all: from the background with `stty tostop`, each try raises a
     * SIGTTOU that interrupts it; once a stop is pending, the write waits for `fg`. */
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR && !g_stop_sig) {
            continue;
        } else {
            return;
        }
    }
}

/* Reads one line into buf (newline dropped). 1 a line, 0 EOF before any byte, -1 error.
 * A line longer than the buffer is consumed and reported with *too_long. */
static int tty_read_line(int fd, char *buf, size_t sz, bool *too_long)
{
    size_t n = 0;
    *too_long = false;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR && g_stop_sig) {
            explicit_bzero(buf, sz);
            return -2; /* stopped: the caller asks again once continued */
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) {
            buf[n < sz ? n : sz - 1] = '\0';
            return n > 0 || *too_long ? 1 : 0;
        }
        if (c == '\n')
            break;
        if (n + 1 < sz)
            buf[n++] = c;
        else
            *too_long = true;
        explicit_bzero(&c, 1);
    }
    buf[n] = '\0';
    return 1;
}

static bool six_digits(const char *s)
{
    for (int i = 0; i < 6; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return s[6] == '\0';
}

static void strip_spaces(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t lead = strspn(s, " \t\r\f\v");
    memmove(s, s + lead, n - lead + 1);
}

/* One prompt with echo off. 1 a line read, 0 EOF, -1 error (err set). */
static int prompt_once(int fd, const char *prompt, char *line, size_t sz,
                       struct awsr_error *err)
{
    bool tty_ok = tcgetattr(fd, &g_saved) == 0, installed = tty_ok;
    struct prompt_handlers h;
    g_stop_sig = 0;
    if (installed) {
        g_tty_fd = fd;
        install_handlers(&h);
    }
    bool too_long;
    int r, e;
    for (;;) {
        /* Echo off before the prompt appears (as getpass): a code typed as soon as the
         * prompt shows is neither echoed nor flushed away by TCSAFLUSH. */
        if (tty_ok) {
            struct termios t = g_saved;
            t.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(fd, TCSAFLUSH, &t);
        }
        if (!g_stop_sig)
            tty_write(fd, prompt);
        r = g_stop_sig ? -2 : tty_read_line(fd, line, sz, &too_long);
        e = errno;
        if (r != -2)
            break;
        /* Ctrl-Z: the handler gave the terminal its echo back; stop, and on `fg` ask
         * again from the start (what was typed before is dropped). The newline only in
         * the foreground: from the background it would raise SIGTTOU again. */
        int sig = g_stop_sig;
        g_stop_sig = 0;
        if (sig == SIGTSTP)
            tty_write(fd, "\n");
        stop_for_real(sig);
        if (tcgetattr(fd, &g_saved) != 0)
            tty_ok = false;
    }
    if (tty_ok)
        tcsetattr(fd, TCSAFLUSH, &g_saved);
    if (installed) {
        g_tty_fd = -1;
        remove_handlers(&h);
        /* A Ctrl-Z that came after the line was read still stops the process. */
        int late = g_stop_sig;
        g_stop_sig = 0;
        if (late)
            kill(getpid(), late);
    }
    tty_write(fd, "\n");
    if (r < 0)
        return awsr_error_set(err, AWSR_E_OTHER, "cannot read the MFA code from the terminal: "
                              "%s", strerror(e));
    if (too_long)
        line[0] = 'x'; /* certainly not six digits */
    return r;
}

/* With --lazy the prompt comes while the command runs, and an interactive shell in the
 * tree may hold the terminal as its own foreground group: the code typed would go to the
 * shell (and its history). The launcher takes the foreground for the prompt and gives it
 * back after. SIGTTOU is blocked meanwhile: a background group may not otherwise change
 * it. Returns the group to give it back to, or -1 when nothing was changed. */
static bool g_owned_terminal; /* awsr_mfa_note_terminal_owner */

void awsr_mfa_note_terminal_owner(void)
{
    int fd = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return;
    g_owned_terminal = tcgetpgrp(fd) == getpgrp();
    close(fd);
}

static pid_t take_foreground(int fd, sigset_t *saved)
{
    pid_t fg = tcgetpgrp(fd), me = getpgrp();
    if (!g_owned_terminal || fg < 0 || fg == me)
        return -1; /* not ours to take, not our controlling terminal, or ours already */
    sigset_t ttou;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, saved);
    if (tcsetpgrp(fd, me) != 0) {
        sigprocmask(SIG_SETMASK, saved, NULL);
        return -1;
    }
    return fg;
}

static void give_back_foreground(int fd, pid_t fg, const sigset_t *saved)
{
    if (fg < 0)
        return;
    (void)tcsetpgrp(fd, fg);
    sigprocmask(SIG_SETMASK, saved, NULL);
}

static int prompt_code(const struct awsr_mfa_request *rq, char code[AWSR_MFA_CODE_MAX],
                       struct awsr_error *err)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return no_terminal(rq, err);
    sigset_t saved;
    pid_t fg = take_foreground(fd, &saved);
    char serial[512], prompt[600], line[64];
    awsr_sanitize(serial, sizeof serial, rq->serial ? rq->serial : "");
    snprintf(prompt, sizeof prompt, "Enter MFA code for %s: ", serial);
    int rc = -1;
    for (int tries = 0; tries < PROMPT_TRIES; tries++) {
        int r = prompt_once(fd, prompt, line, sizeof line, err);
        if (r < 0)
            break;
        if (r == 0) {
            awsr_error_set(err, AWSR_E_CONFIG, "no MFA code was entered");
            break;
        }
        strip_spaces(line);
        if (six_digits(line)) {
            memcpy(code, line, 7);
            rc = 0;
            break;
        }
        tty_write(fd, "awsrole-run: the MFA code must be 6 digits\n");
        if (tries + 1 == PROMPT_TRIES)
            awsr_error_set(err, AWSR_E_CONFIG, "no valid MFA code was entered for %s (the code "
                           "must be 6 digits)", rq->serial ? rq->serial : "");
    }
    explicit_bzero(line, sizeof line);
    give_back_foreground(fd, fg, &saved);
    close(fd);
    return rc;
}

/* ------------------------------------------------------------------------------------ */

int awsr_mfa_get_code(const struct awsr_mfa_request *rq, char code[AWSR_MFA_CODE_MAX],
                      struct awsr_error *err)
{
    code[0] = '\0';
    awsr_handover("an MFA code");
    if (rq->attempt > 0) {
        /* STS rejected the code: asking a fixed source again would only repeat it. */
        if (has_noninteractive(rq))
            return -1;
        return prompt_code(rq, code, err);
    }
    if (rq->cli_code && *rq->cli_code)
        return take_code(rq->cli_code, "--mfa-code", code, err);
    const char *env = env_code();
    if (env)
        return take_code(env, "AWSROLE_MFA_CODE", code, err);
    if (rq->mfa_process && *rq->mfa_process) {
        int rc = run_mfa_process(rq, code, err);
        if (rc)
            explicit_bzero(code, AWSR_MFA_CODE_MAX);
        return rc;
    }
    return prompt_code(rq, code, err);
}

bool awsr_mfa_available(const struct awsr_mfa_request *rq)
{
    if (rq->attempt == 0 && has_noninteractive(rq))
        return true;
    if (rq->attempt > 0 && has_noninteractive(rq))
        return false;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}
