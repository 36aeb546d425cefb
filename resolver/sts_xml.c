/* sts_xml.c - STS XML responses and ErrorResponse documents, parsed with expat.
 * Pure functions over a buffer: no I/O, no globals, bodies never copied into messages. */
#include "sts_xml.h"

#include "expat_dl.h"
#include "secmem.h"
#include "strbuf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16
#define MAX_FIELD (64 * 1024) /* a SessionToken is ~1 KB; anything this large is junk */

enum field {
    F_AKID, F_SECRET, F_TOKEN, F_EXPIRATION, F_ROLE_ARN,  /* credential operations */
    F_ACCOUNT, F_ARN, F_USERID,                          /* GetCallerIdentity */
    F_CODE, F_MESSAGE, F_TYPE,                           /* ErrorResponse */
    F_COUNT
};

struct pstate {
    const struct awsr_expat *x;
    bool no_parser;            /* libexpat could not be loaded */
    XML_Parser xp;
    const char *op;
    size_t oplen;
    char stack[MAX_DEPTH][48]; /* local names; "" when too long to match anything */
    int depth;
    int cur;                   /* field being collected, -1 when none */
    int cur_depth;
    struct awsr_strbuf text;   /* text of the current field (secure: keys and tokens) */
    char *val[F_COUNT];
    bool seen_error;           /* an <Error> element appeared */
    bool failed_alloc, too_big, doctype;
};

static const char *local_name(const char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

static bool is(const struct pstate *s, int level, const char *name)
{
    return s->depth > level && strcmp(s->stack[level], name) == 0;
}

/* "<op>Response" / "<op>Result" */
static bool is_op(const struct pstate *s, int level, const char *suffix)
{
    const char *n = s->stack[level];
    return s->depth > level && strncmp(n, s->op, s->oplen) == 0 &&
           strcmp(n + s->oplen, suffix) == 0;
}

/* Which field (if any) the element just pushed at depth s->depth-1 holds. */
static int field_for_path(const struct pstate *s)
{
    int d = s->depth;
    const char *leaf = s->stack[d - 1];
    if (d == 4 && is_op(s, 0, "Response") && is_op(s, 1, "Result") &&
        is(s, 2, "Credentials")) {
        if (!strcmp(leaf, "AccessKeyId"))
            return F_AKID;
        if (!strcmp(leaf, "SecretAccessKey"))
            return F_SECRET;
        if (!strcmp(leaf, "SessionToken"))
            return F_TOKEN;
        if (!strcmp(leaf, "Expiration"))
            return F_EXPIRATION;
    }
    if (d == 4 && is_op(s, 0, "Response") && is_op(s, 1, "Result") &&
        is(s, 2, "AssumedRoleUser") && !strcmp(leaf, "Arn"))
        return F_ROLE_ARN;
    if (d == 3 && is_op(s, 0, "Response") && is_op(s, 1, "Result")) {
        if (!strcmp(leaf, "Account"))
            return F_ACCOUNT;
        if (!strcmp(leaf, "Arn"))
            return F_ARN;
        if (!strcmp(leaf, "UserId"))
            return F_USERID;
    }
    /* ErrorResponse/Error/X, or Response/Errors/Error/X: a child of any <Error> */
    if (d >= 2 && !strcmp(s->stack[d - 2], "Error")) {
        if (!strcmp(leaf, "Code"))
            return F_CODE;
        if (!strcmp(leaf, "Message"))
            return F_MESSAGE;
        if (!strcmp(leaf, "Type"))
            return F_TYPE;
    }
    return -1;
}

static void stop(struct pstate *s) { s->x->StopParser(s->xp, XML_FALSE); }

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    struct pstate *s = ud;
    if (s->depth < MAX_DEPTH) {
        const char *l = local_name(name);
        size_t n = strlen(l);
        if (n < sizeof s->stack[0])
            memcpy(s->stack[s->depth], l, n + 1);
        else
            s->stack[s->depth][0] = '\0';
    }
    s->depth++;
    if (s->depth <= MAX_DEPTH) {
        if (!strcmp(s->stack[s->depth - 1], "Error"))
            s->seen_error = true;
        int f = field_for_path(s);
        if (f >= 0) {
            s->cur = f;
            s->cur_depth = s->depth;
            s->text.len = 0;
        }
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    (void)name;
    struct pstate *s = ud;
    if (s->cur >= 0 && s->depth == s->cur_depth) {
        char *v = malloc(s->text.len + 1);
        if (!v) {
            s->failed_alloc = true;
            stop(s);
            return;
        }
        if (s->text.len)
            memcpy(v, s->text.p, s->text.len);
        v[s->text.len] = '\0';
        awsr_secret_free(s->val[s->cur]); /* a repeated element: the last one wins */
        s->val[s->cur] = v;
        s->cur = -1;
    }
    s->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *t, int len)
{
    struct pstate *s = ud;
    if (s->cur < 0 || s->depth != s->cur_depth || len <= 0)
        return;
    size_t n = (size_t)len;
    if (s->text.len + n > MAX_FIELD) {
        s->too_big = true;
        stop(s);
        return;
    }
    if (awsr_strbuf_add(&s->text, t, n) < 0) {
        s->failed_alloc = true;
        stop(s);
    }
}

/* STS never sends a DOCTYPE; refusing it rules out entity expansion tricks. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    struct pstate *s = ud;
    s->doctype = true;
    stop(s);
}

static void pstate_free(struct pstate *s)
{
    for (int i = 0; i < F_COUNT; i++)
        awsr_secret_free(s->val[i]);
    awsr_strbuf_wipe(&s->text);
    if (s->xp)
        s->x->ParserFree(s->xp);
}

/* Runs expat over the body. 0, or -1 with a short reason in why. */
static int run_parser(struct pstate *s, const char *body, size_t len, const char *op,
                      char *why, size_t whysz)
{
    memset(s, 0, sizeof *s);
    s->text = (struct awsr_strbuf)AWSR_STRBUF_SECURE_INIT;
    s->cur = -1;
    s->op = op;
    s->oplen = strlen(op);
    if (!body || len == 0) {
        snprintf(why, whysz, "the body is empty");
        return -1;
    }
    if (len > INT_MAX) {
        snprintf(why, whysz, "the body is too large");
        return -1;
    }
    const char *unloadable = NULL;
    const struct awsr_expat *x = s->x = awsr_expat(&unloadable);
    if (!x) {
        s->no_parser = true;
        snprintf(why, whysz, "%s", unloadable);
        return -1;
    }
    /* The response holds the new secret key and token: expat's buffers are wiped. */
    static const XML_Memory_Handling_Suite wiping = {awsr_secmem_malloc, awsr_secmem_realloc,
                                                     awsr_secmem_free};
    s->xp = x->ParserCreate_MM("UTF-8", &wiping, NULL);
    if (!s->xp) {
        snprintf(why, whysz, "out of memory");
        return -1;
    }
    x->SetUserData(s->xp, s);
    x->SetElementHandler(s->xp, on_start, on_end);
    x->SetCharacterDataHandler(s->xp, on_text);
    x->SetStartDoctypeDeclHandler(s->xp, on_doctype);
    x->SetParamEntityParsing(s->xp, XML_PARAM_ENTITY_PARSING_NEVER);
    if (x->Parse(s->xp, body, (int)len, XML_TRUE) == XML_STATUS_OK)
        return 0;
    if (s->failed_alloc)
        snprintf(why, whysz, "out of memory");
    else if (s->too_big)
        snprintf(why, whysz, "an element is larger than %d bytes", MAX_FIELD);
    else if (s->doctype)
        snprintf(why, whysz, "it holds a DOCTYPE");
    else
        snprintf(why, whysz, "not well-formed XML (%s at line %lu)",
                 x->ErrorString(x->GetErrorCode(s->xp)),
                 (unsigned long)x->GetCurrentLineNumber(s->xp));
    return -1;
}

/* STS answered, but libexpat could not be loaded to read the answer. */
static int no_parser(struct awsr_error *err, const char *op, const char *why)
{
    return awsr_error_set(err, AWSR_E_OTHER, "cannot read STS's answer to %s: %s; install "
                          "expat (Debian: libexpat1)", op, why);
}

static int malformed(struct awsr_error *err, const char *op, const char *why)
{
    return awsr_error_set(err, AWSR_E_OTHER, "STS returned a malformed response to %s: %s",
                          op, why);
}

char *awsr_arn_account(const char *arn)
{
    if (!arn)
        return NULL;
    const char *p = arn;
    for (int i = 0; i < 4; i++) {
        p = strchr(p, ':');
        if (!p)
            return NULL;
        p++;
    }
    size_t n = strcspn(p, ":");
    if (n == 0 || p[n] != ':')
        return NULL;
    return strndup(p, n);
}

int awsr_sts_parse_response(const char *body, size_t len, const char *op,
                            struct awsr_creds *creds, struct awsr_identity *id,
                            struct awsr_error *err)
{
    struct pstate s;
    char why[256];
    bool want_identity = strcmp(op, "GetCallerIdentity") == 0;
    if (run_parser(&s, body, len, op, why, sizeof why) != 0) {
        pstate_free(&s);
        return s.no_parser ? no_parser(err, op, why) : malformed(err, op, why);
    }

    static const struct {
        int f;
        const char *name;
    } cred_fields[] = {{F_AKID, "AccessKeyId"},
                       {F_SECRET, "SecretAccessKey"},
                       {F_TOKEN, "SessionToken"},
                       {F_EXPIRATION, "Expiration"}},
      id_fields[] = {{F_ACCOUNT, "Account"}, {F_ARN, "Arn"}};
    const char *missing = NULL;
    if (want_identity) {
        for (size_t i = 0; i < 2 && !missing; i++)
            if (!s.val[id_fields[i].f] || !s.val[id_fields[i].f][0])
                missing = id_fields[i].name;
    } else {
        for (size_t i = 0; i < 4 && !missing; i++)
            if (!s.val[cred_fields[i].f] || !s.val[cred_fields[i].f][0])
                missing = cred_fields[i].name;
    }
    if (missing) {
        snprintf(why, sizeof why, "%s%sResult has no %s",
                 s.seen_error ? "it is an error document; " : "", op, missing);
        pstate_free(&s);
        return malformed(err, op, why);
    }

    int rc = 0;
    if (want_identity) {
        struct awsr_identity n = {
            .account = strdup(s.val[F_ACCOUNT]),
            .arn = strdup(s.val[F_ARN]),
            .user_id = s.val[F_USERID] ? strdup(s.val[F_USERID]) : NULL,
        };
        if (!n.account || !n.arn || (s.val[F_USERID] && !n.user_id)) {
            awsr_identity_free(&n);
            rc = malformed(err, op, "out of memory");
        } else if (id) {
            awsr_identity_free(id);
            *id = n;
        } else {
            awsr_identity_free(&n);
        }
    } else {
        time_t exp;
        if (awsr_time_parse(s.val[F_EXPIRATION], &exp) != 0) {
            rc = malformed(err, op, "the Expiration is not an ISO 8601 time");
        } else if (creds) {
            char *acct = awsr_arn_account(s.val[F_ROLE_ARN]);
            if (awsr_creds_set(creds, s.val[F_AKID], s.val[F_SECRET], s.val[F_TOKEN], exp)) {
                free(acct);
                rc = malformed(err, op, "out of memory");
            } else {
                creds->account_id = acct;
            }
        }
    }
    pstate_free(&s);
    return rc;
}

int awsr_sts_parse_error(const char *body, size_t len, long status, const char *reason,
                         const char *op, struct awsr_error *err)
{
    struct pstate s;
    char why[256];
    int prc = run_parser(&s, body, len, op, why, sizeof why);
    if (s.no_parser) {
        pstate_free(&s);
        return no_parser(err, op, why);
    }
    if (prc != 0 || !s.seen_error) {
        /* empty, HTML or some other text: botocore's generic error */
        char code[32];
        snprintf(code, sizeof code, "%ld", status);
        pstate_free(&s);
        return awsr_error_service(err, code,
                                  "An error occurred (%s) when calling the %s operation: %s",
                                  code, op, reason && reason[0] ? reason : "Unknown");
    }
    const char *code = s.val[F_CODE] && s.val[F_CODE][0] ? s.val[F_CODE] : "Unknown";
    const char *msg = s.val[F_MESSAGE] && s.val[F_MESSAGE][0] ? s.val[F_MESSAGE] : "Unknown";
    awsr_error_service(err, code, "An error occurred (%s) when calling the %s operation: %s",
                       code, op, msg);
    pstate_free(&s);
    return -1;
}
