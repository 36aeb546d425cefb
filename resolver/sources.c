/* sources.c - the first credentials of a plan: static keys, the environment,
 * credential_process, IMDS, the container endpoint and web identity, with botocore's
 * messages. Also the shell-style splitter and the child-process runner that mfa.c shares. */
#include "sources.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "curl_dl.h"
#include "http.h"

#define PROCESS_PREFIX "Error when retrieving credentials from custom-process: "
#define NO_CREDS_FMT \
    "Error when retrieving credentials from %s: No credentials found in credential_source " \
    "referenced in profile %s"

static const char *profile_name(const struct awsr_source *src)
{
    return src->profile ? src->profile : "default";
}

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

/* In the child between fork and exec: only async-signal-safe calls. */
static void child_exec(char *const argv[], const struct awsr_proc_opts *o, int out_w,
                       int err_w, int status_w)
{
    if (o->own_pgrp)
        setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (dup2(out_w, STDOUT_FILENO) < 0 || (err_w >= 0 && dup2(err_w, STDERR_FILENO) < 0)) {
        int e = errno;
        (void)!write(status_w, &e, sizeof e);
        _exit(127);
    }
    execvp(argv[0], argv);
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

int awsr_process_run(char *const argv[], const struct awsr_proc_opts *opts,
                     struct awsr_proc_result *res, const char *what, struct awsr_error *err)
{
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
    pid_t pid = fork();
    if (pid == 0)
        child_exec(argv, opts, out_p[1], err_p[1], st_p[1]);
    int fork_errno = errno;
    close(out_p[1]);
    close(st_p[1]);
    if (err_p[1] >= 0)
        close(err_p[1]);
    if (pid < 0) {
        close(out_p[0]);
        close(st_p[0]);
        if (err_p[0] >= 0)
            close(err_p[0]);
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
    close(out_p[0]);
    if (err_p[0] >= 0)
        close(err_p[0]);
    res->out[res->out_len] = '\0';
    if (res->err)
        res->err[res->err_len] = '\0';
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* JSON documents: credential_process output and container/IMDS responses.             */

/* jansson frees without wiping: clear every string of the document first. */
static void json_wipe(json_t *j)
{
    if (json_is_string(j)) {
        explicit_bzero((char *)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) json_wipe(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) json_wipe(v);
    }
}

static void json_wipe_free(json_t *j)
{
    if (j) {
        json_wipe(j);
        json_decref(j);
    }
}

/* Loads an object. The parser's own message can quote input text (a secret), so only
 * the position is reported. */
static json_t *load_object(const char *json, size_t len, const char *prefix, const char *what,
                           struct awsr_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
    if (!root) {
        awsr_error_set(err, AWSR_E_CONFIG,
                       "%s%s is not valid JSON (line %d, column %d)", prefix, what,
                       jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_wipe_free(root);
        awsr_error_set(err, AWSR_E_CONFIG, "%s%s is not a JSON object", prefix, what);
        return NULL;
    }
    return root;
}

/* A string member: 1 found, 0 absent or null, -1 wrong type (err set). */
static int get_string(json_t *obj, const char *key, const char **out, const char *prefix,
                      struct awsr_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        awsr_error_set(err, AWSR_E_CONFIG, "%sthe value of '%s' must be a string", prefix,
                       key);
        return -1;
    }
    *out = json_string_value(v);
    return 1;
}

/* Python's repr-like text of a Version value for the "Unsupported version" message. */
static void version_text(json_t *v, char *buf, size_t sz)
{
    if (!v) {
        snprintf(buf, sz, "<Version key not provided>");
    } else if (json_is_string(v)) {
        snprintf(buf, sz, "%.64s", json_string_value(v));
    } else if (json_is_true(v)) {
        snprintf(buf, sz, "True");
    } else if (json_is_false(v)) {
        snprintf(buf, sz, "False");
    } else if (json_is_null(v)) {
        snprintf(buf, sz, "None");
    } else if (json_is_integer(v)) {
        snprintf(buf, sz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        snprintf(buf, sz, "%.17g", d);
        if (!strpbrk(buf, ".eEn")) /* 2.0 prints as 2 in C, 2.0 in Python */
            strncat(buf, ".0", sz - strlen(buf) - 1);
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, sz, "%.64s", s ? s : "?");
        free(s);
    }
}

/* token_key: "SessionToken" (credential_process) or "Token" (container, IMDS). */
static int fill_creds(json_t *root, const char *token_key, const char *prefix,
                      struct awsr_creds *out, struct awsr_error *err)
{
    const char *akid, *secret, *token, *exp, *account;
    static const char *const required[] = {"AccessKeyId", "SecretAccessKey"};
    for (size_t i = 0; i < 2; i++) {
        if (!json_object_get(root, required[i]))
            return awsr_error_set(err, AWSR_E_CONFIG,
                                  "%sMissing required key in response: '%s'", prefix,
                                  required[i]);
    }
    if (get_string(root, "AccessKeyId", &akid, prefix, err) < 0 ||
        get_string(root, "SecretAccessKey", &secret, prefix, err) < 0 ||
        get_string(root, token_key, &token, prefix, err) < 0 ||
        get_string(root, "Expiration", &exp, prefix, err) < 0 ||
        get_string(root, "AccountId", &account, prefix, err) < 0)
        return -1;
    if (!akid || !*akid || !secret || !*secret)
        return awsr_error_set(err, AWSR_E_CONFIG, "%s'%s' is empty", prefix,
                              !akid || !*akid ? "AccessKeyId" : "SecretAccessKey");
    time_t expiration = 0;
    if (exp && awsr_time_parse(exp, &expiration) != 0)
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "%sthe Expiration '%.64s' is not an ISO 8601 time", prefix, exp);
    struct awsr_creds c = {0};
    if (awsr_creds_set(&c, akid, secret, token && *token ? token : NULL, expiration) ||
        (account && *account && !(c.account_id = strdup(account)))) {
        awsr_creds_clear(&c);
        return awsr_error_set(err, AWSR_E_OTHER, "%sout of memory", prefix);
    }
    awsr_creds_clear(out);
    *out = c;
    return 0;
}

int awsr_process_parse_output(const char *json, size_t len, struct awsr_creds *out,
                              struct awsr_error *err)
{
    json_t *root = load_object(json, len, PROCESS_PREFIX, "the process output", err);
    if (!root)
        return -1;
    json_t *ver = json_object_get(root, "Version");
    int rc;
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        char vt[96];
        version_text(ver, vt, sizeof vt);
        rc = awsr_error_set(err, AWSR_E_CONFIG,
                            PROCESS_PREFIX "Unsupported version '%s' for credential process "
                                           "provider, supported versions: 1",
                            vt);
    } else {
        rc = fill_creds(root, "SessionToken", PROCESS_PREFIX, out, err);
    }
    json_wipe_free(root);
    return rc;
}

int awsr_metadata_parse_creds(const char *json, size_t len, struct awsr_creds *out,
                              struct awsr_error *err)
{
    json_t *root = load_object(json, len, "", "the credentials document", err);
    if (!root)
        return -1;
    int rc;
    json_t *code = json_object_get(root, "Code"); /* IMDS only */
    if (json_is_string(code) && strcmp(json_string_value(code), "Success") != 0) {
        rc = awsr_error_set(err, AWSR_E_CONFIG, "the metadata service answered Code '%.64s'",
                            json_string_value(code));
    } else {
        rc = fill_creds(root, "Token", "", out, err);
    }
    json_wipe_free(root);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* STATIC and ENVIRONMENT                                                                */

static int fetch_static(const struct awsr_source *src, struct awsr_creds *out,
                        struct awsr_error *err)
{
    if (!src->creds.access_key_id || !*src->creds.access_key_id)
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "Partial credentials found in profile %s, missing: "
                              "aws_access_key_id",
                              profile_name(src));
    if (!src->creds.secret_access_key || !*src->creds.secret_access_key)
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "Partial credentials found in profile %s, missing: "
                              "aws_secret_access_key",
                              profile_name(src));
    if (awsr_creds_copy(out, &src->creds))
        return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    return 0;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int fetch_env(const struct awsr_source *src, struct awsr_creds *out,
                     struct awsr_error *err)
{
    const char *akid = env_nonempty("AWS_ACCESS_KEY_ID");
    if (!akid)
        return awsr_error_set(err, AWSR_E_CONFIG, NO_CREDS_FMT, "Environment",
                              profile_name(src));
    const char *secret = env_nonempty("AWS_SECRET_ACCESS_KEY");
    if (!secret)
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "Partial credentials found in env, missing: "
                              "AWS_SECRET_ACCESS_KEY");
    const char *token = env_nonempty("AWS_SECURITY_TOKEN");
    if (!token)
        token = env_nonempty("AWS_SESSION_TOKEN");
    time_t expiration = 0;
    const char *exp = env_nonempty("AWS_CREDENTIAL_EXPIRATION");
    if (exp && awsr_time_parse(exp, &expiration) != 0)
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "AWS_CREDENTIAL_EXPIRATION '%.64s' is not an ISO 8601 time", exp);
    struct awsr_creds c = {0};
    const char *account = env_nonempty("AWS_ACCOUNT_ID");
    if (awsr_creds_set(&c, akid, secret, token, expiration) ||
        (account && !(c.account_id = strdup(account)))) {
        awsr_creds_clear(&c);
        return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    }
    awsr_creds_clear(out);
    *out = c;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* credential_process                                                                    */

static void strip(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t lead = strspn(s, " \t\r\n\f\v");
    memmove(s, s + lead, n - lead + 1);
}

static int fetch_process(const struct awsr_source *src, struct awsr_creds *out,
                         struct awsr_error *err)
{
    char **argv;
    if (awsr_shell_split(src->process_command, &argv, PROCESS_PREFIX, err))
        return -1;
    struct awsr_proc_opts opts = {.timeout_ms = AWSR_PROCESS_TIMEOUT_MS,
                                  .capture_stderr = true, .own_pgrp = true};
    struct awsr_proc_result res;
    int rc = awsr_process_run(argv, &opts, &res, PROCESS_PREFIX, err);
    awsr_argv_free(argv);
    if (rc)
        return -1;
    long timeout = awsr_process_timeout_ms(AWSR_PROCESS_TIMEOUT_MS);
    if (res.timed_out) {
        rc = awsr_error_set(err, AWSR_E_CONFIG,
                            PROCESS_PREFIX "the process timed out after %ld ms and was killed",
                            timeout);
    } else if (res.out_overflow) {
        rc = awsr_error_set(err, AWSR_E_CONFIG,
                            PROCESS_PREFIX "the process wrote more than %d bytes to stdout",
                            AWSR_PROCESS_MAX_STDOUT);
    } else if (WIFSIGNALED(res.wstatus) || WEXITSTATUS(res.wstatus) != 0) {
        strip(res.err);
        if (*res.err)
            rc = awsr_error_set(err, AWSR_E_CONFIG, PROCESS_PREFIX "%s", res.err);
        else if (WIFSIGNALED(res.wstatus))
            rc = awsr_error_set(err, AWSR_E_CONFIG, PROCESS_PREFIX "the process was killed by "
                                "signal %d", WTERMSIG(res.wstatus));
        else
            rc = awsr_error_set(err, AWSR_E_CONFIG, PROCESS_PREFIX "the process exited with "
                                "status %d", WEXITSTATUS(res.wstatus));
    } else {
        rc = awsr_process_parse_output(res.out, res.out_len, out, err);
        /* botocore refuses these too ("...refreshed credentials are still expired"): a
         * child handed them would only meet ExpiredToken errors later. */
        if (rc == 0 && out->expiration != 0 && out->expiration <= time(NULL)) {
            char when[32];
            awsr_time_format(out->expiration, when, sizeof when);
            awsr_creds_clear(out);
            rc = awsr_error_set(err, AWSR_E_CONFIG,
                                PROCESS_PREFIX "the credentials it returned expired at %s", when);
        }
    }
    awsr_proc_result_free(&res);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Container endpoint                                                                    */

bool awsr_container_host_allowed(const char *host)
{
    if (!host)
        return false;
    static const char *const allowed[] = {"169.254.170.2", "169.254.170.23", "fd00:ec2::23",
                                          "localhost"};
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
        if (strcmp(host, allowed[i]) == 0)
            return true;
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char loop6[16] = {[15] = 1};
        return memcmp(a, loop6, 16) == 0;
    }
    return false;
}

int awsr_container_check_url(const char *url, struct awsr_error *err)
{
    const struct awsr_curl *cu = awsr_curl(err);
    if (!cu)
        return -1;
    CURLU *u = cu->url();
    char *scheme = NULL, *host = NULL;
    int rc = 0;
    if (!u || cu->url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        cu->url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        cu->url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        rc = awsr_error_set(err, AWSR_E_CONFIG,
                            "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a valid URL");
        goto out;
    }
    if (strcasecmp(scheme, "https") == 0)
        goto out;
    if (strcasecmp(scheme, "http") != 0) {
        rc = awsr_error_set(err, AWSR_E_CONFIG,
                            "AWS_CONTAINER_CREDENTIALS_FULL_URI must be an http or https URL");
        goto out;
    }
    /* As urlparse().hostname: brackets dropped, lower case. */
    char name[256];
    size_t hl = strlen(host);
    const char *h = host;
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        h = host + 1;
        hl -= 2;
    }
    if (hl >= sizeof name)
        hl = sizeof name - 1;
    for (size_t i = 0; i < hl; i++)
        name[i] = (char)tolower((unsigned char)h[i]);
    name[hl] = '\0';
    char *pct = strchr(name, '%'); /* IPv6 zone id */
    if (pct && strchr(name, ':'))
        *pct = '\0';
    if (!awsr_container_host_allowed(name))
        rc = awsr_error_set(err, AWSR_E_CONFIG,
                            "Unsupported host '%s'.  Can only retrieve metadata from a loopback "
                            "address or one of these hosts: 169.254.170.2, 169.254.170.23, "
                            "fd00:ec2::23, localhost",
                            name);
out:
    cu->free(scheme);
    cu->free(host);
    cu->url_cleanup(u);
    return rc;
}

/* Reads a small file whole (NUL-terminated). 0 or -1 with errno. */
static int read_small_file(const char *path, size_t cap, char **out, size_t *len)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            explicit_bzero(buf, n);
            free(buf);
            close(fd);
            errno = e;
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap) {
            char extra;
            if (read(fd, &extra, 1) > 0) {
                explicit_bzero(buf, n);
                free(buf);
                close(fd);
                errno = EFBIG;
                return -1;
            }
            break;
        }
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

#define CONTAINER_PREFIX "Error when retrieving credentials from container-role: "

/* The Authorization value, or NULL when none is configured. -1 on a bad token. */
static int container_auth(char **header, struct awsr_error *err)
{
    *header = NULL;
    const char *file = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *value = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    char *token = NULL;
    size_t len = 0;
    if (file) {
        if (read_small_file(file, 16384, &token, &len))
            return awsr_error_set(err, AWSR_E_CONFIG,
                                  CONTAINER_PREFIX "cannot read the authorization token file "
                                                   "%s: %s",
                                  file, strerror(errno));
    } else if (value) {
        if (!(token = strdup(value)))
            return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
        len = strlen(token);
    } else {
        return 0;
    }
    if (strpbrk(token, "\r\n") || strlen(token) != len) {
        awsr_secret_free(token);
        return awsr_error_set(err, AWSR_E_CONFIG,
                              CONTAINER_PREFIX "Auth token value is not a legal header value");
    }
    size_t hl = len + sizeof "Authorization: ";
    *header = malloc(hl);
    if (*header)
        snprintf(*header, hl, "Authorization: %s", token);
    awsr_secret_free(token);
    return *header ? 0 : awsr_error_set(err, AWSR_E_OTHER, "out of memory");
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int fetch_container(const struct awsr_source *src, struct awsr_creds *out,
                           struct awsr_error *err)
{
    const char *rel = env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    char url[4096];
    if (rel) {
        snprintf(url, sizeof url, "http://169.254.170.2%s", rel);
    } else if (full) {
        if (awsr_container_check_url(full, err))
            return -1;
        snprintf(url, sizeof url, "%s", full);
    } else {
        return awsr_error_set(err, AWSR_E_CONFIG, NO_CREDS_FMT, "EcsContainer",
                              profile_name(src));
    }
    char *auth = NULL; /* botocore sends it with the relative URI too */
    if (container_auth(&auth, err))
        return -1;
    const char *headers[3] = {"Accept: application/json", auth, NULL};
    struct awsr_http_request rq = {.method = "GET", .url = url, .headers = headers,
                                   .connect_timeout_ms = 1000, .timeout_ms = 2000};
    struct awsr_error last = {0};
    int rc = -1;
    for (int attempt = 0; attempt < 3 && rc != 0; attempt++) {
        if (attempt > 0)
            sleep_ms(1000);
        struct awsr_http_response rs = {0};
        awsr_error_clear(&last);
        if (awsr_http_send(&rq, &rs, &last) == 0) {
            if (rs.status != 200)
                awsr_error_set(&last, AWSR_E_OTHER,
                               "Error retrieving metadata: Received non 200 response %ld from "
                               "container metadata",
                               rs.status);
            else if (awsr_metadata_parse_creds(rs.body, rs.body_len, out, &last) == 0)
                rc = 0;
        }
        if (rs.body)
            explicit_bzero(rs.body, rs.body_len);
        awsr_http_response_free(&rs);
    }
    awsr_secret_free(auth);
    if (rc)
        return awsr_error_set(err, last.status ? last.status : AWSR_E_OTHER,
                              CONTAINER_PREFIX "%s", last.message);
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* IMDS (v2 session token, v1 fallback when the token call is not supported)           */

static int imds_get(const char *base, const char *path, const char *token,
                    struct awsr_http_response *rs)
{
    char url[2048], tokhdr[1200];
    size_t bl = strlen(base);
    snprintf(url, sizeof url, "%s%s%s", base, bl && base[bl - 1] == '/' ? "" : "/", path);
    const char *headers[2] = {NULL, NULL};
    if (token) {
        snprintf(tokhdr, sizeof tokhdr, "X-aws-ec2-metadata-token: %s", token);
        headers[0] = tokhdr;
    }
    struct awsr_http_request rq = {.method = "GET", .url = url, .headers = headers,
                                   .connect_timeout_ms = 300, .timeout_ms = 1000};
    struct awsr_error e = {0};
    int rc = awsr_http_send(&rq, rs, &e);
    explicit_bzero(tokhdr, sizeof tokhdr);
    return rc == 0 && rs->status == 200 ? 0 : -1;
}

static int fetch_imds(const struct awsr_source *src, struct awsr_creds *out,
                      struct awsr_error *err)
{
    const char *disabled = getenv("AWS_EC2_METADATA_DISABLED");
    if (disabled && strcasecmp(disabled, "true") == 0)
        return awsr_error_set(err, AWSR_E_CONFIG, NO_CREDS_FMT, "Ec2InstanceMetadata",
                              profile_name(src));
    const char *base = env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!base) {
        const char *mode = env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
        base = mode && strcasecmp(mode, "ipv6") == 0 ? "http://[fd00:ec2::254]/"
                                                     : "http://169.254.169.254/";
    }
    char url[2048], token[1024] = "";
    size_t bl = strlen(base);
    snprintf(url, sizeof url, "%s%slatest/api/token", base,
             bl && base[bl - 1] == '/' ? "" : "/");
    const char *th[] = {"x-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
    struct awsr_http_request rq = {.method = "PUT", .url = url, .headers = th,
                                   .connect_timeout_ms = 300, .timeout_ms = 1000};
    struct awsr_http_response rs = {0};
    struct awsr_error e = {0};
    bool have_token = false;
    int rc = -1;
    if (awsr_http_send(&rq, &rs, &e) != 0)
        goto fail; /* unreachable: one attempt only */
    if (rs.status == 200 && rs.body_len > 0 && rs.body_len < sizeof token &&
        !strpbrk(rs.body, "\r\n")) {
        memcpy(token, rs.body, rs.body_len + 1);
        have_token = true;
    } else if (rs.status != 404 && rs.status != 405 && rs.status != 400) {
        goto fail; /* 403: IMDS disabled; others: give up as botocore does */
    }
    awsr_http_response_free(&rs);
    if (imds_get(base, "latest/meta-data/iam/security-credentials/",
                 have_token ? token : NULL, &rs))
        goto fail;
    char role[256];
    size_t rl = strcspn(rs.body, "\r\n");
    if (rl == 0 || rl >= sizeof role)
        goto fail;
    memcpy(role, rs.body, rl);
    role[rl] = '\0';
    awsr_http_response_free(&rs);
    char path[512];
    snprintf(path, sizeof path, "latest/meta-data/iam/security-credentials/%s", role);
    if (imds_get(base, path, have_token ? token : NULL, &rs))
        goto fail;
    rc = awsr_metadata_parse_creds(rs.body, rs.body_len, out, &e);
fail:
    if (rs.body)
        explicit_bzero(rs.body, rs.body_len);
    awsr_http_response_free(&rs);
    explicit_bzero(token, sizeof token);
    if (rc)
        return awsr_error_set(err, AWSR_E_CONFIG, NO_CREDS_FMT, "Ec2InstanceMetadata",
                              profile_name(src));
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Web identity                                                                          */

static int fetch_web_identity(const struct awsr_source *src, struct awsr_sts_client *sts,
                              struct awsr_creds *out, struct awsr_error *err)
{
    if (!src->role_arn || !*src->role_arn)
        return awsr_error_set(
            err, AWSR_E_CONFIG,
            "The provided profile or the current environment is configured to assume role "
            "with web identity but has no role ARN configured. Ensure that the profile has "
            "the role_arnconfiguration set or the AWS_ROLE_ARN env var is set.");
    if (!src->web_identity_token_file || !*src->web_identity_token_file)
        return awsr_error_set(err, AWSR_E_CONFIG, "no web identity token file is configured");
    if (!sts)
        return awsr_error_set(err, AWSR_E_OTHER, "internal error: no STS client for web identity");
    char *token;
    size_t len;
    if (read_small_file(src->web_identity_token_file, 1024 * 1024, &token, &len))
        return awsr_error_set(err, AWSR_E_CONFIG, "cannot read the web identity token file %s: %s",
                              src->web_identity_token_file,
                              errno == EFBIG ? "file too large" : strerror(errno));
    if (len == 0) {
        free(token);
        return awsr_error_set(err, AWSR_E_CONFIG, "the web identity token file %s is empty",
                              src->web_identity_token_file);
    }
    char session[64];
    const char *name = src->role_session_name;
    if (!name || !*name) {
        snprintf(session, sizeof session, "awsrole-run-%lld", (long long)time(NULL));
        name = session;
    }
    int rc = awsr_sts_assume_role_with_web_identity(sts, src->role_arn, name, token,
                                                    src->duration_seconds, out, err);
    awsr_secret_free(token);
    return rc;
}

int awsr_source_fetch(const struct awsr_source *src, struct awsr_sts_client *sts,
                      struct awsr_creds *out, struct awsr_error *err)
{
    switch (src->kind) {
    case AWSR_SRC_STATIC:
        return fetch_static(src, out, err);
    case AWSR_SRC_ENVIRONMENT:
        return fetch_env(src, out, err);
    case AWSR_SRC_IMDS:
        return fetch_imds(src, out, err);
    case AWSR_SRC_CONTAINER:
        return fetch_container(src, out, err);
    case AWSR_SRC_PROCESS:
        return fetch_process(src, out, err);
    case AWSR_SRC_WEB_IDENTITY:
        return fetch_web_identity(src, sts, out, err);
    }
    return awsr_error_set(err, AWSR_E_OTHER, "internal error: unknown credential source %d",
                          (int)src->kind);
}
