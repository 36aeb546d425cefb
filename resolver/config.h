/* config.h - ~/.aws/config and ~/.aws/credentials as botocore reads them.
 *
 * Two layers: an INI parser with configparser's RawConfigParser(strict=True) rules, and
 * botocore's mapping of sections to profiles, services and sso-sessions, with the
 * credentials file merged over the config file key by key. */
#ifndef AWSR_CONFIG_H
#define AWSR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <uthash.h>

#include "error.h"

/* One key. `value` is the text after the delimiter; when the value started with a newline
 * (an indented sub-section such as "s3 =" followed by "  key = v") `sub` holds the parsed
 * sub-keys (names kept as written) and `value` is the raw text. Tables iterate in file
 * order (uthash keeps insertion order). */
struct awsr_kv {
    char *key;             /* lower-cased for top-level keys */
    char *value;
    struct awsr_kv *sub;   /* NULL unless the value is a nested block */
    unsigned line;         /* 1-based line of the key in its file */
    UT_hash_handle hh;
};

struct awsr_section {
    char *name;            /* as written between [ and the last ] */
    struct awsr_kv *keys;
    unsigned line;
    UT_hash_handle hh;
};

struct awsr_ini {
    struct awsr_section *sections; /* file order, [DEFAULT] keys already merged in */
    char *path;
};

/* Parses INI text. `path` is only used in messages. On error: status 253 and
 * "Unable to parse config file: PATH" followed by " (line N: what)". */
int awsr_ini_parse(const char *text, size_t len, const char *path, struct awsr_ini **out,
                   struct awsr_error *err);
void awsr_ini_free(struct awsr_ini *ini);

struct awsr_profile {
    char *name;
    struct awsr_kv *keys;      /* merged view: config keys updated by credentials keys */
    struct awsr_kv *cfg_keys;  /* the config file's section only (may be NULL) */
    struct awsr_kv *cred_keys; /* the credentials file's section only (may be NULL) */
    UT_hash_handle hh;
};

struct awsr_config {
    struct awsr_profile *profiles;
    struct awsr_section *services;     /* [services NAME] */
    struct awsr_section *sso_sessions; /* [sso-session NAME] */
    char *config_path;      /* after $VAR and ~ expansion; NULL if none */
    char *credentials_path; /* idem */
    bool config_found;      /* the file existed and was a regular file */
    bool credentials_found;
    /* The files' text as read (awsr_config_load only; wiped at free): a statically linked
     * launcher hands the same snapshot to the companion that renews for it (front.c). */
    char *config_text, *credentials_text;
    size_t config_len, credentials_len;
};

/* Builds the config from file contents (either text may be NULL: no such file). */
int awsr_config_parse(const char *cfg_text, size_t cfg_len, const char *cfg_path,
                      const char *cred_text, size_t cred_len, const char *cred_path,
                      struct awsr_config **out, struct awsr_error *err);

/* Reads the files named by AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE (defaults
 * ~/.aws/config, ~/.aws/credentials; $VAR then ~ expansion; a missing or non-regular
 * file counts as empty). Refuses files over 16 MiB. */
int awsr_config_load(struct awsr_config **out, struct awsr_error *err);
void awsr_config_free(struct awsr_config *cfg);

/* Expands $VAR, ${VAR} (unknown ones stay as written) then ~ and ~user, like
 * os.path.expandvars + expanduser. Returns a malloc'd string or NULL. */
char *awsr_expand_path(const char *path);
/* Only ~ and ~user (os.path.expanduser), as urllib3 does for a CA bundle path. */
char *awsr_expand_user(const char *path);

const struct awsr_profile *awsr_config_profile(const struct awsr_config *cfg, const char *name);
/* Merged value of a top-level key (NULL when absent). */
const char *awsr_profile_get(const struct awsr_profile *p, const char *key);
const struct awsr_kv *awsr_kv_find(const struct awsr_kv *table, const char *key);

#endif
