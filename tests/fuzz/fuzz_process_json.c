/* fuzz_process_json.c - libFuzzer target: credential_process output parsing must never
 * crash, leak or accept a document without both keys. Seeds: corpus/process_json/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "creds.h"
#include "error.h"
#include "sources.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct awsr_creds c = {0};
    struct awsr_error e = {0};
    if (awsr_process_parse_output((const char *)data, size, &c, &e) == 0) {
        if (!awsr_creds_present(&c))
            abort();
    } else if (e.status == 0 || e.message[0] == '\0' || c.access_key_id) {
        abort();
    }
    awsr_creds_clear(&c);
    return 0;
}
