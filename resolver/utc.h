/* utc.h - UTC calendar arithmetic: seconds since the epoch to and from year, month, day,
 * hour, minute, second (proleptic Gregorian, no leap seconds). libc's timegm and gmtime_r
 * load /etc/localtime on first use (a file, its parser's code, a lock), which every cache
 * hit would pay for; these are pure. */
#ifndef AWSR_UTC_H
#define AWSR_UTC_H

#include <time.h>

struct awsr_utc {
    long long year;
    int month, day;   /* 1-12, 1-31 */
    int hour, min, sec;
};

#define AWSR_UTC_YEAR_MAX 100000000LL

/* Like timegm: out-of-range fields carry over (February 30 is March 1 or 2). (time_t)-1
 * for a year beyond +-AWSR_UTC_YEAR_MAX. */
time_t awsr_utc_to_time(const struct awsr_utc *u);
void awsr_time_to_utc(time_t t, struct awsr_utc *u);

#endif
