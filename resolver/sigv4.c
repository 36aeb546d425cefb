/* sigv4.c - AWS Signature Version 4 header signing (canonical request, string to sign,
 * HMAC chain, Authorization), matching the AWS signing test suite. */
#include "sigv4.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "strbuf.h"
#include "utc.h"

static void secure_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* ---- hashing ---- */

void awsr_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[AWSR_SHA256_LEN];
    if (awsr_sha256(data, len, md) != 0) {
        out[0] = '\0';
        return;
    }
    awsr_hex_encode(md, sizeof md, out);
}

static int hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    return awsr_hmac_sha256(key, keylen, msg, strlen(msg), out);
}

/* ---- encoding ---- */

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static void add_encoded(struct awsr_strbuf *b, const char *s, size_t len, bool keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            awsr_strbuf_addc(b, (char)c);
        } else {
            char esc[3] = {'%', digits[c >> 4], digits[c & 15]};
            awsr_strbuf_add(b, esc, 3);
        }
    }
}

char *awsr_sigv4_uri_encode(const char *s, size_t len, bool keep_slash)
{
    struct awsr_strbuf b = AWSR_STRBUF_SECURE_INIT;
    if (s)
        add_encoded(&b, s, len, keep_slash);
    return awsr_strbuf_steal(&b, NULL);
}

/* Percent-decodes s[0..len) into a new buffer (invalid escapes stay literal), then
 * re-encodes it the SigV4 way, so "%e1%88%b4", "%E1%88%B4" and raw UTF-8 all match. */
static char *query_component(const char *s, size_t len)
{
    char *raw = malloc(len + 1);
    if (!raw)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = awsr_hex_value(s[i + 1])) >= 0 &&
            (lo = awsr_hex_value(s[i + 2])) >= 0) {
            raw[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            raw[n++] = s[i];
        }
    }
    char *enc = awsr_sigv4_uri_encode(raw, n, false);
    free(raw);
    return enc;
}

/* ---- canonical pieces ---- */

/* RFC 3986 dot-segment removal plus collapsing empty segments ("//"). */
static char *normalize_path(const char *path)
{
    size_t len = strlen(path);
    const char **seg = calloc(len / 2 + 2, sizeof *seg);
    size_t *seglen = calloc(len / 2 + 2, sizeof *seglen);
    struct awsr_strbuf b = AWSR_STRBUF_SECURE_INIT;
    if (!seg || !seglen) {
        free(seg);
        free(seglen);
        return NULL;
    }
    size_t nseg = 0;
    bool trailing = false;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - s);
        bool last = (*p == '\0') || p[strspn(p, "/")] == '\0';
        if (n == 0)
            break;
        if (n == 1 && s[0] == '.') {
            trailing = last;
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (nseg)
                nseg--;
            trailing = last;
        } else {
            seg[nseg] = s;
            seglen[nseg++] = n;
            trailing = last && *p == '/';
        }
    }
    awsr_strbuf_addc(&b, '/');
    for (size_t i = 0; i < nseg; i++) {
        awsr_strbuf_add(&b, seg[i], seglen[i]);
        if (i + 1 < nseg || trailing)
            awsr_strbuf_addc(&b, '/');
    }
    free(seg);
    free(seglen);
    return awsr_strbuf_steal(&b, NULL);
}

static void canonical_path(struct awsr_strbuf *b, const struct awsr_sigv4_request *rq)
{
    const char *path = rq->path && rq->path[0] ? rq->path : "/";
    char *prefixed = NULL;
    if (path[0] != '/') {
        size_t n = strlen(path);
        prefixed = malloc(n + 2);
        if (!prefixed) {
            b->failed = true;
            return;
        }
        prefixed[0] = '/';
        memcpy(prefixed + 1, path, n + 1);
        path = prefixed;
    }
    char *norm = rq->normalize_path ? normalize_path(path) : NULL;
    if (rq->normalize_path && !norm) {
        b->failed = true;
    } else {
        const char *use = norm ? norm : path;
        if (rq->single_encode_path)
            awsr_strbuf_adds(b, use);
        else
            add_encoded(b, use, strlen(use), true);
    }
    free(norm);
    free(prefixed);
}

struct kv {
    char *k, *v;
};

static int kv_cmp(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

static void canonical_query(struct awsr_strbuf *b, const char *q)
{
    if (!q || !*q)
        return;
    size_t max = 1;
    for (const char *p = q; *p; p++)
        max += *p == '&';
    struct kv *kvs = calloc(max, sizeof *kvs);
    if (!kvs) {
        b->failed = true;
        return;
    }
    size_t n = 0;
    const char *p = q;
    while (*p) {
        const char *end = strchr(p, '&');
        if (!end)
            end = p + strlen(p);
        if (end > p) {
            const char *eq = memchr(p, '=', (size_t)(end - p));
            const char *kend = eq ? eq : end;
            kvs[n].k = query_component(p, (size_t)(kend - p));
            kvs[n].v = eq ? query_component(eq + 1, (size_t)(end - eq - 1)) : strdup("");
            n++;
            if (!kvs[n - 1].k || !kvs[n - 1].v)
                b->failed = true;
        }
        p = *end ? end + 1 : end;
    }
    if (!b->failed) {
        qsort(kvs, n, sizeof *kvs, kv_cmp);
        for (size_t i = 0; i < n; i++) {
            if (i)
                awsr_strbuf_addc(b, '&');
            awsr_strbuf_adds(b, kvs[i].k);
            awsr_strbuf_addc(b, '=');
            awsr_strbuf_adds(b, kvs[i].v);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(kvs[i].k);
        free(kvs[i].v);
    }
    free(kvs);
}

struct hdr {
    char *name;  /* lower case */
    char *value; /* canonical */
    size_t order;
};

static int hdr_cmp(const void *a, const void *b)
{
    const struct hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Trims and folds whitespace runs (including line breaks of folded values) to one space. */
static char *canonical_value(const char *v)
{
    struct awsr_strbuf b = AWSR_STRBUF_SECURE_INIT;
    bool pending = false;
    for (; *v; v++) {
        if (is_space(*v)) {
            pending = b.len > 0;
            continue;
        }
        if (pending)
            awsr_strbuf_addc(&b, ' ');
        pending = false;
        awsr_strbuf_addc(&b, *v);
    }
    return awsr_strbuf_steal(&b, NULL);
}

static char *lower_dup(const char *s)
{
    char *r = strdup(s);
    if (r)
        for (char *p = r; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    return r;
}

/* Headers botocore never signs (hop-by-hop, or changed by proxies and HTTP stacks). */
static bool unsigned_header(const char *lname)
{
    static const char *const skip[] = {
        "authorization", "connection",  "expect",   "keep-alive",        "proxy-authenticate",
        "proxy-authorization", "te",    "trailer",  "transfer-encoding", "upgrade",
        "user-agent",    "x-amzn-trace-id"};
    for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
        if (!strcmp(lname, skip[i]))
            return true;
    return false;
}

static int add_hdr(struct hdr *h, size_t *n, const char *name, const char *value)
{
    h[*n].name = lower_dup(name);
    h[*n].value = canonical_value(value ? value : "");
    h[*n].order = *n;
    (*n)++;
    return h[*n - 1].name && h[*n - 1].value ? 0 : -1;
}

static char *add_line(const char *name, const char *value)
{
    struct awsr_strbuf b = AWSR_STRBUF_SECURE_INIT;
    awsr_strbuf_adds(&b, name);
    awsr_strbuf_adds(&b, ": ");
    awsr_strbuf_adds(&b, value);
    return awsr_strbuf_steal(&b, NULL);
}

void awsr_sigv4_result_free(struct awsr_sigv4_result *res)
{
    if (!res)
        return;
    secure_free(res->canonical_request);
    secure_free(res->string_to_sign);
    free(res->signed_headers);
    free(res->authorization);
    for (size_t i = 0; i < AWSR_SIGV4_MAX_ADD + 1; i++)
        secure_free(res->add_headers[i]);
    explicit_bzero(res, sizeof *res);
    memset(res, 0, sizeof *res);
}

int awsr_sigv4_sign(const struct awsr_sigv4_request *rq, struct awsr_sigv4_result *res)
{
    memset(res, 0, sizeof *res);
    if (!rq->method || !rq->region || !rq->service || !rq->access_key_id ||
        !rq->secret_access_key || (rq->n_headers && !rq->headers))
        return -1;

    struct awsr_utc u;
    char amzdate[32], date[16], payload[65];
    awsr_time_to_utc(rq->timestamp, &u);
    if (u.year < 0 || u.year > 9999)
        return -1;
    snprintf(amzdate, sizeof amzdate, "%04lld%02d%02dT%02d%02d%02dZ", u.year, u.month, u.day,
             u.hour, u.min, u.sec);
    snprintf(date, sizeof date, "%.8s", amzdate);
    awsr_sha256_hex(rq->body, rq->body ? rq->body_len : 0, payload);
    if (!payload[0]) /* libcrypto could not be loaded */
        return -1;

    const char *token = rq->session_token && rq->session_token[0] ? rq->session_token : NULL;
    size_t cap = rq->n_headers + 3, n = 0;
    struct hdr *h = calloc(cap, sizeof *h);
    /* Secure growth everywhere: these texts carry the session token. */
    struct awsr_strbuf cr = AWSR_STRBUF_SECURE_INIT, sts = AWSR_STRBUF_SECURE_INIT,
                       sh = AWSR_STRBUF_SECURE_INIT, au = AWSR_STRBUF_SECURE_INIT;
    int rc = -1;
    if (!h)
        return -1;
    bool bad = false;
    for (size_t i = 0; i < rq->n_headers && !bad; i++) {
        if (!rq->headers[i].name)
            continue;
        char *l = lower_dup(rq->headers[i].name);
        bool skip = !l || unsigned_header(l);
        free(l);
        if (!skip)
            bad = add_hdr(h, &n, rq->headers[i].name, rq->headers[i].value) != 0;
    }
    bad = bad || add_hdr(h, &n, "x-amz-date", amzdate) != 0;
    if (rq->sign_body)
        bad = bad || add_hdr(h, &n, "x-amz-content-sha256", payload) != 0;
    if (token && !rq->omit_session_token)
        bad = bad || add_hdr(h, &n, "x-amz-security-token", token) != 0;
    if (bad)
        goto out;
    qsort(h, n, sizeof *h, hdr_cmp);

    /* canonical request */
    awsr_strbuf_adds(&cr, rq->method);
    awsr_strbuf_addc(&cr, '\n');
    canonical_path(&cr, rq);
    awsr_strbuf_addc(&cr, '\n');
    canonical_query(&cr, rq->query);
    awsr_strbuf_addc(&cr, '\n');
    for (size_t i = 0; i < n; i++) {
        bool same_as_prev = i > 0 && !strcmp(h[i].name, h[i - 1].name);
        if (same_as_prev) {
            awsr_strbuf_addc(&cr, ',');
        } else {
            if (i > 0)
                awsr_strbuf_addc(&cr, '\n');
            awsr_strbuf_adds(&cr, h[i].name);
            awsr_strbuf_addc(&cr, ':');
            if (sh.len)
                awsr_strbuf_addc(&sh, ';');
            awsr_strbuf_adds(&sh, h[i].name);
        }
        awsr_strbuf_adds(&cr, h[i].value);
    }
    awsr_strbuf_adds(&cr, n ? "\n\n" : "\n");
    awsr_strbuf_adds(&sh, "");
    if (sh.p)
        awsr_strbuf_adds(&cr, sh.p);
    awsr_strbuf_addc(&cr, '\n');
    awsr_strbuf_adds(&cr, payload);
    if (cr.failed || sh.failed)
        goto out;

    /* string to sign */
    char creq_hash[65], scope[256];
    awsr_sha256_hex(cr.p, cr.len, creq_hash);
    if (!creq_hash[0])
        goto out;
    int sn = snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, rq->region,
                      rq->service);
    if (sn < 0 || (size_t)sn >= sizeof scope)
        goto out;
    awsr_strbuf_adds(&sts, "AWS4-HMAC-SHA256\n");
    awsr_strbuf_adds(&sts, amzdate);
    awsr_strbuf_addc(&sts, '\n');
    awsr_strbuf_adds(&sts, scope);
    awsr_strbuf_addc(&sts, '\n');
    awsr_strbuf_adds(&sts, creq_hash);
    if (sts.failed)
        goto out;

    /* signing key: HMAC chain from "AWS4" + secret */
    {
        size_t slen = strlen(rq->secret_access_key);
        unsigned char *k0 = malloc(slen + 4);
        unsigned char k[32], sig[32];
        if (!k0)
            goto out;
        memcpy(k0, "AWS4", 4);
        memcpy(k0 + 4, rq->secret_access_key, slen);
        int hrc = hmac(k0, slen + 4, date, k) || hmac(k, 32, rq->region, k) ||
                  hmac(k, 32, rq->service, k) || hmac(k, 32, "aws4_request", k) ||
                  hmac(k, 32, sts.p, sig);
        explicit_bzero(k0, slen + 4);
        free(k0);
        explicit_bzero(k, sizeof k);
        if (hrc)
            goto out;
        awsr_hex_encode(sig, 32, res->signature);
    }

    awsr_strbuf_adds(&au, "AWS4-HMAC-SHA256 Credential=");
    awsr_strbuf_adds(&au, rq->access_key_id);
    awsr_strbuf_addc(&au, '/');
    awsr_strbuf_adds(&au, scope);
    awsr_strbuf_adds(&au, ", SignedHeaders=");
    awsr_strbuf_adds(&au, sh.p);
    awsr_strbuf_adds(&au, ", Signature=");
    awsr_strbuf_adds(&au, res->signature);

    res->canonical_request = awsr_strbuf_steal(&cr, NULL);
    res->string_to_sign = awsr_strbuf_steal(&sts, NULL);
    res->signed_headers = awsr_strbuf_steal(&sh, NULL);
    res->authorization = awsr_strbuf_steal(&au, NULL);
    if (!res->canonical_request || !res->string_to_sign || !res->signed_headers ||
        !res->authorization)
        goto out;

    size_t a = 0;
    res->add_headers[a++] = add_line("X-Amz-Date", amzdate);
    if (rq->sign_body)
        res->add_headers[a++] = add_line("X-Amz-Content-SHA256", payload);
    if (token)
        res->add_headers[a++] = add_line("X-Amz-Security-Token", token);
    res->add_headers[a++] = add_line("Authorization", res->authorization);
    rc = 0;
    for (size_t i = 0; i < a; i++)
        if (!res->add_headers[i])
            rc = -1;

out:
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        secure_free(h[i].value);
    }
    free(h);
    awsr_strbuf_wipe(&cr);
    awsr_strbuf_wipe(&sts);
    awsr_strbuf_wipe(&sh);
    awsr_strbuf_wipe(&au);
    if (rc)
        awsr_sigv4_result_free(res);
    return rc;
}
