/* ini_table.c - the key and section tables of config.h (uthash, file order): building,
 * copying, dict.update and freeing. Values may be secrets, so they are wiped when freed. */
#include "ini_table.h"

#include <stdlib.h>
#include <string.h>

void awsr_kv_free_table(struct awsr_kv **table)
{
    struct awsr_kv *kv, *tmp;
    HASH_ITER(hh, *table, kv, tmp) {
        HASH_DEL(*table, kv);
        awsr_kv_free_table(&kv->sub);
        free(kv->key);
        if (kv->value) {
            explicit_bzero(kv->value, strlen(kv->value));
            free(kv->value);
        }
        free(kv);
    }
    *table = NULL;
}

void awsr_section_free(struct awsr_section *s)
{
    if (!s)
        return;
    awsr_kv_free_table(&s->keys);
    free(s->name);
    free(s);
}

void awsr_section_free_table(struct awsr_section **table)
{
    struct awsr_section *s, *tmp;
    HASH_ITER(hh, *table, s, tmp) {
        HASH_DEL(*table, s);
        awsr_section_free(s);
    }
    *table = NULL;
}

struct awsr_kv *awsr_kv_new(const char *key, size_t keylen, const char *value, unsigned line)
{
    struct awsr_kv *kv = calloc(1, sizeof *kv);
    if (!kv)
        return NULL;
    kv->key = strndup(key, keylen);
    kv->value = value ? strdup(value) : NULL;
    kv->line = line;
    if (!kv->key || (value && !kv->value)) {
        free(kv->key);
        free(kv->value);
        free(kv);
        return NULL;
    }
    return kv;
}

int awsr_kv_copy_table(const struct awsr_kv *src, struct awsr_kv **dst)
{
    *dst = NULL;
    for (const struct awsr_kv *kv = src; kv; kv = kv->hh.next) {
        struct awsr_kv *n = awsr_kv_new(kv->key, strlen(kv->key), kv->value, kv->line);
        if (!n || awsr_kv_copy_table(kv->sub, &n->sub) < 0) {
            if (n) {
                struct awsr_kv *one = n;
                awsr_kv_free_table(&one->sub);
                free(n->key);
                free(n->value);
                free(n);
            }
            awsr_kv_free_table(dst);
            return -1;
        }
        HASH_ADD_KEYPTR(hh, *dst, n->key, strlen(n->key), n);
    }
    return 0;
}

/* dict.update: an existing key keeps its position, its value is replaced. */
int awsr_kv_update(struct awsr_kv **dst, const struct awsr_kv *kv)
{
    struct awsr_kv *old = NULL;
    HASH_FIND_STR(*dst, kv->key, old);
    struct awsr_kv *n = awsr_kv_new(kv->key, strlen(kv->key), kv->value, kv->line);
    if (!n || awsr_kv_copy_table(kv->sub, &n->sub) < 0) {
        if (n) {
            free(n->key);
            free(n->value);
            free(n);
        }
        return -1;
    }
    if (old) {
        char *v = old->value;
        awsr_kv_free_table(&old->sub);
        old->value = n->value;
        old->sub = n->sub;
        old->line = n->line;
        n->value = NULL;
        n->sub = NULL;
        if (v) {
            explicit_bzero(v, strlen(v));
            free(v);
        }
        free(n->key);
        free(n);
        return 0;
    }
    HASH_ADD_KEYPTR(hh, *dst, n->key, strlen(n->key), n);
    return 0;
}

const struct awsr_kv *awsr_kv_find(const struct awsr_kv *table, const char *key)
{
    struct awsr_kv *kv = NULL;
    if (!table || !key)
        return NULL;
    HASH_FIND_STR(table, key, kv);
    return kv;
}
