/* genconfig.h - the tree's private copy of the user's AWS config, for programs that the
 * environment and the preload library cannot keep fresh (Go, static binaries).
 *
 * The copy keeps every section as written (profiles, [services ...], [sso-session ...],
 * [DEFAULT] less any credential source, comments), except that each served profile's
 * section is replaced by one holding its region, every setting that is not a credential
 * source, and
 *     credential_process = <launcher> --export --format process --profile NAME
 * which a nested launcher answers from the tree (no STS call, no prompt), so SDKs refresh
 * through it. Served sections are written last, so they win over any other spelling of the
 * same profile (botocore keeps the last one).
 *
 * Server mode: [default] keeps no credential source at all (not even credential_process):
 * the default chain must fall through to the container endpoint. */
#ifndef AWSR_GENCONFIG_H
#define AWSR_GENCONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define AWSR_GENCONFIG_NAME "config"

struct awsr_genconfig_profile {
    const char *name;
    const char *region; /* NULL: keep the section's own region, if any */
};

struct awsr_genconfig_opts {
    const char *launcher; /* absolute path of awsrole-run */
    const struct awsr_genconfig_profile *served;
    size_t nserved;
    bool server_mode;
};

/* True when `name` can go in "[profile NAME]" and, unquoted, in a credential_process
 * command line read by botocore (shlex) and by `sh -c` (Go, Java, Node SDKs):
 * [A-Za-z0-9] and _ . - + @ = , : / only. Other profiles are not rewritten (left out). */
bool awsr_genconfig_name_ok(const char *name);

/* The copy's text from the user's config text (NULL/0: no config file). Pure. 0 and a
 * malloc'd NUL-terminated *out (caller wipes and frees), or -1 with err (unparsable
 * config, a launcher path that cannot be quoted, ENOMEM). */
int awsr_genconfig_render(const char *user_text, size_t user_len, const char *user_path,
                          const struct awsr_genconfig_opts *opts, char **out, size_t *outlen,
                          struct awsr_error *err);

/* Reads `user_path` (a missing file counts as empty), renders, and writes
 * <dir>/config mode 0600 (O_EXCL, no symlinks). 0 and a malloc'd *path_out, or -1. */
int awsr_genconfig_write(const char *dir, const char *user_path,
                         const struct awsr_genconfig_opts *opts, char **path_out,
                         struct awsr_error *err);

#endif
