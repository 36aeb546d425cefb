/* test_sts.c - STS response/error parsing, endpoint selection, request shape, form
 * encoding, and the retry/deadline/clock-skew logic over a scripted transport. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "creds.h"
#include "http.h"
#include "sigv4.h"
#include "sts.h"
#include "sts_xml.h"

#define NS "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\""

static const char assume_role_ok[] =
    "<AssumeRoleResponse " NS ">\n"
    "  <AssumeRoleResult>\n"
    "    <SourceIdentity>alice</SourceIdentity>\n"
    "    <AssumedRoleUser>\n"
    "      <Arn>arn:aws:sts::123456789012:assumed-role/demo/botocore-session-1</Arn>\n"
    "      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:botocore-session-1</AssumedRoleId>\n"
    "    </AssumedRoleUser>\n"
    "    <Credentials>\n"
    "      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
    "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n"
    "      <SessionToken>AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW"
    "LWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmU"
    "pp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0"
    "rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQ"
    "wj2ICCR/oLxBA==</SessionToken>\n"
    "      <Expiration>2019-11-09T13:34:41Z</Expiration>\n"
    "    </Credentials>\n"
    "    <PackedPolicySize>6</PackedPolicySize>\n"
    "  </AssumeRoleResult>\n"
    "  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>"
    "</ResponseMetadata>\n"
    "</AssumeRoleResponse>\n";

/* elements reordered, a namespace prefix, milliseconds in Expiration */
static const char assume_role_prefixed[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<sts:AssumeRoleResponse xmlns:sts=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    "<sts:ResponseMetadata><sts:RequestId>r</sts:RequestId></sts:ResponseMetadata>"
    "<sts:AssumeRoleResult><sts:Credentials>"
    "<sts:Expiration>2011-07-11T19:55:29.611Z</sts:Expiration>"
    "<sts:SessionToken>TOKEN</sts:SessionToken>"
    "<sts:SecretAccessKey>SECRET</sts:SecretAccessKey>"
    "<sts:AccessKeyId>ASIAX</sts:AccessKeyId>"
    "</sts:Credentials></sts:AssumeRoleResult></sts:AssumeRoleResponse>";

/* botocore tests/unit/response_parsing/xml/responses/sts-get-session-token.xml */
static const char get_session_token_ok[] =
    "<GetSessionTokenResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <GetSessionTokenResult>\n"
    "    <Credentials>\n"
    "      <SessionToken>AQoEXAMPLEH4aoAH0gNCAPyJxz4BlCFFxWNE1OPTgk5TthT</SessionToken>\n"
    "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n"
    "      <Expiration>2011-07-11T19:55:29.611Z</Expiration>\n"
    "      <AccessKeyId>AKIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
    "    </Credentials>\n"
    "  </GetSessionTokenResult>\n"
    "  <ResponseMetadata>\n"
    "    <RequestId>58c5dbae-abef-11e0-8cfe-09039844ac7d</RequestId>\n"
    "  </ResponseMetadata>\n"
    "</GetSessionTokenResponse>\n";

static const char web_identity_ok[] =
    "<AssumeRoleWithWebIdentityResponse " NS "><AssumeRoleWithWebIdentityResult>"
    "<SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A"
    "</SubjectFromWebIdentityToken>"
    "<AssumedRoleUser><Arn>arn:aws:sts::210987654321:assumed-role/FederatedWebIdentityRole/app1"
    "</Arn><AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId></AssumedRoleUser>"
    "<Credentials><SessionToken>WTOKEN</SessionToken><SecretAccessKey>WSECRET"
    "</SecretAccessKey><Expiration>2014-10-24T23:00:23+00:00</Expiration>"
    "<AccessKeyId>ASIAWEB</AccessKeyId></Credentials>"
    "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";

static const char caller_identity_ok[] =
    "<GetCallerIdentityResponse " NS "><GetCallerIdentityResult>"
    "<Arn>arn:aws:iam::123456789012:user/Alice</Arn>"
    "<UserId>AIDACKCEVSQ6C2EXAMPLE</UserId><Account>123456789012</Account>"
    "</GetCallerIdentityResult><ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef"
    "</RequestId></ResponseMetadata></GetCallerIdentityResponse>";

/* botocore tests/unit/response_parsing/xml/errors/sts-get-session-token.xml (shape) */
static const char access_denied[] =
    "<ErrorResponse " NS ">\n"
    "  <Error>\n"
    "    <Type>Sender</Type>\n"
    "    <Code>AccessDenied</Code>\n"
    "    <Message>GetSessionToken call failed, unable to validate MFA code.  Please verify your "
    "MFA serial number is valid and associated with this user.</Message>\n"
    "  </Error>\n"
    "  <RequestId>e4b7a2c6-5a7d-11e3-8d6e-f1a2b3c4d5e6</RequestId>\n"
    "</ErrorResponse>\n";

static const char throttling[] =
    "<ErrorResponse " NS "><Error><Type>Sender</Type><Code>Throttling</Code>"
    "<Message>Rate exceeded</Message></Error><RequestId>r1</RequestId></ErrorResponse>";

/* ---------------------------------------------------------------- parsing success */

static void test_parse_assume_role(void **state)
{
    (void)state;
    struct awsr_creds c = {0};
    struct awsr_error err = {0};
    assert_int_equal(awsr_sts_parse_response(assume_role_ok, strlen(assume_role_ok),
                                             "AssumeRole", &c, NULL, &err),
                     0);
    assert_string_equal(c.access_key_id, "ASIAIOSFODNN7EXAMPLE");
    assert_string_equal(c.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
    assert_int_equal(strncmp(c.session_token, "AQoDYXdzEPT//", 13), 0);
    assert_int_equal(strlen(c.session_token), 336);
    assert_int_equal(c.expiration, 1573306481); /* 2019-11-09T13:34:41Z */
    assert_string_equal(c.account_id, "123456789012");
    awsr_creds_clear(&c);
}

static void test_parse_prefixed_reordered_millis(void **state)
{
    (void)state;
    struct awsr_creds c = {0};
    struct awsr_error err = {0};
    assert_int_equal(awsr_sts_parse_response(assume_role_prefixed, strlen(assume_role_prefixed),
                                             "AssumeRole", &c, NULL, &err),
                     0);
    assert_string_equal(c.access_key_id, "ASIAX");
    assert_string_equal(c.secret_access_key, "SECRET");
    assert_string_equal(c.session_token, "TOKEN");
    assert_int_equal(c.expiration, 1310414129); /* 2011-07-11T19:55:29Z */
    assert_null(c.account_id);                  /* no AssumedRoleUser */
    awsr_creds_clear(&c);
}

static void test_parse_get_session_token(void **state)
{
    (void)state;
    struct awsr_creds c = {0};
    struct awsr_error err = {0};
    assert_int_equal(awsr_sts_parse_response(get_session_token_ok,
                                             strlen(get_session_token_ok), "GetSessionToken",
                                             &c, NULL, &err),
                     0);
    assert_string_equal(c.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    assert_string_equal(c.session_token, "AQoEXAMPLEH4aoAH0gNCAPyJxz4BlCFFxWNE1OPTgk5TthT");
    assert_int_equal(c.expiration, 1310414129);
    awsr_creds_clear(&c);

    /* the same document is not an AssumeRole answer */
    assert_int_equal(awsr_sts_parse_response(get_session_token_ok,
                                             strlen(get_session_token_ok), "AssumeRole", &c,
                                             NULL, &err),
                     -1);
    assert_int_equal(err.status, AWSR_E_OTHER);
    assert_string_equal(err.message, "STS returned a malformed response to AssumeRole: "
                                     "AssumeRoleResult has no AccessKeyId");
}

static void test_parse_web_identity(void **state)
{
    (void)state;
    struct awsr_creds c = {0};
    struct awsr_error err = {0};
    assert_int_equal(awsr_sts_parse_response(web_identity_ok, strlen(web_identity_ok),
                                             "AssumeRoleWithWebIdentity", &c, NULL, &err),
                     0);
    assert_string_equal(c.access_key_id, "ASIAWEB");
    assert_string_equal(c.secret_access_key, "WSECRET");
    assert_string_equal(c.session_token, "WTOKEN");
    assert_int_equal(c.expiration, 1414191623);
    assert_string_equal(c.account_id, "210987654321");
    awsr_creds_clear(&c);
}

static void test_parse_caller_identity(void **state)
{
    (void)state;
    struct awsr_identity id = {0};
    struct awsr_error err = {0};
    assert_int_equal(awsr_sts_parse_response(caller_identity_ok, strlen(caller_identity_ok),
                                             "GetCallerIdentity", NULL, &id, &err),
                     0);
    assert_string_equal(id.account, "123456789012");
    assert_string_equal(id.arn, "arn:aws:iam::123456789012:user/Alice");
    assert_string_equal(id.user_id, "AIDACKCEVSQ6C2EXAMPLE");
    awsr_identity_free(&id);
    assert_null(id.account);
}

static void test_arn_account(void **state)
{
    (void)state;
    char *a = awsr_arn_account("arn:aws-cn:sts::111122223333:assumed-role/r/s");
    assert_string_equal(a, "111122223333");
    free(a);
    assert_null(awsr_arn_account("arn:aws:sts::"));
    assert_null(awsr_arn_account("not-an-arn"));
    assert_null(awsr_arn_account(NULL));
}

/* ---------------------------------------------------------------- malformed bodies */

static void expect_malformed(const char *body, size_t len, const char *op, const char *why)
{
    struct awsr_creds c = {0};
    struct awsr_identity id = {0};
    struct awsr_error err = {0};
    assert_int_equal(awsr_sts_parse_response(body, len, op, &c, &id, &err), -1);
    assert_int_equal(err.status, AWSR_E_OTHER);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "STS returned a malformed response to %s: ", op);
    assert_int_equal(strncmp(err.message, prefix, strlen(prefix)), 0);
    if (why && !strstr(err.message, why))
        fail_msg("message '%s' lacks '%s'", err.message, why);
    assert_null(c.access_key_id);
    assert_null(id.account);
    /* no secret of the body leaks into the message */
    assert_null(strstr(err.message, "SECRET"));
}

static void test_malformed(void **state)
{
    (void)state;
    expect_malformed("", 0, "AssumeRole", "the body is empty");
    expect_malformed(NULL, 0, "AssumeRole", "the body is empty");
    expect_malformed("<html><body>Hi</body></html>", 28, "AssumeRole", "has no AccessKeyId");
    expect_malformed("{\"AccessKeyId\":\"A\"}", 19, "AssumeRole", "not well-formed XML");

    /* every truncation of a good document is refused, never half-parsed */
    size_t n = strlen(assume_role_prefixed);
    for (size_t i = 0; i < n; i++)
        expect_malformed(assume_role_prefixed, i, "AssumeRole", NULL);

    /* missing each credential field in turn */
    const char *fields[] = {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"};
    for (size_t f = 0; f < 4; f++) {
        char doc[1024];
        snprintf(doc, sizeof doc,
                 "<AssumeRoleResponse><AssumeRoleResult><Credentials>%s%s%s%s"
                 "</Credentials></AssumeRoleResult></AssumeRoleResponse>",
                 f == 0 ? "" : "<AccessKeyId>A</AccessKeyId>",
                 f == 1 ? "" : "<SecretAccessKey>SECRET</SecretAccessKey>",
                 f == 2 ? "" : "<SessionToken>T</SessionToken>",
                 f == 3 ? "" : "<Expiration>2030-01-01T00:00:00Z</Expiration>");
        char why[64];
        snprintf(why, sizeof why, "has no %s", fields[f]);
        expect_malformed(doc, strlen(doc), "AssumeRole", why);
    }
    /* fields at the wrong depth do not count */
    const char wrong_depth[] =
        "<AssumeRoleResponse><AssumeRoleResult><AccessKeyId>A</AccessKeyId>"
        "<SecretAccessKey>SECRET</SecretAccessKey><SessionToken>T</SessionToken>"
        "<Expiration>2030-01-01T00:00:00Z</Expiration></AssumeRoleResult></AssumeRoleResponse>";
    expect_malformed(wrong_depth, strlen(wrong_depth), "AssumeRole", "has no AccessKeyId");
    /* tag names are exact (case matters, like botocore) */
    const char wrong_case[] =
        "<AssumeRoleResponse><AssumeRoleResult><credentials><AccessKeyId>A</AccessKeyId>"
        "<SecretAccessKey>SECRET</SecretAccessKey><SessionToken>T</SessionToken>"
        "<Expiration>2030-01-01T00:00:00Z</Expiration></credentials></AssumeRoleResult>"
        "</AssumeRoleResponse>";
    expect_malformed(wrong_case, strlen(wrong_case), "AssumeRole", "has no AccessKeyId");
    const char bad_time[] =
        "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
        "<SecretAccessKey>SECRET</SecretAccessKey><SessionToken>T</SessionToken>"
        "<Expiration>tomorrow</Expiration></Credentials></AssumeRoleResult>"
        "</AssumeRoleResponse>";
    expect_malformed(bad_time, strlen(bad_time), "AssumeRole", "Expiration");
    /* an error document on 2xx */
    expect_malformed(throttling, strlen(throttling), "AssumeRole", "error document");
    /* trailing garbage after the root */
    char trailing[4096];
    snprintf(trailing, sizeof trailing, "%s<x/>", assume_role_prefixed);
    expect_malformed(trailing, strlen(trailing), "AssumeRole", "not well-formed");
    /* embedded NUL */
    char nul[] = "<AssumeRoleResponse>\0</AssumeRoleResponse>";
    expect_malformed(nul, sizeof nul - 1, "AssumeRole", "not well-formed");
    /* GetCallerIdentity without Account */
    const char no_account[] = "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>a</Arn>"
                              "</GetCallerIdentityResult></GetCallerIdentityResponse>";
    expect_malformed(no_account, strlen(no_account), "GetCallerIdentity", "has no Account");
}

static void test_malformed_hostile(void **state)
{
    (void)state;
    /* entity expansion: refused at the DOCTYPE */
    const char lol[] =
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
        "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>&lol3;</AccessKeyId>"
        "</Credentials></AssumeRoleResult></AssumeRoleResponse>";
    expect_malformed(lol, strlen(lol), "AssumeRole", "DOCTYPE");

    /* a huge field */
    size_t big = 200 * 1024;
    const char *head = "<AssumeRoleResponse><AssumeRoleResult><Credentials><SessionToken>";
    const char *tail = "</SessionToken></Credentials></AssumeRoleResult></AssumeRoleResponse>";
    char *doc = malloc(strlen(head) + big + strlen(tail) + 1);
    assert_non_null(doc);
    strcpy(doc, head);
    memset(doc + strlen(head), 'A', big);
    strcpy(doc + strlen(head) + big, tail);
    expect_malformed(doc, strlen(doc), "AssumeRole", "larger than");
    free(doc);

    /* deep nesting */
    size_t depth = 5000;
    doc = malloc(depth * 7 + 1);
    assert_non_null(doc);
    char *p = doc;
    for (size_t i = 0; i < depth; i++)
        p += sprintf(p, "<a>");
    for (size_t i = 0; i < depth; i++)
        p += sprintf(p, "</a>");
    expect_malformed(doc, (size_t)(p - doc), "AssumeRole", "has no AccessKeyId");
    free(doc);
}

/* ---------------------------------------------------------------- error documents */

static void test_parse_error_documents(void **state)
{
    (void)state;
    struct awsr_error err = {0};
    assert_int_equal(awsr_sts_parse_error(access_denied, strlen(access_denied), 403,
                                          "Forbidden", "GetSessionToken", &err),
                     -1);
    assert_int_equal(err.status, AWSR_E_SERVICE);
    assert_string_equal(err.code, "AccessDenied");
    assert_string_equal(err.message,
                        "An error occurred (AccessDenied) when calling the GetSessionToken "
                        "operation: GetSessionToken call failed, unable to validate MFA code.  "
                        "Please verify your MFA serial number is valid and associated with this "
                        "user.");

    /* message kept as sent, trailing space included */
    const char trailing[] =
        "<ErrorResponse><Error><Code>AccessDenied</Code><Message>MultiFactorAuthentication "
        "failed with invalid MFA one time pass code. </Message></Error></ErrorResponse>";
    awsr_sts_parse_error(trailing, strlen(trailing), 403, "Forbidden", "AssumeRole", &err);
    assert_string_equal(err.message, "An error occurred (AccessDenied) when calling the "
                                     "AssumeRole operation: MultiFactorAuthentication failed "
                                     "with invalid MFA one time pass code. ");

    /* Errors/Error wrapper, prefix, element order */
    const char wrapped[] = "<Response><Errors><Error><Message>Rate exceeded</Message>"
                           "<Code>Throttling</Code></Error></Errors><RequestID>x</RequestID>"
                           "</Response>";
    awsr_sts_parse_error(wrapped, strlen(wrapped), 400, "Bad Request", "AssumeRole", &err);
    assert_string_equal(err.code, "Throttling");
    assert_string_equal(err.message, "An error occurred (Throttling) when calling the AssumeRole "
                                     "operation: Rate exceeded");

    /* Code and Message default to Unknown */
    const char bare[] = "<ErrorResponse><Error><Type>Sender</Type></Error></ErrorResponse>";
    awsr_sts_parse_error(bare, strlen(bare), 400, "Bad Request", "AssumeRole", &err);
    assert_int_equal(err.status, AWSR_E_SERVICE);
    assert_string_equal(err.code, "Unknown");
    assert_string_equal(err.message, "An error occurred (Unknown) when calling the AssumeRole "
                                     "operation: Unknown");

    /* HTML or empty on 5xx: the status and the reason phrase */
    const char html[] = "<html><head><title>503 Service Unavailable</title></head></html>";
    awsr_sts_parse_error(html, strlen(html), 503, "Service Unavailable", "AssumeRole", &err);
    assert_string_equal(err.code, "503");
    assert_string_equal(err.message, "An error occurred (503) when calling the AssumeRole "
                                     "operation: Service Unavailable");
    awsr_sts_parse_error("", 0, 500, "Internal Server Error", "GetSessionToken", &err);
    assert_string_equal(err.code, "500");
    assert_string_equal(err.message, "An error occurred (500) when calling the GetSessionToken "
                                     "operation: Internal Server Error");
    awsr_sts_parse_error("<Error><Code>Bro", 16, 502, "", "AssumeRole", &err);
    assert_string_equal(err.code, "502");
    assert_string_equal(err.message, "An error occurred (502) when calling the AssumeRole "
                                     "operation: Unknown");
}

/* ---------------------------------------------------------------- endpoints */

static void test_fips_and_dualstack_endpoints(void **state)
{
    (void)state;
    const struct {
        const char *region;
        bool fips, dualstack;
        const char *url, *sign_region;
    } rows[] = {
        {"us-east-1", true, false, "https://sts-fips.us-east-1.amazonaws.com", "us-east-1"},
        {"us-west-2", false, true, "https://sts.us-west-2.api.aws", "us-west-2"},
        {"us-west-2", true, true, "https://sts-fips.us-west-2.api.aws", "us-west-2"},
        {"cn-north-1", true, false, "https://sts-fips.cn-north-1.amazonaws.com.cn", "cn-north-1"},
        {"cn-north-1", false, true, "https://sts.cn-north-1.api.amazonwebservices.com.cn",
         "cn-north-1"},
        /* GovCloud's regular endpoints are its FIPS ones */
        {"us-gov-west-1", true, false, "https://sts.us-gov-west-1.amazonaws.com", "us-gov-west-1"},
        {"us-gov-west-1", true, true, "https://sts-fips.us-gov-west-1.api.aws", "us-gov-west-1"},
        /* a variant is always regional */
        {NULL, true, false, "https://sts-fips.us-east-1.amazonaws.com", "us-east-1"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        struct awsr_sts_client c;
        struct awsr_error err = {0};
        const struct awsr_sts_settings st = {.region = rows[i].region, .fips = rows[i].fips,
                                             .dualstack = rows[i].dualstack,
                                             .regional_mode = "legacy"};
        assert_int_equal(awsr_sts_client_init(&c, &st, &err), 0);
        assert_string_equal(c.endpoint, rows[i].url);
        assert_string_equal(c.region, rows[i].sign_region);
        assert_int_equal(c.max_attempts, 3);
        awsr_sts_client_free(&c);
    }
    struct awsr_sts_client c;
    struct awsr_error err = {0};
    assert_int_equal(awsr_sts_client_init(&c, &(struct awsr_sts_settings){
                                              .endpoint = "http://127.0.0.1:1", .fips = true},
                                          &err),
                     -1);
    assert_int_equal(err.status, AWSR_E_CONFIG);
    assert_string_equal(err.message,
                        "Invalid Configuration: FIPS and custom endpoint are not supported");
    assert_int_equal(awsr_sts_client_init(&c, &(struct awsr_sts_settings){
                                              .endpoint = "http://127.0.0.1:1", .dualstack = true},
                                          &err),
                     -1);
    assert_string_equal(err.message,
                        "Invalid Configuration: Dualstack and custom endpoint are not supported");
    assert_int_equal(awsr_sts_client_init(&c, &(struct awsr_sts_settings){
                                              .region = "us-iso-east-1", .dualstack = true},
                                          &err),
                     -1);
    assert_string_equal(err.message,
                        "DualStack is enabled but this partition does not support DualStack");
}

static void test_endpoint_table(void **state)
{
    (void)state;
    static const struct {
        const char *configured, *region, *mode, *url, *sign_region;
    } rows[] = {
        {NULL, "eu-west-1", NULL, "https://sts.eu-west-1.amazonaws.com", "eu-west-1"},
        {NULL, "us-east-1", "regional", "https://sts.us-east-1.amazonaws.com", "us-east-1"},
        {NULL, "cn-north-1", NULL, "https://sts.cn-north-1.amazonaws.com.cn", "cn-north-1"},
        {NULL, "cn-northwest-1", "legacy", "https://sts.cn-northwest-1.amazonaws.com.cn",
         "cn-northwest-1"},
        {NULL, "us-gov-west-1", NULL, "https://sts.us-gov-west-1.amazonaws.com",
         "us-gov-west-1"},
        {NULL, NULL, NULL, "https://sts.amazonaws.com", "us-east-1"},
        {NULL, "", NULL, "https://sts.amazonaws.com", "us-east-1"},
        {NULL, "aws-global", NULL, "https://sts.amazonaws.com", "us-east-1"},
        {NULL, "eu-west-1", "legacy", "https://sts.amazonaws.com", "us-east-1"},
        {NULL, "us-west-2", "legacy", "https://sts.amazonaws.com", "us-east-1"},
        {NULL, "af-south-1", "legacy", "https://sts.af-south-1.amazonaws.com", "af-south-1"},
        {NULL, "ap-east-1", "legacy", "https://sts.ap-east-1.amazonaws.com", "ap-east-1"},
        {"http://127.0.0.1:5000/sts/", "eu-west-1", NULL, "http://127.0.0.1:5000/sts/",
         "eu-west-1"},
        {"https://vpce.example.com", "us-west-2", "legacy", "https://vpce.example.com",
         "us-west-2"},
        {"http://localhost:8080", NULL, NULL, "http://localhost:8080", "us-east-1"},
        /* botocore's region check allows upper case; the client must not refuse it */
        {"http://127.0.0.1:5000", "EU-WEST-1", NULL, "http://127.0.0.1:5000", "EU-WEST-1"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        struct awsr_sts_client c;
        struct awsr_error err = {0};
        assert_int_equal(awsr_sts_client_init(&c, &(struct awsr_sts_settings){
                                                  .endpoint = rows[i].configured,
                                                  .region = rows[i].region,
                                                  .ca_bundle = "/tmp/ca.pem",
                                                  .regional_mode = rows[i].mode},
                                              &err),
                         0);
        assert_string_equal(c.endpoint, rows[i].url);
        assert_string_equal(c.region, rows[i].sign_region);
        assert_string_equal(c.ca_bundle, "/tmp/ca.pem");
        assert_int_equal(c.deadline, 0);
        awsr_sts_client_free(&c);
    }

    struct awsr_sts_client c;
    struct awsr_error err = {0};
    assert_int_equal(awsr_sts_client_init(&c, &(struct awsr_sts_settings){.region = "eu-west-1", .regional_mode = "global"}, &err), -1);
    assert_int_equal(err.status, AWSR_E_CONFIG);
    assert_string_equal(err.message, "STS regional endpoints option global is invalid. Valid "
                                     "options are: \"legacy\", \"regional\"");
    assert_null(c.endpoint);
    assert_int_equal(awsr_sts_client_init(&c, &(struct awsr_sts_settings){.region = "eu-west-1/../x"}, &err), -1);
    assert_int_equal(err.status, AWSR_E_CONFIG);
    assert_int_equal(awsr_sts_client_init(&c, &(struct awsr_sts_settings){.endpoint = "ftp://x", .region = "eu-west-1"}, &err), -1);
    assert_int_equal(err.status, AWSR_E_CONFIG);
}

/* ---------------------------------------------------------------- form encoding */

static void test_form_encode(void **state)
{
    (void)state;
    char *s = awsr_form_encode("arn:aws:iam::123456789012:mfa/alice a+b=c~_.-\xc3\xa9");
    assert_string_equal(s, "arn%3Aaws%3Aiam%3A%3A123456789012%3Amfa%2Falice+a%2Bb%3Dc~_.-%C3%A9");
    free(s);
    s = awsr_form_encode("");
    assert_string_equal(s, "");
    free(s);

    char *body = NULL;
    assert_int_equal(awsr_form_append(&body, "Action", "AssumeRole"), 0);
    assert_int_equal(awsr_form_append(&body, "Version", "2011-06-15"), 0);
    assert_int_equal(awsr_form_append(&body, "ExternalId", NULL), 0);
    assert_int_equal(awsr_form_append(&body, "RoleArn", "arn:aws:iam::1:role/demo"), 0);
    assert_string_equal(body, "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1"
                              "%3Arole%2Fdemo");
    free(body);
}

/* ---------------------------------------------------------------- request shape */

static const char *find_header(const struct awsr_sts_wire *w, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; w->headers[i]; i++)
        if (!strncmp(w->headers[i], name, n) && w->headers[i][n] == ':')
            return w->headers[i] + n + 2;
    return NULL;
}

static void test_request_shape(void **state)
{
    (void)state;
    struct awsr_sts_client c;
    struct awsr_error err = {0};
    assert_int_equal(awsr_sts_client_init(&c, &(struct awsr_sts_settings){.endpoint = "http://127.0.0.1:5000/sts/", .region = "eu-west-1"}, &err),
                     0);
    struct awsr_creds src = {0};
    assert_int_equal(awsr_creds_set(&src, "ASIAEXAMPLE", "secret", "TOKEN/+=", 0), 0);
    const char *body = "Action=GetCallerIdentity&Version=2011-06-15";
    struct awsr_sts_wire w;
    assert_int_equal(awsr_sts_build_request(&c, &src, body, 1700000000, &w, &err), 0);
    assert_string_equal(w.url, "http://127.0.0.1:5000/sts/");
    assert_string_equal(w.body, body);
    assert_int_equal(w.body_len, strlen(body));
    assert_string_equal(find_header(&w, "Host"), "127.0.0.1:5000");
    assert_string_equal(find_header(&w, "Content-Type"),
                        "application/x-www-form-urlencoded; charset=utf-8");
    assert_string_equal(find_header(&w, "User-Agent"), "awsrole-run/" AWSR_VERSION);
    assert_string_equal(find_header(&w, "X-Amz-Date"), "20231114T221320Z");
    assert_string_equal(find_header(&w, "X-Amz-Security-Token"), "TOKEN/+=");
    assert_null(find_header(&w, "X-Amz-Content-SHA256"));

    /* the Authorization equals an independent signature of the same canonical request */
    struct awsr_sigv4_header sh[] = {
        {"content-type", "application/x-www-form-urlencoded; charset=utf-8"},
        {"host", "127.0.0.1:5000"}};
    struct awsr_sigv4_request rq = {
        .method = "POST", .path = "/sts/", .headers = sh, .n_headers = 2,
        .body = body, .body_len = strlen(body), .region = "eu-west-1", .service = "sts",
        .timestamp = 1700000000, .access_key_id = "ASIAEXAMPLE", .secret_access_key = "secret",
        .session_token = "TOKEN/+=", .normalize_path = true};
    struct awsr_sigv4_result res;
    assert_int_equal(awsr_sigv4_sign(&rq, &res), 0);
    assert_string_equal(find_header(&w, "Authorization"), res.authorization);
    assert_non_null(strstr(res.authorization,
                           "Credential=ASIAEXAMPLE/20231114/eu-west-1/sts/aws4_request, "
                           "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "));
    awsr_sigv4_result_free(&res);
    awsr_sts_wire_free(&w);

    /* long-term keys: no token header, token not signed; default port not in Host */
    struct awsr_creds lt = {0};
    assert_int_equal(awsr_creds_set(&lt, "AKIAEXAMPLE", "secret", NULL, 0), 0);
    awsr_sts_client_free(&c);
    assert_int_equal(awsr_sts_client_init(&c, &(struct awsr_sts_settings){.region = "eu-west-1"}, &err), 0);
    assert_int_equal(awsr_sts_build_request(&c, &lt, body, 1700000000, &w, &err), 0);
    assert_string_equal(find_header(&w, "Host"), "sts.eu-west-1.amazonaws.com");
    assert_null(find_header(&w, "X-Amz-Security-Token"));
    assert_non_null(strstr(find_header(&w, "Authorization"),
                           "SignedHeaders=content-type;host;x-amz-date, Signature="));
    awsr_sts_wire_free(&w);

    /* unsigned (AssumeRoleWithWebIdentity): no Authorization, no X-Amz-Date */
    assert_int_equal(awsr_sts_build_request(&c, NULL, body, 1700000000, &w, &err), 0);
    assert_null(find_header(&w, "Authorization"));
    assert_null(find_header(&w, "X-Amz-Date"));
    assert_non_null(find_header(&w, "Content-Type"));
    awsr_sts_wire_free(&w);

    awsr_creds_clear(&lt);
    awsr_creds_clear(&src);
    awsr_sts_client_free(&c);
}

/* ---------------------------------------------------------------- retries (scripted) */

struct scripted {
    long status;        /* 0: transport error */
    const char *reason;
    const char *body;
    const char *transport_code;
    time_t date;
};

static struct {
    const struct scripted *script;
    size_t n, calls;
    time_t now;
    double slept;
    char last_body[2048];
    bool last_had_authorization;
    long last_timeout_ms;
} fake;

static time_t fake_now(void) { return fake.now; }
static void fake_sleep(double s)
{
    fake.slept += s;
    fake.now += (time_t)(s + 0.999);
}

static int fake_transport(const struct awsr_http_request *rq, struct awsr_http_response *rs,
                          time_t *server_date, struct awsr_error *err)
{
    assert_true(fake.calls < fake.n);
    const struct scripted *s = &fake.script[fake.calls++];
    snprintf(fake.last_body, sizeof fake.last_body, "%.*s", (int)rq->body_len, rq->body);
    fake.last_had_authorization = false;
    for (const char *const *h = rq->headers; *h; h++)
        if (!strncmp(*h, "Authorization:", 14))
            fake.last_had_authorization = true;
    fake.last_timeout_ms = rq->timeout_ms;
    memset(rs, 0, sizeof *rs);
    *server_date = s->date;
    if (s->status == 0) {
        fake.now += 5; /* a connect timeout costs time */
        awsr_error_set(err, AWSR_E_OTHER, "Could not connect to the endpoint URL: \"%s\"",
                       rq->url);
        snprintf(err->code, sizeof err->code, "%s", s->transport_code);
        return -1;
    }
    rs->status = s->status;
    rs->body = strdup(s->body);
    rs->body_len = strlen(s->body);
    snprintf(rs->reason, sizeof rs->reason, "%s", s->reason);
    return 0;
}

static void script(const struct scripted *s, size_t n)
{
    memset(&fake, 0, sizeof fake);
    fake.script = s;
    fake.n = n;
    fake.now = 1700000000;
    awsr_sts_set_hooks(fake_transport, fake_sleep, fake_now);
}

static int teardown_hooks(void **state)
{
    (void)state;
    awsr_sts_set_hooks(NULL, NULL, NULL);
    return 0;
}

/* max_attempts 0: the default (3). */
static void client_attempts(struct awsr_sts_client *c, struct awsr_creds *src, int max_attempts)
{
    struct awsr_error err = {0};
    const struct awsr_sts_settings s = {.endpoint = "http://127.0.0.1:1/", .region = "us-east-1",
                                        .max_attempts = max_attempts};
    assert_int_equal(awsr_sts_client_init(c, &s, &err), 0);
    memset(src, 0, sizeof *src);
    assert_int_equal(awsr_creds_set(src, "AKIAEXAMPLE", "secret", NULL, 0), 0);
}

static void client(struct awsr_sts_client *c, struct awsr_creds *src)
{
    client_attempts(c, src, 0);
}

static const struct awsr_assume_role_params role = {
    .role_arn = "arn:aws:iam::123456789012:role/demo",
    .role_session_name = "botocore-session-1700000000",
    .serial_number = "arn:aws:iam::123456789012:mfa/alice",
    .token_code = "123456",
    .duration_seconds = 3600,
};

static void test_throttling_exhausts_retries(void **state)
{
    (void)state;
    const struct scripted s[] = {
        {400, "Bad Request", throttling, NULL, 0}, {400, "Bad Request", throttling, NULL, 0},
        {400, "Bad Request", throttling, NULL, 0}, {400, "Bad Request", throttling, NULL, 0}};
    script(s, 4);
    struct awsr_sts_client c;
    struct awsr_creds src, out = {0};
    struct awsr_error err = {0};
    client(&c, &src);
    assert_int_equal(awsr_sts_assume_role(&c, &src, &role, &out, &err), -1);
    assert_int_equal(fake.calls, 3); /* CLI v2's standard mode: 3 attempts */
    assert_int_equal(err.status, AWSR_E_SERVICE);
    assert_string_equal(err.code, "Throttling");
    assert_string_equal(err.message, "An error occurred (Throttling) when calling the AssumeRole "
                                     "operation (reached max retries: 2): Rate exceeded");
    /* jittered exponential backoff: 0.5-1 + 1-2 seconds */
    assert_true(fake.slept >= 1.5 && fake.slept <= 3.0);
    assert_string_equal(fake.last_body,
                        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A"
                        "123456789012%3Arole%2Fdemo&RoleSessionName=botocore-session-1700000000"
                        "&SerialNumber=arn%3Aaws%3Aiam%3A%3A123456789012%3Amfa%2Falice&"
                        "TokenCode=123456&DurationSeconds=3600");
    assert_true(fake.last_had_authorization);
    awsr_creds_clear(&src);
    awsr_sts_client_free(&c);
}

static void test_5xx_then_success(void **state)
{
    (void)state;
    const struct scripted s[] = {
        {503, "Service Unavailable", "<html>busy</html>", NULL, 0},
        {0, NULL, NULL, AWSR_HTTP_E_CONNECT, 0},
        {500, "Internal Server Error", "", NULL, 0},
        {200, "OK", assume_role_ok, NULL, 0}};
    script(s, 4);
    struct awsr_sts_client c;
    struct awsr_creds src, out = {0};
    struct awsr_error err = {0};
    client_attempts(&c, &src, 4); /* max_attempts = 4 */
    assert_int_equal(awsr_sts_assume_role(&c, &src, &role, &out, &err), 0);
    assert_int_equal(fake.calls, 4);
    assert_string_equal(out.access_key_id, "ASIAIOSFODNN7EXAMPLE");
    assert_string_equal(out.account_id, "123456789012");
    awsr_creds_clear(&out);
    awsr_creds_clear(&src);
    awsr_sts_client_free(&c);
}

static void test_4xx_not_retried(void **state)
{
    (void)state;
    const struct scripted s[] = {{403, "Forbidden", access_denied, NULL, 0}};
    script(s, 1);
    struct awsr_sts_client c;
    struct awsr_creds src, out = {0};
    struct awsr_error err = {0};
    client(&c, &src);
    assert_int_equal(awsr_sts_get_session_token(&c, &src, "arn:aws:iam::1:mfa/a", "654321", 0,
                                                &out, &err),
                     -1);
    assert_int_equal(fake.calls, 1);
    assert_int_equal(err.status, AWSR_E_SERVICE);
    assert_string_equal(err.code, "AccessDenied");
    assert_null(out.access_key_id);
    assert_string_equal(fake.last_body, "Action=GetSessionToken&Version=2011-06-15&SerialNumber="
                                        "arn%3Aaws%3Aiam%3A%3A1%3Amfa%2Fa&TokenCode=654321");
    awsr_creds_clear(&src);
    awsr_sts_client_free(&c);
}

static void test_tls_error_not_retried(void **state)
{
    (void)state;
    const struct scripted s[] = {{0, NULL, NULL, AWSR_HTTP_E_TLS, 0}};
    script(s, 1);
    struct awsr_sts_client c;
    struct awsr_creds src;
    struct awsr_identity id = {0};
    struct awsr_error err = {0};
    client(&c, &src);
    assert_int_equal(awsr_sts_get_caller_identity(&c, &src, &id, &err), -1);
    assert_int_equal(fake.calls, 1);
    assert_int_equal(err.status, AWSR_E_OTHER);
    assert_string_equal(err.code, "");
    awsr_creds_clear(&src);
    awsr_sts_client_free(&c);
}

static void test_deadline(void **state)
{
    (void)state;
    /* connection errors until the 12 s deadline: stops early, 255, says so */
    const struct scripted s[] = {{0, NULL, NULL, AWSR_HTTP_E_CONNECT, 0},
                                 {0, NULL, NULL, AWSR_HTTP_E_CONNECT, 0},
                                 {0, NULL, NULL, AWSR_HTTP_E_CONNECT, 0},
                                 {0, NULL, NULL, AWSR_HTTP_E_CONNECT, 0}};
    script(s, 4);
    struct awsr_sts_client c;
    struct awsr_creds src;
    struct awsr_identity id = {0};
    struct awsr_error err = {0};
    client(&c, &src);
    c.deadline = fake.now + 12;
    assert_int_equal(awsr_sts_get_caller_identity(&c, &src, &id, &err), -1);
    assert_true(fake.calls >= 1 && fake.calls < 4);
    assert_true(fake.now <= c.deadline + 5);
    assert_int_equal(err.status, AWSR_E_OTHER);
    assert_non_null(strstr(err.message, "did not answer GetCallerIdentity in time"));
    assert_non_null(strstr(err.message, "Could not connect to the endpoint URL"));
    /* every attempt's timeout is clipped to what is left */
    assert_true(fake.last_timeout_ms <= 12000);
    awsr_creds_clear(&src);
    awsr_sts_client_free(&c);
}

static void test_web_identity_unsigned(void **state)
{
    (void)state;
    const struct scripted s[] = {{200, "OK", web_identity_ok, NULL, 0}};
    script(s, 1);
    struct awsr_sts_client c;
    struct awsr_creds src, out = {0};
    struct awsr_error err = {0};
    client(&c, &src);
    assert_int_equal(awsr_sts_assume_role_with_web_identity(&c, "arn:aws:iam::1:role/w", "s 1",
                                                            "eyJ.a.b", 900, &out, &err),
                     0);
    assert_false(fake.last_had_authorization);
    assert_string_equal(fake.last_body,
                        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3A"
                        "iam%3A%3A1%3Arole%2Fw&RoleSessionName=s+1&WebIdentityToken=eyJ.a.b&"
                        "DurationSeconds=900");
    assert_string_equal(out.session_token, "WTOKEN");
    awsr_creds_clear(&out);
    awsr_creds_clear(&src);
    awsr_sts_client_free(&c);
}

/* A negative duration_seconds (Python's int() accepts it) is sent, for STS to refuse. */
static void test_negative_duration_is_sent(void **state)
{
    (void)state;
    const struct scripted s[] = {{200, "OK", assume_role_ok, NULL, 0}};
    script(s, 1);
    struct awsr_sts_client c;
    struct awsr_creds src, out = {0};
    struct awsr_error err = {0};
    client(&c, &src);
    struct awsr_assume_role_params p = role;
    p.serial_number = NULL;
    p.token_code = NULL;
    p.duration_seconds = -5;
    assert_int_equal(awsr_sts_assume_role(&c, &src, &p, &out, &err), 0);
    assert_non_null(strstr(fake.last_body, "&DurationSeconds=-5"));
    awsr_creds_clear(&out);
    awsr_creds_clear(&src);
    awsr_sts_client_free(&c);
}

static void test_clock_skew(void **state)
{
    (void)state;
    /* STS's own clock in the message: local now is 1700000000 = 20231114T221320Z */
    const char expired[] =
        "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>Signature expired: "
        "20231114T221320Z is now earlier than 20231114T222820Z (20231114T224320Z - 15 min.)"
        "</Message></Error></ErrorResponse>";
    const struct scripted s[] = {{403, "Forbidden", expired, NULL, 0}};
    script(s, 1);
    struct awsr_sts_client c;
    struct awsr_creds src;
    struct awsr_identity id = {0};
    struct awsr_error err = {0};
    client(&c, &src);
    assert_int_equal(awsr_sts_get_caller_identity(&c, &src, &id, &err), -1);
    assert_int_equal(err.status, AWSR_E_SERVICE);
    assert_non_null(strstr(err.message, "(20231114T224320Z - 15 min.) (the local clock differs "
                                        "from the server's by 1800 seconds; fix the system "
                                        "clock)"));
    awsr_sts_client_free(&c);

    /* the Date header on another auth error */
    const char invalid[] = "<ErrorResponse><Error><Code>InvalidClientTokenId</Code><Message>The "
                           "security token included in the request is invalid.</Message>"
                           "</Error></ErrorResponse>";
    const struct scripted s2[] = {{403, "Forbidden", invalid, NULL, 1700000000 - 600}};
    script(s2, 1);
    awsr_creds_clear(&src);
    client(&c, &src);
    awsr_sts_get_caller_identity(&c, &src, &id, &err);
    assert_string_equal(err.message,
                        "An error occurred (InvalidClientTokenId) when calling the "
                        "GetCallerIdentity operation: The security token included in the request "
                        "is invalid. (the local clock differs from the server's by 600 seconds; "
                        "fix the system clock)");
    awsr_sts_client_free(&c);

    /* a small difference says nothing */
    const struct scripted s3[] = {{403, "Forbidden", invalid, NULL, 1700000000 - 20}};
    script(s3, 1);
    awsr_creds_clear(&src);
    client(&c, &src);
    awsr_sts_get_caller_identity(&c, &src, &id, &err);
    assert_null(strstr(err.message, "clock"));
    awsr_sts_client_free(&c);

    /* RequestExpired without any time: a hint without a number */
    const char req_expired[] = "<ErrorResponse><Error><Code>RequestExpired</Code><Message>"
                               "Request has expired.</Message></Error></ErrorResponse>";
    const struct scripted s4[] = {{400, "Bad Request", req_expired, NULL, 0}};
    script(s4, 1);
    awsr_creds_clear(&src);
    client(&c, &src);
    awsr_sts_get_caller_identity(&c, &src, &id, &err);
    assert_non_null(strstr(err.message, "Request has expired. (the local clock may differ"));
    awsr_creds_clear(&src);
    awsr_sts_client_free(&c);
}

static void test_retryable_codes(void **state)
{
    (void)state;
    assert_true(awsr_sts_retryable_code("Throttling"));
    assert_true(awsr_sts_retryable_code("IDPCommunicationError"));
    assert_true(awsr_sts_retryable_code("RequestLimitExceeded"));
    assert_false(awsr_sts_retryable_code("AccessDenied"));
    assert_false(awsr_sts_retryable_code("throttling"));
    assert_false(awsr_sts_retryable_code(NULL));
}

static void test_http_unreachable(void **state)
{
    (void)state;
    /* the real transport against a closed loopback port: a botocore-like message, no body */
    struct awsr_http_request rq = {.method = "POST", .url = "http://127.0.0.1:1/",
                                   .body = "x", .body_len = 1, .timeout_ms = 2000};
    struct awsr_http_response rs;
    struct awsr_error err = {0};
    assert_int_equal(awsr_http_send(&rq, &rs, &err), -1);
    assert_int_equal(err.status, AWSR_E_OTHER);
    assert_string_equal(err.message, "Could not connect to the endpoint URL: "
                                     "\"http://127.0.0.1:1/\"");
    assert_string_equal(err.code, AWSR_HTTP_E_CONNECT);
    assert_null(rs.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_assume_role),
        cmocka_unit_test(test_parse_prefixed_reordered_millis),
        cmocka_unit_test(test_parse_get_session_token),
        cmocka_unit_test(test_parse_web_identity),
        cmocka_unit_test(test_parse_caller_identity),
        cmocka_unit_test(test_arn_account),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_malformed_hostile),
        cmocka_unit_test(test_parse_error_documents),
        cmocka_unit_test(test_endpoint_table),
        cmocka_unit_test(test_form_encode),
        cmocka_unit_test(test_request_shape),
        cmocka_unit_test_teardown(test_throttling_exhausts_retries, teardown_hooks),
        cmocka_unit_test_teardown(test_5xx_then_success, teardown_hooks),
        cmocka_unit_test_teardown(test_4xx_not_retried, teardown_hooks),
        cmocka_unit_test_teardown(test_tls_error_not_retried, teardown_hooks),
        cmocka_unit_test_teardown(test_deadline, teardown_hooks),
        cmocka_unit_test_teardown(test_web_identity_unsigned, teardown_hooks),
        cmocka_unit_test_teardown(test_negative_duration_is_sent, teardown_hooks),
        cmocka_unit_test_teardown(test_clock_skew, teardown_hooks),
        cmocka_unit_test(test_fips_and_dualstack_endpoints),
        cmocka_unit_test(test_retryable_codes),
        cmocka_unit_test(test_http_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
