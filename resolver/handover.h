/* handover.h - where a statically linked awsrole-run gives its run to awsrole-run-full.
 *
 * The static launcher serves cache hits on its own; the first time the resolver needs
 * what only a dynamically linked program can do (libcurl, libcrypto, expat, NSS), or is
 * about to do something that must not happen twice (prompt, run a process, wait on a
 * cache lock), it calls awsr_handover(). While the launcher has armed a handler, that
 * execs the companion with the same arguments, which redoes the run from the start;
 * otherwise (the dynamic build, or after the first phase) it returns and the caller goes
 * on. */
#ifndef AWSR_HANDOVER_H
#define AWSR_HANDOVER_H

typedef void (*awsr_handover_fn)(const char *why);

/* Installs (or with NULL removes) the handler. */
void awsr_handover_arm(awsr_handover_fn fn);
/* Calls the handler if one is armed; returns if it does not exec. */
void awsr_handover(const char *why);

#endif
