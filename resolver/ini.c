/* ini.c - the INI layer of config.h: a copy of CPython's RawConfigParser(strict=True),
 * line by line (universal newlines, Unicode str.strip(), first '=' or ':' splits,
 * lower-cased keys, continuation lines by indentation, [DEFAULT] merged into every
 * section), plus botocore's raw_config_parse rule that a value starting with a newline
 * becomes one level of sub-keys. */
#include "config.h"

#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "ini_table.h"
#include "strbuf.h"
#include "utf8.h"

/* ---------- UTF-8 and Python's notion of whitespace ---------- */

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
    size_t n = awsr_utf8_decode((const unsigned char *)p, (size_t)(e - p), &c);
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
        size_t len = awsr_utf8_decode((const unsigned char *)s + i, n - i, &c);
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

/* ---------- the INI parser ---------- */

struct parser {
    const char *path;
    struct awsr_error *err;
    locale_t loc;
    struct awsr_ini *ini;
    struct awsr_section *defaults; /* [DEFAULT], not in ini->sections */
    struct awsr_section *cur;      /* NULL before the first header */
    struct awsr_kv *opt;           /* the option that continuation lines extend */
    struct awsr_strbuf val;        /* its value so far, pieces joined by '\n' (secure:
                                      credentials file values are secrets) */
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
    if (awsr_strbuf_add(&ps->val, vb, (size_t)(e - vb)) < 0)
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
        if (ps->cur && ps->opt && awsr_strbuf_add(&ps->val, "\n", 1) < 0)
            return oom(ps->err);
        return 0;
    }
    if (*b == '#' || *b == ';')
        return 0;
    size_t indent = indent_of(lb, le);
    if (ps->cur && ps->opt && indent > ps->indent_level) {
        if (awsr_strbuf_addc(&ps->val, '\n') < 0 ||
            awsr_strbuf_add(&ps->val, b, (size_t)(e - b)) < 0)
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
    size_t n = awsr_utf8_decode((const unsigned char *)p, (size_t)(e - p), &cp);
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
        sub = awsr_kv_new(b, (size_t)(ke - b), NULL, kv->line);
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
        size_t n = awsr_utf8_decode((const unsigned char *)text + i, len - i, &cp);
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
            struct awsr_kv *n = awsr_kv_new(d->key, strlen(d->key), d->value, d->line);
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
    struct parser ps = {.path = path ? path : "", .err = err, .val = AWSR_STRBUF_SECURE_INIT};
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
        awsr_strbuf_wipe(&ps.val);
        awsr_section_free(ps.defaults);
        awsr_ini_free(ps.ini);
        return -1;
    }
    awsr_strbuf_wipe(&ps.val);
    awsr_section_free(ps.defaults);
    *out = ps.ini;
    return 0;
}

void awsr_ini_free(struct awsr_ini *ini)
{
    if (!ini)
        return;
    awsr_section_free_table(&ini->sections);
    free(ini->path);
    free(ini);
}
