/* test_sources.c - credential sources: credential_process output parsing (every botocore
 * message), shlex-style splitting, running credential_process (success, failure, garbage,
 * wrong version, hang, huge output), the environment source, container host rules, and
 * the web identity token file checks. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "creds.h"
#include "error.h"
#include "sources.h"

#define PFX "Error when retrieving credentials from custom-process: "

static int parse(const char *json, struct awsr_creds *c, struct awsr_error *e)
{
    awsr_error_clear(e);
    return awsr_process_parse_output(json, strlen(json), c, e);
}

/* ---- credential_process output ------------------------------------------------------ */

static void test_parse_full(void **state)
{
    (void)state;
    struct awsr_creds c = {0};
    struct awsr_error e;
    assert_int_equal(parse("{\"Version\": 1, \"AccessKeyId\": \"AKIDX\", \"SecretAccessKey\": "
                           "\"SECRETX\", \"SessionToken\": \"TOKX\", \"Expiration\": "
                           "\"2030-01-02T03:04:05Z\", \"AccountId\": \"123456789012\"}",
                           &c, &e),
                     0);
    assert_string_equal(c.access_key_id, "AKIDX");
    assert_string_equal(c.secret_access_key, "SECRETX");
    assert_string_equal(c.session_token, "TOKX");
    assert_string_equal(c.account_id, "123456789012");
    assert_int_equal(c.expiration, 1893553445);
    awsr_creds_clear(&c);
}

static void test_parse_minimal(void **state)
{
    (void)state;
    struct awsr_creds c = {0};
    struct awsr_error e;
    assert_int_equal(parse("{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
                           "\"SessionToken\":null}",
                           &c, &e),
                     0);
    assert_null(c.session_token);
    assert_int_equal(c.expiration, 0);
    assert_null(c.account_id);
    awsr_creds_clear(&c);
}

static void expect_parse_error(const char *json, const char *message)
{
    struct awsr_creds c = {0};
    struct awsr_error e;
    assert_int_equal(parse(json, &c, &e), -1);
    assert_int_equal(e.status, AWSR_E_CONFIG);
    assert_string_equal(e.message, message);
    assert_null(c.access_key_id);
}

static void test_parse_versions(void **state)
{
    (void)state;
    const char *fmt = PFX "Unsupported version '%s' for credential process provider, "
                          "supported versions: 1";
    struct {
        const char *json, *shown;
    } cases[] = {
        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}", "<Version key not provided>"},
        {"{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}", "2"},
        {"{\"Version\":\"1\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}", "1"},
        {"{\"Version\":1.0,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}", "1.0"},
        {"{\"Version\":true,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}", "True"},
        {"{\"Version\":null,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}", "None"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char want[512];
        snprintf(want, sizeof want, fmt, cases[i].shown);
        expect_parse_error(cases[i].json, want);
    }
}

static void test_parse_missing_keys(void **state)
{
    (void)state;
    expect_parse_error("{\"Version\":1,\"SecretAccessKey\":\"S\"}",
                       PFX "Missing required key in response: 'AccessKeyId'");
    expect_parse_error("{\"Version\":1,\"AccessKeyId\":\"A\"}",
                       PFX "Missing required key in response: 'SecretAccessKey'");
    expect_parse_error("{\"Version\":1,\"AccessKeyId\":5,\"SecretAccessKey\":\"S\"}",
                       PFX "the value of 'AccessKeyId' must be a string");
    expect_parse_error("{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"\"}",
                       PFX "'SecretAccessKey' is empty");
    expect_parse_error("{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
                       "\"Expiration\":\"tomorrow\"}",
                       PFX "the Expiration 'tomorrow' is not an ISO 8601 time");
}

static void test_parse_invalid_json(void **state)
{
    (void)state;
    struct awsr_creds c = {0};
    struct awsr_error e;
    /* The parser's own text would quote the input near the error: a secret. */
    assert_int_equal(parse("{\"Version\":1,\"SecretAccessKey\":\"TOPSECRET\" garbage", &c, &e),
                     -1);
    assert_int_equal(e.status, AWSR_E_CONFIG);
    assert_non_null(strstr(e.message, PFX "the process output is not valid JSON"));
    assert_null(strstr(e.message, "TOPSECRET"));
    assert_null(strstr(e.message, "garbage"));
    expect_parse_error("", PFX "the process output is not valid JSON (line 1, column 0)");
    expect_parse_error("[1,2]", PFX "the process output is not a JSON object");
    expect_parse_error("\"AKID\"", PFX "the process output is not a JSON object");
}

static void test_metadata_parse(void **state)
{
    (void)state;
    struct awsr_creds c = {0};
    struct awsr_error e = {0};
    const char *doc = "{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIA1\","
                      "\"SecretAccessKey\":\"S1\",\"Token\":\"T1\","
                      "\"Expiration\":\"2030-01-02T03:04:05Z\",\"AccountId\":\"111122223333\"}";
    assert_int_equal(awsr_metadata_parse_creds(doc, strlen(doc), &c, &e), 0);
    assert_string_equal(c.session_token, "T1");
    assert_string_equal(c.account_id, "111122223333");
    assert_int_equal(c.expiration, 1893553445);
    awsr_creds_clear(&c);
    const char *bad = "{\"Code\":\"Failure\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}";
    assert_int_equal(awsr_metadata_parse_creds(bad, strlen(bad), &c, &e), -1);
    assert_non_null(strstr(e.message, "Code 'Failure'"));
}

/* ---- shell-style splitting (expected values from Python's shlex.split) ------------- */

static void expect_split(const char *cmd, const char *const *want)
{
    char **argv;
    struct awsr_error e = {0};
    assert_int_equal(awsr_shell_split(cmd, &argv, "", &e), 0);
    size_t i = 0;
    for (; want[i]; i++) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], want[i]);
    }
    assert_null(argv[i]);
    awsr_argv_free(argv);
}

static void test_split(void **state)
{
    (void)state;
    expect_split("a b  c", (const char *const[]){"a", "b", "c", NULL});
    expect_split("'a b' \"c d\"", (const char *const[]){"a b", "c d", NULL});
    expect_split("a\\ b", (const char *const[]){"a b", NULL});
    expect_split("\"a\\\"b\"", (const char *const[]){"a\"b", NULL});
    expect_split("\"a\\nb\"", (const char *const[]){"a\\nb", NULL});
    expect_split("'a\\b'", (const char *const[]){"a\\b", NULL});
    expect_split("\"\"", (const char *const[]){"", NULL});
    expect_split("x '' y", (const char *const[]){"x", "", "y", NULL});
    expect_split("a\"b\"c", (const char *const[]){"abc", NULL});
    expect_split("\"a\\\\b\"", (const char *const[]){"a\\b", NULL});
    expect_split("a\\$b", (const char *const[]){"a$b", NULL});
    expect_split("\"$HOME\" * # not a comment",
                 (const char *const[]){"$HOME", "*", "#", "not", "a", "comment", NULL});
    expect_split("\t/bin/tool\n--flag=1\r\n", (const char *const[]){"/bin/tool", "--flag=1", NULL});
}

static void test_split_errors(void **state)
{
    (void)state;
    char **argv;
    struct awsr_error e = {0};
    assert_int_equal(awsr_shell_split("tool 'secret-arg", &argv, "P: ", &e), -1);
    assert_int_equal(e.status, AWSR_E_CONFIG);
    assert_string_equal(e.message, "P: cannot split the command line: No closing quotation");
    assert_int_equal(awsr_shell_split("tool \"x", &argv, "P: ", &e), -1);
    assert_string_equal(e.message, "P: cannot split the command line: No closing quotation");
    assert_int_equal(awsr_shell_split("tool x\\", &argv, "P: ", &e), -1);
    assert_string_equal(e.message, "P: cannot split the command line: No escaped character");
    assert_int_equal(awsr_shell_split("   ", &argv, "P: ", &e), -1);
    assert_string_equal(e.message, "P: the command is empty");
    assert_int_equal(awsr_shell_split("", &argv, "P: ", &e), -1);
}

/* ---- running credential_process ------------------------------------------------------ */

static int fetch_process(const char *cmd, struct awsr_creds *c, struct awsr_error *e)
{
    struct awsr_source src = {.kind = AWSR_SRC_PROCESS, .profile = "p",
                              .process_command = (char *)cmd};
    awsr_error_clear(e);
    return awsr_source_fetch(&src, NULL, false, NULL, c, e);
}

static void test_process_success(void **state)
{
    (void)state;
    struct awsr_creds c = {0};
    struct awsr_error e;
    assert_int_equal(fetch_process("/bin/sh -c 'printf \"%s\" \"{\\\"Version\\\": 1, "
                                   "\\\"AccessKeyId\\\": \\\"AKPROC\\\", \\\"SecretAccessKey\\\": "
                                   "\\\"SKPROC\\\", \\\"SessionToken\\\": \\\"TKPROC\\\"}\"; echo "
                                   "note >&2'",
                                   &c, &e),
                     0);
    assert_string_equal(c.access_key_id, "AKPROC");
    assert_string_equal(c.secret_access_key, "SKPROC");
    assert_string_equal(c.session_token, "TKPROC");
    awsr_creds_clear(&c);
}

/* The run's unused MFA code reaches the credential_process as AWSROLE_MFA_CODE (once, in
 * place of the launcher's wiped entry), never on a renewal, never without a code. */
static void test_process_gets_the_mfa_code(void **state)
{
    (void)state;
    const char *cmd = "sh -c 'n=$(env | grep -c ^AWSROLE_MFA_CODE=); printf "
                      "\"{\\\"Version\\\": 1, \\\"AccessKeyId\\\": \\\"AK%s_%s\\\", "
                      "\\\"SecretAccessKey\\\": \\\"S\\\"}\" \"$n\" "
                      "\"${AWSROLE_MFA_CODE-unset}\"'";
    struct awsr_source src = {.kind = AWSR_SRC_PROCESS, .profile = "p",
                              .process_command = (char *)cmd};
    struct { const char *code; bool renewal; const char *want; } cases[] = {
        {"123456", false, "AK1_123456"},
        {NULL, false, "AK1_"},
        {"123456", true, "AK1_"},
    };
    setenv("AWSROLE_MFA_CODE", "", 1); /* as the launcher leaves it: wiped to empty */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct awsr_creds c = {0};
        struct awsr_error e = {0};
        assert_int_equal(awsr_source_fetch(&src, NULL, cases[i].renewal, cases[i].code, &c, &e),
                         0);
        assert_string_equal(c.access_key_id, cases[i].want);
        awsr_creds_clear(&c);
    }
    unsetenv("AWSROLE_MFA_CODE");
    struct awsr_creds c = {0};
    struct awsr_error e = {0};
    assert_int_equal(awsr_source_fetch(&src, NULL, false, NULL, &c, &e), 0);
    assert_string_equal(c.access_key_id, "AK0_unset");
    awsr_creds_clear(&c);
}

static void test_process_failure(void **state)
{
    (void)state;
    struct awsr_creds c = {0};
    struct awsr_error e;
    assert_int_equal(fetch_process("sh -c 'echo \"  login required \" >&2; echo '{}'; exit 3'",
                                   &c, &e),
                     -1);
    assert_int_equal(e.status, AWSR_E_OTHER); /* the AWS CLI's 255, not a config error */
    assert_string_equal(e.message, PFX "login required");
    assert_int_equal(fetch_process("sh -c 'exit 4'", &c, &e), -1);
    assert_int_equal(e.status, AWSR_E_OTHER);
    assert_string_equal(e.message, PFX "the process exited with status 4");
    /* a nested awsrole-run or AWS CLI v2 said what kind of failure it was */
    assert_int_equal(fetch_process("sh -c 'exit 253'", &c, &e), -1);
    assert_int_equal(e.status, AWSR_E_CONFIG);
    assert_int_equal(fetch_process("sh -c 'exit 254'", &c, &e), -1);
    assert_int_equal(e.status, AWSR_E_SERVICE);
    assert_int_equal(fetch_process("sh -c 'exit 252'", &c, &e), -1);
    assert_int_equal(e.status, AWSR_E_OTHER);
    assert_int_equal(fetch_process("/nonexistent/credential-helper --x", &c, &e), -1);
    assert_int_equal(e.status, AWSR_E_CONFIG);
    assert_string_equal(e.message, PFX "cannot run '/nonexistent/credential-helper': No such "
                                       "file or directory");
    assert_int_equal(fetch_process("sh -c 'kill -9 $$'", &c, &e), -1);
    assert_int_equal(e.status, AWSR_E_OTHER);
    assert_string_equal(e.message, PFX "the process was killed by signal 9");
    assert_int_equal(fetch_process("'unterminated", &c, &e), -1);
    assert_string_equal(e.message, PFX "cannot split the command line: No closing quotation");
}

static void test_process_garbage_and_version(void **state)
{
    (void)state;
    struct awsr_creds c = {0};
    struct awsr_error e;
    assert_int_equal(fetch_process("echo not json AKIDLEAK", &c, &e), -1);
    assert_non_null(strstr(e.message, PFX "the process output is not valid JSON"));
    assert_null(strstr(e.message, "AKIDLEAK"));
    assert_int_equal(fetch_process("echo '{\"Version\": 2, \"AccessKeyId\": \"A\", "
                                   "\"SecretAccessKey\": \"S\"}'",
                                   &c, &e),
                     -1);
    assert_string_equal(e.message, PFX "Unsupported version '2' for credential process "
                                       "provider, supported versions: 1");
    assert_int_equal(fetch_process("echo '{\"Version\": 1, \"SecretAccessKey\": \"S\"}'", &c,
                                   &e),
                     -1);
    assert_string_equal(e.message, PFX "Missing required key in response: 'AccessKeyId'");
    assert_null(c.access_key_id);
    /* already expired: refused, nothing left in the output */
    assert_int_equal(fetch_process("echo '{\"Version\": 1, \"AccessKeyId\": \"A\", "
                                   "\"SecretAccessKey\": \"S\", "
                                   "\"Expiration\": \"2001-02-03T04:05:06Z\"}'",
                                   &c, &e),
                     -1);
    assert_int_equal(e.status, AWSR_E_CONFIG);
    assert_string_equal(e.message, PFX "the credentials it returned expired at "
                                       "2001-02-03T04:05:06Z");
    assert_null(c.access_key_id);
}

static bool pid_gone(pid_t pid)
{
    /* Gone, or a zombie waiting for init: either way no longer running. */
    for (int i = 0; i < 500; i++) {
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
            return true;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *rp = strrchr(buf, ')');
        if (rp && (rp[2] == 'Z' || rp[2] == 'X'))
            return true;
        usleep(10000);
    }
    return false;
}

static void test_process_hang(void **state)
{
    (void)state;
    char dir[] = "/tmp/awsr-src-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[512], pidfile[256];
    snprintf(pidfile, sizeof pidfile, "%s/bg.pid", dir);
    /* A background grandchild too: the whole process group must go. */
    snprintf(cmd, sizeof cmd, "sh -c 'sleep 300 & echo $! > %s; sleep 300'", pidfile);
    setenv("AWSR_PROCESS_TIMEOUT_MS", "1000", 1);
    struct awsr_creds c = {0};
    struct awsr_error e;
    assert_int_equal(fetch_process(cmd, &c, &e), -1);
    unsetenv("AWSR_PROCESS_TIMEOUT_MS");
    assert_int_equal(e.status, AWSR_E_OTHER); /* a timeout, as the exit-status table says */
    assert_string_equal(e.message, PFX "the process timed out after 1000 ms and was killed");
    FILE *f = fopen(pidfile, "r");
    assert_non_null(f);
    int bg = 0;
    assert_int_equal(fscanf(f, "%d", &bg), 1);
    fclose(f);
    assert_true(bg > 0);
    assert_true(pid_gone(bg));
    unlink(pidfile);
    rmdir(dir);
}

static void test_process_background_holder(void **state)
{
    (void)state;
    /* The helper exits but leaves a child holding stdout: we must not wait for it (the
     * 60 s timeout is not reached, so the fetch succeeds). */
    struct awsr_creds c = {0};
    struct awsr_error e;
    assert_int_equal(fetch_process("sh -c 'echo \"{\\\"Version\\\":1,\\\"AccessKeyId\\\":"
                                   "\\\"A\\\",\\\"SecretAccessKey\\\":\\\"S\\\"}\"; sleep 300 &'",
                                   &c, &e),
                     0);
    assert_string_equal(c.access_key_id, "A");
    awsr_creds_clear(&c);
}

static void test_process_huge_output(void **state)
{
    (void)state;
    struct awsr_creds c = {0};
    struct awsr_error e;
    assert_int_equal(fetch_process("head -c 3000000 /dev/zero", &c, &e), -1);
    assert_string_equal(e.message, PFX "the process wrote more than 1048576 bytes to stdout");
}

static void test_process_stdin_inherited(void **state)
{
    (void)state;
    /* stdin is the caller's: a helper reading it sees our pipe's content. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    const char *doc = "{\"Version\":1,\"AccessKeyId\":\"FROMSTDIN\",\"SecretAccessKey\":\"S\"}";
    assert_int_equal(write(p[1], doc, strlen(doc)), (ssize_t)strlen(doc));
    close(p[1]);
    int saved = dup(0);
    dup2(p[0], 0);
    close(p[0]);
    struct awsr_creds c = {0};
    struct awsr_error e;
    int rc = fetch_process("cat", &c, &e);
    dup2(saved, 0);
    close(saved);
    assert_int_equal(rc, 0);
    assert_string_equal(c.access_key_id, "FROMSTDIN");
    awsr_creds_clear(&c);
}

/* ---- environment ---------------------------------------------------------------------- */

static void clear_env(void)
{
    const char *names[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                           "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION", "AWS_ACCOUNT_ID"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        unsetenv(names[i]);
}

static int fetch_env(struct awsr_creds *c, struct awsr_error *e)
{
    struct awsr_source src = {.kind = AWSR_SRC_ENVIRONMENT, .profile = "dev"};
    awsr_error_clear(e);
    return awsr_source_fetch(&src, NULL, false, NULL, c, e);
}

static void test_env_source(void **state)
{
    (void)state;
    struct awsr_creds c = {0};
    struct awsr_error e;
    clear_env();
    assert_int_equal(fetch_env(&c, &e), -1);
    assert_int_equal(e.status, AWSR_E_CONFIG);
    assert_string_equal(e.message, "Error when retrieving credentials from Environment: No "
                                   "credentials found in credential_source referenced in "
                                   "profile dev");
    setenv("AWS_ACCESS_KEY_ID", "", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "S", 1);
    assert_int_equal(fetch_env(&c, &e), -1); /* empty key id: nothing found */
    assert_non_null(strstr(e.message, "No credentials found"));
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "", 1);
    assert_int_equal(fetch_env(&c, &e), -1);
    assert_string_equal(e.message,
                        "Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(fetch_env(&c, &e), -1);
    assert_string_equal(e.message,
                        "Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY");

    setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
    assert_int_equal(fetch_env(&c, &e), 0);
    assert_string_equal(c.access_key_id, "AKENV");
    assert_string_equal(c.secret_access_key, "SKENV");
    assert_null(c.session_token);
    assert_int_equal(c.expiration, 0);

    setenv("AWS_SESSION_TOKEN", "SESSION", 1);
    setenv("AWS_SECURITY_TOKEN", "SECURITY", 1);
    setenv("AWS_CREDENTIAL_EXPIRATION", "2030-01-02T03:04:05Z", 1);
    assert_int_equal(fetch_env(&c, &e), 0);
    assert_string_equal(c.session_token, "SECURITY");
    assert_int_equal(c.expiration, 1893553445);
    unsetenv("AWS_SECURITY_TOKEN");
    assert_int_equal(fetch_env(&c, &e), 0);
    assert_string_equal(c.session_token, "SESSION");

    setenv("AWS_CREDENTIAL_EXPIRATION", "soon", 1);
    assert_int_equal(fetch_env(&c, &e), -1);
    assert_non_null(strstr(e.message, "AWS_CREDENTIAL_EXPIRATION"));
    awsr_creds_clear(&c);
    clear_env();
}

static void test_static_source(void **state)
{
    (void)state;
    struct awsr_source src = {.kind = AWSR_SRC_STATIC, .profile = "base"};
    awsr_creds_set(&src.creds, "AKSTATIC", "SKSTATIC", "TKSTATIC", 0);
    struct awsr_creds c = {0};
    struct awsr_error e = {0};
    assert_int_equal(awsr_source_fetch(&src, NULL, false, NULL, &c, &e), 0);
    assert_string_equal(c.access_key_id, "AKSTATIC");
    assert_string_equal(c.session_token, "TKSTATIC");
    assert_ptr_not_equal(c.access_key_id, src.creds.access_key_id);
    awsr_creds_clear(&c);
    awsr_secret_free(src.creds.secret_access_key);
    src.creds.secret_access_key = NULL;
    assert_int_equal(awsr_source_fetch(&src, NULL, false, NULL, &c, &e), -1);
    assert_non_null(strstr(e.message, "aws_secret_access_key"));
    awsr_creds_clear(&src.creds);
}

/* ---- container ------------------------------------------------------------------------ */

static void test_container_hosts(void **state)
{
    (void)state;
    const char *ok[] = {"http://127.0.0.1:8080/creds", "http://127.1.2.3/x", "http://[::1]:9/x",
                        "http://localhost/x", "http://LOCALHOST:1/x", "http://169.254.170.2/v2",
                        "http://169.254.170.23/v1", "http://[fd00:ec2::23]/x",
                        "https://creds.example.com/x", "HTTPS://example.com"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        struct awsr_error e = {0};
        if (awsr_container_check_url(ok[i], &e) != 0)
            fail_msg("%s refused: %s", ok[i], e.message);
    }
    struct {
        const char *url, *host;
    } bad[] = {{"http://example.com/x", "example.com"},
               {"http://10.0.0.1/x", "10.0.0.1"},
               {"http://localhost.evil.com/x", "localhost.evil.com"},
               {"http://169.254.169.254/x", "169.254.169.254"},
               {"http://[fd00:ec2::254]/x", "fd00:ec2::254"},
               {"http://Example.COM/", "example.com"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct awsr_error e = {0};
        char want[512];
        snprintf(want, sizeof want,
                 "Unsupported host '%s'.  Can only retrieve metadata from a loopback address or "
                 "one of these hosts: 169.254.170.2, 169.254.170.23, fd00:ec2::23, localhost",
                 bad[i].host);
        assert_int_equal(awsr_container_check_url(bad[i].url, &e), -1);
        assert_int_equal(e.status, AWSR_E_CONFIG);
        assert_string_equal(e.message, want);
    }
    struct awsr_error e = {0};
    assert_int_equal(awsr_container_check_url("ftp://127.0.0.1/x", &e), -1);
    assert_false(awsr_container_host_allowed("127.0.0.1.nip.io"));
    assert_true(awsr_container_host_allowed("127.255.255.254"));
}

static void clear_container_env(void)
{
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
}

static void test_container_source_config_errors(void **state)
{
    (void)state;
    struct awsr_source src = {.kind = AWSR_SRC_CONTAINER, .profile = "ecs"};
    struct awsr_creds c = {0};
    struct awsr_error e = {0};
    clear_container_env();
    assert_int_equal(awsr_source_fetch(&src, NULL, false, NULL, &c, &e), -1);
    assert_int_equal(e.status, AWSR_E_CONFIG);
    assert_string_equal(e.message, "Error when retrieving credentials from EcsContainer: No "
                                   "credentials found in credential_source referenced in "
                                   "profile ecs");
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://metadata.example/x", 1);
    assert_int_equal(awsr_source_fetch(&src, NULL, false, NULL, &c, &e), -1);
    assert_non_null(strstr(e.message, "Unsupported host 'metadata.example'."));

    /* Tokens with CR or LF are refused before any request is made. */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/x", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "abc\r\nX-Injected: 1", 1);
    assert_int_equal(awsr_source_fetch(&src, NULL, false, NULL, &c, &e), -1);
    assert_int_equal(e.status, AWSR_E_CONFIG);
    assert_non_null(strstr(e.message, "Auth token value is not a legal header value"));
    assert_null(strstr(e.message, "abc"));

    char path[] = "/tmp/awsr-tok-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "tok\n", 4), 4);
    close(fd);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "fine", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1); /* the file wins */
    assert_int_equal(awsr_source_fetch(&src, NULL, false, NULL, &c, &e), -1);
    assert_non_null(strstr(e.message, "Auth token value is not a legal header value"));
    unlink(path);
    assert_int_equal(awsr_source_fetch(&src, NULL, false, NULL, &c, &e), -1);
    assert_non_null(strstr(e.message, "cannot read the authorization token file"));
    assert_non_null(strstr(e.message, path));
    clear_container_env();
}

/* ---- web identity ------------------------------------------------------------------- */

static void test_web_identity_errors(void **state)
{
    (void)state;
    struct awsr_source src = {.kind = AWSR_SRC_WEB_IDENTITY, .profile = "wi",
                              .web_identity_token_file = "/nonexistent/token.jwt"};
    struct awsr_creds c = {0};
    struct awsr_error e = {0};
    assert_int_equal(awsr_source_fetch(&src, NULL, false, NULL, &c, &e), -1);
    assert_non_null(strstr(e.message, "has no role ARN configured"));
    src.role_arn = "arn:aws:iam::123456789012:role/wi";
    struct awsr_sts_client sts = {0};
    assert_int_equal(awsr_source_fetch(&src, &sts, false, NULL, &c, &e), -1);
    assert_int_equal(e.status, AWSR_E_CONFIG);
    assert_string_equal(e.message, "cannot read the web identity token file "
                                   "/nonexistent/token.jwt: No such file or directory");
    char path[] = "/tmp/awsr-jwt-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    src.web_identity_token_file = path;
    assert_int_equal(awsr_source_fetch(&src, &sts, false, NULL, &c, &e), -1);
    assert_non_null(strstr(e.message, "is empty"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_full),
        cmocka_unit_test(test_parse_minimal),
        cmocka_unit_test(test_parse_versions),
        cmocka_unit_test(test_parse_missing_keys),
        cmocka_unit_test(test_parse_invalid_json),
        cmocka_unit_test(test_metadata_parse),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_split_errors),
        cmocka_unit_test(test_process_success),
        cmocka_unit_test(test_process_gets_the_mfa_code),
        cmocka_unit_test(test_process_failure),
        cmocka_unit_test(test_process_garbage_and_version),
        cmocka_unit_test(test_process_hang),
        cmocka_unit_test(test_process_background_holder),
        cmocka_unit_test(test_process_huge_output),
        cmocka_unit_test(test_process_stdin_inherited),
        cmocka_unit_test(test_env_source),
        cmocka_unit_test(test_static_source),
        cmocka_unit_test(test_container_hosts),
        cmocka_unit_test(test_container_source_config_errors),
        cmocka_unit_test(test_web_identity_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
