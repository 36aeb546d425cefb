/* test_mfa.c - MFA code sources: --mfa-code, $AWSROLE_MFA_CODE, mfa_process, in that
 * order; a failing mfa_process; no terminal (253 naming the three sources); a rejected
 * non-interactive code is not reused; and the /dev/tty prompt on a real pseudo-terminal
 * (exact prompt, echo off, sanitized serial, 6-digit check, EOF, Ctrl-C -> 130). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "error.h"
#include "mfa.h"

static void test_source_order(void **state)
{
    (void)state;
    char code[AWSR_MFA_CODE_MAX];
    struct awsr_error e = {0};
    struct awsr_mfa_request rq = {.serial = "arn:aws:iam::123456789012:mfa/u",
                                  .cli_code = "111111",
                                  .mfa_process = "echo 333333"};
    setenv("AWSROLE_MFA_CODE", "222222", 1);
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), 0);
    assert_string_equal(code, "111111");
    assert_true(awsr_mfa_available(&rq));
    rq.cli_code = "";
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), 0);
    assert_string_equal(code, "222222");
    rq.cli_code = NULL;
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), 0);
    assert_string_equal(code, "222222");
    setenv("AWSROLE_MFA_CODE", "", 1); /* empty: not set */
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), 0);
    assert_string_equal(code, "333333");
    unsetenv("AWSROLE_MFA_CODE");
    /* stdout trimmed; stderr goes to the terminal, not into the code. */
    rq.mfa_process = "sh -c 'echo touch your key >&2; printf \"  444444 \\n\\n\"'";
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), 0);
    assert_string_equal(code, "444444");
    assert_true(awsr_mfa_available(&rq));
}

static void test_mfa_process_failures(void **state)
{
    (void)state;
    char code[AWSR_MFA_CODE_MAX];
    struct awsr_error e = {0};
    struct awsr_mfa_request rq = {.serial = "s"};
    unsetenv("AWSROLE_MFA_CODE");
    rq.mfa_process = "sh -c 'echo 123456; exit 2'";
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), -1);
    assert_int_equal(e.status, AWSR_E_CONFIG);
    assert_string_equal(e.message, "mfa_process failed with exit status 2");
    assert_string_equal(code, "");
    rq.mfa_process = "true";
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), -1);
    assert_string_equal(e.message, "the MFA code from mfa_process is empty");
    rq.mfa_process = "echo 123 456";
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), -1);
    assert_string_equal(e.message, "the MFA code from mfa_process contains invalid characters");
    rq.mfa_process = "echo 12345"; /* botocore's minimum length for TokenCode */
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), -1);
    assert_string_equal(e.message, "Parameter validation failed: Invalid length for parameter "
                                   "TokenCode, value: 5, valid min length: 6");
    rq.mfa_process = "echo 1234567";
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), -1);
    assert_string_equal(e.message, "the MFA code from mfa_process must be the 6 digits the MFA "
                                   "device shows");
    rq.mfa_process = "echo 12345678901234567890";
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), -1);
    assert_string_equal(e.message, "the MFA code from mfa_process is too long");
    rq.mfa_process = "/nonexistent/otp-tool";
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), -1);
    assert_string_equal(e.message,
                        "mfa_process: cannot run '/nonexistent/otp-tool': No such file or "
                        "directory");
    rq.mfa_process = "sleep 30";
    setenv("AWSR_PROCESS_TIMEOUT_MS", "300", 1);
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), -1);
    unsetenv("AWSR_PROCESS_TIMEOUT_MS");
    assert_string_equal(e.message, "mfa_process timed out after 300 ms and was killed");
    rq.mfa_process = NULL;
    rq.cli_code = "12 456";
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), -1);
    assert_string_equal(e.message, "the MFA code from --mfa-code contains invalid characters");
}

static void test_retry_does_not_reuse_fixed_codes(void **state)
{
    (void)state;
    char code[AWSR_MFA_CODE_MAX];
    struct awsr_error e;
    awsr_error_service(&e, "AccessDenied", "STS said no");
    struct awsr_mfa_request rq = {.serial = "s", .cli_code = "123456", .attempt = 1};
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), -1);
    assert_int_equal(e.status, AWSR_E_SERVICE); /* the caller's STS error is kept */
    assert_string_equal(e.message, "STS said no");
    assert_false(awsr_mfa_available(&rq));
    rq.cli_code = NULL;
    setenv("AWSROLE_MFA_CODE", "123456", 1);
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), -1);
    assert_string_equal(e.message, "STS said no");
    unsetenv("AWSROLE_MFA_CODE");
    rq.mfa_process = "echo 123456";
    assert_int_equal(awsr_mfa_get_code(&rq, code, &e), -1);
    assert_string_equal(e.message, "STS said no");
}

/* ---- children: without a terminal, and on a pseudo-terminal ---------------------------- */

struct outcome {
    int rc;
    int status;
    int available;
    char code[AWSR_MFA_CODE_MAX];
    char message[1024];
};

static void child_get_code(int fd, const char *serial, int attempt)
{
    unsetenv("AWSROLE_MFA_CODE");
    struct outcome o = {0};
    struct awsr_mfa_request rq = {.serial = serial, .attempt = attempt};
    struct awsr_error e = {0};
    o.available = awsr_mfa_available(&rq);
    o.rc = awsr_mfa_get_code(&rq, o.code, &e);
    o.status = e.status;
    memcpy(o.message, e.message, sizeof o.message);
    (void)!write(fd, &o, sizeof o);
    _exit(0);
}

static void read_outcome(int fd, struct outcome *o)
{
    size_t got = 0;
    while (got < sizeof *o) {
        ssize_t n = read(fd, (char *)o + got, sizeof *o - got);
        if (n <= 0)
            fail_msg("child gave no outcome");
        got += (size_t)n;
    }
}

static void test_no_terminal(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        setsid(); /* no controlling terminal: /dev/tty cannot be opened */
        child_get_code(p[1], "arn:aws:iam::123456789012:mfa/me", 0);
    }
    close(p[1]);
    struct outcome o;
    read_outcome(p[0], &o);
    close(p[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(o.rc, -1);
    assert_int_equal(o.status, AWSR_E_CONFIG);
    assert_false(o.available);
    assert_string_equal(o.message,
                        "MFA code required for arn:aws:iam::123456789012:mfa/me but there is no "
                        "terminal to ask on; pass --mfa-code, set AWSROLE_MFA_CODE, or configure "
                        "mfa_process in the profile");
}

struct pty_child {
    pid_t pid;
    int master;
    int result;   /* read end of the outcome pipe */
};

static void start_on_pty(struct pty_child *pc, const char *serial, int attempt)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    char *name = ptsname(master);
    assert_non_null(name);
    char slave_name[128];
    snprintf(slave_name, sizeof slave_name, "%s", name);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        close(master);
        setsid();
        int slave = open(slave_name, O_RDWR);
        if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) != 0)
            _exit(99);
        /* stdin is not the terminal: the code must come from /dev/tty, never stdin. */
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        child_get_code(p[1], serial, attempt);
    }
    close(p[1]);
    pc->pid = pid;
    pc->master = master;
    pc->result = p[0];
}

/* Appends terminal output to buf until `want` appears (a liveness bound, not a timing
 * check). */
static void expect_output(struct pty_child *pc, char *buf, size_t sz, const char *want)
{
    size_t len = strlen(buf);
    for (int i = 0; i < 200 && !strstr(buf, want); i++) {
        struct pollfd pf = {.fd = pc->master, .events = POLLIN};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        ssize_t n = read(pc->master, buf + len, sz - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
    }
    if (!strstr(buf, want))
        fail_msg("terminal output \"%s\" lacks \"%s\"", buf, want);
}

/* Like expect_output, then drops everything up to the end of `want`, so text that arrived
 * with it (the next prompt) stays for the next expectation. */
static void expect_consume(struct pty_child *pc, char *buf, size_t sz, const char *want)
{
    expect_output(pc, buf, sz, want);
    char *rest = strstr(buf, want) + strlen(want);
    memmove(buf, rest, strlen(rest) + 1);
}

static void type(struct pty_child *pc, const char *s)
{
    assert_int_equal(write(pc->master, s, strlen(s)), (ssize_t)strlen(s));
}

static void drain_rest(struct pty_child *pc, char *buf, size_t sz)
{
    size_t len = strlen(buf);
    for (;;) {
        struct pollfd pf = {.fd = pc->master, .events = POLLIN};
        if (poll(&pf, 1, 200) <= 0)
            break;
        ssize_t n = read(pc->master, buf + len, sz - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
    }
}

static int finish(struct pty_child *pc, struct outcome *o)
{
    int st;
    assert_int_equal(waitpid(pc->pid, &st, 0), pc->pid);
    if (o)
        read_outcome(pc->result, o);
    close(pc->result);
    return st;
}

static void test_prompt_reads_tty_with_echo_off(void **state)
{
    (void)state;
    struct pty_child pc;
    char out[8192] = "";
    start_on_pty(&pc, "arn:aws:iam::123456789012:mfa/u\x1b[2J", 0);
    /* Exact prompt; the escape sequence in the serial is shown, not obeyed. */
    expect_output(&pc, out, sizeof out,
                  "Enter MFA code for arn:aws:iam::123456789012:mfa/u\\x1B[2J: ");
    assert_int_equal(strncmp(out, "Enter MFA code for ", 19), 0);
    type(&pc, "905172\n");
    struct outcome o;
    int st = finish(&pc, &o);
    drain_rest(&pc, out, sizeof out);
    assert_true(WIFEXITED(st));
    assert_int_equal(o.rc, 0);
    assert_true(o.available);
    assert_string_equal(o.code, "905172");
    assert_null(strstr(out, "905172")); /* not echoed */
    /* Echo is on again afterwards. */
    struct termios t;
    assert_int_equal(tcgetattr(pc.master, &t), 0);
    assert_true(t.c_lflag & ECHO);
    close(pc.master);
}

static void test_prompt_asks_again_for_bad_codes(void **state)
{
    (void)state;
    struct pty_child pc;
    char out[8192] = "";
    start_on_pty(&pc, "mfa-device", 0);
    expect_consume(&pc, out, sizeof out, "Enter MFA code for mfa-device: ");
    type(&pc, "12\n");
    expect_consume(&pc, out, sizeof out, "awsrole-run: the MFA code must be 6 digits");
    expect_consume(&pc, out, sizeof out, "Enter MFA code for mfa-device: ");
    type(&pc, " 654321 \n"); /* surrounding blanks are forgiven */
    struct outcome o;
    finish(&pc, &o);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.code, "654321");
    close(pc.master);

    start_on_pty(&pc, "mfa-device", 0);
    const char *bad[] = {"abcdef\n", "1234567\n", "\n"};
    for (int i = 0; i < 3; i++) {
        expect_consume(&pc, out, sizeof out, "Enter MFA code for mfa-device: ");
            type(&pc, bad[i]);
    }
    finish(&pc, &o);
    assert_int_equal(o.rc, -1);
    assert_int_equal(o.status, AWSR_E_CONFIG);
    assert_non_null(strstr(o.message, "6 digits"));
    close(pc.master);
}

static void test_prompt_eof(void **state)
{
    (void)state;
    struct pty_child pc;
    char out[8192] = "";
    start_on_pty(&pc, "dev", 0);
    expect_output(&pc, out, sizeof out, "Enter MFA code for dev: ");
    type(&pc, "\x04"); /* Ctrl-D on an empty line */
    struct outcome o;
    finish(&pc, &o);
    assert_int_equal(o.rc, -1);
    assert_int_equal(o.status, AWSR_E_CONFIG);
    assert_string_equal(o.message, "no MFA code was entered");
    close(pc.master);
}

static void test_prompt_ctrl_c(void **state)
{
    (void)state;
    struct pty_child pc;
    char out[8192] = "";
    start_on_pty(&pc, "dev", 0);
    expect_output(&pc, out, sizeof out, "Enter MFA code for dev: ");
    struct termios t;
    assert_int_equal(tcgetattr(pc.master, &t), 0);
    assert_false(t.c_lflag & ECHO); /* echo is off while the prompt waits */
    type(&pc, "12\x03");
    int st = finish(&pc, NULL);
    assert_true(WIFSIGNALED(st)); /* dies of it, so a calling shell loop stops */
    assert_int_equal(WTERMSIG(st), SIGINT);
    assert_int_equal(tcgetattr(pc.master, &t), 0);
    assert_true(t.c_lflag & ECHO); /* restored by the handler */
    close(pc.master);
}

static void test_prompt_after_rejection(void **state)
{
    (void)state;
    /* attempt > 0 with no fixed source: the prompt is used again. */
    struct pty_child pc;
    char out[8192] = "";
    start_on_pty(&pc, "dev", 1);
    expect_output(&pc, out, sizeof out, "Enter MFA code for dev: ");
    type(&pc, "000111\n");
    struct outcome o;
    finish(&pc, &o);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.code, "000111");
    close(pc.master);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_order),
        cmocka_unit_test(test_mfa_process_failures),
        cmocka_unit_test(test_retry_does_not_reuse_fixed_codes),
        cmocka_unit_test(test_no_terminal),
        cmocka_unit_test(test_prompt_reads_tty_with_echo_off),
        cmocka_unit_test(test_prompt_asks_again_for_bad_codes),
        cmocka_unit_test(test_prompt_eof),
        cmocka_unit_test(test_prompt_ctrl_c),
        cmocka_unit_test(test_prompt_after_rejection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
