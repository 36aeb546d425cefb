/* strbuf.c - growable string (see strbuf.h). */
#include "strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for `extra` more bytes plus the NUL. */
static int reserve(struct awsr_strbuf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p;
    if (b->secure) {
        p = malloc(cap);
        if (p && b->p) {
            memcpy(p, b->p, b->len + 1);
            explicit_bzero(b->p, b->cap);
            free(b->p);
        }
    } else {
        p = realloc(b->p, cap);
    }
    if (!p) {
        b->failed = true;
        return -1;
    }
    if (!b->p)
        p[0] = '\0';
    b->p = p;
    b->cap = cap;
    return 0;
}

int awsr_strbuf_add(struct awsr_strbuf *b, const void *s, size_t n)
{
    if (reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int awsr_strbuf_adds(struct awsr_strbuf *b, const char *s)
{
    return awsr_strbuf_add(b, s, strlen(s));
}

int awsr_strbuf_addc(struct awsr_strbuf *b, char c)
{
    return awsr_strbuf_add(b, &c, 1);
}

/* Formats straight into the buffer: no temporary copy of what may be a secret. */
int awsr_strbuf_addf(struct awsr_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return -1;
    }
    if (reserve(b, (size_t)n) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void awsr_strbuf_wipe(struct awsr_strbuf *b)
{
    bool secure = b->secure;
    if (b->p) {
        explicit_bzero(b->p, b->cap);
        free(b->p);
    }
    memset(b, 0, sizeof *b);
    b->secure = secure;
}

char *awsr_strbuf_steal(struct awsr_strbuf *b, size_t *len)
{
    if (!b->p)
        awsr_strbuf_add(b, "", 0);
    if (b->failed) {
        awsr_strbuf_wipe(b);
        return NULL;
    }
    char *s = b->p;
    if (len)
        *len = b->len;
    bool secure = b->secure;
    memset(b, 0, sizeof *b);
    b->secure = secure;
    return s;
}
