/* sts.c - STS client: endpoint choice, form bodies, SigV4 signing, retries with jittered
 * exponential backoff inside a deadline, and botocore's error texts. */
#include "sts.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "crypto.h"
#include "curl_dl.h"
#include "http.h"
#include "sigv4.h"
#include "sts_xml.h"
#include "utc.h"

#ifndef AWSR_VERSION
#define AWSR_VERSION "0"
#endif

#define DEFAULT_MAX_ATTEMPTS 3 /* CLI v2's standard retry mode */
#define DEFAULT_DEADLINE 30 /* seconds from the first call */
#define SKEW_LIMIT 300      /* seconds */

/* ---- seams ---- */

static int real_transport(const struct awsr_http_request *rq, struct awsr_http_response *rs,
                          time_t *server_date, struct awsr_error *err)
{
    int rc = awsr_http_send(rq, rs, err);
    *server_date = rc == 0 ? awsr_http_last_date() : 0;
    return rc;
}

static void real_sleep(double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static time_t real_now(void) { return time(NULL); }

static awsr_sts_transport_fn transport = real_transport;
static awsr_sts_sleep_fn sleeper = real_sleep;
static time_t (*clock_now)(void) = real_now;

void awsr_sts_set_hooks(awsr_sts_transport_fn send, awsr_sts_sleep_fn sleep_fn,
                        time_t (*now_fn)(void))
{
    transport = send ? send : real_transport;
    sleeper = sleep_fn ? sleep_fn : real_sleep;
    clock_now = now_fn ? now_fn : real_now;
}

/* ---- endpoints ---- */

static const char *const legacy_global_regions[] = {
    "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "aws-global",
    "ca-central-1",   "eu-central-1", "eu-north-1",   "eu-west-1",      "eu-west-2",
    "eu-west-3",      "sa-east-1",  "us-east-1",      "us-east-2",      "us-west-1",
    "us-west-2"};

/* A safety check before the region goes into a host name. botocore's own check
 * (utils.validate_region_name, done in profile.c) allows upper case, so this must too. */
static bool valid_region(const char *r)
{
    if (!*r)
        return false;
    for (const char *p = r; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-'))
            return false;
    return true;
}

static const char *dns_suffix(const char *region)
{
    if (!strncmp(region, "cn-", 3))
        return "amazonaws.com.cn";
    if (!strncmp(region, "us-isob-", 8))
        return "sc2s.sgov.gov";
    if (!strncmp(region, "us-iso-", 7))
        return "c2s.ic.gov";
    return "amazonaws.com"; /* aws and aws-us-gov */
}

/* The partition's dual-stack suffix; NULL where the partition has none (the ISO ones). */
static const char *dualstack_suffix(const char *region)
{
    if (!strncmp(region, "cn-", 3))
        return "api.amazonwebservices.com.cn";
    if (!strncmp(region, "us-iso", 6))
        return NULL;
    return "api.aws";
}

static int check_regional_mode(const char *mode, bool *legacy, struct awsr_error *err)
{
    *legacy = false;
    if (!mode || !mode[0])
        return 0;
    if (!strcmp(mode, "legacy"))
        *legacy = true;
    else if (strcmp(mode, "regional") != 0)
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "STS regional endpoints option %s is invalid. Valid options "
                              "are: \"legacy\", \"regional\"",
                              mode);
    return 0;
}

static bool legacy_global(const char *region)
{
    for (size_t i = 0; i < sizeof legacy_global_regions / sizeof *legacy_global_regions; i++)
        if (!strcmp(region, legacy_global_regions[i]))
            return true;
    return false;
}

/* The endpoint-rule-set's answer for a region (no configured endpoint). */
static int regional_url(const struct awsr_sts_settings *s, const char *region, bool legacy,
                        char *url, size_t n, const char **sign_region, struct awsr_error *err)
{
    bool variant = s->fips || s->dualstack;
    if (!variant && (!region || !strcmp(region, "aws-global") || (legacy && legacy_global(region)))) {
        snprintf(url, n, "https://sts.amazonaws.com");
        *sign_region = "us-east-1";
        return 0;
    }
    if (!region || !strcmp(region, "aws-global"))
        region = "us-east-1"; /* a FIPS or dual-stack endpoint is always regional */
    *sign_region = region;
    const char *ds = dualstack_suffix(region);
    if (s->dualstack && !ds)
        return awsr_error_set(err, AWSR_E_CONFIG, "DualStack is enabled but this partition "
                              "does not support DualStack");
    const char *suffix = s->dualstack ? ds : dns_suffix(region);
    bool gov = !strncmp(region, "us-gov-", 7);
    const char *host = s->fips && !(gov && !s->dualstack) ? "sts-fips" : "sts";
    snprintf(url, n, "https://%s.%s.%s", host, region, suffix);
    return 0;
}

/* Plain http:// is for a local test or proxy endpoint (design.md); anywhere else the MFA
 * code and the credentials cross the network in clear. Said once per process. */
static void warn_if_cleartext(const char *url)
{
    static bool said;
    if (said || strncasecmp(url, "http://", 7) != 0)
        return;
    const char *h = url + 7;
    size_t n = strcspn(h, "/?#");
    static const char *const local[] = {"127.", "localhost:", "[::1]:"};
    for (size_t i = 0; i < sizeof local / sizeof *local; i++)
        if (!strncasecmp(h, local[i], strlen(local[i])) ||
            (n == strlen(local[i]) - 1 && !strncasecmp(h, local[i], n)))
            return;
    said = true;
    awsr_log("warning: the STS endpoint %s is plain http:// on another machine: MFA codes and "
             "credentials cross the network unencrypted; use https://", url);
}

int awsr_sts_client_init(struct awsr_sts_client *c, const struct awsr_sts_settings *s,
                         struct awsr_error *err)
{
    memset(c, 0, sizeof *c);
    bool legacy;
    if (check_regional_mode(s->regional_mode, &legacy, err))
        return -1;
    const char *region = s->region && s->region[0] ? s->region : NULL;
    if (region && !valid_region(region))
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "Provided region_name '%s' doesn't match a supported format.",
                              region);

    char url[512];
    const char *sign_region = region ? region : "us-east-1";
    if (s->endpoint && s->endpoint[0]) {
        if (s->fips)
            return awsr_error_set(err, AWSR_E_CONFIG, "Invalid Configuration: FIPS and custom "
                                  "endpoint are not supported");
        if (s->dualstack)
            return awsr_error_set(err, AWSR_E_CONFIG, "Invalid Configuration: Dualstack and "
                                  "custom endpoint are not supported");
        if (strncasecmp(s->endpoint, "http://", 7) && strncasecmp(s->endpoint, "https://", 8))
            return awsr_error_set(err, AWSR_E_CONFIG, "Invalid endpoint: %s", s->endpoint);
        warn_if_cleartext(s->endpoint);
        c->endpoint = strdup(s->endpoint);
    } else {
        if (regional_url(s, region, legacy, url, sizeof url, &sign_region, err))
            return -1;
        c->endpoint = strdup(url);
    }
    c->region = strdup(sign_region);
    c->ca_bundle = s->ca_bundle && s->ca_bundle[0] ? strdup(s->ca_bundle) : NULL;
    c->max_attempts = s->max_attempts > 0 ? s->max_attempts : DEFAULT_MAX_ATTEMPTS;
    if (!c->endpoint || !c->region || (s->ca_bundle && s->ca_bundle[0] && !c->ca_bundle)) {
        awsr_sts_client_free(c);
        return awsr_error_set(err, AWSR_E_OTHER, "Out of memory");
    }
    return 0;
}

void awsr_sts_client_free(struct awsr_sts_client *c)
{
    if (!c)
        return;
    free(c->endpoint);
    free(c->region);
    free(c->ca_bundle);
    memset(c, 0, sizeof *c);
}

void awsr_identity_free(struct awsr_identity *id)
{
    if (!id)
        return;
    free(id->account);
    free(id->arn);
    free(id->user_id);
    memset(id, 0, sizeof *id);
}

/* ---- request building ---- */

int awsr_form_append(char **body, const char *name, const char *value)
{
    if (!value)
        return 0;
    char *enc = awsr_form_encode(value);
    size_t old = *body ? strlen(*body) : 0;
    size_t need = old + 1 + strlen(name) + 1 + (enc ? strlen(enc) : 0) + 1;
    char *n = enc ? malloc(need) : NULL;
    if (!n) {
        awsr_secret_free(enc);
        awsr_secret_free(*body);
        *body = NULL;
        return -1;
    }
    snprintf(n, need, "%s%s%s=%s", old ? *body : "", old ? "&" : "", name, enc);
    awsr_secret_free(enc);
    awsr_secret_free(*body);
    *body = n;
    return 0;
}

static char *header_line(const char *name, const char *value)
{
    size_t n = strlen(name) + 2 + strlen(value) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s: %s", name, value);
    return s;
}

void awsr_sts_wire_free(struct awsr_sts_wire *w)
{
    if (!w)
        return;
    free(w->url);
    awsr_secret_free(w->body);
    for (size_t i = 0; i < sizeof w->headers / sizeof *w->headers; i++)
        awsr_secret_free(w->headers[i]);
    memset(w, 0, sizeof *w);
}

/* Host header value and path/query of the URL, as they go on the wire. */
static int split_url(const char *url, char **host, char **path, char **query)
{
    *host = *path = *query = NULL;
    const struct awsr_curl *cu = awsr_curl(NULL);
    if (!cu)
        return -1;
    CURLU *u = cu->url();
    char *h = NULL, *port = NULL, *p = NULL, *q = NULL;
    int rc = -1;
    if (!u || cu->url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        cu->url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
        cu->url_get(u, CURLUPART_PATH, &p, 0) != CURLUE_OK)
        goto out;
    cu->url_get(u, CURLUPART_PORT, &port, 0); /* only when written in the URL */
    if (cu->url_get(u, CURLUPART_QUERY, &q, 0) != CURLUE_OK)
        q = NULL;
    size_t n = strlen(h) + (port ? strlen(port) + 1 : 0) + 1;
    *host = malloc(n);
    *path = strdup(p);
    *query = q ? strdup(q) : NULL;
    if (!*host || !*path || (q && !*query))
        goto out;
    snprintf(*host, n, "%s%s%s", h, port ? ":" : "", port ? port : "");
    /* a default port written explicitly is not sent in Host by curl */
    if (port && ((!strncasecmp(url, "https:", 6) && !strcmp(port, "443")) ||
                 (!strncasecmp(url, "http:", 5) && !strcmp(port, "80"))))
        (*host)[strlen(h)] = '\0';
    rc = 0;
out:
    if (rc) {
        free(*host);
        free(*path);
        free(*query);
        *host = *path = *query = NULL;
    }
    cu->free(h);
    cu->free(port);
    cu->free(p);
    cu->free(q);
    cu->url_cleanup(u);
    return rc;
}

int awsr_sts_build_request(const struct awsr_sts_client *c, const struct awsr_creds *src,
                           const char *body, time_t now, struct awsr_sts_wire *out,
                           struct awsr_error *err)
{
    memset(out, 0, sizeof *out);
    static const char content_type[] = "application/x-www-form-urlencoded; charset=utf-8";
    char *host, *path, *query;
    /* libcurl parses the URL, libcrypto signs: both are loaded on first use */
    if (!awsr_curl(err) || (src && awsr_crypto_load(err) != 0))
        return -1;
    if (split_url(c->endpoint, &host, &path, &query) != 0)
        return awsr_error_set(err, AWSR_E_CONFIG, "Invalid endpoint: %s", c->endpoint);
    out->url = strdup(c->endpoint);
    out->body = strdup(body);
    out->body_len = strlen(body);
    size_t h = 0;
    out->headers[h++] = header_line("Host", host);
    out->headers[h++] = header_line("Content-Type", content_type);
    out->headers[h++] = header_line("User-Agent", "awsrole-run/" AWSR_VERSION);
    bool ok = out->url && out->body;
    for (size_t i = 0; i < h; i++)
        ok = ok && out->headers[i];

    if (ok && src) {
        struct awsr_sigv4_header sh[] = {{"Content-Type", content_type}, {"Host", host}};
        struct awsr_sigv4_request rq = {
            .method = "POST",
            .path = path,
            .query = query,
            .headers = sh,
            .n_headers = 2,
            .body = body,
            .body_len = out->body_len,
            .region = c->region,
            .service = "sts",
            .timestamp = now,
            .access_key_id = src->access_key_id,
            .secret_access_key = src->secret_access_key,
            .session_token = src->session_token,
            .normalize_path = true,
        };
        struct awsr_sigv4_result res;
        if (awsr_sigv4_sign(&rq, &res) != 0) {
            ok = false;
        } else {
            for (char **a = res.add_headers; *a && h < sizeof out->headers / sizeof *out->headers - 1;
                 a++) {
                out->headers[h++] = *a;
                *a = NULL; /* ownership moves to out */
            }
            awsr_sigv4_result_free(&res);
            for (size_t i = 0; i < h; i++)
                ok = ok && out->headers[i];
        }
    }
    free(host);
    free(path);
    free(query);
    if (!ok) {
        awsr_sts_wire_free(out);
        return awsr_error_set(err, AWSR_E_OTHER, "Could not build the STS request");
    }
    return 0;
}

/* ---- retries ---- */

bool awsr_sts_retryable_code(const char *code)
{
    static const char *const codes[] = {
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException",
        "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
        "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException", "IDPCommunicationError"};
    for (size_t i = 0; code && i < sizeof codes / sizeof *codes; i++)
        if (!strcmp(code, codes[i]))
            return true;
    return false;
}

static bool auth_error(const char *code)
{
    static const char *const codes[] = {
        "SignatureDoesNotMatch", "InvalidClientTokenId", "ExpiredToken",
        "ExpiredTokenException", "RequestExpired", "InvalidSignatureException", "AuthFailure",
        "RequestTimeTooSkewed"};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (!strcmp(code, codes[i]))
            return true;
    return false;
}

/* "... (20150830T125100Z - 15 min.)": STS writes its own clock in the message. */
static time_t server_time_in_message(const char *msg)
{
    for (const char *p = strchr(msg, '('); p; p = strchr(p + 1, '(')) {
        int y = 0;
        struct awsr_utc u = {0};
        char z = 0;
        if (sscanf(p + 1, "%4d%2d%2dT%2d%2d%2d%c", &y, &u.month, &u.day, &u.hour, &u.min,
                   &u.sec, &z) == 7 &&
            z == 'Z' && (!strncmp(p + 17, " - 15 min.)", 11) || !strncmp(p + 17, " + 15 min.)", 11))) {
            u.year = y;
            return awsr_utc_to_time(&u);
        }
    }
    return 0;
}

void awsr_sts_clock_hint(struct awsr_error *err, time_t server_date, time_t now)
{
    if (err->status != AWSR_E_SERVICE || !auth_error(err->code))
        return;
    bool says_skew = !strcmp(err->code, "RequestExpired") ||
                     !strcmp(err->code, "RequestTimeTooSkewed") ||
                     strstr(err->message, "Signature expired") ||
                     strstr(err->message, "Signature not yet current");
    time_t server = server_date ? server_date : (says_skew ? server_time_in_message(err->message) : 0);
    long long skew = server ? (long long)now - (long long)server : 0;
    if (skew < 0)
        skew = -skew;
    size_t used = strlen(err->message);
    size_t room = sizeof err->message - used;
    if (server && (skew > SKEW_LIMIT || (says_skew && skew > 0)))
        snprintf(err->message + used, room,
                 " (the local clock differs from the server's by %lld seconds; fix the "
                 "system clock)",
                 skew);
    else if (says_skew && !server)
        snprintf(err->message + used, room,
                 " (the local clock may differ from the server's; fix the system clock)");
}

static double jitter_unit(void)
{
    unsigned int r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (unsigned int)random();
    return (double)r / 4294967296.0;
}

/* One STS operation: sends, retries what is retryable, parses the answer. */
static int sts_call(struct awsr_sts_client *c, const char *op, const struct awsr_creds *src,
                    const char *body, struct awsr_creds *creds, struct awsr_identity *id,
                    struct awsr_error *err)
{
    time_t start = clock_now();
    if (!c->deadline)
        c->deadline = start + DEFAULT_DEADLINE;
    struct awsr_error last = {0};
    for (int attempt = 1;; attempt++) {
        time_t now = clock_now();
        long remaining_ms = (long)(c->deadline - now) * 1000L;
        if (remaining_ms <= 0)
            break;
        struct awsr_sts_wire w;
        if (awsr_sts_build_request(c, src, body, now, &w, err) != 0)
            return -1;
        if (c->verbose)
            awsr_log("STS %s: POST %s (attempt %d)", op, c->endpoint, attempt);
        struct awsr_http_request rq = {
            .method = "POST",
            .url = w.url,
            .headers = (const char *const *)w.headers,
            .body = w.body,
            .body_len = w.body_len,
            .ca_bundle = c->ca_bundle,
            .connect_timeout_ms = remaining_ms < 5000 ? remaining_ms : 5000,
            .timeout_ms = remaining_ms < 10000 ? remaining_ms : 10000,
        };
        struct awsr_http_response rs = {0};
        time_t server_date = 0;
        awsr_error_clear(&last);
        int rc = transport(&rq, &rs, &server_date, &last);
        awsr_sts_wire_free(&w);
        bool retry;
        if (rc != 0) {
            if (c->verbose) /* the kind only: messages stay out of -v traces */
                awsr_log("STS %s: attempt %d: %s", op, attempt,
                         last.code[0] ? last.code : "transport error");
            retry = !strcmp(last.code, AWSR_HTTP_E_CONNECT) ||
                    !strcmp(last.code, AWSR_HTTP_E_TIMEOUT);
            last.code[0] = '\0'; /* transport tags stay inside the resolver */
            if (last.status == 0)
                last.status = AWSR_E_OTHER;
        } else {
            if (c->verbose)
                awsr_log("STS %s: HTTP %ld", op, rs.status);
            if (rs.status >= 200 && rs.status < 300) {
                int prc = awsr_sts_parse_response(rs.body, rs.body_len, op, creds, id, err);
                awsr_http_response_free(&rs);
                return prc;
            }
            long status = rs.status;
            awsr_sts_parse_error(rs.body, rs.body_len, status, rs.reason, op, &last);
            awsr_http_response_free(&rs);
            awsr_sts_clock_hint(&last, server_date, clock_now());
            retry = status == 500 || status == 502 || status == 503 || status == 504 ||
                    awsr_sts_retryable_code(last.code);
            /* 4xx other than throttling is final */
        }
        if (!retry) {
            *err = last;
            return -1;
        }
        if (attempt >= c->max_attempts) {
            *err = last;
            if (last.status == AWSR_E_SERVICE) {
                /* "... the OP operation (reached max retries: 3): MESSAGE" */
                char tag[64];
                snprintf(tag, sizeof tag, "%s operation", op);
                char *at = strstr(last.message, tag);
                if (at) {
                    at += strlen(tag);
                    snprintf(err->message + (at - last.message),
                             sizeof err->message - (size_t)(at - last.message),
                             " (reached max retries: %d)%s", c->max_attempts - 1, at);
                }
            }
            return -1;
        }
        /* jittered exponential backoff: 0.5-1 s, then 1-2 s, 2-4 s, capped at 20 s */
        double delay = (0.5 + 0.5 * jitter_unit()) * (double)(1 << (attempt - 1));
        if (delay > 20)
            delay = 20;
        double left = difftime(c->deadline, clock_now());
        if (delay >= left)
            break;
        sleeper(delay);
    }
    if (last.status == 0)
        snprintf(last.message, sizeof last.message, "no answer");
    return awsr_error_set(err, AWSR_E_OTHER,
                          "The STS endpoint %s did not answer %s in time (deadline %ld s); "
                          "last attempt: %s",
                          c->endpoint, op, (long)(c->deadline - start), last.message);
}

/* ---- operations ---- */

static char *base_body(const char *action)
{
    char *b = NULL;
    if (awsr_form_append(&b, "Action", action) || awsr_form_append(&b, "Version", "2011-06-15"))
        return NULL;
    return b;
}

/* 0 is "not configured"; any other value is sent as is, as botocore does after int():
 * STS answers a negative or oversized one with ValidationError. */
static int append_duration(char **b, int seconds)
{
    if (seconds == 0)
        return 0;
    char num[16];
    snprintf(num, sizeof num, "%d", seconds);
    return awsr_form_append(b, "DurationSeconds", num);
}

static int oom(struct awsr_error *err) { return awsr_error_set(err, AWSR_E_OTHER, "Out of memory"); }

static int need_creds(const struct awsr_creds *src, const char *op, struct awsr_error *err)
{
    if (awsr_creds_present(src))
        return 0;
    return awsr_error_set(err, AWSR_E_CONFIG, "No source credentials to sign %s with", op);
}

int awsr_sts_assume_role(struct awsr_sts_client *c, const struct awsr_creds *src,
                         const struct awsr_assume_role_params *p, struct awsr_creds *out,
                         struct awsr_error *err)
{
    if (need_creds(src, "AssumeRole", err))
        return -1;
    char *b = base_body("AssumeRole");
    if (!b || awsr_form_append(&b, "RoleArn", p->role_arn) ||
        awsr_form_append(&b, "RoleSessionName", p->role_session_name) ||
        awsr_form_append(&b, "ExternalId", p->external_id) ||
        awsr_form_append(&b, "SerialNumber", p->serial_number) ||
        awsr_form_append(&b, "TokenCode", p->token_code) ||
        append_duration(&b, p->duration_seconds))
        return oom(err);
    int rc = sts_call(c, "AssumeRole", src, b, out, NULL, err);
    awsr_secret_free(b);
    return rc;
}

int awsr_sts_get_session_token(struct awsr_sts_client *c, const struct awsr_creds *src,
                               const char *serial, const char *code, int duration_seconds,
                               struct awsr_creds *out, struct awsr_error *err)
{
    if (need_creds(src, "GetSessionToken", err))
        return -1;
    char *b = base_body("GetSessionToken");
    if (!b || awsr_form_append(&b, "SerialNumber", serial) ||
        awsr_form_append(&b, "TokenCode", code) || append_duration(&b, duration_seconds))
        return oom(err);
    int rc = sts_call(c, "GetSessionToken", src, b, out, NULL, err);
    awsr_secret_free(b);
    return rc;
}

int awsr_sts_assume_role_with_web_identity(struct awsr_sts_client *c, const char *role_arn,
                                           const char *session_name, const char *token,
                                           int duration_seconds, struct awsr_creds *out,
                                           struct awsr_error *err)
{
    char *b = base_body("AssumeRoleWithWebIdentity");
    if (!b || awsr_form_append(&b, "RoleArn", role_arn) ||
        awsr_form_append(&b, "RoleSessionName", session_name) ||
        awsr_form_append(&b, "WebIdentityToken", token) ||
        append_duration(&b, duration_seconds))
        return oom(err);
    int rc = sts_call(c, "AssumeRoleWithWebIdentity", NULL, b, out, NULL, err);
    awsr_secret_free(b);
    return rc;
}

int awsr_sts_get_caller_identity(struct awsr_sts_client *c, const struct awsr_creds *src,
                                 struct awsr_identity *out, struct awsr_error *err)
{
    if (need_creds(src, "GetCallerIdentity", err))
        return -1;
    char *b = base_body("GetCallerIdentity");
    if (!b)
        return oom(err);
    int rc = sts_call(c, "GetCallerIdentity", src, b, NULL, out, err);
    awsr_secret_free(b);
    return rc;
}
