/* dynamic_only.c - dlopen and user lookups, or their refusal in the static launcher
 * (compiled twice: see dynamic_only.h and the Makefile). Each first offers the run to
 * the companion (handover.h); in the static build what is left after that fails. */
#include "dynamic_only.h"

#include "handover.h"

#include <stddef.h>

#ifndef AWSR_NO_DLOPEN
#include <dlfcn.h>
#endif

bool awsr_dlopen_available(void)
{
#ifdef AWSR_NO_DLOPEN
    return false;
#else
    return true;
#endif
}

void *awsr_dlopen(const char *soname)
{
    awsr_handover(soname);
#ifdef AWSR_NO_DLOPEN
    return NULL;
#else
    return dlopen(soname, RTLD_NOW | RTLD_LOCAL);
#endif
}

const char *awsr_dlerror(void)
{
#ifdef AWSR_NO_DLOPEN
    return "this awsrole-run is statically linked and its companion awsrole-run-full "
           "(beside it, or in ../lib/awsrole/) could not be run; reinstall awsrole-run";
#else
    const char *e = dlerror();
    return e ? e : "unknown error";
#endif
}

void *awsr_dlsym(void *handle, const char *name)
{
#ifdef AWSR_NO_DLOPEN
    (void)handle, (void)name;
    return NULL;
#else
    return dlsym(handle, name);
#endif
}

struct passwd *awsr_getpwuid(uid_t uid)
{
    awsr_handover("the user database");
#ifdef AWSR_NO_DLOPEN
    (void)uid;
    return NULL;
#else
    return getpwuid(uid);
#endif
}

struct passwd *awsr_getpwnam(const char *name)
{
    awsr_handover("the user database");
#ifdef AWSR_NO_DLOPEN
    (void)name;
    return NULL;
#else
    return getpwnam(name);
#endif
}
