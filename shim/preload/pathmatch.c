/* pathmatch.c - deciding whether a path names the AWS credentials file (see pathmatch.h).
 * Runs inside wrapped open/stat calls: no malloc, no stdio, no errno changes, bounded
 * stack buffers. */
#include "pathmatch.h"

#include <fcntl.h>
#include <string.h>

#include "str.h"

const char *awsr_pm_last_component(const char *path, size_t *len)
{
    const char *base = path, *p = path;
    for (; *p; p++)
        if (*p == '/')
            base = p + 1;
    *len = (size_t)(p - base);
    return base;
}

static bool is_dot_or_dotdot(const char *s, size_t len)
{
    return (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.');
}

/* A name the file itself can have: not empty, not "." or "..". */
static bool is_file_name(const char *s, size_t len)
{
    return len > 0 && !is_dot_or_dotdot(s, len);
}

/* The input of normalize: the concatenation of two strings, so that "$HOME" and
 * "/.aws/credentials" need no intermediate buffer. */
struct pieces {
    const char *a;
    size_t alen;
    const char *b;
    size_t blen;
};

static char piece_at(const struct pieces *p, size_t i)
{
    if (i < p->alen)
        return p->a[i];
    i -= p->alen;
    return i < p->blen ? p->b[i] : '\0';
}

static size_t normalize_pieces(const struct pieces *in, char *out, size_t cap)
{
    size_t total = in->alen + in->blen;
    size_t i = 0, o = 0;

    if (cap == 0)
        return (size_t)-1;
    if (total > 0 && piece_at(in, 0) == '/') {
        out[o++] = '/';
    }
    while (i < total) {
        while (i < total && piece_at(in, i) == '/')
            i++;
        if (i >= total)
            break;
        size_t start = i;
        while (i < total && piece_at(in, i) != '/')
            i++;
        size_t clen = i - start;
        if (clen == 1 && piece_at(in, start) == '.')
            continue;
        bool sep = o > 0 && out[o - 1] != '/';
        if (o + sep + clen + 1 > cap)
            return (size_t)-1;
        if (sep)
            out[o++] = '/';
        for (size_t k = 0; k < clen; k++)
            out[o++] = piece_at(in, start + k);
    }
    if (o == 0 && total > 0) {
        out[o++] = '.';        /* "./" or "." alone: the directory itself */
    } else if (total > 0 && piece_at(in, total - 1) == '/' && out[o - 1] != '/') {
        if (o + 2 > cap)
            return (size_t)-1;
        out[o++] = '/';
    }
    if (o + 1 > cap)
        return (size_t)-1;
    out[o] = '\0';
    return o;
}

size_t awsr_pm_normalize(const char *in, char *out, size_t cap)
{
    struct pieces p = { in, awsr_strlen(in), "", 0 };
    return normalize_pieces(&p, out, cap);
}

/* Offset of the last component of a normalized path. */
static size_t base_offset(const char *path, size_t len)
{
    size_t i = len;
    while (i > 0 && path[i - 1] != '/')
        i--;
    return i;
}

static void add_target(struct awsr_pm_set *set, const struct pieces *in)
{
    if (set->n >= AWSR_PM_MAX_TARGETS)
        return;
    struct awsr_pm_target *t = &set->t[set->n];
    size_t room = AWSR_PM_MAX_TARGETS * AWSR_PM_PATH_MAX - set->used; /* half: targets */
    t->path = set->buf + set->used;
    size_t len = normalize_pieces(in, t->path, room < AWSR_PM_PATH_MAX ? room : AWSR_PM_PATH_MAX);
    if (len == (size_t)-1)
        return;
    size_t base = base_offset(t->path, len);
    if (!is_file_name(t->path + base, len - base))
        return;
    for (size_t k = 0; k < set->n; k++) {
        if (set->t[k].len == len && awsr_mem_eq(set->t[k].path, t->path, len))
            return;                 /* both variables name the same file */
    }
    t->len = len;
    t->base = base;
    t->id_known = false;
    set->used += len + 1;
    set->n++;
}

void awsr_pm_build(struct awsr_pm_set *set, const char *home, const char *shared_file)
{
    static const char suffix[] = "/.aws/" AWSR_PM_DEFAULT_BASENAME;
    bool have_home = home != NULL && home[0] != '\0';

    set->n = 0;
    set->used = 0;
    if (have_home) {
        struct pieces p = { home, awsr_strlen(home), suffix, sizeof suffix - 1 };
        add_target(set, &p);
    }
    if (shared_file != NULL && shared_file[0] != '\0') {
        struct pieces p = { shared_file, awsr_strlen(shared_file), "", 0 };
        bool tilde = shared_file[0] == '~' && (shared_file[1] == '/' || shared_file[1] == '\0');
        if (tilde && have_home) {
            p.a = home;
            p.alen = awsr_strlen(home);
            p.b = shared_file + 1;
            p.blen = awsr_strlen(shared_file + 1);
        }
        add_target(set, &p);
    }
}

const char *awsr_pm_keep(struct awsr_pm_set *set, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t len = awsr_strlen(s);
    if (len >= AWSR_PM_PATH_MAX || len + 1 > sizeof set->buf - set->used)
        return NULL;
    char *copy = set->buf + set->used;
    memcpy(copy, s, len + 1);
    set->used += len + 1;
    return copy;
}

/* Identity of the directory part of normalized path `path` (modified temporarily). */
static bool dir_id_of(char *path, size_t base, int dirfd, awsr_pm_stat_fn dirstat,
                      void *ctx, struct awsr_pm_id *out)
{
    if (base == 0)
        return dirstat(ctx, dirfd, ".", out);
    if (base == 1)
        return dirstat(ctx, dirfd, "/", out);
    char saved = path[base - 1];
    path[base - 1] = '\0';
    bool ok = dirstat(ctx, dirfd, path, out);
    path[base - 1] = saved;
    return ok;
}

void awsr_pm_cache_ids(struct awsr_pm_set *set, awsr_pm_stat_fn dirstat, void *ctx)
{
    for (size_t k = 0; k < set->n; k++) {
        struct awsr_pm_target *t = &set->t[k];
        t->id_known = t->path[0] == '/' &&
                      dir_id_of(t->path, t->base, AT_FDCWD, dirstat, ctx, &t->dir_id);
    }
}

static bool same_id(const struct awsr_pm_id *a, const struct awsr_pm_id *b)
{
    return a->dev == b->dev && a->ino == b->ino;
}

static bool base_equal(const struct awsr_pm_target *t, const char *base, size_t len)
{
    return t->len - t->base == len && awsr_mem_eq(t->path + t->base, base, len);
}

/* Identity of target t's directory when it was not cached, looked up now from a copy of
 * its path in `buf` (capacity cap), or from a full-size buffer in a frame of its own when
 * it does not fit (so the common frame stays small). */
__attribute__((noinline)) static bool target_dir_id_big(const struct awsr_pm_target *t,
                                                        awsr_pm_stat_fn dirstat, void *ctx,
                                                        struct awsr_pm_id *out)
{
    char copy[AWSR_PM_PATH_MAX];
    memcpy(copy, t->path, t->len + 1);
    return dir_id_of(copy, t->base, AT_FDCWD, dirstat, ctx, out);
}

/* The match with `path` normalized into norm (capacity cap): false when it does not fit
 * (the caller then retries with a full-size buffer). */
static bool match_in(const struct awsr_pm_set *set, int dirfd, const char *path,
                     const char *base, size_t blen, awsr_pm_stat_fn dirstat, void *ctx,
                     char *norm, size_t cap)
{
    size_t len = awsr_pm_normalize(path, norm, cap);
    if (len == (size_t)-1)
        return false;

    /* Literal: same spelling. A relative path is comparable only against the cwd. */
    bool comparable = norm[0] == '/' || dirfd == AT_FDCWD;
    for (size_t k = 0; k < set->n && comparable; k++) {
        const struct awsr_pm_target *t = &set->t[k];
        if (t->len == len && awsr_mem_eq(t->path, norm, len))
            return true;
    }

    /* Canonical: the directory that would hold the file is the target's directory. */
    struct awsr_pm_id cand;
    if (!dir_id_of(norm, base_offset(norm, len), dirfd, dirstat, ctx, &cand))
        return false;
    for (size_t k = 0; k < set->n; k++) {
        const struct awsr_pm_target *t = &set->t[k];
        if (!base_equal(t, base, blen))
            continue;
        struct awsr_pm_id want;
        if (t->id_known) {
            want = t->dir_id;
        } else if (t->len < cap) {
            /* Not cached (relative, or missing when cached): look it up now, reusing
             * the candidate's buffer, which is no longer needed. */
            memcpy(norm, t->path, t->len + 1);
            if (!dir_id_of(norm, t->base, AT_FDCWD, dirstat, ctx, &want))
                continue;
        } else if (!target_dir_id_big(t, dirstat, ctx, &want)) {
            continue;
        }
        if (same_id(&cand, &want))
            return true;
    }
    return false;
}

/* Paths longer than the small buffer: a full-size one, in a frame of its own. */
__attribute__((noinline)) static bool match_big(const struct awsr_pm_set *set, int dirfd,
                                                const char *path, const char *base,
                                                size_t blen, awsr_pm_stat_fn dirstat,
                                                void *ctx)
{
    char norm[AWSR_PM_PATH_MAX];
    return match_in(set, dirfd, path, base, blen, dirstat, ctx, norm, sizeof norm);
}

/* Most paths are short: normalizing them into a small buffer keeps the stack of a wrapped
 * open/stat a page or two shallower than a PATH_MAX buffer would. */
#define SMALL_PATH 256

bool awsr_pm_match(const struct awsr_pm_set *set, int dirfd, const char *path,
                   awsr_pm_stat_fn dirstat, void *ctx)
{
    size_t blen;
    const char *base = awsr_pm_last_component(path, &blen);
    bool any = false;

    if (!is_file_name(base, blen))
        return false;
    for (size_t k = 0; k < set->n && !any; k++)
        any = base_equal(&set->t[k], base, blen);
    if (!any)
        return false;

    /* The normalized path is never longer than the path (base + blen is its end). */
    if ((size_t)(base - path) + blen < SMALL_PATH - 1) {
        char norm[SMALL_PATH];
        return match_in(set, dirfd, path, base, blen, dirstat, ctx, norm, sizeof norm);
    }
    return match_big(set, dirfd, path, base, blen, dirstat, ctx);
}
