/* creds.c - credentials values: copies, secure wiping, expiry and ISO 8601 times. */
#include "creds.h"

#include "utc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void awsr_secret_free(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

static int dup_or_null(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

int awsr_creds_set(struct awsr_creds *c, const char *akid, const char *secret,
                   const char *token, time_t expiration)
{
    struct awsr_creds n = {0};
    if (dup_or_null(&n.access_key_id, akid) || dup_or_null(&n.secret_access_key, secret) ||
        dup_or_null(&n.session_token, token)) {
        awsr_creds_clear(&n);
        errno = ENOMEM;
        return -1;
    }
    n.expiration = expiration;
    awsr_creds_clear(c);
    *c = n;
    return 0;
}

int awsr_creds_copy(struct awsr_creds *dst, const struct awsr_creds *src)
{
    if (dst == src)
        return 0;
    struct awsr_creds n = {0};
    if (awsr_creds_set(&n, src->access_key_id, src->secret_access_key, src->session_token,
                       src->expiration) ||
        dup_or_null(&n.account_id, src->account_id)) {
        awsr_creds_clear(&n);
        return -1;
    }
    awsr_creds_clear(dst);
    *dst = n;
    return 0;
}

void awsr_creds_clear(struct awsr_creds *c)
{
    if (!c)
        return;
    awsr_secret_free(c->access_key_id);
    awsr_secret_free(c->secret_access_key);
    awsr_secret_free(c->session_token);
    free(c->account_id);
    memset(c, 0, sizeof *c);
}

bool awsr_creds_present(const struct awsr_creds *c)
{
    return c && c->access_key_id && c->access_key_id[0] && c->secret_access_key &&
           c->secret_access_key[0];
}

bool awsr_creds_expiring(const struct awsr_creds *c, time_t now, long margin)
{
    return c->expiration != 0 && c->expiration - now <= margin;
}

void awsr_time_format(time_t t, char *buf, size_t bufsz)
{
    struct awsr_utc u;
    awsr_time_to_utc(t, &u);
    snprintf(buf, bufsz, "%04lld-%02d-%02dT%02d:%02d:%02dZ", u.year, u.month, u.day, u.hour,
             u.min, u.sec);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int awsr_time_parse(const char *s, time_t *out)
{
    if (!s)
        return -1;
    const char *p = s;
    int y, mo, d, h, mi, se;
    /* Extended (2030-01-01T00:00:00Z) or basic (20300101T000000Z) form, as dateutil reads
     * a credential_process's Expiration; each part uses its separators throughout. */
    if (digits(&p, 4, &y))
        return -1;
    bool ext = *p == '-';
    if ((ext && *p++ != '-') || digits(&p, 2, &mo) || (ext && *p++ != '-') ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (digits(&p, 2, &h))
        return -1;
    ext = *p == ':';
    if ((ext && *p++ != ':') || digits(&p, 2, &mi) || (ext && *p++ != ':') ||
        digits(&p, 2, &se))
        return -1;
    if (*p == '.' || *p == ',') { /* fractional seconds: dropped */
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (strcmp(p, "UTC") == 0 || strcmp(p, "GMT") == 0) {
        p += 3;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om = 0;
        p++;
        if (digits(&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (*p && digits(&p, 2, &om))
            return -1;
        offset = sign * (oh * 3600L + om * 60L);
    } else if (*p != '\0') {
        return -1;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    struct awsr_utc u = {.year = y, .month = mo, .day = d, .hour = h, .min = mi, .sec = se};
    *out = awsr_utc_to_time(&u) - offset;
    return 0;
}
