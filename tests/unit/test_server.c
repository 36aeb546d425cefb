/* test_server.c - the tree's credentials endpoint: routing, the token (missing, wrong,
 * doubled, case of the header name), methods, unknown profiles, expiry, live updates, the
 * real socket (oversized and silent clients), and the nested launchers' client. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "creds.h"
#include "server.h"

struct fx {
    struct awsr_creds a, b, slash;
    struct awsr_served served[3];
    struct awsr_server *srv;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    time_t later = time(NULL) + 3600;
    awsr_creds_set(&f->a, "ASIAAAAAAAAAAAAAAAAA", "secretA", "tokenA", later);
    awsr_creds_set(&f->b, "ASIABBBBBBBBBBBBBBBB", "secretB", "tokenB", later);
    awsr_creds_set(&f->slash, "ASIACCCCCCCCCCCCCCCC", "secretC", "tokenC", later);
    f->served[0] = (struct awsr_served){.profile = "prod", .creds = &f->a};
    f->served[1] = (struct awsr_served){.profile = "other", .creds = &f->b};
    f->served[2] = (struct awsr_served){.profile = "team/x y", .creds = &f->slash};
    struct awsr_error err = {0};
    assert_int_equal(awsr_server_start(&f->srv, f->served, 3, false, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    awsr_server_stop(f->srv);
    awsr_creds_clear(&f->a);
    awsr_creds_clear(&f->b);
    awsr_creds_clear(&f->slash);
    free(f);
    return 0;
}

/* Sends `rq` through awsr_server_respond; returns the response (caller frees). */
static char *ask(struct fx *f, const char *rq, int *status)
{
    size_t len = 0;
    char *r = awsr_server_respond(f->srv, rq, strlen(rq), time(NULL), &len, status, NULL);
    assert_non_null(r);
    assert_int_equal(strlen(r), len);
    return r;
}

static char *get(struct fx *f, const char *path, const char *auth_line, int *status)
{
    char rq[1024];
    snprintf(rq, sizeof rq, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", path,
             auth_line ? auth_line : "");
    return ask(f, rq, status);
}

static char *auth(struct fx *f)
{
    static char line[128];
    snprintf(line, sizeof line, "Authorization: %s\r\n", awsr_server_token(f->srv));
    return line;
}

static json_t *body_json(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");
    assert_non_null(b);
    json_t *j = json_loads(b + 4, 0, NULL);
    assert_non_null(j);
    return j;
}

static void test_start(void **state)
{
    struct fx *f = *state;
    assert_true(awsr_server_fd(f->srv) >= 0);
    assert_int_equal(strncmp(awsr_server_url(f->srv), "http://127.0.0.1:", 17), 0);
    assert_true(atoi(awsr_server_url(f->srv) + 17) > 0);
    const char *t = awsr_server_token(f->srv);
    assert_int_equal(strlen(t), 64);
    assert_int_equal(strspn(t, "0123456789abcdef"), 64);
    /* Two servers never share a token. */
    struct awsr_server *other;
    struct awsr_error err = {0};
    assert_int_equal(awsr_server_start(&other, f->served, 1, false, &err), 0);
    assert_string_not_equal(awsr_server_token(other), t);
    assert_string_not_equal(awsr_server_url(other), awsr_server_url(f->srv));
    awsr_server_stop(other);
}

static void test_routes(void **state)
{
    struct fx *f = *state;
    struct {
        const char *path;
        const char *akid;
    } cases[] = {
        {"/", "ASIAAAAAAAAAAAAAAAAA"},
        {"/get-credentials", "ASIAAAAAAAAAAAAAAAAA"},
        {"/role/prod", "ASIAAAAAAAAAAAAAAAAA"},
        {"/role/other", "ASIABBBBBBBBBBBBBBBB"},
        {"/role/other?x=1", "ASIABBBBBBBBBBBBBBBB"},
        {"/role/team%2Fx%20y", "ASIACCCCCCCCCCCCCCCC"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int status = 0;
        char *r = get(f, cases[i].path, auth(f), &status);
        assert_int_equal(status, 200);
        assert_int_equal(strncmp(r, "HTTP/1.1 200 OK\r\n", 17), 0);
        assert_non_null(strstr(r, "Content-Type: application/json\r\n"));
        assert_non_null(strstr(r, "Connection: close\r\n"));
        json_t *j = body_json(r);
        assert_string_equal(json_string_value(json_object_get(j, "AccessKeyId")), cases[i].akid);
        assert_non_null(json_string_value(json_object_get(j, "SecretAccessKey")));
        assert_non_null(json_string_value(json_object_get(j, "Token")));
        time_t when;
        assert_int_equal(awsr_time_parse(json_string_value(json_object_get(j, "Expiration")), &when), 0);
        assert_true(when > time(NULL));
        json_decref(j);
        free(r);
    }
    int status = 0;
    char *r = get(f, "/role/other", auth(f), &status);
    json_t *j = body_json(r);
    assert_string_equal(json_string_value(json_object_get(j, "SecretAccessKey")), "secretB");
    assert_string_equal(json_string_value(json_object_get(j, "Token")), "tokenB");
    json_decref(j);
    free(r);
}

static void assert_refused(char *r, const int *status, int want)
{
    assert_int_equal(*status, want);
    assert_null(strstr(r, "ASIA"));
    assert_null(strstr(r, "secret"));
    assert_null(strstr(r, "tokenA"));
    assert_null(strstr(r, "tokenB"));
    free(r);
}

static void test_token_required(void **state)
{
    struct fx *f = *state;
    int status = 0;
    assert_refused(get(f, "/", NULL, &status), &status, 401);
    assert_refused(get(f, "/role/prod", "Authorization: nope\r\n", &status), &status, 403);
    assert_refused(get(f, "/", "Authorization: \r\n", &status), &status, 403);
    /* A prefix, the token with a suffix, with "Bearer": all wrong. */
    char line[256];
    const char *t = awsr_server_token(f->srv);
    snprintf(line, sizeof line, "Authorization: %.63s\r\n", t);
    assert_refused(get(f, "/", line, &status), &status, 403);
    snprintf(line, sizeof line, "Authorization: %sx\r\n", t);
    assert_refused(get(f, "/", line, &status), &status, 403);
    snprintf(line, sizeof line, "Authorization: Bearer %s\r\n", t);
    assert_refused(get(f, "/", line, &status), &status, 403);
    /* Two Authorization headers, one right: refused. */
    snprintf(line, sizeof line, "Authorization: %s\r\nAuthorization: nope\r\n", t);
    assert_refused(get(f, "/", line, &status), &status, 403);
    /* The header name is case-insensitive; blanks around the value do not count. */
    snprintf(line, sizeof line, "authORIZATION:   %s \t\r\n", t);
    free(get(f, "/", line, &status));
    assert_int_equal(status, 200);
    /* Unauthorised requests learn nothing about profiles either. */
    assert_refused(get(f, "/role/nosuch", NULL, &status), &status, 401);
}

static void test_methods_paths_and_malformed(void **state)
{
    struct fx *f = *state;
    int status = 0;
    char rq[512];
    snprintf(rq, sizeof rq, "POST / HTTP/1.1\r\n%s\r\n", auth(f));
    char *r = ask(f, rq, &status);
    assert_non_null(strstr(r, "Allow: GET\r\n"));
    assert_refused(r, &status, 405);
    snprintf(rq, sizeof rq, "HEAD / HTTP/1.1\r\n%s\r\n", auth(f));
    assert_refused(ask(f, rq, &status), &status, 405);
    assert_refused(get(f, "/role/nosuch", auth(f), &status), &status, 404);
    assert_refused(get(f, "/role/", auth(f), &status), &status, 404);
    assert_refused(get(f, "/role/prod/", auth(f), &status), &status, 404);
    assert_refused(get(f, "/role/pr%6", auth(f), &status), &status, 404);
    assert_refused(get(f, "/role/prod%00", auth(f), &status), &status, 404);
    assert_refused(get(f, "/credentials", auth(f), &status), &status, 404);
    assert_refused(ask(f, "garbage\r\n\r\n", &status), &status, 400);
    assert_refused(ask(f, "GET /\r\n\r\n", &status), &status, 400);
    /* Bare \n line ends are accepted. */
    snprintf(rq, sizeof rq, "GET / HTTP/1.0\nAuthorization: %s\n\n", awsr_server_token(f->srv));
    free(ask(f, rq, &status));
    assert_int_equal(status, 200);
}

static void test_expiry_and_live_updates(void **state)
{
    struct fx *f = *state;
    int status = 0;
    /* The launcher renews in place: the next request sees the new generation whole. */
    awsr_creds_clear(&f->b);
    awsr_creds_set(&f->b, "ASIANEWNEWNEWNEWNEW1", "secretNew", "tokenNew", time(NULL) + 900);
    char *r = get(f, "/role/other", auth(f), &status);
    json_t *j = body_json(r);
    assert_string_equal(json_string_value(json_object_get(j, "AccessKeyId")), "ASIANEWNEWNEWNEWNEW1");
    assert_string_equal(json_string_value(json_object_get(j, "SecretAccessKey")), "secretNew");
    assert_string_equal(json_string_value(json_object_get(j, "Token")), "tokenNew");
    json_decref(j);
    free(r);
    /* Expired (renewal gave up): 503 with a hint, no credentials. */
    f->b.expiration = time(NULL) - 1;
    r = get(f, "/role/other", auth(f), &status);
    assert_non_null(strstr(r, "awsrole-run again"));
    assert_refused(r, &status, 503);
    /* Keys that do not expire still carry an Expiration (SDKs require it) and a Token. */
    awsr_creds_clear(&f->a);
    awsr_creds_set(&f->a, "AKIALONGTERMEXAMPLE1", "s", NULL, 0);
    r = get(f, "/", auth(f), &status);
    assert_int_equal(status, 200);
    j = body_json(r);
    assert_string_equal(json_string_value(json_object_get(j, "Token")), "");
    assert_non_null(json_string_value(json_object_get(j, "Expiration")));
    json_decref(j);
    free(r);
}

/* ---- the real socket ---- */

static int connect_to(struct fx *f)
{
    int port = atoi(awsr_server_url(f->srv) + 17);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    return c;
}

static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    return n;
}

static void test_socket(void **state)
{
    struct fx *f = *state;
    /* Two queued clients are both answered by one wake. */
    int c1 = connect_to(f), c2 = connect_to(f);
    char rq[512];
    int n = snprintf(rq, sizeof rq, "GET /role/other HTTP/1.1\r\nAuthorization: %s\r\n\r\n",
                     awsr_server_token(f->srv));
    assert_int_equal(write(c1, rq, (size_t)n), n);
    assert_int_equal(write(c2, "GET / HTTP/1.1\r\n\r\n", 18), 18);
    struct pollfd p = {.fd = awsr_server_fd(f->srv), .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    awsr_server_handle(f->srv);
    char buf[4096];
    read_all(c1, buf, sizeof buf);
    assert_int_equal(strncmp(buf, "HTTP/1.1 200 OK", 15), 0);
    assert_non_null(strstr(buf, "ASIABBBBBBBBBBBBBBBB"));
    read_all(c2, buf, sizeof buf);
    assert_int_equal(strncmp(buf, "HTTP/1.1 401", 12), 0);
    close(c1);
    close(c2);

    /* A request head over 8 KiB: 431, nothing served. */
    int c3 = connect_to(f);
    char big[9000];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /", 5);
    assert_int_equal(write(c3, big, sizeof big), (ssize_t)sizeof big);
    awsr_server_handle(f->srv);
    read_all(c3, buf, sizeof buf);
    assert_int_equal(strncmp(buf, "HTTP/1.1 431", 12), 0);
    close(c3);

    /* A client that never finishes its request is dropped after the read deadline, and
     * the server keeps answering others. */
    int c4 = connect_to(f);
    assert_int_equal(write(c4, "GET / HT", 8), 8);
    awsr_server_handle(f->srv);
    assert_int_equal(read_all(c4, buf, sizeof buf), 0);
    close(c4);
    /* With nothing pending, handle returns at once. */
    awsr_server_handle(f->srv);
}

/* ---- the client of nested launchers, against a forked server ---- */

static void test_fetch(void **state)
{
    struct fx *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Serves until the parent is done with it. */
        for (;;) {
            struct pollfd p = {.fd = awsr_server_fd(f->srv), .events = POLLIN};
            if (poll(&p, 1, 20000) == 0)
                _exit(1);
            awsr_server_handle(f->srv);
        }
    }
    struct awsr_creds c = {0};
    struct awsr_error err = {0};
    bool answered;
    const char *url = awsr_server_url(f->srv), *tok = awsr_server_token(f->srv);
    assert_int_equal(awsr_server_fetch(url, tok, "other", &c, &answered, &err), 0);
    assert_true(answered);
    assert_string_equal(c.access_key_id, "ASIABBBBBBBBBBBBBBBB");
    assert_string_equal(c.secret_access_key, "secretB");
    assert_string_equal(c.session_token, "tokenB");
    assert_int_equal(c.expiration, f->b.expiration);
    awsr_creds_clear(&c);
    assert_int_equal(awsr_server_fetch(url, tok, "team/x y", &c, &answered, &err), 0);
    assert_string_equal(c.access_key_id, "ASIACCCCCCCCCCCCCCCC");
    awsr_creds_clear(&c);
    assert_int_equal(awsr_server_fetch(url, tok, "nosuch", &c, &answered, &err), -1);
    assert_true(answered);
    assert_string_equal(err.code, "NotServed");
    assert_int_equal(awsr_server_fetch(url, "wrong", "prod", &c, &answered, &err), -1);
    assert_true(answered);
    assert_string_equal(err.code, "Refused");
    int st;
    kill(pid, SIGTERM);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);

    /* The tree is gone: not answered. */
    char gone[64];
    snprintf(gone, sizeof gone, "%s", url);
    awsr_server_stop(f->srv);
    f->srv = NULL;
    memset(&err, 0, sizeof err);
    assert_int_equal(awsr_server_fetch(gone, tok == NULL ? "" : "x", "prod", &c, &answered, &err), -1);
    assert_false(answered);
    assert_null(c.access_key_id);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_methods_paths_and_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_and_live_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
