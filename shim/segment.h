/* segment.h - the launcher's (writer's) side of the shared segment that hands the tree
 * its credentials, and the synthesized credentials file beside it.
 * The layout shared with the preload library is in segment_layout.h. */
#ifndef AWSR_SEGMENT_H
#define AWSR_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>

#include "creds.h"
#include "error.h"

/* The one variable that carries the segment's name to the tree. */
#define AWSR_SEGMENT_ENV "AWSROLE_SEGMENT"

struct awsr_segment;

/* One profile served to the tree (the first is the tree's own profile). */
struct awsr_served {
    const char *profile;
    const struct awsr_creds *creds;
};

/* Removes what dead launchers left: segments and private directories whose pid is gone,
 * whose lock is free and that have not changed for 10 seconds. The launcher calls it once
 * the command runs, off the start-up path. */
void awsr_segment_sweep(void);

/* Creates a fresh segment (unguessable name, O_EXCL, 0600) and a private 0700 directory
 * for the synthesized credentials file. `lazy`: the tree starts with no credentials and
 * askers wait for the launcher. */
int awsr_segment_create(struct awsr_segment **out, bool lazy, struct awsr_error *err);

/* Value for AWSR_SEGMENT_ENV. */
const char *awsr_segment_name(const struct awsr_segment *seg);

/* Path of the synthesized credentials file (exists after the first publish). */
const char *awsr_segment_credentials_path(const struct awsr_segment *seg);

/* Whether credentials fit the segment's fixed-width fields (a session token under 16 KiB). */
bool awsr_segment_fits(const struct awsr_creds *c);

/* Publishes a new generation: credentials of served[0] for getenv, the region, and the
 * credentials file ([default] and one section per served profile), replaced atomically.
 * Wakes lazy askers. */
int awsr_segment_publish(struct awsr_segment *seg, const char *region,
                         const struct awsr_served *served, size_t nserved,
                         struct awsr_error *err);

/* Lazy mode: tells waiting askers that resolution failed (they stop waiting and see no
 * credentials). */
void awsr_segment_publish_failure(struct awsr_segment *seg);

/* Lazy mode: an fd the launcher polls (POLLIN) for "a process asked"; then call
 * awsr_segment_take_request(), which returns true once per pending request batch. */
int awsr_segment_request_fd(const struct awsr_segment *seg);
bool awsr_segment_take_request(struct awsr_segment *seg);

/* Unmaps, unlinks the segment, removes the private directory; wipes secrets. Safe on NULL. */
void awsr_segment_destroy(struct awsr_segment *seg);

#endif
