/* cache.h - the on-disk session cache under $XDG_CACHE_HOME/awsrole (default
 * ~/.cache/awsrole): directory 0700 owned by the user, entries 0600 JSON (jansson),
 * written to a temporary file (O_EXCL|O_NOFOLLOW) and renamed; one flock per key. */
#ifndef AWSR_CACHE_H
#define AWSR_CACHE_H

#include <stdbool.h>
#include <time.h>

#include "creds.h"
#include "error.h"

#define AWSR_CACHE_MIN_VALID 900 /* an entry is reused only while 15 minutes remain */

struct awsr_cache;

/* Opens (creating) the directory. Refuses one owned by someone else or writable by group
 * or others (AWSR_E_CONFIG with guidance). When it cannot be created, returns -1 with a
 * warning-worthy message; callers run without a cache. */
int awsr_cache_open(struct awsr_cache **out, struct awsr_error *err);
void awsr_cache_close(struct awsr_cache *c);

/* The key of `material` (a canonical JSON text the caller builds): kind ("session-" or
 * "role-") and 16 hex digits of a 64-bit FNV-1a of the material on the first line, which
 * names the entry and its lock, then "\n" and the material itself. The entry stores the
 * whole key and a read compares it, so two materials that share a name only ever miss.
 * Keys compare equal exactly when their materials do. Returns malloc'd text.
 * The functions below also take a bare name ("role-abc") as a key. */
char *awsr_cache_key(const char *kind, const char *material);

/* flock(LOCK_EX) on <dir>/<key>.lock, waiting (at most 3 minutes: the holder may be at a
 * prompt nobody answers). Returns an fd (>= 0) or -1. */
int awsr_cache_lock(struct awsr_cache *c, const char *key);
/* The same for a run that holds an MFA code already: it waits at most 25 s, while the
 * code is still good. */
int awsr_cache_lock_with_code(struct awsr_cache *c, const char *key);
void awsr_cache_unlock(int fd);

/* 0 and *out filled when <key>.json exists, parses, and expires after min_valid_until.
 * -1 (a miss) otherwise; an unreadable or corrupt entry is a miss, never an error. */
int awsr_cache_get(struct awsr_cache *c, const char *key, time_t min_valid_until,
                   struct awsr_creds *out);
/* Writes the entry, recording `profile` in it. 0, or -1 with err (callers warn once). */
int awsr_cache_put(struct awsr_cache *c, const char *key, const char *profile,
                   const struct awsr_creds *creds, struct awsr_error *err);
/* 1 removed, 0 there was no such entry, -1 error. */
int awsr_cache_remove(struct awsr_cache *c, const char *key);
/* Removes every entry recorded for `profile` (role credentials of any duration or region),
 * and temporary files left by interrupted writes. The number removed, or -1. */
int awsr_cache_forget_profile(struct awsr_cache *c, const char *profile);
const char *awsr_cache_dir(const struct awsr_cache *c);

#endif
