/* fuzz_sts_xml.c - libFuzzer target for the STS response and ErrorResponse parser.
 * Every input goes through each operation's success parser and the error parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "creds.h"
#include "sts.h"
#include "sts_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const ops[] = {"AssumeRole", "GetSessionToken",
                                      "AssumeRoleWithWebIdentity", "GetCallerIdentity"};
    const char *body = (const char *)data;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        struct awsr_creds c = {0};
        struct awsr_identity id = {0};
        struct awsr_error err = {0};
        if (awsr_sts_parse_response(body, size, ops[i], &c, &id, &err) == 0) {
            /* success means the required fields are there */
            if (i < 3 && (!c.access_key_id || !c.secret_access_key || !c.session_token))
                __builtin_trap();
            if (i == 3 && (!id.account || !id.arn))
                __builtin_trap();
        } else if (err.status != AWSR_E_OTHER || strlen(err.message) >= sizeof err.message) {
            __builtin_trap();
        }
        awsr_creds_clear(&c);
        awsr_identity_free(&id);
    }
    struct awsr_error err = {0};
    if (awsr_sts_parse_error(body, size, 503, "Service Unavailable", "AssumeRole", &err) != -1 ||
        err.status != AWSR_E_SERVICE || err.code[0] == '\0')
        __builtin_trap();
    return 0;
}
