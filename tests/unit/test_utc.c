/* test_utc.c - resolver/utc.c against libc's timegm and gmtime_r (the oracle), over fixed
 * dates that catch the usual mistakes (leap days, century years, the epoch, before it)
 * and a sweep of pseudo-random instants; and the ISO 8601 helpers that use it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "creds.h"
#include "utc.h"

static void check_instant(time_t t)
{
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    struct awsr_utc u;
    awsr_time_to_utc(t, &u);
    assert_int_equal(u.year, tm.tm_year + 1900LL);
    assert_int_equal(u.month, tm.tm_mon + 1);
    assert_int_equal(u.day, tm.tm_mday);
    assert_int_equal(u.hour, tm.tm_hour);
    assert_int_equal(u.min, tm.tm_min);
    assert_int_equal(u.sec, tm.tm_sec);
    assert_int_equal(awsr_utc_to_time(&u), t);
}

static void test_fixed_dates(void **state)
{
    (void)state;
    static const struct {
        long long y;
        int mo, d, h, mi, s;
        long long t;
    } cases[] = {
        {1970, 1, 1, 0, 0, 0, 0},
        {1969, 12, 31, 23, 59, 59, -1},
        {2000, 2, 29, 12, 0, 0, 951825600},
        {2000, 3, 1, 0, 0, 0, 951868800},
        {1900, 3, 1, 0, 0, 0, -2203891200LL},
        {2100, 2, 28, 23, 59, 59, 4107542399LL},
        {2100, 3, 1, 0, 0, 0, 4107542400LL},
        {2038, 1, 19, 3, 14, 8, 2147483648LL},
        {2026, 11, 28, 14, 0, 0, 1795874400LL},
        {1600, 1, 1, 0, 0, 0, -11676096000LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct awsr_utc u = {cases[i].y, cases[i].mo, cases[i].d, cases[i].h, cases[i].mi,
                             cases[i].s};
        assert_int_equal(awsr_utc_to_time(&u), cases[i].t);
        check_instant((time_t)cases[i].t);
    }
}

static void test_sweep_against_libc(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* years 1 to 9999 */
        time_t t = (time_t)((int64_t)(x % 315537897600ULL) - 62135596800LL);
        check_instant(t);
    }
}

static void test_out_of_range_fields_carry_like_timegm(void **state)
{
    (void)state;
    static const int fields[][6] = {
        {2026, 2, 30, 0, 0, 0}, {2026, 13, 1, 0, 0, 0}, {2026, 0, 1, 0, 0, 0},
        {2024, 2, 31, 25, 61, 61}, {2026, 12, 32, 0, 0, 60}, {2026, -1, 15, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        struct tm tm = {.tm_year = fields[i][0] - 1900, .tm_mon = fields[i][1] - 1,
                        .tm_mday = fields[i][2], .tm_hour = fields[i][3],
                        .tm_min = fields[i][4], .tm_sec = fields[i][5]};
        struct awsr_utc u = {fields[i][0], fields[i][1], fields[i][2], fields[i][3],
                             fields[i][4], fields[i][5]};
        assert_int_equal(awsr_utc_to_time(&u), timegm(&tm));
    }
}

static void test_extremes_do_not_overflow(void **state)
{
    (void)state;
    struct awsr_utc u;
    awsr_time_to_utc((time_t)INT64_MIN, &u); /* UBSan checks the arithmetic */
    assert_true(u.year < -200000000000LL);
    awsr_time_to_utc((time_t)INT64_MAX, &u);
    assert_true(u.year > 200000000000LL);
    struct awsr_utc far = {AWSR_UTC_YEAR_MAX + 1, 1, 1, 0, 0, 0};
    assert_int_equal(awsr_utc_to_time(&far), -1);
    far.year = -AWSR_UTC_YEAR_MAX - 1;
    assert_int_equal(awsr_utc_to_time(&far), -1);
    struct awsr_utc edge = {AWSR_UTC_YEAR_MAX, 12, 31, 23, 59, 59};
    time_t t = awsr_utc_to_time(&edge);
    awsr_time_to_utc(t, &u);
    assert_int_equal(u.year, AWSR_UTC_YEAR_MAX);
    assert_int_equal(u.month, 12);
    assert_int_equal(u.sec, 59);
}

static void test_iso8601_round_trip(void **state)
{
    (void)state;
    char buf[32];
    awsr_time_format(1795874400, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-28T14:00:00Z");
    awsr_time_format(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    time_t t;
    assert_int_equal(awsr_time_parse("2026-11-28T14:00:00Z", &t), 0);
    assert_int_equal(t, 1795874400);
    assert_int_equal(awsr_time_parse("2024-02-29T23:59:59+01:00", &t), 0);
    assert_int_equal(t, 1709251199 - 3600); /* 2024-02-29T22:59:59Z */
    assert_int_equal(awsr_time_parse("1969-12-31T23:59:59Z", &t), 0);
    assert_int_equal(t, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_dates),
        cmocka_unit_test(test_sweep_against_libc),
        cmocka_unit_test(test_out_of_range_fields_carry_like_timegm),
        cmocka_unit_test(test_extremes_do_not_overflow),
        cmocka_unit_test(test_iso8601_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
