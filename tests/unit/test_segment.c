/* test_segment.c - the shared segment: layout, writer (shim/segment.c) and reader
 * (shim/preload/segment_read.c + env.c compiled in here, getenv renamed), the generation
 * rules, hostile segments, a writer killed mid-update, lazy requests, the sweep of dead
 * launchers' leftovers, and the credentials file's text. */
#define AWSR_SHIM_TESTING 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "credfile.h"
#include "segment.h"

/* The reader side, with its exported getenv renamed so the test binary keeps libc's. */
#define getenv awsr_test_getenv
#define secure_getenv awsr_test_secure_getenv
#include "../../shim/preload/env.c"
#include "../../shim/preload/segment_read.c"
#include "../../shim/preload/clock.c"
#undef getenv
#undef secure_getenv

static char runtime_dir[64];

/* A fresh process: no attachment, no snapshot, nothing classified (environ is kept). */
static void reset_reader(void)
{
    awsr_seg_reset_for_tests();
    t_snap = NULL;
    g_secure = -1;
    memset(g_inst, 0, sizeof g_inst);
    memset(t_slot, 0, sizeof t_slot);
    g_owner_ready = OWNER_UNKNOWN;
}

static const char *const our_vars[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION", "AWS_SESSION_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION",
};

static void clear_our_vars(void)
{
    for (size_t i = 0; i < sizeof our_vars / sizeof *our_vars; i++)
        unsetenv(our_vars[i]);
}

/* Set by new_segment(false): the next publish_gen also writes that generation into
 * environ, as the launcher does for its command before exec. */
static bool launcher_env;

/* The real environment (libc), for checking what the shim would fall back to. */
static const char *real_env(const char *name)
{
    return getenv(name);
}

static int setup_all(void **state)
{
    (void)state;
    snprintf(runtime_dir, sizeof runtime_dir, "/dev/shm/awsr-test-seg-XXXXXX"); /* a tmpfs, like /run/user/UID */
    if (!mkdtemp(runtime_dir))
        return -1;
    chmod(runtime_dir, 0700);
    setenv("XDG_RUNTIME_DIR", runtime_dir, 1);
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    /* What dead writers of the tests left there, too young for a sweep to take. */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", runtime_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void creds_for(struct awsr_creds *c, char *akid, char *secret, char *token, int gen,
                      time_t expiration)
{
    sprintf(akid, "ASIAGEN%016d", gen);
    sprintf(secret, "secret/%d/abcdef", gen);
    sprintf(token, "token-%d-", gen);
    size_t n = strlen(token);
    memset(token + n, 'x', 1800 - n); /* a realistic 1.8 KiB token */
    token[1800] = '\0';
    c->access_key_id = akid;
    c->secret_access_key = secret;
    c->session_token = token;
    c->expiration = expiration;
    c->account_id = NULL;
}

static void publish_gen(struct awsr_segment *seg, int gen, time_t expiration)
{
    static char akid[64], secret[64], token[2048];
    struct awsr_creds c;
    creds_for(&c, akid, secret, token, gen, expiration);
    struct awsr_served s = {"dev", &c};
    struct awsr_error err = {0};
    assert_int_equal(awsr_segment_publish(seg, "eu-west-1", &s, 1, &err), 0);
    if (launcher_env) {
        launcher_env = false;
        char iso[32] = "";
        if (expiration)
            awsr_time_format(expiration, iso, sizeof iso);
        const char *values[] = {akid, secret, token, token, iso, iso, "eu-west-1", "eu-west-1"};
        for (size_t i = 0; i < sizeof our_vars / sizeof *our_vars; i++)
            setenv(our_vars[i], values[i], 1);
    }
}

static int gen_of(const char *akid)
{
    assert_non_null(akid);
    assert_memory_equal(akid, "ASIAGEN", 7);
    return atoi(akid + 7);
}

/* Leftovers younger than 10 seconds are not swept: make `path` a minute old. */
static void age(const char *path)
{
    struct timespec old[2] = {{time(NULL) - 60, 0}, {time(NULL) - 60, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, old, AT_SYMLINK_NOFOLLOW), 0);
}

/* The end of a case: the segment gone, environ and the reader as a fresh process has them. */
static void finish(struct awsr_segment *seg)
{
    awsr_segment_destroy(seg);
    clear_our_vars();
    reset_reader();
}

static struct awsr_segment *new_segment(bool lazy)
{
    struct awsr_segment *seg = NULL;
    struct awsr_error err = {0};
    assert_int_equal(awsr_segment_create(&seg, lazy, &err), 0);
    setenv(AWSR_SEGMENT_ENV, awsr_segment_name(seg), 1);
    clear_our_vars();
    launcher_env = !lazy;
    reset_reader();
    return seg;
}

/* A process of a tree whose launcher published generation `gen` (an hour to live) and
 * put it in environ, after the shim's constructor ran. */
static struct awsr_segment *started_process(int gen)
{
    struct awsr_segment *seg = new_segment(false);
    publish_gen(seg, gen, time(NULL) + 3600);
    awsr_shim_env_init();
    return seg;
}

static void shm_path(const struct awsr_segment *seg, char *out, size_t size)
{
    snprintf(out, size, "/dev/shm/%s", awsr_segment_name(seg));
}

/* Opens the segment read-write the way a (buggy or hostile) other writer could. */
static struct awsr_seg *map_rw(const struct awsr_segment *seg)
{
    char path[128];
    shm_path(seg, path, sizeof path);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    void *p = mmap(NULL, sizeof(struct awsr_seg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    assert_true(p != MAP_FAILED);
    return p;
}

static void test_layout(void **state)
{
    (void)state;
    assert_int_equal(sizeof(struct awsr_seg), 37888);
    assert_int_equal(sizeof(struct awsr_seg_header), 1024);
    assert_int_equal(sizeof(struct awsr_seg_slot), 18432);
    assert_int_equal(offsetof(struct awsr_seg, slot[1]), 1024 + 18432);
    assert_int_equal(offsetof(struct awsr_seg_slot, session_token), 1152);
    /* A reader's snapshot of a slot with a 2 KiB token fits in one page. */
    assert_true(AWSR_SNAP_LENS_ROOM + offsetof(struct awsr_seg_slot, session_token) + 2048 <= 4096);
    assert_true(AWSR_SEG_TOKEN_MAX >= 16384);
    uint64_t magic = AWSR_SEG_MAGIC;
    assert_memory_equal(&magic, "AWSRSEG1", 8); /* little-endian hosts */
    assert_string_equal(AWSR_SEG_ENV, AWSR_SEGMENT_ENV);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(false);
    time_t exp = time(NULL) + 3600;
    publish_gen(seg, 1, exp);

    char path[128];
    struct stat st;
    shm_path(seg, path, sizeof path);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, sizeof(struct awsr_seg));
    const char *cred = awsr_segment_credentials_path(seg);
    assert_int_equal(strncmp(cred, runtime_dir, strlen(runtime_dir)), 0);
    assert_int_equal(stat(cred, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", cred);
    *strrchr(dir, '/') = '\0';
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);

    setenv("SOME_OTHER", "other", 1);
    assert_int_equal(gen_of(awsr_test_getenv("AWS_ACCESS_KEY_ID")), 1);
    assert_string_equal(awsr_test_getenv("AWS_SECRET_ACCESS_KEY"), "secret/1/abcdef");
    assert_int_equal(strlen(awsr_test_getenv("AWS_SESSION_TOKEN")), 1800);
    assert_string_equal(awsr_test_getenv("AWS_SECURITY_TOKEN"),
                        awsr_test_getenv("AWS_SESSION_TOKEN"));
    char iso[32];
    awsr_time_format(exp, iso, sizeof iso);
    assert_string_equal(awsr_test_getenv("AWS_CREDENTIAL_EXPIRATION"), iso);
    assert_string_equal(awsr_test_getenv("AWS_SESSION_EXPIRATION"), iso);
    assert_string_equal(awsr_test_getenv("AWS_REGION"), "eu-west-1");
    assert_string_equal(awsr_test_getenv("AWS_DEFAULT_REGION"), "eu-west-1");
    assert_string_equal(awsr_test_getenv("SOME_OTHER"), "other");
    assert_null(awsr_test_getenv("AWS_NOT_OURS"));
    assert_null(awsr_test_getenv(""));
    assert_string_equal(awsr_test_secure_getenv("AWS_SECRET_ACCESS_KEY"), "secret/1/abcdef");
    assert_string_equal(awsr_shim_credentials_file(), cred);

    awsr_segment_destroy(seg);
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(stat(cred, &st), -1);
    assert_int_equal(stat(dir, &st), -1);
    clear_our_vars();
}

/* Session tokens have no documented maximum (session tags make them longer): up to
 * 16 KiB they are served whole; a longer one does not fit and is refused, not cut. */
static void test_large_token(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(false);
    static char token[AWSR_SEG_TOKEN_MAX + 1];
    memset(token, 'T', sizeof token - 1);
    token[AWSR_SEG_TOKEN_MAX - 1] = '\0'; /* the longest that fits */
    struct awsr_creds c = {.access_key_id = "ASIALARGE", .secret_access_key = "s",
                           .session_token = token, .expiration = time(NULL) + 3600};
    assert_true(awsr_segment_fits(&c));
    struct awsr_served served = {.profile = "p", .creds = &c};
    struct awsr_error err = {0};
    assert_int_equal(awsr_segment_publish(seg, "eu-west-1", &served, 1, &err), 0);
    setenv("AWS_SESSION_TOKEN", token, 1); /* as the launcher hands them on */
    setenv("AWS_SECURITY_TOKEN", token, 1);
    assert_int_equal(strlen(awsr_test_getenv("AWS_SESSION_TOKEN")), AWSR_SEG_TOKEN_MAX - 1);
    assert_string_equal(awsr_test_getenv("AWS_SECURITY_TOKEN"), token);
    token[AWSR_SEG_TOKEN_MAX - 1] = 'T';
    assert_false(awsr_segment_fits(&c));
    assert_int_equal(awsr_segment_publish(seg, "eu-west-1", &served, 1, &err), -1);
    awsr_segment_destroy(seg);
    clear_our_vars();
    reset_reader();
}

/* The process moves to a new generation only near expiry; a thread moves on reading the
 * key id; old pointers stay valid. */
static void test_generation_rule(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(false);
    publish_gen(seg, 1, time(NULL) + 3600);
    const char *a1 = awsr_test_getenv("AWS_ACCESS_KEY_ID");
    assert_int_equal(gen_of(a1), 1);
    publish_gen(seg, 2, time(NULL) + 3600);
    /* Generation 1 still has an hour: nothing moves. */
    assert_int_equal(gen_of(awsr_test_getenv("AWS_ACCESS_KEY_ID")), 1);

    /* A process whose snapshot is near expiry moves on the next key id read. */
    reset_reader();
    publish_gen(seg, 3, time(NULL) + 60);
    const char *a3 = awsr_test_getenv("AWS_ACCESS_KEY_ID");
    const char *s3 = awsr_test_getenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(gen_of(a3), 3);
    publish_gen(seg, 4, time(NULL) + 3600);
    /* The secret read alone keeps the thread on its generation... */
    assert_string_equal(awsr_test_getenv("AWS_SECRET_ACCESS_KEY"), "secret/3/abcdef");
    /* ...the key id read starts a new triple. */
    assert_int_equal(gen_of(awsr_test_getenv("AWS_ACCESS_KEY_ID")), 4);
    assert_string_equal(awsr_test_getenv("AWS_SECRET_ACCESS_KEY"), "secret/4/abcdef");
    assert_memory_equal(awsr_test_getenv("AWS_SESSION_TOKEN"), "token-4-", 8);
    /* Pointers handed out earlier still hold their generation. */
    assert_int_equal(gen_of(a3), 3);
    assert_string_equal(s3, "secret/3/abcdef");

    /* The launcher exits: processes keep their snapshot. */
    awsr_segment_destroy(seg);
    assert_int_equal(gen_of(awsr_test_getenv("AWS_ACCESS_KEY_ID")), 4);
}

/* Writes a segment by hand, then checks the reader refuses it and passes through. */
static void expect_ignored(struct awsr_segment *seg)
{
    reset_reader();
    setenv("AWS_ACCESS_KEY_ID", "FROM-ENVIRON", 1);
    assert_null(awsr_seg_attach());
    assert_string_equal(awsr_test_getenv("AWS_ACCESS_KEY_ID"), "FROM-ENVIRON");
    assert_null(awsr_shim_credentials_file());
    unsetenv("AWS_ACCESS_KEY_ID");
    awsr_segment_destroy(seg);
}

static void test_foreign_mode_ignored(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(false);
    publish_gen(seg, 1, 0);
    char path[128];
    shm_path(seg, path, sizeof path);
    assert_int_equal(chmod(path, 0644), 0);
    expect_ignored(seg);

    seg = new_segment(false);
    publish_gen(seg, 1, 0);
    shm_path(seg, path, sizeof path);
    assert_int_equal(chmod(path, 0660), 0);
    expect_ignored(seg);
}

static void test_foreign_owner_ignored(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    struct awsr_segment *seg = new_segment(false);
    publish_gen(seg, 1, 0);
    char path[128];
    shm_path(seg, path, sizeof path);
    assert_int_equal(chown(path, 65534, 65534), 0);
    expect_ignored(seg);
}

static void test_stat_checks(void **state)
{
    (void)state;
    struct stat st = {0};
    st.st_mode = S_IFREG | 0600;
    st.st_uid = 1000;
    st.st_size = sizeof(struct awsr_seg);
    assert_true(awsr_seg_stat_ok(&st, 1000));
    assert_false(awsr_seg_stat_ok(&st, 1001));
    st.st_mode = S_IFREG | 0400;
    assert_true(awsr_seg_stat_ok(&st, 1000));
    st.st_mode = S_IFREG | 0604;
    assert_false(awsr_seg_stat_ok(&st, 1000));
    st.st_mode = S_IFREG | 0620;
    assert_false(awsr_seg_stat_ok(&st, 1000));
    st.st_mode = S_IFIFO | 0600;
    assert_false(awsr_seg_stat_ok(&st, 1000));
    st.st_mode = S_IFREG | 0600;
    st.st_size = sizeof(struct awsr_seg) + 4096;
    assert_false(awsr_seg_stat_ok(&st, 1000));
}

static void test_bad_magic_version_size_ignored(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(false);
    publish_gen(seg, 1, 0);
    struct awsr_seg *m = map_rw(seg);
    m->hdr.magic ^= 1;
    expect_ignored(seg);
    munmap(m, sizeof *m);

    seg = new_segment(false);
    publish_gen(seg, 1, 0);
    m = map_rw(seg);
    m->hdr.version = AWSR_SEG_VERSION + 1;
    expect_ignored(seg);
    munmap(m, sizeof *m);

    seg = new_segment(false);
    publish_gen(seg, 1, 0);
    char path[128];
    shm_path(seg, path, sizeof path);
    assert_int_equal(truncate(path, sizeof(struct awsr_seg) + 4096), 0);
    expect_ignored(seg);

    /* A name that tries to leave /dev/shm. */
    seg = new_segment(false);
    setenv(AWSR_SEGMENT_ENV, "../../etc/passwd", 1);
    expect_ignored(seg);
}

/* Regression (fuzz_segment_reader): expirations at the ends of int64_t are compared without
 * signed overflow (UBSan in check-asan catches a regression), and still serve the slot. */
static void test_extreme_expiration(void **state)
{
    (void)state;
    static const int64_t extremes[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - 1};
    for (size_t i = 0; i < sizeof extremes / sizeof *extremes; i++) {
        struct awsr_segment *seg = new_segment(false);
        publish_gen(seg, 1, time(NULL) + 3600);
        struct awsr_seg *m = map_rw(seg);
        m->slot[m->hdr.current & 1].expiration = extremes[i];
        reset_reader();
        assert_int_equal(gen_of(awsr_test_getenv("AWS_ACCESS_KEY_ID")), 1);
        assert_string_equal(awsr_test_getenv("AWS_SECRET_ACCESS_KEY"), "secret/1/abcdef");
        assert_int_equal(gen_of(awsr_test_getenv("AWS_ACCESS_KEY_ID")), 1);
        munmap(m, sizeof *m);
        awsr_segment_destroy(seg);
        reset_reader();
    }
}

/* A writer killed mid-update leaves an odd seq and garbage on the inactive slot only. */
static void test_killed_writer(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(false);
    publish_gen(seg, 1, time(NULL) + 30); /* near expiry: readers look at every change */
    struct awsr_seg *m = map_rw(seg);
    uint32_t cur = m->hdr.current;
    struct awsr_seg_slot *inactive = &m->slot[cur ^ 1];
    inactive->seq |= 1;
    inactive->generation = 99;
    memset(inactive->access_key_id, 'Z', sizeof inactive->access_key_id);
    memset(inactive->secret_access_key, 'Y', sizeof inactive->secret_access_key);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gen_of(awsr_test_getenv("AWS_ACCESS_KEY_ID")), 1);
        assert_string_equal(awsr_test_getenv("AWS_SECRET_ACCESS_KEY"), "secret/1/abcdef");
    }
    /* A fresh process attaching now also reads generation 1. */
    reset_reader();
    assert_int_equal(gen_of(awsr_test_getenv("AWS_ACCESS_KEY_ID")), 1);

    /* Even the current slot left odd (flip torn) does not hand out a torn copy: a process
     * with no snapshot yet falls back to its environment. */
    m->slot[cur].seq |= 1;
    reset_reader();
    setenv("AWS_ACCESS_KEY_ID", "FROM-ENVIRON", 1);
    assert_string_equal(awsr_test_getenv("AWS_ACCESS_KEY_ID"), "FROM-ENVIRON");
    unsetenv("AWS_ACCESS_KEY_ID");
    munmap(m, sizeof *m);
    awsr_segment_destroy(seg);
}

/* The constructor's work: environ gets the current values (stale ones replaced). */
static void test_env_init(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(false);
    publish_gen(seg, 6, time(NULL) + 3600); /* environ: generation 6, from an old parent */
    publish_gen(seg, 7, time(NULL) + 3600);
    awsr_shim_env_init();
    assert_int_equal(gen_of(real_env("AWS_ACCESS_KEY_ID")), 7);
    assert_string_equal(real_env("AWS_SECRET_ACCESS_KEY"), "secret/7/abcdef");
    assert_memory_equal(real_env("AWS_SESSION_TOKEN"), "token-7-", 8);
    assert_memory_equal(real_env("AWS_SECURITY_TOKEN"), "token-7-", 8);
    assert_string_equal(real_env("AWS_REGION"), "eu-west-1");
    assert_string_equal(real_env("AWS_CREDENTIAL_EXPIRATION"),
                        real_env("AWS_SESSION_EXPIRATION"));
    assert_string_equal(awsr_test_getenv("AWS_SESSION_EXPIRATION"),
                        awsr_test_getenv("AWS_CREDENTIAL_EXPIRATION"));
    finish(seg);
}

/* What a parent set itself is the program's: kept by the constructor, answered from
 * environ; a removal stays a removal; stale tree values next to them are still renewed. */
static void test_env_init_keeps_the_programs_values(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(false);
    publish_gen(seg, 1, time(NULL) + 3600);
    publish_gen(seg, 2, time(NULL) + 3600);
    setenv("AWS_ACCESS_KEY_ID", "MINIOKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "miniosecret", 1);
    setenv("AWS_REGION", "eu-central-1", 1);
    unsetenv("AWS_SECURITY_TOKEN");
    awsr_shim_env_init();
    assert_string_equal(real_env("AWS_ACCESS_KEY_ID"), "MINIOKEY");
    assert_string_equal(awsr_test_getenv("AWS_ACCESS_KEY_ID"), "MINIOKEY");
    assert_string_equal(awsr_test_getenv("AWS_SECRET_ACCESS_KEY"), "miniosecret");
    assert_string_equal(awsr_test_getenv("AWS_REGION"), "eu-central-1");
    assert_string_equal(awsr_test_getenv("AWS_DEFAULT_REGION"), "eu-west-1");
    assert_null(real_env("AWS_SECURITY_TOKEN"));
    assert_null(awsr_test_getenv("AWS_SECURITY_TOKEN"));
    /* Generation 1's token (stale) is the tree's: renewed in environ and answered live. */
    assert_memory_equal(real_env("AWS_SESSION_TOKEN"), "token-2-", 8);
    assert_memory_equal(awsr_test_getenv("AWS_SESSION_TOKEN"), "token-2-", 8);
    finish(seg);
}

/* A process's own setenv, putenv, unsetenv and clearenv win over the tree's values. */
static void test_program_changes_win(void **state)
{
    (void)state;
    struct awsr_segment *seg = started_process(1);
    assert_int_equal(gen_of(awsr_test_getenv("AWS_ACCESS_KEY_ID")), 1);
    setenv("AWS_ACCESS_KEY_ID", "MINIOKEY", 1);
    setenv("AWS_REGION", "eu-central-1", 1);
    assert_string_equal(awsr_test_getenv("AWS_ACCESS_KEY_ID"), "MINIOKEY");
    assert_string_equal(awsr_test_getenv("AWS_REGION"), "eu-central-1");
    unsetenv("AWS_SESSION_TOKEN");
    assert_null(awsr_test_getenv("AWS_SESSION_TOKEN"));
    static char put[] = "AWS_SECRET_ACCESS_KEY=put-secret";
    putenv(put);
    assert_string_equal(awsr_test_getenv("AWS_SECRET_ACCESS_KEY"), "put-secret");
    /* Untouched variables stay live: the next generation is served once it is due. */
    assert_string_equal(awsr_test_getenv("AWS_SECURITY_TOKEN"), t_snap->session_token);
    clearenv();
    for (size_t i = 0; i < sizeof our_vars / sizeof *our_vars; i++)
        assert_null(awsr_test_getenv(our_vars[i]));
    setenv("XDG_RUNTIME_DIR", runtime_dir, 1);
    finish(seg);
}

/* Lazy mode (values absent until resolved): absence is not a removal, and a value the
 * program sets later is its own, also once it unsets it again. */
static void test_lazy_absent_is_the_trees(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(true);
    publish_gen(seg, 1, time(NULL) + 3600);
    awsr_shim_env_init(); /* a process started after the resolution: environ filled */
    assert_int_equal(gen_of(real_env("AWS_ACCESS_KEY_ID")), 1);
    clear_our_vars();
    reset_reader(); /* one started before it, with nothing in environ */
    awsr_shim_env_init();
    assert_int_equal(gen_of(awsr_test_getenv("AWS_ACCESS_KEY_ID")), 1);
    setenv("AWS_SESSION_TOKEN", "mine", 1);
    assert_string_equal(awsr_test_getenv("AWS_SESSION_TOKEN"), "mine");
    unsetenv("AWS_SESSION_TOKEN");
    assert_null(awsr_test_getenv("AWS_SESSION_TOKEN"));
    /* A child given the tree's key id but no token: the token was removed. */
    clear_our_vars();
    setenv("AWS_ACCESS_KEY_ID", t_snap->access_key_id, 1);
    reset_reader();
    awsr_shim_env_init();
    assert_null(awsr_test_getenv("AWS_SESSION_TOKEN"));
    assert_int_equal(gen_of(awsr_test_getenv("AWS_ACCESS_KEY_ID")), 1);
    finish(seg);
}

/* The writer records each generation's values; readers recognise the last
 * AWSR_SEG_HISTORY generations' values and nothing else. */
static void test_issued_history(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(true);
    int last = AWSR_SEG_HISTORY + 5;
    for (int g = 1; g <= last; g++)
        publish_gen(seg, g, 1000000 + g);
    assert_non_null(awsr_seg_attach());
    char akid[64], secret[64], token[2048], iso[32];
    struct awsr_creds c;
    for (int g = 1; g <= last; g++) {
        bool kept = g > last - AWSR_SEG_HISTORY;
        creds_for(&c, akid, secret, token, g, 0);
        awsr_time_format(1000000 + g, iso, sizeof iso);
        assert_int_equal(awsr_seg_issued(AWSR_ISSUED_AKID, akid), kept);
        assert_int_equal(awsr_seg_issued(AWSR_ISSUED_SECRET, secret), kept);
        assert_int_equal(awsr_seg_issued(AWSR_ISSUED_TOKEN, token), kept);
        assert_int_equal(awsr_seg_issued(AWSR_ISSUED_EXPIRY, iso), kept);
        assert_false(awsr_seg_issued(AWSR_ISSUED_SECRET, akid)); /* per field */
    }
    assert_false(awsr_seg_issued(AWSR_ISSUED_AKID, "MINIOKEY"));
    assert_false(awsr_seg_issued(AWSR_ISSUED_AKID, ""));
    assert_int_not_equal(awsr_seg_value_hash(""), 0);
    awsr_segment_destroy(seg);
    reset_reader();
}

/* The exec wrappers' envp: stale tree values renewed, the program's kept, the rest (and
 * an envp with nothing stale) passed on as it is. */
static void test_envp_renewal(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(true);
    publish_gen(seg, 1, time(NULL) + 3600);
    static char old_akid[64], old_token[2100], mine[] = "AWS_SECRET_ACCESS_KEY=mine";
    snprintf(old_akid, sizeof old_akid, "AWS_ACCESS_KEY_ID=ASIAGEN%016d", 1);
    char a[64], sec[64], tok[2048];
    struct awsr_creds c;
    creds_for(&c, a, sec, tok, 1, 0);
    snprintf(old_token, sizeof old_token, "AWS_SECURITY_TOKEN=%s", tok);
    char *envp[] = {"PATH=/bin", old_akid, mine, old_token, "AWS_REGION=eu-west-3", NULL};
    /* Generation 1 is current: nothing to do. */
    {
        AWSR_RENEWED_ENVP(out, envp);
        assert_ptr_equal(out, envp);
    }
    reset_reader();
    publish_gen(seg, 2, time(NULL) + 3600);
    errno = 1234;
    {
        AWSR_RENEWED_ENVP(out, envp);
        assert_int_equal(errno, 1234);
        assert_ptr_not_equal(out, envp);
        assert_string_equal(out[0], "PATH=/bin");
        assert_string_equal(out[1], "AWS_ACCESS_KEY_ID=ASIAGEN0000000000000002");
        assert_ptr_equal(out[2], mine);
        assert_memory_equal(out[3], "AWS_SECURITY_TOKEN=token-2-", 27);
        assert_string_equal(out[4], "AWS_REGION=eu-west-3");
        assert_null(out[5]);
    }
    {
        char *const *none = NULL;
        AWSR_RENEWED_ENVP(out, none);
        assert_null(out);
    }
    /* A large environment (thousands of entries, as some CI runners export) is renewed too,
     * its stale entry wherever it is; beyond AWSR_ENVP_MAX entries it is passed on as is. */
    size_t big = AWSR_ENVP_MAX + 1;
    char **large = calloc(big + 1, sizeof *large);
    assert_non_null(large);
    for (size_t i = 0; i < big; i++)
        large[i] = "FILLER=x";
    large[3000] = old_akid;
    large[3001] = NULL; /* 3001 entries */
    {
        AWSR_RENEWED_ENVP(out, large);
        assert_ptr_not_equal(out, large);
        assert_string_equal(out[3000], "AWS_ACCESS_KEY_ID=ASIAGEN0000000000000002");
        assert_ptr_equal(out[2999], large[2999]);
        assert_null(out[3001]);
    }
    large[3001] = "FILLER=x"; /* AWSR_ENVP_MAX + 1 entries */
    {
        AWSR_RENEWED_ENVP(out, large);
        assert_ptr_equal(out, large);
    }
    free(large);
    awsr_segment_destroy(seg);
    reset_reader();
}

/* A thread that never reads the key id leaves expired values as soon as a newer
 * generation exists (no grace period). */
static void test_expired_thread_snapshot_moves(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(false);
    publish_gen(seg, 1, time(NULL) - 1); /* already expired */
    assert_int_equal(gen_of(awsr_test_getenv("AWS_ACCESS_KEY_ID")), 1);
    assert_memory_equal(awsr_test_getenv("AWS_SESSION_TOKEN"), "token-1-", 8);
    publish_gen(seg, 2, time(NULL) + 3600);
    assert_memory_equal(awsr_test_getenv("AWS_SESSION_TOKEN"), "token-2-", 8);
    assert_string_equal(awsr_test_getenv("AWS_SECRET_ACCESS_KEY"), "secret/2/abcdef");
    assert_int_equal(gen_of(awsr_test_getenv("AWS_ACCESS_KEY_ID")), 2);
    finish(seg);
}

/* Length-first compares: a value equal to the snapshot's is left alone (same pointer);
 * one that only starts like it, or differs in its last byte, was not issued by the tree:
 * the program's, kept. The snapshot records each string's length. */
static void test_env_init_compares(void **state)
{
    (void)state;
    struct awsr_segment *seg = started_process(3);
    const struct awsr_seg_slot *s = t_snap;
    assert_non_null(s);
    const struct awsr_snap_lens *len = awsr_seg_snapshot_lens(s);
    assert_int_equal(len->access_key_id, strlen(s->access_key_id));
    assert_int_equal(len->secret_access_key, strlen(s->secret_access_key));
    assert_int_equal(len->session_token, strlen(s->session_token));
    assert_int_equal(len->expiration_text, strlen(s->expiration_text));
    assert_int_equal(len->region, strlen(s->region));

    const char *akid = real_env("AWS_ACCESS_KEY_ID");
    static char longer[256], last[AWSR_SEG_TOKEN_MAX];
    snprintf(longer, sizeof longer, "%sX", s->secret_access_key);
    snprintf(last, sizeof last, "%s", s->session_token);
    last[strlen(last) - 1] ^= 1;
    setenv("AWS_SECRET_ACCESS_KEY", longer, 1);
    setenv("AWS_SECURITY_TOKEN", last, 1);
    setenv("AWS_REGION", "eu-west-", 1); /* a prefix of the snapshot's */
    reset_reader();
    awsr_shim_env_init();
    assert_ptr_equal(real_env("AWS_ACCESS_KEY_ID"), akid);   /* equal: not rewritten */
    assert_string_equal(real_env("AWS_SECRET_ACCESS_KEY"), longer);
    assert_string_equal(real_env("AWS_SECURITY_TOKEN"), last);
    assert_string_equal(real_env("AWS_SESSION_TOKEN"), s->session_token);
    assert_string_equal(real_env("AWS_REGION"), "eu-west-");
    finish(seg);
}

/* AT_SECURE read from the vector after the initial environment, as the constructor gets it;
 * -1 (ask getauxval) whenever that layout cannot be trusted. */
static void test_secure_from_stack(void **state)
{
    (void)state;
    /* argc, argv..., NULL, envp..., NULL, [NULLs left by an in-place unsetenv], auxv */
    char a0[] = "prog", e0[] = "A=1", e1[] = "B=2";
    unsigned long stack[32];
    size_t k = 0;
    stack[k++] = (unsigned long)a0;
    stack[k++] = 0;
    size_t env_at = k;
    stack[k++] = (unsigned long)e0;
    stack[k++] = (unsigned long)e1;
    stack[k++] = 0;
    stack[k++] = 0; /* an unsetenv shifted the entries down */
    size_t aux_at = k;
    stack[k++] = AT_PAGESZ;
    stack[k++] = 4096;
    stack[k++] = AT_SECURE;
    stack[k++] = 1;
    stack[k++] = AT_NULL;
    stack[k++] = 0;
    char **argv = (char **)(void *)stack, **envp = (char **)(void *)(stack + env_at);
    assert_int_equal(secure_from_stack(1, argv, envp), 1);
    stack[aux_at + 3] = 0;
    assert_int_equal(secure_from_stack(1, argv, envp), 0);
    assert_int_equal(secure_from_stack(2, argv, envp), -1);    /* envp not after argv */
    assert_int_equal(secure_from_stack(1, argv, NULL), -1);
    assert_int_equal(secure_from_stack(0, NULL, NULL), -1);
    stack[aux_at + 2] = AT_HWCAP;                                /* no AT_SECURE at all */
    assert_int_equal(secure_from_stack(1, argv, envp), -1);
}

static void test_secure_process_passes_through(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(false);
    publish_gen(seg, 1, 0);
    setenv("AWS_ACCESS_KEY_ID", "FROM-ENVIRON", 1);
    g_secure = 1; /* as if AT_SECURE */
    assert_string_equal(awsr_test_getenv("AWS_ACCESS_KEY_ID"), "FROM-ENVIRON");
    assert_null(awsr_test_secure_getenv("AWS_ACCESS_KEY_ID"));
    assert_null(awsr_test_secure_getenv("HOME"));
    assert_null(awsr_shim_credentials_file());
    unsetenv("AWS_ACCESS_KEY_ID");
    awsr_segment_destroy(seg);
    reset_reader();
}

struct asker {
    const char *value;
};

static void *ask_thread(void *arg)
{
    struct asker *a = arg;
    a->value = awsr_test_getenv("AWS_ACCESS_KEY_ID");
    return NULL;
}

/* Lazy: the constructor does not ask; a getenv asks once through the FIFO and waits; the
 * launcher's publish answers it. */
static void test_lazy_request(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(true);
    int fd = awsr_segment_request_fd(seg);
    assert_true(fd >= 0);
    awsr_shim_env_init();
    assert_false(awsr_segment_take_request(seg)); /* nobody asked yet */
    /* A region read does not ask either. */
    assert_null(awsr_test_getenv("AWS_REGION"));
    assert_false(awsr_segment_take_request(seg));

    struct asker a = {0};
    pthread_t th;
    pthread_create(&th, NULL, ask_thread, &a);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
    assert_true(awsr_segment_take_request(seg));
    publish_gen(seg, 1, time(NULL) + 3600);
    pthread_join(th, NULL);
    assert_int_equal(gen_of(a.value), 1);
    assert_false(awsr_segment_take_request(seg)); /* answered: no second resolution */
    struct stat st;
    assert_int_equal(stat(awsr_shim_credentials_file(), &st), 0);
    awsr_segment_destroy(seg);
}

static void test_lazy_failure(void **state)
{
    (void)state;
    struct awsr_segment *seg = new_segment(true);
    struct asker a = {.value = "unchanged"};
    pthread_t th;
    pthread_create(&th, NULL, ask_thread, &a);
    struct pollfd p = {.fd = awsr_segment_request_fd(seg), .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
    assert_true(awsr_segment_take_request(seg));
    awsr_segment_publish_failure(seg);
    pthread_join(th, NULL);
    assert_null(a.value);
    /* Later askers do not wait again. */
    assert_null(awsr_shim_credentials_file());
    awsr_segment_destroy(seg);
}

/* A launcher that dies while askers wait: they stop waiting (its lock is released). */
static void test_lazy_launcher_gone(void **state)
{
    (void)state;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct awsr_segment *seg;
        struct awsr_error err = {0};
        if (awsr_segment_create(&seg, true, &err) < 0)
            _exit(1);
        char name[AWSR_SEG_NAME_MAX] = {0};
        snprintf(name, sizeof name, "%s", awsr_segment_name(seg));
        if (write(pipefd[1], name, sizeof name) != (ssize_t)sizeof name)
            _exit(1);
        sleep(1);
        _exit(0); /* killed launcher: no destroy */
    }
    char name[AWSR_SEG_NAME_MAX];
    assert_int_equal(read(pipefd[0], name, sizeof name), (ssize_t)sizeof name);
    setenv(AWSR_SEGMENT_ENV, name, 1);
    reset_reader();
    awsr_seg_wait_seconds = 30;
    time_t start = time(NULL);
    assert_null(awsr_test_getenv("AWS_ACCESS_KEY_ID"));
    assert_true(time(NULL) - start < 20); /* gave up because the launcher died */
    int status;
    waitpid(pid, &status, 0);
    close(pipefd[0]);
    close(pipefd[1]);
    /* Its leftovers are swept by the next launcher. */
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    awsr_segment_sweep();
    assert_int_equal(stat(path, &st), 0); /* too young to be swept */
    age(path);
    awsr_segment_sweep();
    assert_int_equal(stat(path, &st), -1);
}

static pid_t dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

static void make_leftover(const char *dir, pid_t pid, const char *hex, bool as_dir, char *path,
                          size_t size)
{
    snprintf(path, size, "%s/awsrole-%ld-%s", dir, (long)pid, hex);
    if (as_dir) {
        assert_int_equal(mkdir(path, 0700), 0);
        char f[600];
        snprintf(f, sizeof f, "%s/credentials", path);
        int fd = open(f, O_WRONLY | O_CREAT, 0600);
        assert_true(fd >= 0);
        close(fd);
    } else {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        close(fd);
    }
    age(path);
}

static void test_sweep(void **state)
{
    (void)state;
    pid_t dead = dead_pid();
    char shm_dead[512], dir_dead[512], shm_alive[512], shm_locked[512], tmp_dead[512];
    const char *h1 = "0123456789abcdef0123456789abcdef";
    const char *h2 = "fedcba9876543210fedcba9876543210";
    const char *h3 = "00000000000000000000000000000000";
    make_leftover("/dev/shm", dead, h1, false, shm_dead, sizeof shm_dead);
    make_leftover(runtime_dir, dead, h1, true, dir_dead, sizeof dir_dead);
    make_leftover("/tmp", dead, h2, true, tmp_dead, sizeof tmp_dead);
    make_leftover("/dev/shm", getpid(), h2, false, shm_alive, sizeof shm_alive);
    /* Dead pid but a live lock (a launcher in another pid namespace): kept. */
    make_leftover("/dev/shm", dead, h3, false, shm_locked, sizeof shm_locked);
    int lock_fd = open(shm_locked, O_RDONLY);
    assert_int_equal(flock(lock_fd, LOCK_EX), 0);

    struct awsr_segment *seg = new_segment(false);
    struct stat st;
    assert_int_equal(stat(shm_dead, &st), 0); /* creating does not sweep */
    awsr_segment_sweep();
    assert_int_equal(stat(shm_dead, &st), -1);
    assert_int_equal(stat(dir_dead, &st), -1);
    assert_int_equal(stat(tmp_dead, &st), -1);
    assert_int_equal(stat(shm_alive, &st), 0);
    assert_int_equal(stat(shm_locked, &st), 0);
    awsr_segment_destroy(seg);
    close(lock_fd);
    unlink(shm_alive);
    unlink(shm_locked);
}

static void test_credfile_render(void **state)
{
    (void)state;
    struct awsr_creds c1 = {"AKID1", "SECRET1", "TOKEN1", 0, NULL};
    struct awsr_creds c2 = {"AKID2", "SECRET2", NULL, 0, NULL};
    struct awsr_creds evil = {"AKID3\n[default]", "SECRET3", NULL, 0, NULL};
    struct awsr_served s[] = {
        {"dev", &c1},      {"a]b]", &c2},     {"bad\nname", &c2}, {" lead", &c2},
        {"default", &c2},  {"dev", &c2},      {"ctl\x1b[31m", &c2}, {"ok", &evil},
        {"", &c2},         {"prod ops", &c2},
    };
    size_t len = 0;
    char *text = awsr_credfile_render(s, sizeof s / sizeof *s, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    assert_non_null(strstr(text, "[default]\naws_access_key_id = AKID1\n"
                                 "aws_secret_access_key = SECRET1\naws_session_token = TOKEN1\n"));
    assert_non_null(strstr(text, "\n[dev]\naws_access_key_id = AKID1\n"));
    assert_non_null(strstr(text, "\n[a]b]]\naws_access_key_id = AKID2\n"
                                 "aws_secret_access_key = SECRET2\n"));
    assert_non_null(strstr(text, "\n[prod ops]\n"));
    assert_null(strstr(text, "bad"));
    assert_null(strstr(text, "lead"));
    assert_null(strstr(text, "ctl"));
    assert_null(strstr(text, "AKID3"));
    assert_null(strstr(text, "\x1b"));
    /* Exactly one [default] and one [dev]. */
    assert_null(strstr(strstr(text, "[default]") + 1, "[default]"));
    assert_null(strstr(strstr(text, "[dev]") + 1, "[dev]"));
    /* Seven sections were left out, each said in a comment. */
    int comments = 0;
    for (const char *p = text; (p = strstr(p, "# served profile #")); p++)
        comments++;
    assert_int_equal(comments, 7);
    /* Every line is a comment, blank, a header or a key = value. */
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_true(line[0] == '#' || line[0] == '\n' || line[0] == '[' ||
                    strncmp(line, "aws_", 4) == 0);
        line = nl + 1;
    }
    explicit_bzero(text, len);
    free(text);

    assert_true(awsr_credfile_name_ok("a]b]"));
    assert_false(awsr_credfile_name_ok("\tx"));
    assert_false(awsr_credfile_name_ok("x\r"));
    assert_false(awsr_credfile_name_ok(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_large_token),
        cmocka_unit_test(test_generation_rule),
        cmocka_unit_test(test_foreign_mode_ignored),
        cmocka_unit_test(test_foreign_owner_ignored),
        cmocka_unit_test(test_stat_checks),
        cmocka_unit_test(test_bad_magic_version_size_ignored),
        cmocka_unit_test(test_extreme_expiration),
        cmocka_unit_test(test_killed_writer),
        cmocka_unit_test(test_env_init),
        cmocka_unit_test(test_env_init_compares),
        cmocka_unit_test(test_env_init_keeps_the_programs_values),
        cmocka_unit_test(test_program_changes_win),
        cmocka_unit_test(test_lazy_absent_is_the_trees),
        cmocka_unit_test(test_issued_history),
        cmocka_unit_test(test_expired_thread_snapshot_moves),
        cmocka_unit_test(test_envp_renewal),
        cmocka_unit_test(test_secure_from_stack),
        cmocka_unit_test(test_secure_process_passes_through),
        cmocka_unit_test(test_lazy_request),
        cmocka_unit_test(test_lazy_failure),
        cmocka_unit_test(test_lazy_launcher_gone),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_credfile_render),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
