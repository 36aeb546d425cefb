/* dynamic_only.h - the glibc facilities that need the dynamic loader: dlopen, and user
 * database lookups (NSS modules are loaded with dlopen). The statically linked launcher
 * is built with AWSR_NO_DLOPEN: each of these first hands the run over (handover.h), and
 * fails if it is still running. */
#ifndef AWSR_DYNAMIC_ONLY_H
#define AWSR_DYNAMIC_ONLY_H

#include <pwd.h>
#include <stdbool.h>
#include <sys/types.h>

/* False in the static build. */
bool awsr_dlopen_available(void);

/* dlopen(soname, RTLD_NOW | RTLD_LOCAL); NULL with awsr_dlerror() saying why. */
void *awsr_dlopen(const char *soname);
const char *awsr_dlerror(void);
void *awsr_dlsym(void *handle, const char *name);

/* getpwuid / getpwnam; NULL when unknown or not available. */
struct passwd *awsr_getpwuid(uid_t uid);
struct passwd *awsr_getpwnam(const char *name);

#endif
