/* Unit tests of the small shared pieces: message sanitizing, credentials values and the
 * ISO 8601 forms botocore and STS write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "creds.h"
#include "error.h"
#include "handover.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void test_sanitize_escapes_terminal_controls(void **state)
{
    (void)state;
    char out[256];
    assert_string_equal(awsr_sanitize(out, sizeof out, "a\x1b[2Jb"), "a\\x1B[2Jb");
    assert_string_equal(awsr_sanitize(out, sizeof out, "line\nforged"), "line\\nforged");
    assert_string_equal(awsr_sanitize(out, sizeof out, "bell\a del\x7f"), "bell\\x07 del\\x7F");
    /* C1 control U+009B (CSI) and invalid UTF-8 are escaped byte by byte. */
    assert_string_equal(awsr_sanitize(out, sizeof out, "c1\xc2\x9bx"), "c1\\xC2\\x9Bx");
    assert_string_equal(awsr_sanitize(out, sizeof out, "bad\xff\xfe"), "bad\\xFF\\xFE");
    /* Overlong encodings and surrogates are invalid. */
    assert_string_equal(awsr_sanitize(out, sizeof out, "\xc0\xaf"), "\\xC0\\xAF");
    assert_string_equal(awsr_sanitize(out, sizeof out, "\xed\xa0\x80"), "\\xED\\xA0\\x80");
}

static void test_sanitize_keeps_text_and_truncates_safely(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(awsr_sanitize(out, sizeof out, "r\xc3\xa9gion\ttab \xe2\x82\xac"),
                        "r\xc3\xa9gion\ttab \xe2\x82\xac");
    char tiny[6];
    awsr_sanitize(tiny, sizeof tiny, "\x1b\x1b\x1b");
    assert_string_equal(tiny, "\\x1B"); /* never a partial escape */
    awsr_sanitize(tiny, sizeof tiny, "ab\xe2\x82\xac");
    assert_string_equal(tiny, "ab\xe2\x82\xac");
    awsr_sanitize(tiny, 4, "ab\xe2\x82\xac");
    assert_string_equal(tiny, "ab"); /* never a partial UTF-8 sequence */
    assert_string_equal(awsr_sanitize(out, sizeof out, NULL), "");
}

static void test_error_set_and_service(void **state)
{
    (void)state;
    struct awsr_error e = {0};
    assert_int_equal(awsr_error_set(&e, AWSR_E_CONFIG, "profile %s", "x"), -1);
    assert_int_equal(e.status, AWSR_E_CONFIG);
    assert_string_equal(e.message, "profile x");
    assert_string_equal(e.code, "");
    awsr_error_service(&e, "AccessDenied", "An error occurred (%s)", "AccessDenied");
    assert_int_equal(e.status, AWSR_E_SERVICE);
    assert_string_equal(e.code, "AccessDenied");
    char big[4096];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    awsr_error_set(&e, AWSR_E_OTHER, "%s", big);
    assert_int_equal(strlen(e.message), sizeof e.message - 1);
    awsr_error_clear(&e);
    assert_int_equal(e.status, 0);
}

/* What fd 2 received since the last call (the test's stderr goes to a temporary file). */
static char *stderr_text(FILE *capture)
{
    static char buf[16384];
    fflush(stderr);
    rewind(capture);
    size_t n = fread(buf, 1, sizeof buf - 1, capture);
    buf[n] = '\0';
    rewind(capture);
    assert_int_equal(ftruncate(fileno(capture), 0), 0);
    return buf;
}

static void test_log_hold_release_and_discard(void **state)
{
    (void)state;
    FILE *capture = tmpfile();
    assert_non_null(capture);
    int saved = dup(2);
    dup2(fileno(capture), 2);

    awsr_log_hold();
    awsr_log("first %d", 1);
    struct awsr_error e = {0};
    awsr_error_set(&e, AWSR_E_CONFIG, "second\x1b");
    awsr_error_print(&e);
    assert_string_equal(stderr_text(capture), "");
    awsr_log_release();
    assert_string_equal(stderr_text(capture), "awsrole-run: first 1\nawsrole-run: second\\x1B\n");

    /* discarded lines never appear; after that, lines go out at once */
    awsr_log_hold();
    awsr_log("dropped");
    awsr_log_discard();
    awsr_log("direct");
    assert_string_equal(stderr_text(capture), "awsrole-run: direct\n");

    /* more than the buffer holds: everything comes out, in order */
    awsr_log_hold();
    char line[200];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    for (int i = 0; i < 40; i++)
        awsr_log("%02d %s", i, line);
    awsr_log_release();
    const char *out = stderr_text(capture);
    for (int i = 0; i < 40; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "awsrole-run: %02d x", i);
        const char *at = strstr(out, tag);
        assert_non_null(at);
        out = at + 1;
    }

    dup2(saved, 2);
    close(saved);
    fclose(capture);
}

static const char *handed_over;

static void record_handover(const char *why)
{
    handed_over = why;
}

static void test_handover_calls_the_armed_handler_only(void **state)
{
    (void)state;
    awsr_handover("nobody listens");
    assert_null(handed_over);
    awsr_handover_arm(record_handover);
    awsr_handover("libcurl.so.4");
    assert_string_equal(handed_over, "libcurl.so.4");
    awsr_handover_arm(NULL);
    awsr_handover("again");
    assert_string_equal(handed_over, "libcurl.so.4");
}

static void test_time_parse_forms(void **state)
{
    (void)state;
    const time_t want = 1767268800; /* 2026-01-01T12:00:00Z */
    const char *forms[] = {"2026-01-01T12:00:00Z", "2026-01-01T12:00:00+00:00",
                           "2026-01-01T12:00:00.611Z", "2026-01-01T12:00:00UTC",
                           "2026-01-01T14:00:00+02:00", "2026-01-01T07:00:00-0500",
                           "2026-01-01 12:00:00Z", "2026-01-01t12:00:00z",
                           /* the basic form, as dateutil reads it */
                           "20260101T120000Z", "20260101T140000+0200", "2026-01-01T120000Z"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        time_t t = 0;
        assert_int_equal(awsr_time_parse(forms[i], &t), 0);
        assert_int_equal((long long)t, (long long)want);
    }
    const char *bad[] = {"", "2026-01-01", "2026-13-01T12:00:00Z", "2026-01-01T25:00:00Z",
                         "2026-01-01T12:00:00Zjunk", "2026-01-01T12:00:00.Z", "yesterday",
                         "2026-01-01T12:00:00+0", "2026-0101T12:00:00Z", "20260101T12:0000Z",
                         "202601011T120000Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        time_t t = 0;
        assert_int_equal(awsr_time_parse(bad[i], &t), -1);
    }
    char buf[32];
    awsr_time_format(want, buf, sizeof buf);
    assert_string_equal(buf, "2026-01-01T12:00:00Z");
}

static void test_creds_copy_clear_and_expiry(void **state)
{
    (void)state;
    struct awsr_creds a = {0}, b = {0};
    assert_int_equal(awsr_creds_set(&a, "ASIAX", "secret", "token", 1000), 0);
    assert_true(awsr_creds_present(&a));
    assert_int_equal(awsr_creds_copy(&b, &a), 0);
    assert_string_equal(b.secret_access_key, "secret");
    assert_ptr_not_equal(b.secret_access_key, a.secret_access_key);
    assert_true(awsr_creds_expiring(&a, 500, 600));
    assert_false(awsr_creds_expiring(&a, 300, 600));
    awsr_creds_clear(&a);
    assert_null(a.access_key_id);
    assert_false(awsr_creds_present(&a));
    struct awsr_creds forever = {0};
    awsr_creds_set(&forever, "AKIA", "s", NULL, 0);
    assert_false(awsr_creds_expiring(&forever, 4000000000, 600)); /* long-term keys */
    assert_int_equal(awsr_creds_set(&b, "", "s", NULL, 0), 0);
    assert_false(awsr_creds_present(&b)); /* an empty key id is no credentials */
    awsr_creds_clear(&b);
    awsr_creds_clear(&forever);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sanitize_escapes_terminal_controls),
        cmocka_unit_test(test_sanitize_keeps_text_and_truncates_safely),
        cmocka_unit_test(test_error_set_and_service),
        cmocka_unit_test(test_log_hold_release_and_discard),
        cmocka_unit_test(test_handover_calls_the_armed_handler_only),
        cmocka_unit_test(test_time_parse_forms),
        cmocka_unit_test(test_creds_copy_clear_and_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
