/* segment_read.h - the reader side of the shared segment inside the preload library
 * (internal to shim/preload: env.c uses it; files.c goes through shim.h). */
#ifndef AWSR_SEGMENT_READ_H
#define AWSR_SEGMENT_READ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "segment_layout.h"
#include "shim.h"

/* Seconds before expiry at which the process moves to a newer generation. */
#define AWSR_SWITCH_MARGIN 600

/* The segment named by AWSROLE_SEGMENT, mapped read-only once per process, or NULL when
 * there is none or it fails a check (owner, mode, size, magic, version). */
AWSR_HIDDEN const struct awsr_seg *awsr_seg_attach(void);

/* True when a segment file may be trusted: regular, ours, no group/other bits, exact size. */
AWSR_HIDDEN bool awsr_seg_stat_ok(const struct stat *st, uid_t euid);

/* The process's snapshot: an immutable, never-freed private copy of one slot (strings
 * NUL-terminated). It moves to a newer generation only when it has none or when its own
 * credentials expire within AWSR_SWITCH_MARGIN seconds of `now`. With `may_ask` in lazy
 * mode and no generation yet, asks the launcher and waits for its answer. NULL when there
 * is no segment or no credentials. */
AWSR_HIDDEN const struct awsr_seg_slot *awsr_seg_snapshot(int64_t now, bool may_ask);

/* awsr_seg_snapshot for the constructor: never asks, and reads the clock only when a
 * snapshot already exists. `seg_name` is the value of AWSROLE_SEGMENT the constructor
 * already found in environ (so it is not looked up twice). */
AWSR_HIDDEN const struct awsr_seg_slot *awsr_seg_snapshot_at_start(const char *seg_name);

/* True when `value` hashes like a value this tree issued for `field` (AWSR_ISSUED_*) in
 * one of the last AWSR_SEG_HISTORY generations; false when no segment is attached. Reads
 * the header (a page fault when idle): for the rare values that are not the current ones. */
AWSR_HIDDEN bool awsr_seg_issued(int field, const char *value);

/* Lengths of a snapshot's strings, recorded while copying them (so the constructor can
 * compare environ values length-first). They live at the start of the private block, just
 * before the slot copy (on the page the copy's strings start on), never in the segment. */
struct awsr_snap_lens {
    uint32_t access_key_id, secret_access_key, session_token, expiration_text, region;
};

#define AWSR_SNAP_LENS_ROOM 64 /* keeps the slot copy 64-byte aligned */

static inline const struct awsr_snap_lens *awsr_seg_snapshot_lens(const struct awsr_seg_slot *s)
{
    return (const struct awsr_snap_lens *)(const void *)((const char *)s - AWSR_SNAP_LENS_ROOM);
}

/* The private block a snapshot lives in (what was mmap'ed: AWSR_SNAP_SIZE bytes). */
static inline void *awsr_seg_snapshot_block(const struct awsr_seg_slot *s)
{
    return (void *)((const char *)s - AWSR_SNAP_LENS_ROOM);
}

#define AWSR_SNAP_SIZE \
    ((AWSR_SNAP_LENS_ROOM + sizeof(struct awsr_seg_slot) + 4095) & ~(size_t)4095)

#ifdef AWSR_SHIM_TESTING
/* Forgets the attachment and the snapshot (mappings leak; tests only). */
void awsr_seg_reset_for_tests(void);
/* The ask-and-wait bound, shortened by tests. */
extern int awsr_seg_wait_seconds;
#endif

#endif
