/* credfile.c - the synthesized credentials file's text. */
#include "credfile.h"

#include <string.h>

#include "strbuf.h"

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

static void section(struct awsr_strbuf *b, const char *name, const struct awsr_creds *c)
{
    awsr_strbuf_adds(b, "\n[");
    awsr_strbuf_adds(b, name);
    awsr_strbuf_adds(b, "]\naws_access_key_id = ");
    awsr_strbuf_adds(b, c->access_key_id);
    awsr_strbuf_adds(b, "\naws_secret_access_key = ");
    awsr_strbuf_adds(b, c->secret_access_key);
    awsr_strbuf_adds(b, "\n");
    if (c->session_token && *c->session_token) {
        awsr_strbuf_adds(b, "aws_session_token = ");
        awsr_strbuf_adds(b, c->session_token);
        awsr_strbuf_adds(b, "\n");
    }
}

static void skipped(struct awsr_strbuf *b, size_t i, const char *why)
{
    awsr_strbuf_addf(b, "\n# served profile #%zu left out: %s\n", i + 1, why);
}

char *awsr_credfile_render(const struct awsr_served *served, size_t nserved, size_t *len)
{
    /* Copy-and-wipe growth: the text holds secret keys. */
    struct awsr_strbuf b = AWSR_STRBUF_SECURE_INIT;
    awsr_strbuf_adds(&b,
                     "# Written by awsrole-run for one process tree: replaced when the credentials\n"
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
    return awsr_strbuf_steal(&b, len);
}
