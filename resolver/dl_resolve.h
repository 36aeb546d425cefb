/* dl_resolve.h - filling a table of function pointers from a library opened with dlopen
 * (curl_dl.c, expat_dl.c). */
#ifndef AWSR_DL_RESOLVE_H
#define AWSR_DL_RESOLVE_H

#include "dynamic_only.h"

/* Sets `slot` to `name` from `handle`, unless an earlier symbol was already `missing`;
 * records `name` in `missing` when the library lacks it. dlsym returns void *; POSIX
 * guarantees it converts to a function pointer. */
#define AWSR_DL_RESOLVE(handle, slot, name, missing)                                      \
    do {                                                                                  \
        if (!(missing) && !(*(void **)&(slot) = awsr_dlsym((handle), (name))))            \
            (missing) = (name);                                                           \
    } while (0)

#endif
