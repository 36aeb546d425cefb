/* credfile.c - the synthesized credentials file's text. */
#include "credfile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *p;
    size_t len, cap;
    bool failed;
};

/* Grows by copying into a fresh block and wiping the old one: realloc could leave
 * secret bytes behind in freed memory. */
static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = malloc(cap);
        if (!p) {
            b->failed = true;
            return;
        }
        if (b->p) {
            memcpy(p, b->p, b->len);
            explicit_bzero(b->p, b->cap);
            free(b->p);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

bool awsr_credfile_name_ok(const char *name)
{
    if (!name || !*name)
        return false;
    if (name[0] == ' ' || name[0] == '\t')
        return false;
    return !has_control(name);
}

static bool creds_ok(const struct awsr_creds *c)
{
    if (!c || !c->access_key_id || !c->secret_access_key)
        return false;
    if (!*c->access_key_id || !*c->secret_access_key)
        return false;
    if (has_control(c->access_key_id) || has_control(c->secret_access_key))
        return false;
    /* A value with leading/trailing blanks would be stripped by configparser. */
    return !c->session_token || !has_control(c->session_token);
}

static void section(struct buf *b, const char *name, const struct awsr_creds *c)
{
    buf_str(b, "\n[");
    buf_str(b, name);
    buf_str(b, "]\naws_access_key_id = ");
    buf_str(b, c->access_key_id);
    buf_str(b, "\naws_secret_access_key = ");
    buf_str(b, c->secret_access_key);
    buf_str(b, "\n");
    if (c->session_token && *c->session_token) {
        buf_str(b, "aws_session_token = ");
        buf_str(b, c->session_token);
        buf_str(b, "\n");
    }
}

static void skipped(struct buf *b, size_t i, const char *why)
{
    char line[160];
    snprintf(line, sizeof line, "\n# served profile #%zu left out: %s\n", i + 1, why);
    buf_str(b, line);
}

char *awsr_credfile_render(const struct awsr_served *served, size_t nserved, size_t *len)
{
    struct buf b = {0};
    buf_str(&b, "# Written by awsrole-run for one process tree: replaced when the credentials\n"
                "# are renewed, removed when the run ends. Edits here are lost.\n");
    if (nserved > 0 && creds_ok(served[0].creds))
        section(&b, "default", served[0].creds);
    for (size_t i = 0; i < nserved; i++) {
        const char *name = served[i].profile;
        if (!creds_ok(served[i].creds)) {
            skipped(&b, i, "its credentials cannot be written safely");
            continue;
        }
        if (!awsr_credfile_name_ok(name)) {
            skipped(&b, i, "its name cannot be written as a section header");
            continue;
        }
        if (strcmp(name, "default") == 0) {
            if (i != 0)
                skipped(&b, i, "the default section already holds the tree's own profile");
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = served[j].profile && strcmp(served[j].profile, name) == 0;
        if (dup) {
            skipped(&b, i, "a section of that name is already written");
            continue;
        }
        section(&b, name, served[i].creds);
    }
    if (b.failed) {
        if (b.p) {
            explicit_bzero(b.p, b.cap);
            free(b.p);
        }
        return NULL;
    }
    *len = b.len;
    return b.p;
}
