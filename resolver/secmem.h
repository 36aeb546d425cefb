/* secmem.h - allocation functions that wipe every block they free, handed to the
 * libraries that see credentials (jansson, expat, libcurl, libcrypto), so that no secret
 * outlives its use in freed heap memory. */
#ifndef AWSR_SECMEM_H
#define AWSR_SECMEM_H

#include <stddef.h>

void *awsr_secmem_malloc(size_t n);
void *awsr_secmem_calloc(size_t n, size_t size);
/* Never grows in place: copies into a new block and wipes the old one. */
void *awsr_secmem_realloc(void *p, size_t n);
void awsr_secmem_free(void *p);
char *awsr_secmem_strdup(const char *s);

/* Makes jansson allocate through these (once; call before the first JSON value). */
void awsr_secmem_use_for_jansson(void);

#endif
