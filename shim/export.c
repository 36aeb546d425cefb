/* export.c - the three output formats of --export. */
#include "export.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int awsr_format_parse(const char *name, enum awsr_format *out)
{
    static const struct {
        const char *name;
        enum awsr_format fmt;
    } names[] = {{"env", AWSR_FMT_ENV}, {"json", AWSR_FMT_JSON}, {"process", AWSR_FMT_PROCESS}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].fmt;
            return 0;
        }
    }
    return -1;
}

static int print(FILE *f, enum awsr_format fmt, const struct awsr_creds *c, const char *region,
                 const char *profile);

/* POSIX shell single quoting: 'it'\''s'. */
static void put_quoted(FILE *f, const char *v)
{
    fputc('\'', f);
    for (; *v; v++) {
        if (*v == '\'')
            fputs("'\\''", f);
        else
            fputc(*v, f);
    }
    fputc('\'', f);
}

static void put_export(FILE *f, const char *name, const char *v)
{
    fprintf(f, "export %s=", name);
    put_quoted(f, v);
    fputc('\n', f);
}

static void print_env(FILE *f, const struct awsr_creds *c, const char *region)
{
    put_export(f, "AWS_ACCESS_KEY_ID", c->access_key_id);
    put_export(f, "AWS_SECRET_ACCESS_KEY", c->secret_access_key);
    /* Static keys: an eval in a shell that still holds an earlier token must not pair it
     * with these keys. */
    if (c->session_token) {
        put_export(f, "AWS_SESSION_TOKEN", c->session_token);
        put_export(f, "AWS_SECURITY_TOKEN", c->session_token);
    } else {
        fputs("unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN\n", f);
    }
    if (c->expiration) {
        char when[32];
        awsr_time_format(c->expiration, when, sizeof when);
        put_export(f, "AWS_CREDENTIAL_EXPIRATION", when);
    } else {
        fputs("unset AWS_CREDENTIAL_EXPIRATION\n", f);
    }
    if (region) {
        put_export(f, "AWS_REGION", region);
        put_export(f, "AWS_DEFAULT_REGION", region);
    }
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

json_t *awsr_export_creds_json(const struct awsr_creds *c, bool process)
{
    json_t *o = json_object();
    if (process)
        json_object_set_new(o, "Version", json_integer(1));
    set_str(o, "AccessKeyId", c->access_key_id);
    set_str(o, "SecretAccessKey", c->secret_access_key);
    set_str(o, "SessionToken", c->session_token);
    if (c->expiration) {
        char when[32];
        awsr_time_format(c->expiration, when, sizeof when);
        set_str(o, "Expiration", when);
    }
    set_str(o, "AccountId", c->account_id);
    return o;
}

int awsr_export_print(FILE *f, enum awsr_format fmt, const struct awsr_creds *c,
                      const char *region, const char *profile)
{
    /* The stream's own buffer would keep the printed secrets until exit: print through
     * one that is wiped once flushed. (Called once, before anything else is written.) */
    static char out[8192];
    setvbuf(f, out, _IOFBF, sizeof out);
    int rc = print(f, fmt, c, region, profile);
    explicit_bzero(out, sizeof out);
    return rc;
}

static int print(FILE *f, enum awsr_format fmt, const struct awsr_creds *c, const char *region,
                 const char *profile)
{
    if (fmt == AWSR_FMT_ENV) {
        print_env(f, c, region);
    } else {
        json_t *o = awsr_export_creds_json(c, fmt == AWSR_FMT_PROCESS);
        if (fmt == AWSR_FMT_JSON) {
            set_str(o, "Region", region);
            set_str(o, "Profile", profile);
        }
        size_t flags = JSON_PRESERVE_ORDER | (fmt == AWSR_FMT_JSON ? JSON_INDENT(2) : JSON_COMPACT);
        char *text = json_dumps(o, flags);
        json_decref(o);
        if (!text)
            return -1;
        fputs(text, f);
        fputc('\n', f);
        /* The text holds the secret: wipe it before it goes back to the allocator. */
        explicit_bzero(text, strlen(text));
        free(text);
    }
    return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}
