/* strbuf.h - the project's one growable string. Appends never need checking one by one:
 * after a failed allocation the buffer stays `failed`, later appends do nothing, and
 * awsr_strbuf_steal returns NULL. */
#ifndef AWSR_STRBUF_H
#define AWSR_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct awsr_strbuf {
    char *p;        /* NUL-terminated once anything was added; NULL before */
    size_t len;
    size_t cap;
    bool secure;    /* grow by copy-and-wipe, never realloc (text that may hold secrets) */
    bool failed;    /* an allocation failed: appends are no-ops from then on */
};

#define AWSR_STRBUF_INIT {0}
/* For text that may hold secrets: realloc could leave the old bytes in freed memory. */
#define AWSR_STRBUF_SECURE_INIT {.secure = true}

/* 0, or -1 once any allocation has failed (now or earlier). */
int awsr_strbuf_add(struct awsr_strbuf *b, const void *s, size_t n);
int awsr_strbuf_adds(struct awsr_strbuf *b, const char *s);
int awsr_strbuf_addc(struct awsr_strbuf *b, char c);
int awsr_strbuf_addf(struct awsr_strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Wipes the whole block, frees it and empties b (its secure mode is kept). */
void awsr_strbuf_wipe(struct awsr_strbuf *b);

/* Hands over the string (caller frees; "" when nothing was added) and its length, and
 * empties b. NULL after a failed allocation (the buffer is wiped then). */
char *awsr_strbuf_steal(struct awsr_strbuf *b, size_t *len);

#endif
