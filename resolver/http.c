/* http.c - one HTTP exchange over libcurl, with botocore-like messages for transport
 * failures. No retries here (sts.c decides). Never logs or reports bodies or headers. */
#include "http.h"

#include "secmem.h"
#include "strbuf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "curl_dl.h"
#include "sts_xml.h"

/* The Date header of the last response this thread received (see sts_xml.h). */
static _Thread_local time_t last_date;

time_t awsr_http_last_date(void) { return last_date; }

struct sink {
    const struct awsr_curl *cu;
    struct awsr_strbuf body;    /* secure growth: the body holds new credentials */
    bool over_cap;
    bool no_memory;
    char reason[64];
    time_t date;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct sink *s = userp;
    size_t n = size * nmemb;
    if (s->body.len + n > AWSR_HTTP_MAX_BODY) {
        s->over_cap = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (awsr_strbuf_add(&s->body, data, n) < 0) {
        s->no_memory = true;
        return 0;
    }
    return n;
}

static bool header_is(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n > k && line[k] == ':' && strncasecmp(line, name, k) == 0;
}

/* Keeps the reason phrase of the last status line (after 100-continue or a proxy CONNECT
 * there can be several) and the Date header. */
static size_t on_header(char *line, size_t size, size_t nmemb, void *userp)
{
    struct sink *s = userp;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        s->reason[0] = '\0';
        s->date = 0;
        const char *p = memchr(line, ' ', n);                          /* before status */
        const char *q = p ? memchr(p + 1, ' ', n - (size_t)(p + 1 - line)) : NULL; /* after */
        if (q) {
            q++;
            size_t r = n - (size_t)(q - line);
            while (r && (q[r - 1] == '\r' || q[r - 1] == '\n'))
                r--;
            if (r >= sizeof s->reason)
                r = sizeof s->reason - 1;
            memcpy(s->reason, q, r);
            s->reason[r] = '\0';
        }
    } else if (header_is(line, n, "Date")) {
        char v[128];
        size_t k = n - 5;
        if (k >= sizeof v)
            k = sizeof v - 1;
        memcpy(v, line + 5, k);
        v[k] = '\0';
        time_t t = s->cu->getdate(v, NULL);
        s->date = t > 0 ? t : 0;
    }
    return n;
}

static int transport_error(struct awsr_error *err, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int transport_error(struct awsr_error *err, const char *tag, const char *fmt, ...)
{
    char msg[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    awsr_error_set(err, AWSR_E_OTHER, "%s", msg);
    snprintf(err->code, sizeof err->code, "%s", tag);
    return -1;
}

static int map_curl_error(CURLcode rc, CURL *h, const struct awsr_http_request *rq,
                          const struct sink *s, const char *detail, struct awsr_error *err)
{
    const char *url = rq->url;
    switch (rc) {
    case CURLE_WRITE_ERROR:
        if (s->over_cap)
            return transport_error(err, AWSR_HTTP_E_TOO_LARGE,
                                   "The response from \"%s\" is larger than %d bytes; "
                                   "refusing to read it",
                                   url, AWSR_HTTP_MAX_BODY);
        if (s->no_memory)
            return transport_error(err, AWSR_HTTP_E_OTHER, "Out of memory reading \"%s\"", url);
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return transport_error(err, AWSR_HTTP_E_CONNECT,
                               "Could not connect to the endpoint URL: \"%s\"", url);
    case CURLE_OPERATION_TIMEDOUT: {
        long connected = 0;
        curl_off_t t = 0;
        s->cu->easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &t);
        connected = t > 0;
        if (!connected)
            return transport_error(err, AWSR_HTTP_E_TIMEOUT,
                                   "Connect timeout on endpoint URL: \"%s\"", url);
        return transport_error(err, AWSR_HTTP_E_TIMEOUT, "Read timeout on endpoint URL: \"%s\"",
                               url);
    }
    case CURLE_PEER_FAILED_VERIFICATION:
        return transport_error(err, AWSR_HTTP_E_TLS,
                               "SSL validation failed for %s: the server certificate could not "
                               "be verified (%s); check AWS_CA_BUNDLE or the ca_bundle setting",
                               url, detail);
    case CURLE_SSL_CACERT_BADFILE:
        return transport_error(err, AWSR_HTTP_E_TLS,
                               "Could not load the CA bundle \"%s\"; check AWS_CA_BUNDLE or the "
                               "ca_bundle setting",
                               rq->ca_bundle ? rq->ca_bundle : "(system store)");
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
        return transport_error(err, AWSR_HTTP_E_TLS, "TLS connection to %s failed: %s", url,
                               detail);
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return transport_error(err, AWSR_HTTP_E_CONNECT,
                               "Connection was closed before we received a valid response from "
                               "endpoint URL: \"%s\".",
                               url);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return transport_error(err, AWSR_HTTP_E_OTHER, "Invalid endpoint: %s", url);
    default:
        break;
    }
    return transport_error(err, AWSR_HTTP_E_OTHER, "HTTP request to \"%s\" failed: %s", url,
                           detail);
}

int awsr_http_send(const struct awsr_http_request *rq, struct awsr_http_response *rs,
                   struct awsr_error *err)
{
    memset(rs, 0, sizeof *rs);
    last_date = 0;
    const struct awsr_curl *cu = awsr_curl(err);
    if (!cu)
        return transport_error(err, AWSR_HTTP_E_OTHER, "%s", err->message);
    if (!rq->url || !rq->method)
        return transport_error(err, AWSR_HTTP_E_OTHER, "Invalid HTTP request");

    CURL *h = cu->easy_init();
    if (!h)
        return transport_error(err, AWSR_HTTP_E_OTHER, "Could not initialise libcurl");

    struct sink s = {.cu = cu, .body = AWSR_STRBUF_SECURE_INIT};
    struct curl_slist *hdrs = NULL;
    bool oom = false;
    /* no "Expect: 100-continue" round trip, and no default Accept */
    const char *fixed[] = {"Expect:", "Accept:"};
    for (size_t i = 0; i < 2 && !oom; i++) {
        struct curl_slist *n = cu->slist_append(hdrs, fixed[i]);
        oom = !n;
        hdrs = n ? n : hdrs;
    }
    for (const char *const *p = rq->headers; p && *p && !oom; p++) {
        struct curl_slist *n = cu->slist_append(hdrs, *p);
        oom = !n;
        hdrs = n ? n : hdrs;
    }
    if (oom) {
        cu->slist_free_all(hdrs);
        cu->easy_cleanup(h);
        return transport_error(err, AWSR_HTTP_E_OTHER, "Out of memory");
    }

    char detail[CURL_ERROR_SIZE] = "";
    cu->easy_setopt(h, CURLOPT_URL, rq->url);
    cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    cu->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    cu->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (rq->no_proxy)
        cu->easy_setopt(h, CURLOPT_NOPROXY, "*");
    cu->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     rq->connect_timeout_ms > 0 ? rq->connect_timeout_ms : 5000L);
    cu->easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms > 0 ? rq->timeout_ms : 10000L);
    cu->easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    cu->easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (rq->ca_bundle && rq->ca_bundle[0])
        cu->easy_setopt(h, CURLOPT_CAINFO, rq->ca_bundle);
    cu->easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    cu->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    cu->easy_setopt(h, CURLOPT_WRITEDATA, &s);
    cu->easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    cu->easy_setopt(h, CURLOPT_HEADERDATA, &s);
    if (strcmp(rq->method, "GET") == 0) {
        cu->easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        cu->easy_setopt(h, CURLOPT_POST, 1L);
        cu->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
        cu->easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        if (strcmp(rq->method, "POST") != 0)
            cu->easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }

    CURLcode rc = cu->easy_perform(h);
    int ret = 0;
    if (rc != CURLE_OK) {
        if (!detail[0])
            snprintf(detail, sizeof detail, "%s", cu->easy_strerror(rc));
        ret = map_curl_error(rc, h, rq, &s, detail, err);
        awsr_strbuf_wipe(&s.body);
    } else {
        cu->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
        /* An empty body still comes back as "". */
        if (!(rs->body = awsr_strbuf_steal(&s.body, &rs->body_len)))
            ret = transport_error(err, AWSR_HTTP_E_OTHER, "Out of memory");
        if (ret == 0) {
            snprintf(rs->reason, sizeof rs->reason, "%s", s.reason);
            last_date = s.date;
        }
    }
    cu->slist_free_all(hdrs);
    cu->easy_cleanup(h);
    return ret;
}

void awsr_http_response_free(struct awsr_http_response *rs)
{
    if (!rs)
        return;
    awsr_secmem_free(rs->body);
    memset(rs, 0, sizeof *rs);
}

char *awsr_form_encode(const char *s)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t n = s ? strlen(s) : 0;
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        } else if (c == ' ') {
            *o++ = '+';
        } else {
            *o++ = '%';
            *o++ = digits[c >> 4];
            *o++ = digits[c & 15];
        }
    }
    *o = '\0';
    return out;
}
