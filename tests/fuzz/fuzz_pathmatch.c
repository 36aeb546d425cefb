// fuzz-sources: shim/preload/pathmatch.c
/* fuzz_pathmatch.c - libFuzzer target for the credentials-path matcher.
 * Input: HOME \0 AWS_SHARED_CREDENTIALS_FILE \0 candidate (missing parts are NULL); in
 * the shared file, $H (or ${H}) is HOME and $C the candidate, so expansion is fuzzed too.
 * Directory identities come from a deterministic fake (a hash of the directory string),
 * so no syscall is made. Checked invariants: no crash or overflow; a candidate spelled
 * exactly like a target matches; a candidate whose last component differs from every
 * target's never matches and never causes a directory lookup. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/preload/pathmatch.h"

static int lookups;

static bool fake_stat(void *ctx, int dirfd, const char *path, struct awsr_pm_id *out)
{
    (void)ctx;
    lookups++;
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(dirfd + 1000);
    for (const char *p = path; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    if (h % 7 == 0)
        return false;               /* some directories are missing */
    out->dev = (dev_t)(h & 3);
    out->ino = (ino_t)((h >> 2) & 15); /* few identities: collisions happen */
    return true;
}

static const char *fuzz_home, *fuzz_cand;

static const char *fake_getenv(void *ctx, const char *name, size_t len)
{
    (void)ctx;
    if (len == 1 && name[0] == 'H')
        return fuzz_home;
    return len == 1 && name[0] == 'C' ? fuzz_cand : NULL;
}

/* Splits at NULs into up to three strings, copied so they are terminated. */
static const char *take(const uint8_t **data, size_t *size, char *buf, size_t cap)
{
    if (*size == 0)
        return NULL;
    size_t n = 0;
    while (n < *size && (*data)[n] != 0)
        n++;
    size_t copy = n < cap - 1 ? n : cap - 1;
    memcpy(buf, *data, copy);
    buf[copy] = '\0';
    size_t used = n < *size ? n + 1 : n;
    *data += used;
    *size -= used;
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char home[AWSR_PM_PATH_MAX + 64], shared[AWSR_PM_PATH_MAX + 64],
                cand[AWSR_PM_PATH_MAX + 64];
    static struct awsr_pm_set set;
    const char *h = take(&data, &size, home, sizeof home);
    const char *s = take(&data, &size, shared, sizeof shared);
    const char *c = take(&data, &size, cand, sizeof cand);

    fuzz_home = h;
    fuzz_cand = c;
    awsr_pm_build(&set, h, s, fake_getenv, NULL);
    if (set.n > AWSR_PM_MAX_TARGETS)
        abort();
    for (size_t k = 0; k < set.n; k++) {
        const struct awsr_pm_target *t = &set.t[k];
        if (t->len >= AWSR_PM_PATH_MAX || strlen(t->path) != t->len || t->base > t->len)
            abort();
        /* A target spelled as itself always matches, without any lookup. */
        lookups = 0;
        if (!awsr_pm_match(&set, AT_FDCWD, t->path, fake_stat, NULL) || lookups != 0)
            abort();
    }
    if ((size & 1) != 0)
        awsr_pm_cache_ids(&set, fake_stat, NULL);
    if (c == NULL)
        return 0;

    size_t blen;
    const char *base = awsr_pm_last_component(c, &blen);
    bool base_ok = false;
    for (size_t k = 0; k < set.n; k++) {
        const struct awsr_pm_target *t = &set.t[k];
        base_ok |= t->len - t->base == blen && memcmp(t->path + t->base, base, blen) == 0;
    }
    lookups = 0;
    bool m = awsr_pm_match(&set, AT_FDCWD, c, fake_stat, NULL);
    if (!base_ok && (m || lookups != 0))
        abort();
    if (awsr_pm_match(&set, 3, c, fake_stat, NULL) && !base_ok)
        abort();

    char norm[AWSR_PM_PATH_MAX];
    size_t len = awsr_pm_normalize(c, norm, sizeof norm);
    if (len != (size_t)-1) {
        /* Normalizing is idempotent. */
        char again[AWSR_PM_PATH_MAX];
        if (awsr_pm_normalize(norm, again, sizeof again) != len || strcmp(norm, again) != 0)
            abort();
    }
    return 0;
}
