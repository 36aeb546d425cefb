/* sts_params.c - botocore's client-side minimums for STS parameters (see sts_params.h). */
#include "sts_params.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

static void add_line(struct awsr_param_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_line(struct awsr_param_report *r, const char *fmt, ...)
{
    if (r->len < sizeof r->text - 1) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(r->text + r->len, sizeof r->text - r->len, fmt, ap);
        va_end(ap);
        if (n > 0)
            r->len += (size_t)n < sizeof r->text - r->len ? (size_t)n : sizeof r->text - r->len - 1;
    }
    r->count++;
}

/* Python's len() of the text: invalid bytes count one each (the config files are decoded
 * strictly before this, so they do not occur in practice). */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; n++) {
        uint32_t cp;
        size_t k = awsr_utf8_decode(p, 4, &cp);
        p += k ? k : 1;
    }
    return n;
}

void awsr_param_min_len(struct awsr_param_report *r, const char *name, const char *value,
                        size_t min)
{
    if (!value)
        return;
    size_t n = chars(value);
    if (n < min)
        add_line(r, "%sInvalid length for parameter %s, value: %zu, valid min length: %zu",
                 r->count ? "; " : "", name, n, min);
}

void awsr_param_min_value(struct awsr_param_report *r, const char *name, long long value,
                          long long min)
{
    if (value < min)
        add_line(r, "%sInvalid value for parameter %s, value: %lld, valid min value: %lld",
                 r->count ? "; " : "", name, value, min);
}

int awsr_param_report_error(const struct awsr_param_report *r, int status,
                            struct awsr_error *err)
{
    if (!r->count)
        return 0;
    return awsr_error_set(err, status, "Parameter validation failed: %s", r->text);
}
