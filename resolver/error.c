/* error.c - error values, and the sanitizing printer every message goes through. */
#include "error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static void set_message(struct awsr_error *err, const char *fmt, va_list ap)
{
    vsnprintf(err->message, sizeof err->message, fmt, ap);
}

int awsr_error_set(struct awsr_error *err, int status, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    err->status = status;
    err->code[0] = '\0';
    set_message(err, fmt, ap);
    va_end(ap);
    return -1;
}

int awsr_error_service(struct awsr_error *err, const char *code, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    err->status = AWSR_E_SERVICE;
    snprintf(err->code, sizeof err->code, "%s", code ? code : "");
    set_message(err, fmt, ap);
    va_end(ap);
    return -1;
}

void awsr_error_clear(struct awsr_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

/* Length of a valid UTF-8 sequence starting at s (1-4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
{
    uint32_t cp;
    size_t n = awsr_utf8_decode(s, 4, &cp); /* stops at the terminating NUL */
    /* C1 controls (U+0080..U+009F) can drive some terminals too. */
    if (n && cp >= 0x80 && cp <= 0x9F)
        return 0;
    return n;
}

char *awsr_sanitize(char *dst, size_t dstsz, const char *src)
{
    if (!dst || dstsz == 0)
        return dst;
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    while (*s && o + 1 < dstsz) {
        size_t n = utf8_len(s);
        /* A newline is escaped too: one message is one line, and a name with a newline
         * in it must not forge a second one. */
        if (*s == '\n') {
            if (o + 3 > dstsz)
                break;
            memcpy(dst + o, "\\n", 2);
            o += 2;
            s++;
            continue;
        }
        if (n == 1 && (*s < 0x20 || *s == 0x7F) && *s != '\t')
            n = 0;
        if (n == 0) {
            if (o + 5 > dstsz)
                break;
            snprintf(dst + o, dstsz - o, "\\x%02X", *s);
            o += 4;
            s++;
            continue;
        }
        if (o + n + 1 > dstsz)
            break;
        memcpy(dst + o, s, n);
        o += n;
        s += n;
    }
    dst[o] = '\0';
    return dst;
}

/* While held, lines wait here instead of going to stderr: a statically linked launcher
 * that hands its run over to awsrole-run-full drops them (the companion says them again);
 * otherwise they are written when released, at the latest at exit. */
static struct {
    bool held;
    size_t len;
    char buf[4096];
} pending;

static void emit(const char *clean)
{
    size_t n = strlen(clean);
    if (pending.held && pending.len + n + 15 < sizeof pending.buf) {
        pending.len += (size_t)snprintf(pending.buf + pending.len, sizeof pending.buf - pending.len,
                                        "awsrole-run: %s\n", clean);
        return;
    }
    awsr_log_release();
    fprintf(stderr, "awsrole-run: %s\n", clean);
}

static void release_at_exit(void)
{
    awsr_log_release();
}

void awsr_log_hold(void)
{
    static bool registered;
    if (!registered && atexit(release_at_exit) == 0)
        registered = true;
    pending.held = true;
}

void awsr_log_release(void)
{
    if (pending.len)
        fwrite(pending.buf, 1, pending.len, stderr);
    awsr_log_discard();
}

void awsr_log_discard(void)
{
    pending.held = false;
    pending.len = 0;
}

void awsr_error_print(const struct awsr_error *err)
{
    char clean[sizeof err->message * 4];
    awsr_sanitize(clean, sizeof clean, err->message[0] ? err->message : "unknown error");
    emit(clean);
}

void awsr_log(const char *fmt, ...)
{
    char raw[2048], clean[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    awsr_sanitize(clean, sizeof clean, raw);
    emit(clean);
}
