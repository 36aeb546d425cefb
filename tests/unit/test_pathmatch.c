/* test_pathmatch.c - the credentials-path matching used by the preload's file wrappers:
 * lexical cases with a fake directory table, $VAR/~ expansion with a fake environment,
 * symlinked targets with a fake resolver, then canonical cases on a real tree (symlinks,
 * "..", relative paths, directory fds). */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../shim/preload/pathmatch.c"

/* ---- fake directory table: path -> identity, plus a call counter ---------------------- */

struct fake_dir {
    const char *path;
    ino_t ino;
};

struct fake_fs {
    struct fake_dir dirs[8];
    int calls;
};

static bool fake_stat(void *ctx, int dirfd, const char *path, struct awsr_pm_id *out)
{
    struct fake_fs *fs = ctx;
    fs->calls++;
    if (dirfd != AT_FDCWD && path[0] != '/')
        return false;
    for (int i = 0; i < 8 && fs->dirs[i].path; i++) {
        if (strcmp(fs->dirs[i].path, path) == 0) {
            out->dev = 1;
            out->ino = fs->dirs[i].ino;
            return true;
        }
    }
    return false;
}

static bool match_fake(const struct awsr_pm_set *set, struct fake_fs *fs, const char *path)
{
    return awsr_pm_match(set, AT_FDCWD, path, fake_stat, fs);
}

static void test_last_component(void **state)
{
    (void)state;
    size_t len;
    const char *b = awsr_pm_last_component("/a/b/credentials", &len);
    assert_string_equal(b, "credentials");
    assert_int_equal(len, 11);
    b = awsr_pm_last_component("credentials", &len);
    assert_int_equal(len, 11);
    awsr_pm_last_component("/a/credentials/", &len);
    assert_int_equal(len, 0);
    awsr_pm_last_component("", &len);
    assert_int_equal(len, 0);
}

static void check_norm(const char *in, const char *want)
{
    char out[AWSR_PM_PATH_MAX];
    size_t len = awsr_pm_normalize(in, out, sizeof out);
    assert_int_not_equal(len, (size_t)-1);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
}

static void test_normalize(void **state)
{
    (void)state;
    check_norm("/home/u/.aws/credentials", "/home/u/.aws/credentials");
    check_norm("//home//u/./.aws/./credentials", "/home/u/.aws/credentials");
    check_norm("./.aws/credentials", ".aws/credentials");
    check_norm("a/../b", "a/../b");
    check_norm("/", "/");
    check_norm("///", "/");
    check_norm(".", ".");
    check_norm("./", ".");
    check_norm("a/", "a/");
    check_norm("", "");
    char small[8];
    assert_int_equal(awsr_pm_normalize("/abcdefghij", small, sizeof small), (size_t)-1);
    assert_int_not_equal(awsr_pm_normalize("/abcdef", small, sizeof small), (size_t)-1);
}

static void test_build_targets(void **state)
{
    (void)state;
    struct awsr_pm_set set;

    awsr_pm_build(&set, "/home/u/", NULL, NULL, NULL);
    assert_int_equal(set.n, 1);
    assert_string_equal(set.t[0].path, "/home/u/.aws/credentials");
    assert_string_equal(set.t[0].path + set.t[0].base, "credentials");
    assert_false(set.t[0].id_known);

    awsr_pm_build(&set, "/home/u", "~/creds/my.ini", NULL, NULL);
    assert_int_equal(set.n, 2);
    assert_string_equal(set.t[1].path, "/home/u/creds/my.ini");

    awsr_pm_build(&set, "/home/u", "/home/u/.aws//credentials", NULL, NULL);
    assert_int_equal(set.n, 1);                      /* same file twice: kept once */

    awsr_pm_build(&set, NULL, NULL, NULL, NULL);
    assert_int_equal(set.n, 0);
    awsr_pm_build(&set, "", "", NULL, NULL);
    assert_int_equal(set.n, 0);

    awsr_pm_build(&set, NULL, "/etc/", NULL, NULL);             /* a directory is never the file */
    assert_int_equal(set.n, 0);
    awsr_pm_build(&set, NULL, "/etc/..", NULL, NULL);
    assert_int_equal(set.n, 0);

    awsr_pm_build(&set, NULL, "/dev/null", NULL, NULL);          /* devices, pipes: never */
    assert_int_equal(set.n, 0);
    awsr_pm_build(&set, NULL, "/dev/fd/63", NULL, NULL);
    assert_int_equal(set.n, 0);
    awsr_pm_build(&set, NULL, "/proc/self/fd/3", NULL, NULL);
    assert_int_equal(set.n, 0);
    awsr_pm_add_path(&set, "/dev/null");
    assert_int_equal(set.n, 0);
    awsr_pm_build(&set, NULL, "/dev/shm/awsrole-1-ab/no-credentials", NULL, NULL); /* tmpfs */
    assert_int_equal(set.n, 1);

    awsr_pm_build(&set, NULL, "rel/creds", NULL, NULL);          /* relative: kept as is */
    assert_int_equal(set.n, 1);
    assert_string_equal(set.t[0].path, "rel/creds");

    char huge[AWSR_PM_PATH_MAX + 10];
    memset(huge, 'a', sizeof huge - 1);
    huge[0] = '/';
    huge[sizeof huge - 1] = '\0';
    awsr_pm_build(&set, huge, NULL, NULL, NULL);                 /* too long: no target, no overflow */
    assert_int_equal(set.n, 0);
}

/* The launcher's own file: taken as it is (no expansion), kept once, absolute only. */
static void test_add_path(void **state)
{
    (void)state;
    struct awsr_pm_set set;
    awsr_pm_build(&set, "/tmp/other-home", "/x/tree/credentials", NULL, NULL);
    awsr_pm_add_path(&set, "/home/u/.aws//credentials");
    assert_int_equal(set.n, 3);
    assert_string_equal(set.t[2].path, "/home/u/.aws/credentials");
    assert_string_equal(set.t[2].path + set.t[2].base, "credentials");
    awsr_pm_add_path(&set, "/home/u/.aws/credentials");          /* already a target */
    assert_int_equal(set.n, 3);
    awsr_pm_add_path(&set, "/home/$USER/~/creds");               /* literal, not expanded */
    assert_int_equal(set.n, 4);
    assert_string_equal(set.t[3].path, "/home/$USER/~/creds");
    awsr_pm_add_path(&set, "relative/credentials");              /* relative: refused */
    awsr_pm_add_path(&set, NULL);
    awsr_pm_add_path(&set, "/etc/");                             /* a directory */
    assert_int_equal(set.n, 4);
    assert_true(awsr_pm_match(&set, AT_FDCWD, "/home/u/.aws/credentials", NULL, NULL));
    char huge[AWSR_PM_PATH_MAX + 10];
    memset(huge, 'a', sizeof huge - 1);
    huge[0] = '/';
    huge[sizeof huge - 1] = '\0';
    awsr_pm_add_path(&set, huge);                                /* too long: no overflow */
    assert_int_equal(set.n, 4);
}

static void test_literal_matches(void **state)
{
    (void)state;
    struct fake_fs fs = { .dirs = { { NULL, 0 } } };
    struct awsr_pm_set set;
    awsr_pm_build(&set, "/home/u", "/etc/aws/shared.ini", NULL, NULL);

    assert_true(match_fake(&set, &fs, "/home/u/.aws/credentials"));
    assert_true(match_fake(&set, &fs, "//home/u/./.aws//credentials"));
    assert_true(match_fake(&set, &fs, "/etc/aws/shared.ini"));
    assert_int_equal(fs.calls, 0);                   /* literal matches need no stat */

    /* Same basename, other directory, no identity available: no match. */
    assert_false(match_fake(&set, &fs, "/home/v/.aws/credentials"));
    assert_false(match_fake(&set, &fs, "/home/u/.aws/credentials/"));
    assert_false(match_fake(&set, &fs, "/home/u/.aws/credentials.bak"));
    assert_false(match_fake(&set, &fs, "/home/u/.aws/config"));
    assert_false(match_fake(&set, &fs, "/home/u/.aws/CREDENTIALS"));
}

static void test_unrelated_paths_make_no_stat(void **state)
{
    (void)state;
    struct fake_fs fs = { .dirs = { { "/home/u/.aws", 1 } } };
    struct awsr_pm_set set;
    awsr_pm_build(&set, "/home/u", "/x/shared.ini", NULL, NULL);
    awsr_pm_cache_ids(&set, fake_stat, &fs);
    fs.calls = 0;
    const char *unrelated[] = { "/etc/passwd", "/home/u/.aws/config", "credential",
                                "/usr/lib/credentialsx", "", "/", ".", "..", "/a/.." };
    for (size_t i = 0; i < sizeof unrelated / sizeof *unrelated; i++)
        assert_false(match_fake(&set, &fs, unrelated[i]));
    assert_int_equal(fs.calls, 0);
}

static void test_identity_match(void **state)
{
    (void)state;
    struct fake_fs fs = { .dirs = { { "/home/u/.aws", 7 }, { "/real/u/.aws", 7 },
                                    { "/elsewhere", 8 } } };
    struct awsr_pm_set set;
    awsr_pm_build(&set, "/home/u", NULL, NULL, NULL);
    awsr_pm_cache_ids(&set, fake_stat, &fs);
    assert_true(set.t[0].id_known);
    assert_int_equal(set.t[0].dir_id.ino, 7);

    fs.calls = 0;
    assert_true(match_fake(&set, &fs, "/real/u/.aws/credentials"));   /* same directory */
    assert_int_equal(fs.calls, 1);                   /* only the candidate's directory */
    assert_false(match_fake(&set, &fs, "/elsewhere/credentials"));
    assert_false(match_fake(&set, &fs, "/missing/credentials"));
}

static void test_uncached_target_looked_up(void **state)
{
    (void)state;
    /* The target directory did not exist when cached: looked up at match time. */
    struct fake_fs fs = { .dirs = { { NULL, 0 } } };
    struct awsr_pm_set set;
    awsr_pm_build(&set, "/home/u", NULL, NULL, NULL);
    awsr_pm_cache_ids(&set, fake_stat, &fs);
    assert_false(set.t[0].id_known);
    assert_false(match_fake(&set, &fs, "/home/u/../u/.aws/credentials"));
    fs.dirs[0] = (struct fake_dir){ "/home/u/.aws", 9 };
    fs.dirs[1] = (struct fake_dir){ "/home/u/../u/.aws", 9 };
    assert_true(match_fake(&set, &fs, "/home/u/../u/.aws/credentials"));
    fs.dirs[1].ino = 10;
    assert_false(match_fake(&set, &fs, "/home/u/../u/.aws/credentials"));
}

/* Paths longer than the small normalizing buffer take the full-size one: same answers,
 * literal and by directory identity, for the candidate and for an uncached target. */
static void test_long_paths(void **state)
{
    (void)state;
    static char home[600], spelled[700], dir[700], other[700];
    memset(home, 'h', 400);
    home[0] = '/';
    home[400] = '\0';
    snprintf(spelled, sizeof spelled, "%s//./.aws/credentials", home);
    snprintf(dir, sizeof dir, "%s/.aws", home);
    snprintf(other, sizeof other, "%s/../x/.aws", home);
    struct fake_fs fs = { .dirs = { { dir, 5 }, { other, 5 } } };
    struct awsr_pm_set set;
    awsr_pm_build(&set, home, NULL, NULL, NULL);
    assert_int_equal(set.n, 1);
    assert_true(match_fake(&set, &fs, spelled));              /* literal, normalized */
    /* Not cached: the target's directory is looked up from its (long) path at match time. */
    assert_false(set.t[0].id_known);
    char via_other[800];
    snprintf(via_other, sizeof via_other, "%s/credentials", other);
    assert_true(match_fake(&set, &fs, via_other));
    fs.dirs[1].ino = 6;
    assert_false(match_fake(&set, &fs, via_other));
    /* Near the small buffer's size, both sides of it. */
    for (size_t n = 230; n < 270; n++) {
        char h[300], p[320], d[320];
        memset(h, 'k', n);
        h[0] = '/';
        h[n] = '\0';
        snprintf(p, sizeof p, "%s/.aws/credentials", h);
        snprintf(d, sizeof d, "%s/.aws", h);
        struct fake_fs f2 = { .dirs = { { d, 3 } } };
        awsr_pm_build(&set, h, NULL, NULL, NULL);
        assert_true(match_fake(&set, &f2, p));
    }
}

/* ---- expansion: the launcher's rules (resolver/config.c awsr_expand_path) ------------- */

static const char *fake_getenv(void *ctx, const char *name, size_t len)
{
    (void)ctx;
    static const char *const vars[][2] = {
        { "HOME", "/home/u" }, { "DIR", "/srv/aws/" }, { "T", "~" }, { "D", "$HOME" },
        { "E", "" }, { "A_1", "x" },
    };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        if (strlen(vars[i][0]) == len && memcmp(vars[i][0], name, len) == 0)
            return vars[i][1];
    }
    return NULL;
}

static void test_expand(void **state)
{
    (void)state;
    static const struct {
        const char *in, *home, *want;  /* want NULL: cannot be expanded here */
    } cases[] = {
        { "/plain/path", "/h", "/plain/path" },
        { "$HOME/.aws/altcreds", "/h", "/home/u/.aws/altcreds" },
        { "${DIR}creds", "/h", "/srv/aws/creds" },
        { "${DIR}/creds", "/h", "/srv/aws//creds" },         /* normalized later */
        { "$A_1$A_1.ini", "/h", "xx.ini" },
        { "$E/c", "/h", "/c" },                              /* set but empty */
        /* Unknown variables, and '$' starting none, stay as written. */
        { "$NOPE/c", "/h", "$NOPE/c" },
        { "${NOPE}/c", "/h", "${NOPE}/c" },
        { "a$/b$", "/h", "a$/b$" },
        { "${unclosed/c", "/h", "${unclosed/c" },
        { "$-x", "/h", "$-x" },
        { "${}", "/h", "${}" },
        /* Substituted text is not expanded again... */
        { "$D/c", "/h", "$HOME/c" },
        /* ...but expanduser comes after expandvars, as in botocore. */
        { "$T/c", "/h", "/h/c" },
        { "~", "/h/", "/h" },
        { "~/c", "/h//", "/h/c" },
        { "~", "/", "/" },
        { "~/c", "/", "/c" },
        { "a/~/c", "/h", "a/~/c" },                          /* only a leading ~ */
        { "~user/c", "/h", NULL },                           /* no user database here */
        { "~/c", NULL, NULL },
        { "~/c", "", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[AWSR_PM_PATH_MAX];
        size_t len = awsr_pm_expand(cases[i].in, cases[i].home, fake_getenv, NULL, out,
                                    sizeof out);
        if (cases[i].want == NULL) {
            assert_int_equal(len, (size_t)-1);
            continue;
        }
        assert_string_equal(out, cases[i].want);
        assert_int_equal(len, strlen(cases[i].want));
    }
    /* Bounded: too long fails, never overflows. */
    char out[16];
    assert_int_equal(awsr_pm_expand("/0123456789abcdef", "/h", NULL, NULL, out, sizeof out),
                     (size_t)-1);
    assert_int_equal(awsr_pm_expand("/0123456789abcd", "/h", NULL, NULL, out, sizeof out), 15);
    assert_int_equal(awsr_pm_expand("~/0123456789", "/home", NULL, NULL, out, sizeof out),
                     (size_t)-1);
    assert_int_equal(awsr_pm_expand("$DIR$DIR", "/h", fake_getenv, NULL, out, sizeof out),
                     (size_t)-1);
    assert_int_equal(awsr_pm_expand("", "/h", NULL, NULL, out, 0), (size_t)-1);
}

static void test_build_expands_the_shared_file(void **state)
{
    (void)state;
    struct awsr_pm_set set;
    awsr_pm_build(&set, "/home/u", "$HOME/.aws/altcreds", fake_getenv, NULL);
    assert_int_equal(set.n, 2);
    assert_string_equal(set.t[1].path, "/home/u/.aws/altcreds");
    awsr_pm_build(&set, "/home/u", "${DIR}/./creds", fake_getenv, NULL);
    assert_string_equal(set.t[1].path, "/srv/aws/creds");
    awsr_pm_build(&set, "/home/u", "$T/.aws/credentials", fake_getenv, NULL);
    assert_int_equal(set.n, 1);                      /* the default file, spelled otherwise */
    awsr_pm_build(&set, "/home/u", "$HOME/x", NULL, NULL);
    assert_string_equal(set.t[1].path, "$HOME/x");   /* no lookup: kept as written */
    awsr_pm_build(&set, "/home/u", "~other/x", fake_getenv, NULL);
    assert_int_equal(set.n, 1);
}

/* Normalizing in place gives what normalizing into another buffer gives. */
static void test_normalize_in_place(void **state)
{
    (void)state;
    const char *cases[] = { "/home//u/./.aws/credentials", "./x", "a/./b/", "//", ".",
                            "../a//b/.", "/./.", "x" };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char copy[64], want[64];
        snprintf(copy, sizeof copy, "%s", cases[i]);
        size_t a = awsr_pm_normalize(cases[i], want, sizeof want);
        size_t b = awsr_pm_normalize(copy, copy, sizeof copy);
        assert_int_equal(a, b);
        assert_string_equal(copy, want);
    }
}

/* ---- symlinked targets ---------------------------------------------------------------- */

struct fake_links {
    int calls;
};

static size_t fake_link(void *ctx, const char *path, char *out, size_t cap)
{
    struct fake_links *l = ctx;
    l->calls++;
    const char *to = strcmp(path, "/home/u/.aws/credentials") == 0 ? "/dots//aws/creds.ini"
                   : strcmp(path, "/etc/shared.ini") == 0          ? "/home/u/.aws/credentials"
                   : strcmp(path, "/etc/long.ini") == 0            ? "/very/long/target"
                                                                   : NULL;
    if (to == NULL || strlen(to) + 1 > cap)
        return (size_t)-1;
    memcpy(out, to, strlen(to) + 1);
    return strlen(to);
}

static void test_add_links(void **state)
{
    (void)state;
    struct fake_links l = { 0 };
    struct fake_fs fs = { .dirs = { { NULL, 0 } } };
    struct awsr_pm_set set;
    awsr_pm_build(&set, "/home/u", "/etc/shared.ini", NULL, NULL);
    awsr_pm_add_links(&set, fake_link, &l);
    assert_int_equal(l.calls, 2);                    /* each target asked once */
    assert_int_equal(set.n, 3);                      /* shared -> default: not twice */
    assert_string_equal(set.t[2].path, "/dots/aws/creds.ini");
    assert_string_equal(set.t[2].path + set.t[2].base, "creds.ini");
    assert_true(match_fake(&set, &fs, "/dots/aws/creds.ini"));
    assert_false(match_fake(&set, &fs, "/dots/aws/other.ini"));
    /* The kept values go behind every target. */
    const char *h = awsr_pm_keep(&set, "/home/u");
    assert_true(h > set.t[2].path);
    assert_string_equal(set.t[2].path, "/dots/aws/creds.ini");

    /* No symlink: no target added. */
    awsr_pm_build(&set, "/nobody", NULL, NULL, NULL);
    awsr_pm_add_links(&set, fake_link, &l);
    assert_int_equal(set.n, 1);

    /* Long targets fill the room: later ones are left out, nothing overflows. */
    static char home[AWSR_PM_PATH_MAX - 32];
    memset(home, 'h', sizeof home - 1);
    home[0] = '/';
    awsr_pm_build(&set, home, "/etc/long.ini", NULL, NULL);
    assert_int_equal(set.n, 2);
    awsr_pm_add_links(&set, fake_link, &l);
    assert_int_equal(set.n, 3);
    assert_true(set.used <= AWSR_PM_TARGET_ROOM);
}

/* awsr_pm_keep: copies behind the targets, which stay intact; too long or NULL: none. */
static void test_keep(void **state)
{
    (void)state;
    struct awsr_pm_set set;
    awsr_pm_build(&set, "/home/u", "/etc/shared.ini", NULL, NULL);
    const char *h = awsr_pm_keep(&set, "/home/u");
    const char *s = awsr_pm_keep(&set, "/etc/shared.ini");
    assert_string_equal(h, "/home/u");
    assert_string_equal(s, "/etc/shared.ini");
    assert_true(h >= set.buf && s < set.buf + sizeof set.buf);
    assert_string_equal(set.t[0].path, "/home/u/.aws/credentials");
    assert_string_equal(set.t[1].path, "/etc/shared.ini");
    assert_null(awsr_pm_keep(&set, NULL));
    static char huge[AWSR_PM_PATH_MAX + 1];
    memset(huge, 'a', AWSR_PM_PATH_MAX);
    assert_null(awsr_pm_keep(&set, huge));
    huge[AWSR_PM_PATH_MAX - 1] = '\0';
    assert_non_null(awsr_pm_keep(&set, huge));                /* 4095 bytes: kept */
}

/* ---- real filesystem ------------------------------------------------------------------ */

static bool real_stat(void *ctx, int dirfd, const char *path, struct awsr_pm_id *out)
{
    (void)ctx;
    struct stat st;
    if (fstatat(dirfd, path, &st, 0) != 0 || !S_ISDIR(st.st_mode))
        return false;
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    return true;
}

struct tree {
    char root[PATH_MAX];
    char home[PATH_MAX + 16];
    char link[PATH_MAX + 16];
    char cwd[PATH_MAX];
};

static int tree_setup(void **state)
{
    struct tree *t = calloc(1, sizeof *t);
    char buf[PATH_MAX + 64];
    snprintf(t->root, sizeof t->root, "/tmp/awsr-pm-XXXXXX");
    if (mkdtemp(t->root) == NULL || getcwd(t->cwd, sizeof t->cwd) == NULL)
        return -1;
    snprintf(t->home, sizeof t->home, "%s/home", t->root);
    snprintf(t->link, sizeof t->link, "%s/link", t->root);
    snprintf(buf, sizeof buf, "%s/.aws", t->home);
    if (mkdir(t->home, 0700) != 0 || mkdir(buf, 0700) != 0 || symlink(t->home, t->link) != 0)
        return -1;
    snprintf(buf, sizeof buf, "%s/other", t->root);
    if (mkdir(buf, 0700) != 0)
        return -1;
    *state = t;
    return 0;
}

static int tree_teardown(void **state)
{
    struct tree *t = *state;
    char cmd[PATH_MAX + 32];
    if (chdir(t->cwd) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->root);
    int rc = system(cmd);
    free(t);
    return rc == 0 ? 0 : -1;
}

static bool match_real(const struct awsr_pm_set *set, int dirfd, const char *path)
{
    return awsr_pm_match(set, dirfd, path, real_stat, NULL);
}

static void test_real_tree(void **state)
{
    struct tree *t = *state;
    char p[PATH_MAX * 2];
    struct awsr_pm_set set;

    /* HOME is the symlink (as botocore sees it); programs may use the real path. */
    awsr_pm_build(&set, t->link, NULL, NULL, NULL);
    awsr_pm_cache_ids(&set, real_stat, NULL);
    assert_true(set.t[0].id_known);

    snprintf(p, sizeof p, "%s/.aws/credentials", t->link);
    assert_true(match_real(&set, AT_FDCWD, p));
    snprintf(p, sizeof p, "%s/.aws/credentials", t->home);   /* canonical spelling */
    assert_true(match_real(&set, AT_FDCWD, p));              /* the file does not exist */
    snprintf(p, sizeof p, "%s/other/../home/.aws/credentials", t->root);
    assert_true(match_real(&set, AT_FDCWD, p));
    snprintf(p, sizeof p, "%s/other/credentials", t->root);
    assert_false(match_real(&set, AT_FDCWD, p));

    /* Relative to the cwd. */
    assert_int_equal(chdir(t->home), 0);
    assert_true(match_real(&set, AT_FDCWD, ".aws/credentials"));
    assert_true(match_real(&set, AT_FDCWD, "./.aws/../.aws/credentials"));
    assert_false(match_real(&set, AT_FDCWD, "credentials"));
    snprintf(p, sizeof p, "%s/.aws", t->home);
    assert_int_equal(chdir(p), 0);
    assert_true(match_real(&set, AT_FDCWD, "credentials"));

    /* openat with a directory fd, and with a fd of another directory. */
    int dfd = open(p, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    assert_true(match_real(&set, dfd, "credentials"));
    close(dfd);
    dfd = open(t->home, O_RDONLY | O_DIRECTORY);
    assert_true(match_real(&set, dfd, ".aws/credentials"));
    assert_false(match_real(&set, dfd, "credentials"));
    close(dfd);
    assert_false(match_real(&set, 9999, "credentials"));      /* bad fd: no match */
}

static void test_real_shared_file_relative(void **state)
{
    struct tree *t = *state;
    char p[PATH_MAX * 2];
    struct awsr_pm_set set;

    /* A relative AWS_SHARED_CREDENTIALS_FILE follows the cwd of each call. */
    awsr_pm_build(&set, NULL, "conf/shared.ini", NULL, NULL);
    awsr_pm_cache_ids(&set, real_stat, NULL);
    assert_false(set.t[0].id_known);
    snprintf(p, sizeof p, "%s/conf", t->home);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(chdir(t->home), 0);
    assert_true(match_real(&set, AT_FDCWD, "conf/shared.ini"));
    snprintf(p, sizeof p, "%s/conf/shared.ini", t->link);
    assert_true(match_real(&set, AT_FDCWD, p));
    assert_int_equal(chdir(t->root), 0);
    assert_false(match_real(&set, AT_FDCWD, p));              /* conf/ is elsewhere now */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_last_component),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_build_targets),
        cmocka_unit_test(test_add_path),
        cmocka_unit_test(test_literal_matches),
        cmocka_unit_test(test_unrelated_paths_make_no_stat),
        cmocka_unit_test(test_identity_match),
        cmocka_unit_test(test_uncached_target_looked_up),
        cmocka_unit_test(test_long_paths),
        cmocka_unit_test(test_keep),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_build_expands_the_shared_file),
        cmocka_unit_test(test_normalize_in_place),
        cmocka_unit_test(test_add_links),
        cmocka_unit_test_setup_teardown(test_real_tree, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_real_shared_file_relative, tree_setup,
                                        tree_teardown),
    };
    return cmocka_run_group_tests_name("pathmatch", tests, NULL, NULL);
}
