/* http.h - one HTTP exchange over libcurl (HTTPS with the system CA store or a bundle,
 * plain http:// for custom endpoints). No retries here: callers decide what to retry. */
#ifndef AWSR_HTTP_H
#define AWSR_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define AWSR_HTTP_MAX_BODY (1024 * 1024) /* larger bodies are refused */

struct awsr_http_request {
    const char *method;            /* "GET", "POST", "PUT" */
    const char *url;
    const char *const *headers;    /* "Name: value" strings, NULL-terminated; may be NULL */
    const char *body;
    size_t body_len;
    const char *ca_bundle;         /* NULL: system store */
    long connect_timeout_ms;       /* 0: 5000 */
    long timeout_ms;               /* whole exchange; 0: 10000 */
    bool no_proxy;                 /* never through $http_proxy (the tree's own endpoint) */
};

struct awsr_http_response {
    long status;
    char *body;                    /* NUL-terminated, body_len bytes before the NUL */
    size_t body_len;
    char reason[64];               /* reason phrase of the status line, "" if none */
};

/* 0 when an HTTP response arrived (any status). -1 with AWSR_E_OTHER and a clear message
 * for transport failures (DNS, refused, timeout, TLS verification, body over the cap). */
int awsr_http_send(const struct awsr_http_request *rq, struct awsr_http_response *rs,
                   struct awsr_error *err);
void awsr_http_response_free(struct awsr_http_response *rs);

/* application/x-www-form-urlencoded component (quote_plus): unreserved kept, ' ' -> '+',
 * everything else %XX. Returns malloc'd text. */
char *awsr_form_encode(const char *s);

#endif
