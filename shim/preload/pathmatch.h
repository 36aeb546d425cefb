/* pathmatch.h - does a path a program opens name the AWS credentials file?
 * Pure logic (no syscalls of its own: directory identities, symlink targets and
 * environment variables come through callbacks), so the preload's wrappers, the unit
 * tests and the fuzzer share it. */
#ifndef AWSR_PATHMATCH_H
#define AWSR_PATHMATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "shim.h"

/* Paths the kernel accepts are shorter than PATH_MAX (4096 on Linux); anything longer
 * never matches (the real call fails with ENAMETOOLONG anyway). */
#define AWSR_PM_PATH_MAX 4096
/* $HOME/.aws/credentials, $AWS_SHARED_CREDENTIALS_FILE and the user's own file as the
 * launcher found it (awsr_pm_add_path), then what each is a symlink to
 * (awsr_pm_add_links). */
#define AWSR_PM_MAX_TARGETS 6
#define AWSR_PM_DEFAULT_BASENAME "credentials"
/* The set's arena: the targets' paths first (at most this much), then awsr_pm_keep's
 * copies. Sized for two full-length paths each; short paths leave room for all six. */
#define AWSR_PM_TARGET_ROOM (2 * AWSR_PM_PATH_MAX)

struct awsr_pm_id {
    dev_t dev;
    ino_t ino;
};

/* One spelling of the credentials file: the path as the program would build it. */
struct awsr_pm_target {
    char *path;                  /* lexically normalized ("//", "/./" folded), in set->buf */
    size_t len;
    size_t base;                 /* offset of the last component in path */
    bool id_known;               /* dir_id holds the identity of the containing directory */
    struct awsr_pm_id dir_id;
};

/* The targets, their paths packed one after another in buf right behind the small fields,
 * so a set with short paths occupies one page, not one page per target. Holds pointers
 * into itself: build it in place, never copy it. */
struct awsr_pm_set {
    size_t n;
    struct awsr_pm_target t[AWSR_PM_MAX_TARGETS];
    size_t used;                 /* bytes of buf taken */
    char buf[2 * AWSR_PM_TARGET_ROOM]; /* targets, then awsr_pm_keep */
};

/* Identity (st_dev, st_ino) of directory `path` relative to `dirfd`, following symlinks.
 * Returns false when it cannot be had (missing, no permission). */
typedef bool (*awsr_pm_stat_fn)(void *ctx, int dirfd, const char *path,
                                struct awsr_pm_id *out);

/* Last component of `path` and its length (0 for "", "dir/" and the like: those name
 * directories, never the file). */
AWSR_HIDDEN const char *awsr_pm_last_component(const char *path, size_t *len);

/* Copies `in` to `out` (capacity `cap`) folding repeated slashes and "." components
 * ("a//./b" -> "a/b", "./x" -> "x"); ".." is kept (symlinks make it non-lexical).
 * A trailing slash is kept. Returns the length, or (size_t)-1 if it does not fit. */
AWSR_HIDDEN size_t awsr_pm_normalize(const char *in, char *out, size_t cap);

/* Value of the environment variable named by the `len` bytes at `name` (not
 * NUL-terminated), or NULL when it is unset. */
typedef const char *(*awsr_pm_getenv_fn)(void *ctx, const char *name, size_t len);

/* A path as the launcher (resolver/config.c awsr_expand_path) and botocore expand it:
 * os.path.expandvars ($NAME with NAME in [A-Za-z0-9_]+, or ${NAME}; an unknown variable
 * stays as written; substituted text is not expanded again), then os.path.expanduser (a
 * leading "~" alone or before "/" becomes `home` without its trailing slashes). Writes
 * the NUL-terminated result to out (capacity cap) and returns its length; (size_t)-1 when
 * it does not fit, or names a home this library cannot know (HOME unset or empty, "~user":
 * no user database in the preload). `lookup` NULL: no variable is set. */
AWSR_HIDDEN size_t awsr_pm_expand(const char *in, const char *home, awsr_pm_getenv_fn lookup,
                                  void *ctx, char *out, size_t cap);

/* Builds the targets from the values of $HOME and $AWS_SHARED_CREDENTIALS_FILE (either
 * may be NULL or empty: then that target is absent). The shared file is expanded with
 * awsr_pm_expand (variables through `lookup`, which may be NULL). Directory identities are
 * left unknown; awsr_pm_cache_ids() fills them. */
AWSR_HIDDEN void awsr_pm_build(struct awsr_pm_set *set, const char *home,
                               const char *shared_file, awsr_pm_getenv_fn lookup, void *ctx);

/* Adds absolute `path` as it is (no expansion; normalized) as one more target: the file
 * the launcher read, which stays protected whatever HOME or AWS_SHARED_CREDENTIALS_FILE
 * become in the process. NULL, relative or too long: nothing. Call after awsr_pm_build,
 * before awsr_pm_add_links. */
AWSR_HIDDEN void awsr_pm_add_path(struct awsr_pm_set *set, const char *path);

/* Canonical path (all symlinks resolved) of `path` when `path` itself is a symlink,
 * written NUL-terminated to out (capacity cap); its length, or (size_t)-1 when `path` is
 * not a symlink or cannot be resolved. */
typedef size_t (*awsr_pm_link_fn)(void *ctx, const char *path, char *out, size_t cap);

/* Adds, for each target that is a symlink, its canonical path as one more target (what
 * realpath() and the like hand to a later open). Call after awsr_pm_build, before
 * awsr_pm_keep. */
AWSR_HIDDEN void awsr_pm_add_links(struct awsr_pm_set *set, awsr_pm_link_fn resolve,
                                   void *ctx);

/* Keeps a copy of `s` in the set's arena, behind the targets (so a cache of the values a
 * set was built from shares its pages). NULL when s is NULL or AWSR_PM_PATH_MAX bytes or
 * longer. Call after awsr_pm_build and awsr_pm_add_links (build empties the arena). */
AWSR_HIDDEN const char *awsr_pm_keep(struct awsr_pm_set *set, const char *s);

/* Records the directory identity of each absolute target whose directory exists (a
 * relative target depends on the cwd, so it is looked up at every match instead). */
AWSR_HIDDEN void awsr_pm_cache_ids(struct awsr_pm_set *set, awsr_pm_stat_fn dirstat,
                                   void *ctx);

/* True when (dirfd, path) names one of the targets: the last components are equal, and
 * either the normalized paths are equal (absolute, or both relative to the cwd), or the
 * directory holding `path` is the target's directory (same st_dev/st_ino), which covers
 * symlinked directories, "..", relative paths and openat on a directory fd. The file
 * itself need not exist. Calls `dirstat` only after the last components matched. */
AWSR_HIDDEN bool awsr_pm_match(const struct awsr_pm_set *set, int dirfd, const char *path,
                               awsr_pm_stat_fn dirstat, void *ctx);

#endif
