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

/* In place (out == in) too: the output never runs ahead of the input it was read from. */
size_t awsr_pm_normalize(const char *in, char *out, size_t cap)
{
    size_t total = awsr_strlen(in);
    bool absolute = total > 0 && in[0] == '/';
    bool trailing = total > 0 && in[total - 1] == '/';
    size_t i = 0, o = 0;

    if (cap == 0)
        return (size_t)-1;
    if (absolute)
        out[o++] = '/';
    while (i < total) {
        while (i < total && in[i] == '/')
            i++;
        if (i >= total)
            break;
        size_t start = i;
        while (i < total && in[i] != '/')
            i++;
        size_t clen = i - start;
        if (clen == 1 && in[start] == '.')
            continue;
        bool sep = o > 0 && out[o - 1] != '/';
        if (o + sep + clen + 1 > cap)
            return (size_t)-1;
        if (sep)
            out[o++] = '/';
        for (size_t k = 0; k < clen; k++)
            out[o++] = in[start + k];
    }
    if (o == 0 && total > 0) {
        out[o++] = '.';        /* "./" or "." alone: the directory itself */
    } else if (trailing && out[o - 1] != '/') {
        if (o + 2 > cap)
            return (size_t)-1;
        out[o++] = '/';
    }
    if (o + 1 > cap)
        return (size_t)-1;
    out[o] = '\0';
    return o;
}

/* ---- expansion (os.path.expandvars, then os.path.expanduser) -------------------------- */

/* A bounded output buffer; `full` once something did not fit (a byte stays for the NUL). */
struct sink {
    char *p;
    size_t n, cap;
    bool full;
};

static void put(struct sink *s, const char *src, size_t n)
{
    if (s->full || n >= s->cap - s->n) {
        s->full = true;
        return;
    }
    memcpy(s->p + s->n, src, n);
    s->n += n;
}

static bool is_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* End of the variable reference starting at the '$' at d ("$NAME" or "${...}"), with
 * the name's bounds; NULL when the '$' starts none (it is then kept as a character). */
static const char *var_ref(const char *d, const char **name, size_t *len)
{
    const char *n = d + 1, *e;
    if (*n == '{') {
        for (e = ++n; *e != '\0' && *e != '}'; e++)
            ;
        if (*e == '\0')
            return NULL;
        *name = n;
        *len = (size_t)(e - n);
        return e + 1;
    }
    for (e = n; is_name_char(*e); e++)
        ;
    *name = n;
    *len = (size_t)(e - n);
    return e == n ? NULL : e;
}

static void expand_vars(const char *p, awsr_pm_getenv_fn lookup, void *ctx, struct sink *out)
{
    while (*p != '\0') {
        const char *d = p;
        while (*d != '\0' && *d != '$')
            d++;
        put(out, p, (size_t)(d - p));
        if (*d == '\0')
            return;
        const char *name;
        size_t len;
        const char *next = var_ref(d, &name, &len);
        if (next == NULL) {
            put(out, d, 1);
            p = d + 1;
            continue;
        }
        const char *value = lookup ? lookup(ctx, name, len) : NULL;
        if (value)
            put(out, value, awsr_strlen(value));
        else
            put(out, d, (size_t)(next - d)); /* unknown: as written */
        p = next;
    }
}

/* Moves the n bytes at p + from to p + to (the areas may overlap). */
static void move_bytes(char *p, size_t from, size_t to, size_t n)
{
    if (to < from) {
        for (size_t k = 0; k < n; k++)
            p[to + k] = p[from + k];
    } else {
        for (size_t k = n; k > 0; k--)
            p[to + k - 1] = p[from + k - 1];
    }
}

/* A leading "~" (alone or before '/') of the expanded text becomes home, trailing slashes
 * dropped; "/" when that leaves nothing. False when no home can be had here. */
static bool expand_user(struct sink *s, const char *home)
{
    char *p = s->p;
    if (s->n == 0 || p[0] != '~')
        return true;
    if ((s->n > 1 && p[1] != '/') || home == NULL || home[0] == '\0')
        return false;                 /* "~user": no user database in the preload */
    size_t hl = awsr_strlen(home);
    while (hl > 0 && home[hl - 1] == '/')
        hl--;
    if (hl == 0 && s->n == 1) {
        p[0] = '/';
        return true;
    }
    if (hl > 0 && hl - 1 >= s->cap - s->n)
        return false;
    move_bytes(p, 1, hl, s->n - 1);
    memcpy(p, home, hl);
    s->n = s->n - 1 + hl;
    return true;
}

size_t awsr_pm_expand(const char *in, const char *home, awsr_pm_getenv_fn lookup, void *ctx,
                      char *out, size_t cap)
{
    struct sink s = { out, 0, cap, cap == 0 };
    expand_vars(in, lookup, ctx, &s);
    if (s.full || !expand_user(&s, home))
        return (size_t)-1;
    out[s.n] = '\0';
    return s.n;
}

/* Offset of the last component of a normalized path. */
static size_t base_offset(const char *path, size_t len)
{
    size_t i = len;
    while (i > 0 && path[i - 1] != '/')
        i--;
    return i;
}

/* Where the next target's path goes, with its capacity; NULL when the set is full. */
static char *free_room(const struct awsr_pm_set *set, size_t *cap)
{
    if (set->n >= AWSR_PM_MAX_TARGETS)
        return NULL;
    size_t room = AWSR_PM_TARGET_ROOM - set->used;
    *cap = room < AWSR_PM_PATH_MAX ? room : AWSR_PM_PATH_MAX;
    return (char *)set->buf + set->used;
}

/* Under /dev (but for the tmpfs /dev/shm) or /proc: a device, a pipe (/dev/fd/63 of
 * `<(...)`), never a credentials file. AWS_SHARED_CREDENTIALS_FILE=/dev/null turns the
 * file off: serving the synthesized file there would hand it to `cmd </dev/null`. Decided
 * from the name alone: the real file's path never reaches the kernel but through the one
 * readlinkat. */
static bool names_device(const char *path, size_t len)
{
    static const char dev[] = "/dev/", shm[] = "/dev/shm/", proc[] = "/proc/";
    if (len >= sizeof proc - 1 && awsr_mem_eq(path, proc, sizeof proc - 1))
        return true;
    return len >= sizeof dev - 1 && awsr_mem_eq(path, dev, sizeof dev - 1) &&
           !(len >= sizeof shm - 1 && awsr_mem_eq(path, shm, sizeof shm - 1));
}

/* Normalizes the path just written at the free room (capacity cap) in place and makes it
 * the next target, unless it does not fit, names a directory or repeats a target. */
static void commit_target(struct awsr_pm_set *set, size_t cap)
{
    struct awsr_pm_target *t = &set->t[set->n];
    t->path = set->buf + set->used;
    size_t len = awsr_pm_normalize(t->path, t->path, cap);
    if (len == (size_t)-1)
        return;
    size_t base = base_offset(t->path, len);
    if (!is_file_name(t->path + base, len - base) || names_device(t->path, len))
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

static void add_expanded(struct awsr_pm_set *set, const char *path, const char *home,
                         awsr_pm_getenv_fn lookup, void *ctx)
{
    size_t cap;
    char *room = free_room(set, &cap);
    if (room != NULL && awsr_pm_expand(path, home, lookup, ctx, room, cap) != (size_t)-1)
        commit_target(set, cap);
}

void awsr_pm_build(struct awsr_pm_set *set, const char *home, const char *shared_file,
                   awsr_pm_getenv_fn lookup, void *ctx)
{
    set->n = 0;
    set->used = 0;
    if (home != NULL && home[0] != '\0')
        add_expanded(set, "~/.aws/" AWSR_PM_DEFAULT_BASENAME, home, NULL, NULL);
    if (shared_file != NULL && shared_file[0] != '\0')
        add_expanded(set, shared_file, home, lookup, ctx);
}

void awsr_pm_add_path(struct awsr_pm_set *set, const char *path)
{
    if (path == NULL || path[0] != '/')
        return;
    size_t cap, len = awsr_strlen(path);
    char *room = free_room(set, &cap);
    if (room != NULL && len < cap) {
        __builtin_memcpy(room, path, len + 1);
        commit_target(set, cap);
    }
}

void awsr_pm_add_links(struct awsr_pm_set *set, awsr_pm_link_fn resolve, void *ctx)
{
    for (size_t k = 0, n = set->n; k < n; k++) {
        size_t cap;
        char *room = free_room(set, &cap);
        if (room != NULL && resolve(ctx, set->t[k].path, room, cap) != (size_t)-1)
            commit_target(set, cap);
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
