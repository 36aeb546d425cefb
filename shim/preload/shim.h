/* shim.h - what the preload library's parts share (internal, hidden symbols).
 * env.c and segment_read.c own the segment; files.c and pathmatch.c own the file
 * redirection, exec.c the exec family; they ask the segment side only through these
 * calls. */
#ifndef AWSR_SHIM_H
#define AWSR_SHIM_H

#include <stdbool.h>

#define AWSR_HIDDEN __attribute__((visibility("hidden")))
#define AWSR_EXPORT __attribute__((visibility("default")))

/* Path of the tree's synthesized credentials file, or NULL when this process has no live
 * segment (then every wrapper passes through). In lazy mode, the first call asks the
 * launcher and waits for the answer. Never allocates, never calls a wrapped function. */
AWSR_HIDDEN const char *awsr_shim_credentials_file(void);

/* Looks a name up in environ without going through the getenv wrapper (no dlsym, no
 * malloc): the shim's own reads of HOME and AWS_SHARED_CREDENTIALS_FILE. */
AWSR_HIDDEN const char *awsr_shim_raw_getenv(const char *name);

/* True in AT_SECURE (setuid/setgid/capability) processes: the shim then does nothing. */
AWSR_HIDDEN bool awsr_shim_disabled(void);

/* Room for an envp the exec wrappers rewrite (exec.c): an environment of more entries is
 * passed on as it is; the strings hold the current generation's "NAME=value" entries. */
#define AWSR_ENVP_MAX 512
struct awsr_envp_scratch {
    char *array[AWSR_ENVP_MAX];
    char strings[2 * 4096 + 1024];
};

/* envp for a new program: the tree's stale credential values (issued by an earlier
 * generation) replaced by the current ones; the program's own values and removals kept.
 * Returns envp itself when nothing is stale (the common case), else sc->array. No
 * allocation, errno preserved, safe in a vfork child. */
AWSR_HIDDEN char *const *awsr_env_renew(char *const envp[], struct awsr_envp_scratch *sc);

#endif
