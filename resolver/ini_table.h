/* ini_table.h - resolver-internal helpers over the key and section tables of config.h,
 * shared by the INI parser (ini.c) and botocore's profile map (config.c). */
#ifndef AWSR_INI_TABLE_H
#define AWSR_INI_TABLE_H

#include <stddef.h>

#include "config.h"

/* A key with a copy of key[0..keylen) and of value (NULL allowed); NULL when out of
 * memory. */
struct awsr_kv *awsr_kv_new(const char *key, size_t keylen, const char *value, unsigned line);
/* Deep copy (sub-keys included) into *dst; -1 when out of memory (*dst left empty). */
int awsr_kv_copy_table(const struct awsr_kv *src, struct awsr_kv **dst);
/* dict.update with one key: an existing key keeps its position, its value is replaced.
 * -1 when out of memory. */
int awsr_kv_update(struct awsr_kv **dst, const struct awsr_kv *kv);
/* Frees every key (values wiped) and empties the table. */
void awsr_kv_free_table(struct awsr_kv **table);

void awsr_section_free(struct awsr_section *s);
void awsr_section_free_table(struct awsr_section **table);

#endif
