/* fuzz_profile.c - libFuzzer target: plans over a random config. The input is split on
 * "\n----\n" into config and credentials text; plans are built for the first few profile
 * names, with and without an explicit --duration. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "profile.h"

static const char MARKER[] = "\n----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int env_cleared;
    if (!env_cleared) {
        /* Plans must depend on the input only. */
        const char *vars[] = {"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION",
                              "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL",
                              "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_CA_BUNDLE",
                              "AWS_STS_REGIONAL_ENDPOINTS", "AWS_WEB_IDENTITY_TOKEN_FILE",
                              "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME"};
        for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
            unsetenv(vars[i]);
        env_cleared = 1;
    }
    const char *text = (const char *)data;
    const char *cred = NULL;
    size_t cfg_len = size, cred_len = 0;
    const char *m = memmem(text, size, MARKER, sizeof MARKER - 1);
    if (m) {
        cfg_len = (size_t)(m - text);
        cred = m + sizeof MARKER - 1;
        cred_len = size - cfg_len - (sizeof MARKER - 1);
    }
    struct awsr_config *cfg = NULL;
    struct awsr_error err = {0};
    if (awsr_config_parse(text, cfg_len, "config", cred, cred_len, "credentials", &cfg, &err) < 0)
        return 0;
    int n = 0;
    for (const struct awsr_profile *p = cfg->profiles; p && n < 4; p = p->hh.next, n++) {
        struct awsr_plan_opts opts = {.profile = p->name, .duration_seconds = n % 2 ? 900 : 0};
        struct awsr_plan plan;
        if (awsr_plan_build(cfg, &opts, &plan, &err) == 0) {
            /* Every step must be complete. */
            for (size_t i = 0; i < plan.nsteps; i++)
                if (!plan.steps[i].profile || !plan.steps[i].role_arn)
                    abort();
            awsr_plan_free(&plan);
        } else if (!err.message[0] || err.status == 0) {
            abort();
        }
    }
    struct awsr_plan_opts opts = {0}; /* the default profile, maybe absent */
    struct awsr_plan plan;
    if (awsr_plan_build(cfg, &opts, &plan, &err) == 0)
        awsr_plan_free(&plan);
    awsr_config_free(cfg);
    return 0;
}
