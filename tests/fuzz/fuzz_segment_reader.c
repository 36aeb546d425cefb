// fuzz-sources: none
/* fuzz_segment_reader.c - libFuzzer target: the preload library's segment reader
 * (shim/preload/segment_read.c and env.c, compiled in as the unit test does, getenv
 * renamed) given random bytes as the segment.
 *
 * Input: the segment's bytes. The fuzzer writes them to a real 0600 file in /dev/shm named
 * by AWSROLE_SEGMENT, so the reader's own open/fstat/mmap path runs: an input shorter than
 * 64 bytes becomes the file as is (the size check must refuse it), a longer one is cut or
 * zero-padded to the exact segment size. Bytes past the segment size are a second image
 * written over the first while it stays mapped (a new generation the reader may move to).
 * A request path starting with '/' is replaced by the fuzzer's own FIFO: the lazy "ask"
 * must never write into an arbitrary file of the machine.
 *
 * Checked: no crash, no undefined behaviour, no hang (the lazy wait is bounded to 0 s);
 * the reader attaches exactly when magic, version, header size and file size are right;
 * a snapshot exists exactly when the current slot has an even seq and a generation, and
 * then holds that slot's strings, NUL-terminated inside their fields; getenv answers from
 * the snapshot or from the real environment as the ownership rule says (env.c): the
 * environment's AWS_SECURITY_TOKEN is the tree's only when the header's issued history (or
 * the snapshot) holds it, absent credentials are the tree's only in a lazy segment that
 * did not reach the environment, and the environment's region is the program's. */
#define AWSR_SHIM_TESTING 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define getenv awsr_test_getenv
#define secure_getenv awsr_test_secure_getenv
#include "../../shim/preload/env.c"
#include "../../shim/preload/segment_read.c"
#include "../../shim/preload/clock.c"
#undef getenv
#undef secure_getenv

#define SEG sizeof(struct awsr_seg)

static char seg_name[AWSR_SEG_NAME_MAX];
static char seg_path[128];
static char fifo_dir[] = "/tmp/awsr-fuzz-seg-XXXXXX";
static char fifo_path[sizeof fifo_dir + 16];
static int seg_fd = -1, fifo_fd = -1;
static const char env_region[] = "region-from-environ";
static const char env_token[] = "token-from-environ";

static void cleanup(void)
{
    unlink(seg_path);
    unlink(fifo_path);
    rmdir(fifo_dir);
}

/* Segments of earlier fuzzer processes that ended without their atexit (a crash, a
 * timeout, libFuzzer's _Exit): removed when their process is gone. */
static void sweep_dead_fuzzers(void)
{
    DIR *d = opendir("/dev/shm");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid;
        char tail[8];
        if (sscanf(e->d_name, "awsrole-%ld-%7s", &pid, tail) == 2 && strcmp(tail, "fuzz") == 0 &&
            pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sweep_dead_fuzzers();
    snprintf(seg_name, sizeof seg_name, "awsrole-%ld-fuzz", (long)getpid());
    snprintf(seg_path, sizeof seg_path, "/dev/shm/%s", seg_name);
    unlink(seg_path);
    seg_fd = open(seg_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (seg_fd < 0 || !mkdtemp(fifo_dir)) {
        perror("fuzz_segment_reader: setup");
        abort();
    }
    snprintf(fifo_path, sizeof fifo_path, "%s/req", fifo_dir);
    if (mkfifo(fifo_path, 0600) != 0 ||
        (fifo_fd = open(fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
        perror("fuzz_segment_reader: fifo");
        abort();
    }
    atexit(cleanup);
    setenv(AWSR_SEG_ENV, seg_name, 1);
    setenv("AWS_REGION", env_region, 1);
    setenv("AWS_SECURITY_TOKEN", env_token, 1);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    awsr_seg_wait_seconds = 0;
    return 0;
}

static void sanitize(unsigned char *img)
{
    struct awsr_seg *m = (struct awsr_seg *)img;
    if (m->hdr.request_path[0] == '/') {
        memset(m->hdr.request_path, 0, sizeof m->hdr.request_path);
        memcpy(m->hdr.request_path, fifo_path, strlen(fifo_path));
    }
}

static void write_file(const void *bytes, size_t len)
{
    if (ftruncate(seg_fd, (off_t)len) != 0 || pwrite(seg_fd, bytes, len, 0) != (ssize_t)len)
        abort();
}

static bool field_is(const char *got, const char *field, size_t size)
{
    return strlen(got) < size && strncmp(got, field, size - 1) == 0;
}

/* The snapshot holds exactly the slot's strings, each terminated inside its field. */
static void check_snapshot(const struct awsr_seg_slot *snap, const struct awsr_seg_slot *s)
{
    if (snap->generation != s->generation || snap->generation == 0 || (snap->seq & 1) ||
        snap->expiration != s->expiration)
        abort();
#define SAME(f) \
    if (!field_is(snap->f, s->f, sizeof s->f)) \
        abort();
    SAME(access_key_id)
    SAME(secret_access_key)
    SAME(session_token)
    SAME(expiration_text)
    SAME(region)
    SAME(profile)
    SAME(credentials_path)
#undef SAME
}

static void expect_var(const char *name, const char *want)
{
    const char *got = awsr_test_getenv(name);
    if (want ? (!got || strcmp(got, want) != 0) : got != NULL)
        abort();
    if (awsr_test_secure_getenv(name) != got)
        abort();
}

static bool issued_in(const struct awsr_seg *img, int field, const char *value)
{
    uint32_t h = awsr_seg_value_hash(value);
    for (int i = 0; i < AWSR_SEG_HISTORY; i++)
        if (img->hdr.issued[field][i] == h)
            return true;
    return false;
}

static const char *or_null(const char *s)
{
    return s[0] ? s : NULL;
}

/* getenv answers as the ownership rule says (see the top); empty fields are unset. */
static void check_getenv(const struct awsr_seg_slot *snap, const struct awsr_seg *img, bool attached)
{
    bool tok_tree = (snap && strcmp(snap->session_token, env_token) == 0) ||
                    (attached && issued_in(img, AWSR_ISSUED_TOKEN, env_token));
    bool absent_tree = snap && (snap->seg_flags & AWSR_SEG_F_LAZY) && !tok_tree;
    expect_var("AWS_ACCESS_KEY_ID", absent_tree ? or_null(snap->access_key_id) : NULL);
    expect_var("AWS_SECRET_ACCESS_KEY", absent_tree ? or_null(snap->secret_access_key) : NULL);
    expect_var("AWS_SESSION_TOKEN", absent_tree ? or_null(snap->session_token) : NULL);
    expect_var("AWS_CREDENTIAL_EXPIRATION", absent_tree ? or_null(snap->expiration_text) : NULL);
    expect_var("AWS_SECURITY_TOKEN", tok_tree && snap ? or_null(snap->session_token) : env_token);
    expect_var("AWS_REGION", env_region);
    const char *cf = awsr_shim_credentials_file();
    if (snap && snap->credentials_path[0] ? cf != snap->credentials_path : cf != NULL)
        abort();
}

static void drain_fifo(void)
{
    char buf[64];
    while (read(fifo_fd, buf, sizeof buf) > 0) {
    }
}

static void release(const void *p, size_t len, const void **freed, size_t *nfreed)
{
    if (!p)
        return;
    for (size_t i = 0; i < *nfreed; i++)
        if (freed[i] == p)
            return;
    freed[(*nfreed)++] = p;
    munmap((void *)p, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char img[SEG] __attribute__((aligned(8)));
    bool exact = size >= 64;
    if (exact) {
        memset(img, 0, sizeof img);
        memcpy(img, data, size < SEG ? size : SEG);
        sanitize(img);
        write_file(img, SEG);
    } else {
        write_file(data, size);
    }
    const struct awsr_seg *want = (const struct awsr_seg *)img;
    bool valid = exact && want->hdr.magic == AWSR_SEG_MAGIC &&
                 want->hdr.version == AWSR_SEG_VERSION && want->hdr.size == SEG;

    const struct awsr_seg *m = awsr_seg_attach();
    if ((m != NULL) != valid)
        abort();
    time_t now = time(NULL);
    const struct awsr_seg_slot *snap1 = awsr_seg_snapshot((int64_t)now, true);
    if (m) {
        const struct awsr_seg_slot *s = &want->slot[want->hdr.current & 1];
        bool readable = !(s->seq & 1) && s->generation != 0;
        if ((snap1 != NULL) != readable)
            abort();
        if (snap1)
            check_snapshot(snap1, s);
    } else if (snap1) {
        abort();
    }
    check_getenv(snap1, want, m != NULL);

    /* A second image over the live mapping; the reader moves to it only when allowed. */
    const struct awsr_seg_slot *snap2 = NULL;
    if (m && size > SEG) {
        size_t extra = size - SEG < SEG ? size - SEG : SEG;
        memcpy(img, data + SEG, extra);
        sanitize(img);
        if (pwrite(seg_fd, img, SEG, 0) != (ssize_t)SEG)
            abort();
        int64_t later = snap1 ? snap1->expiration : (int64_t)now;
        snap2 = awsr_seg_snapshot(later, false);
        if (snap1 && snap2 != snap1 && snap2->generation <= snap1->generation)
            abort();
        if (snap2 && snap2 != snap1)
            check_snapshot(snap2, &want->slot[want->hdr.current & 1]);
        (void)awsr_test_getenv("AWS_ACCESS_KEY_ID");
        (void)awsr_test_getenv("AWS_SESSION_TOKEN");
    }

    const void *freed[4];
    size_t nfreed = 0;
    const struct awsr_seg_slot *last = __atomic_load_n(&g_snap, __ATOMIC_ACQUIRE);
    release(snap1 ? awsr_seg_snapshot_block(snap1) : NULL, AWSR_SNAP_SIZE, freed, &nfreed);
    release(snap2 ? awsr_seg_snapshot_block(snap2) : NULL, AWSR_SNAP_SIZE, freed, &nfreed);
    release(last ? awsr_seg_snapshot_block(last) : NULL, AWSR_SNAP_SIZE, freed, &nfreed);
    release(m, SEG, freed, &nfreed);
    awsr_seg_reset_for_tests();
    t_snap = NULL;
    memset(g_inst, 0, sizeof g_inst); /* the next input is a fresh process */
    memset(t_slot, 0, sizeof t_slot);
    g_owner_ready = OWNER_UNKNOWN;
    drain_fifo();
    return 0;
}
