/* shim.h - what the preload library's parts share (internal, hidden symbols).
 * env.c and segment_read.c own the segment; files.c and pathmatch.c own the file
 * redirection, exec.c the exec family; they ask the segment side only through these
 * calls. */
#ifndef AWSR_SHIM_H
#define AWSR_SHIM_H

#include <stdbool.h>
#include <stddef.h>

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

/* The envp the exec wrappers hand a new program: the tree's stale credential values
 * (issued by an earlier generation) replaced by the current ones; the program's own values
 * and removals kept. In two steps, so that the caller holds the new array and strings on
 * its own stack, sized to what is needed (no allocation: safe in a vfork child):
 *   awsr_env_stale: 0 when there is nothing to renew (the common case; also without a
 *     segment, in setuid processes, for an envp of more than AWSR_ENVP_MAX entries or
 *     whose new values would take more than AWSR_ENVP_STRINGS_MAX bytes), else
 *     the number of entries (the array needs one more for its NULL); sets *slot and
 *     *bytes (room for the new "NAME=value" strings) for the second step;
 *   awsr_env_renew_into: fills array and strings (room bytes: a value that does not fit,
 *     because a renewal came in between, stays as it was), returns array.
 * errno is left alone. AWSR_RENEWED_ENVP does both in a wrapper. */
#define AWSR_ENVP_MAX 4096 /* 32 KiB of pointers on the caller's stack at most */
/* ... and the new values' bytes at most this (two 16 KiB tokens and the small values): an
 * envp that repeats a variable many times is passed on unchanged rather than grow the
 * stack. */
#define AWSR_ENVP_STRINGS_MAX (2 * 16384 + 1024)
AWSR_HIDDEN size_t awsr_env_stale(char *const envp[], const void **slot, size_t *bytes);
AWSR_HIDDEN char *const *awsr_env_renew_into(char *const envp[], size_t n, const void *slot,
                                             char **array, char *strings, size_t room);

/* Declares `out`, the envp to hand on: `in` itself, or a renewed copy on this stack frame
 * (valid until the enclosing block ends). Both arrays are variable-length, so the common
 * case (nothing stale) takes no stack: no page of it to fault in a fork child. */
#define AWSR_RENEWED_ENVP(out, in)                                                    \
    const void *out##_slot_ = NULL;                                                   \
    size_t out##_bytes_ = 0;                                                          \
    size_t out##_n_ = awsr_env_stale((in), &out##_slot_, &out##_bytes_);             \
    char *out##_array_[out##_n_ + 1];                                                 \
    char out##_strings_[out##_n_ ? out##_bytes_ : 1];                                 \
    char *const *out = out##_n_ ? awsr_env_renew_into((in), out##_n_, out##_slot_,    \
                                                      out##_array_, out##_strings_,   \
                                                      out##_bytes_)                   \
                                : (in)

#endif
