/* config.c - ~/.aws/config and ~/.aws/credentials, parsed as botocore parses them.
 *
 * The INI layer copies CPython's RawConfigParser(strict=True) line by line (universal
 * newlines, Unicode str.strip(), first '=' or ':' splits, lower-cased keys, continuation
 * lines by indentation, [DEFAULT] merged into every section), then botocore's
 * raw_config_parse (values starting with a newline become one level of sub-keys),
 * build_profile_map (shlex-split "profile X" headers) and session.full_config (the
 * credentials file updates the config file's profiles key by key). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <wctype.h>

#define MAX_FILE_SIZE (16u * 1024u * 1024u)

/* ---------- small growable string ---------- */

struct sbuf {
    char *p;
    size_t len, cap;
};

static int sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static void sb_wipe(struct sbuf *b)
{
    if (b->p) {
        explicit_bzero(b->p, b->cap);
        free(b->p);
    }
    memset(b, 0, sizeof *b);
}

/* ---------- UTF-8 and Python's notion of whitespace ---------- */

/* Decodes one strict UTF-8 sequence (as Python's codec: no overlongs, no surrogates,
 * nothing above U+10FFFF). Returns its length, 0 when invalid. */
static size_t u8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2, c = s[0] & 0x1F, min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3, c = s[0] & 0x0F, min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/* str.isspace() */
static bool py_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Byte length of the whitespace character at [p, e), or 0. Text is valid UTF-8. */
static size_t space_at(const char *p, const char *e)
{
    uint32_t c;
    size_t n = u8_decode((const unsigned char *)p, (size_t)(e - p), &c);
    return n && py_space(c) ? n : 0;
}

static const char *lstrip(const char *b, const char *e)
{
    size_t n;
    while (b < e && (n = space_at(b, e)) > 0)
        b += n;
    return b;
}

static const char *rstrip(const char *b, const char *e)
{
    while (e > b) {
        const char *s = e - 1;
        while (s > b && ((unsigned char)*s & 0xC0) == 0x80 && e - s < 4)
            s--;
        if (space_at(s, e) != (size_t)(e - s))
            break;
        e = s;
    }
    return e;
}

/* Leading whitespace counted in code points, as NONSPACECRE.search(line).start(). */
static size_t indent_of(const char *b, const char *e)
{
    size_t n, count = 0;
    while (b < e && (n = space_at(b, e)) > 0) {
        b += n;
        count++;
    }
    return count;
}

static int u8_encode(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* str.lower() (optionxform). Non-ASCII letters go through the C.UTF-8 locale's simple
 * case mapping; U+0130 gets Python's full mapping "i\u0307". */
static char *py_lower(const char *s, size_t n, locale_t loc)
{
    char *out = malloc(n * 2 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x80) {
            out[o++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
            i++;
            continue;
        }
        uint32_t c;
        size_t len = u8_decode((const unsigned char *)s + i, n - i, &c);
        if (len == 0) { /* cannot happen: text was validated */
            out[o++] = (char)ch;
            i++;
            continue;
        }
        i += len;
        if (c == 0x130) {
            out[o++] = 'i';
            o += (size_t)u8_encode(0x307, out + o);
            continue;
        }
        if (loc != (locale_t)0)
            c = (uint32_t)towlower_l((wint_t)c, loc);
        o += (size_t)u8_encode(c, out + o);
    }
    out[o] = '\0';
    return out;
}

/* ---------- tables ---------- */

static void kv_free_table(struct awsr_kv **table)
{
    struct awsr_kv *kv, *tmp;
    HASH_ITER(hh, *table, kv, tmp) {
        HASH_DEL(*table, kv);
        kv_free_table(&kv->sub);
        free(kv->key);
        if (kv->value) {
            explicit_bzero(kv->value, strlen(kv->value));
            free(kv->value);
        }
        free(kv);
    }
    *table = NULL;
}

static void section_free(struct awsr_section *s)
{
    if (!s)
        return;
    kv_free_table(&s->keys);
    free(s->name);
    free(s);
}

static void section_free_table(struct awsr_section **table)
{
    struct awsr_section *s, *tmp;
    HASH_ITER(hh, *table, s, tmp) {
        HASH_DEL(*table, s);
        section_free(s);
    }
    *table = NULL;
}

static struct awsr_kv *kv_new(const char *key, size_t keylen, const char *value, unsigned line)
{
    struct awsr_kv *kv = calloc(1, sizeof *kv);
    if (!kv)
        return NULL;
    kv->key = strndup(key, keylen);
    kv->value = value ? strdup(value) : NULL;
    kv->line = line;
    if (!kv->key || (value && !kv->value)) {
        free(kv->key);
        free(kv->value);
        free(kv);
        return NULL;
    }
    return kv;
}

static int kv_copy_table(const struct awsr_kv *src, struct awsr_kv **dst)
{
    *dst = NULL;
    for (const struct awsr_kv *kv = src; kv; kv = kv->hh.next) {
        struct awsr_kv *n = kv_new(kv->key, strlen(kv->key), kv->value, kv->line);
        if (!n || kv_copy_table(kv->sub, &n->sub) < 0) {
            if (n) {
                struct awsr_kv *one = n;
                kv_free_table(&one->sub);
                free(n->key);
                free(n->value);
                free(n);
            }
            kv_free_table(dst);
            return -1;
        }
        HASH_ADD_KEYPTR(hh, *dst, n->key, strlen(n->key), n);
    }
    return 0;
}

/* dict.update: an existing key keeps its position, its value is replaced. */
static int kv_update(struct awsr_kv **dst, const struct awsr_kv *kv)
{
    struct awsr_kv *old = NULL;
    HASH_FIND_STR(*dst, kv->key, old);
    struct awsr_kv *n = kv_new(kv->key, strlen(kv->key), kv->value, kv->line);
    if (!n || kv_copy_table(kv->sub, &n->sub) < 0) {
        if (n) {
            free(n->key);
            free(n->value);
            free(n);
        }
        return -1;
    }
    if (old) {
        char *v = old->value;
        kv_free_table(&old->sub);
        old->value = n->value;
        old->sub = n->sub;
        old->line = n->line;
        n->value = NULL;
        n->sub = NULL;
        if (v) {
            explicit_bzero(v, strlen(v));
            free(v);
        }
        free(n->key);
        free(n);
        return 0;
    }
    HASH_ADD_KEYPTR(hh, *dst, n->key, strlen(n->key), n);
    return 0;
}

const struct awsr_kv *awsr_kv_find(const struct awsr_kv *table, const char *key)
{
    struct awsr_kv *kv = NULL;
    if (!table || !key)
        return NULL;
    HASH_FIND_STR(table, key, kv);
    return kv;
}

void awsr_ini_free(struct awsr_ini *ini)
{
    if (!ini)
        return;
    section_free_table(&ini->sections);
    free(ini->path);
    free(ini);
}

/* ---------- the INI parser ---------- */

struct parser {
    const char *path;
    struct awsr_error *err;
    locale_t loc;
    struct awsr_ini *ini;
    struct awsr_section *defaults; /* [DEFAULT], not in ini->sections */
    struct awsr_section *cur;      /* NULL before the first header */
    struct awsr_kv *opt;           /* the option that continuation lines extend */
    struct sbuf val;               /* its value so far, pieces joined by '\n' */
    size_t indent_level;
    unsigned lineno;
};

static int parse_fail(struct parser *ps, unsigned line, const char *why, const char *name)
{
    if (name)
        return awsr_error_set(ps->err, AWSR_E_CONFIG,
                              "Unable to parse config file: %s (line %u: %s '%s')", ps->path,
                              line, why, name);
    return awsr_error_set(ps->err, AWSR_E_CONFIG, "Unable to parse config file: %s (line %u: %s)",
                          ps->path, line, why);
}

static int oom(struct awsr_error *err)
{
    return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
}

/* _join_multiline_values: '\n'.join(pieces).rstrip(); pieces are stripped already, so
 * only trailing newlines can remain. */
static int finish_option(struct parser *ps)
{
    if (!ps->opt)
        return 0;
    size_t n = ps->val.len;
    while (n > 0 && ps->val.p[n - 1] == '\n')
        n--;
    ps->opt->value = strndup(ps->val.p ? ps->val.p : "", n);
    if (ps->val.p)
        explicit_bzero(ps->val.p, ps->val.len);
    ps->val.len = 0;
    bool ok = ps->opt->value != NULL;
    ps->opt = NULL;
    return ok ? 0 : -1;
}

static int handle_header(struct parser *ps, const char *name, size_t len)
{
    if (finish_option(ps) < 0)
        return oom(ps->err);
    if (len == 7 && memcmp(name, "DEFAULT", 7) == 0) {
        ps->cur = ps->defaults;
        return 0;
    }
    struct awsr_section *s = NULL;
    HASH_FIND(hh, ps->ini->sections, name, len, s);
    if (s) {
        char *copy = strndup(name, len);
        parse_fail(ps, ps->lineno, "duplicate section", copy ? copy : "");
        free(copy);
        return -1;
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->name = strndup(name, len))) {
        free(s);
        return oom(ps->err);
    }
    s->line = ps->lineno;
    HASH_ADD_KEYPTR(hh, ps->ini->sections, s->name, len, s);
    ps->cur = s;
    return 0;
}

static int handle_option(struct parser *ps, const char *b, const char *e)
{
    const char *d = b;
    while (d < e && *d != '=' && *d != ':')
        d++;
    if (d == e)
        return parse_fail(ps, ps->lineno, "no '=' or ':' in a line that is not a section header",
                          NULL);
    const char *ke = rstrip(b, d);
    if (ke == b)
        return parse_fail(ps, ps->lineno, "empty key name", NULL);
    if (finish_option(ps) < 0)
        return oom(ps->err);
    char *key = py_lower(b, (size_t)(ke - b), ps->loc);
    if (!key)
        return oom(ps->err);
    struct awsr_kv *kv = NULL;
    HASH_FIND_STR(ps->cur->keys, key, kv);
    if (kv) {
        parse_fail(ps, ps->lineno, "duplicate key", key);
        free(key);
        return -1;
    }
    kv = calloc(1, sizeof *kv);
    if (!kv) {
        free(key);
        return oom(ps->err);
    }
    kv->key = key;
    kv->line = ps->lineno;
    HASH_ADD_KEYPTR(hh, ps->cur->keys, kv->key, strlen(kv->key), kv);
    const char *vb = lstrip(d + 1, e);
    ps->val.len = 0;
    if (sb_add(&ps->val, vb, (size_t)(e - vb)) < 0)
        return oom(ps->err);
    ps->opt = kv;
    return 0;
}

static int parse_line(struct parser *ps, const char *lb, const char *le)
{
    const char *b = lstrip(lb, le);
    const char *e = rstrip(b, le);
    if (b == e) {
        /* A blank line inside a value is kept (empty_lines_in_values). */
        if (ps->cur && ps->opt && sb_add(&ps->val, "\n", 1) < 0)
            return oom(ps->err);
        return 0;
    }
    if (*b == '#' || *b == ';')
        return 0;
    size_t indent = indent_of(lb, le);
    if (ps->cur && ps->opt && indent > ps->indent_level) {
        if (sb_add(&ps->val, "\n", 1) < 0 || sb_add(&ps->val, b, (size_t)(e - b)) < 0)
            return oom(ps->err);
        return 0;
    }
    ps->indent_level = indent;
    if (*b == '[') {
        /* \[(?P<header>.+)\] matched at the start, greedy to the last ']'. */
        const char *close = NULL;
        for (const char *q = e - 1; q > b + 1; q--) {
            if (*q == ']') {
                close = q;
                break;
            }
        }
        if (close)
            return handle_header(ps, b + 1, (size_t)(close - b - 1));
    }
    if (!ps->cur)
        return parse_fail(ps, ps->lineno, "text before the first section header", NULL);
    return handle_option(ps, b, e);
}

/* str.splitlines() boundaries other than "\r\n": \n \r \v \f \x1c \x1d \x1e \x85 \u2028
 * \u2029. Returns the byte length of the boundary at p, 0 when none. */
static size_t line_break_at(const char *p, const char *e)
{
    unsigned char c = (unsigned char)*p;
    if (c == '\r')
        return (p + 1 < e && p[1] == '\n') ? 2 : 1;
    if (c == '\n' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E))
        return 1;
    uint32_t cp;
    size_t n = u8_decode((const unsigned char *)p, (size_t)(e - p), &cp);
    if (n > 1 && (cp == 0x85 || cp == 0x2028 || cp == 0x2029))
        return n;
    return 0;
}

/* botocore's _parse_nested: one level of "key = value" lines, later keys win. */
static int parse_nested(struct parser *ps, struct awsr_kv *kv)
{
    const char *p = kv->value, *end = kv->value + strlen(kv->value);
    while (p < end) {
        const char *le = p;
        size_t br = 0;
        while (le < end && (br = line_break_at(le, end)) == 0)
            le++;
        const char *b = lstrip(p, le), *e = rstrip(b, le);
        p = le < end ? le + br : end;
        if (b == e)
            continue;
        const char *eq = memchr(b, '=', (size_t)(e - b));
        if (!eq)
            return parse_fail(ps, kv->line, "nested line without '=' in the value of", kv->key);
        const char *ke = rstrip(b, eq), *vb = lstrip(eq + 1, e);
        char *value = strndup(vb, (size_t)(e - vb));
        if (!value)
            return oom(ps->err);
        struct awsr_kv *sub = NULL;
        HASH_FIND(hh, kv->sub, b, (size_t)(ke - b), sub);
        if (sub) {
            explicit_bzero(sub->value, strlen(sub->value));
            free(sub->value);
            sub->value = value;
            continue;
        }
        sub = kv_new(b, (size_t)(ke - b), NULL, kv->line);
        if (!sub) {
            free(value);
            return oom(ps->err);
        }
        sub->value = value;
        HASH_ADD_KEYPTR(hh, kv->sub, sub->key, strlen(sub->key), sub);
    }
    return 0;
}

/* First invalid UTF-8 sequence or NUL byte; Python refuses the first while decoding. */
static int check_text(struct parser *ps, const char *text, size_t len)
{
    unsigned line = 1;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n' || (c == '\r' && !(i + 1 < len && text[i + 1] == '\n')))
            line++;
        if (c == 0)
            return parse_fail(ps, line, "NUL byte", NULL);
        if (c < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = u8_decode((const unsigned char *)text + i, len - i, &cp);
        if (n == 0)
            return parse_fail(ps, line, "invalid UTF-8", NULL);
        i += n;
    }
    return 0;
}

/* cp.options(section): the section's keys, then [DEFAULT] keys it lacks; then nested
 * values parsed (raw_config_parse). */
static int finish_sections(struct parser *ps)
{
    for (struct awsr_section *s = ps->ini->sections; s; s = s->hh.next) {
        for (struct awsr_kv *d = ps->defaults->keys; d; d = d->hh.next) {
            if (awsr_kv_find(s->keys, d->key))
                continue;
            struct awsr_kv *n = kv_new(d->key, strlen(d->key), d->value, d->line);
            if (!n)
                return oom(ps->err);
            HASH_ADD_KEYPTR(hh, s->keys, n->key, strlen(n->key), n);
        }
        for (struct awsr_kv *kv = s->keys; kv; kv = kv->hh.next)
            if (kv->value[0] == '\n' && parse_nested(ps, kv) < 0)
                return -1;
    }
    return 0;
}

int awsr_ini_parse(const char *text, size_t len, const char *path, struct awsr_ini **out,
                   struct awsr_error *err)
{
    *out = NULL;
    struct parser ps = {.path = path ? path : "", .err = err};
    ps.ini = calloc(1, sizeof *ps.ini);
    ps.defaults = calloc(1, sizeof *ps.defaults);
    if (!ps.ini || !ps.defaults || (path && !(ps.ini->path = strdup(path)))) {
        free(ps.ini);
        free(ps.defaults);
        return oom(err);
    }
    int rc = check_text(&ps, text ? text : "", text ? len : 0);
    if (rc == 0) {
        /* Loading C.UTF-8 maps a 350 KB table: only a text with non-ASCII bytes can need
         * it (py_lower), most configs are ASCII. */
        bool ascii = true;
        for (size_t i = 0; ascii && i < len; i++)
            ascii = (unsigned char)text[i] < 0x80;
        ps.loc = ascii ? (locale_t)0 : newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
        const char *p = text, *end = text + len;
        while (rc == 0 && p < end) {
            const char *le = p;
            while (le < end && *le != '\n' && *le != '\r')
                le++;
            ps.lineno++;
            rc = parse_line(&ps, p, le);
            if (le < end && *le == '\r' && le + 1 < end && le[1] == '\n')
                le++;
            p = le < end ? le + 1 : end;
        }
        if (rc == 0 && finish_option(&ps) < 0)
            rc = oom(err);
        if (rc == 0)
            rc = finish_sections(&ps);
        if (ps.loc != (locale_t)0)
            freelocale(ps.loc);
    }
    if (rc < 0) {
        /* The option being read when the parse stopped has no value yet (NULL is fine). */
        sb_wipe(&ps.val);
        section_free(ps.defaults);
        awsr_ini_free(ps.ini);
        return -1;
    }
    sb_wipe(&ps.val);
    section_free(ps.defaults);
    *out = ps.ini;
    return 0;
}

/* ---------- botocore's profile map ---------- */

/* shlex.split(s) (posix, whitespace_split, no comments). Returns the number of parts
 * (counting stops at 3), -1 on a ValueError (unbalanced quote, trailing backslash);
 * *second receives a malloc'd copy of the second part. */
static int shlex_two(const char *s, char **second)
{
    const char *ws = " \t\r\n";
    struct sbuf tok = {0};
    int count = 0;
    char state = ' ', escaped_state = 'a';
    bool quoted = false, have = false;
    *second = NULL;
    for (const char *p = s;; p++) {
        char c = *p;
        if (state == ' ' || state == 'a') {
            if (!c || strchr(ws, c)) {
                if (have || quoted || tok.len) {
                    if (++count == 2 && !(*second = strndup(tok.p ? tok.p : "", tok.len)))
                        goto fail;
                    tok.len = 0;
                    have = quoted = false;
                    if (count > 2)
                        break;
                }
                state = ' ';
                if (!c)
                    break;
            } else if (c == '\\') {
                escaped_state = 'a';
                state = '\\';
            } else if (c == '"' || c == '\'') {
                state = c;
                have = true;
            } else {
                if (sb_add(&tok, &c, 1) < 0)
                    goto fail;
                have = true;
                state = 'a';
            }
        } else if (state == '"' || state == '\'') {
            quoted = true;
            if (!c)
                goto fail;
            if (c == state) {
                state = 'a';
            } else if (c == '\\' && state == '"') {
                escaped_state = state;
                state = '\\';
            } else if (sb_add(&tok, &c, 1) < 0) {
                goto fail;
            }
        } else { /* escape */
            if (!c)
                goto fail;
            if ((escaped_state == '"' || escaped_state == '\'') && c != '\\' &&
                c != escaped_state && sb_add(&tok, "\\", 1) < 0)
                goto fail;
            if (sb_add(&tok, &c, 1) < 0)
                goto fail;
            have = true;
            state = escaped_state;
        }
    }
    sb_wipe(&tok);
    return count;
fail:
    sb_wipe(&tok);
    free(*second);
    *second = NULL;
    return -1;
}

static void profile_free(struct awsr_profile *p)
{
    if (!p)
        return;
    kv_free_table(&p->keys);
    kv_free_table(&p->cfg_keys);
    kv_free_table(&p->cred_keys);
    free(p->name);
    free(p);
}

/* profiles[name] = section: a later section replaces the earlier one wholesale but keeps
 * its place (dict assignment). */
static int put_profile(struct awsr_config *cfg, const char *name, const struct awsr_section *s)
{
    struct awsr_kv *keys = NULL, *cfg_keys = NULL;
    if (kv_copy_table(s->keys, &keys) < 0 || kv_copy_table(s->keys, &cfg_keys) < 0) {
        kv_free_table(&keys);
        return -1;
    }
    struct awsr_profile *p = NULL;
    HASH_FIND_STR(cfg->profiles, name, p);
    if (p) {
        kv_free_table(&p->keys);
        kv_free_table(&p->cfg_keys);
    } else {
        p = calloc(1, sizeof *p);
        if (!p || !(p->name = strdup(name))) {
            free(p);
            kv_free_table(&keys);
            kv_free_table(&cfg_keys);
            return -1;
        }
        HASH_ADD_KEYPTR(hh, cfg->profiles, p->name, strlen(p->name), p);
    }
    p->keys = keys;
    p->cfg_keys = cfg_keys;
    return 0;
}

static int put_section(struct awsr_section **table, const char *name,
                       const struct awsr_section *s)
{
    struct awsr_kv *keys = NULL;
    if (kv_copy_table(s->keys, &keys) < 0)
        return -1;
    struct awsr_section *n = NULL;
    HASH_FIND_STR(*table, name, n);
    if (n) {
        kv_free_table(&n->keys);
    } else {
        n = calloc(1, sizeof *n);
        if (!n || !(n->name = strdup(name))) {
            free(n);
            kv_free_table(&keys);
            return -1;
        }
        HASH_ADD_KEYPTR(hh, *table, n->name, strlen(n->name), n);
    }
    n->keys = keys;
    n->line = s->line;
    return 0;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int map_config(struct awsr_config *cfg, const struct awsr_ini *ini)
{
    for (const struct awsr_section *s = ini->sections; s; s = s->hh.next) {
        struct awsr_section **table = NULL;
        bool is_profile = false;
        if (starts_with(s->name, "profile"))
            is_profile = true;
        else if (starts_with(s->name, "sso-session"))
            table = &cfg->sso_sessions;
        else if (starts_with(s->name, "services"))
            table = &cfg->services;
        else if (strcmp(s->name, "default") == 0) {
            if (put_profile(cfg, "default", s) < 0)
                return -1;
            continue;
        } else {
            continue; /* a non-profile section: not used for credentials */
        }
        char *name = NULL;
        int parts = shlex_two(s->name, &name);
        if (parts == 2) {
            int rc = is_profile ? put_profile(cfg, name, s) : put_section(table, name, s);
            free(name);
            if (rc < 0)
                return -1;
        } else {
            free(name);
        }
    }
    return 0;
}

static int merge_credentials(struct awsr_config *cfg, const struct awsr_ini *ini)
{
    for (const struct awsr_section *s = ini->sections; s; s = s->hh.next) {
        struct awsr_profile *p = NULL;
        HASH_FIND_STR(cfg->profiles, s->name, p);
        if (!p) {
            p = calloc(1, sizeof *p);
            if (!p || !(p->name = strdup(s->name))) {
                free(p);
                return -1;
            }
            HASH_ADD_KEYPTR(hh, cfg->profiles, p->name, strlen(p->name), p);
        }
        if (kv_copy_table(s->keys, &p->cred_keys) < 0)
            return -1;
        for (const struct awsr_kv *kv = s->keys; kv; kv = kv->hh.next)
            if (kv_update(&p->keys, kv) < 0)
                return -1;
    }
    return 0;
}

void awsr_config_free(struct awsr_config *cfg)
{
    if (!cfg)
        return;
    struct awsr_profile *p, *tmp;
    HASH_ITER(hh, cfg->profiles, p, tmp) {
        HASH_DEL(cfg->profiles, p);
        profile_free(p);
    }
    section_free_table(&cfg->services);
    section_free_table(&cfg->sso_sessions);
    free(cfg->config_path);
    free(cfg->credentials_path);
    free(cfg);
}

int awsr_config_parse(const char *cfg_text, size_t cfg_len, const char *cfg_path,
                      const char *cred_text, size_t cred_len, const char *cred_path,
                      struct awsr_config **out, struct awsr_error *err)
{
    *out = NULL;
    struct awsr_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return oom(err);
    if ((cfg_path && !(cfg->config_path = strdup(cfg_path))) ||
        (cred_path && !(cfg->credentials_path = strdup(cred_path)))) {
        awsr_config_free(cfg);
        return oom(err);
    }
    cfg->config_found = cfg_text != NULL;
    cfg->credentials_found = cred_text != NULL;
    struct awsr_ini *ini = NULL;
    if (cfg_text) {
        if (awsr_ini_parse(cfg_text, cfg_len, cfg_path, &ini, err) < 0) {
            awsr_config_free(cfg);
            return -1;
        }
        int rc = map_config(cfg, ini);
        awsr_ini_free(ini);
        if (rc < 0) {
            awsr_config_free(cfg);
            return oom(err);
        }
    }
    if (cred_text) {
        if (awsr_ini_parse(cred_text, cred_len, cred_path, &ini, err) < 0) {
            awsr_config_free(cfg);
            return -1;
        }
        int rc = merge_credentials(cfg, ini);
        awsr_ini_free(ini);
        if (rc < 0) {
            awsr_config_free(cfg);
            return oom(err);
        }
    }
    *out = cfg;
    return 0;
}

/* ---------- files and paths ---------- */

/* os.path.expandvars: $NAME or ${NAME} ([A-Za-z0-9_]+ for the bare form); unknown
 * variables stay as written; substituted text is not expanded again. */
static int expand_vars(const char *path, struct sbuf *out)
{
    const char *p = path;
    while (*p) {
        const char *dollar = strchr(p, '$');
        if (!dollar)
            return sb_add(out, p, strlen(p));
        if (sb_add(out, p, (size_t)(dollar - p)) < 0)
            return -1;
        const char *name = dollar + 1, *name_end, *next;
        if (*name == '{') {
            const char *close = strchr(name + 1, '}');
            if (!close) {
                if (sb_add(out, "$", 1) < 0)
                    return -1;
                p = dollar + 1;
                continue;
            }
            name_end = close;
            name++;
            next = close + 1;
        } else {
            name_end = name;
            while ((*name_end >= 'A' && *name_end <= 'Z') || (*name_end >= 'a' && *name_end <= 'z') ||
                   (*name_end >= '0' && *name_end <= '9') || *name_end == '_')
                name_end++;
            if (name_end == name) {
                if (sb_add(out, "$", 1) < 0)
                    return -1;
                p = dollar + 1;
                continue;
            }
            next = name_end;
        }
        char *var = strndup(name, (size_t)(name_end - name));
        if (!var)
            return -1;
        const char *value = getenv(var);
        free(var);
        if (value) {
            if (sb_add(out, value, strlen(value)) < 0)
                return -1;
        } else if (sb_add(out, dollar, (size_t)(next - dollar)) < 0) {
            return -1;
        }
        p = next;
    }
    return sb_add(out, "", 0);
}

/* os.path.expanduser */
static char *expand_user(const char *path)
{
    if (path[0] != '~')
        return strdup(path);
    const char *slash = strchr(path + 1, '/');
    size_t i = slash ? (size_t)(slash - path) : strlen(path);
    const char *home = NULL;
    if (i == 1) {
        home = getenv("HOME");
        if (!home) {
            struct passwd *pw = getpwuid(getuid());
            if (!pw || !pw->pw_dir)
                return strdup(path);
            home = pw->pw_dir;
        }
    } else {
        char *user = strndup(path + 1, i - 1);
        if (!user)
            return NULL;
        struct passwd *pw = getpwnam(user);
        free(user);
        if (!pw || !pw->pw_dir)
            return strdup(path);
        home = pw->pw_dir;
    }
    size_t hl = strlen(home);
    while (hl > 0 && home[hl - 1] == '/')
        hl--;
    const char *rest = path + i;
    if (hl == 0 && !*rest)
        return strdup("/");
    char *out = malloc(hl + strlen(rest) + 1);
    if (!out)
        return NULL;
    memcpy(out, home, hl);
    strcpy(out + hl, rest);
    return out;
}

char *awsr_expand_path(const char *path)
{
    if (!path)
        return NULL;
    struct sbuf b = {0};
    if (expand_vars(path, &b) < 0) {
        free(b.p);
        return NULL;
    }
    char *out = expand_user(b.p ? b.p : "");
    free(b.p);
    return out;
}

/* Reads a regular file. *text stays NULL when the file is missing or not regular. */
static int read_file(const char *path, char **text, size_t *len, struct awsr_error *err)
{
    *text = NULL;
    *len = 0;
    struct stat st;
    /* Raw system calls: a launcher started inside an awsrole-run tree has the preload
     * library loaded, which would show it the tree's synthesized credentials file instead
     * of the user's real one. */
    if (!path || !*path || syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) < 0 ||
        !S_ISREG(st.st_mode))
        return 0;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return awsr_error_set(err, AWSR_E_CONFIG, "Unable to read config file: %s (%s)", path,
                              strerror(errno));
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    if ((uintmax_t)st.st_size > MAX_FILE_SIZE) {
        close(fd);
        return awsr_error_set(err, AWSR_E_CONFIG,
                              "Refusing to read config file: %s (larger than 16 MiB)", path);
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return oom(err);
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > MAX_FILE_SIZE) {
                explicit_bzero(buf, n);
                free(buf);
                close(fd);
                return awsr_error_set(err, AWSR_E_CONFIG,
                                      "Refusing to read config file: %s (larger than 16 MiB)",
                                      path);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                explicit_bzero(buf, n);
                free(buf);
                close(fd);
                return oom(err);
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            explicit_bzero(buf, n);
            free(buf);
            close(fd);
            return awsr_error_set(err, AWSR_E_CONFIG, "Unable to read config file: %s (%s)",
                                  path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

/* The variable's value if present (an empty value means "no file"), else the default. */
static int file_path(const char *var, const char *fallback, char **out)
{
    const char *v = getenv(var);
    *out = NULL;
    if (v && !*v)
        return 0;
    *out = awsr_expand_path(v ? v : fallback);
    return *out ? 0 : -1;
}

static void free_text(char *t, size_t n)
{
    if (t) {
        explicit_bzero(t, n);
        free(t);
    }
}

int awsr_config_load(struct awsr_config **out, struct awsr_error *err)
{
    *out = NULL;
    char *cfg_path = NULL, *cred_path = NULL, *cfg_text = NULL, *cred_text = NULL;
    size_t cfg_len = 0, cred_len = 0;
    int rc = -1;
    if (file_path("AWS_CONFIG_FILE", "~/.aws/config", &cfg_path) < 0 ||
        file_path("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", &cred_path) < 0) {
        oom(err);
        goto done;
    }
    if (read_file(cfg_path, &cfg_text, &cfg_len, err) < 0 ||
        read_file(cred_path, &cred_text, &cred_len, err) < 0)
        goto done;
    rc = awsr_config_parse(cfg_text, cfg_len, cfg_path, cred_text, cred_len, cred_path, out,
                           err);
done:
    free_text(cfg_text, cfg_len);
    free_text(cred_text, cred_len);
    free(cfg_path);
    free(cred_path);
    return rc;
}

const struct awsr_profile *awsr_config_profile(const struct awsr_config *cfg, const char *name)
{
    struct awsr_profile *p = NULL;
    if (!cfg || !name)
        return NULL;
    HASH_FIND_STR(cfg->profiles, name, p);
    return p;
}

const char *awsr_profile_get(const struct awsr_profile *p, const char *key)
{
    const struct awsr_kv *kv = p ? awsr_kv_find(p->keys, key) : NULL;
    return kv ? kv->value : NULL;
}
