/* test_cache.c - the on-disk session cache: location, round trip, permissions, refusal of
 * unsafe directories, misses for corrupt/near-expiry/unsafe entries, symlinks never
 * followed, clean failure when the directory is not writable, flock between processes. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cache.h"
#include "creds.h"
#include "error.h"

#define NOBODY 65534

struct fixture {
    char root[64];      /* XDG_CACHE_HOME */
    char dir[128];      /* root/awsrole */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/awsr-cache-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/awsrole", f->root);
    setenv("XDG_CACHE_HOME", f->root, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static struct awsr_cache *open_ok(void)
{
    struct awsr_cache *c = NULL;
    struct awsr_error e = {0};
    if (awsr_cache_open(&c, &e) != 0)
        fail_msg("cache open failed: %s", e.message);
    return c;
}

static void sample(struct awsr_creds *cr, time_t exp)
{
    assert_int_equal(awsr_creds_set(cr, "ASIACACHE", "SECRETCACHE", "TOKENCACHE", exp), 0);
    cr->account_id = strdup("123456789012");
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    fchmod(fd, mode);
    close(fd);
}

static void test_key(void **state)
{
    (void)state;
    /* kind + FNV-1a 64 of the material (the entry's name), then the material itself */
    char *k = awsr_cache_key("role-", "abc");
    assert_string_equal(k, "role-e71fa2190541574b\nabc");
    free(k);
    k = awsr_cache_key("session-", "");
    assert_string_equal(k, "session-cbf29ce484222325\n");
    free(k);
    k = awsr_cache_key("role-", "{\"RoleArn\":\"arn:aws:iam::1:role/r\"}");
    char *k2 = awsr_cache_key("role-", "{\"RoleArn\":\"arn:aws:iam::1:role/s\"}");
    assert_string_not_equal(k, k2);
    assert_int_equal(strcspn(k, "\n"), strlen("role-") + 16);
    free(k);
    free(k2);
}

static void test_location(void **state)
{
    struct fixture *f = *state;
    struct awsr_cache *c = open_ok();
    assert_string_equal(awsr_cache_dir(c), f->dir);
    awsr_cache_close(c);

    /* Empty or relative XDG_CACHE_HOME: $HOME/.cache/awsrole, parents created. */
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    char home[160];
    snprintf(home, sizeof home, "%s/home", f->root);
    setenv("HOME", home, 1);
    setenv("XDG_CACHE_HOME", "", 1);
    mode_t old_umask = umask(0); /* parents it creates are 0700 whatever the umask */
    c = open_ok();
    umask(old_umask);
    char want[200];
    snprintf(want, sizeof want, "%s/.cache/awsrole", home);
    assert_string_equal(awsr_cache_dir(c), want);
    awsr_cache_close(c);
    struct stat pst;
    assert_int_equal(stat(home, &pst), 0);
    assert_int_equal(pst.st_mode & 07777, 0700);
    char parent[200];
    snprintf(parent, sizeof parent, "%s/.cache", home);
    assert_int_equal(stat(parent, &pst), 0);
    assert_int_equal(pst.st_mode & 07777, 0700);
    setenv("XDG_CACHE_HOME", "relative/dir", 1);
    c = open_ok();
    assert_string_equal(awsr_cache_dir(c), want);
    awsr_cache_close(c);
    struct stat st;
    assert_int_equal(stat(want, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    if (old_home)
        setenv("HOME", old_home, 1);
    free(old_home);
    setenv("XDG_CACHE_HOME", f->root, 1);
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    struct awsr_cache *c = open_ok();
    struct stat st;
    assert_int_equal(stat(f->dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);

    time_t now = time(NULL);
    struct awsr_creds in = {0}, out = {0};
    sample(&in, now + 3600);
    struct awsr_error e = {0};
    assert_int_equal(awsr_cache_put(c, "role-abc", "dev", &in, &e), 0);

    char path[256];
    snprintf(path, sizeof path, "%s/role-abc.json", f->dir);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);

    json_t *j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "Version")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "Key")), "role-abc");
    assert_string_equal(json_string_value(json_object_get(j, "Profile")), "dev");
    assert_string_equal(json_string_value(json_object_get(j, "SessionToken")), "TOKENCACHE");
    char exp[32];
    awsr_time_format(now + 3600, exp, sizeof exp);
    assert_string_equal(json_string_value(json_object_get(j, "Expiration")), exp);
    assert_int_equal(exp[strlen(exp) - 1], 'Z');
    json_decref(j);

    assert_int_equal(awsr_cache_get(c, "role-abc", now + AWSR_CACHE_MIN_VALID, &out), 0);
    assert_string_equal(out.access_key_id, "ASIACACHE");
    assert_string_equal(out.secret_access_key, "SECRETCACHE");
    assert_string_equal(out.session_token, "TOKENCACHE");
    assert_string_equal(out.account_id, "123456789012");
    assert_int_equal(out.expiration, now + 3600);

    /* Nothing else is left in the directory (no temporary files). */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s')\" = role-abc.json", f->dir);
    assert_int_equal(system(cmd), 0);

    assert_int_equal(awsr_cache_remove(c, "role-abc"), 1);
    assert_int_equal(awsr_cache_get(c, "role-abc", now, &out), -1);
    assert_int_equal(awsr_cache_remove(c, "role-abc"), 0); /* nothing left: not counted */
    awsr_creds_clear(&in);
    awsr_creds_clear(&out);
    awsr_cache_close(c);
}

static void test_misses(void **state)
{
    struct fixture *f = *state;
    struct awsr_cache *c = open_ok();
    time_t now = time(NULL);
    struct awsr_creds in = {0}, out = {0};
    struct awsr_error e = {0};
    char path[256];
    snprintf(path, sizeof path, "%s/k.json", f->dir);

    /* Absent. */
    assert_int_equal(awsr_cache_get(c, "k", now, &out), -1);
    /* Near expiry: fewer than 15 minutes left. */
    sample(&in, now + 600);
    assert_int_equal(awsr_cache_put(c, "k", "dev", &in, &e), 0);
    assert_int_equal(awsr_cache_get(c, "k", now + AWSR_CACHE_MIN_VALID, &out), -1);
    assert_int_equal(awsr_cache_get(c, "k", now, &out), 0); /* still valid for a looser bound */
    awsr_creds_clear(&out);
    /* Corrupt, truncated, wrong version, missing fields. */
    const char *bad[] = {"not json", "{\"Version\":1,\"Key\":\"k\",\"AccessKeyId\":\"A\",\"Secr",
                         "{\"Version\":2,\"Key\":\"k\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
                         "\"Expiration\":\"2100-01-01T00:00:00Z\"}",
                         "{\"Version\":1,\"Key\":\"k\",\"AccessKeyId\":\"A\","
                         "\"Expiration\":\"2100-01-01T00:00:00Z\"}",
                         "{\"Version\":1,\"Key\":\"k\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}",
                         "{\"Version\":1,\"Key\":\"k\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
                         "\"Expiration\":\"never\"}",
                         "[]", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_file(path, bad[i], 0600);
        assert_int_equal(awsr_cache_get(c, "k", now, &out), -1);
        assert_null(out.access_key_id);
    }
    /* An entry for another key (or none) under this name is a miss. */
    const char *other[] = {"{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
                           "\"Expiration\":\"2100-01-01T00:00:00Z\"}",
                           "{\"Version\":1,\"Key\":\"k\\nx\",\"AccessKeyId\":\"A\","
                           "\"SecretAccessKey\":\"S\",\"Expiration\":\"2100-01-01T00:00:00Z\"}"};
    for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
        write_file(path, other[i], 0600);
        assert_int_equal(awsr_cache_get(c, "k", now, &out), -1);
        assert_null(out.access_key_id);
    }
    /* A valid entry that others could read is not trusted. */
    write_file(path,
               "{\"Version\":1,\"Key\":\"k\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
               "\"Expiration\":\"2100-01-01T00:00:00Z\"}",
               0600);
    assert_int_equal(awsr_cache_get(c, "k", now, &out), 0);
    assert_null(out.session_token);
    awsr_creds_clear(&out);
    chmod(path, 0644);
    assert_int_equal(awsr_cache_get(c, "k", now, &out), -1);
    chmod(path, 0600);
    assert_int_equal(chown(path, NOBODY, NOBODY), 0);
    assert_int_equal(awsr_cache_get(c, "k", now, &out), -1);
    /* A FIFO does not hang the reader. */
    unlink(path);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(awsr_cache_get(c, "k", now, &out), -1);
    unlink(path);
    /* Keys that would escape the directory. */
    assert_int_equal(awsr_cache_get(c, "../k", now, &out), -1);
    assert_int_equal(awsr_cache_put(c, "a/b", "dev", &in, &e), -1);
    assert_int_equal(awsr_cache_lock(c, "../x"), -1);
    /* Credentials that never expire are not cached. */
    in.expiration = 0;
    assert_int_equal(awsr_cache_put(c, "k", "dev", &in, &e), -1);
    awsr_creds_clear(&in);
    awsr_cache_close(c);
}

/* Two materials whose keys share a file name: each only ever reads its own entry. */
static void test_shared_name(void **state)
{
    struct fixture *f = *state;
    struct awsr_cache *c = open_ok();
    time_t now = time(NULL);
    struct awsr_creds in = {0}, out = {0};
    struct awsr_error e = {0};
    const char *ka = "role-0123456789abcdef\n{\"RoleArn\":\"a\"}";
    const char *kb = "role-0123456789abcdef\n{\"RoleArn\":\"b\"}";
    sample(&in, now + 3600);
    assert_int_equal(awsr_cache_put(c, ka, "dev", &in, &e), 0);
    assert_int_equal(awsr_cache_get(c, kb, now, &out), -1);
    assert_null(out.access_key_id);
    assert_int_equal(awsr_cache_get(c, ka, now, &out), 0);
    assert_string_equal(out.access_key_id, "ASIACACHE");
    awsr_creds_clear(&out);

    /* the file is named by the first line and holds the whole key */
    char path[256];
    snprintf(path, sizeof path, "%s/role-0123456789abcdef.json", f->dir);
    json_t *j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "Key")), ka);
    json_decref(j);
    int fd = awsr_cache_lock(c, kb);
    assert_true(fd >= 0);
    awsr_cache_unlock(fd);
    snprintf(path, sizeof path, "%s/role-0123456789abcdef.lock", f->dir);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);

    /* the other material's entry replaces it; then the first one misses */
    assert_int_equal(awsr_cache_put(c, kb, "dev", &in, &e), 0);
    assert_int_equal(awsr_cache_get(c, ka, now, &out), -1);
    assert_int_equal(awsr_cache_get(c, kb, now, &out), 0);
    awsr_creds_clear(&out);
    assert_int_equal(awsr_cache_remove(c, ka), 1);
    assert_int_equal(awsr_cache_get(c, kb, now, &out), -1);
    awsr_creds_clear(&in);
    awsr_cache_close(c);
}

static void test_symlink_entry_not_followed(void **state)
{
    struct fixture *f = *state;
    struct awsr_cache *c = open_ok();
    char target[160], link[160];
    snprintf(target, sizeof target, "%s/elsewhere.json", f->root);
    snprintf(link, sizeof link, "%s/k.json", f->dir);
    const char *valid = "{\"Version\":1,\"Key\":\"k\",\"AccessKeyId\":\"PLANTED\","
                        "\"SecretAccessKey\":\"S\","
                        "\"Expiration\":\"2100-01-01T00:00:00Z\"}";
    write_file(target, valid, 0600);
    assert_int_equal(symlink(target, link), 0);
    struct awsr_creds out = {0}, in = {0};
    assert_int_equal(awsr_cache_get(c, "k", time(NULL), &out), -1);
    assert_null(out.access_key_id);

    /* A put replaces the link itself; the target is untouched. */
    struct awsr_error e = {0};
    sample(&in, time(NULL) + 3600);
    assert_int_equal(awsr_cache_put(c, "k", "dev", &in, &e), 0);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_string_equal(slurp(target), valid);

    /* A symlink planted at the lock path is not followed either. */
    char lock[160], lock_target[160];
    snprintf(lock, sizeof lock, "%s/k.lock", f->dir);
    snprintf(lock_target, sizeof lock_target, "%s/created-through-link", f->root);
    assert_int_equal(symlink(lock_target, lock), 0);
    assert_int_equal(awsr_cache_lock(c, "k"), -1);
    assert_int_equal(access(lock_target, F_OK), -1);
    awsr_creds_clear(&in);
    awsr_cache_close(c);
}

static void expect_refused(const char *needle)
{
    struct awsr_cache *c = NULL;
    struct awsr_error e = {0};
    assert_int_equal(awsr_cache_open(&c, &e), -1);
    assert_null(c);
    assert_int_equal(e.status, AWSR_E_CONFIG);
    if (!strstr(e.message, needle))
        fail_msg("message \"%s\" lacks \"%s\"", e.message, needle);
}

static void test_refuse_unsafe_dirs(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdir(f->dir, 0700), 0);
    char want[200];

    assert_int_equal(chmod(f->dir, 0770), 0);
    snprintf(want, sizeof want, "fix with chmod 700 %s", f->dir);
    expect_refused(want);
    assert_int_equal(chmod(f->dir, 0705), 0); /* any group/other bit, not only write */
    expect_refused(want);
    assert_int_equal(chmod(f->dir, 0700), 0);

    assert_int_equal(chown(f->dir, NOBODY, NOBODY), 0);
    expect_refused("owned by uid 65534");
    assert_int_equal(chown(f->dir, 0, 0), 0);
    awsr_cache_close(open_ok());

    /* A symlinked cache directory is not followed, even to a safe directory. */
    char real[160];
    snprintf(real, sizeof real, "%s/real", f->root);
    assert_int_equal(rename(f->dir, real), 0);
    assert_int_equal(symlink(real, f->dir), 0);
    expect_refused("symbolic link");
}

static void test_unwritable_dir(void **state)
{
    struct fixture *f = *state;
    /* As root every directory is writable: drop to nobody in a child. */
    assert_int_equal(chmod(f->root, 0755), 0);
    assert_int_equal(mkdir(f->dir, 0500), 0);
    assert_int_equal(chown(f->dir, NOBODY, NOBODY), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgid(NOBODY) || setuid(NOBODY))
            _exit(10);
        struct awsr_cache *c = NULL;
        struct awsr_error e = {0};
        if (awsr_cache_open(&c, &e) != 0)
            _exit(11);
        struct awsr_creds in = {0};
        awsr_creds_set(&in, "A", "SECRETVALUE", "TOKENVALUE", time(NULL) + 3600);
        if (awsr_cache_put(c, "k", "dev", &in, &e) != -1)
            _exit(12);
        if (e.status != AWSR_E_OTHER || !strstr(e.message, "Permission denied") ||
            !strstr(e.message, f->dir))
            _exit(13);
        if (strstr(e.message, "SECRETVALUE") || strstr(e.message, "TOKENVALUE"))
            _exit(14);
        if (awsr_cache_lock(c, "k") != -1) /* cannot create the lock file either */
            _exit(15);
        awsr_creds_clear(&in);
        awsr_cache_close(c);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", f->dir);
    assert_int_equal(system(cmd), 0);
}

static void test_lock_serializes(void **state)
{
    struct fixture *f = *state;
    struct awsr_cache *c = open_ok();
    char log[160];
    snprintf(log, sizeof log, "%s/order.log", f->root);
    int lfd = awsr_cache_lock(c, "role-x");
    assert_true(lfd >= 0);
    struct stat st;
    char lockpath[200];
    snprintf(lockpath, sizeof lockpath, "%s/role-x.lock", f->dir);
    assert_int_equal(stat(lockpath, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        struct awsr_cache *cc = NULL;
        struct awsr_error e = {0};
        if (awsr_cache_open(&cc, &e))
            _exit(20);
        (void)!write(ready[1], "r", 1);
        int fd = awsr_cache_lock(cc, "role-x"); /* blocks until the parent unlocks */
        if (fd < 0)
            _exit(21);
        FILE *fp = fopen(log, "a");
        fputs("C", fp);
        fclose(fp);
        awsr_cache_unlock(fd);
        awsr_cache_close(cc);
        _exit(0);
    }
    close(ready[1]);
    char ch;
    assert_int_equal(read(ready[0], &ch, 1), 1);
    close(ready[0]);
    FILE *fp = fopen(log, "a");
    fputs("P1", fp);
    fclose(fp);
    usleep(200000); /* gives a broken lock the chance to let the child in here */
    fp = fopen(log, "a");
    fputs("P2", fp);
    fclose(fp);
    awsr_cache_unlock(lfd);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    assert_string_equal(slurp(log), "P1P2C");
    awsr_cache_close(c);
}

static void test_forget_profile(void **state)
{
    struct fixture *f = *state;
    struct awsr_cache *c = open_ok();
    struct awsr_creds in = {0}, out = {0};
    struct awsr_error e = {0};
    time_t now = time(NULL);
    sample(&in, now + 3600);
    assert_int_equal(awsr_cache_put(c, "role-1800", "dev", &in, &e), 0);
    assert_int_equal(awsr_cache_put(c, "role-3600", "dev", &in, &e), 0);
    assert_int_equal(awsr_cache_put(c, "role-other", "prod", &in, &e), 0);
    char cmd[1024];
    /* one left by an interrupted write long ago, one being written right now */
    snprintf(cmd, sizeof cmd, "umask 077; echo '{}' > '%s/.role-x.0123456789abcdef.tmp' && "
             "touch -d '-2 minutes' '%s/.role-x.0123456789abcdef.tmp' && "
             "echo '{}' > '%s/.role-y.0123456789abcdef.tmp'", f->dir, f->dir, f->dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(awsr_cache_forget_profile(c, "dev"), 3); /* two entries, the old tmp */
    snprintf(cmd, sizeof cmd, "test -e '%s/.role-y.0123456789abcdef.tmp'", f->dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(awsr_cache_get(c, "role-1800", now, &out), -1);
    assert_int_equal(awsr_cache_get(c, "role-3600", now, &out), -1);
    assert_int_equal(awsr_cache_get(c, "role-other", now, &out), 0);
    assert_int_equal(awsr_cache_forget_profile(c, "dev"), 0);
    awsr_creds_clear(&in);
    awsr_creds_clear(&out);
    awsr_cache_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key),
        cmocka_unit_test_setup_teardown(test_location, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_entry_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_unsafe_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_serializes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
