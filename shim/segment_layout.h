/* segment_layout.h - the bytes of the shared segment, shared by the launcher (the only
 * writer, shim/segment.c) and the preload library (readers, shim/preload/segment_read.c).
 *
 * Fixed-width, pointer-free, versioned: a header (with a short history of hashes of the
 * values issued, see AWSR_SEG_HISTORY), then two slots (double buffer). The
 * writer fills the slot readers are not told to use (seq odd, data, seq even), then flips
 * `current`. A writer killed mid-update leaves an odd seq on the inactive slot only, so
 * readers of the current slot are never disturbed. No pthread or sem objects inside.
 *
 * Every data word is accessed with 8-byte atomics (the helpers at the end): release stores
 * by the writer, acquire loads by readers, so the seqlock needs no standalone fence, is
 * race-free in the C11 sense and is understood by ThreadSanitizer (which ignores fences).
 * On x86-64 both compile to plain moves. */
#ifndef AWSR_SEGMENT_LAYOUT_H
#define AWSR_SEGMENT_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define AWSR_SEG_MAGIC   UINT64_C(0x3147455352535741) /* "AWSRSEG1" little-endian */
#define AWSR_SEG_VERSION 4u

/* Segment names: "awsrole-<launcher pid>-<32 hex>", carried in AWSROLE_SEGMENT (the same
 * name as AWSR_SEGMENT_ENV in segment.h); readers open /dev/shm/<name>. The launcher holds
 * an flock on the segment for its whole life: a lock that can be taken means it is gone. */
#define AWSR_SEG_ENV      "AWSROLE_SEGMENT"
#define AWSR_SEG_SHM_DIR  "/dev/shm/"
#define AWSR_SEG_PREFIX   "awsrole-"
#define AWSR_SEG_NAME_MAX 64

/* Header flags (header.flags). */
#define AWSR_SEG_F_LAZY      1u /* started without credentials: askers request them */
#define AWSR_SEG_F_REQUESTED 2u /* the launcher took a request and is resolving */
#define AWSR_SEG_F_FAILED    4u /* resolution failed (or the launcher left): stop waiting */

/* Issued-value history (header.issued): hashes of the values of the last AWSR_SEG_HISTORY
 * generations, one ring per field, at index (generation - 1) % AWSR_SEG_HISTORY. A reader
 * tells a stale copy of what this tree issued (replace it with the current generation)
 * from a value a program set itself (keep it) by looking the value's hash up here. */
#define AWSR_SEG_HISTORY 24
enum { AWSR_ISSUED_AKID, AWSR_ISSUED_SECRET, AWSR_ISSUED_TOKEN, AWSR_ISSUED_EXPIRY,
       AWSR_ISSUED_FIELDS };

/* Field sizes (each a multiple of 8; strings are NUL-terminated inside their field). */
#define AWSR_SEG_AKID_MAX    128
#define AWSR_SEG_SECRET_MAX  128
#define AWSR_SEG_TOKEN_MAX   16384 /* STS tokens are 1-2 KiB today; AWS promises no
                                     * maximum (session tags make them longer) */
#define AWSR_SEG_EXPIRY_MAX  32   /* ISO 8601 UTC text, "" when the keys do not expire */
#define AWSR_SEG_REGION_MAX  64
#define AWSR_SEG_PROFILE_MAX 256
#define AWSR_SEG_PATH_MAX    512

struct awsr_seg_slot {
    uint32_t seq;         /* odd while the writer fills the slot */
    uint32_t flags;       /* reserved, 0 */
    uint64_t generation;  /* 1, 2, ...; 0 = never filled */
    int64_t expiration;   /* unix seconds, 0 = does not expire */
    uint64_t seg_flags;   /* AWSR_SEG_F_LAZY of the header, copied (readers keep the copy) */
    char access_key_id[AWSR_SEG_AKID_MAX];
    char secret_access_key[AWSR_SEG_SECRET_MAX];
    char expiration_text[AWSR_SEG_EXPIRY_MAX];
    char region[AWSR_SEG_REGION_MAX];
    char profile[AWSR_SEG_PROFILE_MAX];
    char credentials_path[AWSR_SEG_PATH_MAX]; /* the synthesized credentials file */
    /* Last, so that a reader's copy of a slot with a token of today's size (1-2 KiB)
     * ends within its first page: a reader touches only the pages its token spans. */
    char session_token[AWSR_SEG_TOKEN_MAX];
    char reserved1[896];
};

struct awsr_seg_header {
    uint64_t magic;        /* AWSR_SEG_MAGIC, stored last (release) by the writer */
    uint32_t version;      /* AWSR_SEG_VERSION */
    uint32_t size;         /* sizeof(struct awsr_seg); the file is exactly this long */
    int32_t writer_pid;    /* the launcher: askers stop waiting when it is gone */
    uint32_t flags;        /* AWSR_SEG_F_* */
    uint32_t current;      /* 0 or 1: the slot readers use */
    uint32_t wake;         /* futex word: bumped on every publish and on failure */
    uint64_t generation;   /* latest published generation (informational) */
    uint64_t reserved0[3];
    char request_path[AWSR_SEG_PATH_MAX]; /* lazy: FIFO askers write one byte to */
    /* Hashes (awsr_seg_value_hash) of issued values, written before the slot is published;
     * 0 = empty. Each word is read and written with 4-byte atomics. */
    uint32_t issued[AWSR_ISSUED_FIELDS][AWSR_SEG_HISTORY];
    char reserved1[64];
};

struct awsr_seg {
    struct awsr_seg_header hdr;
    struct awsr_seg_slot slot[2];
};

/* Layout asserts: any change here is a version bump. */
_Static_assert(sizeof(struct awsr_seg_slot) == 18432, "slot size");
_Static_assert(offsetof(struct awsr_seg_slot, seq) == 0, "slot.seq");
_Static_assert(offsetof(struct awsr_seg_slot, generation) == 8, "slot.generation");
_Static_assert(offsetof(struct awsr_seg_slot, expiration) == 16, "slot.expiration");
_Static_assert(offsetof(struct awsr_seg_slot, seg_flags) == 24, "slot.seg_flags");
_Static_assert(offsetof(struct awsr_seg_slot, access_key_id) == 32, "slot.akid");
_Static_assert(offsetof(struct awsr_seg_slot, secret_access_key) == 160, "slot.secret");
_Static_assert(offsetof(struct awsr_seg_slot, expiration_text) == 288, "slot.exptext");
_Static_assert(offsetof(struct awsr_seg_slot, region) == 320, "slot.region");
_Static_assert(offsetof(struct awsr_seg_slot, profile) == 384, "slot.profile");
_Static_assert(offsetof(struct awsr_seg_slot, credentials_path) == 640, "slot.path");
_Static_assert(offsetof(struct awsr_seg_slot, session_token) == 1152, "slot.token");
_Static_assert(sizeof(struct awsr_seg_header) == 1024, "header size");
_Static_assert(offsetof(struct awsr_seg_header, version) == 8, "hdr.version");
_Static_assert(offsetof(struct awsr_seg_header, size) == 12, "hdr.size");
_Static_assert(offsetof(struct awsr_seg_header, writer_pid) == 16, "hdr.writer_pid");
_Static_assert(offsetof(struct awsr_seg_header, flags) == 20, "hdr.flags");
_Static_assert(offsetof(struct awsr_seg_header, current) == 24, "hdr.current");
_Static_assert(offsetof(struct awsr_seg_header, wake) == 28, "hdr.wake");
_Static_assert(offsetof(struct awsr_seg_header, generation) == 32, "hdr.generation");
_Static_assert(offsetof(struct awsr_seg_header, request_path) == 64, "hdr.request_path");
_Static_assert(offsetof(struct awsr_seg_header, issued) == 576, "hdr.issued");
_Static_assert(offsetof(struct awsr_seg, slot) == 1024, "slots");
_Static_assert(sizeof(struct awsr_seg) == 1024 + 2 * 18432, "segment size");
_Static_assert(sizeof(struct awsr_seg) % 8 == 0, "word copies");

/* Word-wise atomic copies between private memory and the segment (both sides 8-byte
 * aligned, n a multiple of 8). A reader that saw any word of an update in progress also
 * sees the odd seq stored before it when it re-checks seq afterwards. */
static inline void awsr_seg_load_words(void *dst, const void *src, size_t n)
{
    uint64_t *d = dst;
    const uint64_t *s = src;
    for (size_t i = 0; i < n / 8; i++)
        d[i] = __atomic_load_n(&s[i], __ATOMIC_ACQUIRE);
}

/* FNV-1a (32 bits) of a NUL-terminated value, never 0 (0 marks an empty history entry).
 * Not a secret's protection (the segment holds the values themselves), only a short key. */
static inline uint32_t awsr_seg_value_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h ? h : 1;
}

static inline void awsr_seg_store_words(void *dst, const void *src, size_t n)
{
    uint64_t *d = dst;
    const uint64_t *s = src;
    for (size_t i = 0; i < n / 8; i++)
        __atomic_store_n(&d[i], s[i], __ATOMIC_RELEASE);
}

#endif
