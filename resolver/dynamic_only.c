/* dynamic_only.c - dlopen and user lookups, or their refusal in the static launcher
 * (compiled twice: see dynamic_only.h and the Makefile). */
#include "dynamic_only.h"

#include "handover.h"

#include <errno.h>
#include <stddef.h>

#ifndef AWSR_NO_DLOPEN
#include <dlfcn.h>

bool awsr_dlopen_available(void)
{
    return true;
}

void *awsr_dlopen(const char *soname)
{
    awsr_handover(soname);
    return dlopen(soname, RTLD_NOW | RTLD_LOCAL);
}

const char *awsr_dlerror(void)
{
    const char *e = dlerror();
    return e ? e : "unknown error";
}

void *awsr_dlsym(void *handle, const char *name)
{
    return dlsym(handle, name);
}

struct passwd *awsr_getpwuid(uid_t uid)
{
    awsr_handover("the user database");
    return getpwuid(uid);
}

struct passwd *awsr_getpwnam(const char *name)
{
    awsr_handover("the user database");
    return getpwnam(name);
}

#else

bool awsr_dlopen_available(void)
{
    return false;
}

void *awsr_dlopen(const char *soname)
{
    awsr_handover(soname);
    return NULL;
}

const char *awsr_dlerror(void)
{
    return "this awsrole-run is statically linked and its companion awsrole-run-full "
           "(beside it, or in ../lib/awsrole/) could not be run; reinstall awsrole-run";
}

void *awsr_dlsym(void *handle, const char *name)
{
    (void)handle, (void)name;
    return NULL;
}

struct passwd *awsr_getpwuid(uid_t uid)
{
    (void)uid;
    awsr_handover("the user database");
    errno = ENOENT;
    return NULL;
}

struct passwd *awsr_getpwnam(const char *name)
{
    (void)name;
    awsr_handover("the user database");
    errno = ENOENT;
    return NULL;
}

#endif
