/* metadata.c - credentials from the metadata services: the container endpoint (ECS,
 * EKS Pod Identity: botocore's URL and host rules, authorization token) and EC2's IMDS
 * (v2 session token, v1 fallback), with botocore's messages. */
#include "metadata.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "creds_json.h"
#include "curl_dl.h"
#include "fileio.h"
#include "http.h"
#include "sources.h"

int awsr_metadata_parse_creds(const char *json, size_t len, struct awsr_creds *out,
                              struct awsr_error *err)
{
    json_t *root = awsr_creds_json_load(json, len, "", "the credentials document", err);
    if (!root)
        return -1;
    int rc;
    json_t *code = json_object_get(root, "Code"); /* IMDS only */
    if (json_is_string(code) && strcmp(json_string_value(code), "Success") != 0) {
        rc = awsr_error_set(err, AWSR_E_CONFIG, "the metadata service answered Code '%.64s'",
                            json_string_value(code));
    } else {
        rc = awsr_creds_json_fill(root, "Token", "", out, err);
    }
    awsr_json_wipe_free(root);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Container endpoint                                                                    */

bool awsr_container_host_allowed(const char *host)
{
    if (!host)
        return false;
    static const char *const allowed[] = {"169.254.170.2", "169.254.170.23", "fd00:ec2::23",
                                          "localhost"};
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
        if (strcmp(host, allowed[i]) == 0)
            return true;
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char loop6[16] = {[15] = 1};
        return memcmp(a, loop6, 16) == 0;
    }
    return false;
}

int awsr_container_check_url(const char *url, struct awsr_error *err)
{
    const struct awsr_curl *cu = awsr_curl(err);
    if (!cu)
        return -1;
    CURLU *u = cu->url();
    char *scheme = NULL, *host = NULL;
    int rc = 0;
    if (!u || cu->url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        cu->url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        cu->url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        rc = awsr_error_set(err, AWSR_E_CONFIG,
                            "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a valid URL");
        goto out;
    }
    if (strcasecmp(scheme, "https") == 0)
        goto out;
    if (strcasecmp(scheme, "http") != 0) {
        rc = awsr_error_set(err, AWSR_E_CONFIG,
                            "AWS_CONTAINER_CREDENTIALS_FULL_URI must be an http or https URL");
        goto out;
    }
    /* As urlparse().hostname: brackets dropped, lower case. */
    char name[256];
    size_t hl = strlen(host);
    const char *h = host;
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        h = host + 1;
        hl -= 2;
    }
    if (hl >= sizeof name)
        hl = sizeof name - 1;
    for (size_t i = 0; i < hl; i++)
        name[i] = (char)tolower((unsigned char)h[i]);
    name[hl] = '\0';
    char *pct = strchr(name, '%'); /* IPv6 zone id */
    if (pct && strchr(name, ':'))
        *pct = '\0';
    if (!awsr_container_host_allowed(name))
        rc = awsr_error_set(err, AWSR_E_CONFIG,
                            "Unsupported host '%s'.  Can only retrieve metadata from a loopback "
                            "address or one of these hosts: 169.254.170.2, 169.254.170.23, "
                            "fd00:ec2::23, localhost",
                            name);
out:
    cu->free(scheme);
    cu->free(host);
    cu->url_cleanup(u);
    return rc;
}


#define CONTAINER_PREFIX "Error when retrieving credentials from container-role: "

/* The Authorization value, or NULL when none is configured. -1 on a bad token. */
static int container_auth(char **header, struct awsr_error *err)
{
    *header = NULL;
    const char *file = awsr_env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *value = awsr_env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    char *token = NULL;
    size_t len = 0;
    if (file) {
        if (awsr_read_small_file(file, 16384, &token, &len))
            return awsr_error_set(err, AWSR_E_CONFIG,
                                  CONTAINER_PREFIX "cannot read the authorization token file "
                                                   "%s: %s",
                                  file, strerror(errno));
    } else if (value) {
        if (!(token = strdup(value)))
            return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
        len = strlen(token);
    } else {
        return 0;
    }
    if (strpbrk(token, "\r\n") || strlen(token) != len) {
        awsr_secret_free(token);
        return awsr_error_set(err, AWSR_E_CONFIG,
                              CONTAINER_PREFIX "Auth token value is not a legal header value");
    }
    size_t hl = len + sizeof "Authorization: ";
    *header = malloc(hl);
    if (*header)
        snprintf(*header, hl, "Authorization: %s", token);
    awsr_secret_free(token);
    return *header ? 0 : awsr_error_set(err, AWSR_E_OTHER, "out of memory");
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int awsr_container_fetch(const struct awsr_source *src, struct awsr_creds *out,
                         struct awsr_error *err)
{
    const char *rel = awsr_env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = awsr_env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    char url[4096];
    if (rel) {
        snprintf(url, sizeof url, "http://169.254.170.2%s", rel);
    } else if (full) {
        if (awsr_container_check_url(full, err))
            return -1;
        snprintf(url, sizeof url, "%s", full);
    } else {
        return awsr_source_no_creds(err, "EcsContainer", src);
    }
    char *auth = NULL; /* botocore sends it with the relative URI too */
    if (container_auth(&auth, err))
        return -1;
    const char *headers[3] = {"Accept: application/json", auth, NULL};
    struct awsr_http_request rq = {.method = "GET", .url = url, .headers = headers,
                                   .connect_timeout_ms = 1000, .timeout_ms = 2000};
    struct awsr_error last = {0};
    int rc = -1;
    for (int attempt = 0; attempt < 3 && rc != 0; attempt++) {
        if (attempt > 0)
            sleep_ms(1000);
        struct awsr_http_response rs = {0};
        awsr_error_clear(&last);
        if (awsr_http_send(&rq, &rs, &last) == 0) {
            if (rs.status != 200)
                awsr_error_set(&last, AWSR_E_OTHER,
                               "Error retrieving metadata: Received non 200 response %ld from "
                               "container metadata",
                               rs.status);
            else if (awsr_metadata_parse_creds(rs.body, rs.body_len, out, &last) == 0)
                rc = 0;
        }
        if (rs.body)
            explicit_bzero(rs.body, rs.body_len);
        awsr_http_response_free(&rs);
    }
    awsr_secret_free(auth);
    if (rc)
        return awsr_error_set(err, last.status ? last.status : AWSR_E_OTHER,
                              CONTAINER_PREFIX "%s", last.message);
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* IMDS (v2 session token, v1 fallback when the token call is not supported)           */

static int imds_get(const char *base, const char *path, const char *token,
                    struct awsr_http_response *rs)
{
    char url[2048], tokhdr[1200];
    size_t bl = strlen(base);
    snprintf(url, sizeof url, "%s%s%s", base, bl && base[bl - 1] == '/' ? "" : "/", path);
    const char *headers[2] = {NULL, NULL};
    if (token) {
        snprintf(tokhdr, sizeof tokhdr, "X-aws-ec2-metadata-token: %s", token);
        headers[0] = tokhdr;
    }
    struct awsr_http_request rq = {.method = "GET", .url = url, .headers = headers,
                                   .connect_timeout_ms = 300, .timeout_ms = 1000};
    struct awsr_error e = {0};
    int rc = awsr_http_send(&rq, rs, &e);
    explicit_bzero(tokhdr, sizeof tokhdr);
    return rc == 0 && rs->status == 200 ? 0 : -1;
}

int awsr_imds_fetch(const struct awsr_source *src, struct awsr_creds *out,
                    struct awsr_error *err)
{
    const char *disabled = getenv("AWS_EC2_METADATA_DISABLED");
    if (disabled && strcasecmp(disabled, "true") == 0)
        return awsr_source_no_creds(err, "Ec2InstanceMetadata", src);
    const char *base = awsr_env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!base) {
        const char *mode = awsr_env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
        base = mode && strcasecmp(mode, "ipv6") == 0 ? "http://[fd00:ec2::254]/"
                                                     : "http://169.254.169.254/";
    }
    char url[2048], token[1024] = "";
    size_t bl = strlen(base);
    snprintf(url, sizeof url, "%s%slatest/api/token", base,
             bl && base[bl - 1] == '/' ? "" : "/");
    const char *th[] = {"x-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
    struct awsr_http_request rq = {.method = "PUT", .url = url, .headers = th,
                                   .connect_timeout_ms = 300, .timeout_ms = 1000};
    struct awsr_http_response rs = {0};
    struct awsr_error e = {0};
    bool have_token = false;
    int rc = -1;
    if (awsr_http_send(&rq, &rs, &e) != 0)
        goto fail; /* unreachable: one attempt only */
    if (rs.status == 200 && rs.body_len > 0 && rs.body_len < sizeof token &&
        !strpbrk(rs.body, "\r\n")) {
        memcpy(token, rs.body, rs.body_len + 1);
        have_token = true;
    } else if (rs.status != 404 && rs.status != 405 && rs.status != 400) {
        goto fail; /* 403: IMDS disabled; others: give up as botocore does */
    }
    awsr_http_response_free(&rs);
    if (imds_get(base, "latest/meta-data/iam/security-credentials/",
                 have_token ? token : NULL, &rs))
        goto fail;
    char role[256];
    size_t rl = strcspn(rs.body, "\r\n");
    if (rl == 0 || rl >= sizeof role)
        goto fail;
    memcpy(role, rs.body, rl);
    role[rl] = '\0';
    awsr_http_response_free(&rs);
    char path[512];
    snprintf(path, sizeof path, "latest/meta-data/iam/security-credentials/%s", role);
    if (imds_get(base, path, have_token ? token : NULL, &rs))
        goto fail;
    rc = awsr_metadata_parse_creds(rs.body, rs.body_len, out, &e);
fail:
    if (rs.body)
        explicit_bzero(rs.body, rs.body_len);
    awsr_http_response_free(&rs);
    explicit_bzero(token, sizeof token);
    if (rc)
        return awsr_source_no_creds(err, "Ec2InstanceMetadata", src);
    return 0;
}
