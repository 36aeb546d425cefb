/* front.c - the statically linked launcher hands runs and renewals to awsrole-run-full
 * (see front.h). */
#include "front.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "creds_json.h"
#include "dynamic_only.h"
#include "export.h"
#include "fileio.h"
#include "handover.h"

extern char **environ;

#define COMPANION "awsrole-run-full"
#define MAX_ANSWER (256 * 1024)

static char **front_argv;
static const char *front_code;

bool awsr_front_is_static(void)
{
    return !awsr_dlopen_available();
}

const char *awsr_self_path(void)
{
    /* On the heap, and read through a small buffer first: a PATH_MAX buffer, static or
     * on the stack, would be a page of its own to fault in. */
    static char *self;
    if (!self) {
        char small[256];
        ssize_t n = readlink("/proc/self/exe", small, sizeof small);
        if (n > 0 && (size_t)n < sizeof small) {
            self = strndup(small, (size_t)n);
        } else if (n > 0 && (self = malloc(PATH_MAX))) {
            n = readlink("/proc/self/exe", self, PATH_MAX);
            self[n > 0 && n < PATH_MAX ? n : 0] = '\0'; /* a cut path: unknown */
        }
        if (!self)
            return "";
    }
    return self;
}

char *awsr_front_find_beside(const char *name)
{
    const char *self = awsr_self_path();
    const char *slash = strrchr(self, '/');
    if (!slash)
        return NULL;
    int dir_len = (int)(slash - self);
    const char *candidates[] = {"%.*s/%s", "%.*s/../lib/awsrole/%s"};
    for (size_t i = 0; i < 2; i++) {
        char *path;
        if (asprintf(&path, candidates[i], dir_len, self, name) < 0)
            return NULL;
        if (access(path, R_OK) == 0) {
            /* The directory of /proc/self/exe is already canonical: beside it, only the
             * file itself may be a link (one readlink instead of one per component). */
            char target[1];
            if (i == 0 && readlink(path, target, sizeof target) < 0 && errno == EINVAL)
                return path;
            char *real = realpath(path, NULL);
            if (real) {
                free(path);
                return real;
            }
        }
        free(path);
    }
    return NULL;
}

/* Passes the code on a pipe whose read end the companion inherits; -1 without a code. */
static int code_pipe(void)
{
    if (!front_code || !*front_code)
        return -1;
    int p[2];
    if (pipe(p))
        return -1;
    if (awsr_write_all(p[1], front_code, strlen(front_code))) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    close(p[1]);
    return p[0];
}

/* Execs the companion; never returns: a run the static launcher cannot finish ends here,
 * before the prompt, process or network call it was about to make. */
static _Noreturn void exec_companion(const char *why)
{
    char *full = awsr_front_find_beside(COMPANION);
    int e = ENOENT;
    if (full) {
        const char *self = awsr_self_path();
        int fd = code_pipe();
        char num[16];
        snprintf(num, sizeof num, "%d", fd);
        if ((fd < 0 || setenv(AWSR_FRONT_CODE_FD_ENV, num, 1) == 0) &&
            (!self[0] || setenv(AWSR_FRONT_SELF_ENV, self, 1) == 0)) {
            /* Lines held so far are said again by the companion. */
            awsr_log_discard();
            fflush(stdout);
            execve(full, front_argv, environ);
        }
        e = errno;
        unsetenv(AWSR_FRONT_CODE_FD_ENV);
        unsetenv(AWSR_FRONT_SELF_ENV);
        if (fd >= 0)
            close(fd);
    }
    awsr_front_settle();
    if (full)
        awsr_log("cannot run %s (needed for %s): %s; reinstall awsrole-run", full, why,
                 strerror(e));
    else
        awsr_log("%s, which does what this statically linked awsrole-run cannot (here: %s), "
                 "was not found beside awsrole-run or in ../lib/awsrole/; reinstall awsrole-run",
                 COMPANION, why);
    free(full);
    exit(AWSR_E_OTHER);
}

void awsr_front_begin(char **argv, const char *code)
{
    front_argv = argv;
    front_code = code;
    awsr_log_hold();
    awsr_handover_arm(exec_companion);
}

_Noreturn void awsr_front_handover_now(const char *why)
{
    exec_companion(why);
}

void awsr_front_settle(void)
{
    awsr_handover_arm(NULL);
    awsr_log_release();
}

bool awsr_front_take_code(char *code, size_t n)
{
    const char *v = getenv(AWSR_FRONT_CODE_FD_ENV);
    if (!v)
        return false;
    char *end;
    long fd = strtol(v, &end, 10);
    unsetenv(AWSR_FRONT_CODE_FD_ENV);
    struct stat st;
    /* Only the pipe the static launcher made: never the terminal or a file. */
    if (*end || fd < 3 || fd > INT_MAX || fstat((int)fd, &st) || !S_ISFIFO(st.st_mode))
        return false;
    size_t got = awsr_read_upto((int)fd, code, n - 1);
    code[got] = '\0';
    close((int)fd);
    return got > 0;
}

/* ---- renewals through the companion ---- */

/* A memory file holding text, at descriptor 10 or above (clear of 0-4, see below);
 * -1 on failure. */
static int memory_file(const char *name, const char *text, size_t len)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    if (high >= 0 && len && awsr_write_all(high, text, len)) {
        close(high);
        return -1;
    }
    return high;
}

/* The companion reads the config and credentials files as the launcher read them at its
 * start (as a dynamic launcher keeps its plan for the whole run): from memory files at
 * descriptors 3 and 4. A file that did not exist stays as it is. */
static int snapshot_files(const struct awsr_config *cfg, struct awsr_envp *env,
                          posix_spawn_file_actions_t *fa, int fds[2])
{
    const char *text[2] = {cfg->config_found ? cfg->config_text : NULL,
                           cfg->credentials_found ? cfg->credentials_text : NULL};
    size_t len[2] = {cfg->config_len, cfg->credentials_len};
    const char *var[2] = {"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"};
    for (int i = 0; i < 2; i++) {
        if (!text[i])
            continue;
        fds[i] = memory_file(i ? "awsrole-credentials" : "awsrole-config", text[i], len[i]);
        char path[32];
        snprintf(path, sizeof path, "/dev/fd/%d", AWSR_FRONT_SNAPSHOT_FD0 + i);
        if (fds[i] < 0 || posix_spawn_file_actions_adddup2(fa, fds[i], AWSR_FRONT_SNAPSHOT_FD0 + i) ||
            awsr_envp_set(env, var[i], path))
            return -1;
    }
    return 0;
}

static int spawn_resolver(const char *full, const struct awsr_resolver *res, int flags,
                          int out_fd, pid_t *pid)
{
    struct awsr_envp env;
    char num[16];
    snprintf(num, sizeof num, "%d", flags);
    if (awsr_envp_init(&env, environ) || awsr_envp_set(&env, AWSR_FRONT_RESOLVE_ENV, num) ||
        awsr_envp_set(&env, AWSR_FRONT_SESSION_ENV, res[0].session_name) ||
        awsr_envp_set(&env, AWSR_FRONT_CODE_FD_ENV, NULL)) {
        awsr_envp_free(&env);
        return ENOMEM;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    /* stdout first: the pipe may sit at 3 or 4, which the snapshots take next. */
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
    int fds[2] = {-1, -1};
    int rc = res[0].cfg && snapshot_files(res[0].cfg, &env, &fa, fds) ? EIO : 0;
    posix_spawnattr_init(&at);
    /* The supervisor blocks the signals it forwards; the companion starts clean, in a
     * process group of its own: a Ctrl-C meant for the command does not cut a renewal. */
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    if (rc == 0)
        rc = posix_spawn(pid, full, &fa, &at, front_argv, env.v);
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    awsr_envp_free(&env);
    return rc;
}

/* Reads the companion's whole answer; NULL when it is larger than MAX_ANSWER. */
static char *read_answer(int fd, size_t *len)
{
    char *buf = malloc(MAX_ANSWER + 2);
    if (!buf)
        return NULL;
    *len = awsr_read_upto(fd, buf, MAX_ANSWER + 1);
    if (*len > MAX_ANSWER) {
        explicit_bzero(buf, *len);
        free(buf);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

static int parse_answer(const char *text, size_t len, size_t n, struct awsr_creds *creds,
                        struct awsr_error *err)
{
    json_t *root = awsr_creds_json_load(text, len, COMPANION ": ", "its answer", err);
    if (!root)
        return -1;
    int rc = 0;
    json_t *e = json_object_get(root, "Error");
    json_t *list = json_object_get(root, "Credentials");
    if (e) {
        json_int_t status = json_integer_value(json_object_get(e, "Status"));
        const char *code = json_string_value(json_object_get(e, "Code"));
        const char *msg = json_string_value(json_object_get(e, "Message"));
        awsr_error_set(err, status >= AWSR_E_USAGE && status <= AWSR_E_OTHER ? (int)status : AWSR_E_OTHER,
                       "%s", msg ? msg : "renewal failed");
        snprintf(err->code, sizeof err->code, "%s", code ? code : "");
        rc = -1;
    } else if (!json_is_array(list) || json_array_size(list) != n) {
        rc = awsr_error_set(err, AWSR_E_OTHER, "%s: an answer without the credentials", COMPANION);
    } else {
        struct awsr_creds got[n];
        memset(got, 0, sizeof got);
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = awsr_creds_json_fill(json_array_get(list, i), "SessionToken", COMPANION ": ",
                                      &got[i], err);
        for (size_t i = 0; i < n; i++) {
            if (rc == 0) {
                awsr_creds_clear(&creds[i]);
                creds[i] = got[i];
            } else {
                awsr_creds_clear(&got[i]);
            }
        }
    }
    awsr_json_wipe_free(root);
    return rc;
}

int awsr_front_resolve(const struct awsr_resolver *res, size_t n, int flags,
                       struct awsr_creds *creds, struct awsr_error *err)
{
    char *full = awsr_front_find_beside(COMPANION);
    if (!full)
        return awsr_error_set(err, AWSR_E_OTHER,
                              "%s was not found beside awsrole-run or in ../lib/awsrole/; "
                              "reinstall awsrole-run", COMPANION);
    int p[2];
    if (pipe2(p, O_CLOEXEC)) {
        free(full);
        return awsr_error_set(err, AWSR_E_OTHER, "pipe: %s", strerror(errno));
    }
    pid_t pid;
    int rc = spawn_resolver(full, res, flags, p[1], &pid);
    close(p[1]);
    if (rc) {
        close(p[0]);
        awsr_error_set(err, AWSR_E_OTHER, "cannot run %s: %s", full, strerror(rc));
        free(full);
        return -1;
    }
    free(full);
    size_t len = 0;
    char *answer = read_answer(p[0], &len);
    close(p[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!answer)
        return awsr_error_set(err, AWSR_E_OTHER, "%s: no readable answer", COMPANION);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (len == 0)
        /* It failed before resolving (its message is above): a configuration or usage
         * error stays one, anything else may pass. */
        rc = awsr_error_set(err, code >= AWSR_E_USAGE && code <= AWSR_E_SERVICE ? code : AWSR_E_OTHER,
                            "%s ended without an answer (status %d)", COMPANION, code);
    else
        rc = parse_answer(answer, len, n, creds, err);
    explicit_bzero(answer, len);
    free(answer);
    return rc;
}

/* ---- the companion's side ---- */

int awsr_front_serve(struct awsr_resolver *res, size_t n)
{
    const char *v = getenv(AWSR_FRONT_RESOLVE_ENV);
    if (!v)
        return -1;
    int flags = atoi(v);
    const char *session = getenv(AWSR_FRONT_SESSION_ENV);
    /* The tree keeps its role session name across renewals. */
    for (size_t i = 0; session && *session && i < n; i++) {
        char *copy = strdup(session);
        if (copy) {
            free(res[i].session_name);
            res[i].session_name = copy;
        }
    }
    struct awsr_error err = {0};
    struct awsr_creds creds[n];
    memset(creds, 0, sizeof creds);
    json_t *root = json_object();
    json_t *list = json_array();
    int status = 0;
    for (size_t i = 0; i < n && status == 0; i++) {
        if (awsr_resolve(&res[i], flags, &creds[i], &err) == 0)
            json_array_append_new(list, awsr_export_creds_json(&creds[i], false));
        else
            status = err.status ? err.status : AWSR_E_OTHER;
    }
    if (status) {
        json_decref(list);
        json_object_set_new(root, "Error", json_pack("{s:i, s:s, s:s}", "Status", status,
                                                     "Code", err.code, "Message", err.message));
    } else {
        json_object_set_new(root, "Credentials", list);
    }
    size_t need = json_dumpb(root, NULL, 0, JSON_COMPACT);
    char *text = need ? malloc(need) : NULL;
    if (!text || json_dumpb(root, text, need, JSON_COMPACT) != need ||
        awsr_write_all(STDOUT_FILENO, text, need))
        status = AWSR_E_OTHER;
    if (text) {
        explicit_bzero(text, need);
        free(text);
    }
    awsr_json_wipe_free(root);
    for (size_t i = 0; i < n; i++)
        awsr_creds_clear(&creds[i]);
    return status;
}
