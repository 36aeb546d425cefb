/* server.c - the tree's local container-credentials endpoint (see server.h). */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "http.h"
#include "sources.h"

#define TOKEN_BYTES 32
#define MAX_ACCEPT_PER_WAKE 32
#define WRITE_MS 2000
#define NO_EXPIRY_REFETCH 3600 /* long-term keys: tell clients to come back hourly */

struct awsr_server {
    int fd;
    const struct awsr_served *served;
    size_t nserved;
    bool verbose;
    char url[48];
    char token[2 * TOKEN_BYTES + 1];
};

static int fill_random(unsigned char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

int awsr_server_start(struct awsr_server **out, const struct awsr_served *served,
                      size_t nserved, bool verbose, struct awsr_error *err)
{
    *out = NULL;
    struct awsr_server *s = calloc(1, sizeof *s);
    if (!s)
        return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    s->served = served;
    s->nserved = nserved;
    s->verbose = verbose;
    unsigned char raw[TOKEN_BYTES];
    if (fill_random(raw, sizeof raw) < 0) {
        free(s);
        return awsr_error_set(err, AWSR_E_OTHER, "cannot read random bytes: %s", strerror(errno));
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(s->token + 2 * i, 3, "%02x", raw[i]);
    explicit_bzero(raw, sizeof raw);

    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->fd, 64) < 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &alen) < 0) {
        int e = errno;
        awsr_server_stop(s);
        return awsr_error_set(err, AWSR_E_OTHER, "cannot open the local credentials endpoint: %s",
                              strerror(e));
    }
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    *out = s;
    return 0;
}

int awsr_server_fd(const struct awsr_server *s)
{
    return s->fd;
}

const char *awsr_server_url(const struct awsr_server *s)
{
    return s->url;
}

const char *awsr_server_token(const struct awsr_server *s)
{
    return s->token;
}

void awsr_server_stop(struct awsr_server *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    explicit_bzero(s, sizeof *s);
    free(s);
}

/* ---- answering one request ---- */

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

/* Wraps a JSON body (consumed: wiped and freed) in a complete response. */
static char *http_response(int status, char *body, size_t *len)
{
    size_t blen = body ? strlen(body) : 0;
    char *text = NULL;
    int n = asprintf(&text,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "%s"
                     "Connection: close\r\n"
                     "\r\n"
                     "%s",
                     status, reason_of(status), blen, status == 405 ? "Allow: GET\r\n" : "",
                     body ? body : "");
    if (body) {
        explicit_bzero(body, blen);
        free(body);
    }
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    return text;
}

static char *error_body(const char *code, const char *message)
{
    json_t *o = json_pack("{s:s, s:s}", "code", code, "message", message);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

static char *creds_body(const struct awsr_creds *c, time_t now)
{
    char when[32];
    awsr_time_format(c->expiration ? c->expiration : now + NO_EXPIRY_REFETCH, when, sizeof when);
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "AccessKeyId", json_string(c->access_key_id));
    json_object_set_new(o, "SecretAccessKey", json_string(c->secret_access_key));
    /* botocore reads Token unconditionally: long-term keys get an empty one. */
    json_object_set_new(o, "Token", json_string(c->session_token ? c->session_token : ""));
    json_object_set_new(o, "Expiration", json_string(when));
    if (c->account_id)
        json_object_set_new(o, "AccountId", json_string(c->account_id));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Percent-decodes [p, e) into out (size >= e - p + 1). -1 on a bad escape or a control
 * character (NUL included) in the result. */
static int pct_decode(const char *p, const char *e, char *out)
{
    size_t o = 0;
    while (p < e) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            if (e - p < 3 || awsr_hex_value(p[1]) < 0 || awsr_hex_value(p[2]) < 0)
                return -1;
            c = (unsigned char)(awsr_hex_value(p[1]) * 16 + awsr_hex_value(p[2]));
            p += 3;
        } else {
            p++;
        }
        if (c < 0x20 || c == 0x7f)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* The request's parts: method, path (without query), the Authorization value. */
struct request {
    const char *method, *target;
    size_t method_len, target_len;
    const char *auth;
    size_t auth_len;
    int auth_count;
};

/* Splits the request head. -1 when it is not HTTP/1.x. */
static int parse_request(const char *rq, size_t len, struct request *r)
{
    memset(r, 0, sizeof *r);
    const char *end = rq + len;
    const char *le = memchr(rq, '\n', len);
    if (!le)
        return -1;
    const char *line_end = (le > rq && le[-1] == '\r') ? le - 1 : le;
    const char *sp1 = memchr(rq, ' ', (size_t)(line_end - rq));
    if (!sp1 || sp1 == rq)
        return -1;
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1));
    if (!sp2 || sp2 == sp1 + 1)
        return -1;
    if ((size_t)(line_end - sp2 - 1) < 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return -1;
    r->method = rq;
    r->method_len = (size_t)(sp1 - rq);
    r->target = sp1 + 1;
    r->target_len = (size_t)(sp2 - sp1 - 1);
    const char *q = memchr(r->target, '?', r->target_len);
    if (q)
        r->target_len = (size_t)(q - r->target);

    for (const char *p = le + 1; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        const char *ve = (e > p && e[-1] == '\r') ? e - 1 : e;
        if (ve == p)
            break; /* the blank line ending the head */
        const char *colon = memchr(p, ':', (size_t)(ve - p));
        if (colon && colon - p == 13 && strncasecmp(p, "authorization", 13) == 0) {
            const char *v = colon + 1;
            while (v < ve && is_ows(*v))
                v++;
            const char *w = ve;
            while (w > v && is_ows(w[-1]))
                w--;
            r->auth = v;
            r->auth_len = (size_t)(w - v);
            r->auth_count++;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static bool token_matches(const struct awsr_server *s, const struct request *r)
{
    size_t n = strlen(s->token);
    /* The token's length is public; its bytes are compared in constant time. */
    return r->auth_count == 1 && r->auth_len == n && awsr_const_time_equal(r->auth, s->token, n);
}

static const struct awsr_served *route(const struct awsr_server *s, const struct request *r,
                                       char *name, size_t namesz)
{
    const char *t = r->target;
    size_t n = r->target_len;
    if ((n == 1 && t[0] == '/') || (n == 16 && memcmp(t, "/get-credentials", 16) == 0))
        return s->nserved ? &s->served[0] : NULL;
    if (n > 6 && memcmp(t, "/role/", 6) == 0 && n - 6 < namesz &&
        pct_decode(t + 6, t + n, name) == 0 && name[0]) {
        for (size_t i = 0; i < s->nserved; i++)
            if (s->served[i].profile && strcmp(s->served[i].profile, name) == 0)
                return &s->served[i];
    }
    return NULL;
}

char *awsr_server_respond(const struct awsr_server *s, const char *request, size_t reqlen,
                          time_t now, size_t *len, int *status, const char **what)
{
    const char *dummy;
    if (!what)
        what = &dummy;
    struct request r;
    char name[1024];
    if (parse_request(request, reqlen, &r) < 0) {
        *status = 400;
        *what = "malformed request";
        return http_response(400, error_body("BadRequest", "not an HTTP/1.x request"), len);
    }
    if (r.auth_count == 0) {
        *status = 401;
        *what = "refused: no Authorization header";
        return http_response(401, error_body("Unauthorized",
                                             "the Authorization header must hold the token"), len);
    }
    if (!token_matches(s, &r)) {
        *status = 403;
        *what = "refused: wrong token";
        return http_response(403, error_body("Forbidden", "wrong authorization token"), len);
    }
    if (r.method_len != 3 || memcmp(r.method, "GET", 3) != 0) {
        *status = 405;
        *what = "refused: not GET";
        return http_response(405, error_body("MethodNotAllowed", "only GET is served"), len);
    }
    const struct awsr_served *sv = route(s, &r, name, sizeof name);
    if (!sv) {
        *status = 404;
        *what = "no such profile or path";
        return http_response(404, error_body("NotServed",
                                             "this awsrole-run tree does not serve that profile"),
                             len);
    }
    const struct awsr_creds *c = sv->creds;
    if (!c || !awsr_creds_present(c)) {
        *status = 503;
        *what = "no credentials yet";
        return http_response(503, error_body("NotReady", "the credentials are not resolved"), len);
    }
    if (c->expiration && now >= c->expiration) {
        *status = 503;
        *what = "credentials expired";
        return http_response(503, error_body("Expired",
                                             "the tree's credentials have expired and could not "
                                             "be renewed without a new MFA code: run awsrole-run "
                                             "again"),
                             len);
    }
    char *body = creds_body(c, now);
    if (!body)
        return NULL;
    *status = 200;
    *what = "credentials served";
    return http_response(200, body, len);
}

/* ---- the connection ---- */

static long ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

static void deadline_in(struct timespec *d, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, d);
    d->tv_sec += ms / 1000;
    d->tv_nsec += (ms % 1000) * 1000000;
    if (d->tv_nsec >= 1000000000) {
        d->tv_sec++;
        d->tv_nsec -= 1000000000;
    }
}

static bool head_complete(const char *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (b[i] == '\n' && b[i + 1] == '\n')
            return true;
        if (i + 3 < n && memcmp(b + i, "\r\n\r\n", 4) == 0)
            return true;
    }
    return false;
}

/* Reads the request head. >0: its length; 0: peer closed or timed out; -1: too large. */
static ssize_t read_head(int fd, char *buf, size_t cap)
{
    struct timespec dl;
    deadline_in(&dl, AWSR_SERVER_READ_MS);
    size_t n = 0;
    while (!head_complete(buf, n)) {
        if (n == cap)
            return -1;
        long left = ms_left(&dl);
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        ssize_t got = recv(fd, buf + n, cap - n, 0);
        if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (got <= 0)
            return 0;
        n += (size_t)got;
    }
    return (ssize_t)n;
}

static void write_all(int fd, const char *p, size_t n)
{
    struct timespec dl;
    deadline_in(&dl, WRITE_MS);
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            long left = ms_left(&dl);
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            if (left > 0 && poll(&pf, 1, (int)left) > 0)
                continue;
        }
        return;
    }
}

/* The uid owning a TCP socket on this machine, from /proc/net/tcp: the socket whose local
 * end is 127.0.0.1:lport (or 0.0.0.0, for a listener), with remote port rport (0: any) and
 * state st (0: any). -1 when there is none, -2 when the table cannot be read. */
static long tcp_socket_uid(unsigned lport_want, unsigned rport_want, unsigned st_want)
{
    FILE *f = fopen("/proc/net/tcp", "re");
    if (!f)
        return -2;
    char line[512];
    long uid = -1;
    while (uid == -1 && fgets(line, sizeof line, f)) {
        unsigned addr, lport, raddr, rport, st;
        unsigned long u;
        /* sl local rem st tx:rx tr:when retrnsmt uid */
        if (sscanf(line, " %*u: %8X:%4X %8X:%4X %2X %*x:%*x %*x:%*x %*x %lu", &addr, &lport,
                   &raddr, &rport, &st, &u) == 6 &&
            lport == lport_want && (!rport_want || rport == rport_want) &&
            (!st_want || st == st_want) &&
            (addr == htonl(INADDR_LOOPBACK) || addr == INADDR_ANY))
            uid = (long)u;
    }
    fclose(f);
    return uid;
}

/* A connection from another local user is closed before anything is read: they cannot
 * have the token, and must not hold the launcher up either (a slow request blocks it for
 * up to AWSR_SERVER_READ_MS). Allowed: this user, root, and any peer when the table
 * cannot be read (the token still decides). */
static bool peer_allowed(struct awsr_server *s, int cfd)
{
    struct sockaddr_in me, peer;
    socklen_t ml = sizeof me, pl = sizeof peer;
    if (getsockname(s->fd, (struct sockaddr *)&me, &ml) < 0 ||
        getpeername(cfd, (struct sockaddr *)&peer, &pl) < 0)
        return false;
    long uid = tcp_socket_uid(ntohs(peer.sin_port), ntohs(me.sin_port), 0);
    return uid == -2 || uid == (long)geteuid() || uid == 0;
}

static void serve_one(struct awsr_server *s, int cfd)
{
    char buf[AWSR_SERVER_MAX_REQUEST];
    ssize_t n = read_head(cfd, buf, sizeof buf);
    size_t len = 0;
    int status = 0;
    const char *what = NULL;
    char *resp;
    if (n < 0) {
        status = 431;
        what = "request head over 8 KiB";
        resp = http_response(431, error_body("TooLarge", "request head over 8 KiB"), &len);
    } else if (n == 0) {
        explicit_bzero(buf, sizeof buf);
        return; /* closed or too slow: nothing to say */
    } else {
        resp = awsr_server_respond(s, buf, (size_t)n, time(NULL), &len, &status, &what);
    }
    if (s->verbose) {
        /* The path only (never headers: they hold the token). */
        char path[128] = "";
        if (n > 0) {
            struct request r;
            if (parse_request(buf, (size_t)n, &r) == 0)
                snprintf(path, sizeof path, "%.*s", (int)(r.target_len > 100 ? 100 : r.target_len),
                         r.target);
        }
        awsr_log("credentials endpoint: %s %s -> %d (%s)", n > 0 ? "request" : "oversized request",
                 path, status, what ? what : "");
    }
    explicit_bzero(buf, sizeof buf);
    if (resp) {
        write_all(cfd, resp, len);
        explicit_bzero(resp, len);
        free(resp);
    }
}

void awsr_server_handle(struct awsr_server *s)
{
    for (int i = 0; i < MAX_ACCEPT_PER_WAKE; i++) {
        int cfd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN: nothing more pending; other errors: try at the next wake */
        }
        if (peer_allowed(s, cfd)) {
            serve_one(s, cfd);
        } else if (s->verbose) {
            awsr_log("credentials endpoint: connection from another user refused");
        }
        shutdown(cfd, SHUT_WR);
        close(cfd);
    }
}

/* ---- client side (nested launchers) ---- */

static char *pct_encode(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            out[o++] = (char)*p;
        } else {
            snprintf(out + o, 4, "%%%02X", *p);
            o += 3;
        }
    }
    out[o] = '\0';
    return out;
}

/* The tree's endpoint outlives nothing: once the launcher is gone, another local user may
 * bind its port and answer with credentials of their own (their account, where the tree's
 * data would then go). Only a listener of this user is asked. */
static bool endpoint_is_ours(const char *base_url)
{
    unsigned port;
    char rest;
    if (sscanf(base_url, "http://127.0.0.1:%u%c", &port, &rest) != 1 || port > 65535)
        return false;
    long uid = tcp_socket_uid(port, 0, 0x0A /* LISTEN */);
    return uid == -2 || uid == (long)geteuid();
}

int awsr_server_fetch(const char *base_url, const char *token, const char *profile,
                      struct awsr_creds *out, bool *answered, struct awsr_error *err)
{
    *answered = false;
    if (!endpoint_is_ours(base_url))
        return awsr_error_set(err, AWSR_E_OTHER, "no endpoint of this user listens at %s",
                              base_url);
    char *enc = pct_encode(profile);
    char *url = NULL, *auth = NULL;
    if (!enc || asprintf(&url, "%s/role/%s", base_url, enc) < 0)
        url = NULL;
    free(enc);
    if (!url || asprintf(&auth, "Authorization: %s", token) < 0) {
        free(url);
        return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    }
    const char *headers[] = {auth, NULL};
    struct awsr_http_request rq = {.method = "GET", .url = url, .headers = headers,
                                   .connect_timeout_ms = 2000, .timeout_ms = 30000,
                                   .no_proxy = true};
    struct awsr_http_response rs = {0};
    int rc = awsr_http_send(&rq, &rs, err);
    explicit_bzero(auth, strlen(auth));
    free(auth);
    free(url);
    if (rc < 0)
        return -1;
    *answered = true;
    if (rs.status == 200) {
        rc = awsr_metadata_parse_creds(rs.body, rs.body_len, out, err);
    } else {
        const char *code = rs.status == 404 ? "NotServed" : rs.status == 503 ? "Expired" : "Refused";
        rc = awsr_error_set(err, AWSR_E_OTHER,
                            "the enclosing awsrole-run tree did not serve profile %s (HTTP %ld)",
                            profile, rs.status);
        snprintf(err->code, sizeof err->code, "%s", code);
    }
    if (rs.body)
        explicit_bzero(rs.body, rs.body_len);
    awsr_http_response_free(&rs);
    return rc;
}
