/* error.h - one error value carried out of every resolver call.
 * The message never holds secrets; main() prints it as "awsrole-run: <message>". */
#ifndef AWSR_ERROR_H
#define AWSR_ERROR_H

#include <stddef.h>

/* Exit statuses (design.md "Exit status"). */
enum {
    AWSR_OK = 0,
    AWSR_E_USAGE = 252,   /* bad usage */
    AWSR_E_CONFIG = 253,  /* configuration or profile error, no MFA source */
    AWSR_E_SERVICE = 254, /* STS answered with an error */
    AWSR_E_OTHER = 255,   /* network, timeout, internal */
};

struct awsr_error {
    int status;          /* one of the AWSR_E_* values, 0 when no error */
    char code[64];       /* AWS error code for AWSR_E_SERVICE ("AccessDenied"), else "" */
    char message[1024];  /* human text, no "awsrole-run:" prefix */
};

/* Sets status and a printf-style message (truncated to fit). Returns -1 so callers can
 * write `return awsr_error_set(...)`. */
int awsr_error_set(struct awsr_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like awsr_error_set for a service error: also records the AWS code. */
int awsr_error_service(struct awsr_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void awsr_error_clear(struct awsr_error *err);

/* Copies src into dst (size dstsz), replacing control characters and invalid UTF-8 with
 * "\xNN" escapes, so config text can never drive the terminal. Returns dst. */
char *awsr_sanitize(char *dst, size_t dstsz, const char *src);

/* Writes "awsrole-run: <message>\n" to stderr, sanitized. */
void awsr_error_print(const struct awsr_error *err);

/* Writes "awsrole-run: <formatted>\n" to stderr (warnings, -v traces), sanitized. */
void awsr_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Holding: awsr_log and awsr_error_print keep their lines (up to 4 KiB) until release
 * (or exit); discard drops them. For the statically linked launcher's first phase. */
void awsr_log_hold(void);
void awsr_log_release(void);
void awsr_log_discard(void);

#endif
