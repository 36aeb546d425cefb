/* front.h - the statically linked launcher and its dynamically linked companion.
 *
 * build/awsrole-run is linked statically: no dynamic loader, so every command it starts
 * costs one dynamic exec less (0.5 ms on the bench VM; BENCHMARKS.md). It serves cache
 * hits alone. When a run needs libcurl, libcrypto, expat or NSS, or a prompt, a process,
 * a cache lock, it execs awsrole-run-full (the same program, linked dynamically; beside
 * it or in ../lib/awsrole/) with the same arguments before anything happened that could
 * not happen twice; the MFA code, already wiped from argv and environ, goes through a
 * pipe. A tree the static launcher supervises renews through the companion too: it runs
 * it in an internal mode that resolves once and prints the credentials as JSON on a
 * pipe. */
#ifndef AWSR_FRONT_H
#define AWSR_FRONT_H

#include <stdbool.h>
#include <stddef.h>

#include "resolve.h"

/* The companion's internal variables: set only by the static launcher, honoured only by
 * awsrole-run-full (its main.c is built with AWSR_COMPANION); every other build removes
 * them at start. */
#define AWSR_FRONT_CODE_FD_ENV "AWSROLE_INTERNAL_MFA_FD"
#define AWSR_FRONT_RESOLVE_ENV "AWSROLE_INTERNAL_RESOLVE"
#define AWSR_FRONT_SESSION_ENV "AWSROLE_INTERNAL_SESSION_NAME"
#define AWSR_FRONT_SELF_ENV "AWSROLE_INTERNAL_FRONT"  /* the static launcher's own path */
/* In the resolve mode, descriptors 3 and 4 may hold the config and credentials files as
 * the static launcher read them (AWS_CONFIG_FILE=/dev/fd/3, ...); the companion marks them
 * close-on-exec at once, so no process it runs inherits them. */
#define AWSR_FRONT_SNAPSHOT_FD0 3

/* True in the statically linked launcher. */
bool awsr_front_is_static(void);

/* This program's path from /proc/self/exe (read once), or "" when /proc cannot say. */
const char *awsr_self_path(void);

/* An installed companion file beside the launcher or in ../lib/awsrole/ from it
 * (a canonical path, malloc'd), or NULL. Also finds the preload library. */
char *awsr_front_find_beside(const char *name);

/* Static launcher, first phase: arms the handover (argv as the process got it; code
 * points to the launcher's copy of the MFA code, or NULL) and holds log lines. */
void awsr_front_begin(char **argv, const char *code);
/* Hands over now (for modes the static launcher never serves). On failure, says why and
 * exits with 255; so does any hand-over during the first phase. */
_Noreturn void awsr_front_handover_now(const char *why);
/* End of the first phase: no more handover; held log lines are written. */
void awsr_front_settle(void);

/* Companion side: the MFA code the static launcher passed, copied into code (size n);
 * false when none. Removes the variable and closes the pipe. */
bool awsr_front_take_code(char *code, size_t n);

/* Static launcher, later: resolves the n resolvers' profiles with flags through the
 * companion (the argv of awsr_front_begin, AWSR_FRONT_RESOLVE_ENV set), into creds. */
int awsr_front_resolve(const struct awsr_resolver *res, size_t n, int flags,
                       struct awsr_creds *creds, struct awsr_error *err);

/* Companion side of awsr_front_resolve: when AWSR_FRONT_RESOLVE_ENV is set, resolves and
 * prints the answer on stdout; returns the exit status. -1 when the variable is unset. */
int awsr_front_serve(struct awsr_resolver *res, size_t n);

#endif
