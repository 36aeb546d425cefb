/* test_sigv4.c - SigV4 against every case of the AWS signing test suite
 * ($AWSR_TESTDATA/sigv4/v4/<case>/), byte for byte, plus the STS request shape. */
#include <dirent.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "creds.h"
#include "sigv4.h"

#define EXPECTED_CASES 38

static char *read_file(const char *dir, const char *name, size_t *len_out)
{
    char path[2048];
    snprintf(path, sizeof path, "%.1500s/%.256s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

/* An HTTP/1.1 request as the suite writes it: "METHOD target HTTP/1.1" (the target may
 * hold spaces), "Name:value" lines, continuation lines starting with white space, a blank
 * line, then the body. */
struct parsed_request {
    char *method, *path, *query;
    struct awsr_sigv4_header headers[32];
    char *names[32], *values[32];
    size_t n_headers;
    const char *body;
    size_t body_len;
};

static char *dup_range(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    assert_non_null(r);
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

static void parse_request(char *text, size_t len, struct parsed_request *pr)
{
    memset(pr, 0, sizeof *pr);
    char *end = text + len;
    char *line = text;
    char *nl = memchr(line, '\n', (size_t)(end - line));
    size_t llen = nl ? (size_t)(nl - line) : (size_t)(end - line);
    if (llen && line[llen - 1] == '\r')
        llen--;
    char *sp1 = memchr(line, ' ', llen);
    assert_non_null(sp1);
    char *sp2 = line + llen;
    while (sp2 > sp1 && *--sp2 != ' ')
        ;
    assert_true(sp2 > sp1);
    pr->method = dup_range(line, (size_t)(sp1 - line));
    char *target = sp1 + 1;
    size_t tlen = (size_t)(sp2 - target);
    char *q = memchr(target, '?', tlen);
    if (q) {
        pr->path = dup_range(target, (size_t)(q - target));
        pr->query = dup_range(q + 1, tlen - (size_t)(q - target) - 1);
    } else {
        pr->path = dup_range(target, tlen);
    }
    line = nl ? nl + 1 : end;
    while (line < end) {
        nl = memchr(line, '\n', (size_t)(end - line));
        llen = nl ? (size_t)(nl - line) : (size_t)(end - line);
        char *next = nl ? nl + 1 : end;
        if (llen && line[llen - 1] == '\r')
            llen--;
        if (llen == 0) {
            line = next;
            break;
        }
        if (line[0] == ' ' || line[0] == '\t') {
            /* folded value: keep it with a line break, the signer folds white space */
            assert_true(pr->n_headers > 0);
            char **v = &pr->values[pr->n_headers - 1];
            size_t old = strlen(*v);
            *v = realloc(*v, old + llen + 2);
            assert_non_null(*v);
            (*v)[old] = '\n';
            memcpy(*v + old + 1, line, llen);
            (*v)[old + 1 + llen] = '\0';
        } else {
            char *colon = memchr(line, ':', llen);
            assert_non_null(colon);
            assert_true(pr->n_headers < 32);
            pr->names[pr->n_headers] = dup_range(line, (size_t)(colon - line));
            pr->values[pr->n_headers] = dup_range(colon + 1, llen - (size_t)(colon - line) - 1);
            pr->n_headers++;
        }
        line = next;
    }
    for (size_t i = 0; i < pr->n_headers; i++) {
        pr->headers[i].name = pr->names[i];
        pr->headers[i].value = pr->values[i];
    }
    pr->body = line < end ? line : NULL;
    pr->body_len = line < end ? (size_t)(end - line) : 0;
}

static void free_request(struct parsed_request *pr)
{
    free(pr->method);
    free(pr->path);
    free(pr->query);
    for (size_t i = 0; i < pr->n_headers; i++) {
        free(pr->names[i]);
        free(pr->values[i]);
    }
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Does `text` hold the header line "name:value" (name compared without case)? */
static int has_header(const char *text, const char *name, size_t name_len, const char *value)
{
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > name_len && p[name_len] == ':' && strncasecmp(p, name, name_len) == 0 &&
            strlen(value) == len - name_len - 1 &&
            memcmp(p + name_len + 1, value, len - name_len - 1) == 0)
            return 1;
        if (!eol)
            break;
        p = eol + 1;
    }
    return 0;
}

static void check_case(const char *dir, const char *name)
{
    char cdir[1500];
    snprintf(cdir, sizeof cdir, "%s/%.256s", dir, name);

    char *ctx_text = read_file(cdir, "context.json", NULL);
    assert_non_null(ctx_text);
    json_error_t jerr;
    json_t *ctx = json_loads(ctx_text, 0, &jerr);
    assert_non_null(ctx);
    json_t *cred = json_object_get(ctx, "credentials");
    assert_non_null(cred);

    size_t rlen;
    char *rtext = read_file(cdir, "request.txt", &rlen);
    assert_non_null(rtext);
    struct parsed_request pr;
    parse_request(rtext, rlen, &pr);

    time_t ts;
    assert_int_equal(awsr_time_parse(jstr(ctx, "timestamp"), &ts), 0);

    struct awsr_sigv4_request rq = {
        .method = pr.method,
        .path = pr.path,
        .query = pr.query,
        .headers = pr.headers,
        .n_headers = pr.n_headers,
        .body = pr.body,
        .body_len = pr.body_len,
        .region = jstr(ctx, "region"),
        .service = jstr(ctx, "service"),
        .timestamp = ts,
        .access_key_id = jstr(cred, "access_key_id"),
        .secret_access_key = jstr(cred, "secret_access_key"),
        .session_token = jstr(cred, "token"),
        .normalize_path = json_is_true(json_object_get(ctx, "normalize")),
        .sign_body = json_is_true(json_object_get(ctx, "sign_body")),
        .omit_session_token = json_is_true(json_object_get(ctx, "omit_session_token")),
    };
    struct awsr_sigv4_result res;
    assert_int_equal(awsr_sigv4_sign(&rq, &res), 0);

    char *creq = read_file(cdir, "header-canonical-request.txt", NULL);
    char *sts = read_file(cdir, "header-string-to-sign.txt", NULL);
    char *sig = read_file(cdir, "header-signature.txt", NULL);
    char *signed_req = read_file(cdir, "header-signed-request.txt", NULL);
    assert_non_null(creq);
    assert_non_null(sts);
    assert_non_null(sig);
    assert_non_null(signed_req);
    sig[strcspn(sig, "\r\n")] = '\0';
    if (strcmp(res.canonical_request, creq) != 0)
        print_error("case %s: canonical request differs\n--- got\n%s\n--- want\n%s\n", name,
                    res.canonical_request, creq);
    assert_string_equal(res.canonical_request, creq);
    assert_string_equal(res.string_to_sign, sts);
    assert_string_equal(res.signature, sig);

    /* every header the signer adds appears in the signed request ("Name:value") */
    size_t n_added = 0;
    for (char **h = res.add_headers; *h; h++, n_added++) {
        const char *colon = strstr(*h, ": ");
        assert_non_null(colon);
        int found = has_header(signed_req, *h, (size_t)(colon - *h), colon + 2);
        if (!found)
            print_error("case %s: signed request lacks %s\n", name, *h);
        assert_true(found);
    }
    size_t want_added = 2 + (rq.sign_body ? 1 : 0) + (rq.session_token ? 1 : 0);
    assert_int_equal(n_added, want_added);

    awsr_sigv4_result_free(&res);
    free(creq);
    free(sts);
    free(sig);
    free(signed_req);
    free_request(&pr);
    free(rtext);
    json_decref(ctx);
    free(ctx_text);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_suite_all_cases(void **state)
{
    (void)state;
    const char *td = getenv("AWSR_TESTDATA");
    if (!td)
        td = "../shared/testdata";
    char dir[1024];
    if (snprintf(dir, sizeof dir, "%s/sigv4/v4", td) >= (int)sizeof dir)
        fail_msg("AWSR_TESTDATA too long");
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s (set AWSR_TESTDATA)", dir);
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char probe[1500];
        snprintf(probe, sizeof probe, "%s/%s/context.json", dir, e->d_name);
        FILE *f = fopen(probe, "r");
        if (!f)
            continue;
        fclose(f);
        assert_true(n < 256);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, name_cmp);
    if (n < EXPECTED_CASES)
        fail_msg("found %zu cases in %s, expected %d", n, dir, EXPECTED_CASES);
    for (size_t i = 0; i < n; i++) {
        check_case(dir, names[i]);
        free(names[i]);
    }
}

/* The signing key of the suite's README, through the public API: a known signature for a
 * known string to sign proves the chain order (date, region, service, aws4_request). */
static void test_vanilla_known_signature(void **state)
{
    (void)state;
    struct awsr_sigv4_header h[] = {{"Host", "example.amazonaws.com"}};
    struct awsr_sigv4_request rq = {
        .method = "GET", .path = "/", .headers = h, .n_headers = 1,
        .region = "us-east-1", .service = "service", .timestamp = 1440938160,
        .access_key_id = "AKIDEXAMPLE",
        .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        .normalize_path = true,
    };
    struct awsr_sigv4_result res;
    assert_int_equal(awsr_sigv4_sign(&rq, &res), 0);
    assert_string_equal(res.signature,
                        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    assert_string_equal(res.add_headers[0], "X-Amz-Date: 20150830T123600Z");
    assert_string_equal(res.add_headers[1],
                        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"
                        "us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, "
                        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    assert_null(res.add_headers[2]);
    awsr_sigv4_result_free(&res);
}

/* The STS shape: form POST, content-type;host;x-amz-date(;x-amz-security-token) signed,
 * payload hash of the body in the canonical request, no x-amz-content-sha256, and a
 * User-Agent that is sent but never signed. */
static void test_sts_request_shape(void **state)
{
    (void)state;
    const char *body = "Action=GetCallerIdentity&Version=2011-06-15";
    struct awsr_sigv4_header h[] = {
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
        {"Host", "sts.eu-west-1.amazonaws.com"},
        {"User-Agent", "awsrole-run/0.1.0"},
    };
    struct awsr_sigv4_request rq = {
        .method = "POST", .path = "/", .headers = h, .n_headers = 3,
        .body = body, .body_len = strlen(body),
        .region = "eu-west-1", .service = "sts", .timestamp = 1700000000,
        .access_key_id = "ASIAEXAMPLE", .secret_access_key = "secret",
        .session_token = "TOKEN+/=", .normalize_path = true,
    };
    struct awsr_sigv4_result res;
    assert_int_equal(awsr_sigv4_sign(&rq, &res), 0);
    char hash[65];
    awsr_sha256_hex(body, strlen(body), hash);
    char want[1024];
    snprintf(want, sizeof want,
             "POST\n/\n\n"
             "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
             "host:sts.eu-west-1.amazonaws.com\n"
             "x-amz-date:20231114T221320Z\n"
             "x-amz-security-token:TOKEN+/=\n\n"
             "content-type;host;x-amz-date;x-amz-security-token\n%s",
             hash);
    assert_string_equal(res.canonical_request, want);
    assert_string_equal(res.signed_headers, "content-type;host;x-amz-date;x-amz-security-token");
    assert_string_equal(res.add_headers[0], "X-Amz-Date: 20231114T221320Z");
    assert_string_equal(res.add_headers[1], "X-Amz-Security-Token: TOKEN+/=");
    assert_non_null(strstr(res.add_headers[2],
                           "Authorization: AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20231114/"
                           "eu-west-1/sts/aws4_request, SignedHeaders=content-type;host;"
                           "x-amz-date;x-amz-security-token, Signature="));
    assert_null(res.add_headers[3]);
    assert_null(strstr(res.canonical_request, "x-amz-content-sha256"));
    assert_null(strstr(res.canonical_request, "user-agent"));
    assert_null(strstr(res.authorization, "secret"));
    awsr_sigv4_result_free(&res);
}

static void test_uri_encode(void **state)
{
    (void)state;
    char *s = awsr_sigv4_uri_encode("a b/c~%+\xe1\x88\xb4", 11, true);
    assert_string_equal(s, "a%20b/c~%25%2B%E1%88%B4");
    free(s);
    s = awsr_sigv4_uri_encode("a/b", 3, false);
    assert_string_equal(s, "a%2Fb");
    free(s);
}

/* Path and query details the suite does not cover directly. */
static void test_canonical_details(void **state)
{
    (void)state;
    struct awsr_sigv4_header h[] = {{"Host", "h"}, {"X-Tab", "\t a \t\t b  "}};
    struct awsr_sigv4_request rq = {
        .method = "GET", .path = "/a/./b/../c/%7E", .query = "b=2&a=&a=1&&c&d=%2f+",
        .headers = h, .n_headers = 2, .region = "r", .service = "s", .timestamp = 0,
        .access_key_id = "A", .secret_access_key = "S", .normalize_path = true,
    };
    struct awsr_sigv4_result res;
    assert_int_equal(awsr_sigv4_sign(&rq, &res), 0);
    assert_string_equal(res.canonical_request,
                        "GET\n/a/c/%257E\na=&a=1&b=2&c=&d=%2F%2B\nhost:h\nx-amz-date:"
                        "19700101T000000Z\nx-tab:a b\n\nhost;x-amz-date;x-tab\n"
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    awsr_sigv4_result_free(&res);

    rq.single_encode_path = true;
    rq.normalize_path = false;
    rq.query = NULL;
    assert_int_equal(awsr_sigv4_sign(&rq, &res), 0);
    assert_memory_equal(res.canonical_request, "GET\n/a/./b/../c/%7E\n\n", 21);
    awsr_sigv4_result_free(&res);

    rq.secret_access_key = NULL;
    assert_int_equal(awsr_sigv4_sign(&rq, &res), -1);
    assert_null(res.canonical_request);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_all_cases),
        cmocka_unit_test(test_vanilla_known_signature),
        cmocka_unit_test(test_sts_request_shape),
        cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_canonical_details),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
