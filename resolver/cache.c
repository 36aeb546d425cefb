/* cache.c - the on-disk session cache: a private directory opened once without following
 * a symlink, every entry reached relative to it (openat), 0600 JSON files written to a
 * temporary name and renamed into place, one flock per key. */
#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "creds_json.h"
#include "dynamic_only.h"
#include "fileio.h"
#include "handover.h"
#include "process.h"

#define ENTRY_MAX (64 * 1024)
#define LOCK_WAIT_MS (180 * 1000) /* a human at another terminal's prompt, three tries */
/* A run given its MFA code before it started (-t, AWSROLE_MFA_CODE) waits no longer than
 * the code lives: a TOTP code is good for about 30 seconds. */
#define CODE_WAIT_MS (25 * 1000)

struct awsr_cache {
    int dirfd;
    char *path;
};

/* ------------------------------------------------------------------------------------ */

static char *cache_path(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    char *p = NULL;
    if (xdg && xdg[0] == '/') { /* the XDG spec: relative values are ignored */
        if (asprintf(&p, "%s/awsrole", xdg) < 0)
            return NULL;
        return p;
    }
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = awsr_getpwuid(geteuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home || !*home)
        return NULL;
    if (asprintf(&p, "%s/.cache/awsrole", home) < 0)
        return NULL;
    return p;
}

/* mkdir -p of the parents of `path`: 0700 for what it creates, as the XDG base directory
 * spec asks (a umask of 000 must not make a world-writable ~/.cache). */
static int make_parents(const char *path)
{
    char *tmp = strdup(path);
    if (!tmp)
        return -1;
    for (char *s = tmp + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
            int e = errno;
            free(tmp);
            errno = e;
            return -1;
        }
        *s = '/';
    }
    free(tmp);
    return 0;
}

int awsr_cache_open(struct awsr_cache **out, struct awsr_error *err)
{
    *out = NULL;
    char *path = cache_path();
    if (!path)
        return awsr_error_set(err, AWSR_E_OTHER,
                              "cannot locate the cache directory (HOME is not set)");
    if (make_parents(path) != 0 || (mkdir(path, 0700) != 0 && errno != EEXIST)) {
        int e = errno;
        awsr_error_set(err, AWSR_E_OTHER, "cannot create the cache directory %s: %s", path,
                       strerror(e));
        free(path);
        return -1;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP || e == ENOTDIR)
            awsr_error_set(err, AWSR_E_CONFIG,
                           "the cache directory %s is a symbolic link or not a directory; "
                           "refusing to use it (remove it, awsrole-run recreates it)",
                           path);
        else
            awsr_error_set(err, AWSR_E_OTHER, "cannot open the cache directory %s: %s", path,
                           strerror(e));
        free(path);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        awsr_error_set(err, AWSR_E_OTHER, "cannot check the cache directory %s: %s", path,
                       strerror(errno));
        goto refuse;
    }
    if (st.st_uid != geteuid()) {
        awsr_error_set(err, AWSR_E_CONFIG,
                       "the cache directory %s is owned by uid %u, not by you (uid %u); "
                       "refusing to use it (remove it, or fix with chown %u %s)",
                       path, (unsigned)st.st_uid, (unsigned)geteuid(), (unsigned)geteuid(),
                       path);
        goto refuse;
    }
    if (st.st_mode & 077) {
        awsr_error_set(err, AWSR_E_CONFIG,
                       "the cache directory %s is accessible by group or others (mode %04o); "
                       "fix with chmod 700 %s",
                       path, (unsigned)(st.st_mode & 07777), path);
        goto refuse;
    }
    struct awsr_cache *c = calloc(1, sizeof *c);
    if (!c) {
        awsr_error_set(err, AWSR_E_OTHER, "out of memory");
        goto refuse;
    }
    c->dirfd = fd;
    c->path = path;
    *out = c;
    return 0;
refuse:
    close(fd);
    free(path);
    return -1;
}

void awsr_cache_close(struct awsr_cache *c)
{
    if (!c)
        return;
    if (c->dirfd >= 0)
        close(c->dirfd);
    free(c->path);
    free(c);
}

const char *awsr_cache_dir(const struct awsr_cache *c)
{
    return c ? c->path : NULL;
}

/* FNV-1a, 64 bits: the entry only needs a file name (the directory is private and the
 * entry carries the whole key), and a cryptographic hash would cost a start of OpenSSL. */
static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3u;
    }
    return h;
}

char *awsr_cache_key(const char *kind, const char *material)
{
    char *key = NULL;
    if (asprintf(&key, "%s%016llx\n%s", kind, (unsigned long long)fnv1a64(material),
                 material) < 0)
        return NULL;
    return key;
}

/* The file name of a key's entry: its first line plus suffix. No separators, no dot
 * files. False when the key cannot name a file. */
static bool entry_name(const char *key, const char *suffix, char name[256])
{
    size_t n = key ? strcspn(key, "\n") : 0;
    if (n == 0 || key[0] == '.' || n > 200)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = key[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    snprintf(name, 256, "%.*s%s", (int)n, key, suffix);
    return true;
}

/* ------------------------------------------------------------------------------------ */

static int lock_waiting(struct awsr_cache *c, const char *key, bool code_in_hand)
{
    char name[256];
    if (!c || !entry_name(key, ".lock", name))
        return -1;
    /* A cache miss: the static launcher hands over before it waits on anyone. */
    awsr_handover("a cache lock");
    int fd = openat(c->dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    /* The holder may be at an MFA prompt on another terminal, where nobody answers: say so
     * after a second, and after LOCK_WAIT_MS go on without the lock (a run that cannot
     * prompt then fails at once, as it would have with nobody else around). A run holding
     * a code shares its 25 s among every lock it waits for (the role's, then the MFA
     * session's: another run at its prompt holds both). */
    static long code_wait_left = CODE_WAIT_MS;
    long limit = awsr_process_timeout_ms(LOCK_WAIT_MS), waited = 0;
    if (code_in_hand && limit > code_wait_left)
        limit = code_wait_left;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            close(fd);
            return -1;
        }
        if (waited >= limit) {
            if (code_in_hand)
                code_wait_left -= waited;
            if (!code_in_hand || limit > 0)
                awsr_log("gave up waiting after %ld s for the other awsrole-run%s; going on "
                         "without it", limit / 1000,
                         code_in_hand ? " (the MFA code given to this run lasts about 30 "
                                        "seconds)" : "");
            close(fd);
            return -1;
        }
        if (waited == 1000 && limit > 1000)
            awsr_log("waiting for another awsrole-run that is getting the same credentials (it "
                     "may be asking for an MFA code)");
        struct timespec step = {0, 50 * 1000000L};
        nanosleep(&step, NULL);
        waited += 50;
    }
    if (code_in_hand)
        code_wait_left -= waited;
    return fd;
}

int awsr_cache_lock(struct awsr_cache *c, const char *key)
{
    return lock_waiting(c, key, false);
}

int awsr_cache_lock_with_code(struct awsr_cache *c, const char *key)
{
    return lock_waiting(c, key, true);
}

void awsr_cache_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

/* ------------------------------------------------------------------------------------ */

static const char *str_member(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* An entry file's JSON object, or NULL (absent, not ours, not a regular 0600 file, too
 * big, not an object). O_NONBLOCK: a FIFO planted here must not hang us. */
static json_t *load_entry(const struct awsr_cache *c, const char *name)
{
    int fd = openat(c->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) || st.st_size <= 0 || st.st_size > ENTRY_MAX) {
        close(fd);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = buf ? awsr_read_upto(fd, buf, (size_t)st.st_size) : 0;
    close(fd);
    if (!buf)
        return NULL;
    json_t *root = json_loadb(buf, n, 0, NULL);
    explicit_bzero(buf, n);
    free(buf);
    if (!json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

int awsr_cache_get(struct awsr_cache *c, const char *key, time_t min_valid_until,
                   struct awsr_creds *out)
{
    char name[256];
    if (!c || !entry_name(key, ".json", name))
        return -1;
    json_t *root = load_entry(c, name);
    if (!root)
        return -1;
    int rc = -1;
    json_t *ver = json_object_get(root, "Version");
    const char *stored_key = str_member(root, "Key");
    const char *akid = str_member(root, "AccessKeyId");
    const char *secret = str_member(root, "SecretAccessKey");
    const char *token = str_member(root, "SessionToken");
    const char *exp = str_member(root, "Expiration");
    const char *account = str_member(root, "AccountId");
    time_t expiration;
    if (json_is_integer(ver) && json_integer_value(ver) == 1 && stored_key &&
        strcmp(stored_key, key) == 0 && akid && *akid && secret &&
        *secret && exp && awsr_time_parse(exp, &expiration) == 0 &&
        expiration > min_valid_until) {
        struct awsr_creds cr = {0};
        if (awsr_creds_set(&cr, akid, secret, token && *token ? token : NULL, expiration) ==
                0 &&
            (!account || (cr.account_id = strdup(account)) != NULL)) {
            awsr_creds_clear(out);
            *out = cr;
            rc = 0;
        } else {
            awsr_creds_clear(&cr);
        }
    }
    awsr_json_wipe_free(root);
    return rc;
}

int awsr_cache_put(struct awsr_cache *c, const char *key, const char *profile,
                   const struct awsr_creds *creds, struct awsr_error *err)
{
    char name[256], base[256];
    if (!c || !entry_name(key, ".json", name) || !entry_name(key, "", base))
        return awsr_error_set(err, AWSR_E_OTHER, "invalid session cache key");
    if (!awsr_creds_present(creds) || creds->expiration == 0)
        return awsr_error_set(err, AWSR_E_OTHER,
                              "not caching credentials that are incomplete or never expire");
    char exp[32];
    awsr_time_format(creds->expiration, exp, sizeof exp);
    json_t *root = json_object();
    if (!root)
        return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    json_object_set_new(root, "Version", json_integer(1));
    if (json_object_set_new(root, "Key", json_string(key)) != 0) {
        json_decref(root);
        return awsr_error_set(err, AWSR_E_OTHER, "invalid session cache key");
    }
    json_object_set_new(root, "Profile", profile ? json_string(profile) : json_null());
    json_object_set_new(root, "AccessKeyId", json_string(creds->access_key_id));
    json_object_set_new(root, "SecretAccessKey", json_string(creds->secret_access_key));
    if (creds->session_token)
        json_object_set_new(root, "SessionToken", json_string(creds->session_token));
    json_object_set_new(root, "Expiration", json_string(exp));
    if (creds->account_id)
        json_object_set_new(root, "AccountId", json_string(creds->account_id));
    char *text = json_dumps(root, JSON_COMPACT);
    awsr_json_wipe_free(root);
    if (!text)
        return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
    size_t len = strlen(text);

    unsigned char rnd[8];
    char tmp[300];
    if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
        explicit_bzero(text, len);
        free(text);
        return awsr_error_set(err, AWSR_E_OTHER, "no random bytes for a temporary file name");
    }
    int o = snprintf(tmp, sizeof tmp, ".%s.", base);
    for (size_t i = 0; i < sizeof rnd; i++)
        o += snprintf(tmp + o, sizeof tmp - (size_t)o, "%02x", rnd[i]);
    snprintf(tmp + o, sizeof tmp - (size_t)o, ".tmp");

    int rc = 0, e = 0;
    int fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        e = errno;
        rc = -1;
    } else {
        if (fchmod(fd, 0600) != 0 || awsr_write_all(fd, text, len) != 0) {
            e = errno;
            rc = -1;
        }
        if (close(fd) != 0 && rc == 0) {
            e = errno;
            rc = -1;
        }
        if (rc == 0 && renameat(c->dirfd, tmp, c->dirfd, name) != 0) {
            e = errno;
            rc = -1;
        }
        if (rc != 0)
            unlinkat(c->dirfd, tmp, 0);
    }
    explicit_bzero(text, len);
    free(text);
    if (rc != 0)
        return awsr_error_set(err, AWSR_E_OTHER, "cannot write to the session cache in %s: %s",
                              c->path, strerror(e));
    return 0;
}

int awsr_cache_remove(struct awsr_cache *c, const char *key)
{
    char name[256];
    if (!c || !entry_name(key, ".json", name))
        return -1;
    if (unlinkat(c->dirfd, name, 0) == 0)
        return 1;
    return errno == ENOENT ? 0 : -1;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int awsr_cache_forget_profile(struct awsr_cache *c, const char *profile)
{
    if (!c)
        return -1;
    int dfd = dup(c->dirfd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            /* An interrupted write's temporary file (".<entry>.<random>.tmp") may hold
             * credentials: whoever's they were, --forget removes it, unless it is young
             * enough to be another run's write in progress. */
            struct stat st;
            if (has_suffix(e->d_name, ".tmp") &&
                fstatat(c->dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                st.st_mtime < time(NULL) - 60 && unlinkat(c->dirfd, e->d_name, 0) == 0)
                removed++;
            continue;
        }
        if (!has_suffix(e->d_name, ".json"))
            continue;
        json_t *root = load_entry(c, e->d_name);
        const char *owner = root ? str_member(root, "Profile") : NULL;
        bool mine = owner && strcmp(owner, profile) == 0;
        awsr_json_wipe_free(root);
        if (mine && unlinkat(c->dirfd, e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}
