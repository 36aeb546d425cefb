/* secmem.c - wipe-on-free allocation. malloc_usable_size gives the whole block, so the
 * wipe covers every byte a library could have written, whatever size it asked for. */
#include "secmem.h"

#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

void *awsr_secmem_malloc(size_t n)
{
    return malloc(n);
}

void *awsr_secmem_calloc(size_t n, size_t size)
{
    return calloc(n, size);
}

void awsr_secmem_free(void *p)
{
    if (!p)
        return;
    explicit_bzero(p, malloc_usable_size(p));
    free(p);
}

void *awsr_secmem_realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    if (n == 0) {
        awsr_secmem_free(p);
        return NULL;
    }
    void *q = malloc(n);
    if (!q)
        return NULL;
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    awsr_secmem_free(p);
    return q;
}

char *awsr_secmem_strdup(const char *s)
{
    return strdup(s);
}

void awsr_secmem_use_for_jansson(void)
{
    json_set_alloc_funcs(awsr_secmem_malloc, awsr_secmem_free);
}
