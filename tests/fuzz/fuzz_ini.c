/* fuzz_ini.c - libFuzzer target: the INI parser and the profile map over arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct awsr_error err = {0};
    struct awsr_ini *ini = NULL;
    if (awsr_ini_parse((const char *)data, size, "fuzz", &ini, &err) == 0) {
        /* Walk everything so the sanitizers see every value and sub-key. */
        size_t total = 0;
        for (struct awsr_section *s = ini->sections; s; s = s->hh.next)
            for (struct awsr_kv *kv = s->keys; kv; kv = kv->hh.next) {
                total += strlen(kv->key) + strlen(kv->value);
                for (struct awsr_kv *sub = kv->sub; sub; sub = sub->hh.next)
                    total += strlen(sub->key) + strlen(sub->value);
            }
        (void)total;
        awsr_ini_free(ini);
    }
    struct awsr_config *cfg = NULL;
    if (awsr_config_parse((const char *)data, size, "fuzz", (const char *)data, size, "fuzz",
                          &cfg, &err) == 0)
        awsr_config_free(cfg);
    return 0;
}
