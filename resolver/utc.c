/* utc.c - UTC calendar arithmetic (the days <-> civil date algorithms of Howard Hinnant's
 * "chrono-Compatible Low-Level Date Algorithms"). */
#include "utc.h"

#include <stdint.h>

/* Days since 1970-01-01 of year y, month m (1-12), day d. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, struct awsr_utc *u)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    u->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    u->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    u->year = yoe + era * 400 + (u->month <= 2);
}

time_t awsr_utc_to_time(const struct awsr_utc *u)
{
    /* Far beyond any date AWS writes, and where the day count would overflow. */
    if (u->year < -AWSR_UTC_YEAR_MAX || u->year > AWSR_UTC_YEAR_MAX)
        return (time_t)-1;
    /* Months outside 1-12 carry into the year first, as timegm does. */
    int64_t m = u->month - 1, y = u->year + (m >= 0 ? m / 12 : (m - 11) / 12);
    m -= (m >= 0 ? m / 12 : (m - 11) / 12) * 12;
    int64_t days = days_from_civil(y, m + 1, 1) + u->day - 1;
    return (time_t)(days * 86400 + (int64_t)u->hour * 3600 + (int64_t)u->min * 60 + u->sec);
}

void awsr_time_to_utc(time_t t, struct awsr_utc *u)
{
    int64_t s = (int64_t)t;
    int64_t days = s / 86400, rem = s % 86400; /* floor division, no overflow at the ends */
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    civil_from_days(days, u);
    u->hour = (int)(rem / 3600);
    u->min = (int)(rem % 3600 / 60);
    u->sec = (int)(rem % 60);
}
