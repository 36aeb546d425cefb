/* Unit tests of the shared growable string: appends, formatting, growth in both modes,
 * the empty-string and failure rules of steal, and wipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strbuf.h"

static void test_appends_join_in_order(void **state)
{
    (void)state;
    struct awsr_strbuf b = AWSR_STRBUF_INIT;
    assert_int_equal(awsr_strbuf_add(&b, "ab\0cd", 5), 0);
    assert_int_equal(awsr_strbuf_adds(&b, "xy"), 0);
    assert_int_equal(awsr_strbuf_addc(&b, '!'), 0);
    assert_int_equal(awsr_strbuf_addf(&b, "[%s=%d]", "n", 42), 0);
    assert_int_equal(b.len, 5 + 2 + 1 + 6);
    assert_memory_equal(b.p, "ab\0cdxy![n=42]", b.len + 1); /* NUL-terminated */
    size_t len = 0;
    char *s = awsr_strbuf_steal(&b, &len);
    assert_non_null(s);
    assert_int_equal(len, 14);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    free(s);
}

/* Growth well past the first block, byte by byte and in big pieces, keeps every byte. */
static void grow_and_check(bool secure)
{
    struct awsr_strbuf b = AWSR_STRBUF_INIT;
    b.secure = secure;
    char expect[20000];
    for (size_t i = 0; i < sizeof expect; i++)
        expect[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(awsr_strbuf_addc(&b, expect[i]), 0);
    assert_int_equal(awsr_strbuf_add(&b, expect + 1000, sizeof expect - 1000), 0);
    assert_int_equal(b.len, sizeof expect);
    assert_true(b.cap > b.len);
    assert_memory_equal(b.p, expect, sizeof expect);
    assert_int_equal(b.p[b.len], '\0');
    assert_int_equal(b.secure, secure);
    awsr_strbuf_wipe(&b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.secure, secure); /* the mode survives a wipe */
}

static void test_growth_plain(void **state)
{
    (void)state;
    grow_and_check(false);
}

static void test_growth_secure(void **state)
{
    (void)state;
    grow_and_check(true);
}

static void test_addf_longer_than_first_block(void **state)
{
    (void)state;
    struct awsr_strbuf b = AWSR_STRBUF_SECURE_INIT;
    char word[300];
    memset(word, 'k', sizeof word - 1);
    word[sizeof word - 1] = '\0';
    assert_int_equal(awsr_strbuf_addf(&b, "<%s>", word), 0);
    assert_int_equal(b.len, 301);
    assert_int_equal(b.p[0], '<');
    assert_int_equal(b.p[300], '>');
    assert_int_equal(b.p[301], '\0');
    awsr_strbuf_wipe(&b);
}

static void test_steal_empty_gives_empty_string(void **state)
{
    (void)state;
    struct awsr_strbuf b = AWSR_STRBUF_INIT;
    size_t len = 99;
    char *s = awsr_strbuf_steal(&b, &len);
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
    assert_int_equal(awsr_strbuf_add(&b, NULL, 0), 0); /* nothing to copy is fine */
    s = awsr_strbuf_steal(&b, NULL);
    assert_string_equal(s, "");
    free(s);
}

/* After a failed allocation appends do nothing and steal gives NULL (and frees). */
static void test_failure_is_sticky(void **state)
{
    (void)state;
    struct awsr_strbuf b = AWSR_STRBUF_SECURE_INIT;
    assert_int_equal(awsr_strbuf_adds(&b, "secret"), 0);
    assert_int_equal(awsr_strbuf_add(&b, "x", SIZE_MAX - 2), -1); /* cannot be allocated */
    assert_true(b.failed);
    assert_int_equal(awsr_strbuf_adds(&b, "more"), -1);
    assert_int_equal(awsr_strbuf_addf(&b, "%d", 1), -1);
    assert_string_equal(b.p, "secret"); /* what was there stays until wiped */
    size_t len = 7;
    assert_null(awsr_strbuf_steal(&b, &len));
    assert_int_equal(len, 7);
    assert_null(b.p);
    assert_false(b.failed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appends_join_in_order),
        cmocka_unit_test(test_growth_plain),
        cmocka_unit_test(test_growth_secure),
        cmocka_unit_test(test_addf_longer_than_first_block),
        cmocka_unit_test(test_steal_empty_gives_empty_string),
        cmocka_unit_test(test_failure_is_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
