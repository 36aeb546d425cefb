/* clock.h - wall-clock seconds for the shim's expiry checks (internal). */
#ifndef AWSR_SHIM_CLOCK_H
#define AWSR_SHIM_CLOCK_H

#include <stdint.h>

#include "shim.h"

/* Seconds since the epoch, like time(NULL), from the vDSO's clock_gettime without going
 * through libc (falls back to libc's time() where no vDSO symbol is found). */
AWSR_HIDDEN int64_t awsr_clock_now(void);

/* The same from the clock_gettime system call: for the exec wrappers, which often run in a
 * fresh fork child where the vDSO's pages (and the lookup of its symbol, when the parent
 * never needed the clock) cost page faults that are dearer than one system call. */
AWSR_HIDDEN int64_t awsr_clock_now_syscall(void);

/* The vDSO's address from the auxiliary vector (AT_SYSINFO_EHDR), when the constructor
 * has the vector at hand: saves a getauxval binding. NULL is ignored. */
AWSR_HIDDEN void awsr_clock_set_vdso(const void *ehdr);

/* The address of the clock_gettime the vDSO image at ehdr exports, or NULL. */
AWSR_HIDDEN void *awsr_clock_vdso_gettime(const void *ehdr);

#endif
