/* config.c - ~/.aws/config and ~/.aws/credentials as botocore reads them: the files'
 * paths and contents, then (over the INI layer of ini.c) botocore's build_profile_map
 * (shlex-split "profile X" headers) and session.full_config (the credentials file updates
 * the config file's profiles key by key). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dynamic_only.h"
#include "ini_table.h"
#include "strbuf.h"

#define MAX_FILE_SIZE (16u * 1024u * 1024u)

static int oom(struct awsr_error *err)
{
    return awsr_error_set(err, AWSR_E_OTHER, "out of memory");
}

/* ---------- botocore's profile map ---------- */

/* shlex.split(s) (posix, whitespace_split, no comments). Returns the number of parts
 * (counting stops at 3), -1 on a ValueError (unbalanced quote, trailing backslash);
 * *second receives a malloc'd copy of the second part. */
static int shlex_two(const char *s, char **second)
{
    const char *ws = " \t\r\n";
    struct awsr_strbuf tok = AWSR_STRBUF_INIT;
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
                if (awsr_strbuf_add(&tok, &c, 1) < 0)
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
            } else if (awsr_strbuf_add(&tok, &c, 1) < 0) {
                goto fail;
            }
        } else { /* escape */
            if (!c)
                goto fail;
            if ((escaped_state == '"' || escaped_state == '\'') && c != '\\' &&
                c != escaped_state && awsr_strbuf_add(&tok, "\\", 1) < 0)
                goto fail;
            if (awsr_strbuf_add(&tok, &c, 1) < 0)
                goto fail;
            have = true;
            state = escaped_state;
        }
    }
    awsr_strbuf_wipe(&tok);
    return count;
fail:
    awsr_strbuf_wipe(&tok);
    free(*second);
    *second = NULL;
    return -1;
}

static void profile_free(struct awsr_profile *p)
{
    if (!p)
        return;
    awsr_kv_free_table(&p->keys);
    awsr_kv_free_table(&p->cfg_keys);
    awsr_kv_free_table(&p->cred_keys);
    free(p->name);
    free(p);
}

/* profiles[name] = section: a later section replaces the earlier one wholesale but keeps
 * its place (dict assignment). */
static int put_profile(struct awsr_config *cfg, const char *name, const struct awsr_section *s)
{
    struct awsr_kv *keys = NULL, *cfg_keys = NULL;
    if (awsr_kv_copy_table(s->keys, &keys) < 0 || awsr_kv_copy_table(s->keys, &cfg_keys) < 0) {
        awsr_kv_free_table(&keys);
        return -1;
    }
    struct awsr_profile *p = NULL;
    HASH_FIND_STR(cfg->profiles, name, p);
    if (p) {
        awsr_kv_free_table(&p->keys);
        awsr_kv_free_table(&p->cfg_keys);
    } else {
        p = calloc(1, sizeof *p);
        if (!p || !(p->name = strdup(name))) {
            free(p);
            awsr_kv_free_table(&keys);
            awsr_kv_free_table(&cfg_keys);
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
    if (awsr_kv_copy_table(s->keys, &keys) < 0)
        return -1;
    struct awsr_section *n = NULL;
    HASH_FIND_STR(*table, name, n);
    if (n) {
        awsr_kv_free_table(&n->keys);
    } else {
        n = calloc(1, sizeof *n);
        if (!n || !(n->name = strdup(name))) {
            free(n);
            awsr_kv_free_table(&keys);
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
        if (awsr_kv_copy_table(s->keys, &p->cred_keys) < 0)
            return -1;
        for (const struct awsr_kv *kv = s->keys; kv; kv = kv->hh.next)
            if (awsr_kv_update(&p->keys, kv) < 0)
                return -1;
    }
    return 0;
}

static void free_text(char *t, size_t n)
{
    if (t) {
        explicit_bzero(t, n);
        free(t);
    }
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
    awsr_section_free_table(&cfg->services);
    awsr_section_free_table(&cfg->sso_sessions);
    free_text(cfg->config_text, cfg->config_len);
    free_text(cfg->credentials_text, cfg->credentials_len);
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
static int expand_vars(const char *path, struct awsr_strbuf *out)
{
    const char *p = path;
    while (*p) {
        const char *dollar = strchr(p, '$');
        if (!dollar)
            return awsr_strbuf_add(out, p, strlen(p));
        if (awsr_strbuf_add(out, p, (size_t)(dollar - p)) < 0)
            return -1;
        const char *name = dollar + 1, *name_end, *next;
        if (*name == '{') {
            const char *close = strchr(name + 1, '}');
            if (!close) {
                if (awsr_strbuf_add(out, "$", 1) < 0)
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
                if (awsr_strbuf_add(out, "$", 1) < 0)
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
            if (awsr_strbuf_add(out, value, strlen(value)) < 0)
                return -1;
        } else if (awsr_strbuf_add(out, dollar, (size_t)(next - dollar)) < 0) {
            return -1;
        }
        p = next;
    }
    return awsr_strbuf_add(out, "", 0);
}

/* os.path.expanduser */
char *awsr_expand_user(const char *path)
{
    if (path[0] != '~')
        return strdup(path);
    const char *slash = strchr(path + 1, '/');
    size_t i = slash ? (size_t)(slash - path) : strlen(path);
    const char *home = NULL;
    if (i == 1) {
        home = getenv("HOME");
        if (!home) {
            struct passwd *pw = awsr_getpwuid(getuid());
            if (!pw || !pw->pw_dir)
                return strdup(path);
            home = pw->pw_dir;
        }
    } else {
        char *user = strndup(path + 1, i - 1);
        if (!user)
            return NULL;
        struct passwd *pw = awsr_getpwnam(user);
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
    struct awsr_strbuf b = AWSR_STRBUF_INIT;
    if (expand_vars(path, &b) < 0) {
        free(b.p);
        return NULL;
    }
    char *out = awsr_expand_user(b.p ? b.p : "");
    free(b.p);
    return out;
}

/* configparser.read skips a file it cannot open or read (any OSError): the file counts as
 * empty. Said on stderr, since the CLI's silence here is a puzzle to debug. */
static int unreadable(const char *path, int e)
{
    awsr_log("warning: cannot read %s (%s); it counts as empty, as for the AWS CLI", path,
             strerror(e));
    return 0;
}

/* Reads a regular file. *text stays NULL when the file is missing, not regular or
 * unreadable. */
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
        return errno == ENOENT ? 0 : unreadable(path, errno);
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
            return unreadable(path, e);
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
    if (rc == 0) {
        (*out)->config_text = cfg_text;
        (*out)->config_len = cfg_len;
        (*out)->credentials_text = cred_text;
        (*out)->credentials_len = cred_len;
        cfg_text = cred_text = NULL;
    }
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
