/* genconfig.c - the tree's private copy of the user's AWS config (see genconfig.h).
 *
 * The copy is made from the original text, line ranges at a time, so what is not replaced
 * stays byte for byte as the user wrote it. The INI parser (resolver/config.h) only says
 * where sections start: a section runs from its header to the next header. */
#include "genconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "strbuf.h"

#define MAX_CONFIG_SIZE (16 * 1024 * 1024)

static bool in_list(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, list[i]) == 0)
            return true;
    return false;
}

#define IN_LIST(k, list) in_list((k), (list), sizeof(list) / sizeof *(list))

/* The long-term keys: out of every section of the copy. */
static const char *const key_names[] = {"aws_access_key_id", "aws_secret_access_key",
                                        "aws_session_token", "aws_security_token"};

/* Keys that make a credential source by themselves (besides the long-term keys and sso_*):
 * what [DEFAULT] loses, so that it cannot turn a served section back into a role, while
 * the profiles that are not served keep their external_id, mfa_serial, ... */
static const char *const source_makers[] = {
    "role_arn", "source_profile", "credential_source", "credential_process",
    "web_identity_token_file", "login_session",
};

/* Keys that only modify a source: a served section loses them with it. */
static const char *const source_modifiers[] = {
    "role_session_name", "external_id", "mfa_serial", "duration_seconds", "mfa_process",
};

static bool makes_source(const char *k)
{
    return strncmp(k, "sso_", 4) == 0 || /* sso_session, sso_start_url, sso_role_name, ... */
           IN_LIST(k, key_names) || IN_LIST(k, source_makers);
}

/* Settings a served section drops: a credential source would beat credential_process (or,
 * in server mode, the container endpoint). Every other setting is kept, whether this file
 * knows it or not (request_checksum_calculation, s3_use_arn_region, sdk_ua_app_id, ...):
 * the tree's SDKs must behave as they do outside it. */
static bool is_source_key(const char *k)
{
    return makes_source(k) || IN_LIST(k, source_modifiers);
}

static bool safe_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr("_.-+@=,:/", c) != NULL;
}

bool awsr_genconfig_name_ok(const char *name)
{
    if (!name || !*name || strlen(name) > 200)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (!safe_char(*p))
            return false;
    return true;
}

/* The launcher's path as one word for both shlex and sh: bare when every character is
 * safe, else in single quotes (which mean the same to both). NULL when impossible. */
static char *quote_launcher(const char *path)
{
    bool bare = *path != '\0';
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '\'')
            return NULL;
        if (!safe_char(*p))
            bare = false;
    }
    char *q = NULL;
    if (asprintf(&q, bare ? "%s" : "'%s'", path) < 0)
        return NULL;
    return q;
}

/* ---- which profile a section header names (botocore's build_profile_map) ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* True when section `sec` is profile `name` (a safe name, so shlex leaves it as is). */
static bool section_is_profile(const char *sec, const char *name)
{
    if (strcmp(name, "default") == 0 && strcmp(sec, "default") == 0)
        return true;
    if (strncmp(sec, "profile", 7) != 0 || !is_space(sec[7]))
        return false;
    const char *p = sec + 7;
    while (is_space(*p))
        p++;
    const char *e = p + strlen(p);
    while (e > p && is_space(e[-1]))
        e--;
    return (size_t)(e - p) == strlen(name) && memcmp(p, name, (size_t)(e - p)) == 0;
}

/* ---- lines, as the parser counts them (\n, \r, \r\n) ---- */

struct line {
    size_t start, end; /* end: past the line break */
};

static struct line *split_lines(const char *t, size_t len, size_t *count)
{
    size_t cap = 64, n = 0;
    struct line *v = malloc(cap * sizeof *v);
    if (!v)
        return NULL;
    size_t i = 0;
    while (i < len) {
        size_t s = i;
        while (i < len && t[i] != '\n' && t[i] != '\r')
            i++;
        if (i < len)
            i += (t[i] == '\r' && i + 1 < len && t[i + 1] == '\n') ? 2 : 1;
        if (n == cap) {
            cap *= 2;
            struct line *w = realloc(v, cap * sizeof *v);
            if (!w) {
                free(v);
                return NULL;
            }
            v = w;
        }
        v[n++] = (struct line){s, i};
    }
    *count = n;
    return v;
}

/* A "[DEFAULT]" header at column 0 (the parser keeps [DEFAULT] out of its section list). */
static bool is_default_header(const char *t, struct line l)
{
    size_t e = l.end;
    while (e > l.start && (t[e - 1] == '\n' || t[e - 1] == '\r' || is_space(t[e - 1])))
        e--;
    if (e - l.start < 3 || t[l.start] != '[')
        return false;
    size_t close = 0;
    for (size_t q = e - 1; q > l.start + 1; q--) {
        if (t[q] == ']') {
            close = q;
            break;
        }
    }
    return close && close - l.start - 1 == 7 && memcmp(t + l.start + 1, "DEFAULT", 7) == 0;
}

/* ---- long-term keys stay out of the copy ---- */

enum { MARK_REPLACED = 1, MARK_KEPT = 2, MARK_DROPPED = 3 };

/* Marks line i dropped, with the indented lines continuing its value. */
static void drop_line(const char *t, const struct line *lines, size_t nlines,
                      unsigned char *mark, size_t i)
{
    mark[i] = MARK_DROPPED;
    while (++i < nlines && !mark[i] && lines[i].end > lines[i].start &&
           is_space(t[lines[i].start]))
        mark[i] = MARK_DROPPED;
}

/* The key a [DEFAULT] line sets, lower-cased as the parser does (configparser: the text
 * before the first '=' or ':', stripped), or false for a comment, blank or indented line. */
static bool line_key(const char *t, struct line l, char *key, size_t cap)
{
    size_t i = l.start, e = l.end;
    if (i == e || is_space(t[i]) || t[i] == '#' || t[i] == ';' || t[i] == '\n' ||
        t[i] == '\r')
        return false;
    size_t d = i;
    while (d < e && t[d] != '=' && t[d] != ':' && t[d] != '\n' && t[d] != '\r')
        d++;
    while (d > i && is_space(t[d - 1]))
        d--;
    if (d == i || d - i >= cap)
        return false;
    for (size_t k = i; k < d; k++) {
        char c = t[k];
        key[k - i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    key[d - i] = '\0';
    return true;
}

/* Marks the lines of every credential key in the copied sections: keys in ~/.aws/config
 * must not reach the tree through the copy any more than those in ~/.aws/credentials do.
 * In [DEFAULT], which botocore merges into every section, the generated ones included,
 * every key that makes a credential source goes too: a role_arn there would turn a served
 * profile back into a role. */
static void drop_key_lines(const struct awsr_ini *ini, const char *t, const struct line *lines,
                          size_t nlines, unsigned char *mark)
{
    for (const struct awsr_section *s = ini->sections; s; s = s->hh.next)
        for (const struct awsr_kv *kv = s->keys; kv; kv = kv->hh.next)
            if (IN_LIST(kv->key, key_names) && kv->line >= 1 && kv->line <= nlines)
                drop_line(t, lines, nlines, mark, kv->line - 1);
    /* [DEFAULT] runs from its header to the next header (the lines marked already). */
    bool in_default = false;
    for (size_t i = 0; i < nlines; i++) {
        char key[64];
        if (mark[i] == MARK_REPLACED || mark[i] == MARK_KEPT)
            in_default = is_default_header(t, lines[i]);
        else if (in_default && !mark[i] && line_key(t, lines[i], key, sizeof key) &&
                 makes_source(key))
            drop_line(t, lines, nlines, mark, i);
    }
}

/* ---- one generated section ---- */

static void write_value(struct awsr_strbuf *b, const char *key, const char *value)
{
    awsr_strbuf_adds(b, key);
    awsr_strbuf_adds(b, " =");
    const char *p = value;
    bool first = true;
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (first) {
            if (n) {
                awsr_strbuf_adds(b, " ");
                awsr_strbuf_add(b, p, n);
            }
        } else {
            awsr_strbuf_adds(b, "\n");
            if (n) {
                awsr_strbuf_adds(b, "    ");
                awsr_strbuf_add(b, p, n);
            }
        }
        first = false;
        if (!nl)
            break;
        p = nl + 1;
    }
    awsr_strbuf_adds(b, "\n");
}

static void write_section(struct awsr_strbuf *b, const char *name, const char *region,
                          const struct awsr_section *orig, const char *launcher, bool with_process)
{
    if (strcmp(name, "default") == 0)
        awsr_strbuf_adds(b, "\n[default]\n");
    else {
        awsr_strbuf_adds(b, "\n[profile ");
        awsr_strbuf_adds(b, name);
        awsr_strbuf_adds(b, "]\n");
    }
    if (region)
        write_value(b, "region", region);
    for (const struct awsr_kv *kv = orig ? orig->keys : NULL; kv; kv = kv->hh.next) {
        if ((region && strcmp(kv->key, "region") == 0) || is_source_key(kv->key) ||
            !kv->value)
            continue;
        write_value(b, kv->key, kv->value);
    }
    if (with_process) {
        awsr_strbuf_adds(b, "credential_process = ");
        awsr_strbuf_adds(b, launcher);
        awsr_strbuf_adds(b, " --export --format process --profile ");
        awsr_strbuf_adds(b, name);
        awsr_strbuf_adds(b, "\n");
    }
}

/* ---- the copy ---- */

struct served_state {
    const struct awsr_genconfig_profile *p; /* NULL for server mode's own [default] */
    const char *name;
    const struct awsr_section *orig;        /* the last section naming it */
    bool with_process;
    bool skip;                              /* unsafe or duplicate name */
};

int awsr_genconfig_render(const char *user_text, size_t user_len, const char *user_path,
                          const struct awsr_genconfig_opts *o, char **out, size_t *outlen,
                          struct awsr_error *err)
{
    *out = NULL;
    const char *text = user_text ? user_text : "";
    size_t len = user_text ? user_len : 0;
    char *launcher = quote_launcher(o->launcher ? o->launcher : "");
    if (!launcher)
        return awsr_error_set(err, AWSR_E_OTHER,
                              "the launcher's path cannot be written in a credential_process line");
    struct awsr_ini *ini = NULL;
    if (awsr_ini_parse(text, len, user_path, &ini, err) < 0) {
        free(launcher);
        return -1;
    }
    size_t nlines = 0;
    struct line *lines = len ? split_lines(text, len, &nlines) : NULL;
    /* Per line: MARK_* (0: copy as the section goes). */
    unsigned char *mark = calloc(nlines + 1, 1);
    struct served_state *st = calloc(o->nserved + 1, sizeof *st);
    /* Copy-and-wipe growth: the user's config may hold keys of other profiles. */
    struct awsr_strbuf b = AWSR_STRBUF_SECURE_INIT;
    int rc = -1;
    if ((len && !lines) || !mark || !st) {
        awsr_error_set(err, AWSR_E_OTHER, "out of memory");
        goto out;
    }

    size_t nst = 0;
    bool default_done = false;
    for (size_t i = 0; i < o->nserved; i++) {
        const char *name = o->served[i].name;
        bool skip = !awsr_genconfig_name_ok(name);
        for (size_t j = 0; j < nst && !skip; j++)
            skip = st[j].name && strcmp(st[j].name, name) == 0;
        st[nst++] = (struct served_state){.p = &o->served[i], .name = name, .skip = skip,
                                          .with_process = !(o->server_mode &&
                                                            strcmp(name, "default") == 0)};
        if (!skip && strcmp(name, "default") == 0)
            default_done = true;
    }
    if (o->server_mode && !default_done)
        st[nst++] = (struct served_state){.name = "default", .with_process = false};

    for (const struct awsr_section *s = ini->sections; s; s = s->hh.next) {
        bool replaced = false;
        for (size_t j = 0; j < nst; j++) {
            if (!st[j].skip && section_is_profile(s->name, st[j].name)) {
                st[j].orig = s;
                replaced = true;
            }
        }
        if (s->line >= 1 && s->line <= nlines)
            mark[s->line - 1] = replaced ? MARK_REPLACED : MARK_KEPT;
    }
    for (size_t i = 0; i < nlines; i++)
        if (!mark[i] && is_default_header(text, lines[i]))
            mark[i] = MARK_KEPT;
    drop_key_lines(ini, text, lines, nlines, mark);

    awsr_strbuf_adds(&b, "# awsrole-run: a private copy of ");
    awsr_strbuf_adds(&b, user_path && *user_path ? "the AWS config" : "an empty AWS config");
    awsr_strbuf_adds(&b, " for one process tree, removed when the run\n"
             "# ends. Served profiles (at the end) get their credentials from the tree.\n");
    bool copying = true;
    for (size_t i = 0; i < nlines; i++) {
        if (mark[i] == MARK_REPLACED || mark[i] == MARK_KEPT)
            copying = mark[i] == MARK_KEPT;
        if (copying && mark[i] != MARK_DROPPED)
            awsr_strbuf_add(&b, text + lines[i].start, lines[i].end - lines[i].start);
    }
    if (b.len && b.p[b.len - 1] != '\n' && b.p[b.len - 1] != '\r')
        awsr_strbuf_adds(&b, "\n");
    awsr_strbuf_adds(&b, "\n# ---- profiles served by this awsrole-run tree ----\n");
    for (size_t j = 0; j < nst; j++) {
        if (st[j].skip)
            continue;
        const char *region = st[j].p ? st[j].p->region : NULL;
        write_section(&b, st[j].name, region, st[j].orig, launcher, st[j].with_process);
    }
    if (!(*out = awsr_strbuf_steal(&b, outlen))) {
        awsr_error_set(err, AWSR_E_OTHER, "out of memory");
        goto out;
    }
    rc = 0;
out:
    awsr_strbuf_wipe(&b);
    free(st);
    free(mark);
    free(lines);
    awsr_ini_free(ini);
    free(launcher);
    return rc;
}

/* ---- files ---- */

static int read_user_config(const char *path, char **text, size_t *len, struct awsr_error *err)
{
    *text = NULL;
    *len = 0;
    if (!path)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* a missing or unreadable file counts as empty, as for the resolver */
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return 0;
    }
    if (sb.st_size > MAX_CONFIG_SIZE) {
        close(fd);
        return awsr_error_set(err, AWSR_E_CONFIG, "%s is larger than 16 MiB", path);
    }
    char *p = malloc((size_t)sb.st_size + 1);
    if (!p) {
        close(fd);
        return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    }
    size_t n = awsr_read_upto(fd, p, (size_t)sb.st_size);
    close(fd);
    p[n] = '\0';
    *text = p;
    *len = n;
    return 0;
}

int awsr_genconfig_write(const char *dir, const char *user_path,
                         const struct awsr_genconfig_opts *opts, char **path_out,
                         struct awsr_error *err)
{
    *path_out = NULL;
    char *user = NULL, *text = NULL, *path = NULL;
    size_t ulen = 0, tlen = 0;
    if (read_user_config(user_path, &user, &ulen, err) < 0)
        return -1;
    int rc = awsr_genconfig_render(user, ulen, user_path, opts, &text, &tlen, err);
    if (user) {
        explicit_bzero(user, ulen);
        free(user);
    }
    if (rc < 0)
        return -1;
    rc = -1;
    if (asprintf(&path, "%s/%s", dir, AWSR_GENCONFIG_NAME) < 0) {
        path = NULL;
        awsr_error_set(err, AWSR_E_OTHER, "out of memory");
        goto out;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        awsr_error_set(err, AWSR_E_OTHER, "cannot create %s: %s", path, strerror(errno));
        goto out;
    }
    int wrc = awsr_write_all(fd, text, tlen);
    int e = errno;
    if (close(fd) < 0 || wrc != 0) {
        unlink(path);
        awsr_error_set(err, AWSR_E_OTHER, "cannot write %s: %s", path, strerror(e));
        goto out;
    }
    *path_out = path;
    path = NULL;
    rc = 0;
out:
    free(path);
    explicit_bzero(text, tlen);
    free(text);
    return rc;
}
